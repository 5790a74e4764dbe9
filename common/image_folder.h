// Folders of JPEG and PNG images as a dataset input: listing, decoding (libjpeg-turbo, libpng)
// and the steps torchvision's transforms apply to PIL images before ToTensor: conversion to
// RGB or grayscale, resize with PIL's antialiased bilinear filter, center crop. The results are
// u8 pixels, bit for bit what PIL produces; scale/mean/std/layout follow in load_dataset.
// Called by load_dataset. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/data_config.h"
#include "common/dataset.h"

namespace qtune {

// 8-bit pixels, rows of width * channels interleaved values (HWC); channels 1 (gray) or 3.
struct Image {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;

  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

// *.jpg, *.jpeg and *.png files (any case) in `dir` (and its subfolders when `recursive`), as
// paths relative to `dir` with '/' separators, sorted bytewise. kInvalidInput when the folder
// cannot be read or holds no image.
Result<std::vector<std::string>> list_image_files(const std::string& dir, bool recursive);

// Decodes a JPEG or PNG file (told apart by content) into gray (1 channel) or RGB (3): palette,
// low-bit and 16-bit PNGs become 8-bit (16-bit keeps the high byte), alpha is dropped. Corrupt,
// truncated and CMYK files are kInvalidInput naming the file.
Result<Image> decode_image_file(const std::string& path);

// PIL's Image.convert: "L" (gray = (19595 R + 38470 G + 7471 B + 2^15) >> 16) when `channels`
// is 1, "RGB" (gray replicated) when 3.
Image convert_channels(const Image& im, int64_t channels);

// PIL's Image.resize(..., BILINEAR): a triangle filter widened by the scale factor when
// shrinking (antialiasing), 22-bit fixed-point weights, the horizontal pass first, each pass
// rounded to 8 bits.
Image resize_bilinear(const Image& im, int64_t height, int64_t width);

// torchvision's center_crop: offsets round((size - crop) / 2) half to even; a crop larger than
// the image pads it with zeros, (crop - size) / 2 before.
Image center_crop(const Image& im, int64_t height, int64_t width);

// torchvision's Resize(size) output: one value sets the shorter side (the longer one becomes
// int(size * long / short)); two are [height, width].
void resized_size(int64_t height, int64_t width, const std::vector<int64_t>& resize,
                  int64_t* out_height, int64_t* out_width);

// A folder's images (list_image_files order) after decoding and `pre`'s colour, resize and
// center_crop steps, as a u8 array [N, H, W, C] (BGR when pre.color is BGR). Every image must
// end up the same size. `files` receives the relative paths.
Result<RawArray> read_image_folder(const std::string& dir, bool recursive,
                                   const PreprocessSpec& pre, std::vector<std::string>* files);

// The labels text file of an image folder, one label per image in `files` order. Either every
// line is "FILE LABEL" (FILE relative to the folder as list_image_files gives it; any order; the
// label is the last word) or every line is a bare LABEL, in the sorted order of the files.
// Blank lines and lines starting with '#' are skipped. Labels are non-negative integers.
Result<std::vector<int64_t>> read_image_labels(const std::string& path,
                                               const std::vector<std::string>& files);

}  // namespace qtune

#include "common/image_folder.h"

#include <jpeglib.h>
#include <png.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace qtune {

namespace fs = std::filesystem;

namespace {

Result<std::vector<uint8_t>> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidInput(path + ": read error");
  return bytes;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// ---- JPEG (libjpeg API). Errors and warnings (libjpeg reports corrupt data as warnings and
// goes on) both end the decode through longjmp; nothing with a destructor lives between the
// setjmp and the library's frames.
struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // a warning: corrupt or truncated data
}

// Fills `out`; on failure returns false with the library's message in `errors.message`.
bool decode_jpeg(const std::vector<uint8_t>& bytes, Image* out, JpegErrors* errors,
                 bool* cmyk) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors->mgr);
  errors->mgr.error_exit = jpeg_fail;
  errors->mgr.emit_message = jpeg_message;
  errors->message[0] = '\0';
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    *cmyk = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // PIL's defaults: integer DCT, fancy upsampling; gray files stay gray.
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->height = cinfo.output_height;
  out->width = cinfo.output_width;
  out->channels = cinfo.output_components;
  out->pixels.resize(static_cast<size_t>(out->height * out->width * out->channels));
  const size_t stride = static_cast<size_t>(out->width * out->channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---- PNG (libpng). Errors longjmp out as above; warnings (ancillary chunks) are ignored, as
// PIL does.
struct PngSource {
  const std::vector<uint8_t>* bytes = nullptr;
  size_t at = 0;
  char message[256] = {};
  std::vector<png_bytep> rows;  // here, not on the decoder's frame, which longjmp abandons
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->bytes->size() - src->at < n) png_error(png, "file ends early (truncated?)");
  std::memcpy(out, src->bytes->data() + src->at, n);
  src->at += n;
}

void png_fail(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof(src->message), "%s", message);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

bool decode_png(const std::vector<uint8_t>& bytes, Image* out, PngSource* src) {
  src->bytes = &bytes;
  src->at = 0;
  src->message[0] = '\0';
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, png_fail, png_warn);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, src, png_read_bytes);
  png_read_info(png, info);
  // What PIL's convert("RGB") makes of every PNG kind: palettes and low-bit gray expanded to
  // 8 bits, 16-bit samples cut to their high byte, alpha (and tRNS) dropped.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->height = png_get_image_height(png, info);
  out->width = png_get_image_width(png, info);
  out->channels = png_get_channels(png, info);
  out->pixels.resize(static_cast<size_t>(out->height * out->width * out->channels));
  src->rows.resize(static_cast<size_t>(out->height));
  for (int64_t y = 0; y < out->height; ++y) {
    src->rows[static_cast<size_t>(y)] = out->pixels.data() + y * out->width * out->channels;
  }
  png_read_image(png, src->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---- PIL's resampling (Resample.c): coefficients per output pixel, normalized to sum 1 and
// held as 22-bit fixed point; each pass accumulates in int32 with rounding.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int64_t taps = 0;                 // per output pixel
  std::vector<int64_t> first, count;  // source range per output pixel
  std::vector<int32_t> weights;     // [out][taps]
};

Coefficients bilinear_coefficients(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle's support is 1
  Coefficients c;
  c.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size * c.taps), 0);
  std::vector<double> k(static_cast<size_t>(c.taps));
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    const int64_t n = hi - lo;
    double total = 0.0;
    for (int64_t x = 0; x < n; ++x) {
      const double t = std::fabs((static_cast<double>(x + lo) - center + 0.5) * ss);
      const double w = t < 1.0 ? 1.0 - t : 0.0;
      k[static_cast<size_t>(x)] = w;
      total += w;
    }
    for (int64_t x = 0; x < n; ++x) {
      const double w = total != 0.0 ? k[static_cast<size_t>(x)] / total : k[static_cast<size_t>(x)];
      const double fixed = w * static_cast<double>(1 << kPrecisionBits);
      c.weights[static_cast<size_t>(o * c.taps + x)] =
          static_cast<int32_t>(w < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[static_cast<size_t>(o)] = lo;
    c.count[static_cast<size_t>(o)] = n;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

Image resize_horizontal(const Image& in, int64_t width) {
  const Coefficients c = bilinear_coefficients(in.width, width);
  Image out{in.height, width, in.channels, {}};
  out.pixels.resize(static_cast<size_t>(out.height * width * in.channels));
  for (int64_t y = 0; y < in.height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int32_t* k = &c.weights[static_cast<size_t>(x * c.taps)];
      const int64_t lo = c.first[static_cast<size_t>(x)], n = c.count[static_cast<size_t>(x)];
      for (int64_t ch = 0; ch < in.channels; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int64_t i = 0; i < n; ++i) acc += in.at(y, lo + i, ch) * k[i];
        out.pixels[static_cast<size_t>((y * width + x) * in.channels + ch)] = clip8(acc);
      }
    }
  }
  return out;
}

Image resize_vertical(const Image& in, int64_t height) {
  const Coefficients c = bilinear_coefficients(in.height, height);
  Image out{height, in.width, in.channels, {}};
  out.pixels.resize(static_cast<size_t>(height * in.width * in.channels));
  for (int64_t y = 0; y < height; ++y) {
    const int32_t* k = &c.weights[static_cast<size_t>(y * c.taps)];
    const int64_t lo = c.first[static_cast<size_t>(y)], n = c.count[static_cast<size_t>(y)];
    for (int64_t x = 0; x < in.width; ++x) {
      for (int64_t ch = 0; ch < in.channels; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int64_t i = 0; i < n; ++i) acc += in.at(lo + i, x, ch) * k[i];
        out.pixels[static_cast<size_t>((y * in.width + x) * in.channels + ch)] = clip8(acc);
      }
    }
  }
  return out;
}

// Python's round() of d / 2 for an integer d: half to even.
int64_t half_round_even(int64_t d) {
  const int64_t k = d / 2;
  return d % 2 == 0 || k % 2 == 0 ? k : k + 1;
}

int64_t crop_offset(int64_t size, int64_t crop) {
  return crop > size ? -((crop - size) / 2) : half_round_even(size - crop);
}

std::string size_str(const Image& im) {
  return std::to_string(im.width) + "x" + std::to_string(im.height);
}

}  // namespace

Result<std::vector<std::string>> list_image_files(const std::string& dir, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::InvalidInput(dir + ": " + (fs::exists(dir, ec) ? "is not a folder" : "no such folder") +
                                " (format images reads a folder of JPEG/PNG files)");
  }
  std::vector<std::string> files;
  auto take = [&](const fs::directory_entry& e) {
    std::error_code fec;
    if (e.is_regular_file(fec) && is_image_name(e.path())) {
      files.push_back(e.path().lexically_relative(dir).generic_string());
    }
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      take(*it);
    }
  } else {
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      take(*it);
    }
  }
  if (ec) return Status::InvalidInput(dir + ": cannot list: " + ec.message());
  if (files.empty()) {
    return Status::InvalidInput(dir + ": no .jpg, .jpeg or .png files" +
                                std::string(recursive ? "" : " (subfolders are read with dataset.recursive: true)"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<Image> decode_image_file(const std::string& path) {
  QT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_bytes(path));
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Image im;
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
    JpegErrors errors;
    bool cmyk = false;
    if (!decode_jpeg(bytes, &im, &errors, &cmyk)) {
      if (cmyk) return Status::InvalidInput(path + ": CMYK JPEG images are not supported");
      return Status::InvalidInput(path + ": corrupt JPEG: " + errors.message);
    }
    return im;
  }
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) {
    PngSource src;
    if (!decode_png(bytes, &im, &src)) {
      return Status::InvalidInput(path + ": corrupt PNG: " +
                                  (src.message[0] ? src.message : "cannot create the decoder"));
    }
    return im;
  }
  return Status::InvalidInput(path + ": not a JPEG or PNG file (bad magic)");
}

Image convert_channels(const Image& im, int64_t channels) {
  if (im.channels == channels) return im;
  Image out{im.height, im.width, channels, {}};
  const int64_t n = im.height * im.width;
  out.pixels.resize(static_cast<size_t>(n * channels));
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* s = &im.pixels[static_cast<size_t>(p * im.channels)];
    uint8_t* d = &out.pixels[static_cast<size_t>(p * channels)];
    if (channels == 1) {
      d[0] = static_cast<uint8_t>((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
    } else {
      d[0] = d[1] = d[2] = s[0];
    }
  }
  return out;
}

Image resize_bilinear(const Image& im, int64_t height, int64_t width) {
  Image out = im;
  if (width != im.width) out = resize_horizontal(out, width);
  if (height != im.height) out = resize_vertical(out, height);
  return out;
}

Image center_crop(const Image& im, int64_t height, int64_t width) {
  const int64_t top = crop_offset(im.height, height), left = crop_offset(im.width, width);
  Image out{height, width, im.channels, {}};
  out.pixels.assign(static_cast<size_t>(height * width * im.channels), 0);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = y + top;
    if (sy < 0 || sy >= im.height) continue;
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sx = x + left;
      if (sx < 0 || sx >= im.width) continue;
      std::memcpy(&out.pixels[static_cast<size_t>((y * width + x) * im.channels)],
                  &im.pixels[static_cast<size_t>((sy * im.width + sx) * im.channels)],
                  static_cast<size_t>(im.channels));
    }
  }
  return out;
}

void resized_size(int64_t height, int64_t width, const std::vector<int64_t>& resize,
                  int64_t* out_height, int64_t* out_width) {
  if (resize.size() == 2) {
    *out_height = resize[0];
    *out_width = resize[1];
    return;
  }
  const int64_t shorter = std::min(height, width), longer = std::max(height, width);
  // Python's int(size * long / short): an exact product, one correctly rounded division, then
  // truncation.
  const int64_t new_long = static_cast<int64_t>(static_cast<double>(resize[0] * longer) /
                                                static_cast<double>(shorter));
  *out_height = width <= height ? new_long : resize[0];
  *out_width = width <= height ? resize[0] : new_long;
}

Result<RawArray> read_image_folder(const std::string& dir, bool recursive,
                                   const PreprocessSpec& pre, std::vector<std::string>* files) {
  QT_ASSIGN_OR_RETURN(*files, list_image_files(dir, recursive));
  const int64_t channels = pre.color == "gray" ? 1 : 3;
  const size_t n = files->size();
  std::vector<Image> images(n);
  std::vector<Status> errors(n);
  tbb::parallel_for(size_t{0}, n, [&](size_t i) {
    const std::string path = (fs::path(dir) / (*files)[i]).string();
    Result<Image> decoded = decode_image_file(path);
    if (!decoded.ok()) {
      errors[i] = decoded.status();
      return;
    }
    Image im = convert_channels(decoded.value(), channels);
    if (!pre.resize.empty()) {
      int64_t h, w;
      resized_size(im.height, im.width, pre.resize, &h, &w);
      im = resize_bilinear(im, h, w);
    }
    if (!pre.center_crop.empty()) {
      const int64_t h = pre.center_crop[0];
      const int64_t w = pre.center_crop.size() == 2 ? pre.center_crop[1] : h;
      im = center_crop(im, h, w);
    }
    if (pre.color == "BGR") {
      for (size_t p = 0; p + 2 < im.pixels.size(); p += 3) std::swap(im.pixels[p], im.pixels[p + 2]);
    }
    images[i] = std::move(im);
  });
  for (const Status& s : errors) {
    if (!s.ok()) return s;  // the first failing file in sorted order
  }
  const Image& first = images[0];
  for (size_t i = 1; i < n; ++i) {
    if (images[i].height != first.height || images[i].width != first.width) {
      return Status::InvalidInput(
          (fs::path(dir) / (*files)[i]).string() + ": " + size_str(images[i]) + " pixels after " +
          "preprocessing, but " + (fs::path(dir) / (*files)[0]).string() + " has " +
          size_str(first) + "; give preprocess.center_crop (or resize: [height, width]) so "
          "every image ends up one size");
    }
  }
  RawArray a;
  a.dtype = DType::kU8;
  a.shape = {static_cast<int64_t>(n), first.height, first.width, channels};
  const size_t each = first.pixels.size();
  a.bytes.resize(n * each);
  for (size_t i = 0; i < n; ++i) std::memcpy(a.bytes.data() + i * each, images[i].pixels.data(), each);
  return a;
}

Result<std::vector<int64_t>> read_image_labels(const std::string& path,
                                               const std::vector<std::string>& files) {
  std::ifstream in(path);
  if (!in) return Status::InvalidInput(path + ": cannot open: " + std::strerror(errno));
  struct Entry {
    int64_t line;
    std::string file;  // empty in the bare-label form
    int64_t label;
  };
  std::vector<Entry> entries;
  std::string text;
  int64_t line_no = 0;
  int form = 0;  // 1: bare labels, 2: FILE LABEL
  while (std::getline(in, text)) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (!text.empty() && text.back() == '\r') text.pop_back();
    const size_t b = text.find_first_not_of(" \t");
    if (b == std::string::npos || text[b] == '#') continue;
    const size_t e = text.find_last_not_of(" \t");
    const std::string body = text.substr(b, e - b + 1);
    const size_t split = body.find_last_of(" \t");
    const std::string word = split == std::string::npos ? body : body.substr(split + 1);
    Entry entry{line_no, "", 0};
    if (split != std::string::npos) {
      entry.file = body.substr(0, body.find_last_not_of(" \t", split) + 1);
    }
    const int this_form = entry.file.empty() ? 1 : 2;
    if (form != 0 && form != this_form) {
      return Status::InvalidInput(where + (form == 1 ? "expected a bare label like the lines before"
                                                     : "expected 'FILE LABEL' like the lines before"));
    }
    form = this_form;
    const char* first = word.data();
    const char* last = word.data() + word.size();
    auto [p, ec] = std::from_chars(first, last, entry.label);
    if (ec != std::errc() || p != last || entry.label < 0) {
      return Status::InvalidInput(where + "label '" + word + "' is not a non-negative integer");
    }
    entries.push_back(std::move(entry));
  }
  if (in.bad()) return Status::InvalidInput(path + ": read error");
  std::vector<int64_t> labels(files.size(), -1);
  if (form != 2) {
    if (entries.size() != files.size()) {
      return Status::InvalidInput(path + ": " + std::to_string(entries.size()) + " labels for " +
                                  std::to_string(files.size()) + " images (one per line, in the "
                                  "sorted order of the files)");
    }
    for (size_t i = 0; i < files.size(); ++i) labels[i] = entries[i].label;
    return labels;
  }
  for (const Entry& e : entries) {
    const auto it = std::lower_bound(files.begin(), files.end(), e.file);
    const std::string where = path + ":" + std::to_string(e.line) + ": ";
    if (it == files.end() || *it != e.file) {
      return Status::InvalidInput(where + "'" + e.file + "' is not among the folder's images");
    }
    int64_t& slot = labels[static_cast<size_t>(it - files.begin())];
    if (slot >= 0) return Status::InvalidInput(where + "'" + e.file + "' is labelled twice");
    slot = e.label;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (labels[i] < 0) return Status::InvalidInput(path + ": no label for '" + files[i] + "'");
  }
  return labels;
}

}  // namespace qtune

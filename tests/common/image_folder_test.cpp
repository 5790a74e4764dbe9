#include "common/image_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qtune {
namespace {

namespace fs = std::filesystem;

const std::string kImages = std::string(QTUNE_SOURCE_DIR) + "/tests/data/images";

Image row(std::vector<uint8_t> values) {
  const int64_t w = static_cast<int64_t>(values.size());
  return Image{1, w, 1, std::move(values)};
}

// PIL's bilinear filter by hand. Shrinking 4 -> 2 (scale 2, so the triangle is 2 wide, not 1):
// output 0 is centred on source x = 1.0 and reaches pixels 0..2 with weights 3/7, 3/7, 1/7:
// (0*3 + 100*3 + 200*1) / 7 = 71.4 -> 71; output 1 (centre 3.0) weighs pixels 1..3 1/7, 3/7,
// 3/7: (100 + 600 + 765) / 7 = 209.3 -> 209. A plain (non-antialiased) bilinear would give the
// means of the pixel pairs, 50 and 228.
TEST(ImageResizeTest, DownscalingAveragesOverTheWidenedTriangle) {
  const Image out = resize_bilinear(row({0, 100, 200, 255}), 1, 2);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{71, 209}));
}

// Growing 2 -> 4 (scale 0.5): centres at 0.25, 0.75, 1.25, 1.75 on half-pixel grids; the edges
// see one pixel, the middle ones 3:1 mixes: 255/4 = 63.75 -> 64, 255*3/4 = 191.25 -> 191.
TEST(ImageResizeTest, UpscalingInterpolatesWithClampedEdges) {
  const Image out = resize_bilinear(row({0, 255}), 1, 4);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 64, 191, 255}));
}

// Vertical after horizontal, each rounded to 8 bits, per channel.
TEST(ImageResizeTest, TwoPassesPerChannel) {
  Image im{2, 2, 3, {}};
  im.pixels = {0, 10, 20, 100, 110, 120, 200, 210, 220, 255, 255, 255};
  const Image out = resize_bilinear(im, 1, 1);
  // Red: rows (0+100)/2 = 50 and (200+255)/2 = 227.5 -> 228, then (50+228)/2 = 139; green:
  // 60 and 232.5 -> 233, then 146.5 -> 147; blue: 70 and 238, then 154.
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{139, 147, 154}));
  EXPECT_EQ(resize_bilinear(im, 2, 2).pixels, im.pixels);  // same size: untouched
}

TEST(ImageResizeTest, ResizedSizeKeepsTheAspectLikeTorchvision) {
  int64_t h, w;
  resized_size(30, 40, {16}, &h, &w);  // shorter side (height) to 16, width int(16*40/30) = 21
  EXPECT_EQ(h, 16);
  EXPECT_EQ(w, 21);
  resized_size(500, 375, {256}, &h, &w);  // int(256 * 500 / 375) = int(341.33) = 341
  EXPECT_EQ(h, 341);
  EXPECT_EQ(w, 256);
  resized_size(7, 7, {3}, &h, &w);
  EXPECT_EQ(h, 3);
  EXPECT_EQ(w, 3);
  resized_size(30, 40, {10, 12}, &h, &w);
  EXPECT_EQ(h, 10);
  EXPECT_EQ(w, 12);
}

TEST(ImageCropTest, OffsetsRoundHalfToEvenAndLargeCropsPad) {
  const Image five = row({1, 2, 3, 4, 5});
  EXPECT_EQ(center_crop(five, 1, 2).pixels, (std::vector<uint8_t>{3, 4}));  // round(1.5) = 2
  EXPECT_EQ(center_crop(five, 1, 3).pixels, (std::vector<uint8_t>{2, 3, 4}));
  const Image seven = row({1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(center_crop(seven, 1, 2).pixels, (std::vector<uint8_t>{3, 4}));  // round(2.5) = 2
  // Wider than the image: padded left by (5 - 2) // 2 = 1, right by the rest.
  EXPECT_EQ(center_crop(row({8, 9}), 1, 5).pixels, (std::vector<uint8_t>{0, 8, 9, 0, 0}));
  EXPECT_EQ(center_crop(row({8, 9}), 2, 2).pixels, (std::vector<uint8_t>{8, 9, 0, 0}));
}

TEST(ImageColorTest, GrayIsPilsLumaAndGrayToRgbReplicates) {
  Image rgb{1, 2, 3, {255, 0, 0, 10, 200, 30}};
  // (255*19595 + 32768) >> 16 = 76; (10*19595 + 200*38470 + 30*7471 + 32768) >> 16 = 124.
  EXPECT_EQ(convert_channels(rgb, 1).pixels, (std::vector<uint8_t>{76, 124}));
  EXPECT_EQ(convert_channels(row({7, 9}), 3).pixels, (std::vector<uint8_t>{7, 7, 7, 9, 9, 9}));
}

TEST(ImageFolderTest, ListsImagesSortedOptionallyRecursive) {
  auto flat = list_image_files(kImages + "/photos", false);
  ASSERT_TRUE(flat.ok()) << flat.status().message();
  EXPECT_EQ(*flat, (std::vector<std::string>{"a_landscape.jpg", "b_portrait.png", "c_gray.jpg",
                                             "d_alpha.png", "e_palette.PNG"}));
  auto deep = list_image_files(kImages + "/photos", true);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->size(), 6u);
  EXPECT_EQ(deep->back(), "more/f_wide.jpeg");
  EXPECT_EQ(list_image_files(kImages + "/labels.txt", false).status().message(),
            kImages + "/labels.txt: is not a folder (format images reads a folder of JPEG/PNG files)");
  EXPECT_EQ(list_image_files(kImages + "/photos/more/none", false).status().code(),
            StatusCode::kInvalidInput);
}

TEST(ImageFolderTest, DecodesEveryKindToGrayOrRgb) {
  auto jpg = decode_image_file(kImages + "/photos/a_landscape.jpg");
  ASSERT_TRUE(jpg.ok()) << jpg.status().message();
  EXPECT_EQ(jpg->width, 40);
  EXPECT_EQ(jpg->height, 30);
  EXPECT_EQ(jpg->channels, 3);
  auto gray = decode_image_file(kImages + "/photos/c_gray.jpg");
  ASSERT_TRUE(gray.ok());
  EXPECT_EQ(gray->channels, 1);
  auto alpha = decode_image_file(kImages + "/photos/d_alpha.png");
  ASSERT_TRUE(alpha.ok()) << alpha.status().message();
  EXPECT_EQ(alpha->channels, 3);  // alpha dropped
  auto palette = decode_image_file(kImages + "/photos/e_palette.PNG");
  ASSERT_TRUE(palette.ok()) << palette.status().message();
  EXPECT_EQ(palette->channels, 3);
  EXPECT_EQ(palette->pixels.size(), 28u * 28u * 3u);
}

TEST(ImageFolderTest, CorruptAndForeignFilesAreNamed) {
  auto cut = decode_image_file(kImages + "/corrupt/truncated.jpg");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(cut.status().message().rfind(kImages + "/corrupt/truncated.jpg: corrupt JPEG: ", 0), 0u)
      << cut.status().message();
  auto text = decode_image_file(kImages + "/labels.txt");
  EXPECT_EQ(text.status().message(), kImages + "/labels.txt: not a JPEG or PNG file (bad magic)");

  // A PNG whose data chunk is damaged fails in libpng's CRC check.
  std::ifstream in(kImages + "/photos/b_portrait.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes[bytes.find("IDAT") + 10] ^= 0x55;
  const std::string bad = (fs::temp_directory_path() / ("qtune_bad_" + std::to_string(getpid()) + ".png")).string();
  std::ofstream(bad, std::ios::binary) << bytes;
  auto png = decode_image_file(bad);
  fs::remove(bad);
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.status().message().rfind(bad + ": corrupt PNG: ", 0), 0u) << png.status().message();
}

// The committed references are what PIL makes of the same files with torchvision's Resize and
// CenterCrop (tests/data/images/make_fixtures.py): decoding, colour conversion, the antialiased
// resize and the crop all match bit for bit.
TEST(ImageFolderTest, MatchesPilAndTorchvisionBitForBit) {
  for (const auto& [color, resize, crop, ref] :
       {std::tuple<std::string, int64_t, int64_t, std::string>{"RGB", 16, 12, "reference_rgb_resize16_crop12.npy"},
        {"gray", 20, 14, "reference_gray_resize20_crop14.npy"}}) {
    PreprocessSpec pre;
    pre.color = color;
    pre.resize = {resize};
    pre.center_crop = {crop};
    std::vector<std::string> files;
    auto a = read_image_folder(kImages + "/photos", false, pre, &files);
    ASSERT_TRUE(a.ok()) << a.status().message();
    auto want = read_npy_file(kImages + "/" + ref);
    ASSERT_TRUE(want.ok()) << want.status().message();
    ASSERT_EQ(a->shape, want->shape) << color;
    const size_t n = want->bytes.size() - want->offset;
    int64_t differ = 0;
    for (size_t i = 0; i < n; ++i) differ += a->data()[i] != want->data()[i];
    EXPECT_EQ(differ, 0) << color << ": values differing from PIL's";
  }
}

TEST(ImageFolderTest, SizesMustAgreeWithoutACrop) {
  PreprocessSpec pre;
  pre.resize = {16};
  std::vector<std::string> files;
  auto a = read_image_folder(kImages + "/photos", false, pre, &files);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(),
            kImages + "/photos/b_portrait.png: 16x21 pixels after preprocessing, but " + kImages +
                "/photos/a_landscape.jpg has 21x16; give preprocess.center_crop (or resize: "
                "[height, width]) so every image ends up one size");
  pre.resize = {10, 12};
  auto b = read_image_folder(kImages + "/photos", true, pre, &files);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->shape, (std::vector<int64_t>{6, 10, 12, 3}));
}

class ImageLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("qtune_labels_" + std::to_string(getpid()) + ".txt")).string();
  }
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_;
  const std::vector<std::string> files_ = {"a.jpg", "b c.png", "sub/d.jpg"};
};

TEST_F(ImageLabelsTest, FileLabelPairsInAnyOrderOrBareLabelsInFileOrder) {
  auto pairs = read_image_labels(write("# comment\nsub/d.jpg 2\n\na.jpg\t0\nb c.png  7\r\n"), files_);
  ASSERT_TRUE(pairs.ok()) << pairs.status().message();
  EXPECT_EQ(*pairs, (std::vector<int64_t>{0, 7, 2}));
  auto bare = read_image_labels(write("3\n1\n4\n"), files_);
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  EXPECT_EQ(*bare, (std::vector<int64_t>{3, 1, 4}));
}

TEST_F(ImageLabelsTest, MistakesNameTheLine) {
  EXPECT_EQ(read_image_labels(write("a.jpg 0\n5\n"), files_).status().message(),
            path_ + ":2: expected 'FILE LABEL' like the lines before");
  EXPECT_EQ(read_image_labels(write("a.jpg x\n"), files_).status().message(),
            path_ + ":1: label 'x' is not a non-negative integer");
  EXPECT_EQ(read_image_labels(write("1\n-2\n"), files_).status().message(),
            path_ + ":2: label '-2' is not a non-negative integer");
  EXPECT_EQ(read_image_labels(write("e.jpg 0\n"), files_).status().message(),
            path_ + ":1: 'e.jpg' is not among the folder's images");
  EXPECT_EQ(read_image_labels(write("a.jpg 0\na.jpg 1\n"), files_).status().message(),
            path_ + ":2: 'a.jpg' is labelled twice");
  EXPECT_EQ(read_image_labels(write("a.jpg 0\nsub/d.jpg 1\n"), files_).status().message(),
            path_ + ": no label for 'b c.png'");
  EXPECT_EQ(read_image_labels(write("1\n2\n"), files_).status().message(),
            path_ + ": 2 labels for 3 images (one per line, in the sorted order of the files)");
}

}  // namespace
}  // namespace qtune

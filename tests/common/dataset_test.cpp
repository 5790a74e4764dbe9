#include "common/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/size_check.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_be32(Bytes* b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b->push_back(static_cast<uint8_t>(v >> s));
}

// An IDX file: magic 0x0000TTNN, big-endian dims, then `payload` (already big-endian).
Bytes idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(&b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// A version 1.0 (or 2.0) .npy file holding `payload` with the given descr and shape text.
Bytes npy(const std::string& descr, const std::string& shape, const Bytes& payload,
          bool fortran = false, int version = 1) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                  ", 'shape': " + shape + ", }";
  const size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  const size_t n = h.size();
  b.push_back(static_cast<uint8_t>(n));
  b.push_back(static_cast<uint8_t>(n >> 8));
  if (version != 1) {
    b.push_back(static_cast<uint8_t>(n >> 16));
    b.push_back(static_cast<uint8_t>(n >> 24));
  }
  b.insert(b.end(), h.begin(), h.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

template <typename T>
Bytes le_bytes(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("qtune_dataset_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const Bytes& b) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                             static_cast<std::streamsize>(b.size()));
    return p;
  }
  DataConfig config(const std::string& format, const std::string& images,
                    const std::string& labels) {
    DataConfig c;
    c.source_path = (dir_ / "data.yaml").string();
    c.dataset.format = format;
    c.dataset.inputs = {DataInput{"", images, "", false}};
    c.dataset.labels = labels;
    return c;
  }
  // Loads and expects kInvalidInput; returns the message.
  std::string error_of(const DataConfig& c) {
    auto r = load_dataset(c);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }
  fs::path dir_;
};

// Three 2x2 u8 images 0..11 and labels 2,0,1.
const Bytes kPixels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255};
const Bytes kLabels = {2, 0, 1};

float expected(uint8_t v, float scale, float mean, float stdv) {
  return (static_cast<float>(v) * scale - mean) / stdv;
}

TEST_F(DatasetTest, IdxPlainPreprocessesAndAddsChannel) {
  DataConfig c = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)),
                        write("l.idx", idx(0x08, {3}, kLabels)));
  c.preprocess.scale = 0.00392156862745098f;
  c.preprocess.mean = {0.2860f};
  c.preprocess.std = {0.3530f};
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{3, 1, 2, 2}));
  EXPECT_EQ(r->size(), 3);
  EXPECT_EQ(r->labels, (std::vector<int64_t>{2, 0, 1}));
  for (size_t i = 0; i < kPixels.size(); ++i) {
    // Bitwise equal to training's float32 x / 255, then (x - mean) / std.
    const float x = static_cast<float>(kPixels[i]) / 255.0f;
    EXPECT_EQ(r->inputs[0].values.data<float>()[i], (x - 0.2860f) / 0.3530f) << i;
  }
}

TEST_F(DatasetTest, ScaleThatIsNotAReciprocalMultiplies) {
  DataConfig c = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)), "");
  c.preprocess.scale = 0.3f;
  c.preprocess.mean = {0.1f};
  c.preprocess.std = {0.7f};
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (size_t i = 0; i < kPixels.size(); ++i) {
    EXPECT_EQ(r->inputs[0].values.data<float>()[i], expected(kPixels[i], 0.3f, 0.1f, 0.7f)) << i;
  }
  // A scale of 1/255 divides instead: 3 * (1/255) and 3 / 255 differ in the last bit.
  c.preprocess = PreprocessSpec{};
  c.preprocess.scale = 0.00392156862745098f;
  auto d = load_dataset(c);
  ASSERT_TRUE(d.ok()) << d.status().message();
  volatile float product = 3.0f * c.preprocess.scale;
  ASSERT_NE(product, 3.0f / 255.0f);
  EXPECT_EQ(d->inputs[0].values.data<float>()[3], 3.0f / 255.0f);
  for (size_t i = 0; i < kPixels.size(); ++i) {
    EXPECT_EQ(d->inputs[0].values.data<float>()[i], static_cast<float>(kPixels[i]) / 255.0f) << i;
  }
}

TEST_F(DatasetTest, IdxGzipMatchesPlain) {
  DataConfig plain = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)),
                            write("l.idx", idx(0x08, {3}, kLabels)));
  DataConfig gz = config("idx", write("i.idx.gz", gzip(idx(0x08, {3, 2, 2}, kPixels))),
                         write("l.idx.gz", gzip(idx(0x08, {3}, kLabels))));
  auto a = load_dataset(plain);
  auto b = load_dataset(gz);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a->labels, b->labels);
  ASSERT_EQ(a->inputs[0].values.shape(), b->inputs[0].values.shape());
  EXPECT_EQ(0, std::memcmp(a->inputs[0].values.raw(), b->inputs[0].values.raw(), a->inputs[0].values.nbytes()));
  EXPECT_EQ(b->inputs[0].values.data<float>()[11], 255.0f);
}

TEST_F(DatasetTest, IdxWiderTypesAreBigEndian) {
  Bytes f32;  // 1.5, -2.0 big-endian
  for (float v : {1.5f, -2.0f}) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    put_be32(&f32, u);
  }
  Bytes s32;
  put_be32(&s32, 7);
  put_be32(&s32, 300);
  DataConfig c = config("idx", write("i.idx", idx(0x0D, {2, 1}, f32)),
                        write("l.idx", idx(0x0C, {2}, s32)));
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{2, 1, 1, 1}));  // [N,D] vectors
  EXPECT_EQ(r->inputs[0].values.data<float>()[0], 1.5f);
  EXPECT_EQ(r->inputs[0].values.data<float>()[1], -2.0f);
  EXPECT_EQ(r->labels, (std::vector<int64_t>{7, 300}));

  const Bytes s16 = {0xFF, 0xFE, 0x01, 0x00};  // -2, 256
  auto a = read_idx_file(write("s16.idx", idx(0x0B, {2}, s16)));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->dtype, DType::kS16);
  int16_t v[2];
  std::memcpy(v, a->data(), 4);
  EXPECT_EQ(v[0], -2);
  EXPECT_EQ(v[1], 256);
  const Bytes s8 = {0x80, 0x7F};
  auto b = read_idx_file(write("s8.idx", idx(0x09, {2}, s8)));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->dtype, DType::kS8);
  Bytes f64;
  put_be32(&f64, 0x40090000);  // 3.125
  put_be32(&f64, 0);
  auto d = read_idx_file(write("f64.idx", idx(0x0E, {1}, f64)));
  ASSERT_TRUE(d.ok());
  double dv;
  std::memcpy(&dv, d->data(), 8);
  EXPECT_EQ(dv, 3.125);
}

TEST_F(DatasetTest, LimitKeepsTheFirstSamples) {
  DataConfig c = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)),
                        write("l.idx", idx(0x08, {3}, kLabels)));
  c.dataset.limit = 2;
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(r->labels, (std::vector<int64_t>{2, 0}));
  c.dataset.limit = 100;  // more than there is: everything
  EXPECT_EQ(load_dataset(c)->size(), 3);
}

TEST_F(DatasetTest, BatchCopiesAndClipsRows) {
  DataConfig c = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)), "");
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->labels.empty());
  Tensor b = r->batch(1, 5)[0];
  EXPECT_EQ(b.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(b.data<float>()[0], 4.0f);
  EXPECT_EQ(b.data<float>()[7], 255.0f);
  b.data<float>()[0] = -1;  // a copy: the dataset is untouched
  EXPECT_EQ(r->inputs[0].values.data<float>()[4], 4.0f);
  EXPECT_EQ(r->batch(7, 2)[0].shape(), (Shape{0, 1, 2, 2}));
  EXPECT_TRUE(Dataset{}.batch(0, 1).empty());
}

TEST_F(DatasetTest, NpyFloatAndNhwcToNchw) {
  // [2,2,2,3] NHWC u8: value = n*100 + h*10 + w*3 + c, so the transpose is checkable.
  Bytes px;
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 2; ++w)
        for (int ch = 0; ch < 3; ++ch) px.push_back(static_cast<uint8_t>(n * 100 + h * 10 + w * 3 + ch));
  DataConfig c = config("npy", write("i.npy", npy("|u1", "(2, 2, 2, 3)", px)),
                        write("l.npy", npy("<i8", "(2,)", le_bytes<int64_t>({4, 9}))));
  c.preprocess.source_layout = "NHWC";  // the model takes NCHW, the default layout
  c.preprocess.mean = {0.0f, 1.0f, 2.0f};
  c.preprocess.std = {1.0f, 2.0f, 4.0f};
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs[0].values.shape(), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(r->labels, (std::vector<int64_t>{4, 9}));
  const float* d = r->inputs[0].values.data<float>();
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w) {
          const uint8_t v = static_cast<uint8_t>(n * 100 + h * 10 + w * 3 + ch);
          EXPECT_EQ(d[((n * 3 + ch) * 2 + h) * 2 + w],
                    expected(v, 1.0f, c.preprocess.mean[ch], c.preprocess.std[ch]));
        }

  // f32 [N,H,W], version 2.0 header, i4 labels and s8 images via version 1.
  DataConfig f = config("npy", write("f.npy", npy("<f4", "(1, 1, 2)", le_bytes<float>({0.25f, -3.0f}), false, 2)),
                        write("fl.npy", npy("<i4", "(1,)", le_bytes<int32_t>({3}))));
  auto rf = load_dataset(f);
  ASSERT_TRUE(rf.ok()) << rf.status().message();
  EXPECT_EQ(rf->inputs[0].values.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(rf->inputs[0].values.data<float>()[1], -3.0f);
  EXPECT_EQ(rf->labels, (std::vector<int64_t>{3}));
  DataConfig s = config("npy", write("s.npy", npy("|i1", "(1, 1, 2)", Bytes{0xFF, 5})),
                        write("sl.npy", npy("<f8", "(1,)", le_bytes<double>({2.0}))));
  auto rs = load_dataset(s);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  EXPECT_EQ(rs->inputs[0].values.data<float>()[0], -1.0f);
  EXPECT_EQ(rs->labels, (std::vector<int64_t>{2}));
}

// A multi-input config over npy files: name -> (file, shared).
DataConfig multi(const std::string& yaml, std::vector<DataInput> inputs, const std::string& labels) {
  DataConfig c;
  c.source_path = yaml;
  c.dataset.format = "npy";
  c.dataset.inputs = std::move(inputs);
  c.dataset.labels = labels;
  return c;
}

TEST_F(DatasetTest, InputsKeepTheirElementTypesAndShapes) {
  // Silero-VAD-like: 3 chunks of f32 audio, a shared [2,1,4] state, a 0-d i64 sample rate,
  // i32 token ids with one row for every sample, bool flags.
  std::vector<float> audio;
  for (int i = 0; i < 3 * 5; ++i) audio.push_back(0.5f * static_cast<float>(i));
  DataConfig c = multi((dir_ / "d.yaml").string(),
                       {{"input", write("x.npy", npy("<f4", "(3, 5)", le_bytes(audio))), "", false},
                        {"state", write("s.npy", npy("<f4", "(2, 1, 4)", le_bytes(std::vector<float>(8, 0.25f)))), "", true},
                        {"sr", write("sr.npy", npy("<i8", "()", le_bytes<int64_t>({16000}))), "", false},
                        {"ids", write("ids.npy", npy("<i4", "(1, 2)", le_bytes<int32_t>({7, -9}))), "", false},
                        {"flag", write("f.npy", npy("|b1", "(3,)", Bytes{1, 0, 1})), "", false}},
                       write("l.npy", npy("<i8", "(3,)", le_bytes<int64_t>({0, 1, 0}))));
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 3);
  EXPECT_EQ(r->source, c.source_path);
  ASSERT_EQ(r->inputs.size(), 5u);
  const DatasetInput& x = r->inputs[0];
  EXPECT_EQ(x.name, "input");
  EXPECT_EQ(x.values.dtype(), DType::kF32);
  EXPECT_EQ(x.values.shape(), (Shape{3, 5}));  // not preprocessed: no channel axis added
  EXPECT_TRUE(r->inputs[1].shared);
  EXPECT_TRUE(r->inputs[2].shared);  // 0-d
  EXPECT_EQ(r->inputs[2].values.dtype(), DType::kS64);
  EXPECT_EQ(r->inputs[3].values.dtype(), DType::kS32);
  EXPECT_FALSE(r->inputs[3].shared);
  EXPECT_EQ(r->labels, (std::vector<int64_t>{0, 1, 0}));

  const std::vector<Tensor> b = r->batch(1, 5);  // clipped to samples 1 and 2
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0].shape(), (Shape{2, 5}));
  EXPECT_EQ(b[0].data<float>()[0], 2.5f);  // sample 1's first value
  EXPECT_EQ(b[1].shape(), (Shape{2, 1, 4}));  // shared: as stored
  EXPECT_EQ(b[2].shape(), Shape{});
  EXPECT_EQ(b[2].data<int64_t>()[0], 16000);
  EXPECT_EQ(b[3].shape(), (Shape{2, 2}));  // the one row, repeated per sample
  EXPECT_EQ(std::vector<int32_t>(b[3].data<int32_t>(), b[3].data<int32_t>() + 4),
            (std::vector<int32_t>{7, -9, 7, -9}));
  EXPECT_EQ(b[4].shape(), (Shape{2}));
  EXPECT_EQ(b[4].data<uint8_t>()[0], 0);
  EXPECT_EQ(b[4].data<uint8_t>()[1], 1);

  c.dataset.limit = 2;
  auto lim = load_dataset(c);
  ASSERT_TRUE(lim.ok()) << lim.status().message();
  EXPECT_EQ(lim->size(), 2);
  EXPECT_EQ(lim->inputs[0].values.shape(), (Shape{2, 5}));
  EXPECT_EQ(lim->inputs[3].values.shape(), (Shape{1, 2}));
  EXPECT_EQ(lim->labels.size(), 2u);
}

TEST_F(DatasetTest, PreprocessAppliesOnlyToTheInputsItNames) {
  DataConfig c = multi((dir_ / "d.yaml").string(),
                       {{"image", write("i.npy", npy("|u1", "(2, 1, 2)", Bytes{0, 51, 102, 255})), "", false},
                        {"ids", write("t.npy", npy("|u1", "(2, 1)", Bytes{3, 4})), "", false}},
                       "");
  c.preprocess.inputs = {"image"};
  c.preprocess.scale = 1.0f / 255.0f;
  c.preprocess.layout = "NHWC";
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.dtype(), DType::kF32);
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{2, 1, 2, 1}));  // [N,H,W] gains C last
  EXPECT_EQ(r->inputs[0].values.data<float>()[3], 1.0f);
  EXPECT_EQ(r->inputs[1].values.dtype(), DType::kU8);
  EXPECT_EQ(r->inputs[1].values.shape(), (Shape{2, 1}));
}

TEST_F(DatasetTest, InputRowCountsMustAgree) {
  const std::string a = write("a.npy", npy("<f4", "(3, 1)", le_bytes<float>({1, 2, 3})));
  const std::string b = write("b.npy", npy("<f4", "(2, 1)", le_bytes<float>({1, 2})));
  DataConfig c = multi((dir_ / "d.yaml").string(), {{"a", a, "", false}, {"b", b, "", false}}, "");
  EXPECT_EQ(error_of(c), b + ": 2 samples (rows along axis 0), but " + a +
                             " has 3; each input needs one row per sample, or one row for all "
                             "(or shared: true to feed it whole)");
  c.dataset.inputs[1].shared = true;
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 3);
  EXPECT_EQ(r->batch(0, 3)[1].shape(), (Shape{2, 1}));

  c.dataset.labels = write("l.npy", npy("<i8", "(2,)", le_bytes<int64_t>({0, 1})));
  EXPECT_EQ(error_of(c), c.dataset.labels + ": field count: 2 labels, but " + a + " has 3 samples");

  c.dataset.labels.clear();
  c.preprocess.inputs = {"b"};
  EXPECT_EQ(error_of(c), "input 'b' (" + b + "): a shared input cannot be preprocessed as images; "
                         "leave it out of preprocess.inputs");
}

TEST_F(DatasetTest, RawWithHeaderAndInferredCount) {
  Bytes file = {0xAA, 0xBB};  // 2-byte header to skip
  file.insert(file.end(), kPixels.begin(), kPixels.end());
  DataConfig c = config("raw", write("i.bin", file), write("l.bin", le_bytes<int32_t>({1, 2, 3})));
  c.dataset.shape = {-1, 2, 2};
  c.dataset.header_bytes = 2;
  c.dataset.labels_dtype = DType::kS32;
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{3, 1, 2, 2}));
  EXPECT_EQ(r->inputs[0].values.data<float>()[11], 255.0f);
  EXPECT_EQ(r->labels, (std::vector<int64_t>{1, 2, 3}));

  c.dataset.shape = {2, 2};  // per-sample shape
  EXPECT_EQ(load_dataset(c)->size(), 3);
  c.dataset.shape = {3, 2, 2};  // full shape
  EXPECT_EQ(load_dataset(c)->size(), 3);

  DataConfig f = config("raw", write("f.bin", le_bytes<float>({1, 2, 3, 4, 5, 6, 7, 8})), "");
  f.dataset.shape = {2, 1, 2, 2};
  f.dataset.dtype = DType::kF32;
  auto rf = load_dataset(f);
  ASSERT_TRUE(rf.ok()) << rf.status().message();
  EXPECT_EQ(rf->inputs[0].values.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(rf->inputs[0].values.data<float>()[7], 8.0f);
}

// ---- errors: each names the file and the offset or field at fault

TEST_F(DatasetTest, MissingFile) {
  const std::string missing = (dir_ / "absent.idx").string();
  const std::string m = error_of(config("idx", missing, ""));
  EXPECT_EQ(m, missing + ": cannot open: No such file or directory");
}

TEST_F(DatasetTest, TruncatedIdx) {
  Bytes short_px(kPixels.begin(), kPixels.end() - 1);
  const std::string p = write("i.idx", idx(0x08, {3, 2, 2}, short_px));
  EXPECT_EQ(error_of(config("idx", p, "")),
            p + ": byte 27: truncated: the header promises 12 data bytes from byte 16, the file "
                "has only 11");
  const std::string h = write("h.idx", Bytes{0, 0, 8, 3, 0, 0});
  EXPECT_EQ(error_of(config("idx", h, "")),
            h + ": byte 6: truncated: the header needs 16 bytes for 3 dimensions, the file has 6");
  const std::string t = write("t.idx", Bytes{0, 0});
  EXPECT_EQ(error_of(config("idx", t, "")),
            t + ": byte 2: truncated: 2 bytes, too short for the 4-byte IDX magic");
  Bytes extra = kPixels;
  extra.push_back(0);
  const std::string e = write("e.idx", idx(0x08, {3, 2, 2}, extra));
  EXPECT_EQ(error_of(config("idx", e, "")),
            e + ": byte 28: 1 unexpected bytes after the data the header describes");
}

TEST_F(DatasetTest, BadIdxMagic) {
  const std::string p = write("i.idx", idx(0x07, {3, 2, 2}, kPixels));
  const std::string m = error_of(config("idx", p, ""));
  EXPECT_EQ(m.rfind(p + ": byte 0: bad IDX magic 0x00000703", 0), 0u) << m;
  Bytes gif = {'G', 'I', 'F', '8', '9', 'a'};
  const std::string g = write("g.idx", gif);
  EXPECT_EQ(error_of(config("idx", g, "")).rfind(g + ": byte 0: bad IDX magic 0x47494638", 0), 0u);
}

TEST_F(DatasetTest, ImageLabelCountMismatch) {
  const std::string i = write("i.idx", idx(0x08, {3, 2, 2}, kPixels));
  const std::string l = write("l.idx", idx(0x08, {2}, Bytes{1, 2}));
  EXPECT_EQ(error_of(config("idx", i, l)),
            l + ": field count: 2 labels, but " + i + " has 3 samples");
}

TEST_F(DatasetTest, CorruptAndTruncatedGzip) {
  Bytes gz = gzip(idx(0x08, {3, 2, 2}, kPixels));
  Bytes bad = gz;
  bad[10] = 0xFF;  // first deflate block header: BTYPE 11 is reserved
  const std::string p = write("bad.gz", bad);
  const std::string m = error_of(config("idx", p, ""));
  EXPECT_EQ(m.rfind(p + ": byte ", 0), 0u) << m;
  EXPECT_NE(m.find("corrupt gzip data: invalid block type"), std::string::npos) << m;

  Bytes crc = gz;
  crc[crc.size() - 6] ^= 0x01;  // CRC32 in the trailer
  const std::string c = write("crc.gz", crc);
  EXPECT_NE(error_of(config("idx", c, "")).find("incorrect data check"), std::string::npos);

  Bytes cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2));
  const std::string t = write("cut.gz", cut);
  EXPECT_EQ(error_of(config("idx", t, "")),
            t + ": byte " + std::to_string(cut.size()) + ": gzip stream ends early (truncated file?)");
}

TEST_F(DatasetTest, NpyErrors) {
  const std::string f = write("f.npy", npy("<f4", "(2, 2)", le_bytes<float>({1, 2, 3, 4}), true));
  auto r = load_dataset(config("npy", f, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_NE(r.status().message().find(f + ": byte 10: npy header: field 'fortran_order'"),
            std::string::npos)
      << r.status().message();

  const Bytes short_npy = npy("<f4", "(2, 2)", le_bytes<float>({1, 2, 3}));
  const std::string t = write("t.npy", short_npy);
  const size_t data_start = short_npy.size() - 12;
  EXPECT_EQ(error_of(config("npy", t, "")),
            t + ": byte " + std::to_string(short_npy.size()) +
                ": truncated: the header promises 16 data bytes from byte " +
                std::to_string(data_start) + ", the file has only 12");
  const std::string d = write("d.npy", npy("<c8", "(1,)", Bytes(8)));
  EXPECT_NE(error_of(config("npy", d, "")).find("field 'descr': '<c8' is not supported"),
            std::string::npos);
  const std::string m = write("m.npy", Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(error_of(config("npy", m, "")), m + ": byte 0: bad magic: not a NumPy .npy file");
  Bytes broken = npy("<f4", "(1,)", le_bytes<float>({1}));
  broken[20] = '#';  // inside the dict
  const std::string b = write("b.npy", broken);
  EXPECT_NE(error_of(config("npy", b, "")).find(b + ": byte 10: npy header:"), std::string::npos);
  const std::string fl = write("fl.npy", npy("<f4", "(1,)", le_bytes<float>({1.5f})));
  const std::string im = write("im.npy", npy("|u1", "(1, 1, 1)", Bytes{1}));
  EXPECT_EQ(error_of(config("npy", im, fl)), fl + ": label 0 is not a non-negative integer");
}

TEST_F(DatasetTest, RawErrors) {
  DataConfig c = config("raw", write("i.bin", Bytes(7)), "");
  c.dataset.shape = {2, 2, 2};
  const std::string p = c.dataset.inputs[0].path;
  EXPECT_EQ(error_of(c),
            p + ": byte 7: truncated: the header promises 8 data bytes from byte 0, the file has only 7");
  c.dataset.shape = {-1, 2, 2};
  EXPECT_EQ(error_of(c), p + ": byte 7: truncated: 7 bytes after the header is not a whole number "
                             "of 4-byte samples of shape [2,2] u8");
  c.dataset.header_bytes = 9;
  EXPECT_EQ(error_of(c),
            p + ": byte 7: truncated: the file has 7 bytes, fewer than header_bytes 9");
  DataConfig l = config("raw", write("j.bin", Bytes(8)), write("l.bin", Bytes(3)));
  l.dataset.shape = {2, 2};
  l.dataset.labels_dtype = DType::kU16;
  EXPECT_EQ(error_of(l), l.dataset.labels + ": byte 3: truncated: 3 bytes is not a whole number of u16 labels");
}

// Files and what they inflate to are bounded by the tensor size limit before they are held
// whole; the f32 images tensor is checked before it is allocated.
TEST_F(DatasetTest, SizesAreCheckedAgainstTheTensorLimit) {
  const SizeLimits saved = size_limits();
  set_size_limits({4000, saved.max_model_bytes});
  const std::string big = write("big.idx", idx(0x08, {5000}, Bytes(5000)));
  const std::string bomb = write("bomb.gz", gzip(idx(0x08, {100, 100, 100}, Bytes(1000000))));
  const std::string wide = write("wide.idx", idx(0x08, {4, 16, 16}, Bytes(1024)));  // 4096 bytes as f32
  const std::string m_big = error_of(config("idx", big, ""));
  const std::string m_bomb = error_of(config("idx", bomb, ""));
  const std::string m_wide = error_of(config("idx", wide, ""));
  set_size_limits(saved);
  EXPECT_EQ(m_big, big + ": holds 5008 bytes, more than the tensor size limit of 4000 bytes (QTUNE_MAX_TENSOR_BYTES)");
  EXPECT_EQ(m_bomb.rfind(bomb + ": inflates to more than ", 0), 0u) << m_bomb;
  EXPECT_NE(m_bomb.find("(QTUNE_MAX_TENSOR_BYTES)"), std::string::npos) << m_bomb;
  EXPECT_EQ(m_wide, wide + ": the images as f32: shape [4,1,16,16] of f32 needs 4096 bytes, more than the "
                           "tensor size limit of 4000 bytes (QTUNE_MAX_TENSOR_BYTES)");
}

TEST_F(DatasetTest, HeaderShapesPastInt64AreRefused) {
  // IDX dims are u32: 2^32-1 cubed and more overflows int64.
  const std::string i = write("huge.idx", idx(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, Bytes(4)));
  EXPECT_NE(error_of(config("idx", i, "")).find("header dimensions [4294967295,4294967295,4294967295] are too large"),
            std::string::npos);
  // A zero leading dimension does not hide an overflowing rest.
  const std::string z = write("zero.npy", npy("<f4", "(0, 100000000000000000, 1000)", Bytes{}));
  EXPECT_NE(error_of(config("npy", z, "")).find("is too large"), std::string::npos);
}

TEST_F(DatasetTest, MeanLengthMustMatchChannels) {
  DataConfig c = config("idx", write("i.idx", idx(0x08, {3, 2, 2}, kPixels)), "");
  c.preprocess.mean = {0.1f, 0.2f, 0.3f};
  c.preprocess.std = {1.0f, 1.0f, 1.0f};
  EXPECT_EQ(error_of(c), c.source_path + ": preprocess.mean has 3 values but " + c.dataset.inputs[0].path + " has 1 channel");
}

TEST(DatasetRealTest, FashionMnistTestSet) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(dir + "t10k-images-idx3-ubyte.gz") || !fs::exists(dir + "t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST t10k files are not installed in " << dir;
  }
  DataConfig c;
  c.source_path = "inline";
  c.dataset.format = "idx";
  c.dataset.inputs = {DataInput{"", dir + "t10k-images-idx3-ubyte.gz", "", false}};
  c.dataset.labels = dir + "t10k-labels-idx1-ubyte.gz";
  c.preprocess.scale = 0.00392156862745098f;
  c.preprocess.mean = {0.2860f};
  c.preprocess.std = {0.3530f};
  auto r = load_dataset(c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].values.shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(r->labels.size(), 10000u);
  std::vector<int> per_class(10, 0);
  for (int64_t l : r->labels) {
    ASSERT_GE(l, 0);
    ASSERT_LE(l, 9);
    ++per_class[static_cast<size_t>(l)];
  }
  for (int n : per_class) EXPECT_EQ(n, 1000);
  EXPECT_EQ(r->labels[0], 9);  // the first test image is an ankle boot
  const float lo = (0.0f - 0.2860f) / 0.3530f;
  const float hi = (1.0f - 0.2860f) / 0.3530f;
  float mn = hi, mx = lo;
  for (float v : r->inputs[0].values.span<float>()) {
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  EXPECT_EQ(mn, lo);  // some pixel is 0 and some is 255
  EXPECT_EQ(mx, hi);
}

}  // namespace
}  // namespace qtune

#include "common/dataset.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <cstring>
#include <filesystem>
#include <new>
#include <optional>

#include "common/file_writer.h"
#include "common/size_check.h"

#include "common/image_folder.h"

namespace qtune {

namespace {

std::string at_byte(const std::string& path, uint64_t offset) {
  return path + ": byte " + std::to_string(offset) + ": ";
}

// a*b into *out, false on int64 overflow or a negative factor.
bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0) return false;
  return !__builtin_mul_overflow(a, b, out);
}

bool numel_of(const std::vector<int64_t>& shape, int64_t* out) {
  const std::optional<int64_t> n = checked_numel(shape);
  if (n) *out = *n;
  return n.has_value();
}

// A data file is read whole; one larger than the tensor size limit cannot become a dataset.
Status check_data_file_size(const std::string& path, uint64_t bytes, const char* what) {
  const int64_t limit = size_limits().max_tensor_bytes;
  if (bytes <= static_cast<uint64_t>(limit)) return Status::Ok();
  return Status::InvalidInput(path + ": " + what + " " + std::to_string(bytes) +
                              " bytes, more than the tensor size limit of " + std::to_string(limit) +
                              " bytes (QTUNE_MAX_TENSOR_BYTES)");
}

// Every byte of `path`; gzip streams (found by their magic, not the name) are inflated.
Result<std::vector<uint8_t>> gunzip(const std::string& path, const std::vector<uint8_t>& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return Status::Internal(path + ": cannot initialise zlib");
  }
  std::vector<uint8_t> out;
  // The trailer's ISIZE (size mod 2^32) is only a hint; deflate never expands beyond ~1032x.
  // Sizing to it up front (+1 so the end is seen without growing) avoids re-copying the output.
  const uint64_t limit = static_cast<uint64_t>(size_limits().max_tensor_bytes);
  if (in.size() >= 4) {
    uint64_t isize = 0;
    for (int i = 3; i >= 0; --i) isize = (isize << 8) | in[in.size() - 4 + static_cast<size_t>(i)];
    out.resize(static_cast<size_t>(std::min<uint64_t>({isize, in.size() * 1032ull, limit})) + 1);
  }
  size_t in_pos = 0;
  size_t produced = 0;
  Status err;
  while (true) {
    if (produced > limit) {
      err = check_data_file_size(path, produced, "inflates to more than");
      break;
    }
    if (out.size() == produced) {
      out.resize(static_cast<size_t>(std::min<uint64_t>(std::max(out.size() * 2, produced + (1u << 20)), limit + 1)));
    }
    const size_t in_avail = std::min<size_t>(in.size() - in_pos, UINT_MAX);
    const size_t out_avail = std::min<size_t>(out.size() - produced, UINT_MAX);
    zs.next_in = const_cast<Bytef*>(in.data() + in_pos);
    zs.avail_in = static_cast<uInt>(in_avail);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(out_avail);
    const int ret = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_avail - zs.avail_in;
    produced += out_avail - zs.avail_out;
    if (ret == Z_STREAM_END) {
      if (in_pos == in.size()) break;
      // Concatenated gzip members are one stream (gzip(1) writes them that way).
      if (in.size() - in_pos >= 2 && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      // Zero padding after the last member is tolerated, like gzip(1) does.
      if (std::all_of(in.begin() + static_cast<std::ptrdiff_t>(in_pos), in.end(),
                      [](uint8_t b) { return b == 0; })) {
        break;
      }
      err = Status::InvalidInput(at_byte(path, in_pos) + "unexpected bytes after the gzip stream");
      break;
    }
    if (ret == Z_OK || ret == Z_BUF_ERROR) {
      if (in_pos == in.size() && zs.avail_out != 0) {
        err = Status::InvalidInput(at_byte(path, in_pos) +
                                   "gzip stream ends early (truncated file?)");
        break;
      }
      continue;
    }
    err = Status::InvalidInput(at_byte(path, in_pos) + "corrupt gzip data" +
                               (zs.msg ? std::string(": ") + zs.msg : std::string()));
    break;
  }
  inflateEnd(&zs);
  if (!err.ok()) return err;
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidInput(path + ": is a directory, expected a data file");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::InvalidInput(path + ": cannot open: " + std::strerror(errno));
  // Sized once up front: growing a vector re-copies and re-faults every page of a large file.
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec) {
    if (Status s = check_data_file_size(path, size, "holds"); !s.ok()) {
      std::fclose(f);
      return s;
    }
  }
  std::vector<uint8_t> bytes(ec ? 0 : static_cast<size_t>(size));
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  bytes.resize(got);
  uint8_t buf[1 << 16];
  size_t n;  // whatever the size did not cover (a file still being written, a pipe)
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    bytes.insert(bytes.end(), buf, buf + n);
    if (Status s = check_data_file_size(path, bytes.size(), "holds more than"); !s.ok()) {
      std::fclose(f);
      return s;
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int saved = errno;
  std::fclose(f);
  if (failed) return Status::InvalidInput(path + ": read error: " + std::strerror(saved));
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(path, bytes);
  return bytes;
}

void byteswap_elements(RawArray* a) {
  const size_t esize = dtype_size(a->dtype);
  if (esize <= 1) return;
  for (size_t i = a->offset; i + esize <= a->bytes.size(); i += esize) {
    std::reverse(a->bytes.begin() + static_cast<std::ptrdiff_t>(i),
                 a->bytes.begin() + static_cast<std::ptrdiff_t>(i + esize));
  }
}

// Checks the bytes after `header` are exactly `numel` elements.
Status check_payload(const std::string& path, const std::vector<uint8_t>* bytes, size_t header,
                     int64_t numel, DType dtype) {
  int64_t want;
  if (!checked_mul(numel, static_cast<int64_t>(dtype_size(dtype)), &want)) {
    return Status::InvalidInput(path + ": header: shape is too large");
  }
  const uint64_t have = bytes->size() - header;
  if (have < static_cast<uint64_t>(want)) {
    return Status::InvalidInput(at_byte(path, bytes->size()) + "truncated: the header promises " +
                                std::to_string(want) + " data bytes from byte " +
                                std::to_string(header) + ", the file has only " +
                                std::to_string(have));
  }
  if (have > static_cast<uint64_t>(want)) {
    return Status::InvalidInput(at_byte(path, header + static_cast<uint64_t>(want)) +
                                std::to_string(have - static_cast<uint64_t>(want)) +
                                " unexpected bytes after the data the header describes");
  }
  return Status::Ok();
}

// ---- NumPy header: a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (10000, 28, 28), }
class DictReader {
 public:
  explicit DictReader(std::string_view s) : s_(s) {}
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool string(std::string* out) {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return false;
    const char q = s_[i_++];
    const size_t end = s_.find(q, i_);
    if (end == std::string_view::npos) return false;
    *out = std::string(s_.substr(i_, end - i_));
    i_ = end + 1;
    return true;
  }
  bool word(std::string* out) {
    skip_ws();
    const size_t b = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    *out = std::string(s_.substr(b, i_ - b));
    return !out->empty();
  }
  bool integer(int64_t* out) {
    std::string w;
    if (!word(&w)) return false;
    if (!w.empty() && w.back() == 'L') w.pop_back();  // Python 2 longs
    if (w.empty() || !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    if (w.size() > 18) return false;
    *out = std::stoll(w);
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
};

Status parse_npy_dict(const std::string& path, std::string_view text, size_t offset,
                      NpyHeader* h) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidInput(at_byte(path, offset) + "npy header: " + what);
  };
  DictReader r(text);
  if (!r.eat('{')) return bad("expected a '{' dictionary");
  bool have_descr = false, have_order = false, have_shape = false;
  while (!r.eat('}')) {
    std::string key;
    if (!r.string(&key)) return bad("expected a quoted key");
    if (!r.eat(':')) return bad("expected ':' after '" + key + "'");
    if (key == "descr") {
      if (!r.string(&h->descr)) return bad("field 'descr': expected a string (structured dtypes are not supported)");
      have_descr = true;
    } else if (key == "fortran_order") {
      std::string w;
      if (!r.word(&w) || (w != "True" && w != "False")) return bad("field 'fortran_order': expected True or False");
      h->fortran = w == "True";
      have_order = true;
    } else if (key == "shape") {
      if (!r.eat('(')) return bad("field 'shape': expected a tuple");
      h->shape.clear();
      while (!r.eat(')')) {
        int64_t d;
        if (!r.integer(&d)) return bad("field 'shape': expected non-negative integers");
        h->shape.push_back(d);
        if (!r.eat(',') && !r.peek(')')) return bad("field 'shape': expected ',' or ')'");
      }
      have_shape = true;
    } else {
      return bad("unknown field '" + key + "'");
    }
    if (!r.eat(',') && !r.peek('}')) return bad("expected ',' or '}' after '" + key + "'");
  }
  if (!have_descr) return bad("missing field 'descr'");
  if (!have_order) return bad("missing field 'fortran_order'");
  if (!have_shape) return bad("missing field 'shape'");
  return Status::Ok();
}

// "<f4" -> kF32 and whether the bytes need swapping to native (little-endian) order.
bool npy_dtype(const std::string& descr, DType* out, bool* swap) {
  if (descr.size() < 3) return false;
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return false;
  const std::string code = descr.substr(1);
  static const std::pair<const char*, DType> kCodes[] = {
      {"f4", DType::kF32}, {"f8", DType::kF64}, {"f2", DType::kF16}, {"u1", DType::kU8},
      {"i1", DType::kS8},  {"u2", DType::kU16}, {"i2", DType::kS16}, {"u4", DType::kU32},
      {"i4", DType::kS32}, {"u8", DType::kU64}, {"i8", DType::kS64}, {"b1", DType::kU8},
  };
  for (const auto& [c, t] : kCodes) {
    if (code == c) {
      *out = t;
      *swap = order == '>' && dtype_size(t) > 1;
      return true;
    }
  }
  return false;
}

// ---- element conversion
template <typename T>
inline float load_as(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<float>(v);
}

using LoadFn = float (*)(const uint8_t*);

LoadFn loader_for(DType t) {
  switch (t) {
    case DType::kU8: return &load_as<uint8_t>;
    case DType::kS8: return &load_as<int8_t>;
    case DType::kU16: return &load_as<uint16_t>;
    case DType::kS16: return &load_as<int16_t>;
    case DType::kU32: return &load_as<uint32_t>;
    case DType::kS32: return &load_as<int32_t>;
    case DType::kU64: return &load_as<uint64_t>;
    case DType::kS64: return &load_as<int64_t>;
    case DType::kF32: return &load_as<float>;
    case DType::kF64: return &load_as<double>;
    case DType::kF16:
      return [](const uint8_t* p) { uint16_t h; std::memcpy(&h, p, 2); return f16_to_f32(h); };
    case DType::kBF16:
      return [](const uint8_t* p) { uint16_t h; std::memcpy(&h, p, 2); return bf16_to_f32(h); };
    default: return nullptr;
  }
}

// One label as an integer; false when it is fractional, out of range or not a number.
bool label_at(const RawArray& a, int64_t i, int64_t* out) {
  const uint8_t* p = a.data() + static_cast<size_t>(i) * dtype_size(a.dtype);
  auto get = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (a.dtype) {
    case DType::kU8: *out = get(uint8_t{}); return true;
    case DType::kS8: *out = get(int8_t{}); return true;
    case DType::kU16: *out = get(uint16_t{}); return true;
    case DType::kS16: *out = get(int16_t{}); return true;
    case DType::kU32: *out = get(uint32_t{}); return true;
    case DType::kS32: *out = get(int32_t{}); return true;
    case DType::kS64: *out = get(int64_t{}); return true;
    case DType::kU64: {
      const uint64_t v = get(uint64_t{});
      if (v > static_cast<uint64_t>(INT64_MAX)) return false;
      *out = static_cast<int64_t>(v);
      return true;
    }
    case DType::kF64: {
      double d;
      std::memcpy(&d, p, 8);
      if (!(std::fabs(d) < 9.0e15) || d != std::floor(d)) return false;
      *out = static_cast<int64_t>(d);
      return true;
    }
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: {
      const float v = loader_for(a.dtype)(p);
      if (!(std::fabs(v) < 1.0e7f) || v != std::floor(v)) return false;
      *out = static_cast<int64_t>(v);
      return true;
    }
    default: return false;
  }
}

// ---- raw binary: shape comes from the YAML
Result<RawArray> read_raw_images(const DatasetSpec& spec, const std::string& path) {
  QT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file(path));
  const size_t esize = dtype_size(spec.dtype);
  if (static_cast<uint64_t>(spec.header_bytes) > bytes.size()) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated: the file has " +
                                std::to_string(bytes.size()) + " bytes, fewer than header_bytes " +
                                std::to_string(spec.header_bytes));
  }
  const size_t header = static_cast<size_t>(spec.header_bytes);
  const uint64_t payload = bytes.size() - header;
  RawArray a;
  a.dtype = spec.dtype;
  // [H,W] is one sample; [N,...] is the whole file, with N = -1 meaning "as many as fit".
  std::vector<int64_t> sample(spec.shape.size() == 2 ? spec.shape.begin() : spec.shape.begin() + 1,
                              spec.shape.end());
  int64_t sample_numel, sample_bytes;
  if (!numel_of(sample, &sample_numel) ||
      !checked_mul(sample_numel, static_cast<int64_t>(esize), &sample_bytes) || sample_bytes == 0) {
    return Status::InvalidInput(path + ": dataset.shape " + shape_str(spec.shape) +
                                " has no or too many elements");
  }
  int64_t n;
  if (spec.shape.size() == 2 || spec.shape[0] == -1) {
    if (payload % static_cast<uint64_t>(sample_bytes) != 0) {
      return Status::InvalidInput(
          at_byte(path, bytes.size()) + "truncated: " + std::to_string(payload) +
          " bytes after the header is not a whole number of " + std::to_string(sample_bytes) +
          "-byte samples of shape " + shape_str(sample) + " " + std::string(dtype_name(spec.dtype)));
    }
    n = static_cast<int64_t>(payload / static_cast<uint64_t>(sample_bytes));
  } else {
    n = spec.shape[0];
  }
  a.shape = {n};
  a.shape.insert(a.shape.end(), sample.begin(), sample.end());
  int64_t numel;
  if (!numel_of(a.shape, &numel)) return Status::InvalidInput(path + ": dataset.shape is too large");
  QT_RETURN_IF_ERROR(check_payload(path, &bytes, header, numel, a.dtype));
  a.bytes = std::move(bytes);
  a.offset = header;
  return a;
}

Result<RawArray> read_raw_labels(const DatasetSpec& spec) {
  const std::string& path = spec.labels;
  QT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file(path));
  const size_t esize = dtype_size(spec.labels_dtype);
  if (esize == 0 || bytes.size() % esize != 0) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated: " +
                                std::to_string(bytes.size()) + " bytes is not a whole number of " +
                                std::string(dtype_name(spec.labels_dtype)) + " labels");
  }
  RawArray a;
  a.dtype = spec.labels_dtype;
  a.shape = {static_cast<int64_t>(bytes.size() / esize)};
  a.bytes = std::move(bytes);
  return a;
}

// [N,C,H,W] of an image array plus whether its bytes are channels-last.
Status image_geometry(const std::string& path, const RawArray& a, const std::string& layout,
                      int64_t dims[4], bool* nhwc) {
  *nhwc = false;
  switch (a.shape.size()) {
    case 2:  // [N,D] flat vectors
      dims[0] = a.shape[0]; dims[1] = 1; dims[2] = 1; dims[3] = a.shape[1];
      return Status::Ok();
    case 3:  // [N,H,W] grayscale
      dims[0] = a.shape[0]; dims[1] = 1; dims[2] = a.shape[1]; dims[3] = a.shape[2];
      return Status::Ok();
    case 4:
      if (layout == "NHWC") {
        *nhwc = true;
        dims[0] = a.shape[0]; dims[1] = a.shape[3]; dims[2] = a.shape[1]; dims[3] = a.shape[2];
      } else {
        for (int i = 0; i < 4; ++i) dims[i] = a.shape[static_cast<size_t>(i)];
      }
      return Status::Ok();
    default:
      return Status::InvalidInput(path + ": images have shape " + shape_str(a.shape) +
                                  "; expected [N,D], [N,H,W] or [N,C,H,W]/[N,H,W,C]");
  }
}

// k when `scale` is the float nearest 1/k for an integer k (0.00392156862745098 -> 255), else 0.
// Models are trained with x / 255, and x * (1/255) differs from it in the last bit for about
// half of all byte values, so such a scale is applied as that division to match bit for bit.
float reciprocal_integer(float scale) {
  if (!(scale > 0.0f) || scale > 1.0f) return 0.0f;
  const double k = std::nearbyint(1.0 / static_cast<double>(scale));
  if (k < 1.0 || k > 16777216.0) return 0.0f;
  return static_cast<float>(1.0 / k) == scale ? static_cast<float>(k) : 0.0f;
}

Status check_norm(const DataConfig& cfg, const std::string& source, const std::vector<float>& v,
                  const char* name, int64_t channels) {
  if (v.empty() || v.size() == 1 || static_cast<int64_t>(v.size()) == channels) return Status::Ok();
  return Status::InvalidInput(cfg.source_path + ": preprocess." + name + " has " +
                              std::to_string(v.size()) + " values but " + source + " has " +
                              std::to_string(channels) + " channel" + (channels == 1 ? "" : "s"));
}

// The first `n` samples of an image array as the f32 tensor the model gets: scale, then
// (x - mean) / std per channel, in preprocess.layout ([N,H,W] and [N,D] gain a channel of 1).
Result<Tensor> preprocess_images(const DataConfig& cfg, const std::string& source,
                                 const std::string& source_layout, const RawArray& a, int64_t n) {
  const PreprocessSpec& pre = cfg.preprocess;
  int64_t dims[4];
  bool nhwc = false;
  QT_RETURN_IF_ERROR(image_geometry(source, a, source_layout, dims, &nhwc));
  const LoadFn load = loader_for(a.dtype);
  if (!load) {
    return Status::Unsupported(source + ": element type " + std::string(dtype_name(a.dtype)) +
                               " cannot be preprocessed as an image");
  }
  const int64_t C = dims[1], H = dims[2], W = dims[3];
  QT_RETURN_IF_ERROR(check_norm(cfg, source, pre.mean, "mean", C));
  QT_RETURN_IF_ERROR(check_norm(cfg, source, pre.std, "std", C));
  std::vector<float> mean(static_cast<size_t>(C), 0.0f), stdv(static_cast<size_t>(C), 1.0f);
  for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
    if (!pre.mean.empty()) mean[c] = pre.mean.size() == 1 ? pre.mean[0] : pre.mean[c];
    if (!pre.std.empty()) stdv[c] = pre.std.size() == 1 ? pre.std[0] : pre.std[c];
  }
  const bool nhwc_out = pre.layout == "NHWC";
  const Shape shape = nhwc_out ? Shape{n, H, W, C} : Shape{n, C, H, W};
  QT_RETURN_IF_ERROR(checked_tensor_bytes(DType::kF32, shape, source + ": the images as f32").status());
  Tensor out(DType::kF32, shape);
  float* dst = out.data<float>();
  const uint8_t* src = a.data();
  const size_t esize = dtype_size(a.dtype);
  const int64_t HW = H * W;
  const float scale = pre.scale;
  const float divisor = reciprocal_integer(scale);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) {
      for (int64_t c = 0; c < C; ++c) {
        const float m = mean[static_cast<size_t>(c)];
        const float s = stdv[static_cast<size_t>(c)];
        for (int64_t p = 0; p < HW; ++p) {
          const int64_t k = nhwc ? (i * HW + p) * C + c : (i * C + c) * HW + p;
          const float v = load(src + static_cast<size_t>(k) * esize);
          // Same float ops in the same order as training: scale, then (x - mean) / std.
          const float x = divisor != 0.0f ? v / divisor : v * scale;
          dst[nhwc_out ? (i * HW + p) * C + c : (i * C + c) * HW + p] = (x - m) / s;
        }
      }
    }
  });
  return out;
}

// The first `n` rows of an array as stored (all of it when `n` < 0).
Tensor rows_as_stored(const RawArray& a, int64_t n) {
  Shape shape = a.shape;
  if (n >= 0 && !shape.empty()) shape[0] = n;
  Tensor t(a.dtype, shape);
  if (t.nbytes()) std::memcpy(t.raw(), a.data(), t.nbytes());
  return t;
}

bool starts_with_npy_magic(const std::string& path) {
  char magic[6] = {};
  std::ifstream(path, std::ios::binary).read(magic, 6);
  return std::memcmp(magic, "\x93NUMPY", 6) == 0;
}

// An image folder's files (relative paths) come back in `files`.
Result<RawArray> read_input_array(const DataConfig& cfg, const DataInput& in,
                                  std::vector<std::string>* files) {
  const std::string& format = cfg.dataset.format_of(in);
  if (format == "idx") return read_idx_file(in.path);
  if (format == "npy") return read_npy_file(in.path);
  if (format == "raw") return read_raw_images(cfg.dataset, in.path);
  if (format == "images") {
    std::error_code ec;
    if (std::filesystem::is_directory(in.path, ec) || !starts_with_npy_magic(in.path)) {
      return read_image_folder(in.path, cfg.dataset.recursive, cfg.preprocess, files);
    }
    // A packed folder (coordinator/run_files.h): its pixels, already decoded, resized, cropped.
    QT_ASSIGN_OR_RETURN(RawArray a, read_npy_file(in.path));
    const int64_t channels = cfg.preprocess.color == "gray" ? 1 : 3;
    if (a.dtype != DType::kU8 || a.shape.size() != 4 || a.shape[3] != channels) {
      return Status::InvalidInput(in.path + ": a packed image folder holds u8 [N,H,W," +
                                  std::to_string(channels) + "] pixels, not " +
                                  std::string(dtype_name(a.dtype)) + " " + shape_str(a.shape));
    }
    return a;
  }
  return Status::InvalidInput(cfg.source_path + ": dataset format '" + format +
                              "' is not one of idx, npy, raw, images");
}

// Labels as stored: in the dataset's format; an image folder's in a text file matched to the
// first folder's `files`, or in a .npy file.
Result<RawArray> read_labels(const DataConfig& cfg, const std::vector<std::string>* image_files) {
  const DatasetSpec& spec = cfg.dataset;
  if (spec.format == "idx") return read_idx_file(spec.labels);
  if (spec.format == "npy" || starts_with_npy_magic(spec.labels)) return read_npy_file(spec.labels);
  if (spec.format == "raw") return read_raw_labels(spec);
  if (!image_files) {
    return Status::InvalidInput(spec.labels + ": a labels text file needs an image folder input");
  }
  QT_ASSIGN_OR_RETURN(std::vector<int64_t> values, read_image_labels(spec.labels, *image_files));
  RawArray a;
  a.dtype = DType::kS64;
  a.shape = {static_cast<int64_t>(values.size())};
  a.bytes.resize(values.size() * sizeof(int64_t));
  std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

// What an input is called in messages: the model input it feeds and its file.
std::string describe(const DataInput& in) {
  return in.name.empty() ? in.path : "input '" + in.name + "' (" + in.path + ")";
}

Result<Dataset> load_dataset_impl(const DataConfig& cfg) {
  const DatasetSpec& spec = cfg.dataset;
  if (spec.inputs.empty()) {
    return Status::InvalidInput(cfg.source_path + ": the dataset names no input files");
  }
  std::vector<RawArray> arrays;
  std::vector<std::string> image_files;  // of the first image folder, for its labels file
  bool have_image_files = false;
  for (const DataInput& in : spec.inputs) {
    std::vector<std::string> files;
    QT_ASSIGN_OR_RETURN(RawArray a, read_input_array(cfg, in, &files));
    if (!have_image_files && spec.format_of(in) == "images") {
      image_files = std::move(files);
      have_image_files = true;
    }
    arrays.push_back(std::move(a));
  }
  // Samples are rows along axis 0. Shared inputs and 0-d arrays are fed whole; inputs with one
  // row serve every sample when others have more.
  int64_t total = -1;
  std::string total_from = cfg.source_path;  // the file the sample count comes from
  for (size_t i = 0; i < arrays.size(); ++i) {
    const DataInput& in = spec.inputs[i];
    if (in.shared || arrays[i].shape.empty()) continue;
    const int64_t rows = arrays[i].shape[0];
    if (rows == 0) return Status::InvalidInput(in.path + ": the file holds no samples");
    if (total < 0 || total == 1) {
      if (total != 1 || rows != 1) total_from = in.path;
      total = rows;
    } else if (rows != 1 && rows != total) {
      return Status::InvalidInput(in.path + ": " + std::to_string(rows) + " samples (rows along "
                                  "axis 0), but " + total_from + " has " +
                                  std::to_string(total) + "; each input needs one row per "
                                  "sample, or one row for all (or shared: true to feed it whole)");
    }
  }
  if (total < 0) total = 1;  // nothing but shared inputs: one sample
  const int64_t n = spec.limit > 0 ? std::min(spec.limit, total) : total;

  Dataset ds;
  ds.source = cfg.source_path;
  ds.samples = n;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const DataInput& in = spec.inputs[i];
    const RawArray& a = arrays[i];
    DatasetInput d;
    d.name = in.name;
    d.source = in.path;
    d.shared = in.shared || a.shape.empty();
    d.batch_axis = d.shared ? 0 : in.batch_axis;
    const int64_t rows = d.shared ? -1 : std::min(a.shape[0], n);
    if (cfg.preprocessed(in)) {
      if (d.shared) {
        return Status::InvalidInput(describe(in) + ": a shared input cannot be preprocessed as "
                                    "images; leave it out of preprocess.inputs");
      }
      // Decoded images are channels-last; files are as source_layout says, or as the model's.
      std::string source_layout = cfg.preprocess.source_layout.empty()
                                      ? cfg.preprocess.layout
                                      : cfg.preprocess.source_layout;
      if (spec.format_of(in) == "images") source_layout = "NHWC";
      QT_ASSIGN_OR_RETURN(d.values, preprocess_images(cfg, in.path, source_layout, a, rows));
    } else {
      d.values = rows_as_stored(a, rows);
    }
    ds.inputs.push_back(std::move(d));
  }
  arrays.clear();

  if (!spec.labels.empty()) {
    QT_ASSIGN_OR_RETURN(RawArray labels,
                        read_labels(cfg, have_image_files ? &image_files : nullptr));
    int64_t label_count;
    if (labels.shape.empty() || !numel_of(labels.shape, &label_count) ||
        (labels.shape.size() > 1 && label_count != labels.shape[0])) {
      return Status::InvalidInput(spec.labels + ": labels have shape " + shape_str(labels.shape) +
                                  "; expected [N] or [N,1]");
    }
    if (label_count != total) {
      return Status::InvalidInput(spec.labels + ": field count: " + std::to_string(label_count) +
                                  " labels, but " + total_from + " has " +
                                  std::to_string(total) + " samples");
    }
    ds.labels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      int64_t v;
      if (!label_at(labels, i, &v) || v < 0) {
        return Status::InvalidInput(spec.labels + ": label " + std::to_string(i) +
                                    " is not a non-negative integer");
      }
      ds.labels[static_cast<size_t>(i)] = v;
    }
  }
  return ds;
}

}  // namespace

Tensor DatasetInput::rows(int64_t start, int64_t count) const {
  if (shared) return values;
  Shape shape = values.shape();
  shape[0] = count;
  Tensor out(values.dtype(), shape);
  const int64_t stored = values.dim(0);
  const int64_t row = stored == 0 ? 0 : values.numel() / stored;
  if (stored == 1) {
    for (int64_t i = 0; i < count; ++i) out.copy_elements(values, 0, i * row, row);
  } else if (count > 0) {
    out.copy_elements(values, start * row, 0, count * row);
  }
  return out;
}

std::vector<Tensor> Dataset::batch(int64_t start, int64_t count) const {
  start = std::clamp<int64_t>(start, 0, samples);
  count = std::clamp<int64_t>(count, 0, samples - start);
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (const DatasetInput& in : inputs) out.push_back(in.rows(start, count));
  return out;
}

Dataset Dataset::of(Tensor values, std::vector<int64_t> labels) {
  Dataset d;
  d.samples = values.empty() || values.rank() == 0 ? 0 : values.dim(0);
  d.labels = std::move(labels);
  d.inputs.push_back(DatasetInput{"", "", std::move(values), false});
  return d;
}

namespace {

Result<RawArray> read_idx_impl(const std::string& path) {
  QT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file(path));
  if (bytes.size() < 4) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated: " +
                                std::to_string(bytes.size()) +
                                " bytes, too short for the 4-byte IDX magic");
  }
  const uint32_t magic = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                         (uint32_t{bytes[2]} << 8) | bytes[3];
  DType dtype = DType::kUndefined;
  switch (bytes[2]) {
    case 0x08: dtype = DType::kU8; break;
    case 0x09: dtype = DType::kS8; break;
    case 0x0B: dtype = DType::kS16; break;
    case 0x0C: dtype = DType::kS32; break;
    case 0x0D: dtype = DType::kF32; break;
    case 0x0E: dtype = DType::kF64; break;
    default: break;
  }
  const int ndims = bytes[3];
  if (bytes[0] != 0 || bytes[1] != 0 || dtype == DType::kUndefined || ndims < 1 || ndims > 4) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%08X", magic);
    return Status::InvalidInput(at_byte(path, 0) + "bad IDX magic " + hex +
                                " (expected 0x00000803 for images or 0x00000801 for labels; type "
                                "codes 08,09,0B,0C,0D,0E and 1-4 dimensions are supported)");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated: the header needs " +
                                std::to_string(header) + " bytes for " + std::to_string(ndims) +
                                " dimensions, the file has " + std::to_string(bytes.size()));
  }
  RawArray a;
  a.dtype = dtype;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    a.shape.push_back((int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3]);
  }
  int64_t numel;
  if (!numel_of(a.shape, &numel)) {
    return Status::InvalidInput(at_byte(path, 4) + "header dimensions " + shape_str(a.shape) +
                                " are too large");
  }
  QT_RETURN_IF_ERROR(check_payload(path, &bytes, header, numel, dtype));
  a.bytes = std::move(bytes);
  a.offset = header;
  byteswap_elements(&a);  // IDX is big-endian
  return a;
}

Result<RawArray> read_npy_impl(const std::string& path) {
  QT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file(path));
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 6 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    return Status::InvalidInput(at_byte(path, 0) + "bad magic: not a NumPy .npy file");
  }
  if (bytes.size() < 10) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated npy header");
  }
  const int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = bytes[8] | (size_t{bytes[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated npy header");
    }
    header_len = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) |
                 (size_t{bytes[11]} << 24);
    header_start = 12;
  } else {
    return Status::InvalidInput(at_byte(path, 6) + "npy format version " + std::to_string(major) +
                                "." + std::to_string(bytes[7]) + " is not supported (1.0, 2.0, 3.0)");
  }
  if (bytes.size() - header_start < header_len) {
    return Status::InvalidInput(at_byte(path, bytes.size()) + "truncated: the npy header needs " +
                                std::to_string(header_start + header_len) + " bytes, the file has " +
                                std::to_string(bytes.size()));
  }
  NpyHeader h;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);
  QT_RETURN_IF_ERROR(parse_npy_dict(path, text, header_start, &h));
  RawArray a;
  bool swap = false;
  if (!npy_dtype(h.descr, &a.dtype, &swap)) {
    return Status::InvalidInput(at_byte(path, header_start) + "npy header: field 'descr': '" +
                                h.descr +
                                "' is not supported (<f4, <f8, <f2, |u1, |i1, <i2, <i4, <i8, ...)");
  }
  if (h.fortran) {
    return Status::Unsupported(at_byte(path, header_start) +
                               "npy header: field 'fortran_order': True is not supported; save a "
                               "C-order array (np.ascontiguousarray)");
  }
  a.shape = h.shape;
  int64_t numel;
  if (!numel_of(a.shape, &numel)) {
    return Status::InvalidInput(at_byte(path, header_start) + "npy header: field 'shape': " +
                                shape_str(a.shape) + " is too large");
  }
  QT_RETURN_IF_ERROR(check_payload(path, &bytes, header_start + header_len, numel, a.dtype));
  a.bytes = std::move(bytes);
  a.offset = header_start + header_len;
  if (swap) byteswap_elements(&a);
  return a;
}

}  // namespace

Result<RawArray> read_idx_file(const std::string& path) {
  try {
    return read_idx_impl(path);
  } catch (const std::bad_alloc&) {
    return Status::InvalidInput(path + ": out of memory while reading");
  }
}

Result<RawArray> read_npy_file(const std::string& path) {
  try {
    return read_npy_impl(path);
  } catch (const std::bad_alloc&) {
    return Status::InvalidInput(path + ": out of memory while reading");
  }
}

Status write_npy_file(const Tensor& t_in, const std::string& path) {
  Tensor t = t_in;
  if (t.dtype() == DType::kBF16) {
    Tensor wide(DType::kF32, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) wide.data<float>()[i] = bf16_to_f32(t.data<uint16_t>()[i]);
    t = std::move(wide);
  }
  static const std::pair<DType, const char*> kDescr[] = {
      {DType::kF32, "<f4"}, {DType::kF64, "<f8"}, {DType::kF16, "<f2"}, {DType::kU8, "|u1"},
      {DType::kS8, "|i1"},  {DType::kU16, "<u2"}, {DType::kS16, "<i2"}, {DType::kU32, "<u4"},
      {DType::kS32, "<i4"}, {DType::kU64, "<u8"}, {DType::kS64, "<i8"}, {DType::kBool, "|b1"},
  };
  const char* descr = nullptr;
  for (const auto& [d, s] : kDescr) {
    if (d == t.dtype()) descr = s;
  }
  if (!descr) {
    return Status::Unsupported(path + ": element type " + std::string(dtype_name(t.dtype())) +
                               " has no .npy form");
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    shape += std::to_string(t.shape()[i]) + (t.shape().size() == 1 ? "," : i + 1 < t.shape().size() ? ", " : "");
  }
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const uint16_t len = static_cast<uint16_t>(header.size());
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(len & 0xff));
  bytes.push_back(static_cast<char>(len >> 8));
  bytes += header;
  bytes.append(static_cast<const char*>(t.raw()), t.nbytes());
  return replace_file(path, bytes);
}

Result<Dataset> load_dataset(const DataConfig& cfg) {
  try {
    return load_dataset_impl(cfg);
  } catch (const std::bad_alloc&) {
    return Status::InvalidInput(cfg.source_path + ": out of memory while loading the dataset");
  } catch (const std::exception& e) {
    return Status::Internal(cfg.source_path + ": " + e.what());
  }
}

}  // namespace qtune

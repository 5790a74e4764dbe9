#include "common/protocol.h"

#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <msgpack.hpp>
#include <string_view>

#include "common/content_hash.h"

namespace qtune {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

// Writes the map header with the exact field count, then the envelope keys.
void begin(Packer& p, uint32_t fields, const char* type) {
  p.pack_map(fields + 2);
  p.pack("v");
  p.pack(kProtocolVersion);
  p.pack("type");
  p.pack(type);
}

template <typename T>
void field(Packer& p, const char* key, const T& value) {
  p.pack(key);
  p.pack(value);
}

struct Encoder {
  Packer& p;
  void operator()(const ReadyMsg& m) const {
    begin(p, 4, "READY");
    field(p, "worker_id", m.worker_id);
    field(p, "threads", m.threads);
    field(p, "isa", m.isa);
    field(p, "cached", m.cached);
  }
  void operator()(const ConfigMsg& m) const {
    begin(p, 5, "CONFIG");
    field(p, "config_hash", m.config_hash);
    field(p, "path", m.path);
    field(p, "heartbeat_ms", m.heartbeat_ms);
    field(p, "liveness", m.liveness);
    p.pack("files");
    p.pack_array(static_cast<uint32_t>(m.files.size()));
    for (const RunFile& f : m.files) {
      p.pack_array(4);
      p.pack(f.role);
      p.pack(f.path);
      p.pack(f.hash);
      p.pack(f.size);
    }
  }
  void operator()(const TrialMsg& m) const {
    begin(p, 7, "TRIAL");
    field(p, "index", m.index);
    field(p, "cfg_hash", m.cfg_hash);
    field(p, "tune_cfg", m.tune_cfg);
    field(p, "model_hash", m.model_hash);
    field(p, "data_hash", m.data_hash);
    field(p, "stats_hash", m.stats_hash);
    field(p, "baseline", m.baseline);
  }
  void operator()(const ResultMsg& m) const {
    begin(p, 12, "RESULT");
    field(p, "index", m.index);
    field(p, "cfg_hash", m.cfg_hash);
    field(p, "ok", m.ok);
    field(p, "metric", m.metric);
    field(p, "latency_ms", m.latency_ms);
    field(p, "latency_error_ms", m.latency_error_ms);
    field(p, "fp32_ratio", m.fp32_ratio);
    field(p, "fp32_ratio_error", m.fp32_ratio_error);
    field(p, "model_bytes", m.model_bytes);
    field(p, "seconds", m.seconds);
    field(p, "code", static_cast<int32_t>(m.code));
    field(p, "error", m.error);
  }
  void operator()(const HeartbeatMsg& m) const {
    begin(p, 1, "HEARTBEAT");
    field(p, "busy_index", m.busy_index);
  }
  void operator()(const DisconnectMsg& m) const {
    begin(p, 2, "DISCONNECT");
    field(p, "reason", m.reason);
    field(p, "rejoin", m.rejoin);
  }
  void operator()(const FetchMsg& m) const {
    begin(p, 3, "FETCH");
    field(p, "hash", m.hash);
    field(p, "offset", m.offset);
    field(p, "length", m.length);
  }
  void operator()(const ChunkMsg& m) const {
    begin(p, 5, "CHUNK");
    field(p, "hash", m.hash);
    field(p, "offset", m.offset);
    field(p, "total", m.total);
    p.pack("data");
    p.pack_bin(static_cast<uint32_t>(m.data.size()));
    p.pack_bin_body(m.data.data(), static_cast<uint32_t>(m.data.size()));
    field(p, "error", m.error);
  }
};

Status bad(const std::string& what) { return Status::InvalidInput("protocol message: " + what); }

// Free text from a peer ends up in log lines: control characters (newlines, escape sequences)
// would let it forge or garble them, so each becomes '?'.
std::string printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

const char* type_name(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER: return "integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "binary";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown";
}

// The top-level map, keyed by string; typed getters that refuse anything unexpected.
class Fields {
 public:
  Status init(const msgpack::object& root) {
    if (root.type != msgpack::type::MAP) return bad(std::string("a ") + type_name(root.type) + ", not a map");
    for (uint32_t i = 0; i < root.via.map.size; ++i) {
      const msgpack::object_kv& kv = root.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) return bad("a map key is not a string");
      std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
      if (!fields_.emplace(key, &kv.val).second) return bad("duplicate key '" + key + "'");
    }
    return Status::Ok();
  }

  Status str(const char* key, std::string* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::STR));
    out->assign(o->via.str.ptr, o->via.str.size);
    return Status::Ok();
  }
  Status boolean(const char* key, bool* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::BOOLEAN));
    *out = o->via.boolean;
    return Status::Ok();
  }
  Status integer(const char* key, int64_t lo, int64_t hi, int64_t* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::POSITIVE_INTEGER));
    int64_t v = 0;
    if (o->type == msgpack::type::POSITIVE_INTEGER) {
      if (o->via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return bad("'" + std::string(key) + "' is out of range");
      }
      v = static_cast<int64_t>(o->via.u64);
    } else {
      v = o->via.i64;
    }
    if (v < lo || v > hi) return bad("'" + std::string(key) + "' = " + std::to_string(v) + " is out of range");
    *out = v;
    return Status::Ok();
  }
  // Integers are accepted too: another encoder may write 2.0 as 2.
  Status real(const char* key, double* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::FLOAT64));
    if (o->type == msgpack::type::POSITIVE_INTEGER) *out = static_cast<double>(o->via.u64);
    else if (o->type == msgpack::type::NEGATIVE_INTEGER) *out = static_cast<double>(o->via.i64);
    else *out = o->via.f64;
    return Status::Ok();
  }
  Status bin(const char* key, std::string* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::BIN));
    out->assign(o->via.bin.ptr, o->via.bin.size);
    return Status::Ok();
  }
  bool has(const char* key) const { return fields_.count(key) != 0; }
  // CONFIG's files: an array of [role, path, hash, size].
  Status run_files(const char* key, std::vector<RunFile>* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::ARRAY));
    if (o->via.array.size > kMaxRunFiles) return bad("'" + std::string(key) + "' has too many entries");
    out->clear();
    for (uint32_t i = 0; i < o->via.array.size; ++i) {
      const msgpack::object& e = o->via.array.ptr[i];
      const std::string where = "'" + std::string(key) + "' entry " + std::to_string(i);
      if (e.type != msgpack::type::ARRAY || e.via.array.size != 4) return bad(where + " is not [role, path, hash, size]");
      const msgpack::object* v = e.via.array.ptr;
      for (int k = 0; k < 3; ++k) {
        if (v[k].type != msgpack::type::STR) return bad(where + " holds a " + type_name(v[k].type));
      }
      if (v[3].type != msgpack::type::POSITIVE_INTEGER || v[3].via.u64 > (uint64_t{1} << 40)) {
        return bad(where + ": size is not an integer in range");
      }
      RunFile f;
      f.role.assign(v[0].via.str.ptr, v[0].via.str.size);
      f.path.assign(v[1].via.str.ptr, v[1].via.str.size);
      f.hash.assign(v[2].via.str.ptr, v[2].via.str.size);
      // The hash names the file in a worker's cache: nothing but a content hash may pass.
      if (!is_content_hash(f.hash)) {
        return bad(where + ": hash '" + f.hash.substr(0, 80) + "' is not " + std::to_string(kContentHashChars) +
                   " lowercase hex digits");
      }
      f.size = static_cast<int64_t>(v[3].via.u64);
      out->push_back(std::move(f));
    }
    return Status::Ok();
  }
  Status str_list(const char* key, size_t max, std::vector<std::string>* out) const {
    QT_ASSIGN_OR_RETURN(const msgpack::object* o, get(key, msgpack::type::ARRAY));
    if (o->via.array.size > max) return bad("'" + std::string(key) + "' has too many entries");
    out->clear();
    for (uint32_t i = 0; i < o->via.array.size; ++i) {
      const msgpack::object& e = o->via.array.ptr[i];
      if (e.type != msgpack::type::STR) return bad("'" + std::string(key) + "' holds a " + type_name(e.type));
      out->emplace_back(e.via.str.ptr, e.via.str.size);
    }
    return Status::Ok();
  }

 private:
  // `want` names the family: POSITIVE_INTEGER any integer, FLOAT64 any number.
  Result<const msgpack::object*> get(const char* key, msgpack::type::object_type want) const {
    auto it = fields_.find(key);
    if (it == fields_.end()) return bad("missing key '" + std::string(key) + "'");
    const msgpack::object* o = it->second;
    const bool is_int = o->type == msgpack::type::POSITIVE_INTEGER ||
                        o->type == msgpack::type::NEGATIVE_INTEGER;
    const bool is_float = o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64;
    bool fits = o->type == want;
    if (want == msgpack::type::POSITIVE_INTEGER) fits = is_int;
    if (want == msgpack::type::FLOAT64) fits = is_int || is_float;
    if (!fits) return bad("'" + std::string(key) + "' is a " + type_name(o->type));
    return o;
  }

  std::map<std::string, const msgpack::object*, std::less<>> fields_;
};

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

Result<Message> decode_ready(const Fields& f) {
  ReadyMsg m;
  QT_RETURN_IF_ERROR(f.str("worker_id", &m.worker_id));
  if (m.worker_id.size() > kMaxWorkerIdBytes) return bad("READY: 'worker_id' is longer than " + std::to_string(kMaxWorkerIdBytes) + " bytes");
  m.worker_id = printable(std::move(m.worker_id));
  QT_RETURN_IF_ERROR(f.integer("threads", 0, 1 << 20, &m.threads));
  QT_RETURN_IF_ERROR(f.str("isa", &m.isa));
  QT_RETURN_IF_ERROR(f.str_list("cached", kMaxCachedHashes, &m.cached));
  return Message(std::move(m));
}

Result<Message> decode_config(const Fields& f) {
  ConfigMsg m;
  QT_RETURN_IF_ERROR(f.str("config_hash", &m.config_hash));
  QT_RETURN_IF_ERROR(f.str("path", &m.path));
  QT_RETURN_IF_ERROR(f.integer("heartbeat_ms", kMinHeartbeatMs, kMaxHeartbeatMs, &m.heartbeat_ms));
  QT_RETURN_IF_ERROR(f.integer("liveness", 1, 1000, &m.liveness));
  QT_RETURN_IF_ERROR(f.run_files("files", &m.files));
  return Message(std::move(m));
}

Result<Message> decode_trial(const Fields& f) {
  TrialMsg m;
  QT_RETURN_IF_ERROR(f.integer("index", 0, kI64Max, &m.index));
  QT_RETURN_IF_ERROR(f.str("cfg_hash", &m.cfg_hash));
  QT_RETURN_IF_ERROR(f.str("tune_cfg", &m.tune_cfg));
  QT_RETURN_IF_ERROR(f.str("model_hash", &m.model_hash));
  QT_RETURN_IF_ERROR(f.str("data_hash", &m.data_hash));
  QT_RETURN_IF_ERROR(f.str("stats_hash", &m.stats_hash));
  if (f.has("baseline")) QT_RETURN_IF_ERROR(f.boolean("baseline", &m.baseline));
  return Message(std::move(m));
}

Result<Message> decode_result(const Fields& f) {
  ResultMsg m;
  int64_t code = 0;
  QT_RETURN_IF_ERROR(f.integer("index", 0, kI64Max, &m.index));
  QT_RETURN_IF_ERROR(f.str("cfg_hash", &m.cfg_hash));
  QT_RETURN_IF_ERROR(f.boolean("ok", &m.ok));
  QT_RETURN_IF_ERROR(f.real("metric", &m.metric));
  QT_RETURN_IF_ERROR(f.real("latency_ms", &m.latency_ms));
  // Added later: a worker without them reports no spread and no paired ratio.
  if (f.has("latency_error_ms")) {
    QT_RETURN_IF_ERROR(f.real("latency_error_ms", &m.latency_error_ms));
  }
  if (f.has("fp32_ratio")) QT_RETURN_IF_ERROR(f.real("fp32_ratio", &m.fp32_ratio));
  if (f.has("fp32_ratio_error")) {
    QT_RETURN_IF_ERROR(f.real("fp32_ratio_error", &m.fp32_ratio_error));
  }
  QT_RETURN_IF_ERROR(f.integer("model_bytes", 0, kI64Max, &m.model_bytes));
  QT_RETURN_IF_ERROR(f.real("seconds", &m.seconds));
  QT_RETURN_IF_ERROR(f.integer("code", 0, 2, &code));
  QT_RETURN_IF_ERROR(f.str("error", &m.error));
  m.error = printable(std::move(m.error));
  m.code = static_cast<ResultCode>(code);
  if (m.ok != (m.code == ResultCode::kOk)) return bad("RESULT: 'ok' disagrees with 'code'");
  return Message(std::move(m));
}

Result<Message> decode_heartbeat(const Fields& f) {
  HeartbeatMsg m;
  QT_RETURN_IF_ERROR(f.integer("busy_index", -1, kI64Max, &m.busy_index));
  return Message(m);
}

Result<Message> decode_disconnect(const Fields& f) {
  DisconnectMsg m;
  QT_RETURN_IF_ERROR(f.str("reason", &m.reason));
  m.reason = printable(std::move(m.reason));
  QT_RETURN_IF_ERROR(f.boolean("rejoin", &m.rejoin));
  return Message(std::move(m));
}

Result<Message> decode_fetch(const Fields& f) {
  FetchMsg m;
  QT_RETURN_IF_ERROR(f.str("hash", &m.hash));
  QT_RETURN_IF_ERROR(f.integer("offset", 0, int64_t{1} << 40, &m.offset));
  QT_RETURN_IF_ERROR(f.integer("length", 1, kChunkBytes, &m.length));
  return Message(std::move(m));
}

Result<Message> decode_chunk(const Fields& f) {
  ChunkMsg m;
  QT_RETURN_IF_ERROR(f.str("hash", &m.hash));
  QT_RETURN_IF_ERROR(f.integer("offset", 0, int64_t{1} << 40, &m.offset));
  QT_RETURN_IF_ERROR(f.integer("total", 0, int64_t{1} << 40, &m.total));
  QT_RETURN_IF_ERROR(f.bin("data", &m.data));
  QT_RETURN_IF_ERROR(f.str("error", &m.error));
  if (static_cast<int64_t>(m.data.size()) > kChunkBytes) return bad("CHUNK: more than kChunkBytes of data");
  if (m.offset + static_cast<int64_t>(m.data.size()) > m.total) return bad("CHUNK: data runs past 'total'");
  return Message(std::move(m));
}

}  // namespace

const char* message_name(const Message& m) {
  static const char* const kNames[] = {"READY",     "CONFIG",     "TRIAL", "RESULT",
                                       "HEARTBEAT", "DISCONNECT", "FETCH", "CHUNK"};
  return kNames[m.index()];
}

std::string encode_message(const Message& m) {
  msgpack::sbuffer buf;
  Packer p(buf);
  std::visit(Encoder{p}, m);
  return std::string(buf.data(), buf.size());
}

Result<Message> decode_message(const void* data, size_t size) {
  if (size > kMaxMessageBytes) {
    return bad(std::to_string(size) + " bytes, more than the limit of " + std::to_string(kMaxMessageBytes));
  }
  if (size == 0) return bad("empty frame");
  try {
    // Limits bound what a hostile header can make the unpacker allocate.
    const msgpack::unpack_limit limit(kMaxCachedHashes, 64, kMaxMessageBytes, kMaxMessageBytes,
                                      kMaxMessageBytes, 3);
    size_t offset = 0;
    msgpack::object_handle h =
        msgpack::unpack(static_cast<const char*>(data), size, offset, nullptr, nullptr, limit);
    if (offset != size) return bad(std::to_string(size - offset) + " trailing bytes after the message");
    Fields f;
    QT_RETURN_IF_ERROR(f.init(h.get()));
    int64_t version = 0;
    QT_RETURN_IF_ERROR(f.integer("v", 0, kI64Max, &version));
    if (version != kProtocolVersion) {
      return bad("protocol version " + std::to_string(version) + ", this build speaks " +
                 std::to_string(kProtocolVersion));
    }
    std::string type;
    QT_RETURN_IF_ERROR(f.str("type", &type));
    if (type == "READY") return decode_ready(f);
    if (type == "CONFIG") return decode_config(f);
    if (type == "TRIAL") return decode_trial(f);
    if (type == "RESULT") return decode_result(f);
    if (type == "HEARTBEAT") return decode_heartbeat(f);
    if (type == "DISCONNECT") return decode_disconnect(f);
    if (type == "FETCH") return decode_fetch(f);
    if (type == "CHUNK") return decode_chunk(f);
    return bad("unknown type '" + type.substr(0, 64) + "'");
  } catch (const std::exception& e) {
    return bad(std::string("not valid MessagePack (") + e.what() + ")");
  }
}

Result<std::string> file_hash(const std::string& path) { return file_content_hash(path); }

Result<RunHashes> run_hashes(const TuningConfig& cfg) {
  RunHashes h;
  QT_ASSIGN_OR_RETURN(h.config, file_hash(cfg.source_path));
  QT_ASSIGN_OR_RETURN(h.model, file_hash(cfg.model));
  QT_ASSIGN_OR_RETURN(std::string calib, file_hash(cfg.calibration_data));
  QT_ASSIGN_OR_RETURN(std::string eval, file_hash(cfg.evaluation_data));
  h.data = content_hash(calib + eval);
  h.stats = content_hash(h.model + calib + cfg.adaptor + cfg.approach + ":" +
                         std::to_string(cfg.calibration_sampling_size));
  return h;
}

}  // namespace qtune

#include "coordinator/journal.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "common/quant_config.h"
#include "common/tune_config_yaml.h"

namespace qtune {
namespace {

// File: "QTJRNL\0\0" u32 format version, then records:
//   u32 payload length | u32 kind | payload | u64 FNV-1a of (kind, payload)
// Payload fields are little-endian: str = u32 length + bytes, f64/i64/u64 as 8 raw bytes.
constexpr char kMagic[8] = {'Q', 'T', 'J', 'R', 'N', 'L', '\0', '\0'};
constexpr uint32_t kFormatVersion = 2;  // 2: latencies carry their error and fp32 ratio
constexpr uint32_t kMaxRecord = 64u << 20;
enum Kind : uint32_t {
  kHeader = 1, kBaseline = 2, kSensitivity = 3, kTrial = 4, kOpErrors = 5, kRun = 6, kEnd = 7
};

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

class Writer {
 public:
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  void f64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    u64(u);
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out += s;
  }
  std::string out;

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool u32(uint32_t* v) { return le(v, 4); }
  bool u64(uint64_t* v) { return le(v, 8); }
  bool i64(int64_t* v) {
    uint64_t u;
    if (!le(&u, 8)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool f64(double* v) {
    uint64_t u;
    if (!le(&u, 8)) return false;
    std::memcpy(v, &u, 8);
    return true;
  }
  bool str(std::string* v) {
    uint32_t n;
    if (!u32(&n) || n > s_.size() - pos_) return false;
    *v = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  template <typename T>
  bool le(T* v, int n) {
    if (s_.size() - pos_ < static_cast<size_t>(n)) return false;
    uint64_t r = 0;
    for (int i = 0; i < n; ++i) r |= static_cast<uint64_t>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    pos_ += static_cast<size_t>(n);
    *v = static_cast<T>(r);
    return true;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

std::string encode_header(const JournalHeader& h) {
  Writer w;
  for (const std::string* s : {&h.qtune_version, &h.model_hash, &h.config_hash,
                               &h.capability_hash, &h.goal_hash, &h.strategy}) {
    w.str(*s);
  }
  w.u64(h.seed);
  return w.out;
}

bool decode_header(const std::string& p, JournalHeader* h) {
  Reader r(p);
  for (std::string* s : {&h->qtune_version, &h->model_hash, &h->config_hash, &h->capability_hash,
                         &h->goal_hash, &h->strategy}) {
    if (!r.str(s)) return false;
  }
  return r.u64(&h->seed) && r.done();
}

std::string encode_metrics(const TrialMetrics& m) {
  Writer w;
  w.f64(m.metric);
  w.f64(m.latency_ms);
  w.f64(m.latency_error_ms);
  w.f64(m.fp32_ratio);
  w.f64(m.fp32_ratio_error);
  w.i64(m.model_bytes);
  return w.out;
}

bool decode_metrics(const std::string& p, TrialMetrics* m) {
  Reader r(p);
  return r.f64(&m->metric) && r.f64(&m->latency_ms) && r.f64(&m->latency_error_ms) &&
         r.f64(&m->fp32_ratio) && r.f64(&m->fp32_ratio_error) && r.i64(&m->model_bytes) &&
         r.done();
}

std::string encode_trial(const TrialRecord& t) {
  Writer w;
  w.i64(t.index);
  w.str(t.stage);
  w.str(t.hash);
  w.str(tune_config_to_yaml(t.cfg));
  w.u32(t.ok ? 1 : 0);
  w.str(t.error);
  w.f64(t.metric);
  w.f64(t.latency_ms);
  w.f64(t.latency_error_ms);
  w.f64(t.fp32_ratio);
  w.f64(t.fp32_ratio_error);
  w.i64(t.model_bytes);
  w.f64(t.seconds);
  return w.out;
}

Status decode_trial(const std::string& p, const std::string& where, TrialRecord* t) {
  Reader r(p);
  std::string yaml;
  uint32_t ok = 0;
  if (!(r.i64(&t->index) && r.str(&t->stage) && r.str(&t->hash) && r.str(&yaml) && r.u32(&ok) &&
        r.str(&t->error) && r.f64(&t->metric) && r.f64(&t->latency_ms) &&
        r.f64(&t->latency_error_ms) && r.f64(&t->fp32_ratio) && r.f64(&t->fp32_ratio_error) &&
        r.i64(&t->model_bytes) &&
        r.f64(&t->seconds) && r.done()) ||
      ok > 1) {
    return Status::InvalidInput(where + ": trial record does not decode");
  }
  t->ok = ok == 1;
  Result<TuneConfig> cfg = parse_tune_config(yaml, where);
  if (!cfg.ok()) return cfg.status();
  t->cfg = std::move(cfg).value();
  if (t->cfg.hash() != t->hash) {
    return Status::InvalidInput(where + ": trial record's config does not match its hash " + t->hash);
  }
  return Status::Ok();
}

std::string encode_op_errors(const std::map<std::string, OpOutputError>& errors) {
  Writer w;
  w.u32(static_cast<uint32_t>(errors.size()));
  for (const auto& [op, e] : errors) {
    w.str(op);
    for (double v : {e.sqnr_db, e.cosine, e.max_abs_error, e.relative_error, e.input_relative_error}) {
      w.f64(v);
    }
  }
  return w.out;
}

bool decode_op_errors(const std::string& p, std::map<std::string, OpOutputError>* out) {
  Reader r(p);
  uint32_t n = 0;
  if (!r.u32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string op;
    OpOutputError e;
    if (!(r.str(&op) && r.f64(&e.sqnr_db) && r.f64(&e.cosine) && r.f64(&e.max_abs_error) &&
          r.f64(&e.relative_error) && r.f64(&e.input_relative_error))) {
      return false;
    }
    (*out)[op] = e;
  }
  return r.done();
}

std::string encode_run(const RunDescription& d) {
  Writer w;
  for (const std::string* s : {&d.model, &d.adaptor, &d.strategy, &d.objective, &d.metric}) w.str(*s);
  w.u32(d.criterion.relative ? 1 : 0);
  w.f64(d.criterion.tolerable_loss);
  w.u32(d.criterion.higher_is_better ? 1 : 0);
  w.f64(d.exit_policy.timeout_seconds);
  w.i64(d.exit_policy.max_trials);
  w.u32(static_cast<uint32_t>(d.ops.size()));
  for (const auto& op : d.ops) {
    w.str(op.name);
    w.str(op.op_type);
    w.i64(op.options);
  }
  w.i64(d.calibration_samples);
  w.f64(d.calibration_seconds);
  w.u32(static_cast<uint32_t>(d.calibration_warnings.size()));
  for (const auto& s : d.calibration_warnings) w.str(s);
  return w.out;
}

bool decode_run(const std::string& p, RunDescription* d) {
  Reader r(p);
  for (std::string* s : {&d->model, &d->adaptor, &d->strategy, &d->objective, &d->metric}) {
    if (!r.str(s)) return false;
  }
  uint32_t relative = 0, higher = 0, ops = 0, warnings = 0;
  if (!(r.u32(&relative) && r.f64(&d->criterion.tolerable_loss) && r.u32(&higher) &&
        r.f64(&d->exit_policy.timeout_seconds) && r.i64(&d->exit_policy.max_trials) && r.u32(&ops)) ||
      relative > 1 || higher > 1) {
    return false;
  }
  d->criterion.relative = relative == 1;
  d->criterion.higher_is_better = higher == 1;
  for (uint32_t i = 0; i < ops; ++i) {
    RunDescription::Op op;
    if (!(r.str(&op.name) && r.str(&op.op_type) && r.i64(&op.options))) return false;
    d->ops.push_back(std::move(op));
  }
  if (!(r.i64(&d->calibration_samples) && r.f64(&d->calibration_seconds) && r.u32(&warnings))) {
    return false;
  }
  for (uint32_t i = 0; i < warnings; ++i) {
    std::string s;
    if (!r.str(&s)) return false;
    d->calibration_warnings.push_back(std::move(s));
  }
  return r.done();
}

std::string encode_end(const RunEnd& e) {
  Writer w;
  w.str(e.stop_reason);
  w.i64(e.evaluated);
  w.f64(e.wall_seconds);
  w.str(e.model_out);
  w.str(e.sensitivity_measure);
  w.u32(static_cast<uint32_t>(e.strategy_notes.size()));
  for (const std::string& n : e.strategy_notes) w.str(n);
  return w.out;
}

bool decode_end(const std::string& p, RunEnd* e) {
  Reader r(p);
  if (!(r.str(&e->stop_reason) && r.i64(&e->evaluated) && r.f64(&e->wall_seconds) &&
        r.str(&e->model_out))) {
    return false;
  }
  if (r.done()) return true;  // written before end records carried the strategy's report
  uint32_t notes = 0;
  if (!(r.str(&e->sensitivity_measure) && r.u32(&notes))) return false;
  for (uint32_t i = 0; i < notes; ++i) {
    std::string n;
    if (!r.str(&n)) return false;
    e->strategy_notes.push_back(std::move(n));
  }
  return r.done();
}

// One record's bytes: length, kind, payload, checksum.
std::string record(uint32_t kind, const std::string& payload) {
  Writer w;
  w.u32(static_cast<uint32_t>(payload.size()));
  w.u32(kind);
  w.out += payload;
  w.u64(fnv1a(payload.data(), payload.size(), fnv1a(&kind, 4)));
  return w.out;
}

}  // namespace

Result<JournalContents> read_journal(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidInput(path + ": cannot open journal");
  const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.size() < 12 || std::memcmp(data.data(), kMagic, 8) != 0) {
    return Status::InvalidInput(path + ": not a qtune journal (bad magic)");
  }
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version |= static_cast<uint32_t>(static_cast<uint8_t>(data[8 + i])) << (8 * i);
  if (version != kFormatVersion) {
    return Status::InvalidInput(path + ": journal format " + std::to_string(version) +
                                ", this qtune reads format " + std::to_string(kFormatVersion));
  }
  JournalContents c;
  size_t pos = 12;
  bool have_header = false;
  while (pos < data.size()) {
    const std::string where = path + ": byte " + std::to_string(pos);
    const size_t left = data.size() - pos;
    auto u32_at = [&](size_t at) {
      uint32_t v = 0;
      for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(data[at + i])) << (8 * i);
      return v;
    };
    if (left < 16) break;  // not even a record's framing: torn
    const uint32_t len = u32_at(pos);
    const uint32_t kind = u32_at(pos + 4);
    if (len > kMaxRecord) {
      return Status::InvalidInput(where + ": record length " + std::to_string(len) + " is implausible");
    }
    if (left < 16ull + len) break;  // runs past the end: torn
    uint64_t sum = 0;
    for (int i = 0; i < 8; ++i) sum |= static_cast<uint64_t>(static_cast<uint8_t>(data[pos + 8 + len + i])) << (8 * i);
    const uint64_t want = fnv1a(data.data() + pos + 8, len, fnv1a(data.data() + pos + 4, 4));
    if (sum != want) {
      if (pos + 16 + len == data.size()) break;  // the last record, damaged mid-write: torn
      return Status::InvalidInput(where + ": checksum mismatch inside the journal (not at its end)");
    }
    const std::string payload = data.substr(pos + 8, len);
    if (!have_header && kind != kHeader) {
      return Status::InvalidInput(where + ": the first record is not the header");
    }
    switch (kind) {
      case kHeader:
        if (have_header || !decode_header(payload, &c.header)) {
          return Status::InvalidInput(where + ": bad or repeated header record");
        }
        have_header = true;
        break;
      case kBaseline: {
        TrialMetrics m;
        if (!decode_metrics(payload, &m)) return Status::InvalidInput(where + ": bad baseline record");
        c.baseline = m;
        break;
      }
      case kSensitivity: {
        Reader r(payload);
        uint32_t n = 0;
        std::map<std::string, double> s;
        bool good = r.u32(&n);
        for (uint32_t i = 0; good && i < n; ++i) {
          std::string op;
          double v = 0;
          good = r.str(&op) && r.f64(&v);
          s[op] = v;
        }
        if (!good || !r.done()) return Status::InvalidInput(where + ": bad sensitivity record");
        c.sensitivity = std::move(s);
        break;
      }
      case kTrial: {
        TrialRecord t;
        QT_RETURN_IF_ERROR(decode_trial(payload, where, &t));
        t.reused = true;
        c.trials.push_back(std::move(t));
        c.end.reset();
        break;
      }
      case kOpErrors: {
        std::map<std::string, OpOutputError> e;
        if (!decode_op_errors(payload, &e)) return Status::InvalidInput(where + ": bad op error record");
        c.op_errors = std::move(e);
        break;
      }
      case kRun: {
        RunDescription d;
        if (!decode_run(payload, &d)) return Status::InvalidInput(where + ": bad run record");
        c.run = std::move(d);
        c.end.reset();
        break;
      }
      case kEnd: {
        RunEnd e;
        if (!decode_end(payload, &e)) return Status::InvalidInput(where + ": bad end record");
        c.end = std::move(e);
        break;
      }
      default:
        return Status::InvalidInput(where + ": unknown record kind " + std::to_string(kind));
    }
    pos += 16 + len;
  }
  if (!have_header) return Status::InvalidInput(path + ": the journal has no header record");
  c.valid_bytes = pos;
  c.torn_bytes = data.size() - pos;
  return c;
}

std::vector<std::string> journal_differences(const JournalHeader& j, const JournalHeader& r,
                                             bool allow_goal_change) {
  std::vector<std::string> out;
  auto cmp = [&](const std::string& what, const std::string& a, const std::string& b) {
    if (a != b) out.push_back(what + " (journal " + a + ", now " + b + ")");
  };
  cmp("the model", j.model_hash, r.model_hash);
  cmp("the tuning config", j.config_hash, r.config_hash);
  cmp("the capability", j.capability_hash, r.capability_hash);
  cmp("the strategy", j.strategy, r.strategy);
  cmp("the seed", std::to_string(j.seed), std::to_string(r.seed));
  cmp("the qtune version", j.qtune_version, r.qtune_version);
  if (!allow_goal_change) cmp("the accuracy goal, objective or exit policy", j.goal_hash, r.goal_hash);
  return out;
}

Result<JournalWriter> JournalWriter::create(const std::string& path, const JournalHeader& header) {
  QT_ASSIGN_OR_RETURN(AppendFile f, AppendFile::create(path));
  std::string head(kMagic, 8);
  for (int i = 0; i < 4; ++i) head.push_back(static_cast<char>((kFormatVersion >> (8 * i)) & 0xff));
  // Magic and header in one append: a journal either has both or is empty.
  QT_RETURN_IF_ERROR(f.append(head + record(kHeader, encode_header(header))));
  return JournalWriter(std::move(f));
}

Result<JournalWriter> JournalWriter::resume(const std::string& path, const JournalContents& c) {
  QT_ASSIGN_OR_RETURN(AppendFile f, AppendFile::open_existing(path, c.valid_bytes));
  return JournalWriter(std::move(f));
}

Status JournalWriter::append(uint32_t kind, const std::string& payload) {
  return file_.append(record(kind, payload));
}

Status JournalWriter::append_baseline(const TrialMetrics& m) { return append(kBaseline, encode_metrics(m)); }

Status JournalWriter::append_sensitivity(const std::map<std::string, double>& s) {
  Writer w;
  w.u32(static_cast<uint32_t>(s.size()));
  for (const auto& [op, v] : s) {
    w.str(op);
    w.f64(v);
  }
  return append(kSensitivity, w.out);
}

Status JournalWriter::append_trial(const TrialRecord& t) { return append(kTrial, encode_trial(t)); }

Status JournalWriter::append_op_errors(const std::map<std::string, OpOutputError>& e) {
  return append(kOpErrors, encode_op_errors(e));
}

Status JournalWriter::append_run(const RunDescription& r) { return append(kRun, encode_run(r)); }

Status JournalWriter::append_end(const RunEnd& e) { return append(kEnd, encode_end(e)); }

}  // namespace qtune

#include "common/protocol.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <random>

namespace qtune {
namespace {

// File hashes are SHA-256 in hex.
const std::string kModelHash = std::string(48, '0') + "00000000deadbeef";

std::vector<Message> samples() {
  ReadyMsg ready{"host:1", kProtocolVersion, 8, "avx512f avx512vnni", {"abc", "def"}};
  ConfigMsg config{"0123456789abcdef", "/tmp/x.yaml", 250, 4};
  TrialMsg trial{7, "feedbeef", "calib_sampling_size: 1000\nops: {}\n", "m", "d", "s"};
  ResultMsg result{7, "feedbeef", true, 90.5, 2.25, 12345, 0.75, ResultCode::kOk, "", 0.125, 0.5, 0.01};
  ResultMsg failed{8, "cafe", false, 0, 0, 0, 1.5, ResultCode::kTrialFailed, "node x: no value"};
  ConfigMsg with_files{"0123456789abcdef", "/tmp/x.yaml", 250, 4,
                       {{"model", "/m/lenet.onnx", kModelHash, 4096}, {"stats", "", std::string(64, 'f'), 12}}};
  TrialMsg baseline{0, "baseline", "", "m", "d", "s", true};
  FetchMsg fetch{"00000000deadbeef", 1 << 20, 4096};
  ChunkMsg chunk{"00000000deadbeef", 2, 8, std::string("\0\1\2\xff", 4), ""};
  ChunkMsg refused{"0000000000000000", 0, 0, "", "not served here"};
  return {ready, config, trial, result, failed, HeartbeatMsg{3}, HeartbeatMsg{-1},
          DisconnectMsg{"done", false}, DisconnectMsg{"unknown worker", true},
          with_files, baseline, fetch, chunk, refused};
}

Result<Message> decode(const std::string& s) { return decode_message(s.data(), s.size()); }

// A map message written field by field, for malformed variants.
std::string pack_map(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& body, uint32_t n) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p(buf);
  p.pack_map(n);
  body(p);
  return std::string(buf.data(), buf.size());
}

TEST(Protocol, EveryMessageRoundTrips) {
  for (const Message& m : samples()) {
    const std::string bytes = encode_message(m);
    Result<Message> back = decode(bytes);
    ASSERT_TRUE(back.ok()) << message_name(m) << ": " << back.status().message();
    EXPECT_EQ(back->index(), m.index());
    EXPECT_EQ(encode_message(*back), bytes) << message_name(m);
  }
  Result<Message> r = decode(encode_message(samples()[3]));
  const auto& res = std::get<ResultMsg>(*r);
  EXPECT_EQ(res.index, 7);
  EXPECT_DOUBLE_EQ(res.metric, 90.5);
  EXPECT_DOUBLE_EQ(res.latency_ms, 2.25);
  EXPECT_DOUBLE_EQ(res.latency_error_ms, 0.125);
  EXPECT_DOUBLE_EQ(res.fp32_ratio, 0.5);
  EXPECT_DOUBLE_EQ(res.fp32_ratio_error, 0.01);
  EXPECT_EQ(res.model_bytes, 12345);
  const ReadyMsg ready = std::get<ReadyMsg>(decode(encode_message(samples()[0])).value());
  EXPECT_EQ(ready.cached, (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(ready.threads, 8);
  const ConfigMsg cfg = std::get<ConfigMsg>(decode(encode_message(samples()[9])).value());
  ASSERT_EQ(cfg.files.size(), 2u);
  EXPECT_EQ(cfg.files[0], (RunFile{"model", "/m/lenet.onnx", kModelHash, 4096}));
  EXPECT_TRUE(std::get<TrialMsg>(decode(encode_message(samples()[10])).value()).baseline);
  const ChunkMsg chunk = std::get<ChunkMsg>(decode(encode_message(samples()[12])).value());
  EXPECT_EQ(chunk.data, std::string("\0\1\2\xff", 4));
}

TEST(Protocol, BadTransferFieldsAreRefused) {
  // A FETCH beyond the chunk cap, a CHUNK whose data runs past its file, a files entry of the
  // wrong shape.
  EXPECT_FALSE(decode(encode_message(FetchMsg{"h", 0, kChunkBytes + 1})).ok());
  EXPECT_FALSE(decode(encode_message(FetchMsg{"h", 0, 0})).ok());
  EXPECT_FALSE(decode(encode_message(ChunkMsg{"h", 6, 8, "abcd", ""})).ok());
  const std::string bytes = pack_map([](auto& p) {
    p.pack("v"); p.pack(kProtocolVersion);
    p.pack("type"); p.pack("CONFIG");
    p.pack("config_hash"); p.pack("x");
    p.pack("path"); p.pack("/x");
    p.pack("heartbeat_ms"); p.pack(100);
    p.pack("liveness"); p.pack(3);
    p.pack("files"); p.pack_array(1); p.pack_array(3); p.pack("a"); p.pack("b"); p.pack("c");
  }, 7);
  Result<Message> r = decode(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("files"), std::string::npos) << r.status().message();
}

// Free text from a peer cannot forge log lines; a worker id has a length limit.
TEST(Protocol, PeerTextLosesControlCharacters) {
  const ReadyMsg forged{"w1\nworker: coordinator ended the run\x1b[2K", kProtocolVersion, 1, "", {}};
  Result<Message> r = decode(encode_message(forged));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(std::get<ReadyMsg>(*r).worker_id, "w1?worker: coordinator ended the run?[2K");
  const ResultMsg failed{1, "h", false, 0, 0, 0, 0, ResultCode::kTrialFailed, "line one\r\nline two"};
  EXPECT_EQ(std::get<ResultMsg>(decode(encode_message(failed)).value()).error, "line one??line two");
  EXPECT_EQ(std::get<DisconnectMsg>(decode(encode_message(DisconnectMsg{"bye\n", false})).value()).reason, "bye?");
  const ReadyMsg long_id{std::string(kMaxWorkerIdBytes + 1, 'w'), kProtocolVersion, 1, "", {}};
  Result<Message> too_long = decode(encode_message(long_id));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("'worker_id' is longer than 256 bytes"), std::string::npos);
}

TEST(Protocol, HeartbeatOutsideTheSaneRangeIsRefused) {
  for (int64_t ms : {kMinHeartbeatMs - 1, kMaxHeartbeatMs + 1}) {
    ConfigMsg c{"h", "/x.yaml", ms, 3};
    EXPECT_FALSE(decode(encode_message(c)).ok()) << ms;
  }
  EXPECT_TRUE(decode(encode_message(ConfigMsg{"h", "/x.yaml", kMaxHeartbeatMs, 3})).ok());
}

TEST(Protocol, WrongVersionIsRefused) {
  const std::string bytes = pack_map([](auto& p) {
    p.pack("v"); p.pack(kProtocolVersion + 1);
    p.pack("type"); p.pack("HEARTBEAT");
    p.pack("busy_index"); p.pack(-1);
  }, 3);
  Result<Message> r = decode(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("version"), std::string::npos) << r.status().message();
}

TEST(Protocol, MalformedStructureIsRefused) {
  const auto heartbeat = [](auto&& extra, uint32_t n) {
    return pack_map([&](auto& p) {
      p.pack("v"); p.pack(kProtocolVersion);
      p.pack("type"); p.pack("HEARTBEAT");
      extra(p);
    }, n + 2);
  };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"not a map", encode_message(samples()[0]).substr(1)},
      {"an array", [] { msgpack::sbuffer b; msgpack::pack(b, std::vector<int>{1, 2}); return std::string(b.data(), b.size()); }()},
      {"missing field", heartbeat([](auto&) {}, 0)},
      {"string for int", heartbeat([](auto& p) { p.pack("busy_index"); p.pack("x"); }, 1)},
      {"float for int", heartbeat([](auto& p) { p.pack("busy_index"); p.pack(1.5); }, 1)},
      {"out of range", heartbeat([](auto& p) { p.pack("busy_index"); p.pack(-7); }, 1)},
      {"duplicate key", heartbeat([](auto& p) { p.pack("busy_index"); p.pack(1); p.pack("busy_index"); p.pack(2); }, 2)},
      {"int key", heartbeat([](auto& p) { p.pack(5); p.pack(1); }, 1)},
      {"unknown type", pack_map([](auto& p) { p.pack("v"); p.pack(kProtocolVersion); p.pack("type"); p.pack("NOPE"); }, 2)},
      {"no version", pack_map([](auto& p) { p.pack("type"); p.pack("HEARTBEAT"); p.pack("busy_index"); p.pack(1); }, 2)},
      {"trailing bytes", encode_message(HeartbeatMsg{1}) + "x"},
      {"huge declared array", std::string("\xdd\xff\xff\xff\xff", 5)},
      {"huge declared string", std::string("\xdb\xff\xff\xff\xf0", 5) + "abc"},
  };
  for (const auto& [name, bytes] : cases) {
    Result<Message> r = decode(bytes);
    EXPECT_FALSE(r.ok()) << name;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << name;
    }
  }
  // A RESULT whose ok flag contradicts its code.
  ResultMsg bad_result = std::get<ResultMsg>(samples()[3]);
  bad_result.code = ResultCode::kTrialFailed;
  EXPECT_FALSE(decode(encode_message(bad_result)).ok());
}

// A worker from before latency_error_ms reports a latency without its spread: read as 0.
TEST(Protocol, ResultWithoutSpreadReadsAsNoSpread) {
  const std::string bytes = pack_map([](auto& p) {
    p.pack("v"); p.pack(kProtocolVersion);
    p.pack("type"); p.pack("RESULT");
    p.pack("index"); p.pack(3);
    p.pack("cfg_hash"); p.pack("h");
    p.pack("ok"); p.pack(true);
    p.pack("metric"); p.pack(1.0);
    p.pack("latency_ms"); p.pack(4.5);
    p.pack("model_bytes"); p.pack(10);
    p.pack("seconds"); p.pack(0.5);
    p.pack("code"); p.pack(0);
    p.pack("error"); p.pack("");
  }, 11);
  Result<Message> r = decode(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(std::get<ResultMsg>(*r).latency_ms, 4.5);
  EXPECT_DOUBLE_EQ(std::get<ResultMsg>(*r).latency_error_ms, 0.0);
  EXPECT_DOUBLE_EQ(std::get<ResultMsg>(*r).fp32_ratio, 0.0);
}

TEST(Protocol, OversizeIsRefusedBeforeParsing) {
  std::string big(kMaxMessageBytes + 1, '\0');
  Result<Message> r = decode(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos);
}

TEST(Protocol, UnknownKeysAreIgnored) {
  const std::string bytes = pack_map([](auto& p) {
    p.pack("v"); p.pack(kProtocolVersion);
    p.pack("type"); p.pack("HEARTBEAT");
    p.pack("busy_index"); p.pack(4);
    p.pack("future_field"); p.pack(std::vector<int>{1, 2, 3});
  }, 4);
  Result<Message> r = decode(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(std::get<HeartbeatMsg>(*r).busy_index, 4);
}

// Random bytes, every truncation and random corruption of every message: decode answers,
// never crashes, and a refusal is always kInvalidInput.
TEST(Protocol, FuzzNeverCrashes) {
  std::mt19937_64 rng(42);
  auto check = [](const std::string& bytes) {
    Result<Message> r = decode(bytes);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    } else {
      decode(encode_message(*r));  // whatever decodes re-encodes
    }
  };
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    check(s);
  }
  for (const Message& m : samples()) {
    const std::string bytes = encode_message(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      Result<Message> r = decode(bytes.substr(0, n));
      EXPECT_FALSE(r.ok()) << message_name(m) << " truncated to " << n;
    }
    for (int i = 0; i < 3000; ++i) {
      std::string s = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng());
      check(s);
    }
  }
}

}  // namespace
}  // namespace qtune

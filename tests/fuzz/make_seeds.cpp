// Writes the committed seed corpora (tests/fuzz/corpus/NAME/) that need an encoder: protocol
// messages, journals, ONNX models, npy and IDX files. The YAML seeds are copies of bundled files.
//   fuzz_make_seeds CORPUS_DIR
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/protocol.h"
#include "coordinator/journal.h"

namespace fs = std::filesystem;
using namespace qtune;

namespace {

fs::path root;

void put(const std::string& name, const std::string& file, const std::string& bytes) {
  fs::create_directories(root / name);
  std::ofstream(root / name / file, std::ios::binary) << bytes;
}

void protocol_seeds() {
  put("protocol_message", "ready", encode_message(ReadyMsg{"host:1", kProtocolVersion, 4, "avx2", {"0123456789abcdef"}}));
  put("protocol_message", "config",
      encode_message(ConfigMsg{"0123456789abcdef", "/run/t.yaml", 1000, 3,
                               {{"model", "/m.onnx", "fedcba9876543210", 1234}, {"stats", "", "00ff00ff00ff00ff", 9}}}));
  put("protocol_message", "trial",
      encode_message(TrialMsg{7, "abcdef0123456789", "ops:\n  c: {precision: fp32}\n", "m", "d", "s", false}));
  ResultMsg r;
  r.index = 7;
  r.cfg_hash = "abcdef0123456789";
  r.ok = true;
  r.metric = 0.91;
  r.latency_ms = 1.5;
  r.model_bytes = 4096;
  r.seconds = 2.5;
  put("protocol_message", "result", encode_message(r));
  r.ok = false;
  r.code = ResultCode::kTrialFailed;
  r.error = "quantization failed";
  put("protocol_message", "result_failed", encode_message(r));
  put("protocol_message", "heartbeat", encode_message(HeartbeatMsg{3}));
  put("protocol_message", "disconnect", encode_message(DisconnectMsg{"done", true}));
  put("protocol_message", "fetch", encode_message(FetchMsg{"fedcba9876543210", 1048576, 4096}));
  put("protocol_message", "chunk", encode_message(ChunkMsg{"fedcba9876543210", 2, 10, "abcdefgh", ""}));
}

void journal_seeds() {
  JournalHeader h{"0.1.0", "m0", "c0", "k0", "g0", "basic", 42};
  const fs::path dir = root / "journal";
  fs::create_directories(dir);
  {
    Result<JournalWriter> w = JournalWriter::create((dir / "header_only").string(), h);
    if (!w.ok()) std::abort();
  }
  Result<JournalWriter> w = JournalWriter::create((dir / "full").string(), h);
  if (!w.ok()) std::abort();
  (void)w->append_baseline(TrialMetrics{0.9, 2.0, 1000});
  (void)w->append_sensitivity({{"/conv/Conv", 0.01}, {"/fc/Gemm", 0.5}});
  TrialRecord t;
  t.index = 1;
  t.stage = "basic";
  t.cfg.calib_sampling_size = 100;
  t.cfg.ops["/conv/Conv"] = OpQuantConfig::fp32();
  t.cfg.ops["/fc/Gemm"] = OpQuantConfig::bf16();
  t.hash = t.cfg.hash();
  t.ok = true;
  t.metric = 0.89;
  t.latency_ms = 1.0;
  t.model_bytes = 500;
  t.seconds = 3;
  (void)w->append_trial(t);
  t.index = 2;
  t.ok = false;
  t.error = "failed";
  (void)w->append_trial(t);
}

std::string tensor_proto_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("seed");
  auto value = [](onnx::ValueInfoProto* v, const char* name, int elem, std::initializer_list<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem);
    for (int64_t d : dims) {
      if (d < 0) t->mutable_shape()->add_dim()->set_dim_param("N");
      else t->mutable_shape()->add_dim()->set_dim_value(d);
    }
  };
  value(g->add_input(), "x", onnx::TensorProto::FLOAT, {-1, 1, 4, 4});
  value(g->add_output(), "y", onnx::TensorProto::FLOAT, {-1, 2, 4, 4});
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {2, 1, 3, 3}) w->add_dims(d);
  for (int i = 0; i < 18; ++i) w->add_float_data(0.1f * i);
  onnx::TensorProto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(2);
  const float bias[2] = {0.5f, -0.5f};
  b->set_raw_data(std::string(reinterpret_cast<const char*>(bias), sizeof bias));
  onnx::TensorProto* shape = g->add_initializer();
  shape->set_name("shape");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(4);
  for (int64_t d : {-1, 2, 4, 4}) shape->add_int64_data(d);
  onnx::NodeProto* conv = g->add_node();
  conv->set_op_type("Conv");
  conv->set_name("conv");
  conv->add_input("x");
  conv->add_input("w");
  conv->add_input("b");
  conv->add_output("c");
  onnx::AttributeProto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  onnx::AttributeProto* ap = conv->add_attribute();
  ap->set_name("auto_pad");
  ap->set_type(onnx::AttributeProto::STRING);
  ap->set_s("NOTSET");
  onnx::NodeProto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("c");
  relu->add_output("r");
  onnx::NodeProto* reshape = g->add_node();
  reshape->set_op_type("Reshape");
  reshape->add_input("r");
  reshape->add_input("shape");
  reshape->add_output("y");
  value(g->add_value_info(), "c", onnx::TensorProto::FLOAT, {-1, 2, 4, 4});
  return m.SerializeAsString();
}

std::string if_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("branches");
  auto* in = g->add_input();
  in->set_name("cond");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::NodeProto* n = g->add_node();
  n->set_op_type("If");
  n->add_input("cond");
  n->add_output("y");
  for (const char* branch : {"then_branch", "else_branch"}) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* sub = a->mutable_g();
    sub->set_name(branch);
    onnx::NodeProto* k = sub->add_node();
    k->set_op_type("Constant");
    k->add_output("v");
    onnx::AttributeProto* val = k->add_attribute();
    val->set_name("value");
    val->set_type(onnx::AttributeProto::TENSOR);
    val->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    val->mutable_t()->add_float_data(branch[0] == 't' ? 1.f : 0.f);
    auto* so = sub->add_output();
    so->set_name("v");
    so->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  return m.SerializeAsString();
}

std::string npy(const std::string& descr, const std::string& shape, const std::string& data, bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + data;
}

std::string idx(uint8_t type, std::initializer_list<uint32_t> dims, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((d >> s) & 0xff));
  }
  return out + data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  root = argv[1];
  protocol_seeds();
  journal_seeds();
  put("onnx_model", "conv_relu_reshape.onnx", tensor_proto_model());
  put("onnx_model", "if_branches.onnx", if_model());
  const float f[6] = {0, 1, 2, 3, 4, 5};
  const std::string f6(reinterpret_cast<const char*>(f), sizeof f);
  put("npy", "f4_2x3.npy", npy("<f4", "(2, 3)", f6));
  put("npy", "f4_3x2_fortran.npy", npy("<f4", "(3, 2)", f6, true));
  put("npy", "u1_4.npy", npy("|u1", "(4,)", "\x01\x02\x03\x04"));
  put("npy", "i8_scalar.npy", npy("<i8", "()", std::string(8, '\x01')));
  put("idx", "u8_2x2x2.idx", idx(0x08, {2, 2, 2}, "abcdefgh"));
  put("idx", "i32_3.idx", idx(0x0C, {3}, std::string(12, '\x02')));
  put("idx", "f32_2.idx", idx(0x0D, {2}, std::string(8, '\x00')));
  return 0;
}

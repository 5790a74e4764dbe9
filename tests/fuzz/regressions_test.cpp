// Inputs the fuzz targets (tests/fuzz/*_fuzz.cpp) found crashing, each fed to its parser here in
// the normal suite. The files are in tests/fuzz/regressions/, named after what they found.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include <onnx/onnx_pb.h>

#include "common/onnx_io.h"

namespace qtune {
namespace {

std::string regression(const std::string& name) {
  return std::string(QTUNE_SOURCE_DIR) + "/tests/fuzz/regressions/" + name;
}

// An initializer of float_data whose dims ask for 2 billion elements (8 GB) was allocated before
// its data was counted: out of memory instead of an error.
TEST(FuzzRegression, OnnxInitializerDimsBeyondItsDataAreRefusedBeforeAllocating) {
  Result<Graph> g = load_onnx_model(regression("onnx_initializer_dims_beyond_its_data.onnx"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(g.status().message().find("needs"), std::string::npos) << g.status().message();
}

// Dims whose product overflows int64 (the shape [2^62, 4, 1, 1] once wrapped the byte count to 0).
TEST(FuzzRegression, OnnxInitializerDimsOverflowingInt64AreRefused) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {int64_t{1} << 62, int64_t{4}, int64_t{1}, int64_t{1}}) t->add_dims(d);
  t->set_raw_data(std::string());
  const std::string path = ::testing::TempDir() + "/qtune_dims_overflow.onnx";
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  Result<Graph> g = load_onnx_model(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(g.status().message().find("int64"), std::string::npos) << g.status().message();
}

}  // namespace
}  // namespace qtune

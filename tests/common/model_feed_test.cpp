#include "common/model_feed.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

Graph graph_with(std::vector<ValueInfo> inputs) {
  Graph g;
  g.name = "g";
  g.inputs = std::move(inputs);
  return g;
}

TEST(ModelFeedTest, BindsByNameInGraphOrderAndReshapesSamples) {
  Dataset d;
  d.samples = 2;
  d.inputs.push_back({"b", "b.npy", Tensor::from_i64({2, 1}, {5, 6}), false});
  d.inputs.push_back({"a", "a.npy", Tensor::from_f32({2, 1, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}), false});
  const Graph g = graph_with({{"a", DType::kF32, Shape{-1, 4}}, {"b", DType::kS64, Shape{-1, 1}}});
  auto f = ModelFeed::bind(g, d);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->fixed_batch(), 0);
  EXPECT_EQ(f->batch_size(7), 7);
  const std::vector<Tensor> x = f->batch(1, 1);
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0].shape(), (Shape{1, 4}));  // [1,2,2] samples as the model's [4]
  EXPECT_EQ(x[0].data<float>()[0], 4.0f);
  EXPECT_EQ(x[1].shape(), (Shape{1, 1}));
  EXPECT_EQ(x[1].data<int64_t>()[0], 6);
}

TEST(ModelFeedTest, FixedBatchRepeatsTheBatchSamplesAndOutputsAreCutBack) {
  Dataset d = Dataset::of(Tensor::from_f32({3, 2}, {1, 2, 3, 4, 5, 6}));
  d.inputs.push_back({"sr", "sr.npy", Tensor::from_i64({}, {16000}), true});
  const Graph g = graph_with({{"x", DType::kF32, Shape{4, 2}}, {"sr", DType::kS64, Shape{}}});
  auto f = ModelFeed::bind(g, d);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->fixed_batch(), 4);
  EXPECT_EQ(f->batch_size(100), 4);
  EXPECT_EQ(f->rows_for(3), 4);
  const std::vector<Tensor> x = f->batch(1, 2);  // samples 1, 2, then 1, 2 again
  EXPECT_EQ(x[0].shape(), (Shape{4, 2}));
  EXPECT_EQ(std::vector<float>(x[0].data<float>(), x[0].data<float>() + 8),
            (std::vector<float>{3, 4, 5, 6, 3, 4, 5, 6}));
  EXPECT_EQ(x[1].shape(), Shape{});  // shared: as stored, never padded

  std::vector<Tensor> outs = {Tensor::from_f32({4, 1}, {9, 8, 7, 6}),
                              Tensor::from_f32({2, 4}, std::vector<float>(8, 0.0f))};
  ModelFeed::drop_padding(&outs, 4, 2);
  EXPECT_EQ(outs[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(outs[0].data<float>()[1], 8.0f);
  EXPECT_EQ(outs[1].shape(), (Shape{2, 4}));  // not batch-major: untouched

  const Graph two = graph_with({{"x", DType::kF32, Shape{4, 2}}, {"sr", DType::kS64, Shape{2}}});
  Dataset d2 = d;
  d2.inputs[1].shared = false;
  d2.inputs[1].values = Tensor::from_i64({1}, {1});
  EXPECT_EQ(ModelFeed::bind(two, d2).status().message(),
            "the dataset: the model fixes the batch of input 'sr' to 2 and of another to 4");
}

// A recurrent state the model takes as [layers, batch, hidden]: the file holds one [layers,
// hidden] sample per row, the feed moves the samples to axis 1.
TEST(ModelFeedTest, BatchAxisMovesTheSamplesWhereTheModelStacksThem) {
  Dataset d = Dataset::of(Tensor::from_f32({3, 1}, {10, 20, 30}));
  DatasetInput state{"state", "state.npy", Tensor(DType::kF32, Shape{3, 2, 2}), false, 1};
  for (int64_t i = 0; i < 12; ++i) state.values.data<float>()[i] = static_cast<float>(i);
  d.inputs.push_back(state);
  const Graph g = graph_with({{"x", DType::kF32, Shape{-1, 1}}, {"state", DType::kF32, Shape{2, -1, 2}}});
  auto f = ModelFeed::bind(g, d);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const std::vector<Tensor> x = f->batch(1, 2);  // samples 1 and 2
  ASSERT_EQ(x[1].shape(), (Shape{2, 2, 2}));
  // [layer][sample][hidden]: layer 0 of samples 1, 2, then layer 1 of samples 1, 2.
  EXPECT_EQ(std::vector<float>(x[1].data<float>(), x[1].data<float>() + 8),
            (std::vector<float>{4, 5, 8, 9, 6, 7, 10, 11}));

  // A fixed batch on that axis pads like any other.
  const Graph fixed = graph_with({{"x", DType::kF32, Shape{-1, 1}}, {"state", DType::kF32, Shape{2, 4, 2}}});
  auto ff = ModelFeed::bind(fixed, d);
  ASSERT_TRUE(ff.ok()) << ff.status().message();
  EXPECT_EQ(ff->fixed_batch(), 4);
  EXPECT_EQ(ff->batch(0, 3)[1].shape(), (Shape{2, 4, 2}));

  // The axis must exist in the model's input.
  d.inputs[1].batch_axis = 3;
  EXPECT_EQ(ModelFeed::bind(g, d).status().message(),
            "the dataset: input 'state' (state.npy): batch_axis 3 is not an axis of the model's "
            "input 'state' ([2,?,2])");

  // Samples with fewer axes than the batch axis needs are refused, not fed misshapen.
  d.inputs[1].batch_axis = 2;
  d.inputs[1].values = Tensor(DType::kF32, Shape{3, 4});
  const Graph unknown = graph_with({{"x", DType::kF32, Shape{-1, 1}}, {"state", DType::kF32, Shape{2, -1, -1}}});
  EXPECT_EQ(ModelFeed::bind(unknown, d).status().message(),
            "the dataset: input 'state' (state.npy): batch_axis 2 does not fit its samples ([4] "
            "each) and the model's input 'state' ([2,?,?])");
}

TEST(ModelFeedTest, BoolInputsTakeNumpyBoolBytes) {
  Dataset d;
  d.samples = 2;
  d.inputs.push_back({"mask", "m.npy", Tensor(DType::kU8, {2, 3}), false});
  const Graph g = graph_with({{"mask", DType::kBool, Shape{-1, 3}}});
  auto f = ModelFeed::bind(g, d);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->batch(0, 2)[0].dtype(), DType::kBool);
}

}  // namespace
}  // namespace qtune

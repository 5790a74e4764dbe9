#include "op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

Tensor seq_of(std::vector<Tensor> items) {
  const DType d = items.empty() ? DType::kF32 : items.front().dtype();
  return Tensor::sequence(d, std::move(items));
}

TEST(SequenceOpsTest, EmptyConstructLengthAndAt) {
  auto empty = run_node(make_node("SequenceEmpty", 0, 1, {{"dtype", attr_int(7)}}), {}, 11);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE((*empty)[0].is_sequence());
  EXPECT_EQ((*empty)[0].elem_dtype(), DType::kS64);

  const Tensor a = Tensor::from_f32({2}, {1, 2}), b = Tensor::from_f32({1}, {3});
  auto seq = run_node(make_node("SequenceConstruct", 2), {&a, &b}, 11);
  ASSERT_TRUE(seq.ok()) << seq.status().message();
  ASSERT_EQ((*seq)[0].items().size(), 2u);

  auto len = run_node(make_node("SequenceLength", 1), {&(*seq)[0]}, 11);
  ASSERT_TRUE(len.ok()) << len.status().message();
  EXPECT_EQ((*len)[0].get_i64(0), 2);

  const Tensor pos = Tensor::from_i64({}, {-1});
  auto at = run_node(make_node("SequenceAt", 2), {&(*seq)[0], &pos}, 11);
  ASSERT_TRUE(at.ok()) << at.status().message();
  EXPECT_EQ(values<float>((*at)[0]), (std::vector<float>{3}));

  const Tensor far = Tensor::from_i64({}, {2});
  auto bad = run_node(make_node("SequenceAt", 2), {&(*seq)[0], &far}, 11);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
}

TEST(SequenceOpsTest, InsertAndErase) {
  const Tensor seq = seq_of({Tensor::from_f32({1}, {1}), Tensor::from_f32({1}, {2})});
  const Tensor t = Tensor::from_f32({1}, {9});
  const Tensor front = Tensor::from_i64({}, {0});
  auto ins = run_node(make_node("SequenceInsert", 3), {&seq, &t, &front}, 11);
  ASSERT_TRUE(ins.ok()) << ins.status().message();
  EXPECT_EQ(values<float>((*ins)[0].items()[0]), (std::vector<float>{9}));
  auto back = run_node(make_node("SequenceInsert", 2), {&seq, &t}, 11);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(values<float>((*back)[0].items()[2]), (std::vector<float>{9}));

  const Tensor i32 = Tensor::from_i64({}, {1});  // wrong element type for the sequence
  auto mixed = run_node(make_node("SequenceInsert", 2), {&seq, &i32}, 11, false);
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidInput);

  auto erased = run_node(make_node("SequenceErase", 1), {&seq}, 11);
  ASSERT_TRUE(erased.ok()) << erased.status().message();
  ASSERT_EQ((*erased)[0].items().size(), 1u);
  EXPECT_EQ(values<float>((*erased)[0].items()[0]), (std::vector<float>{1}));
}

TEST(SequenceOpsTest, SplitToSequenceAndConcatBack) {
  const Tensor x = iota_f32({3, 2});
  auto parts = run_node(make_node("SplitToSequence", 1), {&x}, 11);
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ((*parts)[0].items().size(), 3u);
  EXPECT_EQ((*parts)[0].items()[1].shape(), (Shape{1, 2}));

  auto squeezed = run_node(make_node("SplitToSequence", 1, 1, {{"keepdims", attr_int(0)},
                                                                {"axis", attr_int(1)}}),
                           {&x}, 11);
  ASSERT_TRUE(squeezed.ok()) << squeezed.status().message();
  EXPECT_EQ((*squeezed)[0].items()[1].shape(), (Shape{3}));
  EXPECT_EQ(values<float>((*squeezed)[0].items()[1]), (std::vector<float>{1, 3, 5}));

  const Tensor chunk = Tensor::from_i64({}, {2});
  auto chunks = run_node(make_node("SplitToSequence", 2), {&x, &chunk}, 11);
  ASSERT_TRUE(chunks.ok()) << chunks.status().message();
  ASSERT_EQ((*chunks)[0].items().size(), 2u);
  EXPECT_EQ((*chunks)[0].items()[1].shape(), (Shape{1, 2}));

  const Tensor sizes = Tensor::from_i64({2}, {1, 2});
  auto uneven = run_node(make_node("SplitToSequence", 2), {&x, &sizes}, 11);
  ASSERT_TRUE(uneven.ok()) << uneven.status().message();
  EXPECT_EQ((*uneven)[0].items()[1].shape(), (Shape{2, 2}));

  auto concat = run_node(make_node("ConcatFromSequence", 1, 1, {{"axis", attr_int(1)}}),
                         {&(*parts)[0]}, 11);
  ASSERT_TRUE(concat.ok()) << concat.status().message();
  EXPECT_EQ((*concat)[0].shape(), (Shape{1, 6}));
  EXPECT_EQ(values<float>((*concat)[0]), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  auto stacked = run_node(make_node("ConcatFromSequence", 1, 1,
                                    {{"axis", attr_int(-1)}, {"new_axis", attr_int(1)}}),
                          {&(*squeezed)[0]}, 11);
  ASSERT_TRUE(stacked.ok()) << stacked.status().message();
  EXPECT_EQ((*stacked)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>((*stacked)[0]), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(SequenceOpsTest, StringTensorsSplitAndConcat) {
  const Tensor x = Tensor::from_strings({2, 2}, {"a", "b", "c", "d"});
  auto parts = run_node(make_node("SplitToSequence", 1, 1, {{"axis", attr_int(1)}}), {&x}, 11);
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  const Tensor& second = (*parts)[0].items()[1];
  EXPECT_EQ(second.shape(), (Shape{2, 1}));
  EXPECT_EQ(second.data<std::string>()[1], "d");
  auto back = run_node(make_node("ConcatFromSequence", 1, 1, {{"axis", attr_int(0)}}),
                       {&(*parts)[0]}, 11);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ((*back)[0].shape(), (Shape{4, 1}));
  EXPECT_EQ((*back)[0].data<std::string>()[2], "b");
}

TEST(SequenceOpsTest, OptionalWrapsQueriesAndUnwraps) {
  const Tensor x = Tensor::from_f32({2}, {1, 2});
  auto opt = run_node(make_node("Optional", 1), {&x}, 15);
  ASSERT_TRUE(opt.ok()) << opt.status().message();
  ASSERT_TRUE((*opt)[0].is_optional());

  auto has = run_node(make_node("OptionalHasElement", 1), {&(*opt)[0]}, 15);
  ASSERT_TRUE(has.ok()) << has.status().message();
  EXPECT_EQ((*has)[0].get_i64(0), 1);

  auto got = run_node(make_node("OptionalGetElement", 1), {&(*opt)[0]}, 15);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(values<float>((*got)[0]), (std::vector<float>{1, 2}));

  Attribute type;
  type.kind = Attribute::Kind::kType;
  type.type = ValueInfo{"", DType::kF32, Shape{2}};
  auto none = run_node(make_node("Optional", 0, 1, {{"type", type}}), {}, 15);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE((*none)[0].items().empty());
  auto has_none = run_node(make_node("OptionalHasElement", 1), {&(*none)[0]}, 15);
  ASSERT_TRUE(has_none.ok());
  EXPECT_EQ((*has_none)[0].get_i64(0), 0);
  auto get_none = run_node(make_node("OptionalGetElement", 1), {&(*none)[0]}, 15, false);
  EXPECT_EQ(get_none.status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune

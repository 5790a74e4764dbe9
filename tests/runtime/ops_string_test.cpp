#include "op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

std::vector<std::string> strings(const Tensor& t) {
  return {t.data<std::string>(), t.data<std::string>() + t.numel()};
}

Attribute attr_strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

TEST(StringOpsTest, StringNormalizerDropsStopwordsAndChangesCase) {
  const Tensor x = Tensor::from_strings({1, 4}, {"Monday", "tuesday", "caf\xc3\xa9", "monday"});
  Node n = make_node("StringNormalizer", 1, 1,
                     {{"case_change_action", attr_string("UPPER")},
                      {"stopwords", attr_strings({"monday"})}});
  auto out = run_node(n, {&x}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(strings((*out)[0]), (std::vector<std::string>{"TUESDAY", "CAF\xc3\x89"}));

  n.attrs["is_case_sensitive"] = attr_int(1);
  n.attrs["case_change_action"] = attr_string("LOWER");
  out = run_node(n, {&x}, 10);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(strings((*out)[0]), (std::vector<std::string>{"monday", "tuesday", "caf\xc3\xa9"}));
}

TEST(StringOpsTest, StringNormalizerRemovingEverythingLeavesOneEmptyString) {
  const Tensor x = Tensor::from_strings({2}, {"a", "a"});
  auto out = run_node(make_node("StringNormalizer", 1, 1, {{"stopwords", attr_strings({"a"})}}),
                      {&x}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1}));
  EXPECT_EQ(strings((*out)[0]), (std::vector<std::string>{""}));

  const Tensor f = Tensor::from_f32({1}, {1});
  EXPECT_FALSE(run_node(make_node("StringNormalizer", 1), {&f}, 10, false).ok());
}

std::map<std::string, Attribute> bigram_attrs(const std::string& mode, int64_t skip) {
  return {{"mode", attr_string(mode)},
          {"min_gram_length", attr_int(1)},
          {"max_gram_length", attr_int(2)},
          {"max_skip_count", attr_int(skip)},
          {"ngram_counts", attr_ints({0, 2})},
          {"ngram_indexes", attr_ints({0, 1, 2, 3})},
          {"weights", attr_floats({1, 2, 3, 4})}};
}

TEST(StringOpsTest, TfIdfVectorizerCountsIntNgramsWithSkips) {
  // Pool: unigrams 1, 2; bigrams (1,2), (2,1).
  Node n = make_node("TfIdfVectorizer", 1, 1, bigram_attrs("TF", 0));
  n.attrs["pool_int64s"] = attr_ints({1, 2, 1, 2, 2, 1});
  const Tensor x = make_tensor<int32_t>(DType::kS32, {2, 3}, {1, 2, 1, 1, 3, 2});
  auto out = run_node(n, {&x}, 9);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 1, 1, 1, 1, 1, 0, 0}));

  n.attrs["max_skip_count"] = attr_int(1);  // row 2 gains (1, 2) across the 3
  out = run_node(n, {&x}, 9);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 1, 1, 1, 1, 1, 1, 0}));

  n.attrs["mode"] = attr_string("TFIDF");
  out = run_node(n, {&x}, 9);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 2, 3, 4, 1, 2, 3, 0}));

  n.attrs["mode"] = attr_string("IDF");
  out = run_node(n, {&x}, 9);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 0}));
}

TEST(StringOpsTest, TfIdfVectorizerTakesStrings) {
  Node n = make_node("TfIdfVectorizer", 1, 1, bigram_attrs("TF", 0));
  n.attrs["pool_strings"] = attr_strings({"a", "b", "a", "b", "b", "a"});
  const Tensor x = Tensor::from_strings({4}, {"a", "b", "a", "c"});
  auto out = run_node(n, {&x}, 9);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 1, 1, 1}));

  n.attrs["ngram_counts"] = attr_ints({0, 3});  // the bigram level is not whole bigrams
  EXPECT_EQ(run_node(n, {&x}, 9, false).status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune

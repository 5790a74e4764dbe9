// Text operators: StringNormalizer (stop-word removal and case folding of string tensors) and
// TfIdfVectorizer (n-gram counts with skips over int or string tokens, weighted TF/IDF/TFIDF).
// Case mapping covers ASCII and the Latin-1 letters of UTF-8 text; other characters are kept.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/kernel_registry.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

// ------------------------------------------------------------------ StringNormalizer

// Maps one code point to upper (or lower) case within ASCII and Latin-1.
char32_t change_case(char32_t c, bool upper) {
  const bool latin1_lower = c >= 0xE0 && c <= 0xFE && c != 0xF7;
  const bool latin1_upper = c >= 0xC0 && c <= 0xDE && c != 0xD7;
  if (upper && ((c >= 'a' && c <= 'z') || latin1_lower)) return c - 0x20;
  if (!upper && ((c >= 'A' && c <= 'Z') || latin1_upper)) return c + 0x20;
  return c;
}

// Changes the case of UTF-8 text; bytes that are not two-byte sequences pass through unchanged.
std::string change_case(const std::string& s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += static_cast<char>(change_case(b, upper));
    } else if ((b & 0xE0) == 0xC0 && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      const char32_t c = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      const char32_t m = change_case(c, upper);
      out += static_cast<char>(0xC0 | (m >> 6));
      out += static_cast<char>(0x80 | (m & 0x3F));
      ++i;
    } else {
      out += static_cast<char>(b);
    }
  }
  return out;
}

Status string_normalizer_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor* x = ctx.input(0);
  if (x->dtype() != DType::kString) return ctx.invalid("input must be a string tensor");
  const bool two_d = x->rank() == 2;
  if (!(x->rank() == 1 || (two_d && x->dim(0) == 1))) {
    return ctx.invalid("input must have shape [C] or [1, C], got " + shape_str(x->shape()));
  }
  const std::string action = ctx.node.attr_string("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER") {
    return ctx.invalid("case_change_action '" + action + "' is not NONE, LOWER or UPPER");
  }
  const bool case_sensitive = ctx.node.attr_int("is_case_sensitive", 0) != 0;
  std::set<std::string> stopwords;
  if (auto it = ctx.node.attrs.find("stopwords"); it != ctx.node.attrs.end()) {
    for (const auto& w : it->second.strings) {
      stopwords.insert(case_sensitive ? w : change_case(w, false));
    }
  }
  std::vector<std::string> kept;
  for (const std::string& s : x->span<std::string>()) {
    if (stopwords.count(case_sensitive ? s : change_case(s, false))) continue;
    if (action == "NONE") {
      kept.push_back(s);
    } else {
      kept.push_back(change_case(s, action == "UPPER"));
    }
  }
  if (kept.empty()) kept.emplace_back();  // all removed: one empty string, as ONNX specifies
  const int64_t n = static_cast<int64_t>(kept.size());
  ctx.outputs[0] = Tensor::from_strings(two_d ? Shape{1, n} : Shape{n}, kept);
  return Status::Ok();
}

// ------------------------------------------------------------------ TfIdfVectorizer

// The pool of n-grams, keyed by their tokens, mapped to the pool index of each n-gram.
template <typename Token>
struct NgramPool {
  std::map<std::vector<Token>, size_t> index;
};

template <typename Token>
Result<NgramPool<Token>> build_pool(const OpContext& ctx, const std::vector<Token>& pool,
                                    const std::vector<int64_t>& counts, size_t n_indexes) {
  NgramPool<Token> out;
  size_t ngram = 0;
  for (size_t level = 0; level < counts.size(); ++level) {
    const int64_t start = counts[level];
    const int64_t end = level + 1 < counts.size() ? counts[level + 1]
                                                  : static_cast<int64_t>(pool.size());
    const int64_t n = static_cast<int64_t>(level) + 1;
    if (start < 0 || end < start || end > static_cast<int64_t>(pool.size()) ||
        (end - start) % n != 0) {
      return ctx.invalid("ngram_counts do not split the pool into whole " + std::to_string(n) +
                         "-grams");
    }
    for (int64_t i = start; i < end; i += n) {
      out.index.emplace(std::vector<Token>(pool.begin() + i, pool.begin() + i + n), ngram++);
    }
  }
  if (ngram != n_indexes) {
    return ctx.invalid("the pool holds " + std::to_string(ngram) + " n-grams, ngram_indexes " +
                       std::to_string(n_indexes));
  }
  return out;
}

template <typename Token>
Status tfidf(OpContext& ctx, const std::vector<Token>& tokens, const std::vector<Token>& pool_tokens) {
  const Node& node = ctx.node;
  const Tensor* x = ctx.input(0);
  const std::string mode = node.attr_string("mode", "");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF") {
    return ctx.invalid("mode '" + mode + "' is not TF, IDF or TFIDF");
  }
  const int64_t min_n = node.attr_int("min_gram_length", 0);
  const int64_t max_n = node.attr_int("max_gram_length", 0);
  const int64_t max_skip = node.attr_int("max_skip_count", 0);
  const std::vector<int64_t> counts = node.attr_ints("ngram_counts");
  const std::vector<int64_t> indexes = node.attr_ints("ngram_indexes");
  const std::vector<float> weights = node.attr_floats("weights");
  if (min_n < 1 || max_n < min_n || max_skip < 0) {
    return ctx.invalid("needs 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0");
  }
  if (static_cast<int64_t>(counts.size()) < max_n) {
    return ctx.invalid("ngram_counts has no entry for " + std::to_string(max_n) + "-grams");
  }
  if (!weights.empty() && weights.size() != indexes.size()) {
    return ctx.invalid("weights and ngram_indexes differ in length");
  }
  QT_ASSIGN_OR_RETURN(NgramPool<Token> pool, build_pool(ctx, pool_tokens, counts, indexes.size()));
  int64_t width = 0;
  for (int64_t i : indexes) {
    if (i < 0) return ctx.invalid("ngram_indexes must not be negative");
    width = std::max(width, i + 1);
  }
  if (x->rank() != 1 && x->rank() != 2) return ctx.invalid("input must be 1-D or 2-D");
  const int64_t rows = x->rank() == 2 ? x->dim(0) : 1;
  const int64_t cols = x->dim(x->rank() - 1);
  Tensor y(DType::kF32, x->rank() == 2 ? Shape{rows, width} : Shape{width});
  float* out = y.data<float>();
  std::vector<Token> gram;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> found(indexes.size(), 0);
    const Token* row = tokens.data() + r * cols;
    for (int64_t start = 0; start < cols; ++start) {
      for (int64_t n = min_n; n <= max_n; ++n) {
        // A unigram is one token whatever the skip: count it once.
        const int64_t skips = n == 1 ? 0 : max_skip;
        for (int64_t skip = 0; skip <= skips; ++skip) {
          if (start + (n - 1) * (skip + 1) >= cols) break;
          gram.clear();
          for (int64_t k = 0; k < n; ++k) gram.push_back(row[start + k * (skip + 1)]);
          if (auto it = pool.index.find(gram); it != pool.index.end()) ++found[it->second];
        }
      }
    }
    float* dst = out + r * width;
    for (size_t g = 0; g < indexes.size(); ++g) {
      if (found[g] == 0) continue;
      const float w = weights.empty() ? 1.0f : weights[g];
      const float tf = static_cast<float>(found[g]);
      dst[indexes[g]] = mode == "TF" ? tf : mode == "IDF" ? w : tf * w;
    }
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status tfidf_vectorizer_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor* x = ctx.input(0);
  const Node& node = ctx.node;
  if (x->dtype() == DType::kString) {
    if (!node.has_attr("pool_strings")) return ctx.invalid("string input needs pool_strings");
    const std::vector<std::string> tokens(x->span<std::string>().begin(),
                                          x->span<std::string>().end());
    return tfidf<std::string>(ctx, tokens, node.attrs.at("pool_strings").strings);
  }
  if (x->dtype() != DType::kS32 && x->dtype() != DType::kS64) {
    return ctx.invalid("input must be string, int32 or int64");
  }
  if (!node.has_attr("pool_int64s")) return ctx.invalid("integer input needs pool_int64s");
  return tfidf<int64_t>(ctx, x->to_i64_vector(), node.attr_ints("pool_int64s"));
}

}  // namespace

void register_string_kernels(KernelRegistry& r) {
  r.add({"", "StringNormalizer", 10, kLatestOpset, {DType::kString}}, string_normalizer_op);
  r.add({"", "TfIdfVectorizer", 9, kLatestOpset, {DType::kString, DType::kS32, DType::kS64}},
        tfidf_vectorizer_op);
}

}  // namespace qtune

#include "runtime/conv_geometry.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace qtune {

Result<ConvGeometry> conv_geometry(const Node& n, const std::vector<int64_t>& in,
                                   const std::vector<int64_t>& kernel, bool ceil_mode) {
  const size_t r = in.size();
  auto bad = [&](const std::string& what) { return Status::InvalidInput(n.describe() + ": " + what); };
  if (kernel.size() != r) return bad("kernel has " + std::to_string(kernel.size()) +
                                     " spatial dims, input has " + std::to_string(r));
  ConvGeometry g;
  g.strides = n.attr_ints("strides", std::vector<int64_t>(r, 1));
  g.dilations = n.attr_ints("dilations", std::vector<int64_t>(r, 1));
  g.pads = n.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (g.strides.size() != r) return bad("strides has " + std::to_string(g.strides.size()) +
                                        " values, expected " + std::to_string(r));
  if (g.dilations.size() != r) return bad("dilations has " + std::to_string(g.dilations.size()) +
                                          " values, expected " + std::to_string(r));
  if (g.pads.size() != 2 * r) return bad("pads has " + std::to_string(g.pads.size()) +
                                         " values, expected " + std::to_string(2 * r));
  constexpr int64_t kMaxAttr = int64_t{1} << 31;  // keeps the size arithmetic below in range
  for (size_t i = 0; i < r; ++i) {
    if (g.strides[i] > kMaxAttr || g.dilations[i] > kMaxAttr || kernel[i] > kMaxAttr ||
        g.pads[i] > kMaxAttr || g.pads[i + r] > kMaxAttr || in[i] > (int64_t{1} << 40)) {
      return bad("kernel, stride, dilation, pad or input size out of range");
    }
    if (g.strides[i] < 1) return bad("strides must be >= 1");
    if (g.dilations[i] < 1) return bad("dilations must be >= 1");
    if (kernel[i] < 1) return bad("kernel size must be >= 1");
    if (g.pads[i] < 0 || g.pads[i + r] < 0) return bad("pads must be >= 0");
  }
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  g.out.assign(r, -1);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < r; ++i) {
      g.pads[i] = g.pads[i + r] = 0;
      if (in[i] < 0) continue;
      const int64_t out = (in[i] + g.strides[i] - 1) / g.strides[i];
      const int64_t eff_k = (kernel[i] - 1) * g.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + eff_k - in[i]);
      // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
      g.pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pads[i + r] = total - g.pads[i];
      g.out[i] = out;
    }
    return g;
  }
  if (auto_pad == "VALID") {
    std::fill(g.pads.begin(), g.pads.end(), 0);
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    return bad("unknown auto_pad '" + auto_pad + "'");
  }
  for (size_t i = 0; i < r; ++i) {
    if (in[i] < 0) continue;
    const int64_t eff_k = (kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t span = in[i] + g.pads[i] + g.pads[i + r] - eff_k;
    if (span < 0) {
      return bad("kernel extent " + std::to_string(eff_k) + " exceeds padded input size " +
                 std::to_string(in[i] + g.pads[i] + g.pads[i + r]) + " on spatial axis " +
                 std::to_string(i));
    }
    g.out[i] = (ceil_mode ? (span + g.strides[i] - 1) / g.strides[i] : span / g.strides[i]) + 1;
  }
  return g;
}

}  // namespace qtune

#include "common/svg_chart.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "common/html_page.h"

namespace qtune::svg {
namespace {

// Occurrences of `needle` in `s`.
size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

// The value of numeric attribute `attr` of every element whose class is `cls`, in document order.
std::vector<double> attr_of_class(const std::string& svg, const std::string& cls, const std::string& attr) {
  std::vector<double> out;
  const std::regex element("<[a-z]+ class=\"" + cls + "\"[^>]*>");
  const std::regex value(" " + attr + "=\"([-0-9.]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), element); it != std::sregex_iterator(); ++it) {
    std::smatch m;
    const std::string tag = it->str();
    if (std::regex_search(tag, m, value)) out.push_back(std::stod(m[1]));
  }
  return out;
}

TEST(SvgEscape, EscapesMarkupAndDropsControlCharacters) {
  EXPECT_EQ(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(escape(std::string("x\x01y\tz\n", 6)), "xy\tz\n");
  EXPECT_EQ(escape("/layer1/conv\u00e9"), "/layer1/conv\u00e9");  // UTF-8 passes through
}

TEST(SvgTicks, NiceStepsCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(nice_ticks(87.3, 91.2, 6), (std::vector<double>{87, 88, 89, 90, 91, 92}));
  EXPECT_EQ(nice_ticks(-3, 17, 5), (std::vector<double>{-5, 0, 5, 10, 15, 20}));
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{{0.0012, 0.0047}, {-250, 3}, {1e6, 3e6}}) {
    const auto t = nice_ticks(lo, hi, 6);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    EXPECT_LE(t.size(), 8u) << lo << ".." << hi;
    for (size_t i = 2; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], t[1] - t[0], 1e-9 * std::abs(hi));
  }
}

TEST(SvgTicks, EqualBoundsAndNonFiniteInputWiden) {
  const auto t = nice_ticks(5, 5, 5);
  EXPECT_LT(t.front(), 5);
  EXPECT_GT(t.back(), 5);
  const auto z = nice_ticks(0, 0, 5);
  EXPECT_LT(z.front(), 0);
  EXPECT_GT(z.back(), 0);
  EXPECT_EQ(nice_ticks(0, std::numeric_limits<double>::infinity(), 5), (std::vector<double>{0, 1}));
}

TEST(SvgTicks, LabelsHaveTheDecimalsTheStepNeeds) {
  EXPECT_EQ(tick_label(87, 1), "87");
  EXPECT_EQ(tick_label(0.5, 0.5), "0.5");
  EXPECT_EQ(tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(tick_label(1500, 500), "1500");
  EXPECT_EQ(tick_label(-1e-17, 0.1), "0.0");  // never "-0.0"
}

TEST(SvgPareto, KeepsExactlyTheUndominatedPoints) {
  // x = latency (lower is better), y = accuracy (higher is better).
  std::vector<Point> p = {{1.0, 80}, {2.0, 85}, {2.5, 84}, {3.0, 90}, {4.0, 90}, {0.5, 70}, {2.0, 85}};
  EXPECT_EQ(pareto_front(p, true, true), (std::vector<size_t>{5, 0, 1, 6, 3}));
  // The mirror image: higher x and lower y are better.
  EXPECT_EQ(pareto_front(p, false, false), (std::vector<size_t>{5, 0, 2, 4}));
  EXPECT_TRUE(pareto_front({}, true, true).empty());
  // A point outside the competition (e.g. the fp32 baseline) neither joins nor dominates.
  p.push_back({0.1, 95});
  p.back().in_front = false;
  EXPECT_EQ(pareto_front(p, true, true), (std::vector<size_t>{5, 0, 1, 6, 3}));
}

LineChart sample_line() {
  LineChart c;
  c.title = "top1 by trial <all>";
  c.x = {"trial", std::nullopt, std::nullopt, true};
  c.y = {"top1 (%)"};
  for (int i = 0; i < 6; ++i) {
    Point p{static_cast<double>(i), 88.0 + i * 0.5, "trial " + std::to_string(i)};
    p.css_class = "trial";
    p.id = std::to_string(i);
    p.marker = i == 2 ? Marker::kCross : Marker::kCircle;
    c.points.push_back(p);
    c.line.emplace_back(i, 88.0 + i * 0.5);
  }
  c.step = true;
  c.hlines = {{89.5, "goal 89.5"}, {90.0, "fp32 90.0", color::kNeutral}};
  c.highlight = Highlight{3, 89.5, "chosen #3"};
  c.legend = {{"trial", color::kAccent}, {"best so far", color::kAccent, Marker::kCircle, true}};
  return c;
}

TEST(SvgLineChart, OneMarkPerPointGoalLineAndHighlight) {
  const std::string s = render(sample_line());
  EXPECT_EQ(s.rfind("<svg class=\"chart\"", 0), 0u);
  EXPECT_EQ(count(s, "class=\"trial\""), 6u);
  EXPECT_EQ(count(s, "class=\"highlight\""), 1u);
  EXPECT_NE(s.find(">goal 89.5</text>"), std::string::npos);
  EXPECT_NE(s.find(">fp32 90.0</text>"), std::string::npos);
  EXPECT_NE(s.find(">chosen #3</text>"), std::string::npos);
  EXPECT_NE(s.find("stroke-dasharray"), std::string::npos);
  EXPECT_NE(s.find("aria-label=\"top1 by trial &lt;all&gt;\""), std::string::npos);
  EXPECT_EQ(s.find("<all>"), std::string::npos);
  EXPECT_EQ(s.find("http"), std::string::npos);
  EXPECT_EQ(s.find("<script"), std::string::npos);
  EXPECT_NE(s.find("<title>trial 4</title>"), std::string::npos);
  // Rising metric: rising marks, i.e. falling pixel y (circles only; the cross is a path).
  const std::vector<double> cy = attr_of_class(s, "trial", "cy");
  ASSERT_EQ(cy.size(), 5u);
  for (size_t i = 1; i < cy.size(); ++i) EXPECT_LT(cy[i], cy[i - 1]);
  // The step line holds each value until the next x: two vertices per point after the first.
  const std::regex poly("class=\"series\"[^>]*points=\"([^\"]*)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, poly));
  EXPECT_EQ(count(m[1].str(), ","), 11u);
}

TEST(SvgLineChart, OutputIsDeterministic) {
  EXPECT_EQ(render(sample_line()), render(sample_line()));
}

TEST(SvgLineChart, ForcedBoundsPutExtremesOnThePlotEdges) {
  LineChart c;
  c.y = {"y", 0.0, 10.0};
  c.x = {"x", 0.0, 10.0};
  c.points = {{0, 0, "", color::kAccent, Marker::kCircle, "trial"},
              {10, 10, "", color::kAccent, Marker::kCircle, "trial"}};
  const std::string s = render(c);
  const auto cx = attr_of_class(s, "trial", "cx");
  const auto cy = attr_of_class(s, "trial", "cy");
  ASSERT_EQ(cx.size(), 2u);
  EXPECT_DOUBLE_EQ(cx[0], 64 + 10);           // the plot's left edge, inset
  EXPECT_DOUBLE_EQ(cx[1], c.width - 20 - 10); // its right edge, inset
  EXPECT_DOUBLE_EQ(cy[0], c.height - 48);     // its bottom
  EXPECT_LT(cy[1], cy[0]);
  // The forced x range puts gridlines at the frame and ticks at the marks' positions.
  EXPECT_NE(s.find("<text x=\"74.0\" y=\"311.0\" text-anchor=\"middle\" fill=\"#607d8b\">0</text>"),
            std::string::npos) << s;
}

TEST(SvgScatter, DrawsTheParetoFrontThroughTheFrontPoints) {
  ScatterChart c;
  c.x = {"latency (ms)"};
  c.y = {"accuracy"};
  for (auto [x, y] : std::vector<std::pair<double, double>>{{1, 80}, {2, 85}, {2.5, 84}, {3, 90}}) {
    c.points.push_back({x, y, "", color::kAccent, Marker::kCircle, "trial"});
  }
  const std::string s = render(c);
  EXPECT_EQ(count(s, "class=\"trial\""), 4u);
  const std::regex poly("class=\"pareto-front\"[^>]*points=\"([^\"]*)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, poly));
  // Three front points as a staircase: 3 + 2 corner vertices.
  EXPECT_EQ(count(m[1].str(), ","), 5u);
  c.show_front = false;
  EXPECT_EQ(render(c).find("pareto-front"), std::string::npos);
}

TEST(SvgBarChart, BarsGrowFromZeroBothWaysAndLongLabelsKeepTheirEnd) {
  BarChart c;
  c.title = "SQNR";
  c.value_label = "dB";
  const std::string long_name = "/encoder/layers.11/self_attention/out_projection/MatMul_quantized";
  c.bars = {{"conv1", 30, "30.0 dB", color::kInt8, "", "bar"},
            {long_name, 12, "", color::kFp32, "", "bar"},
            {"fc", -4, "", color::kBf16, "", "bar"}};
  c.reference = 20;
  c.reference_label = "20 dB";
  const std::string s = render(c);
  EXPECT_EQ(count(s, "class=\"bar\""), 3u);
  const auto x = attr_of_class(s, "bar", "x");
  const auto w = attr_of_class(s, "bar", "width");
  ASSERT_EQ(x.size(), 3u);
  EXPECT_DOUBLE_EQ(x[0], x[1]);            // positive bars start at zero
  EXPECT_NEAR(x[2] + w[2], x[0], 0.11);    // the negative one ends there
  EXPECT_GT(w[0], 2 * w[1]);               // 30 vs 12
  EXPECT_NE(s.find(">30.0 dB</text>"), std::string::npos);
  EXPECT_NE(s.find("<title>" + long_name + "</title>"), std::string::npos);
  EXPECT_NE(s.find("MatMul_quantized</text>"), std::string::npos);
  EXPECT_NE(s.find(">20 dB</text>"), std::string::npos);
  EXPECT_NE(render(BarChart{}).find(">no data</text>"), std::string::npos);
}

TEST(HtmlPage, SelfContainedWithEscapedTitleAndTable) {
  html::Table t{{"op", "SQNR"}, {{"<b>x</b>", "1.0"}, {"y", "2.0"}}, {1}, {"chosen"}};
  const std::string page = html::page("report <1>", html::table(t) + html::badge("int8", "int8"));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<title>report &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(page.find("<tr class=\"chosen\"><td><b>x</b></td><td class=\"num\">1.0</td></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("<span class=\"badge int8\">int8</span>"), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
}

}  // namespace
}  // namespace qtune::svg

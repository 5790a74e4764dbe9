// Small SVG charts for qtune's HTML reports (report.html, diagnose.html): a line/step chart with
// horizontal reference lines and a marked point, a scatter with its Pareto front, a horizontal
// bar chart. Each chart is a value; render() turns it into one self-contained <svg> element
// (presentation attributes, no scripts, no external references) whose bytes depend only on the
// value, so reports are reproducible and diffable. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qtune::svg {

// Text for XML/HTML character data and attribute values: & < > " ' escaped, control characters
// other than tab/newline dropped (XML 1.0 cannot carry them).
std::string escape(std::string_view text);

// Tick positions covering [lo, hi] at a "nice" step (1, 2 or 5 times a power of ten), at most
// about `max_ticks` of them, first <= lo and last >= hi. lo == hi widens to a unit around it.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks);
// A tick value with as many decimals as the step needs ("0.25", "1.5k" never; plain numbers).
std::string tick_label(double value, double step);

// Named palette entries, so charts of one report agree on what a colour means.
namespace color {
inline constexpr const char* kPass = "#2e7d32";     // met the goal / accepted
inline constexpr const char* kFail = "#c62828";     // below the goal / failed
inline constexpr const char* kNeutral = "#607d8b";  // neither (e.g. slower than fp32)
inline constexpr const char* kAccent = "#1565c0";   // lines, the main series
inline constexpr const char* kGoal = "#ef6c00";     // goal / threshold lines
inline constexpr const char* kInt8 = "#1565c0";
inline constexpr const char* kBf16 = "#8e24aa";
inline constexpr const char* kFp32 = "#9e9e9e";
}  // namespace color

enum class Marker { kCircle, kCross, kDiamond, kSquare };

struct Point {
  double x = 0, y = 0;
  std::string tooltip;           // shown on hover (<title>); empty: none
  std::string color = color::kAccent;
  Marker marker = Marker::kCircle;
  std::string css_class;         // class of the mark, e.g. "trial" (tests count marks by it)
  std::string id;                // data-id attribute of the mark; empty: none
  bool in_front = true;          // scatter: whether it competes for the Pareto front
};

// A horizontal line across the plot at y, labelled at its right end.
struct HLine {
  double y = 0;
  std::string label;
  std::string color = color::kGoal;
  bool dashed = true;
};

// A point drawn over everything else with a ring and a label: "the chosen trial".
struct Highlight {
  double x = 0, y = 0;
  std::string label;
};

struct LegendEntry {
  std::string label;
  std::string color;
  Marker marker = Marker::kCircle;
  bool line = false;  // a line swatch instead of a marker
};

struct AxisSpec {
  std::string label;
  std::optional<double> min, max;  // forced bounds; otherwise from the data (and lines)
  bool integer = false;            // ticks on whole numbers only (e.g. trial indices)
};

struct LineChart {
  std::string title;
  AxisSpec x, y;
  std::vector<Point> points;      // drawn as marks, in order
  // A polyline through these (e.g. best-so-far); step=true draws it as a staircase that holds
  // each value until the next x.
  std::vector<std::pair<double, double>> line;
  std::string line_color = color::kAccent;
  bool step = false;
  std::vector<HLine> hlines;
  std::optional<Highlight> highlight;
  std::vector<LegendEntry> legend;
  int width = 760, height = 340;
};

struct ScatterChart {
  std::string title;
  AxisSpec x, y;
  std::vector<Point> points;
  // Which way is better on each axis, for the Pareto front: a point is on the front when no
  // other point is at least as good on both axes and better on one.
  bool x_lower_is_better = true;
  bool y_higher_is_better = true;
  bool show_front = true;
  std::vector<HLine> hlines;
  std::optional<Highlight> highlight;
  std::vector<LegendEntry> legend;
  int width = 760, height = 380;
};

struct Bar {
  std::string label;     // left of the bar (long labels are shortened; the tooltip has it all)
  double value = 0;
  std::string value_text;  // right of the bar; empty: the value itself
  std::string color = color::kAccent;
  std::string tooltip;
  std::string css_class;
  std::string id;
};

// Horizontal bars in the given order; negative values extend left of zero.
struct BarChart {
  std::string title;
  std::string value_label;  // under the value axis
  std::vector<Bar> bars;
  std::optional<double> reference;  // a vertical line at this value (e.g. a threshold)
  std::string reference_label;
  std::vector<LegendEntry> legend;
  int width = 760;
  int bar_height = 18;  // the chart grows with the number of bars
};

// Indices of the points on the Pareto front (among those with in_front), ordered by x ascending.
std::vector<size_t> pareto_front(const std::vector<Point>& points, bool x_lower_is_better,
                                 bool y_higher_is_better);

std::string render(const LineChart& chart);
std::string render(const ScatterChart& chart);
std::string render(const BarChart& chart);

}  // namespace qtune::svg

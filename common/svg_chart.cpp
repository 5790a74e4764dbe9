#include "common/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace qtune::svg {
namespace {

constexpr double kFontSize = 12;
constexpr double kTitleSize = 14;
// Average advance of a character of the sans-serif UI fonts at kFontSize, for layout only: the
// charts cannot measure text, so label columns are sized from this and long labels shortened.
constexpr double kCharWidth = 6.8;
constexpr double kMarkRadius = 4.5;
// Gap between the frame and the first/last x position, so marks there do not sit on the axes.
constexpr double kInset = 10;
constexpr const char* kFontFamily =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', 'Liberation Sans', sans-serif";
constexpr const char* kGrid = "#e6e9ec";
constexpr const char* kAxis = "#455a64";
constexpr const char* kText = "#263238";
constexpr const char* kMuted = "#607d8b";

// Coordinates with one decimal: enough for a screen, and the text stays short and stable.
std::string num(double v) {
  if (std::fabs(v) < 0.05) v = 0;  // never "-0.0"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Box {
  double left, top, right, bottom;  // the plot area, in pixels
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// A linear map from data to pixels over the extent of the ticks.
struct Scale {
  double d0 = 0, d1 = 1, p0 = 0, p1 = 1;
  double operator()(double v) const { return p0 + (v - d0) * (p1 - p0) / (d1 - d0); }
};

struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Room around the data so marks at the extremes do not sit on the frame: `frac` of the span on
// each side, never crossing zero for data that does not.
void pad(Extent* e, double frac) {
  if (e->empty() || e->hi == e->lo) return;
  const double m = (e->hi - e->lo) * frac;
  e->lo = e->lo >= 0 ? std::max(0.0, e->lo - m) : e->lo - m;
  e->hi = e->hi <= 0 ? std::min(0.0, e->hi + m) : e->hi + m;
}

// Ticks for an axis: the data extent (or 0..1 when there is none), forced bounds applied.
std::vector<double> axis_ticks(Extent e, const AxisSpec& spec, int max_ticks) {
  if (e.empty()) e = {0, 1};
  if (spec.min) e.lo = *spec.min;
  if (spec.max) e.hi = *spec.max;
  if (spec.integer) {
    e.lo = std::floor(e.lo);
    e.hi = std::ceil(e.hi);
    if (e.hi - e.lo < 1) e.hi = e.lo + 1;
    const double span = e.hi - e.lo;
    std::vector<double> t = nice_ticks(e.lo, e.hi, max_ticks);
    if (t.size() >= 2 && t[1] - t[0] < 1) {  // fewer whole numbers than ticks: one per number
      t.clear();
      for (double v = e.lo; v <= e.lo + span; v += 1) t.push_back(v);
    }
    return t;
  }
  return nice_ticks(e.lo, e.hi, max_ticks);
}

class Svg {
 public:
  Svg(int width, int height, const std::string& title) {
    o_ << "<svg class=\"chart\" viewBox=\"0 0 " << width << " " << height << "\" width=\"" << width
       << "\" height=\"" << height << "\" role=\"img\" aria-label=\"" << escape(title)
       << "\" font-family=\"" << kFontFamily << "\" font-size=\"" << num(kFontSize) << "\">\n";
    o_ << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
       << "\" fill=\"#ffffff\"/>\n";
    if (!title.empty()) {
      text(12, 22, title, "start", kText, kTitleSize, "600");
    }
  }

  void text(double x, double y, const std::string& s, const char* anchor, const char* fill,
            double size = kFontSize, const char* weight = nullptr, const std::string& tooltip = "") {
    o_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" text-anchor=\"" << anchor
       << "\" fill=\"" << fill << "\"";
    if (size != kFontSize) o_ << " font-size=\"" << num(size) << "\"";
    if (weight) o_ << " font-weight=\"" << weight << "\"";
    o_ << ">";
    if (!tooltip.empty()) o_ << "<title>" << escape(tooltip) << "</title>";
    o_ << escape(s) << "</text>\n";
  }

  // A label over lines and marks: a white halo keeps it readable where it crosses them.
  void label(double x, double y, const std::string& s, const char* anchor, const char* fill,
             const char* weight = nullptr) {
    o_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" text-anchor=\"" << anchor << "\" fill=\""
       << fill << "\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"";
    if (weight) o_ << " font-weight=\"" << weight << "\"";
    o_ << ">" << escape(s) << "</text>\n";
  }

  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
            bool dashed = false) {
    o_ << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\""
       << num(y2) << "\" stroke=\"" << stroke << "\" stroke-width=\"" << num(width) << "\"";
    if (dashed) o_ << " stroke-dasharray=\"6 4\"";
    o_ << "/>\n";
  }

  void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke,
                double width, bool dashed, const char* css_class) {
    if (pts.size() < 2) return;
    o_ << "<polyline class=\"" << css_class << "\" fill=\"none\" stroke=\"" << stroke
       << "\" stroke-width=\"" << num(width) << "\" stroke-linejoin=\"round\"";
    if (dashed) o_ << " stroke-dasharray=\"6 4\"";
    o_ << " points=\"";
    for (size_t i = 0; i < pts.size(); ++i) {
      o_ << (i ? " " : "") << num(pts[i].first) << "," << num(pts[i].second);
    }
    o_ << "\"/>\n";
  }

  // One mark; its tooltip rides in a <title> child, which browsers show on hover.
  void mark(double x, double y, Marker m, const std::string& fill, const std::string& css_class,
            const std::string& id, const std::string& tooltip, double r = kMarkRadius) {
    std::string attrs;
    if (!css_class.empty()) attrs += " class=\"" + escape(css_class) + "\"";
    if (!id.empty()) attrs += " data-id=\"" + escape(id) + "\"";
    const std::string body = tooltip.empty() ? "" : "<title>" + escape(tooltip) + "</title>";
    auto close = [&](const char* tag) {
      if (body.empty()) o_ << "/>\n";
      else o_ << ">" << body << "</" << tag << ">\n";
    };
    switch (m) {
      case Marker::kCircle:
        o_ << "<circle" << attrs << " cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\""
           << num(r) << "\" fill=\"" << fill << "\" fill-opacity=\"0.85\" stroke=\"#ffffff\" "
           << "stroke-width=\"1\"";
        close("circle");
        break;
      case Marker::kSquare:
        o_ << "<rect" << attrs << " x=\"" << num(x - r) << "\" y=\"" << num(y - r) << "\" width=\""
           << num(2 * r) << "\" height=\"" << num(2 * r) << "\" fill=\"" << fill
           << "\" stroke=\"#ffffff\" stroke-width=\"1\"";
        close("rect");
        break;
      case Marker::kDiamond:
        o_ << "<polygon" << attrs << " points=\"" << num(x) << "," << num(y - r - 1) << " "
           << num(x + r + 1) << "," << num(y) << " " << num(x) << "," << num(y + r + 1) << " "
           << num(x - r - 1) << "," << num(y) << "\" fill=\"" << fill
           << "\" stroke=\"#ffffff\" stroke-width=\"1\"";
        close("polygon");
        break;
      case Marker::kCross:
        o_ << "<path" << attrs << " d=\"M" << num(x - r) << " " << num(y - r) << "L" << num(x + r)
           << " " << num(y + r) << "M" << num(x - r) << " " << num(y + r) << "L" << num(x + r)
           << " " << num(y - r) << "\" stroke=\"" << fill << "\" stroke-width=\"2.2\" fill=\"none\"";
        close("path");
        break;
    }
  }

  void rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& css_class, const std::string& id, const std::string& tooltip) {
    o_ << "<rect";
    if (!css_class.empty()) o_ << " class=\"" << escape(css_class) << "\"";
    if (!id.empty()) o_ << " data-id=\"" << escape(id) << "\"";
    o_ << " x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(std::max(w, 0.0))
       << "\" height=\"" << num(h) << "\" fill=\"" << fill << "\" rx=\"2\"";
    if (tooltip.empty()) o_ << "/>\n";
    else o_ << "><title>" << escape(tooltip) << "</title></rect>\n";
  }

  void raw(const std::string& s) { o_ << s; }
  std::string finish() {
    o_ << "</svg>\n";
    return o_.str();
  }

 private:
  std::ostringstream o_;
};

// Legend entries in one row at (x, y), wrapping at `right`.
void draw_legend(Svg& svg, const std::vector<LegendEntry>& legend, double x, double y, double right) {
  double cx = x;
  for (const LegendEntry& e : legend) {
    const double w = 22 + kCharWidth * static_cast<double>(e.label.size()) + 14;
    if (cx + w > right && cx > x) {
      cx = x;
      y += 18;
    }
    if (e.line) {
      svg.line(cx, y - 4, cx + 16, y - 4, e.color, 2.2, false);
    } else {
      svg.mark(cx + 8, y - 4, e.marker, e.color, "", "", "", 4);
    }
    svg.text(cx + 22, y, e.label, "start", kText);
    cx += w;
  }
}

// Rows the legend takes at `width` (for the layout above the plot).
int legend_rows(const std::vector<LegendEntry>& legend, double x, double right) {
  if (legend.empty()) return 0;
  int rows = 1;
  double cx = x;
  for (const LegendEntry& e : legend) {
    const double w = 22 + kCharWidth * static_cast<double>(e.label.size()) + 14;
    if (cx + w > right && cx > x) {
      cx = x;
      ++rows;
    }
    cx += w;
  }
  return rows;
}

// Gridlines, axes, tick labels and axis labels of an x/y plot.
void draw_axes(Svg& svg, const Box& b, const Scale& sx, const Scale& sy,
               const std::vector<double>& xt, const std::vector<double>& yt, const AxisSpec& xa,
               const AxisSpec& ya) {
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double v : yt) {
    svg.line(b.left, sy(v), b.right, sy(v), kGrid, 1);
    svg.text(b.left - 8, sy(v) + 4, tick_label(v, ystep), "end", kMuted);
  }
  for (double v : xt) {
    svg.line(sx(v), b.bottom, sx(v), b.bottom + 5, kAxis, 1);
    svg.text(sx(v), b.bottom + 19, tick_label(v, xstep), "middle", kMuted);
  }
  svg.line(b.left, b.bottom, b.right, b.bottom, kAxis, 1);
  svg.line(b.left, b.top, b.left, b.bottom, kAxis, 1);
  if (!xa.label.empty()) svg.text((b.left + b.right) / 2, b.bottom + 38, xa.label, "middle", kText);
  if (!ya.label.empty()) {
    const double cx = 16, cy = (b.top + b.bottom) / 2;
    svg.raw("<text x=\"" + num(cx) + "\" y=\"" + num(cy) + "\" text-anchor=\"middle\" fill=\"" +
            kText + "\" transform=\"rotate(-90 " + num(cx) + " " + num(cy) + ")\">" +
            escape(ya.label) + "</text>\n");
  }
}

// Reference lines, labelled in the margin right of the plot (where no data is) at their
// height; labels of lines closer than a text line stack downwards.
void draw_hlines(Svg& svg, const Box& b, const Scale& sy, std::vector<HLine> lines) {
  std::sort(lines.begin(), lines.end(), [&](const HLine& a, const HLine& c) { return sy(a.y) < sy(c.y); });
  double last_label_y = -1e9;
  for (const HLine& h : lines) {
    const double y = sy(h.y);
    if (y < b.top - 0.5 || y > b.bottom + 0.5) continue;
    svg.line(b.left, y, b.right, y, h.color, 1.6, h.dashed);
    const double ly = std::max(y + 4, last_label_y + kFontSize + 1);
    svg.label(b.right + 6, ly, h.label, "start", h.color.c_str());
    last_label_y = ly;
  }
}

// Pixels right of the plot for the reference lines' labels.
double hline_margin(const std::vector<HLine>& lines) {
  size_t longest = 0;
  for (const HLine& h : lines) longest = std::max(longest, h.label.size());
  return longest ? kCharWidth * static_cast<double>(longest) + 12 : 0;
}

void draw_highlight(Svg& svg, const Box& b, const Scale& sx, const Scale& sy, const Highlight& h) {
  const double x = sx(h.x), y = sy(h.y);
  svg.raw("<circle class=\"highlight\" cx=\"" + num(x) + "\" cy=\"" + num(y) +
          "\" r=\"9\" fill=\"none\" stroke=\"" + kText + "\" stroke-width=\"2\"/>\n");
  if (h.label.empty()) return;
  const double w = kCharWidth * static_cast<double>(h.label.size());
  if (x + 14 + w > b.right) {  // no room on the right: left of the ring, on its line
    svg.label(x - 14, y + 4, h.label, "end", kText, "600");
    return;
  }
  svg.label(x + 12, y - 14 < b.top + kFontSize ? y + 24 : y - 14, h.label, "start", kText, "600");
}

void add_lines(Extent* e, const std::vector<HLine>& lines) {
  for (const HLine& h : lines) e->add(h.y);
}

Box plot_box(int width, int height, int legend_rows_n, double right_margin) {
  const double top = 36 + 18.0 * legend_rows_n + 8;
  return {64, top, static_cast<double>(width) - 20 - right_margin, static_cast<double>(height) - 48};
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n') break;
        out += static_cast<char>(c);
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) {
    const double pad = lo == 0 ? 0.5 : std::fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, max_ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  // Small tolerances so data sitting on a tick does not get a whole extra step.
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    ticks.push_back(v);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string tick_label(double value, double step) {
  int decimals = 0;
  if (step > 0 && std::isfinite(step)) {
    decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  }
  if (std::fabs(value) < step * 1e-9) value = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), value);
  return buf;
}

std::vector<size_t> pareto_front(const std::vector<Point>& points, bool x_lower_is_better,
                                 bool y_higher_is_better) {
  auto better_or_equal_x = [&](double a, double b) { return x_lower_is_better ? a <= b : a >= b; };
  auto better_or_equal_y = [&](double a, double b) { return y_higher_is_better ? a >= b : a <= b; };
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    if (!p.in_front || !std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) {
      const Point& q = points[j];
      if (j == i || !q.in_front || !std::isfinite(q.x) || !std::isfinite(q.y)) continue;
      dominated = better_or_equal_x(q.x, p.x) && better_or_equal_y(q.y, p.y) &&
                  (q.x != p.x || q.y != p.y);
    }
    if (!dominated) front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    return points[a].x != points[b].x ? points[a].x < points[b].x : points[a].y < points[b].y;
  });
  return front;
}

std::string render(const LineChart& c) {
  const int rows = legend_rows(c.legend, 64, c.width - 20);
  const Box b = plot_box(c.width, c.height, rows, hline_margin(c.hlines));
  Extent ex, ey;
  for (const Point& p : c.points) ex.add(p.x), ey.add(p.y);
  for (const auto& [x, y] : c.line) ex.add(x), ey.add(y);
  add_lines(&ey, c.hlines);
  if (c.highlight) ex.add(c.highlight->x), ey.add(c.highlight->y);
  pad(&ey, 0.05);
  const std::vector<double> xt = axis_ticks(ex, c.x, std::max(2, static_cast<int>(b.width() / 70)));
  const std::vector<double> yt = axis_ticks(ey, c.y, std::max(2, static_cast<int>(b.height() / 45)));
  const Scale sx{xt.front(), xt.back(), b.left + kInset, b.right - kInset};
  const Scale sy{yt.front(), yt.back(), b.bottom, b.top};

  Svg svg(c.width, c.height, c.title);
  draw_legend(svg, c.legend, 64, 36 + 14, c.width - 20);
  draw_axes(svg, b, sx, sy, xt, yt, c.x, c.y);
  draw_hlines(svg, b, sy, c.hlines);
  std::vector<std::pair<double, double>> path;
  for (size_t i = 0; i < c.line.size(); ++i) {
    if (c.step && i > 0) path.emplace_back(sx(c.line[i].first), sy(c.line[i - 1].second));
    path.emplace_back(sx(c.line[i].first), sy(c.line[i].second));
  }
  svg.polyline(path, c.line_color, 2, false, "series");
  for (const Point& p : c.points) {
    svg.mark(sx(p.x), sy(p.y), p.marker, p.color, p.css_class, p.id, p.tooltip);
  }
  if (c.highlight) draw_highlight(svg, b, sx, sy, *c.highlight);
  return svg.finish();
}

std::string render(const ScatterChart& c) {
  const int rows = legend_rows(c.legend, 64, c.width - 20);
  const Box b = plot_box(c.width, c.height, rows, hline_margin(c.hlines));
  Extent ex, ey;
  for (const Point& p : c.points) ex.add(p.x), ey.add(p.y);
  add_lines(&ey, c.hlines);
  if (c.highlight) ex.add(c.highlight->x), ey.add(c.highlight->y);
  pad(&ex, 0.05);
  pad(&ey, 0.05);
  const std::vector<double> xt = axis_ticks(ex, c.x, std::max(2, static_cast<int>(b.width() / 70)));
  const std::vector<double> yt = axis_ticks(ey, c.y, std::max(2, static_cast<int>(b.height() / 45)));
  const Scale sx{xt.front(), xt.back(), b.left + kInset, b.right - kInset};
  const Scale sy{yt.front(), yt.back(), b.bottom, b.top};

  Svg svg(c.width, c.height, c.title);
  draw_legend(svg, c.legend, 64, 36 + 14, c.width - 20);
  draw_axes(svg, b, sx, sy, xt, yt, c.x, c.y);
  draw_hlines(svg, b, sy, c.hlines);
  if (c.show_front) {
    const std::vector<size_t> front = pareto_front(c.points, c.x_lower_is_better, c.y_higher_is_better);
    // The front as the edge of what it dominates: hold each point's y until the next x.
    std::vector<std::pair<double, double>> path;
    for (size_t k = 0; k < front.size(); ++k) {
      const Point& p = c.points[front[k]];
      if (k > 0) path.emplace_back(sx(p.x), path.back().second);
      path.emplace_back(sx(p.x), sy(p.y));
    }
    svg.polyline(path, color::kAccent, 1.8, true, "pareto-front");
  }
  for (const Point& p : c.points) {
    svg.mark(sx(p.x), sy(p.y), p.marker, p.color, p.css_class, p.id, p.tooltip);
  }
  if (c.highlight) draw_highlight(svg, b, sx, sy, *c.highlight);
  return svg.finish();
}

std::string render(const BarChart& c) {
  const double gap = 6;
  const int rows = legend_rows(c.legend, 12, c.width - 12);
  const double top = 36 + 18.0 * rows + 10;
  const double plot_h = std::max<double>(1, static_cast<double>(c.bars.size())) * (c.bar_height + gap);
  const int height = static_cast<int>(top + plot_h + 46);
  // Label column: the longest label, within a third of the width; value column on the right.
  size_t longest = 0;
  size_t value_longest = 0;
  std::vector<std::string> values;
  for (const Bar& bar : c.bars) {
    longest = std::max(longest, bar.label.size());
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", bar.value);
    values.push_back(bar.value_text.empty() ? buf : bar.value_text);
    value_longest = std::max(value_longest, values.back().size());
  }
  const double label_w = std::min(kCharWidth * static_cast<double>(longest) + 8, c.width / 3.0);
  const size_t max_chars = static_cast<size_t>((label_w - 8) / kCharWidth + 1e-6);
  const double value_w = kCharWidth * static_cast<double>(value_longest) + 12;
  const Box b{12 + label_w, top, c.width - 12 - value_w, top + plot_h};

  Extent ev;
  ev.add(0);
  for (const Bar& bar : c.bars) ev.add(bar.value);
  if (c.reference) ev.add(*c.reference);
  const std::vector<double> t = nice_ticks(ev.lo, ev.hi, std::max(2, static_cast<int>(b.width() / 80)));
  const Scale sx{t.front(), t.back(), b.left, b.right};
  const double step = t.size() > 1 ? t[1] - t[0] : 1;

  Svg svg(c.width, height, c.title);
  draw_legend(svg, c.legend, 12, 36 + 14, c.width - 12);
  for (double v : t) {
    svg.line(sx(v), b.top, sx(v), b.bottom, kGrid, 1);
    svg.text(sx(v), b.bottom + 17, tick_label(v, step), "middle", kMuted);
  }
  if (!c.value_label.empty()) svg.text((b.left + b.right) / 2, b.bottom + 36, c.value_label, "middle", kText);
  if (c.bars.empty()) {
    svg.text((b.left + b.right) / 2, b.top + 14, "no data", "middle", kMuted);
  }
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const Bar& bar = c.bars[i];
    const double y = b.top + gap / 2 + static_cast<double>(i) * (c.bar_height + gap);
    const double x0 = sx(std::min(0.0, bar.value)), x1 = sx(std::max(0.0, bar.value));
    // Long names keep their end, which is what tells ops apart ("…/layer3/conv2/Conv").
    std::string label = bar.label;
    if (label.size() > max_chars && max_chars > 1) label = "\u2026" + label.substr(label.size() - (max_chars - 1));
    const std::string tip = bar.tooltip.empty() ? bar.label + ": " + values[i] : bar.tooltip;
    svg.text(b.left - 6, y + c.bar_height / 2.0 + 4, label, "end", kText, kFontSize, nullptr,
             label == bar.label ? "" : bar.label);
    svg.rect(x0, y, x1 - x0, c.bar_height, bar.color, bar.css_class, bar.id, tip);
    svg.text(c.width - 12, y + c.bar_height / 2.0 + 4, values[i], "end", kText);
  }
  svg.line(sx(0), b.top, sx(0), b.bottom, kAxis, 1);
  if (c.reference) {
    svg.line(sx(*c.reference), b.top - 4, sx(*c.reference), b.bottom, color::kGoal, 1.6, true);
    if (!c.reference_label.empty()) {
      svg.text(sx(*c.reference) + 4, b.top - 2, c.reference_label, "start", color::kGoal);
    }
  }
  return svg.finish();
}

}  // namespace qtune::svg

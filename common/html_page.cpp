#include "common/html_page.h"

#include <algorithm>

#include "common/svg_chart.h"

namespace qtune::html {
namespace {

// System fonts only: nothing to fetch, and every platform has a readable sans-serif.
constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: #263238;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.subtitle { color: #607d8b; margin: 0 0 18px; }
section { background: #ffffff; border: 1px solid #dde3e8; border-radius: 8px; padding: 16px 18px;
  margin: 0 0 18px; }
.outcome { font-size: 16px; border-left: 6px solid #2e7d32; }
.outcome.missed { border-left-color: #c62828; }
.outcome.unfinished { border-left-color: #ef6c00; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0 0; padding: 0; list-style: none; }
.facts li { background: #f4f6f8; border-radius: 6px; padding: 6px 12px; }
.facts b { display: block; font-size: 18px; }
.note { color: #607d8b; font-size: 13px; margin: 6px 0 0; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff1; vertical-align: top; }
th { background: #eceff1; font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.chosen td { background: #e8f5e9; font-weight: 600; }
.scroll { max-height: 520px; overflow: auto; border: 1px solid #eceff1; border-radius: 6px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px;
  overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600;
  color: #ffffff; background: #607d8b; }
.badge.int8 { background: #1565c0; } .badge.bf16 { background: #8e24aa; }
.badge.fp32 { background: #9e9e9e; } .badge.pass { background: #2e7d32; }
.badge.fail { background: #c62828; } .badge.warn { background: #ef6c00; }
ul.warnings { margin: 0; padding-left: 20px; } ul.warnings li { margin: 2px 0; }
footer { color: #90a4ae; font-size: 12px; text-align: center; }
)css";

}  // namespace

std::string page(const std::string& title, const std::string& body_html) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         svg::escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n" +
         body_html + "</main>\n</body>\n</html>\n";
}

std::string table(const Table& t) {
  auto is_numeric = [&](size_t col) {
    return std::find(t.numeric.begin(), t.numeric.end(), col) != t.numeric.end();
  };
  std::string out = "<table>\n<thead><tr>";
  for (size_t c = 0; c < t.header.size(); ++c) {
    out += is_numeric(c) ? "<th class=\"num\">" : "<th>";
    out += svg::escape(t.header[c]) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string cls = r < t.row_classes.size() ? t.row_classes[r] : "";
    out += cls.empty() ? "<tr>" : "<tr class=\"" + svg::escape(cls) + "\">";
    for (size_t c = 0; c < t.rows[r].size(); ++c) {
      out += is_numeric(c) ? "<td class=\"num\">" : "<td>";
      out += t.rows[r][c] + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string badge(const std::string& text, const std::string& kind) {
  return "<span class=\"badge " + svg::escape(kind) + "\">" + svg::escape(text) + "</span>";
}

}  // namespace qtune::html

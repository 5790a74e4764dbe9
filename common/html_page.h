// The page around qtune's HTML reports (report.html, diagnose.html): one self-contained file
// with its stylesheet inline and nothing fetched (no scripts, fonts or images from elsewhere),
// so it reads the same offline and when mailed. Charts come from common/svg_chart.h.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace qtune::html {

// The whole document: <!DOCTYPE html>, head with title and the shared stylesheet, `body_html`
// as the body's content (already HTML).
std::string page(const std::string& title, const std::string& body_html);

// A table: header cells are text (escaped), row cells are HTML (callers escape their text).
// `numeric` lists the columns to right-align; `row_classes`, when not empty, gives each row a
// class (e.g. "chosen").
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> numeric;
  std::vector<std::string> row_classes;
};
std::string table(const Table& t);

// A small coloured label, e.g. a precision or verdict: <span class="badge KIND">text</span>.
std::string badge(const std::string& text, const std::string& kind);

}  // namespace qtune::html

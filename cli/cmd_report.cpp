// `qtune report OUT_DIR`: rebuilds report.html and the summary table of a tuning run from its
// journal, so a run that was interrupted, or ran elsewhere, can be reported. A finished run's
// report.html comes out the same as the one it wrote.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "coordinator/checkpoint.h"
#include "coordinator/report.h"

namespace qtune::cli {
namespace {

Status run_report(const Args& args) {
  if (args.positional.size() != 1) return usage_error("report", "expects one OUT_DIR");
  const std::filesystem::path dir = args.positional[0];
  const std::filesystem::path journal = dir / kJournalFile;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::InvalidInput(dir.string() + ": not a directory (expected a tuning run's output directory)");
  }
  if (!std::filesystem::exists(journal, ec)) {
    return Status::InvalidInput(journal.string() + ": no journal: not the output directory of `qtune tune` "
                                "or `qtune coordinator`");
  }
  QT_ASSIGN_OR_RETURN(JournalContents contents, read_journal(journal.string()));
  QT_ASSIGN_OR_RETURN(ReportData report, report_data(contents, journal.string()));
  const std::filesystem::path html = dir / "report.html";
  {
    std::ofstream f(html, std::ios::binary | std::ios::trunc);
    f << report_html(report);
    if (!f) return Status::InvalidInput(html.string() + ": cannot write");
  }
  if (args.has("--json")) {
    std::cout << report_json(report);
  } else {
    std::cout << report_summary(report) << "report: " << html.string() << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_report(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("report"));
  Status s = args.ok() ? run_report(args.value()) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune report: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("report") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli

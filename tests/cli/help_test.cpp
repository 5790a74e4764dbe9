// The help table (cli/help.h): the source of the parsers' options, the usage lines, `qtune help`
// and docs/cli.md. Its examples use only options their command documents, and the renderings
// carry every command and option.
#include "cli/help.h"

#include "cli/commands.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace qtune::cli {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(HelpTest, ExamplesRunTheirCommandWithDocumentedOptionsOnly) {
  for (const CommandHelp& c : command_help()) {
    ASSERT_FALSE(c.examples.empty()) << c.name;
    for (const std::string& e : c.examples) {
      const std::vector<std::string> w = words(e);
      ASSERT_GE(w.size(), 2u) << e;
      EXPECT_EQ(w[0], "qtune") << e;
      if (c.name != "help") EXPECT_EQ(e.rfind("qtune " + c.name, 0), 0u) << e;
      for (size_t i = 1; i < w.size(); ++i) {
        if (w[i].rfind("--", 0) != 0 || w[i] == "--help") continue;
        const std::string& command = c.name == "help" ? w[1] : c.name;
        const OptionSpec s = option_spec(command);
        const bool known = s.valued.count(w[i]) || s.flags.count(w[i]);
        EXPECT_TRUE(known) << e << ": " << w[i] << " is not an option of " << command;
        if (s.valued.count(w[i])) ++i;  // skip its value
      }
    }
  }
}

TEST(HelpTest, OptionSpecAndUsageFollowTheTable) {
  const OptionSpec tune = option_spec("tune");
  EXPECT_TRUE(tune.valued.count("--out"));
  EXPECT_TRUE(tune.valued.count("--workers"));
  EXPECT_TRUE(tune.flags.count("--resume"));
  EXPECT_FALSE(tune.valued.count("--resume"));
  const OptionSpec none = option_spec("no-such-command");
  EXPECT_TRUE(none.valued.empty() && none.flags.empty());
  const std::string eval = usage_of("eval");
  EXPECT_EQ(eval.rfind("usage: qtune eval MODEL.onnx --data DATA.yaml ", 0), 0u) << eval;  // required: bare
  EXPECT_NE(eval.find("[--adaptor NAME]"), std::string::npos) << eval;
  const Status e = usage_error("eval", "needs --data DATA.yaml");
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.message(), "needs --data DATA.yaml\n" + eval);
}

TEST(HelpTest, RenderingsCarryEveryCommandAndOption) {
  const std::string overview = overview_text();
  const std::string md = help_markdown();
  for (const CommandHelp& c : command_help()) {
    EXPECT_NE(overview.find("  " + c.name + " "), std::string::npos) << c.name;
    EXPECT_NE(md.find("## qtune " + c.name + "\n"), std::string::npos) << c.name;
    const std::string text = help_text(c);
    EXPECT_EQ(text.rfind("usage: qtune " + c.name, 0), 0u) << text;
    for (const OptionHelp& o : c.options) {
      EXPECT_NE(text.find("  " + o.flag), std::string::npos) << c.name << " " << o.flag;
      EXPECT_NE(md.find("`" + o.flag), std::string::npos) << c.name << " " << o.flag;
      EXPECT_FALSE(o.text.empty()) << c.name << " " << o.flag;
    }
    // Wrapped for a terminal: no line wider than 100 columns unless one word is.
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() <= 100) continue;
      EXPECT_EQ(words(line).size(), 1u) << c.name << ": " << line;
    }
  }
  EXPECT_NE(overview.find("exit codes:"), std::string::npos);
  EXPECT_NE(md.find("**Exit codes.**"), std::string::npos);
}

// What main dispatches and what the help documents are the same commands, in the same order.
TEST(HelpTest, EveryCommandIsDocumentedAndEveryDocumentedCommandRuns) {
  std::vector<std::string> dispatched, documented;
  for (const CommandEntry& c : command_table()) {
    if (!c.hidden) dispatched.push_back(c.name);
  }
  for (const CommandHelp& c : command_help()) documented.push_back(c.name);
  EXPECT_EQ(dispatched, documented);
  for (const CommandHelp& c : command_help()) EXPECT_NE(find_command(c.name), nullptr) << c.name;
  EXPECT_EQ(find_command("frobnicate"), nullptr);
}

TEST(HelpTest, EveryOptionIsDocumentedOnce) {
  for (const CommandHelp& c : command_help()) {
    std::set<std::string> seen;
    for (const OptionHelp& o : c.options) {
      EXPECT_EQ(o.flag.rfind("--", 0), 0u) << c.name << " " << o.flag;
      EXPECT_TRUE(seen.insert(o.flag).second) << c.name << " documents " << o.flag << " twice";
    }
  }
}

}  // namespace
}  // namespace qtune::cli

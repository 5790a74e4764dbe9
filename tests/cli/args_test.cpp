// cli/args: options from the command line and from QTUNE_* environment variables, the command
// line winning, exclusive groups, flag spellings and the filtered child environment.
#include "cli/args.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <map>

namespace qtune::cli {
namespace {

// A fixed environment, so the tests never depend on the process's.
Environment fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Result<Args> parse(std::vector<std::string> argv, const OptionSpec& spec, const Environment& env) {
  argv.insert(argv.begin(), {"qtune", "worker"});
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  return parse_args_env(static_cast<int>(ptrs.size()), ptrs.data(), 2, spec, env);
}

const OptionSpec kWorker{{"--connect", "--threads", "--cache", "--curve-secret", "--curve-server-key"},
                         {"--curve", "--insecure", "--shared-path"},
                         {{{"--insecure"}, {"--curve", "--curve-secret", "--curve-server-key"}},
                          {{"--cache"}, {"--shared-path"}}}};

TEST(CliArgs, EnvNameUpperCasesAndReplacesDashes) {
  EXPECT_EQ(env_name("--curve-server-key"), "QTUNE_CURVE_SERVER_KEY");
  EXPECT_EQ(env_name("--bind"), "QTUNE_BIND");
  EXPECT_EQ(env_name("--heartbeat-ms"), "QTUNE_HEARTBEAT_MS");
}

TEST(CliArgs, EnvironmentFillsWhatTheCommandLineLeavesOut) {
  auto a = parse({}, kWorker,
                 fake_env({{"QTUNE_CONNECT", "tcp://coordinator:5555"}, {"QTUNE_THREADS", "4"},
                           {"QTUNE_CURVE", "1"}, {"QTUNE_CURVE_SECRET", "/run/secrets/w.key"}}));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->get("--connect", ""), "tcp://coordinator:5555");
  EXPECT_EQ(a->get("--threads", ""), "4");
  EXPECT_EQ(a->get("--curve-secret", ""), "/run/secrets/w.key");
  EXPECT_TRUE(a->has("--curve"));
  EXPECT_FALSE(a->has("--insecure"));
  EXPECT_EQ(a->from_env.at("--connect"), "QTUNE_CONNECT");
  EXPECT_EQ(env_note(*a),
            "options from the environment: QTUNE_CONNECT, QTUNE_CURVE, QTUNE_CURVE_SECRET, QTUNE_THREADS");
}

TEST(CliArgs, CommandLineWinsOverEnvironment) {
  auto a = parse({"--connect", "tcp://here:1", "--threads=2"}, kWorker,
                 fake_env({{"QTUNE_CONNECT", "tcp://there:2"}, {"QTUNE_THREADS", "8"}}));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->get("--connect", ""), "tcp://here:1");
  EXPECT_EQ(a->get("--threads", ""), "2");
  EXPECT_TRUE(a->from_env.empty());
  EXPECT_EQ(env_note(*a), "");
}

TEST(CliArgs, CommandLineBeatsTheOtherSideOfAnExclusivePair) {
  auto env = fake_env({{"QTUNE_CURVE", "yes"}, {"QTUNE_CURVE_SECRET", "w.key"}, {"QTUNE_CACHE", "/c"}});
  auto a = parse({"--insecure", "--shared-path"}, kWorker, env);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_FALSE(a->has("--curve"));
  EXPECT_FALSE(a->has("--curve-secret"));
  EXPECT_FALSE(a->has("--cache"));
  // Without the command-line choice, both sides reach the command, which rejects the mix.
  auto b = parse({}, kWorker, fake_env({{"QTUNE_CACHE", "/c"}, {"QTUNE_SHARED_PATH", "1"}}));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->has("--cache"));
  EXPECT_TRUE(b->has("--shared-path"));
}

TEST(CliArgs, FlagSpellingsAndEmptyVariables) {
  for (const char* on : {"1", "true", "YES", "On"}) {
    auto a = parse({}, kWorker, fake_env({{"QTUNE_INSECURE", on}}));
    ASSERT_TRUE(a.ok()) << on;
    EXPECT_TRUE(a->has("--insecure")) << on;
  }
  for (const char* off : {"0", "false", "No", "OFF", ""}) {
    auto a = parse({}, kWorker, fake_env({{"QTUNE_INSECURE", off}}));
    ASSERT_TRUE(a.ok()) << off;
    EXPECT_FALSE(a->has("--insecure")) << off;
  }
  auto empty = parse({}, kWorker, fake_env({{"QTUNE_CONNECT", ""}}));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has("--connect"));
}

TEST(CliArgs, BadFlagVariableNamesTheVariable) {
  auto a = parse({}, kWorker, fake_env({{"QTUNE_CURVE", "maybe"}}));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().exit_code(), 2);
  EXPECT_NE(a.status().message().find("QTUNE_CURVE"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("maybe"), std::string::npos);
}

TEST(CliArgs, VariablesOfUnknownOptionsAreNotOptions) {
  auto a = parse({}, kWorker, fake_env({{"QTUNE_BIND", "tcp://*:5555"}, {"QTUNE_ISA", "ref"}}));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->options.empty());
  // Unknown options on the command line stay errors.
  auto b = parse({"--bind", "x"}, kWorker, fake_env({}));
  EXPECT_FALSE(b.ok());
}

TEST(CliArgs, NoEnvironmentMeansCommandLineOnly) {
  auto a = parse({"--connect", "tcp://h:1"}, kWorker, Environment{});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->options.size(), 1u);
}

TEST(CliArgs, ChildEnvironmentDropsTheSpecsVariablesOnly) {
  ::setenv("QTUNE_CACHE", "/somewhere", 1);
  ::setenv("QTUNE_ISA", "ref", 1);
  const std::vector<std::string> env = environment_without(kWorker);
  ::unsetenv("QTUNE_CACHE");
  ::unsetenv("QTUNE_ISA");
  auto has = [&](const std::string& e) { return std::find(env.begin(), env.end(), e) != env.end(); };
  EXPECT_FALSE(has("QTUNE_CACHE=/somewhere"));
  EXPECT_TRUE(has("QTUNE_ISA=ref"));
}

TEST(CliArgs, HeartbeatMustBeInTheSaneRange) {
  EXPECT_EQ(heartbeat_ms("250").value(), 250);
  EXPECT_EQ(heartbeat_ms("10").value(), 10);
  EXPECT_EQ(heartbeat_ms("60000").value(), 60000);
  for (const char* bad : {"0", "9", "60001", "-5", "1e3", "", "86400000"}) {
    Result<int64_t> r = heartbeat_ms(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message(), std::string("--heartbeat-ms expects milliseconds from 10 to 60000, got '") + bad + "'");
  }
}

// The environment's flag for the command metric reaches a worker like any other flag.
TEST(CliArgs, AllowMetricCommandComesFromTheEnvironment) {
  const OptionSpec spec{{"--connect"}, {"--allow-metric-command"}, {}};
  Result<Args> on = parse({"--connect", "tcp://127.0.0.1:5555"}, spec, fake_env({{"QTUNE_ALLOW_METRIC_COMMAND", "1"}}));
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->has("--allow-metric-command"));
  Result<Args> off = parse({"--connect", "tcp://127.0.0.1:5555"}, spec, fake_env({{"QTUNE_ALLOW_METRIC_COMMAND", "0"}}));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has("--allow-metric-command"));
}

}  // namespace
}  // namespace qtune::cli

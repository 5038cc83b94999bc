#include "cli/cli.h"

#include <gtest/gtest.h>

#include "unit/cli/fakes.h"

namespace colo::cli {
namespace {

using test::World;

int gRuns = 0;
std::string gLastArg;
int runProbe(const CliContext& ctx, const Args& args) {
  ++gRuns;
  gLastArg = args.positional.empty() ? "" : args.positional[0];
  *ctx.out << "pin=" << ctx.pin_dir << " sock=" << ctx.socket << " json=" << ctx.json
           << " n=" << args.integer("n") << " ms=" << args.durationMs("every")
           << " v=" << args.flag("verbose") << " given_n=" << args.given("n") << "\n";
  return 0;
}

// A table with one extra entry, as a later command would add one.
std::vector<Command> table() {
  return {{.name = "probe",
           .args_usage = "[thing]",
           .summary = "test command",
           .flags = {{"n", FlagType::kInt, "3", "a number"},
                     {"every", FlagType::kDuration, "1s", "a duration"},
                     {"verbose", FlagType::kBool, "false", "talk"}},
           .min_args = 0,
           .max_args = 1,
           .run = runProbe}};
}

struct Run {
  int code;
  std::string out, err;
};

Run run(std::vector<std::string> argv) {
  World w;
  CliContext ctx;
  ctx.out = &w.out;
  ctx.err = &w.err;
  ctx.env = &w.env;
  auto t = table();
  int code = runCli(argv, t, ctx);
  return {code, w.out.str(), w.err.str()};
}

TEST(Cli, DefaultsAndGlobalFlags) {
  auto r = run({"probe"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out,
            "pin=/sys/fs/bpf/colo sock=/run/colo/colod.sock json=0 n=3 ms=1000 v=0 given_n=0\n");
  r = run({"--pin_dir=/tmp/p", "probe", "--socket", "/tmp/s", "--json", "--n=7", "--every", "250ms",
           "--verbose", "arg"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "pin=/tmp/p sock=/tmp/s json=1 n=7 ms=250 v=1 given_n=1\n");
  EXPECT_EQ(gLastArg, "arg");
}

TEST(Cli, DashesAndUnderscoresAreInterchangeable) {
  auto r = run({"probe", "--pin-dir=/x", "--json=false"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("pin=/x "), std::string::npos);
  EXPECT_NE(r.out.find("json=0"), std::string::npos);
}

TEST(Cli, UnknownCommandIsUsageError) {
  int before = gRuns;
  auto r = run({"frobnicate"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos);
  EXPECT_NE(r.err.find("usage: coloctl"), std::string::npos);
  EXPECT_EQ(gRuns, before);
}

TEST(Cli, UsageErrors) {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  } cases[] = {
      {{}, "no command given"},
      {{"probe", "--bogus"}, "unknown flag --bogus for \"probe\""},
      {{"--n=3", "probe"}, "unknown flag --n"},  // command flags come after the command
      {{"probe", "--n=x"}, "--n takes an integer"},
      {{"probe", "--every=soon"}, "--every takes a duration"},
      {{"probe", "--json=maybe"}, "--json takes true or false"},
      {{"probe", "--socket"}, "flag --socket needs a value"},
      {{"probe", "a", "b"}, "takes 1 argument, got 2: \"b\""},
  };
  for (const auto& c : cases) {
    auto r = run(c.argv);
    EXPECT_EQ(r.code, kExitUsage) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage: coloctl"), std::string::npos);
  }
}

TEST(Cli, HelpGoesToStdoutWithExitZero) {
  for (auto argv : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"help", "probe"}, {"probe", "--help"}}) {
    auto r = run(argv);
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_TRUE(r.err.empty());
    EXPECT_NE(r.out.find("usage: coloctl"), std::string::npos);
  }
  auto r = run({"probe", "--help"});
  EXPECT_NE(r.out.find("--every=DURATION"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(default 1s)"), std::string::npos);
}

TEST(Cli, RealTableListsTheCommandsInUsage) {
  std::string u = usageText(coreCommands());
  for (const char* name : {"maps", "top", "hist"}) {
    EXPECT_NE(u.find(std::string("  ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(u.find("Exit codes"), std::string::npos);
}

TEST(Cli, MissingArgument) {
  World w;
  EXPECT_EQ(w.run({"hist"}), kExitUsage);
  EXPECT_NE(w.err.str().find("\"hist\" needs <container>"), std::string::npos) << w.err.str();
}

TEST(ParseDuration, Forms) {
  EXPECT_EQ(*parseDurationMs("500ms"), 500);
  EXPECT_EQ(*parseDurationMs("2s"), 2000);
  EXPECT_EQ(*parseDurationMs("0.5"), 500);
  EXPECT_EQ(*parseDurationMs("1m"), 60000);
  EXPECT_FALSE(parseDurationMs(""));
  EXPECT_FALSE(parseDurationMs("ms"));
  EXPECT_FALSE(parseDurationMs("-1s"));
  EXPECT_FALSE(parseDurationMs("1h"));
}

TEST(Explain, MapsErrorsSayWhatToDo) {
  auto enoent = explainMapsError("/sys/fs/bpf/colo", Error::fromErrno(ENOENT, "open"));
  EXPECT_NE(enoent.find("no pinned maps at /sys/fs/bpf/colo: is colod running? start it with "
                        "`colod` (maps stay pinned after it stops)"),
            std::string::npos);
  EXPECT_NE(explainMapsError("/p", Error::fromErrno(EPERM, "x")).find("run as root"),
            std::string::npos);
  EXPECT_NE(explainMapsError("/p", Error::fromErrno(EACCES, "x")).find("run as root"),
            std::string::npos);
  EXPECT_NE(explainMapsError("/p", Error::fromErrno(EPROTO, "x")).find("different colo version"),
            std::string::npos);
}

TEST(Explain, AgentErrorsSayWhatToDo) {
  EXPECT_NE(explainAgentError("/run/colo/colod.sock", Error::fromErrno(ENOENT, "connect"))
                .find("colod is not running"),
            std::string::npos);
  EXPECT_NE(explainAgentError("/s", Error::fromErrno(ECONNREFUSED, "connect"))
                .find("colod is not running"),
            std::string::npos);
  EXPECT_NE(explainAgentError("/s", Error::fromErrno(EACCES, "connect")).find("run as root"),
            std::string::npos);
}

}  // namespace
}  // namespace colo::cli

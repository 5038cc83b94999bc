// coloctl's command line: `coloctl [global flags] <command> [flags] [args]`.
//
// Adding a command is one entry in the table in command_table.cc plus a function
// `int runX(const CliContext&, const Args&)`; parsing, --help and usage errors come from the entry.
//
// Exit codes: 0 ok; 1 usage (unknown command or flag, bad argument, no such container);
// 2 the kernel, a permission or colod stood in the way (the message says what to do).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/sources.h"
#include "common/result.h"

namespace colo::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitSystem = 2;

enum class FlagType { kBool, kString, kInt, kDuration };

struct FlagSpec {
  std::string name;  // without "--"; "-" and "_" are interchangeable on the command line
  FlagType type = FlagType::kString;
  std::string default_value;
  std::string help;
};

// Parsed flags (every declared flag present, defaults filled in) and positional arguments.
class Args {
 public:
  std::vector<std::string> positional;

  const std::string& str(std::string_view name) const;
  bool flag(std::string_view name) const;
  int64_t integer(std::string_view name) const;
  int64_t durationMs(std::string_view name) const;
  // True when the user gave the flag (not just its default).
  bool given(std::string_view name) const;

  // Filled by the parser.
  std::map<std::string, std::string, std::less<>> values;
  std::map<std::string, bool, std::less<>> set_by_user;
};

// Everything a command needs: global options, output streams, and the world (env).
struct CliContext {
  std::string pin_dir = "/sys/fs/bpf/colo";
  std::string socket = "/run/colo/colod.sock";
  bool json = false;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  const CliEnv* env = nullptr;
};

struct Command {
  std::string name;
  std::string args_usage;   // e.g. "<container>"
  std::string summary;      // one line for the command list
  std::string description;  // a paragraph for `coloctl <command> --help`
  std::vector<FlagSpec> flags;
  size_t min_args = 0;
  size_t max_args = 0;
  int (*run)(const CliContext&, const Args&) = nullptr;
};

// The commands colo_cli implements itself: maps, top, hist (commands.cc).
const std::vector<Command>& coreCommands();
// coloctl's whole table: the core commands plus those implemented in other libraries
// (command_table.cc, linked into the coloctl binary only).
const std::vector<Command>& coloctlCommands();
// Flags every command accepts: --pin_dir, --socket, --json, --help.
const std::vector<FlagSpec>& globalFlags();

// Parses "500ms", "2s", "1m" or a bare number of seconds ("0.5"); EINVAL otherwise.
Result<int64_t> parseDurationMs(std::string_view text);

// Result of parsing a command line.
struct Invocation {
  const Command* command = nullptr;  // nullptr with help: the general usage
  Args args;
  bool help = false;
  std::string error;  // a usage error naming the bad word; "" when the line parsed
};
// argv without the program name.
Invocation parseCommandLine(std::span<const std::string> argv, const std::vector<Command>& table);

std::string usageText(const std::vector<Command>& table);
std::string commandUsage(const Command& command);

// Parses and runs; returns the exit code. Usage errors print the message and the usage text on
// ctx.err; --help prints usage on ctx.out and exits 0.
int runCli(std::span<const std::string> argv, const std::vector<Command>& table, CliContext ctx);

// Prints "coloctl: <message>" on ctx.err and returns kExitSystem.
int systemError(const CliContext& ctx, std::string_view message);
// What went wrong opening the pinned maps at `pin_dir`, and what to do about it.
std::string explainMapsError(const std::string& pin_dir, const Error& error);
// What went wrong talking to colod at `socket`, and what to do about it.
std::string explainAgentError(const std::string& socket, const Error& error);

}  // namespace colo::cli

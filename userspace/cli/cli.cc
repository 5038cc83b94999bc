#include "cli/cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>

namespace colo::cli {
namespace {

std::string normalizeFlagName(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

const FlagSpec* findFlag(const std::vector<FlagSpec>& specs, std::string_view name) {
  for (const auto& f : specs) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

bool parseInt(std::string_view text, int64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool parseBool(std::string_view text, bool* out) {
  if (text == "true" || text == "1" || text == "yes") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "no") {
    *out = false;
    return true;
  }
  return false;
}

// Checks `value` against the flag's type; returns the error text or "".
std::string checkValue(const FlagSpec& spec, const std::string& value) {
  switch (spec.type) {
    case FlagType::kBool: {
      bool b = false;
      return parseBool(value, &b)
                 ? ""
                 : fmt::format("--{} takes true or false, not \"{}\"", spec.name, value);
    }
    case FlagType::kInt: {
      int64_t v = 0;
      return parseInt(value, &v)
                 ? ""
                 : fmt::format("--{} takes an integer, not \"{}\"", spec.name, value);
    }
    case FlagType::kDuration:
      return parseDurationMs(value)
                 ? ""
                 : fmt::format("--{} takes a duration (500ms, 2s, 1m), not \"{}\"", spec.name,
                               value);
    case FlagType::kString:
      break;
  }
  return "";
}

std::string flagLine(const FlagSpec& f) {
  std::string left = "--" + f.name;
  if (f.type != FlagType::kBool) {
    left += f.type == FlagType::kInt        ? "=N"
            : f.type == FlagType::kDuration ? "=DURATION"
                                            : "=VALUE";
  }
  std::string def;
  if (!f.default_value.empty() && !(f.type == FlagType::kBool && f.default_value == "false")) {
    def = fmt::format(" (default {})", f.default_value);
  }
  return fmt::format("  {:<22} {}{}\n", left, f.help, def);
}

}  // namespace

const std::string& Args::str(std::string_view name) const {
  static const std::string kEmpty;
  auto it = values.find(name);
  return it == values.end() ? kEmpty : it->second;
}

bool Args::flag(std::string_view name) const {
  bool b = false;
  parseBool(str(name), &b);
  return b;
}

int64_t Args::integer(std::string_view name) const {
  int64_t v = 0;
  parseInt(str(name), &v);
  return v;
}

int64_t Args::durationMs(std::string_view name) const {
  return parseDurationMs(str(name)).value_or(0);
}

bool Args::given(std::string_view name) const {
  auto it = set_by_user.find(name);
  return it != set_by_user.end() && it->second;
}

Result<int64_t> parseDurationMs(std::string_view text) {
  double scale = 1000.0;  // a bare number is seconds
  std::string_view num = text;
  if (text.ends_with("ms")) {
    scale = 1.0;
    num.remove_suffix(2);
  } else if (text.ends_with("s")) {
    num.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60000.0;
    num.remove_suffix(1);
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || ec != std::errc() || ptr != num.data() + num.size() || !std::isfinite(v) ||
      v < 0) {
    return failInvalid(fmt::format("bad duration \"{}\"", text));
  }
  return static_cast<int64_t>(std::llround(v * scale));
}

const std::vector<FlagSpec>& globalFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"pin_dir", FlagType::kString, "/sys/fs/bpf/colo", "where colod pins its BPF maps"},
      {"socket", FlagType::kString, "/run/colo/colod.sock", "colod's API socket (unix path)"},
      {"json", FlagType::kBool, "false", "print machine-readable JSON instead of tables"},
      {"help", FlagType::kBool, "false", "show usage"},
  };
  return kFlags;
}

Invocation parseCommandLine(std::span<const std::string> argv, const std::vector<Command>& table) {
  Invocation inv;
  auto fill_defaults = [&](const std::vector<FlagSpec>& specs) {
    for (const auto& f : specs) {
      inv.args.values.emplace(f.name, f.default_value);
    }
  };
  fill_defaults(globalFlags());
  bool flags_done = false;
  bool help_command = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (!flags_done && word == "--") {
      flags_done = true;
      continue;
    }
    if (!flags_done && word.size() > 1 && word[0] == '-') {
      if (word == "-h") {
        inv.help = true;
        continue;
      }
      std::string_view body(word);
      body.remove_prefix(body.starts_with("--") ? 2 : 1);
      auto eq = body.find('=');
      std::string name = normalizeFlagName(body.substr(0, eq));
      const FlagSpec* spec = findFlag(globalFlags(), name);
      if (spec == nullptr && inv.command != nullptr) {
        spec = findFlag(inv.command->flags, name);
      }
      if (spec == nullptr) {
        inv.error = inv.command != nullptr
                        ? fmt::format("unknown flag --{} for \"{}\"", name, inv.command->name)
                        : fmt::format("unknown flag --{}", name);
        return inv;
      }
      std::string value;
      if (eq != std::string_view::npos) {
        value = std::string(body.substr(eq + 1));
      } else if (spec->type == FlagType::kBool) {
        value = "true";
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        inv.error = fmt::format("flag --{} needs a value", name);
        return inv;
      }
      if (auto problem = checkValue(*spec, value); !problem.empty()) {
        inv.error = problem;
        return inv;
      }
      if (spec->name == "help") {
        inv.help = inv.help || value == "true";
      }
      inv.args.values[spec->name] = value;
      inv.args.set_by_user[spec->name] = true;
      continue;
    }
    if (inv.command == nullptr && !help_command) {
      if (word == "help") {
        help_command = true;
        inv.help = true;
        continue;
      }
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const Command& c) { return c.name == word; });
      if (it == table.end()) {
        inv.error = fmt::format("unknown command \"{}\"", word);
        return inv;
      }
      inv.command = &*it;
      fill_defaults(inv.command->flags);
      continue;
    }
    if (help_command && inv.command == nullptr) {
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const Command& c) { return c.name == word; });
      if (it == table.end()) {
        inv.error = fmt::format("unknown command \"{}\"", word);
        return inv;
      }
      inv.command = &*it;
      continue;
    }
    inv.args.positional.push_back(word);
  }
  if (inv.help) {
    return inv;
  }
  if (inv.command == nullptr) {
    inv.error = "no command given";
    return inv;
  }
  size_t n = inv.args.positional.size();
  if (n < inv.command->min_args) {
    inv.error = fmt::format("\"{}\" needs {}", inv.command->name, inv.command->args_usage);
  } else if (n > inv.command->max_args) {
    inv.error = fmt::format("\"{}\" takes {} argument{}, got {}: \"{}\"", inv.command->name,
                            inv.command->max_args, inv.command->max_args == 1 ? "" : "s", n,
                            inv.args.positional[inv.command->max_args]);
  }
  return inv;
}

std::string usageText(const std::vector<Command>& table) {
  std::string out =
      "usage: coloctl [global flags] <command> [flags] [args]\n\n"
      "Inspect colo on this node: the BPF maps colod pins (readable while colod is stopped)\n"
      "and colod's local API.\n\ncommands:\n";
  size_t width = 0;
  for (const auto& c : table) {
    width = std::max(width, c.name.size());
  }
  for (const auto& c : table) {
    out += fmt::format("  {:<{}}  {}\n", c.name, width, c.summary);
  }
  out += "\nglobal flags:\n";
  for (const auto& f : globalFlags()) {
    out += flagLine(f);
  }
  out +=
      "\nRun `coloctl <command> --help` for a command's flags.\n"
      "Exit codes: 0 ok, 1 usage error, 2 kernel, permission or colod problem.\n";
  return out;
}

std::string commandUsage(const Command& command) {
  std::string out = fmt::format(
      "usage: coloctl {} [flags]{}{}\n\n{}\n", command.name, command.args_usage.empty() ? "" : " ",
      command.args_usage, command.description.empty() ? command.summary : command.description);
  if (!command.flags.empty()) {
    out += "\nflags:\n";
    for (const auto& f : command.flags) {
      out += flagLine(f);
    }
  }
  out += "\nglobal flags:\n";
  for (const auto& f : globalFlags()) {
    out += flagLine(f);
  }
  return out;
}

int runCli(std::span<const std::string> argv, const std::vector<Command>& table, CliContext ctx) {
  Invocation inv = parseCommandLine(argv, table);
  if (!inv.error.empty()) {
    *ctx.err << "coloctl: " << inv.error << "\n\n"
             << (inv.command != nullptr ? commandUsage(*inv.command) : usageText(table));
    return kExitUsage;
  }
  if (inv.help) {
    *ctx.out << (inv.command != nullptr ? commandUsage(*inv.command) : usageText(table));
    return kExitOk;
  }
  ctx.pin_dir = inv.args.str("pin_dir");
  ctx.socket = inv.args.str("socket");
  ctx.json = inv.args.flag("json");
  return inv.command->run(ctx, inv.args);
}

int systemError(const CliContext& ctx, std::string_view message) {
  *ctx.err << "coloctl: " << message << "\n";
  return kExitSystem;
}

std::string explainMapsError(const std::string& pin_dir, const Error& error) {
  switch (error.code()) {
    case ENOENT:
      return fmt::format(
          "no pinned maps at {}: is colod running? start it with `colod` (maps stay pinned after "
          "it stops), or pass --pin_dir ({})",
          pin_dir, error.message());
    case EPERM:
    case EACCES:
      return fmt::format(
          "not allowed to read the pinned maps at {}: run as root (reading BPF maps needs "
          "CAP_BPF and access to bpffs) ({})",
          pin_dir, error.message());
    case EPROTO:
      return fmt::format(
          "the maps pinned at {} come from a different colo version than this coloctl: use the "
          "coloctl shipped with the running colod, or restart colod to re-pin them ({})",
          pin_dir, error.message());
    default:
      return fmt::format("cannot read the pinned maps at {}: {}", pin_dir, error.message());
  }
}

std::string explainAgentError(const std::string& socket, const Error& error) {
  switch (error.code()) {
    case ENOENT:
    case ECONNREFUSED:
      return fmt::format(
          "colod is not running: nothing answers on {} ({}); start colod, or pass --socket "
          "if it listens elsewhere",
          socket, error.message());
    case EPERM:
    case EACCES:
      return fmt::format("not allowed to connect to {}: run as root ({})", socket, error.message());
    default:
      return fmt::format("colod at {}: {}", socket, error.message());
  }
}

}  // namespace colo::cli

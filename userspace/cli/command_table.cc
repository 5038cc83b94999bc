// coloctl's command table. A new command is one entry here (name, usage, flags, run function);
// its run function may live in any library coloctl links.
#include "cli/cli.h"
#include "cli/cmd_policy.h"
#include "cli/commands.h"
#include "cli/features_cmd.h"
#include "cli/revisions_cmd.h"

namespace colo::cli {
namespace {

int runFeaturesCommand(const CliContext& ctx, const Args&) {
  return runFeatures(ctx.json, *ctx.out, *ctx.err);
}

int runRevisionsCommand(const CliContext& ctx, const Args& args) {
  return runRevisions(args.str("state_dir"), ctx.json, *ctx.out, *ctx.err);
}

int runRollbackCommand(const CliContext& ctx, const Args& args) {
  return runRollback(args.str("state_dir"), args.positional.at(0), *ctx.out, *ctx.err);
}

const FlagSpec kStateDir = {"state_dir", FlagType::kString, "/var/lib/colo",
                            "colod's state directory (the executor's journal)"};

}  // namespace

const std::vector<Command>& coloctlCommands() {
  static const std::vector<Command> kTable = [] {
    std::vector<Command> table = coreCommands();
    table.push_back({
        .name = "features",
        .summary = "what enforcement this kernel offers (kmods-free feature probe)",
        .run = runFeaturesCommand,
    });
    table.push_back({
        .name = "revisions",
        .summary = "the cgroup writes colod made, as journaled revisions",
        .flags = {kStateDir},
        .run = runRevisionsCommand,
    });
    table.push_back({
        .name = "rollback",
        .args_usage = "<revision>|all",
        .summary = "undo one revision, or every change colo made (stop colod first)",
        .flags = {kStateDir},
        .min_args = 1,
        .max_args = 1,
        .run = runRollbackCommand,
    });
    table.push_back({
        .name = "controllers",
        .summary = "the policy engine: each controller's state, frozen or not and why",
        .run = runControllers,
    });
    table.push_back({
        .name = "profile",
        .args_usage = "[<container>]",
        .summary = "per-container CPU and memory usage profiles and recommended requests",
        .max_args = 1,
        .run = runProfile,
    });
    return table;
  }();
  return kTable;
}

}  // namespace colo::cli

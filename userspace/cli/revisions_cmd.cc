#include "cli/revisions_cmd.h"

#include <fmt/format.h>
#include <time.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "agent/executor/executor.h"
#include "cli/cli.h"
#include "common/fs.h"

namespace colo::cli {
namespace {

std::string isoTime(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

std::string summarize(const executor::RevisionInfo& r) {
  size_t failed = 0;
  size_t pending = 0;
  for (const auto& w : r.writes) {
    failed += w.outcome.starts_with("failed") ? 1 : 0;
    pending += w.outcome == "pending" ? 1 : 0;
  }
  std::string s = fmt::format("{} writes", r.writes.size());
  if (failed > 0) {
    s += fmt::format(", {} failed", failed);
  }
  if (pending > 0) {
    s += fmt::format(", {} pending", pending);
  }
  return s;
}

void printReport(const executor::RestoreReport& rep, std::ostream& out, std::ostream& err) {
  out << fmt::format("{} restored, {} already at their old value, {} vanished (dropped)\n",
                     rep.restored, rep.already, rep.vanished);
  for (const auto& e : rep.errors) {
    err << "coloctl rollback: " << e << "\n";
  }
}

}  // namespace

int runRevisions(const std::string& state_dir, bool json, std::ostream& out, std::ostream& err) {
  auto revs = executor::listRevisions(state_dir);
  if (!revs) {
    err << "coloctl revisions: " << revs.error().message() << "\n";
    return kExitSystem;
  }
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *revs) {
      nlohmann::json writes = nlohmann::json::array();
      for (const auto& w : r.writes) {
        writes.push_back({{"seq", w.seq},
                          {"path", w.path},
                          {"old", w.old_value},
                          {"new", w.new_value},
                          {"reason", w.reason},
                          {"outcome", w.outcome}});
      }
      arr.push_back({{"revision", r.id},
                     {"time", isoTime(r.time_ns)},
                     {"time_ns", r.time_ns},
                     {"reason", r.reason},
                     {"journal", r.journal},
                     {"writes", writes}});
    }
    out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (revs->empty()) {
    out << "no revisions recorded under " << state_dir << "\n";
    return 0;
  }
  out << fmt::format("{:>6}  {:<20}  {:<24}  {}\n", "REV", "TIME (UTC)", "WRITES", "REASON");
  for (const auto& r : *revs) {
    out << fmt::format("{:>6}  {:<20}  {:<24}  {}\n", r.id, isoTime(r.time_ns), summarize(r),
                       r.reason);
    for (const auto& w : r.writes) {
      out << fmt::format("        {}: {} -> {}  [{}] {}\n", w.path, w.old_value, w.new_value,
                         w.outcome, w.reason);
    }
  }
  return 0;
}

int runRollback(const std::string& state_dir, const std::string& revision_or_all, std::ostream& out,
                std::ostream& err) {
  bool all = revision_or_all == "all";
  uint64_t id = 0;
  if (!all) {
    auto [ptr, ec] = std::from_chars(revision_or_all.data(),
                                     revision_or_all.data() + revision_or_all.size(), id);
    if (ec != std::errc() || ptr != revision_or_all.data() + revision_or_all.size() || id == 0) {
      err << "coloctl rollback: expected a revision number or \"all\", got \"" << revision_or_all
          << "\"\n";
      return kExitUsage;
    }
  }
  static RealFs fs;
  executor::ExecutorOptions opts;
  opts.state_dir = state_dir;
  auto ex = executor::Executor::open(fs, opts);
  if (!ex) {
    err << "coloctl rollback: " << ex.error().message() << "\n";
    return kExitSystem;
  }
  if (all) {
    auto rep = (*ex)->restoreAll("operator: coloctl rollback all");
    printReport(rep, out, err);
    return rep.ok() ? kExitOk : kExitSystem;
  }
  auto rep = (*ex)->rollback(id);
  if (!rep) {
    err << "coloctl rollback: " << rep.error().message() << "\n";
    return kExitSystem;
  }
  printReport(*rep, out, err);
  return rep->ok() ? kExitOk : kExitSystem;
}

}  // namespace colo::cli

// `coloctl revisions` and `coloctl rollback`: the executor's journal as an operator sees it.
#pragma once

#include <ostream>
#include <string>

namespace colo::cli {

// Lists the recorded revisions under `state_dir` (oldest first): id, time, reason and each write
// (path, old -> new, outcome). Read-only; works while colod runs. Errors go to `err`. Returns
// coloctl's exit code: 0, or 2 (kExitSystem) when the state directory cannot be read.
int runRevisions(const std::string& state_dir, bool json, std::ostream& out, std::ostream& err);

// Undoes one revision ("<id>") or every change colo made ("all") by writing the journaled old
// values back, through the executor (journaled as a new revision). Needs the state directory for
// itself: refuses while colod owns it (stop colod first; colod restores everything on SIGTERM).
// Errors go to `err`. Returns coloctl's exit code: 0; 1 (kExitUsage) for an argument that is
// neither a revision number nor "all"; 2 (kExitSystem) when the state directory, the journal or
// a write stood in the way.
int runRollback(const std::string& state_dir, const std::string& revision_or_all, std::ostream& out,
                std::ostream& err);

}  // namespace colo::cli

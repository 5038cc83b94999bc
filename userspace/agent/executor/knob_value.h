// Knob values as the kernel prints them and as colo writes them. The kernel formats some knobs
// differently from what was written ("max" reads back "max 100000", memory limits are rounded to
// pages, cpusets may be written in any order); these helpers compare and restore them safely.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace colo::executor {

// The value read from `path`, turned into something that can be written back to restore it:
// whitespace trimmed, "root invalid (...)" partition states cut to their first word.
std::string writableForm(std::string_view path, std::string_view raw);

// True when reading `got` back from `path` confirms that writing `want` took effect.
bool knobMatches(std::string_view path, std::string_view want, std::string_view got);

// Parses a cpu list ("0-3,8,10-11"); false on malformed input. Empty text is the empty set.
bool parseCpuList(std::string_view text, std::set<int>* out);
// Formats a cpu set as the kernel does ("0-3,8").
std::string formatCpuList(const std::set<int>& cpus);

}  // namespace colo::executor

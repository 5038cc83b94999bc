#include "agent/policy/profile.h"

namespace colo::policy {

void ProfileStore::update(const NodeSnapshot& snap, const PolicyConfig& cfg) {
  generation_++;
  const auto n = static_cast<size_t>(cfg.profile.window_ticks);
  hint_.resize(snap.containers.size(), nullptr);
  size_t seen = 0;
  for (size_t i = 0; i < snap.containers.size(); ++i) {
    const auto& c = snap.containers[i];
    auto* kv = hint_[i];
    bool inserted = false;
    if (kv == nullptr || kv->first != c.id) {
      auto [it, ins] = entries_.try_emplace(c.id);
      kv = &*it;
      inserted = ins;
      hint_[i] = kv;
    }
    Entry& e = kv->second;
    if (e.seen != generation_) {
      ++seen;
    }
    if (inserted) {
      e.cpu = Window(n);
      e.mem = Window(n);
      e.ewma = c.cpu_usage_cores;
    } else {
      e.ewma += cfg.profile.ewma_alpha * (c.cpu_usage_cores - e.ewma);
    }
    e.tier = c.tier;
    e.request = c.cpu_request_cores;
    e.cpu.push(c.cpu_usage_cores);
    e.mem.push(static_cast<double>(c.memory_usage_bytes));
    e.seen = generation_;
  }
  if (seen != entries_.size()) {
    std::erase_if(entries_, [&](const auto& kv) { return kv.second.seen != generation_; });
  }
}

ContainerProfile ProfileStore::build(const std::string& id, const Entry& e,
                                     const PolicyConfig& cfg) const {
  ContainerProfile p;
  p.id = id;
  p.tier = e.tier;
  p.samples = e.cpu.size();
  p.cpu_p50 = e.cpu.percentile(50);
  p.cpu_p90 = e.cpu.percentile(90);
  p.cpu_p95 = e.cpu.percentile(95);
  p.cpu_p99 = e.cpu.percentile(99);
  p.cpu_max = e.cpu.max();
  p.cpu_ewma = e.ewma;
  p.periodic_usage_cores = e.cpu.percentile(cfg.profile.periodic_percentile);
  p.recommended_request_cores = p.periodic_usage_cores / cfg.be_cpu.safety_watermark;
  p.request_cores = e.request;
  p.memory_p95_bytes = e.mem.percentile(95);
  p.memory_max_bytes = e.mem.max();
  return p;
}

std::optional<ContainerProfile> ProfileStore::profile(const std::string& id,
                                                      const PolicyConfig& cfg) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return build(id, it->second, cfg);
}

nlohmann::json ContainerProfile::toJson() const {
  return {{"tier", tierName(tier)},
          {"samples", samples},
          {"cpu",
           {{"p50", cpu_p50},
            {"p90", cpu_p90},
            {"p95", cpu_p95},
            {"p99", cpu_p99},
            {"max", cpu_max},
            {"ewma", cpu_ewma}}},
          {"periodic_usage_cores", periodic_usage_cores},
          {"recommended_request_cores", recommended_request_cores},
          {"request_cores", request_cores ? nlohmann::json(*request_cores) : nlohmann::json()},
          {"memory", {{"p95_bytes", memory_p95_bytes}, {"max_bytes", memory_max_bytes}}}};
}

nlohmann::json ProfileStore::toJson(const PolicyConfig& cfg) const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [id, e] : entries_) {
    j[id] = build(id, e, cfg).toJson();
  }
  return j;
}

}  // namespace colo::policy

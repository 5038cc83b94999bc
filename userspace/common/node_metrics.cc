#include "common/node_metrics.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace colo {

std::string encodeNodeMetrics(const NodeMetrics& m) {
  return fmt::format(R"({{"v":{},"ts":{},"win":{},)"
                     R"("cpu":{{"cap":{},"used":{},"avg":{},"peak":{},"req":{}}},)"
                     R"("mem":{{"cap":{},"used":{},"avg":{},"peak":{}}},)"
                     R"("ls":{{"runq_p99_us":{},"guard":{}}},)"
                     R"("be":{{"cpu":{},"mem":{},"ot_cpu":{}}},)"
                     R"("wm":{{"cpu":{},"mem":{}}}}})",
                     m.version, m.timestamp_ms, m.window_s, m.cpu.capacity_m, m.cpu.used_m,
                     m.cpu.avg_m, m.cpu.peak_m, m.cpu.requests_m, m.memory.capacity_bytes,
                     m.memory.used_bytes, m.memory.avg_bytes, m.memory.peak_bytes, m.ls.runq_p99_us,
                     m.ls.guard_active ? "true" : "false", m.be.cpu_m, m.be.memory_bytes,
                     m.be.ot_cpu_m, m.watermark.cpu_pct, m.watermark.memory_pct);
}

namespace {

namespace od = simdjson::ondemand;

// Bit set of the keys seen, to report the first missing required one.
struct Seen {
  uint32_t bits = 0;
};

Status readInt(od::value v, std::string_view key, int64_t* out) {
  int64_t x = 0;
  if (v.get_int64().get(x) != simdjson::SUCCESS) {
    // Accept integral doubles too (1e3): some encoders write them.
    double d = 0;
    if (v.get_double().get(d) != simdjson::SUCCESS || d != static_cast<double>(int64_t(d))) {
      return failInvalid(fmt::format("{}: not an integer", key));
    }
    x = static_cast<int64_t>(d);
  }
  *out = x;
  return ok();
}

struct Field {
  const char* name;
  int64_t* target;
  bool required;
};

Status readObject(od::value v, std::string_view section, std::initializer_list<Field> fields,
                  bool* guard = nullptr) {
  od::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) {
    return failInvalid(fmt::format("{}: not an object", section));
  }
  uint32_t seen = 0;
  for (auto f : obj) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) {
      return failInvalid(fmt::format("{}: malformed key", section));
    }
    od::value val;
    if (f.value().get(val) != simdjson::SUCCESS) {
      return failInvalid(fmt::format("{}.{}: malformed value", section, key));
    }
    if (guard != nullptr && key == "guard") {
      bool b = false;
      if (val.get_bool().get(b) != simdjson::SUCCESS) {
        return failInvalid(fmt::format("{}.guard: not a boolean", section));
      }
      *guard = b;
      continue;
    }
    uint32_t i = 0;
    for (const Field& fd : fields) {
      if (key == fd.name) {
        if (auto st = readInt(val, fmt::format("{}.{}", section, key), fd.target); !st) {
          return st;
        }
        seen |= 1u << i;
        break;
      }
      ++i;
    }
  }
  uint32_t i = 0;
  for (const Field& fd : fields) {
    if (fd.required && !(seen & (1u << i))) {
      return failInvalid(fmt::format("{}.{}: missing", section, fd.name));
    }
    ++i;
  }
  return ok();
}

Result<NodeMetrics> decodeParsed(od::document& doc) {
  NodeMetrics m;
  m.version = 0;
  od::object root;
  if (auto ec = doc.get_object().get(root); ec != simdjson::SUCCESS) {
    return failInvalid(ec == simdjson::INCORRECT_TYPE
                           ? std::string("not a JSON object")
                           : fmt::format("not a JSON object: {}", simdjson::error_message(ec)));
  }
  int64_t version = -1, ts = -1, win = 0;
  int64_t wm_cpu = -1, wm_mem = -1;
  bool have_cpu = false, have_mem = false, have_be = false, have_wm = false;
  for (auto f : root) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) {
      return failInvalid("malformed key");
    }
    od::value v;
    if (f.value().get(v) != simdjson::SUCCESS) {
      return failInvalid(fmt::format("{}: malformed value", key));
    }
    Status st = ok();
    if (key == "v") {
      st = readInt(v, "v", &version);
    } else if (key == "ts") {
      st = readInt(v, "ts", &ts);
    } else if (key == "win") {
      st = readInt(v, "win", &win);
    } else if (key == "cpu") {
      have_cpu = true;
      st = readObject(v, "cpu",
                      {{"cap", &m.cpu.capacity_m, true},
                       {"used", &m.cpu.used_m, true},
                       {"avg", &m.cpu.avg_m, false},
                       {"peak", &m.cpu.peak_m, false},
                       {"req", &m.cpu.requests_m, false}});
    } else if (key == "mem") {
      have_mem = true;
      st = readObject(v, "mem",
                      {{"cap", &m.memory.capacity_bytes, true},
                       {"used", &m.memory.used_bytes, true},
                       {"avg", &m.memory.avg_bytes, false},
                       {"peak", &m.memory.peak_bytes, false}});
    } else if (key == "ls") {
      st = readObject(v, "ls", {{"runq_p99_us", &m.ls.runq_p99_us, false}}, &m.ls.guard_active);
    } else if (key == "be") {
      have_be = true;
      st = readObject(v, "be",
                      {{"cpu", &m.be.cpu_m, true},
                       {"mem", &m.be.memory_bytes, true},
                       {"ot_cpu", &m.be.ot_cpu_m, false}});
    } else if (key == "wm") {
      have_wm = true;
      st = readObject(v, "wm", {{"cpu", &wm_cpu, true}, {"mem", &wm_mem, true}});
    }
    if (!st) {
      return fail(st.error());
    }
  }
  if (version < 0) {
    return failInvalid("v: missing");
  }
  if (version < 1 || version > kNodeMetricsVersion) {
    return failInvalid(fmt::format("v: schema version {} not supported (this build reads 1..{})",
                                   version, kNodeMetricsVersion));
  }
  if (ts < 0) {
    return failInvalid("ts: missing");
  }
  if (!have_cpu) {
    return failInvalid("cpu: missing");
  }
  if (!have_mem) {
    return failInvalid("mem: missing");
  }
  if (!have_be) {
    return failInvalid("be: missing");
  }
  if (!have_wm) {
    return failInvalid("wm: missing");
  }
  if (m.cpu.capacity_m <= 0) {
    return failInvalid("cpu.cap: must be > 0");
  }
  if (m.memory.capacity_bytes <= 0) {
    return failInvalid("mem.cap: must be > 0");
  }
  if (m.cpu.used_m < 0 || m.memory.used_bytes < 0) {
    return failInvalid("cpu.used/mem.used: negative");
  }
  if (wm_cpu < 0 || wm_cpu > 100 || wm_mem < 0 || wm_mem > 100) {
    return failInvalid("wm: percentages must be within 0..100");
  }
  m.version = static_cast<int>(version);
  m.timestamp_ms = ts;
  m.window_s = static_cast<int>(win);
  m.watermark.cpu_pct = static_cast<int>(wm_cpu);
  m.watermark.memory_pct = static_cast<int>(wm_mem);
  return m;
}

}  // namespace

Result<NodeMetrics> decodeNodeMetrics(std::string_view json) {
  thread_local od::parser parser;
  thread_local std::string buf;
  buf.assign(json);
  buf.resize(json.size() + simdjson::SIMDJSON_PADDING, ' ');
  od::document doc;
  if (parser.iterate(buf.data(), json.size(), buf.size()).get(doc) != simdjson::SUCCESS) {
    return failInvalid("node metrics: not JSON");
  }
  try {
    auto r = decodeParsed(doc);
    if (!r) {
      return fail(r.error().wrap("node metrics"));
    }
    // Trailing garbage after the object.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
      return failInvalid("node metrics: trailing data after the object");
    }
    return r;
  } catch (const simdjson::simdjson_error& e) {
    return failInvalid(fmt::format("node metrics: {}", e.what()));
  }
}

}  // namespace colo

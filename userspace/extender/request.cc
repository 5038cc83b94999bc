#include "extender/request.h"

#include <fmt/format.h>

#include <algorithm>

#include "extender/quantity.h"

namespace colo::extender {

std::string_view tierName(Tier t) {
  switch (t) {
    case Tier::kLSX:
      return "LSX";
    case Tier::kLSR:
      return "LSR";
    case Tier::kLS:
      return "LS";
    case Tier::kBE:
      return "BE";
  }
  return "?";
}

std::string_view metricsStateName(MetricsState s) {
  switch (s) {
    case MetricsState::kOk:
      return "ok";
    case MetricsState::kMissing:
      return "missing";
    case MetricsState::kStale:
      return "stale";
    case MetricsState::kGarbled:
      return "garbled";
  }
  return "?";
}

namespace {

namespace od = simdjson::ondemand;
using simdjson::SUCCESS;

std::unexpected<Error> shapeError(std::string_view where, std::string_view what,
                                  simdjson::error_code ec) {
  if (ec == simdjson::INCORRECT_TYPE) {
    return failInvalid(fmt::format("{}: expected {}", where, what));
  }
  return failInvalid(fmt::format("{}: {}", where, simdjson::error_message(ec)));
}

bool isNull(od::value& v) {
  bool null = false;
  return v.is_null().get(null) == SUCCESS && null;
}

struct Resources {
  int64_t cpu_m = 0, memory = 0, be_cpu = 0, be_memory = 0, ot_cpu = 0;
  bool any_cpu_mem = false;  // a cpu or memory request/limit exists (not BestEffort)
  bool colo = false;
};

// Calls fn(key, value) for each member of object `v` (null: no members); stops at fn's first
// error. `expected` names the shape in the error when `v` is not an object.
template <typename F>
Status forEachMember(od::value v, std::string_view where, std::string_view expected, F fn) {
  if (isNull(v)) {
    return ok();
  }
  od::object obj;
  if (auto ec = v.get_object().get(obj); ec != SUCCESS) {
    return shapeError(where, expected, ec);
  }
  for (auto f : obj) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError(where, "a key", ec);
    }
    od::value val;
    if (auto ec = f.value().get(val); ec != SUCCESS) {
      return shapeError(where, "a value", ec);
    }
    if (auto st = fn(key, val); !st) {
      return st;
    }
  }
  return ok();
}

// Reads a {name: quantity} map into r. `is_limits`: only fills what requests left unset.
Status readResourceMap(od::value v, std::string_view where, Resources* r, Resources* seen_req,
                       bool is_limits) {
  return forEachMember(
      v, where, "an object of quantities", [&](std::string_view key, od::value val) -> Status {
        bool is_cpu = key == "cpu", is_mem = key == "memory";
        bool is_be_cpu = key == "colo.io/be-cpu", is_be_mem = key == "colo.io/be-memory",
             is_ot_cpu = key == "colo.io/ot-cpu";
        bool colo = key.starts_with("colo.io/be-") || key.starts_with("colo.io/ot-");
        if (colo) {
          r->colo = true;
        }
        if (!(is_cpu || is_mem || is_be_cpu || is_be_mem || is_ot_cpu)) {
          return ok();
        }
        std::string_view text;
        std::string number_text;
        if (val.get_string().get(text) != SUCCESS) {
          double d = 0;
          if (val.get_double().get(d) != SUCCESS) {
            return failInvalid(fmt::format("{}.{}: expected a quantity string", where, key));
          }
          number_text = fmt::format("{}", d);
          text = number_text;
        }
        auto q = parseQuantity(text, is_cpu ? 1000 : 1);
        if (!q || *q < 0) {
          return failInvalid(fmt::format("{}.{}: {:?} is not a quantity", where, key, text));
        }
        if (is_cpu || is_mem) {
          r->any_cpu_mem = true;
        }
        int64_t* slot = is_cpu      ? &r->cpu_m
                        : is_mem    ? &r->memory
                        : is_be_cpu ? &r->be_cpu
                        : is_be_mem ? &r->be_memory
                                    : &r->ot_cpu;
        int64_t* seen = is_cpu      ? &seen_req->cpu_m
                        : is_mem    ? &seen_req->memory
                        : is_be_cpu ? &seen_req->be_cpu
                        : is_be_mem ? &seen_req->be_memory
                                    : &seen_req->ot_cpu;
        if (!is_limits) {
          *slot = *q;
          *seen = 1;
        } else if (*seen == 0) {
          *slot = *q;  // a limit without a request defaults the request
        }
        return ok();
      });
}

Status readContainers(od::value v, std::string_view where, Resources* sum, Resources* max_init,
                      bool init) {
  if (isNull(v)) {
    return ok();
  }
  od::array arr;
  if (auto ec = v.get_array().get(arr); ec != SUCCESS) {
    return shapeError(where, "an array of containers", ec);
  }
  size_t idx = 0;
  for (auto elem : arr) {
    std::string here = fmt::format("{}[{}]", where, idx++);
    od::object c;
    if (auto ec = elem.get_object().get(c); ec != SUCCESS) {
      return shapeError(here, "an object", ec);
    }
    Resources r, seen;
    for (auto f : c) {
      std::string_view key;
      if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
        return shapeError(here, "a key", ec);
      }
      if (key != "resources") {
        continue;
      }
      od::value rv;
      if (auto ec = f.value().get(rv); ec != SUCCESS) {
        return shapeError(here + ".resources", "an object", ec);
      }
      if (isNull(rv)) {
        continue;
      }
      od::object ro;
      if (auto ec = rv.get_object().get(ro); ec != SUCCESS) {
        return shapeError(here + ".resources", "an object", ec);
      }
      // Requests first would be simpler, but JSON order is the sender's; limits fill only
      // what requests did not set, so read both and merge after.
      Resources req, lim, req_seen, lim_seen;
      for (auto rf : ro) {
        std::string_view rk;
        if (auto ec = rf.unescaped_key().get(rk); ec != SUCCESS) {
          return shapeError(here + ".resources", "a key", ec);
        }
        od::value mv;
        if (auto ec = rf.value().get(mv); ec != SUCCESS) {
          return shapeError(here + ".resources", "a value", ec);
        }
        if (rk == "requests") {
          if (auto st = readResourceMap(mv, here + ".resources.requests", &req, &req_seen, false);
              !st) {
            return st;
          }
        } else if (rk == "limits") {
          if (auto st = readResourceMap(mv, here + ".resources.limits", &lim, &lim_seen, false);
              !st) {
            return st;
          }
        }
      }
      auto merge = [](int64_t reqv, int64_t seen_req, int64_t limv) {
        return seen_req != 0 ? reqv : limv;
      };
      r.cpu_m = merge(req.cpu_m, req_seen.cpu_m, lim.cpu_m);
      r.memory = merge(req.memory, req_seen.memory, lim.memory);
      r.be_cpu = merge(req.be_cpu, req_seen.be_cpu, lim.be_cpu);
      r.be_memory = merge(req.be_memory, req_seen.be_memory, lim.be_memory);
      r.ot_cpu = merge(req.ot_cpu, req_seen.ot_cpu, lim.ot_cpu);
      r.any_cpu_mem = req.any_cpu_mem || lim.any_cpu_mem;
      r.colo = req.colo || lim.colo;
    }
    Resources* into = init ? max_init : sum;
    if (init) {
      into->cpu_m = std::max(into->cpu_m, r.cpu_m);
      into->memory = std::max(into->memory, r.memory);
      into->be_cpu = std::max(into->be_cpu, r.be_cpu);
      into->be_memory = std::max(into->be_memory, r.be_memory);
      into->ot_cpu = std::max(into->ot_cpu, r.ot_cpu);
    } else {
      into->cpu_m += r.cpu_m;
      into->memory += r.memory;
      into->be_cpu += r.be_cpu;
      into->be_memory += r.be_memory;
      into->ot_cpu += r.ot_cpu;
    }
    into->any_cpu_mem |= r.any_cpu_mem;
    into->colo |= r.colo;
  }
  return ok();
}

// Calls fn(key, value) for each member of a string map; a non-string value is an error.
template <typename F>
Status forEachString(od::value v, std::string_view where, F fn) {
  return forEachMember(v, where, "an object of strings",
                       [&](std::string_view key, od::value val) -> Status {
                         std::string_view s;
                         if (val.get_string().get(s) != SUCCESS) {
                           return failInvalid(fmt::format("{}.{}: expected a string", where, key));
                         }
                         fn(key, s);
                         return ok();
                       });
}

Status parsePod(od::value v, PodInfo* pod) {
  od::object obj;
  if (auto ec = v.get_object().get(obj); ec != SUCCESS) {
    return shapeError("Pod", "an object", ec);
  }
  Resources sum, max_init;
  std::string qos_label;
  bool have_qos_label = false;
  for (auto f : obj) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError("Pod", "a key", ec);
    }
    od::value fv;
    if (auto ec = f.value().get(fv); ec != SUCCESS) {
      return shapeError(fmt::format("Pod.{}", key), "a value", ec);
    }
    if (key == "metadata") {
      od::object md;
      if (auto ec = fv.get_object().get(md); ec != SUCCESS) {
        return shapeError("Pod.metadata", "an object", ec);
      }
      for (auto mf : md) {
        std::string_view mk;
        if (auto ec = mf.unescaped_key().get(mk); ec != SUCCESS) {
          return shapeError("Pod.metadata", "a key", ec);
        }
        od::value mv;
        if (auto ec = mf.value().get(mv); ec != SUCCESS) {
          return shapeError("Pod.metadata", "a value", ec);
        }
        std::string_view s;
        if (mk == "name" || mk == "namespace" || mk == "uid") {
          if (mv.get_string().get(s) != SUCCESS) {
            return failInvalid(fmt::format("Pod.metadata.{}: expected a string", mk));
          }
          (mk == "name" ? pod->name : mk == "namespace" ? pod->ns : pod->uid) = std::string(s);
        } else if (mk == "labels") {
          auto st = forEachString(mv, "Pod.metadata.labels",
                                  [&](std::string_view k, std::string_view val) {
                                    if (k == "colo.io/qos") {
                                      qos_label = std::string(val);
                                      have_qos_label = true;
                                    }
                                  });
          if (!st) {
            return st;
          }
        }
      }
    } else if (key == "spec") {
      od::object spec;
      if (auto ec = fv.get_object().get(spec); ec != SUCCESS) {
        return shapeError("Pod.spec", "an object", ec);
      }
      for (auto sf : spec) {
        std::string_view sk;
        if (auto ec = sf.unescaped_key().get(sk); ec != SUCCESS) {
          return shapeError("Pod.spec", "a key", ec);
        }
        if (sk != "containers" && sk != "initContainers") {
          continue;
        }
        od::value cv;
        if (auto ec = sf.value().get(cv); ec != SUCCESS) {
          return shapeError(fmt::format("Pod.spec.{}", sk), "a value", ec);
        }
        bool init = sk == "initContainers";
        if (auto st = readContainers(cv, init ? "Pod.spec.initContainers" : "Pod.spec.containers",
                                     &sum, &max_init, init);
            !st) {
          return st;
        }
      }
    }
  }
  pod->cpu_request_m = std::max(sum.cpu_m, max_init.cpu_m);
  pod->memory_request_bytes = std::max(sum.memory, max_init.memory);
  pod->be_cpu_m = std::max(sum.be_cpu, max_init.be_cpu);
  pod->be_memory_bytes = std::max(sum.be_memory, max_init.be_memory);
  pod->ot_cpu_m = std::max(sum.ot_cpu, max_init.ot_cpu);
  pod->wants_colocation = sum.colo || max_init.colo;
  if (have_qos_label) {
    if (qos_label == "LSX") {
      pod->tier = Tier::kLSX;
    } else if (qos_label == "LSR") {
      pod->tier = Tier::kLSR;
    } else if (qos_label == "BE") {
      pod->tier = Tier::kBE;
    } else {
      pod->tier = Tier::kLS;
    }
  } else {
    bool best_effort = !sum.any_cpu_mem && !max_init.any_cpu_mem;
    // A pod asking for BE capacity is BE whatever its cpu/memory requests say.
    pod->tier = (best_effort || pod->be_cpu_m > 0 || pod->be_memory_bytes > 0 || pod->ot_cpu_m > 0)
                    ? Tier::kBE
                    : Tier::kLS;
  }
  return ok();
}

}  // namespace

Status ArgsParser::parseNode(od::value v, std::string_view where, NodeEntry* out,
                             std::string* resource_version) {
  od::object obj;
  if (auto ec = v.get_object().get(obj); ec != SUCCESS) {
    return shapeError(where, "a Node object", ec);
  }
  std::string_view annotation;
  bool have_annotation = false;
  for (auto f : obj) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError(where, "a key", ec);
    }
    if (key != "metadata") {
      continue;  // spec and status are skipped unread
    }
    od::value mv;
    if (auto ec = f.value().get(mv); ec != SUCCESS) {
      return shapeError(fmt::format("{}.metadata", where), "an object", ec);
    }
    od::object md;
    if (auto ec = mv.get_object().get(md); ec != SUCCESS) {
      return shapeError(fmt::format("{}.metadata", where), "an object", ec);
    }
    for (auto mf : md) {
      std::string_view mk;
      if (auto ec = mf.unescaped_key().get(mk); ec != SUCCESS) {
        return shapeError(fmt::format("{}.metadata", where), "a key", ec);
      }
      od::value val;
      if (auto ec = mf.value().get(val); ec != SUCCESS) {
        return shapeError(fmt::format("{}.metadata.{}", where, mk), "a value", ec);
      }
      if (mk == "name") {
        std::string_view s;
        if (val.get_string().get(s) != SUCCESS) {
          return failInvalid(fmt::format("{}.metadata.name: expected a string", where));
        }
        out->name = std::string(s);
      } else if (mk == "resourceVersion" && resource_version != nullptr) {
        std::string_view s;
        if (val.get_string().get(s) == SUCCESS) {
          *resource_version = std::string(s);
        }
      } else if (mk == "labels") {
        auto st = forEachString(val, fmt::format("{}.metadata.labels", where),
                                [&](std::string_view k, std::string_view s) {
                                  if (k == label_ && s == label_value_) {
                                    out->colocation_open = true;
                                  }
                                });
        if (!st) {
          return st;
        }
      } else if (mk == "annotations") {
        auto st = forEachString(val, fmt::format("{}.metadata.annotations", where),
                                [&](std::string_view k, std::string_view s) {
                                  if (k == kNodeMetricsAnnotation) {
                                    annotation = s;
                                    have_annotation = true;
                                  }
                                });
        if (!st) {
          return st;
        }
      }
    }
  }
  if (out->name.empty()) {
    return failInvalid(fmt::format("{}.metadata.name: missing", where));
  }
  if (have_annotation) {
    // The view points into the parser's string buffer, which decoding does not touch (it uses
    // its own parser).
    auto m = decodeNodeMetrics(annotation);
    if (m) {
      out->metrics = *m;
      out->has_metrics = true;
    } else {
      out->metrics_error = m.error().message();
    }
  }
  return ok();
}

Status ArgsParser::parseCopy(std::string_view body, ParsedArgs* out) {
  pad_.assign(body);
  pad_.resize(body.size() + simdjson::SIMDJSON_PADDING, ' ');
  return parse(std::string_view(pad_.data(), body.size()), pad_.size(), out);
}

Status ArgsParser::parse(std::string_view body, size_t capacity, ParsedArgs* out) {
  out->clear();
  if (capacity < body.size() + simdjson::SIMDJSON_PADDING) {
    return parseCopy(body, out);
  }
  od::document doc;
  if (auto ec = parser_.iterate(body.data(), body.size(), capacity).get(doc); ec != SUCCESS) {
    return failInvalid(fmt::format("malformed JSON: {}", simdjson::error_message(ec)));
  }
  od::object root;
  if (auto ec = doc.get_object().get(root); ec != SUCCESS) {
    return shapeError("request body", "an ExtenderArgs object", ec);
  }
  bool have_pod = false, have_nodes = false, have_names = false;
  for (auto f : root) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError("request body", "a key", ec);
    }
    od::value v;
    if (auto ec = f.value().get(v); ec != SUCCESS) {
      return shapeError(key, "a value", ec);
    }
    if (key == "Pod") {
      if (isNull(v)) {
        continue;
      }
      if (auto st = parsePod(v, &out->pod); !st) {
        return st;
      }
      have_pod = true;
    } else if (key == "NodeNames") {
      if (isNull(v)) {
        continue;
      }
      od::array arr;
      if (auto ec = v.get_array().get(arr); ec != SUCCESS) {
        return shapeError("NodeNames", "an array of strings or null", ec);
      }
      size_t i = 0;
      for (auto e : arr) {
        std::string_view s;
        if (auto ec = e.get_string().get(s); ec != SUCCESS) {
          return shapeError(fmt::format("NodeNames[{}]", i), "a string", ec);
        }
        out->names.push_back(s);
        ++i;
      }
      have_names = true;
    } else if (key == "Nodes") {
      if (isNull(v)) {
        continue;
      }
      od::object list;
      if (auto ec = v.get_object().get(list); ec != SUCCESS) {
        return shapeError("Nodes", "a NodeList object or null", ec);
      }
      for (auto lf : list) {
        std::string_view lk;
        if (auto ec = lf.unescaped_key().get(lk); ec != SUCCESS) {
          return shapeError("Nodes", "a key", ec);
        }
        if (lk != "items") {
          continue;
        }
        od::value iv;
        if (auto ec = lf.value().get(iv); ec != SUCCESS) {
          return shapeError("Nodes.items", "an array", ec);
        }
        if (isNull(iv)) {
          continue;
        }
        od::array items;
        if (auto ec = iv.get_array().get(items); ec != SUCCESS) {
          return shapeError("Nodes.items", "an array of Node objects", ec);
        }
        size_t i = 0;
        for (auto e : items) {
          std::string where = fmt::format("Nodes.items[{}]", i++);
          od::value ev;
          if (auto ec = e.get(ev); ec != SUCCESS) {
            return shapeError(where, "a Node object", ec);
          }
          od::object nobj;
          if (auto ec = ev.get_object().get(nobj); ec != SUCCESS) {
            return shapeError(where, "a Node object", ec);
          }
          ParsedArgs::Item item;
          // parseNode takes a value; re-wrap the object by iterating it here instead.
          {
            std::string_view annotation;
            bool have_annotation = false;
            for (auto nf : nobj) {
              std::string_view nk;
              if (auto ec = nf.unescaped_key().get(nk); ec != SUCCESS) {
                return shapeError(where, "a key", ec);
              }
              if (nk != "metadata") {
                continue;
              }
              od::value mv;
              if (auto ec = nf.value().get(mv); ec != SUCCESS) {
                return shapeError(where + ".metadata", "an object", ec);
              }
              od::object md;
              if (auto ec = mv.get_object().get(md); ec != SUCCESS) {
                return shapeError(where + ".metadata", "an object", ec);
              }
              for (auto mf : md) {
                std::string_view mk;
                if (auto ec = mf.unescaped_key().get(mk); ec != SUCCESS) {
                  return shapeError(where + ".metadata", "a key", ec);
                }
                od::value val;
                if (auto ec = mf.value().get(val); ec != SUCCESS) {
                  return shapeError(where + ".metadata", "a value", ec);
                }
                if (mk == "name") {
                  std::string_view s;
                  if (val.get_string().get(s) != SUCCESS) {
                    return failInvalid(where + ".metadata.name: expected a string");
                  }
                  item.entry.name = std::string(s);
                } else if (mk == "labels") {
                  auto st = forEachString(val, where + ".metadata.labels",
                                          [&](std::string_view k, std::string_view s) {
                                            if (k == label_ && s == label_value_) {
                                              item.entry.colocation_open = true;
                                            }
                                          });
                  if (!st) {
                    return st;
                  }
                } else if (mk == "annotations") {
                  auto st = forEachString(val, where + ".metadata.annotations",
                                          [&](std::string_view k, std::string_view s) {
                                            if (k == kNodeMetricsAnnotation) {
                                              annotation = s;
                                              have_annotation = true;
                                            }
                                          });
                  if (!st) {
                    return st;
                  }
                }
              }
            }
            if (item.entry.name.empty()) {
              return failInvalid(where + ".metadata.name: missing");
            }
            if (have_annotation) {
              auto m = decodeNodeMetrics(annotation);
              if (m) {
                item.entry.metrics = *m;
                item.entry.has_metrics = true;
              } else {
                item.entry.metrics_error = m.error().message();
              }
            }
          }
          // The whole object as received, to answer in the same form.
          if (auto ec = nobj.raw_json().get(item.raw); ec != SUCCESS) {
            return shapeError(where, "a Node object", ec);
          }
          out->nodes.push_back(std::move(item));
        }
      }
      have_nodes = true;
    }
  }
  // Anything but the end of the input after the object is trailing garbage.
  if (const char* rest = nullptr; doc.current_location().get(rest) == SUCCESS) {
    return failInvalid("malformed JSON: trailing content after the ExtenderArgs object");
  }
  if (!have_pod) {
    return failInvalid("Pod: missing or null");
  }
  if (!have_nodes && !have_names) {
    return failInvalid("Nodes and NodeNames: both missing or null; one must be set");
  }
  out->nodes_mode = have_nodes;
  return ok();
}

Result<WatchEvent> ArgsParser::parseWatchEvent(std::string_view line) {
  pad_.assign(line);
  pad_.resize(line.size() + simdjson::SIMDJSON_PADDING, ' ');
  od::document doc;
  if (auto ec = parser_.iterate(pad_.data(), line.size(), pad_.size()).get(doc); ec != SUCCESS) {
    return failInvalid(fmt::format("watch event: {}", simdjson::error_message(ec)));
  }
  WatchEvent ev;
  od::object root;
  if (auto ec = doc.get_object().get(root); ec != SUCCESS) {
    return shapeError("watch event", "an object", ec);
  }
  // "type" usually comes first, but the object's meaning depends on it: keep its raw form.
  std::string_view object_raw;
  for (auto f : root) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError("watch event", "a key", ec);
    }
    od::value v;
    if (auto ec = f.value().get(v); ec != SUCCESS) {
      return shapeError("watch event", "a value", ec);
    }
    if (key == "type") {
      std::string_view s;
      if (v.get_string().get(s) != SUCCESS) {
        return failInvalid("watch event.type: expected a string");
      }
      ev.type = std::string(s);
    } else if (key == "object") {
      od::object o;
      if (auto ec = v.get_object().get(o); ec != SUCCESS) {
        return shapeError("watch event.object", "an object", ec);
      }
      if (auto ec = o.raw_json().get(object_raw); ec != SUCCESS) {
        return shapeError("watch event.object", "an object", ec);
      }
    }
  }
  if (ev.type.empty() || object_raw.empty()) {
    return failInvalid("watch event: type or object missing");
  }
  // Parse the object on its own: it lies inside pad_, which is padded past the line's end.
  od::document odoc;
  size_t room = static_cast<size_t>(pad_.data() + pad_.size() - object_raw.data());
  if (auto ec = parser_.iterate(object_raw.data(), object_raw.size(), room).get(odoc);
      ec != SUCCESS) {
    return failInvalid(fmt::format("watch event.object: {}", simdjson::error_message(ec)));
  }
  od::value ov;
  if (auto ec = odoc.get_value().get(ov); ec != SUCCESS) {
    return shapeError("watch event.object", "an object", ec);
  }
  if (ev.type == "ERROR") {
    od::object o;
    if (auto ec = ov.get_object().get(o); ec != SUCCESS) {
      return shapeError("watch event.object", "a Status", ec);
    }
    for (auto f : o) {
      std::string_view key;
      if (f.unescaped_key().get(key) != SUCCESS) {
        break;
      }
      od::value v;
      if (f.value().get(v) != SUCCESS) {
        break;
      }
      if (key == "code") {
        int64_t code = 0;
        if (v.get_int64().get(code) == SUCCESS) {
          ev.error_code = static_cast<int>(code);
        }
      } else if (key == "message") {
        std::string_view s;
        if (v.get_string().get(s) == SUCCESS) {
          ev.error_message = std::string(s);
        }
      }
    }
    return ev;
  }
  if (ev.type == "BOOKMARK") {
    // Only metadata.resourceVersion matters.
    od::object o;
    if (auto ec = ov.get_object().get(o); ec != SUCCESS) {
      return shapeError("watch event.object", "an object", ec);
    }
    for (auto f : o) {
      std::string_view key;
      if (f.unescaped_key().get(key) != SUCCESS || key != "metadata") {
        continue;
      }
      od::object md;
      if (f.value().get_object().get(md) != SUCCESS) {
        break;
      }
      for (auto mf : md) {
        std::string_view mk;
        if (mf.unescaped_key().get(mk) == SUCCESS && mk == "resourceVersion") {
          std::string_view s;
          if (mf.value().get_string().get(s) == SUCCESS) {
            ev.resource_version = std::string(s);
          }
        }
      }
    }
    return ev;
  }
  if (auto st = parseNode(ov, "watch event.object", &ev.node, &ev.resource_version); !st) {
    return fail(st.error());
  }
  return ev;
}

Result<NodeList> ArgsParser::parseNodeList(std::string_view body) {
  pad_.assign(body);
  pad_.resize(body.size() + simdjson::SIMDJSON_PADDING, ' ');
  od::document doc;
  if (auto ec = parser_.iterate(pad_.data(), body.size(), pad_.size()).get(doc); ec != SUCCESS) {
    return failInvalid(fmt::format("node list: {}", simdjson::error_message(ec)));
  }
  NodeList list;
  od::object root;
  if (auto ec = doc.get_object().get(root); ec != SUCCESS) {
    return shapeError("node list", "an object", ec);
  }
  for (auto f : root) {
    std::string_view key;
    if (auto ec = f.unescaped_key().get(key); ec != SUCCESS) {
      return shapeError("node list", "a key", ec);
    }
    od::value v;
    if (auto ec = f.value().get(v); ec != SUCCESS) {
      return shapeError("node list", "a value", ec);
    }
    if (key == "metadata") {
      od::object md;
      if (auto ec = v.get_object().get(md); ec != SUCCESS) {
        return shapeError("node list.metadata", "an object", ec);
      }
      for (auto mf : md) {
        std::string_view mk;
        if (mf.unescaped_key().get(mk) != SUCCESS) {
          break;
        }
        std::string_view s;
        if (mk == "resourceVersion" && mf.value().get_string().get(s) == SUCCESS) {
          list.resource_version = std::string(s);
        } else if (mk == "continue" && mf.value().get_string().get(s) == SUCCESS) {
          list.continue_token = std::string(s);
        }
      }
    } else if (key == "items") {
      if (isNull(v)) {
        continue;
      }
      od::array arr;
      if (auto ec = v.get_array().get(arr); ec != SUCCESS) {
        return shapeError("node list.items", "an array", ec);
      }
      size_t i = 0;
      for (auto e : arr) {
        od::value ev;
        if (auto ec = e.get(ev); ec != SUCCESS) {
          return shapeError("node list.items", "a Node", ec);
        }
        NodeEntry n;
        if (auto st = parseNode(ev, fmt::format("node list.items[{}]", i++), &n, nullptr); !st) {
          return fail(st.error());
        }
        list.items.push_back(std::move(n));
      }
    }
  }
  return list;
}

}  // namespace colo::extender

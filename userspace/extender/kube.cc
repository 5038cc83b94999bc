#include "extender/kube.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "extender/request.h"

namespace colo::extender {
namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return failErrno(errno, fmt::format("read {}", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

Result<std::string> base64Decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+' || c == '-')
      return 62;
    if (c == '/' || c == '_')
      return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') {
      continue;
    }
    int v = val(c);
    if (v < 0) {
      return failInvalid("invalid base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string urlEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace

Status setServer(const std::string& url, KubeEndpoint* endpoint) {
  std::string rest;
  bool tls;
  if (url.rfind("https://", 0) == 0) {
    tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    tls = false;
    rest = url.substr(7);
  } else {
    return failInvalid(fmt::format("server {:?}: must start with https:// or http://", url));
  }
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    if (rest.substr(slash) != "/") {
      return failInvalid(fmt::format("server {:?}: a path prefix is not supported", url));
    }
    rest = rest.substr(0, slash);
  }
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    has_port = rest.find("]:") != std::string::npos;
  } else {
    has_port = rest.find(':') != std::string::npos;
  }
  if (rest.empty()) {
    return failInvalid(fmt::format("server {:?}: no host", url));
  }
  endpoint->address = has_port ? rest : rest + (tls ? ":443" : ":80");
  endpoint->client.tls = tls;
  return ok();
}

Result<KubeEndpoint> inClusterEndpoint(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr) {
    return failInvalid(
        "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset): pass --kubeconfig");
  }
  KubeEndpoint ep;
  std::string h = host;
  if (h.find(':') != std::string::npos) {
    h = "[" + h + "]";
  }
  if (auto st = setServer(fmt::format("https://{}:{}", h, port), &ep); !st) {
    return fail(st.error());
  }
  ep.token_file = sa_dir + "/token";
  if (auto t = readFile(ep.token_file); !t) {
    return fail(t.error().wrap("service account token (is automountServiceAccountToken off?)"));
  }
  ep.client.tls_ca_file = sa_dir + "/ca.crt";
  ep.client.tls_server_name = "kubernetes.default.svc";
  return ep;
}

Result<KubeEndpoint> kubeconfigEndpoint(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return failInvalid(fmt::format("kubeconfig {}: {}", path, e.what()));
  }
  try {
    std::string base_dir = path.substr(0, path.find_last_of('/') + 1);
    auto resolve = [&](const std::string& p) {
      return (p.empty() || p.front() == '/') ? p : base_dir + p;
    };
    std::string current = root["current-context"] ? root["current-context"].as<std::string>() : "";
    YAML::Node context;
    for (const auto& c : root["contexts"]) {
      if (current.empty() || c["name"].as<std::string>() == current) {
        context = c["context"];
        break;
      }
    }
    if (!context) {
      return failInvalid(fmt::format("kubeconfig {}: context {:?} not found", path, current));
    }
    std::string cluster_name = context["cluster"].as<std::string>();
    std::string user_name = context["user"] ? context["user"].as<std::string>() : "";
    YAML::Node cluster;
    for (const auto& c : root["clusters"]) {
      if (c["name"].as<std::string>() == cluster_name) {
        cluster = c["cluster"];
      }
    }
    if (!cluster) {
      return failInvalid(fmt::format("kubeconfig {}: cluster {:?} not found", path, cluster_name));
    }
    KubeEndpoint ep;
    if (auto st = setServer(cluster["server"].as<std::string>(), &ep); !st) {
      return fail(st.error().wrap(fmt::format("kubeconfig {}", path)));
    }
    if (cluster["certificate-authority-data"]) {
      auto pem = base64Decode(cluster["certificate-authority-data"].as<std::string>());
      if (!pem) {
        return fail(
            pem.error().wrap(fmt::format("kubeconfig {}: certificate-authority-data", path)));
      }
      ep.client.tls_ca_pem = *pem;
    } else if (cluster["certificate-authority"]) {
      ep.client.tls_ca_file = resolve(cluster["certificate-authority"].as<std::string>());
    }
    if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>()) {
      ep.client.tls_insecure_skip_verify = true;
    }
    if (cluster["tls-server-name"]) {
      ep.client.tls_server_name = cluster["tls-server-name"].as<std::string>();
    }
    for (const auto& u : root["users"]) {
      if (u["name"].as<std::string>() != user_name) {
        continue;
      }
      YAML::Node user = u["user"];
      if (!user) {
        break;
      }
      if (user["token"]) {
        ep.token = user["token"].as<std::string>();
      }
      if (user["tokenFile"]) {
        ep.token_file = resolve(user["tokenFile"].as<std::string>());
      }
      for (auto [key, data_key, file, pem] :
           {std::tuple{"client-certificate", "client-certificate-data", &ep.client.tls_cert_file,
                       &ep.client.tls_cert_pem},
            std::tuple{"client-key", "client-key-data", &ep.client.tls_key_file,
                       &ep.client.tls_key_pem}}) {
        if (user[data_key]) {
          auto d = base64Decode(user[data_key].as<std::string>());
          if (!d) {
            return fail(d.error().wrap(fmt::format("kubeconfig {}: {}", path, data_key)));
          }
          *pem = *d;
        } else if (user[key]) {
          *file = resolve(user[key].as<std::string>());
        }
      }
      if (user["exec"] || user["auth-provider"]) {
        return failInvalid(fmt::format(
            "kubeconfig {}: user {:?} uses exec/auth-provider credentials, which colo-extender "
            "does not run; use a token, tokenFile or client certificate",
            path, user_name));
      }
    }
    return ep;
  } catch (const YAML::Exception& e) {
    return failInvalid(fmt::format("kubeconfig {}: {}", path, e.what()));
  }
}

NodeWatcher::NodeWatcher(KubeEndpoint endpoint, NodeCache* cache, ExtenderMetrics* metrics,
                         Options options)
    : endpoint_(std::move(endpoint)),
      cache_(cache),
      metrics_(metrics),
      options_(std::move(options)) {}

NodeWatcher::~NodeWatcher() { stop(); }

void NodeWatcher::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void NodeWatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_ != nullptr) {
      active_->abort();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string NodeWatcher::resourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rv_;
}

bool NodeWatcher::sleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
  return !stopping_;
}

Result<http::Client> NodeWatcher::connect() {
  http::ClientOptions o = endpoint_.client;
  o.timeout_ms = options_.request_timeout_ms;
  std::string token = endpoint_.token;
  if (!endpoint_.token_file.empty()) {
    auto t = readFile(endpoint_.token_file);
    if (!t) {
      return fail(t.error().wrap("bearer token"));
    }
    token = trimmed(*t);
  }
  if (!token.empty()) {
    o.headers.emplace_back("Authorization", "Bearer " + token);
  }
  o.headers.emplace_back("Accept", "application/json");
  o.headers.emplace_back("User-Agent", "colo-extender");
  return http::Client::connect(endpoint_.address, std::move(o));
}

Status NodeWatcher::list() {
  auto client = connect();
  if (!client) {
    return fail(client.error().wrap("list nodes"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return failErrno(ECANCELED, "list nodes: stopping");
    }
    active_ = &*client;
  }
  struct Clear {
    NodeWatcher* w;
    ~Clear() {
      std::lock_guard<std::mutex> lock(w->mu_);
      w->active_ = nullptr;
    }
  } clear{this};
  ArgsParser parser(options_.colocation_label, options_.colocation_label_value);
  std::vector<NodeEntry> all;
  std::string rv, cont;
  do {
    std::string path = fmt::format("/api/v1/nodes?limit={}", options_.list_page_size);
    if (!cont.empty()) {
      path += "&continue=" + urlEncode(cont);
    }
    auto resp = client->get(path);
    if (!resp) {
      return fail(resp.error().wrap("list nodes"));
    }
    if (resp->status != 200) {
      return failInvalid(
          fmt::format("list nodes: HTTP {}: {}", resp->status, resp->body.substr(0, 300)));
    }
    auto page = parser.parseNodeList(resp->body);
    if (!page) {
      return fail(page.error().wrap("list nodes"));
    }
    if (rv.empty()) {
      rv = page->resource_version;
    }
    cont = page->continue_token;
    for (auto& n : page->items) {
      all.push_back(std::move(n));
    }
  } while (!cont.empty());
  size_t count = all.size();
  cache_->replaceAll(std::move(all));
  metrics_->cache_nodes.store(static_cast<int64_t>(count));
  metrics_->cache_synced.store(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    rv_ = rv;
  }
  log::info("extender", "node cache: listed {} nodes at resourceVersion {}", count, rv);
  return ok();
}

NodeWatcher::WatchEnd NodeWatcher::watch() {
  auto client = connect();
  if (!client) {
    log::warn("extender", "watch nodes: {}", client.error().message());
    return WatchEnd::kError;
  }
  std::string rv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return WatchEnd::kStopped;
    }
    active_ = &*client;
    rv = rv_;
  }
  struct Clear {
    NodeWatcher* w;
    ~Clear() {
      std::lock_guard<std::mutex> lock(w->mu_);
      w->active_ = nullptr;
    }
  } clear{this};
  ArgsParser parser(options_.colocation_label, options_.colocation_label_value);
  std::string pending;
  WatchEnd end = WatchEnd::kTimeout;
  auto on_data = [&](std::string_view data) -> bool {
    pending.append(data);
    size_t start = 0;
    while (true) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) {
        break;
      }
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (line.empty() || line == "\r") {
        continue;
      }
      auto ev = parser.parseWatchEvent(line);
      if (!ev) {
        metrics_->watch_errors.fetch_add(1);
        log::warn("extender", "watch nodes: skipping an event: {}", ev.error().message());
        continue;
      }
      metrics_->watch_events.fetch_add(1, std::memory_order_relaxed);
      if (ev->type == "ERROR") {
        if (ev->error_code == 410) {
          end = WatchEnd::kGone;
        } else {
          log::warn("extender", "watch nodes: ERROR event {}: {}", ev->error_code,
                    ev->error_message);
          end = WatchEnd::kError;
        }
        return false;
      }
      if (ev->type == "ADDED" || ev->type == "MODIFIED") {
        cache_->upsert(std::move(ev->node));
      } else if (ev->type == "DELETED") {
        cache_->erase(ev->node.name);
      }
      if (!ev->resource_version.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        rv_ = ev->resource_version;
      }
    }
    pending.erase(0, start);
    return !stopping_;
  };
  std::string path = fmt::format(
      "/api/v1/nodes?watch=1&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
      options_.watch_timeout_s, urlEncode(rv));
  auto status = client->stream(path, on_data, (options_.watch_timeout_s + 30) * 1000);
  if (stopping_) {
    return WatchEnd::kStopped;
  }
  if (!status) {
    log::warn("extender", "watch nodes: {}", status.error().message());
    return WatchEnd::kError;
  }
  if (*status == 410) {
    return WatchEnd::kGone;
  }
  if (*status != 200) {
    log::warn("extender", "watch nodes: HTTP {}", *status);
    return WatchEnd::kError;
  }
  return end;
}

void NodeWatcher::run() {
  bool need_list = true;
  int backoff = options_.backoff_initial_ms;
  while (!stopping_) {
    if (need_list) {
      auto st = list();
      if (!st) {
        if (stopping_) {
          break;
        }
        log::warn("extender", "node cache: {}; retrying in {} ms", st.error().message(), backoff);
        if (!sleepFor(backoff)) {
          break;
        }
        backoff = std::min(backoff * 2, options_.backoff_max_ms);
        continue;
      }
      need_list = false;
      backoff = options_.backoff_initial_ms;
    }
    WatchEnd end = watch();
    switch (end) {
      case WatchEnd::kStopped:
        return;
      case WatchEnd::kTimeout:
        // The server ended the watch (timeoutSeconds): resume from the last resourceVersion.
        metrics_->watch_restarts.fetch_add(1);
        backoff = options_.backoff_initial_ms;
        break;
      case WatchEnd::kGone:
        log::info("extender", "node cache: resourceVersion {} expired (410 Gone); relisting",
                  resourceVersion());
        metrics_->relists.fetch_add(1);
        need_list = true;
        break;
      case WatchEnd::kError:
        metrics_->watch_errors.fetch_add(1);
        metrics_->watch_restarts.fetch_add(1);
        if (!sleepFor(backoff)) {
          return;
        }
        backoff = std::min(backoff * 2, options_.backoff_max_ms);
        break;
    }
  }
}

}  // namespace colo::extender

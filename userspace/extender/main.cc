// colo-extender: flags and wiring. The logic lives in colo_extender_lib.
#include <gflags/gflags.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/http.h"
#include "common/log.h"
#include "extender/config.h"
#include "extender/extender.h"
#include "extender/kube.h"
#include "extender/node_cache.h"
#include "extender/request.h"

DEFINE_string(config, "", "YAML config file (plugins, weights, thresholds); empty: defaults");
DEFINE_string(listen, "127.0.0.1:8888", "host:port to serve on (port 0 picks one)");
DEFINE_string(unix_socket, "", "also serve on this unix socket");
DEFINE_string(url_prefix, "/colo", "URL prefix of the verbs: <prefix>/filter, <prefix>/prioritize");
DEFINE_int32(threads, 2, "HTTP worker threads");
DEFINE_int32(request_parallelism, 0,
             "threads working on one large filter/prioritize request, the worker included "
             "(overrides the config's requestParallelism; 0: the config's, by default "
             "min(4, hardware threads / 2); 1: no helper threads)");
DEFINE_int32(parallel_min_nodes, -1,
             "candidates a request needs before it is split over those threads (overrides the "
             "config's parallelMinNodes; -1: the config's, by default 1000)");
DEFINE_int64(max_body_bytes, 64ll << 20, "largest request body accepted (413 above)");
DEFINE_int32(read_timeout_ms, 10000, "close a connection idle or stalled this long");
DEFINE_int32(max_connections, 256, "connection limit");
DEFINE_string(tls_cert, "", "serve HTTPS with this certificate chain (PEM)");
DEFINE_string(tls_key, "", "private key (PEM) for --tls_cert");
DEFINE_bool(node_cache, false,
            "keep a node cache from a list+watch of Nodes (for nodeCacheCapable: true)");
DEFINE_string(kubeconfig, "", "kubeconfig for the node cache; empty: in-cluster service account");
DEFINE_string(nodes_file, "",
              "fill the node cache once from a NodeList JSON file instead of watching the API "
              "(development and benchmarks)");
DEFINE_string(check_health, "",
              "probe mode: GET /healthz from this host:port, exit 0 when it answers 200 (for "
              "exec probes; the extender itself listens on loopback only)");
DEFINE_string(log_level, "info", "debug, info, warn or error");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("kube-scheduler extender placing pods by live node signals");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  using namespace colo;
  log::Level level;
  if (!log::parseLevel(FLAGS_log_level, &level)) {
    std::fprintf(stderr, "colo-extender: --log_level=%s: use debug, info, warn or error\n",
                 FLAGS_log_level.c_str());
    return 2;
  }
  log::setLevel(level);

  if (!FLAGS_check_health.empty()) {
    auto client = http::Client::connect(FLAGS_check_health, 2000);
    auto resp =
        client ? client->get("/healthz") : Result<http::ClientResponse>(fail(client.error()));
    if (!resp || resp->status != 200) {
      std::fprintf(stderr, "colo-extender: unhealthy: %s\n",
                   resp ? resp->body.c_str() : resp.error().message().c_str());
      return 1;
    }
    return 0;
  }

  extender::Config config;
  if (!FLAGS_config.empty()) {
    auto c = extender::loadConfig(FLAGS_config);
    if (!c) {
      log::error("extender", "{}", c.error().message());
      return 2;
    }
    config = *c;
  }
  if (FLAGS_request_parallelism != 0) {
    config.request_parallelism = FLAGS_request_parallelism;
  }
  if (FLAGS_parallel_min_nodes != -1) {
    config.parallel_min_nodes = FLAGS_parallel_min_nodes;
  }
  if (auto st = extender::validateConfig(config); !st) {
    log::error("extender", "{} (set by --request_parallelism / --parallel_min_nodes or --config)",
               st.error().message());
    return 2;
  }

  std::unique_ptr<extender::NodeCache> cache;
  std::unique_ptr<extender::NodeWatcher> watcher;
  extender::KubeEndpoint endpoint;
  if (FLAGS_node_cache) {
    auto ep = FLAGS_kubeconfig.empty() ? extender::inClusterEndpoint()
                                       : extender::kubeconfigEndpoint(FLAGS_kubeconfig);
    if (!ep) {
      log::error("extender", "node cache: {}", ep.error().message());
      return 2;
    }
    endpoint = *ep;
    cache = std::make_unique<extender::NodeCache>();
  }
  if (!FLAGS_nodes_file.empty()) {
    if (cache) {
      log::error("extender", "--nodes_file and --node_cache exclude each other");
      return 2;
    }
    std::ifstream in(FLAGS_nodes_file);
    std::stringstream ss;
    ss << in.rdbuf();
    extender::ArgsParser parser(config.colocation_label, config.colocation_label_value);
    auto list = parser.parseNodeList(ss.str());
    if (!in || !list) {
      log::error("extender", "--nodes_file={}: {}", FLAGS_nodes_file,
                 list ? "cannot read" : list.error().message());
      return 2;
    }
    cache = std::make_unique<extender::NodeCache>();
    log::info("extender", "node cache: {} nodes from {}", list->items.size(), FLAGS_nodes_file);
    cache->replaceAll(std::move(list->items));
  }
  extender::Extender ext(config, FLAGS_url_prefix, cache.get());
  if (FLAGS_node_cache) {
    extender::NodeWatcher::Options wo;
    wo.colocation_label = config.colocation_label;
    wo.colocation_label_value = config.colocation_label_value;
    watcher = std::make_unique<extender::NodeWatcher>(endpoint, cache.get(), &ext.metrics(), wo);
  }

  http::ServerOptions so;
  so.threads = FLAGS_threads;
  so.max_body_bytes = static_cast<size_t>(FLAGS_max_body_bytes);
  so.read_timeout_ms = FLAGS_read_timeout_ms;
  so.max_connections = FLAGS_max_connections;
  so.tls_cert_file = FLAGS_tls_cert;
  so.tls_key_file = FLAGS_tls_key;
  http::Server server(so, [&ext](const http::Request& r) { return ext.handle(r); });
  std::string host = "127.0.0.1";
  uint16_t port = 8888;
  {
    size_t colon = FLAGS_listen.rfind(':');
    unsigned long p = colon == std::string::npos
                          ? 0
                          : std::strtoul(FLAGS_listen.c_str() + colon + 1, nullptr, 10);
    if (colon == std::string::npos || p > 65535) {
      log::error("extender", "--listen={}: expected host:port", FLAGS_listen);
      return 2;
    }
    host = FLAGS_listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') {
      host = host.substr(1, host.size() - 2);
    }
    port = static_cast<uint16_t>(p);
  }
  auto bound = server.listenTcp(host, port);
  if (!bound) {
    log::error("extender", "{} (is another process on that port? change --listen)",
               bound.error().message());
    return 2;
  }
  if (!FLAGS_unix_socket.empty()) {
    if (auto st = server.listenUnix(FLAGS_unix_socket); !st) {
      log::error("extender", "{}", st.error().message());
      return 2;
    }
  }
  // Block the stop signals before any thread starts, so that only the signalfd sees them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (auto st = server.start(); !st) {
    log::error("extender", "{}", st.error().message());
    return 2;
  }
  if (watcher) {
    watcher->start();
  }
  log::info("extender", "serving {}/filter and {}/prioritize on {}:{}{} ({})", FLAGS_url_prefix,
            FLAGS_url_prefix, host, *bound, FLAGS_tls_cert.empty() ? "" : " (TLS)",
            cache ? "node cache: NodeNames and Nodes requests" : "no node cache: Nodes requests");
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  signalfd_siginfo info{};
  while (read(sfd, &info, sizeof(info)) < 0 && errno == EINTR) {
  }
  log::info("extender", "signal {}: stopping", info.ssi_signo);
  if (watcher) {
    watcher->stop();
  }
  server.stop();
  close(sfd);
  return 0;
}

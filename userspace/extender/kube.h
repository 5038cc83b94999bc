// Kubernetes API access for the node cache: where the API server is and how to authenticate
// (in-cluster service account, or a kubeconfig file), and NodeWatcher, which keeps a NodeCache
// current with list+watch, reconnecting with backoff and resuming from the last
// resourceVersion (relisting after 410 Gone).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/http.h"
#include "common/result.h"
#include "extender/metrics.h"
#include "extender/node_cache.h"

namespace colo::extender {

struct KubeEndpoint {
  std::string address;         // host:port
  http::ClientOptions client;  // TLS settings; no Authorization header (added per connection)
  std::string token;           // bearer token, or
  std::string token_file;      // re-read at every connection (bound tokens rotate)
};

// "https://host:port" or "http://host:port" (port defaults to 443/80) into endpoint.
Status setServer(const std::string& url, KubeEndpoint* endpoint);
// The in-cluster service account: KUBERNETES_SERVICE_HOST/PORT, the token and CA under
// /var/run/secrets/kubernetes.io/serviceaccount (sa_dir overrides it for tests).
Result<KubeEndpoint> inClusterEndpoint(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");
// The current context of a kubeconfig file: server, certificate-authority(-data),
// insecure-skip-tls-verify, token / tokenFile, client-certificate(-data)/client-key(-data).
Result<KubeEndpoint> kubeconfigEndpoint(const std::string& path);

class NodeWatcher {
 public:
  struct Options {
    int backoff_initial_ms = 250;
    int backoff_max_ms = 30000;
    int watch_timeout_s = 300;  // server-side timeoutSeconds of one watch request
    int list_page_size = 500;
    int request_timeout_ms = 30000;
    std::string colocation_label = "colo.io/colocation";
    std::string colocation_label_value = "true";
  };
  NodeWatcher(KubeEndpoint endpoint, NodeCache* cache, ExtenderMetrics* metrics, Options options);
  ~NodeWatcher();  // stop()s
  NodeWatcher(const NodeWatcher&) = delete;
  NodeWatcher& operator=(const NodeWatcher&) = delete;

  void start();
  void stop();  // interrupts a blocked watch; idempotent
  std::string resourceVersion() const;

 private:
  enum class WatchEnd { kTimeout, kGone, kError, kStopped };
  void run();
  Status list();
  WatchEnd watch();
  Result<http::Client> connect();
  bool sleepFor(int ms);  // false when stopping

  KubeEndpoint endpoint_;
  NodeCache* cache_;
  ExtenderMetrics* metrics_;
  Options options_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;  // guards rv_, active_, cv_ waits
  std::condition_variable cv_;
  std::string rv_;
  http::Client* active_ = nullptr;  // the connection to abort on stop
};

}  // namespace colo::extender

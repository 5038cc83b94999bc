// NodeWatcher against a fake Kubernetes API server on 127.0.0.1 port 0: list, watch events,
// a dropped watch resumed from the last resourceVersion, 410 Gone answered by a relist.
#include "extender/kube.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/unique_fd.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

using namespace std::chrono_literals;
using testing::nodeJson;

template <typename F>
bool pollUntil(F cond, std::chrono::milliseconds deadline = 10s) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// Serves GET /api/v1/nodes (the list set by setList) and watches, whose stream is fed by
// push(): an event line, "DROP" (close the connection), or "END" (finish the chunked body).
class FakeApiServer {
 public:
  FakeApiServer() {
    fd_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    EXPECT_EQ(bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    listen(fd_.get(), 16);
    socklen_t len = sizeof(a);
    getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeApiServer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void setList(std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    list_ = std::move(body);
  }
  void push(std::string item) {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(std::move(item));
    }
    cv_.notify_all();
  }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> l(mu_);
    return paths_;
  }
  std::vector<std::string> headers() {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }
  int count(std::string_view needle) {
    int n = 0;
    for (const auto& p : paths()) {
      n += p.find(needle) != std::string::npos;
    }
    return n;
  }

 private:
  void serve() {
    while (true) {
      UniqueFd c(accept(fd_.get(), nullptr, nullptr));
      if (!c.valid()) {
        return;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        req.append(buf, static_cast<size_t>(n));
      }
      size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
      if (sp1 == std::string::npos || sp2 == std::string::npos) {
        continue;
      }
      std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string list;
      {
        std::lock_guard<std::mutex> l(mu_);
        paths_.push_back(path);
        heads_.push_back(req);
        list = list_;
      }
      if (path.find("watch=1") == std::string::npos) {
        std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(list.size()) + "\r\nConnection: close\r\n\r\n" + list;
        send(c.get(), resp.data(), resp.size(), MSG_NOSIGNAL);
        continue;
      }
      std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      send(c.get(), head.data(), head.size(), MSG_NOSIGNAL);
      while (true) {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) {
          return;
        }
        std::string item = std::move(queue_.front());
        queue_.pop_front();
        l.unlock();
        if (item == "DROP") {
          break;
        }
        if (item == "END") {
          send(c.get(), "0\r\n\r\n", 5, MSG_NOSIGNAL);
          break;
        }
        bool error = item.find(R"("type":"ERROR")") != std::string::npos;
        item += '\n';
        std::string chunk = fmt::format("{:x}\r\n{}\r\n", item.size(), item);
        send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (error) {
          break;  // the API server ends a watch after an ERROR event
        }
      }
    }
  }

  UniqueFd fd_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string list_;
  std::deque<std::string> queue_;
  std::vector<std::string> paths_, heads_;
};

std::string listOf(std::string rv, std::vector<std::string> nodes) {
  std::string items;
  for (size_t i = 0; i < nodes.size(); ++i) {
    items += (i ? "," : "") + nodes[i];
  }
  return R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":")" + rv +
         R"("},"items":[)" + items + "]}";
}

std::string event(std::string type, std::string node) {
  return R"({"type":")" + type + R"(","object":)" + node + "}";
}

bool has(NodeCache& cache, const std::string& name) {
  return cache.read([&](const NodeCache::Map& m) { return m.count(name) > 0; });
}

bool isOpen(NodeCache& cache, const std::string& name) {
  return cache.read([&](const NodeCache::Map& m) {
    auto it = m.find(name);
    return it != m.end() && it->second.colocation_open;
  });
}

TEST(NodeWatcher, ListWatchResumeAndRelist) {
  FakeApiServer api;
  api.setList(listOf("10", {nodeJson("a", false, "", "5"), nodeJson("b", true, "", "6")}));
  KubeEndpoint ep;
  ASSERT_TRUE(setServer(api.url(), &ep).has_value());
  ep.token = "secret-token";
  NodeCache cache;
  ExtenderMetrics metrics;
  NodeWatcher::Options o;
  o.backoff_initial_ms = 10;
  o.backoff_max_ms = 50;
  NodeWatcher w(ep, &cache, &metrics, o);
  w.start();
  ASSERT_TRUE(pollUntil([&] { return cache.synced(); }));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(isOpen(cache, "b"));
  ASSERT_TRUE(pollUntil([&] { return api.count("watch=1") == 1; }));
  EXPECT_NE(api.paths().back().find("resourceVersion=10"), std::string::npos);
  EXPECT_NE(api.headers().front().find("Authorization: Bearer secret-token"), std::string::npos);

  // Events.
  api.push(event("ADDED", nodeJson("c", false, "", "11")));
  api.push(event("MODIFIED", nodeJson("a", true, "", "12")));
  api.push(event("DELETED", nodeJson("b", true, "", "13")));
  ASSERT_TRUE(pollUntil([&] { return has(cache, "c") && isOpen(cache, "a") && !has(cache, "b"); }));
  ASSERT_TRUE(pollUntil([&] { return w.resourceVersion() == "13"; }));

  // A dropped connection: the watch resumes from the last resourceVersion, no relist.
  api.push("DROP");
  ASSERT_TRUE(pollUntil([&] { return api.count("watch=1") == 2; }));
  EXPECT_NE(api.paths().back().find("resourceVersion=13"), std::string::npos) << api.paths().back();
  EXPECT_EQ(api.count("limit="), 1);
  // The server ending the watch normally: resume as well.
  api.push(event("BOOKMARK", R"({"kind":"Node","metadata":{"resourceVersion":"20"}})"));
  api.push("END");
  ASSERT_TRUE(pollUntil([&] { return api.count("watch=1") == 3; }));
  EXPECT_NE(api.paths().back().find("resourceVersion=20"), std::string::npos);

  // 410 Gone: relist, then watch from the new list's resourceVersion.
  api.setList(listOf("30", {nodeJson("z", true, "", "30")}));
  api.push(event("ERROR", R"({"kind":"Status","status":"Failure","reason":"Expired","code":410})"));
  ASSERT_TRUE(pollUntil([&] { return api.count("limit=") == 2; }));
  ASSERT_TRUE(pollUntil([&] { return has(cache, "z") && cache.size() == 1; }));
  ASSERT_TRUE(pollUntil([&] { return api.count("watch=1") == 4; }));
  EXPECT_NE(api.paths().back().find("resourceVersion=30"), std::string::npos);
  EXPECT_EQ(metrics.relists.load(), 1u);
  EXPECT_GE(metrics.watch_restarts.load(), 2u);

  // stop() interrupts the blocked watch promptly.
  auto t0 = std::chrono::steady_clock::now();
  w.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(NodeWatcher, RetriesWithBackoffWhileTheServerIsDown) {
  // A port nobody listens on (bind then close).
  UniqueFd s(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
  s.reset();
  KubeEndpoint ep;
  ASSERT_TRUE(setServer("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)), &ep).has_value());
  NodeCache cache;
  ExtenderMetrics metrics;
  NodeWatcher::Options o;
  o.backoff_initial_ms = 10;
  NodeWatcher w(ep, &cache, &metrics, o);
  w.start();
  std::this_thread::sleep_for(100ms);  // let it fail a few times; nothing to poll for
  EXPECT_FALSE(cache.synced());
  w.stop();
}

TEST(KubeEndpoint, KubeconfigAndServerUrls) {
  std::string dir = "/tmp/colo-kubeconfig-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config") << R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: other
  cluster: {server: "https://wrong:1"}
- name: c1
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
contexts:
- name: dev
  context: {cluster: c1, user: u1}
users:
- name: u1
  user: {token: abc, client-certificate: certs/client.crt}
)";
  auto ep = kubeconfigEndpoint(dir + "/config");
  ASSERT_TRUE(ep.has_value()) << ep.error().message();
  EXPECT_EQ(ep->address, "10.0.0.1:6443");
  EXPECT_TRUE(ep->client.tls);
  EXPECT_EQ(ep->client.tls_ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(ep->token, "abc");
  EXPECT_EQ(ep->client.tls_cert_file, dir + "/certs/client.crt");
  std::filesystem::remove_all(dir);

  KubeEndpoint e;
  ASSERT_TRUE(setServer("https://api.example.com", &e).has_value());
  EXPECT_EQ(e.address, "api.example.com:443");
  ASSERT_TRUE(setServer("http://127.0.0.1:8080/", &e).has_value());
  EXPECT_EQ(e.address, "127.0.0.1:8080");
  EXPECT_FALSE(e.client.tls);
  EXPECT_FALSE(setServer("ftp://x", &e).has_value());
  EXPECT_FALSE(kubeconfigEndpoint("/nonexistent/kubeconfig").has_value());
}

TEST(KubeEndpoint, InClusterNeedsTheServiceEnvironment) {
  std::string dir = "/tmp/colo-sa-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/token") << "tok\n";
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto ep = inClusterEndpoint(dir);
  ASSERT_TRUE(ep.has_value()) << ep.error().message();
  EXPECT_EQ(ep->address, "10.96.0.1:443");
  EXPECT_EQ(ep->token_file, dir + "/token");
  EXPECT_EQ(ep->client.tls_ca_file, dir + "/ca.crt");
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto none = inClusterEndpoint(dir);
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message().find("--kubeconfig"), std::string::npos);
  unsetenv("KUBERNETES_SERVICE_PORT");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace colo::extender

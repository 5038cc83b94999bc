#include "common/http.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace colo::http {
namespace {

using namespace std::chrono_literals;

Response echo(const Request& r) {
  Response resp;
  resp.body = r.method + " " + r.path + " q=" + r.query + " body=" + r.body;
  resp.content_type = "text/plain";
  return resp;
}

// Raw TCP connection to 127.0.0.1:port for feeding the server bytes no client would send.
UniqueFd rawConnect(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void sendRaw(int fd, std::string_view data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

// Reads until the peer closes (or 5 s pass).
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct TestServer {
  explicit TestServer(ServerOptions o = {}, Handler h = echo) : server(std::move(o), std::move(h)) {
    auto p = server.listenTcp("127.0.0.1", 0);
    EXPECT_TRUE(p.has_value()) << p.error().message();
    port = *p;
    auto st = server.start();
    EXPECT_TRUE(st.has_value()) << st.error().message();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  Server server;
  uint16_t port = 0;
};

template <typename F>
bool pollUntil(F cond, std::chrono::milliseconds deadline = 5s) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestServer ts;
  auto c = Client::connect(ts.address());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  for (int i = 0; i < 20; ++i) {
    std::string body = "n=" + std::to_string(i);
    auto r = c->request("POST", "/filter?x=1", body);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /filter q=x=1 body=" + body);
  }
  EXPECT_EQ(ts.server.connectionCount(), 1u);
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(),
          "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
          "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all = readAll(fd.get());
  size_t a = all.find("POST /a q= body=abc");
  size_t b = all.find("GET /b q= body=");
  size_t c = all.find("GET /c q= body=");
  ASSERT_NE(a, std::string::npos) << all;
  ASSERT_NE(b, std::string::npos) << all;
  ASSERT_NE(c, std::string::npos) << all;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(all.find("Connection: close"), std::string::npos);
}

TEST(HttpServer, BodySplitAcrossWritesIsReassembled) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(), "POST /x HTTP/1.1\r\nContent-Le");
  std::this_thread::sleep_for(20ms);  // make the split real; correctness does not depend on it
  sendRaw(fd.get(), "ngth: 10\r\nConnection: close\r\n\r\n01234");
  std::this_thread::sleep_for(20ms);
  sendRaw(fd.get(), "56789");
  std::string all = readAll(fd.get());
  EXPECT_NE(all.find("body=0123456789"), std::string::npos) << all;
}

TEST(HttpServer, ConcurrentClientsOnSeveralWorkers) {
  ServerOptions o;
  o.threads = 2;
  std::atomic<int> calls{0};
  TestServer ts(o, [&](const Request& r) {
    calls.fetch_add(1);
    return echo(r);
  });
  constexpr int kClients = 8;
  constexpr int kRequests = 200;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client::connect(ts.address());
      if (!c) {
        return;
      }
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = c->request("POST", "/p", body);
        if (r && r->status == 200 && r->body == "POST /p q= body=" + body) {
          good.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(good.load(), kClients * kRequests);
  EXPECT_EQ(calls.load(), kClients * kRequests);
}

TEST(HttpServer, ConnectionsAreSpreadOverWorkers) {
  // A scheduler keeps a couple of keep-alive connections: they must not share one worker.
  ServerOptions o;
  o.threads = 2;
  std::mutex mu;
  std::set<std::thread::id> seen;
  TestServer ts(o, [&](const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(std::this_thread::get_id());
    return echo(r);
  });
  auto c1 = Client::connect(ts.address());
  auto c2 = Client::connect(ts.address());
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ(c1->get("/1")->status, 200);
  EXPECT_EQ(c2->get("/2")->status, 200);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(HttpServer, OversizedBodyGets413AndOtherClientsAreServed) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  TestServer ts(o);
  auto c = Client::connect(ts.address());
  ASSERT_TRUE(c.has_value());
  auto r = c->request("POST", "/big", std::string(5000, 'x'));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("exceeds the limit of 1000 bytes"), std::string::npos);
  auto c2 = Client::connect(ts.address());
  ASSERT_TRUE(c2.has_value());
  auto r2 = c2->request("POST", "/small", std::string(1000, 'y'));
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 200);
}

TEST(HttpServer, MalformedRequestLineGets400) {
  TestServer ts;
  for (std::string_view bad :
       {"GARBAGE\r\n\r\n", "GET /x\r\n\r\n", "get /x HTTP/1.1\r\n\r\n", "GET x HTTP/1.1\r\n\r\n",
        "GET /x FTP/1.0\r\n\r\n", "GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        "POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n"}) {
    UniqueFd fd = rawConnect(ts.port);
    sendRaw(fd.get(), bad);
    std::string all = readAll(fd.get());
    EXPECT_EQ(all.rfind("HTTP/1.1 400 ", 0), 0u) << bad << " -> " << all;
  }
  // And the server still serves.
  auto c = Client::connect(ts.address());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->get("/ok")->status, 200);
}

TEST(HttpServer, ChunkedRequestBodyGets411) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(), "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  std::string all = readAll(fd.get());
  EXPECT_EQ(all.rfind("HTTP/1.1 411 ", 0), 0u) << all;
}

TEST(HttpServer, UnsupportedVersionGets505) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(), "GET / HTTP/2.0\r\n\r\n");
  EXPECT_EQ(readAll(fd.get()).rfind("HTTP/1.1 505 ", 0), 0u);
}

TEST(HttpServer, Http10ClosesUnlessKeepAlive) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(), "GET /ten HTTP/1.0\r\n\r\n");
  std::string all = readAll(fd.get());  // returns only because the server closes
  EXPECT_NE(all.find("GET /ten"), std::string::npos);
  EXPECT_NE(all.find("Connection: close"), std::string::npos);
}

TEST(HttpServer, ExpectContinueIsHonoured) {
  TestServer ts;
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(),
          "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
          "Connection: close\r\n\r\n");
  char buf[64];
  ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 100 Continue", 0), 0u);
  sendRaw(fd.get(), "hi");
  EXPECT_NE(readAll(fd.get()).find("body=hi"), std::string::npos);
}

TEST(HttpServer, IdleConnectionIsClosedAfterReadTimeoutAndClientReconnects) {
  ServerOptions o;
  o.read_timeout_ms = 100;
  TestServer ts(o);
  auto c = Client::connect(ts.address());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->get("/1")->status, 200);
  EXPECT_EQ(ts.server.connectionCount(), 1u);
  ASSERT_TRUE(pollUntil([&] { return ts.server.connectionCount() == 0; }));
  // The client notices the closed keep-alive connection and retries once on a new one.
  auto r = c->get("/2");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->body, "GET /2 q= body=");
}

TEST(HttpServer, HalfSentRequestIsDroppedAfterReadTimeout) {
  ServerOptions o;
  o.read_timeout_ms = 100;
  TestServer ts(o);
  UniqueFd fd = rawConnect(ts.port);
  sendRaw(fd.get(), "POST /slow HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a bit");
  auto start = std::chrono::steady_clock::now();
  readAll(fd.get());  // returns when the server closes
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST(HttpServer, ConnectionLimitRefusesExtraConnections) {
  ServerOptions o;
  o.max_connections = 2;
  TestServer ts(o);
  auto c1 = Client::connect(ts.address());
  auto c2 = Client::connect(ts.address());
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ(c1->get("/")->status, 200);
  EXPECT_EQ(c2->get("/")->status, 200);
  UniqueFd extra = rawConnect(ts.port);
  sendRaw(extra.get(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(readAll(extra.get()), "");   // closed without an answer
  EXPECT_EQ(c1->get("/")->status, 200);  // the admitted ones keep working
}

TEST(HttpServer, UnixSocket) {
  std::string path = "/tmp/colo-http-test-" + std::to_string(getpid()) + ".sock";
  {
    // A stale socket file left by a crashed process is replaced.
    UniqueFd stale(socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    ASSERT_EQ(bind(stale.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  {
    Server server({}, echo);
    ASSERT_TRUE(server.listenUnix(path, 0600).has_value());
    ASSERT_TRUE(server.start().has_value());
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto c = Client::connect("unix:" + path);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    for (int i = 0; i < 3; ++i) {
      auto r = c->request("POST", "/v1/x", "b");
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->body, "POST /v1/x q= body=b");
    }
    server.stop();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(HttpServer, HandlerExceptionGives500AndConnectionSurvives) {
  TestServer ts({}, [](const Request& r) -> Response {
    if (r.path == "/throw") {
      throw std::runtime_error("boom");
    }
    return echo(r);
  });
  auto c = Client::connect(ts.address());
  auto r = c->get("/throw");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(c->get("/fine")->status, 200);
}

TEST(HttpServer, BodyHasPaddingForInPlaceParsers) {
  std::atomic<bool> padded{false};
  TestServer ts({}, [&](const Request& r) {
    padded = r.body.capacity() >= r.body.size() + Request::kBodyPadding;
    return echo(r);
  });
  auto c = Client::connect(ts.address());
  ASSERT_EQ(c->request("POST", "/", std::string(300000, 'z'))->status, 200);
  EXPECT_TRUE(padded.load());
}

TEST(HttpServer, LargeResponseIsDeliveredWhole) {
  std::string big(5 << 20, 'q');
  TestServer ts({}, [&](const Request&) {
    Response r;
    r.body = big;
    return r;
  });
  auto c = Client::connect(ts.address());
  for (int i = 0; i < 2; ++i) {
    auto r = c->get("/big");
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->body.size(), big.size());
  }
}

// Large responses are written from their own buffer after the headers (no copy): pipelined
// requests mixing large and small answers, read slowly by the client so that the server's
// writes stop short, still come back whole and in order.
TEST(HttpServer, PipelinedLargeAndSmallResponsesStayInOrder) {
  TestServer ts({}, [](const Request& r) {
    Response resp;
    resp.content_type = "text/plain";
    size_t n = r.path == "/small" ? 5 : 300000;
    resp.body.assign(n, r.path == "/a" ? 'a' : r.path == "/b" ? 'b' : 's');
    resp.body.back() = '!';
    return resp;
  });
  UniqueFd fd = rawConnect(ts.port);
  int small_buf = 4096;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small_buf, sizeof(small_buf));
  sendRaw(fd.get(),
          "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all = readAll(fd.get());
  size_t a = all.find("Content-Length: 300000\r\n");
  ASSERT_NE(a, std::string::npos);
  size_t a_body = all.find("\r\n\r\n", a) + 4;
  EXPECT_EQ(all.substr(a_body, 300000), std::string(299999, 'a') + "!");
  size_t s = all.find("Content-Length: 5\r\n", a_body);
  ASSERT_NE(s, std::string::npos);
  size_t s_body = all.find("\r\n\r\n", s) + 4;
  EXPECT_EQ(all.substr(s_body, 5), "ssss!");
  size_t b = all.find("Content-Length: 300000\r\n", s_body);
  ASSERT_NE(b, std::string::npos);
  size_t b_body = all.find("\r\n\r\n", b) + 4;
  EXPECT_EQ(all.substr(b_body), std::string(299999, 'b') + "!");
  EXPECT_NE(all.find("Connection: close", b), std::string::npos);
}

// Request bodies reuse their buffer on a keep-alive connection: a short body after a long one
// carries none of the long one's bytes.
TEST(HttpServer, ShorterBodyAfterLongerOneIsExact) {
  TestServer ts;
  auto c = Client::connect(ts.address());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  for (size_t n : {200000u, 10u, 70000u, 0u, 3u}) {
    std::string body(n, static_cast<char>('a' + n % 26));
    auto r = c->request("POST", "/x", body);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->body, "POST /x q= body=" + body) << n;
  }
}

// A server written by hand, for responses the colo server never sends (chunked, close-delimited).
class RawServer {
 public:
  explicit RawServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    listen(fd_.get(), 4);
    socklen_t len = sizeof(a);
    getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      UniqueFd c(accept(fd_.get(), nullptr, nullptr));
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) {
          return;
        }
        req.append(buf, static_cast<size_t>(n));
      }
      request_ = req;
      // Trickle the reply in small pieces to exercise reassembly.
      for (size_t off = 0; off < reply_.size(); off += 7) {
        send(c.get(), reply_.data() + off, std::min<size_t>(7, reply_.size() - off), MSG_NOSIGNAL);
      }
    });
  }
  ~RawServer() { thread_.join(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string request_;

 private:
  std::string reply_;
  UniqueFd fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(HttpClient, ReadsChunkedResponse) {
  RawServer rs(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n");
  ClientOptions o;
  o.headers.emplace_back("Authorization", "Bearer abc");
  auto c = Client::connect(rs.address(), o);
  ASSERT_TRUE(c.has_value());
  auto r = c->get("/chunked");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello, world");
}

TEST(HttpClient, ReadsCloseDelimitedResponseAndSendsHeaders) {
  std::unique_ptr<RawServer> rs =
      std::make_unique<RawServer>("HTTP/1.0 200 OK\r\n\r\nuntil the end");
  ClientOptions o;
  o.headers.emplace_back("Authorization", "Bearer abc");
  auto c = Client::connect(rs->address(), o);
  auto r = c->get("/x");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->body, "until the end");
  std::string req = rs->request_;
  rs.reset();
  EXPECT_NE(req.find("Authorization: Bearer abc\r\n"), std::string::npos);
  EXPECT_EQ(req.rfind("GET /x HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpClient, StreamDeliversChunksAndStopsEarly) {
  RawServer rs(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nline1\n\r\n6\r\nline2\n\r\n6\r\nline3\n\r\n0\r\n\r\n");
  auto c = Client::connect(rs.address());
  std::string got;
  auto st = c->stream(
      "/watch",
      [&](std::string_view d) {
        got.append(d);
        return got.find("line2\n") == std::string::npos;
      },
      2000);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(*st, 200);
  EXPECT_EQ(got.substr(0, 12), "line1\nline2\n");
}

TEST(HttpClient, ConnectErrorsNameTheAddress) {
  auto c = Client::connect("unix:/nonexistent/colo.sock");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("/nonexistent/colo.sock"), std::string::npos);
  auto d = Client::connect("no-port-here");
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message().find("host:port"), std::string::npos);
}

// Writes a self-signed certificate for 127.0.0.1 and its key into dir.
void writeSelfSigned(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("colo-test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  FILE* f = fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  fclose(f);
  f = fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

TEST(HttpTls, ServerAndClientOverTls) {
  std::string dir = "/tmp/colo-http-tls-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  writeSelfSigned(dir + "/cert.pem", dir + "/key.pem");
  ServerOptions o;
  o.tls_cert_file = dir + "/cert.pem";
  o.tls_key_file = dir + "/key.pem";
  TestServer ts(o);
  ClientOptions co;
  co.tls = true;
  co.tls_ca_file = dir + "/cert.pem";
  auto c = Client::connect(ts.address(), co);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  for (int i = 0; i < 3; ++i) {
    auto r = c->request("POST", "/tls", std::string(100000, 'a'));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), std::string("POST /tls q= body=").size() + 100000);
  }
  // Without the CA the certificate is refused, with a reason.
  ClientOptions untrusted;
  untrusted.tls = true;
  auto bad = Client::connect(ts.address(), untrusted);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("certificate verification"), std::string::npos)
      << bad.error().message();
  // Plain HTTP to a TLS port does not wedge the server.
  UniqueFd raw = rawConnect(ts.port);
  sendRaw(raw.get(), "GET / HTTP/1.1\r\n\r\n");
  readAll(raw.get());
  EXPECT_EQ(c->get("/still")->status, 200);
  std::filesystem::remove_all(dir);
}

TEST(HttpTls, MissingCertificateIsAStartupError) {
  ServerOptions o;
  o.tls_cert_file = "/nonexistent/cert.pem";
  o.tls_key_file = "/nonexistent/key.pem";
  Server s(o, echo);
  ASSERT_TRUE(s.listenTcp("127.0.0.1", 0).has_value());
  auto st = s.start();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("/nonexistent/cert.pem"), std::string::npos);
}

}  // namespace
}  // namespace colo::http

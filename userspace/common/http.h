// Minimal HTTP/1.1 server and client shared by colod (local API on a unix socket / loopback),
// colo-extender (kube-scheduler webhook) and coloctl (client of colod's API).
//
// Server: epoll event loops on `threads` worker threads, keep-alive, Content-Length bodies only
// (chunked request bodies are refused with 411), bounded body size (413), read timeouts, a
// connection limit. The handler runs on a worker thread: it must be thread-safe when threads > 1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace colo::http {

struct Request {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // without the query string
  std::string query;                                         // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // Value of header `name` (lower-case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  size_t max_body_bytes = 64u << 20;
  int read_timeout_ms = 10000;  // idle keep-alive connections are closed after this too
  int max_connections = 1024;
  int threads = 1;
  std::string tls_cert_file;  // both set: serve HTTPS on TCP listeners
  std::string tls_key_file;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();  // stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 picks one); returns the bound port. Call before start().
  Result<uint16_t> listenTcp(const std::string& host, uint16_t port);
  // Binds a unix socket at `path` (a stale socket file is replaced), mode `mode`.
  Status listenUnix(const std::string& path, unsigned mode = 0660);
  Status start();
  void stop();  // closes listeners and connections, joins workers; idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

// Blocking client for one keep-alive connection to "unix:/path" or "host:port".
class Client {
 public:
  static Result<Client> connect(const std::string& address, int timeout_ms = 5000);
  Result<ClientResponse> request(std::string_view method, std::string_view path,
                                 std::string_view body = {},
                                 std::string_view content_type = "application/json");
  Result<ClientResponse> get(std::string_view path) { return request("GET", path); }

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace colo::http

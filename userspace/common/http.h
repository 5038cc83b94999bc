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
  // The server reserves at least kBodyPadding bytes past body.size(), so a parser that reads
  // ahead (simdjson) can use the body in place: body.capacity() >= body.size() + kBodyPadding.
  std::string body;
  static constexpr size_t kBodyPadding = 64;
  // Value of header `name` (lower-case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
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

  // Connections currently open (all workers); for tests and metrics.
  size_t connectionCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

struct ClientOptions {
  int timeout_ms = 5000;  // connect, and each read/write
  // TLS (TCP only). CA/cert/key each come from a file or from PEM text (kubeconfig *-data).
  bool tls = false;
  bool tls_insecure_skip_verify = false;
  std::string tls_ca_file, tls_ca_pem;
  std::string tls_cert_file, tls_cert_pem;  // client certificate (optional)
  std::string tls_key_file, tls_key_pem;
  std::string tls_server_name;  // SNI and host check; default: the host of the address
  // Sent with every request (e.g. {"authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> headers;
};

// Blocking client for one keep-alive connection to "unix:/path" or "host:port". A request on a
// connection the server closed while idle reconnects once. Not thread-safe.
class Client {
 public:
  static Result<Client> connect(const std::string& address, int timeout_ms = 5000);
  static Result<Client> connect(const std::string& address, ClientOptions options);
  Result<ClientResponse> request(std::string_view method, std::string_view path,
                                 std::string_view body = {},
                                 std::string_view content_type = "application/json");
  Result<ClientResponse> get(std::string_view path) { return request("GET", path); }

  // GET `path` and hand the body to `on_data` piece by piece as it arrives (chunked or not),
  // for long-lived streams such as a Kubernetes watch. `on_data` returns false to stop early
  // (the connection is then closed). Each read waits at most `idle_timeout_ms`. Returns the
  // status code; on a status other than 200 the body is read whole and passed to `on_data` once.
  // The connection is not reused after a stream.
  Result<int> stream(std::string_view path, const std::function<bool(std::string_view)>& on_data,
                     int idle_timeout_ms);

  // Thread-safe: shuts the connection down so that a request or stream blocked in another
  // thread returns an error now (used to stop a watch). The client refuses all use afterwards.
  void abort();

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace colo::http

#include "common/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "common/unique_fd.h"

namespace colo::http {
namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr size_t kReadChunk = 64 << 10;

int64_t nowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = lower(c);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// True when the comma-separated header value contains `token` (case-insensitive).
bool hasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (iequals(item, token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

std::string sslErrorString() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

bool parseSize(std::string_view text, size_t* out) {
  text = trim(text);
  if (text.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Splits "host:port" ("[v6]:port" too).
bool splitHostPort(std::string_view address, std::string* host, std::string* port) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return false;
    }
    *host = std::string(address.substr(1, close - 1));
    *port = std::string(address.substr(close + 2));
    return !port->empty();
  }
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= address.size()) {
    return false;
  }
  *host = std::string(address.substr(0, colon));
  *port = std::string(address.substr(colon + 1));
  return true;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Server

namespace {

struct Listener {
  UniqueFd fd;
  bool tls = false;
  std::string unix_path;
};

enum class ConnState { kHandshake, kHeaders, kBody };

// Clears a request for the next one on the connection, keeping the body's buffer (up to 8 MiB)
// so that a keep-alive client sending bodies of similar size costs no allocation per request.
void resetRequest(Request* r) {
  constexpr size_t kKeepBodyCapacity = 8u << 20;
  r->method.clear();
  r->path.clear();
  r->query.clear();
  r->headers.clear();
  if (r->body.capacity() > kKeepBodyCapacity) {
    std::string().swap(r->body);
  } else {
    r->body.clear();
  }
}

struct Conn {
  UniqueFd fd;
  SSL* ssl = nullptr;
  ConnState state = ConnState::kHeaders;
  std::string in;      // bytes read but not yet consumed (headers, start of a body, pipelined reqs)
  size_t scanned = 0;  // how far `in` was searched for the end of the headers
  Request req;
  size_t body_filled = 0;
  bool keep_alive = true;
  std::string out;  // response bytes to send: headers (and small bodies)
  size_t out_off = 0;
  std::string body;  // a large response body, sent after `out` without copying it there
  size_t body_off = 0;
  bool close_after_write = false;
  bool epollout = false;
  int64_t last_active_ms = 0;

  ~Conn() {
    if (ssl != nullptr) {
      SSL_free(ssl);
    }
  }
};

// A response is still being written.
bool pending(const Conn* c) { return c->out_off < c->out.size() || c->body_off < c->body.size(); }

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  std::vector<Listener> listeners;
  SSL_CTX* ssl_ctx = nullptr;
  std::atomic<int> connections{0};
  std::atomic<bool> running{false};
  bool stopped = false;
  std::mutex mu;  // start/stop
  log::RateLimit limit_log{std::chrono::seconds(10)};

  struct Worker {
    UniqueFd epoll;
    UniqueFd wake;
    std::thread thread;
    std::unordered_map<int, std::unique_ptr<Conn>> conns;
    // Connections accepted by another worker for this one (round-robin), announced on `wake`.
    std::mutex inbox_mu;
    std::vector<std::unique_ptr<Conn>> inbox;
  };
  std::atomic<uint32_t> next_worker{0};
  std::vector<std::unique_ptr<Worker>> workers;

  ~Impl() {
    if (ssl_ctx != nullptr) {
      SSL_CTX_free(ssl_ctx);
    }
  }

  void run(Worker* w);
  void acceptAll(Worker* w, const Listener& l);
  void closeConn(Worker* w, int fd);
  void adopt(Worker* w, std::unique_ptr<Conn> c);
  // Returns false when the connection was closed.
  bool onReadable(Worker* w, Conn* c);
  bool onWritable(Worker* w, Conn* c);
  bool process(Worker* w, Conn* c);
  bool flush(Worker* w, Conn* c);
  void sendError(Conn* c, int status, std::string_view message);
  void respond(Conn* c, Response& r);
  void setEpollOut(Worker* w, Conn* c, bool on);
  // Reads into buf: >0 bytes, 0 EOF, -1 would block, -2 error.
  ssize_t readSome(Conn* c, char* buf, size_t len);
};

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

Server::~Server() { stop(); }

size_t Server::connectionCount() const {
  return static_cast<size_t>(impl_->connections.load(std::memory_order_relaxed));
}

Result<uint16_t> Server::listenTcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str.c_str(), &hints, &res);
  if (rc != 0) {
    return failInvalid(fmt::format("listen {}:{}: resolve: {}", host, port, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  UniqueFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return failErrno(errno, "listen: socket");
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0) {
    return failErrno(errno, fmt::format("listen: bind {}:{}", host, port));
  }
  if (::listen(fd.get(), 1024) != 0) {
    return failErrno(errno, "listen");
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                            : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  Listener l;
  l.fd = std::move(fd);
  l.tls = !impl_->options.tls_cert_file.empty() && !impl_->options.tls_key_file.empty();
  impl_->listeners.push_back(std::move(l));
  return bound;
}

Status Server::listenUnix(const std::string& path, unsigned mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return failInvalid(
        fmt::format("listen unix {}: path longer than {} bytes", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return failInvalid(
          fmt::format("listen unix {}: exists and is not a socket; remove it", path));
    }
    ::unlink(path.c_str());
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return failErrno(errno, "listen unix: socket");
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return failErrno(errno, fmt::format("listen unix: bind {}", path));
  }
  if (chmod(path.c_str(), mode) != 0) {
    return failErrno(errno, fmt::format("listen unix: chmod {}", path));
  }
  if (::listen(fd.get(), 1024) != 0) {
    return failErrno(errno, "listen unix");
  }
  Listener l;
  l.fd = std::move(fd);
  l.unix_path = path;
  impl_->listeners.push_back(std::move(l));
  return ok();
}

Status Server::start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& s = *impl_;
  if (s.running) {
    return failInvalid("http server: already started");
  }
  if (s.listeners.empty()) {
    return failInvalid("http server: start() without a listener; call listenTcp/listenUnix");
  }
  const ServerOptions& o = s.options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return failInvalid("http server: TLS needs both a certificate and a key file");
  }
  if (!o.tls_cert_file.empty() && s.ssl_ctx == nullptr) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      return failInvalid("http server: SSL_CTX_new: " + sslErrorString());
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, o.tls_cert_file.c_str()) != 1) {
      std::string err = sslErrorString();
      SSL_CTX_free(ctx);
      return failInvalid(
          fmt::format("http server: load TLS certificate {}: {}", o.tls_cert_file, err));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      std::string err = sslErrorString();
      SSL_CTX_free(ctx);
      return failInvalid(fmt::format("http server: load TLS key {}: {}", o.tls_key_file, err));
    }
    s.ssl_ctx = ctx;
  }
  int threads = std::max(1, o.threads);
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->epoll = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    w->wake = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!w->epoll.valid() || !w->wake.valid()) {
      return failErrno(errno, "http server: epoll/eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(-1);
    epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, w->wake.get(), &ev);
    for (size_t li = 0; li < s.listeners.size(); ++li) {
      epoll_event lev{};
      lev.events = EPOLLIN | EPOLLEXCLUSIVE;
      lev.data.u64 = (1ull << 63) | li;
      if (epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, s.listeners[li].fd.get(), &lev) != 0) {
        return failErrno(errno, "http server: epoll_ctl listener");
      }
    }
    s.workers.push_back(std::move(w));
  }
  s.running = true;
  s.stopped = false;
  for (auto& w : s.workers) {
    Impl::Worker* wp = w.get();
    w->thread = std::thread([&s, wp] { s.run(wp); });
  }
  return ok();
}

void Server::stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& s = *impl_;
  if (s.stopped) {
    return;
  }
  s.stopped = true;
  s.running = false;
  for (auto& w : s.workers) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(w->wake.get(), &one, sizeof(one));
  }
  for (auto& w : s.workers) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
    w->conns.clear();
    w->inbox.clear();
  }
  s.connections.store(0);
  s.workers.clear();
  for (auto& l : s.listeners) {
    if (!l.unix_path.empty()) {
      ::unlink(l.unix_path.c_str());
    }
  }
  s.listeners.clear();
}

void Server::Impl::run(Worker* w) {
  std::vector<epoll_event> events(256);
  int64_t next_sweep = nowMs() + 100;
  const int timeout = options.read_timeout_ms > 0 ? options.read_timeout_ms : 0;
  const int sweep_every = timeout > 0 ? std::clamp(timeout / 4, 10, 1000) : 1000;
  while (true) {
    int n = epoll_wait(w->epoll.get(), events.data(), static_cast<int>(events.size()), sweep_every);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      log::error("http", "epoll_wait: {}", strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == static_cast<uint64_t>(-1)) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t r = ::read(w->wake.get(), &count, sizeof(count));
        if (!running.load()) {
          return;  // stop()
        }
        std::vector<std::unique_ptr<Conn>> handed;
        {
          std::lock_guard<std::mutex> lock(w->inbox_mu);
          handed.swap(w->inbox);
        }
        for (auto& c : handed) {
          adopt(w, std::move(c));
        }
        continue;
      }
      if (tag & (1ull << 63)) {
        acceptAll(w, listeners[tag & ~(1ull << 63)]);
        continue;
      }
      int fd = static_cast<int>(tag);
      auto it = w->conns.find(fd);
      if (it == w->conns.end()) {
        continue;
      }
      Conn* c = it->second.get();
      uint32_t ev = events[i].events;
      if (ev & (EPOLLERR | EPOLLHUP)) {
        // Flush nothing: the peer is gone. Readable data before a HUP is still read below.
        if (!(ev & EPOLLIN)) {
          closeConn(w, fd);
          continue;
        }
      }
      bool alive = true;
      if (ev & EPOLLOUT) {
        alive = onWritable(w, c);
      }
      if (alive && (ev & EPOLLIN)) {
        onReadable(w, c);
      }
    }
    int64_t now = nowMs();
    if (timeout > 0 && now >= next_sweep) {
      next_sweep = now + sweep_every;
      std::vector<int> expired;
      for (auto& [fd, c] : w->conns) {
        if (now - c->last_active_ms > timeout) {
          expired.push_back(fd);
        }
      }
      for (int fd : expired) {
        closeConn(w, fd);
      }
    }
  }
}

void Server::Impl::acceptAll(Worker* w, const Listener& l) {
  while (true) {
    int fd = accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && limit_log.allow()) {
        log::warn("http", "accept: {}", strerror(errno));
      }
      return;
    }
    if (connections.load(std::memory_order_relaxed) >= options.max_connections) {
      if (limit_log.allow()) {
        log::warn("http", "connection limit {} reached: refusing a connection",
                  options.max_connections);
      }
      ::close(fd);
      continue;
    }
    if (l.unix_path.empty()) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto c = std::make_unique<Conn>();
    c->fd = UniqueFd(fd);
    c->last_active_ms = nowMs();
    if (l.tls && ssl_ctx != nullptr) {
      c->ssl = SSL_new(ssl_ctx);
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      c->state = ConnState::kHandshake;
    }
    connections.fetch_add(1, std::memory_order_relaxed);
    // Spread connections over the workers round-robin: whichever worker the kernel woke for
    // the listener, a scheduler's few keep-alive connections must not share one thread.
    Worker* target =
        workers[next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size()].get();
    if (target == w) {
      adopt(w, std::move(c));
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(target->inbox_mu);
      target->inbox.push_back(std::move(c));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(target->wake.get(), &one, sizeof(one));
  }
}

void Server::Impl::adopt(Worker* w, std::unique_ptr<Conn> c) {
  int fd = c->fd.get();
  c->last_active_ms = nowMs();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = static_cast<uint64_t>(fd);
  if (epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    connections.fetch_sub(1, std::memory_order_relaxed);
    return;  // c closes the fd
  }
  w->conns.emplace(fd, std::move(c));
}

void Server::Impl::closeConn(Worker* w, int fd) {
  auto it = w->conns.find(fd);
  if (it == w->conns.end()) {
    return;
  }
  epoll_ctl(w->epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  w->conns.erase(it);
  connections.fetch_sub(1, std::memory_order_relaxed);
}

void Server::Impl::setEpollOut(Worker* w, Conn* c, bool on) {
  if (c->epollout == on) {
    return;
  }
  c->epollout = on;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (on ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = static_cast<uint64_t>(c->fd.get());
  epoll_ctl(w->epoll.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
}

ssize_t Server::Impl::readSome(Conn* c, char* buf, size_t len) {
  if (c->ssl != nullptr) {
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, static_cast<int>(std::min<size_t>(len, 1 << 30)));
    if (n > 0) {
      return n;
    }
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      return -1;
    }
    return err == SSL_ERROR_ZERO_RETURN ? 0 : -2;
  }
  while (true) {
    ssize_t n = ::read(c->fd.get(), buf, len);
    if (n >= 0) {
      return n;
    }
    if (errno == EINTR) {
      continue;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : -2;
  }
}

bool Server::Impl::onReadable(Worker* w, Conn* c) {
  int fd = c->fd.get();
  c->last_active_ms = nowMs();
  if (c->state == ConnState::kHandshake) {
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
      int err = SSL_get_error(c->ssl, rc);
      if (err == SSL_ERROR_WANT_READ) {
        return true;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        setEpollOut(w, c, true);
        return true;
      }
      if (limit_log.allow()) {
        log::warn("http", "TLS handshake failed: {}", sslErrorString());
      }
      closeConn(w, fd);
      return false;
    }
    c->state = ConnState::kHeaders;
  }
  // Drain the socket (and the TLS buffer) while no response is waiting to be written; a
  // pending response applies backpressure until it is flushed.
  while (!pending(c)) {
    ssize_t n;
    if (c->state == ConnState::kBody) {
      size_t want = c->req.body.size() - c->body_filled;
      n = readSome(c, c->req.body.data() + c->body_filled, want);
      if (n > 0) {
        c->body_filled += static_cast<size_t>(n);
      }
    } else {
      size_t old = c->in.size();
      c->in.resize(old + kReadChunk);
      n = readSome(c, c->in.data() + old, kReadChunk);
      c->in.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    }
    if (n == -1) {
      return true;
    }
    if (n <= 0) {
      closeConn(w, fd);
      return false;
    }
    if (!process(w, c)) {
      return false;
    }
  }
  return true;
}

bool Server::Impl::onWritable(Worker* w, Conn* c) {
  if (c->state == ConnState::kHandshake) {
    setEpollOut(w, c, false);
    return onReadable(w, c);
  }
  if (!flush(w, c)) {
    return false;
  }
  if (!pending(c)) {
    // The response is out: handle what was pipelined behind it, then read on.
    if (!process(w, c)) {
      return false;
    }
    if (!pending(c)) {
      return onReadable(w, c);
    }
  }
  return true;
}

bool Server::Impl::flush(Worker* w, Conn* c) {
  while (pending(c)) {
    const bool in_out = c->out_off < c->out.size();
    const char* p = in_out ? c->out.data() + c->out_off : c->body.data() + c->body_off;
    size_t len = in_out ? c->out.size() - c->out_off : c->body.size() - c->body_off;
    ssize_t n;
    if (c->ssl != nullptr) {
      ERR_clear_error();
      int rc = SSL_write(c->ssl, p, static_cast<int>(std::min<size_t>(len, 1 << 30)));
      if (rc <= 0) {
        int err = SSL_get_error(c->ssl, rc);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
          setEpollOut(w, c, true);
          return true;
        }
        closeConn(w, c->fd.get());
        return false;
      }
      n = rc;
    } else {
      // Headers and body in one system call (one TCP segment train, no copy of the body).
      iovec iov[2];
      int iovcnt = 0;
      if (in_out) {
        iov[iovcnt++] = {const_cast<char*>(p), len};
      }
      if (c->body_off < c->body.size()) {
        iov[iovcnt++] = {c->body.data() + c->body_off, c->body.size() - c->body_off};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(iovcnt);
      n = ::sendmsg(c->fd.get(), &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          setEpollOut(w, c, true);
          return true;
        }
        closeConn(w, c->fd.get());
        return false;
      }
    }
    size_t sent = static_cast<size_t>(n);
    size_t from_out = std::min(sent, c->out.size() - c->out_off);
    c->out_off += from_out;
    c->body_off += sent - from_out;
    c->last_active_ms = nowMs();
  }
  c->body.clear();
  c->body_off = 0;
  c->out.clear();
  c->out_off = 0;
  setEpollOut(w, c, false);
  if (c->close_after_write) {
    closeConn(w, c->fd.get());
    return false;
  }
  return true;
}

void Server::Impl::respond(Conn* c, Response& r) {
  std::string& out = c->out;
  // A large body is sent from its own buffer after the headers (flush); a small one is copied.
  constexpr size_t kCopyBodyBelow = 16 << 10;
  const bool separate = r.body.size() >= kCopyBodyBelow && !pending(c);
  out.reserve(out.size() + (separate ? 0 : r.body.size()) + 256);
  out += fmt::format("HTTP/1.1 {} {}\r\n", r.status, reasonPhrase(r.status));
  if (!r.content_type.empty()) {
    out += "Content-Type: ";
    out += r.content_type;
    out += "\r\n";
  }
  for (const auto& [k, v] : r.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += fmt::format("Content-Length: {}\r\n", r.body.size());
  out += c->close_after_write ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
  if (separate) {
    c->body = std::move(r.body);
    c->body_off = 0;
  } else {
    out += r.body;
  }
}

void Server::Impl::sendError(Conn* c, int status, std::string_view message) {
  c->close_after_write = true;
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(message);
  r.body += '\n';
  respond(c, r);
}

// Consumes complete requests from the connection's buffers and answers them. Returns false when
// the connection was closed.
bool Server::Impl::process(Worker* w, Conn* c) {
  while (!pending(c) || c->state == ConnState::kBody) {
    if (c->state == ConnState::kHeaders) {
      size_t from = c->scanned >= 3 ? c->scanned - 3 : 0;
      size_t end = c->in.find("\r\n\r\n", from);
      if (end == std::string::npos) {
        c->scanned = c->in.size();
        if (c->in.size() > kMaxHeaderBytes) {
          sendError(c, 431, "request headers larger than 64 KiB");
          return flush(w, c);
        }
        return true;
      }
      if (end > kMaxHeaderBytes) {
        sendError(c, 431, "request headers larger than 64 KiB");
        return flush(w, c);
      }
      std::string_view head(c->in.data(), end);
      resetRequest(&c->req);
      // Request line: METHOD SP target SP HTTP/1.x
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      size_t sp1 = line.find(' ');
      size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 ||
          sp2 == sp1 + 1 || line.find(' ', sp2 + 1) != std::string_view::npos) {
        sendError(c, 400, "malformed request line");
        return flush(w, c);
      }
      std::string_view method = line.substr(0, sp1);
      std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string_view version = line.substr(sp2 + 1);
      for (char ch : method) {
        if (ch < 'A' || ch > 'Z') {
          sendError(c, 400, "malformed request line: bad method");
          return flush(w, c);
        }
      }
      if (version.substr(0, 5) != "HTTP/") {
        sendError(c, 400, "malformed request line: no HTTP version");
        return flush(w, c);
      }
      if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        sendError(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
        return flush(w, c);
      }
      if (target.empty() || (target.front() != '/' && target != "*")) {
        sendError(c, 400, "malformed request line: target must start with '/'");
        return flush(w, c);
      }
      c->req.method = std::string(method);
      size_t q = target.find('?');
      c->req.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) {
        c->req.query = std::string(target.substr(q + 1));
      }
      bool http10 = version == "HTTP/1.0";
      // Headers
      std::string_view rest =
          eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
      bool bad = false;
      while (!rest.empty()) {
        size_t e = rest.find("\r\n");
        std::string_view h = rest.substr(0, e);
        rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
        size_t colon = h.find(':');
        if (colon == std::string_view::npos || colon == 0 || h.front() == ' ' ||
            h.front() == '\t' || h[colon - 1] == ' ') {
          bad = true;
          break;
        }
        c->req.headers.emplace_back(toLower(h.substr(0, colon)),
                                    std::string(trim(h.substr(colon + 1))));
      }
      if (bad) {
        sendError(c, 400, "malformed header line");
        return flush(w, c);
      }
      std::string_view conn_hdr = c->req.header("connection");
      c->keep_alive = http10 ? hasToken(conn_hdr, "keep-alive") : !hasToken(conn_hdr, "close");
      std::string_view te = c->req.header("transfer-encoding");
      if (!te.empty()) {
        sendError(c, 411, "chunked request bodies are not supported: send Content-Length");
        return flush(w, c);
      }
      size_t content_length = 0;
      int cl_count = 0;
      for (const auto& [k, v] : c->req.headers) {
        if (k == "content-length") {
          size_t len = 0;
          if (!parseSize(v, &len) || (cl_count > 0 && len != content_length)) {
            bad = true;
          }
          content_length = len;
          ++cl_count;
        }
      }
      if (bad) {
        sendError(c, 400, "malformed Content-Length");
        return flush(w, c);
      }
      if (content_length > options.max_body_bytes) {
        sendError(c, 413,
                  fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                              content_length, options.max_body_bytes));
        return flush(w, c);
      }
      // Move what already arrived of the body; later reads go straight into req.body.
      size_t body_start = end + 4;
      size_t have = std::min(content_length, c->in.size() - body_start);
      c->req.body.reserve(content_length + Request::kBodyPadding);
      c->req.body.resize(content_length);
      std::memcpy(c->req.body.data(), c->in.data() + body_start, have);
      c->body_filled = have;
      c->in.erase(0, body_start + have);
      c->scanned = 0;
      c->state = ConnState::kBody;
      if (have < content_length && hasToken(c->req.header("expect"), "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        c->out.append(kContinue);
        if (!flush(w, c)) {
          return false;
        }
      }
    }
    // kBody
    if (c->body_filled < c->req.body.size()) {
      return true;
    }
    c->state = ConnState::kHeaders;
    Response r;
    try {
      r = handler(c->req);
    } catch (const std::exception& e) {
      r = Response{};
      r.status = 500;
      r.content_type = "text/plain; charset=utf-8";
      r.body = fmt::format("internal error: {}\n", e.what());
    } catch (...) {
      r = Response{};
      r.status = 500;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "internal error\n";
    }
    c->close_after_write = !c->keep_alive;
    respond(c, r);
    resetRequest(&c->req);
    if (!flush(w, c)) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Client

struct Client::Impl {
  std::string address;
  std::string host_header;
  ClientOptions options;
  UniqueFd fd;
  SSL_CTX* ssl_ctx = nullptr;
  SSL* ssl = nullptr;
  std::string buf;       // bytes read past the previous response
  bool fresh = false;    // connected and not yet used
  std::mutex fd_mu;      // guards fd replacement against abort()
  bool aborted = false;  // under fd_mu

  ~Impl() {
    dropConnection();
    if (ssl_ctx != nullptr) {
      SSL_CTX_free(ssl_ctx);
    }
  }
  void dropConnection() {
    if (ssl != nullptr) {
      SSL_free(ssl);
      ssl = nullptr;
    }
    std::lock_guard<std::mutex> lock(fd_mu);
    fd.reset();
    buf.clear();
  }
  // Publishes a connected socket, unless abort() came first.
  Status adopt(UniqueFd s) {
    std::lock_guard<std::mutex> lock(fd_mu);
    if (aborted) {
      return failErrno(ECANCELED, "connect: client aborted");
    }
    fd = std::move(s);
    return ok();
  }
  Status setupTls();
  Status open();
  Status sendAll(std::string_view data);
  // Reads more bytes into buf; error on EOF or timeout.
  Status fill();
  Result<ClientResponse> readResponse(bool head_only_stream,
                                      const std::function<bool(std::string_view)>* on_data,
                                      bool* stopped);
  void setTimeout(int ms) {
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
};

namespace {

Status loadPem(SSL_CTX* ctx, const std::string& file, const std::string& pem, bool is_key,
               bool is_ca) {
  if (file.empty() && pem.empty()) {
    return ok();
  }
  if (!file.empty()) {
    int rc = is_ca    ? SSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr)
             : is_key ? SSL_CTX_use_PrivateKey_file(ctx, file.c_str(), SSL_FILETYPE_PEM)
                      : SSL_CTX_use_certificate_chain_file(ctx, file.c_str());
    if (rc != 1) {
      return failInvalid(fmt::format("load {}: {}", file, sslErrorString()));
    }
    return ok();
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) {
    return failInvalid("BIO_new_mem_buf failed");
  }
  Status st = ok();
  if (is_key) {
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
      st = failInvalid("load PEM private key: " + sslErrorString());
    }
    EVP_PKEY_free(key);
  } else {
    int count = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      int rc = is_ca ? X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert)
                     : (count == 0 ? SSL_CTX_use_certificate(ctx, cert)
                                   : SSL_CTX_add_extra_chain_cert(ctx, X509_dup(cert)));
      X509_free(cert);
      if (rc != 1) {
        st = failInvalid("load PEM certificate: " + sslErrorString());
        break;
      }
      ++count;
    }
    ERR_clear_error();  // the loop ends on a "no start line" error
    if (st && count == 0) {
      st = failInvalid("no PEM certificate found");
    }
  }
  BIO_free(bio);
  return st;
}

}  // namespace

Status Client::Impl::setupTls() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return failInvalid("SSL_CTX_new: " + sslErrorString());
  }
  ssl_ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (options.tls_insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (options.tls_ca_file.empty() && options.tls_ca_pem.empty()) {
      SSL_CTX_set_default_verify_paths(ctx);
    }
  }
  if (auto st = loadPem(ctx, options.tls_ca_file, options.tls_ca_pem, false, true); !st) {
    return fail(st.error().wrap("TLS CA"));
  }
  if (auto st = loadPem(ctx, options.tls_cert_file, options.tls_cert_pem, false, false); !st) {
    return fail(st.error().wrap("TLS client certificate"));
  }
  if (auto st = loadPem(ctx, options.tls_key_file, options.tls_key_pem, true, false); !st) {
    return fail(st.error().wrap("TLS client key"));
  }
  return ok();
}

Status Client::Impl::open() {
  dropConnection();
  const int timeout = options.timeout_ms > 0 ? options.timeout_ms : 5000;
  std::string host;
  if (address.rfind("unix:", 0) == 0) {
    std::string path = address.substr(5);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
      return failInvalid(fmt::format("connect {}: path too long", address));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
      return failErrno(errno, "socket");
    }
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return failErrno(errno, fmt::format("connect {}", address));
    }
    if (auto st = adopt(std::move(s)); !st) {
      return st;
    }
    setTimeout(timeout);
    fresh = true;
    return ok();
  }
  std::string port;
  if (!splitHostPort(address, &host, &port)) {
    return failInvalid(
        fmt::format("connect {}: address must be \"unix:/path\" or \"host:port\"", address));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return failInvalid(fmt::format("connect {}: resolve: {}", address, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  int last_err = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd s(socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
      last_err = errno;
      continue;
    }
    if (::connect(s.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_err = errno;
        continue;
      }
      pollfd p{s.get(), POLLOUT, 0};
      int pr = poll(&p, 1, timeout);
      if (pr <= 0) {
        last_err = pr == 0 ? ETIMEDOUT : errno;
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        last_err = soerr;
        continue;
      }
    }
    int flags = fcntl(s.get(), F_GETFL);
    fcntl(s.get(), F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (auto st = adopt(std::move(s)); !st) {
      return st;
    }
    break;
  }
  if (!fd.valid()) {
    return failErrno(last_err, fmt::format("connect {}", address));
  }
  setTimeout(timeout);
  if (options.tls) {
    if (ssl_ctx == nullptr) {
      if (auto st = setupTls(); !st) {
        dropConnection();
        return fail(st.error().wrap(fmt::format("connect {}", address)));
      }
    }
    ssl = SSL_new(ssl_ctx);
    SSL_set_fd(ssl, fd.get());
    std::string name = options.tls_server_name.empty() ? host : options.tls_server_name;
    in_addr a4{};
    in6_addr a6{};
    bool is_ip =
        inet_pton(AF_INET, name.c_str(), &a4) == 1 || inet_pton(AF_INET6, name.c_str(), &a6) == 1;
    if (!is_ip) {
      SSL_set_tlsext_host_name(ssl, name.c_str());
    }
    if (!options.tls_insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      }
    }
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) {
      std::string err = sslErrorString();
      long verify = SSL_get_verify_result(ssl);
      dropConnection();
      if (verify != X509_V_OK) {
        err +=
            fmt::format(" (certificate verification: {})", X509_verify_cert_error_string(verify));
      }
      return failInvalid(fmt::format("connect {}: TLS handshake: {}", address, err));
    }
  }
  fresh = true;
  return ok();
}

Status Client::Impl::sendAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n;
    if (ssl != nullptr) {
      ERR_clear_error();
      int rc =
          SSL_write(ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
      if (rc <= 0) {
        return failInvalid("TLS write: " + sslErrorString());
      }
      n = rc;
    } else {
      n = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return failErrno(errno == EAGAIN ? ETIMEDOUT : errno, "write");
      }
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Status Client::Impl::fill() {
  char tmp[64 << 10];
  while (true) {
    ssize_t n;
    if (ssl != nullptr) {
      ERR_clear_error();
      int rc = SSL_read(ssl, tmp, sizeof(tmp));
      if (rc <= 0) {
        int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_ZERO_RETURN) {
          return failErrno(ECONNRESET, "read: connection closed");
        }
        if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return failErrno(ETIMEDOUT, "read");
        }
        if (err == SSL_ERROR_SYSCALL) {
          return failErrno(errno != 0 ? errno : ECONNRESET, "read");
        }
        return failInvalid("TLS read: " + sslErrorString());
      }
      n = rc;
    } else {
      n = ::recv(fd.get(), tmp, sizeof(tmp), 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return failErrno((errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno, "read");
      }
      if (n == 0) {
        return failErrno(ECONNRESET, "read: connection closed");
      }
    }
    buf.append(tmp, static_cast<size_t>(n));
    return ok();
  }
}

// Reads one response. With on_data set, body bytes are handed to it as they arrive instead of
// being collected (a 200 stream); *stopped says the callback asked to stop.
Result<ClientResponse> Client::Impl::readResponse(
    bool /*unused*/, const std::function<bool(std::string_view)>* on_data, bool* stopped) {
  ClientResponse resp;
  size_t end;
  while (true) {
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) {
        return failInvalid("response headers too large");
      }
      if (auto st = fill(); !st) {
        return fail(st.error());
      }
    }
    std::string_view head(buf.data(), end);
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.substr(0, 5) != "HTTP/" || line.size() < 12) {
      return failInvalid(fmt::format("malformed status line: {}", line.substr(0, 80)));
    }
    int status = 0;
    auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
    if (ec != std::errc()) {
      return failInvalid(fmt::format("malformed status line: {}", line.substr(0, 80)));
    }
    resp.status = status;
    resp.headers.clear();
    std::string_view rest =
        eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!rest.empty()) {
      size_t e = rest.find("\r\n");
      std::string_view h = rest.substr(0, e);
      rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
      size_t colon = h.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      resp.headers.emplace_back(toLower(h.substr(0, colon)),
                                std::string(trim(h.substr(colon + 1))));
    }
    buf.erase(0, end + 4);
    if (status >= 100 && status < 200) {
      continue;  // 100 Continue and friends: the real response follows
    }
    break;
  }
  auto header = [&](std::string_view name) -> std::string_view {
    for (const auto& [k, v] : resp.headers) {
      if (k == name) {
        return v;
      }
    }
    return {};
  };
  const bool streaming = on_data != nullptr && resp.status == 200;
  auto deliver = [&](std::string_view data) -> bool {
    if (streaming) {
      if (!data.empty() && !(*on_data)(data)) {
        *stopped = true;
        return false;
      }
    } else {
      resp.body.append(data);
    }
    return true;
  };
  bool close = hasToken(header("connection"), "close");
  if (hasToken(header("transfer-encoding"), "chunked")) {
    while (true) {
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos) {
        if (auto st = fill(); !st) {
          return fail(st.error().wrap("read chunk size"));
        }
      }
      std::string_view size_line(buf.data(), eol);
      size_t semi = size_line.find(';');
      size_line = trim(size_line.substr(0, semi));
      size_t chunk = 0;
      auto [p, ec] =
          std::from_chars(size_line.data(), size_line.data() + size_line.size(), chunk, 16);
      if (ec != std::errc() || size_line.empty()) {
        return failInvalid("malformed chunk size");
      }
      buf.erase(0, eol + 2);
      if (chunk == 0) {
        // Trailers end with an empty line.
        while (true) {
          while ((eol = buf.find("\r\n")) == std::string::npos) {
            if (auto st = fill(); !st) {
              return fail(st.error().wrap("read trailer"));
            }
          }
          bool empty = eol == 0;
          buf.erase(0, eol + 2);
          if (empty) {
            break;
          }
        }
        break;
      }
      // Deliver the chunk as it arrives, so a long watch chunk is not held back.
      size_t left = chunk;
      while (left > 0) {
        if (buf.empty()) {
          if (auto st = fill(); !st) {
            return fail(st.error().wrap("read chunk"));
          }
        }
        size_t take = std::min(left, buf.size());
        if (!deliver(std::string_view(buf.data(), take))) {
          return resp;
        }
        buf.erase(0, take);
        left -= take;
      }
      while (buf.size() < 2) {
        if (auto st = fill(); !st) {
          return fail(st.error().wrap("read chunk end"));
        }
      }
      if (buf[0] != '\r' || buf[1] != '\n') {
        return failInvalid("malformed chunk terminator");
      }
      buf.erase(0, 2);
    }
  } else if (std::string_view cl = header("content-length"); !cl.empty()) {
    size_t len = 0;
    if (!parseSize(cl, &len)) {
      return failInvalid("malformed Content-Length in response");
    }
    if (!streaming) {
      resp.body.reserve(len);
    }
    size_t left = len;
    while (left > 0) {
      if (buf.empty()) {
        if (auto st = fill(); !st) {
          return fail(st.error().wrap("read body"));
        }
      }
      size_t take = std::min(left, buf.size());
      if (!deliver(std::string_view(buf.data(), take))) {
        return resp;
      }
      buf.erase(0, take);
      left -= take;
    }
  } else if (resp.status == 204 || resp.status == 304) {
    // no body
  } else {
    // Body until the server closes.
    close = true;
    while (true) {
      if (!buf.empty()) {
        if (!deliver(buf)) {
          return resp;
        }
        buf.clear();
      }
      auto st = fill();
      if (!st) {
        break;
      }
    }
  }
  if (close) {
    dropConnection();
  }
  return resp;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void Client::abort() {
  std::lock_guard<std::mutex> lock(impl_->fd_mu);
  impl_->aborted = true;
  if (impl_->fd.valid()) {
    ::shutdown(impl_->fd.get(), SHUT_RDWR);
  }
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::connect(const std::string& address, int timeout_ms) {
  ClientOptions options;
  options.timeout_ms = timeout_ms;
  return connect(address, std::move(options));
}

Result<Client> Client::connect(const std::string& address, ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->address = address;
  impl->options = std::move(options);
  impl->host_header =
      address.rfind("unix:", 0) == 0 ? std::string("localhost") : std::string(address);
  if (auto st = impl->open(); !st) {
    return fail(st.error());
  }
  return Client(std::move(impl));
}

namespace {

std::string requestHead(const Client* /*unused*/, std::string_view method, std::string_view path,
                        std::string_view host, const ClientOptions& options, size_t body_len,
                        std::string_view content_type, bool has_body) {
  std::string head;
  head.reserve(256);
  head += method;
  head += ' ';
  head += path;
  head += " HTTP/1.1\r\nHost: ";
  head += host;
  head += "\r\n";
  for (const auto& [k, v] : options.headers) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  if (has_body) {
    head += "Content-Type: ";
    head += content_type;
    head += "\r\n";
  }
  if (has_body || method == "POST" || method == "PUT" || method == "PATCH") {
    head += fmt::format("Content-Length: {}\r\n", body_len);
  }
  head += "\r\n";
  return head;
}

}  // namespace

Result<ClientResponse> Client::request(std::string_view method, std::string_view path,
                                       std::string_view body, std::string_view content_type) {
  Impl& c = *impl_;
  std::string head = requestHead(this, method, path, c.host_header, c.options, body.size(),
                                 content_type, !body.empty());
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!c.fd.valid()) {
      if (auto st = c.open(); !st) {
        return fail(st.error());
      }
    }
    // A reused connection may have been closed by the server while idle; then (and only
    // then: nothing of the response arrived) retry once on a new connection.
    bool reused = !c.fresh;
    c.fresh = false;
    Status st = c.sendAll(head);
    if (st && !body.empty()) {
      st = c.sendAll(body);
    }
    if (!st) {
      c.dropConnection();
      if (reused && attempt == 0) {
        continue;
      }
      return fail(st.error().wrap(fmt::format("{} {}", method, path)));
    }
    auto resp = c.readResponse(false, nullptr, nullptr);
    if (!resp) {
      bool retry = reused && attempt == 0 && c.buf.empty() && resp.error().code() == ECONNRESET;
      c.dropConnection();
      if (retry) {
        continue;
      }
      return fail(resp.error().wrap(fmt::format("{} {}", method, path)));
    }
    return resp;
  }
  return failErrno(ECONNRESET, fmt::format("{} {}", method, path));
}

Result<int> Client::stream(std::string_view path,
                           const std::function<bool(std::string_view)>& on_data,
                           int idle_timeout_ms) {
  Impl& c = *impl_;
  if (!c.fd.valid() || !c.fresh) {
    if (auto st = c.open(); !st) {
      return fail(st.error());
    }
  }
  c.fresh = false;
  std::string head = requestHead(this, "GET", path, c.host_header, c.options, 0, "", false);
  if (auto st = c.sendAll(head); !st) {
    c.dropConnection();
    return fail(st.error().wrap(fmt::format("GET {}", path)));
  }
  c.setTimeout(idle_timeout_ms > 0 ? idle_timeout_ms : 0);
  bool stopped = false;
  auto resp = c.readResponse(true, &on_data, &stopped);
  c.dropConnection();  // never reused after a stream
  if (!resp) {
    return fail(resp.error().wrap(fmt::format("GET {}", path)));
  }
  if (resp->status != 200) {
    on_data(resp->body);
  }
  return resp->status;
}

}  // namespace colo::http

// SPDX-License-Identifier: GPL-2.0
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "lib/listen_socket.h"

namespace avm::metrics {

namespace {

bool valid_name(std::string_view name, bool colon_ok) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); i++) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0) || (colon_ok && c == ':'))) {
      return false;
    }
  }
  return true;
}

// HELP text escapes '\' and newline; label values also '"'.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    std::array<char, 64> buf{};
    // Shortest text that reads back as the same double.
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    AVM_CHECK(res.ec == std::errc());
    out.append(buf.data(), res.ptr);
  }
}

}  // namespace

std::string render(const std::vector<Family>& families) {
  std::string out;
  for (const Family& f : families) {
    // Names and types come from our own code: a bad one is a bug.
    AVM_CHECK(valid_name(f.name, true));
    AVM_CHECK(f.type == "counter" || f.type == "gauge");
    out += "# HELP " + f.name + " ";
    append_escaped(out, f.help, false);
    out += "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const Sample& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [key, value] : s.labels) {
          AVM_CHECK(valid_name(key, false) && !key.starts_with("__"));
          if (!first) {
            out += ',';
          }
          first = false;
          out += key + "=\"";
          append_escaped(out, value, true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      append_value(out, s.value);
      out += '\n';
    }
  }
  return out;
}

namespace {

constexpr size_t kMaxRequest = 8192;
constexpr size_t kMaxClients = 16;
constexpr size_t kMaxDrain = 1U << 20;
constexpr auto kDeadline = std::chrono::seconds(5);
using Clock = std::chrono::steady_clock;

std::string response(int status, std::string_view reason, std::string_view type,
                     std::string_view body, bool head, std::string_view extra = {}) {
  std::string r = "HTTP/1.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Content-Type: " + std::string(type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra;
  r += "Connection: close\r\n\r\n";
  if (!head) {
    r += body;
  }
  return r;
}

std::string error_response(int status, std::string_view reason, std::string_view extra = {}) {
  return response(status, reason, "text/plain; charset=utf-8", std::string(reason) + "\n", false,
                  extra);
}

// "127.0.0.1:9464", "[::1]:9464": a loopback TCP address, else EINVAL.
Result<std::pair<sockaddr_storage, socklen_t>> parse_inet(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return make_error(EINVAL, "metrics listen address '" + listen +
                                  "': expected unix:/PATH, 127.0.0.1:PORT or [::1]:PORT");
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  unsigned port = 0;
  const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return make_error(EINVAL, "metrics listen address '" + listen + "': bad port");
  }
  sockaddr_storage ss{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host.c_str(), &a6.sin6_addr) != 1 ||
        !IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr)) {
      return make_error(EINVAL, "metrics listen address '" + listen + "': only loopback (::1)");
    }
    std::memcpy(&ss, &a6, sizeof a6);
    return std::pair{ss, static_cast<socklen_t>(sizeof a6)};
  }
  sockaddr_in a4{};
  a4.sin_family = AF_INET;
  a4.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a4.sin_addr) != 1 ||
      (ntohl(a4.sin_addr.s_addr) >> 24) != 127) {
    return make_error(EINVAL,
                      "metrics listen address '" + listen + "': only loopback (127.0.0.0/8)");
  }
  std::memcpy(&ss, &a4, sizeof a4);
  return std::pair{ss, static_cast<socklen_t>(sizeof a4)};
}

std::string format_address(const sockaddr_storage& ss) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (ss.ss_family == AF_INET6) {
    sockaddr_in6 a6{};
    std::memcpy(&a6, &ss, sizeof a6);
    ::inet_ntop(AF_INET6, &a6.sin6_addr, buf.data(), buf.size());
    return "[" + std::string(buf.data()) + "]:" + std::to_string(ntohs(a6.sin6_port));
  }
  sockaddr_in a4{};
  std::memcpy(&a4, &ss, sizeof a4);
  ::inet_ntop(AF_INET, &a4.sin_addr, buf.data(), buf.size());
  return std::string(buf.data()) + ":" + std::to_string(ntohs(a4.sin_port));
}

}  // namespace

struct Server::Impl {
  struct Client {
    UniqueFd fd;
    std::string in;
    std::string out;
    size_t sent = 0;
    bool writing = false;
    bool draining = false;  // reply sent, reading the rest of the request until EOF
    size_t drained = 0;
    Clock::time_point deadline;
  };

  Source source;
  ListenSocket unix_listen;  // for unix:/path
  UniqueFd tcp_listen;       // for loopback TCP
  UniqueFd epoll;
  UniqueFd timer;
  std::string address;
  std::unordered_map<int, Client> clients;

  int listen_fd() const { return unix_listen.fd() >= 0 ? unix_listen.fd() : tcp_listen.get(); }

  Status watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll.get(), op, fd, &ev) < 0) {
      return errno_error("epoll_ctl");
    }
    return {};
  }

  void drop(int fd) {
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    clients.erase(fd);
  }

  void accept_all() {
    for (;;) {
      UniqueFd fd(::accept4(listen_fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        return;  // EAGAIN, or a transient error (ECONNABORTED, EMFILE): try next time
      }
      if (clients.size() >= kMaxClients) {
        continue;  // closed at once: a scraper retries
      }
      const int raw = fd.get();
      if (!watch(raw, EPOLLIN, EPOLL_CTL_ADD)) {
        continue;
      }
      Client& c = clients[raw];
      c.fd = std::move(fd);
      c.deadline = Clock::now() + kDeadline;
    }
  }

  // The answer to a complete request head in @head.
  std::string answer(std::string_view head) {
    const auto eol = head.find_first_of("\r\n");
    const std::string_view line = head.substr(0, eol);
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
        line.find(' ', sp2 + 1) != std::string_view::npos ||
        !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
      return error_response(400, "Bad Request");
    }
    const std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    target = target.substr(0, target.find('?'));
    if (target != "/metrics") {
      return error_response(404, "Not Found");
    }
    if (method != "GET" && method != "HEAD") {
      return error_response(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
    }
    try {
      const std::string body = render(source());
      return response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body,
                      method == "HEAD");
    } catch (const std::exception&) {
      return error_response(500, "Internal Server Error");
    }
  }

  void start_reply(Client& c, std::string reply) {
    c.out = std::move(reply);
    c.sent = 0;
    c.writing = true;
    if (!watch(c.fd.get(), EPOLLOUT, EPOLL_CTL_MOD)) {
      c.out.clear();
    }
  }

  // Returns false when the client is done (and must be dropped).
  bool serve(Client& c) {
    std::array<char, 2048> buf{};
    if (c.draining) {
      // Closing with unread input would reset the connection and could
      // destroy the reply in flight: read until the client closes.
      const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        return errno == EAGAIN || errno == EINTR;
      }
      c.drained += static_cast<size_t>(n);
      return n > 0 && c.drained < kMaxDrain;
    }
    if (!c.writing) {
      const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        return errno == EAGAIN || errno == EINTR;
      }
      if (n == 0) {
        return false;  // closed before a complete request
      }
      c.in.append(buf.data(), static_cast<size_t>(n));
      auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        end = c.in.find("\n\n");
      }
      if (end != std::string::npos) {
        start_reply(c, answer(c.in.substr(0, end + 1)));
      } else if (c.in.size() > kMaxRequest) {
        start_reply(c, error_response(400, "Bad Request"));
      } else {
        return true;
      }
    }
    while (c.sent < c.out.size()) {
      const ssize_t n =
          ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0) {
        return errno == EAGAIN || errno == EINTR;
      }
      c.sent += static_cast<size_t>(n);
    }
    c.draining = true;
    c.in.clear();
    c.out.clear();
    ::shutdown(c.fd.get(), SHUT_WR);
    return watch(c.fd.get(), EPOLLIN, EPOLL_CTL_MOD).has_value();
  }

  void expire_and_rearm() {
    uint64_t ticks = 0;
    while (::read(timer.get(), &ticks, sizeof ticks) > 0) {
    }
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    for (auto it = clients.begin(); it != clients.end();) {
      if (it->second.deadline <= now) {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, it->first, nullptr);
        it = clients.erase(it);
        continue;
      }
      if (!next || it->second.deadline < *next) {
        next = it->second.deadline;
      }
      ++it;
    }
    itimerspec spec{};
    if (next) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*next - now).count();
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
      spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) {
        spec.it_value.tv_nsec = 1;
      }
    }
    ::timerfd_settime(timer.get(), 0, &spec, nullptr);
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const std::string& listen, Source source) {
  auto impl = std::make_unique<Impl>();
  impl->source = std::move(source);
  if (listen.starts_with("unix:")) {
    const std::string path = listen.substr(5);
    if (path.empty() || path.front() != '/') {
      return make_error(EINVAL, "metrics listen address '" + listen + "': need an absolute path");
    }
    auto ls = ListenSocket::create(path, 0660, 16);
    if (!ls) {
      return tl::unexpected(ls.error());
    }
    impl->unix_listen = std::move(*ls);
    impl->address = listen;
  } else {
    auto addr = parse_inet(listen);
    if (!addr) {
      return tl::unexpected(addr.error());
    }
    auto& [ss, len] = *addr;
    impl->tcp_listen.reset(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!impl->tcp_listen) {
      return errno_error("socket");
    }
    const int one = 1;
    ::setsockopt(impl->tcp_listen.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // NOLINTNEXTLINE: sockaddr_storage holds a sockaddr_in/in6
    if (::bind(impl->tcp_listen.get(), reinterpret_cast<const sockaddr*>(&ss), len) < 0) {
      return errno_error("bind " + listen);
    }
    if (::listen(impl->tcp_listen.get(), 16) < 0) {
      return errno_error("listen " + listen);
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    // NOLINTNEXTLINE: as above
    if (::getsockname(impl->tcp_listen.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) <
        0) {
      return errno_error("getsockname");
    }
    impl->address = format_address(bound);
  }
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll) {
    return errno_error("epoll_create1");
  }
  impl->timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!impl->timer) {
    return errno_error("timerfd_create");
  }
  if (auto st = impl->watch(impl->listen_fd(), EPOLLIN, EPOLL_CTL_ADD); !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = impl->watch(impl->timer.get(), EPOLLIN, EPOLL_CTL_ADD); !st) {
    return tl::unexpected(st.error());
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::fd() const {
  return impl_->epoll.get();
}

const std::string& Server::address() const {
  return impl_->address;
}

void Server::handle_events() {
  std::array<epoll_event, 32> events{};
  const int n = ::epoll_wait(impl_->epoll.get(), events.data(), events.size(), 0);
  for (int i = 0; i < n; i++) {
    const int fd = events[static_cast<size_t>(i)].data.fd;
    if (fd == impl_->listen_fd()) {
      impl_->accept_all();
    } else if (fd != impl_->timer.get()) {
      auto it = impl_->clients.find(fd);
      if (it != impl_->clients.end() && !impl_->serve(it->second)) {
        impl_->drop(fd);
      }
    }
  }
  impl_->expire_and_rearm();
}

}  // namespace avm::metrics

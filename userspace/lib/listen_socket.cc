// SPDX-License-Identifier: GPL-2.0
#include "lib/listen_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace avm {

namespace {

Result<sockaddr_un> make_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return make_error(ENAMETOOLONG, "socket path must have 1.." +
                                        std::to_string(sizeof addr.sun_path - 1) + " bytes: '" +
                                        path + "'");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// What is at @path, given that bind() said EADDRINUSE: a stale socket we
// may remove (ok), a live server (EADDRINUSE) or something else (EEXIST).
Status check_stale(const std::string& path, const sockaddr_un& addr, const ListenOptions& options) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    return errno == ENOENT ? Status{} : errno_error("lstat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(EEXIST, path + " exists and is not a socket; not replacing it");
  }
  if (!options.replace_live) {
    UniqueFd probe(::socket(AF_UNIX, options.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe) {
      return errno_error("socket");
    }
    // NOLINTNEXTLINE: sockaddr_un is a sockaddr
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
        errno == EAGAIN || errno == EINPROGRESS) {
      return make_error(EADDRINUSE, "another server is listening on " + path);
    }
    if (errno != ECONNREFUSED && errno != ENOENT) {
      return errno_error("probing " + path);
    }
  }
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
    return errno_error("removing stale socket " + path);
  }
  return {};
}

}  // namespace

ListenSocket::ListenSocket(ListenSocket&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)), dev_(other.dev_), ino_(other.ino_) {
  other.path_.clear();
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    other.path_.clear();
  }
  return *this;
}

Result<ListenSocket> ListenSocket::create(const std::string& path, mode_t mode, int backlog,
                                          const ListenOptions& options) {
  auto addr = make_address(path);
  if (!addr) {
    return tl::unexpected(addr.error());
  }
  ListenSocket ls;
  ls.fd_.reset(::socket(AF_UNIX, options.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!ls.fd_) {
    return errno_error("socket");
  }
  // The file bind() creates gets this mode minus the umask: never more.
  if (::fchmod(ls.fd_.get(), mode) < 0) {
    return errno_error("fchmod socket");
  }
  const auto* sa = reinterpret_cast<const sockaddr*>(&*addr);  // NOLINT: sockaddr_un
  if (::bind(ls.fd_.get(), sa, sizeof *addr) < 0) {
    if (errno != EADDRINUSE) {
      return errno_error("bind " + path);
    }
    if (auto stale = check_stale(path, *addr, options); !stale) {
      return tl::unexpected(stale.error());
    }
    if (::bind(ls.fd_.get(), sa, sizeof *addr) < 0) {
      return errno_error("bind " + path);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) {
    return errno_error("stat " + path);
  }
  ls.path_ = path;
  ls.dev_ = st.st_dev;
  ls.ino_ = st.st_ino;
  // From here on close() removes the file on failure.
  if (::chmod(path.c_str(), mode) < 0) {
    return errno_error("chmod " + path);
  }
  if (::listen(ls.fd_.get(), backlog) < 0) {
    return errno_error("listen " + path);
  }
  return ls;
}

Result<ListenSocket> ListenSocket::adopt(UniqueFd fd, const std::string& path, dev_t dev,
                                         ino_t ino) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || v == 0) {
    return make_error(EINVAL, "adopted fd for " + path + " is not a listening socket");
  }
  len = sizeof v;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
    return make_error(EINVAL, "adopted fd for " + path + " is not a UNIX socket");
  }
  len = sizeof v;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM) {
    return make_error(EINVAL, "adopted fd for " + path + " is not a stream socket");
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0 ||
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    return errno_error("fcntl adopted socket");
  }
  ListenSocket ls;
  ls.fd_ = std::move(fd);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev &&
      st.st_ino == ino) {
    ls.path_ = path;  // the file is still ours: close() removes it
    ls.dev_ = dev;
    ls.ino_ = ino;
  }
  return ls;
}

void ListenSocket::close() {
  if (!path_.empty()) {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
    path_.clear();
  }
  fd_.reset();
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "handover/fd_bundle.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

namespace avm::handover {

Status FdBundle::check_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) {
    return make_error(EINVAL, "fd name must have 1.." + std::to_string(kMaxName) + " characters");
  }
  const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (!ok) {
    return make_error(EINVAL,
                      "fd name '" + std::string(name) + "' has characters outside [A-Za-z0-9._-]");
  }
  return {};
}

Status FdBundle::add(std::string name, UniqueFd fd) {
  if (auto ok = check_name(name); !ok) {
    return ok;
  }
  if (!fd) {
    return make_error(EINVAL, "fd '" + name + "' is not valid");
  }
  if (contains(name)) {
    return make_error(EEXIST, "fd name '" + name + "' appears twice");
  }
  fds_.emplace_back(std::move(name), std::move(fd));
  return {};
}

Status FdBundle::add_dup(std::string name, int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) {
    return errno_error("dup of fd '" + name + "'");
  }
  return add(std::move(name), std::move(copy));
}

Result<UniqueFd> FdBundle::take(std::string_view name) {
  auto it = std::find_if(fds_.begin(), fds_.end(), [&](const auto& e) { return e.first == name; });
  if (it == fds_.end()) {
    return make_error(ENOENT, "hand-over has no fd '" + std::string(name) + "'");
  }
  UniqueFd fd = std::move(it->second);
  fds_.erase(it);
  return fd;
}

int FdBundle::get(std::string_view name) const {
  for (const auto& [n, fd] : fds_) {
    if (n == name) {
      return fd.get();
    }
  }
  return -1;
}

std::vector<std::string> FdBundle::names() const {
  std::vector<std::string> v;
  v.reserve(fds_.size());
  for (const auto& [n, fd] : fds_) {
    v.push_back(n);
  }
  return v;
}

namespace {

tl::unexpected<Error> bad_key(std::string_view key, std::string_view what) {
  return make_error(EINVAL, "hand-over state: '" + std::string(key) + "' " + std::string(what));
}

}  // namespace

Result<uint64_t> get_u64(const nlohmann::json& obj, std::string_view key, uint64_t max) {
  if (!obj.is_object()) {
    return bad_key(key, "is looked up in something that is not an object");
  }
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) {
    return bad_key(key, "is missing or not an unsigned integer");
  }
  const auto v = it->get<uint64_t>();
  if (v > max) {
    return bad_key(key, "exceeds " + std::to_string(max));
  }
  return v;
}

Result<uint32_t> get_u32(const nlohmann::json& obj, std::string_view key, uint32_t max) {
  auto v = get_u64(obj, key, max);
  if (!v) {
    return tl::unexpected(v.error());
  }
  return static_cast<uint32_t>(*v);
}

Result<bool> get_bool(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return bad_key(key, "is looked up in something that is not an object");
  }
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_boolean()) {
    return bad_key(key, "is missing or not a boolean");
  }
  return it->get<bool>();
}

Result<std::string> get_string(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return bad_key(key, "is looked up in something that is not an object");
  }
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    return bad_key(key, "is missing or not a string");
  }
  return it->get<std::string>();
}

Result<const nlohmann::json*> get_object(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return bad_key(key, "is looked up in something that is not an object");
  }
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) {
    return bad_key(key, "is missing or not an object");
  }
  return &*it;
}

Result<const nlohmann::json*> get_array(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return bad_key(key, "is looked up in something that is not an object");
  }
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) {
    return bad_key(key, "is missing or not an array");
  }
  return &*it;
}

Status check_socket(int fd, int type, bool listening) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    return errno_error("fstat");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(EINVAL, "fd " + std::to_string(fd) + " is not a socket");
  }
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
    return make_error(EINVAL, "fd " + std::to_string(fd) + " is not a UNIX socket");
  }
  len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != type) {
    return make_error(EINVAL, "fd " + std::to_string(fd) + " is a socket of another type");
  }
  len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || (v != 0) != listening) {
    return make_error(EINVAL, "fd " + std::to_string(fd) +
                                  (listening ? " is not listening" : " is a listening socket"));
  }
  return {};
}

Status check_memfd(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    return errno == EBADF ? errno_error("F_GET_SEALS")
                          : make_error(EINVAL, "fd " + std::to_string(fd) + " is not a memfd");
  }
  return {};
}

Status check_char_device(int fd, std::string_view path) {
  struct stat st {};
  struct stat want {};
  if (::fstat(fd, &st) < 0) {
    return errno_error("fstat");
  }
  if (::stat(std::string(path).c_str(), &want) < 0) {
    return errno_error("stat " + std::string(path));
  }
  if (!S_ISCHR(st.st_mode) || st.st_rdev != want.st_rdev) {
    return make_error(EINVAL, "fd " + std::to_string(fd) + " is not " + std::string(path));
  }
  return {};
}

}  // namespace avm::handover

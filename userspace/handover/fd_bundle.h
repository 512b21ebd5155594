// SPDX-License-Identifier: GPL-2.0
// avm::handover::FdBundle: file descriptors with names, as a hand-over
// carries them ("region", "ivshmem.client.3.sock", ...), and Package: a
// state JSON plus its bundle -- everything one process gives another.
//
// Names are what systemd's FD store accepts as FDNAME and more: 1..kMaxName
// characters of [A-Za-z0-9._-], unique in a bundle.  A bundle owns its fds
// (UniqueFd): whatever nobody take()s is closed with the bundle, so a
// hand-over that fails half-way leaks nothing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm::handover {

class FdBundle {
 public:
  static constexpr size_t kMaxName = 128;

  // Whether @name is a valid fd name (EINVAL with the reason if not).
  static Status check_name(std::string_view name);

  // Adds @fd under @name.  EINVAL for a bad name or an invalid fd,
  // EEXIST if the name is taken.  On error @fd is closed.
  Status add(std::string name, UniqueFd fd);
  // Adds a duplicate (F_DUPFD_CLOEXEC) of the borrowed @fd.
  Status add_dup(std::string name, int fd);

  // Removes and returns the fd named @name (ENOENT: no such fd).
  Result<UniqueFd> take(std::string_view name);
  // Borrowed look-up: the fd named @name, or -1.
  int get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name) >= 0; }

  size_t size() const { return fds_.size(); }
  bool empty() const { return fds_.empty(); }
  // Names in insertion order.
  std::vector<std::string> names() const;
  const std::vector<std::pair<std::string, UniqueFd>>& entries() const { return fds_; }

 private:
  std::vector<std::pair<std::string, UniqueFd>> fds_;
};

struct Package {
  nlohmann::json state = nlohmann::json::object();
  FdBundle fds;
};

// Typed reads of a JSON object received from another process: EINVAL
// naming @key when it is missing or of the wrong type/range.  (The state
// comes from a process we trust more than a guest, but a version skew or a
// bug must end in a clean refusal, not an exception.)
Result<uint64_t> get_u64(const nlohmann::json& obj, std::string_view key,
                         uint64_t max = UINT64_MAX);
Result<uint32_t> get_u32(const nlohmann::json& obj, std::string_view key,
                         uint32_t max = UINT32_MAX);
Result<bool> get_bool(const nlohmann::json& obj, std::string_view key);
Result<std::string> get_string(const nlohmann::json& obj, std::string_view key);
// The member @key, which must be an object (or an array for get_array).
Result<const nlohmann::json*> get_object(const nlohmann::json& obj, std::string_view key);
Result<const nlohmann::json*> get_array(const nlohmann::json& obj, std::string_view key);

// What kind of file @fd is, checked before adoption: EBADF if it is not
// open, EINVAL if it is not what the caller expects.
Status check_socket(int fd, int type, bool listening);    // an AF_UNIX socket of @type
Status check_memfd(int fd);                               // a sealable memfd
Status check_char_device(int fd, std::string_view path);  // e.g. /dev/net/tun

}  // namespace avm::handover

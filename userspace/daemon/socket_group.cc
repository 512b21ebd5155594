// SPDX-License-Identifier: GPL-2.0
#include "daemon/socket_group.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "lib/error.h"
#include "rpc/server.h"

namespace avm {

std::string SocketGroup::apply(const std::string& name, const std::string& path) {
  constexpr const char* kOurs = "the daemon's group";
  if (name.empty()) {
    return kOurs;
  }
  const std::optional<gid_t> gid = rpc::lookup_group(name);
  if (!gid) {
    if (warned_ != name) {
      spdlog::warn("socket_group {} does not exist: instance sockets keep the daemon's group",
                   name);
      warned_ = name;
    }
    return kOurs;
  }
  warned_.clear();
  if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) < 0) {
    spdlog::warn("chgrp {} {}: {}: it keeps the daemon's group", name, path, errno_text(errno));
    return kOurs;
  }
  return "group " + name;
}

}  // namespace avm

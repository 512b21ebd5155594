// SPDX-License-Identifier: GPL-2.0
// [daemon] socket_group: the group every instance socket is given, so that
// a QEMU running as another user in that group (libvirt's libvirt-qemu on
// Debian, qemu on Fedora) can connect to it (docs/libvirt.md).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace avm {

class SocketGroup {
 public:
  // chgrp's @path (an instance socket just created) to the group @name;
  // "" = leave it alone.  A group that does not exist is warned about once
  // per name (it may be created later: it is looked up every time).
  // Returns what @path's group now is, for the log: "group NAME" or
  // "the daemon's group".
  std::string apply(const std::string& name, const std::string& path);

 private:
  std::string warned_;  // the last missing group warned about
};

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/tap_netns.h"

#include <fcntl.h>
#include <sched.h>

#include <optional>
#include <thread>

#include "lib/unique_fd.h"

namespace avm {

Result<Tap> open_tap_in_netns(const std::string& name, const std::string& netns) {
  if (netns.empty()) {
    return Tap::open(name);
  }
  const std::string path = "/run/netns/" + netns;
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    return errno_error("open " + path);
  }
  std::optional<Result<Tap>> result;
  std::thread helper([&] {
    if (::setns(ns.get(), CLONE_NEWNET) < 0) {
      result.emplace(errno_error("setns " + path));
      return;
    }
    result.emplace(Tap::open(name));
  });
  helper.join();
  if (*result) {
    return std::move(**result);
  }
  return tl::unexpected((*result).error());
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "venet/netns.h"

#include <sched.h>

#include <thread>

namespace avm {

Status run_in_netns(int ns_fd, const std::function<void()>& fn) {
  Status result;
  std::thread helper([&] {
    if (::setns(ns_fd, CLONE_NEWNET) < 0) {
      result = errno_error("setns");
      return;
    }
    fn();
  });
  helper.join();
  return result;
}

}  // namespace avm

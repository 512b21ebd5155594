// SPDX-License-Identifier: GPL-2.0
#include "venet/netns.h"

#include <sched.h>

#include "bridge/io_thread.h"

namespace avm {

Status run_in_netns(int ns_fd, const std::function<void()>& fn) {
  // IoThread, like every thread of the daemon: named, an exception that
  // escapes @fn is an error (not std::terminate), and a thread that cannot
  // be created is EAGAIN (not std::system_error).  Its failure callback
  // runs on the helper before it ends and the join below orders that
  // write before our read, so the callback may fill our result.
  Status result;
  auto helper = IoThread::start(
      "avm-netns",
      [&] {
        if (::setns(ns_fd, CLONE_NEWNET) < 0) {
          return Status{errno_error("setns")};
        }
        fn();
        return Status{};
      },
      [&result](const Error& e) { result = tl::unexpected(e); });
  if (!helper) {
    return tl::unexpected(helper.error());
  }
  helper->join();
  return result;
}

}  // namespace avm

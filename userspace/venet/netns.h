// SPDX-License-Identifier: GPL-2.0
// Running a function inside another network namespace without moving any
// thread of the caller: setns(CLONE_NEWNET) is per thread, so the function
// runs on a short-lived helper thread ("avm-netns", started by IoThread like
// every thread of the daemon) that joins the namespace.  Sockets and TAPs
// it creates belong to that namespace and work from any thread.
#pragma once

#include <functional>

#include "lib/error.h"

namespace avm {

// Runs @fn on a helper thread inside the network namespace @ns_fd (an fd
// of /run/netns/NAME, /proc/PID/ns/net, TUNGETDEVNETNS...) and waits for
// it.  Fails with setns's errno when the thread cannot join the namespace
// (@fn then does not run), EAGAIN when no thread can be created, EFAULT
// when an exception escaped @fn.
Status run_in_netns(int ns_fd, const std::function<void()>& fn);

}  // namespace avm

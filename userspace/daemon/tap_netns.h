// SPDX-License-Identifier: GPL-2.0
// Opening a venet TAP inside another network namespace.
#pragma once

#include <string>

#include "lib/error.h"
#include "venet/tap.h"

namespace avm {

// Tap::open(@name) in the namespace /run/netns/@netns (the daemon's own
// if @netns is empty).  The open runs on a short-lived helper thread that
// joins the namespace (setns is per thread), so no thread of the daemon
// ever changes namespace; the TAP's fd works from any namespace.
Result<Tap> open_tap_in_netns(const std::string& name, const std::string& netns);

// Enslaves interface @ifname to the Linux bridge @bridge (SIOCBRADDIF) and
// sets it up, in namespace @netns (as above).
Status join_bridge_in_netns(const std::string& ifname, const std::string& bridge,
                            const std::string& netns);

}  // namespace avm

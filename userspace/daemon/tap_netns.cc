// SPDX-License-Identifier: GPL-2.0
#include "daemon/tap_netns.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>
#include <optional>

#include "lib/unique_fd.h"
#include "venet/netns.h"

namespace avm {

namespace {

// Runs @fn inside /run/netns/@netns (here if @netns is empty) on a
// short-lived thread (run_in_netns): no thread of ours ever moves.
template <class T>
Result<T> in_netns(const std::string& netns, const std::function<Result<T>()>& fn) {
  if (netns.empty()) {
    return fn();
  }
  const std::string path = "/run/netns/" + netns;
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    return errno_error("open " + path);
  }
  std::optional<Result<T>> result;
  if (auto ok = run_in_netns(ns.get(), [&] { result.emplace(fn()); }); !ok) {
    return errno_error(ok.error().code, "setns " + path);
  }
  return std::move(*result);
}

Status join_bridge(const std::string& ifname, const std::string& bridge) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) {
    return errno_error("socket");
  }
  const unsigned index = ::if_nametoindex(ifname.c_str());
  if (index == 0) {
    return errno_error(ifname);
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, bridge.c_str(), IFNAMSIZ - 1);
  ifr.ifr_ifindex = static_cast<int>(index);
  if (::ioctl(sock.get(), SIOCBRADDIF, &ifr) < 0) {
    return errno_error("add " + ifname + " to bridge " + bridge);
  }
  ifr = ifreq{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) {
    return errno_error("SIOCGIFFLAGS " + ifname);
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) {
    return errno_error("set " + ifname + " up");
  }
  return {};
}

}  // namespace

Result<Tap> open_tap_in_netns(const std::string& name, const std::string& netns) {
  return in_netns<Tap>(netns, [&name] { return Tap::open(name); });
}

Status join_bridge_in_netns(const std::string& ifname, const std::string& bridge,
                            const std::string& netns) {
  return in_netns<void>(netns, [&] { return join_bridge(ifname, bridge); });
}

}  // namespace avm

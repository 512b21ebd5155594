// SPDX-License-Identifier: GPL-2.0
#include "venet/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/vbus_venet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "venet/netns.h"

namespace avm {

static_assert(sizeof(vbus_venet_hdr) == Tap::kVnetHdrSize);

namespace {

// A socket for SIOC[GS]IFMTU in the calling thread's network namespace.
Result<UniqueFd> ctl_socket() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) {
    return errno_error("socket (tap MTU)");
  }
  return s;
}

// One in the namespace of the tap behind @fd (TUNGETDEVNETNS).  A kernel
// older than 5.2 does not know the ioctl (EINVAL): the tap is then taken
// to be in ours.
Result<UniqueFd> ctl_socket_of(int fd) {
  UniqueFd ns(::ioctl(fd, TUNGETDEVNETNS));
  if (!ns) {
    if (errno == EINVAL || errno == ENOTTY) {
      return ctl_socket();
    }
    return errno_error("TUNGETDEVNETNS (adopted tap fd)");
  }
  std::optional<Result<UniqueFd>> s;
  if (auto ok = run_in_netns(ns.get(), [&s] { s.emplace(ctl_socket()); }); !ok) {
    return errno_error(ok.error().code, "setns (the adopted tap's namespace)");
  }
  return std::move(*s);
}

}  // namespace

Result<Tap> Tap::open(std::string_view name) {
  if (name.size() >= IFNAMSIZ) {
    return make_error(EINVAL, "tap name too long: " + std::string(name));
  }
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    return errno_error("open /dev/net/tun");
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    return errno_error("TUNSETIFF " + std::string(name));
  }
  int hdr = kVnetHdrSize;
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) < 0) {
    return errno_error("TUNSETVNETHDRSZ");
  }
  if (::ioctl(fd.get(), TUNSETOFFLOAD, 0U) < 0) {
    return errno_error("TUNSETOFFLOAD");
  }
  auto ctl = ctl_socket();
  if (!ctl) {
    return tl::unexpected(ctl.error());
  }
  return Tap(std::move(fd), std::string(ifr.ifr_name), std::move(*ctl));
}

Result<Tap> Tap::adopt(UniqueFd fd) {
  struct stat st {};
  struct stat tun {};
  if (::fstat(fd.get(), &st) < 0 || ::stat("/dev/net/tun", &tun) < 0 || !S_ISCHR(st.st_mode) ||
      st.st_rdev != tun.st_rdev) {
    return make_error(EINVAL, "adopted tap fd is not /dev/net/tun");
  }
  ifreq ifr{};
  if (::ioctl(fd.get(), TUNGETIFF, &ifr) < 0) {
    return errno_error("TUNGETIFF (adopted tap fd)");
  }
  const int want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if ((ifr.ifr_flags & want) != want || (ifr.ifr_flags & IFF_TUN) != 0) {
    return make_error(EINVAL, "adopted tap fd has other flags than IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
  }
  int hdr = 0;
  if (::ioctl(fd.get(), TUNGETVNETHDRSZ, &hdr) < 0 || hdr != kVnetHdrSize) {
    return make_error(EINVAL, "adopted tap fd has another vnet header size");
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0 ||
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    return errno_error("fcntl (adopted tap fd)");
  }
  auto ctl = ctl_socket_of(fd.get());
  if (!ctl) {
    return tl::unexpected(ctl.error());
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return Tap(std::move(fd), std::string(ifr.ifr_name), std::move(*ctl));
}

Status Tap::set_offload(unsigned flags) const {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) < 0) {
    return errno_error("TUNSETOFFLOAD");
  }
  return {};
}

std::string Tap::ifname() const {
  ifreq ifr{};
  if (::ioctl(fd_.get(), TUNGETIFF, &ifr) < 0) {
    return name_;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return ifr.ifr_name;
}

Status Tap::set_mtu(unsigned mtu) const {
  const std::string name = ifname();
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(ctl_.get(), SIOCSIFMTU, &ifr) < 0) {
    const int err = errno;
    const std::string what = "tap " + name + ": MTU " + std::to_string(mtu);
    if (err == EINVAL) {
      return make_error(err, what + " refused by the kernel: out of the device's range (" +
                                 errno_text(err) + ")");
    }
    return errno_error(err, what);
  }
  return {};
}

Result<unsigned> Tap::mtu() const {
  const std::string name = ifname();
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(ctl_.get(), SIOCGIFMTU, &ifr) < 0) {
    return errno_error("SIOCGIFMTU " + name);
  }
  return static_cast<unsigned>(ifr.ifr_mtu);
}

}  // namespace avm

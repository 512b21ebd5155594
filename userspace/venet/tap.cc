// SPDX-License-Identifier: GPL-2.0
#include "venet/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/vbus_venet.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstring>

namespace avm {

static_assert(sizeof(vbus_venet_hdr) == Tap::kVnetHdrSize);

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
  return Tap(std::move(fd), std::string(ifr.ifr_name));
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
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return Tap(std::move(fd), std::string(ifr.ifr_name));
}

Status Tap::set_offload(unsigned flags) const {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) < 0) {
    return errno_error("TUNSETOFFLOAD");
  }
  return {};
}

}  // namespace avm

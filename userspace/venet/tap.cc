// SPDX-License-Identifier: GPL-2.0
#include "venet/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/vbus_venet.h>
#include <sys/ioctl.h>

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

Status Tap::set_offload(unsigned flags) const {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) < 0) {
    return errno_error("TUNSETOFFLOAD");
  }
  return {};
}

}  // namespace avm

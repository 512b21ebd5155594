// SPDX-License-Identifier: GPL-2.0
// avm::Tap: a TAP device opened for a venet backend: IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR, vnet header size 12 (struct vbus_venet_hdr is
// virtio_net_hdr_mrg_rxbuf, byte for byte), non-blocking.  Offloads start
// off; set_offload() applies the negotiated ones (TUNSETOFFLOAD), so GSO
// and partial checksums pass between the guest and the host stack
// untranslated.
//
// The tap is created in the calling thread's network namespace.  Its MTU
// is read and set through a datagram socket made in the tap's namespace
// (kept with the fd), so both work from any thread of the daemon.
#pragma once

#include <string>
#include <string_view>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm {

class Tap {
 public:
  static constexpr int kVnetHdrSize = 12;

  // Creates (or attaches to, if it exists and is ours to open) the tap
  // @name ("" lets the kernel pick "tapN").
  static Result<Tap> open(std::string_view name);

  // Hand-over: a tap fd received from the process that opened it.
  // Checked: /dev/net/tun, attached (TUNGETIFF) as a tap with our flags
  // (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) and vnet header size; made
  // non-blocking.  The name comes from the kernel, not from the sender,
  // and so does the namespace (TUNGETDEVNETNS) of the MTU socket.
  static Result<Tap> adopt(UniqueFd fd);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // TUNSETOFFLOAD with TUN_F_* @flags.
  Status set_offload(unsigned flags) const;
  // SIOCSIFMTU: the kernel checks @mtu against the device's range (a tap
  // takes 68 to 65535 minus its Ethernet header); EINVAL says so.
  Status set_mtu(unsigned mtu) const;
  // SIOCGIFMTU: the MTU the kernel has now, also when set from outside.
  Result<unsigned> mtu() const;

 private:
  Tap(UniqueFd fd, std::string name, UniqueFd ctl)
      : fd_(std::move(fd)), name_(std::move(name)), ctl_(std::move(ctl)) {}
  // The interface's name now (TUNGETIFF; it may have been renamed).
  std::string ifname() const;
  UniqueFd fd_;
  std::string name_;
  UniqueFd ctl_;  // AF_INET datagram socket in the tap's namespace
};

}  // namespace avm

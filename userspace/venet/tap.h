// SPDX-License-Identifier: GPL-2.0
// avm::Tap: a TAP device opened for a venet backend: IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR, vnet header size 12 (struct vbus_venet_hdr is
// virtio_net_hdr_mrg_rxbuf, byte for byte), non-blocking.  Offloads start
// off; set_offload() applies the negotiated ones (TUNSETOFFLOAD), so GSO
// and partial checksums pass between the guest and the host stack
// untranslated.
//
// The tap is created in the calling thread's network namespace.
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
  // non-blocking.  The name comes from the kernel, not from the sender.
  static Result<Tap> adopt(UniqueFd fd);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // TUNSETOFFLOAD with TUN_F_* @flags.
  Status set_offload(unsigned flags) const;

 private:
  Tap(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  UniqueFd fd_;
  std::string name_;
};

}  // namespace avm

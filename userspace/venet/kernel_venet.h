// SPDX-License-Identifier: GPL-2.0
// avm::KernelVenet: the data path of a venet device offloaded to
// vbus_host.ko through KernelBackend (docs/host-module.md, "Daemon
// integration").  VenetDevice uses it when its backend is kernel (or auto
// and the module takes the device); the call channel, the config area and
// the links stay in VenetDevice.
//
// While started, a relay thread ("avm-kvrel-<id>", started by IoThread,
// which reports its failure like an I/O thread's) turns the module's
// notify eventfds into DeviceHost::signal_guest() and its fault readiness
// into one report_fault() (the bridge then quarantines the device, which
// stops us).
//
// Threading: every method but stats()/module_stats() runs on the bridge
// loop (the device's control thread); those two are one ioctl each and
// may run on any thread that does not race start()/stop().
#pragma once

#include <atomic>
#include <optional>

#include "bridge/device.h"
#include "bridge/io_thread.h"
#include "lib/bridge_layout.h"
#include "lib/region.h"
#include "venet/kernel_backend.h"
#include "venet/tap.h"
#include "venet/venet_config.h"
#include "venet/venet_counters.h"

namespace avm {

class KernelVenet {
 public:
  // @tap, @layout and @region outlive this object (the device's and the
  // bridge runtime's).
  KernelVenet(const VenetConfig& cfg, const Tap& tap, const BridgeLayout& layout,
              const Region& region);
  ~KernelVenet();
  KernelVenet(const KernelVenet&) = delete;
  KernelVenet& operator=(const KernelVenet&) = delete;

  // Whether the module takes this device: opens the node, attaches with
  // the device's area as laid out, detaches.  ENODEV when the node is
  // missing; the module's errno (EINVAL, ...) otherwise.
  Status probe(const DeviceContext& ctx) const;
  // DEV_OPEN, after the host side of the queues was reset: attach and
  // start the relay.
  Status start(const DeviceContext& ctx, uint64_t features, bool link_active);
  // VBUS_HOST_CONFIGURE; a no-op while stopped.
  Status configure(uint64_t features, bool link_active);
  // Relay joined, module detached, its counters added to the totals.
  void stop();
  bool running() const { return kb_.has_value(); }

  // The module's view (state, fault, counters of this attach); ENOTCONN
  // while stopped.
  Result<vbus_host_stats> module_stats() const;
  // Adds the data-path counters over every attach so far to @s (the
  // module's counters have the VenetStats names; events_posted: relayed).
  void add_stats(VenetStats& s) const;

 private:
  Result<KernelAttach> make_attach(const DeviceContext& ctx) const;
  void relay();

  VenetConfig cfg_;
  const Tap& tap_;
  const BridgeLayout& layout_;
  const Region& region_;
  DeviceContext ctx_;
  std::optional<KernelBackend> kb_;
  std::optional<EventFd> stop_;
  IoThread relay_;
  vbus_host_stats done_{};  // counters of the attaches that ended
  uint64_t done_relayed_ = 0;
  std::atomic<uint64_t> relayed_{0};
};

// @total + the module's counters of @s.
void add_module_stats(VenetStats& total, const vbus_host_stats& s);

}  // namespace avm

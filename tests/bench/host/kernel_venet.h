// SPDX-License-Identifier: GPL-2.0
// avm::bench::KernelVenet: a venet Device whose data path is offloaded to
// vbus_host.ko through KernelBackend -- what the daemon does for a device
// with backend = "kernel" (docs/host-module.md "Daemon integration"), here
// for the in-VM tests and the kernel/user comparison.
//
// Control stays in userspace: the call channel (NEGOTIATE, SET_LINK) runs
// on the bridge loop and is forwarded with KernelBackend::configure().  A
// relay thread turns the module's notify eventfds into
// DeviceHost::signal_guest() and its fault readiness into report_fault().
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "bridge/device.h"
#include "lib/bridge_layout.h"
#include "lib/region.h"
#include "venet/kernel_backend.h"
#include "venet/tap.h"
#include "venet/venet_config.h"

namespace avm::bench {

class KernelVenet : public Device {
 public:
  // @layout and @region belong to the bridge runtime and outlive us.
  KernelVenet(const VenetConfig& cfg, Tap tap, const BridgeLayout& layout, const Region& region);
  ~KernelVenet() override;
  KernelVenet(const KernelVenet&) = delete;
  KernelVenet& operator=(const KernelVenet&) = delete;

  uint32_t type() const override { return VBUS_DEV_TYPE_VENET; }
  uint32_t abi_version() const override { return VBUS_VENET_ABI_VERSION; }
  std::string name() const override { return "kvenet:" + tap_.name(); }
  std::vector<uint8_t> initial_config() const override;
  std::vector<QueueSpec> queue_specs() const override;
  Status attach(const DeviceContext& ctx) override;
  Status open() override;
  void close() override;
  CallResult call(uint32_t op, std::span<const uint8_t> req) override;
  void quarantine(const Error& why) override;
  void detach() override;

  // The module's counters (any thread: one ioctl); ENOTCONN when closed.
  Result<vbus_host_stats> stats() const;
  uint64_t events_relayed() const { return relayed_.load(std::memory_order_relaxed); }

 private:
  void relay();
  void stop_relay();
  // Stops the relay and detaches (close(); non-virtual for the destructor).
  void stop_io();
  void write_config(bool link);

  VenetConfig cfg_;
  Tap tap_;
  const BridgeLayout& layout_;
  const Region& region_;
  DeviceContext ctx_;
  std::optional<KernelBackend> kb_;
  std::optional<EventFd> stop_;
  std::thread relay_;
  uint64_t features_ = 0;
  bool guest_link_ = false;
  std::atomic<uint64_t> relayed_{0};
};

}  // namespace avm::bench

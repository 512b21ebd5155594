// SPDX-License-Identifier: GPL-2.0
// avm::KernelBackend: the userspace side of vbus_host.ko, the in-kernel
// venet backend (/dev/alacrityvm-host, docs/host-module.md).  One object
// per offloaded device: it opens the node, attaches the device (the kernel
// thread then serves both queues), re-configures it when the call channel
// changes features or link, reads its counters and detaches.
//
// The module never writes the event queue.  When a queue's to_guest
// signal says "notify", it signals that queue's notify eventfd (created
// here); the owner watches notify(q) and, for every wake-up, consumes it
// and calls DeviceHost::signal_guest(id, q).  A guest fault stops the
// kernel data path and makes fd() readable; stats().state says FAULTED
// and the owner quarantines the device (then detach, and attach again on
// the next DEV_OPEN).
//
// Usage, on the device's control thread (daemon: the bridge loop):
//   if (KernelBackend::available()) {
//     auto kb = KernelBackend::open();
//     KernelAttach a = KernelAttach::from_layout(*layout.device(id), region.fd(),
//                                                region.size());
//     a.doorbell_fd = ctx.doorbell->fd();  a.tap_fd = tap.fd();
//     kb->attach(a);          // at DEV_OPEN, after reset_queue_host_side()
//     kb->configure(f, up);   // after NEGOTIATE / SET_LINK / host link
//     kb->detach();           // at DEV_CLOSE (also done by the destructor)
//   }
//
// Not thread-safe: one thread drives an object (stats() may be called
// from that thread at any time; the kernel side is internally locked).
#pragma once

#include <linux/vbus_host.h>

#include <array>
#include <cstdint>
#include <string>

#include "lib/bridge_layout.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/unique_fd.h"

namespace avm {

// What VBUS_HOST_ATTACH needs, in host terms.  Offsets and queue
// descriptors come from the host's private layout record, never from the
// guest-writable region.
struct KernelAttach {
  uint32_t dev_id = 0;
  int region_fd = -1;  // the region memfd (shmem)
  uint64_t region_size = 0;
  uint64_t area_offset = 0;
  uint64_t area_size = 0;
  std::array<vbus_queue_desc, VBUS_HOST_NUM_QUEUES> queues{};  // rx, tx
  int doorbell_fd = -1;  // the device's doorbell vector eventfd (peer 0's)
  int tap_fd = -1;       // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, header size 12
  uint64_t features = 0;
  bool link_active = false;
  uint32_t tx_signal_batch = 32;
  uint32_t busy_poll_us = 50;

  // Area and queues of a venet device (queue 0 rx, 1 tx) from its record.
  static Result<KernelAttach> from_layout(const DeviceInfo& dev, int region_fd,
                                          uint64_t region_size);
};

class KernelBackend {
 public:
  static constexpr const char* kDevicePath = "/dev/" VBUS_HOST_DEVICE_NAME;

  // Whether the module's node exists and can be opened read/write (what
  // backend = "auto" decides on).
  static bool available(const std::string& path = kDevicePath);
  // Opens the node and creates the notify eventfds.  ENOENT: no module.
  static Result<KernelBackend> open(const std::string& path = kDevicePath);

  KernelBackend(KernelBackend&&) noexcept = default;
  KernelBackend& operator=(KernelBackend&&) noexcept = default;
  KernelBackend(const KernelBackend&) = delete;
  KernelBackend& operator=(const KernelBackend&) = delete;
  ~KernelBackend();

  // VBUS_HOST_ATTACH.  EBUSY if attached; EINVAL for a layout the module
  // refuses (it checks everything QueueView::create() checks).
  Status attach(const KernelAttach& a);
  // VBUS_HOST_CONFIGURE: negotiated features and link (both ends up).
  Status configure(uint64_t features, bool link_active);
  // VBUS_HOST_DETACH; a no-op when not attached.
  void detach();
  Result<vbus_host_stats> stats() const;

  bool attached() const { return attached_; }
  // Readable (EPOLLIN | EPOLLPRI) after a guest fault.
  int fd() const { return fd_.get(); }
  // Signalled by the kernel when queue @q's guest needs VBUS_EV_SIGNAL.
  const EventFd& notify(uint32_t q) const { return notify_.at(q); }

  static const char* fault_name(uint32_t fault);

 private:
  KernelBackend(UniqueFd fd, std::array<EventFd, VBUS_HOST_NUM_QUEUES> notify)
      : fd_(std::move(fd)), notify_(std::move(notify)) {}

  UniqueFd fd_;
  std::array<EventFd, VBUS_HOST_NUM_QUEUES> notify_;
  bool attached_ = false;
};

}  // namespace avm

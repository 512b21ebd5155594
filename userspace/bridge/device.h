// SPDX-License-Identifier: GPL-2.0
// avm::Device: what a device class backend (venet, ...) implements so the
// bridge runtime can host it, and avm::DeviceHost: what the runtime offers
// a device in return.
//
// Lifecycle, all on the bridge's control thread (the thread running its
// EventLoop) unless noted:
//   add_device -> attach(ctx)      the device has its area and queues
//   DEV_OPEN   -> open()           reset its queues, start serving
//   DEV_CLOSE  -> close()          stop serving (also on bridge reset,
//                                  quarantine and removal; idempotent)
//   class call -> call(op, req)    VBUS_CALL_CLASS_BASE and up
//   fault      -> quarantine(why)  after report_fault(): stop serving,
//                                  tell the guest (e.g. link down)
//   removal    -> detach()         the area is freed; last call
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "lib/bridge_layout.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/queue_view.h"

namespace avm {

// The answer to a call: status 0 or a positive errno, and response data
// (at most VBUS_CALL_DATA_SIZE bytes; longer is a host bug).
struct CallResult {
  uint32_t status = 0;
  std::vector<uint8_t> data;
};

class DeviceHost {
 public:
  virtual ~DeviceHost() = default;
  // Any thread: VBUS_EV_SIGNAL(dev_id, queue) through the event queue,
  // whose own shm-signal decides on the interrupt.  Call it only when the
  // queue's to_guest signal said "notify".
  virtual bool signal_guest(uint32_t dev_id, uint32_t queue) = 0;
  // Control thread: the device changed its config area: VBUS_EV_DEV_CONFIG.
  virtual void config_changed(uint32_t dev_id) = 0;
  // Any thread (typically an I/O thread's failure callback): the device
  // hit a guest fault or an internal failure.  The runtime logs @why,
  // counts it and runs quarantine() on its own loop.
  virtual void report_fault(uint32_t dev_id, const Error& why) = 0;
  // Control thread: what the device's log lines start with, naming the
  // instance the device belongs to ("vm1: "), or "" when the host has no
  // name.  Valid until the next call.
  virtual const std::string& log_prefix() const {
    static const std::string kNone;
    return kNone;
  }
};

// What a device gets when it is attached.  Valid until detach().
struct DeviceContext {
  uint32_t id = 0;
  DeviceHost* host = nullptr;
  std::span<uint8_t> config;          // its config bytes in the region (host-written)
  std::vector<QueueView> queues;      // from the host's private layout record
  const EventFd* doorbell = nullptr;  // peer 0's eventfd of its doorbell vector; may be null
  uint32_t doorbell_vector = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  virtual uint32_t type() const = 0;         // VBUS_DEV_TYPE_*
  virtual uint32_t abi_version() const = 0;  // class protocol version
  virtual std::string name() const = 0;      // for logs
  // Initial contents of the config area, and the queues to lay out.
  virtual std::vector<uint8_t> initial_config() const = 0;
  virtual std::vector<QueueSpec> queue_specs() const = 0;

  virtual Status attach(const DeviceContext& ctx) = 0;
  // DEV_OPEN: reset the host side of every queue (used ring, to_host
  // signal) and start serving.  An error is answered to the guest.
  virtual Status open() = 0;
  // Stop serving; returns once no I/O thread touches the area.
  virtual void close() = 0;
  // A class call (op >= VBUS_CALL_CLASS_BASE); @req is a private copy.
  virtual CallResult call(uint32_t op, std::span<const uint8_t> req) = 0;
  // Host-side link hook (administrative carrier).  ENOTSUP by default.
  virtual Status set_link(bool up) {
    (void)up;
    return make_error(ENOTSUP, "device has no link");
  }
  // After a fault: stop serving and tell the guest what it can see.
  virtual void quarantine(const Error& why) = 0;
  virtual void detach() = 0;

  // Hand-over (docs/handover.md), on the bridge loop.  quiesce(): stop
  // serving like close(), but as a pause: nothing is reset, and
  // runtime_state() then describes where the device's rings and links
  // stand.  resume(@state): serve again from such a state -- ours after a
  // hand-over that failed, or a predecessor's after attach() in a new
  // process -- re-reading and validating what the guest can write.
  // Devices that cannot be handed over keep the defaults (ENOTSUP).
  virtual Status quiesce() { return make_error(ENOTSUP, name() + " cannot be handed over"); }
  virtual nlohmann::json runtime_state() const { return nlohmann::json::object(); }
  virtual Status resume(const nlohmann::json& state) {
    (void)state;
    return make_error(ENOTSUP, name() + " cannot be handed over");
  }
};

}  // namespace avm

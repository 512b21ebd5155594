// SPDX-License-Identifier: GPL-2.0
// avm::BridgeRuntime: the host side of one vbus bridge (one region, one
// guest): it owns the BridgeLayout, runs the bridge state machine of
// docs/abi.md on doorbell vector 0, produces the event queue, serves the
// call channel and keeps the device registry (add, remove with the
// REMOVING handshake, quarantine after a fault).
//
// Threading: every method runs on the thread of the EventLoop given to
// create() (the "bridge loop"), except the DeviceHost methods that say
// "any thread" and event_queue() posting.  Device I/O threads only post
// signal events and report faults; a fault is handled on the loop.
//
// Lifecycle: create() (lays the region out: host_state READY) -> start()
// (watch vector 0, interrupt) -> ... guest INIT -> RUN ... -> shutdown()
// (host_state RESET) -> start() again bumps host_epoch.  restart() is a
// host re-initialisation without going through RESET (the guest left):
// quiesce, bump host_epoch, READY, interrupt.
//
// The guest can write every byte of the region, the host's fields too.
// So every change of host_state (start, restart, guest INIT and RESET,
// shutdown) and resume() after a hand-over first write every host-owned
// field again from the private records (BridgeLayout::write_host_fields:
// header, device table, queue tables), and, where every device is closed,
// each device's config area from its initial_config(): whatever a guest
// scribbled there is gone for the next guest (docs/security.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "bridge/bridge_counters.h"
#include "bridge/call_server.h"
#include "bridge/counter.h"
#include "bridge/device.h"
#include "bridge/event_loop.h"
#include "bridge/event_queue.h"
#include "lib/bridge_layout.h"
#include "lib/eventfd.h"

namespace avm {

class BridgeRuntime : public DeviceHost {
 public:
  // Lays out @region (the whole mapping, which outlives the runtime).
  // @doorbells: peer 0's vector eventfds, config.num_vectors of them,
  // borrowed (the ivshmem server owns them and keeps them across its own
  // restarts); [0] is the bridge's, the others go to devices.
  static Result<std::unique_ptr<BridgeRuntime>> create(std::span<uint8_t> region,
                                                       const BridgeConfig& config, EventLoop& loop,
                                                       std::span<const EventFd> doorbells);
  ~BridgeRuntime() override;
  BridgeRuntime(const BridgeRuntime&) = delete;
  BridgeRuntime& operator=(const BridgeRuntime&) = delete;

  // Watches the bridge vector and announces the host (READY + interrupt).
  // A start after shutdown() bumps host_epoch.  EBUSY if started.
  Status start();
  // host_state = RESET, every device closed, interrupt, stop watching.
  void shutdown();
  // Quiesce every device, bump host_epoch, READY, interrupt.
  void restart();
  bool started() const { return started_; }

  // The bridge doorbell: runs the state machine and the call channel.
  // The loop calls it when vector 0 fires; tests may call it directly.
  void on_doorbell();

  // Device registry (loop thread).  add_device gives the device a slot, an
  // area and its own doorbell vector (ENOSPC when none is free).
  Result<uint32_t> add_device(std::unique_ptr<Device> dev);
  // Removal per docs/abi.md: an open device goes REMOVING + DEV_REMOVE and
  // is freed on the guest's DEV_CLOSE; one never opened is freed at once.
  Status remove_device(uint32_t id);
  Device* device(uint32_t id) const;
  bool device_open(uint32_t id) const;
  bool device_quarantined(uint32_t id) const;
  // Host-side link of a device (Device::set_link).
  Status set_link(uint32_t id, bool up);

  // Where host->guest interrupts go (event_queue().set_sink_fd(...)).
  EventQueue& event_queue() { return evq_; }
  const CallServer& call_server() const { return calls_; }
  BridgeLayout& layout() { return layout_; }
  uint32_t host_state() const { return host_state_; }
  uint32_t host_epoch() const { return epoch_; }
  BridgeCounters counters() const;

  // The instance name every log line of the runtime, its event queue and
  // its devices (DeviceHost::log_prefix()) starts with: "vm1: bridge:
  // device 1 (venet:tap0) quarantined: ...".  Empty: no prefix.  Loop
  // thread (or before the loop runs); export_state() hands it over.  The
  // prefix is built here, so a line that is not logged formats nothing.
  void set_log_name(const std::string& name);
  const std::string& log_name() const { return log_name_; }

  // Hand-over (docs/handover.md), on the loop thread; bridge_handover.cc.
  // quiesce(): stop watching vector 0 and quiesce every open device (I/O
  // threads joined); the region stays exactly as the guest sees it and
  // the guest is told nothing.  export_state(): the host's private
  // records as JSON: table geometry, device records and flags with each
  // device's runtime_state(), host state and epoch, event queue and call
  // channel positions, counters.  resume(): serve again from there (after
  // a failed hand-over, or after adopt()): write the host-owned fields of
  // the region again from the records (not the config areas, which the
  // open devices go on with), watch vector 0, resume the open devices
  // (one that cannot is quarantined, as after a fault), and look
  // at the call channel and guest state once, for whatever the guest did
  // meanwhile.  abandon(): after a completed hand-over, let everything go
  // without writing to the region.
  Status quiesce();
  Result<nlohmann::json> export_state() const;
  Status resume();
  void abandon();
  bool quiesced() const { return quiesced_; }
  // A runtime that continues an exported one on @region (this process's
  // mapping of the same memfd), quiesced: call resume() to serve.
  // @devices: the device objects by id (e.g. VenetDevice::adopt), each
  // attached here to the area its record names.  Everything in @state is
  // checked (BridgeLayout::adopt, ranges, a device object for every
  // record and no other); nothing is read from the region, whose
  // host-owned fields resume() writes again from @state.
  static Result<std::unique_ptr<BridgeRuntime>> adopt(
      std::span<uint8_t> region, const nlohmann::json& state, EventLoop& loop,
      std::span<const EventFd> doorbells, std::map<uint32_t, std::unique_ptr<Device>>&& devices);

  // DeviceHost.
  bool signal_guest(uint32_t dev_id, uint32_t queue) override;
  void config_changed(uint32_t dev_id) override;
  // A report made here, not through the device's own DeviceHost, is not
  // tied to an open: it quarantines the device if it is open at all.
  void report_fault(uint32_t dev_id, const Error& why) override;
  const std::string& log_prefix() const override { return log_prefix_; }

 private:
  // The DeviceHost each device gets: the runtime's, except that a fault
  // report carries the device's open generation at the time it is made
  // (any thread).  DEV_OPEN bumps the generation on the loop after the old
  // session's I/O threads are joined, so a report posted by them and run
  // after the new open is recognised as stale (docs/security.md).
  class DeviceLink final : public DeviceHost {
   public:
    explicit DeviceLink(BridgeRuntime& rt) : rt_(rt) {}
    bool signal_guest(uint32_t dev_id, uint32_t queue) override {
      return rt_.signal_guest(dev_id, queue);
    }
    void config_changed(uint32_t dev_id) override { rt_.config_changed(dev_id); }
    void report_fault(uint32_t dev_id, const Error& why) override {
      rt_.post_fault(dev_id, generation(), why);
    }
    const std::string& log_prefix() const override { return rt_.log_prefix(); }
    // Acquire/release: pairs the bump on the loop with a reader that
    // was started after it.
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    void new_generation() { generation_.fetch_add(1, std::memory_order_release); }

   private:
    BridgeRuntime& rt_;
    std::atomic<uint64_t> generation_{0};
  };
  struct Entry {
    // The DeviceHost the device got (declared first: outlives the device).
    std::unique_ptr<DeviceLink> link;
    std::unique_ptr<Device> dev;
    uint32_t vector = 0;
    bool opened = false;
    bool removing = false;
    bool quarantined = false;
    LogThrottle fault_log;   // the quarantine lines of this device
    nlohmann::json runtime;  // quiesced: where the device stands
  };

  BridgeRuntime(BridgeLayout layout, EventLoop& loop, std::span<const EventFd> doorbells);
  CallResult dispatch(const CallRequest& req);
  CallResult dispatch_device(Entry& e, const CallRequest& req);
  void link_up(uint64_t guest_features);
  // Closes every device, frees REMOVING ones, disables the event queue,
  // stores @state (release) and raises the interrupt.
  void link_down(uint32_t state);
  // The host-owned fields of the region from the private records (see
  // the top of this file); @configs: the config areas too (only while
  // every device is closed).  Before the host_state store that follows.
  void rewrite_region(bool configs);
  void store_host_state(uint32_t state);
  void finish_remove(uint32_t id);
  // @generation: the device's open generation when the fault was
  // reported (none: whatever is open); a report from an earlier open, or
  // for a device that is not open, is stale and ignored.
  void post_fault(uint32_t id, std::optional<uint64_t> generation, const Error& why);
  void handle_fault(uint32_t id, std::optional<uint64_t> generation, const Error& why);
  std::optional<uint32_t> free_vector() const;
  // "device 1 (venet:tap0)", for log lines.
  static std::string device_label(uint32_t id, const Entry& e);

  std::string log_name_;    // set_log_name()
  std::string log_prefix_;  // "<log_name_>: " or ""
  BridgeLayout layout_;
  EventLoop& loop_;
  std::span<const EventFd> doorbells_;
  EventQueue evq_;
  CallServer calls_;
  std::map<uint32_t, Entry> devices_;
  uint32_t host_state_ = VBUS_STATE_READY;  // private copy: never read back
  uint32_t epoch_ = 0;
  uint64_t features_ = 0;  // negotiated while RUN; private copy of the header's
  bool started_ = false;
  bool started_once_ = false;
  bool watching_ = false;
  bool quiesced_ = false;
  // Posted tasks hold a weak_ptr: a fault reported after destruction is
  // dropped instead of touching a dead runtime.
  std::shared_ptr<BridgeRuntime*> self_;

  BridgeCounterSet c_;
};

}  // namespace avm

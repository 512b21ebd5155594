// SPDX-License-Identifier: GPL-2.0
// avm::VenetDevice: the venet device backend (Device for the bridge
// runtime): a TAP, a config area, and per open one I/O thread
// ("avm-venet-<id>", started by IoThread) running VenetWorker over the
// RX (queue 0) and TX (queue 1) rings.
//
// Threading: every Device method runs on the bridge loop.  The I/O thread
// owns the rings while open; open()/close() start and join it, so
// nothing else touches the rings concurrently.  Flags the I/O thread reads
// (features, links) are atomics in VenetState.  A fault on the I/O thread
// ends it; the IoThread helper reports it to the bridge (report_fault),
// which runs quarantine() on its loop: the link goes down in the config
// (DEV_CONFIG event) until the guest opens the device again.
//
// Usage (on the bridge loop):
//   auto dev = VenetDevice::create(cfg);          // opens the tap
//   auto id = runtime.add_device(std::move(*dev));
//   runtime.set_link(*id, false);                 // carrier off, DEV_CONFIG
//
// Backends (VenetConfig::backend): user, the I/O thread above; kernel,
// vbus_host.ko serves the rings (KernelVenet) and this object keeps the
// call channel, config area and links; auto, kernel when the module takes
// the device at attach() (the node exists and a probe attach succeeds),
// else user, with the reason in backend_note().  kernel and auto need
// bind_region() before the runtime attaches the device; attach() fails
// for kernel when the module cannot serve it.  A device on the kernel
// backend cannot be handed over (quiesce(), export_config(): ENOTSUP).
#pragma once

#include <memory>
#include <optional>

#include "bridge/counter.h"
#include "bridge/device.h"
#include "bridge/event_loop.h"
#include "bridge/io_thread.h"
#include "handover/fd_bundle.h"
#include "lib/region.h"
#include "venet/kernel_venet.h"
#include "venet/tap.h"
#include "venet/venet_config.h"
#include "venet/venet_rx.h"
#include "venet/venet_state.h"
#include "venet/venet_tx.h"
#include "venet/venet_worker.h"

namespace avm {

class VenetDevice : public Device {
 public:
  static constexpr uint32_t kRxQueue = 0;
  static constexpr uint32_t kTxQueue = 1;

  // Validates @cfg and opens (creates) its tap in the calling thread's
  // network namespace.
  static Result<std::unique_ptr<VenetDevice>> create(const VenetConfig& cfg);
  // Uses an already opened tap (e.g. created in another namespace).  Both,
  // and adopt(), set the tap's MTU to @cfg.mtu (the one the guest is
  // told), and fail with the kernel's reason if it refuses it.
  static Result<std::unique_ptr<VenetDevice>> create(const VenetConfig& cfg, Tap tap);
  ~VenetDevice() override;
  VenetDevice(const VenetDevice&) = delete;
  VenetDevice& operator=(const VenetDevice&) = delete;

  uint32_t type() const override { return VBUS_DEV_TYPE_VENET; }
  uint32_t abi_version() const override { return VBUS_VENET_ABI_VERSION; }
  std::string name() const override { return "venet:" + tap_.name(); }
  std::vector<uint8_t> initial_config() const override;
  std::vector<QueueSpec> queue_specs() const override;
  Status attach(const DeviceContext& ctx) override;
  Status open() override;
  void close() override;
  CallResult call(uint32_t op, std::span<const uint8_t> req) override;
  Status set_link(bool up) override;
  void quarantine(const Error& why) override;
  void detach() override;

  // Hand-over (Device, docs/handover.md).  runtime_state(): features,
  // links, whether it serves, where each ring stands (the next used
  // entry and the entries taken before it: taken-but-unfinished entries
  // are re-read and re-validated by whoever resumes), the counters.
  Status quiesce() override;
  nlohmann::json runtime_state() const override;
  Status resume(const nlohmann::json& state) override;
  // The device's construction half: its config and a duplicate of its
  // tap fd (@prefix + "tap" in @fds).
  Result<nlohmann::json> export_config(handover::FdBundle& fds, const std::string& prefix) const;
  // A device built from export_config() output, not attached: the tap fd
  // checked (Tap::adopt) and the config validated.
  static Result<std::unique_ptr<VenetDevice>> adopt(const nlohmann::json& config,
                                                    handover::FdBundle& fds,
                                                    const std::string& prefix);

  // The region and layout the module maps (backend kernel or auto);
  // both outlive the device.  Before the runtime's attach().
  void bind_region(const BridgeLayout& layout, const Region& region) {
    layout_ = &layout;
    region_ = &region;
  }
  // The backend serving the rings (user or kernel; the requested one
  // until attach() decided), the requested one, and why auto fell back.
  VenetBackend backend() const { return effective_; }
  VenetBackend requested_backend() const { return cfg_.backend; }
  const std::string& backend_note() const { return backend_note_; }
  // The module's state and counters of the current attach (kernel, open).
  Result<vbus_host_stats> kernel_stats() const;

  bool serving() const { return thread_.running() || (kernel_ && kernel_->running()); }
  // Counters (for the kernel backend: the module's, GET_STATS).
  VenetStats stats() const;
  uint64_t features() const { return state_.feat(); }
  const Tap& tap() const { return tap_; }
  uint32_t id() const { return ctx_.id; }

 private:
  VenetDevice(const VenetConfig& cfg, Tap tap);
  // Writes the host-written fields of the config area that change at run
  // time (link, features) from our private state.
  void write_config();
  // Stops and joins the I/O thread (close(); non-virtual for the destructor).
  void stop_io();
  CallResult negotiate(std::span<const uint8_t> req);
  // Starts the I/O thread over the rings as they are (open() resets them
  // first; resume() continues from @at).
  struct Positions {
    uint32_t next_used = 0;
    uint64_t taken = 0;
  };
  Status start_io(const Positions* rx_at, const Positions* tx_at);

  VenetConfig cfg_;
  Tap tap_;
  DeviceContext ctx_;
  bool attached_ = false;
  VenetState state_;
  // While open: the loop, the paths and the worker the I/O thread runs.
  std::unique_ptr<EventLoop> loop_;
  std::optional<VenetTx> tx_;
  std::optional<VenetRx> rx_;
  std::optional<VenetWorker> worker_;
  IoThread thread_;
  // Backend kernel/auto: what the module maps, and its data path.
  const BridgeLayout* layout_ = nullptr;
  const Region* region_ = nullptr;
  std::unique_ptr<KernelVenet> kernel_;
  VenetBackend effective_;
  std::string backend_note_;
  // Features + both links to the module (no-op unless kernel and open).
  bool configure_kernel();
  // What every log line starts with: the host's prefix naming the
  // instance ("vm1: "), "" while detached.
  const std::string& log_prefix() const;
  // The quarantine lines (bridge loop): a guest can fault at will.
  LogThrottle quarantine_log_;
  // After quiesce(): where the rings stood when the I/O thread stopped.
  std::optional<std::pair<Positions, Positions>> paused_;  // rx, tx
};

}  // namespace avm

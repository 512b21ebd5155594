// SPDX-License-Identifier: GPL-2.0
// avm::Daemon: the (so far minimal) alacrityvmd.  One instance: a shared
// memory region laid out as a vbus bridge, served to QEMU over the
// ivshmem-doorbell protocol with the daemon as peer 0, the bridge runtime
// (state machine, event queue, call channel) and at most one venet device
// on a TAP.  docs/architecture.md has the picture.
//
// Threads: run() is the control loop (an avm::EventLoop): the ivshmem
// server, the bridge doorbell (vector 0), signals, unowned vectors.  The
// venet device runs its own I/O thread, which waits on the device's
// doorbell eventfd and the TAP itself.  Interrupts to the guest are
// written by whichever thread posts an event (the event queue's sink is a
// dup of the guest's vector-0 eventfd), never through the server.
//
// Lifecycle: construct (no syscalls) -> start() -> run() on one thread
// until a signal arrives on the given signalfd or request_stop() (which
// any thread may call) -> stop() (host RESET + interrupt, then the
// clients are disconnected) -> start() again (new host epoch).
//
// Signals read from the signalfd:
//   SIGINT, SIGTERM   run() returns (the caller then calls stop())
//   SIGUSR1, SIGUSR2  host-side link of the venet device down / up
//   SIGQUIT           log the counters as one "stats: {json}" line
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge/bridge_runtime.h"
#include "bridge/event_loop.h"
#include "daemon/venet_option.h"
#include "ivshmem/server.h"
#include "lib/error.h"
#include "lib/region.h"
#include "venet/venet_device.h"

namespace avm {

struct DaemonConfig {
  std::string socket_path;
  mode_t socket_mode = 0600;
  uint64_t region_size = uint64_t{4} << 20;
  unsigned vectors = 4;
  unsigned max_clients = 16;
  std::optional<VenetOption> venet;  // the one venet device, if any
};

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Creates the region, lays out the bridge, adds the venet device (its
  // TAP is opened here) and starts listening.
  Status start();
  // Serves clients, doorbells and signals until SIGINT/SIGTERM is read
  // from @signal_fd (a signalfd, or -1 for none) or request_stop().
  Status run(int signal_fd = -1);
  // Thread-safe: makes run() return.
  void request_stop() const;
  // Host RESET (the guest sees the link go down), then disconnects every
  // client and removes the socket; the region stays.  Not while run() runs.
  void stop();

  // Host-side link of the venet device (what SIGUSR1/SIGUSR2 do).  Loop
  // thread, or any thread while run() is not running.
  Status set_link(bool up);

  const DaemonConfig& config() const { return config_; }
  // Valid after start().
  const Region& region() const { return *region_; }
  BridgeRuntime& bridge() { return *bridge_; }
  // The venet device, or null.
  const VenetDevice* venet() const { return venet_; }
  // Doorbells received on vectors nobody owns (any thread may read).
  uint64_t doorbells(unsigned vector) const;
  // The ivshmem client whose guest gets the interrupts (0: none).
  ivshmem::PeerId guest() const { return guest_; }
  // Every counter as one JSON object (loop thread).
  std::string stats_json() const;

 private:
  Status setup();
  void on_peer(const ivshmem::PeerEvent& e);
  void on_doorbell(unsigned vector);
  void on_signal(int signal_fd);

  DaemonConfig config_;
  std::optional<Region> region_;
  std::unique_ptr<ivshmem::Server> server_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<BridgeRuntime> bridge_;
  VenetDevice* venet_ = nullptr;  // owned by bridge_
  uint32_t venet_id_ = 0;
  ivshmem::PeerId guest_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> doorbells_;
};

}  // namespace avm

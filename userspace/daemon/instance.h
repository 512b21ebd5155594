// SPDX-License-Identifier: GPL-2.0
// avm::Instance: one VM's side of alacrityvmd.  A shared memory region laid
// out as a vbus bridge, served to QEMU over the ivshmem-doorbell protocol
// with the daemon as peer 0, the bridge runtime (state machine, event
// queue, call channel) and any number of named venet devices, attached and
// detached at run time (each takes one free doorbell vector; vector 0 is
// the bridge's).  docs/architecture.md has the picture.
//
// Threads: start() spawns the instance thread ("avm-inst-<name>", through
// IoThread), which runs the instance's EventLoop: the ivshmem server, the
// bridge doorbell (vector 0), unowned vectors; if it fails (an exception
// escaped a callback) the owner's failure callback hears of it.  Every
// public method may be called from any thread but the instance thread:
// it runs on the instance thread (EventLoop::run_sync) while that runs,
// directly otherwise (the caller owns the instance then).  Each venet device runs its own I/O
// thread.  Interrupts to the guest are written by whichever thread posts
// an event (the event queue's sink is a dup of the guest's vector-0
// eventfd), never through the server.
//
// Lifecycle: construct (no syscalls) -> start() (region, listener,
// bridge READY, thread) -> attach()/detach()/set_link()... -> stop()
// (thread joined, host RESET + interrupt, clients disconnected, socket
// removed; region and devices stay) -> start() again (new host epoch).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge/bridge_runtime.h"
#include "bridge/event_loop.h"
#include "bridge/io_thread.h"
#include "ivshmem/server.h"
#include "lib/error.h"
#include "lib/region.h"
#include "venet/venet_device.h"

namespace avm {

struct InstanceConfig {
  std::string name = "default";
  std::string socket_path;
  mode_t socket_mode = 0600;
  uint64_t region_size = uint64_t{4} << 20;
  unsigned vectors = 4;
  unsigned max_clients = 16;
};

enum class InstanceState { kWaiting, kConnected, kReady };
const char* to_string(InstanceState s);

// A snapshot of one attached device.
struct AttachedDevice {
  std::string name;
  uint32_t id = 0;  // bridge device id
  std::string tap;
  bool open = false;  // the guest driver opened it
  bool quarantined = false;
  VenetStats stats;
  std::string backend = "user";  // effective: user or kernel
  std::string backend_note;      // why auto fell back to user
  std::optional<unsigned> mtu;   // the TAP's, from the kernel (none if unreadable)
};

// A snapshot of the instance (counters included).
struct InstanceInfo {
  InstanceState state = InstanceState::kWaiting;
  ivshmem::PeerId guest = 0;  // 0: none
  pid_t guest_pid = 0;        // the guest's QEMU (SO_PEERCRED); 0: none or unknown
  BridgeCounters bridge;
  EventQueueCounters evq;
  CallCounters call;
  ivshmem::ServerStats ivshmem;         // the instance socket's server
  std::vector<AttachedDevice> devices;  // by name
};

class Instance {
 public:
  explicit Instance(InstanceConfig config);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // First time: validates the config, creates the region and lays out
  // the bridge.  Every time: listens and announces the host (READY +
  // interrupt; a new epoch after a stop).  No thread yet (so a process
  // may still fork); nobody is accepted until start().  No-op if listening.
  Status listen();
  // listen(), then spawns the instance thread.  EBUSY if it runs.
  Status start();
  // Joins the thread, host RESET + interrupt, disconnects every client,
  // removes the socket.  The region and the devices stay.
  void stop();
  bool running() const { return thread_.running(); }
  // Called on the instance thread, just before it ends, if it failed:
  // must only post work to the owner (IoThread's rule).  Set it before
  // start().  Without one the failure is logged.
  void set_on_failure(IoThread::OnFailure cb) { on_failure_ = std::move(cb); }

  // Adds @dev as @name: ENOSPC if no doorbell vector is free, EEXIST if
  // the name is taken.  On failure @dev is destroyed (its TAP closed).
  Status attach(const std::string& name, std::unique_ptr<VenetDevice> dev);
  // Removes device @name (ENOENT).  An open device is freed once the
  // guest closes it (docs/abi.md); its TAP goes with it.
  Status detach(const std::string& name);
  // Host-side link of device @name.
  Status set_link(const std::string& name, bool up);
  bool has_device(const std::string& name) const;
  // Doorbell vectors no device holds (vector 0 excluded).
  unsigned free_vectors() const;

  InstanceInfo info() const;
  // The legacy "stats: {json}" object: bridge counters and the venet_*
  // counters of the first device (by name), flat.
  std::string stats_json() const;

  const InstanceConfig& config() const { return config_; }
  // Valid after start().
  const Region& region() const { return *region_; }
  // Doorbells received on vectors nobody owns.
  uint64_t doorbells(unsigned vector) const;
  ivshmem::PeerId guest() const { return guest_.load(); }

  // Runs @fn on the instance thread (directly when it does not run).
  void run_sync(const std::function<void()>& fn) const;

 private:
  // Hand-over (instance_handover.h) exports, adopts, resumes and abandons
  // an instance through its private parts.
  friend class InstanceHandover;

  struct Slot {
    uint32_t id = 0;
    VenetDevice* dev = nullptr;  // owned by bridge_
  };

  Status setup();
  // The instance thread, running loop_ (start() and InstanceHandover::resume()).
  Status spawn();
  void on_peer(const ivshmem::PeerEvent& e);
  void on_doorbell(unsigned vector);
  void watch_unowned_vectors();

  InstanceConfig config_;
  std::optional<Region> region_;
  std::unique_ptr<ivshmem::Server> server_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<BridgeRuntime> bridge_;
  std::map<std::string, Slot> devices_;  // instance thread
  std::vector<bool> watched_;            // vectors the loop counts doorbells on
  std::atomic<ivshmem::PeerId> guest_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> doorbells_;
  IoThread thread_;
  IoThread::OnFailure on_failure_;
};

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// avm::Daemon: the (so far minimal) alacrityvmd.  One instance: a shared
// memory region laid out as a vbus bridge, served to QEMU over the
// ivshmem-doorbell protocol, with the daemon as peer 0.
//
// Lifecycle: construct (no syscalls) -> start() -> run() on one thread
// until a signal arrives on the given signalfd or request_stop() (which
// any thread may call) -> stop().  Tests run it in-process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ivshmem/server.h"
#include "lib/bridge_layout.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/region.h"

namespace avm {

struct DaemonConfig {
  std::string socket_path;
  mode_t socket_mode = 0600;
  uint64_t region_size = uint64_t{4} << 20;
  unsigned vectors = 4;
  unsigned max_clients = 16;
};

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Creates the region, lays out the bridge and starts listening.
  Status start();
  // Serves clients and doorbells until SIGINT/SIGTERM is read from
  // @signal_fd (a signalfd, or -1 for none) or request_stop() is called.
  Status run(int signal_fd = -1);
  // Thread-safe: makes run() return.
  void request_stop() const;
  // Disconnects every client and removes the socket; the region stays.
  void stop();

  const DaemonConfig& config() const { return config_; }
  // Valid after start().
  const Region& region() const { return *region_; }
  // Doorbells received on each of peer 0's vectors (any thread may read).
  uint64_t doorbells(unsigned vector) const;

 private:
  void on_doorbell(unsigned vector);

  DaemonConfig config_;
  std::optional<Region> region_;
  std::optional<BridgeLayout> bridge_;
  std::unique_ptr<ivshmem::Server> server_;
  std::optional<EventFd> stop_;
  std::unique_ptr<std::atomic<uint64_t>[]> doorbells_;
};

}  // namespace avm

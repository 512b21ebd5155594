// SPDX-License-Identifier: GPL-2.0
// Test helper for the ivshmem server tests.
#pragma once

#include <poll.h>

#include <atomic>
#include <thread>

#include "ivshmem/server.h"

namespace avm::ivshmem {

// Runs the server's event loop on its own thread while it exists, so the
// test thread can block in the client like QEMU does.  The server (and the
// recorded events) may be inspected only when no pump is running.
class Pump {
 public:
  explicit Pump(Server& server) : thread_([this, &server] { run(server); }) {}
  ~Pump() {
    stop_ = true;
    thread_.join();
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

 private:
  void run(Server& server) {
    while (!stop_) {
      pollfd pfd{server.fd(), POLLIN, 0};
      ::poll(&pfd, 1, 5);
      server.handle_events();
    }
  }
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace avm::ivshmem

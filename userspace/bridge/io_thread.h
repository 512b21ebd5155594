// SPDX-License-Identifier: GPL-2.0
// avm::IoThread: the one helper that starts every device I/O thread
// (cloud-hypervisor's thread_helper): it names the thread, runs the body,
// and turns a failure -- an Error returned by the body, or an exception
// that escaped it -- into one call of the owner's failure callback, which
// posts it to the owner's loop (the owner marks the device for reset).
//
// Threading: start() and join() on the owner's thread; the failure
// callback runs on the I/O thread, just before it exits, and must only
// post work (e.g. EventLoop::post), never touch the owner's state.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "lib/error.h"

namespace avm {

class IoThread {
 public:
  using Body = std::function<Status()>;
  using OnFailure = std::function<void(const Error&)>;

  // Longest thread name Linux keeps (15 characters + NUL).
  static constexpr size_t kMaxName = 15;

  IoThread() = default;
  ~IoThread() { join(); }
  IoThread(IoThread&&) noexcept = default;
  IoThread& operator=(IoThread&& other) noexcept {
    join();
    thread_ = std::move(other.thread_);
    return *this;
  }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  // Starts @body on a thread named @name (cut to kMaxName).  EAGAIN if
  // the thread cannot be created.
  static Result<IoThread> start(std::string name, Body body, OnFailure on_failure);

  // Waits for the thread to end (the owner told it to stop first).
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool running() const { return thread_.joinable(); }

 private:
  std::thread thread_;
};

// The calling thread's name (for tests and logs).
std::string current_thread_name();

}  // namespace avm

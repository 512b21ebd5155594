// SPDX-License-Identifier: GPL-2.0
// avm::EventLoop: an epoll loop owned by one thread, with the reserved
// "stop" event every loop of the host has, and a task queue
// through which other threads post work to the owning thread (Envoy's
// worker dispatcher, cloud-hypervisor's epoll_helper).
//
// Threading: add()/remove()/run()/run_once() only on the owning thread
// (the one that runs the loop); post() and request_stop() from any
// thread.  Callbacks and tasks run on the owning thread.
// fd() is the epoll fd itself, so a loop can be nested into another one
// (poll it for readability, then call run_once(0)).
//
// Lifecycle: create() (syscalls) -> run()/run_once() ... -> destruction.
// A stop request makes run() return; clear_stop() makes it usable again.
#pragma once

#include <sys/epoll.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/unique_fd.h"

namespace avm {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t events)>;
  using Task = std::function<void()>;

  static Result<std::unique_ptr<EventLoop>> create();
  ~EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches @fd for @events (EPOLLIN, ...); @cb runs on the loop thread.
  // EEXIST if @fd is watched already.
  Status add(int fd, uint32_t events, Callback cb);
  // Stops watching @fd (no-op if it is not watched).
  void remove(int fd);

  // Any thread: runs @task on the loop thread, in posting order.
  void post(Task task);
  // Any thread but the loop's (checked): posts @task and waits until it
  // has run on the loop thread.  Never runs @task on the caller's thread:
  // false, and @task has not run (nor ever will), if no thread runs the
  // loop or it stops before running @task.
  bool run_sync(const Task& task);

  // Any thread: makes run() return (the reserved stop event).
  void request_stop();
  bool stop_requested() const;
  void clear_stop();

  // One round: waits up to @timeout_ms (-1: forever) and dispatches what
  // is ready.  False once a stop was requested.
  bool run_once(int timeout_ms);
  // Rounds until a stop is requested.  Records the running thread.
  void run();

  int fd() const { return epoll_.get(); }
  bool on_loop_thread() const;
  // Whether a thread has started running rounds (run() or run_once()).
  // A starter thread can wait for it before relying on run_sync()
  // running on the loop thread.
  bool running() const;
  // Blocks until running() (or forever if no thread ever runs the loop).
  void wait_running() const;

 private:
  EventLoop(UniqueFd epoll, EventFd stop, EventFd tasks);
  void run_tasks();

  UniqueFd epoll_;
  EventFd stop_;   // reserved: readable when a stop was requested
  EventFd tasks_;  // readable when tasks are queued
  std::map<int, std::shared_ptr<Callback>> callbacks_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Task> queue_;  // under mu_
  bool running_ = false;    // under mu_: run() is active
  std::thread::id thread_;  // under mu_: the thread in run()/run_once()
};

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "bridge/event_loop.h"

#include <cerrno>
#include <memory>
#include <utility>

namespace avm {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return errno_error("epoll_create1");
  }
  auto stop = EventFd::create();
  auto tasks = EventFd::create();
  if (!stop || !tasks) {
    return errno_error(EMFILE, "event loop eventfds");
  }
  std::unique_ptr<EventLoop> loop(
      new EventLoop(std::move(ep), std::move(*stop), std::move(*tasks)));
  for (const EventFd* e : {&loop->stop_, &loop->tasks_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = e->fd();
    if (::epoll_ctl(loop->epoll_.get(), EPOLL_CTL_ADD, e->fd(), &ev) < 0) {
      return errno_error("epoll_ctl");
    }
  }
  return loop;
}

EventLoop::EventLoop(UniqueFd epoll, EventFd stop, EventFd tasks)
    : epoll_(std::move(epoll)), stop_(std::move(stop)), tasks_(std::move(tasks)) {}

Status EventLoop::add(int fd, uint32_t events, Callback cb) {
  if (callbacks_.count(fd) != 0) {
    return make_error(EEXIST, "event loop: fd " + std::to_string(fd) + " is watched already");
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    return errno_error("epoll_ctl add");
  }
  callbacks_[fd] = std::make_shared<Callback>(std::move(cb));
  return {};
}

void EventLoop::remove(int fd) {
  if (callbacks_.erase(fd) != 0) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  tasks_.signal();
}

bool EventLoop::run_sync(const Task& task) {
  struct Sync {
    bool done = false;
    bool cancelled = false;
  };
  auto sync = std::make_shared<Sync>();
  {
    std::lock_guard lock(mu_);
    AVM_CHECK(!running_ || thread_ != std::this_thread::get_id());  // would wait forever
    if (!running_) {
      return false;
    }
    // @task is only touched while the caller waits (cancelled under mu_).
    queue_.emplace_back([this, sync, &task] {
      {
        std::lock_guard l(mu_);
        if (sync->cancelled) {
          return;
        }
      }
      task();
      std::lock_guard l(mu_);
      sync->done = true;
      cv_.notify_all();
    });
  }
  tasks_.signal();
  std::unique_lock lock(mu_);
  // While the loop thread runs the task, running_ stays true.
  cv_.wait(lock, [&] { return sync->done || !running_; });
  sync->cancelled = !sync->done;
  return sync->done;
}

void EventLoop::request_stop() {
  stop_.signal();
}

bool EventLoop::stop_requested() const {
  return stop_.wait(0);
}

void EventLoop::clear_stop() {
  stop_.consume();
}

bool EventLoop::on_loop_thread() const {
  std::lock_guard lock(mu_);
  return running_ && thread_ == std::this_thread::get_id();
}

void EventLoop::run_tasks() {
  tasks_.consume();
  for (;;) {
    Task t;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        return;
      }
      t = std::move(queue_.front());
      queue_.pop_front();
    }
    t();
  }
}

bool EventLoop::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void EventLoop::wait_running() const {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return running_; });
}

bool EventLoop::run_once(int timeout_ms) {
  {
    std::lock_guard lock(mu_);
    if (!running_ || thread_ != std::this_thread::get_id()) {
      thread_ = std::this_thread::get_id();
      running_ = true;
      cv_.notify_all();
    }
  }
  constexpr int kMax = 16;
  epoll_event evs[kMax];
  const int n = ::epoll_wait(epoll_.get(), evs, kMax, timeout_ms);
  AVM_CHECK(n >= 0 || errno == EINTR);
  for (int i = 0; i < n; i++) {
    const int fd = evs[i].data.fd;
    if (fd == stop_.fd()) {
      continue;  // checked below, never consumed here
    }
    if (fd == tasks_.fd()) {
      run_tasks();
      continue;
    }
    auto it = callbacks_.find(fd);
    if (it == callbacks_.end()) {
      continue;  // removed by an earlier callback of this round
    }
    // A copy keeps the callback alive if it removes itself.
    const std::shared_ptr<Callback> cb = it->second;
    (*cb)(evs[i].events);
  }
  return !stop_requested();
}

void EventLoop::run() {
  // Also when a callback throws (IoThread reports it): a run_sync()
  // caller must not wait for a loop that has ended.
  auto ended = [this] {
    std::lock_guard lock(mu_);
    running_ = false;
    cv_.notify_all();
  };
  try {
    while (run_once(-1)) {
    }
  } catch (...) {
    ended();
    throw;
  }
  ended();
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "harness.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace avm::bench {
namespace {

void pin(int cpu) {
  if (std::thread::hardware_concurrency() < 2) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);  // best effort
}

template <class T>
T load(T& v) {
  return std::atomic_ref<T>(v).load(std::memory_order_acquire);
}

}  // namespace

Transport::Transport(uint64_t bytes) {
  const uint64_t size = std::max(Region::kMinSize, std::bit_ceil(bytes + 4096));
  auto r = Region::create("bench-ring", size);
  auto d = EventFd::create();
  auto i = EventFd::create();
  AVM_CHECK(r && d && i);
  region_ = std::make_unique<Region>(std::move(*r));
  doorbell_ = std::make_unique<EventFd>(std::move(*d));
  irq_ = std::make_unique<EventFd>(std::move(*i));
}

bool sleep_on(const EventFd& efd, Stats* s) {
  for (int waited = 0; waited < kWaitMs; waited += 100) {
    if (efd.wait(100)) {
      efd.consume();
      return true;
    }
    if (std::atomic_ref<uint32_t>(s->abort).load(std::memory_order_relaxed) != 0) {
      return false;
    }
  }
  std::atomic_ref<uint32_t>(s->abort).store(1);
  return false;
}

PairResult run_pair(Transport& t, uint64_t msgs) {
  Stats* s = t.stats();
  AVM_CHECK(s != nullptr);
  *s = Stats{};
  s->total = msgs;
  t.reset();
  // Drain stale wake-ups from a previous run.
  t.doorbell().consume();
  t.irq().consume();

  const pid_t pid = ::fork();
  AVM_CHECK(pid >= 0);
  if (pid == 0) {
    pin(1);
    std::atomic_ref<uint32_t>(s->child_ready).store(1, std::memory_order_release);
    t.consume(s);
    ::_exit(0);
  }
  pin(0);
  while (load(s->child_ready) == 0) {
    std::this_thread::yield();
  }
  const auto start = std::chrono::steady_clock::now();
  t.produce(s);
  const auto end = std::chrono::steady_clock::now();
  int status = 0;
  ::waitpid(pid, &status, 0);

  PairResult r;
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.msgs = s->received;
  r.kicks = s->kicks;
  r.irqs = s->irqs;
  r.bad = s->bad;
  r.host_sleeps = s->host_sleeps;
  r.guest_sleeps = s->guest_sleeps;
  r.failed = s->abort != 0 || s->received != msgs || s->bad != 0 || !WIFEXITED(status) ||
             WEXITSTATUS(status) != 0;
  return r;
}

}  // namespace avm::bench

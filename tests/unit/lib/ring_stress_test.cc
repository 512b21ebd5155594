// SPDX-License-Identifier: GPL-2.0
// Ring correctness under load: a producer and HostQueue (the daemon's
// consumer, consume_ring() of userspace/testing/ring_checker.h) on one
// queue, waking each other only through the shm-signal protocol:
//  - the producer rings the doorbell only when to_host says so, and when
//    the ring is full arms to_guest and sleeps on the interrupt;
//  - the consumer drains in batches, completes, notifies to_guest, mixes
//    in short disarmed polling phases, and when empty arms to_host and
//    sleeps on the doorbell.
// Two producers:
//  - GuestQueue, the software guest, in the parent with the consumer in a
//    forked child (one memfd region, eventfds made before fork);
//  - the kernel's own code, modules/guest/vbus_ring.c and
//    <linux/vbus_shm_signal.h> built in userspace (tests/unit/ring_compat,
//    as Linux's tools/virtio does), on a thread of its own: the kernel's
//    barriers are tested outside QEMU.  Its waits are eventfds, or
//    counters the waiter spins on (no syscall next to the shm-signal steps
//    to hide a missing barrier).
// Every message carries its sequence number, length, segment count and a
// checksum (ring_message.h): RingChecker finds loss, duplication,
// reordering and corruption.  Any wait longer than kWaitMs is a lost
// wake-up and fails the test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "lib/eventfd.h"
#include "queue_fixture.h"
#include "ring_guest.h"
#include "testing/guest_queue.h"
#include "testing/ring_checker.h"

namespace avm {
namespace {

using testing::OneQueue;

constexpr int kWaitMs = 20000;

void expect_whole(const RingCheck& c, uint64_t total, uint32_t max_chain) {
  for (const std::string& p : c.problems(total)) {
    ADD_FAILURE() << p;
  }
  if (max_chain == 1) {
    EXPECT_EQ(c.entries, total);
  } else {
    EXPECT_GT(c.entries, total);  // some chains really had several entries
  }
}

// -- GuestQueue in the parent, the consumer in a forked child ----------------

// Shared between the processes (region scratch area).
struct Shared {  // NOLINT(clang-analyzer-optin.performance.Padding): cache lines per writer
  alignas(64) uint32_t abort;  // either side gave up
  alignas(64) RingCheck host;
  alignas(64) uint64_t guest_sleeps;
  uint64_t doorbells_rung;
  uint64_t doorbells_suppressed;
  uint32_t guest_timeout;
};

bool aborted(Shared* s) {
  return std::atomic_ref<uint32_t>(s->abort).load(std::memory_order_relaxed) != 0;
}
void set_abort(Shared* s) {
  std::atomic_ref<uint32_t>(s->abort).store(1);
}

// Waits for @efd; false (and abort) after kWaitMs.
bool sleep_on(const EventFd& efd, Shared* s) {
  for (int waited = 0; waited < kWaitMs; waited += 100) {
    if (efd.wait(100)) {
      efd.consume();
      return true;
    }
    if (aborted(s)) {
      return false;
    }
  }
  set_abort(s);
  return false;
}

void run_producer(const QueueView& view, Shared* s, uint64_t total, uint32_t max_segments,
                  const EventFd& doorbell, const EventFd& irq) {
  GuestQueue guest(view);
  std::mt19937 rng(1234);
  std::vector<UsedEntry> used(view.num_entries());
  std::vector<uint8_t> msg;
  const uint32_t buf = view.buf_size();
  uint64_t sleeps = 0;

  auto reap = [&] { guest.poll_used(used); };
  // Blocks until @need slots are free: arm to_guest, sleep on irq.
  auto wait_slots = [&](uint32_t need) {
    reap();
    while (guest.free_slots() < need) {
      if (guest.to_guest().arm()) {
        guest.to_guest().handle(reap);
        continue;
      }
      sleeps++;
      if (!sleep_on(irq, s)) {
        s->guest_timeout = 1;
        return false;
      }
      guest.to_guest().handle(reap);
    }
    guest.to_guest().disarm();
    return true;
  };

  for (uint64_t seq = 0; seq < total && !aborted(s); seq++) {
    const uint32_t segments = 1 + rng() % max_segments;
    const uint32_t min_len = segments == 1 ? sizeof(ring_msg_header) : (segments - 1) * buf + 1;
    const uint32_t len = min_len + rng() % (segments * buf - min_len + 1);
    msg.resize(len);
    ring_msg_fill(msg.data(), len, seq, static_cast<uint16_t>(segments), seq + 1 == total, 1);
    if (guest.free_slots() < segments && !wait_slots(segments)) {
      break;
    }
    for (uint32_t k = 0; k < segments; k++) {
      const uint32_t off = k * buf;
      const uint32_t n = std::min(buf, len - off);
      const bool last = k + 1 == segments;
      ASSERT_TRUE(guest.submit({msg.data() + off, n}, last ? 0 : VBUS_DESC_F_NEXT));
    }
    if (guest.kick()) {
      doorbell.signal();
    }
  }
  // Wait for the last completions.
  wait_slots(view.num_entries());
  s->guest_sleeps = sleeps;
  s->doorbells_rung = guest.to_host().counters().sent;
  s->doorbells_suppressed = guest.to_host().counters().suppressed;
}

void run_pair(uint32_t entries, uint32_t buf_size, uint64_t total, uint32_t max_segments) {
  OneQueue q(entries, buf_size);
  ASSERT_TRUE(q.ok());
  auto* s = q.scratch<Shared>();
  ASSERT_NE(s, nullptr);
  const QueueView view = q.view();
  auto doorbell = EventFd::create();
  auto irq = EventFd::create();
  ASSERT_TRUE(doorbell && irq);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    RingConsumerOptions o;
    o.total = total;
    o.max_chain = max_segments;
    o.wait_doorbell = [&] { return sleep_on(*doorbell, s); };
    o.raise_irq = [&] { irq->signal(); };
    s->host = consume_ring(view, o);
    if (s->host.fault || s->host.timeout) {
      set_abort(s);
    }
    ::_exit(0);
  }
  run_producer(view, s, total, max_segments, *doorbell, *irq);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "consumer died";

  EXPECT_EQ(s->abort, 0U);
  EXPECT_EQ(s->guest_timeout, 0U) << "producer lost a wake-up";
  expect_whole(s->host, total, max_segments);
  // Signal-driven: somebody slept and was woken through the protocol.
  EXPECT_GT(s->host.sleeps + s->guest_sleeps, 0U);
  EXPECT_GT(s->doorbells_rung + s->host.irqs_rung, 0U);
  ::testing::Test::RecordProperty("host_sleeps", std::to_string(s->host.sleeps));
  ::testing::Test::RecordProperty("guest_sleeps", std::to_string(s->guest_sleeps));
  std::printf("  %s\n", ring_report(s->host, entries, s->doorbells_rung, s->doorbells_suppressed,
                                    s->guest_sleeps)
                            .c_str());
}

TEST(RingStress, TenMillionMessagesRing256) {
  run_pair(256, 64, 10'000'000, 1);
}

TEST(RingStress, TwoMillionMessagesRing64) {
  run_pair(64, 96, 2'000'000, 1);
}

TEST(RingStress, ScatterGatherChainsRing64) {
  run_pair(64, 64, 1'000'000, 5);
}

TEST(RingStress, ScatterGatherChainsFillTheRing) {
  // Chains up to the whole ring: the producer must wait for it to drain.
  run_pair(16, 32, 50'000, 16);
}

// -- the kernel's vbus_ring.c on a thread, the consumer on this one ------------

// The doorbell and the interrupt: eventfds, or (spin) counters the waiter
// spins on, so that no syscall sits next to the shm-signal steps.
struct Wake {
  bool spin = false;
  std::optional<EventFd> doorbell;
  std::optional<EventFd> irq;
  alignas(64) uint32_t doorbell_word = 0;
  alignas(64) uint32_t irq_word = 0;
  uint32_t doorbells_seen = 0;

  ring_compat_wake c() {
    if (spin) {
      return {-1, -1, &doorbell_word, &irq_word};
    }
    return {doorbell->fd(), irq->fd(), nullptr, nullptr};
  }
  void raise_irq() {
    if (spin) {
      std::atomic_ref<uint32_t>(irq_word).fetch_add(1, std::memory_order_release);
    } else {
      irq->signal();
    }
  }
  // Up to @ms for a doorbell; true if one came.
  bool wait_doorbell(int ms) {
    if (spin) {
      return ring_compat_spin_wait(&doorbell_word, &doorbells_seen, ms) == 0;
    }
    if (!doorbell->wait(ms)) {
      return false;
    }
    doorbell->consume();
    return true;
  }
};

void run_kernel_pair(uint32_t entries, uint32_t buf_size, uint64_t msgs, uint32_t max_chain,
                     bool spin = false) {
  OneQueue q(entries, buf_size);
  ASSERT_TRUE(q.ok());
  const QueueView view = q.view();
  auto wake = std::make_unique<Wake>();
  wake->spin = spin;
  if (!spin) {
    auto doorbell = EventFd::create();
    auto irq = EventFd::create();
    ASSERT_TRUE(doorbell && irq);
    wake->doorbell.emplace(std::move(*doorbell));
    wake->irq.emplace(std::move(*irq));
  }
  const ring_compat_wake cwake = wake->c();

  ring_compat_guest_result g{};
  int g_ret = 0;
  std::atomic<bool> guest_done{false};
  std::thread guest([&] {
    g_ret = ring_compat_guest_run(q.region->data() + q.area_offset, &q.desc, msgs, max_chain,
                                  0x1234567U + entries, &cwake, kWaitMs, &g);
    guest_done.store(true);
  });
  RingConsumerOptions o;
  o.total = msgs;
  o.max_chain = max_chain;
  o.wait_doorbell = [&] {
    for (int waited = 0; waited < kWaitMs; waited += 100) {
      if (wake->wait_doorbell(100)) {
        return true;
      }
      if (guest_done.load()) {
        return false;  // the guest gave up: do not wait for it
      }
    }
    return false;
  };
  o.raise_irq = [&] { wake->raise_irq(); };
  const RingCheck h = consume_ring(view, o);
  guest.join();

  EXPECT_EQ(g_ret, 0) << "guest: " << g.why;
  expect_whole(h, msgs, max_chain);
  EXPECT_TRUE(h.saw_last);
  EXPECT_EQ(g.msgs, msgs);
  EXPECT_EQ(h.entries, g.descs) << "descriptors lost or duplicated";
  EXPECT_EQ(g.used, g.descs) << "used entries lost";
  // Signal-driven: somebody slept and was woken through the protocol.
  EXPECT_GT(h.sleeps + g.sleeps, 0U);
  EXPECT_GT(g.doorbells + h.irqs_rung, 0U);
  std::printf("  %s\n", ring_report(h, entries, g.doorbells, g.suppressed, g.sleeps).c_str());
}

TEST(RingStress, KernelGuestRing256) {
  // As many messages as the software guest's longest run.
  run_kernel_pair(256, 64, 10'000'000, 1);
}

TEST(RingStress, KernelGuestRing16) {
  // A small ring: the guest fills it and sleeps on the interrupt often.
  run_kernel_pair(16, 64, 500'000, 1);
}

TEST(RingStress, KernelGuestChainsFillTheRing) {
  run_kernel_pair(16, 48, 200'000, 16);
}

TEST(RingStress, KernelGuestSpinWakeups) {
  // No syscall next to the shm-signal steps (the waiter spins on a
  // counter), so the kernel's own barriers in the eventfd paths cannot
  // stand in for a missing one in the steps.
  run_kernel_pair(64, 64, 5'000'000, 1, true);
}

}  // namespace
}  // namespace avm

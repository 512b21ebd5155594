// SPDX-License-Identifier: GPL-2.0
// The kernel's guest ring code against the userspace host endpoint, outside
// QEMU: modules/guest/vbus_ring.c and <linux/vbus_shm_signal.h>, compiled
// in userspace with this folder's kernel compatibility headers (as Linux's
// tools/virtio/ringtest does), produce on one thread (ring_guest.c); the
// daemon's HostQueue consumes on another.  Both wake each other only
// through the shm-signal protocol (eventfds as doorbell and interrupt), so
// a barrier missing on either side shows up as a lost wake-up (a timeout)
// or as a descriptor lost, duplicated or reordered.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../lib/queue_fixture.h"
#include "lib/eventfd.h"
#include "lib/host_queue.h"
#include "ring_guest.h"

namespace avm {
namespace {

using testing::OneQueue;

constexpr int kWaitMs = 20000;

// The doorbell and the interrupt: eventfds, or (spin) counters the waiter
// spins on, so that no syscall sits next to the shm-signal steps.
struct Wake {
  bool spin = false;
  std::optional<EventFd> doorbell;
  std::optional<EventFd> irq;
  alignas(64) uint32_t doorbell_word = 0;
  alignas(64) uint32_t irq_word = 0;

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
  bool wait_doorbell(int ms, uint32_t* seen) {
    if (spin) {
      return ring_compat_spin_wait(&doorbell_word, seen, ms) == 0;
    }
    if (!doorbell->wait(ms)) {
      return false;
    }
    doorbell->consume();
    return true;
  }
};

struct HostResult {
  uint64_t descs = 0;
  uint64_t msgs = 0;
  uint64_t sleeps = 0;
  uint64_t irqs = 0;
  uint64_t extra = 0;
  bool fault = false;
  bool timeout = false;
  bool saw_last = false;
  std::string first_error;
};

// The host: HostQueue as the daemon's I/O thread uses it (handle loop,
// busy-poll phases disarmed, arm and sleep on the doorbell).  Checks that
// descriptor n carries number n and that chains arrive whole.
HostResult run_host(const QueueView& view, Wake& wake, uint32_t max_chain,
                    const std::atomic<bool>& guest_done) {
  HostResult r;
  uint32_t doorbells_seen = 0;
  HostQueue host(view, max_chain);
  std::vector<HostDesc> batch(32);
  uint64_t rng = 99;
  auto error = [&](const std::string& what) {
    if (r.first_error.empty()) {
      r.first_error = what;
    }
  };

  auto drain = [&] {
    while (!r.fault) {
      auto n = host.poll(batch);
      if (!n) {
        r.fault = true;
        error(n.error().message);
        return;
      }
      if (*n == 0) {
        return;
      }
      for (size_t i = 0; i < *n; i++) {
        const HostDesc& d = batch[i];
        ring_compat_payload p{};
        auto buf = host.buffer(d);
        if (buf.size() < sizeof p) {
          error("descriptor shorter than its payload");
        } else {
          std::memcpy(&p, buf.data(), sizeof p);
          if (p.desc != r.descs) {
            error("descriptor " + std::to_string(r.descs) + " carries number " +
                  std::to_string(p.desc));
          } else if (p.msg != r.msgs || p.len != d.len() ||
                     d.has_next() != (p.chain_index + 1 < p.chain_len)) {
            error("descriptor " + std::to_string(r.descs) + ": chain or length mismatch");
          }
        }
        r.descs++;
        if (!d.has_next()) {
          r.msgs++;
          r.saw_last = p.last != 0;
        }
        host.complete(d, d.len());
      }
      if (host.notify_guest()) {
        r.irqs++;
        wake.raise_irq();
      }
    }
  };

  while (!r.fault && !r.saw_last) {
    host.to_host().handle(drain);
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    if ((rng >> 33) % 4 == 0) {
      host.to_host().disarm();
      for (int i = 0; i < 32 && !r.fault && !r.saw_last; i++) {
        host.to_host().handle(drain);
      }
    }
    if (r.fault || r.saw_last) {
      break;
    }
    if (host.to_host().arm()) {
      continue;
    }
    r.sleeps++;
    bool woke = false;
    for (int waited = 0; waited < kWaitMs && !woke; waited += 100) {
      woke = wake.wait_doorbell(100, &doorbells_seen);
      if (!woke && guest_done.load()) {
        break;  // the guest gave up: do not wait for it
      }
    }
    if (!woke) {
      r.timeout = true;
      break;
    }
  }
  if (!r.fault) {
    auto n = host.poll(batch);  // nothing may follow the last message
    r.extra = n ? *n : 1;
  }
  return r;
}

void run_pair(uint32_t entries, uint32_t buf_size, uint64_t msgs, uint32_t max_chain,
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
  const HostResult h = run_host(view, *wake, max_chain, guest_done);
  guest.join();

  EXPECT_EQ(g_ret, 0) << "guest: " << g.why;
  EXPECT_FALSE(h.timeout) << "host lost a wake-up";
  EXPECT_FALSE(h.fault) << "host rejected the kernel's descriptor: " << h.first_error;
  EXPECT_EQ(h.first_error, "");
  EXPECT_EQ(g.msgs, msgs);
  EXPECT_EQ(h.msgs, msgs);
  EXPECT_EQ(h.descs, g.descs) << "descriptors lost or duplicated";
  EXPECT_EQ(g.used, g.descs) << "used entries lost";
  EXPECT_EQ(h.extra, 0U);
  if (max_chain > 1) {
    EXPECT_GT(g.descs, msgs);  // some chains really had several entries
  }
  // Signal-driven: somebody slept and was woken through the protocol.
  EXPECT_GT(h.sleeps + g.sleeps, 0U);
  EXPECT_GT(g.doorbells + h.irqs, 0U);
  std::printf(
      "  %llu msgs, %llu descs, ring %u: doorbells %llu rung / %llu suppressed, irqs %llu, "
      "sleeps host %llu guest %llu\n",
      static_cast<unsigned long long>(msgs), static_cast<unsigned long long>(g.descs), entries,
      static_cast<unsigned long long>(g.doorbells), static_cast<unsigned long long>(g.suppressed),
      static_cast<unsigned long long>(h.irqs), static_cast<unsigned long long>(h.sleeps),
      static_cast<unsigned long long>(g.sleeps));
}

TEST(RingCompat, KernelGuestAgainstHostQueueRing256) {
  run_pair(256, 64, 2'000'000, 1);
}

TEST(RingCompat, KernelGuestAgainstHostQueueRing16) {
  // A small ring: the guest fills it and sleeps on the interrupt often.
  run_pair(16, 64, 500'000, 1);
}

TEST(RingCompat, KernelGuestChainsFillTheRing) {
  run_pair(16, 48, 200'000, 16);
}

TEST(RingCompat, KernelGuestSpinWakeups) {
  // No syscall next to the shm-signal steps (the waiter spins on a
  // counter), so the kernel's own barriers in the eventfd paths cannot
  // stand in for a missing one in the steps.
  run_pair(64, 64, 1'000'000, 1, true);
}

}  // namespace
}  // namespace avm

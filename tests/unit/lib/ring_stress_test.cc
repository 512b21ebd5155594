// SPDX-License-Identifier: GPL-2.0
// Ring correctness across two processes: a software guest (producer, the
// parent) and the host endpoint (consumer, a forked child) share one memfd
// region and wake each other through eventfds created before fork, driven
// by the shm-signal protocol:
//  - the producer kicks the "doorbell" eventfd only when to_host says so,
//    and when the ring is full it arms to_guest and sleeps on "irq";
//  - the consumer drains in batches, completes, notifies to_guest, mixes in
//    short disarmed polling phases, and when empty arms to_host and sleeps
//    on "doorbell".
// Every message carries its sequence number, its segment count and a
// checksum: the consumer checks for loss, reordering and corruption.  Any
// wait longer than kWaitMs is a lost wake-up and fails the test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "lib/eventfd.h"
#include "lib/host_queue.h"
#include "queue_fixture.h"
#include "testing/guest_queue.h"

namespace avm {
namespace {

using testing::OneQueue;

constexpr int kWaitMs = 20000;

struct Header {
  uint64_t seq;
  uint32_t len;       // whole message, header included
  uint16_t segments;  // entries in the chain
  uint16_t pad;
  uint32_t checksum;  // FNV-1a over seq and the payload
  uint32_t pad2;
};

uint32_t checksum(uint64_t seq, const uint8_t* p, size_t n) {
  uint32_t h = 2166136261U;
  for (int i = 0; i < 8; i++) {
    h = (h ^ static_cast<uint8_t>(seq >> (8 * i))) * 16777619U;
  }
  for (size_t i = 0; i < n; i++) {
    h = (h ^ p[i]) * 16777619U;
  }
  return h;
}

// Shared between the processes (region scratch area).
struct Shared {  // NOLINT(clang-analyzer-optin.performance.Padding): cache lines per writer
  uint64_t total;
  uint32_t max_segments;
  alignas(64) uint32_t abort;  // either side gave up
  // consumer results
  alignas(64) uint64_t received;
  uint64_t entries;
  uint64_t bad_seq;
  uint64_t bad_sum;
  uint64_t bad_segments;
  uint64_t first_bad;
  uint64_t extra;
  uint32_t host_fault;
  uint32_t host_timeout;
  uint64_t host_sleeps;
  uint64_t irqs_rung;
  uint64_t irqs_suppressed;
  // producer results
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

void run_consumer(const QueueView& view, Shared* s, const EventFd& doorbell, const EventFd& irq) {
  HostQueue host(view, s->max_segments);
  std::vector<HostDesc> batch(32);
  std::vector<uint8_t> msg;
  uint32_t segs = 0;
  uint64_t sleeps = 0;
  std::mt19937 rng(7);
  bool failed = false;

  auto finish_message = [&] {
    Header h{};
    if (msg.size() < sizeof h) {
      s->bad_sum++;
      return;
    }
    std::memcpy(&h, msg.data(), sizeof h);
    const uint64_t expect = s->received;
    if (h.seq != expect || h.len != msg.size()) {
      if (s->bad_seq++ == 0) {
        s->first_bad = expect;
      }
    } else if (h.segments != segs) {
      s->bad_segments++;
    } else if (h.checksum != checksum(h.seq, msg.data() + sizeof h, msg.size() - sizeof h)) {
      s->bad_sum++;
    }
    s->received++;
  };

  auto drain = [&] {
    while (!failed) {
      auto n = host.poll(batch);
      if (!n) {
        s->host_fault = 1;
        failed = true;
        set_abort(s);
        return;
      }
      if (*n == 0) {
        return;
      }
      for (size_t i = 0; i < *n; i++) {
        const HostDesc& d = batch[i];
        auto buf = host.buffer(d);
        msg.insert(msg.end(), buf.begin(), buf.end());
        segs++;
        if (!d.has_next()) {
          finish_message();
          msg.clear();
          segs = 0;
        }
        host.complete(d, d.len());
        s->entries++;
      }
      if (host.notify_guest()) {
        irq.signal();
      }
    }
  };

  while (!failed && s->received < s->total) {
    host.to_host().handle(drain);
    if (rng() % 4 == 0) {
      // Busy-poll phase: disarmed, like the daemon's I/O thread.
      host.to_host().disarm();
      for (int i = 0; i < 64 && !failed; i++) {
        host.to_host().handle(drain);
      }
    }
    if (failed || s->received >= s->total) {
      break;
    }
    if (host.to_host().arm()) {
      continue;
    }
    sleeps++;
    if (!sleep_on(doorbell, s)) {
      s->host_timeout = aborted(s) && s->host_fault == 0 ? 1 : 0;
      break;
    }
  }
  // Nothing may follow the last message.
  if (!failed) {
    auto n = host.poll(batch);
    s->extra = n ? *n : 1;
  }
  s->host_sleeps = sleeps;
  s->irqs_rung = host.to_guest().counters().sent;
  s->irqs_suppressed = host.to_guest().counters().suppressed;
}

void run_producer(const QueueView& view, Shared* s, const EventFd& doorbell, const EventFd& irq) {
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

  for (uint64_t seq = 0; seq < s->total && !aborted(s); seq++) {
    const uint32_t segments = 1 + rng() % s->max_segments;
    const uint32_t min_len = segments == 1 ? sizeof(Header) : (segments - 1) * buf + 1;
    const uint32_t len = min_len + rng() % (segments * buf - min_len + 1);
    msg.resize(len);
    for (uint32_t i = sizeof(Header); i < len; i++) {
      msg[i] = static_cast<uint8_t>(seq * 31 + i);
    }
    Header h{seq,
             len,
             static_cast<uint16_t>(segments),
             0,
             checksum(seq, msg.data() + sizeof(Header), len - sizeof(Header)),
             0};
    std::memcpy(msg.data(), &h, sizeof h);
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
  s->total = total;
  s->max_segments = max_segments;
  const QueueView view = q.view();
  auto doorbell = EventFd::create();
  auto irq = EventFd::create();
  ASSERT_TRUE(doorbell && irq);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    run_consumer(view, s, *doorbell, *irq);
    ::_exit(0);
  }
  run_producer(view, s, *doorbell, *irq);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "consumer died";

  EXPECT_EQ(s->abort, 0U);
  EXPECT_EQ(s->guest_timeout, 0U) << "producer lost a wake-up";
  EXPECT_EQ(s->host_timeout, 0U) << "consumer lost a wake-up";
  EXPECT_EQ(s->host_fault, 0U) << "host rejected a well-formed descriptor";
  EXPECT_EQ(s->received, total);
  EXPECT_EQ(s->bad_seq, 0U) << "lost or reordered, first at message " << s->first_bad;
  EXPECT_EQ(s->bad_sum, 0U) << "corrupted messages";
  EXPECT_EQ(s->bad_segments, 0U) << "chains split or merged";
  EXPECT_EQ(s->extra, 0U);
  if (max_segments == 1) {
    EXPECT_EQ(s->entries, total);
  } else {
    EXPECT_GT(s->entries, total);  // some chains really had several entries
  }
  // Signal-driven: somebody slept and was woken through the protocol.
  EXPECT_GT(s->host_sleeps + s->guest_sleeps, 0U);
  EXPECT_GT(s->doorbells_rung + s->irqs_rung, 0U);
  ::testing::Test::RecordProperty("host_sleeps", std::to_string(s->host_sleeps));
  ::testing::Test::RecordProperty("guest_sleeps", std::to_string(s->guest_sleeps));
  std::printf(
      "  %llu msgs, %llu entries, ring %u: doorbells %llu rung / %llu suppressed, irqs %llu "
      "rung / %llu suppressed, sleeps host %llu guest %llu\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(s->entries), entries,
      static_cast<unsigned long long>(s->doorbells_rung),
      static_cast<unsigned long long>(s->doorbells_suppressed),
      static_cast<unsigned long long>(s->irqs_rung),
      static_cast<unsigned long long>(s->irqs_suppressed),
      static_cast<unsigned long long>(s->host_sleeps),
      static_cast<unsigned long long>(s->guest_sleeps));
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

}  // namespace
}  // namespace avm

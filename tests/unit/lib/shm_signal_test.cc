// SPDX-License-Identifier: GPL-2.0
#include "lib/shm_signal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "lib/eventfd.h"
#include "lib/region.h"

namespace avm {
namespace {

class ShmSignalTest : public ::testing::Test {
 protected:
  vbus_shm_signal raw_{};
  ShmSignal sender_{&raw_};
  ShmSignal receiver_{&raw_};
};

TEST_F(ShmSignalTest, NoNotificationWhileDisarmed) {
  // A fresh signal is disarmed (enabled == 0).
  EXPECT_FALSE(sender_.notify());
  EXPECT_FALSE(sender_.notify());
  EXPECT_TRUE(raw_.dirty);
  EXPECT_FALSE(raw_.pending);
  EXPECT_EQ(sender_.counters().sent, 0U);
  EXPECT_EQ(sender_.counters().suppressed, 2U);
}

TEST_F(ShmSignalTest, ArmReportsWorkThatArrivedWhileDisarmed) {
  EXPECT_FALSE(sender_.notify());
  EXPECT_TRUE(receiver_.arm());  // dirty: keep polling
  int passes = 0;
  receiver_.handle([&] { passes++; });
  EXPECT_EQ(passes, 1);
  EXPECT_FALSE(raw_.dirty);
  EXPECT_FALSE(receiver_.arm());  // nothing new: may sleep
}

TEST_F(ShmSignalTest, OneNotificationWhilePending) {
  EXPECT_FALSE(receiver_.arm());
  EXPECT_TRUE(sender_.notify());
  EXPECT_TRUE(raw_.pending);
  for (int i = 0; i < 10; i++) {
    EXPECT_FALSE(sender_.notify());  // one is in flight already
  }
  EXPECT_EQ(sender_.counters().sent, 1U);
  EXPECT_EQ(sender_.counters().suppressed, 10U);
  receiver_.handle([] {});
  EXPECT_FALSE(raw_.pending);
  EXPECT_FALSE(raw_.dirty);
  EXPECT_TRUE(sender_.notify());  // resumes after the handler
  EXPECT_EQ(sender_.counters().sent, 2U);
}

TEST_F(ShmSignalTest, NotificationsResumeAfterArm) {
  EXPECT_FALSE(receiver_.arm());
  EXPECT_TRUE(sender_.notify());
  receiver_.handle([] {});
  receiver_.disarm();
  EXPECT_FALSE(sender_.notify());
  EXPECT_FALSE(sender_.notify());
  EXPECT_TRUE(receiver_.arm());  // work came while polling
  receiver_.handle([] {});
  EXPECT_FALSE(receiver_.arm());
  EXPECT_TRUE(sender_.notify());
}

TEST_F(ShmSignalTest, HandleRepeatsWhileWorkIsFlagged) {
  EXPECT_FALSE(receiver_.arm());
  EXPECT_TRUE(sender_.notify());
  int passes = 0;
  receiver_.handle([&] {
    // New work (and a suppressed notification) during the first two passes.
    if (++passes <= 2) {
      EXPECT_FALSE(sender_.notify());
    }
  });
  EXPECT_EQ(passes, 3);
  EXPECT_EQ(receiver_.counters().passes, 3U);
  EXPECT_FALSE(raw_.pending);
  EXPECT_FALSE(raw_.dirty);
}

TEST_F(ShmSignalTest, ReceiverNeverWritesDirtyAsSet) {
  // The receiver only clears; a handler with no sender leaves all zero.
  receiver_.handle([] {});
  EXPECT_FALSE(raw_.dirty);
  EXPECT_FALSE(raw_.pending);
  EXPECT_FALSE(raw_.enabled);
  EXPECT_EQ(raw_.reserved, 0U);
}

// Race stress: the sender publishes one item at a time and waits until the
// receiver consumed it (ping-pong), so the receiver goes to sleep on the
// eventfd nearly every round.  The receiver sleeps only when arm() says it
// may; it mixes in polling phases (disarmed).  A lost wake-up leaves the
// receiver asleep with work pending: the bounded wait then fails the test.
struct Shared {
  vbus_shm_signal sig;
  alignas(64) uint64_t produced;
  alignas(64) uint64_t consumed;
  alignas(64) uint32_t lost;
  uint64_t sleeps;
  uint64_t wakeups_rung;
};

constexpr int kWaitMs = 10000;

uint64_t load(uint64_t& v) {
  return std::atomic_ref<uint64_t>(v).load(std::memory_order_acquire);
}

void run_sender(Shared* s, const EventFd& efd, uint64_t rounds) {
  ShmSignal sig(&s->sig);
  for (uint64_t i = 1; i <= rounds; i++) {
    std::atomic_ref<uint64_t>(s->produced).store(i, std::memory_order_release);
    if (sig.notify()) {
      efd.signal();
    }
    // Wait for the receiver; it must get there without another notify.
    while (load(s->consumed) < i) {
      if (std::atomic_ref<uint32_t>(s->lost).load(std::memory_order_relaxed) != 0) {
        return;
      }
      std::this_thread::yield();
    }
  }
  s->wakeups_rung = sig.counters().sent;
}

void run_receiver(Shared* s, const EventFd& efd, uint64_t rounds, uint64_t seed) {
  ShmSignal sig(&s->sig);
  std::mt19937_64 rng(seed);
  auto consume = [&] {
    const uint64_t p = load(s->produced);
    if (p > s->consumed) {
      std::atomic_ref<uint64_t>(s->consumed).store(p, std::memory_order_release);
    }
  };
  uint64_t sleeps = 0;
  while (load(s->consumed) < rounds) {
    sig.handle(consume);
    if (rng() % 8 == 0) {
      // Polling phase: disarmed, a short busy poll.
      sig.disarm();
      for (int i = 0; i < 50; i++) {
        sig.handle(consume);
      }
    }
    if (load(s->consumed) >= rounds) {
      break;
    }
    if (sig.arm()) {
      continue;  // work arrived while disarmed or handling
    }
    sleeps++;
    if (!efd.wait(kWaitMs)) {
      // Armed, asleep, and no notification although the sender is waiting.
      std::atomic_ref<uint32_t>(s->lost).store(1, std::memory_order_relaxed);
      break;
    }
    efd.consume();
  }
  s->sleeps = sleeps;
}

class ShmSignalRace : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Region::create("sig-race", Region::kMinSize);
    ASSERT_TRUE(r) << r.error().message;
    region_ = std::make_unique<Region>(std::move(*r));
    shared_ = region_->at<Shared>(0);
    ASSERT_NE(shared_, nullptr);
    auto e = EventFd::create();
    ASSERT_TRUE(e);
    efd_ = std::make_unique<EventFd>(std::move(*e));
  }
  std::unique_ptr<Region> region_;
  Shared* shared_ = nullptr;
  std::unique_ptr<EventFd> efd_;
};

constexpr uint64_t kRounds = 100000;

TEST_F(ShmSignalRace, NoLostWakeupTwoThreads) {
  std::thread rx([&] { run_receiver(shared_, *efd_, kRounds, 1); });
  run_sender(shared_, *efd_, kRounds);
  rx.join();
  EXPECT_EQ(shared_->lost, 0U) << "a wake-up was lost at round " << shared_->consumed;
  EXPECT_EQ(shared_->consumed, kRounds);
  // The scenario really slept and woke, many times.
  EXPECT_GT(shared_->sleeps, kRounds / 100);
  EXPECT_GT(shared_->wakeups_rung, kRounds / 100);
}

TEST_F(ShmSignalRace, NoLostWakeupTwoProcesses) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    run_receiver(shared_, *efd_, kRounds, 2);
    ::_exit(0);
  }
  run_sender(shared_, *efd_, kRounds);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(shared_->lost, 0U) << "a wake-up was lost at round " << shared_->consumed;
  EXPECT_EQ(shared_->consumed, kRounds);
  EXPECT_GT(shared_->sleeps, kRounds / 100);
}

}  // namespace
}  // namespace avm

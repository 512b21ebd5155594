// SPDX-License-Identifier: GPL-2.0
#include "bridge/bridge_runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bridge_fixture.h"
#include "fake_device.h"
#include "log_capture.h"

namespace avm::test {
namespace {

class BridgeRuntimeTest : public BridgeFixture {
 protected:
  uint32_t add_fake(FakeDevice::Log* log) {
    uint32_t id = 0;
    on_loop([&] {
      log->loop_thread = std::this_thread::get_id();
      auto r = rt_->add_device(std::make_unique<FakeDevice>(log));
      ASSERT_TRUE(r) << r.error().message;
      id = *r;
    });
    return id;
  }
  uint32_t host_state() {
    return std::atomic_ref<uint32_t>(header().host_state).load(std::memory_order_acquire);
  }
  BridgeCounters counters() {
    BridgeCounters c;
    on_loop([&] { c = rt_->counters(); });
    return c;
  }
};

TEST_F(BridgeRuntimeTest, HandshakeReachesRunAndNegotiatesFeatures) {
  EXPECT_EQ(host_state(), VBUS_STATE_READY);
  ASSERT_TRUE(guest_->handshake());
  EXPECT_EQ(host_state(), VBUS_STATE_RUN);
  EXPECT_EQ(header().guest_state, VBUS_STATE_RUN);
  EXPECT_EQ(guest_->negotiated_features(), uint64_t{VBUS_F_HOTPLUG});
  EXPECT_EQ(counters().inits, 1U);
  EXPECT_GE(rt_->event_queue().counters().interrupts, 2U);  // READY, RUN
  EXPECT_TRUE(guest_->evq_signal().enabled());
}

TEST_F(BridgeRuntimeTest, GuestWithoutFeaturesGetsNone) {
  ASSERT_TRUE(guest_->handshake(5000, 0));
  EXPECT_EQ(guest_->negotiated_features(), 0U);
}

// Found by tests/fuzz/bridge_fuzz: the host ANDed the guest's features
// with the header's host_features, which the guest can overwrite, so a
// guest could negotiate bits the host never offered.
TEST_F(BridgeRuntimeTest, GuestCannotWidenTheFeaturesTheHostOffered) {
  std::atomic_ref<__u64>(header().host_features).store(~uint64_t{0}, std::memory_order_relaxed);
  ASSERT_TRUE(guest_->handshake(5000, ~uint64_t{0}));
  EXPECT_EQ(header().guest_features, ~uint64_t{0});
  EXPECT_EQ(guest_->negotiated_features(), uint64_t{VBUS_F_HOTPLUG});
}

TEST_F(BridgeRuntimeTest, GuestReInitResetsTheLinkAndClosesDevices) {
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  ASSERT_TRUE(guest_->handshake());
  auto dev = guest_->open(id);
  ASSERT_TRUE(dev) << dev.error().message;
  EXPECT_EQ(log.opened, 1);
  // A second handshake goes RESET -> READY -> INIT -> RUN.
  ASSERT_TRUE(guest_->handshake());
  EXPECT_EQ(host_state(), VBUS_STATE_RUN);
  auto c = counters();
  EXPECT_EQ(c.inits, 2U);
  EXPECT_EQ(c.guest_resets, 1U);
  EXPECT_GE(log.closed, 1);
  bool open = true;
  on_loop([&] { open = rt_->device_open(id); });
  EXPECT_FALSE(open);
  // The event queue and the call channel restarted from zero on both sides.
  auto r = guest_->call(FakeDevice::kEcho, id, std::vector<uint8_t>{9});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->data, std::vector<uint8_t>{9});
  EXPECT_FALSE(log.wrong_thread);
}

TEST_F(BridgeRuntimeTest, GuestResetTakesHostBackToReady) {
  ASSERT_TRUE(guest_->handshake());
  guest_->reset();
  SoftGuest& g = *guest_;
  eventually([&] { return host_state() == VBUS_STATE_READY; });
  EXPECT_EQ(host_state(), VBUS_STATE_READY);
  EXPECT_TRUE(g.host_left());
}

TEST_F(BridgeRuntimeTest, HostRestartBumpsEpochAndGuestRejoins) {
  ASSERT_TRUE(guest_->handshake());
  const uint32_t e1 = header().host_epoch;
  on_loop([&] { rt_->restart(); });
  EXPECT_TRUE(guest_->host_left());
  EXPECT_EQ(header().host_epoch, e1 + 1);
  EXPECT_EQ(host_state(), VBUS_STATE_READY);
  ASSERT_TRUE(guest_->handshake());
  EXPECT_EQ(guest_->epoch(), e1 + 1);
  EXPECT_EQ(host_state(), VBUS_STATE_RUN);
  EXPECT_EQ(counters().restarts, 1U);
}

TEST_F(BridgeRuntimeTest, ShutdownThenStartBumpsEpoch) {
  ASSERT_TRUE(guest_->handshake());
  const uint32_t e1 = header().host_epoch;
  const uint64_t irqs = rt_->event_queue().counters().interrupts;
  on_loop([&] { rt_->shutdown(); });
  EXPECT_EQ(host_state(), VBUS_STATE_RESET);
  EXPECT_GT(rt_->event_queue().counters().interrupts, irqs);
  Status st;
  on_loop([&] { st = rt_->start(); });
  ASSERT_TRUE(st);
  EXPECT_EQ(host_state(), VBUS_STATE_READY);
  EXPECT_EQ(header().host_epoch, e1 + 1);
  ASSERT_TRUE(guest_->handshake());
}

// Issue 18: a guest wrote over the host's fields (the magic included) and
// left; the bridge restarted, but only bumped the epoch, and every later
// guest found "bad magic".  Every way the bridge goes back to READY -- the
// guest left (restart), the guest's RESET (a reboot), shutdown + start --
// writes every host-owned field again from the host's own records, and a
// fresh guest attaches and calls.
TEST_F(BridgeRuntimeTest, EveryRestartRewritesAScribbledRegion) {
  const uint32_t gone = add_fake(&new_log());
  const uint32_t id = add_fake(&new_log());
  on_loop([&] { ASSERT_TRUE(rt_->remove_device(gone)); });  // never opened: freed at once
  ASSERT_TRUE(guest_->handshake());
  ASSERT_TRUE(guest_->open(id));

  // What a freshly created layout of the same devices holds.
  auto fresh = Region::create("bridge-fresh", region_size_);
  ASSERT_TRUE(fresh) << fresh.error().message;
  BridgeConfig bc;
  bc.num_vectors = kVectors;
  bc.evq_entries = evq_entries_;
  auto want = BridgeLayout::create(fresh->span(), bc);
  ASSERT_TRUE(want) << want.error().message;
  FakeDevice proto(&new_log());
  for (uint32_t vector : {1U, 2U}) {
    ASSERT_TRUE(want->add_device(proto.type(), proto.abi_version(), proto.initial_config(),
                                 proto.queue_specs(), vector));
  }
  ASSERT_TRUE(want->remove_device(gone));
  ASSERT_EQ(want->device_ids(), std::vector<uint32_t>{id});

  const std::vector<std::pair<std::string, std::function<void()>>> restarts = {
      {"guest left", [&] { on_loop([&] { rt_->restart(); }); }},
      {"guest RESET",
       [&] {
         guest_->reset();
         ASSERT_TRUE(eventually([&] {
           uint32_t st = 0;
           on_loop([&] { st = rt_->host_state(); });
           return st == VBUS_STATE_READY;
         }));
       }},
      {"shutdown and start",
       [&] {
         on_loop([&] {
           rt_->shutdown();
           ASSERT_TRUE(rt_->start());
         });
       }},
  };
  std::mt19937 rng(18);
  for (const bool random : {false, true}) {
    for (const auto& [how, restart] : restarts) {
      SCOPED_TRACE(how + (random ? ", random bytes" : ", zeros"));
      // Everything a guest can reach.
      std::span<uint8_t> all = region_->span();
      for (uint8_t& b : all) {
        b = random ? static_cast<uint8_t>(rng()) : 0;
      }
      restart();
      EXPECT_EQ(host_state(), VBUS_STATE_READY);
      uint32_t epoch = 0;
      on_loop([&] { epoch = rt_->host_epoch(); });
      want->header().host_epoch = epoch;
      for (const HostBytes& r : host_owned(*want)) {
        EXPECT_EQ(std::memcmp(region_->data() + r.off, fresh->data() + r.off, r.len), 0)
            << r.what << " differs from a fresh layout's";
      }
      // A fresh guest (a new VM, or the rebooted one) attaches and calls.
      guest_ = std::make_unique<SoftGuest>(
          region_->span(), [this](uint32_t v) { doorbells_.at(v).signal(); }, &*irq_);
      auto ok = guest_->handshake();
      ASSERT_TRUE(ok) << ok.error().message;
      auto dev = guest_->open(id);
      ASSERT_TRUE(dev) << dev.error().message;
      EXPECT_EQ((*dev)->read_config(), proto.initial_config());
      auto r = guest_->call(FakeDevice::kEcho, id, std::vector<uint8_t>{1, 8});
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(r->status, 0U);
      EXPECT_EQ(r->data, (std::vector<uint8_t>{1, 8}));
    }
  }
}

TEST_F(BridgeRuntimeTest, InitWithAStaleEpochIsIgnored) {
  ASSERT_TRUE(guest_->probe());
  header().guest_epoch = header().host_epoch + 7;
  std::atomic_ref<uint32_t>(header().guest_state).store(VBUS_STATE_INIT);
  doorbells_[0].signal();
  eventually([&] { return counters().stale_inits != 0; });
  EXPECT_EQ(counters().stale_inits, 1U);
  EXPECT_EQ(host_state(), VBUS_STATE_READY);
}

TEST_F(BridgeRuntimeTest, GarbageGuestStateIsCountedNotFatal) {
  ASSERT_TRUE(guest_->handshake());
  std::atomic_ref<uint32_t>(header().guest_state).store(0xdeadbeef);
  on_loop([&] { rt_->on_doorbell(); });
  // At least ours; the RUN doorbell of the handshake may see the garbage too.
  EXPECT_GE(counters().bad_guest_state, 1U);
  EXPECT_EQ(host_state(), VBUS_STATE_RUN);
  // The link still works once the guest behaves again.
  std::atomic_ref<uint32_t>(header().guest_state).store(VBUS_STATE_RUN);
  auto r = guest_->call(VBUS_CALL_DEV_OPEN, 999);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, uint32_t{ENODEV});
}

TEST_F(BridgeRuntimeTest, CallChannelAnswersGoodAndBadRequests) {
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  ASSERT_TRUE(guest_->handshake());
  auto ev = guest_->wait_event([&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_ADD; }, 50);
  EXPECT_FALSE(ev.has_value()) << "device added before RUN: no event, the guest scans";

  auto open = guest_->call(VBUS_CALL_DEV_OPEN, id);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 0U);
  EXPECT_EQ(log.opened, 1);
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  auto echo = guest_->call(FakeDevice::kEcho, id, payload);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 0U);
  EXPECT_EQ(echo->data, payload);
  auto fail = guest_->call(FakeDevice::kFail, id);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->status, uint32_t{EPERM});

  auto unknown = guest_->call(7, id);  // below the class range, not a bridge op
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, uint32_t{EOPNOTSUPP});
  auto bad_dev = guest_->call(FakeDevice::kEcho, 4242);
  ASSERT_TRUE(bad_dev);
  EXPECT_EQ(bad_dev->status, uint32_t{ENODEV});
  auto bridge_op = guest_->call(VBUS_CALL_DEV_OPEN, 0);
  ASSERT_TRUE(bridge_op);
  EXPECT_EQ(bridge_op->status, uint32_t{EOPNOTSUPP});
  auto too_long = guest_->call_raw(FakeDevice::kEcho, id, VBUS_CALL_DATA_SIZE + 1, payload);
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, uint32_t{EINVAL});
  auto huge = guest_->call_raw(FakeDevice::kEcho, id, 0xffffffffU, payload);
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, uint32_t{EINVAL});
  EXPECT_EQ(log.calls, 2);  // echo and fail only: the bad ones never reached it

  CallCounters cc;
  on_loop([&] { cc = rt_->call_server().counters(); });
  EXPECT_EQ(cc.calls, 8U);
  EXPECT_EQ(cc.bad_len, 2U);
  EXPECT_EQ(cc.errors, 6U);
  // Every answer was announced.
  guest_->events().clear();
  auto again = guest_->call(FakeDevice::kEcho, id);
  ASSERT_TRUE(again);
  auto done = guest_->wait_event([](const GuestEvent& e) { return e.type == VBUS_EV_CALL_DONE; });
  EXPECT_TRUE(done.has_value());
  EXPECT_FALSE(log.wrong_thread);
}

TEST_F(BridgeRuntimeTest, DeviceTableAndHotplugEvents) {
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  auto ev = guest_->wait_event([&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_ADD; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->dev_id, id);
  auto d = guest_->find_device(id);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->type, 0x77U);
  EXPECT_EQ(d->abi_version, 3U);
  EXPECT_EQ(d->num_queues, 2U);
  EXPECT_EQ(d->doorbell_vector, log.ctx.doorbell_vector);
  EXPECT_NE(d->doorbell_vector, 0U);
  EXPECT_EQ(log.ctx.doorbell, &doorbells_[d->doorbell_vector]);
  auto dev = guest_->open(id);
  ASSERT_TRUE(dev);
  EXPECT_EQ((*dev)->read_config(), (std::vector<uint8_t>{1, 2, 3, 4}));

  on_loop([&] { rt_->config_changed(id); });
  ev = guest_->wait_event([&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_CONFIG; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->dev_id, id);
}

TEST_F(BridgeRuntimeTest, RemovingAnOpenDeviceWaitsForTheGuestsClose) {
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  auto dev = guest_->open(id);
  ASSERT_TRUE(dev);
  on_loop([&] { ASSERT_TRUE(rt_->remove_device(id)); });
  auto ev = guest_->wait_event([&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_REMOVE; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->dev_id, id);
  auto d = guest_->find_device(id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->state, uint32_t{VBUS_DEV_REMOVING});
  EXPECT_EQ(log.detached, 0);
  ASSERT_TRUE(guest_->close(id));
  EXPECT_EQ(log.detached, 1);
  EXPECT_FALSE(guest_->find_device(id).has_value());
  EXPECT_EQ(counters().devices_removed, 1U);
}

TEST_F(BridgeRuntimeTest, RemovingANeverOpenedDeviceFreesItAtOnce) {
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  on_loop([&] { ASSERT_TRUE(rt_->remove_device(id)); });
  EXPECT_EQ(log.detached, 1);
  EXPECT_FALSE(guest_->find_device(id).has_value());
  Device* d = reinterpret_cast<Device*>(1);
  on_loop([&] { d = rt_->device(id); });
  EXPECT_EQ(d, nullptr);
}

TEST_F(BridgeRuntimeTest, GuestReInitFinishesPendingRemovals) {
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  ASSERT_TRUE(guest_->open(id));
  on_loop([&] { ASSERT_TRUE(rt_->remove_device(id)); });
  ASSERT_TRUE(guest_->handshake());  // the guest forgot the device
  EXPECT_EQ(log.detached, 1);
  EXPECT_FALSE(guest_->find_device(id).has_value());
}

TEST_F(BridgeRuntimeTest, AFaultQuarantinesOnTheLoopThread) {
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  ASSERT_TRUE(guest_->open(id));
  // As an I/O thread would: from another thread.
  std::thread([&] { rt_->report_fault(id, Error{EPROTO, "test fault"}); }).join();
  eventually([&] { return log.quarantined != 0; });
  EXPECT_EQ(log.quarantined, 1);
  EXPECT_FALSE(log.wrong_thread);
  EXPECT_EQ(counters().device_faults, 1U);
  auto r = guest_->call(FakeDevice::kEcho, id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, uint32_t{EIO});
  // Re-opening clears the quarantine.
  ASSERT_TRUE(guest_->open(id));
  r = guest_->call(FakeDevice::kEcho, id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0U);
}

// The capture is a member: installed before SetUp() starts the loop.
class BridgeLogTest : public BridgeRuntimeTest {
 protected:
  LogCapture log_;
};

TEST_F(BridgeLogTest, FaultLinesNameTheInstanceAndTheDeviceAndAreThrottled) {
  on_loop([&] { rt_->set_log_name("vm7"); });
  const size_t unnamed = log_.lines().size();  // SetUp()'s start, before the name
  ASSERT_TRUE(guest_->handshake());
  FakeDevice::Log& log = new_log();
  const uint32_t id = add_fake(&log);
  ASSERT_TRUE(guest_->open(id));
  // The device logs through the same prefix (DeviceHost::log_prefix()).
  std::string device_prefix;
  on_loop([&] { device_prefix = log.ctx.host->log_prefix(); });
  EXPECT_EQ(device_prefix, "vm7: ");
  fault_storm(id, kLogStorm);
  ASSERT_TRUE(eventually([&] { return log.quarantined == kLogStorm; }));
  EXPECT_EQ(counters().device_faults, uint64_t{kLogStorm});
  const std::string line =
      "vm7: bridge: device " + std::to_string(id) + " (fake) quarantined: storm";
  expect_throttled(log_.lines("quarantined"), line);
  // Every line of the runtime since names the instance.
  const auto all = log_.lines();
  ASSERT_GT(all.size(), unnamed + 12);
  for (size_t i = unnamed; i < all.size(); i++) {
    EXPECT_EQ(all[i].rfind("vm7: bridge: ", 0), 0U) << all[i];
  }
}

TEST_F(BridgeLogTest, EventQueueLinesNameTheInstance) {
  on_loop([&] { rt_->set_log_name("vm8"); });
  ASSERT_TRUE(guest_->handshake());
  const uint32_t id = add_fake(&new_log());
  ASSERT_TRUE(guest_->open(id));
  const uint32_t produced = rt_->event_queue().produced();
  // The guest's consumed index, far ahead of what the host produced.
  auto* evq = reinterpret_cast<vbus_evq_header*>(region_->span().data() +
                                                 header().evq_offset);  // NOLINT: our region
  std::atomic_ref<uint32_t>(evq->consumed).store(produced + 0x40000000U, std::memory_order_release);
  EXPECT_FALSE(rt_->event_queue().post(VBUS_EV_SIGNAL, id, 0));
  EXPECT_EQ(rt_->event_queue().counters().bad_consumed, 1U);
  const auto lines = log_.lines("guest wrote event queue consumed");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].rfind("vm8: bridge: ", 0), 0U) << lines[0];
}

TEST_F(BridgeRuntimeTest, OutOfVectorsIsENOSPC) {
  for (uint32_t i = 1; i < kVectors; i++) {
    add_fake(&new_log());
  }
  FakeDevice::Log& extra = new_log();
  Result<uint32_t> r;
  on_loop([&] { r = rt_->add_device(std::make_unique<FakeDevice>(&extra)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOSPC);
}

}  // namespace
}  // namespace avm::test

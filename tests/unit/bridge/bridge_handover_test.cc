// SPDX-License-Identifier: GPL-2.0
// Bridge hand-over: a runtime in RUN with an open device is quiesced,
// exported and abandoned; a second runtime adopts the region, the records
// and a new device object, and the software guest goes on (calls, events)
// without a reset: no RESET, no new epoch, no DEV_OPEN.  Bad states are
// refused.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "bridge_fixture.h"

namespace avm::test {
namespace {

// A FakeDevice that can pause and continue.
class Resumable : public FakeDevice {
 public:
  Resumable(Log* log, std::atomic<int>* resumed, int position)
      : FakeDevice(log), resumed_(resumed), position_(position) {}
  Status quiesce() override { return {}; }
  nlohmann::json runtime_state() const override { return {{"position", position_}}; }
  Status resume(const nlohmann::json& state) override {
    if (!state.contains("position") || state["position"] != position_) {
      return make_error(EINVAL, "wrong position");
    }
    (*resumed_)++;
    return {};
  }

 private:
  std::atomic<int>* resumed_;
  int position_;
};

class BridgeHandover : public BridgeFixture {
 protected:
  // RUN, one open device, a call answered.
  uint32_t bring_up() {
    Result<uint32_t> id = make_error(EIO, "");
    on_loop([&] { id = rt_->add_device(std::make_unique<Resumable>(&new_log(), &resumed_, 7)); });
    EXPECT_TRUE(id);
    EXPECT_TRUE(guest_->handshake());
    auto dev = guest_->open(*id);
    EXPECT_TRUE(dev) << dev.error().message;
    echo(*id);
    return *id;
  }

  void echo(uint32_t id) {
    const std::vector<uint8_t> req = {9, 8, 7};
    auto r = guest_->call(FakeDevice::kEcho, id, req);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 0U);
    EXPECT_EQ(r->data, req);
  }

  // Quiesces and exports the running runtime, stops its loop and lets it
  // go; returns the state (through text, as on the wire).
  nlohmann::json export_and_abandon() {
    Result<nlohmann::json> state = make_error(EIO, "");
    on_loop([&] {
      ASSERT_TRUE(rt_->quiesce());
      state = rt_->export_state();
    });
    EXPECT_TRUE(state) << state.error().message;
    loop_->request_stop();
    thread_.join();
    rt_->abandon();
    rt_.reset();
    return nlohmann::json::parse(state->dump());
  }

  // A runtime on a new loop from @state, serving.
  Status adopt(const nlohmann::json& state, uint32_t id, int position = 7) {
    auto loop = EventLoop::create();
    EXPECT_TRUE(loop);
    loop_ = std::move(*loop);
    std::map<uint32_t, std::unique_ptr<Device>> devs;
    devs[id] = std::make_unique<Resumable>(&new_log(), &resumed_, position);
    auto rt = BridgeRuntime::adopt(region_->span(), state, *loop_, doorbells_, std::move(devs));
    if (!rt) {
      return tl::unexpected(rt.error());
    }
    rt_ = std::move(*rt);
    UniqueFd sink(::fcntl(irq_->fd(), F_DUPFD_CLOEXEC, 0));
    rt_->event_queue().set_sink_fd(std::move(sink));
    if (auto ok = rt_->resume(); !ok) {
      return ok;
    }
    thread_ = std::thread([this] { loop_->run(); });
    loop_->wait_running();
    return {};
  }

  std::atomic<int> resumed_{0};
};

TEST_F(BridgeHandover, GuestGoesOnWithoutAReset) {
  const uint32_t id = bring_up();
  const uint32_t epoch = header().host_epoch;
  const int closed = logs_.front().closed.load();  // the INIT closes devices once
  echo(id);
  EventQueueCounters evq0;
  CallCounters calls0;
  on_loop([&] {
    evq0 = rt_->event_queue().counters();
    calls0 = rt_->call_server().counters();
  });
  ASSERT_GT(evq0.posted, 0U);
  ASSERT_GT(calls0.calls, 0U);
  nlohmann::json state = export_and_abandon();
  // Abandoning wrote nothing and closed nothing: the guest still sees RUN.
  EXPECT_EQ(header().host_state, uint32_t{VBUS_STATE_RUN});
  EXPECT_EQ(logs_.front().closed.load(), closed);
  EXPECT_EQ(state["host_state"], VBUS_STATE_RUN);

  auto ok = adopt(state, id);
  ASSERT_TRUE(ok) << ok.error().message;
  // The new object continued the device: resumed at its position, never
  // opened (an open would reset the queues under the guest).
  EXPECT_EQ(resumed_.load(), 1);
  EXPECT_EQ(logs_.back().opened.load(), 0);
  EXPECT_EQ(logs_.back().attached.load(), 1);
  bool open = false;
  on_loop([&] { open = rt_->device_open(id); });
  EXPECT_TRUE(open);
  // Calls and their completion events continue where they were.
  for (int i = 0; i < 3; i++) {
    echo(id);
  }
  EXPECT_FALSE(guest_->host_left());
  EXPECT_EQ(header().host_state, uint32_t{VBUS_STATE_RUN});
  EXPECT_EQ(header().host_epoch, epoch);
  BridgeCounters c;
  on_loop([&] { c = rt_->counters(); });
  EXPECT_EQ(c.inits, 1U);  // carried over, not a second INIT
  EXPECT_EQ(c.restarts, 0U);
  EXPECT_EQ(c.devices_added, 1U);
  // The event queue's and call channel's counters go on from where they
  // were: three more calls, each with its completion event.
  EventQueueCounters evq;
  CallCounters calls;
  on_loop([&] {
    evq = rt_->event_queue().counters();
    calls = rt_->call_server().counters();
  });
  EXPECT_EQ(calls.calls, calls0.calls + 3);
  EXPECT_GE(evq.posted, evq0.posted + 3);
  EXPECT_GE(evq.interrupts + evq.suppressed, evq0.interrupts + evq0.suppressed);
}

// Every counter of the bridge, its event queue and its call channel
// (bridge_counters.h's tables, walked: a new one needs no test edit)
// goes on from the handed-over value in the adopting runtime.
TEST_F(BridgeHandover, EveryCounterGoesOnFromTheHandedOverValue) {
  const uint32_t id = bring_up();
  nlohmann::json state = export_and_abandon();
  uint64_t v = 1000003;
  auto fill = [&v](nlohmann::json& obj, const auto& table) {
    for (const auto& f : table) {
      obj[std::string(f.name)] = v += 1000003;
    }
  };
  fill(state["counters"], kBridgeStats);
  fill(state["evq_counters"], kEventQueueStats);
  fill(state["call_counters"], kCallStats);
  auto ok = adopt(state, id);
  ASSERT_TRUE(ok) << ok.error().message;
  BridgeCounters b;
  EventQueueCounters e;
  CallCounters c;
  on_loop([&] {
    b = rt_->counters();
    e = rt_->event_queue().counters();
    c = rt_->call_server().counters();
  });
  auto expect_continued = [](const nlohmann::json& from, const auto& got, const auto& table) {
    for (const auto& f : table) {
      EXPECT_GE(got.*f.member, from[std::string(f.name)].template get<uint64_t>()) << f.name;
    }
  };
  expect_continued(state["counters"], b, kBridgeStats);
  expect_continued(state["evq_counters"], e, kEventQueueStats);
  expect_continued(state["call_counters"], c, kCallStats);
}

TEST_F(BridgeHandover, TheLogNameIsHandedOver) {
  on_loop([&] { rt_->set_log_name("vm9"); });
  const uint32_t id = bring_up();
  nlohmann::json state = export_and_abandon();
  EXPECT_EQ(state["log_name"], "vm9");
  ASSERT_TRUE(adopt(state, id));
  std::string name;
  std::string device_prefix;
  on_loop([&] {
    name = rt_->log_name();
    device_prefix = logs_.back().ctx.host->log_prefix();
  });
  EXPECT_EQ(name, "vm9");
  EXPECT_EQ(device_prefix, "vm9: ");
}

TEST_F(BridgeHandover, AReadyBridgeIsAdoptedAsReady) {
  Result<uint32_t> id = make_error(EIO, "");
  on_loop([&] { id = rt_->add_device(std::make_unique<Resumable>(&new_log(), &resumed_, 7)); });
  ASSERT_TRUE(id);
  nlohmann::json state = export_and_abandon();
  ASSERT_TRUE(adopt(state, *id));
  EXPECT_EQ(resumed_.load(), 0);  // never opened: nothing to resume
  // The guest arrives after the hand-over and gets the device.
  ASSERT_TRUE(guest_->handshake());
  ASSERT_TRUE(guest_->open(*id));
  echo(*id);
}

TEST_F(BridgeHandover, ADeviceThatCannotResumeIsQuarantined) {
  const uint32_t id = bring_up();
  nlohmann::json state = export_and_abandon();
  ASSERT_TRUE(adopt(state, id, /*position=*/8));  // disagrees with the state
  EXPECT_TRUE(eventually([&] {
    bool q = false;
    on_loop([&] { q = rt_->device_quarantined(id); });
    return q;
  }));
  EXPECT_EQ(logs_.back().quarantined.load(), 1);
}

// Issue 18: nothing is read back from the region.  A guest that wrote
// over the host's fields (the magic included) while the host changed
// hands no longer gets the hand-over refused: the new host writes every
// host-owned field again from the state it was handed, and the guest goes
// on.
TEST_F(BridgeHandover, ResumeRewritesTheHostFieldsFromTheHandedOverState) {
  const uint32_t id = bring_up();
  const uint32_t generation = header().devtab_generation;
  std::vector<HostBytes> host;
  on_loop([&] { host = host_owned(rt_->layout()); });
  // Not the config area: the open device goes on with its own.
  std::erase_if(host, [](const HostBytes& r) { return r.what.ends_with(" config"); });
  const std::vector<uint8_t> want(region_->data(), region_->data() + region_->size());
  nlohmann::json state = export_and_abandon();
  EXPECT_EQ(state["features"], uint64_t{VBUS_F_HOTPLUG});
  EXPECT_EQ(state["devtab_generation"], generation);
  std::mt19937 rng(18);
  for (const HostBytes& r : host) {
    for (uint64_t i = r.off; i < r.off + r.len; i++) {
      region_->data()[i] = static_cast<uint8_t>(rng());
    }
  }
  ASSERT_NE(header().magic, VBUS_MAGIC);
  auto ok = adopt(state, id);
  ASSERT_TRUE(ok) << ok.error().message;
  for (const HostBytes& r : host) {
    EXPECT_EQ(std::memcmp(region_->data() + r.off, want.data() + r.off, r.len), 0) << r.what;
  }
  EXPECT_FALSE(guest_->host_left());
  echo(id);
}

TEST_F(BridgeHandover, BadStatesAreRefused) {
  const uint32_t id = bring_up();
  const nlohmann::json good = export_and_abandon();
  auto refused = [&](const nlohmann::json& s, std::map<uint32_t, std::unique_ptr<Device>> devs) {
    auto loop = EventLoop::create();
    auto rt = BridgeRuntime::adopt(region_->span(), s, **loop, doorbells_, std::move(devs));
    if (rt) {
      (*rt)->abandon();
    }
    return !rt;
  };
  auto one = [&] {
    std::map<uint32_t, std::unique_ptr<Device>> d;
    d[id] = std::make_unique<Resumable>(&new_log(), &resumed_, 7);
    return d;
  };
  EXPECT_TRUE(refused(good, {}));  // no object for the device
  nlohmann::json s = good;
  s["host_state"] = 9;
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["devices"][0]["slot"] = 100000;
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["devices"][0]["area_offset"] = 4096;  // over the fixed tables
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["devices"][0]["queues"][0][0] = 3;  // not a power of two
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["answered"] = {1};  // call slot count differs
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s.erase("evq");
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["version"] = 2;
  EXPECT_TRUE(refused(s, one()));
  s = good;
  s["log_name"] = "vm1\nFAKE: bridge: forged line";  // goes into every log line
  EXPECT_TRUE(refused(s, one()));
  s["log_name"] = 7;
  EXPECT_TRUE(refused(s, one()));
  // The good state still works after all that.
  auto ok = adopt(good, id);
  ASSERT_TRUE(ok) << ok.error().message;
  echo(id);
}

}  // namespace
}  // namespace avm::test

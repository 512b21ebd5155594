// SPDX-License-Identifier: GPL-2.0
// A bridge runtime on its own loop thread, a region, peer 0's doorbell
// eventfds and a software guest whose vector-0 interrupt is an eventfd.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bridge/bridge_runtime.h"
#include "bridge/event_loop.h"
#include "fake_device.h"
#include "lib/region.h"
#include "testing/soft_guest.h"

namespace avm::test {

// The region's host-owned bytes, where @layout says they are (its header
// is read: call it while the host's fields are intact, or on a fresh
// layout): header lines 0 and 1, the device table, each device's config
// and queue table.
struct HostBytes {
  std::string what;
  uint64_t off;
  uint64_t len;
};
inline std::vector<HostBytes> host_owned(const BridgeLayout& layout) {
  const vbus_bridge_header& h = layout.header();
  std::vector<HostBytes> out = {
      {"header lines 0 and 1", 0, offsetof(vbus_bridge_header, guest_state)},
      {"device table", h.devtab_offset, uint64_t{h.devtab_slots} * sizeof(vbus_dev_desc)},
  };
  for (uint32_t id : layout.device_ids()) {
    const DeviceInfo& d = *layout.device(id);
    const std::string dev = "device " + std::to_string(id);
    out.push_back({dev + " config", d.area_offset + d.layout.config_offset, d.layout.config_size});
    out.push_back({dev + " queue table", d.area_offset + d.layout.queues_offset,
                   d.layout.queues.size() * sizeof(vbus_queue_desc)});
  }
  return out;
}

class BridgeFixture : public ::testing::Test {
 protected:
  static constexpr uint32_t kVectors = 4;

  void SetUp() override {
    auto region = Region::create("bridge-test", region_size_);
    ASSERT_TRUE(region) << region.error().message;
    region_.emplace(std::move(*region));
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
    for (uint32_t v = 0; v < kVectors; v++) {
      auto e = EventFd::create();
      ASSERT_TRUE(e);
      doorbells_.push_back(std::move(*e));
    }
    auto irq = EventFd::create();
    ASSERT_TRUE(irq);
    irq_.emplace(std::move(*irq));
    BridgeConfig bc;
    bc.num_vectors = kVectors;
    bc.evq_entries = evq_entries_;
    auto rt = BridgeRuntime::create(region_->span(), bc, *loop_, doorbells_);
    ASSERT_TRUE(rt) << rt.error().message;
    rt_ = std::move(*rt);
    UniqueFd sink(::fcntl(irq_->fd(), F_DUPFD_CLOEXEC, 0));
    ASSERT_TRUE(sink.valid());
    rt_->event_queue().set_sink_fd(std::move(sink));
    ASSERT_TRUE(rt_->start());
    thread_ = std::thread([this] { loop_->run(); });
    loop_->wait_running();
    guest_ = std::make_unique<SoftGuest>(
        region_->span(), [this](uint32_t v) { doorbells_.at(v).signal(); }, &*irq_);
  }

  void TearDown() override {
    if (thread_.joinable()) {
      on_loop([&] { rt_.reset(); });
      loop_->request_stop();
      thread_.join();
    }
  }

  // Runs @f on the loop thread and waits for it.
  template <class F>
  void on_loop(F&& f) {
    loop_->run_sync(std::forward<F>(f));
  }

  // @n fault reports for device @id, as a guest faulting and re-opening
  // at will makes them; each quarantines it (while it stays open).
  void fault_storm(uint32_t id, int n) {
    on_loop([&] {
      for (int i = 0; i < n; i++) {
        rt_->report_fault(id, Error{EPROTO, "storm"});
      }
    });
  }

  // Fake device logs live as long as the fixture (devices outlive tests).
  FakeDevice::Log& new_log() { return logs_.emplace_back(); }

  // Polls @pred every millisecond for up to five seconds.
  static bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 5000; i++) {
      if (pred()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
  }

  vbus_bridge_header& header() { return *reinterpret_cast<vbus_bridge_header*>(region_->data()); }

  uint32_t evq_entries_ = 256;
  uint64_t region_size_ = uint64_t{1} << 20;
  std::optional<Region> region_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<EventFd> doorbells_;
  std::optional<EventFd> irq_;
  std::unique_ptr<BridgeRuntime> rt_;
  std::thread thread_;
  std::unique_ptr<SoftGuest> guest_;
  std::deque<FakeDevice::Log> logs_;
};

}  // namespace avm::test

// SPDX-License-Identifier: GPL-2.0
// A bridge runtime for fuzz targets: one region (a heap buffer, so ASan
// sees writes past it), peer 0's doorbell eventfds and an event loop that
// is never run by a thread (the target calls on_doorbell() itself and
// runs posted tasks with run_once(0)), plus FuzzDevice, a device class
// that records what the runtime did to it and answers two class calls.
#pragma once

#include <bridge/bridge_runtime.h>
#include <bridge/event_loop.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <vector>

#include "fuzz_util.h"

namespace avm::fuzz {

class FuzzDevice : public Device {
 public:
  static constexpr uint32_t kEcho = VBUS_CALL_CLASS_BASE;      // answers its request
  static constexpr uint32_t kFail = VBUS_CALL_CLASS_BASE + 1;  // answers EPERM
  static constexpr uint32_t kConfigSize = 16;

  uint32_t type() const override { return 0x7f; }
  uint32_t abi_version() const override { return 1; }
  std::string name() const override { return "fuzz"; }
  std::vector<uint8_t> initial_config() const override {
    return std::vector<uint8_t>(kConfigSize, 0xa5);
  }
  std::vector<QueueSpec> queue_specs() const override { return {{4, 64}, {2, 128}}; }
  Status attach(const DeviceContext& ctx) override {
    FUZZ_CHECK(!attached && ctx.queues.size() == 2 && ctx.config.size() == kConfigSize);
    FUZZ_CHECK(ctx.host != nullptr);
    attached = true;
    host = ctx.host;
    return {};
  }
  Status open() override {
    FUZZ_CHECK(attached);
    opened = true;
    opens++;
    return {};
  }
  void close() override { opened = false; }
  CallResult call(uint32_t op, std::span<const uint8_t> req) override {
    FUZZ_CHECK(attached && req.size() <= VBUS_CALL_DATA_SIZE);
    if (op == kEcho) {
      return CallResult{0, {req.begin(), req.end()}};
    }
    if (op == kFail) {
      return CallResult{EPERM, {}};
    }
    return CallResult{EOPNOTSUPP, {}};
  }
  void quarantine(const Error& /*why*/) override { quarantines++; }
  void detach() override {
    FUZZ_CHECK(attached && !opened);  // the runtime closes before it detaches
    attached = false;
  }

  DeviceHost* host = nullptr;  // as attached: faults go here, as from an I/O thread
  bool attached = false;
  bool opened = false;
  int opens = 0;
  int quarantines = 0;
};

class BridgeHarness {
 public:
  static constexpr uint32_t kVectors = 4;
  static constexpr size_t kRegionSize = size_t{64} << 10;

  BridgeHarness() : region_(kRegionSize) {
    spdlog::set_level(spdlog::level::off);
    auto loop = EventLoop::create();
    FUZZ_CHECK(loop.has_value());
    loop_ = std::move(*loop);
    for (uint32_t v = 0; v < kVectors; v++) {
      auto e = EventFd::create();
      FUZZ_CHECK(e.has_value());
      doorbells_.push_back(std::move(*e));
    }
  }

  // A fresh, started runtime over a zeroed region.
  std::unique_ptr<BridgeRuntime> runtime(BridgeConfig bc) {
    std::memset(region_.data(), 0, region_.size());
    bc.num_vectors = kVectors;
    auto rt = BridgeRuntime::create(region_.span(), bc, *loop_, doorbells_);
    FUZZ_CHECK(rt.has_value());
    FUZZ_CHECK((*rt)->start().has_value());
    return std::move(*rt);
  }

  // Runs the tasks posted to the loop (fault reports).
  void run_tasks() { loop_->run_once(0); }

  vbus_bridge_header& header() const {
    return *reinterpret_cast<vbus_bridge_header*>(region_.data());  // NOLINT: the region start
  }
  std::span<uint8_t> region() const { return region_.span(); }

 private:
  Buffer region_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<EventFd> doorbells_;
};

}  // namespace avm::fuzz

// SPDX-License-Identifier: GPL-2.0
// A Device for bridge tests: records the hooks the runtime calls and the
// thread they ran on, answers class call 0x100 with its request (echo) and
// 0x101 with EPERM.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bridge/device.h"

namespace avm::test {

class FakeDevice : public Device {
 public:
  static constexpr uint32_t kEcho = VBUS_CALL_CLASS_BASE;
  static constexpr uint32_t kFail = VBUS_CALL_CLASS_BASE + 1;

  struct Log {
    std::atomic<int> attached{0}, opened{0}, closed{0}, quarantined{0}, detached{0}, calls{0};
    std::atomic<bool> wrong_thread{false};
    std::thread::id loop_thread;
    DeviceContext ctx;
  };

  explicit FakeDevice(Log* log) : log_(log) {}

  uint32_t type() const override { return 0x77; }
  uint32_t abi_version() const override { return 3; }
  std::string name() const override { return "fake"; }
  std::vector<uint8_t> initial_config() const override { return {1, 2, 3, 4}; }
  std::vector<QueueSpec> queue_specs() const override { return {{8, 256}, {8, 256}}; }

  Status attach(const DeviceContext& ctx) override {
    check_thread();
    log_->ctx = ctx;
    log_->attached++;
    return {};
  }
  Status open() override {
    check_thread();
    log_->opened++;
    return {};
  }
  void close() override {
    check_thread();
    log_->closed++;
  }
  CallResult call(uint32_t op, std::span<const uint8_t> req) override {
    check_thread();
    log_->calls++;
    if (op == kEcho) {
      return CallResult{0, {req.begin(), req.end()}};
    }
    if (op == kFail) {
      return CallResult{EPERM, {}};
    }
    return CallResult{EOPNOTSUPP, {}};
  }
  void quarantine(const Error&) override {
    check_thread();
    log_->quarantined++;
  }
  void detach() override {
    check_thread();
    log_->detached++;
  }

 private:
  void check_thread() {
    if (log_->loop_thread != std::thread::id() && log_->loop_thread != std::this_thread::get_id()) {
      log_->wrong_thread = true;
    }
  }
  Log* log_;
};

}  // namespace avm::test

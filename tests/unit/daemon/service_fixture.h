// SPDX-License-Identifier: GPL-2.0
// The fixture of the in-process Service tests (ServiceThreadsTest,
// ServiceHandoverTest, LegacyHandoverTest): a temporary folder per test,
// removed after it, holding the control socket and the state dir that
// opts_ names, and the config file's instance "cfg1" (1 MiB, 2 vectors)
// for the tests that want a config object next to the API's.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "daemon/service.h"

namespace avm::test {

class ServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-svc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opts_.config.daemon.control_socket = path("control.sock");
    opts_.config.daemon.state_dir = path("state");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // @name inside the test's folder.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The config file's instance cfg1: 1 MiB, 2 vectors.
  static InstanceSpec config_instance() {
    InstanceSpec cfg;
    cfg.name = "cfg1";
    cfg.region_size = kRegionSize;
    cfg.vectors = kVectors;
    cfg.origin = Origin::kConfig;
    return cfg;
  }
  void add_config_instance() { opts_.config.instances.push_back(config_instance()); }

  // The size and vectors of every instance these tests make.
  static constexpr uint64_t kRegionSize = uint64_t{1} << 20;
  static constexpr unsigned kVectors = 2;

  std::string dir_;
  ServiceOptions opts_;
};

}  // namespace avm::test

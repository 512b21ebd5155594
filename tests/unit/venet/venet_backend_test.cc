// SPDX-License-Identifier: GPL-2.0
// Backend choice of a venet device (VenetConfig::backend) where the module
// cannot serve it: a missing node, or a node that is not vbus_host's.
// kernel is refused at attach with the reason (nothing added); auto falls
// back to the userspace backend, says why, and moves packets.  The module
// itself is tested in a VM (tests/system/test_host_module.py).
#include <gtest/gtest.h>

#include "venet/venet_device.h"
#include "venet_fixture.h"

namespace avm::test {
namespace {

using VenetBackendTest = VenetFixture;

TEST(VenetBackendNames, ParseAndPrint) {
  for (VenetBackend b : {VenetBackend::kUser, VenetBackend::kKernel, VenetBackend::kAuto}) {
    EXPECT_EQ(parse_venet_backend(to_string(b)), b);
  }
  EXPECT_FALSE(parse_venet_backend(""));
  EXPECT_FALSE(parse_venet_backend("Kernel"));
  EXPECT_FALSE(parse_venet_backend("vhost"));
}

TEST_F(VenetBackendTest, KernelWithoutTheModuleIsRefusedAtAttach) {
  for (const char* node : {"/nonexistent/alacrityvm-host", "/dev/null"}) {
    VenetConfig cfg;
    cfg.backend = VenetBackend::kKernel;
    cfg.kernel_device = node;
    cfg.tap_name = "avmkb0";
    std::optional<Tap> t;
    ASSERT_TRUE(ns_->run([&] {
      if (auto r = Tap::open(cfg.tap_name)) {
        t.emplace(std::move(*r));
      }
    }));
    ASSERT_TRUE(t.has_value());
    auto dev = VenetDevice::create(cfg, std::move(*t));
    ASSERT_TRUE(dev) << dev.error().message;
    (*dev)->bind_region(rt_->layout(), *region_);
    Status ok;
    on_loop([&] {
      auto id = rt_->add_device(std::move(*dev));
      ok = id ? Status{} : Status{tl::unexpected(id.error())};
    });
    ASSERT_FALSE(ok) << node;
    EXPECT_NE(ok.error().message.find("backend kernel: "), std::string::npos) << ok.error().message;
    if (std::string(node) == "/dev/null") {
      EXPECT_NE(ok.error().message.find("attach refused"), std::string::npos) << ok.error().message;
    } else {
      EXPECT_EQ(ok.error().code, ENODEV);
    }
    // Nothing added: the layout has no device.
    on_loop([&] { EXPECT_TRUE(rt_->layout().device_ids().empty()); });
  }
}

TEST_F(VenetBackendTest, AutoWithoutTheModuleFallsBackToUserAndMovesPackets) {
  VenetConfig cfg;
  cfg.backend = VenetBackend::kAuto;
  cfg.kernel_device = "/dev/null";  // exists, but the attach ioctl fails
  Port& p = add_port("avmkb1", cfg);
  ASSERT_NE(p.dev, nullptr);
  EXPECT_EQ(p.dev->backend(), VenetBackend::kUser);
  EXPECT_EQ(p.dev->requested_backend(), VenetBackend::kAuto);
  EXPECT_NE(p.dev->backend_note().find("attach refused"), std::string::npos)
      << p.dev->backend_note();
  EXPECT_FALSE(p.dev->kernel_stats());
  open_port(p);
  const auto f = frame(kTestType, 200, 7);
  ASSERT_TRUE(p.net->send(f));
  auto got = wire_read(p, kTestType);
  ASSERT_TRUE(got) << "the user backend did not carry the frame";
  EXPECT_EQ(*got, f);
  EXPECT_TRUE(eventually([&] { return stats(p).tx_packets == 1; }));
  // A user device can be handed over; quiesce works.
  on_loop([&] { EXPECT_TRUE(p.dev->quiesce()); });
}

TEST_F(VenetBackendTest, AutoWithAMissingNodeSaysWhy) {
  VenetConfig cfg;
  cfg.backend = VenetBackend::kAuto;
  cfg.kernel_device = "/nonexistent/alacrityvm-host";
  Port& p = add_port("avmkb2", cfg);
  ASSERT_NE(p.dev, nullptr);
  EXPECT_EQ(p.dev->backend(), VenetBackend::kUser);
  EXPECT_NE(p.dev->backend_note().find("/nonexistent/alacrityvm-host"), std::string::npos)
      << p.dev->backend_note();
}

}  // namespace
}  // namespace avm::test

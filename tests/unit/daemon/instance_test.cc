// SPDX-License-Identifier: GPL-2.0
// An instance in-process, with the ivshmem test client as QEMU.
#include "daemon/instance.h"

#include <gtest/gtest.h>
#include <linux/vbus.h>

#include <filesystem>
#include <thread>

#include "ivshmem/client.h"
#include "testing/guest_readers.h"

namespace avm {
namespace {

constexpr int kTimeoutMs = 10000;

class InstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-d-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.socket_path = dir_ + "/d.sock";
    config_.region_size = uint64_t{1} << 20;
    config_.vectors = 2;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  InstanceConfig config_;
};

TEST_F(InstanceTest, ServesALaidOutRegionToAClient) {
  Instance d(config_);
  ASSERT_TRUE(d.start());
  EXPECT_TRUE(d.running());

  auto c = ivshmem::Client::connect(config_.socket_path);
  ASSERT_TRUE(c) << c.error().message;
  auto ok = c->handshake(config_.vectors, kTimeoutMs);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(c->id(), 1);
  EXPECT_EQ(c->vector_count(ivshmem::kHostPeerId), config_.vectors);

  auto region = c->map_region();
  ASSERT_TRUE(region) << region.error().message;
  EXPECT_EQ(region->size(), config_.region_size);
  auto header = read_header(region->span());
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->magic, VBUS_MAGIC);
  EXPECT_EQ(header->abi_major, VBUS_ABI_MAJOR);
  EXPECT_EQ(header->region_size, config_.region_size);
  EXPECT_EQ(header->num_vectors, config_.vectors);
  EXPECT_EQ(header->host_peer_id, 0U);
  EXPECT_EQ(header->host_state, uint32_t{VBUS_STATE_READY});

  // A doorbell on host vector 1 is counted by the loop.
  ASSERT_TRUE(c->ring(ivshmem::kHostPeerId, 1));
  for (int i = 0; i < kTimeoutMs && d.doorbells(1) == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(d.doorbells(1), 1U);
  EXPECT_EQ(d.doorbells(0), 0U);

  d.stop();
  EXPECT_FALSE(d.running());
  EXPECT_FALSE(std::filesystem::exists(config_.socket_path));
}

TEST_F(InstanceTest, BadRegionSizeIsRefused) {
  config_.region_size = 3 << 20;
  Instance d(config_);
  auto ok = d.start();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, EINVAL);
  EXPECT_FALSE(std::filesystem::exists(config_.socket_path));
}

TEST_F(InstanceTest, BadVectorsAreRefused) {
  config_.vectors = 0;
  Instance d(config_);
  EXPECT_EQ(d.start().error().code, EINVAL);
}

TEST_F(InstanceTest, StartTwiceIsBusy) {
  Instance d(config_);
  ASSERT_TRUE(d.start());
  EXPECT_EQ(d.start().error().code, EBUSY);
}

TEST_F(InstanceTest, AFreshInstanceWaitsAndHasNoDevices) {
  Instance d(config_);
  ASSERT_TRUE(d.start());
  const InstanceInfo i = d.info();
  EXPECT_EQ(i.state, InstanceState::kWaiting);
  EXPECT_EQ(i.guest, 0U);
  EXPECT_TRUE(i.devices.empty());
  EXPECT_EQ(d.free_vectors(), 1U);
  EXPECT_EQ(d.detach("nope").error().code, ENOENT);
  EXPECT_EQ(d.set_link("nope", true).error().code, ENOENT);
}

TEST_F(InstanceTest, RestartKeepsTheRegion) {
  Instance d(config_);
  ASSERT_TRUE(d.start());
  const int fd = d.region().fd();
  d.stop();
  EXPECT_FALSE(std::filesystem::exists(config_.socket_path));
  ASSERT_TRUE(d.start());
  EXPECT_EQ(d.region().fd(), fd);
  EXPECT_TRUE(std::filesystem::exists(config_.socket_path));
}

}  // namespace
}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// [daemon] socket_group: instance sockets are given the group (so that
// libvirt's QEMU user, a member, can connect); a group that does not exist
// is warned about once and no log line claims a socket has it, nor the
// control socket its missing control_group.
#include "daemon/socket_group.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon/service.h"
#include "log_capture.h"  // tests/unit/bridge

namespace avm {
namespace {

using rpc::Json;
constexpr const char* kMissing = "avm-no-such-group";

class SocketGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-sgrp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opts_.config.daemon.control_socket = dir_ + "/control.sock";
    opts_.config.daemon.state_dir = dir_ + "/state";
    opts_.persist = false;
    opts_.control = false;
  }
  void TearDown() override {
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    svc_ = std::make_unique<Service>(opts_);
    auto ok = svc_->start();
    ASSERT_TRUE(ok) << ok.error().message;
  }
  // instance.create @name; the group of its socket file.
  gid_t create(const std::string& name) {
    Json req = {
        {"jsonrpc", "2.0"}, {"id", 1}, {"method", "instance.create"}, {"params", {{"name", name}}}};
    auto out = svc_->dispatcher().handle_line(req.dump(), rpc::Caller{1, 0, 0});
    EXPECT_TRUE(out && Json::parse(*out).contains("result")) << out.value_or("no answer");
    struct stat st {};
    EXPECT_EQ(::stat((dir_ + "/" + name + ".sock").c_str(), &st), 0) << name;
    return st.st_gid;
  }
  size_t count(const std::string& needle) const { return log_.lines(needle).size(); }

  test::LogCapture log_;
  std::string dir_;
  ServiceOptions opts_;
  std::unique_ptr<Service> svc_;
};

TEST_F(SocketGroupTest, InstanceSocketsGetTheGroup) {
  const group* daemon = ::getgrnam("daemon");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_NE(daemon, nullptr) << "Debian's group daemon";
  const gid_t want = daemon->gr_gid;
  ASSERT_NE(want, ::getegid());
  opts_.config.daemon.socket_group = "daemon";
  start();
  EXPECT_EQ(create("vm1"), want);
  EXPECT_EQ(count("instance vm1 created (api): socket " + dir_ + "/vm1.sock (group daemon)"), 1U);
  EXPECT_EQ(count("does not exist"), 0U);
}

TEST_F(SocketGroupTest, AnEmptyGroupLeavesTheSocketAlone) {
  opts_.config.daemon.socket_group = "";
  start();
  EXPECT_EQ(create("vm1"), ::getegid());
  EXPECT_EQ(count("(the daemon's group)"), 1U);
}

TEST_F(SocketGroupTest, AMissingGroupIsWarnedOnceAndNeverClaimed) {
  opts_.config.daemon.socket_group = kMissing;
  opts_.config.daemon.control_group = kMissing;
  opts_.control = true;
  start();
  EXPECT_EQ(create("vm1"), ::getegid());
  EXPECT_EQ(create("vm2"), ::getegid());
  EXPECT_EQ(count(std::string("socket_group ") + kMissing + " does not exist"), 1U);
  EXPECT_EQ(count("(the daemon's group)"), 2U);
  // The control socket: rpc::Server's warning, then the truth.
  EXPECT_EQ(count(std::string("control socket: group ") + kMissing + " does not exist"), 1U);
  EXPECT_EQ(count("control socket " + dir_ + "/control.sock (the daemon's group, max"), 1U);
  EXPECT_EQ(count(std::string("group ") + kMissing + ","), 0U);
  EXPECT_EQ(count(std::string("group ") + kMissing + ")"), 0U);
}

}  // namespace
}  // namespace avm

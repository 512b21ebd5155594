// SPDX-License-Identifier: GPL-2.0
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace avm {
namespace {

// Runs parse_options on a command line; returns its exit status or -1.
int parse(std::vector<std::string> args, DaemonOptions& out) {
  args.insert(args.begin(), "alacrityvmd");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  auto status = parse_options(static_cast<int>(argv.size()), argv.data(), out);
  return status ? *status : -1;
}

TEST(Options, AllOptions) {
  DaemonOptions o;
  ASSERT_EQ(parse({"--socket", "/run/x.sock", "--region-size", "16M", "--vectors", "8",
                   "--foreground", "--socket-mode", "0660", "--max-clients", "3"},
                  o),
            -1);
  EXPECT_EQ(o.config.socket_path, "/run/x.sock");
  EXPECT_EQ(o.config.region_size, 16U << 20);
  EXPECT_EQ(o.config.vectors, 8U);
  EXPECT_EQ(o.config.socket_mode, 0660U);
  EXPECT_EQ(o.config.max_clients, 3U);
  EXPECT_TRUE(o.foreground);
}

TEST(Options, Defaults) {
  DaemonOptions o;
  ASSERT_EQ(parse({"--socket", "/run/x.sock"}, o), -1);
  EXPECT_EQ(o.config.region_size, 4U << 20);
  EXPECT_EQ(o.config.vectors, 4U);
  EXPECT_EQ(o.config.socket_mode, 0600U);
  EXPECT_FALSE(o.foreground);
}

TEST(Options, VersionAndHelpExitZero) {
  DaemonOptions o;
  EXPECT_EQ(parse({"--version"}, o), 0);
  EXPECT_EQ(parse({"--help"}, o), 0);
}

TEST(Options, ServiceModeNeedsNoSocket) {
  DaemonOptions o;
  ASSERT_EQ(parse({"--config", "/tmp/a.conf", "--control-socket", "/tmp/c.sock", "--state-dir",
                   "/tmp/st", "--check-config", "--takeover"},
                  o),
            -1);
  EXPECT_FALSE(o.legacy());
  EXPECT_EQ(o.config_file, "/tmp/a.conf");
  EXPECT_EQ(o.control_socket, "/tmp/c.sock");
  EXPECT_EQ(o.state_dir, "/tmp/st");
  EXPECT_TRUE(o.check_config);
  EXPECT_TRUE(o.takeover);
  DaemonOptions legacy;
  ASSERT_EQ(parse({"--socket", "/s", "--venet", "tap=t0"}, legacy), -1);
  EXPECT_TRUE(legacy.legacy());
  ASSERT_TRUE(legacy.venet);
  EXPECT_EQ(legacy.venet->tap, "t0");
}

TEST(Options, UsageErrors) {
  DaemonOptions o;
  EXPECT_EQ(parse({"--venet", "tap=a,bogus=1"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--region-size", "lots"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--socket-mode", "rw"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--socket-mode", "0999"}, o), 2);
  EXPECT_NE(parse({"--socket", "/s", "--vectors", "0"}, o), -1);
  EXPECT_NE(parse({"--socket", "/s", "--vectors", "257"}, o), -1);
  EXPECT_NE(parse({"--socket", "/s", "--bogus"}, o), -1);
}

// names.h's rules, as in the config file: a path with a control
// character, a relative or over-long socket, a TAP or netns name that is
// not one.
TEST(Options, StringsAreValidated) {
  auto status = [](const std::vector<std::string>& args) {
    DaemonOptions o;  // a fresh one: no value left from a previous line
    return parse(args, o);
  };
  EXPECT_EQ(status({"--socket", "/tmp/a\x1b[2J.sock"}), 2);
  EXPECT_EQ(status({"--socket", "vm.sock"}), 2);
  EXPECT_EQ(status({"--socket", "/" + std::string(107, 'x')}), 2);
  EXPECT_EQ(status({"--control-socket", "/tmp/c\n.sock"}), 2);
  EXPECT_EQ(status({"--control-socket", "c.sock"}), 2);
  EXPECT_EQ(status({"--state-dir", "/tmp/st\x7f"}), 2);
  EXPECT_EQ(status({"--config", "/tmp/a\x01.conf"}), 2);
  EXPECT_EQ(status({"--socket", "/s", "--venet", "tap=t%d"}), 2);
  EXPECT_EQ(status({"--socket", "/s", "--venet", "tap=t0,netns=a\tb"}), 2);
  EXPECT_EQ(status({"--socket", "/" + std::string(106, 'x')}), -1);
  EXPECT_EQ(status({"--socket", "/s", "--venet", "tap=br.100,netns=my ns"}), -1);
}

}  // namespace
}  // namespace avm

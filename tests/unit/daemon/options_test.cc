// SPDX-License-Identifier: GPL-2.0
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
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

// Every usage error exits 2, as alacrityvmd(8) says (CLI11's own errors
// exited 105 for a range, 109 for an unknown flag), with the table's
// words for a range.
TEST(Options, UsageErrors) {
  DaemonOptions o;
  EXPECT_EQ(parse({"--venet", "tap=a,bogus=1"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--region-size", "lots"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--socket-mode", "rw"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--socket-mode", "0999"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--socket-mode", "17777"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--vectors", "257"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--vectors", "4x"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--max-clients", "65536"}, o), 2);
  EXPECT_EQ(parse({"--socket", "/s", "--bogus"}, o), 2);
  EXPECT_EQ(parse({"--socket"}, o), 2);
  testing::internal::CaptureStderr();
  EXPECT_EQ(parse({"--socket", "/s", "--vectors", "0"}, o), 2);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "alacrityvmd: --vectors: must be 1..256\n");
}

// The legacy hand-over's two flags are rows of the table too: parsed
// (also as --flag=PATH), checked as socket paths, not in --help.
TEST(Options, HandoverFlags) {
  DaemonOptions o;
  ASSERT_EQ(
      parse({"--socket", "/s", "--handover-listen", "/run/h.sock", "--takeover-from=/run/f"}, o),
      -1);
  EXPECT_EQ(o.handover_listen, "/run/h.sock");
  EXPECT_EQ(o.takeover_from, "/run/f");
  DaemonOptions bad;
  EXPECT_EQ(parse({"--takeover-from", "h.sock"}, bad), 2);
  EXPECT_EQ(parse({"--handover-listen", "/" + std::string(107, 'x')}, bad), 2);
  testing::internal::CaptureStdout();
  ASSERT_EQ(parse({"--help"}, bad), 0);
  const std::string help = testing::internal::GetCapturedStdout();
  EXPECT_EQ(help.find("--handover-listen"), std::string::npos) << help;
  EXPECT_EQ(help.find("--takeover-from"), std::string::npos) << help;
}

// --help is the table: every shown flag with its value name, range and
// default (the man page test compares these with alacrityvmd(8)).
TEST(Options, HelpIsTheTable) {
  DaemonOptions o;
  testing::internal::CaptureStdout();
  ASSERT_EQ(parse({"--help"}, o), 0);
  const std::string help = testing::internal::GetCapturedStdout();
  for (const DaemonFlag& f : daemon_flags()) {
    if (!f.help.empty()) {
      EXPECT_NE(help.find(f.name), std::string::npos) << f.name << "\n" << help;
    }
  }
  EXPECT_NE(help.find("--vectors N"), std::string::npos) << help;
  EXPECT_NE(help.find("(1..256, default 4)"), std::string::npos) << help;
  EXPECT_NE(help.find("(default 0600)"), std::string::npos) << help;
  EXPECT_NE(help.find("(default 4MiB)"), std::string::npos) << help;
  EXPECT_NE(help.find("(default /etc/alacrityvm/alacrityvmd.conf)"), std::string::npos) << help;
  EXPECT_NE(help.find("rx_coalesce_us="), std::string::npos) << help;
}

// Each row reaches its own member: a value given to the flag is the one
// flag_text reads back, and no other row's member changed.
TEST(Options, EveryFlagSetsItsMember) {
  for (const DaemonFlag& f : daemon_flags()) {
    const std::string name(f.name.substr(f.name.rfind(',') + 1));
    std::string value;
    switch (f.kind) {
      case FlagKind::kText:
      case FlagKind::kPath:
      case FlagKind::kSocketPath:
        value = "/tmp/x" + name;
        break;
      case FlagKind::kUint:
        value = std::to_string(f.max);
        break;
      case FlagKind::kSize:
        value = "64MiB";
        break;
      case FlagKind::kMode:
        value = "0750";
        break;
      case FlagKind::kSwitch:
      case FlagKind::kVenet:
        break;
    }
    DaemonOptions o;
    std::vector<std::string> args = {"--socket", "/s", name};
    if (f.kind == FlagKind::kVenet) {
      args.emplace_back("tap=t1");
    } else if (!value.empty()) {
      args.push_back(value);
    }
    if (name == "--socket") {
      args.erase(args.begin(), args.begin() + 2);
    }
    ASSERT_EQ(parse(args, o), -1) << name;
    DaemonOptions defaults;
    defaults.config.socket_path = "/s";
    for (const DaemonFlag& other : daemon_flags()) {
      if (&other == &f) {
        if (f.kind == FlagKind::kSwitch) {
          EXPECT_TRUE(*std::get<bool*>(f.member(o))) << name;
        } else if (f.kind == FlagKind::kVenet) {
          ASSERT_TRUE(o.venet) << name;
          EXPECT_EQ(o.venet->tap, "t1");
        } else {
          EXPECT_EQ(flag_text(f, o), value) << name;
        }
      } else if (other.kind != FlagKind::kSwitch && other.kind != FlagKind::kVenet) {
        EXPECT_EQ(flag_text(other, o), flag_text(other, defaults)) << name << " set " << other.name;
      }
    }
  }
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

// SPDX-License-Identifier: GPL-2.0
#include "daemon/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace avm {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-state-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(dir_ + "/st/state.json") << text; }

  std::string dir_;
};

SavedState sample() {
  SavedState s;
  InstanceSpec i;
  i.name = "vm1";
  i.region_size = 8U << 20;
  i.vectors = 3;
  s.instances.push_back(i);
  DeviceSpec d;
  d.name = "n0";
  d.instance = "vm1";
  d.netns = "ns";
  d.mac = std::array<uint8_t, 6>{0x52, 0x54, 0, 1, 2, 3};
  d.mtu = 9000;
  d.link_up = false;
  d.ring_size = 512;
  d.buf_size = 4096;
  d.rx_coalesce_us = 0;
  d.busy_poll_max_us = 7;
  s.devices.push_back(d);
  DeviceSpec spare;
  spare.name = "spare";
  s.devices.push_back(spare);
  return s;
}

TEST_F(StateStoreTest, AMissingFileIsEmpty) {
  StateStore st(dir_ + "/st");
  auto s = st.load();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->instances.empty());
  EXPECT_TRUE(s->devices.empty());
}

TEST_F(StateStoreTest, SaveThenLoadRoundTrips) {
  StateStore st(dir_ + "/st");
  ASSERT_TRUE(st.save(sample()));
  auto s = st.load();
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->instances.size(), 1U);
  EXPECT_EQ(s->instances[0], sample().instances[0]);
  ASSERT_EQ(s->devices.size(), 2U);
  EXPECT_EQ(s->devices[0], sample().devices[0]);
  EXPECT_EQ(s->devices[1], sample().devices[1]);
  // No temp file left behind; the directory is private-ish.
  EXPECT_FALSE(std::filesystem::exists(st.path() + ".tmp"));
  struct stat sb {};
  ASSERT_EQ(::stat((dir_ + "/st").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0750U);
}

TEST_F(StateStoreTest, SaveReplacesAtomically) {
  StateStore st(dir_ + "/st");
  ASSERT_TRUE(st.save(sample()));
  const auto ino_before = std::filesystem::status(st.path()).type();
  (void)ino_before;
  struct stat a {};
  ASSERT_EQ(::stat(st.path().c_str(), &a), 0);
  // A stale temp file from a crash does not disturb the next save.
  std::ofstream(st.path() + ".tmp") << "garbage";
  ASSERT_TRUE(st.save(SavedState{}));
  struct stat b {};
  ASSERT_EQ(::stat(st.path().c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);  // renamed over, not rewritten in place
  auto s = st.load();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->instances.empty());
}

TEST_F(StateStoreTest, CorruptFilesAreClearErrors) {
  StateStore st(dir_ + "/st");
  ASSERT_TRUE(st.save(sample()));
  const char* bad[] = {
      "{\"version\": 1, \"instances\": [",                     // truncated
      "[]",                                                    // not an object
      "{\"version\": 2, \"instances\": [], \"devices\": []}",  // unknown version
      "{\"version\": 1, \"instances\": [{\"name\": 5}], \"devices\": []}",
      // invalid name (one literal, split over two lines)
      ("{\"version\": 1, \"instances\": [{\"name\": \"A\", \"socket\": \"\", "
       "\"region_size\": 1048576, \"vectors\": 2}], \"devices\": []}"),
      "{\"version\": 1, \"instances\": []}",  // no devices
      "",
  };
  for (const char* text : bad) {
    write(text);
    auto s = st.load();
    ASSERT_FALSE(s) << text;
    EXPECT_EQ(s.error().code, EINVAL) << text;
    EXPECT_TRUE(s.error().message.starts_with(st.path() + ": ")) << s.error().message;
  }
}

// A file written before the field table ("link_up", no tuning fields)
// loads as it did: the missing fields take their defaults.
TEST_F(StateStoreTest, FilesOfTheOldFormatLoad) {
  StateStore st(dir_ + "/st");
  ASSERT_TRUE(st.save(SavedState{}));
  write(R"({"version": 1, "instances": [], "devices": [
          {"name": "d0", "type": "venet", "tap": "t0", "mtu": 1500, "queues": 1,
           "backend": "user", "link_up": false, "instance": null, "bridge": null,
           "netns": null, "mac": "52:54:00:00:00:01"}]})");
  auto s = st.load();
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->devices.size(), 1U);
  EXPECT_FALSE(s->devices[0].link_up);
  EXPECT_EQ(s->devices[0].ring_size, kVenetDefaultRingSize);
  EXPECT_EQ(s->devices[0].busy_poll_max_us, kVenetDefaultBusyPollMaxUs);
  EXPECT_EQ(format_mac(*s->devices[0].mac), "52:54:00:00:00:01");
}

// names.h's rules apply to what state.json holds, as to the API.
TEST_F(StateStoreTest, StringsWithControlCharactersAreRefused) {
  StateStore st(dir_ + "/st");
  ASSERT_TRUE(st.save(sample()));
  const std::string instance =
      R"({"name": "vm1", "socket": "/tmp/a\u0000b", "region_size": 1048576, "vectors": 2})";
  const std::string device =
      R"({"name": "d0", "type": "venet", "tap": "t0", "mtu": 1500, "queues": 1,
          "backend": "user", "link_up": true, "instance": null, "bridge": null,
          "netns": "../etc", "mac": null})";
  write(R"({"version": 1, "instances": [)" + instance + R"(], "devices": []})");
  auto s = st.load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            st.path() + ": instance vm1: socket: contains a NUL byte (at byte 6)");
  write(R"({"version": 1, "instances": [], "devices": [)" + device + "]}");
  s = st.load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, st.path() +
                                   ": device d0: netns: not a namespace name: must not contain "
                                   "'/' (a name in /run/netns)");
}

}  // namespace
}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// The field tables (spec_fields.h): every path that reads a spec (config
// file, API params, --venet) takes the same values with the same words,
// and the tuning fields reach the device's VenetConfig.
#include "daemon/spec_fields.h"

#include <gtest/gtest.h>

#include <set>

#include "daemon/config.h"
#include "daemon/methods.h"
#include "daemon/venet_option.h"

namespace avm {
namespace {

using Json = nlohmann::json;

// The first config error of one [[device]] with @keys.
std::string config_device_error(const std::string& keys) {
  auto r = parse_config("[[device]]\nname = \"d0\"\n" + keys + "\n", "f.conf");
  return r.errors.empty() ? "" : r.errors[0];
}

TEST(SpecFields, NamesAreUniqueAndDefaultsPassTheirOwnRanges) {
  auto unique = [](const auto& fields) {
    std::set<std::string_view> names;
    for (const auto& f : fields) {
      EXPECT_TRUE(names.insert(f.info.name).second) << f.info.name;
      EXPECT_FALSE(f.info.help.empty()) << f.info.name;
    }
  };
  unique(daemon_fields());
  unique(metrics_fields());
  unique(instance_fields());
  unique(device_fields());
  std::vector<std::string> problems;
  add_field_problems(DeviceSpec{}, device_fields(), problems);
  add_field_problems(InstanceSpec{}, instance_fields(), problems);
  add_field_problems(DaemonSettings{}, daemon_fields(), problems);
  EXPECT_TRUE(problems.empty()) << problems[0];
}

// Issue 19: "16MiB" worked on the command line (size.h), not in the config
// file or the API (spec.h's parse_bytes); one parser now.
TEST(SpecFields, OneSizeGrammarEverywhere) {
  for (const char* text : {"16MiB", "16M", "16777216", "16m", "16MB"}) {
    auto r = parse_config(std::string("[daemon]\nmax_region_size = \"1G\"\n[[instance]]\n"
                                      "name = \"a\"\nregion_size = \"") +
                              text + "\"\n",
                          "f.conf");
    ASSERT_TRUE(r.ok()) << text << ": " << r.errors[0];
    EXPECT_EQ(r.config.instances[0].region_size, uint64_t{16} << 20) << text;
    auto api = spec_params(Json{{"name", "a"}, {"region_size", text}}, instance_fields());
    ASSERT_TRUE(api) << text << ": " << api.error().message;
    EXPECT_EQ(api->region_size, uint64_t{16} << 20) << text;
  }
}

// The tuning only --venet could set is a device field of the config file
// and the API, and reaches the VenetConfig the device is created with.
TEST(SpecFields, TuningFieldsReachTheVenetConfig) {
  auto r = parse_config(
      "[[device]]\nname = \"d0\"\nring_size = 512\nbuf_size = 4096\nrx_coalesce_us = 100\n"
      "busy_poll_max_us = 20\n",
      "f.conf");
  ASSERT_TRUE(r.ok()) << r.errors[0];
  const DeviceSpec& d = r.config.devices[0];
  auto api = spec_params(Json{{"name", "d0"},
                              {"ring_size", 512},
                              {"buf_size", 4096},
                              {"rx_coalesce_us", 100},
                              {"busy_poll_max_us", 20}},
                         device_fields());
  ASSERT_TRUE(api) << api.error().message;
  auto legacy = parse_venet_option(
      "tap=avm-d0,ring=512,buf=4096,rx_coalesce_us=100,"
      "busy_poll_max_us=20");
  ASSERT_TRUE(legacy) << legacy.error().message;
  for (const DeviceSpec* s : std::vector<const DeviceSpec*>{&d, &*api, &*legacy}) {
    const VenetConfig vc = to_venet_config(*s);
    EXPECT_EQ(vc.ring_size, 512U);
    EXPECT_EQ(vc.buf_size, 4096U);
    EXPECT_EQ(vc.rx_coalesce_us, 100U);
    EXPECT_EQ(vc.busy_poll_max_us, 20U);
    EXPECT_TRUE(validate(vc));
  }
}

TEST(SpecFields, ToVenetConfigCarriesEveryField) {
  DeviceSpec s;
  s.name = "d0";
  s.tap = "t0";
  s.mac = MacAddress{0x02, 1, 2, 3, 4, 5};
  s.mtu = 9000;
  s.link_up = false;
  s.backend = "kernel";
  const VenetConfig vc = to_venet_config(s);
  EXPECT_EQ(vc.tap_name, "t0");
  EXPECT_EQ(vc.mac, *s.mac);
  EXPECT_EQ(vc.mtu, 9000);
  EXPECT_EQ(vc.queue_pairs, 1);
  EXPECT_FALSE(vc.link_up);
  EXPECT_EQ(vc.backend, VenetBackend::kKernel);
  // Defaults are VenetConfig's own.
  const VenetConfig def = to_venet_config(DeviceSpec{.name = "x"});
  EXPECT_EQ(def.ring_size, VenetConfig{}.ring_size);
  EXPECT_EQ(def.buf_size, VenetConfig{}.buf_size);
  EXPECT_EQ(def.rx_coalesce_us, VenetConfig{}.rx_coalesce_us);
  EXPECT_EQ(def.busy_poll_max_us, VenetConfig{}.busy_poll_max_us);
  EXPECT_EQ(def.tap_name, "avm-x");
}

// The config file, the API and --venet say the same thing about a value.
TEST(SpecFields, SameWordsFromEverySource) {
  struct Case {
    const char* key;
    Json api;
    const char* toml;
    const char* venet;  // nullptr: not a --venet key
    const char* why;
  };
  for (const Case& c : {
           Case{"mtu", 67, "67", "mtu=67", "must be 68..65535"},
           Case{"mtu", "x", "\"x\"", "mtu=x", "must be an integer"},
           Case{"ring_size", 8192, "8192", "ring=8192", "must be 1..4096"},
           Case{"buf_size", 64, "64", "buf=64", "must be 128..1048576"},
           Case{"rx_coalesce_us", 10001, "10001", "rx_coalesce_us=10001", "must be 0..10000"},
           Case{"busy_poll_max_us", 10001, "10001", "busy_poll_max_us=10001", "must be 0..10000"},
           Case{"mac", "52:54", "\"52:54\"", "mac=52:54",
                "must be a MAC address like \"52:54:00:12:34:56\""},
           Case{"link", "maybe", "\"maybe\"", "link=maybe", "must be \"up\" or \"down\""},
           Case{"backend", "fast", "\"fast\"", nullptr, "must be \"user\", \"kernel\" or \"auto\""},
       }) {
    auto api = spec_params(Json{{"name", "d0"}, {c.key, c.api}}, device_fields());
    ASSERT_FALSE(api) << c.key;
    EXPECT_EQ(api.error().message, std::string(c.key) + ": " + c.why) << api.error().message;
    const std::string conf = config_device_error(std::string(c.key) + " = " + c.toml);
    EXPECT_TRUE(conf.ends_with(std::string("device[0].") + c.key + ": " + c.why)) << conf;
    if (c.venet != nullptr) {
      auto v = parse_venet_option(std::string("tap=t0,") + c.venet);
      ASSERT_FALSE(v) << c.venet;
      EXPECT_EQ(v.error().message, std::string("venet ") + c.venet + ": " + c.why);
    }
  }
}

TEST(SpecFields, FieldsJsonHasEveryTableWithDefaults) {
  const Json j = fields_json();
  ASSERT_EQ(j.at("device").size(), device_fields().size());
  bool seen = false;
  for (const Json& f : j.at("device")) {
    if (f.at("name") == "ring_size") {
      seen = true;
      EXPECT_EQ(f.at("default"), std::to_string(kVenetDefaultRingSize));
      EXPECT_EQ(f.at("min"), 1);
      EXPECT_EQ(f.at("max"), 4096);
      EXPECT_EQ(f.at("legacy_key"), "ring");
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(j.at("instance").at(3).at("name"), "vectors");
  EXPECT_EQ(j.at("instance").at(3).at("default"), "4");
}

}  // namespace
}  // namespace avm

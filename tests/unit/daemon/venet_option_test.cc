// SPDX-License-Identifier: GPL-2.0
#include "daemon/venet_option.h"

#include <gtest/gtest.h>

namespace avm {
namespace {

TEST(VenetOption, AllKeys) {
  auto o = parse_venet_option(
      "tap=avmtap0,mac=02:00:00:AA:bb:0c,mtu=9000,netns=avm-x,link=down,ring=512,buf=4096,"
      "rx_coalesce_us=0");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->config.tap_name, "avmtap0");
  EXPECT_EQ(o->config.mac, (std::array<uint8_t, 6>{0x02, 0, 0, 0xaa, 0xbb, 0x0c}));
  EXPECT_EQ(o->config.mtu, 9000);
  EXPECT_EQ(o->netns, "avm-x");
  EXPECT_FALSE(o->config.link_up);
  EXPECT_EQ(o->config.ring_size, 512U);
  EXPECT_EQ(o->config.buf_size, 4096U);
  EXPECT_EQ(o->config.rx_coalesce_us, 0U);
}

TEST(VenetOption, Defaults) {
  auto o = parse_venet_option("tap=t0");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->config.mac, (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(o->config.mtu, 1500);
  EXPECT_TRUE(o->config.link_up);
  EXPECT_TRUE(o->netns.empty());
  EXPECT_EQ(o->config.rx_coalesce_us, kVenetDefaultRxCoalesceUs);
}

TEST(VenetOption, Refused) {
  for (const char* bad : {
           "",                              // tap required
           "mtu=1500",                      // tap required
           "tap=t0,mtu=67",                 // below 68
           "tap=t0,mtu=65536",              // above 65535
           "tap=t0,mtu=15x0",               // not a number
           "tap=t0,mtu=",                   // empty
           "tap=t0,mac=01:00:00:00:00:01",  // multicast
           "tap=t0,mac=52:54:00:12:34",     // short
           "tap=t0,mac=52:54:00:12:34:5g",  // not hex
           "tap=t0,ring=100",               // not a power of two
           "tap=t0,buf=64",                 // too small for venet
           "tap=t0,link=maybe",             // up or down
           "tap=t0,rx_coalesce_us=10001",   // above 10 ms
           "tap=t0,rx_coalesce_us=-1",      // not a number
           "tap=t0,color=blue",             // unknown key
           "tap=t0,tap=t1",                 // repeated
           "tap=t0,mtu",                    // no '='
           "tap=../../x",                   // not an interface name
           "tap=t0,netns=../etc",           // walks out of /run/netns
           "tap=averyveryverylongname",     // IFNAMSIZ
       }) {
    auto o = parse_venet_option(bad);
    ASSERT_FALSE(o) << bad;
    EXPECT_EQ(o.error().code, EINVAL) << bad;
    EXPECT_FALSE(o.error().message.empty());
  }
}

TEST(VenetOption, Mac) {
  EXPECT_TRUE(parse_mac("52-54-00-12-34-56"));
  EXPECT_FALSE(parse_mac("52:54:00:12:34:56:"));
  EXPECT_FALSE(parse_mac("525400123456"));
}

}  // namespace
}  // namespace avm

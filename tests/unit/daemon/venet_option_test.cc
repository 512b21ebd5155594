// SPDX-License-Identifier: GPL-2.0
#include "daemon/venet_option.h"

#include <gtest/gtest.h>

namespace avm {
namespace {

TEST(VenetOption, AllKeys) {
  auto o = parse_venet_option(
      "tap=avmtap0,mac=02:00:00:AA:bb:0c,mtu=9000,netns=avm-x,link=down,ring=512,buf=4096,"
      "rx_coalesce_us=0,busy_poll_max_us=20");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->tap, "avmtap0");
  EXPECT_EQ(o->mac, (MacAddress{0x02, 0, 0, 0xaa, 0xbb, 0x0c}));
  EXPECT_EQ(o->mtu, 9000U);
  EXPECT_EQ(o->netns, "avm-x");
  EXPECT_FALSE(o->link_up);
  EXPECT_EQ(o->ring_size, 512U);
  EXPECT_EQ(o->buf_size, 4096U);
  EXPECT_EQ(o->rx_coalesce_us, 0U);
  EXPECT_EQ(o->busy_poll_max_us, 20U);
  // The legacy instance's device, served by the I/O thread.
  EXPECT_EQ(o->name, "default-net0");
  EXPECT_EQ(o->instance, "default");
  EXPECT_EQ(o->backend, "user");
  EXPECT_EQ(o->origin, Origin::kLegacy);
  EXPECT_TRUE(check(*o).empty());
}

TEST(VenetOption, Defaults) {
  auto o = parse_venet_option("tap=t0");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->mac, (MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(o->mtu, 1500U);
  EXPECT_TRUE(o->link_up);
  EXPECT_FALSE(o->netns);
  EXPECT_EQ(o->ring_size, kVenetDefaultRingSize);
  EXPECT_EQ(o->buf_size, kVenetDefaultBufSize);
  EXPECT_EQ(o->rx_coalesce_us, kVenetDefaultRxCoalesceUs);
  EXPECT_EQ(o->busy_poll_max_us, kVenetDefaultBusyPollMaxUs);
}

// Every key goes through the device table: the same words as the config
// file and the API.
TEST(VenetOption, ErrorsAreTheTables) {
  auto o = parse_venet_option("tap=t0,mtu=67");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message, "venet mtu=67: must be 68..65535");
  o = parse_venet_option("tap=t0,ring=100");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message, "venet ring_size: must be a power of two");
  o = parse_venet_option("tap=t0,busy_poll_max_us=10001");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message, "venet busy_poll_max_us=10001: must be 0..10000");
}

TEST(VenetOption, Refused) {
  for (const char* bad : {
           "",                               // tap required
           "mtu=1500",                       // tap required
           "tap=t0,mtu=67",                  // below 68
           "tap=t0,mtu=65536",               // above 65535
           "tap=t0,mtu=15x0",                // not a number
           "tap=t0,mtu=",                    // empty
           "tap=t0,mac=01:00:00:00:00:01",   // multicast
           "tap=t0,mac=52:54:00:12:34",      // short
           "tap=t0,mac=52:54:00:12:34:5g",   // not hex
           "tap=t0,ring=100",                // not a power of two
           "tap=t0,buf=64",                  // too small for venet
           "tap=t0,link=maybe",              // up or down
           "tap=t0,rx_coalesce_us=10001",    // above 10 ms
           "tap=t0,rx_coalesce_us=-1",       // not a number
           "tap=t0,busy_poll_max_us=10001",  // above 10 ms
           "tap=t0,ring=8192",               // above 4096
           "tap=t0,backend=kernel",          // not a --venet key
           "tap=t0,color=blue",              // unknown key
           "tap=t0,tap=t1",                  // repeated
           "tap=t0,mtu",                     // no '='
           "tap=../../x",                    // not an interface name
           "tap=t0,netns=../etc",            // walks out of /run/netns
           "tap=averyveryverylongname",      // IFNAMSIZ
       }) {
    auto o = parse_venet_option(bad);
    ASSERT_FALSE(o) << bad;
    EXPECT_EQ(o.error().code, EINVAL) << bad;
    EXPECT_FALSE(o.error().message.empty());
  }
}

}  // namespace
}  // namespace avm

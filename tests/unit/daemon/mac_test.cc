// SPDX-License-Identifier: GPL-2.0
#include "daemon/mac.h"

#include <gtest/gtest.h>

namespace avm {
namespace {

TEST(Mac, ParsesBothSeparatorsAndFormatsLowerCase) {
  auto m = parse_mac("52-54-00-AB-cd-0E");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, (MacAddress{0x52, 0x54, 0x00, 0xab, 0xcd, 0x0e}));
  EXPECT_EQ(format_mac(*m), "52:54:00:ab:cd:0e");
  EXPECT_EQ(*parse_mac(format_mac(*m)), *m);
}

TEST(Mac, Refused) {
  for (const char* bad : {"52:54:00:12:34:56:", "525400123456", "52:54:00:12:34",
                          "52:54:00:12:34:5g", "52:54:00:12:34:5", "52_54_00_12_34_56", ""}) {
    auto m = parse_mac(bad);
    ASSERT_FALSE(m) << bad;
    EXPECT_EQ(m.error().code, EINVAL);
    EXPECT_EQ(m.error().message, "invalid MAC address '" + std::string(bad) + "'");
  }
}

}  // namespace
}  // namespace avm

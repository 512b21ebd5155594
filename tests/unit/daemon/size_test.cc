// SPDX-License-Identifier: GPL-2.0
#include "daemon/size.h"

#include <gtest/gtest.h>

namespace avm {
namespace {

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(parse_size("0").value(), 0U);
  EXPECT_EQ(parse_size("65536").value(), 65536U);
}

TEST(ParseSize, BinarySuffixes) {
  EXPECT_EQ(parse_size("64K").value(), 64U << 10);
  EXPECT_EQ(parse_size("64k").value(), 64U << 10);
  EXPECT_EQ(parse_size("1M").value(), 1U << 20);
  EXPECT_EQ(parse_size("16M").value(), 16U << 20);
  EXPECT_EQ(parse_size("16MiB").value(), 16U << 20);
  EXPECT_EQ(parse_size("16MB").value(), 16U << 20);
  EXPECT_EQ(parse_size("2G").value(), uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1T").value(), uint64_t{1} << 40);
}

TEST(ParseSize, Garbage) {
  for (const char* bad : {"", "M", "4Q", "4MM", "4 M", "-4M", "4.5M", "4Mi", "0x10"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, EINVAL) << bad;
  }
}

TEST(ParseSize, Overflow) {
  EXPECT_EQ(parse_size("99999999999999999999").error().code, ERANGE);
  EXPECT_EQ(parse_size("16777216T").error().code, ERANGE);
  EXPECT_EQ(parse_size("16777215T").value(), uint64_t{16777215} << 40);
}

TEST(FormatSize, LargestUnit) {
  EXPECT_EQ(format_size(4U << 20), "4 MiB");
  EXPECT_EQ(format_size(uint64_t{1} << 30), "1 GiB");
  EXPECT_EQ(format_size(65536), "64 KiB");
  EXPECT_EQ(format_size(1000), "1000 B");
  EXPECT_EQ(format_size(1536), "1536 B");
}

}  // namespace
}  // namespace avm

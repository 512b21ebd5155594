// SPDX-License-Identifier: GPL-2.0
#include "daemon/names.h"

#include <gtest/gtest.h>

#include <string>

namespace avm {
namespace {

using namespace std::string_literals;

// Strings no kind of name or path takes: a NUL, C0 and C1 controls, DEL,
// invalid UTF-8 (a stray continuation byte, an overlong '/', a surrogate,
// a code point past U+10FFFF, a cut-off sequence).
const std::string kUnprintable[] = {
    "a\0b"s,     "a\x01"s, "a\nb",      "a\tb",          "a\x1b[31m",         "a\x7f",
    "a\xc2\x85", "a\x80",  "a\xc0\xaf", "a\xed\xa0\x80", "a\xf4\x90\x80\x80", "a\xe2\x82",
};

TEST(Names, PrintableCharLength) {
  EXPECT_EQ(printable_char_length("a"), 1U);
  EXPECT_EQ(printable_char_length(" "), 1U);
  EXPECT_EQ(printable_char_length("\xc3\xa9"), 2U);          // é
  EXPECT_EQ(printable_char_length("\xc2\xa0"), 2U);          // U+00A0, the first after C1
  EXPECT_EQ(printable_char_length("\xe2\x82\xac"), 3U);      // €
  EXPECT_EQ(printable_char_length("\xf0\x9f\x90\xa7"), 4U);  // U+1F427
  EXPECT_EQ(printable_char_length(""), 0U);
  EXPECT_EQ(printable_char_length("\0"s), 0U);
  EXPECT_EQ(printable_char_length("\x1f"), 0U);
  EXPECT_EQ(printable_char_length("\x7f"), 0U);
  EXPECT_EQ(printable_char_length("\xc2\x9f"), 0U);  // U+009F, C1
  EXPECT_EQ(printable_char_length("\xff"), 0U);
}

TEST(Names, TextRejectsWhatIsNotPrintable) {
  EXPECT_EQ(text_problem(""), "");
  EXPECT_EQ(text_problem("kvm users \xc3\xa9"), "");
  EXPECT_EQ(text_problem("ab\0c"s), "contains a NUL byte (at byte 2)");
  EXPECT_EQ(text_problem("a\x1b"), "contains a control character (at byte 1)");
  EXPECT_EQ(text_problem("a\xc2\x85"), "contains a control character (at byte 1)");
  EXPECT_EQ(text_problem("ab\xff"), "is not valid UTF-8 (at byte 2)");
}

TEST(Names, NothingUnprintablePasses) {
  for (const std::string& s : kUnprintable) {
    EXPECT_NE(text_problem(s), "") << s;
    EXPECT_FALSE(valid_name(s)) << s;
    EXPECT_NE(ifname_problem(s), "") << s;
    EXPECT_NE(netns_problem(s), "") << s;
    EXPECT_NE(path_problem("/" + s), "") << s;
  }
}

TEST(Names, ObjectNames) {
  for (const char* good : {"a", "vm1", "0", "vm-1_net0", "abcdefghijklmnopqrstuvwxyz012345"}) {
    EXPECT_EQ(name_problem(good), "") << good;
    EXPECT_TRUE(valid_name(good)) << good;
  }
  for (const std::string& bad : {""s, "Vm"s, "-a"s, "_a"s, "a b"s, "a.b"s, "a/b"s, "a\0"s,
                                 "abcdefghijklmnopqrstuvwxyz0123456"s}) {
    EXPECT_EQ(name_problem(bad), "must match [a-z0-9][a-z0-9_-]{0,31}") << bad;
    EXPECT_FALSE(valid_name(bad)) << bad;
  }
}

TEST(Names, InterfaceNames) {
  for (const char* good : {"a", "eth0", "avm-vm1-net0", "br.100", "tap_x+y=z", "123456789012345"}) {
    EXPECT_EQ(ifname_problem(good), "") << good;
  }
  EXPECT_EQ(ifname_problem(""), "must not be empty");
  EXPECT_EQ(ifname_problem("1234567890123456"), "longer than 15 bytes");
  EXPECT_EQ(ifname_problem("."), "must not be \".\" or \"..\"");
  EXPECT_EQ(ifname_problem(".."), "must not be \".\" or \"..\"");
  EXPECT_EQ(ifname_problem("a/b"), "must not contain '/'");
  EXPECT_EQ(ifname_problem("a:1"), "must not contain ':'");
  EXPECT_EQ(ifname_problem("tap%d"), "must not contain '%'");
  EXPECT_EQ(ifname_problem("a b"), "must not contain ' '");
  EXPECT_EQ(ifname_problem("caf\xc3\xa9"), "must be ASCII");
  EXPECT_EQ(ifname_problem("ta\0p"s), "contains a NUL byte (at byte 2)");
  EXPECT_EQ(ifname_problem("a\tb"), "contains a control character (at byte 1)");
}

TEST(Names, NamespaceNames) {
  for (const char* good : {"ns1", "a", "my netns", ".hidden", "...", "caf\xc3\xa9"}) {
    EXPECT_EQ(netns_problem(good), "") << good;
  }
  EXPECT_EQ(netns_problem(std::string(255, 'n')), "");
  EXPECT_EQ(netns_problem(std::string(256, 'n')), "longer than 255 bytes");
  EXPECT_EQ(netns_problem(""), "must not be empty");
  EXPECT_EQ(netns_problem("."), "must not be \".\" or \"..\"");
  EXPECT_EQ(netns_problem(".."), "must not be \".\" or \"..\"");
  EXPECT_EQ(netns_problem("../etc"), "must not contain '/' (a name in /run/netns)");
  EXPECT_EQ(netns_problem("a/b"), "must not contain '/' (a name in /run/netns)");
  EXPECT_EQ(netns_problem("ns\n"), "contains a control character (at byte 2)");
}

TEST(Names, Paths) {
  EXPECT_EQ(path_problem("/run/alacrityvm/vm1.sock", kMaxSocketPath), "");
  EXPECT_EQ(path_problem("/var/lib/my vms/caf\xc3\xa9"), "");
  EXPECT_EQ(path_problem("/" + std::string(kMaxSocketPath - 1, 'x'), kMaxSocketPath), "");
  EXPECT_EQ(path_problem("/" + std::string(kMaxSocketPath, 'x'), kMaxSocketPath),
            "longer than 107 bytes");
  EXPECT_EQ(path_problem("/" + std::string(kMaxPath, 'x')), "longer than 4095 bytes");
  EXPECT_EQ(path_problem(""), "must not be empty");
  EXPECT_EQ(path_problem("run/x.sock"), "must be an absolute path");
  EXPECT_EQ(path_problem("/tmp/a.sock\0/evil"s, kMaxSocketPath),
            "contains a NUL byte (at byte 11)");
  EXPECT_EQ(path_problem("/tmp/\x1b[2Ja", kMaxSocketPath),
            "contains a control character (at byte 5)");
}

}  // namespace
}  // namespace avm

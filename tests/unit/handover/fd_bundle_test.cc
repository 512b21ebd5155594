// SPDX-License-Identifier: GPL-2.0
#include "handover/fd_bundle.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace avm::handover {
namespace {

UniqueFd efd() {
  return UniqueFd(::eventfd(0, EFD_CLOEXEC));
}

TEST(FdBundle, NamesAreChecked) {
  FdBundle b;
  EXPECT_TRUE(b.add("region", efd()));
  EXPECT_TRUE(b.add("ivshmem.client.3.v0", efd()));
  EXPECT_EQ(b.add("region", efd()).error().code, EEXIST);
  EXPECT_EQ(b.add("", efd()).error().code, EINVAL);
  EXPECT_EQ(b.add("a:b", efd()).error().code, EINVAL);
  EXPECT_EQ(b.add("a b", efd()).error().code, EINVAL);
  EXPECT_EQ(b.add(std::string(FdBundle::kMaxName + 1, 'a'), efd()).error().code, EINVAL);
  EXPECT_EQ(b.add("closed", UniqueFd()).error().code, EINVAL);
  EXPECT_EQ(b.size(), 2U);
  EXPECT_EQ(b.names(), (std::vector<std::string>{"region", "ivshmem.client.3.v0"}));
}

TEST(FdBundle, TakeRemoves) {
  FdBundle b;
  ASSERT_TRUE(b.add_dup("x", STDIN_FILENO));
  auto fd = b.take("x");
  ASSERT_TRUE(fd);
  EXPECT_TRUE(fd->valid());
  EXPECT_FALSE(b.contains("x"));
  EXPECT_EQ(b.take("x").error().code, ENOENT);
}

TEST(FdBundle, JsonGetters) {
  const auto j =
      nlohmann::json::parse(R"({"a": 5, "b": -1, "c": true, "s": "x", "o": {}, "l": []})");
  EXPECT_EQ(*get_u64(j, "a"), 5U);
  EXPECT_FALSE(get_u64(j, "b"));
  EXPECT_FALSE(get_u32(j, "a", 4));
  EXPECT_FALSE(get_u64(j, "missing"));
  EXPECT_TRUE(*get_bool(j, "c"));
  EXPECT_FALSE(get_bool(j, "a"));
  EXPECT_EQ(*get_string(j, "s"), "x");
  EXPECT_TRUE(get_object(j, "o"));
  EXPECT_FALSE(get_object(j, "l"));
  EXPECT_TRUE(get_array(j, "l"));
  EXPECT_FALSE(get_u64(nlohmann::json::array(), "a"));
}

TEST(FdBundle, FdKindChecks) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]);
  UniqueFd b(sv[1]);
  EXPECT_TRUE(check_socket(a.get(), SOCK_STREAM, false));
  EXPECT_FALSE(check_socket(a.get(), SOCK_SEQPACKET, false));
  EXPECT_FALSE(check_socket(a.get(), SOCK_STREAM, true));
  UniqueFd e = efd();
  EXPECT_FALSE(check_socket(e.get(), SOCK_STREAM, false));
  EXPECT_FALSE(check_memfd(e.get()));
  UniqueFd m(::memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  EXPECT_TRUE(check_memfd(m.get()));
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  EXPECT_TRUE(check_char_device(null.get(), "/dev/null"));
  EXPECT_FALSE(check_char_device(null.get(), "/dev/zero"));
  EXPECT_FALSE(check_char_device(e.get(), "/dev/null"));
}

}  // namespace
}  // namespace avm::handover

// SPDX-License-Identifier: GPL-2.0
#include "lib/region.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace avm {
namespace {

TEST(Region, CreateMapsZeroedSealedMemfd) {
  auto r = Region::create("test", 1 << 20);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 1U << 20);
  ASSERT_NE(r->data(), nullptr);
  EXPECT_EQ(r->data()[0], 0);
  EXPECT_EQ(r->data()[(1 << 20) - 1], 0);
  const int seals = ::fcntl(r->fd(), F_GET_SEALS);
  EXPECT_EQ(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_LT(::ftruncate(r->fd(), 4096), 0);  // shrink refused
  EXPECT_TRUE(::fcntl(r->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(Region, RejectsBadSizes) {
  for (uint64_t size : {uint64_t{0}, uint64_t{3 << 16}, uint64_t{100000}, uint64_t{32768},
                        Region::kMaxSize * 2, uint64_t{(1 << 20) + 4096}}) {
    auto r = Region::create("bad", size);
    ASSERT_FALSE(r) << size;
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_TRUE(Region::create("min", Region::kMinSize));
}

TEST(Region, AdoptSharesMemory) {
  auto r = Region::create("a", 1 << 16);
  ASSERT_TRUE(r);
  auto fd = UniqueFd(::fcntl(r->fd(), F_DUPFD_CLOEXEC, 0));
  auto r2 = Region::adopt(std::move(fd));
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_EQ(r2->size(), r->size());
  EXPECT_NE(r2->data(), r->data());
  r->data()[100] = 0x5a;
  EXPECT_EQ(r2->data()[100], 0x5a);
}

TEST(Region, AdoptRejectsUnsealedOrBadSize) {
  UniqueFd fd(::memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::ftruncate(fd.get(), 1 << 16), 0);
  auto r = Region::adopt(std::move(fd));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EPERM);

  UniqueFd odd(::memfd_create("odd", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_EQ(::ftruncate(odd.get(), 100000), 0);
  ASSERT_EQ(::fcntl(odd.get(), F_ADD_SEALS, F_SEAL_SHRINK), 0);
  auto r2 = Region::adopt(std::move(odd));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, EINVAL);

  EXPECT_FALSE(Region::adopt(UniqueFd()));
  EXPECT_FALSE(Region::adopt(UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC))));
}

TEST(Region, BoundsCheckedAccessors) {
  auto r = Region::create("b", 1 << 16);
  ASSERT_TRUE(r);
  const uint64_t size = r->size();
  EXPECT_NE(r->at<uint64_t>(0), nullptr);
  EXPECT_NE(r->at<uint64_t>(size - 8), nullptr);
  EXPECT_EQ(r->at<uint64_t>(size - 4), nullptr);  // straddles the end
  EXPECT_EQ(r->at<uint64_t>(size), nullptr);
  EXPECT_EQ(r->at<uint64_t>(UINT64_MAX - 3), nullptr);  // off + 8 overflows
  EXPECT_EQ(r->at<uint64_t>(4), nullptr);               // misaligned
  EXPECT_EQ(r->bytes(size - 16, 16).size(), 16U);
  EXPECT_TRUE(r->bytes(size - 16, 17).empty());
  EXPECT_TRUE(r->bytes(16, UINT64_MAX).empty());
  EXPECT_TRUE(r->contains(size, 0));
  EXPECT_FALSE(r->contains(size + 1, 0));
  r->ref<uint32_t>(64) = 7;
  EXPECT_EQ(*r->at<uint32_t>(64), 7U);
  EXPECT_DEATH(r->ref<uint32_t>(size), "fatal");
}

TEST(Region, MoveKeepsMapping) {
  auto r = Region::create("m", 1 << 16);
  ASSERT_TRUE(r);
  uint8_t* p = r->data();
  Region moved(std::move(*r));
  EXPECT_EQ(moved.data(), p);
  p[5] = 1;
  EXPECT_EQ(moved.data()[5], 1);
}

}  // namespace
}  // namespace avm

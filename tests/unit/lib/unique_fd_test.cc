// SPDX-License-Identifier: GPL-2.0
#include "lib/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace avm {
namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}

TEST(UniqueFd, ClosesOnDestruction) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  {
    UniqueFd fd(fds[0]);
    EXPECT_TRUE(fd.valid());
    EXPECT_TRUE(is_open(fds[0]));
  }
  EXPECT_FALSE(is_open(fds[0]));
}

TEST(UniqueFd, MoveTransfersOwnership) {
  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(a);
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(is_open(raw));
  c.reset();
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseDoesNotClose) {
  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.release();
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, DupIsIndependent) {
  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto b = a.dup();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NE(b->get(), a.get());
  EXPECT_TRUE(::fcntl(b->get(), F_GETFD) & FD_CLOEXEC);
  a.reset();
  EXPECT_TRUE(is_open(b->get()));
  UniqueFd none;
  auto err = none.dup();
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().code, EBADF);
}

}  // namespace
}  // namespace avm

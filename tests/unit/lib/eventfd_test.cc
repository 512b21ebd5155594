// SPDX-License-Identifier: GPL-2.0
#include "lib/eventfd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

namespace avm {
namespace {

TEST(EventFd, SignalConsumeCounts) {
  auto efd = EventFd::create();
  ASSERT_TRUE(efd) << efd.error().message;
  EXPECT_EQ(efd->consume(), 0U);
  efd->signal();
  efd->signal();
  efd->signal();
  EXPECT_TRUE(efd->wait(0));
  EXPECT_EQ(efd->consume(), 3U);
  EXPECT_EQ(efd->consume(), 0U);
  EXPECT_FALSE(efd->wait(0));
}

TEST(EventFd, FlagsAreNonBlockingCloexec) {
  auto efd = EventFd::create();
  ASSERT_TRUE(efd);
  EXPECT_TRUE(::fcntl(efd->fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(efd->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(EventFd, WaitWakesFromOtherThread) {
  auto efd = EventFd::create();
  ASSERT_TRUE(efd);
  std::thread t([&] { efd->signal(); });
  EXPECT_TRUE(efd->wait(10000));
  t.join();
  EXPECT_EQ(efd->consume(), 1U);
}

TEST(EventFd, AdoptAcceptsEventfdOnly) {
  UniqueFd raw(::eventfd(0, 0));  // blocking, no cloexec
  ASSERT_TRUE(raw);
  auto efd = EventFd::adopt(std::move(raw));
  ASSERT_TRUE(efd) << efd.error().message;
  EXPECT_TRUE(::fcntl(efd->fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(efd->consume(), 0U);  // would block forever if still blocking

  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto bad = EventFd::adopt(std::move(null));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EINVAL);
  EXPECT_FALSE(EventFd::adopt(UniqueFd()));
}

TEST(EventFd, ReleaseFdHandsOverOwnership) {
  auto efd = EventFd::create();
  ASSERT_TRUE(efd);
  UniqueFd fd = efd->release_fd();
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(efd->fd(), -1);
}

}  // namespace
}  // namespace avm

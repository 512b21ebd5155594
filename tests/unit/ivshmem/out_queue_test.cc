// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/out_queue.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace avm::ivshmem {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

ino_t inode(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(OutQueue, SendsImmediatelyWhenThereIsRoom) {
  Pair p = socket_pair();
  OutQueue q(16);
  EXPECT_EQ(q.push(p.a.get(), 5, -1).state, OutQueue::State::kOk);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.delayed(), 0U);
  auto m = recv_message(p.b.get(), 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value, 5);
}

// Fills the socket until a message has to wait, then checks that every
// message arrives, in order, with its own fd, even though the caller
// closed the fds of the queued ones in the meantime.
TEST(OutQueue, QueuesWhenFullAndKeepsOrderAndFds) {
  Pair p = socket_pair();
  OutQueue q(100000);
  std::vector<ino_t> sent_inodes;
  int64_t n = 0;
  while (q.empty()) {
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
    ASSERT_TRUE(efd);
    sent_inodes.push_back(inode(efd.get()));
    ASSERT_EQ(q.push(p.a.get(), n++, efd.get()).state, OutQueue::State::kOk);
    ASSERT_LT(n, 100000) << "socket never filled up";
  }  // efd closed here: the queue must own a duplicate
  for (int i = 0; i < 10; i++) {
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
    sent_inodes.push_back(inode(efd.get()));
    ASSERT_EQ(q.push(p.a.get(), n++, efd.get()).state, OutQueue::State::kOk);
  }
  EXPECT_EQ(q.size(), 11U);
  EXPECT_EQ(q.delayed(), 11U);

  for (int64_t want = 0; want < n; want++) {
    if (want % 64 == 0) {
      ASSERT_EQ(q.flush(p.a.get()).state, OutQueue::State::kOk);
    }
    auto m = recv_message(p.b.get(), 0);
    if (!m && m.error().code == ETIMEDOUT) {
      ASSERT_EQ(q.flush(p.a.get()).state, OutQueue::State::kOk);
      m = recv_message(p.b.get(), 0);
    }
    ASSERT_TRUE(m) << "message " << want << ": " << m.error().message;
    EXPECT_EQ(m->value, want);
    ASSERT_TRUE(m->fd.valid());
    EXPECT_EQ(inode(m->fd.get()), sent_inodes[static_cast<size_t>(want)]);
  }
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(recv_message(p.b.get(), 0));
}

TEST(OutQueue, OverflowBeyondLimit) {
  Pair p = socket_pair();
  OutQueue q(3);
  int64_t n = 0;
  while (q.empty()) {
    ASSERT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  }
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  EXPECT_EQ(q.size(), 3U);
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOverflow);
}

TEST(OutQueue, UnboundedMessagesDoNotCount) {
  Pair p = socket_pair();
  OutQueue q(2);
  int64_t n = 0;
  while (q.empty()) {
    ASSERT_EQ(q.push(p.a.get(), n++, -1, false).state, OutQueue::State::kOk);
  }
  for (int i = 0; i < 10; i++) {
    EXPECT_EQ(q.push(p.a.get(), n++, -1, false).state, OutQueue::State::kOk);
  }
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  EXPECT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOverflow);
  EXPECT_EQ(q.size(), 13U);
}

TEST(OutQueue, PeerGoneIsReported) {
  Pair p = socket_pair();
  OutQueue q(16);
  p.b.reset();
  const OutQueue::Outcome o = q.push(p.a.get(), 1, -1);
  EXPECT_EQ(o.state, OutQueue::State::kGone);
  EXPECT_EQ(o.error, EPIPE);
}

TEST(OutQueue, PeerGoneWhileQueuedIsReportedByFlush) {
  Pair p = socket_pair();
  OutQueue q(100000);
  int64_t n = 0;
  while (q.empty()) {
    ASSERT_EQ(q.push(p.a.get(), n++, -1).state, OutQueue::State::kOk);
  }
  p.b.reset();
  EXPECT_EQ(q.flush(p.a.get()).state, OutQueue::State::kGone);
}

}  // namespace
}  // namespace avm::ivshmem

// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/protocol.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace avm::ivshmem {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool same_file(int a, int b) {
  struct stat sa {
  }, sb{};
  EXPECT_EQ(::fstat(a, &sa), 0);
  EXPECT_EQ(::fstat(b, &sb), 0);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

TEST(Protocol, EncodingIsLittleEndianInt64) {
  const MessageBytes minus_one = encode_message(-1);
  for (uint8_t b : minus_one) {
    EXPECT_EQ(b, 0xff);
  }
  const MessageBytes v = encode_message(0x0102030405060708);
  const MessageBytes want = {8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(v, want);
  EXPECT_EQ(decode_message(v), 0x0102030405060708);
  EXPECT_EQ(decode_message(minus_one), -1);
  EXPECT_EQ(decode_message(encode_message(65535)), 65535);
}

TEST(Protocol, MessageWithoutFd) {
  Pair p = socket_pair();
  const MessageBytes bytes = encode_message(42);
  ASSERT_EQ(send_message_bytes(p.a.get(), bytes, -1), 8);
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->value, 42);
  EXPECT_FALSE(m->fd.valid());
}

TEST(Protocol, MessageCarriesOneFd) {
  Pair p = socket_pair();
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(efd);
  ASSERT_EQ(send_message_bytes(p.a.get(), encode_message(-1), efd.get()), 8);
  ASSERT_EQ(send_message_bytes(p.a.get(), encode_message(7), -1), 8);
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->value, -1);
  ASSERT_TRUE(m->fd.valid());
  EXPECT_NE(m->fd.get(), efd.get());
  EXPECT_TRUE(same_file(m->fd.get(), efd.get()));
  // The next message does not inherit the fd.
  auto m2 = recv_message(p.b.get(), 1000);
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->value, 7);
  EXPECT_FALSE(m2->fd.valid());
}

TEST(Protocol, MessageSplitAcrossWritesIsReassembled) {
  Pair p = socket_pair();
  const MessageBytes bytes = encode_message(0x1122334455667788);
  ASSERT_EQ(::write(p.a.get(), bytes.data(), 3), 3);
  ASSERT_EQ(::write(p.a.get(), bytes.data() + 3, 5), 5);
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value, 0x1122334455667788);
}

TEST(Protocol, ClosedConnectionIsConnReset) {
  Pair p = socket_pair();
  p.a.reset();
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ECONNRESET);
}

TEST(Protocol, ClosedMidMessageIsConnReset) {
  Pair p = socket_pair();
  ASSERT_EQ(::write(p.a.get(), "abc", 3), 3);
  p.a.reset();
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ECONNRESET);
}

TEST(Protocol, NothingToReadTimesOut) {
  Pair p = socket_pair();
  auto m = recv_message(p.b.get(), 0);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ETIMEDOUT);
}

TEST(Protocol, TwoFdsInOneMessageIsProtocolError) {
  Pair p = socket_pair();
  UniqueFd e1(::eventfd(0, EFD_CLOEXEC)), e2(::eventfd(0, EFD_CLOEXEC));
  MessageBytes bytes = encode_message(1);
  iovec iov{bytes.data(), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int fds[2] = {e1.get(), e2.get()};
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  ASSERT_EQ(::sendmsg(p.a.get(), &msg, 0), 8);
  auto m = recv_message(p.b.get(), 1000);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, EPROTO);
}

TEST(Protocol, SendToClosedPeerIsEpipeWithoutSignal) {
  Pair p = socket_pair();
  p.b.reset();
  // MSG_NOSIGNAL: no SIGPIPE kills the test, the error comes back instead.
  EXPECT_EQ(send_message_bytes(p.a.get(), encode_message(1), -1), -EPIPE);
}

}  // namespace
}  // namespace avm::ivshmem

// SPDX-License-Identifier: GPL-2.0
// The client against scripted servers (one end of a socketpair), for the
// protocol checks a well-behaved server never triggers.
#include "ivshmem/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

namespace avm::ivshmem {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_.reset(fds[0]);
    client_.emplace(Client::adopt(UniqueFd(fds[1])));
    auto region = Region::create("client-test", Region::kMinSize);
    ASSERT_TRUE(region);
    region_.emplace(std::move(*region));
  }

  void say(int64_t value, int fd = -1) {
    ASSERT_EQ(send_message_bytes(server_.get(), encode_message(value), fd), 8);
  }
  void say_eventfd(int64_t value) {
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
    say(value, efd.get());
  }
  // A correct handshake for client @id with @vectors vectors and a host.
  void say_handshake(int64_t id, unsigned vectors) {
    say(0);
    say(id);
    say(-1, region_->fd());
    for (unsigned v = 0; v < vectors; v++) {
      say_eventfd(0);
    }
    for (unsigned v = 0; v < vectors; v++) {
      say_eventfd(id);
    }
  }
  int handshake_error(unsigned vectors = 2) {
    auto ok = client_->handshake(vectors, 1000);
    return ok ? 0 : ok.error().code;
  }

  UniqueFd server_;
  std::optional<Client> client_;
  std::optional<Region> region_;
};

TEST_F(ClientTest, CorrectHandshake) {
  say_handshake(7, 2);
  ASSERT_EQ(handshake_error(), 0);
  EXPECT_EQ(client_->id(), 7);
  EXPECT_EQ(client_->peers(), (std::vector<PeerId>{0, 7}));
  auto mapped = client_->map_region();
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_EQ(mapped->size(), Region::kMinSize);
}

TEST_F(ClientTest, WrongVersion) {
  say(1);
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, VersionWithFd) {
  say(0, region_->fd());
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, IdWithFd) {
  say(0);
  say(3, region_->fd());
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, IdOutOfRange) {
  say(0);
  say(65536);
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, ShmWithoutFd) {
  say(0);
  say(1);
  say(-1);
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, ShmTwice) {
  say(0);
  say(1);
  say(-1, region_->fd());
  say(-1, region_->fd());
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, TooManyVectorsForAPeer) {
  say(0);
  say(1);
  say(-1, region_->fd());
  for (int v = 0; v < 3; v++) {
    say_eventfd(0);
  }
  EXPECT_EQ(handshake_error(2), EPROTO);
}

TEST_F(ClientTest, VectorThatIsNotAnEventfd) {
  say(0);
  say(1);
  say(-1, region_->fd());
  say(0, region_->fd());
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, InvalidMessage) {
  say(0);
  say(1);
  say(-2);
  EXPECT_EQ(handshake_error(), EPROTO);
}

TEST_F(ClientTest, ServerClosesMidHandshake) {
  say(0);
  say(1);
  server_.reset();
  EXPECT_EQ(handshake_error(), ECONNRESET);
}

TEST_F(ClientTest, ServerSaysNothing) {
  auto ok = client_->handshake(2, 0);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, ETIMEDOUT);
}

TEST_F(ClientTest, UpdatesAfterHandshake) {
  say_handshake(1, 2);
  ASSERT_EQ(handshake_error(), 0);
  say_eventfd(5);
  say_eventfd(5);
  auto u = client_->read_update(1000);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, PeerUpdate::kVector);
  EXPECT_EQ(u->id, 5);
  EXPECT_EQ(u->vector, 0U);
  u = client_->read_update(1000);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->vector, 1U);
  EXPECT_EQ(client_->vector_count(5), 2U);
  ASSERT_TRUE(client_->ring(5, 1));
  EXPECT_FALSE(client_->ring(5, 2));
  EXPECT_FALSE(client_->ring(6, 0));

  say(5);
  u = client_->read_update(1000);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, PeerUpdate::kGone);
  EXPECT_EQ(u->id, 5);
  EXPECT_FALSE(client_->has_peer(5));
}

TEST_F(ClientTest, OwnIdGoneIsProtocolError) {
  say_handshake(1, 2);
  ASSERT_EQ(handshake_error(), 0);
  say(1);
  auto u = client_->read_update(1000);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, EPROTO);
}

TEST_F(ClientTest, WaitVectorConsumes) {
  say_handshake(1, 2);
  ASSERT_EQ(handshake_error(), 0);
  EXPECT_FALSE(client_->wait_vector(0, 0));
  ASSERT_TRUE(client_->ring(1, 0));  // its own vector, as a peer would
  EXPECT_TRUE(client_->wait_vector(0, 1000));
  EXPECT_FALSE(client_->wait_vector(0, 0));
  EXPECT_FALSE(client_->wait_vector(1, 0));
}

}  // namespace
}  // namespace avm::ivshmem

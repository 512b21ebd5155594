// SPDX-License-Identifier: GPL-2.0
// The ivshmem server against our C++ client (the QEMU side).
#include "ivshmem/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "child_connection.h"
#include "ivshmem/client.h"
#include "lib/region.h"
#include "pump.h"

namespace avm::ivshmem {
namespace {

// Generous upper bound for anything to happen; never a timing assertion.
constexpr int kTimeoutMs = 10000;
constexpr unsigned kVectors = 3;
constexpr uint64_t kRegionSize = uint64_t{1} << 20;

ino_t inode(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-iv-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto region = Region::create("ivshmem-test", kRegionSize);
    ASSERT_TRUE(region) << region.error().message;
    region_.emplace(std::move(*region));
    config_.socket_path = dir_ + "/iv.sock";
    config_.shm_fd = region_->fd();
    config_.vectors = kVectors;
    config_.max_clients = 4;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    server_ = std::make_unique<Server>(config_);
    server_->set_peer_callback([this](const PeerEvent& e) { events_.push_back(e); });
    auto ok = server_->start();
    ASSERT_TRUE(ok) << ok.error().message;
  }

  // Handles everything that is pending (test thread, no Pump running).
  void settle() {
    for (int i = 0; i < 1000 && server_->handle_events() > 0; i++) {
    }
  }

  Client connect() {
    auto c = Client::connect(config_.socket_path);
    EXPECT_TRUE(c) << c.error().message;
    return std::move(*c);
  }

  // A client that has completed its handshake.
  Client join() {
    Client c = connect();
    Pump pump(*server_);
    auto ok = c.handshake(config_.vectors, kTimeoutMs);
    EXPECT_TRUE(ok) << ok.error().message;
    return c;
  }

  // Reads one update with the server running.
  PeerUpdate update(Client& c) {
    Pump pump(*server_);
    auto u = c.read_update(kTimeoutMs);
    EXPECT_TRUE(u) << u.error().message;
    return u ? *u : PeerUpdate{};
  }

  // Nothing more is waiting for @c (after the server handled everything).
  void expect_quiet(Client& c) {
    settle();
    auto m = c.read_message(0);
    ASSERT_FALSE(m) << "unexpected message " << m->value;
    EXPECT_EQ(m.error().code, ETIMEDOUT);
  }

  // Every messages of a complete handshake for a client joining @others
  // other clients.
  size_t handshake_messages(size_t others) const { return 3 + (others + 2) * config_.vectors; }

  std::string dir_;
  std::optional<Region> region_;
  ServerConfig config_;
  std::unique_ptr<Server> server_;
  std::vector<PeerEvent> events_;
};

TEST_F(ServerTest, HandshakeOrderAndValues) {
  start_server();
  Client c = connect();
  settle();
  auto version = c.read_message(0);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->value, 0);
  EXPECT_FALSE(version->fd.valid());

  auto id = c.read_message(0);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->value, 1);  // the first client; 0 is the host
  EXPECT_FALSE(id->fd.valid());

  auto shm = c.read_message(0);
  ASSERT_TRUE(shm);
  EXPECT_EQ(shm->value, -1);
  ASSERT_TRUE(shm->fd.valid());
  EXPECT_EQ(inode(shm->fd.get()), inode(region_->fd()));
  struct stat st {};
  ASSERT_EQ(::fstat(shm->fd.get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kRegionSize);

  // Peer 0 (the host): its vectors, in order.
  for (unsigned v = 0; v < kVectors; v++) {
    auto m = c.read_message(0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->value, 0);
    ASSERT_TRUE(m->fd.valid());
    EXPECT_EQ(inode(m->fd.get()), inode(server_->host_vectors()[v].fd()));
  }
  // Its own vectors, in order.
  for (unsigned v = 0; v < kVectors; v++) {
    auto m = c.read_message(0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->value, 1);
    ASSERT_TRUE(m->fd.valid());
    EXPECT_EQ(inode(m->fd.get()), inode(server_->vectors(1)[v].fd()));
  }
  expect_quiet(c);
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});
  ASSERT_EQ(events_.size(), 1U);
  EXPECT_EQ(events_[0].kind, PeerEventKind::kJoined);
  EXPECT_EQ(events_[0].id, 1);
  EXPECT_EQ(server_->stats().joined, 1U);
}

TEST_F(ServerTest, ClientBuildsPeerTable) {
  start_server();
  Client c = join();
  EXPECT_EQ(c.id(), 1);
  EXPECT_EQ(c.peers(), (std::vector<PeerId>{0, 1}));
  EXPECT_EQ(c.vector_count(0), kVectors);
  EXPECT_EQ(c.vector_count(1), kVectors);
}

TEST_F(ServerTest, SharedMemoryIsTheSameMemory) {
  start_server();
  Client c = join();
  auto mapped = c.map_region();
  ASSERT_TRUE(mapped) << mapped.error().message;
  ASSERT_EQ(mapped->size(), kRegionSize);
  mapped->data()[12345] = 0x5a;
  EXPECT_EQ(region_->data()[12345], 0x5a);
  region_->data()[kRegionSize - 1] = 0xa5;
  EXPECT_EQ(mapped->data()[kRegionSize - 1], 0xa5);
}

TEST_F(ServerTest, DoorbellReachesTheHost) {
  start_server();
  Client c = join();
  for (unsigned v = 0; v < kVectors; v++) {
    ASSERT_TRUE(c.ring(kHostPeerId, v));
    const EventFd& host = server_->host_vectors()[v];
    ASSERT_TRUE(host.wait(kTimeoutMs));
    EXPECT_EQ(host.consume(), 1U);
    for (unsigned other = 0; other < kVectors; other++) {
      EXPECT_EQ(server_->host_vectors()[other].consume(), 0U) << "vector " << other;
    }
  }
  // And the other way round: the client's copy of a host vector is the
  // same eventfd.
  server_->host_vectors()[1].signal();
  ASSERT_TRUE(c.vector(kHostPeerId, 1)->wait(kTimeoutMs));
  EXPECT_EQ(c.vector(kHostPeerId, 1)->consume(), 1U);
}

TEST_F(ServerTest, InterruptReachesTheClient) {
  start_server();
  Client c = join();
  for (unsigned v = 0; v < kVectors; v++) {
    ASSERT_TRUE(server_->notify(c.id(), v));
    ASSERT_TRUE(c.wait_vector(v, kTimeoutMs));
    for (unsigned other = 0; other < kVectors; other++) {
      EXPECT_FALSE(c.wait_vector(other, 0)) << "vector " << other;
    }
  }
  EXPECT_FALSE(server_->notify(c.id(), kVectors));
  EXPECT_FALSE(server_->notify(99, 0));
  EXPECT_FALSE(server_->notify(kHostPeerId, 0));
}

TEST_F(ServerTest, SecondClientSeesTheFirstAndIsAnnouncedToIt) {
  start_server();
  Client c1 = join();
  Client c2 = join();
  EXPECT_EQ(c2.id(), 2);
  EXPECT_EQ(c2.peers(), (std::vector<PeerId>{0, 1, 2}));
  EXPECT_EQ(c2.vector_count(1), kVectors);

  for (unsigned v = 0; v < kVectors; v++) {
    PeerUpdate u = update(c1);
    EXPECT_EQ(u.kind, PeerUpdate::kVector);
    EXPECT_EQ(u.id, 2);
    EXPECT_EQ(u.vector, v);
  }
  expect_quiet(c1);
  expect_quiet(c2);
  EXPECT_EQ(server_->clients(), (std::vector<PeerId>{1, 2}));

  // The fds they hold for each other work.
  ASSERT_TRUE(c1.ring(2, 2));
  EXPECT_TRUE(c2.wait_vector(2, kTimeoutMs));
  ASSERT_TRUE(c2.ring(1, 0));
  EXPECT_TRUE(c1.wait_vector(0, kTimeoutMs));
}

TEST_F(ServerTest, EachClientsPidIsTheProcessThatConnected) {
  start_server();
  Client own = join();
  EXPECT_EQ(server_->peer_pid(own.id()), ::getpid());
  // Another process (as QEMU is): its pid, not ours.
  ChildConnection child(config_.socket_path);
  ASSERT_TRUE(child.connected());
  settle();
  ASSERT_EQ(server_->clients().size(), 2U);
  const PeerId id = server_->clients().back();
  ASSERT_NE(child.pid(), ::getpid());
  EXPECT_EQ(server_->peer_pid(id), child.pid());
  // No such client (the host, an unknown id): 0.
  EXPECT_EQ(server_->peer_pid(kHostPeerId), 0);
  EXPECT_EQ(server_->peer_pid(static_cast<PeerId>(id + 1)), 0);
}

TEST_F(ServerTest, LeavingClientIsAnnouncedAsGone) {
  start_server();
  Client c1 = join();
  Client c2 = join();
  for (unsigned v = 0; v < kVectors; v++) {
    update(c1);
  }
  c2.close();
  PeerUpdate u = update(c1);
  EXPECT_EQ(u.kind, PeerUpdate::kGone);
  EXPECT_EQ(u.id, 2);
  EXPECT_FALSE(c1.has_peer(2));
  expect_quiet(c1);
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});
  EXPECT_TRUE(server_->vectors(2).empty());
  ASSERT_EQ(events_.size(), 3U);
  EXPECT_EQ(events_[2].kind, PeerEventKind::kLeft);
  EXPECT_EQ(events_[2].id, 2);
  EXPECT_EQ(server_->stats().left, 1U);
}

TEST_F(ServerTest, IdsAreNotReusedRightAway) {
  start_server();
  Client c1 = join();
  c1.close();
  settle();
  Client c2 = join();
  EXPECT_EQ(c2.id(), 2);
}

// A client that vanishes after reading k of its handshake messages (k = 0
// is "right after connect"), leaving the rest unread, for every k: the
// server survives, the established client sees it join and leave (or not
// at all) consistently and keeps working with a later client.
TEST_F(ServerTest, ClientVanishingAtEveryStepOfTheHandshake) {
  start_server();
  Client c1 = join();
  const size_t total = handshake_messages(1);
  size_t announced = 0;
  for (size_t k = 0; k <= total; k++) {
    SCOPED_TRACE("vanishing after " + std::to_string(k) + " messages");
    Client vanishing = connect();
    if (k > 0) {
      Pump pump(*server_);
      for (size_t i = 0; i < k; i++) {
        auto m = vanishing.read_message(kTimeoutMs);
        ASSERT_TRUE(m) << m.error().message;
      }
    }
    vanishing.close();
    settle();
    // c1 heard nothing of it (it vanished before the server could send it
    // its handshake), or of it joining (all vectors) and then leaving.
    auto first = c1.read_update(0);
    if (first) {
      ASSERT_EQ(first->kind, PeerUpdate::kVector);
      const PeerId id = first->id;
      for (unsigned v = 1; v < kVectors; v++) {
        auto u = c1.read_update(0);
        ASSERT_TRUE(u) << u.error().message;
        EXPECT_EQ(u->kind, PeerUpdate::kVector);
        EXPECT_EQ(u->id, id);
      }
      auto gone = c1.read_update(0);
      ASSERT_TRUE(gone) << gone.error().message;
      EXPECT_EQ(gone->kind, PeerUpdate::kGone);
      EXPECT_EQ(gone->id, id);
      EXPECT_FALSE(c1.has_peer(id));
      announced++;
    } else {
      EXPECT_EQ(first.error().code, ETIMEDOUT);
    }
    expect_quiet(c1);
    EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});
    EXPECT_EQ(server_->stats().left + server_->stats().handshake_failed, k + 1);
  }
  // Also: a client gone before the server even accepted it.
  {
    Client early = connect();
    early.close();
  }
  settle();
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});

  Client c3 = join();
  for (unsigned v = 0; v < kVectors; v++) {
    EXPECT_EQ(update(c1).id, c3.id());
  }
  ASSERT_TRUE(c1.ring(c3.id(), 0));
  EXPECT_TRUE(c3.wait_vector(0, kTimeoutMs));
  ASSERT_TRUE(c3.ring(1, 1));
  EXPECT_TRUE(c1.wait_vector(1, kTimeoutMs));
  ASSERT_TRUE(c3.ring(kHostPeerId, 2));
  EXPECT_TRUE(server_->host_vectors()[2].wait(kTimeoutMs));
  EXPECT_EQ(server_->stats().left + server_->stats().handshake_failed, total + 2);
  // The server had time to send the handshake to most of them.
  EXPECT_GE(announced, total - 1);
}

TEST_F(ServerTest, ClientSendingDataIsIgnoredAndCounted) {
  start_server();
  Client c = join();
  ASSERT_EQ(::send(c.fd(), "hello", 5, MSG_NOSIGNAL), 5);
  settle();
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});
  EXPECT_GE(server_->stats().unexpected_input, 1U);
  ASSERT_TRUE(server_->notify(1, 0));
  EXPECT_TRUE(c.wait_vector(0, kTimeoutMs));
}

TEST_F(ServerTest, ClientHalfClosingIsGone) {
  start_server();
  Client c1 = join();
  Client c2 = join();
  ASSERT_EQ(::shutdown(c2.fd(), SHUT_WR), 0);
  settle();
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{1});
}

TEST_F(ServerTest, TooManyClientsAreRefused) {
  config_.max_clients = 2;
  start_server();
  Client c1 = join();
  Client c2 = join();
  Client c3 = connect();
  {
    Pump pump(*server_);
    auto ok = c3.handshake(kVectors, kTimeoutMs);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().code, ECONNRESET);
  }
  EXPECT_EQ(server_->stats().refused, 1U);
  EXPECT_EQ(server_->clients(), (std::vector<PeerId>{1, 2}));
  // The refusal was not announced to anybody.
  for (unsigned v = 0; v < kVectors; v++) {
    EXPECT_EQ(update(c1).id, 2);
  }
  expect_quiet(c1);
  expect_quiet(c2);
  // Room again once a client leaves.
  c2.close();
  settle();
  Client c4 = join();
  EXPECT_EQ(c4.id(), 3);
}

TEST_F(ServerTest, StopDisconnectsEveryoneAndStartIsRestartable) {
  start_server();
  const int epoll_fd = server_->fd();
  const ino_t host0 = inode(server_->host_vectors()[0].fd());
  Client c1 = join();
  Client c2 = join();
  events_.clear();
  server_->stop();
  EXPECT_FALSE(server_->running());
  EXPECT_FALSE(std::filesystem::exists(config_.socket_path));
  EXPECT_TRUE(server_->clients().empty());
  EXPECT_EQ(events_.size(), 2U);
  for (const PeerEvent& e : events_) {
    EXPECT_EQ(e.kind, PeerEventKind::kLeft);
  }
  // Their connections are closed (after the announcements they had).
  for (Client* c : {&c1, &c2}) {
    Result<Message> m;
    do {
      m = c->read_message(kTimeoutMs);
    } while (m);
    EXPECT_EQ(m.error().code, ECONNRESET);
  }
  EXPECT_FALSE(Client::connect(config_.socket_path));
  server_->stop();  // twice is fine

  auto ok = server_->start();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(server_->fd(), epoll_fd);
  EXPECT_EQ(inode(server_->host_vectors()[0].fd()), host0);
  Client c3 = join();
  EXPECT_EQ(c3.id(), 1);
  ASSERT_TRUE(c3.ring(kHostPeerId, 0));
  EXPECT_TRUE(server_->host_vectors()[0].wait(kTimeoutMs));
}

TEST_F(ServerTest, StartTwiceIsBusy) {
  start_server();
  auto again = server_->start();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EBUSY);
}

TEST_F(ServerTest, BadConfigIsRejected) {
  ServerConfig bad = config_;
  bad.vectors = 0;
  EXPECT_EQ(Server(bad).start().error().code, EINVAL);
  bad.vectors = kMaxVectors + 1;
  EXPECT_EQ(Server(bad).start().error().code, EINVAL);
  bad = config_;
  bad.shm_fd = -1;
  EXPECT_EQ(Server(bad).start().error().code, EBADF);
  bad = config_;
  bad.max_clients = 0;
  EXPECT_EQ(Server(bad).start().error().code, EINVAL);
  EXPECT_FALSE(std::filesystem::exists(config_.socket_path));
}

// Enough vectors that joins and leaves overflow a client's socket buffer:
// a client that reads late still gets every message, in order.
TEST_F(ServerTest, SlowReaderGetsQueuedMessagesInOrder) {
  config_.vectors = 64;
  config_.max_clients = 8;
  start_server();
  Client slow = join();
  std::vector<PeerId> joined;
  for (int i = 0; i < 6; i++) {
    Client c = join();
    joined.push_back(c.id());
    c.close();
    settle();  // it has left before the next one joins
  }
  EXPECT_GT(server_->stats().delayed_messages, 0U) << "the socket never filled up";
  EXPECT_EQ(server_->clients(), std::vector<PeerId>{slow.id()});
  Pump pump(*server_);
  for (PeerId id : joined) {
    for (unsigned v = 0; v < config_.vectors; v++) {
      auto u = slow.read_update(kTimeoutMs);
      ASSERT_TRUE(u) << u.error().message;
      ASSERT_EQ(u->kind, PeerUpdate::kVector);
      ASSERT_EQ(u->id, id);
      ASSERT_EQ(u->vector, v);
    }
    auto u = slow.read_update(kTimeoutMs);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->kind, PeerUpdate::kGone);
    EXPECT_EQ(u->id, id);
  }
}

TEST_F(ServerTest, ClientThatNeverReadsIsDropped) {
  config_.vectors = 64;
  config_.max_clients = 8;
  config_.max_queued = 16;
  start_server();
  Client sleeper = connect();  // never reads anything
  settle();
  std::vector<Client> others;
  for (int i = 0; i < 6 && server_->stats().dropped_slow == 0; i++) {
    others.push_back(join());
  }
  settle();
  EXPECT_EQ(server_->stats().dropped_slow, 1U);
  const std::vector<PeerId> ids = server_->clients();
  EXPECT_EQ(ids.size(), others.size());
  for (const Client& c : others) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), c.id()), ids.end());
  }
}

}  // namespace
}  // namespace avm::ivshmem

// SPDX-License-Identifier: GPL-2.0
// The hand-over wire format: packages round-trip over a socketpair in many
// chunks, and everything malformed is refused with its fds closed.
#include "handover/wire.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace avm::handover {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

int open_fds() {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++) {
    n += ::fcntl(fd, F_GETFD) >= 0 ? 1 : 0;
  }
  return n;
}

// Sends a raw frame with any header contents.
void send_raw(int sock, FrameHeader h, const std::string& payload, const std::vector<int>& fds) {
  ASSERT_TRUE(send_frame(sock, h, payload, fds));
}

FrameHeader header(FrameType t, uint32_t seq, size_t len, size_t nfds) {
  FrameHeader h{};
  h.magic = kMagic;
  h.version = kWireVersion;
  h.type = static_cast<uint16_t>(t);
  h.seq = seq;
  h.payload_len = static_cast<uint32_t>(len);
  h.nfds = static_cast<uint32_t>(nfds);
  return h;
}

TEST(Wire, PackageRoundTripsInChunks) {
  Pair s;
  Package p;
  // > 3 chunks of state, > 2 frames of fds.
  p.state["blob"] = std::string(3 * kMaxChunk + 17, 'x');
  p.state["n"] = 42;
  for (int i = 0; i < 150; i++) {
    UniqueFd e(::eventfd(static_cast<unsigned>(i + 1), EFD_CLOEXEC));
    ASSERT_TRUE(p.fds.add("efd." + std::to_string(i), std::move(e)));
  }
  std::thread sender([&] { ASSERT_TRUE(Channel(s.a.get()).send_package(p)); });
  Channel rx(s.b.get());
  auto got = rx.receive_package(Limits{});
  sender.join();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->state, p.state);
  ASSERT_EQ(got->fds.size(), 150U);
  EXPECT_EQ(got->fds.names(), p.fds.names());
  // The fds are the same eventfds: each one's counter is its index + 1.
  for (int i = 0; i < 150; i++) {
    uint64_t v = 0;
    ASSERT_EQ(::read(got->fds.get("efd." + std::to_string(i)), &v, sizeof v),
              static_cast<ssize_t>(sizeof v))
        << i;
    EXPECT_EQ(v, static_cast<uint64_t>(i + 1)) << i;
  }
}

TEST(Wire, ControlFramesAndAbort) {
  Pair s;
  Channel tx(s.a.get());
  Channel rx(s.b.get());
  ASSERT_TRUE(tx.send(FrameType::kReady, ""));
  EXPECT_TRUE(rx.expect(FrameType::kReady, 1000));
  ASSERT_TRUE(tx.send(FrameType::kAbort, "no room"));
  auto r = rx.expect(FrameType::kCommit, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ECANCELED);
  EXPECT_NE(r.error().message.find("no room"), std::string::npos);
  ASSERT_TRUE(tx.send(FrameType::kStarted, ""));
  r = rx.expect(FrameType::kCommit, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EPROTO);
}

TEST(Wire, TimeoutAndEndOfFile) {
  Pair s;
  Channel rx(s.b.get());
  auto f = rx.receive(50);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ETIMEDOUT);
  s.a.reset();
  f = rx.receive(1000);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ECONNRESET);
}

// Each malformed frame is refused, and the fds it carried are closed.
struct Bad {
  const char* what;
  FrameHeader h;
  std::string payload;
  size_t fds;
};

TEST(Wire, MalformedFramesAreRefusedAndTheirFdsClosed) {
  const std::string four = "abcd";
  std::vector<Bad> cases = {
      {"magic", header(FrameType::kReady, 0, 0, 0), "", 0},
      {"version", header(FrameType::kReady, 0, 0, 0), "", 0},
      {"reserved", header(FrameType::kReady, 0, 0, 0), "", 0},
      {"sequence", header(FrameType::kReady, 5, 0, 0), "", 0},
      {"length", header(FrameType::kState, 0, 9, 0), four, 0},
      {"fd count", header(FrameType::kFds, 0, 4, 3), four, 2},
      {"fds on a control frame", header(FrameType::kReady, 0, 0, 1), "", 1},
      {"type", header(static_cast<FrameType>(77), 0, 0, 0), "", 0},
  };
  cases[0].h.magic = 0xdeadbeef;
  cases[1].h.version = 2;
  cases[2].h.reserved = 1;
  const int before = open_fds();
  for (const Bad& c : cases) {
    Pair s;
    std::vector<int> fds;
    for (size_t i = 0; i < c.fds; i++) {
      fds.push_back(::eventfd(0, EFD_CLOEXEC));
    }
    send_raw(s.a.get(), c.h, c.payload, fds);
    for (int fd : fds) {
      ::close(fd);
    }
    auto f = Channel(s.b.get()).receive(1000);
    ASSERT_FALSE(f) << c.what;
    EXPECT_EQ(f.error().code, EPROTO) << c.what << ": " << f.error().message;
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(Wire, TruncatedFrameIsRefused) {
  Pair s;
  const std::string big(kMaxChunk + 100, 'y');
  send_raw(s.a.get(), header(FrameType::kState, 0, big.size(), 0), big, {});
  auto f = Channel(s.b.get()).receive(1000);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, EPROTO);
}

// Package-level checks: a sender that lies about sizes, names or order.
class PackageCheck : public ::testing::Test {
 protected:
  Pair s;
  Channel tx{s.a.get()};
  Channel rx{s.b.get()};
  Result<Package> receive(Limits l = {}) {
    l.timeout_ms = 1000;
    return rx.receive_package(l);
  }
  void begin(size_t bytes, size_t fds) {
    nlohmann::json b = {{"state_bytes", bytes}, {"fds", fds}};
    ASSERT_TRUE(tx.send(FrameType::kBegin, b.dump()));
  }
  void end(const std::string& state) {
    const uint64_t sum = fnv1a(state);
    std::string p(sizeof sum, '\0');
    std::memcpy(p.data(), &sum, sizeof sum);
    ASSERT_TRUE(tx.send(FrameType::kEnd, p));
  }
};

TEST_F(PackageCheck, Good) {
  begin(2, 1);
  ASSERT_TRUE(tx.send(FrameType::kState, "{}"));
  UniqueFd e(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(tx.send(FrameType::kFds, "x\n", {e.get()}));
  end("{}");
  auto p = receive();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->fds.contains("x"));
}

TEST_F(PackageCheck, StateOverLimit) {
  begin(100, 0);
  Limits l;
  l.max_state_bytes = 99;
  EXPECT_EQ(receive(l).error().code, EPROTO);
}

TEST_F(PackageCheck, MoreStateThanAnnounced) {
  begin(2, 0);
  ASSERT_TRUE(tx.send(FrameType::kState, "{} "));
  EXPECT_EQ(receive().error().code, EPROTO);
}

TEST_F(PackageCheck, MoreFdsThanAnnounced) {
  begin(2, 1);
  ASSERT_TRUE(tx.send(FrameType::kState, "{}"));
  UniqueFd e(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(tx.send(FrameType::kFds, "x\ny\n", {e.get(), e.get()}));
  EXPECT_EQ(receive().error().code, EPROTO);
}

TEST_F(PackageCheck, NamesDoNotMatchFds) {
  begin(2, 2);
  ASSERT_TRUE(tx.send(FrameType::kState, "{}"));
  UniqueFd e(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(tx.send(FrameType::kFds, "x\n", {e.get(), e.get()}));
  EXPECT_EQ(receive().error().code, EPROTO);
}

TEST_F(PackageCheck, BadAndDuplicateNames) {
  for (const char* names : {"a:b\n", "x\nx\n", "\n"}) {
    Pair p;
    Channel t(p.a.get());
    Channel r(p.b.get());
    const size_t n = std::count(names, names + std::strlen(names), '\n');
    nlohmann::json b = {{"state_bytes", 2}, {"fds", n}};
    ASSERT_TRUE(t.send(FrameType::kBegin, b.dump()));
    ASSERT_TRUE(t.send(FrameType::kState, "{}"));
    UniqueFd e(::eventfd(0, EFD_CLOEXEC));
    std::vector<int> fds(n, e.get());
    ASSERT_TRUE(t.send(FrameType::kFds, names, fds));
    Limits l;
    l.timeout_ms = 1000;
    auto got = r.receive_package(l);
    ASSERT_FALSE(got) << names;
    EXPECT_EQ(got.error().code, EPROTO) << names;
  }
}

TEST_F(PackageCheck, EndTooEarlyOrBadChecksum) {
  begin(4, 0);
  ASSERT_TRUE(tx.send(FrameType::kState, "{}"));
  end("{}");
  EXPECT_EQ(receive().error().code, EPROTO);

  Pair p;
  Channel t(p.a.get());
  Channel r(p.b.get());
  nlohmann::json b = {{"state_bytes", 2}, {"fds", 0}};
  ASSERT_TRUE(t.send(FrameType::kBegin, b.dump()));
  ASSERT_TRUE(t.send(FrameType::kState, "{}"));
  const uint64_t wrong = fnv1a("[]");
  std::string pl(sizeof wrong, '\0');
  std::memcpy(pl.data(), &wrong, sizeof wrong);
  ASSERT_TRUE(t.send(FrameType::kEnd, pl));
  Limits l;
  l.timeout_ms = 1000;
  EXPECT_EQ(r.receive_package(l).error().code, EPROTO);
}

TEST_F(PackageCheck, StateNotAnObject) {
  begin(2, 0);
  ASSERT_TRUE(tx.send(FrameType::kState, "[]"));
  end("[]");
  EXPECT_EQ(receive().error().code, EPROTO);
}

TEST_F(PackageCheck, BeginNotJson) {
  ASSERT_TRUE(tx.send(FrameType::kBegin, "{\"state_bytes\": -1}"));
  EXPECT_EQ(receive().error().code, EPROTO);
}

}  // namespace
}  // namespace avm::handover

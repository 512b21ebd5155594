// SPDX-License-Identifier: GPL-2.0
// The two-phase hand-over: a taker that completes gets everything and the
// giver abandons; a taker that fails, aborts, dies or hangs at any step
// leaves the giver serving (resumed), and nobody ever both resumes and
// abandons.
#include "handover/session.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

namespace avm::handover {
namespace {

struct Giver {
  int exports = 0, resumes = 0, abandons = 0;
  GiveHooks hooks() {
    GiveHooks h;
    h.quiesce_and_export = [this]() -> Result<Package> {
      exports++;
      Package p;
      p.state["answer"] = 42;
      for (int i = 0; i < 3; i++) {
        auto ok = p.fds.add("efd." + std::to_string(i), UniqueFd(::eventfd(7, EFD_CLOEXEC)));
        EXPECT_TRUE(ok);
      }
      return p;
    };
    h.resume = [this] { resumes++; };
    h.abandon = [this] { abandons++; };
    return h;
  }
};

struct Sockets {
  UniqueFd giver, taker;
  Sockets() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    giver.reset(sv[0]);
    taker.reset(sv[1]);
  }
};

// A listening socket in a fresh directory (removed with the object).
struct Listener {
  std::filesystem::path dir;
  std::string path;
  UniqueFd fd;
  explicit Listener(const char* tag) {
    dir = std::filesystem::temp_directory_path() /
          ("avm-ho-" + std::string(tag) + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    path = (dir / "h.sock").string();
    auto l = listen_socket(path);
    EXPECT_TRUE(l) << l.error().message;
    if (l) {
      fd = std::move(*l);
    }
  }
  ~Listener() { std::filesystem::remove_all(dir); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
};

Limits quick() {
  Limits l;
  l.timeout_ms = 3000;
  return l;
}

TEST(Session, HandOverCompletes) {
  Sockets s;
  Giver g;
  int adopted = 0, started = 0, discarded = 0;
  uint64_t counter = 0;
  TakeHooks t;
  t.adopt = [&](Package& p) -> Status {
    adopted++;
    EXPECT_EQ(p.state["answer"], 42);
    auto fd = p.fds.take("efd.1");
    EXPECT_TRUE(fd);
    EXPECT_EQ(::read(fd->get(), &counter, sizeof counter), 8);
    return {};
  };
  t.start = [&]() -> Status {
    started++;
    return {};
  };
  t.discard = [&] { discarded++; };
  Status taken;
  std::thread taker([&] { taken = take(s.taker.get(), t, quick()); });
  GiveResult r = give(s.giver.get(), g.hooks(), quick());
  taker.join();
  EXPECT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(r.outcome, GiveOutcome::kHandedOver) << r.why;
  EXPECT_EQ(r.taker, ::getpid());
  EXPECT_EQ(counter, 7U);
  EXPECT_EQ(adopted, 1);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(discarded, 0);
  EXPECT_EQ(g.exports, 1);
  EXPECT_EQ(g.abandons, 1);
  EXPECT_EQ(g.resumes, 0);
}

TEST(Session, TakerRefusesInAdopt) {
  Sockets s;
  Giver g;
  int discarded = 0;
  TakeHooks t;
  t.adopt = [](Package&) -> Status { return make_error(EINVAL, "region too small"); };
  t.start = []() -> Status {
    ADD_FAILURE() << "started after a failed adopt";
    return {};
  };
  t.discard = [&] { discarded++; };
  Status taken;
  std::thread taker([&] { taken = take(s.taker.get(), t, quick()); });
  GiveResult r = give(s.giver.get(), g.hooks(), quick());
  taker.join();
  EXPECT_FALSE(taken);
  EXPECT_EQ(r.outcome, GiveOutcome::kResumed);
  EXPECT_NE(r.why.find("region too small"), std::string::npos) << r.why;
  EXPECT_EQ(discarded, 1);
  EXPECT_EQ(g.resumes, 1);
  EXPECT_EQ(g.abandons, 0);
}

TEST(Session, GiverExportFailsTakerGetsNothing) {
  Sockets s;
  int adopted = 0;
  GiveHooks h;
  int resumes = 0;
  h.quiesce_and_export = []() -> Result<Package> { return make_error(EBUSY, "queue busy"); };
  h.resume = [&] { resumes++; };
  h.abandon = [] { ADD_FAILURE() << "abandoned"; };
  TakeHooks t;
  t.adopt = [&](Package&) -> Status {
    adopted++;
    return {};
  };
  t.start = []() -> Status { return {}; };
  t.discard = [] {};
  Status taken;
  std::thread taker([&] { taken = take(s.taker.get(), t, quick()); });
  GiveResult r = give(s.giver.get(), h, quick());
  taker.join();
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ECANCELED);
  EXPECT_EQ(adopted, 0);
  EXPECT_EQ(resumes, 1);
  EXPECT_EQ(r.outcome, GiveOutcome::kResumed);
}

TEST(Session, TakerSpeaksAnotherVersion) {
  Sockets s;
  Giver g;
  std::thread taker([&] {
    Channel ch(s.taker.get());
    ASSERT_TRUE(ch.send(FrameType::kHello, R"({"version": 99, "pid": 1})"));
    auto f = ch.receive(3000);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->type, FrameType::kAbort);
  });
  GiveResult r = give(s.giver.get(), g.hooks(), quick());
  taker.join();
  EXPECT_EQ(r.outcome, GiveOutcome::kResumed);
  EXPECT_EQ(g.exports, 0);  // nothing was quiesced
  EXPECT_EQ(g.resumes, 0);
}

// A real second process that dies at a given step.
enum class DieAt { kMidPackage, kBeforeReady, kAfterCommit };

pid_t fork_taker(int sock, DieAt when) {
  const pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  Channel ch(sock);
  (void)ch.send(FrameType::kHello, R"({"version": 1, "pid": 0})");
  (void)ch.receive(3000);  // BEGIN
  if (when == DieAt::kMidPackage) {
    ::_exit(0);
  }
  while (auto f = ch.receive(3000)) {
    if (f->type == FrameType::kEnd) {
      break;
    }
  }
  if (when == DieAt::kBeforeReady) {
    ::_exit(0);
  }
  (void)ch.send(FrameType::kReady, "");
  (void)ch.receive(3000);  // COMMIT
  ::_exit(0);              // dies without STARTED
}

class DyingTaker : public ::testing::TestWithParam<DieAt> {};

TEST_P(DyingTaker, GiverResumes) {
  Sockets s;
  Giver g;
  const pid_t pid = fork_taker(s.taker.get(), GetParam());
  ASSERT_GT(pid, 0);
  s.taker.reset();
  GiveResult r = give(s.giver.get(), g.hooks(), quick());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(r.outcome, GiveOutcome::kResumed);
  EXPECT_EQ(g.exports, 1);
  EXPECT_EQ(g.resumes, 1);
  EXPECT_EQ(g.abandons, 0);
}

INSTANTIATE_TEST_SUITE_P(Steps, DyingTaker,
                         ::testing::Values(DieAt::kMidPackage, DieAt::kBeforeReady,
                                           DieAt::kAfterCommit));

TEST(Session, SilentTakerAfterCommitIsKilledThenGiverResumes) {
  // A socket the child connects itself, so SO_PEERCRED names the child.
  Listener l("k");
  const std::string& path = l.path;
  Giver g;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = connect_socket(path);
    if (!c) {
      ::_exit(1);
    }
    Channel ch(c->get());
    (void)ch.send(FrameType::kHello, R"({"version": 1, "pid": 0})");
    while (auto f = ch.receive(3000)) {
      if (f->type == FrameType::kEnd) {
        break;
      }
    }
    (void)ch.send(FrameType::kReady, "");
    ::pause();  // hangs after COMMIT
    ::_exit(0);
  }
  auto sock = accept_peer(l.fd.get(), 3000);
  ASSERT_TRUE(sock) << sock.error().message;
  EXPECT_EQ(peer_pid(sock->get()), pid);
  Limits lim;
  lim.timeout_ms = 500;
  GiveResult r = give(sock->get(), g.hooks(), lim);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(r.outcome, GiveOutcome::kResumed);
  EXPECT_EQ(g.resumes, 1);
  EXPECT_EQ(g.abandons, 0);
}

TEST(Session, GiverDiesMidPackageTakerDiscards) {
  Sockets s;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Channel ch(s.giver.get());
    (void)ch.receive(3000);  // HELLO
    (void)ch.send(FrameType::kBegin, R"({"state_bytes": 100, "fds": 0})");
    ::_exit(0);
  }
  s.giver.reset();
  TakeHooks t;
  t.adopt = [](Package&) -> Status {
    ADD_FAILURE() << "adopted a partial package";
    return {};
  };
  t.start = []() -> Status { return {}; };
  t.discard = [] {};
  auto taken = take(s.taker.get(), t, quick());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ECONNRESET);
}

TEST(Session, SocketsRefuseNothingFromOurUid) {
  Listener l("s");
  const std::string& path = l.path;
  auto c = connect_socket(path);
  ASSERT_TRUE(c) << c.error().message;
  auto a = accept_peer(l.fd.get(), 3000);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(peer_pid(a->get()), ::getpid());
  // A second listen replaces the stale file.
  l.fd.reset();
  auto again = listen_socket(path);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(accept_peer(again->get(), 10).error().code, ETIMEDOUT);
}

}  // namespace
}  // namespace avm::handover

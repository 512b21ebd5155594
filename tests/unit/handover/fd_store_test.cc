// SPDX-License-Identifier: GPL-2.0
// systemd's FD store, without systemd: fdstore_save() against a fake
// NOTIFY_SOCKET (we read the datagrams and their fds the way the service
// manager does), and fdstore_load() in a child process that gets those fds
// at 3.. with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, as a restarted
// service would.
#include "handover/fd_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

// The environment (setenv/getenv) is changed only by the test thread or
// a forked child.
// NOLINTBEGIN(concurrency-mt-unsafe)
namespace avm::handover {
namespace {

// What the fake service manager keeps: name -> fd, as systemd does with
// FDSTORE=1 / FDSTOREREMOVE=1.
class FakeManager {
 public:
  FakeManager() {
    dir_ = std::filesystem::temp_directory_path() / ("avm-fds-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "notify").string();
    sock_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(sock_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);  // NOLINT
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeManager() {
    ::unsetenv("NOTIFY_SOCKET");
    std::filesystem::remove_all(dir_);
  }
  FakeManager(const FakeManager&) = delete;
  FakeManager& operator=(const FakeManager&) = delete;

  // Applies every datagram waiting on the socket.
  void drain() {
    for (;;) {
      char buf[4096];
      char control[CMSG_SPACE(sizeof(int) * 16)];
      iovec iov{buf, sizeof buf - 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(sock_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) {
        return;
      }
      buf[n] = '\0';
      std::vector<UniqueFd> fds;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          fds.emplace_back(fd);
        }
      }
      const std::string text(buf);
      messages.push_back(text);
      const auto name_at = text.find("FDNAME=");
      const std::string name = name_at == std::string::npos ? "" : text.substr(name_at + 7);
      if (text.find("FDSTOREREMOVE=1") != std::string::npos) {
        store.erase(name);
      } else if (text.find("FDSTORE=1") != std::string::npos) {
        for (auto& fd : fds) {
          store[name].push_back(std::move(fd));
        }
      }
    }
  }

  std::map<std::string, std::vector<UniqueFd>> store;
  std::vector<std::string> messages;

 private:
  std::filesystem::path dir_;
  std::string path_;
  UniqueFd sock_;
};

Package sample() {
  Package p;
  p.state = {{"instances", {{"vm1", {{"epoch", 3}}}}}};
  EXPECT_TRUE(p.fds.add("region.vm1", UniqueFd(::memfd_create("r", MFD_CLOEXEC))));
  EXPECT_TRUE(p.fds.add("vm1.v0", UniqueFd(::eventfd(5, EFD_CLOEXEC))));
  return p;
}

TEST(FdStore, SaveWithoutServiceManagerIsNotSupported) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(fdstore_save(sample()).error().code, ENOTSUP);
}

TEST(FdStore, SaveStoresEveryFdAndASealedState) {
  FakeManager m;
  ASSERT_TRUE(fdstore_save(sample()));
  m.drain();
  ASSERT_EQ(m.store.size(), 3U);
  ASSERT_EQ(m.store["vm1.v0"].size(), 1U);
  uint64_t v = 0;
  ASSERT_EQ(::read(m.store["vm1.v0"][0].get(), &v, sizeof v), 8);
  EXPECT_EQ(v, 5U);
  ASSERT_EQ(m.store[std::string(kStateName)].size(), 1U);
  const int state = m.store[std::string(kStateName)][0].get();
  auto j = read_state_memfd(state, 1 << 20);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["state"]["instances"]["vm1"]["epoch"], 3);
  EXPECT_EQ((*j)["fds"], nlohmann::json({"region.vm1", "vm1.v0"}));
  // Sealed: nobody rewrites the state under the next process.
  EXPECT_LT(::pwrite(state, "x", 1, 0), 0);
  // The state is the last message, after every fd it names.
  EXPECT_NE(m.messages.back().find(std::string("FDNAME=") + std::string(kStateName)),
            std::string::npos);
  // Saving again replaces rather than accumulates.
  ASSERT_TRUE(fdstore_save(sample()));
  m.drain();
  EXPECT_EQ(m.store.size(), 3U);
  EXPECT_EQ(m.store["vm1.v0"].size(), 1U);
  EXPECT_EQ(m.store[std::string(kStateName)].size(), 1U);
}

TEST(FdStore, UnsealedOrOversizedStateIsRefused) {
  UniqueFd m(::memfd_create("s", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_EQ(::write(m.get(), "{}", 2), 2);
  EXPECT_EQ(read_state_memfd(m.get(), 100).error().code, EINVAL);  // not sealed
  auto sealed = make_state_memfd(nlohmann::json{{"k", std::string(200, 'x')}});
  ASSERT_TRUE(sealed);
  EXPECT_EQ(read_state_memfd(sealed->get(), 100).error().code, EINVAL);  // too big
  EXPECT_TRUE(read_state_memfd(sealed->get(), 1000));
  UniqueFd e(::eventfd(0, EFD_CLOEXEC));
  EXPECT_EQ(read_state_memfd(e.get(), 1000).error().code, EINVAL);  // not a memfd
}

// In a child: the stored fds at 3.., the LISTEN_* environment, then
// fdstore_load().  Exit code 0 when everything checked out; what was
// removed from the store comes back through the notify socket.
int load_in_child(FakeManager& m, bool with_state) {
  std::vector<std::pair<std::string, int>> fds;
  for (auto& [name, v] : m.store) {
    if (!with_state && name == kStateName) {
      continue;
    }
    fds.emplace_back(name, v[0].get());
  }
  fds.emplace_back("control.socket", m.store["vm1.v0"][0].get());  // another unit's fd
  const pid_t pid = ::fork();
  if (pid != 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
  }
  // Move the sources out of the way, then place them at 3...
  std::vector<int> high;
  high.reserve(fds.size());
  for (auto& [name, fd] : fds) {
    high.push_back(::fcntl(fd, F_DUPFD, 200));
  }
  std::string names;
  for (size_t i = 0; i < fds.size(); i++) {
    ::dup2(high[i], 3 + static_cast<int>(i));
    names += (i ? ":" : "") + fds[i].first;
  }
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
  ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
  auto got = fdstore_load();
  if (!got) {
    ::_exit(10);
  }
  if (::getenv("LISTEN_FDS") != nullptr) {
    ::_exit(11);  // the environment must be unset for children
  }
  if (got->others.size() != (with_state ? 1U : 3U)) {
    ::_exit(12);
  }
  if (!with_state) {
    ::_exit(got->package ? 13 : 0);
  }
  if (!got->package || got->package->state["instances"]["vm1"]["epoch"] != 3) {
    ::_exit(14);
  }
  uint64_t v = 0;
  if (::read(got->package->fds.get("vm1.v0"), &v, sizeof v) != 8 || v != 5) {
    ::_exit(15);
  }
  if (got->package->fds.size() != 2 || got->others[0].first != "control.socket") {
    ::_exit(16);
  }
  ::_exit(0);
}

TEST(FdStore, LoadAdoptsOnceAndLeavesOthersAlone) {
  FakeManager m;
  ASSERT_TRUE(fdstore_save(sample()));
  m.drain();
  m.messages.clear();
  ASSERT_EQ(load_in_child(m, true), 0);
  m.drain();
  // What was adopted is removed from the store: region, vector, state.
  EXPECT_EQ(m.store.count("vm1.v0"), 0U);
  EXPECT_EQ(m.store.count("region.vm1"), 0U);
  EXPECT_EQ(m.store.count(std::string(kStateName)), 0U);
  EXPECT_EQ(m.messages.size(), 3U);
}

TEST(FdStore, LoadWithoutStateAdoptsNothing) {
  FakeManager m;
  ASSERT_TRUE(fdstore_save(sample()));
  m.drain();
  m.messages.clear();
  EXPECT_EQ(load_in_child(m, false), 0);
  m.drain();
  EXPECT_TRUE(m.messages.empty());
}

}  // namespace
}  // namespace avm::handover
// NOLINTEND(concurrency-mt-unsafe)

// SPDX-License-Identifier: GPL-2.0
#include "lib/listen_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace avm {
namespace {

class ListenSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-ls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0);
    return st.st_mode;
  }
  // A socket file nobody listens on: bound, then closed.
  void make_stale_socket() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());  // NOLINT: length checked by the test dir
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  bool can_connect(int type = SOCK_STREAM) const {
    UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());  // NOLINT: length checked by the test dir
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ListenSocketTest, CreatesSocketWithExactMode) {
  for (mode_t mode : {0600, 0660, 0666}) {
    auto ls = ListenSocket::create(path_, mode, 4);
    ASSERT_TRUE(ls) << ls.error().message;
    EXPECT_TRUE(S_ISSOCK(mode_of(path_)));
    EXPECT_EQ(mode_of(path_) & 07777, mode);
    EXPECT_TRUE(::fcntl(ls->fd(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(ls->fd(), F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(can_connect());
  }
}

TEST_F(ListenSocketTest, CloseRemovesTheFile) {
  auto ls = ListenSocket::create(path_, 0600, 4);
  ASSERT_TRUE(ls);
  ls->close();
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_EQ(ls->fd(), -1);
}

TEST_F(ListenSocketTest, DestructorRemovesTheFile) {
  {
    auto ls = ListenSocket::create(path_, 0600, 4);
    ASSERT_TRUE(ls);
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ListenSocketTest, StaleSocketIsReplaced) {
  make_stale_socket();
  ASSERT_TRUE(std::filesystem::is_socket(path_));
  ASSERT_FALSE(can_connect());
  auto ls = ListenSocket::create(path_, 0600, 4);
  ASSERT_TRUE(ls) << ls.error().message;
  EXPECT_TRUE(can_connect());
}

TEST_F(ListenSocketTest, LiveSocketIsNotStolen) {
  auto first = ListenSocket::create(path_, 0600, 4);
  ASSERT_TRUE(first);
  auto second = ListenSocket::create(path_, 0600, 4);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EADDRINUSE);
  EXPECT_TRUE(can_connect());  // the first one still owns the path
}

// The probe for a live listener speaks the socket's own type (a stream
// probe of a seqpacket listener fails with EPROTOTYPE, not EADDRINUSE).
TEST_F(ListenSocketTest, LiveSeqpacketSocketIsNotStolen) {
  const ListenOptions seqpacket{.type = SOCK_SEQPACKET};
  auto first = ListenSocket::create(path_, 0600, 4, seqpacket);
  ASSERT_TRUE(first) << first.error().message;
  auto second = ListenSocket::create(path_, 0600, 4, seqpacket);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EADDRINUSE) << second.error().message;
  EXPECT_TRUE(can_connect(SOCK_SEQPACKET));
  EXPECT_FALSE(can_connect(SOCK_STREAM));
}

// The hand-over socket: a successor takes the path from a live predecessor.
TEST_F(ListenSocketTest, ReplaceLiveTakesThePath) {
  const ListenOptions handover{.type = SOCK_SEQPACKET, .replace_live = true};
  auto first = ListenSocket::create(path_, 0600, 4, handover);
  ASSERT_TRUE(first) << first.error().message;
  auto second = ListenSocket::create(path_, 0600, 4, handover);
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(can_connect(SOCK_SEQPACKET));
  UniqueFd to_second(::accept4(second->fd(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(to_second);
  UniqueFd to_first(::accept4(first->fd(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_FALSE(to_first);
  first->close();  // the file is the successor's now: it stays
  EXPECT_TRUE(std::filesystem::is_socket(path_));
}

TEST_F(ListenSocketTest, ReleaseHandsOutTheFdAndKeepsTheFile) {
  UniqueFd fd;
  {
    auto ls = ListenSocket::create(path_, 0600, 4);
    ASSERT_TRUE(ls);
    fd = ls->release();
    EXPECT_EQ(ls->fd(), -1);
  }
  EXPECT_TRUE(fd);
  EXPECT_TRUE(std::filesystem::is_socket(path_));
  EXPECT_TRUE(can_connect());
}

TEST_F(ListenSocketTest, NonSocketIsNotTouched) {
  { std::ofstream(path_) << "precious"; }
  auto ls = ListenSocket::create(path_, 0600, 4);
  ASSERT_FALSE(ls);
  EXPECT_EQ(ls.error().code, EEXIST);
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ListenSocketTest, SuccessorsFileIsNotRemoved) {
  auto first = ListenSocket::create(path_, 0600, 4);
  ASSERT_TRUE(first);
  // Someone removes our file and a new server takes the path.
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  auto second = ListenSocket::create(path_, 0600, 4);
  ASSERT_TRUE(second);
  first->close();
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_TRUE(can_connect());
}

TEST_F(ListenSocketTest, TooLongPathIsRejected) {
  const std::string long_path = dir_ + "/" + std::string(sizeof(sockaddr_un{}.sun_path), 'x');
  auto ls = ListenSocket::create(long_path, 0600, 4);
  ASSERT_FALSE(ls);
  EXPECT_EQ(ls.error().code, ENAMETOOLONG);
}

TEST_F(ListenSocketTest, MissingDirectoryIsAnError) {
  auto ls = ListenSocket::create(dir_ + "/no/such/dir.sock", 0600, 4);
  ASSERT_FALSE(ls);
  EXPECT_EQ(ls.error().code, ENOENT);
}

}  // namespace
}  // namespace avm

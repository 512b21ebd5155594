// SPDX-License-Identifier: GPL-2.0
// run_in_netns: the helper is an IoThread (named, an exception is an
// error), it joins the namespace, and a namespace it cannot join is the
// caller's error with @fn not run.
#include "venet/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "bridge/io_thread.h"
#include "lib/unique_fd.h"

namespace avm {
namespace {

ino_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

ino_t inode_of(const char* path) {
  struct stat st {};
  EXPECT_EQ(::stat(path, &st), 0) << path;
  return st.st_ino;
}

// A new network namespace, held by an fd (made on a thread of its own, so
// this thread stays where it is).
UniqueFd new_netns() {
  UniqueFd fd;
  std::thread([&fd] {
    if (::unshare(CLONE_NEWNET) == 0) {
      fd = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    }
  }).join();
  return fd;
}

TEST(RunInNetns, RunsOnANamedHelperInTheNamespace) {
  UniqueFd ns = new_netns();
  ASSERT_TRUE(ns) << "unshare(CLONE_NEWNET) needs root";
  ASSERT_NE(inode_of(ns.get()), inode_of("/proc/self/ns/net"));
  std::string name;
  ino_t inode = 0;
  auto ok = run_in_netns(ns.get(), [&] {
    name = current_thread_name();
    inode = inode_of("/proc/thread-self/ns/net");
  });
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(name, "avm-netns");
  EXPECT_EQ(inode, inode_of(ns.get()));
  EXPECT_NE(inode_of("/proc/thread-self/ns/net"), inode) << "the caller moved";
}

TEST(RunInNetns, AnExceptionIsTheCallersError) {
  UniqueFd ns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ns);
  auto ok = run_in_netns(ns.get(), [] { throw std::runtime_error("boom"); });
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, EFAULT);
  EXPECT_NE(ok.error().message.find("boom"), std::string::npos) << ok.error().message;
}

TEST(RunInNetns, ANamespaceItCannotJoinIsSetnsErrnoAndNothingRuns) {
  bool ran = false;
  auto ok = run_in_netns(-1, [&] { ran = true; });
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, EBADF);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace avm

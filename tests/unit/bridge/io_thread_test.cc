// SPDX-License-Identifier: GPL-2.0
#include "bridge/io_thread.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace avm {
namespace {

TEST(IoThreadTest, NamesTheThreadAndReportsNothingOnSuccess) {
  std::string name;
  bool failed = false;
  auto t = IoThread::start(
      "avm-venet-12345678",
      [&]() -> Status {
        name = current_thread_name();
        return {};
      },
      [&](const Error&) { failed = true; });
  ASSERT_TRUE(t);
  t->join();
  EXPECT_EQ(name, "avm-venet-12345");  // cut to 15 characters
  EXPECT_FALSE(failed);
}

TEST(IoThreadTest, ReportsAReturnedError) {
  Error got;
  auto t = IoThread::start(
      "t", []() -> Status { return make_error(EPROTO, "bad descriptor"); },
      [&](const Error& e) { got = e; });
  ASSERT_TRUE(t);
  t->join();
  EXPECT_EQ(got.code, EPROTO);
  EXPECT_EQ(got.message, "bad descriptor");
}

TEST(IoThreadTest, ReportsAnEscapedException) {
  Error got;
  auto t = IoThread::start(
      "t", []() -> Status { throw std::runtime_error("boom"); }, [&](const Error& e) { got = e; });
  ASSERT_TRUE(t);
  t->join();
  EXPECT_EQ(got.code, EFAULT);
  EXPECT_NE(got.message.find("boom"), std::string::npos);
}

TEST(IoThreadTest, MoveAssignJoinsTheOldThread) {
  std::atomic<int> n{0};
  auto a = IoThread::start(
      "a",
      [&]() -> Status {
        n++;
        return {};
      },
      nullptr);
  ASSERT_TRUE(a);
  IoThread t = std::move(*a);
  EXPECT_TRUE(t.running());
  auto b = IoThread::start(
      "b",
      [&]() -> Status {
        n++;
        return {};
      },
      nullptr);
  ASSERT_TRUE(b);
  t = std::move(*b);
  t.join();
  EXPECT_FALSE(t.running());
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace avm

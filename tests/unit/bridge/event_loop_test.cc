// SPDX-License-Identifier: GPL-2.0
#include "bridge/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "bridge/io_thread.h"

namespace avm {
namespace {

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = EventLoop::create();
    ASSERT_TRUE(l);
    loop_ = std::move(*l);
  }
  void start() {
    thread_ = std::thread([this] { loop_->run(); });
    loop_->wait_running();
  }
  void TearDown() override {
    loop_->request_stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
};

TEST_F(EventLoopTest, PostedTasksRunOnTheLoopThreadInOrder) {
  start();
  std::vector<int> order;
  std::thread::id where;
  for (int i = 0; i < 5; i++) {
    loop_->post([&, i] {
      order.push_back(i);
      where = std::this_thread::get_id();
    });
  }
  loop_->run_sync([] {});
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(where, thread_.get_id());
}

// run_sync never runs work on the caller's thread (issue 19): without a
// loop thread it runs nothing and says so (it used to run the task here).
TEST_F(EventLoopTest, RunSyncRunsOnlyOnTheLoopThread) {
  int x = 0;
  EXPECT_FALSE(loop_->run_sync([&] { x = 1; }));
  EXPECT_EQ(x, 0);
  start();
  bool on_loop = false;
  EXPECT_TRUE(loop_->run_sync([&] { on_loop = loop_->on_loop_thread(); }));
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop_->on_loop_thread());
  // Stopped again: nothing runs, and nothing is left to run later.
  loop_->request_stop();
  thread_.join();
  EXPECT_FALSE(loop_->run_sync([&] { x = 2; }));
  loop_->clear_stop();
  start();
  EXPECT_TRUE(loop_->run_sync([] {}));
  EXPECT_EQ(x, 0);
}

TEST_F(EventLoopTest, RunSyncFromTheLoopThreadIsAnOwnershipBug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        start();
        loop_->post([this] { loop_->run_sync([] {}); });
        thread_.join();
      },
      "thread_ != std::this_thread::get_id");
}

// A loop whose thread dies of an exception (IoThread reports it) does not
// leave a run_sync caller waiting forever.
TEST_F(EventLoopTest, RunSyncReturnsWhenTheLoopThreadDies) {
  std::string failure;
  auto t = IoThread::start(
      "avm-test-loop",
      [this] {
        loop_->run();
        return Status{};
      },
      [&failure](const Error& e) { failure = e.message; });
  ASSERT_TRUE(t);
  loop_->wait_running();
  std::atomic<bool> ran{false};
  loop_->post([] { throw std::runtime_error("callback bug"); });
  EXPECT_FALSE(loop_->run_sync([&] { ran = true; }));
  t->join();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(loop_->running());
  EXPECT_NE(failure.find("callback bug"), std::string::npos) << failure;
}

TEST_F(EventLoopTest, FdCallbacksFireAndCanBeRemoved) {
  auto e = EventFd::create();
  ASSERT_TRUE(e);
  std::atomic<int> fired{0};
  ASSERT_TRUE(loop_->add(e->fd(), EPOLLIN, [&](uint32_t) {
    e->consume();
    fired++;
  }));
  EXPECT_FALSE(loop_->add(e->fd(), EPOLLIN, [](uint32_t) {}));
  e->signal();
  EXPECT_TRUE(loop_->run_once(1000));
  EXPECT_EQ(fired, 1);
  loop_->remove(e->fd());
  e->signal();
  EXPECT_TRUE(loop_->run_once(0));
  EXPECT_EQ(fired, 1);
}

TEST_F(EventLoopTest, StopIsReservedAndClearable) {
  loop_->request_stop();
  EXPECT_TRUE(loop_->stop_requested());
  EXPECT_FALSE(loop_->run_once(0));
  loop_->clear_stop();
  EXPECT_TRUE(loop_->run_once(0));
  start();
  loop_->request_stop();
  thread_.join();
}

}  // namespace
}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// LogCapture: what spdlog's default logger writes while it lives, as
// lines of bare messages.  Make it a fixture member, so it is installed
// before SetUp() starts any thread and removed after TearDown() joined
// them (spdlog's default logger must not change under a logging thread).
#pragma once

#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace avm::test {

class LogCapture {
 public:
  LogCapture()
      : previous_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kLines)) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    // The bare message, no end of line.
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%v", spdlog::pattern_time_type::local, std::string()));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The lines that contain @needle, oldest first.
  std::vector<std::string> lines(std::string_view needle = {}) const {
    std::vector<std::string> out;
    for (std::string& l : sink_->last_formatted()) {
      if (l.find(needle) != std::string::npos) {
        out.push_back(std::move(l));
      }
    }
    return out;
  }

 private:
  static constexpr size_t kLines = 100000;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// @lines, what a LogThrottle (bridge/counter.h) lets through of 3000
// occurrences of @line: the first ten, then the 1024th and the 2048th,
// each with how many it held back (1013, then 1023).
inline constexpr int kLogStorm = 3000;
inline void expect_throttled(const std::vector<std::string>& lines, const std::string& line) {
  ASSERT_EQ(lines.size(), 12U);
  for (size_t i = 0; i < 10; i++) {
    EXPECT_EQ(lines[i], line) << i;
  }
  EXPECT_EQ(lines[10], line + " (1013 earlier quarantines not logged)");
  EXPECT_EQ(lines[11], line + " (1023 earlier quarantines not logged)");
}

}  // namespace avm::test

// SPDX-License-Identifier: GPL-2.0
// avm::Counter: a statistics counter written by one thread and read by
// any (metrics, tests).  Relaxed atomics: a counter orders nothing else,
// and a reader only needs each value to be one that was written.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace avm {

class Counter {
 public:
  // Relaxed: single writer, the value orders no other memory.
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  // Relaxed: a statistics read.
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Log throttling for events a guest can trigger at will: the first ten
// occurrences, then every 1024th (@count is the counter after the bump).
inline bool log_worthy(uint64_t count) {
  return count <= 10 || count % 1024 == 0;
}

// log_worthy() for one source (a device, say), remembering what it held
// back so the next line it lets through can say so.  One thread.
//
//   if (throttle.admit()) {
//     spdlog::warn("{}: quarantined: {}{}", who, why, throttle.held_back("quarantines"));
//   }
class LogThrottle {
 public:
  // One more occurrence: true if it is worth a line.  Then suppressed() is
  // the number of occurrences held back since the previous line.
  bool admit() {
    count_++;
    if (!log_worthy(count_)) {
      held_++;
      return false;
    }
    suppressed_ = held_;
    held_ = 0;
    return true;
  }
  uint64_t suppressed() const { return suppressed_; }
  uint64_t count() const { return count_; }
  // After admit(): " (N earlier @what not logged)" when N were held back,
  // else "" -- the tail of the line admit() let through.
  std::string held_back(std::string_view what) const {
    if (suppressed_ == 0) {
      return {};
    }
    return " (" + std::to_string(suppressed_) + " earlier " + std::string(what) + " not logged)";
  }

 private:
  uint64_t count_ = 0;
  uint64_t held_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace avm

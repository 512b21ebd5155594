// SPDX-License-Identifier: GPL-2.0
// avm::UniqueFd: sole owner of a file descriptor, closes it on destruction.
#pragma once

#include "lib/error.h"

namespace avm {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of @fd (-1 means "none").
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing; returns the fd.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the current fd (if any) and takes ownership of @fd.
  void reset(int fd = -1);

  // A new owner of a duplicate (F_DUPFD_CLOEXEC) of this fd.
  Result<UniqueFd> dup() const;

 private:
  int fd_ = -1;
};

}  // namespace avm

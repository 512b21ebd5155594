// SPDX-License-Identifier: GPL-2.0
#include "lib/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

namespace avm {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) {
    // close() errors cannot be acted upon (the fd is gone either way).
    ::close(fd_);
  }
  fd_ = fd;
}

Result<UniqueFd> UniqueFd::dup() const {
  if (fd_ < 0) {
    return make_error(EBADF, "dup: no file descriptor");
  }
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    return errno_error("dup");
  }
  return UniqueFd(fd);
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/detach.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/unique_fd.h"

namespace avm {

Status detach() {
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) {
    return errno_error("open /dev/null");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return errno_error("fork");
  }
  if (pid > 0) {
    ::_exit(0);
  }
  if (::setsid() < 0) {
    return errno_error("setsid");
  }
  if (::dup2(null.get(), STDIN_FILENO) < 0) {
    return errno_error("dup2");
  }
  return {};
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "lib/error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace avm {

std::string errno_text(int err) {
  // glibc's strerrordesc_np() returns a constant string: no shared buffer.
  const char* text = ::strerrordesc_np(err);
  return text != nullptr ? text : "error " + std::to_string(err);
}

tl::unexpected<Error> make_error(int code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

tl::unexpected<Error> errno_error(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += errno_text(err);
  return make_error(err, std::move(msg));
}

tl::unexpected<Error> errno_error(std::string_view what) {
  const int err = errno;
  return errno_error(err, what);
}

void fatal(const char* file, int line, const char* what) {
  std::fprintf(stderr, "avm: fatal: %s:%d: %s\n", file, line, what);  // NOLINT(cert-err33-c)
  std::abort();
}

}  // namespace avm

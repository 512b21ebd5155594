// SPDX-License-Identifier: GPL-2.0
// avm::Error and avm::Result: the control-path error type of libavm.
//
// Error policy (whole project):
//  - no exceptions on the I/O path;
//  - the control path returns Result<T> (tl::expected<T, Error>);
//  - "cannot happen" (a broken invariant of our own code) is AVM_CHECK, which
//    aborts, never a silent degrade;
//  - anything a guest can write is hostile input: it yields an Error (or a
//    counter), never an abort.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace avm {

// An errno-style code (positive, e.g. EINVAL) and a human-readable message.
struct Error {
  int code = 0;
  std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;

// Result<void> for operations that only succeed or fail.
using Status = Result<void>;

// Error{code, message}, wrapped for returning from a Result function.
tl::unexpected<Error> make_error(int code, std::string message);

// The description of an errno value ("No such file or directory"), safe to
// call from any thread (strerror() is not).
std::string errno_text(int err);

// Error from the current errno: "what: strerror(errno)".  Reads errno first.
tl::unexpected<Error> errno_error(std::string_view what);

// Error from an explicit errno value: "what: strerror(err)".
tl::unexpected<Error> errno_error(int err, std::string_view what);

// Aborts the process with a message; used for broken invariants.
[[noreturn]] void fatal(const char* file, int line, const char* what);

}  // namespace avm

// "Cannot happen": aborts with file:line and the failed condition.
#define AVM_CHECK(cond)                        \
  do {                                         \
    if (!(cond)) [[unlikely]] {                \
      ::avm::fatal(__FILE__, __LINE__, #cond); \
    }                                          \
  } while (0)

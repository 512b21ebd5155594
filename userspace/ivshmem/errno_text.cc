// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/errno_text.h"

#include <cstring>

namespace avm::ivshmem {

std::string errno_text(int err) {
  // glibc's strerrordesc_np() returns a constant string: no shared buffer.
  const char* text = ::strerrordesc_np(err);
  return text != nullptr ? text : "error " + std::to_string(err);
}

}  // namespace avm::ivshmem

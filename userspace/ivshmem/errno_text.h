// SPDX-License-Identifier: GPL-2.0
// errno_text(): the description of an errno value, thread-safe (strerror
// is not), for log lines.
#pragma once

#include <string>

namespace avm::ivshmem {

std::string errno_text(int err);

}  // namespace avm::ivshmem

// SPDX-License-Identifier: GPL-2.0
// Byte sizes as people write them on a command line: "4M", "16MiB", "1G",
// "65536", "64k".  Suffixes are binary (K = 1024).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/error.h"

namespace avm {

// EINVAL for anything that is not a number with an optional K/M/G/T
// suffix (optionally followed by "iB" or "B"), ERANGE on overflow.
Result<uint64_t> parse_size(std::string_view text);

// "4 MiB", "1 GiB", "65536 B": the largest unit that divides @bytes.
std::string format_size(uint64_t bytes);

}  // namespace avm

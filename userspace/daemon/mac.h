// SPDX-License-Identifier: GPL-2.0
// Ethernet station addresses as people write them: "52:54:00:12:34:56".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/error.h"

namespace avm {

using MacAddress = std::array<uint8_t, 6>;

// Six hex bytes, ':' or '-' separated; EINVAL ("invalid MAC address 'X'")
// otherwise.
Result<MacAddress> parse_mac(std::string_view text);
// "52:54:00:12:34:56" (lower case, ':').
std::string format_mac(const MacAddress& mac);

}  // namespace avm

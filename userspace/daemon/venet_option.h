// SPDX-License-Identifier: GPL-2.0
// The --venet option of alacrityvmd: one venet device, described as
// comma-separated key=value pairs,
//
//   tap=avmtap0,mac=52:54:00:12:34:56,mtu=1500,netns=avm-test,link=up,ring=256,buf=7680
//
// | key   | meaning                                              | default           |
// |-------|------------------------------------------------------|-------------------|
// | tap   | TAP interface to create (or attach to)               | required          |
// | mac   | guest's station address, unicast                     | 52:54:00:12:34:56 |
// | mtu   | guest MTU, 68..65535                                 | 1500              |
// | netns | network namespace (/run/netns/NAME) to create the TAP in | the daemon's  |
// | link  | host-side carrier at start: up or down               | up                |
// | ring  | entries per ring, a power of two up to 4096          | 256               |
// | buf   | bytes per pool buffer                                | 7680              |
//
// The full configuration (TOML file, JSON-RPC) replaces this later; it
// fills the same VenetConfig.
#pragma once

#include <string>
#include <string_view>

#include "lib/error.h"
#include "venet/venet_config.h"

namespace avm {

struct VenetOption {
  VenetConfig config;
  std::string netns;  // "" = the daemon's own namespace
};

// EINVAL naming the key for anything malformed, unknown or repeated, or a
// config venet's own validate() refuses.
Result<VenetOption> parse_venet_option(std::string_view text);

// "52:54:00:12:34:56" (six hex bytes, ':' or '-' separated).
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text);

}  // namespace avm

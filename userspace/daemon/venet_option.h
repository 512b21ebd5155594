// SPDX-License-Identifier: GPL-2.0
// The --venet option of alacrityvmd: the legacy instance's one venet
// device, described as comma-separated key=value pairs,
//
//   tap=avmtap0,mac=52:54:00:12:34:56,mtu=1500,netns=avm-test,link=up,ring=256,buf=7680
//
// Its keys are the device fields (spec_fields.h) that have a legacy_key:
// tap (required), mac, mtu, netns, link, ring (ring_size), buf (buf_size),
// rx_coalesce_us, busy_poll_max_us; their values, ranges and defaults are
// the device spec's, except that mac defaults to 52:54:00:12:34:56.
#pragma once

#include <string_view>

#include "daemon/spec.h"
#include "lib/error.h"

namespace avm {

// The device "default-net0" of instance "default" (backend "user", origin
// kLegacy) that @text describes.  EINVAL naming the key for anything
// malformed, unknown or repeated, or that the spec's check() refuses.
Result<DeviceSpec> parse_venet_option(std::string_view text);

}  // namespace avm

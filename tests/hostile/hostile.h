// SPDX-License-Identifier: GPL-2.0
// avm-hostile: a malicious guest (and a buggy host) for alacrityvmd and the
// guest drivers.  See tests/hostile/README.md and docs/security.md.
//
//   avm-hostile good   --socket S --ifname TAP ...   well-behaved guest, traffic
//   avm-hostile attack --socket S --ifname TAP NAME  one attack on a daemon
//   avm-hostile host-bug --socket S MODE            corrupt what a QEMU guest reads
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace avm::hostile {

struct GoodOptions {
  std::string socket;
  std::string ifname;  // the daemon's TAP, in this namespace
  unsigned vectors = 4;
  unsigned seconds = 600;       // stop earlier on SIGINT/SIGTERM
  uint64_t window = 32;         // frames in flight per direction
  unsigned stall_seconds = 20;  // no progress for this long: give up
};
int run_good(const GoodOptions& o);

struct AttackOptions {
  std::string socket;
  std::string ifname;  // the attacked daemon's TAP, in this namespace
  unsigned vectors = 4;
  uint32_t seed = 1;
};
// The attack names, in the order the system test runs them.
std::vector<std::string> attack_names();
// 0: the attack ran and the daemon behaved; 1: it misbehaved; 2: setup failed.
int run_attack(const std::string& name, const AttackOptions& o);

struct HostBugOptions {
  std::string socket;
  unsigned vectors = 4;
};
std::vector<std::string> host_bug_names();
int run_host_bug(const std::string& name, const HostBugOptions& o);

}  // namespace avm::hostile

// SPDX-License-Identifier: GPL-2.0
// avm::VenetTx: the transmit path of a venet device (guest -> tap), run by
// its I/O thread.  It consumes descriptor chains from the TX queue's
// submit ring through HostQueue (each entry copied, then validated), copies
// the 12-byte header out of the chain into private memory and checks it
// against the negotiated features, writes header + payload to the tap with
// one writev (the payload iovecs point into the pool: the kernel copies
// them, and their contents are opaque to us), and completes the entries in
// order.
//
// Faults: a descriptor that fails HostQueue's checks, or a chain longer
// than a 64 KiB frame plus header, is a guest fault: process() returns
// EPROTO and the device is quarantined.  A bad packet (short, bad header)
// is not: its entries complete with VBUS_USED_F_ERROR and tx_errors counts
// it.
//
// Completion mitigation: the to_guest signal runs every tx_signal_batch
// completions and at the end of every pass; the guest arms it only while
// its queue is stopped on a full ring, so most passes cost one suppressed
// notify (a fence) and no event.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "lib/host_queue.h"
#include "venet/venet_state.h"

namespace avm {

class VenetTx {
 public:
  VenetTx(const QueueView& view, int tap_fd, VenetState& state, uint32_t signal_batch);

  // Transmits every complete chain the guest published.  Returns packets
  // handled, or EPROTO for a guest fault.
  Result<size_t> process();

  HostQueue& queue() { return q_; }

 private:
  void transmit_chain();
  void signal_guest();

  HostQueue q_;
  int tap_fd_;
  VenetState& st_;
  uint32_t signal_batch_;
  std::vector<HostDesc> chain_;  // the open chain (published so far)
  uint64_t chain_bytes_ = 0;
  uint32_t since_signal_ = 0;
  std::vector<iovec> iov_;  // scratch for writev, sized for the longest chain
};

}  // namespace avm

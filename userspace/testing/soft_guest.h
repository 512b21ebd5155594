// SPDX-License-Identifier: GPL-2.0
// avm::SoftGuest: a software guest -- the guest side of the vbus bridge
// (what the vbus_pci kernel driver does) over a mapped region, for tests,
// benchmarks and tools: the handshake (RESET if needed, INIT, wait for
// RUN with our epoch, RUN), the event queue consumer with its shm-signal
// receiver loop, the call client, the device table reader (copy, then
// validate) and opening a device to get GuestQueue endpoints.
//
// It treats the region the way the kernel driver does: the host is not
// trusted, everything is copied and checked before use, and a protocol
// violation is an EPROTO error, not a crash.
//
// Single-threaded: one thread owns a SoftGuest (and its GuestDevices).
// Waiting uses @irq (the guest's vector-0 eventfd the host raises) when
// given, else short sleeps.
#pragma once

#include <linux/vbus.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bridge/device.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/shm_signal.h"
#include "testing/guest_queue.h"

namespace avm {

struct GuestEvent {
  uint16_t type = 0;
  uint32_t dev_id = 0;
  uint32_t data = 0;
};

// An opened device: a validated copy of its table slot and one GuestQueue
// per queue.  Owned by the test; close it with SoftGuest::close().
struct GuestDevice {
  vbus_dev_desc desc{};
  std::vector<GuestQueue> queues;
  std::span<uint8_t> config;  // in the region (host-written; copy before use)

  uint32_t id() const { return desc.id; }
  // A private copy of the config area (at most @len bytes).
  std::vector<uint8_t> read_config() const { return {config.begin(), config.end()}; }
};

class SoftGuest {
 public:
  using Doorbell = std::function<void(uint32_t vector)>;

  // @region: the guest's view of the region (BAR2); @doorbell rings a host
  // vector; @irq: the eventfd the host raises for vector 0, or null.
  SoftGuest(std::span<uint8_t> region, Doorbell doorbell, const EventFd* irq = nullptr);

  // Copies and validates the bridge header (magic, ABI, tables).
  Status probe();
  // Steps 2-4 of the handshake (docs/abi.md), like vbus_pci: if the host
  // is RUN, RESET first and wait until it leaves RUN; then guest_features
  // (@features & host_features), guest_epoch, INIT; wait for RUN with our
  // epoch; RUN; arm the event queue.  ETIMEDOUT, or a probe() error.
  Status handshake(int timeout_ms = 5000, uint64_t features = ~uint64_t{0});
  // guest_state = RESET and ring (driver removal).
  void reset();
  // The host left RUN or changed epoch since our handshake.
  bool host_left() const;
  uint32_t epoch() const { return epoch_; }
  uint64_t negotiated_features() const;

  // The event queue receiver: consumes what the host posted (appending
  // to events()), stores consumed.  EPROTO on a corrupt entry.
  Result<size_t> poll_events();
  // Waits up to @timeout_ms for an event satisfying @pred (already
  // received ones count), removing and returning it.
  std::optional<GuestEvent> wait_event(const std::function<bool(const GuestEvent&)>& pred,
                                       int timeout_ms = 5000);
  std::vector<GuestEvent>& events() { return events_; }
  // How often the host's overflows counter changed under us.
  uint64_t overflows_seen() const { return overflows_seen_; }
  // Whether the event queue's signal is armed (we are not polling).
  ShmSignal& evq_signal() { return *evq_signal_; }

  // A call on the call channel; waits for its response.  The result's
  // status is the host's; ETIMEDOUT / EPROTO for transport failures.
  Result<CallResult> call(uint32_t op, uint32_t dev_id, std::span<const uint8_t> req = {},
                          int timeout_ms = 5000);
  // Like call() but writes @req_len as given (tests of hostile requests).
  Result<CallResult> call_raw(uint32_t op, uint32_t dev_id, uint32_t req_len,
                              std::span<const uint8_t> data, int timeout_ms = 5000);

  // Every non-empty device-table slot, each copied and validated.
  Result<std::vector<vbus_dev_desc>> devices() const;
  Result<vbus_dev_desc> find_device(uint32_t id) const;
  // Zeroes the submit rings and to_guest signals (vbus_ring_init), sends
  // DEV_OPEN, checks the host cleaned the used rings.
  Result<std::unique_ptr<GuestDevice>> open(uint32_t id, int timeout_ms = 5000);
  Status close(uint32_t id, int timeout_ms = 5000);
  // Rings the doorbell of @dev (call when a to_host notify says so).
  void kick(const GuestDevice& dev) const { doorbell_(dev.desc.doorbell_vector); }

  const vbus_bridge_header& header() const { return hdr_; }
  std::span<uint8_t> region() const { return region_; }

 private:
  vbus_bridge_header& shared_header() const;
  void wait_a_bit(int ms) const;
  Status drain(uint32_t* got);
  // Waits until @cond or the deadline; polls events meanwhile.
  bool wait_until(const std::function<bool()>& cond, int timeout_ms);

  std::span<uint8_t> region_;
  Doorbell doorbell_;
  const EventFd* irq_;
  vbus_bridge_header hdr_{};  // validated copy
  bool probed_ = false;
  uint32_t epoch_ = 0;
  vbus_evq_header* evq_ = nullptr;
  vbus_event* ring_ = nullptr;
  vbus_call_slot* calls_ = nullptr;
  std::optional<ShmSignal> evq_signal_;
  uint32_t evq_next_ = 0;
  uint32_t overflows_ = 0;
  uint64_t overflows_seen_ = 0;
  std::vector<uint32_t> call_seq_;
  uint32_t next_slot_ = 0;
  std::vector<GuestEvent> events_;
};

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// avm::CallServer: the host side of the vbus call channel (docs/abi.md
// "Call channel").  On every bridge doorbell the runtime calls service(),
// which finds slots with req_seq != what we last answered, copies the
// request half ONCE into private memory (req_seq first, acquire: pairs
// with the guest's smp_store_release() of req_seq after the request),
// validates the copy (req_len), dispatches it, fills the response half and
// stores resp_seq = req_seq with release (pairs with the guest's
// smp_load_acquire() of resp_seq), then posts VBUS_EV_CALL_DONE.
//
// Everything in a slot is guest-written and hostile except the response
// half; a bad request is answered with an error status, never trusted.
// Single-threaded: the bridge loop owns it.
#pragma once

#include <linux/vbus.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "bridge/device.h"
#include "bridge/event_queue.h"
#include "bridge/stat_table.h"

namespace avm {

// A validated private copy of one request.
struct CallRequest {
  uint32_t slot = 0;
  uint32_t op = 0;
  uint32_t dev_id = 0;
  std::vector<uint8_t> data;  // req_len bytes, <= VBUS_CALL_DATA_SIZE
};

// The call channel's statistics (bridge/stat_table.h), one row each:
// CallCounters and kCallStats (bridge_counters.h) are made from them.
// Names as in the hand-over state; the API and Prometheus say calls,
// call_errors, call_bad_len (call_key()).
// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
#define AVM_CALL_STATS(X)                                                       \
  X(calls, kCounter, "Call-channel requests answered.")                         \
  X(errors, kCounter, "Call-channel requests answered with a non-zero status.") \
  X(bad_len, kCounter, "Call-channel requests with req_len over VBUS_CALL_DATA_SIZE.")
// NOLINTEND(bugprone-macro-parentheses)

struct CallCounters {
  AVM_CALL_STATS(AVM_STAT_MEMBER)
};

class CallServer {
 public:
  using Dispatch = std::function<CallResult(const CallRequest&)>;

  // @slots: the call channel in the region (@n slots).
  CallServer(vbus_call_slot* slots, uint32_t n, EventQueue& evq, Dispatch dispatch);

  // Zeroes every slot and forgets what was answered (bridge INIT).
  void reset();
  // Answers every submitted request.  Returns how many.
  size_t service();

  const CallCounters& counters() const { return c_; }

  // Hand-over: per slot, the last resp_seq we wrote; resume() continues
  // from such a list (EINVAL if its size is not the slot count).  A request
  // the guest submitted meanwhile is answered by the next service().
  const std::vector<uint32_t>& answered() const { return answered_; }
  Status resume(const std::vector<uint32_t>& answered);
  // Hand-over: the predecessor's counters, added to ours.
  void add_counters(const CallCounters& c);

 private:
  void respond(uint32_t slot, uint32_t seq, const CallResult& r);

  vbus_call_slot* slots_;
  std::vector<uint32_t> answered_;  // per slot: the last resp_seq we wrote
  EventQueue& evq_;
  Dispatch dispatch_;
  CallCounters c_;
};

}  // namespace avm

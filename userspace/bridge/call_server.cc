// SPDX-License-Identifier: GPL-2.0
#include "bridge/call_server.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "bridge/bridge_counters.h"
#include "lib/shared_word.h"

namespace avm {

CallServer::CallServer(vbus_call_slot* slots, uint32_t n, EventQueue& evq, Dispatch dispatch)
    : slots_(slots), answered_(n, 0), evq_(evq), dispatch_(std::move(dispatch)) {}

void CallServer::reset() {
  std::memset(static_cast<void*>(slots_), 0, answered_.size() * sizeof(vbus_call_slot));
  std::fill(answered_.begin(), answered_.end(), 0U);
}

Status CallServer::resume(const std::vector<uint32_t>& answered) {
  if (answered.size() != answered_.size()) {
    return make_error(EINVAL, "call channel: " + std::to_string(answered.size()) +
                                  " slots handed over, " + std::to_string(answered_.size()) +
                                  " configured");
  }
  answered_ = answered;
  return {};
}

void CallServer::add_counters(const CallCounters& c) {
  add_each_counter(c_, c, kCallStats);
}

size_t CallServer::service() {
  size_t n = 0;
  for (uint32_t i = 0; i < answered_.size(); i++) {
    vbus_call_slot& s = slots_[i];
    // Acquire: pairs with the guest's smp_store_release() of req_seq, so
    // the request half read below is the one written before it.
    const uint32_t seq = std::atomic_ref<uint32_t>(s.req_seq).load(std::memory_order_acquire);
    if (seq == answered_[i]) {
      continue;
    }
    // The private copy: every field read exactly once.
    CallRequest req;
    req.slot = i;
    req.op = read_once(s.op);
    req.dev_id = read_once(s.dev_id);
    const uint32_t len = read_once(s.req_len);
    uint8_t data[VBUS_CALL_DATA_SIZE];
    std::memcpy(data, s.req_data, sizeof data);
    CallResult r;
    if (len > VBUS_CALL_DATA_SIZE) {
      c_.bad_len++;
      r.status = EINVAL;
    } else {
      req.data.assign(data, data + len);
      r = dispatch_(req);
    }
    respond(i, seq, r);
    n++;
  }
  return n;
}

void CallServer::respond(uint32_t slot, uint32_t seq, const CallResult& r) {
  AVM_CHECK(r.data.size() <= VBUS_CALL_DATA_SIZE);  // our own dispatcher's answer
  vbus_call_slot& s = slots_[slot];
  write_once(s.status, r.status);
  write_once(s.resp_len, static_cast<uint32_t>(r.data.size()));
  write_once(s.reserved, 0U);
  std::memset(s.resp_data, 0, sizeof s.resp_data);
  if (!r.data.empty()) {
    std::memcpy(s.resp_data, r.data.data(), r.data.size());
  }
  // Response first, resp_seq last: pairs with the guest's
  // smp_load_acquire() of resp_seq before it reads status and data.
  std::atomic_ref<uint32_t>(s.resp_seq).store(seq, std::memory_order_release);
  answered_[slot] = seq;
  c_.calls++;
  if (r.status != 0) {
    c_.errors++;
  }
  evq_.post(VBUS_EV_CALL_DONE, 0, slot);
}

}  // namespace avm

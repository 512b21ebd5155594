// SPDX-License-Identifier: GPL-2.0
// Fuzz target: the call channel (bridge/call_server) as the bridge runtime
// serves it, against FuzzDevice devices.
//
// The link is brought up, a few devices are added, then the input fills
// call slots (op, dev_id, req_len, data, req_seq: plausible values or
// anything), rings the bridge doorbell, and mixes in host actions (device
// removal, device faults) and guest scribbling over the response halves.
// A model of every device (open, removing, quarantined, gone) predicts
// each answer; the target checks that every submitted request is answered
// exactly once, with the predicted status, resp_len within the slot,
// an echo of exactly the request bytes, and a CALL_DONE event naming the
// slot (unless the event queue was full).
#include <algorithm>
#include <array>
#include <map>

#include "bridge_harness.h"

namespace {

using avm::fuzz::FuzzDevice;
using avm::fuzz::Input;

constexpr size_t kMaxOps = 256;

struct Model {
  bool open = false;
  bool removing = false;
  bool quarantined = false;
};

struct Request {
  bool submitted = false;
  uint32_t seq = 0, op = 0, dev_id = 0, len = 0;
  std::array<uint8_t, VBUS_CALL_DATA_SIZE> data{};
};

template <class T>
void guest_store(T& word, T v) {
  std::atomic_ref<T>(word).store(v, std::memory_order_release);
}

// The status the host must answer, and the model after it.
uint32_t expect(const Request& r, std::map<uint32_t, Model>& devs) {
  if (r.len > VBUS_CALL_DATA_SIZE) {
    return EINVAL;
  }
  if (r.dev_id == 0) {
    return EOPNOTSUPP;
  }
  auto it = devs.find(r.dev_id);
  if (it == devs.end() || (it->second.removing && r.op != VBUS_CALL_DEV_CLOSE)) {
    return ENODEV;
  }
  Model& m = it->second;
  switch (r.op) {
    case VBUS_CALL_DEV_OPEN:
      m.open = true;
      m.quarantined = false;
      return 0;
    case VBUS_CALL_DEV_CLOSE:
      m.open = false;
      if (m.removing) {
        devs.erase(it);
      }
      return 0;
    default:
      break;
  }
  if (r.op < VBUS_CALL_CLASS_BASE) {
    return EOPNOTSUPP;
  }
  if (m.quarantined) {
    return EIO;
  }
  return r.op == FuzzDevice::kEcho ? 0 : r.op == FuzzDevice::kFail ? EPERM : EOPNOTSUPP;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avm::fuzz::BridgeHarness harness;
  Input in(data, size);

  avm::BridgeConfig bc;
  bc.call_slots = 1 + in.below(4);
  bc.evq_entries = 1U << (1 + in.below(5));
  auto rt = harness.runtime(bc);
  vbus_bridge_header& h = harness.header();
  auto* slots = reinterpret_cast<vbus_call_slot*>(harness.region().data() +  // NOLINT: laid out
                                                  h.call_offset);
  auto* evq = reinterpret_cast<vbus_evq_header*>(harness.region().data() +  // NOLINT: laid out
                                                 h.evq_offset);
  auto* ring = reinterpret_cast<vbus_event*>(evq + 1);  // NOLINT: entries follow the header

  std::map<uint32_t, Model> devs;
  std::vector<uint32_t> ids;  // every id ever added (some may be gone)
  for (uint32_t n = 1 + in.below(3); n > 0; n--) {
    auto id = rt->add_device(std::make_unique<FuzzDevice>());
    FUZZ_CHECK(id.has_value());
    devs[*id] = Model{};
    ids.push_back(*id);
  }
  // The handshake: INIT with the host's epoch, then the doorbell.
  guest_store(h.guest_epoch, rt->host_epoch());
  guest_store(h.guest_state, uint32_t{VBUS_STATE_INIT});
  rt->on_doorbell();
  FUZZ_CHECK(rt->host_state() == VBUS_STATE_RUN);
  guest_store(h.guest_state, uint32_t{VBUS_STATE_RUN});

  std::vector<Request> reqs(bc.call_slots);
  std::vector<uint32_t> answered(bc.call_slots, 0);
  uint32_t next_event = 0;
  uint32_t done_events = 0;  // CALL_DONE events the host managed to post
  uint64_t answers = 0;

  for (size_t op = 0; op < kMaxOps && !in.empty(); op++) {
    switch (in.below(6)) {
      case 0:
      case 1: {  // the guest fills a slot and submits it
        const uint32_t s = in.below(bc.call_slots);
        Request r;
        static constexpr uint32_t kOps[] = {
            VBUS_CALL_DEV_OPEN,      VBUS_CALL_DEV_CLOSE, FuzzDevice::kEcho, FuzzDevice::kFail, 3,
            VBUS_CALL_CLASS_BASE + 7};
        const uint32_t k = in.below(7);
        r.op = k < 6 ? kOps[k] : in.take<uint32_t>();
        const uint32_t d = in.below(4);
        r.dev_id = d == 0   ? 0
                   : d == 3 ? in.take<uint32_t>()
                            : ids[in.below(static_cast<uint32_t>(ids.size()))];
        r.len = in.flag() ? in.take<uint32_t>() : in.below(VBUS_CALL_DATA_SIZE + 1);
        in.take_bytes(r.data.data(), r.data.size());
        r.seq = in.flag() ? in.take<uint32_t>() : answered[s] + 1;
        r.submitted = true;
        vbus_call_slot& slot = slots[s];
        slot.op = r.op;
        slot.dev_id = r.dev_id;
        slot.req_len = r.len;
        std::memcpy(slot.req_data, r.data.data(), r.data.size());
        guest_store(slot.req_seq, r.seq);
        reqs[s] = r;
        break;
      }
      case 2: {  // the bridge doorbell: every submitted request is answered
        const uint32_t before = rt->event_queue().produced();
        rt->on_doorbell();
        uint32_t expected_done = 0;
        for (uint32_t s = 0; s < bc.call_slots; s++) {
          Request& r = reqs[s];
          const vbus_call_slot& slot = slots[s];
          if (!r.submitted || r.seq == answered[s]) {
            continue;
          }
          const uint32_t status = expect(r, devs);
          FUZZ_CHECK(slot.resp_seq == r.seq);
          FUZZ_CHECK(slot.status == status);
          FUZZ_CHECK(slot.reserved == 0);
          FUZZ_CHECK(slot.resp_len <= VBUS_CALL_DATA_SIZE);
          if (status == 0 && r.op == FuzzDevice::kEcho) {
            FUZZ_CHECK(slot.resp_len == r.len);
            FUZZ_CHECK(std::memcmp(slot.resp_data, r.data.data(), r.len) == 0);
          } else {
            FUZZ_CHECK(slot.resp_len == 0);
          }
          answered[s] = r.seq;
          r.submitted = false;
          answers++;
          expected_done++;
        }
        FUZZ_CHECK(rt->call_server().counters().calls == answers);
        // One CALL_DONE per answer, unless the ring was full.
        FUZZ_CHECK(rt->event_queue().produced() - before <= expected_done);
        for (auto& [id, m] : devs) {
          auto* dev = static_cast<FuzzDevice*>(rt->device(id));
          FUZZ_CHECK(dev != nullptr);
          FUZZ_CHECK(dev->opened == m.open && rt->device_open(id) == m.open);
        }
        for (uint32_t id : ids) {
          FUZZ_CHECK((rt->device(id) != nullptr) == devs.contains(id));
        }
        break;
      }
      case 3: {  // host: remove a device, or a device faults
        if (devs.empty()) {
          break;
        }
        auto it = std::next(devs.begin(), in.below(static_cast<uint32_t>(devs.size())));
        const uint32_t id = it->first;
        if (in.flag()) {
          FUZZ_CHECK(rt->remove_device(id).has_value());
          if (it->second.open) {
            it->second.removing = true;
          } else {
            devs.erase(it);
          }
        } else {
          rt->report_fault(id, avm::Error{EPROTO, "fuzz"});
          harness.run_tasks();
          // A fault for a device that is not open is stale: ignored.
          it->second.quarantined = it->second.quarantined || it->second.open;
        }
        break;
      }
      case 4: {  // the guest scribbles over a response half (host-written)
        vbus_call_slot& slot = slots[in.below(bc.call_slots)];
        in.take_bytes(&slot.resp_seq, 16 + in.below(VBUS_CALL_DATA_SIZE + 1));
        break;
      }
      default: {  // the guest reads events
        for (uint32_t i = 0; i < bc.evq_entries; i++) {
          const vbus_event& e = ring[next_event & (bc.evq_entries - 1)];
          if (std::atomic_ref<const uint32_t>(e.seq).load(std::memory_order_acquire) !=
              next_event + 1) {
            break;
          }
          if (e.type == VBUS_EV_CALL_DONE) {
            FUZZ_CHECK(e.data < bc.call_slots && e.dev_id == 0);
            done_events++;
          }
          next_event++;
        }
        guest_store(evq->consumed, next_event);
        FUZZ_CHECK(done_events <= answers);
        break;
      }
    }
  }
  return 0;
}

// SPDX-License-Identifier: GPL-2.0
// Fuzz target: the bridge runtime's state machine (bridge/bridge_runtime)
// and the event queue producer (bridge/event_queue) under a hostile guest.
//
// The input is a program: guest writes (guest_state, guest_epoch,
// guest_features, raw bytes anywhere in the bridge header -- the guest
// can write the host's cache lines too --, the event queue's `consumed`
// and signal flags), bridge doorbells, a guest event consumer, and host
// actions (add/remove devices, restart, shutdown/start, signal events,
// config changes, device faults).  Invariants:
//  - the host's state is READY, RUN or RESET; its epoch never goes back;
//  - a link that comes up negotiates features within what the host
//    offered (never what the guest wrote over host_features);
//  - a device is open only while the link is RUN, and the runtime's view
//    of it matches the device's own;
//  - the event queue only fills slots in order: every event the guest
//    reads is well-formed and numbered consecutively; the producer's
//    count matches its `posted` counter;
//  - a fault report quarantines an open device once and is ignored for
//    one that is not open, whether it comes through the runtime or the
//    DeviceHost the device was given;
//  - nothing writes outside the region (ASan).
#include <algorithm>
#include <map>

#include "bridge_harness.h"

namespace {

using avm::fuzz::FuzzDevice;
using avm::fuzz::Input;

constexpr size_t kMaxOps = 256;

template <class T>
void guest_store(T& word, T v) {
  std::atomic_ref<T>(word).store(v, std::memory_order_release);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avm::fuzz::BridgeHarness harness;
  Input in(data, size);

  avm::BridgeConfig bc;
  bc.devtab_slots = 1 + in.below(4);
  bc.evq_entries = 1U << in.below(5);
  bc.call_slots = in.below(4);
  bc.host_features = in.take<uint8_t>();
  bc.host_epoch = in.take<uint32_t>();
  auto rt = harness.runtime(bc);
  vbus_bridge_header& h = harness.header();
  // Where the host put the event queue, before the guest can touch it.
  auto* evq = reinterpret_cast<vbus_evq_header*>(harness.region().data() +  // NOLINT: laid out
                                                 h.evq_offset);
  auto* ring = reinterpret_cast<vbus_event*>(evq + 1);  // NOLINT: entries follow the header
  const uint32_t mask = bc.evq_entries - 1;
  auto* calls = reinterpret_cast<vbus_call_slot*>(harness.region().data() +  // NOLINT: laid out
                                                  h.call_offset);

  std::vector<uint32_t> ids;  // devices added and not yet seen removed
  uint32_t next_event = 0;    // the guest consumer's next event number
  uint32_t last_epoch = rt->host_epoch();

  for (size_t op = 0; op < kMaxOps && !in.empty(); op++) {
    switch (in.below(14)) {
      case 0: {  // guest_state: a state, or anything
        static constexpr uint32_t kStates[] = {VBUS_STATE_RESET, VBUS_STATE_INIT, VBUS_STATE_READY,
                                               VBUS_STATE_RUN};
        const uint32_t k = in.below(5);
        guest_store(h.guest_state, k < 4 ? kStates[k] : in.take<uint32_t>());
        break;
      }
      case 1: {  // guest_epoch: ours, a neighbour, or anything
        const uint32_t k = in.below(4);
        const uint32_t e = rt->host_epoch();
        guest_store(h.guest_epoch, k == 0   ? e
                                   : k == 1 ? e - 1
                                   : k == 2 ? e + 1
                                            : in.take<uint32_t>());
        break;
      }
      case 2:
        guest_store<__u64>(h.guest_features, in.take<uint64_t>());
        break;
      case 3: {  // raw bytes anywhere in the header
        const uint32_t off = in.below(sizeof h);
        in.take_bytes(reinterpret_cast<uint8_t*>(&h) + off,  // NOLINT: a byte view
                      std::min<uint32_t>(in.below(17), sizeof h - off));
        break;
      }
      case 4: {  // the bridge doorbell
        const uint64_t inits = rt->counters().inits;
        rt->on_doorbell();
        if (rt->counters().inits != inits) {
          FUZZ_CHECK(rt->host_state() == VBUS_STATE_RUN);
          FUZZ_CHECK((h.features & ~bc.host_features) == 0);
          next_event = 0;  // the host reset the event queue
        }
        break;
      }
      case 5: {  // consumed: plausible or anything; signal flags
        const uint32_t k = in.below(3);
        guest_store(evq->consumed, k == 0   ? next_event
                                   : k == 1 ? next_event - in.below(2 * bc.evq_entries + 2)
                                            : in.take<uint32_t>());
        if (in.flag()) {
          guest_store(evq->signal.enabled, in.take<uint32_t>());
          guest_store(evq->signal.pending, in.take<uint32_t>());
        }
        break;
      }
      case 6: {  // the guest reads events
        for (uint32_t i = 0; i <= mask; i++) {
          const vbus_event& e = ring[next_event & mask];
          if (std::atomic_ref<const uint32_t>(e.seq).load(std::memory_order_acquire) !=
              next_event + 1) {
            break;
          }
          FUZZ_CHECK(e.type >= VBUS_EV_DEV_ADD && e.type <= VBUS_EV_CALL_DONE);
          FUZZ_CHECK(e.reserved == 0);
          next_event++;
        }
        if (in.flag()) {
          guest_store(evq->consumed, next_event);
        }
        break;
      }
      case 7: {  // host: a new device
        auto id = rt->add_device(std::make_unique<FuzzDevice>());
        if (id) {
          FUZZ_CHECK(std::find(ids.begin(), ids.end(), *id) == ids.end());
          ids.push_back(*id);
        }
        break;
      }
      case 8:  // host: remove one
        if (!ids.empty()) {
          (void)rt->remove_device(ids[in.below(static_cast<uint32_t>(ids.size()))]);
        }
        break;
      case 9:
        rt->restart();
        break;
      case 10:
        if (rt->started()) {
          rt->shutdown();
        } else {
          FUZZ_CHECK(rt->start().has_value());
        }
        break;
      case 11:  // host: a device queue signals the guest, or its config changed
        if (!ids.empty()) {
          const uint32_t id = ids[in.below(static_cast<uint32_t>(ids.size()))];
          if (in.flag()) {
            const bool took = rt->signal_guest(id, in.below(2));
            FUZZ_CHECK(!took || rt->host_state() == VBUS_STATE_RUN);
          } else {
            rt->config_changed(id);
          }
        }
        break;
      case 12:  // a device reports a fault (handled on the loop)
        if (!ids.empty()) {
          // Through the runtime, or the device's own DeviceHost (stamped
          // with its open generation).  Either quarantines an open device
          // once and is ignored for a closed one.
          const uint32_t id = ids[in.below(static_cast<uint32_t>(ids.size()))];
          auto* dev = static_cast<FuzzDevice*>(rt->device(id));
          FUZZ_CHECK(dev != nullptr);
          const bool open = rt->device_open(id);
          const int before = dev->quarantines;
          if (in.flag()) {
            dev->host->report_fault(id, avm::Error{EPROTO, "fuzz"});
          } else {
            rt->report_fault(id, avm::Error{EPROTO, "fuzz"});
          }
          harness.run_tasks();
          FUZZ_CHECK(dev->quarantines == before + (open ? 1 : 0));
        }
        break;
      default: {  // the guest opens or closes a device over the call channel
        if (bc.call_slots == 0 || ids.empty()) {
          break;
        }
        vbus_call_slot& s = calls[in.below(bc.call_slots)];
        s.op = in.flag() ? VBUS_CALL_DEV_OPEN : VBUS_CALL_DEV_CLOSE;
        s.dev_id = ids[in.below(static_cast<uint32_t>(ids.size()))];
        s.req_len = 0;
        guest_store(s.req_seq, s.resp_seq + 1);
        break;
      }
    }
    // Invariants after every step.
    const uint32_t hs = rt->host_state();
    FUZZ_CHECK(hs == VBUS_STATE_READY || hs == VBUS_STATE_RUN || hs == VBUS_STATE_RESET);
    FUZZ_CHECK(rt->host_epoch() >= last_epoch || last_epoch - rt->host_epoch() > (1U << 31));
    last_epoch = rt->host_epoch();
    // The last min(produced, entries) events are in their slots, in order.
    const uint32_t produced = rt->event_queue().produced();
    for (uint32_t i = produced - std::min(produced, bc.evq_entries); i != produced; i++) {
      FUZZ_CHECK(ring[i & mask].seq == i + 1);
    }
    for (auto it = ids.begin(); it != ids.end();) {
      auto* dev = static_cast<FuzzDevice*>(rt->device(*it));
      if (dev == nullptr) {
        it = ids.erase(it);
        continue;
      }
      FUZZ_CHECK(dev->attached);
      FUZZ_CHECK(dev->opened == rt->device_open(*it));
      FUZZ_CHECK(!dev->opened || hs == VBUS_STATE_RUN);
      ++it;
    }
  }
  return 0;
}

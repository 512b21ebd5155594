// SPDX-License-Identifier: GPL-2.0
#include "vbus_pair.h"

#include <cstring>
#include <vector>

#include "lib/bridge_layout.h"
#include "testing/guest_queue.h"

namespace avm::bench {
namespace {

constexpr uint64_t kArea = 4096;  // after the Stats page

DeviceAreaLayout layout(uint32_t entries, uint32_t msg_size) {
  const QueueSpec spec{entries, msg_size};
  auto l = layout_device_area(0, {&spec, 1});
  AVM_CHECK(l.has_value());
  return *l;
}

}  // namespace

VbusTransport::VbusTransport(uint32_t entries, uint32_t msg_size)
    : Transport(kArea + layout(entries, msg_size).size), msg_size_(msg_size) {
  const DeviceAreaLayout l = layout(entries, msg_size);
  desc_ = l.queues[0];
  area_size_ = l.size;
}

QueueView VbusTransport::view() const {
  auto v = QueueView::create(const_cast<VbusTransport*>(this)->region().span(), kArea, area_size_,
                             desc_);
  AVM_CHECK(v.has_value());
  return *v;
}

void VbusTransport::reset() {
  // The whole area: rings, signals, pool.
  std::memset(region().data() + kArea, 0, area_size_);
}

void VbusTransport::consume(Stats* s) {
  RingConsumerOptions o;
  o.total = s->total;
  o.batch = kBatch;
  // Busy-poll the ring itself after every pass; arm() re-checks dirty.
  o.poll_one_in = 1;
  o.poll_rounds = kSpin;
  o.poll_ring = true;
  o.verify_sum = false;
  o.wait_doorbell = [&] { return sleep_on(doorbell(), s); };
  o.raise_irq = [&] { irq().signal(); };
  const RingCheck c = consume_ring(view(), o);
  s->received = c.received;
  s->bad = bad_messages(c) + (c.fault ? 1 : 0);
  s->irqs = c.irqs_rung;
  s->host_sleeps = c.sleeps;
}

void VbusTransport::produce(Stats* s) {
  const QueueView v = view();
  GuestQueue guest(v);
  std::vector<UsedEntry> used(v.num_entries());
  auto reap = [&] { guest.poll_used(used); };
  uint64_t sleeps = 0;
  auto wait_slots = [&](uint32_t need) {
    reap();
    while (guest.free_slots() < need) {
      if (guest.to_guest().arm()) {
        guest.to_guest().handle(reap);
        continue;
      }
      sleeps++;
      if (!sleep_on(irq(), s)) {
        return false;
      }
      guest.to_guest().handle(reap);
    }
    guest.to_guest().disarm();
    return true;
  };
  bool ok = true;
  for (uint64_t seq = 0; seq < s->total && ok; seq++) {
    if (guest.full()) {
      ok = wait_slots(1);
      if (!ok) {
        break;
      }
    }
    fill_message(guest.next_buffer().data(), msg_size_, seq, s->total);
    guest.post(msg_size_);
    if (guest.kick()) {
      doorbell().signal();
    }
  }
  if (ok) {
    wait_slots(v.num_entries());
  }
  s->kicks = guest.to_host().counters().sent;
  s->guest_sleeps = sleeps;
}

}  // namespace avm::bench

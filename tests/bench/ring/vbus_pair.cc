// SPDX-License-Identifier: GPL-2.0
#include "vbus_pair.h"

#include <cstring>
#include <vector>

#include "lib/bridge_layout.h"
#include "lib/host_queue.h"
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
  const QueueView v = view();
  HostQueue host(v);
  std::vector<HostDesc> batch(kBatch);
  uint64_t received = 0;
  uint64_t bad = 0;
  bool failed = false;
  auto drain = [&] {
    while (!failed) {
      auto n = host.poll(batch);
      if (!n) {
        failed = true;
        return;
      }
      if (*n == 0) {
        return;
      }
      for (size_t i = 0; i < *n; i++) {
        auto buf = host.buffer(batch[i]);
        if (!take_message(buf.data(), static_cast<uint32_t>(buf.size()), received)) {
          bad++;
        }
        received++;
        host.complete(batch[i], batch[i].len());
      }
      if (host.notify_guest()) {
        irq().signal();
      }
    }
  };
  uint64_t sleeps = 0;
  while (!failed && received < s->total) {
    host.to_host().handle(drain);
    host.to_host().disarm();
    // Busy-poll the ring itself; arm() below re-checks dirty.
    for (int i = 0; i < kSpin && received < s->total; i++) {
      drain();
    }
    if (received >= s->total) {
      break;
    }
    if (host.to_host().arm()) {
      continue;
    }
    sleeps++;
    if (!sleep_on(doorbell(), s)) {
      break;
    }
  }
  s->received = received;
  s->bad = bad + (failed ? 1 : 0);
  s->irqs = host.to_guest().counters().sent;
  s->host_sleeps = sleeps;
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
    fill_message(guest.next_buffer().data(), msg_size_, seq);
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

// SPDX-License-Identifier: GPL-2.0
#include "testing/ring_checker.h"

#include <cstdio>
#include <cstring>
#include <random>

#include "fmt/format.h"
#include "lib/host_queue.h"

namespace avm {

std::vector<std::string> RingCheck::problems(uint64_t total) const {
  std::vector<std::string> p;
  if (fault) {
    p.push_back(std::string("host rejected a well-formed descriptor: ") + fault_why);
  }
  if (timeout) {
    p.emplace_back("the consumer lost a wake-up");
  }
  if (received != total) {
    p.push_back(fmt::format("{} of {} messages arrived", received, total));
  }
  if (bad_seq != 0) {
    p.push_back(fmt::format("{} messages lost, duplicated or reordered, first at message {}",
                            bad_seq, first_bad));
  }
  if (bad_segments != 0) {
    p.push_back(fmt::format("{} chains split or merged", bad_segments));
  }
  if (bad_sum != 0) {
    p.push_back(fmt::format("{} messages corrupted", bad_sum));
  }
  if (extra != 0) {
    p.push_back(fmt::format("{} entries after the last message", extra));
  }
  return p;
}

void RingChecker::take(std::span<const uint8_t> buf, bool more) {
  msg_.insert(msg_.end(), buf.begin(), buf.end());
  segments_++;
  r_.entries++;
  if (!more) {
    finish();
    msg_.clear();
    segments_ = 0;
  }
}

void RingChecker::finish() {
  ring_msg_header h{};
  const uint64_t expect = r_.received++;
  if (msg_.size() < sizeof h) {
    h.seq = ~expect;  // cut: counts as out of order
  } else {
    std::memcpy(&h, msg_.data(), sizeof h);
  }
  if (h.seq != expect || h.len != msg_.size()) {
    if (r_.bad_seq++ == 0) {
      r_.first_bad = expect;
    }
    return;
  }
  if (h.segments != segments_) {
    r_.bad_segments++;
  } else if (verify_sum_ &&
             h.checksum != ring_msg_checksum(h.seq, msg_.data() + sizeof h,
                                             static_cast<uint32_t>(msg_.size() - sizeof h))) {
    r_.bad_sum++;
  }
  r_.saw_last = h.last != 0;
}

RingCheck consume_ring(const QueueView& view, const RingConsumerOptions& o) {
  HostQueue host(view, o.max_chain);
  RingChecker check(o.verify_sum);
  RingCheck& r = check.result();
  std::vector<HostDesc> batch(o.batch);
  std::mt19937 rng(o.seed);
  auto done = [&] { return r.fault || r.received >= o.total; };

  auto drain = [&] {
    while (!r.fault) {
      auto n = host.poll(batch);
      if (!n) {
        r.fault = true;
        (void)std::snprintf(r.fault_why, sizeof r.fault_why, "%s", n.error().message.c_str());
        return;
      }
      if (*n == 0) {
        return;
      }
      for (size_t i = 0; i < *n; i++) {
        const HostDesc& d = batch[i];
        check.take(host.buffer(d), d.has_next());
        host.complete(d, d.len());
      }
      if (host.notify_guest()) {
        o.raise_irq();
      }
    }
  };

  while (!done()) {
    host.to_host().handle(drain);
    if (o.poll_one_in <= 1 || rng() % o.poll_one_in == 0) {
      host.to_host().disarm();
      for (int i = 0; i < o.poll_rounds && !done(); i++) {
        if (o.poll_ring) {
          drain();
        } else {
          host.to_host().handle(drain);
        }
      }
    }
    if (done()) {
      break;
    }
    if (host.to_host().arm()) {
      continue;
    }
    r.sleeps++;
    if (!o.wait_doorbell()) {
      r.timeout = true;
      break;
    }
  }
  if (!r.fault) {
    auto n = host.poll(batch);  // nothing may follow the last message
    r.extra = n ? *n : 1;
  }
  r.irqs_rung = host.to_guest().counters().sent;
  r.irqs_suppressed = host.to_guest().counters().suppressed;
  return r;
}

std::string ring_report(const RingCheck& c, uint32_t ring_entries, uint64_t doorbells_rung,
                        uint64_t doorbells_suppressed, uint64_t producer_sleeps) {
  return fmt::format(
      "{} msgs, {} entries, ring {}: doorbells {} rung / {} suppressed, irqs {} rung / {} "
      "suppressed, sleeps host {} guest {}",
      c.received, c.entries, ring_entries, doorbells_rung, doorbells_suppressed, c.irqs_rung,
      c.irqs_suppressed, c.sleeps, producer_sleeps);
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "venet/kernel_venet.h"

#include <poll.h>
#include <pthread.h>

#include <array>
#include <cstddef>
#include <cstring>

namespace avm {

void add_module_stats(VenetStats& t, const vbus_host_stats& s) {
  t.tx_packets += s.tx_packets;
  t.tx_bytes += s.tx_bytes;
  t.tx_errors += s.tx_errors;
  t.tx_dropped_link += s.tx_dropped_link;
  t.tap_write_errors += s.tap_write_errors;
  t.rx_packets += s.rx_packets;
  t.rx_bytes += s.rx_bytes;
  t.rx_no_buffers += s.rx_no_buffers;
  t.rx_too_big += s.rx_too_big;
  t.rx_dropped_link += s.rx_dropped_link;
  t.doorbells += s.doorbells;
  t.tx_signals += s.tx_signals;
  t.tx_signals_suppressed += s.tx_signals_suppressed;
  t.rx_signals += s.rx_signals;
  t.rx_signals_suppressed += s.rx_signals_suppressed;
  t.wakeups += s.wakeups;
  t.polls += s.polls;
  t.poll_hits += s.poll_hits;
  t.bad_descriptors += s.bad_descriptors;
}

namespace {

// @t += the counters of @s: every __u64 from tx_packets on (reserved ones
// are zero); state and fault stay @t's.
void sum_counters(vbus_host_stats& t, const vbus_host_stats& s) {
  constexpr size_t kFirst = offsetof(vbus_host_stats, tx_packets);
  auto* tp = reinterpret_cast<unsigned char*>(&t);              // NOLINT: byte view
  const auto* sp = reinterpret_cast<const unsigned char*>(&s);  // NOLINT: byte view
  for (size_t off = kFirst; off + sizeof(uint64_t) <= sizeof t; off += sizeof(uint64_t)) {
    uint64_t a = 0;
    uint64_t b = 0;
    std::memcpy(&a, tp + off, sizeof a);
    std::memcpy(&b, sp + off, sizeof b);
    a += b;
    std::memcpy(tp + off, &a, sizeof a);
  }
}

}  // namespace

KernelVenet::KernelVenet(const VenetConfig& cfg, const Tap& tap, const BridgeLayout& layout,
                         const Region& region)
    : cfg_(cfg), tap_(tap), layout_(layout), region_(region) {}

KernelVenet::~KernelVenet() {
  stop();
}

Result<KernelAttach> KernelVenet::make_attach(const DeviceContext& ctx) const {
  const DeviceInfo* info = layout_.device(ctx.id);
  if (info == nullptr) {
    return make_error(ENOENT,
                      "kernel backend: device " + std::to_string(ctx.id) + " has no layout record");
  }
  if (ctx.doorbell == nullptr) {
    return make_error(
        EINVAL, "kernel backend: device " + std::to_string(ctx.id) + " has no doorbell vector");
  }
  auto a = KernelAttach::from_layout(*info, region_.fd(), region_.size());
  if (!a) {
    return tl::unexpected(a.error());
  }
  a->doorbell_fd = ctx.doorbell->fd();
  a->tap_fd = tap_.fd();
  a->tx_signal_batch = cfg_.tx_signal_batch;
  a->busy_poll_us = cfg_.busy_poll_max_us;
  return a;
}

Status KernelVenet::probe(const DeviceContext& ctx) const {
  if (!KernelBackend::available(cfg_.kernel_device)) {
    return make_error(ENODEV, cfg_.kernel_device +
                                  " is missing or not read/writable (vbus_host.ko " +
                                  "not loaded? modprobe vbus_host)");
  }
  auto a = make_attach(ctx);
  if (!a) {
    return tl::unexpected(a.error());
  }
  auto kb = KernelBackend::open(cfg_.kernel_device);
  if (!kb) {
    return tl::unexpected(kb.error());
  }
  if (auto ok = kb->attach(*a); !ok) {
    return make_error(ok.error().code, "vbus_host attach refused: " + ok.error().message);
  }
  kb->detach();
  return {};
}

Status KernelVenet::start(const DeviceContext& ctx, uint64_t features, bool link_active) {
  stop();
  ctx_ = ctx;
  auto a = make_attach(ctx);
  if (!a) {
    return tl::unexpected(a.error());
  }
  a->features = features;
  a->link_active = link_active;
  auto kb = KernelBackend::open(cfg_.kernel_device);
  if (!kb) {
    return tl::unexpected(kb.error());
  }
  if (auto ok = kb->attach(*a); !ok) {
    return ok;
  }
  auto stop = EventFd::create();
  if (!stop) {
    return tl::unexpected(stop.error());
  }
  kb_.emplace(std::move(*kb));
  stop_.emplace(std::move(*stop));
  relay_ = std::thread([this] { relay(); });
  return {};
}

Status KernelVenet::configure(uint64_t features, bool link_active) {
  if (!kb_) {
    return {};
  }
  return kb_->configure(features, link_active);
}

void KernelVenet::relay() {
  const std::string tname = ("avm-kvrel-" + std::to_string(ctx_.id)).substr(0, 15);
  pthread_setname_np(pthread_self(), tname.c_str());
  bool watch_fault = true;
  for (;;) {
    std::array<pollfd, 4> p{{{kb_->notify(0).fd(), POLLIN, 0},
                             {kb_->notify(1).fd(), POLLIN, 0},
                             {watch_fault ? kb_->fd() : -1, POLLIN, 0},
                             {stop_->fd(), POLLIN, 0}}};
    if (::poll(p.data(), p.size(), -1) < 0) {
      continue;  // EINTR
    }
    if (p[3].revents != 0) {
      return;
    }
    for (uint32_t q = 0; q < 2; q++) {
      if (p.at(q).revents != 0) {
        kb_->notify(q).consume();
        if (ctx_.host->signal_guest(ctx_.id, q)) {
          relayed_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (p[2].revents != 0) {
      watch_fault = false;  // once: the bridge quarantines, which stops us
      auto s = kb_->stats();
      ctx_.host->report_fault(ctx_.id,
                              Error{EPROTO, std::string("vbus_host: guest fault: ") +
                                                KernelBackend::fault_name(s ? s->fault : 0)});
    }
  }
}

void KernelVenet::stop() {
  if (relay_.joinable()) {
    stop_->signal();
    relay_.join();
  }
  stop_.reset();
  if (kb_) {
    if (auto s = kb_->stats()) {
      sum_counters(done_, *s);
    }
    done_relayed_ += relayed_.exchange(0);
    kb_.reset();  // detaches
  }
}

Result<vbus_host_stats> KernelVenet::module_stats() const {
  if (!kb_) {
    return make_error(ENOTCONN, "kernel backend: device not open");
  }
  return kb_->stats();
}

void KernelVenet::add_stats(VenetStats& t) const {
  add_module_stats(t, done_);
  t.events_posted += done_relayed_;
  if (kb_) {
    if (auto s = kb_->stats()) {
      add_module_stats(t, *s);
    }
    t.events_posted += relayed_.load(std::memory_order_relaxed);
  }
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "venet/kernel_venet.h"

#include <poll.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace avm {

// The vbus_host_stats counters are the AVM_VENET_STATS entries marked
// "module", in the table's order, each a __u64 of the same name, then
// reserved words: a field added on one side only fails the build.
namespace module_stats {
constexpr size_t kFirst = offsetof(vbus_host_stats, tx_packets);
#define AVM_MODULE_STAT_user(name)
#define AVM_MODULE_STAT_module(name) offsetof(vbus_host_stats, name),
#define AVM_MODULE_STAT_OFFSET(name, kind, where, help) AVM_MODULE_STAT_##where(name)
constexpr size_t kOffsets[] = {AVM_VENET_STATS(AVM_MODULE_STAT_OFFSET)};
#undef AVM_MODULE_STAT_OFFSET
#undef AVM_MODULE_STAT_module
constexpr size_t kCount = std::size(kOffsets);
static_assert(sizeof(vbus_host_stats) ==
                  kFirst + kCount * sizeof(__u64) + sizeof(vbus_host_stats::reserved),
              "vbus_host_stats and AVM_VENET_STATS ('module') disagree on the counters");
#define AVM_MODULE_STAT_module(name)                                      \
  static_assert(std::is_same_v<decltype(vbus_host_stats::name), __u64> && \
                std::is_same_v<decltype(VenetStats::name), uint64_t>);
#define AVM_MODULE_STAT_TYPE(name, kind, where, help) AVM_MODULE_STAT_##where(name)
AVM_VENET_STATS(AVM_MODULE_STAT_TYPE)
#undef AVM_MODULE_STAT_TYPE
#undef AVM_MODULE_STAT_module
constexpr bool in_table_order() {
  for (size_t i = 0; i < kCount; i++) {
    if (kOffsets[i] != kFirst + i * sizeof(__u64)) {
      return false;
    }
  }
  return true;
}
static_assert(in_table_order(), "vbus_host_stats' counters are not in AVM_VENET_STATS' order");
}  // namespace module_stats

void add_module_stats(VenetStats& t, const vbus_host_stats& s) {
#define AVM_MODULE_STAT_module(name) t.name += s.name;
#define AVM_MODULE_STAT_ADD(name, kind, where, help) AVM_MODULE_STAT_##where(name)
  AVM_VENET_STATS(AVM_MODULE_STAT_ADD)
#undef AVM_MODULE_STAT_ADD
#undef AVM_MODULE_STAT_module
}
#undef AVM_MODULE_STAT_user

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
  DeviceHost* host = ctx_.host;
  const uint32_t id = ctx_.id;
  auto t = IoThread::start(
      "avm-kvrel-" + std::to_string(id),
      [this] {
        relay();
        return Status{};
      },
      [host, id](const Error& e) { host->report_fault(id, e); });
  if (!t) {
    stop_.reset();
    kb_.reset();
    return tl::unexpected(t.error());
  }
  relay_ = std::move(*t);
  return {};
}

Status KernelVenet::configure(uint64_t features, bool link_active) {
  if (!kb_) {
    return {};
  }
  return kb_->configure(features, link_active);
}

void KernelVenet::relay() {
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
  if (relay_.running()) {
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

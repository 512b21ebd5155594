// SPDX-License-Identifier: GPL-2.0
#include "kernel_venet.h"

#include <poll.h>

#include <cstring>

#include "bridge/queue_reset.h"
#include "venet/venet_features.h"

namespace avm::bench {

KernelVenet::KernelVenet(const VenetConfig& cfg, Tap tap, const BridgeLayout& layout,
                         const Region& region)
    : cfg_(cfg), tap_(std::move(tap)), layout_(layout), region_(region) {}

KernelVenet::~KernelVenet() {
  stop_io();
}

std::vector<uint8_t> KernelVenet::initial_config() const {
  return to_bytes(make_venet_config(cfg_));
}

std::vector<QueueSpec> KernelVenet::queue_specs() const {
  return {{cfg_.ring_size, cfg_.buf_size}, {cfg_.ring_size, cfg_.buf_size}};
}

Status KernelVenet::attach(const DeviceContext& ctx) {
  if (ctx.queues.size() != 2 || ctx.config.size() < sizeof(vbus_venet_config) ||
      ctx.doorbell == nullptr) {
    return make_error(EINVAL, "kvenet: bad device context");
  }
  ctx_ = ctx;
  return {};
}

void KernelVenet::write_config(bool link) {
  auto* c = reinterpret_cast<vbus_venet_config*>(ctx_.config.data());  // NOLINT: our area
  // Single words; the call response or DEV_CONFIG event that follows
  // orders them (as VenetDevice::write_config).
  std::atomic_ref<__u16>(c->link).store(link ? VENET_LINK_UP : 0, std::memory_order_relaxed);
  std::atomic_ref<__u64>(c->features).store(features_, std::memory_order_relaxed);
}

Status KernelVenet::open() {
  close();
  for (const QueueView& q : ctx_.queues) {
    reset_queue_host_side(q);
  }
  const DeviceInfo* info = layout_.device(ctx_.id);
  if (info == nullptr) {
    return make_error(ENOENT, "kvenet: no layout record");
  }
  auto a = KernelAttach::from_layout(*info, region_.fd(), region_.size());
  if (!a) {
    return tl::unexpected(a.error());
  }
  a->doorbell_fd = ctx_.doorbell->fd();
  a->tap_fd = tap_.fd();
  a->tx_signal_batch = cfg_.tx_signal_batch;
  a->busy_poll_us = cfg_.busy_poll_max_us;
  auto kb = KernelBackend::open();
  if (!kb) {
    return tl::unexpected(kb.error());
  }
  features_ = 0;
  guest_link_ = false;
  if (auto ok = kb->attach(*a); !ok) {
    return ok;
  }
  kb_.emplace(std::move(*kb));
  auto stop = EventFd::create();
  if (!stop) {
    kb_.reset();
    return tl::unexpected(stop.error());
  }
  stop_.emplace(std::move(*stop));
  relay_ = std::thread([this] { relay(); });
  write_config(cfg_.link_up);
  return {};
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
      if (p[q].revents != 0) {
        kb_->notify(q).consume();
        ctx_.host->signal_guest(ctx_.id, q);
        relayed_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (p[2].revents != 0) {
      watch_fault = false;
      auto s = kb_->stats();
      ctx_.host->report_fault(ctx_.id,
                              Error{EPROTO, std::string("vbus_host: guest fault: ") +
                                                KernelBackend::fault_name(s ? s->fault : 0)});
    }
  }
}

void KernelVenet::stop_relay() {
  if (relay_.joinable()) {
    stop_->signal();
    relay_.join();
  }
  stop_.reset();
}

void KernelVenet::stop_io() {
  stop_relay();
  kb_.reset();  // detaches
}

void KernelVenet::close() {
  stop_io();
}

CallResult KernelVenet::call(uint32_t op, std::span<const uint8_t> req) {
  if (!kb_) {
    return CallResult{EIO, {}};
  }
  switch (op) {
    case VENET_CALL_NEGOTIATE: {
      uint64_t wanted = 0;
      if (req.size() != sizeof wanted) {
        return CallResult{EINVAL, {}};
      }
      std::memcpy(&wanted, req.data(), sizeof wanted);
      const uint64_t granted =
          venet_grant(wanted, cfg_.host_features & kVenetAllFeatures, cfg_.buf_size);
      if (!tap_.set_offload(venet_tun_offload(granted)) ||
          !kb_->configure(granted, guest_link_ && cfg_.link_up)) {
        return CallResult{EIO, {}};
      }
      features_ = granted;
      write_config(cfg_.link_up);
      CallResult r;
      r.data.resize(sizeof granted);
      std::memcpy(r.data.data(), &granted, sizeof granted);
      return r;
    }
    case VENET_CALL_SET_LINK: {
      uint16_t v = 0;
      if (req.size() != sizeof v) {
        return CallResult{EINVAL, {}};
      }
      std::memcpy(&v, req.data(), sizeof v);
      if ((v & ~VENET_LINK_UP) != 0) {
        return CallResult{EINVAL, {}};
      }
      guest_link_ = (v & VENET_LINK_UP) != 0;
      if (!kb_->configure(features_, guest_link_ && cfg_.link_up)) {
        return CallResult{EIO, {}};
      }
      return {};
    }
    default:
      return CallResult{EOPNOTSUPP, {}};
  }
}

void KernelVenet::quarantine(const Error& why) {
  (void)why;
  close();
  write_config(false);
  ctx_.host->config_changed(ctx_.id);
}

void KernelVenet::detach() {
  close();
}

Result<vbus_host_stats> KernelVenet::stats() const {
  if (!kb_) {
    return make_error(ENOTCONN, "kvenet: not open");
  }
  return kb_->stats();
}

}  // namespace avm::bench

// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_device.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstring>

#include "bridge/queue_reset.h"

namespace avm {

Result<std::unique_ptr<VenetDevice>> VenetDevice::create(const VenetConfig& cfg) {
  if (auto ok = validate(cfg); !ok) {
    return tl::unexpected(ok.error());
  }
  auto tap = Tap::open(cfg.tap_name);
  if (!tap) {
    return tl::unexpected(tap.error());
  }
  return create(cfg, std::move(*tap));
}

Result<std::unique_ptr<VenetDevice>> VenetDevice::create(const VenetConfig& cfg, Tap tap) {
  if (auto ok = validate(cfg); !ok) {
    return tl::unexpected(ok.error());
  }
  // The one place the MTU reaches the tap: the guest reads cfg.mtu from
  // the config area, so the host end must carry frames as large.
  if (auto ok = tap.set_mtu(cfg.mtu); !ok) {
    return tl::unexpected(ok.error());
  }
  return std::unique_ptr<VenetDevice>(new VenetDevice(cfg, std::move(tap)));
}

VenetDevice::VenetDevice(const VenetConfig& cfg, Tap tap)
    : cfg_(cfg), tap_(std::move(tap)), effective_(cfg.backend) {
  state_.host_link.store(cfg.link_up, std::memory_order_relaxed);
}

VenetDevice::~VenetDevice() {
  stop_io();
}

std::vector<uint8_t> VenetDevice::initial_config() const {
  return to_bytes(make_venet_config(cfg_));
}

std::vector<QueueSpec> VenetDevice::queue_specs() const {
  return {{cfg_.ring_size, cfg_.buf_size}, {cfg_.ring_size, cfg_.buf_size}};
}

Status VenetDevice::attach(const DeviceContext& ctx) {
  if (ctx.queues.size() != 2 || ctx.config.size() < sizeof(vbus_venet_config)) {
    return make_error(EINVAL, "venet: bad device context");
  }
  kernel_.reset();
  backend_note_.clear();
  effective_ = VenetBackend::kUser;
  if (cfg_.backend != VenetBackend::kUser) {
    Status ok;
    if (layout_ == nullptr || region_ == nullptr) {
      ok = make_error(EINVAL, "no region bound for the kernel backend");
    } else {
      auto k = std::make_unique<KernelVenet>(cfg_, tap_, *layout_, *region_);
      ok = k->probe(ctx);
      if (ok) {
        kernel_ = std::move(k);
      }
    }
    if (!ok) {
      if (cfg_.backend == VenetBackend::kKernel) {
        return make_error(ok.error().code, "backend kernel: " + ok.error().message);
      }
      backend_note_ = "auto: user backend: " + ok.error().message;
      spdlog::info("{}venet {} ({}): backend auto falls back to user: {}", ctx.host->log_prefix(),
                   ctx.id, tap_.name(), ok.error().message);
    } else {
      effective_ = VenetBackend::kKernel;
      spdlog::info("{}venet {} ({}): backend kernel (vbus_host.ko serves the rings)",
                   ctx.host->log_prefix(), ctx.id, tap_.name());
    }
  }
  ctx_ = ctx;
  attached_ = true;
  state_.signal_guest = [host = ctx.host, id = ctx.id](uint32_t q) {
    return host->signal_guest(id, q);
  };
  return {};
}

bool VenetDevice::configure_kernel() {
  if (!kernel_) {
    return true;
  }
  const bool active = state_.guest_link.load(std::memory_order_relaxed) &&
                      state_.host_link.load(std::memory_order_relaxed);
  if (auto ok = kernel_->configure(state_.feat(), active); !ok) {
    spdlog::warn("{}venet {}: vbus_host configure: {}", log_prefix(), ctx_.id, ok.error().message);
    return false;
  }
  return true;
}

VenetStats VenetDevice::stats() const {
  VenetStats s = state_.counters.snapshot();
  if (kernel_) {
    kernel_->add_stats(s);
  }
  return s;
}

Result<vbus_host_stats> VenetDevice::kernel_stats() const {
  if (!kernel_) {
    return make_error(ENOTSUP, "venet " + tap_.name() + ": not on the kernel backend");
  }
  return kernel_->module_stats();
}

void VenetDevice::write_config() {
  if (!attached_) {
    return;
  }
  auto* c = reinterpret_cast<vbus_venet_config*>(ctx_.config.data());  // NOLINT: our area
  // Relaxed single-word stores: the guest re-reads the config after the
  // DEV_CONFIG event (or the call response) that follows, whose release
  // store (event seq, resp_seq) orders these.
  std::atomic_ref<__u16>(c->link).store(
      state_.host_link.load(std::memory_order_relaxed) ? VENET_LINK_UP : 0,
      std::memory_order_relaxed);
  std::atomic_ref<__u64>(c->features).store(state_.feat(), std::memory_order_relaxed);
}

Status VenetDevice::open() {
  AVM_CHECK(attached_);
  close();
  // DEV_OPEN: the host side of both queues starts from zero (the guest
  // zeroed its side before the call), with fresh ring state.
  for (const QueueView& q : ctx_.queues) {
    reset_queue_host_side(q);
  }
  state_.guest_link.store(false, std::memory_order_relaxed);
  if (kernel_) {
    if (auto ok = kernel_->start(ctx_, state_.feat(), false); !ok) {
      spdlog::warn("{}venet {}: vbus_host attach: {}", log_prefix(), ctx_.id, ok.error().message);
      return ok;
    }
  } else if (auto ok = start_io(nullptr, nullptr); !ok) {
    return ok;
  }
  state_.counters.opens.inc();
  write_config();
  spdlog::info("{}venet {}: open on tap {} ({} backend)", log_prefix(), ctx_.id, tap_.name(),
               to_string(effective_));
  return {};
}

Status VenetDevice::start_io(const Positions* rx_at, const Positions* tx_at) {
  auto loop = EventLoop::create();
  if (!loop) {
    return tl::unexpected(loop.error());
  }
  loop_ = std::move(*loop);
  tx_.emplace(ctx_.queues[kTxQueue], tap_.fd(), state_, cfg_.tx_signal_batch);
  rx_.emplace(ctx_.queues[kRxQueue], tap_.fd(), state_);
  if (tx_at != nullptr) {
    tx_->queue().resume(tx_at->next_used, tx_at->taken);
  }
  if (rx_at != nullptr) {
    rx_->queue().resume(rx_at->next_used, rx_at->taken);
  }
  worker_.emplace(*loop_, *tx_, *rx_, ctx_.doorbell, tap_.fd(), state_, cfg_.busy_poll_max_us,
                  cfg_.rx_coalesce_us, &spare_cores_in_loadavg);
  DeviceHost* host = ctx_.host;
  const uint32_t id = ctx_.id;
  auto t = IoThread::start(
      "avm-venet-" + std::to_string(id), [w = &*worker_] { return w->run(); },
      [host, id](const Error& e) { host->report_fault(id, e); });
  if (!t) {
    worker_.reset();
    rx_.reset();
    tx_.reset();
    loop_.reset();
    return tl::unexpected(t.error());
  }
  thread_ = std::move(*t);
  paused_.reset();
  return {};
}

void VenetDevice::close() {
  stop_io();
}

void VenetDevice::stop_io() {
  if (kernel_) {
    kernel_->stop();
  }
  if (loop_) {
    loop_->request_stop();
  }
  thread_.join();
  worker_.reset();
  rx_.reset();
  tx_.reset();
  loop_.reset();
  paused_.reset();
  state_.guest_link.store(false, std::memory_order_relaxed);
}

CallResult VenetDevice::negotiate(std::span<const uint8_t> req) {
  if (req.size() != sizeof(uint64_t)) {
    return CallResult{EINVAL, {}};
  }
  uint64_t wanted = 0;
  std::memcpy(&wanted, req.data(), sizeof wanted);
  const uint64_t offered = cfg_.host_features & kVenetAllFeatures;
  const uint64_t granted = venet_grant(wanted, offered, cfg_.buf_size);
  // Tap first, then our copy the I/O thread reads per packet (relaxed: a
  // single word).  A frame the tap offloaded in between reaches a guest
  // that has not seen the response yet; it drops and counts it.
  if (auto ok = tap_.set_offload(venet_tun_offload(granted)); !ok) {
    spdlog::warn("{}venet {}: {}", log_prefix(), ctx_.id, ok.error().message);
    return CallResult{EIO, {}};
  }
  state_.features.store(granted, std::memory_order_relaxed);
  if (!configure_kernel()) {
    return CallResult{EIO, {}};
  }
  write_config();
  CallResult r;
  r.data.resize(sizeof granted);
  std::memcpy(r.data.data(), &granted, sizeof granted);
  return r;
}

CallResult VenetDevice::call(uint32_t op, std::span<const uint8_t> req) {
  switch (op) {
    case VENET_CALL_NEGOTIATE:
      return negotiate(req);
    case VENET_CALL_SET_LINK: {
      if (req.size() != sizeof(uint16_t)) {
        return CallResult{EINVAL, {}};
      }
      uint16_t v = 0;
      std::memcpy(&v, req.data(), sizeof v);
      if ((v & ~VENET_LINK_UP) != 0) {
        return CallResult{EINVAL, {}};
      }
      state_.guest_link.store((v & VENET_LINK_UP) != 0, std::memory_order_relaxed);
      if (!configure_kernel()) {
        return CallResult{EIO, {}};
      }
      return {};
    }
    default:
      return CallResult{EOPNOTSUPP, {}};
  }
}

Status VenetDevice::set_link(bool up) {
  state_.host_link.store(up, std::memory_order_relaxed);
  write_config();
  (void)configure_kernel();  // logged; the config area says what the guest sees
  if (attached_) {
    ctx_.host->config_changed(ctx_.id);
  }
  spdlog::info("{}venet {}: host link {}", log_prefix(), ctx_.id, up ? "up" : "down");
  return {};
}

void VenetDevice::quarantine(const Error& why) {
  close();
  state_.counters.resets.inc();
  // Tell the guest what it can see: no carrier.  Opening again restores
  // the configured link.
  const bool was = state_.host_link.load(std::memory_order_relaxed);
  state_.host_link.store(false, std::memory_order_relaxed);
  write_config();
  ctx_.host->config_changed(ctx_.id);
  state_.host_link.store(was, std::memory_order_relaxed);
  // A guest can fault and re-open at will: throttled like the bridge's
  // line for the same fault (first ten, then every 1024th).
  if (quarantine_log_.admit()) {
    spdlog::warn("{}venet {} ({}): quarantined until the guest opens it again: {}{}", log_prefix(),
                 ctx_.id, tap_.name(), why.message, quarantine_log_.held_back("quarantines"));
  }
}

const std::string& VenetDevice::log_prefix() const {
  static const std::string kNone;
  return attached_ ? ctx_.host->log_prefix() : kNone;
}

void VenetDevice::detach() {
  close();
  kernel_.reset();
  attached_ = false;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "bridge/bridge_runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>

#include "bridge/queue_reset.h"
#include "lib/shared_word.h"

namespace avm {
namespace {

vbus_evq_header* evq_header(const BridgeLayout& l) {
  // NOLINTNEXTLINE: laid out by BridgeLayout, 64-byte aligned
  return reinterpret_cast<vbus_evq_header*>(l.region().data() + l.evq_offset());
}

vbus_call_slot* call_slots(const BridgeLayout& l) {
  // NOLINTNEXTLINE: laid out by BridgeLayout, 64-byte aligned
  return reinterpret_cast<vbus_call_slot*>(l.region().data() + l.call_offset());
}

// A device error code as a call status: a positive errno below 4096.
uint32_t status_of(const Error& e) {
  return e.code > 0 && e.code < 4096 ? static_cast<uint32_t>(e.code) : EIO;
}

}  // namespace

Result<std::unique_ptr<BridgeRuntime>> BridgeRuntime::create(std::span<uint8_t> region,
                                                             const BridgeConfig& config,
                                                             EventLoop& loop,
                                                             std::span<const EventFd> doorbells) {
  if (doorbells.size() != config.num_vectors) {
    return make_error(EINVAL, "bridge: " + std::to_string(doorbells.size()) +
                                  " doorbell eventfds for " + std::to_string(config.num_vectors) +
                                  " vectors");
  }
  auto layout = BridgeLayout::create(region, config);
  if (!layout) {
    return tl::unexpected(layout.error());
  }
  std::unique_ptr<BridgeRuntime> rt(new BridgeRuntime(std::move(*layout), loop, doorbells));
  return rt;
}

BridgeRuntime::BridgeRuntime(BridgeLayout layout, EventLoop& loop,
                             std::span<const EventFd> doorbells)
    : layout_(std::move(layout)),
      loop_(loop),
      doorbells_(doorbells),
      // Sizes and offsets from the host's own config, never from the
      // header: a running guest (kept region) can rewrite it meanwhile.
      evq_(evq_header(layout_), layout_.config().evq_entries),
      calls_(call_slots(layout_), layout_.config().call_slots, evq_,
             [this](const CallRequest& r) { return dispatch(r); }),
      epoch_(layout_.config().host_epoch),
      self_(std::make_shared<BridgeRuntime*>(this)) {}

BridgeRuntime::~BridgeRuntime() {
  self_.reset();
  if (started_) {
    shutdown();
  }
  for (auto& [id, e] : devices_) {
    e.dev->close();
    e.dev->detach();
  }
}

Status BridgeRuntime::start() {
  if (started_) {
    return make_error(EBUSY, "bridge already started");
  }
  if (!watching_) {
    const EventFd& bell = doorbells_[VBUS_BRIDGE_VECTOR];
    auto ok = loop_.add(bell.fd(), EPOLLIN, [this, &bell](uint32_t) {
      bell.consume();
      on_doorbell();
    });
    if (!ok) {
      return ok;
    }
    watching_ = true;
  }
  if (started_once_) {
    epoch_++;
    c_.restarts.inc();
  }
  started_ = true;
  started_once_ = true;
  evq_.set_enabled(false);
  // The new epoch with it; ordered by the release store of host_state.
  rewrite_region(true);
  store_host_state(VBUS_STATE_READY);
  evq_.interrupt();
  spdlog::info("{}bridge: host READY (epoch {})", log_prefix_, epoch_);
  return {};
}

void BridgeRuntime::shutdown() {
  if (!started_) {
    return;
  }
  link_down(VBUS_STATE_RESET);
  if (watching_) {
    loop_.remove(doorbells_[VBUS_BRIDGE_VECTOR].fd());
    watching_ = false;
  }
  started_ = false;
  spdlog::info("{}bridge: host RESET (shutdown)", log_prefix_);
}

void BridgeRuntime::restart() {
  epoch_++;
  c_.restarts.inc();
  // link_down() writes the region again with the new epoch, before the
  // state: the guest reads host_state (acquire) first.
  link_down(VBUS_STATE_READY);
  spdlog::info("{}bridge: host restarted, READY (epoch {})", log_prefix_, epoch_);
}

void BridgeRuntime::rewrite_region(bool configs) {
  layout_.write_host_fields(epoch_, features_);
  if (!configs) {
    return;
  }
  for (const auto& [id, e] : devices_) {
    if (e.opened) {
      continue;  // its own (cannot happen: every caller closed them all)
    }
    // Closed: the device writes its run-time fields again on DEV_OPEN.
    const std::vector<uint8_t> config = e.dev->initial_config();
    std::span<uint8_t> area = layout_.config(id);
    AVM_CHECK(config.size() == area.size());  // the area was sized from it
    std::copy(config.begin(), config.end(), area.begin());
  }
}

void BridgeRuntime::store_host_state(uint32_t state) {
  host_state_ = state;
  // Release: everything set up for this state (features, reset queues,
  // epoch) before the state; pairs with the guest's smp_load_acquire().
  store_release(layout_.header().host_state, state);
}

void BridgeRuntime::on_doorbell() {
  c_.doorbells.inc();
  if (!started_) {
    return;
  }
  vbus_bridge_header& h = layout_.header();
  // Acquire: pairs with the guest's smp_store_release() of guest_state,
  // so guest_epoch and guest_features read below are the ones it wrote
  // before the state.  All three are hostile: each is read once.
  const uint32_t gs = std::atomic_ref<uint32_t>(h.guest_state).load(std::memory_order_acquire);
  switch (gs) {
    case VBUS_STATE_INIT: {
      if (host_state_ == VBUS_STATE_RUN) {
        break;  // done already; the guest has not stored RUN yet
      }
      const uint32_t gepoch =
          std::atomic_ref<uint32_t>(h.guest_epoch).load(std::memory_order_relaxed);
      if (gepoch != epoch_) {
        // The guest will see the new epoch and INIT again.
        c_.stale_inits.inc();
        if (log_worthy(c_.stale_inits.get())) {
          spdlog::info("{}bridge: guest INIT for epoch {} ignored (host epoch {})", log_prefix_,
                       gepoch, epoch_);
        }
        break;
      }
      link_up(std::atomic_ref<__u64>(h.guest_features).load(std::memory_order_relaxed));
      break;
    }
    case VBUS_STATE_RESET:
      if (host_state_ == VBUS_STATE_RUN) {
        c_.guest_resets.inc();
        link_down(VBUS_STATE_READY);
        spdlog::info("{}bridge: guest RESET: link down, host READY", log_prefix_);
      }
      break;
    case VBUS_STATE_RUN:
      break;  // handshake finished (or stale after a host restart)
    default: {
      c_.bad_guest_state.inc();
      if (log_worthy(c_.bad_guest_state.get())) {
        spdlog::warn("{}bridge: guest wrote guest_state {}, which is no state; ignored",
                     log_prefix_, gs);
      }
      break;
    }
  }
  if (host_state_ == VBUS_STATE_RUN) {
    calls_.service();
  }
}

void BridgeRuntime::link_up(uint64_t guest_features) {
  // Quiesce every backend; a guest (re)starting the link forgets devices
  // it was asked to remove, so those go now.
  evq_.set_enabled(false);
  std::vector<uint32_t> removing;
  for (auto& [id, e] : devices_) {
    e.dev->close();
    e.opened = false;
    e.quarantined = false;
    if (e.removing) {
      removing.push_back(id);
    }
  }
  for (uint32_t id : removing) {
    finish_remove(id);
  }
  // Reset every piece of shared queue state to zero.
  evq_.reset();
  calls_.reset();
  for (auto& [id, e] : devices_) {
    for (uint32_t q = 0; q < layout_.device(id)->layout.queues.size(); q++) {
      auto view = layout_.queue_view(id, q);
      AVM_CHECK(view.has_value());  // our own layout
      reset_queue_all(*view);
    }
  }
  // What we offered from our own config: the header's host_features is
  // guest-writable (the fuzzer negotiated bits the host never offered).
  features_ = layout_.config().host_features & guest_features;
  rewrite_region(true);
  store_host_state(VBUS_STATE_RUN);  // release: orders everything above
  evq_.set_enabled(true);
  c_.inits.inc();
  evq_.interrupt();
  spdlog::info("{}bridge: guest INIT: link RUN (epoch {}, features {:#x})", log_prefix_, epoch_,
               features_);
}

void BridgeRuntime::link_down(uint32_t state) {
  evq_.set_enabled(false);
  std::vector<uint32_t> removing;
  for (auto& [id, e] : devices_) {
    e.dev->close();
    e.opened = false;
    if (e.removing) {
      removing.push_back(id);
    }
  }
  for (uint32_t id : removing) {
    finish_remove(id);
  }
  features_ = 0;  // no link, nothing negotiated
  rewrite_region(true);
  store_host_state(state);
  evq_.interrupt();
}

std::optional<uint32_t> BridgeRuntime::free_vector() const {
  for (uint32_t v = 1; v < doorbells_.size(); v++) {
    bool used = false;
    for (const auto& [id, e] : devices_) {
      used = used || e.vector == v;
    }
    if (!used) {
      return v;
    }
  }
  return std::nullopt;
}

Result<uint32_t> BridgeRuntime::add_device(std::unique_ptr<Device> dev) {
  AVM_CHECK(dev != nullptr);
  const auto vector = free_vector();
  if (!vector) {
    return make_error(ENOSPC, "add device " + dev->name() + ": no free doorbell vector");
  }
  const std::vector<uint8_t> config = dev->initial_config();
  const std::vector<QueueSpec> specs = dev->queue_specs();
  auto id = layout_.add_device(dev->type(), dev->abi_version(), config, specs, *vector);
  if (!id) {
    return make_error(id.error().code, dev->name() + ": " + id.error().message);
  }
  auto link = std::make_unique<DeviceLink>(*this);
  DeviceContext ctx;
  ctx.id = *id;
  ctx.host = link.get();
  ctx.config = layout_.config(*id);
  for (uint32_t q = 0; q < specs.size(); q++) {
    auto view = layout_.queue_view(*id, q);
    AVM_CHECK(view.has_value());  // our own layout
    ctx.queues.push_back(*view);
  }
  ctx.doorbell = &doorbells_[*vector];
  ctx.doorbell_vector = *vector;
  if (auto ok = dev->attach(ctx); !ok) {
    auto rm = layout_.remove_device(*id);
    AVM_CHECK(rm.has_value());
    return make_error(ok.error().code, dev->name() + ": attach: " + ok.error().message);
  }
  spdlog::info("{}bridge: device {} ({}) added, doorbell vector {}", log_prefix_, *id, dev->name(),
               *vector);
  Entry e;
  e.link = std::move(link);
  e.dev = std::move(dev);
  e.vector = *vector;
  devices_.emplace(*id, std::move(e));
  c_.devices_added.inc();
  evq_.post(VBUS_EV_DEV_ADD, *id, 0);  // dropped (and counted) unless RUN
  return *id;
}

Status BridgeRuntime::remove_device(uint32_t id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) {
    return make_error(ENOENT, "device " + std::to_string(id) + " does not exist");
  }
  Entry& e = it->second;
  if (e.removing) {
    return {};
  }
  if (e.opened && host_state_ == VBUS_STATE_RUN) {
    auto ok = layout_.mark_removing(id);
    AVM_CHECK(ok.has_value());
    e.removing = true;
    evq_.post(VBUS_EV_DEV_REMOVE, id, 0);
    spdlog::info("{}bridge: {} REMOVING: waiting for the guest's close", log_prefix_,
                 device_label(id, e));
    return {};
  }
  finish_remove(id);
  evq_.post(VBUS_EV_DEV_REMOVE, id, 0);
  return {};
}

void BridgeRuntime::finish_remove(uint32_t id) {
  auto it = devices_.find(id);
  AVM_CHECK(it != devices_.end());
  it->second.dev->close();
  it->second.dev->detach();
  auto ok = layout_.remove_device(id);
  AVM_CHECK(ok.has_value());
  spdlog::info("{}bridge: {} removed", log_prefix_, device_label(id, it->second));
  devices_.erase(it);
  c_.devices_removed.inc();
}

Device* BridgeRuntime::device(uint32_t id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : it->second.dev.get();
}

bool BridgeRuntime::device_open(uint32_t id) const {
  auto it = devices_.find(id);
  return it != devices_.end() && it->second.opened;
}

bool BridgeRuntime::device_quarantined(uint32_t id) const {
  auto it = devices_.find(id);
  return it != devices_.end() && it->second.quarantined;
}

Status BridgeRuntime::set_link(uint32_t id, bool up) {
  Device* d = device(id);
  if (d == nullptr) {
    return make_error(ENOENT, "device " + std::to_string(id) + " does not exist");
  }
  return d->set_link(up);
}

CallResult BridgeRuntime::dispatch(const CallRequest& req) {
  if (req.dev_id == 0) {
    return CallResult{EOPNOTSUPP, {}};  // no bridge calls defined yet
  }
  auto it = devices_.find(req.dev_id);
  if (it == devices_.end() || it->second.removing) {
    // A closing device that is being removed still gets its close.
    if (it != devices_.end() && req.op == VBUS_CALL_DEV_CLOSE) {
      return dispatch_device(it->second, req);
    }
    return CallResult{ENODEV, {}};
  }
  return dispatch_device(it->second, req);
}

CallResult BridgeRuntime::dispatch_device(Entry& e, const CallRequest& req) {
  const uint32_t id = req.dev_id;
  switch (req.op) {
    case VBUS_CALL_DEV_OPEN: {
      if (e.opened) {
        e.dev->close();  // re-open without close: start from scratch
        e.opened = false;
      }
      // A new session: the I/O threads of the old one are gone (close()
      // joined them), and a fault they reported is now stale.
      e.link->new_generation();
      auto ok = e.dev->open();
      if (!ok) {
        spdlog::warn("{}bridge: {} open failed: {}", log_prefix_, device_label(id, e),
                     ok.error().message);
        return CallResult{status_of(ok.error()), {}};
      }
      e.opened = true;
      e.quarantined = false;
      return {};
    }
    case VBUS_CALL_DEV_CLOSE:
      e.dev->close();
      e.opened = false;
      if (e.removing) {
        finish_remove(id);
      }
      return {};
    default:
      break;
  }
  if (req.op < VBUS_CALL_CLASS_BASE) {
    return CallResult{EOPNOTSUPP, {}};
  }
  if (e.quarantined) {
    return CallResult{EIO, {}};
  }
  CallResult r = e.dev->call(req.op, req.data);
  AVM_CHECK(r.data.size() <= VBUS_CALL_DATA_SIZE);
  return r;
}

bool BridgeRuntime::signal_guest(uint32_t dev_id, uint32_t queue) {
  return evq_.post(VBUS_EV_SIGNAL, dev_id, queue);
}

void BridgeRuntime::config_changed(uint32_t dev_id) {
  evq_.post(VBUS_EV_DEV_CONFIG, dev_id, 0);
}

void BridgeRuntime::report_fault(uint32_t dev_id, const Error& why) {
  post_fault(dev_id, std::nullopt, why);
}

void BridgeRuntime::post_fault(uint32_t id, std::optional<uint64_t> generation, const Error& why) {
  std::weak_ptr<BridgeRuntime*> weak = self_;
  loop_.post([weak, id, generation, why] {
    if (auto self = weak.lock()) {
      (*self)->handle_fault(id, generation, why);
    }
  });
}

void BridgeRuntime::handle_fault(uint32_t id, std::optional<uint64_t> generation,
                                 const Error& why) {
  auto it = devices_.find(id);
  if (it == devices_.end()) {
    return;
  }
  Entry& e = it->second;
  if (!e.opened || (generation && *generation != e.link->generation())) {
    spdlog::debug("{}bridge: device {}: stale fault report ignored: {}", log_prefix_, id,
                  why.message);
    return;
  }
  c_.device_faults.inc();
  if (e.fault_log.admit()) {
    spdlog::warn("{}bridge: {} quarantined: {}{}", log_prefix_, device_label(id, e), why.message,
                 e.fault_log.held_back("quarantines"));
  }
  e.quarantined = true;
  e.dev->quarantine(why);
}

void BridgeRuntime::set_log_name(const std::string& name) {
  log_name_ = name;
  log_prefix_ = name.empty() ? std::string() : name + ": ";
  evq_.set_log_prefix(log_prefix_);
}

std::string BridgeRuntime::device_label(uint32_t id, const Entry& e) {
  return "device " + std::to_string(id) + " (" + e.dev->name() + ")";
}

BridgeCounters BridgeRuntime::counters() const {
  return c_.snapshot();
}

}  // namespace avm

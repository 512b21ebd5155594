// SPDX-License-Identifier: GPL-2.0
// VenetDevice's hand-over half (venet_device.h, docs/handover.md).
#include <spdlog/spdlog.h>

#include <atomic>

#include "venet/venet_device.h"

namespace avm {
namespace {

using handover::get_bool;
using handover::get_object;
using handover::get_string;
using handover::get_u32;
using handover::get_u64;

nlohmann::json positions_json(uint32_t next_used, uint64_t taken) {
  return {{"next_used", next_used}, {"taken", taken}};
}

// Where a ring continues, checked against the ring itself: the positions
// must agree with each other, and the last used entry we produced must
// still say so (the used ring is host-written; a guest that scribbled on
// it, or a state that does not belong to this region, is refused).
Status check_positions(const QueueView& q, uint32_t next_used, uint64_t taken) {
  if (static_cast<uint32_t>(taken) != next_used) {
    return make_error(EINVAL, "ring positions disagree");
  }
  if (taken > 0) {
    const vbus_ring_used& u = q.used()[(next_used - 1) & q.mask()];
    // Acquire: pairs with the release store of seq that produced it.
    const uint32_t seq =
        std::atomic_ref<uint32_t>(const_cast<uint32_t&>(u.seq)).load(std::memory_order_acquire);
    if (seq != next_used) {
      return make_error(EPROTO, "used entry " + std::to_string(next_used - 1) + " holds seq " +
                                    std::to_string(seq) + ", expected " +
                                    std::to_string(next_used));
    }
  }
  return {};
}

}  // namespace

Status VenetDevice::quiesce() {
  if (kernel_) {
    return make_error(ENOTSUP, "venet " + tap_.name() +
                                   ": served by vbus_host.ko (backend kernel), which cannot be "
                                   "handed over; detach it or use backend user");
  }
  if (!loop_) {
    return {};  // not serving
  }
  loop_->request_stop();
  thread_.join();
  // Only completed entries count: the chain the TX path was assembling and
  // the RX buffers it held are taken again from the ring on resume.
  paused_.emplace(Positions{rx_->queue().next_used(), rx_->queue().taken_before_outstanding()},
                  Positions{tx_->queue().next_used(), tx_->queue().taken_before_outstanding()});
  worker_.reset();
  rx_.reset();
  tx_.reset();
  loop_.reset();
  spdlog::info("{}venet {}: quiesced (rx at {}, tx at {})", log_prefix(), ctx_.id,
               paused_->first.next_used, paused_->second.next_used);
  return {};
}

nlohmann::json VenetDevice::runtime_state() const {
  nlohmann::json j;
  j["features"] = state_.feat();
  j["host_link"] = state_.host_link.load(std::memory_order_relaxed);
  j["guest_link"] = state_.guest_link.load(std::memory_order_relaxed);
  j["serving"] = paused_.has_value();
  if (paused_) {
    j["rx"] = positions_json(paused_->first.next_used, paused_->first.taken);
    j["tx"] = positions_json(paused_->second.next_used, paused_->second.taken);
  }
  // Counters only (kVenetStats): the next process measures the gauges again.
  j["counters"] = stats_to_json(state_.counters.snapshot(), kVenetStats, true);
  return j;
}

Status VenetDevice::resume(const nlohmann::json& state) {
  AVM_CHECK(attached_);
  auto features = get_u64(state, "features");
  auto host_link = get_bool(state, "host_link");
  auto guest_link = get_bool(state, "guest_link");
  auto serving = get_bool(state, "serving");
  if (!features || !host_link || !guest_link || !serving) {
    return make_error(EINVAL, "venet resume: incomplete runtime state");
  }
  if ((*features & ~(cfg_.host_features & kVenetAllFeatures)) != 0) {
    return make_error(EINVAL, "venet resume: features the host never offered");
  }
  Positions at[2];
  if (*serving) {
    const char* keys[2] = {"rx", "tx"};
    const uint32_t queues[2] = {kRxQueue, kTxQueue};
    for (int i = 0; i < 2; i++) {
      auto p = get_object(state, keys[i]);
      if (!p) {
        return make_error(EINVAL, "venet resume: no ring positions");
      }
      auto next = get_u32(**p, "next_used");
      auto taken = get_u64(**p, "taken");
      if (!next || !taken) {
        return make_error(EINVAL, "venet resume: bad ring positions");
      }
      if (auto ok = check_positions(ctx_.queues[queues[i]], *next, *taken); !ok) {
        return make_error(ok.error().code,
                          std::string("venet resume: ") + keys[i] + ": " + ok.error().message);
      }
      at[i] = Positions{*next, *taken};
    }
  }
  // The same tap: re-applying the offloads is a no-op there, and makes a
  // mismatch impossible.
  if (auto ok = tap_.set_offload(venet_tun_offload(*features)); !ok) {
    return ok;
  }
  state_.features.store(*features, std::memory_order_relaxed);
  state_.host_link.store(*host_link, std::memory_order_relaxed);
  state_.guest_link.store(*guest_link, std::memory_order_relaxed);
  // A fresh object (adopted in a new process) continues the counters.
  if (state_.counters.opens.get() == 0) {
    if (auto c = state.find("counters"); c != state.end()) {
      state_.counters.continue_from(counters_from_json(*c, kVenetStats));
    }
  }
  if (!*serving) {
    return {};
  }
  if (auto ok = start_io(&at[0], &at[1]); !ok) {
    return ok;
  }
  spdlog::info("{}venet {}: resumed on tap {} (rx at {}, tx at {})", log_prefix(), ctx_.id,
               tap_.name(), at[0].next_used, at[1].next_used);
  return {};
}

Result<nlohmann::json> VenetDevice::export_config(handover::FdBundle& fds,
                                                  const std::string& prefix) const {
  if (kernel_) {
    return make_error(ENOTSUP, "venet " + tap_.name() + ": backend kernel cannot be handed over");
  }
  if (auto ok = fds.add_dup(prefix + "tap", tap_.fd()); !ok) {
    return tl::unexpected(ok.error());
  }
  nlohmann::json j;
  j["tap"] = tap_.name();
  j["mac"] = cfg_.mac;
  j["mtu"] = cfg_.mtu;
  j["queue_pairs"] = cfg_.queue_pairs;
  j["ring_size"] = cfg_.ring_size;
  j["buf_size"] = cfg_.buf_size;
  j["host_features"] = cfg_.host_features;
  j["link_up"] = cfg_.link_up;
  j["busy_poll_max_us"] = cfg_.busy_poll_max_us;
  j["tx_signal_batch"] = cfg_.tx_signal_batch;
  j["rx_coalesce_us"] = cfg_.rx_coalesce_us;
  return j;
}

Result<std::unique_ptr<VenetDevice>> VenetDevice::adopt(const nlohmann::json& config,
                                                        handover::FdBundle& fds,
                                                        const std::string& prefix) {
  VenetConfig c;
  auto tap_name = get_string(config, "tap");
  auto mtu = get_u32(config, "mtu", UINT16_MAX);
  auto pairs = get_u32(config, "queue_pairs", UINT16_MAX);
  auto ring = get_u32(config, "ring_size");
  auto buf = get_u32(config, "buf_size");
  auto features = get_u64(config, "host_features");
  auto link = get_bool(config, "link_up");
  auto poll = get_u32(config, "busy_poll_max_us");
  auto batch = get_u32(config, "tx_signal_batch");
  auto mac = config.find("mac");
  if (!tap_name || !mtu || !pairs || !ring || !buf || !features || !link || !poll || !batch ||
      mac == config.end() || !mac->is_array() || mac->size() != c.mac.size()) {
    return make_error(EINVAL, "venet adopt: incomplete device config");
  }
  for (size_t i = 0; i < c.mac.size(); i++) {
    if (!(*mac)[i].is_number_unsigned() || (*mac)[i].get<uint64_t>() > 0xff) {
      return make_error(EINVAL, "venet adopt: bad MAC address");
    }
    c.mac[i] = (*mac)[i].get<uint8_t>();
  }
  c.tap_name = *tap_name;
  c.mtu = static_cast<uint16_t>(*mtu);
  c.queue_pairs = static_cast<uint16_t>(*pairs);
  c.ring_size = *ring;
  c.buf_size = *buf;
  c.host_features = *features;
  c.link_up = *link;
  c.busy_poll_max_us = *poll;
  c.tx_signal_batch = *batch;
  // Absent in the state of a daemon from before coalescing: the default.
  if (config.contains("rx_coalesce_us")) {
    auto coalesce = get_u32(config, "rx_coalesce_us", kVenetMaxRxCoalesceUs);
    if (!coalesce) {
      return make_error(EINVAL, "venet adopt: bad rx_coalesce_us");
    }
    c.rx_coalesce_us = *coalesce;
  }
  auto fd = fds.take(prefix + "tap");
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  auto tap = Tap::adopt(std::move(*fd));
  if (!tap) {
    return tl::unexpected(tap.error());
  }
  if (tap->name() != c.tap_name) {
    return make_error(EINVAL, "venet adopt: the tap fd is " + tap->name() + ", not " + c.tap_name);
  }
  return create(c, std::move(*tap));
}

}  // namespace avm

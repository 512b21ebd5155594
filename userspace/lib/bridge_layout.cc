// SPDX-License-Identifier: GPL-2.0
#include "lib/bridge_layout.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <string>

#include "lib/shared_word.h"

namespace avm {

static_assert(std::endian::native == std::endian::little,
              "the vbus ABI is little-endian; this code stores native words");

namespace {

constexpr uint64_t kLine = VBUS_CACHELINE;
constexpr uint64_t kPage = AreaAllocator::kPageSize;

constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

// The fixed tables' offsets for a config.
struct Tables {
  uint64_t devtab;
  uint64_t evq;
  uint64_t call;
  uint64_t end;
};

Tables tables_for(const BridgeConfig& c) {
  Tables t{};
  t.devtab = align_up(sizeof(vbus_bridge_header), kLine);
  t.evq = align_up(t.devtab + uint64_t{c.devtab_slots} * sizeof(vbus_dev_desc), kLine);
  t.call = align_up(t.evq + sizeof(vbus_evq_header) + uint64_t{c.evq_entries} * sizeof(vbus_event),
                    kLine);
  t.end = t.call + uint64_t{c.call_slots} * sizeof(vbus_call_slot);
  return t;
}

}  // namespace

Result<DeviceAreaLayout> layout_device_area(uint32_t config_size,
                                            std::span<const QueueSpec> queues) {
  if (config_size > BridgeLayout::kMaxConfigSize) {
    return make_error(EINVAL, "device config of " + std::to_string(config_size) +
                                  " bytes exceeds " + std::to_string(BridgeLayout::kMaxConfigSize));
  }
  if (queues.size() > BridgeLayout::kMaxQueues) {
    return make_error(EINVAL, std::to_string(queues.size()) + " queues exceed " +
                                  std::to_string(BridgeLayout::kMaxQueues));
  }
  DeviceAreaLayout l;
  l.config_offset = 0;
  l.config_size = config_size;
  uint64_t off = align_up(config_size, kLine);
  l.queues_offset = static_cast<uint32_t>(off);
  off = align_up(off + queues.size() * sizeof(vbus_queue_desc), kLine);
  for (const QueueSpec& q : queues) {
    if (!std::has_single_bit(q.num_entries) || q.num_entries > QueueView::kMaxEntries) {
      return make_error(EINVAL, "queue size " + std::to_string(q.num_entries) +
                                    " is not a power of two in 1.." +
                                    std::to_string(QueueView::kMaxEntries));
    }
    if (q.buf_size == 0 || q.buf_size > QueueView::kMaxBufSize) {
      return make_error(EINVAL, "queue buffer size " + std::to_string(q.buf_size) +
                                    " is not in 1.." + std::to_string(QueueView::kMaxBufSize));
    }
    vbus_queue_desc d{};
    d.num_entries = q.num_entries;
    d.buf_size = q.buf_size;
    d.to_host_offset = static_cast<uint32_t>(off);
    off += sizeof(vbus_shm_signal);
    d.to_guest_offset = static_cast<uint32_t>(off);
    off += sizeof(vbus_shm_signal);
    d.submit_offset = static_cast<uint32_t>(off);
    off = align_up(off + uint64_t{q.num_entries} * sizeof(vbus_ring_desc), kLine);
    d.used_offset = static_cast<uint32_t>(off);
    off = align_up(off + uint64_t{q.num_entries} * sizeof(vbus_ring_used), kLine);
    const uint64_t pool = uint64_t{q.num_entries} * q.buf_size;
    d.pool_offset = static_cast<uint32_t>(off);
    d.pool_size = static_cast<uint32_t>(pool);
    off = align_up(off + pool, kLine);
    // Bounded: 64 queues x (2^12 x 2^20) could exceed 32 bits.
    if (off > UINT32_MAX) {
      return make_error(EINVAL, "device area would exceed 4 GiB");
    }
    l.queues.push_back(d);
  }
  l.size = align_up(std::max<uint64_t>(off, 1), kPage);
  return l;
}

namespace {

Status check_geometry(std::span<uint8_t> region, const BridgeConfig& config) {
  if (region.size() < Region::kMinSize || !std::has_single_bit(region.size())) {
    return make_error(EINVAL, "bridge layout: region size " + std::to_string(region.size()) +
                                  " is not a power of two >= " + std::to_string(Region::kMinSize));
  }
  if (reinterpret_cast<uintptr_t>(region.data()) % kPage != 0) {
    return make_error(EINVAL, "bridge layout: region is not page aligned");
  }
  if (config.devtab_slots == 0 || config.devtab_slots > 4096 || config.call_slots > 4096 ||
      config.evq_entries == 0 || !std::has_single_bit(config.evq_entries) ||
      config.evq_entries > 65536 || config.num_vectors == 0 || config.num_vectors > 65536) {
    return make_error(EINVAL, "bridge layout: bad table sizes");
  }
  const Tables t = tables_for(config);
  const uint64_t devices = align_up(t.end, kPage);
  if (devices >= region.size()) {
    return make_error(EINVAL, "bridge layout: fixed tables fill the whole region");
  }
  return {};
}

}  // namespace

Result<BridgeLayout> BridgeLayout::create(std::span<uint8_t> region, const BridgeConfig& config) {
  if (auto ok = check_geometry(region, config); !ok) {
    return tl::unexpected(ok.error());
  }
  const uint64_t devices = align_up(tables_for(config).end, kPage);
  std::memset(region.data(), 0, devices);
  BridgeLayout b(region, config, devices);
  b.write_host_fields(config.host_epoch, 0);
  // Everything above before the state (pairs with the guest's
  // smp_load_acquire() of host_state).
  store_release(b.header().host_state, uint32_t{VBUS_STATE_READY});
  return b;
}

void BridgeLayout::write_host_fields(uint32_t epoch, uint64_t features) const {
  static_assert(offsetof(vbus_bridge_header, host_state) == kLine, "line 0 is 64 bytes");
  const Tables t = tables_for(config_);
  vbus_bridge_header mine{};
  mine.magic = VBUS_MAGIC;
  mine.abi_major = VBUS_ABI_MAJOR;
  mine.abi_minor = VBUS_ABI_MINOR;
  mine.header_size = sizeof(vbus_bridge_header);
  mine.region_size = region_.size();
  mine.host_features = config_.host_features;
  mine.host_peer_id = config_.host_peer_id;
  mine.num_vectors = config_.num_vectors;
  mine.devtab_offset = static_cast<uint32_t>(t.devtab);
  mine.devtab_slots = config_.devtab_slots;
  mine.evq_offset = static_cast<uint32_t>(t.evq);
  mine.evq_entries = config_.evq_entries;
  mine.call_offset = static_cast<uint32_t>(t.call);
  mine.call_slots = config_.call_slots;
  // Line 0 whole; line 1 word by word around host_state (the caller's).
  std::memcpy(region_.data(), &mine, offsetof(vbus_bridge_header, host_state));
  vbus_bridge_header& h = header();
  write_once(h.host_epoch, epoch);
  write_once(h.features, __u64{features});
  write_once(h.devtab_generation, generation_);
  for (__le32& w : h.reserved1) {
    write_once(w, __le32{0});
  }
  for (uint32_t i = 0; i < config_.devtab_slots; i++) {
    if (slots_[i]) {
      write_queue_table(*slots_[i]);
    }
    write_slot(i);
  }
}

void BridgeLayout::write_queue_table(const DeviceInfo& d) const {
  if (!d.layout.queues.empty()) {  // memcpy from an empty vector's null data() is UB
    std::memcpy(region_.data() + d.area_offset + d.layout.queues_offset, d.layout.queues.data(),
                d.layout.queues.size() * sizeof(vbus_queue_desc));
  }
}

void BridgeLayout::write_slot(uint32_t i) const {
  vbus_dev_desc mine{};
  if (slots_[i]) {
    const DeviceInfo& info = *slots_[i];
    mine.id = info.id;
    mine.type = info.type;
    mine.abi_version = info.abi_version;
    mine.state = info.state;
    mine.area_offset = info.area_offset;
    mine.area_size = info.layout.size;
    mine.config_offset = info.layout.config_offset;
    mine.config_size = info.layout.config_size;
    mine.queues_offset = info.layout.queues_offset;
    mine.num_queues = static_cast<uint32_t>(info.layout.queues.size());
    mine.doorbell_vector = info.doorbell_vector;
  }
  vbus_dev_desc& d = slot(i);
  // Every field but the state.
  auto fields = [&d, &mine] {
    constexpr size_t kState = offsetof(vbus_dev_desc, state);
    constexpr size_t kAfter = kState + sizeof mine.state;
    auto* dst = reinterpret_cast<uint8_t*>(&d);                 // NOLINT: raw copy of a slot
    const auto* src = reinterpret_cast<const uint8_t*>(&mine);  // NOLINT: raw copy of a slot
    std::memcpy(dst, src, kState);
    std::memcpy(dst + kAfter, src + kAfter, sizeof mine - kAfter);
  };
  if (mine.state == VBUS_DEV_EMPTY) {
    // EMPTY first (release), then the rest of the slot is cleared.
    store_release(d.state, uint32_t{VBUS_DEV_EMPTY});
    fields();
  } else {
    // State last: every field (and the area) before PRESENT or REMOVING
    // (pairs with the guest's smp_load_acquire() of state).
    fields();
    store_release(d.state, mine.state);
  }
}

BridgeLayout::BridgeLayout(std::span<uint8_t> region, const BridgeConfig& config,
                           uint64_t devices_offset)
    : region_(region),
      config_(config),
      devtab_offset_(tables_for(config).devtab),
      alloc_(devices_offset, region.size() - devices_offset),
      slots_(config.devtab_slots) {}

Result<BridgeLayout> BridgeLayout::adopt(std::span<uint8_t> region, const BridgeConfig& config,
                                         std::vector<DeviceInfo> devices, uint32_t next_id,
                                         uint32_t devtab_generation) {
  if (auto ok = check_geometry(region, config); !ok) {
    return tl::unexpected(ok.error());
  }
  BridgeLayout b(region, config, align_up(tables_for(config).end, kPage));
  b.next_id_ = next_id;
  b.generation_ = devtab_generation;
  for (DeviceInfo& d : devices) {
    const std::string what = "bridge adopt: device " + std::to_string(d.id) + ": ";
    if (d.id == 0 || (next_id != 0 && d.id >= next_id) || b.device(d.id) != nullptr) {
      return make_error(EINVAL, what + "id is 0, reused or not below next_id");
    }
    if (d.slot >= config.devtab_slots || b.slots_[d.slot]) {
      return make_error(EINVAL, what + "slot out of range or taken twice");
    }
    if (d.type == VBUS_DEV_TYPE_NONE || d.doorbell_vector >= config.num_vectors ||
        (d.state != VBUS_DEV_PRESENT && d.state != VBUS_DEV_REMOVING)) {
      return make_error(EINVAL, what + "type, vector or state out of range");
    }
    std::vector<QueueSpec> specs;
    for (const vbus_queue_desc& q : d.layout.queues) {
      specs.push_back(QueueSpec{q.num_entries, q.buf_size});
    }
    auto l = layout_device_area(d.layout.config_size, specs);
    if (!l || l->size != d.layout.size || l->queues_offset != d.layout.queues_offset ||
        l->config_offset != d.layout.config_offset || l->queues.size() != d.layout.queues.size() ||
        std::memcmp(l->queues.data(), d.layout.queues.data(),
                    l->queues.size() * sizeof(vbus_queue_desc)) != 0) {
      return make_error(EINVAL, what + "area layout does not match its queues");
    }
    if (d.area_offset % kPage != 0) {
      return make_error(EINVAL, what + "area is not page aligned");
    }
    if (auto ok = b.alloc_.reserve(d.area_offset, d.layout.size); !ok) {
      return make_error(EINVAL, what + ok.error().message);
    }
    const uint32_t slot = d.slot;
    b.slots_[slot] = std::move(d);
  }
  return b;
}

vbus_bridge_header& BridgeLayout::header() const {
  return *reinterpret_cast<vbus_bridge_header*>(region_.data());  // NOLINT: laid out here
}

uint64_t BridgeLayout::evq_offset() const {
  return tables_for(config_).evq;
}

uint64_t BridgeLayout::call_offset() const {
  return tables_for(config_).call;
}

vbus_dev_desc& BridgeLayout::slot(uint32_t i) const {
  AVM_CHECK(i < config_.devtab_slots);
  // Our own offset, never the header's: the guest can rewrite the header
  // (the fuzzer made the host write a slot outside the region that way).
  const uint64_t off = devtab_offset_ + uint64_t{i} * sizeof(vbus_dev_desc);
  return *reinterpret_cast<vbus_dev_desc*>(region_.data() + off);  // NOLINT: laid out here
}

void BridgeLayout::bump_generation() {
  // Release: the slot's contents before the new generation (pairs with the
  // guest's smp_load_acquire() of devtab_generation).  Counted here: the
  // header's word is guest-writable.
  store_release(header().devtab_generation, ++generation_);
}

Result<uint32_t> BridgeLayout::add_device(uint32_t type, uint32_t abi_version,
                                          std::span<const uint8_t> config,
                                          std::span<const QueueSpec> queues,
                                          uint32_t doorbell_vector) {
  if (type == VBUS_DEV_TYPE_NONE) {
    return make_error(EINVAL, "add device: type 0 (NONE)");
  }
  if (doorbell_vector >= config_.num_vectors) {
    return make_error(EINVAL, "add device: doorbell vector " + std::to_string(doorbell_vector) +
                                  " >= num_vectors " + std::to_string(config_.num_vectors));
  }
  if (config.size() > kMaxConfigSize) {
    return make_error(EINVAL, "add device: config too large");
  }
  auto free_slot = std::find_if(slots_.begin(), slots_.end(),
                                [](const std::optional<DeviceInfo>& s) { return !s; });
  if (free_slot == slots_.end()) {
    return make_error(ENOSPC, "add device: all " + std::to_string(slots_.size()) +
                                  " device table slots are in use");
  }
  auto layout = layout_device_area(static_cast<uint32_t>(config.size()), queues);
  if (!layout) {
    return make_error(layout.error().code, "add device: " + layout.error().message);
  }
  auto area = alloc_.allocate(layout->size, kPage);
  if (!area) {
    return make_error(area.error().code, "add device: " + area.error().message);
  }
  // Ids are never reused: skip 0 on wrap-around and any id still in use.
  while (next_id_ == 0 || device(next_id_) != nullptr) {
    next_id_++;
  }
  DeviceInfo info;
  info.id = next_id_++;
  info.type = type;
  info.abi_version = abi_version;
  info.slot = static_cast<uint32_t>(free_slot - slots_.begin());
  info.state = VBUS_DEV_PRESENT;
  info.doorbell_vector = doorbell_vector;
  info.area_offset = *area;
  info.layout = std::move(*layout);

  // The area: zeroed (rings, signals, pools), config, queue table.
  uint8_t* a = region_.data() + info.area_offset;
  std::memset(a, 0, info.layout.size);
  if (!config.empty()) {
    std::memcpy(a + info.layout.config_offset, config.data(), config.size());
  }
  const uint32_t id = info.id;
  const uint32_t s = info.slot;
  *free_slot = std::move(info);
  write_queue_table(*slots_[s]);
  write_slot(s);
  bump_generation();
  return id;
}

const DeviceInfo* BridgeLayout::device(uint32_t id) const {
  for (const auto& s : slots_) {
    if (s && s->id == id) {
      return &*s;
    }
  }
  return nullptr;
}

std::vector<uint32_t> BridgeLayout::device_ids() const {
  std::vector<uint32_t> ids;
  for (const auto& s : slots_) {
    if (s) {
      ids.push_back(s->id);
    }
  }
  return ids;
}

Status BridgeLayout::mark_removing(uint32_t id) {
  const DeviceInfo* dev = device(id);
  if (dev == nullptr) {
    return make_error(ENOENT, "device " + std::to_string(id) + " does not exist");
  }
  slots_[dev->slot]->state = VBUS_DEV_REMOVING;
  write_slot(dev->slot);
  bump_generation();
  return {};
}

Status BridgeLayout::remove_device(uint32_t id) {
  const DeviceInfo* dev = device(id);
  if (dev == nullptr) {
    return make_error(ENOENT, "device " + std::to_string(id) + " does not exist");
  }
  const uint32_t s = dev->slot;
  auto freed = alloc_.free(dev->area_offset);
  AVM_CHECK(freed.has_value());  // our own record: cannot be unknown
  slots_[s].reset();
  write_slot(s);
  bump_generation();
  return {};
}

Result<QueueView> BridgeLayout::queue_view(uint32_t id, uint32_t q) const {
  const DeviceInfo* dev = device(id);
  if (dev == nullptr) {
    return make_error(ENOENT, "device " + std::to_string(id) + " does not exist");
  }
  if (q >= dev->layout.queues.size()) {
    return make_error(EINVAL,
                      "device " + std::to_string(id) + " has no queue " + std::to_string(q));
  }
  return QueueView::create(region_, dev->area_offset, dev->layout.size, dev->layout.queues[q]);
}

std::span<uint8_t> BridgeLayout::config(uint32_t id) const {
  const DeviceInfo* dev = device(id);
  if (dev == nullptr) {
    return {};
  }
  return region_.subspan(dev->area_offset + dev->layout.config_offset, dev->layout.config_size);
}

}  // namespace avm

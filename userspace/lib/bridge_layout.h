// SPDX-License-Identifier: GPL-2.0
// avm::BridgeLayout: the host lays out a fresh region (bridge header,
// device table, event queue, call channel) and carves device areas out of
// the rest.  The guest-side readers a software guest uses are in
// testing/guest_readers.h.
//
// Region layout (vbus.h, docs/abi.md): header at 0, then the device table,
// the event queue (header + entries) and the call channel, each 64-byte
// aligned; device areas start on the next page.  Each device area holds:
//   0                 config (config_size bytes)
//   queues_offset     num_queues x struct vbus_queue_desc
//   per queue         to_host signal, to_guest signal, submit ring,
//                     used ring, pool (each 64-byte aligned)
//
// The host keeps a private record of every device (DeviceInfo) and of the
// whole layout; it never reads back anything from the region, which the
// guest can write.  write_host_fields() writes every host-owned field from
// those records: create() lays the region out with it, and the bridge
// runtime calls it again whenever it restarts, so whatever a guest
// scribbled over the host's fields is gone for the next guest.
#pragma once

#include <linux/vbus.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lib/area_allocator.h"
#include "lib/error.h"
#include "lib/queue_view.h"
#include "lib/region.h"

namespace avm {

struct BridgeConfig {
  uint32_t devtab_slots = 32;
  uint32_t evq_entries = 256;  // a power of two
  uint32_t call_slots = 8;
  uint32_t num_vectors = 8;  // doorbell vectors the host listens on
  uint64_t host_features = VBUS_F_HOTPLUG;
  uint32_t host_peer_id = 0;
  uint32_t host_epoch = 1;
};

struct QueueSpec {
  uint32_t num_entries;  // a power of two, <= QueueView::kMaxEntries
  uint32_t buf_size;     // bytes per pool buffer
};

// Where things go inside one device area (offsets from the area start).
struct DeviceAreaLayout {
  uint64_t size = 0;  // bytes, a multiple of the page size
  uint32_t config_offset = 0;
  uint32_t config_size = 0;
  uint32_t queues_offset = 0;
  std::vector<vbus_queue_desc> queues;
};

// Computes a device area layout; EINVAL for bad specs (see QueueView).
Result<DeviceAreaLayout> layout_device_area(uint32_t config_size,
                                            std::span<const QueueSpec> queues);

// The host's private record of a device.
struct DeviceInfo {
  uint32_t id = 0;
  uint32_t type = 0;
  uint32_t abi_version = 0;
  uint32_t slot = 0;
  uint32_t state = VBUS_DEV_EMPTY;
  uint32_t doorbell_vector = 0;
  uint64_t area_offset = 0;
  DeviceAreaLayout layout;
};

class BridgeLayout {
 public:
  static constexpr uint32_t kMaxConfigSize = 4096;
  static constexpr uint32_t kMaxQueues = 64;

  // Lays out @region (the whole mapping; zeroes the fixed tables, then
  // write_host_fields()) and stores host_state = READY last.  The mapping must outlive the layout
  // (a Region may be moved: its mapping stays put).
  static Result<BridgeLayout> create(std::span<uint8_t> region, const BridgeConfig& config = {});

  // Hand-over support (added for userspace/handover): rebuilds the host's
  // private layout of a region another process laid out and still serves,
  // from that process's private records (@devices, @next_id), WITHOUT
  // writing to the region.  Everything is checked against @config and the
  // region as create() and add_device() would have made it: table sizes,
  // each device's slot (unique, in range), id (non-zero, unique, below
  // @next_id), vector, and area (its layout recomputed from its queue
  // sizes and config size must match, inside the device range, no
  // overlap).  EINVAL naming the first thing that does not fit.
  // @devtab_generation: the exporter's devtab_generation() (the region's
  // copy is never read).
  static Result<BridgeLayout> adopt(std::span<uint8_t> region, const BridgeConfig& config,
                                    std::vector<DeviceInfo> devices, uint32_t next_id,
                                    uint32_t devtab_generation = 0);
  uint32_t next_id() const { return next_id_; }
  uint32_t devtab_generation() const { return generation_; }

  // Writes every host-owned field of the region from the private records,
  // never reading the region: header cache line 0 (magic, ABI, sizes,
  // offered features, peer id, vectors, where the tables are), line 1
  // except host_state (host_epoch = @epoch, features = @features,
  // devtab_generation, reserved zero), every device-table slot (an empty
  // one zeroed; a device's fields, then its state with a release store)
  // and every device's queue table.  Not host_state, which the caller
  // stores last (release) for the state it announces; not the device
  // config areas (each device's own) nor the queues' rings and signals
  // (reset by the protocol: bridge INIT, DEV_OPEN).  Storing the same
  // values a running guest already reads is harmless.
  void write_host_fields(uint32_t epoch, uint64_t features) const;

  // Adds a device: allocates and zeroes its area, writes its config and
  // queue descs, fills a free device-table slot with state = PRESENT
  // written last (release) and bumps devtab_generation.  Returns the new,
  // never reused, non-zero id.  ENOSPC: table full; ENOMEM: no room for
  // the area; EINVAL: bad arguments.
  Result<uint32_t> add_device(uint32_t type, uint32_t abi_version, std::span<const uint8_t> config,
                              std::span<const QueueSpec> queues, uint32_t doorbell_vector);
  // Stores state = REMOVING (the guest must close the device) and bumps
  // devtab_generation.  ENOENT for an unknown id.
  Status mark_removing(uint32_t id);
  // Empties the slot (state = EMPTY), frees the area, bumps
  // devtab_generation.  ENOENT for an unknown id.
  Status remove_device(uint32_t id);

  // The private record, or nullptr.
  const DeviceInfo* device(uint32_t id) const;
  std::vector<uint32_t> device_ids() const;
  // The view of queue @q of device @id, from the private record.
  Result<QueueView> queue_view(uint32_t id, uint32_t q) const;
  // The config bytes of device @id in the region (host writes them; e.g. a
  // link change), or an empty span for an unknown id.
  std::span<uint8_t> config(uint32_t id) const;

  vbus_bridge_header& header() const;
  const BridgeConfig& config() const { return config_; }
  // Where the event queue header and the call channel are: private
  // copies, never read back from the guest-writable header.
  uint64_t evq_offset() const;
  uint64_t call_offset() const;
  uint64_t devices_offset() const { return alloc_.base(); }
  const AreaAllocator& allocator() const { return alloc_; }
  std::span<uint8_t> region() const { return region_; }

 private:
  BridgeLayout(std::span<uint8_t> region, const BridgeConfig& config, uint64_t devices_offset);
  vbus_dev_desc& slot(uint32_t i) const;
  // Device-table slot @i from slots_[i]: the device's fields, then its
  // state (release); an empty slot: state EMPTY (release), then zeroes.
  void write_slot(uint32_t i) const;
  // The queue table in the area of @d, from its private layout.
  void write_queue_table(const DeviceInfo& d) const;
  void bump_generation();

  std::span<uint8_t> region_;
  BridgeConfig config_;
  uint64_t devtab_offset_;  // private: the header's copy is guest-writable
  AreaAllocator alloc_;
  std::vector<std::optional<DeviceInfo>> slots_;  // by device-table slot
  uint32_t next_id_ = 1;
  uint32_t generation_ = 0;  // devtab_generation: private, the header's is guest-writable
};

}  // namespace avm

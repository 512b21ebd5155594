// SPDX-License-Identifier: GPL-2.0
#include "lib/bridge_layout.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "lib/host_queue.h"
#include "lib/region.h"
#include "testing/guest_queue.h"
#include "testing/guest_readers.h"

namespace avm {
namespace {

class BridgeLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Region::create("bridge", 1 << 20);
    ASSERT_TRUE(r) << r.error().message;
    region_ = std::make_unique<Region>(std::move(*r));
    auto b = BridgeLayout::create(region_->span());
    ASSERT_TRUE(b) << b.error().message;
    bridge_ = std::make_unique<BridgeLayout>(std::move(*b));
  }
  std::unique_ptr<Region> region_;
  std::unique_ptr<BridgeLayout> bridge_;
};

TEST_F(BridgeLayoutTest, HeaderFields) {
  const vbus_bridge_header& h = bridge_->header();
  EXPECT_EQ(h.magic, VBUS_MAGIC);
  EXPECT_EQ(std::memcmp(region_->data(), "AVM-VBUS", 8), 0);
  EXPECT_EQ(h.abi_major, VBUS_ABI_MAJOR);
  EXPECT_EQ(h.abi_minor, VBUS_ABI_MINOR);
  EXPECT_EQ(h.header_size, sizeof(vbus_bridge_header));
  EXPECT_EQ(h.region_size, 1U << 20);
  EXPECT_EQ(h.host_features, VBUS_F_HOTPLUG);
  EXPECT_EQ(h.host_peer_id, 0U);
  EXPECT_EQ(h.num_vectors, 8U);
  EXPECT_EQ(h.devtab_slots, 32U);
  EXPECT_EQ(h.evq_entries, 256U);
  EXPECT_EQ(h.call_slots, 8U);
  EXPECT_EQ(h.host_state, uint32_t{VBUS_STATE_READY});
  EXPECT_EQ(h.host_epoch, 1U);
  EXPECT_EQ(h.guest_state, uint32_t{VBUS_STATE_RESET});
  for (uint32_t off : {h.devtab_offset, h.evq_offset, h.call_offset}) {
    EXPECT_EQ(off % 64, 0U);
    EXPECT_GE(off, sizeof(vbus_bridge_header));
  }
  EXPECT_GE(h.evq_offset, h.devtab_offset + 32 * sizeof(vbus_dev_desc));
  EXPECT_GE(h.call_offset, h.evq_offset + sizeof(vbus_evq_header) + 256 * sizeof(vbus_event));
  EXPECT_EQ(bridge_->devices_offset() % 4096, 0U);
  EXPECT_GE(bridge_->devices_offset(), h.call_offset + 8 * sizeof(vbus_call_slot));
  EXPECT_EQ(bridge_->allocator().free_bytes(), (1U << 20) - bridge_->devices_offset());

  auto copy = read_header(region_->span());
  ASSERT_TRUE(copy) << copy.error().message;
  EXPECT_EQ(copy->devtab_offset, h.devtab_offset);
}

TEST_F(BridgeLayoutTest, ReadHeaderRejectsBadHeaders) {
  auto& h = bridge_->header();
  const vbus_bridge_header good = h;
  struct Case {
    const char* name;
    void (*mutate)(vbus_bridge_header&);
  };
  const Case cases[] = {
      {"magic", [](vbus_bridge_header& x) { x.magic ^= 1; }},
      {"abi major", [](vbus_bridge_header& x) { x.abi_major = VBUS_ABI_MAJOR + 1; }},
      {"header size", [](vbus_bridge_header& x) { x.header_size = 64; }},
      {"region size", [](vbus_bridge_header& x) { x.region_size = 1 << 21; }},
      {"devtab outside", [](vbus_bridge_header& x) { x.devtab_slots = 0x10000000; }},
      {"evq outside", [](vbus_bridge_header& x) { x.evq_offset = 0xfffffc0; }},
      {"evq not pow2", [](vbus_bridge_header& x) { x.evq_entries = 100; }},
      {"call misaligned", [](vbus_bridge_header& x) { x.call_offset += 4; }},
      {"overlap", [](vbus_bridge_header& x) { x.evq_offset = x.devtab_offset; }},
      {"over header", [](vbus_bridge_header& x) { x.devtab_offset = 64; }},
      {"no vectors", [](vbus_bridge_header& x) { x.num_vectors = 0; }},
  };
  for (const Case& c : cases) {
    h = good;
    c.mutate(h);
    EXPECT_FALSE(read_header(region_->span())) << c.name;
  }
  h = good;
  EXPECT_TRUE(read_header(region_->span()));
  // A smaller mapping than the header says.
  EXPECT_FALSE(read_header(region_->span().subspan(0, 1 << 19)));
}

TEST_F(BridgeLayoutTest, AddDeviceFillsSlotAndArea) {
  const uint8_t cfg[] = {1, 2, 3, 4, 5, 6, 7};
  const QueueSpec queues[] = {{256, 2048}, {64, 128}};
  const uint32_t gen0 = bridge_->header().devtab_generation;
  auto id = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, cfg, queues, 1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_NE(*id, 0U);
  EXPECT_EQ(bridge_->header().devtab_generation, gen0 + 1);

  const DeviceInfo* info = bridge_->device(*id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->area_offset % 4096, 0U);
  EXPECT_GE(info->area_offset, bridge_->devices_offset());

  auto h = read_header(region_->span());
  ASSERT_TRUE(h);
  auto d = read_device(region_->span(), *h, info->slot);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->state, uint32_t{VBUS_DEV_PRESENT});
  EXPECT_EQ(d->id, *id);
  EXPECT_EQ(d->type, uint32_t{VBUS_DEV_TYPE_VENET});
  EXPECT_EQ(d->abi_version, 1U);
  EXPECT_EQ(d->area_offset, info->area_offset);
  EXPECT_EQ(d->num_queues, 2U);
  EXPECT_EQ(d->config_size, sizeof cfg);
  EXPECT_EQ(d->doorbell_vector, 1U);
  EXPECT_EQ(std::memcmp(region_->data() + d->area_offset + d->config_offset, cfg, sizeof cfg), 0);
  EXPECT_EQ(bridge_->config(*id).size(), sizeof cfg);

  // Host and guest views of each queue agree and are usable end to end.
  for (uint32_t q = 0; q < 2; q++) {
    auto hv = bridge_->queue_view(*id, q);
    auto gv = guest_queue_view(region_->span(), *d, q);
    ASSERT_TRUE(hv) << hv.error().message;
    ASSERT_TRUE(gv) << gv.error().message;
    EXPECT_EQ(hv->submit(), gv->submit());
    EXPECT_EQ(hv->buffer(0).data(), gv->buffer(0).data());
    EXPECT_EQ(hv->num_entries(), queues[q].num_entries);
    EXPECT_EQ(hv->buf_size(), queues[q].buf_size);
    GuestQueue guest(*gv);
    HostQueue host(*hv);
    const uint8_t msg[] = {9, 8, 7};
    ASSERT_TRUE(guest.submit(msg));
    HostDesc out[4];
    auto n = host.poll(out);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, 1U);
    EXPECT_EQ(std::memcmp(host.buffer(out[0]).data(), msg, 3), 0);
  }
  EXPECT_FALSE(bridge_->queue_view(*id, 2));
  EXPECT_FALSE(guest_queue_view(region_->span(), *d, 2));
}

TEST_F(BridgeLayoutTest, RemoveDeviceFreesSlotAndArea) {
  const QueueSpec queues[] = {{128, 1024}};
  const uint64_t free0 = bridge_->allocator().free_bytes();
  auto a = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1);
  auto b = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 2);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  const uint32_t slot_a = bridge_->device(*a)->slot;
  const uint32_t gen = bridge_->header().devtab_generation;

  ASSERT_TRUE(bridge_->mark_removing(*a));
  auto h = read_header(region_->span());
  ASSERT_TRUE(h);
  EXPECT_EQ(read_device(region_->span(), *h, slot_a)->state, uint32_t{VBUS_DEV_REMOVING});
  EXPECT_EQ(bridge_->header().devtab_generation, gen + 1);

  ASSERT_TRUE(bridge_->remove_device(*a));
  EXPECT_EQ(bridge_->device(*a), nullptr);
  auto empty = read_device(region_->span(), *h, slot_a);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->state, uint32_t{VBUS_DEV_EMPTY});
  EXPECT_EQ(bridge_->header().devtab_generation, gen + 2);
  EXPECT_EQ(bridge_->remove_device(*a).error().code, ENOENT);
  EXPECT_EQ(bridge_->mark_removing(*a).error().code, ENOENT);

  // The slot is reused, the id is not.
  auto c = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1);
  ASSERT_TRUE(c);
  EXPECT_NE(*c, *a);
  EXPECT_EQ(bridge_->device(*c)->slot, slot_a);
  ASSERT_TRUE(bridge_->remove_device(*b));
  ASSERT_TRUE(bridge_->remove_device(*c));
  EXPECT_EQ(bridge_->allocator().free_bytes(), free0);
  EXPECT_TRUE(bridge_->device_ids().empty());
}

// Issue 18: a guest can write over every host-owned field (the magic
// too); write_host_fields() puts all of them back from the host's records
// without reading the region: header lines 0 and 1 (but host_state), the
// device table (an empty slot, a REMOVING one) and the queue tables.
TEST_F(BridgeLayoutTest, WriteHostFieldsUndoesAnyScribble) {
  const uint8_t cfg[] = {1, 2, 3};
  const QueueSpec queues[] = {{16, 256}, {8, 512}};
  auto a = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, cfg, queues, 1);
  auto b = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, cfg, queues, 2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(bridge_->remove_device(*a));
  ASSERT_TRUE(bridge_->mark_removing(*b));
  const DeviceInfo& dev = *bridge_->device(*b);
  const uint64_t devtab = bridge_->header().devtab_offset;
  const uint64_t devtab_len = uint64_t{bridge_->config().devtab_slots} * sizeof(vbus_dev_desc);
  const uint64_t qtab = dev.area_offset + dev.layout.queues_offset;
  const uint64_t qtab_len = dev.layout.queues.size() * sizeof(vbus_queue_desc);
  const std::vector<uint8_t> want(region_->data(), region_->data() + region_->size());
  std::mt19937 rng(18);
  for (const bool random : {false, true}) {
    SCOPED_TRACE(random ? "random bytes" : "zeros");
    for (uint8_t& byte : region_->span()) {
      byte = random ? static_cast<uint8_t>(rng()) : 0;
    }
    bridge_->write_host_fields(1, 0);
    std::atomic_ref<uint32_t>(bridge_->header().host_state).store(VBUS_STATE_READY);
    const uint8_t* got = region_->data();
    EXPECT_EQ(std::memcmp(got, want.data(), offsetof(vbus_bridge_header, guest_state)), 0)
        << "header lines 0 and 1";
    EXPECT_EQ(std::memcmp(got + devtab, want.data() + devtab, devtab_len), 0) << "device table";
    EXPECT_EQ(std::memcmp(got + qtab, want.data() + qtab, qtab_len), 0) << "queue table";
    auto h = read_header(region_->span());
    ASSERT_TRUE(h) << h.error().message;
    auto d = read_device(region_->span(), *h, dev.slot);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->state, uint32_t{VBUS_DEV_REMOVING});
    EXPECT_TRUE(guest_queue_view(region_->span(), *d, 1));
  }
}

// Found by tests/fuzz/bridge_fuzz: the host located device-table slots
// through the header's devtab_offset, which the guest can overwrite, and
// wrote a slot gigabytes past the region.  It must use its own offset.
TEST_F(BridgeLayoutTest, HostIgnoresGuestWrittenDevtabOffset) {
  const uint32_t devtab = bridge_->header().devtab_offset;
  const QueueSpec queues[] = {{2, 64}};
  for (uint32_t hostile : {0xfffff000U, 0U, devtab + 64}) {
    bridge_->header().devtab_offset = hostile;
    auto id = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1);
    ASSERT_TRUE(id) << id.error().message;
    const uint32_t slot = bridge_->device(*id)->slot;
    const auto* d = reinterpret_cast<const vbus_dev_desc*>(  // NOLINT: the device table
        region_->data() + devtab + uint64_t{slot} * sizeof(vbus_dev_desc));
    EXPECT_EQ(d->id, *id);
    EXPECT_EQ(d->state, uint32_t{VBUS_DEV_PRESENT});
    ASSERT_TRUE(bridge_->mark_removing(*id));
    EXPECT_EQ(d->state, uint32_t{VBUS_DEV_REMOVING});
    ASSERT_TRUE(bridge_->remove_device(*id));
    EXPECT_EQ(d->state, uint32_t{VBUS_DEV_EMPTY});
    EXPECT_EQ(d->id, 0U);
  }
  // The header itself was not used as a slot.
  EXPECT_EQ(bridge_->header().magic, VBUS_MAGIC);
}

// The runtime finds the event queue and the call channel through these,
// not through the header a running guest can rewrite.
TEST_F(BridgeLayoutTest, TableOffsetsArePrivateCopies) {
  vbus_bridge_header& h = bridge_->header();
  EXPECT_EQ(bridge_->evq_offset(), h.evq_offset);
  EXPECT_EQ(bridge_->call_offset(), h.call_offset);
  const uint64_t evq = h.evq_offset;
  const uint64_t call = h.call_offset;
  h.evq_offset = 0xffffffc0;
  h.call_offset = 0;
  EXPECT_EQ(bridge_->evq_offset(), evq);
  EXPECT_EQ(bridge_->call_offset(), call);
}

// Found by tests/fuzz/reader_fuzz under UBSan: a device without queues
// made add_device memcpy from a null pointer (undefined even for 0 bytes).
TEST_F(BridgeLayoutTest, DeviceWithoutQueues) {
  const uint8_t config[] = {1, 2, 3};
  auto id = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, config, {}, 1);
  ASSERT_TRUE(id) << id.error().message;
  auto h = read_header(region_->span());
  ASSERT_TRUE(h);
  auto d = read_device(region_->span(), *h, bridge_->device(*id)->slot);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->num_queues, 0U);
  EXPECT_EQ(d->config_size, 3U);
  EXPECT_FALSE(guest_queue_view(region_->span(), *d, 0));
  EXPECT_TRUE(bridge_->remove_device(*id));
}

TEST_F(BridgeLayoutTest, TableFull) {
  const QueueSpec queues[] = {{2, 64}};
  for (uint32_t i = 0; i < 32; i++) {
    ASSERT_TRUE(bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1)) << i;
  }
  auto full = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ENOSPC);
}

TEST_F(BridgeLayoutTest, AreaExhaustedAndBadArguments) {
  const QueueSpec big[] = {{4096, 4096}};  // 16 MiB pool in a 1 MiB region
  auto r = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, big, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOMEM);
  const QueueSpec ok[] = {{64, 64}};
  const QueueSpec odd[] = {{100, 64}};
  const QueueSpec zero_buf[] = {{64, 0}};
  EXPECT_EQ(bridge_->add_device(VBUS_DEV_TYPE_NONE, 1, {}, ok, 1).error().code, EINVAL);
  EXPECT_EQ(bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, ok, 8).error().code, EINVAL);
  EXPECT_EQ(bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, odd, 1).error().code, EINVAL);
  EXPECT_EQ(bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, zero_buf, 1).error().code, EINVAL);
  std::vector<uint8_t> huge_cfg(BridgeLayout::kMaxConfigSize + 1);
  EXPECT_EQ(bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, huge_cfg, ok, 1).error().code, EINVAL);
  EXPECT_TRUE(bridge_->device_ids().empty());
}

TEST_F(BridgeLayoutTest, ReadDeviceRejectsHostileSlots) {
  const QueueSpec queues[] = {{64, 256}};
  auto id = bridge_->add_device(VBUS_DEV_TYPE_VENET, 1, {}, queues, 1);
  ASSERT_TRUE(id);
  auto h = read_header(region_->span());
  ASSERT_TRUE(h);
  const uint32_t s = bridge_->device(*id)->slot;
  auto* slot = region_->at<vbus_dev_desc>(h->devtab_offset + s * sizeof(vbus_dev_desc));
  ASSERT_NE(slot, nullptr);
  const vbus_dev_desc good = *slot;
  struct Case {
    const char* name;
    void (*mutate)(vbus_dev_desc&);
  };
  const Case cases[] = {
      {"id 0", [](vbus_dev_desc& d) { d.id = 0; }},
      {"area over tables", [](vbus_dev_desc& d) { d.area_offset = 0; }},
      {"area past end", [](vbus_dev_desc& d) { d.area_size = 1 << 20; }},
      {"area overflow", [](vbus_dev_desc& d) { d.area_offset = UINT64_MAX - 4095; }},
      {"config outside", [](vbus_dev_desc& d) { d.config_size = 0xfffffff0; }},
      {"queues outside", [](vbus_dev_desc& d) { d.num_queues = 0x10000000; }},
      {"vector", [](vbus_dev_desc& d) { d.doorbell_vector = 8; }},
      {"reserved", [](vbus_dev_desc& d) { d.reserved[1] = 1; }},
      {"state", [](vbus_dev_desc& d) { d.state = 7; }},
  };
  for (const Case& c : cases) {
    *slot = good;
    c.mutate(*slot);
    EXPECT_FALSE(read_device(region_->span(), *h, s)) << c.name;
  }
  *slot = good;
  EXPECT_TRUE(read_device(region_->span(), *h, s));
  EXPECT_FALSE(read_device(region_->span(), *h, 32));
}

TEST(BridgeLayout, CreateRejectsBadConfigAndRegion) {
  auto r = Region::create("small", Region::kMinSize);
  ASSERT_TRUE(r);
  BridgeConfig c;
  c.evq_entries = 100;
  EXPECT_FALSE(BridgeLayout::create(r->span(), c));
  c = BridgeConfig{};
  c.devtab_slots = 0;
  EXPECT_FALSE(BridgeLayout::create(r->span(), c));
  c = BridgeConfig{};
  c.evq_entries = 4096;  // 64 KiB of events: the tables fill the region
  EXPECT_FALSE(BridgeLayout::create(r->span(), c));
  EXPECT_FALSE(BridgeLayout::create(r->span().subspan(0, 100000)));
  EXPECT_TRUE(BridgeLayout::create(r->span()));
}

}  // namespace
}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "lib/queue_view.h"

#include <gtest/gtest.h>

#include "queue_fixture.h"

namespace avm {
namespace {

using testing::OneQueue;

TEST(QueueView, AcceptsTheHostLayout) {
  OneQueue q(256, 2048);
  ASSERT_TRUE(q.ok());
  auto v = QueueView::create(q.region->span(), q.area_offset, q.area_size, q.desc);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->num_entries(), 256U);
  EXPECT_EQ(v->mask(), 255U);
  EXPECT_EQ(v->buf_size(), 2048U);
  uint8_t* area = q.region->data() + q.area_offset;
  EXPECT_EQ(reinterpret_cast<uint8_t*>(v->submit()), area + q.desc.submit_offset);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(v->used()), area + q.desc.used_offset);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(v->to_host()), area + q.desc.to_host_offset);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(v->to_guest()), area + q.desc.to_guest_offset);
  EXPECT_EQ(v->buffer(3).data(), area + q.desc.pool_offset + size_t{3} * 2048);
  EXPECT_EQ(v->buffer(3).size(), 2048U);
}

struct BadDesc {
  const char* name;
  void (*mutate)(vbus_queue_desc&);
};

TEST(QueueView, RejectsMalformedQueueDescs) {
  OneQueue q(256, 512);
  ASSERT_TRUE(q.ok());
  const BadDesc cases[] = {
      {"num_entries 0", [](vbus_queue_desc& d) { d.num_entries = 0; }},
      {"num_entries not pow2", [](vbus_queue_desc& d) { d.num_entries = 255; }},
      {"num_entries too big", [](vbus_queue_desc& d) { d.num_entries = 8192; }},
      {"num_entries huge", [](vbus_queue_desc& d) { d.num_entries = 0x80000000; }},
      {"buf_size 0", [](vbus_queue_desc& d) { d.buf_size = 0; }},
      {"buf_size huge", [](vbus_queue_desc& d) { d.buf_size = 0x80000000; }},
      {"pool_size mismatch", [](vbus_queue_desc& d) { d.pool_size += 64; }},
      {"pool_size wraps 32 bits",
       [](vbus_queue_desc& d) {
         d.num_entries = 4096;
         d.buf_size = 1 << 20;
         d.pool_size = 0;  // 2^32 truncated
       }},
      {"submit outside", [](vbus_queue_desc& d) { d.submit_offset = 0xffffffc0; }},
      {"used outside", [](vbus_queue_desc& d) { d.used_offset = 0x7fffffc0; }},
      {"pool past end", [](vbus_queue_desc& d) { d.pool_offset += 4096 * 1024; }},
      {"to_host misaligned", [](vbus_queue_desc& d) { d.to_host_offset += 4; }},
      {"pool misaligned", [](vbus_queue_desc& d) { d.pool_offset += 8; }},
      {"submit overlaps used", [](vbus_queue_desc& d) { d.used_offset = d.submit_offset + 64; }},
      {"signals overlap", [](vbus_queue_desc& d) { d.to_guest_offset = d.to_host_offset; }},
      {"signal inside pool", [](vbus_queue_desc& d) { d.to_host_offset = d.pool_offset + 128; }},
      {"ring inside pool", [](vbus_queue_desc& d) { d.used_offset = d.pool_offset; }},
      {"reserved", [](vbus_queue_desc& d) { d.reserved[7] = 1; }},
  };
  for (const BadDesc& c : cases) {
    vbus_queue_desc d = q.desc;
    c.mutate(d);
    auto v = QueueView::create(q.region->span(), q.area_offset, q.area_size, d);
    ASSERT_FALSE(v) << c.name;
    EXPECT_EQ(v.error().code, EINVAL) << c.name;
    EXPECT_NE(v.error().message.find("queue desc"), std::string::npos) << c.name;
  }
}

TEST(QueueView, RejectsBadAreas) {
  OneQueue q(64, 256);
  ASSERT_TRUE(q.ok());
  const auto span = q.region->span();
  // Area past the end of the region, overflowing, or misaligned.
  EXPECT_FALSE(QueueView::create(span, span.size() - 4096, q.area_size, q.desc));
  EXPECT_FALSE(QueueView::create(span, UINT64_MAX - 100, 200, q.desc));
  EXPECT_FALSE(QueueView::create(span, q.area_offset + 8, q.area_size, q.desc));
  // An area too small for the queue it claims.
  EXPECT_FALSE(QueueView::create(span, q.area_offset, q.desc.pool_offset, q.desc));
}

}  // namespace
}  // namespace avm

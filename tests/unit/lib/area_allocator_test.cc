// SPDX-License-Identifier: GPL-2.0
#include "lib/area_allocator.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

namespace avm {
namespace {

constexpr uint64_t kPage = AreaAllocator::kPageSize;

TEST(AreaAllocator, PageAlignedByDefault) {
  AreaAllocator a(8192, 64 * kPage);
  auto x = a.allocate(100);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(*x, 8192U);
  auto y = a.allocate(100);
  ASSERT_TRUE(y);
  EXPECT_EQ(*y, 8192U + kPage);            // page alignment skips the rest of x's page
  EXPECT_EQ(a.allocation_size(*x), 128U);  // rounded to the granule
  EXPECT_EQ(a.free_bytes(), 64 * kPage - 256);
}

TEST(AreaAllocator, SmallAlignmentPacks) {
  AreaAllocator a(0, kPage);
  auto x = a.allocate(1, 64);
  auto y = a.allocate(65, 64);
  auto z = a.allocate(64, 64);
  ASSERT_TRUE(x && y && z);
  EXPECT_EQ(*x, 0U);
  EXPECT_EQ(*y, 64U);
  EXPECT_EQ(*z, 192U);
}

TEST(AreaAllocator, ExhaustionIsAnError) {
  AreaAllocator a(0, 4 * kPage);
  for (int i = 0; i < 4; i++) {
    ASSERT_TRUE(a.allocate(kPage));
  }
  auto r = a.allocate(1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOMEM);
  EXPECT_FALSE(r.error().message.empty());
  auto huge = a.allocate(UINT64_MAX);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ENOMEM);
}

TEST(AreaAllocator, RejectsBadArguments) {
  AreaAllocator a(0, 4 * kPage);
  EXPECT_EQ(a.allocate(0).error().code, EINVAL);
  EXPECT_EQ(a.allocate(64, 3).error().code, EINVAL);
  EXPECT_EQ(a.allocate(64, 0).error().code, EINVAL);
}

TEST(AreaAllocator, DoubleFreeAndUnknownOffset) {
  AreaAllocator a(0, 4 * kPage);
  auto x = a.allocate(kPage);
  ASSERT_TRUE(x);
  EXPECT_EQ(a.free(*x + 64).error().code, EINVAL);  // inside, not the start
  EXPECT_EQ(a.free(12345678).error().code, EINVAL);
  EXPECT_TRUE(a.free(*x));
  auto again = a.free(*x);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EINVAL);
  EXPECT_EQ(a.free_bytes(), 4 * kPage);
}

TEST(AreaAllocator, CoalescesBothNeighbours) {
  AreaAllocator a(0, 3 * kPage);
  auto x = a.allocate(kPage);
  auto y = a.allocate(kPage);
  auto z = a.allocate(kPage);
  ASSERT_TRUE(x && y && z);
  EXPECT_FALSE(a.allocate(2 * kPage));
  ASSERT_TRUE(a.free(*x));
  ASSERT_TRUE(a.free(*z));
  EXPECT_EQ(a.free_blocks(), 2U);
  EXPECT_FALSE(a.allocate(2 * kPage));  // fragmented
  ASSERT_TRUE(a.free(*y));              // joins both
  EXPECT_EQ(a.free_blocks(), 1U);
  EXPECT_EQ(a.largest_free(), 3 * kPage);
  auto all = a.allocate(3 * kPage);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 0U);
}

// A granule-by-granule model of the range: who owns each 64-byte granule.
class Model {
 public:
  Model(uint64_t base, uint64_t size) : base_(base), owner_(size / kG, 0) {}

  // The first-fit answer the allocator must give.
  std::optional<uint64_t> first_fit(uint64_t size, uint64_t align) const {
    const uint64_t need = (size + kG - 1) / kG;
    size_t i = 0;
    while (i < owner_.size()) {
      if (owner_[i] != 0) {
        i++;
        continue;
      }
      size_t j = i;
      while (j < owner_.size() && owner_[j] == 0) {
        j++;
      }
      // free run [i, j): first aligned start in it
      uint64_t start = base_ + i * kG;
      uint64_t aligned = (start + align - 1) / align * align;
      uint64_t end = base_ + j * kG;
      if (aligned < end && (end - aligned) / kG >= need) {
        return aligned;
      }
      i = j;
    }
    return std::nullopt;
  }
  void take(uint64_t off, uint64_t size, int id) {
    for (uint64_t g = (off - base_) / kG; g < (off - base_ + size + kG - 1) / kG; g++) {
      ASSERT_EQ(owner_[g], 0) << "overlap at granule " << g;
      owner_[g] = id;
    }
  }
  void give(uint64_t off, uint64_t size) {
    for (uint64_t g = (off - base_) / kG; g < (off - base_ + size + kG - 1) / kG; g++) {
      owner_[g] = 0;
    }
  }
  uint64_t free_bytes() const {
    uint64_t n = 0;
    for (int o : owner_) {
      n += o == 0 ? kG : 0;
    }
    return n;
  }
  // Maximal free runs: what a fully coalescing free list must hold.
  std::pair<size_t, uint64_t> runs() const {
    size_t runs = 0;
    uint64_t longest = 0;
    uint64_t cur = 0;
    for (size_t i = 0; i <= owner_.size(); i++) {
      if (i < owner_.size() && owner_[i] == 0) {
        cur += kG;
      } else if (cur > 0) {
        runs++;
        longest = std::max(longest, cur);
        cur = 0;
      }
    }
    return {runs, longest};
  }

 private:
  static constexpr uint64_t kG = AreaAllocator::kGranule;
  uint64_t base_;
  std::vector<int> owner_;
};

TEST(AreaAllocator, RandomizedAgainstModel) {
  const uint64_t base = 3 * kPage;
  const uint64_t size = 256 * kPage;
  AreaAllocator a(base, size);
  Model m(base, size);
  std::mt19937_64 rng(12345);
  struct Live {
    uint64_t off;
    uint64_t size;
  };
  std::vector<Live> live;
  int next_id = 1;
  for (int step = 0; step < 20000; step++) {
    const bool do_alloc = live.empty() || rng() % 100 < 55;
    if (do_alloc) {
      const uint64_t sz = 1 + rng() % (rng() % 4 == 0 ? 16 * kPage : kPage);
      const uint64_t align = uint64_t{1} << (rng() % 14);  // 1 .. 8 KiB
      auto expect = m.first_fit(sz, align);
      auto got = a.allocate(sz, align);
      if (!expect) {
        ASSERT_FALSE(got) << "step " << step;
        ASSERT_EQ(got.error().code, ENOMEM);
        continue;
      }
      ASSERT_TRUE(got) << "step " << step << ": " << got.error().message;
      ASSERT_EQ(*got, *expect) << "step " << step;
      ASSERT_EQ(*got % align, 0U);
      ASSERT_GE(*got, base);
      ASSERT_LE(*got + sz, base + size);
      m.take(*got, sz, next_id++);
      live.push_back({*got, sz});
    } else {
      const size_t idx = rng() % live.size();
      ASSERT_TRUE(a.free(live[idx].off)) << "step " << step;
      m.give(live[idx].off, live[idx].size);
      if (rng() % 50 == 0) {  // double free must be refused
        ASSERT_FALSE(a.free(live[idx].off));
      }
      live[idx] = live.back();
      live.pop_back();
    }
    ASSERT_EQ(a.free_bytes(), m.free_bytes()) << "step " << step;
    auto [runs, longest] = m.runs();
    ASSERT_EQ(a.free_blocks(), runs) << "step " << step;
    ASSERT_EQ(a.largest_free(), longest) << "step " << step;
    ASSERT_EQ(a.allocations(), live.size());
  }
  for (const auto& l : live) {
    ASSERT_TRUE(a.free(l.off));
  }
  EXPECT_EQ(a.free_blocks(), 1U);
  EXPECT_EQ(a.free_bytes(), size);
}

}  // namespace
}  // namespace avm

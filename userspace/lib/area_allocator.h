// SPDX-License-Identifier: GPL-2.0
// avm::AreaAllocator: carves device areas out of a range of the region.
//
// First fit over an ordered free list; freeing coalesces with both
// neighbours.  Offsets are absolute (the same numbers as in the region), and
// every allocation is rounded up to kGranule bytes so that no two areas
// share a cache line.  Host-private bookkeeping only: nothing here lives in
// shared memory.  Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <map>

#include "lib/error.h"

namespace avm {

class AreaAllocator {
 public:
  static constexpr uint64_t kGranule = 64;
  static constexpr uint64_t kPageSize = 4096;

  // Manages [base, base + size).  base must be kGranule-aligned and size a
  // multiple of kGranule (aborts otherwise: the caller computed them).
  AreaAllocator(uint64_t base, uint64_t size);

  // An offset aligned to @align (a power of two, at least 1) of a block of
  // at least @size bytes (> 0).  ENOMEM when no free block fits, EINVAL for
  // a zero size or a bad alignment.
  Result<uint64_t> allocate(uint64_t size, uint64_t align = kPageSize);
  // Marks [offset, offset + size) as allocated (rounded up to kGranule),
  // as if allocate() had returned it: for rebuilding the allocator of a
  // region laid out by another process (hand-over).  EINVAL if the range
  // is not wholly inside one free block.
  Status reserve(uint64_t offset, uint64_t size);
  // Returns the block at @offset.  EINVAL if @offset is not the start of a
  // live allocation (unknown offset, or freed already).
  Status free(uint64_t offset);

  // Size of the live allocation at @offset (rounded), 0 if none.
  uint64_t allocation_size(uint64_t offset) const;

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t free_bytes() const { return free_bytes_; }
  uint64_t largest_free() const;
  size_t allocations() const { return used_.size(); }
  size_t free_blocks() const { return free_.size(); }

 private:
  uint64_t base_;
  uint64_t size_;
  uint64_t free_bytes_;
  std::map<uint64_t, uint64_t> free_;  // offset -> size, disjoint, never adjacent
  std::map<uint64_t, uint64_t> used_;  // offset -> size
};

}  // namespace avm

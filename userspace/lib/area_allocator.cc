// SPDX-License-Identifier: GPL-2.0
#include "lib/area_allocator.h"

#include <bit>
#include <string>

namespace avm {

AreaAllocator::AreaAllocator(uint64_t base, uint64_t size)
    : base_(base), size_(size), free_bytes_(size) {
  AVM_CHECK(base % kGranule == 0 && size % kGranule == 0);
  AVM_CHECK(base + size >= base);
  if (size > 0) {
    free_.emplace(base, size);
  }
}

Result<uint64_t> AreaAllocator::allocate(uint64_t size, uint64_t align) {
  if (size == 0) {
    return make_error(EINVAL, "area allocate: zero size");
  }
  if (!std::has_single_bit(align)) {
    return make_error(
        EINVAL, "area allocate: alignment " + std::to_string(align) + " is not a power of two");
  }
  if (size > size_) {
    return make_error(ENOMEM, "area allocate: " + std::to_string(size) +
                                  " bytes exceed the whole range of " + std::to_string(size_));
  }
  // Round up to the granule; cannot overflow since size <= size_.
  const uint64_t need = (size + kGranule - 1) & ~(kGranule - 1);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const uint64_t start = it->first;
    const uint64_t len = it->second;
    const uint64_t end = start + len;
    // Aligned start; checked against overflow and against the block.
    const uint64_t mask = align - 1;
    if (start > UINT64_MAX - mask) {
      continue;
    }
    const uint64_t aligned = (start + mask) & ~mask;
    if (aligned >= end || end - aligned < need) {
      continue;
    }
    free_.erase(it);
    if (aligned > start) {
      free_.emplace(start, aligned - start);
    }
    if (aligned + need < end) {
      free_.emplace(aligned + need, end - (aligned + need));
    }
    used_.emplace(aligned, need);
    free_bytes_ -= need;
    return aligned;
  }
  return make_error(ENOMEM, "area allocate: no free block of " + std::to_string(size) +
                                " bytes aligned to " + std::to_string(align) + " (" +
                                std::to_string(free_bytes_) + " bytes free in " +
                                std::to_string(free_.size()) + " blocks)");
}

Status AreaAllocator::reserve(uint64_t offset, uint64_t size) {
  if (size == 0 || size > size_ || offset % kGranule != 0) {
    return make_error(EINVAL, "area reserve: bad size or misaligned offset");
  }
  const uint64_t need = (size + kGranule - 1) & ~(kGranule - 1);
  auto it = free_.upper_bound(offset);
  if (it == free_.begin()) {
    return make_error(EINVAL, "area reserve: " + std::to_string(offset) + " is not free");
  }
  --it;
  const uint64_t start = it->first;
  const uint64_t end = start + it->second;
  if (offset < start || offset >= end || end - offset < need) {
    return make_error(EINVAL, "area reserve: [" + std::to_string(offset) + ", +" +
                                  std::to_string(need) + ") is not inside one free block");
  }
  free_.erase(it);
  if (offset > start) {
    free_.emplace(start, offset - start);
  }
  if (offset + need < end) {
    free_.emplace(offset + need, end - (offset + need));
  }
  used_.emplace(offset, need);
  free_bytes_ -= need;
  return {};
}

Status AreaAllocator::free(uint64_t offset) {
  auto u = used_.find(offset);
  if (u == used_.end()) {
    return make_error(EINVAL, "area free: " + std::to_string(offset) +
                                  " is not an allocated area (unknown or already freed)");
  }
  uint64_t start = u->first;
  uint64_t len = u->second;
  used_.erase(u);
  free_bytes_ += len;

  auto next = free_.lower_bound(start);
  // Coalesce with the following free block.
  if (next != free_.end()) {
    AVM_CHECK(next->first >= start + len);
    if (next->first == start + len) {
      len += next->second;
      next = free_.erase(next);
    }
  }
  // Coalesce with the preceding free block.
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    AVM_CHECK(prev->first + prev->second <= start);
    if (prev->first + prev->second == start) {
      prev->second += len;
      return {};
    }
  }
  free_.emplace_hint(next, start, len);
  return {};
}

uint64_t AreaAllocator::allocation_size(uint64_t offset) const {
  auto u = used_.find(offset);
  return u == used_.end() ? 0 : u->second;
}

uint64_t AreaAllocator::largest_free() const {
  uint64_t best = 0;
  for (const auto& [off, len] : free_) {
    best = std::max(best, len);
  }
  return best;
}

}  // namespace avm

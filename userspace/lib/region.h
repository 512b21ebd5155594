// SPDX-License-Identifier: GPL-2.0
// avm::Region: the shared memory region (a sealed memfd, mapped shared) that
// becomes the guest's ivshmem BAR2.
//
// Size rule: a power of two, at least kMinSize (64 KiB) and at most kMaxSize
// (what a 64-bit BAR sensibly holds here: 64 GiB).
//
// Bounds policy of the accessors: at<T>() and bytes() take offsets that may
// come from untrusted memory and return nullptr / an empty span when the
// object does not lie entirely inside the region (overflow-safe) or would be
// misaligned; ref<T>() is for offsets the host computed itself and aborts
// on the same conditions (a bug, not hostile input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm {

class Region {
 public:
  static constexpr uint64_t kMinSize = uint64_t{64} * 1024;
  static constexpr uint64_t kMaxSize = uint64_t{64} << 30;

  // A new zero-filled memfd region (MFD_CLOEXEC | MFD_ALLOW_SEALING) of
  // @size bytes, sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL and
  // mapped shared read/write.  @name shows up in /proc/PID/maps.
  static Result<Region> create(std::string_view name, uint64_t size);
  // Maps an existing memfd (e.g. kept across a daemon restart or received
  // from an ivshmem server).  Its size (fstat) must satisfy the size rule
  // and it must be sealed against shrinking (F_SEAL_SHRINK): otherwise a
  // peer could truncate it under us and make every access fault.
  static Result<Region> adopt(UniqueFd fd);

  // Whether @size satisfies the size rule (EINVAL with the reason if not).
  static Status check_size(uint64_t size);

  Region(Region&& other) noexcept;
  Region& operator=(Region&& other) noexcept;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region();

  int fd() const { return fd_.get(); }
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<uint8_t> span() const { return {data_, static_cast<size_t>(size_)}; }

  // Whether [off, off + len) lies inside the region (overflow-safe).
  bool contains(uint64_t off, uint64_t len) const { return off <= size_ && len <= size_ - off; }

  // The T at @off, or nullptr if it does not fit or is misaligned.
  template <class T>
  T* at(uint64_t off) const {
    if (!contains(off, sizeof(T)) || off % alignof(T) != 0) {
      return nullptr;
    }
    return reinterpret_cast<T*>(data_ + off);  // NOLINT: the mapping holds T
  }
  // The T at @off; aborts if it does not fit or is misaligned.
  template <class T>
  T& ref(uint64_t off) const {
    T* p = at<T>(off);
    AVM_CHECK(p != nullptr);
    return *p;
  }
  // The bytes [off, off + len), or an empty span if they do not fit.
  std::span<uint8_t> bytes(uint64_t off, uint64_t len) const {
    if (!contains(off, len)) {
      return {};
    }
    return {data_ + off, static_cast<size_t>(len)};
  }

 private:
  Region(UniqueFd fd, uint8_t* data, uint64_t size)
      : fd_(std::move(fd)), data_(data), size_(size) {}
  static Result<Region> map(UniqueFd fd, uint64_t size);
  void unmap();

  UniqueFd fd_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace avm

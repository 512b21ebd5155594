// SPDX-License-Identifier: GPL-2.0
#include "lib/region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <string>

namespace avm {

Status Region::check_size(uint64_t size) {
  if (!std::has_single_bit(size)) {
    return make_error(EINVAL, "region size " + std::to_string(size) + " is not a power of two");
  }
  if (size < kMinSize) {
    return make_error(EINVAL, "region size " + std::to_string(size) + " is below the minimum " +
                                  std::to_string(kMinSize));
  }
  if (size > kMaxSize) {
    return make_error(EINVAL, "region size " + std::to_string(size) + " is above the maximum " +
                                  std::to_string(kMaxSize));
  }
  return {};
}

Result<Region> Region::create(std::string_view name, uint64_t size) {
  if (auto ok = check_size(size); !ok) {
    return tl::unexpected(ok.error());
  }
  const std::string cname(name.empty() ? std::string_view("avm-region") : name);
  UniqueFd fd(::memfd_create(cname.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    return errno_error("memfd_create");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
    return errno_error("ftruncate region");
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
    return errno_error("seal region");
  }
  return map(std::move(fd), size);
}

Result<Region> Region::adopt(UniqueFd fd) {
  if (!fd) {
    return make_error(EBADF, "region adopt: no file descriptor");
  }
  struct stat st = {};
  if (::fstat(fd.get(), &st) < 0) {
    return errno_error("region adopt: fstat");
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(EINVAL, "region adopt: not a regular file (memfd)");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (auto ok = check_size(size); !ok) {
    return make_error(ok.error().code, "region adopt: " + ok.error().message);
  }
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) {
    return errno_error("region adopt: F_GET_SEALS");
  }
  if ((seals & F_SEAL_SHRINK) == 0) {
    return make_error(EPERM, "region adopt: memfd is not sealed against shrinking");
  }
  return map(std::move(fd), size);
}

Result<Region> Region::map(UniqueFd fd, uint64_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) {
    return errno_error("mmap region");
  }
  return Region(std::move(fd), static_cast<uint8_t*>(p), size);
}

Region::Region(Region&& other) noexcept
    : fd_(std::move(other.fd_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

Region& Region::operator=(Region&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Region::~Region() {
  unmap();
}

void Region::unmap() {
  if (data_ != nullptr) {
    ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }
}

}  // namespace avm

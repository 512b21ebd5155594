// SPDX-License-Identifier: GPL-2.0
// Helpers shared by the libFuzzer targets of tests/fuzz (docs/security.md):
// a byte reader over the fuzz input, a page-aligned heap buffer that
// stands in for the shared region (heap, so AddressSanitizer sees every
// byte past its end), and FUZZ_CHECK, which turns a broken invariant into
// a crash libFuzzer reports.
//
// Every target defines LLVMFuzzerTestOneInput().  Built with AVM_FUZZ=ON
// it links libFuzzer; otherwise replay_main.cc replays files and
// directories (the seed corpus under ctest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>

namespace avm::fuzz {

// Reads fixed-size values from the fuzz input; past the end it yields
// zeroes (so every input is a complete, deterministic program).
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  size_t remaining() const { return size_ - pos_; }

  template <class T>
  T take() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    take_bytes(&v, sizeof v);
    return v;
  }
  // A value in [0, n) (n > 0), from one or two bytes.
  uint32_t below(uint32_t n) {
    const uint32_t raw = n <= 256 ? take<uint8_t>() : take<uint16_t>();
    return raw % n;
  }
  bool flag() { return (take<uint8_t>() & 1) != 0; }
  // Copies up to @len input bytes to @dst, zero-filling the rest.
  void take_bytes(void* dst, size_t len) {
    const size_t n = len < remaining() ? len : remaining();
    if (n > 0) {
      std::memcpy(dst, data_ + pos_, n);
    }
    if (n < len) {
      std::memset(static_cast<uint8_t*>(dst) + n, 0, len - n);
    }
    pos_ += n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A zero-filled, page-aligned heap buffer of exactly @size bytes.
class Buffer {
 public:
  explicit Buffer(size_t size)
      : size_(size), data_(static_cast<uint8_t*>(std::aligned_alloc(4096, round(size)))) {
    if (data_ == nullptr) {
      std::abort();
    }
    std::memset(data_, 0, size_);
  }
  ~Buffer() { std::free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span() const { return {data_, size_}; }

 private:
  // aligned_alloc wants a multiple of the alignment.
  static size_t round(size_t n) { return (n + 4095) & ~size_t{4095}; }
  size_t size_;
  uint8_t* data_;
};

[[noreturn]] inline void check_failed(const char* file, int line, const char* what) {
  (void)std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
  std::abort();
}

}  // namespace avm::fuzz

// An invariant of the code under test; abort() so libFuzzer saves the input.
#define FUZZ_CHECK(cond)                                    \
  do {                                                      \
    if (!(cond)) {                                          \
      ::avm::fuzz::check_failed(__FILE__, __LINE__, #cond); \
    }                                                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

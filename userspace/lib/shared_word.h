// SPDX-License-Identifier: GPL-2.0
// Single-copy accesses to a word of the shared region, which the other side
// may change at any moment: the userspace counterparts of the kernel's
// READ_ONCE / WRITE_ONCE (relaxed: the fences and the acquire/release
// accesses around them give the ordering) and smp_load_acquire /
// smp_store_release.
#pragma once

#include <atomic>

namespace avm {

template <class T>
T read_once(T& v) {
  return std::atomic_ref<T>(v).load(std::memory_order_relaxed);
}

template <class T>
void write_once(T& v, T x) {
  std::atomic_ref<T>(v).store(x, std::memory_order_relaxed);
}

template <class T>
T load_acquire(T& v) {
  return std::atomic_ref<T>(v).load(std::memory_order_acquire);
}

template <class T>
void store_release(T& v, T x) {
  std::atomic_ref<T>(v).store(x, std::memory_order_release);
}

}  // namespace avm

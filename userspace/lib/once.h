// SPDX-License-Identifier: GPL-2.0
// read_once / write_once: one untorn, relaxed access to a word of the shared
// region, which the other side may change at any moment (the userspace
// counterpart of the kernel's READ_ONCE / WRITE_ONCE).  Relaxed: the
// fences and the release/acquire accesses around them give the ordering.
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

}  // namespace avm

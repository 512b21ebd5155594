/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's barriers and one-shot accesses, with
 * the kernel's semantics (Documentation/memory-barriers.txt):
 *
 *   READ_ONCE/WRITE_ONCE  one volatile access, no ordering (as the kernel)
 *   smp_mb()              full barrier: a seq_cst fence (mfence or a locked
 *                         instruction on x86, like the kernel's smp_mb())
 *   smp_store_release     store-release
 *   smp_load_acquire      load-acquire
 *   xchg()                fully ordered exchange
 *
 * The C++ host side pairs with them through std::atomic_ref and
 * std::atomic_thread_fence(seq_cst), as it does with the real guest.
 */
#ifndef RING_COMPAT_LINUX_ATOMIC_H
#define RING_COMPAT_LINUX_ATOMIC_H

#include <linux/types.h>

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) \
	do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)

#endif

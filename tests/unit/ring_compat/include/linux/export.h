/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in: symbols are plain globals. */
#ifndef RING_COMPAT_LINUX_EXPORT_H
#define RING_COMPAT_LINUX_EXPORT_H

#define EXPORT_SYMBOL_GPL(sym) extern int ring_compat_exported_##sym

#endif

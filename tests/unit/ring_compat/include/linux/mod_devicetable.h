/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in: vbus_bus.h needs nothing from it. */
#ifndef RING_COMPAT_LINUX_MOD_DEVICETABLE_H
#define RING_COMPAT_LINUX_MOD_DEVICETABLE_H
#endif

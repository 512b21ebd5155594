/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the driver model types vbus_bus.h embeds; the ring
 * code never calls into the driver model.
 */
#ifndef RING_COMPAT_LINUX_DEVICE_H
#define RING_COMPAT_LINUX_DEVICE_H

#include <linux/atomic.h>
#include <linux/types.h>

struct module;

struct device {
	const char *init_name;
};

struct device_driver {
	const char *name;
};

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif

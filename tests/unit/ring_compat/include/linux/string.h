/* SPDX-License-Identifier: GPL-2.0 */
#ifndef RING_COMPAT_LINUX_STRING_H
#define RING_COMPAT_LINUX_STRING_H

#include <string.h>

#endif

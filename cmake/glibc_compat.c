// SPDX-License-Identifier: GPL-2.0-or-later
// AVM_PORTABLE (root CMakeLists.txt): GCC 12's static libstdc++ refers to
// arc4random (std::random_device), which glibc has only since 2.36; EL 9
// has 2.34.  The programs carry their own, which the static libstdc++ binds
// to, so they need no GLIBC_2.36.  Nothing in AlacrityVM uses it.
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

uint32_t arc4random(void)
{
	uint32_t value;

	while (getrandom(&value, sizeof(value), 0) != (ssize_t)sizeof(value))
		;
	return value;
}

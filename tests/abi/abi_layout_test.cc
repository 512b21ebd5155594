// SPDX-License-Identifier: GPL-2.0
// The same layout assertions, compiled as C++20: one source, two languages.
#include "abi_layout_test.c"  // NOLINT(bugprone-suspicious-include)

// SPDX-License-Identifier: GPL-2.0
// The same layout assertions, compiled as C++20.
#include "abi_layout_test.c"

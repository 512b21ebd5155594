// SPDX-License-Identifier: GPL-2.0
// Leaving the terminal once the daemon is ready (without --foreground).
#pragma once

#include "lib/error.h"

namespace avm {

// Forks; the parent exits 0 at once (so whoever started the daemon knows
// it is listening), the child starts a new session and reads /dev/null.
// stderr stays where it was: it carries the log.
Status detach();

}  // namespace avm

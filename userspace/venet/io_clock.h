// SPDX-License-Identifier: GPL-2.0
// avm::IoClock: the clock of a venet I/O thread's policies (BusyPoll,
// SpareCoreGate, TxStream, RxCoalesce).  No policy reads it: VenetWorker
// reads it once per pass and hands every policy that same instant, so they
// all judge one moment, and a unit test hands them whatever instants it
// likes (no wall-clock waits).
#pragma once

#include <chrono>

namespace avm {

using IoClock = std::chrono::steady_clock;

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "venet/tx_stream.h"

#include <algorithm>

namespace avm {

IoClock::duration TxStream::tick(IoClock::time_point now) const {
  return std::min<IoClock::duration>(kTick, stream_.ends() - now);
}

}  // namespace avm

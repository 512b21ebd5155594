// SPDX-License-Identifier: GPL-2.0
// The vbus queue (libavm HostQueue/GuestQueue + shm-signal) in the harness.
#pragma once

#include "harness.h"
#include "lib/queue_view.h"

namespace avm::bench {

class VbusTransport : public Transport {
 public:
  VbusTransport(uint32_t entries, uint32_t msg_size);
  void reset() override;
  void consume(Stats* s) override;
  void produce(Stats* s) override;

 private:
  uint32_t msg_size_;
  QueueView view() const;
  vbus_queue_desc desc_{};
  uint64_t area_size_ = 0;
};

}  // namespace avm::bench

// SPDX-License-Identifier: GPL-2.0
// avm-bench-ring: messages/s and signals/message of the vbus ring with
// shm-signal next to a split virtqueue with VIRTIO_F_EVENT_IDX, producer
// and consumer in two processes on two cores (see harness.h for the common
// policy).  Run with `make bench-ring`; not part of ctest.
//
// Counters per benchmark:
//   msgs/s        messages moved per second (wall time of the producer)
//   kicks/msg     guest -> host signals actually rung (doorbell eventfd)
//   irqs/msg      host -> guest signals actually rung (interrupt eventfd)
//   host_sleeps, guest_sleeps   times each side slept on its eventfd
// At the end: the ratio vbus / virtqueue for each configuration.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "harness.h"
#include "vbus_pair.h"
#include "virtqueue.h"

namespace avm::bench {
namespace {

constexpr uint64_t kMsgsPerIteration = 2'000'000;

struct Summary {
  double msgs_per_s = 0;
  double kicks_per_msg = 0;
  double irqs_per_msg = 0;
};
// (kind, entries, size) -> result of the last run
std::map<std::tuple<std::string, int64_t, int64_t>, Summary>& summaries() {
  static std::map<std::tuple<std::string, int64_t, int64_t>, Summary> m;
  return m;
}

template <class T>
void bm_ring(benchmark::State& state, const char* kind) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const auto size = static_cast<uint32_t>(state.range(1));
  T transport(entries, size);
  uint64_t msgs = 0;
  uint64_t kicks = 0;
  uint64_t irqs = 0;
  uint64_t host_sleeps = 0;
  uint64_t guest_sleeps = 0;
  double seconds = 0;
  for (auto _ : state) {
    const PairResult r = run_pair(transport, kMsgsPerIteration);
    if (r.failed) {
      state.SkipWithError("transfer failed: lost wake-up, lost or corrupted message");
      return;
    }
    state.SetIterationTime(r.seconds);
    msgs += r.msgs;
    kicks += r.kicks;
    irqs += r.irqs;
    host_sleeps += r.host_sleeps;
    guest_sleeps += r.guest_sleeps;
    seconds += r.seconds;
  }
  const double m = static_cast<double>(msgs);
  state.counters["msgs/s"] = benchmark::Counter(m, benchmark::Counter::kIsRate);
  state.counters["kicks/msg"] = static_cast<double>(kicks) / m;
  state.counters["irqs/msg"] = static_cast<double>(irqs) / m;
  state.counters["signals/msg"] = static_cast<double>(kicks + irqs) / m;
  state.counters["host_sleeps"] = static_cast<double>(host_sleeps);
  state.counters["guest_sleeps"] = static_cast<double>(guest_sleeps);
  state.SetItemsProcessed(static_cast<int64_t>(msgs));
  summaries()[{kind, entries, size}] =
      Summary{m / seconds, static_cast<double>(kicks) / m, static_cast<double>(irqs) / m};
}

void bm_vbus(benchmark::State& state) {
  bm_ring<VbusTransport>(state, "vbus");
}
void bm_virtqueue(benchmark::State& state) {
  bm_ring<VirtqueueTransport>(state, "virtqueue");
}

// Each configuration runs vbus then virtqueue back to back, so that both
// see the same machine load.
void register_all() {
  for (auto [entries, size] : {std::pair{256, 64}, std::pair{256, 1500}, std::pair{64, 64}}) {
    for (auto [name, fn] :
         {std::pair{"bm_vbus", &bm_vbus}, std::pair{"bm_virtqueue", &bm_virtqueue}}) {
      benchmark::RegisterBenchmark(name, fn)
          ->ArgNames({"entries", "msg_size"})
          ->Args({entries, size})
          ->UseManualTime()
          ->Iterations(3)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

void print_ratios() {
  std::printf("\nvbus ring + shm-signal vs split virtqueue + EVENT_IDX (ours / virtqueue)\n");
  std::printf("%8s %8s %14s %14s %8s %18s %18s\n", "entries", "size", "vbus msgs/s", "vq msgs/s",
              "ratio", "signals/msg vbus", "signals/msg vq");
  for (const auto& [key, ours] : summaries()) {
    const auto& [kind, entries, size] = key;
    if (kind != "vbus") {
      continue;
    }
    auto it = summaries().find({"virtqueue", entries, size});
    if (it == summaries().end()) {
      continue;
    }
    const Summary& vq = it->second;
    std::printf("%8lld %8lld %14.0f %14.0f %8.2f %9.4f+%-8.4f %9.4f+%-8.4f\n",
                static_cast<long long>(entries), static_cast<long long>(size), ours.msgs_per_s,
                vq.msgs_per_s, ours.msgs_per_s / vq.msgs_per_s, ours.kicks_per_msg,
                ours.irqs_per_msg, vq.kicks_per_msg, vq.irqs_per_msg);
  }
  std::printf("(signals/msg = guest->host kicks + host->guest interrupts per message)\n");
}

}  // namespace
}  // namespace avm::bench

int main(int argc, char** argv) {
  avm::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  avm::bench::print_ratios();
  return 0;
}

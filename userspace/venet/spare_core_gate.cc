// SPDX-License-Identifier: GPL-2.0
#include "venet/spare_core_gate.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <charconv>

#include "lib/unique_fd.h"

namespace avm {
namespace {

// Unknown: assume cores are spare.
constexpr long kUnknown = 1L << 20;

}  // namespace

bool SpareCoreGate::may_poll(IoClock::time_point now, bool streaming) {
  if (now >= next_probe_) {
    spare_ = probe_();
    next_probe_ = now + kProbeInterval;
  }
  return spare_ >= (streaming ? 0 : 1);
}

long spare_cores(std::string_view loadavg, long cpus) {
  // Skip the three load averages.
  for (int field = 0; field < 3; field++) {
    const size_t sp = loadavg.find(' ');
    if (sp == std::string_view::npos) {
      return kUnknown;
    }
    loadavg.remove_prefix(sp + 1);
  }
  long runnable = 0;
  const auto r = std::from_chars(loadavg.data(), loadavg.data() + loadavg.size(), runnable);
  if (r.ec != std::errc() || runnable <= 0 || cpus <= 0) {
    return kUnknown;
  }
  return cpus - runnable;
}

long spare_cores_in_loadavg() {
  const UniqueFd fd(::open("/proc/loadavg", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return kUnknown;
  }
  std::array<char, 128> buf{};
  const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
  if (n <= 0) {
    return kUnknown;
  }
  return spare_cores(std::string_view(buf.data(), static_cast<size_t>(n)),
                     ::sysconf(_SC_NPROCESSORS_ONLN));
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// alacrityvmd: thin main around avm::Instance (instance.h).
#include <poll.h>
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>

#include "daemon/detach.h"
#include "daemon/instance.h"
#include "daemon/options.h"
#include "daemon/size.h"
#include "daemon/tap_netns.h"
#include "lib/unique_fd.h"

namespace {

constexpr const char* kLegacyDevice = "default-net0";

// Signals until SIGINT/SIGTERM: SIGUSR1/SIGUSR2 move the venet link,
// SIGQUIT logs the counters.
void serve_signals(avm::Instance& inst, int signal_fd) {
  for (;;) {
    pollfd p{signal_fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) {
      continue;
    }
    signalfd_siginfo si{};
    while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      switch (sig) {
        case SIGUSR1:
        case SIGUSR2: {
          const bool up = sig == SIGUSR2;
          spdlog::info("received SIG{}: host link {}", sigabbrev_np(sig), up ? "up" : "down");
          if (auto ok = inst.set_link(kLegacyDevice, up); !ok) {
            spdlog::warn("link {}: {}", up ? "up" : "down", ok.error().message);
          }
          break;
        }
        case SIGQUIT:
          spdlog::info("stats: {}", inst.stats_json());
          break;
        default:
          spdlog::info("received SIG{}, shutting down", sigabbrev_np(sig));
          return;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  avm::DaemonOptions options;
  if (auto status = avm::parse_options(argc, argv, options)) {
    return *status;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("alacrityvmd"));
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);
  if (!options.legacy()) {
    spdlog::critical("--socket is required");
    return 2;
  }

  // SIGINT/SIGTERM (stop), SIGUSR1/SIGUSR2 (link down/up) and SIGQUIT
  // (log the counters) are read from a signalfd by the main thread;
  // blocked before any thread starts, so every thread inherits the mask.
  // Nobody wants SIGPIPE (every send uses MSG_NOSIGNAL anyway).
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGQUIT}) {
    sigaddset(&mask, sig);
  }
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
    spdlog::critical("pthread_sigmask failed");
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);  // NOLINT(cert-err33-c): cannot fail for SIGPIPE
  avm::UniqueFd signals(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals) {
    spdlog::critical("signalfd failed");
    return 1;
  }

  const avm::InstanceConfig& ic = options.config;
  spdlog::info("alacrityvmd {} starting: socket {}, region {}, {} vectors", AVM_VERSION_STRING,
               ic.socket_path, avm::format_size(ic.region_size), ic.vectors);
  // The TAP before anything listens: a bad --venet fails the start.
  std::unique_ptr<avm::VenetDevice> dev;
  if (options.venet) {
    if (ic.vectors < 2) {
      spdlog::critical("cannot start: a venet device needs a doorbell vector: --vectors 2 or more");
      return 1;
    }
    auto tap = avm::open_tap_in_netns(options.venet->config.tap_name, options.venet->netns);
    if (!tap) {
      spdlog::critical("cannot start: venet: {}", tap.error().message);
      return 1;
    }
    auto d = avm::VenetDevice::create(options.venet->config, std::move(*tap));
    if (!d) {
      spdlog::critical("cannot start: venet: {}", d.error().message);
      return 1;
    }
    dev = std::move(*d);
  }
  avm::Instance inst(ic);
  if (auto ok = inst.listen(); !ok) {
    spdlog::critical("cannot start: {}", ok.error().message);
    return 1;
  }
  if (dev) {
    if (auto ok = inst.attach(kLegacyDevice, std::move(dev)); !ok) {
      spdlog::critical("cannot start: venet: {}", ok.error().message);
      return 1;
    }
  }
  if (!options.foreground) {
    if (auto ok = avm::detach(); !ok) {
      spdlog::critical("cannot detach: {}", ok.error().message);
      return 1;
    }
  }
  // The thread after the fork: a child has only the forking thread.
  if (auto ok = inst.start(); !ok) {
    spdlog::critical("cannot start: {}", ok.error().message);
    return 1;
  }
  serve_signals(inst, signals.get());
  inst.stop();
  spdlog::info("stats: {}", inst.stats_json());
  spdlog::info("alacrityvmd stopped");
  return 0;
}

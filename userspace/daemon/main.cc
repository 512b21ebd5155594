// SPDX-License-Identifier: GPL-2.0
// alacrityvmd: thin main around avm::Daemon (daemon.h).
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>

#include <csignal>

#include "daemon/daemon.h"
#include "daemon/detach.h"
#include "daemon/options.h"
#include "daemon/size.h"
#include "lib/unique_fd.h"

int main(int argc, char** argv) {
  avm::DaemonOptions options;
  if (auto status = avm::parse_options(argc, argv, options)) {
    return *status;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("alacrityvmd"));
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);

  // SIGINT/SIGTERM (stop), SIGUSR1/SIGUSR2 (link down/up) and SIGQUIT
  // (log the counters) are read from a signalfd by the main loop (see
  // daemon.h); blocked before any thread starts, so every thread inherits
  // the mask.  Nobody wants SIGPIPE (every send uses MSG_NOSIGNAL anyway).
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

  spdlog::info("alacrityvmd {} starting: socket {}, region {}, {} vectors", AVM_VERSION_STRING,
               options.config.socket_path, avm::format_size(options.config.region_size),
               options.config.vectors);
  avm::Daemon daemon(options.config);
  if (auto ok = daemon.start(); !ok) {
    spdlog::critical("cannot start: {}", ok.error().message);
    return 1;
  }
  if (!options.foreground) {
    if (auto ok = avm::detach(); !ok) {
      spdlog::critical("cannot detach: {}", ok.error().message);
      return 1;
    }
  }
  auto ran = daemon.run(signals.get());
  daemon.stop();
  if (!ran) {
    spdlog::critical("{}", ran.error().message);
    return 1;
  }
  spdlog::info("alacrityvmd stopped");
  return 0;
}

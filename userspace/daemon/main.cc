// SPDX-License-Identifier: GPL-2.0
// alacrityvmd: command line, config file, signals, then avm::Service
// (service.h) runs everything.
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "daemon/config.h"
#include "daemon/detach.h"
#include "daemon/legacy.h"
#include "daemon/log_format.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/size.h"
#include "lib/unique_fd.h"

namespace {

// --check-config: every error, or "FILE: OK".
int check_config(const std::string& file) {
  const avm::ConfigResult r = avm::load_config(file);
  for (const std::string& e : r.errors) {
    (void)std::fprintf(stderr, "%s\n", avm::escape_for_log(e).c_str());
  }
  if (r.ok()) {
    (void)std::printf("%s: OK\n", file.c_str());
  }
  return r.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  avm::DaemonOptions options;
  if (auto status = avm::parse_options(argc, argv, options)) {
    return *status;
  }
  // Legacy-mode hand-over (legacy.h).
  const avm::TakeoverOptions takeover{options.handover_listen, options.takeover_from};
  auto logger = spdlog::stderr_color_mt("alacrityvmd");
  logger->set_formatter(avm::escaping_log_formatter());
  spdlog::set_default_logger(logger);
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);

  // Legacy mode: --socket, or --takeover-from (the instance comes from
  // the old process).
  const bool legacy = options.legacy() || !takeover.from.empty();
  const bool explicit_file = !options.config_file.empty();
  const std::string file = explicit_file ? options.config_file : avm::kDefaultConfigFile;
  if (options.check_config) {
    return check_config(file);
  }

  // The file: always with --config; else the default one outside legacy
  // mode, if it exists (built-in defaults otherwise).
  avm::ServiceOptions so;
  if (explicit_file || (!legacy && std::filesystem::exists(file))) {
    avm::ConfigResult r = avm::load_config(file);
    if (!r.ok()) {
      for (const std::string& e : r.errors) {
        spdlog::critical("{}", e);
      }
      return 1;
    }
    so.config = std::move(r.config);
    so.config_file = true;
    if (!options.verbose) {
      spdlog::set_level(spdlog::level::from_str(so.config.daemon.log_level));
    }
  }
  if (!options.control_socket.empty()) {
    so.config.daemon.control_socket = options.control_socket;
  }
  if (!options.state_dir.empty()) {
    so.config.daemon.state_dir = options.state_dir;
  }
  if (options.takeover && legacy) {
    spdlog::critical(
        "--takeover takes a service (config file and control socket) over; in legacy mode use "
        "--takeover-from PATH");
    return 2;
  }
  if (options.takeover) {
    so.takeover = true;
  }
  if (legacy) {
    if (options.legacy() && !takeover.from.empty()) {
      spdlog::warn("--socket and --venet are ignored with --takeover-from: the instance is {}'s",
                   takeover.from);
    }
    avm::add_legacy_objects(options, takeover, so);
    so.control = !options.control_socket.empty();
    so.persist = !options.state_dir.empty();
  }

  // SIGINT/SIGTERM (stop), SIGHUP (reload), SIGUSR1/SIGUSR2 (legacy link
  // down/up) and SIGQUIT (log the counters) are read from a signalfd by
  // the service loop; blocked before any thread starts, so every thread
  // inherits the mask.  Nobody wants SIGPIPE (every send uses
  // MSG_NOSIGNAL anyway).
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT}) {
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

  if (!takeover.from.empty()) {
    spdlog::info("alacrityvmd {} starting: taking over from {}", AVM_VERSION_STRING, takeover.from);
  } else if (options.legacy()) {
    const avm::InstanceConfig& ic = options.config;
    spdlog::info("alacrityvmd {} starting: socket {}, region {}, {} vectors", AVM_VERSION_STRING,
                 ic.socket_path, avm::format_size(ic.region_size), ic.vectors);
  } else {
    spdlog::info("alacrityvmd {} starting: config {}, control socket {}", AVM_VERSION_STRING,
                 so.config_file ? so.config.file : "(none)", so.config.daemon.control_socket);
  }
  avm::Service service(std::move(so));
  if (auto ok = service.start(); !ok) {
    spdlog::critical("cannot start: {}", ok.error().message);
    return 1;
  }
  // Detach before any instance thread exists: a child has only the
  // forking thread.
  if (!options.foreground) {
    if (auto ok = avm::detach(); !ok) {
      spdlog::critical("cannot detach: {}", ok.error().message);
      return 1;
    }
  }
  auto ran = service.run(signals.get());
  // Under systemd a stop keeps the guests: every instance goes to the FD
  // store for the next start (docs/handover.md); else a host RESET.
  // After a hand-over (--takeover) another process serves them all.
  if (service.handed_over()) {
    spdlog::info("handed over; no RESET");
  } else if (service.save_to_fdstore()) {
    spdlog::info("instances kept in the FD store; no RESET");
  }
  service.stop();
  spdlog::info("stats: {}", service.legacy_stats_json());
  if (!ran) {
    spdlog::critical("{}", ran.error().message);
    return 1;
  }
  spdlog::info("alacrityvmd stopped");
  return 0;
}

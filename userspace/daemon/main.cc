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
#include "daemon/log_format.h"
#include "daemon/names.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/size.h"
#include "daemon/takeover.h"
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

// The legacy single instance "default" (and its device) from the
// command line: transient, never persisted.
void legacy_objects(const avm::DaemonOptions& o, avm::ServiceOptions& so) {
  avm::InstanceSpec i;
  i.name = "default";
  i.socket = o.config.socket_path;
  i.region_size = o.config.region_size;
  i.vectors = o.config.vectors;
  i.origin = avm::Origin::kLegacy;
  so.legacy_instance = i;
  so.legacy_socket_mode = o.config.socket_mode;
  so.max_clients = o.config.max_clients;
  // The instance's own checks allow what the command line allowed.
  so.config.daemon.max_region_size = std::max(so.config.daemon.max_region_size, i.region_size);
  so.legacy_device = o.venet;
}

}  // namespace

int main(int argc, char** argv) {
  // Legacy-mode hand-over (takeover.h): its two options leave argv here.
  const avm::TakeoverOptions takeover = avm::extract_takeover_options(argc, argv);
  for (const auto& [flag, path] : {std::pair{"--handover-listen", takeover.listen},
                                   std::pair{"--takeover-from", takeover.from}}) {
    if (auto why = path.empty() ? "" : avm::path_problem(path, avm::kMaxSocketPath); !why.empty()) {
      (void)std::fprintf(stderr, "alacrityvmd: %s: %s\n", flag, why.c_str());
      return 2;
    }
  }
  avm::DaemonOptions options;
  if (auto status = avm::parse_options(argc, argv, options)) {
    return *status;
  }
  auto logger = spdlog::stderr_color_mt("alacrityvmd");
  logger->set_formatter(avm::escaping_log_formatter());
  spdlog::set_default_logger(logger);
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);

  const bool explicit_file = !options.config_file.empty();
  const std::string file = explicit_file ? options.config_file : avm::kDefaultConfigFile;
  if (options.check_config) {
    return check_config(file);
  }

  // The file: always with --config; else the default one outside legacy
  // mode, if it exists (built-in defaults otherwise).
  avm::ServiceOptions so;
  if (explicit_file || (!options.legacy() && std::filesystem::exists(file))) {
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
  if (options.legacy()) {
    legacy_objects(options, so);
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

  if (options.takeover) {
    if (options.legacy() || !takeover.from.empty()) {
      spdlog::critical(
          "--takeover takes a service (config file and control socket) over; in legacy mode use "
          "--takeover-from PATH");
      return 2;
    }
    so.takeover = true;
  }
  if (!takeover.from.empty()) {
    return avm::takeover_main(takeover, signals.get());
  }
  if (options.legacy()) {
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
  std::unique_ptr<avm::HandoverListener> handover;
  if (!takeover.listen.empty() && service.instance("default") != nullptr) {
    auto l = avm::HandoverListener::start(takeover.listen, service.instance("default"));
    if (!l) {
      spdlog::critical("cannot listen for a hand-over: {}", l.error().message);
      return 1;
    }
    handover = std::move(*l);
  }
  auto ran = service.run(signals.get());
  handover.reset();
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

// SPDX-License-Identifier: GPL-2.0
#include "daemon/options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "daemon/log_format.h"
#include "daemon/names.h"
#include "daemon/size.h"
#include "daemon/spec_fields.h"

namespace avm {

namespace {

// --venet's help: its keys and defaults, from the device table.
std::string venet_help() {
  std::string out = "one venet device of the legacy instance: tap=NAME";
  const DeviceSpec defaults = *parse_venet_option("tap=t");
  for (const Field<DeviceSpec>& f : device_fields()) {
    if (!f.info.legacy_key.empty() && f.info.legacy_key != "tap") {
      std::string value = field_text(get_field(defaults, f));
      if (value.empty()) {
        value = f.info.name == "netns" ? "NS" : "...";
      }
      out += "[," + std::string(f.info.legacy_key) + "=" + value + "]";
    }
  }
  return out;
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, DaemonOptions& out) {
  CLI::App app{"alacrityvmd: AlacrityVM host daemon (ivshmem server and vbus host)", "alacrityvmd"};
  app.set_version_flag("--version", std::string("alacrityvmd ") + AVM_VERSION_STRING);
  std::string region_size = "4M";
  std::string mode = "0600";
  app.add_option(
      "--config", out.config_file,
      std::string("configuration file (default ") + kDefaultConfigFile + "; none in legacy mode)");
  app.add_option("--control-socket", out.control_socket, "JSON-RPC control socket");
  app.add_option("--state-dir", out.state_dir, "where API-created objects are kept");
  app.add_flag("--check-config", out.check_config, "validate the configuration file and exit");
  app.add_flag("--takeover", out.takeover,
               "take every instance and the control socket over from the running daemon (same "
               "config; it listens on handover.sock next to the control socket) without resetting "
               "their guests");
  app.add_option("--socket", out.config.socket_path,
                 "legacy mode: one instance \"default\" on this UNIX socket QEMU connects to "
                 "(-chardev socket,path=...)");
  app.add_option("--socket-mode", mode, "permissions of the socket, octal")->capture_default_str();
  app.add_option("--region-size", region_size,
                 "shared memory size, a power of two (e.g. 1M, 4M, 16M)")
      ->capture_default_str();
  app.add_option("--vectors", out.config.vectors,
                 "interrupt/doorbell vectors per peer; must equal QEMU's vectors=")
      ->capture_default_str()
      ->check(CLI::Range(1U, 256U));
  app.add_option("--max-clients", out.config.max_clients, "most QEMU processes at once")
      ->capture_default_str()
      ->check(CLI::Range(1U, 65535U));
  std::string venet;
  app.add_option("--venet", venet, venet_help());
  app.add_flag("--foreground", out.foreground, "do not detach once listening");
  app.add_flag("-v,--verbose", out.verbose, "debug logging");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // names.h's rules, as for the same settings in the config file.
  for (const auto& [flag, why] :
       {std::pair{"--config", out.config_file.empty() ? "" : text_problem(out.config_file)},
        std::pair{"--control-socket", out.control_socket.empty()
                                          ? ""
                                          : path_problem(out.control_socket, kMaxSocketPath)},
        std::pair{"--state-dir", out.state_dir.empty() ? "" : path_problem(out.state_dir)},
        std::pair{"--socket", out.config.socket_path.empty()
                                  ? ""
                                  : path_problem(out.config.socket_path, kMaxSocketPath)}}) {
    if (!why.empty()) {
      (void)std::fprintf(stderr, "alacrityvmd: %s: %s\n", flag, why.c_str());
      return 2;
    }
  }
  auto size = parse_size(region_size);
  if (!size) {
    (void)std::fprintf(stderr, "alacrityvmd: --region-size: %s\n", size.error().message.c_str());
    return 2;
  }
  out.config.region_size = *size;
  size_t end = 0;
  unsigned long m = 0;
  try {
    m = std::stoul(mode, &end, 8);
  } catch (const std::exception&) {
    end = 0;
  }
  if (end != mode.size() || m > 07777) {
    (void)std::fprintf(stderr, "alacrityvmd: --socket-mode: not an octal mode: %s\n",
                       escape_for_log(mode).c_str());
    return 2;
  }
  out.config.socket_mode = static_cast<mode_t>(m);
  if (!venet.empty()) {
    auto v = parse_venet_option(venet);
    if (!v) {
      (void)std::fprintf(stderr, "alacrityvmd: --venet: %s\n",
                         escape_for_log(v.error().message).c_str());
      return 2;
    }
    out.venet = std::move(*v);
  }
  return std::nullopt;
}

}  // namespace avm

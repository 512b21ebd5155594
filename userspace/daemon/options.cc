// SPDX-License-Identifier: GPL-2.0
#include "daemon/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <string>

#include "daemon/log_format.h"
#include "daemon/names.h"
#include "daemon/size.h"
#include "daemon/spec_fields.h"
#include "ivshmem/protocol.h"

namespace avm {

namespace {

constexpr unsigned kMaxMode = 07777;

// --venet's keys and defaults, from the device table.
std::string venet_keys() {
  std::string out = "tap=NAME";
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

// --help's line of @f: "interrupt/doorbell vectors per peer; ... (1..256,
// default 4)".
std::string flag_help(const DaemonFlag& f) {
  if (f.kind == FlagKind::kVenet) {
    return std::string(f.help) + ": " + venet_keys();
  }
  std::string notes;
  if (f.kind == FlagKind::kUint) {
    notes = fmt::format("{}..{}", f.min, f.max);
  }
  DaemonOptions defaults;
  const std::string def =
      f.shown_default.empty() ? flag_text(f, defaults) : std::string(f.shown_default);
  if (!def.empty()) {
    notes += (notes.empty() ? "" : ", ") + std::string("default ") + def;
  }
  return notes.empty() ? std::string(f.help) : std::string(f.help) + " (" + notes + ")";
}

// @text as a whole number in base @base, if it is one.
std::optional<uint64_t> whole_number(const std::string& text, int base) {
  uint64_t n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n, base);
  if (text.empty() || ec != std::errc{} || p != end) {
    return std::nullopt;
  }
  return n;
}

// "" if @text is a valid value of @f (stored into @o), else what is wrong.
std::string set_flag(const DaemonFlag& f, const std::string& text, DaemonOptions& o) {
  const FlagTarget target = f.member(o);
  switch (f.kind) {
    case FlagKind::kSwitch:
      return "";  // CLI11 set it
    case FlagKind::kText:
    case FlagKind::kPath:
    case FlagKind::kSocketPath: {
      std::string why;
      if (f.kind == FlagKind::kText) {
        why = text_problem(text);
      } else {
        why = path_problem(text, f.kind == FlagKind::kPath ? kMaxPath : kMaxSocketPath);
      }
      if (why.empty()) {
        *std::get<std::string*>(target) = text;
      }
      return why;
    }
    case FlagKind::kUint: {
      const auto n = whole_number(text, 10);
      if (!n || *n < f.min || *n > f.max) {
        return fmt::format("must be {}..{}", f.min, f.max);
      }
      *std::get<unsigned*>(target) = static_cast<unsigned>(*n);
      return "";
    }
    case FlagKind::kSize: {
      auto n = parse_size(text);
      if (!n) {
        return n.error().message;
      }
      *std::get<uint64_t*>(target) = *n;
      return "";
    }
    case FlagKind::kMode: {
      const auto m = whole_number(text, 8);
      if (!m || *m > kMaxMode) {
        return "not an octal mode: " + text;
      }
      *std::get<unsigned*>(target) = static_cast<unsigned>(*m);
      return "";
    }
    case FlagKind::kVenet: {
      auto v = parse_venet_option(text);
      if (!v) {
        return v.error().message;
      }
      *std::get<std::optional<DeviceSpec>*>(target) = std::move(*v);
      return "";
    }
  }
  return "";
}

}  // namespace

const std::vector<DaemonFlag>& daemon_flags() {
  using K = FlagKind;
  using O = DaemonOptions;
  static const std::vector<DaemonFlag> kFlags = {
      {"--config", K::kText, 0, 0, "FILE", "configuration file; none in legacy mode",
       [](O& o) -> FlagTarget { return &o.config_file; }, kDefaultConfigFile},
      {"--control-socket", K::kSocketPath, 0, 0, "PATH", "JSON-RPC control socket",
       [](O& o) -> FlagTarget { return &o.control_socket; }},
      {"--state-dir", K::kPath, 0, 0, "DIR", "where API-created objects are kept",
       [](O& o) -> FlagTarget { return &o.state_dir; }},
      {"--check-config", K::kSwitch, 0, 0, "", "validate the configuration file and exit",
       [](O& o) -> FlagTarget { return &o.check_config; }},
      {"--takeover", K::kSwitch, 0, 0, "",
       "take every instance and the control socket over from the running daemon (same config; "
       "it listens on handover.sock next to the control socket) without resetting their guests",
       [](O& o) -> FlagTarget { return &o.takeover; }},
      {"--socket", K::kSocketPath, 0, 0, "PATH",
       "legacy mode: one instance \"default\" on this UNIX socket QEMU connects to "
       "(-chardev socket,path=...)",
       [](O& o) -> FlagTarget { return &o.config.socket_path; }},
      {"--socket-mode", K::kMode, 0, 0, "MODE", "permissions of the socket, octal",
       [](O& o) -> FlagTarget { return &o.config.socket_mode; }},
      {"--region-size", K::kSize, 0, 0, "SIZE",
       "shared memory size, a power of two (e.g. 1M, 4M, 16M)",
       [](O& o) -> FlagTarget { return &o.config.region_size; }},
      {"--vectors", K::kUint, 1, ivshmem::kMaxVectors, "N",
       "interrupt/doorbell vectors per peer; must equal QEMU's vectors=",
       [](O& o) -> FlagTarget { return &o.config.vectors; }},
      {"--max-clients", K::kUint, 1, ivshmem::kMaxPeerId, "N", "most QEMU processes at once",
       [](O& o) -> FlagTarget { return &o.config.max_clients; }},
      {"--venet", K::kVenet, 0, 0, "SPEC", "one venet device of the legacy instance",
       [](O& o) -> FlagTarget { return &o.venet; }},
      {"--handover-listen", K::kSocketPath, 0, 0, "PATH", "",
       [](O& o) -> FlagTarget { return &o.handover_listen; }},
      {"--takeover-from", K::kSocketPath, 0, 0, "PATH", "",
       [](O& o) -> FlagTarget { return &o.takeover_from; }},
      {"--foreground", K::kSwitch, 0, 0, "", "do not detach once listening",
       [](O& o) -> FlagTarget { return &o.foreground; }},
      {"-v,--verbose", K::kSwitch, 0, 0, "", "debug logging",
       [](O& o) -> FlagTarget { return &o.verbose; }},
  };
  return kFlags;
}

std::string flag_text(const DaemonFlag& f, DaemonOptions& o) {
  const FlagTarget target = f.member(o);
  switch (f.kind) {
    case FlagKind::kSwitch:
    case FlagKind::kVenet:
      return "";
    case FlagKind::kText:
    case FlagKind::kPath:
    case FlagKind::kSocketPath:
      return *std::get<std::string*>(target);
    case FlagKind::kUint:
      return std::to_string(*std::get<unsigned*>(target));
    case FlagKind::kSize: {
      std::string size = format_size(*std::get<uint64_t*>(target));  // "4 MiB"
      size.erase(std::remove(size.begin(), size.end(), ' '), size.end());
      return size;  // "4MiB", as --region-size takes it
    }
    case FlagKind::kMode:
      return fmt::format("{:04o}", *std::get<unsigned*>(target));
  }
  return "";
}

std::optional<int> parse_options(int argc, char** argv, DaemonOptions& out) {
  CLI::App app{"alacrityvmd: AlacrityVM host daemon (ivshmem server and vbus host)", "alacrityvmd"};
  app.set_version_flag("--version", std::string("alacrityvmd ") + AVM_VERSION_STRING);
  std::map<std::string_view, std::string> text;  // each value flag's text, by name
  std::vector<std::pair<const DaemonFlag*, CLI::Option*>> given;
  for (const DaemonFlag& f : daemon_flags()) {
    CLI::Option* opt = nullptr;
    if (f.kind == FlagKind::kSwitch) {
      opt = app.add_flag(std::string(f.name), *std::get<bool*>(f.member(out)), flag_help(f));
    } else {
      opt = app.add_option(std::string(f.name), text[f.name], flag_help(f))
                ->type_name(std::string(f.value_name));
    }
    if (f.help.empty()) {
      opt->group("");  // hidden
    }
    given.emplace_back(&f, opt);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // CLI11 has an exit code per error
  }
  for (const auto& [f, opt] : given) {
    if (f->kind == FlagKind::kSwitch || opt->count() == 0) {
      continue;
    }
    const std::string& value = text[f->name];
    if (value.empty() && std::holds_alternative<std::string*>(f->member(out))) {
      continue;  // "" leaves a text or path flag at its default
    }
    if (value.empty() && f->kind == FlagKind::kVenet) {
      continue;  // no device
    }
    if (auto why = set_flag(*f, value, out); !why.empty()) {
      const std::string_view name = f->name.substr(f->name.rfind(',') + 1);
      (void)std::fprintf(stderr, "alacrityvmd: %.*s: %s\n", static_cast<int>(name.size()),
                         name.data(), escape_for_log(why).c_str());
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/spec_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "daemon/size.h"
#include "lib/queue_view.h"

namespace avm {

namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxCount = 65536;
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kMinMtu = 68;
constexpr uint64_t kMaxMtu = 65535;
constexpr uint64_t kMinBufSize = 128;

// "must be "a", "b" or "c"" for @f's choices "a b c".
std::string choices_problem(const FieldInfo& f) {
  const std::vector<std::string> words = field_choices(f);
  std::string out = "must be \"" + words.front() + "\"";
  for (size_t i = 1; i < words.size(); i++) {
    out += (i + 1 == words.size() ? " or \"" : ", \"") + words[i] + "\"";
  }
  return out;
}

bool is_choice(const FieldInfo& f, const std::string& v) {
  const std::vector<std::string> words = field_choices(f);
  return std::find(words.begin(), words.end(), v) != words.end();
}

std::string range_problem(const FieldInfo& f, uint64_t n) {
  if (n < f.min || n > f.max) {
    return fmt::format("must be {}..{}", f.min, f.max);
  }
  return "";
}

// A JSON integer @v as a number in @f's range, or why not.
std::variant<uint64_t, std::string> integer(const FieldInfo& f, const Json& v) {
  if (!v.is_number_integer()) {  // unsigned or signed (TOML's)
    return std::string("must be an integer");
  }
  if (!v.is_number_unsigned() && v.get<int64_t>() < 0) {
    return fmt::format("must be {}..{}", f.min, f.max);
  }
  const auto n = v.get<uint64_t>();
  if (auto why = range_problem(f, n); !why.empty()) {
    return why;
  }
  return n;
}

std::variant<uint64_t, std::string> bytes(const FieldInfo& f, const Json& v) {
  constexpr const char* kWhat = "must be bytes: an integer or \"4M\", \"1G\"";
  if (v.is_string()) {
    auto n = parse_size(v.get<std::string>());
    if (!n) {
      return std::string(kWhat);
    }
    if (auto why = range_problem(f, *n); !why.empty()) {
      return why;
    }
    return *n;
  }
  if (v.is_number_integer()) {
    return integer(f, v);
  }
  return std::string(kWhat);
}

template <class S>
struct Setter {
  S& s;
  const FieldInfo& f;
  const Json& v;

  std::string operator()(std::string S::*m) const {
    if (!v.is_string()) {
      return "must be a string";
    }
    const auto text = v.get<std::string>();
    if (!f.choices.empty() && !is_choice(f, text)) {
      return choices_problem(f);
    }
    s.*m = text;
    return "";
  }
  std::string operator()(std::optional<std::string> S::*m) const {
    if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) {
      (s.*m).reset();
      return "";
    }
    if (!v.is_string()) {
      return "must be a string";
    }
    s.*m = v.get<std::string>();
    return "";
  }
  template <class N>
  std::string number(N S::*m) const {
    auto n = f.type == FieldType::kBytes ? bytes(f, v) : integer(f, v);
    if (const auto* why = std::get_if<std::string>(&n)) {
      return *why;
    }
    s.*m = static_cast<N>(std::get<uint64_t>(n));
    return "";
  }
  std::string operator()(unsigned S::*m) const { return number(m); }
  std::string operator()(uint64_t S::*m) const { return number(m); }
  std::string operator()(bool S::*m) const {
    if (f.type == FieldType::kUpDown) {
      if (!v.is_string() || (v != "up" && v != "down")) {
        return choices_problem(f);
      }
      s.*m = v == "up";
      return "";
    }
    if (!v.is_boolean()) {
      return "must be true or false";
    }
    s.*m = v.get<bool>();
    return "";
  }
  std::string operator()(std::optional<MacAddress> S::*m) const {
    if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) {
      (s.*m).reset();
      return "";
    }
    auto mac = v.is_string() ? parse_mac(v.get<std::string>()) : make_error(EINVAL, "");
    if (!mac) {
      return "must be a MAC address like \"52:54:00:12:34:56\"";
    }
    s.*m = *mac;
    return "";
  }
};

template <class S>
struct Getter {
  const S& s;
  const FieldInfo& f;

  Json operator()(std::string S::*m) const { return s.*m; }
  Json operator()(std::optional<std::string> S::*m) const {
    return (s.*m) ? Json(*(s.*m)) : Json(nullptr);
  }
  Json operator()(unsigned S::*m) const { return s.*m; }
  Json operator()(uint64_t S::*m) const { return s.*m; }
  Json operator()(bool S::*m) const {
    if (f.type == FieldType::kUpDown) {
      return (s.*m) ? "up" : "down";
    }
    return s.*m;
  }
  Json operator()(std::optional<MacAddress> S::*m) const {
    return (s.*m) ? Json(format_mac(*(s.*m))) : Json(nullptr);
  }
};

const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::kString:
    case FieldType::kOptString:
      return "string";
    case FieldType::kUint:
      return "integer";
    case FieldType::kBytes:
      return "size";
    case FieldType::kBool:
      return "bool";
    case FieldType::kUpDown:
      return "updown";
    case FieldType::kMac:
      return "mac";
  }
  return "string";
}

template <class S>
Json table_json(const std::vector<Field<S>>& fields) {
  const S defaults{};
  Json out = Json::array();
  for (const Field<S>& f : fields) {
    Json j = {{"name", f.info.name},       {"type", type_name(f.info.type)},
              {"choices", f.info.choices}, {"default", field_text(get_field(defaults, f))},
              {"help", f.info.help},       {"legacy_key", f.info.legacy_key}};
    if (f.info.type == FieldType::kUint || f.info.type == FieldType::kBytes) {
      j["min"] = f.info.min;
      j["max"] = f.info.max;
    }
    out.push_back(j);
  }
  return out;
}

}  // namespace

const std::vector<Field<DaemonSettings>>& daemon_fields() {
  using D = DaemonSettings;
  using T = FieldType;
  static const std::vector<Field<D>> kFields = {
      {{"control_socket", T::kString, 0, 0, "", "the JSON-RPC control socket"}, &D::control_socket},
      {{"control_group", T::kString, 0, 0, "", "the group allowed to use the control socket"},
       &D::control_group},
      {{"socket_group", T::kString, 0, 0, "", "the group given to instance sockets (QEMU's)"},
       &D::socket_group},
      {{"state_dir", T::kString, 0, 0, "", "where API-created objects are kept (state.json)"},
       &D::state_dir},
      {{"max_instances", T::kUint, 0, kMaxCount, "", "most instances"}, &D::max_instances},
      {{"max_devices", T::kUint, 0, kMaxCount, "", "most devices"}, &D::max_devices},
      {{"max_region_size", T::kBytes, 0, kMaxU64, "", "largest region_size of an instance"},
       &D::max_region_size},
      {{"max_request_bytes", T::kUint, 1024, uint64_t{16} << 20, "",
        "largest JSON-RPC request line"},
       &D::max_request_bytes},
      {{"max_connections", T::kUint, 1, kMaxCount, "", "most control connections at once"},
       &D::max_connections},
      // Checked after the numbers, as before the table.
      {{"log_level", T::kString, 0, 0, "trace debug info warn error", "log level"}, &D::log_level},
  };
  return kFields;
}

const std::vector<Field<MetricsSettings>>& metrics_fields() {
  using M = MetricsSettings;
  using T = FieldType;
  static const std::vector<Field<M>> kFields = {
      {{"enabled", T::kBool, 0, 0, "", "serve Prometheus metrics"}, &M::enabled},
      {{"listen", T::kString, 0, 0, "", "unix:PATH or HOST:PORT of the metrics endpoint"},
       &M::listen},
  };
  return kFields;
}

const std::vector<Field<InstanceSpec>>& instance_fields() {
  using I = InstanceSpec;
  using T = FieldType;
  static const std::vector<Field<I>> kFields = {
      {{"name", T::kString, 0, 0, "", "instance name"}, &I::name},
      {{"socket", T::kString, 0, 0, "",
        "ivshmem socket QEMU connects to (default /run/alacrityvm/NAME.sock)"},
       &I::socket},
      {{"region_size", T::kBytes, 0, kMaxU64, "",
        "shared memory size, a power of two, 1M up to daemon.max_region_size"},
       &I::region_size},
      {{"vectors", T::kUint, 1, kMaxVectors, "", "MSI-X vectors; QEMU's vectors= must be the same"},
       &I::vectors},
  };
  return kFields;
}

const std::vector<Field<DeviceSpec>>& device_fields() {
  using D = DeviceSpec;
  using T = FieldType;
  static const std::vector<Field<D>> kFields = {
      {{"name", T::kString, 0, 0, "", "device name"}, &D::name},
      {{"type", T::kString, 0, 0, "venet", "device type"}, &D::type},
      {{"instance", T::kOptString, 0, 0, "", "the instance it is attached to"}, &D::instance},
      {{"tap", T::kString, 0, 0, "", "TAP interface (default avm-NAME)", "tap"}, &D::tap},
      {{"bridge", T::kOptString, 0, 0, "", "Linux bridge to enslave the TAP to"}, &D::bridge},
      {{"netns", T::kOptString, 0, 0, "",
        "network namespace (/run/netns/NETNS) to create the TAP in", "netns"},
       &D::netns},
      {{"mac", T::kMac, 0, 0, "", "guest MAC address, unicast (default derived from the name)",
        "mac"},
       &D::mac},
      {{"mtu", T::kUint, kMinMtu, kMaxMtu, "", "MTU of the guest and the TAP", "mtu"}, &D::mtu},
      {{"queues", T::kUint, 1, 1, "", "queue pairs"}, &D::queues},
      {{"backend", T::kString, 0, 0, "user kernel auto",
        "who serves the rings: the I/O thread, vbus_host.ko, or the module when it is there"},
       &D::backend},
      {{"link", T::kUpDown, 0, 0, "up down", "host-side carrier at start", "link"}, &D::link_up},
      {{"ring_size", T::kUint, 1, QueueView::kMaxEntries, "", "entries per ring, a power of two",
        "ring"},
       &D::ring_size},
      {{"buf_size", T::kUint, kMinBufSize, QueueView::kMaxBufSize, "", "bytes per pool buffer",
        "buf"},
       &D::buf_size},
      {{"rx_coalesce_us", T::kUint, 0, kVenetMaxRxCoalesceUs, "",
        "how long a stream's receive signal waits for more frames (0: off)", "rx_coalesce_us"},
       &D::rx_coalesce_us},
      {{"busy_poll_max_us", T::kUint, 0, kVenetMaxBusyPollMaxUs, "",
        "most microseconds of busy polling after work (0: off)", "busy_poll_max_us"},
       &D::busy_poll_max_us},
  };
  return kFields;
}

template <class S>
std::string set_field(S& s, const Field<S>& f, const Json& v) {
  return std::visit(Setter<S>{s, f.info, v}, f.member);
}

template <class S>
Json get_field(const S& s, const Field<S>& f) {
  return std::visit(Getter<S>{s, f.info}, f.member);
}

std::vector<std::string> field_choices(const FieldInfo& f) {
  std::vector<std::string> out;
  for (size_t at = 0; at < f.choices.size();) {
    const size_t end = std::min(f.choices.find(' ', at), f.choices.size());
    out.emplace_back(f.choices.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

Json field_json_from_text(const FieldInfo& f, std::string_view text) {
  if (f.type == FieldType::kUint || f.type == FieldType::kBytes) {
    uint64_t n = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, n);
    if (!text.empty() && ec == std::errc{} && p == end) {
      return n;
    }
  }
  if (f.type == FieldType::kBool && (text == "true" || text == "false")) {
    return text == "true";
  }
  return std::string(text);
}

std::string field_text(const Json& v) {
  if (v.is_null()) {
    return "";
  }
  if (v.is_string()) {
    return v.get<std::string>();
  }
  return v.dump();
}

template <class S>
void add_field_problems(const S& s, const std::vector<Field<S>>& fields,
                        std::vector<std::string>& out) {
  for (const Field<S>& f : fields) {
    S copy = s;
    if (auto why = set_field(copy, f, get_field(s, f)); !why.empty()) {
      out.push_back(std::string(f.info.name) + ": " + why);
    }
  }
}

Json fields_json() {
  return {{"daemon", table_json(daemon_fields())},
          {"metrics", table_json(metrics_fields())},
          {"instance", table_json(instance_fields())},
          {"device", table_json(device_fields())}};
}

template std::string set_field(DaemonSettings&, const Field<DaemonSettings>&, const Json&);
template Json get_field(const DaemonSettings&, const Field<DaemonSettings>&);
template void add_field_problems(const DaemonSettings&, const std::vector<Field<DaemonSettings>>&,
                                 std::vector<std::string>&);

template std::string set_field(MetricsSettings&, const Field<MetricsSettings>&, const Json&);
template Json get_field(const MetricsSettings&, const Field<MetricsSettings>&);
template void add_field_problems(const MetricsSettings&, const std::vector<Field<MetricsSettings>>&,
                                 std::vector<std::string>&);

template std::string set_field(InstanceSpec&, const Field<InstanceSpec>&, const Json&);
template Json get_field(const InstanceSpec&, const Field<InstanceSpec>&);
template void add_field_problems(const InstanceSpec&, const std::vector<Field<InstanceSpec>>&,
                                 std::vector<std::string>&);

template std::string set_field(DeviceSpec&, const Field<DeviceSpec>&, const Json&);
template Json get_field(const DeviceSpec&, const Field<DeviceSpec>&);
template void add_field_problems(const DeviceSpec&, const std::vector<Field<DeviceSpec>>&,
                                 std::vector<std::string>&);

}  // namespace avm

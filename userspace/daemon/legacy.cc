// SPDX-License-Identifier: GPL-2.0
#include "daemon/legacy.h"

#include <algorithm>
#include <vector>

#include "handover/fd_bundle.h"

namespace avm {

TakeoverOptions extract_takeover_options(int& argc, char** argv) {
  TakeoverOptions o;
  std::vector<char*> kept;
  for (int i = 0; i < argc; i++) {
    const std::string a = argv[i];
    std::string* target = nullptr;
    std::string value;
    for (auto [flag, dest] :
         {std::pair{"--handover-listen", &o.listen}, std::pair{"--takeover-from", &o.from}}) {
      const std::string f = flag;
      if (a == f && i + 1 < argc) {
        target = dest;
        value = argv[++i];
      } else if (a.rfind(f + "=", 0) == 0) {
        target = dest;
        value = a.substr(f.size() + 1);
      }
    }
    if (target != nullptr) {
      *target = value;
    } else {
      kept.push_back(argv[i]);
    }
  }
  for (size_t i = 0; i < kept.size(); i++) {
    argv[i] = kept[i];
  }
  argc = static_cast<int>(kept.size());
  argv[argc] = nullptr;
  return o;
}

void add_legacy_objects(const DaemonOptions& o, const TakeoverOptions& t, ServiceOptions& so) {
  so.handover_listen = t.listen;
  so.max_clients = o.config.max_clients;
  if (!t.from.empty()) {
    // The instance and its devices are the old process's.
    so.takeover = true;
    so.takeover_from = t.from;
    return;
  }
  LegacyObjects l;
  l.instance.name = "default";
  l.instance.socket = o.config.socket_path;
  l.instance.region_size = o.config.region_size;
  l.instance.vectors = o.config.vectors;
  l.instance.origin = Origin::kLegacy;
  l.socket_mode = o.config.socket_mode;
  // The instance's own checks allow what the command line allowed.
  so.config.daemon.max_region_size =
      std::max(so.config.daemon.max_region_size, l.instance.region_size);
  if (o.venet) {
    l.devices.push_back(*o.venet);  // parse_venet_option() made it whole
  }
  so.legacy = std::move(l);
}

Result<LegacyObjects> legacy_objects_from_handover(const nlohmann::json& instance_state) {
  auto config = handover::get_object(instance_state, "config");
  auto devices = handover::get_array(instance_state, "devices");
  if (!config || !devices) {
    return make_error(EINVAL, "takeover: the instance has no config or devices");
  }
  auto name = handover::get_string(**config, "name");
  auto socket = handover::get_string(**config, "socket_path");
  auto mode = handover::get_u32(**config, "socket_mode", 07777);
  auto size = handover::get_u64(**config, "region_size");
  auto vectors = handover::get_u32(**config, "vectors", kMaxVectors);
  if (!name || !socket || !mode || !size || !vectors) {
    return make_error(EINVAL, "takeover: incomplete instance config");
  }
  LegacyObjects l;
  l.instance.name = *name;
  l.instance.socket = *socket;
  l.instance.region_size = *size;
  l.instance.vectors = *vectors;
  l.instance.origin = Origin::kLegacy;
  l.socket_mode = static_cast<mode_t>(*mode);
  for (const nlohmann::json& e : **devices) {
    auto dname = handover::get_string(e, "name");
    auto c = handover::get_object(e, "config");
    if (!dname || !c) {
      return make_error(EINVAL, "takeover: a device without a name or config");
    }
    auto tap = handover::get_string(**c, "tap");
    if (!tap) {
      return make_error(EINVAL, "takeover: device " + *dname + " has no tap");
    }
    DeviceSpec d;
    d.name = *dname;
    d.instance = *name;
    d.tap = *tap;
    d.backend = "user";  // the kernel backend is never handed over
    d.origin = Origin::kLegacy;
    const nlohmann::json& cj = **c;
    if (auto m = cj.find("mac"); m != cj.end() && m->is_array() && m->size() == 6) {
      std::array<uint8_t, 6> mac{};
      for (size_t i = 0; i < mac.size(); i++) {
        const nlohmann::json& b = (*m)[i];
        mac.at(i) = b.is_number_unsigned() ? static_cast<uint8_t>(b.get<unsigned>()) : 0;
      }
      d.mac = mac;
    }
    if (auto up = handover::get_bool(cj, "link_up"); up) {
      d.link_up = *up;
    }
    for (auto [key, dest] :
         {std::pair{"mtu", &d.mtu}, std::pair{"ring_size", &d.ring_size},
          std::pair{"buf_size", &d.buf_size}, std::pair{"rx_coalesce_us", &d.rx_coalesce_us}}) {
      if (auto v = handover::get_u32(cj, key); v) {
        *dest = *v;
      }
    }
    l.devices.push_back(d);
  }
  return l;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// The JSON objects of docs/control-api.md: instance, device, stats.
#include "daemon/service.h"
#include "daemon/spec_fields.h"
#include "daemon/stats_export.h"

namespace avm {

using rpc::Json;

namespace {

// Every field of the spec's table (spec_fields.h) that @j does not show
// yet, as the config file writes it: a show lists all a create can set.
template <class S>
void add_other_fields(Json& j, const S& spec, const std::vector<Field<S>>& fields) {
  for (const Field<S>& f : fields) {
    const std::string key(f.info.name);
    if (!j.contains(key)) {
      j[key] = get_field(spec, f);
    }
  }
}

const AttachedDevice* find(const InstanceInfo& i, const std::string& name) {
  for (const AttachedDevice& d : i.devices) {
    if (d.name == name) {
      return &d;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> Service::instance_names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : instances_) {
    out.push_back(name);
  }
  return out;
}

std::vector<std::string> Service::device_names(const std::optional<std::string>& instance) const {
  std::vector<std::string> out;
  for (const auto& [name, d] : devices_) {
    if (!instance || d.instance == instance) {
      out.push_back(name);
    }
  }
  return out;
}

rpc::Outcome<InstanceSpec> Service::instance_spec(const std::string& name) const {
  auto it = instances_.find(name);
  if (it == instances_.end()) {
    return rpc::fault(rpc::kNotFound, "no instance named " + name,
                      Json{{"kind", "instance"}, {"name", name}});
  }
  InstanceSpec s = it->second.spec;
  s.socket = it->second.inst->config().socket_path;
  return s;
}

rpc::Outcome<Json> Service::instance_json(const std::string& name, bool with_stats) const {
  auto spec = instance_spec(name);
  if (!spec) {
    return tl::unexpected(spec.error());
  }
  const InstanceInfo info = instance(name)->info();
  Json j = {{"name", name},
            {"origin", to_string(spec->origin)},
            {"socket", spec->socket},
            {"region_size", spec->region_size},
            {"vectors", spec->vectors},
            {"state", to_string(info.state)},
            {"guest", nullptr},
            {"devices", device_names(name)}};
  if (info.guest != 0) {
    // pid: the QEMU process that connected (SO_PEERCRED), null if unknown.
    j["guest"] = Json{{"peer", info.guest},
                      {"pid", info.guest_pid > 0 ? Json(info.guest_pid) : Json(nullptr)}};
  }
  add_other_fields(j, *spec, instance_fields());
  if (with_stats) {
    j["stats"] = stats_json(instance_stats(info));
  }
  return j;
}

rpc::Outcome<Json> Service::device_json(const std::string& name, bool with_stats) const {
  auto it = devices_.find(name);
  if (it == devices_.end()) {
    return rpc::fault(rpc::kNotFound, "no device named " + name,
                      Json{{"kind", "device"}, {"name", name}});
  }
  const DeviceSpec& d = it->second;
  Json j = {{"name", name},
            {"origin", to_string(d.origin)},
            {"type", d.type},
            {"instance", nullptr},
            {"tap", device_tap(d)},
            {"bridge", nullptr},
            {"netns", nullptr},
            {"mac", format_mac(device_mac(d))},
            {"mtu", d.mtu},
            {"queues", d.queues},
            {"backend", d.backend},  // the requested one until attached
            {"backend_requested", d.backend},
            {"link", d.link_up ? "up" : "down"},
            {"guest_open", false},
            {"quarantined", false}};
  if (d.bridge) {
    j["bridge"] = *d.bridge;
  }
  if (d.netns) {
    j["netns"] = *d.netns;
  }
  const AttachedDevice* a = nullptr;
  InstanceInfo info;
  if (d.instance) {
    j["instance"] = *d.instance;
    if (Instance* inst = instance(*d.instance)) {
      info = inst->info();
      a = find(info, name);
    }
  }
  if (a != nullptr) {
    j["backend"] = a->backend;  // the one serving it (auto decided at attach)
    if (!a->backend_note.empty()) {
      j["backend_note"] = a->backend_note;
    }
    j["guest_open"] = a->open;
    j["quarantined"] = a->quarantined;
    if (a->mtu) {
      j["mtu"] = *a->mtu;  // the TAP's as it is (the configured one while detached)
    }
  }
  add_other_fields(j, d, device_fields());  // the tuning: ring_size, buf_size...
  if (with_stats) {
    j["stats"] = stats_json(device_stats(a != nullptr ? a->stats : VenetStats{}));
  }
  return j;
}

rpc::Outcome<Json> Service::stats(const std::optional<std::string>& only) const {
  if (only && !instances_.contains(*only)) {
    return rpc::fault(rpc::kNotFound, "no instance named " + *only,
                      Json{{"kind", "instance"}, {"name", *only}});
  }
  Json all = Json::object();
  for (const auto& [name, e] : instances_) {
    if (only && *only != name) {
      continue;
    }
    const InstanceInfo info = e.inst->info();
    Json devs = Json::object();
    for (const AttachedDevice& d : info.devices) {
      devs[d.name] = stats_json(device_stats(d.stats));
    }
    all[name] = Json{{"bridge", stats_json(instance_stats(info))},
                     {"ivshmem", stats_json(ivshmem_stats(info.ivshmem))},
                     {"devices", devs}};
  }
  return Json{{"instances", all}};
}

}  // namespace avm

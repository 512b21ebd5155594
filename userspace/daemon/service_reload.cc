// SPDX-License-Identifier: GPL-2.0
// SIGHUP / daemon.reload: re-read the config file and bring the config
// objects in line with it.  A file with errors changes nothing; an
// instance with a guest connected is never re-created under it (kept,
// with a warning); API-created objects are left alone.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/notify.h"
#include "daemon/service.h"

namespace avm {

using rpc::Json;

namespace {

template <class Spec>
const Spec* by_name(const std::vector<Spec>& v, const std::string& name) {
  auto it = std::find_if(v.begin(), v.end(), [&](const Spec& s) { return s.name == name; });
  return it == v.end() ? nullptr : &*it;
}

}  // namespace

rpc::Outcome<Json> Service::reload() {
  if (!options_.config_file) {
    return rpc::fault(rpc::kInvalidParams, "alacrityvmd runs without a configuration file");
  }
  if (notifier_) {
    notifier_->reloading();
  }
  ConfigResult next = load_config(options_.config.file);
  if (!next.ok()) {
    for (const std::string& e : next.errors) {
      spdlog::error("{}", e);
    }
    if (notifier_) {
      notifier_->ready(status_line());
    }
    return rpc::fault(rpc::kInvalidParams, options_.config.file + " has errors: nothing changed",
                      Json{{"errors", next.errors}});
  }
  Json out = apply_reload(next.config);
  spdlog::info("reloaded {}: {}", options_.config.file, out.dump());
  if (notifier_) {
    notifier_->ready(status_line());
  }
  return out;
}

Json Service::apply_reload(const Config& next) {
  Json added = Json::array();
  Json removed = Json::array();
  Json changed = Json::array();
  Json kept = Json::array();
  auto connected = [this](const std::string& inst) {
    const Instance* i = instance(inst);
    return i != nullptr && i->guest() != 0;
  };

  // Devices that left the file or changed.
  std::vector<std::string> readd;
  for (const std::string& name : device_names(std::nullopt)) {
    const DeviceSpec cur = devices_.at(name);
    if (cur.origin != Origin::kConfig) {
      continue;
    }
    const DeviceSpec* want = by_name(next.devices, name);
    DeviceSpec cmp = cur;
    if (want != nullptr) {
      cmp.link_up = want->link_up;  // the link is run-time state
    }
    if (want != nullptr && cmp == *want) {
      continue;
    }
    if (cur.instance && connected(*cur.instance)) {
      spdlog::warn("reload: device {} kept: a guest is connected to {}", name, *cur.instance);
      kept.push_back(name);
      continue;
    }
    (void)delete_device(name, Origin::kConfig);
    if (want != nullptr) {
      readd.push_back(name);
    } else {
      removed.push_back(name);
    }
  }

  // Instances that left the file or changed.
  for (const std::string& name : instance_names()) {
    const InstanceSpec cur = instances_.at(name).spec;
    if (cur.origin != Origin::kConfig) {
      continue;
    }
    const InstanceSpec* want = by_name(next.instances, name);
    if (want != nullptr && cur == *want) {
      continue;
    }
    if (connected(name)) {
      spdlog::warn("reload: instance {} kept: a guest is connected", name);
      kept.push_back(name);
      continue;
    }
    std::vector<std::string> attached = device_names(name);
    (void)delete_instance(name, true, Origin::kConfig);
    if (want == nullptr) {
      removed.push_back(name);
      continue;
    }
    if (auto ok = create_instance(*want); !ok) {
      spdlog::error("reload: instance {}: {}", name, ok.error().message);
      removed.push_back(name);
      continue;
    }
    changed.push_back(name);
    for (const std::string& d : attached) {
      if (devices_.contains(d)) {
        (void)attach(d, name, Origin::kConfig);
      }
    }
  }

  // New instances, then new and re-created devices.
  for (const InstanceSpec& s : next.instances) {
    if (instances_.contains(s.name)) {
      continue;
    }
    if (auto ok = create_instance(s); ok) {
      added.push_back(s.name);
    } else {
      spdlog::error("reload: instance {}: {}", s.name, ok.error().message);
    }
  }
  for (const DeviceSpec& s : next.devices) {
    if (devices_.contains(s.name)) {
      continue;
    }
    const bool again = std::find(readd.begin(), readd.end(), s.name) != readd.end();
    if (auto ok = create_device(s); ok) {
      (again ? changed : added).push_back(s.name);
    } else {
      spdlog::error("reload: device {}: {}", s.name, ok.error().message);
      if (again) {
        removed.push_back(s.name);
      }
    }
  }

  // Settings that apply at once; the sockets and state_dir need a restart.
  const DaemonSettings& cur = options_.config.daemon;
  if (next.daemon.control_socket != cur.control_socket || next.daemon.state_dir != cur.state_dir ||
      next.daemon.control_group != cur.control_group ||
      next.metrics.enabled != options_.config.metrics.enabled ||
      next.metrics.listen != options_.config.metrics.listen) {
    spdlog::warn("reload: control socket, group, state_dir and [metrics] change at restart");
  }
  spdlog::set_level(spdlog::level::from_str(next.daemon.log_level));
  DaemonSettings keep = cur;
  MetricsSettings keep_metrics = options_.config.metrics;
  options_.config = next;
  options_.config.daemon.control_socket = keep.control_socket;
  options_.config.daemon.control_group = keep.control_group;
  options_.config.daemon.state_dir = keep.state_dir;
  options_.config.metrics = keep_metrics;
  return Json{{"added", added}, {"removed", removed}, {"changed", changed}, {"kept", kept}};
}

}  // namespace avm

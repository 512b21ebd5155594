// SPDX-License-Identifier: GPL-2.0
// Service operations: create, delete, attach, detach, link.  Each checks
// everything it can first and undoes what it did when a later step fails.
#include <spdlog/spdlog.h>

#include <cerrno>

#include "daemon/service.h"
#include "daemon/tap_netns.h"
#include "venet/kernel_backend.h"

namespace avm {

using rpc::fault;

namespace {

rpc::Json named(const char* kind, const std::string& name) {
  return {{"kind", kind}, {"name", name}};
}

tl::unexpected<rpc::Fault> not_found(const char* kind, const std::string& name) {
  return fault(rpc::kNotFound, std::string("no ") + kind + " named " + name, named(kind, name));
}

tl::unexpected<rpc::Fault> host_failed(const Error& e) {
  return fault(rpc::kHostResource, e.message, rpc::Json{{"errno", e.code}});
}

tl::unexpected<rpc::Fault> limit(const char* what, const std::string& message) {
  return fault(rpc::kLimitReached, message, rpc::Json{{"limit", what}});
}

// check()'s "KEY: why" as -32602 naming KEY.
tl::unexpected<rpc::Fault> invalid(const std::string& problem) {
  const std::string key = problem.substr(0, problem.find(':'));
  return fault(rpc::kInvalidParams, problem, rpc::Json{{"param", key}});
}

// The first of check()'s problems, the others in data.problems.
tl::unexpected<rpc::Fault> invalid(const std::vector<std::string>& problems) {
  auto f = invalid(problems.front());
  f.value().data["problems"] = problems;
  return f;
}

}  // namespace

rpc::Outcome<void> Service::writable(Origin origin, const std::string& what) const {
  if (origin == Origin::kConfig) {
    return fault(rpc::kReadOnly,
                 what + " is defined in " + options_.config.file + ": edit the file and reload");
  }
  if (origin == Origin::kLegacy) {
    return fault(rpc::kReadOnly, what + " is defined on the command line");
  }
  return {};
}

rpc::Outcome<void> Service::may_change(DeviceMap::const_iterator it, const std::string& name,
                                       Origin by) const {
  if (it == devices_.end()) {
    return not_found("device", name);
  }
  if (by == Origin::kApi) {
    return writable(it->second.origin, "device " + name);
  }
  return {};
}

Instance* Service::instance(const std::string& name) const {
  auto it = instances_.find(name);
  return it == instances_.end() ? nullptr : it->second.inst.get();
}

rpc::Outcome<void> Service::create_instance(const InstanceSpec& spec) {
  check_owner();
  if (auto why = check(spec, settings()); !why.empty()) {
    if (why.size() == 1 && why[0].starts_with("region_size: over")) {
      return limit("region_size", "region_size over max_region_size");
    }
    return invalid(why);
  }
  if (instances_.contains(spec.name)) {
    return fault(rpc::kAlreadyExists, "instance " + spec.name + " exists",
                 named("instance", spec.name));
  }
  if (instances_.size() >= settings().max_instances) {
    return limit("instances", "max_instances (" + std::to_string(settings().max_instances) +
                                  ") instances exist");
  }
  InstanceConfig ic;
  ic.name = spec.name;
  ic.socket_path = instance_socket(spec, run_dir());
  ic.socket_mode =
      spec.origin == Origin::kLegacy && options_.legacy ? options_.legacy->socket_mode : 0660;
  ic.region_size = spec.region_size;
  ic.vectors = spec.vectors;
  ic.max_clients = options_.max_clients;
  for (const auto& [name, e] : instances_) {
    if (e.inst->config().socket_path == ic.socket_path) {
      return fault(rpc::kHostResource, "socket " + ic.socket_path + " is instance " + name + "'s",
                   rpc::Json{{"errno", EADDRINUSE}});
    }
  }
  if (auto adopted = take_adopted(spec.name, ic.socket_path)) {
    spdlog::info("instance {} continues from the {}", spec.name,
                 options_.takeover ? "previous process" : "FD store");
    resumed_.insert(spec.name);
    adopted->set_on_failure(report_failure(spec.name));
    instances_[spec.name] = InstanceEntry{spec, std::move(adopted)};
    return {};
  }
  auto inst = std::make_unique<Instance>(ic);
  inst->set_on_failure(report_failure(spec.name));
  auto ok = threads_started_ ? inst->start() : inst->listen();
  if (!ok) {
    return ok.error().code == EINVAL ? invalid("region_size: " + ok.error().message)
                                     : host_failed(ok.error());
  }
  // QEMU may run as another user in socket_group (libvirt); the legacy
  // socket is 0600, the daemon's own.
  const std::string group = spec.origin == Origin::kLegacy
                                ? "the daemon's group"
                                : socket_group_.apply(settings().socket_group, ic.socket_path);
  spdlog::info("instance {} created ({}): socket {} ({}), region {} bytes, {} vectors", spec.name,
               to_string(spec.origin), ic.socket_path, group, spec.region_size, spec.vectors);
  instances_[spec.name] = InstanceEntry{spec, std::move(inst)};
  return {};
}

rpc::Outcome<void> Service::delete_instance(const std::string& name, bool force, Origin by) {
  check_owner();
  auto it = instances_.find(name);
  if (it == instances_.end()) {
    return not_found("instance", name);
  }
  if (by == Origin::kApi) {
    if (auto ok = writable(it->second.spec.origin, "instance " + name); !ok) {
      return ok;
    }
  }
  Instance& inst = *it->second.inst;
  if (inst.guest() != 0 && !force) {
    return fault(rpc::kBusy, "instance " + name + " has a guest connected (force: true resets it)",
                 named("instance", name));
  }
  // Devices stay, detached.
  for (auto& [dname, d] : devices_) {
    if (d.instance == name) {
      (void)inst.detach(dname);
      d.instance.reset();
    }
  }
  inst.stop();
  instances_.erase(it);
  resumed_.erase(name);
  spdlog::info("instance {} deleted", name);
  return {};
}

rpc::Outcome<void> Service::plug(const DeviceSpec& spec, InstanceEntry& e) {
  Instance& inst = *e.inst;
  if (inst.free_vectors() == 0) {
    return limit("vectors", "instance " + e.spec.name + " has no free doorbell vector (vectors = " +
                                std::to_string(e.spec.vectors) + ")");
  }
  const VenetBackend backend = parse_venet_backend(spec.backend).value_or(VenetBackend::kUser);
  if (backend == VenetBackend::kKernel && !KernelBackend::available()) {
    return fault(rpc::kHostResource,
                 "backend kernel: " + std::string(KernelBackend::kDevicePath) +
                     " does not exist: vbus_host.ko is not loaded (modprobe vbus_host, or use "
                     "backend \"auto\" or \"user\")",
                 rpc::Json{{"errno", ENODEV}, {"backend", "kernel"}});
  }
  VenetConfig vc = to_venet_config(spec);
  vc.backend = backend;
  if (auto ok = validate(vc); !ok) {
    return fault(rpc::kInvalidParams, ok.error().message);
  }
  const std::string netns = spec.netns.value_or("");
  auto tap = open_tap_in_netns(vc.tap_name, netns);
  if (!tap) {
    return host_failed(Error{tap.error().code, "tap " + vc.tap_name + ": " + tap.error().message});
  }
  if (spec.bridge) {
    // On failure the TAP closes with `tap` and disappears.
    if (auto ok = join_bridge_in_netns(vc.tap_name, *spec.bridge, netns); !ok) {
      return host_failed(ok.error());
    }
  }
  auto dev = VenetDevice::create(vc, std::move(*tap));
  if (!dev) {
    return host_failed(dev.error());
  }
  if (auto ok = inst.attach(spec.name, std::move(*dev)); !ok) {
    if (ok.error().code == ENOSPC) {
      return limit("vectors", ok.error().message);
    }
    if (ok.error().code == ENOMEM) {  // the rings do not fit into the region
      return limit("region_size", ok.error().message);
    }
    return host_failed(ok.error());
  }
  return {};
}

rpc::Outcome<void> Service::create_device(const DeviceSpec& spec) {
  check_owner();
  if (auto why = check(spec); !why.empty()) {
    return invalid(why);
  }
  if (devices_.contains(spec.name)) {
    return fault(rpc::kAlreadyExists, "device " + spec.name + " exists",
                 named("device", spec.name));
  }
  if (devices_.size() >= settings().max_devices) {
    return limit("devices",
                 "max_devices (" + std::to_string(settings().max_devices) + ") devices exist");
  }
  for (const auto& [name, d] : devices_) {
    if (device_tap(d) == device_tap(spec) && d.netns == spec.netns) {
      return fault(rpc::kAlreadyExists, "tap " + device_tap(spec) + " is device " + name + "'s",
                   rpc::Json{{"kind", "tap"}, {"name", device_tap(spec)}});
    }
  }
  if (spec.instance) {
    auto it = instances_.find(*spec.instance);
    if (it == instances_.end()) {
      return not_found("instance", *spec.instance);
    }
    bool carried = false;  // adopted from the FD store with the instance
    for (const AttachedDevice& a : it->second.inst->info().devices) {
      carried = carried || (resumed_.contains(*spec.instance) && a.name == spec.name);
    }
    if (!carried) {
      if (auto ok = plug(spec, it->second); !ok) {
        return ok;
      }
    }
  }
  devices_[spec.name] = spec;
  spdlog::info("device {} created ({}){}", spec.name, to_string(spec.origin),
               spec.instance ? ", attached to " + *spec.instance : "");
  return {};
}

rpc::Outcome<void> Service::delete_device(const std::string& name, Origin by) {
  check_owner();
  auto it = devices_.find(name);
  if (auto ok = may_change(it, name, by); !ok) {
    return ok;
  }
  if (it->second.instance) {
    if (Instance* inst = instance(*it->second.instance)) {
      (void)inst->detach(name);
    }
  }
  devices_.erase(it);
  spdlog::info("device {} deleted", name);
  return {};
}

rpc::Outcome<void> Service::attach(const std::string& device, const std::string& instance_name,
                                   Origin by) {
  check_owner();
  auto it = devices_.find(device);
  if (auto ok = may_change(it, device, by); !ok) {
    return ok;
  }
  auto inst = instances_.find(instance_name);
  if (inst == instances_.end()) {
    return not_found("instance", instance_name);
  }
  if (it->second.instance) {
    return fault(rpc::kBusy, "device " + device + " is attached to " + *it->second.instance,
                 named("device", device));
  }
  DeviceSpec next = it->second;
  next.instance = instance_name;
  if (auto ok = plug(next, inst->second); !ok) {
    return ok;
  }
  it->second = next;
  spdlog::info("device {} attached to {}", device, instance_name);
  return {};
}

rpc::Outcome<void> Service::detach(const std::string& device, Origin by) {
  check_owner();
  auto it = devices_.find(device);
  if (auto ok = may_change(it, device, by); !ok) {
    return ok;
  }
  if (!it->second.instance) {
    return fault(rpc::kBusy, "device " + device + " is not attached", named("device", device));
  }
  if (Instance* inst = instance(*it->second.instance)) {
    if (auto ok = inst->detach(device); !ok) {
      return host_failed(ok.error());
    }
  }
  spdlog::info("device {} detached from {}", device, *it->second.instance);
  it->second.instance.reset();
  return {};
}

rpc::Outcome<void> Service::set_link(const std::string& device, bool up, Origin /*by*/) {
  check_owner();
  auto it = devices_.find(device);
  if (it == devices_.end()) {
    return not_found("device", device);
  }
  // The host link is run-time state, also for config devices.
  if (it->second.instance) {
    if (Instance* inst = instance(*it->second.instance)) {
      if (auto ok = inst->set_link(device, up); !ok) {
        return host_failed(ok.error());
      }
    }
  }
  it->second.link_up = up;
  spdlog::info("device {}: host link {}", device, up ? "up" : "down");
  return {};
}

}  // namespace avm

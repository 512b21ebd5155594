// SPDX-License-Identifier: GPL-2.0
// device.create/delete/list/show/attach/detach/set_link.
#include "daemon/methods.h"
#include "daemon/service.h"
#include "daemon/venet_option.h"
#include "rpc/params.h"

namespace avm {

using rpc::Caller;
using rpc::Json;
using rpc::Outcome;
using rpc::Params;

namespace {

// Assigns @key's value (if present) to @out, or returns its fault.
#define AVM_TAKE(expr, out)              \
  do {                                   \
    auto v_ = (expr);                    \
    if (!v_) {                           \
      return tl::unexpected(v_.error()); \
    }                                    \
    if (*v_) {                           \
      (out) = **v_;                      \
    }                                    \
  } while (0)

Outcome<DeviceSpec> spec_from(const Json& params) {
  Params p(params);
  if (auto ok = p.only({"name", "type", "instance", "tap", "bridge", "netns", "mac", "mtu",
                        "queues", "backend", "link"});
      !ok) {
    return tl::unexpected(ok.error());
  }
  DeviceSpec s;
  s.origin = Origin::kApi;
  auto name = p.string("name");
  if (!name) {
    return tl::unexpected(name.error());
  }
  s.name = *name;
  AVM_TAKE(p.opt_string("type"), s.type);
  std::string instance;
  AVM_TAKE(p.opt_string("instance"), instance);
  if (!instance.empty()) {
    s.instance = instance;
  }
  AVM_TAKE(p.opt_string("tap"), s.tap);
  std::string bridge;
  AVM_TAKE(p.opt_string("bridge"), bridge);
  if (!bridge.empty()) {
    s.bridge = bridge;
  }
  std::string netns;
  AVM_TAKE(p.opt_string("netns"), netns);
  if (!netns.empty()) {
    s.netns = netns;
  }
  std::string mac;
  AVM_TAKE(p.opt_string("mac"), mac);
  if (!mac.empty()) {
    auto m = parse_mac(mac);
    if (!m) {
      return rpc::bad_param("mac", "not a MAC address like 52:54:00:12:34:56");
    }
    s.mac = *m;
  }
  constexpr uint64_t kMaxMtu = 65535;
  AVM_TAKE(p.opt_uint("mtu", 68, kMaxMtu), s.mtu);
  AVM_TAKE(p.opt_uint("queues", 1, 1), s.queues);
  AVM_TAKE(p.opt_string("backend"), s.backend);
  std::string link = "up";
  AVM_TAKE(p.opt_string("link"), link);
  if (link != "up" && link != "down") {
    return rpc::bad_param("link", "must be \"up\" or \"down\"");
  }
  s.link_up = link == "up";
  return s;
}

#undef AVM_TAKE

Outcome<std::string> name_of(const Json& params, std::initializer_list<const char*> allowed) {
  Params p(params);
  if (auto ok = p.only(allowed); !ok) {
    return tl::unexpected(ok.error());
  }
  return name_param(p, "name");
}

}  // namespace

void add_device_methods(rpc::Dispatcher& d, Service& s) {
  d.add("device.create", [&s](const Json& p, const Caller& c) -> Outcome<Json> {
    auto spec = spec_from(p);
    if (!spec) {
      return tl::unexpected(spec.error());
    }
    if (auto ok = s.create_device(*spec); !ok) {
      return tl::unexpected(ok.error());
    }
    s.changed(c, "device.create " + spec->name);
    return s.device_json(spec->name, false);
  });
  d.add("device.delete", [&s](const Json& p, const Caller& c) -> Outcome<Json> {
    auto name = name_of(p, {"name"});
    if (!name) {
      return tl::unexpected(name.error());
    }
    if (auto ok = s.delete_device(*name, Origin::kApi); !ok) {
      return tl::unexpected(ok.error());
    }
    s.changed(c, "device.delete " + *name);
    return Json::object();
  });
  d.add("device.list", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto inst = instance_filter(p);
    if (!inst) {
      return tl::unexpected(inst.error());
    }
    if (*inst && s.instance(**inst) == nullptr) {
      return rpc::fault(rpc::kNotFound, "no instance named " + **inst,
                        Json{{"kind", "instance"}, {"name", **inst}});
    }
    Json list = Json::array();
    for (const std::string& name : s.device_names(*inst)) {
      list.push_back(*s.device_json(name, false));
    }
    return Json{{"devices", list}};
  });
  d.add("device.show", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto name = name_of(p, {"name"});
    if (!name) {
      return tl::unexpected(name.error());
    }
    return s.device_json(*name, true);
  });
  // attach, detach: change, log, answer the device.
  auto change = [&s](const Json& p, const Caller& c, bool attach) -> Outcome<Json> {
    auto name = attach ? name_of(p, {"name", "instance"}) : name_of(p, {"name"});
    if (!name) {
      return tl::unexpected(name.error());
    }
    auto inst = attach ? name_param(Params(p), "instance") : Outcome<std::string>("");
    if (!inst) {
      return tl::unexpected(inst.error());
    }
    auto ok = attach ? s.attach(*name, *inst, Origin::kApi) : s.detach(*name, Origin::kApi);
    if (!ok) {
      return tl::unexpected(ok.error());
    }
    s.changed(c, (attach ? "device.attach " : "device.detach ") + *name + " " + *inst);
    return s.device_json(*name, false);
  };
  d.add("device.attach", [change](const Json& p, const Caller& c) { return change(p, c, true); });
  d.add("device.detach", [change](const Json& p, const Caller& c) { return change(p, c, false); });
  d.add("device.set_link", [&s](const Json& p, const Caller& c) -> Outcome<Json> {
    auto name = name_of(p, {"name", "up"});
    if (!name) {
      return tl::unexpected(name.error());
    }
    auto up = Params(p).boolean("up");
    if (!up) {
      return tl::unexpected(up.error());
    }
    if (auto ok = s.set_link(*name, *up, Origin::kApi); !ok) {
      return tl::unexpected(ok.error());
    }
    s.changed(c, "device.set_link " + *name + (*up ? " up" : " down"));
    return s.device_json(*name, false);
  });
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// device.create/delete/list/show/attach/detach/set_link.
#include "daemon/methods.h"
#include "daemon/service.h"
#include "rpc/params.h"

namespace avm {

using rpc::Caller;
using rpc::Json;
using rpc::Outcome;
using rpc::Params;

namespace {

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
    auto spec = spec_params(p, device_fields());
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

// SPDX-License-Identifier: GPL-2.0
// instance.create/delete/list/show, instance.qemu_args/libvirt_xml.
#include "daemon/methods.h"
#include "daemon/service.h"
#include "generate/generate.h"
#include "rpc/params.h"

namespace avm {

using rpc::Caller;
using rpc::Json;
using rpc::Outcome;
using rpc::Params;

namespace {

Outcome<Json> create(Service& s, const Json& params, const Caller& caller) {
  auto spec = spec_params(params, instance_fields());
  if (!spec) {
    return tl::unexpected(spec.error());
  }
  if (auto ok = s.create_instance(*spec); !ok) {
    return tl::unexpected(ok.error());
  }
  s.changed(caller, "instance.create " + spec->name);
  return s.instance_json(spec->name, false);
}

Outcome<Json> remove(Service& s, const Json& params, const Caller& caller) {
  Params p(params);
  if (auto ok = p.only({"name", "force"}); !ok) {
    return tl::unexpected(ok.error());
  }
  auto name = name_param(p, "name");
  if (!name) {
    return tl::unexpected(name.error());
  }
  auto force = p.opt_bool("force");
  if (!force) {
    return tl::unexpected(force.error());
  }
  if (auto ok = s.delete_instance(*name, force->value_or(false), Origin::kApi); !ok) {
    return tl::unexpected(ok.error());
  }
  s.changed(caller, "instance.delete " + *name);
  return Json::object();
}

Outcome<std::string> name_only(const Json& params) {
  Params p(params);
  if (auto ok = p.only({"name"}); !ok) {
    return tl::unexpected(ok.error());
  }
  return name_param(p, "name");
}

Outcome<generate::InstanceShape> shape(Service& s, const Json& params) {
  auto name = name_only(params);
  if (!name) {
    return tl::unexpected(name.error());
  }
  auto spec = s.instance_spec(*name);
  if (!spec) {
    return tl::unexpected(spec.error());
  }
  return generate::InstanceShape{spec->name, spec->socket, spec->region_size, spec->vectors};
}

}  // namespace

void add_instance_methods(rpc::Dispatcher& d, Service& s) {
  d.add("instance.create", [&s](const Json& p, const Caller& c) { return create(s, p, c); });
  d.add("instance.delete", [&s](const Json& p, const Caller& c) { return remove(s, p, c); });
  d.add("instance.list", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    if (auto ok = Params(p).only({}); !ok) {
      return tl::unexpected(ok.error());
    }
    Json list = Json::array();
    for (const std::string& name : s.instance_names()) {
      list.push_back(*s.instance_json(name, false));
    }
    return Json{{"instances", list}};
  });
  d.add("instance.show", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto name = name_only(p);
    if (!name) {
      return tl::unexpected(name.error());
    }
    return s.instance_json(*name, true);
  });
  d.add("instance.qemu_args", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto sh = shape(s, p);
    if (!sh) {
      return tl::unexpected(sh.error());
    }
    return Json{{"args", generate::qemu_args(*sh)}};
  });
  d.add("instance.libvirt_xml", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto sh = shape(s, p);
    if (!sh) {
      return tl::unexpected(sh.error());
    }
    return Json{{"xml", generate::libvirt_shmem_xml(*sh)}};
  });
}

}  // namespace avm

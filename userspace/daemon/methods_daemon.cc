// SPDX-License-Identifier: GPL-2.0
// ping, version, stats, daemon.reload.
#include <linux/vbus.h>

#include "daemon/methods.h"
#include "daemon/names.h"
#include "daemon/service.h"
#include "rpc/params.h"

namespace avm {

using rpc::Caller;
using rpc::Json;
using rpc::Outcome;
using rpc::Params;

rpc::Outcome<std::optional<std::string>> instance_filter(const Json& params) {
  Params p(params);
  if (auto ok = p.only({"instance"}); !ok) {
    return tl::unexpected(ok.error());
  }
  auto inst = p.opt_string("instance");
  if (inst && *inst) {
    if (auto why = name_problem(**inst); !why.empty()) {
      return rpc::bad_param("instance", why);
    }
  }
  return inst;
}

Outcome<std::string> name_param(const Params& p, const char* key) {
  auto v = p.string(key);
  if (v) {
    if (auto why = name_problem(*v); !why.empty()) {
      return rpc::bad_param(key, why);
    }
  }
  return v;
}

void add_daemon_methods(rpc::Dispatcher& d, Service& s) {
  d.add("ping", [](const Json&, const Caller&) -> Outcome<Json> { return Json{{"pong", true}}; });
  d.add("version", [](const Json&, const Caller&) -> Outcome<Json> {
    return Json{{"version", AVM_VERSION_STRING},
                {"abi", std::to_string(VBUS_ABI_MAJOR) + "." + std::to_string(VBUS_ABI_MINOR)}};
  });
  d.add("stats", [&s](const Json& p, const Caller&) -> Outcome<Json> {
    auto inst = instance_filter(p);
    if (!inst) {
      return tl::unexpected(inst.error());
    }
    return s.stats(*inst);
  });
  d.add("daemon.reload", [&s](const Json& p, const Caller& c) -> Outcome<Json> {
    if (auto ok = Params(p).only({}); !ok) {
      return tl::unexpected(ok.error());
    }
    auto r = s.reload();
    if (r) {
      s.changed(c, "daemon.reload");
    }
    return r;
  });
}

}  // namespace avm

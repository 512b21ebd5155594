// SPDX-License-Identifier: GPL-2.0
// The params of instance.create and device.create, read through the field
// tables (spec_fields.h).
#include <algorithm>

#include "daemon/methods.h"

namespace avm {

template <class S>
rpc::Outcome<S> spec_params(const rpc::Json& params, const std::vector<Field<S>>& fields) {
  rpc::Params p(params);
  // No structured binding: clang-14 cannot capture one in a lambda.
  for (const auto& item : params.items()) {
    const std::string& key = item.key();
    if (std::none_of(fields.begin(), fields.end(),
                     [&key](const Field<S>& f) { return f.info.name == key; })) {
      return rpc::bad_param(key, "unknown parameter");
    }
  }
  auto name = name_param(p, "name");
  if (!name) {
    return tl::unexpected(name.error());
  }
  S s;
  s.origin = Origin::kApi;
  for (const Field<S>& f : fields) {
    const std::string key(f.info.name);
    if (!p.has(key.c_str())) {
      continue;
    }
    if (auto why = set_field(s, f, p.raw(key.c_str())); !why.empty()) {
      return rpc::bad_param(key, why);
    }
  }
  return s;
}

template rpc::Outcome<InstanceSpec> spec_params(const rpc::Json&,
                                                const std::vector<Field<InstanceSpec>>&);
template rpc::Outcome<DeviceSpec> spec_params(const rpc::Json&,
                                              const std::vector<Field<DeviceSpec>>&);

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/venet_option.h"

#include <set>

#include "daemon/spec_fields.h"

namespace avm {

namespace {

const Field<DeviceSpec>* legacy_field(std::string_view key) {
  for (const Field<DeviceSpec>& f : device_fields()) {
    if (!f.info.legacy_key.empty() && f.info.legacy_key == key) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace

Result<DeviceSpec> parse_venet_option(std::string_view text) {
  DeviceSpec out;
  out.name = "default-net0";
  out.instance = "default";
  out.backend = "user";
  out.origin = Origin::kLegacy;
  out.mac = VenetConfig{}.mac;
  std::set<std::string, std::less<>> seen;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error(EINVAL, "venet: expected key=value, got '" + std::string(item) + "'");
    }
    const std::string key(item.substr(0, eq));
    const std::string_view v = item.substr(eq + 1);
    if (!seen.insert(key).second) {
      return make_error(EINVAL, "venet: " + key + " given twice");
    }
    const Field<DeviceSpec>* f = legacy_field(key);
    if (f == nullptr) {
      return make_error(EINVAL, "venet: unknown key '" + key + "'");
    }
    if (auto why = set_field(out, *f, field_json_from_text(f->info, v)); !why.empty()) {
      std::string what = "venet ";
      what.append(key).append("=").append(v).append(": ").append(why);
      return make_error(EINVAL, what);
    }
  }
  if (out.tap.empty()) {
    return make_error(EINVAL, "venet: tap=NAME is required");
  }
  if (auto why = check(out); !why.empty()) {
    return make_error(EINVAL, "venet " + why.front());
  }
  return out;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// One field table per spec object (spec.h): each field's key, member,
// type, range, allowed values and help.  The config file (config.cc), the
// JSON-RPC params (methods_*.cc), state.json (state_store.cc), the legacy
// --venet option (venet_option.cc), avmctl's flags and completion, and the
// docs test all read these tables; a field's default is its member's
// initializer in spec.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/spec.h"

namespace avm {

enum class FieldType {
  kString,     // a string
  kOptString,  // a string; null or "" = unset
  kUint,       // an integer in [min, max]
  kBytes,      // an integer or a size like "4M" or "16MiB" (size.h), in [min, max]
  kBool,       // true or false
  kUpDown,     // "up" or "down" (a bool member: up = true)
  kMac,        // "52:54:00:12:34:56" (mac.h); null or "" = unset
};

struct FieldInfo {
  std::string_view name;  // config key, API param, state.json key; avmctl's --flag
  FieldType type = FieldType::kString;
  uint64_t min = 0;
  uint64_t max = 0;
  std::string_view choices;     // allowed values, space-separated ("" = any)
  std::string_view help;        // one line
  std::string_view legacy_key;  // its key in --venet ("" = not there)
};

template <class S>
using FieldMember = std::variant<std::string S::*, std::optional<std::string> S::*, unsigned S::*,
                                 uint64_t S::*, bool S::*, std::optional<MacAddress> S::*>;

template <class S>
struct Field {
  FieldInfo info;
  FieldMember<S> member;
};

const std::vector<Field<DaemonSettings>>& daemon_fields();    // [daemon]
const std::vector<Field<MetricsSettings>>& metrics_fields();  // [metrics]
const std::vector<Field<InstanceSpec>>& instance_fields();    // [[instance]], instance.create
const std::vector<Field<DeviceSpec>>& device_fields();        // [[device]], device.create

// Sets @f of @s from @v; "" if done, else what is wrong with @v, e.g.
// "must be 68..65535" (the same words for every source).
template <class S>
std::string set_field(S& s, const Field<S>& f, const nlohmann::json& v);
// @f of @s as set_field takes it back (state.json, the docs' defaults).
template <class S>
nlohmann::json get_field(const S& s, const Field<S>& f);
// A value written as text (--venet, avmctl's flags) as JSON: a number for
// an integer field when it is one, true/false for a bool, else the text.
nlohmann::json field_json_from_text(const FieldInfo& f, std::string_view text);
// @f's allowed values, split from FieldInfo::choices (none: any).
std::vector<std::string> field_choices(const FieldInfo& f);
// The default as people write it ("" when unset by default).
std::string field_text(const nlohmann::json& v);

// Adds "KEY: why" for every field of @s out of its range or choices
// (what set_field would have refused), for specs built in code.
template <class S>
void add_field_problems(const S& s, const std::vector<Field<S>>& fields,
                        std::vector<std::string>& out);

// Every table as JSON: {"daemon": [{name, type, min, max, choices,
// default, help, legacy_key}...], "metrics": ..., "instance": ...,
// "device": ...} (avmctl --fields; the docs test reads it).
nlohmann::json fields_json();

}  // namespace avm

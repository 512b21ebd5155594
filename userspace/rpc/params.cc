// SPDX-License-Identifier: GPL-2.0
#include "rpc/params.h"

#include <algorithm>

namespace avm::rpc {

Outcome<void> Params::only(std::initializer_list<const char*> allowed) const {
  // No structured binding here: clang-14 (fuzz build, clang-tidy) cannot
  // capture one in a lambda.
  for (const auto& item : p_.items()) {
    const std::string& key = item.key();
    if (std::none_of(allowed.begin(), allowed.end(), [&key](const char* a) { return key == a; })) {
      return bad_param(key, "unknown parameter");
    }
  }
  return {};
}

Outcome<std::optional<std::string>> Params::opt_string(const char* key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const Json& v = p_.at(key);
  if (!v.is_string()) {
    return bad_param(key, "must be a string");
  }
  return v.get<std::string>();
}

Outcome<std::string> Params::string(const char* key) const {
  auto v = opt_string(key);
  if (!v) {
    return tl::unexpected(v.error());
  }
  if (!*v) {
    return bad_param(key, "missing");
  }
  return **v;
}

Outcome<std::optional<uint64_t>> Params::opt_uint(const char* key, uint64_t min,
                                                  uint64_t max) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const Json& v = p_.at(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return bad_param(key, "must be a non-negative integer");
  }
  const auto n = v.get<uint64_t>();
  if (n < min || n > max) {
    return bad_param(key, "must be " + std::to_string(min) + ".." + std::to_string(max));
  }
  return n;
}

Outcome<std::optional<bool>> Params::opt_bool(const char* key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const Json& v = p_.at(key);
  if (!v.is_boolean()) {
    return bad_param(key, "must be true or false");
  }
  return v.get<bool>();
}

Outcome<bool> Params::boolean(const char* key) const {
  auto v = opt_bool(key);
  if (!v) {
    return tl::unexpected(v.error());
  }
  if (!*v) {
    return bad_param(key, "missing");
  }
  return **v;
}

}  // namespace avm::rpc

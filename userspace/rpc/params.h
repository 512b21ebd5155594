// SPDX-License-Identifier: GPL-2.0
// Typed access to a request's by-name params, with -32602 errors that
// name the parameter (data.param).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "rpc/protocol.h"

namespace avm::rpc {

class Params {
 public:
  explicit Params(const Json& params) : p_(params) {}

  // Every key not in @allowed is an error.
  Outcome<void> only(std::initializer_list<const char*> allowed) const;

  Outcome<std::string> string(const char* key) const;  // required
  Outcome<std::optional<std::string>> opt_string(const char* key) const;
  Outcome<std::optional<uint64_t>> opt_uint(const char* key, uint64_t min, uint64_t max) const;
  Outcome<std::optional<bool>> opt_bool(const char* key) const;
  Outcome<bool> boolean(const char* key) const;  // required
  bool has(const char* key) const { return p_.contains(key) && !p_.at(key).is_null(); }
  const Json& raw(const char* key) const { return p_.at(key); }

 private:
  const Json& p_;
};

}  // namespace avm::rpc

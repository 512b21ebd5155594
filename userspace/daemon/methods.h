// SPDX-License-Identifier: GPL-2.0
// The JSON-RPC methods of docs/control-api.md, registered on a
// dispatcher; each file adds one group (instance, device, daemon).
#pragma once

#include <optional>
#include <string>

#include "daemon/spec_fields.h"
#include "rpc/dispatcher.h"
#include "rpc/params.h"

namespace avm {

class Service;

void add_instance_methods(rpc::Dispatcher& d, Service& s);
void add_device_methods(rpc::Dispatcher& d, Service& s);
void add_daemon_methods(rpc::Dispatcher& d, Service& s);

// The only param of device.list and stats: an optional "instance".
rpc::Outcome<std::optional<std::string>> instance_filter(const rpc::Json& params);
// A required instance or device name: -32602 naming @key unless it is
// one (names.h), also where it is only looked up.
rpc::Outcome<std::string> name_param(const rpc::Params& p, const char* key);
// The spec (origin kApi) of instance.create or device.create: every param
// a field of @fields (spec_fields.h), "name" required; -32602 naming the
// first param that is unknown or that the table refuses, in its words.
template <class S>
rpc::Outcome<S> spec_params(const rpc::Json& params, const std::vector<Field<S>>& fields);

inline void add_methods(rpc::Dispatcher& d, Service& s) {
  add_instance_methods(d, s);
  add_device_methods(d, s);
  add_daemon_methods(d, s);
}

}  // namespace avm

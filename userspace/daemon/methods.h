// SPDX-License-Identifier: GPL-2.0
// The JSON-RPC methods of docs/control-api.md, registered on a
// dispatcher; each file adds one group (instance, device, daemon).
#pragma once

#include <optional>
#include <string>

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

inline void add_methods(rpc::Dispatcher& d, Service& s) {
  add_instance_methods(d, s);
  add_device_methods(d, s);
  add_daemon_methods(d, s);
}

}  // namespace avm

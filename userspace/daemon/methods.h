// SPDX-License-Identifier: GPL-2.0
// The JSON-RPC methods of docs/control-api.md, registered on a
// dispatcher; each file adds one group (instance, device, daemon).
#pragma once

#include <optional>
#include <string>

#include "rpc/dispatcher.h"

namespace avm {

class Service;

void add_instance_methods(rpc::Dispatcher& d, Service& s);
void add_device_methods(rpc::Dispatcher& d, Service& s);
void add_daemon_methods(rpc::Dispatcher& d, Service& s);

// The only param of device.list and stats: an optional "instance".
rpc::Outcome<std::optional<std::string>> instance_filter(const rpc::Json& params);

inline void add_methods(rpc::Dispatcher& d, Service& s) {
  add_instance_methods(d, s);
  add_device_methods(d, s);
  add_daemon_methods(d, s);
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// Fuzz target: JSON-RPC request handling (rpc/protocol, rpc/dispatcher,
// rpc/params and the daemon's methods) as the control socket runs it: every
// input line goes to the real avm::Service's dispatcher, whose methods act
// on a service holding one read-only config instance ("vm1").
//
// Kept off the host: lines whose method would create a TAP or re-read the
// config file (device.create, device.attach, daemon.reload), and
// instance.create with an explicit "socket" (it could put a socket file
// anywhere), are not sent.  API instances are created in a private
// temporary run directory and deleted after every input.
//
// Invariants, per line:
//   - a response is missing only for a notification (an object without
//     "id" that parsed as a request);
//   - a response is one '\n'-terminated line of valid JSON: jsonrpc "2.0",
//     an id (the request's when it was readable), exactly one of result
//     and error, an error code from the contract of docs/control-api.md
//     and a string message;
//   - the config instance survives everything (deleting it is -32005), and
//     there are never more instances than max_instances.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "daemon/service.h"
#include "fuzz_util.h"
#include "rpc/protocol.h"

namespace {

using avm::rpc::Json;

constexpr unsigned kMaxInstances = 3;

// The private run directory, removed at exit.
std::string& run_dir() {
  static std::string dir;
  return dir;
}
void remove_run_dir() {
  std::error_code ec;
  std::filesystem::remove_all(run_dir(), ec);
}
constexpr size_t kMaxLines = 16;

const std::set<int>& contract_codes() {
  static const std::set<int> codes = {-32700, -32600, -32601, -32602, -32603, -32000,
                                      -32001, -32002, -32003, -32004, -32005};
  return codes;
}

avm::Service& service() {
  static avm::Service* s = [] {
    char tmpl[] = "/tmp/avm-rpc-fuzz-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    FUZZ_CHECK(dir != nullptr);
    run_dir() = dir;
    FUZZ_CHECK(std::atexit(remove_run_dir) == 0);
    avm::ServiceOptions o;
    o.control = false;
    o.persist = false;
    o.config.daemon.control_socket = std::string(dir) + "/control.sock";
    o.config.daemon.state_dir = std::string(dir) + "/state";
    o.config.daemon.max_instances = kMaxInstances;
    o.config.daemon.max_region_size = uint64_t{8} << 20;
    auto* svc = new avm::Service(std::move(o));  // lives for the whole run
    avm::InstanceSpec vm1;
    vm1.name = "vm1";
    vm1.region_size = uint64_t{1} << 20;
    vm1.origin = avm::Origin::kConfig;
    FUZZ_CHECK(svc->create_instance(vm1).has_value());
    return svc;
  }();
  return *s;
}

// Whether @line may be sent (see the top of the file).
bool allowed(std::string_view line) {
  const Json j = Json::parse(line, nullptr, false);
  if (!j.is_object()) {
    return true;
  }
  auto m = j.find("method");
  if (m == j.end() || !m->is_string()) {
    return true;
  }
  const auto method = m->get<std::string>();
  if (method == "device.create" || method == "device.attach" || method == "daemon.reload") {
    return false;
  }
  if (method == "instance.create") {
    auto p = j.find("params");
    return p == j.end() || !p->is_object() || !p->contains("socket");
  }
  return true;
}

void check_response(std::string_view line, const std::optional<std::string>& resp) {
  const Json req = Json::parse(line, nullptr, false);
  if (!resp) {
    FUZZ_CHECK(req.is_object() && !req.contains("id"));
    return;
  }
  FUZZ_CHECK(!resp->empty() && resp->back() == '\n');
  FUZZ_CHECK(resp->find('\n') == resp->size() - 1);
  const Json r = Json::parse(*resp, nullptr, false);
  FUZZ_CHECK(r.is_object());
  FUZZ_CHECK(r.contains("jsonrpc") && r["jsonrpc"] == "2.0");
  FUZZ_CHECK(r.contains("id"));
  FUZZ_CHECK(r.contains("result") != r.contains("error"));
  if (r.contains("error")) {
    const Json& e = r["error"];
    FUZZ_CHECK(e.is_object() && e.contains("code") && e["code"].is_number_integer());
    FUZZ_CHECK(contract_codes().contains(e["code"].get<int>()));
    FUZZ_CHECK(e.contains("message") && e["message"].is_string());
  }
  // A readable id comes back unchanged.
  if (req.is_object() && req.contains("id")) {
    const Json& id = req["id"];
    if (id.is_null() || id.is_string() || id.is_number_integer()) {
      FUZZ_CHECK(r["id"] == id);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // The service logs every call; thousands of lines a second help nobody.
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  avm::Service& s = service();
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: bytes
  const avm::rpc::Caller caller{1, 0, 0};
  size_t start = 0;
  for (size_t n = 0; n < kMaxLines && start <= text.size(); n++) {
    const size_t nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (!allowed(line)) {
      continue;
    }
    const auto resp = s.dispatcher().handle_line(line, caller);
    check_response(line, resp);
    const auto names = s.instance_names();
    FUZZ_CHECK(names.size() <= kMaxInstances);
    FUZZ_CHECK(s.instance("vm1") != nullptr);
  }
  // Back to the starting state: only the config instance.
  for (const std::string& name : s.instance_names()) {
    if (name != "vm1") {
      FUZZ_CHECK(s.delete_instance(name, true, avm::Origin::kApi).has_value());
    }
  }
  return 0;
}

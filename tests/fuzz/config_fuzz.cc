// SPDX-License-Identifier: GPL-2.0
// Fuzz target: the configuration file parser (daemon/config, toml++) and
// the spec rules it applies (daemon/spec).  The input is the text of
// alacrityvmd.conf.
//
// Invariants:
//   - parse_config() returns (never throws, never crashes) and is
//     deterministic: the same text gives the same errors;
//   - every error names the file first ("fuzz.conf:LINE:COLUMN: KEY: ..."
//     or "fuzz.conf: ...");
//   - an accepted file obeys every rule of docs/control-api.md, re-checked
//     here independently: names valid and unique (instances, devices),
//     each spec passes check(), a device's instance exists and has a free
//     doorbell vector for it, the instance and device limits hold.
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "daemon/config.h"
#include "daemon/spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: bytes
  const avm::ConfigResult r = avm::parse_config(text, "fuzz.conf");
  const avm::ConfigResult again = avm::parse_config(text, "fuzz.conf");
  FUZZ_CHECK(r.errors == again.errors);
  for (const std::string& e : r.errors) {
    FUZZ_CHECK(e.starts_with("fuzz.conf:"));
  }
  if (!r.ok()) {
    return 0;
  }
  const avm::Config& c = r.config;
  FUZZ_CHECK(c.instances.size() <= c.daemon.max_instances);
  FUZZ_CHECK(c.devices.size() <= c.daemon.max_devices);
  std::map<std::string, unsigned> vectors;
  for (const avm::InstanceSpec& i : c.instances) {
    FUZZ_CHECK(avm::valid_name(i.name));
    FUZZ_CHECK(avm::check(i, c.daemon).empty());
    FUZZ_CHECK(i.vectors >= 1 && i.vectors <= avm::kMaxVectors);
    FUZZ_CHECK(i.region_size >= avm::kMinRegionSize && i.region_size <= c.daemon.max_region_size);
    FUZZ_CHECK((i.region_size & (i.region_size - 1)) == 0);
    FUZZ_CHECK(vectors.emplace(i.name, i.vectors).second);  // unique
  }
  std::set<std::string> devices;
  std::map<std::string, unsigned> used;
  for (const avm::DeviceSpec& d : c.devices) {
    FUZZ_CHECK(avm::valid_name(d.name));
    FUZZ_CHECK(avm::check(d).empty());
    FUZZ_CHECK(d.mtu >= 68 && d.mtu <= 65535);
    FUZZ_CHECK(devices.insert(d.name).second);  // unique
    if (d.instance) {
      auto it = vectors.find(*d.instance);
      FUZZ_CHECK(it != vectors.end());
      // Vector 0 is the bridge's; one more per attached device.
      FUZZ_CHECK(++used[*d.instance] + 1 <= it->second);
    }
  }
  return 0;
}

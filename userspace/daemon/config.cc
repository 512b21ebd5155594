// SPDX-License-Identifier: GPL-2.0
#include "daemon/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "daemon/names.h"
#include "daemon/venet_option.h"
#include "lib/error.h"

namespace avm {

namespace {

// Reads one table's keys into typed fields, collecting errors.
class Reader {
 public:
  Reader(const std::string& file, std::vector<std::string>& errors)
      : file_(file), errors_(errors) {}

  void error(const toml::source_region& at, const std::string& key, const std::string& msg) {
    errors_.push_back(
        fmt::format("{}:{}:{}: {}: {}", file_, at.begin.line, at.begin.column, key, msg));
  }

  // @why (names.h's answer) about @key of @t, if it says anything.
  void problem(const toml::table& t, const std::string& prefix, const char* key,
               const std::string& why) {
    if (!why.empty()) {
      const toml::node* n = t.get(key);
      error(n != nullptr ? n->source() : t.source(), prefix + key, why);
    }
  }

  // Every key of @t that is not in @known is an error.
  void only(const toml::table& t, const std::string& prefix, const std::set<std::string>& known) {
    for (const auto& [k, v] : t) {
      if (!known.contains(std::string(k.str()))) {
        error(k.source(), prefix + std::string(k.str()), "unknown key");
      }
    }
  }

  void str(const toml::table& t, const std::string& prefix, const char* key, std::string& out) {
    if (const toml::node* n = t.get(key)) {
      if (auto v = n->value<std::string>(); v && n->is_string()) {
        out = *v;
      } else {
        error(n->source(), prefix + key, "must be a string");
      }
    }
  }

  void opt_str(const toml::table& t, const std::string& prefix, const char* key,
               std::optional<std::string>& out) {
    if (t.get(key) != nullptr) {
      std::string s;
      str(t, prefix, key, s);
      out = s;
    }
  }

  template <class T>
  void uint(const toml::table& t, const std::string& prefix, const char* key, T& out, uint64_t min,
            uint64_t max) {
    if (const toml::node* n = t.get(key)) {
      // is_integer() first: value<int64_t>() of a float casts it, which
      // is undefined for one out of range (toml++; found by config_fuzz).
      auto v = n->is_integer() ? n->value<int64_t>() : std::nullopt;
      if (!v) {
        error(n->source(), prefix + key, "must be an integer");
      } else if (*v < 0 || static_cast<uint64_t>(*v) < min || static_cast<uint64_t>(*v) > max) {
        error(n->source(), prefix + key, fmt::format("must be {}..{}", min, max));
      } else {
        out = static_cast<T>(*v);
      }
    }
  }

  void boolean(const toml::table& t, const std::string& prefix, const char* key, bool& out) {
    if (const toml::node* n = t.get(key)) {
      if (!n->is_boolean()) {
        error(n->source(), prefix + key, "must be true or false");
      } else {
        out = *n->value<bool>();
      }
    }
  }

  // An integer of bytes or a string like "4M".
  void bytes(const toml::table& t, const std::string& prefix, const char* key, uint64_t& out) {
    if (const toml::node* n = t.get(key)) {
      if (n->is_integer() && *n->value<int64_t>() >= 0) {
        out = static_cast<uint64_t>(*n->value<int64_t>());
      } else if (auto b = n->is_string() ? parse_bytes(*n->value<std::string>()) : std::nullopt) {
        out = *b;
      } else {
        error(n->source(), prefix + key, "must be bytes: an integer or \"4M\", \"1G\"");
      }
    }
  }

 private:
  const std::string& file_;
  std::vector<std::string>& errors_;
};

void read_daemon(Reader& r, const toml::table& t, DaemonSettings& d) {
  const std::string p = "daemon.";
  r.only(t, p,
         {"control_socket", "control_group", "state_dir", "log_level", "max_instances",
          "max_devices", "max_region_size", "max_request_bytes", "max_connections"});
  r.str(t, p, "control_socket", d.control_socket);
  r.str(t, p, "control_group", d.control_group);
  r.str(t, p, "state_dir", d.state_dir);
  r.str(t, p, "log_level", d.log_level);
  constexpr uint64_t kMaxCount = 65536;
  constexpr uint64_t kMinRequest = 1024;
  constexpr uint64_t kMaxRequest = uint64_t{16} << 20;
  r.uint(t, p, "max_instances", d.max_instances, 0, kMaxCount);
  r.uint(t, p, "max_devices", d.max_devices, 0, kMaxCount);
  r.bytes(t, p, "max_region_size", d.max_region_size);
  r.uint(t, p, "max_request_bytes", d.max_request_bytes, kMinRequest, kMaxRequest);
  r.uint(t, p, "max_connections", d.max_connections, 1, kMaxCount);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(d.log_level)) {
    r.error(t.get("log_level")->source(), p + "log_level",
            "must be trace, debug, info, warn or error");
  }
  r.problem(t, p, "control_socket", path_problem(d.control_socket, kMaxSocketPath));
  r.problem(t, p, "control_group", text_problem(d.control_group));
  r.problem(t, p, "state_dir", path_problem(d.state_dir));
}

void read_metrics(Reader& r, const toml::table& t, MetricsSettings& m) {
  const std::string p = "metrics.";
  r.only(t, p, {"enabled", "listen"});
  r.boolean(t, p, "enabled", m.enabled);
  r.str(t, p, "listen", m.listen);
  constexpr std::string_view kUnix = "unix:";
  r.problem(t, p, "listen",
            m.listen.starts_with(kUnix)
                ? path_problem(std::string_view(m.listen).substr(kUnix.size()), kMaxSocketPath)
                : text_problem(m.listen));
}

InstanceSpec read_instance(Reader& r, const toml::table& t, const std::string& p) {
  InstanceSpec s;
  s.origin = Origin::kConfig;
  r.only(t, p, {"name", "socket", "region_size", "vectors"});
  r.str(t, p, "name", s.name);
  r.str(t, p, "socket", s.socket);
  r.bytes(t, p, "region_size", s.region_size);
  r.uint(t, p, "vectors", s.vectors, 1, kMaxVectors);
  if (t.get("name") == nullptr) {
    r.error(t.source(), p + "name", "missing");
  }
  return s;
}

DeviceSpec read_device(Reader& r, const toml::table& t, const std::string& p) {
  DeviceSpec s;
  s.origin = Origin::kConfig;
  r.only(t, p,
         {"name", "type", "instance", "tap", "bridge", "netns", "mac", "mtu", "queues", "backend",
          "link"});
  r.str(t, p, "name", s.name);
  r.str(t, p, "type", s.type);
  r.opt_str(t, p, "instance", s.instance);
  r.str(t, p, "tap", s.tap);
  r.opt_str(t, p, "bridge", s.bridge);
  r.opt_str(t, p, "netns", s.netns);
  constexpr uint64_t kMaxMtu = 65535;
  r.uint(t, p, "mtu", s.mtu, 0, kMaxMtu);
  r.uint(t, p, "queues", s.queues, 0, kMaxMtu);
  r.str(t, p, "backend", s.backend);
  if (const toml::node* n = t.get("mac")) {
    auto mac = n->is_string() ? parse_mac(*n->value<std::string>()) : make_error(EINVAL, "");
    if (mac) {
      s.mac = *mac;
    } else {
      r.error(n->source(), p + "mac", "must be a MAC address like \"52:54:00:12:34:56\"");
    }
  }
  if (const toml::node* n = t.get("link")) {
    auto v = n->value<std::string>();
    if (n->is_string() && (*v == "up" || *v == "down")) {
      s.link_up = *v == "up";
    } else {
      r.error(n->source(), p + "link", "must be \"up\" or \"down\"");
    }
  }
  if (t.get("name") == nullptr) {
    r.error(t.source(), p + "name", "missing");
  }
  return s;
}

// Every error of a spec's own check(), each placed at the key it names.
// A table without a name has had its "name: missing".
void place(Reader& r, const toml::table& t, const std::string& p,
           const std::vector<std::string>& problems) {
  for (const std::string& problem : problems) {
    const std::string key = problem.substr(0, problem.find(':'));
    if (key == "name" && t.get("name") == nullptr) {
      continue;
    }
    r.problem(t, p, key.c_str(), problem.substr(problem.find(':') + 2));
  }
}

}  // namespace

ConfigResult parse_config(std::string_view text, const std::string& file) {
  ConfigResult out;
  out.config.file = file;
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    out.errors.push_back(fmt::format("{}:{}:{}: (syntax): {}", file, e.source().begin.line,
                                     e.source().begin.column, e.description()));
    return out;
  }
  Reader r(file, out.errors);
  Config& c = out.config;
  r.only(root, "", {"daemon", "metrics", "instance", "device"});
  auto table_at = [&](const char* key) -> const toml::table* {
    const toml::node* n = root.get(key);
    if (n == nullptr) {
      return nullptr;
    }
    if (!n->is_table()) {
      r.error(n->source(), key, "must be a table ([" + std::string(key) + "])");
      return nullptr;
    }
    return n->as_table();
  };
  if (const toml::table* t = table_at("daemon")) {
    read_daemon(r, *t, c.daemon);
  }
  if (const toml::table* t = table_at("metrics")) {
    read_metrics(r, *t, c.metrics);
  }
  // [[instance]] and [[device]]: arrays of tables.
  auto each = [&](const char* key, auto&& fn) {
    const toml::node* n = root.get(key);
    if (n == nullptr) {
      return;
    }
    const toml::array* a = n->as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
      r.error(n->source(), key, "must be an array of tables ([[" + std::string(key) + "]])");
      return;
    }
    for (size_t i = 0; i < a->size(); i++) {
      fn(*a->get(i)->as_table(), fmt::format("{}[{}].", key, i));
    }
  };
  std::map<std::string, const toml::table*> instance_at;
  std::map<std::string, unsigned> vectors_used;
  each("instance", [&](const toml::table& t, const std::string& p) {
    InstanceSpec s = read_instance(r, t, p);
    place(r, t, p, check(s, c.daemon));
    if (t.get("name") == nullptr) {
      return;
    }
    if (instance_at.contains(s.name)) {
      r.error(t.get("name")->source(), p + "name", "instance " + s.name + " is defined twice");
      return;
    }
    instance_at[s.name] = &t;
    c.instances.push_back(s);
  });
  std::set<std::string> device_names;
  each("device", [&](const toml::table& t, const std::string& p) {
    DeviceSpec s = read_device(r, t, p);
    place(r, t, p, check(s));
    if (t.get("name") == nullptr) {
      return;
    }
    if (!device_names.insert(s.name).second) {
      r.error(t.get("name")->source(), p + "name", "device " + s.name + " is defined twice");
      return;
    }
    if (s.instance) {
      auto it = std::find_if(c.instances.begin(), c.instances.end(),
                             [&](const InstanceSpec& i) { return i.name == *s.instance; });
      if (it == c.instances.end()) {
        r.error(t.get("instance")->source(), p + "instance",
                "no [[instance]] named " + *s.instance);
      } else if (++vectors_used[it->name] + 1 > it->vectors) {
        r.error(t.get("instance")->source(), p + "instance",
                fmt::format("instance {} has {} vectors: no free doorbell vector", it->name,
                            it->vectors));
      }
    }
    c.devices.push_back(s);
  });
  if (c.instances.size() > c.daemon.max_instances) {
    r.error(root.source(), "instance", "more instances than daemon.max_instances");
  }
  if (c.devices.size() > c.daemon.max_devices) {
    r.error(root.source(), "device", "more devices than daemon.max_devices");
  }
  return out;
}

ConfigResult load_config(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    ConfigResult out;
    out.errors.push_back(file + ": cannot read: " + errno_text(errno));
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file);
}

}  // namespace avm

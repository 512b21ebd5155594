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
#include "daemon/spec_fields.h"
#include "lib/error.h"

namespace avm {

namespace {

// A TOML value as the JSON value set_field() takes: arrays, tables, dates
// and times become an (always refused) object.
nlohmann::json json_of(const toml::node& n) {
  if (n.is_integer()) {
    return *n.value<int64_t>();
  }
  if (n.is_floating_point()) {
    return *n.value<double>();
  }
  if (n.is_string()) {
    return *n.value<std::string>();
  }
  if (n.is_boolean()) {
    return *n.value<bool>();
  }
  return nlohmann::json::object();
}

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

  // Every field of @fields that @t has, into @s.
  template <class S>
  void fields(const toml::table& t, const std::string& prefix, const std::vector<Field<S>>& fields,
              S& s) {
    for (const Field<S>& f : fields) {
      if (const toml::node* n = t.get(f.info.name)) {
        if (auto why = set_field(s, f, json_of(*n)); !why.empty()) {
          error(n->source(), prefix + std::string(f.info.name), why);
        }
      }
    }
  }

  // Every key of @t that is not a field of @fields is an error.
  template <class S>
  void only(const toml::table& t, const std::string& prefix, const std::vector<Field<S>>& fields) {
    std::set<std::string> known;
    for (const Field<S>& f : fields) {
      known.emplace(f.info.name);
    }
    only(t, prefix, known);
  }

 private:
  const std::string& file_;
  std::vector<std::string>& errors_;
};

void read_daemon(Reader& r, const toml::table& t, DaemonSettings& d) {
  const std::string p = "daemon.";
  r.only(t, p, daemon_fields());
  r.fields(t, p, daemon_fields(), d);
  r.problem(t, p, "control_socket", path_problem(d.control_socket, kMaxSocketPath));
  r.problem(t, p, "control_group", text_problem(d.control_group));
  r.problem(t, p, "socket_group", text_problem(d.socket_group));
  r.problem(t, p, "state_dir", path_problem(d.state_dir));
}

void read_metrics(Reader& r, const toml::table& t, MetricsSettings& m) {
  const std::string p = "metrics.";
  r.only(t, p, metrics_fields());
  r.fields(t, p, metrics_fields(), m);
  constexpr std::string_view kUnix = "unix:";
  r.problem(t, p, "listen",
            m.listen.starts_with(kUnix)
                ? path_problem(std::string_view(m.listen).substr(kUnix.size()), kMaxSocketPath)
                : text_problem(m.listen));
}

// One [[instance]] or [[device]] table.
template <class S>
S read_spec(Reader& r, const toml::table& t, const std::string& p,
            const std::vector<Field<S>>& fields) {
  S s;
  s.origin = Origin::kConfig;
  r.only(t, p, fields);
  r.fields(t, p, fields, s);
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
    InstanceSpec s = read_spec(r, t, p, instance_fields());
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
    DeviceSpec s = read_spec(r, t, p, device_fields());
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

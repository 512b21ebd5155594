// SPDX-License-Identifier: GPL-2.0
#include "avmctl/format.h"

#include <algorithm>

namespace avm::avmctl {

namespace {

using nlohmann::json;

const json& field(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object()) {
    return null;
  }
  const auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string guest_cell(const json& guest) {
  if (!guest.is_object()) {
    return cell(guest);
  }
  // The pid is null when the daemon could not learn it (SO_PEERCRED).
  const json& pid = field(guest, "pid");
  return "peer " + cell(field(guest, "peer")) + (pid.is_null() ? "" : " pid " + cell(pid));
}

std::string device_status(const json& dev) {
  if (field(dev, "quarantined") == true) {
    return "quarantined";
  }
  if (field(dev, "guest_open") == true) {
    return "open";
  }
  return field(dev, "guest_open") == false ? "closed" : "-";
}

// The backend serving the device, and the requested one when different:
// "kernel", "user (requested auto)".
std::string backend_cell(const json& dev) {
  const json& eff = field(dev, "backend");
  const json& req = field(dev, "backend_requested");
  if (!req.is_string() || req == eff) {
    return cell(eff);
  }
  return cell(eff) + " (requested " + req.get<std::string>() + ")";
}

// @text with every line indented by two spaces.
std::string indent(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    out += "  " + text.substr(pos, nl - pos) + "\n";
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

std::string details(const std::vector<Row>& rows, const json& obj) {
  std::string out = table({}, rows);
  const json& stats = field(obj, "stats");
  if (!stats.is_null()) {
    std::vector<Row> srows;
    flatten(stats, "", srows);
    out += "stats:\n" + indent(table({}, srows));
  }
  return out;
}

// Whether @s can go on a shell command line without quotes.
bool shell_safe(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_./,=:@%+").find(c) != std::string_view::npos;
  });
}

}  // namespace

std::string table(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (const Row& r : rows) {
    width.resize(std::max(width.size(), r.size()));
  }
  auto measure = [&](const Row& r) {
    for (size_t i = 0; i < r.size(); i++) {
      width[i] = std::max(width[i], r[i].size());
    }
  };
  measure(header);
  std::for_each(rows.begin(), rows.end(), measure);
  std::string out;
  auto emit = [&](const Row& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); i++) {
      line += r[i];
      if (i + 1 < r.size()) {
        line += std::string(width[i] - r[i].size() + 2, ' ');
      }
    }
    out += line + "\n";
  };
  if (!header.empty()) {
    emit(header);
  }
  std::for_each(rows.begin(), rows.end(), emit);
  return out;
}

std::string cell(const json& v) {
  if (v.is_null()) {
    return "-";
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return s.empty() ? "-" : s;
  }
  if (v.is_object() && v.empty()) {
    return "-";
  }
  if (v.is_array()) {
    if (v.empty()) {
      return "-";
    }
    std::string out;
    for (const json& e : v) {
      out += (out.empty() ? "" : ",") + cell(e);
    }
    return out;
  }
  return dump(v);
}

std::string size_cell(const json& v) {
  if (!v.is_number_unsigned() && !v.is_number_integer()) {
    return cell(v);
  }
  const auto n = v.get<uint64_t>();
  for (const auto& [shift, unit] : {std::pair{30, "G"}, std::pair{20, "M"}, std::pair{10, "K"}}) {
    if (n != 0 && n % (uint64_t{1} << shift) == 0) {
      return std::to_string(n >> shift) + unit;
    }
  }
  return std::to_string(n);
}

std::string instance_table(const json& instances) {
  std::vector<Row> rows;
  if (instances.is_array()) {
    for (const json& i : instances) {
      rows.push_back({cell(field(i, "name")), cell(field(i, "state")),
                      guest_cell(field(i, "guest")), size_cell(field(i, "region_size")),
                      cell(field(i, "vectors")), cell(field(i, "devices")),
                      cell(field(i, "origin")), cell(field(i, "socket"))});
    }
  }
  return table({"NAME", "STATE", "GUEST", "REGION", "VECTORS", "DEVICES", "ORIGIN", "SOCKET"},
               rows);
}

std::string device_table(const json& devices) {
  std::vector<Row> rows;
  if (devices.is_array()) {
    for (const json& d : devices) {
      rows.push_back({cell(field(d, "name")), cell(field(d, "type")), cell(field(d, "instance")),
                      cell(field(d, "link")), device_status(d), cell(field(d, "tap")),
                      cell(field(d, "bridge")), cell(field(d, "mac")), cell(field(d, "mtu")),
                      backend_cell(d), cell(field(d, "origin"))});
    }
  }
  return table({"NAME", "TYPE", "INSTANCE", "LINK", "GUEST", "TAP", "BRIDGE", "MAC", "MTU",
                "BACKEND", "ORIGIN"},
               rows);
}

std::string instance_details(const json& inst) {
  const std::vector<Row> rows = {
      {"name:", cell(field(inst, "name"))},
      {"origin:", cell(field(inst, "origin"))},
      {"state:", cell(field(inst, "state"))},
      {"guest:", guest_cell(field(inst, "guest"))},
      {"socket:", cell(field(inst, "socket"))},
      {"region_size:", size_cell(field(inst, "region_size"))},
      {"vectors:", cell(field(inst, "vectors"))},
      {"devices:", cell(field(inst, "devices"))},
  };
  return details(rows, inst);
}

std::string device_details(const json& dev) {
  const std::vector<Row> rows = {
      {"name:", cell(field(dev, "name"))},   {"origin:", cell(field(dev, "origin"))},
      {"type:", cell(field(dev, "type"))},   {"instance:", cell(field(dev, "instance"))},
      {"link:", cell(field(dev, "link"))},   {"guest:", device_status(dev)},
      {"tap:", cell(field(dev, "tap"))},     {"bridge:", cell(field(dev, "bridge"))},
      {"netns:", cell(field(dev, "netns"))}, {"mac:", cell(field(dev, "mac"))},
      {"mtu:", cell(field(dev, "mtu"))},     {"queues:", cell(field(dev, "queues"))},
      {"backend:", backend_cell(dev)},
  };
  std::vector<Row> all = rows;
  if (const json& note = field(dev, "backend_note"); note.is_string()) {
    all.push_back({"backend_note:", cell(note)});
  }
  return details(all, dev);
}

void flatten(const json& v, const std::string& prefix, std::vector<Row>& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [key, value] : v.items()) {
      std::string path = prefix;
      if (!path.empty()) {
        path += '.';
      }
      path += key;
      flatten(value, path, out);
    }
    return;
  }
  out.push_back({prefix.empty() ? "-" : prefix, cell(v)});
}

std::string stats_table(const json& stats) {
  std::vector<Row> rows;
  const json& instances = field(stats, "instances");
  if (instances.is_object()) {
    for (const auto& [name, inst] : instances.items()) {
      std::vector<Row> counters;
      flatten(field(inst, "bridge"), "", counters);
      for (Row& c : counters) {
        rows.push_back({name, "bridge", c[0], c[1]});
      }
      const json& devices = field(inst, "devices");
      if (devices.is_object()) {
        for (const auto& [dev, dstats] : devices.items()) {
          counters.clear();
          flatten(dstats, "", counters);
          for (Row& c : counters) {
            rows.push_back({name, dev, c[0], c[1]});
          }
        }
      }
    }
  }
  return table({"INSTANCE", "OBJECT", "COUNTER", "VALUE"}, rows);
}

std::string shell_line(const json& args) {
  std::string out;
  if (args.is_array()) {
    for (const json& a : args) {
      std::string s = a.is_string() ? a.get<std::string>() : dump(a);
      if (!shell_safe(s)) {
        std::string q = "'";
        for (const char c : s) {
          q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        s = q + "'";
      }
      out += (out.empty() ? "" : " ") + s;
    }
  }
  return out + "\n";
}

std::string reload_summary(const json& result) {
  std::vector<Row> rows;
  for (const char* key : {"added", "removed", "changed", "kept"}) {
    const json& v = field(result, key);
    std::string list;
    if (v.is_array()) {
      for (const json& e : v) {
        list += (list.empty() ? "" : ", ") + cell(e);
      }
    }
    rows.push_back({std::string(key) + ":", list.empty() ? "-" : list});
  }
  return table({}, rows);
}

}  // namespace avm::avmctl

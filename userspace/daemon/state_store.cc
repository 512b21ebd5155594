// SPDX-License-Identifier: GPL-2.0
#include "daemon/state_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "daemon/venet_option.h"
#include "lib/unique_fd.h"

namespace avm {

namespace {

using Json = nlohmann::json;

constexpr int kVersion = 1;

Json to_json(const InstanceSpec& s) {
  return {{"name", s.name},
          {"socket", s.socket},
          {"region_size", s.region_size},
          {"vectors", s.vectors}};
}

Json to_json(const DeviceSpec& s) {
  Json j = {{"name", s.name},       {"type", s.type},      {"tap", s.tap},
            {"mtu", s.mtu},         {"queues", s.queues},  {"backend", s.backend},
            {"link_up", s.link_up}, {"instance", nullptr}, {"bridge", nullptr},
            {"netns", nullptr},     {"mac", nullptr}};
  if (s.instance) {
    j["instance"] = *s.instance;
  }
  if (s.bridge) {
    j["bridge"] = *s.bridge;
  }
  if (s.netns) {
    j["netns"] = *s.netns;
  }
  if (s.mac) {
    j["mac"] = format_mac(*s.mac);
  }
  return j;
}

std::optional<std::string> opt(const Json& j, const char* key) {
  const Json& v = j.at(key);
  return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
}

// Throws nlohmann::json::exception on a missing key or a wrong type.
InstanceSpec instance_from(const Json& j) {
  InstanceSpec s;
  s.name = j.at("name").get<std::string>();
  s.socket = j.at("socket").get<std::string>();
  s.region_size = j.at("region_size").get<uint64_t>();
  s.vectors = j.at("vectors").get<unsigned>();
  return s;
}

Result<DeviceSpec> device_from(const Json& j) {
  DeviceSpec s;
  s.name = j.at("name").get<std::string>();
  s.type = j.at("type").get<std::string>();
  s.tap = j.at("tap").get<std::string>();
  s.mtu = j.at("mtu").get<unsigned>();
  s.queues = j.at("queues").get<unsigned>();
  s.backend = j.at("backend").get<std::string>();
  s.link_up = j.at("link_up").get<bool>();
  s.instance = opt(j, "instance");
  s.bridge = opt(j, "bridge");
  s.netns = opt(j, "netns");
  if (auto mac = opt(j, "mac")) {
    auto m = parse_mac(*mac);
    if (!m) {
      return tl::unexpected(m.error());
    }
    s.mac = *m;
  }
  return s;
}

Status write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("write");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<SavedState> StateStore::load() const {
  const std::string file = path();
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) {
      return SavedState{};
    }
    return errno_error(file);
  }
  std::string text;
  char buf[4096];  // NOLINT(cppcoreguidelines-avoid-c-arrays)
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(file);
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(EINVAL, file + ": corrupt: not a JSON object (move it away to start empty)");
  }
  SavedState out;
  const DaemonSettings no_limits{.max_region_size = ~uint64_t{0}};
  try {
    if (j.at("version").get<int>() != kVersion) {
      return make_error(EINVAL, file + ": unknown version");
    }
    for (const Json& i : j.at("instances")) {
      InstanceSpec s = instance_from(i);
      if (auto why = check(s, no_limits); !why.empty()) {
        return make_error(EINVAL,
                          fmt::format("{}: instance {}: {}", file, s.name, fmt::join(why, "; ")));
      }
      out.instances.push_back(std::move(s));
    }
    for (const Json& d : j.at("devices")) {
      auto s = device_from(d);
      if (!s) {
        return make_error(EINVAL, file + ": device: " + s.error().message);
      }
      if (auto why = check(*s); !why.empty()) {
        return make_error(EINVAL,
                          fmt::format("{}: device {}: {}", file, s->name, fmt::join(why, "; ")));
      }
      out.devices.push_back(std::move(*s));
    }
  } catch (const Json::exception& e) {
    return make_error(EINVAL, file + ": corrupt: " + e.what());
  }
  return out;
}

Status StateStore::save(const SavedState& state) const {
  if (::mkdir(dir_.c_str(), 0750) < 0 && errno != EEXIST) {
    return errno_error("mkdir " + dir_);
  }
  Json j = {{"version", kVersion}, {"instances", Json::array()}, {"devices", Json::array()}};
  for (const auto& i : state.instances) {
    j["instances"].push_back(to_json(i));
  }
  for (const auto& d : state.devices) {
    j["devices"].push_back(to_json(d));
  }
  const std::string text = j.dump(2) + "\n";
  const std::string tmp = path() + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd) {
      return errno_error("open " + tmp);
    }
    if (auto ok = write_all(fd.get(), text); !ok) {
      (void)::unlink(tmp.c_str());
      return make_error(ok.error().code, tmp + ": " + ok.error().message);
    }
    if (::fsync(fd.get()) < 0) {
      const int err = errno;
      (void)::unlink(tmp.c_str());
      return errno_error(err, "fsync " + tmp);
    }
  }
  if (::rename(tmp.c_str(), path().c_str()) < 0) {
    const int err = errno;
    (void)::unlink(tmp.c_str());
    return errno_error(err, "rename " + tmp);
  }
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir || ::fsync(dir.get()) < 0) {
    return errno_error("fsync " + dir_);
  }
  return {};
}

}  // namespace avm

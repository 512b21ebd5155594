// SPDX-License-Identifier: GPL-2.0
#include "daemon/state_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "daemon/spec_fields.h"
#include "lib/unique_fd.h"

namespace avm {

namespace {

using Json = nlohmann::json;

constexpr int kVersion = 1;

// Every field of the table (spec_fields.h); unset optional ones as null.
template <class S>
Json to_json(const S& s, const std::vector<Field<S>>& fields) {
  Json j = Json::object();
  for (const Field<S>& f : fields) {
    j[std::string(f.info.name)] = get_field(s, f);
  }
  return j;
}

// Fields missing from @j keep their defaults ("name" is required): files
// written before a field existed load as they did.
template <class S>
Result<S> from_json(const Json& j, const std::vector<Field<S>>& fields) {
  if (!j.is_object() || !j.contains("name")) {
    return make_error(EINVAL, "an entry without a name");
  }
  S s;
  for (const Field<S>& f : fields) {
    const std::string key(f.info.name);
    if (!j.contains(key)) {
      continue;
    }
    if (auto why = set_field(s, f, j.at(key)); !why.empty()) {
      std::string what = key;
      what.append(": ").append(why);
      return make_error(EINVAL, what);
    }
  }
  return s;
}

Result<DeviceSpec> device_from(const Json& j) {
  auto s = from_json(j, device_fields());
  // Before the field table, state.json had "link_up": true|false.
  if (s && !j.contains("link") && j.contains("link_up")) {
    const Json& up = j.at("link_up");
    if (!up.is_boolean()) {
      return make_error(EINVAL, "link_up: must be true or false");
    }
    s->link_up = up.get<bool>();
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
      auto s = from_json(i, instance_fields());
      if (!s) {
        return make_error(EINVAL, file + ": instance: " + s.error().message);
      }
      if (auto why = check(*s, no_limits); !why.empty()) {
        return make_error(EINVAL,
                          fmt::format("{}: instance {}: {}", file, s->name, fmt::join(why, "; ")));
      }
      out.instances.push_back(std::move(*s));
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
    j["instances"].push_back(to_json(i, instance_fields()));
  }
  for (const auto& d : state.devices) {
    j["devices"].push_back(to_json(d, device_fields()));
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

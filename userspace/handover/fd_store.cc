// SPDX-License-Identifier: GPL-2.0
#include "handover/fd_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace avm::handover {
namespace {

constexpr int kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

Status notify(const std::string& msg, const int* fds, unsigned n) {
  const int r = sd_pid_notify_with_fds(0, 0, msg.c_str(), fds, n);
  if (r < 0) {
    return errno_error(-r, "sd_notify " + msg.substr(0, msg.find('\n')));
  }
  if (r == 0) {
    return make_error(ENOTSUP, "not running under a service manager (no NOTIFY_SOCKET)");
  }
  return {};
}

}  // namespace

Result<UniqueFd> make_state_memfd(const nlohmann::json& state) {
  const std::string bytes = state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  UniqueFd fd(::memfd_create("avm-handover-state", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    return errno_error("memfd_create");
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error("write state memfd");
    }
    off += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, kAllSeals) < 0) {
    return errno_error("seal state memfd");
  }
  return fd;
}

Result<nlohmann::json> read_state_memfd(int fd, size_t max_bytes) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    return make_error(EINVAL, "state: not a memfd");
  }
  if ((seals & kAllSeals) != kAllSeals) {
    return make_error(EINVAL, "state: memfd is not sealed against changes");
  }
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    return errno_error("fstat state memfd");
  }
  if (st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(EINVAL, "state: " + std::to_string(st.st_size) + " bytes (1.." +
                                  std::to_string(max_bytes) + " allowed)");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error("read state memfd");
    }
    off += static_cast<size_t>(n);
  }
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(EINVAL, "state: not a JSON object");
  }
  return j;
}

Status fdstore_remove(std::string_view name) {
  if (auto ok = FdBundle::check_name(name); !ok) {
    return ok;
  }
  return notify("FDSTOREREMOVE=1\nFDNAME=" + std::string(name), nullptr, 0);
}

Status fdstore_save(const Package& p, std::string_view state_name) {
  if (auto ok = FdBundle::check_name(state_name); !ok) {
    return ok;
  }
  if (p.fds.contains(state_name)) {
    return make_error(EINVAL, "fd name '" + std::string(state_name) + "' is the state's");
  }
  // The state names the fds it goes with: a load takes exactly those.
  auto memfd = make_state_memfd({{"state", p.state}, {"fds", p.fds.names()}});
  if (!memfd) {
    return tl::unexpected(memfd.error());
  }
  // The old state first: a crash from here on leaves no state to adopt.
  if (auto ok = fdstore_remove(state_name); !ok) {
    return ok;
  }
  for (const auto& [name, fd] : p.fds.entries()) {
    if (auto ok = fdstore_remove(name); !ok) {
      return ok;
    }
    const int f = fd.get();
    if (auto ok = notify("FDSTORE=1\nFDNAME=" + name, &f, 1); !ok) {
      return ok;
    }
  }
  const int f = memfd->get();
  if (auto ok = notify("FDSTORE=1\nFDNAME=" + std::string(state_name), &f, 1); !ok) {
    return ok;
  }
  spdlog::info("fd store: state ({} fds) saved", p.fds.size());
  return {};
}

Result<FdStoreContents> fdstore_load(std::string_view state_name, size_t max_state_bytes) {
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) {
    return errno_error(-n, "sd_listen_fds_with_names");
  }
  // Own every fd (and the names) before anything can fail.
  std::vector<std::pair<std::string, UniqueFd>> got;
  for (int i = 0; i < n; i++) {
    const int fd = SD_LISTEN_FDS_START + i;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    got.emplace_back(names != nullptr && names[i] != nullptr ? names[i] : "", UniqueFd(fd));
  }
  if (names != nullptr) {
    for (int i = 0; i < n; i++) {
      std::free(names[i]);  // NOLINT: allocated by libsystemd
    }
    std::free(static_cast<void*>(names));  // NOLINT: allocated by libsystemd
  }

  FdStoreContents out;
  std::optional<nlohmann::json> saved;
  for (auto& [name, fd] : got) {
    if (name == state_name && fd) {
      auto j = read_state_memfd(fd.get(), max_state_bytes);
      if (!j) {
        return make_error(j.error().code, "fd store: " + j.error().message);
      }
      saved = std::move(*j);
      fd.reset();
      break;
    }
  }
  std::vector<std::string> wanted;
  Package p;
  if (saved) {
    auto listed = get_array(*saved, "fds");
    if (!listed || !saved->contains("state") || !(*saved)["state"].is_object()) {
      return make_error(EINVAL, "fd store: the saved state has no 'state' object or 'fds' list");
    }
    for (const auto& entry : **listed) {
      if (!entry.is_string() || !FdBundle::check_name(entry.get<std::string>())) {
        return make_error(EINVAL, "fd store: the saved state names a bad fd");
      }
      wanted.push_back(entry.get<std::string>());
    }
    p.state = std::move((*saved)["state"]);
  }
  for (auto& [name, fd] : got) {
    if (!fd) {
      continue;  // the state memfd
    }
    const bool ours = std::find(wanted.begin(), wanted.end(), name) != wanted.end();
    if (ours && !p.fds.contains(name)) {
      auto ok = p.fds.add(name, std::move(fd));
      AVM_CHECK(ok.has_value());  // checked above
      continue;
    }
    out.others.emplace_back(name, std::move(fd));
  }
  if (saved) {
    if (p.fds.size() != wanted.size()) {
      return make_error(ENOENT, "fd store: " + std::to_string(wanted.size() - p.fds.size()) +
                                    " of the saved fds are missing");
    }
    // Adopt at most once: the store forgets what we took.
    wanted.emplace_back(state_name);
    for (const std::string& name : wanted) {
      if (auto ok = fdstore_remove(name); !ok) {
        spdlog::warn("fd store: {}", ok.error().message);
        break;
      }
    }
    out.package.emplace(std::move(p));
  }
  return out;
}

}  // namespace avm::handover

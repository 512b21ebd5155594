// SPDX-License-Identifier: GPL-2.0
// Keeping a hand-over package in systemd's file-descriptor store, so a
// restarted service (same unit) can adopt what its predecessor served.
//
// fdstore_save(): every fd goes to the store with FDSTORE=1 and
// FDNAME=<its name> (sd_pid_notify_with_fds; whatever the store held under
// that name is removed first with FDSTOREREMOVE=1), and the state JSON
// goes last as {"state": ..., "fds": [names]}, written into a memfd sealed
// against every change (F_SEAL_WRITE | SHRINK | GROW | SEAL) and stored as
// @state_name.  The
// unit needs FileDescriptorStoreMax= at least the number of fds + 1.
//
// fdstore_load(), at start: the fds the service manager passed
// (sd_listen_fds_with_names, environment unset), the state memfd checked
// (a memfd, fully sealed, at most max_state_bytes) and parsed, and exactly
// the fds it names put into the package's bundle (ENOENT if one is
// missing).  Everything loaded is then removed from the
// store (FDSTOREREMOVE): a state is adopted at most once, and a later
// crash starts afresh instead of adopting a stale state.  Every other fd
// (e.g. sockets from a .socket unit) is returned in `others`, untouched in
// the store.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handover/fd_bundle.h"

namespace avm::handover {

constexpr std::string_view kStateName = "avm-state";

struct FdStoreContents {
  std::optional<Package> package;  // set when the state memfd was there
  std::vector<std::pair<std::string, UniqueFd>> others;
};

// ENOTSUP when not running under a service manager (no NOTIFY_SOCKET).
Status fdstore_save(const Package& p, std::string_view state_name = kStateName);
Result<FdStoreContents> fdstore_load(std::string_view state_name = kStateName,
                                     size_t max_state_bytes = size_t{16} << 20);
// Drops every fd stored as @name.  ENOTSUP as for save.
Status fdstore_remove(std::string_view name);

// The state JSON in a sealed memfd, and back (the FD store's format; also
// useful on its own).  read_state_memfd validates the seals and the size.
Result<UniqueFd> make_state_memfd(const nlohmann::json& state);
Result<nlohmann::json> read_state_memfd(int fd, size_t max_bytes);

}  // namespace avm::handover

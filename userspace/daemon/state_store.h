// SPDX-License-Identifier: GPL-2.0
// state.json: the instances and devices created through the API, kept
// across restarts.  Written atomically (a temp file in the same
// directory, fsync, rename over state.json, fsync of the directory), so a
// crash leaves the old or the new file, never a mix.  A file that does
// not parse or holds an invalid object is an error naming the file, not a
// crash and not a silent reset.
#pragma once

#include <string>
#include <vector>

#include "daemon/spec.h"
#include "lib/error.h"

namespace avm {

struct SavedState {
  std::vector<InstanceSpec> instances;
  std::vector<DeviceSpec> devices;
};

class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  std::string path() const { return dir_ + "/state.json"; }
  // A missing file is an empty state; anything unreadable is EINVAL/errno
  // with "PATH: why".
  Result<SavedState> load() const;
  // Creates the directory (0750) if needed.
  Status save(const SavedState& state) const;

 private:
  std::string dir_;
};

}  // namespace avm

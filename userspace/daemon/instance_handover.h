// SPDX-License-Identifier: GPL-2.0
// Handing one running avm::Instance to another process (or to systemd's
// FD store) without the guest noticing: no RESET, no link change, queues
// continue where they were.  docs/handover.md has the whole story.
//
// Old process, on the thread that owns the Instance (the service's control
// thread; nothing else may call the instance meanwhile):
//   auto state = InstanceHandover::export_state(inst, pkg.fds);  // quiesces
//   ... send pkg (handover::give does it, with these as hooks) ...
//   InstanceHandover::resume(inst);    // it failed: serve again, or
//   InstanceHandover::abandon(inst);   // it worked: let go, then destroy
// New process:
//   auto inst = InstanceHandover::adopt(state, pkg.fds);  // serves nothing yet
//   InstanceHandover::resume(**inst);    // after COMMIT: serve
//   InstanceHandover::abandon(**inst);   // or, on ABORT: drop it quietly
//
// export_state() stops the instance thread, quiesces the bridge (vector 0
// unwatched, every open device's I/O thread joined with its ring positions
// kept) and exports: the instance config, the region memfd, the ivshmem
// server (listening socket, peer 0's vectors, every client's socket and
// vectors), every device (config, TAP fd, runtime state), the bridge's
// private records, the guest's peer id and the doorbell counts.  fds are
// named "<instance>.region", "<instance>.iv.*", "<instance>.dev.<id>.tap".
// On failure the instance is resumed before the error returns.
#pragma once

#include <memory>

#include "daemon/instance.h"
#include "handover/fd_bundle.h"

namespace avm {

class InstanceHandover {
 public:
  static Result<nlohmann::json> export_state(Instance& inst, handover::FdBundle& fds);
  // Serves again after export_state() (failed hand-over) or adopt().
  static Status resume(Instance& inst);
  // After export_state() (hand-over done) or adopt() (hand-over refused):
  // drops every fd and thread without writing to the region or telling
  // any client; the object can then be destroyed.
  static void abandon(Instance& inst);
  // An instance continuing an exported one; its fds are taken out of
  // @fds (what is left over is not ours).  Everything is validated.
  static Result<std::unique_ptr<Instance>> adopt(const nlohmann::json& state,
                                                 handover::FdBundle& fds);
};

}  // namespace avm

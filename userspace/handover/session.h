// SPDX-License-Identifier: GPL-2.0
// The hand-over between two processes, as a two-phase commit over one
// connected SOCK_SEQPACKET socket (wire.h): the old process gives, the new
// one takes, and at every point before COMMIT either side can back out
// with the old process still serving.
//
//   taker (new)                       giver (old)
//   HELLO {version, pid}  ───────►
//                                     quiesce + export (threads stopped,
//                                     nothing in flight; fds are dups)
//                         ◄───────    package (BEGIN STATE.. FDS.. END)
//   adopt: build every object,
//   validate every fd and field;
//   serve nothing yet
//   READY                 ───────►
//                         ◄───────    COMMIT (from here the giver never
//                                     touches shared state again unless
//                                     the taker is known to be dead)
//   start serving
//   STARTED               ───────►    abandon: close its copies without
//                                     a word to guest or clients; exit
//
// The giver resumes serving (its own state, unchanged) when anything
// fails before COMMIT, and after COMMIT when the socket reaches end of
// file without STARTED (the taker died: nobody else serves).  A taker that
// stays silent after COMMIT past the timeout is killed (its pid from
// SO_PEERCRED) before the giver resumes, so two processes never serve the
// same guest.  The taker discards what it adopted -- without a word to
// anyone -- when it sees ABORT or end of file before COMMIT.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "handover/fd_bundle.h"
#include "handover/wire.h"

namespace avm::handover {

struct GiveHooks {
  // Stops every thread that touches shared state and exports it (fds as
  // duplicates).  Must leave the objects able to resume().
  std::function<Result<Package>()> quiesce_and_export;
  // The hand-over failed: serve again from the quiesced state.
  std::function<void()> resume;
  // The taker serves now: drop our copies quietly (no RESET, no messages
  // to clients, the socket file stays).
  std::function<void()> abandon;
};

struct TakeHooks {
  // Builds everything from the package without serving (no thread, no
  // epoll registration that consumes eventfds, nothing written).
  std::function<Status(Package&)> adopt;
  // COMMIT arrived: start serving.
  std::function<Status()> start;
  // Drops what adopt() built, quietly (as GiveHooks::abandon).
  std::function<void()> discard;
};

enum class GiveOutcome { kHandedOver, kResumed };

struct GiveResult {
  GiveOutcome outcome = GiveOutcome::kResumed;
  pid_t taker = 0;
  std::string why;  // kResumed: what went wrong
};

// Old process side, on a connected socket.  Blocks until done (bounded by
// the limits' timeout per step).  Never fails: every failure resumes.
GiveResult give(int sock, const GiveHooks& hooks, const Limits& limits = {});

// New process side, on a connected socket.  ok: the taker serves (and the
// giver is letting go).  An error: nothing of the package is used (the
// giver resumes).
Status take(int sock, const TakeHooks& hooks, const Limits& limits = {});

// Socket helpers.  listen_socket binds a SOCK_SEQPACKET socket at @path
// (lib's ListenSocket: mode 0600, non-blocking, CLOEXEC; it replaces any
// socket file there, a live one too: a successor binds before its
// predecessor lets go) and listens; the caller removes the file;
// accept_peer waits up to @timeout_ms and accepts one connection from a
// peer with our uid or root (SO_PEERCRED); connect_socket connects.
Result<UniqueFd> listen_socket(const std::string& path);
Result<UniqueFd> accept_peer(int listen_fd, int timeout_ms);
Result<UniqueFd> connect_socket(const std::string& path);
// The peer's pid (SO_PEERCRED), 0 if unknown.
pid_t peer_pid(int sock);

}  // namespace avm::handover

// SPDX-License-Identifier: GPL-2.0
// Handing the whole service to a new process (docs/handover.md, "The
// service hand-over"):
//
//   old:  alacrityvmd --config F            (listens on handover.sock)
//   new:  alacrityvmd --config F --takeover
//
// The old process listens on a SOCK_SEQPACKET socket next to the control
// socket (0600, peers with our uid or root) and, when a taker connects,
// runs handover::give() on the service thread: nothing else touches an
// instance meanwhile, and control requests wait in the socket's backlog.
// The package is the FD store's ({"instances": [...]}, the same export,
// service_fdstore.cc) plus the control socket's listening fd
// ("avm-control", {"control": {path, dev, ino}}).  The new process takes
// it in start() before anything else: every instance adopted (not
// serving), the control listener adopted, STARTED, then the config
// objects and state.json claim the instances as after an FD-store start,
// and run() resumes them.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "daemon/instance_handover.h"
#include "daemon/legacy.h"
#include "daemon/service.h"
#include "handover/session.h"
#include "metrics/metrics.h"

namespace avm {
namespace {

constexpr std::string_view kControlFd = "avm-control";

}  // namespace

std::string handover_socket_path(const std::string& control_socket) {
  return (std::filesystem::path(control_socket).parent_path() / "handover.sock").string();
}

std::string Service::handover_socket() const {
  return options_.handover_listen.empty() ? handover_socket_path(settings().control_socket)
                                          : options_.handover_listen;
}

void Service::open_handover() {
  const std::string path = handover_socket();
  auto fd = handover::listen_socket(path);
  if (!fd) {
    // Not fatal: the service runs, it just cannot be handed over.
    spdlog::error("hand-over socket {}: {}", path, fd.error().message);
    return;
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) < 0 || ::stat(path.c_str(), &st) < 0) {
    spdlog::error("hand-over socket {}: {}", path, errno_text(errno));
    ::unlink(path.c_str());
    return;
  }
  handover_dev_ = st.st_dev;
  handover_ino_ = st.st_ino;
  handover_fd_ = std::move(*fd);
  auto ok = loop_->add(handover_fd_.get(), EPOLLIN, [this](uint32_t) { on_handover(); });
  AVM_CHECK(ok.has_value());
  if (options_.legacy_mode()) {
    spdlog::info("hand-over: a successor may take over on {}", path);
  } else {
    spdlog::info("hand-over socket {} (alacrityvmd --takeover)", path);
  }
}

void Service::close_handover() {
  if (!handover_fd_) {
    return;
  }
  loop_->remove(handover_fd_.get());
  handover_fd_.reset();
  // Remove the file only if it is still ours: a successor binds its own.
  const std::string path = handover_socket();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == handover_dev_ &&
      st.st_ino == handover_ino_) {
    ::unlink(path.c_str());
  }
}

// After STARTED: the taker serves every instance and the control socket.
// Our copies go without a word to anyone; the loop stops.
void Service::let_go() {
  handed_over_ = true;
  if (control_) {
    loop_->remove(control_->fd());
    if (!options_.legacy_mode()) {
      control_->release();  // the taker serves it
    }
    control_.reset();
  }
  if (metrics_) {
    // The taker binds it again once we have closed it (unix: the file is
    // removed only if it is still ours).
    loop_->remove(metrics_->fd());
    metrics_.reset();
  }
  close_handover();
  loop_->request_stop();
}

void Service::on_handover() {
  auto sock = handover::accept_peer(handover_fd_.get(), 0);
  if (!sock) {
    if (sock.error().code != ETIMEDOUT) {
      spdlog::warn("hand-over: {}", sock.error().message);
    }
    return;
  }
  // Requests that have arrived are answered first; the loop then stays
  // here until the hand-over is done or has failed (10 s per step at
  // most), so control clients wait in the listener's backlog, which the
  // taker inherits.
  // A client the loop has accepted but whose request has not arrived yet
  // gets up to 200 ms for it (an idle connection costs that much once).
  if (control_) {
    control_->handle_events();
    for (int i = 0; i < 20 && control_->quiet_connections() > 0; i++) {
      pollfd p{control_->fd(), POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) {
        control_->handle_events();
      }
    }
  }
  std::vector<Instance*> exported;
  handover::GiveHooks h;
  // Legacy mode hands its instance over, not its control socket (if it
  // has one): the successor opens its own.
  const bool with_control = !options_.legacy_mode();
  h.quiesce_and_export = [&]() -> Result<handover::Package> {
    if (with_control && !control_) {
      return make_error(ENOTSUP, "no control socket to hand over");
    }
    auto p = export_instances(exported);
    if (!p) {
      return tl::unexpected(p.error());
    }
    if (!with_control) {
      return p;
    }
    if (auto ok = p->fds.add_dup(std::string(kControlFd), control_->listen_fd()); !ok) {
      resume_exported(exported);
      return tl::unexpected(ok.error());
    }
    p->state["control"] = {{"path", control_->config().path},
                           {"dev", static_cast<uint64_t>(control_->listen_dev())},
                           {"ino", static_cast<uint64_t>(control_->listen_ino())}};
    return p;
  };
  h.resume = [&] { resume_exported(exported); };
  h.abandon = [&] { abandon_exported(exported); };
  const size_t n = instances_.size();
  const handover::GiveResult r = handover::give(sock->get(), h);
  if (r.outcome == handover::GiveOutcome::kHandedOver) {
    spdlog::info("hand-over: pid {} serves {} instances{}; stopping without a RESET", r.taker, n,
                 with_control ? " and the control socket" : "");
    let_go();
  }
}

// Legacy mode (--takeover-from): exactly one instance, no control
// socket; it and its devices become our legacy objects.
Status Service::adopt_legacy(handover::Package& p) {
  if (p.state.contains("control")) {
    return make_error(EINVAL, "the old daemon is a service: take it over with --takeover");
  }
  auto list = handover::get_array(p.state, "instances");
  if (!list || (*list)->size() != 1) {
    return make_error(EINVAL, "takeover: expected exactly one instance");
  }
  auto legacy = legacy_objects_from_handover((**list)[0]);
  if (!legacy) {
    return tl::unexpected(legacy.error());
  }
  if (auto ok = adopt_instances(p, "hand-over"); !ok) {
    return ok;
  }
  if (!p.fds.empty()) {
    spdlog::warn("takeover: {} fds nobody claimed (first: {})", p.fds.size(),
                 p.fds.names().front());
  }
  // The instance's own checks allow what the old command line allowed.
  options_.config.daemon.max_region_size =
      std::max(options_.config.daemon.max_region_size, legacy->instance.region_size);
  options_.legacy = std::move(*legacy);
  return {};
}

Status Service::take_over() {
  const std::string path =
      options_.takeover_from.empty() ? handover_socket() : options_.takeover_from;
  auto sock = handover::connect_socket(path);
  if (!sock) {
    return make_error(sock.error().code, "takeover: no alacrityvmd takes hand-over requests on " +
                                             path + " (" + sock.error().message + ")");
  }
  handover::TakeHooks h;
  h.adopt = [&](handover::Package& p) -> Status {
    if (!options_.takeover_from.empty()) {
      return adopt_legacy(p);
    }
    auto c = handover::get_object(p.state, "control");
    if (!c) {
      return tl::unexpected(c.error());
    }
    auto cpath = handover::get_string(**c, "path");
    auto dev = handover::get_u64(**c, "dev");
    auto ino = handover::get_u64(**c, "ino");
    if (!cpath || !dev || !ino) {
      return make_error(EINVAL, "control: incomplete");
    }
    if (*cpath != settings().control_socket) {
      return make_error(EINVAL, "the old daemon's control socket is " + *cpath + ", ours " +
                                    settings().control_socket);
    }
    auto fd = p.fds.take(kControlFd);
    if (!fd) {
      return make_error(fd.error().code, "control socket: " + fd.error().message);
    }
    if (auto ok = handover::check_socket(fd->get(), SOCK_STREAM, true); !ok) {
      return make_error(ok.error().code, "control socket: " + ok.error().message);
    }
    if (auto ok = adopt_instances(p, "hand-over"); !ok) {
      return ok;
    }
    if (!p.fds.empty()) {
      spdlog::warn("takeover: {} fds nobody claimed (first: {})", p.fds.size(),
                   p.fds.names().front());
    }
    adopted_control_ =
        AdoptedControl{std::move(*fd), *cpath, static_cast<dev_t>(*dev), static_cast<ino_t>(*ino)};
    return {};
  };
  h.start = [] { return Status{}; };
  h.discard = [this] {
    discard_adopted();
    adopted_control_.reset();
    if (!options_.takeover_from.empty()) {
      options_.legacy.reset();
    }
  };
  if (auto ok = handover::take(sock->get(), h); !ok) {
    return make_error(
        ok.error().code,
        "takeover from " + path + " refused (the old daemon serves on): " + ok.error().message);
  }
  spdlog::info("takeover: {} instances{} taken over", adopted_.size(),
               options_.takeover_from.empty() ? " and the control socket" : "");
  return {};
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/takeover.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <vector>

#include "daemon/instance_handover.h"
#include "handover/session.h"

namespace avm {
namespace {

handover::GiveHooks give_hooks(Instance& inst) {
  handover::GiveHooks h;
  h.quiesce_and_export = [&inst]() -> Result<handover::Package> {
    handover::Package p;
    auto state = InstanceHandover::export_state(inst, p.fds);
    if (!state) {
      return tl::unexpected(state.error());
    }
    p.state = {{"instances", {*state}}};
    return p;
  };
  h.resume = [&inst] {
    if (auto ok = InstanceHandover::resume(inst); !ok) {
      spdlog::critical("{}: cannot serve again: {}", inst.config().name, ok.error().message);
    }
  };
  h.abandon = [&inst] { InstanceHandover::abandon(inst); };
  return h;
}

}  // namespace

TakeoverOptions extract_takeover_options(int& argc, char** argv) {
  TakeoverOptions o;
  std::vector<char*> kept;
  for (int i = 0; i < argc; i++) {
    const std::string a = argv[i];
    std::string* target = nullptr;
    std::string value;
    for (auto [flag, dest] :
         {std::pair{"--handover-listen", &o.listen}, std::pair{"--takeover-from", &o.from}}) {
      const std::string f = flag;
      if (a == f && i + 1 < argc) {
        target = dest;
        value = argv[++i];
      } else if (a.rfind(f + "=", 0) == 0) {
        target = dest;
        value = a.substr(f.size() + 1);
      }
    }
    if (target != nullptr) {
      *target = value;
    } else {
      kept.push_back(argv[i]);
    }
  }
  for (size_t i = 0; i < kept.size(); i++) {
    argv[i] = kept[i];
  }
  argc = static_cast<int>(kept.size());
  argv[argc] = nullptr;
  return o;
}

Result<std::unique_ptr<HandoverListener>> HandoverListener::start(const std::string& path,
                                                                  Instance* inst) {
  std::unique_ptr<HandoverListener> l(new HandoverListener());
  auto fd = handover::listen_socket(path);
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  auto stop = EventFd::create();
  if (!stop) {
    return tl::unexpected(stop.error());
  }
  l->path_ = path;
  l->inst_ = inst;
  l->listen_ = std::move(*fd);
  l->stop_.emplace(std::move(*stop));
  l->thread_ = std::thread([p = l.get()] { p->run(); });
  spdlog::info("hand-over: a successor may take over on {}", path);
  return l;
}

HandoverListener::~HandoverListener() {
  if (stop_) {
    stop_->signal();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (listen_) {
    ::unlink(path_.c_str());
  }
}

void HandoverListener::run() {
  while (!done_) {
    pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_->fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 || (p[1].revents & POLLIN) != 0) {
      return;
    }
    auto sock = handover::accept_peer(listen_.get(), 0);
    if (!sock) {
      spdlog::warn("hand-over: {}", sock.error().message);
      continue;
    }
    const handover::GiveResult r = handover::give(sock->get(), give_hooks(*inst_));
    if (r.outcome == handover::GiveOutcome::kHandedOver) {
      done_ = true;
      spdlog::info("hand-over: pid {} serves {}; stopping without a RESET", r.taker,
                   inst_->config().name);
      ::kill(::getpid(), SIGTERM);  // the normal stop path, which finds nothing left
    }
  }
}

int takeover_main(const TakeoverOptions& opts, int signal_fd) {
  auto sock = handover::connect_socket(opts.from);
  if (!sock) {
    spdlog::critical("takeover: {}", sock.error().message);
    return 1;
  }
  std::unique_ptr<Instance> inst;
  handover::TakeHooks h;
  h.adopt = [&](handover::Package& p) -> Status {
    auto list = handover::get_array(p.state, "instances");
    if (!list || (*list)->size() != 1) {
      return make_error(EINVAL, "takeover: expected exactly one instance");
    }
    auto i = InstanceHandover::adopt((**list)[0], p.fds);
    if (!i) {
      return tl::unexpected(i.error());
    }
    if (!p.fds.empty()) {
      spdlog::warn("takeover: {} fds nobody claimed (first: {})", p.fds.size(),
                   p.fds.names().front());
    }
    inst = std::move(*i);
    return {};
  };
  h.start = [&]() -> Status { return InstanceHandover::resume(*inst); };
  h.discard = [&] {
    if (inst) {
      InstanceHandover::abandon(*inst);
      inst.reset();
    }
  };
  if (auto ok = handover::take(sock->get(), h); !ok) {
    spdlog::critical("takeover from {} failed (the old daemon serves on): {}", opts.from,
                     ok.error().message);
    return 1;
  }
  sock->reset();
  spdlog::info("takeover: serving instance {}", inst->config().name);

  std::unique_ptr<HandoverListener> listener;
  if (!opts.listen.empty()) {
    auto l = HandoverListener::start(opts.listen, inst.get());
    if (!l) {
      spdlog::error("hand-over listener: {}", l.error().message);
    } else {
      listener = std::move(*l);
    }
  }
  for (;;) {
    pollfd p{signal_fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) {
      continue;
    }
    signalfd_siginfo si{};
    if (::read(signal_fd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) {
      continue;
    }
    const int sig = static_cast<int>(si.ssi_signo);
    if (sig == SIGQUIT) {
      spdlog::info("stats: {}", inst->stats_json());
      continue;
    }
    if (sig == SIGUSR1 || sig == SIGUSR2) {
      const InstanceInfo info = inst->info();
      if (!info.devices.empty()) {
        (void)inst->set_link(info.devices.front().name, sig == SIGUSR2);
      }
      continue;
    }
    if (sig == SIGHUP) {
      continue;
    }
    break;  // SIGINT, SIGTERM
  }
  const bool handed = listener && listener->handed_over();
  listener.reset();
  spdlog::info("stats: {}", inst->stats_json());
  if (!handed) {
    inst->stop();  // host RESET, like any stop
  }
  inst.reset();
  spdlog::info("alacrityvmd stopped");
  return 0;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
#include "daemon/daemon.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "daemon/size.h"

namespace avm {

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

Daemon::~Daemon() {
  stop();
}

Status Daemon::start() {
  if (server_ && server_->running()) {
    return make_error(EBUSY, "daemon already started");
  }
  if (auto ok = Region::check_size(config_.region_size); !ok) {
    return ok;
  }
  if (config_.vectors < 1 || config_.vectors > ivshmem::kMaxVectors) {
    return make_error(EINVAL, "vectors must be 1.." + std::to_string(ivshmem::kMaxVectors));
  }
  if (!stop_) {
    auto stop = EventFd::create();
    if (!stop) {
      return tl::unexpected(stop.error());
    }
    stop_.emplace(std::move(*stop));
  }
  if (!region_) {
    auto region = Region::create("alacrityvm", config_.region_size);
    if (!region) {
      return tl::unexpected(region.error());
    }
    region_.emplace(std::move(*region));
    BridgeConfig bc;
    bc.num_vectors = config_.vectors;
    bc.host_peer_id = ivshmem::kHostPeerId;
    auto bridge = BridgeLayout::create(region_->span(), bc);
    if (!bridge) {
      region_.reset();
      return tl::unexpected(bridge.error());
    }
    bridge_.emplace(std::move(*bridge));
    doorbells_ = std::make_unique<std::atomic<uint64_t>[]>(config_.vectors);
    spdlog::info("region: {} memfd, vbus bridge ABI {}.{} laid out", format_size(region_->size()),
                 VBUS_ABI_MAJOR, VBUS_ABI_MINOR);
  }
  if (!server_) {
    ivshmem::ServerConfig sc;
    sc.socket_path = config_.socket_path;
    sc.socket_mode = config_.socket_mode;
    sc.shm_fd = region_->fd();
    sc.vectors = config_.vectors;
    sc.max_clients = config_.max_clients;
    server_ = std::make_unique<ivshmem::Server>(sc);
    server_->set_peer_callback([](const ivshmem::PeerEvent& e) {
      if (e.kind == ivshmem::PeerEventKind::kJoined) {
        spdlog::info("client {} joined", e.id);
      } else {
        spdlog::info("client {} left", e.id);
      }
    });
  }
  return server_->start();
}

void Daemon::stop() {
  if (server_) {
    server_->stop();
  }
}

void Daemon::request_stop() const {
  if (stop_) {
    stop_->signal();
  }
}

uint64_t Daemon::doorbells(unsigned vector) const {
  if (!doorbells_ || vector >= config_.vectors) {
    return 0;
  }
  return doorbells_[vector].load(std::memory_order_relaxed);
}

void Daemon::on_doorbell(unsigned vector) {
  const uint64_t n = server_->host_vectors()[vector].consume();
  if (n == 0) {
    return;
  }
  const uint64_t total = doorbells_[vector].fetch_add(n, std::memory_order_relaxed) + n;
  spdlog::debug("doorbell: vector {} (total {})", vector, total);
}

Status Daemon::run(int signal_fd) {
  if (!server_ || !server_->running()) {
    return make_error(EINVAL, "daemon not started");
  }
  // Fixed slots: stop event, signals, the server, then peer 0's vectors.
  constexpr size_t kStop = 0, kSignal = 1, kServer = 2, kVectors = 3;
  std::vector<pollfd> fds(kVectors + config_.vectors);
  fds[kStop] = {stop_->fd(), POLLIN, 0};
  fds[kSignal] = {signal_fd, POLLIN, 0};  // poll ignores a negative fd
  fds[kServer] = {server_->fd(), POLLIN, 0};
  for (unsigned v = 0; v < config_.vectors; v++) {
    fds[kVectors + v] = {server_->host_vectors()[v].fd(), POLLIN, 0};
  }
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("poll");
    }
    if ((fds[kStop].revents & POLLIN) != 0) {
      stop_->consume();
      spdlog::info("stop requested");
      return {};
    }
    if ((fds[kSignal].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      if (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        spdlog::info("received SIG{}, shutting down", sigabbrev_np(static_cast<int>(si.ssi_signo)));
        return {};
      }
    }
    if ((fds[kServer].revents & POLLIN) != 0) {
      server_->handle_events();
    }
    for (unsigned v = 0; v < config_.vectors; v++) {
      if ((fds[kVectors + v].revents & POLLIN) != 0) {
        on_doorbell(v);
      }
    }
  }
}

}  // namespace avm

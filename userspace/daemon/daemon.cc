// SPDX-License-Identifier: GPL-2.0
#include "daemon/daemon.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "daemon/size.h"
#include "daemon/tap_netns.h"

namespace avm {

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

Daemon::~Daemon() {
  stop();
  // The runtime closes its devices (joining their I/O threads) before the
  // loop, the server's eventfds and the region go.
  bridge_.reset();
}

Status Daemon::setup() {
  if (auto ok = Region::check_size(config_.region_size); !ok) {
    return ok;
  }
  if (config_.vectors < 1 || config_.vectors > ivshmem::kMaxVectors) {
    return make_error(EINVAL, "vectors must be 1.." + std::to_string(ivshmem::kMaxVectors));
  }
  if (config_.venet && config_.vectors < 2) {
    return make_error(EINVAL, "a venet device needs a doorbell vector: --vectors 2 or more");
  }
  auto region = Region::create("alacrityvm", config_.region_size);
  if (!region) {
    return tl::unexpected(region.error());
  }
  auto loop = EventLoop::create();
  if (!loop) {
    return tl::unexpected(loop.error());
  }
  // The TAP before anything listens: a bad --venet fails the start.
  std::optional<Tap> tap;
  if (config_.venet) {
    auto t = open_tap_in_netns(config_.venet->config.tap_name, config_.venet->netns);
    if (!t) {
      return make_error(t.error().code, "venet: " + t.error().message);
    }
    tap.emplace(std::move(*t));
  }
  region_.emplace(std::move(*region));
  loop_ = std::move(*loop);

  ivshmem::ServerConfig sc;
  sc.socket_path = config_.socket_path;
  sc.socket_mode = config_.socket_mode;
  sc.shm_fd = region_->fd();
  sc.vectors = config_.vectors;
  sc.max_clients = config_.max_clients;
  server_ = std::make_unique<ivshmem::Server>(sc);
  server_->set_peer_callback([this](const ivshmem::PeerEvent& e) { on_peer(e); });
  // The first start creates peer 0's vectors, which the runtime borrows.
  // Nobody is accepted before run() polls the server.
  if (auto ok = server_->start(); !ok) {
    return ok;
  }

  BridgeConfig bc;
  bc.num_vectors = config_.vectors;
  bc.host_peer_id = ivshmem::kHostPeerId;
  auto bridge = BridgeRuntime::create(region_->span(), bc, *loop_, server_->host_vectors());
  if (!bridge) {
    return tl::unexpected(bridge.error());
  }
  bridge_ = std::move(*bridge);
  spdlog::info("region: {} memfd, vbus bridge ABI {}.{} laid out", format_size(region_->size()),
               VBUS_ABI_MAJOR, VBUS_ABI_MINOR);

  if (tap) {
    auto dev = VenetDevice::create(config_.venet->config, std::move(*tap));
    if (!dev) {
      return tl::unexpected(dev.error());
    }
    venet_ = dev->get();
    auto id = bridge_->add_device(std::move(*dev));
    if (!id) {
      venet_ = nullptr;
      return tl::unexpected(id.error());
    }
    venet_id_ = *id;
    const auto& c = config_.venet->config;
    spdlog::info(
        "venet: device {} on tap {}{}, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, mtu {}",
        venet_id_, venet_->tap().name(),
        config_.venet->netns.empty() ? "" : " (netns " + config_.venet->netns + ")", c.mac[0],
        c.mac[1], c.mac[2], c.mac[3], c.mac[4], c.mac[5], c.mtu);
  }

  // Vector 0 is the bridge's (the runtime watches it), a device's vector
  // its I/O thread's; the loop counts doorbells on the others.
  doorbells_ = std::make_unique<std::atomic<uint64_t>[]>(config_.vectors);
  for (unsigned v = 1; v < config_.vectors; v++) {
    bool owned = false;
    for (uint32_t id : bridge_->layout().device_ids()) {
      owned = owned || bridge_->layout().device(id)->doorbell_vector == v;
    }
    if (!owned) {
      const EventFd& bell = server_->host_vectors()[v];
      auto ok = loop_->add(bell.fd(), EPOLLIN, [this, v](uint32_t) { on_doorbell(v); });
      AVM_CHECK(ok.has_value());  // a fresh loop, distinct fds
    }
  }
  auto ok = loop_->add(server_->fd(), EPOLLIN, [this](uint32_t) { server_->handle_events(); });
  AVM_CHECK(ok.has_value());
  return {};
}

Status Daemon::start() {
  if (server_ && server_->running()) {
    return make_error(EBUSY, "daemon already started");
  }
  if (!server_) {
    if (auto ok = setup(); !ok) {
      bridge_.reset();
      server_.reset();
      loop_.reset();
      region_.reset();
      venet_ = nullptr;
      return ok;
    }
  } else if (auto ok = server_->start(); !ok) {
    return ok;
  }
  // READY + interrupt; a second start bumps the host epoch.
  return bridge_->start();
}

void Daemon::stop() {
  if (!server_ || !server_->running()) {
    return;
  }
  // RESET and its interrupt go out while the guest's eventfd is attached;
  // then the clients are disconnected (on_peer detaches the sink).
  bridge_->shutdown();
  server_->stop();
}

void Daemon::request_stop() const {
  if (loop_) {
    loop_->request_stop();
  }
}

void Daemon::on_peer(const ivshmem::PeerEvent& e) {
  if (e.kind == ivshmem::PeerEventKind::kJoined) {
    if (guest_ != 0) {
      spdlog::warn(
          "client {} joined, but client {} is this instance's guest: {} gets no "
          "interrupts",
          e.id, guest_, e.id);
      return;
    }
    auto vectors = server_->vectors(e.id);
    AVM_CHECK(!vectors.empty());  // a joined client has all its vectors
    // A dup: the event queue writes it from any thread (the server is
    // single-threaded) and it outlives the client's entry in the server.
    UniqueFd fd(::fcntl(vectors[VBUS_EVQ_VECTOR].fd(), F_DUPFD_CLOEXEC, 0));
    if (!fd) {
      spdlog::error("client {} joined, but its vector 0 cannot be dup'ed: {}", e.id,
                    errno_error("dup").value().message);
      return;
    }
    guest_ = e.id;
    bridge_->event_queue().set_sink_fd(std::move(fd));
    spdlog::info("client {} joined: it is the guest, interrupts go to its vector 0", e.id);
    return;
  }
  if (e.id != guest_) {
    spdlog::info("client {} left", e.id);
    return;
  }
  bridge_->event_queue().clear_sink();
  guest_ = 0;
  spdlog::info("client {} left: the guest is gone", e.id);
  // Its devices stop touching the region; the next guest starts from a
  // new epoch.  Not while the server is being stopped (stop() runs
  // shutdown() first, the bridge is not started then).
  if (bridge_->started()) {
    bridge_->restart();
  }
}

void Daemon::on_doorbell(unsigned vector) {
  const uint64_t n = server_->host_vectors()[vector].consume();
  if (n == 0) {
    return;
  }
  const uint64_t total = doorbells_[vector].fetch_add(n, std::memory_order_relaxed) + n;
  spdlog::debug("doorbell: vector {} (total {})", vector, total);
}

uint64_t Daemon::doorbells(unsigned vector) const {
  if (!doorbells_ || vector >= config_.vectors) {
    return 0;
  }
  return doorbells_[vector].load(std::memory_order_relaxed);
}

Status Daemon::set_link(bool up) {
  if (venet_ == nullptr) {
    return make_error(ENODEV, "no venet device");
  }
  return bridge_->set_link(venet_id_, up);
}

void Daemon::on_signal(int signal_fd) {
  signalfd_siginfo si{};
  while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    const int sig = static_cast<int>(si.ssi_signo);
    switch (sig) {
      case SIGUSR1:
      case SIGUSR2: {
        const bool up = sig == SIGUSR2;
        spdlog::info("received SIG{}: host link {}", sigabbrev_np(sig), up ? "up" : "down");
        if (auto ok = set_link(up); !ok) {
          spdlog::warn("link {}: {}", up ? "up" : "down", ok.error().message);
        }
        break;
      }
      case SIGQUIT:
        spdlog::info("stats: {}", stats_json());
        break;
      default:
        spdlog::info("received SIG{}, shutting down", sigabbrev_np(sig));
        loop_->request_stop();
        break;
    }
  }
}

Status Daemon::run(int signal_fd) {
  if (!server_ || !server_->running()) {
    return make_error(EINVAL, "daemon not started");
  }
  if (signal_fd >= 0) {
    if (auto ok =
            loop_->add(signal_fd, EPOLLIN, [this, signal_fd](uint32_t) { on_signal(signal_fd); });
        !ok) {
      return ok;
    }
  }
  loop_->run();
  loop_->clear_stop();
  if (signal_fd >= 0) {
    loop_->remove(signal_fd);
  }
  spdlog::info("stats: {}", stats_json());
  return {};
}

std::string Daemon::stats_json() const {
  std::string s = "{";
  auto add = [&s](std::string_view key, uint64_t v) {
    if (s.size() > 1) {
      s += ", ";
    }
    s += fmt::format("\"{}\": {}", key, v);
  };
  if (bridge_) {
    const BridgeCounters b = bridge_->counters();
    add("bridge_doorbells", b.doorbells);
    add("bridge_inits", b.inits);
    add("bridge_guest_resets", b.guest_resets);
    add("bridge_restarts", b.restarts);
    add("bridge_device_faults", b.device_faults);
    const EventQueueCounters q = bridge_->event_queue().counters();
    add("evq_posted", q.posted);
    add("evq_overflows", q.overflows);
    add("evq_interrupts", q.interrupts);
    add("evq_interrupts_no_sink", q.interrupts_no_sink);
    add("evq_suppressed", q.suppressed);
    add("calls", bridge_->call_server().counters().calls);
  }
  if (venet_ != nullptr) {
    const VenetStats v = venet_->stats();
    add("venet_tx_packets", v.tx_packets);
    add("venet_tx_bytes", v.tx_bytes);
    add("venet_tx_errors", v.tx_errors);
    add("venet_tx_dropped_link", v.tx_dropped_link);
    add("venet_tap_write_errors", v.tap_write_errors);
    add("venet_rx_packets", v.rx_packets);
    add("venet_rx_bytes", v.rx_bytes);
    add("venet_rx_no_buffers", v.rx_no_buffers);
    add("venet_rx_too_big", v.rx_too_big);
    add("venet_rx_dropped_link", v.rx_dropped_link);
    add("venet_doorbells", v.doorbells);
    add("venet_tx_signals", v.tx_signals);
    add("venet_tx_signals_suppressed", v.tx_signals_suppressed);
    add("venet_rx_signals", v.rx_signals);
    add("venet_rx_signals_suppressed", v.rx_signals_suppressed);
    add("venet_events_posted", v.events_posted);
    add("venet_wakeups", v.wakeups);
    add("venet_polls", v.polls);
    add("venet_poll_hits", v.poll_hits);
    add("venet_busy_poll_us", v.busy_poll_us);
    add("venet_bad_descriptors", v.bad_descriptors);
    add("venet_resets", v.resets);
    add("venet_opens", v.opens);
  }
  return s + "}";
}

}  // namespace avm

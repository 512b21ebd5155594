// SPDX-License-Identifier: GPL-2.0
#include "daemon/instance.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/size.h"
#include "daemon/stats_export.h"

namespace avm {

const char* to_string(InstanceState s) {
  switch (s) {
    case InstanceState::kWaiting:
      return "waiting";
    case InstanceState::kConnected:
      return "connected";
    case InstanceState::kReady:
      return "ready";
  }
  return "waiting";
}

Instance::Instance(InstanceConfig config) : config_(std::move(config)) {}

Instance::~Instance() {
  stop();
  // The runtime closes its devices (joining their I/O threads) before the
  // loop, the server's eventfds and the region go.
  bridge_.reset();
}

void Instance::run_sync(const std::function<void()>& fn) const {
  // Not running (or its thread has failed and ended): the caller owns
  // everything, nobody else touches it.
  if (!loop_ || !loop_->run_sync(fn)) {
    fn();
  }
}

Status Instance::setup() {
  if (auto ok = Region::check_size(config_.region_size); !ok) {
    return ok;
  }
  if (config_.vectors < 1 || config_.vectors > ivshmem::kMaxVectors) {
    return make_error(EINVAL, "vectors must be 1.." + std::to_string(ivshmem::kMaxVectors));
  }
  auto region = Region::create("alacrityvm", config_.region_size);
  if (!region) {
    return tl::unexpected(region.error());
  }
  auto loop = EventLoop::create();
  if (!loop) {
    return tl::unexpected(loop.error());
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
  // Nobody is accepted before the thread polls the server.
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
  bridge_->set_log_name(config_.name);  // "vm1: bridge: ..." (handed over with it)
  spdlog::info("{}: region: {} memfd, vbus bridge ABI {}.{} laid out", config_.name,
               format_size(region_->size()), VBUS_ABI_MAJOR, VBUS_ABI_MINOR);

  doorbells_ = std::make_unique<std::atomic<uint64_t>[]>(config_.vectors);
  watched_.assign(config_.vectors, false);
  watch_unowned_vectors();
  auto ok = loop_->add(server_->fd(), EPOLLIN, [this](uint32_t) { server_->handle_events(); });
  AVM_CHECK(ok.has_value());  // a fresh loop
  return {};
}

// Vector 0 is the bridge's (the runtime watches it), a device's vector
// its I/O thread's; the loop counts doorbells on the others.
void Instance::watch_unowned_vectors() {
  std::vector<bool> owned(config_.vectors, false);
  for (uint32_t id : bridge_->layout().device_ids()) {
    const unsigned v = bridge_->layout().device(id)->doorbell_vector;
    if (v < owned.size()) {
      owned[v] = true;
    }
  }
  for (unsigned v = 1; v < config_.vectors; v++) {
    const int fd = server_->host_vectors()[v].fd();
    if (owned[v] && watched_[v]) {
      loop_->remove(fd);
      watched_[v] = false;
    } else if (!owned[v] && !watched_[v]) {
      auto ok = loop_->add(fd, EPOLLIN, [this, v](uint32_t) { on_doorbell(v); });
      AVM_CHECK(ok.has_value());  // not watched, so not in the set
      watched_[v] = true;
    }
  }
}

Status Instance::listen() {
  if (server_ && server_->running()) {
    return {};
  }
  if (!server_) {
    if (auto ok = setup(); !ok) {
      bridge_.reset();
      server_.reset();
      loop_.reset();
      region_.reset();
      return ok;
    }
  } else if (auto ok = server_->start(); !ok) {
    return ok;
  }
  // READY + interrupt; a second start bumps the host epoch.
  if (auto ok = bridge_->start(); !ok) {
    server_->stop();
    return ok;
  }
  return {};
}

Status Instance::start() {
  if (running()) {
    return make_error(EBUSY, "instance " + config_.name + " already started");
  }
  if (auto ok = listen(); !ok) {
    return ok;
  }
  return spawn();
}

Status Instance::spawn() {
  loop_->clear_stop();
  IoThread::OnFailure failed = on_failure_;
  if (!failed) {
    failed = [name = config_.name](const Error& e) {
      spdlog::critical("{}: the instance thread failed: {}", name, e.message);
    };
  }
  auto t = IoThread::start(
      "avm-inst-" + config_.name,
      [loop = loop_.get()] {
        loop->run();
        return Status{};
      },
      std::move(failed));
  if (!t) {
    return tl::unexpected(t.error());
  }
  thread_ = std::move(*t);
  loop_->wait_running();
  return {};
}

void Instance::stop() {
  if (!server_ || !server_->running()) {
    return;
  }
  if (running()) {
    loop_->request_stop();
    thread_.join();
  }
  // RESET and its interrupt go out while the guest's eventfd is attached;
  // then the clients are disconnected (on_peer detaches the sink).
  bridge_->shutdown();
  server_->stop();
}

Status Instance::attach(const std::string& name, std::unique_ptr<VenetDevice> dev) {
  if (!bridge_) {
    return make_error(EINVAL, "instance " + config_.name + " not started");
  }
  Status result;
  run_sync([&] {
    if (devices_.contains(name)) {
      result = make_error(EEXIST, "device " + name + " is attached already");
      return;
    }
    VenetDevice* raw = dev.get();
    raw->bind_region(bridge_->layout(), *region_);  // backend kernel/auto
    auto id = bridge_->add_device(std::move(dev));
    if (!id) {
      result = make_error(
          id.error().code,
          "instance " + config_.name + ": " +
              (id.error().code == ENOSPC ? "no free doorbell vector" : id.error().message));
      return;
    }
    devices_[name] = Slot{*id, raw};
    watch_unowned_vectors();
    spdlog::info("{}: venet: device {} ({}) on tap {}, {} backend", config_.name, *id, name,
                 raw->tap().name(), to_string(raw->backend()));
  });
  return result;
}

Status Instance::detach(const std::string& name) {
  Status result;
  run_sync([&] {
    auto it = devices_.find(name);
    if (it == devices_.end()) {
      result = make_error(ENOENT, "device " + name + " is not attached to " + config_.name);
      return;
    }
    const uint32_t id = it->second.id;
    devices_.erase(it);
    result = bridge_->remove_device(id);
    watch_unowned_vectors();
    spdlog::info("{}: device {} ({}) detached", config_.name, id, name);
  });
  return result;
}

Status Instance::set_link(const std::string& name, bool up) {
  Status result;
  run_sync([&] {
    auto it = devices_.find(name);
    if (it == devices_.end()) {
      result = make_error(ENOENT, "device " + name + " is not attached to " + config_.name);
      return;
    }
    result = bridge_->set_link(it->second.id, up);
  });
  return result;
}

bool Instance::has_device(const std::string& name) const {
  bool found = false;
  run_sync([&] { found = devices_.contains(name); });
  return found;
}

unsigned Instance::free_vectors() const {
  unsigned used = 0;
  run_sync([&] { used = bridge_ ? bridge_->layout().device_ids().size() : 0; });
  return config_.vectors > used + 1 ? config_.vectors - used - 1 : 0;
}

InstanceInfo Instance::info() const {
  InstanceInfo out;
  run_sync([&] {
    out.guest = guest_.load();
    if (server_) {
      out.ivshmem = server_->stats();
    }
    if (!bridge_) {
      return;
    }
    if (out.guest != 0) {
      out.state = bridge_->host_state() == VBUS_STATE_RUN ? InstanceState::kReady
                                                          : InstanceState::kConnected;
    }
    out.bridge = bridge_->counters();
    out.evq = bridge_->event_queue().counters();
    out.call = bridge_->call_server().counters();
    if (out.guest != 0 && server_) {
      out.guest_pid = server_->peer_pid(out.guest);
    }
    for (const auto& [name, slot] : devices_) {
      auto mtu = slot.dev->tap().mtu();
      out.devices.push_back(AttachedDevice{
          name, slot.id, slot.dev->tap().name(), bridge_->device_open(slot.id),
          bridge_->device_quarantined(slot.id), slot.dev->stats(), to_string(slot.dev->backend()),
          slot.dev->backend_note(), mtu ? std::optional<unsigned>(*mtu) : std::nullopt});
    }
  });
  return out;
}

void Instance::on_peer(const ivshmem::PeerEvent& e) {
  if (e.kind == ivshmem::PeerEventKind::kJoined) {
    if (guest_ != 0) {
      spdlog::warn(
          "client {} joined, but client {} is this instance's guest: {} gets no "
          "interrupts",
          e.id, guest_.load(), e.id);
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

void Instance::on_doorbell(unsigned vector) {
  const uint64_t n = server_->host_vectors()[vector].consume();
  if (n == 0) {
    return;
  }
  const uint64_t total = doorbells_[vector].fetch_add(n, std::memory_order_relaxed) + n;
  spdlog::debug("doorbell: vector {} (total {})", vector, total);
}

uint64_t Instance::doorbells(unsigned vector) const {
  if (!doorbells_ || vector >= config_.vectors) {
    return 0;
  }
  return doorbells_[vector].load(std::memory_order_relaxed);
}

std::string Instance::stats_json() const {
  const InstanceInfo i = info();
  return format_stats_line(i, bridge_ != nullptr,
                           i.devices.empty() ? nullptr : &i.devices.front().stats);
}

}  // namespace avm

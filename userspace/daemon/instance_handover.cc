// SPDX-License-Identifier: GPL-2.0
#include "daemon/instance_handover.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

namespace avm {
namespace {

using handover::get_array;
using handover::get_object;
using handover::get_string;
using handover::get_u32;
using handover::get_u64;

constexpr uint32_t kVersion = 1;

std::string iv_prefix(const std::string& name) {
  return name + ".iv.";
}
std::string dev_prefix(const std::string& name, uint32_t id) {
  return name + ".dev." + std::to_string(id) + ".";
}

}  // namespace

Result<nlohmann::json> InstanceHandover::export_state(Instance& inst, handover::FdBundle& fds) {
  if (!inst.server_ || !inst.server_->running() || !inst.bridge_) {
    return make_error(EINVAL, "instance " + inst.config_.name + " is not serving");
  }
  if (inst.running()) {
    inst.loop_->request_stop();
    inst.thread_.join();
  }
  auto fail = [&](const Error& e) -> Result<nlohmann::json> {
    (void)resume(inst);
    return make_error(e.code, inst.config_.name + ": " + e.message);
  };
  if (auto ok = inst.bridge_->quiesce(); !ok) {
    return fail(ok.error());
  }
  // A client with messages still queued cannot be handed over: give the
  // server a moment to flush them.
  Result<nlohmann::json> iv = make_error(EBUSY, "");
  for (int tries = 0; tries < 100; tries++) {
    iv = inst.server_->export_state(fds, iv_prefix(inst.config_.name));
    if (iv || iv.error().code != EBUSY) {
      break;
    }
    inst.server_->handle_events();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!iv) {
    return fail(iv.error());
  }
  const InstanceConfig& c = inst.config_;
  if (auto ok = fds.add_dup(c.name + ".region", inst.region_->fd()); !ok) {
    return fail(ok.error());
  }
  auto bridge = inst.bridge_->export_state();
  if (!bridge) {
    return fail(bridge.error());
  }
  auto devices = nlohmann::json::array();
  for (const auto& [name, slot] : inst.devices_) {
    auto cfg = slot.dev->export_config(fds, dev_prefix(c.name, slot.id));
    if (!cfg) {
      return fail(cfg.error());
    }
    devices.push_back({{"name", name}, {"id", slot.id}, {"config", *cfg}});
  }
  auto doorbells = nlohmann::json::array();
  for (unsigned v = 0; v < c.vectors; v++) {
    doorbells.push_back(inst.doorbells(v));
  }
  nlohmann::json j;
  j["version"] = kVersion;
  j["config"] = {{"name", c.name},
                 {"socket_path", c.socket_path},
                 {"socket_mode", c.socket_mode},
                 {"region_size", c.region_size},
                 {"vectors", c.vectors},
                 {"max_clients", c.max_clients}};
  j["ivshmem"] = std::move(*iv);
  j["bridge"] = std::move(*bridge);
  j["devices"] = devices;
  j["guest"] = inst.guest_.load();
  j["doorbells"] = doorbells;
  spdlog::info("{}: exported for hand-over ({} fds)", c.name, fds.size());
  return j;
}

Status InstanceHandover::resume(Instance& inst) {
  if (inst.running()) {
    return {};
  }
  if (auto ok = inst.bridge_->resume(); !ok) {
    return ok;
  }
  if (auto ok = inst.spawn(); !ok) {
    return ok;
  }
  spdlog::info("{}: serving", inst.config_.name);
  return {};
}

void InstanceHandover::abandon(Instance& inst) {
  if (inst.running()) {
    inst.loop_->request_stop();
    inst.thread_.join();
  }
  if (inst.bridge_) {
    if (!inst.bridge_->quiesced()) {
      (void)inst.bridge_->quiesce();
    }
    inst.bridge_->abandon();
  }
  inst.devices_.clear();
  if (inst.server_) {
    if (inst.loop_ && inst.server_->fd() >= 0) {
      inst.loop_->remove(inst.server_->fd());
    }
    inst.server_->abandon();
  }
  inst.guest_ = 0;
  spdlog::info("{}: let go (another process serves it)", inst.config_.name);
}

Result<std::unique_ptr<Instance>> InstanceHandover::adopt(const nlohmann::json& state,
                                                          handover::FdBundle& fds) {
  auto version = get_u32(state, "version");
  auto cj = get_object(state, "config");
  if (!version || *version != kVersion || !cj) {
    return make_error(EINVAL, "instance hand-over: unknown state version or no config");
  }
  InstanceConfig c;
  auto name = get_string(**cj, "name");
  auto path = get_string(**cj, "socket_path");
  auto mode = get_u32(**cj, "socket_mode", 07777);
  auto size = get_u64(**cj, "region_size");
  auto vectors = get_u32(**cj, "vectors", ivshmem::kMaxVectors);
  auto max_clients = get_u32(**cj, "max_clients");
  auto iv = get_object(state, "ivshmem");
  auto bridge_state = get_object(state, "bridge");
  auto devs = get_array(state, "devices");
  auto guest = get_u32(state, "guest", ivshmem::kMaxPeerId);
  if (!name || !path || !mode || !size || !vectors || *vectors < 1 || !max_clients || !iv ||
      !bridge_state || !devs || !guest || !handover::FdBundle::check_name(*name)) {
    return make_error(EINVAL, "instance hand-over: incomplete or bad state");
  }
  c.name = *name;
  c.socket_path = *path;
  c.socket_mode = *mode;
  c.region_size = *size;
  c.vectors = *vectors;
  c.max_clients = *max_clients;
  auto inst = std::make_unique<Instance>(c);
  Instance& in = *inst;
  const std::string what = "instance " + c.name + " hand-over: ";

  auto rfd = fds.take(c.name + ".region");
  if (!rfd) {
    return make_error(rfd.error().code, what + rfd.error().message);
  }
  auto region = Region::adopt(std::move(*rfd));
  if (!region) {
    return make_error(region.error().code, what + "region: " + region.error().message);
  }
  if (region->size() != c.region_size) {
    return make_error(EINVAL, what + "the region memfd is not of the configured size");
  }
  auto loop = EventLoop::create();
  if (!loop) {
    return tl::unexpected(loop.error());
  }
  in.region_.emplace(std::move(*region));
  in.loop_ = std::move(*loop);

  ivshmem::ServerConfig sc;
  sc.socket_path = c.socket_path;
  sc.socket_mode = c.socket_mode;
  sc.shm_fd = in.region_->fd();
  sc.vectors = c.vectors;
  sc.max_clients = c.max_clients;
  auto server = ivshmem::Server::adopt(sc, **iv, fds, iv_prefix(c.name));
  if (!server) {
    return make_error(server.error().code, what + server.error().message);
  }
  in.server_ = std::move(*server);
  // From here on a failure lets go of everything quietly: the exporter
  // still serves these clients.
  auto bail = [&](int code, const std::string& why) -> Result<std::unique_ptr<Instance>> {
    abandon(in);
    return make_error(code, what + why);
  };

  std::map<uint32_t, std::unique_ptr<Device>> objects;
  std::map<std::string, Instance::Slot> slots;
  for (const auto& d : **devs) {
    auto dname = get_string(d, "name");
    auto id = get_u32(d, "id");
    auto dcfg = get_object(d, "config");
    if (!dname || !id || !dcfg || slots.contains(*dname) || objects.contains(*id)) {
      return bail(EINVAL, "bad or repeated device entry");
    }
    auto dev = VenetDevice::adopt(**dcfg, fds, dev_prefix(c.name, *id));
    if (!dev) {
      return bail(dev.error().code, "device " + *dname + ": " + dev.error().message);
    }
    slots[*dname] = Instance::Slot{*id, dev->get()};
    objects.emplace(*id, std::move(*dev));
  }
  auto bridge = BridgeRuntime::adopt(in.region_->span(), **bridge_state, *in.loop_,
                                     in.server_->host_vectors(), std::move(objects));
  if (!bridge) {
    return bail(bridge.error().code, bridge.error().message);
  }
  in.bridge_ = std::move(*bridge);
  in.devices_ = std::move(slots);
  in.server_->set_peer_callback([&in](const ivshmem::PeerEvent& e) { in.on_peer(e); });

  // The guest's interrupts: a dup of its vector 0, as on_peer() makes.
  if (*guest != 0) {
    auto v = in.server_->vectors(static_cast<ivshmem::PeerId>(*guest));
    if (v.empty()) {
      spdlog::warn("{}: the guest (peer {}) is not among the adopted clients", c.name, *guest);
    } else {
      UniqueFd fd(::fcntl(v[VBUS_EVQ_VECTOR].fd(), F_DUPFD_CLOEXEC, 0));
      if (!fd) {
        return bail(errno, "dup of the guest's vector 0");
      }
      in.bridge_->event_queue().set_sink_fd(std::move(fd));
      in.guest_ = static_cast<ivshmem::PeerId>(*guest);
    }
  }
  in.doorbells_ = std::make_unique<std::atomic<uint64_t>[]>(c.vectors);
  if (auto db = state.find("doorbells"); db != state.end() && db->is_array()) {
    for (unsigned v = 0; v < c.vectors && v < db->size(); v++) {
      if ((*db)[v].is_number_unsigned()) {
        in.doorbells_[v] = (*db)[v].get<uint64_t>();
      }
    }
  }
  in.watched_.assign(c.vectors, false);
  in.watch_unowned_vectors();
  auto ok =
      in.loop_->add(in.server_->fd(), EPOLLIN, [&in](uint32_t) { in.server_->handle_events(); });
  if (!ok) {
    return bail(ok.error().code, ok.error().message);
  }
  spdlog::info("{}: adopted: {} client(s), guest {}, {} device(s)", c.name,
               in.server_->clients().size(), in.guest_.load(), in.devices_.size());
  return inst;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// Keeping every instance across a service restart in systemd's FD store
// (docs/handover.md): save_to_fdstore() on SIGTERM under a service
// manager instead of a host RESET, adopt_fdstore() at start, before the
// config objects and state.json are applied.
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "daemon/instance_handover.h"
#include "daemon/service.h"
#include "handover/fd_store.h"

namespace avm {

Status Service::adopt_fdstore() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main thread, nobody sets the environment
  if (std::getenv("LISTEN_FDS") == nullptr) {
    return {};
  }
  auto got = handover::fdstore_load();
  if (!got) {
    return tl::unexpected(got.error());
  }
  if (!got->package) {
    return {};
  }
  handover::Package& p = *got->package;
  auto list = handover::get_array(p.state, "instances");
  if (!list) {
    return tl::unexpected(list.error());
  }
  std::map<std::string, std::unique_ptr<Instance>> adopted;
  for (const nlohmann::json& s : **list) {
    auto inst = InstanceHandover::adopt(s, p.fds);
    if (!inst) {
      for (auto& [name, i] : adopted) {
        InstanceHandover::abandon(*i);
      }
      return make_error(inst.error().code, "FD store: " + inst.error().message);
    }
    const std::string name = (*inst)->config().name;
    adopted[name] = std::move(*inst);
  }
  spdlog::info("FD store: {} instances adopted", adopted.size());
  adopted_ = std::move(adopted);
  return {};
}

std::unique_ptr<Instance> Service::take_adopted(const std::string& name,
                                                const std::string& socket) {
  auto it = adopted_.find(name);
  if (it == adopted_.end() || it->second->config().socket_path != socket) {
    return nullptr;
  }
  std::unique_ptr<Instance> i = std::move(it->second);
  adopted_.erase(it);
  return i;
}

void Service::drop_unclaimed() {
  for (auto& [name, inst] : adopted_) {
    spdlog::warn("FD store: instance {} is no longer configured; resetting it", name);
    if (InstanceHandover::resume(*inst)) {
      inst->stop();
    } else {
      InstanceHandover::abandon(*inst);
    }
  }
  adopted_.clear();
}

bool Service::save_to_fdstore() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main thread, nobody sets the environment
  if (std::getenv("NOTIFY_SOCKET") == nullptr || instances_.empty()) {
    return false;
  }
  handover::Package p;
  p.state = {{"instances", nlohmann::json::array()}};
  std::vector<Instance*> exported;
  bool ok = true;
  for (auto& [name, e] : instances_) {
    auto state = InstanceHandover::export_state(*e.inst, p.fds);
    if (!state) {
      spdlog::error("FD store: {}: {}", name, state.error().message);
      ok = false;
      break;
    }
    p.state["instances"].push_back(std::move(*state));
    exported.push_back(e.inst.get());
  }
  if (ok) {
    if (auto saved = handover::fdstore_save(p); !saved) {
      spdlog::error("FD store: {}", saved.error().message);
      ok = false;
    }
  }
  if (!ok) {
    for (Instance* i : exported) {
      (void)InstanceHandover::resume(*i);
    }
    return false;
  }
  for (Instance* i : exported) {
    InstanceHandover::abandon(*i);
  }
  instances_.clear();
  spdlog::info("FD store: {} instances and {} fds kept for the next start",
               p.state["instances"].size(), p.fds.size());
  return true;
}

}  // namespace avm

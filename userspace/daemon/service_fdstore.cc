// SPDX-License-Identifier: GPL-2.0
// Keeping every instance across a service restart in systemd's FD store
// (docs/handover.md): save_to_fdstore() on SIGTERM under a service
// manager instead of a host RESET, adopt_fdstore() at start, before the
// config objects and state.json are applied.  The export and adoption of
// the instances are shared with the hand-over (service_handover.cc).
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "daemon/instance_handover.h"
#include "daemon/service.h"
#include "handover/fd_store.h"

namespace avm {

Status Service::adopt_instances(handover::Package& p, const std::string& from) {
  auto list = handover::get_array(p.state, "instances");
  if (!list) {
    return tl::unexpected(list.error());
  }
  std::map<std::string, std::unique_ptr<Instance>> adopted;
  for (const nlohmann::json& s : **list) {
    auto inst = InstanceHandover::adopt(s, p.fds);
    if (!inst || adopted.contains((*inst)->config().name)) {
      if (inst) {
        InstanceHandover::abandon(**inst);
      }
      for (auto& [name, i] : adopted) {
        InstanceHandover::abandon(*i);
      }
      return inst ? make_error(EINVAL, from + ": instance " + (*inst)->config().name + " twice")
                  : make_error(inst.error().code, from + ": " + inst.error().message);
    }
    const std::string name = (*inst)->config().name;
    adopted[name] = std::move(*inst);
  }
  spdlog::info("{}: {} instances adopted", from, adopted.size());
  adopted_ = std::move(adopted);
  return {};
}

void Service::discard_adopted() {
  for (auto& [name, inst] : adopted_) {
    InstanceHandover::abandon(*inst);
  }
  adopted_.clear();
}

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
  return adopt_instances(*got->package, "FD store");
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
    spdlog::warn("instance {} (handed over) is no longer configured; resetting it", name);
    if (InstanceHandover::resume(*inst)) {
      inst->stop();
    } else {
      InstanceHandover::abandon(*inst);
    }
  }
  adopted_.clear();
}

Result<handover::Package> Service::export_instances(std::vector<Instance*>& exported,
                                                    bool skip_unsupported) {
  handover::Package p;
  p.state = {{"instances", nlohmann::json::array()}};
  exported.clear();
  for (auto& [name, e] : instances_) {
    // On failure export_state() has resumed this one already.
    auto state = InstanceHandover::export_state(*e.inst, p.fds);
    if (!state && skip_unsupported && state.error().code == ENOTSUP) {
      spdlog::warn("FD store: instance {} cannot be kept ({}); it is reset", name,
                   state.error().message);
      continue;
    }
    if (!state) {
      resume_exported(exported);
      return make_error(state.error().code, name + ": " + state.error().message);
    }
    p.state["instances"].push_back(std::move(*state));
    exported.push_back(e.inst.get());
  }
  return p;
}

void Service::resume_exported(std::vector<Instance*>& exported) {
  for (Instance* i : exported) {
    if (auto ok = InstanceHandover::resume(*i); !ok) {
      spdlog::critical("{}: cannot serve again: {}", i->config().name, ok.error().message);
    }
  }
  exported.clear();
}

void Service::abandon_exported(std::vector<Instance*>& exported) {
  // Quiesced by the export: the counters as the successor got them.
  handed_over_stats_ = legacy_stats_json();
  for (Instance* i : exported) {
    const std::string name = i->config().name;  // i dies with the entry
    InstanceHandover::abandon(*i);
    instances_.erase(name);
  }
  exported.clear();
}

bool Service::save_to_fdstore() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main thread, nobody sets the environment
  if (std::getenv("NOTIFY_SOCKET") == nullptr || instances_.empty()) {
    return false;
  }
  // An instance that cannot be kept (a device on the kernel backend) is
  // reset by stop() like without a service manager; the rest are kept.
  std::vector<Instance*> exported;
  auto p = export_instances(exported, true);
  if (!p) {
    spdlog::error("FD store: {}", p.error().message);
    return false;
  }
  if (exported.empty()) {
    return false;
  }
  if (auto saved = handover::fdstore_save(*p); !saved) {
    spdlog::error("FD store: {}", saved.error().message);
    resume_exported(exported);
    return false;
  }
  abandon_exported(exported);
  spdlog::info("FD store: {} instances and {} fds kept for the next start",
               p->state["instances"].size(), p->fds.size());
  return true;
}

}  // namespace avm

// SPDX-License-Identifier: GPL-2.0
// BridgeRuntime's hand-over half (bridge_runtime.h, docs/handover.md):
// quiesce, export, adopt, resume, abandon.  Nothing here but resume()
// writes to the region, and nothing reads the host's fields back from it:
// the guest keeps running on it while the host changes hands, and
// resume() writes every host-owned field again from the records handed
// over (the same values, unless the guest scribbled over them).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>

#include "bridge/bridge_runtime.h"
#include "handover/fd_bundle.h"

namespace avm {
namespace {

using handover::get_array;
using handover::get_bool;
using handover::get_object;
using handover::get_u32;
using handover::get_u64;

constexpr uint32_t kStateVersion = 1;

// Unwraps a Result or returns its error (prefixed) from the enclosing
// function.  @var names a new variable: it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define AVM_TRY(var, expr)                                                 \
  auto var = (expr);                                                       \
  if (!var) {                                                              \
    return make_error(EINVAL, "bridge hand-over: " + var.error().message); \
  }
// NOLINTEND(bugprone-macro-parentheses)

nlohmann::json device_json(const DeviceInfo& d) {
  auto queues = nlohmann::json::array();
  for (const vbus_queue_desc& q : d.layout.queues) {
    queues.push_back({q.num_entries, q.buf_size});
  }
  return {{"id", d.id},
          {"type", d.type},
          {"abi_version", d.abi_version},
          {"slot", d.slot},
          {"state", d.state},
          {"vector", d.doorbell_vector},
          {"area_offset", d.area_offset},
          {"config_size", d.layout.config_size},
          {"queues", queues}};
}

Result<DeviceInfo> device_info(const nlohmann::json& j) {
  DeviceInfo d;
  AVM_TRY(id, get_u32(j, "id"));
  AVM_TRY(type, get_u32(j, "type"));
  AVM_TRY(abi, get_u32(j, "abi_version"));
  AVM_TRY(slot, get_u32(j, "slot"));
  AVM_TRY(state, get_u32(j, "state"));
  AVM_TRY(vector, get_u32(j, "vector"));
  AVM_TRY(area, get_u64(j, "area_offset"));
  AVM_TRY(config_size, get_u32(j, "config_size", BridgeLayout::kMaxConfigSize));
  AVM_TRY(queues, get_array(j, "queues"));
  std::vector<QueueSpec> specs;
  for (const auto& q : **queues) {
    if (!q.is_array() || q.size() != 2 || !q[0].is_number_unsigned() ||
        !q[1].is_number_unsigned() || q[0].get<uint64_t>() > UINT32_MAX ||
        q[1].get<uint64_t>() > UINT32_MAX) {
      return make_error(EINVAL, "bridge hand-over: device " + std::to_string(*id) +
                                    ": a queue is not [entries, buf_size]");
    }
    specs.push_back(QueueSpec{q[0].get<uint32_t>(), q[1].get<uint32_t>()});
  }
  auto layout = layout_device_area(*config_size, specs);
  if (!layout) {
    return make_error(
        EINVAL, "bridge hand-over: device " + std::to_string(*id) + ": " + layout.error().message);
  }
  d.id = *id;
  d.type = *type;
  d.abi_version = *abi;
  d.slot = *slot;
  d.state = *state;
  d.doorbell_vector = *vector;
  d.area_offset = *area;
  d.layout = std::move(*layout);
  return d;
}

// At most 64 bytes of printable ASCII: what goes into every log line.
bool printable_name(const std::string& s) {
  constexpr size_t kMaxLogName = 64;
  return s.size() <= kMaxLogName &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

}  // namespace

Status BridgeRuntime::quiesce() {
  if (quiesced_) {
    return {};
  }
  if (watching_) {
    loop_.remove(doorbells_[VBUS_BRIDGE_VECTOR].fd());
    watching_ = false;
  }
  quiesced_ = true;
  for (auto& [id, e] : devices_) {
    e.runtime = nlohmann::json::object();
    if (!e.opened || e.quarantined) {
      continue;
    }
    if (auto ok = e.dev->quiesce(); !ok) {
      // Cannot pause it: serve again and refuse the hand-over.
      (void)resume();
      return make_error(ok.error().code,
                        "device " + std::to_string(id) + ": " + ok.error().message);
    }
    e.runtime = e.dev->runtime_state();
  }
  spdlog::info("{}bridge: quiesced for hand-over (host state {}, epoch {})", log_prefix_,
               host_state_, epoch_);
  return {};
}

Result<nlohmann::json> BridgeRuntime::export_state() const {
  if (!quiesced_) {
    return make_error(EINVAL, "bridge: export before quiesce");
  }
  const BridgeConfig& c = layout_.config();
  nlohmann::json j;
  j["version"] = kStateVersion;
  j["log_name"] = log_name_;
  j["config"] = {{"devtab_slots", c.devtab_slots},   {"evq_entries", c.evq_entries},
                 {"call_slots", c.call_slots},       {"num_vectors", c.num_vectors},
                 {"host_features", c.host_features}, {"host_peer_id", c.host_peer_id},
                 {"host_epoch", c.host_epoch}};
  j["next_id"] = layout_.next_id();
  auto devices = nlohmann::json::array();
  for (const auto& [id, e] : devices_) {
    const DeviceInfo* info = layout_.device(id);
    AVM_CHECK(info != nullptr);  // the registry and the layout agree
    nlohmann::json d = device_json(*info);
    d["opened"] = e.opened;
    d["removing"] = e.removing;
    d["quarantined"] = e.quarantined;
    d["runtime"] = e.runtime;
    devices.push_back(std::move(d));
  }
  j["devices"] = devices;
  j["host_state"] = host_state_;
  j["epoch"] = epoch_;
  j["features"] = features_;
  j["devtab_generation"] = layout_.devtab_generation();
  j["started"] = started_;
  j["started_once"] = started_once_;
  const EventQueue::Position p = evq_.position();
  j["evq"] = {{"produced", p.produced}, {"overflows", p.overflows}, {"enabled", p.enabled}};
  j["answered"] = calls_.answered();
  j["counters"] = stats_to_json(counters(), kBridgeStats);
  j["evq_counters"] = stats_to_json(evq_.counters(), kEventQueueStats);
  j["call_counters"] = stats_to_json(calls_.counters(), kCallStats);
  return j;
}

Result<std::unique_ptr<BridgeRuntime>> BridgeRuntime::adopt(
    std::span<uint8_t> region, const nlohmann::json& state, EventLoop& loop,
    std::span<const EventFd> doorbells, std::map<uint32_t, std::unique_ptr<Device>>&& devices) {
  AVM_TRY(version, get_u32(state, "version"));
  if (*version != kStateVersion) {
    return make_error(EINVAL, "bridge hand-over: state version " + std::to_string(*version));
  }
  AVM_TRY(cj, get_object(state, "config"));
  BridgeConfig c;
  AVM_TRY(slots, get_u32(**cj, "devtab_slots"));
  AVM_TRY(entries, get_u32(**cj, "evq_entries"));
  AVM_TRY(call_slots, get_u32(**cj, "call_slots"));
  AVM_TRY(vectors, get_u32(**cj, "num_vectors"));
  AVM_TRY(features, get_u64(**cj, "host_features"));
  AVM_TRY(peer, get_u32(**cj, "host_peer_id"));
  AVM_TRY(cepoch, get_u32(**cj, "host_epoch"));
  c.devtab_slots = *slots;
  c.evq_entries = *entries;
  c.call_slots = *call_slots;
  c.num_vectors = *vectors;
  c.host_features = *features;
  c.host_peer_id = *peer;
  c.host_epoch = *cepoch;
  if (doorbells.size() != c.num_vectors) {
    return make_error(EINVAL, "bridge hand-over: " + std::to_string(doorbells.size()) +
                                  " doorbells for " + std::to_string(c.num_vectors) + " vectors");
  }
  // Nothing is read from the region (the guest may have scribbled over
  // the host's fields): resume() writes them again from this state.
  AVM_TRY(next_id, get_u32(state, "next_id"));
  AVM_TRY(dj, get_array(state, "devices"));
  std::vector<DeviceInfo> infos;
  struct Flags {
    bool opened, removing, quarantined;
    nlohmann::json runtime;
  };
  std::map<uint32_t, Flags> flags;
  for (const auto& d : **dj) {
    auto info = device_info(d);
    if (!info) {
      return tl::unexpected(info.error());
    }
    AVM_TRY(opened, get_bool(d, "opened"));
    AVM_TRY(removing, get_bool(d, "removing"));
    AVM_TRY(quarantined, get_bool(d, "quarantined"));
    AVM_TRY(runtime, get_object(d, "runtime"));
    if (devices.count(info->id) == 0) {
      return make_error(
          EINVAL, "bridge hand-over: no device object for device " + std::to_string(info->id));
    }
    flags[info->id] = Flags{*opened, *removing, *quarantined, **runtime};
    infos.push_back(std::move(*info));
  }
  if (flags.size() != devices.size()) {
    return make_error(EINVAL, "bridge hand-over: device objects without a record");
  }
  // Optional (states from before they were handed over have none): the
  // negotiated features and devtab_generation, as resume() writes them.
  Result<uint32_t> generation = 0;
  if (state.contains("devtab_generation")) {
    generation = get_u32(state, "devtab_generation");
  }
  Result<uint64_t> negotiated = 0;
  if (state.contains("features")) {
    negotiated = get_u64(state, "features");
  }
  if (!generation || !negotiated) {
    return make_error(EINVAL, "bridge hand-over: 'devtab_generation' or 'features' is no number");
  }
  if ((*negotiated & ~c.host_features) != 0) {
    return make_error(EINVAL, "bridge hand-over: negotiated features the host never offered");
  }
  auto layout = BridgeLayout::adopt(region, c, std::move(infos), *next_id, *generation);
  if (!layout) {
    return tl::unexpected(layout.error());
  }
  AVM_TRY(host_state, get_u32(state, "host_state"));
  AVM_TRY(epoch, get_u32(state, "epoch"));
  AVM_TRY(started, get_bool(state, "started"));
  AVM_TRY(started_once, get_bool(state, "started_once"));
  if (*host_state != VBUS_STATE_RESET && *host_state != VBUS_STATE_READY &&
      *host_state != VBUS_STATE_RUN) {
    return make_error(EINVAL, "bridge hand-over: host_state " + std::to_string(*host_state));
  }
  AVM_TRY(ej, get_object(state, "evq"));
  AVM_TRY(produced, get_u32(**ej, "produced"));
  AVM_TRY(overflows, get_u32(**ej, "overflows"));
  AVM_TRY(enabled, get_bool(**ej, "enabled"));
  AVM_TRY(aj, get_array(state, "answered"));
  std::vector<uint32_t> answered;
  for (const auto& a : **aj) {
    if (!a.is_number_unsigned() || a.get<uint64_t>() > UINT32_MAX) {
      return make_error(EINVAL, "bridge hand-over: 'answered' holds a non-u32");
    }
    answered.push_back(a.get<uint32_t>());
  }

  // Optional (states from before it was handed over have none): the
  // instance name for log lines, printable ASCII only.
  std::string log_name;
  if (auto n = state.find("log_name"); n != state.end()) {
    if (!n->is_string() || !printable_name(n->get_ref<const std::string&>())) {
      return make_error(EINVAL, "bridge hand-over: 'log_name' is not a printable name");
    }
    log_name = n->get<std::string>();
  }

  std::unique_ptr<BridgeRuntime> rt(new BridgeRuntime(std::move(*layout), loop, doorbells));
  rt->set_log_name(log_name);  // before the devices attach: they log through it
  if (auto ok = rt->calls_.resume(answered); !ok) {
    return make_error(EINVAL, "bridge hand-over: " + ok.error().message);
  }
  rt->evq_.resume(EventQueue::Position{*produced, *overflows, *enabled});
  rt->host_state_ = *host_state;
  rt->epoch_ = *epoch;
  rt->features_ = *negotiated;
  rt->started_ = *started;
  rt->started_once_ = *started_once;
  rt->quiesced_ = true;
  // The devices: attached to the areas their records name.  No open():
  // that would reset queues the guest is using; resume() continues them.
  for (auto& [id, dev] : devices) {
    const DeviceInfo* info = rt->layout_.device(id);
    auto link = std::make_unique<DeviceLink>(*rt);
    DeviceContext ctx;
    ctx.id = id;
    ctx.host = link.get();
    ctx.config = rt->layout_.config(id);
    for (uint32_t q = 0; q < info->layout.queues.size(); q++) {
      auto view = rt->layout_.queue_view(id, q);
      if (!view) {
        return make_error(
            EINVAL, "bridge hand-over: device " + std::to_string(id) + ": " + view.error().message);
      }
      ctx.queues.push_back(*view);
    }
    ctx.doorbell = &rt->doorbells_[info->doorbell_vector];
    ctx.doorbell_vector = info->doorbell_vector;
    if (dev->type() != info->type || dev->queue_specs().size() != info->layout.queues.size() ||
        dev->initial_config().size() != info->layout.config_size) {
      return make_error(EINVAL, "bridge hand-over: device " + std::to_string(id) +
                                    " object does not match its record");
    }
    if (auto ok = dev->attach(ctx); !ok) {
      return make_error(ok.error().code, "bridge hand-over: attach device " + std::to_string(id) +
                                             ": " + ok.error().message);
    }
    Flags& f = flags[id];
    Entry e;
    e.link = std::move(link);
    e.dev = std::move(dev);
    e.vector = info->doorbell_vector;
    e.opened = f.opened;
    e.removing = f.removing;
    e.quarantined = f.quarantined;
    e.runtime = std::move(f.runtime);
    rt->devices_.emplace(id, std::move(e));
  }
  // Counters only: a missing or malformed one counts from 0 again.
  auto counters = [&state](const char* key) {
    auto o = state.find(key);
    return o != state.end() ? *o : nlohmann::json();
  };
  rt->c_.continue_from(counters_from_json(counters("counters"), kBridgeStats));
  rt->evq_.add_counters(counters_from_json(counters("evq_counters"), kEventQueueStats));
  rt->calls_.add_counters(counters_from_json(counters("call_counters"), kCallStats));
  spdlog::info("{}bridge: adopted (host state {}, epoch {}, {} device(s))", rt->log_prefix_,
               rt->host_state_, rt->epoch_, rt->devices_.size());
  return rt;
}

Status BridgeRuntime::resume() {
  if (!quiesced_) {
    return {};
  }
  if (started_ && !watching_) {
    const EventFd& bell = doorbells_[VBUS_BRIDGE_VECTOR];
    auto ok = loop_.add(bell.fd(), EPOLLIN, [this, &bell](uint32_t) {
      bell.consume();
      on_doorbell();
    });
    if (!ok) {
      return ok;
    }
    watching_ = true;
  }
  quiesced_ = false;
  // Every host-owned field from our records, never from the region; not
  // the config areas: open devices go on with theirs.
  rewrite_region(false);
  store_host_state(host_state_);
  for (auto& [id, e] : devices_) {
    if (!e.opened || e.quarantined) {
      continue;
    }
    if (auto ok = e.dev->resume(e.runtime); !ok) {
      // As after a fault: the guest sees no carrier until it reopens.
      handle_fault(id, std::nullopt, ok.error());
    }
  }
  // Whatever the guest did while nobody watched: a call, an INIT.
  if (started_) {
    on_doorbell();
  }
  spdlog::info("{}bridge: serving (host state {}, epoch {})", log_prefix_, host_state_, epoch_);
  return {};
}

void BridgeRuntime::abandon() {
  AVM_CHECK(quiesced_);
  if (watching_) {
    loop_.remove(doorbells_[VBUS_BRIDGE_VECTOR].fd());
    watching_ = false;
  }
  // The destructor must neither RESET nor close/detach through the
  // device table: drop the devices here (their I/O threads are stopped).
  started_ = false;
  devices_.clear();
  evq_.clear_sink();
}

}  // namespace avm

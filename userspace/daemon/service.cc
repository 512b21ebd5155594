// SPDX-License-Identifier: GPL-2.0
// Service lifecycle: start (config objects, legacy instance, state.json,
// control socket, metrics), the main loop and its signals, persistence.
#include "daemon/service.h"

#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>

#include "daemon/instance_handover.h"
#include "daemon/methods.h"
#include "daemon/metrics_source.h"
#include "daemon/notify.h"
#include "metrics/metrics.h"

namespace avm {

Service::Service(ServiceOptions options)
    : options_(std::move(options)), store_(options_.config.daemon.state_dir) {
  add_methods(dispatcher_, *this);
}

void Service::request_stop() {
  if (loop_) {
    loop_->request_stop();
  }
}

void Service::check_owner() const {
  AVM_CHECK(!loop_ || !loop_->running() || loop_->on_loop_thread());
}

IoThread::OnFailure Service::report_failure(const std::string& name) {
  // On the instance thread: only post (the loop outlives the instances).
  return [this, name](const Error& e) {
    loop_->post([this, name, e] { on_instance_failed(name, e); });
  };
}

void Service::on_instance_failed(const std::string& name, const Error& e) {
  spdlog::critical("instance {}: its thread failed ({}); resetting it", name, e.message);
  if (Instance* inst = instance(name)) {
    inst->stop();
  }
}

Service::~Service() {
  stop();
}

std::string Service::run_dir() const {
  return std::filesystem::path(settings().control_socket).parent_path().string();
}

void Service::persist() const {
  if (!options_.persist) {
    return;
  }
  SavedState s;
  for (const auto& [name, e] : instances_) {
    if (e.spec.origin == Origin::kApi) {
      s.instances.push_back(e.spec);
    }
  }
  for (const auto& [name, d] : devices_) {
    if (d.origin == Origin::kApi) {
      s.devices.push_back(d);
    }
  }
  if (auto ok = store_.save(s); !ok) {
    spdlog::error("cannot save {}: {}", store_.path(), ok.error().message);
  }
}

void Service::changed(const rpc::Caller& caller, const std::string& what) const {
  spdlog::info("api: {} (pid {} uid {} gid {})", what, caller.pid, caller.uid, caller.gid);
  persist();
}

void Service::apply_config_objects() {
  for (const InstanceSpec& s : options_.config.instances) {
    if (auto ok = create_instance(s); !ok) {
      spdlog::error("{}: instance {}: {}", options_.config.file, s.name, ok.error().message);
    }
  }
  for (const DeviceSpec& s : options_.config.devices) {
    if (auto ok = create_device(s); !ok) {
      spdlog::error("{}: device {}: {}", options_.config.file, s.name, ok.error().message);
    }
  }
}

// API objects from state.json.  One that cannot be re-created (its TAP
// or socket is taken meanwhile, a config object took its name) is logged
// and left out; a device whose attach fails stays, detached.
void Service::restore() {
  auto saved = store_.load();
  if (!saved) {
    return;  // start() checked it
  }
  for (InstanceSpec s : saved->instances) {
    s.origin = Origin::kApi;
    if (auto ok = create_instance(s); !ok) {
      spdlog::error("{}: instance {} not restored: {}", store_.path(), s.name, ok.error().message);
    }
  }
  for (DeviceSpec s : saved->devices) {
    s.origin = Origin::kApi;
    if (auto ok = create_device(s); !ok && s.instance) {
      spdlog::error("{}: device {} not attached to {}: {}", store_.path(), s.name, *s.instance,
                    ok.error().message);
      s.instance.reset();
      if (auto again = create_device(s); !again) {
        spdlog::error("{}: device {} not restored: {}", store_.path(), s.name,
                      again.error().message);
      }
    } else if (!ok) {
      spdlog::error("{}: device {} not restored: {}", store_.path(), s.name, ok.error().message);
    }
  }
  spdlog::info("{}: {} instances, {} devices restored", store_.path(), saved->instances.size(),
               saved->devices.size());
}

Status Service::open_control() {
  rpc::ServerConfig rc;
  rc.path = settings().control_socket;
  rc.mode = 0660;
  rc.group = settings().control_group;
  rc.max_request_bytes = settings().max_request_bytes;
  rc.max_connections = settings().max_connections;
  auto handler = [this](std::string_view line, const rpc::Caller& c) {
    return dispatcher_.handle_line(line, c);
  };
  // Taken over: the old process's listener, with whatever waits in its
  // backlog; clients never find the socket missing.
  auto server = adopted_control_ ? rpc::Server::adopt(rc, handler, std::move(adopted_control_->fd),
                                                      adopted_control_->dev, adopted_control_->ino)
                                 : rpc::Server::create(rc, handler);
  const bool adopted = adopted_control_.has_value();
  adopted_control_.reset();
  if (!server) {
    return make_error(server.error().code,
                      "control socket " + rc.path + ": " + server.error().message);
  }
  control_ = std::move(*server);
  if (auto ok =
          loop_->add(control_->fd(), EPOLLIN, [this](uint32_t) { control_->handle_events(); });
      !ok) {
    control_.reset();
    return ok;
  }
  // The group only when the socket has it (rpc::Server warned if not).
  spdlog::info(
      "control socket {}{} ({}, max {} connections)", rc.path, adopted ? " (taken over)" : "",
      control_->has_group() ? "group " + rc.group : "the daemon's group", rc.max_connections);
  return {};
}

Status Service::open_metrics() {
  const MetricsSettings& m = options_.config.metrics;
  if (!m.enabled || metrics_) {
    return {};
  }
  auto server = metrics::Server::create(m.listen, [this] { return metric_families(*this); });
  if (!server) {
    return make_error(server.error().code, "metrics " + m.listen + ": " + server.error().message);
  }
  metrics_ = std::move(*server);
  if (auto ok =
          loop_->add(metrics_->fd(), EPOLLIN, [this](uint32_t) { metrics_->handle_events(); });
      !ok) {
    metrics_.reset();
    return ok;
  }
  spdlog::info("metrics on {}", metrics_->address());
  return {};
}

void Service::open_metrics_when_free() {
  if (open_metrics()) {
    return;
  }
  constexpr long kRetryNs = 10'000'000;  // 10 ms
  metrics_retry_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec its{};
  its.it_interval.tv_nsec = kRetryNs;
  its.it_value = its.it_interval;
  if (!metrics_retry_ || ::timerfd_settime(metrics_retry_.get(), 0, &its, nullptr) < 0 ||
      !loop_->add(metrics_retry_.get(), EPOLLIN, [this](uint32_t) { retry_metrics(); })) {
    metrics_retry_.reset();
    if (auto ok = open_metrics(); !ok) {
      spdlog::error("{}", ok.error().message);
    }
    return;
  }
  metrics_tries_ = 0;
}

void Service::retry_metrics() {
  constexpr int kMaxTries = 1000;  // 10 s
  uint64_t n = 0;
  if (::read(metrics_retry_.get(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) {
    return;
  }
  auto ok = open_metrics();
  if (ok || ++metrics_tries_ >= kMaxTries) {
    stop_metrics_retry();
    if (!ok) {
      // The instances are ours now: a failure here must not stop them.
      spdlog::error("{}", ok.error().message);
    }
  }
}

void Service::stop_metrics_retry() {
  if (metrics_retry_) {
    loop_->remove(metrics_retry_.get());
    metrics_retry_.reset();
  }
}

// The legacy command line's instance and devices (or, taken over with
// --takeover-from, the old process's): all or nothing starts.
Status Service::create_legacy_objects() {
  if (!options_.legacy) {
    return {};
  }
  if (auto ok = create_instance(options_.legacy->instance); !ok) {
    return make_error(EINVAL, ok.error().message);
  }
  for (const DeviceSpec& d : options_.legacy->devices) {
    if (auto ok = create_device(d); !ok) {
      return make_error(EINVAL, "venet: " + ok.error().message);
    }
  }
  return {};
}

Status Service::start() {
  check_owner();
  if (!loop_) {
    auto loop = EventLoop::create();
    if (!loop) {
      return make_error(loop.error().code, "service loop: " + loop.error().message);
    }
    loop_ = std::move(*loop);
  }
  if (options_.persist) {
    // A corrupt state file stops the start: better than forgetting objects.
    if (auto saved = store_.load(); !saved) {
      return tl::unexpected(saved.error());
    }
  }
  const std::string dir = run_dir();
  if (options_.control && !dir.empty() && ::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
    return errno_error("mkdir " + dir);
  }
  if (options_.takeover) {
    // Nothing is ours yet if this fails: the old daemon serves on.
    if (auto ok = take_over(); !ok) {
      return ok;
    }
  } else if (auto ok = adopt_fdstore(); !ok) {
    spdlog::error("{} (starting afresh)", ok.error().message);
  }
  if (auto ok = create_legacy_objects(); !ok) {
    return ok;
  }
  apply_config_objects();
  if (options_.persist) {
    restore();
  }
  drop_unclaimed();
  if (options_.control) {
    if (auto ok = open_control(); !ok) {
      return ok;
    }
  }
  if (!options_.takeover) {
    if (auto ok = open_metrics(); !ok) {  // taken over: in run(), once the instances serve
      return ok;
    }
  }
  if ((options_.control && !options_.legacy_mode()) || !options_.handover_listen.empty()) {
    open_handover();
  }
  return {};
}

void Service::on_signal(int signal_fd) {
  signalfd_siginfo si{};
  while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    const int sig = static_cast<int>(si.ssi_signo);
    switch (sig) {
      case SIGUSR1:
      case SIGUSR2: {
        const bool up = sig == SIGUSR2;
        spdlog::info("received SIG{}: host link {}", sigabbrev_np(sig), up ? "up" : "down");
        if (options_.legacy && !options_.legacy->devices.empty()) {
          const std::string& dev = options_.legacy->devices.front().name;
          if (auto ok = set_link(dev, up, Origin::kLegacy); !ok) {
            spdlog::warn("link {}: {}", up ? "up" : "down", ok.error().message);
          }
        }
        break;
      }
      case SIGQUIT:
        spdlog::info("stats: {}", legacy_stats_json());
        break;
      case SIGHUP:
        if (auto r = reload(); !r) {
          spdlog::error("reload: {}", r.error().message);
        }
        break;
      default:
        spdlog::info("received SIG{}, shutting down", sigabbrev_np(sig));
        loop_->request_stop();
        break;
    }
  }
}

std::string Service::status_line() const {
  return fmt::format("{} instances, {} devices", instances_.size(), devices_.size());
}

std::string Service::legacy_stats_json() const {
  if (handed_over_stats_) {
    return *handed_over_stats_;
  }
  if (options_.legacy) {
    if (Instance* inst = instance(options_.legacy->instance.name)) {
      return inst->stats_json();
    }
  }
  return stats(std::nullopt).value_or(rpc::Json::object()).dump();
}

Status Service::run(int signal_fd) {
  AVM_CHECK(loop_ && !loop_->running());  // after start(), once
  for (auto& [name, e] : instances_) {
    auto ok = resumed_.contains(name) ? InstanceHandover::resume(*e.inst) : e.inst->start();
    if (!ok) {
      return make_error(ok.error().code, "instance " + name + ": " + ok.error().message);
    }
  }
  threads_started_ = true;
  if (!options_.takeover_from.empty() && options_.legacy) {
    spdlog::info("takeover: serving instance {}", options_.legacy->instance.name);
  }
  if (options_.takeover) {
    open_metrics_when_free();
  }
  if (signal_fd >= 0) {
    if (auto ok =
            loop_->add(signal_fd, EPOLLIN, [this, signal_fd](uint32_t) { on_signal(signal_fd); });
        !ok) {
      return ok;
    }
  }
  notifier_ = std::make_unique<Notifier>(*loop_);
  notifier_->ready(status_line());
  loop_->run();
  loop_->clear_stop();
  notifier_->stopping();
  notifier_.reset();
  if (signal_fd >= 0) {
    loop_->remove(signal_fd);
  }
  return {};
}

void Service::stop() {
  check_owner();
  if (!loop_) {
    return;  // never started
  }
  stop_metrics_retry();
  close_handover();
  if (control_) {
    loop_->remove(control_->fd());
    control_.reset();
  }
  if (metrics_) {
    loop_->remove(metrics_->fd());
    metrics_.reset();
  }
  for (auto& [name, e] : instances_) {
    e.inst->stop();
  }
}

}  // namespace avm

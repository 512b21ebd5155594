// SPDX-License-Identifier: GPL-2.0
// avm::Service: alacrityvmd as a whole.  Instances and devices by name
// (from the config file, from the API, or the legacy command line), the
// rules between them (limits, vectors, read-only config objects, nothing
// half-applied), state.json for the API-created ones, and the main loop:
// signals, the JSON-RPC control socket, metrics, the systemd watchdog.
//
// Threading: everything here runs on the thread that runs the service
// loop (run()), or on any one thread while no loop runs (start(), stop(),
// tests); the operations check it (AVM_CHECK).  Each Instance runs its own
// thread and is called through its run_sync; a failed instance thread is
// reported to this loop and that instance is reset.
//
// Errors (docs/architecture.md, "Error policy"): start() and run() return
// a Status with the real errno and message; nothing here throws.
//
// Every operation either succeeds completely or changes nothing and
// returns the JSON-RPC fault of docs/control-api.md.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bridge/event_loop.h"
#include "bridge/io_thread.h"
#include "daemon/config.h"
#include "daemon/instance.h"
#include "daemon/socket_group.h"
#include "daemon/spec.h"
#include "daemon/state_store.h"
#include "handover/fd_bundle.h"
#include "lib/error.h"
#include "lib/unique_fd.h"
#include "rpc/dispatcher.h"
#include "rpc/protocol.h"
#include "rpc/server.h"

namespace avm::metrics {
class Server;
}

namespace avm {
class Notifier;
}

namespace avm {

// The legacy command line's objects (legacy.h): one transient instance
// and its devices, never persisted, read-only for the API; failing to
// create them fails start().
struct LegacyObjects {
  InstanceSpec instance;
  std::vector<DeviceSpec> devices;  // SIGUSR1/SIGUSR2 set the first one's link
  mode_t socket_mode = 0600;
};

struct ServiceOptions {
  Config config;             // [daemon], [metrics] and the config objects
  bool config_file = false;  // config.file was read (reload re-reads it)
  bool control = true;       // open the control socket
  bool persist = true;       // read and write state.json
  std::optional<LegacyObjects> legacy;
  unsigned max_clients = 16;  // QEMU processes per instance
  // --takeover: start by taking every instance and the control socket
  // over from the daemon listening on handover_socket() (service_handover.cc).
  bool takeover = false;
  // Legacy mode (legacy.h).  handover_listen: where a successor may take
  // over (--handover-listen; a service always listens on handover.sock
  // next to its control socket).  takeover_from (--takeover-from, with
  // takeover): the single instance handed over from there, with its
  // devices, becomes `legacy`.
  std::string handover_listen;
  std::string takeover_from;
  bool legacy_mode() const { return legacy.has_value() || !takeover_from.empty(); }
};

// The hand-over socket of a service whose control socket is @control_socket:
// "handover.sock" next to it.
std::string handover_socket_path(const std::string& control_socket);

class Service {
 public:
  // No syscalls: start() makes the loop and everything else.
  explicit Service(ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Config objects, the legacy instance, state.json, the control socket
  // and metrics.  Instances listen (no threads yet: the caller may fork).
  Status start();
  // Starts the instance threads, then serves until SIGINT/SIGTERM on
  // @signal_fd (-1: none) or request_stop().
  Status run(int signal_fd);
  // Any thread; before start() a no-op.
  void request_stop();
  // Host RESET on every instance, sockets closed.
  void stop();
  // Under a service manager (NOTIFY_SOCKET): every instance exported into
  // systemd's FD store and let go without a RESET (service_fdstore.cc).
  // false: nothing saved, every instance serves on (stop() resets them).
  // An instance that cannot be exported (kernel backend) is not saved and
  // stays for stop() to reset; the others are still saved.
  bool save_to_fdstore();
  // Another process (`alacrityvmd --takeover`) serves every instance and
  // the control socket now; run() has returned, nothing is left to stop.
  bool handed_over() const { return handed_over_; }

  // --- operations (the JSON-RPC methods call these) -------------------
  rpc::Outcome<void> create_instance(const InstanceSpec& spec);
  rpc::Outcome<void> delete_instance(const std::string& name, bool force, Origin by);
  rpc::Outcome<void> create_device(const DeviceSpec& spec);
  rpc::Outcome<void> delete_device(const std::string& name, Origin by);
  rpc::Outcome<void> attach(const std::string& device, const std::string& instance, Origin by);
  rpc::Outcome<void> detach(const std::string& device, Origin by);
  rpc::Outcome<void> set_link(const std::string& device, bool up, Origin by);
  rpc::Outcome<rpc::Json> reload();

  rpc::Outcome<rpc::Json> instance_json(const std::string& name, bool with_stats) const;
  rpc::Outcome<rpc::Json> device_json(const std::string& name, bool with_stats) const;
  std::vector<std::string> instance_names() const;
  std::vector<std::string> device_names(const std::optional<std::string>& instance) const;
  rpc::Outcome<rpc::Json> stats(const std::optional<std::string>& instance) const;
  // For the generators: NOT_FOUND if there is no such instance.
  rpc::Outcome<InstanceSpec> instance_spec(const std::string& name) const;
  std::string run_dir() const;

  const DaemonSettings& settings() const { return options_.config.daemon; }
  const rpc::Dispatcher& dispatcher() const { return dispatcher_; }
  Instance* instance(const std::string& name) const;
  // Rewrites state.json with the API-created objects (after a change).
  void persist() const;
  // A state-changing call succeeded: log who made it, persist.
  void changed(const rpc::Caller& caller, const std::string& what) const;
  // systemd's STATUS=.
  std::string status_line() const;
  // The legacy SIGQUIT line (and the one logged at exit).  After a
  // hand-over (or a save to the FD store) the counters as they were
  // handed over: the operator's last look.
  std::string legacy_stats_json() const;

 private:
  struct InstanceEntry {
    InstanceSpec spec;
    std::unique_ptr<Instance> inst;
  };

  using DeviceMap = std::map<std::string, DeviceSpec>;
  rpc::Outcome<void> writable(Origin origin, const std::string& what) const;
  // NOT_FOUND if @it is end(), READ_ONLY if @by is the API and the
  // device is not the API's.
  rpc::Outcome<void> may_change(DeviceMap::const_iterator it, const std::string& name,
                                Origin by) const;
  // TAP, bridge, VenetDevice, Instance::attach; nothing left on failure.
  rpc::Outcome<void> plug(const DeviceSpec& spec, InstanceEntry& e);
  void restore();
  // FD store: what the previous process saved (LISTEN_FDS), adopted but
  // not serving until a config object or state.json claims it by name
  // and socket; the rest is reset after start.
  Status adopt_fdstore();
  // Shared by the FD store and the hand-over (service_fdstore.cc): every
  // instance exported into one package ({"instances": [...]}; on failure
  // the exported ones serve again and @exported is empty; with
  // @skip_unsupported an instance that cannot be exported (ENOTSUP: a
  // kernel-backend device) is left out and serves on), what to do with
  // them afterwards (abandon_exported() drops only those from
  // instances_), and the taking side's adoption into adopted_.
  Result<handover::Package> export_instances(std::vector<Instance*>& exported,
                                             bool skip_unsupported = false);
  static void resume_exported(std::vector<Instance*>& exported);
  void abandon_exported(std::vector<Instance*>& exported);
  Status adopt_instances(handover::Package& p, const std::string& from);
  void discard_adopted();
  // The hand-over (service_handover.cc): the old side listens on
  // handover_socket() and gives on the service thread; the new side
  // (--takeover, --takeover-from) takes in start().
  std::string handover_socket() const;
  void open_handover();
  void close_handover();
  void on_handover();
  void let_go();
  Status take_over();
  Status adopt_legacy(handover::Package& p);
  Status create_legacy_objects();
  std::unique_ptr<Instance> take_adopted(const std::string& name, const std::string& socket);
  void drop_unclaimed();
  void apply_config_objects();
  void on_signal(int signal_fd);
  void on_control();
  Status open_control();
  Status open_metrics();
  // Taken over: the old process closes its metrics listener a moment
  // after the hand-over; bind again on a timer of the loop (every 10 ms,
  // 10 s at most), never blocking it.
  void open_metrics_when_free();
  void retry_metrics();
  void stop_metrics_retry();
  // The operations' check: on the loop's thread while it runs.
  void check_owner() const;
  // An instance's failure callback: posts on_instance_failed() to the loop.
  IoThread::OnFailure report_failure(const std::string& name);
  void on_instance_failed(const std::string& name, const Error& e);
  // Diff the running config objects against @next.
  rpc::Json apply_reload(const Config& next);

  ServiceOptions options_;
  std::unique_ptr<EventLoop> loop_;
  std::map<std::string, InstanceEntry> instances_;
  DeviceMap devices_;
  StateStore store_;
  rpc::Dispatcher dispatcher_;
  std::unique_ptr<rpc::Server> control_;
  std::unique_ptr<metrics::Server> metrics_;
  std::unique_ptr<Notifier> notifier_;
  UniqueFd metrics_retry_;  // timerfd while open_metrics_when_free() waits
  int metrics_tries_ = 0;
  bool threads_started_ = false;
  std::map<std::string, std::unique_ptr<Instance>> adopted_;
  std::set<std::string> resumed_;  // adopted: resume(), not start()
  // legacy_stats_json() as the instances were handed over (abandon_exported()).
  std::optional<std::string> handed_over_stats_;
  // Hand-over: our listener (and its file's identity), the control
  // socket received from the old process, whether we handed over.
  UniqueFd handover_fd_;
  dev_t handover_dev_ = 0;
  ino_t handover_ino_ = 0;
  struct AdoptedControl {
    UniqueFd fd;
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  std::optional<AdoptedControl> adopted_control_;
  SocketGroup socket_group_;
  bool handed_over_ = false;
};

}  // namespace avm

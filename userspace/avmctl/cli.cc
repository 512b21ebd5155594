// SPDX-License-Identifier: GPL-2.0
#include "avmctl/cli.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "avmctl/format.h"
#include "avmctl/rpc_client.h"

namespace avm::avmctl {

namespace {

using nlohmann::json;

constexpr const char* kDefaultSocket = "/run/alacrityvm/control.sock";

// What a leaf subcommand asks of the daemon and how it shows the answer.
struct Call {
  std::string method;
  json params = json::object();
  std::function<std::string(const json&)> show;
};

// The option values; each leaf subcommand reads the ones it declared.
struct Values {
  std::string socket = kDefaultSocket;
  bool json_out = false;
  double timeout = 30;

  std::string name;
  std::string instance;
  std::string socket_path;
  std::string region_size;
  unsigned vectors = 0;
  bool force = false;
  bool names_only = false;

  std::string type = "venet";
  std::string tap;
  std::string bridge;
  std::string netns;
  std::string mac;
  unsigned mtu = 0;
  unsigned queues = 0;
  std::string backend;
  std::string link;
};

std::string names_of(const json& list) {
  std::string out;
  if (list.is_array()) {
    for (const json& o : list) {
      if (o.is_object() && o.contains("name") && o["name"].is_string()) {
        out += o["name"].get<std::string>() + "\n";
      }
    }
  }
  return out;
}

// region_size goes as a number when it is one, else as "4M" for the daemon
// to parse.
json size_param(const std::string& s) {
  if (!s.empty() && s.size() < 20 && s.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoull(s);
  }
  return s;
}

// Sets params[key] = value when the option was given on the command line.
template <class T>
void optional_param(const CLI::Option* opt, json& params, const char* key, const T& value) {
  if (opt->count() > 0) {
    params[key] = value;
  }
}

class Cli {
 public:
  Cli() : app_("avmctl: control alacrityvmd, the AlacrityVM daemon", "avmctl") {
    app_.set_version_flag("--version", std::string("avmctl ") + AVM_VERSION_STRING);
    app_.add_option("-s,--socket", v_.socket, "the daemon's control socket")
        ->envname("AVMCTL_SOCKET")
        ->capture_default_str();
    app_.add_flag("-j,--json", v_.json_out, "print the daemon's raw JSON result");
    app_.add_option("--timeout", v_.timeout, "seconds to wait for an answer")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    app_.require_subcommand(1);
    add_simple();
    add_instance();
    add_device();
  }

  int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

 private:
  CLI::App* leaf(CLI::App* parent, const std::string& name, const std::string& help,
                 std::function<Call()> make) {
    CLI::App* sub = parent->add_subcommand(name, help);
    leaves_.emplace_back(sub, std::move(make));
    return sub;
  }

  void add_simple() {
    leaf(&app_, "ping", "check that the daemon answers", [] {
      return Call{"ping", json::object(), [](const json&) { return std::string("pong\n"); }};
    });
    leaf(&app_, "version", "the daemon's version and ABI", [] {
      return Call{"version", json::object(), [](const json& r) {
                    return "alacrityvmd " + cell(r.value("version", json())) + " (ABI " +
                           cell(r.value("abi", json())) + ")\navmctl " + AVM_VERSION_STRING + "\n";
                  }};
    });
    CLI::App* link = leaf(&app_, "link", "set a device's host-side link up or down", [this] {
      const std::string name = v_.name;
      const std::string state = v_.link;
      return Call{"device.set_link",
                  {{"name", name}, {"up", state == "up"}},
                  [name, state](const json&) { return name + ": link " + state + "\n"; }};
    });
    link->add_option("NAME", v_.name, "device")->required();
    link->add_option("STATE", v_.link, "up or down")
        ->required()
        ->check(CLI::IsMember({"up", "down"}));
    CLI::App* stats = leaf(&app_, "stats", "counters of every (or one) instance", [this] {
      json params = json::object();
      if (!v_.instance.empty()) {
        params["instance"] = v_.instance;
      }
      return Call{"stats", params, stats_table};
    });
    stats->add_option("INSTANCE", v_.instance, "only this instance");
    CLI::App* qemu =
        leaf(&app_, "qemu-args", "QEMU arguments that attach a VM to an instance", [this] {
          return Call{"instance.qemu_args", {{"name", v_.name}}, [](const json& r) {
                        return shell_line(r.value("args", json()));
                      }};
        });
    qemu->add_option("INSTANCE", v_.name, "instance")->required();
    CLI::App* xml =
        leaf(&app_, "libvirt-xml", "the libvirt <shmem> element for an instance", [this] {
          return Call{"instance.libvirt_xml", {{"name", v_.name}}, [](const json& r) {
                        std::string x = cell(r.value("xml", json()));
                        return x.ends_with('\n') ? x : x + "\n";
                      }};
        });
    xml->add_option("INSTANCE", v_.name, "instance")->required();
    leaf(&app_, "reload", "re-read the configuration file", [] {
      return Call{"daemon.reload", json::object(), reload_summary};
    });
  }

  void add_instance() {
    CLI::App* inst = app_.add_subcommand("instance", "instances: one per VM");
    inst->require_subcommand(1);
    CLI::App* create = leaf(inst, "create", "create an instance", [this] {
      json p = {{"name", v_.name}};
      optional_param(socket_opt_, p, "socket", v_.socket_path);
      optional_param(region_opt_, p, "region_size", size_param(v_.region_size));
      optional_param(vectors_opt_, p, "vectors", v_.vectors);
      return Call{"instance.create", p, instance_details};
    });
    create->add_option("NAME", v_.name, "instance name")->required();
    socket_opt_ =
        create->add_option("--socket-path", v_.socket_path,
                           "ivshmem socket for QEMU (default: /run/alacrityvm/NAME.sock)");
    region_opt_ =
        create->add_option("--region-size", v_.region_size, "shared memory size, e.g. 4M");
    vectors_opt_ = create->add_option("--vectors", v_.vectors, "MSI-X vectors (1..64)");

    CLI::App* del = leaf(inst, "delete", "delete an instance", [this] {
      json p = {{"name", v_.name}};
      if (v_.force) {
        p["force"] = true;
      }
      const std::string name = v_.name;
      return Call{"instance.delete", p,
                  [name](const json&) { return "deleted instance " + name + "\n"; }};
    });
    del->add_option("NAME", v_.name, "instance name")->required();
    del->add_flag("-f,--force", v_.force, "even if a guest is connected");

    CLI::App* list = leaf(inst, "list", "list instances", [this] {
      const bool names = v_.names_only;
      return Call{"instance.list", json::object(), [names](const json& r) {
                    const json l = r.value("instances", json::array());
                    return names ? names_of(l) : instance_table(l);
                  }};
    });
    list->add_flag("--names", v_.names_only, "names only, one per line");

    CLI::App* show = leaf(inst, "show", "an instance and its counters", [this] {
      return Call{"instance.show", {{"name", v_.name}}, instance_details};
    });
    show->add_option("NAME", v_.name, "instance name")->required();
  }

  void add_device() {
    CLI::App* dev = app_.add_subcommand("device", "devices: network interfaces of a guest");
    dev->require_subcommand(1);
    CLI::App* create = leaf(dev, "create", "create a device (and attach it)", [this] {
      json p = {{"name", v_.name}, {"type", v_.type}};
      optional_param(d_instance_, p, "instance", v_.instance);
      optional_param(d_tap_, p, "tap", v_.tap);
      optional_param(d_bridge_, p, "bridge", v_.bridge);
      optional_param(d_netns_, p, "netns", v_.netns);
      optional_param(d_mac_, p, "mac", v_.mac);
      optional_param(d_mtu_, p, "mtu", v_.mtu);
      optional_param(d_queues_, p, "queues", v_.queues);
      optional_param(d_backend_, p, "backend", v_.backend);
      optional_param(d_link_, p, "link", v_.link);
      return Call{"device.create", p, device_details};
    });
    create->add_option("NAME", v_.name, "device name")->required();
    create->add_option("--type", v_.type, "device type")
        ->check(CLI::IsMember({"venet"}))
        ->capture_default_str();
    d_instance_ = create->add_option("-i,--instance", v_.instance, "attach to this instance");
    d_tap_ = create->add_option("--tap", v_.tap, "TAP name (default: avm-NAME)");
    d_bridge_ = create->add_option("--bridge", v_.bridge, "Linux bridge to enslave the TAP to");
    d_netns_ = create->add_option("--netns", v_.netns,
                                  "create the TAP in this network namespace (/run/netns/NS)");
    d_mac_ = create->add_option("--mac", v_.mac, "guest MAC address");
    d_mtu_ = create->add_option("--mtu", v_.mtu, "MTU (68..65535)");
    d_queues_ = create->add_option("--queues", v_.queues, "queue pairs");
    d_backend_ = create->add_option("--backend", v_.backend, "user, kernel or auto")
                     ->check(CLI::IsMember({"user", "kernel", "auto"}));
    d_link_ = create->add_option("--link", v_.link, "host-side carrier at start: up or down")
                  ->check(CLI::IsMember({"up", "down"}));

    CLI::App* del = leaf(dev, "delete", "delete a device (detaches it first)", [this] {
      const std::string name = v_.name;
      return Call{"device.delete", {{"name", name}}, [name](const json&) {
                    return "deleted device " + name + "\n";
                  }};
    });
    del->add_option("NAME", v_.name, "device name")->required();

    CLI::App* list = leaf(dev, "list", "list devices", [this] {
      json p = json::object();
      if (!v_.instance.empty()) {
        p["instance"] = v_.instance;
      }
      const bool names = v_.names_only;
      return Call{"device.list", p, [names](const json& r) {
                    const json l = r.value("devices", json::array());
                    return names ? names_of(l) : device_table(l);
                  }};
    });
    list->add_option("-i,--instance", v_.instance, "only devices of this instance");
    list->add_flag("--names", v_.names_only, "names only, one per line");

    CLI::App* show = leaf(dev, "show", "a device and its counters", [this] {
      return Call{"device.show", {{"name", v_.name}}, device_details};
    });
    show->add_option("NAME", v_.name, "device name")->required();

    CLI::App* attach = leaf(dev, "attach", "attach a device to an instance", [this] {
      return Call{
          "device.attach", {{"name", v_.name}, {"instance", v_.instance}}, [](const json& r) {
            return cell(r.value("name", json())) + ": attached to " +
                   cell(r.value("instance", json())) + "\n";
          }};
    });
    attach->add_option("NAME", v_.name, "device name")->required();
    attach->add_option("INSTANCE", v_.instance, "instance name")->required();

    CLI::App* detach = leaf(dev, "detach", "detach a device from its instance", [this] {
      return Call{"device.detach", {{"name", v_.name}}, [](const json& r) {
                    return cell(r.value("name", json())) + ": detached\n";
                  }};
    });
    detach->add_option("NAME", v_.name, "device name")->required();
  }

  CLI::App app_;
  Values v_;
  std::vector<std::pair<CLI::App*, std::function<Call()>>> leaves_;
  CLI::Option* socket_opt_ = nullptr;
  CLI::Option* region_opt_ = nullptr;
  CLI::Option* vectors_opt_ = nullptr;
  CLI::Option* d_instance_ = nullptr;
  CLI::Option* d_tap_ = nullptr;
  CLI::Option* d_bridge_ = nullptr;
  CLI::Option* d_netns_ = nullptr;
  CLI::Option* d_mac_ = nullptr;
  CLI::Option* d_mtu_ = nullptr;
  CLI::Option* d_queues_ = nullptr;
  CLI::Option* d_backend_ = nullptr;
  CLI::Option* d_link_ = nullptr;
};

int Cli::run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  Call call;
  for (auto& [sub, make] : leaves_) {
    if (sub->parsed()) {
      call = make();
    }
  }
  if (call.method.empty()) {
    err << "avmctl: no command\n";
    return kExitUsage;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(v_.timeout * 1000));
  auto client = RpcClient::connect(v_.socket, timeout);
  if (!client) {
    err << "avmctl: cannot connect to the daemon: " << client.error().message << "\n";
    return client.error().code == EACCES || client.error().code == EPERM ? kExitDenied
                                                                         : kExitUnreachable;
  }
  auto reply = client->call(call.method, call.params);
  if (!reply) {
    err << "avmctl: " << reply.error().message << "\n";
    return kExitUnreachable;
  }
  const auto dump = [](const json& j) {
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  };
  if (!reply->ok) {
    err << "avmctl: " << reply->code << " " << reply->message << "\n";
    if (v_.json_out) {
      json e = {{"code", reply->code}, {"message", reply->message}};
      if (!reply->data.is_null()) {
        e["data"] = reply->data;
      }
      out << dump({{"error", e}});
    }
    return kExitDaemonError;
  }
  if (v_.json_out) {
    out << dump(reply->result);
  } else {
    out << call.show(reply->result);
  }
  return kExitOk;
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Cli cli;
  return cli.run(argc, argv, out, err);
}

}  // namespace avm::avmctl

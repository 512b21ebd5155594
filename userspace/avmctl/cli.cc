// SPDX-License-Identifier: GPL-2.0
#include "avmctl/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "avmctl/completion.h"
#include "avmctl/format.h"
#include "avmctl/libvirt_domain.h"
#include "avmctl/rpc_client.h"
#include "daemon/spec_fields.h"

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

  bool fields = false;
  std::string shell;  // completion SHELL

  std::string name;
  std::string instance;
  bool force = false;
  bool names_only = false;
  std::string link;
};

// The --flag of a field: its name with '-' for '_'; "socket" is
// --socket-path (--socket is the control socket's), "instance" also -i.
std::string flag_of(std::string_view field) {
  if (field == "socket") {
    return "--socket-path";
  }
  std::string flag = "--" + std::string(field);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return field == "instance" ? "-i," + flag : flag;
}

// "MTU of the guest and the TAP (68..65535, default 1500)".
template <class S>
std::string field_help(const Field<S>& f) {
  std::vector<std::string> notes;
  if (f.info.type == FieldType::kUint || f.info.type == FieldType::kBytes) {
    if (f.info.max != std::numeric_limits<uint64_t>::max()) {
      notes.push_back(std::to_string(f.info.min) + ".." + std::to_string(f.info.max));
    }
  }
  if (const std::string def = field_text(get_field(S{}, f)); !def.empty()) {
    notes.push_back("default " + def);
  }
  std::string out(f.info.help);
  for (size_t i = 0; i < notes.size(); i++) {
    out += (i == 0 ? " (" : ", ") + notes[i];
  }
  return notes.empty() ? out : out + ")";
}

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

class Cli {
 public:
  Cli() : app_("avmctl: control alacrityvmd, the AlacrityVM daemon", "avmctl") {
    app_.set_version_flag("--version", std::string("avmctl ") + AVM_VERSION_STRING);
    completes_[app_.add_option("-s,--socket", v_.socket, "the daemon's control socket")
                   ->envname("AVMCTL_SOCKET")
                   ->capture_default_str()] = "@file";
    app_.add_flag("-j,--json", v_.json_out, "print the daemon's raw JSON result");
    app_.add_option("--timeout", v_.timeout, "seconds to wait for an answer")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    app_.add_flag("--fields", v_.fields,
                  "print the daemon's field tables (config keys, API params, these flags) as JSON")
        ->group("");
    app_.require_subcommand(0, 1);
    add_simple();
    add_instance();
    add_device();
    completion_ = app_.add_subcommand("completion", "print the bash completion script");
    completes_[completion_->add_option("SHELL", v_.shell, "the shell: bash")
                   ->required()
                   ->check(CLI::IsMember({"bash"}))] = "bash";
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
    completes_[link->add_option("NAME", v_.name, "device")->required()] = "@device";
    completes_[link->add_option("STATE", v_.link, "up or down")
                   ->required()
                   ->check(CLI::IsMember({"up", "down"}))] = "up down";
    CLI::App* stats = leaf(&app_, "stats", "counters of every (or one) instance", [this] {
      json params = json::object();
      if (!v_.instance.empty()) {
        params["instance"] = v_.instance;
      }
      return Call{"stats", params, stats_table};
    });
    completes_[stats->add_option("INSTANCE", v_.instance, "only this instance")] = "@instance";
    CLI::App* qemu =
        leaf(&app_, "qemu-args", "QEMU arguments that attach a VM to an instance", [this] {
          return Call{"instance.qemu_args", {{"name", v_.name}}, [](const json& r) {
                        return shell_line(r.value("args", json()));
                      }};
        });
    completes_[qemu->add_option("INSTANCE", v_.name, "instance")->required()] = "@instance";
    CLI::App* xml =
        leaf(&app_, "libvirt-xml", "the libvirt <shmem> element for an instance, or a whole domain",
             [this] {
               const DomainOptions d = domain_;
               const std::string name = v_.name;
               return Call{"instance.libvirt_xml", {{"name", name}}, [d, name](const json& r) {
                             std::string x = cell(r.value("xml", json()));
                             x = x.ends_with('\n') ? x : x + "\n";
                             return d.image_dir.empty() ? x : domain_xml(d, name, x);
                           }};
             });
    completes_[xml->add_option("INSTANCE", v_.name, "instance")->required()] = "@instance";
    for (const auto& [opt, values] : add_domain_options(xml, domain_)) {
      completes_[opt] = values;
    }
    leaf(&app_, "reload", "re-read the configuration file", [] {
      return Call{"daemon.reload", json::object(), reload_summary};
    });
  }

  void add_instance() {
    CLI::App* inst = app_.add_subcommand("instance", "instances: one per VM");
    inst->require_subcommand(1);
    CLI::App* create = leaf(inst, "create", "create an instance", [this] {
      return Call{"instance.create", field_params(instance_fields()), instance_details};
    });
    create->add_option("NAME", v_.name, "instance name")->required();
    add_field_options(create, instance_fields());

    CLI::App* del = leaf(inst, "delete", "delete an instance", [this] {
      json p = {{"name", v_.name}};
      if (v_.force) {
        p["force"] = true;
      }
      const std::string name = v_.name;
      return Call{"instance.delete", p,
                  [name](const json&) { return "deleted instance " + name + "\n"; }};
    });
    completes_[del->add_option("NAME", v_.name, "instance name")->required()] = "@instance";
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
    completes_[show->add_option("NAME", v_.name, "instance name")->required()] = "@instance";
  }

  void add_device() {
    CLI::App* dev = app_.add_subcommand("device", "devices: network interfaces of a guest");
    dev->require_subcommand(1);
    CLI::App* create = leaf(dev, "create", "create a device (and attach it)", [this] {
      json p = field_params(device_fields());
      p.emplace("type", DeviceSpec{}.type);  // always says what it creates
      return Call{"device.create", p, device_details};
    });
    create->add_option("NAME", v_.name, "device name")->required();
    add_field_options(create, device_fields());

    CLI::App* del = leaf(dev, "delete", "delete a device (detaches it first)", [this] {
      const std::string name = v_.name;
      return Call{"device.delete", {{"name", name}}, [name](const json&) {
                    return "deleted device " + name + "\n";
                  }};
    });
    completes_[del->add_option("NAME", v_.name, "device name")->required()] = "@device";

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
    completes_[list->add_option("-i,--instance", v_.instance, "only devices of this instance")] =
        "@instance";
    list->add_flag("--names", v_.names_only, "names only, one per line");

    CLI::App* show = leaf(dev, "show", "a device and its counters", [this] {
      return Call{"device.show", {{"name", v_.name}}, device_details};
    });
    completes_[show->add_option("NAME", v_.name, "device name")->required()] = "@device";

    CLI::App* attach = leaf(dev, "attach", "attach a device to an instance", [this] {
      return Call{
          "device.attach", {{"name", v_.name}, {"instance", v_.instance}}, [](const json& r) {
            return cell(r.value("name", json())) + ": attached to " +
                   cell(r.value("instance", json())) + "\n";
          }};
    });
    completes_[attach->add_option("NAME", v_.name, "device name")->required()] = "@device";
    completes_[attach->add_option("INSTANCE", v_.instance, "instance name")->required()] =
        "@instance";

    CLI::App* detach = leaf(dev, "detach", "detach a device from its instance", [this] {
      return Call{"device.detach", {{"name", v_.name}}, [](const json& r) {
                    return cell(r.value("name", json())) + ": detached\n";
                  }};
    });
    completes_[detach->add_option("NAME", v_.name, "device name")->required()] = "@device";
  }

  // One option per field of @fields but the name (spec_fields.h), its
  // value sent as the param.
  template <class S>
  void add_field_options(CLI::App* sub, const std::vector<Field<S>>& fields) {
    for (const Field<S>& f : fields) {
      if (f.info.name == "name") {
        continue;
      }
      const std::string key(f.info.name);
      CLI::Option* opt = sub->add_option(flag_of(key), field_values_[key], field_help(f));
      // Choices are a usage error here; ranges are the daemon's, so
      // its one message (and exit 1) answers an out-of-range value.
      if (key == "instance") {
        completes_[opt] = "@instance";
      } else if (key == "socket") {
        completes_[opt] = "@file";
      }
      if (!f.info.choices.empty()) {
        opt->check(CLI::IsMember(field_choices(f.info)));
        completes_[opt] = std::string(f.info.choices);
      } else if (f.info.type == FieldType::kUint) {
        opt->check(CLI::Validator(
            [](const std::string& v) {
              const bool whole = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
                return c >= '0' && c <= '9';
              });
              return whole ? std::string() : "not a whole number: " + v;
            },
            "UINT"));
      }
      field_options_.emplace_back(opt, f.info);
    }
  }

  // The create params: the name and every field option given.
  template <class S>
  json field_params(const std::vector<Field<S>>& fields) {
    json p = {{"name", v_.name}};
    for (const auto& [opt, given] : field_options_) {
      const FieldInfo& info = given;  // a lambda may not capture a binding (clang 14)
      const bool mine = std::any_of(fields.begin(), fields.end(),
                                    [&](const Field<S>& f) { return f.info.name == info.name; });
      if (mine && opt->count() > 0) {
        const std::string key(info.name);
        p[key] = field_json_from_text(info, field_values_[key]);
      }
    }
    return p;
  }

  CLI::App app_;
  Values v_;
  std::vector<std::pair<CLI::App*, std::function<Call()>>> leaves_;
  std::map<std::string, std::string> field_values_;
  std::vector<std::pair<CLI::Option*, FieldInfo>> field_options_;
  ValueCompletions completes_;  // what completes each value (completion.h)
  DomainOptions domain_;        // libvirt-xml --domain ...
  CLI::App* completion_ = nullptr;
};

int Cli::run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  if (v_.fields) {
    out << fields_json().dump(2) << "\n";
    return kExitOk;
  }
  if (completion_->parsed()) {
    out << bash_completion(app_, completes_);
    return kExitOk;
  }
  if (app_.get_subcommands().empty()) {
    err << "avmctl: a command is required (avmctl --help lists them)\n";
    return kExitUsage;
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

// SPDX-License-Identifier: GPL-2.0
#include "avmctl/libvirt_domain.h"

#include <filesystem>

#include "generate/generate.h"

namespace avm::avmctl {

namespace {

std::string absolute_path(const std::filesystem::path& p) {
  return std::filesystem::absolute(p).lexically_normal().string();
}

}  // namespace

std::vector<std::pair<CLI::Option*, std::string>> add_domain_options(CLI::App* sub,
                                                                     DomainOptions& o) {
  const generate::DomainShape defaults;
  o.memory_mib = defaults.memory_mib;
  o.vcpus = defaults.vcpus;
  o.virt_type = defaults.virt_type;
  CLI::Option* dir = sub->add_option("--domain", o.image_dir,
                                     "a whole domain booting the prebuilt image in this directory "
                                     "(its vmlinuz, initrd.img, disk.qcow2)");
  CLI::Option* name =
      sub->add_option("--name", o.name, "the domain's name (default: the instance's)");
  CLI::Option* memory = sub->add_option("--memory", o.memory_mib, "MiB of guest memory")
                            ->capture_default_str()
                            ->check(CLI::Range(64U, 1U << 20));
  CLI::Option* vcpus = sub->add_option("--vcpus", o.vcpus, "virtual CPUs")
                           ->capture_default_str()
                           ->check(CLI::Range(1U, 255U));
  CLI::Option* disk =
      sub->add_option("--disk", o.disk, "the guest's root disk, qcow2 (default: the image's)");
  CLI::Option* keys = sub->add_option("--authorized-keys", o.authorized_keys,
                                      "SSH public keys for root, handed over by fw_cfg");
  CLI::Option* type = sub->add_option("--virt-type", o.virt_type, "kvm, or qemu (TCG)")
                          ->capture_default_str()
                          ->check(CLI::IsMember({"kvm", "qemu"}));
  for (CLI::Option* opt : {name, memory, vcpus, disk, keys, type}) {
    opt->needs(dir);
  }
  return {{dir, "@file"}, {disk, "@file"}, {keys, "@file"}, {type, "kvm qemu"}};
}

std::string domain_xml(const DomainOptions& o, const std::string& instance,
                       const std::string& shmem) {
  const std::filesystem::path dir = o.image_dir;
  generate::DomainShape d;
  d.name = o.name.empty() ? instance : o.name;
  d.virt_type = o.virt_type;
  d.memory_mib = o.memory_mib;
  d.vcpus = o.vcpus;
  d.kernel = absolute_path(dir / "vmlinuz");
  d.initrd = absolute_path(dir / "initrd.img");
  d.disk = absolute_path(o.disk.empty() ? dir / "disk.qcow2" : std::filesystem::path(o.disk));
  d.authorized_keys = o.authorized_keys.empty() ? "" : absolute_path(o.authorized_keys);
  return generate::libvirt_domain_xml(d, shmem);
}

}  // namespace avm::avmctl

// SPDX-License-Identifier: GPL-2.0
// Generators for an instance: the QEMU command-line arguments and the
// libvirt <shmem> element that attach a VM to it (docs/control-api.md),
// and a whole libvirt domain for a prebuilt image (docs/libvirt.md).
// Pure functions, no syscalls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace avm::generate {

struct InstanceShape {
  std::string name;         // instance name; ids become "avm-<name>"
  std::string socket_path;  // the instance's ivshmem socket
  uint64_t region_size = 0;
  unsigned vectors = 0;
};

// {"-chardev", "socket,id=avm-NAME,path=SOCKET", "-device",
//  "ivshmem-doorbell,chardev=avm-NAME,vectors=N"}; commas in the path are
// doubled as QEMU's option syntax requires.
std::vector<std::string> qemu_args(const InstanceShape& inst);

// <shmem name='avm-NAME'><model type='ivshmem-doorbell'/><server path='SOCKET'/>
// <msi vectors='N' ioeventfd='on'/></shmem>, XML-escaped, indented by two spaces.
std::string libvirt_shmem_xml(const InstanceShape& inst);

// A whole libvirt domain that boots one of our prebuilt images
// (docs/images.md, docs/libvirt.md) on an instance.
struct DomainShape {
  std::string name;
  std::string virt_type = "kvm";  // or "qemu": TCG, where there is no KVM
  unsigned memory_mib = 1024;
  unsigned vcpus = 1;
  std::string kernel;  // the image's vmlinuz
  std::string initrd;  // and initrd.img (no boot loader in the image)
  std::string disk;    // qcow2 root file system, the guest's /dev/vda
  // A file of SSH public keys the image installs at boot, handed over as
  // the fw_cfg entry opt/alacrityvm/authorized_keys; "" = none.
  std::string authorized_keys;
};

// <domain type='VIRT_TYPE'>: direct kernel boot with root=/dev/vda and the
// serial console, <features><acpi/> (without it libvirt passes -no-acpi
// and the guest has no /sys/firmware/qemu_fw_cfg, so no key arrives), the
// key file through <sysinfo type='fwcfg'>, the disk on virtio, @shmem
// (libvirt_shmem_xml's element) as the only network, a virtio RNG, a
// serial console and no <interface>.  Values XML-escaped.
std::string libvirt_domain_xml(const DomainShape& d, const std::string& shmem);

}  // namespace avm::generate

// SPDX-License-Identifier: GPL-2.0
// Generators for an instance: the QEMU command-line arguments and the
// libvirt <shmem> element that attach a VM to it (docs/control-api.md).
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

}  // namespace avm::generate

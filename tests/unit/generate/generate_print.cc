// SPDX-License-Identifier: GPL-2.0
// avm-generate-print: prints what avm_generate makes for one instance, for
// the system tests that feed it to QEMU and virt-xml-validate before (and
// besides) the daemon's own instance.qemu_args / instance.libvirt_xml.
//   avm-generate-print qemu|libvirt NAME SOCKET VECTORS
// qemu: one argument per line; libvirt: the <shmem> element.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "generate/generate.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    (void)std::fputs("usage: avm-generate-print qemu|libvirt NAME SOCKET VECTORS\n", stderr);
    return 2;
  }
  const std::string what = argv[1];
  const avm::generate::InstanceShape shape{argv[2], argv[3], 0,
                                           static_cast<unsigned>(std::stoul(argv[4]))};
  if (what == "qemu") {
    for (const std::string& a : avm::generate::qemu_args(shape)) {
      (void)std::printf("%s\n", a.c_str());
    }
  } else if (what == "libvirt") {
    (void)std::fputs(avm::generate::libvirt_shmem_xml(shape).c_str(), stdout);
  } else {
    (void)std::fputs("avm-generate-print: qemu or libvirt\n", stderr);
    return 2;
  }
  return 0;
}

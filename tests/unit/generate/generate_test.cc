// SPDX-License-Identifier: GPL-2.0
#include "generate/generate.h"

#include <gtest/gtest.h>

namespace avm::generate {
namespace {

InstanceShape vm1() {
  return {"vm1", "/run/alacrityvm/vm1.sock", 4U << 20, 4};
}

TEST(QemuArgs, ChardevAndDevice) {
  const std::vector<std::string> want = {"-chardev",
                                         "socket,id=avm-vm1,path=/run/alacrityvm/vm1.sock",
                                         "-device", "ivshmem-doorbell,chardev=avm-vm1,vectors=4"};
  EXPECT_EQ(qemu_args(vm1()), want);
}

TEST(QemuArgs, CommasInThePathAreDoubled) {
  InstanceShape s = vm1();
  s.socket_path = "/tmp/a,b,,c/vm.sock";
  s.vectors = 64;
  const auto args = qemu_args(s);
  ASSERT_EQ(args.size(), 4U);
  EXPECT_EQ(args[1], "socket,id=avm-vm1,path=/tmp/a,,b,,,,c/vm.sock");
  EXPECT_EQ(args[3], "ivshmem-doorbell,chardev=avm-vm1,vectors=64");
}

TEST(LibvirtXml, Element) {
  EXPECT_EQ(libvirt_shmem_xml(vm1()),
            "<shmem name='avm-vm1'>\n"
            "  <model type='ivshmem-doorbell'/>\n"
            "  <server path='/run/alacrityvm/vm1.sock'/>\n"
            "  <msi vectors='4' ioeventfd='on'/>\n"
            "</shmem>\n");
}

TEST(LibvirtXml, AttributesAreEscaped) {
  InstanceShape s = vm1();
  s.socket_path = "/tmp/<a&b>'\"/vm.sock";
  const std::string xml = libvirt_shmem_xml(s);
  EXPECT_NE(xml.find("<server path='/tmp/&lt;a&amp;b&gt;&apos;&quot;/vm.sock'/>"),
            std::string::npos)
      << xml;
}

}  // namespace
}  // namespace avm::generate

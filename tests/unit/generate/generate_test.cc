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

DomainShape image_domain() {
  DomainShape d;
  d.name = "vm1";
  d.kernel = "/img/vmlinuz";
  d.initrd = "/img/initrd.img";
  d.disk = "/img/vm1.qcow2";
  d.authorized_keys = "/img/vm1.keys";
  return d;
}

TEST(LibvirtDomain, BootsTheImageOnTheInstanceOnly) {
  const std::string xml = libvirt_domain_xml(image_domain(), libvirt_shmem_xml(vm1()));
  const std::string want =
      "<domain type='kvm'>\n"
      "  <name>vm1</name>\n"
      "  <memory unit='MiB'>1024</memory>\n"
      "  <vcpu>1</vcpu>\n"
      "  <os>\n"
      "    <type arch='x86_64' machine='pc'>hvm</type>\n"
      "    <kernel>/img/vmlinuz</kernel>\n"
      "    <initrd>/img/initrd.img</initrd>\n"
      "    <cmdline>root=/dev/vda rw console=ttyS0</cmdline>\n"
      "  </os>\n"
      "  <features>\n"
      "    <acpi/>\n"
      "  </features>\n"
      "  <sysinfo type='fwcfg'>\n"
      "    <entry name='opt/alacrityvm/authorized_keys' file='/img/vm1.keys'/>\n"
      "  </sysinfo>\n"
      "  <devices>\n"
      "    <disk type='file' device='disk'>\n"
      "      <driver name='qemu' type='qcow2'/>\n"
      "      <source file='/img/vm1.qcow2'/>\n"
      "      <target dev='vda' bus='virtio'/>\n"
      "    </disk>\n"
      "    <shmem name='avm-vm1'>\n"
      "      <model type='ivshmem-doorbell'/>\n"
      "      <server path='/run/alacrityvm/vm1.sock'/>\n"
      "      <msi vectors='4' ioeventfd='on'/>\n"
      "    </shmem>\n"
      "    <rng model='virtio'>\n"
      "      <backend model='random'>/dev/urandom</backend>\n"
      "    </rng>\n"
      "    <serial type='pty'/>\n"
      "    <console type='pty'/>\n"
      "  </devices>\n"
      "</domain>\n";
  EXPECT_EQ(xml, want);
}

TEST(LibvirtDomain, TcgNoKeysAndEscapedValues) {
  DomainShape d = image_domain();
  d.virt_type = "qemu";
  d.memory_mib = 1536;
  d.vcpus = 2;
  d.authorized_keys.clear();
  d.name = "a<b>";
  d.disk = "/tmp/o'dd & x.qcow2";
  const std::string xml = libvirt_domain_xml(d, "<shmem/>");
  EXPECT_TRUE(xml.starts_with("<domain type='qemu'>\n  <name>a&lt;b&gt;</name>\n")) << xml;
  EXPECT_NE(xml.find("<memory unit='MiB'>1536</memory>\n  <vcpu>2</vcpu>"), std::string::npos);
  EXPECT_NE(xml.find("<source file='/tmp/o&apos;dd &amp; x.qcow2'/>"), std::string::npos);
  EXPECT_NE(xml.find("<acpi/>"), std::string::npos);
  EXPECT_EQ(xml.find("sysinfo"), std::string::npos) << xml;
  EXPECT_NE(xml.find("    <shmem/>\n    <rng"), std::string::npos) << xml;
}

}  // namespace
}  // namespace avm::generate

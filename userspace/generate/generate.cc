// SPDX-License-Identifier: GPL-2.0
#include "generate/generate.h"

#include <string_view>

namespace avm::generate {

namespace {

// QEMU's option parser splits on ',' and reads ",," as a literal comma.
std::string qemu_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    out += c;
    if (c == ',') {
      out += ',';
    }
  }
  return out;
}

// Escapes a value for an XML attribute quoted with '.
std::string xml_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> qemu_args(const InstanceShape& inst) {
  const std::string id = qemu_escape("avm-" + inst.name);
  return {
      "-chardev",
      "socket,id=" + id + ",path=" + qemu_escape(inst.socket_path),
      "-device",
      "ivshmem-doorbell,chardev=" + id + ",vectors=" + std::to_string(inst.vectors),
  };
}

std::string libvirt_shmem_xml(const InstanceShape& inst) {
  std::string xml;
  xml += "<shmem name='" + xml_escape("avm-" + inst.name) + "'>\n";
  xml += "  <model type='ivshmem-doorbell'/>\n";
  xml += "  <server path='" + xml_escape(inst.socket_path) + "'/>\n";
  xml += "  <msi vectors='" + std::to_string(inst.vectors) + "' ioeventfd='on'/>\n";
  xml += "</shmem>\n";
  return xml;
}

std::string libvirt_domain_xml(const DomainShape& d, const std::string& shmem) {
  std::string xml;
  xml += "<domain type='" + xml_escape(d.virt_type) + "'>\n";
  xml += "  <name>" + xml_escape(d.name) + "</name>\n";
  xml += "  <memory unit='MiB'>" + std::to_string(d.memory_mib) + "</memory>\n";
  xml += "  <vcpu>" + std::to_string(d.vcpus) + "</vcpu>\n";
  xml += "  <os>\n";
  xml += "    <type arch='x86_64' machine='pc'>hvm</type>\n";
  xml += "    <kernel>" + xml_escape(d.kernel) + "</kernel>\n";
  xml += "    <initrd>" + xml_escape(d.initrd) + "</initrd>\n";
  xml += "    <cmdline>root=/dev/vda rw console=ttyS0</cmdline>\n";
  xml += "  </os>\n";
  xml += "  <features>\n    <acpi/>\n  </features>\n";
  if (!d.authorized_keys.empty()) {
    xml += "  <sysinfo type='fwcfg'>\n";
    xml += "    <entry name='opt/alacrityvm/authorized_keys' file='" +
           xml_escape(d.authorized_keys) + "'/>\n";
    xml += "  </sysinfo>\n";
  }
  xml += "  <devices>\n";
  xml += "    <disk type='file' device='disk'>\n";
  xml += "      <driver name='qemu' type='qcow2'/>\n";
  xml += "      <source file='" + xml_escape(d.disk) + "'/>\n";
  xml += "      <target dev='vda' bus='virtio'/>\n";
  xml += "    </disk>\n";
  // The element indented into <devices>.
  size_t start = 0;
  while (start < shmem.size()) {
    const size_t end = shmem.find('\n', start);
    const size_t stop = end == std::string::npos ? shmem.size() : end;
    xml += "    " + shmem.substr(start, stop - start) + "\n";
    start = stop + 1;
  }
  xml += "    <rng model='virtio'>\n";
  xml += "      <backend model='random'>/dev/urandom</backend>\n";
  xml += "    </rng>\n";
  xml += "    <serial type='pty'/>\n";
  xml += "    <console type='pty'/>\n";
  xml += "  </devices>\n";
  xml += "</domain>\n";
  return xml;
}

}  // namespace avm::generate

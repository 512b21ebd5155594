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

}  // namespace avm::generate

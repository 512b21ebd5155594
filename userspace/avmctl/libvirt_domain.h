// SPDX-License-Identifier: GPL-2.0
// `avmctl libvirt-xml INSTANCE --domain IMAGE_DIR`: the options that wrap
// the instance's <shmem> element into a whole libvirt domain booting one of
// our prebuilt images (generate::libvirt_domain_xml, docs/libvirt.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

namespace avm::avmctl {

struct DomainOptions {
  std::string image_dir;  // "" = the <shmem> element only
  std::string name;       // "" = the instance's name
  unsigned memory_mib = 0;
  unsigned vcpus = 0;
  std::string disk;  // "" = IMAGE_DIR/disk.qcow2
  std::string authorized_keys;
  std::string virt_type;
};

// Adds --domain, --name, --memory, --vcpus, --disk, --authorized-keys and
// --virt-type to @sub; returns the options whose values complete as files
// ("@file") or from a list of words.
std::vector<std::pair<CLI::Option*, std::string>> add_domain_options(CLI::App* sub,
                                                                     DomainOptions& o);

// The domain for @instance whose element is @shmem; relative paths are
// made absolute (libvirt wants absolute ones).
std::string domain_xml(const DomainOptions& o, const std::string& instance,
                       const std::string& shmem);

}  // namespace avm::avmctl

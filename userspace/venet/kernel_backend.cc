// SPDX-License-Identifier: GPL-2.0
#include "venet/kernel_backend.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace avm {

// The ABI the module checks with BUILD_BUG_ON, pinned on this side too.
static_assert(sizeof(vbus_host_attach) == 240);
static_assert(sizeof(vbus_host_config) == 16);
static_assert(sizeof(vbus_host_stats) == 224);

Result<KernelAttach> KernelAttach::from_layout(const DeviceInfo& dev, int region_fd,
                                               uint64_t region_size) {
  if (dev.layout.queues.size() != VBUS_HOST_NUM_QUEUES) {
    return make_error(EINVAL, "kernel backend: device " + std::to_string(dev.id) + " has " +
                                  std::to_string(dev.layout.queues.size()) +
                                  " queues, venet has 2");
  }
  KernelAttach a;
  a.dev_id = dev.id;
  a.region_fd = region_fd;
  a.region_size = region_size;
  a.area_offset = dev.area_offset;
  a.area_size = dev.layout.size;
  for (size_t q = 0; q < a.queues.size(); q++) {
    a.queues.at(q) = dev.layout.queues.at(q);
  }
  return a;
}

bool KernelBackend::available(const std::string& path) {
  return ::access(path.c_str(), R_OK | W_OK) == 0;
}

Result<KernelBackend> KernelBackend::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    return errno_error("open " + path);
  }
  auto rx = EventFd::create();
  if (!rx) {
    return tl::unexpected(rx.error());
  }
  auto tx = EventFd::create();
  if (!tx) {
    return tl::unexpected(tx.error());
  }
  return KernelBackend(std::move(fd), {std::move(*rx), std::move(*tx)});
}

KernelBackend::~KernelBackend() {
  // Closing the file detaches too; explicit so the order is ours.
  if (fd_) {
    detach();
  }
}

Status KernelBackend::attach(const KernelAttach& a) {
  vbus_host_attach arg{};
  arg.api_version = VBUS_HOST_API_VERSION;
  arg.dev_id = a.dev_id;
  arg.region_fd = a.region_fd;
  arg.tap_fd = a.tap_fd;
  arg.doorbell_fd = a.doorbell_fd;
  for (size_t q = 0; q < notify_.size(); q++) {
    arg.notify_fd[q] = notify_.at(q).fd();
  }
  arg.tx_signal_batch = a.tx_signal_batch;
  arg.region_size = a.region_size;
  arg.area_offset = a.area_offset;
  arg.area_size = a.area_size;
  arg.features = a.features;
  arg.link = a.link_active ? VBUS_HOST_LINK_ACTIVE : 0;
  arg.busy_poll_us = a.busy_poll_us;
  for (size_t q = 0; q < a.queues.size(); q++) {
    arg.queues[q] = a.queues.at(q);
  }
  if (::ioctl(fd_.get(), VBUS_HOST_ATTACH, &arg) < 0) {
    return errno_error("VBUS_HOST_ATTACH device " + std::to_string(a.dev_id));
  }
  attached_ = true;
  return {};
}

Status KernelBackend::configure(uint64_t features, bool link_active) {
  vbus_host_config c{};
  c.features = features;
  c.link = link_active ? VBUS_HOST_LINK_ACTIVE : 0;
  if (::ioctl(fd_.get(), VBUS_HOST_CONFIGURE, &c) < 0) {
    return errno_error("VBUS_HOST_CONFIGURE");
  }
  return {};
}

void KernelBackend::detach() {
  if (!attached_) {
    return;
  }
  // ENOTCONN only if never attached; nothing else can fail.
  (void)::ioctl(fd_.get(), VBUS_HOST_DETACH);
  attached_ = false;
}

Result<vbus_host_stats> KernelBackend::stats() const {
  vbus_host_stats s{};
  if (::ioctl(fd_.get(), VBUS_HOST_GET_STATS, &s) < 0) {
    return errno_error("VBUS_HOST_GET_STATS");
  }
  return s;
}

const char* KernelBackend::fault_name(uint32_t fault) {
  switch (fault) {
    case VBUS_HOST_FAULT_NONE:
      return "none";
    case VBUS_HOST_FAULT_SEQ:
      return "bad seq";
    case VBUS_HOST_FAULT_FLAGS:
      return "unknown flags";
    case VBUS_HOST_FAULT_RESERVED:
      return "reserved field not zero";
    case VBUS_HOST_FAULT_OFFSET:
      return "offset outside the slot's pool buffer";
    case VBUS_HOST_FAULT_LENGTH:
      return "length runs past the slot's pool buffer";
    case VBUS_HOST_FAULT_CHAIN:
      return "chain too long";
    case VBUS_HOST_FAULT_RX_SHORT:
      return "rx buffer cannot hold the header";
    default:
      return "?";
  }
}

}  // namespace avm

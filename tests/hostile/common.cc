// SPDX-License-Identifier: GPL-2.0
#include "common.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "venet/venet_features.h"

namespace avm::hostile {
namespace {

constexpr uint32_t kMagic = 0x484d5641;  // "AVMH"
constexpr size_t kEthHlen = 14;
constexpr size_t kHead = 16;  // magic, dir, pad, len, seq
constexpr size_t kCsum = 4;

uint32_t fnv1a(std::span<const uint8_t> bytes) {
  uint32_t h = 2166136261U;
  for (uint8_t b : bytes) {
    h = (h ^ b) * 16777619U;
  }
  return h;
}

size_t payload_len(uint64_t seq) {
  return 32 + static_cast<size_t>((seq * 37) % 1400);
}

uint8_t payload_byte(uint64_t seq, size_t i) {
  return static_cast<uint8_t>(seq * 131 + i * 7);
}

}  // namespace

void say(const std::string& line) {
  (void)std::fputs((line + "\n").c_str(), stdout);
  (void)std::fflush(stdout);
}

Session::Session(ivshmem::Client client, Region region)
    : client_(std::move(client)), region_(std::move(region)) {
  guest_ = std::make_unique<SoftGuest>(
      region_.span(), [this](uint32_t v) { ring(v); }, irq());
}

Result<std::unique_ptr<Session>> Session::connect(const std::string& socket, unsigned vectors,
                                                  int timeout_ms) {
  auto c = ivshmem::Client::connect(socket);
  if (!c) {
    return tl::unexpected(c.error());
  }
  if (auto ok = c->handshake(vectors, timeout_ms); !ok) {
    return tl::unexpected(ok.error());
  }
  auto r = c->map_region();
  if (!r) {
    return tl::unexpected(r.error());
  }
  return std::unique_ptr<Session>(new Session(std::move(*c), std::move(*r)));
}

Result<std::unique_ptr<test::GuestNet>> Session::open_venet(uint64_t features) {
  if (guest_->host_left()) {
    if (auto ok = guest_->handshake(); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  auto devs = guest_->devices();
  if (!devs) {
    return tl::unexpected(devs.error());
  }
  venet_id_ = 0;
  for (const vbus_dev_desc& d : *devs) {
    if (d.type == VBUS_DEV_TYPE_VENET && d.state == VBUS_DEV_PRESENT) {
      venet_id_ = d.id;
      break;
    }
  }
  if (venet_id_ == 0) {
    return make_error(ENODEV, "no venet device in the region");
  }
  auto dev = guest_->open(venet_id_);
  if (!dev) {
    return tl::unexpected(dev.error());
  }
  auto net = std::make_unique<test::GuestNet>(*guest_, std::move(*dev));
  if (features != 0 && net->negotiate(features) == 0) {
    return make_error(EIO, "VENET_CALL_NEGOTIATE failed");
  }
  if (!net->set_link(true)) {
    return make_error(EIO, "VENET_CALL_SET_LINK failed");
  }
  net->refill();
  return net;
}

std::vector<uint8_t> make_frame(Direction dir, uint64_t seq) {
  const size_t len = payload_len(seq);
  std::vector<uint8_t> f(kEthHlen + kHead + len + kCsum);
  std::memset(f.data(), 0xff, 6);  // broadcast
  const uint8_t src[6] = {0x52, 0x54, 0x00, 0x48, 0x53, dir};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xff;
  uint8_t* p = f.data() + kEthHlen;
  std::memcpy(p, &kMagic, 4);
  p[4] = dir;
  p[5] = 0;
  const auto len16 = static_cast<uint16_t>(len);
  std::memcpy(p + 6, &len16, 2);
  std::memcpy(p + 8, &seq, 8);
  for (size_t i = 0; i < len; i++) {
    p[kHead + i] = payload_byte(seq, i);
  }
  const uint32_t c = fnv1a({p, kHead + len});
  std::memcpy(p + kHead + len, &c, 4);
  return f;
}

int64_t check_frame(std::span<const uint8_t> frame, Direction dir) {
  if (frame.size() < kEthHlen + kHead || (frame[12] << 8 | frame[13]) != kEtherType) {
    return kNotOurs;
  }
  const uint8_t* p = frame.data() + kEthHlen;
  uint32_t magic = 0;
  std::memcpy(&magic, p, 4);
  if (magic != kMagic || p[4] != dir) {
    return kNotOurs;
  }
  uint16_t len = 0;
  uint64_t seq = 0;
  std::memcpy(&len, p + 6, 2);
  std::memcpy(&seq, p + 8, 8);
  // The tap may pad short frames; never shorter than what we sent.
  if (len != payload_len(seq) || frame.size() < kEthHlen + kHead + len + kCsum) {
    return kCorrupt;
  }
  uint32_t c = 0;
  std::memcpy(&c, p + kHead + len, 4);
  if (c != fnv1a({p, kHead + size_t{len}})) {
    return kCorrupt;
  }
  for (size_t i = 0; i < len; i++) {
    if (p[kHead + i] != payload_byte(seq, i)) {
      return kCorrupt;
    }
  }
  return static_cast<int64_t>(seq & INT64_MAX);
}

Result<Wire> Wire::open(const std::string& ifname) {
  const unsigned idx = ::if_nametoindex(ifname.c_str());
  if (idx == 0) {
    return errno_error("if_nametoindex " + ifname);
  }
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
  if (!fd) {
    return errno_error("socket(AF_PACKET)");
  }
  int big = 4 << 20;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(idx);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {  // NOLINT
    return errno_error("bind(AF_PACKET) " + ifname);
  }
  return Wire(std::move(fd));
}

bool Wire::send(std::span<const uint8_t> frame) const {
  return ::send(fd_.get(), frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
}

std::optional<std::vector<uint8_t>> Wire::recv() const {
  std::vector<uint8_t> buf(70000);
  for (;;) {
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &fl);  // NOLINT
    if (n < 0) {
      return std::nullopt;
    }
    if (from.sll_pkttype == PACKET_OUTGOING) {
      continue;  // our own sends
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

}  // namespace avm::hostile

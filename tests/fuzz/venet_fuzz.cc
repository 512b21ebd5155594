// SPDX-License-Identifier: GPL-2.0
// Fuzz target: venet packet headers and offload metadata (venet/
// venet_features), transmit chain assembly (venet/venet_tx) and receive
// delivery (venet/venet_rx), with a memfd standing in for the tap on
// transmit and a SOCK_SEQPACKET pair on receive.
//
// Invariants:
//  - venet_grant() returns a subset of wanted & offered & implemented,
//    never TSO without checksum offload nor ECN without TSO, and is
//    idempotent; venet_tun_offload() only maps granted guest offloads;
//  - venet_tx_header_ok() accepts only known flags, checksum offload and
//    GSO types that were granted, and GSO with a segment size;
//  - transmit: every complete chain is completed in order, all entries
//    OK or all VBUS_USED_F_ERROR; what reaches the tap is exactly, per
//    accepted packet, the guest's header (num_buffers 0) followed by the
//    rest of the chain's bytes; a chain past a 64 KiB frame or a bad
//    descriptor is a guest fault (EPROTO);
//  - receive: a delivered frame lands in order in posted buffers, one
//    (or a VBUS_USED_F_NEXT chain with MRG_RXBUF) whose bytes are the
//    frame with num_buffers set to the entry count; every frame read is
//    delivered or counted as dropped.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <venet/venet_features.h>
#include <venet/venet_rx.h>
#include <venet/venet_tx.h>

#include <algorithm>
#include <array>
#include <vector>

#include "fuzz_util.h"
#include "lib/bridge_layout.h"
#include "testing/guest_queue.h"

namespace {

using avm::fuzz::Input;

constexpr size_t kRegionSize = size_t{1} << 20;

void check_features(Input& in) {
  const uint64_t wanted = in.take<uint64_t>();
  const uint64_t offered = in.take<uint64_t>();
  const uint32_t rx_buf = in.flag() ? in.take<uint32_t>() : 2048;
  const uint64_t f = avm::venet_grant(wanted, offered, rx_buf);
  FUZZ_CHECK((f & ~(wanted & offered & avm::kVenetAllFeatures)) == 0);
  FUZZ_CHECK((f & (VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6)) == 0 || (f & VENET_F_CSUM) != 0);
  FUZZ_CHECK((f & (VENET_F_GUEST_TSO4 | VENET_F_GUEST_TSO6)) == 0 || (f & VENET_F_GUEST_CSUM) != 0);
  FUZZ_CHECK((f & VENET_F_HOST_ECN) == 0 || (f & (VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6)) != 0);
  FUZZ_CHECK((f & VENET_F_GUEST_ECN) == 0 || (f & (VENET_F_GUEST_TSO4 | VENET_F_GUEST_TSO6)) != 0);
  FUZZ_CHECK(avm::venet_grant(f, offered, rx_buf) == f);
  const unsigned tun = avm::venet_tun_offload(f);
  FUZZ_CHECK((tun & ~(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)) == 0);
  FUZZ_CHECK(((tun & TUN_F_CSUM) != 0) == ((f & VENET_F_GUEST_CSUM) != 0));
  FUZZ_CHECK((tun & (TUN_F_TSO4 | TUN_F_TSO6)) == 0 || (tun & TUN_F_CSUM) != 0);

  vbus_venet_hdr h{};
  in.take_bytes(&h, sizeof h);
  if (avm::venet_tx_header_ok(h, f)) {
    FUZZ_CHECK((h.flags & ~(VENET_HDR_F_NEEDS_CSUM | VENET_HDR_F_DATA_VALID)) == 0);
    FUZZ_CHECK((h.flags & VENET_HDR_F_NEEDS_CSUM) == 0 || (f & VENET_F_CSUM) != 0);
    const uint8_t gso = h.gso_type & ~VENET_HDR_GSO_ECN;
    FUZZ_CHECK(gso == VENET_HDR_GSO_NONE || gso == VENET_HDR_GSO_TCPV4 ||
               gso == VENET_HDR_GSO_TCPV6);
    FUZZ_CHECK(gso != VENET_HDR_GSO_TCPV4 || (f & VENET_F_HOST_TSO4) != 0);
    FUZZ_CHECK(gso != VENET_HDR_GSO_TCPV6 || (f & VENET_F_HOST_TSO6) != 0);
    FUZZ_CHECK(gso == VENET_HDR_GSO_NONE || h.gso_size != 0);
    FUZZ_CHECK((h.gso_type & VENET_HDR_GSO_ECN) == 0 ||
               (gso != VENET_HDR_GSO_NONE && (f & VENET_F_HOST_ECN) != 0));
  }
}

// One queue in the region, laid out like a device area at offset 0.
std::optional<avm::QueueView> make_queue(avm::fuzz::Buffer& region, Input& in) {
  static constexpr uint32_t kBufs[] = {16, 64, 1514, 4096, 65536 + 30};
  const avm::QueueSpec spec{1U << in.below(6), kBufs[in.below(5)]};
  auto layout = avm::layout_device_area(0, {&spec, 1});
  FUZZ_CHECK(layout.has_value());
  if (layout->size > region.size()) {
    return std::nullopt;
  }
  std::memset(region.data(), 0, layout->size);
  auto v = avm::QueueView::create(region.span(), 0, layout->size, layout->queues[0]);
  FUZZ_CHECK(v.has_value());
  return *v;
}

void run_tx(avm::fuzz::Buffer& region, int tap, Input& in) {
  auto view = make_queue(region, in);
  if (!view) {
    return;
  }
  avm::VenetState st;
  st.features = avm::venet_grant(in.take<uint64_t>(), avm::kVenetAllFeatures, 2048);
  st.host_link = in.flag() || in.empty();
  st.guest_link = in.flag() || in.empty();
  st.signal_guest = [](uint32_t q) { return q == 1; };
  avm::VenetTx tx(*view, tap, st, 1 + in.below(8));
  avm::GuestQueue guest(*view);
  FUZZ_CHECK(::ftruncate(tap, 0) == 0 && ::lseek(tap, 0, SEEK_SET) == 0);

  struct Packet {
    uint32_t first, entries;
    std::vector<uint8_t> bytes;  // every byte of the chain, in order
  };
  std::vector<Packet> packets;
  std::vector<uint8_t> open;  // the chain being posted
  uint32_t open_first = 0, posted = 0;
  bool hostile = false;
  // Post entries; a packet ends at an entry without F_NEXT.
  for (uint32_t k = in.below(64); k > 0 && !guest.full(); k--) {
    if (in.below(16) == 0) {  // a raw descriptor: anything may happen now
      vbus_ring_desc d{};
      in.take_bytes(&d, sizeof d);
      d.seq = posted + 1;
      view->submit()[posted & view->mask()] = d;
      hostile = true;
      break;
    }
    auto buf = guest.next_buffer();
    const uint32_t start = in.below(std::min<uint32_t>(view->buf_size(), 64) + 1);
    const uint32_t len = std::min<uint32_t>(view->buf_size() - start,
                                            in.flag() ? in.take<uint16_t>() : in.below(80));
    in.take_bytes(buf.data() + start, len);
    if (open.empty() && len >= sizeof(vbus_venet_hdr) && in.flag()) {
      // A plausible header: a known flag / GSO type, the rest as given.
      vbus_venet_hdr h{};
      std::memcpy(&h, buf.data() + start, sizeof h);
      h.flags &= VENET_HDR_F_NEEDS_CSUM | VENET_HDR_F_DATA_VALID;
      static constexpr uint8_t kGso[] = {VENET_HDR_GSO_NONE, VENET_HDR_GSO_TCPV4,
                                         VENET_HDR_GSO_TCPV6, VENET_HDR_GSO_TCPV4 | 0x80};
      h.gso_type = kGso[h.gso_type % 4];
      std::memcpy(buf.data() + start, &h, sizeof h);
    }
    if (open.empty()) {
      open_first = posted;
    }
    open.insert(open.end(), buf.begin() + start, buf.begin() + start + len);
    const bool next = in.below(4) != 0;
    guest.post(len, next ? VBUS_DESC_F_NEXT : 0, start);
    posted++;
    if (!next) {
      packets.push_back({open_first, posted - open_first, std::move(open)});
      open.clear();
    }
  }

  auto r = tx.process();
  const auto c = st.counters.snapshot();
  if (!r) {
    FUZZ_CHECK(r.error().code == EPROTO && c.bad_descriptors > 0);
    return;
  }
  // No fault: every published chain was well-formed (unless a raw entry
  // happened to be valid, which the model cannot follow).
  if (hostile) {
    return;
  }
  FUZZ_CHECK(*r == packets.size());
  uint64_t written = 0;
  uint64_t ok_packets = 0, errors = 0, dropped = 0;
  std::vector<uint8_t> tapped(static_cast<size_t>(::lseek(tap, 0, SEEK_END)));
  FUZZ_CHECK(::pread(tap, tapped.data(), tapped.size(), 0) == static_cast<ssize_t>(tapped.size()));
  for (const Packet& p : packets) {
    vbus_venet_hdr h{};
    const bool has_hdr = p.bytes.size() >= sizeof h;
    if (has_hdr) {
      std::memcpy(&h, p.bytes.data(), sizeof h);
    }
    const bool ok =
        has_hdr && p.bytes.size() - sizeof h >= 14 && avm::venet_tx_header_ok(h, st.feat());
    for (uint32_t i = 0; i < p.entries; i++) {
      const vbus_ring_used& u = view->used()[(p.first + i) & view->mask()];
      FUZZ_CHECK(u.seq == p.first + i + 1);
      FUZZ_CHECK(u.flags == (ok ? 0 : VBUS_USED_F_ERROR));
    }
    if (!ok) {
      errors++;
      continue;
    }
    if (!st.link_active()) {
      dropped++;
      continue;
    }
    // On the tap: the header with num_buffers 0, then the frame.
    FUZZ_CHECK(written + p.bytes.size() <= tapped.size());
    h.num_buffers = 0;
    FUZZ_CHECK(std::memcmp(tapped.data() + written, &h, sizeof h) == 0);
    FUZZ_CHECK(std::equal(p.bytes.begin() + sizeof h, p.bytes.end(),
                          tapped.begin() + static_cast<ptrdiff_t>(written + sizeof h)));
    written += p.bytes.size();
    ok_packets++;
  }
  FUZZ_CHECK(written == tapped.size());
  FUZZ_CHECK(c.tx_packets == ok_packets && c.tx_errors == errors && c.tx_dropped_link == dropped);
  FUZZ_CHECK(tx.queue().outstanding() ==
             posted - (packets.empty() ? 0 : packets.back().first + packets.back().entries));
}

void run_rx(avm::fuzz::Buffer& region, Input& in) {
  auto view = make_queue(region, in);
  if (!view) {
    return;
  }
  std::array<int, 2> sp{};
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp.data()) ==
             0);
  avm::VenetState st;
  st.features = avm::venet_grant(in.take<uint64_t>(), avm::kVenetAllFeatures, view->buf_size());
  st.host_link = true;
  st.guest_link = in.below(8) != 0;
  avm::VenetRx rx(*view, sp[1], st);
  avm::GuestQueue guest(*view);

  // Frames from the "tap": header + bytes (a pattern, to keep inputs short).
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t k = in.below(6); k > 0; k--) {
    std::vector<uint8_t> f(in.flag() ? in.take<uint16_t>() + 12U : in.below(128));
    const uint8_t seed = in.take<uint8_t>();
    for (size_t i = 0; i < f.size(); i++) {
      f[i] = static_cast<uint8_t>(seed + i * 7);
    }
    if (::send(sp[0], f.data(), f.size(), 0) != static_cast<ssize_t>(f.size())) {
      break;  // socket buffer full
    }
    frames.push_back(std::move(f));
  }
  // Posted buffers: whole slots, sometimes too short for the header.
  uint32_t posted = 0;
  for (uint32_t k = in.below(view->num_entries() + 1); k > 0 && !guest.full(); k--) {
    const uint32_t len = in.below(8) == 0 ? in.below(view->buf_size() + 1) : view->buf_size();
    guest.post(len);
    posted++;
  }
  auto r = rx.process();
  ::close(sp[0]);
  ::close(sp[1]);
  const auto c = st.counters.snapshot();
  if (!r) {
    FUZZ_CHECK(r.error().code == EPROTO && c.bad_descriptors > 0);
    return;
  }
  // Walk the used ring: each delivered frame is a chain.
  std::array<avm::UsedEntry, 64> used{};
  const size_t n = guest.poll_used(used);
  size_t i = 0;
  uint64_t delivered = 0;
  size_t next_frame = 0;
  while (i < n) {
    std::vector<uint8_t> got;
    const size_t first = i;
    for (;;) {
      FUZZ_CHECK(i < n);
      const avm::UsedEntry& u = used[i++];
      FUZZ_CHECK((u.flags & VBUS_USED_F_ERROR) == 0);
      auto b = guest.buffer(u.index);
      FUZZ_CHECK(u.len <= b.size());
      got.insert(got.end(), b.begin(), b.begin() + u.len);
      if ((u.flags & VBUS_USED_F_NEXT) == 0) {
        break;
      }
      FUZZ_CHECK((st.feat() & VENET_F_MRG_RXBUF) != 0);
    }
    // The frame it carries: one of those sent, in order, with num_buffers.
    FUZZ_CHECK(got.size() >= sizeof(vbus_venet_hdr));
    vbus_venet_hdr h{};
    std::memcpy(&h, got.data(), sizeof h);
    FUZZ_CHECK(h.num_buffers == i - first);
    bool found = false;
    for (; next_frame < frames.size() && !found; next_frame++) {
      std::vector<uint8_t> want = frames[next_frame];
      if (want.size() != got.size()) {
        continue;
      }
      std::memcpy(want.data() + offsetof(vbus_venet_hdr, num_buffers), &h.num_buffers, 2);
      found = want == got;
    }
    FUZZ_CHECK(found);
    delivered++;
  }
  FUZZ_CHECK(*r == delivered && c.rx_packets == delivered);
  FUZZ_CHECK(delivered + c.rx_no_buffers + c.rx_too_big + c.rx_dropped_link <= frames.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avm::fuzz::Buffer region(kRegionSize);
  static const int tap = ::memfd_create("venet-fuzz-tap", MFD_CLOEXEC);
  FUZZ_CHECK(tap >= 0);
  Input in(data, size);
  switch (in.below(3)) {
    case 0:
      check_features(in);
      break;
    case 1:
      run_tx(region, tap, in);
      break;
    default:
      run_rx(region, in);
      break;
  }
  return 0;
}

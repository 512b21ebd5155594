// SPDX-License-Identifier: GPL-2.0
// A buggy host, for the guest drivers: joins alacrityvmd's instance as one
// more ivshmem peer (every peer gets the region and every other peer's
// vector eventfds), writes one corrupt entry where the guest's vbus_pci /
// vbus_enet read next, and raises the guest's MSI-X vector 0 through the
// guest's own eventfd, exactly as the daemon would.  The guest must log a
// protocol violation and reset its bridge, never oops.
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "fmt/format.h"
#include "hostile.h"
#include "lib/bridge_layout.h"
#include "testing/guest_readers.h"

namespace avm::hostile {
namespace {

using Clock = std::chrono::steady_clock;

struct BuggyHost {
  std::unique_ptr<Session> s;
  vbus_bridge_header hdr{};
  ivshmem::PeerId guest = 0;

  vbus_evq_header* evq() const {
    return reinterpret_cast<vbus_evq_header*>(s->region().data() + hdr.evq_offset);  // NOLINT
  }
  vbus_event* events() const { return reinterpret_cast<vbus_event*>(evq() + 1); }  // NOLINT

  // Writes the event the guest reads next (its `consumed`) with @seq_delta
  // added to the right seq, and raises the guest's interrupt.
  void post(uint16_t type, uint32_t dev_id, uint32_t data, uint32_t seq_delta = 0) const {
    const uint32_t next =
        std::atomic_ref<uint32_t>(evq()->consumed).load(std::memory_order_acquire);
    vbus_event& e = events()[next & (hdr.evq_entries - 1)];
    write_once(e.type, type);
    write_once(e.dev_id, dev_id);
    write_once(e.data, data);
    std::atomic_ref<uint32_t>(e.seq).store(next + 1 + seq_delta, std::memory_order_release);
    (void)s->client().ring(guest, VBUS_EVQ_VECTOR);
  }

  Result<vbus_dev_desc> venet() const {
    for (uint32_t slot = 0; slot < hdr.devtab_slots; slot++) {
      auto d = read_device(s->region(), hdr, slot);
      if (d && d->state == VBUS_DEV_PRESENT && d->type == VBUS_DEV_TYPE_VENET) {
        return *d;
      }
    }
    return make_error(ENODEV, "no venet device");
  }

  // Writes the used entry the guest reads next on queue @q of the venet
  // device (@seq_delta added to the right seq, length @len), then a signal
  // event for the queue.
  Status corrupt_used(uint32_t q, uint32_t len, uint32_t seq_delta) const {
    auto d = venet();
    if (!d) {
      return tl::unexpected(d.error());
    }
    auto view = guest_queue_view(s->region(), *d, q);
    if (!view) {
      return tl::unexpected(view.error());
    }
    // The next used entry is the one after the highest seq the host wrote.
    uint32_t next = 0;
    for (uint32_t i = 0; i < view->num_entries(); i++) {
      next = std::max(next, read_once(view->used()[i].seq));
    }
    vbus_ring_used& u = view->used()[next & view->mask()];
    write_once(u.flags, uint16_t{0});
    write_once(u.len, len);
    std::atomic_ref<uint32_t>(u.seq).store(next + 1 + seq_delta, std::memory_order_release);
    post(VBUS_EV_SIGNAL, d->id, q);
    return {};
  }
};

using HostBugFn = std::function<Status(const BuggyHost&)>;

const Named<HostBugFn>& host_bugs() {
  static const Named<HostBugFn> list = {
      {"evq-type",
       [](const BuggyHost& h) {
         h.post(0x7777, 0, 0);
         return Status{};
       }},
      {"evq-seq",
       [](const BuggyHost& h) {
         h.post(VBUS_EV_DEV_CONFIG, 0, 0, 5);
         return Status{};
       }},
      {"evq-queue",
       [](const BuggyHost& h) -> Status {
         auto d = h.venet();
         if (!d) {
           return tl::unexpected(d.error());
         }
         h.post(VBUS_EV_SIGNAL, d->id, 1000);
         return {};
       }},
      {"evq-call",
       [](const BuggyHost& h) {
         h.post(VBUS_EV_CALL_DONE, 0, 100000);
         return Status{};
       }},
      {"used-len", [](const BuggyHost& h) { return h.corrupt_used(0, 0x7fffffffU, 0); }},
      {"used-seq", [](const BuggyHost& h) { return h.corrupt_used(0, 64, 9); }},
  };
  return list;
}

}  // namespace

std::vector<std::string> host_bug_names() {
  return names_of(host_bugs());
}

int run_host_bug(const std::string& name, const HostBugOptions& o) {
  const HostBugFn* fn = find_named(host_bugs(), name);
  if (fn == nullptr) {
    say("host-bug " + name + ": error: no such mode");
    return 2;
  }
  auto s = Session::connect(o.socket, o.vectors);
  if (!s) {
    say("host-bug " + name + ": error: " + s.error().message);
    return 2;
  }
  BuggyHost h;
  h.s = std::move(*s);
  auto hdr = read_header(h.s->region());
  if (!hdr) {
    say("host-bug " + name + ": error: " + hdr.error().message);
    return 2;
  }
  h.hdr = *hdr;
  // The guest is the first peer that is neither the host nor us.
  for (ivshmem::PeerId p : h.s->client().peers()) {
    if (p != ivshmem::kHostPeerId && p != h.s->client().id()) {
      h.guest = p;
      break;
    }
  }
  if (h.guest == 0) {
    say("host-bug " + name + ": error: no guest peer on the socket");
    return 2;
  }
  // Only while the link is up: that is when the guest reads the queues.
  auto& sh = *reinterpret_cast<vbus_bridge_header*>(h.s->region().data());  // NOLINT
  const auto end = Clock::now() + std::chrono::seconds(30);
  while (std::atomic_ref<uint32_t>(sh.guest_state).load(std::memory_order_acquire) !=
         VBUS_STATE_RUN) {
    if (Clock::now() > end) {
      say("host-bug " + name + ": error: the guest never reached RUN");
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (auto ok = (*fn)(h); !ok) {
    say("host-bug " + name + ": error: " + ok.error().message);
    return 2;
  }
  say(fmt::format("host-bug {}: written, guest peer {} interrupted", name, h.guest));
  return 0;
}

}  // namespace avm::hostile

// SPDX-License-Identifier: GPL-2.0
// The malicious guest: each attack connects to alacrityvmd the way QEMU
// does, becomes the guest, breaks one rule of docs/abi.md on purpose, checks
// what the daemon must do about it (quarantine the device, answer with an
// error, ignore the garbage), and finally checks that its venet device still
// works after a clean re-open (frames to and from the wire arrive intact).
// What the daemon logs is checked by tests/hostile/test_hostile.py.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "fmt/format.h"
#include "hostile.h"
#include "ivshmem/protocol.h"

namespace avm::hostile {
namespace {

using Clock = std::chrono::steady_clock;

// Queue numbers of a venet device (docs/abi.md "venet").
constexpr uint32_t kRxQueue = 0;
constexpr uint32_t kTxQueue = 1;

Error fail(const std::string& why) {
  return Error{EPROTO, why};
}

class Attacker {
 public:
  explicit Attacker(const AttackOptions& o) : o_(o), rng_(o.seed) {}

  Status start() {
    auto w = Wire::open(o_.ifname);
    if (!w) {
      return tl::unexpected(w.error());
    }
    wire_.emplace(std::move(*w));
    return connect();
  }

  // A new ivshmem client and a handshake (the old client, if any, leaves:
  // the daemon restarts the bridge for the next one).
  Status connect() {
    net_.reset();
    s_.reset();
    auto s = Session::connect(o_.socket, o_.vectors);
    if (!s) {
      return tl::unexpected(s.error());
    }
    s_ = std::move(*s);
    return s_->guest().handshake();
  }

  // Opens the venet device (a DEV_OPEN also ends a quarantine).
  Status open() {
    net_.reset();
    auto n = s_->open_venet();
    if (!n) {
      return tl::unexpected(n.error());
    }
    net_ = std::move(*n);
    return {};
  }

  // Opens the device without posting receive buffers.
  Status open_bare() {
    net_.reset();
    auto dev = s_->guest().open(venet_id());
    if (!dev) {
      return tl::unexpected(dev.error());
    }
    net_ = std::make_unique<test::GuestNet>(s_->guest(), std::move(*dev));
    if (!net_->set_link(true)) {
      return make_error(EIO, "SET_LINK failed");
    }
    return {};
  }

  uint32_t venet_id() {
    if (s_->venet_id() == 0) {
      (void)s_->open_venet();  // finds it
    }
    return s_->venet_id();
  }

  // Writes submit entry @index of @q directly: body, then seq (release).
  static void raw_desc(const QueueView& q, uint32_t index, uint16_t flags, uint16_t reserved,
                       uint32_t offset, uint32_t len, uint32_t seq) {
    vbus_ring_desc& d = q.submit()[index & q.mask()];
    write_once(d.flags, flags);
    write_once(d.reserved, reserved);
    write_once(d.offset, offset);
    write_once(d.len, len);
    std::atomic_ref<uint32_t>(d.seq).store(seq, std::memory_order_release);
  }

  void kick() const { s_->ring(net_->dev().desc.doorbell_vector); }

  // Waits for the daemon to quarantine our device: a DEV_CONFIG event for
  // it with the link down in its config.
  bool wait_quarantine(int timeout_ms = 5000) {
    const uint32_t id = net_->dev().id();
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < end) {
      auto ev = s_->guest().wait_event(
          [id](const GuestEvent& e) { return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == id; },
          100);
      if (ev && net_->config().link == 0) {
        return true;
      }
    }
    return false;
  }

  // The device must move traffic again after a clean open: @frames to the
  // wire and @frames back, every one intact and in order.  The frames back
  // are numbered from kRecoverBase: a frame an attack sent towards the
  // guest may still wait on the tap (or in the host's hands) when the
  // device is reset, and the new open may deliver it first; it is skipped.
  static constexpr uint64_t kRecoverBase = uint64_t{1} << 32;
  Status recover(uint64_t frames = 64) {
    if (s_->guest().host_left()) {
      if (auto ok = s_->guest().handshake(); !ok) {
        return ok;
      }
    }
    if (auto ok = open(); !ok) {
      return ok;
    }
    while (wire_->recv()) {
    }
    uint64_t out = 0;
    uint64_t back = 0;
    uint64_t sent_back = 0;
    const auto end = Clock::now() + std::chrono::seconds(20);
    while ((out < frames || back < frames) && Clock::now() < end) {
      (void)s_->guest().poll_events();
      s_->guest().events().clear();
      net_->reclaim_tx();
      while (auto p = net_->receive()) {
        const int64_t seq = check_frame(p->frame, kToGuest);
        if (seq == kNotOurs || (seq >= 0 && static_cast<uint64_t>(seq) < kRecoverBase)) {
          continue;  // kernel chatter, or sent before the reset
        }
        if (seq != static_cast<int64_t>(kRecoverBase + back)) {
          return make_error(EIO, fmt::format("recover: wire->guest frame {} arrived as {}",
                                             kRecoverBase + back, seq));
        }
        back++;
      }
      net_->refill();
      while (auto f = wire_->recv()) {
        const int64_t seq = check_frame(*f, kToWire);
        if (seq == kNotOurs) {
          continue;
        }
        if (seq != static_cast<int64_t>(out)) {
          return make_error(EIO,
                            fmt::format("recover: guest->wire frame {} arrived as {}", out, seq));
        }
        out++;
      }
      // One at a time each way: nothing can be dropped for lack of room.
      if (sent_ == out && sent_ < frames && net_->send(make_frame(kToWire, sent_))) {
        sent_++;
      }
      if (sent_back == back && sent_back < frames &&
          wire_->send(make_frame(kToGuest, kRecoverBase + sent_back))) {
        sent_back++;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    net_->reclaim_tx();
    if (out < frames || back < frames) {
      return make_error(ETIMEDOUT, fmt::format("recover: only {}/{} frames to the wire and "
                                               "{}/{} back",
                                               out, frames, back, frames));
    }
    if (net_->tx_errors != 0) {
      return make_error(EIO, fmt::format("recover: {} tx errors", net_->tx_errors));
    }
    sent_ = 0;
    return {};
  }

  Session& s() { return *s_; }
  test::GuestNet& net() { return *net_; }
  const Wire& wire() const { return *wire_; }
  std::mt19937& rng() { return rng_; }
  const AttackOptions& opt() const { return o_; }

 private:
  const AttackOptions& o_;
  std::mt19937 rng_;
  std::optional<Wire> wire_;
  std::unique_ptr<Session> s_;
  std::unique_ptr<test::GuestNet> net_;
  uint64_t sent_ = 0;
};

using AttackFn = std::function<Result<std::string>(Attacker&)>;

// One bad submit entry on @queue, a kick, then the daemon must quarantine.
Result<std::string> bad_desc(Attacker& a, uint32_t queue, uint16_t flags, uint16_t reserved,
                             uint32_t offset, uint32_t len, uint32_t seq_delta, const char* what) {
  if (auto ok = queue == kRxQueue ? a.open_bare() : a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  const QueueView& q = a.net().dev().queues[queue].view();
  a.raw_desc(q, 0, flags, reserved, offset, len, 1 + seq_delta);
  a.kick();
  if (queue == kRxQueue) {
    // The host takes receive buffers only when a frame waits on the tap.
    (void)a.wire().send(make_frame(kToGuest, 0));
  }
  if (!a.wait_quarantine()) {
    return tl::unexpected(fail(std::string("no quarantine after ") + what));
  }
  return std::string("quarantined after ") + what;
}

Result<std::string> attack_tx_offset(Attacker& a) {
  return bad_desc(a, kTxQueue, 0, 0, 0xffffff00U, 64, 0, "a tx descriptor with offset 0xffffff00");
}

Result<std::string> attack_tx_len_overflow(Attacker& a) {
  // offset + len wraps a 32-bit sum to 56: inside the buffer if computed
  // in 32 bits.
  return bad_desc(a, kTxQueue, 0, 0, 64, 0xfffffff8U, 0,
                  "a tx descriptor whose offset + len overflows 32 bits");
}

Result<std::string> attack_rx_offset(Attacker& a) {
  return bad_desc(a, kRxQueue, 0, 0, 0x7fffff00U, 2048, 0,
                  "an rx descriptor with offset 0x7fffff00");
}

Result<std::string> attack_seq_forward(Attacker& a) {
  return bad_desc(a, kTxQueue, 0, 0, 0, 64, 1000, "a tx entry whose seq jumps 1000 ahead");
}

Result<std::string> attack_seq_backward(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  // Ten good frames (entries 0..9), all completed.
  for (uint64_t i = 0; i < 10; i++) {
    if (!a.net().send(make_frame(kToWire, i))) {
      return tl::unexpected(fail("tx ring full"));
    }
  }
  const auto end = Clock::now() + std::chrono::seconds(5);
  while (a.net().tx().outstanding() > 0 && Clock::now() < end) {
    a.net().reclaim_tx();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (a.net().tx().outstanding() > 0) {
    return tl::unexpected(fail("10 good frames not completed"));
  }
  // Entry 10 claims to be entry 3 again.
  const QueueView& q = a.net().dev().queues[kTxQueue].view();
  a.raw_desc(q, 10, 0, 0, 10 * q.buf_size(), 64, 4);
  a.kick();
  if (!a.wait_quarantine()) {
    return tl::unexpected(fail("no quarantine after a seq that went backwards"));
  }
  return std::string("10 good frames, then entry 10 with seq 4: quarantined");
}

Result<std::string> attack_desc_garbage(Attacker& a) {
  struct Case {
    const char* what;
    uint16_t flags, reserved;
  };
  const Case cases[] = {{"unknown flag bits 0x8000", 0x8000, 0},
                        {"a non-zero reserved field", 0, 0x1234}};
  std::string out;
  for (const Case& c : cases) {
    auto r = bad_desc(a, kTxQueue, c.flags, c.reserved, 0, 64, 0, c.what);
    if (!r) {
      return r;
    }
    out += *r + "; ";
  }
  // A whole submit ring of random bytes.
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  const QueueView& q = a.net().dev().queues[kTxQueue].view();
  for (uint32_t i = 0; i < q.num_entries(); i++) {
    vbus_ring_desc& d = q.submit()[i];
    write_once(d.flags, static_cast<uint16_t>(a.rng()()));
    write_once(d.reserved, static_cast<uint16_t>(a.rng()()));
    write_once(d.offset, static_cast<uint32_t>(a.rng()()));
    write_once(d.len, static_cast<uint32_t>(a.rng()()));
    write_once(d.seq, i == 0 ? 1U : static_cast<uint32_t>(a.rng()()));
  }
  a.kick();
  if (!a.wait_quarantine()) {
    return tl::unexpected(fail("no quarantine after a ring of random descriptors"));
  }
  return out + "quarantined after a ring of random descriptors";
}

Result<std::string> attack_chain_too_long(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  const QueueView& q = a.net().dev().queues[kTxQueue].view();
  // Every entry chained to the next: far more than a 64 KiB frame.
  for (uint32_t i = q.num_entries(); i-- > 0;) {
    a.raw_desc(q, i, VBUS_DESC_F_NEXT, 0, i * q.buf_size(), q.buf_size(), i + 1);
  }
  a.kick();
  if (!a.wait_quarantine()) {
    return tl::unexpected(fail("no quarantine after a chain of every entry"));
  }
  return fmt::format("quarantined after a {}-entry F_NEXT chain", q.num_entries());
}

// Descriptors and packet headers rewritten by a racing thread while the
// host consumes them: whatever the host copied must be what it validated
// and used.
class Racer {
 public:
  Racer(const QueueView& q, uint32_t seed) : q_(q), rng_(seed) {}
  ~Racer() { stop(); }
  Racer(const Racer&) = delete;
  Racer& operator=(const Racer&) = delete;

  void start() {
    stop_.store(false);
    t_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_.store(true);
    if (t_.joinable()) {
      t_.join();
    }
  }
  uint64_t flips() const { return flips_; }

 private:
  void run() {
    while (!stop_.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 256; k++, flips_++) {
        const uint32_t slot = rng_() & q_.mask();
        vbus_ring_desc& d = q_.submit()[slot];
        switch (rng_() % 6) {
          case 0:
            write_once(d.offset, read_once(d.offset) ^ 0x80000000U);
            break;
          case 1:
            write_once(d.len, 0xffffffffU);
            break;
          case 2:
            write_once(d.flags, static_cast<uint16_t>(rng_()));
            break;
          case 3:
            write_once(d.seq, read_once(d.seq) + 1 + ((rng_() & 1) != 0 ? 0U : q_.num_entries()));
            break;
          default: {
            // The venet header and the first frame bytes in the buffer.
            auto buf = q_.buffer(slot);
            for (size_t i = 0; i < 16; i++) {
              std::atomic_ref<uint8_t>(buf[i]).store(static_cast<uint8_t>(rng_()),
                                                     std::memory_order_relaxed);
            }
            break;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  QueueView q_;
  std::mt19937 rng_;
  std::atomic<bool> stop_{false};
  std::thread t_;
  uint64_t flips_ = 0;  // written by the thread, read after stop()
};

Result<std::string> attack_flip_race(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  // The queue's place in the region does not change across opens.
  Racer racer(a.net().dev().queues[kTxQueue].view(), a.opt().seed * 7919);
  racer.start();
  uint64_t sent = 0;
  uint64_t done = 0;
  uint64_t errors = 0;
  uint64_t quarantines = 0;
  const auto end = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < end) {
    done += a.net().reclaim_tx();
    for (int i = 0; i < 8 && a.net().send(make_frame(kToWire, sent)); i++) {
      sent++;
    }
    auto ev = a.s().guest().wait_event(
        [id = a.net().dev().id()](const GuestEvent& e) {
          return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == id;
        },
        1);
    a.s().guest().events().clear();
    if (ev && a.net().config().link == 0) {
      quarantines++;
      errors += a.net().tx_errors;
      // Open again with the racer held off (it would fault the new
      // session before SET_LINK), then let it loose again.
      racer.stop();
      if (auto ok = a.open(); !ok) {
        return tl::unexpected(ok.error());
      }
      racer.start();
    }
  }
  racer.stop();
  errors += a.net().tx_errors;
  return fmt::format(
      "{} racing rewrites; {} frames posted, {} completed ({} with VBUS_USED_F_ERROR), {} "
      "quarantines",
      racer.flips(), sent, done, errors, quarantines);
}

Result<std::string> attack_evq_garbage(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  const vbus_bridge_header& h = a.s().guest().header();
  auto* evq = reinterpret_cast<vbus_evq_header*>(a.s().region().data() + h.evq_offset);  // NOLINT
  // consumed far ahead of what the host produced, then far behind.
  for (uint32_t consumed : {1000000U, 0x80000000U}) {
    write_once(evq->consumed, consumed);
    for (int i = 0; i < 8; i++) {
      if (!a.net().set_link(true)) {  // CALL_DONE events the host must drop
        return tl::unexpected(fail("SET_LINK failed with a garbage consumed"));
      }
    }
  }
  // The whole event queue, header and ring, random.
  auto evq_bytes = a.s().region().subspan(
      h.evq_offset, sizeof(vbus_evq_header) + size_t{h.evq_entries} * sizeof(vbus_event));
  for (uint8_t& b : evq_bytes) {
    std::atomic_ref<uint8_t>(b).store(static_cast<uint8_t>(a.rng()()), std::memory_order_relaxed);
  }
  for (int i = 0; i < 100; i++) {
    a.s().ring(VBUS_BRIDGE_VECTOR);
    a.kick();
  }
  // Calls do not depend on the event queue: they must still be answered.
  if (a.net().negotiate(0) == 0 && !a.net().set_link(true)) {
    return tl::unexpected(fail("calls stopped working after event-queue garbage"));
  }
  // A new handshake resets the queue.
  a.s().guest().reset();
  if (auto ok = a.s().guest().handshake(); !ok) {
    return tl::unexpected(ok.error());
  }
  return std::string(
      "consumed 1000000 and 0x80000000, then a random event queue: calls still "
      "answered, re-handshake clean");
}

Result<std::string> attack_call_garbage(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  SoftGuest& g = a.s().guest();
  const uint32_t id = a.net().dev().id();
  struct Case {
    const char* what;
    uint32_t op, dev, len;
    std::vector<uint8_t> data;
    uint32_t want;
  };
  const std::vector<Case> cases = {
      {"req_len 0xffffffff", VENET_CALL_NEGOTIATE, id, 0xffffffffU, {}, EINVAL},
      {"req_len 49", VENET_CALL_NEGOTIATE, id, VBUS_CALL_DATA_SIZE + 1, {}, EINVAL},
      {"unknown class op", 0xdeadbeefU, id, 0, {}, EOPNOTSUPP},
      {"unknown bridge op", 7, id, 0, {}, EOPNOTSUPP},
      {"no such device", VENET_CALL_NEGOTIATE, 12345, 8, std::vector<uint8_t>(8), ENODEV},
      {"bridge call on dev 0", VBUS_CALL_DEV_OPEN, 0, 0, {}, EOPNOTSUPP},
      {"NEGOTIATE with 3 bytes", VENET_CALL_NEGOTIATE, id, 3, {1, 2, 3}, EINVAL},
      {"SET_LINK 0xffff", VENET_CALL_SET_LINK, id, 2, {0xff, 0xff}, EINVAL},
  };
  for (const Case& c : cases) {
    auto r = g.call_raw(c.op, c.dev, c.len, c.data);
    if (!r) {
      return tl::unexpected(fail(std::string(c.what) + ": " + r.error().message));
    }
    if (r->status != c.want) {
      return tl::unexpected(
          fail(fmt::format("{}: status {}, expected {}", c.what, r->status, c.want)));
    }
  }
  // Every call slot's request and response halves random, doorbells.
  const vbus_bridge_header& h = g.header();
  auto slots = a.s().region().subspan(h.call_offset, size_t{h.call_slots} * sizeof(vbus_call_slot));
  for (int round = 0; round < 20; round++) {
    for (uint8_t& b : slots) {
      std::atomic_ref<uint8_t>(b).store(static_cast<uint8_t>(a.rng()()), std::memory_order_relaxed);
    }
    a.s().ring(VBUS_BRIDGE_VECTOR);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  g.reset();
  if (auto ok = g.handshake(); !ok) {
    return tl::unexpected(ok.error());
  }
  return fmt::format(
      "{} malformed calls answered with the right errors; 20 rounds of random "
      "call slots",
      cases.size());
}

Result<std::string> attack_doorbell_storm(Attacker& a) {
  if (auto ok = a.open(); !ok) {
    return tl::unexpected(ok.error());
  }
  constexpr uint64_t kDoorbells = 1000000;
  const unsigned nv = a.opt().vectors;
  std::vector<const EventFd*> bells;
  for (unsigned v = 0; v < nv; v++) {
    const EventFd* e = a.s().client().vector(ivshmem::kHostPeerId, v);
    if (e == nullptr) {
      return tl::unexpected(fail(fmt::format("no host vector {}", v)));
    }
    bells.push_back(e);
  }
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < kDoorbells; i++) {
    bells[i % nv]->signal();
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  // Still answering calls, and the device is not hurt by empty kicks.
  auto r = a.s().guest().call(VBUS_CALL_DEV_OPEN, 12345);
  if (!r || r->status != ENODEV) {
    return tl::unexpected(fail("the bridge stopped answering calls after the storm"));
  }
  return fmt::format("{} doorbells over {} vectors in {:.2f} s; calls answered after", kDoorbells,
                     nv, secs);
}

UniqueFd raw_connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {  // NOLINT
    return {};
  }
  return fd;
}

Result<std::string> attack_handshake_drop(Attacker& a) {
  const std::string& path = a.opt().socket;
  int dropped = 0;
  // Gone before the server has said anything, and after 1..6 messages.
  for (int i = 0; i < 40; i++) {
    UniqueFd fd = raw_connect(path);
    if (!fd) {
      return tl::unexpected(fail("connect failed"));
    }
    for (int m = 0; m < i % 7; m++) {
      if (!ivshmem::recv_message(fd.get(), 1000)) {
        break;
      }
    }
    dropped++;
  }
  // More clients than the daemon takes (16), holding on.
  std::vector<ivshmem::Client> held;
  int joined = 0;
  int refused = 0;
  for (int i = 0; i < 24; i++) {
    auto c = ivshmem::Client::connect(path);
    if (c) {
      held.push_back(std::move(*c));
    }
  }
  for (ivshmem::Client& c : held) {
    if (c.handshake(a.opt().vectors, 2000)) {
      joined++;
    } else {
      refused++;
    }
  }
  if (refused == 0) {
    return tl::unexpected(fail(fmt::format("{} clients joined, none refused", joined)));
  }
  held.clear();
  // The attacker's own client was the guest through all this.
  if (auto ok = a.connect(); !ok) {
    return tl::unexpected(ok.error());
  }
  return fmt::format("{} clients dropped mid-handshake; of 24 more, {} joined and {} refused",
                     dropped, joined, refused);
}

Result<std::string> attack_guest_state(Attacker& a) {
  SoftGuest& g = a.s().guest();
  auto& h = *reinterpret_cast<vbus_bridge_header*>(a.s().region().data());  // NOLINT
  auto host_state = [&h] {
    return std::atomic_ref<uint32_t>(h.host_state).load(std::memory_order_acquire);
  };
  std::atomic_ref<uint32_t>(h.guest_state).store(0xdeadbeefU, std::memory_order_release);
  a.s().ring(VBUS_BRIDGE_VECTOR);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (host_state() != VBUS_STATE_RUN) {
    return tl::unexpected(fail("a garbage guest_state took the link down"));
  }
  // INIT for an epoch that is not the host's.
  g.reset();
  const auto end = Clock::now() + std::chrono::seconds(5);
  while (host_state() == VBUS_STATE_RUN && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  write_once(h.guest_epoch, read_once(h.host_epoch) + 77);
  std::atomic_ref<uint32_t>(h.guest_state).store(VBUS_STATE_INIT, std::memory_order_release);
  a.s().ring(VBUS_BRIDGE_VECTOR);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (host_state() == VBUS_STATE_RUN) {
    return tl::unexpected(fail("an INIT for a stale epoch brought the link up"));
  }
  // Every feature bit asked for: only offered ones may be granted.
  if (auto ok = g.handshake(5000, ~uint64_t{0}); !ok) {
    return tl::unexpected(ok.error());
  }
  if ((g.negotiated_features() & ~g.header().host_features) != 0) {
    return tl::unexpected(fail("negotiated features beyond the host's offer"));
  }
  return std::string(
      "guest_state 0xdeadbeef ignored; INIT with a stale epoch ignored; "
      "features limited to the offer");
}

// Random bytes over every byte of the region, then zeros over the magic
// ("AVM-VBUS"): everything a guest can reach, the host's fields included.
void scribble_everything(Attacker& a) {
  std::span<uint8_t> region = a.s().region();
  std::vector<uint8_t> noise(region.size());
  for (uint8_t& b : noise) {
    b = static_cast<uint8_t>(a.rng()());
  }
  std::memcpy(region.data(), noise.data(), noise.size());
  std::memset(region.data(), 0, sizeof(uint64_t));
}

// Issue 18: a guest that scribbled over the host's fields -- the magic
// included -- and left (or rebooted) made the daemon restart the bridge
// with them still scribbled, and every later guest found "bad magic".
// Nothing is put back here: the host must write its fields again itself.
Result<std::string> attack_region_scribble(Attacker& a) {
  // The same guest, as across a reboot: everything scribbled, then the
  // RESET its driver's removal stores.  The host writes its fields again
  // on the way back to READY; the guest probes the header afresh.
  scribble_everything(a);
  auto& sh = *reinterpret_cast<vbus_bridge_header*>(a.s().region().data());  // NOLINT
  std::atomic_ref<uint32_t>(sh.guest_state).store(VBUS_STATE_RESET, std::memory_order_release);
  a.s().ring(VBUS_BRIDGE_VECTOR);
  const auto end = Clock::now() + std::chrono::seconds(5);
  // READY is stored last (release), after the host's fields.
  while ((load_acquire(sh.host_state) != VBUS_STATE_READY || read_once(sh.magic) != VBUS_MAGIC) &&
         Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (auto ok = a.s().guest().handshake(); !ok) {
    return tl::unexpected(fail("after a RESET over a scribbled region: " + ok.error().message));
  }
  const uint32_t id = a.venet_id();
  uint32_t statuses[2] = {~0U, ~0U};
  int k = 0;
  for (uint32_t op : {VBUS_CALL_DEV_OPEN, VBUS_CALL_DEV_CLOSE}) {
    auto r = a.s().guest().call_raw(op, id, 0, {});
    statuses[k++] = r ? r->status : ~0U;
  }
  if (id == 0 || statuses[0] != 0 || statuses[1] != 0) {
    return tl::unexpected(fail(fmt::format(
        "after a RESET over a scribbled region: device {}, DEV_OPEN/DEV_CLOSE answered {}/{}", id,
        statuses[0], statuses[1])));
  }
  // Everything scribbled again, and the guest leaves: a fresh one (a new
  // client of the same instance) must handshake; run_attack() then checks
  // that it moves traffic.
  scribble_everything(a);
  if (auto ok = a.connect(); !ok) {
    return tl::unexpected(fail("a fresh guest after a scribbled region: " + ok.error().message));
  }
  return std::string(
      "the whole region scribbled (magic zeroed), nothing restored: the guest's RESET and a new "
      "guest both found the host's layout written again");
}

Result<std::string> attack_reset_cycles(Attacker& a) {
  int resets = 0;
  int reopens = 0;
  int reconnects = 0;
  for (int i = 0; i < 20; i++) {
    a.s().guest().reset();
    if (auto ok = a.s().guest().handshake(); !ok) {
      return tl::unexpected(fail(fmt::format("reset {}: {}", i, ok.error().message)));
    }
    if (auto ok = a.open(); !ok) {
      return tl::unexpected(fail(fmt::format("reset {}: open: {}", i, ok.error().message)));
    }
    resets++;
  }
  for (int i = 0; i < 20; i++) {
    if (auto ok = a.s().guest().close(a.net().dev().id()); !ok) {
      return tl::unexpected(fail(fmt::format("close {}: {}", i, ok.error().message)));
    }
    if (auto ok = a.open(); !ok) {
      return tl::unexpected(fail(fmt::format("reopen {}: {}", i, ok.error().message)));
    }
    reopens++;
  }
  for (int i = 0; i < 10; i++) {
    if (auto ok = a.connect(); !ok) {
      return tl::unexpected(fail(fmt::format("reconnect {}: {}", i, ok.error().message)));
    }
    if (auto ok = a.open(); !ok) {
      return tl::unexpected(fail(fmt::format("reconnect {}: open: {}", i, ok.error().message)));
    }
    reconnects++;
  }
  return fmt::format("{} guest RESET/INIT cycles, {} close/open, {} disconnect/reconnect", resets,
                     reopens, reconnects);
}

// A fault on the old session, then at once a DEV_OPEN: the fault report
// reaches the bridge loop through a posted task, and must not hit the new
// session (which did nothing wrong).
Result<std::string> attack_stale_fault(Attacker& a) {
  int stale = 0;
  constexpr int kRounds = 300;
  for (int i = 0; i < kRounds; i++) {
    if (auto ok = a.open(); !ok) {
      return tl::unexpected(ok.error());
    }
    const QueueView& q = a.net().dev().queues[kTxQueue].view();
    a.raw_desc(q, 0, 0, 0, 0xffffff00U, 64, 1);
    a.kick();
    if (auto ok = a.open(); !ok) {  // races with the fault report
      // SET_LINK refused (EIO): already quarantined again
      stale++;
      continue;
    }
    // The new session is clean: no quarantine may follow.
    auto ev = a.s().guest().wait_event(
        [id = a.net().dev().id()](const GuestEvent& e) {
          return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == id;
        },
        10);
    if (ev && a.net().config().link == 0) {
      stale++;
    }
    a.s().guest().events().clear();
  }
  if (stale > 0) {
    return tl::unexpected(fail(fmt::format(
        "{} of {} clean re-opens right after a fault were quarantined for the old fault", stale,
        kRounds)));
  }
  return fmt::format("{} re-opens right after a fault: none quarantined for the old one", kRounds);
}

Result<std::string> attack_recover(Attacker& /*a*/) {
  return std::string("nothing hostile: the device must work");
}

const Named<AttackFn>& attacks() {
  static const Named<AttackFn> list = {
      {"tx-offset", attack_tx_offset},
      {"tx-len-overflow", attack_tx_len_overflow},
      {"rx-offset", attack_rx_offset},
      {"seq-forward", attack_seq_forward},
      {"seq-backward", attack_seq_backward},
      {"desc-garbage", attack_desc_garbage},
      {"chain-too-long", attack_chain_too_long},
      {"flip-race", attack_flip_race},
      {"evq-garbage", attack_evq_garbage},
      {"call-garbage", attack_call_garbage},
      {"doorbell-storm", attack_doorbell_storm},
      {"handshake-drop", attack_handshake_drop},
      {"guest-state", attack_guest_state},
      {"region-scribble", attack_region_scribble},
      {"reset-cycles", attack_reset_cycles},
      {"stale-fault", attack_stale_fault},
      {"recover", attack_recover},
  };
  return list;
}

}  // namespace

std::vector<std::string> attack_names() {
  return names_of(attacks());
}

int run_attack(const std::string& name, const AttackOptions& o) {
  const AttackFn* fn = find_named(attacks(), name);
  if (fn == nullptr) {
    say("attack " + name + ": error: no such attack");
    return 2;
  }
  Attacker a(o);
  if (auto ok = a.start(); !ok) {
    say("attack " + name + ": error: setup: " + ok.error().message);
    return 2;
  }
  auto r = (*fn)(a);
  if (!r) {
    say("attack " + name + ": FAILED: " + r.error().message);
    return 1;
  }
  say("attack " + name + ": " + *r);
  // Whatever happened, a clean open must bring the device back.
  if (auto ok = a.recover(); !ok) {
    say("attack " + name + ": FAILED: after the attack: " + ok.error().message);
    return 1;
  }
  say("attack " + name + ": ok: the device moved 64 frames each way intact afterwards");
  return 0;
}

}  // namespace avm::hostile

// SPDX-License-Identifier: GPL-2.0
// The well-behaved guest: moves numbered, checksummed frames both ways
// between its venet device and the wire (the TAP in this namespace), at
// most `window` in flight per direction so no ring or socket ever has to
// drop one, and counts what arrived, in order and intact.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <csignal>

#include "fmt/format.h"
#include "hostile.h"

namespace avm::hostile {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
void on_stop(int /*sig*/) {
  g_stop.store(true);
}

// One direction of the traffic.
struct Flow {
  uint64_t sent = 0;       // frames handed to the sender
  uint64_t received = 0;   // intact frames that arrived
  uint64_t next = 0;       // the seq expected next
  uint64_t lost = 0;       // seqs skipped by an arrival
  uint64_t corrupt = 0;    // frames of ours that failed the checks
  uint64_t reordered = 0;  // seqs that arrived after a later one
  Clock::time_point last_progress = Clock::now();

  void arrive(int64_t seq) {
    if (seq == kCorrupt) {
      corrupt++;
      return;
    }
    const auto s = static_cast<uint64_t>(seq);
    if (s < next) {
      reordered++;
      return;
    }
    lost += s - next;
    next = s + 1;
    received++;
    last_progress = Clock::now();
  }
  uint64_t in_flight() const { return sent - next; }
  std::string json() const {
    return fmt::format(
        R"({{"sent": {}, "received": {}, "lost": {}, "corrupt": {}, "reordered": {}}})", sent,
        received, lost + (sent - next), corrupt, reordered);
  }
};

}  // namespace

int run_good(const GoodOptions& o) {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  auto wire = Wire::open(o.ifname);
  if (!wire) {
    say("good: error: " + wire.error().message);
    return 2;
  }
  auto s = Session::connect(o.socket, o.vectors);
  if (!s) {
    say("good: error: " + s.error().message);
    return 2;
  }
  Session& ses = **s;
  if (auto ok = ses.guest().handshake(); !ok) {
    say("good: error: handshake: " + ok.error().message);
    return 2;
  }
  auto net = ses.open_venet();
  if (!net) {
    say("good: error: " + net.error().message);
    return 2;
  }
  test::GuestNet& n = **net;
  Flow tx;  // guest -> wire
  Flow rx;  // wire -> guest
  uint64_t tx_errors = 0;
  uint64_t host_left = 0;
  const auto start = Clock::now();
  auto last_report = start;
  const auto end = start + std::chrono::seconds(o.seconds);
  bool draining = false;
  Clock::time_point drain_end;
  say("good: running");
  for (;;) {
    const auto now = Clock::now();
    if (!draining && (g_stop.load() || now >= end)) {
      draining = true;
      drain_end = now + std::chrono::seconds(10);
    }
    if (draining && ((tx.in_flight() == 0 && rx.in_flight() == 0) || now >= drain_end)) {
      break;
    }
    if (ses.guest().host_left()) {
      host_left++;  // the good daemon never resets us: a failure
      say("good: error: the host left the link");
      break;
    }
    (void)ses.guest().poll_events();
    ses.guest().events().clear();
    n.reclaim_tx();
    tx_errors = n.tx_errors;
    // Receive everything complete, then give the buffers back.
    bool got = false;
    while (auto p = n.receive()) {
      got = true;
      const int64_t seq = check_frame(p->frame, kToGuest);
      if (seq != kNotOurs) {
        rx.arrive(seq);
      }
    }
    if (got) {
      n.refill();
    }
    while (auto f = wire->recv()) {
      const int64_t seq = check_frame(*f, kToWire);
      if (seq != kNotOurs) {
        tx.arrive(seq);
      }
    }
    if (!draining) {
      while (tx.in_flight() < o.window && n.send(make_frame(kToWire, tx.sent))) {
        tx.sent++;
      }
      while (rx.in_flight() < o.window && wire->send(make_frame(kToGuest, rx.sent))) {
        rx.sent++;
      }
    }
    for (Flow* f : {&tx, &rx}) {
      if (f->in_flight() > 0 && now - f->last_progress > std::chrono::seconds(o.stall_seconds)) {
        say(fmt::format("good: error: {} stalled at seq {} for {} s",
                        f == &tx ? "guest->wire" : "wire->guest", f->next, o.stall_seconds));
        g_stop.store(true);
        f->last_progress = now;
      }
    }
    if (now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      say(fmt::format("good: progress tx {} rx {} lost {} corrupt {}", tx.received, rx.received,
                      tx.lost + rx.lost, tx.corrupt + rx.corrupt));
    }
    pollfd pf[2] = {{ses.irq()->fd(), POLLIN, 0}, {wire->fd(), POLLIN, 0}};
    if (::poll(pf, 2, 1) > 0 && (pf[0].revents & POLLIN) != 0) {
      ses.irq()->consume();
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  say(fmt::format(
      R"(good: result {{"seconds": {:.1f}, "to_wire": {}, "to_guest": {}, "tx_errors": {}, "host_left": {}}})",
      secs, tx.json(), rx.json(), tx_errors, host_left));
  return 0;
}

}  // namespace avm::hostile

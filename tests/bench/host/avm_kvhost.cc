// SPDX-License-Identifier: GPL-2.0
// avm-kvhost: drives one venet device end to end inside a test VM, with
// the host side served either by vbus_host.ko (--backend kernel, through
// KernelVenet / KernelBackend) or by the userspace backend (--backend user,
// VenetDevice).  In-process: a region memfd, the bridge runtime on its own
// loop thread, and a software guest (SoftGuest + GuestQueue) that pings
// the address of the device's TAP, which the VM's own kernel answers.
//
//   avm-kvhost ping  --backend B [--count N]    N echo requests of varying
//                                               size, every reply checked
//                    [--buf-size B]             (B < 1526: frames span several
//                                               tx entries and rx buffers)
//   avm-kvhost bench --backend B --seconds S    ping flood, prints rates and
//                                               notifications per packet
//   avm-kvhost flood --backend B                ping flood until killed
//   avm-kvhost fault --case C                   a malformed descriptor; the
//                                               module must stop the path,
//                                               report C and recover on reopen
//   avm-kvhost refuse                           attach arguments the module
//                                               must refuse (EINVAL, EBADF)
//   avm-kvhost client --socket S [--count N]    the software guest alone, as
//                    [--vectors V]              QEMU would be: connects to an
//                                               instance of alacrityvmd at S,
//                                               opens its first venet device
//                                               and pings as above
//   avm-kvhost link --socket S [--count N]      as client, around a host link
//                  [--vectors V]                down and up (avmctl link) the
//                                               test drives: N round trips,
//                                               "WAIT carrier=down"; once the
//                                               config area says down, 20
//                                               requests that must go nowhere
//                                               (down_replies), "WAIT
//                                               carrier=up"; once up, N round
//                                               trips again
//
// Output: "key=value ..." lines; the last is "RESULT ok" or "RESULT fail:
// reason" (exit status 0 / 1).  The TAP is avmk0 with 10.77.0.1/24; the
// software guest is 10.77.0.2 and answers ARP for itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "bridge/bridge_runtime.h"
#include "bridge/event_loop.h"
#include "ivshmem/client.h"
#include "lib/region.h"
#include "testing/guest_net.h"
#include "testing/soft_guest.h"
#include "venet/kernel_backend.h"
#include "venet/venet_device.h"

namespace avm::bench {
namespace {

using Clock = std::chrono::steady_clock;
using test::GuestNet;

constexpr const char* kTap = "avmk0";
constexpr std::array<uint8_t, 6> kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr std::array<uint8_t, 4> kGuestIp = {10, 77, 0, 2};
constexpr std::array<uint8_t, 4> kHostIp = {10, 77, 0, 1};
constexpr uint16_t kIcmpId = 0x4b56;
constexpr uint32_t kVectors = 4;

struct Options {
  std::string mode;
  std::string backend = "kernel";
  std::string fault_case;
  uint32_t count = 200;
  uint32_t seconds = 5;
  uint32_t window = 16;
  uint32_t buf_size = 2048;  // pool buffer size of both queues
  std::string socket;        // client: the instance's ivshmem socket
  uint32_t vectors = 4;      // client: the instance's vectors
};

[[noreturn]] void fail(const std::string& why) {
  std::printf("RESULT fail: %s\n", why.c_str());
  (void)std::fflush(stdout);
  std::_Exit(1);
}

uint16_t csum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if ((n & 1) != 0) {
    s += static_cast<uint32_t>(p[n - 1] << 8);
  }
  while ((s >> 16) != 0) {
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<uint16_t>(~s);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// Payload of echo @seq: its size and bytes follow from seq alone.
std::vector<uint8_t> payload(uint16_t seq) {
  std::vector<uint8_t> d(16 + (seq * 37U) % 1400);
  uint32_t x = 0x9e3779b9U * (seq + 1U);
  for (auto& b : d) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return d;
}

std::vector<uint8_t> echo_request(const std::array<uint8_t, 6>& dst, uint16_t seq) {
  const auto data = payload(seq);
  std::vector<uint8_t> f(14 + 20 + 8 + data.size());
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, kGuestMac.data(), 6);
  put16(&f[12], 0x0800);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(20 + 8 + data.size()));
  put16(ip + 4, seq);
  ip[8] = 64;
  ip[9] = 1;  // ICMP
  std::memcpy(ip + 12, kGuestIp.data(), 4);
  std::memcpy(ip + 16, kHostIp.data(), 4);
  put16(ip + 10, csum(ip, 20));
  uint8_t* icmp = ip + 20;
  icmp[0] = 8;
  put16(icmp + 4, kIcmpId);
  put16(icmp + 6, seq);
  std::memcpy(icmp + 8, data.data(), data.size());
  put16(icmp + 2, csum(icmp, 8 + data.size()));
  return f;
}

std::vector<uint8_t> arp_reply(const std::vector<uint8_t>& req) {
  std::vector<uint8_t> f(42);
  std::memcpy(f.data(), &req[6], 6);
  std::memcpy(f.data() + 6, kGuestMac.data(), 6);
  put16(&f[12], 0x0806);
  uint8_t* a = &f[14];
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 2);
  std::memcpy(a + 8, kGuestMac.data(), 6);
  std::memcpy(a + 14, kGuestIp.data(), 4);
  std::memcpy(a + 18, &req[14 + 8], 10);  // sender MAC + IP become target
  return f;
}

class Harness {
 public:
  explicit Harness(const Options& o) : o_(o) {}
  ~Harness() { stop(); }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  void start() {
    auto region = Region::create("avm-kvhost", uint64_t{4} << 20);
    if (!region) {
      fail(region.error().message);
    }
    region_.emplace(std::move(*region));
    auto loop = EventLoop::create();
    if (!loop) {
      fail(loop.error().message);
    }
    loop_ = std::move(*loop);
    for (uint32_t v = 0; v < kVectors; v++) {
      doorbells_.push_back(std::move(*EventFd::create()));
    }
    irq_.emplace(std::move(*EventFd::create()));
    BridgeConfig bc;
    bc.num_vectors = kVectors;
    auto rt = BridgeRuntime::create(region_->span(), bc, *loop_, doorbells_);
    if (!rt) {
      fail(rt.error().message);
    }
    rt_ = std::move(*rt);
    rt_->event_queue().set_sink_fd(UniqueFd(::fcntl(irq_->fd(), F_DUPFD_CLOEXEC, 0)));
    if (!rt_->start()) {
      fail("bridge start");
    }
    thread_ = std::thread([this] { loop_->run(); });
    loop_->wait_running();

    auto tap = Tap::open(kTap);
    if (!tap) {
      fail(tap.error().message);
    }
    const std::string setup =
        std::string("ip link set ") + kTap + " up && ip addr add 10.77.0.1/24 dev " + kTap;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread of ours calls system()
    if (std::system(setup.c_str()) != 0) {
      fail("tap setup: " + setup);
    }
    VenetConfig cfg;
    cfg.tap_name = kTap;
    cfg.mac = kGuestMac;
    cfg.buf_size = o_.buf_size;
    cfg.backend = o_.backend == "kernel" ? VenetBackend::kKernel : VenetBackend::kUser;
    auto u = VenetDevice::create(cfg, std::move(*tap));
    if (!u) {
      fail(u.error().message);
    }
    (*u)->bind_region(rt_->layout(), *region_);
    dev_ = u->get();
    std::unique_ptr<Device> dev = std::move(*u);
    loop_->run_sync([&] {
      auto id = rt_->add_device(std::move(dev));
      if (!id) {
        fail(id.error().message);
      }
      id_ = *id;
    });
    irqp_ = &*irq_;
    guest_ = std::make_unique<SoftGuest>(
        region_->span(), [this](uint32_t v) { doorbells_.at(v).signal(); }, irqp_);
    if (auto ok = guest_->handshake(); !ok) {
      fail("handshake: " + ok.error().message);
    }
  }

  // The software guest alone, connected to alacrityvmd's instance socket
  // (the daemon is the host; its first venet device is the one pinged).
  void start_client() {
    constexpr int kTimeoutMs = 30000;
    auto c = ivshmem::Client::connect(o_.socket);
    if (!c) {
      fail("connect " + o_.socket + ": " + c.error().message);
    }
    client_.emplace(std::move(*c));
    if (auto ok = client_->handshake(o_.vectors, kTimeoutMs); !ok) {
      fail("ivshmem handshake: " + ok.error().message);
    }
    auto region = client_->map_region();
    if (!region) {
      fail(region.error().message);
    }
    region_.emplace(std::move(*region));
    irqp_ = client_->vector(client_->id(), VBUS_EVQ_VECTOR);
    if (irqp_ == nullptr) {
      fail("no vector 0");
    }
    guest_ = std::make_unique<SoftGuest>(
        region_->span(), [this](uint32_t v) { (void)client_->ring(ivshmem::kHostPeerId, v); },
        irqp_);
    if (auto ok = guest_->handshake(kTimeoutMs); !ok) {
      fail("handshake: " + ok.error().message);
    }
    auto devs = guest_->devices();
    if (!devs || devs->empty()) {
      fail("the instance has no device");
    }
    id_ = devs->front().id;
  }

  // DEV_OPEN, negotiate, link up, fill the rx ring (unless !@refill).
  void open_device(bool refill = true) {
    auto d = guest_->open(id_);
    if (!d) {
      fail("open: " + d.error().message);
    }
    net_ = std::make_unique<GuestNet>(*guest_, std::move(*d));
    // SG and MRG_RXBUF: with small buffers frames span several entries.
    const uint64_t got =
        net_->negotiate(VENET_F_CSUM | VENET_F_GUEST_CSUM | VENET_F_SG | VENET_F_MRG_RXBUF);
    if (got == 0 || !net_->set_link(true)) {
      fail("negotiate / set_link");
    }
    if (refill) {
      net_->refill();
    }
  }

  // The host link as the config area shows it (what a driver's carrier is).
  bool carrier() const { return (net_->config().link & VENET_LINK_UP) != 0; }

  // Services the device (DEV_CONFIG events, stray frames) until the
  // carrier is @up; fails after @timeout.
  void wait_carrier(bool up, std::chrono::seconds timeout) {
    std::map<uint16_t, bool> inflight;
    uint64_t replies = 0;
    const auto deadline = Clock::now() + timeout;
    while (carrier() != up) {
      if (Clock::now() > deadline) {
        fail(std::string("carrier did not go ") + (up ? "up" : "down"));
      }
      (void)service(&inflight, &replies);
    }
  }

  // With the carrier down: @n echo requests 50 ms apart, then 1 s more of
  // servicing.  Returns the replies (none may come: the host drops them).
  uint64_t ping_while_down(uint32_t n) {
    std::map<uint16_t, bool> inflight;
    uint64_t replies = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (carrier()) {
        fail("carrier came back before the test raised it");
      }
      const auto seq = static_cast<uint16_t>(0x8000U + i);
      if (!net_->send(echo_request(host_mac_, seq))) {
        fail("send while down: tx ring full");
      }
      inflight[seq] = true;
      const auto until = Clock::now() + std::chrono::milliseconds(i + 1 == n ? 1000 : 50);
      while (Clock::now() < until) {
        (void)service(&inflight, &replies);
      }
    }
    return replies;
  }

  void restart_count() { sent_ = 0; }

  void close_device() {
    net_.reset();
    if (auto ok = guest_->close(id_); !ok) {
      fail("close: " + ok.error().message);
    }
  }

  // Pings until @count replies (0: until @deadline) with @window in flight.
  // Returns replies; every reply's payload is checked.
  uint64_t ping(uint64_t count, Clock::time_point deadline) {
    std::map<uint16_t, bool> inflight;
    uint16_t seq = 0;
    uint64_t replies = 0;
    auto last_progress = Clock::now();
    while (count == 0 ? Clock::now() < deadline : replies < count) {
      // Keep the window full (only once ARP is resolved by the VM: its
      // first reply may wait for our ARP answer).
      while (inflight.size() < o_.window && (count == 0 || sent_ < count)) {
        if (!net_->send(echo_request(host_mac_, seq))) {
          break;
        }
        inflight[seq] = true;
        seq++;
        sent_++;
      }
      bool progress = service(&inflight, &replies);
      if (progress) {
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > std::chrono::seconds(5)) {
        // Lost ones (e.g. sent before the VM knew our MAC): resend.
        if (inflight.empty()) {
          fail("no progress");
        }
        lost_ += inflight.size();
        sent_ -= inflight.size();
        inflight.clear();
        last_progress = Clock::now();
        if (lost_ > uint64_t{4} * o_.window) {
          fail("replies stopped coming: " + std::to_string(replies) + " received");
        }
      }
    }
    return replies;
  }

  // One round of the guest's receive work: handle the rx signal, take
  // packets, answer ARP, match echo replies, refill; sleeps on the
  // interrupt when there was nothing to do.
  bool service(std::map<uint16_t, bool>* inflight, uint64_t* replies) {
    bool progress = false;
    GuestQueue& rxq = net_->rx();
    rxq.to_guest().handle([&] {
      while (auto p = net_->receive()) {
        progress = true;
        rx_multi_ += p->buffers > 1 ? 1 : 0;
        handle_frame(p->frame, inflight, replies);
      }
    });
    net_->refill();
    progress = net_->reclaim_tx() > 0 || progress;
    if (!progress) {
      // Arm with the final re-check, then sleep on the interrupt.
      if (!rxq.to_guest().arm()) {
        irqp_->wait(2);
        irqp_->consume();
      }
      (void)guest_->poll_events();
      guest_->events().clear();
    }
    return progress;
  }

  void handle_frame(const std::vector<uint8_t>& f, std::map<uint16_t, bool>* inflight,
                    uint64_t* replies) {
    if (f.size() < 14) {
      return;
    }
    const uint16_t type = get16(&f[12]);
    if (type == 0x0806 && f.size() >= 42 && get16(&f[14 + 6]) == 1 &&
        std::memcmp(&f[14 + 24], kGuestIp.data(), 4) == 0) {
      std::memcpy(host_mac_.data(), &f[6], 6);
      (void)net_->send(arp_reply(f));
      return;
    }
    if (type != 0x0800 || f.size() < 14 + 20 + 8) {
      return;
    }
    const uint8_t* ip = &f[14];
    const size_t ihl = size_t{ip[0] & 0x0fU} * 4;
    const size_t tot = get16(ip + 2);
    if (ip[9] != 1 || ihl < 20 || tot > f.size() - 14 || tot < ihl + 8) {
      return;
    }
    const uint8_t* icmp = ip + ihl;
    if (icmp[0] != 0 || get16(icmp + 4) != kIcmpId) {
      return;
    }
    std::memcpy(host_mac_.data(), &f[6], 6);
    const uint16_t seq = get16(icmp + 6);
    const auto want = payload(seq);
    if (csum(icmp, tot - ihl) != 0 || tot - ihl - 8 != want.size() ||
        std::memcmp(icmp + 8, want.data(), want.size()) != 0) {
      fail("echo reply " + std::to_string(seq) + " corrupted");
    }
    if (inflight->erase(seq) != 0) {
      (*replies)++;
      bytes_ += want.size();
    }
  }

  // Counters of the host side, in one line.
  std::string host_counters() {
    std::string out;
    loop_->run_sync([&] {
      const auto e = rt_->event_queue().counters();
      char buf[512];
      if (dev_->backend() == VenetBackend::kKernel) {
        auto s = dev_->kernel_stats();
        if (!s) {
          out = "stats=" + s.error().message;
          return;
        }
        (void)std::snprintf(buf, sizeof buf,
                            "state=%u fault=%s tx_packets=%llu rx_packets=%llu tx_errors=%llu "
                            "doorbells=%llu tx_signals=%llu rx_signals=%llu rx_no_buffers=%llu "
                            "bad_descriptors=%llu wakeups=%llu",
                            s->state, KernelBackend::fault_name(s->fault),
                            static_cast<unsigned long long>(s->tx_packets),
                            static_cast<unsigned long long>(s->rx_packets),
                            static_cast<unsigned long long>(s->tx_errors),
                            static_cast<unsigned long long>(s->doorbells),
                            static_cast<unsigned long long>(s->tx_signals),
                            static_cast<unsigned long long>(s->rx_signals),
                            static_cast<unsigned long long>(s->rx_no_buffers),
                            static_cast<unsigned long long>(s->bad_descriptors),
                            static_cast<unsigned long long>(s->wakeups));
      } else {
        const VenetStats s = dev_->stats();
        (void)std::snprintf(buf, sizeof buf,
                            "state=user fault=none tx_packets=%llu rx_packets=%llu tx_errors=%llu "
                            "doorbells=%llu tx_signals=%llu rx_signals=%llu rx_no_buffers=%llu "
                            "bad_descriptors=%llu wakeups=%llu",
                            static_cast<unsigned long long>(s.tx_packets),
                            static_cast<unsigned long long>(s.rx_packets),
                            static_cast<unsigned long long>(s.tx_errors),
                            static_cast<unsigned long long>(s.doorbells),
                            static_cast<unsigned long long>(s.tx_signals),
                            static_cast<unsigned long long>(s.rx_signals),
                            static_cast<unsigned long long>(s.rx_no_buffers),
                            static_cast<unsigned long long>(s.bad_descriptors),
                            static_cast<unsigned long long>(s.wakeups));
      }
      out = buf;
      out += " interrupts=" + std::to_string(e.interrupts) + " events=" + std::to_string(e.posted);
    });
    return out;
  }

  // The kernel device's state (VBUS_HOST_STATE_*), ~0 when closed.
  uint32_t kernel_state() {
    uint32_t st = ~0U;
    loop_->run_sync([&] {
      if (auto s = dev_->kernel_stats()) {
        st = s->state;
      }
    });
    return st;
  }
  uint32_t kernel_fault() {
    uint32_t f = 0;
    loop_->run_sync([&] {
      if (auto s = dev_->kernel_stats()) {
        f = s->fault;
      }
    });
    return f;
  }

  void stop() {
    if (thread_.joinable()) {
      net_.reset();
      loop_->run_sync([&] { rt_.reset(); });
      loop_->request_stop();
      thread_.join();
    }
  }

  GuestNet& net() { return *net_; }
  SoftGuest& guest() { return *guest_; }
  bool device_quarantined() {
    bool q = false;
    loop_->run_sync([&] { q = rt_->device_quarantined(id_); });
    return q;
  }
  uint64_t bytes() const { return bytes_; }
  uint64_t lost() const { return lost_; }
  uint64_t rx_multi() const { return rx_multi_; }

 private:
  Options o_;
  std::optional<Region> region_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<EventFd> doorbells_;
  std::optional<EventFd> irq_;
  const EventFd* irqp_ = nullptr;  // the guest's interrupt (irq_ or the client's vector 0)
  std::optional<ivshmem::Client> client_;
  std::unique_ptr<BridgeRuntime> rt_;
  std::thread thread_;
  std::unique_ptr<SoftGuest> guest_;
  std::unique_ptr<GuestNet> net_;
  VenetDevice* dev_ = nullptr;  // owned by rt_
  uint32_t id_ = 0;
  std::array<uint8_t, 6> host_mac_ = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint64_t sent_ = 0;
  uint64_t lost_ = 0;
  uint64_t bytes_ = 0;
  uint64_t rx_multi_ = 0;  // received packets that spanned several buffers
};

void print_replies(const Harness& h, uint64_t got) {
  std::printf("replies=%llu lost=%llu payload_bytes=%llu rx_multi=%llu\n",
              static_cast<unsigned long long>(got), static_cast<unsigned long long>(h.lost()),
              static_cast<unsigned long long>(h.bytes()),
              static_cast<unsigned long long>(h.rx_multi()));
}

int run_ping(const Options& o) {
  Harness h(o);
  h.start();
  h.open_device();
  const uint64_t got = h.ping(o.count, {});
  print_replies(h, got);
  std::printf("%s\n", h.host_counters().c_str());
  std::printf("RESULT ok\n");
  return 0;
}

int run_client(const Options& o) {
  Harness h(o);
  h.start_client();
  h.open_device();
  const uint64_t got = h.ping(o.count, {});
  print_replies(h, got);
  h.close_device();
  std::printf("RESULT ok\n");
  return 0;
}

int run_link(const Options& o) {
  constexpr uint32_t kDownRequests = 20;
  constexpr std::chrono::seconds kWait{120};
  Harness h(o);
  h.start_client();
  h.open_device();
  if (!h.carrier()) {
    fail("carrier down after open");
  }
  std::printf("up_replies=%llu\n", static_cast<unsigned long long>(h.ping(o.count, {})));
  std::printf("WAIT carrier=down\n");
  h.wait_carrier(false, kWait);
  std::printf("carrier=down\n");
  const uint64_t down = h.ping_while_down(kDownRequests);
  std::printf("down_sent=%u down_replies=%llu\n", kDownRequests,
              static_cast<unsigned long long>(down));
  std::printf("WAIT carrier=up\n");
  h.wait_carrier(true, kWait);
  std::printf("carrier=up\n");
  h.restart_count();
  std::printf("up_again_replies=%llu\n", static_cast<unsigned long long>(h.ping(o.count, {})));
  h.close_device();
  std::printf("RESULT ok\n");
  return 0;
}

int run_bench(const Options& o, bool forever) {
  Harness h(o);
  h.start();
  h.open_device();
  (void)h.ping(o.window, {});  // warm up: ARP, caches
  const std::string before = h.host_counters();
  // Flushed now: flood runs until it is killed (tests wait for this line).
  std::printf("before %s\n", before.c_str());
  (void)std::fflush(stdout);
  const auto t0 = Clock::now();
  const auto secs = forever ? std::chrono::hours(24) : std::chrono::seconds(o.seconds);
  const uint64_t got = h.ping(0, t0 + secs);
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("backend=%s seconds=%.2f replies=%llu pps=%.0f payload_mbit=%.2f\n",
              o.backend.c_str(), dt, static_cast<unsigned long long>(got),
              static_cast<double>(got) / dt, static_cast<double>(h.bytes()) * 8.0 * 2 / dt / 1e6);
  std::printf("after %s\n", h.host_counters().c_str());
  std::printf("RESULT ok\n");
  return 0;
}

// Writes one malformed descriptor (or chain) as a hostile guest would.
void inject(GuestNet& net, const std::string& c) {
  GuestQueue& tx = net.tx();
  const QueueView& v = tx.view();
  vbus_ring_desc* sub = v.submit();
  // The next tx slot: nothing was sent yet, so entry 0.
  vbus_ring_desc d{};
  d.offset = 0;
  d.len = 64;
  uint32_t seq = 1;
  if (c == "seq") {
    seq = 7;
  } else if (c == "flags") {
    d.flags = 0x8000;
  } else if (c == "reserved") {
    d.reserved = 1;
  } else if (c == "offset") {
    d.offset = v.buf_size() * 3;
  } else if (c == "length") {
    d.len = v.buf_size() + 1;
  } else if (c == "chain") {
    // Every entry chained: longer than a 64 KiB frame can need.
    for (uint32_t i = 0; i + 1 < v.num_entries(); i++) {
      vbus_ring_desc& e = sub[i];
      e.flags = VBUS_DESC_F_NEXT;
      e.offset = i * v.buf_size();
      e.len = v.buf_size();
      std::atomic_ref<uint32_t>(e.seq).store(i + 1, std::memory_order_release);
    }
    (void)tx.kick();
    return;
  } else if (c == "rxshort") {
    vbus_ring_desc* rs = net.rx().view().submit();
    // Entry rx().outstanding() is the next one the host takes.
    const uint32_t i = net.rx().outstanding();
    vbus_ring_desc& e = rs[i & net.rx().view().mask()];
    e.flags = 0;
    e.offset = (i & net.rx().view().mask()) * net.rx().view().buf_size();
    e.len = 4;
    std::atomic_ref<uint32_t>(e.seq).store(i + 1, std::memory_order_release);
    (void)net.rx().kick();
    return;
  } else {
    fail("unknown case " + c);
  }
  sub[0].flags = d.flags;
  sub[0].reserved = d.reserved;
  sub[0].offset = d.offset;
  sub[0].len = d.len;
  std::atomic_ref<uint32_t>(sub[0].seq).store(seq, std::memory_order_release);
  (void)tx.kick();
}

int run_fault(const Options& o) {
  Harness h(o);
  h.start();
  // rxshort needs a free rx slot: no refill before the bad entry.
  h.open_device(o.fault_case != "rxshort");
  inject(h.net(), o.fault_case);
  // The module stops the data path and reports; the runtime quarantines.
  bool faulted = false;
  for (int i = 0; i < 500 && !faulted; i++) {
    faulted = h.device_quarantined();
    if (!faulted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!faulted) {
    fail("no fault reported for case " + o.fault_case);
  }
  std::printf("quarantined=1 case=%s\n", o.fault_case.c_str());
  // Reopen: a fresh attach serves traffic again.
  h.close_device();
  h.open_device();
  const uint64_t got = h.ping(20, {});
  std::printf("after_reopen_replies=%llu\n", static_cast<unsigned long long>(got));
  std::printf("%s\n", h.host_counters().c_str());
  std::printf("RESULT ok\n");
  return 0;
}

// Attach arguments the module must refuse, each on a fresh file.
int run_refuse() {
  auto region = Region::create("avm-kvhost", uint64_t{1} << 20);
  auto tap = Tap::open(kTap);
  auto db = EventFd::create();
  if (!region || !tap || !db) {
    fail("setup");
  }
  BridgeConfig bc;
  auto layout = BridgeLayout::create(region->span(), bc);
  if (!layout) {
    fail(layout.error().message);
  }
  std::vector<QueueSpec> qs = {{64, 2048}, {64, 2048}};
  const std::vector<uint8_t> config(sizeof(vbus_venet_config));
  auto id = layout->add_device(VBUS_DEV_TYPE_VENET, VBUS_VENET_ABI_VERSION, config, qs, 1);
  if (!id) {
    fail(id.error().message);
  }
  auto good = KernelAttach::from_layout(*layout->device(*id), region->fd(), region->size());
  if (!good) {
    fail(good.error().message);
  }
  good->doorbell_fd = db->fd();
  good->tap_fd = tap->fd();
  struct Case {
    const char* name;
    std::function<void(KernelAttach&)> edit;
    int want;
  };
  const std::vector<Case> cases = {
      {"area-outside-region", [&](KernelAttach& a) { a.area_offset = region->size(); }, EINVAL},
      {"area-unaligned", [&](KernelAttach& a) { a.area_offset += 8; }, EINVAL},
      {"region-larger-than-memfd", [&](KernelAttach& a) { a.region_size *= 2; }, EINVAL},
      {"region-not-memfd", [&](KernelAttach& a) { a.region_fd = a.tap_fd; }, EINVAL},
      {"queue-outside-area",
       [&](KernelAttach& a) { a.queues[0].pool_offset = static_cast<uint32_t>(a.area_size); },
       EINVAL},
      {"queues-overlap",
       [&](KernelAttach& a) { a.queues[1].used_offset = a.queues[1].submit_offset; }, EINVAL},
      {"entries-not-pow2", [&](KernelAttach& a) { a.queues[0].num_entries = 3; }, EINVAL},
      {"pool-size-mismatch", [&](KernelAttach& a) { a.queues[1].pool_size = 4096; }, EINVAL},
      {"doorbell-not-eventfd", [&](KernelAttach& a) { a.doorbell_fd = a.tap_fd; }, EINVAL},
      {"tap-not-tun", [&](KernelAttach& a) { a.tap_fd = a.doorbell_fd; }, EINVAL},
      {"tap-bad-fd", [&](KernelAttach& a) { a.tap_fd = 1000; }, EBADF},
      {"signal-batch-zero", [&](KernelAttach& a) { a.tx_signal_batch = 0; }, EINVAL},
  };
  int bad = 0;
  for (const Case& c : cases) {
    auto kb = KernelBackend::open();
    if (!kb) {
      fail(kb.error().message);
    }
    KernelAttach a = *good;
    c.edit(a);
    auto r = kb->attach(a);
    const int got = r ? 0 : r.error().code;
    std::printf("refuse %s: errno=%d want=%d\n", c.name, got, c.want);
    bad += got == c.want ? 0 : 1;
  }
  // And the good one attaches, twice is EBUSY, detach works.
  auto kb = KernelBackend::open();
  if (!kb || !kb->attach(*good)) {
    fail("good attach refused");
  }
  auto again = kb->attach(*good);
  std::printf("refuse attach-twice: errno=%d want=%d\n", again ? 0 : again.error().code, EBUSY);
  bad += !again && again.error().code == EBUSY ? 0 : 1;
  kb->detach();
  if (bad != 0) {
    fail(std::to_string(bad) + " cases not refused as expected");
  }
  std::printf("RESULT ok\n");
  return 0;
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    fail(
        "usage: avm-kvhost ping|bench|flood|fault|refuse|client|link [--backend kernel|user] "
        "[--count N] [--seconds S] [--window W] [--buf-size B] [--case C] [--socket S] "
        "[--vectors V]");
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--backend") {
      o.backend = v;
    } else if (k == "--count") {
      o.count = static_cast<uint32_t>(std::stoul(v));
    } else if (k == "--seconds") {
      o.seconds = static_cast<uint32_t>(std::stoul(v));
    } else if (k == "--window") {
      o.window = static_cast<uint32_t>(std::stoul(v));
    } else if (k == "--buf-size") {
      o.buf_size = static_cast<uint32_t>(std::stoul(v));
    } else if (k == "--case") {
      o.fault_case = v;
    } else if (k == "--socket") {
      o.socket = v;
    } else if (k == "--vectors") {
      o.vectors = static_cast<uint32_t>(std::stoul(v));
    } else {
      fail("unknown option " + k);
    }
  }
  if (o.backend != "kernel" && o.backend != "user") {
    fail("--backend kernel|user");
  }
  return o;
}

}  // namespace
}  // namespace avm::bench

int main(int argc, char** argv) {
  using namespace avm::bench;  // NOLINT: a small main
  (void)std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Options o = parse(argc, argv);
  if (o.mode == "ping") {
    return run_ping(o);
  }
  if (o.mode == "bench") {
    return run_bench(o, false);
  }
  if (o.mode == "flood") {
    return run_bench(o, true);
  }
  if (o.mode == "fault") {
    return run_fault(o);
  }
  if (o.mode == "refuse") {
    return run_refuse();
  }
  if (o.mode == "client") {
    return run_client(o);
  }
  if (o.mode == "link") {
    return run_link(o);
  }
  fail("unknown mode " + o.mode);
}

// SPDX-License-Identifier: GPL-2.0
// avm-metrics-serve: runs avm_metrics' Server on LISTEN with a fixed set of
// families shaped like the daemon's (labels, escaping, counters and
// gauges), for tests/system/test_avmctl_metrics.py (curl, promtool).
// Prints "listening on ADDRESS" once ready; exits on SIGTERM/SIGINT or when
// stdin closes.  A bad LISTEN prints the error and exits 1.
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "metrics/metrics.h"

namespace {

std::vector<avm::metrics::Family> families() {
  using avm::metrics::Family;
  return {
      {"alacrityvm_up", "1 while alacrityvmd runs.", "gauge", {{{}, 1}}},
      {"alacrityvm_instance_vectors",
       "MSI-X vectors of an instance.",
       "gauge",
       {{{{"instance", "vm1"}}, 4}, {{{"instance", "vm-2"}}, 8}}},
      {"alacrityvm_venet_rx_packets_total",
       "Packets the guest sent\n(host receive).",
       "counter",
       {{{{"instance", "vm1"}, {"device", "vm1-net0"}}, 12345},
        {{{"instance", "vm-2"}, {"device", "odd \"name\" \\ here"}}, 0}}},
      {"alacrityvm_venet_tx_bytes_total",
       "Bytes sent to the guest.",
       "counter",
       {{{{"instance", "vm1"}, {"device", "vm1-net0"}}, 1.5e12}}},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    (void)std::fputs("usage: avm-metrics-serve LISTEN\n", stderr);
    return 2;
  }
  auto server = avm::metrics::Server::create(argv[1], families);
  if (!server) {
    (void)std::fprintf(stderr, "avm-metrics-serve: %s\n", server.error().message.c_str());
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  (void)std::printf("listening on %s\n", (*server)->address().c_str());
  (void)std::fflush(stdout);
  pollfd fds[2] = {{(*server)->fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  const timespec tick{0, 100000000};
  for (;;) {
    if (::ppoll(fds, 2, &tick, nullptr) < 0) {
      break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      char c = 0;
      if (::read(STDIN_FILENO, &c, 1) <= 0) {
        break;
      }
    }
    if ((fds[0].revents & POLLIN) != 0) {
      (*server)->handle_events();
    }
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1) {
      break;
    }
  }
  return 0;
}

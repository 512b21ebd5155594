// SPDX-License-Identifier: GPL-2.0
// avm-hostile: command line of the malicious guest / buggy host test
// program (tests/hostile/README.md).
#include <CLI/CLI.hpp>

#include "hostile.h"

int main(int argc, char** argv) {
  using namespace avm::hostile;
  CLI::App app{"avm-hostile: a malicious guest and a buggy host for AlacrityVM tests"};
  app.require_subcommand(1);

  GoodOptions good;
  auto* g = app.add_subcommand("good", "a well-behaved guest moving checked traffic");
  g->add_option("--socket", good.socket, "the instance's ivshmem socket")->required();
  g->add_option("--ifname", good.ifname, "its TAP, in this network namespace")->required();
  g->add_option("--vectors", good.vectors, "the instance's vectors");
  g->add_option("--seconds", good.seconds, "run at most this long (SIGINT/SIGTERM: stop)");
  g->add_option("--window", good.window, "frames in flight per direction");

  AttackOptions att;
  std::string attack;
  auto* a = app.add_subcommand("attack", "one attack on an instance");
  a->add_option("--socket", att.socket, "the instance's ivshmem socket")->required();
  a->add_option("--ifname", att.ifname, "its TAP, in this network namespace")->required();
  a->add_option("--vectors", att.vectors, "the instance's vectors");
  a->add_option("--seed", att.seed, "random seed");
  a->add_option("name", attack, "the attack")->required()->check(CLI::IsMember(attack_names()));

  HostBugOptions hb;
  std::string bug;
  auto* h = app.add_subcommand("host-bug", "corrupt what a QEMU guest reads next");
  h->add_option("--socket", hb.socket, "the instance's ivshmem socket")->required();
  h->add_option("--vectors", hb.vectors, "the instance's vectors");
  h->add_option("mode", bug, "what to corrupt")->required()->check(CLI::IsMember(host_bug_names()));

  app.add_subcommand("list", "the attack and host-bug names");

  CLI11_PARSE(app, argc, argv);
  if (g->parsed()) {
    return run_good(good);
  }
  if (a->parsed()) {
    return run_attack(attack, att);
  }
  if (h->parsed()) {
    return run_host_bug(bug, hb);
  }
  for (const std::string& n : attack_names()) {
    say("attack " + n);
  }
  for (const std::string& n : host_bug_names()) {
    say("host-bug " + n);
  }
  return 0;
}

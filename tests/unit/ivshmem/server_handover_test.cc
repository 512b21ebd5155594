// SPDX-License-Identifier: GPL-2.0
// Server hand-over: a second Server object adopts a live client from an
// exported one; the client notices nothing, and doorbells and interrupts
// still flow both ways; a later client sees the adopted one as a peer.
// The counters go on.  Bad hand-over input is refused.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "child_connection.h"
#include "ivshmem/client.h"
#include "ivshmem/server.h"
#include "lib/region.h"
#include "pump.h"

namespace avm::ivshmem {
namespace {

constexpr int kTimeoutMs = 10000;
constexpr unsigned kVectors = 3;

class ServerHandover : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-ivh-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto region = Region::create("ivshmem-handover", uint64_t{1} << 20);
    ASSERT_TRUE(region) << region.error().message;
    region_.emplace(std::move(*region));
    config_.socket_path = dir_ + "/iv.sock";
    config_.shm_fd = region_->fd();
    config_.vectors = kVectors;
    config_.max_clients = 4;
    old_ = std::make_unique<Server>(config_);
    old_->set_peer_callback([this](const PeerEvent&) { old_events_++; });
    ASSERT_TRUE(old_->start());
  }
  void TearDown() override {
    old_.reset();
    adopted_.reset();
    std::filesystem::remove_all(dir_);
  }

  Client join(Server& s) {
    auto c = Client::connect(config_.socket_path);
    EXPECT_TRUE(c) << c.error().message;
    Pump pump(s);
    auto ok = c->handshake(kVectors, kTimeoutMs);
    EXPECT_TRUE(ok) << ok.error().message;
    return std::move(*c);
  }

  // Exports old_ and adopts the result into adopted_.
  Status hand_over() {
    handover::FdBundle fds;
    auto state = old_->export_state(fds, "iv.");
    if (!state) {
      return tl::unexpected(state.error());
    }
    // A round trip through text, as on the wire.
    const auto parsed = nlohmann::json::parse(state->dump());
    auto s = Server::adopt(config_, parsed, fds, "iv.");
    if (!s) {
      return tl::unexpected(s.error());
    }
    EXPECT_TRUE(fds.empty()) << "left over: " << fds.names().front();
    adopted_ = std::move(*s);
    adopted_->set_peer_callback([this](const PeerEvent& e) { new_events_.push_back(e); });
    old_->abandon();
    old_.reset();
    return {};
  }

  std::string dir_;
  std::optional<Region> region_;
  ServerConfig config_;
  std::unique_ptr<Server> old_;
  std::unique_ptr<Server> adopted_;
  int old_events_ = 0;
  std::vector<PeerEvent> new_events_;
};

TEST_F(ServerHandover, AdoptedClientKeepsTalkingBothWays) {
  Client c = join(*old_);
  ASSERT_EQ(old_events_, 1);
  auto ok = hand_over();
  ASSERT_TRUE(ok) << ok.error().message;
  // The old server went without a word: no "peer left", socket file kept.
  EXPECT_EQ(old_events_, 1);
  struct stat st {};
  ASSERT_EQ(::lstat(config_.socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(adopted_->clients(), std::vector<PeerId>{c.id()});
  {
    Pump pump(*adopted_);
    auto m = c.read_message(200);
    ASSERT_FALSE(m) << "the client was told something: " << m->value;
    EXPECT_EQ(m.error().code, ETIMEDOUT);
  }
  // Guest -> host: a doorbell on peer 0's vector 1 reaches the new server's
  // eventfd.
  ASSERT_TRUE(c.ring(kHostPeerId, 1));
  EXPECT_TRUE(adopted_->host_vectors()[1].wait(kTimeoutMs));
  EXPECT_EQ(adopted_->host_vectors()[1].consume(), 1U);
  // Host -> guest: the new server raises the client's vector 2.
  ASSERT_TRUE(adopted_->notify(c.id(), 2));
  EXPECT_TRUE(c.wait_vector(2, kTimeoutMs));

  // A new client joins the adopted server: it learns the old client's
  // vectors, gets a fresh id, and the old client hears about it.
  Client d = join(*adopted_);
  EXPECT_NE(d.id(), c.id());
  EXPECT_EQ(d.vector_count(c.id()), kVectors);
  ASSERT_EQ(new_events_.size(), 1U);
  EXPECT_EQ(new_events_[0].id, d.id());
  {
    Pump pump(*adopted_);
    for (unsigned v = 0; v < kVectors; v++) {
      auto u = c.read_update(kTimeoutMs);
      ASSERT_TRUE(u) << u.error().message;
      EXPECT_EQ(u->id, d.id());
    }
  }
  ASSERT_TRUE(d.ring(c.id(), 0));
  EXPECT_TRUE(c.wait_vector(0, kTimeoutMs));

  // The old client leaving is seen by the new server.
  c.close();
  {
    Pump pump(*adopted_);
    auto u = d.read_update(kTimeoutMs);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->kind, PeerUpdate::kGone);
  }
  // The adopted server owns the socket file: stop() removes it.
  adopted_->stop();
  EXPECT_NE(::lstat(config_.socket_path.c_str(), &st), 0);
}

TEST_F(ServerHandover, TheAdoptedClientsPidIsReadFromItsSocket) {
  ChildConnection child(config_.socket_path);
  ASSERT_TRUE(child.connected());
  for (int i = 0; i < 1000 && old_->clients().empty(); i++) {
    old_->handle_events();
  }
  ASSERT_EQ(old_->clients().size(), 1U);
  const PeerId id = old_->clients().front();
  EXPECT_EQ(old_->peer_pid(id), child.pid());
  // Not in the state (nothing there could claim another pid): the
  // adopter asks the kernel about the socket it was handed.
  handover::FdBundle probe;
  auto state = old_->export_state(probe, "iv.");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->dump().find("pid"), std::string::npos) << state->dump();
  probe = handover::FdBundle();
  auto ok = hand_over();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(adopted_->peer_pid(id), child.pid());
  EXPECT_NE(child.pid(), ::getpid());
}

TEST_F(ServerHandover, TheExporterCanGoOnServing) {
  Client c = join(*old_);
  handover::FdBundle fds;
  ASSERT_TRUE(old_->export_state(fds, "iv."));
  fds = handover::FdBundle();  // the taker went away
  ASSERT_TRUE(old_->notify(c.id(), 1));
  EXPECT_TRUE(c.wait_vector(1, kTimeoutMs));
  Client d = join(*old_);
  EXPECT_EQ(d.vector_count(c.id()), kVectors);
}

// Every row of kServerStats goes on from the handed-over value (the
// previous process's), under the names the previous format had; a state
// without a row (an older daemon's) starts that counter at 0.
TEST_F(ServerHandover, EveryCounterGoesOnFromTheHandedOverState) {
  Client c = join(*old_);
  EXPECT_EQ(old_->stats().accepted, 1U);
  EXPECT_EQ(old_->stats().joined, 1U);
  handover::FdBundle good;
  auto state = old_->export_state(good, "iv.");
  ASSERT_TRUE(state) << state.error().message;
  // What the daemon before the table wrote and read: keep them.
  const nlohmann::json& exported = (*state)["stats"];
  for (const char* key :
       {"accepted", "joined", "left", "refused", "handshake_failed", "dropped_slow",
        "unexpected_input", "delayed_messages", "accept_errors"}) {
    EXPECT_TRUE(exported.contains(key) && exported[key].is_number_unsigned()) << key;
  }
  EXPECT_EQ(exported.size(), std::size(kServerStats));
  EXPECT_EQ(exported["accepted"], 1U);
  EXPECT_EQ(exported["joined"], 1U);

  auto adopt_with = [&](const nlohmann::json& stats) -> ServerStats {
    handover::FdBundle fds;
    for (const auto& [name, fd] : good.entries()) {
      EXPECT_TRUE(fds.add_dup(name, fd.get()));
    }
    nlohmann::json j = nlohmann::json::parse(state->dump());
    j.erase("stats");
    if (!stats.is_null()) {
      j["stats"] = nlohmann::json::parse(stats.dump());  // as text, as on the wire
    }
    auto s = Server::adopt(config_, j, fds, "iv.");
    EXPECT_TRUE(s) << s.error().message;
    if (!s) {
      return {};
    }
    const ServerStats got = (*s)->stats();
    (*s)->abandon();
    return got;
  };
  nlohmann::json distinct = nlohmann::json::object();
  uint64_t next = 0;
  for (const StatField<ServerStats>& f : kServerStats) {
    distinct[std::string(f.name)] = next += 1000003;
  }
  const ServerStats got = adopt_with(distinct);
  for (const StatField<ServerStats>& f : kServerStats) {
    EXPECT_EQ(got.*f.member, distinct[std::string(f.name)].get<uint64_t>()) << f.name;
    nlohmann::json older = distinct;
    older.erase(std::string(f.name));
    EXPECT_EQ(adopt_with(older).*f.member, 0U) << f.name << " missing in an older state";
  }
  EXPECT_EQ(adopt_with(nullptr).accepted, 0U) << "no stats at all";
}

TEST_F(ServerHandover, BadInputIsRefused) {
  Client c = join(*old_);
  handover::FdBundle good;
  auto state = old_->export_state(good, "iv.");
  ASSERT_TRUE(state);
  const std::string sock = "iv.client." + std::to_string(c.id()) + ".sock";

  struct Case {
    const char* what;
    std::function<void(nlohmann::json&, handover::FdBundle&, ServerConfig&)> spoil;
  };
  const std::vector<Case> cases = {
      {"missing fd", [&](auto&, auto& f, auto&) { (void)f.take("iv.host.v1"); }},
      {"an eventfd as client socket",
       [&](auto&, auto& f, auto&) {
         (void)f.take(sock);
         ASSERT_TRUE(f.add(sock, UniqueFd(::eventfd(0, EFD_CLOEXEC))));
       }},
      {"a socket as vector",
       [&](auto&, auto& f, auto&) {
         auto v = f.take("iv.host.v0");
         ASSERT_TRUE(f.add_dup("iv.host.v0", f.get(sock)));
       }},
      {"vectors differ", [](auto&, auto&, auto& cfg) { cfg.vectors = kVectors + 1; }},
      {"path differs", [](auto& j, auto&, auto&) { j["path"] = "/tmp/elsewhere.sock"; }},
      {"client id 0", [](auto& j, auto&, auto&) { j["clients"] = {0}; }},
      {"client id twice",
       [&](auto& j, auto&, auto&) {
         j["clients"] = {c.id(), c.id()};
       }},
      {"id not a number", [](auto& j, auto&, auto&) { j["clients"] = {"one"}; }},
      {"too many clients",
       [](auto& j, auto&, auto& cfg) {
         cfg.max_clients = 1;
         j["clients"] = {1, 2};
       }},
      {"no next_id", [](auto& j, auto&, auto&) { j.erase("next_id"); }},
  };
  for (const Case& k : cases) {
    handover::FdBundle fds;
    for (const auto& [name, fd] : good.entries()) {
      ASSERT_TRUE(fds.add_dup(name, fd.get()));
    }
    nlohmann::json j = *state;
    ServerConfig cfg = config_;
    k.spoil(j, fds, cfg);
    auto s = Server::adopt(cfg, j, fds, "iv.");
    EXPECT_FALSE(s) << k.what;
    if (s) {
      (*s)->abandon();
    }
  }
  // The exporter is unaffected by all that.
  ASSERT_TRUE(old_->notify(c.id(), 0));
  EXPECT_TRUE(c.wait_vector(0, kTimeoutMs));
}

}  // namespace
}  // namespace avm::ivshmem

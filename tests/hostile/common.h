// SPDX-License-Identifier: GPL-2.0
// Shared pieces of avm-hostile (tests/hostile): a software guest connected
// to an alacrityvmd instance the way QEMU is (Session), the venet side of it
// (GuestNet from the unit tests), the test frame format with sequence
// numbers and a checksum, and the "wire": an AF_PACKET socket on the
// daemon's TAP, in the network namespace the program runs in.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ivshmem/client.h"
#include "lib/error.h"
#include "lib/region.h"
#include "lib/shared_word.h"
#include "lib/unique_fd.h"
#include "testing/guest_net.h"
#include "testing/soft_guest.h"

namespace avm::hostile {

// Prints one line to stdout, flushed (the pytest reads it as it comes).
void say(const std::string& line);

// A list of named actions (attacks, host bugs), in the order they run.
template <class Fn>
using Named = std::vector<std::pair<std::string, Fn>>;
template <class Fn>
std::vector<std::string> names_of(const Named<Fn>& list) {
  std::vector<std::string> out;
  for (const auto& entry : list) {
    out.push_back(entry.first);
  }
  return out;
}
template <class Fn>
const Fn* find_named(const Named<Fn>& list, const std::string& name) {
  for (const auto& entry : list) {
    if (entry.first == name) {
      return &entry.second;
    }
  }
  return nullptr;
}

// An ivshmem client (what QEMU is) with the region mapped and a software
// guest on it.  Not movable: the guest's doorbell points back at it.
class Session {
 public:
  static Result<std::unique_ptr<Session>> connect(const std::string& socket, unsigned vectors,
                                                  int timeout_ms = 5000);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() = default;

  ivshmem::Client& client() { return client_; }
  std::span<uint8_t> region() const { return region_.span(); }
  SoftGuest& guest() { return *guest_; }
  // The guest's vector-0 eventfd (the interrupt the host raises).
  const EventFd* irq() const { return client_.vector(client_.id(), 0); }
  void ring(uint32_t vector) const { (void)client_.ring(ivshmem::kHostPeerId, vector); }

  // Handshake, find the first venet device, open it, negotiate @features,
  // link up, fill the rx ring.
  Result<std::unique_ptr<test::GuestNet>> open_venet(uint64_t features = 0);
  uint32_t venet_id() const { return venet_id_; }

 private:
  Session(ivshmem::Client client, Region region);
  ivshmem::Client client_;
  Region region_;
  std::unique_ptr<SoftGuest> guest_;
  uint32_t venet_id_ = 0;
};

// The test frames: ethertype kEtherType, then {magic, direction, length,
// seq, payload, checksum}.  The payload is a function of seq, the checksum
// (FNV-1a 32) covers everything before it.
inline constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental
enum Direction : uint8_t { kToWire = 1, kToGuest = 2 };
std::vector<uint8_t> make_frame(Direction dir, uint64_t seq);
// Parses a frame: its seq if it is a test frame of @dir; kNotOurs if it
// is someone else's frame (kernel chatter); kCorrupt if it is ours but
// damaged.
inline constexpr int64_t kNotOurs = -1;
inline constexpr int64_t kCorrupt = -2;
int64_t check_frame(std::span<const uint8_t> frame, Direction dir);

// An AF_PACKET socket bound to interface @ifname in the current namespace.
class Wire {
 public:
  static Result<Wire> open(const std::string& ifname);
  int fd() const { return fd_.get(); }
  bool send(std::span<const uint8_t> frame) const;
  // One frame that entered the interface (not our own outgoing ones), or
  // nullopt when none is queued.
  std::optional<std::vector<uint8_t>> recv() const;

 private:
  explicit Wire(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace avm::hostile

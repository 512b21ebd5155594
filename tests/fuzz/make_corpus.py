#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora of tests/fuzz (corpus/<target>/seed-*): a few
small valid and invalid inputs per target, encoded the way fuzz_util.h's
Input reads them.  Inputs found by fuzzing (regress-*) are kept as they
are.  usage: make_corpus.py [CORPUS_DIR]"""

import os
import struct
import sys

VBUS_MAGIC = 0x535542562D4D5641


class Enc:
    """The writer side of avm::fuzz::Input."""

    def __init__(self):
        self.b = bytearray()

    def below(self, v, n):
        assert 0 <= v < n
        self.b += struct.pack("<B" if n <= 256 else "<H", v)
        return self

    def flag(self, on):
        self.b += bytes([1 if on else 0])
        return self

    def u8(self, v):
        self.b += struct.pack("<B", v & 0xFF)
        return self

    def u16(self, v):
        self.b += struct.pack("<H", v & 0xFFFF)
        return self

    def u32(self, v):
        self.b += struct.pack("<I", v & 0xFFFFFFFF)
        return self

    def u64(self, v):
        self.b += struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
        return self

    def raw(self, data):
        self.b += bytes(data)
        return self


# ---- ring_fuzz ---------------------------------------------------------------

def ring_valid(log2n, buf, area_slot=1, max_chain=0):
    e = Enc().flag(False).below(log2n, 8).below(buf - 1, 1024).below(area_slot, 256).flag(False)
    return e.below(max_chain, (1 << log2n) + 1)


def ring_post(e, buf, start, length, nxt=False):
    e.below(0, 7).below(start, buf + 1).below(length, buf - start + 1).flag(nxt)


def ring_poll(e, k=64):
    e.below(3, 7).below(k - 1, 64)


def ring_complete(e, lens_flags):
    e.below(4, 7).below(len(lens_flags), 8)
    for length, flags in lens_flags:
        if length is not None:
            e.u32(length)
        e.below(flags, 4)


def ring_seeds():
    out = {}
    e = ring_valid(3, 256)
    for i in range(3):
        ring_post(e, 256, 0, 100 + i)
    ring_poll(e)
    ring_complete(e, [(100, 0), (50, 0), (0, 2)])
    e.below(5, 7).below(63, 64)
    e.below(6, 7).below(0, 4)
    out["seed-post-poll-complete"] = e
    e = ring_valid(2, 64, max_chain=2)
    ring_post(e, 64, 8, 32, nxt=True)
    ring_post(e, 64, 0, 64)
    ring_post(e, 64, 0, 16, nxt=True)
    ring_post(e, 64, 0, 16, nxt=True)
    ring_poll(e)
    ring_poll(e)
    out["seed-chain-too-long"] = e
    e = ring_valid(3, 128)
    e.below(1, 7).raw(struct.pack("<IHHII", 0, 0, 0, 4096, 16)).flag(False)
    ring_poll(e)
    ring_poll(e)
    out["seed-bad-offset"] = e
    e = ring_valid(0, 1)
    for _ in range(3):
        ring_post(e, 1, 0, 1)
        ring_poll(e, 1)
        ring_complete(e, [(1, 0)])
    out["seed-one-entry-wrap"] = e
    e = Enc().flag(True).raw(struct.pack("<8I8I", 8, 64, 0, 128, 192, 256, 320, 512, *([0] * 8)))
    e.u32(64).u32(4096)
    ring_post(e, 64, 0, 64)
    ring_poll(e)
    out["seed-raw-desc"] = e
    e = Enc().flag(True).raw(b"\xff" * 64).u32(0xFFFFFFC0).u32(0xFFFFFFFF)
    out["seed-raw-garbage"] = e
    e = ring_valid(4, 512).below(2, 7).u32(0).below(16, 65).raw(b"\x01" * 16)
    e.below(6, 7).below(3, 4).below(2, 7).u32(4 * 64).below(16, 65).raw(b"\x07" * 16)
    ring_poll(e)
    out["seed-scribble"] = e
    return out


# ---- reader_fuzz -------------------------------------------------------------

def reader_seeds():
    out = {}
    e = Enc().flag(True).below(3, 8).below(4, 9).below(2, 9).below(3, 8)
    e.below(2, 4)  # two devices
    for q in ((1, 2), (2, 0)):
        e.below(16, 64).below(len(q), 4)
        for log2n in q:
            e.below(log2n, 6).below(100, 512)
        e.below(0, 4).below(1, 4)
    e.below(0, 16)
    e.below(2, 4).u16(0).below(0, 33).u16(0).below(0, 33)  # SoftGuest rounds
    out["seed-valid-two-devices"] = e
    e = Enc().flag(True).below(0, 8).below(0, 9).below(0, 9).below(0, 8).below(1, 4)
    e.below(0, 64).below(1, 4).below(0, 6).below(0, 512).below(0, 4).below(0, 1)
    e.below(2, 16).u16(40).below(8, 33).u64(0xFFFFFFFF_FFFFF000)
    e.u16(0).below(4, 33).u32(0x4D5641)  # and the magic
    out["seed-corrupt-devtab"] = e
    hdr = struct.pack("<QHHIQQII", VBUS_MAGIC, 1, 0, 192, 4096, 1, 0, 1)
    hdr += struct.pack("<6I", 192, 1, 256, 1, 320, 0)
    e = Enc().flag(False).below(0, 5).raw(hdr)
    out["seed-raw-small-region"] = e
    e = Enc().flag(False).below(4, 5).raw(b"\x00" * 64)
    out["seed-raw-zero"] = e
    return out


# ---- bridge_fuzz / call_fuzz -----------------------------------------------

def bridge_prefix(e, slots=2, log2evq=2, calls=2, features=1, epoch=1):
    e.below(slots - 1, 4).below(log2evq, 5).below(calls, 4).u8(features).u32(epoch)


def bridge_seeds():
    out = {}
    # Handshake (epoch == host epoch 1), devices, events, removal.
    e = Enc()
    bridge_prefix(e)
    e.below(7, 14).below(7, 14)                       # two devices
    e.below(1, 14).below(0, 4)                        # guest_epoch = ours
    e.below(2, 14).u64(1)                             # guest_features
    e.below(0, 14).below(1, 5)                        # INIT
    e.below(4, 14)                                    # doorbell
    e.below(0, 14).below(3, 5)                        # RUN
    e.below(13, 14).below(0, 2).flag(True).below(0, 2)  # DEV_OPEN
    e.below(4, 14)
    e.below(11, 14).below(0, 2).flag(True).below(1, 2)  # signal
    e.below(6, 14).flag(True)                         # read events
    e.below(8, 14).below(0, 2)                        # remove an open device
    e.below(13, 14).below(0, 2).flag(False).below(0, 2)  # DEV_CLOSE
    e.below(4, 14)
    e.below(12, 14).below(0, 1)                       # fault
    e.below(9, 14)                                    # restart
    e.below(10, 14).below(10, 14)                     # shutdown, start
    out["seed-lifecycle"] = e
    # Hostile header writes and consumed values.
    e = Enc()
    bridge_prefix(e, log2evq=0)
    e.below(3, 14).below(8, 192).below(8, 17).u64(0xFFFFFFFF_FFFFFFFF)
    e.below(3, 14).below(48, 192).below(8, 17).raw(b"\xff" * 8)
    e.below(5, 14).below(2, 3).u32(0x80000000).flag(True).u32(1).u32(0)
    e.below(1, 14).below(0, 4).below(0, 14).below(1, 5).below(4, 14)
    e.below(7, 14).below(11, 14).below(0, 1).flag(True).below(0, 2)
    e.below(5, 14).below(1, 3).below(3, 4).flag(False)
    e.below(0, 14).below(4, 5).u32(0xDEAD).below(4, 14)
    out["seed-hostile-header"] = e
    e = Enc()
    bridge_prefix(e, epoch=0xFFFFFFFF)
    e.below(1, 14).below(2, 4).below(0, 14).below(1, 5).below(4, 14)
    e.below(1, 14).below(1, 4).below(4, 14).below(9, 14).below(0, 14).below(0, 5).below(4, 14)
    out["seed-stale-epochs"] = e
    return out


def call_seeds():
    out = {}

    def request(e, slot, op_k, dev_k, length, data=b"", seq_raw=None, nslots=2):
        e.below(0, 6).below(slot, nslots).below(op_k, 7)
        if op_k == 6:
            e.u32(0x12345)
        e.below(dev_k, 4)
        if dev_k == 3:
            e.u32(0xFFFF)
        elif dev_k in (1, 2):
            e.below(0, 2)
        e.flag(False).below(length, 49).raw(data.ljust(48, b"\0")[:48])
        if seq_raw is None:
            e.flag(False)
        else:
            e.flag(True).u32(seq_raw)

    e = Enc().below(1, 4).below(2, 5).below(1, 3)
    request(e, 0, 0, 1, 0)                     # DEV_OPEN
    request(e, 1, 2, 1, 5, b"hello")           # echo
    e.below(2, 6)
    request(e, 0, 3, 1, 0)                     # fail
    request(e, 1, 5, 0, 0)                     # bridge op
    e.below(2, 6).below(5, 6)
    e.below(3, 6).below(0, 2).flag(False)      # fault
    request(e, 0, 2, 1, 3, b"abc")             # EIO now
    e.below(2, 6)
    e.below(3, 6).below(0, 2).flag(True)       # remove (open: REMOVING)
    request(e, 1, 2, 1, 1, b"x")               # ENODEV
    request(e, 0, 1, 1, 0)                     # DEV_CLOSE finishes removal
    e.below(2, 6).below(5, 6)
    out["seed-calls"] = e
    e = Enc().below(0, 4).below(0, 5).below(0, 3)
    e.below(1, 6).below(0, 1).below(6, 7).u32(0xFFFFFFFF).below(3, 4).u32(0).flag(True).u32(49)
    e.raw(b"\xee" * 48).flag(True).u32(0)
    e.below(2, 6)
    e.below(0, 6).below(0, 1).below(2, 7).below(1, 4).below(0, 1).flag(True).u32(0x7FFFFFFF)
    e.raw(b"\x01" * 48).flag(False)
    e.below(4, 6).below(0, 1).below(48, 49).raw(b"\xff" * 64)
    e.below(2, 6).below(5, 6)
    out["seed-bad-requests"] = e
    return out


# ---- venet_fuzz ----------------------------------------------------------------

def venet_seeds():
    out = {}
    all_f = (1 << 10) - 1
    e = Enc().below(0, 3).u64(all_f).u64(all_f).flag(False)
    e.raw(struct.pack("<BBHHHHH", 1, 1, 54, 1448, 34, 16, 0))
    out["seed-features-tso"] = e
    e = Enc().below(0, 3).u64(0xFFFFFFFF_FFFFFFFF).u64(1 << 2).flag(True).u32(100)
    e.raw(struct.pack("<BBHHHHH", 0, 0x83, 0, 0, 0, 0, 7))
    out["seed-features-garbage"] = e

    def tx(log2n, buf_k, feats, entries, link=True):
        e = Enc().below(1, 3).below(log2n, 6).below(buf_k, 5).u64(feats)
        e.flag(link).flag(link).below(0, 8).below(len(entries), 64)
        for start, data, plausible, nxt in entries:
            e.below(1, 16).below(start, min([16, 64, 1514, 4096, 65566][buf_k], 64) + 1)
            e.flag(False).below(len(data), 80).raw(data)
            if start is not None and len(data) >= 12 and plausible is not None:
                e.flag(plausible)
            e.below(1 if nxt else 0, 4)
        return e

    hdr = struct.pack("<BBHHHHH", 0, 0, 0, 0, 0, 0, 0)
    frame = bytes(range(60))
    out["seed-tx-one"] = tx(3, 2, 0, [(0, hdr + frame[:60], True, False)])
    out["seed-tx-chain"] = tx(3, 1, all_f, [(0, hdr, True, True), (0, frame[:30], None, True),
                                            (4, frame[30:60], None, False)])
    out["seed-tx-bad-hdr"] = tx(2, 2, 0, [(0, b"\x09" * 12 + frame[:20], False, False),
                                          (0, b"\x00" * 5, None, False)])
    e = tx(2, 0, 0, [(0, hdr[:8], None, True)])
    out["seed-tx-open-chain"] = e

    def rx(log2n, buf_k, feats, frames, posts, link=True):
        e = Enc().below(2, 3).below(log2n, 6).below(buf_k, 5).u64(feats).below(1 if link else 0, 8)
        e.below(len(frames), 6)
        for size, seed in frames:
            e.flag(False).below(size, 128).u8(seed)
        n = 1 << log2n
        e.below(posts, n + 1)
        for _ in range(posts):
            e.below(1, 8)
        return e

    out["seed-rx-one"] = rx(2, 2, 0, [(100, 3)], 2)
    out["seed-rx-mrg"] = rx(3, 1, 1 << 8, [(127, 9), (40, 1)], 8)
    out["seed-rx-no-buffers"] = rx(1, 1, 0, [(127, 9)], 0)
    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for target, seeds in (("ring_fuzz", ring_seeds()), ("reader_fuzz", reader_seeds()),
                          ("bridge_fuzz", bridge_seeds()), ("call_fuzz", call_seeds()),
                          ("venet_fuzz", venet_seeds())):
        d = os.path.join(top, target)
        os.makedirs(d, exist_ok=True)
        for name, enc in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(enc.b)


if __name__ == "__main__":
    main()

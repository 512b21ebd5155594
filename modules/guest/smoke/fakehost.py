#!/usr/bin/python3
"""Minimal fake vbus host for smoke-testing the guest modules in QEMU.

It is the ivshmem server (peer 0) for one QEMU client, lays out a region with
one venet device and polls the region: bridge handshake, call channel, and a
venet backend that answers ARP and ICMP echo for 10.0.2.2.  Not the real
daemon: a test double, x86-only (relies on TSO for release/acquire).
"""
import mmap
import os
import socket
import struct
import sys
import threading
import time

SIZE = 1 << 20
NVEC = 2
MAGIC = 0x535542562d4d5641
DEVTAB, SLOTS = 256, 4
EVQ, EVQ_N = 512, 256
CALL, CALL_N = 5120, 8
AREA, AREA_SIZE = 65536, 512 * 1024
QN, BUF = 64, int(os.environ.get('BUF', '2048'))
HOST_MAC = bytes.fromhex('525400000002')
GUEST_MAC = bytes.fromhex('525400000001')
HOST_IP = bytes([10, 0, 2, 2])
F_ALL = (1 << 10) - 1 & ~((1 << 6) | (1 << 7))  # everything but ECN

fd = os.memfd_create('vbus', 0)
os.ftruncate(fd, SIZE)
m = mmap.mmap(fd, SIZE)
host_efd = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(NVEC)]
guest_efd = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(NVEC)]


def log(*a):
    print('fakehost:', *a, flush=True)


def r32(o): return struct.unpack_from('<I', m, o)[0]
def w32(o, v): struct.pack_into('<I', m, o, v & 0xffffffff)
def r16(o): return struct.unpack_from('<H', m, o)[0]
def w16(o, v): struct.pack_into('<H', m, o, v)
def r64(o): return struct.unpack_from('<Q', m, o)[0]
def w64(o, v): struct.pack_into('<Q', m, o, v)


# queue layout inside the area
Q = []
off = 256
for q in range(2):
    d = dict(submit=off, used=off + QN * 16, to_host=off + QN * 32,
             to_guest=off + QN * 32 + 64)
    off += QN * 32 + 128
    Q.append(d)
for q in range(2):
    off = (off + 4095) & ~4095
    Q[q]['pool'] = off
    off += QN * BUF
assert off <= AREA_SIZE


def layout(epoch):
    m[0:SIZE] = bytes(SIZE)
    struct.pack_into('<QHHIQQIIIIIIII', m, 0, MAGIC, 1, 0, 192, SIZE, 1, 0,
                     NVEC, DEVTAB, SLOTS, EVQ, EVQ_N, CALL, CALL_N)
    w32(68, epoch)
    # venet config
    a = AREA
    m[a:a + 6] = GUEST_MAC
    w16(a + 6, 1500)
    w16(a + 8, 1)
    w16(a + 10, 1)
    w64(a + 16, F_ALL)
    for i, d in enumerate(Q):
        struct.pack_into('<8I', m, a + 64 + 64 * i, QN, BUF, d['submit'],
                         d['used'], d['to_host'], d['to_guest'], d['pool'],
                         QN * BUF)
    w32(64, 2)  # READY


def add_device():
    s = DEVTAB
    struct.pack_into('<IIIIQQIIIII', m, s, 7, 1, 1, 0, AREA, AREA_SIZE, 0, 64,
                     64, 2, 1)
    w32(s + 12, 1)  # PRESENT
    w32(80, r32(80) + 1)


def irq():
    os.eventfd_write(guest_efd[0], 1)


class Host:
    def __init__(self):
        self.ev = 0
        self.calls = [0] * CALL_N
        self.reset_queues()

    def reset_queues(self):
        self.sub = [0, 0]   # next submit entry to read
        self.used = [0, 0]  # next used entry to write
        self.rxq = []       # rx entries (slot) available

    def sig_send(self, sig):
        w32(sig + 8, 1)
        if r32(sig) and not r32(sig + 4):
            w32(sig + 4, 1)
            return True
        return False

    def post(self, typ, dev, data):
        e = self.ev
        if e - r32(EVQ + 64) >= EVQ_N:
            w32(EVQ, r32(EVQ) + 1)
            return
        o = EVQ + 192 + (e % EVQ_N) * 16
        struct.pack_into('<HHII', m, o + 4, typ, 0, dev, data)
        w32(o, e + 1)
        self.ev = e + 1
        if self.sig_send(EVQ + 128):
            irq()

    def signal_guest(self, q):
        if self.sig_send(AREA + Q[q]['to_guest']):
            self.post(4, 7, q)

    def handle_calls(self):
        for i in range(CALL_N):
            o = CALL + 128 * i
            req = r32(o)
            if req == r32(o + 64):
                continue
            op, dev, ln = struct.unpack_from('<III', m, o + 4)
            data = bytes(m[o + 16:o + 16 + ln])
            status, resp = 0, b''
            if op == 1:
                for d in Q:
                    a = AREA + d['submit']
                    m[a:a + QN * 32 + 128] = bytes(QN * 32 + 128)
                self.reset_queues()
                log('open dev', dev)
            elif op == 2:
                log('close dev', dev)
            elif op == 0x100:
                want = struct.unpack('<Q', data)[0]
                got = want & F_ALL
                w64(AREA + 24, got)
                resp = struct.pack('<Q', got)
                log('negotiate want %#x got %#x' % (want, got))
            elif op == 0x101:
                log('set link', struct.unpack('<H', data)[0])
            else:
                status = 95
            m[o + 80:o + 80 + len(resp)] = resp
            w32(o + 68, status)
            w32(o + 72, len(resp))
            w32(o + 64, req)
            self.post(5, 0, i)

    def put_used(self, q, flags, ln):
        d = Q[q]
        e = self.used[q]
        o = AREA + d['used'] + (e % QN) * 16
        struct.pack_into('<HHII', m, o + 4, flags, 0, ln, 0)
        w32(o, e + 1)
        self.used[q] = e + 1

    def rx_packet(self, frame):
        # hdr (12) + frame in as many rx buffers as needed (MRG_RXBUF)
        pkt = bytearray(12) + frame
        n = (len(pkt) + BUF - 1) // BUF
        if len(self.rxq) < n:
            log('rx: no buffers, drop')
            return
        struct.pack_into('<H', pkt, 10, n)
        d = Q[0]
        for i in range(n):
            slot = self.rxq.pop(0)
            chunk = pkt[i * BUF:(i + 1) * BUF]
            p = AREA + d['pool'] + slot * BUF
            m[p:p + len(chunk)] = bytes(chunk)
            self.put_used(0, 1 if i + 1 < n else 0, len(chunk))
        self.signal_guest(0)

    def poll_queues(self):
        # rx: collect empty buffers
        d = Q[0]
        while True:
            e = self.sub[0]
            o = AREA + d['submit'] + (e % QN) * 16
            if r32(o) != e + 1:
                break
            self.rxq.append(e % QN)
            self.sub[0] = e + 1
        w32(AREA + d['to_host'] + 8, 0)
        # tx: read chains, complete them, answer
        d = Q[1]
        done = 0
        while True:
            e = self.sub[1]
            pkt = b''
            n = 0
            while True:
                o = AREA + d['submit'] + ((e + n) % QN) * 16
                if r32(o) != e + n + 1:
                    return self.tx_done(done)
                fl, _, off, ln = struct.unpack_from('<HHII', m, o + 4)
                p = AREA + d['pool'] + off
                pkt += bytes(m[p:p + ln])
                n += 1
                if not fl & 1:
                    break
            for i in range(n):
                self.put_used(1, 0, 0)
            self.sub[1] = e + n
            done += 1
            self.answer(pkt[12:], pkt[:12])

    def tx_done(self, done):
        if done:
            self.signal_guest(1)

    def answer(self, f, hdr):
        self.txcount = getattr(self, 'txcount', 0) + 1
        et = f[12:14]
        if et == b'\x08\x06' and f[21] == 1 and f[38:42] == HOST_IP:
            rep = (f[6:12] + HOST_MAC + b'\x08\x06' + f[14:20] + b'\x00\x02'
                   + HOST_MAC + HOST_IP + f[22:28] + f[28:32])
            self.rx_packet(rep)
        elif et == b'\x08\x00' and f[23] == 1 and f[30:34] == HOST_IP:
            ihl = (f[14] & 15) * 4
            ip = bytearray(f[14:14 + ihl])
            ip[12:16], ip[16:20] = f[30:34], f[26:30]
            icmp = bytearray(f[14 + ihl:])
            icmp[0] = 0
            icmp[2:4] = b'\0\0'
            s = sum(struct.unpack('!%dH' % (len(icmp) // 2), icmp[:len(icmp) // 2 * 2]))
            if len(icmp) % 2:
                s += icmp[-1] << 8
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            icmp[2:4] = struct.pack('!H', ~s & 0xffff)
            self.rx_packet(f[6:12] + HOST_MAC + et + bytes(ip) + bytes(icmp))

    def run(self, seconds, mode):
        epoch = 1
        layout(epoch)
        end = time.time() + seconds
        running = False
        restarted = False
        while time.time() < end:
            gs = r32(128)
            hs = r32(64)
            if gs == 1 and hs == 2:
                m[EVQ:EVQ + 192 + EVQ_N * 16] = bytes(192 + EVQ_N * 16)
                m[CALL:CALL + 128 * CALL_N] = bytes(128 * CALL_N)
                self.ev = 0
                w64(72, r64(24) & r64(136))
                w32(64, 3)
                running = True
                irq()
                log('RUN, epoch', r32(68))
                add_device()
                self.post(1, 7, 0)
            elif gs == 0 and hs == 3:
                w32(64, 2)
                running = False
                log('guest RESET -> READY')
                irq()
            if running:
                self.handle_calls()
                self.poll_queues()
                if (mode == 'restart' and not restarted and
                        getattr(self, 'txcount', 0) > 20):
                    restarted = True
                    log('simulating host restart: epoch bump')
                    epoch += 1
                    running = False
                    layout(epoch)
                    irq()
            for e in host_efd:
                try:
                    os.eventfd_read(e)
                except BlockingIOError:
                    pass
            time.sleep(0.0005)


def serve(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)
    c, _ = ls.accept()

    def msg(v, f=None):
        socket.send_fds(c, [struct.pack('<q', v)], [f] if f is not None else [])

    c.send(struct.pack('<q', 0))
    c.send(struct.pack('<q', 1))
    msg(-1, fd)
    for e in host_efd:
        msg(0, e)
    for e in guest_efd:
        msg(1, e)
    log('client connected')
    return ls, c


if __name__ == '__main__':
    path, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    holder = {}
    t = threading.Thread(target=lambda: holder.update(s=serve(path)))
    t.start()
    t.join()
    Host().run(seconds, mode)
    log('done')

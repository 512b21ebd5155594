#!/usr/bin/python3
"""Connect to an alacrityvmd instance socket like QEMU's ivshmem-doorbell
does, take the shared-memory fd the server hands over and print its identity
(device, inode, size) as JSON.  Copied into the test VM by prepare.yml; the
restart test compares the identity before and after `systemctl restart`.

usage: ivshmem_probe.py SOCKET
"""

import json
import os
import socket
import struct
import sys


def main() -> int:
    path = sys.argv[1]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(path)
        # version (0), our peer id, then -1 with the shm fd (ivshmem-spec.txt)
        for _ in range(3):
            msg, fds, _flags, _addr = socket.recv_fds(s, 8, 4)
            if len(msg) != 8:
                print(f"short message ({len(msg)} bytes)", file=sys.stderr)
                return 1
            (value,) = struct.unpack("<q", msg)
            if value == -1:
                if len(fds) != 1:
                    print(f"-1 came with {len(fds)} fds", file=sys.stderr)
                    return 1
                st = os.fstat(fds[0])
                print(json.dumps({"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size}))
                os.close(fds[0])
                return 0
            for fd in fds:
                os.close(fd)
    print("no shared-memory fd in the first three messages", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

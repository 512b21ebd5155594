#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the primary-key fingerprints of an OpenPGP key file on the host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: alacrityvm_openpgp_key
short_description: Check that an OpenPGP key file holds exactly the expected keys
description:
  - Reads a binary or ASCII-armored OpenPGP public key file on the managed host,
    computes the fingerprint of every primary key in it (version 4 and 6 keys) and
    fails unless there is at least one key and every one of them is listed.
  - Needs nothing but Python on the host (no gpg). Never changes anything.
options:
  path:
    description: The key file on the managed host.
    type: path
    required: true
  fingerprints:
    description:
      - Accepted primary-key fingerprints (hex; spaces, colons and a 0x prefix are ignored).
    type: list
    elements: str
    required: true
author: AlacrityVM developers
"""

RETURN = r"""
fingerprints:
  description: Primary-key fingerprints found in the file, upper-case hex.
  returned: success
  type: list
  elements: str
"""

import base64  # noqa: E402 (Ansible: the docs come first)
import hashlib  # noqa: E402 (Ansible: the docs come first)
import re  # noqa: E402 (Ansible: the docs come first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (Ansible: the docs come first)

TAG_PUBLIC_KEY = 6


class KeyFileError(Exception):
    """The file is not a readable OpenPGP public key."""


def dearmor(data):
    """Return the binary packets of an ASCII-armored block, or data unchanged."""
    text = data.decode("ascii", errors="replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return data
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1]
    body = body.split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = body.strip().splitlines()
    # Armor headers end at the first empty line (if there are any).
    if "" in [line.strip() for line in lines]:
        lines = lines[[line.strip() for line in lines].index("") + 1:]
    b64 = "".join(line.strip() for line in lines if not line.startswith("="))
    try:
        return base64.b64decode(b64, validate=True)
    except ValueError as e:
        raise KeyFileError("bad ASCII armor: %s" % e) from e


def packets(data):
    """Yield (tag, body) for every packet; partial lengths are refused."""
    pos = 0
    while pos < len(data):
        head = data[pos]
        pos += 1
        if not head & 0x80:
            raise KeyFileError("not an OpenPGP packet at offset %d" % (pos - 1))
        if head & 0x40:  # new format
            tag = head & 0x3F
            if pos >= len(data):
                raise KeyFileError("truncated packet header")
            first = data[pos]
            if first < 192:
                length, pos = first, pos + 1
            elif first < 224:
                if pos + 1 >= len(data):
                    raise KeyFileError("truncated packet header")
                length, pos = ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 1:pos + 5], "big"), pos + 5
            else:
                raise KeyFileError("partial body length in a key file")
        else:  # old format
            tag = (head >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(head & 3)
            if size is None:
                length = len(data) - pos
            else:
                length, pos = int.from_bytes(data[pos:pos + size], "big"), pos + size
        if pos + length > len(data):
            raise KeyFileError("truncated packet (tag %d)" % tag)
        yield tag, data[pos:pos + length]
        pos += length


def fingerprint(body):
    """Fingerprint of a public-key packet body (RFC 4880 v4, RFC 9580 v6)."""
    version = body[0] if body else 0
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version == 6:
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise KeyFileError("unsupported public key version %d" % version)


def primary_fingerprints(data):
    found = [fingerprint(body) for tag, body in packets(dearmor(data)) if tag == TAG_PUBLIC_KEY]
    if not found:
        raise KeyFileError("no public key in the file")
    return found


def normalise(fpr):
    fpr = re.sub(r"[\s:]", "", fpr).upper()
    return fpr[2:] if fpr.startswith("0X") else fpr


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "fingerprints": {"type": "list", "elements": "str", "required": True},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    wanted = {normalise(f) for f in module.params["fingerprints"]}
    try:
        with open(path, "rb") as f:
            found = primary_fingerprints(f.read())
    except (OSError, KeyFileError) as e:
        module.fail_json(msg="%s: %s" % (path, e))
    unexpected = [f for f in found if f not in wanted]
    if unexpected:
        module.fail_json(msg="%s holds keys that are not accepted: %s (accepted: %s)"
                         % (path, ", ".join(unexpected), ", ".join(sorted(wanted))),
                         fingerprints=found)
    module.exit_json(changed=False, fingerprints=found)


if __name__ == "__main__":
    main()

"""Reusable harness for AlacrityVM system tests (QEMU under TCG).

Modules:
  env        where things are: source tree, build tree, kernel, caches
  initramfs  busybox initramfs images (programs, files, kernel modules)
  guest      boot a kernel + initramfs under QEMU, talk to its serial shell
  daemon     run alacrityvmd and follow its log
  tools      compile the guest-side helper programs (tests/system/guest)
"""

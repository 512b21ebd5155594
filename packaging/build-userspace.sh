#!/bin/bash
# Build and install the userspace programs the packages ship; called by
# debian/rules and by the RPM spec so both build the same way.  Compiler
# flags come from the environment (dpkg-buildflags / %optflags).
#
# Only the installed targets are built, with BUILD_TESTING=OFF: the unit
# tests and benchmarks run in `make check`, not in package builds, which
# need neither GoogleTest nor Google Benchmark.  A new program: add its CMake target
# to TARGETS below and give it an install() rule in its CMakeLists.txt.
set -euo pipefail

TARGETS=(alacrityvmd avmctl avmctl-completion man-pages)

usage() {
	cat <<USAGE
usage: ${0##*/} build SRCDIR BUILDDIR [PREFIX [CMAKE-OPTION...]]
       ${0##*/} install BUILDDIR DESTDIR

build:    configure SRCDIR with CMake in BUILDDIR for PREFIX (default /usr)
          and the CMAKE-OPTIONs (the spec: -DAVM_PORTABLE=ON), and build
          the packaged targets: ${TARGETS[*]}
install:  install them (cmake --install) into DESTDIR

Environment: CFLAGS, CXXFLAGS, CPPFLAGS, LDFLAGS, JOBS (default: nproc).
USAGE
}

case ${1:-} in
build)
	(($# >= 3)) || { usage >&2; exit 2; }
	# CMake reads CFLAGS/CXXFLAGS but not CPPFLAGS (dpkg-buildflags'
	# _FORTIFY_SOURCE lives there).
	export CFLAGS="${CFLAGS:-} ${CPPFLAGS:-}" CXXFLAGS="${CXXFLAGS:-} ${CPPFLAGS:-}"
	# A unity build (the sources of each library compiled as a few large
	# files): the packaged targets build in 2 min 11 s instead of 3 min 54 s
	# at -j2, once for the .deb and once for the .rpm.
	src=$2 build=$3 prefix=${4:-/usr}
	shift $(($# < 4 ? $# : 4))
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_UNITY_BUILD=ON \
		-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_VERBOSE_MAKEFILE=ON -DBUILD_TESTING=OFF "$@"
	cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]}"
	;;
install)
	(($# == 3)) || { usage >&2; exit 2; }
	DESTDIR=$3 cmake --install "$2"
	;;
-h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac

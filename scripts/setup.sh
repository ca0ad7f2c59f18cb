#!/bin/sh
# scripts/setup.sh — installs the Debian packages onnxcc builds and tests with.
# Run by `make demo` and `make test`.  PKGS are required: as root it
# installs what is missing with apt-get, otherwise it prints the command to
# run and fails.  CROSS_PKGS (cross gcc and C library for aarch64 and armhf,
# qemu-user)
# let ctest run the zoo on those targets, and (qemu-system-arm, lld-19 with
# PKGS' clang-19) run a bare-metal Cortex-M7 image (tests/cross/); as root
# they are installed too, without Debian's "recommended" extras (which for
# qemu-system-arm are a GUI and firmware), otherwise their absence is only
# reported (those tests then print SKIP).  Nothing is run when everything
# is present.
set -e
PKGS="build-essential cmake libprotobuf-c-dev protobuf-c-compiler llvm-19-dev libcmocka-dev clang-19 libclang-rt-19-dev"
CROSS_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user qemu-system-arm lld-19"
missing_of() {
	m=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || m="$m $p"
	done
	echo "$m"
}
missing=$(missing_of $PKGS)
cross=$(missing_of $CROSS_PKGS)
[ -z "$missing$cross" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "setup: installing$missing$cross"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	[ -z "$missing" ] || apt-get install -y -q $missing >/dev/null
	[ -z "$cross" ] || apt-get install -y -q --no-install-recommends $cross >/dev/null
elif [ -n "$missing" ]; then
	echo "setup: missing Debian packages:$missing" >&2
	echo "setup: run: sudo apt-get update && sudo apt-get install -y$missing$cross" >&2
	exit 1
else
	echo "setup: cross tests will be skipped; to run them: sudo apt-get install -y$cross" >&2
fi

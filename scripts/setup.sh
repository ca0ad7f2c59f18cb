#!/bin/sh
# scripts/setup.sh — installs the Debian packages onnxcc builds with.
# Run by `make demo` and `make test`; as root it installs what is missing
# with apt-get, otherwise it prints the command to run and fails.
set -e
PKGS="build-essential cmake libprotobuf-c-dev protobuf-c-compiler llvm-19-dev libcmocka-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q $missing >/dev/null
else
	echo "setup: missing Debian packages:$missing" >&2
	echo "setup: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi

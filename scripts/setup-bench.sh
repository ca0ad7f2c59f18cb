#!/bin/sh
# scripts/setup-bench.sh — installs what `make bench` needs beyond the build.
#
#   sh scripts/setup-bench.sh            Debian python3-onnx, python3-numpy,
#                                        libdnnl-dev; onnxruntime-node in bench/
#   sh scripts/setup-bench.sh --torch    also python3-torch, python3-torchvision
#                                        (only to generate the bench models)
#
# Debian packages are installed with apt-get when missing (as root; otherwise
# the command to run is printed and the script fails).  onnxruntime-node is
# installed by `npm install --ignore-scripts` in bench/ when
# bench/node_modules/onnxruntime-node is missing (--ignore-scripts: the
# package's install script would fetch GPU extras from outside the npm
# registry; the CPU runtime is in the package).
set -e
SRC=$(cd "$(dirname "$0")/.." && pwd)
PKGS="python3-onnx python3-numpy libdnnl-dev time"
[ "${1:-}" = --torch ] && PKGS="$PKGS python3-torch python3-torchvision"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "setup-bench: installing$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086 # a list of package names
		apt-get install -y -q $missing >/dev/null
	else
		echo "setup-bench: missing Debian packages:$missing" >&2
		echo "setup-bench: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
		exit 1
	fi
fi
if [ ! -d "$SRC/bench/node_modules/onnxruntime-node" ]; then
	command -v npm >/dev/null || { echo "setup-bench: npm not found (apt-get install npm)" >&2; exit 1; }
	echo "setup-bench: npm install --ignore-scripts in bench/ (onnxruntime-node)"
	(cd "$SRC/bench" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi

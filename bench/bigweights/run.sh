#!/bin/sh
# bench/bigweights/run.sh [BUILD] [GIB] — compiles a generated model with
# GIB GiB (default 2.1) of external-data weights (gen.py) into an object
# and prints onnxcc's wall and CPU time and peak RSS against the weights'
# size (issue 10: peak RSS <= 1.25 x the weights + a small constant).
# Needs about 2 x GIB GiB of free disk under BUILD; the files are removed
# afterwards.  Not part of `make test` or `make bench` (minutes of I/O).
set -e
BUILD=${1:-build}
GIB=${2:-2.1}
DIR=$BUILD/bench-bigweights
PY=/usr/bin/python3
trap 'rm -rf "$DIR"' EXIT
need=$(awk -v g="$GIB" 'BEGIN { printf "%d", g * 2.2 * 1048576 }')
avail=$(df -Pk "$BUILD" | awk 'NR == 2 { print $4 }')
if [ "$avail" -lt "$need" ]; then
	echo "bigweights: need $((need / 1048576)) GiB free under $BUILD, have $((avail / 1048576))" >&2
	exit 1
fi
$PY "$(dirname "$0")/gen.py" "$DIR" "$GIB"
wbytes=$(stat -c %s "$DIR/weights.bin")
/usr/bin/time -f "%e %U %S %M" -o "$DIR/time" "$BUILD/onnxcc" "$DIR/model.onnx" -o "$DIR/model.o" -v
read -r wall user sys rss <"$DIR/time"
osize=$(stat -c %s "$DIR/model.o")
awk -v w="$wbytes" -v o="$osize" -v wall="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
	printf "weights %.0f MiB, object %.0f MiB; compile %.1f s wall, %.1f s CPU (user %.1f, sys %.1f); peak RSS %.0f MiB = %.2f x the weights\n",
	       w / 1048576, o / 1048576, wall, u + s, u, s, r / 1024, r * 1024 / w
}'

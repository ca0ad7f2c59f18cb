#!/bin/sh
# examples/run-demo.sh — compiles and runs the bundled demo model.
#
#   sh examples/run-demo.sh BUILD_DIR          (what `make demo` runs)
#
# examples/pvt/ holds a tiny 3-stage PVT (pyramid vision transformer with
# spatial-reduction attention) exported from PyTorch at opset 17, its input
# image (inputs/image.npy, 1x3x32x32) and PyTorch's logits
# (expected/logits.npy).  The script compiles the model with
# BUILD_DIR/onnxcc to a shared library, runs it once with BUILD_DIR/onnxcc-run
# and prints the logits, checks them against PyTorch's, then times 20 runs.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
DEMO=$HERE/pvt
OUT=$BUILD/demo
mkdir -p "$OUT"

echo "== compiling $DEMO/model.onnx"
start=$(date +%s.%N)
"$BUILD/onnxcc" "$DEMO/model.onnx" -o "$OUT/pvt.so" --header "$OUT/pvt.h" --name pvt --stats 2>&1
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "compiled in %.2f s: ", b - a }'
echo "$OUT/pvt.so ($(wc -c <"$OUT/pvt.so" | tr -d ' ') bytes), header $OUT/pvt.h"

echo "== running on $DEMO/inputs/image.npy"
"$BUILD/onnxcc-run" "$OUT/pvt.so" --input "image=$DEMO/inputs/image.npy" --output-dir "$OUT"
if [ -x "$BUILD/onnxcc-npycmp" ]; then
	echo "logits:"
	"$BUILD/onnxcc-npycmp" --print "$OUT/logits.npy" | tail -n +2
	echo "== against PyTorch's logits (max abs error <= 1e-4 * max |reference|)"
	"$BUILD/onnxcc-npycmp" logits "$DEMO/expected/logits.npy" "$OUT/logits.npy"
fi

echo "== time per run (20 runs after a warm-up)"
"$BUILD/onnxcc-run" "$OUT/pvt.so" --input "image=$DEMO/inputs/image.npy" --output-dir "$OUT" \
	--repeat 20 --quiet | tee "$OUT/timing.json"
sed -n 's/.*"median_ms": *\([0-9.e+-]*\).*"min_ms": *\([0-9.e+-]*\).*/time per run: \1 ms (median of 20), best \2 ms/p' \
	"$OUT/timing.json"

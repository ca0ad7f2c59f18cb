#!/bin/sh
# bench/growth/run.sh — compile time and peak RSS against model size.
#
#   sh bench/growth/run.sh [BUILD_DIR]
#
# Compiles (onnxcc MODEL -o model.o, the default -O and CPU; an object, so
# no linker is timed) the models of bench/growth/export.py — an encoder of
# 2 to 32 layers and a PVT cascade of widths x1 to x8 — generated into
# BUILD_DIR/bench-growth when missing or older than the script, and prints
# per model: nodes, weight bytes, wall and CPU seconds (user + system, of
# /usr/bin/time) and peak RSS.  For each series: the fitted exponent b of
# CPU time ~ size^b (least squares on the logarithms; size = layers for
# the encoder, weight bytes for the cascade; b near 1 is linear growth,
# below 1 a fixed cost still dominates), and the slope of peak RSS against
# weight bytes (least squares; 1.0 would be the weights held once more).
# Not a test: nothing fails on the numbers.  OUT (default BUILD_DIR/bench/growth.txt) gets the table.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$SRC/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "growth: no build directory '${1:-build}'" >&2; exit 2; }
PY=${PY:-/usr/bin/python3}
MD=${MODELS_DIR:-$BUILD/bench-growth}
W=$BUILD/bench/growth
OUT=${OUT:-$BUILD/bench/growth.txt}
ONNXCC=$BUILD/onnxcc
mkdir -p "$W" "$(dirname "$OUT")" || exit 2

STAMP=$(cat "$HERE/export.py" "$SRC/tests/models/export.py" | sha256sum | cut -c1-16)
if [ "$(cat "$MD/.stamp" 2>/dev/null)" != "$STAMP" ]; then
	echo "growth: exporting the models into $MD" >&2
	rm -rf "$MD"
	PYTHONDONTWRITEBYTECODE=1 "$PY" "$HERE/export.py" "$MD" >"$W/export.log" 2>&1 ||
		{ echo "growth: export failed (see $W/export.log)" >&2; exit 2; }
	echo "$STAMP" >"$MD/.stamp"
fi

# one NAME SIZE: compiles, appends "name size nodes wbytes wall cpu rss_kb" to $W/rows
one() {
	"$ONNXCC" "$MD/$1/model.onnx" --stats -o "$W/model.o" 2>"$W/stats.txt" >/dev/null &&
	/usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" "$ONNXCC" "$MD/$1/model.onnx" -o "$W/model.o" \
		>/dev/null 2>"$W/err.txt" || { echo "growth: $1 failed:" >&2; cat "$W/err.txt" >&2; return 1; }
	nodes=$(sed -n 's/^stats: \([0-9]*\) nodes.*/\1/p' "$W/stats.txt")
	wb=$(sed -n 's/.*weights \([0-9]*\) bytes.*/\1/p' "$W/stats.txt")
	read -r wall user sys rss <"$W/time.txt"
	echo "$1 $2 $nodes $wb $wall $(echo "$user + $sys" | bc) $rss" >>"$W/rows"
}

: >"$W/rows"
rc=0
for n in 2 4 8 16 32; do one encoder_L$n $n || rc=1; done
for w in 1 2 4 8; do one cascade_W$w weights || rc=1; done

awk '
function fit(pre, lg,   i, n, sx, sy, sxx, sxy, x, y) {
	n = 0; sx = sy = sxx = sxy = 0
	for (i = 1; i <= N; i++) if (series[i] == pre && X[i] > 0 && Y[i] > 0) {
		x = lg ? log(X[i]) : X[i]; y = lg ? log(Y[i]) : Y[i]
		n++; sx += x; sy += y; sxx += x * x; sxy += x * y
	}
	if (n < 2 || n * sxx == sx * sx) return "n/a"
	return sprintf("%.2f", (n * sxy - sx * sy) / (n * sxx - sx * sx))
}
BEGIN {
	printf "Compile time and peak RSS against model size (bench/growth; onnxcc, default -O and CPU, to .o):\n\n"
	printf "| model | nodes | weights MB | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|---:|---:|\n"
}
{
	N++; series[N] = ($1 ~ /^encoder/) ? "enc" : "cas"
	printf "| %s | %d | %.1f | %.2f | %.2f | %.0f |\n", $1, $3, $4 / 1e6, $5, $6, $7 / 1024
	X[N] = ($2 == "weights") ? $4 : $2; cpu[N] = $6; rss[N] = $7 * 1024; wb[N] = $4
}
END {
	for (i = 1; i <= N; i++) Y[i] = cpu[i]
	e1 = fit("enc", 1); c1 = fit("cas", 1)
	for (i = 1; i <= N; i++) { X[i] = wb[i]; Y[i] = rss[i] }
	e2 = fit("enc", 0); c2 = fit("cas", 0)
	printf "\nCPU time ~ size^b, fitted b (1 = linear); peak RSS slope (bytes of RSS per weight byte):\n"
	printf "  encoder, size = layers:        b = %s, RSS slope %s\n", e1, e2
	printf "  cascade, size = weight bytes:  b = %s, RSS slope %s\n", c1, c2
}' "$W/rows" | tee "$OUT"
exit $rc

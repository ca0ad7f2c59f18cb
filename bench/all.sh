#!/bin/sh
# bench/all.sh — what `make bench` runs after the release build: four tables
# in one run, written together to bench/results/latest.txt (not committed).
#
#   sh bench/all.sh [BUILD_DIR]
#
#   1. bench/real.sh      real-size models, onnxcc vs ONNX Runtime, T = 1, 2
#   2. bench/gemm/run.sh  GEMM GFLOP/s per shape: onnxcc, oneDNN, peak
#   3. bench/run.sh       the tiny zoo models (tests/models/*) and the floor
#   4. bench/growth/run.sh compile time and peak RSS against model size
#
# Environment: passed on to the three scripts (MODELS, REPEAT, ROUNDS,
# THREADS, GEMM_SECONDS, SHAPES ...; see each); ZOO_REPEAT and ZOO_ROUNDS
# (default 50 and 3) set the zoo table's REPEAT and ROUNDS; SKIP (a list of
# real, gemm, zoo, growth) leaves tables out; OUT (default bench/results/latest.txt).
# Exit status: 0 when all three succeeded, 1 otherwise.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "all.sh: no build directory" >&2; exit 2; }
OUT=${OUT:-$HERE/results/latest.txt}
SKIP=${SKIP:-}
W=$BUILD/bench
mkdir -p "$W" "$(dirname "$OUT")"
t0=$(date +%s)
rc=0
skip() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }
: >"$W/real.txt"
: >"$W/gemm.txt"
: >"$W/zoo.txt"
: >"$W/growth.txt"
if ! skip real; then
	OUT=$W/real.txt sh "$HERE/real.sh" "$BUILD" || rc=1
fi
if ! skip gemm; then
	OUT=$W/gemm.txt sh "$HERE/gemm/run.sh" "$BUILD" || rc=1
fi
if ! skip zoo; then
	OUT=$W/zoo.txt REPEAT=${ZOO_REPEAT:-50} ROUNDS=${ZOO_ROUNDS:-3} THREADS=1 sh "$HERE/run.sh" "$BUILD" || rc=1
fi
if ! skip growth; then
	OUT=$W/growth.txt sh "$HERE/growth/run.sh" "$BUILD" || rc=1
fi
{
	cat "$W/real.txt"
	echo
	cat "$W/gemm.txt"
	echo
	echo "Tiny zoo models (bench/run.sh), ORT intra-op threads 1:"
	cat "$W/zoo.txt"
	echo
	cat "$W/growth.txt"
	echo
	echo "make bench: $(( $(date +%s) - t0 )) s in all"
} >"$OUT"
echo "all.sh: tables in $OUT"
exit $rc

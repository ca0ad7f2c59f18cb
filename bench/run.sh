#!/bin/sh
# bench/run.sh — onnxcc side by side with ONNX Runtime (CPU, 1 thread).
#
#   sh bench/run.sh [BUILD_DIR] [MODEL...]
#
# BUILD_DIR (default: build) holds a release build of onnxcc and onnxcc-run
# (`make build`); MODEL is a directory name under tests/models/ (or a path
# containing '/'); default: bench/floor (one Identity node: the fixed cost
# of a call) and every tests/models/*/ with a manifest.txt.
# Needs node and `npm install --ignore-scripts` done in bench/ (see
# bench/README.md); /usr/bin/time for peak RSS (else RSS shows as '-').
#
# For each model:
#   1. compile  onnxcc model.onnx -o model.so -O3 --stats (host CPU);
#               the workspace bytes come from the --stats line
#   2. check    both run once on inputs/<input>.npy and write their outputs;
#               node npydiff.js compares them (max abs diff <= 1e-4 max|ORT|,
#               the tolerance of tests/models/e2e.sh).  A model whose outputs
#               disagree is still timed but marked WRONG: never quote it.
#   3. time     ROUNDS rounds; each round runs `onnxcc-run --repeat REPEAT`
#               then `node ort_run.js --repeat REPEAT` (one untimed warm-up
#               run each), alternating so that a burst of load on a busy
#               machine hits both.  Reported: median of the round medians,
#               minimum over all runs; peak RSS is the largest
#               "Maximum resident set size" of /usr/bin/time -v over the
#               rounds (a whole process: ORT's includes Node.js itself, so
#               the node+ORT baseline with no model loaded is printed too).
# ratio = ORT ms / onnxcc ms: > 1 means onnxcc is faster.
#
# Environment: REPEAT (default 50), ROUNDS (default 3), THREADS (ORT intra-op
# threads, default 1), OUT (results file, default bench/results/latest.txt),
# WORK (scratch directory, default BUILD_DIR/bench).
# Exit status: 0 when every model compiled, ran and agreed; 1 otherwise;
# 2 on a usage or setup error.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-$SRC/build}
[ $# -gt 0 ] && shift
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run.sh: no build directory '$BUILD'" >&2; exit 2; }
REPEAT=${REPEAT:-50}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
OUT=${OUT:-$HERE/results/latest.txt}
WORK=${WORK:-$BUILD/bench}
ONNXCC=$BUILD/onnxcc
RUN=$BUILD/onnxcc-run
NODE=${NODE:-node}
TIME=/usr/bin/time

for t in "$ONNXCC" "$RUN"; do
	[ -x "$t" ] || { echo "run.sh: missing $t (make build first)" >&2; exit 2; }
done
command -v "$NODE" >/dev/null || { echo "run.sh: node not found" >&2; exit 2; }
[ -d "$HERE/node_modules/onnxruntime-node" ] ||
	{ echo "run.sh: onnxruntime-node missing: cd bench && npm install --ignore-scripts" >&2; exit 2; }
[ -x "$TIME" ] || TIME=

if [ $# -eq 0 ]; then
	set -- "$HERE/floor"
	for m in "$SRC"/tests/models/*/manifest.txt; do
		set -- "$@" "$(basename "$(dirname "$m")")"
	done
fi
mkdir -p "$WORK" "$(dirname "$OUT")"

# rss FILE: "Maximum resident set size" of a /usr/bin/time -v report, in KiB.
rss() {
	sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$1" 2>/dev/null | head -n 1
}
# json KEY FILE: a number from the last JSON line of FILE.
json() {
	grep '^{' "$2" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p"
}
# timed REPORT CMD...: runs CMD under /usr/bin/time -v (when there is one).
timed() {
	rep=$1
	shift
	if [ -n "$TIME" ]; then
		"$TIME" -v -o "$rep" "$@"
	else
		: >"$rep"
		"$@"
	fi
}
# median of the numbers on stdin (one a line).
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minimum() {
	sort -g | head -n 1
}

# ---- header: what was measured, where ------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
# The vector extensions that matter for the generated code (and for ORT's MLAS).
ISA=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1 | tr ' ' '\n' |
	grep -x 'avx\|avx2\|fma\|avx512f\|avx512bw\|avx512vnni\|avx512_bf16\|amx_tile\|asimd\|sve' | tr '\n' ' ')
MEM=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
ORTV=$(cd "$HERE" && "$NODE" -e 'process.stdout.write(require("onnxruntime-node/package.json").version)' 2>/dev/null)
BASE_RSS=-
if [ -n "$TIME" ]; then
	(cd "$HERE" && "$TIME" -v -o "$WORK/node_baseline.time" "$NODE" -e 'require("onnxruntime-node")')
	BASE_RSS=$(rss "$WORK/node_baseline.time")
	BASE_RSS=$(awk -v k="$BASE_RSS" 'BEGIN { printf "%.1f", k / 1024 }')
fi
case $BTYPE in
Release | RelWithDebInfo) ;;
*) echo "run.sh: warning: $BUILD is a '${BTYPE:-unknown}' build; timings need a release build (make build)" >&2 ;;
esac

TABLE=$WORK/table.txt
: >"$TABLE"
fails=0
for name in "$@"; do
	case $name in
	*/*) MD=$(cd "$name" && pwd) ;;
	*) MD=$SRC/tests/models/$name ;;
	esac
	name=$(basename "$MD")
	W=$WORK/$name
	rm -rf "$W"
	mkdir -p "$W"
	INPUTS=$(sed -n 's/^input //p' "$MD/manifest.txt")
	OUTPUTS=$(sed -n 's/^output //p' "$MD/manifest.txt")
	set --
	for i in $INPUTS; do
		set -- "$@" --input "$i=$MD/inputs/$i.npy"
	done
	echo "== $name" >&2

	# 1. compile
	if ! "$ONNXCC" "$MD/model.onnx" -o "$W/model.so" -O3 --cpu native --stats >"$W/compile.out" 2>"$W/compile.err"; then
		msg=$(grep -v '^stats:' "$W/compile.err" | head -n 1 | sed "s|$MD/||g" | cut -c1-200)
		echo "$name COMPILE-FAIL $msg" >>"$TABLE"
		echo "   compile failed: $msg" >&2
		fails=$((fails + 1))
		continue
	fi
	WS=$(sed -n 's/.*workspace \([0-9][0-9]*\) bytes.*/\1/p' "$W/compile.err" | head -n 1)

	# 2. outputs of both, compared
	status=ok
	if ! "$RUN" "$W/model.so" "$@" --output-dir "$W/cc" --quiet >"$W/cc.out" 2>"$W/cc.err"; then
		msg=$(head -n 1 "$W/cc.err" | cut -c1-200)
		echo "$name RUN-FAIL onnxcc-run: $msg" >>"$TABLE"
		echo "   onnxcc-run failed: $msg" >&2
		fails=$((fails + 1))
		continue
	fi
	if ! (cd "$HERE" && "$NODE" ort_run.js "$MD/model.onnx" "$@" --threads "$THREADS" --repeat 1 \
		--output-dir "$W/ort" --quiet) >"$W/ort.out" 2>"$W/ort.err"; then
		msg=$(head -n 1 "$W/ort.err" | cut -c1-200)
		echo "$name RUN-FAIL ORT: $msg" >>"$TABLE"
		echo "   ORT failed: $msg" >&2
		fails=$((fails + 1))
		continue
	fi
	pairs=
	for o in $OUTPUTS; do
		pairs="$pairs $W/cc/$o.npy $W/ort/$o.npy"
	done
	# shellcheck disable=SC2086 # output paths have no spaces (names from the manifest)
	(cd "$HERE" && "$NODE" npydiff.js $pairs) >"$W/diff.txt" 2>&1 || status=WRONG
	sed "s|$W/||g; s/^/   /" "$W/diff.txt" >&2
	MAXABS=$(sed -n 's/^maxabs \([^ ]*\) .*/\1/p' "$W/diff.txt")
	[ -n "$MAXABS" ] || { MAXABS=-; status=WRONG; }
	[ $status = ok ] || fails=$((fails + 1))

	# 3. timing rounds, alternating
	r=1
	while [ $r -le "$ROUNDS" ]; do
		timed "$W/cc$r.time" "$RUN" "$W/model.so" "$@" --repeat "$REPEAT" --quiet --output-dir "$W/cc$r" \
			>"$W/cc$r.out" 2>"$W/cc$r.err" || echo "   onnxcc-run round $r failed: $(head -n 1 "$W/cc$r.err")" >&2
		(cd "$HERE" && timed "$W/ort$r.time" "$NODE" ort_run.js "$MD/model.onnx" "$@" \
			--threads "$THREADS" --repeat "$REPEAT" --quiet) \
			>"$W/ort$r.out" 2>"$W/ort$r.err" || echo "   ORT round $r failed: $(head -n 1 "$W/ort$r.err")" >&2
		r=$((r + 1))
	done
	CC_MED=$(for f in "$W"/cc[0-9]*.out; do json median_ms "$f"; done | median)
	CC_MIN=$(for f in "$W"/cc[0-9]*.out; do json min_ms "$f"; done | minimum)
	ORT_MED=$(for f in "$W"/ort[0-9]*.out; do json median_ms "$f"; done | median)
	ORT_MIN=$(for f in "$W"/ort[0-9]*.out; do json min_ms "$f"; done | minimum)
	CC_RSS=$(for f in "$W"/cc[0-9]*.time; do rss "$f"; done | sort -g | tail -n 1)
	ORT_RSS=$(for f in "$W"/ort[0-9]*.time; do rss "$f"; done | sort -g | tail -n 1)
	echo "$name $status ${CC_MED:--} ${CC_MIN:--} ${ORT_MED:--} ${ORT_MIN:--} ${CC_RSS:--} ${ORT_RSS:--} ${WS:--} $MAXABS" >>"$TABLE"
	echo "   onnxcc median ${CC_MED:--} ms, ORT median ${ORT_MED:--} ms" >&2
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# ---- report ------------------------------------------------------------------
{
	echo "onnxcc vs ONNX Runtime $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: ${CPU:-unknown CPU}, $(nproc 2>/dev/null || echo '?') cores, ${MEM:-? GiB}, $(uname -sm); ${ISA:-no ISA flags read}"
	echo "load average before/after: ${LOAD0:-?} / ${LOAD1:-?} (other jobs share the machine when high)"
	echo "onnxcc: ${BTYPE:-?} build of $(date -u -r "$ONNXCC" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')" \
		"(tree HEAD now: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')), -O3, host CPU, single-threaded"
	echo "ONNX Runtime: onnxruntime-node ${ORTV:-?}, CPU EP, intra-op threads $THREADS, Node.js $("$NODE" --version)"
	echo "timing: $ROUNDS rounds x $REPEAT runs each (1 untimed warm-up per round), onnxcc and ORT alternating;"
	echo "        med = median of the round medians, min = fastest single run; ms per inference"
	echo "ratio = ORT / onnxcc (> 1: onnxcc faster); RSS = peak resident set of the whole process in MiB"
	echo "        (ORT's includes Node.js: node + onnxruntime-node loaded, no model, is $BASE_RSS MiB)"
	echo "maxabs = max |onnxcc - ORT| over all outputs (must be <= 1e-4 max|ORT| or the row is WRONG)"
	echo
	awk '
	function r(a, b) { return (a == "-" || b == "-" || a + 0 == 0) ? "-" : sprintf("%.2f", b / a) }
	function mib(k) { return k == "-" ? "-" : sprintf("%.1f", k / 1024) }
	function ms(x) { return x == "-" ? "-" : sprintf("%.4g", x) }
	BEGIN {
		printf "%-22s %9s %9s %9s %9s %6s %6s %8s %8s %10s %9s  %s\n", "model",
		       "cc_med", "cc_min", "ort_med", "ort_min", "ratio", "r_min",
		       "cc_rss", "ort_rss", "workspace", "maxabs", "status"
	}
	$2 == "ok" || $2 == "WRONG" {
		printf "%-22s %9s %9s %9s %9s %6s %6s %8s %8s %10s %9s  %s\n", $1, ms($3), ms($4), ms($5), ms($6),
		       r($3, $5), r($4, $6), mib($7), mib($8), $9, $10, $2
		next
	}
	{
		msg = ""
		for (i = 3; i <= NF; i++) msg = msg " " $i
		printf "%-22s %s:%s\n", $1, $2, msg
	}' "$TABLE"
} | tee "$OUT"
[ $fails -eq 0 ]

#!/bin/sh
# bench/gemm/run.sh — GEMM GFLOP/s per shape: onnxcc's MatMul, oneDNN's
# dnnl_sgemm and the measured FMA peak, one thread.
#
#   sh bench/gemm/run.sh [BUILD_DIR [MODELS_DIR]]
#
# BUILD_DIR (default build) holds a release build (onnxcc, onnxcc-run);
# MODELS_DIR (default BUILD_DIR/bench-models) the real-size models of
# bench/models/export_real.py, whose GEMM shapes are benched along with
# 256^3, 512^3, 1024^3 and 2048^3.  From each model (bench/models/
# graph_stats.py --gemm): the 4 weight shapes (B a constant) and the 2
# computed-operand shapes (attention, per head/window) with the most FLOPs,
# each timed as one 2-D product (a batched product as one batch item).
#
# For every shape:
#   onnxcc  bench/gemm/make_matmul.py writes a one-MatMul model, variant
#           "weight" (A input [M,K], B a constant initializer [K,N]) and/or
#           "attn" (A and B inputs); `onnxcc -O3` compiles it to a .so;
#           `onnxcc-run --repeat N` times it (N from a probe run so that the
#           timed runs take about GEMM_SECONDS, 3 <= N <= 200).  The time
#           includes onnxcc-run's per-call overhead (negligible for the
#           large shapes).
#   oneDNN  bench/gemm/dnnl_gemm.c (dnnl_sgemm, row-major, OMP_NUM_THREADS=1)
#           for about GEMM_SECONDS.
# GFLOP/s = 2 M K N / time; "best" uses the fastest run, "med" the median.
# % peak is of bench/peak.c's single-core figure.  The cube shapes are
# timed in both onnxcc variants, model shapes in their own.
#
# Environment: GEMM_SECONDS (default 1), SHAPES (a list "MxKxN:kind ..."
# replacing the default list; kind weight, attn or both), OUT (default
# bench/results/gemm-latest.txt), WORK (default BUILD_DIR/bench/gemm),
# PY (default /usr/bin/python3, needs numpy and onnx).
# Exit status: 0 when every shape was measured; 1 when one failed; 2 on a
# setup error (no build, no libdnnl-dev, no python onnx).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$(cd "$HERE/.." && pwd)
SRC=$(cd "$BENCH/.." && pwd)
BUILD=${1:-$SRC/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "gemm/run.sh: no build directory '${1:-build}'" >&2; exit 2; }
MODELS=${2:-$BUILD/bench-models}
GEMM_SECONDS=${GEMM_SECONDS:-1}
OUT=${OUT:-$BENCH/results/gemm-latest.txt}
WORK=${WORK:-$BUILD/bench/gemm}
PY=${PY:-/usr/bin/python3}
CC=${CC:-cc}
ONNXCC=$BUILD/onnxcc
RUN=$BUILD/onnxcc-run

for t in "$ONNXCC" "$RUN"; do
	[ -x "$t" ] || { echo "gemm/run.sh: missing $t (make build first)" >&2; exit 2; }
done
"$PY" -c 'import onnx, numpy' 2>/dev/null ||
	{ echo "gemm/run.sh: $PY lacks onnx/numpy (apt-get install python3-onnx)" >&2; exit 2; }
mkdir -p "$WORK" "$(dirname "$OUT")"
"$CC" -O2 -o "$WORK/peak" "$BENCH/peak.c" ||
	{ echo "gemm/run.sh: cannot build bench/peak.c" >&2; exit 2; }
"$CC" -O2 -o "$WORK/dnnl_gemm" "$HERE/dnnl_gemm.c" -ldnnl ||
	{ echo "gemm/run.sh: cannot build dnnl_gemm.c (apt-get install libdnnl-dev)" >&2; exit 2; }

# json KEY FILE: a number from the last JSON line of FILE.
json() {
	grep '^{' "$2" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p"
}

# ---- the shape list: "M K N kind models" lines ------------------------------
LIST=$WORK/shapes.txt
: >"$LIST"
if [ -n "${SHAPES:-}" ]; then
	for s in $SHAPES; do
		kind=${s#*:}
		[ "$kind" = "$s" ] && kind=both
		echo "$s" | sed -n 's/^\([0-9]*\)x\([0-9]*\)x\([0-9]*\).*/\1 \2 \3/p' |
			awk -v k="$kind" 'NF == 3 { print $0, k, "-" }' >>"$LIST"
	done
else
	for n in 256 512 1024 2048; do
		echo "$n $n $n both cube" >>"$LIST"
	done
	for md in "$MODELS"/*/; do
		[ -f "$md/model.onnx" ] || continue
		m=$(basename "$md")
		"$PY" "$BENCH/models/graph_stats.py" "$md/model.onnx" --gemm 2>"$WORK/$m.stats.err" >"$WORK/$m.stats" ||
			echo "gemm/run.sh: $m: $(head -c 300 "$WORK/$m.stats.err")" >&2
		# gemm M K N BATCH WEIGHT NODES GFLOP, sorted by GFLOP already
		awk -v m="$m" '$1 == "gemm" && $2 >= 16 && $6 == 1 && w < 4 { print $2, $3, $4, "weight", m; w++ }
		               $1 == "gemm" && $2 >= 16 && $6 == 0 && a < 2 { print $2, $3, $4, "attn", m; a++ }' \
			"$WORK/$m.stats" >>"$LIST"
	done
fi
# One line per (M K N kind), the models that use it joined by commas.
awk '{ k = $1 " " $2 " " $3 " " $4; if (!(k in u)) { o[++n] = k; u[k] = $5 } else u[k] = u[k] "," $5 }
     END { for (i = 1; i <= n; i++) print o[i], u[o[i]] }' "$LIST" >"$LIST.u"

# ---- header ------------------------------------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
"$WORK/peak" >"$WORK/peak.out" 2>&1
PEAK=$(sed -n 's/^peak_gflops \([0-9.]*\).*/\1/p' "$WORK/peak.out")
PEAK_ISA=$(sed -n 's/^peak_gflops [0-9.]* isa //p' "$WORK/peak.out")
[ -n "$PEAK" ] || { echo "gemm/run.sh: peak failed: $(cat "$WORK/peak.out")" >&2; PEAK=0; }

# ---- measure -----------------------------------------------------------------
# cc_time M K N VARIANT: prints "med_ms min_ms" of onnxcc or "FAIL: reason".
cc_time() {
	d=$WORK/$1x$2x$3_$4
	rm -rf "$d"
	"$PY" "$HERE/make_matmul.py" "$d" "$1" "$2" "$3" "$4" 2>"$d.err" ||
		{ echo "FAIL: make_matmul: $(head -n 1 "$d.err")"; return; }
	"$ONNXCC" "$d/model.onnx" -o "$d/model.so" -O3 --cpu native >/dev/null 2>"$d.err" ||
		{ echo "FAIL: $(head -n 1 "$d.err" | cut -c1-120)"; return; }
	set -- --input "A=$d/inputs/A.npy"
	[ -f "$d/inputs/B.npy" ] && set -- "$@" --input "B=$d/inputs/B.npy"
	"$RUN" "$d/model.so" "$@" --repeat 1 --quiet --output-dir "$d/out" >"$d/probe.out" 2>"$d.err" ||
		{ echo "FAIL: onnxcc-run: $(head -n 1 "$d.err" | cut -c1-120)"; return; }
	n=$(awk -v t="$(json median_ms "$d/probe.out")" -v b="$GEMM_SECONDS" 'BEGIN {
		n = (t > 0) ? int(b * 1000 / t) : 200; if (n < 3) n = 3; if (n > 200) n = 200; print n }')
	"$RUN" "$d/model.so" "$@" --repeat "$n" --quiet --output-dir "$d/out" >"$d/time.out" 2>"$d.err" ||
		{ echo "FAIL: onnxcc-run: $(head -n 1 "$d.err" | cut -c1-120)"; return; }
	echo "$(json median_ms "$d/time.out") $(json min_ms "$d/time.out")"
}

ROWS=$WORK/rows.txt
: >"$ROWS"
fails=0
while read -r M K N kind models; do
	echo "== gemm ${M}x${K}x${N} $kind ($models)" >&2
	case $kind in
	both) variants="weight attn" ;;
	*) variants=$kind ;;
	esac
	for v in $variants; do
		r=$(cc_time "$M" "$K" "$N" "$v")
		case $r in FAIL*) fails=$((fails + 1)) ;; esac
		echo "$M $K $N $v $models cc $r" >>"$ROWS"
	done
	OMP_NUM_THREADS=1 "$WORK/dnnl_gemm" "$M" "$K" "$N" "$GEMM_SECONDS" >"$WORK/dnnl.out" 2>&1
	if [ $? -eq 0 ]; then
		echo "$M $K $N - $models dnnl $(json median_ms "$WORK/dnnl.out") $(json min_ms "$WORK/dnnl.out")" >>"$ROWS"
	else
		echo "$M $K $N - $models dnnl FAIL: $(head -n 1 "$WORK/dnnl.out")" >>"$ROWS"
		fails=$((fails + 1))
	fi
done <"$LIST.u"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# ---- report ------------------------------------------------------------------
{
	echo "GEMM, one thread, f32: onnxcc MatMul vs oneDNN dnnl_sgemm $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores;" \
		"load average before/after: ${LOAD0:-?} / ${LOAD1:-?}"
	echo "peak (bench/peak.c, $PEAK_ISA FMA loop, one core): $PEAK GFLOP/s"
	echo "onnxcc: $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt") build, -O3, tree HEAD" \
		"$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?'); oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo '?')," \
		"OMP_NUM_THREADS=1; about ${GEMM_SECONDS} s of timed runs per cell"
	echo "GFLOP/s = 2MNK/time: med from the median run, best from the fastest; %pk = best / peak;"
	echo "weight = B a constant initializer, attn = A and B inputs; onnxcc times include onnxcc-run's call overhead"
	echo "cc/dnn = onnxcc best GFLOP/s (weight variant where timed) / oneDNN best GFLOP/s: < 1 means onnxcc is slower"
	echo
	awk -v peak="$PEAK" '
	function rate(ms) { return (ms + 0 > 0) ? 2 * M * K * N / ms * 1e-6 : 0 }
	function cell(s,   a) {
		if (s ~ /^FAIL/) return sprintf("%-19s", "fail")
		split(s, a, " ")
		return sprintf("%7.1f %7.1f %3.0f%%", rate(a[1]), rate(a[2]), peak > 0 ? 100 * rate(a[2]) / peak : 0)
	}
	BEGIN {
		printf "%-16s %-22s %-19s %-19s %-19s %6s\n", "MxKxN", "used by", "onnxcc weight", "onnxcc attn", "oneDNN", "cc/dnn"
		printf "%-16s %-22s %-19s %-19s %-19s %6s\n", "", "", "  med    best  %pk", "  med    best  %pk", "  med    best  %pk", "(best)"
	}
	{
		key = $1 "x" $2 "x" $3
		if (!(key in seen)) { seen[key] = 1; order[++n] = key; used[key] = $5 }
		val = ""
		for (i = 7; i <= NF; i++) val = val (i > 7 ? " " : "") $i
		if ($6 == "dnnl") dn[key] = val
		else if ($4 == "weight") w[key] = val
		else at[key] = val
	}
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]
			split(k, d, "x"); M = d[1]; K = d[2]; N = d[3]
			cw = (k in w) ? cell(w[k]) : sprintf("%-19s", "-")
			ca = (k in at) ? cell(at[k]) : sprintf("%-19s", "-")
			cd = (k in dn) ? cell(dn[k]) : sprintf("%-19s", "-")
			# ratio of best rates: the onnxcc variant measured (weight first) over oneDNN
			r = "-"
			v = (k in w) ? w[k] : ((k in at) ? at[k] : "")
			if (v != "" && v !~ /^FAIL/ && (k in dn) && dn[k] !~ /^FAIL/) {
				split(v, a, " "); split(dn[k], b, " ")
				if (a[2] + 0 > 0) r = sprintf("%.2f", b[2] / a[2])
			}
			u = used[k]; if (length(u) > 22) u = substr(u, 1, 21) "+"
			printf "%-16s %-22s %s %s %s %6s\n", k, u, cw, ca, cd, r
		}
		for (k in w) if (w[k] ~ /^FAIL/) printf "%s weight: %s\n", k, w[k]
		for (k in at) if (at[k] ~ /^FAIL/) printf "%s attn: %s\n", k, at[k]
		for (k in dn) if (dn[k] ~ /^FAIL/) printf "%s oneDNN: %s\n", k, dn[k]
	}' "$ROWS"
} | tee "$OUT"
[ $fails -eq 0 ]

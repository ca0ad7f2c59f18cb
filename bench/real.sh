#!/bin/sh
# bench/real.sh — real-size models: onnxcc and ONNX Runtime, 1 and 2 threads.
#
#   sh bench/real.sh [BUILD_DIR]
#
# BUILD_DIR (default build) holds a release build (onnxcc, onnxcc-run,
# onnxcc-npycmp).  The models are bench/models/export_real.py's, generated
# into MODELS_DIR (default BUILD_DIR/bench-models) by bench/models/gen.sh
# when missing or outdated.  Needs node with onnxruntime-node in bench/,
# /usr/bin/python3 with onnx (graph_stats.py), /usr/bin/time (peak RSS):
# scripts/setup-bench.sh installs them.
#
# For each model:
#   1. GFLOP   bench/models/graph_stats.py: MatMul/Gemm/Conv/Einsum FLOPs of
#              the graph with shapes inferred (2 FLOP per multiply-add)
#   2. compile onnxcc model.onnx -o model.so -O3 --cpu native, and (unless
#              PORTABLE=no) the portable default build port.so: -O3 without
#              --cpu, whose hot kernels pick SSE/AVX2/AVX-512 at run time
#              (wall/CPU seconds; each .so is reused while the onnxcc binary
#              and model are unchanged)
#   3. check   for each T in THREADS: onnxcc-run --threads T and ORT
#              (intra-op threads T) run once on inputs/*.npy; both outputs
#              are compared with PyTorch's (outputs/*.npy) by onnxcc-npycmp:
#              max|got - ref| <= 1e-4 max|ref| or the row is WRONG.  When
#              onnxcc-run rejects --threads T, the onnxcc cells of that row
#              read "n/a (no threads)".
#   4. time    ROUNDS rounds, each `onnxcc-run --threads T --repeat REPEAT`
#              (native, then portable) then `node ort_run.js --threads T
#              --repeat REPEAT`, so they alternate and a burst of load from other jobs hits both; each
#              process has one untimed warm-up run.  ROUNDS x REPEAT timed
#              runs each (default 4 x 5 = 20).  med = median of all timed
#              runs' round medians, min = fastest run.  Peak RSS: largest
#              "Maximum resident set size" of /usr/bin/time -v over the
#              rounds (whole process; ORT's includes Node.js).
# Columns: GFLOP/s = GFLOP / onnxcc median (native); %peak = that / (T x the
# single-core FMA peak that bench/peak.c measures at the start); ort%pk the
# same for ORT's median; tgt%pk = the %peak onnxcc's median would need to
# reach the issue's target against this run's ORT median (0.7 x ORT at
# T = 1, 1.0 x ORT at T = 2 and up): above 100 %, the target asks for more
# FLOP/s than an FMA loop gets from the core at that moment.  GFLOP counts
# only the products, so these %peak figures are lower bounds of the work.
#
# The portable columns: port_med (median of the portable build), port/nat
# (its median / the native median: the cost of running anywhere; the goal
# is <= 1.05), pmin/nmin (the same for the fastest runs, steadier on a
# loaded machine) and port_comp (its compile seconds, wall/CPU).
#
# The unfused columns (UNFUSED=yes, the default; timed at T = 1 only):
# unf.so is model.so compiled with --no-fuse (every optional pass left
# out: the graph as exported, after folding), checked against PyTorch like
# the others and timed in the same alternation.  unf_med is its median,
# unf/fus = unf_med / cc_med: what fusion buys (> 1: the fused build is
# faster), umin/nmin the same for the fastest runs.
# The profile (PROFILE=yes, the default): prof.so is model.so compiled with
# --profile-nodes; after the timing, `onnxcc-run --profile --threads 1`
# over ROUNDS x REPEAT runs gives each model's time per op type (median
# ms, share, GFLOP/s of the products), printed after the table: where the
# time goes, for comparing %peak with the op types that fall short of it.
# Environment: PORTABLE (yes/no, default yes), UNFUSED (yes/no, default
# yes), PROFILE (yes/no, default yes), MODELS (names, default all seven), MODELS_DIR, REPEAT
# (default 5), ROUNDS (default 4), THREADS (default "1 2"), OUT (default
# bench/results/real-latest.txt), WORK (default BUILD_DIR/bench/real).
# Exit status: 0 when every model compiled, ran and matched PyTorch; 1
# otherwise; 2 on a setup error.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${1:-$SRC/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "real.sh: no build directory '${1:-build}'" >&2; exit 2; }
MODELS=${MODELS:-swin_t pvt_v2_b1 vit_b16 txl_d512 sret_t ode_rk2_d384 maxvit_t}
MODELS_DIR=${MODELS_DIR:-$BUILD/bench-models}
REPEAT=${REPEAT:-5}
ROUNDS=${ROUNDS:-4}
THREADS=${THREADS:-1 2}
PORTABLE=${PORTABLE:-yes}
UNFUSED=${UNFUSED:-yes}
PROFILE=${PROFILE:-yes}
OUT=${OUT:-$HERE/results/real-latest.txt}
WORK=${WORK:-$BUILD/bench/real}
PY=${PY:-/usr/bin/python3}
CC=${CC:-cc}
NODE=${NODE:-node}
ONNXCC=$BUILD/onnxcc
RUN=$BUILD/onnxcc-run
CMP=$BUILD/onnxcc-npycmp
TIME=/usr/bin/time

for t in "$ONNXCC" "$RUN" "$CMP"; do
	[ -x "$t" ] || { echo "real.sh: missing $t (make build first)" >&2; exit 2; }
done
command -v "$NODE" >/dev/null || { echo "real.sh: node not found" >&2; exit 2; }
[ -d "$HERE/node_modules/onnxruntime-node" ] ||
	{ echo "real.sh: onnxruntime-node missing: sh scripts/setup-bench.sh" >&2; exit 2; }
[ -x "$TIME" ] || TIME=
mkdir -p "$WORK" "$MODELS_DIR" "$(dirname "$OUT")"
# Absolute: ORT runs from bench/.
WORK=$(cd "$WORK" && pwd)
MODELS_DIR=$(cd "$MODELS_DIR" && pwd)

# shellcheck disable=SC2086 # model names have no spaces
sh "$HERE/models/gen.sh" "$MODELS_DIR" $MODELS
GEN=$?
[ $GEN -eq 2 ] && exit 2

rss() {
	sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$1" 2>/dev/null | head -n 1
}
json() {
	grep '^{' "$2" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p"
}
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
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minimum() {
	sort -g | head -n 1
}
# cmpout DIR_GOT MANIFEST_DIR REPORT: onnxcc-npycmp of every output; prints
# the largest max_abs (or "-") and returns npycmp's status.
cmpout() {
	pairs=
	for o in $(sed -n 's/^output //p' "$2/manifest.txt"); do
		pairs="$pairs $o $2/outputs/$o.npy $1/$o.npy"
	done
	# shellcheck disable=SC2086 # paths without spaces (names from the manifest)
	"$CMP" $pairs >"$3" 2>&1
	st=$?
	sed -n 's/.*max_abs=\([^ ]*\).*/\1/p' "$3" | sort -g | tail -n 1 | grep . || echo -
	return $st
}

# runcheck pt|uf ARGS...: one run of the portable (port.so) or unfused
# (unf.so) build at T threads into $R/pt or $R/uf, checked against
# PyTorch; returns 2 after writing a RUN-FAIL row when it did not run, 1
# when its outputs are WRONG.
runcheck() {
	rc_tag=$1
	shift
	if [ "$rc_tag" = pt ]; then rc_so=$W/port.so rc_label=portable; else rc_so=$W/unf.so rc_label=unfused; fi
	if ! "$RUN" "$rc_so" "$@" --threads "$T" --output-dir "$R/$rc_tag" --quiet >"$R/$rc_tag.out" 2>"$R/$rc_tag.err"; then
		echo "$name $T RUN-FAIL onnxcc-run ($rc_label): $(head -n 1 "$R/$rc_tag.err" | cut -c1-200)" >>"$TABLE"
		return 2
	fi
	cmpout "$R/$rc_tag" "$MD" "$R/$rc_tag.cmp" >/dev/null || return 1
}

# ---- header --------------------------------------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
"$CC" -O2 -o "$WORK/peak" "$HERE/peak.c" || { echo "real.sh: cannot build bench/peak.c" >&2; exit 2; }
"$WORK/peak" >"$WORK/peak.out" 2>&1
PEAK=$(sed -n 's/^peak_gflops \([0-9.]*\).*/\1/p' "$WORK/peak.out")
PEAK_ISA=$(sed -n 's/^peak_gflops [0-9.]* isa //p' "$WORK/peak.out")
[ -n "$PEAK" ] || { echo "real.sh: peak failed: $(cat "$WORK/peak.out")" >&2; PEAK=0; }
CCKEY=$(sha256sum "$ONNXCC" | cut -c1-16)

TABLE=$WORK/table.txt
: >"$TABLE"
fails=0
[ $GEN -eq 0 ] || fails=1
for name in $MODELS; do
	MD=$MODELS_DIR/$name
	W=$WORK/$name
	mkdir -p "$W"
	echo "== $name" >&2
	if [ ! -f "$MD/model.onnx" ]; then
		echo "$name - NO-MODEL export failed (see $MODELS_DIR/export.log)" >>"$TABLE"
		fails=$((fails + 1))
		continue
	fi
	# A partial count (a node whose shapes were not inferred) is no count: "-".
	if "$PY" "$HERE/models/graph_stats.py" "$MD/model.onnx" >"$W/stats.out" 2>"$W/stats.err"; then
		GF=$(sed -n 's/^gflop //p' "$W/stats.out")
	else
		GF=
		echo "   graph_stats: $(head -c 200 "$W/stats.err")" >&2
	fi
	[ -n "$GF" ] || GF=-

	# compile (cached by onnxcc binary + model stamp): model.so with --cpu
	# native, port.so the portable default (PORTABLE=yes), unf.so native
	# with --no-fuse (UNFUSED=yes)
	KEY="$CCKEY $(cat "$MD/.stamp" 2>/dev/null) $(cksum <"$MD/model.onnx")"
	CTP=-
	CTU=-
	cfail=
	for V in model port unf prof; do
		[ $V = port ] && [ "$PORTABLE" != yes ] && continue
		[ $V = unf ] && [ "$UNFUSED" != yes ] && continue
		[ $V = prof ] && [ "$PROFILE" != yes ] && continue
		CPUFLAG="--cpu native"
		[ $V = port ] && CPUFLAG=
		[ $V = unf ] && CPUFLAG="--cpu native --no-fuse"
		[ $V = prof ] && CPUFLAG="--cpu native --profile-nodes"
		if [ -f "$W/$V.so" ] && [ "$(cat "$W/$V.key" 2>/dev/null)" = "$KEY" ]; then
			C=$(cat "$W/$V.compile.s")
		else
			rm -f "$W/$V.so" "$W/$V.key"
			t0=$(date +%s.%N)
			# shellcheck disable=SC2086 # CPUFLAG is two words or none
			if ! timed "$W/$V.compile.time" "$ONNXCC" "$MD/model.onnx" -o "$W/$V.so" -O3 $CPUFLAG --stats \
				>"$W/$V.compile.out" 2>"$W/$V.compile.err"; then
				msg=$(grep -v '^stats:' "$W/$V.compile.err" | head -n 1 | sed "s|$MD/||g" | cut -c1-200)
				cfail="$V: $msg"
				break
			fi
			# wall/cpu seconds (cpu = user + system of the compiler process)
			CPU=$(sed -n 's/^[[:space:]]*\(User\|System\) time (seconds): *//p' "$W/$V.compile.time" 2>/dev/null |
				awk '{ t += $1 } END { printf "%.0f", t }')
			C=$(awk -v a="$t0" -v b="$(date +%s.%N)" -v c="${CPU:--}" 'BEGIN { printf "%.0f/%s", b - a, c }')
			echo "$C" >"$W/$V.compile.s"
			echo "$KEY" >"$W/$V.key"
		fi
		case $V in
		model) CT=$C ;;
		port) CTP=$C ;;
		unf) CTU=$C ;;
		*) ;;
		esac
	done
	if [ -n "$cfail" ]; then
		echo "$name - COMPILE-FAIL $cfail" >>"$TABLE"
		echo "   compile failed: $cfail" >&2
		fails=$((fails + 1))
		continue
	fi
	echo "   compiled in $CT s (wall/CPU), portable $CTP, unfused $CTU" >&2

	set --
	for i in $(sed -n 's/^input //p' "$MD/manifest.txt"); do
		set -- "$@" --input "$i=$MD/inputs/$i.npy"
	done
	for T in $THREADS; do
		R=$W/t$T
		rm -rf "$R"
		mkdir -p "$R"
		status=ok
		# check: onnxcc
		cc=yes
		if ! "$RUN" "$W/model.so" "$@" --threads "$T" --output-dir "$R/cc" --quiet >"$R/cc.out" 2>"$R/cc.err"; then
			if grep -q -- '--threads' "$R/cc.err"; then
				cc=nothreads
			else
				msg=$(head -n 1 "$R/cc.err" | cut -c1-200)
				echo "$name $T RUN-FAIL onnxcc-run: $msg" >>"$TABLE"
				fails=$((fails + 1))
				continue
			fi
		fi
		CCABS=-
		if [ $cc = yes ]; then
			CCABS=$(cmpout "$R/cc" "$MD" "$R/cc.cmp") || status=WRONG
			sed 's/^/   onnxcc vs PyTorch: /' "$R/cc.cmp" | grep -v maxrel >&2
		fi
		# check: the portable build, the unfused build (T = 1 only)
		unf=no
		[ "$UNFUSED" = yes ] && [ "$T" = 1 ] && [ $cc = yes ] && unf=yes
		vfail=
		for v in pt uf; do
			[ $v = pt ] && [ "$PORTABLE" != yes ] && continue
			[ $v = uf ] && [ $unf != yes ] && continue
			runcheck $v "$@"
			case $? in
			1) status=WRONG ;;
			2) vfail=yes && break ;;
			esac
		done
		if [ -n "$vfail" ]; then
			fails=$((fails + 1))
			continue
		fi
		# check: ORT
		if ! (cd "$HERE" && "$NODE" ort_run.js "$MD/model.onnx" "$@" --threads "$T" --repeat 1 \
			--output-dir "$R/ort" --quiet) >"$R/ort.out" 2>"$R/ort.err"; then
			msg=$(head -n 1 "$R/ort.err" | cut -c1-200)
			echo "$name $T RUN-FAIL ORT: $msg" >>"$TABLE"
			fails=$((fails + 1))
			continue
		fi
		ORTABS=$(cmpout "$R/ort" "$MD" "$R/ort.cmp") || ORTABS="$ORTABS!"
		[ $status = ok ] || fails=$((fails + 1))
		# time, alternating
		r=1
		while [ "$r" -le "$ROUNDS" ]; do
			if [ $cc = yes ]; then
				timed "$R/cc$r.time" "$RUN" "$W/model.so" "$@" --threads "$T" --repeat "$REPEAT" --quiet \
					--output-dir "$R/cc$r" >"$R/cc$r.out" 2>"$R/cc$r.err" ||
					echo "   onnxcc-run round $r failed: $(head -n 1 "$R/cc$r.err")" >&2
				if [ "$PORTABLE" = yes ]; then
					"$RUN" "$W/port.so" "$@" --threads "$T" --repeat "$REPEAT" --quiet \
						--output-dir "$R/pt$r" >"$R/pt$r.out" 2>"$R/pt$r.err" ||
						echo "   onnxcc-run (portable) round $r failed: $(head -n 1 "$R/pt$r.err")" >&2
				fi
				if [ $unf = yes ]; then
					"$RUN" "$W/unf.so" "$@" --threads "$T" --repeat "$REPEAT" --quiet \
						--output-dir "$R/uf$r" >"$R/uf$r.out" 2>"$R/uf$r.err" ||
						echo "   onnxcc-run (unfused) round $r failed: $(head -n 1 "$R/uf$r.err")" >&2
				fi
			fi
			(cd "$HERE" && timed "$R/ort$r.time" "$NODE" ort_run.js "$MD/model.onnx" "$@" \
				--threads "$T" --repeat "$REPEAT" --quiet) >"$R/ort$r.out" 2>"$R/ort$r.err" ||
				echo "   ORT round $r failed: $(head -n 1 "$R/ort$r.err")" >&2
			r=$((r + 1))
		done
		if [ $cc = yes ]; then
			CC_MED=$(for f in "$R"/cc[0-9]*.out; do json median_ms "$f"; done | median)
			CC_MIN=$(for f in "$R"/cc[0-9]*.out; do json min_ms "$f"; done | minimum)
			CC_RSS=$(for f in "$R"/cc[0-9]*.time; do rss "$f"; done | sort -g | tail -n 1)
			PT_MED=- PT_MIN=- UF_MED=- UF_MIN=-
			if [ $unf = yes ]; then
				UF_MED=$(for f in "$R"/uf[0-9]*.out; do json median_ms "$f"; done | median)
				UF_MIN=$(for f in "$R"/uf[0-9]*.out; do json min_ms "$f"; done | minimum)
			fi
			if [ "$PORTABLE" = yes ]; then
				PT_MED=$(for f in "$R"/pt[0-9]*.out; do json median_ms "$f"; done | median)
				PT_MIN=$(for f in "$R"/pt[0-9]*.out; do json min_ms "$f"; done | minimum)
			fi
		else
			CC_MED=n/a CC_MIN=n/a CC_RSS=n/a PT_MED=n/a PT_MIN=n/a UF_MED=n/a UF_MIN=n/a
		fi
		ORT_MED=$(for f in "$R"/ort[0-9]*.out; do json median_ms "$f"; done | median)
		ORT_MIN=$(for f in "$R"/ort[0-9]*.out; do json min_ms "$f"; done | minimum)
		ORT_RSS=$(for f in "$R"/ort[0-9]*.time; do rss "$f"; done | sort -g | tail -n 1)
		echo "$name $T $status $GF $CT ${ORT_MED:--} ${ORT_MIN:--} ${CC_MED:--} ${CC_MIN:--}" \
			"${CC_RSS:--} ${ORT_RSS:--} $CCABS $ORTABS ${PT_MED:--} $CTP ${PT_MIN:--} ${UF_MED:--} ${UF_MIN:--}" >>"$TABLE"
		echo "   T=$T: onnxcc median ${CC_MED:--} ms (portable ${PT_MED:--}), ORT median ${ORT_MED:--} ms" >&2
	done
	# where the time goes: per op type at T = 1 (PROFILE=yes)
	rm -f "$W/prof.txt"
	if [ "$PROFILE" = yes ]; then
		if "$RUN" "$W/prof.so" "$@" --threads 1 --repeat $((ROUNDS * REPEAT)) --profile --quiet \
			--output-dir "$W/prof" >"$W/prof.out" 2>"$W/prof.err"; then
			sed -n '/^per-op-type summary:/,$p' "$W/prof.out" | sed 1d >"$W/prof.txt"
		else
			echo "   onnxcc-run --profile failed: $(head -n 1 "$W/prof.err")" >&2
		fi
	fi
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# ---- report ----------------------------------------------------------------------
ORTV=$(cd "$HERE" && "$NODE" -e 'process.stdout.write(require("onnxruntime-node/package.json").version)' 2>/dev/null)
{
	echo "Real-size models: onnxcc vs ONNX Runtime $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) cores," \
		"$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "load average before/after: ${LOAD0:-?} / ${LOAD1:-?} (the machine is shared: prefer the minima)"
	echo "peak (bench/peak.c, $PEAK_ISA FMA loop): $PEAK GFLOP/s per core; %peak of T threads = GFLOP/s / (T x $PEAK)"
	echo "onnxcc: $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt") build of" \
		"$(date -u -r "$ONNXCC" '+%Y-%m-%d %H:%M UTC'), tree HEAD $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?'), -O3 --cpu native" \
		"(port_*: -O3, the portable default)"
	echo "ONNX Runtime: onnxruntime-node ${ORTV:-?}, CPU EP, all graph optimisations, intra-op threads T, Node.js $("$NODE" --version)"
	echo "timing: $ROUNDS rounds x $REPEAT runs (1 untimed warm-up per process), onnxcc and ORT alternating;"
	echo "        med = median of the round medians, min = fastest run, ms per inference"
	echo "GFLOP = MatMul/Gemm/Conv/Einsum FLOPs (2 per multiply-add); cc/ORT = onnxcc ms / ORT ms (< 1: onnxcc faster)"
	echo "%peak, ort%pk = GFLOP / median / (T x peak) for onnxcc, ORT; tgt%pk = the %peak onnxcc needs for cc/ORT = 0.7 (T = 1) or 1.0 (T >= 2) against this ORT median"
	echo "port_med = median of the portable build (no --cpu: hot kernels chosen at run time by cpuid), port/nat = port_med / cc_med, pmin/nmin = fastest portable / fastest native run"
	echo "unf_med = median of the unfused build (--cpu native --no-fuse, T = 1 only), unf/fus = unf_med / cc_med (> 1: fusion made it faster), umin/nmin = fastest unfused / fastest fused run"
	echo "RSS = peak resident set, MiB, whole process (ORT's includes Node.js); compile = onnxcc -O3 seconds, wall/CPU"
	echo "cc_err, ort_err = max |output - PyTorch| (WRONG when > 1e-4 max|ref| for onnxcc; '!' marks ORT beyond it)"
	echo
	awk '
	function ms(x) { return (x == "-" || x == "n/a") ? x : sprintf("%.1f", x) }
	function ratio(a, b) { return (a == "-" || b == "-" || a == "n/a" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
	function gf(x) { return x == "-" ? x : sprintf("%.1f", x) }
	function mib(k) { return (k == "-" || k == "n/a") ? k : sprintf("%.0f", k / 1024) }
	BEGIN {
		printf "%-13s %2s %6s %8s %8s %8s %8s %8s %6s %6s %7s %6s %6s %6s %5s %5s %9s %9s %8s %8s %9s %9s %8s %7s %9s  %s\n", "model", "T", "GFLOP",
		       "compile", "ORT_med", "ORT_min", "cc_med", "cc_min", "cc/ORT", "r_min", "GFLOP/s", "%peak", "ort%pk", "tgt%pk",
		       "ccRSS", "ortRSS", "cc_err", "ort_err", "port_med", "port/nat", "pmin/nmin", "port_comp",
		       "unf_med", "unf/fus", "umin/nmin", "status"
	}
	NF >= 13 && ($3 == "ok" || $3 == "WRONG") {
		gfs = ($8 == "n/a" || $8 == "-" || $4 == "-") ? "-" : sprintf("%.1f", $4 / ($8 / 1000))
		pk = (gfs == "-" || peak + 0 == 0) ? "-" : sprintf("%.0f%%", 100 * gfs / ($2 * peak))
		okpk = ($6 != "-" && $6 + 0 > 0 && $4 != "-" && peak + 0 > 0)
		opk = okpk ? sprintf("%.0f%%", 100 * $4 / ($6 / 1000) / ($2 * peak)) : "-"
		tpk = okpk ? sprintf("%.0f%%", 100 * $4 / (($2 == 1 ? 0.7 : 1.0) * $6 / 1000) / ($2 * peak)) : "-"
		if ($8 == "n/a") {
			printf "%-13s %2s %6s %8s %8s %8s %17s %6s %6s %7s %6s %6s %6s %5s %5s %9s %9s  %s\n", $1, $2, gf($4), $5, ms($6),
			       ms($7), "n/a (no threads)", "-", "-", "-", "-", opk, tpk, "n/a", mib($11), "-", $13, $3
			next
		}
		printf "%-13s %2s %6s %8s %8s %8s %8s %8s %6s %6s %7s %6s %6s %6s %5s %5s %9s %9s %8s %8s %9s %9s %8s %7s %9s  %s\n", $1, $2, gf($4), $5, ms($6),
		       ms($7), ms($8), ms($9), ratio($8, $6), ratio($9, $7), gfs, pk, opk, tpk, mib($10), mib($11), $12, $13,
		       ms($14), ratio($14, $8), ratio($16, $9), $15, ms($17), ratio($17, $8), ratio($18, $9), $3
		next
	}
	{
		msg = ""
		for (i = 3; i <= NF; i++) msg = msg " " $i
		printf "%-13s %2s %s\n", $1, $2, msg
	}' peak="$PEAK" "$TABLE"
	if [ "$PROFILE" = yes ]; then
		echo
		echo "Where onnxcc's time goes at T = 1: onnxcc --profile-nodes build, onnxcc-run --profile over $((ROUNDS * REPEAT)) runs;"
		echo "per op type: the sum of its nodes' median ms, its share of all nodes' medians, GFLOP/s of its products"
		echo "(fused ops: onnxcc::MatMulEpi = GEMM + epilogue/prologue, onnxcc::Attention = Q.K^T, softmax, P.V); peak $PEAK GFLOP/s"
		for name in $MODELS; do
			[ -s "$WORK/$name/prof.txt" ] || continue
			echo "-- $name"
			sed 's/^/   /' "$WORK/$name/prof.txt"
		done
	fi
} | tee "$OUT"
[ $fails -eq 0 ]

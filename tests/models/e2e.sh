#!/bin/sh
# tests/models/e2e.sh — end-to-end test of one zoo model (POSIX sh; needs
# neither PyTorch nor NumPy: the references are stored .npy files).
#
#   sh tests/models/e2e.sh BUILD_DIR MODEL [WORK_DIR]
#
# BUILD_DIR holds onnxcc, onnxcc-run and onnxcc-npycmp; MODEL is a directory
# name under tests/models/ (or a path containing '/') with model.onnx,
# manifest.txt, inputs/ and outputs/;
# WORK_DIR (default BUILD_DIR/e2e/MODEL) receives the artifacts.  Steps:
#   1. compile   onnxcc model.onnx -o model.so --stats   (wall and CPU time)
#   2. run       onnxcc-run model.so --input NAME=FILE ... --output-dir out
#   3. compare   every output with PyTorch's: max abs err <= 1e-4 max|ref|
#   4. header    onnxcc -o model.o --header model.h; a generated C program
#                calls <prefix>_run() through the header, checks outputs
#                and the NULL/alignment status codes
#   5. stream    (Transformer-XL) 4 segments, new_mems fed back as mems,
#                with onnxcc-run, then in one process through the header
#                (one buffer for mems and new_mems when the header allows)
#   6. size      (shared-weight models) data sections of the .so at most the
#                unique initializer bytes + 10% + 64 KiB: shared weights
#                are stored once
# Prints one line per step and last a RESULT line:
#   RESULT name opset nout maxrel compile_wall_s compile_cpu_s so_bytes workspace
#          status first_problem
# which is also written to WORK_DIR/result.txt.  Exit 0 when all steps pass.

set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR MODEL [WORK_DIR]" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
case $2 in
*/*) MD=$(cd "$2" && pwd) || exit 2 ;;   # a model directory elsewhere
*) MD=$HERE/$2 ;;
esac
NAME=$(basename "$MD")
W=${3:-$BUILD/e2e/$NAME}
ONNXCC=$BUILD/onnxcc
RUN=$BUILD/onnxcc-run
CMP=$BUILD/onnxcc-npycmp
CC=${CC:-cc}

[ -f "$MD/model.onnx" ] || { echo "$NAME: no $MD/model.onnx" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W"

# ---- manifest ------------------------------------------------------------
OPSET=$(sed -n 's/^opset //p' "$MD/manifest.txt")
INPUTS=$(sed -n 's/^input //p' "$MD/manifest.txt")
OUTPUTS=$(sed -n 's/^output //p' "$MD/manifest.txt")
UNIQUE=$(sed -n 's/^init_unique_bytes //p' "$MD/manifest.txt")
SHARED=$(sed -n 's/^shared_weights //p' "$MD/manifest.txt")
STREAM=$(sed -n 's/^stream //p' "$MD/manifest.txt")
NOUT=$(echo "$OUTPUTS" | wc -w)

MAXREL=-
CTIME=-
CCPU=-
SOSIZE=-
WS=-
STATUS=PASS
FIRST=

# fail STEP MESSAGE: records the first problem, prints it.
fail() {
	echo "FAIL [$1] $2"
	if [ "$STATUS" = PASS ]; then
		STATUS="FAIL:$1"
		FIRST=$(printf '%s\n' "$2" | head -n 1 | sed "s|$MD/||g" | cut -c1-300)
	fi
}

# relmax A B: the larger of two numbers ("-" counts as absent).
relmax() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-") { print b; exit } if (b == "-") { print a; exit }
		print (a + 0 >= b + 0) ? a : b }'
}

now() { date +%s.%N; }

# CPU seconds (user + sys) of this shell's finished children, from a file
# holding the output of the `times` builtin (run in this shell, not in a
# subshell), whose second line is e.g. "0m4.970000s 0m0.310000s".
child_cpu() {
	sed -n 2p "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) {
		split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] } printf "%.2f", t }'
}

finish() {
	line="RESULT $NAME $OPSET $NOUT $MAXREL $CTIME $CCPU $SOSIZE $WS $STATUS ${FIRST:-}"
	echo "$line" | tee "$W/result.txt"
	[ "$STATUS" = PASS ] && exit 0
	exit 1
}

for t in "$ONNXCC" "$RUN" "$CMP"; do
	[ -x "$t" ] || { fail setup "missing tool $t (build it first)"; finish; }
done

# ---- 1. compile to a shared library ---------------------------------------
t0=$(now)
times >"$W/times0"
"$ONNXCC" "$MD/model.onnx" -o "$W/model.so" --stats >"$W/compile.out" 2>"$W/compile.err"
rc=$?
t1=$(now)
times >"$W/times1"
CTIME=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
CCPU=$(awk -v a="$(child_cpu "$W/times0")" -v b="$(child_cpu "$W/times1")" 'BEGIN { printf "%.2f", b - a }')
if [ $rc -ne 0 ] || [ ! -f "$W/model.so" ]; then
	fail compile "$(grep -v '^stats:' "$W/compile.err" | head -n 3)"
	# Every distinct (Op): message, node names dropped, for the op owners.
	echo "distinct diagnostics:"
	sed -n "s|^.*node '[^']*' \(([A-Za-z0-9_]*)\)|\1|p" "$W/compile.err" | sort | uniq -c | sort -rn
	finish
fi
SOSIZE=$(wc -c <"$W/model.so" | tr -d ' ')
WS=$(sed -n 's/.*workspace \([0-9][0-9]*\) bytes.*/\1/p' "$W/compile.err" | head -n 1)
[ -n "$WS" ] || WS=-
echo "compile: ${CTIME}s wall, ${CCPU}s cpu, $SOSIZE bytes, workspace $WS bytes"

# run_and_compare TAG SO INDIR REFDIR OUTDIR [NAME=FILE overrides...]
# Runs the .so on INDIR/<input>.npy (unless overridden), compares with
# REFDIR/<output>.npy; sets LASTREL.
run_and_compare() {
	tag=$1 so=$2 indir=$3 refdir=$4 outdir=$5
	shift 5
	set --
	for i in $INPUTS; do
		f=$indir/$i.npy
		for o in ${OVERRIDE:-}; do
			case $o in "$i="*) f=${o#*=} ;; esac
		done
		set -- "$@" --input "$i=$f"
	done
	mkdir -p "$outdir"
	echo "$RUN $so $* --output-dir $outdir" >"$outdir.cmd"
	if ! "$RUN" "$so" "$@" --output-dir "$outdir" >"$outdir.run.out" 2>"$outdir.run.err"; then
		fail "$tag" "onnxcc-run: $(head -n 3 "$outdir.run.err")"
		return 1
	fi
	set --
	for o in $OUTPUTS; do
		set -- "$@" "$o" "$refdir/$o.npy" "$outdir/$o.npy"
	done
	"$CMP" "$@" >"$outdir.cmp" 2>&1
	rc=$?
	sed "s/^/  $tag: /" "$outdir.cmp"
	LASTREL=$(sed -n 's/^maxrel //p' "$outdir.cmp")
	[ -n "$LASTREL" ] || LASTREL=-
	if [ $rc -ne 0 ]; then
		fail "$tag" "$(grep -v '^maxrel' "$outdir.cmp" | grep -v ' ok$' | head -n 2)"
		return 1
	fi
	return 0
}

# ---- 2+3. run and compare ----------------------------------------------------
OVERRIDE=
if run_and_compare compare "$W/model.so" "$MD/inputs" "$MD/outputs" "$W/out"; then
	echo "compare: ok, max rel error $LASTREL"
fi
MAXREL=$(relmax "$MAXREL" "$LASTREL")

# ---- 4. object + header, called from a generated C program ------------------
PREFIX=zoo_$(echo "$NAME" | tr -c 'A-Za-z0-9_\n' '_')
UPREFIX=$(echo "$PREFIX" | tr 'a-z' 'A-Z')
if "$ONNXCC" "$MD/model.onnx" -o "$W/model.o" --header "$W/model.h" --name "$PREFIX" \
	>"$W/obj.out" 2>"$W/obj.err"; then
	# The generated code may need memcpy/memset/memmove and nothing else:
	# no libm, no other libc.
	undef=$(nm -u "$W/model.o" | awk '{print $NF}' | grep -v -x -E 'memcpy|memset|memmove' | tr '\n' ' ')
	if [ -n "$undef" ]; then
		fail header "model.o needs symbols beyond memcpy/memset: $undef"
	else
		echo "symbols: ok (undefined: $(nm -u "$W/model.o" | awk '{print $NF}' | tr '\n' ' '))"
	fi
	args=
	k=0
	for i in $INPUTS; do args="$args in[$k],"; k=$((k + 1)); done
	k=0
	for o in $OUTPUTS; do args="$args out[$k],"; k=$((k + 1)); done
	cat >"$W/hdr_test.c" <<EOF
/* Generated by tests/models/e2e.sh for $NAME: calls ${PREFIX}_run()
 * through the onnxcc-generated header. */
#include "model.h"
#include "hdr_main.h"

static int call(const void *const *in, void *const *out, void *ws)
{
	return ${PREFIX}_run($args ws);
}

int main(int argc, char **argv)
{
	return e2e_header_main(argc, argv, &${PREFIX}_model, ${UPREFIX}_WORKSPACE_SIZE, call);
}
EOF
	if $CC -std=c11 -Wall -Werror -O1 -I"$W" -I"$HERE" -I"$SRC/runtime" -o "$W/hdr_test" \
		"$W/hdr_test.c" "$HERE/hdr_main.c" "$HERE/e2e_cmp.c" "$SRC/runtime/npy.c" \
		"$W/model.o" -lm -lpthread >"$W/hdr_cc.err" 2>&1; then
		"$W/hdr_test" "$MD" >"$W/hdr_test.out" 2>&1
		rc=$?
		sed 's/^/  header: /' "$W/hdr_test.out"
		if [ $rc -ne 0 ]; then
			fail header "$(grep -v ' ok$' "$W/hdr_test.out" | head -n 2)"
		else
			MAXREL=$(relmax "$MAXREL" "$(sed -n 's/^maxrel //p' "$W/hdr_test.out")")
			hws=$(sed -n 's/^workspace //p' "$W/hdr_test.out")
			[ "$WS" = - ] && WS=$hws
			echo "header: ok (workspace $hws bytes)"
		fi
	else
		fail header "linking the header test: $(head -n 3 "$W/hdr_cc.err")"
	fi
else
	fail header "onnxcc -o model.o --header: $(head -n 3 "$W/obj.err")"
fi

# ---- 5. streaming: new_mems of segment k is mems of segment k+1 -------------
if [ -n "$STREAM" ]; then
	set -- $STREAM
	nseg=$1 state_in=$2 state_out=$3
	k=0
	OVERRIDE=
	sok=1
	while [ $k -lt "$nseg" ]; do
		sd=$MD/stream/seg$k
		if ! run_and_compare "stream$k" "$W/model.so" "$sd/inputs" "$sd/outputs" "$W/stream$k"; then
			sok=0
			break
		fi
		MAXREL=$(relmax "$MAXREL" "$LASTREL")
		OVERRIDE="$state_in=$W/stream$k/$state_out.npy"
		k=$((k + 1))
	done
	OVERRIDE=
	[ $sok = 1 ] && echo "stream: ok, $nseg segments with $state_out fed back as $state_in"
	# The same in one process through the header API; in place (one buffer
	# for both) when the generated header says the output may share the
	# input's buffer.
	if [ -x "$W/hdr_test" ]; then
		inplace=0
		grep -q "output '$state_out' <- input '$state_in'" "$W/model.h" && inplace=1
		"$W/hdr_test" --stream "$MD" "$nseg" "$state_in" "$state_out" $inplace \
			>"$W/hdr_stream.out" 2>&1
		rc=$?
		sed 's/^/  header-stream: /' "$W/hdr_stream.out"
		if [ $rc -ne 0 ]; then
			fail header-stream "$(grep -v ' ok$' "$W/hdr_stream.out" | head -n 2)"
		else
			MAXREL=$(relmax "$MAXREL" "$(sed -n 's/^maxrel //p' "$W/hdr_stream.out")")
			echo "header-stream: ok ($(sed -n 's/^stream \([a-z ]*\):.*/\1/p' "$W/hdr_stream.out"))"
		fi
	fi
fi

# ---- 6. shared weights stored once --------------------------------------------
if [ "$SHARED" = 1 ]; then
	# Sum of the data sections (read-only and writable, small and large model).
	data=$(size -A "$W/model.so" | awk '$1 ~ /^\.(l?rodata|l?data|data\.rel\.ro)/ { s += $2 }
		END { print s + 0 }')
	limit=$(awk -v u="$UNIQUE" 'BEGIN { printf "%d", u * 1.10 + 65536 }')
	echo "size: data sections $data bytes, unique initializers $UNIQUE bytes, limit $limit"
	if [ "$data" -gt "$limit" ]; then
		fail size "data sections $data bytes > limit $limit (unique initializers $UNIQUE): shared weights duplicated?"
	elif [ "$data" -lt $((UNIQUE / 2)) ]; then
		fail size "data sections $data bytes < half the unique initializers ($UNIQUE): weights not where expected"
	fi
fi

finish

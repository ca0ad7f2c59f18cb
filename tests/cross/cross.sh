#!/bin/sh
# tests/cross/cross.sh — zoo models compiled for other Linux targets, run
# under qemu-user, compared with PyTorch's outputs (POSIX sh).
#
#   sh tests/cross/cross.sh BUILD_DIR ARCH setup
#   sh tests/cross/cross.sh BUILD_DIR ARCH MODEL...
#   sh tests/cross/cross.sh BUILD_DIR x86_64-nehalem cpu-checks MODEL
#
# ARCH is aarch64 or armv7 (needs the target's cross gcc, Debian's
# gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf, and qemu-user), or
# x86_64-nehalem: the host's own triple, run under `qemu-x86_64 -cpu
# Nehalem`, a CPU without AVX, which checks that the default build is
# portable.  Without the tools it prints a SKIP line and exits 77 (ctest's
# skip code).  MODEL is a directory name under tests/models/.
#   setup   builds onnxcc-run for the target (cmake -DONNXCC_RUNTIME_ONLY=ON
#           -DCMAKE_BUILD_TYPE=Release with cmake/toolchain-<triple>.cmake;
#           for x86_64-nehalem the host compiler, Release: no sanitizers,
#           which do not run under qemu-user) into BUILD_DIR/cross/ARCH/rt.
#           ctest runs it once per ARCH as a fixture of the model tests.
#   MODEL   (onnxcc-run is built first if it is not there) per model:
#           1. onnxcc model.onnx --target TRIPLE -o model.so: the default
#              CPU, i.e. the portable baseline, at the default optimisation
#              level; linked by the cross gcc.  For x86_64-nehalem that is
#              the build tests/models/e2e.sh makes (onnxcc model.onnx -o
#              model.so): when BUILD_DIR/e2e/MODEL/model.so is newer than
#              onnxcc and the model, it is copied instead of compiled again
#              (ctest runs e2e_MODEL first);
#           2. qemu-<arch> [-cpu Nehalem] -L /usr/<triple> onnxcc-run
#              model.so --input ...;
#           3. every output compared with tests/models/MODEL/outputs by
#              onnxcc-npycmp (the rule of tests/models/e2e.sh:
#              max |got - ref| <= 1e-4 max |ref|).
#   cpu-checks (x86_64-nehalem only) the checks have teeth: on an AVX2 host a
#           --cpu native build of MODEL must die under -cpu Nehalem; and the
#           default build of MODEL under `-cpu Haswell` (when this qemu has
#           it) must take its AVX2+FMA versions: outputs that match PyTorch
#           but differ bit for bit from the Nehalem run (FMA rounds once).
# Work files: BUILD_DIR/cross/ARCH/{rt,MODEL}.  Prints a PASS or FAIL line
# per model with the CPU seconds of the compile and of the qemu run; exits 0
# when everything matches.
set -u
[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR ARCH setup|MODEL...|cpu-checks MODEL" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
ARCH=$2
shift 2
CPU=
case $ARCH in
aarch64) TRIPLE=aarch64-linux-gnu QEMU=qemu-aarch64 ;;
armv7) TRIPLE=arm-linux-gnueabihf QEMU=qemu-arm ;;
x86_64-nehalem) TRIPLE=x86_64-linux-gnu QEMU=qemu-x86_64 CPU="-cpu Nehalem" ;;
*) echo "$0: unknown ARCH '$ARCH' (aarch64, armv7, x86_64-nehalem)" >&2; exit 2 ;;
esac
SYSROOT=/usr/$TRIPLE
TOOLCHAIN=-DCMAKE_TOOLCHAIN_FILE=$SRC/cmake/toolchain-$TRIPLE.cmake
GCC=$TRIPLE-gcc
if [ "$ARCH" = x86_64-nehalem ]; then
	SYSROOT=/ TOOLCHAIN= GCC=cc
	[ "$(uname -m)" = x86_64 ] || { echo "SKIP cross $ARCH: the host is not x86_64"; exit 77; }
fi
W=$BUILD/cross/$ARCH
RUN=$W/rt/onnxcc-run

missing=
command -v "$GCC" >/dev/null 2>&1 || missing="$missing $GCC"
command -v "$QEMU" >/dev/null 2>&1 || missing="$missing $QEMU"
[ -d "$SYSROOT" ] || missing="$missing $SYSROOT"
if [ -n "$missing" ]; then
	echo "SKIP cross $ARCH: missing$missing (scripts/setup.sh installs them as root)"
	exit 77
fi
mkdir -p "$W"
fails=0

# CPU seconds (user + sys) of this shell's finished children, from a file
# holding the output of the `times` builtin (as in tests/models/e2e.sh).
child_cpu() {
	sed -n 2p "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) {
		split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] } printf "%.1f", t }'
}
# cpu_between FILE0 FILE1: CPU seconds of children between `times >FILE0`
# and `times >FILE1` (both run in this shell, not in a $(...) subshell,
# whose `times` would not see them).
cpu_between() {
	awk -v a="$(child_cpu "$1")" -v b="$(child_cpu "$2")" 'BEGIN { printf "%.1f", b - a }'
}

# build_rt: the runtime and onnxcc-run, built for the target.
build_rt() {
	rm -rf "$W/rt"
	times >"$W/rt.times"
	if ! cmake -S "$SRC" -B "$W/rt" -DONNXCC_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
		$TOOLCHAIN >"$W/rt.log" 2>&1 ||
		! cmake --build "$W/rt" >>"$W/rt.log" 2>&1; then
		echo "FAIL cross $ARCH: building onnxcc-run: $(tail -n 5 "$W/rt.log")"
		exit 1
	fi
	times >"$W/rt.times1"
	echo "onnxcc-run for $ARCH: $(file -b "$RUN" | cut -d, -f1-2) (built in $(cpu_between "$W/rt.times" "$W/rt.times1") CPU s)"
}

# input_args MD: sets "$@" to --input NAME=FILE for every input of the model.
# (A function's `set --` would only set its own parameters: callers use
# `eval "set -- $(input_args MD)"`.)
input_args() {
	for i in $(sed -n 's/^input //p' "$1/manifest.txt"); do
		printf ' --input %s' "'$i=$1/inputs/$i.npy'"
	done
}
# output_args MD OUTDIR: NAME REF GOT triples for onnxcc-npycmp.
output_args() {
	for o in $(sed -n 's/^output //p' "$1/manifest.txt"); do
		printf " '%s' '%s' '%s'" "$o" "$1/outputs/$o.npy" "$2/$o.npy"
	done
}

# run_model M [WORKDIR]: compile, run under qemu, compare; 0 when it
# matches.  WORKDIR defaults to BUILD_DIR/cross/ARCH/M.
run_model() {
	m=$1
	MD=$SRC/tests/models/$m
	MW=${2:-$W/$m}
	[ -f "$MD/model.onnx" ] || { echo "FAIL $ARCH $m: no $MD/model.onnx"; return 1; }
	rm -rf "$MW"
	mkdir -p "$MW/out"
	times >"$MW/t0"
	E2ESO=$BUILD/e2e/$m/model.so
	if [ "$ARCH" = x86_64-nehalem ] && [ -f "$E2ESO" ] && [ "$E2ESO" -nt "$BUILD/onnxcc" ] &&
		[ "$E2ESO" -nt "$MD/model.onnx" ]; then
		# The end-to-end test's .so is this very build (the default
		# CPU and level, for the host) by this onnxcc: no second compile.
		cp "$E2ESO" "$MW/model.so" || return 1
		ccpu="0 (tests/models/e2e.sh's build)"
	elif ! "$BUILD/onnxcc" "$MD/model.onnx" --target "$TRIPLE" -o "$MW/model.so" >"$MW/compile.log" 2>&1; then
		echo "FAIL $ARCH $m: compile: $(head -n 3 "$MW/compile.log")"
		return 1
	else
		times >"$MW/t1"
		ccpu=$(cpu_between "$MW/t0" "$MW/t1")
	fi
	times >"$MW/t1"
	eval "set -- $(input_args "$MD")"
	if ! "$QEMU" $CPU -L "$SYSROOT" "$RUN" "$MW/model.so" "$@" --output-dir "$MW/out" >"$MW/run.log" 2>&1; then
		echo "FAIL $ARCH $m: $QEMU $CPU onnxcc-run: $(head -n 3 "$MW/run.log")"
		return 1
	fi
	times >"$MW/t2"
	rcpu=$(cpu_between "$MW/t1" "$MW/t2")
	eval "set -- $(output_args "$MD" "$MW/out")"
	if "$BUILD/onnxcc-npycmp" "$@" >"$MW/cmp.log" 2>&1; then
		echo "PASS $ARCH $m: $(sed -n 's/^maxrel/max rel error/p' "$MW/cmp.log") (CPU s: compile $ccpu, $QEMU run $rcpu)"
		return 0
	fi
	echo "FAIL $ARCH $m: $(grep -v ' ok$' "$MW/cmp.log" | head -n 3)"
	return 1
}

# cpu_checks M: the x86_64-nehalem checks have teeth (see the top); in
# their own directory (ctest may run the model's own test at the same time).
cpu_checks() {
	m=$1
	run_model "$m" "$W/cpu-checks-$m" || return 1
	MD=$SRC/tests/models/$m
	MW=$W/cpu-checks-$m
	bad=0
	eval "set -- $(input_args "$MD")"
	if ! grep -qw avx2 /proc/cpuinfo; then
		echo "SKIP $ARCH $m: the host has no AVX2, a --cpu native build would run on Nehalem"
	elif ! "$BUILD/onnxcc" "$MD/model.onnx" --cpu native -o "$MW/native.so" >"$MW/native.log" 2>&1; then
		echo "FAIL $ARCH $m: --cpu native compile: $(head -n 3 "$MW/native.log")"
		bad=1
	elif "$QEMU" $CPU -L "$SYSROOT" "$RUN" "$MW/native.so" "$@" --output-dir "$MW/native" >"$MW/native.run" 2>&1; then
		echo "FAIL $ARCH: a --cpu native build of $m ran on Nehalem: the check cannot tell"
		bad=1
	else
		echo "ok: a --cpu native build of $m does not run on Nehalem ($(grep -o 'Illegal instruction' "$MW/native.run" | head -n 1))"
	fi
	# The AVX2 versions of the portable build: the same .so under a Haswell.
	if ! "$QEMU" -cpu help 2>/dev/null | grep -qw Haswell; then
		echo "SKIP $ARCH: $QEMU has no Haswell CPU model (the AVX2 path is not run)"
		return $bad
	fi
	mkdir -p "$MW/haswell"
	if ! "$QEMU" -cpu Haswell -L "$SYSROOT" "$RUN" "$MW/model.so" "$@" --output-dir "$MW/haswell" \
		>"$MW/haswell.run" 2>&1; then
		echo "FAIL $ARCH $m: default build under -cpu Haswell: $(grep -v 'TCG doesn' "$MW/haswell.run" | head -n 3)"
		return 1
	fi
	same=yes
	for o in $(sed -n 's/^output //p' "$MD/manifest.txt"); do
		cmp -s "$MW/out/$o.npy" "$MW/haswell/$o.npy" || same=no
	done
	eval "set -- $(output_args "$MD" "$MW/haswell")"
	if ! "$BUILD/onnxcc-npycmp" "$@" >"$MW/haswell.cmp" 2>&1; then
		echo "FAIL $ARCH $m under -cpu Haswell: $(grep -v ' ok$' "$MW/haswell.cmp" | head -n 3)"
		return 1
	elif [ $same = yes ]; then
		echo "FAIL $ARCH $m: the default build gives bitwise the Nehalem (SSE) result under -cpu Haswell: the AVX2 versions did not run"
		return 1
	fi
	echo "PASS $ARCH $m under -cpu Haswell (AVX2+FMA versions: not bitwise the SSE result): $(sed -n 's/^maxrel/max rel error/p' "$MW/haswell.cmp")"
	return $bad
}

case $1 in
setup)
	build_rt
	exit 0 ;;
cpu-checks)
	[ "$ARCH" = x86_64-nehalem ] && [ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR x86_64-nehalem cpu-checks MODEL" >&2; exit 2; }
	[ -x "$RUN" ] || build_rt
	cpu_checks "$2"
	exit $? ;;
esac
[ -x "$RUN" ] || build_rt
for m in "$@"; do
	run_model "$m" || fails=$((fails + 1))
done
[ $fails -eq 0 ]

#!/bin/sh
# tests/cross/cross.sh — zoo models compiled for other Linux targets, run
# under qemu-user, compared with PyTorch's outputs (POSIX sh).
#
#   sh tests/cross/cross.sh BUILD_DIR ARCH [MODEL...]
#
# ARCH is aarch64 or armv7 (needs the target's cross gcc, Debian's
# gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf, and qemu-user), or
# x86_64-nehalem: the host's own triple run under `qemu-x86_64 -cpu
# Nehalem`, a CPU without AVX, which checks that the default build is
# portable (and, on an AVX2 host, that a --cpu native build is not: it must
# die there with an illegal instruction); the last model's default build
# then also runs under `-cpu Haswell` (when this qemu has it), where its
# run-time CPU check must take the AVX2+FMA versions: the outputs match
# PyTorch and differ bit for bit from the Nehalem run (FMA rounds once).  Without the tools it prints a
# SKIP line and exits 77 (ctest's skip code).  Steps:
#   1. onnxcc-run for the target: cmake -DONNXCC_RUNTIME_ONLY=ON with
#      cmake/toolchain-<triple>.cmake, into BUILD_DIR/cross/<arch>/rt
#   2. per model: onnxcc model.onnx --target TRIPLE -o model.so (default CPU,
#      i.e. the portable baseline; linked by the cross gcc)
#   3. qemu-<arch> -L /usr/<triple> onnxcc-run model.so --input ... ; the
#      outputs compared with tests/models/<model>/outputs by onnxcc-npycmp
#      (the tolerance of tests/models/e2e.sh)
# Exit 0 when every model matches.
set -u
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR ARCH [MODEL...]" >&2; exit 2; }
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
[ $# -gt 0 ] || set -- encoder_opset14 txl_opset16_b1 swin_opset14
SYSROOT=/usr/$TRIPLE
TOOLCHAIN=-DCMAKE_TOOLCHAIN_FILE=$SRC/cmake/toolchain-$TRIPLE.cmake
GCC=$TRIPLE-gcc
if [ "$ARCH" = x86_64-nehalem ]; then
	SYSROOT=/ TOOLCHAIN= GCC=cc
	[ "$(uname -m)" = x86_64 ] || { echo "SKIP cross $ARCH: the host is not x86_64"; exit 77; }
fi
W=$BUILD/cross/$ARCH

missing=
command -v "$GCC" >/dev/null 2>&1 || missing="$missing $GCC"
command -v "$QEMU" >/dev/null 2>&1 || missing="$missing $QEMU"
[ -d "$SYSROOT" ] || missing="$missing $SYSROOT"
if [ -n "$missing" ]; then
	echo "SKIP cross $ARCH: missing$missing (scripts/setup.sh installs them as root)"
	exit 77
fi

rm -rf "$W"
mkdir -p "$W"
fails=0

# 1. the runtime and onnxcc-run, cross-built
if ! cmake -S "$SRC" -B "$W/rt" -DONNXCC_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
	$TOOLCHAIN >"$W/rt.log" 2>&1 ||
	! cmake --build "$W/rt" >>"$W/rt.log" 2>&1; then
	echo "FAIL cross $ARCH: building onnxcc-run: $(tail -n 5 "$W/rt.log")"
	exit 1
fi
RUN=$W/rt/onnxcc-run
echo "onnxcc-run for $ARCH: $(file -b "$RUN" | cut -d, -f1-2)"

for m in "$@"; do
	MD=$SRC/tests/models/$m
	MW=$W/$m
	mkdir -p "$MW/out"
	t0=$(date +%s)
	if ! "$BUILD/onnxcc" "$MD/model.onnx" --target "$TRIPLE" -o "$MW/model.so" >"$MW/compile.log" 2>&1; then
		echo "FAIL $ARCH $m: compile: $(head -n 3 "$MW/compile.log")"
		fails=$((fails + 1))
		continue
	fi
	t1=$(date +%s)
	set --
	for i in $(sed -n 's/^input //p' "$MD/manifest.txt"); do
		set -- "$@" --input "$i=$MD/inputs/$i.npy"
	done
	if ! "$QEMU" $CPU -L "$SYSROOT" "$RUN" "$MW/model.so" "$@" --output-dir "$MW/out" >"$MW/run.log" 2>&1; then
		echo "FAIL $ARCH $m: $QEMU onnxcc-run: $(head -n 3 "$MW/run.log")"
		fails=$((fails + 1))
		continue
	fi
	t2=$(date +%s)
	set --
	for o in $(sed -n 's/^output //p' "$MD/manifest.txt"); do
		set -- "$@" "$o" "$MD/outputs/$o.npy" "$MW/out/$o.npy"
	done
	if "$BUILD/onnxcc-npycmp" "$@" >"$MW/cmp.log" 2>&1; then
		echo "PASS $ARCH $m: $(sed -n 's/^maxrel/max rel error/p' "$MW/cmp.log") (compile $((t1 - t0))s, qemu run $((t2 - t1))s)"
	else
		echo "FAIL $ARCH $m: $(grep -v ' ok$' "$MW/cmp.log" | head -n 3)"
		fails=$((fails + 1))
	fi
done

# The check has teeth: on an AVX2 host a --cpu native build of the last
# model must not run on Nehalem.
if [ "$ARCH" = x86_64-nehalem ] && grep -qw avx2 /proc/cpuinfo; then
	set --
	for i in $(sed -n 's/^input //p' "$MD/manifest.txt"); do
		set -- "$@" --input "$i=$MD/inputs/$i.npy"
	done
	if ! "$BUILD/onnxcc" "$MD/model.onnx" --cpu native -o "$MW/native.so" >"$MW/native.log" 2>&1; then
		echo "FAIL $ARCH $m: --cpu native compile: $(head -n 3 "$MW/native.log")"
		fails=$((fails + 1))
	elif "$QEMU" $CPU -L "$SYSROOT" "$RUN" "$MW/native.so" "$@" --output-dir "$MW/native" >"$MW/native.run" 2>&1; then
		echo "FAIL $ARCH: a --cpu native build of $m ran on Nehalem: the check cannot tell"
		fails=$((fails + 1))
	else
		echo "ok: a --cpu native build of $m does not run on Nehalem ($(grep -o 'Illegal instruction' "$MW/native.run" | head -n 1))"
	fi
fi
# The AVX2 versions of the portable build: same .so under a Haswell.
if [ "$ARCH" = x86_64-nehalem ] && [ -f "$MW/model.so" ]; then
	if ! "$QEMU" -cpu help 2>/dev/null | grep -qw Haswell; then
		echo "SKIP $ARCH: $QEMU has no Haswell CPU model (the AVX2 path is not run)"
	else
		set --
		for i in $(sed -n 's/^input //p' "$MD/manifest.txt"); do
			set -- "$@" --input "$i=$MD/inputs/$i.npy"
		done
		mkdir -p "$MW/haswell"
		if ! "$QEMU" -cpu Haswell -L "$SYSROOT" "$RUN" "$MW/model.so" "$@" --output-dir "$MW/haswell" \
			>"$MW/haswell.run" 2>&1; then
			echo "FAIL $ARCH $m: default build under -cpu Haswell: $(grep -v 'TCG doesn' "$MW/haswell.run" | head -n 3)"
			fails=$((fails + 1))
		else
			set --
			same=yes
			for o in $(sed -n 's/^output //p' "$MD/manifest.txt"); do
				set -- "$@" "$o" "$MD/outputs/$o.npy" "$MW/haswell/$o.npy"
				cmp -s "$MW/out/$o.npy" "$MW/haswell/$o.npy" || same=no
			done
			if ! "$BUILD/onnxcc-npycmp" "$@" >"$MW/haswell.cmp" 2>&1; then
				echo "FAIL $ARCH $m under -cpu Haswell: $(grep -v ' ok$' "$MW/haswell.cmp" | head -n 3)"
				fails=$((fails + 1))
			elif [ $same = yes ]; then
				echo "FAIL $ARCH $m: the default build gives bitwise the Nehalem (SSE) result under -cpu Haswell: the AVX2 versions did not run"
				fails=$((fails + 1))
			else
				echo "PASS $ARCH $m under -cpu Haswell (AVX2+FMA versions: not bitwise the SSE result): $(sed -n 's/^maxrel/max rel error/p' "$MW/haswell.cmp")"
			fi
		fi
	fi
fi
[ $fails -eq 0 ]

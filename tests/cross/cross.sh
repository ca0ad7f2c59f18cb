#!/bin/sh
# tests/cross/cross.sh — zoo models compiled for other Linux targets, run
# under qemu-user, compared with PyTorch's outputs (POSIX sh).
#
#   sh tests/cross/cross.sh BUILD_DIR ARCH [MODEL...]
#
# ARCH is aarch64 or armv7.  Needs the target's cross gcc (Debian:
# gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf) and qemu-user; without
# them it prints a SKIP line and exits 77 (ctest's skip code).  Steps:
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
case $ARCH in
aarch64) TRIPLE=aarch64-linux-gnu QEMU=qemu-aarch64 ;;
armv7) TRIPLE=arm-linux-gnueabihf QEMU=qemu-arm ;;
*) echo "$0: unknown ARCH '$ARCH' (aarch64, armv7)" >&2; exit 2 ;;
esac
[ $# -gt 0 ] || set -- encoder_opset14 txl_opset16_b1 swin_opset14
SYSROOT=/usr/$TRIPLE
W=$BUILD/cross/$ARCH

missing=
command -v "$TRIPLE-gcc" >/dev/null 2>&1 || missing="$missing $TRIPLE-gcc"
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
	-DCMAKE_TOOLCHAIN_FILE="$SRC/cmake/toolchain-$TRIPLE.cmake" >"$W/rt.log" 2>&1 ||
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
	if ! "$QEMU" -L "$SYSROOT" "$RUN" "$MW/model.so" "$@" --output-dir "$MW/out" >"$MW/run.log" 2>&1; then
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
[ $fails -eq 0 ]

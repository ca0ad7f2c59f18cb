#!/bin/sh
# tests/cross/cortex_m.sh — the demo model as a bare-metal Cortex-M7 object,
# checked, then run on an emulated Cortex-M7 board:
#
#   sh tests/cross/cortex_m.sh BUILD_DIR [MODEL_DIR]
#
# MODEL_DIR (default examples/pvt) holds model.onnx with one float input and
# one float output, inputs/<input>.npy and expected/<output>.npy (PyTorch's).
#  1. onnxcc --target thumbv7em-none-eabihf --cpu cortex-m7 -o model.o
#     (header model.h), then checks
#     - ELF machine ARM (40), 32-bit, relocatable;
#     - the hard-float procedure-call ABI (build attribute Tag_ABI_VFP_args:
#       VFP registers) and Thumb-2 for v7E-M;
#     - undefined symbols: only memcpy/memset/memmove, or their ARM RTABI
#       names __aeabi_memcpy/memmove/memset/memclr[4|8] (provided by every
#       ARM EABI C library: newlib, picolibc, ...); no libm, no libgcc helpers;
#     - size, against the memory of a Cortex-M7 microcontroller at the top
#       of the range (STM32H743-class: 2 MiB flash, 512 KiB in its largest
#       contiguous SRAM): flash = text + data (code, weights, initial
#       values) <= 2 MiB, RAM = data + bss + the workspace the header
#       asks for <= 512 KiB.
#  2. links model.o with tests/cross/cortex_m/harness.c (vector table, reset
#     handler, FPU enable, our own memcpy/memset/memmove, the workspace as an
#     _Alignas static buffer) and blobs.S (the input and expected .npy files
#     as data) by clang-19 + ld.lld into an image for QEMU's MPS2 AN500 board
#     (Cortex-M7 with FPU; memory map in cortex_m/mps2_an500.ld), runs it with
#     qemu-system-arm -M mps2-an500 -semihosting, and takes its verdict: the
#     harness compares the output with PyTorch's (max |got - ref| <= 1e-4
#     max |ref|, the end-to-end suite's rule), prints through semihosting and
#     exits QEMU with 0 only on a match.
# Step 1 needs readelf (binutils) and an nm for ARM (arm-none-eabi-nm or
# llvm-nm-19); step 2 clang-19, ld.lld (lld-19) and qemu-system-arm
# (scripts/setup.sh installs them as root).  Without them it prints a SKIP
# line and exits 77 (after step 1 if only step 2's tools are missing).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [MODEL_DIR]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
MD=$(cd "${2:-$SRC/examples/pvt}" && pwd) || exit 2
W=$BUILD/cross/cortex-m7
FLASH_LIMIT=2097152   # 2 MiB
RAM_LIMIT=524288      # 512 KiB

first() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && { echo "$t"; return; }
	done
}
NM=$(first arm-none-eabi-nm llvm-nm-19 llvm-nm)
SIZE=$(first arm-none-eabi-size llvm-size-19 llvm-size)
if [ -z "$NM" ] || [ -z "$SIZE" ] || ! command -v readelf >/dev/null 2>&1; then
	echo "SKIP cortex-m7: no nm/size for ARM (arm-none-eabi-nm, llvm-nm-19, llvm-size-19) or no readelf"
	exit 77
fi
rm -rf "$W"
mkdir -p "$W"
fails=0
bad() { echo "FAIL cortex-m7: $*"; fails=$((fails + 1)); }

# ---- 1. the object --------------------------------------------------------
if ! "$BUILD/onnxcc" "$MD/model.onnx" --target thumbv7em-none-eabihf --cpu cortex-m7 \
	-o "$W/model.o" >"$W/compile.log" 2>&1; then
	echo "FAIL cortex-m7: compile: $(head -n 3 "$W/compile.log")"
	exit 1
fi
readelf -h "$W/model.o" >"$W/header.txt"
readelf -A "$W/model.o" >"$W/attrs.txt"
grep -q 'Machine: *ARM$' "$W/header.txt" || bad "ELF machine is not ARM: $(grep Machine "$W/header.txt")"
grep -q 'Class: *ELF32' "$W/header.txt" || bad "not ELF32"
grep -q 'Type: *REL ' "$W/header.txt" || bad "not a relocatable object"
grep -q 'Tag_ABI_VFP_args: VFP registers' "$W/attrs.txt" || bad "not the hard-float ABI (Tag_ABI_VFP_args)"
grep -q 'Tag_CPU_arch: v7E-M' "$W/attrs.txt" || bad "not built for v7E-M"
"$NM" -u "$W/model.o" | awk '{ print $NF }' | sort -u >"$W/undefined.txt"
extra=$(grep -Ev '^(memcpy|memset|memmove|__aeabi_(memcpy|memmove|memset|memclr)[48]?)$' "$W/undefined.txt" | tr '\n' ' ')
[ -z "$extra" ] || bad "undefined symbols beyond memcpy/memset/memmove: $extra"
echo "cortex-m7 object: $(grep -o 'Tag_ABI_VFP_args: .*' "$W/attrs.txt"), $(grep -o 'Tag_FP_arch: .*' "$W/attrs.txt")"
echo "undefined: $(tr '\n' ' ' <"$W/undefined.txt")"

# Size: berkeley format, "text data bss dec hex filename" (text includes
# the read-only data, i.e. the weights).
"$SIZE" "$W/model.o" >"$W/size.txt"
sed 's/^/size: /' "$W/size.txt"
# The generated header: PREFIX_WORKSPACE_SIZE, PREFIX_IN_<X>_COUNT, ...
H=$W/model.h
WS=$(sed -n 's/^#define MODEL_WORKSPACE_SIZE \([0-9]*\)u.*/\1/p' "$H")
IN=$(sed -n 's/^#define MODEL_IN_\([A-Z0-9_]*\)_COUNT \([0-9]*\)u.*/\2/p' "$H")
OUT=$(sed -n 's/^#define MODEL_OUT_\([A-Z0-9_]*\)_COUNT \([0-9]*\)u.*/\2/p' "$H")
if [ -z "$WS" ] || [ "$(echo "$IN" | wc -w)" -ne 1 ] || [ "$(echo "$OUT" | wc -w)" -ne 1 ]; then
	echo "FAIL cortex-m7: $H: expected MODEL_WORKSPACE_SIZE and one input and one output count"
	exit 1
fi
set -- $(awk 'NR == 2 { print $1, $2, $3 }' "$W/size.txt")
TEXT=$1 DATA=$2 BSS=$3
FLASH=$((TEXT + DATA))
RAM=$((DATA + BSS + WS))
if [ $FLASH -le $FLASH_LIMIT ] && [ $RAM -le $RAM_LIMIT ]; then
	echo "ok: size: flash (text + data) $FLASH <= $FLASH_LIMIT bytes, RAM (data + bss + workspace $WS) $RAM <= $RAM_LIMIT bytes"
else
	bad "size: flash (text + data) $FLASH (limit $FLASH_LIMIT), RAM (data + bss + workspace $WS) $RAM (limit $RAM_LIMIT) bytes: too big for a 2 MiB flash / 512 KiB SRAM Cortex-M7"
fi
if [ $fails -ne 0 ]; then
	exit 1
fi
echo "PASS cortex-m7 object checks"

# ---- 2. run it on an emulated Cortex-M7 ------------------------------------
CLANG=$(first clang-19)
LLD=$(first ld.lld-19 ld.lld)
QEMU=$(first qemu-system-arm)
if [ -z "$CLANG" ] || [ -z "$LLD" ] || [ -z "$QEMU" ]; then
	echo "SKIP cortex-m7 run: missing$([ -z "$CLANG" ] && echo ' clang-19')$([ -z "$LLD" ] && echo ' ld.lld')$([ -z "$QEMU" ] && echo ' qemu-system-arm') (scripts/setup.sh installs them as root)"
	exit 77
fi
if ! "$QEMU" -M help 2>/dev/null | grep -q '^mps2-an500 '; then
	echo "SKIP cortex-m7 run: this qemu-system-arm has no mps2-an500 board"
	exit 77
fi
INPUT=$(ls "$MD"/inputs/*.npy)
EXPECTED=$(ls "$MD"/expected/*.npy)
CM=$HERE/cortex_m
ARCHFLAGS="--target=thumbv7em-none-eabihf -mcpu=cortex-m7 -mfloat-abi=hard -mthumb"
CFLAGS="$ARCHFLAGS -O2 -std=c11 -ffreestanding -fno-builtin -Wall -Wextra -Werror"
if ! "$CLANG" $CFLAGS -I"$W" -DMODEL_HEADER='"model.h"' -DMODEL_RUN=model_run -DIN_COUNT="$IN" \
	-DOUT_COUNT="$OUT" -DWS_SIZE="$WS" -c "$CM/harness.c" -o "$W/harness.o" >"$W/link.log" 2>&1 ||
	! "$CLANG" $ARCHFLAGS -DINPUT_NPY="\"$INPUT\"" -DEXPECTED_NPY="\"$EXPECTED\"" \
		-c "$CM/blobs.S" -o "$W/blobs.o" >>"$W/link.log" 2>&1 ||
	! "$LLD" -T "$CM/mps2_an500.ld" --gc-sections -o "$W/image.elf" \
		"$W/harness.o" "$W/blobs.o" "$W/model.o" >>"$W/link.log" 2>&1; then
	echo "FAIL cortex-m7 run: building the image: $(head -n 5 "$W/link.log")"
	exit 1
fi
"$SIZE" "$W/image.elf" | sed 's/^/image size: /'
# The board's UART is not used; semihosting carries the harness's text (on
# stdout or stderr, by QEMU version) and its exit code.
timeout 300 "$QEMU" -M mps2-an500 -display none -monitor none -serial none \
	-semihosting-config enable=on,target=native -kernel "$W/image.elf" >"$W/run.log" 2>&1
rc=$?
cat "$W/run.log"
if [ $rc -eq 0 ] && grep -q '^PASS cortex-m7 run' "$W/run.log"; then
	echo "PASS cortex-m7: the object runs on qemu-system-arm -M mps2-an500 and matches PyTorch"
	exit 0
fi
[ $rc -eq 124 ] && echo "FAIL cortex-m7 run: no exit within 300 s"
echo "FAIL cortex-m7 run: qemu-system-arm exit status $rc"
exit 1

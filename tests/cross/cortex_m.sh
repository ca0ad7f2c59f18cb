#!/bin/sh
# tests/cross/cortex_m.sh — a bare-metal Cortex-M7 object of the demo model:
#
#   sh tests/cross/cortex_m.sh BUILD_DIR
#
# onnxcc --target thumbv7em-none-eabihf --cpu cortex-m7 -o m.o, then checks
#   - ELF machine ARM (40), 32-bit, relocatable;
#   - the hard-float procedure-call ABI (build attribute Tag_ABI_VFP_args:
#     VFP registers) and Thumb-2 for v7E-M;
#   - undefined symbols: only memcpy/memset/memmove, or their ARM RTABI
#     names __aeabi_memcpy/memmove/memset/memclr[4|8] (provided by every
#     ARM EABI C library: newlib, picolibc, ...); no libm, no libgcc helpers;
#   - prints the section sizes.
# Needs readelf (binutils) and an nm for ARM (arm-none-eabi-nm or llvm-nm-19);
# without one it prints a SKIP line and exits 77.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
MODEL=${2:-$SRC/examples/pvt/model.onnx}
W=$BUILD/cross/cortex-m7
NM=
for t in arm-none-eabi-nm llvm-nm-19 llvm-nm; do
	command -v $t >/dev/null 2>&1 && { NM=$t; break; }
done
SIZE=
for t in arm-none-eabi-size llvm-size-19 llvm-size; do
	command -v $t >/dev/null 2>&1 && { SIZE=$t; break; }
done
if [ -z "$NM" ] || ! command -v readelf >/dev/null 2>&1; then
	echo "SKIP cortex-m7: no nm for ARM (arm-none-eabi-nm, llvm-nm-19) or no readelf"
	exit 77
fi
rm -rf "$W"
mkdir -p "$W"
fails=0
bad() { echo "FAIL cortex-m7: $*"; fails=$((fails + 1)); }

if ! "$BUILD/onnxcc" "$MODEL" --target thumbv7em-none-eabihf --cpu cortex-m7 -o "$W/m.o" >"$W/compile.log" 2>&1; then
	echo "FAIL cortex-m7: compile: $(head -n 3 "$W/compile.log")"
	exit 1
fi
readelf -h "$W/m.o" >"$W/header.txt"
readelf -A "$W/m.o" >"$W/attrs.txt"
grep -q 'Machine: *ARM$' "$W/header.txt" || bad "ELF machine is not ARM: $(grep Machine "$W/header.txt")"
grep -q 'Class: *ELF32' "$W/header.txt" || bad "not ELF32"
grep -q 'Type: *REL ' "$W/header.txt" || bad "not a relocatable object"
grep -q 'Tag_ABI_VFP_args: VFP registers' "$W/attrs.txt" || bad "not the hard-float ABI (Tag_ABI_VFP_args)"
grep -q 'Tag_CPU_arch: v7E-M' "$W/attrs.txt" || bad "not built for v7E-M"
"$NM" -u "$W/m.o" | awk '{ print $NF }' | sort -u >"$W/undefined.txt"
extra=$(grep -Ev '^(memcpy|memset|memmove|__aeabi_(memcpy|memmove|memset|memclr)[48]?)$' "$W/undefined.txt" | tr '\n' ' ')
[ -z "$extra" ] || bad "undefined symbols beyond memcpy/memset/memmove: $extra"
echo "cortex-m7 object: $(grep -o 'Tag_ABI_VFP_args: .*' "$W/attrs.txt"), $(grep -o 'Tag_FP_arch: .*' "$W/attrs.txt")"
echo "undefined: $(tr '\n' ' ' <"$W/undefined.txt")"
[ -n "$SIZE" ] && "$SIZE" "$W/m.o" | sed 's/^/size: /'
[ $fails -eq 0 ] && echo "PASS cortex-m7"
[ $fails -eq 0 ]

#!/bin/sh
# tests/install/install.sh — onnxcc installed like a toolchain, then used
# from outside the tree (POSIX sh):
#
#   sh tests/install/install.sh BUILD_DIR find_package|pkg-config
#
#   1. cmake --install BUILD_DIR --prefix WORK/prefix; the layout checked
#      (bin/onnxcc, bin/onnxcc-run, lib/libonnxcc_runtime.a,
#      include/onnxcc/{onnxcc_model.h,npy.h}, lib/pkgconfig/onnxcc.pc,
#      lib/cmake/onnxcc/onnxccConfig{,Version}.cmake);
#   2. examples/embed built against the prefix — with find_package(onnxcc) +
#      onnxcc_add_model(), or with pkg-config and make — linked with
#      no_malloc.c (allocation aborts), run on the demo input and compared
#      with PyTorch's logits;
#   3. examples/dlopen built the same way, loading an onnxcc .so of the demo
#      model through its onnxcc_model descriptor, compared likewise.
# WORK is BUILD_DIR/install-MODE.  Exit 0 when everything passes.
set -u
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR find_package|pkg-config" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
MODE=$2
W=$BUILD/install-$MODE
P=$W/prefix
DEMO=$SRC/examples/pvt
rm -rf "$W"
mkdir -p "$W"
fail() { echo "FAIL install ($MODE): $*"; exit 1; }

cmake --install "$BUILD" --prefix "$P" >"$W/install.log" 2>&1 || fail "cmake --install: $(tail -n 3 "$W/install.log")"
for f in bin/onnxcc bin/onnxcc-run lib/libonnxcc_runtime.a include/onnxcc/onnxcc_model.h \
	include/onnxcc/npy.h lib/pkgconfig/onnxcc.pc lib/cmake/onnxcc/onnxccConfig.cmake \
	lib/cmake/onnxcc/onnxccConfigVersion.cmake; do
	[ -f "$P/$f" ] || fail "$f not installed"
done
[ -x "$P/bin/onnxcc" ] && [ -x "$P/bin/onnxcc-run" ] || fail "bin/ not executable"
echo "installed: $(cd "$P" && find . -type f | sort | tr '\n' ' ')"

case $MODE in
find_package)
	for ex in embed dlopen; do
		extra=
		[ $ex = embed ] && extra=-DEMBED_NO_MALLOC=ON
		if ! cmake -S "$SRC/examples/$ex" -B "$W/$ex" -DCMAKE_PREFIX_PATH="$P" $extra >"$W/$ex.log" 2>&1 ||
			! cmake --build "$W/$ex" >>"$W/$ex.log" 2>&1; then
			fail "examples/$ex with find_package: $(grep -iE 'error|fail' "$W/$ex.log" | head -n 5)"
		fi
	done
	;;
pkg-config)
	export PKG_CONFIG_PATH="$P/lib/pkgconfig"
	[ "$(pkg-config --variable=onnxcc onnxcc)" -ef "$P/bin/onnxcc" ] || fail "pkg-config --variable=onnxcc does not name the installed onnxcc"
	for ex in embed dlopen; do
		mkdir -p "$W/$ex"
		if ! make -C "$W/$ex" -f "$SRC/examples/$ex/Makefile" NO_MALLOC=1 >"$W/$ex.log" 2>&1; then
			fail "examples/$ex with pkg-config: $(grep -iE 'error|fail' "$W/$ex.log" | head -n 5)"
		fi
	done
	;;
*) echo "$0: unknown mode '$MODE'" >&2; exit 2 ;;
esac

# the embedded model, no allocation anywhere on its path
"$W/embed/embed" "$DEMO/inputs/image.npy" "$DEMO/expected/logits.npy" >"$W/embed.out" 2>&1 ||
	fail "embed: $(cat "$W/embed.out" | head -n 3)"
grep -q '^match' "$W/embed.out" || fail "embed printed no match line"
echo "embed: $(tail -n 1 "$W/embed.out")"
# ... and the guard was really linked in: embed defines its own malloc/free
nm "$W/embed/embed" | grep -q ' T malloc$' && nm "$W/embed/embed" | grep -q ' T free$' ||
	fail "embed is not linked with no_malloc.c"

"$W/dlopen/dlopen_model" "$W/dlopen/pvt.so" "$DEMO/inputs/image.npy" --expect "$DEMO/expected/logits.npy" \
	>"$W/dlopen.out" 2>&1 || fail "dlopen_model: $(head -n 3 "$W/dlopen.out")"
grep -q 'logits: match' "$W/dlopen.out" || fail "dlopen_model printed no match line"
echo "dlopen: $(tail -n 1 "$W/dlopen.out")"
echo "PASS install ($MODE)"

#!/bin/sh
# bench/models/gen.sh — makes sure the real-size benchmark models exist.
#
#   sh bench/models/gen.sh MODELS_DIR [NAME...]
#
# The models (bench/models/export_real.py) are not committed: they are
# generated into MODELS_DIR (make bench: build/bench-models) and cached.
# A model is regenerated when its directory lacks model.onnx or its stamp
# file (MODELS_DIR/NAME/.stamp) differs from the sha256 of export_real.py
# and tests/models/export.py (the family code it imports).  Generation needs
# /usr/bin/python3 with torch, torchvision and onnx; when they are missing,
# scripts/setup-bench.sh --torch installs them (apt, as root).
# Exit status: 0 when every requested model is present and current; 1 when
# one failed to export (the others are still generated); 2 setup error.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: gen.sh MODELS_DIR [NAME...]" >&2; exit 2; }
OUTD=$1
shift
PY=${PY:-/usr/bin/python3}
[ $# -gt 0 ] || set -- swin_t pvt_v2_b1 vit_b16 txl_d512 sret_t ode_rk2_d384 maxvit_t
STAMP=$(cat "$HERE/export_real.py" "$SRC/tests/models/export.py" | sha256sum | cut -c1-16)
mkdir -p "$OUTD" || exit 2

todo=
for m in "$@"; do
	if [ -f "$OUTD/$m/model.onnx" ] && [ "$(cat "$OUTD/$m/.stamp" 2>/dev/null)" = "$STAMP" ]; then
		continue
	fi
	todo="$todo $m"
done
[ -z "$todo" ] && exit 0

if ! "$PY" -c 'import torch, torchvision, onnx' 2>/dev/null; then
	sh "$SRC/scripts/setup-bench.sh" --torch || exit 2
fi
echo "gen.sh: exporting$todo into $OUTD (script hash $STAMP)" >&2
# shellcheck disable=SC2086 # model names have no spaces
PYTHONDONTWRITEBYTECODE=1 "$PY" "$HERE/export_real.py" "$OUTD" $todo 2>"$OUTD/export.log"
rc=$?
grep -v -i 'warn' "$OUTD/export.log" | grep -i -B2 -A8 'failed' >&2
for m in $todo; do
	[ -f "$OUTD/$m/model.onnx" ] && echo "$STAMP" >"$OUTD/$m/.stamp"
done
[ $rc -eq 0 ] || exit 1
exit 0

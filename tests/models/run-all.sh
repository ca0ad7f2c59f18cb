#!/bin/sh
# tests/models/run-all.sh — runs the end-to-end suite and prints a table.
#
#   sh tests/models/run-all.sh BUILD_DIR [MODEL...]
#
# Runs tests/models/e2e.sh for each model (default: every directory with a
# manifest.txt), sequentially, logs to BUILD_DIR/e2e/<model>.log, then
# prints: model, opset, outputs, max rel error, compile time, .so size,
# workspace bytes, status, and for each failure its first problem.
# Exit status 0 when every model passes.
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [MODEL...]" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd) || exit 2
shift
if [ $# -eq 0 ]; then
	for m in "$HERE"/*/manifest.txt; do
		set -- "$@" "$(basename "$(dirname "$m")")"
	done
fi
mkdir -p "$BUILD/e2e"
results=$BUILD/e2e/summary.txt
: >"$results"
fails=0
for name in "$@"; do
	sh "$HERE/e2e.sh" "$BUILD" "$name" >"$BUILD/e2e/$name.log" 2>&1 || fails=$((fails + 1))
	line=$(grep '^RESULT ' "$BUILD/e2e/$name.log" | tail -n 1)
	[ -n "$line" ] || line="RESULT $name - - - - - - FAIL:script see $BUILD/e2e/$name.log"
	echo "$line" >>"$results"
done
awk '
BEGIN {
	printf "%-24s %5s %4s %10s %9s %10s %10s  %s\n", "model", "opset", "outs",
	       "max_rel", "compile_s", "so_bytes", "workspace", "status"
}
{
	printf "%-24s %5s %4s %10s %9s %10s %10s  %s\n", $2, $3, $4, $5, $6, $7, $8, $9
	if ($9 != "PASS") {
		msg = ""
		for (i = 10; i <= NF; i++) msg = msg " " $i
		problems[++np] = $2 ":" msg
	}
	n++
	if ($9 == "PASS") pass++
}
END {
	printf "%d/%d models pass\n", pass, n
	for (i = 1; i <= np; i++) print "  " problems[i]
}' "$results"
# Distinct compile diagnostics over all models (node names dropped).
cat "$BUILD"/e2e/*/compile.err 2>/dev/null |
	sed -n "s|^.*node '[^']*' \(([A-Za-z0-9_]*)\)|\1|p" | sort | uniq -c | sort -rn >"$BUILD/e2e/diagnostics.txt"
if [ -s "$BUILD/e2e/diagnostics.txt" ]; then
	echo "distinct compile diagnostics (count, op, message):"
	head -n 30 "$BUILD/e2e/diagnostics.txt"
fi
[ $fails -eq 0 ]

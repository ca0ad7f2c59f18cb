#!/bin/sh
# tests/models/run-all.sh — runs the end-to-end suite and prints a table.
#
#   sh tests/models/run-all.sh BUILD_DIR [MODEL...]
#
# (MODEL as for e2e.sh: a name under tests/models/ or a directory path.)
#
# Runs tests/models/e2e.sh for each model (default: every directory with a
# manifest.txt), sequentially, logs to BUILD_DIR/e2e/<model>.log, then
# prints: model, opset, outputs, max rel error, compile wall and CPU time,
# .so size, workspace bytes, status, and for each failure its first problem.
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
for model in "$@"; do
	name=$(basename "$model")
	log=$BUILD/e2e/$name.log
	sh "$HERE/e2e.sh" "$BUILD" "$model" >"$log" 2>&1 || fails=$((fails + 1))
	line=$(grep '^RESULT ' "$log" | tail -n 1)
	[ -n "$line" ] || line="RESULT $name - - - - - - - FAIL:script see $log"
	echo "$line" >>"$results"
done
sh "$HERE/table.sh" "$BUILD" "$results"
# Distinct compile diagnostics over all models (node names dropped).
cat "$BUILD"/e2e/*/compile.err 2>/dev/null |
	sed -n "s|^.*node '[^']*' \(([A-Za-z0-9_]*)\)|\1|p" | sort | uniq -c | sort -rn >"$BUILD/e2e/diagnostics.txt"
if [ -s "$BUILD/e2e/diagnostics.txt" ]; then
	echo "distinct compile diagnostics (count, op, message):"
	head -n 30 "$BUILD/e2e/diagnostics.txt"
fi
[ $fails -eq 0 ]

#!/bin/sh
# tests/models/table.sh — the end-to-end summary table.
#
#   sh tests/models/table.sh BUILD_DIR [RESULTS_FILE]
#
# Reads the RESULT lines e2e.sh leaves in BUILD_DIR/e2e/<model>/result.txt
# (or RESULTS_FILE) and prints: model, opset, outputs, max rel error,
# compile wall and CPU time, .so size, workspace bytes, status, and each
# failure's first problem.  Also writes the table to BUILD_DIR/e2e/table.txt.
# Exit status 0 when at least one result exists and every model passed.
set -u
BUILD=$(cd "$1" && pwd) || exit 2
results=${2:-}
if [ -z "$results" ]; then
	results=$BUILD/e2e/results.txt
	cat "$BUILD"/e2e/*/result.txt >"$results" 2>/dev/null
fi
[ -s "$results" ] || { echo "no end-to-end results under $BUILD/e2e" >&2; exit 1; }
awk '
BEGIN {
	printf "%-22s %5s %4s %9s %9s %8s %9s %9s  %s\n", "model", "opset", "outs",
	       "max_rel", "wall_s", "cpu_s", "so_bytes", "workspace", "status"
}
{
	printf "%-22s %5s %4s %9s %9s %8s %9s %9s  %s\n", $2, $3, $4, $5, $6, $7, $8, $9, $10
	if ($10 != "PASS") {
		msg = ""
		for (i = 11; i <= NF; i++) msg = msg " " $i
		problems[++np] = $2 ":" msg
	}
	n++
	if ($10 == "PASS") pass++
}
END {
	printf "%d/%d models pass (max_rel: max abs error / max |PyTorch|, tolerance 1e-4;\n", pass, n
	printf "wall_s/cpu_s: onnxcc to .so)\n"
	for (i = 1; i <= np; i++) print "  " problems[i]
}' "$results" | tee "$BUILD/e2e/table.txt"
! grep -qv ' PASS' "$results"

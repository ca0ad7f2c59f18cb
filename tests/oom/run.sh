#!/bin/sh
# tests/oom/run.sh — allocation failure: compiles a zoo model to a .so at
# -O0 once counting onnxcc's allocations (ONNXCC_COUNT_ALLOC, ir/xalloc.c),
# then again with the N-th allocation failing (ONNXCC_FAIL_ALLOC=N) and
# checks, for each N:
#   - exit status 2 (a system error; a crash, an abort or an ASan report
#     gives another status);
#   - stderr says "out of memory";
#   - the output folder is empty (no output, header or temporary left).
# N runs over 1 .. MAXRUNS/2, then every STRIDE-th allocation up
# to the total (the last one included), STRIDE chosen to make about MAXRUNS
# runs; MAXRUNS=0 means every N.  LLVM's own allocations are not covered
# (LLVM aborts when one fails).
#
# usage: run.sh ONNXCC MODEL SCRATCH [MAXRUNS]
set -u
onnxcc=$1 model=$2 scratch=$3 maxruns=${4:-120}
rm -rf "$scratch"
mkdir -p "$scratch/out" || exit 2
err=$scratch/stderr.txt
ONNXCC_COUNT_ALLOC=1 "$onnxcc" "$model" -O0 -o "$scratch/out/m.so" 2>"$err"
rc=$?
total=$(sed -n 's/^onnxcc: \([0-9]*\) allocations$/\1/p' "$err")
if [ "$rc" -ne 0 ] || [ -z "$total" ]; then
	echo "FAIL: the compile without injected failures: exit $rc"
	cat "$err"
	exit 1
fi
rm -rf "$scratch/out" && mkdir -p "$scratch/out"
from=$((maxruns / 2))
stride=1
if [ "$maxruns" -gt 0 ] && [ "$total" -gt "$maxruns" ]; then
	stride=$(( (total - from) / (maxruns - from) + 1 ))
fi
. "$(dirname "$0")/../common/refusal.sh"
n=1
while [ "$n" -le "$total" ]; do
	ONNXCC_FAIL_ALLOC=$n timeout 60 "$onnxcc" "$model" -O0 -o "$scratch/out/m.so" >/dev/null 2>"$err"
	tally "allocation $n" "$(why_not_clean $? 2 "$err" "out of memory" "$scratch/out")" "$err" 8 \
	      "$scratch/out"
	if [ "$n" -lt "$from" ] || [ "$stride" -eq 1 ]; then
		n=$((n + 1))
	elif [ "$n" -lt "$total" ] && [ $((n + stride)) -gt "$total" ]; then
		n=$total
	else
		n=$((n + stride))
	fi
done
echo "allocation failure: $total allocations, failed one at a time at $((pass + fail)) points (1..$from every one, then every $stride): $pass clean, $fail not"
[ "$fail" -eq 0 ]

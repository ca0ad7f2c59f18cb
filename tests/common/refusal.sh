# tests/common/refusal.sh — sourced by tests/bad/run.sh and tests/oom/run.sh:
# what a refused compile must look like, and the pass/fail tally.
#   why_not_clean RC WANT ERR NEEDLE OUTDIR
#       prints why a run falls short of a clean refusal: exit status WANT,
#       NEEDLE (fixed string) in the stderr file ERR, OUTDIR empty (no
#       output, header or temporary left); prints nothing when it is clean.
#   tally LABEL WHY ERR LINES OUTDIR
#       counts a pass (WHY empty) or a failure: prints "FAIL LABEL: WHY"
#       and the first LINES lines of ERR, then empties OUTDIR for the next
#       run.  $pass and $fail hold the counts.
pass=0 fail=0

why_not_clean() {
	if [ "$1" -ne "$2" ]; then
		echo "exit status $1, expected $2"
	elif ! grep -qF -- "$4" "$3"; then
		echo "stderr lacks '$4'"
	elif [ -n "$(ls -A "$5")" ]; then
		echo "left behind: $(ls -A "$5" | tr '\n' ' ')"
	fi
}

tally() {
	if [ -n "$2" ]; then
		fail=$((fail + 1))
		echo "FAIL $1: $2"
		sed 's/^/    /' "$3" | head -"$4"
		rm -rf "$5" && mkdir -p "$5"
	else
		pass=$((pass + 1))
	fi
}

#!/bin/sh
# tests/fuzz/run.sh — builds the libFuzzer targets with clang-19 (ASan +
# UBSan + coverage, -DONNXCC_FUZZ=ON) into FUZZ_BUILD and runs each for
# SECONDS seconds, one after the other on one core:
#   fuzz_frontend  arbitrary bytes as a model: frontend, verifier, passes
#                  (seeds: the ONNX node tests' models and data, the zoo's
#                  models, tests/bad)
#   fuzz_graph     structure-aware: valid models mutated as graphs, compiled
#                  through codegen at -O0 in memory (seeds: the node tests'
#                  and the zoo's models)
#   fuzz_npy       arbitrary bytes as a .npy file (seeds: the zoo's .npy)
# New inputs accumulate in FUZZ_BUILD/corpus-<target>; a crash, leak,
# sanitizer report, timeout (10 s an input) or RSS over 2 GB is written to
# FUZZ_BUILD/crash-<target>-* and makes the script fail.  Every run is
# bounded: libFuzzer's -max_total_time, and `timeout` at SECONDS + 120 s
# (loading the seeds counts towards the time).  Used by `make fuzz` and, at
# 60 s a target, by `make test`.
#
# FUZZ_SEED=N fixes libFuzzer's random seed (-seed=N), starts from an
# empty corpus and bounds each target by a count of inputs (-runs, sized
# to take about 2/3 of SECONDS on a quiet Zen 4 core at SECONDS=60, scaled
# with SECONDS) as well as by time (SECONDS + 30 s): a run is the same
# sequence of inputs wherever it runs, and a slower machine runs a prefix
# of it (up to small shifts: libFuzzer reruns an input when it suspects a
# leak).  Address randomisation is turned off for the run (setarch -R)
# where the system allows it.  `make test` uses this, so that a clean
# clone that passes here passes in CI.  Without FUZZ_SEED the
# seed is random and the corpus grows from run to run (`make fuzz`).
# A failing target's sanitizer summary and the path of its crash file are
# also written to FUZZ_BUILD/fuzz-failures.txt.
#
# usage: [FUZZ_SEED=N] run.sh FUZZ_BUILD SECONDS [TARGET...]
set -u
B=$1 S=$2
shift 2
targets=${*:-fuzz_frontend fuzz_graph fuzz_npy}
src=$(cd "$(dirname "$0")/../.." && pwd)
nodes=$src/../shared/onnx-node-tests
jobs=${JOBS:-2}

CC=clang-19 cmake -S "$src" -B "$B" -DCMAKE_BUILD_TYPE=Debug -DONNXCC_FUZZ=ON >/dev/null || exit 2
cmake --build "$B" -j "$jobs" --target $targets >"$B/build.log" 2>&1 || { tail -20 "$B/build.log"; exit 2; }

# seeds: links to the node tests' and the zoo's models, the zoo's .npy files
rm -rf "$B/seeds-onnx" "$B/seeds-npy"
mkdir -p "$B/seeds-onnx" "$B/seeds-npy" || exit 2
for d in "$nodes"/*/; do
	[ -f "$d/model.onnx" ] && ln -s "$d/model.onnx" "$B/seeds-onnx/$(basename "$d").onnx"
done
for d in "$src"/tests/models/*/; do
	n=$(basename "$d")
	ln -s "$d/model.onnx" "$B/seeds-onnx/zoo_$n.onnx"
	for f in "$d"/inputs/*.npy "$d"/outputs/*.npy; do
		[ -f "$f" ] && ln -s "$f" "$B/seeds-npy/${n}_$(basename "$(dirname "$f")")_$(basename "$f")"
	done
done
echo "fuzz: seeds $(ls "$B/seeds-onnx" | wc -l) models, $(ls "$B/seeds-npy" | wc -l) .npy files; $S s a target"

seedopt= norand=
if [ -n "${FUZZ_SEED:-}" ]; then
	seedopt=-seed=$FUZZ_SEED
	# without address randomisation: trace-cmp's dictionary records the
	# pointers our code compares, which would otherwise differ per run
	setarch "$(uname -m)" -R true 2>/dev/null && norand="setarch $(uname -m) -R"
	echo "fuzz: seed $FUZZ_SEED, empty corpora"
fi
rc=0
: >"$B/fuzz-failures.txt"
for t in $targets; do
	[ -n "$seedopt" ] && rm -rf "$B/corpus-$t"
	mkdir -p "$B/corpus-$t"
	case $t in
	fuzz_frontend) seeds="$B/seeds-onnx $src/tests/bad"; opts=-max_len=65536; runs=16000 ;;
	fuzz_graph) seeds="$B/seeds-onnx"; opts=-max_len=1048576; runs=800 ;;
	fuzz_npy) seeds="$B/seeds-npy"; opts=-max_len=65536; runs=100000 ;;
	*) echo "fuzz: unknown target $t"; exit 2 ;;
	esac
	log=$B/$t.log
	start=$(date +%s)
	limit="-max_total_time=$S"
	[ -n "$seedopt" ] && limit="$seedopt -runs=$((runs * S)) -max_total_time=$((S + 30)) -reload=0"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} FUZZ_GRAPH_STATS=1 \
	timeout -k 10 $((S + 120)) $norand "$B/$t" $limit -timeout=10 -rss_limit_mb=2048 $opts \
		-print_final_stats=1 -artifact_prefix="$B/crash-$t-" "$B/corpus-$t" $seeds >"$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "fuzz: $t: exit $st, ${runs:-?} inputs in $(($(date +%s) - start)) s$(grep '^fuzz_graph:' "$log" | sed 's/^fuzz_graph:/;/')"
	if [ "$st" -ne 0 ]; then
		rc=1
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20
		{
			echo "$t (exit $st, ${seedopt:-random seed}, log $log):"
			grep -E 'SUMMARY|Test unit written|^ *#[0-9] ' "$log" | head -8
		} >>"$B/fuzz-failures.txt"
	fi
done
exit $rc

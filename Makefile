# onnxcc — the two commands of the README.
#   make demo   install deps, build (release), compile and run examples/
#   make test   install deps, build (Debug, ASan+UBSan), run ctest
#   make install PREFIX=/opt/onnxcc   build (release) and install bin/ lib/ include/
#   make fuzz   build the libFuzzer targets with clang-19, run each SECONDS s
#               (make test runs them 60 s each after ctest)
#   make bench  (not part of test) real-size models, GEMM and zoo benchmarks
#               against ONNX Runtime and oneDNN; see bench/README.md
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

SECONDS ?= 60
# make test fuzzes with this fixed seed (reproducible); make fuzz with a random one
FUZZ_SEED ?= 1
FUZZ_BUILD ?= build-fuzz

.PHONY: all setup build build-debug demo test install fuzz bench bench-gemm bench-setup clean

all: build

setup:
	@sh scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-debug: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sh examples/run-demo.sh $(BUILD)

test: build-debug
	cd $(BUILD) && { ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:malloc_context_size=8:quarantine_size_mb=64} ctest --output-on-failure -j $(JOBS); echo $$? >ctest.rc; } | tee ctest.log
	@echo "== fuzzing, 60 s a target ($(FUZZ_BUILD)/fuzz_*.log)"; FUZZ_SEED=$(FUZZ_SEED) JOBS=$(JOBS) sh tests/fuzz/run.sh $(FUZZ_BUILD) 60; echo $$? >$(BUILD)/fuzz.rc
	@echo "== end-to-end models (build/e2e/table.txt)"; cat $(BUILD)/e2e/table.txt 2>/dev/null || echo "(no table)"
	@echo "== ONNX node-test conformance (build/conformance.txt)"; awk -F'\t' '$$2 == "PASS" { p++ } $$2 == "REJECTED" { r++ } $$2 ~ /FAIL|CRASH|TIMEOUT/ { f++ } END { printf "conformance: %d passed, %d failed, %d rejected with a diagnostic\n", p, f, r }' $(BUILD)/conformance.txt 2>/dev/null || true
	@grep -E 'tests passed, [0-9]+ tests failed' $(BUILD)/ctest.log | tail -1
	@test "$$(cat $(BUILD)/fuzz.rc)" = 0 || { echo "fuzzing FAILED:"; cat $(FUZZ_BUILD)/fuzz-failures.txt 2>/dev/null; }
	@exit $$(( $$(cat $(BUILD)/ctest.rc) | $$(cat $(BUILD)/fuzz.rc) ))

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)
# Builds the libFuzzer targets with clang-19 and runs each SECONDS s
# (tests/fuzz/run.sh; new findings go to $(FUZZ_BUILD)/corpus-*).
fuzz: setup
	JOBS=$(JOBS) sh tests/fuzz/run.sh $(FUZZ_BUILD) $(SECONDS)

bench-setup:
	@sh scripts/setup-bench.sh

# Release build, models generated into $(BUILD)/bench-models if missing,
# then the three tables; results in bench/results/latest.txt.
bench: build bench-setup
	sh bench/all.sh $(BUILD)

bench-gemm: build bench-setup
	sh bench/models/gen.sh $(BUILD)/bench-models
	sh bench/gemm/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)

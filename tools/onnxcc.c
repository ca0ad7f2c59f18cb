/* tools/onnxcc.c — the compiler's command line.  The contract (flags,
 * exit codes, no partial output on failure) is relied on by tests and
 * scripts: see --help and the README. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "driver/compile.h"
#include "codegen/target.h"
#include "runtime/npy.h"
#include "passes/pipeline.h"

static void usage(FILE *f)
{
	fprintf(f,
	"usage: onnxcc MODEL.onnx -o OUT [options]\n"
	"       onnxcc MODEL.onnx --dump-ir [options]\n"
	"\n"
	"       onnxcc --print-targets\n"
	"\n"
	"Compiles an ONNX model ahead of time into native code. OUT's extension\n"
	"selects the artifact: .o (object), .so (shared library, linked with a C\n"
	"compiler driver: see --linker), .s (assembly), .ll (LLVM IR). A C header\n"
	"with the run function and the workspace size is written beside it.\n"
	"Outputs get mode 0666 (.so 0777) less the umask.\n"
	"\n"
	"options:\n"
	"  -o OUT              output file (.o .so .s .ll)\n"
	"  --header FILE.h     header path (default: OUT with .h; not OUT itself)\n"
	"  --name PREFIX       C symbol prefix (default: OUT's file name without its\n"
	"                      extension, as a C identifier: -o nets/resnet.so gives\n"
	"                      resnet_run, RESNET_H, resnet_model)\n"
	"  --dim SYMBOL=N      bind a symbolic (dynamic) dimension, N >= 1; repeatable\n"
	"  --const-input NAME=FILE.npy\n"
	"                      freeze input NAME to the array in FILE at compile time\n"
	"                      (e.g. a shape or index input); it leaves the interface\n"
	"  --target TRIPLE     target triple (default: the host), e.g. x86_64-linux-gnu,\n"
	"                      aarch64-linux-gnu, armv7-linux-gnueabihf (= arm-linux-\n"
	"                      gnueabihf), thumbv7em-none-eabihf; see --print-targets\n"
	"  --cpu NAME          target CPU. Default: the architecture's baseline, which\n"
	"                      runs on every CPU of it (x86-64; aarch64 generic; armv7\n"
	"                      Linux: ARMv7-A with NEON and VFPv4). 'native' (or 'host'):\n"
	"                      this machine's CPU and features, fastest here, may not\n"
	"                      run elsewhere. A name LLVM does not know for the target\n"
	"                      is an error (llc-19 -mtriple=T -mcpu=help lists them)\n"
	"  --features LIST     LLVM target features added to the CPU's, e.g. +avx2,+fma\n"
	"  --linker CMD        C compiler driver that links a .so (may include options,\n"
	"                      e.g. 'clang --target=aarch64-linux-gnu'); default:\n"
	"                      $ONNXCC_CC, else cc for the host and TRIPLE-gcc (e.g.\n"
	"                      aarch64-linux-gnu-gcc) for a cross target\n"
	"  --index-oob MODE    run-time indices out of range (Gather, GatherElements,\n"
	"                      GatherND, ScatterElements, ScatterND; token ids; loss\n"
	"                      targets, MaxUnpool indices):\n"
	"                      'error' (default): the run function returns\n"
	"                      PREFIX_ERR_INDEX, nothing is written out of bounds;\n"
	"                      'clamp': negative ones count from the end, then they\n"
	"                      are clamped into the dimension, no error\n"
	"  --profile-nodes     per-node profiling: the model also gets an entry point,\n"
	"                      PREFIX_run_profiled_v, that calls a hook the caller\n"
	"                      supplies before and after each node (the hook reads\n"
	"                      the clock), and its descriptor a table of the nodes\n"
	"                      (ONNX name, op type, FLOPs); see the header and\n"
	"                      onnxcc-run --profile. Without it the code is unchanged\n"
	"  --max-workspace N   refuse a model whose workspace (scratch memory of\n"
	"                      the run function) exceeds N bytes (default 2^34,\n"
	"                      16 GiB; suffixes K, M, G: powers of 1024)\n"
	"  --print-targets     list the targets, their default CPU and linker\n"
	"  -O0 -O1 -O2 -O3     optimisation level (default -O3)\n"
	"  --dump-ir           print the IR after the passes to stdout\n"
	"  --print-after PASS  print the IR after PASS to stdout (passes listed below)\n"
	"  --disable-pass PASS leave out the optional pass PASS (a fuse-* pass or\n"
	"                      prune-rows; repeatable): to find which fusion a wrong\n"
	"                      answer comes from, or to measure what it buys\n"
	"  --no-fuse           leave out every optional pass: the graph as the model\n"
	"                      gives it, only inferred, folded and freed of aliases\n"
	"  --time-passes       per-pass wall times, per-phase wall and CPU times to stderr\n"
	"  --stats             node count, weights and workspace bytes, and the node\n"
	"                      functions shared by identical (e.g. weight-shared) blocks\n"
	"  -v, --verbose       one line per phase with its time to stderr\n"
	"  --version           print the version\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 on success; 1 on a bad model, unsupported feature or\n"
	"usage error (a diagnostic on stderr; no output file is left behind);\n"
	"2 on a system error.\n");
	int n;
	const char *const *names = pass_names(&n);
	fprintf(f, "\npasses, in order:");
	for (int i = 0; i < n; i++)
		fprintf(f, " %s", names[i]);
	fprintf(f, "\n");
}

int main(int argc, char **argv)
{
	CompileOptions o = {.opt_level = 3};
	int rc = 0;
	const char **dims = xcalloc((size_t)argc, sizeof *dims);
	const char **disabled = xcalloc((size_t)argc, sizeof *disabled);
	o.disabled_passes = disabled;
	CompileConstInput *consts = xcalloc((size_t)argc, sizeof *consts);
	OnnxccNpy *arrays = xcalloc((size_t)argc, sizeof *arrays);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { if (!next) { fprintf(stderr, "onnxcc: %s needs an argument\n", a); rc = 1; goto done; } i++; } while (0)
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			goto done;
		} else if (!strcmp(a, "--version")) {
			unsigned maj, min, pat;
			LLVMGetVersion(&maj, &min, &pat);
			printf("onnxcc %s (LLVM %u.%u.%u)\n", ONNXCC_VERSION, maj, min, pat);
			goto done;
		} else if (!strcmp(a, "-o")) {
			NEED_ARG();
			o.out_path = next;
		} else if (!strcmp(a, "--header")) {
			NEED_ARG();
			o.header_path = next;
		} else if (!strcmp(a, "--name")) {
			NEED_ARG();
			o.prefix = next;
		} else if (!strcmp(a, "--dim")) {
			NEED_ARG();
			if (!strchr(next, '=')) {
				fprintf(stderr, "onnxcc: --dim expects SYMBOL=N, got '%s'\n", next);
				rc = 1;
				goto done;
			}
			dims[o.ndims++] = next;
		} else if (!strcmp(a, "--const-input")) {
			NEED_ARG();
			const char *eq = strchr(next, '=');
			if (!eq || eq == next) {
				fprintf(stderr, "onnxcc: --const-input expects NAME=FILE.npy, got '%s'\n", next);
				rc = 1;
				goto done;
			}
			char err[512];
			OnnxccNpy *arr = &arrays[o.nconst_inputs];
			if (!onnxcc_npy_read(eq + 1, arr, err, sizeof err)) {
				fprintf(stderr, "onnxcc: --const-input: %s\n", err);
				rc = 1;
				goto done;
			}
			CompileConstInput *c = &consts[o.nconst_inputs++];
			char *name = xmalloc((size_t)(eq - next) + 1);
			memcpy(name, next, (size_t)(eq - next));
			name[eq - next] = 0;
			c->name = name;
			c->dtype = arr->dtype;
			c->rank = arr->rank;
			c->shape = arr->shape;
			c->data = arr->data;
		} else if (!strcmp(a, "--target")) {
			NEED_ARG();
			o.triple = next;
		} else if (!strcmp(a, "--cpu")) {
			NEED_ARG();
			o.cpu = next;
		} else if (!strcmp(a, "--features")) {
			NEED_ARG();
			o.features = next;
		} else if (!strcmp(a, "--linker")) {
			NEED_ARG();
			o.linker = next;
		} else if (!strcmp(a, "--print-targets")) {
			cg_print_targets(stdout);
			goto done;
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
			o.opt_level = a[2] - '0';
		} else if (!strcmp(a, "--dump-ir")) {
			o.dump_ir = true;
		} else if (!strcmp(a, "--print-after")) {
			NEED_ARG();
			o.print_after = next;
		} else if (!strcmp(a, "--disable-pass")) {
			NEED_ARG();
			disabled[o.ndisabled_passes++] = next;
		} else if (!strcmp(a, "--no-fuse")) {
			o.no_fuse = true;
		} else if (!strcmp(a, "--time-passes")) {
			o.time_passes = true;
		} else if (!strcmp(a, "--index-oob") || !strncmp(a, "--index-oob=", 12)) {
			const char *mode = a[11] == '=' ? a + 12 : NULL;
			if (!mode) {
				NEED_ARG();
				mode = next;
			}
			if (strcmp(mode, "error") && strcmp(mode, "clamp")) {
				fprintf(stderr, "onnxcc: --index-oob expects 'error' or 'clamp', got '%s'\n", mode);
				rc = 1;
				goto done;
			}
			o.index_clamp = !strcmp(mode, "clamp");
		} else if (!strcmp(a, "--max-workspace")) {
			NEED_ARG();
			char *end;
			errno = 0;
			unsigned long long v = strtoull(next, &end, 10);
			int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
			if (shift)
				end++;
			if (errno || end == next || *end || next[0] == '-' || v == 0 ||
			    v > (~0ULL >> shift)) {
				fprintf(stderr, "onnxcc: --max-workspace expects a positive byte count, got '%s'\n",
				        next);
				rc = 1;
				goto done;
			}
			o.max_workspace = (uint64_t)v << shift;
		} else if (!strcmp(a, "--profile-nodes")) {
			o.profile_nodes = true;
		} else if (!strcmp(a, "--stats")) {
			o.stats = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o.verbose = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "onnxcc: unknown option '%s' (see --help)\n", a);
			rc = 1;
			goto done;
		} else if (!o.model_path) {
			o.model_path = a;
		} else {
			fprintf(stderr, "onnxcc: more than one model given ('%s' and '%s')\n", o.model_path, a);
			rc = 1;
			goto done;
		}
#undef NEED_ARG
	}
	o.dims = dims;
	o.const_inputs = consts;
	if (!o.model_path) {
		fprintf(stderr, "onnxcc: no model given (see --help)\n");
		rc = 1;
		goto done;
	}
	if (!o.out_path && !o.dump_ir && !o.print_after) {
		fprintf(stderr, "onnxcc: nothing to do: give -o OUT or --dump-ir (see --help)\n");
		rc = 1;
		goto done;
	}
	Diag d;
	diag_init(&d, o.model_path, true);
	bool ok = onnxcc_compile(&o, &d);
	rc = ok ? 0 : d.nsyserrors ? 2 : 1;
	diag_free(&d);
done:
	for (int i = 0; i < o.nconst_inputs; i++) {
		free((char *)consts[i].name);
		onnxcc_npy_free(&arrays[i]);
	}
	free(consts);
	free(arrays);
	free(dims);
	free(disabled);
	return rc;
}

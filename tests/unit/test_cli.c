/* tests/unit/test_cli.c — the onnxcc command-line contract: exit codes,
 * diagnostics, no partial output on failure, artifacts and header. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runtime/npy.h"

static char *tmp;

static char out_text[1 << 22];

/* Runs build/onnxcc with args (a shell fragment); captures stdout+stderr
 * into out_text; returns the exit status. */
static int onnxcc(const char *args)
{
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s/onnxcc' %s > '%s/out.txt' 2>&1", ONNXCC_BINARY_DIR, args, tmp);
	int st = system(cmd);
	char path[4200];
	snprintf(path, sizeof path, "%s/out.txt", tmp);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out_text, 1, sizeof out_text - 1, f);
	out_text[n] = 0;
	fclose(f);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static bool exists(const char *name)
{
	char path[4200];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	return stat(path, &sb) == 0;
}

/* No file in tmp other than out.txt (no partial or temporary output). */
static void assert_no_output(void)
{
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -v '^out.txt$' | wc -l) -eq 0", tmp);
	assert_int_equal(system(cmd), 0);
}

#define DATA ONNXCC_SOURCE_DIR "/tests/data/"

static int setup(void **state)
{
	tmp = tu_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static void test_help_and_version(void **state)
{
	assert_int_equal(onnxcc("--help"), 0);
	assert_non_null(strstr(out_text, "usage: onnxcc MODEL.onnx -o OUT"));
	assert_non_null(strstr(out_text, "--dim SYMBOL=N"));
	assert_non_null(strstr(out_text, "--profile-nodes"));
	assert_int_equal(onnxcc("--version"), 0);
	assert_non_null(strstr(out_text, "onnxcc "));
}

static void test_usage_errors(void **state)
{
	assert_int_equal(onnxcc(""), 1);
	assert_non_null(strstr(out_text, "no model given"));
	assert_int_equal(onnxcc("--frobnicate " DATA "dynamic_batch.onnx"), 1);
	assert_non_null(strstr(out_text, "unknown option '--frobnicate'"));
	char args[4400];
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=2 -o '%s/x.exe'", tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "unknown extension"));
	assert_no_output();
}

static void test_missing_file_is_system_error(void **state)
{
	char args[4400];
	snprintf(args, sizeof args, "'%s/nope.onnx' -o '%s/x.so'", tmp, tmp);
	assert_int_equal(onnxcc(args), 2);
	assert_non_null(strstr(out_text, "No such file or directory"));
	assert_no_output();
}

static void test_unbound_dim(void **state)
{
	char args[4400];
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx -o '%s/x.so'", tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "'batch'"));
	assert_non_null(strstr(out_text, "--dim batch="));
	assert_no_output();
}

static void test_unsupported_op(void **state)
{
	char args[4400];
	snprintf(args, sizeof args, DATA "unsupported_op.onnx -o '%s/x.so'", tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "node 'fancy' (FancyOp)"));
	assert_no_output();
}

/* A node rejected during code generation (after the passes succeeded)
 * also leaves no output or temporary file. */
static void test_codegen_rejection_leaves_nothing(void **state)
{
	char args[9000];
	snprintf(args, sizeof args, "'%s' -o '%s/bn.so'", tu_node_test("test_batchnorm_example_training_mode"), tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "(BatchNormalization): code generation: training_mode"));
	assert_no_output();
}

static void test_shared_library_and_header(void **state)
{
	char args[4400];
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=2 -o '%s/net.so' --stats", tmp);
	assert_int_equal(onnxcc(args), 0);
	assert_non_null(strstr(out_text, "stats: "));
	/* one node (the GEMM with its epilogue): nothing to share */
	assert_non_null(strstr(out_text, "stats: node functions: 1 calls, 1 functions emitted; none shared"));
	assert_true(exists("net.so"));
	assert_true(exists("net.h"));
	char path[4200];
	snprintf(path, sizeof path, "%s/net.h", tmp);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char h[1 << 15];
	size_t n = fread(h, 1, sizeof h - 1, f);
	h[n] = 0;
	fclose(f);
	/* the default prefix comes from the output name, not the model's */
	assert_non_null(strstr(h, "#define NET_WORKSPACE_SIZE "));
	assert_non_null(strstr(h, "#ifndef NET_H"));
	assert_non_null(strstr(h, "int net_run("));
	assert_null(strstr(h, "dynamic_batch_run"));
	/* the header shows how to declare an aligned static workspace */
	assert_non_null(strstr(h, "_Alignas(64) static unsigned char ws[NET_WORKSPACE_SIZE"));
	assert_non_null(strstr(h, "NET_ERR_ALIGN"));
	assert_non_null(strstr(h, "const float *x /* f32[2,4] */"));
	assert_non_null(strstr(h, "float *y /* f32[2,3] */"));
}

/* --index-oob: the header says what happens to out-of-range run-time
 * indices in the mode compiled for; a bad mode is a usage error. */
/* --stats names the node functions emitted once for repeated blocks:
 * tanh(x @ W + b) applied three times with the same initializers is two
 * functions (the fused GEMM and the Tanh), each called by three nodes. */
static void test_stats_shared_blocks(void **state)
{
	(void)state;
	char args[4400];
	snprintf(args, sizeof args, DATA "shared_block.onnx -o '%s/sb.so' --stats", tmp);
	assert_int_equal(onnxcc(args), 0);
	assert_non_null(strstr(out_text, "stats: node functions: 6 calls, 2 functions emitted; "
	                                 "2 emitted once and called by 6 nodes"));
	assert_non_null(strstr(out_text, "stats:   sb.node0.MatMulEpi called 3 times\n"));
	assert_non_null(strstr(out_text, "stats:   sb.node1.Tanh called 3 times\n"));
	assert_true(exists("sb.so"));
	/* --dump-ir without an output makes no code: no node-function line */
	assert_int_equal(onnxcc(DATA "shared_block.onnx --dump-ir --stats"), 0);
	assert_non_null(strstr(out_text, "stats: 6 nodes"));
	assert_null(strstr(out_text, "node functions"));
}

static void test_index_oob_flag(void **state)
{
	char args[4400], path[4200];
	static char h[1 << 15];
	for (int clamp = 0; clamp < 2; clamp++) {
		snprintf(args, sizeof args, "'%s' -O0 -o '%s/g.o'%s", tu_node_test("test_gather_0"), tmp,
		         clamp ? " --index-oob=clamp" : "");
		assert_int_equal(onnxcc(args), 0);
		snprintf(path, sizeof path, "%s/g.h", tmp);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		size_t n = fread(h, 1, sizeof h - 1, f);
		h[n] = 0;
		fclose(f);
		assert_non_null(strstr(h, "#define G_ERR_INDEX 3"));
		assert_non_null(strstr(h, "reads indices at run time in Gather '"));
		assert_non_null(strstr(h, clamp ? "#define G_INDEX_OOB_CLAMP 1" : "#define G_INDEX_OOB_CLAMP 0"));
		assert_non_null(strstr(h, clamp ? "--index-oob=clamp" : "--index-oob=error (the default)"));
	}
	snprintf(args, sizeof args, "'%s' -o '%s/b.o' --index-oob wrap", tu_node_test("test_gather_0"), tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "--index-oob expects 'error' or 'clamp', got 'wrap'"));
	assert_false(exists("b.o"));
}

/* --max-workspace: a model needing more scratch memory than the limit is
 * refused (exit 1, no output), a larger limit accepts it, a bad value is a
 * usage error.  (The default limit: tests/bad workspace_over_limit.) */
static void test_max_workspace(void **state)
{
	(void)state;
	char args[4400];
	const char *m = tu_node_test("test_softmax_example_expanded");
	snprintf(args, sizeof args, "'%s' -O0 -o '%s/w.o' --max-workspace 1", m, tmp);
	assert_int_equal(onnxcc(args), 1);   /* it has intermediate tensors */
	assert_non_null(strstr(out_text, "more than the limit of 1 (--max-workspace BYTES raises it)"));
	assert_false(exists("w.o"));
	snprintf(args, sizeof args, "'%s' -O0 -o '%s/w.o' --max-workspace 1M", m, tmp);
	assert_int_equal(onnxcc(args), 0);
	assert_true(exists("w.o"));
	snprintf(args, sizeof args, "'%s' -o '%s/v.o' --max-workspace -5", m, tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "--max-workspace expects a positive byte count, got '-5'"));
}

/* ELF e_machine of tmp/name. */
static int elf_machine(const char *name)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char hdr[20];
	assert_int_equal(fread(hdr, 1, 20, f), 20);
	fclose(f);
	assert_memory_equal(hdr, "\177ELF", 4);
	return hdr[18] | hdr[19] << 8;
}

static void test_cross_targets(void **state)
{
	struct { const char *triple; int machine; } t[] = {
		{"aarch64-linux-gnu", 183}, {"armv7a-linux-gnueabihf", 40}, {"thumbv7em-none-eabi", 40},
		{"x86_64-linux-gnu", 62},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		char args[4400];
		snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 --name net --target %s -o '%s/net%zu.o'",
		         t[i].triple, tmp, i);
		assert_int_equal(onnxcc(args), 0);
		char name[64];
		snprintf(name, sizeof name, "net%zu.o", i);
		assert_int_equal(elf_machine(name), t[i].machine);
	}
	/* A cross .so links with the target's cross gcc when there is one;
	 * without it, that is a system error (exit 2) naming what was tried. */
	char args[4400];
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 --target aarch64-linux-gnu -o '%s/a.so'", tmp);
	if (system("command -v aarch64-linux-gnu-gcc >/dev/null 2>&1") == 0) {
		assert_int_equal(onnxcc(args), 0);
		assert_int_equal(elf_machine("a.so"), 183);
		char cmd[4400];
		snprintf(cmd, sizeof cmd, "nm -D '%s/a.so' | grep -q ' onnxcc_model$'", tmp);
		assert_int_equal(system(cmd), 0);
	} else {
		assert_int_equal(onnxcc(args), 2);
		assert_non_null(strstr(out_text, "no linker for aarch64"));
		assert_non_null(strstr(out_text, "aarch64-linux-gnu-gcc"));
		assert_no_output();
	}
	/* bare metal: no shared libraries */
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 --target thumbv7em-none-eabihf -o '%s/t.so'", tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "bare metal"));
}

/* --print-targets lists the supported targets with a linker column. */
static void test_print_targets(void **state)
{
	assert_int_equal(onnxcc("--print-targets"), 0);
	const char *want[] = {"x86_64-linux-gnu", "aarch64-linux-gnu", "armv7-linux-gnueabihf",
	                      "arm-linux-gnueabihf", "thumbv7em-none-eabihf", "linker: "};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (!strstr(out_text, want[i]))
			fail_msg("--print-targets lacks '%s':\n%s", want[i], out_text);
}

/* Outputs get the mode open(2) would give (0666 / .so 0777, less the
 * umask), not mkstemp's 0600. */
static void test_output_modes(void **state)
{
	char args[4400];
	snprintf(args, sizeof args, "(umask 027; '%s/onnxcc' " DATA "dynamic_batch.onnx --dim batch=1 -o '%s/m.so')"
	         " && (umask 002; '%s/onnxcc' " DATA "dynamic_batch.onnx --dim batch=1 -o '%s/m.o')",
	         ONNXCC_BINARY_DIR, tmp, ONNXCC_BINARY_DIR, tmp);
	assert_int_equal(system(args), 0);
	struct { const char *name; unsigned mode; } want[] = {
		{"m.so", 0750}, {"m.h", 0664}, {"m.o", 0664},
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		char path[4200];
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", tmp, want[i].name);
		assert_int_equal(stat(path, &sb), 0);
		if ((sb.st_mode & 07777) != want[i].mode)
			fail_msg("%s: mode %o, want %o", want[i].name, sb.st_mode & 07777, want[i].mode);
	}
}

/* CPU and feature names LLVM does not accept for the target are
 * diagnostics (exit 1), not LLVM warnings or fatal errors, and leave no
 * file behind. */
static void test_bad_cpu_and_features(void **state)
{
	struct { const char *flags, *msg; } t[] = {
		{"--cpu bogus", "'bogus' is not a recognized processor"},
		{"--cpu i386", "64-bit code requested"},
		{"--cpu pentium", "64-bit code requested"},
		{"--features -64bit-mode", "selects the instruction-set mode"},
		{"--features +nosuchfeature", "'+nosuchfeature' is not a recognized feature"},
		{"--target aarch64-linux-gnu --cpu skylake", "'skylake' is not a recognized processor"},
		{"--target armv7-linux-gnueabihf --cpu native", "--cpu native: only when compiling for this machine"},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		char args[4400];
		snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 %s -o '%s/c.o'", t[i].flags, tmp);
		assert_int_equal(onnxcc(args), 1);
		if (!strstr(out_text, t[i].msg))
			fail_msg("%s: want '%s' in:\n%s", t[i].flags, t[i].msg, out_text);
		assert_null(strstr(out_text, "LLVM ERROR"));
		assert_null(strstr(out_text, "warning"));
		assert_no_output();
	}
	/* named CPUs of the target and native are fine */
	const char *good[] = {"--cpu native", "--cpu host", "--cpu haswell --features +avx2",
	                      "--target aarch64-linux-gnu --cpu cortex-a72",
	                      "--target thumbv7em-none-eabihf --cpu cortex-m7"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		char args[4400];
		snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 %s -o '%s/c.o'", good[i], tmp);
		if (onnxcc(args) != 0)
			fail_msg("%s: %s", good[i], out_text);
		assert_null(strstr(out_text, "not a recognized"));
	}
}

/* The default CPU is the architecture's baseline; a default x86-64 object
 * also holds AVX2 and AVX-512 versions of its hot node functions and the
 * cpuid/xgetbv check that picks one (test_dispatch checks their code and
 * the choice, tests/cross runs it under qemu -cpu Nehalem and Haswell).
 * A named CPU (here the baseline itself) gives one version: no AVX at all,
 * no CPU check. */
static void test_portable_default(void **state)
{
	char args[4400], cmd[4400];
	snprintf(args, sizeof args, ONNXCC_SOURCE_DIR "/examples/pvt/model.onnx --target x86_64-linux-gnu -o '%s/p.o'", tmp);
	assert_int_equal(onnxcc(args), 0);
	snprintf(cmd, sizeof cmd, "objdump -d '%s/p.o' | grep -q 'cpuid' && objdump -d '%s/p.o' | grep -q 'xgetbv'", tmp, tmp);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "nm '%s/p.o' | grep -q '\\.avx2$' && nm '%s/p.o' | grep -q '\\.avx512$'", tmp, tmp);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof args, ONNXCC_SOURCE_DIR "/examples/pvt/model.onnx --target x86_64-linux-gnu --cpu x86-64 -o '%s/q.o'", tmp);
	assert_int_equal(onnxcc(args), 0);
	snprintf(cmd, sizeof cmd, "objdump -d '%s/q.o' | grep -Eq '%%[yz]mm|cpuid'", tmp);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "objdump -d '%s/q.o' | grep -q '%%xmm'", tmp);
	assert_int_equal(system(cmd), 0);
}

/* Bad --dim values, coinciding output and header, and a missing linker. */
static void test_small_contract_rules(void **state)
{
	char args[4400];
	const char *dims[] = {"batch=0", "batch=-3", "batch=x", "batch="};
	for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
		snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim %s -o '%s/d.o'", dims[i], tmp);
		assert_int_equal(onnxcc(args), 1);
		assert_non_null(strstr(out_text, "N a positive integer"));
		assert_no_output();
	}
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 -o '%s/x.o' --header '%s/../%s/x.o'",
	         tmp, tmp, strrchr(tmp, '/') + 1);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "are the same file"));
	assert_no_output();
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 -o '%s/x.so'", tmp);
	setenv("ONNXCC_CC", "/nonexistent/cc", 1);
	int rc = onnxcc(args);
	unsetenv("ONNXCC_CC");
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out_text, "/nonexistent/cc"));
	assert_non_null(strstr(out_text, "No such file or directory"));
	assert_no_output();
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 -o '%s/x.so' --linker no-such-linker-cmd", tmp);
	assert_int_equal(onnxcc(args), 2);
	assert_non_null(strstr(out_text, "no-such-linker-cmd"));
	assert_no_output();
}

static void test_dump_ir(void **state)
{
	assert_int_equal(onnxcc(DATA "dynamic_batch.onnx --dim batch=3 --dump-ir"), 0);
	assert_non_null(strstr(out_text, "MatMul"));
	assert_non_null(strstr(out_text, "[3,3]"));
}

/* A shape input given at run time cannot be compiled statically: the
 * diagnostic names the flag; freezing it with --const-input compiles, and
 * the input leaves the interface. */
static void test_const_input(void **state)
{
	char model[4200], args[9000], npy[4200], err[256];
	snprintf(model, sizeof model, "%s", tu_node_test("test_reshape_negative_dim"));
	snprintf(args, sizeof args, "'%s' -o '%s/r.so'", model, tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "input 1: must be a constant for static compilation"));
	assert_non_null(strstr(out_text, "--const-input shape=FILE.npy"));
	assert_no_output();
	snprintf(npy, sizeof npy, "%s/shape.npy", tmp);
	int64_t shape[1] = {3}, val[3] = {2, -1, 2};
	assert_true(onnxcc_npy_write(npy, 7, 1, shape, val, err, sizeof err));
	snprintf(args, sizeof args, "'%s' -o '%s/r.so' --const-input shape='%s'", model, tmp, npy);
	assert_int_equal(onnxcc(args), 0);
	snprintf(args, sizeof args, "'%s' -o '%s/r.so' --const-input nosuch='%s'", model, tmp, npy);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "--const-input nosuch: the model has no input of that name"));
}

/* Every family export in tests/models dumps with static shapes only and no
 * Shape/Size node left (the exporters' shape arithmetic is folded away). */
static void test_family_dumps_static(void **state)
{
	const char *root = ONNXCC_SOURCE_DIR "/tests/models";
	DIR *dir = opendir(root);
	assert_non_null(dir);
	struct dirent *e;
	int models = 0;
	while ((e = readdir(dir))) {
		char model[4300], args[4400];
		struct stat sb;
		snprintf(model, sizeof model, "%s/%s/model.onnx", root, e->d_name);
		if (e->d_name[0] == '.' || stat(model, &sb) != 0)
			continue;
		snprintf(args, sizeof args, "'%s' --dump-ir", model);
		assert_int_equal(onnxcc(args), 0);
		if (strstr(out_text, "= Shape(") || strstr(out_text, "= Size("))
			fail_msg("%s: a Shape/Size node is left after the passes", e->d_name);
		if (strstr(out_text, "?]") || strstr(out_text, ",?") || strstr(out_text, "[?"))
			fail_msg("%s: a non-static shape is left after the passes", e->d_name);
		assert_non_null(strstr(out_text, "output "));
		models++;
	}
	closedir(dir);
	assert_true(models >= 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_help_and_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_system_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbound_dim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codegen_rejection_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_library_and_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_shared_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_oob_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_workspace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cpu_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portable_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_contract_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_ir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_const_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_family_dumps_static, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

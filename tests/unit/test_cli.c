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
	assert_non_null(strstr(h, "#define DYNAMIC_BATCH_WORKSPACE_SIZE "));
	assert_non_null(strstr(h, "int dynamic_batch_run("));
	assert_non_null(strstr(h, "const float *x /* f32[2,4] */"));
	assert_non_null(strstr(h, "float *y /* f32[2,3] */"));
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
	char args[4400];
	snprintf(args, sizeof args, DATA "dynamic_batch.onnx --dim batch=1 --target aarch64-linux-gnu -o '%s/a.so'", tmp);
	assert_int_equal(onnxcc(args), 1);
	assert_non_null(strstr(out_text, "only be linked for the host"));
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
		cmocka_unit_test_setup_teardown(test_cross_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_ir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_const_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_family_dumps_static, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_cli_run.c — the onnxcc-run command-line contract, run
 * against hand-written model libraries (tests/conformance/fake_model.c), so
 * it does not depend on the compiler: outputs and their file names, the
 * summary lines, --repeat's JSON, and every error path with its exit code
 * (1 usage/input, 2 run failure) and message. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

static char *tmpdir;
static char out_buf[65536], err_buf[65536];

static int setup(void **state)
{
	tmpdir = tu_tmpdir();
	/* inputs matching the fake model: x f32[2,3], ids i64[3] */
	const float x[6] = {-3, -2, -1, 0, 1, 2};
	const int64_t ids[3] = {1, 2, 3};
	const int64_t s23[2] = {2, 3}, s3[1] = {3}, s32[2] = {3, 2};
	char path[4200], err[512];
	snprintf(path, sizeof path, "%s/x.npy", tmpdir);
	if (!onnxcc_npy_write(path, 1, 2, s23, x, err, sizeof err))
		return -1;
	snprintf(path, sizeof path, "%s/ids.npy", tmpdir);
	if (!onnxcc_npy_write(path, 7, 1, s3, ids, err, sizeof err))
		return -1;
	snprintf(path, sizeof path, "%s/x_t.npy", tmpdir);       /* wrong shape */
	if (!onnxcc_npy_write(path, 1, 2, s32, x, err, sizeof err))
		return -1;
	snprintf(path, sizeof path, "%s/ids_i32.npy", tmpdir);   /* wrong dtype */
	const int32_t ids32[3] = {1, 2, 3};
	if (!onnxcc_npy_write(path, 6, 1, s3, ids32, err, sizeof err))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(tmpdir);
	free(tmpdir);
	return 0;
}

/* Runs onnxcc-run with args (NULL-terminated) in the temp dir; captures
 * stdout and stderr into out_buf/err_buf; returns the exit status. */
static int run_tool(const char *const *args)
{
	const char *argv[32] = {ONNXCC_RUN};
	int n = 1;
	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	return tu_run_tool(argv, tmpdir, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
}

#define EXPECT_OUT(s) \
	do { if (!strstr(out_buf, s)) fail_msg("stdout lacks '%s':\n%s", s, out_buf); } while (0)
#define EXPECT_ERR(s) \
	do { if (!strstr(err_buf, s)) fail_msg("stderr lacks '%s':\n%s", s, err_buf); } while (0)

static void test_run_writes_outputs(void **state)
{
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input=ids=ids.npy",
	                      "--output-dir", "outs", NULL};
	assert_int_equal(run_tool(args), 0);
	/* y = 2x + ids: [-5,-2,1, 1,4,7]; count = 6; pos = x > 0 */
	EXPECT_OUT("y/out:0: f32[2,3] min=-5 max=7 mean=1\n");
	EXPECT_OUT("count: i64[] min=6 max=6 mean=6\n");
	EXPECT_OUT("pos: bool[2,3] min=0 max=1 mean=0.333333\n");
	EXPECT_OUT("y_out_0: bf16[] min=6 max=6 mean=6\n");
	EXPECT_ERR("output 'y_out_0' is bfloat16, written as float32");
	char path[4200], err[512];
	OnnxccNpy a;
	snprintf(path, sizeof path, "%s/outs/y_out_0.npy", tmpdir);   /* sanitized */
	if (!onnxcc_npy_read(path, &a, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(a.dtype, 1);
	assert_int_equal(a.rank, 2);
	const float want[6] = {-5, -2, 1, 1, 4, 7};
	assert_memory_equal(a.data, want, sizeof want);
	onnxcc_npy_free(&a);
	snprintf(path, sizeof path, "%s/outs/count.npy", tmpdir);
	assert_true(onnxcc_npy_read(path, &a, err, sizeof err));
	assert_int_equal(a.rank, 0);
	assert_int_equal(onnxcc_elem_i64(7, a.data, 0), 6);
	onnxcc_npy_free(&a);
	snprintf(path, sizeof path, "%s/outs/pos.npy", tmpdir);
	assert_true(onnxcc_npy_read(path, &a, err, sizeof err));
	assert_int_equal(a.dtype, 9);
	const uint8_t wpos[6] = {0, 0, 0, 0, 1, 1};
	assert_memory_equal(a.data, wpos, sizeof wpos);
	onnxcc_npy_free(&a);
	/* "y_out_0" collides with sanitized "y/out:0": numbered; bf16 -> f32 */
	snprintf(path, sizeof path, "%s/outs/y_out_0_2.npy", tmpdir);
	if (!onnxcc_npy_read(path, &a, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(a.dtype, 1);
	assert_true(onnxcc_elem_f64(1, a.data, 0) == 6.0);
	onnxcc_npy_free(&a);
}

static void test_quiet_and_repeat(void **state)
{
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "ids=ids.npy",
	                      "--output-dir", "outq", "--repeat", "5", "--quiet",
	                      "--threads", "1", NULL};
	assert_int_equal(run_tool(args), 0);
	assert_null(strstr(out_buf, "min="));
	double med, mn;
	int runs;
	if (sscanf(out_buf, "{\"median_ms\": %lf, \"min_ms\": %lf, \"runs\": %d}", &med, &mn,
	           &runs) != 3)
		fail_msg("no JSON line: %s", out_buf);
	assert_int_equal(runs, 5);
	assert_true(mn >= 0 && med >= mn);
}

/* A library named without '/' is ./NAME, not a search-path lookup. */
static void test_lib_in_current_dir(void **state)
{
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s/local_model.so'", FAKE_MODEL_OK, tmpdir);
	assert_int_equal(system(cmd), 0);
	const char *args[] = {"local_model.so", "--input", "x=x.npy", "--input", "ids=ids.npy",
	                      "--quiet", NULL};
	assert_int_equal(run_tool(args), 0);
	const char *missing[] = {"absent_model.so", NULL};
	assert_int_equal(run_tool(missing), 1);
	EXPECT_ERR("./absent_model.so");
}

static void test_missing_input_lists_expected(void **state)
{
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=x.npy", NULL};
	assert_int_equal(run_tool(args), 1);
	EXPECT_ERR("input 'ids' not given");
	EXPECT_ERR("  x: f32[2,3]\n");
	EXPECT_ERR("  ids: i64[3]\n");
}

static void test_unknown_input_lists_valid(void **state)
{
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "idz=ids.npy", NULL};
	assert_int_equal(run_tool(args), 1);
	EXPECT_ERR("no input named 'idz'");
	EXPECT_ERR("  ids: i64[3]\n");
}

static void test_wrong_shape_and_dtype(void **state)
{
	const char *shape[] = {FAKE_MODEL_OK, "--input", "x=x_t.npy", "--input", "ids=ids.npy", NULL};
	assert_int_equal(run_tool(shape), 1);
	EXPECT_ERR("input 'x': x_t.npy holds f32[3,2], the model expects f32[2,3]");
	const char *dtype[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "ids=ids_i32.npy", NULL};
	assert_int_equal(run_tool(dtype), 1);
	EXPECT_ERR("input 'ids': ids_i32.npy holds i32[3], the model expects i64[3]");
	const char *nofile[] = {FAKE_MODEL_OK, "--input", "x=nope.npy", "--input", "ids=ids.npy", NULL};
	assert_int_equal(run_tool(nofile), 1);
	EXPECT_ERR("input 'x': nope.npy: No such file");
	const char *twice[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "x=x.npy", NULL};
	assert_int_equal(run_tool(twice), 1);
	EXPECT_ERR("input 'x' given twice");
}

static void test_usage_errors(void **state)
{
	const char *threads[] = {FAKE_MODEL_OK, "--threads", "0", NULL};
	assert_int_equal(run_tool(threads), 1);
	EXPECT_ERR("--threads expects a count >= 1");
	const char *repeat[] = {FAKE_MODEL_OK, "--repeat", "0", NULL};
	assert_int_equal(run_tool(repeat), 1);
	EXPECT_ERR("--repeat expects a count >= 1");
	const char *noval[] = {FAKE_MODEL_OK, "--input", NULL};
	assert_int_equal(run_tool(noval), 1);
	EXPECT_ERR("--input needs a value");
	const char *noeq[] = {FAKE_MODEL_OK, "--input", "x.npy", NULL};
	assert_int_equal(run_tool(noeq), 1);
	EXPECT_ERR("NAME=FILE.npy");
	const char *unk[] = {FAKE_MODEL_OK, "--frobnicate", NULL};
	assert_int_equal(run_tool(unk), 1);
	EXPECT_ERR("unknown option '--frobnicate'");
	const char *none[] = {NULL};
	assert_int_equal(run_tool(none), 1);
	EXPECT_ERR("no model library given");
	const char *help[] = {"--help", NULL};
	assert_int_equal(run_tool(help), 0);
	EXPECT_OUT("usage: onnxcc-run LIB.so");
	EXPECT_OUT("bitwise the same for every T");
	EXPECT_OUT("--profile-json FILE");
	const char *notlib[] = {"x.npy", NULL};
	assert_int_equal(run_tool(notlib), 1);
	EXPECT_ERR("cannot load ./x.npy");
}

static void test_run_failure_and_abi(void **state)
{
	const char *fail[] = {FAKE_MODEL_FAIL, "--input", "x=x.npy", "--input", "ids=ids.npy",
	                      "--output-dir", "outf", NULL};
	assert_int_equal(run_tool(fail), 2);
	EXPECT_ERR("run failed with status 1 (ONNXCC_ERR_NULL");
	char path[4200];
	snprintf(path, sizeof path, "%s/outf/count.npy", tmpdir);
	assert_int_equal(access(path, F_OK), -1);   /* nothing written */
	const char *abi[] = {FAKE_MODEL_ABI, NULL};
	assert_int_equal(run_tool(abi), 1);
	EXPECT_ERR("model ABI version 99");
	EXPECT_ERR("supports 2 to 3");
	/* --profile on a version-2 descriptor (no --profile-nodes): refused
	 * before anything runs (tests/unit/test_profile.c runs real ones) */
	const char *prof[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "ids=ids.npy",
	                      "--output-dir", "outp", "--profile", NULL};
	assert_int_equal(run_tool(prof), 1);
	EXPECT_ERR("--profile: the model was not compiled for per-node profiling");
	snprintf(path, sizeof path, "%s/outp/count.npy", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	const char *json[] = {FAKE_MODEL_OK, "--profile-json", NULL};
	assert_int_equal(run_tool(json), 1);
	EXPECT_ERR("--profile-json needs a value");
}

/* Descriptors that lie: a huge input count, an output buffer smaller than
 * its shape.  Refused before any buffer is sized from them. */
static void test_bad_descriptor(void **state)
{
	const char *bad1[] = {FAKE_MODEL_BAD1, "--input", "x=x.npy", NULL};
	assert_int_equal(run_tool(bad1), 1);
	EXPECT_ERR("invalid descriptor: more than 65536 inputs or outputs");
	const char *bad2[] = {FAKE_MODEL_BAD2, "--input", "x=x.npy", "--input", "ids=ids.npy", NULL};
	assert_int_equal(run_tool(bad2), 1);
	EXPECT_ERR("invalid descriptor: output 0: nbytes 8 differs from shape x element size (24)");
}

/* A FIFO as an input file is refused at once (no hang). */
static void test_fifo_input(void **state)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/fifo.npy", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=fifo.npy", "--input", "ids=ids.npy", NULL};
	assert_int_equal(run_tool(args), 1);
	EXPECT_ERR("input 'x': fifo.npy: not a regular file");
	unlink(path);
}

/* A FIFO (or a directory) as the model library is refused at once: dlopen
 * would block on the FIFO. */
static void test_fifo_library(void **state)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/fifo.so", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	const char *args[] = {"fifo.so", "--input", "x=x.npy", NULL};
	assert_int_equal(run_tool(args), 1);
	EXPECT_ERR("cannot load ./fifo.so: not a regular file");
	unlink(path);
	const char *dir[] = {".", NULL};
	assert_int_equal(run_tool(dir), 1);
	EXPECT_ERR("cannot load ./.: not a regular file");
	const char *none[] = {"no-such.so", NULL};
	assert_int_equal(run_tool(none), 1);
	EXPECT_ERR("cannot load ./no-such.so: No such file or directory");
}

/* When one output cannot be written, the ones already written are removed
 * and no temporary file is left: a failed run leaves no partial set. */
static void test_failed_write_leaves_nothing(void **state)
{
	char dir[4200], path[4300];
	snprintf(dir, sizeof dir, "%s/outw", tmpdir);
	assert_int_equal(mkdir(dir, 0777), 0);
	snprintf(path, sizeof path, "%s/count.npy", dir);   /* a directory in the way */
	assert_int_equal(mkdir(path, 0777), 0);
	const char *args[] = {FAKE_MODEL_OK, "--input", "x=x.npy", "--input", "ids=ids.npy",
	                      "--output-dir", "outw", NULL};
	assert_int_equal(run_tool(args), 1);
	EXPECT_ERR("output 'count'");
	DIR *dd = opendir(dir);
	assert_non_null(dd);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dd))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "count.npy"))
			fail_msg("left behind: %s", e->d_name);
		n++;
	}
	closedir(dd);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_writes_outputs),
		cmocka_unit_test(test_quiet_and_repeat),
		cmocka_unit_test(test_lib_in_current_dir),
		cmocka_unit_test(test_missing_input_lists_expected),
		cmocka_unit_test(test_unknown_input_lists_valid),
		cmocka_unit_test(test_wrong_shape_and_dtype),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_run_failure_and_abi),
		cmocka_unit_test(test_bad_descriptor),
		cmocka_unit_test(test_fifo_input),
		cmocka_unit_test(test_fifo_library),
		cmocka_unit_test(test_failed_write_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

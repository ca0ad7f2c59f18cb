/* tests/conformance/selftest.c — onnxcc-conformance --self-test.
 *
 * Checks the runner's classification end to end: children that die of a
 * signal, abort on an assertion, hang (with and without SIGALRM blocked),
 * exit with a sanitizer report, or die after claiming PASS; and copies of a
 * passing node test whose output_0.pb is rewritten (one value changed,
 * dims reversed, stored as f64, a NaN expected) must come out FAIL with
 * the mismatch named.
 */
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "frontend/onnx.h"
#include "ir/ir.h"

static void put_varint(FILE *f, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		fputc(b | (v ? 0x80 : 0), f);
	} while (v);
}

/* Writes a TensorProto: dims (1), data_type (2), name (8), raw_data (9). */
static bool write_tensor_pb(const char *path, const char *name, int dtype, int rank,
                            const int64_t *dims, const void *data, size_t nbytes)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	for (int i = 0; i < rank; i++) {
		fputc(0x08, f);
		put_varint(f, (uint64_t)dims[i]);
	}
	fputc(0x10, f);
	put_varint(f, (uint64_t)dtype);
	fputc(0x42, f);
	put_varint(f, strlen(name));
	fputs(name, f);
	fputc(0x4a, f);
	put_varint(f, nbytes);
	fwrite(data, 1, nbytes, f);
	return fclose(f) == 0;
}

/* snprintf into buf that reports truncation (a path longer than buf). */
static bool fmt_path(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static bool fmt_path(char *buf, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int r = vsnprintf(buf, n, f, ap);
	va_end(ap);
	return r >= 0 && (size_t)r < n;
}

/* A copy of case src under dir/name (model and inputs symlinked) whose
 * output_0.pb is rewritten by `how`: 0 unchanged, 1 one value changed,
 * 2 dims reversed, 3 as f64, 4 first value NaN. */
static bool make_variant(const char *src, const char *dir, const char *name, int how)
{
	char d[4200], a[4300], b[4300];
	Arena ar = {0};
	Diag dg;
	Tensor t;
	const char *tname = "";
	bool ok = false;
	if (!fmt_path(d, sizeof d, "%s/%s", dir, name) || !fmt_path(a, sizeof a, "%s/test_data_set_0", d))
		return false;
	if (mkdir(d, 0777) != 0 || mkdir(a, 0777) != 0)
		return false;
	if (!fmt_path(a, sizeof a, "%s/model.onnx", src) || !fmt_path(b, sizeof b, "%s/model.onnx", d) ||
	    symlink(a, b) != 0)
		return false;
	for (int k = 0;; k++) {
		if (!fmt_path(a, sizeof a, "%s/test_data_set_0/input_%d.pb", src, k))
			return false;
		if (!file_exists(a))
			break;
		if (!fmt_path(b, sizeof b, "%s/test_data_set_0/input_%d.pb", d, k) || symlink(a, b) != 0)
			return false;
	}
	if (!fmt_path(a, sizeof a, "%s/test_data_set_0/output_0.pb", src) ||
	    !fmt_path(b, sizeof b, "%s/test_data_set_0/output_0.pb", d))
		return false;
	diag_init(&dg, a, false);
	if (!onnx_load_tensor_file(a, &ar, &t, &tname, &dg) || t.dtype != DT_F32 || t.nbytes < 8)
		goto out;
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < t.shape.rank; i++)
		dims[i] = how == 2 ? t.shape.dims[t.shape.rank - 1 - i] : t.shape.dims[i];
	float *v = malloc(t.nbytes);
	if (!v)
		goto out;
	memcpy(v, t.data, t.nbytes);
	if (how == 1)
		v[1] += 0.5f;
	if (how == 4)
		v[0] = NAN;
	if (how == 3) {
		size_t n = t.nbytes / 4;
		double *w = malloc(n * 8);
		if (w) {
			for (size_t i = 0; i < n; i++)
				w[i] = v[i];
			ok = write_tensor_pb(b, tname, DT_F64, t.shape.rank, dims, w, n * 8);
		}
		free(w);
	} else {
		ok = write_tensor_pb(b, tname, DT_F32, t.shape.rank, dims, v, t.nbytes);
	}
	free(v);
out:
	diag_free(&dg);
	arena_free(&ar);
	return ok;
}

/* Runs children that crash, hang and lie, and copies of a passing node
 * test with corrupted expectations; checks that each is classified as
 * expected.  Returns the number of surprises. */
int self_test(Options o, const char *base_case)
{
	static const struct {
		const char *name;
		int kind;     /* SELF_* or -1 - variant */
		Status want;
		const char *detail;
	} tests[] = {
		{"self_segv", SELF_SEGV, ST_CRASH, "SIGSEGV during run"},
		{"self_abort", SELF_ABORT, ST_CRASH, "Assertion `0' failed"},
		{"self_hang", SELF_HANG, ST_TIMEOUT, "no result after"},
		{"self_hang_noalarm", SELF_HANG_NOALARM, ST_TIMEOUT, "no result after"},
		{"self_sanitizer", SELF_SANITIZER, ST_CRASH, "ERROR: AddressSanitizer: heap-buffer-overflow"},
		{"self_lie", SELF_BAD_LINE, ST_CRASH, "SIGSEGV"},
		{"self_pass", -1 - 0, ST_PASS, "1 data set"},
		{"self_value", -1 - 1, ST_FAIL, "output 0 'transposed' at [0,0,1] (flat 1): got"},
		{"self_shape", -1 - 2, ST_FAIL, "shape [4,3,2], expected [2,3,4]"},
		{"self_dtype", -1 - 3, ST_FAIL, "dtype f32, expected f64"},
		{"self_nan", -1 - 4, ST_FAIL, "expected nan"},
	};
	enum { N = sizeof tests / sizeof tests[0] };
	char src[4200], dir[4200], workdir[4200];
	snprintf(src, sizeof src, "%s/%s", o.tests_dir, base_case);
	snprintf(dir, sizeof dir, "/tmp/onnxcc-selftest-XXXXXX");
	snprintf(workdir, sizeof workdir, "/tmp/onnxcc-conf-XXXXXX");
	if (!mkdtemp(dir) || !mkdtemp(workdir)) {
		perror("onnxcc-conformance: mkdtemp");
		return 1;
	}
	Case cases[N];
	int bad = 0;
	memset(cases, 0, sizeof cases);
	for (int i = 0; i < N; i++) {
		cases[i].name = xstrdup(tests[i].name);
		if (tests[i].kind >= 0) {
			cases[i].selftest = tests[i].kind;
			cases[i].dir = xstrdup(dir);
		} else {
			char d[4300];
			snprintf(d, sizeof d, "%s/%s", dir, tests[i].name);
			cases[i].dir = xstrdup(d);
			if (!make_variant(src, dir, tests[i].name, -1 - tests[i].kind)) {
				fprintf(stderr, "self-test: cannot build %s from %s\n", tests[i].name, src);
				return 1;
			}
		}
	}
	/* misbehaving children with a short timeout, real compiles with the
	 * normal one */
	Options quick = o;
	quick.timeout_s = 1;
	quick.verbose = false;
	o.verbose = false;
	run_all(&quick, cases, 6, workdir);
	run_all(&o, cases + 6, N - 6, workdir);
	for (int i = 0; i < N; i++) {
		const char *d = cases[i].detail ? cases[i].detail : "";
		bool ok = cases[i].status == tests[i].want && strstr(d, tests[i].detail);
		printf("self-test %-18s %-8s %s%s\n", tests[i].name, status_names[cases[i].status],
		       ok ? "ok" : "UNEXPECTED: ", ok ? "" : d);
		if (!ok) {
			printf("  wanted %s with '%s'\n", status_names[tests[i].want], tests[i].detail);
			bad++;
		}
		free(cases[i].name);
		free(cases[i].dir);
		free(cases[i].detail);
	}
	rmtree(dir);
	rmtree(workdir);
	printf("self-test: %d of %d as expected\n", N - bad, N);
	return bad;
}

/* tests/conformance/conformance.c — the ONNX node-test conformance runner.
 *
 *   onnxcc-conformance [options] [CASE_DIR...]
 *
 * For every case (a directory holding model.onnx and test_data_set_N/
 * {input_K.pb, output_K.pb}) a forked child compiles model.onnx to a .so
 * with onnxcc_compile(), dlopens it, feeds it the inputs and compares the
 * outputs with ONNX's rule |got - exp| <= atol + rtol*|exp| (rtol 1e-3,
 * atol 1e-7; NaN matches NaN, inf matches inf of the same sign; integers
 * and bools exactly; dtype and shape must match).  Each case ends as exactly
 * one of
 *     PASS      every output matched
 *     REJECTED  the compiler refused the model with a diagnostic
 *     FAIL      wrong answer, or a broken contract (no diagnostic on a
 *               failed compile, non-zero run status, a write past an output
 *               buffer, an input modified)
 *     CRASH     the child died of a signal or a sanitizer report
 *     TIMEOUT   the child ran longer than --timeout seconds
 *
 * Child protocol: the child writes free text (details, for -v) to a pipe
 * and ends with one line "@@RESULT STATUS\tdetail".  Fatal-signal handlers
 * write that line too (naming the phase the child was in) before dying; a
 * child that exits without it is a CRASH whose detail is the telling line
 * of its stderr (sanitizer, assertion, LLVM error).  The parent runs -j
 * children at once, each in its own process group so a timeout also kills
 * the linker the compiler spawned.
 *
 * Output: the per-case table "case<TAB>status<TAB>detail" (default
 * <build dir>/conformance.txt when the whole suite runs), then
 *     conformance: P passed, F failed          (F = FAIL + CRASH + TIMEOUT)
 *     rejected: R (top reasons: Op n, ...)
 * Exit status 1 iff F > 0 (2 on usage errors).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codegen/compile.h"
#include "frontend/onnx.h"
#include "ir/ir.h"
#include "npy.h"
#include "onnxcc_model.h"

#ifndef ONNXCC_NODE_TESTS
#define ONNXCC_NODE_TESTS "../shared/onnx-node-tests"
#endif
#ifndef ONNXCC_BINARY_DIR
#define ONNXCC_BINARY_DIR "."
#endif

#define RTOL 1e-3
#define ATOL 1e-7
#define CANARY 64          /* guard bytes after every buffer given to a model */
#define FILL 0xA5          /* initial byte of outputs and workspace */

typedef enum Status { ST_PASS, ST_REJECTED, ST_FAIL, ST_CRASH, ST_TIMEOUT, ST__COUNT } Status;
static const char *status_names[ST__COUNT] = {"PASS", "REJECTED", "FAIL", "CRASH", "TIMEOUT"};

typedef struct Options {
	const char *tests_dir;
	const char *out_path;    /* table; NULL: none */
	int jobs;
	int timeout_s;
	int opt_level;
	bool verbose;
	bool keep;
	bool list_failures;
} Options;

typedef struct Case {
	char *name;
	char *dir;
	Status status;
	char *detail;
	double ms;
	int selftest;        /* --self-test: a SELF_* misbehaviour, or 0 */
} Case;

/* --self-test children that misbehave on purpose, to check that the
 * parent classifies each kind of death. */
enum { SELF_NONE, SELF_SEGV, SELF_ABORT, SELF_HANG, SELF_HANG_NOALARM, SELF_SANITIZER,
       SELF_BAD_LINE };

/* ======================================================================
 * Child side
 * ====================================================================== */

static int result_fd = -1;                    /* pipe to the parent */
static volatile sig_atomic_t phase;           /* for the crash handler */
static const char *const phase_names[] = {"setup", "compile", "load", "run", "compare"};
enum { PH_SETUP, PH_COMPILE, PH_LOAD, PH_RUN, PH_COMPARE };

/* Writes all of s to the pipe (ignores errors: the parent will see a
 * missing result). */
static void put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(result_fd, s, n);
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return;
		}
		s += k;
		n -= (size_t)k;
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Ends the child with its result line. */
static void finish(Status st, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void finish(Status st, const char *fmt, ...)
{
	char detail[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	for (char *p = detail; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	say("\n@@RESULT %s\t%s\n", status_names[st], detail);
	/* _exit: skip atexit work (LeakSanitizer) in the child */
	_exit(0);
}

static void crash_handler(int sig)
{
	/* async-signal-safe: only write() and constant strings */
	const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS"
	                 : sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL"
	                 : sig == SIGABRT ? "SIGABRT" : "signal";
	const char *ph = (unsigned)phase < 5 ? phase_names[phase] : "?";
	put("\n@@RESULT CRASH\t", 16);
	put(name, strlen(name));
	put(" during ", 8);
	put(ph, strlen(ph));
	put("\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_crash_handlers(void)
{
	static char altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = crash_handler;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

/* First error line of a Diag (warnings skipped; the first warning if
 * there is nothing else), without the newline; "" if the Diag is empty. */
static void first_error(const Diag *d, char *out, size_t n)
{
	out[0] = 0;
	for (const char *p = d->buf ? d->buf : ""; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[2048];
		snprintf(line, sizeof line, "%.*s", (int)len, p);
		bool warn = strstr(line, "warning: ") != NULL;
		if (!warn || !out[0])
			snprintf(out, n, "%s", line);
		if (!warn)
			return;
		p = e ? e + 1 : p + len;
	}
}

static void *guarded_alloc(uint64_t nbytes)
{
	size_t n = (size_t)((nbytes + CANARY + 63) / 64 * 64);
	void *p = aligned_alloc(64, n);
	if (p)
		memset(p, FILL, n);
	return p;
}

static bool canary_ok(const void *p, uint64_t nbytes)
{
	const unsigned char *c = (const unsigned char *)p + nbytes;
	for (int i = 0; i < CANARY; i++)
		if (c[i] != FILL)
			return false;
	return true;
}

static const char *shape_text(const Shape *s, char *buf, size_t n)
{
	int64_t d[IR_MAX_RANK];
	for (int i = 0; i < s->rank && i < IR_MAX_RANK; i++)
		d[i] = s->dims[i];
	return onnxcc_shape_str(s->rank, d, buf, n);
}

static bool same_shape(const Shape *s, const OnnxccTensorInfo *t)
{
	if (s->rank != t->rank)
		return false;
	for (int i = 0; i < s->rank; i++)
		if (s->dims[i] != t->shape[i])
			return false;
	return true;
}

/* ONNX's test generator stores bfloat16 tensors as uint16 bit patterns
 * (NumPy has no bfloat16): such data stands for the bf16 the model uses. */
static bool bf16_as_u16(DType data, int32_t model)
{
	return data == DT_U16 && model == DT_BF16;
}

/* Whether the model file itself declares input k with exactly the static
 * type of the compiled descriptor. */
static bool declared_as(const char *model_path, int k, const OnnxccTensorInfo *ti)
{
	Diag d;
	diag_init(&d, model_path, false);
	Graph *g = onnx_load(model_path, &d);
	bool same = false;
	if (g && k < g->ninputs) {
		const Value *v = gval(g, g->inputs[k]);
		same = (int32_t)v->dtype == ti->dtype && shape_is_static(&v->shape) &&
		       same_shape(&v->shape, ti);
	}
	if (g)
		graph_free(g);
	diag_free(&d);
	return same;
}

/* "[i,j,k]" of flat index i in shape. */
static const char *multi_index(const OnnxccTensorInfo *t, uint64_t flat, char *buf, size_t n)
{
	int64_t idx[ONNXCC_NPY_MAX_RANK];
	for (int d = t->rank - 1; d >= 0 && d < ONNXCC_NPY_MAX_RANK; d--) {
		uint64_t dim = t->shape[d] > 0 ? (uint64_t)t->shape[d] : 1;
		idx[d] = (int64_t)(flat % dim);
		flat /= dim;
	}
	return onnxcc_shape_str(t->rank, idx, buf, n);
}

static bool float_close(double got, double exp)
{
	if (isnan(exp) || isnan(got))
		return isnan(exp) && isnan(got);
	if (isinf(exp) || isinf(got))
		return got == exp;
	return fabs(got - exp) <= ATOL + RTOL * fabs(exp);
}

/* Compares one output; false after reporting the first mismatch (all of
 * them, up to 20, with -v). */
static bool compare_output(int k, const OnnxccTensorInfo *t, const void *got,
                           const Tensor *exp_in, bool verbose, char *detail, size_t dn)
{
	char s1[256], s2[256];
	Tensor bf = *exp_in;
	const Tensor *exp = exp_in;
	if (bf16_as_u16(exp->dtype, t->dtype)) {
		bf.dtype = DT_BF16;
		exp = &bf;
	}
	if ((int32_t)exp->dtype != t->dtype) {
		snprintf(detail, dn, "output %d '%s': dtype %s, expected %s", k, t->name,
		         onnxcc_dtype_name(t->dtype), onnxcc_dtype_name((int32_t)exp->dtype));
		return false;
	}
	if (!same_shape(&exp->shape, t)) {
		snprintf(detail, dn, "output %d '%s': shape %s, expected %s", k, t->name,
		         onnxcc_shape_str(t->rank, t->shape, s1, sizeof s1),
		         shape_text(&exp->shape, s2, sizeof s2));
		return false;
	}
	uint64_t n = 1;
	for (int d = 0; d < t->rank; d++)
		n *= (uint64_t)t->shape[d];
	size_t es = onnxcc_dtype_size(t->dtype);
	if (es == 0 || exp->nbytes < n * es) {
		snprintf(detail, dn, "output %d '%s': cannot compare dtype %s (%zu expected bytes)",
		         k, t->name, onnxcc_dtype_name(t->dtype), exp->nbytes);
		return false;
	}
	bool is_float = onnxcc_dtype_is_float(t->dtype);
	uint64_t bad = 0, first = 0;
	double max_err = 0;
	for (uint64_t i = 0; i < n; i++) {
		bool ok;
		if (is_float) {
			double g = onnxcc_elem_f64(t->dtype, got, i);
			double e = onnxcc_elem_f64(t->dtype, exp->data, i);
			ok = float_close(g, e);
			if (!ok && isfinite(g) && isfinite(e) && fabs(g - e) > max_err)
				max_err = fabs(g - e);
			if (!ok && verbose && bad < 20)
				say("  output %d '%s' %s: got %.9g, expected %.9g\n", k, t->name,
				    multi_index(t, i, s1, sizeof s1), g, e);
		} else {
			int64_t g = onnxcc_elem_i64(t->dtype, got, i);
			int64_t e = onnxcc_elem_i64(t->dtype, exp->data, i);
			ok = g == e;
			if (!ok && verbose && bad < 20)
				say("  output %d '%s' %s: got %lld, expected %lld\n", k, t->name,
				    multi_index(t, i, s1, sizeof s1), (long long)g, (long long)e);
		}
		if (!ok && bad++ == 0)
			first = i;
	}
	if (bad == 0)
		return true;
	if (is_float)
		snprintf(detail, dn,
		         "output %d '%s' at %s (flat %llu): got %.9g, expected %.9g "
		         "(%llu of %llu differ, max abs err %.3g)",
		         k, t->name, multi_index(t, first, s1, sizeof s1),
		         (unsigned long long)first, onnxcc_elem_f64(t->dtype, got, first),
		         onnxcc_elem_f64(t->dtype, exp->data, first), (unsigned long long)bad,
		         (unsigned long long)n, max_err);
	else
		snprintf(detail, dn,
		         "output %d '%s' at %s (flat %llu): got %lld, expected %lld "
		         "(%llu of %llu differ)",
		         k, t->name, multi_index(t, first, s1, sizeof s1),
		         (unsigned long long)first, (long long)onnxcc_elem_i64(t->dtype, got, first),
		         (long long)onnxcc_elem_i64(t->dtype, exp->data, first),
		         (unsigned long long)bad, (unsigned long long)n);
	return false;
}

static bool file_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

/* A tensor name as a file name (as onnxcc-run does for outputs). */
static const char *file_name(const char *name, char *base, size_t n)
{
	size_t k = 0;
	for (const char *p = name; *p && k + 1 < n; p++)
		base[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		            (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ? *p : '_';
	base[k] = 0;
	return base;
}

/* With --keep: a test tensor as DIR/PREFIX<name>.npy. */
static void keep_npy(const char *dir, const char *prefix, const char *name, const Tensor *t)
{
	char base[256], path[4096], err[512];
	file_name(name, base, sizeof base);
	snprintf(path, sizeof path, "%s/%s%s.npy", dir, prefix, base);
	int64_t d[IR_MAX_RANK];
	for (int i = 0; i < t->shape.rank; i++)
		d[i] = t->shape.dims[i];
	if (!onnxcc_npy_write(path, (int32_t)t->dtype, t->shape.rank, d, t->data, err, sizeof err))
		say("keep: %s\n", err);
}

/* One data set: load, run, check.  Returns only on success (else finish). */
static void run_data_set(const Options *o, const OnnxccModel *m, const char *model_path,
                         const char *sodir, const char *setdir)
{
	Arena a = {0};
	Diag d;
	char path[4096], detail[2048], s1[256], s2[256];
	int nin = 0, nout = 0;
	while (snprintf(path, sizeof path, "%s/input_%d.pb", setdir, nin), file_exists(path))
		nin++;
	while (snprintf(path, sizeof path, "%s/output_%d.pb", setdir, nout), file_exists(path))
		nout++;
	if ((uint32_t)nin != m->ninputs)
		finish(ST_FAIL, "%s: %d input files, the compiled model has %u inputs", setdir,
		       nin, m->ninputs);
	if ((uint32_t)nout != m->noutputs)
		finish(ST_FAIL, "%s: %d output files, the compiled model has %u outputs", setdir,
		       nout, m->noutputs);

	phase = PH_LOAD;
	void **in = calloc((size_t)nin + 1, sizeof *in);
	void **in_copy = calloc((size_t)nin + 1, sizeof *in_copy);
	void **out = calloc((size_t)nout + 1, sizeof *out);
	Tensor *exp = calloc((size_t)nout + 1, sizeof *exp);
	if (!in || !in_copy || !out || !exp)
		finish(ST_CRASH, "out of memory");
	for (int k = 0; k < nin; k++) {
		const OnnxccTensorInfo *ti = &m->inputs[k];
		Tensor t;
		const char *name = "";
		snprintf(path, sizeof path, "%s/input_%d.pb", setdir, k);
		diag_init(&d, path, false);
		if (!onnx_load_tensor_file(path, &a, &t, &name, &d)) {
			first_error(&d, detail, sizeof detail);
			finish(ST_REJECTED, "test data: %s", detail);
		}
		if (bf16_as_u16(t.dtype, ti->dtype))
			t.dtype = DT_BF16;
		if ((int32_t)t.dtype != ti->dtype || !same_shape(&t.shape, ti)) {
			/* Some node tests (ONNX 1.12) feed data that contradicts the
			 * model's own static input type: not the compiler's fault. */
			Status st = declared_as(model_path, k, ti) ? ST_REJECTED : ST_FAIL;
			finish(st, "%sinput %d '%s': test data is %s%s, the model %s %s%s",
			       st == ST_REJECTED ? "test data: " : "", k, ti->name,
			       dtype_name(t.dtype), shape_text(&t.shape, s1, sizeof s1),
			       st == ST_REJECTED ? "declares" : "was compiled for",
			       onnxcc_dtype_name(ti->dtype),
			       onnxcc_shape_str(ti->rank, ti->shape, s2, sizeof s2));
		}
		if (o->verbose && name[0] && strcmp(name, ti->name) != 0)
			say("note: input_%d.pb is named '%s', model input %d is '%s'\n", k, name, k,
			    ti->name);
		uint64_t nb = ti->nbytes;   /* == t.nbytes: dtype and shape match */
		if (t.nbytes > nb)
			finish(ST_FAIL, "input %d '%s': descriptor nbytes %llu < %zu bytes of data",
			       k, ti->name, (unsigned long long)nb, t.nbytes);
		in[k] = guarded_alloc(nb);
		in_copy[k] = malloc((size_t)nb + 1);
		if (!in[k] || !in_copy[k])
			finish(ST_CRASH, "out of memory");
		memcpy(in[k], t.data, t.nbytes);
		memcpy(in_copy[k], in[k], (size_t)nb);
		if (o->keep)
			keep_npy(sodir, "", ti->name, &t);
		diag_free(&d);
	}
	for (int k = 0; k < nout; k++) {
		const char *name = "";
		snprintf(path, sizeof path, "%s/output_%d.pb", setdir, k);
		diag_init(&d, path, false);
		if (!onnx_load_tensor_file(path, &a, &exp[k], &name, &d)) {
			first_error(&d, detail, sizeof detail);
			finish(ST_REJECTED, "test data: %s", detail);
		}
		out[k] = guarded_alloc(m->outputs[k].nbytes);
		if (!out[k])
			finish(ST_CRASH, "out of memory");
		if (o->keep)
			keep_npy(sodir, "expected_", m->outputs[k].name, &exp[k]);
		diag_free(&d);
	}
	void *ws = guarded_alloc(m->workspace_size);
	if (!ws)
		finish(ST_CRASH, "out of memory");

	phase = PH_RUN;
	int st = m->run((const void *const *)in, out, ws);
	phase = PH_COMPARE;
	if (st != ONNXCC_OK)
		finish(ST_FAIL, "run returned status %d (%s)", st,
		       st == ONNXCC_ERR_NULL ? "ONNXCC_ERR_NULL" :
		       st == ONNXCC_ERR_ALIGN ? "ONNXCC_ERR_ALIGN" : "unknown status");
	for (int k = 0; k < nin; k++) {
		uint64_t nb = m->inputs[k].nbytes > 0 ? m->inputs[k].nbytes : 0;
		if (memcmp(in[k], in_copy[k], (size_t)nb) != 0 || !canary_ok(in[k], nb))
			finish(ST_FAIL, "the model modified input %d '%s' (or wrote past its end)",
			       k, m->inputs[k].name);
	}
	for (int k = 0; k < nout; k++)
		if (!canary_ok(out[k], m->outputs[k].nbytes))
			finish(ST_FAIL, "the model wrote past the end of output %d '%s' (%llu bytes)",
			       k, m->outputs[k].name, (unsigned long long)m->outputs[k].nbytes);
	if (!canary_ok(ws, m->workspace_size))
		finish(ST_FAIL, "the model wrote past the end of its workspace (%llu bytes)",
		       (unsigned long long)m->workspace_size);
	bool all_ok = true;
	char first_detail[2048] = "";
	for (int k = 0; k < nout; k++) {
		if (!compare_output(k, &m->outputs[k], out[k], &exp[k], o->verbose, detail,
		                    sizeof detail)) {
			if (o->verbose)
				say("%s\n", detail);
			if (all_ok)
				snprintf(first_detail, sizeof first_detail, "%s", detail);
			all_ok = false;
		}
	}
	if (!all_ok)
		finish(ST_FAIL, "%s", first_detail);
	for (int k = 0; k < nin; k++) {
		free(in[k]);
		free(in_copy[k]);
	}
	for (int k = 0; k < nout; k++)
		free(out[k]);
	free(ws);
	free(in);
	free(in_copy);
	free(out);
	free(exp);
	arena_free(&a);
}

/* The whole case, in the child.  Never returns. */
static void child_main(const Options *o, const Case *c, const char *workdir)
{
	char sodir[4096], so[4200], model[4200], detail[2048];
	phase = PH_SETUP;
	snprintf(sodir, sizeof sodir, "%s/%s", workdir, c->name);
	if (mkdir(sodir, 0777) != 0 && errno != EEXIST)
		finish(ST_CRASH, "mkdir %s: %s", sodir, strerror(errno));
	snprintf(so, sizeof so, "%s/model.so", sodir);
	snprintf(model, sizeof model, "%s/model.onnx", c->dir);

	phase = PH_COMPILE;
	CompileOptions co;
	memset(&co, 0, sizeof co);
	co.model_path = model;
	co.out_path = so;
	co.prefix = "model";
	co.opt_level = o->opt_level;
	co.quiet = true;
	Diag d;
	diag_init(&d, model, false);
	bool ok = onnxcc_compile(&co, &d);
	if (o->verbose && d.buf)
		say("diagnostics:\n%s", d.buf);
	if (!ok) {
		first_error(&d, detail, sizeof detail);
		if (!detail[0])
			finish(ST_FAIL, "compile failed without a diagnostic");
		finish(ST_REJECTED, "%s", detail);
	}
	diag_free(&d);

	phase = PH_LOAD;
	void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		finish(ST_FAIL, "dlopen: %s", dlerror());
	const OnnxccModel *m = dlsym(dl, "onnxcc_model");
	if (!m)
		finish(ST_FAIL, "the .so has no symbol onnxcc_model");
	if (m->abi_version != ONNXCC_ABI_VERSION || !m->run)
		finish(ST_FAIL, "bad descriptor: abi_version %u, run %s", m->abi_version,
		       m->run ? "set" : "NULL");

	int nsets = 0;
	char setdir[4200];
	while (snprintf(setdir, sizeof setdir, "%s/test_data_set_%d", c->dir, nsets),
	       file_exists(setdir)) {
		run_data_set(o, m, model, sodir, setdir);
		nsets++;
	}
	if (nsets == 0)
		finish(ST_REJECTED, "test data: no test_data_set_0");
	if (o->keep) {
		say("kept %s; rerun with:\n  %s/onnxcc-run %s", sodir, ONNXCC_BINARY_DIR, so);
		for (uint32_t k = 0; k < m->ninputs; k++) {
			char base[256];
			say(" --input '%s=%s/%s.npy'", m->inputs[k].name, sodir,
			    file_name(m->inputs[k].name, base, sizeof base));
		}
		say("\n");
	}
	finish(ST_PASS, "%d data set%s", nsets, nsets == 1 ? "" : "s");
}

/* A child that misbehaves as --self-test asks.  Never returns. */
static void selftest_child(int kind) __attribute__((noreturn));
static void selftest_child(int kind)
{
	sigset_t set;
	switch (kind) {
	case SELF_SEGV:
		phase = PH_RUN;
		raise(SIGSEGV);
		break;
	case SELF_ABORT:
		phase = PH_COMPILE;
		fprintf(stderr, "selftest: compile.c:1: f: Assertion `0' failed.\n");
		fflush(stderr);
		abort();
	case SELF_HANG:
		for (;;)
			pause();
	case SELF_HANG_NOALARM:
		/* ignores SIGALRM: only the parent's deadline can end it */
		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		for (;;)
			pause();
	case SELF_SANITIZER:
		fprintf(stderr, "=================\n==1==ERROR: AddressSanitizer: "
		        "heap-buffer-overflow on address 0x1\nmore text\n");
		fflush(stderr);
		_exit(1);
	case SELF_BAD_LINE:
		say("@@RESULT PASS\tlooks fine\n");
		raise(SIGSEGV);   /* ... but dies after claiming success */
		break;
	}
	_exit(3);
}

/* ======================================================================
 * Parent side
 * ====================================================================== */

typedef struct Slot {
	pid_t pid;           /* 0: free */
	int fd;
	Case *c;
	char *buf;           /* everything the child wrote */
	size_t len, cap;
	double start, deadline;
} Slot;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p) {
		fputs("onnxcc-conformance: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

static void slot_read(Slot *s)
{
	for (;;) {
		if (s->cap - s->len < 4096) {
			s->cap = s->cap ? s->cap * 2 : 16384;
			s->buf = realloc(s->buf, s->cap);
			if (!s->buf) {
				fputs("onnxcc-conformance: out of memory\n", stderr);
				exit(2);
			}
		}
		ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
		if (k > 0) {
			s->len += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		break;   /* EOF or EAGAIN */
	}
	if (s->buf)
		s->buf[s->len] = 0;
}

/* The telling line of a dead child's stderr. */
static void stderr_excerpt(const char *path, char *out, size_t n)
{
	out[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	static const char *keys[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
	                             "runtime error:", "Assertion", "internal error",
	                             "LLVM ERROR", "ERROR:"};
	char line[1024], last[1024] = "", best[1024] = "";
	int best_rank = 100;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		snprintf(last, sizeof last, "%s", line);
		for (int k = 0; k < (int)(sizeof keys / sizeof keys[0]); k++)
			if (k < best_rank && strstr(line, keys[k])) {
				best_rank = k;
				snprintf(best, sizeof best, "%s", line);
			}
	}
	fclose(f);
	snprintf(out, n, "%.300s", best[0] ? best : last);
}

static void slot_finish(const Options *o, Slot *s, int wst, bool timed_out,
                        const char *workdir)
{
	Case *c = s->c;
	slot_read(s);
	close(s->fd);
	c->ms = (now_s() - s->start) * 1e3;
	const char *text = s->buf ? s->buf : "";
	const char *res = NULL, *res_at;
	for (const char *p = strstr(text, "@@RESULT "); p; p = strstr(p + 1, "@@RESULT "))
		res = p;
	res_at = res;
	char errpath[4200], excerpt[512];
	snprintf(errpath, sizeof errpath, "%s/%s/stderr.txt", workdir, c->name);
	if (timed_out || (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)) {
		c->status = ST_TIMEOUT;
		char d[128];
		snprintf(d, sizeof d, "no result after %d s", o->timeout_s);
		c->detail = xstrdup(d);
	} else if (res) {
		res += strlen("@@RESULT ");
		const char *tab = strchr(res, '\t');
		const char *nl = strchr(res, '\n');
		if (!nl)
			nl = res + strlen(res);
		c->status = ST_CRASH;
		for (int k = 0; k < ST__COUNT; k++)
			if (tab && (size_t)(tab - res) == strlen(status_names[k]) &&
			    strncmp(res, status_names[k], (size_t)(tab - res)) == 0)
				c->status = (Status)k;
		const char *dstart = tab && tab < nl ? tab + 1 : nl;
		char *d = malloc((size_t)(nl - dstart) + 600);
		if (!d)
			exit(2);
		snprintf(d, (size_t)(nl - dstart) + 1, "%s", dstart);
		if (c->status == ST_CRASH) {
			stderr_excerpt(errpath, excerpt, sizeof excerpt);
			if (excerpt[0])
				snprintf(d + strlen(d), 600, " | %s", excerpt);
		}
		c->detail = d;
		/* A PASS/FAIL whose process then died is still a crash. */
		if (c->status != ST_CRASH && WIFSIGNALED(wst)) {
			char *d2 = malloc(strlen(d) + 64);
			if (!d2)
				exit(2);
			sprintf(d2, "signal %d after result %s: %s", WTERMSIG(wst),
			        status_names[c->status], d);
			free(d);
			c->detail = d2;
			c->status = ST_CRASH;
		}
	} else {
		c->status = ST_CRASH;
		char d[1024];
		stderr_excerpt(errpath, excerpt, sizeof excerpt);
		if (WIFSIGNALED(wst))
			snprintf(d, sizeof d, "killed by signal %d (%s)%s%s", WTERMSIG(wst),
			         strsignal(WTERMSIG(wst)), excerpt[0] ? " | " : "", excerpt);
		else
			snprintf(d, sizeof d, "exited with status %d without a result%s%s",
			         WIFEXITED(wst) ? WEXITSTATUS(wst) : -1, excerpt[0] ? " | " : "",
			         excerpt);
		c->detail = xstrdup(d);
	}
	if (o->verbose) {
		/* the child's text without its result line */
		size_t n = res_at ? (size_t)(res_at - text) : strlen(text);
		printf("=== %s\n%.*s%s%s: %s (%.0f ms)\n", c->name, (int)n, text,
		       n && text[n - 1] != '\n' ? "\n" : "", status_names[c->status], c->detail,
		       c->ms);
		fflush(stdout);
	} else if (c->status >= ST_FAIL) {
		printf("%s %s: %s\n", status_names[c->status], c->name, c->detail);
		fflush(stdout);
	}
	free(s->buf);
	memset(s, 0, sizeof *s);
}

static void slot_start(const Options *o, Slot *s, Case *c, const char *workdir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		perror("onnxcc-conformance: pipe");
		exit(2);
	}
	char casedir[4200];
	snprintf(casedir, sizeof casedir, "%s/%s", workdir, c->name);
	mkdir(casedir, 0777);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("onnxcc-conformance: fork");
		exit(2);
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(p[0]);
		result_fd = p[1];
		if (!o->verbose) {
			char errpath[4300];
			snprintf(errpath, sizeof errpath, "%s/stderr.txt", casedir);
			int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
			/* -v leaves the sanitizers' own handlers (stack traces) */
			install_crash_handlers();
		}
		alarm((unsigned)o->timeout_s);
		if (c->selftest)
			selftest_child(c->selftest);
		child_main(o, c, workdir);
	}
	setpgid(pid, pid);   /* also in the parent: no race with kill(-pid) */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->fd = p[0];
	s->c = c;
	s->buf = NULL;
	s->len = s->cap = 0;
	s->start = now_s();
	s->deadline = s->start + o->timeout_s + 5;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void run_all(const Options *o, Case *cases, int n, const char *workdir)
{
	Slot *slots = calloc((size_t)o->jobs, sizeof *slots);
	struct pollfd *pf = calloc((size_t)o->jobs, sizeof *pf);
	if (!slots || !pf)
		exit(2);
	int next = 0, running = 0;
	while (next < n || running > 0) {
		for (int i = 0; i < o->jobs && next < n; i++) {
			if (slots[i].pid == 0) {
				slot_start(o, &slots[i], &cases[next++], workdir);
				running++;
			}
		}
		int np = 0;
		for (int i = 0; i < o->jobs; i++)
			if (slots[i].pid)
				pf[np++] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
		poll(pf, (nfds_t)np, 20);
		double t = now_s();
		for (int i = 0; i < o->jobs; i++) {
			Slot *s = &slots[i];
			if (!s->pid)
				continue;
			slot_read(s);
			int wst = 0;
			pid_t r = waitpid(s->pid, &wst, WNOHANG);
			bool timed_out = false;
			if (r == 0 && t > s->deadline) {
				kill(-s->pid, SIGKILL);
				waitpid(s->pid, &wst, 0);
				timed_out = true;
				r = s->pid;
			}
			if (r == s->pid && WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)
				kill(-s->pid, SIGKILL);   /* a linker the child left behind */
			if (r == s->pid) {
				Case *c = s->c;
				slot_finish(o, s, wst, timed_out, workdir);
				running--;
				if (!o->keep) {
					char casedir[4200];
					snprintf(casedir, sizeof casedir, "%s/%s", workdir, c->name);
					rmtree(casedir);
				}
			}
		}
	}
	free(slots);
	free(pf);
}

static int cmp_case(const void *a, const void *b)
{
	return strcmp(((const Case *)a)->name, ((const Case *)b)->name);
}

typedef struct Reason {
	char key[128];
	int count;
} Reason;

/* Groups a REJECTED detail: by op type when the diagnostic names a node
 * ("node 'N' (Op): ..."), otherwise by the message with the file name and
 * quoted names removed. */
static void reason_key(const char *detail, char *key, size_t n)
{
	const char *p = strstr(detail, "node '");
	if (p) {
		const char *q = strstr(p + 6, "' (");
		if (q) {
			const char *e = strchr(q + 3, ')');
			if (e) {
				snprintf(key, n, "%.*s", (int)(e - q - 3), q + 3);
				return;
			}
		}
	}
	if (strncmp(detail, "test data: input ", 17) == 0 && strstr(detail, "the model declares")) {
		snprintf(key, n, "test data contradicts the model's input type");
		return;
	}
	/* drop "path: " prefixes ending in .onnx: / .pb: */
	const char *s = detail;
	for (const char *m; (m = strstr(s, ".onnx: ")) || (m = strstr(s, ".pb: "));)
		s = strchr(m, ' ') + 1;
	size_t k = 0;
	bool in_quote = false;
	for (; *s && k + 1 < n && k < 60; s++) {
		if (*s == '\'') {
			if (!in_quote && k + 2 < n)
				key[k++] = '*';
			in_quote = !in_quote;
			continue;
		}
		if (!in_quote)
			key[k++] = *s;
	}
	key[k] = 0;
}

static int cmp_reason(const void *a, const void *b)
{
	const Reason *x = a, *y = b;
	if (x->count != y->count)
		return y->count - x->count;
	return strcmp(x->key, y->key);
}

/* ---- --self-test ----------------------------------------------------------- */

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
	snprintf(d, sizeof d, "%s/%s", dir, name);
	snprintf(a, sizeof a, "%s/test_data_set_0", d);
	if (mkdir(d, 0777) != 0 || mkdir(a, 0777) != 0)
		return false;
	snprintf(a, sizeof a, "%s/model.onnx", src);
	snprintf(b, sizeof b, "%s/model.onnx", d);
	if (symlink(a, b) != 0)
		return false;
	for (int k = 0;; k++) {
		snprintf(a, sizeof a, "%s/test_data_set_0/input_%d.pb", src, k);
		if (!file_exists(a))
			break;
		snprintf(b, sizeof b, "%s/test_data_set_0/input_%d.pb", d, k);
		if (symlink(a, b) != 0)
			return false;
	}
	snprintf(a, sizeof a, "%s/test_data_set_0/output_0.pb", src);
	snprintf(b, sizeof b, "%s/test_data_set_0/output_0.pb", d);
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
static int self_test(Options o, const char *base_case)
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

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: onnxcc-conformance [options] [CASE_DIR...]\n"
	        "Compiles and runs ONNX node tests (each CASE_DIR holds model.onnx and\n"
	        "test_data_set_N/), one forked child per case.\n"
	        "  --dir DIR         node tests directory (default $ONNXCC_NODE_TESTS,\n"
	        "                    else %s)\n"
	        "  --case NAME       only this case (repeatable)\n"
	        "  --filter SUBSTR   only cases whose name contains SUBSTR (repeatable)\n"
	        "  -j N              children at once (default 2)\n"
	        "  --timeout S       per case, seconds (default 60)\n"
	        "  -O N              optimisation level passed to the compiler (default 2)\n"
	        "  --out FILE        per-case table; default %s/conformance.txt when\n"
	        "                    the whole suite runs, none for a subset\n"
	        "  -v                the child's diagnostics / every mismatch (up to 20 per\n"
	        "                    output) and stderr; sanitizer stack traces on crashes\n"
	        "  --keep            keep the work directory: model.so, inputs and expected\n"
	        "                    outputs as .npy, and an onnxcc-run command line\n"
	        "  --list-failures   after the summary, list every FAIL/CRASH/TIMEOUT\n"
	        "  --self-test       check the runner itself: children that crash, hang\n"
	        "                    or lie, and copies of test_transpose_default with\n"
	        "                    corrupted expected outputs must be classified right\n"
	        "Exit status: 1 if any case FAILed, CRASHed or TIMEd OUT; 2 on usage errors.\n",
	        ONNXCC_NODE_TESTS, ONNXCC_BINARY_DIR);
}

static bool is_case_dir(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/model.onnx", dir);
	return file_exists(p);
}

int main(int argc, char **argv)
{
	Options o = {ONNXCC_NODE_TESTS, NULL, 2, 60, 2, false, false, false};
	setvbuf(stdout, NULL, _IOLBF, 0);   /* progress visible in ctest logs */
	const char *env_dir = getenv("ONNXCC_NODE_TESTS");
	if (env_dir && env_dir[0])
		o.tests_dir = env_dir;
	const char **names = calloc((size_t)argc, sizeof *names);
	const char **filters = calloc((size_t)argc, sizeof *filters);
	const char **paths = calloc((size_t)argc, sizeof *paths);
	int nnames = 0, nfilters = 0, npaths = 0;
	bool out_given = false, selftest = false;
	if (!names || !filters || !paths)
		exit(2);   /* exit, not return: allocations stay reachable */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
#define VAL() (has_val ? argv[++i] : (fprintf(stderr, "onnxcc-conformance: %s needs a value\n", a), exit(2), ""))
		if (!strcmp(a, "--dir"))
			o.tests_dir = VAL();
		else if (!strcmp(a, "--case"))
			names[nnames++] = VAL();
		else if (!strcmp(a, "--filter"))
			filters[nfilters++] = VAL();
		else if (!strcmp(a, "-j"))
			o.jobs = atoi(VAL());
		else if (!strncmp(a, "-j", 2) && a[2])
			o.jobs = atoi(a + 2);
		else if (!strcmp(a, "--timeout"))
			o.timeout_s = atoi(VAL());
		else if (!strncmp(a, "-O", 2) && a[2])
			o.opt_level = atoi(a + 2);
		else if (!strcmp(a, "-O"))
			o.opt_level = atoi(VAL());
		else if (!strcmp(a, "--out")) {
			o.out_path = VAL();
			out_given = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			o.verbose = true;
		else if (!strcmp(a, "--keep"))
			o.keep = true;
		else if (!strcmp(a, "--list-failures"))
			o.list_failures = true;
		else if (!strcmp(a, "--self-test"))
			selftest = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			fprintf(stderr, "onnxcc-conformance: unknown option '%s'\n", a);
			usage(stderr);
			exit(2);
		} else
			paths[npaths++] = a;
#undef VAL
	}
	if (o.jobs < 1 || o.timeout_s < 1 || o.opt_level < 0 || o.opt_level > 3) {
		fprintf(stderr, "onnxcc-conformance: -j, --timeout must be >= 1 and -O 0..3\n");
		exit(2);
	}
	if (selftest) {
		free(names);
		free(filters);
		free(paths);
		return self_test(o, "test_transpose_default") ? 1 : 0;
	}

	/* Collect the cases. */
	int cap = 1024, n = 0;
	Case *cases = calloc((size_t)cap, sizeof *cases);
	if (!cases)
		exit(2);
	if (npaths > 0) {
		for (int i = 0; i < npaths; i++) {
			if (!is_case_dir(paths[i])) {
				fprintf(stderr, "onnxcc-conformance: %s: no model.onnx there\n", paths[i]);
				exit(2);
			}
			if (n == cap && !(cases = realloc(cases, (size_t)(cap *= 2) * sizeof *cases)))
				exit(2);
			char *dir = xstrdup(paths[i]);
			size_t l = strlen(dir);
			while (l > 1 && dir[l - 1] == '/')
				dir[--l] = 0;
			const char *base = strrchr(dir, '/');
			cases[n++] = (Case){.name = xstrdup(base ? base + 1 : dir), .dir = dir};
		}
	} else {
		DIR *dh = opendir(o.tests_dir);
		if (!dh) {
			fprintf(stderr, "onnxcc-conformance: %s: %s\n", o.tests_dir, strerror(errno));
			exit(2);
		}
		for (struct dirent *e; (e = readdir(dh));) {
			if (e->d_name[0] == '.')
				continue;
			bool want = nnames == 0 && nfilters == 0;
			for (int k = 0; k < nnames; k++)
				want |= strcmp(e->d_name, names[k]) == 0;
			for (int k = 0; k < nfilters; k++)
				want |= strstr(e->d_name, filters[k]) != NULL;
			if (!want)
				continue;
			char dir[4200];
			snprintf(dir, sizeof dir, "%s/%s", o.tests_dir, e->d_name);
			if (!is_case_dir(dir))
				continue;
			if (n == cap && !(cases = realloc(cases, (size_t)(cap *= 2) * sizeof *cases)))
				exit(2);
			cases[n++] = (Case){.name = xstrdup(e->d_name), .dir = xstrdup(dir)};
		}
		closedir(dh);
		for (int k = 0; k < nnames; k++) {
			bool found = false;
			for (int i = 0; i < n; i++)
				found |= strcmp(cases[i].name, names[k]) == 0;
			if (!found) {
				fprintf(stderr, "onnxcc-conformance: no case '%s' in %s\n", names[k],
				        o.tests_dir);
				exit(2);
			}
		}
	}
	if (n == 0) {
		fprintf(stderr, "onnxcc-conformance: no cases selected\n");
		exit(2);
	}
	qsort(cases, (size_t)n, sizeof *cases, cmp_case);
	bool whole_suite = npaths == 0 && nnames == 0 && nfilters == 0;
	char default_out[4200];
	if (!out_given && whole_suite) {
		snprintf(default_out, sizeof default_out, "%s/conformance.txt", ONNXCC_BINARY_DIR);
		o.out_path = default_out;
	}

	const char *tmp = getenv("TMPDIR");
	char workdir[4200];
	snprintf(workdir, sizeof workdir, "%s/onnxcc-conf-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(workdir)) {
		fprintf(stderr, "onnxcc-conformance: mkdtemp %s: %s\n", workdir, strerror(errno));
		exit(2);
	}

	double t0 = now_s();
	run_all(&o, cases, n, workdir);
	double secs = now_s() - t0;
	if (o.keep)
		printf("work directory kept: %s\n", workdir);
	else
		rmtree(workdir);

	/* Table, counts, reasons. */
	int count[ST__COUNT] = {0};
	for (int i = 0; i < n; i++)
		count[cases[i].status]++;
	if (o.out_path) {
		FILE *f = fopen(o.out_path, "w");
		if (!f) {
			fprintf(stderr, "onnxcc-conformance: %s: %s\n", o.out_path, strerror(errno));
		} else {
			fprintf(f, "# case\tstatus\tdetail\n");
			for (int i = 0; i < n; i++)
				fprintf(f, "%s\t%s\t%s\n", cases[i].name, status_names[cases[i].status],
				        cases[i].detail ? cases[i].detail : "");
			fclose(f);
		}
	}
	Reason *reasons = calloc((size_t)n, sizeof *reasons);
	int nreasons = 0;
	for (int i = 0; reasons && i < n; i++) {
		if (cases[i].status != ST_REJECTED)
			continue;
		char key[128];
		reason_key(cases[i].detail ? cases[i].detail : "", key, sizeof key);
		int r = 0;
		while (r < nreasons && strcmp(reasons[r].key, key) != 0)
			r++;
		if (r == nreasons)
			snprintf(reasons[nreasons++].key, sizeof reasons[0].key, "%s", key);
		reasons[r].count++;
	}
	if (reasons)
		qsort(reasons, (size_t)nreasons, sizeof *reasons, cmp_reason);

	int failed = count[ST_FAIL] + count[ST_CRASH] + count[ST_TIMEOUT];
	printf("conformance: %d passed, %d failed\n", count[ST_PASS], failed);
	printf("rejected: %d", count[ST_REJECTED]);
	for (int r = 0; r < nreasons && r < 12; r++)
		printf("%s%s %d", r == 0 ? " (top reasons: " : ", ", reasons[r].key, reasons[r].count);
	printf("%s\n", nreasons ? ")" : "");
	printf("failed: %d FAIL, %d CRASH, %d TIMEOUT; %d cases in %.1f s%s%s\n", count[ST_FAIL],
	       count[ST_CRASH], count[ST_TIMEOUT], n, secs, o.out_path ? "; table: " : "",
	       o.out_path ? o.out_path : "");
	/* The slowest cases: where compile time goes. */
	int slow[5] = {-1, -1, -1, -1, -1};
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 5; k++) {
			if (slow[k] < 0 || cases[i].ms > cases[slow[k]].ms) {
				memmove(slow + k + 1, slow + k, (size_t)(4 - k) * sizeof slow[0]);
				slow[k] = i;
				break;
			}
		}
	}
	if (n > 1) {
		printf("slowest:");
		for (int k = 0; k < 5 && slow[k] >= 0; k++)
			printf("%s %s %.1f s", k ? "," : "", cases[slow[k]].name, cases[slow[k]].ms / 1e3);
		printf("\n");
	}
	if (o.list_failures)
		for (int i = 0; i < n; i++)
			if (cases[i].status >= ST_FAIL)
				printf("%-8s %s: %s\n", status_names[cases[i].status], cases[i].name,
				       cases[i].detail);
	for (int i = 0; i < n; i++) {
		free(cases[i].name);
		free(cases[i].dir);
		free(cases[i].detail);
	}
	free(cases);
	free(reasons);
	free(names);
	free(filters);
	free(paths);
	return failed > 0 ? 1 : 0;
}

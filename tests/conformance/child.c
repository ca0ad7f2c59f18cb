/* tests/conformance/child.c — one conformance case, in a forked child.
 *
 * Compiles model.onnx with onnxcc_compile(), dlopens the .so, and for each
 * test_data_set_N feeds input_K.pb to the descriptor's inputs in order and
 * compares output_K.pb (rule in conformance.c).  Every buffer handed to the
 * model is 64-byte aligned, pre-filled with 0xA5 and followed by 64 guard
 * bytes, so unwritten outputs, writes past an end and writes into inputs
 * are caught.  The result goes to the parent as the last line
 * "@@RESULT STATUS<TAB>detail" on a pipe; fatal-signal handlers write that
 * line too, naming the phase (compile, load, run, ...) the child was in.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/compile.h"
#include "conformance.h"
#include "frontend/onnx.h"
#include "ir/ir.h"
#include "npy.h"
#include "onnxcc_model.h"

#ifndef ONNXCC_BINARY_DIR
#define ONNXCC_BINARY_DIR "."
#endif

#define RTOL 1e-3
#define ATOL 1e-7
#define CANARY 64          /* guard bytes after every buffer given to a model */
#define FILL 0xA5          /* initial byte of outputs and workspace */

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

/* Graph inputs frozen to test data at compile time: the compiler asks for
 * it ("must be a constant ... (it is graph input 'X': freeze it ...)") for
 * shape-like inputs such as Reshape's shape or Slice's starts.  Values
 * come from test_data_set_0; a data set whose frozen inputs differ is
 * skipped. */
#define MAX_FROZEN 8
typedef struct Frozen {
	int n;
	int file_index[MAX_FROZEN];          /* k of input_k.pb */
	CompileConstInput ci[MAX_FROZEN];
	int64_t shape[MAX_FROZEN][IR_MAX_RANK];
	size_t nbytes[MAX_FROZEN];
} Frozen;

static int frozen_slot(const Frozen *fz, int file_index)
{
	for (int i = 0; i < fz->n; i++)
		if (fz->file_index[i] == file_index)
			return i;
	return -1;
}

/* dir/KIND_K.pb of a data set into path (PATH_MAX bytes); a longer path
 * fails the case. */
static void set_file(char *path, size_t n, const char *setdir, const char *kind, int k)
{
	int r = snprintf(path, n, "%s/%s_%d.pb", setdir, kind, k);
	if (r < 0 || (size_t)r >= n)
		finish(ST_FAIL, "%s: path too long", setdir);
}

/* One data set: load, run, check.  Returns false if the set was skipped
 * (its frozen inputs differ from set 0); otherwise returns only on success
 * (failures end the child through finish). */
static bool run_data_set(const Options *o, const OnnxccModel *m, const Frozen *fz,
                         const char *model_path, const char *sodir, const char *setdir)
{
	Arena a = {0};
	Diag d;
	char path[4096], detail[2048], s1[256], s2[256];
	int nin = 0, nout = 0;
	while (set_file(path, sizeof path, setdir, "input", nin), file_exists(path))
		nin++;
	while (set_file(path, sizeof path, setdir, "output", nout), file_exists(path))
		nout++;
	if ((uint32_t)(nin - fz->n) != m->ninputs)
		finish(ST_FAIL, "%s: %d input files (%d frozen), the compiled model has %u inputs",
		       setdir, nin, fz->n, m->ninputs);
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
	int nrun = 0;   /* inputs handed to the model */
	for (int fk = 0; fk < nin; fk++) {
		Tensor t;
		const char *name = "";
		set_file(path, sizeof path, setdir, "input", fk);
		diag_init(&d, path, false);
		if (!onnx_load_tensor_file(path, &a, &t, &name, &d)) {
			first_error(&d, detail, sizeof detail);
			finish(ST_REJECTED, "test data: %s", detail);
		}
		int fs = frozen_slot(fz, fk);
		if (fs >= 0) {
			diag_free(&d);
			if (t.nbytes != fz->nbytes[fs] || memcmp(t.data, fz->ci[fs].data, t.nbytes) != 0) {
				arena_free(&a);
				return false;
			}
			continue;
		}
		int k = nrun++;
		const OnnxccTensorInfo *ti = &m->inputs[k];
		if (bf16_as_u16(t.dtype, ti->dtype))
			t.dtype = DT_BF16;
		if ((int32_t)t.dtype != ti->dtype || !same_shape(&t.shape, ti)) {
			/* Some node tests (ONNX 1.12) feed data that contradicts the
			 * model's own static input type: not the compiler's fault. */
			Status st = declared_as(model_path, fk, ti) ? ST_REJECTED : ST_FAIL;
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
		set_file(path, sizeof path, setdir, "output", k);
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
	for (int k = 0; k < nrun; k++) {
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
	for (int k = 0; k < nrun; k++) {
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
	return true;
}

/* The whole case, in the child.  Never returns. */
static void child_main(const Options *o, const Case *c, const char *workdir)
	__attribute__((noreturn));
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
	static Frozen fz;
	Arena fa = {0};
	Graph *g = NULL;
	char frozen_names[1024] = "";
	for (;;) {
		Diag d;
		diag_init(&d, model, false);
		co.const_inputs = fz.ci;
		co.nconst_inputs = fz.n;
		bool ok = onnxcc_compile(&co, &d);
		if (o->verbose && d.buf)
			say("diagnostics%s%s:\n%s", fz.n ? " with frozen " : "", frozen_names, d.buf);
		if (ok) {
			diag_free(&d);
			break;
		}
		first_error(&d, detail, sizeof detail);
		diag_free(&d);
		if (!detail[0])
			finish(ST_FAIL, "compile failed without a diagnostic");
		/* Freeze the graph input the compiler names, from set 0. */
		const char *p = strstr(detail, "it is graph input '");
		char iname[256] = "";
		if (p) {
			p += strlen("it is graph input '");
			const char *e = strchr(p, '\'');
			if (e && (size_t)(e - p) < sizeof iname)
				snprintf(iname, sizeof iname, "%.*s", (int)(e - p), p);
		}
		if (!iname[0] || fz.n == MAX_FROZEN)
			finish(ST_REJECTED, "%s", detail);
		if (!g) {
			Diag d2;
			diag_init(&d2, model, false);
			g = onnx_load(model, &d2);
			diag_free(&d2);
		}
		int fk = -1;
		for (int i = 0; g && i < g->ninputs; i++)
			if (strcmp(gval(g, g->inputs[i])->name, iname) == 0)
				fk = i;
		Tensor t;
		char tpath[4400];
		snprintf(tpath, sizeof tpath, "%s/test_data_set_0/input_%d.pb", c->dir, fk);
		Diag d3;
		diag_init(&d3, tpath, false);
		bool loaded = fk >= 0 && frozen_slot(&fz, fk) < 0 &&
		              onnx_load_tensor_file(tpath, &fa, &t, NULL, &d3);
		diag_free(&d3);
		if (!loaded)
			finish(ST_REJECTED, "%s", detail);
		int i = fz.n++;
		fz.file_index[i] = fk;
		for (int r = 0; r < t.shape.rank; r++)
			fz.shape[i][r] = t.shape.dims[r];
		fz.nbytes[i] = t.nbytes;
		fz.ci[i] = (CompileConstInput){arena_strdup(&fa, iname), (int)t.dtype, t.shape.rank,
		                               fz.shape[i], t.data};
		size_t l = strlen(frozen_names);
		snprintf(frozen_names + l, sizeof frozen_names - l, "%s%s", l ? ", " : "", iname);
	}
	if (g)
		graph_free(g);

	phase = PH_LOAD;
	void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		finish(ST_FAIL, "dlopen: %s", dlerror());
	const OnnxccModel *m = dlsym(dl, "onnxcc_model");
	if (!m)
		finish(ST_FAIL, "the .so has no symbol onnxcc_model");
	if (m->abi_version < ONNXCC_ABI_VERSION_MIN || m->abi_version > ONNXCC_ABI_VERSION || !m->run)
		finish(ST_FAIL, "bad descriptor: abi_version %u, run %s", m->abi_version,
		       m->run ? "set" : "NULL");

	int nsets = 0, nrun = 0;
	char setdir[4200];
	while (snprintf(setdir, sizeof setdir, "%s/test_data_set_%d", c->dir, nsets),
	       file_exists(setdir)) {
		nrun += run_data_set(o, m, &fz, model, sodir, setdir);
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
	if (fz.n)
		finish(ST_PASS, "%d data set%s (%d skipped); frozen inputs: %s", nrun,
		       nrun == 1 ? "" : "s", nsets - nrun, frozen_names);
	finish(ST_PASS, "%d data set%s", nsets, nsets == 1 ? "" : "s");
}

/* A child that misbehaves as --self-test asks.  Never returns. */
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

void child_run(const Options *o, const Case *c, const char *workdir, int fd)
{
	result_fd = fd;
	if (!o->verbose)
		install_crash_handlers();
	alarm((unsigned)o->timeout_s);
	if (c->selftest)
		selftest_child(c->selftest);
	child_main(o, c, workdir);
}

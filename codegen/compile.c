/* codegen/compile.c — the compiler driver: frontend -> passes -> memory
 * plan -> LLVM module -> optimisation -> artifact + header. */
#include "compile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frontend/onnx.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"
#include "header.h"
#include "module.h"
#include "target.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "dir/my-model.onnx" -> "my_model" (used on the output path, or the
 * model path when there is no output). */
static void default_prefix(const char *path, char *out, size_t n)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s", base);
	char *dot = strrchr(tmp, '.');
	if (dot && dot != tmp)
		*dot = 0;
	cg_c_ident(tmp, out, n);
}

static char *header_default(const char *out)
{
	size_t n = strlen(out);
	char *h = xmalloc(n + 4);
	memcpy(h, out, n + 1);
	char *dot = strrchr(h, '.');
	char *slash = strrchr(h, '/');
	if (dot && (!slash || dot > slash))
		*dot = 0;
	strcat(h, ".h");
	return h;
}

/* path with its directory resolved (realpath) and its last component
 * kept, so that "x.o" and "./x.o" compare equal; a copy of path when the
 * directory does not resolve. */
static char *canonical_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	char *real = realpath(dir, NULL);
	if (!real)
		return xstrdup(path);
	const char *base = slash ? slash + 1 : path;
	size_t n = strlen(real) + strlen(base) + 2;
	char *r = xmalloc(n);
	snprintf(r, n, "%s/%s", real, base);
	free(real);
	return r;
}

/* Mode bits a new file gets from open(2): 0666 (0777 for an executable
 * such as a shared library) less the umask.  The umask is read from
 * /proc/self/status (Linux >= 4.7), which leaves it alone for other
 * threads; elsewhere it is set and restored. */
static mode_t creation_mode(bool exec)
{
	unsigned mask = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		char line[256];
		while (!found && fgets(line, sizeof line, f))
			found = sscanf(line, "Umask: %o", &mask) == 1;
		fclose(f);
	}
	if (!found) {
		mode_t m = umask(0);
		umask(m);
		mask = m;
	}
	return (exec ? 0777 : 0666) & ~(mode_t)mask;
}

/* A fresh temporary file name beside `path`. */
static char *temp_beside(const char *path, Diag *d)
{
	size_t n = strlen(path) + 32;
	char *t = xmalloc(n);
	snprintf(t, n, "%s.tmp-XXXXXX", path);
	int fd = mkstemp(t);
	if (fd < 0) {
		diag_syserr(d, path);
		free(t);
		return NULL;
	}
	close(fd);
	xalloc_remove_on_oom(t);
	return t;
}

/* Turns the graph inputs named in o->const_inputs into constants. */
static bool freeze_inputs(Graph *g, const CompileOptions *o, Diag *d)
{
	for (int k = 0; k < o->nconst_inputs; k++) {
		const CompileConstInput *c = &o->const_inputs[k];
		int at = -1;
		for (int i = 0; i < g->ninputs; i++)
			if (!strcmp(gval(g, g->inputs[i])->name, c->name))
				at = i;
		if (at < 0) {
			diag_error(d, "--const-input %s: the model has no input of that name", c->name);
			return false;
		}
		Value *v = gval(g, g->inputs[at]);
		if ((int)v->dtype != c->dtype) {
			diag_error(d, "--const-input %s: value is %s, the input is %s", c->name,
			           dtype_name((DType)c->dtype), dtype_name(v->dtype));
			return false;
		}
		if (c->rank > IR_MAX_RANK || (v->shape.rank >= 0 && v->shape.rank != c->rank)) {
			diag_error(d, "--const-input %s: value has rank %d, the input has rank %d", c->name,
			           c->rank, v->shape.rank);
			return false;
		}
		for (int i = 0; i < c->rank && v->shape.rank >= 0; i++)
			if (v->shape.dims[i] >= 0 && v->shape.dims[i] != c->shape[i]) {
				diag_error(d, "--const-input %s: dim %d is %lld, the input's is %lld", c->name, i,
				           (long long)c->shape[i], (long long)v->shape.dims[i]);
				return false;
			}
		Shape s = shape_make(c->rank, c->shape);
		v->shape = s;
		v->kind = VK_CONST;
		v->nbytes = (size_t)shape_numel(&s) * dtype_size(v->dtype);
		v->data = arena_dup(&g->arena, c->data, v->nbytes);
		memmove(&g->inputs[at], &g->inputs[at + 1], sizeof(ValueId) * (size_t)(g->ninputs - at - 1));
		g->ninputs--;
	}
	return true;
}

typedef struct Phase {
	const char *name;
	double ms;
} Phase;

bool onnxcc_compile(const CompileOptions *o, Diag *d)
{
	Phase ph[8];
	int nph = 0;
	double t0 = now_ms(), t;
	bool ok = false;
	Graph *g = NULL;
	MemPlan plan = {0};
	Cg cg = {0};
	LLVMTargetMachineRef tm = NULL;
	LLVMTargetDataRef layout = NULL;
	char *tmp_out = NULL, *tmp_hdr = NULL, *hdr_path = NULL;
	CgArtifact kind = CG_OBJ;
	char prefix[128];

	if (o->out_path && !cg_artifact_from_path(o->out_path, &kind)) {
		diag_error(d, "output '%s': unknown extension (use .o, .so, .s or .ll)", o->out_path);
		return false;
	}
	if (o->prefix) {
		cg_c_ident(o->prefix, prefix, sizeof prefix);
		if (strcmp(prefix, o->prefix)) {
			diag_error(d, "--name '%s' is not a C identifier (try '%s')", o->prefix, prefix);
			return false;
		}
	} else {
		default_prefix(o->out_path ? o->out_path : o->model_path, prefix, sizeof prefix);
	}
	for (int i = 0; i < o->ndims; i++) {
		const char *eq = strrchr(o->dims[i], '=');
		char *end;
		errno = 0;
		long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
		if (!eq || eq == o->dims[i] || !eq[1] || *end || errno || v < 1 || v > INT32_MAX) {
			diag_error(d, "--dim %s: expected SYMBOL=N with N a positive integer (1 .. %d)",
			           o->dims[i], INT32_MAX);
			return false;
		}
	}
	if (o->out_path) {
		char *h = o->header_path ? xstrdup(o->header_path) : header_default(o->out_path);
		char *co = canonical_path(o->out_path), *ch = canonical_path(h);
		bool same = !strcmp(co, ch);
		free(co);
		free(ch);
		if (same) {
			diag_error(d, "output '%s' and header '%s' are the same file; give --header another name",
			           o->out_path, h);
			free(h);
			return false;
		}
		free(h);
	}
	if (o->out_path && kind == CG_SO) {
		if (!cg_can_link(o->triple)) {
			diag_error(d, "output '%s': --target %s is bare metal, without shared libraries; "
			           "emit an object (.o) and link it into your firmware", o->out_path, o->triple);
			return false;
		}
		char *ld = cg_find_linker(o->triple, o->linker, d);   /* fail before the work */
		if (!ld)
			return false;
		free(ld);
	}
	if (o->out_path) {
		tm = cg_target_machine(o->triple, o->cpu, o->features, o->opt_level, d);
		if (!tm)
			return false;
		layout = LLVMCreateTargetDataLayout(tm);
	}

	if (o->verbose)
		fprintf(stderr, "onnxcc: loading %s\n", o->model_path);
	t = now_ms();
	g = onnx_load(o->model_path, d);
	ph[nph++] = (Phase){"load", now_ms() - t};
	if (!g || !freeze_inputs(g, o, d))
		goto out;

	t = now_ms();
	PipelineOptions po = {
		.dims = o->dims, .ndims = o->ndims, .print_after = o->print_after,
		.time_passes = o->time_passes, .dump_out = stdout,
#ifndef NDEBUG
		.verify_each = true,
#endif
	};
	if (o->verbose)
		fprintf(stderr, "onnxcc: %d nodes, running passes\n", g->nnodes);
	if (!pass_pipeline(g, &po, d))
		goto out;
	ph[nph++] = (Phase){"passes", now_ms() - t};
	if (o->dump_ir)
		ir_dump(g, stdout);

	t = now_ms();
	if (!pass_memplan(g, &plan, d))
		goto out;
	ph[nph++] = (Phase){"memory plan", now_ms() - t};
	if (!o->out_path) {
		ok = true;
		goto out;
	}

	if (o->verbose)
		fprintf(stderr, "onnxcc: generating code for %d nodes\n", g->nnodes);
	t = now_ms();
	CgModuleOptions mo = {.prefix = prefix, .export_alias = kind == CG_SO, .triple = NULL, .layout = layout,
	                      .index_clamp = o->index_clamp};
	char *triple = LLVMGetTargetMachineTriple(tm);
	mo.triple = triple;
	mo.isa = cg_isa_of(tm);
	if (o->verbose)
		fprintf(stderr, "onnxcc: vector unit %s (%d f32 lanes)\n", mo.isa.name, mo.isa.vlen);
	bool built = cg_build_module(&cg, g, &plan, &mo, d);
	LLVMDisposeMessage(triple);
	ph[nph++] = (Phase){"codegen", now_ms() - t};
	if (!built)
		goto out;

	if (o->verbose)
		fprintf(stderr, "onnxcc: optimising (-O%d)\n", o->opt_level);
	t = now_ms();
	if (!cg_optimize(cg.mod, tm, o->opt_level, d))
		goto out;
	ph[nph++] = (Phase){"llvm opt", now_ms() - t};

	t = now_ms();
	hdr_path = o->header_path ? xstrdup(o->header_path) : header_default(o->out_path);
	if (!(tmp_out = temp_beside(o->out_path, d)) || !(tmp_hdr = temp_beside(hdr_path, d)))
		goto out;
	if (!cg_emit_with(cg.mod, tm, kind, tmp_out, o->linker, d))
		goto out;
	FILE *hf = fopen(tmp_hdr, "w");
	if (!hf) {
		diag_syserr(d, tmp_hdr);
		goto out;
	}
	cg_write_header(hf, g, &plan, prefix, o->model_path, o->index_clamp);
	if (fclose(hf) != 0) {
		diag_syserr(d, tmp_hdr);
		goto out;
	}
	/* mkstemp made them 0600 (and a linker may have replaced the file) */
	if (chmod(tmp_out, creation_mode(kind == CG_SO)) != 0 || chmod(tmp_hdr, creation_mode(false)) != 0) {
		diag_syserr(d, tmp_out);
		goto out;
	}
	if (rename(tmp_out, o->out_path) != 0) {
		diag_syserr(d, o->out_path);
		goto out;
	}
	xalloc_keep_on_oom(tmp_out);
	free(tmp_out);
	tmp_out = NULL;
	if (rename(tmp_hdr, hdr_path) != 0) {
		diag_syserr(d, hdr_path);
		unlink(o->out_path);
		goto out;
	}
	xalloc_keep_on_oom(tmp_hdr);
	free(tmp_hdr);
	tmp_hdr = NULL;
	ph[nph++] = (Phase){"emit", now_ms() - t};
	ok = true;

out:
	if (tmp_out) {
		unlink(tmp_out);
		xalloc_keep_on_oom(tmp_out);
	}
	if (tmp_hdr) {
		unlink(tmp_hdr);
		xalloc_keep_on_oom(tmp_hdr);
	}
	free(tmp_out);
	free(tmp_hdr);
	if (ok && o->time_passes) {
		fprintf(stderr, "onnxcc: time per phase\n");
		for (int i = 0; i < nph; i++)
			fprintf(stderr, "  %-12s %9.1f ms\n", ph[i].name, ph[i].ms);
		fprintf(stderr, "  %-12s %9.1f ms\n", "total", now_ms() - t0);
	}
	if (ok && (o->stats || o->time_passes) && g) {
		int live = 0;
		uint64_t wbytes = 0;
		for (int i = 0; i < g->nnodes; i++)
			live += !g->nodes[i].dead;
		for (ValueId v = 0; v < g->nvalues; v++)
			if (gval(g, v)->kind == VK_CONST && graph_use_count(g, v) > 0)
				wbytes += gval(g, v)->nbytes;
		double saved = plan.naive ? 100.0 * (1.0 - (double)plan.size / (double)plan.naive) : 0;
		fprintf(stderr, "stats: %d nodes, weights %llu bytes, workspace %llu bytes "
		        "(naive %llu bytes, %.1f%% saved)\n", live, (unsigned long long)wbytes,
		        (unsigned long long)plan.size, (unsigned long long)plan.naive, saved);
	}
	free(hdr_path);
	cg_dispose(&cg);
	memplan_free(&plan);
	graph_free(g);
	if (layout)
		LLVMDisposeTargetData(layout);
	if (tm)
		LLVMDisposeTargetMachine(tm);
	return ok;
}

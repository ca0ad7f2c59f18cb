/* passes/pipeline.c — the pass pipeline, as plain code with a name table.
 *
 * Each entry of `passes` is one step; pass_pipeline runs them in order,
 * timing each, verifying after each (verify_each or debug builds) and
 * dumping the graph after the one named by print_after.
 */
#include "pipeline.h"

#include <string.h>
#include <time.h>

#include "infer.h"

typedef struct PassCtx {
	const PipelineOptions *o;
} PassCtx;

static bool run_freeze_inputs(Graph *g, const PassCtx *c, Diag *d)
{
	return pass_freeze_inputs(g, c->o ? c->o->const_inputs : NULL, c->o ? c->o->nconst_inputs : 0, d);
}

static bool run_bind_dims(Graph *g, const PassCtx *c, Diag *d)
{
	return pass_bind_dims(g, c->o ? c->o->dims : NULL, c->o ? c->o->ndims : 0, d);
}

static bool run_infer(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_infer_shapes(g, d);
}

static bool run_aliases(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_remove_aliases(g, d);
}

static bool run_fuse_gemm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gemm(g, d);
}

static bool run_fuse_layernorm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_layernorm(g, d);
}

static bool run_fuse_gelu(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gelu(g, d);
}

static bool run_fuse_attention(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_attention(g, d);
}

static bool run_fuse_relattention(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_relattention(g, d);
}

static bool run_fuse_transpose(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_transpose(g, d);
}

static bool run_fuse_dwconv(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_dwconv(g, d);
}

static bool run_fuse_patchify(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_patchify(g, d);
}

static bool run_fuse_bn_conv(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_bn_conv(g, d);
}

static bool run_fuse_pad_pool(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_pad_pool(g, d);
}

static bool run_fuse_conv_act(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_conv_act(g, d);
}

static bool run_fuse_conv_tokens(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_conv_tokens(g, d);
}

static bool run_fuse_remap(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_remap(g, d);
}

static bool run_fuse_slice_gemm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_slice_gemm(g, d);
}

static bool run_prune_rows(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_prune_rows(g, d);
}

static bool run_fuse_gather_gemm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gather_gemm(g, d);
}

static bool run_fuse_gemm_norm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gemm_norm(g, d);
}

static bool run_fuse_gather_norm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gather_norm(g, d);
}

static bool run_fuse_gather_norm_gemm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_gather_norm_gemm(g, d);
}

static bool run_fuse_norm_gemm(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_norm_gemm(g, d);
}

static bool run_fuse_elementwise(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_fuse_elementwise(g, d);
}

static bool run_dce(Graph *g, const PassCtx *c, Diag *d)
{
	(void)c;
	return pass_dce(g, d);
}

/* The memory plan, into o->plan; without one (pass tests), planned to
 * check that it can be, then freed. */
static bool run_memplan(Graph *g, const PassCtx *c, Diag *d)
{
	if (c->o && c->o->plan)
		return pass_memplan(g, c->o->plan, d);
	MemPlan p = {0};
	bool ok = pass_memplan(g, &p, d);
	memplan_free(&p);
	return ok;
}

/* The pipeline, in order: names[i] is the name of runs[i]. */
static const char *const names[] = {
	"freeze-inputs", "bind-dims", "infer", "aliases", "fuse-layernorm", "fuse-gelu", "fuse-attention", "fuse-relattention", "fuse-transpose", "fuse-dwconv", "fuse-patchify", "fuse-bn-conv", "fuse-pad-pool", "fuse-conv-act", "fuse-conv-tokens", "fuse-remap", "fuse-gemm", "fuse-slice-gemm", "fuse-gather-gemm", "prune-rows", "fuse-gemm-norm", "fuse-gather-norm", "fuse-gather-norm-gemm", "fuse-norm-gemm", "fuse-elementwise", "dce", "memplan",
};
static bool (*const runs[])(Graph *g, const PassCtx *c, Diag *d) = {
	run_freeze_inputs, run_bind_dims, run_infer, run_aliases, run_fuse_layernorm, run_fuse_gelu, run_fuse_attention, run_fuse_relattention, run_fuse_transpose, run_fuse_dwconv, run_fuse_patchify, run_fuse_bn_conv, run_fuse_pad_pool, run_fuse_conv_act, run_fuse_conv_tokens, run_fuse_remap, run_fuse_gemm, run_fuse_slice_gemm, run_fuse_gather_gemm, run_prune_rows, run_fuse_gemm_norm, run_fuse_gather_norm, run_fuse_gather_norm_gemm, run_fuse_norm_gemm, run_fuse_elementwise, run_dce, run_memplan,
};
#define NPASSES ((int)(sizeof names / sizeof names[0]))
_Static_assert(sizeof names / sizeof names[0] == sizeof runs / sizeof runs[0],
               "pass name table out of step");

/* The index of the pass called name, -1 if none is. */
static int pass_index(const char *name)
{
	for (int i = 0; i < NPASSES; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

const char *const *pass_names(int *n)
{
	*n = NPASSES;
	return names;
}

bool pass_optional(const char *name)
{
	return pass_index(name) >= 0 && (!strncmp(name, "fuse-", 5) || !strcmp(name, "prune-rows"));
}

/* The names of the passes (all, or the optional ones), comma-separated,
 * into buf. */
static void pass_list(char *buf, size_t n, bool optional_only)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < NPASSES && len < n; i++)
		if (!optional_only || pass_optional(names[i]))
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", names[i]);
}

bool pass_run_named(Graph *g, const char *name, Diag *d)
{
	PassCtx c = {NULL};
	int i = pass_index(name);
	if (i >= 0)
		return runs[i](g, &c, d);
	diag_error(d, "unknown pass '%s'", name);
	return false;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool pass_pipeline(Graph *g, const PipelineOptions *o, Diag *d)
{
	const char *pa = o ? o->print_after : NULL;
	char list[512];
	if (pa && pass_index(pa) < 0) {
		pass_list(list, sizeof list, false);
		diag_error(d, "unknown pass '%s' for --print-after (valid: %s)", pa, list);
		return false;
	}
	bool skip[NPASSES];
	for (int i = 0; i < NPASSES; i++)
		skip[i] = o && o->no_fuse && pass_optional(names[i]);
	for (int k = 0; o && k < o->ndisabled; k++) {
		int i = pass_index(o->disabled[k]);
		if (i < 0 || !pass_optional(names[i])) {
			pass_list(list, sizeof list, true);
			diag_error(d, "%s pass '%s' for --disable-pass (the passes that may be left out: %s)",
			           i < 0 ? "unknown" : "required", o->disabled[k], list);
			return false;
		}
		skip[i] = true;
	}
#ifdef NDEBUG
	bool verify = o && o->verify_each;
#else
	bool verify = true;
#endif
	PassCtx c = {o};
	double ms[NPASSES] = {0};
	int ran = 0;
	bool ok = true;
	for (int i = 0; i < NPASSES && ok; i++) {
		double t0 = now_ms();
		ok = skip[i] || runs[i](g, &c, d);
		ms[i] = now_ms() - t0;
		ran = i + 1;
		if (ok && verify && !ir_verify(g, d)) {
			diag_error(d, "verify failed after pass '%s'", names[i]);
			ok = false;
		}
		if (ok && pa && strcmp(pa, names[i]) == 0) {
			FILE *f = o->dump_out ? o->dump_out : stdout;
			fprintf(f, "; after %s\n", names[i]);
			ir_dump(g, f);
		}
	}
	if (o && o->time_passes) {
		double total = 0;
		fprintf(stderr, "%-16s %10s\n", "pass", "ms");
		for (int i = 0; i < ran; i++) {
			if (skip[i])
				fprintf(stderr, "%-16s %10s\n", names[i], "skipped");
			else
				fprintf(stderr, "%-16s %10.3f\n", names[i], ms[i]);
			total += ms[i];
		}
		fprintf(stderr, "%-16s %10.3f\n", "total", total);
	}
	return ok;
}

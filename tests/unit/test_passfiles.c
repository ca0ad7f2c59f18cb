/* tests/unit/test_passfiles.c — pass tests as files.
 *
 * Every tests/passes/NAME.in is a graph in ir_dump's text form (read by
 * ir_parse, all constant data written out) whose first line names what to
 * run:
 *
 *   ; pass: fuse-layernorm dce         passes in order (pass_names)
 *   ; expect: unchanged                optional: the graph must come out as
 *                                      it went in (near-miss tests)
 *   ; expect: same bits                optional: the outputs before and after
 *                                      must be bitwise equal, not only close
 *
 * The graph is verified before and after; the dump after the passes must
 * equal NAME.expected (or, with "expect: unchanged", the dump of the input).
 * ONNXCC_UPDATE_EXPECTED=1 rewrites the .expected files (review the diff!).
 * A case that runs a fuse-* pass and changes the graph is also compiled
 * before and after the passes (tu_run_graph, no other pass) and run on the
 * same pseudo-random inputs: the outputs must agree within 1e-5 relative
 * (plus 1e-6 absolute), or with "expect: same bits" be the same bits, so
 * each fused form is checked against the chain it replaced.
 *
 * Also: for every model of the zoo (tests/models/NAME/model.onnx), the
 * op counts with the fusion passes and without, printed as a table, and the
 * rule that after the pipeline no model keeps an Erf, a Pow or a Sqrt
 * (their only sources in the zoo are GELU and LayerNorm chains), the
 * workspace of the memory plan before and after fusion (it must not grow),
 * per model the stage-transition fusions: GatherRows made, Transposes
 * and Convs left, the rule that no Mul of a GEMM's output by a constant
 * scalar is left (column GEMMxc: such Muls before -> after), and the rule
 * that no f32 elementwise op of the kind fuse-elementwise fuses still reads
 * a single-use intermediate of its own shape from another (column EWpair:
 * such pairs before -> after; Chain: the ElemChains made), and the rule
 * that no LayerNorm over the last axis reads a single-use GEMM output
 * (column GEMMLN: such pairs before -> after, + the LayerNorms
 * fuse-gemm-norm moved into a GEMM; per model in the stage table), and
 * the rule that no LayerNorm over the last axis reads a single-use
 * GatherRows (column GRowsLN: such pairs before -> after, + the
 * GatherLayerNorms left: fuse-gather-norm made them, fuse-gather-norm-gemm
 * took those a GEMM alone reads), and the rule that no GatherLayerNorm is
 * read by a GEMM alone (column GLNGEMM: such pairs after, + the GEMMs with
 * a row prologue; per model in the stage table).
 */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "ir/params.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	buf[len] = 0;
	return buf;
}

static char *dump_str(Graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ir_dump(g, f);
	fclose(f);
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir ending in suffix (suffix kept off). */
static char **list_dir(const char *dir, const char *suffix, int *n)
{
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char **names = NULL;
	int cnt = 0;
	size_t sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		names = realloc(names, sizeof *names * (size_t)(cnt + 1));
		names[cnt++] = strndup(e->d_name, l - sl);
	}
	closedir(dp);
	qsort(names, (size_t)cnt, sizeof *names, cmp_str);
	*n = cnt;
	return names;
}

/* Compiles and runs g on inputs filled from seed; returns the outputs,
 * concatenated as f32 (all outputs of fusion tests are f32), in *out. */
static bool run_graph(Graph *g, float **out, int64_t *nout, char *msg, size_t cap)
{
	void *ins[16], *outs[16];
	int64_t total = 0;
	assert_true(g->ninputs <= 16 && g->noutputs <= 16);
	uint32_t seed = 12345;
	for (int k = 0; k < g->ninputs; k++) {
		Value *v = gval(g, g->inputs[k]);
		int64_t n = shape_numel(&v->shape);
		assert_int_equal(v->dtype, DT_F32);
		float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++) {
			seed = seed * 1664525u + 1013904223u;
			buf[i] = (float)((seed >> 8) % 6001) / 1000.0f - 3.0f; /* [-3, 3] */
		}
		ins[k] = buf;
	}
	for (int k = 0; k < g->noutputs; k++) {
		Value *v = gval(g, g->outputs[k]);
		assert_int_equal(v->dtype, DT_F32);
		total += shape_numel(&v->shape);
	}
	float *all = calloc((size_t)(total ? total : 1), sizeof(float));
	int64_t off = 0;
	for (int k = 0; k < g->noutputs; k++) {
		outs[k] = all + off;
		off += shape_numel(&gval(g, g->outputs[k])->shape);
	}
	Diag d;
	diag_init(&d, "passfile", false);
	bool ok = tu_run_graph(g, (const void *const *)ins, outs, &d);
	if (!ok)
		snprintf(msg, cap, "compile: %s", d.buf ? d.buf : "");
	diag_free(&d);
	for (int k = 0; k < g->ninputs; k++)
		free(ins[k]);
	*out = all;
	*nout = total;
	return ok;
}

/* The case's graph before (re-parsed from text) and after (g) the passes
 * compute the same outputs. */
static char *same_numbers(const char *text, const char *path, Graph *g, bool bits)
{
	char msg[8192] = "";
	Diag d;
	diag_init(&d, path, false);
	Graph *b = ir_parse(text, path, 0, &d);
	assert_non_null(b);
	float *x = NULL, *y = NULL;
	int64_t nx = 0, ny = 0;
	pass_dce(g, &d); /* drop the chains' dead nodes */
	bool ok = run_graph(b, &x, &nx, msg, sizeof msg) && run_graph(g, &y, &ny, msg, sizeof msg);
	if (ok && nx != ny) {
		snprintf(msg, sizeof msg, "output sizes differ: %lld vs %lld", (long long)nx, (long long)ny);
		ok = false;
	}
	double worst = 0;
	for (int64_t i = 0; ok && i < nx; i++) {
		double err = fabs((double)x[i] - (double)y[i]);
		if (err / (1e-6 + fabs((double)x[i])) > worst)
			worst = err / (1e-6 + fabs((double)x[i]));
		if (bits ? memcmp(&x[i], &y[i], sizeof x[i]) != 0 : !(err <= 1e-6 + 1e-5 * fabs((double)x[i]))) {
			snprintf(msg, sizeof msg, "output element %lld: unfused %.9g, fused %.9g%s",
			         (long long)i, (double)x[i], (double)y[i], bits ? " (same bits expected)" : "");
			ok = false;
		}
	}
	if (ok)
		fprintf(stderr, "%s: fused vs unfused, %lld outputs, max relative difference %.3g%s\n",
		        path, (long long)nx, worst, bits ? " (same bits)" : "");
	free(x);
	free(y);
	graph_free(b);
	diag_free(&d);
	return ok ? NULL : strdup(msg);
}

/* Runs one NAME.in; returns a malloc'd failure message or NULL. */
static char *run_case(const char *dir, const char *name)
{
	char path[4096], exp_path[4096], msg[8192];
	if (snprintf(path, sizeof path, "%s/%s.in", dir, name) >= (int)sizeof path ||
	    snprintf(exp_path, sizeof exp_path, "%s/%s.expected", dir, name) >= (int)sizeof exp_path)
		return strdup("path too long");
	char *text = read_all(path);
	if (!text)
		return strdup("cannot read the .in file");
	char passes[512] = "";
	bool unchanged = strstr(text, "\n; expect: unchanged\n") != NULL;
	bool bits = strstr(text, "\n; expect: same bits\n") != NULL;
	if (sscanf(text, "; pass: %511[^\n]", passes) != 1) {
		free(text);
		return strdup("first line must be '; pass: NAME...'");
	}
	Diag d;
	diag_init(&d, path, false);
	Graph *g = ir_parse(text, path, 0, &d);
	char *fail = NULL, *before = NULL, *got = NULL;
	if (!g) {
		snprintf(msg, sizeof msg, "parse: %s", d.buf);
		fail = strdup(msg);
		goto out;
	}
	if (!ir_verify(g, &d)) {
		snprintf(msg, sizeof msg, "input does not verify: %s", d.buf);
		fail = strdup(msg);
		goto out;
	}
	before = dump_str(g);
	bool fusing = strstr(passes, "fuse-") != NULL || strstr(passes, "prune-rows") != NULL;
	for (char *tok = strtok(passes, " "); tok; tok = strtok(NULL, " ")) {
		if (!pass_run_named(g, tok, &d) || !ir_verify(g, &d)) {
			snprintf(msg, sizeof msg, "pass %s: %s", tok, d.buf ? d.buf : "");
			fail = strdup(msg);
			goto out;
		}
	}
	got = dump_str(g);
	if (unchanged) {
		if (strcmp(got, before) != 0) {
			snprintf(msg, sizeof msg, "near miss changed the graph:\n--- in\n%s--- out\n%s", before, got);
			fail = strdup(msg);
		}
		goto out;
	}
	const char *upd = getenv("ONNXCC_UPDATE_EXPECTED");
	if (upd && !strcmp(upd, "1")) {
		tu_write_file(exp_path, got, strlen(got));
		goto out;
	}
	char *want = read_all(exp_path);
	if (!want) {
		snprintf(msg, sizeof msg, "missing %s; got:\n%s", exp_path, got);
		fail = strdup(msg);
	} else if (strcmp(want, got) != 0) {
		snprintf(msg, sizeof msg, "differs from %s\n--- expected\n%s--- got\n%s", exp_path, want, got);
		fail = strdup(msg);
	} else if (strcmp(got, before) == 0) {
		fail = strdup("the passes changed nothing: mark it '; expect: unchanged' if that is the point");
	} else if (fusing) {
		fail = same_numbers(text, path, g, bits);
	}
	free(want);
out:
	free(before);
	free(got);
	graph_free(g);
	diag_free(&d);
	free(text);
	return fail;
}

static void test_pass_files(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/passes", ONNXCC_SOURCE_DIR);
	int n;
	char **names = list_dir(dir, ".in", &n);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		char *f = run_case(dir, names[i]);
		if (f) {
			fprintf(stderr, "FAIL %s: %s\n", names[i], f);
			failed++;
		}
		free(f);
		free(names[i]);
	}
	free(names);
	fprintf(stderr, "pass files: %d cases, %d failed\n", n, failed);
	assert_true(n >= 20);
	assert_int_equal(failed, 0);
}

/* ---- the zoo after the pipeline ------------------------------------------------ */

/* True when every input of n is a constant: a node the folder leaves to
 * run time because it cannot give the generated code's bits (a Pow of
 * scalars computing torchvision Swin's attention scale). */
static bool const_inputs(Graph *g, const Node *n)
{
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] != IR_NONE && gval(g, n->in[k])->kind != VK_CONST)
			return false;
	return n->nin > 0;
}

/* An earlier live GEMM has the row prologue of MatMulEpi i (the same A,
 * scale, bias and epsilon): fuse-norm-gemm gave one LayerNorm to several
 * GEMMs reading it. */
static bool same_prologue_before(Graph *g, NodeId i)
{
	const Node *n = &g->nodes[i];
	ValueId bi = n->nin > 8 ? n->in[8] : IR_NONE;
	for (NodeId j = 0; j < i; j++) {
		const Node *m = &g->nodes[j];
		if (!m->dead && m->op == OP_MatMulEpi && m->nin > 7 && m->in[0] == n->in[0] && m->in[7] == n->in[7] &&
		    (m->nin > 8 ? m->in[8] : IR_NONE) == bi &&
		    attr_float(m, "a_norm_epsilon", 1e-5f) == attr_float(n, "a_norm_epsilon", 1e-5f))
			return true;
	}
	return false;
}

/* Live nodes per op; Erf, Pow and Sqrt count only when they read a
 * computed value (the chains the fusions replace; one of constants is
 * folded unless the targets' variants of it disagree, passes/fold_elem.c).
 * A GELU that fuse-gemm moved into a GEMM epilogue (MatMulEpi
 * act="gelu"/"gelu_tanh") counts as a Gelu too, and a LayerNorm that
 * fuse-gemm-norm moved into one (MatMulEpi norm_scale) as a
 * LayerNormalization, and so does a GatherLayerNorm (fuse-gather-norm)
 * and a GEMM's row prologue (once for the GEMMs sharing one). */
static void count_ops(Graph *g, int *cnt)
{
	memset(cnt, 0, sizeof(int) * OP__COUNT);
	for (int i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].dead) {
			Op op = g->nodes[i].op;
			if ((op == OP_Erf || op == OP_Pow || op == OP_Sqrt) && const_inputs(g, &g->nodes[i]))
				continue;
			cnt[g->nodes[i].op]++;
			if (g->nodes[i].op == OP_MatMulEpi && !strncmp(attr_string(&g->nodes[i], "act", ""), "gelu", 4))
				cnt[OP_Gelu]++;
			if ((g->nodes[i].op == OP_MatMulEpi && g->nodes[i].nin > 5 && g->nodes[i].in[5] != IR_NONE) ||
			    g->nodes[i].op == OP_GatherLayerNorm)
				cnt[OP_LayerNormalization]++;
			if (g->nodes[i].op == OP_MatMulEpi && g->nodes[i].nin > 7 && g->nodes[i].in[7] != IR_NONE &&
			    !same_prologue_before(g, i))
				cnt[OP_LayerNormalization]++; /* the row prologue */
		}
}

/* v is a GEMM's output (MatMul, Gemm, or MatMulEpi without a residual)
 * read once (one input slot) and not a graph output. */
static bool gemm_output_once(Graph *g, ValueId v)
{
	NodeId p = gval(g, v)->producer;
	int uses = 0;
	for (int j = 0; j < g->nnodes; j++)
		for (int q = 0; q < g->nodes[j].nin && !g->nodes[j].dead; q++)
			uses += g->nodes[j].in[q] == v;
	return uses == 1 && !gval(g, v)->is_output && p != IR_NONE &&
	       (g->nodes[p].op == OP_MatMul || g->nodes[p].op == OP_Gemm ||
	        (g->nodes[p].op == OP_MatMulEpi && (g->nodes[p].nin < 4 || g->nodes[p].in[3] == IR_NONE)));
}

/* The producer of the input of live LayerNormalization n when n is over
 * the last axis alone, f32, without statistics outputs, and its input is
 * read once and not a graph output; else IR_NONE. */
static NodeId norm_single_source(Graph *g, const Node *n)
{
	if (n->dead || n->op != OP_LayerNormalization || n->nin < 2 || gval(g, n->in[0])->dtype != DT_F32 ||
	    (n->nout > 1 && n->out[1] != IR_NONE) || (n->nout > 2 && n->out[2] != IR_NONE))
		return IR_NONE;
	int r = gval(g, n->in[0])->shape.rank;
	int64_t axis = attr_int(n, "axis", -1);
	if (axis != -1 && axis != r - 1)
		return IR_NONE;
	ValueId v = n->in[0];
	int uses = 0;
	for (int j = 0; j < g->nnodes; j++)
		for (int q = 0; q < g->nodes[j].nin && !g->nodes[j].dead; q++)
			uses += g->nodes[j].in[q] == v;
	return uses == 1 && !gval(g, v)->is_output ? gval(g, v)->producer : IR_NONE;
}

/* Such LayerNormalizations reading a GEMM's output (gemm_output_once, with
 * or without a residual): what fuse-gemm-norm leaves none of. */
static int gemm_norm_pairs(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		NodeId p = norm_single_source(g, &g->nodes[i]);
		c += p != IR_NONE &&
		     (g->nodes[p].op == OP_MatMulEpi || (g->nodes[p].op == OP_MatMul &&
		                                         gval(g, g->nodes[p].in[1])->shape.rank >= 2));
	}
	return c;
}

/* Such LayerNormalizations reading a GatherRows: what fuse-gather-norm
 * leaves none of. */
static int gather_norm_pairs(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		NodeId p = norm_single_source(g, &g->nodes[i]);
		c += p != IR_NONE && g->nodes[p].op == OP_GatherRows;
	}
	return c;
}

/* GatherLayerNorms whose output a GEMM alone reads as its A (MatMul, or
 * MatMulEpi without rows, B a constant f32 [K, N]): what
 * fuse-gather-norm-gemm leaves none of. */
static int gather_norm_gemm_pairs(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead || (n->op != OP_MatMul && n->op != OP_MatMulEpi) || n->nin < 2 ||
		    (n->op == OP_MatMulEpi && n->nin > 4 && n->in[4] != IR_NONE))
			continue;
		const Value *b = gval(g, n->in[1]);
		ValueId v = n->in[0];
		NodeId p = gval(g, v)->producer;
		if (b->kind != VK_CONST || b->dtype != DT_F32 || b->shape.rank != 2 || p == IR_NONE ||
		    g->nodes[p].dead || g->nodes[p].op != OP_GatherLayerNorm || gval(g, v)->is_output)
			continue;
		int uses = 0;
		for (int j = 0; j < g->nnodes; j++)
			for (int q = 0; q < g->nodes[j].nin && !g->nodes[j].dead; q++)
				uses += g->nodes[j].in[q] == v;
		c += uses == 1;
	}
	return c;
}

/* GEMMs with a row prologue (MatMulEpi a_norm_scale). */
static int gemm_prologues(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += !g->nodes[i].dead && g->nodes[i].op == OP_MatMulEpi && g->nodes[i].nin > 7 &&
		     g->nodes[i].in[7] != IR_NONE;
	return c;
}

static int gemm_norms(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += !g->nodes[i].dead && g->nodes[i].op == OP_MatMulEpi && g->nodes[i].nin > 5 &&
		     g->nodes[i].in[5] != IR_NONE;
	return c;
}

/* gemm_output_once(v), or v is such an output Reshaped with its last dim
 * kept (the rows), read once: real-size SReT's window merge before its
 * residual coefficients. */
static bool gemm_rows_once(Graph *g, ValueId v)
{
	if (gemm_output_once(g, v))
		return true;
	NodeId p = gval(g, v)->producer;
	if (p == IR_NONE || g->nodes[p].op != OP_Reshape || gval(g, v)->is_output)
		return false;
	ValueId x = g->nodes[p].in[0];
	const Shape *vs = &gval(g, v)->shape, *xs = &gval(g, x)->shape;
	int uses = 0;
	for (int j = 0; j < g->nnodes; j++)
		for (int q = 0; q < g->nodes[j].nin && !g->nodes[j].dead; q++)
			uses += g->nodes[j].in[q] == v;
	return uses == 1 && vs->rank >= 1 && xs->rank >= 1 && vs->dims[vs->rank - 1] == xs->dims[xs->rank - 1] &&
	       gemm_output_once(g, x);
}

static bool const_scalar_value(Graph *g, ValueId v)
{
	const Value *s = gval(g, v);
	return s->kind == VK_CONST && shape_numel(&s->shape) == 1;
}

/* Muls of a GEMM's output (maybe behind a Reshape keeping its rows) by
 * a constant scalar, when the Mul is that output's only use: the scales fuse-gemm (and after fuse-gather-gemm's
 * output side, fuse_gemm_tail) moves into the epilogue — live Mul nodes
 * and Mul steps of an ElemChain reading such an output and such a
 * constant.  Not counted: a Mul of an output used elsewhere too (SReT's
 * block input x in a x + b f(x)), and a Mul after a MatMulEpi that already
 * adds a residual (the ODE models' step weight h in x + h (f + r): the
 * epilogue scales before its one residual add, not after). */
static int gemm_scalar_muls(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (!n->dead && n->op == OP_Mul && n->nin == 2) {
			for (int k = 0; k < 2; k++)
				if (const_scalar_value(g, n->in[1 - k]) && gemm_rows_once(g, n->in[k])) {
					c++;
					break;
				}
		}
		if (!n->dead && n->op == OP_ElemChain) {
			const ChainParams *cp = node_chain(g, i, NULL);
			assert_non_null(cp);
			for (int s = 0; s < cp->nsteps; s++) {
				const ChainStep *st = &cp->step[s];
				if (st->op != OP_Mul || st->a >= cp->nin || st->b >= cp->nin)
					continue;
				ValueId a = n->in[st->a], b = n->in[st->b];
				c += (const_scalar_value(g, b) && gemm_rows_once(g, a)) ||
				     (const_scalar_value(g, a) && gemm_rows_once(g, b));
			}
		}
	}
	return c;
}

/* Node i is an op fuse-elementwise fuses: f32 in and out, static shapes. */
static bool chain_op(Graph *g, NodeId i)
{
	const Node *n = &g->nodes[i];
	Op op = n->op;
	bool unary = op == OP_Neg || op == OP_Relu || op == OP_Sigmoid || op == OP_Tanh || op == OP_Erf;
	bool binary = op == OP_Add || op == OP_Sub || op == OP_Mul || op == OP_Div;
	if (n->dead || !(unary || binary) || n->nin != (binary ? 2 : 1) || n->nout != 1 ||
	    gval(g, n->out[0])->dtype != DT_F32)
		return false;
	for (int k = 0; k < n->nin; k++)
		if (gval(g, n->in[k])->dtype != DT_F32)
			return false;
	return true;
}

/* Pairs of such ops where one reads the other's output, that output has
 * no other use (one input slot), is not a graph output and has the
 * reader's output shape: what fuse-elementwise leaves none of. */
static int elementwise_pairs(Graph *g)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		if (!chain_op(g, i))
			continue;
		const Node *n = &g->nodes[i];
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			NodeId p = gval(g, v)->producer;
			int uses = 0;
			for (int j = 0; j < g->nnodes; j++)
				for (int q = 0; q < g->nodes[j].nin && !g->nodes[j].dead; q++)
					uses += g->nodes[j].in[q] == v;
			c += p != IR_NONE && chain_op(g, p) && uses == 1 && !gval(g, v)->is_output &&
			     shape_eq(&gval(g, v)->shape, &gval(g, n->out[0])->shape);
		}
	}
	return c;
}

/* Live nodes (each once: a GEMM with a fused GELU or LayerNorm is one). */
static int live_nodes(Graph *g)
{
	int t = 0;
	for (int i = 0; i < g->nnodes; i++)
		t += !g->nodes[i].dead;
	return t;
}

static void test_zoo_fused(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/models", ONNXCC_SOURCE_DIR);
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char **names = NULL;
	int nm = 0;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		char p[4600];
		snprintf(p, sizeof p, "%s/%s/model.onnx", dir, e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(p, "rb") : NULL;
		if (!f)
			continue;
		fclose(f);
		names = realloc(names, sizeof *names * (size_t)(nm + 1));
		names[nm++] = strdup(e->d_name);
	}
	closedir(dp);
	qsort(names, (size_t)nm, sizeof *names, cmp_str);
	assert_true(nm >= 10);
	static const char *const unfused[] = {"bind-dims", "infer", "aliases", "dce"};
	/* Stage transitions after the pipeline: GatherRows made (roll + window
	 * partition/reverse, patch merging, patch gathers, qkv Transpose +
	 * Gather), and the Transposes and Convs left. */
	static const struct {
		const char *model;
		int gather_rows, transposes, convs, gemm_norms, gemm_prologues;
	} stages[] = {
		{"encoder_opset14", 2, 2, 0, 2, 0},  /* of 8: the q/k/v Slice + Reshape of each in_proj are its GEMM blocks (fuse-slice-gemm); the [1,0,2] input Transposes stay */
		{"pvt_opset13", 0, 0, 0, 7, 4},      /* 3 patch embeddings + 3 spatial reductions, from tokens: their patch gathers are GEMM row indices (row_parts), their 6 LayerNorms and the final norm GEMM row epilogues; the 4 LayerNorms a GEMM alone reads (the norm2s before fc1) its row prologue (fuse-norm-gemm); those q and the spatial reduction (or kv) both read stay */
		{"pvt_opset17", 0, 0, 0, 7, 4},
		{"skip_attn", 0, 0, 0, 1, 3},        /* K/V read as two segments: the split Transposes are Attention strides; the 3 LayerNorms before the MLPs their fc1s' row prologues (those q, k and v all read stay) */
		{"sret_opset14", 0, 1, 1, 4, 10},     /* the permutation Gathers fuse-remap made are GEMM row indices; the stage transition (grouped Conv, 2 channels per group) is a channels-last DwConvNhwc; the stem's last 2 Convs are token GEMMs reading their im2col through row indices (fuse-patchify's Conv chain, fuse-gather-gemm), the first stays a Conv, its output moved channels-last by the one Transpose left; the 10 norm1/norm2 LayerNorms GEMMs alone read (some through a Reshape) are their row prologues */
		{"swin_opset14", 0, 0, 0, 2, 9},     /* patch merging (gather, LayerNorm, reduction) is one GEMM: its gather the row index (row_parts), its LayerNorm the row prologue, and so are the blocks' norm1 (qkv) and norm2 (fc1) LayerNorms; the patch gather (row_parts) and the 4 window partitions + 4 reverses are GEMM row indices; the patch embedding's LayerNorm and the final norm are GEMM row epilogues */
		{"swin_tv_mini", 0, 1, 0, 2, 14},     /* of 13: the 8 window partitions/reverses next to the qkv/proj GEMMs and the patch gather (row_parts) are their row indices, the 2 patch mergings' gathers and LayerNorms their reduction GEMMs' row indices and row prologues, the 12 blocks' norms the qkv/fc1 GEMMs' row prologues; the 2 that built the shifted windows' masks fold with them (ScatterND of constants); the head's permute stays (the packed-qkv Gathers become Attention strides once the scale Pow folds) */
		{"txl_opset13_b1", 0, 0, 0, 4, 0},   /* of 8: the 6 qkv chunks are blocks of their GEMMs (fuse-slice-gemm), the 2 new memories read the segment half of their Concat in place */
	};
	int checked = 0;
	fprintf(stderr, "%-24s %14s %6s %6s %10s %6s %5s %8s %10s %7s %6s %8s %8s %5s %9s %9s %8s %21s\n", "model", "nodes", "Erf",
	        "Pow", "LayerNorm", "Gelu", "MMEpi", "Softmax", "Transpose", "Conv", "GRows", "GEMMxc", "EWpair", "Chain",
	        "GEMMLN", "GRowsLN", "GLNGEMM", "workspace KiB");
	for (int i = 0; i < nm; i++) {
		char p[4600];
		snprintf(p, sizeof p, "%s/%s/model.onnx", dir, names[i]);
		int before[OP__COUNT], after[OP__COUNT];
		Diag d;
		diag_init(&d, p, false);
		Graph *g = onnx_load(p, &d);
		assert_non_null(g);
		for (size_t k = 0; k < sizeof unfused / sizeof unfused[0]; k++)
			if (!pass_run_named(g, unfused[k], &d))
				fail_msg("%s: %s", names[i], d.buf);
		count_ops(g, before);
		int muls0 = gemm_scalar_muls(g), pairs0 = elementwise_pairs(g);
		int gln0 = gemm_norm_pairs(g), grn0 = gather_norm_pairs(g), nodes0 = live_nodes(g);
		MemPlan mp0, mp1;
		if (!pass_memplan(g, &mp0, &d))
			fail_msg("%s: %s", names[i], d.buf);
		graph_free(g);
		g = onnx_load(p, &d);
		assert_non_null(g);
		PipelineOptions o = {.verify_each = true};
		if (!pass_pipeline(g, &o, &d))
			fail_msg("%s: %s", names[i], d.buf);
		count_ops(g, after);
		int muls1 = gemm_scalar_muls(g), pairs1 = elementwise_pairs(g);
		int gln1 = gemm_norm_pairs(g), norms1 = gemm_norms(g), nodes1 = live_nodes(g);
		int grn1 = gather_norm_pairs(g), grnorms1 = after[OP_GatherLayerNorm];
		int gng1 = gather_norm_gemm_pairs(g), pros1 = gemm_prologues(g);
		if (!pass_memplan(g, &mp1, &d))
			fail_msg("%s: %s", names[i], d.buf);
		graph_free(g);
		diag_free(&d);
		fprintf(stderr, "%-24s %6d -> %4d %2d->%-3d %2d->%-3d %3d->%-6d %2d->%-4d %3d %3d->%-3d %3d->%-5d %2d->%-3d %4d %3d->%-3d %3d->%-3d %5d %2d->%-2d+%-2d %2d->%-2d+%-2d %4d +%-2d %9.1f -> %-9.1f\n",
		        names[i], nodes0, nodes1, before[OP_Erf], after[OP_Erf], before[OP_Pow],
		        after[OP_Pow], before[OP_LayerNormalization], after[OP_LayerNormalization],
		        before[OP_Gelu], after[OP_Gelu], after[OP_MatMulEpi], before[OP_Softmax], after[OP_Softmax],
		        before[OP_Transpose], after[OP_Transpose], before[OP_Conv], after[OP_Conv],
		        after[OP_GatherRows], muls0, muls1, pairs0, pairs1, after[OP_ElemChain], gln0, gln1, norms1, grn0, grn1, grnorms1, gng1, pros1, mp0.size / 1024.0,
		        mp1.size / 1024.0);
		if (pairs1)
			fail_msg("%s keeps %d pairs of single-use f32 elementwise ops fuse-elementwise fuses", names[i], pairs1);
		/* scalar scales of GEMM outputs (SReT's residual coefficients, ODE
		 * step weights) are epilogue work after the pipeline */
		if (muls1)
			fail_msg("%s keeps %d Muls of a GEMM output by a constant scalar", names[i], muls1);
		/* a LayerNorm over the last axis of a GEMM's single-use output is
		 * the GEMM's row epilogue after the pipeline */
		if (gln1)
			fail_msg("%s keeps %d LayerNorms of a single-use GEMM output", names[i], gln1);
		/* a LayerNorm over the last axis of a single-use row gather reads
		 * through the gather's index after the pipeline (patch merging) */
		if (grn1)
			fail_msg("%s keeps %d LayerNorms of a single-use GatherRows", names[i], grn1);
		/* a GatherLayerNorm a GEMM alone reads is that GEMM's row index
		 * and row prologue after the pipeline (patch merging) */
		if (gng1)
			fail_msg("%s keeps %d GatherLayerNorms read by a GEMM alone", names[i], gng1);
		/* the stage transitions (fuse-patchify, fuse-remap), per model */
		for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++)
			if (!strcmp(stages[k].model, names[i])) {
				if (after[OP_GatherRows] != stages[k].gather_rows || after[OP_Transpose] != stages[k].transposes ||
				    after[OP_Conv] != stages[k].convs || norms1 != stages[k].gemm_norms ||
				    pros1 != stages[k].gemm_prologues)
					fail_msg("%s: %d GatherRows, %d Transposes, %d Convs, %d GEMM LayerNorms, %d GEMM row "
					         "prologues after the pipeline; want %d, %d, %d, %d, %d",
					         names[i], after[OP_GatherRows], after[OP_Transpose], after[OP_Conv], norms1, pros1,
					         stages[k].gather_rows, stages[k].transposes, stages[k].convs, stages[k].gemm_norms,
					         stages[k].gemm_prologues);
				checked++;
			}
		/* fused ops need no intermediates: the workspace never grows */
		if (mp1.size > mp0.size)
			fail_msg("%s: workspace %llu bytes after fusion, %llu before", names[i],
			         (unsigned long long)mp1.size, (unsigned long long)mp0.size);
		memplan_free(&mp0);
		memplan_free(&mp1);
		if (after[OP_Erf] || after[OP_Pow] || after[OP_Sqrt])
			fail_msg("%s keeps %d Erf, %d Pow, %d Sqrt after the pipeline", names[i],
			         after[OP_Erf], after[OP_Pow], after[OP_Sqrt]);
		/* each fused LayerNorm chain had 2 ReduceMeans; each GELU one Erf */
		assert_int_equal(before[OP_ReduceMean] - after[OP_ReduceMean],
		                 2 * (after[OP_LayerNormalization] - before[OP_LayerNormalization]));
		assert_int_equal(before[OP_Erf], after[OP_Gelu] - before[OP_Gelu]);
		free(names[i]);
	}
	free(names);
	assert_int_equal(checked, (int)(sizeof stages / sizeof stages[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_files),
		cmocka_unit_test(test_zoo_fused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

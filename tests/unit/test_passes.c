/* tests/unit/test_passes.c — pipeline tests: hand-built input graph, the
 * pipeline, ir_dump compared with tests/passes/<name>.expected (one-pass
 * tests are files, tests/passes/NAME.in, run by test_passfiles.c).
 * ONNXCC_UPDATE_EXPECTED=1 rewrites the expected files (review the diff!).
 *
 * Also: onnx_load + pass_pipeline + ir_dump over every model.onnx of the
 * ONNX node tests — each must either succeed or give a diagnostic (never
 * crash), and a successfully processed graph keeps no Shape node. */
#include "testutil.h"

#include <dirent.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "passes/pipeline.h"

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

/* Compares the dump of g with tests/passes/<name>.expected. */
static void compare_expected(Graph *g, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/passes/%s.expected", ONNXCC_SOURCE_DIR, name);
	char *got = dump_str(g);
	const char *upd = getenv("ONNXCC_UPDATE_EXPECTED");
	if (upd && strcmp(upd, "1") == 0) {
		tu_write_file(path, got, strlen(got));
		free(got);
		return;
	}
	char *want = read_all(path);
	if (!want)
		fail_msg("missing %s (run with ONNXCC_UPDATE_EXPECTED=1 to create it); got:\n%s", path, got);
	if (strcmp(got, want) != 0)
		fail_msg("%s differs.\n--- expected\n%s--- got\n%s", path, want, got);
	free(want);
	free(got);
}

/* ---- graph building ---------------------------------------------------------- */
static Graph *G;
static Diag D;

static int setup(void **state)
{
	(void)state;
	G = graph_new("passes.onnx");
	G->name = "t";
	G->opsets = arena_alloc(&G->arena, sizeof(OpsetImport));
	G->opsets[0].domain = "";
	G->opsets[0].version = 13;
	G->nopsets = 1;
	diag_init(&D, "passes.onnx", false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	graph_free(G);
	diag_free(&D);
	return 0;
}

static const int64_t D234[] = {2, 3, 4};

static ValueId inp(const char *name)
{
	Shape s = shape_make(3, D234);
	ValueId v = graph_add_value(G, name, DT_F32, &s);
	gval(G, v)->kind = VK_INPUT;
	G->inputs = realloc(G->inputs, sizeof(ValueId) * (size_t)(G->ninputs + 1));
	G->inputs[G->ninputs++] = v;
	return v;
}

static void set_outputs(const ValueId *v, int n)
{
	G->outputs = arena_dup(&G->arena, v, sizeof(ValueId) * (size_t)n);
	G->noutputs = n;
	for (int k = 0; k < n; k++)
		gval(G, v[k])->is_output = true;
}

/* inputs are realloc'd (not arena) in these tests: free them in teardown */
static int teardown_inputs(void **state)
{
	free(G->inputs);
	G->inputs = NULL;
	return teardown(state);
}

/* ---- random graphs: aliases + dce keep what every output computes ----------------
 * An output's meaning is written as an expression over graph inputs and
 * constants, alias ops (Identity, same-type Cast, Dropout) read as the
 * identity; it must be the same before and after the passes, the graph must
 * verify, and no removable alias may survive. */
static uint64_t prng = 0x2545F4914F6CDD1Dull;
static int prand(int n)
{
	prng ^= prng << 13;
	prng ^= prng >> 7;
	prng ^= prng << 17;
	return (int)(prng % (uint64_t)n);
}

static bool is_alias_op(Graph *g, const Node *n)
{
	return n->op == OP_Identity || n->op == OP_Dropout ||
	       (n->op == OP_Cast && attr_int(n, "to", 0) == gval(g, n->in[0])->dtype);
}

/* Expression of value v into buf (recursion over producers). */
static void expr(Graph *g, ValueId v, char *buf, size_t cap)
{
	Value *val = gval(g, v);
	if (val->kind != VK_INTERMEDIATE || val->producer == IR_NONE) {
		snprintf(buf, cap, "%s", val->name);
		return;
	}
	const Node *n = &g->nodes[val->producer];
	if (is_alias_op(g, n) && n->out[0] == v) {
		expr(g, n->in[0], buf, cap);
		return;
	}
	size_t len = (size_t)snprintf(buf, cap, "%s(", n->op_type);
	for (int k = 0; k < n->nin && len < cap; k++) {
		expr(g, n->in[k], buf + len, cap - len);
		len += strlen(buf + len);
		if (len + 1 < cap)
			buf[len++] = ',', buf[len] = 0;
	}
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] == v && len + 8 < cap)
			len += (size_t)snprintf(buf + len, cap - len, ")#%d", k);
}

static void test_aliases_random(void **state)
{
	(void)state;
	const char *seed = getenv("ONNXCC_FUZZ_SEED"); /* default: a fixed sequence */
	if (seed)
		prng = strtoull(seed, NULL, 0) | 1;
	for (int t = 0; t < 200; t++) {
		Graph *g = graph_new("r.onnx");
		int64_t d1[] = {4};
		Shape s = shape_make(1, d1);
		ValueId pool[256];
		int np = 0;
		g->inputs = arena_alloc(&g->arena, sizeof(ValueId) * 2);
		for (int k = 0; k < 2; k++) {
			ValueId v = graph_add_value(g, k ? "in1" : "in0", DT_F32, &s);
			gval(g, v)->kind = VK_INPUT;
			g->inputs[g->ninputs++] = v;
			pool[np++] = v;
		}
		float c[4] = {1, 2, 3, 4};
		pool[np++] = graph_add_const(g, "w", DT_F32, &s, c);
		int nn = 1 + prand(40);
		for (int i = 0; i < nn && np < 250; i++) {
			ValueId a = pool[np - 1 - prand(np < 4 ? np : 4)], b = pool[prand(np)];
			int kind = prand(6);
			/* aliases keep their input's dtype (a mask may flow on) */
			ValueId o = graph_add_value(g, NULL, kind <= 2 ? gval(g, a)->dtype : DT_F32, &s);
			if (kind == 0) {
				graph_add_node(g, OP_Identity, NULL, NULL, &a, 1, &o, 1);
			} else if (kind == 1) {
				NodeId n = graph_add_node(g, OP_Cast, NULL, NULL, &a, 1, &o, 1);
				graph_add_attr(g, n, "to", AK_INT)->i = DT_F32;
			} else if (kind == 2) {
				ValueId outs[2] = {o, graph_add_value(g, NULL, DT_BOOL, &s)};
				int no = prand(2) + 1;
				graph_add_node(g, OP_Dropout, NULL, NULL, &a, 1, outs, no);
				if (no == 2 && prand(4) == 0) /* the mask used: the Dropout must stay */
					pool[np++] = outs[1];
			} else if (kind == 3) {
				graph_add_node(g, OP_Relu, NULL, NULL, &a, 1, &o, 1);
			} else {
				ValueId in[] = {a, b};
				graph_add_node(g, OP_Add, NULL, NULL, in, 2, &o, 1);
			}
			pool[np++] = o;
		}
		int nout = 1 + prand(4);
		g->outputs = arena_alloc(&g->arena, sizeof(ValueId) * (size_t)nout);
		for (int k = 0; k < nout; k++) {
			ValueId v = k == 0 ? pool[np - 1] : pool[prand(np)];
			g->outputs[g->noutputs++] = v;
			gval(g, v)->is_output = true;
		}
		g->shapes_known = true;
		char before[8][4096], after[4096], names[8][64];
		for (int k = 0; k < g->noutputs; k++) {
			expr(g, g->outputs[k], before[k], sizeof before[k]);
			snprintf(names[k], sizeof names[k], "%s", gval(g, g->outputs[k])->name);
		}
		if (getenv("ONNXCC_VERBOSE"))
			ir_dump(g, stderr);
		Diag d;
		diag_init(&d, "r.onnx", false);
		assert_true(ir_verify(g, &d));
		assert_true(pass_remove_aliases(g, &d));
		if (getenv("ONNXCC_VERBOSE"))
			ir_dump(g, stderr);
		assert_true(pass_dce(g, &d));
		if (!ir_verify(g, &d))
			fail_msg("graph %d broken: %s", t, d.buf);
		for (int k = 0; k < g->noutputs; k++) {
			expr(g, g->outputs[k], after, sizeof after);
			assert_string_equal(before[k], after);
			/* the interface keeps its output names */
			assert_string_equal(gval(g, g->outputs[k])->name, names[k]);
		}
		/* a surviving alias must be one the output rule keeps */
		for (int i = 0; i < g->nnodes; i++) {
			Node *n = &g->nodes[i];
			if (!is_alias_op(g, n))
				continue;
			if (n->op == OP_Dropout && n->nout > 1 && graph_use_count(g, n->out[1]) > 0)
				continue;
			Value *x = gval(g, n->in[0]), *y = gval(g, n->out[0]);
			if (!y->is_output) {
				ir_dump(g, stderr);
				fail_msg("graph %d: alias node %d (%s) survived", t, i, n->op_type);
			}
			assert_true(x->is_output || x->kind != VK_INTERMEDIATE);
		}
		diag_free(&d);
		graph_free(g);
	}
}

/* ---- pipeline ----------------------------------------------------------------- */
/* x:f32[2,3,4] -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x)
 *   -> Identity -> y: after the pipeline only Reshape remains, writing y. */
static void build_shape_chain(void)
{
	ValueId x = inp("x");
	int64_t zero = 0, one1[] = {1}, m1 = -1;
	Shape s0 = shape_make(0, NULL), s1 = shape_make(1, one1);
	ValueId i0 = graph_add_const(G, "zero", DT_I64, &s0, &zero);
	ValueId ax = graph_add_const(G, "axes0", DT_I64, &s1, &zero);
	ValueId mm = graph_add_const(G, "minus1", DT_I64, &s1, &m1);
	ValueId v[8];
	for (int k = 0; k < 6; k++)
		v[k] = graph_add_value(G, NULL, DT_UNDEF, NULL);
	ValueId y = graph_add_value(G, "y", DT_UNDEF, NULL);
	ValueId gin[] = {v[0], i0}, uin[] = {v[1], ax}, cin[] = {v[2], mm}, rin[] = {x, v[3]};
	graph_add_node(G, OP_Shape, NULL, "shape", &x, 1, &v[0], 1);
	graph_add_node(G, OP_Gather, NULL, "gather", gin, 2, &v[1], 1);
	graph_add_node(G, OP_Unsqueeze, NULL, "unsq", uin, 2, &v[2], 1);
	NodeId c = graph_add_node(G, OP_Concat, NULL, "concat", cin, 2, &v[3], 1);
	graph_add_attr(G, c, "axis", AK_INT)->i = 0;
	graph_add_node(G, OP_Reshape, NULL, "reshape", rin, 2, &v[4], 1);
	graph_add_node(G, OP_Identity, NULL, "id", &v[4], 1, &y, 1);
	for (int i = 0; i < G->nnodes; i++)
		G->nodes[i].opset = 13;
	set_outputs(&y, 1);
}

static void test_pipeline_shape_chain(void **state)
{
	(void)state;
	build_shape_chain();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	PipelineOptions o = {.print_after = "infer", .verify_each = true, .dump_out = f};
	bool ok = pass_pipeline(G, &o, &D);
	fclose(f);
	if (!ok)
		fail_msg("pipeline: %s", D.buf ? D.buf : "");
	/* after infer: folded Shape arithmetic, still the Identity */
	assert_non_null(strstr(buf, "; after infer\n"));
	assert_null(strstr(buf, "Shape("));
	assert_non_null(strstr(buf, "Identity("));
	free(buf);
	compare_expected(G, "pipeline_shape_chain");
	assert_int_equal(G->nnodes, 1);
	assert_int_equal(G->nodes[0].op, OP_Reshape);
}

static void test_pipeline_unknown_pass_name(void **state)
{
	(void)state;
	build_shape_chain();
	PipelineOptions o = {.print_after = "fold-everything"};
	assert_false(pass_pipeline(G, &o, &D));
	assert_int_equal(D.nerrors, 1);
	assert_true(diag_contains(&D, "passes.onnx: unknown pass 'fold-everything' for --print-after "
	                              "(valid: freeze-inputs, bind-dims, infer, aliases, fuse-layernorm, fuse-gelu, "
	                              "fuse-attention, fuse-relattention, fuse-transpose, fuse-dwconv, fuse-patchify, "
	                              "fuse-bn-conv, fuse-pad-pool, fuse-conv-act, fuse-conv-tokens, fuse-remap, fuse-gemm, fuse-slice-gemm, fuse-gather-gemm, prune-rows, fuse-gemm-norm, fuse-gather-norm, fuse-gather-norm-gemm, fuse-norm-gemm, fuse-elementwise, dce, memplan)\n"));
	int n;
	const char *const *names = pass_names(&n);
	assert_int_equal(n, 27);
	assert_string_equal(names[0], "freeze-inputs");
	assert_string_equal(names[2], "infer");
	assert_string_equal(names[6], "fuse-attention");
	assert_string_equal(names[7], "fuse-relattention");
	assert_string_equal(names[8], "fuse-transpose");
	assert_string_equal(names[9], "fuse-dwconv");
	assert_string_equal(names[10], "fuse-patchify");
	assert_string_equal(names[11], "fuse-bn-conv");
	assert_string_equal(names[12], "fuse-pad-pool");
	assert_string_equal(names[13], "fuse-conv-act");
	assert_string_equal(names[14], "fuse-conv-tokens");
	assert_string_equal(names[15], "fuse-remap");
	assert_string_equal(names[16], "fuse-gemm");
	assert_string_equal(names[17], "fuse-slice-gemm");
	assert_string_equal(names[18], "fuse-gather-gemm");
	assert_string_equal(names[19], "prune-rows");
	assert_string_equal(names[20], "fuse-gemm-norm");
	assert_string_equal(names[21], "fuse-gather-norm");
	assert_string_equal(names[22], "fuse-gather-norm-gemm");
	assert_string_equal(names[23], "fuse-norm-gemm");
	assert_string_equal(names[24], "fuse-elementwise");
	assert_string_equal(names[25], "dce");
	assert_string_equal(names[26], "memplan");
	/* nothing ran */
	assert_false(G->shapes_known);
}

/* --disable-pass: only the optional passes may be left out; a bad name is
 * refused before any pass runs. */
static void test_pipeline_disable_pass(void **state)
{
	(void)state;
	build_shape_chain();
	const char *req[] = {"dce"};
	PipelineOptions o = {.disabled = req, .ndisabled = 1};
	assert_false(pass_pipeline(G, &o, &D));
	assert_true(diag_contains(&D, "required pass 'dce' for --disable-pass (the passes that may be left "
	                              "out: fuse-layernorm, fuse-gelu, fuse-attention, fuse-relattention, "
	                              "fuse-transpose, fuse-dwconv, fuse-patchify, fuse-bn-conv, fuse-pad-pool, fuse-conv-act, fuse-conv-tokens, fuse-remap, "
	                              "fuse-gemm, "
	                              "fuse-slice-gemm, fuse-gather-gemm, prune-rows, fuse-gemm-norm, fuse-gather-norm, fuse-gather-norm-gemm, fuse-norm-gemm, fuse-elementwise)\n"));
	const char *unknown[] = {"fuse-everything"};
	o.disabled = unknown;
	assert_false(pass_pipeline(G, &o, &D));
	assert_true(diag_contains(&D, "unknown pass 'fuse-everything' for --disable-pass"));
	assert_false(G->shapes_known);
	assert_true(pass_optional("fuse-gemm"));
	assert_true(pass_optional("prune-rows"));
	assert_false(pass_optional("infer"));
	assert_false(pass_optional("fuse-everything"));
}

/* A graph broken before the pipeline is caught right after the first pass. */
static void test_pipeline_verify_each(void **state)
{
	(void)state;
	build_shape_chain();
	G->nodes[1].in[0] = G->nodes[2].out[0]; /* Gather reads Unsqueeze's output: a cycle */
	PipelineOptions o = {.verify_each = true};
	assert_false(pass_pipeline(G, &o, &D));
	assert_true(diag_contains(&D, "is used before its producer 'unsq'"));
	assert_true(diag_contains(&D, "verify failed after pass 'freeze-inputs'"));
}

/* --time-passes: a table on stderr with one row per pass and a total. */
static void test_pipeline_time_passes(void **state)
{
	(void)state;
	build_shape_chain();
	char *dir = tu_tmpdir();
	char path[4200];
	snprintf(path, sizeof path, "%s/stderr.txt", dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	dup2(fileno(f), 2);
	PipelineOptions o = {.time_passes = true};
	bool ok = pass_pipeline(G, &o, &D);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(f);
	assert_true(ok);
	char *txt = read_all(path);
	assert_non_null(txt);
	const char *rows[] = {"pass", "freeze-inputs", "bind-dims", "infer", "aliases", "fuse-layernorm", "fuse-gelu", "fuse-attention", "fuse-relattention", "fuse-transpose", "fuse-dwconv", "fuse-patchify", "fuse-bn-conv", "fuse-pad-pool", "fuse-conv-act", "fuse-remap", "fuse-gemm", "fuse-slice-gemm", "fuse-gather-gemm", "prune-rows", "fuse-gemm-norm", "fuse-gather-norm", "fuse-gather-norm-gemm", "fuse-norm-gemm", "fuse-elementwise", "dce", "memplan", "total"};
	const char *at = txt;
	for (int k = 0; k < 8; k++) {
		const char *p = strstr(at, rows[k]);
		if (!p)
			fail_msg("row '%s' missing in:\n%s", rows[k], txt);
		at = p;
	}
	free(txt);
	tu_rmtree(dir);
	free(dir);
}

/* ---- every ONNX node test through the front half of the compiler ---------------- */
static void test_node_models(void **state)
{
	(void)state;
	DIR *dir = opendir(ONNXCC_NODE_TESTS);
	if (!dir)
		skip();
	struct dirent *e;
	int total = 0, ok = 0, failed = 0;
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s/model.onnx", ONNXCC_NODE_TESTS, e->d_name);
		FILE *probe = fopen(path, "rb");
		if (!probe)
			continue;
		fclose(probe);
		total++;
		Diag d;
		diag_init(&d, path, false);
		Graph *g = onnx_load(path, &d);
		bool good = false;
		if (g) {
			PipelineOptions o = {.verify_each = true};
			good = pass_pipeline(g, &o, &d);
			if (good) {
				ir_dump(g, null);
				for (int i = 0; i < g->nnodes; i++)
					if (!g->nodes[i].dead && (g->nodes[i].op == OP_Shape || g->nodes[i].op == OP_Size))
						fail_msg("%s: a %s node survived the pipeline", e->d_name, g->nodes[i].op_type);
			}
		}
		if (good) {
			ok++;
		} else {
			failed++;
			/* a failure must come with a diagnostic, and never a verifier one */
			if (d.nerrors == 0)
				fail_msg("%s: failed without a diagnostic", e->d_name);
			if (strstr(d.buf, "verify"))
				fail_msg("%s: broken graph after a pass:\n%s", e->d_name, d.buf);
			if (getenv("ONNXCC_VERBOSE"))
				fprintf(stderr, "%s", d.buf);
		}
		diag_free(&d);
		graph_free(g);
	}
	closedir(dir);
	fclose(null);
	fprintf(stderr, "node tests: %d models, %d through the pipeline, %d diagnosed\n", total, ok, failed);
	assert_true(total > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases_random),
		cmocka_unit_test_setup_teardown(test_pipeline_shape_chain, setup, teardown_inputs),
		cmocka_unit_test_setup_teardown(test_pipeline_unknown_pass_name, setup, teardown_inputs),
		cmocka_unit_test_setup_teardown(test_pipeline_disable_pass, setup, teardown_inputs),
		cmocka_unit_test_setup_teardown(test_pipeline_verify_each, setup, teardown_inputs),
		cmocka_unit_test_setup_teardown(test_pipeline_time_passes, setup, teardown_inputs),
		cmocka_unit_test(test_node_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_memplan.c — the static memory planner.
 *
 * A plan is checked by brute force: live ranges are recomputed here from
 * the node order, and every pair of planned values whose ranges overlap
 * must occupy disjoint bytes; offsets are 64-aligned, inside the
 * workspace, and exactly the right values are planned.  An ElemChain's
 * output written in place of an input must take all of that input's
 * storage, and nothing may read the storage's old values after it.  Checked on random
 * DAGs, on chains (where reuse must beat the naive plan), and on the real
 * models of tests/models and the ONNX node tests after the pipeline. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"

static uint64_t vbytes(Graph *g, ValueId v)
{
	return (uint64_t)shape_numel(&gval(g, v)->shape) * dtype_size(gval(g, v)->dtype);
}

/* Brute-force validity check of plan p for g. */
static void check_plan(Graph *g, const MemPlan *p)
{
	int nv = g->nvalues;
	int *first = malloc(sizeof(int) * (size_t)nv), *last = malloc(sizeof(int) * (size_t)nv);
	ValueId *root = malloc(sizeof(ValueId) * (size_t)nv);
	char *should = calloc((size_t)nv, 1), *stale = calloc((size_t)nv, 1);
	int inplace = 0;
	uint64_t inplace_bytes = 0;
	for (int v = 0; v < nv; v++) {
		first[v] = last[v] = -1;
		root[v] = v;
	}
	int pos = 0;
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			if (n->in[k] != IR_NONE && stale[n->in[k]])
				fail_msg("node %d reads '%s' after an ElemChain overwrote it", i, gval(g, n->in[k])->name);
			if (n->in[k] != IR_NONE && first[root[n->in[k]]] >= 0)
				last[root[n->in[k]]] = pos;
		}
		ValueId o = n->nout == 1 ? n->out[0] : IR_NONE;
		int share = -1;
		for (int k = 0; n->op == OP_ElemChain && o != IR_NONE && k < n->nin && share < 0; k++) {
			ValueId r = root[n->in[k]];
			if (should[o] == 0 && gval(g, o)->kind == VK_INTERMEDIATE && !gval(g, o)->is_output &&
			    first[r] >= 0 && p->offset[o] == p->offset[r] && vbytes(g, o) &&
			    shape_eq(&gval(g, o)->shape, &gval(g, n->in[k])->shape))
				share = k;
		}
		if (share >= 0) {
			/* in place: the storage's values so far are dead from here */
			ValueId r = root[n->in[share]];
			for (int v = 0; v < nv; v++)
				if (root[v] == r)
					stale[v] = 1;
			root[o] = r;
			inplace++;
			inplace_bytes += (vbytes(g, o) + 63) / 64 * 64;
			pos++;
			continue;
		}
		if (memplan_view_node(g, n)) {
			/* a view shares its input's storage and extends its life */
			assert_int_equal(p->view_of[n->out[0]], n->in[0]);
			root[n->out[0]] = root[n->in[0]];
			pos++;
			continue;
		}
		for (int k = 0; k < n->nout; k++) {
			ValueId v = n->out[k];
			if (v == IR_NONE)
				continue;
			if (gval(g, v)->kind == VK_INTERMEDIATE && !gval(g, v)->is_output) {
				should[v] = 1;
				first[v] = last[v] = pos;
			}
		}
		pos++;
	}
	int planned = 0;
	uint64_t naive = 0;
	for (int v = 0; v < nv; v++) {
		if (root[v] != v) {
			assert_int_equal(p->offset[v], p->offset[root[v]]);
			continue;
		}
		assert_int_equal(p->view_of[v], IR_NONE);
		if (!should[v]) {
			if (p->offset[v] != -1)
				fail_msg("value '%s' (kind %d) must not be planned, has offset %lld", gval(g, v)->name,
				         gval(g, v)->kind, (long long)p->offset[v]);
			continue;
		}
		planned++;
		naive += (vbytes(g, v) + 63) / 64 * 64;
		assert_true(p->offset[v] >= 0);
		assert_int_equal(p->offset[v] % 64, 0);
		assert_true((uint64_t)p->offset[v] + vbytes(g, v) <= p->size);
	}
	assert_int_equal(planned, p->nplanned);
	assert_int_equal(inplace, p->ninplace);
	assert_int_equal(naive + inplace_bytes, p->naive);
	assert_int_equal(p->size % 64, 0);
	assert_true(p->size <= p->naive);
	for (int a = 0; a < nv; a++) {
		if (!should[a] || !vbytes(g, a))
			continue;
		for (int b = a + 1; b < nv; b++) {
			if (!should[b] || !vbytes(g, b))
				continue;
			if (first[a] > last[b] || first[b] > last[a])
				continue; /* lives do not overlap */
			uint64_t a0 = (uint64_t)p->offset[a], a1 = a0 + vbytes(g, a);
			uint64_t b0 = (uint64_t)p->offset[b], b1 = b0 + vbytes(g, b);
			if (a0 < b1 && b0 < a1)
				fail_msg("'%s' [%llu,%llu) and '%s' [%llu,%llu) overlap while both live",
				         gval(g, a)->name, (unsigned long long)a0, (unsigned long long)a1,
				         gval(g, b)->name, (unsigned long long)b0, (unsigned long long)b1);
		}
	}
	free(first);
	free(last);
	free(root);
	free(should);
	free(stale);
}

/* ---- random DAGs -------------------------------------------------------------- */
static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static ValueId new_val(Graph *g)
{
	static const DType dts[] = {DT_F32, DT_I64, DT_BOOL, DT_F16};
	int64_t d = 1 + rnd(3000);
	if (rnd(10) == 0)
		d = 0; /* zero-sized values happen (empty slices) */
	Shape s = shape_make(1, &d);
	return graph_add_value(g, NULL, dts[rnd(4)], &s);
}

static Graph *random_dag(int nnodes)
{
	Graph *g = graph_new("random.onnx");
	ValueId *pool = malloc(sizeof(ValueId) * (size_t)(nnodes * 2 + 8));
	int np = 0;
	int nin = 1 + (int)rnd(3);
	g->inputs = arena_alloc(&g->arena, sizeof(ValueId) * (size_t)nin);
	for (int k = 0; k < nin; k++) {
		ValueId v = new_val(g);
		gval(g, v)->kind = VK_INPUT;
		g->inputs[g->ninputs++] = v;
		pool[np++] = v;
	}
	float c = 1;
	Shape cs = shape_make(0, NULL);
	pool[np++] = graph_add_const(g, NULL, DT_F32, &cs, &c);
	for (int i = 0; i < nnodes; i++) {
		int kind = (int)rnd(4);
		/* prefer recent values so lives are short and reuse matters */
		ValueId a = pool[np - 1 - (int)rnd((uint32_t)(np < 6 ? np : 6))];
		ValueId b = pool[rnd((uint32_t)np)];
		if (kind == 0) {
			ValueId o = new_val(g);
			graph_add_node(g, OP_Relu, NULL, NULL, &a, 1, &o, 1);
			pool[np++] = o;
		} else if (kind == 1) {
			ValueId in[] = {a, b}, o = new_val(g);
			graph_add_node(g, OP_Add, NULL, NULL, in, 2, &o, 1);
			pool[np++] = o;
		} else if (kind == 2) {
			/* a view: same bytes under another shape (the output may
			 * still become a graph output below, and then is no view) */
			int64_t d[2] = {1, shape_numel(&gval(g, a)->shape)};
			Shape s2 = shape_make(2, d);
			ValueId o = graph_add_value(g, NULL, gval(g, a)->dtype, &s2);
			graph_add_node(g, OP_Reshape, NULL, NULL, &a, 1, &o, 1);
			pool[np++] = o;
		} else {
			ValueId o[] = {new_val(g), new_val(g)};
			graph_add_node(g, OP_Split, NULL, NULL, &a, 1, o, 2);
			pool[np++] = o[0];
			pool[np++] = o[1];
		}
		if (rnd(8) == 0)
			g->nodes[g->nnodes - 1].dead = true; /* dead nodes are ignored */
	}
	/* outputs: the last value and a few random ones */
	int nout = 1 + (int)rnd(3);
	g->outputs = arena_alloc(&g->arena, sizeof(ValueId) * (size_t)nout);
	for (int k = 0; k < nout; k++) {
		ValueId v = k == 0 ? pool[np - 1] : pool[rnd((uint32_t)np)];
		g->outputs[g->noutputs++] = v;
		gval(g, v)->is_output = true;
	}
	free(pool);
	g->shapes_known = true;
	return g;
}

static void test_random_dags(void **state)
{
	(void)state;
	int reused = 0, views = 0;
	for (int t = 0; t < 300; t++) {
		Graph *g = random_dag(1 + (int)rnd(120));
		Diag d;
		diag_init(&d, "random.onnx", false);
		MemPlan p;
		if (!pass_memplan(g, &p, &d))
			fail_msg("memplan: %s", d.buf);
		check_plan(g, &p);
		reused += p.size < p.naive;
		views += p.nviews;
		memplan_free(&p);
		diag_free(&d);
		graph_free(g);
	}
	/* the generator favours short lives: most plans must share memory */
	assert_true(reused > 150);
	assert_true(views > 300); /* a quarter of the nodes are Reshapes */
}

/* ---- chains ------------------------------------------------------------------- */
static void test_chain_reuses(void **state)
{
	(void)state;
	Graph *g = graph_new("chain.onnx");
	int64_t dims[] = {1000};
	Shape s = shape_make(1, dims);
	ValueId x = graph_add_value(g, "x", DT_F32, &s);
	gval(g, x)->kind = VK_INPUT;
	g->inputs = arena_dup(&g->arena, &x, sizeof x);
	g->ninputs = 1;
	ValueId prev = x;
	for (int i = 0; i < 10; i++) {
		ValueId o = graph_add_value(g, NULL, DT_F32, &s);
		graph_add_node(g, OP_Relu, NULL, NULL, &prev, 1, &o, 1);
		prev = o;
	}
	gval(g, prev)->is_output = true;
	g->outputs = arena_dup(&g->arena, &prev, sizeof prev);
	g->noutputs = 1;
	g->shapes_known = true;
	Diag d;
	diag_init(&d, "chain.onnx", false);
	MemPlan p;
	assert_true(pass_memplan(g, &p, &d));
	check_plan(g, &p);
	/* 9 planned values of 4000 bytes (4032 aligned); a chain needs two */
	assert_int_equal(p.nplanned, 9);
	assert_int_equal(p.naive, 9 * 4032);
	assert_int_equal(p.size, 2 * 4032);
	assert_int_equal(p.offset[x], -1);
	assert_int_equal(p.offset[prev], -1);
	memplan_free(&p);
	/* without inferred shapes: a diagnostic, not a plan */
	g->shapes_known = false;
	assert_false(pass_memplan(g, &p, &d));
	assert_true(diag_contains(&d, "memory planning requires inferred shapes"));
	memplan_free(&p);
	diag_free(&d);
	graph_free(g);
}

/* ElemChain outputs written in place: of a dying input an ElemChain made
 * (through a chain of them), not of one still read later, nor of one
 * another op made. */
static void test_chain_inplace(void **state)
{
	(void)state;
	static const char *const text[2] = {
		"graph \"t\" opset ai.onnx=17, onnxcc=1\n"
		"input  %x : f32[4,16]\n"
		"%a : f32[4,16] = Neg(%x)  # a\n"
		"%b : f32[4,16] = onnxcc::ElemChain(%a, %x) {expr=\"Relu(Add(x0,x1))\"}  # b\n"
		"%c : f32[4,16] = onnxcc::ElemChain(%b, %x) {expr=\"Mul(Neg(x0),x1)\"}  # c\n"
		"%e : f32[4,16] = onnxcc::ElemChain(%c, %a) {expr=\"Sub(x0,x1)\"}  # e\n"
		"%y : f32[4,16] = Neg(%e)  # y\n"
		"output %y\n",
		/* b read after c: c gets a range of its own */
		"graph \"t\" opset ai.onnx=17, onnxcc=1\n"
		"input  %x : f32[4,16]\n"
		"%a : f32[4,16] = Neg(%x)  # a\n"
		"%b : f32[4,16] = onnxcc::ElemChain(%a, %x) {expr=\"Relu(Add(x0,x1))\"}  # b\n"
		"%c : f32[4,16] = onnxcc::ElemChain(%b, %x) {expr=\"Mul(Neg(x0),x1)\"}  # c\n"
		"%y : f32[4,16] = onnxcc::ElemChain(%c, %b) {expr=\"Sub(x0,x1)\"}  # y\n"
		"output %y\n",
	};
	for (int t = 0; t < 2; t++) {
		Diag d;
		diag_init(&d, "inplace.ir", false);
		Graph *g = ir_parse(text[t], "inplace.ir", 0, &d);
		assert_non_null(g);
		if (!pass_run_named(g, "infer", &d))
			fail_msg("%s", d.buf);
		MemPlan p;
		assert_true(pass_memplan(g, &p, &d));
		check_plan(g, &p);
		ValueId a = graph_find_value(g, "a"), b = graph_find_value(g, "b"), c = graph_find_value(g, "c");
		if (t == 0) {
			ValueId e = graph_find_value(g, "e");
			assert_int_equal(p.ninplace, 2);   /* c over b, e over c (b's range) */
			assert_int_equal(p.offset[c], p.offset[b]);
			assert_int_equal(p.offset[e], p.offset[b]);
			assert_true(p.offset[a] != p.offset[b]);
			assert_int_equal(p.nplanned, 2);
		} else {
			assert_int_equal(p.ninplace, 0);
			assert_true(p.offset[c] != p.offset[b]);
		}
		memplan_free(&p);
		diag_free(&d);
		graph_free(g);
	}
}

/* ---- real models --------------------------------------------------------------- */
/* 1 when planned and checked, 0 when the model does not get through the pipeline. */
static int plan_model(const char *path, uint64_t *size, uint64_t *naive)
{
	Diag d;
	diag_init(&d, path, false);
	Graph *g = onnx_load(path, &d);
	int r = 0;
	if (g) {
		PipelineOptions o = {0};
		if (pass_pipeline(g, &o, &d)) {
			MemPlan p;
			if (!pass_memplan(g, &p, &d))
				fail_msg("%s: %s", path, d.buf);
			check_plan(g, &p);
			*size += p.size;
			*naive += p.naive;
			memplan_free(&p);
			r = 1;
		}
	}
	graph_free(g);
	diag_free(&d);
	return r;
}

static int plan_dir(const char *root, const char *label)
{
	DIR *dir = opendir(root);
	if (!dir)
		return 0;
	struct dirent *e;
	int n = 0;
	uint64_t size = 0, naive = 0;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s/model.onnx", root, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		fclose(f);
		n += plan_model(path, &size, &naive);
	}
	closedir(dir);
	fprintf(stderr, "%s: %d models planned, workspace %llu bytes vs %llu without reuse\n", label, n,
	        (unsigned long long)size, (unsigned long long)naive);
	return n;
}

static void test_real_models(void **state)
{
	(void)state;
	int n = plan_dir(ONNXCC_SOURCE_DIR "/tests/models", "tests/models");
	n += plan_dir(ONNXCC_NODE_TESTS, "node tests");
	if (n == 0)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_reuses),
		cmocka_unit_test(test_chain_inplace),
		cmocka_unit_test(test_random_dags),
		cmocka_unit_test(test_real_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

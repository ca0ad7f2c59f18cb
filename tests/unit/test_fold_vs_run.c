/* tests/unit/test_fold_vs_run.c — one semantics for folding and running.
 *
 * Every op the constant folder evaluates (passes/fold*.c) is built twice
 * per case: once with constant inputs, folded on the host by
 * pass_fold_node(), once with the same values as graph inputs, compiled
 * (-O2, host CPU baseline) and run.  The two results must be bit-equal
 * (two NaNs are equal whatever their payloads).  Inputs are edge values —
 * zeros of both signs, ±1, halves, NaN, ±inf, values beyond every integer
 * type, subnormals, integer extremes, 0 and -1 divisors — followed by
 * seeded random values.  All cases of one test run in one compiled graph
 * (one compile, one run).
 *
 * Float transcendental functions and Pow are folded by interpreting the
 * generated code's own helpers (codegen/mathfn_host.c) in every target
 * variant (FMA or not) and only when all agree: test_math_eval checks the
 * interpreter bit for bit against the code compiled for baseline x86-64
 * (no FMA) and, where the host has it, for AVX2+FMA; the folding cases
 * then require the f32 trig functions and Pow (computed in double and
 * rounded once: the variants agree) to be folded, and any other
 * transcendental that is folded to match the run.  Where the folder cannot
 * match the generated code bit for bit it must not fold (the node then
 * runs at run time): float Mean, reductions and Einsum (summation order
 * and precision, which depend on the vector width picked at run time),
 * float Sum of more than two inputs.  The test checks that those are left
 * alone and that everything else is folded. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/mathfn.h"
#include "passes/fold.h"
#include "testutil.h"

enum { N = 96, MAXC = 160, MAXIN = 3 };

typedef struct Case {
	Op op;
	int opset;
	int nin;
	DType in_dt[MAXIN];
	int in_rank;
	int64_t in_dims[2];
	DType out_dt;
	int out_rank;
	int64_t out_dims[2];
	const char *attr_name;     /* one int attribute (or NULL) */
	int64_t attr_val;
	int64_t axes[1];           /* ReduceX axes (attribute before opset 13, input after) */
	bool reduce;
	bool fold_expected;
	bool fold_optional;        /* folding allowed, not required */
	const char *label;
	void *in_data[MAXIN];
	NodeId node_c, node_r;
	ValueId out_c, out_r;
	void *out_run;
} Case;

static Case cases[MAXC];
static int ncases;

/* ---- input values -------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const double fedges[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 7.0, -7.0, NAN, INFINITY, -INFINITY,
	1e30, -1e30, 3e9, -3e9, 2147483648.0, -2147483904.0, 65504.0, 65520.0, 1e-40, -1e-40,
	FLT_MAX, 1e-8, 0.1, 100.0, 255.5, 256.0, -129.0, 4294967296.0, 9.3e18, -9.3e18, 1.8e19,
	32767.5, -32768.5, 127.5, -128.5,
};
static const int64_t iedges[] = {
	0, 1, -1, 2, -2, 7, -7, INT32_MIN, INT32_MAX, INT32_MIN + 1, 100, -100, 65535, 65536,
	INT64_MIN, INT64_MAX, 127, -128, 255, 256, 3, -3,
};

/* Fills n elements of dtype dt at p: the edges rotated by `shift`, then
 * random values. */
static void fill(void *p, DType dt, int n, int shift)
{
	int nf = (int)(sizeof fedges / sizeof fedges[0]), ni = (int)(sizeof iedges / sizeof iedges[0]);
	for (int k = 0; k < n; k++) {
		uint64_t r = next_rand();
		if (dtype_is_float(dt)) {
			double x = k < nf ? fedges[(k + shift) % nf]
			                  : ((double)(r % 20001) - 10000.0) / (r & 1 ? 100.0 : 7.0);
			switch (dt) {
			case DT_F32: ((float *)p)[k] = (float)x; break;
			case DT_F64: ((double *)p)[k] = x; break;
			default: fail();
			}
		} else if (dt == DT_BOOL) {
			((uint8_t *)p)[k] = (uint8_t)((r >> 5) & 1);
		} else {
			int64_t x = k < ni ? iedges[(k + shift) % ni] : (int64_t)(r % 2001) - 1000;
			if (k >= ni && (r & 0x300) == 0x300)
				x = (int64_t)r;   /* sometimes any bits */
			switch (dtype_size(dt)) {
			case 1: ((uint8_t *)p)[k] = (uint8_t)x; break;
			case 2: ((uint16_t *)p)[k] = (uint16_t)x; break;
			case 4: ((uint32_t *)p)[k] = (uint32_t)x; break;
			default: ((uint64_t *)p)[k] = (uint64_t)x; break;
			}
		}
	}
}

/* ---- building ------------------------------------------------------------ */

static Graph *gc, *gr;

static Graph *big_graph(void)
{
	Graph *g = graph_new("fold_vs_run.onnx");
	g->inputs = arena_alloc(&g->arena, MAXC * MAXIN * sizeof(ValueId));
	g->outputs = arena_alloc(&g->arena, MAXC * sizeof(ValueId));
	return g;
}

static Case *add(Op op, int opset, int nin, DType dt, DType out_dt, bool fold_expected, const char *label)
{
	assert_true(ncases < MAXC);
	Case *c = &cases[ncases++];
	memset(c, 0, sizeof *c);
	c->op = op;
	c->opset = opset;
	c->nin = nin;
	for (int i = 0; i < nin; i++)
		c->in_dt[i] = dt;
	c->in_rank = c->out_rank = 1;
	c->in_dims[0] = c->out_dims[0] = N;
	c->out_dt = out_dt;
	c->fold_expected = fold_expected;
	c->label = label;
	return c;
}

static int64_t numel(int rank, const int64_t *dims)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= dims[i];
	return n;
}

/* Puts case c into both graphs. */
static void build(Case *c, int idx)
{
	ValueId ic[MAXIN + 1], ir[MAXIN + 1];
	char name[64];
	int64_t n_in = numel(c->in_rank, c->in_dims);
	for (int i = 0; i < c->nin; i++) {
		size_t bytes = (size_t)n_in * dtype_size(c->in_dt[i]);
		c->in_data[i] = malloc(bytes);
		fill(c->in_data[i], c->in_dt[i], (int)n_in, idx * 3 + i * 11);
		Shape s = shape_make(c->in_rank, c->in_dims);
		snprintf(name, sizeof name, "c%d_in%d", idx, i);
		ic[i] = graph_add_const(gc, name, c->in_dt[i], &s, c->in_data[i]);
		ir[i] = graph_add_value(gr, name, c->in_dt[i], &s);
		gval(gr, ir[i])->kind = VK_INPUT;
		gr->inputs[gr->ninputs++] = ir[i];
	}
	int nin = c->nin;
	if (c->reduce && c->opset >= 13) {
		Shape s = shape_make(1, (int64_t[]){1});
		snprintf(name, sizeof name, "c%d_axes", idx);
		ic[nin] = graph_add_const(gc, name, DT_I64, &s, c->axes);
		ir[nin] = graph_add_const(gr, name, DT_I64, &s, c->axes);
		nin++;
	}
	Shape so = shape_make(c->out_rank, c->out_dims);
	snprintf(name, sizeof name, "c%d_out", idx);
	c->out_c = graph_add_value(gc, name, c->out_dt, &so);
	c->out_r = graph_add_value(gr, name, c->out_dt, &so);
	gc->outputs[gc->noutputs++] = c->out_c;
	gr->outputs[gr->noutputs++] = c->out_r;
	c->node_c = tu_add_node(gc, c->op, c->opset, ic, nin, &c->out_c, 1);
	c->node_r = tu_add_node(gr, c->op, c->opset, ir, nin, &c->out_r, 1);
	if (c->attr_name) {
		tu_set_int(gc, c->node_c, c->attr_name, c->attr_val);
		tu_set_int(gr, c->node_r, c->attr_name, c->attr_val);
	}
	if (c->reduce) {
		tu_set_int(gc, c->node_c, "keepdims", 0);
		tu_set_int(gr, c->node_r, "keepdims", 0);
		if (c->opset < 13) {
			tu_set_ints(gc, c->node_c, "axes", 1, c->axes);
			tu_set_ints(gr, c->node_r, "axes", 1, c->axes);
		}
	}
}

static bool same_el(DType dt, const unsigned char *a, const unsigned char *b)
{
	if (dt == DT_F32) {
		float x, y;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		if (isnan(x) && isnan(y))
			return true;
	} else if (dt == DT_F64) {
		double x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (isnan(x) && isnan(y))
			return true;
	} else if (dt == DT_F16 || dt == DT_BF16) {
		uint16_t x, y;
		memcpy(&x, a, 2);
		memcpy(&y, b, 2);
		unsigned em = dt == DT_F16 ? 0x7c00u : 0x7f80u, mm = dt == DT_F16 ? 0x3ffu : 0x7fu;
		if ((x & em) == em && (x & mm) && (y & em) == em && (y & mm))
			return true;
	}
	return !memcmp(a, b, dtype_size(dt));
}

static void print_el(DType dt, const void *p, int64_t k)
{
	const unsigned char *b = (const unsigned char *)p + k * (int64_t)dtype_size(dt);
	if (dt == DT_F32) {
		float x;
		memcpy(&x, b, 4);
		fprintf(stderr, "%.9g", x);
	} else if (dt == DT_F64) {
		double x;
		memcpy(&x, b, 8);
		fprintf(stderr, "%.17g", x);
	} else {
		uint64_t u = 0;
		memcpy(&u, b, dtype_size(dt));
		fprintf(stderr, "0x%llx", (unsigned long long)u);
	}
}

/* Builds every case, folds gc, compiles and runs gr, compares. */
static void run_all(void)
{
	gc = big_graph();
	gr = big_graph();
	for (int i = 0; i < ncases; i++)
		build(&cases[i], i);
	Diag d;
	diag_init(&d, "fold_vs_run.onnx", true);
	for (int i = 0; i < ncases; i++)
		assert_true(pass_fold_node(gc, cases[i].node_c, &d));
	const void **ins = calloc((size_t)gr->ninputs + 1, sizeof *ins);
	void **outs = calloc((size_t)gr->noutputs + 1, sizeof *outs);
	int k = 0;
	for (int i = 0; i < ncases; i++) {
		for (int j = 0; j < cases[i].nin; j++)
			ins[k++] = cases[i].in_data[j];
		size_t bytes = (size_t)numel(cases[i].out_rank, cases[i].out_dims) * dtype_size(cases[i].out_dt);
		cases[i].out_run = calloc(1, bytes);
		outs[i] = cases[i].out_run;
	}
	tu_compile_run(gr, ins, outs);
	int bad = 0;
	for (int i = 0; i < ncases; i++) {
		Case *c = &cases[i];
		Value *v = gval(gc, c->out_c);
		bool folded = v->kind == VK_CONST;
		if (folded != c->fold_expected && !(c->fold_optional && !folded)) {
			fprintf(stderr, "%s (%s -> %s): %s\n", c->label, dtype_name(c->in_dt[0]), dtype_name(c->out_dt),
			        folded ? "folded, but the folder cannot match the generated code" : "not folded");
			bad++;
		}
		if (!folded)
			continue;
		int64_t n = numel(c->out_rank, c->out_dims);
		int shown = 0;
		for (int64_t e = 0; e < n; e++) {
			const unsigned char *a = (const unsigned char *)v->data + e * (int64_t)dtype_size(c->out_dt);
			const unsigned char *b = (const unsigned char *)c->out_run + e * (int64_t)dtype_size(c->out_dt);
			if (same_el(c->out_dt, a, b))
				continue;
			bad++;
			if (shown++ < 3) {
				fprintf(stderr, "%s (%s -> %s) element %lld: inputs", c->label, dtype_name(c->in_dt[0]),
				        dtype_name(c->out_dt), (long long)e);
				for (int j = 0; j < c->nin && c->in_rank == 1; j++) {
					fputc(' ', stderr);
					print_el(c->in_dt[j], c->in_data[j], e);
				}
				fprintf(stderr, ": folded ");
				print_el(c->out_dt, v->data, e);
				fprintf(stderr, ", run ");
				print_el(c->out_dt, c->out_run, e);
				fputc('\n', stderr);
			}
		}
	}
	for (int i = 0; i < ncases; i++) {
		for (int j = 0; j < cases[i].nin; j++)
			free(cases[i].in_data[j]);
		free(cases[i].out_run);
	}
	free(ins);
	free(outs);
	graph_free(gc);
	diag_free(&d);
	ncases = 0;
	assert_int_equal(bad, 0);
}

/* ---- the cases ----------------------------------------------------------- */

static void test_elementwise(void **state)
{
	(void)state;
	static const DType num[] = {DT_F32, DT_F64, DT_I32, DT_I64, DT_I8, DT_U8, DT_U16, DT_U32, DT_U64};
	static const struct { Op op; const char *name; } bin[] = {
		{OP_Add, "Add"}, {OP_Sub, "Sub"}, {OP_Mul, "Mul"}, {OP_Div, "Div"}, {OP_Mod, "Mod"},
		{OP_Min, "Min"}, {OP_Max, "Max"},
	};
	for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
		for (size_t t = 0; t < sizeof num / sizeof num[0]; t++) {
			if (bin[i].op == OP_Mod && dtype_is_float(num[t]))
				continue;   /* below, with fmod=1 */
			add(bin[i].op, 13, 2, num[t], num[t], true, bin[i].name);
		}
	Case *c;
	for (size_t t = 0; t < 4; t++) {
		c = add(OP_Mod, 13, 2, num[t], num[t], true, "Mod fmod=1");
		c->attr_name = "fmod", c->attr_val = 1;
	}
	static const struct { Op op; const char *name; } cmp[] = {
		{OP_Equal, "Equal"}, {OP_Less, "Less"}, {OP_LessOrEqual, "LessOrEqual"},
		{OP_Greater, "Greater"}, {OP_GreaterOrEqual, "GreaterOrEqual"},
	};
	for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
		for (size_t t = 0; t < sizeof num / sizeof num[0]; t++)
			add(cmp[i].op, 13, 2, num[t], DT_BOOL, true, cmp[i].name);
	add(OP_And, 7, 2, DT_BOOL, DT_BOOL, true, "And");
	add(OP_Or, 7, 2, DT_BOOL, DT_BOOL, true, "Or");
	add(OP_Xor, 7, 2, DT_BOOL, DT_BOOL, true, "Xor");
	add(OP_Not, 1, 1, DT_BOOL, DT_BOOL, true, "Not");
	add(OP_Sum, 13, 2, DT_F32, DT_F32, true, "Sum of 2");
	add(OP_Mean, 13, 2, DT_F32, DT_F32, false, "Mean of 2");
	add(OP_Sum, 13, 3, DT_I32, DT_I32, true, "Sum of 3");
	add(OP_Max, 13, 3, DT_I64, DT_I64, true, "Max of 3");
	add(OP_Min, 13, 3, DT_F32, DT_F32, true, "Min of 3");
	add(OP_Sum, 13, 3, DT_F32, DT_F32, false, "Sum of 3");
	add(OP_Mean, 13, 3, DT_F32, DT_F32, false, "Mean of 3");
	add(OP_Pow, 15, 2, DT_I32, DT_I32, true, "Pow");
	add(OP_Pow, 15, 2, DT_I64, DT_I64, true, "Pow");
	/* f32 Pow (in double, rounded once): the target variants agree */
	add(OP_Pow, 15, 2, DT_F32, DT_F32, true, "Pow");
	c = add(OP_Pow, 15, 2, DT_F64, DT_F64, true, "Pow");
	c->fold_optional = true;
	/* exact: always folded; f32 trig (in double, rounded once): folded;
	 * the others where every target gives the same bits */
	static const struct { Op op; const char *name; bool exact, f32_folds; } un[] = {
		{OP_Neg, "Neg", true, true}, {OP_Abs, "Abs", true, true}, {OP_Sqrt, "Sqrt", true, true},
		{OP_Reciprocal, "Reciprocal", true, true}, {OP_Floor, "Floor", true, true},
		{OP_Ceil, "Ceil", true, true}, {OP_Relu, "Relu", true, true},
		{OP_Exp, "Exp", false, false}, {OP_Log, "Log", false, false},
		{OP_Sin, "Sin", false, true}, {OP_Cos, "Cos", false, true},
		{OP_Tanh, "Tanh", false, false}, {OP_Erf, "Erf", false, false},
		{OP_Sigmoid, "Sigmoid", false, false},
	};
	for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
		c = add(un[i].op, 13, 1, DT_F32, DT_F32, true, un[i].name);
		c->fold_optional = !un[i].f32_folds;
		c = add(un[i].op, 13, 1, DT_F64, DT_F64, true, un[i].name);
		c->fold_optional = !un[i].exact;
	}
	add(OP_Neg, 13, 1, DT_I32, DT_I32, true, "Neg");
	add(OP_Abs, 13, 1, DT_I64, DT_I64, true, "Abs");
	add(OP_Abs, 13, 1, DT_I8, DT_I8, true, "Abs");
	add(OP_Relu, 14, 1, DT_I32, DT_I32, false, "Relu");   /* the folder's Relu is float-only */
	run_all();
}

static void test_cast(void **state)
{
	(void)state;
	static const DType to[] = {DT_I8, DT_U8, DT_I16, DT_U16, DT_I32, DT_U32, DT_I64, DT_U64,
	                           DT_BOOL, DT_F16, DT_BF16, DT_F64, DT_F32};
	static const DType from[] = {DT_F32, DT_F64, DT_I64, DT_I32, DT_U64, DT_I8, DT_BOOL};
	for (size_t f = 0; f < sizeof from / sizeof from[0]; f++)
		for (size_t t = 0; t < sizeof to / sizeof to[0]; t++) {
			if (from[f] == to[t])
				continue;
			Case *c = add(OP_Cast, 13, 1, from[f], to[t], true, "Cast");
			c->attr_name = "to", c->attr_val = to[t];
		}
	run_all();
}

static void test_reduce_where(void **state)
{
	(void)state;
	static const struct { Op op; const char *name; } red[] = {
		{OP_ReduceSum, "ReduceSum"}, {OP_ReduceProd, "ReduceProd"}, {OP_ReduceMin, "ReduceMin"},
		{OP_ReduceMax, "ReduceMax"}, {OP_ReduceMean, "ReduceMean"},
	};
	static const DType dts[] = {DT_I32, DT_I64, DT_F32};
	for (size_t i = 0; i < sizeof red / sizeof red[0]; i++)
		for (size_t t = 0; t < 3; t++) {
			/* float sums depend on the order and precision: not folded;
			 * float min/max are exact */
			bool exact = !dtype_is_float(dts[t]) || red[i].op == OP_ReduceMin || red[i].op == OP_ReduceMax;
			Case *c = add(red[i].op, 18, 1, dts[t], dts[t], exact, red[i].name);
			c->reduce = true;
			c->in_rank = 2, c->in_dims[0] = 12, c->in_dims[1] = 8;
			c->out_dims[0] = 12;
			c->axes[0] = 1;
		}
	for (size_t t = 0; t < 3; t++) {
		Case *c = add(OP_Where, 16, 3, dts[t], dts[t], true, "Where");
		c->in_dt[0] = DT_BOOL;
	}
	run_all();
}

/* ---- data movement and shape-like ops -------------------------------------
 * Their parameters (indices, starts, repeats, ...) must be constants for
 * the output shape to be static, so here both graphs hold constants: one
 * is folded, the other goes to codegen unfolded (tu_run_graph runs no
 * passes) and computes the result at run time. */

typedef struct Mv {
	const char *label;
	NodeId node_c, node_r;
	ValueId out_c, out_r;
	void *run;
} Mv;

static Mv mvs[32];
static int nmv;

static ValueId kconst(Graph *g, DType dt, int rank, const int64_t *dims, const void *data)
{
	char name[32];
	snprintf(name, sizeof name, "k%d", g->nvalues);
	Shape s = shape_make(rank, dims);
	return graph_add_const(g, name, dt, &s, data);
}

/* A node of op over the constants (dt[i], rank[i], dims[i], data[i]) in
 * both graphs, output dtype odt and shape (orank, odims). */
static Mv *mv(const char *label, Op op, int opset, int nin, const DType *dt, const int *rank,
              const int64_t (*dims)[4], const void *const *data, DType odt, int orank,
              const int64_t *odims)
{
	assert_true(nmv < 32);
	Mv *m = &mvs[nmv++];
	m->label = label;
	Graph *gs[2] = {gc, gr};
	for (int w = 0; w < 2; w++) {
		ValueId in[5];
		assert_true(nin <= 5);
		for (int i = 0; i < nin; i++)
			in[i] = kconst(gs[w], dt[i], rank[i], dims[i], data[i]);
		char name[32];
		snprintf(name, sizeof name, "mv%d_out", nmv);
		Shape so = shape_make(orank, odims);
		ValueId o = graph_add_value(gs[w], name, odt, &so);
		gs[w]->outputs[gs[w]->noutputs++] = o;
		NodeId n = tu_add_node(gs[w], op, opset, in, nin, &o, 1);
		if (w == 0)
			m->node_c = n, m->out_c = o;
		else
			m->node_r = n, m->out_r = o;
	}
	m->run = calloc(1, (size_t)numel(orank, odims) * dtype_size(odt) + 1);
	return m;
}

static void attr_ints2(Mv *m, const char *name, int n, const int64_t *xs)
{
	tu_set_ints(gc, m->node_c, name, n, xs);
	tu_set_ints(gr, m->node_r, name, n, xs);
}

static void attr_int2(Mv *m, const char *name, int64_t x)
{
	tu_set_int(gc, m->node_c, name, x);
	tu_set_int(gr, m->node_r, name, x);
}

static void attr_str2(Mv *m, const char *name, const char *s)
{
	tu_set_str(gc, m->node_c, name, s);
	tu_set_str(gr, m->node_r, name, s);
}

static void test_data_movement(void **state)
{
	(void)state;
	gc = big_graph();
	gr = big_graph();
	nmv = 0;
	float f12[12], f35[15], f7[7], f5[5];
	int64_t i12[12];
	fill(f12, DT_F32, 12, 0);
	fill(f35, DT_F32, 15, 5);
	fill(f7, DT_F32, 7, 40);
	fill(f5, DT_F32, 5, 41);
	fill(i12, DT_I64, 12, 3);
	{   /* Range f32 and i32 (the element count from the ONNX formula) */
		float s = 0.1f, l = 10.0f, dl = 0.3f;
		int64_t n = (int64_t)ceil(((double)l - (double)s) / (double)dl);
		const DType dt[3] = {DT_F32, DT_F32, DT_F32};
		const int rk[3] = {0, 0, 0};
		const int64_t dims[3][4] = {{0}};
		const void *data[3] = {&s, &l, &dl};
		mv("Range f32", OP_Range, 11, 3, dt, rk, dims, data, DT_F32, 1, &n);
		int32_t a = 5, b = -20, c = -3;
		int64_t m = 9;
		const DType di[3] = {DT_I32, DT_I32, DT_I32};
		const void *dd[3] = {&a, &b, &c};
		mv("Range i32", OP_Range, 11, 3, di, rk, dims, dd, DT_I32, 1, &m);
	}
	{   /* Einsum outer product (folded: one product per element) */
		const DType dt[2] = {DT_F32, DT_F32};
		const int rk[2] = {1, 1};
		const int64_t dims[2][4] = {{7}, {5}};
		const void *data[2] = {f7, f5};
		const int64_t od[2] = {7, 5};
		Mv *m = mv("Einsum i,j->ij", OP_Einsum, 12, 2, dt, rk, dims, data, DT_F32, 2, od);
		attr_str2(m, "equation", "i,j->ij");
	}
	{   /* Trilu upper, k = 1, on [3, 5] */
		int64_t k = 1;
		const DType dt[2] = {DT_F32, DT_I64};
		const int rk[2] = {2, 0};
		const int64_t dims[2][4] = {{3, 5}, {0}};
		const void *data[2] = {f35, &k};
		const int64_t od[2] = {3, 5};
		mv("Trilu", OP_Trilu, 14, 2, dt, rk, dims, data, DT_F32, 2, od);
	}
	{   /* Transpose [3, 4] i64 */
		const DType dt[1] = {DT_I64};
		const int rk[1] = {2};
		const int64_t dims[1][4] = {{3, 4}};
		const void *data[1] = {i12};
		const int64_t od[2] = {4, 3}, perm[2] = {1, 0};
		Mv *m = mv("Transpose", OP_Transpose, 13, 1, dt, rk, dims, data, DT_I64, 2, od);
		attr_ints2(m, "perm", 2, perm);
	}
	{   /* Gather axis 0 with negative indices */
		int64_t idx[4] = {-1, 0, 2, -5};
		const DType dt[2] = {DT_F32, DT_I64};
		const int rk[2] = {2, 1};
		const int64_t dims[2][4] = {{5, 3}, {4}};
		const void *data[2] = {f35, idx};
		const int64_t od[2] = {4, 3};
		Mv *m = mv("Gather", OP_Gather, 13, 2, dt, rk, dims, data, DT_F32, 2, od);
		attr_int2(m, "axis", 0);
	}
	{   /* CastLike f32 -> f16 */
		uint16_t like = 0;
		const DType dt[2] = {DT_F32, DT_F16};
		const int rk[2] = {1, 0};
		const int64_t dims[2][4] = {{12}, {0}};
		const void *data[2] = {f12, &like};
		const int64_t od[1] = {12};
		mv("CastLike", OP_CastLike, 15, 2, dt, rk, dims, data, DT_F16, 1, od);
	}
	{   /* Concat axis 1 of [2, 3] and [2, 3] */
		const DType dt[2] = {DT_F32, DT_F32};
		const int rk[2] = {2, 2};
		const int64_t dims[2][4] = {{2, 3}, {2, 3}};
		const void *data[2] = {f12, f12 + 6};
		const int64_t od[2] = {2, 6};
		Mv *m = mv("Concat", OP_Concat, 13, 2, dt, rk, dims, data, DT_F32, 2, od);
		attr_int2(m, "axis", 1);
	}
	{   /* Slice [3, 4] starts 1 ends -1 axis 1 step 2 -> [3, 1] */
		int64_t st = 1, en = -1, ax = 1, sp = 2;
		const DType dt[5] = {DT_I64, DT_I64, DT_I64, DT_I64, DT_I64};
		const int rk[5] = {2, 1, 1, 1, 1};
		const int64_t dims[5][4] = {{3, 4}, {1}, {1}, {1}, {1}};
		const void *data[5] = {i12, &st, &en, &ax, &sp};
		const int64_t od[2] = {3, 1};
		mv("Slice", OP_Slice, 13, 5, dt, rk, dims, data, DT_I64, 2, od);
	}
	{   /* Tile [2, 3] by [2, 1]; Expand [3, 1] to [3, 4] */
		int64_t rep[2] = {2, 1}, shp[2] = {3, 4};
		const DType dt[2] = {DT_F32, DT_I64};
		const int rk[2] = {2, 1};
		const int64_t dims[2][4] = {{2, 3}, {2}};
		const void *data[2] = {f12, rep};
		const int64_t od[2] = {4, 3};
		mv("Tile", OP_Tile, 13, 2, dt, rk, dims, data, DT_F32, 2, od);
		const int64_t ed[2][4] = {{3, 1}, {2}};
		const void *edata[2] = {f12, shp};
		const int64_t eod[2] = {3, 4};
		mv("Expand", OP_Expand, 13, 2, dt, rk, ed, edata, DT_F32, 2, eod);
	}
	{   /* ScatterND: f32 rows with negative and duplicate indices (the last
	     * wins); i64 elements with add and max (opset 16/18), duplicates
	     * combined in order */
		static int64_t rows[4] = {-1, 1, 0, -4}, pts[6] = {0, 1, 2, -1, 0, 1};
		static int64_t upd[3] = {INT64_MAX, -7, 5};
		const DType dt[3] = {DT_F32, DT_I64, DT_F32};
		const int rk[3] = {2, 2, 2};
		const int64_t dims[3][4] = {{5, 3}, {4, 1}, {4, 3}};
		const void *data[3] = {f35, rows, f12};
		const int64_t od[2] = {5, 3};
		mv("ScatterND rows", OP_ScatterND, 13, 3, dt, rk, dims, data, DT_F32, 2, od);
		const DType di[3] = {DT_I64, DT_I64, DT_I64};
		const int rki[3] = {2, 2, 1};
		const int64_t dimsi[3][4] = {{3, 4}, {3, 2}, {3}};
		const void *datai[3] = {i12, pts, upd};
		const int64_t odi[2] = {3, 4};
		Mv *m = mv("ScatterND add", OP_ScatterND, 16, 3, di, rki, dimsi, datai, DT_I64, 2, odi);
		attr_str2(m, "reduction", "add");
		m = mv("ScatterND max", OP_ScatterND, 18, 3, di, rki, dimsi, datai, DT_I64, 2, odi);
		attr_str2(m, "reduction", "max");
		m = mv("ScatterND min", OP_ScatterND, 18, 3, di, rki, dimsi, datai, DT_I64, 2, odi);
		attr_str2(m, "reduction", "min");
	}
	Diag d;
	diag_init(&d, "fold_vs_run.onnx", true);
	void **outs = calloc((size_t)nmv + 1, sizeof *outs);
	for (int i = 0; i < nmv; i++) {
		assert_true(pass_fold_node(gc, mvs[i].node_c, &d));
		outs[i] = mvs[i].run;
	}
	tu_compile_run(gr, NULL, outs);
	int bad = 0;
	for (int i = 0; i < nmv; i++) {
		Value *v = gval(gc, mvs[i].out_c);
		if (v->kind != VK_CONST) {
			fprintf(stderr, "%s: not folded\n", mvs[i].label);
			bad++;
			continue;
		}
		size_t es = dtype_size(v->dtype);
		for (int64_t e = 0; e < shape_numel(&v->shape); e++)
			if (!same_el(v->dtype, (const unsigned char *)v->data + e * (int64_t)es,
			             (const unsigned char *)mvs[i].run + e * (int64_t)es)) {
				fprintf(stderr, "%s element %lld: folded ", mvs[i].label, (long long)e);
				print_el(v->dtype, v->data, e);
				fprintf(stderr, ", run ");
				print_el(v->dtype, mvs[i].run, e);
				fputc('\n', stderr);
				bad++;
			}
	}
	for (int i = 0; i < nmv; i++)
		free(mvs[i].run);
	free(outs);
	graph_free(gc);
	diag_free(&d);
	assert_int_equal(bad, 0);
}

/* A float ScatterND reduction is left to the generated code (its per-step
 * f32 rounding of duplicates is not the folder's double arithmetic). */
static void test_scatter_float_reduction_runs(void **state)
{
	(void)state;
	float data[6] = {1, 2, 3, 4, 5, 6}, upd[2] = {0.1f, 0.2f};
	int64_t idx[2] = {1, 1};
	TuGraph t = tu_graph();
	const int64_t dx[1] = {6}, di[2] = {2, 1}, du[1] = {2};
	ValueId x = tu_const(&t, "x", DT_F32, 1, dx, data);
	ValueId i = tu_const(&t, "i", DT_I64, 2, di, idx);
	ValueId u = tu_const(&t, "u", DT_F32, 1, du, upd);
	ValueId y = tu_output(&t, "y", DT_F32, 1, dx);
	const ValueId in[3] = {x, i, u};
	NodeId n = tu_node(&t, OP_ScatterND, 16, in, 3, &y, 1);
	tu_attr_str(&t, "reduction", "add");
	Diag d;
	diag_init(&d, "scatter.onnx", false);
	assert_true(pass_fold_node(t.g, n, &d));
	assert_int_not_equal(gval(t.g, y)->kind, VK_CONST);
	diag_free(&d);
	graph_free(t.g);
}

/* ---- the folder's interpreter of mathfn (codegen/mathfn_host.c) ----------
 * Every helper the folder evaluates, in f32 and f64, on edge values, small
 * and wide random values: cg_math_host_eval's bits against the compiled
 * code's, for baseline x86-64 (IR without FMA, fmuladd unfused) and, when
 * the host can run them, AVX2+FMA (both fused) and AVX-512 (its own f32
 * exp). */

enum { ME = 256 };

static void me_fill(double *x, double *y, int n)
{
	int nf = (int)(sizeof fedges / sizeof fedges[0]);
	for (int k = 0; k < n; k++) {
		uint64_t r = next_rand();
		double u = (double)(r >> 11) / 9007199254740992.0;
		if (k < nf)
			x[k] = fedges[k];
		else if (k % 3 == 0)
			x[k] = (u - 0.5) * 24.0;                    /* [-12, 12] */
		else if (k % 3 == 1)
			x[k] = (u - 0.5) * 2.0;                     /* [-1, 1] */
		else
			x[k] = ldexp(u + 0.5, (int)(r % 60) - 30) * (r & 1 ? -1 : 1);
		uint64_t q = next_rand();
		y[k] = (double)((int64_t)(q % 13) - 6) + (q & 0x100 ? 0.5 : 0.0) + (q & 0x200 ? 1.0 / 3 : 0.0);
	}
}

static void test_math_eval(void **state)
{
	(void)state;
	static const struct { Op op; const char *name; } fns[] = {
		{OP_Exp, "exp"}, {OP_Log, "log"}, {OP_Sin, "sin"}, {OP_Cos, "cos"}, {OP_Tanh, "tanh"},
		{OP_Erf, "erf"}, {OP_Sigmoid, "sigmoid"}, {OP_Pow, "pow"},
	};
	enum { NF = sizeof fns / sizeof fns[0] };
	double x[ME], y[ME], want[ME];
	me_fill(x, y, ME);
	float xf[ME], yf[ME];
	for (int k = 0; k < ME; k++)
		xf[k] = (float)x[k], yf[k] = (float)y[k];
	for (int isa = 0; isa < 3; isa++) {
		if (!tu_host_has(&tu_isas[isa]))
			continue;
		gr = big_graph();
		int64_t dims[1] = {ME};
		Shape s = shape_make(1, dims);
		ValueId in[4];
		const DType dts[2] = {DT_F32, DT_F64};
		for (int d = 0; d < 2; d++) {
			in[2 * d] = graph_add_value(gr, d ? "x64" : "x32", dts[d], &s);
			in[2 * d + 1] = graph_add_value(gr, d ? "y64" : "y32", dts[d], &s);
			for (int j = 0; j < 2; j++) {
				gval(gr, in[2 * d + j])->kind = VK_INPUT;
				gr->inputs[gr->ninputs++] = in[2 * d + j];
			}
		}
		void *outs[2 * NF];
		for (int f = 0; f < NF; f++)
			for (int d = 0; d < 2; d++) {
				char name[32];
				snprintf(name, sizeof name, "%s%d", fns[f].name, d);
				ValueId o = graph_add_value(gr, name, dts[d], &s);
				gr->outputs[gr->noutputs++] = o;
				tu_add_node(gr, fns[f].op, 13, &in[2 * d], fns[f].op == OP_Pow ? 2 : 1, &o, 1);
				outs[2 * f + d] = calloc(ME, 8);
			}
		const void *ins[4] = {xf, yf, x, y};
		tu_isa_override = tu_isas[isa];
		tu_compile_run(gr, ins, outs);
		tu_isa_override = (CgIsa){0};
		int bad = 0;
		for (int f = 0; f < NF; f++)
			for (int d = 0; d < 2; d++) {
				const double *yy = fns[f].op == OP_Pow ? y : NULL;
				double yr[ME];
				if (!d)
					for (int k = 0; k < ME; k++)
						yr[k] = yf[k];
				assert_true(cg_math_host_eval(fns[f].name, d, isa >= 1, isa >= 1, isa == 2 ? "avx512" : NULL, x, yy ? (d ? y : yr) : NULL, want, ME));
				for (int k = 0; k < ME; k++) {
					double got = d ? ((double *)outs[2 * f + d])[k] : ((float *)outs[2 * f + d])[k];
					double w = d ? want[k] : (double)(float)want[k];
					bool eq = (isnan(got) && isnan(w)) || !memcmp(&got, &w, 8);
					if (!d && !isnan(got) && !isnan(w)) {
						float a = (float)got, b = (float)w;
						eq = !memcmp(&a, &b, 4);
					}
					if (!eq && bad++ < 5)
						fprintf(stderr, "%s %s %s x=%.17g: host %.17g, run %.17g\n", fns[f].name,
						        d ? "f64" : "f32", tu_isas[isa].name, d ? x[k] : (double)xf[k], w, got);
				}
				free(outs[2 * f + d]);
			}
		assert_int_equal(bad, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_math_eval),
		cmocka_unit_test(test_elementwise),
		cmocka_unit_test(test_cast),
		cmocka_unit_test(test_reduce_where),
		cmocka_unit_test(test_data_movement),
		cmocka_unit_test(test_scatter_float_reduction_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

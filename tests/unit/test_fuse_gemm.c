/* tests/unit/test_fuse_gemm.c — passes/fuse_gemm.c: MatMul by a constant
 * weight + bias Add (either operand order) + Relu + residual Add become one
 * MatMulEpi whose output matches the unfused graph's within rounding;
 * near misses (an intermediate used twice, a bias that is not per column,
 * a residual computed after the MatMul) leave the graph unchanged. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pipeline.h"

enum { T = 7, K = 24, N = 40 };

static float xin[T * K], w[K * N], bias[N], resid[T * N];

static void init_data(void)
{
	unsigned s = 9;
	float *arrs[4] = {xin, w, bias, resid};
	size_t lens[4] = {T * K, K * N, N, T * N};
	for (int a = 0; a < 4; a++)
		for (size_t i = 0; i < lens[a]; i++) {
			s = s * 1103515245u + 12345u;
			arrs[a][i] = (float)((int)((s >> 16) % 2001) - 1000) / 700.0f;
		}
}

typedef struct Built {
	TuGraph t;
	ValueId y;        /* MatMul output */
} Built;

/* x [1,T,K] · W [K,N] (+ bias) (relu) (+ res); `bias_first`: Add(b, y);
 * `extra_use`: the MatMul output is also a graph output. */
static bool use_gelu; /* the activation is Gelu (approximate="none") instead of Relu */

static Built build(bool with_bias, bool bias_first, bool relu, bool with_res, bool extra_use)
{
	Built b;
	b.t = tu_graph();
	TuGraph *t = &b.t;
	int64_t dx[3] = {1, T, K}, dw[2] = {K, N}, dbias[1] = {N}, dy[3] = {1, T, N};
	ValueId x = tu_input(t, "x", DT_F32, 3, dx);
	ValueId r = with_res ? tu_input(t, "r", DT_F32, 3, dy) : IR_NONE;
	ValueId wv = tu_const(t, "w", DT_F32, 2, dw, w);
	ValueId bv = tu_const(t, "b", DT_F32, 1, dbias, bias);
	Shape sy = shape_make(3, dy);
	ValueId y = extra_use ? tu_output(t, "y_mm", DT_F32, 3, dy) : graph_add_value(t->g, "y_mm", DT_F32, &sy);
	ValueId in2[2] = {x, wv};
	tu_node(t, OP_MatMul, 13, in2, 2, &y, 1);
	ValueId cur = y;
	if (with_bias) {
		ValueId z = graph_add_value(t->g, "z", DT_F32, &sy);
		ValueId a[2] = {bias_first ? bv : cur, bias_first ? cur : bv};
		tu_node(t, OP_Add, 13, a, 2, &z, 1);
		cur = z;
	}
	if (relu) {
		ValueId z = graph_add_value(t->g, "zr", DT_F32, &sy);
		tu_node(t, use_gelu ? OP_Gelu : OP_Relu, use_gelu ? 20 : 13, &cur, 1, &z, 1);
		cur = z;
	}
	if (with_res) {
		ValueId z = graph_add_value(t->g, "zo", DT_F32, &sy);
		ValueId a[2] = {r, cur};
		tu_node(t, OP_Add, 13, a, 2, &z, 1);
		cur = z;
	}
	/* the final value is the graph output "out" */
	ValueId out = tu_output(t, "out", DT_F32, 3, dy);
	tu_node(t, OP_Identity, 13, &cur, 1, &out, 1);
	b.y = y;
	return b;
}

static int count_op(Graph *g, Op op)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += !g->nodes[i].dead && g->nodes[i].op == op;
	return c;
}

static void reference(float *out, bool with_bias, bool relu, bool with_res)
{
	for (int i = 0; i < T; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)xin[i * K + k] * w[k * N + j];
			if (with_bias)
				s += bias[j];
			if (relu && use_gelu)
				s = 0.5 * s * (1 + erf(s / sqrt(2.0)));
			else if (relu && s < 0)
				s = 0;
			if (with_res)
				s += resid[i * N + j];
			out[i * N + j] = (float)s;
		}
}

static void fused_case(bool with_bias, bool bias_first, bool relu, bool with_res, int expect_epi)
{
	Built b = build(with_bias, bias_first, relu, with_res, false);
	Diag d;
	diag_init(&d, "test.onnx", false);
	b.t.g->shapes_known = true;
	assert_true(pass_fuse_gemm(b.t.g, &d));
	assert_int_equal(count_op(b.t.g, OP_MatMulEpi), expect_epi);
	assert_int_equal(count_op(b.t.g, OP_MatMul), 1 - expect_epi);
	assert_true(pass_dce(b.t.g, &d));
	assert_true(ir_verify(b.t.g, &d));
	diag_free(&d);
	float out[T * N], ref[T * N];
	reference(ref, with_bias, relu, with_res);
	const void *ins[2] = {xin, resid};
	void *outs[1] = {out};
	tu_run(&b.t, ins, outs);
	for (int i = 0; i < T * N; i++)
		assert_true(fabsf(out[i] - ref[i]) <= 1e-5f * (1 + fabsf(ref[i])));
}

static void test_fuses(void **state)
{
	(void)state;
	init_data();
	fused_case(true, false, false, false, 1);   /* bias */
	fused_case(true, true, false, false, 1);    /* Add(bias, y) */
	fused_case(true, false, true, false, 1);    /* bias + relu */
	fused_case(true, true, true, true, 1);      /* bias + relu + residual */
	fused_case(false, false, false, true, 1);   /* residual only */
	fused_case(false, false, false, false, 0);  /* nothing to fuse */
	use_gelu = true;
	fused_case(true, false, true, true, 1);     /* bias + GELU + residual */
	use_gelu = false;
}

static void test_near_misses(void **state)
{
	(void)state;
	init_data();
	/* the MatMul output is also a graph output: stays */
	Built b = build(true, false, true, true, true);
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_true(pass_fuse_gemm(b.t.g, &d));
	assert_int_equal(count_op(b.t.g, OP_MatMulEpi), 0);
	graph_free(b.t.g);
	/* a bias broadcast along rows ([T,1]) is not a per-column bias */
	TuGraph t = tu_graph();
	int64_t dx[2] = {T, K}, dw[2] = {K, N}, dcol[2] = {T, 1}, dy[2] = {T, N};
	ValueId x = tu_input(&t, "x", DT_F32, 2, dx);
	ValueId wv = tu_const(&t, "w", DT_F32, 2, dw, w);
	ValueId cv = tu_const(&t, "c", DT_F32, 2, dcol, bias);
	Shape sy = shape_make(2, dy);
	ValueId y = graph_add_value(t.g, "y", DT_F32, &sy);
	ValueId in2[2] = {x, wv};
	tu_node(&t, OP_MatMul, 13, in2, 2, &y, 1);
	ValueId out = tu_output(&t, "out", DT_F32, 2, dy);
	ValueId a[2] = {y, cv};
	tu_node(&t, OP_Add, 13, a, 2, &out, 1);
	assert_true(pass_fuse_gemm(t.g, &d));
	assert_int_equal(count_op(t.g, OP_MatMulEpi), 0);
	graph_free(t.g);
	/* a residual produced after the MatMul (by a node reading x) */
	t = tu_graph();
	x = tu_input(&t, "x", DT_F32, 2, dx);
	wv = tu_const(&t, "w", DT_F32, 2, dw, w);
	y = graph_add_value(t.g, "y", DT_F32, &sy);
	ValueId in3[2] = {x, wv};
	tu_node(&t, OP_MatMul, 13, in3, 2, &y, 1);
	ValueId late = graph_add_value(t.g, "late", DT_F32, &sy);
	tu_node(&t, OP_Relu, 13, &y, 1, &late, 1);
	ValueId y2 = graph_add_value(t.g, "y2", DT_F32, &sy);
	ValueId in4[2] = {x, wv};
	tu_node(&t, OP_MatMul, 13, in4, 2, &y2, 1);
	out = tu_output(&t, "out", DT_F32, 2, dy);
	ValueId a2[2] = {y2, late};
	tu_node(&t, OP_Add, 13, a2, 2, &out, 1);
	assert_true(pass_fuse_gemm(t.g, &d));
	/* the first MatMul fuses its Relu; the second may take `late` (made
	 * before it), but nothing may take a value made after it */
	for (int i = 0; i < t.g->nnodes; i++) {
		Node *n = &t.g->nodes[i];
		for (int k = 0; !n->dead && k < n->nin; k++)
			if (n->in[k] != IR_NONE && gval(t.g, n->in[k])->producer != IR_NONE)
				assert_true(gval(t.g, n->in[k])->producer < i);
	}
	graph_free(t.g);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuses),
		cmocka_unit_test(test_near_misses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

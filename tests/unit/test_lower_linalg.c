/* tests/unit/test_lower_linalg.c — MatMul, Gemm, Einsum, Conv,
 * ConvTranspose, pools, normalizations and LSTM/GRU lowerings.
 *
 * Each test builds a one-node graph by hand, compiles and runs it through
 * tu_run_graph(), and compares every output element with a plain C
 * reference written straight from the ONNX operator definition (naive
 * loops with explicit bounds tests, a different algorithm from the
 * lowering's where possible).  Inputs are deterministic pseudo-random
 * numbers in [-1, 1).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Graphs are built and run with the tu_* helpers of testutil.h (opset 17). */

/* ---- data ------------------------------------------------------------------ */

static float *rnd(size_t n, unsigned seed)
{
	float *p = malloc(n * sizeof *p + 1);
	uint32_t s = seed * 2654435761u + 12345u;
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return p;
}

static float *zeros(size_t n)
{
	return calloc(n + 1, sizeof(float));
}

static void expect_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
	for (size_t i = 0; i < n; i++) {
		double err = fabs((double)got[i] - (double)want[i]);
		if (!(err <= tol * (1.0 + fabs((double)want[i])))) {
			fprintf(stderr, "%s: element %zu: got %.9g, want %.9g\n", what, i, got[i], want[i]);
			fail();
		}
	}
}

/* ---- MatMul ------------------------------------------------------------------ */

/* A [2,1,3,4] x B [3,4,5] -> [2,3,3,5]: batch dims broadcast both ways. */
static void test_matmul_batched_broadcast(void **state)
{
	int64_t ad[] = {2, 1, 3, 4}, bd[] = {3, 4, 5}, yd[] = {2, 3, 3, 5};
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "A", DT_F32, 4, ad), tu_add_input(g, "B", DT_F32, 3, bd)};
	ValueId out = tu_add_output(g, "Y", DT_F32, 4, yd);
	tu_add_node(g, OP_MatMul, 17, in, 2, &out, 1);
	float *A = rnd(24, 1), *B = rnd(60, 2), *Y = zeros(90), *R = zeros(90);
	for (int p = 0; p < 2; p++)
		for (int q = 0; q < 3; q++)
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 5; j++) {
					double s = 0;
					for (int k = 0; k < 4; k++)
						s += A[(p * 3 + i) * 4 + k] * B[(q * 4 + k) * 5 + j];
					R[((p * 3 + q) * 3 + i) * 5 + j] = (float)s;
				}
	tu_compile_run(g, (const void *[]){A, B}, (void *[]){Y});
	expect_close("matmul", Y, R, 90, 1e-5);
	free(A), free(B), free(Y), free(R);
}

/* 1-D operands: [4] x [2,4,3] -> [2,3] and [2,3,4] x [4] -> [2,3]. */
static void test_matmul_vectors(void **state)
{
	for (int which = 0; which < 2; which++) {
		int64_t vd[] = {4}, md[] = {2, 4, 3}, md2[] = {2, 3, 4}, yd[] = {2, 3};
		Graph *g = tu_new_graph();
		ValueId in[2];
		if (which == 0) {
			in[0] = tu_add_input(g, "A", DT_F32, 1, vd);
			in[1] = tu_add_input(g, "B", DT_F32, 3, md);
		} else {
			in[0] = tu_add_input(g, "A", DT_F32, 3, md2);
			in[1] = tu_add_input(g, "B", DT_F32, 1, vd);
		}
		ValueId out = tu_add_output(g, "Y", DT_F32, 2, yd);
		tu_add_node(g, OP_MatMul, 17, in, 2, &out, 1);
		float *v = rnd(4, 3), *m = rnd(24, 4), *Y = zeros(6), *R = zeros(6);
		for (int b = 0; b < 2; b++)
			for (int x = 0; x < 3; x++) {
				double s = 0;
				for (int k = 0; k < 4; k++)
					s += which == 0 ? v[k] * m[(b * 4 + k) * 3 + x] : m[(b * 3 + x) * 4 + k] * v[k];
				R[b * 3 + x] = (float)s;
			}
		if (which == 0)
			tu_compile_run(g, (const void *[]){v, m}, (void *[]){Y});
		else
			tu_compile_run(g, (const void *[]){m, v}, (void *[]){Y});
		expect_close(which == 0 ? "vec x mat" : "mat x vec", Y, R, 6, 1e-5);
		free(v), free(m), free(Y), free(R);
	}
}

static void test_matmul_int64(void **state)
{
	int64_t ad[] = {3, 4}, bd[] = {4, 2}, yd[] = {3, 2};
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "A", DT_I64, 2, ad), tu_add_input(g, "B", DT_I64, 2, bd)};
	ValueId out = tu_add_output(g, "Y", DT_I64, 2, yd);
	tu_add_node(g, OP_MatMul, 17, in, 2, &out, 1);
	int64_t A[12], B[8], Y[6], R[6];
	for (int i = 0; i < 12; i++)
		A[i] = (i * 7919) % 23 - 11 + (i == 5 ? 3000000000LL : 0);
	for (int i = 0; i < 8; i++)
		B[i] = (i * 104729) % 17 - 8;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++) {
			R[i * 2 + j] = 0;
			for (int k = 0; k < 4; k++)
				R[i * 2 + j] += A[i * 4 + k] * B[k * 2 + j];
		}
	tu_compile_run(g, (const void *[]){A, B}, (void *[]){Y});
	for (int i = 0; i < 6; i++)
		assert_int_equal(Y[i], R[i]);
}

/* f16 operands accumulate in f32 and round once: Y = f16(sum f32(a)*f32(b)) */
static void test_matmul_f16(void **state)
{
	int64_t ad[] = {3, 5}, bd[] = {5, 4}, yd[] = {3, 4};
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "A", DT_F16, 2, ad), tu_add_input(g, "B", DT_F16, 2, bd)};
	ValueId out = tu_add_output(g, "Y", DT_F16, 2, yd);
	tu_add_node(g, OP_MatMul, 17, in, 2, &out, 1);
	float *a = rnd(15, 80), *b = rnd(20, 81);
	_Float16 A[15], B[20], Y[12];
	float got[12], want[12];
	for (int i = 0; i < 15; i++)
		A[i] = (_Float16)a[i];
	for (int i = 0; i < 20; i++)
		B[i] = (_Float16)b[i];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++) {
			float s = 0;
			for (int k = 0; k < 5; k++)
				s += (float)A[i * 5 + k] * (float)B[k * 4 + j];
			want[i * 4 + j] = (float)(_Float16)s;
		}
	tu_compile_run(g, (const void *[]){A, B}, (void *[]){Y});
	for (int i = 0; i < 12; i++)
		got[i] = (float)Y[i];
	expect_close("matmul f16", got, want, 12, 1e-3);
	free(a), free(b);
}

/* ---- Gemm -------------------------------------------------------------------- */

static void gemm_case(bool ta, bool tb, int crank, float alpha, float beta, int K)
{
	const int M = 3, N = 5;
	int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N}, yd[] = {M, N};
	int64_t cd1[] = {N}, cd2[] = {M, 1};
	Graph *g = tu_new_graph();
	ValueId in[3] = {tu_add_input(g, "A", DT_F32, 2, ad), tu_add_input(g, "B", DT_F32, 2, bd), IR_NONE};
	if (crank == 1)
		in[2] = tu_add_input(g, "C", DT_F32, 1, cd1);
	else if (crank == 2)
		in[2] = tu_add_input(g, "C", DT_F32, 2, cd2);
	ValueId out = tu_add_output(g, "Y", DT_F32, 2, yd);
	NodeId n = tu_add_node(g, OP_Gemm, 17, in, crank ? 3 : 2, &out, 1);
	tu_set_int(g, n, "transA", ta);
	tu_set_int(g, n, "transB", tb);
	tu_set_float(g, n, "alpha", alpha);
	tu_set_float(g, n, "beta", beta);
	float *A = rnd(M * K, 5), *B = rnd(K * N, 6), *C = rnd(15, 7), *Y = zeros(15), *R = zeros(15);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
			s *= alpha;
			if (crank == 1)
				s += beta * C[j];
			else if (crank == 2)
				s += beta * C[i];
			R[i * N + j] = (float)s;
		}
	if (crank)
		tu_compile_run(g, (const void *[]){A, B, C}, (void *[]){Y});
	else
		tu_compile_run(g, (const void *[]){A, B}, (void *[]){Y});
	expect_close("gemm", Y, R, 15, 1e-5);
	free(A), free(B), free(C), free(Y), free(R);
}

static void test_gemm(void **state)
{
	gemm_case(false, false, 0, 1.0f, 1.0f, 4);
	gemm_case(true, true, 1, 0.5f, 2.0f, 4);
	gemm_case(false, true, 2, 1.0f, 1.0f, 4);
	gemm_case(true, false, 1, 2.0f, 0.0f, 4);
	/* K past the 16-lane vector dot product, with a tail */
	gemm_case(false, true, 1, 1.0f, 1.0f, 16);
	gemm_case(false, true, 2, 0.5f, 1.0f, 53);
}

/* f64 Gemm (transB: vectorised dot products of 8 doubles, K = 21) and
 * f64 MatMul (row accumulation), compared in double precision. */
static void test_f64_products(void **state)
{
	enum { M = 3, N = 4, K = 21 };
	for (int which = 0; which < 2; which++) {
		int64_t ad[] = {M, K}, bt[] = {N, K}, bn[] = {K, N}, yd[] = {M, N};
		Graph *g = tu_new_graph();
		ValueId in[2] = {tu_add_input(g, "A", DT_F64, 2, ad),
		                 tu_add_input(g, "B", DT_F64, 2, which == 0 ? bt : bn)};
		ValueId out = tu_add_output(g, "Y", DT_F64, 2, yd);
		NodeId n = tu_add_node(g, which == 0 ? OP_Gemm : OP_MatMul, 17, in, 2, &out, 1);
		if (which == 0)
			tu_set_int(g, n, "transB", 1);
		float *a = rnd(M * K, 110), *b = rnd(K * N, 111);
		double A[M * K], B[K * N], Y[M * N], R[M * N];
		for (int i = 0; i < M * K; i++)
			A[i] = a[i] / 3.0;
		for (int i = 0; i < K * N; i++)
			B[i] = b[i] / 7.0;
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				long double sum = 0;
				for (int k = 0; k < K; k++)
					sum += (long double)A[i * K + k] * (which == 0 ? B[j * K + k] : B[k * N + j]);
				R[i * N + j] = (double)sum;
			}
		tu_compile_run(g, (const void *[]){A, B}, (void *[]){Y});
		for (int i = 0; i < M * N; i++)
			assert_true(fabs(Y[i] - R[i]) <= 1e-14 * (1 + fabs(R[i])));
		free(a), free(b);
	}
}

/* ---- Einsum ------------------------------------------------------------------ */

/* Runs Einsum(eq) on operands of the given shapes; the reference gets the
 * operand data and fills want. */
typedef void (*EinRef)(float *const *x, float *want);

static void einsum_case(const char *eq, int nops, const int *ranks, const int64_t (*dims)[4],
                        int yr, const int64_t *yd, EinRef ref)
{
	Graph *g = tu_new_graph();
	ValueId in[3];
	float *x[3];
	const void *ins[3];
	for (int o = 0; o < nops; o++) {
		char nm[16];
		snprintf(nm, sizeof nm, "x%d", o);
		in[o] = tu_add_input(g, nm, DT_F32, ranks[o], dims[o]);
		Shape s = shape_make(ranks[o], dims[o]);
		x[o] = rnd((size_t)shape_numel(&s), 10 + (unsigned)o);
		ins[o] = x[o];
	}
	ValueId out = tu_add_output(g, "y", DT_F32, yr, yd);
	NodeId n = tu_add_node(g, OP_Einsum, 17, in, nops, &out, 1);
	tu_set_str(g, n, "equation", eq);
	Shape ys = shape_make(yr, yd);
	size_t ny = (size_t)shape_numel(&ys);
	float *y = zeros(ny), *want = zeros(ny);
	ref(x, want);
	tu_compile_run(g, ins, (void *[]){y});
	expect_close(eq, y, want, ny, 1e-5);
	for (int o = 0; o < nops; o++)
		free(x[o]);
	free(y), free(want);
}

enum { EI = 3, EJ = 4, EB = 2, EN = 2, ED = 21 }; /* ED past one vector */

static void ref_ibnd_jbnd(float *const *x, float *w)
{
	for (int i = 0; i < EI; i++) for (int j = 0; j < EJ; j++)
	for (int b = 0; b < EB; b++) for (int n = 0; n < EN; n++) {
		double s = 0;
		for (int d = 0; d < ED; d++)
			s += x[0][((i * EB + b) * EN + n) * ED + d] * x[1][((j * EB + b) * EN + n) * ED + d];
		w[((i * EJ + j) * EB + b) * EN + n] = (float)s;
	}
}

static void ref_ibnd_jnd(float *const *x, float *w)
{
	for (int i = 0; i < EI; i++) for (int j = 0; j < EJ; j++)
	for (int b = 0; b < EB; b++) for (int n = 0; n < EN; n++) {
		double s = 0;
		for (int d = 0; d < ED; d++)
			s += x[0][((i * EB + b) * EN + n) * ED + d] * x[1][(j * EN + n) * ED + d];
		w[((i * EJ + j) * EB + b) * EN + n] = (float)s;
	}
}

static void ref_ijbn_jbnd(float *const *x, float *w)
{
	for (int i = 0; i < EI; i++) for (int b = 0; b < EB; b++)
	for (int n = 0; n < EN; n++) for (int d = 0; d < ED; d++) {
		double s = 0;
		for (int j = 0; j < EJ; j++)
			s += x[0][((i * EJ + j) * EB + b) * EN + n] * x[1][((j * EB + b) * EN + n) * ED + d];
		w[((i * EB + b) * EN + n) * ED + d] = (float)s;
	}
}

static void ref_bij_bjk(float *const *x, float *w)
{
	for (int b = 0; b < 2; b++) for (int i = 0; i < 3; i++) for (int k = 0; k < 5; k++) {
		double s = 0;
		for (int j = 0; j < 4; j++)
			s += x[0][(b * 3 + i) * 4 + j] * x[1][(b * 4 + j) * 5 + k];
		w[(b * 3 + i) * 5 + k] = (float)s;
	}
}

static void ref_ij_ji(float *const *x, float *w)
{
	for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++)
		w[j * 3 + i] = x[0][i * 4 + j];
}

static void ref_ii_i(float *const *x, float *w)
{
	for (int i = 0; i < 4; i++)
		w[i] = x[0][i * 4 + i];
}

static void ref_i_i(float *const *x, float *w)
{
	double s = 0;
	for (int i = 0; i < 37; i++)
		s += x[0][i] * x[1][i];
	w[0] = (float)s;
}

/* '...ij,...jk' with A [2,1,3,4], B [5,4,2] -> [2,5,3,2] (implicit output) */
static void ref_ell_matmul(float *const *x, float *w)
{
	for (int p = 0; p < 2; p++) for (int q = 0; q < 5; q++)
	for (int i = 0; i < 3; i++) for (int k = 0; k < 2; k++) {
		double s = 0;
		for (int j = 0; j < 4; j++)
			s += x[0][(p * 3 + i) * 4 + j] * x[1][(q * 4 + j) * 2 + k];
		w[((p * 5 + q) * 3 + i) * 2 + k] = (float)s;
	}
}

/* '...ii->...i' on [3,4,4] (batch diagonal) */
static void ref_batch_diag(float *const *x, float *w)
{
	for (int b = 0; b < 3; b++) for (int i = 0; i < 4; i++)
		w[b * 4 + i] = x[0][(b * 4 + i) * 4 + i];
}

/* 'ij,jk,kl->il' three operands */
static void ref_chain(float *const *x, float *w)
{
	for (int i = 0; i < 2; i++) for (int l = 0; l < 3; l++) {
		double s = 0;
		for (int j = 0; j < 4; j++) for (int k = 0; k < 5; k++)
			s += x[0][i * 4 + j] * x[1][j * 5 + k] * x[2][k * 3 + l];
		w[i * 3 + l] = (float)s;
	}
}

static void test_einsum(void **state)
{
	{
		int r[] = {4, 4};
		int64_t d[][4] = {{EI, EB, EN, ED}, {EJ, EB, EN, ED}}, y[] = {EI, EJ, EB, EN};
		einsum_case("ibnd,jbnd->ijbn", 2, r, d, 4, y, ref_ibnd_jbnd);
	}
	{
		int r[] = {4, 3};
		int64_t d[][4] = {{EI, EB, EN, ED}, {EJ, EN, ED}}, y[] = {EI, EJ, EB, EN};
		einsum_case("ibnd,jnd->ijbn", 2, r, d, 4, y, ref_ibnd_jnd);
	}
	{
		int r[] = {4, 4};
		int64_t d[][4] = {{EI, EJ, EB, EN}, {EJ, EB, EN, ED}}, y[] = {EI, EB, EN, ED};
		einsum_case("ijbn,jbnd->ibnd", 2, r, d, 4, y, ref_ijbn_jbnd);
	}
	{
		int r[] = {3, 3};
		int64_t d[][4] = {{2, 3, 4}, {2, 4, 5}}, y[] = {2, 3, 5};
		einsum_case("bij,bjk->bik", 2, r, d, 3, y, ref_bij_bjk);
	}
	{
		int r[] = {2};
		int64_t d[][4] = {{3, 4}}, y[] = {4, 3};
		einsum_case("ij->ji", 1, r, d, 2, y, ref_ij_ji);
	}
	{
		int r[] = {2};
		int64_t d[][4] = {{4, 4}}, y[] = {4};
		einsum_case("ii->i", 1, r, d, 1, y, ref_ii_i);
	}
	{
		int r[] = {1, 1};
		int64_t d[][4] = {{37}, {37}};
		einsum_case("i,i", 2, r, d, 0, NULL, ref_i_i);
	}
	{
		int r[] = {4, 3};
		int64_t d[][4] = {{2, 1, 3, 4}, {5, 4, 2}}, y[] = {2, 5, 3, 2};
		einsum_case("...ij,...jk", 2, r, d, 4, y, ref_ell_matmul);
	}
	{
		int r[] = {3};
		int64_t d[][4] = {{3, 4, 4}}, y[] = {3, 4};
		einsum_case("...ii ->...i", 1, r, d, 2, y, ref_batch_diag);
	}
	{
		int r[] = {2, 2, 2};
		int64_t d[][4] = {{2, 4}, {4, 5}, {5, 3}}, y[] = {2, 3};
		einsum_case("ij,jk,kl->il", 3, r, d, 2, y, ref_chain);
	}
}

/* ---- Conv ---------------------------------------------------------------------- */

typedef struct ConvP {
	int N, C, H, W, M, group, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
	bool bias;
	const char *auto_pad;   /* NULL: explicit pads */
} ConvP;

static void conv_case(const ConvP *p)
{
	int OH, OW, pt = p->pt, pl = p->pl;
	int ekh = (p->kh - 1) * p->dh + 1, ekw = (p->kw - 1) * p->dw + 1;
	if (p->auto_pad) { /* SAME_UPPER */
		OH = (p->H + p->sh - 1) / p->sh;
		OW = (p->W + p->sw - 1) / p->sw;
		int th = (OH - 1) * p->sh + ekh - p->H, tw = (OW - 1) * p->sw + ekw - p->W;
		pt = th > 0 ? th / 2 : 0;
		pl = tw > 0 ? tw / 2 : 0;
	} else {
		OH = (p->H + p->pt + p->pb - ekh) / p->sh + 1;
		OW = (p->W + p->pl + p->pr - ekw) / p->sw + 1;
	}
	int Cg = p->C / p->group, Mg = p->M / p->group;
	int64_t xd[] = {p->N, p->C, p->H, p->W}, wd[] = {p->M, Cg, p->kh, p->kw}, bd[] = {p->M};
	int64_t yd[] = {p->N, p->M, OH, OW};
	Graph *g = tu_new_graph();
	ValueId in[3] = {tu_add_input(g, "X", DT_F32, 4, xd), tu_add_input(g, "W", DT_F32, 4, wd), IR_NONE};
	if (p->bias)
		in[2] = tu_add_input(g, "B", DT_F32, 1, bd);
	ValueId out = tu_add_output(g, "Y", DT_F32, 4, yd);
	NodeId n = tu_add_node(g, OP_Conv, 17, in, p->bias ? 3 : 2, &out, 1);
	tu_set_int(g, n, "group", p->group);
	tu_set_ints(g, n, "strides", 2, (int64_t[]){p->sh, p->sw});
	tu_set_ints(g, n, "dilations", 2, (int64_t[]){p->dh, p->dw});
	tu_set_ints(g, n, "kernel_shape", 2, (int64_t[]){p->kh, p->kw});
	if (p->auto_pad)
		tu_set_str(g, n, "auto_pad", p->auto_pad);
	else
		tu_set_ints(g, n, "pads", 4, (int64_t[]){p->pt, p->pl, p->pb, p->pr});
	size_t nx = (size_t)p->N * p->C * p->H * p->W, nw = (size_t)p->M * Cg * p->kh * p->kw;
	size_t ny = (size_t)p->N * p->M * OH * OW;
	float *X = rnd(nx, 20), *Wt = rnd(nw, 21), *B = rnd(p->M, 22), *Y = zeros(ny), *R = zeros(ny);
	for (int b = 0; b < p->N; b++)
	for (int m = 0; m < p->M; m++)
	for (int oh = 0; oh < OH; oh++)
	for (int ow = 0; ow < OW; ow++) {
		double s = p->bias ? B[m] : 0;
		int grp = m / Mg;
		for (int c = 0; c < Cg; c++)
		for (int i = 0; i < p->kh; i++)
		for (int j = 0; j < p->kw; j++) {
			int ih = oh * p->sh - pt + i * p->dh, iw = ow * p->sw - pl + j * p->dw;
			if (ih < 0 || ih >= p->H || iw < 0 || iw >= p->W)
				continue;
			s += X[((b * p->C + grp * Cg + c) * p->H + ih) * p->W + iw] *
			     Wt[((m * Cg + c) * p->kh + i) * p->kw + j];
		}
		R[((b * p->M + m) * OH + oh) * OW + ow] = (float)s;
	}
	if (p->bias)
		tu_compile_run(g, (const void *[]){X, Wt, B}, (void *[]){Y});
	else
		tu_compile_run(g, (const void *[]){X, Wt}, (void *[]){Y});
	expect_close("conv", Y, R, ny, 1e-5);
	free(X), free(Wt), free(B), free(Y), free(R);
}

static void test_conv(void **state)
{
	/* grouped, strided, dilated, asymmetric pads, bias (row order) */
	conv_case(&(ConvP){2, 4, 7, 6, 6, 2, 3, 2, 2, 1, 1, 2, 1, 0, 2, 1, true, NULL});
	/* depthwise, SAME_UPPER, stride 2 */
	conv_case(&(ConvP){1, 3, 8, 7, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, false, "SAME_UPPER"});
	/* patchify: kernel == stride, no padding */
	conv_case(&(ConvP){1, 3, 8, 8, 5, 1, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0, true, NULL});
	/* wide kernel rows (vectorised taps, windows clipped by padding) */
	conv_case(&(ConvP){1, 2, 3, 45, 3, 1, 2, 20, 1, 5, 1, 1, 1, 3, 0, 7, true, NULL});
	/* long dilated kernel rows (scalar tap loop) */
	conv_case(&(ConvP){1, 2, 4, 30, 2, 1, 2, 9, 1, 2, 2, 2, 1, 4, 0, 3, false, NULL});
	/* short rows with stride 3 and padding (per-output taps, clipped) */
	conv_case(&(ConvP){1, 2, 7, 8, 2, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, true, NULL});
}

/* Conv in plane order (f32, >= 4 output channels per group, short tap
 * rows, output plane <= 16 KiB): each tap plane is gathered once and
 * shared by the group's output channels. */
static void test_conv_planes(void **state)
{
	(void)state;
	/* 3x3 stride-2 stem, pads 1 (padding zeros re-cleared per tap), bias */
	conv_case(&(ConvP){1, 3, 9, 10, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, NULL});
	/* grouped (2 groups of 4 output channels), batch 2, asymmetric pads */
	conv_case(&(ConvP){2, 6, 7, 8, 8, 2, 3, 3, 2, 1, 1, 1, 0, 2, 1, 0, false, NULL});
	/* dilated taps, stride 3, SAME_UPPER */
	conv_case(&(ConvP){1, 2, 11, 9, 4, 1, 3, 2, 3, 3, 2, 2, 0, 0, 0, 0, true, "SAME_UPPER"});
	/* no padding anywhere: the plane is fully overwritten per tap */
	conv_case(&(ConvP){1, 4, 6, 6, 4, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, false, NULL});
	/* output plane of 65x65 f32 (16900 bytes) exceeds the stack bound:
	 * row order instead */
	conv_case(&(ConvP){1, 1, 65, 65, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, NULL});
}

/* Conv of any spatial rank k (1 and 3 here): strides 2, dilation 1 on the
 * last dim and 2 elsewhere, pads 1 at the start and 0 at the end; the
 * reference walks flat indices and tests bounds. */
static void conv_nd_case(int k, const int64_t *in_sp, const int64_t *ker)
{
	const int N = 2, C = 3, M = 4;
	int64_t xd[IR_MAX_RANK] = {N, C}, wd[IR_MAX_RANK] = {M, C}, yd[IR_MAX_RANK] = {N, M};
	int64_t str[3], dil[3], pads[6], out_sp[3];
	for (int i = 0; i < k; i++) {
		str[i] = 2;
		dil[i] = i == k - 1 ? 1 : 2;
		pads[i] = 1;
		pads[k + i] = 0;
		out_sp[i] = (in_sp[i] + 1 - (ker[i] - 1) * dil[i] - 1) / 2 + 1;
		xd[2 + i] = in_sp[i];
		wd[2 + i] = ker[i];
		yd[2 + i] = out_sp[i];
	}
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "X", DT_F32, k + 2, xd), tu_add_input(g, "W", DT_F32, k + 2, wd)};
	ValueId out = tu_add_output(g, "Y", DT_F32, k + 2, yd);
	NodeId n = tu_add_node(g, OP_Conv, 17, in, 2, &out, 1);
	tu_set_ints(g, n, "strides", k, str);
	tu_set_ints(g, n, "dilations", k, dil);
	tu_set_ints(g, n, "pads", 2 * k, pads);
	int64_t xsp = 1, ksp = 1, ysp = 1;
	for (int i = 0; i < k; i++) {
		xsp *= in_sp[i];
		ksp *= ker[i];
		ysp *= out_sp[i];
	}
	float *X = rnd((size_t)(N * C * xsp), 90), *Wt = rnd((size_t)(M * C * ksp), 91);
	float *Y = zeros((size_t)(N * M * ysp)), *R = zeros((size_t)(N * M * ysp));
	for (int b = 0; b < N; b++)
	for (int m = 0; m < M; m++)
	for (int64_t o = 0; o < ysp; o++) {
		double s = 0;
		for (int c = 0; c < C; c++)
		for (int64_t q = 0; q < ksp; q++) {
			int64_t oi = o, qi = q, xi = 0, xm = 1;
			bool inside = true;
			for (int i = k - 1; i >= 0; i--) {
				int64_t od = oi % out_sp[i], kd = qi % ker[i];
				oi /= out_sp[i];
				qi /= ker[i];
				int64_t p = od * str[i] - pads[i] + kd * dil[i];
				inside = inside && p >= 0 && p < in_sp[i];
				xi += p * xm;
				xm *= in_sp[i];
			}
			if (inside)
				s += X[(b * C + c) * xsp + xi] * Wt[(m * C + c) * ksp + q];
		}
		R[(b * M + m) * ysp + o] = (float)s;
	}
	tu_compile_run(g, (const void *[]){X, Wt}, (void *[]){Y});
	expect_close(k == 1 ? "conv1d" : "conv3d", Y, R, (size_t)(N * M * ysp), 1e-5);
	free(X), free(Wt), free(Y), free(R);
}

static void test_conv_nd(void **state)
{
	conv_nd_case(1, (int64_t[]){9}, (int64_t[]){3});
	conv_nd_case(3, (int64_t[]){5, 6, 7}, (int64_t[]){2, 3, 2});
}

/* f16 1-D Conv with a 20-tap kernel: the dot product loads half vectors
 * and accumulates in f32; one rounding to f16 at the end. */
static void test_conv_f16(void **state)
{
	enum { L = 40, KW = 20, OL = L - KW + 1 };
	int64_t xd[] = {1, 1, L}, wd[] = {1, 1, KW}, yd[] = {1, 1, OL};
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "X", DT_F16, 3, xd), tu_add_input(g, "W", DT_F16, 3, wd)};
	ValueId out = tu_add_output(g, "Y", DT_F16, 3, yd);
	tu_add_node(g, OP_Conv, 17, in, 2, &out, 1);
	float *x = rnd(L, 120), *w = rnd(KW, 121), got[OL], want[OL];
	_Float16 X[L], W[KW], Y[OL];
	for (int i = 0; i < L; i++)
		X[i] = (_Float16)x[i];
	for (int i = 0; i < KW; i++)
		W[i] = (_Float16)w[i];
	for (int o = 0; o < OL; o++) {
		double s = 0;
		for (int k = 0; k < KW; k++)
			s += (double)X[o + k] * (double)W[k];
		want[o] = (float)(_Float16)s;
	}
	tu_compile_run(g, (const void *[]){X, W}, (void *[]){Y});
	for (int o = 0; o < OL; o++)
		got[o] = (float)Y[o];
	expect_close("conv f16", got, want, OL, 2e-3);
	free(x), free(w);
}

/* ConvTranspose 2-D, group 2, stride 2, pads 1, output_padding 1, bias;
 * the reference scatters each input element (the lowering gathers). */
static void test_convtranspose(void **state)
{
	const int N = 1, C = 4, H = 3, Wd = 4, group = 2, Mg = 3, M = 6, kh = 3, kw = 2;
	const int sh = 2, sw = 3, pt = 1, pl = 0, pb = 1, pr = 1, oph = 1, opw = 0, dh = 1, dw = 2;
	int OH = sh * (H - 1) + oph + (kh - 1) * dh + 1 - pt - pb;
	int OW = sw * (Wd - 1) + opw + (kw - 1) * dw + 1 - pl - pr;
	int Cg = C / group;
	int64_t xd[] = {N, C, H, Wd}, wd[] = {C, Mg, kh, kw}, bd[] = {M}, yd[] = {N, M, OH, OW};
	Graph *g = tu_new_graph();
	ValueId in[3] = {tu_add_input(g, "X", DT_F32, 4, xd), tu_add_input(g, "W", DT_F32, 4, wd),
	                 tu_add_input(g, "B", DT_F32, 1, bd)};
	ValueId out = tu_add_output(g, "Y", DT_F32, 4, yd);
	NodeId n = tu_add_node(g, OP_ConvTranspose, 17, in, 3, &out, 1);
	tu_set_int(g, n, "group", group);
	tu_set_ints(g, n, "strides", 2, (int64_t[]){sh, sw});
	tu_set_ints(g, n, "dilations", 2, (int64_t[]){dh, dw});
	tu_set_ints(g, n, "pads", 4, (int64_t[]){pt, pl, pb, pr});
	tu_set_ints(g, n, "output_padding", 2, (int64_t[]){oph, opw});
	size_t ny = (size_t)N * M * OH * OW;
	float *X = rnd(N * C * H * Wd, 30), *Wt = rnd(C * Mg * kh * kw, 31), *B = rnd(M, 32);
	float *Y = zeros(ny), *R = zeros(ny);
	for (int m = 0; m < M; m++)
		for (int i = 0; i < OH * OW; i++)
			R[m * OH * OW + i] = B[m];
	for (int c = 0; c < C; c++)
	for (int ih = 0; ih < H; ih++)
	for (int iw = 0; iw < Wd; iw++)
	for (int mm = 0; mm < Mg; mm++)
	for (int i = 0; i < kh; i++)
	for (int j = 0; j < kw; j++) {
		int oh = ih * sh - pt + i * dh, ow = iw * sw - pl + j * dw;
		if (oh < 0 || oh >= OH || ow < 0 || ow >= OW)
			continue;
		int m = (c / Cg) * Mg + mm;
		R[(m * OH + oh) * OW + ow] += X[(c * H + ih) * Wd + iw] * Wt[((c * Mg + mm) * kh + i) * kw + j];
	}
	tu_compile_run(g, (const void *[]){X, Wt, B}, (void *[]){Y});
	expect_close("convtranspose", Y, R, ny, 1e-5);
	free(X), free(Wt), free(B), free(Y), free(R);
}

/* ---- pools ------------------------------------------------------------------------- */

/* MaxPool (with Indices) or AveragePool on [1,2,6,7], kernel 3x2, strides
 * 2x2, pads (1,1,1,0), dilation dh for max, ceil_mode on request. */
static void pool_case(bool is_max, bool incl_pad, bool ceil_mode, int dh)
{
	const int C = 2, H = 6, W = 7, kh = 3, kw = 2, sh = 2, sw = 2, pt = 1, pl = 1, pb = 1, pr = 0;
	int ekh = (kh - 1) * dh + 1;
	int OH = (H + pt + pb - ekh + (ceil_mode ? sh - 1 : 0)) / sh + 1;
	int OW = (W + pl + pr - kw + (ceil_mode ? sw - 1 : 0)) / sw + 1;
	if (ceil_mode && (OH - 1) * sh >= H + pt)
		OH--;
	if (ceil_mode && (OW - 1) * sw >= W + pl)
		OW--;
	int64_t xd[] = {1, C, H, W}, yd[] = {1, C, OH, OW};
	Graph *g = tu_new_graph();
	ValueId x = tu_add_input(g, "X", DT_F32, 4, xd);
	ValueId out[2] = {tu_add_output(g, "Y", DT_F32, 4, yd), IR_NONE};
	if (is_max)
		out[1] = tu_add_output(g, "I", DT_I64, 4, yd);
	NodeId n = tu_add_node(g, is_max ? OP_MaxPool : OP_AveragePool, 17, &x, 1, out, is_max ? 2 : 1);
	tu_set_ints(g, n, "kernel_shape", 2, (int64_t[]){kh, kw});
	tu_set_ints(g, n, "strides", 2, (int64_t[]){sh, sw});
	tu_set_ints(g, n, "pads", 4, (int64_t[]){pt, pl, pb, pr});
	if (is_max)
		tu_set_ints(g, n, "dilations", 2, (int64_t[]){dh, 1});
	if (incl_pad)
		tu_set_int(g, n, "count_include_pad", 1);
	if (ceil_mode)
		tu_set_int(g, n, "ceil_mode", 1);
	size_t ny = (size_t)C * OH * OW;
	float *X = rnd(C * H * W, 40), *Y = zeros(ny), *R = zeros(ny);
	int64_t *I = calloc(ny, sizeof *I), *RI = calloc(ny, sizeof *RI);
	for (int c = 0; c < C; c++)
	for (int oh = 0; oh < OH; oh++)
	for (int ow = 0; ow < OW; ow++) {
		double s = 0, best = -INFINITY;
		int cnt = 0, arg = 0;
		for (int i = 0; i < kh; i++)
		for (int j = 0; j < kw; j++) {
			int ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j;
			bool in_pad = ih >= -pt && ih < H + pb && iw >= -pl && iw < W + pr;
			if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
				cnt += incl_pad && in_pad;
				continue;
			}
			float v = X[(c * H + ih) * W + iw];
			s += v;
			cnt++;
			if (v > best) {
				best = v;
				arg = (c * H + ih) * W + iw;
			}
		}
		int o = (c * OH + oh) * OW + ow;
		R[o] = is_max ? (float)best : (float)(s / cnt);
		RI[o] = arg;
	}
	if (is_max)
		tu_compile_run(g, (const void *[]){X}, (void *[]){Y, I});
	else
		tu_compile_run(g, (const void *[]){X}, (void *[]){Y});
	expect_close(is_max ? "maxpool" : "avgpool", Y, R, ny, 1e-6);
	if (is_max)
		for (size_t i = 0; i < ny; i++)
			assert_int_equal(I[i], RI[i]);
	free(X), free(Y), free(R), free(I), free(RI);
}

static void test_pools(void **state)
{
	pool_case(true, false, false, 1);
	pool_case(true, false, false, 2);
	pool_case(true, false, true, 1);
	pool_case(false, false, false, 1);
	pool_case(false, true, false, 1);
	pool_case(false, false, true, 1);
}

/* ---- LayerNormalization --------------------------------------------------------------- */

/* X [2,3,4], axis 1, Scale [3,4], B [4] (broadcast), Mean/InvStdDev [2,1,1]. */
static void test_layernorm(void **state)
{
	int64_t xd[] = {2, 3, 4}, sd[] = {3, 4}, bd[] = {4}, md[] = {2, 1, 1};
	Graph *g = tu_new_graph();
	ValueId in[3] = {tu_add_input(g, "X", DT_F32, 3, xd), tu_add_input(g, "S", DT_F32, 2, sd),
	                 tu_add_input(g, "B", DT_F32, 1, bd)};
	ValueId out[3] = {tu_add_output(g, "Y", DT_F32, 3, xd), tu_add_output(g, "Mean", DT_F32, 3, md),
	                  tu_add_output(g, "Inv", DT_F32, 3, md)};
	NodeId n = tu_add_node(g, OP_LayerNormalization, 17, in, 3, out, 3);
	tu_set_int(g, n, "axis", 1);
	tu_set_float(g, n, "epsilon", 1e-3f);
	float *X = rnd(24, 50), *S = rnd(12, 51), *B = rnd(4, 52);
	float *Y = zeros(24), *Mn = zeros(2), *Iv = zeros(2), *R = zeros(24), *RM = zeros(2), *RI = zeros(2);
	for (int o = 0; o < 2; o++) {
		double m = 0, v = 0;
		for (int j = 0; j < 12; j++)
			m += X[o * 12 + j];
		m /= 12;
		for (int j = 0; j < 12; j++)
			v += (X[o * 12 + j] - m) * (X[o * 12 + j] - m);
		v /= 12;
		double inv = 1.0 / sqrt(v + 1e-3);
		RM[o] = (float)m;
		RI[o] = (float)inv;
		for (int j = 0; j < 12; j++)
			R[o * 12 + j] = (float)((X[o * 12 + j] - m) * inv * S[j] + B[j % 4]);
	}
	tu_compile_run(g, (const void *[]){X, S, B}, (void *[]){Y, Mn, Iv});
	expect_close("layernorm Y", Y, R, 24, 1e-5);
	expect_close("layernorm Mean", Mn, RM, 2, 1e-6);
	expect_close("layernorm InvStdDev", Iv, RI, 2, 1e-5);
	free(X), free(S), free(B), free(Y), free(Mn), free(Iv), free(R), free(RM), free(RI);
}

/* ---- recurrent ------------------------------------------------------------------------- */

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Bidirectional LSTM, S=3, B=2, I=19, H=17 (past one vector), with B, sequence_lens {3,2},
 * initial_h/c and peepholes; outputs Y, Y_h, Y_c. */
static void test_lstm(void **state)
{
	enum { S = 3, Bt = 2, I = 19, H = 17, D = 2 };
	int64_t xd[] = {S, Bt, I}, wd[] = {D, 4 * H, I}, rd[] = {D, 4 * H, H}, bd[] = {D, 8 * H};
	int64_t ld[] = {Bt}, sd[] = {D, Bt, H}, pd[] = {D, 3 * H}, yd[] = {S, D, Bt, H};
	Graph *g = tu_new_graph();
	ValueId in[8] = {tu_add_input(g, "X", DT_F32, 3, xd), tu_add_input(g, "W", DT_F32, 3, wd),
	                 tu_add_input(g, "R", DT_F32, 3, rd), tu_add_input(g, "B", DT_F32, 2, bd),
	                 tu_add_input(g, "L", DT_I32, 1, ld), tu_add_input(g, "h0", DT_F32, 3, sd),
	                 tu_add_input(g, "c0", DT_F32, 3, sd), tu_add_input(g, "P", DT_F32, 2, pd)};
	ValueId out[3] = {tu_add_output(g, "Y", DT_F32, 4, yd), tu_add_output(g, "Yh", DT_F32, 3, sd),
	                  tu_add_output(g, "Yc", DT_F32, 3, sd)};
	NodeId n = tu_add_node(g, OP_LSTM, 17, in, 8, out, 3);
	tu_set_int(g, n, "hidden_size", H);
	tu_set_str(g, n, "direction", "bidirectional");
	float *X = rnd(S * Bt * I, 60), *W = rnd(D * 4 * H * I, 61), *R = rnd(D * 4 * H * H, 62);
	float *B = rnd(D * 8 * H, 63), *h0 = rnd(D * Bt * H, 64), *c0 = rnd(D * Bt * H, 65);
	float *P = rnd(D * 3 * H, 66);
	int32_t L[Bt] = {3, 2};
	float *Y = zeros(S * D * Bt * H), *Yh = zeros(D * Bt * H), *Yc = zeros(D * Bt * H);
	float *RY = zeros(S * D * Bt * H), *RH = zeros(D * Bt * H), *RC = zeros(D * Bt * H);
	for (int d = 0; d < D; d++)
		for (int b = 0; b < Bt; b++) {
			double h[H], c[H];
			for (int j = 0; j < H; j++) {
				h[j] = h0[(d * Bt + b) * H + j];
				c[j] = c0[(d * Bt + b) * H + j];
			}
			for (int s = 0; s < L[b]; s++) {
				int t = d == 0 ? s : L[b] - 1 - s;
				double pre[4 * H], hn[H];
				for (int q = 0; q < 4 * H; q++) {
					double a = B[d * 8 * H + q] + B[d * 8 * H + 4 * H + q];
					for (int k = 0; k < I; k++)
						a += X[(t * Bt + b) * I + k] * W[(d * 4 * H + q) * I + k];
					for (int k = 0; k < H; k++)
						a += h[k] * R[(d * 4 * H + q) * H + k];
					pre[q] = a;
				}
				for (int j = 0; j < H; j++) {
					const float *p = P + d * 3 * H;
					double ig = sigm(pre[j] + p[j] * c[j]);
					double fg = sigm(pre[2 * H + j] + p[2 * H + j] * c[j]);
					double cc = tanh(pre[3 * H + j]);
					c[j] = fg * c[j] + ig * cc;
					double og = sigm(pre[H + j] + p[H + j] * c[j]);
					hn[j] = og * tanh(c[j]);
				}
				for (int j = 0; j < H; j++) {
					h[j] = hn[j];
					RY[((t * D + d) * Bt + b) * H + j] = (float)h[j];
				}
			}
			for (int j = 0; j < H; j++) {
				RH[(d * Bt + b) * H + j] = (float)h[j];
				RC[(d * Bt + b) * H + j] = (float)c[j];
			}
		}
	tu_compile_run(g, (const void *[]){X, W, R, B, L, h0, c0, P}, (void *[]){Y, Yh, Yc});
	expect_close("lstm Y", Y, RY, S * D * Bt * H, 1e-5);
	expect_close("lstm Y_h", Yh, RH, D * Bt * H, 1e-5);
	expect_close("lstm Y_c", Yc, RC, D * Bt * H, 1e-5);
	free(X), free(W), free(R), free(B), free(h0), free(c0), free(P);
	free(Y), free(Yh), free(Yc), free(RY), free(RH), free(RC);
}

/* GRU, S=4, B=2, I=3, H=5, with bias; reverse when rev; both
 * linear_before_reset settings; layout 1 (batch first) when batch_first. */
static void gru_case(bool rev, bool lbr, bool batch_first)
{
	enum { S = 4, Bt = 2, I = 3, H = 5 };
	int64_t xd[] = {S, Bt, I}, xd1[] = {Bt, S, I}, wd[] = {1, 3 * H, I}, rd[] = {1, 3 * H, H};
	int64_t bd[] = {1, 6 * H}, yd[] = {S, 1, Bt, H}, yd1[] = {Bt, S, 1, H};
	int64_t hd[] = {1, Bt, H}, hd1[] = {Bt, 1, H};
	Graph *g = tu_new_graph();
	ValueId in[4] = {tu_add_input(g, "X", DT_F32, 3, batch_first ? xd1 : xd), tu_add_input(g, "W", DT_F32, 3, wd),
	                 tu_add_input(g, "R", DT_F32, 3, rd), tu_add_input(g, "B", DT_F32, 2, bd)};
	ValueId out[2] = {tu_add_output(g, "Y", DT_F32, 4, batch_first ? yd1 : yd),
	                  tu_add_output(g, "Yh", DT_F32, 3, batch_first ? hd1 : hd)};
	NodeId n = tu_add_node(g, OP_GRU, 17, in, 4, out, 2);
	tu_set_int(g, n, "hidden_size", H);
	tu_set_int(g, n, "linear_before_reset", lbr);
	if (rev)
		tu_set_str(g, n, "direction", "reverse");
	if (batch_first)
		tu_set_int(g, n, "layout", 1);
	float *X = rnd(S * Bt * I, 70), *W = rnd(3 * H * I, 71), *R = rnd(3 * H * H, 72);
	float *B = rnd(6 * H, 73);
	float *Y = zeros(S * Bt * H), *Yh = zeros(Bt * H), *RY = zeros(S * Bt * H), *RH = zeros(Bt * H);
	for (int b = 0; b < Bt; b++) {
		double h[H] = {0};
		for (int s = 0; s < S; s++) {
			int t = rev ? S - 1 - s : s;
			const float *x = batch_first ? X + (b * S + t) * I : X + (t * Bt + b) * I;
			double xw[3 * H], hr[3 * H], z[H], r[H], hn[H];
			for (int q = 0; q < 3 * H; q++) {
				xw[q] = B[q];
				hr[q] = B[3 * H + q];
				for (int k = 0; k < I; k++)
					xw[q] += x[k] * W[q * I + k];
				for (int k = 0; k < H; k++)
					hr[q] += h[k] * R[q * H + k];
			}
			for (int j = 0; j < H; j++) {
				z[j] = sigm(xw[j] + hr[j]);
				r[j] = sigm(xw[H + j] + hr[H + j]);
			}
			for (int j = 0; j < H; j++) {
				double hh;
				if (lbr) {
					hh = r[j] * hr[2 * H + j];
				} else {
					hh = B[5 * H + j];
					for (int k = 0; k < H; k++)
						hh += r[k] * h[k] * R[(2 * H + j) * H + k];
				}
				double ht = tanh(xw[2 * H + j] + hh);
				hn[j] = (1 - z[j]) * ht + z[j] * h[j];
			}
			for (int j = 0; j < H; j++) {
				h[j] = hn[j];
				RY[batch_first ? (b * S + t) * H + j : (t * Bt + b) * H + j] = (float)h[j];
			}
		}
		for (int j = 0; j < H; j++)
			RH[b * H + j] = (float)h[j];
	}
	tu_compile_run(g, (const void *[]){X, W, R, B}, (void *[]){Y, Yh});
	expect_close("gru Y", Y, RY, S * Bt * H, 1e-5);
	expect_close("gru Y_h", Yh, RH, Bt * H, 1e-5);
	free(X), free(W), free(R), free(B), free(Y), free(Yh), free(RY), free(RH);
}

static void test_gru(void **state)
{
	gru_case(false, false, false);
	gru_case(true, true, false);
	gru_case(false, true, true);
}

/* Bidirectional RNN with activations [Relu, Tanh] (forward Relu, reverse
 * Tanh), clip 0.5, initial_h, no bias; only Y_h requested. */
static void test_rnn_relu_clip(void **state)
{
	enum { S = 3, Bt = 2, I = 4, H = 3, D = 2 };
	int64_t xd[] = {S, Bt, I}, wd[] = {D, H, I}, rd[] = {D, H, H}, hd[] = {D, Bt, H};
	Graph *g = tu_new_graph();
	ValueId in[6] = {tu_add_input(g, "X", DT_F32, 3, xd), tu_add_input(g, "W", DT_F32, 3, wd),
	                 tu_add_input(g, "R", DT_F32, 3, rd), IR_NONE, IR_NONE,
	                 tu_add_input(g, "h0", DT_F32, 3, hd)};
	ValueId out[2] = {IR_NONE, tu_add_output(g, "Yh", DT_F32, 3, hd)};
	NodeId n = tu_add_node(g, OP_RNN, 17, in, 6, out, 2);
	tu_set_int(g, n, "hidden_size", H);
	tu_set_str(g, n, "direction", "bidirectional");
	tu_set_float(g, n, "clip", 0.5f);
	Attr *a = graph_add_attr(g, n, "activations", AK_STRINGS);
	a->n = 2;
	a->strings = arena_alloc(&g->arena, 2 * sizeof(char *));
	a->strings[0] = "Relu";
	a->strings[1] = "Tanh";
	float *X = rnd(S * Bt * I, 100), *W = rnd(D * H * I, 101), *R = rnd(D * H * H, 102);
	float *h0 = rnd(D * Bt * H, 103), *Yh = zeros(D * Bt * H), *RH = zeros(D * Bt * H);
	for (int d = 0; d < D; d++)
		for (int b = 0; b < Bt; b++) {
			double h[H], hn[H];
			for (int j = 0; j < H; j++)
				h[j] = h0[(d * Bt + b) * H + j];
			for (int s = 0; s < S; s++) {
				int t = d == 0 ? s : S - 1 - s;
				for (int j = 0; j < H; j++) {
					double v = 0;
					for (int k = 0; k < I; k++)
						v += X[(t * Bt + b) * I + k] * W[(d * H + j) * I + k];
					for (int k = 0; k < H; k++)
						v += h[k] * R[(d * H + j) * H + k];
					v = v > 0.5 ? 0.5 : v < -0.5 ? -0.5 : v;
					hn[j] = d == 0 ? (v > 0 ? v : 0) : tanh(v);
				}
				memcpy(h, hn, sizeof h);
			}
			for (int j = 0; j < H; j++)
				RH[(d * Bt + b) * H + j] = (float)h[j];
		}
	tu_compile_run(g, (const void *[]){X, W, R, h0}, (void *[]){Yh});
	expect_close("rnn Y_h", Yh, RH, D * Bt * H, 1e-5);
	free(X), free(W), free(R), free(h0), free(Yh), free(RH);
}

/* ---- rejections -------------------------------------------------------------------------- */

/* rule: BatchNormalization with training_mode = 1 is a diagnostic, not code */
static void test_batchnorm_training_rejected(void **state)
{
	int64_t xd[] = {1, 2, 3}, cd[] = {2};
	Graph *g = tu_new_graph();
	ValueId in[5] = {tu_add_input(g, "X", DT_F32, 3, xd), tu_add_input(g, "s", DT_F32, 1, cd),
	                 tu_add_input(g, "b", DT_F32, 1, cd), tu_add_input(g, "m", DT_F32, 1, cd),
	                 tu_add_input(g, "v", DT_F32, 1, cd)};
	ValueId out = tu_add_output(g, "Y", DT_F32, 3, xd);
	NodeId n = tu_add_node(g, OP_BatchNormalization, 17, in, 5, &out, 1);
	tu_set_int(g, n, "training_mode", 1);
	float X[6] = {0}, c[2] = {0}, Y[6];
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(tu_run_graph(g, (const void *[]){X, c, c, c, c}, (void *[]){Y}, &d));
	assert_true(diag_contains(&d, "node 'n0' (BatchNormalization)"));
	assert_true(diag_contains(&d, "training_mode = 1"));
	diag_free(&d);
	graph_free(g);
}

/* rule: an RNN activation outside Sigmoid/Tanh/Relu is a diagnostic */
static void test_rnn_activation_rejected(void **state)
{
	int64_t xd[] = {2, 1, 3}, wd[] = {1, 4, 3}, rd[] = {1, 4, 4}, hd[] = {1, 1, 4};
	Graph *g = tu_new_graph();
	ValueId in[3] = {tu_add_input(g, "X", DT_F32, 3, xd), tu_add_input(g, "W", DT_F32, 3, wd),
	                 tu_add_input(g, "R", DT_F32, 3, rd)};
	ValueId out[2] = {IR_NONE, tu_add_output(g, "Yh", DT_F32, 3, hd)};
	NodeId n = tu_add_node(g, OP_RNN, 17, in, 3, out, 2);
	tu_set_int(g, n, "hidden_size", 4);
	Attr *a = graph_add_attr(g, n, "activations", AK_STRINGS);
	a->n = 1;
	a->strings = arena_alloc(&g->arena, sizeof(char *));
	a->strings[0] = "Softsign";
	float X[6] = {0}, W[12] = {0}, R[16] = {0}, Yh[4];
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(tu_run_graph(g, (const void *[]){X, W, R}, (void *[]){Yh}, &d));
	assert_true(diag_contains(&d, "activation 'Softsign'"));
	diag_free(&d);
	graph_free(g);
}

/* rule: an Einsum equation whose terms do not match the inputs is a
 * diagnostic naming the equation */
static void test_einsum_bad_equation_rejected(void **state)
{
	const char *eqs[] = {"ij,jk->ik", "ijk->i", "i.j->i", "ij->iq"};
	const char *msgs[] = {"has 2 terms for 1 inputs", "term 0 is malformed or does not match rank 2",
	                      "term 0 is malformed or does not match rank 2", "output label repeated or absent"};
	for (int c = 0; c < 4; c++) {
		int64_t xd[] = {2, 3}, yd[] = {2};
		Graph *g = tu_new_graph();
		ValueId x = tu_add_input(g, "x", DT_F32, 2, xd);
		ValueId y = tu_add_output(g, "y", DT_F32, 1, yd);
		NodeId n = tu_add_node(g, OP_Einsum, 17, &x, 1, &y, 1);
		tu_set_str(g, n, "equation", eqs[c]);
		float X[6] = {0}, Y[2];
		Diag d;
		diag_init(&d, "test.onnx", false);
		assert_false(tu_run_graph(g, (const void *[]){X}, (void *[]){Y}, &d));
		if (!diag_contains(&d, msgs[c])) {
			fprintf(stderr, "'%s': got '%s'\n", eqs[c], d.buf ? d.buf : "");
			fail();
		}
		diag_free(&d);
		graph_free(g);
	}
}

/* rule: MatMul inner dimensions must agree (a diagnostic on input 1) */
static void test_matmul_mismatch_rejected(void **state)
{
	int64_t ad[] = {2, 3}, bd[] = {4, 5}, yd[] = {2, 5};
	Graph *g = tu_new_graph();
	ValueId in[2] = {tu_add_input(g, "A", DT_F32, 2, ad), tu_add_input(g, "B", DT_F32, 2, bd)};
	ValueId out = tu_add_output(g, "Y", DT_F32, 2, yd);
	tu_add_node(g, OP_MatMul, 17, in, 2, &out, 1);
	float A[6] = {0}, B[20] = {0}, Y[10];
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(tu_run_graph(g, (const void *[]){A, B}, (void *[]){Y}, &d));
	assert_true(diag_contains(&d, "input 1: code generation: inner dimensions differ (3 vs 4)"));
	diag_free(&d);
	graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matmul_batched_broadcast),
		cmocka_unit_test(test_matmul_vectors),
		cmocka_unit_test(test_matmul_int64),
		cmocka_unit_test(test_matmul_f16),
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_f64_products),
		cmocka_unit_test(test_einsum),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_conv_planes),
		cmocka_unit_test(test_conv_nd),
		cmocka_unit_test(test_conv_f16),
		cmocka_unit_test(test_convtranspose),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_layernorm),
		cmocka_unit_test(test_lstm),
		cmocka_unit_test(test_gru),
		cmocka_unit_test(test_rnn_relu_clip),
		cmocka_unit_test(test_batchnorm_training_rejected),
		cmocka_unit_test(test_rnn_activation_rejected),
		cmocka_unit_test(test_einsum_bad_equation_rejected),
		cmocka_unit_test(test_matmul_mismatch_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

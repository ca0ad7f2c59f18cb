/* tests/unit/test_slice_gemm.c — fuse-slice-gemm against the graph it
 * rewrites, bit for bit.
 *
 * Transformer-XL's projection: x [M, 1, K] (memory rows, then the
 * segment's) times one weight [K, 3u] (+ bias, + an activation), read as
 * three GatherRows: q = columns 0..u of the last S rows, k and v = the
 * other column blocks of all rows (k in rows of u/2 elements, as fuse-remap
 * may cut them).  Compiled after fuse-gemm alone (one GEMM, three copies)
 * and after fuse-gemm + fuse-slice-gemm (three GEMMs, q on S rows through a
 * row index): every output element is the same chain of multiply-adds and
 * the same epilogue either way, so the bytes must agree, on every vector
 * width the host executes.  Also: the pass really split (no GatherRows
 * left, three MatMulEpi), and leaves a block narrower than the widest
 * vector alone. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pipeline.h"

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 500.0f;
	}
}

static ValueId gather(TuGraph *t, const char *name, ValueId y, int64_t n, int64_t r0, int64_t mb, int64_t c0,
                      int64_t w, int64_t uu, bool out)
{
	int64_t R = mb * (w / uu);
	int32_t *idx = malloc(sizeof *idx * (size_t)R);
	for (int64_t r = 0, k = 0; r < mb; r++)
		for (int64_t s = 0; s < w / uu; s++)
			idx[k++] = (int32_t)(((r0 + r) * n + c0 + s * uu) / uu);
	char iname[32];
	snprintf(iname, sizeof iname, "i%s", name);
	int64_t di[1] = {R}, dy[4] = {mb, 1, w / uu, uu};
	ValueId iv = tu_const(t, iname, DT_I32, 1, di, idx);
	free(idx);
	ValueId o = out ? tu_output(t, name, DT_F32, 4, dy) : graph_add_value(t->g, name, DT_F32, &(Shape){0});
	gval(t->g, o)->shape = shape_make(4, dy);
	ValueId a[2] = {y, iv};
	NodeId nid = tu_node(t, OP_GatherRows, 1, a, 2, &o, 1);
	t->g->nodes[nid].domain = "onnxcc";
	tu_attr_ints(t, "shape", 4, dy);
	return o;
}

static Graph *txl_graph(int64_t M, int64_t S, int64_t K, int64_t u, const float *w, const float *b, const char *act)
{
	TuGraph t = tu_graph();
	int64_t N = 3 * u, dx[3] = {M, 1, K}, dw[2] = {K, N}, db[1] = {N}, dy[3] = {M, 1, N};
	ValueId x = tu_input(&t, "x", DT_F32, 3, dx);
	ValueId vw = tu_const(&t, "w", DT_F32, 2, dw, w), vb = tu_const(&t, "b", DT_F32, 1, db, b);
	ValueId y = graph_add_value(t.g, "y", DT_F32, &(Shape){0});
	gval(t.g, y)->shape = shape_make(3, dy);
	ValueId a[3] = {x, vw, vb};
	NodeId mm = tu_node(&t, OP_MatMulEpi, 13, a, 3, &y, 1);
	t.g->nodes[mm].domain = "onnxcc";
	if (act)
		tu_attr_str(&t, "act", act);
	gather(&t, "q", y, N, M - S, S, 0, u, u, true);
	gather(&t, "k", y, N, 0, M, u, u, u / 2, true);
	gather(&t, "v", y, N, 0, M, 2 * u, u, u, true);
	t.g->shapes_known = true;
	return t.g;
}

static void case_txl(int64_t M, int64_t S, int64_t K, int64_t u, const char *act, unsigned seed)
{
	int64_t N = 3 * u;
	float *w = malloc(sizeof(float) * (size_t)(K * N)), *b = malloc(sizeof(float) * (size_t)N);
	float *x = malloc(sizeof(float) * (size_t)(M * K));
	fill(w, (size_t)(K * N), seed + 1);
	fill(b, (size_t)N, seed + 2);
	fill(x, (size_t)(M * K), seed + 3);
	size_t sz[3] = {(size_t)(S * u), (size_t)(M * u), (size_t)(M * u)};
	static const char *const unsplit[] = {"dce"};
	static const char *const split[] = {"fuse-slice-gemm", "dce"};
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		Graph *g0 = txl_graph(M, S, K, u, w, b, act), *g1 = txl_graph(M, S, K, u, w, b, act);
		tu_run_passes(g0, unsplit, 1);
		tu_run_passes(g1, split, 2);
		assert_int_equal(tu_live(g1, OP_GatherRows), 0);
		assert_int_equal(tu_live(g1, OP_MatMulEpi), 3);
		float *o0[3], *o1[3];
		for (int k = 0; k < 3; k++) {
			o0[k] = malloc(sizeof(float) * sz[k]);
			o1[k] = malloc(sizeof(float) * sz[k]);
			memset(o0[k], 0xff, sizeof(float) * sz[k]);
			memset(o1[k], 0, sizeof(float) * sz[k]);
		}
		const void *in[1] = {x};
		tu_compile_run(g0, in, (void *const *)o0);
		tu_compile_run(g1, in, (void *const *)o1);
		for (int k = 0; k < 3; k++) {
			for (size_t e = 0, shown = 0; e < sz[k] && shown < 4; e++)
				if (memcmp(&o0[k][e], &o1[k][e], 4)) {
					fprintf(stderr, "output %d element %zu: unsplit %.9g, split %.9g\n", k, e, o0[k][e], o1[k][e]);
					shown++;
				}
			if (memcmp(o0[k], o1[k], sizeof(float) * sz[k]) != 0)
				fail_msg("M=%lld S=%lld K=%lld u=%lld %s: output %d of the split GEMMs differs from the "
				         "unsplit bits", (long long)M, (long long)S, (long long)K, (long long)u,
				         tu_isas[t].name, k);
			free(o0[k]);
			free(o1[k]);
		}
	}
	tu_isa_override = (CgIsa){0};
	free(w), free(b), free(x);
}

static void test_bitwise(void **state)
{
	(void)state;
	case_txl(16, 8, 64, 16, NULL, 1u);      /* small: one tile row */
	case_txl(256, 128, 96, 64, "relu", 2u); /* several row blocks, q on the last half */
	case_txl(40, 13, 80, 32, "gelu", 3u);   /* edge tiles everywhere, GELU epilogue */
}

/* A block of 8 columns would run on the loop nest on AVX-512 while the
 * whole GEMM ran on the kernel: the pass keeps the GEMM. */
static void test_narrow_block_kept(void **state)
{
	(void)state;
	int64_t M = 16, S = 8, K = 64, u = 8, N = 3 * u;
	float *w = calloc((size_t)(K * N), sizeof(float)), *b = calloc((size_t)N, sizeof(float));
	Graph *g = txl_graph(M, S, K, u, w, b, NULL);
	static const char *const split[] = {"fuse-slice-gemm", "dce"};
	tu_run_passes(g, split, 2);
	assert_int_equal(tu_live(g, OP_GatherRows), 3);
	assert_int_equal(tu_live(g, OP_MatMulEpi), 1);
	graph_free(g);
	free(w), free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitwise),
		cmocka_unit_test(test_narrow_block_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

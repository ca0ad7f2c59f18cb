/* tests/unit/test_gemm_norm.c — fuse-gemm-norm and fuse-norm-gemm
 * against the graphs they rewrite, bit for bit, on every vector width and
 * thread count.
 *
 * A post-norm block's output, LayerNorm(x @ W + b + r) (native
 * LayerNormalization-17), is compiled after fuse-gemm (a MatMulEpi with
 * bias and residual, then the LayerNorm node) and after fuse-gemm +
 * fuse-gemm-norm (one MatMulEpi whose row epilogue is the LayerNorm).  The
 * shapes take each of the fused lowering's paths: row blocks as the
 * kernel's tasks, each normalised in its task (many rows, small and wide
 * N); too few rows, so the product keeps its column groups and the
 * LayerNorm follows it (PVT's spatial reduction: 49 tokens, K = 512); a
 * product too small for the kernel (the loop nest).  The outputs must be
 * the same bytes, serially and with 1, 2, 3 and 5 threads.
 *
 * A pre-norm block's LayerNorm(x) @ W + b (GELU after it for fc1):
 * fuse-norm-gemm makes the LayerNorm the GEMM's row prologue, whose
 * statistics the kernel takes for groups of vector-width rows at once
 * (rows across lanes) and for the rows after the last whole group one
 * by one; both must give the LayerNorm node's bits.
 */
#include "testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pipeline.h"
#include "runtime/onnxcc_pool.h"

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 500.0f;
	}
}

/* z = LayerNormalization(Add(Add(MatMul(x, w), b), r), g, be) over N. */
static Graph *block_graph(int64_t M, int64_t K, int64_t N, const float *w, const float *b, const float *gm,
                          const float *be)
{
	TuGraph t = tu_graph();
	int64_t dx[3] = {1, M, K}, dy[3] = {1, M, N}, dw[2] = {K, N}, dn[1] = {N};
	ValueId x = tu_input(&t, "x", DT_F32, 3, dx), r = tu_input(&t, "r", DT_F32, 3, dy);
	ValueId vw = tu_const(&t, "w", DT_F32, 2, dw, w), vb = tu_const(&t, "b", DT_F32, 1, dn, b);
	ValueId vg = tu_const(&t, "g", DT_F32, 1, dn, gm), vbe = tu_const(&t, "be", DT_F32, 1, dn, be);
	Shape ys = shape_make(3, dy);
	ValueId m = graph_add_value(t.g, "m", DT_F32, &ys);
	ValueId a = graph_add_value(t.g, "a", DT_F32, &ys);
	ValueId s = graph_add_value(t.g, "s", DT_F32, &ys);
	ValueId z = tu_output(&t, "z", DT_F32, 3, dy);
	ValueId a1[2] = {x, vw}, a2[2] = {m, vb}, a3[2] = {a, r}, a4[3] = {s, vg, vbe};
	tu_node(&t, OP_MatMul, 13, a1, 2, &m, 1);
	tu_node(&t, OP_Add, 14, a2, 2, &a, 1);
	tu_node(&t, OP_Add, 14, a3, 2, &s, 1);
	tu_node(&t, OP_LayerNormalization, 17, a4, 3, &z, 1);
	tu_attr_int(&t, "axis", -1);
	tu_attr_float(&t, "epsilon", 1e-5f);
	t.g->shapes_known = true;
	return t.g;
}

/* The run the loaded hook makes: the fused module on pools of 1, 2, 3 and
 * 5 threads, each output compared with the unfused bits. */
static struct {
	const void *const *in;
	const float *want;
	size_t ny;
	const char *what;
} H;

static void threads_hook(void *handle)
{
	const OnnxccModel *m = dlsym(handle, "onnxcc_model");
	assert_non_null(m);
	float *y = malloc(sizeof(float) * H.ny);
	void *ws = NULL;
	if (m->workspace_size)
		assert_int_equal(posix_memalign(&ws, 64, m->workspace_size), 0);
	static const int counts[4] = {1, 2, 3, 5};
	for (int k = 0; k < 4; k++) {
		OnnxccPool *pool = onnxcc_pool_create(counts[k]);
		assert_non_null(pool);
		OnnxccParallel par = onnxcc_pool_parallel(pool);
		memset(y, 0, sizeof(float) * H.ny);
		void *out[1] = {y};
		assert_int_equal(m->run_parallel(H.in, out, ws, &par), 0);
		onnxcc_pool_destroy(pool);
		if (memcmp(y, H.want, sizeof(float) * H.ny) != 0)
			fail_msg("%s, %d threads: fused output differs from the unfused bits", H.what, counts[k]);
	}
	free(ws);
	free(y);
}

static void case_block(int64_t M, int64_t K, int64_t N, unsigned seed)
{
	size_t nx = (size_t)(M * K), ny = (size_t)(M * N);
	float *w = malloc(sizeof(float) * (size_t)(K * N)), *b = malloc(sizeof(float) * (size_t)N);
	float *gm = malloc(sizeof(float) * (size_t)N), *be = malloc(sizeof(float) * (size_t)N);
	float *x = malloc(sizeof(float) * nx), *r = malloc(sizeof(float) * ny);
	float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
	fill(w, (size_t)(K * N), seed + 1);
	fill(b, (size_t)N, seed + 2);
	fill(gm, (size_t)N, seed + 3);
	fill(be, (size_t)N, seed + 4);
	fill(x, nx, seed + 5);
	fill(r, ny, seed + 6);
	static const char *const unfused[] = {"fuse-gemm", "dce"};
	static const char *const fused[] = {"fuse-gemm", "fuse-gemm-norm", "dce"};
	const void *in[2] = {x, r};
	void *o0[1] = {y0}, *o1[1] = {y1};
	char what[128];
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		snprintf(what, sizeof what, "M=%lld K=%lld N=%lld %s", (long long)M, (long long)K, (long long)N,
		         tu_isas[t].name);
		Graph *g0 = block_graph(M, K, N, w, b, gm, be);
		tu_run_passes(g0, unfused, 2);
		assert_int_equal(tu_live(g0, OP_LayerNormalization), 1);
		Graph *g1 = block_graph(M, K, N, w, b, gm, be);
		tu_run_passes(g1, fused, 3);
		assert_int_equal(tu_live(g1, OP_LayerNormalization), 0);
		assert_int_equal(tu_live(g1, OP_MatMulEpi), 1);
		memset(y0, 0xff, sizeof(float) * ny);
		memset(y1, 0, sizeof(float) * ny);
		tu_compile_run(g0, in, o0);
		H.in = in, H.want = y0, H.ny = ny, H.what = what;
		tu_loaded_hook = threads_hook;
		tu_compile_run(g1, in, o1);  /* the hook's threaded runs, then this serial one */
		tu_loaded_hook = NULL;
		if (memcmp(y0, y1, sizeof(float) * ny) != 0)
			fail_msg("%s, serial: fused output differs from the unfused bits", what);
	}
	tu_isa_override = (CgIsa){0};
	free(w), free(b), free(gm), free(be), free(x), free(r), free(y0), free(y1);
}

/* y = MatMul(LayerNormalization(x, g, be), w) + b, GELU (erf form) after
 * it when gelu: a pre-norm block's qkv or fc1. */
static Graph *prologue_graph(int64_t M, int64_t K, int64_t N, bool gelu, const float *w, const float *b,
                             const float *gm, const float *be)
{
	TuGraph t = tu_graph();
	int64_t dx[3] = {1, M, K}, dy[3] = {1, M, N}, dw[2] = {K, N}, dn[1] = {N}, dk[1] = {K}, d0[1] = {1};
	ValueId x = tu_input(&t, "x", DT_F32, 3, dx);
	ValueId vw = tu_const(&t, "w", DT_F32, 2, dw, w), vb = tu_const(&t, "b", DT_F32, 1, dn, b);
	ValueId vg = tu_const(&t, "g", DT_F32, 1, dk, gm), vbe = tu_const(&t, "be", DT_F32, 1, dk, be);
	Shape xs = shape_make(3, dx), ys = shape_make(3, dy);
	ValueId l = graph_add_value(t.g, "l", DT_F32, &xs);
	ValueId m = graph_add_value(t.g, "m", DT_F32, &ys);
	ValueId z = tu_output(&t, "z", DT_F32, 3, dy);
	ValueId a = gelu ? graph_add_value(t.g, "a", DT_F32, &ys) : z;
	ValueId a1[3] = {x, vg, vbe}, a2[2] = {l, vw}, a3[2] = {m, vb};
	tu_node(&t, OP_LayerNormalization, 17, a1, 3, &l, 1);
	tu_attr_int(&t, "axis", -1);
	tu_attr_float(&t, "epsilon", 1e-5f);
	tu_node(&t, OP_MatMul, 13, a2, 2, &m, 1);
	tu_node(&t, OP_Add, 14, a3, 2, &a, 1);
	if (gelu) {
		static const float half = 0.5f, one = 1.0f, rs2 = 1.41421356f;
		ValueId ch = tu_const(&t, "half", DT_F32, 1, d0, &half), c1 = tu_const(&t, "one", DT_F32, 1, d0, &one);
		ValueId cs = tu_const(&t, "s2", DT_F32, 1, d0, &rs2);
		ValueId v[4];
		for (int i = 0; i < 4; i++) {
			char nm[8];
			snprintf(nm, sizeof nm, "g%d", i);
			v[i] = graph_add_value(t.g, nm, DT_F32, &ys);
		}
		ValueId d1[2] = {a, cs}, d2[2] = {v[1], c1}, d3[2] = {a, v[2]}, d4[2] = {v[3], ch};
		tu_node(&t, OP_Div, 14, d1, 2, &v[0], 1);
		tu_node(&t, OP_Erf, 13, &v[0], 1, &v[1], 1);
		tu_node(&t, OP_Add, 14, d2, 2, &v[2], 1);
		tu_node(&t, OP_Mul, 14, d3, 2, &v[3], 1);
		tu_node(&t, OP_Mul, 14, d4, 2, &z, 1);
	}
	t.g->shapes_known = true;
	return t.g;
}

/* fuse-norm-gemm's row prologue (the LayerNorm's statistics taken as the
 * GEMM copies A, whole groups of vector-width rows at once, rows across
 * lanes) against the LayerNorm node before the GEMM, bit for bit. */
static void case_prologue(int64_t M, int64_t K, int64_t N, bool gelu, unsigned seed)
{
	size_t nx = (size_t)(M * K), ny = (size_t)(M * N);
	float *w = malloc(sizeof(float) * (size_t)(K * N)), *b = malloc(sizeof(float) * (size_t)N);
	float *gm = malloc(sizeof(float) * (size_t)K), *be = malloc(sizeof(float) * (size_t)K);
	float *x = malloc(sizeof(float) * nx), *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
	fill(w, (size_t)(K * N), seed + 1);
	fill(b, (size_t)N, seed + 2);
	fill(gm, (size_t)K, seed + 3);
	fill(be, (size_t)K, seed + 4);
	fill(x, nx, seed + 5);
	for (size_t i = 0; i < nx; i += 7) /* rows of different means */
		x[i] += (float)(i / (size_t)K % 5);
	static const char *const unfused[] = {"fuse-gelu", "fuse-gemm", "dce"};
	static const char *const fused[] = {"fuse-gelu", "fuse-gemm", "fuse-norm-gemm", "dce"};
	const void *in[1] = {x};
	void *o0[1] = {y0}, *o1[1] = {y1};
	char what[128];
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		snprintf(what, sizeof what, "prologue M=%lld K=%lld N=%lld%s %s", (long long)M, (long long)K,
		         (long long)N, gelu ? " GELU" : "", tu_isas[t].name);
		Graph *g0 = prologue_graph(M, K, N, gelu, w, b, gm, be);
		tu_run_passes(g0, unfused, 3);
		assert_int_equal(tu_live(g0, OP_LayerNormalization), 1);
		Graph *g1 = prologue_graph(M, K, N, gelu, w, b, gm, be);
		tu_run_passes(g1, fused, 4);
		assert_int_equal(tu_live(g1, OP_LayerNormalization), 0);
		assert_int_equal(tu_live(g1, OP_MatMulEpi), 1);
		memset(y0, 0xff, sizeof(float) * ny);
		memset(y1, 0, sizeof(float) * ny);
		tu_compile_run(g0, in, o0);
		H.in = in, H.want = y0, H.ny = ny, H.what = what;
		tu_loaded_hook = threads_hook;
		tu_compile_run(g1, in, o1);
		tu_loaded_hook = NULL;
		if (memcmp(y0, y1, sizeof(float) * ny) != 0)
			fail_msg("%s, serial: fused output differs from the unfused bits", what);
	}
	tu_isa_override = (CgIsa){0};
	free(w), free(b), free(gm), free(be), free(x), free(y0), free(y1);
}

static void test_prologue_bitwise(void **state)
{
	(void)state;
	case_prologue(784, 64, 230, true, 11u); /* sret_t's stage-0 fc1: whole row groups, a 4-row edge tile */
	case_prologue(300, 96, 80, false, 12u); /* swin_t's K = 96 */
	case_prologue(37, 200, 48, true, 13u);  /* a loop and a masked tail per row; 2 groups of 16 + 5 rows */
	case_prologue(100, 20, 32, false, 14u); /* one vector and a tail (AVX-512), 6 groups + 4 rows */
	case_prologue(45, 7, 24, false, 15u);   /* shorter than a vector: the masked tail alone */
}

static void test_bitwise(void **state)
{
	(void)state;
	case_block(700, 32, 48, 1u);  /* row blocks as tasks; a masked vector ends each row */
	case_block(200, 64, 768, 2u); /* wide rows (ViT-B's width) in small row blocks */
	case_block(49, 512, 64, 3u);  /* PVT's spatial reduction: column groups, the LayerNorm after */
	case_block(8, 4, 6, 4u);      /* too small for the kernel: the loop nest */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitwise),
		cmocka_unit_test(test_prologue_bitwise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

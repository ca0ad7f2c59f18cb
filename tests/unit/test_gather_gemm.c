/* tests/unit/test_gather_gemm.c — fuse-gather-gemm against the graph it
 * rewrites, bit for bit.
 *
 * SReT's group attention around its GEMMs (x -> Gather(perm, axis 1) ->
 * qkv MatMul + bias -> CumSum over the tokens standing for the group
 * attention (it mixes tokens in their permuted order, so a GEMM that read
 * the wrong rows would show) -> projection MatMul + bias -> Gather(inverse,
 * axis 1)) is compiled twice: after
 * fuse-gemm alone (the Gathers copy the tokens, the GEMMs read them in
 * place) and after fuse-gemm + fuse-gather-gemm (no Gather: the GEMMs read
 * their rows through the row index).  Each C element is the same sequence
 * of operations either way, so the outputs must be identical bytes: on
 * products the GEMM kernel runs (one and several row blocks) and on one it
 * leaves to the loop nest, for every vector width this host executes.
 * Also MatMulEpi's shape rule with rows (passes/infer_fused.c).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/infer.h"
#include "passes/pipeline.h"

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 500.0f;
	}
}

/* The group attention's GEMMs on T tokens of C channels, hidden width H. */
static Graph *sret_graph(int64_t T, int64_t C, int64_t H, const int64_t *perm, const int64_t *inv,
                         const float *wq, const float *bq, const float *wp, const float *bp)
{
	TuGraph t = tu_graph();
	int64_t dx[3] = {1, T, C}, dh[3] = {1, T, H}, dp[1] = {T}, dwq[2] = {C, H}, dwp[2] = {H, C};
	int64_t dbq[1] = {H}, dbp[1] = {C};
	ValueId x = tu_input(&t, "x", DT_F32, 3, dx);
	ValueId vp = tu_const(&t, "perm", DT_I64, 1, dp, perm), vi = tu_const(&t, "inv", DT_I64, 1, dp, inv);
	ValueId vwq = tu_const(&t, "wq", DT_F32, 2, dwq, wq), vbq = tu_const(&t, "bq", DT_F32, 1, dbq, bq);
	ValueId vwp = tu_const(&t, "wp", DT_F32, 2, dwp, wp), vbp = tu_const(&t, "bp", DT_F32, 1, dbp, bp);
	ValueId g = graph_add_value(t.g, "g", DT_F32, &(Shape){0});
	ValueId q = graph_add_value(t.g, "q", DT_F32, &(Shape){0});
	ValueId qb = graph_add_value(t.g, "qb", DT_F32, &(Shape){0});
	ValueId h = graph_add_value(t.g, "h", DT_F32, &(Shape){0});
	ValueId p = graph_add_value(t.g, "p", DT_F32, &(Shape){0});
	ValueId pb = graph_add_value(t.g, "pb", DT_F32, &(Shape){0});
	gval(t.g, g)->shape = shape_make(3, dx);
	gval(t.g, pb)->shape = gval(t.g, p)->shape = gval(t.g, g)->shape;
	gval(t.g, q)->shape = shape_make(3, dh);
	gval(t.g, h)->shape = gval(t.g, qb)->shape = gval(t.g, q)->shape;
	ValueId o = tu_output(&t, "o", DT_F32, 3, dx);
	ValueId a1[2] = {x, vp}, a2[2] = {g, vwq}, a3[2] = {q, vbq}, a5[2] = {h, vwp}, a6[2] = {vbp, p},
	        a7[2] = {pb, vi};
	tu_node(&t, OP_Gather, 13, a1, 2, &g, 1);
	tu_attr_int(&t, "axis", 1);
	tu_node(&t, OP_MatMul, 13, a2, 2, &q, 1);
	tu_node(&t, OP_Add, 14, a3, 2, &qb, 1);
	int64_t one = 1;
	ValueId ax = tu_const(&t, "axis", DT_I64, 0, NULL, &one);
	ValueId a4[2] = {qb, ax};
	tu_node(&t, OP_CumSum, 14, a4, 2, &h, 1);
	tu_node(&t, OP_MatMul, 13, a5, 2, &p, 1);
	tu_node(&t, OP_Add, 14, a6, 2, &pb, 1);
	tu_node(&t, OP_Gather, 13, a7, 2, &o, 1);
	tu_attr_int(&t, "axis", 1);
	t.g->shapes_known = true;
	return t.g;
}

static int live(Graph *g, Op op, int nin)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += !g->nodes[i].dead && g->nodes[i].op == op && (nin < 0 || g->nodes[i].nin == nin);
	return c;
}

/* all_isas: on every vector width the host runs, else on the host's own. */
static void case_sret(int64_t T, int64_t C, int64_t H, unsigned seed, bool all_isas)
{
	int64_t *perm = malloc(sizeof *perm * (size_t)T), *inv = malloc(sizeof *inv * (size_t)T);
	for (int64_t i = 0; i < T; i++)
		perm[i] = i;
	for (int64_t i = T - 1; i > 0; i--) { /* Fisher-Yates on an LCG */
		seed = seed * 1664525u + 1013904223u;
		int64_t j = (int64_t)((seed >> 8) % (unsigned)(i + 1)), s = perm[i];
		perm[i] = perm[j];
		perm[j] = s;
	}
	for (int64_t i = 0; i < T; i++)
		inv[perm[i]] = i;
	float *wq = malloc(sizeof(float) * (size_t)(C * H)), *wp = malloc(sizeof(float) * (size_t)(H * C));
	float *bq = malloc(sizeof(float) * (size_t)H), *bp = malloc(sizeof(float) * (size_t)C);
	float *x = malloc(sizeof(float) * (size_t)(T * C));
	float *y0 = malloc(sizeof(float) * (size_t)(T * C)), *y1 = malloc(sizeof(float) * (size_t)(T * C));
	fill(wq, (size_t)(C * H), seed + 1);
	fill(wp, (size_t)(H * C), seed + 2);
	fill(bq, (size_t)H, seed + 3);
	fill(bp, (size_t)C, seed + 4);
	fill(x, (size_t)(T * C), seed + 5);
	static const char *const unfused[] = {"fuse-gemm", "dce"};
	static const char *const fused[] = {"fuse-gemm", "fuse-gather-gemm", "dce"};
	for (size_t t = 0; t < (all_isas ? sizeof tu_isas / sizeof tu_isas[0] : 1); t++) {
		if (all_isas && !tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = all_isas ? tu_isas[t] : (CgIsa){0};
		Graph *g0 = sret_graph(T, C, H, perm, inv, wq, bq, wp, bp);
		tu_run_passes(g0, unfused, 2);
		assert_int_equal(live(g0, OP_Gather, -1), 2);
		Graph *g1 = sret_graph(T, C, H, perm, inv, wq, bq, wp, bp);
		tu_run_passes(g1, fused, 3);
		assert_int_equal(live(g1, OP_Gather, -1), 0);
		assert_int_equal(live(g1, OP_MatMulEpi, 5), 2); /* both GEMMs with a row index */
		const void *in[1] = {x};
		memset(y0, 0xff, sizeof(float) * (size_t)(T * C));
		memset(y1, 0, sizeof(float) * (size_t)(T * C));
		void *o0[1] = {y0}, *o1[1] = {y1};
		tu_compile_run(g0, in, o0);
		tu_compile_run(g1, in, o1);
		if (memcmp(y0, y1, sizeof(float) * (size_t)(T * C)) != 0)
			fail_msg("T=%lld C=%lld H=%lld %s: fused output differs from the unfused bits", (long long)T,
			         (long long)C, (long long)H, all_isas ? tu_isas[t].name : "host");
	}
	tu_isa_override = (CgIsa){0};
	free(perm), free(inv), free(wq), free(wp), free(bq), free(bp), free(x), free(y0), free(y1);
}

static void test_bitwise(void **state)
{
	(void)state;
	case_sret(64, 64, 96, 1u, true);    /* SReT's stage-1 group: kernel, one row block */
	case_sret(700, 32, 48, 2u, false);  /* several row blocks of the gathered A */
	case_sret(8, 4, 6, 3u, false);      /* too small for the kernel: the loop nest */
}

/* A stem of three 3x3 stride-2 pad-1 Convs + Relu, flattened to tokens:
 * x [1, C0, S, S] -> C1 -> C2 -> C3 channels, y [1, (S/8)^2, C3]. */
static Graph *stem_graph(int64_t C0, int64_t C1, int64_t C2, int64_t C3, int64_t S, float *const *w,
                         float *const *b)
{
	TuGraph t = tu_graph();
	int64_t c[4] = {C0, C1, C2, C3}, s = S;
	int64_t dx[4] = {1, C0, S, S};
	ValueId v = tu_input(&t, "x", DT_F32, 4, dx);
	static const int64_t k3[2] = {3, 3}, s2[2] = {2, 2}, p1[4] = {1, 1, 1, 1};
	for (int i = 0; i < 3; i++) {
		s = (s - 1) / 2 + 1;
		int64_t dw[4] = {c[i + 1], c[i], 3, 3}, db[1] = {c[i + 1]}, dy[4] = {1, c[i + 1], s, s};
		ValueId vw = tu_const(&t, NULL, DT_F32, 4, dw, w[i]), vb = tu_const(&t, NULL, DT_F32, 1, db, b[i]);
		ValueId y = graph_add_value(t.g, NULL, DT_F32, &(Shape){0}), r = graph_add_value(t.g, NULL, DT_F32, &(Shape){0});
		gval(t.g, y)->shape = gval(t.g, r)->shape = shape_make(4, dy);
		ValueId a[3] = {v, vw, vb};
		tu_node(&t, OP_Conv, 11, a, 3, &y, 1);
		tu_attr_ints(&t, "kernel_shape", 2, k3);
		tu_attr_ints(&t, "strides", 2, s2);
		tu_attr_ints(&t, "pads", 4, p1);
		tu_node(&t, OP_Relu, 14, &y, 1, &r, 1);
		v = r;
	}
	int64_t sh[3] = {1, C3, s * s}, dt[3] = {1, s * s, C3}, d1[1] = {3};
	ValueId vs = tu_const(&t, NULL, DT_I64, 1, d1, sh);
	ValueId f = graph_add_value(t.g, NULL, DT_F32, &(Shape){0});
	gval(t.g, f)->shape = shape_make(3, sh);
	ValueId a[2] = {v, vs};
	tu_node(&t, OP_Reshape, 14, a, 2, &f, 1);
	ValueId o = tu_output(&t, "y", DT_F32, 3, dt);
	tu_node(&t, OP_Transpose, 13, &f, 1, &o, 1);
	static const int64_t p021[3] = {0, 2, 1};
	tu_attr_ints(&t, "perm", 3, p021);
	t.g->shapes_known = true;
	return t.g;
}

/* The stem in double: y [(S/8)^2, C3]. */
static void stem_ref(int64_t C0, int64_t C1, int64_t C2, int64_t C3, int64_t S, float *const *w, float *const *b,
                     const float *x, double *y)
{
	int64_t c[4] = {C0, C1, C2, C3}, s = S;
	double *in = malloc(sizeof(double) * (size_t)(C0 * S * S));
	for (int64_t i = 0; i < C0 * S * S; i++)
		in[i] = x[i];
	for (int l = 0; l < 3; l++) {
		int64_t so = (s - 1) / 2 + 1;
		double *out = malloc(sizeof(double) * (size_t)(c[l + 1] * so * so));
		for (int64_t co = 0; co < c[l + 1]; co++)
			for (int64_t oy = 0; oy < so; oy++)
				for (int64_t ox = 0; ox < so; ox++) {
					double acc = b[l][co];
					for (int64_t ci = 0; ci < c[l]; ci++)
						for (int64_t ky = 0; ky < 3; ky++)
							for (int64_t kx = 0; kx < 3; kx++) {
								int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
								if (iy >= 0 && iy < s && ix >= 0 && ix < s)
									acc += (double)w[l][((co * c[l] + ci) * 3 + ky) * 3 + kx] *
									       in[(ci * s + iy) * s + ix];
							}
					out[(co * so + oy) * so + ox] = acc > 0 ? acc : 0;
				}
		free(in);
		in = out;
		s = so;
	}
	for (int64_t p = 0; p < s * s; p++)
		for (int64_t co = 0; co < C3; co++)
			y[p * C3 + co] = in[co * s * s + p];
	free(in);
}

/* sret_t's stem shape, scaled: fuse-patchify makes the last two Convs
 * token GEMMs on channels-last gathers (taps in the padding as zero
 * rows, entry -1), fuse-gather-gemm folds those gathers into the GEMMs'
 * A packing (KGemm.a_row_parts with zero parts).  Folded and unfused
 * gathers give the same bits (the same packed A); both within 1e-4 of a
 * double reference; the folded form bitwise the same on 1, 2, 3 and 5
 * threads; on every vector width the host runs. */
static void case_stem(int64_t C0, int64_t C1, int64_t C2, int64_t C3, int64_t S, unsigned seed)
{
	int64_t c[4] = {C0, C1, C2, C3};
	float *w[3], *b[3];
	for (int i = 0; i < 3; i++) {
		w[i] = malloc(sizeof(float) * (size_t)(c[i + 1] * c[i] * 9));
		b[i] = malloc(sizeof(float) * (size_t)c[i + 1]);
		fill(w[i], (size_t)(c[i + 1] * c[i] * 9), seed + 1 + (unsigned)i);
		for (int64_t k = 0; k < c[i + 1] * c[i] * 9; k++)
			w[i][k] *= 0.5f / (float)c[i];
		fill(b[i], (size_t)c[i + 1], seed + 7 + (unsigned)i);
	}
	int64_t so = S, nx = C0 * S * S;
	for (int i = 0; i < 3; i++)
		so = (so - 1) / 2 + 1;
	int64_t ny = so * so * C3;
	float *x = malloc(sizeof(float) * (size_t)nx), *y0 = malloc(sizeof(float) * (size_t)ny),
	      *y1 = malloc(sizeof(float) * (size_t)ny);
	double *ref = malloc(sizeof(double) * (size_t)ny);
	fill(x, (size_t)nx, seed);
	stem_ref(C0, C1, C2, C3, S, w, b, x, ref);
	static const char *const unfused[] = {"fuse-patchify", "dce"};
	static const char *const fused[] = {"fuse-patchify", "fuse-gather-gemm", "dce"};
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		Graph *g0 = stem_graph(C0, C1, C2, C3, S, w, b);
		tu_run_passes(g0, unfused, 2);
		assert_int_equal(live(g0, OP_Conv, -1), 1); /* the first reads the image: stays a Conv */
		assert_int_equal(live(g0, OP_GatherRows, -1), 2);
		const void *in[1] = {x};
		memset(y0, 0xff, sizeof(float) * (size_t)ny);
		void *o0[1] = {y0}, *o1[1] = {y1};
		tu_compile_run(g0, in, o0);
		for (int64_t i = 0; i < ny; i++)
			if (fabs(y0[i] - ref[i]) > 1e-4 * (1 + fabs(ref[i])))
				fail_msg("%s: y[%lld] = %g, reference %g", tu_isas[t].name, (long long)i, y0[i], ref[i]);
		for (int k = 0; k < TU_NTHREADS; k++) {
			tu_threads(tu_thread_counts[k]);
			Graph *g1 = stem_graph(C0, C1, C2, C3, S, w, b);
			tu_run_passes(g1, fused, 3);
			assert_int_equal(live(g1, OP_GatherRows, -1), 0);
			assert_int_equal(live(g1, OP_MatMulEpi, 5), 2);
			memset(y1, 0, sizeof(float) * (size_t)ny);
			tu_compile_run(g1, in, o1);
			if (memcmp(y0, y1, sizeof(float) * (size_t)ny) != 0)
				fail_msg("C %lld/%lld/%lld S %lld %s, %d threads: folded gathers differ from the gathered copies",
				         (long long)C1, (long long)C2, (long long)C3, (long long)S, tu_isas[t].name,
				         tu_thread_counts[k]);
		}
		tu_threads(0);
	}
	tu_isa_override = (CgIsa){0};
	for (int i = 0; i < 3; i++)
		free(w[i]), free(b[i]);
	free(x), free(y0), free(y1), free(ref);
}

static void test_stem(void **state)
{
	(void)state;
	case_stem(3, 8, 16, 16, 40, 11u);  /* K 72 and 144 in parts of 8 and 16: odd 5x5 and 3x3 grids */
	case_stem(3, 32, 64, 64, 64, 12u); /* sret_t's channels: parts of 32 and 64, K 288 and 576 */
}

/* The shape rule of MatMulEpi with rows, on hand-written nodes: a sound
 * one gives the logical A's rows of N, a bad index or a_shape a
 * diagnostic naming the rule. */
static void test_shape_rule(void **state)
{
	(void)state;
	static const struct {
		const char *rows, *a_shape, *msg, *want;
		const char *pro; /* inputs after rows: the row prologue's */
	} cases[] = {
		{"{1, 0, 3, 2}", "[2,2,2]", NULL, "[2,2,3]"},
		{"{1, 0, 3, 4}", "[2,2,2]", "input 4: entry 3 is 4, outside the 4 rows of A", NULL},
		{"{1, 0, 3, 2}", "[2,2,3]", "attribute a_shape: [2,2,3] does not end in B's 2 rows", NULL},
		{"{1, 0, 3, 2}", "[3,2]", "input 4: 4 rows of 2 do not make a_shape [3,2]", NULL},
		/* row_parts: a row of the logical A is 2 rows of 1 element */
		{"{7, 6, 5, 4, 3, 2, 1, 0}", "[4,2], row_parts=2", NULL, "[4,3]"},
		{"{7, 6, 5, 4, 3, 2, 1, 8}", "[4,2], row_parts=2", "input 4: entry 7 is 8, outside the 8 rows of A", NULL},
		/* -1: a part of zeros, with row_parts only; no other negative entry */
		{"{7, -1, 5, 4, 3, 2, 1, -1}", "[4,2], row_parts=2", NULL, "[4,3]"},
		{"{7, -2, 5, 4, 3, 2, 1, 0}", "[4,2], row_parts=2", "input 4: entry 1 is -2, outside the 8 rows of A", NULL},
		{"{1, 0, 3, -1}", "[2,2,2]", "input 4: entry 3 is -1, outside the 4 rows of A", NULL},
		/* nor with a row prologue (a_norm_scale): its rows are normalised A */
		{"{7, 6, 5, 4, 3, 2, 1, 0}", "[4,2], row_parts=2", NULL, "[4,3]", ", _, _, %s"},
		{"{7, -1, 5, 4, 3, 2, 1, 0}", "[4,2], row_parts=2",
		 "input 4: entry 1 is -1, outside the 8 rows of A (-1, a part of zeros, is not allowed with a_norm_scale)",
		 NULL, ", _, _, %s"},
		{"{7, 6, 5, 4, 3, 2, 1, 0}", "[4,2], row_parts=3",
		 "attribute row_parts: 3 does not divide K = 2 and the 8 rows", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[1024];
		int nr = 1;
		for (const char *c = cases[i].rows; *c; c++)
			nr += *c == ',';
		snprintf(text, sizeof text,
		         "graph \"t\" opset ai.onnx=17, onnxcc=1\n"
		         "input  %%x : f32[1,4,2]\n"
		         "const  %%w : f32[2,3] = {1, 2, 3, 4, 5, 6}\n"
		         "const  %%r : i32[%d] = %s\n"
		         "const  %%s : f32[2] = {1, 1}\n"
		         "%%y : f32[?] = onnxcc::MatMulEpi(%%x, %%w, _, _, %%r%s) {a_shape=%s}  # mm\n"
		         "output %%y\n",
		         nr, cases[i].rows, cases[i].pro ? cases[i].pro : "", cases[i].a_shape);
		Diag d;
		diag_init(&d, "rows.ir", false);
		Graph *g = ir_parse(text, "rows.ir", 0, &d);
		assert_non_null(g);
		bool ok = pass_infer_node(g, 0, &d);
		if (!cases[i].msg) {
			assert_true(ok);
			char b[64];
			assert_string_equal(shape_str(&gval(g, graph_find_value(g, "y"))->shape, b, sizeof b), cases[i].want);
		} else {
			assert_false(ok);
			if (!diag_contains(&d, cases[i].msg))
				fail_msg("case %zu: want '%s', got '%s'", i, cases[i].msg, d.buf ? d.buf : "");
		}
		graph_free(g);
		diag_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_rule),
		cmocka_unit_test(test_bitwise),
		cmocka_unit_test(test_stem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

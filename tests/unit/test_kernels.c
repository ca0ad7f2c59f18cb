/* tests/unit/test_kernels.c — the kernel layer (codegen/kernels/) against a
 * double-precision reference: the f32 GEMM through MatMul and Gemm nodes,
 * for every tile size this host can run (4, 8 and, with AVX-512, 16 lanes),
 * with edge tiles in M and N, several K and M cache blocks, constant
 * (layout panels: packed at compile time; row-major: read in place) and
 * run-time B, contiguous and strided B, A blocks copied (row strides of
 * 2 and 4 KiB), run-time B packed per panel (row stride 2 KiB) by the
 * first tile of each panel (KC up to 1024, K not a multiple of it),
 * remainder rows split with the last full tile (bitwise the rows of a
 * product without remainder), transposed A, and the Gemm epilogue (alpha, bias row, full / column /
 * scalar C with beta; full C on one short K block over several tiles),
 * the fused bias + GELU epilogue of short-K products (MatMulEpi);
 * threads: GEMM tasks and row-parallel nodes
 * (LayerNorm, Softmax, elementwise) give bitwise the serial result. */
#include "testutil.h"
#include "passes/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 500.0f;
	}
}

/* max |y - ref| relative to max |ref| */
static double rel_err(const float *y, const double *ref, size_t n)
{
	double e = 0, m = 1e-30;
	for (size_t i = 0; i < n; i++) {
		e = fmax(e, fabs(y[i] - ref[i]));
		m = fmax(m, fabs(ref[i]));
	}
	return e / m;
}

/* MatMul [M,K] x [K,N], B an input (bconst 0), a constant in the layout
 * panels (1: packed at compile time) or a row-major constant (2: read in
 * place, as a run-time B). */
static void matmul_case(int64_t M, int64_t K, int64_t N, int bconst)
{
	float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
	float *y = malloc(sizeof(float) * (size_t)(M * N));
	double *ref = malloc(sizeof(double) * (size_t)(M * N));
	fill(a, (size_t)(M * K), 1);
	fill(b, (size_t)(K * N), 2);
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++) {
			double s = 0;
			for (int64_t k = 0; k < K; k++)
				s += (double)a[i * K + k] * b[k * N + j];
			ref[i * N + j] = s;
		}
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		TuGraph g = tu_graph();
		int64_t da[2] = {M, K}, db[2] = {K, N}, dy[2] = {M, N};
		ValueId in[2];
		in[0] = tu_input(&g, "a", DT_F32, 2, da);
		in[1] = bconst ? tu_const(&g, "b", DT_F32, 2, db, b) : tu_input(&g, "b", DT_F32, 2, db);
		if (bconst == 1)
			gval(g.g, in[1])->layout = LAYOUT_PANELS;
		ValueId out = tu_output(&g, "y", DT_F32, 2, dy);
		tu_node(&g, OP_MatMul, 13, in, 2, &out, 1);
		memset(y, 0, sizeof(float) * (size_t)(M * N));
		const void *ins[2] = {a, b};
		void *outs[1] = {y};
		tu_run(&g, ins, outs);
		double e = rel_err(y, ref, (size_t)(M * N));
		if (e > 1e-5)
			fprintf(stderr, "MatMul %lldx%lldx%lld %s, %s: rel err %g\n", (long long)M, (long long)K,
			        (long long)N, bconst == 1 ? "const B (panels)" : bconst ? "const B (row-major)" : "input B",
			        tu_isas[t].name, e);
		assert_true(e <= 1e-5);
	}
	tu_isa_override = (CgIsa){0};
	free(a), free(b), free(y), free(ref);
}

static void test_matmul_shapes(void **state)
{
	(void)state;
	matmul_case(16, 16, 32, true);      /* exact tiles */
	matmul_case(13, 17, 33, true);      /* M and N edges, one vector past a panel */
	matmul_case(25, 300, 70, true);     /* one K block (packed B: KC <= 1024) */
	matmul_case(25, 300, 70, false);    /* two K blocks (run-time B: 300 = 2 x 150) */
	matmul_case(25, 300, 70, 2);
	matmul_case(25, 1100, 70, true);    /* packed B, two K blocks (1100 = 2 x 550) */
	matmul_case(300, 40, 100, false);   /* several row tiles, N edge in the last vector */
	matmul_case(5, 520, 17, false);     /* fewer rows than a tile, three K blocks */
	/* A's row stride 2 KiB (copied A block), two K blocks of a run-time
	 * B (one of packed B), more column panels than one L2 chunk of C
	 * (chunks of 12 panels at 252 rows, KC 256) */
	matmul_case(300, 512, 420, true);
	matmul_case(300, 512, 420, false);
	matmul_case(300, 512, 420, 2);
	/* A's row stride 4 KiB: the micro-kernels of the first column panel
	 * copy the next tile's rows (remainder rows in the row blocks: 271 =
	 * 252 + 19 with KC 256, 4 x 60 + 31 with packed B's KC 1024); B an
	 * input with a 2 KiB row stride: packed per panel */
	matmul_case(271, 1024, 512, true);
	matmul_case(271, 1024, 512, false);
	/* packed B, KC 1024: two K blocks, A copied (8 KiB rows), chunks of
	 * 51 panels at 60 rows (54 panels: 51 + 3), a short last row block */
	matmul_case(70, 2048, 1700, true);
	/* one full tile, whose micro-kernel copies the 5 (AVX2: 5 of a 6-row
	 * tile's worth) remaining rows */
	matmul_case(17, 512, 100, true);
	matmul_case(30, 512, 100, false);
	/* run-time B with 2 KiB rows, each panel copied by its first tile
	 * (copy_b), KC 1024: two K blocks of 768 with A copied (6 KiB rows),
	 * row blocks of 168 and a last one of 5 rows (its remainder tile
	 * copies the panel); three K blocks of 700 with A in place, blocks of
	 * 180 rows and a last one of 15 (a full tile and 3 rows) */
	matmul_case(173, 1536, 512, false);
	matmul_case(195, 2100, 512, false);
	/* remainders of fewer than 4 accumulators, split with the last full
	 * tile (row_tiles): 1 row of 2 vectors (49, 13, 37 rows; 80 and 40
	 * columns also end in a panel of one vector), 3 rows of one (27 x 16
	 * on AVX-512) */
	matmul_case(49, 64, 80, true);
	matmul_case(13, 40, 40, false);
	matmul_case(27, 100, 16, true);
	matmul_case(37, 230, 64, 2);
	/* the same with A copied ahead (4 and 2 KiB rows): the first split
	 * tile copies the remainder rows */
	matmul_case(49, 1024, 64, true);
	matmul_case(13, 512, 40, false);
}

/* Batched MatMul with B transposed through strides: [H,M,D] x [H,D,N] where
 * B is a Transpose of [H,N,D] — the attention Q·Kᵀ form. */
static void test_batched_strided_b(void **state)
{
	(void)state;
	const int64_t H = 3, M = 19, D = 24, N = 37;
	float *q = malloc(sizeof(float) * H * M * D), *kt = malloc(sizeof(float) * H * N * D);
	float *y = malloc(sizeof(float) * H * M * N);
	double *ref = malloc(sizeof(double) * H * M * N);
	fill(q, H * M * D, 3);
	fill(kt, H * N * D, 4);
	for (int64_t h = 0; h < H; h++)
		for (int64_t i = 0; i < M; i++)
			for (int64_t j = 0; j < N; j++) {
				double s = 0;
				for (int64_t k = 0; k < D; k++)
					s += (double)q[(h * M + i) * D + k] * kt[(h * N + j) * D + k];
				ref[(h * M + i) * N + j] = s;
			}
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		TuGraph g = tu_graph();
		int64_t dq[3] = {H, M, D}, dk[3] = {H, N, D}, dkt[3] = {H, D, N}, dy[3] = {H, M, N};
		ValueId vq = tu_input(&g, "q", DT_F32, 3, dq);
		ValueId vk = tu_input(&g, "k", DT_F32, 3, dk);
		Shape st = shape_make(3, dkt);
		ValueId vt = graph_add_value(g.g, "kt", DT_F32, &st);
		ValueId out = tu_output(&g, "y", DT_F32, 3, dy);
		tu_node(&g, OP_Transpose, 13, &vk, 1, &vt, 1);
		int64_t perm[3] = {0, 2, 1};
		tu_attr_ints(&g, "perm", 3, perm);
		ValueId in[2] = {vq, vt};
		tu_node(&g, OP_MatMul, 13, in, 2, &out, 1);
		const void *ins[2] = {q, kt};
		void *outs[1] = {y};
		tu_run(&g, ins, outs);
		assert_true(rel_err(y, ref, H * M * N) <= 1e-5);
	}
	tu_isa_override = (CgIsa){0};
	free(q), free(kt), free(y), free(ref);
}

/* Gemm with transA/transB and each form of C. */
static void gemm_case(int64_t M, int64_t K, int64_t N, int ta, int tb, int crank, const int64_t *cdims,
                      float alpha, float beta, bool bconst)
{
	size_t na = (size_t)(M * K), nb = (size_t)(K * N), ny = (size_t)(M * N);
	float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb), *c = malloc(sizeof(float) * ny);
	float *y = malloc(sizeof(float) * ny);
	double *ref = malloc(sizeof(double) * ny);
	fill(a, na, 5);
	fill(b, nb, 6);
	fill(c, ny, 7);
	int64_t cs0 = 0, cs1 = 0; /* C strides over [M,N] */
	if (crank == 2) {
		cs0 = cdims[0] == 1 ? 0 : cdims[1];
		cs1 = cdims[1] == 1 ? 0 : 1;
	} else if (crank == 1) {
		cs1 = cdims[0] == 1 ? 0 : 1;
	}
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++) {
			double s = 0;
			for (int64_t k = 0; k < K; k++)
				s += (double)a[ta ? k * M + i : i * K + k] * b[tb ? j * K + k : k * N + j];
			s *= alpha;
			if (crank >= 0)
				s += (double)beta * c[i * cs0 + j * cs1];
			ref[i * N + j] = s;
		}
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		TuGraph g = tu_graph();
		int64_t da[2] = {ta ? K : M, ta ? M : K}, db[2] = {tb ? N : K, tb ? K : N}, dy[2] = {M, N};
		ValueId in[3];
		in[0] = tu_input(&g, "a", DT_F32, 2, da);
		in[1] = bconst ? tu_const(&g, "b", DT_F32, 2, db, b) : tu_input(&g, "b", DT_F32, 2, db);
		if (bconst)
			gval(g.g, in[1])->layout = LAYOUT_PANELS;
		int nin = 2;
		if (crank >= 0)
			in[nin++] = tu_input(&g, "c", DT_F32, crank, cdims);
		ValueId out = tu_output(&g, "y", DT_F32, 2, dy);
		tu_node(&g, OP_Gemm, 13, in, nin, &out, 1);
		tu_attr_int(&g, "transA", ta);
		tu_attr_int(&g, "transB", tb);
		tu_attr_float(&g, "alpha", alpha);
		tu_attr_float(&g, "beta", beta);
		const void *ins[3] = {a, b, c};
		if (bconst && crank >= 0)
			ins[1] = c; /* inputs in graph order: a, c */
		void *outs[1] = {y};
		tu_run(&g, ins, outs);
		double e = rel_err(y, ref, ny);
		if (e > 1e-5)
			fprintf(stderr, "Gemm %lldx%lldx%lld ta=%d tb=%d crank=%d %s: rel err %g\n", (long long)M,
			        (long long)K, (long long)N, ta, tb, crank, tu_isas[t].name, e);
		assert_true(e <= 1e-5);
	}
	tu_isa_override = (CgIsa){0};
	free(a), free(b), free(c), free(y), free(ref);
}

static void test_gemm_epilogues(void **state)
{
	(void)state;
	int64_t row[1] = {45}, full[2] = {21, 45}, col[2] = {21, 1}, one[1] = {1};
	gemm_case(21, 30, 45, 0, 1, 1, row, 1.0f, 1.0f, true);      /* Linear: bias row, W^T packed */
	gemm_case(21, 30, 45, 1, 0, 2, full, 0.5f, -2.0f, false);   /* transA, full C, alpha, beta */
	gemm_case(21, 30, 45, 1, 1, 2, col, 1.0f, 0.25f, false);    /* column C */
	gemm_case(21, 30, 45, 0, 0, 1, one, 2.0f, 3.0f, true);      /* scalar C */
	gemm_case(21, 300, 45, 0, 1, 1, row, 1.5f, 0.5f, true);     /* bias applied once over 2 K blocks */
	gemm_case(21, 30, 45, 0, 0, -1, NULL, 1.0f, 1.0f, true);    /* no C */
	/* full C (the residual epilogue) on one short K block with three
	 * full tiles and an edge of 4 rows: the full tiles prefetch the next
	 * tile's C and residual lines during the k loop (pfw_next), the last
	 * one past the tensors' ends (hints); packed and run-time B */
	int64_t full40[2] = {40, 45};
	gemm_case(40, 64, 45, 0, 1, 2, full40, 1.0f, 1.0f, true);
	gemm_case(40, 64, 45, 0, 0, 2, full40, 0.5f, -2.0f, false);
	/* a run-time B^T (columns contiguous along k), packed by W x W
	 * register transposes: K blocks of 256 and 44 rows (a masked k tail),
	 * N = 77 (two full panels and an edge of 13), K < W */
	gemm_case(21, 300, 77, 0, 1, -1, NULL, 1.0f, 1.0f, false);
	gemm_case(13, 5, 40, 0, 1, -1, NULL, 1.0f, 1.0f, false);
}

/* MatMul by a constant W + bias (+ Gelu), fused by fuse-gemm into one
 * MatMulEpi (the MLP's fc1): y = [M,K] x [K,N] + bias, then GELU in the
 * micro-kernel's epilogue (act="gelu") when gelu. */
static void run_fc1(float *y, const float *x, const float *w, const float *bias, int64_t M, int64_t K, int64_t N,
                    bool gelu)
{
	TuGraph t = tu_graph();
	int64_t dx[2] = {M, K}, dw[2] = {K, N}, db[1] = {N}, dy[2] = {M, N};
	ValueId vx = tu_input(&t, "x", DT_F32, 2, dx);
	ValueId vw = tu_const(&t, "w", DT_F32, 2, dw, w);
	ValueId vb = tu_const(&t, "b", DT_F32, 1, db, bias);
	Shape sy = shape_make(2, dy);
	ValueId mm = graph_add_value(t.g, "mm", DT_F32, &sy);
	ValueId in2[2] = {vx, vw};
	tu_node(&t, OP_MatMul, 13, in2, 2, &mm, 1);
	ValueId z = gelu ? graph_add_value(t.g, "z", DT_F32, &sy) : tu_output(&t, "y", DT_F32, 2, dy);
	ValueId add_in[2] = {mm, vb};
	tu_node(&t, OP_Add, 14, add_in, 2, &z, 1);
	if (gelu) {
		ValueId out = tu_output(&t, "y", DT_F32, 2, dy);
		tu_node(&t, OP_Gelu, 20, &z, 1, &out, 1);
	}
	Diag d;
	diag_init(&d, "test.onnx", false);
	t.g->shapes_known = true;
	assert_true(pass_fuse_gemm(t.g, &d));
	assert_true(pass_dce(t.g, &d));
	int epi = 0, other = 0;
	for (int i = 0; i < t.g->nnodes; i++)
		if (!t.g->nodes[i].dead && t.g->nodes[i].op == OP_MatMulEpi)
			epi++;
		else if (!t.g->nodes[i].dead)
			other++;
	assert_int_equal(epi, 1);
	assert_int_equal(other, 0);
	diag_free(&d);
	const void *ins[1] = {x};
	void *outs[1] = {y};
	tu_run(&t, ins, outs);
}

/* The error of y against GELU(z) in long double: in ulp of the f32 result
 * where z >= -2, else absolutely in units of |z| 2^-24 (the bounds
 * test_mathfn's test_gelu asserts for mathfn's GELU). */
static double gelu_err(float y, float z)
{
	long double r = 0.5L * z * erfcl(-(long double)z / sqrtl(2.0L));
	if (z < -2.0f)
		return (double)(fabsl((long double)y - r) / (fabsl((long double)z) * 0x1p-24L));
	int e;
	frexpl(r, &e);
	long double ulp = ldexpl(1.0L, (e - 24 < -149 ? -149 : e - 24));
	return (double)(fabsl((long double)y - r) / ulp);
}

/* The bias + GELU epilogue of short-K products (the MLP's fc1; on
 * AVX-512 mathfn's 16-piece GELU with vfixupimmps, elsewhere the 8-piece
 * form): for every tile size of the host, M = 37 (three 12-row tiles and
 * an edge), N = 77 (two 32-column panels and a masked edge of 13), K = 64
 * (one K block) and 300 (two: the epilogue on the last only), the
 * pre-activations z spread over [-20, 20] (every piece of the polynomial,
 * the cut at |z| = 5.9 and beyond).  Each output is GELU of the same
 * product + bias without the GELU (MatMulEpi with the bias only: the same
 * accumulation, so the same z) within test_gelu's bounds; 1, 2, 3 and 5
 * threads give bitwise the serial outputs. */
static void test_gemm_gelu_epilogue(void **state)
{
	(void)state;
	const int64_t M = 37, N = 77, Ks[2] = {64, 300};
	for (int ki = 0; ki < 2; ki++) {
		int64_t K = Ks[ki];
		float *x = malloc(sizeof(float) * (size_t)(M * K)), *w = malloc(sizeof(float) * (size_t)(K * N));
		float bias[77], *z = malloc(sizeof(float) * (size_t)(M * N)), *y0 = malloc(sizeof(float) * (size_t)(M * N));
		float *y = malloc(sizeof(float) * (size_t)(M * N));
		fill(x, (size_t)(M * K), 31);
		fill(w, (size_t)(K * N), 32);
		fill(bias, (size_t)N, 33);
		float sc = 2.0f / sqrtf((float)K);   /* |z| up to ~20, most within 6 */
		for (int64_t i = 0; i < K * N; i++)
			w[i] *= sc;
		for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
			if (!tu_host_has(&tu_isas[t]))
				continue;
			tu_isa_override = tu_isas[t];
			tu_parallel = NULL;
			run_fc1(z, x, w, bias, M, K, N, false);
			run_fc1(y0, x, w, bias, M, K, N, true);
			double worst = 0, worst_abs = 0;
			int below = 0, out = 0;
			for (int64_t i = 0; i < M * N; i++) {
				double e = gelu_err(y0[i], z[i]);
				if (z[i] < -2.0f)
					worst_abs = fmax(worst_abs, e), below++;
				else
					worst = fmax(worst, e);
				out += fabsf(z[i]) >= 5.9f;
			}
			printf("  fc1 + GELU %lldx%lldx%lld, %s: %.3f ulp (z >= -2), %.3f x |z| 2^-24 (%d below -2), %d with "
			       "|z| >= 5.9\n", (long long)M, (long long)K, (long long)N, tu_isas[t].name, worst, worst_abs,
			       below, out);
			assert_true(below > 100 && out > 20);
			assert_true(worst <= 2.5 && worst_abs <= 1.0);
			for (int c = 0; c < TU_NTHREADS; c++) {
				tu_threads(tu_thread_counts[c]);
				memset(y, 0xff, sizeof(float) * (size_t)(M * N));
				run_fc1(y, x, w, bias, M, K, N, true);
				assert_memory_equal(y, y0, sizeof(float) * (size_t)(M * N));
			}
			tu_threads(0);
		}
		tu_isa_override = (CgIsa){0};
		free(x), free(w), free(z), free(y0), free(y);
	}
}

/* The same products on 1, 2, 3 and 5 threads (the runtime's pool) give
 * bitwise the outputs of the serial run: batched attention-like products
 * (tasks over the batch) and one large product (tasks over row blocks and
 * column groups). */
static void run_batched(float *y, const float *a, const float *b, int64_t H, int64_t M, int64_t K, int64_t N)
{
	TuGraph g = tu_graph();
	int64_t da[3] = {H, M, K}, db[3] = {H, K, N}, dy[3] = {H, M, N};
	ValueId in[2] = {tu_input(&g, "a", DT_F32, 3, da), tu_input(&g, "b", DT_F32, 3, db)};
	ValueId out = tu_output(&g, "y", DT_F32, 3, dy);
	tu_node(&g, OP_MatMul, 13, in, 2, &out, 1);
	const void *ins[2] = {a, b};
	void *outs[1] = {y};
	tu_run(&g, ins, outs);
}

/* [M,K] x [K,N] with B a constant packed into panels at compile time
 * (KC 1024 rather than a run-time B's 256, or 1024 with other row blocks
 * for a run-time B copied by the first tile of each panel: the same
 * fmuladd chain per element, so the same bits). */
static void run_packed(float *y, const float *a, const float *b, int64_t M, int64_t K, int64_t N)
{
	TuGraph g = tu_graph();
	int64_t da[2] = {M, K}, db[2] = {K, N}, dy[2] = {M, N};
	ValueId in[2] = {tu_input(&g, "a", DT_F32, 2, da), tu_const(&g, "b", DT_F32, 2, db, b)};
	gval(g.g, in[1])->layout = LAYOUT_PANELS;
	ValueId out = tu_output(&g, "y", DT_F32, 2, dy);
	tu_node(&g, OP_MatMul, 13, in, 2, &out, 1);
	const void *ins[1] = {a};
	void *outs[1] = {y};
	tu_run(&g, ins, outs);
}

static void test_threads_bitwise(void **state)
{
	(void)state;
	const int64_t shapes[7][4] = {{6, 37, 20, 41}, {1, 300, 270, 200}, {1, 300, 512, 420}, {1, 271, 1024, 512},
	                              {1, 70, 2048, 1700}, {1, 173, 1536, 512}, {1, 195, 2100, 512}};
	for (int s = 0; s < 7; s++) {
		int64_t H = shapes[s][0], M = shapes[s][1], K = shapes[s][2], N = shapes[s][3];
		size_t na = (size_t)(H * M * K), nb = (size_t)(H * K * N), ny = (size_t)(H * M * N);
		float *a = malloc(na * 4), *b = malloc(nb * 4), *y0 = malloc(ny * 4), *y = malloc(ny * 4);
		fill(a, na, 11);
		fill(b, nb, 12);
		tu_parallel = NULL;
		run_batched(y0, a, b, H, M, K, N);
		for (int c = 0; c < TU_NTHREADS; c++) {
			tu_threads(tu_thread_counts[c]);
			memset(y, 0xff, ny * 4);
			run_batched(y, a, b, H, M, K, N);
			assert_memory_equal(y, y0, ny * 4);
			if (H == 1) { /* packed B: the input B's bits */
				memset(y, 0xff, ny * 4);
				run_packed(y, a, b, M, K, N);
				assert_memory_equal(y, y0, ny * 4);
			}
		}
		tu_threads(0);
		free(a), free(b), free(y0), free(y);
	}
}

/* A remainder of fewer than 4 accumulators (1 row of 2 vectors, 1-3 rows
 * of one) is computed with the last full tile as two tiles of about
 * (MR + rem) / 2 rows (row_tiles): 49 rows as 12 12 12 7 6 with 12-row
 * tiles, 4 x 6 + 7 + 6 with 6.  The rows of such a product are bitwise the
 * same rows of a product of 72 rows (a multiple of every MR: full tiles
 * only), for packed and run-time B, A in place or copied ahead (4 and 2
 * KiB rows), on every ISA and thread count; the
 * values themselves are checked against a double reference by
 * test_matmul_shapes (the same shapes). */
static void test_remainder_split_bits(void **state)
{
	(void)state;
	const int64_t shapes[6][3] = {{49, 64, 80}, {13, 40, 40}, {27, 100, 16}, {37, 230, 64}, {49, 1024, 64},
	                              {13, 512, 40}};
	const int64_t MB = 72;
	for (int s = 0; s < 6; s++) {
		int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
		float *a = malloc(sizeof(float) * (size_t)(MB * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
		float *yb = malloc(sizeof(float) * (size_t)(MB * N)), *y = malloc(sizeof(float) * (size_t)(M * N));
		fill(a, (size_t)(MB * K), 41);
		fill(b, (size_t)(K * N), 42);
		for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
			if (!tu_host_has(&tu_isas[t]))
				continue;
			tu_isa_override = tu_isas[t];
			for (int packed = 0; packed < 2; packed++) {
				tu_parallel = NULL;
				if (packed)
					run_packed(yb, a, b, MB, K, N);
				else
					run_batched(yb, a, b, 1, MB, K, N);
				for (int c = 0; c < TU_NTHREADS; c++) {
					tu_threads(tu_thread_counts[c]);
					memset(y, 0xff, sizeof(float) * (size_t)(M * N));
					if (packed)
						run_packed(y, a, b, M, K, N);
					else
						run_batched(y, a, b, 1, M, K, N);
					assert_memory_equal(y, yb, sizeof(float) * (size_t)(M * N));
				}
				tu_threads(0);
			}
		}
		tu_isa_override = (CgIsa){0};
		free(a), free(b), free(yb), free(y);
	}
}

/* Row-parallel nodes (kern_rows): LayerNormalization, Softmax, a
 * broadcasting Add (rows of the outer dim), Gelu and a Mul by a scalar over
 * one flat dim (blocks, the last one ending in a masked vector), each large enough to
 * be split into tasks.  The module must hold their task functions; every
 * thread count gives bitwise the serial outputs, which match a double
 * reference. */
#define RW_R 97
#define RW_C 771          /* not a multiple of any vector width */
#define RW_N (RW_R * RW_C)

static int rows_tasks_seen;

static void count_rows_tasks(Cg *cg)
{
	for (LLVMValueRef f = LLVMGetFirstFunction(cg->mod); f; f = LLVMGetNextFunction(f))
		if (strstr(LLVMGetValueName(f), ".rows_task"))
			rows_tasks_seen++;
}

static void run_rows(float *const y[5], const float *x, const float *scale, const float *bias)
{
	TuGraph g = tu_graph();
	int64_t dx[2] = {RW_R, RW_C}, dc[1] = {RW_C};
	ValueId vx = tu_input(&g, "x", DT_F32, 2, dx);
	ValueId vs = tu_const(&g, "scale", DT_F32, 1, dc, scale);
	ValueId vb = tu_const(&g, "bias", DT_F32, 1, dc, bias);
	ValueId out[5];
	const char *names[5] = {"ln", "sm", "add", "gelu", "mul"};
	for (int i = 0; i < 5; i++)
		out[i] = tu_output(&g, names[i], DT_F32, 2, dx);
	ValueId ln_in[3] = {vx, vs, vb};
	tu_node(&g, OP_LayerNormalization, 17, ln_in, 3, &out[0], 1);
	tu_node(&g, OP_Softmax, 13, &vx, 1, &out[1], 1);
	ValueId add_in[2] = {vx, vb};
	tu_node(&g, OP_Add, 14, add_in, 2, &out[2], 1);
	tu_node(&g, OP_Gelu, 20, &vx, 1, &out[3], 1);
	float two = 2.5f;
	ValueId vk = tu_const(&g, "k", DT_F32, 0, NULL, &two);
	ValueId mul_in[2] = {vx, vk};
	tu_node(&g, OP_Mul, 14, mul_in, 2, &out[4], 1);
	const void *ins[1] = {x};
	void *outs[5] = {y[0], y[1], y[2], y[3], y[4]};
	tu_run(&g, ins, outs);
}

static void test_rows_threads_bitwise(void **state)
{
	(void)state;
	size_t nb = RW_N * sizeof(float);
	float *x = malloc(nb), *scale = malloc(RW_C * 4), *bias = malloc(RW_C * 4);
	float *y0[5], *y[5];
	for (int i = 0; i < 5; i++)
		y0[i] = malloc(nb), y[i] = malloc(nb);
	fill(x, RW_N, 21);
	fill(scale, RW_C, 22);
	fill(bias, RW_C, 23);

	tu_parallel = NULL;
	rows_tasks_seen = 0;
	tu_module_hook = count_rows_tasks;
	run_rows(y0, x, scale, bias);
	tu_module_hook = NULL;
	assert_int_equal(rows_tasks_seen, 5);

	/* the serial run against a double reference */
	double *ref = malloc(RW_N * sizeof(double));
	for (int k = 0; k < 5; k++) {
		for (int r = 0; r < RW_R; r++) {
			const float *xr = x + r * RW_C;
			double mean = 0, var = 0, mx = -INFINITY, sum = 0;
			for (int c = 0; c < RW_C; c++)
				mean += xr[c], mx = fmax(mx, xr[c]);
			mean /= RW_C;
			for (int c = 0; c < RW_C; c++)
				var += (xr[c] - mean) * (xr[c] - mean), sum += exp(xr[c] - mx);
			var /= RW_C;
			for (int c = 0; c < RW_C; c++) {
				double v = xr[c], o;
				switch (k) {
				case 0: o = (v - mean) / sqrt(var + 1e-5) * scale[c] + bias[c]; break;
				case 1: o = exp(v - mx) / sum; break;
				case 2: o = v + bias[c]; break;
				case 3: o = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
				default: o = v * 2.5; break;
				}
				ref[r * RW_C + c] = o;
			}
		}
		double e = rel_err(y0[k], ref, RW_N);
		if (e > 1e-5)
			fprintf(stderr, "rows node %d: rel err %g\n", k, e);
		assert_true(e <= 1e-5);
	}
	free(ref);

	const int counts[3] = {1, 2, 3};
	for (int c = 0; c < 3; c++) {
		tu_threads(counts[c]);
		for (int i = 0; i < 5; i++)
			memset(y[i], 0xff, nb);
		run_rows(y, x, scale, bias);
		tu_threads(0);
		for (int i = 0; i < 5; i++)
			assert_memory_equal(y[i], y0[i], nb);
	}
	for (int i = 0; i < 5; i++)
		free(y0[i]), free(y[i]);
	free(x), free(scale), free(bias);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matmul_shapes),
		cmocka_unit_test(test_batched_strided_b),
		cmocka_unit_test(test_gemm_epilogues),
		cmocka_unit_test(test_gemm_gelu_epilogue),
		cmocka_unit_test(test_threads_bitwise),
		cmocka_unit_test(test_remainder_split_bits),
		cmocka_unit_test(test_rows_threads_bitwise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

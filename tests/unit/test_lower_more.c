/* tests/unit/test_lower_more.c — lowerings of the loss, quantization,
 * resize, window, ReverseSequence, GridSample, Det, ConvInteger and
 * MaxUnpool ops (codegen/lower_loss.c, lower_quant.c, lower_resize.c,
 * lower_signal.c, lower_index.c, lower_sampling.c, lower_det.c,
 * lower_unpool.c) and their shape rules (passes/infer_loss.c,
 * infer_quant.c, infer_resize.c, infer_signal.c, infer_index.c,
 * infer_sampling.c, infer_nn.c).
 *
 * Each test builds a one-node graph by hand, compiles and runs it with
 * tu_run_graph(), and compares every output with a plain C reference
 * written independently in the test (exact for integer results, a relative
 * tolerance of 1e-5 for float ones).  Rejection tests check the
 * diagnostics of configurations that must not compile.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/infer.h"

/* ---- graph building ---------------------------------------------------------- */

typedef struct TG {
	Graph *g;
	NodeId node;
} TG;

static TG tg_new(void)
{
	TG t = {.g = graph_new("test.onnx"), .node = IR_NONE};
	t.g->inputs = arena_alloc(&t.g->arena, 16 * sizeof(ValueId));
	t.g->outputs = arena_alloc(&t.g->arena, 16 * sizeof(ValueId));
	return t;
}

static ValueId tg_input(TG *t, const char *name, DType dt, int rank, const int64_t *dims)
{
	Shape s = shape_make(rank, dims);
	ValueId v = graph_add_value(t->g, name, dt, &s);
	gval(t->g, v)->kind = VK_INPUT;
	t->g->inputs[t->g->ninputs++] = v;
	return v;
}

static ValueId tg_const(TG *t, const char *name, DType dt, int rank, const int64_t *dims, const void *data)
{
	Shape s = shape_make(rank, dims);
	return graph_add_const(t->g, name, dt, &s, data);
}

static ValueId tg_output(TG *t, const char *name, DType dt, int rank, const int64_t *dims)
{
	Shape s = shape_make(rank, dims);
	ValueId v = graph_add_value(t->g, name, dt, &s);
	gval(t->g, v)->is_output = true;
	t->g->outputs[t->g->noutputs++] = v;
	return v;
}

static void tg_node(TG *t, Op op, int opset, const ValueId *in, int nin, const ValueId *out, int nout)
{
	t->node = graph_add_node(t->g, op, op_name(op), "n0", in, nin, out, nout);
	t->g->nodes[t->node].opset = opset;
}

static void tg_int(TG *t, const char *name, int64_t x)
{
	graph_add_attr(t->g, t->node, name, AK_INT)->i = x;
}

static void tg_float(TG *t, const char *name, float x)
{
	graph_add_attr(t->g, t->node, name, AK_FLOAT)->f = x;
}

static void tg_str(TG *t, const char *name, const char *s)
{
	Attr *a = graph_add_attr(t->g, t->node, name, AK_STRING);
	a->s = arena_strdup(&t->g->arena, s);
	a->slen = strlen(s);
}

static void tg_run(TG *t, const void *const *in, void *const *out)
{
	Diag d;
	diag_init(&d, "test.onnx", false);
	bool ok = tu_run_graph(t->g, in, out, &d);
	if (!ok)
		fprintf(stderr, "%s\n", d.buf ? d.buf : "");
	assert_true(ok);
	diag_free(&d);
	graph_free(t->g);
}

/* Shape inference of the one node must fail with a message holding needle. */
static void tg_infer_reject(TG *t, const char *needle)
{
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(pass_infer_node(t->g, t->node, &d));
	if (!diag_contains(&d, needle))
		fprintf(stderr, "diagnostics: %s\n", d.buf ? d.buf : "");
	assert_true(diag_contains(&d, needle));
	diag_free(&d);
	graph_free(t->g);
}

static void fill(float *x, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f * 8.0f - 4.0f;
	}
}

static void assert_close(const float *got, const double *want, int n, double rtol)
{
	for (int i = 0; i < n; i++) {
		double tol = rtol * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
		if (!(fabs((double)got[i] - want[i]) <= tol)) {
			fprintf(stderr, "element %d: got %.9g want %.9g\n", i, got[i], want[i]);
			fail();
		}
	}
}

/* ---- losses ------------------------------------------------------------------- */

/* NLL over (N=2, C=3, D=4) with weights and ignore_index=1; reduction
 * none, sum and mean. */
static void test_nll(void **state)
{
	(void)state;
	enum { N = 2, C = 3, D = 4 };
	float x[N * C * D], w[C] = {0.5f, 2.0f, 1.5f};
	int64_t tgt[N * D] = {0, 1, 2, 2, 1, 0, 0, 2};
	fill(x, N * C * D, 7);
	double loss[N * D], sum = 0, wsum = 0;
	for (int n = 0; n < N; n++)
		for (int d = 0; d < D; d++) {
			int64_t t = tgt[n * D + d];
			double l = 0, ww = 0;
			if (t != 1) {
				ww = w[t];
				l = -x[(n * C + t) * D + d] * ww;
			}
			loss[n * D + d] = l;
			sum += l;
			wsum += ww;
		}
	const char *reds[] = {"none", "sum", "mean"};
	for (int r = 0; r < 3; r++) {
		TG t = tg_new();
		int64_t xd[] = {N, C, D}, td[] = {N, D}, wd[] = {C};
		ValueId in[3] = {tg_input(&t, "x", DT_F32, 3, xd), tg_input(&t, "t", DT_I64, 2, td),
		                 tg_input(&t, "w", DT_F32, 1, wd)};
		ValueId out = r == 0 ? tg_output(&t, "y", DT_F32, 2, td) : tg_output(&t, "y", DT_F32, 0, NULL);
		tg_node(&t, OP_NegativeLogLikelihoodLoss, 13, in, 3, &out, 1);
		tg_str(&t, "reduction", reds[r]);
		tg_int(&t, "ignore_index", 1);
		float y[N * D];
		const void *ins[] = {x, tgt, w};
		void *outs[] = {y};
		tg_run(&t, ins, outs);
		if (r == 0)
			assert_close(y, loss, N * D, 1e-6);
		else {
			double want = r == 1 ? sum : sum / wsum;
			assert_close(y, &want, 1, 1e-5);
		}
	}
}

/* SCE (N=3, C=5) without weights, mean, with the log_prob output. */
static void test_sce(void **state)
{
	(void)state;
	enum { N = 3, C = 5 };
	float x[N * C];
	int32_t tgt[N] = {4, 0, 2};
	fill(x, N * C, 11);
	double lp[N * C], mean = 0;
	for (int n = 0; n < N; n++) {
		double s = 0;
		for (int c = 0; c < C; c++)
			s += exp(x[n * C + c]);
		for (int c = 0; c < C; c++)
			lp[n * C + c] = x[n * C + c] - log(s);
		mean -= lp[n * C + tgt[n]] / N;
	}
	TG t = tg_new();
	int64_t xd[] = {N, C}, td[] = {N};
	ValueId in[2] = {tg_input(&t, "x", DT_F32, 2, xd), tg_input(&t, "t", DT_I32, 1, td)};
	ValueId out[2] = {tg_output(&t, "loss", DT_F32, 0, NULL), tg_output(&t, "lp", DT_F32, 2, xd)};
	tg_node(&t, OP_SoftmaxCrossEntropyLoss, 13, in, 2, out, 2);
	float y[1], ylp[N * C];
	const void *ins[] = {x, tgt};
	void *outs[] = {y, ylp};
	tg_run(&t, ins, outs);
	assert_close(y, &mean, 1, 1e-5);
	assert_close(ylp, lp, N * C, 1e-5);
}

/* ---- quantization --------------------------------------------------------------- */

static double round_even(double v)
{
	double f = floor(v), r = v - f;
	if (r > 0.5 || (r == 0.5 && fmod(f, 2) != 0))
		return f + 1;
	return f;
}

/* Per-axis QuantizeLinear (axis 1, int8) and DequantizeLinear back. */
static void test_quant_dequant(void **state)
{
	(void)state;
	enum { A = 2, B = 3, K = 4 };
	float x[A * B * K], sc[B] = {0.05f, 0.02f, 0.1f};
	int8_t zp[B] = {-3, 0, 5};
	fill(x, A * B * K, 3);
	x[0] = 1e6f; /* saturates */
	int8_t want[A * B * K];
	for (int i = 0; i < A * B * K; i++) {
		int b = (i / K) % B;
		double q = round_even((double)(x[i] / sc[b])) + zp[b];
		want[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
	}
	int64_t xd[] = {A, B, K}, sd[] = {B};
	{
		TG t = tg_new();
		ValueId in[3] = {tg_input(&t, "x", DT_F32, 3, xd), tg_const(&t, "s", DT_F32, 1, sd, sc),
		                 tg_const(&t, "z", DT_I8, 1, sd, zp)};
		ValueId out = tg_output(&t, "y", DT_I8, 3, xd);
		tg_node(&t, OP_QuantizeLinear, 13, in, 3, &out, 1);
		int8_t y[A * B * K];
		const void *ins[] = {x};
		void *outs[] = {y};
		tg_run(&t, ins, outs);
		assert_memory_equal(y, want, sizeof y);
	}
	{
		TG t = tg_new();
		ValueId in[3] = {tg_input(&t, "q", DT_I8, 3, xd), tg_const(&t, "s", DT_F32, 1, sd, sc),
		                 tg_const(&t, "z", DT_I8, 1, sd, zp)};
		ValueId out = tg_output(&t, "y", DT_F32, 3, xd);
		tg_node(&t, OP_DequantizeLinear, 13, in, 3, &out, 1);
		float y[A * B * K];
		double ref[A * B * K];
		for (int i = 0; i < A * B * K; i++) {
			int b = (i / K) % B;
			ref[i] = (float)((float)(want[i] - zp[b]) * sc[b]);
		}
		const void *ins[] = {want};
		void *outs[] = {y};
		tg_run(&t, ins, outs);
		assert_close(y, ref, A * B * K, 1e-6);
	}
}

static void test_dynamic_quantize(void **state)
{
	(void)state;
	enum { N = 10 };
	float x[N];
	fill(x, N, 5);
	float lo = 0, hi = 0;
	for (int i = 0; i < N; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	float scale = (hi - lo) / 255.0f;
	double zf = round_even((double)(0 - lo / scale));
	uint8_t zp = (uint8_t)(zf < 0 ? 0 : zf > 255 ? 255 : zf), want[N];
	for (int i = 0; i < N; i++) {
		double q = round_even((double)(x[i] / scale)) + zp;
		want[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
	}
	TG t = tg_new();
	int64_t xd[] = {N};
	ValueId in = tg_input(&t, "x", DT_F32, 1, xd);
	ValueId out[3] = {tg_output(&t, "y", DT_U8, 1, xd), tg_output(&t, "s", DT_F32, 0, NULL),
	                  tg_output(&t, "z", DT_U8, 0, NULL)};
	tg_node(&t, OP_DynamicQuantizeLinear, 11, &in, 1, out, 3);
	uint8_t y[N], z;
	float s;
	const void *ins[] = {x};
	void *outs[] = {y, &s, &z};
	tg_run(&t, ins, outs);
	assert_true(s == scale);
	assert_int_equal(z, zp);
	assert_memory_equal(y, want, N);
}

/* Batched MatMulInteger u8 x i8 with a scalar a_zero_point and per-column
 * b_zero_point; the batch dim of B broadcasts. */
static void test_matmul_integer(void **state)
{
	(void)state;
	enum { Bt = 2, M = 3, K = 5, N = 4 };
	uint8_t a[Bt * M * K], az = 7;
	int8_t b[K * N], bz[N] = {1, -2, 0, 3};
	for (int i = 0; i < Bt * M * K; i++)
		a[i] = (uint8_t)(i * 37 % 251);
	for (int i = 0; i < K * N; i++)
		b[i] = (int8_t)(i * 29 % 255 - 127);
	int32_t want[Bt * M * N];
	for (int bt = 0; bt < Bt; bt++)
		for (int m = 0; m < M; m++)
			for (int n = 0; n < N; n++) {
				int32_t s = 0;
				for (int k = 0; k < K; k++)
					s += (a[(bt * M + m) * K + k] - az) * (b[k * N + n] - bz[n]);
				want[(bt * M + m) * N + n] = s;
			}
	TG t = tg_new();
	int64_t ad[] = {Bt, M, K}, bd[] = {1, K, N}, zd[] = {N}, yd[] = {Bt, M, N};
	ValueId in[4] = {tg_input(&t, "a", DT_U8, 3, ad), tg_input(&t, "b", DT_I8, 3, bd),
	                 tg_const(&t, "az", DT_U8, 0, NULL, &az), tg_const(&t, "bz", DT_I8, 1, zd, bz)};
	ValueId out = tg_output(&t, "y", DT_I32, 3, yd);
	tg_node(&t, OP_MatMulInteger, 10, in, 4, &out, 1);
	int32_t y[Bt * M * N];
	const void *ins[] = {a, b};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_memory_equal(y, want, sizeof y);
}

/* ---- resize ------------------------------------------------------------------ */

/* Bilinear half_pixel resize of a 1x1x3x4 image to 1x1x5x7 (sizes), checked
 * against a direct floor-based bilinear formula with edge clamping. */
static void test_resize_linear(void **state)
{
	(void)state;
	enum { H = 3, W = 4, OH = 5, OW = 7 };
	float x[H * W];
	fill(x, H * W, 9);
	double want[OH * OW];
	for (int oy = 0; oy < OH; oy++)
		for (int ox = 0; ox < OW; ox++) {
			double sy = (oy + 0.5) * H / OH - 0.5, sx = (ox + 0.5) * W / OW - 0.5;
			double fy = floor(sy), fx = floor(sx), wy = sy - fy, wx = sx - fx;
			int y0 = (int)fy, x0 = (int)fx;
			int ys[2] = {y0 < 0 ? 0 : y0 > H - 1 ? H - 1 : y0, y0 + 1 > H - 1 ? H - 1 : y0 + 1 < 0 ? 0 : y0 + 1};
			int xs[2] = {x0 < 0 ? 0 : x0 > W - 1 ? W - 1 : x0, x0 + 1 > W - 1 ? W - 1 : x0 + 1 < 0 ? 0 : x0 + 1};
			want[oy * OW + ox] = (1 - wy) * ((1 - wx) * x[ys[0] * W + xs[0]] + wx * x[ys[0] * W + xs[1]]) +
			                     wy * ((1 - wx) * x[ys[1] * W + xs[0]] + wx * x[ys[1] * W + xs[1]]);
		}
	TG t = tg_new();
	int64_t xd[] = {1, 1, H, W}, yd[] = {1, 1, OH, OW}, four[] = {4};
	ValueId in[4] = {tg_input(&t, "x", DT_F32, 4, xd), IR_NONE, IR_NONE,
	                 tg_const(&t, "sizes", DT_I64, 1, four, yd)};
	ValueId out = tg_output(&t, "y", DT_F32, 4, yd);
	tg_node(&t, OP_Resize, 13, in, 4, &out, 1);
	tg_str(&t, "mode", "linear");
	float y[OH * OW];
	const void *ins[] = {x};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_close(y, want, OH * OW, 1e-5);
}

/* Nearest asymmetric upsampling by 2 of int64 data: out[i] = in[i / 2]
 * (round_prefer_floor of i/2), and a 1-D cubic align_corners resize whose
 * output at the end points must equal the input's end points exactly. */
static void test_resize_nearest_cubic(void **state)
{
	(void)state;
	{
		enum { W = 5, OW = 10 };
		int64_t x[W] = {10, -20, 30, INT64_MAX, -50}, y[OW];
		float sc[1] = {2.0f};
		TG t = tg_new();
		int64_t xd[] = {W}, yd[] = {OW}, one[] = {1};
		ValueId in[3] = {tg_input(&t, "x", DT_I64, 1, xd), IR_NONE, tg_const(&t, "s", DT_F32, 1, one, sc)};
		ValueId out = tg_output(&t, "y", DT_I64, 1, yd);
		tg_node(&t, OP_Resize, 13, in, 3, &out, 1);
		tg_str(&t, "coordinate_transformation_mode", "asymmetric");
		const void *ins[] = {x};
		void *outs[] = {y};
		tg_run(&t, ins, outs);
		for (int i = 0; i < OW; i++)
			assert_true(y[i] == x[i / 2]);
	}
	{
		enum { W = 6, OW = 11 };
		float x[W], y[OW];
		fill(x, W, 21);
		TG t = tg_new();
		int64_t xd[] = {W}, yd[] = {OW}, one[] = {1};
		ValueId in[4] = {tg_input(&t, "x", DT_F32, 1, xd), IR_NONE, IR_NONE,
		                 tg_const(&t, "sz", DT_I64, 1, one, yd)};
		ValueId out = tg_output(&t, "y", DT_F32, 1, yd);
		tg_node(&t, OP_Resize, 13, in, 4, &out, 1);
		tg_str(&t, "mode", "cubic");
		tg_str(&t, "coordinate_transformation_mode", "align_corners");
		tg_float(&t, "cubic_coeff_a", -0.5f);
		const void *ins[] = {x};
		void *outs[] = {y};
		tg_run(&t, ins, outs);
		/* x = o * 5/10: even o are the input samples, odd o midpoints
		 * with Keys weights (-1/16, 9/16, 9/16, -1/16) for a = -0.5 */
		double want[OW];
		for (int o = 0; o < OW; o++) {
			int j = o / 2;
			if (o % 2 == 0) {
				want[o] = x[j];
			} else {
				int i0 = j - 1 < 0 ? 0 : j - 1, i3 = j + 2 > W - 1 ? W - 1 : j + 2;
				want[o] = (-x[i0] + 9 * x[j] + 9 * x[j + 1] - x[i3]) / 16.0;
			}
		}
		assert_close(y, want, OW, 1e-5);
	}
}

/* ---- windows, ReverseSequence -------------------------------------------------- */

static void test_windows(void **state)
{
	(void)state;
	enum { S = 9 };
	Op ops[3] = {OP_HannWindow, OP_HammingWindow, OP_BlackmanWindow};
	for (int k = 0; k < 3; k++)
		for (int periodic = 0; periodic < 2; periodic++) {
			TG t = tg_new();
			int64_t size = S, yd[] = {S};
			ValueId in = tg_const(&t, "size", DT_I64, 0, NULL, &size);
			ValueId out = tg_output(&t, "y", DT_F64, 1, yd);
			tg_node(&t, ops[k], 17, &in, 1, &out, 1);
			tg_int(&t, "periodic", periodic);
			tg_int(&t, "output_datatype", DT_F64);
			double y[S];
			void *outs[] = {y};
			tg_run(&t, NULL, outs);
			double N = periodic ? S : S - 1, pi = acos(-1.0);
			for (int i = 0; i < S; i++) {
				double a = 2 * pi * i / N, want;
				if (k == 0)
					want = sin(pi * i / N) * sin(pi * i / N);
				else if (k == 1)
					want = 25.0 / 46 - 21.0 / 46 * cos(a);
				else
					want = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a);
				assert_true(fabs(y[i] - want) <= 1e-12);
			}
		}
}

static void test_reverse_sequence(void **state)
{
	(void)state;
	enum { T = 4, B = 3, E = 2 };
	int32_t x[T * B * E], y[T * B * E];
	int64_t len[B] = {4, 0, 2};
	for (int i = 0; i < T * B * E; i++)
		x[i] = i;
	TG t = tg_new();
	int64_t xd[] = {T, B, E}, ld[] = {B};
	ValueId in[2] = {tg_input(&t, "x", DT_I32, 3, xd), tg_input(&t, "l", DT_I64, 1, ld)};
	ValueId out = tg_output(&t, "y", DT_I32, 3, xd);
	tg_node(&t, OP_ReverseSequence, 10, in, 2, &out, 1);
	tg_int(&t, "time_axis", 0);
	tg_int(&t, "batch_axis", 1);
	const void *ins[] = {x, len};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	for (int tt = 0; tt < T; tt++)
		for (int b = 0; b < B; b++)
			for (int e = 0; e < E; e++) {
				int st = tt < len[b] ? (int)len[b] - 1 - tt : tt;
				assert_int_equal(y[(tt * B + b) * E + e], x[(st * B + b) * E + e]);
			}
}

/* GridSample bilinear, zeros padding, align_corners 0, against a direct
 * formula; grid points include out-of-range ones. */
static void test_grid_sample(void **state)
{
	(void)state;
	enum { C = 2, H = 3, W = 4, HO = 2, WO = 3 };
	float x[C * H * W], gr[HO * WO * 2], y[C * HO * WO];
	fill(x, C * H * W, 13);
	fill(gr, HO * WO * 2, 17);
	for (int i = 0; i < HO * WO * 2; i++)
		gr[i] *= 0.35f; /* [-1.4, 1.4]: some samples fall outside */
	double want[C * HO * WO];
	for (int c = 0; c < C; c++)
		for (int i = 0; i < HO * WO; i++) {
			double px = ((gr[2 * i] + 1.0) * W - 1) / 2, py = ((gr[2 * i + 1] + 1.0) * H - 1) / 2;
			double fx = floor(px), fy = floor(py), s = 0;
			for (int dy = 0; dy < 2; dy++)
				for (int dx = 0; dx < 2; dx++) {
					int xx = (int)fx + dx, yy = (int)fy + dy;
					double w = (dx ? px - fx : 1 - (px - fx)) * (dy ? py - fy : 1 - (py - fy));
					if (xx >= 0 && xx < W && yy >= 0 && yy < H)
						s += w * x[(c * H + yy) * W + xx];
				}
			want[c * HO * WO + i] = s;
		}
	TG t = tg_new();
	int64_t xd[] = {1, C, H, W}, gd[] = {1, HO, WO, 2}, yd[] = {1, C, HO, WO};
	ValueId in[2] = {tg_input(&t, "x", DT_F32, 4, xd), tg_input(&t, "g", DT_F32, 4, gd)};
	ValueId out = tg_output(&t, "y", DT_F32, 4, yd);
	tg_node(&t, OP_GridSample, 16, in, 2, &out, 1);
	const void *ins[] = {x, gr};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_close(y, want, C * HO * WO, 1e-5);
}

/* Det of two 3x3 matrices (one singular) against the cofactor expansion. */
static void test_det(void **state)
{
	(void)state;
	float x[18] = {2, -1, 0.5f, 3, 4, -2, 1, 0, 5,   1, 2, 3, 2, 4, 6, 7, 1, 0};
	double want[2];
	for (int k = 0; k < 2; k++) {
		const float *a = x + 9 * k;
		want[k] = (double)a[0] * (a[4] * a[8] - a[5] * a[7]) - (double)a[1] * (a[3] * a[8] - a[5] * a[6]) +
		          (double)a[2] * (a[3] * a[7] - a[4] * a[6]);
	}
	TG t = tg_new();
	int64_t xd[] = {2, 3, 3}, yd[] = {2};
	ValueId in = tg_input(&t, "x", DT_F32, 3, xd);
	ValueId out = tg_output(&t, "y", DT_F32, 1, yd);
	tg_node(&t, OP_Det, 11, &in, 1, &out, 1);
	float y[2];
	const void *ins[] = {x};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_close(y, want, 2, 1e-5);
}

/* ConvInteger with padding 1, stride 2 and a w zero point per output
 * channel, against a direct loop. */
static void test_conv_integer(void **state)
{
	(void)state;
	enum { C = 2, H = 5, W = 4, M = 3, KH = 3, KW = 2, OH = 3, OW = 3 };
	uint8_t x[C * H * W], xz = 100;
	int8_t w[M * C * KH * KW], wz[M] = {0, 3, -5};
	for (int i = 0; i < C * H * W; i++)
		x[i] = (uint8_t)(i * 53 % 256);
	for (int i = 0; i < M * C * KH * KW; i++)
		w[i] = (int8_t)(i * 41 % 256 - 128);
	int32_t want[M * OH * OW], y[M * OH * OW];
	for (int m = 0; m < M; m++)
		for (int oh = 0; oh < OH; oh++)
			for (int ow = 0; ow < OW; ow++) {
				int32_t s = 0;
				for (int c = 0; c < C; c++)
					for (int kh = 0; kh < KH; kh++)
						for (int kw = 0; kw < KW; kw++) {
							int ih = oh * 2 + kh - 1, iw = ow * 2 + kw - 1;
							if (ih < 0 || ih >= H || iw < 0 || iw >= W)
								continue;
							s += (x[(c * H + ih) * W + iw] - xz) *
							     (w[((m * C + c) * KH + kh) * KW + kw] - wz[m]);
						}
				want[(m * OH + oh) * OW + ow] = s;
			}
	TG t = tg_new();
	int64_t xd[] = {1, C, H, W}, wd[] = {M, C, KH, KW}, zd[] = {M}, yd[] = {1, M, OH, OW};
	ValueId in[4] = {tg_input(&t, "x", DT_U8, 4, xd), tg_input(&t, "w", DT_I8, 4, wd),
	                 tg_const(&t, "xz", DT_U8, 0, NULL, &xz), tg_const(&t, "wz", DT_I8, 1, zd, wz)};
	ValueId out = tg_output(&t, "y", DT_I32, 4, yd);
	tg_node(&t, OP_ConvInteger, 10, in, 4, &out, 1);
	int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
	Attr *a = graph_add_attr(t.g, t.node, "pads", AK_INTS);
	a->n = 4;
	a->ints = arena_dup(&t.g->arena, pads, sizeof pads);
	a = graph_add_attr(t.g, t.node, "strides", AK_INTS);
	a->n = 2;
	a->ints = arena_dup(&t.g->arena, strides, sizeof strides);
	/* the shape rule agrees with the hand-set output shape */
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_true(pass_infer_node(t.g, t.node, &d));
	diag_free(&d);
	assert_int_equal(gval(t.g, out)->shape.dims[2], OH);
	assert_int_equal(gval(t.g, out)->shape.dims[3], OW);
	const void *ins[] = {x, w};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_memory_equal(y, want, sizeof y);
}

/* MaxUnpool 2x2 stride 2 of a 1x1x2x2 input into the default 4x4 output. */
static void test_max_unpool(void **state)
{
	(void)state;
	float x[4] = {1.5f, -2, 3, 4}, y[16], want[16] = {0};
	int64_t idx[4] = {0, 3, 9, 14};
	for (int i = 0; i < 4; i++)
		want[idx[i]] = x[i];
	TG t = tg_new();
	int64_t xd[] = {1, 1, 2, 2}, yd[] = {1, 1, 4, 4}, two[] = {2, 2};
	ValueId in[2] = {tg_input(&t, "x", DT_F32, 4, xd), tg_input(&t, "i", DT_I64, 4, xd)};
	ValueId out = tg_output(&t, "y", DT_F32, 4, yd);
	tg_node(&t, OP_MaxUnpool, 11, in, 2, &out, 1);
	Attr *a = graph_add_attr(t.g, t.node, "kernel_shape", AK_INTS);
	a->n = 2;
	a->ints = arena_dup(&t.g->arena, two, sizeof two);
	a = graph_add_attr(t.g, t.node, "strides", AK_INTS);
	a->n = 2;
	a->ints = arena_dup(&t.g->arena, two, sizeof two);
	const void *ins[] = {x, idx};
	void *outs[] = {y};
	tg_run(&t, ins, outs);
	assert_memory_equal(y, want, sizeof y);
}

/* ---- rejections ---------------------------------------------------------------- */

static void test_rejections(void **state)
{
	(void)state;
	int64_t xd[] = {1, 1, 2, 2}, four[] = {4}, yd[] = {1, 1, 4, 4};
	float sc[4] = {1, 1, 2, 2};
	{   /* antialias is diagnosed */
		TG t = tg_new();
		ValueId in[3] = {tg_input(&t, "x", DT_F32, 4, xd), IR_NONE, tg_const(&t, "s", DT_F32, 1, four, sc)};
		ValueId out = tg_output(&t, "y", DT_F32, 4, yd);
		tg_node(&t, OP_Resize, 18, in, 3, &out, 1);
		tg_int(&t, "antialias", 1);
		tg_infer_reject(&t, "antialias");
	}
	{   /* scales that are not constant */
		TG t = tg_new();
		ValueId in[3] = {tg_input(&t, "x", DT_F32, 4, xd), IR_NONE, tg_input(&t, "s", DT_F32, 1, four)};
		ValueId out = tg_output(&t, "y", DT_F32, 4, yd);
		tg_node(&t, OP_Resize, 13, in, 3, &out, 1);
		tg_infer_reject(&t, "must be a constant");
	}
	{   /* linear interpolation of integers */
		TG t = tg_new();
		ValueId in[3] = {tg_input(&t, "x", DT_I32, 4, xd), IR_NONE, tg_const(&t, "s", DT_F32, 1, four, sc)};
		ValueId out = tg_output(&t, "y", DT_I32, 4, yd);
		tg_node(&t, OP_Resize, 13, in, 3, &out, 1);
		tg_str(&t, "mode", "linear");
		tg_infer_reject(&t, "needs a float input");
	}
	{   /* NLL target of the wrong shape */
		TG t = tg_new();
		int64_t x2[] = {2, 3}, t2[] = {3};
		ValueId in[2] = {tg_input(&t, "x", DT_F32, 2, x2), tg_input(&t, "t", DT_I64, 1, t2)};
		ValueId out = tg_output(&t, "y", DT_F32, 0, NULL);
		tg_node(&t, OP_NegativeLogLikelihoodLoss, 13, in, 2, &out, 1);
		tg_infer_reject(&t, "does not match input shape");
	}
	{   /* per-axis scale of the wrong length */
		TG t = tg_new();
		int64_t x2[] = {2, 3}, s2[] = {2};
		float s[2] = {1, 2};
		ValueId in[2] = {tg_input(&t, "x", DT_F32, 2, x2), tg_const(&t, "s", DT_F32, 1, s2, s)};
		ValueId out = tg_output(&t, "y", DT_U8, 2, x2);
		tg_node(&t, OP_QuantizeLinear, 13, in, 2, &out, 1);
		tg_infer_reject(&t, "axis 1 of the input has 3");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nll),
		cmocka_unit_test(test_sce),
		cmocka_unit_test(test_quant_dequant),
		cmocka_unit_test(test_dynamic_quantize),
		cmocka_unit_test(test_matmul_integer),
		cmocka_unit_test(test_resize_linear),
		cmocka_unit_test(test_resize_nearest_cubic),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_reverse_sequence),
		cmocka_unit_test(test_grid_sample),
		cmocka_unit_test(test_det),
		cmocka_unit_test(test_conv_integer),
		cmocka_unit_test(test_max_unpool),
		cmocka_unit_test(test_rejections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

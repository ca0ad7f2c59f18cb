/* tests/unit/test_conv_kernel.c — f32 Conv through the kernel layer
 * (codegen/lower_conv.c: the im2col GEMM for groups of 8 or more output
 * channels, the direct vectorised loop for depthwise and other small
 * groups) against a double-precision reference, for every vector width
 * this host can run (4, 8 and, with AVX-512, 16 lanes): strides, pads
 * (symmetric, asymmetric, wider than the kernel's reach), dilations,
 * groups, depthwise, channel multipliers, bias or none, 1x1 convolutions
 * read in place, patchify stems, batch > 1, output widths that end
 * inside a vector, and the row form (border rows and interior rows, one
 * or several output rows per product).
 * Outputs of each form are bitwise the same on 1, 2, 3 and 5 threads.
 * The fused channels-last depthwise op (onnxcc::DwConvNhwc, channel
 * multipliers included, its interior pixel blocks and border pixels)
 * against the same reference.  1x1 convolutions over small images as
 * pixel-row GEMMs (passes/fuse_conv_tokens.c: Transpose, MatMulEpi,
 * Transpose) against the same reference, and bitwise the Conv's where it
 * ran on the GEMM kernel.  f32 GlobalAveragePool against a double mean;
 * f32 AveragePool through the direct loop against a double mean.
 */
#include "testutil.h"
#include "codegen/kernels/kernels.h"

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

/* One 2-D convolution: X [N,C,H,W], W [M,C/group,KH,KW]. */
typedef struct Case {
	int64_t N, C, H, W, M, KH, KW;
	int64_t sh, sw, dh, dw;
	int64_t pads[4];    /* top, left, bottom, right */
	int64_t group;
	bool bias;
} Case;

static int64_t out_dim(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t d, int64_t s)
{
	return (in + pb + pe - (k - 1) * d - 1) / s + 1;
}

static void reference(const Case *c, const float *x, const float *w, const float *b, double *ref,
                      int64_t OH, int64_t OW)
{
	int64_t Cg = c->C / c->group, Mg = c->M / c->group;
	for (int64_t n = 0; n < c->N; n++)
		for (int64_t m = 0; m < c->M; m++)
			for (int64_t oh = 0; oh < OH; oh++)
				for (int64_t ow = 0; ow < OW; ow++) {
					double s = c->bias ? b[m] : 0.0;
					for (int64_t ci = 0; ci < Cg; ci++)
						for (int64_t kh = 0; kh < c->KH; kh++)
							for (int64_t kw = 0; kw < c->KW; kw++) {
								int64_t ih = oh * c->sh - c->pads[0] + kh * c->dh;
								int64_t iw = ow * c->sw - c->pads[1] + kw * c->dw;
								if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
									continue;
								int64_t ch = m / Mg * Cg + ci;
								s += (double)x[((n * c->C + ch) * c->H + ih) * c->W + iw] *
								     w[((m * Cg + ci) * c->KH + kh) * c->KW + kw];
							}
					ref[((n * c->M + m) * OH + oh) * OW + ow] = s;
				}
}

/* When set, run_case runs depthwise cases (group = C, M = C*mult) as the
 * fused channels-last onnxcc::DwConvNhwc (codegen/lower_dwconv.c): x
 * transposed to tokens [N, H*W, C] on the way in, the output
 * [N, OH*OW, M] back to NCHW. */
static bool nhwc_mode, tokens_mode;

static void run_nhwc(const Case *c, const float *x, const float *w, const float *b, float *y,
                     int64_t OH, int64_t OW)
{
	int64_t C = c->C, M = c->M, HW = c->H * c->W, OHW = OH * OW;
	float *xt = malloc(sizeof(float) * (size_t)(c->N * HW * C));
	float *yt = malloc(sizeof(float) * (size_t)(c->N * OHW * M));
	for (int64_t n = 0; n < c->N; n++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t p = 0; p < HW; p++)
				xt[(n * HW + p) * C + ch] = x[(n * C + ch) * HW + p];
	TuGraph g = tu_graph();
	int64_t dx[3] = {c->N, HW, C}, dw[4] = {M, 1, c->KH, c->KW}, dy[3] = {c->N, OHW, M}, db[1] = {M};
	ValueId in[3];
	in[0] = tu_input(&g, "x", DT_F32, 3, dx);
	in[1] = tu_const(&g, "w", DT_F32, 4, dw, w);
	gval(g.g, in[1])->layout = LAYOUT_TAPS; /* DwConvNhwc reads tap-major weights */
	if (c->bias)
		in[2] = tu_const(&g, "b", DT_F32, 1, db, b);
	ValueId out = tu_output(&g, "y", DT_F32, 3, dy);
	NodeId id = tu_node(&g, OP_DwConvNhwc, 1, in, c->bias ? 3 : 2, &out, 1);
	g.g->nodes[id].domain = "onnxcc";
	int64_t ks[2] = {c->KH, c->KW}, st[2] = {c->sh, c->sw}, dl[2] = {c->dh, c->dw};
	tu_attr_int(&g, "height", c->H);
	tu_attr_int(&g, "width", c->W);
	tu_attr_ints(&g, "kernel_shape", 2, ks);
	tu_attr_ints(&g, "strides", 2, st);
	tu_attr_ints(&g, "dilations", 2, dl);
	tu_attr_ints(&g, "pads", 4, c->pads);
	const void *ins[1] = {xt};
	void *outs[1] = {yt};
	tu_run(&g, ins, outs);
	for (int64_t n = 0; n < c->N; n++)
		for (int64_t ch = 0; ch < M; ch++)
			for (int64_t p = 0; p < OHW; p++)
				y[(n * M + ch) * OHW + p] = yt[(n * OHW + p) * M + ch];
	free(xt);
	free(yt);
}

static void run_case(const Case *c, const float *x, const float *w, const float *b, float *y,
                     int64_t OH, int64_t OW)
{
	if (nhwc_mode) {
		run_nhwc(c, x, w, b, y, OH, OW);
		return;
	}
	TuGraph g = tu_graph();
	int64_t dx[4] = {c->N, c->C, c->H, c->W}, dw[4] = {c->M, c->C / c->group, c->KH, c->KW};
	int64_t dy[4] = {c->N, c->M, OH, OW}, db[1] = {c->M};
	ValueId in[3];
	in[0] = tu_input(&g, "x", DT_F32, 4, dx);
	in[1] = tu_const(&g, "w", DT_F32, 4, dw, w);
	if (c->bias)
		in[2] = tu_const(&g, "b", DT_F32, 1, db, b);
	ValueId out = tu_output(&g, "y", DT_F32, 4, dy);
	tu_node(&g, OP_Conv, 11, in, c->bias ? 3 : 2, &out, 1);
	int64_t ks[2] = {c->KH, c->KW}, st[2] = {c->sh, c->sw}, dl[2] = {c->dh, c->dw};
	tu_attr_ints(&g, "kernel_shape", 2, ks);
	tu_attr_ints(&g, "strides", 2, st);
	tu_attr_ints(&g, "dilations", 2, dl);
	tu_attr_ints(&g, "pads", 4, c->pads);
	tu_attr_int(&g, "group", c->group);
	if (tokens_mode) {
		static const char *const pass[] = {"fuse-conv-tokens", "dce"};
		tu_run_passes(g.g, pass, 2);
		assert_int_equal(tu_live(g.g, OP_Conv), 0);
		assert_int_equal(tu_live(g.g, OP_MatMulEpi), 1);
		assert_int_equal(tu_live(g.g, OP_Transpose), 2);
	}
	const void *ins[1] = {x};
	void *outs[1] = {y};
	tu_run(&g, ins, outs);
}

/* Runs c at every vector width against the reference (max error relative
 * to max |ref| <= 1e-5), then, when threads is set, on 1/2/3/5 threads:
 * bitwise equal to the serial run. */
static void conv_check(Case c, bool threads)
{
	int64_t OH = out_dim(c.H, c.pads[0], c.pads[2], c.KH, c.dh, c.sh);
	int64_t OW = out_dim(c.W, c.pads[1], c.pads[3], c.KW, c.dw, c.sw);
	size_t nx = (size_t)(c.N * c.C * c.H * c.W), nw = (size_t)(c.M * (c.C / c.group) * c.KH * c.KW);
	size_t ny = (size_t)(c.N * c.M * OH * OW);
	float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)c.M * 4);
	float *y = malloc(ny * 4), *y0 = malloc(ny * 4);
	double *ref = malloc(ny * 8);
	fill(x, nx, 3);
	fill(w, nw, 4);
	fill(b, (size_t)c.M, 5);
	reference(&c, x, w, b, ref, OH, OW);
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		memset(y, 0xff, ny * 4);
		run_case(&c, x, w, b, y, OH, OW);
		double e = 0, mx = 1e-30;
		for (size_t i = 0; i < ny; i++) {
			e = fmax(e, fabs(y[i] - ref[i]));
			mx = fmax(mx, fabs(ref[i]));
		}
		if (!(e / mx <= 1e-5))
			fprintf(stderr, "Conv N%lld C%lld %lldx%lld M%lld k%lldx%lld s%lld,%lld d%lld,%lld "
			        "pads %lld,%lld,%lld,%lld group %lld bias %d, %s: rel err %g\n",
			        (long long)c.N, (long long)c.C, (long long)c.H, (long long)c.W, (long long)c.M,
			        (long long)c.KH, (long long)c.KW, (long long)c.sh, (long long)c.sw, (long long)c.dh,
			        (long long)c.dw, (long long)c.pads[0], (long long)c.pads[1], (long long)c.pads[2],
			        (long long)c.pads[3], (long long)c.group, c.bias, tu_isas[t].name, e / mx);
		assert_true(e / mx <= 1e-5);
		if (tokens_mode && c.H * c.W >= tu_isas[t].vlen && c.M * c.H * c.W * c.C >= KERN_GEMM_MIN_WORK) {
			/* fuse-conv-tokens' promise: the bits of the Conv where it
			 * ran on the GEMM kernel (kern_gemm_ok), at this vector
			 * width */
			tokens_mode = false;
			memset(y0, 0xff, ny * 4);
			run_case(&c, x, w, b, y0, OH, OW);
			tokens_mode = true;
			if (memcmp(y, y0, ny * 4))
				fprintf(stderr, "conv tokens C%lld M%lld %lldx%lld, %s: not the bits of the Conv\n",
				        (long long)c.C, (long long)c.M, (long long)c.H, (long long)c.W, tu_isas[t].name);
			assert_memory_equal(y, y0, ny * 4);
		}
		if (nhwc_mode) {
			/* fuse-dwconv's promise: the bits of the Conv it replaces
			 * (the direct loop) at this vector width */
			nhwc_mode = false;
			memset(y0, 0xff, ny * 4);
			run_case(&c, x, w, b, y0, OH, OW);
			nhwc_mode = true;
			if (memcmp(y, y0, ny * 4))
				fprintf(stderr, "DwConvNhwc C%lld M%lld, %s: not the bits of the Conv\n", (long long)c.C,
				        (long long)c.M, tu_isas[t].name);
			assert_memory_equal(y, y0, ny * 4);
		}
	}
	tu_isa_override = (CgIsa){0};
	if (threads) {
		/* the host's width, serial result first */
		tu_parallel = NULL;
		run_case(&c, x, w, b, y0, OH, OW);
		for (int k = 0; k < TU_NTHREADS; k++) {
			tu_threads(tu_thread_counts[k]);
			memset(y, 0xff, ny * 4);
			run_case(&c, x, w, b, y, OH, OW);
			assert_memory_equal(y, y0, ny * 4);
		}
		tu_threads(0);
	}
	free(x), free(w), free(b), free(y), free(y0), free(ref);
}

static void conv_case(Case c)
{
	conv_check(c, false);
}

/* im2col GEMM: 8 or more output channels per group */
static void test_conv_gemm(void **state)
{
	(void)state;
	/* 3x3 pad 1 stride 1, output width ending inside a vector */
	conv_case((Case){1, 5, 9, 11, 12, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, true});
	/* stride 2, no bias, batch 2 */
	conv_case((Case){2, 7, 13, 12, 9, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, false});
	/* dilation, asymmetric pads, rectangular kernel */
	conv_case((Case){1, 3, 12, 14, 16, 3, 2, 1, 2, 2, 3, {2, 0, 1, 3}, 1, true});
	/* pads wider than the kernel reaches: whole output rows of padding */
	conv_case((Case){1, 2, 6, 7, 8, 2, 2, 1, 1, 1, 1, {3, 4, 3, 2}, 1, true});
	/* patchify stems (kernel == stride): ViT-like and Swin-like */
	conv_case((Case){1, 3, 32, 32, 24, 8, 8, 8, 8, 1, 1, {0, 0, 0, 0}, 1, true});
	conv_case((Case){1, 3, 36, 20, 20, 4, 4, 4, 4, 1, 1, {0, 0, 0, 0}, 1, true});
	/* PVT's overlapping stem: 7x7 stride 4 pad 3 */
	conv_case((Case){1, 3, 30, 30, 16, 7, 7, 4, 4, 1, 1, {3, 3, 3, 3}, 1, true});
	/* 1x1 stride 1 unpadded: B read in place; and 1x1 stride 2 (im2col) */
	conv_case((Case){2, 20, 7, 9, 10, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true});
	conv_case((Case){1, 20, 8, 9, 10, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, 1, false});
	/* groups as a batch dim: 2 groups of 8 outputs, 3 groups of 9 */
	conv_case((Case){1, 6, 9, 10, 16, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 2, true});
	conv_case((Case){2, 9, 8, 8, 27, 3, 3, 2, 1, 1, 1, {0, 1, 1, 0}, 3, true});
	/* row form (output rows of 12 vectors or more: one GEMM per border
	 * row, one batched over the interior rows) */
	conv_case((Case){1, 4, 9, 50, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, true});
	conv_case((Case){2, 3, 11, 101, 10, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, false});
	conv_case((Case){1, 3, 12, 60, 16, 3, 2, 1, 1, 2, 3, {2, 0, 1, 3}, 1, true});
	conv_case((Case){1, 2, 2, 52, 8, 3, 3, 1, 1, 1, 1, {2, 1, 2, 1}, 1, true}); /* no interior row */
	conv_case((Case){1, 6, 9, 49, 16, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 2, true});
	conv_case((Case){1, 3, 12, 200, 16, 4, 4, 4, 4, 1, 1, {0, 0, 0, 0}, 1, true});
	/* stride 2 and 4 runs (packed by vector loads and shuffles): PVT's
	 * 7x7 stride 4 stem, and a stride-2 run reaching the end of X (no
	 * bottom/right padding: the vector chunks must stop short of it) */
	conv_case((Case){1, 3, 9, 131, 16, 7, 7, 4, 4, 1, 1, {3, 3, 3, 3}, 1, true});
	conv_case((Case){1, 4, 7, 70, 8, 3, 3, 2, 2, 1, 1, {1, 1, 0, 0}, 1, true});
	/* the row form over groups of R output rows (conv_row_group: R * OW
	 * fills the vectors best; the interior's last rows, fewer than R, as
	 * one product), sret_t's stem shapes scaled down: OW 28 (R = 4 on 16
	 * lanes: 27 interior rows, 6 groups and 3 rows), OW 56 (R = 2); and a
	 * group whose K block does not fit the stack block (gemm.c
	 * BBLOCK_MAX: OW 250, R 3 or 4, K 72), its runs packed per panel */
	conv_case((Case){1, 8, 56, 56, 16, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, true});
	conv_case((Case){1, 4, 12, 112, 12, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, true});
	conv_case((Case){1, 8, 7, 250, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, true});
	/* the interior's k rows packed a kw run at a time with constant
	 * column bounds (KGemm.b_row_kw, lower_conv.c row_im2col_runs):
	 * dilation 2 along W with pads 3 and 2 (lo 2, 1, 1, 0, 0 and hi
	 * below OW for the last taps), stride 4 (PVT's stem) with a right pad
	 * of 0, and a K block not a multiple of KW (C*KH*KW 258 = 2 x 129,
	 * kw 2: the per-row path) */
	conv_case((Case){1, 3, 10, 77, 16, 3, 5, 2, 2, 1, 2, {1, 3, 1, 2}, 1, true});
	conv_case((Case){1, 3, 13, 95, 16, 7, 7, 4, 4, 1, 1, {3, 3, 3, 0}, 1, false});
	conv_case((Case){1, 43, 8, 40, 9, 3, 2, 2, 2, 1, 1, {1, 1, 1, 0}, 1, true});
	/* sret_t's stem.0 (3 -> 32 channels, 3x3 stride 2 pad 1, 224 wide:
	 * 72 FMAs per input float, so the row form prefetches the image
	 * CONV_ROW_PF_AHEAD output rows ahead), 24 rows high: the last rows'
	 * prefetches reach past the end of X (hints, never read) */
	conv_case((Case){1, 3, 24, 224, 32, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, true});
	/* more border rows than the row form takes: whole-plane im2col */
	conv_case((Case){1, 2, 3, 50, 8, 2, 2, 1, 1, 1, 1, {6, 1, 6, 1}, 1, true});
	/* K of two cache blocks (C*kh*kw = 300) */
	conv_case((Case){1, 75, 6, 6, 13, 2, 2, 1, 1, 1, 1, {1, 1, 0, 0}, 1, true});
}

/* direct loop: fewer than 8 output channels per group */
static void test_conv_direct(void **state)
{
	(void)state;
	/* depthwise 3x3 pad 1 (PVT-v2's DWConv), widths around the vector sizes */
	conv_case((Case){1, 6, 10, 17, 6, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 6, true});
	conv_case((Case){2, 4, 5, 64, 4, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 4, false});
	conv_case((Case){1, 3, 7, 3, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 3, true});
	/* depthwise stride 2 with channel multiplier 2 (gather path) */
	conv_case((Case){1, 4, 11, 13, 8, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 4, true});
	/* dilated depthwise, asymmetric pads, 5x5 */
	conv_case((Case){1, 3, 12, 21, 3, 5, 5, 1, 1, 2, 2, {4, 3, 2, 5}, 3, true});
	/* stride 2 and 4 along W (s contiguous loads and even shuffles, no
	 * gather): several vectors of outputs with pads on both sides, stride
	 * 4 with dilation 2 and no end pad, stride 2 reading X's last column */
	conv_case((Case){1, 3, 6, 70, 3, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 3, true});
	conv_case((Case){1, 2, 5, 90, 2, 3, 5, 1, 4, 1, 2, {1, 3, 1, 0}, 2, false});
	conv_case((Case){1, 2, 5, 33, 2, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, 2, true});
	/* stride 3 and dilation 2 along W */
	conv_case((Case){1, 2, 9, 40, 2, 3, 3, 1, 3, 1, 2, {0, 2, 1, 1}, 2, false});
	/* group 1 with few outputs (M = 3), and 2 inputs per group */
	conv_case((Case){1, 5, 8, 9, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, true});
	conv_case((Case){2, 6, 8, 9, 3, 2, 3, 1, 1, 1, 1, {0, 1, 1, 1}, 3, true});
	/* one output pixel, 1x1 kernel (squeeze-excitation after a global
	 * pool): the matrix-vector form, channel and output tails, batch 2,
	 * an input plane larger than the pixel read (stride 3) */
	conv_case((Case){2, 37, 1, 1, 45, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true});
	conv_case((Case){1, 64, 3, 3, 16, 1, 1, 3, 3, 1, 1, {0, 0, 0, 0}, 1, false});
	conv_case((Case){1, 3, 1, 1, 9, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true});
	/* a kernel wider than 8 taps */
	conv_case((Case){1, 2, 4, 30, 2, 1, 11, 1, 1, 1, 1, {0, 5, 0, 5}, 2, true});
	/* several output rows per step (R divides OH, R*U <= 8 accumulators):
	 * border steps (each row its own tap range) around interior steps
	 * (one kh loop for all rows): maxvit_t's 14x14 and 7x7 stride 1 and
	 * 28 -> 14 stride 2; a 56-wide plane (U = 4 at 16 lanes, R = 2); a
	 * vertical dilation; pads so wide no step is interior; OH prime (R =
	 * 1); asymmetric vertical pads (the interior steps start late and end
	 * early) */
	conv_case((Case){1, 3, 14, 14, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 3, true});
	conv_case((Case){1, 2, 7, 7, 2, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 2, true});
	conv_case((Case){1, 2, 28, 28, 2, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 2, false});
	conv_case((Case){1, 2, 12, 56, 2, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 2, true});
	conv_case((Case){1, 2, 12, 16, 2, 3, 3, 1, 1, 2, 1, {2, 1, 2, 1}, 2, true});
	conv_case((Case){1, 2, 4, 20, 2, 3, 3, 1, 1, 1, 1, {3, 1, 3, 1}, 2, true});
	conv_case((Case){1, 2, 11, 9, 2, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 2, true});
	conv_case((Case){2, 3, 13, 10, 3, 3, 3, 1, 1, 1, 1, {3, 1, 0, 1}, 3, false});
}

/* bitwise the same on 1/2/3/5 threads: whole-plane im2col with groups and
 * batch, the row form, the direct loop */
static void test_conv_threads(void **state)
{
	(void)state;
	conv_check((Case){2, 9, 8, 8, 27, 3, 3, 2, 1, 1, 1, {0, 1, 1, 0}, 3, true}, true);
	conv_check((Case){2, 3, 11, 101, 10, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, false}, true);
	conv_check((Case){1, 8, 56, 56, 16, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, true}, true);
	conv_check((Case){1, 8, 7, 250, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, true}, true);
	conv_check((Case){1, 3, 10, 77, 16, 3, 5, 2, 2, 1, 2, {1, 3, 1, 2}, 1, true}, true);
	conv_check((Case){1, 3, 13, 95, 16, 7, 7, 4, 4, 1, 1, {3, 3, 3, 0}, 1, false}, true);
	conv_check((Case){1, 3, 24, 224, 32, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, true}, true);
	conv_check((Case){2, 4, 11, 13, 8, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 4, true}, true);
	conv_check((Case){1, 5, 14, 14, 5, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 5, true}, true);
}

/* The channels-last depthwise op: channel counts below, at and past one
 * vector (tails), several groups of vectors, strides, asymmetric and wide pads, dilation, batch 2,
 * no bias; bitwise the same on 1/2/3/5 threads. */
static void test_dwconv_nhwc(void **state)
{
	(void)state;
	nhwc_mode = true;
	/* N, C, H, W, M, KH, KW, sh, sw, dh, dw, pads, group, bias */
	conv_check((Case){1, 20, 7, 9, 20, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 20, true}, true);
	conv_check((Case){2, 3, 5, 6, 3, 3, 3, 2, 2, 1, 1, {1, 0, 1, 1}, 3, true}, false);
	conv_check((Case){1, 64, 6, 6, 64, 5, 3, 1, 2, 2, 1, {3, 1, 0, 2}, 64, false}, true);
	conv_check((Case){1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, {4, 4, 4, 4}, 16, true}, false);
	/* channel groups (4 vectors per pixel): 83 = 5 vectors of 16 (one
	 * group and one left over) + 3 scalars, 10 of 8 + 3, 20 of 4 + 3;
	 * 128: whole groups only */
	conv_check((Case){1, 83, 5, 7, 83, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 83, true}, false);
	conv_check((Case){2, 128, 4, 5, 128, 3, 3, 2, 1, 1, 1, {1, 1, 1, 1}, 128, false}, false);
	/* channel multipliers (a stage transition's grouped Conv): 2 (input
	 * vectors of W/2 channels shuffled to W: sret's 64 -> 128 stride 2;
	 * 9 -> 18: a vector and a scalar tail at 16 lanes), 3 (no vector
	 * width is a multiple: scalars only), 4 with batch 2 */
	conv_check((Case){1, 64, 8, 8, 128, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 64, true}, true);
	conv_check((Case){1, 9, 5, 5, 18, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 9, true}, false);
	conv_check((Case){1, 5, 4, 6, 15, 3, 3, 1, 1, 1, 1, {1, 0, 0, 1}, 5, false}, true);
	conv_check((Case){2, 6, 5, 5, 24, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 6, true}, false);
	/* the interior in blocks of pixels (lower_dwconv.c emit_block): 21
	 * interior columns (7 blocks) and a channel tail of scalar tiles;
	 * stride 2 (11 interior columns: 3 blocks and one of 2 pixels);
	 * dilation 2 without pads (no border column, a last block of 1);
	 * a channel multiplier; a kernel wider than the tiles take (every
	 * column pixel by pixel) */
	conv_check((Case){1, 37, 5, 23, 37, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 37, true}, true);
	conv_check((Case){1, 32, 6, 25, 32, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 32, false}, true);
	conv_check((Case){1, 16, 7, 20, 16, 3, 3, 1, 1, 2, 2, {0, 0, 0, 0}, 16, true}, false);
	conv_check((Case){1, 24, 4, 14, 48, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 24, true}, false);
	conv_check((Case){1, 8, 3, 20, 8, 1, 17, 1, 1, 1, 1, {0, 8, 0, 8}, 8, true}, false);
	nhwc_mode = false;
}

/* 1x1 convolutions as pixel-row GEMMs (fuse-conv-tokens): maxvit_t's
 * stage-3 shapes scaled down (7x7 and 14x14, the widest the pass takes),
 * channel counts that end inside a vector, K of two cache blocks (1100
 * input channels), batch 2, no bias, one pixel (the squeeze-excitation
 * fcs: against the reference only); bitwise the same on 1/2/3/5 threads. */
static void test_conv_tokens(void **state)
{
	(void)state;
	tokens_mode = true;
	/* N, C, H, W, M, KH, KW, sh, sw, dh, dw, pads, group, bias */
	conv_check((Case){1, 64, 7, 7, 48, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, true);
	conv_check((Case){1, 48, 7, 7, 200, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, true);
	conv_check((Case){2, 37, 14, 14, 29, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, false}, true);
	conv_check((Case){1, 1100, 7, 7, 40, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, false);
	conv_check((Case){1, 16, 3, 5, 16, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, false); /* Conv off the kernel */
	conv_check((Case){1, 40, 3, 5, 16, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, false);
	conv_check((Case){1, 256, 1, 1, 24, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, true}, true);
	conv_check((Case){2, 24, 1, 1, 256, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, false}, false);
	tokens_mode = false;
}

/* f32 GlobalAveragePool (the vector loop of vec.h per plane) against a
 * double-precision mean, every vector width: planes shorter than a vector,
 * tails, several unrolled steps, 56x56 (maxvit_t's squeeze-excitation). */
static void test_global_avg_pool(void **state)
{
	(void)state;
	static const int64_t hw[][2] = {{1, 1}, {1, 3}, {4, 4}, {7, 7}, {5, 13}, {56, 56}};
	for (size_t k = 0; k < sizeof hw / sizeof hw[0]; k++) {
		int64_t N = 2, C = 5, H = hw[k][0], W = hw[k][1], sp = H * W;
		size_t nx = (size_t)(N * C * sp);
		float *x = malloc(nx * 4), y[10];
		fill(x, nx, 7 + (unsigned)k);
		for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
			if (!tu_host_has(&tu_isas[t]))
				continue;
			tu_isa_override = tu_isas[t];
			TuGraph g = tu_graph();
			int64_t dx[4] = {N, C, H, W}, dy[4] = {N, C, 1, 1};
			ValueId in = tu_input(&g, "x", DT_F32, 4, dx);
			ValueId out = tu_output(&g, "y", DT_F32, 4, dy);
			tu_node(&g, OP_GlobalAveragePool, 1, &in, 1, &out, 1);
			const void *ins[1] = {x};
			void *outs[1] = {y};
			memset(y, 0xff, sizeof y);
			tu_run(&g, ins, outs);
			for (int64_t p = 0; p < N * C; p++) {
				double ref = 0, mag = 0;
				for (int64_t i = 0; i < sp; i++) {
					ref += x[p * sp + i];
					mag += fabs(x[p * sp + i]);
				}
				ref /= (double)sp;
				mag /= (double)sp;
				if (!(fabs(y[p] - ref) <= 1e-6 * mag + 1e-30))
					fprintf(stderr, "GlobalAveragePool %lldx%lld plane %lld, %s: %g vs %g\n", (long long)H,
					        (long long)W, (long long)p, tu_isas[t].name, (double)y[p], ref);
				assert_true(fabs(y[p] - ref) <= 1e-6 * mag + 1e-30);
			}
		}
		tu_isa_override = (CgIsa){0};
		free(x);
	}
}

/* One f32 AveragePool of windows that all count KH*KW taps (padding
 * counted, or none): lower_conv.c runs it as the depthwise direct loop
 * without weights.  Against a double-precision mean at every vector
 * width, then bitwise the same on 1/2/3/5 threads. */
static void avg_pool_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t s,
                          const int64_t pads[4], bool incl)
{
	int64_t OH = out_dim(H, pads[0], pads[2], KH, 1, s), OW = out_dim(W, pads[1], pads[3], KW, 1, s);
	size_t nx = (size_t)(N * C * H * W), ny = (size_t)(N * C * OH * OW);
	float *x = malloc(nx * 4), *y = malloc(ny * 4), *y0 = malloc(ny * 4);
	double *ref = malloc(ny * 8);
	fill(x, nx, 11);
	for (int64_t p = 0; p < N * C; p++)
		for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++) {
				double sum = 0;
				for (int64_t i = 0; i < KH; i++)
					for (int64_t j = 0; j < KW; j++) {
						int64_t ih = oh * s - pads[0] + i, iw = ow * s - pads[1] + j;
						if (ih >= 0 && ih < H && iw >= 0 && iw < W)
							sum += x[(p * H + ih) * W + iw];
					}
				ref[(p * OH + oh) * OW + ow] = sum / (double)(KH * KW);
			}
	for (int t = -1; t < (int)(sizeof tu_isas / sizeof tu_isas[0]) + 4; t++) {
		/* t < 3: each vector width, serial; then the host's on 1/2/3/5 threads */
		if (t >= 0 && t < 3) {
			if (!tu_host_has(&tu_isas[t]))
				continue;
			tu_isa_override = tu_isas[t];
		} else if (t >= 3) {
			tu_threads(tu_thread_counts[t - 3]);
		}
		TuGraph g = tu_graph();
		int64_t dx[4] = {N, C, H, W}, dy[4] = {N, C, OH, OW}, ks[2] = {KH, KW}, st[2] = {s, s};
		ValueId in = tu_input(&g, "x", DT_F32, 4, dx);
		ValueId out = tu_output(&g, "y", DT_F32, 4, dy);
		tu_node(&g, OP_AveragePool, 19, &in, 1, &out, 1);
		tu_attr_ints(&g, "kernel_shape", 2, ks);
		tu_attr_ints(&g, "strides", 2, st);
		tu_attr_ints(&g, "pads", 4, pads);
		tu_attr_int(&g, "count_include_pad", incl);
		float *dst = t < 0 ? y0 : y;
		memset(dst, 0xff, ny * 4);
		tu_run(&g, (const void *[]){x}, (void *[]){dst});
		tu_isa_override = (CgIsa){0};
		tu_threads(0);
		if (t >= 3)
			assert_memory_equal(y, y0, ny * 4);
		else
			for (size_t i = 0; i < ny; i++) {
				if (!(fabs(dst[i] - ref[i]) <= 1e-6 * (fabs(ref[i]) + 1)))
					fprintf(stderr, "AveragePool %lldx%lld k%lldx%lld s%lld plane elem %zu: %g vs %g\n",
					        (long long)H, (long long)W, (long long)KH, (long long)KW, (long long)s, i,
					        (double)dst[i], ref[i]);
				assert_true(fabs(dst[i] - ref[i]) <= 1e-6 * (fabs(ref[i]) + 1));
			}
	}
	free(x), free(y), free(y0), free(ref);
}

/* maxvit_t's MBConv shortcut (3x3 stride 2 over a zero-padded plane:
 * its Pad folded into count_include_pad = 1), unpadded windows, stride 1
 * with asymmetric pads, rows of several vectors, batch 2 */
static void test_avg_pool_direct(void **state)
{
	(void)state;
	avg_pool_case(1, 3, 28, 28, 3, 3, 2, (const int64_t[]){1, 1, 1, 1}, true);
	avg_pool_case(2, 2, 9, 37, 3, 3, 2, (const int64_t[]){1, 1, 1, 1}, true);
	avg_pool_case(1, 2, 8, 20, 2, 2, 2, (const int64_t[]){0, 0, 0, 0}, false);
	avg_pool_case(1, 2, 7, 9, 3, 3, 1, (const int64_t[]){1, 0, 1, 2}, true);
	avg_pool_case(1, 2, 12, 70, 3, 2, 1, (const int64_t[]){0, 0, 0, 0}, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_gemm),
		cmocka_unit_test(test_conv_direct),
		cmocka_unit_test(test_conv_threads),
		cmocka_unit_test(test_dwconv_nhwc),
		cmocka_unit_test(test_conv_tokens),
		cmocka_unit_test(test_global_avg_pool),
		cmocka_unit_test(test_avg_pool_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

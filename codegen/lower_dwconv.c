/* codegen/lower_dwconv.c — the fused DwConvNhwc op (ops.def, made by
 * passes/fuse_dwconv.c): a depthwise 2-D convolution of tokens kept
 * channels-last, X [B, H*W, C] -> Y [B, Ho*Wo, M], with its activation.
 * M = C*mult: output channel m reads input channel m/mult (mult 1: plain
 * depthwise; mult > 1: a channel multiplier, e.g. a stage transition).
 *
 *   Y[b, oy*Wo + ox, m] = act(bias[m] + sum_{ky, kx inside X}
 *       X[b, iy*W + ix, m/mult] * Wt[m, ky, kx]),
 *   iy = oy*sh - top + ky*dh,  ix = ox*sw - left + kx*dw.
 *
 * Channels are the vector dim: W-lane vectors (W = cg->isa.vlen) of
 * consecutive channels, the taps a constant unrolled loop, the weights
 * stored tap-major [kh*kw, M] (their layout taps, ir/layout.c, which
 * fuse-dwconv sets and ir_verify requires) so that a tap's weights are one
 * contiguous vector load; with mult > 1 a vector's inputs are W/mult
 * consecutive channels, each repeated mult times (a shuffle; when mult
 * does not divide W all channels take the scalar path).
 *
 * A row's interior columns (every column tap inside X) go in blocks of
 * DW_NP pixels, all channels of a block before the next (emit_block,
 * emit_tile: one channel vector x DW_NP pixels per tile, each input vector
 * loaded once for the taps that share it), so that each row of taps is
 * read as a contiguous run and the block's lines of the last row of taps
 * (the new ones) are prefetched DW_PF_TILES blocks ahead.  The border
 * columns go pixel by pixel, DW_GROUP channel vectors at a time, their FMA
 * chains interleaved (emit_pixel).  A tap outside the input is skipped by
 * a branch on its row and column (uniform over the channels of a pixel).
 * The channel tail (M mod W) runs the same taps on scalars.  Every
 * element's arithmetic is the same in both forms (bias or 0, the taps in
 * (ky, kx) order, the activation): the bits of the direct-loop Conv.  One
 * task per output row (b, oy) through kern_parallel: rows are independent,
 * so any partition among threads gives bitwise the same output.
 */
#include "lower.h"
#include "kernels/kernels.h"
#include "weights.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Channel vectors computed together per border pixel (see emit_pixel). */
#define DW_GROUP 4
/* Interior pixels per tile (emit_tile), the widest kernel the tiles take
 * (wider: every column pixel by pixel), and how many blocks ahead a tile
 * prefetches.  pvt_v2_b1 at 1 thread (docs/kernels.md), time of its
 * stage-1 convs for DW_NP 2, 3, 4, 6, 8: 3 <= 4 < 6 < 8 (DW_NP 8: per
 * tile 30 input, 9 weight and 8 output lines at a stride of 2 KiB, the
 * same two L1 sets). */
#define DW_NP 3
#define DW_MAX_KW 16
#define DW_PF_TILES 2

typedef struct DwPlan {
	int64_t B, H, W, C, M, mult, Ho, Wo, kh, kw, sh, sw, dh, dw, top, left;
	bool has_bias;
	KAct act;
} DwPlan;

/* What fill_weights_t needs: the weight [M, 1, taps] (no padding: the
 * cache compares it bytewise). */
typedef struct DwArg {
	const float *w;
	int64_t taps, C;
} DwArg;

/* Writes W [M, taps] transposed to [taps, M] into dst, then hands W's pages
 * back (as pack_fill does for GEMM weights). */
static void fill_weights_t(void *dst, size_t n, const void *arg)
{
	const DwArg *a = arg;
	float *t = dst;
	assert(n == (size_t)(a->taps * a->C) * sizeof *t);
	(void)n;
	for (int64_t c = 0; c < a->C; c++)
		for (int64_t k = 0; k < a->taps; k++)
			t[k * a->C + c] = a->w[c * a->taps + k];
	if (a->taps > 0 && a->C > 0)
		cg_release_pages(a->w, (size_t)(a->taps * a->C) * sizeof *a->w);
}

/* Weights [M, 1, kh, kw] transposed to [kh*kw, M] as a private global,
 * written after emission when large (cg_data_global) and shared by the
 * ISA variants of the node (kern_const_global). */
static LLVMValueRef weights_t(Cg *cg, const Value *w, const DwPlan *P)
{
	DwArg a = {w->data, P->kh * P->kw, P->M};
	return kern_const_global(cg, "dw_weights", (size_t)(a.taps * a.C) * sizeof(float), fill_weights_t, &a,
	                         sizeof a);
}

/* The inputs of output channels [c, c + lanes) at pixel xp (type t):
 * channels c/mult ... of xp, each repeated mult times (lanes % mult == 0
 * and c % mult == 0 when lanes > 1). */
static LLVMValueRef load_inputs(Cg *cg, const DwPlan *P, LLVMTypeRef t, int lanes, LLVMValueRef xp, LLVMValueRef c)
{
	if (P->mult == 1) {
		LLVMValueRef v = LLVMBuildLoad2(cg->b, t, cg_gep_f32(cg, xp, c), "");
		LLVMSetAlignment(v, 4);
		return v;
	}
	LLVMValueRef ci = LLVMBuildUDiv(cg->b, c, cg_i64(cg, P->mult), "");
	if (lanes == 1) {
		LLVMValueRef v = LLVMBuildLoad2(cg->b, t, cg_gep_f32(cg, xp, ci), "");
		LLVMSetAlignment(v, 4);
		return v;
	}
	assert(lanes % P->mult == 0 && lanes <= 64);
	unsigned nin = (unsigned)(lanes / P->mult);
	LLVMTypeRef it = nin > 1 ? LLVMVectorType(cg->t_f32, nin) : cg->t_f32;
	LLVMValueRef v = LLVMBuildLoad2(cg->b, it, cg_gep_f32(cg, xp, ci), "");
	LLVMSetAlignment(v, 4);
	if (nin == 1) {
		v = LLVMBuildInsertElement(cg->b, LLVMGetUndef(LLVMVectorType(cg->t_f32, 1)), v, cg_i32(cg, 0), "");
		it = LLVMVectorType(cg->t_f32, 1);
	}
	LLVMValueRef mask[64];
	for (int l = 0; l < lanes; l++)
		mask[l] = cg_i32(cg, (int)(l / P->mult));
	return LLVMBuildShuffleVector(cg->b, v, LLVMGetUndef(it), LLVMConstVector(mask, (unsigned)lanes), "");
}

/* The accumulator's start for channels from c: their bias, or zero. */
static LLVMValueRef bias_or_zero(Cg *cg, const DwPlan *P, LLVMTypeRef t, LLVMValueRef bias, LLVMValueRef c)
{
	if (!P->has_bias)
		return LLVMConstNull(t);
	LLVMValueRef a0 = LLVMBuildLoad2(cg->b, t, cg_gep_f32(cg, bias, c), "");
	LLVMSetAlignment(a0, 4);
	return a0;
}

/* Stores act(acc) to p. */
static void store_act(Cg *cg, const DwPlan *P, LLVMTypeRef t, LLVMValueRef acc, LLVMValueRef p)
{
	LLVMValueRef r = LLVMBuildLoad2(cg->b, t, acc, "");
	if (P->act == KACT_GELU || P->act == KACT_GELU_TANH)
		r = kern_gelu(cg, r, P->act == KACT_GELU_TANH);
	LLVMValueRef st = LLVMBuildStore(cg->b, r, p);
	LLVMSetAlignment(st, 4);
}

/* The channel vectors of W lanes a pixel's M outputs take (the rest, from
 * vec_channels * w on, are the scalar tail): none when mult does not
 * divide W. */
static int64_t vec_channels(const DwPlan *P, int w)
{
	return w > 1 && w % P->mult == 0 ? P->M / w : 0;
}

/* Accumulates the taps of output pixel (oy, ox) for nv groups of `lanes`
 * channels, group g starting at channel c + g*lanes (type t: <lanes x
 * float>, or float when lanes == 1), into the accumulators acc[g], then
 * stores act(acc[g]) to y.  The nv groups are independent chains of
 * fmuladds, interleaved tap by tap: one group alone is a chain of kh*kw
 * dependent FMAs (4 cycles each) followed by the activation, and
 * out-of-order execution overlapped too few of them (pvt_v2_b1 stage 1:
 * about 56 cycles per output vector).  Each element's arithmetic (bias,
 * then the taps in order, then the activation) is the same for any nv. */
static void emit_pixel(Cg *cg, const DwPlan *P, LLVMTypeRef t, int lanes, int nv, LLVMValueRef x,
                       LLVMValueRef wt, LLVMValueRef bias, LLVMValueRef y, LLVMValueRef oy, LLVMValueRef ox,
                       LLVMValueRef c, LLVMValueRef *acc)
{
	LLVMValueRef cs[DW_GROUP];
	assert(nv >= 1 && nv <= DW_GROUP);
	for (int g = 0; g < nv; g++) {
		cs[g] = g ? cg_add_i64(cg, c, cg_i64(cg, (int64_t)g * lanes)) : c;
		LLVMBuildStore(cg->b, bias_or_zero(cg, P, t, bias, cs[g]), acc[g]);
	}
	LLVMValueRef iy0 = LLVMBuildSub(cg->b, cg_mul_i64(cg, oy, P->sh), cg_i64(cg, P->top), "");
	LLVMValueRef ix0 = LLVMBuildSub(cg->b, cg_mul_i64(cg, ox, P->sw), cg_i64(cg, P->left), "");
	for (int64_t ky = 0; ky < P->kh; ky++) {
		LLVMValueRef iy = cg_add_i64(cg, iy0, cg_i64(cg, ky * P->dh));
		CgIf row;
		cg_if(cg, &row, LLVMBuildICmp(cg->b, LLVMIntULT, iy, cg_i64(cg, P->H), ""));
		for (int64_t kx = 0; kx < P->kw; kx++) {
			LLVMValueRef ix = cg_add_i64(cg, ix0, cg_i64(cg, kx * P->dw));
			CgIf col;
			cg_if(cg, &col, LLVMBuildICmp(cg->b, LLVMIntULT, ix, cg_i64(cg, P->W), ""));
			LLVMValueRef xp = cg_gep_f32(cg, x, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, iy, P->W), ix), P->C));
			LLVMValueRef wp = cg_gep_f32(cg, wt, cg_i64(cg, (ky * P->kw + kx) * P->M));
			for (int g = 0; g < nv; g++) {
				LLVMValueRef xv = load_inputs(cg, P, t, lanes, xp, cs[g]);
				LLVMValueRef wv = LLVMBuildLoad2(cg->b, t, cg_gep_f32(cg, wp, cs[g]), "");
				LLVMSetAlignment(wv, 4);
				LLVMBuildStore(cg->b, kern_fmuladd(cg, xv, wv, LLVMBuildLoad2(cg->b, t, acc[g], "")), acc[g]);
			}
			cg_if_end(cg, &col);
		}
		cg_if_end(cg, &row);
	}
	LLVMValueRef yp = cg_gep_f32(cg, y, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, oy, P->Wo), ox), P->M));
	for (int g = 0; g < nv; g++)
		store_act(cg, P, t, acc[g], cg_gep_f32(cg, yp, cs[g]));
}

/* Accumulates the taps of np consecutive interior output pixels (ox0 ..
 * ox0+np-1 of row oy: every column tap inside X, see interior()) for one
 * group of `lanes` channels starting at c (type t), then stores
 * act(acc[p]) to y.  Per row of taps, the weights of its kw taps are
 * loaded once and each distinct input column (p*sw + kx*dw) once, then
 * used by every pixel that reads it: for 3x3 stride 1 and np = 3, 5
 * input and 3 weight loads for 9 FMAs (emit_pixel: 18 loads).  Each
 * element's arithmetic is emit_pixel's: bias (or 0), then the taps in
 * (ky, kx) order, rows outside X skipped, then the activation.
 * pf_cols > 0: prefetches the input lines of the last row of taps
 * pf_cols columns ahead (the columns the tile pf_cols/(np*sw) blocks on
 * reads; past the row's end, the start of the next row: the next output
 * row's last row of taps), clamped into X. */
static void emit_tile(Cg *cg, const DwPlan *P, LLVMTypeRef t, int lanes, int np, LLVMValueRef x,
                      LLVMValueRef wt, LLVMValueRef bias, LLVMValueRef y, LLVMValueRef oy, LLVMValueRef ox0,
                      LLVMValueRef c, LLVMValueRef *acc, int64_t pf_cols)
{
	assert(np >= 1 && np <= DW_NP && P->kw <= DW_MAX_KW);
	LLVMValueRef a0 = bias_or_zero(cg, P, t, bias, c);
	for (int p = 0; p < np; p++)
		LLVMBuildStore(cg->b, a0, acc[p]);
	LLVMValueRef iy0 = LLVMBuildSub(cg->b, cg_mul_i64(cg, oy, P->sh), cg_i64(cg, P->top), "");
	LLVMValueRef ix0 = LLVMBuildSub(cg->b, cg_mul_i64(cg, ox0, P->sw), cg_i64(cg, P->left), "");
	if (pf_cols > 0) {
		LLVMValueRef iyb = cg_add_i64(cg, iy0, cg_i64(cg, (P->kh - 1) * P->dh));
		LLVMValueRef hi = cg_i64(cg, P->H - 1);
		iyb = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, iyb, hi, ""), hi, iyb, "");
		iyb = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, iyb, cg_i64(cg, 0), ""), cg_i64(cg, 0), iyb, "");
		LLVMValueRef ci = P->mult == 1 ? c : LLVMBuildUDiv(cg->b, c, cg_i64(cg, P->mult), "");
		LLVMValueRef off0 = cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, iyb, P->W), ix0), P->C), ci);
		LLVMValueRef last = cg_i64(cg, P->H * P->W * P->C - 1);
		for (int64_t j = 0; j < (int64_t)np * P->sw; j++) {
			LLVMValueRef off = cg_add_i64(cg, off0, cg_i64(cg, (pf_cols + j) * P->C));
			off = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, off, last, ""), last, off, "");
			kern_prefetch(cg, cg_gep_f32(cg, x, off), 0, 3);
		}
	}
	int64_t ncols = (int64_t)(np - 1) * P->sw + (P->kw - 1) * P->dw + 1;
	for (int64_t ky = 0; ky < P->kh; ky++) {
		LLVMValueRef iy = cg_add_i64(cg, iy0, cg_i64(cg, ky * P->dh));
		CgIf row;
		cg_if(cg, &row, LLVMBuildICmp(cg->b, LLVMIntULT, iy, cg_i64(cg, P->H), ""));
		LLVMValueRef xr = cg_gep_f32(cg, x, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, iy, P->W), ix0), P->C));
		LLVMValueRef wv[DW_MAX_KW];
		for (int64_t kx = 0; kx < P->kw; kx++) {
			wv[kx] = LLVMBuildLoad2(cg->b, t, cg_gep_f32(cg, wt, cg_add_i64(cg, c, cg_i64(cg, (ky * P->kw + kx) * P->M))), "");
			LLVMSetAlignment(wv[kx], 4);
		}
		for (int64_t j = 0; j < ncols; j++) {
			LLVMValueRef xv = NULL;
			for (int p = 0; p < np; p++) {
				int64_t d = j - (int64_t)p * P->sw;
				if (d < 0 || d % P->dw || d / P->dw >= P->kw)
					continue;
				if (!xv)
					xv = load_inputs(cg, P, t, lanes, cg_gep_f32(cg, xr, cg_i64(cg, j * P->C)), c);
				LLVMBuildStore(cg->b, kern_fmuladd(cg, xv, wv[d / P->dw], LLVMBuildLoad2(cg->b, t, acc[p], "")),
				               acc[p]);
			}
		}
		cg_if_end(cg, &row);
	}
	LLVMValueRef yp = cg_gep_f32(cg, y, cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, oy, P->Wo), ox0), P->M), c));
	for (int p = 0; p < np; p++)
		store_act(cg, P, t, acc[p], cg_gep_f32(cg, yp, cg_i64(cg, (int64_t)p * P->M)));
}

/* The output columns [*lo, *hi) whose column taps all fall inside X (0
 * <= ox*sw - left + kx*dw < W for every kx); *lo == *hi: none. */
static void interior(const DwPlan *P, int64_t *lo, int64_t *hi)
{
	int64_t a = (P->left + P->sw - 1) / P->sw;
	int64_t reach = P->W - 1 + P->left - (P->kw - 1) * P->dw;
	int64_t b = reach < 0 ? 0 : reach / P->sw + 1;
	if (b > P->Wo)
		b = P->Wo;
	if (a > b)
		a = b;
	*lo = a, *hi = b;
}

/* Every channel of output pixel (oy, ox), DW_GROUP vectors at a time
 * (then one group of the remaining vectors, then the scalar tail). */
static void emit_pixels(Cg *cg, const DwPlan *P, LLVMTypeRef vt, int w, LLVMValueRef x, LLVMValueRef wt,
                        LLVMValueRef bias, LLVMValueRef y, LLVMValueRef oy, LLVMValueRef ox, LLVMValueRef *vacc,
                        LLVMValueRef *sacc)
{
	int64_t full = vec_channels(P, w), tail0 = full * w;
	int64_t groups = full / DW_GROUP, grem = full % DW_GROUP;
	CgLoop lc;
	if (groups) {
		cg_for(cg, &lc, 0, groups);
		emit_pixel(cg, P, vt, w, DW_GROUP, x, wt, bias, y, oy, ox, cg_mul_i64(cg, lc.iv, (int64_t)w * DW_GROUP), vacc);
		cg_for_end(cg, &lc);
	}
	if (grem)
		emit_pixel(cg, P, vt, w, (int)grem, x, wt, bias, y, oy, ox, cg_i64(cg, groups * DW_GROUP * w), vacc);
	if (tail0 < P->M) {
		cg_for(cg, &lc, tail0, P->M);
		emit_pixel(cg, P, cg->t_f32, 1, 1, x, wt, bias, y, oy, ox, lc.iv, sacc);
		cg_for_end(cg, &lc);
	}
}

/* Every channel of the np interior pixels from ox0: the channel vectors
 * one tile each (emit_tile), then the scalar tail one channel a tile. */
static void emit_block(Cg *cg, const DwPlan *P, LLVMTypeRef vt, int w, int np, LLVMValueRef x, LLVMValueRef wt,
                       LLVMValueRef bias, LLVMValueRef y, LLVMValueRef oy, LLVMValueRef ox0, LLVMValueRef *vacc,
                       LLVMValueRef *sacc, int64_t pf_cols)
{
	int64_t full = vec_channels(P, w), tail0 = full * w;
	CgLoop lc;
	if (full) {
		cg_for(cg, &lc, 0, full);
		emit_tile(cg, P, vt, w, np, x, wt, bias, y, oy, ox0, cg_mul_i64(cg, lc.iv, w), vacc, pf_cols);
		cg_for_end(cg, &lc);
	}
	if (tail0 < P->M) {
		cg_for(cg, &lc, tail0, P->M);
		emit_tile(cg, P, cg->t_f32, 1, np, x, wt, bias, y, oy, ox0, lc.iv, sacc, 0);
		cg_for_end(cg, &lc);
	}
}

/* `void task(ptr ctx, i64 begin, i64 end)` over output rows t = b*Ho + oy;
 * ctx holds {x, weights^T, bias, y}.  A row: its left border columns
 * (some column tap outside X) pixel by pixel (emit_pixels), the interior
 * columns in blocks of np pixels, all channels of a block before the
 * next (emit_block: the rows of taps are read as contiguous runs of
 * np*sw pixels, the input lines of the block ahead prefetched), the
 * remaining interior columns as one smaller block, then the right
 * border. */
static LLVMValueRef emit_task(Cg *cg, const DwPlan *P)
{
	KFn kf;
	LLVMValueRef base[4];
	LLVMValueRef fn = kern_task_begin(cg, &kf, "dwconv_task", 4, base);
	int w = cg->isa.vlen > 1 ? cg->isa.vlen : 1;
	LLVMTypeRef vt = w > 1 ? LLVMVectorType(cg->t_f32, (unsigned)w) : cg->t_f32;
	int np = DW_NP;
	LLVMValueRef vacc[DW_NP > DW_GROUP ? DW_NP : DW_GROUP], sacc[DW_NP];
	for (int g = 0; g < (int)(sizeof vacc / sizeof vacc[0]); g++)
		vacc[g] = cg_alloca(cg, vt, "acc");
	for (int g = 0; g < DW_NP; g++)
		sacc[g] = cg_alloca(cg, cg->t_f32, "acc1");
	int64_t lo, hi;
	interior(P, &lo, &hi);
	if (P->kw > DW_MAX_KW)
		lo = hi = 0; /* every column pixel by pixel */
	int64_t nblk = (hi - lo) / np, rem = (hi - lo) % np;

	CgLoop lt, lx;
	cg_for_v(cg, &lt, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef img = LLVMBuildSDiv(cg->b, lt.iv, cg_i64(cg, P->Ho), "");
	LLVMValueRef oy = LLVMBuildSRem(cg->b, lt.iv, cg_i64(cg, P->Ho), "");
	LLVMValueRef x = cg_gep_f32(cg, base[0], cg_mul_i64(cg, img, P->H * P->W * P->C));
	LLVMValueRef y = cg_gep_f32(cg, base[3], cg_mul_i64(cg, img, P->Ho * P->Wo * P->M));
	if (lo > 0) {
		cg_for(cg, &lx, 0, lo);
		emit_pixels(cg, P, vt, w, x, base[1], base[2], y, oy, lx.iv, vacc, sacc);
		cg_for_end(cg, &lx);
	}
	if (nblk) {
		cg_for(cg, &lx, 0, nblk);
		emit_block(cg, P, vt, w, np, x, base[1], base[2], y, oy, cg_add_i64(cg, cg_mul_i64(cg, lx.iv, np), cg_i64(cg, lo)),
		           vacc, sacc, DW_PF_TILES * np * P->sw);
		cg_for_end(cg, &lx);
	}
	if (rem)
		emit_block(cg, P, vt, w, (int)rem, x, base[1], base[2], y, oy, cg_i64(cg, lo + nblk * np), vacc, sacc,
		           DW_PF_TILES * np * P->sw);
	if (hi < P->Wo) {
		cg_for(cg, &lx, hi, P->Wo);
		emit_pixels(cg, P, vt, w, x, base[1], base[2], y, oy, lx.iv, vacc, sacc);
		cg_for_end(cg, &lx);
	}
	cg_for_end(cg, &lt);
	kern_fn_end(cg, &kf);
	return fn;
}

bool cg_lower_dwconv_nhwc(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	const Value *X = gval(g, n->in[0]), *Wv = gval(g, n->in[1]), *Y = gval(g, n->out[0]);
	bool has_bias = n->nin > 2 && n->in[2] != IR_NONE;
	if (Wv->kind != VK_CONST || !Wv->data)
		return cg_unsupported(cg, 1, "DwConvNhwc with run-time weights");
	assert(Wv->layout == LAYOUT_TAPS); /* ir_verify: DwConvNhwc reads taps */
	DwPlan P;
	memset(&P, 0, sizeof P);
	P.B = X->shape.dims[0], P.C = X->shape.dims[2], P.M = Wv->shape.dims[0];
	assert(P.C >= 1 && P.M % P.C == 0); /* infer_dwconv_nhwc */
	P.mult = P.M / P.C;
	P.H = attr_int(n, "height", 0), P.W = attr_int(n, "width", 0);
	const WindowParams *wp = node_window(g, (NodeId)(n - g->nodes), cg->d);
	if (!wp)
		return false;
	P.kh = wp->kernel[0], P.kw = wp->kernel[1];
	P.sh = wp->strides[0], P.sw = wp->strides[1];
	P.dh = wp->dilations[0], P.dw = wp->dilations[1];
	P.top = wp->pads[0], P.left = wp->pads[1];
	P.Ho = (P.H + wp->pads[0] + wp->pads[2] - P.dh * (P.kh - 1) - 1) / P.sh + 1;
	P.Wo = Y->shape.dims[1] / P.Ho;
	assert(P.Ho * P.Wo == Y->shape.dims[1]);
	P.has_bias = has_bias;
	const char *act = attr_string(n, "act", "");
	P.act = !strcmp(act, "gelu") ? KACT_GELU : !strcmp(act, "gelu_tanh") ? KACT_GELU_TANH : KACT_NONE;

	LLVMValueRef task = emit_task(cg, &P);
	LLVMValueRef ptrs[4] = {cg_ptr(cg, n->in[0]), weights_t(cg, Wv, &P),
	                        has_bias ? cg_ptr(cg, n->in[2]) : NULL, cg_ptr(cg, n->out[0])};
	kern_parallel_ptrs(cg, task, ptrs, 4, P.B * P.Ho);
	return true;
}

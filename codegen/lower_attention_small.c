/* codegen/lower_attention_small.c — fused Attention over short sequences
 * (Swin / MaxViT windows: 49 tokens, head dim 32): one block of R query
 * rows with its whole score rows in registers.
 *
 * The general path (lower_attention.c emit_block) runs Q.K^T and P.V on
 * the GEMM micro-kernels (MR x NR = 12 x 2W) through a score buffer: with
 * 49 keys and K = 32 that is a 1-row edge tile, a masked second column
 * panel, the C tile stored and then read back by two passes of softmax
 * (max, then exp and sum) and the E tile read again by P.V, whose output
 * is stored and read back again to be normalised (swin_t, 1 thread: 7.0 %
 * of the time for 3.1 % of the FLOPs; docs/kernels.md).  Here, per block of R rows (R chosen
 * so that R x nv accumulators fit the registers, nv = ceil(Nk / W) <= 4,
 * and the rows split evenly: 49 = 7 x 7 on AVX-512):
 *   S = Q_blk . K^T      R x nv accumulators over k < d, K^T rows read as
 *                        nv vectors (staged K^T, zero-padded, or K itself
 *                        when it is contiguous along the keys); a last
 *                        score vector of one key (49 = 3 x 16 + 1) is one
 *                        8-lane accumulator for the block, lane r = row r,
 *                        its key read from K in place (not staged)
 *   per row, in registers: s = alpha * S + bias, m = max, e = exp(s - m),
 *                        l = sum e; e stored to the block's E rows (L1);
 *                        the rows' exps of that one key: one vector exp
 *   O_blk = E . V        R x ceil(dv / W) accumulators over the keys, each
 *                        row scaled by 1 / l as it is stored; the loop
 *                        also prefetches the next batch entry's rows.
 * The scores, the max and every exp are the general path's bits (the
 * micro-kernel's fmuladd chain over k from zero, then alpha and the bias;
 * the max is order-free; a lane's exp is the same in any width), and so
 * is P.V's chain over the keys from zero and O * (1 / l), and the row sum
 * l: the score vectors added lane by lane, then the lanes folded in
 * halves, as cg_attn_exp_sum adds them — so both paths give the same bits
 * (test_attention checks it at every vector width).  Each output row
 * is computed by the same code whatever the partition of the tasks (batch
 * entry x block of rows), so results are bitwise the same for every
 * thread count.
 */
#include "lower.h"
#include "attention.h"
#include "kernels/kernels.h"
#include "mathfn.h"

#include <assert.h>

bool cg_attn_small_off;

/* Most score vectors per row (keys <= SMALL_NV * W). */
#define SMALL_NV 4

int cg_attn_small_rows(const Cg *cg, const AttnPlan *A)
{
	int w = cg->isa.vlen;
	if (cg_attn_small_off || w < 4 || w > 16 || A->nks != 1 || A->nvs != 1)
		return 0;
	if (A->nk < 1 || A->nk > SMALL_NV * w || A->dv < 1 || A->dv > SMALL_NV * w || A->d < 1)
		return 0;
	if (!A->ktp && A->kb_cs[0] != 1)
		return 0;
	if (A->v_cs[0] != 1 || (A->has_bias && A->bias_cs != 0 && A->bias_cs != 1))
		return 0;
	int nv = (int)((A->nk + w - 1) / w), no = (int)((A->dv + w - 1) / w);
	/* the score accumulators and one row of K^T, and the output's */
	int r = (cg->isa.nregs - 2) / nv;
	int ro = (cg->isa.nregs - no - 2) / no;
	if (ro < r)
		r = ro;
	if (r > 8)
		r = 8;
	return r >= 1 ? r : 0;
}

bool cg_attn_small_k1(const Cg *cg, const AttnPlan *A)
{
	int64_t w = cg->isa.vlen;
	return A->small_nv >= 2 && A->nk - (A->small_nv - 1) * w == 1;
}

static LLVMValueRef vmax(Cg *cg, LLVMValueRef a, LLVMValueRef x)
{
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, a, ""), x, a, "");
}

/* The wt-lane x widened to w lanes, the lanes past wt taken from fill's
 * lane 0 (fill: a wt-lane splat). */
static LLVMValueRef widen(Cg *cg, LLVMValueRef x, LLVMValueRef fill, int wt, int w)
{
	LLVMValueRef idx[16];
	for (int i = 0; i < w; i++)
		idx[i] = cg_i32(cg, i < wt ? i : wt);
	return LLVMBuildShuffleVector(cg->b, x, fill, LLVMConstVector(idx, (unsigned)w), "");
}

/* Prefetches (into L2; rw 1: for writing) the n contiguous floats at
 * row: one line per 16 floats (all its lines when row is 64-byte
 * aligned, as a head's rows of 16k floats are). */
static void prefetch_row(Cg *cg, LLVMValueRef row, int64_t n, int rw)
{
	for (int64_t c = 0; c < n; c += 16)
		kern_prefetch(cg, cg_gep_f32(cg, row, cg_i64(cg, c)), rw, 2);
}

/* The next batch entry's row i (an i64 value) of Q, bias and O, and its
 * key of the same index (clamped to the keys) of K and V: each batch
 * entry (a window-head) reads a few KiB of rows from a large Q/K/V tensor
 * that is long out of L2; fetched while this entry computes, they no
 * longer stall its first block. */
static void prefetch_next(Cg *cg, const AttnPlan *A, LLVMValueRef *pn, LLVMValueRef i)
{
	LLVMValueRef j = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, i, cg_i64(cg, A->nk), ""), i,
	                                 cg_i64(cg, A->nk - 1), "");
	if (A->q_cs == 1)
		prefetch_row(cg, cg_gep_f32(cg, pn[AP_Q], cg_mul_i64(cg, i, A->q_rs)), A->d, 0);
	if (A->kb_rs[0] == 1)
		prefetch_row(cg, cg_gep_f32(cg, pn[AP_K], cg_mul_i64(cg, j, A->kb_cs[0])), A->d, 0);
	prefetch_row(cg, cg_gep_f32(cg, pn[AP_V], cg_mul_i64(cg, j, A->v_rs[0])), A->dv, 0);
	if (A->has_bias && A->bias_cs == 1)
		prefetch_row(cg, cg_gep_f32(cg, pn[AP_BIAS], cg_mul_i64(cg, i, A->bias_rs)), A->nk, 0);
	prefetch_row(cg, cg_gep_f32(cg, pn[AP_O], cg_mul_i64(cg, i, A->o_rs)), A->dv, 1);
}

void cg_attn_small_block(Cg *cg, const AttnPlan *A, LLVMValueRef *p, LLVMValueRef *pn, LLVMValueRef i0,
                         int64_t rows, LLVMValueRef sbuf, LLVMValueRef kt)
{
	int w = cg->isa.vlen, nv = A->small_nv;
	int no = (int)((A->dv + w - 1) / w);
	int kvalid = (int)(A->nk - (int64_t)(nv - 1) * w); /* lanes of the last score vector */
	int ovalid = (int)(A->dv - (int64_t)(no - 1) * w);
	int64_t ep = (int64_t)nv * w;                       /* E row stride in sbuf */
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	/* the last score vector: the narrowest of W/2^i lanes (at least 4)
	 * that holds the keys left; half a vector's FMAs and exp cost half
	 * (Zen 4 splits 512-bit ops in two), and a lane's value is the same
	 * in any width */
	int wt = w;
	while (wt / 2 >= 4 && wt / 2 >= kvalid)
		wt /= 2;
	LLVMTypeRef vtt = LLVMVectorType(cg->t_f32, (unsigned)wt);
#define VT(v) ((v) == nv - 1 ? vtt : vt)
#define WT(v) ((v) == nv - 1 ? wt : w)
	assert(rows >= 1 && rows <= 8 && nv <= SMALL_NV && no <= SMALL_NV);
#define VK(v) ((v) == nv - 1 ? kvalid : w)
#define VO(c) ((c) == no - 1 ? ovalid : w)

	/* rows of Q, bias and O */
	LLVMValueRef qrow[8], brow[8], orow[8];
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef i = cg_add_i64(cg, i0, cg_i64(cg, r));
		qrow[r] = cg_gep_f32(cg, p[AP_Q], cg_mul_i64(cg, i, A->q_rs));
		brow[r] = A->has_bias ? cg_gep_f32(cg, p[AP_BIAS], cg_mul_i64(cg, i, A->bias_rs)) : NULL;
		orow[r] = cg_gep_f32(cg, p[AP_O], cg_mul_i64(cg, i, A->o_rs));
	}

	/* the next entry's rows i0 .. i0 + rows: up front when the keys are
	 * fewer than the rows, else one row every `pstep` keys of the P.V
	 * loop (at once, 56-84 prefetches a block were 6-9 % of a window-head:
	 * among the loop's FMAs they cost little) */
	int64_t pstep = pn ? A->nk / rows : 0;
	if (pn && !pstep)
		for (int64_t r = 0; r < rows; r++)
			prefetch_next(cg, A, pn, cg_add_i64(cg, i0, cg_i64(cg, r)));

	/* S = Q_blk . K^T: acc[r][v] = fmuladd chains over k from zero.  When
	 * the last score vector holds a single key (k1: 49 = 3 x 16 + 1), that
	 * key's scores of the block's rows are one 8-lane accumulator, lane r
	 * for row r (the same chain over k per lane: the same bits), its K
	 * element read in place and splat: one 8-lane FMA per k instead of a
	 * narrow FMA per row with one useful lane (and R accumulators fewer:
	 * the 28 of a 7-row block at 16 lanes spilled) */
	bool k1 = cg_attn_small_k1(cg, A);
	int nf = k1 ? nv - 1 : nv; /* score vectors handled as vectors */
	LLVMTypeRef v8 = LLVMVectorType(cg->t_f32, 8);
	LLVMValueRef acc[8][SMALL_NV], acc1 = NULL;
	for (int64_t r = 0; r < rows; r++)
		for (int v = 0; v < nf; v++) {
			acc[r][v] = cg_alloca(cg, VT(v), "sacc");
			LLVMBuildStore(cg->b, LLVMConstNull(VT(v)), acc[r][v]);
		}
	if (k1) {
		acc1 = cg_alloca(cg, v8, "sacc1");
		LLVMBuildStore(cg->b, LLVMConstNull(v8), acc1);
	}
	CgLoop lk;
	cg_for(cg, &lk, 0, A->d);
	LLVMValueRef bv[SMALL_NV];
	for (int v = 0; v < nf; v++) {
		if (kt) {
			/* staged rows are zero-padded to ktp >= nv * W */
			bv[v] = kern_vload(cg, VT(v), WT(v), cg_gep_f32(cg, kt, cg_add_i64(cg, cg_mul_i64(cg, lk.iv, A->ktp), cg_i64(cg, v * w))),
			              WT(v));
		} else {
			LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, lk.iv, A->kb_rs[0]), cg_i64(cg, v * w));
			bv[v] = kern_vload(cg, VT(v), WT(v), cg_gep_f32(cg, p[AP_K], off), VK(v));
		}
	}
	LLVMValueRef kl = NULL, qc = NULL;
	if (k1) {
		/* K[nk - 1, k] in place (not staged: stage_kt stops before it) */
		LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, lk.iv, A->kb_rs[0]), cg_i64(cg, (A->nk - 1) * A->kb_cs[0]));
		kl = kern_splat(cg, v8, LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, p[AP_K], off), ""));
		qc = LLVMConstNull(v8);
	}
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef a = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, qrow[r], cg_mul_i64(cg, lk.iv, A->q_cs)), "");
		LLVMValueRef sv = kern_splat(cg, vt, a), svt = wt < w ? kern_splat(cg, vtt, a) : sv;
		for (int v = 0; v < nf; v++)
			LLVMBuildStore(cg->b, kern_fmuladd(cg, v == nv - 1 ? svt : sv, bv[v], LLVMBuildLoad2(cg->b, VT(v), acc[r][v], "")),
			               acc[r][v]);
		if (k1)
			qc = LLVMBuildInsertElement(cg->b, qc, a, cg_i32(cg, (int)r), "");
	}
	if (k1)
		LLVMBuildStore(cg->b, kern_fmuladd(cg, qc, kl, LLVMBuildLoad2(cg->b, v8, acc1, "")), acc1);
	cg_for_end(cg, &lk);

	/* per row: scores, softmax numerators into E, 1 / sum.  When the last
	 * score vector holds a single key (49 = 3 x 16 + 1), that key's score
	 * is kept as a scalar per row and the R rows' exps of it are one
	 * vector exp (k1): a narrow-vector exp per row, with one useful lane,
	 * was a fifth of the softmax.  Its lane is the same exp, added to lane 0
	 * of the row's vector sum before the fold as the widened tail was
	 * (the other lanes + 0): the same bits. */
	LLVMValueRef inv[8], s[8][SMALL_NV], ms[8], st[8];
	LLVMValueRef ninf = kern_splat(cg, vt, cg_f32(cg, -__builtin_inff()));
	LLVMValueRef ninft = kern_splat(cg, vtt, cg_f32(cg, -__builtin_inff()));
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef m = NULL;
		LLVMValueRef bsc = NULL;
		if (A->has_bias && A->bias_cs == 0)
			bsc = LLVMBuildLoad2(cg->b, cg->t_f32, brow[r], "");
		for (int v = 0; v < nf; v++) {
			LLVMValueRef y = LLVMBuildLoad2(cg->b, VT(v), acc[r][v], "");
			if (A->scale != 1.0f)
				y = LLVMBuildFMul(cg->b, y, kern_splat(cg, VT(v), cg_f32(cg, A->scale)), "");
			if (A->has_bias)
				y = LLVMBuildFAdd(cg->b, y,
				                  bsc ? kern_splat(cg, VT(v), bsc)
				                      : kern_vload(cg, VT(v), WT(v), cg_gep_f32(cg, brow[r], cg_i64(cg, v * w)), VK(v)),
				                  "");
			s[r][v] = y;
			/* lanes past the keys out of the max; a narrow tail widened
			 * with -inf */
			LLVMValueRef x = VK(v) < WT(v) ? LLVMBuildSelect(cg->b, kern_lane_mask(cg, WT(v), VK(v)), y, v == nv - 1 ? ninft : ninf, "") : y;
			if (WT(v) < w)
				x = widen(cg, x, ninft, wt, w);
			m = m ? vmax(cg, m, x) : x;
		}
		ms[r] = cg_attn_fold(cg, m, w, true);
		if (k1) {
			/* the last key's score: lane r of its accumulator, the same
			 * scalar operations (the max is order-free) */
			LLVMValueRef y = LLVMBuildExtractElement(cg->b, LLVMBuildLoad2(cg->b, v8, acc1, ""), cg_i32(cg, (int)r), "");
			if (A->scale != 1.0f)
				y = LLVMBuildFMul(cg->b, y, cg_f32(cg, A->scale), "");
			if (A->has_bias)
				y = LLVMBuildFAdd(cg->b, y,
				                  bsc ? bsc
				                      : LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, brow[r], cg_i64(cg, (nv - 1) * w)), ""),
				                  "");
			st[r] = y;
			ms[r] = vmax(cg, ms[r], y);
		}
	}
	LLVMValueRef et = NULL;
	if (k1) {
		/* exp(s - m) of the last key of every row, lane r (w lanes, or 8
		 * when the rows outnumber them; the other lanes exp(0)) */
		int lt = rows <= w ? w : 8;
		LLVMTypeRef vl = LLVMVectorType(cg->t_f32, (unsigned)lt);
		LLVMValueRef x = LLVMConstNull(vl);
		for (int64_t r = 0; r < rows; r++)
			x = LLVMBuildInsertElement(cg->b, x, LLVMBuildFSub(cg->b, st[r], ms[r], ""), cg_i32(cg, (int)r), "");
		et = cg_math_exp_nonpos(cg, x);
	}
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef mv = kern_splat(cg, vt, ms[r]), mvt = kern_splat(cg, vtt, ms[r]);
		/* e = exp(s - m); the sum: the vectors added lane by lane (the
		 * tail's lanes past the keys zeroed, a narrow tail into the low
		 * lanes), then the lanes folded (cg_attn_fold) */
		LLVMValueRef vs = NULL;
		LLVMValueRef erow = cg_gep_f32(cg, sbuf, cg_i64(cg, r * ep));
		for (int v = 0; v < nf; v++) {
			LLVMValueRef e = cg_math_exp_nonpos(cg, LLVMBuildFSub(cg->b, s[r][v], WT(v) < w ? mvt : mv, ""));
			kern_vstore(cg, VT(v), WT(v), cg_gep_f32(cg, erow, cg_i64(cg, v * w)), e, WT(v));
			if (VK(v) < WT(v))
				e = LLVMBuildSelect(cg->b, kern_lane_mask(cg, WT(v), VK(v)), e, LLVMConstNull(VT(v)), "");
			if (WT(v) < w)
				e = widen(cg, e, LLVMConstNull(vtt), wt, w);
			vs = vs ? LLVMBuildFAdd(cg->b, vs, e, "") : e;
		}
		if (k1) {
			LLVMValueRef e = LLVMBuildExtractElement(cg->b, et, cg_i32(cg, (int)r), "");
			LLVMBuildStore(cg->b, e, cg_gep_f32(cg, erow, cg_i64(cg, (nv - 1) * w)));
			LLVMValueRef l0 = LLVMBuildFAdd(cg->b, LLVMBuildExtractElement(cg->b, vs, cg_i32(cg, 0), ""), e, "");
			vs = LLVMBuildInsertElement(cg->b, vs, l0, cg_i32(cg, 0), "");
		}
		LLVMValueRef sum = cg_attn_fold(cg, vs, w, false);
		inv[r] = LLVMBuildFDiv(cg->b, cg_f32(cg, 1.0f), sum, "");
	}

	/* O_blk = E . V: oacc[r][c] = fmuladd chains over the keys from zero,
	 * then * (1 / l) */
	LLVMValueRef oacc[8][SMALL_NV];
	for (int64_t r = 0; r < rows; r++)
		for (int c = 0; c < no; c++) {
			oacc[r][c] = cg_alloca(cg, vt, "oacc");
			LLVMBuildStore(cg->b, LLVMConstNull(vt), oacc[r][c]);
		}
	CgLoop lj;
	cg_for(cg, &lj, 0, A->nk);
	if (pstep) {
		CgIf pf;
		LLVMValueRef pr = LLVMBuildUDiv(cg->b, lj.iv, cg_i64(cg, pstep), "");
		LLVMValueRef on = LLVMBuildAnd(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, LLVMBuildURem(cg->b, lj.iv, cg_i64(cg, pstep), ""), cg_i64(cg, 0), ""),
		                               LLVMBuildICmp(cg->b, LLVMIntULT, pr, cg_i64(cg, rows), ""), "");
		cg_if(cg, &pf, on);
		prefetch_next(cg, A, pn, cg_add_i64(cg, i0, pr));
		cg_if_end(cg, &pf);
	}
	LLVMValueRef vrow = cg_gep_f32(cg, p[AP_V], cg_mul_i64(cg, lj.iv, A->v_rs[0]));
	LLVMValueRef vv[SMALL_NV];
	for (int c = 0; c < no; c++)
		vv[c] = kern_vload(cg, vt, w, cg_gep_f32(cg, vrow, cg_i64(cg, c * w)), VO(c));
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef e = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, sbuf, cg_add_i64(cg, lj.iv, cg_i64(cg, r * ep))), "");
		LLVMValueRef sv = kern_splat(cg, vt, e);
		for (int c = 0; c < no; c++)
			LLVMBuildStore(cg->b, kern_fmuladd(cg, sv, vv[c], LLVMBuildLoad2(cg->b, vt, oacc[r][c], "")), oacc[r][c]);
	}
	cg_for_end(cg, &lj);
	for (int64_t r = 0; r < rows; r++) {
		LLVMValueRef iv = kern_splat(cg, vt, inv[r]);
		for (int c = 0; c < no; c++) {
			LLVMValueRef y = LLVMBuildFMul(cg->b, LLVMBuildLoad2(cg->b, vt, oacc[r][c], ""), iv, "");
			kern_vstore(cg, vt, w, cg_gep_f32(cg, orow[r], cg_i64(cg, c * w)), y, VO(c));
		}
	}
#undef VK
#undef VO
#undef VT
#undef WT
}

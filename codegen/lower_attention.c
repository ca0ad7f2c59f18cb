/* codegen/lower_attention.c — the fused Attention op (ops.def, made by
 * passes/fuse_attention.c):  O = softmax(scale * Q.K^T + bias) . V  over the
 * last axis, per batch entry.
 *
 * Work is split at compile time into tasks (batch entry x block of R query
 * rows), run through kern_parallel.  When K's rows are contiguous along d
 * but its keys are not (K read out of a fused QKV tensor), K^T of the
 * batch entry is first staged on the stack (stage_kt: W x W transposes in
 * registers), once for all the blocks of that entry in the task range.
 * Per task:
 *   S = scale * Q_blk . K^T + bias_blk    into a stack buffer of R rows of
 *                                         Nk floats (row stride A.sld: Nk
 *                                         rounded up to W; R chosen so that
 *                                         R x Nk stays within 128 KiB: the
 *                                         Nq x Nk score tensor never
 *                                         exists): qk_tiles
 *                                         (the rows' maxes taken in its
 *                                         register tiles) when K^T's keys
 *                                         are contiguous, else
 *                                         kern_gemm_here
 *   per row: m = max, e = exp(s - m) in place, l = sum e  (W-lane vectors,
 *            W = cg->isa.vlen, with the vector exp of codegen/mathfn.h;
 *            two rows at a time after qk_tiles)
 *   O_blk = E . V                          kern_gemm_here into the output
 *   O_blk[r, :] *= 1 / l[r]
 * Short sequences (keys and dv within 4 vectors: Swin/MaxViT windows) take
 * lower_attention_small.c instead: blocks of rows whose scores stay in
 * registers (rows per block from cg_attn_small_rows, split evenly).
 * Every output row is computed by the same code whatever the partition of
 * tasks among threads, so results are bitwise identical on any number of
 * threads.  Targets without a vector unit (vlen < 4) get plain loop nests
 * for the two products.  Batch dims of Q, K, V and bias broadcast (stride
 * 0); the bias is added by the first product's residual epilogue.
 *
 * K and V may each come in two segments along the token axis (inputs K2,
 * V2: the skip-layer Concat, never built): the first product then fills
 * the score columns [0, n0) from K and [n0, Nk) from K2, the softmax runs
 * over the whole row, and the second product is E[:, :m0] . V followed by
 * E[:, m0:] . V2 accumulated into the same output rows (KGemm.accumulate).
 */
#include "lower.h"
#include "attention.h"
#include "kernels/kernels.h"
#include "mathfn.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Floats of the score block kept on the stack per task. */
#define ATTN_BLOCK_FLOATS (32 * 1024)
/* Floats of the staged K^T (d x keys) kept on the stack per task. */
#define ATTN_KT_FLOATS (16 * 1024)


/* C = alpha * A.B + res, or C += A.B with accumulate (the subset of KGemm
 * the attention products use) as a plain loop nest: for targets without a
 * vector unit. */
static void plain_gemm(Cg *cg, const KGemm *g)
{
	LLVMValueRef acc = cg_alloca(cg, cg->t_f32, "acc");
	CgLoop li, lj, lk;
	cg_for(cg, &li, 0, g->M);
	cg_for(cg, &lj, 0, g->N);
	LLVMValueRef cp = cg_gep_f32(cg, g->c, cg_add_i64(cg, cg_mul_i64(cg, li.iv, g->ldc), lj.iv));
	LLVMBuildStore(cg->b, g->accumulate ? LLVMBuildLoad2(cg->b, cg->t_f32, cp, "") : cg_f32(cg, 0.0f), acc);
	cg_for(cg, &lk, 0, g->K);
	LLVMValueRef a = LLVMBuildLoad2(cg->b, cg->t_f32,
	                                cg_gep_f32(cg, g->a, cg_add_i64(cg, cg_mul_i64(cg, li.iv, g->a_rs), cg_mul_i64(cg, lk.iv, g->a_cs))), "");
	LLVMValueRef b = LLVMBuildLoad2(cg->b, cg->t_f32,
	                                cg_gep_f32(cg, g->b, cg_add_i64(cg, cg_mul_i64(cg, lk.iv, g->b_rs), cg_mul_i64(cg, lj.iv, g->b_cs))), "");
	LLVMValueRef s = LLVMBuildLoad2(cg->b, cg->t_f32, acc, "");
	LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, s, LLVMBuildFMul(cg->b, a, b, ""), ""), acc);
	cg_for_end(cg, &lk);
	LLVMValueRef y = LLVMBuildLoad2(cg->b, cg->t_f32, acc, "");
	if (g->alpha != 1.0f)
		y = LLVMBuildFMul(cg->b, y, cg_f32(cg, g->alpha), "");
	if (g->res) {
		LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32,
		                                cg_gep_f32(cg, g->res, cg_add_i64(cg, cg_mul_i64(cg, li.iv, g->res_rs),
		                                                            cg_mul_i64(cg, lj.iv, g->res_cs))), "");
		y = LLVMBuildFAdd(cg->b, y, x, "");
	}
	LLVMBuildStore(cg->b, y, cp);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &li);
}

void cg_attn_gemm(Cg *cg, const KGemm *g)
{
	if (cg->isa.vlen >= 4) {
		bool ok = kern_gemm_here(cg, g);
		assert(ok);
		(void)ok;
	} else {
		plain_gemm(cg, g);
	}
}

/* Horizontal max (is_max) or sum of the n floats at row, in W-lane
 * vectors over full chunks, the tail masked in, then the lanes folded in
 * order.  NaN in the row: the max may drop it, but exp(NaN - m) then
 * carries it into the sum and every output of the row. */
LLVMValueRef cg_attn_row_reduce(Cg *cg, LLVMValueRef row, int64_t n, bool is_max)
{
	int w = cg->isa.vlen < 1 ? 1 : cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	float init = is_max ? -__builtin_inff() : 0.0f;
	LLVMValueRef initv[64];
	assert(w <= 64);
	for (int i = 0; i < w; i++)
		initv[i] = cg_f32(cg, init);
	LLVMValueRef vinit = LLVMConstVector(initv, (unsigned)w);
	LLVMValueRef acc = cg_alloca(cg, vt, is_max ? "vmax" : "vsum");
	LLVMBuildStore(cg->b, vinit, acc);
	int64_t full = n / w, rem = n % w;
#define COMBINE(a, x) (is_max ? LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, (x), (a), ""), (x), (a), "") \
                              : LLVMBuildFAdd(cg->b, (a), (x), ""))
	/* the max is the same in any order: 4 accumulators, so that a row's
	 * max is not a chain of `full` dependent vector maxes (its exps wait
	 * for it: ~3 cycles a vector, a quarter of the time of a 392-key
	 * softmax row); the sum keeps its order */
	int nacc = is_max && w > 1 && full >= 8 ? 4 : 1;
	LLVMValueRef accs[4] = {acc};
	for (int i = 1; i < nacc; i++) {
		accs[i] = cg_alloca(cg, vt, "vmax");
		LLVMBuildStore(cg->b, vinit, accs[i]);
	}
	int64_t grp = full / nacc;
	if (grp) {
		CgLoop l;
		cg_for(cg, &l, 0, grp);
		for (int i = 0; i < nacc; i++) {
			LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, cg_gep_f32(cg, row, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, l.iv, nacc), cg_i64(cg, i)), w)), "");
			LLVMSetAlignment(x, 4);
			LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, accs[i], "");
			LLVMBuildStore(cg->b, COMBINE(a, x), accs[i]);
		}
		cg_for_end(cg, &l);
	}
	LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, acc, "");
	for (int i = 1; i < nacc; i++)
		a = COMBINE(a, LLVMBuildLoad2(cg->b, vt, accs[i], ""));
	for (int64_t j = grp * nacc; j < full; j++) {
		LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, cg_gep_f32(cg, row, cg_i64(cg, j * w)), "");
		LLVMSetAlignment(x, 4);
		a = COMBINE(a, x);
	}
	LLVMValueRef r = NULL;
	if (is_max && w > 1) {
		/* the max is the same whatever the order (no NaN enters the
		 * lanes; a zero's sign changes no exp(s - m)): the tail as one
		 * masked vector (-inf past the row), then the lanes in a
		 * log2(W)-step fold (cg_attn_fold), not a chain of W + rem dependent
		 * scalar selects (~3 cycles each, on every row) */
		if (rem) {
			LLVMValueRef lanes[64];
			for (int i = 0; i < w; i++)
				lanes[i] = LLVMConstInt(cg->t_i1, i < rem, 0);
			LLVMTypeRef over[2] = {vt, cg->t_ptr};
			LLVMValueRef largs[4] = {cg_gep_f32(cg, row, cg_i64(cg, full * w)), cg_i32(cg, 4),
			                         LLVMConstVector(lanes, (unsigned)w), vinit};
			LLVMValueRef x = kern_intrinsic(cg, "llvm.masked.load", over, 2, largs, 4);
			a = COMBINE(a, x);
		}
		r = cg_attn_fold(cg, a, w, true);
	} else {
		for (int i = 0; i < w; i++) {
			LLVMValueRef x = LLVMBuildExtractElement(cg->b, a, cg_i32(cg, i), "");
			r = r ? COMBINE(r, x) : x;
		}
		for (int64_t j = 0; j < rem; j++) {
			LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, row, cg_i64(cg, full * w + j)), "");
			r = COMBINE(r, x);
		}
	}
#undef COMBINE
	return r;
}

LLVMValueRef cg_attn_fold(Cg *cg, LLVMValueRef x, int w, bool is_max)
{
	for (int h = w / 2; h >= 1; h /= 2) {
		LLVMValueRef lo[64], hi[64];
		for (int i = 0; i < h; i++)
			lo[i] = cg_i32(cg, i), hi[i] = cg_i32(cg, i + h);
		LLVMValueRef a = LLVMBuildShuffleVector(cg->b, x, LLVMGetUndef(LLVMTypeOf(x)), LLVMConstVector(lo, (unsigned)h), "");
		LLVMValueRef b = LLVMBuildShuffleVector(cg->b, x, LLVMGetUndef(LLVMTypeOf(x)), LLVMConstVector(hi, (unsigned)h), "");
		x = is_max ? LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, b, a, ""), b, a, "")
		           : LLVMBuildFAdd(cg->b, a, b, "");
	}
	return LLVMBuildExtractElement(cg->b, x, cg_i32(cg, 0), "");
}

/* row[j] = exp(row[j] - m) for j < n; returns the sum of the new row.
 * W-lane vectors over full chunks (vector exp), added lane by lane into
 * one vector accumulator, then the tail as one masked vector (masked load
 * and store: nothing past row[n - 1] is touched) whose lanes past the row
 * are zeroed and which is added to the accumulator the same way; the
 * accumulator's lanes are then folded in halves (cg_attn_fold).  This is
 * the order of the short-sequence path's sums (lower_attention_small.c:
 * its score vectors added lane by lane, the tail's lanes past the keys
 * zero, the same fold), so both paths give the same bits.  It replaced a
 * fold of the accumulator's lanes one by one and then of the tail's: a
 * chain of W + rem dependent scalar adds on every row (a third of the
 * softmax of a 98-key row). */
/* cg_attn_exp_sum, and with next (a row of n floats, or NULL) also
 * *mnext = the max of next, taken in the same loop (see softmax_rows);
 * the max is order-free, so it is the value cg_attn_row_reduce gives. */
static LLVMValueRef exp_sum_next(Cg *cg, LLVMValueRef row, int64_t n, LLVMValueRef m, LLVMValueRef next,
                                 LLVMValueRef *mnext)
{
	int w = cg->isa.vlen < 1 ? 1 : cg->isa.vlen;
	int64_t full = w > 1 ? n / w : 0, rem = n - full * w;
	LLVMValueRef r = cg_f32(cg, 0.0f);
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	if (next && (w == 1 || !full)) {
		*mnext = cg_attn_row_reduce(cg, next, n, true);
		next = NULL;
	}
	if (w > 1) {
		LLVMValueRef mv = kern_splat(cg, vt, m);
		LLVMValueRef acc = cg_alloca(cg, vt, "esum");
		LLVMBuildStore(cg->b, LLVMConstNull(vt), acc);
		LLVMValueRef ninf = kern_splat(cg, vt, cg_f32(cg, -__builtin_inff()));
		LLVMValueRef macc = NULL;
		if (next) {
			macc = cg_alloca(cg, vt, "nmax");
			LLVMBuildStore(cg->b, ninf, macc);
		}
		if (full) {
			CgLoop l;
			cg_for(cg, &l, 0, full);
			LLVMValueRef off = cg_mul_i64(cg, l.iv, w);
			LLVMValueRef p = cg_gep_f32(cg, row, off);
			LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, p, "");
			LLVMSetAlignment(x, 4);
			if (next) {
				/* the next row's vector, loaded before this row's
				 * store (next may be row itself on the last row:
				 * that max is not used) */
				LLVMValueRef y = LLVMBuildLoad2(cg->b, vt, cg_gep_f32(cg, next, off), "");
				LLVMSetAlignment(y, 4);
				LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, macc, "");
				LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, y, a, ""), y, a, ""),
				               macc);
			}
			LLVMValueRef e = cg_math_exp_nonpos(cg, LLVMBuildFSub(cg->b, x, mv, ""));
			LLVMValueRef st = LLVMBuildStore(cg->b, e, p);
			LLVMSetAlignment(st, 4);
			LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, vt, acc, ""), e, ""), acc);
			cg_for_end(cg, &l);
		}
		if (next) {
			LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, macc, "");
			if (rem) {
				LLVMTypeRef over[2] = {vt, cg->t_ptr};
				LLVMValueRef largs[4] = {cg_gep_f32(cg, next, cg_i64(cg, full * w)), cg_i32(cg, 4),
				                         kern_lane_mask(cg, w, (int)rem), ninf};
				LLVMValueRef y = kern_intrinsic(cg, "llvm.masked.load", over, 2, largs, 4);
				a = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, y, a, ""), y, a, "");
			}
			*mnext = cg_attn_fold(cg, a, w, true);
		}
		LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, acc, "");
		if (rem) {
			LLVMValueRef mask = kern_lane_mask(cg, w, (int)rem);
			LLVMValueRef p = cg_gep_f32(cg, row, cg_i64(cg, full * w));
			LLVMTypeRef over[2] = {vt, cg->t_ptr};
			LLVMValueRef largs[4] = {p, cg_i32(cg, 4), mask, LLVMConstNull(vt)};
			LLVMValueRef x = kern_intrinsic(cg, "llvm.masked.load", over, 2, largs, 4);
			LLVMValueRef e = cg_math_exp_nonpos(cg, LLVMBuildFSub(cg->b, x, mv, ""));
			LLVMValueRef sargs[4] = {e, p, cg_i32(cg, 4), mask};
			kern_intrinsic(cg, "llvm.masked.store", over, 2, sargs, 4);
			a = LLVMBuildFAdd(cg->b, a, LLVMBuildSelect(cg->b, mask, e, LLVMConstNull(vt), ""), "");
		}
		r = cg_attn_fold(cg, a, w, false);
	} else if (rem) {
		LLVMValueRef acc = cg_alloca(cg, cg->t_f32, "etail");
		LLVMBuildStore(cg->b, r, acc);
		CgLoop l;
		cg_for(cg, &l, 0, n);
		LLVMValueRef p = cg_gep_f32(cg, row, l.iv);
		LLVMValueRef e = cg_math_exp(cg, LLVMBuildFSub(cg->b, LLVMBuildLoad2(cg->b, cg->t_f32, p, ""), m, ""));
		LLVMBuildStore(cg->b, e, p);
		LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, cg->t_f32, acc, ""), e, ""), acc);
		cg_for_end(cg, &l);
		r = LLVMBuildLoad2(cg->b, cg->t_f32, acc, "");
	}
	return r;
}

LLVMValueRef cg_attn_exp_sum(Cg *cg, LLVMValueRef row, int64_t n, LLVMValueRef m)
{
	return exp_sum_next(cg, row, n, m, NULL, NULL);
}

/* kt[k * A->ktp + j] = K[j, k] for the `rows` (constant, <= W) keys from
 * j0 (an i64 value): W keys' rows loaded as vectors (d contiguous: the
 * lanes past d masked off), transposed in registers, stored as W-lane
 * rows of kt (lanes of keys past `rows` are zeros). */
static void kt_block(Cg *cg, const AttnPlan *A, LLVMValueRef k, LLVMValueRef kt, LLVMValueRef j0, int rows)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef r[64];
	for (int64_t k0 = 0; k0 < A->d; k0 += w) {
		int valid = A->d - k0 < w ? (int)(A->d - k0) : w;
		for (int i = 0; i < w; i++) {
			if (i >= rows) {
				r[i] = LLVMConstNull(vt);
				continue;
			}
			LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, j0, cg_i64(cg, i)), A->kb_cs[0]),
			                              cg_i64(cg, k0));
			LLVMValueRef p = cg_gep_f32(cg, k, off);
			if (valid == w) {
				r[i] = LLVMBuildLoad2(cg->b, vt, p, "");
				LLVMSetAlignment(r[i], 4);
			} else {
				LLVMValueRef bits[64];
				for (int l = 0; l < w; l++)
					bits[l] = LLVMConstInt(cg->t_i1, l < valid, 0);
				LLVMTypeRef over[2] = {vt, cg->t_ptr};
				LLVMValueRef args[4] = {p, cg_i32(cg, 4), LLVMConstVector(bits, (unsigned)w), LLVMConstNull(vt)};
				r[i] = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
			}
		}
		kern_transpose_regs(cg, r, w);
		for (int i = 0; i < valid; i++) {
			LLVMValueRef off = cg_add_i64(cg, cg_i64(cg, (k0 + i) * A->ktp), j0);
			LLVMValueRef st = LLVMBuildStore(cg->b, r[i], cg_gep_f32(cg, kt, off));
			LLVMSetAlignment(st, 4);
		}
	}
}

/* Stages K^T of one batch entry (k: its K pointer) into kt: rows of
 * A->ktp floats (keys rounded up to W, the padding zero), so that Q.K^T
 * reads B in place with unit column stride.  Before, each block of query
 * rows packed K^T again, panel by panel, with a scalar loop that LLVM
 * vectorised into scatters (vscatterqps, microcoded on Zen): 38 % of
 * sret_t's largest attention task. */
/* keys past the last full vector copied one by one up to this many */
#define KT_SCALAR_TAIL(w) ((w) / 4)

/* Keys stage_kt copies: all but the last when the small path reads that
 * one from K in place (cg_attn_small_k1). */
static int64_t kt_keys(const Cg *cg, const AttnPlan *A)
{
	return cg_attn_small_k1(cg, A) ? A->nk - 1 : A->nk;
}

static void stage_kt(Cg *cg, const AttnPlan *A, LLVMValueRef k, LLVMValueRef kt)
{
	int w = cg->isa.vlen;
	int64_t nk = kt_keys(cg, A), full = nk / w, rem = nk % w;
	if (full) {
		CgLoop lj;
		cg_for(cg, &lj, 0, full);
		kt_block(cg, A, k, kt, cg_mul_i64(cg, lj.iv, w), w);
		cg_for_end(cg, &lj);
	}
	if (rem > KT_SCALAR_TAIL(w)) {
		kt_block(cg, A, k, kt, cg_i64(cg, full * w), (int)rem);
	} else if (rem) {
		/* a few keys left: copied one float at a time (a W x W transpose
		 * for one key was a quarter of a 49-key staging); the padding
		 * lanes past them were zeroed once per task (kt_zero_tail) */
		CgLoop lk;
		cg_for(cg, &lk, 0, A->d);
		for (int64_t j = full * w; j < nk; j++) {
			LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, k, cg_add_i64(cg, cg_i64(cg, j * A->kb_cs[0]), lk.iv)), "");
			LLVMBuildStore(cg->b, x, cg_gep_f32(cg, kt, cg_add_i64(cg, cg_mul_i64(cg, lk.iv, A->ktp), cg_i64(cg, j))));
		}
		cg_for_end(cg, &lk);
	}
}

/* Zeroes the last W lanes of every row of the staged K^T, once per task,
 * when stage_kt copies the last keys one by one: the lanes past the keys
 * stay zero for every batch entry staged after. */
static void kt_zero_tail(Cg *cg, const AttnPlan *A, LLVMValueRef kt)
{
	int w = cg->isa.vlen;
	int64_t full = kt_keys(cg, A) / w, rem = kt_keys(cg, A) % w;
	if (!rem || rem > KT_SCALAR_TAIL(w))
		return;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	CgLoop lk;
	cg_for(cg, &lk, 0, A->d);
	LLVMValueRef st = LLVMBuildStore(cg->b, LLVMConstNull(vt),
	                                 cg_gep_f32(cg, kt, cg_add_i64(cg, cg_mul_i64(cg, lk.iv, A->ktp), cg_i64(cg, full * w))));
	LLVMSetAlignment(st, 4);
	cg_for_end(cg, &lk);
}

/* The softmax numerators of `rows` score rows of nk floats at sbuf, in
 * place, and 1 / their sums into lbuf.  Each row's exp loop also takes the
 * max of the next row (exp_sum_next), so a row's exps do not wait for a
 * pass over it that finds its max (a 98-key row: the max pass, its fold
 * and the first exps in a dependent chain, ~a fifth of the softmax): the
 * next row's loads and compares ride along in the exp loop, which has
 * slots to spare for them.  The max is order-free and the exps and sums
 * are those of cg_attn_row_reduce + cg_attn_exp_sum row by row: the same
 * bits. */
static void softmax_rows(Cg *cg, LLVMValueRef sbuf, int64_t rows, int64_t nk, int64_t ld, LLVMValueRef lbuf)
{
	if (cg_attn_tail_off) {
		CgLoop lr;
		cg_for(cg, &lr, 0, rows);
		LLVMValueRef row = cg_gep_f32(cg, sbuf, cg_mul_i64(cg, lr.iv, ld));
		LLVMValueRef l = cg_attn_exp_sum(cg, row, nk, cg_attn_row_reduce(cg, row, nk, true));
		LLVMBuildStore(cg->b, LLVMBuildFDiv(cg->b, cg_f32(cg, 1.0f), l, ""), cg_gep_f32(cg, lbuf, lr.iv));
		cg_for_end(cg, &lr);
		return;
	}
	LLVMValueRef mrow = cg_alloca(cg, cg->t_f32, "mrow");
	LLVMBuildStore(cg->b, cg_attn_row_reduce(cg, sbuf, nk, true), mrow);
	CgLoop lr;
	cg_for(cg, &lr, 0, rows);
	LLVMValueRef row = cg_gep_f32(cg, sbuf, cg_mul_i64(cg, lr.iv, ld));
	/* the next row; the last row reads itself (its max is not used) */
	LLVMValueRef last = LLVMBuildICmp(cg->b, LLVMIntEQ, lr.iv, cg_i64(cg, rows - 1), "");
	LLVMValueRef next = LLVMBuildSelect(cg->b, last, row, cg_gep_f32(cg, row, cg_i64(cg, ld)), "");
	LLVMValueRef mnext = NULL;
	LLVMValueRef l = exp_sum_next(cg, row, nk, LLVMBuildLoad2(cg->b, cg->t_f32, mrow, ""), next, &mnext);
	LLVMBuildStore(cg->b, mnext, mrow);
	LLVMBuildStore(cg->b, LLVMBuildFDiv(cg->b, cg_f32(cg, 1.0f), l, ""), cg_gep_f32(cg, lbuf, lr.iv));
	cg_for_end(cg, &lr);
}

bool cg_attn_tail_off;

/* Keys of a one-segment K whose scores score_tail computes: the last
 * nk % W when there are at most W/2 of them past at least one full vector
 * (0: none).  In Q.K^T they were an edge tile of MR rows x W lanes for
 * those few keys, at the cost of a full tile's k loop: for 98 keys (96 +
 * 2) a seventh of the product. */
static int64_t tail_keys(const Cg *cg, const AttnPlan *A)
{
	int w = cg->isa.vlen;
	if (cg_attn_tail_off || w < 4 || w > 64 || A->nks != 1)
		return 0;
	int64_t t = A->nk % w;
	return t && t <= w / 2 && A->nk > w ? t : 0;
}

/* Score rows r0 .. r0 + nr - 1 (nr <= W) of the tail keys: their nt
 * vectors of ct (lanes over the rows) transposed in registers, then per
 * row nt lanes (+ the bias) stored with a masked store.  (A scalar copy
 * loop was vectorised by LLVM into vscatterqps: a tenth of the task.) */
static void tail_rows(Cg *cg, const AttnPlan *A, LLVMValueRef *p, LLVMValueRef i0, LLVMValueRef ct, int64_t rp,
                      int64_t nt, int64_t j0, LLVMValueRef r0, int nr, LLVMValueRef sbuf)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef v[64];
	for (int j = 0; j < w; j++)
		v[j] = j < nt ? kern_vload(cg, vt, w, cg_gep_f32(cg, ct, cg_add_i64(cg, r0, cg_i64(cg, j * rp))), nr)
		              : LLVMConstNull(vt);
	kern_transpose_regs(cg, v, w);
	for (int r = 0; r < nr; r++) {
		LLVMValueRef row = cg_add_i64(cg, r0, cg_i64(cg, r));
		LLVMValueRef y = v[r];
		if (A->has_bias) {
			LLVMValueRef b = cg_gep_f32(cg, p[AP_BIAS], cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, i0, row), A->bias_rs),
			                                                     cg_i64(cg, j0 * A->bias_cs)));
			LLVMValueRef x = A->bias_cs ? kern_vload(cg, vt, w, b, (int)nt)
			                            : kern_splat(cg, vt, LLVMBuildLoad2(cg->b, cg->t_f32, b, ""));
			y = LLVMBuildFAdd(cg->b, y, x, "");
		}
		kern_vstore(cg, vt, w, cg_gep_f32(cg, sbuf, cg_add_i64(cg, cg_mul_i64(cg, row, A->sld), cg_i64(cg, j0))), y,
		            (int)nt);
	}
}

/* The score columns [N, N + nt) of g1 (the Q.K^T of emit_block with
 * g1->N = the keys before them) as C^T = K_tail . Q_blk^T: a product of
 * nt rows whose lanes run over the query rows (nt FMAs per k for W query
 * rows, not MR x W lanes for nt columns), into a stack buffer ct, then
 * moved into the score rows with the bias added (tail_rows).  Each score
 * is the same arithmetic as g1's: the k-ordered chain of fmuladds from
 * zero (a.b = b.a), times alpha, then + the bias, each rounded once: the
 * same bits. */
static void score_tail(Cg *cg, const AttnPlan *A, const KGemm *g1, LLVMValueRef *p, LLVMValueRef i0,
                       int64_t rows, int64_t nt, LLVMValueRef sbuf)
{
	int w = cg->isa.vlen;
	int64_t j0 = g1->N, rp = (rows + w - 1) / w * w;
	LLVMValueRef ct = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(nt * rp)), "stail");
	LLVMSetAlignment(ct, 64);
	KGemm g;
	memset(&g, 0, sizeof g);
	g.M = nt, g.N = rows, g.K = A->d;
	g.a = cg_gep_f32(cg, g1->b, cg_i64(cg, j0 * g1->b_cs));
	g.a_rs = g1->b_cs, g.a_cs = g1->b_rs;
	g.b = g1->a, g.b_rs = g1->a_cs, g.b_cs = g1->a_rs;
	g.c = ct, g.ldc = rp;
	g.alpha = g1->alpha;
	cg_attn_gemm(cg, &g);
	int64_t full = rows / w, rem = rows % w;
	if (full) {
		CgLoop lg;
		cg_for(cg, &lg, 0, full);
		tail_rows(cg, A, p, i0, ct, rp, nt, j0, cg_mul_i64(cg, lg.iv, w), w, sbuf);
		cg_for_end(cg, &lg);
	}
	if (rem)
		tail_rows(cg, A, p, i0, ct, rp, nt, j0, cg_i64(cg, full * w), (int)rem, sbuf);
}

/* Q.K^T in the task (qk_tiles) rather than on the GEMM micro-kernels: the
 * general path, B's columns contiguous (K^T staged, or K contiguous along
 * the keys), one K segment, a vector unit with 16 registers or more, at
 * least W keys (the rows' max vectors, W floats a row, then take no more
 * stack than the score block). */
static bool qk_fused(const Cg *cg, const AttnPlan *A, LLVMValueRef kt)
{
	int w = cg->isa.vlen;
	if (cg_attn_qk_off || w < 4 || w > 64 || cg->isa.nregs < 16 || A->nks != 1 || A->small_nv || A->nk < w)
		return false;
	return kt != NULL || A->kb_cs[0] == 1;
}

/* Query rows per tile (QK_NV vectors of keys per row): the accumulators,
 * one running max vector per row, QK_NV B vectors and a splat within the
 * registers (8 on 32 registers: 16 + 8 + 3; 4 on 16). */
#define QK_NV 2
static int qk_mr(const Cg *cg)
{
	int mr = (cg->isa.nregs - QK_NV - 2) / (QK_NV + 1);
	return mr > 8 ? 8 : mr;
}

/* One tile of Q.K^T: the scores of the mr query rows from r0 (block-
 * relative, an i64 value) and the nv W-lane vectors of keys from j (i64;
 * the last vector holds `valid` keys), computed as the GEMM micro-kernel
 * computes them: per score the fmuladd chain over k in order from zero,
 * times alpha, plus the bias, each rounded once (kernels/gemm.c's
 * epilogue), so the same bits.  They are stored into the score rows and
 * taken into the rows' running max vectors mx[r] (allocas; lanes past the
 * keys as -inf).  Per k step one line of the next tile's scores (the
 * next panel of the same rows: row (k / QK_NV) % mr, vector k % QK_NV) is
 * prefetched for writing, as the micro-kernels prefetch their next C
 * tile. */
static void qk_tile(Cg *cg, const AttnPlan *A, const KGemm *g1, LLVMValueRef *p, LLVMValueRef i0, LLVMValueRef r0,
                    int mr, LLVMValueRef j, int nv, int valid, LLVMValueRef sbuf, LLVMValueRef *mx)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef acc[8][4];
	assert(mr <= 8 && nv <= 4);
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++) {
			acc[r][v] = cg_alloca(cg, vt, "qk");
			LLVMBuildStore(cg->b, LLVMConstNull(vt), acc[r][v]);
		}
	LLVMValueRef arow[8];
	for (int r = 0; r < mr; r++)
		arow[r] = cg_gep_f32(cg, g1->a, cg_mul_i64(cg, cg_add_i64(cg, r0, cg_i64(cg, r)), g1->a_rs));
	LLVMValueRef bcol = cg_gep_f32(cg, g1->b, j);
	CgLoop lk;
	cg_for(cg, &lk, 0, g1->K);
	LLVMValueRef brow = cg_gep_f32(cg, bcol, cg_mul_i64(cg, lk.iv, g1->b_rs));
	LLVMValueRef bv[4];
	for (int v = 0; v < nv; v++)
		bv[v] = kern_vload(cg, vt, w, cg_gep_f32(cg, brow, cg_i64(cg, v * w)), v == nv - 1 ? valid : w);
	{
		/* a hint: the address may lie past the block (a plain GEP) */
		LLVMValueRef kr = LLVMBuildURem(cg->b, LLVMBuildUDiv(cg->b, lk.iv, cg_i64(cg, QK_NV), ""), cg_i64(cg, mr), "");
		LLVMValueRef pcol = cg_add_i64(cg, cg_add_i64(cg, j, cg_i64(cg, QK_NV * w)),
		                               cg_mul_i64(cg, LLVMBuildURem(cg->b, lk.iv, cg_i64(cg, QK_NV), ""), w));
		LLVMValueRef poff = cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, r0, kr), A->sld), pcol);
		kern_prefetch(cg, LLVMBuildGEP2(cg->b, cg->t_f32, sbuf, &poff, 1, ""), 1, 3);
	}
	LLVMValueRef aoff = cg_mul_i64(cg, lk.iv, g1->a_cs);
	for (int r = 0; r < mr; r++) {
		LLVMValueRef as = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, arow[r], aoff), "");
		LLVMValueRef sv = kern_splat(cg, vt, as);
		for (int v = 0; v < nv; v++)
			LLVMBuildStore(cg->b, kern_fmuladd(cg, sv, bv[v], LLVMBuildLoad2(cg->b, vt, acc[r][v], "")), acc[r][v]);
	}
	cg_for_end(cg, &lk);

	LLVMValueRef ninf = kern_splat(cg, vt, cg_f32(cg, -__builtin_inff()));
	for (int r = 0; r < mr; r++) {
		LLVMValueRef row = cg_add_i64(cg, r0, cg_i64(cg, r));
		LLVMValueRef srow = cg_gep_f32(cg, sbuf, cg_add_i64(cg, cg_mul_i64(cg, row, A->sld), j));
		LLVMValueRef brow = NULL, bs = NULL;
		if (A->has_bias) {
			brow = cg_gep_f32(cg, p[AP_BIAS], cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, i0, row), A->bias_rs),
			                                             cg_mul_i64(cg, j, A->bias_cs)));
			if (!A->bias_cs)
				bs = kern_splat(cg, vt, LLVMBuildLoad2(cg->b, cg->t_f32, brow, ""));
		}
		LLVMValueRef m = LLVMBuildLoad2(cg->b, vt, mx[r], "");
		for (int v = 0; v < nv; v++) {
			int nval = v == nv - 1 ? valid : w;
			LLVMValueRef y = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
			if (g1->alpha != 1.0f)
				y = LLVMBuildFMul(cg->b, y, kern_splat(cg, vt, cg_f32(cg, g1->alpha)), "");
			if (A->has_bias)
				y = LLVMBuildFAdd(cg->b, y,
				                  bs ? bs : kern_vload(cg, vt, w, cg_gep_f32(cg, brow, cg_i64(cg, v * w)), nval), "");
			kern_vstore(cg, vt, w, cg_gep_f32(cg, srow, cg_i64(cg, v * w)), y, nval);
			LLVMValueRef x = nval < w ? LLVMBuildSelect(cg->b, kern_lane_mask(cg, w, nval), y, ninf, "") : y;
			m = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, m, ""), x, m, "");
		}
		LLVMBuildStore(cg->b, m, mx[r]);
	}
}

/* cg_attn_exp_sum of g rows (g <= 4; W > 1 lanes) at once, up to the
 * fold: row[i] with max m[i]; its W-lane sum vector (the tail's lanes
 * added last, lanes past the row zero) is stored at sv[i], to be folded
 * by the caller.  The rows' vectors alternate in one loop (two
 * independent chains of exps for the out-of-order core: an exp is a chain
 * of a dozen dependent operations per vector); each row's exps, stores and
 * sum are cg_attn_exp_sum's, in its order: the same bits.  The tail's exp
 * is taken before the loop (it needs only m) and added after it, so that
 * the end of a group is an add and a store, not a chain of a masked load,
 * an exp, the fold and a division that the out-of-order core would have to
 * hold behind the next group's loop. */
static void exp_sum_rows(Cg *cg, int g, LLVMValueRef *row, int64_t n, LLVMValueRef *m, LLVMValueRef *sv)
{
	int w = cg->isa.vlen;
	int64_t full = n / w, rem = n - full * w;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef mv[4], acc[4], et[4] = {NULL};
	for (int i = 0; i < g; i++) {
		mv[i] = kern_splat(cg, vt, m[i]);
		acc[i] = cg_alloca(cg, vt, "esum");
		LLVMBuildStore(cg->b, LLVMConstNull(vt), acc[i]);
		if (rem) {
			LLVMValueRef mask = kern_lane_mask(cg, w, (int)rem);
			LLVMValueRef p = cg_gep_f32(cg, row[i], cg_i64(cg, full * w));
			LLVMTypeRef over[2] = {vt, cg->t_ptr};
			LLVMValueRef largs[4] = {p, cg_i32(cg, 4), mask, LLVMConstNull(vt)};
			LLVMValueRef x = kern_intrinsic(cg, "llvm.masked.load", over, 2, largs, 4);
			LLVMValueRef e = cg_math_exp_nonpos(cg, LLVMBuildFSub(cg->b, x, mv[i], ""));
			LLVMValueRef sargs[4] = {e, p, cg_i32(cg, 4), mask};
			kern_intrinsic(cg, "llvm.masked.store", over, 2, sargs, 4);
			et[i] = LLVMBuildSelect(cg->b, mask, e, LLVMConstNull(vt), "");
		}
	}
	if (full) {
		CgLoop lv;
		cg_for(cg, &lv, 0, full);
		LLVMValueRef off = cg_mul_i64(cg, lv.iv, w);
		for (int i = 0; i < g; i++) {
			LLVMValueRef p = cg_gep_f32(cg, row[i], off);
			LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, p, "");
			LLVMSetAlignment(x, 4);
			LLVMValueRef e = cg_math_exp_nonpos(cg, LLVMBuildFSub(cg->b, x, mv[i], ""));
			LLVMValueRef st = LLVMBuildStore(cg->b, e, p);
			LLVMSetAlignment(st, 4);
			LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, vt, acc[i], ""), e, ""), acc[i]);
		}
		cg_for_end(cg, &lv);
	}
	for (int i = 0; i < g; i++) {
		LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, acc[i], "");
		if (rem)
			a = LLVMBuildFAdd(cg->b, a, et[i], "");
		LLVMValueRef st = LLVMBuildStore(cg->b, a, sv[i]);
		LLVMSetAlignment(st, 4);
	}
}

/* The softmax numerators of `rows` score rows of nk floats (row stride ld)
 * at sbuf, in place, and 1 / their sums into lbuf, when the rows' running
 * max vectors are at mbuf (W floats a row) and cover the keys before n0:
 * row r's max is the fold of mbuf[r] and of its scores [n0, nk) (fewer
 * than W), the value cg_attn_row_reduce gives (the max is order-free);
 * then cg_attn_exp_sum, as softmax_rows: the same bits.  Three passes
 * over the rows: the maxes into lbuf; the exps, two rows at a time, each
 * row's sum vector into mbuf (its max vector is no longer needed); the
 * sums folded and inverted into lbuf.  The first and last are loops of
 * independent rows; in the second, a group's first exps no longer wait on
 * the fold of its maxes, nor does its end hold a chain of the tail exp,
 * the fold of the sums and a division (attn7: with them inside, that
 * work outside the exp loop was a fifth of a 196-key block's softmax). */
static void softmax_rows_m(Cg *cg, LLVMValueRef sbuf, int64_t rows, int64_t nk, int64_t ld, int64_t n0, LLVMValueRef mbuf,
                           LLVMValueRef lbuf)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	assert(nk - n0 < w);
	{
		CgLoop lr;
		cg_for(cg, &lr, 0, rows);
		LLVMValueRef mx = LLVMBuildLoad2(cg->b, vt, cg_gep_f32(cg, mbuf, cg_mul_i64(cg, lr.iv, w)), "");
		if (nk > n0) {
			LLVMTypeRef over[2] = {vt, cg->t_ptr};
			LLVMValueRef p = cg_gep_f32(cg, sbuf, cg_add_i64(cg, cg_mul_i64(cg, lr.iv, ld), cg_i64(cg, n0)));
			LLVMValueRef largs[4] = {p, cg_i32(cg, 4), kern_lane_mask(cg, w, (int)(nk - n0)),
			                         kern_splat(cg, vt, cg_f32(cg, -__builtin_inff()))};
			LLVMValueRef y = kern_intrinsic(cg, "llvm.masked.load", over, 2, largs, 4);
			mx = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, y, mx, ""), y, mx, "");
		}
		LLVMBuildStore(cg->b, cg_attn_fold(cg, mx, w, true), cg_gep_f32(cg, lbuf, lr.iv));
		cg_for_end(cg, &lr);
	}
	/* rows in groups of G (2: 3 and 4 measured the same), then the rest
	 * as one group */
	enum { G = 2 };
	for (int part = 0; part < 2; part++) {
		int g = part ? (int)(rows % G) : G;
		int64_t npair = rows / G;
		if (part ? !g : !npair)
			continue;
		CgLoop lr;
		LLVMValueRef r0 = cg_i64(cg, rows - g);
		if (!part) {
			cg_for(cg, &lr, 0, npair);
			r0 = cg_mul_i64(cg, lr.iv, G);
		}
		LLVMValueRef row[4], m[4], sv[4];
		for (int i = 0; i < g; i++) {
			LLVMValueRef r = cg_add_i64(cg, r0, cg_i64(cg, i));
			row[i] = cg_gep_f32(cg, sbuf, cg_mul_i64(cg, r, ld));
			m[i] = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, lbuf, r), "");
			sv[i] = cg_gep_f32(cg, mbuf, cg_mul_i64(cg, r, w));
		}
		exp_sum_rows(cg, g, row, nk, m, sv);
		if (!part)
			cg_for_end(cg, &lr);
	}
	CgLoop lr;
	cg_for(cg, &lr, 0, rows);
	LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, cg_gep_f32(cg, mbuf, cg_mul_i64(cg, lr.iv, w)), "");
	LLVMValueRef l = cg_attn_fold(cg, a, w, false);
	LLVMBuildStore(cg->b, LLVMBuildFDiv(cg->b, cg_f32(cg, 1.0f), l, ""), cg_gep_f32(cg, lbuf, lr.iv));
	cg_for_end(cg, &lr);
}

/* One row tile of qk_tiles: mr rows from r0 (i64), all key panels, the
 * running maxes in registers, stored to mbuf at the end. */
static void qk_row_tile(Cg *cg, const AttnPlan *A, const KGemm *g1, LLVMValueRef *p, LLVMValueRef i0, LLVMValueRef r0,
                        int mr, LLVMValueRef sbuf, LLVMValueRef mbuf)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef mx[8];
	for (int r = 0; r < mr; r++) {
		mx[r] = cg_alloca(cg, vt, "qkmax");
		LLVMBuildStore(cg->b, kern_splat(cg, vt, cg_f32(cg, -__builtin_inff())), mx[r]);
	}
	int64_t pw = (int64_t)QK_NV * w, npan = g1->N / pw, krem = g1->N % pw;
	if (npan) {
		CgLoop lp;
		cg_for(cg, &lp, 0, npan);
		qk_tile(cg, A, g1, p, i0, r0, mr, cg_mul_i64(cg, lp.iv, pw), QK_NV, w, sbuf, mx);
		cg_for_end(cg, &lp);
	}
	if (krem) {
		int nv = (int)((krem + w - 1) / w);
		qk_tile(cg, A, g1, p, i0, r0, mr, cg_i64(cg, npan * pw), nv, (int)(krem - (int64_t)(nv - 1) * w), sbuf, mx);
	}
	for (int r = 0; r < mr; r++)
		LLVMBuildStore(cg->b, LLVMBuildLoad2(cg->b, vt, mx[r], ""),
		               cg_gep_f32(cg, mbuf, cg_mul_i64(cg, cg_add_i64(cg, r0, cg_i64(cg, r)), w)));
}

/* S[:, 0 .. g1->N) = scale * Q_blk . K^T + bias for the `rows` query rows
 * of the block from i0 (g1: the product emit_block would give the GEMM),
 * and mbuf[r] (W lanes a row) = the lane-wise max of row r's scores, for
 * softmax_rows_m.  Row tiles of qk_mr rows outermost (a remainder of
 * fewer than 8 accumulators shares the rows of the last full tile, split
 * in two: a tile of 1-3 rows waits on its FMAs' latency), each over all
 * the key panels of QK_NV vectors with its rows' maxes in registers.
 * This replaced the GEMM micro-kernels for this product (K = d: 32 k steps
 * per 12 x 32 tile between a call, a prologue and an epilogue) and the
 * next row's max taken in the exp loop (exp_sum_next: a load and a max
 * per score vector). */
static void qk_tiles(Cg *cg, const AttnPlan *A, const KGemm *g1, LLVMValueRef *p, LLVMValueRef i0, int64_t rows,
                     LLVMValueRef sbuf, LLVMValueRef mbuf)
{
	int mr = qk_mr(cg);
	int64_t nfull = rows / mr, t1 = rows % mr, t2 = 0;
	if (t1 && t1 * QK_NV < 8 && nfull) {
		nfull--;
		t2 = mr + t1;
		t1 = (t2 + 1) / 2;
		t2 -= t1;
	}
	if (nfull) {
		CgLoop lt;
		cg_for(cg, &lt, 0, nfull);
		qk_row_tile(cg, A, g1, p, i0, cg_mul_i64(cg, lt.iv, mr), mr, sbuf, mbuf);
		cg_for_end(cg, &lt);
	}
	if (t1)
		qk_row_tile(cg, A, g1, p, i0, cg_i64(cg, nfull * mr), (int)t1, sbuf, mbuf);
	if (t2)
		qk_row_tile(cg, A, g1, p, i0, cg_i64(cg, nfull * mr + t1), (int)t2, sbuf, mbuf);
}

bool cg_attn_qk_off;
bool cg_attn_pad_off;

/* One block of `rows` query rows starting at i0; p[] are the batch entry's
 * q, k, v, bias, o pointers (pn[] the next entry's: the small path's
 * prefetches); sbuf/lbuf the score rows and row sums; kt
 * the staged K^T (A->ktp) or NULL; mbuf the rows' max vectors when
 * qk_tiles computes Q.K^T (qk_fused), else NULL. */
static void emit_block(Cg *cg, const AttnPlan *A, LLVMValueRef *p, LLVMValueRef *pn, LLVMValueRef i0,
                       int64_t rows, LLVMValueRef sbuf, LLVMValueRef lbuf, LLVMValueRef kt, LLVMValueRef mbuf)
{
	if (A->small_nv) {
		cg_attn_small_block(cg, A, p, pn, i0, rows, sbuf, kt);
		return;
	}
	/* scores, columns [j0, j0 + kn[s]) from K segment s; the last
	 * tail_keys() of them separately (score_tail) */
	int64_t j0 = 0;
	int64_t nt = tail_keys(cg, A);
	for (int s = 0; s < A->nks; j0 += A->kn[s], s++) {
		KGemm g1;
		memset(&g1, 0, sizeof g1);
		g1.M = rows, g1.N = A->kn[s], g1.K = A->d;
		g1.a = cg_gep_f32(cg, p[AP_Q], cg_mul_i64(cg, i0, A->q_rs));
		g1.a_rs = A->q_rs, g1.a_cs = A->q_cs;
		g1.b = p[s ? AP_K2 : AP_K];
		g1.b_rs = A->kb_rs[s];
		g1.b_cs = A->kb_cs[s];
		if (kt) {
			assert(A->nks == 1);
			g1.b = kt, g1.b_rs = A->ktp, g1.b_cs = 1;
		}
		g1.c = cg_gep_f32(cg, sbuf, cg_i64(cg, j0)), g1.ldc = A->sld;
		g1.alpha = A->scale;
		if (A->has_bias) {
			g1.res = cg_gep_f32(cg, p[AP_BIAS], cg_add_i64(cg, cg_mul_i64(cg, i0, A->bias_rs), cg_i64(cg, j0 * A->bias_cs)));
			g1.res_rs = A->bias_rs, g1.res_cs = A->bias_cs;
			g1.beta = 1.0f;
		}
		g1.N -= nt;
		if (mbuf)
			qk_tiles(cg, A, &g1, p, i0, rows, sbuf, mbuf);
		else
			cg_attn_gemm(cg, &g1);
		if (nt)
			score_tail(cg, A, &g1, p, i0, rows, nt, sbuf);
	}

	if (mbuf)
		softmax_rows_m(cg, sbuf, rows, A->nk, A->sld, A->nk - nt, mbuf, lbuf);
	else
		softmax_rows(cg, sbuf, rows, A->nk, A->sld, lbuf);

	/* O_blk = E . V, the rows [j0, j0 + vn[s]) of V from segment s */
	LLVMValueRef ob = cg_gep_f32(cg, p[AP_O], cg_mul_i64(cg, i0, A->o_rs));
	j0 = 0;
	for (int s = 0; s < A->nvs; j0 += A->vn[s], s++) {
		KGemm g2;
		memset(&g2, 0, sizeof g2);
		g2.M = rows, g2.N = A->dv, g2.K = A->vn[s];
		g2.a = cg_gep_f32(cg, sbuf, cg_i64(cg, j0)), g2.a_rs = A->sld, g2.a_cs = 1;
		g2.b = p[s ? AP_V2 : AP_V], g2.b_rs = A->v_rs[s], g2.b_cs = A->v_cs[s];
		g2.c = ob, g2.ldc = A->o_rs;
		g2.alpha = 1.0f;
		g2.accumulate = s > 0;
		cg_attn_gemm(cg, &g2);
	}

	/* normalise: O[r, :] *= 1 / l[r], in W-lane vectors along dv (as a
	 * scalar loop nest LLVM unrolled dv and vectorised over the rows,
	 * strided: gathers and scatters, a fifth of a Swin attention task) */
	CgLoop lr;
	cg_for(cg, &lr, 0, rows);
	LLVMValueRef inv = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, lbuf, lr.iv), "");
	LLVMValueRef orow = cg_gep_f32(cg, ob, cg_mul_i64(cg, lr.iv, A->o_rs));
	int w = cg->isa.vlen >= 4 && cg->isa.vlen <= 64 ? cg->isa.vlen : 1;
	int64_t full = w > 1 ? A->dv / w : 0;
	if (full) {
		LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
		LLVMValueRef iv = LLVMBuildInsertElement(cg->b, LLVMGetUndef(vt), inv, cg_i32(cg, 0), "");
		iv = LLVMBuildShuffleVector(cg->b, iv, LLVMGetUndef(vt), LLVMConstNull(LLVMVectorType(cg->t_i32, (unsigned)w)), "");
		CgLoop lv;
		cg_for(cg, &lv, 0, full);
		LLVMValueRef op = cg_gep_f32(cg, orow, cg_mul_i64(cg, lv.iv, w));
		LLVMValueRef y = LLVMBuildLoad2(cg->b, vt, op, "");
		LLVMSetAlignment(y, 4);
		LLVMValueRef st = LLVMBuildStore(cg->b, LLVMBuildFMul(cg->b, y, iv, ""), op);
		LLVMSetAlignment(st, 4);
		cg_for_end(cg, &lv);
	}
	if (full * w < A->dv) {
		CgLoop lj;
		cg_for(cg, &lj, full * w, A->dv);
		LLVMValueRef op = cg_gep_f32(cg, orow, lj.iv);
		LLVMValueRef y = LLVMBuildLoad2(cg->b, cg->t_f32, op, "");
		LLVMBuildStore(cg->b, LLVMBuildFMul(cg->b, y, inv, ""), op);
		cg_for_end(cg, &lj);
	}
	cg_for_end(cg, &lr);
}

/* p[] = the AP_* pointers of batch entry `entry` (an i64 value) from the
 * task's base pointers; absent operands NULL. */
static void entry_ptrs(Cg *cg, const AttnPlan *A, LLVMValueRef *base, LLVMValueRef entry, LLVMValueRef *p)
{
	LLVMValueRef off[AP_N];
	for (int o = 0; o < AP_N; o++)
		off[o] = cg_i64(cg, 0);
	LLVMValueRef rest = entry;
	for (int d = A->br - 1; d >= 0; d--) {
		LLVMValueRef x = LLVMBuildSRem(cg->b, rest, cg_i64(cg, A->bdims[d]), "");
		rest = LLVMBuildSDiv(cg->b, rest, cg_i64(cg, A->bdims[d]), "");
		for (int o = 0; o < AP_N; o++)
			if (A->bs[o][d])
				off[o] = cg_add_i64(cg, off[o], cg_mul_i64(cg, x, A->bs[o][d]));
	}
	for (int o = 0; o < AP_N; o++)
		if (A->off[o])
			off[o] = cg_add_i64(cg, off[o], cg_i64(cg, A->off[o]));
	for (int o = 0; o < AP_N; o++) {
		bool absent = (o == AP_BIAS && !A->has_bias) || (o == AP_K2 && A->nks < 2) ||
		              (o == AP_V2 && A->nvs < 2);
		p[o] = absent ? NULL : cg_gep_f32(cg, base[o], off[o]);
	}
}

/* Emits `void task(ptr ctx, i64 begin, i64 end)` over tasks
 * t = batch * nblk + block; ctx holds the AP_* pointers {q, k, v, bias, o,
 * k2, v2}. */
static LLVMValueRef emit_task(Cg *cg, const AttnPlan *A)
{
	KFn kf;
	LLVMValueRef base[AP_N];
	LLVMValueRef fn = kern_task_begin(cg, &kf, "attention_task", AP_N, base);

	int64_t srow = A->small_nv ? (int64_t)A->small_nv * cg->isa.vlen : A->sld;
	LLVMValueRef sbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(A->rows * srow)), "scores");
	LLVMSetAlignment(sbuf, 64);
	LLVMValueRef lbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)A->rows), "rowsum");
	/* the staged K^T and the batch entry it holds (-1: none yet) */
	LLVMValueRef kt = NULL, kt_of = NULL;
	if (A->ktp) {
		kt = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(A->d * A->ktp)), "kt");
		LLVMSetAlignment(kt, 64);
		kt_of = cg_alloca(cg, cg->t_i64, "kt_of");
		LLVMBuildStore(cg->b, cg_i64(cg, -1), kt_of);
		kt_zero_tail(cg, A, kt);
	}
	/* the rows' running max vectors when qk_tiles computes Q.K^T */
	LLVMValueRef mbuf = NULL;
	if (qk_fused(cg, A, kt)) {
		mbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(A->rows * cg->isa.vlen)), "rowmax");
		LLVMSetAlignment(mbuf, 64);
	}

	CgLoop lt;
	cg_for_v(cg, &lt, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef ib = LLVMBuildSRem(cg->b, lt.iv, cg_i64(cg, A->nblk), "");
	LLVMValueRef entry = LLVMBuildSDiv(cg->b, lt.iv, cg_i64(cg, A->nblk), "");
	LLVMValueRef p[AP_N], pn[AP_N];
	entry_ptrs(cg, A, base, entry, p);
	/* the small path prefetches the next batch entry's rows */
	if (A->small_nv)
		entry_ptrs(cg, A, base, cg_add_i64(cg, entry, cg_i64(cg, 1)), pn);
	if (kt) {
		/* a task range's blocks of one batch entry share its K^T */
		CgIf c;
		cg_if(cg, &c, LLVMBuildICmp(cg->b, LLVMIntNE, LLVMBuildLoad2(cg->b, cg->t_i64, kt_of, ""), entry, ""));
		stage_kt(cg, A, p[AP_K], kt);
		LLVMBuildStore(cg->b, entry, kt_of);
		cg_if_end(cg, &c);
	}
	LLVMValueRef i0 = cg_mul_i64(cg, ib, A->rows);
	int64_t last = A->nq - (A->nblk - 1) * A->rows;
	if (last == A->rows) {
		emit_block(cg, A, p, pn, i0, A->rows, sbuf, lbuf, kt, mbuf);
	} else {
		CgIf c;
		cg_if(cg, &c, LLVMBuildICmp(cg->b, LLVMIntEQ, ib, cg_i64(cg, A->nblk - 1), ""));
		emit_block(cg, A, p, pn, i0, last, sbuf, lbuf, kt, mbuf);
		cg_else(cg, &c);
		emit_block(cg, A, p, pn, i0, A->rows, sbuf, lbuf, kt, mbuf);
		cg_if_end(cg, &c);
	}
	cg_for_end(cg, &lt);

	kern_fn_end(cg, &kf);
	return fn;
}

/* Dims and element strides of operand x as the op reads it — the
 * Transpose of x by the node's ints attribute `perm` when present — aligned
 * right to rank r: missing leading dims and dims of 1 get stride 0. */
static int64_t read_view(const Node *n, const char *perm, const char *sel, const Value *x, int r,
                         int64_t *dims, int64_t *st)
{
	int xr = x->shape.rank;
	int64_t cst[IR_MAX_RANK], s = 1;
	for (int i = xr - 1; i >= 0; i--) {
		cst[i] = s;
		s *= x->shape.dims[i];
	}
	const int64_t *p;
	int np = attr_ints(n, perm, &p);
	assert(np < 0 || np == xr);
	int64_t src[IR_MAX_RANK];
	for (int i = 0; i < xr; i++)
		src[i] = np < 0 ? i : p[i];
	int64_t off = 0;
	int lr = xr, first = 0; /* logical rank, first stored-order entry read */
	if (node_attr(n, sel)) {
		off = attr_int(n, sel, 0) * cst[src[0]];
		lr = xr - 1, first = 1;
	}
	for (int i = 0; i < r; i++) {
		int k = i - (r - lr);
		if (k < 0) {
			dims[i] = 1, st[i] = 0;
			continue;
		}
		int64_t d = src[first + k];
		dims[i] = x->shape.dims[d];
		st[i] = dims[i] == 1 ? 0 : cst[d];
	}
	return off;
}

bool cg_lower_attention(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	/* the operand values by AP_* index (NULL: absent) */
	static const int slot[AP_N] = {0, 1, 2, 3, -1, 4, 5};
	static const char *const perm[AP_N] = {"perm_q", "perm_k", "perm_v", NULL, NULL, "perm_k2", "perm_v2"};
	static const char *const sel[AP_N] = {"sel_q", "sel_k", "sel_v", NULL, NULL, "sel_k2", "sel_v2"};
	const Value *x[AP_N];
	for (int i = 0; i < AP_N; i++)
		x[i] = slot[i] >= 0 && slot[i] < n->nin && n->in[slot[i]] != IR_NONE ? gval(g, n->in[slot[i]]) : NULL;
	const Value *bias = x[AP_BIAS];
	const Value *o = gval(g, n->out[0]);
	AttnPlan A;
	memset(&A, 0, sizeof A);
	int r = o->shape.rank;
	assert(r >= 2);
	A.br = r - 2;
	A.k_t = attr_int(n, "k_transposed", 0) != 0;
	A.scale = attr_float(n, "scale", 1.0f);
	int64_t dims[AP_N][IR_MAX_RANK], st[AP_N][IR_MAX_RANK];
	for (int i = 0; i < AP_N; i++)
		if (perm[i] && x[i])
			A.off[i] = read_view(n, perm[i], sel[i], x[i], r, dims[i], st[i]);
	A.nq = dims[AP_Q][r - 2];
	A.d = dims[AP_Q][r - 1];
	A.dv = dims[AP_V][r - 1];
	A.q_rs = st[AP_Q][r - 2], A.q_cs = st[AP_Q][r - 1];
	A.nks = x[AP_K2] ? 2 : 1;
	A.nvs = x[AP_V2] ? 2 : 1;
	A.nk = 0;
	for (int s = 0; s < A.nks; s++) {
		int i = s ? AP_K2 : AP_K;
		A.kn[s] = dims[i][r - (A.k_t ? 1 : 2)];
		A.kb_rs[s] = A.k_t ? st[i][r - 2] : st[i][r - 1];
		A.kb_cs[s] = A.k_t ? st[i][r - 1] : st[i][r - 2];
		A.nk += A.kn[s];
	}
	for (int s = 0; s < A.nvs; s++) {
		int i = s ? AP_V2 : AP_V;
		A.vn[s] = dims[i][r - 2];
		A.v_rs[s] = st[i][r - 2], A.v_cs[s] = st[i][r - 1];
	}
	assert(A.vn[0] + A.vn[1] == A.nk);
	/* the output: stored as Transpose(O, perm_o); O's dim perm_o[j] has
	 * the stored dim j's stride */
	{
		int64_t cst[IR_MAX_RANK], s = 1;
		for (int i = r - 1; i >= 0; i--) {
			cst[i] = s;
			s *= o->shape.dims[i];
		}
		const int64_t *po;
		int npo = attr_ints(n, "perm_o", &po);
		assert(npo < 0 || npo == r);
		for (int j = 0; j < r; j++) {
			int l = npo < 0 ? j : (int)po[j];
			st[AP_O][l] = cst[j];
		}
		assert(st[AP_O][r - 1] == 1);
		A.o_rs = st[AP_O][r - 2];
	}
	A.has_bias = bias != NULL;
	if (A.nk > ATTN_BLOCK_FLOATS)
		return cg_unsupported(cg, 1, "Attention over %lld keys (at most %d)", (long long)A.nk,
		                      ATTN_BLOCK_FLOATS);
	if (bias) {
		cg_broadcast_strides(&bias->shape, r, st[AP_BIAS]);
		A.bias_rs = st[AP_BIAS][r - 2];
		A.bias_cs = st[AP_BIAS][r - 1];
		assert(A.bias_cs == 0 || A.bias_cs == 1);
	}
	A.nbatch = 1;
	for (int d = 0; d < A.br; d++) {
		A.bdims[d] = 1;
		for (int i = 0; i < AP_N; i++)
			if (perm[i] && x[i] && dims[i][d] != 1)
				A.bdims[d] = dims[i][d];
		A.nbatch *= A.bdims[d];
		for (int i = 0; i < AP_N; i++)
			A.bs[i][d] = (i != AP_O && !x[i]) || A.bdims[d] == 1 ? 0 : st[i][d];
	}
	/* rows per block: the score block within ATTN_BLOCK_FLOATS, and enough
	 * tasks (8) to balance a few threads when the batch alone does not */
	int64_t rows = ATTN_BLOCK_FLOATS / A.nk;
	if (rows > A.nq)
		rows = A.nq;
	if (rows < 1)
		rows = 1;
	int64_t nblk = (A.nq + rows - 1) / rows;
	if (A.nbatch * nblk < 8) {
		int64_t want = (8 + A.nbatch - 1) / A.nbatch;
		int64_t maxblk = (A.nq + 7) / 8; /* blocks of at least 8 rows */
		if (want > maxblk)
			want = maxblk;
		if (want > nblk)
			nblk = want;
		rows = (A.nq + nblk - 1) / nblk;
	}
	A.rows = rows;
	A.nblk = (A.nq + rows - 1) / rows;
	/* score rows W-aligned (nk rounded up to W; the padding is never
	 * read): with 392 keys (1568 bytes) every other row started half way
	 * into a cache line, and each of its vectors, stored by Q.K^T, loaded
	 * and stored again by the exp loop, straddled two lines */
	A.sld = A.nk;
	if (!cg_attn_pad_off && cg->isa.vlen >= 4 && cg->isa.vlen <= 64)
		A.sld = (A.nk + cg->isa.vlen - 1) / cg->isa.vlen * cg->isa.vlen;
	/* the padding takes the block at most a quarter past its floats (a few
	 * keys past a vector, many rows: fewer rows per block) */
	if (A.rows * A.sld > ATTN_BLOCK_FLOATS / 4 * 5) {
		A.rows = ATTN_BLOCK_FLOATS / A.sld;
		A.nblk = (A.nq + A.rows - 1) / A.rows;
	}
	/* K^T staged once per batch entry when K's rows are contiguous along
	 * d but the keys are not adjacent (the B of Q.K^T would otherwise be
	 * packed panel by panel, for every block of query rows) */
	if (cg->isa.vlen >= 4 && cg->isa.vlen <= 64 && A.nks == 1 && A.kb_rs[0] == 1 && A.kb_cs[0] != 1) {
		int64_t ktp = (A.nk + cg->isa.vlen - 1) / cg->isa.vlen * cg->isa.vlen;
		if (A.d * ktp <= ATTN_KT_FLOATS)
			A.ktp = ktp;
	}

	/* short sequences: whole score rows in registers, blocks of rows
	 * split evenly (lower_attention_small.c) */
	int sr = cg_attn_small_rows(cg, &A);
	if (sr) {
		A.small_nv = (int)((A.nk + cg->isa.vlen - 1) / cg->isa.vlen);
		int64_t nb = (A.nq + sr - 1) / sr;
		A.rows = (A.nq + nb - 1) / nb;
		A.nblk = (A.nq + A.rows - 1) / A.rows;
	}

	LLVMValueRef task = emit_task(cg, &A);
	LLVMValueRef ptrs[AP_N];
	for (int i = 0; i < AP_N; i++)
		ptrs[i] = i == AP_O ? cg_ptr(cg, n->out[0]) : x[i] ? cg_ptr(cg, n->in[slot[i]]) : NULL;
	kern_parallel_ptrs(cg, task, ptrs, AP_N, A.nbatch * A.nblk);
	return true;
}

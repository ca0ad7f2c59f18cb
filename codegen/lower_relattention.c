/* codegen/lower_relattention.c — the fused RelAttention op (ir/ops.def,
 * made by passes/fuse_relattention.c): Transformer-XL's relative attention
 * in the exporter's [query, key, batch, head] layout.
 *
 * Work is split at compile time into tasks (batch b x head h x block of R
 * query rows), run through kern_parallel.  Per task, with i = i0 + r:
 *   S  = QW_blk . K^T                     kern_gemm_here, R x L, stack
 *   P  = QR[i0 .. i0+R] . R^T             R+1 rows (fewer in the last
 *                                         block), stack: the position term
 *                                         of the rows the block reads
 *   the rel-shift read as skewed indices (f = Q + i*L + j over the padded
 *   [Q, L+1] rows, so row i reads, for e = min(L, i + L - Q + 1)):
 *     j <  e:  S[r,j] = (S[r,j] + P[r, Q-1-i+j]) * scale
 *     j == e:  S[r,j] = (S[r,j] + 0) * scale     (the zero column)
 *     j >  e:  S[r,j] = (S[r,j] + P[r+1, j-e-1]) * scale
 *   then S[r,j] = mask[i,j,b,h] ? fill : S[r,j]; the padded [Q, L+1] tensor
 *   and the Q x L scores never exist in memory
 *   per row: m = max, e = exp(s - m) in place, l = sum  (lower_attention.c's
 *            row helpers)
 *   O_blk = E . V                          kern_gemm_here into the output
 *   O_blk[r, :] *= 1 / l[r]
 * Every output row is computed by the same code whatever the partition of
 * tasks among threads, so results are bitwise identical on any number of
 * threads.  The additions and the scaling are done in the exporter's order
 * ((content + position) * scale), so only the products' summation order
 * differs from the unfused graph.
 */
#include "lower.h"
#include "kernels/kernels.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Floats of the two score blocks kept on the stack per task. */
#define REL_BLOCK_FLOATS (32 * 1024)

typedef struct RelPlan {
	int64_t Q, L, B, H, D, Dv;
	float scale, fill;
	bool has_mask;
	int64_t ms[4];                   /* mask strides over [Q, L, B, H] */
	int64_t rows, nblk;              /* R rows per block, nblk blocks */
} RelPlan;

enum { P_QW, P_QR, P_K, P_R, P_V, P_MASK, P_O, P_N };

/* srow[j] = mask(i, j) ? fill : (srow[j] + pos) * scale. */
static void score(Cg *cg, const RelPlan *P, LLVMValueRef srow, LLVMValueRef j, LLVMValueRef pos,
                  LLVMValueRef mrow)
{
	LLVMValueRef p = cg_gep_f32(cg, srow, j);
	LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, p, "");
	x = LLVMBuildFMul(cg->b, LLVMBuildFAdd(cg->b, x, pos, ""), cg_f32(cg, P->scale), "");
	if (P->has_mask) {
		LLVMValueRef m = cg_load_ptr(cg, DT_BOOL, mrow, cg_mul_i64(cg, j, P->ms[1]));
		x = LLVMBuildSelect(cg->b, m, cg_f32(cg, P->fill), x, "");
	}
	LLVMBuildStore(cg->b, x, p);
}

/* One block of `rows` query rows from i0 (position-term rows: nbd);
 * p[] are the (b, h) entry's pointers. */
static void emit_block(Cg *cg, const RelPlan *P, LLVMValueRef *p, LLVMValueRef i0, int64_t rows,
                       int64_t nbd, LLVMValueRef sbuf, LLVMValueRef pbuf, LLVMValueRef lbuf)
{
	int64_t BHD = P->B * P->H * P->D, BHDv = P->B * P->H * P->Dv, L = P->L;
	KGemm g;
	memset(&g, 0, sizeof g);
	g.M = rows, g.N = L, g.K = P->D;
	g.a = cg_gep_f32(cg, p[P_QW], cg_mul_i64(cg, i0, BHD));
	g.a_rs = BHD, g.a_cs = 1;
	g.b = p[P_K], g.b_rs = 1, g.b_cs = BHD;
	g.c = sbuf, g.ldc = L;
	g.alpha = 1.0f;
	cg_attn_gemm(cg, &g);
	g.M = nbd;
	g.a = cg_gep_f32(cg, p[P_QR], cg_mul_i64(cg, i0, BHD));
	g.b = p[P_R], g.b_cs = P->H * P->D;
	g.c = pbuf;
	cg_attn_gemm(cg, &g);

	CgLoop lr, lj;
	cg_for(cg, &lr, 0, rows);
	LLVMValueRef i = cg_add_i64(cg, i0, lr.iv);
	LLVMValueRef srow = cg_gep_f32(cg, sbuf, cg_mul_i64(cg, lr.iv, L));
	LLVMValueRef prow = cg_gep_f32(cg, pbuf, cg_mul_i64(cg, lr.iv, L));
	LLVMValueRef prow1 = cg_gep_f32(cg, prow, cg_i64(cg, L));
	LLVMValueRef mrow = P->has_mask ? LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, p[P_MASK],
	                                                        (LLVMValueRef[]){cg_mul_i64(cg, i, P->ms[0])}, 1, "")
	                                : NULL;
	/* e = min(L, i + L - Q + 1) >= 1 */
	LLVMValueRef e = cg_add_i64(cg, i, cg_i64(cg, L - P->Q + 1));
	e = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, e, cg_i64(cg, L), ""), e, cg_i64(cg, L), "");
	LLVMValueRef off1 = LLVMBuildNSWSub(cg->b, cg_i64(cg, P->Q - 1), i, "");
	cg_for_v(cg, &lj, cg_i64(cg, 0), e);
	LLVMValueRef pos = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, prow, cg_add_i64(cg, off1, lj.iv)), "");
	score(cg, P, srow, lj.iv, pos, mrow);
	cg_for_end(cg, &lj);
	CgIf zc;
	cg_if(cg, &zc, LLVMBuildICmp(cg->b, LLVMIntSLT, e, cg_i64(cg, L), ""));
	score(cg, P, srow, e, cg_f32(cg, 0.0f), mrow);
	LLVMValueRef e1 = cg_add_i64(cg, e, cg_i64(cg, 1));
	cg_for_v(cg, &lj, e1, cg_i64(cg, L));
	pos = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, prow1, LLVMBuildNSWSub(cg->b, lj.iv, e1, "")), "");
	score(cg, P, srow, lj.iv, pos, mrow);
	cg_for_end(cg, &lj);
	cg_if_end(cg, &zc);
	/* softmax numerators in place, 1 / row sums into lbuf */
	LLVMValueRef m = cg_attn_row_reduce(cg, srow, L, true);
	LLVMValueRef l = cg_attn_exp_sum(cg, srow, L, m);
	LLVMBuildStore(cg->b, LLVMBuildFDiv(cg->b, cg_f32(cg, 1.0f), l, ""), cg_gep_f32(cg, lbuf, lr.iv));
	cg_for_end(cg, &lr);

	memset(&g, 0, sizeof g);
	g.M = rows, g.N = P->Dv, g.K = L;
	g.a = sbuf, g.a_rs = L, g.a_cs = 1;
	g.b = p[P_V], g.b_rs = BHDv, g.b_cs = 1;
	LLVMValueRef ob = cg_gep_f32(cg, p[P_O], cg_mul_i64(cg, i0, BHDv));
	g.c = ob, g.ldc = BHDv;
	g.alpha = 1.0f;
	cg_attn_gemm(cg, &g);

	cg_for(cg, &lr, 0, rows);
	LLVMValueRef inv = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, lbuf, lr.iv), "");
	LLVMValueRef orow = cg_gep_f32(cg, ob, cg_mul_i64(cg, lr.iv, BHDv));
	cg_for(cg, &lj, 0, P->Dv);
	LLVMValueRef op = cg_gep_f32(cg, orow, lj.iv);
	LLVMBuildStore(cg->b, LLVMBuildFMul(cg->b, LLVMBuildLoad2(cg->b, cg->t_f32, op, ""), inv, ""), op);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lr);
}

/* `void task(ptr ctx, i64 begin, i64 end)` over t = (b * H + h) * nblk +
 * block; ctx holds the P_N pointers. */
static LLVMValueRef emit_task(Cg *cg, const RelPlan *P)
{
	KFn kf;
	LLVMValueRef base[P_N];
	LLVMValueRef fn = kern_task_begin(cg, &kf, "relattention_task", P_N, base);

	LLVMValueRef sbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(P->rows * P->L)), "scores");
	LLVMValueRef pbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)((P->rows + 1) * P->L)), "pos");
	LLVMSetAlignment(sbuf, 64);
	LLVMSetAlignment(pbuf, 64);
	LLVMValueRef lbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)P->rows), "rowsum");

	CgLoop lt;
	cg_for_v(cg, &lt, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef blk = LLVMBuildSRem(cg->b, lt.iv, cg_i64(cg, P->nblk), "");
	LLVMValueRef bh = LLVMBuildSDiv(cg->b, lt.iv, cg_i64(cg, P->nblk), "");
	LLVMValueRef h = LLVMBuildSRem(cg->b, bh, cg_i64(cg, P->H), "");
	LLVMValueRef b = LLVMBuildSDiv(cg->b, bh, cg_i64(cg, P->H), "");
	LLVMValueRef p[P_N];
	int64_t HD = P->H * P->D, HDv = P->H * P->Dv;
	LLVMValueRef qoff = cg_add_i64(cg, cg_mul_i64(cg, b, HD), cg_mul_i64(cg, h, P->D));
	LLVMValueRef voff = cg_add_i64(cg, cg_mul_i64(cg, b, HDv), cg_mul_i64(cg, h, P->Dv));
	p[P_QW] = cg_gep_f32(cg, base[P_QW], qoff);
	p[P_QR] = cg_gep_f32(cg, base[P_QR], qoff);
	p[P_K] = cg_gep_f32(cg, base[P_K], qoff);
	p[P_R] = cg_gep_f32(cg, base[P_R], cg_mul_i64(cg, h, P->D));
	p[P_V] = cg_gep_f32(cg, base[P_V], voff);
	p[P_O] = cg_gep_f32(cg, base[P_O], voff);
	p[P_MASK] = NULL;
	if (P->has_mask) {
		LLVMValueRef moff = cg_add_i64(cg, cg_mul_i64(cg, b, P->ms[2]), cg_mul_i64(cg, h, P->ms[3]));
		p[P_MASK] = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, base[P_MASK], &moff, 1, "");
	}
	LLVMValueRef i0 = cg_mul_i64(cg, blk, P->rows);
	int64_t last = P->Q - (P->nblk - 1) * P->rows;
	if (P->nblk == 1) {
		emit_block(cg, P, p, i0, last, last, sbuf, pbuf, lbuf);
	} else {
		CgIf c;
		cg_if(cg, &c, LLVMBuildICmp(cg->b, LLVMIntEQ, blk, cg_i64(cg, P->nblk - 1), ""));
		emit_block(cg, P, p, i0, last, last, sbuf, pbuf, lbuf);
		cg_else(cg, &c);
		emit_block(cg, P, p, i0, P->rows, P->rows + 1, sbuf, pbuf, lbuf);
		cg_if_end(cg, &c);
	}
	cg_for_end(cg, &lt);
	kern_fn_end(cg, &kf);
	return fn;
}

bool cg_lower_relattention(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	const Value *qw = gval(g, n->in[0]), *k = gval(g, n->in[2]), *v = gval(g, n->in[4]);
	const Value *mask = n->nin > 5 && n->in[5] != IR_NONE ? gval(g, n->in[5]) : NULL;
	RelPlan P;
	memset(&P, 0, sizeof P);
	P.Q = qw->shape.dims[0], P.B = qw->shape.dims[1], P.H = qw->shape.dims[2], P.D = qw->shape.dims[3];
	P.L = k->shape.dims[0], P.Dv = v->shape.dims[3];
	P.scale = attr_float(n, "scale", 1.0f);
	P.fill = attr_float(n, "fill", -__builtin_inff());
	P.has_mask = mask != NULL;
	assert(P.Q <= P.L);
	if (mask)
		cg_broadcast_strides(&mask->shape, 4, P.ms);
	if (P.Q == 0 || P.B == 0 || P.H == 0 || P.Dv == 0)
		return true;
	if (P.D == 0)
		return cg_unsupported(cg, 0, "RelAttention with heads of depth 0");
	/* rows per block: both score blocks ((2R + 1) x L floats) within
	 * REL_BLOCK_FLOATS, and enough tasks (8) to balance a few threads */
	int64_t rows = (REL_BLOCK_FLOATS / P.L - 1) / 2;
	if (rows < 1)
		return cg_unsupported(cg, 2, "RelAttention over %lld keys (at most %d)", (long long)P.L,
		                      REL_BLOCK_FLOATS / 3);
	if (rows > P.Q)
		rows = P.Q;
	int64_t nbatch = P.B * P.H, nblk = (P.Q + rows - 1) / rows;
	if (nbatch * nblk < 8) {
		int64_t want = (8 + nbatch - 1) / nbatch, maxblk = (P.Q + 7) / 8;
		if (want > maxblk)
			want = maxblk;
		if (want > nblk)
			nblk = want;
	}
	P.rows = (P.Q + nblk - 1) / nblk;
	P.nblk = (P.Q + P.rows - 1) / P.rows;

	LLVMValueRef task = emit_task(cg, &P);
	LLVMValueRef ptrs[P_N] = {cg_ptr(cg, n->in[0]), cg_ptr(cg, n->in[1]), cg_ptr(cg, n->in[2]),
	                          cg_ptr(cg, n->in[3]), cg_ptr(cg, n->in[4]),
	                          mask ? cg_ptr(cg, n->in[5]) : NULL, cg_ptr(cg, n->out[0])};
	kern_parallel_ptrs(cg, task, ptrs, P_N, nbatch * P.nblk);
	return true;
}

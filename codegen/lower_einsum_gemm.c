/* codegen/lower_einsum_gemm.c — an Einsum that is one (batched) matrix
 * product, run on the GEMM kernel (codegen/kernels/gemm.c) instead of
 * lower_linalg.c's loop nest.
 *
 * Form: two f32 operands; exactly one summed label of size > 1 (K), present
 * in both operands.  Output labels of size > 1 fall in three kinds: in both
 * operands (batch), only in one, only in the other.  A label present only
 * in one operand (called B) becomes N, the largest label present only in the
 * other (A) becomes M (none: M = 1); among the choices the kernel takes, one
 * with contiguous output columns, else the largest N.  Every other output
 * label is a batch dim, with stride 0 in the operand that lacks it.  Labels
 * of size 1 are dropped.
 *   - C's columns contiguous (N's output stride 1): one kern_gemm call with
 *     the batch dims as its batch (XL's 'ijbn,jbnd->ibnd').
 *   - otherwise (XL's 'ibnd,jbnd->ijbn': both output labels of the product
 *     are strided by the heads): tasks of (batch entry, block of rows), each
 *     computing its block with kern_gemm_here into a stack buffer of rows x N
 *     floats (within 128 KiB) and storing it through the output strides.
 * Every output element is the same fmuladd sequence over K in order
 * whatever the task partition, so results are bitwise equal on any number
 * of threads.  Anything else returns 0 and keeps the loop nest.
 */
#include "lower.h"
#include "kernels/kernels.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Floats of the staging block per task. */
#define EIN_BLOCK_FLOATS (32 * 1024)

typedef struct EinPlan {
	KGemm g;                     /* strides; pointers unset */
	int64_t c_rs, c_cs;          /* output strides of M and N */
	int64_t rows, nblk, nbatch;  /* staged form: rows per block */
} EinPlan;

/* One block of `rows` rows from row i0 of the batch entry whose operand
 * and output pointers are a, b, y; sbuf is the staging block. */
static void stage_block(Cg *cg, const EinPlan *P, LLVMValueRef a, LLVMValueRef b, LLVMValueRef y,
                        LLVMValueRef i0, int64_t rows, LLVMValueRef sbuf)
{
	KGemm g = P->g;
	g.M = rows;
	g.nbatch_dims = 0;
	g.a = cg_gep_f32(cg, a, cg_mul_i64(cg, i0, g.a_rs));
	g.b = b;
	g.c = sbuf;
	g.ldc = g.N;
	bool ok = kern_gemm_here(cg, &g);
	assert(ok);
	(void)ok;
	CgLoop lr, lj;
	cg_for(cg, &lr, 0, rows);
	LLVMValueRef src = cg_gep_f32(cg, sbuf, cg_mul_i64(cg, lr.iv, g.N));
	LLVMValueRef dst = cg_gep_f32(cg, y, cg_mul_i64(cg, cg_add_i64(cg, i0, lr.iv), P->c_rs));
	cg_for(cg, &lj, 0, g.N);
	LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, src, lj.iv), "");
	LLVMBuildStore(cg->b, x, cg_gep_f32(cg, dst, cg_mul_i64(cg, lj.iv, P->c_cs)));
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lr);
}

/* `void task(ptr ctx, i64 begin, i64 end)` over t = batch * nblk + block;
 * ctx holds {a, b, y}. */
static LLVMValueRef stage_task(Cg *cg, const EinPlan *P)
{
	KFn kf;
	LLVMValueRef base[3];
	LLVMValueRef fn = kern_task_begin(cg, &kf, "einsum_task", 3, base);

	LLVMValueRef sbuf = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(P->rows * P->g.N)), "stage");
	LLVMSetAlignment(sbuf, 64);
	CgLoop lt;
	cg_for_v(cg, &lt, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef ib = LLVMBuildSRem(cg->b, lt.iv, cg_i64(cg, P->nblk), "");
	LLVMValueRef rest = LLVMBuildSDiv(cg->b, lt.iv, cg_i64(cg, P->nblk), "");
	LLVMValueRef off[3] = {cg_i64(cg, 0), cg_i64(cg, 0), cg_i64(cg, 0)};
	const int64_t *bs[3] = {P->g.a_bs, P->g.b_bs, P->g.c_bs};
	for (int d = P->g.nbatch_dims - 1; d >= 0; d--) {
		LLVMValueRef x = LLVMBuildSRem(cg->b, rest, cg_i64(cg, P->g.bdims[d]), "");
		rest = LLVMBuildSDiv(cg->b, rest, cg_i64(cg, P->g.bdims[d]), "");
		for (int o = 0; o < 3; o++)
			if (bs[o][d])
				off[o] = cg_add_i64(cg, off[o], cg_mul_i64(cg, x, bs[o][d]));
	}
	LLVMValueRef a = cg_gep_f32(cg, base[0], off[0]), b = cg_gep_f32(cg, base[1], off[1]);
	LLVMValueRef y = cg_gep_f32(cg, base[2], off[2]);
	LLVMValueRef i0 = cg_mul_i64(cg, ib, P->rows);
	int64_t last = P->g.M - (P->nblk - 1) * P->rows;
	if (last == P->rows) {
		stage_block(cg, P, a, b, y, i0, P->rows, sbuf);
	} else {
		CgIf c;
		cg_if(cg, &c, LLVMBuildICmp(cg->b, LLVMIntEQ, ib, cg_i64(cg, P->nblk - 1), ""));
		stage_block(cg, P, a, b, y, i0, last, sbuf);
		cg_else(cg, &c);
		stage_block(cg, P, a, b, y, i0, P->rows, sbuf);
		cg_if_end(cg, &c);
	}
	cg_for_end(cg, &lt);
	kern_fn_end(cg, &kf);
	return fn;
}

int cg_einsum_gemm(Cg *cg, const Node *n, const EinLabels *e)
{
	if (n->nin != 2 || gval(cg->g, n->out[0])->dtype != DT_F32 || cg->isa.vlen < 4)
		return 0;
	int kl = -1;
	for (int i = 0; i < e->nsum; i++) {
		if (e->ssize[i] <= 0)
			return 0;
		if (e->ssize[i] == 1)
			continue;
		if (kl >= 0)
			return 0;
		kl = i;
	}
	if (kl < 0 || !e->sstr[0][kl] || !e->sstr[1][kl])
		return 0;
	/* output positions present in operand 0 only, 1 only */
	int only[2][IR_MAX_RANK], nonly[2] = {0, 0};
	for (int i = 0; i < e->nout; i++) {
		if (e->osize[i] <= 0)
			return 0;
		if (e->osize[i] == 1)
			continue;
		bool in0 = e->ostr[0][i] != 0, in1 = e->ostr[1][i] != 0;
		if (in0 != in1)
			only[in1][nonly[in1]++] = i;
	}
	/* N: a label of one operand only; M: the largest of the other
	 * operand's (none: M = 1).  Among the choices the kernel takes, one
	 * with contiguous output columns, else the largest N. */
	int pn = -1, ob = -1, pm = -1;
	int64_t K = e->ssize[kl];
	for (int o = 0; o < 2; o++)
		for (int k = 0; k < nonly[o]; k++) {
			int n_ = only[o][k], m_ = -1;
			for (int t = 0; t < nonly[1 - o]; t++)
				if (m_ < 0 || e->osize[only[1 - o][t]] > e->osize[m_])
					m_ = only[1 - o][t];
			if (!kern_gemm_ok(cg, m_ >= 0 ? e->osize[m_] : 1, e->osize[n_], K))
				continue;
			bool better = pn < 0 || (e->ystr[n_] == 1 && e->ystr[pn] != 1) ||
			              ((e->ystr[n_] == 1) == (e->ystr[pn] == 1) && e->osize[n_] > e->osize[pn]);
			if (better)
				pn = n_, ob = o, pm = m_;
		}
	if (pn < 0)
		return 0;
	int oa = 1 - ob;

	EinPlan P;
	memset(&P, 0, sizeof P);
	KGemm *g = &P.g;
	g->M = pm >= 0 ? e->osize[pm] : 1;
	g->N = e->osize[pn];
	g->K = K;
	g->a_rs = pm >= 0 ? e->ostr[oa][pm] : 0;
	g->a_cs = e->sstr[oa][kl];
	g->b_rs = e->sstr[ob][kl];
	g->b_cs = e->ostr[ob][pn];
	g->alpha = 1.0f;
	P.c_rs = pm >= 0 ? e->ystr[pm] : 0;
	P.c_cs = e->ystr[pn];
	P.nbatch = 1;
	for (int i = 0; i < e->nout; i++) {
		if (i == pm || i == pn || e->osize[i] == 1)
			continue;
		int d = g->nbatch_dims++;
		g->bdims[d] = e->osize[i];
		g->a_bs[d] = e->ostr[oa][i];
		g->b_bs[d] = e->ostr[ob][i];
		g->c_bs[d] = e->ystr[i];
		P.nbatch *= e->osize[i];
	}
	LLVMValueRef pa = cg_ptr(cg, n->in[oa]), pb = cg_ptr(cg, n->in[ob]), py = cg_ptr(cg, n->out[0]);
	if (P.c_cs == 1) {
		g->a = pa, g->b = pb, g->c = py;
		g->ldc = P.c_rs;
		return kern_gemm(cg, g) ? 1 : -1;
	}
	if (g->N > EIN_BLOCK_FLOATS)
		return 0;
	/* rows per block: the staging block within EIN_BLOCK_FLOATS, and
	 * enough tasks (8) to balance a few threads when the batch alone does
	 * not */
	int64_t rows = EIN_BLOCK_FLOATS / g->N;
	if (rows > g->M)
		rows = g->M;
	int64_t nblk = (g->M + rows - 1) / rows;
	if (P.nbatch * nblk < 8) {
		int64_t want = (8 + P.nbatch - 1) / P.nbatch, maxblk = (g->M + 7) / 8;
		if (want > maxblk)
			want = maxblk;
		if (want > nblk)
			nblk = want;
		rows = (g->M + nblk - 1) / nblk;
	}
	P.rows = rows;
	P.nblk = (g->M + rows - 1) / rows;
	LLVMValueRef task = stage_task(cg, &P);
	LLVMValueRef ptrs[3] = {pa, pb, py};
	kern_parallel_ptrs(cg, task, ptrs, 3, P.nbatch * P.nblk);
	return 1;
}

/* codegen/lower_linalg.c — MatMul, Gemm and Einsum; entry point of the
 * linear-algebra group (Conv and pools live in lower_conv.c, the
 * normalizations in lower_norm.c).
 *
 * Every product is a plain loop nest over static shapes:
 *   - MatMul/Gemm share one kernel, emit_gemm(), computing
 *     Y[i,j] = epilogue(sum_k A[i,k] * B[k,j]) with arbitrary element strides
 *     for A and B.  When B's rows are contiguous and the output element type
 *     is the accumulation type, the loop order is i-k-j accumulating in Y
 *     (the inner j loop is contiguous and vectorises); when A and B are both
 *     contiguous along k (Gemm transB, matrix x vector), i-j and a
 *     vectorised dot product cg_dot(); otherwise i-j-k with a scalar
 *     accumulator.  f16/bf16 accumulate in f32 and round once.
 *   - Einsum: the equation is parsed into one label list per operand (the
 *     ellipsis expands to labels of its own, aligned right and broadcast);
 *     a label's stride in an operand is the sum of the strides of the dims it
 *     names (so a repeated label walks the diagonal), 0 where it broadcasts.
 *     The lowering is an output-label loop nest around a reduction nest over
 *     the summed labels; with two float operands contiguous along a summed
 *     label (XL's 'ibnd,jbnd->ijbn' over d) that label is summed innermost
 *     by cg_dot().  Before that, an f32 Einsum that is one (batched) matrix
 *     product goes to the GEMM kernel (lower_einsum_gemm.c).
 * A constant B with the layout panels (set by fuse-gemm, ir/layout.c) is
 * packed at compile time into the GEMM kernel's panels; any other B, a
 * row-major constant included, is read in place.  Where the kernel does not
 * run the product (too small for the target's vectors, or no vector unit),
 * the loop nest reads B's row-major bytes, panels or not.
 * Semantics: MatMul-13 (numpy matmul), Gemm-13 (alpha, beta, transA,
 * transB, optional C broadcast to [M,N]), Einsum-12.
 */
#include "lower.h"
#include "kernels/kernels.h"

#include <assert.h>
#include <string.h>

static LLVMValueRef add(Cg *cg, DType t, LLVMValueRef a, LLVMValueRef b)
{
	return dtype_is_float(t) ? LLVMBuildFAdd(cg->b, a, b, "") : LLVMBuildAdd(cg->b, a, b, "");
}

static LLVMValueRef mul(Cg *cg, DType t, LLVMValueRef a, LLVMValueRef b)
{
	return dtype_is_float(t) ? LLVMBuildFMul(cg->b, a, b, "") : LLVMBuildMul(cg->b, a, b, "");
}

static bool numeric_ok(DType t)
{
	return dtype_is_float(t) || (dtype_is_int(t) && dtype_size(t) >= 4);
}

/* ---- vectorised dot product ------------------------------------------- */

/* VL consecutive elements of dtype t at base[idx], as a vector of ad. */
static LLVMValueRef vload(Cg *cg, DType t, LLVMValueRef base, LLVMValueRef idx, unsigned vl, DType ad)
{
	LLVMTypeRef mt = cg_mem_type(cg, t);
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, mt, base, &idx, 1, "");
	LLVMValueRef x = LLVMBuildLoad2(cg->b, LLVMVectorType(mt, vl), p, "");
	LLVMSetAlignment(x, (unsigned)dtype_size(t));
	LLVMTypeRef vt = LLVMVectorType(cg_compute_type(cg, ad), vl);
	if (mt == cg_compute_type(cg, ad))
		return x;
	return LLVMBuildFPCast(cg->b, x, vt, "");
}

/* See lower.h.  A vector accumulator of 16 f32 (8 f64) lanes, summed by
 * halving shuffles, then a scalar tail loop. */
LLVMValueRef cg_dot(Cg *cg, DType ad, DType ta, LLVMValueRef a, LLVMValueRef ia,
                    DType tb, LLVMValueRef b, LLVMValueRef ib, LLVMValueRef len)
{
	assert(ad == DT_F32 || ad == DT_F64);
	unsigned vl = ad == DT_F32 ? 16 : 8;
	LLVMTypeRef et = cg_compute_type(cg, ad), vt = LLVMVectorType(et, vl);
	LLVMValueRef vacc = cg_alloca(cg, vt, "vacc");
	LLVMValueRef acc = cg_alloca(cg, et, "acc");
	LLVMBuildStore(cg->b, LLVMConstNull(vt), vacc);
	LLVMValueRef nv = LLVMBuildSDiv(cg->b, len, cg_i64(cg, vl), "");
	CgLoop l;
	cg_for_v(cg, &l, cg_i64(cg, 0), nv);
	LLVMValueRef k = LLVMBuildNSWMul(cg->b, l.iv, cg_i64(cg, vl), "");
	LLVMValueRef va = vload(cg, ta, a, cg_add_i64(cg, ia, k), vl, ad);
	LLVMValueRef vb = vload(cg, tb, b, cg_add_i64(cg, ib, k), vl, ad);
	LLVMValueRef cur = LLVMBuildLoad2(cg->b, vt, vacc, "");
	LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, cur, LLVMBuildFMul(cg->b, va, vb, ""), ""), vacc);
	cg_for_end(cg, &l);
	LLVMValueRef v = LLVMBuildLoad2(cg->b, vt, vacc, "");
	for (unsigned w = vl; w > 1; w /= 2) {
		LLVMValueRef lo[16], hi[16];
		for (unsigned i = 0; i < w / 2; i++) {
			lo[i] = cg_i32(cg, (int32_t)i);
			hi[i] = cg_i32(cg, (int32_t)(i + w / 2));
		}
		LLVMValueRef vl_ = LLVMBuildShuffleVector(cg->b, v, v, LLVMConstVector(lo, w / 2), "");
		LLVMValueRef vh_ = LLVMBuildShuffleVector(cg->b, v, v, LLVMConstVector(hi, w / 2), "");
		v = LLVMBuildFAdd(cg->b, vl_, vh_, "");
	}
	LLVMBuildStore(cg->b, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 0), ""), acc);
	cg_for_v(cg, &l, LLVMBuildNSWMul(cg->b, nv, cg_i64(cg, vl), ""), len);
	LLVMValueRef xa = cg_load_ptr(cg, ta, a, cg_add_i64(cg, ia, l.iv));
	LLVMValueRef xb = cg_load_ptr(cg, tb, b, cg_add_i64(cg, ib, l.iv));
	if (cg_acc_dtype(ta) != ad)
		xa = cg_convert(cg, xa, cg_acc_dtype(ta), ad);
	if (cg_acc_dtype(tb) != ad)
		xb = cg_convert(cg, xb, cg_acc_dtype(tb), ad);
	LLVMValueRef s = LLVMBuildLoad2(cg->b, et, acc, "");
	LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, s, LLVMBuildFMul(cg->b, xa, xb, ""), ""), acc);
	cg_for_end(cg, &l);
	return LLVMBuildLoad2(cg->b, et, acc, "");
}

/* ---- the GEMM kernel --------------------------------------------------- */

/* A matrix operand: element (r, c) is v[off + r*rs + c*cs], or with a row
 * index (rows: an i32 pointer) v[off + rows[r]*rs + c*cs]; with parts > 1
 * (rows of u = cols/parts, see MatMulEpi's row_parts)
 * v[off + rows[r*parts + c/u]*rs + (c%u)*cs]. */
typedef struct Mat {
	ValueId v;
	LLVMValueRef off;
	int64_t rs, cs;
	LLVMValueRef rows;
	int64_t parts, u;
} Mat;

/* Gemm's epilogue: y = alpha*acc + beta*C[i*c.rs + j*c.cs]. */
typedef struct Epi {
	double alpha, beta;
	bool has_c;
	Mat c;
} Epi;

/* The index of element (r, c) of m; with parts, *zero (when not NULL)
 * is set to whether its part's entry is -1 (a part of zeros: an im2col
 * tap in the padding), whose index is then that of row 0's. */
static LLVMValueRef mat_idx_z(Cg *cg, const Mat *m, LLVMValueRef r, LLVMValueRef c, LLVMValueRef *zero)
{
	if (m->rows && m->parts > 1) {
		r = cg_add_i64(cg, cg_mul_i64(cg, r, m->parts), LLVMBuildSDiv(cg->b, c, cg_i64(cg, m->u), ""));
		c = LLVMBuildSRem(cg->b, c, cg_i64(cg, m->u), "");
	}
	if (m->rows) {
		LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_i32, m->rows, &r, 1, "");
		r = LLVMBuildSExt(cg->b, LLVMBuildLoad2(cg->b, cg->t_i32, p, ""), cg->t_i64, "");
		if (m->parts > 1) {
			LLVMValueRef z = LLVMBuildICmp(cg->b, LLVMIntSLT, r, cg_i64(cg, 0), "");
			r = LLVMBuildSelect(cg->b, z, cg_i64(cg, 0), r, "");
			if (zero)
				*zero = z;
		}
	}
	LLVMValueRef iv[2] = {r, c};
	int64_t s[2] = {m->rs, m->cs};
	return cg_add_i64(cg, m->off, cg_linear(cg, 2, iv, s));
}

static LLVMValueRef mat_idx(Cg *cg, const Mat *m, LLVMValueRef r, LLVMValueRef c)
{
	return mat_idx_z(cg, m, r, c, NULL);
}

/* Element (r, c) of A operand m as dtype ad: 0 in a part whose entry is -1. */
static LLVMValueRef mat_load_a(Cg *cg, const Mat *m, LLVMValueRef r, LLVMValueRef c, DType ad)
{
	LLVMValueRef z = NULL;
	LLVMValueRef x = cg_load_as(cg, m->v, mat_idx_z(cg, m, r, c, &z), ad);
	return z ? LLVMBuildSelect(cg->b, z, cg_const(cg, ad, 0), x, "") : x;
}

static LLVMValueRef apply_epi(Cg *cg, DType ad, const Epi *e, LLVMValueRef acc,
                              LLVMValueRef i, LLVMValueRef j)
{
	if (!e)
		return acc;
	if (e->alpha != 1.0)
		acc = mul(cg, ad, acc, cg_const(cg, ad, e->alpha));
	if (e->has_c && e->beta != 0.0) {
		LLVMValueRef c = cg_load_as(cg, e->c.v, mat_idx(cg, &e->c, i, j), ad);
		if (e->beta != 1.0)
			c = mul(cg, ad, c, cg_const(cg, ad, e->beta));
		acc = add(cg, ad, acc, c);
	}
	return acc;
}

/* y[i,j] = epi(sum_k a[i,k]*b[k,j]) for i<M, j<N, k<K (see the file comment
 * for the two loop orders). */
static void emit_gemm(Cg *cg, DType ad, const Mat *a, const Mat *b, const Mat *y,
                      int64_t M, int64_t N, int64_t K, const Epi *e)
{
	bool in_place = b->cs == 1 && y->cs == 1 && gval(cg->g, y->v)->dtype == ad;
	CgLoop li, lj, lk;
	cg_for(cg, &li, 0, M);
	if (in_place) {
		LLVMValueRef zero = cg_const(cg, ad, 0);
		cg_for(cg, &lj, 0, N);
		cg_store_as(cg, y->v, mat_idx(cg, y, li.iv, lj.iv), zero, ad);
		cg_for_end(cg, &lj);
		cg_for(cg, &lk, 0, K);
		LLVMValueRef av = mat_load_a(cg, a, li.iv, lk.iv, ad);
		cg_for(cg, &lj, 0, N);
		LLVMValueRef yi = mat_idx(cg, y, li.iv, lj.iv);
		LLVMValueRef bv = cg_load_as(cg, b->v, mat_idx(cg, b, lk.iv, lj.iv), ad);
		cg_store_as(cg, y->v, yi, add(cg, ad, cg_load_as(cg, y->v, yi, ad), mul(cg, ad, av, bv)), ad);
		cg_for_end(cg, &lj);
		cg_for_end(cg, &lk);
		if (e && (e->alpha != 1.0 || (e->has_c && e->beta != 0.0))) {
			cg_for(cg, &lj, 0, N);
			LLVMValueRef yi = mat_idx(cg, y, li.iv, lj.iv);
			cg_store_as(cg, y->v, yi, apply_epi(cg, ad, e, cg_load_as(cg, y->v, yi, ad), li.iv, lj.iv), ad);
			cg_for_end(cg, &lj);
		}
	} else if (dtype_is_float(ad) && a->cs == 1 && b->rs == 1 && !(a->rows && a->parts > 1)) {
		/* both operands contiguous along k: vectorised dot products */
		LLVMValueRef zero = cg_i64(cg, 0);
		cg_for(cg, &lj, 0, N);
		LLVMValueRef s2 = cg_dot(cg, ad, gval(cg->g, a->v)->dtype, cg_ptr(cg, a->v),
		                         mat_idx(cg, a, li.iv, zero), gval(cg->g, b->v)->dtype,
		                         cg_ptr(cg, b->v), mat_idx(cg, b, zero, lj.iv), cg_i64(cg, K));
		cg_store_as(cg, y->v, mat_idx(cg, y, li.iv, lj.iv), apply_epi(cg, ad, e, s2, li.iv, lj.iv), ad);
		cg_for_end(cg, &lj);
	} else {
		LLVMValueRef acc = cg_alloca(cg, cg_compute_type(cg, ad), "acc");
		cg_for(cg, &lj, 0, N);
		LLVMBuildStore(cg->b, cg_const(cg, ad, 0), acc);
		cg_for(cg, &lk, 0, K);
		LLVMValueRef av = mat_load_a(cg, a, li.iv, lk.iv, ad);
		LLVMValueRef bv = cg_load_as(cg, b->v, mat_idx(cg, b, lk.iv, lj.iv), ad);
		LLVMValueRef s = LLVMBuildLoad2(cg->b, cg_compute_type(cg, ad), acc, "");
		LLVMBuildStore(cg->b, add(cg, ad, s, mul(cg, ad, av, bv)), acc);
		cg_for_end(cg, &lk);
		LLVMValueRef s2 = LLVMBuildLoad2(cg->b, cg_compute_type(cg, ad), acc, "");
		cg_store_as(cg, y->v, mat_idx(cg, y, li.iv, lj.iv), apply_epi(cg, ad, e, s2, li.iv, lj.iv), ad);
		cg_for_end(cg, &lj);
	}
	cg_for_end(cg, &li);
}

/* ---- MatMul ------------------------------------------------------------ */

static KAct epi_act(const Node *n)
{
	const char *a = attr_string(n, "act", "");
	return !strcmp(a, "relu") ? KACT_RELU : !strcmp(a, "gelu") ? KACT_GELU
	       : !strcmp(a, "gelu_tanh") ? KACT_GELU_TANH : KACT_NONE;
}

/* MatMulEpi's LayerNorm (norm_scale, ops.def) over Y's rows of N, in
 * place, into *a; false when it has none. */
static bool epi_norm(Cg *cg, const Node *n, CgLnRows *a)
{
	if (n->nin < 6 || n->in[5] == IR_NONE)
		return false;
	const Value *Y = gval(cg->g, n->out[0]);
	*a = (CgLnRows){
		.x = n->out[0], .scale = n->in[5], .bias = n->nin > 6 ? n->in[6] : IR_NONE, .y = n->out[0],
		.mean = IR_NONE, .inv_std = IR_NONE, .inner = Y->shape.dims[Y->shape.rank - 1],
		.eps = attr_float(n, "norm_epsilon", 1e-5f), .rows = IR_NONE,
	};
	return true;
}

/* The LayerNorm of MatMulEpi n (if any) after its product and epilogue
 * wrote Y, off the kernel path. */
static void norm_loop(Cg *cg, const Node *n)
{
	CgLnRows a;
	if (!epi_norm(cg, n, &a))
		return;
	int64_t total = shape_numel(&gval(cg->g, n->out[0])->shape);
	kern_rows(cg, total / a.inner, 3 * total, cg_layernorm_rows, &a);
}

/* MatMulEpi's epilogue on the GEMM kernel: bias [N] per column, res with
 * Y's rows (row stride N; batch strides are the caller's), activation,
 * scale and beta, then the LayerNorm as the kernel's row epilogue (ops.def;
 * *ln holds its arguments while the kernel is emitted). */
static void epi_kgemm(Cg *cg, const Node *n, int64_t N, KGemm *k, CgLnRows *ln)
{
	if (epi_norm(cg, n, ln)) {
		int64_t total = shape_numel(&gval(cg->g, n->out[0])->shape);
		k->rows_fn = cg_layernorm_rows;
		k->rows_arg = ln;
		k->rows_n = total / N;
		k->rows_work = 3 * total;
	}
	if (n->nin > 2 && n->in[2] != IR_NONE) {
		k->bias = cg_ptr(cg, n->in[2]);
		k->beta_bias = 1.0f;
	}
	if (n->nin > 3 && n->in[3] != IR_NONE) {
		k->res = cg_ptr(cg, n->in[3]);
		k->res_rs = N;
		k->res_cs = 1;
		k->beta = attr_float(n, "beta", 1.0f);
	}
	k->act = epi_act(n);
	k->scale = attr_float(n, "scale", 1.0f);
}

/* MatMulEpi off the kernel path: Y = act(Y + bias) * scale + beta * res in
 * place over Y (f32; bias [.., N], res with Y's shape; the kernel's order
 * and roundings, see kernels.h). */
static void epilogue_loop(Cg *cg, const Node *n)
{
	Value *Y = gval(cg->g, n->out[0]);
	int64_t total = shape_numel(&Y->shape), N = Y->shape.dims[Y->shape.rank - 1];
	bool bias = n->nin > 2 && n->in[2] != IR_NONE, res = n->nin > 3 && n->in[3] != IR_NONE;
	CgLoop l;
	cg_for(cg, &l, 0, total);
	LLVMValueRef y = cg_load(cg, n->out[0], l.iv);
	if (bias)
		y = LLVMBuildFAdd(cg->b, y, cg_load(cg, n->in[2], LLVMBuildSRem(cg->b, l.iv, cg_i64(cg, N), "")), "");
	if (epi_act(n) == KACT_RELU)
		y = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, y, cg_f32(cg, 0), ""), cg_f32(cg, 0), y, "");
	else if (epi_act(n) != KACT_NONE)
		y = kern_gelu(cg, y, epi_act(n) == KACT_GELU_TANH);
	float scale = attr_float(n, "scale", 1.0f), beta = attr_float(n, "beta", 1.0f);
	if (scale != 1.0f)
		y = LLVMBuildFMul(cg->b, y, cg_f32(cg, scale), "");
	if (res) {
		LLVMValueRef r = cg_load(cg, n->in[3], l.iv);
		if (beta != 1.0f)
			r = LLVMBuildFMul(cg->b, r, cg_f32(cg, beta), "");
		y = LLVMBuildFAdd(cg->b, y, r, "");
	}
	cg_store(cg, n->out[0], l.iv, y);
	cg_for_end(cg, &l);
}

/* MatMulEpi's row prologue (a_norm_scale, ops.def): the LayerNorm of the
 * logical A's rows of K, read through the row index (rows of u = K/P), into
 * *a; false when it has none. */
static bool pro_norm(Cg *cg, const Node *n, int64_t K, int64_t u, CgLnRows *a)
{
	if (n->nin < 8 || n->in[7] == IR_NONE)
		return false;
	*a = (CgLnRows){
		.x = n->in[0], .scale = n->in[7], .bias = n->nin > 8 ? n->in[8] : IR_NONE, .y = IR_NONE,
		.mean = IR_NONE, .inv_std = IR_NONE, .inner = K, .eps = attr_float(n, "a_norm_epsilon", 1e-5f),
		.rows = n->in[4], .row_len = u,
	};
	(void)cg;
	return true;
}

static void pro_stats(Cg *cg, void *arg, LLVMValueRef i, LLVMValueRef row, LLVMValueRef *mean, LLVMValueRef *inv)
{
	CgLnRows a = *(const CgLnRows *)arg;
	a.xrow = row;
	cg_layernorm_stats(cg, &a, i, mean, inv);
}

static void pro_stats_rows(Cg *cg, void *arg, int n, CgRowPtrFn rowp, const void *rarg, LLVMValueRef mean,
                           LLVMValueRef inv)
{
	cg_layernorm_stats_rows(cg, arg, n, rowp, rarg, mean, inv);
}

/* The loop nest of a product whose A rows are normalised (the row
 * prologue): emit_gemm's i-k-j order, each element of A normalised as it
 * is read, with LayerNormalization's arithmetic (lower_norm.c). */
static void emit_gemm_norm(Cg *cg, const Mat *a, const Mat *b, const Mat *y, int64_t M, int64_t N, int64_t K,
                           const CgLnRows *ln)
{
	CgLoop li, lj, lk;
	cg_for(cg, &li, 0, M);
	LLVMValueRef mean, inv;
	cg_layernorm_stats(cg, ln, li.iv, &mean, &inv);
	cg_for(cg, &lj, 0, N);
	cg_store_as(cg, y->v, mat_idx(cg, y, li.iv, lj.iv), cg_f32(cg, 0), DT_F32);
	cg_for_end(cg, &lj);
	cg_for(cg, &lk, 0, K);
	LLVMValueRef av = mat_load_a(cg, a, li.iv, lk.iv, DT_F32);
	av = LLVMBuildFMul(cg->b, LLVMBuildFMul(cg->b, LLVMBuildFSub(cg->b, av, mean, ""), inv, ""),
	                   cg_load_as(cg, ln->scale, lk.iv, DT_F32), "");
	if (ln->bias != IR_NONE)
		av = LLVMBuildFAdd(cg->b, av, cg_load_as(cg, ln->bias, lk.iv, DT_F32), "");
	cg_for(cg, &lj, 0, N);
	LLVMValueRef yi = mat_idx(cg, y, li.iv, lj.iv);
	LLVMValueRef bv = cg_load_as(cg, b->v, mat_idx(cg, b, lk.iv, lj.iv), DT_F32);
	cg_store_as(cg, y->v, yi, add(cg, DT_F32, cg_load_as(cg, y->v, yi, DT_F32), mul(cg, DT_F32, av, bv)), DT_F32);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lk);
	cg_for_end(cg, &li);
}

/* rows (an i32 constant) is 0, 1, .., R-1: row r of the logical A is row
 * r of A. */
static bool rows_identity(const Value *rows)
{
	const int32_t *r = rows->data;
	for (int64_t i = 0; i < rows->shape.dims[0]; i++)
		if (r[i] != i)
			return false;
	return true;
}

/* MatMulEpi with rows (ops.def): Y [R rows of N] = epilogue(A' . B), row r
 * of A' being row rows[r] of A viewed as [numel(A)/K, K] (with row_parts
 * P: the P rows rows[r*P + j] of A viewed in rows of K/P); B [K, N]
 * constant (infer_matmul_epi checked the shapes and the index).  On the
 * GEMM kernel the index is KGemm.a_rows (none when it is the identity
 * fuse-norm-gemm gives a GEMM with a row prologue: the kernel then keeps
 * its blocking for a plain A); otherwise the loop nest reads A
 * through it (Mat.rows) and the epilogue runs as a loop over Y.  With the
 * row prologue (a_norm_scale) A' is normalised per row: on the kernel as
 * it copies A's blocks (KGemm.a_stats), otherwise in the loop nest. */
static bool lower_matmul_rows(Cg *cg, const Node *n)
{
	Value *B = gval(cg->g, n->in[1]), *Y = gval(cg->g, n->out[0]), *rows = gval(cg->g, n->in[4]);
	int64_t P = attr_int(n, "row_parts", 1);
	int64_t K = B->shape.dims[0], N = B->shape.dims[1], R = rows->shape.dims[0] / P, u = K / P;
	assert(shape_numel(&Y->shape) == R * N && K % P == 0);
	(void)Y;
	if (kern_gemm_ok(cg, R, N, K)) {
		KGemm k = {
			.M = R, .N = N, .K = K,
			.a = cg_ptr(cg, n->in[0]), .a_rs = u, .a_cs = 1,
			.b_rs = N, .b_cs = 1,
			.c = cg_ptr(cg, n->out[0]), .ldc = N,
			.alpha = 1.0f,
			.a_rows = P == 1 && rows_identity(rows) ? NULL : cg_ptr(cg, n->in[4]),
			.a_row_parts = P,
		};
		if (B->layout == LAYOUT_PANELS && B->data)
			k.b_const = (const float *)B->data;
		else
			k.b = cg_ptr(cg, n->in[1]);
		CgLnRows ln, pro;
		epi_kgemm(cg, n, N, &k, &ln);
		if (pro_norm(cg, n, K, u, &pro)) {
			k.a_stats = pro_stats;
			if (gval(cg->g, pro.x)->dtype == DT_F32) /* cg_layernorm_stats_rows' lanes */
				k.a_stats_rows = pro_stats_rows;
			k.a_stats_arg = &pro;
			k.a_scale = cg_ptr(cg, pro.scale);
			k.a_shift = pro.bias != IR_NONE ? cg_ptr(cg, pro.bias) : NULL;
		}
		return kern_gemm(cg, &k);
	}
	Mat a = {n->in[0], cg_i64(cg, 0), u, 1, cg_ptr(cg, n->in[4]), P, u};
	Mat b = {n->in[1], cg_i64(cg, 0), N, 1, NULL};
	Mat y = {n->out[0], cg_i64(cg, 0), N, 1, NULL};
	CgLnRows pro;
	if (pro_norm(cg, n, K, u, &pro))
		emit_gemm_norm(cg, &a, &b, &y, R, N, K, &pro);
	else
		emit_gemm(cg, DT_F32, &a, &b, &y, R, N, K, NULL);
	epilogue_loop(cg, n);
	norm_loop(cg, n);
	return true;
}

/* MatMul-13: numpy matmul.  A 1-D A is a row [1,K] whose M dim is dropped
 * from the result; a 1-D B a column [K,1] whose N dim is dropped; leading
 * (batch) dims broadcast. */
static bool lower_matmul(Cg *cg, const Node *n)
{
	if (n->op == OP_MatMulEpi && n->nin > 4 && n->in[4] != IR_NONE)
		return lower_matmul_rows(cg, n);
	Value *A = gval(cg->g, n->in[0]), *B = gval(cg->g, n->in[1]);
	Value *Y = gval(cg->g, n->out[0]);
	DType dt = Y->dtype;
	if (!numeric_ok(dt) || A->dtype != dt || B->dtype != dt)
		return cg_unsupported(cg, -1, "MatMul of %s", dtype_name(dt));
	int ra = A->shape.rank, rb = B->shape.rank;
	if (ra < 1 || rb < 1)
		return cg_unsupported(cg, ra < 1 ? 0 : 1, "MatMul operands must have rank >= 1");
	int64_t M = ra == 1 ? 1 : A->shape.dims[ra - 2];
	int64_t K = A->shape.dims[ra - 1];
	int64_t Kb = rb == 1 ? B->shape.dims[0] : B->shape.dims[rb - 2];
	int64_t N = rb == 1 ? 1 : B->shape.dims[rb - 1];
	if (K != Kb)
		return cg_unsupported(cg, 1, "inner dimensions differ (%lld vs %lld)",
		                      (long long)K, (long long)Kb);
	int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
	int R = ba > bb ? ba : bb;
	int yr = R + (ra > 1) + (rb > 1);
	if (Y->shape.rank != yr)
		return cg_unsupported(cg, -1, "output rank %d, expected %d", Y->shape.rank, yr);

	/* Batch dims and strides (elements) of A, B and Y over the R batch dims. */
	int64_t bd[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK], sy[IR_MAX_RANK];
	int64_t ya = M * N, aa = M * K, bbs = K * N;
	for (int i = R - 1; i >= 0; i--) {
		int ia = i - (R - ba), ib = i - (R - bb);
		int64_t da = ia >= 0 ? A->shape.dims[ia] : 1;
		int64_t db = ib >= 0 ? B->shape.dims[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return cg_unsupported(cg, -1, "batch dims %lld and %lld do not broadcast",
			                      (long long)da, (long long)db);
		bd[i] = da > db ? da : db;
		if (Y->shape.dims[i] != bd[i])
			return cg_unsupported(cg, -1, "output dim %d is %lld, expected %lld", i,
			                      (long long)Y->shape.dims[i], (long long)bd[i]);
		sa[i] = da == 1 ? 0 : aa;
		sb[i] = db == 1 ? 0 : bbs;
		sy[i] = ya;
		aa *= da;
		bbs *= db;
		ya *= bd[i];
	}
	bool b_batched = false;
	for (int i = 0; i < R; i++)
		b_batched |= sb[i] != 0;
	Value *Bv = gval(cg->g, n->in[1]);
	/* B shared by every batch entry and A not broadcast: the batch is
	 * more rows of one product (TXL's [tokens, 1, d] activations) */
	bool fold = !b_batched;
	int64_t Mf = M;
	for (int i = 0; i < R; i++) {
		fold &= bd[i] == 1 || sa[i] != 0;
		Mf *= bd[i];
	}
	if (dt == DT_F32 && rb > 1 && kern_gemm_ok(cg, fold ? Mf : M, N, K)) {
		KGemm k = {
			.M = M, .N = N, .K = K,
			.a = cg_ptr(cg, n->in[0]), .a_rs = K, .a_cs = 1,
			.b_rs = N, .b_cs = 1,
			.c = cg_ptr(cg, n->out[0]), .ldc = N,
			.alpha = 1.0f,
			.nbatch_dims = R,
		};
		for (int i = 0; i < R; i++) {
			k.bdims[i] = bd[i];
			k.a_bs[i] = sa[i];
			k.b_bs[i] = sb[i];
			k.c_bs[i] = sy[i];
		}
		if (fold) {
			k.M = Mf;
			k.nbatch_dims = 0;
		}
		if (Bv->layout == LAYOUT_PANELS && Bv->data && !b_batched)
			k.b_const = (const float *)Bv->data; /* packed into panels now */
		else
			k.b = cg_ptr(cg, n->in[1]);
		CgLnRows ln;
		if (n->op == OP_MatMulEpi) {
			/* res batch strides as Y's (folded into rows when fold) */
			epi_kgemm(cg, n, N, &k, &ln);
			if (k.res)
				for (int i = 0; i < R; i++)
					k.res_bs[i] = sy[i];
		}
		return kern_gemm(cg, &k);
	}
	CgNest nest;
	cg_nest(cg, &nest, R, bd);
	Mat a = {n->in[0], cg_linear(cg, R, nest.iv, sa), K, 1};
	Mat b = {n->in[1], cg_linear(cg, R, nest.iv, sb), N, 1};
	if (rb == 1) {
		b.rs = 1;
		b.cs = 0;
	}
	Mat y = {n->out[0], cg_linear(cg, R, nest.iv, sy), N, 1};
	emit_gemm(cg, cg_acc_dtype(dt), &a, &b, &y, M, N, K, NULL);
	cg_nest_end(cg, &nest);
	if (n->op == OP_MatMulEpi) {
		epilogue_loop(cg, n);
		norm_loop(cg, n);
	}
	return true;
}

/* ---- Gemm ---------------------------------------------------------------- */

/* Gemm-13: Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A (M x K),
 * B' = transB ? B^T : B (K x N), C optional and unidirectionally broadcast
 * to [M, N]. */
static bool lower_gemm(Cg *cg, const Node *n)
{
	Value *A = gval(cg->g, n->in[0]), *B = gval(cg->g, n->in[1]);
	Value *Y = gval(cg->g, n->out[0]);
	DType dt = Y->dtype;
	if (!numeric_ok(dt) || A->dtype != dt || B->dtype != dt)
		return cg_unsupported(cg, -1, "Gemm of %s", dtype_name(dt));
	if (A->shape.rank != 2 || B->shape.rank != 2 || Y->shape.rank != 2)
		return cg_unsupported(cg, A->shape.rank != 2 ? 0 : 1, "Gemm operands must be 2-D");
	bool ta = attr_int(n, "transA", 0) != 0, tb = attr_int(n, "transB", 0) != 0;
	int64_t M = A->shape.dims[ta ? 1 : 0], K = A->shape.dims[ta ? 0 : 1];
	int64_t Kb = B->shape.dims[tb ? 1 : 0], N = B->shape.dims[tb ? 0 : 1];
	if (K != Kb)
		return cg_unsupported(cg, 1, "inner dimensions differ (%lld vs %lld)",
		                      (long long)K, (long long)Kb);
	if (Y->shape.dims[0] != M || Y->shape.dims[1] != N)
		return cg_unsupported(cg, -1, "output shape is not [%lld,%lld]", (long long)M, (long long)N);
	Epi e = {attr_float(n, "alpha", 1.0f), attr_float(n, "beta", 1.0f), false, {0}};
	if (n->nin > 2 && n->in[2] != IR_NONE) {
		Value *C = gval(cg->g, n->in[2]);
		if (C->dtype != dt || C->shape.rank > 2)
			return cg_unsupported(cg, 2, "C must be %s of rank <= 2", dtype_name(dt));
		int64_t cs[2];
		int64_t full[2] = {M, N};
		for (int i = 0; i < C->shape.rank; i++) {
			int64_t d = C->shape.dims[i], want = full[2 - C->shape.rank + i];
			if (d != 1 && d != want)
				return cg_unsupported(cg, 2, "C does not broadcast to [%lld,%lld]",
				                      (long long)M, (long long)N);
		}
		cg_broadcast_strides(&C->shape, 2, cs);
		e.has_c = true;
		e.c = (Mat){n->in[2], cg_i64(cg, 0), cs[0], cs[1]};
	}
	if (dt == DT_F32 && kern_gemm_ok(cg, M, N, K)) {
		Value *Bv = gval(cg->g, n->in[1]);
		KGemm k = {
			.M = M, .N = N, .K = K,
			.a = cg_ptr(cg, n->in[0]), .a_rs = ta ? 1 : K, .a_cs = ta ? M : 1,
			.b_rs = tb ? 1 : N, .b_cs = tb ? K : 1,
			.c = cg_ptr(cg, n->out[0]), .ldc = N,
			.alpha = e.alpha,
		};
		if (Bv->layout == LAYOUT_PANELS && Bv->data)
			k.b_const = (const float *)Bv->data; /* packed into panels now */
		else
			k.b = cg_ptr(cg, n->in[1]);
		if (e.has_c && e.beta != 0.0) {
			if (e.c.rs == 0 && e.c.cs == 1) {
				k.bias = cg_ptr(cg, e.c.v);
				k.beta_bias = (float)e.beta;
			} else {
				k.res = cg_ptr(cg, e.c.v);
				k.res_rs = e.c.rs;
				k.res_cs = e.c.cs;
				k.beta = (float)e.beta;
			}
		}
		if (!k.res || k.res_cs <= 1)
			return kern_gemm(cg, &k);
	}
	Mat a = {n->in[0], cg_i64(cg, 0), ta ? 1 : K, ta ? M : 1};
	Mat b = {n->in[1], cg_i64(cg, 0), tb ? 1 : N, tb ? K : 1};
	Mat y = {n->out[0], cg_i64(cg, 0), N, 1};
	emit_gemm(cg, cg_acc_dtype(dt), &a, &b, &y, M, N, K, &e);
	return true;
}

/* ---- Einsum ----------------------------------------------------------- */

/* Labels: 'a'..'z' -> 0..25, 'A'..'Z' -> 26..51, ellipsis dim e -> 52+e
 * (ellipsis dims numbered left to right over the broadcast ellipsis). */
#define EIN_LETTERS 52
#define EIN_LABELS (EIN_LETTERS + IR_MAX_RANK)
#define EIN_MAX_OPS 16

typedef struct EinTerm {
	int n;                       /* number of labels (= operand rank) */
	int lab[IR_MAX_RANK];
} EinTerm;

static int letter_label(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return 26 + (c - 'A');
	return -1;
}

/* Parses one term s[0..len) into t, expanding "..." to ell_rank labels
 * starting at 52 + (E - ell_rank).  ell_rank < 0: compute it from rank.
 * Returns false on a malformed term. */
static bool parse_term(const char *s, size_t len, int rank, int E, bool is_out, EinTerm *t,
                       int *ell_rank_out)
{
	int letters = 0;
	bool ell = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (ell || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
				return false;
			ell = true;
			i += 2;
		} else if (letter_label(s[i]) >= 0) {
			letters++;
		} else {
			return false;
		}
	}
	int er = is_out ? (ell ? E : 0) : rank - letters;
	if (er < 0 || (!ell && er != 0) || letters + er > IR_MAX_RANK)
		return false;
	if (ell_rank_out)
		*ell_rank_out = er;
	t->n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			for (int k = 0; k < er; k++)
				t->lab[t->n++] = EIN_LETTERS + (E - er) + k;
			i += 2;
		} else {
			t->lab[t->n++] = letter_label(s[i]);
		}
	}
	return true;
}

/* Einsum-12. */
static bool lower_einsum(Cg *cg, const Node *n)
{
	const char *eq0 = attr_string(n, "equation", NULL);
	if (!eq0)
		return cg_unsupported(cg, -1, "Einsum without an equation");
	char eq[512];
	size_t L = 0;
	for (const char *p = eq0; *p; p++)
		if (*p != ' ' && *p != '\t') {
			if (L + 1 >= sizeof eq)
				return cg_unsupported(cg, -1, "Einsum equation too long");
			eq[L++] = *p;
		}
	eq[L] = 0;
	int nops = n->nin;
	if (nops > EIN_MAX_OPS)
		return cg_unsupported(cg, -1, "Einsum with %d operands (max %d)", nops, EIN_MAX_OPS);
	Value *Y = gval(cg->g, n->out[0]);
	DType dt = Y->dtype;
	if (!numeric_ok(dt))
		return cg_unsupported(cg, -1, "Einsum of %s", dtype_name(dt));
	for (int o = 0; o < nops; o++)
		if (n->in[o] == IR_NONE || gval(cg->g, n->in[o])->dtype != dt)
			return cg_unsupported(cg, o, "Einsum operands must all be %s", dtype_name(dt));

	const char *arrow = strstr(eq, "->");
	size_t lhs_len = arrow ? (size_t)(arrow - eq) : L;
	/* Split the left side on commas; first pass finds the ellipsis rank. */
	size_t ts[EIN_MAX_OPS], tl[EIN_MAX_OPS];
	int nt = 0;
	size_t start = 0;
	for (size_t i = 0; i <= lhs_len; i++) {
		if (i == lhs_len || eq[i] == ',') {
			if (nt == EIN_MAX_OPS)
				return cg_unsupported(cg, -1, "too many Einsum terms");
			ts[nt] = start;
			tl[nt] = i - start;
			nt++;
			start = i + 1;
		}
	}
	if (nt != nops)
		return cg_unsupported(cg, -1, "equation '%s' has %d terms for %d inputs", eq0, nt, nops);
	EinTerm term[EIN_MAX_OPS], out;
	int E = 0;
	for (int o = 0; o < nops; o++) {
		int er;
		if (!parse_term(eq + ts[o], tl[o], gval(cg->g, n->in[o])->shape.rank, 0, false,
		                &term[o], &er))
			return cg_unsupported(cg, o, "equation '%s': term %d is malformed or does not match rank %d",
			                      eq0, o, gval(cg->g, n->in[o])->shape.rank);
		if (er > E)
			E = er;
	}
	for (int o = 0; o < nops; o++) /* again, now numbering ellipsis dims */
		parse_term(eq + ts[o], tl[o], gval(cg->g, n->in[o])->shape.rank, E, false,
		           &term[o], NULL);

	/* Label sizes. */
	int64_t size[EIN_LABELS];
	int count[EIN_LABELS] = {0};
	for (int l = 0; l < EIN_LABELS; l++)
		size[l] = -1;
	for (int o = 0; o < nops; o++) {
		const Shape *s = &gval(cg->g, n->in[o])->shape;
		for (int i = 0; i < term[o].n; i++) {
			int l = term[o].lab[i];
			int64_t d = s->dims[i];
			count[l]++;
			if (size[l] < 0 || size[l] == 1)
				size[l] = d;
			else if (d != size[l] && d != 1)
				return cg_unsupported(cg, o, "label size %lld differs from %lld",
				                      (long long)d, (long long)size[l]);
		}
	}

	/* Output labels. */
	if (arrow) {
		if (!parse_term(arrow + 2, strlen(arrow + 2), 0, E, true, &out, NULL))
			return cg_unsupported(cg, -1, "malformed output term in '%s'", eq0);
		bool seen[EIN_LABELS] = {false};
		for (int i = 0; i < out.n; i++) {
			int l = out.lab[i];
			if (seen[l] || size[l] < 0)
				return cg_unsupported(cg, -1, "output label repeated or absent in '%s'", eq0);
			seen[l] = true;
		}
	} else { /* implicit: ellipsis dims, then once-used letters by ASCII */
		out.n = 0;
		for (int k = 0; k < E; k++)
			out.lab[out.n++] = EIN_LETTERS + k;
		for (int c = 0; c < 128; c++) {
			int l = letter_label((char)c);
			if (l >= 0 && count[l] == 1) {
				if (out.n == IR_MAX_RANK)
					return cg_unsupported(cg, -1, "output rank too large");
				out.lab[out.n++] = l;
			}
		}
	}
	if (Y->shape.rank != out.n)
		return cg_unsupported(cg, -1, "output rank %d, equation gives %d", Y->shape.rank, out.n);
	int64_t odims[IR_MAX_RANK];
	bool in_out[EIN_LABELS] = {false};
	for (int i = 0; i < out.n; i++) {
		odims[i] = size[out.lab[i]];
		in_out[out.lab[i]] = true;
		if (Y->shape.dims[i] != odims[i])
			return cg_unsupported(cg, -1, "output dim %d is %lld, equation gives %lld", i,
			                      (long long)Y->shape.dims[i], (long long)odims[i]);
	}
	int sum_lab[IR_MAX_RANK], nsum = 0;
	int64_t sdims[IR_MAX_RANK];
	for (int l = 0; l < EIN_LABELS; l++) {
		if (size[l] < 0 || in_out[l])
			continue;
		if (nsum == IR_MAX_RANK)
			return cg_unsupported(cg, -1, "more than %d summed labels", IR_MAX_RANK);
		sdims[nsum] = size[l];
		sum_lab[nsum++] = l;
	}

	/* Per-operand strides of each label (0 where the dim broadcasts). */
	int64_t lstr[EIN_MAX_OPS][EIN_LABELS];
	memset(lstr, 0, sizeof lstr);
	for (int o = 0; o < nops; o++) {
		const Shape *s = &gval(cg->g, n->in[o])->shape;
		int64_t st_[IR_MAX_RANK];
		shape_strides(s, st_);
		for (int i = 0; i < term[o].n; i++) {
			int l = term[o].lab[i];
			if (!(s->dims[i] == 1 && size[l] != 1))
				lstr[o][l] += st_[i];
		}
	}

	if (nops == 2) {
		EinLabels el;
		memset(&el, 0, sizeof el);
		el.nout = out.n;
		el.nsum = nsum;
		shape_strides(&Y->shape, el.ystr);
		for (int i = 0; i < out.n; i++) {
			el.osize[i] = odims[i];
			for (int o = 0; o < 2; o++)
				el.ostr[o][i] = lstr[o][out.lab[i]];
		}
		for (int i = 0; i < nsum; i++) {
			el.ssize[i] = sdims[i];
			for (int o = 0; o < 2; o++)
				el.sstr[o][i] = lstr[o][sum_lab[i]];
		}
		int r = cg_einsum_gemm(cg, n, &el);
		if (r != 0)
			return r > 0;
	}

	/* Two float operands both contiguous along a summed label: make it the
	 * innermost and sum it with the vectorised dot product. */
	bool dot = false;
	if (nops == 2 && dtype_is_float(dt))
		for (int i = 0; i < nsum && !dot; i++)
			if (lstr[0][sum_lab[i]] == 1 && lstr[1][sum_lab[i]] == 1) {
				int l = sum_lab[i];
				int64_t sz = sdims[i];
				for (int j = i; j < nsum - 1; j++) {
					sum_lab[j] = sum_lab[j + 1];
					sdims[j] = sdims[j + 1];
				}
				sum_lab[nsum - 1] = l;
				sdims[nsum - 1] = sz;
				dot = true;
			}
	int nloop = dot ? nsum - 1 : nsum; /* summed labels walked by loops */

	DType ad = cg_acc_dtype(dt);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgNest on, sn;
	cg_nest(cg, &on, out.n, odims);
	LLVMValueRef base[EIN_MAX_OPS];
	for (int o = 0; o < nops; o++) {
		int64_t s[IR_MAX_RANK];
		for (int i = 0; i < out.n; i++)
			s[i] = lstr[o][out.lab[i]];
		base[o] = cg_linear(cg, out.n, on.iv, s);
	}
	LLVMBuildStore(cg->b, cg_const(cg, ad, 0), acc);
	cg_nest(cg, &sn, nloop, sdims);
	LLVMValueRef prod = NULL, idx[EIN_MAX_OPS];
	for (int o = 0; o < nops; o++) {
		int64_t s[IR_MAX_RANK];
		for (int i = 0; i < nloop; i++)
			s[i] = lstr[o][sum_lab[i]];
		idx[o] = cg_add_i64(cg, base[o], cg_linear(cg, nloop, sn.iv, s));
		if (!dot) {
			LLVMValueRef x = cg_load_as(cg, n->in[o], idx[o], ad);
			prod = prod ? mul(cg, ad, prod, x) : x;
		}
	}
	if (dot)
		prod = cg_dot(cg, ad, dt, cg_ptr(cg, n->in[0]), idx[0], dt, cg_ptr(cg, n->in[1]), idx[1],
		              cg_i64(cg, sdims[nsum - 1]));
	LLVMBuildStore(cg->b, add(cg, ad, LLVMBuildLoad2(cg->b, at, acc, ""), prod), acc);
	cg_nest_end(cg, &sn);
	int64_t ystr[IR_MAX_RANK];
	shape_strides(&Y->shape, ystr);
	cg_store_as(cg, n->out[0], cg_linear(cg, out.n, on.iv, ystr), LLVMBuildLoad2(cg->b, at, acc, ""), ad);
	cg_nest_end(cg, &on);
	return true;
}

/* ---- group entry point -------------------------------------------------- */

/* Lowers MatMul, Gemm, Einsum here and forwards Conv/ConvTranspose/pools to
 * cg_lower_conv() and the normalizations to cg_lower_norm(). */
bool cg_lower_linalg(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_MatMul:
	case OP_MatMulEpi:
		return lower_matmul(cg, n);
	case OP_Gemm:
		return lower_gemm(cg, n);
	case OP_Einsum:
		return lower_einsum(cg, n);
	case OP_Conv: case OP_ConvTranspose: case OP_MaxPool: case OP_AveragePool:
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return cg_lower_conv(cg, n);
	case OP_BatchNormalization: case OP_InstanceNormalization:
	case OP_LayerNormalization: case OP_MeanVarianceNormalization: case OP_LRN:
		return cg_lower_norm(cg, n);
	default:
		IR_UNREACHABLE("cg_lower_linalg: op not in this group");
	}
}

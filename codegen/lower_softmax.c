/* codegen/lower_softmax.c — Softmax, LogSoftmax and Hardmax.
 *
 * Softmax-13 and later work along one axis (default -1); Softmax-1/11
 * flatten the input to 2-D at `axis` (default 1) and work along the
 * trailing part.  Both are the [outer, A, inner] view of the input
 * (inner = 1 for the flattened form).  Per row of A elements: m = max;
 * Softmax e/sum(e) with e = exp(x - m); LogSoftmax (x - m) - log(sum(e));
 * Hardmax 1 at the first maximum, 0 elsewhere.  With inner > 1 all inner
 * columns are processed together so every pass reads memory contiguously;
 * f32/f64 keep e in the output between passes, f16/bf16 recompute it.
 * Softmax and LogSoftmax over contiguous rows (inner = 1, the attention
 * case) are explicit vector loops (vec.h): f32 rows at the full vector
 * width with several partial maxima/sums, other dtypes as scalars.
 */
#include "lower.h"
#include "kernels/kernels.h"
#include "lower_data.h"
#include "mathfn.h"
#include "vec.h"

#include <math.h>

/* Softmax family with inner > 1: all `inner` rows of one outer index at
 * once, so every pass walks the input contiguously with the inner index
 * innermost; per-row max, sum (and Hardmax's arg) live in stack arrays of
 * `inner` elements.  Same arithmetic as the row form. */
#define SOFTMAX_MAX_COLUMNS 1024

static LLVMValueRef load_acc(Cg *cg, LLVMTypeRef t, LLVMValueRef p)
{
	return LLVMBuildLoad2(cg->b, t, p, "");
}

static LLVMValueRef slot(Cg *cg, LLVMTypeRef et, LLVMValueRef arr, LLVMValueRef i)
{
	return LLVMBuildInBoundsGEP2(cg->b, et, arr, &i, 1, "");
}

/* One pass over an [A, inner] block: a loop over a, then over the inner
 * columns; idx is the element, mp/sp/ap the column's max/sum/arg slots. */
typedef struct ColPass {
	CgLoop la, li;
	LLVMValueRef idx, mp, sp, ap;
} ColPass;

typedef struct ColState {
	LLVMTypeRef ct;                 /* compute type */
	LLVMValueRef mx, sm, arg;       /* per-column arrays */
	LLVMValueRef ob;                /* element offset of the block */
	int64_t A, inner;
} ColState;

static void col_begin(Cg *cg, const ColState *st, ColPass *p)
{
	LLVMBuilderRef b = cg->b;
	cg_for(cg, &p->la, 0, st->A);
	LLVMValueRef rb = LLVMBuildAdd(b, st->ob, LLVMBuildMul(b, p->la.iv, cg_i64(cg, st->inner), ""), "");
	cg_for(cg, &p->li, 0, st->inner);
	p->idx = LLVMBuildAdd(b, rb, p->li.iv, "");
	p->mp = slot(cg, st->ct, st->mx, p->li.iv);
	p->sp = slot(cg, st->ct, st->sm, p->li.iv);
	p->ap = slot(cg, cg->t_i64, st->arg, p->li.iv);
}

/* Element a of the row starting at base with stride st. */
static LLVMValueRef row_elem(Cg *cg, LLVMValueRef base, LLVMValueRef a, LLVMValueRef st)
{
	return LLVMBuildAdd(cg->b, base, LLVMBuildMul(cg->b, a, st, ""), "");
}

static void col_end(Cg *cg, ColPass *p)
{
	cg_for_end(cg, &p->li);
	cg_for_end(cg, &p->la);
}

static void softmax_columns(Cg *cg, const Node *n, int64_t outer, int64_t A, int64_t inner)
{
	ValueId in = n->in[0], out = n->out[0];
	DType t = gval(cg->g, in)->dtype;
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef ct = cg_compute_type(cg, t), it = cg->t_i64;
	bool keep_e = ct == cg_mem_type(cg, t), hard = n->op == OP_Hardmax;
	ColState st = {.ct = ct, .A = A, .inner = inner};
	st.mx = cg_alloca(cg, LLVMArrayType2(ct, (uint64_t)inner), "colmax");
	st.sm = cg_alloca(cg, LLVMArrayType2(ct, (uint64_t)inner), "colsum");
	st.arg = cg_alloca(cg, LLVMArrayType2(it, (uint64_t)inner), "colarg");
	CgLoop lo, li;
	ColPass p;
	cg_for(cg, &lo, 0, outer);
	st.ob = LLVMBuildMul(b, lo.iv, cg_i64(cg, A * inner), "");
	cg_for(cg, &li, 0, inner);
	LLVMBuildStore(b, LLVMConstReal(ct, -INFINITY), slot(cg, ct, st.mx, li.iv));
	LLVMBuildStore(b, LLVMConstReal(ct, 0), slot(cg, ct, st.sm, li.iv));
	LLVMBuildStore(b, cg_i64(cg, 0), slot(cg, it, st.arg, li.iv));
	cg_for_end(cg, &li);

	/* pass 1: maxima (Hardmax: the first index of each) */
	col_begin(cg, &st, &p);
	LLVMValueRef x = cg_load(cg, in, p.idx), m = load_acc(cg, ct, p.mp);
	if (hard) {
		LLVMValueRef gt = LLVMBuildFCmp(b, LLVMRealOGT, x, m, "");
		LLVMBuildStore(b, LLVMBuildSelect(b, gt, x, m, ""), p.mp);
		LLVMBuildStore(b, LLVMBuildSelect(b, gt, p.la.iv, load_acc(cg, it, p.ap), ""), p.ap);
	} else {
		LLVMBuildStore(b, cg_dm_combine(cg, CG_COMB_MAX, t, m, x), p.mp);
	}
	col_end(cg, &p);

	if (hard) {
		col_begin(cg, &st, &p);
		LLVMValueRef hit = LLVMBuildICmp(b, LLVMIntEQ, p.la.iv, load_acc(cg, it, p.ap), "");
		cg_store(cg, out, p.idx, LLVMBuildSelect(b, hit, LLVMConstReal(ct, 1), LLVMConstReal(ct, 0), ""));
		col_end(cg, &p);
		cg_for_end(cg, &lo);
		return;
	}

	/* pass 2: sums of exp(x - max) */
	col_begin(cg, &st, &p);
	LLVMValueRef e = cg_math_exp(cg, LLVMBuildFSub(b, cg_load(cg, in, p.idx), load_acc(cg, ct, p.mp), ""));
	if (keep_e && n->op == OP_Softmax)
		cg_store(cg, out, p.idx, e);
	LLVMBuildStore(b, LLVMBuildFAdd(b, load_acc(cg, ct, p.sp), e, ""), p.sp);
	col_end(cg, &p);
	if (n->op == OP_LogSoftmax) { /* sums become log-sums */
		cg_for(cg, &li, 0, inner);
		LLVMValueRef sp = slot(cg, ct, st.sm, li.iv);
		LLVMBuildStore(b, cg_math_log(cg, load_acc(cg, ct, sp)), sp);
		cg_for_end(cg, &li);
	}

	/* pass 3: normalise */
	col_begin(cg, &st, &p);
	LLVMValueRef mv = load_acc(cg, ct, p.mp), sv = load_acc(cg, ct, p.sp), y;
	if (n->op == OP_LogSoftmax) {
		y = LLVMBuildFSub(b, LLVMBuildFSub(b, cg_load(cg, in, p.idx), mv, ""), sv, "");
	} else {
		LLVMValueRef ev = keep_e ? cg_load(cg, out, p.idx)
		                         : cg_math_exp(cg, LLVMBuildFSub(b, cg_load(cg, in, p.idx), mv, ""));
		y = LLVMBuildFDiv(b, ev, sv, "");
	}
	cg_store(cg, out, p.idx, y);
	col_end(cg, &p);
	cg_for_end(cg, &lo);
}

/* ---- contiguous rows (vec.h) ---------------------------------------------- */

typedef struct RowSm {
	const Node *n;
	bool keep_e;                    /* e = exp(x - m) kept in the output */
	LLVMValueRef acc[CG_VMAX_SLOTS];
	LLVMValueRef m, s;              /* row max and sum (or log-sum), splat */
	int pass;
} RowSm;

static void softmax_step(CgVec *v, void *ctx)
{
	RowSm *r = ctx;
	Cg *cg = v->cg;
	LLVMBuilderRef b = cg->b;
	ValueId in = r->n->in[0], out = r->n->out[0];
	bool log = r->n->op == OP_LogSoftmax;
	if (r->pass == 0) {             /* maxima; masked-off lanes are -inf */
		LLVMValueRef x = cg_vload(v, in, -INFINITY);
		cg_vacc_put(v, r->acc, cg_dm_combine(cg, CG_COMB_MAX, v->ad, cg_vacc_get(v, r->acc), x));
		return;
	}
	if (r->pass == 1) {             /* sums of e; masked-off lanes add 0 */
		LLVMValueRef e = cg_math_exp(cg, LLVMBuildFSub(b, cg_vload(v, in, 0), r->m, ""));
		if (r->keep_e && !log)
			cg_vstore(v, out, e);
		if (v->mask)
			e = LLVMBuildSelect(b, v->mask, e, cg_vk(v, 0), "");
		cg_vacc_put(v, r->acc, LLVMBuildFAdd(b, cg_vacc_get(v, r->acc), e, ""));
		return;
	}
	LLVMValueRef y;
	if (log) {
		y = LLVMBuildFSub(b, LLVMBuildFSub(b, cg_vload(v, in, 0), r->m, ""), r->s, "");
	} else {
		LLVMValueRef e = r->keep_e ? cg_vload(v, out, 0)
		                           : cg_math_exp(cg, LLVMBuildFSub(b, cg_vload(v, in, 0), r->m, ""));
		y = LLVMBuildFDiv(b, e, r->s, "");
	}
	cg_vstore(v, out, y);
}

/* Softmax / LogSoftmax over contiguous rows [r0, r1) of A elements. */
typedef struct SmRows {
	const Node *n;
	int64_t A;
} SmRows;

static void softmax_body(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1)
{
	const SmRows *a = arg;
	const Node *n = a->n;
	int64_t A = a->A;
	DType t = gval(cg->g, n->in[0])->dtype;
	CgVec v;
	cg_vinit(cg, &v, t);
	RowSm r = {.n = n, .keep_e = cg_compute_type(cg, t) == cg_mem_type(cg, t)};
	int u = 4;
	CgLoop lo;
	cg_for_v(cg, &lo, r0, r1);
	LLVMValueRef base = LLVMBuildNSWMul(cg->b, lo.iv, cg_i64(cg, A), "");
	r.pass = 0;
	cg_vacc_init(&v, r.acc, u, -INFINITY);
	cg_vrow(&v, base, A, u, softmax_step, &r);
	r.m = cg_vsplat(&v, cg_vacc_reduce(&v, r.acc, u, CG_COMB_MAX));
	r.pass = 1;
	cg_vacc_init(&v, r.acc, u, 0);
	cg_vrow(&v, base, A, u, softmax_step, &r);
	/* LogSoftmax: (x - m) - log(sum); adding m to log(sum) first would
	 * round away the small term when |m| is large */
	LLVMValueRef sum = cg_vacc_reduce(&v, r.acc, u, CG_COMB_ADD);
	r.s = cg_vsplat(&v, n->op == OP_LogSoftmax ? cg_math_log(cg, sum) : sum);
	r.pass = 2;
	cg_vrow(&v, base, A, u, softmax_step, &r);
	cg_for_end(cg, &lo);
}

/* Softmax / LogSoftmax over `outer` contiguous rows of A elements; rows
 * are independent, so large ones are split among tasks (kern_rows). */
static void softmax_rows(Cg *cg, const Node *n, int64_t outer, int64_t A)
{
	SmRows a = {n, A};
	/* three passes, one exp per element (counted as 4 passes, as
	 * lower_elementwise.c's ew_cost does) */
	kern_rows(cg, outer, 7 * outer * A, softmax_body, &a);
}

/* Lowers Softmax, LogSoftmax or Hardmax (any opset); called by
 * cg_lower_reduce().  False after cg_unsupported() for non-float types. */
bool cg_lower_softmax(Cg *cg, const Node *n)
{
	ValueId in = n->in[0], out = n->out[0];
	const Shape *is = &gval(cg->g, in)->shape;
	DType t = gval(cg->g, in)->dtype;
	bool v13 = n->opset >= 13;
	if (!dtype_is_float(t) || gval(cg->g, out)->dtype != t)
		return cg_unsupported(cg, 0, "type %s (floating point only)", dtype_name(t));
	int r = is->rank;
	int axis = cg_dm_axis(attr_int(n, "axis", v13 ? -1 : 1), r);
	if (axis < 0 && !(r == 0 && !v13))
		return cg_unsupported(cg, -1, "axis out of range");
	int64_t outer, A, inner;
	if (r == 0) {
		outer = A = inner = 1;
	} else if (v13) {
		outer = cg_dm_prod(is->dims, 0, axis);
		A = is->dims[axis];
		inner = cg_dm_prod(is->dims, axis + 1, r);
	} else {
		outer = cg_dm_prod(is->dims, 0, axis);
		A = cg_dm_prod(is->dims, axis, r);
		inner = 1;
	}
	if (outer * A * inner == 0)
		return true;
	if (inner == 1 && n->op != OP_Hardmax) {
		softmax_rows(cg, n, outer, A);
		return true;
	}
	if (inner > 1 && inner <= SOFTMAX_MAX_COLUMNS) {
		softmax_columns(cg, n, outer, A, inner);
		return true;
	}
	LLVMTypeRef ct = cg_compute_type(cg, t);
	/* f32/f64 keep e in the output between passes; f16/bf16 recompute it */
	bool keep_e = ct == cg_mem_type(cg, t);
	LLVMValueRef mxp = cg_alloca(cg, ct, "max"), sump = cg_alloca(cg, ct, "sum");
	LLVMValueRef argp = cg_alloca(cg, cg->t_i64, "arg");
	LLVMValueRef st = cg_i64(cg, inner);
	CgLoop lo, li, la;
	cg_for(cg, &lo, 0, outer);
	cg_for(cg, &li, 0, inner);
	LLVMValueRef base = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lo.iv, cg_i64(cg, A * inner), ""), li.iv, "");
	/* pass 1: maximum (Hardmax: its first index) */
	LLVMBuildStore(cg->b, LLVMConstReal(ct, -INFINITY), mxp);
	LLVMBuildStore(cg->b, cg_i64(cg, 0), argp);
	cg_for(cg, &la, 0, A);
	{
		LLVMValueRef x = cg_load(cg, in, row_elem(cg, base, la.iv, st)), m = load_acc(cg, ct, mxp);
		if (n->op == OP_Hardmax) {
			LLVMValueRef gt = LLVMBuildFCmp(cg->b, LLVMRealOGT, x, m, "");
			LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, gt, x, m, ""), mxp);
			LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, gt, la.iv, load_acc(cg, cg->t_i64, argp), ""), argp);
		} else {
			LLVMBuildStore(cg->b, cg_dm_combine(cg, CG_COMB_MAX, t, m, x), mxp);
		}
	}
	cg_for_end(cg, &la);
	LLVMValueRef m = load_acc(cg, ct, mxp);
	if (n->op == OP_Hardmax) {
		LLVMValueRef arg = load_acc(cg, cg->t_i64, argp);
		cg_for(cg, &la, 0, A);
		LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, la.iv, arg, "");
		cg_store(cg, out, row_elem(cg, base, la.iv, st), LLVMBuildSelect(cg->b, hit, LLVMConstReal(ct, 1), LLVMConstReal(ct, 0), ""));
		cg_for_end(cg, &la);
	} else {
		/* pass 2: sum of exp(x - m) */
		LLVMBuildStore(cg->b, LLVMConstReal(ct, 0), sump);
		cg_for(cg, &la, 0, A);
		{
			LLVMValueRef e = cg_math_exp(cg, LLVMBuildFSub(cg->b, cg_load(cg, in, row_elem(cg, base, la.iv, st)), m, ""));
			if (keep_e && n->op == OP_Softmax)
				cg_store(cg, out, row_elem(cg, base, la.iv, st), e);
			LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, load_acc(cg, ct, sump), e, ""), sump);
		}
		cg_for_end(cg, &la);
		LLVMValueRef sum = load_acc(cg, ct, sump);
		/* LogSoftmax: (x - m) - log(sum); adding m to log(sum) first would
		 * round away the small term when |m| is large */
		LLVMValueRef logsum = n->op == OP_LogSoftmax ? cg_math_log(cg, sum) : NULL;
		/* pass 3: normalise */
		cg_for(cg, &la, 0, A);
		{
			LLVMValueRef idx = row_elem(cg, base, la.iv, st), y;
			if (n->op == OP_LogSoftmax) {
				y = LLVMBuildFSub(cg->b, LLVMBuildFSub(cg->b, cg_load(cg, in, idx), m, ""), logsum, "");
			} else {
				LLVMValueRef e = keep_e ? cg_load(cg, out, idx)
				                        : cg_math_exp(cg, LLVMBuildFSub(cg->b, cg_load(cg, in, idx), m, ""));
				y = LLVMBuildFDiv(cg->b, e, sum, "");
			}
			cg_store(cg, out, idx, y);
		}
		cg_for_end(cg, &la);
	}
	cg_for_end(cg, &li);
	cg_for_end(cg, &lo);
	return true;
}

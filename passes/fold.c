/* passes/fold.c — host evaluation of nodes whose inputs are constants.
 *
 * Contract: see fold.h.  This file is the driver: it loads the constant
 * inputs into host tensors (Ten, fold_priv.h) holding either int64
 * elements (integers and bool) or double elements (float dtypes),
 * dispatches to the op's evaluator (ops.def's fold column: fold_shape.c,
 * fold_elem.c, fold_reduce.c), which computes the output shape itself (so the folder
 * does not depend on the inference rule for correctness, only checks it
 * agrees) and fills an output Ten of the output dtype; the result is then
 * converted element by element into the output dtype's bytes (wrapping for
 * integers, truncation toward zero for float->int, nonzero for bool,
 * round-to-nearest-even for f16/bf16).  Broadcasting follows numpy: shapes
 * aligned on the right, size-1 dims repeat.
 */
#include "fold_priv.h"

#include <stdlib.h>
#include <string.h>

/* ---- f16 / bf16 encoding ------------------------------------------------ */
static uint16_t float_to_half(float x)
{
	uint32_t b;
	memcpy(&b, &x, 4);
	uint32_t sign = (b >> 16) & 0x8000u;
	uint32_t absb = b & 0x7fffffffu;
	if (absb >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00u | (absb > 0x7f800000u ? 0x200u : 0));
	if (absb >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00u);
	if (absb < 0x38800000u) { /* subnormal half (or zero) */
		if (absb < 0x33000000u)
			return (uint16_t)sign;
		uint32_t e = absb >> 23;
		uint32_t m = (absb & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126 - e; /* 14..24 */
		uint32_t r = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	uint32_t r = ((absb - 0x38000000u) >> 13);
	uint32_t rem = absb & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

static uint16_t float_to_bf16(float x)
{
	uint32_t b;
	memcpy(&b, &x, 4);
	if ((b & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((b >> 16) | 0x40);
	b += 0x7fffu + ((b >> 16) & 1);
	return (uint16_t)(b >> 16);
}

/* Writes element k of t into p as dtype dt. */
static void store_el(const Ten *t, int64_t k, DType dt, unsigned char *p)
{
	if (dtype_is_float(dt)) {
		double x = tf(t, k);
		switch (dt) {
		case DT_F64: memcpy(p, &x, 8); break;
		case DT_F32: { float y = (float)x; memcpy(p, &y, 4); break; }
		case DT_F16: { uint16_t y = float_to_half((float)x); memcpy(p, &y, 2); break; }
		case DT_BF16: { uint16_t y = float_to_bf16((float)x); memcpy(p, &y, 2); break; }
		default: IR_UNREACHABLE("store_el: float dtype");
		}
		return;
	}
	if (dt == DT_BOOL) {
		*p = t->isf ? t->f[k] != 0 : t->i[k] != 0;
		return;
	}
	uint64_t u = (uint64_t)ti(t, k);
	switch (dtype_size(dt)) {
	case 1: { uint8_t y = (uint8_t)u; memcpy(p, &y, 1); break; }
	case 2: { uint16_t y = (uint16_t)u; memcpy(p, &y, 2); break; }
	case 4: { uint32_t y = (uint32_t)u; memcpy(p, &y, 4); break; }
	case 8: memcpy(p, &u, 8); break;
	default: IR_UNREACHABLE("store_el: int dtype");
	}
}

static FRes load_const(Fold *F, int k, Ten *t)
{
	memset(t, 0, sizeof *t);
	ValueId v = F->n->in[k];
	if (v == IR_NONE)
		return F_OK;
	Value *val = gval(F->g, v);
	int64_t n = shape_numel(&val->shape);
	if (val->kind != VK_CONST || n < 0 || n > FOLD_MAX_IN_ELEMS || !fold_dtype_ok(val->dtype))
		return F_SKIP;
	if (!val->data || val->nbytes < (size_t)n * dtype_size(val->dtype))
		return F_SKIP;
	t->dt = val->dtype;
	t->s = val->shape;
	t->n = n;
	t->isf = dtype_is_float(val->dtype);
	if (t->isf) {
		t->f = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++)
			t->f[i] = value_get_f64(val, i);
	} else {
		t->i = xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++)
			t->i[i] = value_get_int(val, i);
	}
	return F_OK;
}


/* ---- driver ------------------------------------------------------------------ */
typedef FRes (*FoldFn)(Fold *F);

/* ops.def's fold column: the host evaluator of each op, NULL if none. */
static const FoldFn folders[] = {
	[OP_UNKNOWN] = NULL,
#define OP(name, ilo, ihi, olo, ohi, fl, infer, fold, lower) [OP_##name] = fold,
#include "../ir/ops.def"
#undef OP
};
_Static_assert(sizeof folders / sizeof folders[0] == OP__COUNT,
               "folders[] has one entry per op of ops.def");

bool pass_fold_has_folder(Op op)
{
	return (unsigned)op < OP__COUNT && folders[op] != NULL;
}

FRes fold_eval_identity(Fold *F) { return fold_same_data(F, &F->in[0].s); }
FRes fold_eval_cast(Fold *F) { return fold_cast_to(F, (DType)attr_int(F->n, "to", DT_UNDEF)); }
FRes fold_eval_castlike(Fold *F) { return fold_cast_to(F, F->in[1].dt); }

/* Turns output 0 into a constant holding F->out; diagnoses disagreement
 * with inference.  A result equal to its source constant (an Identity, a
 * same-dtype Cast/CastLike, a Reshape to the same shape) that is not a
 * graph output also has its uses rewired to the source constant, so shared initializers stay one constant (one global in the
 * object file) — the "Identity of initializers" export pattern. */
static FRes commit(Fold *F)
{
	Graph *g = F->g;
	ValueId ov = F->n->out[0];
	Value *v = gval(g, ov);
	char b1[128], b2[128];
	if (v->dtype != DT_UNDEF && v->dtype != F->out.dt)
		return fold_err(F, -1, "folded output dtype %s differs from the inferred %s",
		            dtype_name(F->out.dt), dtype_name(v->dtype));
	if (shape_is_static(&v->shape) && !shape_eq(&v->shape, &F->out.s))
		return fold_err(F, -1, "folded output shape %s differs from the inferred %s",
		            shape_str(&F->out.s, b1, sizeof b1), shape_str(&v->shape, b2, sizeof b2));
	size_t es = dtype_size(F->out.dt);
	size_t nbytes = (size_t)F->out.n * es;
	ValueId src = F->n->nin > 0 ? F->n->in[0] : IR_NONE;
	const void *data;
	bool shared = (op_info[F->n->op].flags & OPF_SAME_BYTES) && src != IR_NONE && gval(g, src)->kind == VK_CONST &&
	              gval(g, src)->dtype == F->out.dt && gval(g, src)->nbytes == nbytes;
	if (shared) {
		data = gval(g, src)->data;
	} else {
		unsigned char *p = arena_alloc(&g->arena, nbytes);
		for (int64_t k = 0; k < F->out.n; k++)
			store_el(&F->out, k, F->out.dt, p + (size_t)k * es);
		data = p;
	}
	v->dtype = F->out.dt;
	v->shape = F->out.s;
	v->kind = VK_CONST;
	v->data = data;
	v->nbytes = nbytes;
	v->producer = IR_NONE;
	F->n->dead = true;
	if (shared && !v->is_output && shape_eq(&gval(g, src)->shape, &v->shape))
		graph_replace_uses(g, ov, src);   /* the very same constant */
	return F_OK;
}

/* False when the host evaluator cannot give the generated code's bits for
 * this node, which is then left to run time: one semantics for folding and
 * running (tests/unit/test_fold_vs_run.c).  Float arithmetic in double
 * rounded once is exact for + - * / sqrt and the exact ops; the
 * transcendental functions and Pow are evaluated as the generated code
 * computes them (fold_elem.c, math_eval: folded only where every target
 * agrees).  Not for the ops flagged OPF_FOLD_INEXACT in ops.def: sums whose
 * order and precision differ (Mean, ReduceSum/Prod/Mean: the generated
 * order depends on the vector width chosen at run time).  Sum and Einsum
 * are exact in some forms only: their evaluators skip the others. */
static bool bit_exact(const Fold *F)
{
	bool fl = false;
	for (int k = 0; k < F->nin; k++)
		fl |= present(F, k) && dtype_is_float(F->in[k].dt);
	return !fl || !(op_info[F->n->op].flags & OPF_FOLD_INEXACT);
}

bool pass_fold_node(Graph *g, NodeId nid, Diag *d)
{
	Node *n = &g->nodes[nid];
	if (n->dead || !pass_fold_has_folder(n->op) || n->nout != 1 || n->out[0] == IR_NONE)
		return true;
	if (n->nin < op_info[n->op].min_in || (op_info[n->op].max_in >= 0 && n->nin > op_info[n->op].max_in))
		return true; /* arity is inference's diagnostic */
	Fold F;
	memset(&F, 0, sizeof F);
	F.g = g;
	F.n = n;
	F.d = d;
	F.nin = n->nin;
	FRes res;
	if (op_info[n->op].flags & OPF_FOLD_SHAPE) {
		if (n->in[0] == IR_NONE || gval(g, n->in[0])->shape.rank < 0)
			return true;
		res = folders[n->op](&F);
	} else {
		F.in = xcalloc((size_t)(n->nin ? n->nin : 1), sizeof(Ten));
		res = F_OK;
		for (int k = 0; k < n->nin && res == F_OK; k++)
			res = load_const(&F, k, &F.in[k]);
		/* an omitted required input is inference's diagnostic */
		for (int k = 0; res == F_OK && k < op_info[n->op].min_in; k++)
			if (!present(&F, k))
				res = F_SKIP;
		if (res == F_OK && !bit_exact(&F))
			res = F_SKIP;
		if (res == F_OK)
			res = folders[n->op](&F);
	}
	if (res == F_OK)
		res = commit(&F);
	for (int k = 0; F.in && k < n->nin; k++)
		fold_ten_free(&F.in[k]);
	free(F.in);
	fold_ten_free(&F.out);
	return res != F_ERR;
}

/* passes/infer_loss.c — shape rules of the losses: NegativeLogLikelihoodLoss
 * and SoftmaxCrossEntropyLoss (lowered by codegen/lower_loss.c).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

static bool is_index(DType t) { return t == DT_I32 || t == DT_I64; }

/* Common checks of NLL / SCE: input 0 (N, C, d1..dk), input 1 (N, d1..dk)
 * integer, optional input 2 weight (C) of input 0's dtype, reduction in
 * none/sum/mean.  Sets output 0. */
static bool infer_loss_common(InferCtx *c)
{
	Value *x = iin(c, 0), *t = iin(c, 1), *w = iin(c, 2);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!irank(c, 0, 2, -1))
		return false;
	if (!is_index(t->dtype))
		return ifail(c, 1, "target must be int32 or int64, got %s", dtype_name(t->dtype));
	int r = x->shape.rank;
	if (t->shape.rank != r - 1)
		return ifail(c, 1, "target rank %d must be input rank %d minus 1", t->shape.rank, r);
	for (int i = 0; i < r - 1; i++) {
		int64_t want = x->shape.dims[i == 0 ? 0 : i + 1];
		if (t->shape.dims[i] != want)
			return ifail(c, 1, "target shape %s does not match input shape %s",
			             ishape_str(&t->shape), ishape_str(&x->shape));
	}
	if (w) {
		if (!isame_dtype(c, 2, 0))
			return false;
		if (w->shape.rank != 1 || w->shape.dims[0] != x->shape.dims[1])
			return ifail(c, 2, "weight shape %s must be [C] with C = %" PRId64,
			             ishape_str(&w->shape), x->shape.dims[1]);
	}
	/* constant targets: in [0, C-1] or ignore_index (run-time ones are
	 * checked by the generated code, codegen/lower_loss.c) */
	int64_t C = x->shape.dims[1];
	const Attr *ia = node_attr(c->n, "ignore_index");
	if (t->kind == VK_CONST && t->data && C >= 0) {
		int64_t nt = shape_numel(&t->shape);
		for (int64_t i = 0; i < nt; i++) {
			int64_t v = value_get_int(t, i);
			if ((v < 0 || v >= C) && !(ia && ia->kind == AK_INT && v == ia->i))
				return ifail(c, 1, "target %" PRId64 " (element %" PRId64 ") out of range "
				             "for %" PRId64 " classes", v, i, C);
		}
	}
	const char *red = attr_string(c->n, "reduction", "mean");
	if (!strcmp(red, "none"))
		iset(c, 0, x->dtype, &t->shape);
	else if (!strcmp(red, "sum") || !strcmp(red, "mean")) {
		Shape s = shape_make(0, NULL);
		iset(c, 0, x->dtype, &s);
	} else
		return ifail(c, -1, "unknown reduction '%s'", red);
	return true;
}

/* NegativeLogLikelihoodLoss: output (N, d1..dk) for reduction none, else a
 * scalar. */
bool infer_nll_loss(InferCtx *c)
{
	return infer_loss_common(c);
}

/* SoftmaxCrossEntropyLoss: as NLL; optional output 1 (log_prob) has the
 * scores' shape. */
bool infer_sce_loss(InferCtx *c)
{
	if (!infer_loss_common(c))
		return false;
	iset_like(c, 1, 0);
	return true;
}

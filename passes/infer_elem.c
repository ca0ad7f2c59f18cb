/* passes/infer_elem.c — shape rules of elementwise ops: unary, Cast,
 * CastLike, Clip, Dropout, Identity, broadcasting binary and variadic ops,
 * Where, and the Softmax family (same shape as the input).
 *
 * Broadcasting is numpy's (ONNX "multidirectional broadcasting", opset >= 7);
 * the opset < 7 `broadcast`/`axis` attributes are diagnosed as unsupported.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

static bool is_numeric(DType t) { return dtype_is_int(t) || dtype_is_float(t); }

/* Unary ops whose input must be a float type (ONNX type constraint T). */
static bool unary_float_only(Op op)
{
	switch (op) {
	case OP_Exp: case OP_Log: case OP_Sqrt: case OP_Reciprocal: case OP_Sigmoid:
	case OP_Tanh: case OP_Sin: case OP_Cos: case OP_Tan: case OP_Asin: case OP_Acos:
	case OP_Atan: case OP_Sinh: case OP_Cosh: case OP_Asinh: case OP_Acosh: case OP_Atanh:
	case OP_Floor: case OP_Ceil: case OP_Round: case OP_Softplus: case OP_Softsign:
	case OP_Elu: case OP_Selu: case OP_Celu: case OP_LeakyRelu: case OP_HardSigmoid:
	case OP_HardSwish: case OP_ThresholdedRelu: case OP_Mish: case OP_Gelu:
	case OP_IsNaN: case OP_IsInf:
		return true;
	default:
		return false;
	}
}

bool infer_unary(InferCtx *c)
{
	Value *x = iin(c, 0);
	Op op = c->n->op;
	DType out = x->dtype;
	if (op == OP_Not) {
		if (x->dtype != DT_BOOL)
			return ifail(c, 0, "expected bool, got %s", dtype_name(x->dtype));
	} else if (op == OP_BitwiseNot) {
		if (!dtype_is_int(x->dtype))
			return ifail(c, 0, "expected an integer type, got %s", dtype_name(x->dtype));
	} else if (unary_float_only(op)) {
		if (!dtype_is_float(x->dtype))
			return ifail(c, 0, "expected a float type, got %s", dtype_name(x->dtype));
	} else if (!is_numeric(x->dtype)) {
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	}
	if (op == OP_IsNaN || op == OP_IsInf)
		out = DT_BOOL;
	iset(c, 0, out, &x->shape);
	return true;
}

bool infer_identity(InferCtx *c)
{
	iset_like(c, 0, 0);
	return true;
}

static bool castable(DType t) { return t == DT_BOOL || is_numeric(t); }

bool infer_cast(InferCtx *c)
{
	Value *x = iin(c, 0);
	const Attr *a = node_attr(c->n, "to");
	if (!a || a->kind != AK_INT)
		return ifail(c, -1, "attribute 'to' is required");
	if (a->i <= 0 || a->i >= DT__COUNT || !castable((DType)a->i))
		return ifail(c, -1, "attribute 'to': unsupported dtype %" PRId64 " (%s)", a->i,
		             a->i > 0 && a->i < DT__COUNT ? dtype_name((DType)a->i) : "?");
	if (!castable(x->dtype))
		return ifail(c, 0, "unsupported dtype %s", dtype_name(x->dtype));
	iset(c, 0, (DType)a->i, &x->shape);
	return true;
}

bool infer_castlike(InferCtx *c)
{
	Value *x = iin(c, 0), *t = iin(c, 1);
	if (!castable(x->dtype))
		return ifail(c, 0, "unsupported dtype %s", dtype_name(x->dtype));
	if (!castable(t->dtype))
		return ifail(c, 1, "unsupported dtype %s", dtype_name(t->dtype));
	iset(c, 0, t->dtype, &x->shape);
	return true;
}

/* Clip-11+: min and max are optional scalar inputs of the input's dtype;
 * Clip-1..6: attributes. */
bool infer_clip(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!is_numeric(x->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(x->dtype));
	if (c->opset < 11 && !dtype_is_float(x->dtype))
		return ifail(c, 0, "Clip before opset 11 takes float tensors only, got %s",
		             dtype_name(x->dtype));
	for (int k = 1; k < c->n->nin; k++) {
		Value *b = iin(c, k);
		if (!b)
			continue;
		if (!isame_dtype(c, k, 0))
			return false;
		if (shape_numel(&b->shape) != 1)
			return ifail(c, k, "expected a scalar, got shape %s", ishape_str(&b->shape));
	}
	iset_like(c, 0, 0);
	return true;
}

/* Dropout: output 1 (mask) is bool from opset 10, the input's type before. */
bool infer_dropout(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float type, got %s", dtype_name(x->dtype));
	Value *r = iin(c, 1), *t = iin(c, 2);
	if (r && shape_numel(&r->shape) != 1)
		return ifail(c, 1, "ratio must be a scalar, got shape %s", ishape_str(&r->shape));
	if (t && (t->dtype != DT_BOOL || shape_numel(&t->shape) != 1))
		return ifail(c, 2, "training_mode must be a bool scalar");
	iset(c, 0, x->dtype, &x->shape);
	iset(c, 1, c->opset >= 10 ? DT_BOOL : x->dtype, &x->shape);
	return true;
}

/* Opset < 7 binary ops broadcast only with an explicit attribute; that
 * legacy form is not supported. */
static bool legacy_broadcast(InferCtx *c)
{
	if (c->opset < 7 && attr_int(c->n, "broadcast", 0))
		return ifail(c, -1, "legacy broadcast attribute (opset %d) is not supported",
		             c->opset);
	return true;
}

bool infer_binary(InferCtx *c)
{
	Value *a = iin(c, 0), *b = iin(c, 1);
	Op op = c->n->op;
	DType out = a->dtype;
	if (!legacy_broadcast(c))
		return false;
	switch (op) {
	case OP_And: case OP_Or: case OP_Xor:
		for (int k = 0; k < 2; k++)
			if (iin(c, k)->dtype != DT_BOOL)
				return ifail(c, k, "expected bool, got %s", dtype_name(iin(c, k)->dtype));
		out = DT_BOOL;
		break;
	case OP_Equal:
		if (!isame_dtype(c, 1, 0))
			return false;
		if (!castable(a->dtype))
			return ifail(c, 0, "unsupported dtype %s", dtype_name(a->dtype));
		out = DT_BOOL;
		break;
	case OP_Less: case OP_LessOrEqual: case OP_Greater: case OP_GreaterOrEqual:
		if (!isame_dtype(c, 1, 0))
			return false;
		if (!is_numeric(a->dtype))
			return ifail(c, 0, "expected a numeric type, got %s", dtype_name(a->dtype));
		out = DT_BOOL;
		break;
	case OP_BitShift:
		if (!isame_dtype(c, 1, 0))
			return false;
		if (!dtype_is_int(a->dtype) || dtype_is_signed(a->dtype))
			return ifail(c, 0, "expected an unsigned integer type, got %s",
			             dtype_name(a->dtype));
		{
			const char *dir = attr_string(c->n, "direction", NULL);
			if (!dir || (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")))
				return ifail(c, -1, "attribute 'direction' must be LEFT or RIGHT");
		}
		break;
	case OP_BitwiseAnd: case OP_BitwiseOr: case OP_BitwiseXor:
		if (!isame_dtype(c, 1, 0))
			return false;
		if (!dtype_is_int(a->dtype))
			return ifail(c, 0, "expected an integer type, got %s", dtype_name(a->dtype));
		break;
	case OP_Pow:
		/* Pow-12+: base and exponent types may differ; output = base's. */
		if (!is_numeric(a->dtype))
			return ifail(c, 0, "expected a numeric type, got %s", dtype_name(a->dtype));
		if (!is_numeric(b->dtype))
			return ifail(c, 1, "expected a numeric type, got %s", dtype_name(b->dtype));
		if (c->opset < 12 && !isame_dtype(c, 1, 0))
			return false;
		break;
	default:
		if (!isame_dtype(c, 1, 0))
			return false;
		if (!is_numeric(a->dtype))
			return ifail(c, 0, "expected a numeric type, got %s", dtype_name(a->dtype));
		break;
	}
	Shape s;
	if (!ibroadcast(c, &a->shape, 0, &b->shape, 1, &s))
		return false;
	if (op == OP_PRelu && !shape_eq(&s, &a->shape))
		return ifail(c, 1, "slope shape %s does not broadcast to X's shape %s",
		             ishape_str(&b->shape), ishape_str(&a->shape));
	iset(c, 0, out, &s);
	return true;
}

bool infer_variadic(InferCtx *c)
{
	if (!legacy_broadcast(c))
		return false;
	Value *a = iin(c, 0);
	if (!is_numeric(a->dtype))
		return ifail(c, 0, "expected a numeric type, got %s", dtype_name(a->dtype));
	Shape s = a->shape;
	for (int k = 1; k < c->n->nin; k++) {
		Value *b = iin(c, k);
		if (!b)
			return ifail(c, k, "input is missing");
		if (!isame_dtype(c, k, 0))
			return false;
		if (!ibroadcast(c, &s, 0, &b->shape, k, &s))
			return false;
	}
	iset(c, 0, a->dtype, &s);
	return true;
}

bool infer_where(InferCtx *c)
{
	Value *cond = iin(c, 0), *x = iin(c, 1), *y = iin(c, 2);
	if (cond->dtype != DT_BOOL)
		return ifail(c, 0, "condition must be bool, got %s", dtype_name(cond->dtype));
	if (!isame_dtype(c, 2, 1))
		return false;
	Shape s;
	if (!ibroadcast(c, &cond->shape, 0, &x->shape, 1, &s) ||
	    !ibroadcast(c, &s, 0, &y->shape, 2, &s))
		return false;
	iset(c, 0, x->dtype, &s);
	return true;
}

/* Softmax/LogSoftmax/Hardmax: axis defaults to 1 before opset 13 (where the
 * input is coerced to 2-D at axis) and -1 from 13. */
bool infer_softmax(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float type, got %s", dtype_name(x->dtype));
	int64_t axis = attr_int(c->n, "axis", c->opset >= 13 ? -1 : 1);
	int r = x->shape.rank, ax;
	/* Before 13 the axis may equal the rank (an empty second factor). */
	if (c->opset < 13 && axis == r)
		ax = r;
	else if (!iaxis(c, axis, r, -1, "axis", &ax))
		return false;
	(void)ax;
	iset(c, 0, x->dtype, &x->shape);
	return true;
}

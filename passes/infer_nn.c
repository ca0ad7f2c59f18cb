/* passes/infer_nn.c — shape rules of the neural-network ops: MatMul, Gemm,
 * Det, Conv, ConvTranspose, the pools, MaxUnpool, the normalizations, LRN,
 * and the recurrent ops (LSTM, GRU, RNN).
 *
 * Conv/pool output size per spatial axis (ONNX Conv-11, MaxPool-12):
 *   NOTSET:     floor((in + pb + pe - ((k-1)·d + 1)) / s) + 1   (ceil with ceil_mode)
 *   SAME_*:     ceil(in / s)
 *   VALID:      floor((in - ((k-1)·d + 1)) / s) + 1            (ceil with ceil_mode)
 * With ceil_mode, a last window that would start in the end padding is
 * dropped (the rule PyTorch applies and ONNX spells out from MaxPool-19).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

static bool numeric(InferCtx *c, int k)
{
	DType t = iin(c, k)->dtype;
	if (!dtype_is_int(t) && !dtype_is_float(t))
		return ifail(c, k, "expected a numeric type, got %s", dtype_name(t));
	return true;
}

static bool floating(InferCtx *c, int k)
{
	DType t = iin(c, k)->dtype;
	if (!dtype_is_float(t))
		return ifail(c, k, "expected a float type, got %s", dtype_name(t));
	return true;
}

/* MatMul: numpy matmul.  A 1-D operand gets a 1 prepended (A) or appended
 * (B) for the product, removed from the result; batch dims broadcast. */
bool infer_matmul(InferCtx *c)
{
	Value *a = iin(c, 0), *b = iin(c, 1);
	if (!numeric(c, 0) || !isame_dtype(c, 1, 0) || !irank(c, 0, 1, -1) || !irank(c, 1, 1, -1))
		return false;
	int ra = a->shape.rank, rb = b->shape.rank;
	int64_t m = ra >= 2 ? a->shape.dims[ra - 2] : 1, ka = a->shape.dims[ra - 1];
	int64_t kb = rb >= 2 ? b->shape.dims[rb - 2] : b->shape.dims[0];
	int64_t nn = rb >= 2 ? b->shape.dims[rb - 1] : 1;
	if (ka != kb)
		return ifail(c, 1, "inner dims differ: %s x %s (%" PRId64 " vs %" PRId64 ")",
		             ishape_str(&a->shape), ishape_str(&b->shape), ka, kb);
	Shape ba = shape_make(ra > 2 ? ra - 2 : 0, a->shape.dims);
	Shape bb = shape_make(rb > 2 ? rb - 2 : 0, b->shape.dims);
	Shape s;
	if (!ibroadcast(c, &ba, 0, &bb, 1, &s))
		return false;
	if (ra >= 2)
		s.dims[s.rank++] = m;
	if (rb >= 2)
		s.dims[s.rank++] = nn;
	iset(c, 0, a->dtype, &s);
	return true;
}

/* Gemm: A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB), C
 * unidirectionally broadcastable to [M,N]. */
bool infer_gemm(InferCtx *c)
{
	Value *a = iin(c, 0), *b = iin(c, 1), *cc = iin(c, 2);
	if (!numeric(c, 0) || !isame_dtype(c, 1, 0) || !irank(c, 0, 2, 2) || !irank(c, 1, 2, 2))
		return false;
	bool ta = attr_int(c->n, "transA", 0), tb = attr_int(c->n, "transB", 0);
	int64_t m = a->shape.dims[ta ? 1 : 0], ka = a->shape.dims[ta ? 0 : 1];
	int64_t kb = b->shape.dims[tb ? 1 : 0], nn = b->shape.dims[tb ? 0 : 1];
	if (ka != kb)
		return ifail(c, 1, "inner dims differ: %" PRId64 " vs %" PRId64 " (transA=%d, transB=%d)",
		             ka, kb, ta, tb);
	int64_t d[2] = {m, nn};
	Shape s = shape_make(2, d);
	if (cc) {
		Shape t;
		if (!isame_dtype(c, 2, 0) || !ibroadcast(c, &s, 0, &cc->shape, 2, &t))
			return false;
		if (!shape_eq(&t, &s) || cc->shape.rank > 2)
			return ifail(c, 2, "shape %s does not broadcast to [%" PRId64 ",%" PRId64 "]",
			             ishape_str(&cc->shape), m, nn);
	}
	iset(c, 0, a->dtype, &s);
	return true;
}

/* Det: float [*, M, M] -> [*]. */
bool infer_det(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!dtype_is_float(x->dtype))
		return ifail(c, 0, "expected a float tensor, got %s", dtype_name(x->dtype));
	if (!irank(c, 0, 2, -1))
		return false;
	int r = x->shape.rank;
	if (x->shape.dims[r - 1] != x->shape.dims[r - 2])
		return ifail(c, 0, "matrices of shape %s are not square", ishape_str(&x->shape));
	Shape o = shape_make(r - 2, x->shape.dims);
	iset(c, 0, x->dtype, &o);
	return true;
}


/* The node's window geometry (ir/params.h), parsed once. */
static const WindowParams *window(InferCtx *c)
{
	return node_window(c->g, c->nid, c->d);
}

/* Output size of a sliding window over `in` (see the file comment). */
static bool window_out(InferCtx *c, const WindowParams *w, int i, int64_t in, int64_t *out)
{
	int64_t dk = isat_add(isat_mul(w->kernel[i] - 1, w->dilations[i]), 1), s = w->strides[i];
	int64_t pb = 0, pe = 0, o;
	bool ceil_mode = w->ceil_mode;
	if (w->auto_pad == AUTOPAD_SAME_UPPER || w->auto_pad == AUTOPAD_SAME_LOWER) {
		o = in / s + (in % s != 0);
	} else {
		if (w->auto_pad == AUTOPAD_NOTSET) {
			pb = w->pads[i];
			pe = w->pads[i + w->n];
		}
		int64_t span = isat_add(isat_add(in, pb), isat_add(pe, -dk));
		if (span < 0)
			return ifail(c, 0, "spatial axis %d: padded size %" PRId64 " smaller than the "
			             "window %" PRId64, i, isat_add(in, isat_add(pb, pe)), dk);
		o = span / s + (ceil_mode && span % s != 0) + 1;
		if (ceil_mode && (o - 1) * s >= isat_add(in, pb))
			o--;
	}
	*out = o;
	return true;
}

/* Conv/ConvTranspose operands: X floating of rank >= 3, W of X's dtype
 * and rank. */
static bool conv_operands(InferCtx *c)
{
	Value *x = iin(c, 0), *wt = iin(c, 1);
	if (!floating(c, 0) || !isame_dtype(c, 1, 0) || !irank(c, 0, 3, -1))
		return false;
	int r = x->shape.rank;
	if (wt->shape.rank != r)
		return ifail(c, 1, "rank %d differs from X's rank %d", wt->shape.rank, r);
	return true;
}

/* Conv/ConvTranspose bias (input 2): X's dtype, shape [m]. */
static bool conv_bias(InferCtx *c, const Value *b, int64_t m)
{
	if (!isame_dtype(c, 2, 0))
		return false;
	if (b->shape.rank != 1 || b->shape.dims[0] != m)
		return ifail(c, 2, "bias shape %s, expected [%" PRId64 "]", ishape_str(&b->shape), m);
	return true;
}

/* Conv: X [N, C, D...], W [M, C/group, k...], optional B [M]. */
bool infer_conv(InferCtx *c)
{
	Value *x = iin(c, 0), *wt = iin(c, 1), *b = iin(c, 2);
	if (!conv_operands(c))
		return false;
	int64_t group = attr_int(c->n, "group", 1);
	int64_t cin = x->shape.dims[1], m = wt->shape.dims[0];
	if (group < 1 || cin % group || m % group)
		return ifail(c, -1, "group %" PRId64 " does not divide channels %" PRId64
		             " and filters %" PRId64, group, cin, m);
	if (isat_mul(wt->shape.dims[1], group) != cin)
		return ifail(c, 1, "W has %" PRId64 " input channels per group, X has %" PRId64
		             " channels in %" PRId64 " groups", wt->shape.dims[1], cin, group);
	const WindowParams *w = window(c);
	if (!w)
		return false;
	if (b && !conv_bias(c, b, m))
		return false;
	Shape s = x->shape;
	s.dims[1] = m;
	for (int i = 0; i < w->n; i++)
		if (!window_out(c, w, i, x->shape.dims[2 + i], &s.dims[2 + i]))
			return false;
	iset(c, 0, x->dtype, &s);
	return true;
}

/* ConvTranspose: X [N, C, D...], W [C, M/group, k...]; output channels
 * W[1]·group.  Spatial size from output_shape when given, else
 * s·(in-1) + output_padding + (k-1)·d + 1 - pb - pe (SAME_*: in·s). */
bool infer_conv_transpose(InferCtx *c)
{
	Value *x = iin(c, 0), *wt = iin(c, 1), *b = iin(c, 2);
	if (!conv_operands(c))
		return false;
	int64_t group = attr_int(c->n, "group", 1);
	int64_t cin = x->shape.dims[1];
	if (group < 1 || cin % group)
		return ifail(c, -1, "group %" PRId64 " does not divide channels %" PRId64, group, cin);
	if (wt->shape.dims[0] != cin)
		return ifail(c, 1, "W dim 0 is %" PRId64 ", X has %" PRId64 " channels",
		             wt->shape.dims[0], cin);
	int64_t m = isat_mul(wt->shape.dims[1], group);
	const WindowParams *w = window(c);
	if (!w)
		return false;
	if (b && !conv_bias(c, b, m))
		return false;
	Shape s = x->shape;
	s.dims[1] = m;
	if (w->has_output_shape) {
		for (int i = 0; i < w->n; i++)
			s.dims[2 + i] = w->output_shape[i];
	} else {
		for (int i = 0; i < w->n; i++) {
			int64_t in = x->shape.dims[2 + i];
			if (w->auto_pad == AUTOPAD_SAME_UPPER || w->auto_pad == AUTOPAD_SAME_LOWER) {
				s.dims[2 + i] = isat_mul(in, w->strides[i]);
				continue;
			}
			int64_t pb = w->auto_pad == AUTOPAD_NOTSET ? w->pads[i] : 0;
			int64_t pe = w->auto_pad == AUTOPAD_NOTSET ? w->pads[i + w->n] : 0;
			int64_t o = isat_mul(w->strides[i], in - 1);
			o = isat_add(o, w->output_padding[i]);
			o = isat_add(o, isat_add(isat_mul(w->kernel[i] - 1, w->dilations[i]), 1));
			s.dims[2 + i] = isat_add(o, -isat_add(pb, pe));
		}
	}
	for (int i = 0; i < w->n; i++)
		if (s.dims[2 + i] < 0)
			return ifail(c, -1, "negative output size %" PRId64 " on spatial axis %d",
			             s.dims[2 + i], i);
	iset(c, 0, x->dtype, &s);
	return true;
}

/* MaxPool/AveragePool: kernel_shape required; ceil_mode from opset 10;
 * dilations for MaxPool from 10 (AveragePool from 19).  MaxPool's second
 * output (indices) is int64. */
bool infer_pool(InferCtx *c)
{
	Value *x = iin(c, 0);
	bool maxp = c->n->op == OP_MaxPool;
	if (!(maxp ? numeric(c, 0) : floating(c, 0)) || !irank(c, 0, 3, -1))
		return false;
	const WindowParams *w = window(c);
	if (!w)
		return false;
	Shape s = x->shape;
	for (int i = 0; i < w->n; i++)
		if (!window_out(c, w, i, x->shape.dims[2 + i], &s.dims[2 + i]))
			return false;
	iset(c, 0, x->dtype, &s);
	if (maxp)
		iset(c, 1, DT_I64, &s);
	return true;
}

bool infer_global_pool(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!floating(c, 0) || !irank(c, 0, 3, -1))
		return false;
	Shape s = x->shape;
	for (int i = 2; i < s.rank; i++)
		s.dims[i] = 1;
	iset(c, 0, x->dtype, &s);
	return true;
}

/* MaxUnpool: X (N, C, D1..Dk), I int64 like X; output (N, C, O1..Ok) with
 * Oi = (Di - 1) * stride - pad_begin - pad_end + kernel, or the constant
 * output_shape input. */
bool infer_max_unpool(InferCtx *c)
{
	Value *x = iin(c, 0), *ix = iin(c, 1);
	if (!irank(c, 0, 3, -1))
		return false;
	if (ix->dtype != DT_I64)
		return ifail(c, 1, "indices must be int64, got %s", dtype_name(ix->dtype));
	if (!shape_eq(&ix->shape, &x->shape))
		return ifail(c, 1, "shape %s differs from X's %s", ishape_str(&ix->shape), ishape_str(&x->shape));
	int r = x->shape.rank, k = r - 2;
	Shape o = x->shape;
	if (iin(c, 2)) {
		int64_t d[IR_MAX_RANK];
		int cnt;
		if (!iconst_ints(c, 2, d, IR_MAX_RANK, &cnt))
			return false;
		if (cnt != r)
			return ifail(c, 2, "has %d elements, X has rank %d", cnt, r);
		for (int i = 0; i < r; i++)
			if (d[i] < 0 || (i < 2 && d[i] != x->shape.dims[i]))
				return ifail(c, 2, "output_shape dim %d (%" PRId64 ") is invalid", i, d[i]);
		o = shape_make(r, d);
	} else {
		const WindowParams *w = node_window(c->g, c->nid, c->d);
		if (!w)
			return false;
		for (int i = 0; i < k; i++) {
			int64_t v = isat_add(isat_add(isat_mul(x->shape.dims[2 + i] - 1, w->strides[i]),
			                              w->kernel[i]), -(w->pads[i] + w->pads[k + i]));
			if (v < 0)
				return ifail(c, -1, "output dim %d would be negative", 2 + i);
			o.dims[2 + i] = v;
		}
		/* constant indices: flat in the unpooled shape (run-time ones are
		 * checked by the generated code, codegen/lower_unpool.c) */
		int64_t total = shape_is_static(&o) ? shape_numel(&o) : -1;
		if (ix->kind == VK_CONST && ix->data && total >= 0) {
			int64_t ni = shape_numel(&ix->shape);
			for (int64_t i = 0; i < ni; i++) {
				int64_t v = value_get_int(ix, i);
				if (v < 0 || v >= total)
					return ifail(c, 1, "index %" PRId64 " (element %" PRId64 ") out of range "
					             "for the %" PRId64 " elements of the output", v, i, total);
			}
		}
	}
	iset(c, 0, x->dtype, &o);
	return true;
}


/* Checks that input k is a 1-D tensor of length n. */
static bool vec_of(InferCtx *c, int k, int64_t n)
{
	Value *v = iin(c, k);
	if (v->shape.rank != 1 || v->shape.dims[0] != n)
		return ifail(c, k, "shape %s, expected [%" PRId64 "]", ishape_str(&v->shape), n);
	return true;
}

/* BatchNormalization: X [N, C, ...]; scale, B, mean, var [C].  Outputs 1
 * and 2 (running mean/var in training mode, BatchNormalization-14; mean and
 * var before) are [C] of mean's dtype. */
bool infer_batchnorm(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!floating(c, 0) || !irank(c, 0, 2, -1))
		return false;
	int64_t ch = x->shape.dims[1];
	for (int k = 1; k < 5; k++)
		if (!floating(c, k) || !vec_of(c, k, ch))
			return false;
	if (!isame_dtype(c, 4, 3))
		return false;
	if (c->opset < 15 && (!isame_dtype(c, 1, 0) || !isame_dtype(c, 2, 0)))
		return false;
	iset(c, 0, x->dtype, &x->shape);
	int64_t d = ch;
	Shape sv = shape_make(1, &d);
	iset(c, 1, iin(c, 3)->dtype, &sv);
	iset(c, 2, iin(c, 3)->dtype, &sv);
	return true;
}

bool infer_instancenorm(InferCtx *c)
{
	Value *x = iin(c, 0);
	if (!floating(c, 0) || !irank(c, 0, 3, -1))
		return false;
	for (int k = 1; k < 3; k++)
		if (!isame_dtype(c, k, 0) || !vec_of(c, k, x->shape.dims[1]))
			return false;
	iset(c, 0, x->dtype, &x->shape);
	return true;
}

/* LayerNormalization-17: normalizes over X[axis:]; Scale and B broadcast to
 * that suffix; Mean and InvStdDev are X[:axis] ++ 1s, of stash_type (f32). */
bool infer_layernorm(InferCtx *c)
{
	Value *x = iin(c, 0);
	int r = x->shape.rank, ax;
	if (!floating(c, 0) || !irank(c, 0, 1, -1))
		return false;
	if (!iaxis(c, attr_int(c->n, "axis", -1), r, -1, "axis", &ax))
		return false;
	Shape suffix = shape_make(r - ax, x->shape.dims + ax);
	for (int k = 1; k < 3; k++) {
		Value *p = iin(c, k);
		if (!p)
			continue;
		Shape t;
		if (!isame_dtype(c, k, 0) || !ibroadcast(c, &suffix, 0, &p->shape, k, &t))
			return false;
		if (!shape_eq(&t, &suffix))
			return ifail(c, k, "shape %s does not broadcast to the normalized dims %s",
			             ishape_str(&p->shape), ishape_str(&suffix));
	}
	int64_t st = attr_int(c->n, "stash_type", DT_F32);
	if (st != DT_F32 && st != DT_F64 && st != DT_F16 && st != DT_BF16)
		return ifail(c, -1, "attribute 'stash_type': unsupported dtype %" PRId64, st);
	iset(c, 0, x->dtype, &x->shape);
	Shape sm = x->shape;
	for (int i = ax; i < r; i++)
		sm.dims[i] = 1;
	iset(c, 1, (DType)st, &sm);
	iset(c, 2, (DType)st, &sm);
	return true;
}

/* MeanVarianceNormalization, LRN: output like the input. */
bool infer_same_shape(InferCtx *c)
{
	if (!floating(c, 0))
		return false;
	if (c->n->op == OP_LRN) {
		if (!irank(c, 0, 3, -1))
			return false;
		if (attr_int(c->n, "size", 0) < 1)
			return ifail(c, -1, "attribute 'size' is required and must be positive");
	}
	if (c->n->op == OP_MeanVarianceNormalization) {
		const int64_t *a;
		int na = attr_ints(c->n, "axes", &a);
		int r = iin(c, 0)->shape.rank, ax;
		for (int i = 0; i < na; i++)
			if (!iaxis(c, a[i], r, -1, "axis", &ax))
				return false;
	}
	iset_like(c, 0, 0);
	return true;
}

/* LSTM/GRU/RNN: X [seq, batch, in] (layout 0) or [batch, seq, in] (layout 1,
 * opset 14); W [dirs, G·H, in], R [dirs, G·H, H] with G = 4/3/1 gates.
 * Y [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]); Y_h and Y_c
 * [dirs, batch, H] (layout 1: [batch, dirs, H]). */
bool infer_rnn(InferCtx *c)
{
	Node *n = c->n;
	Value *x = iin(c, 0), *w = iin(c, 1), *rr = iin(c, 2);
	int gates = n->op == OP_LSTM ? 4 : n->op == OP_GRU ? 3 : 1;
	if (!floating(c, 0) || !isame_dtype(c, 1, 0) || !isame_dtype(c, 2, 0))
		return false;
	if (!irank(c, 0, 3, 3) || !irank(c, 1, 3, 3) || !irank(c, 2, 3, 3))
		return false;
	const char *dir = attr_string(n, "direction", "forward");
	int64_t dirs;
	if (!strcmp(dir, "forward") || !strcmp(dir, "reverse"))
		dirs = 1;
	else if (!strcmp(dir, "bidirectional"))
		dirs = 2;
	else
		return ifail(c, -1, "unknown direction '%s'", dir);
	int64_t layout = c->opset >= 14 ? attr_int(n, "layout", 0) : 0;
	if (layout != 0 && layout != 1)
		return ifail(c, -1, "attribute 'layout' must be 0 or 1");
	int64_t seq = x->shape.dims[layout ? 1 : 0], batch = x->shape.dims[layout ? 0 : 1];
	int64_t insz = x->shape.dims[2];
	int64_t h = rr->shape.dims[2];
	if (h < 1)
		return ifail(c, 2, "hidden size (R's dim 2) must be >= 1, got %" PRId64, h);
	const Attr *hs = node_attr(n, "hidden_size");
	if (hs && (hs->kind != AK_INT || hs->i != h))
		return ifail(c, 2, "hidden_size %" PRId64 " differs from R's dim 2 (%" PRId64 ")",
		             hs->i, h);
	int64_t wd[3] = {dirs, gates * h, insz}, rd[3] = {dirs, gates * h, h};
	Shape ws = shape_make(3, wd), rs = shape_make(3, rd);
	if (!shape_eq(&w->shape, &ws))
		return ifail(c, 1, "shape %s, expected %s", ishape_str(&w->shape), ishape_str(&ws));
	if (!shape_eq(&rr->shape, &rs))
		return ifail(c, 2, "shape %s, expected %s", ishape_str(&rr->shape), ishape_str(&rs));
	/* optional inputs: B, sequence_lens, initial_h, (LSTM) initial_c, P */
	int64_t bd[2] = {dirs, 2 * gates * h};
	Shape bs = shape_make(2, bd);
	if (iin(c, 3) && (!isame_dtype(c, 3, 0) || !shape_eq(&iin(c, 3)->shape, &bs)))
		return ifail(c, 3, "B shape %s, expected %s", ishape_str(&iin(c, 3)->shape),
		             ishape_str(&bs));
	Value *sl = iin(c, 4);
	if (sl && (sl->dtype != DT_I32 || sl->shape.rank != 1 || sl->shape.dims[0] != batch))
		return ifail(c, 4, "sequence_lens must be int32 [%" PRId64 "]", batch);
	int64_t hd[3] = {layout ? batch : dirs, layout ? dirs : batch, h};
	Shape hsh = shape_make(3, hd);
	for (int k = 5; k <= (gates == 4 ? 6 : 5); k++) {
		Value *v = iin(c, k);
		if (v && (!isame_dtype(c, k, 0) || !shape_eq(&v->shape, &hsh)))
			return ifail(c, k, "shape %s, expected %s", ishape_str(&v->shape),
			             ishape_str(&hsh));
	}
	if (gates == 4 && iin(c, 7)) {
		int64_t pd[2] = {dirs, 3 * h};
		Shape ps = shape_make(2, pd);
		if (!isame_dtype(c, 7, 0) || !shape_eq(&iin(c, 7)->shape, &ps))
			return ifail(c, 7, "P shape %s, expected %s", ishape_str(&iin(c, 7)->shape),
			             ishape_str(&ps));
	}
	int64_t yd[4] = {seq, dirs, batch, h}, yl[4] = {batch, seq, dirs, h};
	Shape ys = shape_make(4, layout ? yl : yd);
	iset(c, 0, x->dtype, &ys);
	iset(c, 1, x->dtype, &hsh);
	if (gates == 4)
		iset(c, 2, x->dtype, &hsh);
	return true;
}

/* passes/infer_fused.c — shape rules of onnxcc's fused ops (ops.def's
 * "fused ops" section).  The fusion passes build these nodes from checked
 * ONNX nodes, but the rules still check everything they rely on, so a
 * hand-built or parsed graph gets a diagnostic instead of a bad lowering.
 */
#define INFER_INTERNAL
#include "infer.h"

/* Attention(Q [..., Nq, d], K [..., Nk, d], V [..., Nk, dv], bias?) ->
 * [..., Nq, dv].  With k_transposed=1, K is [..., d, Nk].  The batch dims
 * ("...") of Q, K and V broadcast (numpy rules) to the output's; bias
 * broadcasts to [..., Nq, Nk] without widening it.  All f32; attribute
 * scale (float, default 1) multiplies Q.K^T before the bias is added. */
bool infer_attention(InferCtx *c)
{
	Value *q = iin(c, 0), *k = iin(c, 1), *v = iin(c, 2), *bias = iin(c, 3);
	for (int i = 0; i < 4; i++) {
		Value *x = iin(c, i);
		if (x && x->dtype != DT_F32)
			return ifail(c, i, "Attention takes f32, got %s", dtype_name(x->dtype));
	}
	if (!irank(c, 0, 2, IR_MAX_RANK) || !irank(c, 1, 2, IR_MAX_RANK) || !irank(c, 2, 2, IR_MAX_RANK))
		return false;
	int64_t kt = attr_int(c->n, "k_transposed", 0);
	if (kt != 0 && kt != 1)
		return ifail(c, -1, "attribute k_transposed: must be 0 or 1, got %lld", (long long)kt);
	int rq = q->shape.rank, rk = k->shape.rank, rv = v->shape.rank;
	int64_t nq = q->shape.dims[rq - 2], d = q->shape.dims[rq - 1];
	int64_t kd = k->shape.dims[rk - (kt ? 2 : 1)], nk = k->shape.dims[rk - (kt ? 1 : 2)];
	int64_t vn = v->shape.dims[rv - 2], dv = v->shape.dims[rv - 1];
	if (kd != d)
		return ifail(c, 1, "K %s (k_transposed=%lld) has depth %lld, Q %s has %lld",
		             ishape_str(&k->shape), (long long)kt, (long long)kd, ishape_str(&q->shape),
		             (long long)d);
	if (vn != nk)
		return ifail(c, 2, "V %s has %lld rows, K %s has %lld keys", ishape_str(&v->shape),
		             (long long)vn, ishape_str(&k->shape), (long long)nk);
	/* batch dims: Q, K, V broadcast */
	Shape bq = shape_make(rq - 2, q->shape.dims), bk = shape_make(rk - 2, k->shape.dims),
	      bv = shape_make(rv - 2, v->shape.dims), b;
	if (!ibroadcast(c, &bq, 0, &bk, 1, &b) || !ibroadcast(c, &b, 0, &bv, 2, &b))
		return false;
	Shape s = b;
	s.rank = b.rank + 2;
	s.dims[b.rank] = nq;
	s.dims[b.rank + 1] = nk;
	if (bias) {
		Shape t;
		if (!ibroadcast(c, &s, 0, &bias->shape, 3, &t))
			return false;
		if (!shape_eq(&t, &s))
			return ifail(c, 3, "bias %s does not broadcast to the scores %s", ishape_str(&bias->shape),
			             ishape_str(&s));
	}
	s.dims[b.rank + 1] = dv;
	iset(c, 0, DT_F32, &s);
	return true;
}

/* RelAttention(QW, QR, K, R, V, mask?) -> [Q,B,H,Dv] (ops.def states the
 * semantics): QW and QR [Q,B,H,D], K [L,B,H,D], R [L,H,D], V [L,B,H,Dv],
 * all f32, Q <= L; mask bool, broadcasting to [Q,L,B,H] without widening;
 * attributes scale and fill (floats, defaults 1 and -inf). */
bool infer_relattention(InferCtx *c)
{
	static const int ranks[5] = {4, 4, 4, 3, 4};
	for (int i = 0; i < 5; i++) {
		Value *x = iin(c, i);
		if (!x)
			return ifail(c, i, "input is missing");
		if (x->dtype != DT_F32)
			return ifail(c, i, "RelAttention takes f32, got %s", dtype_name(x->dtype));
		if (!irank(c, i, ranks[i], ranks[i]))
			return false;
	}
	Value *qw = iin(c, 0), *qr = iin(c, 1), *k = iin(c, 2), *r = iin(c, 3), *v = iin(c, 4);
	Value *mask = iin(c, 5);
	const int64_t *qd = qw->shape.dims;
	int64_t Q = qd[0], B = qd[1], H = qd[2], D = qd[3], L = k->shape.dims[0];
	if (!shape_eq(&qr->shape, &qw->shape))
		return ifail(c, 1, "QR %s differs from QW %s", ishape_str(&qr->shape), ishape_str(&qw->shape));
	const int64_t want_k[4] = {L, B, H, D}, want_r[3] = {L, H, D};
	for (int i = 1; i < 4; i++)
		if (k->shape.dims[i] != want_k[i])
			return ifail(c, 2, "K %s does not match QW %s", ishape_str(&k->shape), ishape_str(&qw->shape));
	for (int i = 0; i < 3; i++)
		if (r->shape.dims[i] != want_r[i])
			return ifail(c, 3, "R %s is not [%lld,%lld,%lld]", ishape_str(&r->shape), (long long)L,
			             (long long)H, (long long)D);
	if (v->shape.dims[0] != L || v->shape.dims[1] != B || v->shape.dims[2] != H)
		return ifail(c, 4, "V %s is not [%lld,%lld,%lld,Dv]", ishape_str(&v->shape), (long long)L,
		             (long long)B, (long long)H);
	if (Q > L)
		return ifail(c, 2, "%lld queries over %lld keys: RelAttention needs Q <= L", (long long)Q,
		             (long long)L);
	if (mask) {
		if (mask->dtype != DT_BOOL)
			return ifail(c, 5, "mask must be bool, got %s", dtype_name(mask->dtype));
		int64_t sd[4] = {Q, L, B, H};
		Shape s = shape_make(4, sd), t;
		if (!ibroadcast(c, &s, 0, &mask->shape, 5, &t))
			return false;
		if (!shape_eq(&t, &s))
			return ifail(c, 5, "mask %s does not broadcast to the scores %s", ishape_str(&mask->shape),
			             ishape_str(&s));
	}
	int64_t od[4] = {Q, B, H, v->shape.dims[3]};
	Shape o = shape_make(4, od);
	iset(c, 0, DT_F32, &o);
	return true;
}

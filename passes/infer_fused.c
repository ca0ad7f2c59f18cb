/* passes/infer_fused.c — shape rules of onnxcc's fused ops (ops.def's
 * "fused ops" section).  The fusion passes build these nodes from checked
 * ONNX nodes, but the rules still check everything they rely on, so a
 * hand-built or parsed graph gets a diagnostic instead of a bad lowering.
 */
#define INFER_INTERNAL
#include "infer.h"

#include <string.h>

/* The operand of input slot k as the op reads it: Transpose(x, perm) when
 * the node has the ints attribute `name` (a permutation of x's dims; the
 * head split of multi-head attention read through strides), else x. */
static bool read_perm(InferCtx *c, int k, const char *name, const char *sel, const Shape *x,
                      Shape *out)
{
	const int64_t *p;
	int n = attr_ints(c->n, name, &p);
	*out = *x;
	if (n >= 0) {
		if (n != x->rank)
			return ifail(c, k, "attribute %s: %d entries for a rank-%d operand", name, n, x->rank);
		bool seen[IR_MAX_RANK] = {false};
		for (int i = 0; i < n; i++) {
			if (p[i] < 0 || p[i] >= n || seen[p[i]])
				return ifail(c, k, "attribute %s: not a permutation of 0..%d", name, n - 1);
			seen[p[i]] = true;
			out->dims[i] = x->dims[p[i]];
		}
	}
	int64_t s = attr_int(c->n, sel, -1);
	if (node_attr(c->n, sel)) {
		if (out->rank < 3 || s < 0 || s >= out->dims[0])
			return ifail(c, k, "attribute %s: index %lld outside the first dim of %s", sel, (long long)s,
			             ishape_str(out));
		for (int i = 1; i < out->rank; i++)
			out->dims[i - 1] = out->dims[i];
		out->rank--;
	}
	return true;
}

/* Attention(Q [..., Nq, d], K [..., Nk, d], V [..., Nk, dv], bias?, K2?, V2?)
 * -> [..., Nq, dv].  With k_transposed=1, K is [..., d, Nk].  K2 and V2,
 * when present, are second segments of K and V along the token axis (the
 * op reads Concat(K, K2) and Concat(V, V2); K2 in K's form, with its own
 * token count; segments of K and V may split the keys at different
 * points).  The batch dims ("...") of Q, K, V, K2, V2 broadcast (numpy
 * rules) to the output's; bias broadcasts to [..., Nq, Nk] (Nk counting
 * both segments) without widening it.  All f32; attribute scale (float,
 * default 1) multiplies Q.K^T before the bias is added.
 * Layouts (passes/fuse_transpose.c): perm_q, perm_k, perm_v, perm_k2,
 * perm_v2 read an input as its Transpose by that permutation, and sel_q,
 * sel_k, sel_v, sel_k2, sel_v2 then take index sel of its first dim (the
 * q/k/v split of a packed projection); perm_o stores the output as
 * Transpose(O, perm_o), which must keep O's last dim last (rows of the
 * output stay contiguous). */
bool infer_attention(InferCtx *c)
{
	static const char *const perm[6] = {"perm_q", "perm_k", "perm_v", NULL, "perm_k2", "perm_v2"};
	static const char *const sel[6] = {"sel_q", "sel_k", "sel_v", NULL, "sel_k2", "sel_v2"};
	Value *bias = iin(c, 3);
	for (int i = 0; i < 6; i++) {
		Value *x = iin(c, i);
		if (x && x->dtype != DT_F32)
			return ifail(c, i, "Attention takes f32, got %s", dtype_name(x->dtype));
	}
	/* sh[i]: operand i as the op reads it */
	Shape sh[6];
	bool has[6] = {false};
	for (int i = 0; i < 6; i++) {
		if (i == 3 || (i > 2 && !iin(c, i)))
			continue;
		if (!irank(c, i, 2, IR_MAX_RANK) || !read_perm(c, i, perm[i], sel[i], &iin(c, i)->shape, &sh[i]))
			return false;
		has[i] = true;
	}
	int64_t kt = attr_int(c->n, "k_transposed", 0);
	if (kt != 0 && kt != 1)
		return ifail(c, -1, "attribute k_transposed: must be 0 or 1, got %lld", (long long)kt);
	const Shape *q = &sh[0], *k = &sh[1], *v = &sh[2];
	int rq = q->rank, rk = k->rank, rv = v->rank;
	int64_t nq = q->dims[rq - 2], d = q->dims[rq - 1];
	int64_t kd = k->dims[rk - (kt ? 2 : 1)], nk = k->dims[rk - (kt ? 1 : 2)];
	int64_t vn = v->dims[rv - 2], dv = v->dims[rv - 1];
	if (kd != d)
		return ifail(c, 1, "K %s (k_transposed=%lld) has depth %lld, Q %s has %lld",
		             ishape_str(k), (long long)kt, (long long)kd, ishape_str(q), (long long)d);
	if (has[4]) {
		const Shape *k2 = &sh[4];
		int64_t kd2 = k2->dims[k2->rank - (kt ? 2 : 1)];
		if (kd2 != d)
			return ifail(c, 4, "K2 %s (k_transposed=%lld) has depth %lld, Q %s has %lld",
			             ishape_str(k2), (long long)kt, (long long)kd2, ishape_str(q), (long long)d);
		nk += k2->dims[k2->rank - (kt ? 1 : 2)];
	}
	if (has[5]) {
		const Shape *v2 = &sh[5];
		if (v2->dims[v2->rank - 1] != dv)
			return ifail(c, 5, "V2 %s has depth %lld, V %s has %lld", ishape_str(v2),
			             (long long)v2->dims[v2->rank - 1], ishape_str(v), (long long)dv);
		vn += v2->dims[v2->rank - 2];
	}
	if (vn != nk)
		return ifail(c, has[5] ? 5 : 2, "V has %lld rows (both segments), K has %lld keys", (long long)vn,
		             (long long)nk);
	/* batch dims: Q, K, V (and the second segments) broadcast */
	Shape b = shape_make(rq - 2, q->dims);
	for (int i = 1; i < 6; i++) {
		if (!has[i])
			continue;
		Shape bi = shape_make(sh[i].rank - 2, sh[i].dims);
		if (!ibroadcast(c, &b, 0, &bi, i, &b))
			return false;
	}
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
	const int64_t *po;
	int npo = attr_ints(c->n, "perm_o", &po);
	if (npo >= 0) {
		Shape t = s;
		if (npo != s.rank)
			return ifail(c, -1, "attribute perm_o: %d entries for a rank-%d output", npo, s.rank);
		if (po[npo - 1] != npo - 1)
			return ifail(c, -1, "attribute perm_o: must keep the last dim last");
		bool seen[IR_MAX_RANK] = {false};
		for (int i = 0; i < npo; i++) {
			if (po[i] < 0 || po[i] >= npo || seen[po[i]])
				return ifail(c, -1, "attribute perm_o: not a permutation of 0..%d", npo - 1);
			seen[po[i]] = true;
			t.dims[i] = s.dims[po[i]];
		}
		s = t;
	}
	iset(c, 0, DT_F32, &s);
	return true;
}

/* DwConvNhwc(X [B, H*W, C], W [M, 1, kh, kw], bias [M]?) -> [B, Ho*Wo, M],
 * M a multiple of C (output channel m reads input channel m / (M/C)),
 * with H, W the attributes height and width, kernel_shape = [kh, kw],
 * pads [top, left, bottom, right] >= 0, strides and dilations >= 1,
 * Ho = (H + top + bottom - dh*(kh-1) - 1) / sh + 1 (likewise Wo) >= 1;
 * act "", "gelu" or "gelu_tanh".  All f32. */
bool infer_dwconv_nhwc(InferCtx *c)
{
	Value *x = iin(c, 0), *w = iin(c, 1), *b = iin(c, 2);
	for (int i = 0; i < 3; i++) {
		Value *v = iin(c, i);
		if (v && v->dtype != DT_F32)
			return ifail(c, i, "DwConvNhwc takes f32, got %s", dtype_name(v->dtype));
	}
	if (!irank(c, 0, 3, 3) || !irank(c, 1, 4, 4))
		return false;
	int64_t H = attr_int(c->n, "height", 0), W = attr_int(c->n, "width", 0);
	int64_t C = x->shape.dims[2];
	if (H < 1 || W < 1 || H * W != x->shape.dims[1])
		return ifail(c, 0, "X %s is not height %lld x width %lld tokens", ishape_str(&x->shape), (long long)H,
		             (long long)W);
	const WindowParams *wp = node_window(c->g, c->nid, c->d);
	if (!wp)
		return false;
	if (wp->auto_pad != AUTOPAD_NOTSET)
		return ifail(c, -1, "attribute auto_pad: DwConvNhwc takes explicit pads");
	const int64_t *ker = wp->kernel, *pads = wp->pads, *str = wp->strides, *dil = wp->dilations;
	int64_t M = w->shape.dims[0];
	if (C < 1 || M < C || M % C || w->shape.dims[1] != 1)
		return ifail(c, 1, "W %s is not [a multiple of %lld, 1, %lld, %lld]", ishape_str(&w->shape),
		             (long long)C, (long long)ker[0], (long long)ker[1]);
	if (b && (b->shape.rank != 1 || b->shape.dims[0] != M))
		return ifail(c, 2, "bias %s is not [%lld]", ishape_str(&b->shape), (long long)M);
	const char *act = attr_string(c->n, "act", "");
	if (strcmp(act, "") && strcmp(act, "gelu") && strcmp(act, "gelu_tanh"))
		return ifail(c, -1, "attribute act: '%s' is not \"\", \"gelu\" or \"gelu_tanh\"", act);
	int64_t in[2] = {H, W}, out[2];
	for (int i = 0; i < 2; i++) {
		int64_t span = in[i] + pads[i] + pads[i + 2] - dil[i] * (ker[i] - 1) - 1;
		if (span < 0)
			return ifail(c, 0, "the kernel does not fit the padded input along spatial dim %d", i);
		out[i] = span / str[i] + 1;
	}
	int64_t dims[3] = {x->shape.dims[0], out[0] * out[1], M};
	Shape s = shape_make(3, dims);
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

/* GatherRows(X, idx, {shape}) -> `shape`, X's dtype (ops.def states the
 * semantics): idx a constant integer tensor of R >= 1 entries, rank 1;
 * numel(shape) = R * u for a row length u >= 1 that also divides numel(X);
 * every idx entry in [0, numel(X) / u). */
bool infer_gather_rows(InferCtx *c)
{
	Value *x = iin(c, 0), *idx = iin(c, 1);
	if (!idx)
		return ifail(c, 1, "input is missing");
	if (idx->kind != VK_CONST || !idx->data || !dtype_is_int(idx->dtype) || idx->shape.rank != 1)
		return ifail(c, 1, "idx must be a rank-1 integer constant");
	const int64_t *sh;
	int rank = attr_ints(c->n, "shape", &sh);
	if (rank < 0 || rank > IR_MAX_RANK)
		return ifail(c, -1, "attribute shape: required, at most %d entries", IR_MAX_RANK);
	for (int i = 0; i < rank; i++)
		if (sh[i] < 0)
			return ifail(c, -1, "attribute shape: entry %d is negative", i);
	Shape s = shape_make(rank, sh);
	int64_t ny = shape_numel(&s), nx = shape_numel(&x->shape), R = idx->shape.dims[0];
	if (R < 1 || ny % R != 0 || ny / R < 1)
		return ifail(c, 1, "%lld rows do not divide the %lld elements of %s", (long long)R, (long long)ny,
		             ishape_str(&s));
	int64_t u = ny / R;
	if (nx % u != 0)
		return ifail(c, 0, "X %s is not made of rows of %lld elements", ishape_str(&x->shape), (long long)u);
	for (int64_t r = 0; r < R; r++) {
		int64_t k = value_get_int(idx, r);
		if (k < -1 || k >= nx / u)
			return ifail(c, 1, "entry %lld is %lld, outside the %lld rows of X (or -1)", (long long)r,
			             (long long)k, (long long)(nx / u));
	}
	iset(c, 0, x->dtype, &s);
	return true;
}

/* GatherLayerNorm(X, idx, scale, [bias]) {shape, epsilon}: GatherRows'
 * rule on X, idx and shape (no -1 entries), X f32 and shape of rank >= 1;
 * scale and bias f32 [C], C the output's last dim. */
bool infer_gather_layernorm(InferCtx *c)
{
	if (iin(c, 0)->dtype != DT_F32)
		return ifail(c, 0, "GatherLayerNorm takes f32, got %s", dtype_name(iin(c, 0)->dtype));
	if (!infer_gather_rows(c))
		return false;
	for (int64_t r = 0; r < iin(c, 1)->shape.dims[0]; r++)
		if (value_get_int(iin(c, 1), r) < 0)
			return ifail(c, 1, "entry %lld is negative", (long long)r);
	const Shape *ys = &gval(c->g, c->n->out[0])->shape;
	if (ys->rank < 1)
		return ifail(c, -1, "attribute shape: rank 0, no axis to normalize");
	int64_t C = ys->dims[ys->rank - 1];
	for (int k = 2; k < 4; k++) {
		Value *v = iin(c, k);
		if (k == 2 && !v)
			return ifail(c, 2, "input is missing");
		if (v && (v->dtype != DT_F32 || v->shape.rank != 1 || v->shape.dims[0] != C))
			return ifail(c, k, "must be f32 [%lld] (the output's last dim)", (long long)C);
	}
	return true;
}

/* MatMulEpi: MatMul's rule, on A itself or, with rows (input 4), on the
 * logical A of shape a_shape whose row r is row rows[r] of A viewed as
 * [numel(A) / K, K] (K: B's rows).  bias [.., N] and res (the output's
 * shape) are the fusion's own. */
/* MatMulEpi's LayerNorm (inputs 5, 6) over the output's last dim, once
 * the output is set. */
static bool infer_epi_norm(InferCtx *c)
{
	Value *sc = iin(c, 5), *bi = iin(c, 6);
	if (!sc) {
		if (bi)
			return ifail(c, 6, "norm_bias without norm_scale");
		return true;
	}
	const Shape *ys = &gval(c->g, c->n->out[0])->shape;
	int64_t N = ys->rank ? ys->dims[ys->rank - 1] : 0;
	if (gval(c->g, c->n->out[0])->dtype != DT_F32 || ys->rank < 1)
		return ifail(c, 5, "norm: the product must be f32 of rank >= 1");
	for (int k = 5; k < 7; k++) {
		Value *v = iin(c, k);
		if (v && (v->dtype != DT_F32 || v->shape.rank != 1 || v->shape.dims[0] != N))
			return ifail(c, k, "must be f32 [%lld] (the output's last dim)", (long long)N);
	}
	return true;
}

/* MatMulEpi's row prologue (inputs 7, 8): a LayerNorm of the logical A's
 * rows of K, only with rows. */
static bool infer_pro_norm(InferCtx *c)
{
	Value *sc = iin(c, 7), *bi = iin(c, 8);
	if (!sc) {
		if (bi)
			return ifail(c, 8, "a_norm_bias without a_norm_scale");
		return true;
	}
	if (!iin(c, 4))
		return ifail(c, 7, "a_norm_scale without rows");
	int64_t K = iin(c, 1)->shape.dims[0];
	for (int k = 7; k < 9; k++) {
		Value *v = iin(c, k);
		if (v && (v->dtype != DT_F32 || v->shape.rank != 1 || v->shape.dims[0] != K))
			return ifail(c, k, "must be f32 [%lld] (B's rows)", (long long)K);
	}
	return true;
}

static bool infer_matmul_epi_rows(InferCtx *c);

bool infer_matmul_epi(InferCtx *c)
{
	if (!iin(c, 4) && (iin(c, 7) || iin(c, 8)))
		return ifail(c, iin(c, 7) ? 7 : 8, "a_norm_scale without rows");
	return (iin(c, 4) ? infer_matmul_epi_rows(c) : infer_matmul(c)) && infer_epi_norm(c) && infer_pro_norm(c);
}

static bool infer_matmul_epi_rows(InferCtx *c)
{
	Value *rows = iin(c, 4);
	Value *a = iin(c, 0), *b = iin(c, 1);
	if (a->dtype != DT_F32 || b->dtype != DT_F32)
		return ifail(c, 0, "rows: A and B must be f32");
	if (!irank(c, 0, 1, -1) || !irank(c, 1, 2, 2))
		return false;
	if (rows->kind != VK_CONST || !rows->data || rows->dtype != DT_I32 || rows->shape.rank != 1)
		return ifail(c, 4, "rows must be a rank-1 i32 constant");
	const int64_t *sh;
	int rank = attr_ints(c->n, "a_shape", &sh);
	if (rank < 1 || rank > IR_MAX_RANK)
		return ifail(c, -1, "attribute a_shape: required with rows, 1 to %d entries", IR_MAX_RANK);
	for (int i = 0; i < rank; i++)
		if (sh[i] < 1)
			return ifail(c, -1, "attribute a_shape: entry %d is %lld", i, (long long)sh[i]);
	Shape as = shape_make(rank, sh);
	int64_t K = b->shape.dims[0], N = b->shape.dims[1], RP = rows->shape.dims[0];
	int64_t na = shape_numel(&a->shape), P = attr_int(c->n, "row_parts", 1);
	if (P < 1 || K % P != 0 || RP % P != 0)
		return ifail(c, -1, "attribute row_parts: %lld does not divide K = %lld and the %lld rows",
		             (long long)P, (long long)K, (long long)RP);
	int64_t R = RP / P, u = K / P;
	if (K < 1 || sh[rank - 1] != K)
		return ifail(c, -1, "attribute a_shape: %s does not end in B's %lld rows", ishape_str(&as),
		             (long long)K);
	if (shape_numel(&as) != isat_mul(R, K))
		return ifail(c, 4, "%lld rows of %lld do not make a_shape %s", (long long)R, (long long)K,
		             ishape_str(&as));
	if (na % u != 0)
		return ifail(c, 0, "A %s is not made of rows of %lld elements", ishape_str(&a->shape), (long long)u);
	/* -1: a part of zeros, with row_parts and without a row prologue (the
	 * zeros are the product's input, not normalised A) */
	bool zeros_ok = P > 1 && !iin(c, 7);
	for (int64_t r = 0; r < RP; r++) {
		int64_t k = value_get_int(rows, r);
		if ((k < 0 && !(k == -1 && zeros_ok)) || k >= na / u)
			return ifail(c, 4, "entry %lld is %lld, outside the %lld rows of A%s", (long long)r, (long long)k,
			             (long long)(na / u),
			             k == -1 && P > 1 ? " (-1, a part of zeros, is not allowed with a_norm_scale)" : "");
	}
	Shape s = as;
	s.dims[rank - 1] = N;
	iset(c, 0, DT_F32, &s);
	return true;
}

/* ElemChain(X0..Xk) {expr} -> f32 of the inputs' numpy broadcast shape:
 * every input f32, expr a sound tree over all of them (node_chain). */
bool infer_elem_chain(InferCtx *c)
{
	for (int k = 0; k < c->n->nin; k++) {
		Value *x = iin(c, k);
		if (!x)
			return ifail(c, k, "input is missing");
		if (x->dtype != DT_F32)
			return ifail(c, k, "ElemChain takes f32, got %s", dtype_name(x->dtype));
	}
	if (!node_chain(c->g, c->nid, c->d))
		return false;
	Shape s = iin(c, 0)->shape;
	for (int k = 1; k < c->n->nin; k++) {
		Shape t;
		if (!ibroadcast(c, &s, 0, &iin(c, k)->shape, k, &t))
			return false;
		s = t;
	}
	iset(c, 0, DT_F32, &s);
	return true;
}

/* passes/fuse_patchify.c — a patchify Conv (kernel == stride: the patch
 * embedding of Swin, PVT and ViT, PVT's spatial reduction and stage
 * transitions), or any Conv that reads channels-last tokens (PVT-v2's
 * overlapping, padded patch embeddings), whose output the exporter
 * flattens and transposes to tokens becomes a gather of its patches
 * (onnxcc::GatherRows, im2col as one index remap) and one GEMM writing the
 * tokens channels-last (MatMulEpi with the bias, or MatMul): no Transpose
 * on either side, the pixels the GEMM's rows and the weight its packed B.
 *
 * requires: shapes inferred, constants folded, aliases removed; runs
 *           before fuse-conv-act (a Relu after the Conv is matched here)
 * keeps:    topological order (the gather takes the Conv's place, the GEMM
 *           the last Transpose's; a chain's Transposes go right before
 *           their Conv), value ids, graph outputs
 * breaks:   node ids past a Conv a chain moved to channels-last shift by
 *           two (no Uses are held); leaves dead nodes for pass_dce
 *
 * Pattern (every intermediate read once, by the next node, and not a graph
 * output; all f32):
 *     y = Conv(x, W, [b])      x [B, Cin, H, W], W [Cout, Cin, kh, kw] and
 *                              b [Cout] constants, group 1, auto_pad
 *                              NOTSET, no act yet; from NCHW x strides ==
 *                              kernel, pads 0, dilations 1; from
 *                              channels-last s any strides, pads and
 *                              dilations
 *     y = Relu(y)              optional: the GEMM's act "relu" (the Relu
 *                              op's y < 0 ? 0 : y, the same bits)
 *   output side, one of
 *     t = Transpose(Reshape(y, [B, Cout, Ho*Wo]), [0,2,1])    -> [B, N, Cout]
 *     t = Transpose(y, [0,2,3,1])                 (torchvision) -> [B, Ho, Wo, Cout]
 *   input side, when x is tokens put back to NCHW (then read in place):
 *     x = Reshape(Transpose(s [B, H*W, Cin], [0,2,1]), [B, Cin, H, W])
 *     x = Transpose(s [B, H, W, Cin], [0,3,1,2])
 * becomes  c = GatherRows(src, idx) {shape = t's dims with Cout -> K},
 *          t = MatMulEpi(c, Wk, b) (MatMul without bias), K = Cin*kh*kw.
 * From NCHW x the rows are kw pixels (K in (ci, ky, kx) order; needs
 * W % kw == 0 and kw >= 2); from channels-last s the rows are the Cin
 * channels of a pixel (K in (ky, kx, ci) order; needs Cin >= 4), entry -1
 * (a zero row) for a tap in the padding.  The K order differs from the
 * Conv's (ci, ky, kx): the sums are the same products in another order
 * (last bits differ from the Conv's; every thread count gets the GEMM's
 * same bits).  An overlapping window reads a pixel more than once, so
 * such a gather is no permutation and fuse-gather-gemm leaves it a copy
 * (GatherRows, then a GEMM reading A in place).  Wk
 * [K, Cout] is W transposed to that order at compile time, with the layout
 * panels (ir/layout.c: codegen packs it for the GEMM kernel).  A Conv that
 * differs (overlapping or padded windows from NCHW x, groups, run-time
 * weights, another permutation after it) is left unchanged.  fuse-gather-gemm then
 * folds the gather into the GEMM (its row index with row_parts = per, a
 * zero part for entry -1), so that the GEMM packs its A block straight
 * from src.
 *
 * Conv chains (sret_t's stem: three 3x3 stride-2 Convs + ReLU, the last
 * flattened to tokens): first, last Conv first, a Conv that would match
 * from channels-last x (Cin >= 4, the window within PATCH_MAX_COPIES)
 * whose x is the output of a Conv, or of a Relu of one, read by it alone,
 * reads x moved to channels-last: t = Transpose(x, [0,2,3,1]) and x' =
 * Transpose(t, [0,3,1,2]) (its input side above).  The Conv before it
 * then writes t: its output side is the torchvision form, and it matches
 * in turn.  So the chain becomes token GEMMs from the first Conv that
 * cannot be one (sret_t's on the RGB image, Cin 3) on, one Transpose of
 * that Conv's output left (docs/kernels.md, "sret_t's stem as token
 * GEMMs": stem.3 and stem.6 as GEMMs with N = 64, no idle lanes or edge
 * tiles, for one Transpose of stem.0's output).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* the most copies of the input an im2col gather may make */
enum { PATCH_MAX_COPIES = 4 };

/* The one reader of v when it is live, of op `op`, and v is not a graph
 * output; else NULL. */
static Node *next_op(Graph *g, const Uses *u, ValueId v, Op op)
{
	NodeId id = uses_single(g, u, v);
	return id != IR_NONE && g->nodes[id].op == op ? &g->nodes[id] : NULL;
}

/* n is a Transpose whose perm is p[0..r). */
static bool perm_is(const Node *n, int r, const int64_t *p)
{
	const int64_t *a;
	if (!n || attr_ints(n, "perm", &a) != r)
		return false;
	for (int i = 0; i < r; i++)
		if (a[i] != p[i])
			return false;
	return true;
}

/* Rewrites Conv ci as above when it matches; with probe, only tells
 * whether it would match if x were channels-last tokens (x put back to
 * NCHW by a Transpose), changing nothing. */
static bool fuse_at(Graph *g, const Uses *u, NodeId ci, Diag *d, bool *err, bool probe)
{
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->in[0] == IR_NONE || cv->in[1] == IR_NONE || cv->nout != 1 || cv->out[0] == IR_NONE)
		return false;
	ValueId xid = cv->in[0], wid = cv->in[1], yid = cv->out[0];
	ValueId bias = cv->nin > 2 ? cv->in[2] : IR_NONE;
	const Value *xv = gval(g, xid), *wv = gval(g, wid);
	if (xv->dtype != DT_F32 || xv->shape.rank != 4 || wv->kind != VK_CONST || !wv->data ||
	    wv->dtype != DT_F32 || wv->shape.rank != 4)
		return false;
	int64_t B = xv->shape.dims[0], Cin = xv->shape.dims[1], H = xv->shape.dims[2], W = xv->shape.dims[3];
	int64_t Cout = wv->shape.dims[0], kh = wv->shape.dims[2], kw = wv->shape.dims[3];
	if (wv->shape.dims[1] != Cin || attr_int(cv, "group", 1) != 1 || node_attr(cv, "act") ||
	    strcmp(attr_string(cv, "auto_pad", "NOTSET"), "NOTSET"))
		return false;
	const int64_t ker[2] = {kh, kw};
	if (!attr_ints_are(cv, "kernel_shape", 2, ker))
		return false;
	/* the window geometry: pads (top, left, bottom, right), strides, dilations */
	int64_t pd[4] = {0, 0, 0, 0}, st[2] = {1, 1}, dl[2] = {1, 1};
	const int64_t *a;
	int na = attr_ints(cv, "pads", &a);
	if (na >= 0 && na != 4)
		return false;
	for (int i = 0; i < na; i++)
		if ((pd[i] = a[i]) < 0)
			return false;
	if ((na = attr_ints(cv, "strides", &a)) >= 0 && na != 2)
		return false;
	for (int i = 0; i < na; i++)
		if ((st[i] = a[i]) < 1)
			return false;
	if ((na = attr_ints(cv, "dilations", &a)) >= 0 && na != 2)
		return false;
	for (int i = 0; i < na; i++)
		if ((dl[i] = a[i]) < 1)
			return false;
	/* non-overlapping unpadded patches (kernel == stride) */
	bool patch = st[0] == kh && st[1] == kw && dl[0] == 1 && dl[1] == 1 && !pd[0] && !pd[1] && !pd[2] && !pd[3];
	if (bias != IR_NONE) {
		const Value *bv = gval(g, bias);
		if (bv->kind != VK_CONST || !bv->data || bv->dtype != DT_F32 || bv->shape.rank != 1 ||
		    bv->shape.dims[0] != Cout)
			return false;
	}
	int64_t eh = H + pd[0] + pd[2] - dl[0] * (kh - 1), ew = W + pd[1] + pd[3] - dl[1] * (kw - 1);
	if (eh < 1 || ew < 1)
		return false;
	int64_t Ho = (eh - 1) / st[0] + 1, Wo = (ew - 1) / st[1] + 1;

	/* output side */
	static const int64_t p021[3] = {0, 2, 1}, p0231[4] = {0, 2, 3, 1}, p0312[4] = {0, 3, 1, 2};
	Node *rl = next_op(g, u, yid, OP_Relu);
	ValueId yo = rl ? rl->out[0] : yid;
	Node *r2 = next_op(g, u, yo, OP_Reshape), *t2;
	if (r2) {
		const Shape *rs = &gval(g, r2->out[0])->shape;
		if (rs->rank != 3 || rs->dims[0] != B || rs->dims[1] != Cout || rs->dims[2] != Ho * Wo)
			return false;
		t2 = next_op(g, u, r2->out[0], OP_Transpose);
		if (!perm_is(t2, 3, p021))
			return false;
	} else {
		t2 = next_op(g, u, yo, OP_Transpose);
		if (!perm_is(t2, 4, p0231))
			return false;
	}
	if (t2->nout != 1 || t2->out[0] == IR_NONE)
		return false;

	/* input side: channels-last tokens read in place, or x itself */
	Node *kill_in[2] = {NULL, NULL};
	ValueId src = xid;
	bool nhwc = false;
	Node *p = probe ? NULL : producer_op(g, xid, OP_Reshape);
	if (probe) {
		nhwc = true;
	} else if (p && uses_single(g, u, xid) == ci) {
		Node *t1 = producer_op(g, p->in[0], OP_Transpose);
		const Shape *ss = t1 ? &gval(g, t1->in[0])->shape : NULL;
		if (t1 && perm_is(t1, 3, p021) && uses_single(g, u, p->in[0]) == (NodeId)(p - g->nodes) &&
		    ss->rank == 3 && ss->dims[0] == B && ss->dims[1] == H * W && ss->dims[2] == Cin) {
			kill_in[0] = p, kill_in[1] = t1;
			src = t1->in[0];
			nhwc = true;
		}
	} else if ((p = producer_op(g, xid, OP_Transpose)) != NULL && uses_single(g, u, xid) == ci &&
	           perm_is(p, 4, p0312)) {
		kill_in[0] = p;
		src = p->in[0];
		nhwc = true;
	}
	if (nhwc ? Cin < 4 : (!patch || W % kw != 0 || kw < 2))
		return false;
	int64_t K = Cin * kh * kw, per = nhwc ? kh * kw : Cin * kh, R = B * Ho * Wo * per;
	if (shape_numel(&xv->shape) > INT32_MAX)
		return false;
	/* An overlapping window copies a pixel once per tap that reads it: at
	 * most PATCH_MAX_COPIES times the input (3x3 stride 2: 2.25, 7x7 stride
	 * 4: 3.06); a denser one (3x3 stride 1: 9) stays a Conv rather than
	 * grow the workspace by its im2col. */
	if (R * (nhwc ? Cin : kw) > PATCH_MAX_COPIES * shape_numel(&xv->shape))
		return false;
	if (probe)
		return true;

	/* the patch gather: row r of token (b, oy, ox), part j */
	int32_t *idx = xmalloc(sizeof *idx * (size_t)R);
	int64_t r = 0;
	for (int64_t b = 0; b < B; b++)
		for (int64_t oy = 0; oy < Ho; oy++)
			for (int64_t ox = 0; ox < Wo; ox++)
				for (int64_t j = 0; j < per; j++) {
					if (nhwc) { /* j = ky*kw + kx: the Cin channels of one pixel, -1 (zeros) in the padding */
						int64_t y = oy * st[0] - pd[0] + j / kw * dl[0];
						int64_t x = ox * st[1] - pd[1] + j % kw * dl[1];
						bool in = y >= 0 && y < H && x >= 0 && x < W;
						idx[r++] = in ? (int32_t)((b * H + y) * W + x) : -1;
					} else { /* j = ci*kh + ky: kw pixels of one input row */
						int64_t c = j / kh, y = oy * kh + j % kh;
						idx[r++] = (int32_t)((((b * Cin + c) * H + y) * W) / kw + ox);
					}
				}
	assert(r == R);
	/* Wk [K, Cout] in the gather's K order */
	const float *w = wv->data;
	float *wk = xmalloc(sizeof *wk * (size_t)(K * Cout));
	for (int64_t co = 0; co < Cout; co++)
		for (int64_t c = 0; c < Cin; c++)
			for (int64_t ky = 0; ky < kh; ky++)
				for (int64_t kx = 0; kx < kw; kx++) {
					int64_t k = nhwc ? (ky * kw + kx) * Cin + c : (c * kh + ky) * kw + kx;
					wk[k * Cout + co] = w[((co * Cin + c) * kh + ky) * kw + kx];
				}

	ValueId out = t2->out[0];
	Shape os = gval(g, out)->shape, cs = os;
	cs.dims[cs.rank - 1] = K;
	int64_t rdim[1] = {R}, wdim[2] = {K, Cout};
	Shape is = shape_make(1, rdim), ws = shape_make(2, wdim);
	ValueId iv = graph_add_const(g, NULL, DT_I32, &is, idx);
	ValueId wkv = graph_add_const(g, NULL, DT_F32, &ws, wk);
	ValueId cols = graph_add_value(g, NULL, DT_F32, &cs);
	free(idx);
	free(wk);
	NodeId ti = (NodeId)(t2 - g->nodes);
	if (r2)
		node_kill(g, (NodeId)(r2 - g->nodes));
	if (rl)
		node_kill(g, (NodeId)(rl - g->nodes));
	for (int i = 0; i < 2; i++)
		if (kill_in[i])
			node_kill(g, (NodeId)(kill_in[i] - g->nodes));
	cv = &g->nodes[ci];
	const char *base = cv->name && cv->name[0] ? cv->name : "patchify";
	ValueId gin[2] = {src, iv};
	node_rewrite(g, ci, OP_GatherRows, 1, gin, 2, 1, arena_printf(&g->arena, "%s.patches", base));
	gval(g, yid)->producer = IR_NONE;
	g->nodes[ci].out[0] = cols;
	gval(g, cols)->producer = ci;
	Attr *at = graph_add_attr(g, ci, "shape", AK_INTS);
	at->n = cs.rank;
	at->ints = arena_dup(&g->arena, cs.dims, sizeof(int64_t) * (size_t)cs.rank);
	ValueId min[3] = {cols, wkv, bias};
	node_rewrite(g, ti, bias != IR_NONE || rl ? OP_MatMulEpi : OP_MatMul, 13, min, bias != IR_NONE ? 3 : 2, 1,
	             arena_printf(&g->arena, "%s.gemm", base));
	gval(g, wkv)->layout = LAYOUT_PANELS; /* read by this GEMM alone */
	if (rl) {
		Attr *ra = graph_add_attr(g, ti, "act", AK_STRING);
		ra->s = "relu";
		ra->slen = 4;
	}
	if (!pass_infer_node(g, ci, d) || !pass_infer_node(g, ti, d)) {
		*err = true;
		return false;
	}
	assert(shape_eq(&os, &gval(g, out)->shape));
	return true;
}

static void set_perm4(Graph *g, NodeId n, const int64_t *p)
{
	Attr *a = graph_add_attr(g, n, "perm", AK_INTS);
	a->n = 4;
	a->ints = arena_dup(&g->arena, p, sizeof(int64_t) * 4);
}

/* The Conv chain (see the file comment): Conv ci would be fused with
 * channels-last x (fuse_at's probe) and x is the output of a Conv, or of
 * a Relu of one, read by ci alone: x moves to channels-last, t =
 * Transpose(x, [0,2,3,1]), read back through Transpose(t, [0,3,1,2]),
 * which fuse_at then reads in place. */
static bool chain_at(Graph *g, const Uses *u, NodeId ci, Diag *d, bool *err)
{
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->in[0] == IR_NONE || cv->nout != 1)
		return false;
	ValueId xid = cv->in[0];
	const Value *xv = gval(g, xid);
	if (xv->is_output || uses_single(g, u, xid) != ci || xv->shape.rank != 4)
		return false;
	Node *p = producer_op(g, xid, OP_Relu);
	if (p && (gval(g, p->in[0])->is_output || uses_single(g, u, p->in[0]) != (NodeId)(p - g->nodes)))
		return false;
	if (!producer_op(g, p ? p->in[0] : xid, OP_Conv) || !fuse_at(g, u, ci, d, err, true))
		return false;
	static const int64_t p0231[4] = {0, 2, 3, 1}, p0312[4] = {0, 3, 1, 2};
	const int64_t *xd = xv->shape.dims;
	int64_t td[4] = {xd[0], xd[2], xd[3], xd[1]};
	Shape ts = shape_make(4, td), xs = xv->shape;
	ValueId tv = graph_add_value(g, NULL, DT_F32, &ts);
	ValueId bv = graph_add_value(g, NULL, DT_F32, &xs);
	const char *base = cv->name && cv->name[0] ? cv->name : "conv";
	const char *n1 = arena_printf(&g->arena, "%s.nhwc", base), *n2 = arena_printf(&g->arena, "%s.nchw", base);
	NodeId t1 = graph_insert_node(g, ci, OP_Transpose, "Transpose", n1, &xid, 1, &tv, 1);
	g->nodes[t1].opset = 13;
	set_perm4(g, t1, p0231);
	NodeId t0 = graph_insert_node(g, ci + 1, OP_Transpose, "Transpose", n2, &tv, 1, &bv, 1);
	g->nodes[t0].opset = 13;
	set_perm4(g, t0, p0312);
	g->nodes[ci + 2].in[0] = bv;
	if (!pass_infer_node(g, t1, d) || !pass_infer_node(g, t0, d))
		*err = true;
	return !*err;
}

bool pass_fuse_patchify(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Uses u;
	uses_build(g, &u);
	bool err = false;
	/* the chains, last Conv first: each one moved to channels-last makes
	 * the Conv before it one whose output goes to tokens */
	for (NodeId i = g->nnodes; i-- > 0 && !err;)
		if (!g->nodes[i].dead && g->nodes[i].op == OP_Conv && chain_at(g, &u, i, d, &err)) {
			uses_free(&u);
			uses_build(g, &u);
		}
	for (NodeId i = 0; i < g->nnodes && !err; i++)
		if (!g->nodes[i].dead && g->nodes[i].op == OP_Conv && fuse_at(g, &u, i, d, &err, false)) {
			uses_free(&u); /* the gather reads the source in place */
			uses_build(g, &u);
		}
	uses_free(&u);
	return !err;
}

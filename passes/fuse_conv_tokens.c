/* passes/fuse_conv_tokens.c — a pointwise Conv over a small image runs as a
 * GEMM whose rows are the pixels: the long dimension (the channels) is the
 * micro-kernel's N and the weight its B, packed at compile time, as for
 * the GEMM nodes (MatMulEpi), instead of the NCHW form W[Co,Ci] x
 * X[Ci,HW] whose N = H*W (maxvit_t's stage-3 MBConv: 7x7 = 49 pixels, 49
 * columns in vectors of 16) leaves lanes idle and packs the image as B.
 *
 * requires: shapes inferred, constants folded; runs after fuse-bn-conv
 *           and fuse-conv-act (the Conv has its folded BatchNorm and its
 *           act) and before fuse-remap (which may absorb the Transposes
 *           this pass adds into a neighbouring movement DAG)
 * keeps:    topological order (the first Transpose is inserted before the
 *           Conv, the GEMM takes the Conv's place, the second Transpose
 *           follows it and writes the Conv's output value, read only by
 *           later nodes), value ids (new ones are added), graph outputs
 * breaks:   node ids past the Conv shift by two (no Uses are held)
 *
 * Pattern:
 *     y = Conv(x, W, [b]) {act}   x [B, Ci, H, W] f32, W [Co, Ci, 1, 1] and
 *                                 b [Co] f32 constants, group 1, strides,
 *                                 dilations 1, pads 0, auto_pad NOTSET or
 *                                 VALID, act "" | "gelu" | "gelu_tanh" |
 *                                 "relu" (fuse-conv-act)
 * with H*W <= CONV_TOKENS_MAX_HW and Ci, Co >= CONV_TOKENS_MIN_C, becomes
 *     t = Transpose(x) {perm=[0,2,3,1]}             [B, H, W, Ci]
 *     u = MatMulEpi(t, Wt, [b]) {act}               [B, H, W, Co]
 *     y = Transpose(u) {perm=[0,3,1,2]}             [B, Co, H, W]
 * with Wt [Ci, Co] = W transposed at compile time (layout panels: codegen
 * packs it for the GEMM kernel).  Numerics: where the Conv ran on the
 * GEMM kernel (8 or more output channels and more than one pixel) each
 * output is the same sum as before — one FMA chain over ci in order from
 * 0, then the bias, then act with the same epilogue (kern_gelu) — in
 * either orientation: the Conv's bits (asserted by
 * tests/unit/test_conv_kernel.c at every vector width).  A 1-pixel Conv
 * (the squeeze-excitation fcs) ran as lower_conv.c emit_conv_gemv, bias
 * first then unfused multiply-adds: there the last bits change (another
 * rounding of the same sum).  Either way every thread count gets the
 * GEMM's same bits.  Any other Conv is left unchanged.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <stdlib.h>
#include <string.h>

/* The largest image (H*W pixels) the pass turns into a pixel-row GEMM.
 * Measured on Zen 4 (docs/kernels.md "maxvit_t's pointwise convs as pixel
 * GEMMs"), node time with both Transposes against the NCHW Conv: 1 pixel
 * (squeeze-excitation fcs) and 7x7 gain 25-70 %, 14x14 0-10 %; 28x28 and
 * 56x56 lose (the NCHW form's N = 784, 3136 fills its vectors, and the
 * Transposes of the larger tensors cost more). */
#define CONV_TOKENS_MAX_HW 196
/* Fewer channels than a vector: the product is too thin for the kernel. */
#define CONV_TOKENS_MIN_C 16

/* The ints attribute `name` of n is absent or every entry is v. */
static bool ints_all(const Node *n, const char *name, int cnt, int64_t v)
{
	const int64_t *a;
	int k = attr_ints(n, name, &a);
	if (k < 0)
		return true;
	if (k != cnt)
		return false;
	for (int i = 0; i < k; i++)
		if (a[i] != v)
			return false;
	return true;
}

static bool f32_const(Graph *g, ValueId v)
{
	const Value *x = gval(g, v);
	return x->kind == VK_CONST && x->data && x->dtype == DT_F32;
}

static void set_perm(Graph *g, NodeId n, const int64_t *p)
{
	Attr *a = graph_add_attr(g, n, "perm", AK_INTS);
	a->n = 4;
	a->ints = arena_dup(&g->arena, p, sizeof(int64_t) * 4);
}

/* Rewrites the Conv at ci when it matches; *next is the node after it
 * (past what was inserted). */
static bool tokens_at(Graph *g, NodeId ci, NodeId *next, Diag *d, bool *err)
{
	*next = ci + 1;
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->nout != 1 || cv->in[0] == IR_NONE || cv->in[1] == IR_NONE || cv->out[0] == IR_NONE)
		return false;
	ValueId xid = cv->in[0], wid = cv->in[1], yid = cv->out[0];
	ValueId bias = cv->nin > 2 ? cv->in[2] : IR_NONE;
	const Value *xv = gval(g, xid), *wv = gval(g, wid), *yv = gval(g, yid);
	if (xv->dtype != DT_F32 || xv->shape.rank != 4 || !shape_is_static(&xv->shape) || yv->dtype != DT_F32 ||
	    !f32_const(g, wid) || wv->shape.rank != 4)
		return false;
	int64_t B = xv->shape.dims[0], Ci = xv->shape.dims[1], H = xv->shape.dims[2], W = xv->shape.dims[3];
	int64_t Co = wv->shape.dims[0];
	if (wv->shape.dims[1] != Ci || wv->shape.dims[2] != 1 || wv->shape.dims[3] != 1 ||
	    attr_int(cv, "group", 1) != 1)
		return false;
	const char *ap = attr_string(cv, "auto_pad", "NOTSET");
	if ((strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) || !ints_all(cv, "kernel_shape", 2, 1) ||
	    !ints_all(cv, "strides", 2, 1) || !ints_all(cv, "dilations", 2, 1) || !ints_all(cv, "pads", 4, 0))
		return false;
	if (bias != IR_NONE && (!f32_const(g, bias) || shape_numel(&gval(g, bias)->shape) != Co))
		return false;
	const char *act = attr_string(cv, "act", "");
	if (strcmp(act, "") && strcmp(act, "gelu") && strcmp(act, "gelu_tanh") && strcmp(act, "relu"))
		return false;
	if (H * W > CONV_TOKENS_MAX_HW || Ci < CONV_TOKENS_MIN_C || Co < CONV_TOKENS_MIN_C)
		return false;

	/* Wt [Ci, Co] */
	const float *w = wv->data;
	float *wt = xmalloc(sizeof *wt * (size_t)(Ci * Co));
	for (int64_t co = 0; co < Co; co++)
		for (int64_t c = 0; c < Ci; c++)
			wt[c * Co + co] = w[co * Ci + c];
	int64_t wd[2] = {Ci, Co}, td[4] = {B, H, W, Ci}, ud[4] = {B, H, W, Co};
	Shape ws = shape_make(2, wd), ts = shape_make(4, td), us = shape_make(4, ud), ys = yv->shape;
	ValueId wtv = graph_add_const(g, NULL, DT_F32, &ws, wt);
	free(wt);
	gval(g, wtv)->layout = LAYOUT_PANELS; /* read by this GEMM alone */
	ValueId tv = graph_add_value(g, NULL, DT_F32, &ts);
	ValueId uv = graph_add_value(g, NULL, DT_F32, &us);
	const char *base = cv->name && cv->name[0] ? cv->name : "conv";
	const char *act_s = act[0] ? arena_strdup(&g->arena, act) : NULL;

	static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
	const char *n1 = arena_printf(&g->arena, "%s.nhwc", base), *n2 = arena_printf(&g->arena, "%s.nchw", base);
	const char *nm = arena_printf(&g->arena, "%s.gemm", base);
	NodeId t1 = graph_insert_node(g, ci, OP_Transpose, "Transpose", n1, &xid, 1, &tv, 1);
	g->nodes[t1].opset = 13;
	set_perm(g, t1, to_nhwc);
	NodeId mi = ci + 1;
	ValueId min[3] = {tv, wtv, bias};
	node_rewrite(g, mi, OP_MatMulEpi, 13, min, bias != IR_NONE ? 3 : 2, 1, nm);
	g->nodes[mi].out[0] = uv;
	gval(g, uv)->producer = mi;
	gval(g, yid)->producer = IR_NONE;
	if (act_s) {
		Attr *a = graph_add_attr(g, mi, "act", AK_STRING);
		a->s = act_s;
		a->slen = strlen(act_s);
	}
	NodeId t2 = graph_insert_node(g, mi + 1, OP_Transpose, "Transpose", n2, &uv, 1, &yid, 1);
	g->nodes[t2].opset = 13;
	set_perm(g, t2, to_nchw);
	*next = t2 + 1;
	return fuse_infer(g, t1, &ts, d, err) && fuse_infer(g, mi, &us, d, err) && fuse_infer(g, t2, &ys, d, err);
}

bool pass_fuse_conv_tokens(Graph *g, Diag *d)
{
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err;) {
		NodeId next = i + 1;
		if (!g->nodes[i].dead && g->nodes[i].op == OP_Conv)
			tokens_at(g, i, &next, d, &err);
		i = next;
	}
	return !err;
}

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
 * breaks:   node ids past the Conv shift by two, past a depthwise Conv
 *           moved to channels-last by two more (no Uses are held)
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
 *
 * Then, when y's only reader is a depthwise Conv whose output has at most
 * CONV_TOKENS_DW_MAX_OUT pixels (maxvit_t's stage-3 conv_b), that Conv
 * becomes onnxcc::DwConvNhwc reading u in place, and the copy back to
 * NCHW follows it instead (dw_nhwc() below; the direct loop's bits).
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
/* The largest depthwise output (Ho*Wo pixels) dw_nhwc() moves to
 * channels-last.  Measured on Zen 4 (docs/kernels.md, same section): 7x7
 * outputs (the NCHW loop's rows of 7 use 7 of 16 lanes) gain with the
 * GEMM's Transpose gone; 14x14 stride 1 loses (DwConvNhwc 0.14 ms + its
 * Transpose 0.07 against the NCHW loop's 0.11 for 1024 channels). */
#define CONV_TOKENS_DW_MAX_OUT 64
/* Fewer channels than a vector: the product is too thin for the kernel. */
#define CONV_TOKENS_MIN_C 16

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

/* Inserts y = Reshape(x) {shape = s} at `at`. */
static NodeId insert_reshape(Graph *g, NodeId at, ValueId x, ValueId y, const Shape *s, const char *name)
{
	int64_t sd[1] = {s->rank};
	Shape ss = shape_make(1, sd);
	ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, s->dims);
	ValueId rin[2] = {x, shp};
	NodeId r = graph_insert_node(g, at, OP_Reshape, "Reshape", name, rin, 2, &y, 1);
	g->nodes[r].opset = 14;
	return r;
}

/* The one live reader of v (v not a graph output), or IR_NONE. */
static NodeId only_reader(Graph *g, ValueId v)
{
	if (graph_use_count(g, v) != 1)
		return IR_NONE;
	for (NodeId i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].dead)
			for (int k = 0; k < g->nodes[i].nin; k++)
				if (g->nodes[i].in[k] == v)
					return i;
	return IR_NONE;
}

/* The Transpose at ti writes y = Transpose(u [B, H, W, C]) {perm=[0,3,1,2]}
 * (made by tokens_at).  When y's only reader is a depthwise Conv (group =
 * C, W [C, 1, kh, kw] and bias f32 constants, 2-D, auto_pad NOTSET, act
 * "" | "gelu" | "gelu_tanh"), that Conv reads u channels-last instead:
 *     u3 = Reshape(u, [B, H*W, C])                       (ti rewritten)
 *     v  = DwConvNhwc(u3, W, [b]) {height, width, geometry, act}
 *     z  = Reshape(Transpose(v, [0,2,1]), [B, C, Ho, Wo])  (the Conv's z)
 * the layout fuse-dwconv makes from PVT's chain (the bits of the direct
 * NCHW loop: fuse-dwconv's contract), so that the copy back to NCHW
 * moves the depthwise output (4x smaller after stride 2) and the NCHW
 * loop's 7x7 and 14x14 planes (7 or 14 of 16 lanes) become rows of C
 * channels; only for outputs of at most CONV_TOKENS_DW_MAX_OUT pixels.
 * Returns false, having changed nothing, when it does not apply. */
static bool dw_nhwc(Graph *g, NodeId ti, Diag *d, bool *err)
{
	ValueId uv = g->nodes[ti].in[0], yid = g->nodes[ti].out[0];
	NodeId di = only_reader(g, yid);
	if (di == IR_NONE || di <= ti || g->nodes[di].op != OP_Conv)
		return false;
	Node *dc = &g->nodes[di];
	if (dc->nin < 2 || dc->in[0] != yid || dc->in[1] == IR_NONE || dc->nout != 1 || dc->out[0] == IR_NONE)
		return false;
	const Shape *us = &gval(g, uv)->shape;
	int64_t B = us->dims[0], H = us->dims[1], W = us->dims[2], C = us->dims[3];
	const Value *wv = gval(g, dc->in[1]), *zv = gval(g, dc->out[0]);
	const WindowParams *wp = node_window(g, di, NULL);
	if (!wp || !f32_const(g, dc->in[1]) || wv->shape.rank != 4 || wv->shape.dims[0] != C ||
	    wv->shape.dims[1] != 1 || wp->group != C || wp->auto_pad != AUTOPAD_NOTSET || zv->dtype != DT_F32 ||
	    zv->shape.rank != 4)
		return false;
	ValueId bias = dc->nin > 2 ? dc->in[2] : IR_NONE;
	if (bias != IR_NONE && !f32_const(g, bias))
		return false;
	const char *act = attr_string(dc, "act", "");
	if (strcmp(act, "") && strcmp(act, "gelu") && strcmp(act, "gelu_tanh"))
		return false;
	int64_t ker[2], pads[4], str[2], dil[2];
	memcpy(ker, wp->kernel, sizeof ker);
	memcpy(pads, wp->pads, sizeof pads);
	memcpy(str, wp->strides, sizeof str);
	memcpy(dil, wp->dilations, sizeof dil);
	int64_t Ho = zv->shape.dims[2], Wo = zv->shape.dims[3];
	if (Ho * Wo > CONV_TOKENS_DW_MAX_OUT)
		return false;
	ValueId zid = dc->out[0], wid = dc->in[1];
	const char *act_s = act[0] ? arena_strdup(&g->arena, act) : NULL;
	const char *base = dc->name && dc->name[0] ? dc->name : "dwconv";

	/* u3 = Reshape(u) in the Transpose's place */
	int64_t u3d[3] = {B, H * W, C}, vd[3] = {B, Ho * Wo, C}, vtd[3] = {B, C, Ho * Wo};
	Shape u3s = shape_make(3, u3d), vs = shape_make(3, vd), vts = shape_make(3, vtd), zs = zv->shape;
	ValueId u3 = graph_add_value(g, NULL, DT_F32, &u3s);
	ValueId v = graph_add_value(g, NULL, DT_F32, &vs), vt = graph_add_value(g, NULL, DT_F32, &vts);
	int64_t sd[1] = {3};
	Shape ss = shape_make(1, sd);
	ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, u3d);
	ValueId rin[2] = {uv, shp};
	node_rewrite(g, ti, OP_Reshape, 14, rin, 2, 1, arena_printf(&g->arena, "%s.rows", g->nodes[ti].name));
	g->nodes[ti].out[0] = u3;
	gval(g, u3)->producer = ti;
	gval(g, yid)->producer = IR_NONE;
	/* the depthwise Conv channels-last */
	ValueId din[3] = {u3, wid, bias};
	node_rewrite(g, di, OP_DwConvNhwc, 1, din, bias != IR_NONE ? 3 : 2, 1, arena_printf(&g->arena, "%s.nhwc", base));
	g->nodes[di].out[0] = v;
	gval(g, v)->producer = di;
	gval(g, zid)->producer = IR_NONE;
	graph_add_attr(g, di, "height", AK_INT)->i = H;
	graph_add_attr(g, di, "width", AK_INT)->i = W;
	static const char *const names[4] = {"kernel_shape", "pads", "strides", "dilations"};
	const int64_t *vals[4] = {ker, pads, str, dil};
	for (int i = 0; i < 4; i++) {
		Attr *at = graph_add_attr(g, di, names[i], AK_INTS);
		at->n = i == 1 ? 4 : 2;
		at->ints = arena_dup(&g->arena, vals[i], sizeof(int64_t) * (size_t)at->n);
	}
	if (act_s) {
		Attr *at = graph_add_attr(g, di, "act", AK_STRING);
		at->s = act_s;
		at->slen = strlen(act_s);
	}
	layout_set_const(g, wid, di, 1, LAYOUT_TAPS); /* read tap-major (codegen/lower_dwconv.c) */
	/* back to NCHW after it */
	static const int64_t p021[3] = {0, 2, 1};
	NodeId tb = graph_insert_node(g, di + 1, OP_Transpose, "Transpose", arena_printf(&g->arena, "%s.nchw", base),
	                              &v, 1, &vt, 1);
	g->nodes[tb].opset = 13;
	Attr *a = graph_add_attr(g, tb, "perm", AK_INTS);
	a->n = 3;
	a->ints = arena_dup(&g->arena, p021, sizeof p021);
	NodeId rb = insert_reshape(g, di + 2, vt, zid, &zs, arena_printf(&g->arena, "%s.planes", base));
	return fuse_infer(g, ti, &u3s, d, err) && fuse_infer(g, di, &vs, d, err) && fuse_infer(g, tb, &vts, d, err) &&
	       fuse_infer(g, rb, &zs, d, err);
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
	if ((strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) || !attr_ints_all(cv, "kernel_shape", 2, 1) ||
	    !attr_ints_all(cv, "strides", 2, 1) || !attr_ints_all(cv, "dilations", 2, 1) || !attr_ints_all(cv, "pads", 4, 0))
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
	/* W's transpose is a copy: the original goes when nothing else reads it */
	if (!gval(g, wid)->is_output && graph_use_count(g, wid) == 0)
		release_dead_const(g, wid);
	if (!fuse_infer(g, t1, &ts, d, err) || !fuse_infer(g, mi, &us, d, err) || !fuse_infer(g, t2, &ys, d, err))
		return false;
	dw_nhwc(g, t2, d, err);
	return !*err;
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

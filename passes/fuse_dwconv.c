/* passes/fuse_dwconv.c — a depthwise convolution between token sequences
 * runs channels-last, with its activation: no Transpose pair, no separate
 * activation pass.
 *
 * requires: shapes inferred, constants folded, aliases removed, fuse-gelu
 *           has run (the activation is a Gelu node)
 * keeps:    topological order (the fused node takes the Conv's place: after
 *           every value it reads; its output's readers come after the last
 *           node of the chain, which is after the Conv), value ids, graph
 *           outputs
 * breaks:   nothing; leaves dead nodes for pass_dce
 *
 * Pattern (PVT-v2's MLP, "x.transpose(1, 2).view(B, C, H, W)" -> dwconv ->
 * "flatten(2).transpose(1, 2)" -> GELU; every intermediate read once, by
 * the next node, and not a graph output; all f32):
 *     t1 = Transpose(x) {perm=[0,2,1]}            x [B, H*W, C]
 *     r1 = Reshape(t1, [B, C, H, W])
 *     y  = Conv(r1, W, [bias])                    W [M, 1, kh, kw] and bias
 *                                                 constants, group = C,
 *                                                 M = C*mult (mult >= 1:
 *                                                 depthwise, or a channel
 *                                                 multiplier as a stage
 *                                                 transition's grouped
 *                                                 Conv), 2-D, auto_pad
 *                                                 NOTSET
 *     r2 = Reshape(y, [B, M, Ho*Wo])
 *     t2 = Transpose(r2) {perm=[0,2,1]}           [B, Ho*Wo, M]
 *     o  = Gelu(t2)                               optional (either form)
 * becomes  o = onnxcc::DwConvNhwc(x, W, [bias]) {height=H, width=W,
 * kernel_shape, pads, strides, dilations[, act]}, W with the layout taps
 * (ir/layout.c: stored tap-major; a twin sharing W's bytes when something
 * else reads W too).  A chain that differs —
 * another permutation, a Reshape that does not split tokens into H x W or
 * does not flatten the output's spatial dims, a grouped Conv with more
 * than one input channel per group, run-time weights — is left unchanged.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <string.h>

/* n is Transpose {perm=[0,2,1]} of a rank-3 f32 value. */
static bool swap12(Graph *g, const Node *n)
{
	if (!n || n->nin != 1 || n->in[0] == IR_NONE || gval(g, n->in[0])->shape.rank != 3 ||
	    gval(g, n->in[0])->dtype != DT_F32)
		return false;
	const PermParams *t = node_perm(g, (NodeId)(n - g->nodes), NULL);
	return t && t->perm[0] == 0 && t->perm[1] == 2 && t->perm[2] == 1;
}

/* The one reader of v when it is live, of op `op`, and v is not a graph
 * output; else NULL. */
static Node *next_op(Graph *g, const Uses *u, ValueId v, Op op)
{
	NodeId id = uses_single(g, u, v);
	return id != IR_NONE && g->nodes[id].op == op ? &g->nodes[id] : NULL;
}

static bool fuse_at(Graph *g, const Uses *u, NodeId ci, Diag *d, bool *err)
{
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->in[0] == IR_NONE || cv->in[1] == IR_NONE || cv->nout != 1)
		return false;
	Value *r1v = gval(g, cv->in[0]), *wv = gval(g, cv->in[1]), *yv = gval(g, cv->out[0]);
	if (r1v->shape.rank != 4 || r1v->dtype != DT_F32 || wv->kind != VK_CONST || wv->dtype != DT_F32 || !wv->data)
		return false;
	int64_t B = r1v->shape.dims[0], C = r1v->shape.dims[1], H = r1v->shape.dims[2], W = r1v->shape.dims[3];
	int64_t M = wv->shape.dims[0]; /* C times the channel multiplier */
	const WindowParams *wp = node_window(g, ci, NULL);
	if (!wp || wp->group != C || C < 1 || M < C || M % C || wv->shape.dims[1] != 1 ||
	    wp->auto_pad != AUTOPAD_NOTSET)
		return false;
	ValueId bias = cv->nin > 2 ? cv->in[2] : IR_NONE;
	if (bias != IR_NONE && (gval(g, bias)->kind != VK_CONST || gval(g, bias)->dtype != DT_F32))
		return false;
	/* input side: r1 = Reshape(t1 = Transpose(x)) read only by the Conv */
	Node *r1 = producer_op(g, cv->in[0], OP_Reshape);
	if (!r1 || uses_single(g, u, cv->in[0]) != ci || r1->in[0] == IR_NONE)
		return false;
	Node *t1 = producer_op(g, r1->in[0], OP_Transpose);
	if (!t1 || !swap12(g, t1) || uses_single(g, u, r1->in[0]) != (NodeId)(r1 - g->nodes))
		return false;
	ValueId x = t1->in[0];
	const Shape *xs = &gval(g, x)->shape;
	if (xs->dims[0] != B || xs->dims[1] != H * W || xs->dims[2] != C)
		return false;
	/* output side: Transpose(Reshape(y)) [+ Gelu] */
	int64_t Ho = yv->shape.dims[2], Wo = yv->shape.dims[3];
	Node *r2 = next_op(g, u, cv->out[0], OP_Reshape);
	if (!r2 || r2->out[0] == IR_NONE)
		return false;
	const Shape *r2s = &gval(g, r2->out[0])->shape;
	if (r2s->rank != 3 || r2s->dims[0] != B || r2s->dims[1] != M || r2s->dims[2] != Ho * Wo)
		return false;
	Node *t2 = next_op(g, u, r2->out[0], OP_Transpose);
	if (!t2 || !swap12(g, t2) || t2->nout != 1 || t2->out[0] == IR_NONE)
		return false;
	ValueId out = t2->out[0];
	Node *kill[5] = {t1, r1, r2, t2, NULL};
	int nkill = 4;
	const char *act = NULL;
	Node *ge = next_op(g, u, out, OP_Gelu);
	if (ge && ge->nout >= 1 && ge->out[0] != IR_NONE) {
		const char *ga = attr_string(ge, "approximate", "none");
		if (!strcmp(ga, "none") || !strcmp(ga, "tanh")) {
			act = !strcmp(ga, "tanh") ? "gelu_tanh" : "gelu";
			kill[nkill++] = ge;
			out = ge->out[0];
		}
	}
	int64_t ker[2], pads[4], str[2], dil[2];
	memcpy(ker, wp->kernel, sizeof ker);
	memcpy(pads, wp->pads, sizeof pads);
	memcpy(str, wp->strides, sizeof str);
	memcpy(dil, wp->dilations, sizeof dil);

	/* rewrite: the Conv becomes the fused node writing `out` */
	ValueId y = cv->out[0];
	for (int i = 0; i < nkill; i++)
		node_kill(g, (NodeId)(kill[i] - g->nodes));
	ValueId in[3] = {x, cv->in[1], bias};
	const char *name = cv->name && cv->name[0] ? cv->name : "dwconv";
	node_rewrite(g, ci, OP_DwConvNhwc, 1, in, bias != IR_NONE ? 3 : 2, 1,
	             arena_printf(&g->arena, "%s.nhwc", name));
	cv = &g->nodes[ci];
	gval(g, y)->producer = IR_NONE;
	cv->out[0] = out;
	gval(g, out)->producer = ci;
	graph_add_attr(g, ci, "height", AK_INT)->i = H;
	graph_add_attr(g, ci, "width", AK_INT)->i = W;
	/* the Conv's geometry (copied: the rewrite drops its params), as
	 * attributes of the fused node */
	static const char *const names[4] = {"kernel_shape", "pads", "strides", "dilations"};
	const int64_t *vals[4] = {ker, pads, str, dil};
	for (int i = 0; i < 4; i++) {
		Attr *at = graph_add_attr(g, ci, names[i], AK_INTS);
		at->n = i == 1 ? 4 : 2;
		at->ints = arena_dup(&g->arena, vals[i], sizeof(int64_t) * (size_t)at->n);
	}
	if (act) {
		Attr *at = graph_add_attr(g, ci, "act", AK_STRING);
		at->s = act;
		at->slen = strlen(act);
	}
	/* the weights are read tap-major (codegen/lower_dwconv.c) */
	layout_set_const(g, g->nodes[ci].in[1], ci, 1, LAYOUT_TAPS);
	Shape want = gval(g, out)->shape;
	return fuse_infer(g, ci, &want, d, err);
}

bool pass_fuse_dwconv(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	return fuse_each(g, OP_Conv, fuse_at, d);
}

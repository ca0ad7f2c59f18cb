/* passes/fuse_pad_pool.c — a zero Pad of the spatial dims whose only
 * reader is an AveragePool becomes that pool's padding, counted: no padded
 * copy of the tensor.
 *
 * requires: shapes inferred, constants folded
 * keeps:    topological order (the pool stays where it is and reads the
 *           Pad's input, computed before it), value ids, graph outputs
 * breaks:   nothing; leaves the Pad dead for pass_dce
 *
 * Pattern (MaxViT's MBConv shortcut, torchvision's
 * "nn.AvgPool2d(3, 2, 1)" exported as an explicit Pad and an unpadded
 * pool):
 *     p = Pad(x, pads, [value])   mode "constant", value absent or 0, pads
 *         constant (Pad-11+: input; Pad-2: attribute; no axes input), 0 on
 *         the batch and channel dims, >= 0 on the spatial ones; f32; p
 *         read only by the pool and not a graph output
 *     y = AveragePool(p)          auto_pad NOTSET, ceil_mode 0, and either
 *         count_include_pad = 1 or pads all 0
 * becomes y = AveragePool(x) {pads = its pads + the Pad's spatial pads,
 * count_include_pad = 1, the rest unchanged}.  Every window sums the same
 * elements of the padded extent (zeros of the Pad counted in the divisor
 * as before) in the same order: the same output, up to the sign of a zero
 * sum (codegen may skip a padded tap where the Pad added +0).  A Pad of
 * another mode or value, negative pads, a pool that does not count its own
 * padding, ceil_mode are left unchanged.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <string.h>

/* The Pad's 2*r pads into p (ONNX order: begins, then ends); false when
 * they are not known constants. */
static bool pad_amounts(Graph *g, const Node *pd, int r, int64_t *p)
{
	if (pd->opset >= 11 || pd->nin > 1) {
		if (pd->nin < 2 || pd->in[1] == IR_NONE || (pd->nin > 3 && pd->in[3] != IR_NONE))
			return false;
		const Value *v = gval(g, pd->in[1]);
		if (v->kind != VK_CONST || !v->data || shape_numel(&v->shape) != 2 * r)
			return false;
		for (int i = 0; i < 2 * r; i++)
			p[i] = value_get_int(v, i);
		return true;
	}
	const int64_t *a;
	if (attr_ints(pd, "pads", &a) != 2 * r)
		return false;
	memcpy(p, a, sizeof *p * (size_t)(2 * r));
	return true;
}

/* The Pad's fill value is 0. */
static bool zero_value(Graph *g, const Node *pd)
{
	if (pd->opset >= 11 || pd->nin > 1) {
		if (pd->nin < 3 || pd->in[2] == IR_NONE)
			return true;
		double v;
		return const_scalar(g, pd->in[2], &v) && v == 0.0;
	}
	return attr_float(pd, "value", 0.0f) == 0.0f;
}

static bool fuse_at(Graph *g, const Uses *u, NodeId pi, Diag *d, bool *err)
{
	Node *po = &g->nodes[pi];
	if (po->nin != 1 || po->nout != 1 || po->in[0] == IR_NONE || po->out[0] == IR_NONE)
		return false;
	ValueId pid = po->in[0], yid = po->out[0];
	Node *pd = producer_op(g, pid, OP_Pad);
	if (!pd || uses_single(g, u, pid) != pi || pd->in[0] == IR_NONE)
		return false;
	const Value *xv = gval(g, pd->in[0]);
	int r = xv->shape.rank;
	if (xv->dtype != DT_F32 || r < 3 || r > IR_MAX_RANK || !shape_is_static(&xv->shape))
		return false;
	if (strcmp(attr_string(pd, "mode", "constant"), "constant") || !zero_value(g, pd))
		return false;
	int64_t pp[2 * IR_MAX_RANK];
	if (!pad_amounts(g, pd, r, pp) || pp[0] || pp[1] || pp[r] || pp[r + 1])
		return false;
	for (int i = 2; i < r; i++)
		if (pp[i] < 0 || pp[r + i] < 0)
			return false;
	if (strcmp(attr_string(po, "auto_pad", "NOTSET"), "NOTSET") || attr_int(po, "ceil_mode", 0) != 0)
		return false;
	int k = r - 2;
	int64_t np[2 * IR_MAX_RANK] = {0};
	const int64_t *op;
	int cnt = attr_ints(po, "pads", &op);
	if (cnt >= 0 && cnt != 2 * k)
		return false;
	bool own = false;
	for (int i = 0; i < cnt; i++) {
		np[i] = op[i];
		own |= op[i] != 0;
	}
	if (own && attr_int(po, "count_include_pad", 0) != 1)
		return false;
	for (int i = 0; i < k; i++) {
		np[i] += pp[2 + i];
		np[k + i] += pp[r + 2 + i];
	}

	Shape want = gval(g, yid)->shape;
	ValueId x = pd->in[0];
	node_kill(g, (NodeId)(pd - g->nodes));
	po = &g->nodes[pi];
	po->in[0] = x;
	Attr *at = graph_set_attr(g, pi, "pads", AK_INTS);
	at->n = 2 * k;
	at->ints = arena_dup(&g->arena, np, sizeof *np * (size_t)(2 * k));
	graph_set_attr(g, pi, "count_include_pad", AK_INT)->i = 1;
	return fuse_infer(g, pi, &want, d, err);
}

bool pass_fuse_pad_pool(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	return fuse_each(g, OP_AveragePool, fuse_at, d);
}

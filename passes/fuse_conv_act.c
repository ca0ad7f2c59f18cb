/* passes/fuse_conv_act.c — a Conv's Gelu or Relu runs in the Conv's
 * output epilogue: no separate pass over the activation tensor.
 *
 * requires: shapes inferred, aliases removed, fuse-gelu has run (the
 *           activation is a Gelu node); runs after fuse-dwconv and
 *           fuse-patchify (their Convs are gone by then)
 * keeps:    topological order (the Conv stays where it is and now writes the
 *           Gelu's output, whose readers all come after the Gelu, so after
 *           the Conv), value ids, graph outputs
 * breaks:   nothing; leaves the Gelu dead for pass_dce
 *
 * Pattern (MBConv's conv + BatchNorm (folded) + GELU, a stem conv + GELU
 * or + ReLU):
 *     y = Conv(x, W, [bias])     x, W, bias, y f32; no act attribute yet
 *     o = Gelu(y) | Relu(y)      Gelu's approximate "none" or "tanh"; y
 *                                read only here and not a graph output
 * becomes o = Conv(x, W, [bias]) {..., act = "gelu" | "gelu_tanh" |
 * "relu"}, a private attribute of the IR (the importer rejects attributes
 * the ONNX schema does not define, so only this pass sets it).
 * codegen/lower_conv.c applies the activation to each output before its
 * store (after the bias), in every thread partition alike: results are
 * bitwise the same for any thread count.  ReLU is y < 0 ? 0 : y as the
 * Relu op computes it (the same bits as the unfused graph); GELU is
 * kern_gelu, the GEMM epilogue's, within the GELU kernels' accuracy of
 * the unfused graph's (the standalone Gelu takes the erfc form below
 * x = -2, the epilogue cg_math_gelu everywhere: docs/kernels.md).  A Conv read by
 * anything else too, an f16/f64 Conv, a Gelu of another approximate is
 * left unchanged.
 */
#include "pipeline.h"
#include "fuse.h"

#include <assert.h>
#include <string.h>

static bool fuse_at(Graph *g, const Uses *u, NodeId ci, Diag *d, bool *err)
{
	(void)d;
	(void)err;
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->nout != 1 || cv->in[0] == IR_NONE || cv->in[1] == IR_NONE ||
	    cv->out[0] == IR_NONE || attr_string(cv, "act", NULL))
		return false;
	ValueId y = cv->out[0];
	if (gval(g, cv->in[0])->dtype != DT_F32 || gval(g, cv->in[1])->dtype != DT_F32 ||
	    gval(g, y)->dtype != DT_F32 || !shape_is_static(&gval(g, y)->shape))
		return false;
	if (cv->nin > 2 && cv->in[2] != IR_NONE && gval(g, cv->in[2])->dtype != DT_F32)
		return false;
	NodeId gi = uses_single(g, u, y);
	if (gi == IR_NONE || (g->nodes[gi].op != OP_Gelu && g->nodes[gi].op != OP_Relu))
		return false;
	Node *ge = &g->nodes[gi];
	if (ge->nin != 1 || ge->nout != 1 || ge->out[0] == IR_NONE)
		return false;
	const char *act = "relu";
	if (ge->op == OP_Gelu) {
		const char *ga = attr_string(ge, "approximate", "none");
		if (strcmp(ga, "none") && strcmp(ga, "tanh"))
			return false;
		act = !strcmp(ga, "tanh") ? "gelu_tanh" : "gelu";
	}
	ValueId o = ge->out[0];
	if (!shape_eq(&gval(g, o)->shape, &gval(g, y)->shape) || gval(g, o)->dtype != DT_F32)
		return false;

	node_kill(g, gi);
	cv = &g->nodes[ci];
	gval(g, y)->producer = IR_NONE;
	cv->out[0] = o;
	gval(g, o)->producer = ci;
	Attr *at = graph_add_attr(g, ci, "act", AK_STRING);
	at->s = act;
	at->slen = strlen(act);
	return true;
}

bool pass_fuse_conv_act(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	return fuse_each(g, OP_Conv, fuse_at, d);
}

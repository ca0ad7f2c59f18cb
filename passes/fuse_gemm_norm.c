/* passes/fuse_gemm_norm.c — a LayerNorm over the last axis of a GEMM's
 * single-use output becomes that GEMM's row epilogue (MatMulEpi
 * norm_scale/norm_bias, ops.def): the rows are normalised right after the
 * GEMM wrote them, in place, and the GEMM's output is no separate buffer.
 *
 * requires: shapes inferred; after the other GEMM fusions (fuse-gemm,
 *           fuse-slice-gemm, fuse-gather-gemm, prune-rows: they match
 *           MatMulEpi without a norm)
 * keeps:    topological order (the fused GEMM takes the LayerNorm's
 *           place), value ids, graph outputs
 * breaks:   nothing; the GEMM's node is left dead (run dce)
 *
 * Pattern (all f32):
 *     y = MatMulEpi(A, B, ...)  or  MatMul(A, B) with B of rank >= 2
 *     z = LayerNormalization(y, scale, [bias]) {axis = -1 (or rank-1),
 *         stash_type 1, epsilon}, only output z (no Mean/InvStdDev)
 *   y read by the LayerNorm alone and not a graph output; scale and bias
 *   f32 [N] (N: y's last dim).
 * becomes  z = MatMulEpi(A, B, bias?, res?, rows?, scale, [bias])
 *          {the GEMM's attributes, norm_epsilon = epsilon}.
 * The lowering normalises with LayerNormalization's own code
 * (codegen/lower_norm.c cg_layernorm_rows), so the bits are the unfused
 * pair's for every thread count.  A LayerNorm over more axes, with
 * statistics outputs, or of a GEMM output read elsewhere too is left
 * unchanged (tests/passes/gemm_norm_nearmiss_*.in).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <string.h>

static bool fuse_at(Graph *g, const Uses *u, NodeId li, Diag *d, bool *err)
{
	Node *ln = &g->nodes[li];
	int64_t N;
	if (!layernorm_rows(g, ln, &N))
		return false;
	ValueId y = ln->in[0], sc = ln->in[1], bi = ln->nin > 2 ? ln->in[2] : IR_NONE;
	const Value *yv = gval(g, y);
	if (uses_single(g, u, y) != li)
		return false;
	NodeId pi = yv->producer;
	if (pi == IR_NONE || g->nodes[pi].dead)
		return false;
	Node *p = &g->nodes[pi];
	if (p->nout != 1 || p->nin < 2)
		return false;
	if (p->op == OP_MatMul) {
		if (gval(g, p->in[1])->shape.rank < 2 || gval(g, p->in[0])->dtype != DT_F32)
			return false;
	} else if (p->op != OP_MatMulEpi || (p->nin > 5 && p->in[5] != IR_NONE)) {
		return false;
	}

	ValueId in[7] = {IR_NONE, IR_NONE, IR_NONE, IR_NONE, IR_NONE, sc, bi};
	for (int k = 0; k < p->nin && k < 5; k++)
		in[k] = p->in[k];
	int nin = bi != IR_NONE ? 7 : 6;
	int nattr = p->op == OP_MatMulEpi ? p->nattr : 0;
	Attr *attrs = nattr ? arena_dup(&g->arena, p->attrs, sizeof(Attr) * (size_t)nattr) : NULL;
	float eps = attr_float(ln, "epsilon", 1e-5f);
	int opset = p->op == OP_MatMulEpi ? p->opset : 13;
	const char *name = fused_name(g, p, ln, "gemm_norm");
	node_kill(g, pi);
	node_rewrite(g, li, OP_MatMulEpi, opset, in, nin, 1, name);
	ln = &g->nodes[li];
	ln->attrs = attrs;
	ln->nattr = nattr;
	Attr *at = graph_add_attr(g, li, "norm_epsilon", AK_FLOAT);
	at->f = eps;
	return fuse_infer(g, li, NULL, d, err);
}

bool pass_fuse_gemm_norm(Graph *g, Diag *d)
{
	if (!g->shapes_known)
		return true;
	/* a fusion kills the GEMM and rewrites the LayerNorm: the uses of the
	 * values other matches look at do not change */
	return fuse_each(g, OP_LayerNormalization, fuse_at, d);
}

/* passes/fuse_gather_norm.c — a LayerNorm over the last axis of a row
 * gather it alone reads becomes one onnxcc::GatherLayerNorm (ops.def): the
 * LayerNorm reads each element through the gather's row index and the
 * gathered copy is never made (Swin's patch merging: the strided Slices +
 * Concat fuse-remap made one GatherRows, then its norm, then the reduction
 * Linear).
 *
 * requires: shapes inferred; after fuse-remap (it makes the GatherRows),
 *           fuse-gather-gemm and prune-rows (they fold row gathers into
 *           GEMMs or move them up through LayerNorms first)
 * keeps:    topological order (the fused node takes the LayerNorm's place
 *           and reads the gather's source, defined before the gather),
 *           value ids, graph outputs
 * breaks:   nothing; the GatherRows is left dead (run dce)
 *
 * A GEMM that alone reads the result then takes the GatherLayerNorm as its
 * row index and row prologue (passes/fuse_gather_norm_gemm.c).
 *
 * Pattern (f32):
 *     G = GatherRows(X, idx) {shape}   G read by the LayerNorm alone and
 *                                       not a graph output
 *     Y = LayerNormalization(G, scale, [bias]) {axis = -1 (or rank-1),
 *         stash_type 1, epsilon}, only output Y; scale and bias f32 [C]
 *         (C: G's last dim)
 * becomes  Y = GatherLayerNorm(X, idx, scale, [bias]) {shape, epsilon}.
 * The lowering is LayerNormalization's own (codegen/lower_norm.c
 * cg_layernorm_rows: same loads in the same order, only their addresses
 * go through idx), so the bits are the unfused pair's for every thread
 * count.  A LayerNorm over more axes, with statistics outputs, with a
 * scale or bias of another shape, or of a gather something else reads too
 * is left unchanged (tests/passes/gather_norm_nearmiss_*.in).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

static bool fuse_at(Graph *g, const Uses *u, NodeId li, Diag *d, bool *err)
{
	Node *ln = &g->nodes[li];
	int64_t C;
	if (!layernorm_rows(g, ln, &C) || !shape_is_static(&gval(g, ln->in[0])->shape))
		return false;
	ValueId gv = ln->in[0], sc = ln->in[1], bi = ln->nin > 2 ? ln->in[2] : IR_NONE;
	Node *p = producer_op(g, gv, OP_GatherRows);
	if (!p || uses_single(g, u, gv) != li || p->nin != 2 || p->nout != 1 || !node_attr(p, "shape"))
		return false;
	const Value *ix = gval(g, p->in[1]);
	for (int64_t r = 0; r < ix->shape.dims[0]; r++)
		if (value_get_int(ix, r) < 0) /* zero rows: GatherLayerNorm has none */
			return false;
	NodeId pi = gval(g, gv)->producer;

	ValueId in[4] = {p->in[0], p->in[1], sc, bi};
	const Attr *shape = node_attr(p, "shape");
	float eps = attr_float(ln, "epsilon", 1e-5f);
	const char *name = fused_name(g, p, ln, "gather_norm");
	node_kill(g, pi);
	node_rewrite(g, li, OP_GatherLayerNorm, 1, in, bi != IR_NONE ? 4 : 3, 1, name);
	Attr *at = graph_add_attr(g, li, "shape", AK_INTS);
	at->n = shape->n;
	at->ints = shape->ints;
	graph_add_attr(g, li, "epsilon", AK_FLOAT)->f = eps;
	return fuse_infer(g, li, NULL, d, err);
}

bool pass_fuse_gather_norm(Graph *g, Diag *d)
{
	if (!g->shapes_known)
		return true;
	/* a fusion kills the gather and rewrites the LayerNorm: the uses of the
	 * values other matches look at do not change */
	return fuse_each(g, OP_LayerNormalization, fuse_at, d);
}

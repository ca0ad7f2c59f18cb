/* passes/fuse_gather_norm_gemm.c — a GatherLayerNorm read by a GEMM alone
 * becomes that GEMM's row prologue (MatMulEpi rows + a_norm_scale,
 * ops.def): the GEMM normalises the gathered rows as it copies A, and the
 * normalised rows are never stored (Swin's patch merging: strided Slices
 * + Concat + LayerNorm + reduction Linear as one gather-GEMM).
 *
 * requires: shapes inferred; after fuse-gather-norm (it makes the
 *           GatherLayerNorm) and the other GEMM fusions (fuse-gemm,
 *           fuse-slice-gemm, fuse-gather-gemm, prune-rows, fuse-gemm-norm:
 *           they match MatMulEpi without a row prologue)
 * keeps:    topological order (the GEMM keeps its place and reads the
 *           gather's source, defined before the GatherLayerNorm), value
 *           ids, graph outputs
 * breaks:   nothing; the GatherLayerNorm is left dead (run dce)
 *
 * Pattern (all f32):
 *     n = GatherLayerNorm(X, idx, scale, [bias]) {shape, epsilon}, n read
 *         by the GEMM alone and not a graph output
 *     y = MatMul(n, B)  or  MatMulEpi(n, B, [bias2], [res], _, [norm_scale],
 *         [norm_bias]) {act, scale, beta, norm_epsilon} without rows,
 *     B a constant f32 [K, N] (K: n's last dim), u = numel(n) / len(idx)
 *     elements per gathered row with u == K, K % u == 0 (a row of n is K/u
 *     gathered rows: the patch merging's 4 quarters of C channels) or
 *     u % K == 0 (a gathered row is u/K rows of n)
 * becomes  y = MatMulEpi(X, B, [bias2], [res], rows, [norm_scale],
 *          [norm_bias], scale, [bias]) {the GEMM's attributes, a_shape =
 *          n's shape, row_parts = K/u when > 1, a_norm_epsilon = epsilon},
 *          rows = idx (u >= K: each entry split into u/K rows of K).
 * The statistics are LayerNormalization's own code (codegen/lower_norm.c
 * cg_layernorm_stats) and each element is normalised with its steps and
 * roundings before the product reads it, so the bits are the unfused
 * pair's for every thread count (gamma is not folded into B).  A GEMM
 * that already has rows, a GatherLayerNorm something else reads too, or a
 * B that is no constant is left unchanged
 * (tests/passes/gather_norm_gemm_nearmiss_*.in).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <stdlib.h>
#include <string.h>

static bool fuse_at(Graph *g, const Uses *u, NodeId gi, Diag *d, bool *err)
{
	Node *n = &g->nodes[gi];
	if (n->nin < 2 || n->nout != 1 || n->in[0] == IR_NONE || n->in[1] == IR_NONE || n->out[0] == IR_NONE)
		return false;
	if (n->op == OP_MatMulEpi && ((n->nin > 4 && n->in[4] != IR_NONE) || n->nin > 7))
		return false;
	ValueId nv = n->in[0];
	const Value *bv = gval(g, n->in[1]), *av = gval(g, nv);
	if (bv->kind != VK_CONST || bv->dtype != DT_F32 || bv->shape.rank != 2 || av->dtype != DT_F32 ||
	    av->shape.rank < 1 || !shape_is_static(&av->shape))
		return false;
	int64_t K = bv->shape.dims[0];
	if (K < 1 || av->shape.dims[av->shape.rank - 1] != K)
		return false;
	Node *p = producer_op(g, nv, OP_GatherLayerNorm);
	if (!p || uses_single(g, u, nv) != gi || p->nout != 1 || p->nin < 3)
		return false;
	NodeId pi = gval(g, nv)->producer;
	const Value *ix = gval(g, p->in[1]);
	if (ix->kind != VK_CONST || !ix->data || ix->dtype != DT_I32 || ix->shape.rank != 1)
		return false;
	int64_t Rg = ix->shape.dims[0], na = shape_numel(&av->shape);
	if (Rg < 1 || na % Rg != 0)
		return false;
	int64_t ug = na / Rg, parts = 1;
	ValueId rv = p->in[1];
	if (ug < K && K % ug == 0) {
		parts = K / ug;
	} else if (ug > K && ug % K == 0) {
		/* each gathered row is m rows of K */
		int64_t m = ug / K;
		if (Rg * m > INT32_MAX)
			return false;
		int32_t *rows = xmalloc(sizeof *rows * (size_t)(Rg * m));
		for (int64_t r = 0; r < Rg; r++)
			for (int64_t j = 0; j < m; j++)
				rows[r * m + j] = (int32_t)(value_get_int(ix, r) * m + j);
		int64_t rdim[1] = {Rg * m};
		Shape rs = shape_make(1, rdim);
		rv = graph_add_const(g, NULL, DT_I32, &rs, rows);
		free(rows);
	} else if (ug != K) {
		return false;
	}

	n = &g->nodes[gi];
	p = &g->nodes[pi];
	Shape as = gval(g, nv)->shape;
	float eps = attr_float(p, "epsilon", 1e-5f);
	const char *name = fused_name(g, p, n, "gather_norm_gemm");
	ValueId x = p->in[0], scale = p->in[2], bias = p->nin > 3 ? p->in[3] : IR_NONE;
	node_kill(g, pi);
	fuse_gemm_norm_prologue(g, gi, x, rv, scale, bias, name);
	Attr *at = graph_add_attr(g, gi, "a_shape", AK_INTS);
	at->n = as.rank;
	at->ints = arena_dup(&g->arena, as.dims, sizeof(int64_t) * (size_t)as.rank);
	if (parts > 1)
		graph_add_attr(g, gi, "row_parts", AK_INT)->i = parts;
	graph_add_attr(g, gi, "a_norm_epsilon", AK_FLOAT)->f = eps;
	return fuse_infer(g, gi, NULL, d, err);
}

bool pass_fuse_gather_norm_gemm(Graph *g, Diag *d)
{
	if (!g->shapes_known)
		return true;
	/* a fusion kills the GatherLayerNorm and rewrites the GEMM: the uses of
	 * the values other matches look at do not change */
	return fuse_each(g, OP_MatMul, fuse_at, d) && fuse_each(g, OP_MatMulEpi, fuse_at, d);
}

/* passes/fuse_norm_gemm.c — a LayerNormalization whose output only GEMMs
 * by constant weights read (directly or through a Reshape that keeps the
 * last dim) becomes those GEMMs' row prologue (MatMulEpi rows +
 * a_norm_scale, ops.def): each GEMM normalises the rows as it copies A,
 * and the normalised tensor is never stored (a pre-norm transformer
 * block's norm1 -> QKV and norm2 -> fc1 when the norm could not be a
 * GEMM's epilogue: its input is a residual sum something else reads too).
 * Only a LayerNorm with one such GEMM reader (NORM_GEMM_READERS) is taken.
 *
 * requires: shapes inferred; after the other GEMM fusions (fuse-gemm,
 *           fuse-slice-gemm, fuse-gather-gemm, prune-rows, fuse-gemm-norm,
 *           fuse-gather-norm-gemm: they match MatMulEpi without a row
 *           prologue, and fuse-gemm-norm takes the LayerNorms a GEMM makes)
 * keeps:    topological order (each GEMM keeps its place and reads the
 *           LayerNorm's input, defined before the LayerNorm), value ids,
 *           graph outputs
 * breaks:   nothing; the LayerNorm (and a Reshape between it and the
 *           GEMMs) is left dead (run dce)
 *
 * Pattern (all f32):
 *     n = LayerNormalization(X, scale, [bias]) {axis = -1, epsilon} over
 *         the last dim K (layernorm_rows), n not a graph output, read by
 *         at most NORM_GEMM_READERS nodes (below), each either
 *       a GEMM  y = MatMul(a, B)  or  MatMulEpi(a, B, [bias2], [res],
 *         [rows], [norm_scale], [norm_bias]) {act, scale, beta,
 *         norm_epsilon, a_shape} without a_norm_scale and row_parts,
 *         with a = n (as input 0 alone, rank >= 2), B a constant f32
 *         [K, N], or
 *       a Reshape of n (not a graph output) whose output's last dim is K
 *         and which only such GEMMs read (a = the Reshape's output)
 * becomes, for each GEMM,
 *          y = MatMulEpi(X, B, [bias2], [res], rows, [norm_scale],
 *          [norm_bias], scale, [bias]) {the GEMM's attributes, a_shape =
 *          a's shape when it had no rows, a_norm_epsilon = epsilon},
 *          rows the GEMM's own (they index rows of K, which the LayerNorm
 *          and the Reshape keep) or else the identity [numel(a) / K]
 *          (one per LayerNorm), which the lowering does not pass to the
 *          GEMM kernel: it reads A's rows as they are (lower_linalg.c).
 * The statistics are LayerNormalization's own code (codegen/lower_norm.c
 * cg_layernorm_stats) and each element is normalised with its steps and
 * roundings before the product reads it, so the bits are the unfused
 * pair's for every thread count (gamma is not folded into B).  A
 * LayerNorm read by more GEMMs than NORM_GEMM_READERS, or by any other
 * node, a GEMM with row_parts (its rows are
 * parts of a logical row: the statistics would be per part) or with a B
 * that is no constant leaves everything unchanged
 * (tests/passes/norm_gemm_nearmiss_*.in).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <stdlib.h>
#include <string.h>

/* At most this many GEMMs take one LayerNorm as their prologue: each
 * computes the statistics and the normalised copy again, which cost more
 * than the store and reloads they save (maxvit_t's q/k/v, ode_rk2_d384's
 * attention + MLP; docs/kernels.md, "LayerNorm as the GEMM's row
 * prologue"). */
#define NORM_GEMM_READERS 1

/* Node ri reads a (as its input 0 alone) as the A of a GEMM this pass can
 * give a row prologue over rows of K. */
static bool gemm_reader(Graph *g, NodeId ri, ValueId a, int64_t K)
{
	const Node *r = &g->nodes[ri];
	if ((r->op != OP_MatMul && r->op != OP_MatMulEpi) || r->nin < 2 || r->nout != 1 || r->in[0] != a ||
	    r->out[0] == IR_NONE || r->in[1] == IR_NONE)
		return false;
	for (int k = 1; k < r->nin; k++)
		if (r->in[k] == a)
			return false;
	for (int k = 7; k < r->nin; k++)
		if (r->in[k] != IR_NONE) /* a prologue already */
			return false;
	if (r->op == OP_MatMulEpi && attr_int(r, "row_parts", 1) != 1)
		return false;
	const Value *b = gval(g, r->in[1]), *av = gval(g, a);
	return b->kind == VK_CONST && b->dtype == DT_F32 && b->shape.rank == 2 && b->shape.dims[0] == K &&
	       av->shape.rank >= 2 && av->shape.dims[av->shape.rank - 1] == K && shape_is_static(&av->shape);
}

/* The GEMMs reading n (through at most one level of Reshape) into gi[],
 * their A values into av[], the Reshapes into ri[] (*nr of them); the
 * count, or -1 when some reader is no such GEMM or there are more than
 * NORM_GEMM_READERS. */
static int gemm_readers(Graph *g, const Uses *u, ValueId n, int64_t K, NodeId *gi, ValueId *av, NodeId *rs,
                        int *nr)
{
	*nr = 0;
	if (uses_count(g, u, n) < 1)
		return -1;
	int c = 0;
	for (int j = u->off[n]; j < u->off[n + 1]; j++) {
		NodeId ri = u->node[j];
		const Node *r = &g->nodes[ri];
		if (r->dead)
			continue;
		if (r->op == OP_Reshape && r->in[0] == n && r->nout >= 1 && r->out[0] != IR_NONE && r->in[1] != n) {
			ValueId m = r->out[0];
			const Value *mv = gval(g, m);
			if (mv->shape.rank < 1 || mv->shape.dims[mv->shape.rank - 1] != K || uses_count(g, u, m) < 1)
				return -1;
			for (int q = u->off[m]; q < u->off[m + 1]; q++) {
				if (g->nodes[u->node[q]].dead)
					continue;
				if (c == NORM_GEMM_READERS || !gemm_reader(g, u->node[q], m, K))
					return -1;
				gi[c] = u->node[q], av[c++] = m;
			}
			rs[(*nr)++] = ri;
			continue;
		}
		if (c == NORM_GEMM_READERS || !gemm_reader(g, ri, n, K))
			return -1;
		gi[c] = ri, av[c++] = n;
	}
	return c;
}

/* GEMM gi (reading a, a view of LayerNorm p's output) reads p's input
 * through rows (its own, else *ident, made once) with p as its prologue. */
static bool rewrite_gemm(Graph *g, NodeId gi, ValueId a, const Node *p, int64_t K, ValueId *ident, Diag *d,
                         bool *err)
{
	Node *n = &g->nodes[gi];
	Shape as = gval(g, a)->shape;
	bool had_rows = n->op == OP_MatMulEpi && n->nin > 4 && n->in[4] != IR_NONE;
	ValueId rv = had_rows ? n->in[4] : IR_NONE;
	if (!had_rows) {
		if (*ident == IR_NONE) {
			int64_t R = shape_numel(&as) / K;
			int32_t *rows = xmalloc(sizeof *rows * (size_t)R);
			for (int64_t r = 0; r < R; r++)
				rows[r] = (int32_t)r;
			int64_t rdim[1] = {R};
			Shape rs = shape_make(1, rdim);
			*ident = graph_add_const(g, NULL, DT_I32, &rs, rows);
			free(rows);
		}
		rv = *ident;
	}
	n = &g->nodes[gi];
	float eps = attr_float(p, "epsilon", 1e-5f);
	fuse_gemm_norm_prologue(g, gi, p->in[0], rv, p->in[1], p->nin > 2 ? p->in[2] : IR_NONE,
	                        fused_name(g, p, n, "norm_gemm"));
	if (!had_rows) {
		Attr *at = graph_set_attr(g, gi, "a_shape", AK_INTS);
		at->n = as.rank;
		at->ints = arena_dup(&g->arena, as.dims, sizeof(int64_t) * (size_t)as.rank);
	}
	graph_add_attr(g, gi, "a_norm_epsilon", AK_FLOAT)->f = eps;
	n = &g->nodes[gi];
	Shape ys = gval(g, n->out[0])->shape;
	return fuse_infer(g, gi, &ys, d, err);
}

static bool fuse_at(Graph *g, const Uses *u, NodeId li, Diag *d, bool *err)
{
	Node *p = &g->nodes[li];
	int64_t K;
	if (!layernorm_rows(g, p, &K) || K < 1 || !shape_is_static(&gval(g, p->in[0])->shape))
		return false;
	NodeId gi[NORM_GEMM_READERS], rs[NORM_GEMM_READERS];
	ValueId av[NORM_GEMM_READERS];
	int nr, c = gemm_readers(g, u, p->out[0], K, gi, av, rs, &nr);
	if (c < 1)
		return false;
	ValueId ident = IR_NONE;
	for (int j = 0; j < c; j++)
		if (!rewrite_gemm(g, gi[j], av[j], &g->nodes[li], K, &ident, d, err))
			return false;
	for (int j = 0; j < nr; j++)
		node_kill(g, rs[j]);
	node_kill(g, li);
	return true;
}

bool pass_fuse_norm_gemm(Graph *g, Diag *d)
{
	if (!g->shapes_known)
		return true;
	/* a fusion rewrites the GEMMs that read one LayerNorm's output and
	 * kills that LayerNorm: the uses of other LayerNorms' outputs do not
	 * change (a LayerNorm reading another's output makes the first one's
	 * readers not all GEMMs) */
	return fuse_each(g, OP_LayerNormalization, fuse_at, d);
}

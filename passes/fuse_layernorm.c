/* passes/fuse_layernorm.c — the decomposed LayerNorm chain into one
 * LayerNormalization node (lowered by codegen/lower_norm.c).
 *
 * requires: shapes inferred (does nothing otherwise), constants folded,
 *           aliases removed
 * keeps:    topological order, value ids, graph outputs
 * breaks:   nothing; the chain's other nodes are left dead (run dce)
 *
 * The chain PyTorch exports for nn.LayerNorm / F.layer_norm below opset 17,
 * with A a trailing range of axes [k, r) of x (ReduceMean's `axes`
 * attribute, or its input 1 from opset 18; negative or not; no axes = all):
 *
 *   m = ReduceMean(x, A)                  keepdims = 1
 *   d = Sub(x, m)                         or two such Subs, one feeding q
 *                                         and one n (x - u written twice)
 *   q = Pow(d, 2)  |  Mul(d, d)
 *   v = ReduceMean(q, A)                  keepdims = 1
 *   e = Add(v, eps)  |  Add(eps, v)       eps: a one-element float constant
 *   s = Sqrt(e)
 *   n = Div(d, s)  |  Mul(d, Reciprocal(s))  |  Mul(Reciprocal(s), d)
 *   y = Mul(n, gamma)  |  Mul(gamma, n)   optional
 *   z = Add(y, beta)   |  Add(beta, y)    optional, only after gamma
 *
 * becomes  z = LayerNormalization(x, gamma, beta) {axis = k - r, epsilon = eps}
 * (LayerNormalization-17, stash_type 1).  Without gamma the scale is a new
 * constant of ones.  gamma/beta must vary only along the normalized dims
 * (a constant with extra leading 1-dims is replaced by a trimmed copy); if
 * they don't, the chain ends before them and they stay ordinary nodes.
 *
 * Every intermediate (m, d, q, v, e, s, 1/s, n, y) must have all its uses
 * inside the chain and must not be a graph output, x must be a float
 * tensor and each step must keep its shape: otherwise the graph is left
 * unchanged (tests/passes/layernorm_*.in hold the near misses).
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "../ir/params.h"

/* The reduced axes of ReduceMean node n over rank r as the trailing range
 * [*k, r); false if they are not such a range or keepdims is 0. */
static bool trailing_axes(Graph *g, const Node *n, int r, int *k)
{
	const ReduceParams *rp = node_reduce(g, (NodeId)(n - g->nodes), NULL);
	if (!rp || !rp->keepdims || rp->noop || rp->rank != r || r == 0)
		return false;
	int lo = r;
	while (lo > 0 && rp->reduced[lo - 1])
		lo--;
	for (int a = 0; a < lo; a++)
		if (rp->reduced[a])
			return false;
	if (lo == r)
		return false;
	*k = lo;
	return true;
}

/* Can v be LayerNormalization's scale/bias for x normalized over [k, r)?
 * It must broadcast into x's shape without growing it and vary only along
 * dims >= k.  *use is v itself, or a copy of a constant v with its leading
 * 1-dims (those aligned with dims < k) dropped. */
static bool fits(Graph *g, ValueId v, ValueId x, int k, ValueId *use)
{
	Value *vv = gval(g, v), *xv = gval(g, x);
	const Shape *s = &vv->shape, *xs = &xv->shape;
	int r = xs->rank, nr = r - k;
	if (vv->dtype != xv->dtype || !shape_is_static(s) || s->rank > r)
		return false;
	for (int i = 0; i < s->rank; i++) {
		int xi = r - s->rank + i;
		int64_t dv = s->dims[i];
		if (dv != 1 && (xi < k || dv != xs->dims[xi]))
			return false;
	}
	*use = v;
	if (s->rank <= nr)
		return true;
	if (vv->kind != VK_CONST)
		return false;
	Shape t = shape_make(nr, s->dims + (s->rank - nr));
	*use = graph_add_const(g, NULL, vv->dtype, &t, gval(g, v)->data);
	return true;
}

/* A constant of ones shaped like x's dims [k, r). */
static ValueId ones(Graph *g, ValueId x, int k)
{
	Value *xv = gval(g, x);
	Shape t = shape_make(xv->shape.rank - k, xv->shape.dims + k);
	int64_t n = shape_numel(&t);
	size_t es = dtype_size(xv->dtype);
	DType dt = xv->dtype;
	unsigned char *buf = xmalloc((size_t)n * es + 1);
	for (int64_t i = 0; i < n; i++) {
		unsigned char *p = buf + (size_t)i * es;
		if (dt == DT_F32) {
			float one = 1.0f;
			memcpy(p, &one, 4);
		} else if (dt == DT_F64) {
			double one = 1.0;
			memcpy(p, &one, 8);
		} else {
			uint16_t one = dt == DT_F16 ? 0x3c00u : 0x3f80u; /* f16 / bf16 */
			memcpy(p, &one, 2);
		}
	}
	ValueId v = graph_add_const(g, NULL, dt, &t, buf);
	free(buf);
	return v;
}

/* Node n squares d: Pow(d, 2) or Mul(d, d). */
static bool is_square(Graph *g, const Node *n, ValueId d)
{
	return (n->op == OP_Pow && n->in[0] == d && const_near(g, n->in[1], 2.0, 0)) ||
	       (n->op == OP_Mul && n->in[0] == d && n->in[1] == d);
}

static bool same_shape(Graph *g, ValueId a, ValueId b)
{
	return shape_eq(&gval(g, a)->shape, &gval(g, b)->shape);
}

/* Tries the chain starting at ReduceMean node r1; true if fused. */
static bool fuse_at(Graph *g, const Uses *u, NodeId r1)
{
	Node *mean = &g->nodes[r1];
	ValueId x = mean->in[0], m = mean->out[0];
	Value *xv = gval(g, x);
	int r = xv->shape.rank, k;
	if (!dtype_is_float(xv->dtype) || !shape_is_static(&xv->shape) || r < 1 ||
	    !trailing_axes(g, mean, r, &k))
		return false;

	/* d = x - m: one Sub read by the square and the division (torch.onnx),
	 * or two equal Subs, one for each (code that writes x - u twice) */
	NodeId subs[2], sq = IR_NONE, norm = IR_NONE;
	int nsub = 0;
	int mc = uses_count(g, u, m);
	if (mc < 1 || mc > 2)
		return false;
	for (int j = u->off[m]; j < u->off[m + 1]; j++) {
		NodeId c = u->node[j];
		Node *cn = &g->nodes[c];
		if (cn->dead)
			continue;
		if (cn->op != OP_Sub || cn->in[0] != x || cn->in[1] != m || !same_shape(g, cn->out[0], x))
			return false;
		subs[nsub++] = c;
	}
	ValueId dq = IR_NONE, dn = IR_NONE; /* the d squared, the d divided */
	for (int i = 0; i < nsub; i++) {
		ValueId d = g->nodes[subs[i]].out[0];
		int slots = 0;
		for (int j = u->off[d]; j < u->off[d + 1]; j++) {
			NodeId c = u->node[j];
			Node *cn = &g->nodes[c];
			if (cn->dead || c == sq || c == norm)
				continue;
			if (is_square(g, cn, d)) {
				if (sq != IR_NONE)
					return false;
				sq = c;
				dq = d;
				slots += cn->op == OP_Mul ? 2 : 1;
			} else {
				if (norm != IR_NONE)
					return false;
				norm = c;
				dn = d;
				slots++;
			}
		}
		if (uses_count(g, u, d) != slots)
			return false;
	}
	if (sq == IR_NONE || norm == IR_NONE || (nsub == 2 && dq == dn))
		return false;
	ValueId q = g->nodes[sq].out[0];
	if (!same_shape(g, q, x))
		return false;

	/* v = mean(q) over the same axes; e = v + eps; s = sqrt(e) */
	NodeId r2 = uses_single(g, u, q);
	int k2;
	if (r2 == IR_NONE || g->nodes[r2].op != OP_ReduceMean || g->nodes[r2].in[0] != q ||
	    !trailing_axes(g, &g->nodes[r2], r, &k2) || k2 != k)
		return false;
	ValueId v = g->nodes[r2].out[0];
	NodeId add = uses_single(g, u, v);
	double eps;
	if (add == IR_NONE || g->nodes[add].op != OP_Add ||
	    !const_scalar(g, other_input(&g->nodes[add], v), &eps) || eps < 0)
		return false;
	ValueId e = g->nodes[add].out[0];
	if (!same_shape(g, e, v) || !same_shape(g, v, m))
		return false;
	NodeId sqrt = uses_single(g, u, e);
	if (sqrt == IR_NONE || g->nodes[sqrt].op != OP_Sqrt)
		return false;
	ValueId s = g->nodes[sqrt].out[0];

	/* n = d / s  or  d * (1/s) */
	NodeId rec = IR_NONE;
	NodeId c = uses_single(g, u, s);
	if (c == IR_NONE)
		return false;
	if (g->nodes[c].op == OP_Reciprocal) {
		rec = c;
		c = uses_single(g, u, g->nodes[rec].out[0]);
		if (c != norm || g->nodes[c].op != OP_Mul ||
		    other_input(&g->nodes[c], g->nodes[rec].out[0]) != dn)
			return false;
	} else if (c != norm || g->nodes[c].op != OP_Div || g->nodes[c].in[0] != dn ||
	           g->nodes[c].in[1] != s) {
		return false;
	}
	ValueId nv = g->nodes[norm].out[0];
	if (!same_shape(g, nv, x))
		return false;

	/* optional affine tail */
	NodeId last = norm, mul = IR_NONE;
	ValueId gamma = IR_NONE, beta = IR_NONE;
	NodeId t = uses_single(g, u, nv);
	if (t != IR_NONE && g->nodes[t].op == OP_Mul) {
		ValueId o = other_input(&g->nodes[t], nv);
		ValueId use;
		if (o != nv && same_shape(g, g->nodes[t].out[0], x) && fits(g, o, x, k, &use)) {
			gamma = use;
			mul = last = t;
			ValueId y = g->nodes[t].out[0];
			NodeId b = uses_single(g, u, y);
			if (b != IR_NONE && g->nodes[b].op == OP_Add) {
				o = other_input(&g->nodes[b], y);
				if (o != y && same_shape(g, g->nodes[b].out[0], x) && fits(g, o, x, k, &use)) {
					beta = use;
					last = b;
				}
			}
		}
	}
	if (gamma == IR_NONE)
		gamma = ones(g, x, k);

	const Node *first = &g->nodes[r1];
	const char *name = fused_name(g, first, &g->nodes[last], "LayerNormalization");
	NodeId dead[] = {r1, subs[0], nsub == 2 ? subs[1] : IR_NONE, sq, r2, add, sqrt, rec, norm, mul};
	for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++)
		if (dead[i] != IR_NONE && dead[i] != last)
			node_kill(g, dead[i]);
	ValueId in[3] = {x, gamma, beta};
	node_rewrite(g, last, OP_LayerNormalization, 17, in, beta == IR_NONE ? 2 : 3, 1, name);
	graph_add_attr(g, last, "axis", AK_INT)->i = k - r;
	graph_add_attr(g, last, "epsilon", AK_FLOAT)->f = (float)eps;
	return true;
}

bool pass_fuse_layernorm(Graph *g, Diag *d)
{
	(void)d;
	if (!g->shapes_known)
		return true;
	Uses u;
	uses_build(g, &u);
	int nn = g->nnodes; /* fusion adds no nodes */
	for (NodeId i = 0; i < nn; i++)
		if (!g->nodes[i].dead && g->nodes[i].op == OP_ReduceMean)
			fuse_at(g, &u, i);
	uses_free(&u);
	return true;
}

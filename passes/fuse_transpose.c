/* passes/fuse_transpose.c — the head split and merge of multi-head
 * attention read and written through strides instead of copied.
 *
 * requires: shapes inferred; fuse-attention has run (Attention nodes exist)
 * keeps:    topological order (a fused node keeps its position; its output
 *           value may become the absorbed Transpose's, which is read only
 *           after it), value ids, graph outputs (a graph output may become
 *           the Attention node's output; it never disappears)
 * breaks:   nothing; leaves dead nodes for pass_dce
 *
 * The exporter splits heads as Transpose(Reshape(Linear(x))) and merges
 * them as Reshape(Transpose(Attention(...))); with Reshape a view
 * (memplan), the Transposes are the only copies.  The operands are q, k,
 * v and the second K/V segments k2, v2 (input slots 0, 1, 2, 4, 5; the
 * bias, slot 3, is read as it is).  An operand value x qualifies when every
 * reader of x is an Attention node reading it as an operand (x not a graph
 * output): each reader absorbs it in turn, and the last one kills the
 * node making x (skip-layer attention reads a layer's k and v in two
 * Attention nodes, its own and the next layer's).  For each Attention node:
 *   - an operand that is x = Transpose(y, t) becomes y, and the node's
 *     permutation for that input (perm_q, perm_k, perm_v, perm_k2,
 *     perm_v2; identity when absent) p becomes p'[i] = t[p[i]] — the
 *     operand read is Transpose(y, p'), the same values;
 *   - an output o read only by z = Transpose(o, t) (o not a graph output)
 *     is replaced by z: the node stores Transpose(O, perm_o') with
 *     perm_o'[j] = perm_o[t[j]], provided that keeps O's last dim last
 *     (output rows stay contiguous for the GEMM kernel's stores); else the
 *     Transpose stays.
 *   - an operand x = Gather(T, c) with c a constant scalar index on axis 0
 *     and T = Transpose(y, t) — the packed q/k/v (or k/v) projection split
 *     as qkv[0], qkv[1], qkv[2] — becomes y with a permutation of y's rank
 *     and sel_q/sel_k/sel_v/sel_k2/sel_v2 = c: the
 *     operand read is Transpose(y, P)[c], P[0] = t[0], P[i+1] = t[p[i]+1].
 *     T stays for its other readers; dce removes it once all are absorbed.
 * Repeated until no Transpose next to the node qualifies (chains of
 * Transposes compose).  The lowering (codegen/lower_attention.c) reads the
 * operands with the permuted strides.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <string.h>

/* The permutation attribute `name` of n (identity of rank r when absent)
 * into p. */
static void get_perm(const Node *n, const char *name, int r, int64_t *p)
{
	const int64_t *a;
	int k = attr_ints(n, name, &a);
	assert(k < 0 || k == r);
	for (int i = 0; i < r; i++)
		p[i] = k < 0 ? i : a[i];
}

/* Sets the ints attribute `name` of node id to p[0..r) (replacing it). */
static void set_perm(Graph *g, NodeId id, const char *name, int r, const int64_t *p)
{
	Node *n = &g->nodes[id];
	Attr *a = NULL;
	for (int i = 0; i < n->nattr; i++)
		if (!strcmp(n->attrs[i].name, name))
			a = &n->attrs[i];
	if (!a)
		a = graph_add_attr(g, id, name, AK_INTS);
	node_params_reset(n);
	a->kind = AK_INTS;
	a->n = r;
	a->ints = arena_dup(&g->arena, p, sizeof(int64_t) * (size_t)r);
}

/* The permutation of Transpose node t (ir/params.h). */
static void transpose_perm(Graph *g, const Node *t, int64_t *p)
{
	const PermParams *tp = node_perm(g, (NodeId)(t - g->nodes), NULL);
	assert(tp);   /* inferred before */
	memcpy(p, tp->perm, sizeof(int64_t) * (size_t)tp->rank);
}

/* x = Gather(T, c) on axis 0 with c a constant scalar: c normalised into
 * [0, dim) in *c and the Gather node returned; else NULL. */
static Node *gather_first(Graph *g, ValueId x, int64_t *c)
{
	Node *ga = producer_op(g, x, OP_Gather);
	if (!ga || ga->nin != 2 || ga->in[0] == IR_NONE || ga->in[1] == IR_NONE ||
	    attr_int(ga, "axis", 0) != 0)
		return NULL;
	Value *ix = gval(g, ga->in[1]);
	if (ix->kind != VK_CONST || ix->shape.rank != 0 || (ix->dtype != DT_I64 && ix->dtype != DT_I32))
		return NULL;
	int64_t dim = gval(g, ga->in[0])->shape.dims[0];
	int64_t i = (int64_t)value_get_f64(ix, 0);
	if (i < 0)
		i += dim;
	if (i < 0 || i >= dim)
		return NULL;
	*c = i;
	return ga;
}

/* True when x is read, and only read, by Attention nodes as an operand
 * (never as the bias) and is not a graph output. */
static bool attention_operand_only(Graph *g, const Uses *u, ValueId x)
{
	if (uses_count(g, u, x) < 1)
		return false;
	for (int i = u->off[x]; i < u->off[x + 1]; i++) {
		const Node *r = &g->nodes[u->node[i]];
		if (r->dead)
			continue;
		if (r->op != OP_Attention || (r->nin > 3 && r->in[3] == x))
			return false;
	}
	return true;
}

/* One absorption at node id; true if the graph changed. */
static bool absorb_one(Graph *g, const Uses *u, NodeId id)
{
	static const int slot[5] = {0, 1, 2, 4, 5};
	static const char *const in_perm[5] = {"perm_q", "perm_k", "perm_v", "perm_k2", "perm_v2"};
	static const char *const in_sel[5] = {"sel_q", "sel_k", "sel_v", "sel_k2", "sel_v2"};
	Node *n = &g->nodes[id];
	for (int j = 0; j < 5; j++) {
		int s = slot[j];
		if (s >= n->nin || n->in[s] == IR_NONE)
			continue;
		ValueId x = n->in[s];
		if (!attention_operand_only(g, u, x))
			continue;
		bool last = uses_count(g, u, x) == 1; /* this is x's last reader */
		int64_t c;
		Node *ga = attr_int(n, in_sel[j], -1) < 0 ? gather_first(g, x, &c) : NULL;
		Node *gt = ga ? producer_op(g, ga->in[0], OP_Transpose) : NULL;
		if (gt && gt->nin == 1 && gt->in[0] != IR_NONE && gval(g, gt->in[0])->dtype == DT_F32) {
			int r = gval(g, x)->shape.rank;
			int64_t tp[IR_MAX_RANK], p[IR_MAX_RANK], np[IR_MAX_RANK];
			transpose_perm(g, gt, tp);
			get_perm(n, in_perm[j], r, p);
			np[0] = tp[0];
			for (int i = 0; i < r; i++)
				np[i + 1] = tp[p[i] + 1];
			ValueId y = gt->in[0];
			if (last)
				node_kill(g, (NodeId)(ga - g->nodes));
			n = &g->nodes[id];
			n->in[s] = y;
			set_perm(g, id, in_perm[j], r + 1, np);
			graph_add_attr(g, id, in_sel[j], AK_INT)->i = c;
			return true;
		}
		Node *t = producer_op(g, x, OP_Transpose);
		if (!t || t->nin != 1 || t->in[0] == IR_NONE)
			continue;
		if (gval(g, t->in[0])->dtype != DT_F32)
			continue;
		int r = gval(g, x)->shape.rank;
		int64_t tp[IR_MAX_RANK], p[IR_MAX_RANK], np[IR_MAX_RANK];
		transpose_perm(g, t, tp);
		get_perm(n, in_perm[j], r, p);
		for (int i = 0; i < r; i++)
			np[i] = tp[p[i]];
		ValueId y = t->in[0];
		if (last)
			node_kill(g, (NodeId)(t - g->nodes));
		n = &g->nodes[id];
		n->in[s] = y;
		set_perm(g, id, in_perm[j], r, np);
		return true;
	}
	ValueId o = n->out[0];
	NodeId tid = uses_single(g, u, o);
	if (tid == IR_NONE)
		return false;
	Node *t = &g->nodes[tid];
	if (t->op != OP_Transpose || t->nin != 1 || t->nout != 1 || t->out[0] == IR_NONE)
		return false;
	int r = gval(g, o)->shape.rank;
	int64_t tp[IR_MAX_RANK], p[IR_MAX_RANK], np[IR_MAX_RANK];
	transpose_perm(g, t, tp);
	get_perm(n, "perm_o", r, p);
	for (int j = 0; j < r; j++)
		np[j] = p[tp[j]];
	if (np[r - 1] != r - 1)
		return false;
	ValueId z = t->out[0];
	node_kill(g, tid);
	n = &g->nodes[id];
	n->out[0] = z;
	gval(g, z)->producer = id;
	gval(g, o)->producer = IR_NONE;
	set_perm(g, id, "perm_o", r, np);
	return true;
}

bool pass_fuse_transpose(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	for (NodeId id = 0; id < g->nnodes; id++) {
		if (g->nodes[id].dead || g->nodes[id].op != OP_Attention)
			continue;
		bool changed = false;
		for (;;) {
			/* the index is rebuilt after each change: an absorbed
			 * Transpose's input gains this node as its reader */
			Uses u;
			uses_build(g, &u);
			bool c = absorb_one(g, &u, id);
			uses_free(&u);
			if (!c)
				break;
			changed = true;
		}
		if (changed) {
			Shape want = gval(g, g->nodes[id].out[0])->shape;
			if (!pass_infer_node(g, id, d))
				return false;
			assert(shape_eq(&want, &gval(g, g->nodes[id].out[0])->shape));
			(void)want;
		}
	}
	return true;
}

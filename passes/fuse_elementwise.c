/* passes/fuse_elementwise.c — a tree of f32 elementwise ops becomes one
 * onnxcc::ElemChain, computed per element in one loop: the intermediates
 * are never stored or read back.
 *
 * requires: shapes inferred, constants folded; run after the fusions that
 *           take elementwise ops into other nodes (fuse-gelu, fuse-gemm's
 *           epilogues, ...), which get them first
 * keeps:    topological order (the fused node takes the place of the
 *           tree's last op), value ids, graph output names
 * breaks:   nothing; the other ops of a tree are left dead for pass_dce
 *
 * Pattern: a root op and, recursively, every operand v of an op already
 * in the tree whose producer is an op too, where
 *   op   one of Add, Sub, Mul, Div, Neg, Relu, Sigmoid, Tanh, Erf, every
 *        input and the output f32 (ops.def's ElemChain row);
 *   v    has exactly one use (one input slot: Mul(t, t) keeps t), is not
 *        a graph output, and has the root's shape — an intermediate that a
 *        later op broadcasts (a [C] sum added to [B,N,C] tokens) stays
 *        stored, or the loop would compute it once per broadcast copy.
 * The tree's leaves (inputs, constants, any other value; the same value
 * once) broadcast to the root's shape: tensors of that shape, broadcast
 * tensors and constant scalars alike.  A tree of at least two ops becomes
 *     root.out = ElemChain(leaves...) {expr = the tree, e.g.
 *                "Add(x0,Mul(Add(x1,x2),x3))"}
 * (at most CHAIN_MAX_INPUTS leaves and CHAIN_MAX_STEPS ops: an operand
 * that would pass either stays a leaf).  The roots are taken from the last
 * node back, so each tree is the largest one ending in its root.
 *
 * The motivating pattern is an ODE step's update, x + h (k1 + k2), and
 * the scaled residual adds of the parallel-block family: 2-3 passes over
 * the tokens become one.  Each element is computed by the same f32
 * operations on the same operands (codegen/lower_elementwise.c), so the
 * result is bitwise the unfused chain's.
 */
#include "pipeline.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/params.h"
#include "fuse.h"

typedef struct Tree {
	Graph *g;
	int *uses;            /* per value: input slots of live nodes reading it */
	bool *taken;          /* per node: in a tree already */
	Shape shape;          /* the root's output shape */
	NodeId nodes[CHAIN_MAX_STEPS];
	int nnodes;
	ValueId leaves[CHAIN_MAX_INPUTS];
	int nleaves;
	char expr[CHAIN_MAX_STEPS * 16 + CHAIN_MAX_INPUTS * 4 + 16];
	size_t len;
} Tree;

/* Node i is an op the chain computes, on f32 only. */
static bool eligible(Graph *g, NodeId i)
{
	const Node *n = &g->nodes[i];
	int ar = chain_op_arity(n->op);
	if (n->dead || !ar || n->nin != ar || n->nout != 1 || n->out[0] == IR_NONE)
		return false;
	const Value *y = gval(g, n->out[0]);
	if (y->dtype != DT_F32 || !shape_is_static(&y->shape))
		return false;
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] == IR_NONE || gval(g, n->in[k])->dtype != DT_F32 ||
		    !shape_is_static(&gval(g, n->in[k])->shape))
			return false;
	return true;
}

static void put(Tree *t, const char *s)
{
	size_t n = strlen(s);
	assert(t->len + n < sizeof t->expr);
	memcpy(t->expr + t->len, s, n + 1);
	t->len += n;
}

/* Appends operand v to the expression: its producer's op when it joins the
 * tree, else a leaf.  `reserve`: operands still to come after v, each of
 * which may need a leaf. */
static void operand(Tree *t, ValueId v, int reserve)
{
	Graph *g = t->g;
	NodeId p = gval(g, v)->producer;
	if (p != IR_NONE && !t->taken[p] && eligible(g, p) && t->uses[v] == 1 && !gval(g, v)->is_output &&
	    shape_eq(&gval(g, v)->shape, &t->shape) && t->nnodes < CHAIN_MAX_STEPS &&
	    t->nleaves + reserve + g->nodes[p].nin <= CHAIN_MAX_INPUTS) {
		const Node *n = &g->nodes[p];
		t->taken[p] = true;
		t->nodes[t->nnodes++] = p;
		put(t, op_name(n->op));
		put(t, "(");
		operand(t, n->in[0], reserve + n->nin - 1);
		if (n->nin == 2) {
			put(t, ",");
			operand(t, n->in[1], reserve);
		}
		put(t, ")");
		return;
	}
	int k = 0;
	while (k < t->nleaves && t->leaves[k] != v)
		k++;
	if (k == t->nleaves) {
		assert(k < CHAIN_MAX_INPUTS);
		t->leaves[t->nleaves++] = v;
	}
	char b[16];
	snprintf(b, sizeof b, "x%d", k);
	put(t, b);
}

/* Builds the tree ending in node r and fuses it when it has two ops or
 * more. */
static void fuse_root(Graph *g, int *uses, bool *taken, NodeId r)
{
	Tree t = {.g = g, .uses = uses, .taken = taken};
	const Node *n = &g->nodes[r];
	t.shape = gval(g, n->out[0])->shape;
	t.taken[r] = true;
	t.nodes[t.nnodes++] = r;
	put(&t, op_name(n->op));
	put(&t, "(");
	operand(&t, n->in[0], n->nin - 1);
	if (n->nin == 2) {
		put(&t, ",");
		operand(&t, n->in[1], 0);
	}
	put(&t, ")");
	if (t.nnodes < 2)
		return;
	/* the use counts stay exact for the trees still to come */
	for (int k = 0; k < t.nnodes; k++)
		for (int j = 0; j < g->nodes[t.nodes[k]].nin; j++)
			uses[g->nodes[t.nodes[k]].in[j]]--;
	for (int k = 0; k < t.nleaves; k++)
		uses[t.leaves[k]]++;
	for (int k = 1; k < t.nnodes; k++)
		node_kill(g, t.nodes[k]);
	const char *base = n->name ? n->name : "";
	node_rewrite(g, r, OP_ElemChain, 1, t.leaves, t.nleaves, 1,
	             *base ? arena_printf(&g->arena, "%s.chain", base) : "");
	Attr *a = graph_add_attr(g, r, "expr", AK_STRING);
	a->s = arena_strdup(&g->arena, t.expr);
	a->slen = t.len;
}

bool pass_fuse_elementwise(Graph *g, Diag *d)
{
	int *uses = xcalloc((size_t)g->nvalues + 1, sizeof *uses);
	for (NodeId i = 0; i < g->nnodes; i++)
		for (int k = 0; k < g->nodes[i].nin && !g->nodes[i].dead; k++)
			if (g->nodes[i].in[k] != IR_NONE)
				uses[g->nodes[i].in[k]]++;
	bool *taken = xcalloc((size_t)g->nnodes + 1, sizeof *taken);
	bool ok = true;
	for (NodeId i = g->nnodes - 1; i >= 0 && ok; i--) {
		if (taken[i] || !eligible(g, i))
			continue;
		fuse_root(g, uses, taken, i);
		/* the shape rule checks what the lowering relies on */
		if (g->nodes[i].op == OP_ElemChain && !node_chain(g, i, d))
			ok = false;
	}
	free(taken);
	free(uses);
	return ok;
}

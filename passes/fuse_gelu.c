/* passes/fuse_gelu.c — the exported GELU formulas into one Gelu node
 * (Gelu-20, lowered by codegen/lower_elementwise.c).
 *
 * requires: shapes inferred (does nothing otherwise), constants folded,
 *           aliases removed
 * keeps:    topological order, value ids, graph outputs
 * breaks:   nothing; the chain's other nodes are left dead (run dce)
 *
 * erf form, nn.GELU() / F.gelu below opset 20:
 *   a = Div(x, √2)  |  Mul(x, 1/√2)  |  Mul(1/√2, x)
 *   c = Add(Erf(a), 1)  |  Add(1, Erf(a))
 *   z = x · c · 0.5                              -> Gelu(x)
 * tanh form, GELU(approximate='tanh') and GPT-style code:
 *   x3 = Pow(x, 3)  |  Mul(x, Mul(x, x))  (either operand order)
 *   i  = Mul(√(2/π), Add(x, Mul(0.044715, x3)))  (either operand orders)
 *   c  = Add(Tanh(i), 1)  |  Add(1, Tanh(i))
 *   z  = x · c · 0.5                             -> Gelu(x) {approximate="tanh"}
 * where "x · c · 0.5" is two binary Muls in any association and operand
 * order: (x·c)·0.5, (c·x)·0.5, (c·0.5)·x, (0.5·x)·c, ...  The scalars are
 * one-element float constants equal to the exporter's values within a
 * relative 1e-6 (1, 0.5, 2 and 3 exactly).  Every intermediate must have all
 * its uses inside the chain and not be a graph output; x must be a float
 * tensor whose shape every step keeps.  Otherwise nothing changes
 * (tests/passes/gelu_*.in hold the near misses).
 */
#include "pipeline.h"

#include <math.h>
#include <stddef.h>

#include "fuse.h"

#define REL 1e-6

typedef struct Chain {
	NodeId n[12];
	int len;
} Chain;

static void add(Chain *c, NodeId n)
{
	if (n != IR_NONE)
		c->n[c->len++] = n;
}

/* The live binary node producing v with op `op`, one operand being a
 * one-element constant within REL of want (or == want when rel is 0); the
 * other operand in *other. */
static Node *scaled(Graph *g, ValueId v, Op op, double want, double rel, ValueId *other)
{
	Node *n = producer_op(g, v, op);
	if (!n || n->nin != 2)
		return NULL;
	for (int k = 0; k < 2; k++) {
		if (op == OP_Div && k == 0)
			continue; /* x / c only */
		if (const_near(g, n->in[k], want, rel)) {
			*other = n->in[1 - k];
			return n;
		}
	}
	return NULL;
}

static NodeId id_of(Graph *g, const Node *n) { return n ? (NodeId)(n - g->nodes) : IR_NONE; }

static bool shape_of_x(Graph *g, ValueId v, ValueId x)
{
	return v != IR_NONE && shape_eq(&gval(g, v)->shape, &gval(g, x)->shape);
}

/* From c = Add(act, 1) (act the Erf/Tanh output) on: the product
 * x · c · 0.5.  Appends the Add and product nodes to ch; returns the node
 * computing the product (the chain's last) or IR_NONE. */
static NodeId product(Graph *g, const Uses *u, ValueId act, ValueId x, Chain *ch)
{
	NodeId a1 = uses_single(g, u, act);
	if (a1 == IR_NONE || g->nodes[a1].op != OP_Add ||
	    !const_near(g, other_input(&g->nodes[a1], act), 1.0, 0))
		return IR_NONE;
	ValueId c = g->nodes[a1].out[0];
	NodeId m1 = uses_single(g, u, c);
	if (m1 == IR_NONE || g->nodes[m1].op != OP_Mul || !shape_of_x(g, c, x))
		return IR_NONE;
	ValueId o = other_input(&g->nodes[m1], c), p1 = g->nodes[m1].out[0];
	add(ch, a1);
	add(ch, m1);
	if (o == c)
		return IR_NONE;
	if (o == x || const_near(g, o, 0.5, 0)) {
		/* (x·c)·0.5 or (0.5·c)·x */
		NodeId m2 = uses_single(g, u, p1);
		if (m2 == IR_NONE || g->nodes[m2].op != OP_Mul || !shape_of_x(g, p1, x))
			return IR_NONE;
		ValueId o2 = other_input(&g->nodes[m2], p1);
		bool ok = o == x ? const_near(g, o2, 0.5, 0) : o2 == x;
		if (!ok)
			return IR_NONE;
		add(ch, m2);
		return m2;
	}
	/* (x·0.5)·c: o = Mul(x, 0.5) used only here */
	ValueId xo;
	Node *h = scaled(g, o, OP_Mul, 0.5, 0, &xo);
	if (!h || xo != x || uses_single(g, u, o) != m1 || !shape_of_x(g, o, x))
		return IR_NONE;
	add(ch, id_of(g, h));
	return m1;
}

/* The single-use intermediate v of the chain (all uses inside). */
static bool only_use(Graph *g, const Uses *u, ValueId v, NodeId user)
{
	return uses_single(g, u, v) == user;
}

/* erf form around Erf node e. */
static NodeId match_erf(Graph *g, const Uses *u, NodeId e, ValueId *xp, Chain *ch)
{
	ValueId a = g->nodes[e].in[0], x;
	Node *sc = scaled(g, a, OP_Div, sqrt(2.0), REL, &x);
	if (!sc)
		sc = scaled(g, a, OP_Mul, sqrt(0.5), REL, &x);
	if (!sc || !only_use(g, u, a, e) || !shape_of_x(g, a, x))
		return IR_NONE;
	add(ch, id_of(g, sc));
	add(ch, e);
	*xp = x;
	return product(g, u, g->nodes[e].out[0], x, ch);
}

/* x³ as Pow(x, 3) or x·(x·x) in either order; *x out. */
static Node *cube(Graph *g, const Uses *u, ValueId v, ValueId *x, Chain *ch)
{
	ValueId b;
	Node *n = scaled(g, v, OP_Pow, 3.0, 0, &b);
	if (n) {
		if (n->in[0] != b)
			return NULL;
		*x = b;
		return n;
	}
	n = producer_op(g, v, OP_Mul);
	if (!n || n->nin != 2)
		return NULL;
	for (int k = 0; k < 2; k++) {
		Node *sq = producer_op(g, n->in[k], OP_Mul);
		ValueId o = n->in[1 - k];
		if (sq && sq->in[0] == o && sq->in[1] == o && only_use(g, u, n->in[k], id_of(g, n))) {
			add(ch, id_of(g, sq));
			*x = o;
			return n;
		}
	}
	return NULL;
}

/* tanh form around Tanh node t. */
static NodeId match_tanh(Graph *g, const Uses *u, NodeId t, ValueId *xp, Chain *ch)
{
	ValueId i = g->nodes[t].in[0], s, k3, x3, x, x2;
	Node *mb = scaled(g, i, OP_Mul, 0.79788456080286535588 /* sqrt(2/pi) */, REL, &s);
	if (!mb)
		return IR_NONE;
	Node *ad = producer_op(g, s, OP_Add);
	if (!ad || !only_use(g, u, i, t) || !only_use(g, u, s, id_of(g, mb)))
		return IR_NONE;
	for (int k = 0; k < 2; k++) {
		x = ad->in[k];
		k3 = ad->in[1 - k];
		Node *mk = scaled(g, k3, OP_Mul, 0.044715, REL, &x3);
		Chain sub = {.len = 0};
		Node *cb = mk ? cube(g, u, x3, &x2, &sub) : NULL;
		if (!cb || x2 != x || !only_use(g, u, k3, id_of(g, ad)) ||
		    !only_use(g, u, x3, id_of(g, mk)))
			continue;
		ValueId vals[] = {i, s, k3, x3};
		for (size_t j = 0; j < sizeof vals / sizeof vals[0]; j++)
			if (!shape_of_x(g, vals[j], x))
				return IR_NONE;
		for (int j = 0; j < sub.len; j++)
			add(ch, sub.n[j]);
		add(ch, id_of(g, cb));
		add(ch, id_of(g, mk));
		add(ch, id_of(g, ad));
		add(ch, id_of(g, mb));
		add(ch, t);
		*xp = x;
		return product(g, u, g->nodes[t].out[0], x, ch);
	}
	return IR_NONE;
}

bool pass_fuse_gelu(Graph *g, Diag *d)
{
	(void)d;
	if (!g->shapes_known)
		return true;
	Uses u;
	uses_build(g, &u);
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead || (n->op != OP_Erf && n->op != OP_Tanh))
			continue;
		Chain ch = {.len = 0};
		ValueId x = IR_NONE;
		bool is_tanh = n->op == OP_Tanh;
		NodeId last = is_tanh ? match_tanh(g, &u, i, &x, &ch) : match_erf(g, &u, i, &x, &ch);
		if (last == IR_NONE || !dtype_is_float(gval(g, x)->dtype) ||
		    !shape_of_x(g, g->nodes[last].out[0], x))
			continue;
		const char *name = fused_name(g, &g->nodes[ch.n[0]], &g->nodes[last], "Gelu");
		for (int j = 0; j < ch.len; j++)
			if (ch.n[j] != last)
				node_kill(g, ch.n[j]);
		node_rewrite(g, last, OP_Gelu, 20, &x, 1, 1, name);
		if (is_tanh) {
			Attr *a = graph_add_attr(g, last, "approximate", AK_STRING);
			a->s = "tanh";
			a->slen = 4;
		}
	}
	uses_free(&u);
	return true;
}

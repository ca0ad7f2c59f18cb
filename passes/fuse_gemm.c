/* passes/fuse_gemm.c — folds a Linear's bias, activation and residual add
 * into its MatMul: the GEMM kernel applies them to its register tile
 * before the one store (no pass over memory per elementwise op).
 *
 * requires: shapes inferred, constants folded, aliases removed
 * keeps:    topological order (the fused node takes the MatMul's place),
 *           value ids, graph output names
 * breaks:   nothing; the Add/Relu nodes are left dead for pass_dce
 *
 * Pattern (the exporter's Linear on a 2-D or 3-D input, then the block's
 * residual connection):
 *     y  = MatMul(x, W)            W a constant f32 [K, N]
 *     z  = Add(y, b) | Add(b, y)   b a constant f32 of N elements, [N] or [1,..,1,N]
 *     z' = Relu(z) | Gelu(z)       optional (Gelu: approximate "none" or "tanh",
 *                                  as fuse-gelu writes it)
 *     s  = Mul(z', c) | Mul(c, z') optional; c a constant f32 scalar, not 0
 *                                  (SReT's residual coefficients, an ODE
 *                                  step's weights)
 *     o  = Add(s, q) | Add(q, s)   optional; q = r or Mul(r, d) | Mul(d, r)
 *                                  (d a constant f32 scalar; that Mul used
 *                                  only here); r has o's shape (no
 *                                  broadcast) and is computed before the
 *                                  MatMul
 * becomes o = MatMulEpi(x, W, b, r) {act = "relu" | "gelu" | "gelu_tanh",
 * scale = c, beta = d}.  A Reshape of z' that keeps the last dim (N), read
 * only by the scale or residual step (SReT's window merge [G, n, C] ->
 * [1, G*n, C] before a x + b proj(..)), joins the tail when one of them
 * follows it: the rows are the same, so it moves onto x — x' =
 * Reshape(x) to the Reshape's shape with the last dim K, a view, inserted
 * before the GEMM — and s, q, r and o have the Reshape's shape.  Each of bias, activation, scale and residual is
 * optional, but at least one must be present.  Every intermediate must
 * have exactly one use and not be a graph output.  The epilogue rounds
 * after each step as the chain did (kernels.h), so the bits are the same.
 *
 * Then every weight of a GEMM (the constant f32 [K, N] B of a live MatMul,
 * MatMulEpi or Gemm) gets the layout panels (ir/layout.c): codegen packs
 * it into the micro-kernel's panels at compile time and reads it only
 * there.  A weight that something else also reads (or a Gemm reads
 * transposed while another GEMM does not) stays row-major for those
 * readers, and the GEMMs read a panels twin sharing its bytes
 * (layout_set_const).
 */
#include "pipeline.h"

#include <string.h>

#include "fuse.h"

/* The only live consumer of v (IR_NONE if v has 0 or several uses or is a
 * graph output). */
static NodeId sole_consumer(Graph *g, ValueId v)
{
	if (gval(g, v)->is_output)
		return IR_NONE;
	NodeId found = IR_NONE;
	for (NodeId i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == v) {
				if (found != IR_NONE)
					return IR_NONE;
				found = i;
			}
	}
	return found;
}

static bool is_f32_const(Graph *g, ValueId v)
{
	const Value *x = gval(g, v);
	return x->kind == VK_CONST && x->data && x->dtype == DT_F32 && shape_is_static(&x->shape);
}

/* For Add node a with one operand `from`: the other operand. */
static ValueId other_operand(const Node *a, ValueId from)
{
	if (a->nin != 2)
		return IR_NONE;
	if (a->in[0] == from && a->in[1] != from)
		return a->in[1];
	if (a->in[1] == from && a->in[0] != from)
		return a->in[0];
	return IR_NONE;
}

/* A bias for output shape ys: N elements, all leading dims 1. */
static bool is_bias(Graph *g, ValueId b, const Shape *ys)
{
	if (!is_f32_const(g, b))
		return false;
	const Shape *s = &gval(g, b)->shape;
	int64_t n = ys->dims[ys->rank - 1];
	if (s->rank < 1 || s->rank > ys->rank || s->dims[s->rank - 1] != n)
		return false;
	for (int i = 0; i < s->rank - 1; i++)
		if (s->dims[i] != 1)
			return false;
	return true;
}

/* v is a constant f32 scalar (any rank, one element): its value in *c. */
static bool scalar_const(Graph *g, ValueId v, float *c)
{
	if (!is_f32_const(g, v) || shape_numel(&gval(g, v)->shape) != 1)
		return false;
	*c = ((const float *)gval(g, v)->data)[0];
	return true;
}

/* Produced before node `before` (or an input / constant). */
static bool ready_before(Graph *g, ValueId v, NodeId before)
{
	NodeId p = gval(g, v)->producer;
	return p == IR_NONE || p < before;
}

static void kill(Graph *g, NodeId i)
{
	Node *n = &g->nodes[i];
	n->dead = true;
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] != IR_NONE && gval(g, n->out[k])->producer == i)
			gval(g, n->out[k])->producer = IR_NONE;
}

/* The scale and residual steps of the pattern, matched from e->cur (the
 * GEMM's output so far) for the GEMM node mi of output shape ys. */
typedef struct Tail {
	ValueId cur;
	float scale, beta;
	ValueId res;
	NodeId dead[6];
	int ndead;
	bool reshaped;          /* a Reshape keeping the rows joined: */
	Shape rs;               /* the shape of its output (the tail's) */
} Tail;

static void match_steps(Graph *g, NodeId mi, const Shape *ys, Tail *e)
{
	NodeId c = sole_consumer(g, e->cur);
	/* scale */
	if (c != IR_NONE && g->nodes[c].op == OP_Mul) {
		ValueId s = other_operand(&g->nodes[c], e->cur);
		float sc;
		if (s != IR_NONE && scalar_const(g, s, &sc) && sc != 0.0f &&
		    shape_eq(&gval(g, g->nodes[c].out[0])->shape, ys)) {
			e->scale = sc;
			e->dead[e->ndead++] = c;
			e->cur = g->nodes[c].out[0];
			c = sole_consumer(g, e->cur);
		}
	}
	/* residual, maybe scaled */
	if (c != IR_NONE && g->nodes[c].op == OP_Add) {
		ValueId r = other_operand(&g->nodes[c], e->cur);
		const Value *o = gval(g, g->nodes[c].out[0]);
		NodeId rm = r != IR_NONE ? gval(g, r)->producer : IR_NONE;
		float d = 1.0f;
		bool scaled = false;
		if (rm != IR_NONE && g->nodes[rm].op == OP_Mul && g->nodes[rm].nin == 2 && sole_consumer(g, r) == c) {
			/* q = Mul(r', d): d folds in when r' qualifies as the residual */
			const Node *q = &g->nodes[rm];
			for (int k = 0; k < 2 && !scaled; k++)
				if (scalar_const(g, q->in[1 - k], &d) && q->in[k] != q->in[1 - k] &&
				    gval(g, q->in[k])->dtype == DT_F32 && shape_eq(&gval(g, q->in[k])->shape, ys) &&
				    ready_before(g, q->in[k], mi)) {
					r = q->in[k];
					scaled = true;
				}
		}
		if (r != IR_NONE && gval(g, r)->dtype == DT_F32 && shape_eq(&gval(g, r)->shape, ys) &&
		    shape_eq(&o->shape, ys) && ready_before(g, r, mi)) {
			e->res = r;
			if (scaled) {
				e->beta = d;
				e->dead[e->ndead++] = rm;
			}
			e->dead[e->ndead++] = c;
			e->cur = g->nodes[c].out[0];
		}
	}
}

/* The tail's steps; with may_reshape, first a Reshape of e->cur keeping
 * the last dim, when a scale or residual follows it. */
static void match_tail(Graph *g, NodeId mi, const Shape *ys, Tail *e, bool may_reshape)
{
	NodeId c = sole_consumer(g, e->cur);
	if (may_reshape && c != IR_NONE && g->nodes[c].op == OP_Reshape && g->nodes[c].nout == 1 &&
	    g->nodes[c].in[0] == e->cur) {
		ValueId o = g->nodes[c].out[0];
		const Shape *os = &gval(g, o)->shape;
		if (gval(g, o)->dtype == DT_F32 && shape_is_static(os) && os->rank >= 2 &&
		    os->dims[os->rank - 1] == ys->dims[ys->rank - 1] && shape_numel(os) == shape_numel(ys)) {
			Tail t = *e;
			t.cur = o;
			t.dead[t.ndead++] = c;
			int n0 = t.ndead;
			match_steps(g, mi, os, &t);
			if (t.ndead > n0) {
				t.reshaped = true;
				t.rs = *os;
				*e = t;
				return;
			}
		}
	}
	match_steps(g, mi, ys, e);
}

/* Node mi, rewritten into a MatMulEpi, writes e->cur: the tail's nodes die,
 * res becomes input 3, scale and beta attributes. */
static void apply_tail(Graph *g, NodeId mi, ValueId y, const Tail *e)
{
	for (int k = 0; k < e->ndead; k++)
		kill(g, e->dead[k]);
	Node *m = &g->nodes[mi];
	gval(g, y)->producer = IR_NONE;
	m->out[0] = e->cur;
	gval(g, e->cur)->producer = mi;
	if (e->scale != 1.0f)
		graph_add_attr(g, mi, "scale", AK_FLOAT)->f = e->scale;
	if (e->beta != 1.0f)
		graph_add_attr(g, mi, "beta", AK_FLOAT)->f = e->beta;
}

static bool fuse_one(Graph *g, NodeId mi)
{
	Node *m = &g->nodes[mi];
	if (m->nin != 2 || m->nout != 1)
		return false;
	ValueId x = m->in[0], w = m->in[1], y = m->out[0];
	Value *yv = gval(g, y), *xv = gval(g, x);
	if (!is_f32_const(g, w) || gval(g, w)->shape.rank != 2 || xv->dtype != DT_F32 ||
	    xv->shape.rank < 2 || !shape_is_static(&yv->shape))
		return false;
	ValueId bias = IR_NONE;
	Tail e = {.cur = y, .scale = 1.0f, .beta = 1.0f, .res = IR_NONE};
	const char *act = NULL;
	NodeId c = sole_consumer(g, e.cur);
	/* bias */
	if (c != IR_NONE && g->nodes[c].op == OP_Add) {
		ValueId b = other_operand(&g->nodes[c], e.cur);
		const Value *o = gval(g, g->nodes[c].out[0]);
		if (b != IR_NONE && is_bias(g, b, &yv->shape) && shape_eq(&o->shape, &yv->shape)) {
			bias = b;
			e.dead[e.ndead++] = c;
			e.cur = g->nodes[c].out[0];
			c = sole_consumer(g, e.cur);
		}
	}
	/* activation */
	const char *gelu_ap = c != IR_NONE && g->nodes[c].op == OP_Gelu
	                      ? attr_string(&g->nodes[c], "approximate", "none") : NULL;
	if (c != IR_NONE && (g->nodes[c].op == OP_Relu ||
	                     (gelu_ap && (!strcmp(gelu_ap, "none") || !strcmp(gelu_ap, "tanh"))))) {
		act = g->nodes[c].op == OP_Relu ? "relu" : !strcmp(gelu_ap, "tanh") ? "gelu_tanh" : "gelu";
		e.dead[e.ndead++] = c;
		e.cur = g->nodes[c].out[0];
	}
	match_tail(g, mi, &yv->shape, &e, true);
	if (e.ndead == 0)
		return false;
	/* The final value is written by the fused node in the MatMul's place. */
	ValueId ins[4] = {x, w, bias, e.res};
	m = &g->nodes[mi];
	m->in = arena_dup(&g->arena, ins, sizeof ins);
	m->nin = e.res != IR_NONE ? 4 : bias != IR_NONE ? 3 : 2;
	m->op = OP_MatMulEpi;
	m->op_type = "MatMulEpi";
	m->domain = "onnxcc";
	if (act) {
		Attr *a = graph_add_attr(g, mi, "act", AK_STRING);
		a->s = act;
		a->slen = strlen(act);
	}
	apply_tail(g, mi, y, &e);
	if (e.reshaped) {
		/* x viewed with the tail's rows: Reshape(x) inserted before the GEMM */
		Shape as = e.rs;
		as.dims[as.rank - 1] = gval(g, w)->shape.dims[0];
		int64_t sd[1] = {as.rank};
		Shape ss = shape_make(1, sd);
		ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, as.dims);
		ValueId xr = graph_add_value(g, NULL, DT_F32, &as);
		ValueId rin[2] = {x, shp};
		const char *name = arena_printf(&g->arena, "%s.rows", g->nodes[mi].name ? g->nodes[mi].name : "gemm");
		NodeId r = graph_insert_node(g, mi, OP_Reshape, "Reshape", name, rin, 2, &xr, 1);
		g->nodes[r].opset = 14;
		g->nodes[mi + 1].in[0] = xr;
	}
	return true;
}

bool fuse_gemm_tail(Graph *g, NodeId mi)
{
	Node *m = &g->nodes[mi];
	if (m->dead || m->op != OP_MatMulEpi || m->nout != 1 || m->out[0] == IR_NONE || node_attr(m, "scale") ||
	    node_attr(m, "beta") || (m->nin > 3 && m->in[3] != IR_NONE))
		return false;
	ValueId y = m->out[0];
	Shape ys = gval(g, y)->shape;
	if (gval(g, y)->dtype != DT_F32 || !shape_is_static(&ys))
		return false;
	Tail e = {.cur = y, .scale = 1.0f, .beta = 1.0f, .res = IR_NONE};
	/* with rows, a Reshape of the output keeping its rows is a new a_shape */
	bool rows = m->nin > 4 && m->in[4] != IR_NONE && node_attr(m, "a_shape");
	match_tail(g, mi, &ys, &e, rows);
	if (e.ndead == 0)
		return false;
	if (e.reshaped) {
		const Attr *a = node_attr(m, "a_shape");
		int64_t K = a->ints[a->n - 1];
		int64_t *d = arena_dup(&g->arena, e.rs.dims, sizeof(int64_t) * (size_t)e.rs.rank);
		d[e.rs.rank - 1] = K;
		for (int k = 0; k < m->nattr; k++)
			if (!strcmp(m->attrs[k].name, "a_shape")) {
				m->attrs[k].ints = d;
				m->attrs[k].n = e.rs.rank;
			}
	}
	if (e.res != IR_NONE) {
		ValueId ins[5] = {IR_NONE, IR_NONE, IR_NONE, IR_NONE, IR_NONE};
		int nin = m->nin > 4 ? m->nin : 4;
		for (int k = 0; k < m->nin; k++)
			ins[k] = m->in[k];
		ins[3] = e.res;
		m->in = arena_dup(&g->arena, ins, sizeof(ValueId) * (size_t)nin);
		m->nin = nin;
	}
	apply_tail(g, mi, y, &e);
	return true;
}

/* Gives the constant B of GEMM node i the panels layout. */
static void weight_panels(Graph *g, NodeId i)
{
	Node *n = &g->nodes[i];
	if (n->nin < 2 || n->in[1] == IR_NONE)
		return;
	const Value *b = gval(g, n->in[1]);
	if (b->kind != VK_CONST || !b->data || b->dtype != DT_F32 || b->shape.rank != 2 ||
	    !layout_reader_ok(g, n, 1, LAYOUT_PANELS))
		return;
	layout_set_const(g, n->in[1], i, 1, LAYOUT_PANELS);
}

bool pass_fuse_gemm(Graph *g, Diag *d)
{
	(void)d;
	for (NodeId i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].dead && g->nodes[i].op == OP_MatMul)
			fuse_one(g, i);
	for (NodeId i = 0; i < g->nnodes; i++) {
		Op op = g->nodes[i].op;
		if (!g->nodes[i].dead && (op == OP_MatMul || op == OP_MatMulEpi || op == OP_Gemm))
			weight_panels(g, i);
	}
	return true;
}

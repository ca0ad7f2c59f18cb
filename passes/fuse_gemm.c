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
 * scale = c, beta = d}.  Each of bias, activation, scale and residual is
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
	ValueId bias = IR_NONE, res = IR_NONE, cur = y;
	float scale = 1.0f, beta = 1.0f;
	NodeId dead[5];
	int ndead = 0;
	const char *act = NULL;
	NodeId c = sole_consumer(g, cur);
	/* bias */
	if (c != IR_NONE && g->nodes[c].op == OP_Add) {
		ValueId b = other_operand(&g->nodes[c], cur);
		const Value *o = gval(g, g->nodes[c].out[0]);
		if (b != IR_NONE && is_bias(g, b, &yv->shape) && shape_eq(&o->shape, &yv->shape)) {
			bias = b;
			dead[ndead++] = c;
			cur = g->nodes[c].out[0];
			c = sole_consumer(g, cur);
		}
	}
	/* activation */
	const char *gelu_ap = c != IR_NONE && g->nodes[c].op == OP_Gelu
	                      ? attr_string(&g->nodes[c], "approximate", "none") : NULL;
	if (c != IR_NONE && (g->nodes[c].op == OP_Relu ||
	                     (gelu_ap && (!strcmp(gelu_ap, "none") || !strcmp(gelu_ap, "tanh"))))) {
		act = g->nodes[c].op == OP_Relu ? "relu" : !strcmp(gelu_ap, "tanh") ? "gelu_tanh" : "gelu";
		dead[ndead++] = c;
		cur = g->nodes[c].out[0];
		c = sole_consumer(g, cur);
	}
	/* scale */
	if (c != IR_NONE && g->nodes[c].op == OP_Mul) {
		ValueId s = other_operand(&g->nodes[c], cur);
		float sc;
		if (s != IR_NONE && scalar_const(g, s, &sc) && sc != 0.0f &&
		    shape_eq(&gval(g, g->nodes[c].out[0])->shape, &yv->shape)) {
			scale = sc;
			dead[ndead++] = c;
			cur = g->nodes[c].out[0];
			c = sole_consumer(g, cur);
		}
	}
	/* residual, maybe scaled */
	if (c != IR_NONE && g->nodes[c].op == OP_Add) {
		ValueId r = other_operand(&g->nodes[c], cur);
		const Value *o = gval(g, g->nodes[c].out[0]);
		NodeId rm = r != IR_NONE ? gval(g, r)->producer : IR_NONE;
		float d = 1.0f;
		bool scaled = false;
		if (rm != IR_NONE && g->nodes[rm].op == OP_Mul && g->nodes[rm].nin == 2 && sole_consumer(g, r) == c) {
			/* q = Mul(r', d): d folds in when r' qualifies as the residual */
			const Node *q = &g->nodes[rm];
			for (int k = 0; k < 2 && !scaled; k++)
				if (scalar_const(g, q->in[1 - k], &d) && q->in[k] != q->in[1 - k] &&
				    gval(g, q->in[k])->dtype == DT_F32 && shape_eq(&gval(g, q->in[k])->shape, &yv->shape) &&
				    ready_before(g, q->in[k], mi)) {
					r = q->in[k];
					scaled = true;
				}
		}
		if (r != IR_NONE && gval(g, r)->dtype == DT_F32 && shape_eq(&gval(g, r)->shape, &yv->shape) &&
		    shape_eq(&o->shape, &yv->shape) && ready_before(g, r, mi)) {
			res = r;
			if (scaled) {
				beta = d;
				dead[ndead++] = rm;
			}
			dead[ndead++] = c;
			cur = g->nodes[c].out[0];
		}
	}
	if (ndead == 0)
		return false;
	/* The final value is written by the fused node in the MatMul's place. */
	ValueId ins[4] = {x, w, bias, res};
	m = &g->nodes[mi];
	m->in = arena_dup(&g->arena, ins, sizeof ins);
	m->nin = res != IR_NONE ? 4 : bias != IR_NONE ? 3 : 2;
	m->op = OP_MatMulEpi;
	m->op_type = "MatMulEpi";
	m->domain = "onnxcc";
	for (int k = 0; k < ndead; k++)
		kill(g, dead[k]);
	gval(g, y)->producer = IR_NONE;
	m->out[0] = cur;
	gval(g, cur)->producer = mi;
	if (act) {
		Attr *a = graph_add_attr(g, mi, "act", AK_STRING);
		a->s = act;
		a->slen = strlen(act);
	}
	if (scale != 1.0f)
		graph_add_attr(g, mi, "scale", AK_FLOAT)->f = scale;
	if (beta != 1.0f)
		graph_add_attr(g, mi, "beta", AK_FLOAT)->f = beta;
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

/* passes/fuse_relattention.c — Transformer-XL's relative attention as one
 * onnxcc::RelAttention node (ir/ops.def states its semantics).
 *
 * requires: shapes inferred, constants folded (the zero column, the Slice
 *           bounds and the scale are constants), aliases removed
 * keeps:    topological order (the fused node takes the place of the last
 *           Einsum, after every value it reads), value ids, graph outputs
 * breaks:   nothing; leaves dead nodes and unused constants for pass_dce
 *
 * Pattern (what PyTorch exports for the Transformer-XL attention of
 * ../shared/docs/model-families.md, opsets 13-17; every intermediate used
 * once, by the next node, and not a graph output; all f32; equations equal
 * up to the names of their letters):
 *     ac  = Einsum(qw, k)  'ibnd,jbnd->ijbn'        qw [Q,B,H,D], k [L,B,H,D]
 *     bd  = Einsum(qr, r)  'ibnd,jnd->ijbn'         qr [Q,B,H,D], r [L,H,D]
 *     pad = Concat(zeros, bd) {axis=1}              zeros: constant +0 [Q,1,B,H]
 *     x1  = Reshape(pad) -> [L+1,Q,B,H]
 *     x2  = Slice(x1) = x1[1:] on axis 0 (constant bounds, steps 1, other
 *           axes whole)
 *     bds = Reshape(x2) -> [Q,L,B,H]
 *     s   = Add(ac, bds) | Add(bds, ac)
 *     s   = Mul(s, c) | Mul(c, s) | Div(s, c)       optional, c a scalar constant
 *     s   = Where(mask, fill, s)                    optional, mask bool, fill a
 *                                                   scalar constant, shape kept
 *     p   = Softmax(s) {axis=1}                     opset >= 13
 *     o   = Einsum(p, v)   'ijbn,jbnd->ibnd'        v [L,B,H,Dv]
 * with Q <= L and shapes exactly these (no broadcasting inside the
 * Einsums).  o's Einsum becomes RelAttention(qw, qr, k, r, v, [mask])
 * {scale, fill}; the rest dies.  Anything else is left unchanged, and so
 * is attention over more than RELATTN_MAX_KEYS keys (the lowering keeps
 * 2R + 1 rows of L scores on the stack, R >= 1).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define RELATTN_MAX_KEYS 8192

/* The Einsum equation of n with its letters renamed a, b, c, ... in order
 * of first appearance and spaces removed equals `want`. */
static bool equation_is(const Node *n, const char *want)
{
	const char *eq = attr_string(n, "equation", NULL);
	if (!eq)
		return false;
	char map[128] = {0}, next = 'a', buf[64];
	size_t k = 0;
	for (const char *p = eq; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == ' ')
			continue;
		if (k + 1 >= sizeof buf || ch >= 128)
			return false;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
			if (!map[ch])
				map[ch] = next++;
			buf[k++] = map[ch];
		} else if (ch == ',' || ch == '-' || ch == '>') {
			buf[k++] = (char)ch;
		} else {
			return false; /* "..." or anything else */
		}
	}
	buf[k] = 0;
	return !strcmp(buf, want);
}

static bool is_f32(Graph *g, ValueId v)
{
	return v != IR_NONE && gval(g, v)->dtype == DT_F32;
}

static bool has_dims(Graph *g, ValueId v, int rank, const int64_t *dims)
{
	const Shape *s = &gval(g, v)->shape;
	if (s->rank != rank)
		return false;
	for (int i = 0; i < rank; i++)
		if (s->dims[i] != dims[i])
			return false;
	return true;
}

/* The sole producer of v (v used once, not a graph output) if it is a
 * live `op` node with v as its first output. */
static Node *sole(Graph *g, const Uses *u, ValueId v, Op op)
{
	if (v == IR_NONE || uses_single(g, u, v) == IR_NONE)
		return NULL;
	Node *n = producer_op(g, v, op);
	return n && n->nout >= 1 && n->out[0] == v ? n : NULL;
}

/* Element i of integer constant v (rank <= 1), or false. */
static bool const_int_at(Graph *g, ValueId v, int64_t i, int64_t *out)
{
	if (v == IR_NONE)
		return false;
	Value *c = gval(g, v);
	if (c->kind != VK_CONST || !c->data || (c->dtype != DT_I64 && c->dtype != DT_I32) ||
	    c->shape.rank > 1 || i >= shape_numel(&c->shape))
		return false;
	*out = value_get_int(c, i);
	return true;
}

/* Slice-13 n takes row 0 off axis 0 of its [L+1, ...] input and keeps the
 * other axes whole (constant starts/ends/axes/steps, steps 1). */
static bool drops_first_row(Graph *g, const Node *n)
{
	if (n->nin < 3)
		return false;
	const Shape *s = &gval(g, n->in[0])->shape;
	int64_t cnt = shape_numel(&gval(g, n->in[1])->shape);
	if (cnt < 1 || cnt > s->rank || shape_numel(&gval(g, n->in[2])->shape) != cnt)
		return false;
	bool axis0 = false;
	for (int64_t i = 0; i < cnt; i++) {
		int64_t st, en, ax = i, step = 1;
		if (!const_int_at(g, n->in[1], i, &st) || !const_int_at(g, n->in[2], i, &en))
			return false;
		if (n->nin > 3 && n->in[3] != IR_NONE && !const_int_at(g, n->in[3], i, &ax))
			return false;
		if (n->nin > 4 && n->in[4] != IR_NONE && !const_int_at(g, n->in[4], i, &step))
			return false;
		if (ax < 0)
			ax += s->rank;
		if (ax < 0 || ax >= s->rank || step != 1)
			return false;
		int64_t d = s->dims[ax];
		if (st < 0)
			st += d;
		if (en < 0)
			en += d;
		st = st < 0 ? 0 : st > d ? d : st;
		en = en < 0 ? 0 : en > d ? d : en;
		if (ax == 0) {
			if (axis0 || st != 1 || en != d)
				return false;
			axis0 = true;
		} else if (st != 0 || en != d) {
			return false;
		}
	}
	return axis0;
}

/* Every element of constant v is +0.0 (f32). */
static bool const_pos_zeros(Graph *g, ValueId v)
{
	Value *c = gval(g, v);
	if (c->kind != VK_CONST || !c->data || c->dtype != DT_F32)
		return false;
	const float *x = c->data;
	for (int64_t i = 0; i < shape_numel(&c->shape); i++)
		if (x[i] != 0.0f || signbit(x[i]))
			return false;
	return true;
}

/* Tries the pattern around Softmax node smi; true when fused, *err after a
 * diagnostic. */
static bool fuse_at(Graph *g, const Uses *u, NodeId smi, Diag *d, bool *err)
{
	Node *sm = &g->nodes[smi];
	if (sm->nin != 1 || sm->nout != 1 || sm->opset < 13 || !is_f32(g, sm->in[0]))
		return false;
	const Shape *ss = &gval(g, sm->in[0])->shape;
	int64_t ax = attr_int(sm, "axis", -1);
	if (ss->rank != 4 || (ax != 1 && ax != -3))
		return false;
	int64_t Q = ss->dims[0], L = ss->dims[1], B = ss->dims[2], H = ss->dims[3];
	if (Q > L || Q < 1 || L > RELATTN_MAX_KEYS)
		return false;
	NodeId mi = uses_single(g, u, sm->out[0]);
	if (mi == IR_NONE)
		return false;
	Node *mm2 = &g->nodes[mi];
	if (mm2->op != OP_Einsum || mm2->nin != 2 || mm2->in[0] != sm->out[0] ||
	    !equation_is(mm2, "abcd,bcde->acde"))
		return false;
	ValueId v = mm2->in[1];
	if (!is_f32(g, v) || gval(g, v)->shape.rank != 4)
		return false;
	int64_t Dv = gval(g, v)->shape.dims[3];
	int64_t vd[4] = {L, B, H, Dv};
	if (!has_dims(g, v, 4, vd))
		return false;

	Node *kill[12];
	int nkill = 0;
	kill[nkill++] = sm;
	ValueId s = sm->in[0], mask = IR_NONE;
	double fill = -INFINITY, scale = 1.0;
	Node *w = sole(g, u, s, OP_Where);
	if (w && w->nin == 3 && gval(g, w->in[0])->dtype == DT_BOOL && const_scalar(g, w->in[1], &fill) &&
	    is_f32(g, w->in[1]) && shape_eq(&gval(g, w->in[2])->shape, ss)) {
		mask = w->in[0];
		s = w->in[2];
		kill[nkill++] = w;
	}
	Node *m = sole(g, u, s, OP_Mul);
	if (!m)
		m = sole(g, u, s, OP_Div);
	if (m && m->nin == 2) {
		for (int k = 0; k < 2; k++) {
			double c;
			if (m->op == OP_Div && k == 1)
				break;
			if (!is_f32(g, m->in[1 - k]) || !const_scalar(g, m->in[1 - k], &c) ||
			    !shape_eq(&gval(g, m->in[k])->shape, ss) || (m->op == OP_Div && c == 0))
				continue;
			scale = m->op == OP_Div ? 1.0 / c : c;
			s = m->in[k];
			kill[nkill++] = m;
			break;
		}
	}
	Node *add = sole(g, u, s, OP_Add);
	if (!add || add->nin != 2)
		return false;
	kill[nkill++] = add;
	Node *ac = NULL, *bds = NULL;
	for (int k = 0; k < 2 && !ac; k++) {
		Node *a = sole(g, u, add->in[k], OP_Einsum);
		Node *r2 = sole(g, u, add->in[1 - k], OP_Reshape);
		if (a && r2 && a->nin == 2 && equation_is(a, "abcd,ebcd->aebc"))
			ac = a, bds = r2;
	}
	if (!ac || !has_dims(g, ac->out[0], 4, ss->dims) || !has_dims(g, bds->out[0], 4, ss->dims))
		return false;
	kill[nkill++] = ac;
	kill[nkill++] = bds;
	int64_t d2[4] = {L, Q, B, H}, d1[4] = {L + 1, Q, B, H}, dc[4] = {Q, L + 1, B, H};
	Node *sl = sole(g, u, bds->in[0], OP_Slice);
	if (!sl || !has_dims(g, sl->out[0], 4, d2) || !drops_first_row(g, sl))
		return false;
	kill[nkill++] = sl;
	Node *r1 = sole(g, u, sl->in[0], OP_Reshape);
	if (!r1 || !has_dims(g, r1->out[0], 4, d1))
		return false;
	kill[nkill++] = r1;
	Node *cat = sole(g, u, r1->in[0], OP_Concat);
	int64_t cax = cat ? attr_int(cat, "axis", 0) : 0;
	if (!cat || cat->nin != 2 || (cax != 1 && cax != -3) || !has_dims(g, cat->out[0], 4, dc))
		return false;
	kill[nkill++] = cat;
	int64_t zd[4] = {Q, 1, B, H};
	Node *bd = sole(g, u, cat->in[1], OP_Einsum);
	if (!has_dims(g, cat->in[0], 4, zd) || !const_pos_zeros(g, cat->in[0]) || !bd || bd->nin != 2 ||
	    !equation_is(bd, "abcd,ecd->aebc") || !has_dims(g, bd->out[0], 4, ss->dims))
		return false;
	kill[nkill++] = bd;
	ValueId qw = ac->in[0], k = ac->in[1], qr = bd->in[0], r = bd->in[1];
	int64_t D = gval(g, qw)->shape.dims[gval(g, qw)->shape.rank - 1];
	int64_t qd[4] = {Q, B, H, D}, kd[4] = {L, B, H, D}, rd[3] = {L, H, D};
	if (!is_f32(g, qw) || !is_f32(g, qr) || !is_f32(g, k) || !is_f32(g, r) || !has_dims(g, qw, 4, qd) ||
	    !has_dims(g, qr, 4, qd) || !has_dims(g, k, 4, kd) || !has_dims(g, r, 3, rd))
		return false;
	assert(nkill <= 12);

	for (int i = 0; i < nkill; i++)
		node_kill(g, (NodeId)(kill[i] - g->nodes));
	ValueId in[6] = {qw, qr, k, r, v, mask};
	const char *name = fused_name(g, ac, mm2, "RelAttention");
	node_rewrite(g, mi, OP_RelAttention, 1, in, mask != IR_NONE ? 6 : 5, 1, name);
	graph_add_attr(g, mi, "scale", AK_FLOAT)->f = (float)scale;
	if (mask != IR_NONE)
		graph_add_attr(g, mi, "fill", AK_FLOAT)->f = (float)fill;
	Shape want = gval(g, g->nodes[mi].out[0])->shape;
	return fuse_infer(g, mi, &want, d, err);
}

bool pass_fuse_relattention(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	return fuse_each(g, OP_Softmax, fuse_at, d);
}

/* passes/fuse_remap.c — a DAG of pure data movement becomes one index
 * remap of rows (onnxcc::GatherRows): Swin's roll (Slice+Concat pairs),
 * window partition and reverse (Reshape -> 6-D Transpose -> Reshape), the
 * strided Slices + Concat of patch merging, a qkv Transpose + Gather.
 *
 * requires: shapes inferred, constants folded; run after fuse-transpose
 *           and fuse-dwconv (they read Transposes this pass would absorb)
 * keeps:    topological order (the fused node takes the place of the DAG's
 *           last node, its sink: after every value the DAG reads), value
 *           ids, graph outputs
 * breaks:   nothing; leaves dead nodes (and unused constants) for pass_dce
 *
 * Movement ops: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Transpose,
 * Slice, Concat, Gather (constant indices) and Pad whose pads are all zero
 * (an identity; torchvision pads windows by zero when sizes divide), their
 * non-data inputs (shape, starts, axes, indices, pads) constants.  From the
 * last node backwards, each movement node not yet taken is the sink of a
 * DAG grown backwards over producers that are movement ops and whose
 * output is read only inside the DAG (never a graph output).  The DAG is
 * fused when it reads exactly one value X (possibly several times), has at
 * least two nodes of which one copies (not only Reshape-likes), and X has
 * at most FOLD_MAX_OUT_ELEMS elements.
 *
 * The index map is not derived per op: the DAG is copied into a scratch
 * graph whose X is the constant 0, 1, ..., numel(X)-1 (i32) and evaluated
 * by the constant folder, so every op has exactly its ONNX semantics.  The
 * sink's folded output o names, for each output element, the X element it
 * copies.  The row length u is the largest that splits o into aligned runs:
 * u = gcd(numel X, numel Y, every position k where a run of consecutive
 * values breaks, o[k] there).  With u * element size >= 16 bytes, the
 * sink becomes GatherRows(X, idx) {shape = Y's} with idx[r] = o[r*u] / u
 * (i32); an identity map (every row in place, sizes equal) becomes a
 * Reshape (a view).  A DAG that differs — two sources, a value used
 * outside, a Transpose that moves the last axis so rows are single
 * elements, a non-constant index — is left unchanged.
 */
#include "pipeline.h"
#include "fold.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DAG 64

/* True if constant input k of n holds only zeros. */
static bool zero_ints(Graph *g, const Node *n, int k)
{
	if (k >= n->nin || n->in[k] == IR_NONE)
		return false;
	Value *v = gval(g, n->in[k]);
	if (v->kind != VK_CONST || !dtype_is_int(v->dtype))
		return false;
	int64_t cnt = shape_numel(&v->shape);
	if (cnt > 0 && !v->data)
		return false;
	for (int64_t i = 0; i < cnt; i++)
		if (value_get_int(v, i) != 0)
			return false;
	return true;
}

/* Pad with all pads zero: an identity (Pad-2: attribute; Pad-11+: input 1). */
static bool zero_pad(Graph *g, const Node *n)
{
	if (n->opset >= 11 || n->nin > 1)
		return zero_ints(g, n, 1);
	const int64_t *p;
	int k = attr_ints(n, "pads", &p);
	if (k < 0)
		return false;
	for (int i = 0; i < k; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static bool data_slot(const Node *n, int k)
{
	return n->op == OP_Concat || k == 0;
}

/* n moves data only, and every input that is not data is a constant. */
static bool is_move(Graph *g, const Node *n)
{
	if (n->dead || n->nout != 1 || n->out[0] == IR_NONE)
		return false;
	switch (n->op) {
	case OP_Reshape: case OP_Flatten: case OP_Squeeze: case OP_Unsqueeze: case OP_Identity:
	case OP_Transpose: case OP_Slice: case OP_Concat: case OP_Gather:
		break;
	case OP_Pad:
		if (!zero_pad(g, n))
			return false;
		break;
	default:
		return false;
	}
	for (int k = 0; k < n->nin; k++) {
		if (n->in[k] == IR_NONE)
			continue;
		Value *v = gval(g, n->in[k]);
		if (!shape_is_static(&v->shape))
			return false;
		if (!data_slot(n, k) && (v->kind != VK_CONST || (!v->data && shape_numel(&v->shape) > 0)))
			return false;
	}
	return true;
}

/* Copies data (as opposed to a Reshape-like view). */
static bool copies(Op op)
{
	return op == OP_Transpose || op == OP_Slice || op == OP_Concat || op == OP_Gather || op == OP_Pad;
}

typedef struct Dag {
	NodeId n[MAX_DAG];
	int k;
} Dag;

static bool in_dag(const Dag *s, NodeId id)
{
	for (int i = 0; i < s->k; i++)
		if (s->n[i] == id)
			return true;
	return false;
}

/* Every use of v is by a node of s (and v is not a graph output). */
static bool used_inside(Graph *g, const Uses *u, ValueId v, const Dag *s)
{
	if (gval(g, v)->is_output || v >= u->nvalues)
		return false;
	for (int j = u->off[v]; j < u->off[v + 1]; j++) {
		NodeId m = u->node[j];
		if (!g->nodes[m].dead && !in_dag(s, m))
			return false;
	}
	return true;
}

/* Grows the DAG of sink backwards to its fixpoint. */
static void grow(Graph *g, const Uses *u, NodeId sink, Dag *s)
{
	s->k = 0;
	s->n[s->k++] = sink;
	bool changed = true;
	while (changed && s->k < MAX_DAG) {
		changed = false;
		for (int i = 0; i < s->k && s->k < MAX_DAG; i++) {
			Node *m = &g->nodes[s->n[i]];
			for (int k = 0; k < m->nin && s->k < MAX_DAG; k++) {
				ValueId v = m->in[k];
				if (v == IR_NONE || !data_slot(m, k))
					continue;
				NodeId p = gval(g, v)->producer;
				if (p == IR_NONE || in_dag(s, p) || !is_move(g, &g->nodes[p]) || !used_inside(g, u, v, s))
					continue;
				s->n[s->k++] = p;
				changed = true;
			}
		}
	}
}

static int cmp_id(const void *a, const void *b)
{
	NodeId x = *(const NodeId *)a, y = *(const NodeId *)b;
	return x < y ? -1 : x > y;
}

/* Evaluates the DAG (sorted, sink last) on X = 0, 1, ..., numel-1 in a
 * scratch graph; returns the sink's output as a malloc'd array of numel(Y)
 * source positions, or NULL when the folder does not evaluate it. */
static int64_t *eval_map(Graph *g, const Dag *s, ValueId x)
{
	Graph *t = graph_new(g->path);
	Diag d;
	diag_init(&d, g->path, false);
	ValueId *map = xmalloc(sizeof *map * (size_t)g->nvalues);
	for (int i = 0; i < g->nvalues; i++)
		map[i] = IR_NONE;
	int64_t nx = shape_numel(&gval(g, x)->shape);
	int32_t *ids = xmalloc(sizeof *ids * (size_t)(nx ? nx : 1));
	for (int64_t i = 0; i < nx; i++)
		ids[i] = (int32_t)i;
	map[x] = graph_add_const(t, "x", DT_I32, &gval(g, x)->shape, ids);
	free(ids);
	int64_t *out = NULL;
	ValueId last = IR_NONE;
	for (int i = 0; i < s->k; i++) {
		const Node *n = &g->nodes[s->n[i]];
		ValueId in[8];
		int nin = n->op == OP_Pad ? 1 : n->nin;
		if (nin > 8)
			goto done;
		for (int k = 0; k < nin; k++) {
			ValueId v = n->in[k];
			if (v == IR_NONE) {
				in[k] = IR_NONE;
			} else if (map[v] != IR_NONE) {
				in[k] = map[v];
			} else {
				Value *c = gval(g, v);
				if (c->kind != VK_CONST)
					goto done; /* a second data source */
				static const char zero[16];
				in[k] = graph_add_const(t, NULL, c->dtype, &c->shape, c->data ? c->data : zero);
			}
		}
		ValueId o = graph_add_value(t, NULL, DT_UNDEF, NULL);
		Op op = n->op == OP_Pad ? OP_Identity : n->op;
		NodeId id = graph_add_node(t, op, op_name(op), n->name, in, nin, &o, 1);
		Node *m = &t->nodes[id];
		m->domain = "";
		m->opset = op == OP_Identity ? 16 : n->opset;
		if (n->op != OP_Pad) {
			m->attrs = n->attrs;
			m->nattr = n->nattr;
		}
		if (!pass_infer_node(t, id, &d) || !pass_fold_node(t, id, &d) || gval(t, o)->kind != VK_CONST)
			goto done;
		map[n->out[0]] = o;
		last = o;
	}
	{
		Value *r = gval(t, last);
		int64_t ny = shape_numel(&r->shape);
		out = xmalloc(sizeof *out * (size_t)(ny ? ny : 1));
		for (int64_t i = 0; i < ny; i++)
			out[i] = value_get_int(r, i);
	}
done:
	free(map);
	diag_free(&d);
	graph_free(t);
	return out;
}

static int64_t gcd(int64_t a, int64_t b)
{
	while (b) {
		int64_t r = a % b;
		a = b;
		b = r;
	}
	return a;
}

/* Tries the DAG whose sink is node `sink`; true when it fused. */
static bool fuse_at(Graph *g, const Uses *u, NodeId sink, Diag *d, bool *err)
{
	Dag s;
	grow(g, u, sink, &s);
	if (s.k < 2)
		return false;
	qsort(s.n, (size_t)s.k, sizeof s.n[0], cmp_id);
	assert(s.n[s.k - 1] == sink);
	/* one data source, one copying op at least */
	ValueId x = IR_NONE;
	bool copy = false;
	for (int i = 0; i < s.k; i++) {
		const Node *n = &g->nodes[s.n[i]];
		copy |= copies(n->op);
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			if (v == IR_NONE || !data_slot(n, k))
				continue;
			NodeId p = gval(g, v)->producer;
			if (p != IR_NONE && in_dag(&s, p))
				continue;
			if (x != IR_NONE && x != v)
				return false;
			x = v;
		}
	}
	if (!copy || x == IR_NONE)
		return false;
	Value *xv = gval(g, x);
	ValueId yid = g->nodes[sink].out[0];
	int64_t nx = shape_numel(&xv->shape), ny = shape_numel(&gval(g, yid)->shape);
	size_t es = dtype_size(xv->dtype);
	if (nx <= 0 || ny <= 0 || nx > FOLD_MAX_OUT_ELEMS || es == 0)
		return false;
	int64_t *o = eval_map(g, &s, x);
	if (!o)
		return false;
	int64_t uu = gcd(nx, ny);
	for (int64_t k = 0; k < ny && uu > 1; k++)
		if (k == 0 || o[k] != o[k - 1] + 1)
			uu = gcd(gcd(uu, k), o[k]);
	if (uu * (int64_t)es < 16) {
		free(o);
		return false;
	}
	int64_t R = ny / uu;
	int32_t *idx = xmalloc(sizeof *idx * (size_t)R);
	int32_t lo = INT32_MAX, hi = -1;
	for (int64_t r = 0; r < R; r++) {
		idx[r] = (int32_t)(o[r * uu] / uu);
		lo = idx[r] < lo ? idx[r] : lo;
		hi = idx[r] > hi ? idx[r] : hi;
	}
	free(o);
	/* rows all from one input of a Concat (Transformer-XL's new memory: the
	 * segment's half of cat(memory, segment)): read that input */
	int64_t off;
	ValueId part = concat_part(g, x, (int64_t)lo * uu, ((int64_t)hi - lo + 1) * uu, &off);
	if (part != IR_NONE && off % uu == 0) {
		x = part;
		nx = shape_numel(&gval(g, x)->shape);
		for (int64_t r = 0; r < R; r++)
			idx[r] -= (int32_t)(off / uu);
	}
	bool identity = ny == nx;
	for (int64_t r = 0; r < R && identity; r++)
		identity = idx[r] == r;

	Node *sn = &g->nodes[sink];
	const char *name = arena_printf(&g->arena, "%s.remap", sn->name && sn->name[0] ? sn->name : "move");
	Shape ys = gval(g, yid)->shape;
	for (int i = 0; i < s.k - 1; i++)
		node_kill(g, s.n[i]);
	if (identity) {
		int64_t dims[1] = {ys.rank};
		Shape ss = shape_make(1, dims);
		ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, ys.dims);
		ValueId in[2] = {x, shp};
		node_rewrite(g, sink, OP_Reshape, 13, in, 2, 1, name);
	} else {
		int64_t dims[1] = {R};
		Shape is = shape_make(1, dims);
		ValueId iv = graph_add_const(g, NULL, DT_I32, &is, idx);
		ValueId in[2] = {x, iv};
		node_rewrite(g, sink, OP_GatherRows, 1, in, 2, 1, name);
		Attr *at = graph_add_attr(g, sink, "shape", AK_INTS);
		at->n = ys.rank;
		at->ints = arena_dup(&g->arena, ys.dims, sizeof(int64_t) * (size_t)(ys.rank ? ys.rank : 1));
	}
	free(idx);
	return fuse_infer(g, sink, &ys, d, err);
}

bool pass_fuse_remap(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Uses u;
	uses_build(g, &u);
	bool err = false;
	for (NodeId i = g->nnodes - 1; i >= 0 && !err; i--) {
		if (!is_move(g, &g->nodes[i]))
			continue;
		if (fuse_at(g, &u, i, d, &err)) {
			/* the fused node reads X directly: refresh the consumer index */
			uses_free(&u);
			uses_build(g, &u);
		}
	}
	uses_free(&u);
	return !err;
}

/* passes/fuse.c — helpers shared by the fusion passes (contracts in fuse.h). */
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void uses_build(Graph *g, Uses *u)
{
	u->nvalues = g->nvalues;
	u->off = xcalloc((size_t)g->nvalues + 1, sizeof *u->off);
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				u->off[n->in[k] + 1]++;
	}
	for (int v = 0; v < g->nvalues; v++)
		u->off[v + 1] += u->off[v];
	u->node = xmalloc(sizeof *u->node * (size_t)(u->off[g->nvalues] + 1));
	int *fill = xcalloc((size_t)g->nvalues + 1, sizeof *fill);
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				u->node[u->off[n->in[k]] + fill[n->in[k]]++] = i;
	}
	free(fill);
}

void uses_free(Uses *u)
{
	free(u->off);
	free(u->node);
	u->off = NULL;
	u->node = NULL;
}

int uses_count(Graph *g, const Uses *u, ValueId v)
{
	if (gval(g, v)->is_output)
		return -1;
	if (v >= u->nvalues)
		return 0;
	int c = 0;
	for (int j = u->off[v]; j < u->off[v + 1]; j++)
		c += !g->nodes[u->node[j]].dead;
	return c;
}

NodeId uses_single(Graph *g, const Uses *u, ValueId v)
{
	if (uses_count(g, u, v) != 1)
		return IR_NONE; /* also every value newer than the index */
	for (int j = u->off[v]; j < u->off[v + 1]; j++)
		if (!g->nodes[u->node[j]].dead)
			return u->node[j];
	return IR_NONE;
}

Node *producer_op(Graph *g, ValueId v, Op op)
{
	if (v == IR_NONE)
		return NULL;
	NodeId p = gval(g, v)->producer;
	if (p == IR_NONE || g->nodes[p].dead || g->nodes[p].op != op)
		return NULL;
	return &g->nodes[p];
}

bool const_scalar(Graph *g, ValueId v, double *out)
{
	if (v == IR_NONE)
		return false;
	Value *val = gval(g, v);
	if (val->kind != VK_CONST || !val->data || !dtype_is_float(val->dtype) ||
	    shape_numel(&val->shape) != 1)
		return false;
	*out = value_get_f64(val, 0);
	return true;
}

bool const_near(Graph *g, ValueId v, double want, double rel)
{
	double x;
	return const_scalar(g, v, &x) && fabs(x - want) <= rel * fabs(want);
}

/* attr_ints_are (step 1) and attr_ints_all (step 0: v[0] repeated). */
static bool ints_match(const Node *n, const char *name, int cnt, const int64_t *v, int step)
{
	const int64_t *a;
	int k = attr_ints(n, name, &a);
	if (k < 0)
		return true;
	if (cnt >= 0 && k != cnt)
		return false;
	for (int i = 0; i < k; i++)
		if (a[i] != v[i * step])
			return false;
	return true;
}

bool attr_ints_are(const Node *n, const char *name, int cnt, const int64_t *v)
{
	return ints_match(n, name, cnt, v, 1);
}

bool attr_ints_all(const Node *n, const char *name, int cnt, int64_t v)
{
	return ints_match(n, name, cnt, &v, 0);
}

ValueId other_input(const Node *n, ValueId v)
{
	if (n->nin != 2)
		return IR_NONE;
	if (n->in[0] == v)
		return n->in[1];
	if (n->in[1] == v)
		return n->in[0];
	return IR_NONE;
}

void node_rewrite(Graph *g, NodeId last, Op op, int opset, const ValueId *in, int nin,
                  int nout, const char *name)
{
	Node *n = &g->nodes[last];
	n->op = op;
	n->op_type = op_name(op);
	n->domain = (op_info[op].flags & OPF_FUSED) ? "onnxcc" : "";
	n->opset = opset;
	n->in = arena_dup(&g->arena, in, sizeof(ValueId) * (size_t)nin);
	n->nin = nin;
	for (int k = nout; k < n->nout; k++)
		if (n->out[k] != IR_NONE)
			gval(g, n->out[k])->producer = IR_NONE;
	n->nout = nout;
	n->attrs = NULL;
	n->nattr = 0;
	n->params = NULL;
	n->name = name;
}

/* v is f32 [C]. */
static bool row_param(Graph *g, ValueId v, int64_t C)
{
	const Value *x = gval(g, v);
	return x->dtype == DT_F32 && x->shape.rank == 1 && x->shape.dims[0] == C;
}

bool layernorm_rows(Graph *g, const Node *ln, int64_t *C)
{
	if (ln->op != OP_LayerNormalization || ln->nin < 2 || ln->in[0] == IR_NONE || ln->in[1] == IR_NONE ||
	    ln->out[0] == IR_NONE)
		return false;
	for (int k = 1; k < ln->nout; k++)
		if (ln->out[k] != IR_NONE)
			return false;
	const Value *x = gval(g, ln->in[0]);
	int r = x->shape.rank;
	int64_t axis = attr_int(ln, "axis", -1);
	if (x->dtype != DT_F32 || r < 1 || (axis != -1 && axis != r - 1) || attr_int(ln, "stash_type", 1) != 1)
		return false;
	*C = x->shape.dims[r - 1];
	ValueId bi = ln->nin > 2 ? ln->in[2] : IR_NONE;
	return row_param(g, ln->in[1], *C) && (bi == IR_NONE || row_param(g, bi, *C));
}

bool fuse_each(Graph *g, Op op, FuseAtFn at, Diag *d)
{
	Uses u;
	uses_build(g, &u);
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err; i++)
		if (!g->nodes[i].dead && g->nodes[i].op == op)
			at(g, &u, i, d, &err);
	uses_free(&u);
	return !err;
}

bool fuse_infer(Graph *g, NodeId n, const Shape *want, Diag *d, bool *err)
{
	if (!pass_infer_node(g, n, d)) {
		*err = true;
		return false;
	}
	assert(!want || shape_eq(want, &gval(g, g->nodes[n].out[0])->shape));
	(void)want;
	return true;
}

void node_kill(Graph *g, NodeId id)
{
	Node *n = &g->nodes[id];
	n->dead = true;
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] != IR_NONE && gval(g, n->out[k])->producer == id)
			gval(g, n->out[k])->producer = IR_NONE;
}

const char *fused_name(Graph *g, const Node *a, const Node *b, const char *op)
{
	const char *x = a->name ? a->name : "", *y = b->name ? b->name : "";
	size_t cut = 0;
	for (size_t i = 0; x[i] && x[i] == y[i]; i++)
		if (x[i] == '/')
			cut = i + 1;
	if (cut == 0)
		return y;
	return arena_printf(&g->arena, "%.*s%s", (int)cut, x, op);
}

void fuse_gemm_norm_prologue(Graph *g, NodeId gi, ValueId x, ValueId rows, ValueId scale, ValueId bias,
                             const char *name)
{
	Node *n = &g->nodes[gi];
	ValueId in[9] = {x, n->in[1], IR_NONE, IR_NONE, rows, IR_NONE, IR_NONE, scale, bias};
	for (int k = 2; k < n->nin && k < 7; k++)
		if (k != 4)
			in[k] = n->in[k];
	int nin = bias != IR_NONE ? 9 : 8;
	int nattr = n->op == OP_MatMulEpi ? n->nattr : 0;
	Attr *attrs = nattr ? arena_dup(&g->arena, n->attrs, sizeof(Attr) * (size_t)nattr) : NULL;
	int opset = n->op == OP_MatMulEpi ? n->opset : 13;
	node_rewrite(g, gi, OP_MatMulEpi, opset, in, nin, 1, name);
	n = &g->nodes[gi];
	n->attrs = attrs;
	n->nattr = nattr;
}

ValueId concat_part(Graph *g, ValueId v, int64_t lo, int64_t n, int64_t *off)
{
	const Value *y = gval(g, v);
	if (y->producer == IR_NONE || !shape_is_static(&y->shape))
		return IR_NONE;
	const Node *c = &g->nodes[y->producer];
	if (c->dead || c->op != OP_Concat || c->nout != 1 || c->out[0] != v)
		return IR_NONE;
	int r = y->shape.rank;
	int64_t ax = attr_int(c, "axis", 0);
	if (ax < 0)
		ax += r;
	if (ax < 0 || ax >= r)
		return IR_NONE;
	for (int i = 0; i < ax; i++)
		if (y->shape.dims[i] != 1)
			return IR_NONE;
	int64_t at = 0;
	for (int k = 0; k < c->nin; k++) {
		if (c->in[k] == IR_NONE)
			return IR_NONE;
		const Value *x = gval(g, c->in[k]);
		if (!shape_is_static(&x->shape))
			return IR_NONE;
		int64_t nx = shape_numel(&x->shape);
		if (lo >= at && lo + n <= at + nx) {
			*off = at;
			return c->in[k];
		}
		at += nx;
	}
	return IR_NONE;
}

void release_dead_const(Graph *g, ValueId v)
{
	const Value *x = gval(g, v);
	assert(x->kind == VK_CONST && !x->is_output && graph_use_count(g, v) == 0);
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0 || !x->data || x->nbytes < (size_t)pg)
		return;
	uintptr_t lo = ((uintptr_t)x->data + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
	uintptr_t hi = ((uintptr_t)x->data + x->nbytes) & ~(uintptr_t)(pg - 1);
	if (hi <= lo)
		return;
	/* an alias (Identity, Reshape) may name the same bytes */
	for (ValueId w = 0; w < g->nvalues; w++) {
		const Value *o = gval(g, w);
		uintptr_t b = (uintptr_t)o->data;
		if (w != v && o->kind == VK_CONST && o->data && b < hi && b + o->nbytes > lo &&
		    (o->is_output || graph_use_count(g, w) > 0))
			return;
	}
#ifdef MADV_DONTNEED
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
#endif
}

/* passes/infer.c — shape inference driver, dispatch table, shared helpers,
 * and binding of symbolic input dims.  See passes/infer.h for the contract.
 *
 * pass_infer_node checks what every rule may then take for granted: the op
 * is known, the arity fits op_info, and every present input has a dtype and
 * a static shape.  The per-op rules live in passes/infer_*.c.
 */
#define INFER_INTERNAL
#include "infer.h"
#include "fold.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */
bool ifail(InferCtx *c, int input, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_node(c->d, node_label(c->g, c->n), c->n->op_type, input, "%s", msg);
	return false;
}

Value *iin(InferCtx *c, int k)
{
	if (k < 0 || k >= c->n->nin || c->n->in[k] == IR_NONE)
		return NULL;
	return gval(c->g, c->n->in[k]);
}

void iset(InferCtx *c, int k, DType dt, const Shape *s)
{
	if (k >= c->n->nout || c->n->out[k] == IR_NONE)
		return;
	Value *v = gval(c->g, c->n->out[k]);
	assert(s->rank >= 0 && s->rank <= IR_MAX_RANK);
	v->dtype = dt;
	v->shape = *s;
	for (int i = 0; i < IR_MAX_RANK; i++)
		v->shape.sym[i] = NULL;
}

void iset_like(InferCtx *c, int out, int in)
{
	Value *v = iin(c, in);
	if (v)
		iset(c, out, v->dtype, &v->shape);
}

const char *ishape_str(const Shape *s)
{
	static char bufs[4][128];
	static int k;
	k = (k + 1) & 3;
	return shape_str(s, bufs[k], sizeof bufs[k]);
}

bool inot_const(InferCtx *c, int k)
{
	return diag_not_const(c->g, c->n, k, c->d);
}

bool iconst_ints(InferCtx *c, int k, int64_t *out, int max, int *count)
{
	return node_const_ints(c->g, c->n, k, out, max, count, c->d);
}

bool iaxis(InferCtx *c, int64_t axis, int rank, int input, const char *what, int *out)
{
	if (axis < -rank || axis >= rank)
		return ifail(c, input, "%s %" PRId64 " out of range for rank %d", what, axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return true;
}

bool ibroadcast(InferCtx *c, const Shape *a, int ia, const Shape *b, int ib, Shape *out)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	Shape s = shape_make(r, NULL);
	for (int i = 0; i < r; i++) {
		int ka = i - (r - a->rank), kb = i - (r - b->rank);
		int64_t da = ka >= 0 ? a->dims[ka] : 1, db = kb >= 0 ? b->dims[kb] : 1;
		if (da == db || db == 1)
			s.dims[i] = da;
		else if (da == 1)
			s.dims[i] = db;
		else
			return ifail(c, ib, "shape %s does not broadcast with input %d's shape %s",
			             ishape_str(b), ia, ishape_str(a));
	}
	*out = s;
	return true;
}

bool irank(InferCtx *c, int k, int lo, int hi)
{
	Value *v = iin(c, k);
	assert(v);
	int r = v->shape.rank;
	if (r < lo || (hi >= 0 && r > hi)) {
		if (hi < 0)
			return ifail(c, k, "expected rank >= %d, got %d", lo, r);
		if (lo == hi)
			return ifail(c, k, "expected rank %d, got %d", lo, r);
		return ifail(c, k, "expected rank %d to %d, got %d", lo, hi, r);
	}
	return true;
}

bool isame_dtype(InferCtx *c, int k, int ref)
{
	Value *v = iin(c, k), *w = iin(c, ref);
	assert(v && w);
	if (v->dtype != w->dtype)
		return ifail(c, k, "dtype %s differs from input %d's %s", dtype_name(v->dtype), ref,
		             dtype_name(w->dtype));
	return true;
}

/* Largest element count a value may have: keeps every byte size and index
 * computation downstream far from int64 overflow. */
#define INFER_MAX_NUMEL ((int64_t)1 << 48)

/* True when every dim is >= 0 and the element count is at most
 * INFER_MAX_NUMEL. */
static bool shape_sane(const Shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dims[i] < 0 || __builtin_mul_overflow(n, s->dims[i], &n) || n > INFER_MAX_NUMEL)
			return false;
	}
	return true;
}

/* ---- dispatch ---------------------------------------------------------- */
static const InferFn rules[OP__COUNT] = {
#define OP(name, ilo, ihi, olo, ohi, fl, infer, fold, lower) [OP_##name] = infer,
#include "../ir/ops.def"
#undef OP
};

/* The rule for op (ops.def's infer column). */
static InferFn rule_for(Op op)
{
	if ((unsigned)op >= OP__COUNT || op == OP_UNKNOWN)
		return NULL;
	return rules[op];
}

bool pass_infer_has_rule(Op op) { return rule_for(op) != NULL; }

bool pass_infer_node(Graph *g, NodeId nid, Diag *d)
{
	assert(nid >= 0 && nid < g->nnodes);
	InferCtx cx = {g, nid, &g->nodes[nid], d, g->nodes[nid].opset};
	InferCtx *c = &cx;
	Node *n = c->n;
	assert(!n->dead);
	if (n->op == OP_UNKNOWN)
		return ifail(c, -1, "unsupported operator '%s' (domain '%s', opset %d)", n->op_type,
		             n->domain && n->domain[0] ? n->domain : "ai.onnx", n->opset);
	if (c->opset <= 0) {
		/* hand-built graphs may leave it unset: use the graph's import */
		int64_t v = graph_opset(g, n->domain);
		if (v <= 0)
			return ifail(c, -1, "no opset version in force for domain '%s'",
			             n->domain && n->domain[0] ? n->domain : "ai.onnx");
		c->opset = v > INT32_MAX ? INT32_MAX : (int)v;
	}
	InferFn fn = rule_for(n->op);
	n->params = NULL;   /* parsed afresh by the rule (ir/params.h) */
	if (!fn)
		return ifail(c, -1, "no shape rule for operator '%s'", n->op_type);

	const OpInfo *oi = &op_info[n->op];
	if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in)) {
		if (oi->max_in < 0)
			return ifail(c, -1, "expected at least %d inputs, got %d", oi->min_in, n->nin);
		if (oi->max_in == oi->min_in)
			return ifail(c, -1, "expected %d inputs, got %d", oi->min_in, n->nin);
		return ifail(c, -1, "expected %d to %d inputs, got %d", oi->min_in, oi->max_in, n->nin);
	}
	if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out)) {
		if (oi->max_out < 0)
			return ifail(c, -1, "expected at least %d outputs, got %d", oi->min_out, n->nout);
		if (oi->max_out == oi->min_out)
			return ifail(c, -1, "expected %d outputs, got %d", oi->min_out, n->nout);
		return ifail(c, -1, "expected %d to %d outputs, got %d", oi->min_out, oi->max_out,
		             n->nout);
	}
	for (int k = 0; k < oi->min_in; k++)
		if (n->in[k] == IR_NONE)
			return ifail(c, k, "required input is missing");
	for (int k = 0; k < n->nin; k++) {
		Value *v = iin(c, k);
		if (!v)
			continue;
		if (v->dtype == DT_UNDEF || v->dtype >= DT__COUNT)
			return ifail(c, k, "'%s' has no known dtype", v->name);
		if (!shape_is_static(&v->shape))
			return ifail(c, k, "'%s' has no static shape %s", v->name, ishape_str(&v->shape));
		if (!shape_sane(&v->shape))
			return ifail(c, k, "'%s' has too many elements %s", v->name, ishape_str(&v->shape));
		if (v->kind == VK_CONST && !v->data)
			return ifail(c, k, "constant '%s' has no data", v->name);
	}
	/* What the model declares for the outputs (graph output types and
	 * value_info, applied by the frontend) is kept: an inferred dtype or
	 * static dim that contradicts it is an error (a symbolic or unknown
	 * declared dim is no contradiction).  The inferred shape is used. */
	enum { NDECL = 32 };
	Shape declared[NDECL];
	DType declared_dt[NDECL];
	for (int k = 0; k < n->nout; k++) {
		if (n->out[k] == IR_NONE)
			continue;
		Value *v = gval(g, n->out[k]);
		if (k < NDECL) {
			declared[k] = v->shape;
			declared_dt[k] = v->dtype;
		}
		v->shape.rank = -1;
	}
	if (!fn(c))
		return false;
	for (int k = 0; k < n->nout; k++) {
		if (n->out[k] == IR_NONE)
			continue;
		const Value *v = gval(g, n->out[k]);
		/* every rule sets each output it has */
		assert(v->shape.rank >= 0 && v->dtype != DT_UNDEF);
		if (!shape_sane(&v->shape))
			return ifail(c, -1, "output %d: inferred shape %s is invalid or too large "
			             "(a negative dim or more than 2^48 elements)", k,
			             ishape_str(&v->shape));
		if (k >= NDECL)
			continue;
		bool agree = declared_dt[k] == DT_UNDEF || declared_dt[k] == v->dtype;
		if (declared[k].rank >= 0) {
			agree &= declared[k].rank == v->shape.rank;
			for (int i = 0; agree && i < v->shape.rank; i++)
				agree = declared[k].dims[i] < 0 || declared[k].dims[i] == v->shape.dims[i];
		}
		if (!agree) {
			Shape ds = declared[k];
			if (ds.rank < 0)
				ds = v->shape;   /* only the dtype was declared */
			return ifail(c, -1, "output %d ('%s'): inferred %s%s contradicts the declared "
			             "%s%s (%s)", k, v->name, dtype_name(v->dtype), ishape_str(&v->shape),
			             declared_dt[k] == DT_UNDEF ? "?" : dtype_name(declared_dt[k]),
			             declared[k].rank < 0 ? "" : ishape_str(&ds),
			             v->is_output ? "graph output" : "value_info");
		}
	}
	return true;
}

bool pass_infer_shapes(Graph *g, Diag *d)
{
	bool ok = true;
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = gval(g, g->inputs[i]);
		if (!shape_is_static(&v->shape)) {
			diag_error(d, "input '%s' has no static shape %s: bind its dims first", v->name,
			           ishape_str(&v->shape));
			ok = false;
		} else if (!shape_sane(&v->shape)) {
			/* an input no node reads is checked here too: the header and
			 * the run function still size it */
			diag_error(d, "input '%s': shape %s has more than 2^48 elements", v->name,
			           ishape_str(&v->shape));
			ok = false;
		}
	}
	if (!ok)
		return false;
	/* g->nnodes is re-read: the folder may append nodes or values (and so
	 * move g->values; no Value pointer is kept across the calls). */
	for (NodeId i = 0; i < g->nnodes; i++) {
		if (g->nodes[i].dead)
			continue;
		if (!pass_infer_node(g, i, d))
			return false;
		if (!pass_fold_node(g, i, d))
			return false;
	}
	g->shapes_known = true;
	return true;
}

/* ---- symbolic dims ------------------------------------------------------ */
bool pass_bind_dims(Graph *g, const char *const *bindings, int nbindings, Diag *d)
{
	bool ok = true;
	for (int b = 0; b < nbindings; b++) {
		const char *s = bindings[b];
		const char *eq = strrchr(s, '=');
		if (!eq || eq == s || !eq[1]) {
			diag_error(d, "bad dim binding '%s': expected SYM=N", s);
			ok = false;
			continue;
		}
		char *end;
		errno = 0;
		long long val = strtoll(eq + 1, &end, 10);
		if (*end || errno || val < 0) {
			diag_error(d, "bad dim binding '%s': N must be a non-negative integer", s);
			ok = false;
			continue;
		}
		size_t len = (size_t)(eq - s);
		int hits = 0;
		for (int i = 0; i < g->ninputs; i++) {
			Value *v = gval(g, g->inputs[i]);
			for (int k = 0; k < v->shape.rank; k++) {
				const char *sym = v->shape.sym[k];
				if (v->shape.dims[k] < 0 && sym && strlen(sym) == len &&
				    !strncmp(sym, s, len)) {
					v->shape.dims[k] = val;
					hits++;
				}
			}
		}
		if (!hits)
			diag_warn(d, "dim binding '%s' matches no symbolic input dim", s);
	}
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = gval(g, g->inputs[i]);
		if (v->shape.rank < 0) {
			diag_error(d, "input '%s' has unknown rank: the model must declare its shape",
			           v->name);
			ok = false;
			continue;
		}
		for (int k = 0; k < v->shape.rank; k++) {
			if (v->shape.dims[k] >= 0)
				continue;
			if (v->shape.sym[k])
				diag_error(d, "input '%s' dim %d is symbolic ('%s'): bind it with --dim %s=N",
				           v->name, k, v->shape.sym[k], v->shape.sym[k]);
			else
				diag_error(d, "input '%s' dim %d is unknown (no dim_param): the model must "
				           "declare it", v->name, k);
			ok = false;
		}
	}
	return ok;
}

/* ir/params.c — the one parser of typed operator parameters (ir/params.h).
 *
 * parse() reads a node's attributes (and constant inputs) into an OpParams
 * and checks them; its diagnostics are worded as shape inference words
 * them ("node 'N' (Op): [input K:] message").  With no Diag it only
 * answers (ir_verify's freshness check).
 *
 * A node whose opset is unknown (a hand-built graph without imports; shape
 * inference refuses those) gets the newest opset's attributes, and
 * reductions take their axes from whichever form is given.
 *
 * Sources: Conv-11, ConvTranspose-11, MaxPool-12, AveragePool-11/19,
 * MaxUnpool-11, ConvInteger-10, QLinearConv-10, Transpose-13,
 * ReduceSum-13 / Reduce*-18 (axes input) and before (axes attribute).
 * ElemChain's expr is onnxcc's own (grammar above parse_chain).
 */
#include "params.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One parse: the node and where its diagnostics go (d may be NULL). */
typedef struct P {
	Graph *g;
	const Node *n;
	Diag *d;
	int opset;
} P;

static bool pfail(P *p, int input, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool pfail(P *p, int input, const char *fmt, ...)
{
	if (!p->d)
		return false;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_node(p->d, node_label(p->g, p->n), p->n->op_type, input, "%s", msg);
	return false;
}

/* Input k, or NULL when omitted or beyond the node's inputs. */
static const Value *pin(P *p, int k)
{
	if (k < 0 || k >= p->n->nin || p->n->in[k] == IR_NONE)
		return NULL;
	return gval(p->g, p->n->in[k]);
}

/* Input k, which the op requires: NULL after a diagnostic when absent or
 * of unknown shape. */
static const Value *pneed(P *p, int k)
{
	const Value *v = pin(p, k);
	if (!v)
		return pfail(p, k, "required input is missing"), NULL;
	if (v->shape.rank < 0)
		return pfail(p, k, "'%s' has no known shape", v->name), NULL;
	return v;
}

int node_opset(const Graph *g, const Node *n)
{
	if (n->opset > 0)
		return n->opset;
	int64_t v = graph_opset(g, n->domain);
	return v <= 0 ? 0 : v > INT32_MAX ? INT32_MAX : (int)v;
}

bool diag_not_const(Graph *g, const Node *n, int k, Diag *d)
{
	if (!d)
		return false;
	const Value *v = k < n->nin && n->in[k] != IR_NONE ? gval(g, n->in[k]) : NULL;
	if (v && v->kind == VK_INPUT)
		diag_node(d, node_label(g, n), n->op_type, k, "must be a constant for static compilation "
		          "(it is graph input '%s': freeze it with --const-input %s=FILE.npy)", v->name,
		          v->name);
	else
		diag_node(d, node_label(g, n), n->op_type, k, "must be a constant for static compilation");
	return false;
}

bool node_const_ints(Graph *g, const Node *n, int k, int64_t *out, int max, int *count, Diag *d)
{
	P p = {g, n, d, 0};
	const Value *v = pin(&p, k);
	assert(v);
	if (v->kind != VK_CONST || !v->data)
		return diag_not_const(g, n, k, d);
	if (!dtype_is_int(v->dtype))
		return pfail(&p, k, "expected an integer tensor, got %s", dtype_name(v->dtype));
	if (v->shape.rank > 1) {
		char buf[128];
		return pfail(&p, k, "expected a 1-D tensor, got shape %s",
		             shape_str(&v->shape, buf, sizeof buf));
	}
	int64_t cnt = shape_numel(&v->shape);
	if (cnt < 0 || cnt > max)
		return pfail(&p, k, "has %" PRId64 " elements, at most %d supported", cnt, max);
	for (int64_t i = 0; i < cnt; i++)
		out[i] = value_get_int(v, i);
	*count = (int)cnt;
	return true;
}

/* ---- windows ------------------------------------------------------------ */

/* Reads the ints attribute `name` of exactly cnt entries, each >= min, into
 * out; `def` everywhere when absent. */
static bool ints_attr(P *p, const char *name, int cnt, int64_t def, int64_t min, int64_t *out)
{
	const int64_t *a;
	int na = attr_ints(p->n, name, &a);
	if (na < 0) {
		for (int i = 0; i < cnt; i++)
			out[i] = def;
		return true;
	}
	if (na != cnt)
		return pfail(p, -1, "attribute '%s' has %d entries, expected %d", name, na, cnt);
	for (int i = 0; i < cnt; i++) {
		if (a[i] < min)
			return pfail(p, -1, "attribute '%s' entry %d is %" PRId64 ", must be >= %" PRId64,
			             name, i, a[i], min);
		out[i] = a[i];
	}
	return true;
}

/* The input holding the weight whose spatial dims are the kernel; -1 for
 * the pools (kernel_shape required). */
static int weight_input(Op op)
{
	switch (op) {
	case OP_Conv: case OP_ConvTranspose: case OP_ConvInteger: case OP_DwConvNhwc:
		return 1;
	case OP_QLinearConv:
		return 3;
	default:
		return -1;
	}
}

static bool parse_window(P *p, WindowParams *w)
{
	const Node *n = p->n;
	Op op = n->op;
	const Value *x = pneed(p, 0);
	if (!x)
		return false;
	int r = x->shape.rank;
	if (op == OP_DwConvNhwc) {
		w->n = 2;
	} else {
		if (r < 3)
			return pfail(p, 0, "expected rank >= 3, got %d", r);
		w->n = r - 2;
	}
	int sp = w->n, kw = weight_input(op);
	const int64_t *ks;
	int nk = attr_ints(n, "kernel_shape", &ks);
	if (kw >= 0) {
		const Value *wt = pneed(p, kw);
		if (!wt)
			return false;
		if (wt->shape.rank != sp + 2) {
			if (op == OP_DwConvNhwc)
				return pfail(p, kw, "expected rank 4, got %d", wt->shape.rank);
			return pfail(p, kw, "rank %d differs from X's rank %d", wt->shape.rank, r);
		}
		for (int i = 0; i < sp; i++) {
			w->kernel[i] = wt->shape.dims[2 + i];
			if (w->kernel[i] < 1) {
				char buf[128];
				return pfail(p, kw, "kernel size %" PRId64 " in shape %s", w->kernel[i],
				             shape_str(&wt->shape, buf, sizeof buf));
			}
		}
		if (nk >= 0) {
			if (nk != sp)
				return pfail(p, -1, "attribute 'kernel_shape' has %d entries, expected %d", nk, sp);
			for (int i = 0; i < nk; i++)
				if (ks[i] != w->kernel[i])
					return pfail(p, kw, "kernel_shape %" PRId64 " differs from W's dim %" PRId64,
					             ks[i], w->kernel[i]);
		}
	} else {
		if (nk < 0)
			return pfail(p, -1, "attribute 'kernel_shape' is required");
		if (nk != sp)
			return pfail(p, -1, "attribute 'kernel_shape' has %d entries, expected %d", nk, sp);
		for (int i = 0; i < nk; i++) {
			if (ks[i] < 1)
				return pfail(p, -1, "attribute 'kernel_shape' entry %d is %" PRId64, i, ks[i]);
			w->kernel[i] = ks[i];
		}
	}
	if (!ints_attr(p, "strides", sp, 1, 1, w->strides) ||
	    !ints_attr(p, "pads", 2 * sp, 0, 0, w->pads))
		return false;
	int opset = p->opset > 0 ? p->opset : INT32_MAX;   /* unknown: the newest */
	bool has_dil = op == OP_MaxPool ? opset >= 10 : op == OP_AveragePool ? opset >= 19
	               : op != OP_MaxUnpool;
	if (has_dil) {
		if (!ints_attr(p, "dilations", sp, 1, 1, w->dilations))
			return false;
	} else {
		if (node_attr(n, "dilations"))
			return pfail(p, -1, "attribute 'dilations' needs a newer opset (node has %d)",
			             p->opset);
		for (int i = 0; i < sp; i++)
			w->dilations[i] = 1;
	}
	const char *ap = attr_string(n, "auto_pad", "NOTSET");
	if (!strcmp(ap, "NOTSET"))
		w->auto_pad = AUTOPAD_NOTSET;
	else if (!strcmp(ap, "SAME_UPPER"))
		w->auto_pad = AUTOPAD_SAME_UPPER;
	else if (!strcmp(ap, "SAME_LOWER"))
		w->auto_pad = AUTOPAD_SAME_LOWER;
	else if (!strcmp(ap, "VALID"))
		w->auto_pad = AUTOPAD_VALID;
	else
		return pfail(p, -1, "unknown auto_pad '%s'", ap);
	if (w->auto_pad != AUTOPAD_NOTSET && node_attr(n, "pads")) {
		for (int i = 0; i < 2 * sp; i++)
			if (w->pads[i])
				return pfail(p, -1, "attribute 'pads' conflicts with auto_pad=%s", ap);
	}
	w->group = attr_int(n, "group", 1);
	bool pool = op == OP_MaxPool || op == OP_AveragePool;
	w->ceil_mode = pool && opset >= 10 && attr_int(n, "ceil_mode", 0) != 0;
	w->count_include_pad = op == OP_AveragePool && attr_int(n, "count_include_pad", 0) != 0;
	w->storage_colmajor = op == OP_MaxPool && attr_int(n, "storage_order", 0) == 1;
	if (op == OP_ConvTranspose) {
		if (!ints_attr(p, "output_padding", sp, 0, 0, w->output_padding))
			return false;
		/* output_padding picks one of the stride·dilation-ambiguous sizes: it
		 * must be below the stride or the dilation (as PyTorch requires). */
		for (int i = 0; i < sp; i++)
			if (w->output_padding[i] >= w->strides[i] && w->output_padding[i] >= w->dilations[i])
				return pfail(p, -1, "attribute 'output_padding': entry %d (%" PRId64 ") must be "
				             ">= 0 and less than the stride (%" PRId64 ") or the dilation (%"
				             PRId64 ")", i, w->output_padding[i], w->strides[i],
				             w->dilations[i]);
		const int64_t *os;
		int nos = attr_ints(n, "output_shape", &os);
		if (nos >= 0) {
			if (nos != sp && nos != sp + 2)
				return pfail(p, -1, "attribute 'output_shape' has %d entries, expected %d", nos, sp);
			w->has_output_shape = true;
			for (int i = 0; i < sp; i++)
				w->output_shape[i] = os[nos - sp + i];
		}
	}
	return true;
}

void window_pads(const WindowParams *w, int i, int64_t in, int64_t *pb, int64_t *pe)
{
	assert(i >= 0 && i < w->n);
	switch (w->auto_pad) {
	case AUTOPAD_NOTSET:
		*pb = w->pads[i];
		*pe = w->pads[w->n + i];
		return;
	case AUTOPAD_VALID:
		*pb = *pe = 0;
		return;
	case AUTOPAD_SAME_UPPER:
	case AUTOPAD_SAME_LOWER: {
		int64_t s = w->strides[i], o = in / s + (in % s != 0);
		int64_t total = (o - 1) * s + (w->kernel[i] - 1) * w->dilations[i] + 1 - in;
		if (total < 0)
			total = 0;
		*pb = w->auto_pad == AUTOPAD_SAME_UPPER ? total / 2 : total - total / 2;
		*pe = total - *pb;
		return;
	}
	}
	IR_UNREACHABLE("window_pads: bad auto_pad");
}

/* ---- Transpose ------------------------------------------------------------ */

static bool parse_perm(P *p, PermParams *t)
{
	const Value *x = pneed(p, 0);
	if (!x)
		return false;
	int r = x->shape.rank;
	t->rank = r;
	const int64_t *perm;
	int np = attr_ints(p->n, "perm", &perm);
	if (np < 0) {
		for (int i = 0; i < r; i++)
			t->perm[i] = r - 1 - i;
		return true;
	}
	if (np != r)
		return pfail(p, -1, "perm has %d entries for rank %d", np, r);
	bool seen[IR_MAX_RANK] = {false};
	for (int i = 0; i < r; i++) {
		if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
			return pfail(p, -1, "perm is not a permutation of 0..%d", r - 1);
		seen[perm[i]] = true;
		t->perm[i] = perm[i];
	}
	return true;
}

/* ---- Reduce* -------------------------------------------------------------- */

static int axes_input_opset(Op op) { return op == OP_ReduceSum ? 13 : 18; }

static bool parse_reduce(P *p, ReduceParams *rp)
{
	const Node *n = p->n;
	const Value *x = pneed(p, 0);
	if (!x)
		return false;
	int r = x->shape.rank;
	rp->rank = r;
	int64_t axes[IR_MAX_RANK];
	int naxes = 0;
	/* opset unknown (a hand-built graph without imports): the form given */
	bool from_input = p->opset > 0 ? p->opset >= axes_input_opset(n->op) : pin(p, 1) != NULL;
	if (from_input) {
		if (node_attr(n, "axes"))
			return pfail(p, -1, "attribute 'axes' is not allowed at opset %d (axes is an input)",
			             p->opset);
		if (pin(p, 1) && !node_const_ints(p->g, n, 1, axes, IR_MAX_RANK, &naxes, p->d))
			return false;
	} else {
		if (pin(p, 1))
			return pfail(p, 1, "axes as an input needs opset >= %d (node has %d)",
			             axes_input_opset(n->op), p->opset);
		const int64_t *a;
		int na = attr_ints(n, "axes", &a);
		if (na > IR_MAX_RANK)
			return pfail(p, -1, "attribute 'axes' has %d entries for rank %d", na, r);
		for (int i = 0; i < na; i++)
			axes[naxes++] = a[i];
	}
	rp->keepdims = attr_int(n, "keepdims", 1) != 0;
	if (naxes == 0) {
		rp->noop = from_input && attr_int(n, "noop_with_empty_axes", 0) != 0;
		rp->all = !rp->noop;
		for (int i = 0; i < r; i++)
			rp->reduced[i] = rp->all;
		return true;
	}
	int in = from_input ? 1 : -1;
	for (int i = 0; i < naxes; i++) {
		if (axes[i] < -r || axes[i] >= r)
			return pfail(p, in, "axis %" PRId64 " out of range for rank %d", axes[i], r);
		int ax = (int)(axes[i] < 0 ? axes[i] + r : axes[i]);
		if (rp->reduced[ax])
			return pfail(p, in, "axis %" PRId64 " repeated", axes[i]);
		rp->reduced[ax] = true;
	}
	return true;
}

/* ---- ElemChain ------------------------------------------------------------ */

int chain_op_arity(Op op)
{
	switch (op) {
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div:
		return 2;
	case OP_Neg: case OP_Relu: case OP_Sigmoid: case OP_Tanh: case OP_Erf:
		return 1;
	default:
		return 0;
	}
}

/* The expression being read: expr := Op '(' expr [',' expr] ')' | 'x' N */
typedef struct ChainRead {
	P *p;
	ChainParams *cp;
	const char *s, *start;
	bool used[CHAIN_MAX_INPUTS];
} ChainRead;

/* Reads one expr at r->s (depth: open parentheses around it); its
 * operand ref in *ref. */
static bool chain_expr(ChainRead *r, int depth, int *ref)
{
	P *p = r->p;
	ChainParams *cp = r->cp;
	int at = (int)(r->s - r->start);
	if (*r->s == 'x') {
		int k = 0, nd = 0;
		const char *d0 = ++r->s;
		for (; *r->s >= '0' && *r->s <= '9' && nd < 2; r->s++, nd++)
			k = k * 10 + (*r->s - '0');
		if (nd == 0 || (nd > 1 && *d0 == '0') || (*r->s >= '0' && *r->s <= '9'))
			return pfail(p, -1, "attribute expr: bad input reference at offset %d", at);
		if (k >= cp->nin)
			return pfail(p, -1, "attribute expr: x%d at offset %d, but the node has %d inputs", k, at,
			             cp->nin);
		r->used[k] = true;
		*ref = k;
		return true;
	}
	size_t len = 0;
	while ((r->s[len] >= 'A' && r->s[len] <= 'Z') || (r->s[len] >= 'a' && r->s[len] <= 'z'))
		len++;
	Op op = OP_UNKNOWN;
	for (int o = 1; o < OP__COUNT && len; o++)
		if (chain_op_arity((Op)o) && strlen(op_name((Op)o)) == len && !strncmp(op_name((Op)o), r->s, len))
			op = (Op)o;
	if (op == OP_UNKNOWN)
		return pfail(p, -1, "attribute expr: expected an input xN or one of Add, Sub, Mul, Div, Neg, "
		             "Relu, Sigmoid, Tanh, Erf at offset %d", at);
	if (depth >= CHAIN_MAX_STEPS)
		return pfail(p, -1, "attribute expr: nested deeper than %d", CHAIN_MAX_STEPS);
	r->s += len;
	if (*r->s != '(')
		return pfail(p, -1, "attribute expr: expected '(' at offset %d", (int)(r->s - r->start));
	r->s++;
	int a, b = -1;
	if (!chain_expr(r, depth + 1, &a))
		return false;
	if (chain_op_arity(op) == 2) {
		if (*r->s != ',')
			return pfail(p, -1, "attribute expr: %s takes two operands (offset %d)", op_name(op),
			             (int)(r->s - r->start));
		r->s++;
		if (!chain_expr(r, depth + 1, &b))
			return false;
	}
	if (*r->s != ')')
		return pfail(p, -1, "attribute expr: expected ')' at offset %d", (int)(r->s - r->start));
	r->s++;
	if (cp->nsteps == CHAIN_MAX_STEPS)
		return pfail(p, -1, "attribute expr: more than %d ops", CHAIN_MAX_STEPS);
	cp->step[cp->nsteps] = (ChainStep){op, (int16_t)a, (int16_t)b};
	*ref = cp->nin + cp->nsteps++;
	return true;
}

static bool parse_chain(P *p, ChainParams *cp)
{
	const Node *n = p->n;
	if (n->nin < 1 || n->nin > CHAIN_MAX_INPUTS)
		return pfail(p, -1, "%d inputs, 1 to %d supported", n->nin, CHAIN_MAX_INPUTS);
	for (int k = 0; k < n->nin; k++)
		if (!pin(p, k))
			return pfail(p, k, "required input is missing");
	cp->nin = n->nin;
	const Attr *a = node_attr(n, "expr");
	if (!a || a->kind != AK_STRING || !a->s)
		return pfail(p, -1, "attribute expr: required, a string");
	ChainRead r = {p, cp, a->s, a->s, {false}};
	int ref;
	if (!chain_expr(&r, 0, &ref))
		return false;
	if (*r.s)
		return pfail(p, -1, "attribute expr: unexpected '%c' at offset %d", *r.s, (int)(r.s - r.start));
	if (ref < cp->nin)
		return pfail(p, -1, "attribute expr: no op, only input x%d", ref);
	for (int k = 0; k < cp->nin; k++)
		if (!r.used[k])
			return pfail(p, k, "not read by expr");
	return true;
}

/* ---- the cache ------------------------------------------------------------ */

typedef enum { PK_NONE, PK_WINDOW, PK_PERM, PK_REDUCE, PK_CHAIN } ParamKind;

static ParamKind kind_of(Op op)
{
	switch (op) {
	case OP_Conv: case OP_ConvTranspose: case OP_ConvInteger: case OP_QLinearConv:
	case OP_MaxPool: case OP_AveragePool: case OP_MaxUnpool: case OP_DwConvNhwc:
		return PK_WINDOW;
	case OP_Transpose:
		return PK_PERM;
	case OP_ElemChain:
		return PK_CHAIN;
	default:
		if ((unsigned)op < OP__COUNT && (op_info[op].flags & OPF_REDUCE))
			return PK_REDUCE;
		return PK_NONE;
	}
}

bool op_has_params(Op op) { return kind_of(op) != PK_NONE; }

/* Parses node n into *out (zeroed first); false after a diagnostic on d
 * (none when d is NULL). */
static bool parse(Graph *g, const Node *n, OpParams *out, Diag *d)
{
	memset(out, 0, sizeof *out);
	out->op = n->op;
	P p = {g, n, d, node_opset(g, n)};
	switch (kind_of(n->op)) {
	case PK_WINDOW:
		return parse_window(&p, &out->u.win);
	case PK_PERM:
		return parse_perm(&p, &out->u.perm);
	case PK_REDUCE:
		return parse_reduce(&p, &out->u.red);
	case PK_CHAIN:
		return parse_chain(&p, &out->u.chain);
	case PK_NONE:
		break;
	}
	IR_UNREACHABLE("node_params: op has no params");
}

const OpParams *node_params(Graph *g, NodeId id, Diag *d)
{
	assert(id >= 0 && id < g->nnodes);
	Node *n = &g->nodes[id];
	if (n->params && n->params->op == n->op)
		return n->params;
	OpParams tmp;
	if (!parse(g, n, &tmp, d))
		return NULL;
	n->params = arena_dup(&g->arena, &tmp, sizeof tmp);
	return n->params;
}

const WindowParams *node_window(Graph *g, NodeId id, Diag *d)
{
	assert(kind_of(g->nodes[id].op) == PK_WINDOW);
	const OpParams *p = node_params(g, id, d);
	return p ? &p->u.win : NULL;
}

const PermParams *node_perm(Graph *g, NodeId id, Diag *d)
{
	assert(kind_of(g->nodes[id].op) == PK_PERM);
	const OpParams *p = node_params(g, id, d);
	return p ? &p->u.perm : NULL;
}

const ReduceParams *node_reduce(Graph *g, NodeId id, Diag *d)
{
	assert(kind_of(g->nodes[id].op) == PK_REDUCE);
	const OpParams *p = node_params(g, id, d);
	return p ? &p->u.red : NULL;
}

const ChainParams *node_chain(Graph *g, NodeId id, Diag *d)
{
	assert(kind_of(g->nodes[id].op) == PK_CHAIN);
	const OpParams *p = node_params(g, id, d);
	return p ? &p->u.chain : NULL;
}

void node_params_reset(Node *n) { n->params = NULL; }

bool node_params_current(Graph *g, NodeId id)
{
	const Node *n = &g->nodes[id];
	if (!n->params)
		return true;
	OpParams tmp;
	if (n->params->op != n->op || !parse(g, n, &tmp, NULL))
		return false;
	return !memcmp(&tmp, n->params, sizeof tmp);
}

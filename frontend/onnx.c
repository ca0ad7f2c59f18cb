/* frontend/onnx.c — ModelProto -> Graph.
 *
 * One GraphProto is loaded in these steps (load_graph):
 *   1. initializers become VK_CONST values (string and sparse ones are
 *      only remembered: using one is a diagnostic);
 *   2. graph inputs that are not initializers become VK_INPUT values;
 *   3. every node output gets a value (one producer per name); Constant
 *      nodes become VK_CONST values right away and emit no node;
 *   4. node inputs are resolved by name ("" = omitted = IR_NONE);
 *   5. the nodes are sorted topologically (depth-first from the file order,
 *      so an already sorted graph keeps its order; a cycle is reported).
 *      Values a node's subgraphs read from this graph count as inputs;
 *   6. nodes and their attributes are added to the Graph in that order;
 *   7. graph outputs are marked, and output / value_info types are applied
 *      as dtype and shape hints to values that have none.
 * A GRAPH attribute (If/Loop/Scan bodies) is loaded the same way into a
 * separate Graph owned by the top-level one.  A subgraph may use values
 * of the enclosing scopes: such a name becomes a VK_INPUT value of the
 * subgraph that is not listed in its g->inputs (a capture).
 */
#include "onnx.h"
#include "onnx_priv.h"
#include "onnx_schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { MAX_GRAPH_DEPTH = 32 };

typedef struct Loader {
	Diag *d;
	const char *path;
	const char *dir;       /* folder for external data */
	OnnxOwner *owner;
	int depth;             /* nesting of GRAPH attributes */
} Loader;

/* An initializer onnxcc cannot represent: using it is an error. */
typedef struct Unsupported {
	const char *name;
	const char *why;
} Unsupported;

/* Per-graph scratch state. */
typedef struct GraphLoad {
	Loader *L;
	Graph *g;
	bool nested;
	const Onnx__GraphProto *gp;
	Unsupported *unsup;
	int nunsup;
	int *src_node;      /* per ValueId: index of the producing NodeProto, -1 */
	int cap_src;
	ValueId **node_in;  /* per NodeProto: resolved inputs (NULL for Constant) */
	ValueId **node_out;
	ValueId **node_extra; /* per NodeProto: values its subgraphs use from here */
	size_t *n_extra;
	bool *folded;       /* per NodeProto: Constant folded into a value */
	const char **labels; /* per NodeProto: its name, or "#i" (file order) */
} GraphLoad;

static Graph *load_graph(Loader *L, const Onnx__GraphProto *gp, bool nested,
                         const OpsetImport *opsets, int nopsets);

static const char *S(const char *s) { return s ? s : ""; }

static bool is_default_domain(const char *dom)
{
	return !dom || !dom[0] || !strcmp(dom, "ai.onnx");
}

static void set_src(GraphLoad *G, ValueId v, int node)
{
	if (v >= G->cap_src) {
		int cap = G->cap_src ? G->cap_src : 64;
		while (cap <= v)
			cap *= 2;
		G->src_node = xrealloc(G->src_node, sizeof(int) * (size_t)cap);
		for (int i = G->cap_src; i < cap; i++)
			G->src_node[i] = -1;
		G->cap_src = cap;
	}
	G->src_node[v] = node;
}

static int get_src(const GraphLoad *G, ValueId v)
{
	return v >= 0 && v < G->cap_src ? G->src_node[v] : -1;
}

static const Unsupported *find_unsup(const GraphLoad *G, const char *name)
{
	for (int i = 0; i < G->nunsup; i++)
		if (!strcmp(G->unsup[i].name, name))
			return &G->unsup[i];
	return NULL;
}

/* ---- types -------------------------------------------------------------- */

/* Reads a TypeProto into dtype/shape.  Returns false after a diagnostic for
 * an unusable type; *is_tensor tells whether it was a tensor type at all
 * (non-tensor types are left for the caller to judge). */
static bool read_type(GraphLoad *G, const Onnx__TypeProto *tp, const char *what,
                      DType *dt, Shape *s, bool *is_tensor)
{
	Diag *d = G->L->d;
	*dt = DT_UNDEF;
	memset(s, 0, sizeof *s);
	s->rank = -1;
	*is_tensor = false;
	if (!tp)
		return true;
	if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
		return true;
	*is_tensor = true;
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	if (tt->has_elem_type && tt->elem_type != 0) {
		DType t = onnx_dtype(tt->elem_type);
		if (t == DT_UNDEF) {
			diag_error(d, "%s: unknown element type %d", what, (int)tt->elem_type);
			return false;
		}
		*dt = t;
	}
	if (!tt->shape)
		return true;
	if (tt->shape->n_dim > IR_MAX_RANK) {
		diag_error(d, "%s: rank %zu exceeds the supported maximum %d", what,
		           tt->shape->n_dim, IR_MAX_RANK);
		return false;
	}
	s->rank = (int)tt->shape->n_dim;
	for (int i = 0; i < s->rank; i++) {
		const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
		s->dims[i] = -1;
		if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
			if (dm->dim_value < 0) {
				diag_error(d, "%s: dimension %d is negative (%lld)", what, i,
				           (long long)dm->dim_value);
				return false;
			}
			s->dims[i] = dm->dim_value;
		} else if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
		           dm->dim_param && dm->dim_param[0]) {
			s->sym[i] = arena_strdup(&G->g->arena, dm->dim_param);
		}
	}
	return true;
}

static const char *type_kind(const Onnx__TypeProto *tp)
{
	switch (tp ? tp->value_case : ONNX__TYPE_PROTO__VALUE__NOT_SET) {
	case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "sequence";
	case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "map";
	case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "optional";
	case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "sparse tensor";
	default: return "untyped";
	}
}

/* Applies a declared type to a value that lacks dtype or shape. */
static bool apply_hint(GraphLoad *G, ValueId v, const Onnx__TypeProto *tp, const char *what)
{
	DType dt;
	Shape s;
	bool is_tensor;
	if (!read_type(G, tp, what, &dt, &s, &is_tensor))
		return false;
	Value *val = gval(G->g, v);
	if (!is_tensor || val->kind == VK_CONST)
		return true;
	if (val->dtype == DT_UNDEF)
		val->dtype = dt;
	if (val->shape.rank < 0)
		val->shape = s;
	return true;
}

/* ---- attributes ------------------------------------------------------- */

static const char *attr_type_name(int t)
{
	static const char *const names[] = {
		"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
		"STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO",
		"TYPE_PROTOS",
	};
	return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "?";
}

/* The attribute's type; for old files that leave `type` unset, the one
 * implied by which field is present (0 if none). */
static int attr_type(const Onnx__AttributeProto *ap)
{
	if (ap->has_type && ap->type != 0)
		return (int)ap->type;
	if (ap->has_f) return AK_FLOAT;
	if (ap->has_i) return AK_INT;
	if (ap->has_s) return AK_STRING;
	if (ap->t) return AK_TENSOR;
	if (ap->g) return AK_GRAPH;
	if (ap->n_floats) return AK_FLOATS;
	if (ap->n_ints) return AK_INTS;
	if (ap->n_strings) return AK_STRINGS;
	return 0;
}

static bool load_attr(GraphLoad *G, NodeId nid, const Onnx__AttributeProto *ap,
                      const char *label, const char *op_type)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const char *name = S(ap->name);
	if (!name[0]) {
		diag_node(d, label, op_type, -1, "attribute without a name");
		return false;
	}
	Node *n = &g->nodes[nid];
	if (node_attr(n, name)) {
		diag_node(d, label, op_type, -1, "attribute '%s' given twice", name);
		return false;
	}
	if (ap->ref_attr_name && ap->ref_attr_name[0]) {
		diag_node(d, label, op_type, -1, "attribute '%s' refers to a function attribute "
		          "('%s') outside a function", name, ap->ref_attr_name);
		return false;
	}
	int type = attr_type(ap);
	Attr *a;
	switch (type) {
	case AK_FLOAT:
		a = graph_add_attr(g, nid, name, AK_FLOAT);
		a->f = ap->f;
		return true;
	case AK_INT:
		a = graph_add_attr(g, nid, name, AK_INT);
		a->i = ap->i;
		return true;
	case AK_STRING:
		a = graph_add_attr(g, nid, name, AK_STRING);
		a->s = arena_strndup(&g->arena, ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
		a->slen = ap->s.len;
		return true;
	case AK_FLOATS:
	case AK_INTS:
	case AK_STRINGS: {
		size_t cnt = type == AK_FLOATS ? ap->n_floats : type == AK_INTS ? ap->n_ints : ap->n_strings;
		if (cnt > (size_t)INT32_MAX) {
			diag_node(d, label, op_type, -1, "attribute '%s' has too many values", name);
			return false;
		}
		a = graph_add_attr(g, nid, name, (AttrKind)type);
		a->n = (int)cnt;
		if (type == AK_FLOATS) {
			a->floats = arena_dup(&g->arena, ap->floats, sizeof(float) * cnt);
		} else if (type == AK_INTS) {
			a->ints = arena_dup(&g->arena, ap->ints, sizeof(int64_t) * cnt);
		} else {
			a->strings = arena_alloc(&g->arena, sizeof(char *) * (cnt ? cnt : 1));
			for (size_t i = 0; i < cnt; i++)
				a->strings[i] = arena_strndup(&g->arena,
				                              ap->strings[i].data ? (const char *)ap->strings[i].data : "",
				                              ap->strings[i].len);
		}
		return true;
	}
	case AK_TENSOR: {
		if (!ap->t) {
			diag_node(d, label, op_type, -1, "attribute '%s' (TENSOR) has no tensor", name);
			return false;
		}
		char what[400];
		snprintf(what, sizeof what, "node '%.150s' (%.100s): attribute '%.100s'", label, op_type, name);
		OnnxTensorCtx c = {d, G->L->dir, &g->arena, G->L->owner};
		Tensor t;
		if (!onnx_tensor_convert(&c, ap->t, what, &t))
			return false;
		a = graph_add_attr(g, nid, name, AK_TENSOR);
		a->t = arena_dup(&g->arena, &t, sizeof t);
		return true;
	}
	case AK_GRAPH: {
		if (!ap->g) {
			diag_node(d, label, op_type, -1, "attribute '%s' (GRAPH) has no graph", name);
			return false;
		}
		if (G->L->depth >= MAX_GRAPH_DEPTH) {
			diag_node(d, label, op_type, -1, "attribute '%s': subgraphs nested deeper "
			          "than %d", name, MAX_GRAPH_DEPTH);
			return false;
		}
		G->L->depth++;
		Graph *sub = load_graph(G->L, ap->g, true, g->opsets, g->nopsets);
		G->L->depth--;
		if (!sub) {
			diag_node(d, label, op_type, -1, "attribute '%s': subgraph could not be loaded", name);
			return false;
		}
		OnnxOwner *o = G->L->owner;
		if (o->nsubs == o->cap_subs) {
			o->cap_subs = o->cap_subs ? 2 * o->cap_subs : 4;
			o->subs = xrealloc(o->subs, sizeof(Graph *) * (size_t)o->cap_subs);
		}
		o->subs[o->nsubs++] = sub;
		a = graph_add_attr(g, nid, name, AK_GRAPH);
		a->g = sub;
		return true;
	}
	case 0:
		diag_node(d, label, op_type, -1, "attribute '%s' has no type", name);
		return false;
	default:
		diag_node(d, label, op_type, -1, "attribute '%s': attributes of type %s not supported",
		          name, attr_type_name(type));
		return false;
	}
}

/* ---- Constant nodes ---------------------------------------------------- */

/* Turns a Constant node into a VK_CONST value named after its output. */
static bool fold_constant(GraphLoad *G, const Onnx__NodeProto *np, const char *label)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	if (np->n_output != 1 || !np->output[0][0]) {
		diag_node(d, label, "Constant", -1, "expected one output, got %zu", np->n_output);
		return false;
	}
	if (np->n_input != 0) {
		diag_node(d, label, "Constant", -1, "expected no inputs, got %zu", np->n_input);
		return false;
	}
	const char *out = np->output[0];
	const Onnx__AttributeProto *val = NULL;
	int nval = 0;
	for (size_t i = 0; i < np->n_attribute; i++) {
		const char *an = S(np->attribute[i]->name);
		if (!strncmp(an, "value", 5) || !strcmp(an, "sparse_value")) {
			val = np->attribute[i];
			nval++;
		}
	}
	if (nval != 1) {
		diag_node(d, label, "Constant", -1, "expected exactly one value attribute, got %d", nval);
		return false;
	}
	const char *an = S(val->name);
	int type = attr_type(val);
	Tensor t;
	memset(&t, 0, sizeof t);
	if (!strcmp(an, "value") && type == AK_TENSOR && val->t) {
		char what[400];
		snprintf(what, sizeof what, "node '%.150s' (Constant): attribute 'value'", label);
		OnnxTensorCtx c = {d, G->L->dir, &g->arena, G->L->owner};
		if (!onnx_tensor_convert(&c, val->t, what, &t))
			return false;
	} else if (!strcmp(an, "value_float") && type == AK_FLOAT) {
		t.dtype = DT_F32;
		t.shape.rank = 0;
		t.nbytes = 4;
		t.data = arena_dup(&g->arena, &val->f, 4);
	} else if (!strcmp(an, "value_int") && type == AK_INT) {
		t.dtype = DT_I64;
		t.shape.rank = 0;
		t.nbytes = 8;
		t.data = arena_dup(&g->arena, &val->i, 8);
	} else if (!strcmp(an, "value_floats") && (type == AK_FLOATS || type == 0)) {
		t.dtype = DT_F32;
		t.shape.rank = 1;
		t.shape.dims[0] = (int64_t)val->n_floats;
		t.nbytes = 4 * val->n_floats;
		t.data = t.nbytes ? arena_dup(&g->arena, val->floats, t.nbytes) : arena_alloc(&g->arena, 1);
	} else if (!strcmp(an, "value_ints") && (type == AK_INTS || type == 0)) {
		t.dtype = DT_I64;
		t.shape.rank = 1;
		t.shape.dims[0] = (int64_t)val->n_ints;
		t.nbytes = 8 * val->n_ints;
		t.data = t.nbytes ? arena_dup(&g->arena, val->ints, t.nbytes) : arena_alloc(&g->arena, 1);
	} else if (!strcmp(an, "value_string") || !strcmp(an, "value_strings")) {
		diag_node(d, label, "Constant", -1, "attribute '%s': string tensors not supported", an);
		return false;
	} else if (!strcmp(an, "sparse_value")) {
		diag_node(d, label, "Constant", -1, "attribute 'sparse_value': sparse tensors not supported");
		return false;
	} else {
		diag_node(d, label, "Constant", -1, "attribute '%s' of type %s is not a valid value",
		          an, attr_type_name(type));
		return false;
	}
	ValueId v = graph_add_value(g, out, t.dtype, &t.shape);
	Value *cv = gval(g, v);
	cv->kind = VK_CONST;
	cv->data = t.data;
	cv->nbytes = t.nbytes;
	return true;
}

/* ---- the graph -------------------------------------------------------- */

/* Describes who already defines name (for the two-producers message). */
static const char *definer(GraphLoad *G, ValueId v, char *buf, size_t n)
{
	int src = get_src(G, v);
	if (src >= 0)
		snprintf(buf, n, "node '%s'", G->labels[src]);
	else if (gval(G->g, v)->kind == VK_CONST)
		snprintf(buf, n, "an initializer");
	else
		snprintf(buf, n, "a graph input");
	return buf;
}

/* A name from an enclosing scope, used inside a subgraph. */
static ValueId capture(GraphLoad *G, const char *name)
{
	ValueId v = graph_add_value(G->g, name, DT_UNDEF, NULL);
	gval(G->g, v)->kind = VK_INPUT;
	return v;
}

static bool load_initializers(GraphLoad *G)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const Onnx__GraphProto *gp = G->gp;
	bool ok = true;
	size_t nun = gp->n_initializer + gp->n_sparse_initializer;
	G->unsup = xcalloc(nun ? nun : 1, sizeof(Unsupported));
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *tp = gp->initializer[i];
		const char *name = S(tp->name);
		char what[300];
		snprintf(what, sizeof what, "initializer '%.250s'", name);
		if (!name[0]) {
			diag_error(d, "initializer #%zu has no name", i);
			ok = false;
			continue;
		}
		if (graph_find_value(g, name) != IR_NONE || find_unsup(G, name)) {
			diag_error(d, "%s is defined twice", what);
			ok = false;
			continue;
		}
		if (tp->has_data_type && tp->data_type == DT_STRING) {
			G->unsup[G->nunsup++] = (Unsupported){name, "string tensors not supported"};
			continue;
		}
		OnnxTensorCtx c = {d, G->L->dir, &g->arena, G->L->owner};
		Tensor t;
		if (!onnx_tensor_convert(&c, tp, what, &t)) {
			ok = false;
			continue;
		}
		ValueId v = graph_add_value(g, name, t.dtype, &t.shape);
		Value *val = gval(g, v);
		val->kind = VK_CONST;
		val->data = t.data;
		val->nbytes = t.nbytes;
	}
	for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
		const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
		const char *name = sp->values ? S(sp->values->name) : "";
		if (name[0])
			G->unsup[G->nunsup++] = (Unsupported){name, "sparse tensors not supported"};
	}
	return ok;
}

/* Room for n graph input or output ids in g's arena (at least one). */
static ValueId *io_array(Graph *g, size_t n)
{
	return arena_alloc(&g->arena, sizeof(ValueId) * (n ? n : 1));
}

/* Graph input/output #i (kind "input" or "output"): its name, and in what
 * its description for diagnostics; NULL after a diagnostic when the entry
 * has no name. */
static const char *io_name(Diag *d, const Onnx__ValueInfoProto *vi, const char *kind, size_t i,
                           char *what, size_t size)
{
	const char *name = S(vi->name);
	snprintf(what, size, "graph %s '%.250s'", kind, name);
	if (!name[0]) {
		diag_error(d, "graph %s #%zu has no name", kind, i);
		return NULL;
	}
	return name;
}

/* A graph input that is also an initializer: its declared dtype and static
 * dims must be those of the initializer (a symbolic dim is no conflict). */
static bool check_shadow(GraphLoad *G, const Onnx__ValueInfoProto *vi, const Value *c,
                         const char *what)
{
	DType dt;
	Shape s;
	bool is_tensor;
	if (!read_type(G, vi->type, what, &dt, &s, &is_tensor))
		return false;
	bool same = !is_tensor || ((dt == DT_UNDEF || dt == c->dtype) &&
	                           (s.rank < 0 || s.rank == c->shape.rank));
	for (int i = 0; same && is_tensor && i < s.rank; i++)
		same = s.dims[i] < 0 || s.dims[i] == c->shape.dims[i];
	if (!same) {
		char a[128], b[128];
		diag_error(G->L->d, "%s is declared %s%s but an initializer of that name is %s%s "
		           "(an initializer must match the input it shadows)", what,
		           dt == DT_UNDEF ? "?" : dtype_name(dt), shape_str(&s, a, sizeof a),
		           dtype_name(c->dtype), shape_str(&c->shape, b, sizeof b));
		return false;
	}
	return true;
}

static bool load_inputs(GraphLoad *G)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const Onnx__GraphProto *gp = G->gp;
	bool ok = true;
	g->inputs = io_array(g, gp->n_input);
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		char what[300];
		const char *name = io_name(d, vi, "input", i, what, sizeof what);
		if (!name) {
			ok = false;
			continue;
		}
		ValueId v = graph_find_value(g, name);
		if (v != IR_NONE && gval(g, v)->kind == VK_CONST) {
			/* an initializer listed as input (IR < 4; a default value
			 * from IR 4): compiled as a constant, so its declared type
			 * must agree with the data */
			if (!check_shadow(G, vi, gval(g, v), what))
				ok = false;
			continue;
		}
		if (find_unsup(G, name))
			continue;
		if (v != IR_NONE) {
			diag_error(d, "%s is listed twice", what);
			ok = false;
			continue;
		}
		DType dt;
		Shape s;
		bool is_tensor;
		if (!read_type(G, vi->type, what, &dt, &s, &is_tensor)) {
			ok = false;
			continue;
		}
		if (!G->nested && !is_tensor) {
			diag_error(d, "%s: %s types not supported (only tensors)", what, type_kind(vi->type));
			ok = false;
			continue;
		}
		if (!G->nested && dt == DT_UNDEF) {
			diag_error(d, "%s has no element type", what);
			ok = false;
			continue;
		}
		v = graph_add_value(g, name, dt, &s);
		gval(g, v)->kind = VK_INPUT;
		g->inputs[g->ninputs++] = v;
	}
	return ok;
}

/* Step 3: values for node outputs, Constant folding, opsets, labels. */
static bool define_outputs(GraphLoad *G)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const Onnx__GraphProto *gp = G->gp;
	bool ok = true;
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		const char *label = G->labels[i];
		const char *op_type = S(np->op_type);
		if (!op_type[0]) {
			diag_error(d, "node '%s' has no op_type", label);
			ok = false;
			continue;
		}
		if (graph_opset(g, np->domain) < 0) {
			diag_node(d, label, op_type, -1, "no opset imported for domain '%s'",
			          is_default_domain(np->domain) ? "ai.onnx" : np->domain);
			ok = false;
			continue;
		}
		/* Duplicate check before Constant folding, so both paths agree. */
		bool dup = false;
		for (size_t k = 0; k < np->n_output; k++) {
			const char *on = np->output[k];
			if (!on[0])
				continue;
			ValueId v = graph_find_value(g, on);
			if (v != IR_NONE || find_unsup(G, on)) {
				char buf[200];
				diag_node(d, label, op_type, -1, "output %zu: '%s' is already defined by %s",
				          k, on, v != IR_NONE ? definer(G, v, buf, sizeof buf) : "an initializer");
				ok = false;
				dup = true;
			}
			for (size_t j = 0; j < k; j++)
				if (!strcmp(np->output[j], on)) {
					diag_node(d, label, op_type, -1, "output %zu: '%s' is already output %zu",
					          k, on, j);
					ok = false;
					dup = true;
				}
		}
		if (dup)
			continue;
		if (is_default_domain(np->domain) && !strcmp(op_type, "Constant")) {
			if (fold_constant(G, np, label)) {
				G->folded[i] = true;
				set_src(G, g->nvalues - 1, -1);
			} else {
				ok = false;
			}
			continue;
		}
		G->node_out[i] = xmalloc(sizeof(ValueId) * (np->n_output ? np->n_output : 1));
		for (size_t k = 0; k < np->n_output; k++) {
			const char *on = np->output[k];
			if (!on[0]) {
				G->node_out[i][k] = IR_NONE;
				continue;
			}
			ValueId v = graph_add_value(g, on, DT_UNDEF, NULL);
			set_src(G, v, (int)i);
			G->node_out[i][k] = v;
		}
	}
	return ok;
}

/* Adds name to deps if it is a node output of this graph (the only kind
 * of value that constrains the order). */
static void add_dep(GraphLoad *G, const char *name, ValueId **deps, size_t *n, size_t *cap)
{
	if (!name || !name[0])
		return;
	ValueId v = graph_find_value(G->g, name);
	if (v == IR_NONE || get_src(G, v) < 0)
		return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		*deps = xrealloc(*deps, sizeof(ValueId) * *cap);
	}
	(*deps)[(*n)++] = v;
}

/* Collects the names a subgraph (and its own subgraphs) reads that this
 * graph's nodes produce.  ONNX forbids reusing an outer name inside a
 * subgraph, so every such name is a use of the outer value. */
static void collect_outer_uses(GraphLoad *G, const Onnx__GraphProto *sub, int depth,
                               ValueId **deps, size_t *n, size_t *cap)
{
	if (depth > MAX_GRAPH_DEPTH)
		return;   /* load_attr reports the nesting */
	for (size_t i = 0; i < sub->n_node; i++) {
		const Onnx__NodeProto *np = sub->node[i];
		for (size_t k = 0; k < np->n_input; k++)
			add_dep(G, np->input[k], deps, n, cap);
		for (size_t k = 0; k < np->n_attribute; k++) {
			const Onnx__AttributeProto *ap = np->attribute[k];
			if (ap->g)
				collect_outer_uses(G, ap->g, depth + 1, deps, n, cap);
			for (size_t j = 0; j < ap->n_graphs; j++)
				collect_outer_uses(G, ap->graphs[j], depth + 1, deps, n, cap);
		}
	}
	for (size_t i = 0; i < sub->n_output; i++)
		add_dep(G, sub->output[i]->name, deps, n, cap);
}

/* Step 4: resolve node inputs by name. */
static bool resolve_inputs(GraphLoad *G)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const Onnx__GraphProto *gp = G->gp;
	bool ok = true;
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		if (G->folded[i] || !G->node_out[i])
			continue;
		G->node_in[i] = xmalloc(sizeof(ValueId) * (np->n_input ? np->n_input : 1));
		for (size_t k = 0; k < np->n_input; k++) {
			const char *in = np->input[k];
			ValueId v = IR_NONE;
			if (in[0]) {
				v = graph_find_value(g, in);
				const Unsupported *u = v == IR_NONE ? find_unsup(G, in) : NULL;
				if (u) {
					diag_node(d, G->labels[i], S(np->op_type), (int)k, "'%s': %s", in, u->why);
					ok = false;
				} else if (v == IR_NONE && G->nested) {
					v = capture(G, in);
				} else if (v == IR_NONE) {
					diag_node(d, G->labels[i], S(np->op_type), (int)k, "'%s' is not defined", in);
					ok = false;
				}
			}
			G->node_in[i][k] = v;
		}
		size_t cap = 0;
		for (size_t k = 0; k < np->n_attribute; k++)
			if (np->attribute[k]->g)
				collect_outer_uses(G, np->attribute[k]->g, G->L->depth + 1,
				                   &G->node_extra[i], &G->n_extra[i], &cap);
	}
	return ok;
}

/* Step 5: depth-first topological sort (iterative).  Fills order[] with
 * NodeProto indices of the nodes to emit; returns their count, or -1 after
 * reporting a cycle. */
static int topo_sort(GraphLoad *G, int *order)
{
	const Onnx__GraphProto *gp = G->gp;
	int nn = (int)gp->n_node;
	unsigned char *state = xcalloc((size_t)(nn ? nn : 1), 1); /* 0 new, 1 open, 2 done */
	int *stack = xmalloc(sizeof(int) * (size_t)(nn ? nn : 1));
	size_t *pos = xcalloc((size_t)(nn ? nn : 1), sizeof(size_t));
	int nord = 0;
	for (int r = 0; r < nn; r++) {
		if (state[r] || !G->node_in[r])
			continue;
		int sp = 0;
		stack[sp++] = r;
		state[r] = 1;
		while (sp) {
			int top = stack[sp - 1];
			const Onnx__NodeProto *np = gp->node[top];
			bool pushed = false;
			while (pos[top] < np->n_input + G->n_extra[top]) {
				size_t k = pos[top]++;
				ValueId v = k < np->n_input ? G->node_in[top][k]
				                            : G->node_extra[top][k - np->n_input];
				int p = v == IR_NONE ? -1 : get_src(G, v);
				if (p < 0 || state[p] == 2)
					continue;
				if (state[p] == 1) {
					diag_node(G->L->d, G->labels[p], S(gp->node[p]->op_type), -1,
					          "is part of a cycle (its output '%s' is needed by node '%s' "
					          "before it can run)", gval(G->g, v)->name, G->labels[top]);
					nord = -1;
					goto out;
				}
				state[p] = 1;
				stack[sp++] = p;
				pushed = true;
				break;
			}
			if (pushed)
				continue;
			state[top] = 2;
			order[nord++] = top;
			sp--;
		}
	}
out:
	free(state);
	free(stack);
	free(pos);
	return nord;
}

/* The schema version of op in force at opset (the highest since_version
 * <= opset); NULL if op is not in the table.  *first gets the opset that
 * introduced op (0 if not in the table). */
static const OnnxSchema *schema_for(const char *op, int64_t opset, int *first)
{
	const OnnxSchema *best = NULL;
	*first = 0;
	for (int i = 0; i < onnx_nschemas; i++) {
		const OnnxSchema *s = &onnx_schemas[i];
		if (s->op[0] != op[0] || strcmp(s->op, op))
			continue;
		if (!*first || s->since < *first)
			*first = s->since;
		if (s->since <= opset && (!best || s->since > best->since))
			best = s;
	}
	return best;
}

/* The schema versions the ONNX specification marks deprecated (its
 * changelog's "Upsample-10 (deprecated)" and "Scatter-11 (deprecated)";
 * the only ai.onnx ones, as onnx.defs' OpSchema.deprecated has them): from
 * that opset on the op is no longer part of ai.onnx (onnx.checker refuses
 * it; Resize and ScatterElements replace them). */
static const struct { const char *op; int since; } deprecated_ops[] = {
	{"Upsample", 10},
	{"Scatter", 11},
};

/* Checks a default-domain node against ops.def and the ONNX schema in force
 * for its opset: its input and output counts, its required outputs named,
 * the op exists at that opset
 * (introduced at or below it, not deprecated at or below it), every
 * attribute is one the schema defines, with the type it defines. */
static bool check_schema(GraphLoad *G, const Node *n, const char *label)
{
	Diag *d = G->L->d;
	if (n->domain[0] || n->op == OP_UNKNOWN || (op_info[n->op].flags & OPF_FUSED))
		return true;
	/* Arity as ops.def has it (the same phrasing as shape inference). */
	const OpInfo *oi = &op_info[n->op];
	const char *what[2] = {"inputs", "outputs"};
	int cnt[2] = {n->nin, n->nout}, lo[2] = {oi->min_in, oi->min_out};
	int hi[2] = {oi->max_in, oi->max_out};
	for (int k = 0; k < 2; k++) {
		if (cnt[k] >= lo[k] && (hi[k] < 0 || cnt[k] <= hi[k]))
			continue;
		if (hi[k] < 0)
			diag_node(d, label, n->op_type, -1, "expected at least %d %s, got %d", lo[k],
			          what[k], cnt[k]);
		else if (lo[k] == hi[k])
			diag_node(d, label, n->op_type, -1, "expected %d %s, got %d", lo[k], what[k],
			          cnt[k]);
		else
			diag_node(d, label, n->op_type, -1, "expected %d to %d %s, got %d", lo[k], hi[k],
			          what[k], cnt[k]);
		return false;
	}
	/* An empty output name omits an optional output only: ops.def's first
	 * min_out outputs are required ones in every version of the schema
	 * (for LSTM/GRU/RNN min_out is 0), and the passes rely on them. */
	for (int k = 0; k < oi->min_out && k < n->nout; k++)
		if (n->out[k] == IR_NONE) {
			diag_node(d, label, n->op_type, -1, "output %d is required: it cannot be omitted "
			          "(an empty name)", k);
			return false;
		}
	int first;
	const OnnxSchema *s = schema_for(n->op_type, n->opset, &first);
	if (!first)
		return true;    /* not an ONNX op (cannot happen for ops.def rows) */
	if (!s) {
		diag_node(d, label, n->op_type, -1, "operator %s was introduced in opset %d; "
		          "the model imports ai.onnx opset %d", n->op_type, first, n->opset);
		return false;
	}
	for (size_t k = 0; k < sizeof deprecated_ops / sizeof *deprecated_ops; k++)
		if (!strcmp(n->op_type, deprecated_ops[k].op) && n->opset >= deprecated_ops[k].since) {
			diag_node(d, label, n->op_type, -1, "operator %s is deprecated from opset %d on; "
			          "the model imports ai.onnx opset %d", n->op_type, deprecated_ops[k].since,
			          n->opset);
			return false;
		}
	bool ok = true;
	for (int k = 0; k < n->nattr; k++) {
		const Attr *a = &n->attrs[k];
		const OnnxSchemaAttr *sa = NULL;
		for (int j = 0; j < s->nattrs; j++)
			if (!strcmp(s->attrs[j].name, a->name))
				sa = &s->attrs[j];
		if (!sa) {
			diag_node(d, label, n->op_type, -1, "attribute '%s' is not defined by %s-%d "
			          "(the schema in force at opset %d)", a->name, n->op_type, s->since,
			          n->opset);
			ok = false;
		} else if ((int)a->kind != sa->type) {
			diag_node(d, label, n->op_type, -1, "attribute '%s' must be of type %s "
			          "(%s-%d), got %s", a->name, attr_type_name(sa->type), n->op_type,
			          s->since, attr_type_name((int)a->kind));
			ok = false;
		}
	}
	return ok;
}

/* Step 6: add the nodes in order, with domain, opset and attributes. */
static bool emit_nodes(GraphLoad *G, const int *order, int nord)
{
	Graph *g = G->g;
	bool ok = true;
	for (int j = 0; j < nord; j++) {
		int i = order[j];
		const Onnx__NodeProto *np = G->gp->node[i];
		const char *dom = is_default_domain(np->domain) ? "" : np->domain;
		NodeId nid = graph_add_node(g, op_lookup(dom, np->op_type), np->op_type, S(np->name),
		                            G->node_in[i], (int)np->n_input,
		                            G->node_out[i], (int)np->n_output);
		Node *n = &g->nodes[nid];
		n->domain = dom[0] ? arena_strdup(&g->arena, dom) : "";
		int64_t ver = graph_opset(g, dom);
		n->opset = ver > INT32_MAX ? INT32_MAX : (int)ver;
		bool aok = true;
		for (size_t k = 0; k < np->n_attribute; k++)
			aok &= load_attr(G, nid, np->attribute[k], G->labels[i], np->op_type);
		ok &= aok && check_schema(G, &g->nodes[nid], G->labels[i]);
	}
	return ok;
}

/* Step 7: graph outputs and value_info hints. */
static bool load_outputs(GraphLoad *G)
{
	Diag *d = G->L->d;
	Graph *g = G->g;
	const Onnx__GraphProto *gp = G->gp;
	bool ok = true;
	g->outputs = io_array(g, gp->n_output);
	if (!G->nested && gp->n_output == 0) {
		diag_error(d, "the graph has no outputs (a model must have at least one)");
		return false;
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		const Onnx__ValueInfoProto *vi = gp->output[i];
		char what[300];
		const char *name = io_name(d, vi, "output", i, what, sizeof what);
		if (!name) {
			ok = false;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < i && !G->nested; j++)
			dup |= !strcmp(S(gp->output[j]->name), name);
		if (dup) {
			diag_error(d, "%s is listed twice", what);
			ok = false;
			continue;
		}
		ValueId v = graph_find_value(g, name);
		const Unsupported *u = v == IR_NONE ? find_unsup(G, name) : NULL;
		if (u) {
			diag_error(d, "%s: %s", what, u->why);
			ok = false;
			continue;
		}
		if (v == IR_NONE && G->nested)
			v = capture(G, name);
		if (v == IR_NONE) {
			diag_error(d, "%s is never produced", what);
			ok = false;
			continue;
		}
		if (!G->nested && vi->type &&
		    vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
			diag_error(d, "%s: %s types not supported (only tensors)", what, type_kind(vi->type));
			ok = false;
			continue;
		}
		if (!apply_hint(G, v, vi->type, what)) {
			ok = false;
			continue;
		}
		gval(g, v)->is_output = true;
		g->outputs[g->noutputs++] = v;
	}
	for (size_t i = 0; i < gp->n_value_info; i++) {
		const Onnx__ValueInfoProto *vi = gp->value_info[i];
		ValueId v = vi->name ? graph_find_value(g, vi->name) : IR_NONE;
		if (v == IR_NONE)
			continue;   /* a hint about a name nothing uses: harmless */
		char what[300];
		snprintf(what, sizeof what, "value_info '%.250s'", vi->name);
		ok &= apply_hint(G, v, vi->type, what);
	}
	return ok;
}

static Graph *load_graph(Loader *L, const Onnx__GraphProto *gp, bool nested,
                         const OpsetImport *opsets, int nopsets)
{
	Graph *g = graph_new(L->path);
	g->name = arena_strdup(&g->arena, S(gp->name));
	g->nopsets = nopsets;
	g->opsets = arena_alloc(&g->arena, sizeof(OpsetImport) * (size_t)(nopsets ? nopsets : 1));
	for (int i = 0; i < nopsets; i++) {
		g->opsets[i].domain = arena_strdup(&g->arena, opsets[i].domain);
		g->opsets[i].version = opsets[i].version;
	}

	size_t nn = gp->n_node;
	GraphLoad G = {L, g, nested, gp, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL};
	G.node_in = xcalloc(nn ? nn : 1, sizeof(ValueId *));
	G.node_out = xcalloc(nn ? nn : 1, sizeof(ValueId *));
	G.node_extra = xcalloc(nn ? nn : 1, sizeof(ValueId *));
	G.n_extra = xcalloc(nn ? nn : 1, sizeof(size_t));
	G.folded = xcalloc(nn ? nn : 1, sizeof(bool));
	G.labels = xcalloc(nn ? nn : 1, sizeof *G.labels);
	for (size_t i = 0; i < nn; i++) {
		const char *nm = S(gp->node[i]->name);
		G.labels[i] = nm[0] ? nm : arena_printf(&g->arena, "#%zu", i);
	}
	int *order = xmalloc(sizeof(int) * (nn ? nn : 1));

	bool ok = load_initializers(&G);
	ok &= load_inputs(&G);
	ok = ok && define_outputs(&G);
	ok = ok && resolve_inputs(&G);
	int nord = ok ? topo_sort(&G, order) : -1;
	ok = ok && nord >= 0;
	ok = ok && emit_nodes(&G, order, nord);
	ok = ok && load_outputs(&G);

	for (size_t i = 0; i < nn; i++) {
		free(G.node_in[i]);
		free(G.node_out[i]);
		free(G.node_extra[i]);
	}
	free(G.node_extra);
	free(G.n_extra);
	free(G.node_in);
	free(G.node_out);
	free(G.folded);
	free(G.labels);
	free(G.src_node);
	free(G.unsup);
	free(order);
	if (!ok) {
		graph_free(g);
		return NULL;
	}
	return g;
}

/* ---- entry points ------------------------------------------------------ */

/* protobuf-c allocates through xmalloc: running out of memory while
 * unpacking is the system error of ir/xalloc.c, not "not a valid model".
 * (free() releases it, so free_unpacked(m, NULL) stays right.) */
static void *pb_alloc(void *data, size_t n)
{
	(void)data;
	return xmalloc(n);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* Loads the model in buf.  map (NULL for onnx_load_from_memory) is the
 * mapping buf lies in: large raw_data is then left there (onnx_wire_strip)
 * and the Graph's owner takes the mapping over (*map is cleared). */
static Graph *load_model(const void *buf, size_t len, const char *path, OnnxMap *map, Diag *d)
{
	const char *saved = d->path;
	int errors0 = d->nerrors;
	path = path ? path : "<memory>";
	d->path = path;
	Graph *g = NULL;
	OnnxOwner *owner = xcalloc(1, sizeof *owner);
	char why[512];
	if (!onnx_wire_check(&onnx__model_proto__descriptor, buf, len, ONNX_MAX_MESSAGE_DEPTH,
	                     why, sizeof why)) {
		diag_error(d, "not a valid ONNX model (%s)", why);
		goto fail;
	}
	void *stripped = NULL;
	if (map) {
		size_t slen;
		stripped = onnx_wire_strip(buf, len, ONNX_RAW_REF_MIN, &slen, &owner->raw_refs,
		                           &owner->nraw_refs);
		if (stripped) {
			owner->model_map = *map;
			*map = (OnnxMap){0};
			buf = stripped;
			len = slen;
		}
	}
	owner->model = onnx__model_proto__unpack(&pb_allocator, len, buf);
	free(stripped);
	const Onnx__ModelProto *m = owner->model;
	if (!m) {
		diag_error(d, "not a valid ONNX model (protobuf parse failed)");
		goto fail;
	}
	if (!m->graph) {
		diag_error(d, "not a valid ONNX model (no graph)");
		goto fail;
	}
	if (m->ir_version < 1 || m->ir_version > ONNX_MAX_IR_VERSION) {
		diag_error(d, "ir_version %lld is outside the range onnxcc knows (1 to %d)",
		           (long long)m->ir_version, ONNX_MAX_IR_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *os = m->opset_import[i];
		if (is_default_domain(os->domain) &&
		    (os->version < 1 || os->version > onnx_max_opset)) {
			diag_error(d, "opset_import: ai.onnx opset %lld is outside the range onnxcc "
			           "knows (1 to %d)", (long long)os->version, onnx_max_opset);
			goto fail;
		}
		for (size_t k = 0; k < i; k++) {
			const Onnx__OperatorSetIdProto *o2 = m->opset_import[k];
			if (!strcmp(is_default_domain(os->domain) ? "" : os->domain,
			            is_default_domain(o2->domain) ? "" : o2->domain) &&
			    os->version != o2->version) {
				diag_error(d, "opset_import: domain '%s' imported twice (opsets %lld and "
				           "%lld)", is_default_domain(os->domain) ? "ai.onnx" : os->domain,
				           (long long)o2->version, (long long)os->version);
				goto fail;
			}
		}
	}
	Arena scratch = {0};
	OpsetImport *ops = arena_alloc(&scratch, sizeof(OpsetImport) * (m->n_opset_import + 1));
	int nops = 0;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *os = m->opset_import[i];
		ops[nops].domain = arena_strdup(&scratch, is_default_domain(os->domain) ? "" : os->domain);
		ops[nops].version = os->version;
		bool seen = false;
		for (int k = 0; k < nops; k++)
			seen |= !strcmp(ops[k].domain, ops[nops].domain);
		if (!seen)
			nops++;
	}
	Loader L = {d, path, onnx_dirname(&scratch, path), owner, 0};
	g = load_graph(&L, m->graph, false, ops, nops);
	if (g && d->nerrors != errors0) {
		/* Every failing step returns false, so this means a bug. */
		graph_free(g);
		g = NULL;
	}
	if (g) {
		g->ir_version = m->ir_version;
		g->producer = arena_strdup(&g->arena, S(m->producer_name));
		g->owner = owner;
		g->owner_free = onnx_owner_free;
	}
	arena_free(&scratch);
	if (!g)
		goto fail;
	d->path = saved;
	return g;
fail:
	if (d->nerrors == errors0)
		diag_error(d, "could not load the model");
	onnx_owner_free(owner);
	d->path = saved;
	return NULL;
}

/* See onnx.h.  buf is not kept: protobuf-c copies what the Graph needs
 * (the caller may free buf once this returns). */
Graph *onnx_load_from_memory(const void *buf, size_t len, const char *path, Diag *d)
{
	return load_model(buf, len, path, NULL, d);
}

/* See onnx.h.  The file stays mapped as long as the Graph when large
 * tensors point into it, else only while it is being unpacked. */
Graph *onnx_load(const char *path, Diag *d)
{
	const char *saved = d->path;
	d->path = path;
	void *base;
	size_t len;
	bool ok = onnx_map_input(path, &base, &len, d);
	d->path = saved;
	if (!ok)
		return NULL;
	OnnxMap map = {NULL, base, len};
	Graph *g = load_model(base ? base : "", len, path, base ? &map : NULL, d);
	if (map.base)
		munmap(map.base, map.len);
	return g;
}

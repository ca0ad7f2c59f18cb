/* ir/ir.c — dtypes, shapes, the op table, and graph construction. */
#include "ir.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ---------------------------------------------------------- */
static const struct {
	const char *name, *ctype;
	size_t size;
} dtypes[DT__COUNT] = {
	[DT_UNDEF] = {"?", "void", 0},
	[DT_F32] = {"f32", "float", 4},
	[DT_U8] = {"u8", "uint8_t", 1},
	[DT_I8] = {"i8", "int8_t", 1},
	[DT_U16] = {"u16", "uint16_t", 2},
	[DT_I16] = {"i16", "int16_t", 2},
	[DT_I32] = {"i32", "int32_t", 4},
	[DT_I64] = {"i64", "int64_t", 8},
	[DT_STRING] = {"string", "void", 0},
	[DT_BOOL] = {"bool", "bool", 1},
	[DT_F16] = {"f16", "uint16_t", 2},
	[DT_F64] = {"f64", "double", 8},
	[DT_U32] = {"u32", "uint32_t", 4},
	[DT_U64] = {"u64", "uint64_t", 8},
	[DT_C64] = {"c64", "void", 0},
	[DT_C128] = {"c128", "void", 0},
	[DT_BF16] = {"bf16", "uint16_t", 2},
};

const char *dtype_name(DType t) { return (unsigned)t < DT__COUNT ? dtypes[t].name : "?"; }
size_t dtype_size(DType t) { return (unsigned)t < DT__COUNT ? dtypes[t].size : 0; }
const char *dtype_ctype(DType t) { return (unsigned)t < DT__COUNT ? dtypes[t].ctype : "void"; }
bool dtype_is_float(DType t) { return t == DT_F32 || t == DT_F64 || t == DT_F16 || t == DT_BF16; }
bool dtype_is_int(DType t)
{
	switch (t) {
	case DT_U8: case DT_I8: case DT_U16: case DT_I16: case DT_I32:
	case DT_I64: case DT_U32: case DT_U64:
		return true;
	default:
		return false;
	}
}
bool dtype_is_signed(DType t)
{
	return t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64 || dtype_is_float(t);
}

/* ---- shapes ---------------------------------------------------------- */
bool shape_is_static(const Shape *s)
{
	if (s->rank < 0)
		return false;
	for (int i = 0; i < s->rank; i++)
		if (s->dims[i] < 0)
			return false;
	return true;
}

int64_t shape_numel(const Shape *s)
{
	if (!shape_is_static(s))
		return -1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		n *= s->dims[i];
	return n;
}

Shape shape_make(int rank, const int64_t *dims)
{
	Shape s;
	memset(&s, 0, sizeof s);
	assert(rank <= IR_MAX_RANK);
	s.rank = rank;
	for (int i = 0; i < rank; i++)
		s.dims[i] = dims ? dims[i] : -1;
	return s;
}

bool shape_eq(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

const char *shape_str(const Shape *s, char *buf, size_t n)
{
	if (s->rank < 0) {
		snprintf(buf, n, "[?]");
		return buf;
	}
	size_t k = 0;
	k += (size_t)snprintf(buf + k, n - k, "[");
	for (int i = 0; i < s->rank && k < n; i++) {
		const char *sep = i ? "," : "";
		if (s->dims[i] >= 0)
			k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)s->dims[i]);
		else if (s->sym[i])
			k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, s->sym[i]);
		else
			k += (size_t)snprintf(buf + k, n - k, "%s?", sep);
	}
	if (k < n)
		snprintf(buf + k, n - k, "]");
	return buf;
}

void shape_strides(const Shape *s, int64_t *strides)
{
	int64_t st = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		strides[i] = st;
		st *= s->dims[i];
	}
}

/* ---- op table -------------------------------------------------------- */
const OpInfo op_info[OP__COUNT] = {
	[OP_UNKNOWN] = {"<unknown>", 0, -1, 0, -1, 0},
#define OP(name, ilo, ihi, olo, ohi, fl, infer, fold, lower) [OP_##name] = {#name, ilo, ihi, olo, ohi, fl},
#include "ops.def"
#undef OP
};

const char *op_name(Op op)
{
	return (unsigned)op < OP__COUNT ? op_info[op].name : "<bad op>";
}

Op op_lookup(const char *domain, const char *op_type)
{
	if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0)
		return OP_UNKNOWN;
	for (int i = 1; i < OP__COUNT; i++)
		if (!(op_info[i].flags & OPF_FUSED) && strcmp(op_info[i].name, op_type) == 0)
			return (Op)i;
	return OP_UNKNOWN;
}

/* ---- graph ----------------------------------------------------------- */
Graph *graph_new(const char *path)
{
	Graph *g = xcalloc(1, sizeof *g);
	g->path = arena_strdup(&g->arena, path ? path : "");
	g->name = "";
	g->producer = "";
	return g;
}

void graph_free(Graph *g)
{
	if (!g)
		return;
	if (g->owner_free)
		g->owner_free(g->owner);
	free(g->values);
	free(g->nodes);
	free(g->name_index);
	arena_free(&g->arena);
	free(g);
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void index_insert(Graph *g, ValueId v)
{
	if ((g->nvalues + 1) * 2 > g->name_index_cap) {
		int cap = g->name_index_cap ? g->name_index_cap * 2 : 256;
		while (cap < (g->nvalues + 1) * 2)
			cap *= 2;
		free(g->name_index);
		g->name_index = xmalloc(sizeof(int32_t) * (size_t)cap);
		for (int i = 0; i < cap; i++)
			g->name_index[i] = IR_NONE;
		g->name_index_cap = cap;
		for (ValueId w = 0; w < g->nvalues; w++)
			if (w != v)
				index_insert(g, w);
	}
	uint32_t mask = (uint32_t)g->name_index_cap - 1;
	uint32_t h = hash_str(g->values[v].name) & mask;
	while (g->name_index[h] != IR_NONE)
		h = (h + 1) & mask;
	g->name_index[h] = v;
}

ValueId graph_find_value(Graph *g, const char *name)
{
	if (!g->name_index_cap || !name)
		return IR_NONE;
	uint32_t mask = (uint32_t)g->name_index_cap - 1;
	uint32_t h = hash_str(name) & mask;
	while (g->name_index[h] != IR_NONE) {
		if (strcmp(g->values[g->name_index[h]].name, name) == 0)
			return g->name_index[h];
		h = (h + 1) & mask;
	}
	return IR_NONE;
}

ValueId graph_add_value(Graph *g, const char *name, DType dt, const Shape *s)
{
	if (g->nvalues == g->cap_values) {
		g->cap_values = g->cap_values ? g->cap_values * 2 : 64;
		g->values = xrealloc(g->values, sizeof(Value) * (size_t)g->cap_values);
	}
	ValueId id = g->nvalues;
	Value *v = &g->values[id];
	memset(v, 0, sizeof *v);
	if (name && name[0]) {
		v->name = arena_strdup(&g->arena, name);
	} else {
		do
			v->name = arena_printf(&g->arena, "%%t%d", g->fresh_counter++);
		while (graph_find_value(g, v->name) != IR_NONE);
	}
	v->dtype = dt;
	if (s)
		v->shape = *s;
	else
		v->shape.rank = -1;
	v->producer = IR_NONE;
	g->nvalues++;
	index_insert(g, id);
	return id;
}

ValueId graph_add_const(Graph *g, const char *name, DType dt, const Shape *s, const void *data)
{
	ValueId id = graph_add_value(g, name, dt, s);
	Value *v = gval(g, id);
	v->kind = VK_CONST;
	int64_t n = shape_numel(s);
	assert(n >= 0);
	v->nbytes = (size_t)n * dtype_size(dt);
	v->data = arena_dup(&g->arena, data, v->nbytes);
	return id;
}

NodeId graph_add_node(Graph *g, Op op, const char *op_type, const char *name,
                      const ValueId *in, int nin, const ValueId *out, int nout)
{
	if (g->nnodes == g->cap_nodes) {
		g->cap_nodes = g->cap_nodes ? g->cap_nodes * 2 : 64;
		g->nodes = xrealloc(g->nodes, sizeof(Node) * (size_t)g->cap_nodes);
	}
	NodeId id = g->nnodes++;
	Node *n = &g->nodes[id];
	memset(n, 0, sizeof *n);
	n->op = op;
	n->op_type = arena_strdup(&g->arena, op_type ? op_type : op_name(op));
	n->name = arena_strdup(&g->arena, name ? name : "");
	n->domain = "";
	n->nin = nin;
	n->nout = nout;
	n->in = arena_dup(&g->arena, in, sizeof(ValueId) * (size_t)nin);
	n->out = arena_dup(&g->arena, out, sizeof(ValueId) * (size_t)nout);
	for (int i = 0; i < nout; i++)
		if (out[i] != IR_NONE)
			g->values[out[i]].producer = id;
	return id;
}

NodeId graph_insert_node(Graph *g, NodeId at, Op op, const char *op_type, const char *name,
                         const ValueId *in, int nin, const ValueId *out, int nout)
{
	assert(at >= 0 && at <= g->nnodes);
	NodeId last = graph_add_node(g, op, op_type, name, in, nin, out, nout);
	Node n = g->nodes[last];
	memmove(&g->nodes[at + 1], &g->nodes[at], sizeof(Node) * (size_t)(last - at));
	g->nodes[at] = n;
	/* a moved node's outputs follow it where it is their producer (a dead
	 * node may still list a value another node now produces); from the
	 * last, so that no value is moved twice */
	for (NodeId i = last; i > at; i--)
		for (int k = 0; k < g->nodes[i].nout; k++) {
			ValueId v = g->nodes[i].out[k];
			if (v != IR_NONE && g->values[v].producer == i - 1)
				g->values[v].producer = i;
		}
	/* after the moves: a dead node moved from `at` may list these too */
	for (int k = 0; k < nout; k++)
		if (out[k] != IR_NONE)
			g->values[out[k]].producer = at;
	return at;
}

Attr *graph_add_attr(Graph *g, NodeId nid, const char *name, AttrKind kind)
{
	Node *n = &g->nodes[nid];
	Attr *a = arena_alloc(&g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
	if (n->nattr)
		memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattr);
	n->attrs = a;
	n->params = NULL;   /* parsed from the old attributes */
	Attr *r = &a[n->nattr++];
	r->name = arena_strdup(&g->arena, name);
	r->kind = kind;
	return r;
}

Attr *graph_set_attr(Graph *g, NodeId nid, const char *name, AttrKind kind)
{
	Node *n = &g->nodes[nid];
	for (int i = 0; i < n->nattr; i++)
		if (!strcmp(n->attrs[i].name, name)) {
			n->params = NULL;   /* parsed from the old value */
			n->attrs[i].kind = kind;
			return &n->attrs[i];
		}
	return graph_add_attr(g, nid, name, kind);
}

void graph_replace_uses(Graph *g, ValueId from, ValueId to)
{
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			if (n->in[k] == from) {
				n->in[k] = to;
				n->params = NULL;   /* parsed against the old input */
			}
		}
	}
	for (int k = 0; k < g->noutputs; k++)
		if (g->outputs[k] == from)
			g->outputs[k] = to;
}

int graph_use_count(const Graph *g, ValueId v)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			c += n->in[k] == v;
	}
	for (int k = 0; k < g->noutputs; k++)
		c += g->outputs[k] == v;
	return c;
}

void graph_compact(Graph *g)
{
	int j = 0;
	for (int i = 0; i < g->nnodes; i++) {
		if (g->nodes[i].dead)
			continue;
		g->nodes[j] = g->nodes[i];
		for (int k = 0; k < g->nodes[j].nout; k++)
			if (g->nodes[j].out[k] != IR_NONE)
				g->values[g->nodes[j].out[k]].producer = j;
		j++;
	}
	g->nnodes = j;
}

int64_t graph_opset(const Graph *g, const char *domain)
{
	for (int i = 0; i < g->nopsets; i++) {
		const char *d = g->opsets[i].domain;
		bool def_a = !d || !d[0] || !strcmp(d, "ai.onnx");
		bool def_b = !domain || !domain[0] || !strcmp(domain, "ai.onnx");
		if ((def_a && def_b) || (d && domain && !strcmp(d, domain)))
			return g->opsets[i].version;
	}
	return -1;
}

/* ---- attributes ------------------------------------------------------ */
const Attr *node_attr(const Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attrs[i].name, name) == 0)
			return &n->attrs[i];
	return NULL;
}

int64_t attr_int(const Node *n, const char *name, int64_t def)
{
	const Attr *a = node_attr(n, name);
	return a && a->kind == AK_INT ? a->i : def;
}

float attr_float(const Node *n, const char *name, float def)
{
	const Attr *a = node_attr(n, name);
	if (a && a->kind == AK_FLOAT)
		return a->f;
	if (a && a->kind == AK_INT)
		return (float)a->i;
	return def;
}

const char *attr_string(const Node *n, const char *name, const char *def)
{
	const Attr *a = node_attr(n, name);
	return a && a->kind == AK_STRING ? a->s : def;
}

int attr_ints(const Node *n, const char *name, const int64_t **out)
{
	const Attr *a = node_attr(n, name);
	if (!a || a->kind != AK_INTS) {
		*out = NULL;
		return -1;
	}
	*out = a->ints;
	return a->n;
}

int attr_floats(const Node *n, const char *name, const float **out)
{
	const Attr *a = node_attr(n, name);
	if (!a || a->kind != AK_FLOATS) {
		*out = NULL;
		return -1;
	}
	*out = a->floats;
	return a->n;
}

const char *node_label(const Graph *g, const Node *n)
{
	static char buf[64];
	if (n->name && n->name[0])
		return n->name;
	snprintf(buf, sizeof buf, "#%d", (int)(n - g->nodes));
	return buf;
}

/* ---- constant access ------------------------------------------------- */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {
			exp = 127 - 15 + 1;
			while (!(man & 1024)) {
				man <<= 1;
				exp--;
			}
			man &= 1023;
			bits = sign | (exp << 23) | (man << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

double value_get_f64(const Value *v, int64_t i)
{
	const unsigned char *p = (const unsigned char *)v->data + (size_t)i * dtype_size(v->dtype);
	switch (v->dtype) {
	case DT_F32: { float x; memcpy(&x, p, 4); return x; }
	case DT_F64: { double x; memcpy(&x, p, 8); return x; }
	case DT_F16: { uint16_t x; memcpy(&x, p, 2); return half_to_float(x); }
	case DT_BF16: { uint16_t x; memcpy(&x, p, 2); uint32_t b = (uint32_t)x << 16; float f; memcpy(&f, &b, 4); return f; }
	case DT_U8: case DT_BOOL: return *p;
	case DT_I8: return (int8_t)*p;
	case DT_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
	case DT_I16: { int16_t x; memcpy(&x, p, 2); return x; }
	case DT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	case DT_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
	case DT_I64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
	case DT_U64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
	default: IR_UNREACHABLE("value_get_f64: dtype without numeric value");
	}
}

int64_t value_get_int(const Value *v, int64_t i)
{
	const unsigned char *p = (const unsigned char *)v->data + (size_t)i * dtype_size(v->dtype);
	switch (v->dtype) {
	case DT_I64: { int64_t x; memcpy(&x, p, 8); return x; }
	case DT_U64: { uint64_t x; memcpy(&x, p, 8); return (int64_t)x; }
	case DT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	case DT_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
	case DT_I16: { int16_t x; memcpy(&x, p, 2); return x; }
	case DT_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
	case DT_I8: return (int8_t)*p;
	case DT_U8: case DT_BOOL: return *p;
	default: return (int64_t)value_get_f64(v, i);
	}
}

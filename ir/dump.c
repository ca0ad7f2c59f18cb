/* ir/dump.c — the stable text form of a graph, what pass tests compare.
 *
 *   graph "name" opset ai.onnx=17
 *   input  %x : f32[1,3,8,8]
 *   const  %w : f32[4,3,3,3] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, ... (108 elements)}
 *   %y : f32[1,4,8,8] = Conv(%x, %w, _) {kernel_shape=[3,3], pads=[1,1,1,1]}  # conv1
 *   const  %p : f32[64,192]@panels = {...}
 *   output %y
 *
 * A value whose layout is not row-major (ir.h, Layout) has it after its
 * type: "f32[64,192]@panels".
 *
 * Deterministic: no pointers, attributes sorted by name, floats with %.9g
 * (float attributes always with a '.' or an exponent: "1.0", not "1"),
 * constants only when referenced by a live node or a graph output, in value
 * id order, with at most DUMP_ELEMS leading elements.  Omitted optional
 * inputs/outputs print as "_"; ops outside ai.onnx as "domain::Op".
 * Requires value ids in range (run ir_verify first on a suspect graph).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define DUMP_ELEMS 6

/* "%name"; generated names already start with '%' and are not doubled. */
static void put_ref(Graph *g, ValueId v, FILE *f)
{
	const char *name = gval(g, v)->name;
	fprintf(f, "%s%s", name[0] == '%' ? "" : "%", name);
}

static void put_type(Graph *g, ValueId v, FILE *f)
{
	char b[256];
	Value *val = gval(g, v);
	put_ref(g, v, f);
	fprintf(f, " : %s%s", dtype_name(val->dtype), shape_str(&val->shape, b, sizeof b));
	if (val->layout != LAYOUT_ROW_MAJOR)
		fprintf(f, "@%s", layout_name(val->layout));
}

static void put_string(const char *s, size_t n, FILE *f)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 32 || c >= 127)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Writes "{a, b, ... (N elements)}" for constant data of dtype dt. */
static void put_data(DType dt, const Shape *s, const void *data, FILE *f)
{
	int64_t n = shape_numel(s);
	if (n < 0 || !data || dtype_size(dt) == 0) {
		fputs("{...}", f);
		return;
	}
	Value tmp;
	memset(&tmp, 0, sizeof tmp);
	tmp.dtype = dt;
	tmp.data = data;
	fputc('{', f);
	int64_t shown = n < DUMP_ELEMS ? n : DUMP_ELEMS;
	for (int64_t i = 0; i < shown; i++) {
		if (i)
			fputs(", ", f);
		if (dtype_is_float(dt))
			fprintf(f, "%.9g", value_get_f64(&tmp, i));
		else if (dt == DT_U64)
			fprintf(f, "%llu", (unsigned long long)value_get_int(&tmp, i));
		else
			fprintf(f, "%lld", (long long)value_get_int(&tmp, i));
	}
	if (n > shown)
		fprintf(f, ", ... (%lld elements)", (long long)n);
	fputc('}', f);
}

/* A float attribute with %.9g, plus ".0" when that reads like an integer,
 * so ir_parse() can tell AK_FLOAT from AK_INT ("1.0" vs "1"). */
static void put_float(double v, FILE *f)
{
	char b[64];
	snprintf(b, sizeof b, "%.9g", v);
	fputs(b, f);
	if (strspn(b, "-0123456789") == strlen(b))
		fputs(".0", f);
}

static void put_attr(const Attr *a, FILE *f)
{
	fprintf(f, "%s=", a->name);
	switch (a->kind) {
	case AK_FLOAT:
		put_float((double)a->f, f);
		break;
	case AK_INT:
		fprintf(f, "%lld", (long long)a->i);
		break;
	case AK_STRING:
		put_string(a->s ? a->s : "", a->s ? a->slen : 0, f);
		break;
	case AK_FLOATS:
	case AK_INTS:
	case AK_STRINGS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++) {
			if (i)
				fputc(',', f);
			if (a->kind == AK_FLOATS)
				put_float((double)a->floats[i], f);
			else if (a->kind == AK_INTS)
				fprintf(f, "%lld", (long long)a->ints[i]);
			else
				put_string(a->strings[i], strlen(a->strings[i]), f);
		}
		fputc(']', f);
		break;
	case AK_TENSOR:
		if (a->t) {
			char b[256];
			fprintf(f, "tensor %s%s ", dtype_name(a->t->dtype), shape_str(&a->t->shape, b, sizeof b));
			put_data(a->t->dtype, &a->t->shape, a->t->data, f);
		} else {
			fputs("tensor ?", f);
		}
		break;
	case AK_GRAPH:
		fprintf(f, "graph \"%s\"", a->g && a->g->name ? a->g->name : "");
		break;
	default:
		fputs("?", f);
		break;
	}
}

static int cmp_attr(const void *x, const void *y)
{
	const Attr *a = *(const Attr *const *)x, *b = *(const Attr *const *)y;
	return strcmp(a->name, b->name);
}

static void put_node(Graph *g, Node *n, FILE *f)
{
	int nout = 0;
	for (int k = 0; k < n->nout; k++) {
		if (nout++)
			fputs(", ", f);
		if (n->out[k] == IR_NONE)
			fputs("_", f);
		else
			put_type(g, n->out[k], f);
	}
	if (nout)
		fputs(" = ", f);
	if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
		fprintf(f, "%s::", n->domain);
	fprintf(f, "%s(", n->op_type);
	for (int k = 0; k < n->nin; k++) {
		if (k)
			fputs(", ", f);
		if (n->in[k] == IR_NONE)
			fputs("_", f);
		else
			put_ref(g, n->in[k], f);
	}
	fputc(')', f);
	if (n->nattr) {
		const Attr **sorted = xmalloc(sizeof(Attr *) * (size_t)n->nattr);
		for (int i = 0; i < n->nattr; i++)
			sorted[i] = &n->attrs[i];
		qsort(sorted, (size_t)n->nattr, sizeof *sorted, cmp_attr);
		fputs(" {", f);
		for (int i = 0; i < n->nattr; i++) {
			if (i)
				fputs(", ", f);
			put_attr(sorted[i], f);
		}
		fputc('}', f);
		free(sorted);
	}
	if (n->name && n->name[0])
		fprintf(f, "  # %s", n->name);
	fputc('\n', f);
}

void ir_dump(Graph *g, FILE *f)
{
	const char *gname = g->name ? g->name : "";
	fputs("graph ", f);
	put_string(gname, strlen(gname), f);
	if (g->nopsets) {
		fputs(" opset", f);
		for (int i = 0; i < g->nopsets; i++) {
			const char *dom = g->opsets[i].domain;
			fprintf(f, "%s %s=%lld", i ? "," : "", dom && dom[0] ? dom : "ai.onnx",
			        (long long)g->opsets[i].version);
		}
	}
	fputc('\n', f);
	for (int k = 0; k < g->ninputs; k++) {
		fputs("input  ", f);
		put_type(g, g->inputs[k], f);
		fputc('\n', f);
	}
	/* constants referenced by live nodes or outputs, in id order */
	char *used = xcalloc((size_t)(g->nvalues ? g->nvalues : 1), 1);
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				used[n->in[k]] = 1;
	}
	for (int k = 0; k < g->noutputs; k++)
		used[g->outputs[k]] = 1;
	for (ValueId v = 0; v < g->nvalues; v++) {
		Value *val = gval(g, v);
		if (!used[v] || val->kind != VK_CONST)
			continue;
		fputs("const  ", f);
		put_type(g, v, f);
		fputs(" = ", f);
		put_data(val->dtype, &val->shape, val->data, f);
		fputc('\n', f);
	}
	free(used);
	for (int i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].dead)
			put_node(g, &g->nodes[i], f);
	for (int k = 0; k < g->noutputs; k++) {
		fputs("output ", f);
		put_ref(g, g->outputs[k], f);
		fputc('\n', f);
	}
}

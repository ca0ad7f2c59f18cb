/* ir/layout.c — value layouts (see the Layout enum in ir.h): their names,
 * which readers may read a value of a given layout, and the one helper
 * passes use to give a constant a layout.
 *
 * The rules, shared by ir_verify and the passes that choose a layout:
 *   panels  a constant f32 [K, N]; every live reader reads it as input 1
 *           of MatMul / MatMulEpi (and as no other input), or of Gemm,
 *           all readers in one orientation (MatMul's is Gemm's transB=0),
 *           so that one packed copy serves them; not a graph output.
 *   taps    a constant f32 [M, 1, kh, kw]; every live reader reads it as
 *           input 1 of DwConvNhwc; not a graph output.  DwConvNhwc reads
 *           its weights in no other layout.
 *   row-major  everything else.  A view node's output (Reshape, Flatten,
 *           Squeeze, Unsqueeze, Identity) has its input's layout.
 */
#include "ir.h"

#include <string.h>

static const char *const names[LAYOUT__COUNT] = {"row-major", "panels", "taps"};

const char *layout_name(Layout l)
{
	return (unsigned)l < LAYOUT__COUNT ? names[l] : "?";
}

Layout layout_lookup(const char *s, size_t n)
{
	for (int l = 0; l < LAYOUT__COUNT; l++)
		if (strlen(names[l]) == n && !memcmp(names[l], s, n))
			return (Layout)l;
	return LAYOUT__COUNT;
}

/* The orientation in which GEMM-like node n reads its input 1 as B:
 * 0 (B is [K, N]), 1 (B^T: Gemm transB), or -1 when n is no GEMM-like node
 * with a rank-2 B. */
static int gemm_orient(const Graph *g, const Node *n)
{
	if (n->nin < 2 || n->in[1] == IR_NONE || g->values[n->in[1]].shape.rank != 2)
		return -1;
	switch (n->op) {
	case OP_MatMul: case OP_MatMulEpi:
		return 0;
	case OP_Gemm:
		return attr_int(n, "transB", 0) != 0;
	default:
		return -1;
	}
}

bool layout_reader_ok(const Graph *g, const Node *n, int k, Layout l)
{
	switch (l) {
	case LAYOUT_ROW_MAJOR:
		return !(n->op == OP_DwConvNhwc && k == 1);
	case LAYOUT_PANELS:
		return k == 1 && gemm_orient(g, n) >= 0 && n->in[0] != n->in[1];
	case LAYOUT_TAPS:
		return k == 1 && n->op == OP_DwConvNhwc;
	default:
		return false;
	}
}

/* The value's own requirements (kind, dtype, rank) for layout l. */
bool layout_value_ok(const Value *v, Layout l)
{
	switch (l) {
	case LAYOUT_ROW_MAJOR:
		return true;
	case LAYOUT_PANELS:
		return v->kind == VK_CONST && v->dtype == DT_F32 && v->shape.rank == 2 && !v->is_output;
	case LAYOUT_TAPS:
		return v->kind == VK_CONST && v->dtype == DT_F32 && v->shape.rank == 4 && v->shape.dims[1] == 1 &&
		       !v->is_output;
	default:
		return false;
	}
}

/* Every live reader of w reads it as input 1 of a GEMM-like node, all in
 * one orientation. */
static bool gemm_readers_agree(const Graph *g, ValueId w)
{
	int orient = -1;
	for (NodeId i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			if (n->in[k] != w)
				continue;
			if (!layout_reader_ok(g, n, k, LAYOUT_PANELS))
				return false;
			int o = gemm_orient(g, n);
			if (orient >= 0 && o != orient)
				return false;
			orient = o;
		}
	}
	return true;
}

bool layout_readers_ok(const Graph *g, ValueId v, Layout l)
{
	if (l == LAYOUT_PANELS)
		return gemm_readers_agree(g, v);
	for (NodeId i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == v && !layout_reader_ok(g, n, k, l))
				return false;
	}
	return true;
}

ValueId layout_set_const(Graph *g, ValueId w, NodeId reader, int k, Layout l)
{
	Value *v = gval(g, w);
	if (v->layout == l)
		return w;
	if (v->layout == LAYOUT_ROW_MAJOR && layout_value_ok(v, l)) {
		v->layout = l;
		if (layout_readers_ok(g, w, l))
			return w;
		v->layout = LAYOUT_ROW_MAJOR;
	}
	/* a twin sharing the bytes, for this reader alone (and the readers
	 * that already read a twin of the same layout) */
	for (ValueId t = 0; t < g->nvalues; t++) {
		Value *o = gval(g, t);
		if (t != w && o->kind == VK_CONST && o->layout == l && o->data == v->data &&
		    o->dtype == v->dtype && shape_eq(&o->shape, &v->shape)) {
			g->nodes[reader].in[k] = t;
			if (layout_readers_ok(g, t, l))
				return t;
			g->nodes[reader].in[k] = w;
		}
	}
	Shape s = v->shape;
	char *name = arena_printf(&g->arena, "%s.%s", v->name, layout_name(l));
	ValueId t = graph_add_value(g, graph_find_value(g, name) == IR_NONE ? name : NULL, v->dtype, &s);
	v = gval(g, w);
	Value *tv = gval(g, t);
	tv->kind = VK_CONST;
	tv->data = v->data;
	tv->nbytes = v->nbytes;
	tv->layout = l;
	g->nodes[reader].in[k] = t;
	return t;
}

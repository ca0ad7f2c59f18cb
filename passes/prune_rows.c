/* passes/prune_rows.c — rows nobody reads are not computed.
 *
 * A classifier reads one token of its last block (ViT's class token:
 * Gather(LayerNorm(x), 0, axis 1) before the head), yet the exported
 * graph runs the block's projection, MLP and norms on every token.  Each
 * of those ops treats its rows independently, so computing only the
 * gathered rows gives the same values; the block's attention still reads
 * every token as keys and values, so the region stops there.
 *
 * requires: shapes inferred, constants folded; after fuse-gemm,
 *           fuse-layernorm, fuse-gelu and fuse-gather-gemm (it rewrites the
 *           MatMulEpi and LayerNormalization nodes they leave)
 * keeps:    topological order (a GatherRows for an input computed on every
 *           row is inserted right before its reader), value ids, graph
 *           outputs and their shapes
 * breaks:   node ids (inserted nodes); the shapes of the pruned values
 *
 * Pattern: G = Gather(x, idx) {axis = rank(x) - 2}, idx a constant
 * (scalar or 1-D, entries in range), x of shape [1, .., 1, T, C].  The
 * region is the largest set of values v, x included, such that v has the
 * shape [1, .., 1, T, Cv], is no graph output, is made by a row-wise node
 * P, and every reader of v is G or the producer of another region value,
 * reading v as a row-aligned input.  Row-wise nodes and their row-aligned
 * inputs: LayerNormalization over the last axis (X), MatMulEpi without a
 * row index (A, res), unary elementwise ops (X), Add/Sub/Mul/Div on f32
 * (an operand of the output's shape; the other operands must not vary
 * along T).  Each region node is rewritten to compute the rows S = idx
 * only (T becomes |S| in its output's shape): a row-aligned input from
 * outside the region is read through S (MatMulEpi's A by its row index,
 * any other input by a GatherRows inserted before the node), and G
 * becomes a Reshape of x.  Every row kept is computed by the same
 * operations as before, except that a GEMM left with too few rows for the
 * GEMM kernel (kern_gemm_ok) runs on the loop nest, which rounds its
 * products separately from its sums: the same values to rounding there.
 * (ViT-B's last block keeps its GEMMs on the kernel: the same bits.)
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct Region {
	Graph *g;
	const Uses *u;
	int64_t T;
	char *in;        /* in[v]: v is in the region (values of the graph) */
} Region;

/* v has shape [1, .., 1, T, C] (rank >= 2). */
static bool token_shape(const Value *v, int64_t T)
{
	int r = v->shape.rank;
	if (r < 2 || !shape_is_static(&v->shape) || v->shape.dims[r - 2] != T)
		return false;
	for (int i = 0; i < r - 2; i++)
		if (v->shape.dims[i] != 1)
			return false;
	return true;
}

/* Input k of node n is row-aligned (read row for row with its output),
 * broadcast (the same for every row), or neither (-1). */
enum { IN_ROW = 1, IN_BCAST = 0, IN_NO = -1 };

static int input_kind(Graph *g, const Node *n, int k, int64_t T)
{
	if (n->in[k] == IR_NONE)
		return IN_BCAST;
	const Value *x = gval(g, n->in[k]), *y = gval(g, n->out[0]);
	switch (n->op) {
	case OP_LayerNormalization: {
		int64_t ax = attr_int(n, "axis", -1);
		if (ax != -1 && ax != y->shape.rank - 1)
			return IN_NO;
		return k == 0 ? IN_ROW : (x->shape.rank <= 1 ? IN_BCAST : IN_NO);
	}
	case OP_MatMulEpi:
		if (k == 0 || k == 3)
			return IN_ROW;
		return k == 1 || k == 2 ? IN_BCAST : IN_NO;
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div:
		if (x->dtype != DT_F32)
			return IN_NO;
		if (shape_eq(&x->shape, &y->shape))
			return IN_ROW;
		/* broadcast: no dim of x lines up with T (right-aligned) */
		if (x->shape.rank < 2)
			return IN_BCAST;
		if (x->shape.dims[x->shape.rank - 2] == 1)
			return IN_BCAST;
		return IN_NO;
	default:
		if (op_info[n->op].flags & OPF_UNARY)
			return k == 0 ? IN_ROW : IN_NO;
		return IN_NO;
	}
	(void)T;
}

/* The producer of v is a row-wise node this pass can prune. */
static bool row_wise(Graph *g, ValueId v, int64_t T)
{
	const Value *x = gval(g, v);
	if (x->kind != VK_INTERMEDIATE || x->producer == IR_NONE || x->is_output || !token_shape(x, T))
		return false;
	const Node *p = &g->nodes[x->producer];
	if (p->dead || p->out[0] != v)
		return false;
	for (int k = 1; k < p->nout; k++)
		if (p->out[k] != IR_NONE)
			return false;
	if (p->op == OP_MatMulEpi && p->nin > 4 && p->in[4] != IR_NONE)
		return false;
	bool known = p->op == OP_LayerNormalization || p->op == OP_MatMulEpi || p->op == OP_Add ||
	             p->op == OP_Sub || p->op == OP_Mul || p->op == OP_Div ||
	             (op_info[p->op].flags & OPF_UNARY);
	if (!known || x->dtype != DT_F32)
		return false;
	for (int k = 0; k < p->nin; k++) {
		int kind = input_kind(g, p, k, T);
		if (kind == IN_NO || (kind == IN_ROW && !token_shape(gval(g, p->in[k]), T)))
			return false;
	}
	return true;
}

/* Grows the region upward from x, then drops values with a reader outside
 * it until every reader is G or a region producer reading a row input. */
static void grow(Region *R, ValueId x, NodeId gi)
{
	Graph *g = R->g;
	ValueId *stack = xmalloc(sizeof *stack * (size_t)g->nvalues);
	int sp = 0;
	R->in[x] = 1;
	stack[sp++] = x;
	while (sp) {
		const Node *p = &g->nodes[gval(g, stack[--sp])->producer];
		for (int k = 0; k < p->nin; k++) {
			ValueId v = p->in[k];
			if (v != IR_NONE && !R->in[v] && input_kind(g, p, k, R->T) == IN_ROW && row_wise(g, v, R->T)) {
				R->in[v] = 1;
				stack[sp++] = v;
			}
		}
	}
	free(stack);
	for (bool changed = true; changed;) {
		changed = false;
		for (ValueId v = 0; v < R->u->nvalues; v++) {
			if (!R->in[v])
				continue;
			bool ok = true;
			for (int j = R->u->off[v]; j < R->u->off[v + 1] && ok; j++) {
				NodeId r = R->u->node[j];
				if (r == gi)
					continue;
				const Node *n = &g->nodes[r];
				ok = n->nout >= 1 && n->out[0] != IR_NONE && R->in[n->out[0]];
				for (int k = 0; k < n->nin && ok; k++)
					if (n->in[k] == v)
						ok = input_kind(g, n, k, R->T) == IN_ROW;
			}
			if (!ok && v != x) {
				R->in[v] = 0;
				changed = true;
			} else if (!ok) {
				R->in[v] = 0; /* x itself has another reader: no region */
				return;
			}
		}
	}
}

static bool prune_at(Graph *g, const Uses *u, NodeId gi, Diag *d, bool *err)
{
	Node *G = &g->nodes[gi];
	if (G->nin != 2 || G->nout != 1 || G->in[0] == IR_NONE || G->in[1] == IR_NONE || G->out[0] == IR_NONE)
		return false;
	ValueId x = G->in[0];
	const Value *xv = gval(g, x), *iv = gval(g, G->in[1]);
	int r = xv->shape.rank;
	if (r < 2 || iv->kind != VK_CONST || !iv->data || !dtype_is_int(iv->dtype) || iv->shape.rank > 1)
		return false;
	int64_t ax = attr_int(G, "axis", 0);
	if (ax < 0)
		ax += r;
	int64_t T = r >= 2 ? xv->shape.dims[r - 2] : 0;
	if (ax != r - 2 || !token_shape(xv, T) || uses_count(g, u, x) != 1 || !row_wise(g, x, T))
		return false;
	int64_t S = shape_numel(&iv->shape);
	if (S < 1 || S >= T)
		return false;
	int32_t *rows = xmalloc(sizeof *rows * (size_t)S);
	for (int64_t i = 0; i < S; i++) {
		int64_t k = value_get_int(iv, i);
		if (k < 0)
			k += T;
		if (k < 0 || k >= T) {
			free(rows);
			return false; /* inference's diagnostic */
		}
		rows[i] = (int32_t)k;
	}
	Region R = {g, u, T, xcalloc((size_t)g->nvalues, 1)};
	grow(&R, x, gi);
	if (!R.in[x]) {
		free(R.in);
		free(rows);
		return false;
	}
	int64_t rd[1] = {S};
	Shape rs = shape_make(1, rd);
	ValueId rv = graph_add_const(g, NULL, DT_I32, &rs, rows);
	free(rows);
	/* region producers in node order (topological): prune each */
	int nv = u->nvalues;
	for (NodeId i = 0; i < g->nnodes && !*err; i++) {
		Node *n = &g->nodes[i];
		if (n->dead || n->nout < 1 || n->out[0] == IR_NONE || n->out[0] >= nv || !R.in[n->out[0]])
			continue;
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			if (v == IR_NONE || (v < nv && R.in[v]) || input_kind(g, n, k, T) != IN_ROW)
				continue;
			Shape as = gval(g, v)->shape;
			as.dims[as.rank - 2] = S;
			if (n->op == OP_MatMulEpi && k == 0) {
				/* A through the row index */
				ValueId in5[5] = {n->in[0], n->in[1], n->nin > 2 ? n->in[2] : IR_NONE,
				                  n->nin > 3 ? n->in[3] : IR_NONE, rv};
				ValueId *ni = arena_dup(&g->arena, in5, sizeof in5);
				n->in = ni;
				n->nin = 5;
				Attr *at = graph_add_attr(g, i, "a_shape", AK_INTS);
				at->n = as.rank;
				at->ints = arena_dup(&g->arena, as.dims, sizeof(int64_t) * (size_t)as.rank);
				n = &g->nodes[i];
				continue;
			}
			/* any other row input: a GatherRows before the node */
			ValueId gv = graph_add_value(g, NULL, DT_F32, &as);
			ValueId gin[2] = {v, rv};
			const char *name = arena_printf(&g->arena, "%s.rows", n->name && n->name[0] ? n->name : "prune");
			NodeId q = graph_insert_node(g, i, OP_GatherRows, NULL, name, gin, 2, &gv, 1);
			g->nodes[q].domain = "onnxcc";
			g->nodes[q].opset = 1;
			Attr *at = graph_add_attr(g, q, "shape", AK_INTS);
			at->n = as.rank;
			at->ints = arena_dup(&g->arena, as.dims, sizeof(int64_t) * (size_t)as.rank);
			if (!pass_infer_node(g, q, d)) {
				*err = true;
				break;
			}
			i++; /* the node moved up by one */
			if (gi >= q)
				gi++;
			n = &g->nodes[i];
			n->in[k] = gv;
		}
		if (*err)
			break;
		Value *y = gval(g, n->out[0]);
		y->shape.dims[y->shape.rank - 2] = S;
		n->params = NULL;
		if (!pass_infer_node(g, i, d))
			*err = true;
	}
	if (!*err) {
		/* G: x holds the rows S in order now */
		Shape ys = gval(g, g->nodes[gi].out[0])->shape;
		int64_t sd[1] = {ys.rank};
		Shape ss = shape_make(1, sd);
		ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, ys.dims);
		ValueId in[2] = {x, shp};
		node_rewrite(g, gi, OP_Reshape, 14, in, 2, 1, g->nodes[gi].name);
		if (!pass_infer_node(g, gi, d))
			*err = true;
	}
	free(R.in);
	return !*err;
}

bool pass_prune_rows(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Uses u;
	uses_build(g, &u);
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err; i++) {
		Node *n = &g->nodes[i];
		if (!n->dead && n->op == OP_Gather && prune_at(g, &u, i, d, &err)) {
			uses_free(&u);
			uses_build(g, &u);
		}
	}
	uses_free(&u);
	return !err;
}

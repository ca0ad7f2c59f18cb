/* passes/fuse_slice_gemm.c — a GEMM whose readers each take one block of
 * its output becomes one GEMM per block: the blocks are computed where
 * they are read, nothing else is computed, and no block is copied out.
 *
 * Transformer-XL projects q, k and v with one weight over the memory and
 * the segment, then slices: k and v are column blocks of all rows, q the
 * column block of the segment's rows only.  fuse-remap turns each slice
 * into a GatherRows; here each becomes its own product (q on the last
 * qlen rows only: the memory rows of q were computed and thrown away).
 *
 * requires: shapes inferred, constants folded; after fuse-remap (it makes
 *           the GatherRows read here) and fuse-gemm (a bias or activation
 *           is already on the GEMM); before fuse-gather-gemm
 * keeps:    topological order (each block's GEMM takes its reader's place,
 *           a Reshape to the reader's shape is inserted right after it),
 *           value ids, graph outputs
 * breaks:   node ids after each rewrite (nodes are inserted); leaves the
 *           GEMM dead for pass_dce
 *
 * A block whose rows all come from one input of a Concat (every dim
 * before the Concat's axis 1) reads that input instead, through a row
 * index only if it needs part of it.
 *
 * Pattern: g = MatMul(A, B) or MatMulEpi(A, B, [bias]) {act, scale}
 * without residual or row index, B a constant f32 [K, N], bias (if any) a
 * constant f32 [N]; its output y (M rows of N, M = numel(y) / N) is not a
 * graph output and every reader of y is a GatherRows of y whose rows, as
 * flat offsets into y, walk one rectangle y[r0 .. r0+Mb, c0 .. c0+w) in
 * row-major order; no two readers share a column.  Each reader becomes
 *   MatMulEpi(A, B[:, c0:c0+w], [bias[c0:c0+w]], _, [rows]) {act, scale}
 *   (rows = r0 .. r0+Mb-1 as a row index into A when Mb < M, a_shape
 *   [Mb, K]) followed by a Reshape to the reader's shape.  B, when nothing
 *   else reads it, hands its memory back (release_dead_const): its columns
 *   are held once while compiling, not twice.
 * Bits: every block's GEMM computes each of its elements by the same
 * operations in the same order as g did (one chain of multiply-adds over k
 * for every C element, then the same epilogue), provided both run on the
 * GEMM kernel or both on the loop nest.  kern_gemm_ok takes a product to
 * the kernel when N >= the vector width and M*N*K >= KERN_GEMM_MIN_WORK;
 * a block is therefore split off only when w >= KERN_GEMM_MAX_VLEN (the
 * widest vector of any target) and Mb*w*K >= KERN_GEMM_MIN_WORK, so on
 * every target g and its blocks take the same path.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"
#include "../codegen/kernels/kernels.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct Block {
	NodeId reader;
	int64_t r0, mb, c0, w;
} Block;

/* The rectangle reader p (a GatherRows of y, which has n columns) reads,
 * in row-major order; false when it reads anything else. */
static bool block_of(Graph *g, const Node *p, ValueId y, int64_t n, Block *b)
{
	if (p->op != OP_GatherRows || p->nin != 2 || p->nout != 1 || p->in[0] != y || p->in[1] == y ||
	    p->out[0] == IR_NONE)
		return false;
	const Value *ix = gval(g, p->in[1]), *yv = gval(g, y), *o = gval(g, p->out[0]);
	if (ix->kind != VK_CONST || !ix->data || ix->shape.rank != 1 || !shape_is_static(&o->shape))
		return false;
	int64_t R = ix->shape.dims[0], ny = shape_numel(&yv->shape), no = shape_numel(&o->shape);
	if (R < 1 || no % R != 0)
		return false;
	for (int64_t r = 0; r < R; r++)
		if (value_get_int(ix, r) < 0) /* a zero row: no rectangle of y */
			return false;
	int64_t u = no / R, e0 = value_get_int(ix, 0) * u;
	/* chunks of u per block row: the run of consecutive offsets from e0 */
	int64_t W = 1;
	while (W < R && value_get_int(ix, W) * u == e0 + W * u)
		W++;
	int64_t w = W * u, r0 = e0 / n, c0 = e0 % n;
	if (R % W != 0 || c0 + w > n)
		return false;
	int64_t mb = R / W;
	if ((r0 + mb) * n > ny)
		return false;
	for (int64_t r = 0; r < R; r++)
		if (value_get_int(ix, r) * u != (r0 + r / W) * n + c0 + (r % W) * u)
			return false;
	*b = (Block){0, r0, mb, c0, w};
	return true;
}

/* Columns c0 .. c0+w of the constant f32 matrix v ([rows, n]) as a new
 * constant [rows, w] (rows = 1 and rank 1 for a bias). */
static ValueId columns(Graph *g, ValueId v, int64_t c0, int64_t w)
{
	const Value *x = gval(g, v);
	int64_t n = x->shape.dims[x->shape.rank - 1], rows = shape_numel(&x->shape) / n;
	const float *src = x->data;
	Shape s = x->shape;
	s.dims[s.rank - 1] = w;
	ValueId r = graph_add_value(g, NULL, DT_F32, &s);
	Value *c = gval(g, r);
	float *d = arena_alloc(&g->arena, sizeof *d * (size_t)(rows * w));
	for (int64_t i = 0; i < rows; i++)
		memcpy(d + i * w, src + i * n + c0, sizeof *d * (size_t)w);
	c->kind = VK_CONST;
	c->nbytes = sizeof *d * (size_t)(rows * w);
	c->data = d;
	return r;
}

static int by_reader(const void *a, const void *b)
{
	NodeId x = ((const Block *)a)->reader, y = ((const Block *)b)->reader;
	return (x > y) - (x < y);
}

static bool split_at(Graph *g, const Uses *u, NodeId gi, Diag *d, bool *err)
{
	Node *n = &g->nodes[gi];
	if (n->nin < 2 || n->nout != 1 || n->in[0] == IR_NONE || n->in[1] == IR_NONE || n->out[0] == IR_NONE ||
	    (n->nin > 3 && n->in[3] != IR_NONE) || (n->nin > 4 && n->in[4] != IR_NONE))
		return false;
	const Value *bv = gval(g, n->in[1]), *av = gval(g, n->in[0]);
	if (bv->kind != VK_CONST || !bv->data || bv->dtype != DT_F32 || bv->shape.rank != 2 ||
	    av->dtype != DT_F32 || av->shape.rank < 1 || !shape_is_static(&av->shape))
		return false;
	int64_t K = bv->shape.dims[0], N = bv->shape.dims[1];
	if (K < 1 || N < 1 || av->shape.dims[av->shape.rank - 1] != K)
		return false;
	ValueId bias = n->nin > 2 ? n->in[2] : IR_NONE;
	if (bias != IR_NONE) {
		const Value *cv = gval(g, bias);
		if (cv->kind != VK_CONST || !cv->data || cv->dtype != DT_F32 || shape_numel(&cv->shape) != N)
			return false;
	}
	ValueId y = n->out[0];
	const Value *yv = gval(g, y);
	int nu = uses_count(g, u, y);
	if (nu < 1 || yv->is_output || !shape_is_static(&yv->shape))
		return false;
	int64_t M = shape_numel(&yv->shape) / N;
	Block *bl = xcalloc((size_t)nu, sizeof *bl);
	char *taken = xcalloc((size_t)N, 1);
	bool ok = true;
	for (int k = 0; k < nu && ok; k++) {
		NodeId p = u->node[u->off[y] + k];
		ok = block_of(g, &g->nodes[p], y, N, &bl[k]) && bl[k].w >= KERN_GEMM_MAX_VLEN &&
		     bl[k].mb * bl[k].w * K >= KERN_GEMM_MIN_WORK;
		bl[k].reader = p;
		for (int64_t c = 0; ok && c < bl[k].w; c++)
			ok = !taken[bl[k].c0 + c]++;
	}
	free(taken);
	if (!ok) {
		free(bl);
		return false;
	}
	const char *act = n->op == OP_MatMulEpi ? attr_string(n, "act", NULL) : NULL;
	float scale = n->op == OP_MatMulEpi ? attr_float(n, "scale", 1.0f) : 1.0f;
	ValueId A = n->in[0], B = n->in[1];
	const char *gname = n->name;
	node_kill(g, gi);
	gval(g, y)->producer = IR_NONE;
	qsort(bl, (size_t)nu, sizeof *bl, by_reader);
	/* readers from the last one, so the ids of the earlier ones stay valid */
	for (int k = nu - 1; k >= 0; k--) {
		Block *b = &bl[k];
		NodeId p = b->reader;
		ValueId Y = g->nodes[p].out[0];
		const char *name = arena_printf(&g->arena, "%s.cols%lld", gname && gname[0] ? gname : "gemm",
		                                (long long)b->c0);
		/* rows all from one input of a Concat (TXL's q: the segment's half
		 * of cat(memory, segment)): the block reads that input */
		ValueId Ab = A;
		int64_t Mb = M, off;
		ValueId part = concat_part(g, A, b->r0 * K, b->mb * K, &off);
		if (part != IR_NONE && off % K == 0 && gval(g, part)->shape.rank >= 1 &&
		    gval(g, part)->shape.dims[gval(g, part)->shape.rank - 1] == K) {
			Ab = part;
			Mb = shape_numel(&gval(g, part)->shape) / K;
			b->r0 -= off / K;
		}
		ValueId in[5] = {Ab, columns(g, B, b->c0, b->w), bias != IR_NONE ? columns(g, bias, b->c0, b->w) : IR_NONE,
		                 IR_NONE, IR_NONE};
		Shape ps = gval(g, Ab)->shape;
		if (b->mb < Mb) {
			int32_t *rows = xmalloc(sizeof *rows * (size_t)b->mb);
			for (int64_t r = 0; r < b->mb; r++)
				rows[r] = (int32_t)(b->r0 + r);
			int64_t rd[1] = {b->mb};
			Shape rs = shape_make(1, rd);
			in[4] = graph_add_const(g, NULL, DT_I32, &rs, rows);
			free(rows);
			int64_t ad[2] = {b->mb, K};
			ps = shape_make(2, ad);
		}
		ps.dims[ps.rank - 1] = b->w;
		bool same = shape_eq(&ps, &gval(g, Y)->shape);
		ValueId t = same ? Y : graph_add_value(g, NULL, DT_F32, &ps);
		node_rewrite(g, p, OP_MatMulEpi, 13, in, in[4] != IR_NONE ? 5 : (in[2] != IR_NONE ? 3 : 2), 1, name);
		Node *q = &g->nodes[p];
		q->out[0] = t;
		gval(g, t)->producer = p;
		if (in[4] != IR_NONE) {
			Attr *at = graph_add_attr(g, p, "a_shape", AK_INTS);
			int64_t ad[2] = {b->mb, K};
			at->n = 2;
			at->ints = arena_dup(&g->arena, ad, sizeof ad);
		}
		if (act && act[0]) {
			Attr *at = graph_add_attr(g, p, "act", AK_STRING);
			at->s = act;
			at->slen = strlen(act);
		}
		if (scale != 1.0f)
			graph_add_attr(g, p, "scale", AK_FLOAT)->f = scale;
		layout_set_const(g, in[1], p, 1, LAYOUT_PANELS);
		if (!pass_infer_node(g, p, d)) {
			*err = true;
			break;
		}
		if (!same) {
			Shape ys = gval(g, Y)->shape;
			int64_t sd[1] = {ys.rank};
			Shape ss = shape_make(1, sd);
			ValueId shp = graph_add_const(g, NULL, DT_I64, &ss, ys.dims);
			ValueId rin[2] = {t, shp};
			NodeId r = graph_insert_node(g, p + 1, OP_Reshape, NULL, name, rin, 2, &Y, 1);
			g->nodes[r].opset = 14;
			if (!pass_infer_node(g, r, d)) {
				*err = true;
				break;
			}
		}
	}
	free(bl);
	/* B's columns (and the bias's) are copies now: the original goes */
	if (!*err && !gval(g, B)->is_output && graph_use_count(g, B) == 0)
		release_dead_const(g, B);
	return !*err;
}

bool pass_fuse_slice_gemm(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Uses u;
	uses_build(g, &u);
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err; i++) {
		Op op = g->nodes[i].op;
		if (!g->nodes[i].dead && (op == OP_MatMul || op == OP_MatMulEpi) && split_at(g, &u, i, d, &err)) {
			uses_free(&u); /* nodes were inserted: ids moved */
			uses_build(g, &u);
		}
	}
	uses_free(&u);
	return !err;
}

/* passes/fuse_gather_gemm.c — a permutation of rows next to a GEMM is
 * folded into the GEMM's row access: the GEMM reads row rows[i] of its A
 * instead of a gathered copy (SReT's group attention: the token
 * permutation before the qkv projection and its inverse after the output
 * projection; a window partition or reverse that fuse-remap made one
 * GatherRows).
 *
 * requires: shapes inferred, constants folded; after fuse-gemm (it matches
 *           MatMul + bias + activation first) and fuse-remap (it makes the
 *           GatherRows read here)
 * keeps:    topological order (the GEMM keeps its place: it reads the
 *           gather's source, which is defined before the gather, and writes
 *           the output gather's value, whose readers follow that gather),
 *           value ids, graph outputs
 * breaks:   nothing; leaves dead nodes for pass_dce
 *
 * A row gather of R rows of u elements: Y = GatherRows(X, idx) with
 * numel(Y) / R == u, or Y = Gather(X, idx) {axis = rank(X) - 2} with idx a
 * rank-1 integer constant (entries in range, negative ones counted from
 * the end) and u = X's last dim: row b*J + j of Y is row b*D + idx[j] of X
 * (D = X's dim at axis, J = len(idx), b over the leading dims).  A
 * GatherRows of rows of m*u elements (fuse-remap takes the longest runs: a
 * window row of 4 tokens) is a row gather of m*R rows of u.
 *
 * Pattern, for a GEMM g = MatMul or MatMulEpi (without rows yet) whose B is
 * a constant f32 [K, N]:
 *   input side   A = row gather of X with u = K, A read by g alone and not
 *                a graph output:  g reads X with rows = the gather's rows;
 *   output side  Y2 = row gather of g's output y with u = N, y read by it
 *                alone and not a graph output, g without a residual:
 *                g writes Y2, reading A row rows[r2[r]] for row r (row r of
 *                Y2 is row r2[r] of y = act(A.B + bias) row by row).
 *   patch side   A = GatherRows(X, idx) of rows of u < K with K % u == 0
 *                (fuse-patchify's im2col: a row of A is K/u rows of X),
 *                read by g alone: g reads X with rows = idx and row_parts
 *                = K/u (no output side then), whether or not idx is a
 *                permutation (overlapping windows read a row of X more
 *                than once) and with its entries -1 (taps in the
 *                padding: parts of zeros, gemm.c pack_a_parts);
 * Either side, or both (the rows compose), the other two only when their
 * gather is a permutation of the rows (R = numel(X) / u, every row once):
 * the GEMM then computes what it computed before, on the same rows, each
 * C element by the same operations in the same order — bitwise the
 * unfused result (on the patch side the packed A block holds what the
 * gathered copy held: the same bits too).
 * After the output side, the epilogue steps the output gather stood in
 * front of become the GEMM's, as fuse-gemm would have made them
 * (fuse_gemm_tail): a scale by a constant scalar (SReT's residual
 * coefficient b in a x + b proj(..)) and the residual Add (Swin: x +
 * window_reverse(proj(..)); SReT: its a x), o = Add(s, q) | Add(q, s) with
 * q = r or Mul(r, d), r of Y2's shape computed before the GEMM.  A scale
 * or beta the GEMM already had is kept (per element, it commutes with the
 * rows).
 * The result is MatMulEpi(X, B, [bias], [res], rows) {a_shape, act,
 * row_parts}: rows an
 * i32 constant [R], a_shape the shape of the logical A (the gathered one,
 * or Y2's with the last dim K).  A row gather that is no permutation (a
 * row twice, a row left out) other than a patch gather, along another
 * axis, by a run-time index, or whose value something else reads, is left
 * unchanged.
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Rows of a row gather node p: *src the gathered value, rows[0..*R) (malloc'd)
 * the source rows, *u the row length.  NULL when p is no row gather. */
static int32_t *gather_rows_u(Graph *g, const Node *p, ValueId *src, int64_t *R, int64_t *u, bool zeros)
{
	if (!p || p->dead || p->nin != 2 || p->nout != 1 || p->in[0] == IR_NONE || p->in[1] == IR_NONE ||
	    p->out[0] == IR_NONE)
		return NULL;
	const Value *x = gval(g, p->in[0]), *ix = gval(g, p->in[1]), *y = gval(g, p->out[0]);
	if (ix->kind != VK_CONST || !ix->data || !dtype_is_int(ix->dtype) || ix->shape.rank != 1 ||
	    !shape_is_static(&x->shape) || !shape_is_static(&y->shape))
		return NULL;
	int64_t J = ix->shape.dims[0], nx = shape_numel(&x->shape);
	if (J < 1 || nx > INT32_MAX)
		return NULL;
	int32_t *rows = NULL;
	if (p->op == OP_GatherRows) {
		*u = shape_numel(&y->shape) / J;
		rows = xmalloc(sizeof *rows * (size_t)J);
		for (int64_t r = 0; r < J; r++) {
			rows[r] = (int32_t)value_get_int(ix, r); /* in range: infer_gather_rows */
			if (rows[r] < 0 && !zeros) { /* a zero row: no row of X */
				free(rows);
				return NULL;
			}
		}
		*R = J;
	} else if (p->op == OP_Gather) {
		int r = x->shape.rank;
		int64_t ax = attr_int(p, "axis", 0);
		if (r < 2 || (ax != r - 2 && ax != -2))
			return NULL;
		int64_t D = x->shape.dims[r - 2], lead = 1;
		for (int i = 0; i < r - 2; i++)
			lead *= x->shape.dims[i];
		*u = x->shape.dims[r - 1];
		if (*u < 1)
			return NULL;
		rows = xmalloc(sizeof *rows * (size_t)(lead * J));
		for (int64_t j = 0; j < J; j++) {
			int64_t k = value_get_int(ix, j);
			if (k < 0)
				k += D;
			if (k < 0 || k >= D) {
				free(rows);
				return NULL;
			}
			for (int64_t b = 0; b < lead; b++)
				rows[b * J + j] = (int32_t)(b * D + k);
		}
		*R = lead * J;
	} else {
		return NULL;
	}
	*src = p->in[0];
	return rows;
}

/* Rows of `want` elements of a row gather node p: *src the gathered value,
 * rows[0..*R) (malloc'd) the source rows.  A GatherRows of rows of m*want
 * elements (fuse-remap takes the longest runs: a window row of 4 tokens)
 * is m rows of want each.  NULL when p is no row gather in rows of want. */
static int32_t *gather_rows(Graph *g, const Node *p, int64_t want, ValueId *src, int64_t *R)
{
	int64_t u0;
	int32_t *rows = gather_rows_u(g, p, src, R, &u0, false);
	if (!rows || u0 == want)
		return rows;
	if (p->op != OP_GatherRows || u0 % want != 0 || *R * (u0 / want) > INT32_MAX) {
		free(rows);
		return NULL;
	}
	int64_t m = u0 / want;
	int32_t *fine = xmalloc(sizeof *fine * (size_t)(*R * m));
	for (int64_t r = 0; r < *R; r++)
		for (int64_t j = 0; j < m; j++)
			fine[r * m + j] = (int32_t)(rows[r] * m + j);
	free(rows);
	*R *= m;
	return fine;
}

/* rows[0..R) is a permutation of the nx/u rows of a value of nx elements. */
static bool is_permutation(const int32_t *rows, int64_t R, int64_t nx, int64_t u)
{
	if (u < 1 || nx % u != 0 || R != nx / u)
		return false;
	char *seen = xcalloc((size_t)R, 1);
	bool ok = true;
	for (int64_t r = 0; r < R && ok; r++) {
		ok = rows[r] >= 0 && rows[r] < R && !seen[rows[r]];
		if (ok)
			seen[rows[r]] = 1;
	}
	free(seen);
	return ok;
}

static bool fuse_at(Graph *g, const Uses *u, NodeId gi, Diag *d, bool *err)
{
	Node *n = &g->nodes[gi];
	if (n->nin < 2 || n->nout != 1 || n->in[0] == IR_NONE || n->in[1] == IR_NONE || n->out[0] == IR_NONE ||
	    (n->nin > 4 && n->in[4] != IR_NONE))
		return false;
	const Value *bv = gval(g, n->in[1]), *av = gval(g, n->in[0]);
	if (bv->kind != VK_CONST || bv->dtype != DT_F32 || bv->shape.rank != 2 || av->dtype != DT_F32 ||
	    av->shape.rank < 1)
		return false;
	int64_t K = bv->shape.dims[0], N = bv->shape.dims[1];
	if (K < 1 || N < 1 || av->shape.dims[av->shape.rank - 1] != K)
		return false;
	bool has_res = n->nin > 3 && n->in[3] != IR_NONE;

	/* input side */
	ValueId src = n->in[0];
	int64_t R = 0, parts = 1;
	int32_t *rows = NULL;
	NodeId pin = gval(g, n->in[0])->producer;
	if (pin != IR_NONE && uses_single(g, u, n->in[0]) == gi) {
		ValueId s;
		int64_t r;
		int32_t *t = gather_rows(g, &g->nodes[pin], K, &s, &r);
		int64_t u0 = K;
		bool patch = false;
		if (!t && g->nodes[pin].op == OP_GatherRows) {
			/* a patch gather: each row of A is K/u0 gathered rows of u0 */
			t = gather_rows_u(g, &g->nodes[pin], &s, &r, &u0, true);
			if (t && (u0 >= K || K % u0 != 0 || r % (K / u0) != 0)) {
				free(t);
				t = NULL;
			}
			patch = t != NULL;
		}
		if (t && (patch || is_permutation(t, r, shape_numel(&gval(g, s)->shape), u0))) {
			rows = t, src = s, R = r, parts = K / u0;
		} else {
			free(t);
			pin = IR_NONE;
		}
	} else {
		pin = IR_NONE;
	}
	/* output side */
	ValueId y = n->out[0], out = y;
	NodeId po = uses_single(g, u, y);
	if (po != IR_NONE && !has_res && parts == 1) {
		ValueId s;
		int64_t r;
		int32_t *t = gather_rows(g, &g->nodes[po], N, &s, &r);
		const Shape *os = &gval(g, g->nodes[po].out[0])->shape;
		if (t && s == y && os->rank >= 1 && os->dims[os->rank - 1] == N &&
		    is_permutation(t, r, shape_numel(&gval(g, y)->shape), N)) {
			if (!rows) { /* A read in place so far: rows of A are rows of y */
				R = r;
				rows = t;
			} else {
				int32_t *c = xmalloc(sizeof *c * (size_t)r);
				for (int64_t i = 0; i < r; i++)
					c[i] = rows[t[i]];
				free(rows);
				free(t);
				rows = c;
			}
			out = g->nodes[po].out[0];
		} else {
			free(t);
			po = IR_NONE;
		}
	} else {
		po = IR_NONE;
	}
	if (pin == IR_NONE && po == IR_NONE)
		return false;

	/* the logical A: the gathered A's shape, or the output gather's with
	 * the last dim K */
	Shape as = po != IR_NONE ? gval(g, out)->shape : gval(g, n->in[0])->shape;
	as.dims[as.rank - 1] = K;
	int64_t rdim[1] = {R};
	Shape rs = shape_make(1, rdim);
	ValueId rv = graph_add_const(g, NULL, DT_I32, &rs, rows);
	free(rows);
	n = &g->nodes[gi];
	ValueId in[5] = {src, n->in[1], n->nin > 2 ? n->in[2] : IR_NONE, n->nin > 3 ? n->in[3] : IR_NONE, rv};
	const char *act = n->op == OP_MatMulEpi ? attr_string(n, "act", NULL) : NULL;
	const Attr *sc = node_attr(n, "scale"), *be = node_attr(n, "beta");
	float scale = sc ? sc->f : 1.0f, beta = be ? be->f : 1.0f;
	Shape want = gval(g, out)->shape;
	if (pin != IR_NONE)
		node_kill(g, pin);
	if (po != IR_NONE) {
		node_kill(g, po);
		gval(g, y)->producer = IR_NONE;
	}
	node_rewrite(g, gi, OP_MatMulEpi, 13, in, 5, 1, g->nodes[gi].name);
	n = &g->nodes[gi];
	n->out[0] = out;
	gval(g, out)->producer = gi;
	Attr *at = graph_add_attr(g, gi, "a_shape", AK_INTS);
	at->n = as.rank;
	at->ints = arena_dup(&g->arena, as.dims, sizeof(int64_t) * (size_t)as.rank);
	if (act) {
		at = graph_add_attr(g, gi, "act", AK_STRING);
		at->s = act;
		at->slen = strlen(act);
	}
	if (sc)
		graph_add_attr(g, gi, "scale", AK_FLOAT)->f = scale;
	if (be)
		graph_add_attr(g, gi, "beta", AK_FLOAT)->f = beta;
	if (parts > 1)
		graph_add_attr(g, gi, "row_parts", AK_INT)->i = parts;
	if (!fuse_infer(g, gi, &want, d, err))
		return false;
	if (po != IR_NONE)
		fuse_gemm_tail(g, gi);
	return true;
}

bool pass_fuse_gather_gemm(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Uses u;
	uses_build(g, &u);
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err; i++) {
		Op op = g->nodes[i].op;
		if (!g->nodes[i].dead && (op == OP_MatMul || op == OP_MatMulEpi) && fuse_at(g, &u, i, d, &err)) {
			uses_free(&u); /* the GEMM now reads the gathers' sources */
			uses_build(g, &u);
		}
	}
	uses_free(&u);
	return !err;
}

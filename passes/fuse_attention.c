/* passes/fuse_attention.c — scaled dot-product attention as one op.
 *
 * requires: shapes inferred, constants folded (scales and biases are
 *           constants), aliases removed (no Identity/Dropout in the chain)
 * keeps:    topological order (the fused node takes the place of the last
 *           MatMul, after every value it reads), value ids, graph outputs
 * breaks:   nothing; leaves dead nodes for pass_dce
 *
 * Pattern (every intermediate used once, by the next node, and not a graph
 * output; all f32):
 *     s = MatMul(q', kT')                       q', kT' rank >= 2
 *         or Einsum(q', k') "Z i d, Z j d -> Z i j" (then k' is read as K,
 *         k_transposed=0) or "Z i d, Z d j -> Z i j" (as MatMul); the
 *         second product may be Einsum(p, v) "Z i j, Z j d -> Z i d"
 *         (einsum_bmm: torchvision's MaxViT writes its attention so)
 *     s = Mul(s, c) | Mul(c, s) | Div(s, c)     optional, c a scalar constant
 *     s = Add(s, bias) | Add(bias, s)           optional, bias broadcasts to s
 *         or Swin's shifted windows (either operand order):
 *         x = Reshape(Add(Reshape(Add(s, b1)), mask)) back to s's shape
 *     p = Softmax(s)                            over the last axis
 *     o = MatMul(p, v)
 * becomes  o = onnxcc::Attention(q, k, v[, bias]) {scale, k_transposed}.
 * The scale may also sit on q' or kT' (a scalar Mul/Div used only there);
 * all scales multiply into `scale`.  kT' = Transpose(k) swapping the last
 * two dims is read as k (k_transposed=0); any other kT' is read as given
 * (k_transposed=1).  When k (after that Transpose) or v is a Concat of two
 * tensors along the token axis (k: its second-to-last dim, or its last
 * with k_transposed=1; v: its second-to-last), read only here — the
 * skip-layer form, K/V of the preceding and the current layer — its two
 * inputs become the op's K and K2 (V and V2): the op reads the segments in
 * place and the Concat dies.  A Concat along another axis, of more than
 * two inputs or with a second reader stays and is read as one tensor.
 * Swin's two additions become one bias: a constant
 * b1 + mask computed here when both are constants, else the mask's Add
 * is rewritten to Add(b1, mask) (when b1 spans trailing dims common to the
 * two shapes and the sum keeps the Add's shape) and the Reshape after it
 * gives the bias.  Anything else — softmax over another
 * axis, a non-scalar scale, an intermediate with a second use — is left
 * unchanged.  Attention over more than ATTN_MAX_KEYS keys is left alone (the
 * lowering keeps a block of score rows on the stack).
 */
#include "pipeline.h"
#include "fuse.h"
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define ATTN_MAX_KEYS 16384

typedef struct Fuse {
	Graph *g;
	int *uses;      /* [nvalues] live uses (graph outputs count) */
	NodeId *user;   /* [nvalues] the last live user seen */
} Fuse;

/* The node producing v when v is used exactly once (so it may be absorbed),
 * it is live and has op `op`; otherwise NULL. */
static Node *sole(Fuse *F, ValueId v, Op op)
{
	Graph *g = F->g;
	if (v == IR_NONE || F->uses[v] != 1)
		return NULL;
	Value *x = gval(g, v);
	if (x->kind != VK_INTERMEDIATE || x->producer == IR_NONE || x->is_output)
		return NULL;
	Node *n = &g->nodes[x->producer];
	return !n->dead && n->op == op && n->nout >= 1 && n->out[0] == v ? n : NULL;
}

static bool is_f32(Graph *g, ValueId v)
{
	return v != IR_NONE && gval(g, v)->dtype == DT_F32;
}

static bool scalar_const(Graph *g, ValueId v, double *x)
{
	if (v == IR_NONE)
		return false;
	Value *c = gval(g, v);
	if (c->kind != VK_CONST || c->dtype != DT_F32 || shape_numel(&c->shape) != 1)
		return false;
	*x = value_get_f64(c, 0);
	return true;
}

/* n is Mul(x, c), Mul(c, x) or Div(x, c) with c a scalar f32 constant and
 * an output shaped like x: returns x's input index and multiplies *scale. */
static int scalar_scale(Graph *g, Node *n, double *scale)
{
	if (!n || n->nin != 2 || n->in[0] == IR_NONE || n->in[1] == IR_NONE)
		return -1;
	const Shape *os = &gval(g, n->out[0])->shape;
	double c;
	for (int k = 0; k < 2; k++) {
		if (n->op == OP_Div && k == 1)
			break;
		if (!scalar_const(g, n->in[1 - k], &c) || !shape_eq(&gval(g, n->in[k])->shape, os))
			continue;
		if (n->op == OP_Div && c == 0)
			return -1;
		*scale *= n->op == OP_Div ? 1.0 / c : c;
		return k;
	}
	return -1;
}

/* Strips a sole scalar Mul/Div producing *v into *scale; records the node. */
static bool strip_scale(Fuse *F, ValueId *v, double *scale, Node **kill, int *nkill)
{
	Node *m = sole(F, *v, OP_Mul);
	if (!m)
		m = sole(F, *v, OP_Div);
	int k = scalar_scale(F->g, m, scale);
	if (k < 0)
		return false;
	*v = m->in[k];
	kill[(*nkill)++] = m;
	return true;
}

/* Transpose n swaps the last two of its r dims and keeps the others. */
static bool swaps_last_two(Graph *g, const Node *n)
{
	const PermParams *t = node_perm(g, (NodeId)(n - g->nodes), NULL);
	int r = t ? t->rank : 0;
	if (r < 2)
		return false;
	for (int i = 0; i < r - 2; i++)
		if (t->perm[i] != i)
			return false;
	return t->perm[r - 2] == r - 1 && t->perm[r - 1] == r - 2;
}

static bool softmax_last_axis(Graph *g, const Node *n)
{
	int r = gval(g, n->in[0])->shape.rank;
	int64_t ax = attr_int(n, "axis", n->opset >= 13 ? -1 : 1);
	if (ax < 0)
		ax += r;
	return r >= 1 && ax == r - 1;
}

/* Swin: x = Reshape(Add(Reshape(Add(s, b1)), mask)) with b1 and mask
 * constants and x shaped like s. */
typedef struct WinBias {
	ValueId b1, mask, y1, y2;   /* y1 = s + b1, y2 = Reshape(y1) + mask */
	Node *a2;                   /* run-time form: a2 becomes Add(b1, mask) */
	int a2_slot;                /* its input that was Reshape(y1) */
	Shape sum;                  /* the shape of Add(b1, mask) */
} WinBias;

/* b1, aligned right, reads the same element at each flat index of y1 and
 * of y2 (the dims it spans are trailing dims common to both). */
static bool same_trailing(const Shape *b1, const Shape *y1, const Shape *y2)
{
	if (b1->rank > y1->rank || b1->rank > y2->rank)
		return false;
	for (int i = 1; i <= b1->rank; i++)
		if (y1->dims[y1->rank - i] != y2->dims[y2->rank - i])
			return false;
	return true;
}

/* On a match fills *w, sets *score = s and records the four nodes. */
static bool window_bias(Fuse *F, ValueId x, ValueId *score, WinBias *w, Node **kill, int *nkill)
{
	Graph *g = F->g;
	Node *r2 = sole(F, x, OP_Reshape);
	Node *a2 = r2 ? sole(F, r2->in[0], OP_Add) : NULL;
	if (!a2 || a2->nin != 2)
		return false;
	for (int k2 = 0; k2 < 2; k2++) {
		Value *mask = gval(g, a2->in[1 - k2]);
		Node *r1 = sole(F, a2->in[k2], OP_Reshape);
		Node *a1 = r1 ? sole(F, r1->in[0], OP_Add) : NULL;
		if (!a1 || a1->nin != 2 || mask->dtype != DT_F32)
			continue;
		const Shape *y1 = &gval(g, a1->out[0])->shape, *y2 = &gval(g, a2->out[0])->shape;
		if (!shape_eq(&gval(g, x)->shape, y1) || !shape_eq(&gval(g, r1->out[0])->shape, y2) ||
		    mask->shape.rank > y2->rank)
			continue;
		for (int k1 = 0; k1 < 2; k1++) {
			Value *b1 = gval(g, a1->in[1 - k1]);
			if (b1->dtype != DT_F32 || b1->shape.rank > y1->rank ||
			    !shape_eq(&gval(g, a1->in[k1])->shape, y1))
				continue;
			w->b1 = a1->in[1 - k1];
			w->mask = a2->in[1 - k2];
			w->y1 = a1->out[0];
			w->y2 = a2->out[0];
			w->a2 = NULL;
			if (b1->kind != VK_CONST || mask->kind != VK_CONST) {
				/* run-time form: a2 := Add(b1, mask) keeps y2's shape, r2
				 * reshapes it to y1's: the bias */
				Shape t = shape_make(0, NULL);
				int r = b1->shape.rank > mask->shape.rank ? b1->shape.rank : mask->shape.rank;
				t.rank = r;
				for (int i = 0; i < r; i++) {
					int ib = i - (r - b1->shape.rank), im = i - (r - mask->shape.rank);
					int64_t db = ib >= 0 ? b1->shape.dims[ib] : 1, dm = im >= 0 ? mask->shape.dims[im] : 1;
					if (db != dm && db != 1 && dm != 1)
						return false;
					t.dims[i] = db == 1 ? dm : db;
				}
				/* t may lack y2's leading 1s; same elements in the same order */
				bool same = t.rank <= y2->rank;
				for (int i = 0; same && i < y2->rank; i++) {
					int j = i - (y2->rank - t.rank);
					same = (j < 0 ? 1 : t.dims[j]) == y2->dims[i];
				}
				if (!same_trailing(&b1->shape, y1, y2) || !same)
					continue;
				w->sum = t;
				w->a2 = a2;
				w->a2_slot = k2;
				*score = a1->in[k1];
				kill[(*nkill)++] = r1;
				kill[(*nkill)++] = a1;
				return true;
			}
			*score = a1->in[k1];
			kill[(*nkill)++] = r2;
			kill[(*nkill)++] = a2;
			kill[(*nkill)++] = r1;
			kill[(*nkill)++] = a1;
			return true;
		}
	}
	return false;
}

/* Strides of s broadcast (numpy) to rank r. */
static void bcast_strides(const Shape *s, int r, int64_t *out)
{
	int64_t st[IR_MAX_RANK];
	shape_strides(s, st);
	for (int i = 0; i < r; i++) {
		int j = i - (r - s->rank);
		out[i] = j < 0 || s->dims[j] == 1 ? 0 : st[j];
	}
}

/* Element offset of flat index i of shape s under strides st. */
static int64_t offset_of(const Shape *s, const int64_t *st, int64_t i)
{
	int64_t o = 0;
	for (int d = s->rank - 1; d >= 0; d--) {
		o += i % s->dims[d] * st[d];
		i /= s->dims[d];
	}
	return o;
}

/* The constant b1 + mask in y1's shape: element i is b1 broadcast to y1
 * at i plus mask broadcast to y2 at i (y1 and y2 share the row-major
 * order: y2 is a reshape of y1). */
static ValueId window_bias_const(Graph *g, const WinBias *w)
{
	const Value *b1 = gval(g, w->b1), *mask = gval(g, w->mask);
	Shape y1 = gval(g, w->y1)->shape, y2 = gval(g, w->y2)->shape;
	int64_t n = shape_numel(&y1);
	float *out = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
	int64_t s1[IR_MAX_RANK], s2[IR_MAX_RANK];
	bcast_strides(&b1->shape, y1.rank, s1);
	bcast_strides(&mask->shape, y2.rank, s2);
	const float *pb = b1->data, *pm = mask->data;
	for (int64_t i = 0; i < n; i++)
		out[i] = pb[offset_of(&y1, s1, i)] + pm[offset_of(&y2, s2, i)];
	const char *name = arena_printf(&g->arena, "%s.bias_mask", gval(g, w->y1)->name);
	for (int i = 0; i < IR_MAX_RANK; i++)
		y1.sym[i] = NULL;
	ValueId c = graph_add_const(g, name, DT_F32, &y1, out);
	free(out);
	return c;
}

/* x is Concat(a, b) along axis r - from_end of its rank r, both parts
 * non-empty f32, and read once: returns the Concat (a, b in *a, *b). */
static Node *concat_segments(Fuse *F, ValueId x, int from_end, ValueId *a, ValueId *b)
{
	Graph *g = F->g;
	Node *cat = sole(F, x, OP_Concat);
	if (!cat || cat->nin != 2 || !is_f32(g, cat->in[0]) || !is_f32(g, cat->in[1]))
		return NULL;
	int r = gval(g, x)->shape.rank;
	int64_t ax = attr_int(cat, "axis", INT64_MIN);
	if (ax < 0)
		ax += r;
	if (ax != r - from_end)
		return NULL;
	for (int i = 0; i < 2; i++) {
		const Shape *si = &gval(g, cat->in[i])->shape;
		if (si->rank != r || si->dims[ax] < 1)
			return NULL;
	}
	*a = cat->in[0];
	*b = cat->in[1];
	return cat;
}

/* Einsum n is a batched matrix product of its two operands over their last
 * two dims: terms "Z i k, Z k j -> Z i j" (*b_rows = false: B is [k, j], as
 * MatMul's) or "Z i k, Z j k -> Z i j" (*b_rows = true: B's rows are the
 * output's columns), Z the same batch letters in the same order in all
 * three terms, i, j, k distinct and not in Z, no "...", and the two
 * operands' batch dims equal (no broadcasting).  PyTorch's
 * torch.einsum("B G H I D, B G H J D -> B G H I J", q, k) (MaxViT) is one;
 * spaces are ignored. */
static bool einsum_bmm(Graph *g, const Node *n, bool *b_rows)
{
	if (n->op != OP_Einsum || n->nin != 2 || n->nout != 1 || n->in[0] == IR_NONE || n->in[1] == IR_NONE)
		return false;
	const char *eq = attr_string(n, "equation", NULL);
	if (!eq)
		return false;
	char t[3][64];
	int len[3] = {0, 0, 0}, term = 0;
	for (const char *c = eq; *c; c++) {
		if (*c == ' ')
			continue;
		if (*c == ',' && term == 0) {
			term = 1;
		} else if (*c == '-' && c[1] == '>' && term == 1) {
			term = 2;
			c++;
		} else if (((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')) && len[term] < 63) {
			t[term][len[term]++] = *c;
		} else {
			return false; /* "...", a third operand, an implicit output */
		}
	}
	int r = len[2];
	if (term != 2 || r < 2 || len[0] != r || len[1] != r)
		return false;
	const Shape *sa = &gval(g, n->in[0])->shape, *sb = &gval(g, n->in[1])->shape;
	if (sa->rank != r || sb->rank != r)
		return false;
	for (int d = 0; d < r - 2; d++)
		if (t[0][d] != t[2][d] || t[1][d] != t[2][d] || sa->dims[d] != sb->dims[d])
			return false;
	char i = t[0][r - 2], k = t[0][r - 1], j = t[2][r - 1];
	if (t[2][r - 2] != i || i == k || i == j || j == k)
		return false;
	for (int d = 0; d < r - 2; d++)
		if (t[2][d] == i || t[2][d] == j || t[2][d] == k)
			return false;
	if (t[1][r - 2] == k && t[1][r - 1] == j)
		*b_rows = false;
	else if (t[1][r - 2] == j && t[1][r - 1] == k)
		*b_rows = true;
	else
		return false;
	return true;
}

/* The node producing v when it is a sole MatMul or an Einsum matrix product
 * (einsum_bmm; *b_rows as there, false for a MatMul); else NULL. */
static Node *sole_product(Fuse *F, ValueId v, bool *b_rows)
{
	*b_rows = false;
	Node *m = sole(F, v, OP_MatMul);
	if (m)
		return m;
	m = sole(F, v, OP_Einsum);
	return m && einsum_bmm(F->g, m, b_rows) ? m : NULL;
}

/* t is the scores: a sole matrix product, or a sole scalar Mul/Div of one. */
static bool reaches_matmul(Fuse *F, ValueId t)
{
	bool b_rows;
	if (sole_product(F, t, &b_rows))
		return true;
	Node *m = sole(F, t, OP_Mul);
	if (!m)
		m = sole(F, t, OP_Div);
	double dummy = 1;
	int k = scalar_scale(F->g, m, &dummy);
	return k >= 0 && sole_product(F, m->in[k], &b_rows);
}

static void count_uses(Fuse *F)
{
	Graph *g = F->g;
	memset(F->uses, 0, sizeof(int) * (size_t)g->nvalues);
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE) {
				F->uses[n->in[k]]++;
				F->user[n->in[k]] = i;
			}
	}
	for (int k = 0; k < g->noutputs; k++)
		F->uses[g->outputs[k]]++;
}

/* Tries the pattern around Softmax node sm; returns true when fused. */
static bool fuse_at(Fuse *F, NodeId smi, Diag *d, bool *err)
{
	Graph *g = F->g;
	Node *sm = &g->nodes[smi];
	if (sm->nin != 1 || sm->nout != 1 || !is_f32(g, sm->in[0]) || !softmax_last_axis(g, sm))
		return false;
	ValueId p = sm->out[0];
	if (F->uses[p] != 1 || gval(g, p)->is_output)
		return false;
	Node *mm2 = &g->nodes[F->user[p]];
	bool v_rows = false;
	if (mm2->dead || mm2->nin != 2 || mm2->in[0] != p || mm2->in[1] == p)
		return false;
	if (mm2->op != OP_MatMul && !(einsum_bmm(g, mm2, &v_rows) && !v_rows))
		return false;
	ValueId v = mm2->in[1];
	if (!is_f32(g, v) || gval(g, v)->shape.rank < 2 || gval(g, p)->shape.rank < 2)
		return false;

	Node *kill[18];
	int nkill = 0;
	kill[nkill++] = sm;
	double scale = 1.0;
	ValueId s = sm->in[0], bias = IR_NONE;
	/* optional bias */
	WinBias wb = {IR_NONE, IR_NONE, IR_NONE, IR_NONE, NULL, 0, {0}};
	bool win = window_bias(F, s, &s, &wb, kill, &nkill);
	if (!win) {
		Node *add = sole(F, s, OP_Add);
		if (add && add->nin == 2) {
			for (int k = 0; k < 2; k++) {
				ValueId o = add->in[1 - k];
				if (add->in[k] == IR_NONE || o == IR_NONE || !is_f32(g, o))
					continue;
				if (!shape_eq(&gval(g, add->in[k])->shape, &gval(g, s)->shape))
					continue;
				ValueId t = add->in[k];
				if (!reaches_matmul(F, t))
					continue;
				bias = o;
				s = t;
				kill[nkill++] = add;
				break;
			}
		}
	}
	/* optional scale on the scores */
	strip_scale(F, &s, &scale, kill, &nkill);
	bool k_rows; /* an Einsum reading K as [Nk, d]: no Transpose to look through */
	Node *mm1 = sole_product(F, s, &k_rows);
	if (!mm1 || mm1->nin != 2 || mm1->in[0] == IR_NONE || mm1->in[1] == IR_NONE)
		return false;
	kill[nkill++] = mm1;
	ValueId q = mm1->in[0], kt = mm1->in[1];
	if (!is_f32(g, q) || !is_f32(g, kt) || gval(g, q)->shape.rank < 2 || gval(g, kt)->shape.rank < 2)
		return false;
	strip_scale(F, &q, &scale, kill, &nkill);
	strip_scale(F, &kt, &scale, kill, &nkill);
	int k_transposed = k_rows ? 0 : 1;
	ValueId k = kt;
	Node *tr = NULL;
	if (!k_rows && kt != IR_NONE && gval(g, kt)->kind == VK_INTERMEDIATE && gval(g, kt)->producer != IR_NONE) {
		tr = &g->nodes[gval(g, kt)->producer];
		if (tr->dead || tr->op != OP_Transpose || tr->nin != 1 || !swaps_last_two(g, tr))
			tr = NULL;
	}
	bool k_alone = true; /* k read by a node this fusion removes only */
	if (tr) {
		k = tr->in[0];
		k_transposed = 0;
		if (F->uses[kt] == 1 && !gval(g, kt)->is_output)
			kill[nkill++] = tr;
		else
			k_alone = false;
		strip_scale(F, &k, &scale, kill, &nkill);
	}
	/* K and V as two segments each: a Concat along the token axis */
	ValueId k2 = IR_NONE, v2 = IR_NONE;
	Node *kcat = k_alone ? concat_segments(F, k, k_transposed ? 1 : 2, &k, &k2) : NULL;
	Node *vcat = concat_segments(F, v, 2, &v, &v2);
	const Shape *ss = &gval(g, mm1->out[0])->shape; /* the scores [..., Nq, Nk] */
	int64_t nk = ss->dims[ss->rank - 1];
	if (nk > ATTN_MAX_KEYS)
		return false;
	if (bias != IR_NONE && gval(g, bias)->shape.rank > gval(g, sm->in[0])->shape.rank)
		return false;
	if (kcat)
		kill[nkill++] = kcat;
	if (vcat)
		kill[nkill++] = vcat;
	assert(nkill <= 18);
	if (win && !wb.a2) {
		bias = window_bias_const(g, &wb);
	} else if (win) {
		F->uses[wb.a2->in[wb.a2_slot]]--;
		wb.a2->in[wb.a2_slot] = wb.b1;
		F->uses[wb.b1]++;
		gval(g, wb.a2->out[0])->shape = wb.sum;
		bias = sm->in[0];
	}

	/* rewrite: mm2 becomes the Attention node; the rest dies */
	for (int i = 0; i < nkill; i++) {
		Node *n = kill[i];
		n->dead = true;
		for (int o = 0; o < n->nout; o++)
			if (n->out[o] != IR_NONE && gval(g, n->out[o])->producer == (NodeId)(n - g->nodes))
				gval(g, n->out[o])->producer = IR_NONE;
		for (int o = 0; o < n->nin; o++)
			if (n->in[o] != IR_NONE)
				F->uses[n->in[o]]--;
	}
	for (int o = 0; o < mm2->nin; o++)
		F->uses[mm2->in[o]]--;
	int nin = k2 != IR_NONE || v2 != IR_NONE ? 6 : bias != IR_NONE ? 4 : 3;
	ValueId *in = arena_alloc(&g->arena, sizeof(ValueId) * 6);
	in[0] = q, in[1] = k, in[2] = v, in[3] = bias, in[4] = k2, in[5] = v2;
	for (int o = 0; o < nin; o++) {
		if (in[o] == IR_NONE)
			continue;
		F->uses[in[o]]++;
		F->user[in[o]] = (NodeId)(mm2 - g->nodes);
	}
	const char *name = sm->name && sm->name[0] ? sm->name : mm2->name;
	mm2->name = arena_printf(&g->arena, "%s.attention", name ? name : "");
	mm2->op = OP_Attention;
	mm2->op_type = "Attention";
	mm2->domain = "onnxcc";
	mm2->opset = 1;
	mm2->in = in;
	mm2->nin = nin;
	mm2->nattr = 0;
	mm2->attrs = NULL;
	mm2->params = NULL;
	NodeId id = (NodeId)(mm2 - g->nodes);
	graph_add_attr(g, id, "scale", AK_FLOAT)->f = (float)scale;
	if (k_transposed)
		graph_add_attr(g, id, "k_transposed", AK_INT)->i = 1;
	Shape want = gval(g, mm2->out[0])->shape;
	return fuse_infer(g, id, &want, d, err);
}

bool pass_fuse_attention(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	Fuse F = {g, NULL, NULL};
	/* window_bias adds constants; size for them (one per Softmax at most) */
	int cap = g->nvalues + g->nnodes + 1;
	F.uses = xcalloc((size_t)cap, sizeof(int));
	F.user = xcalloc((size_t)cap, sizeof(NodeId));
	count_uses(&F);
	bool err = false;
	for (NodeId i = 0; i < g->nnodes && !err; i++)
		if (!g->nodes[i].dead && g->nodes[i].op == OP_Softmax)
			fuse_at(&F, i, d, &err);
	free(F.uses);
	free(F.user);
	return !err;
}

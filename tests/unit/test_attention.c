/* tests/unit/test_attention.c — the fused Attention op.
 *
 * Lowering (codegen/lower_attention.c) against a double-precision
 * reference, at every vector width this host runs (4, 8, 16 lanes): Nq !=
 * Nk, dv != d, batch dims that broadcast between Q, K and V, K given
 * transposed, additive bias in several broadcast forms (per score, per
 * key for each batch entry, shared by the batch), several query-row blocks
 * with a short last one and key counts past one K block of the kernel, K^T
 * staged per batch entry (head dims 4 to 64, keys not a multiple of W); the
 * same outputs bitwise on 1, 2, 3 and 5 threads; operands read through
 * permutations and a selected first dim, and the output written through
 * a permutation (the perm_ and sel_ attributes of passes/fuse_transpose.c);
 * K and V as two segments each (inputs K2, V2, split at different points),
 * also in the scalar form of targets without a vector unit; the general
 * path's last keys as a product of their own and its pipelined row maxes,
 * its Q.K^T in its own tiles with the row maxes taken there, and its
 * score rows W-aligned with the softmax in three passes, bitwise equal to
 * the forms they replaced.
 * The fusion passes on the zoo: how many Attention nodes each model gets,
 * how many Softmax nodes and head split/merge Transposes it keeps.  (Pattern and near-miss cases
 * are pass files: tests/passes/attention_*.in.)
 */
#include "testutil.h"
#include "frontend/onnx.h"
#include "passes/pipeline.h"
#include "codegen/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void fill(float *x, size_t n, unsigned seed, float amp)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = amp * (float)((int)((seed >> 16) % 2001) - 1000) / 1000.0f;
	}
}

typedef struct Case {
	int r;                        /* output rank */
	int rank[4];                  /* q, k, v, bias (0: no bias) */
	int64_t dims[4][IR_MAX_RANK];
	int k_t;
	float scale;
	float bias_shift;             /* added to every bias value */
} Case;

static int64_t numel(int rank, const int64_t *d)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= d[i];
	return n;
}

/* Offset in a tensor of `rank` dims of the full index idx[0..r) (numpy
 * broadcast: aligned right, dims of 1 read at 0). */
static int64_t bofs(int rank, const int64_t *dims, int r, const int64_t *idx)
{
	int64_t o = 0;
	for (int i = 0; i < rank; i++) {
		int64_t x = dims[i] == 1 ? 0 : idx[r - rank + i];
		o = o * dims[i] + x;
	}
	return o;
}

static void reference(const Case *c, const float *const *x, const int64_t *od, double *ref)
{
	int r = c->r;
	int64_t nq = od[r - 2], dv = od[r - 1];
	const int64_t *qd = c->dims[0];
	int64_t d = qd[c->rank[0] - 1];
	int64_t nk = c->dims[2][c->rank[2] - 2];
	int64_t nb = numel(r - 2, od);
	double *s = malloc(sizeof(double) * (size_t)nk);
	int64_t idx[IR_MAX_RANK];
	for (int64_t b = 0; b < nb; b++) {
		int64_t rest = b;
		for (int i = r - 3; i >= 0; i--) {
			idx[i] = rest % od[i];
			rest /= od[i];
		}
		for (int64_t i = 0; i < nq; i++) {
			double m = -INFINITY;
			for (int64_t j = 0; j < nk; j++) {
				double acc = 0;
				for (int64_t t = 0; t < d; t++) {
					idx[r - 2] = i, idx[r - 1] = t;
					double qv = x[0][bofs(c->rank[0], c->dims[0], r, idx)];
					idx[r - 2] = c->k_t ? t : j, idx[r - 1] = c->k_t ? j : t;
					acc += qv * x[1][bofs(c->rank[1], c->dims[1], r, idx)];
				}
				acc *= c->scale;
				if (c->rank[3]) {
					idx[r - 2] = i, idx[r - 1] = j;
					acc += x[3][bofs(c->rank[3], c->dims[3], r, idx)];
				}
				s[j] = acc;
				m = fmax(m, acc);
			}
			double l = 0;
			for (int64_t j = 0; j < nk; j++)
				l += s[j] = exp(s[j] - m);
			for (int64_t e = 0; e < dv; e++) {
				double o = 0;
				for (int64_t j = 0; j < nk; j++) {
					idx[r - 2] = j, idx[r - 1] = e;
					o += s[j] / l * x[2][bofs(c->rank[2], c->dims[2], r, idx)];
				}
				ref[(b * nq + i) * dv + e] = o;
			}
		}
	}
	free(s);
}

/* Output dims of c (batch dims broadcast). */
static void out_dims(const Case *c, int64_t *od)
{
	int r = c->r;
	for (int i = 0; i < r - 2; i++) {
		od[i] = 1;
		for (int t = 0; t < 3; t++) {
			int k = i - (r - c->rank[t]);
			if (k >= 0 && c->dims[t][k] != 1)
				od[i] = c->dims[t][k];
		}
	}
	od[r - 2] = c->dims[0][c->rank[0] - 2];
	od[r - 1] = c->dims[2][c->rank[2] - 1];
}

static void run_case(const Case *c, const float *const *x, float *y)
{
	TuGraph g = tu_graph();
	static const char *const names[4] = {"q", "k", "v", "bias"};
	ValueId in[4];
	int nin = c->rank[3] ? 4 : 3;
	for (int t = 0; t < nin; t++)
		in[t] = tu_input(&g, names[t], DT_F32, c->rank[t], c->dims[t]);
	int64_t od[IR_MAX_RANK];
	out_dims(c, od);
	ValueId out = tu_output(&g, "o", DT_F32, c->r, od);
	NodeId n = tu_node(&g, OP_Attention, 1, in, nin, &out, 1);
	g.g->nodes[n].domain = "onnxcc";
	tu_attr_float(&g, "scale", c->scale);
	if (c->k_t)
		tu_attr_int(&g, "k_transposed", 1);
	const void *ins[4] = {x[0], x[1], x[2], x[3]};
	void *outs[1] = {y};
	tu_run(&g, ins, outs);
}

/* x[t] for the case's inputs q, k, v, bias (NULL where absent): seeded
 * values in [-amp, amp], the bias in [-3, 3]. */
static void case_inputs(const Case *c, float *x[4], unsigned seed, float amp)
{
	for (int t = 0; t < 4; t++) {
		x[t] = NULL;
		if (!c->rank[t])
			continue;
		size_t n = (size_t)numel(c->rank[t], c->dims[t]);
		x[t] = malloc(sizeof(float) * n);
		fill(x[t], n, seed + (unsigned)t, t == 3 ? 3.0f : amp);
		if (t == 3)
			for (size_t i = 0; i < n; i++)
				x[t][i] += c->bias_shift;
	}
}

static void attention_case(const Case *c, bool threads)
{
	float *x[4];
	case_inputs(c, x, 7u, 1.0f);
	/* a few masked-out scores (not with a bias constant along the keys:
	 * -1e4 on a whole row masks nothing, it only cancels in s - max) */
	if (c->rank[3] && c->dims[3][c->rank[3] - 1] != 1)
		for (int64_t i = 0; i < numel(c->rank[3], c->dims[3]); i += 7)
			x[3][i] = -1e4f;
	int64_t od[IR_MAX_RANK];
	out_dims(c, od);
	size_t ny = (size_t)numel(c->r, od);
	float *y = malloc(sizeof(float) * ny), *y0 = malloc(sizeof(float) * ny);
	double *ref = malloc(sizeof(double) * ny);
	reference(c, (const float *const *)x, od, ref);
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		memset(y, 0xff, ny * 4);
		run_case(c, (const float *const *)x, y);
		double e = 0;
		for (size_t i = 0; i < ny; i++)
			e = fmax(e, fabs(y[i] - ref[i]));
		if (!(e <= 2e-6))
			fprintf(stderr, "Attention case (Nq %lld, dv %lld) %s: max abs err %g\n",
			        (long long)od[c->r - 2], (long long)od[c->r - 1], tu_isas[t].name, e);
		assert_true(e <= 2e-6);
	}
	tu_isa_override = (CgIsa){0};
	if (threads) {
		tu_parallel = NULL;
		run_case(c, (const float *const *)x, y0);
		for (int k = 0; k < TU_NTHREADS; k++) {
			tu_threads(tu_thread_counts[k]);
			memset(y, 0xff, ny * 4);
			run_case(c, (const float *const *)x, y);
			assert_memory_equal(y, y0, ny * 4);
		}
		tu_threads(0);
	}
	for (int t = 0; t < 4; t++)
		free(x[t]);
	free(y), free(y0), free(ref);
}

static void test_lowering(void **state)
{
	(void)state;
	/* no bias; Nq != Nk, dv != d */
	Case a = {4, {4, 4, 4, 0}, {{2, 3, 37, 16}, {2, 3, 21, 16}, {2, 3, 21, 24}}, 0, 0.25f};
	attention_case(&a, false);
	/* bias per score shared by the batch; few keys (one masked vector) */
	Case b = {4, {4, 4, 4, 2}, {{2, 3, 13, 8}, {2, 3, 5, 8}, {2, 3, 5, 5}, {13, 5}}, 0, 0.5f};
	attention_case(&b, true);
	/* key padding mask per batch entry [B,1,1,Nk]; K transposed; Q, K, V
	 * batch dims broadcasting (Q [3,2], K [1,2], V [3,1]) */
	Case c = {4, {4, 4, 4, 4}, {{3, 2, 9, 12}, {1, 2, 12, 40}, {3, 1, 40, 7}, {3, 1, 1, 40}}, 1, 0.3f};
	attention_case(&c, false);
	/* relative-position bias [1,H,Nq,Nk]; several row blocks (a short last
	 * one) and keys spanning three K blocks of the P.V product */
	Case d = {4, {4, 4, 4, 4}, {{1, 2, 100, 64}, {1, 2, 700, 64}, {1, 2, 700, 32}, {1, 2, 100, 700}}, 0, 0.125f};
	attention_case(&d, true);
	/* rank 2, no batch: one task per block of rows */
	Case e = {2, {2, 2, 2, 1}, {{50, 4}, {33, 4}, {33, 3}, {33}}, 0, 1.0f};
	attention_case(&e, true);
	/* K^T staged once per batch entry (lower_attention.c stage_kt; so are
	 * a, b and e): head dims 32, 64 and 20 (a masked last vector of d),
	 * keys not a multiple of the vector, a batch entry split into several
	 * row blocks that share its staged K^T (g: 8 blocks of 13 rows) */
	Case f = {4, {4, 4, 4, 0}, {{2, 3, 49, 32}, {2, 3, 49, 32}, {2, 3, 49, 32}}, 0, 0.17677669f};
	attention_case(&f, false);
	Case g = {3, {3, 3, 3, 0}, {{1, 98, 64}, {1, 49, 64}, {1, 49, 64}}, 0, 0.125f};
	attention_case(&g, true);
	Case h = {3, {3, 3, 3, 0}, {{2, 45, 20}, {2, 37, 20}, {2, 37, 16}}, 0, 0.2f};
	attention_case(&h, false);
}

/* c gives the same bits with the test switch *off set (the reference
 * form) and clear, at every vector width of the host; what names the two
 * forms in the message. */
static void forms_same_bits(const Case *c, bool *off, unsigned seed, const char *what)
{
	float *x[4];
	case_inputs(c, x, seed, 1.5f);
	int64_t od[IR_MAX_RANK];
	out_dims(c, od);
	size_t ny = (size_t)numel(c->r, od);
	float *y = malloc(sizeof(float) * ny), *y0 = malloc(sizeof(float) * ny);
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		*off = true;
		run_case(c, (const float *const *)x, y0);
		*off = false;
		run_case(c, (const float *const *)x, y);
		if (memcmp(y, y0, ny * 4) != 0)
			fprintf(stderr, "Attention case (Nq %lld, dv %lld) %s: %s differ\n", (long long)od[c->r - 2],
			        (long long)od[c->r - 1], tu_isas[t].name, what);
		assert_memory_equal(y, y0, ny * 4);
	}
	tu_isa_override = (CgIsa){0};
	for (int t = 0; t < 4; t++)
		free(x[t]);
	free(y), free(y0);
}

/* The short-sequence path and the general path give the same bits for c
 * at every vector width of the host: the same scores, max, exps, row sum
 * order (vectors added lane by lane, lanes folded in halves) and P.V
 * chains. */
static void paths_same_bits(const Case *c)
{
	forms_same_bits(c, &cg_attn_small_off, 11u, "paths");
}

/* Short sequences (codegen/lower_attention_small.c: whole score rows in
 * registers, blocks of rows split evenly): Swin's 49-token windows with a
 * relative-position bias per head and a shift mask per window, odd head
 * dims (masked last vectors of d and dv), key counts that fill whole
 * vectors, one short vector or a narrowed tail, K read in place
 * (k_transposed) or staged, a bias per query row (constant along the keys),
 * more keys than queries, one key in the last score vector; 1/2/3/5
 * threads bitwise for several.  Each case also through the general path
 * (cg_attn_small_off), and both paths give the same bits
 * (paths_same_bits). */
static void test_small_sequences(void **state)
{
	(void)state;
	for (int off = 0; off < 2; off++) {
		cg_attn_small_off = off != 0;
		/* swin_t stage 1-like: 49 x 49 scores, d 32, bias [1,H,49,49] */
		Case a = {4, {4, 4, 4, 4}, {{4, 3, 49, 32}, {4, 3, 49, 32}, {4, 3, 49, 32}, {1, 3, 49, 49}}, 0, 0.17677669f};
		attention_case(&a, true);
		/* the shifted blocks: bias and mask per window and head [B,H,49,49] */
		Case b = {4, {4, 4, 4, 4}, {{4, 3, 49, 32}, {4, 3, 49, 32}, {4, 3, 49, 32}, {4, 3, 49, 49}}, 0, 0.17677669f};
		attention_case(&b, true);
		/* odd head dims: d 20, dv 12; 49 keys, 45 queries (blocks of 7 and 3) */
		Case c = {4, {4, 4, 4, 4}, {{2, 3, 45, 20}, {2, 3, 49, 20}, {2, 3, 49, 12}, {1, 3, 45, 49}}, 0, 0.22f};
		attention_case(&c, true);
		/* keys filling whole vectors (16, 64), and K transposed (read in place) */
		Case d = {3, {3, 3, 3, 3}, {{3, 30, 8}, {3, 16, 8}, {3, 16, 24}, {3, 30, 16}}, 0, 0.35f};
		attention_case(&d, false);
		Case e = {3, {3, 3, 3, 0}, {{2, 17, 33}, {2, 33, 64}, {2, 64, 40}}, 1, 0.18f};
		attention_case(&e, true);
		/* bias per query row (stride 0 along the keys); 3 keys, dv 1 */
		Case f = {4, {4, 4, 4, 4}, {{2, 2, 11, 5}, {2, 2, 3, 5}, {2, 2, 3, 1}, {2, 2, 11, 1}}, 0, 0.5f};
		attention_case(&f, true);
		/* MaxViT's grid attention shape: 49 tokens, d 32, no bias, many rows
		 * per batch entry split over several threads */
		Case g = {3, {3, 3, 3, 0}, {{5, 49, 32}, {5, 49, 32}, {5, 49, 32}}, 0, 0.17677669f};
		attention_case(&g, true);
		/* one key in the last score vector (the k1 form: those keys'
		 * exps of all the block's rows in one vector): 17 keys (16 and 8
		 * lanes), bias per score; 5 keys (4 lanes, blocks of more rows
		 * than lanes), bias per query row; 17 keys of K read in place */
		Case h = {4, {4, 4, 4, 4}, {{2, 3, 30, 8}, {2, 3, 17, 8}, {2, 3, 17, 12}, {1, 3, 30, 17}}, 0, 0.3f};
		attention_case(&h, true);
		Case i = {3, {3, 3, 3, 3}, {{3, 23, 6}, {3, 5, 6}, {3, 5, 9}, {3, 23, 1}}, 0, 0.4f};
		attention_case(&i, true);
		Case j = {3, {3, 3, 3, 0}, {{2, 19, 10}, {2, 10, 17}, {2, 17, 16}}, 1, 0.25f};
		attention_case(&j, false);
		if (off)
			continue;
		const Case *all[] = {&a, &b, &c, &d, &e, &f, &g, &h, &i, &j};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			paths_same_bits(all[i]);
	}
	cg_attn_small_off = false;
}

/* The general path with and without its tail-key product and pipelined
 * row maxes (cg_attn_tail_off: Q.K^T's edge tile, a max pass per row)
 * gives the same bits for c at every vector width of the host. */
static void tail_same_bits(const Case *c)
{
	forms_same_bits(c, &cg_attn_tail_off, 13u, "tail forms");
}

/* The general path's last keys (lower_attention.c score_tail: the last
 * nk % W scores of each row, up to W/2 of them, as K_tail . Q^T with the
 * query rows in lanes) and its softmax with each row's exp loop taking the
 * next row's max (softmax_rows), against the reference, bitwise on
 * 1/2/3/5 threads, and bitwise equal to the edge-tile form
 * (tail_same_bits): sret_t's 98-, 196- and 392-key shapes (2, 4 and 8
 * tail keys at 16 lanes), a bias per score, per key (padding mask) and per
 * query row, K transposed (read in place, not staged), fewer query rows
 * than lanes, a head dim that is not a multiple of W, several row blocks
 * with a short last one. */
static void test_tail_keys(void **state)
{
	(void)state;
	/* sret_t stage 0 windows: 98 keys, d 32, no bias */
	Case a = {4, {4, 4, 4, 0}, {{3, 2, 98, 32}, {3, 2, 98, 32}, {3, 2, 98, 32}}, 0, 0.17677669f};
	/* 196 keys, bias per score per head [1,H,Nq,Nk] */
	Case b = {4, {4, 4, 4, 4}, {{1, 2, 196, 32}, {1, 2, 196, 32}, {1, 2, 196, 32}, {1, 2, 196, 196}}, 0, 0.17677669f};
	/* 392 keys, 40 queries; key padding mask [B,1,1,Nk]; K transposed */
	Case c = {4, {4, 4, 4, 4}, {{2, 2, 40, 32}, {2, 2, 32, 392}, {2, 2, 392, 24}, {2, 1, 1, 392}}, 1, 0.17677669f};
	/* bias per query row [B,H,Nq,1]; 37 keys; 5 queries; d 20, dv 9 */
	Case d = {4, {4, 4, 4, 4}, {{2, 3, 5, 20}, {2, 3, 37, 20}, {2, 3, 37, 9}, {2, 3, 5, 1}}, 0, 0.3f};
	/* vit_b16-like: 197 keys (5 past 192), d 64, one batch entry of
	 * several row blocks */
	Case e = {3, {3, 3, 3, 0}, {{1, 197, 64}, {1, 197, 64}, {1, 197, 64}}, 0, 0.125f};
	const Case *all[] = {&a, &b, &c, &d, &e};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		attention_case(all[i], true);
		tail_same_bits(all[i]);
	}
}

/* The general path's Q.K^T in its own tiles with the row maxes taken there
 * (lower_attention.c qk_tiles, softmax_rows_m: row tiles of 8 rows at 32
 * registers, 4 at 16, over panels of 2 vectors of keys), against the
 * reference, bitwise on 1/2/3/5 threads, and bitwise equal to the GEMM
 * micro-kernels' product with the exp loop's next-row max
 * (cg_attn_qk_off), at every vector width of the host: sret_t's 392-key
 * block of 83 rows (9 tiles of 8, the last 11 rows as 6 + 5), a partial
 * last panel with no tail product (57 keys at 16 lanes: 32 + 25), fewer
 * keys than a panel (20), query rows of 13, 9 (8 + 1 split as 5 + 4) and
 * 3 (no full tile); a bias per score, per query row and per key, K
 * transposed (read in place: no staging), d 20 and 64; rows whose scores
 * are all negative with a partial last vector of keys (31) at every width.  The general path
 * is forced (cg_attn_small_off) for the short ones. */
static void qk_same_bits(const Case *c)
{
	forms_same_bits(c, &cg_attn_qk_off, 17u, "Q.K^T forms");
}

static void test_qk_tiles(void **state)
{
	(void)state;
	cg_attn_small_off = true;
	/* sret_t stage 0 global attention: 392 keys, 83-row blocks */
	Case a = {3, {3, 3, 3, 0}, {{1, 392, 32}, {1, 392, 32}, {1, 392, 32}}, 0, 0.17677669f};
	/* 57 keys, bias per score; 13 query rows */
	Case b = {4, {4, 4, 4, 4}, {{2, 2, 13, 32}, {2, 2, 57, 32}, {2, 2, 57, 24}, {1, 2, 13, 57}}, 0, 0.3f};
	/* 20 keys, bias per query row; 9 query rows; d 20 */
	Case c = {4, {4, 4, 4, 4}, {{2, 3, 9, 20}, {2, 3, 20, 20}, {2, 3, 20, 12}, {2, 3, 9, 1}}, 0, 0.25f};
	/* K transposed (contiguous along the keys), key padding mask; 3
	 * query rows; 100 keys; d 64 */
	Case d = {4, {4, 4, 4, 4}, {{2, 2, 3, 64}, {2, 2, 64, 100}, {2, 2, 100, 16}, {2, 1, 1, 100}}, 1, 0.125f};
	/* 31 keys: a partial last vector at every width (15, 7, 3 keys), no
	 * tail product; scores ~ a bias per key in [-7, -1] (scale 0.01, d
	 * 4), so that every score is negative and a lane past the keys taken
	 * into the max (a 0) would show */
	Case e = {4, {4, 4, 4, 4}, {{2, 2, 9, 4}, {2, 2, 31, 4}, {2, 2, 31, 8}, {2, 1, 1, 31}}, 0, 0.01f, -4.0f};
	const Case *all[] = {&a, &b, &c, &d, &e};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		attention_case(all[i], true);
		qk_same_bits(all[i]);
	}
	cg_attn_small_off = false;
}

/* The general path's score rows W-aligned (AttnPlan.sld: nk rounded up to
 * W) and its softmax in three passes over a block's rows (softmax_rows_m:
 * the maxes, the exps two rows at a time with each tail's exp taken before
 * the row's loop, the sums folded): against the reference, bitwise on
 * 1/2/3/5 threads, bitwise equal to rows nk floats apart
 * (cg_attn_pad_off) and to the exp loop's next-row max on the GEMM
 * micro-kernels (cg_attn_qk_off; threads and this form for the 98, 64
 * and 23 keys), at every vector width of the host:
 * sret_t's 98-key windows (8 x 2 entries; rows 98 floats apart start at
 * every offset within a line) and 196-key global attention (blocks of
 * 98 rows), 64 keys (a whole number of vectors at every width: no tail,
 * no padding) over 7 query rows (a last group of one row), 57 keys with
 * a bias per score (read with its own row stride) over 13 rows, 100 keys
 * of K transposed with a key padding mask, and 23 keys of d 8 (the
 * tail past one vector at 16 lanes, past two at 8 and five at 4), 17
 * keys over 4 x 2100 query rows (the padded blocks cut to fewer rows). */
static void test_score_rows(void **state)
{
	(void)state;
	cg_attn_small_off = true;
	Case a = {4, {4, 4, 4, 0}, {{8, 2, 98, 32}, {8, 2, 98, 32}, {8, 2, 98, 32}}, 0, 0.17677669f};
	Case b = {4, {4, 4, 4, 0}, {{1, 4, 196, 32}, {1, 4, 196, 32}, {1, 4, 196, 32}}, 0, 0.17677669f};
	Case c = {4, {4, 4, 4, 0}, {{2, 2, 7, 32}, {2, 2, 64, 32}, {2, 2, 64, 16}}, 0, 0.2f};
	Case d = {4, {4, 4, 4, 4}, {{2, 2, 13, 32}, {2, 2, 57, 32}, {2, 2, 57, 24}, {1, 2, 13, 57}}, 0, 0.3f};
	Case e = {4, {4, 4, 4, 4}, {{2, 2, 6, 64}, {2, 2, 64, 100}, {2, 2, 100, 16}, {2, 1, 1, 100}}, 1, 0.125f};
	Case f = {4, {4, 4, 4, 0}, {{2, 3, 11, 8}, {2, 3, 23, 8}, {2, 3, 23, 8}}, 0, 0.35f};
	/* 17 keys over 2100 query rows of 4 entries: padded to 32 floats (24
	 * at 8 lanes) the blocks of 1927 rows would pass 5/4 of their floats,
	 * so they are cut */
	Case g = {3, {3, 3, 3, 0}, {{4, 2100, 8}, {4, 17, 8}, {4, 17, 8}}, 0, 0.35f};
	/* threads and the Q.K^T forms only for the shapes test_qk_tiles does
	 * not run */
	const Case *all[] = {&a, &b, &c, &d, &e, &f, &g};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		bool more = all[i] == &a || all[i] == &c || all[i] == &f || all[i] == &g;
		attention_case(all[i], more);
		forms_same_bits(all[i], &cg_attn_pad_off, 19u, "score row strides");
		if (more)
			qk_same_bits(all[i]);
	}
	cg_attn_small_off = false;
}

/* The parts [0, n0) and [n0, dims[ax]) of x (rank-`rank` row-major) along
 * axis ax into a and b. */
static void split_axis(const float *x, int rank, const int64_t *dims, int ax, int64_t n0, float *a, float *b)
{
	int64_t outer = numel(ax, dims), len = dims[ax], inner = numel(rank - ax - 1, dims + ax + 1);
	for (int64_t o = 0; o < outer; o++) {
		memcpy(a + o * n0 * inner, x + o * len * inner, sizeof(float) * (size_t)(n0 * inner));
		memcpy(b + o * (len - n0) * inner, x + (o * len + n0) * inner,
		       sizeof(float) * (size_t)((len - n0) * inner));
	}
}

/* Case c with K given as two segments split after kn0 keys and V as two
 * split after vn0 rows (inputs K2, V2): the same outputs as the whole
 * tensors give, against the reference, at every vector width of the host
 * and the scalar (vlen 1) form; bitwise the same on 1, 2, 3 and 5 threads
 * (SSE) when `threads`. */
static void segments_case(const Case *c, int64_t kn0, int64_t vn0, bool threads)
{
	float *x[4];
	case_inputs(c, x, 11u, 1.0f);
	int64_t od[IR_MAX_RANK];
	out_dims(c, od);
	size_t ny = (size_t)numel(c->r, od);
	double *ref = malloc(sizeof(double) * ny);
	reference(c, (const float *const *)x, od, ref);
	/* the segments: dims[t] with the token axis cut */
	int kr = c->rank[1], vr = c->rank[2], kax = kr - (c->k_t ? 1 : 2), vax = vr - 2;
	int64_t sd[4][IR_MAX_RANK]; /* K, K2, V, V2 */
	memcpy(sd[0], c->dims[1], sizeof sd[0]);
	memcpy(sd[1], c->dims[1], sizeof sd[1]);
	memcpy(sd[2], c->dims[2], sizeof sd[2]);
	memcpy(sd[3], c->dims[2], sizeof sd[3]);
	sd[0][kax] = kn0, sd[1][kax] = c->dims[1][kax] - kn0;
	sd[2][vax] = vn0, sd[3][vax] = c->dims[2][vax] - vn0;
	float *seg[4];
	for (int t = 0; t < 4; t++)
		seg[t] = malloc(sizeof(float) * (size_t)numel(t < 2 ? kr : vr, sd[t]));
	split_axis(x[1], kr, c->dims[1], kax, kn0, seg[0], seg[1]);
	split_axis(x[2], vr, c->dims[2], vax, vn0, seg[2], seg[3]);
	float *y = malloc(sizeof(float) * ny), *y0 = malloc(sizeof(float) * ny);
	const CgIsa scalar = {1, 16, false, "scalar", NULL, 0};
	for (size_t t = 0; t <= sizeof tu_isas / sizeof tu_isas[0]; t++) {
		bool last = t == sizeof tu_isas / sizeof tu_isas[0];
		const CgIsa *isa = last ? &scalar : &tu_isas[t];
		if (!last && !tu_host_has(isa))
			continue;
		tu_isa_override = *isa;
		for (int rep = 0; rep < (threads && t == 0 ? 1 + TU_NTHREADS : 1); rep++) {
			if (rep > 0)
				tu_threads(tu_thread_counts[rep - 1]);
			TuGraph g = tu_graph();
			ValueId in[6];
			in[0] = tu_input(&g, "q", DT_F32, c->rank[0], c->dims[0]);
			in[1] = tu_input(&g, "k", DT_F32, kr, sd[0]);
			in[2] = tu_input(&g, "v", DT_F32, vr, sd[2]);
			in[3] = c->rank[3] ? tu_input(&g, "bias", DT_F32, c->rank[3], c->dims[3]) : IR_NONE;
			in[4] = tu_input(&g, "k2", DT_F32, kr, sd[1]);
			in[5] = tu_input(&g, "v2", DT_F32, vr, sd[3]);
			ValueId out = tu_output(&g, "o", DT_F32, c->r, od);
			NodeId n = tu_node(&g, OP_Attention, 1, in, 6, &out, 1);
			g.g->nodes[n].domain = "onnxcc";
			tu_attr_float(&g, "scale", c->scale);
			if (c->k_t)
				tu_attr_int(&g, "k_transposed", 1);
			const void *ins[6] = {x[0], seg[0], seg[2]};
			int k = 3;
			if (c->rank[3])
				ins[k++] = x[3];
			ins[k++] = seg[1];
			ins[k++] = seg[3];
			void *outs[1] = {rep ? y : y0};
			memset(outs[0], 0xff, ny * 4);
			tu_run(&g, ins, outs);
			if (rep > 0) {
				tu_threads(0);
				assert_memory_equal(y, y0, ny * 4);
			}
		}
		double e = 0;
		for (size_t i = 0; i < ny; i++)
			e = fmax(e, fabs(y0[i] - ref[i]));
		if (!(e <= 2e-6))
			fprintf(stderr, "Attention segments case (K %lld+%lld, V %lld+%lld) %s: max abs err %g\n",
			        (long long)kn0, (long long)sd[1][kax], (long long)vn0, (long long)sd[3][vax], isa->name, e);
		assert_true(e <= 2e-6);
	}
	tu_isa_override = (CgIsa){0};
	for (int t = 0; t < 4; t++)
		free(x[t]), free(seg[t]);
	free(y), free(y0), free(ref);
}

static void test_segments(void **state)
{
	(void)state;
	/* relative-position bias [1,H,Nq,Nk]; K split after 250 keys, V after
	 * 520 rows: the first V segment spans two K blocks of the P.V
	 * product, the second is accumulated onto it */
	Case a = {4, {4, 4, 4, 4}, {{1, 2, 40, 32}, {1, 2, 600, 32}, {1, 2, 600, 24}, {1, 2, 40, 600}}, 0, 0.125f};
	segments_case(&a, 250, 520, true);
	/* K transposed, batch dims broadcasting, key padding mask; a segment
	 * of one key */
	Case b = {4, {4, 4, 4, 4}, {{3, 2, 9, 12}, {1, 2, 12, 40}, {3, 1, 40, 7}, {3, 1, 1, 40}}, 1, 0.3f};
	segments_case(&b, 1, 33, false);
	/* no bias, rank 3 (the skip-layer shape: 16 + 16 tokens) */
	Case c = {3, {3, 3, 3, 0}, {{2, 16, 24}, {2, 32, 24}, {2, 32, 24}}, 0, 0.2f};
	segments_case(&c, 16, 16, false);
}

/* True if value v reaches an input of an Attention node through nodes
 * that only move data (Reshape and co., Gather, Concat, Transpose). */
static bool feeds_attention(Graph *g, ValueId v, int depth)
{
	if (depth > 8)
		return false;
	for (int k = 0; k < g->nnodes; k++) {
		Node *n = &g->nodes[k];
		if (n->dead)
			continue;
		for (int i = 0; i < n->nin; i++) {
			if (n->in[i] != v)
				continue;
			if (n->op == OP_Attention || n->op == OP_RelAttention)
				return true;
			bool moves = n->op == OP_Reshape || n->op == OP_Squeeze || n->op == OP_Unsqueeze ||
			             n->op == OP_Gather || n->op == OP_Concat || n->op == OP_Transpose;
			if (moves && feeds_attention(g, n->out[0], depth + 1))
				return true;
		}
	}
	return false;
}

/* True if value v is an Attention output, possibly through Reshapes. */
static bool from_attention(Graph *g, ValueId v)
{
	for (int depth = 0; depth < 8 && v != IR_NONE; depth++) {
		NodeId p = gval(g, v)->producer;
		if (p == IR_NONE || g->nodes[p].dead)
			return false;
		if (g->nodes[p].op == OP_Attention || g->nodes[p].op == OP_RelAttention)
			return true;
		if (g->nodes[p].op != OP_Reshape && g->nodes[p].op != OP_Squeeze && g->nodes[p].op != OP_Unsqueeze)
			return false;
		v = g->nodes[p].in[0];
	}
	return false;
}

/* n is a Gather along axis 1 by a constant 1-D index with as many entries
 * as that axis has (SReT's token permutation or its inverse). */
static bool token_permutation(Graph *g, const Node *n)
{
	if (n->op != OP_Gather || n->nin != 2 || attr_int(n, "axis", 0) != 1)
		return false;
	const Value *x = gval(g, n->in[0]), *ix = gval(g, n->in[1]);
	return x->shape.rank >= 2 && ix->kind == VK_CONST && ix->shape.rank == 1 &&
	       ix->shape.dims[0] == x->shape.dims[1];
}

/* Element offset in a row-major tensor of dims d (rank r) of index ix. */
static int64_t rm_ofs(int r, const int64_t *d, const int64_t *ix)
{
	int64_t o = 0;
	for (int i = 0; i < r; i++)
		o = o * d[i] + ix[i];
	return o;
}

/* Advances the index ix over dims d (rank r); false after the last. */
static bool next_index(int r, const int64_t *d, int64_t *ix)
{
	for (int i = r - 1; i >= 0; i--) {
		if (++ix[i] < d[i])
			return true;
		ix[i] = 0;
	}
	return false;
}

/* Operands read through layouts: the q/k/v split of a packed projection
 * y [B, N, 3, H, Dh] as Transpose(y, [2,0,3,1,4])[0], [1], [2] (perm_* and
 * sel_* attributes; the three inputs are one graph input), the output
 * written as Transpose(O, [0,2,1,3]) = [B, N, H, Dh].  The logical operands
 * are gathered from y in C and the plain cases' reference applies.  (The
 * [S, B*H, Dh] form with perm [1,0,2] is the pass file
 * tests/passes/transpose_head_split.in.) */
/* o [B, N, H, Dh] = Attention of the packed y [B, N, 3, H, Dh] (yd), read
 * through the perm_ and sel_ attributes, written through perm_o. */
static void layout_run(const int64_t *yd, const int64_t *so, float scale, const float *y, float *o)
{
	TuGraph g = tu_graph();
	ValueId yin = tu_input(&g, "y", DT_F32, 5, yd);
	ValueId in[3] = {yin, yin, yin};
	ValueId out = tu_output(&g, "o", DT_F32, 4, so);
	NodeId id = tu_node(&g, OP_Attention, 1, in, 3, &out, 1);
	g.g->nodes[id].domain = "onnxcc";
	tu_attr_float(&g, "scale", scale);
	static const int64_t po[4] = {0, 2, 1, 3}, pp[5] = {2, 0, 3, 1, 4};
	static const char *const pn[3] = {"perm_q", "perm_k", "perm_v"};
	static const char *const sn[3] = {"sel_q", "sel_k", "sel_v"};
	tu_attr_ints(&g, "perm_o", 4, po);
	for (int k = 0; k < 3; k++) {
		tu_attr_ints(&g, pn[k], 5, pp);
		tu_attr_int(&g, sn[k], k);
	}
	const void *ins[1] = {y};
	void *outs[1] = {o};
	tu_run(&g, ins, outs);
}

static void layout_case(int64_t n, int64_t d, float scale)
{
	const int64_t B = 2, H = 3;
	Case c = {4, {4, 4, 4, 0}, {{B, H, n, d}, {B, H, n, d}, {B, H, n, d}}, 0, scale};
	int64_t yd[5] = {B, n, 3, H, d};
	size_t ny = (size_t)numel(5, yd);
	float *y = malloc(sizeof(float) * ny), *logical[3];
	fill(y, ny, 99u, 1.0f);
	for (int t = 0; t < 3; t++) {
		logical[t] = malloc(sizeof(float) * (size_t)numel(4, c.dims[t]));
		int64_t ix[4] = {0};
		do {
			int64_t yi[5] = {ix[0], ix[2], t, ix[1], ix[3]};
			logical[t][rm_ofs(4, c.dims[t], ix)] = y[rm_ofs(5, yd, yi)];
		} while (next_index(4, c.dims[t], ix));
	}
	int64_t od[4] = {B, H, n, d}, so[4] = {B, n, H, d};
	size_t no = (size_t)numel(4, od);
	double *ref = malloc(sizeof(double) * no);
	const float *lx[4] = {logical[0], logical[1], logical[2], NULL};
	reference(&c, lx, od, ref);
	float *o = malloc(sizeof(float) * no);
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		/* the general path first: the same bits on both paths */
		cg_attn_small_off = true;
		layout_run(yd, so, c.scale, y, o);
		cg_attn_small_off = false;
		float *o0 = malloc(no * 4);
		memcpy(o0, o, no * 4);
		memset(o, 0xff, no * 4);
		layout_run(yd, so, c.scale, y, o);
		if (memcmp(o, o0, no * 4) != 0)
			fprintf(stderr, "Attention layout case %s (n %lld): paths differ\n", tu_isas[t].name, (long long)n);
		assert_memory_equal(o, o0, no * 4);
		free(o0);
		double e = 0;
		int64_t ix[4] = {0};
		do {
			int64_t si[4] = {ix[0], ix[2], ix[1], ix[3]};
			e = fmax(e, fabs(o[rm_ofs(4, so, si)] - ref[rm_ofs(4, od, ix)]));
		} while (next_index(4, od, ix));
		if (!(e <= 2e-6))
			fprintf(stderr, "Attention layout case %s: max abs err %g\n", tu_isas[t].name, e);
		assert_true(e <= 2e-6);
	}
	tu_isa_override = (CgIsa){0};
	for (int t = 0; t < 3; t++)
		free(logical[t]);
	free(y), free(o), free(ref);
}

/* Swin's layout at 49 tokens, head dim 32: on the short-sequence path the
 * 49th key's scores (one key in the last score vector at 16 lanes) are
 * read from K in place in the packed tensor and K^T is staged for the 48
 * others (cg_attn_small_k1); 17 tokens the same at 8 and 16 lanes. */
static void test_layouts(void **state)
{
	(void)state;
	layout_case(11, 8, 0.3f);
	layout_case(49, 32, 0.17677669f);
	layout_case(17, 8, 0.3f);
}

/* The fusions on the zoo: Attention and RelAttention nodes made, Softmax
 * nodes left, head split/merge Transposes left (a Transpose whose
 * output reaches an attention node through data movement only, or that
 * reads one's output), Concats left whose output reaches an attention
 * node through data movement only (skip-layer K/V segments) and token
 * permutation Gathers left (SReT's group attention). */
static void test_zoo_counts(void **state)
{
	(void)state;
	static const struct {
		const char *model;
		int attention, relattention, softmax_left, head_transposes_left, concats_left, perm_gathers_left;
	} want[] = {
		{"encoder_opset14", 2, 0, 0, 0, 0, 0}, /* one per encoder layer */
		{"ode_euler", 2, 0, 0, 0, 0, 0},       /* one per function evaluation */
		{"ode_rk2", 4, 0, 0, 0, 0, 0},
		{"ode_rk4", 8, 0, 0, 0, 0, 0},
		{"pvt_opset13", 4, 0, 0, 0, 0, 0},     /* one per block */
		{"pvt_opset17", 4, 0, 0, 0, 0, 0},
		/* K/V of two layers concatenated: read as two segments, each
		 * layer's k/v by its own and the next layer's Attention */
		{"skip_attn", 3, 0, 0, 0, 0, 0},
		/* group attention: the token permutation (Gather axis 1 by a
		 * random permutation) and its inverse, one pair per attention,
		 * sit before the qkv GEMM and after the projection GEMM, not
		 * next to the Attention node (an arbitrary permutation is no
		 * stride pattern, perm_*): fuse-gather-gemm makes each the row
		 * index of its GEMM (fuse-remap first makes 6 of the 10 one
		 * GatherRows with the group Reshapes): none stay (nor those
		 * GatherRows: test_passfiles' stage table) */
		{"sret_opset14", 5, 0, 0, 0, 0, 0},
		{"swin_opset14", 4, 0, 0, 0, 0, 0},    /* plain and shifted windows */
		{"swin_tv_mini", 6, 0, 0, 0, 0, 0},    /* torchvision's SwinTransformer, depths 2,2,2 */
		{"txl_opset13_b1", 0, 2, 0, 0, 0, 0},  /* one RelAttention per layer */
		{"txl_opset16_b1", 0, 2, 0, 0, 0, 0},
		{"txl_opset16_b2", 0, 2, 0, 0, 0, 0},
		{"lstm_depth_onnx", 3, 0, 0, 0, 0, 0},     /* attention over the depth outputs */
		{"lstm_depth_decomposed", 3, 0, 0, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s/tests/models/%s/model.onnx", ONNXCC_SOURCE_DIR, want[i].model);
		Diag d;
		diag_init(&d, p, false);
		Graph *g = onnx_load(p, &d);
		assert_non_null(g);
		PipelineOptions o = {.verify_each = true};
		if (!pass_pipeline(g, &o, &d))
			fail_msg("%s: %s", want[i].model, d.buf);
		int att = 0, rel = 0, sm = 0, ht = 0, cat = 0, pg = 0;
		for (int k = 0; k < g->nnodes; k++) {
			Node *n = &g->nodes[k];
			att += !n->dead && n->op == OP_Attention;
			rel += !n->dead && n->op == OP_RelAttention;
			sm += !n->dead && n->op == OP_Softmax;
			ht += !n->dead && n->op == OP_Transpose &&
			      (feeds_attention(g, n->out[0], 0) || from_attention(g, n->in[0]));
			cat += !n->dead && n->op == OP_Concat && feeds_attention(g, n->out[0], 0);
			pg += !n->dead && token_permutation(g, n);
		}
		fprintf(stderr, "%-22s Attention %d, RelAttention %d, Softmax left %d, head split/merge Transposes left %d, "
		        "Concats feeding attention left %d, token permutation Gathers left %d\n", want[i].model, att,
		        rel, sm, ht, cat, pg);
		assert_int_equal(att, want[i].attention);
		assert_int_equal(rel, want[i].relattention);
		assert_int_equal(sm, want[i].softmax_left);
		assert_int_equal(ht, want[i].head_transposes_left);
		assert_int_equal(cat, want[i].concats_left);
		assert_int_equal(pg, want[i].perm_gathers_left);
		graph_free(g);
		diag_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowering),
		cmocka_unit_test(test_small_sequences),
		cmocka_unit_test(test_tail_keys),
		cmocka_unit_test(test_qk_tiles),
		cmocka_unit_test(test_score_rows),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_zoo_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

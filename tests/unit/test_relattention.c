/* tests/unit/test_relattention.c — the fused RelAttention op
 * (codegen/lower_relattention.c) against a double-precision reference that
 * follows the exporter's graph literally: both Einsums, the padded
 * [Q, L+1] position term built with its zero column, reshaped to [L+1, Q],
 * row 0 dropped, reshaped to [Q, L]; scale, Where mask, softmax over the
 * keys, product with V.  At every vector width this host runs (4, 8, 16
 * lanes): Q < L and Q = L, one and several batch entries and heads, a mask
 * shared by batch and heads, a mask per entry, no mask, fill -inf and
 * -1e30, several query-row blocks with a short last one, keys past one
 * K block of the P.V product; the same outputs bitwise on 1, 2 and 3
 * threads (for the case of several row blocks).  (The pass: tests/passes/relattention_*.in; the zoo counts:
 * test_attention.c.)
 */
#include "testutil.h"
#include "runtime/onnxcc_pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_rand(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 1000.0f;
	}
}

typedef struct Rel {
	int64_t Q, L, B, H, D, Dv;
	int mask;          /* 0 none, 1 causal [Q,L,1,1], 2 causal + pseudo-random [Q,L,B,H] */
	float scale, fill;
} Rel;

#define IDX4(a, b, c, d, B_, C_, D_) ((((a) * (B_) + (b)) * (C_) + (c)) * (D_) + (d))

static void reference(const Rel *c, const float *qw, const float *qr, const float *k, const float *r,
                      const float *v, const unsigned char *mask, double *o)
{
	int64_t Q = c->Q, L = c->L, B = c->B, H = c->H, D = c->D, Dv = c->Dv;
	double *bd = malloc(sizeof(double) * (size_t)(Q * L));
	double *pad = malloc(sizeof(double) * (size_t)(Q * (L + 1)));
	double *s = malloc(sizeof(double) * (size_t)(Q * L));
	for (int64_t b = 0; b < B; b++)
		for (int64_t h = 0; h < H; h++) {
			for (int64_t i = 0; i < Q; i++)
				for (int64_t j = 0; j < L; j++) {
					double x = 0;
					for (int64_t t = 0; t < D; t++)
						x += (double)qr[IDX4(i, b, h, t, B, H, D)] * r[(j * H + h) * D + t];
					bd[i * L + j] = x;
				}
			/* Concat(zeros [Q,1], bd) -> [Q, L+1], flat order kept by the
			 * Reshapes; drop the first Q elements (row 0 of [L+1, Q]) */
			for (int64_t i = 0; i < Q; i++) {
				pad[i * (L + 1)] = 0;
				for (int64_t j = 0; j < L; j++)
					pad[i * (L + 1) + 1 + j] = bd[i * L + j];
			}
			for (int64_t i = 0; i < Q; i++)
				for (int64_t j = 0; j < L; j++) {
					double ac = 0;
					for (int64_t t = 0; t < D; t++)
						ac += (double)qw[IDX4(i, b, h, t, B, H, D)] * k[IDX4(j, b, h, t, B, H, D)];
					double x = (ac + pad[Q + i * L + j]) * c->scale;
					if (c->mask == 1 && mask[i * L + j])
						x = c->fill;
					if (c->mask == 2 && mask[IDX4(i, j, b, h, L, B, H)])
						x = c->fill;
					s[i * L + j] = x;
				}
			for (int64_t i = 0; i < Q; i++) {
				double m = -INFINITY, l = 0;
				for (int64_t j = 0; j < L; j++)
					m = fmax(m, s[i * L + j]);
				for (int64_t j = 0; j < L; j++)
					l += s[i * L + j] = exp(s[i * L + j] - m);
				for (int64_t e = 0; e < Dv; e++) {
					double y = 0;
					for (int64_t j = 0; j < L; j++)
						y += s[i * L + j] / l * v[IDX4(j, b, h, e, B, H, Dv)];
					o[IDX4(i, b, h, e, B, H, Dv)] = y;
				}
			}
		}
	free(bd), free(pad), free(s);
}

static void run(const Rel *c, const void *const *x, float *y)
{
	TuGraph g = tu_graph();
	int64_t qd[4] = {c->Q, c->B, c->H, c->D}, kd[4] = {c->L, c->B, c->H, c->D};
	int64_t rd[3] = {c->L, c->H, c->D}, vd[4] = {c->L, c->B, c->H, c->Dv};
	int64_t od[4] = {c->Q, c->B, c->H, c->Dv};
	int64_t m1[4] = {c->Q, c->L, 1, 1}, m2[4] = {c->Q, c->L, c->B, c->H};
	ValueId in[6];
	in[0] = tu_input(&g, "qw", DT_F32, 4, qd);
	in[1] = tu_input(&g, "qr", DT_F32, 4, qd);
	in[2] = tu_input(&g, "k", DT_F32, 4, kd);
	in[3] = tu_input(&g, "r", DT_F32, 3, rd);
	in[4] = tu_input(&g, "v", DT_F32, 4, vd);
	if (c->mask)
		in[5] = tu_input(&g, "mask", DT_BOOL, 4, c->mask == 1 ? m1 : m2);
	ValueId out = tu_output(&g, "o", DT_F32, 4, od);
	NodeId n = tu_node(&g, OP_RelAttention, 1, in, c->mask ? 6 : 5, &out, 1);
	g.g->nodes[n].domain = "onnxcc";
	tu_attr_float(&g, "scale", c->scale);
	if (c->mask)
		tu_attr_float(&g, "fill", c->fill);
	void *outs[1] = {y};
	tu_run(&g, x, outs);
}

static void rel_case(const Rel *c, bool threads)
{
	size_t nq = (size_t)(c->Q * c->B * c->H * c->D), nk = (size_t)(c->L * c->B * c->H * c->D);
	size_t nr = (size_t)(c->L * c->H * c->D), nv = (size_t)(c->L * c->B * c->H * c->Dv);
	size_t no = (size_t)(c->Q * c->B * c->H * c->Dv), nm = (size_t)(c->Q * c->L * c->B * c->H);
	float *qw = malloc(nq * 4), *qr = malloc(nq * 4), *k = malloc(nk * 4), *r = malloc(nr * 4);
	float *v = malloc(nv * 4), *y = malloc(no * 4), *y0 = malloc(no * 4);
	unsigned char *mask = calloc(nm, 1);
	double *ref = malloc(no * sizeof(double));
	fill_rand(qw, nq, 1), fill_rand(qr, nq, 2), fill_rand(k, nk, 3), fill_rand(r, nr, 4), fill_rand(v, nv, 5);
	/* causal over memory + segment (j > i + L - Q), plus in form 2 some
	 * pseudo-random positions per (b, h) that leave key 0 visible */
	for (int64_t i = 0; i < c->Q; i++)
		for (int64_t j = 0; j < c->L; j++) {
			bool causal = j > i + c->L - c->Q;
			if (c->mask == 1)
				mask[i * c->L + j] = causal;
			for (int64_t bh = 0; c->mask == 2 && bh < c->B * c->H; bh++)
				mask[(i * c->L + j) * c->B * c->H + bh] = causal || (j > 0 && (i * 7 + j * 3 + bh) % 5 == 0);
		}
	reference(c, qw, qr, k, r, v, mask, ref);
	const void *x[6] = {qw, qr, k, r, v, mask};
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		memset(y, 0xff, no * 4);
		run(c, x, y);
		double e = 0;
		for (size_t i = 0; i < no; i++)
			e = isnan(y[i]) ? INFINITY : fmax(e, fabs(y[i] - ref[i]));
		if (!(e <= 2e-6))
			fprintf(stderr, "RelAttention Q %lld L %lld %s: max abs err %g\n", (long long)c->Q,
			        (long long)c->L, tu_isas[t].name, e);
		assert_true(e <= 2e-6);
	}
	tu_isa_override = (CgIsa){0};
	if (threads) {
		tu_parallel = NULL;
		run(c, x, y0);
		for (int nt = 1; nt <= 3; nt++) {
			OnnxccPool *pool = onnxcc_pool_create(nt);
			assert_non_null(pool);
			OnnxccParallel par = onnxcc_pool_parallel(pool);
			tu_parallel = &par;
			memset(y, 0xff, no * 4);
			run(c, x, y);
			tu_parallel = NULL;
			onnxcc_pool_destroy(pool);
			assert_memory_equal(y, y0, no * 4);
		}
	}
	free(qw), free(qr), free(k), free(r), free(v), free(y), free(y0), free(mask), free(ref);
}

static void test_lowering(void **state)
{
	(void)state;
	/* the zoo's shape: memory of L - Q, causal mask shared by batch and
	 * heads, fill -1e30 */
	Rel a = {4, 8, 2, 2, 16, 16, 1, 0.25f, -1e30f};
	rel_case(&a, false);
	/* no memory (Q = L), a mask per (b, h), fill -inf, dv != d */
	Rel b = {6, 6, 2, 3, 8, 5, 2, 0.35f, -INFINITY};
	rel_case(&b, false);
	/* no mask: the upper triangle reads the next row of the position term */
	Rel c = {5, 9, 1, 2, 4, 3, 0, 0.5f, 0};
	rel_case(&c, false);
	/* several row blocks (3 of 14, 14, 12 rows) */
	Rel d = {40, 72, 1, 3, 16, 16, 1, 0.25f, -INFINITY};
	rel_case(&d, true);
	/* many keys: blocks limited by the stack (10, 10, 5 rows), P.V over
	 * several K blocks */
	Rel e = {25, 1500, 1, 1, 8, 8, 1, 0.3f, -1e30f};
	rel_case(&e, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

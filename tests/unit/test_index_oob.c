/* tests/unit/test_index_oob.c — run-time indices out of range, in both
 * modes of --index-oob (codegen/lower_index.c):
 *   error (default): the run function returns CG_STATUS_INDEX (the
 *     header's PREFIX_ERR_INDEX) and the node writes nothing: the output
 *     buffer (with guard words on both sides) is left as it was;
 *   clamp: status 0, negative indices count from the end, then clamp into
 *     [0, D-1].
 * Valid negative indices ([-D, -1]) count from the end in both modes.
 * Ops: Gather (int32 and int64 ids, an embedding lookup), GatherElements,
 * ScatterElements, GatherND, ScatterND; the class targets of
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (valid in [0, C-1]
 * or ignore_index; clamp mode clamps into [0, C-1] without wrapping) and
 * MaxUnpool's indices (flat in the unpooled shape, inside the output). */
#include <stdint.h>
#include <string.h>

#include "testutil.h"

enum { GUARD = 16 };
#define POISON 0x5au

/* An output buffer with GUARD guard bytes on each side, all POISON. */
typedef struct Guarded {
	unsigned char bytes[GUARD + 4096 + GUARD];
	size_t n;
} Guarded;

static void *guarded(Guarded *b, size_t n)
{
	assert_true(n <= 4096);
	memset(b->bytes, POISON, sizeof b->bytes);
	b->n = n;
	return b->bytes + GUARD;
}

/* The guards are intact; with untouched, the whole buffer is too. */
static void check_guards(const Guarded *b, bool untouched)
{
	size_t end = untouched ? GUARD + b->n + GUARD : GUARD;
	for (size_t i = 0; i < end; i++)
		assert_int_equal(b->bytes[i], POISON);
	for (size_t i = GUARD + b->n; i < GUARD + b->n + GUARD; i++)
		assert_int_equal(b->bytes[i], POISON);
}

static int64_t clampi(int64_t i, int64_t d)
{
	if (i < 0)
		i += d;
	return i < 0 ? 0 : i >= d ? d - 1 : i;
}

/* Runs t expecting status; in error mode an out-of-range run must leave
 * the output untouched. */
static void run_mode(TuGraph *t, const void *const *in, Guarded *out, bool clamp, int status)
{
	tu_index_clamp = clamp;
	tu_expect_status = status;
	void *outs[] = {out->bytes + GUARD};
	tu_run(t, in, outs);
	tu_index_clamp = false;
	tu_expect_status = 0;
	check_guards(out, status != 0);
}

/* Embedding lookup: table [V=7, E=3], token ids [2, 3] of dtype it.  ids
 * holds the six ids; bad says whether one is out of [-7, 6]. */
static void gather_case(DType it, const int64_t *ids, bool bad, bool clamp)
{
	enum { V = 7, E = 3 };
	TuGraph t = tu_graph();
	int64_t td[2] = {V, E}, id[2] = {2, 3}, od[3] = {2, 3, E};
	ValueId in[2];
	in[0] = tu_input(&t, "table", DT_F32, 2, td);
	in[1] = tu_input(&t, "ids", it, 2, id);
	ValueId y = tu_output(&t, "y", DT_F32, 3, od);
	tu_node(&t, OP_Gather, 13, in, 2, &y, 1);
	float table[V * E], want[6 * E];
	for (int i = 0; i < V * E; i++)
		table[i] = (float)(i * 3 + 1);
	int32_t ids32[6];
	for (int j = 0; j < 6; j++) {
		ids32[j] = (int32_t)ids[j];
		int64_t r = clampi(ids[j], V);
		for (int e = 0; e < E; e++)
			want[j * E + e] = table[r * E + e];
	}
	const void *ins[] = {table, it == DT_I32 ? (const void *)ids32 : (const void *)ids};
	Guarded out;
	guarded(&out, sizeof want);
	run_mode(&t, ins, &out, clamp, bad && !clamp ? CG_STATUS_INDEX : 0);
	if (!bad || clamp)
		assert_memory_equal(out.bytes + GUARD, want, sizeof want);
}

static void test_gather_ids(void **state)
{
	(void)state;
	const int64_t valid[6] = {0, 6, -1, -7, 3, -4};
	const int64_t high[6] = {0, 7, 1, 2, 3, 4};               /* V */
	const int64_t low[6] = {0, 1, -8, 2, 3, 4};               /* -V-1 */
	const int64_t huge[6] = {INT64_MAX, 1, INT64_MIN, 2, -5, 4};
	const int64_t i32[6] = {INT32_MAX, 1, INT32_MIN, 2, -5, 1000};
	for (int clamp = 0; clamp < 2; clamp++) {
		gather_case(DT_I64, valid, false, clamp);
		gather_case(DT_I32, valid, false, clamp);
		gather_case(DT_I64, high, true, clamp);
		gather_case(DT_I64, low, true, clamp);
		gather_case(DT_I32, high, true, clamp);
		gather_case(DT_I32, low, true, clamp);
		gather_case(DT_I32, i32, true, clamp);
		gather_case(DT_I64, huge, true, clamp);
	}
}

/* GatherElements (gather) or ScatterElements (scatter, reduction none)
 * on data [3, 4] along axis 1 with indices [2, 4]. */
static void elements_case(bool gather, const int64_t *idx, bool bad, bool clamp)
{
	TuGraph t = tu_graph();
	int64_t dd[2] = {3, 4}, id[2] = {2, 4};
	ValueId in[3];
	in[0] = tu_input(&t, "d", DT_F32, 2, dd);
	in[1] = tu_input(&t, "i", DT_I64, 2, id);
	in[2] = gather ? IR_NONE : tu_input(&t, "u", DT_F32, 2, id);
	ValueId y = tu_output(&t, "y", DT_F32, 2, gather ? id : dd);
	tu_node(&t, gather ? OP_GatherElements : OP_ScatterElements, gather ? 13 : 16, in,
	        gather ? 2 : 3, &y, 1);
	tu_attr_int(&t, "axis", 1);
	float data[12], upd[8], want[12];
	for (int i = 0; i < 12; i++)
		data[i] = (float)(i + 1) * 0.5f;
	for (int i = 0; i < 8; i++)
		upd[i] = (float)(100 + i);
	if (gather) {
		for (int r = 0; r < 2; r++)
			for (int c = 0; c < 4; c++)
				want[r * 4 + c] = data[r * 4 + clampi(idx[r * 4 + c], 4)];
	} else {
		memcpy(want, data, sizeof data);
		for (int r = 0; r < 2; r++)
			for (int c = 0; c < 4; c++)
				want[r * 4 + clampi(idx[r * 4 + c], 4)] = upd[r * 4 + c];
	}
	size_t nout = (gather ? 8 : 12) * sizeof(float);
	const void *ins[] = {data, idx, upd};
	Guarded out;
	guarded(&out, nout);
	run_mode(&t, ins, &out, clamp, bad && !clamp ? CG_STATUS_INDEX : 0);
	if (!bad || clamp)
		assert_memory_equal(out.bytes + GUARD, want, nout);
}

static void test_elements(void **state)
{
	(void)state;
	/* distinct targets per row so that the scatter's result is defined */
	const int64_t valid[8] = {3, -2, 1, -4, -1, 2, 1, 0};
	const int64_t high[8] = {3, 2, 1, 0, 0, 1, 2, 4};
	const int64_t low[8] = {-5, 2, 1, 0, 0, 1, 2, 3};
	for (int clamp = 0; clamp < 2; clamp++)
		for (int gather = 0; gather < 2; gather++) {
			elements_case(gather, valid, false, clamp);
			elements_case(gather, high, true, clamp);
			elements_case(gather, low, true, clamp);
		}
}

/* GatherND / ScatterND on data [3, 4] with index tuples of 2: indices
 * [3, 2] (three (row, col) pairs); updates [3]. */
static void nd_case(bool gather, const int64_t *idx, bool bad, bool clamp)
{
	TuGraph t = tu_graph();
	int64_t dd[2] = {3, 4}, id[2] = {3, 2}, ud[1] = {3};
	ValueId in[3];
	in[0] = tu_input(&t, "d", DT_I32, 2, dd);
	in[1] = tu_input(&t, "i", DT_I64, 2, id);
	in[2] = gather ? IR_NONE : tu_input(&t, "u", DT_I32, 1, ud);
	ValueId y = tu_output(&t, "y", DT_I32, gather ? 1 : 2, gather ? ud : dd);
	tu_node(&t, gather ? OP_GatherND : OP_ScatterND, gather ? 13 : 16, in, gather ? 2 : 3, &y, 1);
	int32_t data[12], upd[3] = {-10, -20, -30}, want[12];
	for (int i = 0; i < 12; i++)
		data[i] = i * 7;
	if (gather) {
		for (int r = 0; r < 3; r++)
			want[r] = data[clampi(idx[2 * r], 3) * 4 + clampi(idx[2 * r + 1], 4)];
	} else {
		memcpy(want, data, sizeof data);
		for (int r = 0; r < 3; r++)
			want[clampi(idx[2 * r], 3) * 4 + clampi(idx[2 * r + 1], 4)] = upd[r];
	}
	size_t nout = (gather ? 3 : 12) * sizeof(int32_t);
	const void *ins[] = {data, idx, upd};
	Guarded out;
	guarded(&out, nout);
	run_mode(&t, ins, &out, clamp, bad && !clamp ? CG_STATUS_INDEX : 0);
	if (!bad || clamp)
		assert_memory_equal(out.bytes + GUARD, want, nout);
}

static void test_nd(void **state)
{
	(void)state;
	const int64_t valid[6] = {0, 3, -1, -4, -3, 1};
	const int64_t row_high[6] = {0, 3, 3, 0, 1, 1};    /* row 3 of 3 */
	const int64_t col_high[6] = {0, 3, 2, 0, 1, 4};    /* col 4 of 4 */
	const int64_t col_low[6] = {0, -5, 2, 0, 1, 1};    /* col -5 of 4 */
	for (int clamp = 0; clamp < 2; clamp++)
		for (int gather = 0; gather < 2; gather++) {
			nd_case(gather, valid, false, clamp);
			nd_case(gather, row_high, true, clamp);
			nd_case(gather, col_high, true, clamp);
			nd_case(gather, col_low, true, clamp);
		}
}

/* NegativeLogLikelihoodLoss (reduction none) on x [N=2, C=3, D=2] with
 * targets [2, 2] of dtype tt and ignore_index -100: loss = -x[n, t, d],
 * 0 where t is ignored. */
static void nll_case(DType tt, const int64_t *tg, bool bad, bool clamp)
{
	enum { NB = 2, C = 3, D = 2, IGN = -100 };
	TuGraph t = tu_graph();
	int64_t xd[3] = {NB, C, D}, td[2] = {NB, D};
	ValueId in[2];
	in[0] = tu_input(&t, "x", DT_F32, 3, xd);
	in[1] = tu_input(&t, "t", tt, 2, td);
	ValueId y = tu_output(&t, "y", DT_F32, 2, td);
	tu_node(&t, OP_NegativeLogLikelihoodLoss, 13, in, 2, &y, 1);
	tu_attr_str(&t, "reduction", "none");
	tu_attr_int(&t, "ignore_index", IGN);
	float x[NB * C * D], want[NB * D];
	for (int i = 0; i < NB * C * D; i++)
		x[i] = (float)(i + 1) * 0.25f;
	int32_t t32[NB * D];
	for (int n = 0; n < NB; n++)
		for (int d = 0; d < D; d++) {
			int64_t v = tg[n * D + d];
			t32[n * D + d] = (int32_t)v;
			int64_t c = v < 0 ? 0 : v >= C ? C - 1 : v;
			want[n * D + d] = v == IGN ? 0.0f : -x[(n * C + c) * D + d];
		}
	const void *ins[] = {x, tt == DT_I32 ? (const void *)t32 : (const void *)tg};
	Guarded out;
	guarded(&out, sizeof want);
	run_mode(&t, ins, &out, clamp, bad && !clamp ? CG_STATUS_INDEX : 0);
	if (!bad || clamp)
		assert_memory_equal(out.bytes + GUARD, want, sizeof want);
}

static void test_nll_targets(void **state)
{
	(void)state;
	const int64_t valid[4] = {0, 2, -100, 1};   /* ignore_index is allowed */
	const int64_t high[4] = {0, 3, 1, 2};       /* C */
	const int64_t neg[4] = {0, 1, -1, 2};       /* no counting from the end */
	const int64_t huge[4] = {INT64_MIN, 1, 2, INT64_MAX};
	for (int clamp = 0; clamp < 2; clamp++) {
		nll_case(DT_I64, valid, false, clamp);
		nll_case(DT_I32, valid, false, clamp);
		nll_case(DT_I64, high, true, clamp);
		nll_case(DT_I32, neg, true, clamp);
		nll_case(DT_I64, huge, true, clamp);
	}
}

/* SoftmaxCrossEntropyLoss (reduction sum, with log_prob) on x [2, 4] and
 * targets tg: error mode leaves both outputs untouched for a bad target;
 * clamp mode gives what the clamped targets give. */
static void sce_run(const int64_t *tg, bool clamp, int status, Guarded *loss, Guarded *lp)
{
	enum { NB = 2, C = 4 };
	TuGraph t = tu_graph();
	int64_t xd[2] = {NB, C}, td[1] = {NB};
	ValueId in[2], out[2];
	in[0] = tu_input(&t, "x", DT_F32, 2, xd);
	in[1] = tu_input(&t, "t", DT_I64, 1, td);
	out[0] = tu_output(&t, "loss", DT_F32, 0, NULL);
	out[1] = tu_output(&t, "log_prob", DT_F32, 2, xd);
	tu_node(&t, OP_SoftmaxCrossEntropyLoss, 13, in, 2, out, 2);
	tu_attr_str(&t, "reduction", "sum");
	tu_attr_int(&t, "ignore_index", 7);
	float x[NB * C] = {0.5f, -1.0f, 2.0f, 0.25f, 3.0f, 1.0f, -2.0f, 0.0f};
	const void *ins[] = {x, tg};
	guarded(loss, sizeof(float));
	guarded(lp, sizeof x);
	tu_index_clamp = clamp;
	tu_expect_status = status;
	void *outs[] = {loss->bytes + GUARD, lp->bytes + GUARD};
	tu_run(&t, ins, outs);
	tu_index_clamp = false;
	tu_expect_status = 0;
	check_guards(loss, status != 0);
	check_guards(lp, status != 0);
}

static void test_sce_targets(void **state)
{
	(void)state;
	Guarded l1, p1, l2, p2;
	const int64_t ignored[2] = {3, 7}, high[2] = {4, 1}, low[2] = {-1, 1};
	const int64_t high_c[2] = {3, 1}, low_c[2] = {0, 1};
	sce_run(ignored, false, 0, &l1, &p1);
	sce_run(high, false, CG_STATUS_INDEX, &l1, &p1);
	sce_run(low, false, CG_STATUS_INDEX, &l1, &p1);
	/* clamp: 4 acts as 3, -1 as 0 */
	sce_run(high, true, 0, &l1, &p1);
	sce_run(high_c, false, 0, &l2, &p2);
	assert_memory_equal(l1.bytes + GUARD, l2.bytes + GUARD, sizeof(float));
	assert_memory_equal(p1.bytes + GUARD, p2.bytes + GUARD, 8 * sizeof(float));
	sce_run(low, true, 0, &l1, &p1);
	sce_run(low_c, false, 0, &l2, &p2);
	assert_memory_equal(l1.bytes + GUARD, l2.bytes + GUARD, sizeof(float));
}

/* MaxUnpool of x [1, 1, 2, 2] (kernel 2, stride 2: default shape
 * [1, 1, 4, 4]) with indices idx; with shrink, output_shape [1, 1, 3, 3],
 * where an index keeps its coordinates (row 3 or column 3 is outside). */
static void unpool_case(const int64_t *idx, bool shrink, bool bad, bool clamp)
{
	TuGraph t = tu_graph();
	int64_t xd[4] = {1, 1, 2, 2}, yd[4] = {1, 1, shrink ? 3 : 4, shrink ? 3 : 4};
	int64_t k2[2] = {2, 2}, od4[1] = {4};
	ValueId in[3];
	in[0] = tu_input(&t, "x", DT_F32, 4, xd);
	in[1] = tu_input(&t, "i", DT_I64, 4, xd);
	in[2] = shrink ? tu_const(&t, "shape", DT_I64, 1, od4, yd) : IR_NONE;
	ValueId y = tu_output(&t, "y", DT_F32, 4, yd);
	tu_node(&t, OP_MaxUnpool, 11, in, shrink ? 3 : 2, &y, 1);
	tu_attr_ints(&t, "kernel_shape", 2, k2);
	tu_attr_ints(&t, "strides", 2, k2);
	float x[4] = {1.5f, -2.0f, 3.25f, 4.0f}, want[16];
	int W = shrink ? 3 : 4;
	memset(want, 0, sizeof want);
	for (int e = 0; e < 4; e++) {
		int64_t i = idx[e] < 0 ? 0 : idx[e] > 15 ? 15 : idx[e];
		int64_t r = i / 4, c = i % 4;
		if (r > W - 1)
			r = W - 1;
		if (c > W - 1)
			c = W - 1;
		want[r * W + c] = x[e];
	}
	const void *ins[] = {x, idx};
	Guarded out;
	size_t n = (size_t)(W * W) * sizeof(float);
	guarded(&out, n);
	run_mode(&t, ins, &out, clamp, bad && !clamp ? CG_STATUS_INDEX : 0);
	if (!bad || clamp)
		assert_memory_equal(out.bytes + GUARD, want, n);
}

static void test_unpool(void **state)
{
	(void)state;
	const int64_t valid[4] = {0, 3, 9, 15}, high[4] = {0, 16, 9, 15}, neg[4] = {0, 3, -1, 15};
	const int64_t inner[4] = {0, 5, 9, 10}, edge[4] = {0, 5, 12, 10};   /* (3, 0) */
	for (int clamp = 0; clamp < 2; clamp++) {
		unpool_case(valid, false, false, clamp);
		unpool_case(high, false, true, clamp);
		unpool_case(neg, false, true, clamp);
		unpool_case(inner, true, false, clamp);
		unpool_case(edge, true, true, clamp);
		unpool_case(valid, true, true, clamp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather_ids),
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_nd),
		cmocka_unit_test(test_nll_targets),
		cmocka_unit_test(test_sce_targets),
		cmocka_unit_test(test_unpool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_index_oob.c — run-time indices out of range, in both
 * modes of --index-oob (codegen/lower_index.c):
 *   error (default): the run function returns CG_STATUS_INDEX (the
 *     header's PREFIX_ERR_INDEX) and the node writes nothing: the output
 *     buffer (with guard words on both sides) is left as it was;
 *   clamp: status 0, negative indices count from the end, then clamp into
 *     [0, D-1].
 * Valid negative indices ([-D, -1]) count from the end in both modes.
 * Ops: Gather (int32 and int64 ids, an embedding lookup), GatherElements,
 * ScatterElements, GatherND, ScatterND. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather_ids),
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_nd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_remap.c — the fused GatherRows op (ir/ops.def,
 * codegen/lower_remap.c): rows copied through a constant index table,
 * compared with the same gather done here in C for f32, i64 and u8 rows
 * (repeated, dropped and reordered rows, zero rows for entries -1); and the
 * shape rule's diagnostics for a hand-written node (index outside X, below
 * -1, rows that do not divide). */
#include "testutil.h"

#include "passes/infer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Y [R*u] = X rows through idx, es bytes per element; compared bytewise. */
static void run_rows(DType dt, size_t es, int64_t nrows_x, int64_t u, const int32_t *idx, int64_t R)
{
	int64_t dx[2] = {nrows_x, u}, dy[3] = {R, 1, u}, di[1] = {R};
	size_t nx = (size_t)(nrows_x * u) * es, ny = (size_t)(R * u) * es;
	unsigned char *x = malloc(nx), *y = calloc(1, ny), *ref = malloc(ny);
	for (size_t i = 0; i < nx; i++)
		x[i] = (unsigned char)(i * 37 + 11);
	if (dt == DT_F32) /* f32 rows hold numbers, not arbitrary bit patterns */
		for (size_t i = 0; i < nx / 4; i++)
			((float *)x)[i] = (float)i * 0.25f - 3.0f;
	for (int64_t r = 0; r < R; r++) {
		if (idx[r] < 0) /* a padding row: zeros */
			memset(ref + (size_t)(r * u) * es, 0, (size_t)u * es);
		else
			memcpy(ref + (size_t)(r * u) * es, x + (size_t)(idx[r] * u) * es, (size_t)u * es);
	}
	memset(y, 0xa5, ny); /* zero rows must be written, not left */
	TuGraph g = tu_graph();
	ValueId in[2];
	in[0] = tu_input(&g, "x", dt, 2, dx);
	in[1] = tu_const(&g, "idx", DT_I32, 1, di, idx);
	ValueId out = tu_output(&g, "y", dt, 3, dy);
	NodeId id = tu_node(&g, OP_GatherRows, 1, in, 2, &out, 1);
	g.g->nodes[id].domain = "onnxcc";
	tu_attr_ints(&g, "shape", 3, dy);
	const void *ins[1] = {x};
	void *outs[1] = {y};
	tu_run(&g, ins, outs);
	assert_memory_equal(y, ref, ny);
	free(x);
	free(y);
	free(ref);
}

static void test_gather_rows(void **state)
{
	(void)state;
	/* a window-partition-like permutation with repeats and a dropped row */
	const int32_t perm[10] = {3, 0, 4, 1, 5, 2, 2, 7, 6, 0};
	run_rows(DT_F32, 4, 8, 24, perm, 10);
	run_rows(DT_F32, 4, 8, 4, perm, 10);    /* 16-byte rows */
	run_rows(DT_I64, 8, 8, 3, perm, 10);
	run_rows(DT_U8, 1, 8, 5, perm, 10);     /* odd row bytes */
	int32_t *big = malloc(sizeof *big * 3000);
	for (int i = 0; i < 3000; i++)
		big[i] = (i * 7919) % 3000;
	run_rows(DT_F32, 4, 3000, 96, big, 3000); /* Swin-t's rows: 96 channels */
	free(big);
	/* -1: zero rows (fuse-patchify's taps in a padded window's padding),
	 * first, last and in runs */
	const int32_t pad[12] = {-1, 2, -1, -1, 0, 7, 7, -1, 3, 1, 6, -1};
	run_rows(DT_F32, 4, 8, 64, pad, 12);
	run_rows(DT_F32, 4, 8, 3, pad, 12);
	run_rows(DT_U8, 1, 8, 5, pad, 12);
}

/* A hand-written GatherRows the shape rule must reject with `needle`. */
static void reject(const int32_t *idx, int64_t R, int64_t ny, const char *needle)
{
	int64_t dx[2] = {4, 8}, dy[1] = {ny}, di[1] = {R};
	TuGraph g = tu_graph();
	ValueId in[2];
	in[0] = tu_input(&g, "x", DT_F32, 2, dx);
	in[1] = tu_const(&g, "idx", DT_I32, 1, di, idx);
	ValueId out = tu_output(&g, "y", DT_F32, 1, dy);
	NodeId id = tu_node(&g, OP_GatherRows, 1, in, 2, &out, 1);
	g.g->nodes[id].domain = "onnxcc";
	tu_attr_ints(&g, "shape", 1, dy);
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(pass_infer_node(g.g, id, &d));
	if (!diag_contains(&d, needle))
		fprintf(stderr, "diagnostics: %s\n", d.buf ? d.buf : "");
	assert_true(diag_contains(&d, needle));
	diag_free(&d);
	graph_free(g.g);
}

static void test_gather_rows_rejects(void **state)
{
	(void)state;
	const int32_t out_of_range[2] = {1, 4}; /* X has 4 rows of 8 */
	reject(out_of_range, 2, 16, "input 1: entry 1 is 4, outside the 4 rows of X");
	const int32_t below[2] = {-2, 0}; /* -1 is a zero row, -2 nothing */
	reject(below, 2, 16, "input 1: entry 0 is -2, outside the 4 rows of X");
	const int32_t three[3] = {0, 1, 2};
	reject(three, 3, 16, "input 1: 3 rows do not divide the 16 elements of [16]");
	const int32_t two[2] = {0, 1}; /* rows of 12 elements: X's 32 are not rows of 12 */
	reject(two, 2, 24, "input 0: X [4,8] is not made of rows of 12 elements");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather_rows),
		cmocka_unit_test(test_gather_rows_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

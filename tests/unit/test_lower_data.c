/* tests/unit/test_lower_data.c — lowerings of data-movement, indexing,
 * reduction and softmax-family ops (codegen/lower_data.c, lower_index.c,
 * lower_reduce.c).
 *
 * Each test builds a one-node graph by hand, compiles and runs it with
 * tu_run_graph(), and compares every output element with a plain C
 * reference computed in the test (bit-exact for data movement, a relative
 * tolerance of 1e-5 for exp/log-based float results).  Error tests check
 * the diagnostic for configurations the lowering must reject.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* Graphs are built and run with the TuGraph helpers of testutil.h. */

static float frand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (float)((*seed >> 8) & 0xffff) / 65536.0f * 8.0f - 4.0f;
}

static void fill_rand(float *x, int n, unsigned seed)
{
	for (int i = 0; i < n; i++)
		x[i] = frand(&seed);
}

static void assert_close(const float *got, const float *want, int n, double rtol)
{
	for (int i = 0; i < n; i++) {
		double tol = rtol * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
		if (!(fabs((double)got[i] - want[i]) <= tol)) {
			fprintf(stderr, "element %d: got %.9g want %.9g\n", i, got[i], want[i]);
			fail();
		}
	}
}

static void assert_i64_eq(const int64_t *got, const int64_t *want, int n)
{
	for (int i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			fprintf(stderr, "element %d: got %lld want %lld\n", i, (long long)got[i], (long long)want[i]);
			fail();
		}
	}
}

/* ---- data movement ------------------------------------------------------------ */

static void test_transpose(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t id[3] = {2, 3, 4}, od[3] = {3, 4, 2}, perm[3] = {1, 2, 0};
	ValueId x = tu_input(&t, "x", DT_F32, 3, id), y = tu_output(&t, "y", DT_F32, 3, od);
	tu_node(&t, OP_Transpose, 13, &x, 1, &y, 1);
	tu_attr_ints(&t, "perm", 3, perm);
	float in[24], out[24], want[24];
	fill_rand(in, 24, 1);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 3; b++)
			for (int c = 0; c < 4; c++)
				want[(b * 4 + c) * 2 + a] = in[(a * 3 + b) * 4 + c];
	const void *ins[] = {in};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

/* One Transpose of 4-byte elements (f32 or i32 bits) against a reference
 * permutation, bit for bit, at every vector width this host runs. */
static void transpose_case(DType dt, int r, const int64_t *id, const int64_t *perm)
{
	int64_t od[8], ist[8], n = 1;
	for (int k = r - 1; k >= 0; k--) {
		ist[k] = n;
		n *= id[k];
	}
	for (int k = 0; k < r; k++)
		od[k] = id[perm[k]];
	uint32_t *in = malloc((size_t)n * 4), *out = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
	unsigned seed = 7;
	for (int64_t e = 0; e < n; e++) {
		seed = seed * 1103515245u + 12345u;
		in[e] = seed;
	}
	for (int64_t e = 0; e < n; e++) { /* e: output element, row-major over od */
		int64_t rem = e, src = 0;
		for (int k = r - 1; k >= 0; k--) {
			src += rem % od[k] * ist[perm[k]];
			rem /= od[k];
		}
		want[e] = in[src];
	}
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		TuGraph g = tu_graph();
		ValueId x = tu_input(&g, "x", dt, r, id), y = tu_output(&g, "y", dt, r, od);
		tu_node(&g, OP_Transpose, 13, &x, 1, &y, 1);
		tu_attr_ints(&g, "perm", r, perm);
		memset(out, 0xa5, (size_t)n * 4);
		tu_run(&g, (const void *[]){in}, (void *[]){out});
		assert_memory_equal(out, want, (size_t)n * 4);
	}
	tu_isa_override = (CgIsa){0};
	free(in), free(out), free(want);
}

/* Transposes whose output rows read the input with a stride while another
 * dim reads it contiguously (codegen/lower_copy.c's tiles): tails of both
 * tile dims, MaxViT's window partition and reverse (scaled down), a batch
 * of 2-D transposes, i32, a tile dim of 2 */
static void test_transpose_tiles(void **state)
{
	(void)state;
	transpose_case(DT_F32, 3, (const int64_t[]){3, 5, 19}, (const int64_t[]){2, 0, 1});
	transpose_case(DT_F32, 6, (const int64_t[]){1, 20, 2, 7, 3, 7}, (const int64_t[]){0, 2, 4, 3, 5, 1});
	transpose_case(DT_F32, 6, (const int64_t[]){1, 2, 3, 7, 7, 20}, (const int64_t[]){0, 5, 1, 3, 2, 4});
	transpose_case(DT_F32, 3, (const int64_t[]){2, 17, 9}, (const int64_t[]){0, 2, 1});
	transpose_case(DT_I32, 2, (const int64_t[]){9, 10}, (const int64_t[]){1, 0});
	transpose_case(DT_I32, 3, (const int64_t[]){16, 2, 8}, (const int64_t[]){1, 2, 0});
}

/* Slice-13 with constant starts/ends/axes/steps, a negative step and
 * out-of-range ends (clamped, INT64_MAX). */
static void test_slice_negative_step(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t id[2] = {5, 6}, od[2] = {2, 3}, one[1] = {2};
	int64_t starts[2] = {-1, 1}, ends[2] = {INT64_MIN, INT64_MAX}, axes[2] = {1, 0}, steps[2] = {-2, 3};
	ValueId in[5] = {tu_input(&t, "x", DT_I32, 2, id), tu_const(&t, "s", DT_I64, 1, one, starts),
	                 tu_const(&t, "e", DT_I64, 1, one, ends), tu_const(&t, "a", DT_I64, 1, one, axes),
	                 tu_const(&t, "st", DT_I64, 1, one, steps)};
	ValueId y = tu_output(&t, "y", DT_I32, 2, od);
	tu_node(&t, OP_Slice, 13, in, 5, &y, 1);
	int32_t x[30], out[6], want[6];
	for (int i = 0; i < 30; i++)
		x[i] = i * 7 - 3;
	/* rows 1, 4; columns 5, 3, 1 */
	int rows[2] = {1, 4}, cols[3] = {5, 3, 1};
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < 3; c++)
			want[r * 3 + c] = x[rows[r] * 6 + cols[c]];
	const void *ins[] = {x};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

static void test_slice_runtime_starts_rejected(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t id[1] = {6}, od[1] = {3}, one[1] = {1}, ends[1] = {4};
	ValueId in[3] = {tu_input(&t, "x", DT_F32, 1, id), tu_input(&t, "s", DT_I64, 1, one),
	                 tu_const(&t, "e", DT_I64, 1, one, ends)};
	ValueId y = tu_output(&t, "y", DT_F32, 1, od);
	tu_node(&t, OP_Slice, 13, in, 3, &y, 1);
	float x[6] = {0}, out[3];
	int64_t s[1] = {1};
	const void *ins[] = {x, s};
	void *outs[] = {out};
	tu_reject(&t, ins, outs, "input 1: code generation: must be a compile-time constant");
}

/* Concat of two inputs along axis -1, then checked element by element. */
static void test_concat(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t ad[2] = {3, 2}, bd[2] = {3, 4}, od[2] = {3, 6};
	ValueId in[2] = {tu_input(&t, "a", DT_F16, 2, ad), tu_input(&t, "b", DT_F16, 2, bd)};
	ValueId y = tu_output(&t, "y", DT_F16, 2, od);
	tu_node(&t, OP_Concat, 13, in, 2, &y, 1);
	tu_attr_int(&t, "axis", -1);
	uint16_t a[6], b[12], out[18], want[18];
	for (int i = 0; i < 6; i++)
		a[i] = (uint16_t)(0x3c00 + i);
	for (int i = 0; i < 12; i++)
		b[i] = (uint16_t)(0x7e00 + i); /* NaN payloads must survive */
	for (int r = 0; r < 3; r++) {
		for (int c = 0; c < 2; c++)
			want[r * 6 + c] = a[r * 2 + c];
		for (int c = 0; c < 4; c++)
			want[r * 6 + 2 + c] = b[r * 4 + c];
	}
	const void *ins[] = {a, b};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

/* Split into unequal parts along axis 1, including an empty part. */
static void test_split(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t id[2] = {2, 5}, d0[2] = {2, 1}, d1[2] = {2, 0}, d2[2] = {2, 4};
	ValueId x = tu_input(&t, "x", DT_I64, 2, id);
	ValueId out[3] = {tu_output(&t, "y0", DT_I64, 2, d0), tu_output(&t, "y1", DT_I64, 2, d1),
	                  tu_output(&t, "y2", DT_I64, 2, d2)};
	tu_node(&t, OP_Split, 13, &x, 1, out, 3);
	tu_attr_int(&t, "axis", 1);
	int64_t in[10], o0[2], o1[1], o2[8];
	for (int i = 0; i < 10; i++)
		in[i] = 100 + i;
	const void *ins[] = {in};
	void *outs[] = {o0, o1, o2};
	tu_run(&t, ins, outs);
	int64_t w0[2] = {100, 105}, w2[8] = {101, 102, 103, 104, 106, 107, 108, 109};
	assert_i64_eq(o0, w0, 2);
	assert_i64_eq(o2, w2, 8);
}

/* Tile [2,3] by (2,3) and Expand [3,1] -> [2,3,4]. */
static void test_tile_expand(void **state)
{
	(void)state;
	{
		TuGraph t = tu_graph();
		int64_t id[2] = {2, 3}, od[2] = {4, 9}, two[1] = {2}, reps[2] = {2, 3};
		ValueId in[2] = {tu_input(&t, "x", DT_F32, 2, id), tu_const(&t, "r", DT_I64, 1, two, reps)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_Tile, 13, in, 2, &y, 1);
		float x[6], out[36], want[36];
		fill_rand(x, 6, 2);
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 9; j++)
				want[i * 9 + j] = x[(i % 2) * 3 + j % 3];
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t id[2] = {3, 1}, od[3] = {2, 3, 4}, three[1] = {3}, shape[3] = {2, 1, 4};
		ValueId in[2] = {tu_input(&t, "x", DT_F32, 2, id), tu_const(&t, "s", DT_I64, 1, three, shape)};
		ValueId y = tu_output(&t, "y", DT_F32, 3, od);
		tu_node(&t, OP_Expand, 13, in, 2, &y, 1);
		float x[3] = {1.5f, -2.0f, 7.0f}, out[24], want[24];
		for (int i = 0; i < 24; i++)
			want[i] = x[(i / 4) % 3];
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* DepthToSpace (DCR and CRD) against the reshape/transpose definition, and
 * SpaceToDepth inverting DCR. */
static void test_depth_space(void **state)
{
	(void)state;
	enum { N = 1, C = 8, H = 2, W = 3, B = 2, CO = C / (B * B) };
	float x[N * C * H * W];
	fill_rand(x, N * C * H * W, 3);
	for (int crd = 0; crd < 2; crd++) {
		TuGraph t = tu_graph();
		int64_t id[4] = {N, C, H, W}, od[4] = {N, CO, H * B, W * B};
		ValueId in = tu_input(&t, "x", DT_F32, 4, id), y = tu_output(&t, "y", DT_F32, 4, od);
		tu_node(&t, OP_DepthToSpace, 13, &in, 1, &y, 1);
		tu_attr_int(&t, "blocksize", B);
		tu_attr_str(&t, "mode", crd ? "CRD" : "DCR");
		float out[N * C * H * W], want[N * C * H * W];
		for (int c = 0; c < CO; c++)
			for (int h = 0; h < H * B; h++)
				for (int w = 0; w < W * B; w++) {
					int i = h % B, j = w % B;
					int ic = crd ? c * B * B + i * B + j : (i * B + j) * CO + c;
					want[(c * H * B + h) * W * B + w] = x[(ic * H + h / B) * W + w / B];
				}
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
		if (crd)
			continue;
		/* SpaceToDepth(DepthToSpace_DCR(x)) == x */
		TuGraph u = tu_graph();
		ValueId in2 = tu_input(&u, "x", DT_F32, 4, od), y2 = tu_output(&u, "y", DT_F32, 4, id);
		tu_node(&u, OP_SpaceToDepth, 13, &in2, 1, &y2, 1);
		tu_attr_int(&u, "blocksize", B);
		float back[N * C * H * W];
		const void *ins2[] = {out};
		void *outs2[] = {back};
		tu_run(&u, ins2, outs2);
		assert_memory_equal(back, x, sizeof x);
	}
}

/* C reference of Pad for one mode on a 2-D input. */
static float pad_ref(const float *x, int h, int w, const int64_t *pads, const char *mode, float value, int oi,
                     int oj)
{
	int64_t i = oi - pads[0], j = oj - pads[1];
	int64_t p[2] = {i, j}, d[2] = {h, w};
	for (int k = 0; k < 2; k++) {
		if (p[k] >= 0 && p[k] < d[k])
			continue;
		if (!strcmp(mode, "constant"))
			return value;
		if (!strcmp(mode, "edge"))
			p[k] = p[k] < 0 ? 0 : d[k] - 1;
		else if (!strcmp(mode, "wrap"))
			p[k] = ((p[k] % d[k]) + d[k]) % d[k];
		else /* reflect, repeatedly */
			while (p[k] < 0 || p[k] >= d[k])
				p[k] = p[k] < 0 ? -p[k] : 2 * (d[k] - 1) - p[k];
	}
	return x[p[0] * w + p[1]];
}

static void test_pad_modes(void **state)
{
	(void)state;
	const char *modes[4] = {"constant", "edge", "reflect", "wrap"};
	enum { H = 3, W = 4 };
	int64_t pads[4] = {2, -1, 4, 5}; /* begin h, begin w, end h, end w */
	int64_t oh = H + pads[0] + pads[2], ow = W + pads[1] + pads[3];
	float x[H * W];
	fill_rand(x, H * W, 4);
	for (int m = 0; m < 4; m++) {
		TuGraph t = tu_graph();
		int64_t id[2] = {H, W}, od[2] = {oh, ow}, four[1] = {4}, sc[1] = {1};
		ValueId in[3] = {tu_input(&t, "x", DT_F32, 2, id), tu_const(&t, "p", DT_I64, 1, four, pads),
		                 tu_input(&t, "v", DT_F32, 0, sc)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_Pad, 13, in, 3, &y, 1);
		tu_attr_str(&t, "mode", modes[m]);
		float v = 9.25f, out[11 * 8], want[11 * 8];
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j++)
				want[i * ow + j] = pad_ref(x, H, W, pads, modes[m], v, i, j);
		const void *ins[] = {x, &v};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, (size_t)(oh * ow) * sizeof(float));
	}
}

/* ---- indexing ---------------------------------------------------------------- */

/* Gather axis 1 with runtime negative indices of shape [2,2]. */
static void test_gather(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t id[3] = {2, 3, 2}, jd[2] = {2, 2}, od[4] = {2, 2, 2, 2};
	ValueId in[2] = {tu_input(&t, "x", DT_F32, 3, id), tu_input(&t, "i", DT_I32, 2, jd)};
	ValueId y = tu_output(&t, "y", DT_F32, 4, od);
	tu_node(&t, OP_Gather, 13, in, 2, &y, 1);
	tu_attr_int(&t, "axis", 1);
	float x[12], out[16], want[16];
	fill_rand(x, 12, 5);
	int32_t idx[4] = {0, -1, 2, -3};
	for (int a = 0; a < 2; a++)
		for (int j = 0; j < 4; j++)
			for (int c = 0; c < 2; c++)
				want[(a * 4 + j) * 2 + c] = x[(a * 3 + (idx[j] + 3) % 3) * 2 + c];
	const void *ins[] = {x, idx};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

/* ScatterElements-16 with reduction add and duplicate indices; then
 * GatherElements reading the same positions back. */
static void test_scatter_gather_elements(void **state)
{
	(void)state;
	int64_t dd[2] = {3, 3}, id[2] = {2, 3};
	float data[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, upd[6] = {10, 20, 30, 40, 50, 60};
	int64_t idx[6] = {1, 0, 2, -2, 0, 2}; /* axis 0; row 1 col 0 appears twice */
	{
		TuGraph t = tu_graph();
		ValueId in[3] = {tu_input(&t, "d", DT_F32, 2, dd), tu_input(&t, "i", DT_I64, 2, id),
		                 tu_input(&t, "u", DT_F32, 2, id)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, dd);
		tu_node(&t, OP_ScatterElements, 16, in, 3, &y, 1);
		tu_attr_str(&t, "reduction", "add");
		float out[9], want[9];
		memcpy(want, data, sizeof data);
		for (int r = 0; r < 2; r++)
			for (int c = 0; c < 3; c++) {
				int64_t i = idx[r * 3 + c] < 0 ? idx[r * 3 + c] + 3 : idx[r * 3 + c];
				want[i * 3 + c] += upd[r * 3 + c];
			}
		const void *ins[] = {data, idx, upd};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		ValueId in[2] = {tu_input(&t, "d", DT_F32, 2, dd), tu_input(&t, "i", DT_I64, 2, id)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, id);
		tu_node(&t, OP_GatherElements, 13, in, 2, &y, 1);
		tu_attr_int(&t, "axis", 1);
		float out[6], want[6];
		for (int r = 0; r < 2; r++)
			for (int c = 0; c < 3; c++) {
				int64_t i = idx[r * 3 + c] < 0 ? idx[r * 3 + c] + 3 : idx[r * 3 + c];
				want[r * 3 + c] = data[r * 3 + i];
			}
		const void *ins[] = {data, idx};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* GatherND with batch_dims 1, and ScatterND with reduction mul. */
static void test_gather_scatter_nd(void **state)
{
	(void)state;
	{
		TuGraph t = tu_graph();
		int64_t dd[3] = {2, 3, 2}, id[3] = {2, 2, 1}, od[3] = {2, 2, 2};
		ValueId in[2] = {tu_input(&t, "d", DT_I32, 3, dd), tu_input(&t, "i", DT_I64, 3, id)};
		ValueId y = tu_output(&t, "y", DT_I32, 3, od);
		tu_node(&t, OP_GatherND, 13, in, 2, &y, 1);
		tu_attr_int(&t, "batch_dims", 1);
		int32_t data[12], out[8], want[8];
		for (int i = 0; i < 12; i++)
			data[i] = i * i;
		int64_t idx[4] = {2, 0, -1, 1};
		for (int b = 0; b < 2; b++)
			for (int j = 0; j < 2; j++)
				for (int s = 0; s < 2; s++)
					want[(b * 2 + j) * 2 + s] = data[(b * 3 + (idx[b * 2 + j] + 3) % 3) * 2 + s];
		const void *ins[] = {data, idx};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t dd[2] = {4, 2}, id[2] = {3, 1}, ud[2] = {3, 2};
		ValueId in[3] = {tu_input(&t, "d", DT_F32, 2, dd), tu_input(&t, "i", DT_I64, 2, id),
		                 tu_input(&t, "u", DT_F32, 2, ud)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, dd);
		tu_node(&t, OP_ScatterND, 16, in, 3, &y, 1);
		tu_attr_str(&t, "reduction", "mul");
		float data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, upd[6] = {2, 3, 4, 5, 6, 7}, out[8], want[8];
		int64_t idx[3] = {3, 0, 3};
		memcpy(want, data, sizeof data);
		for (int r = 0; r < 3; r++)
			for (int s = 0; s < 2; s++)
				want[idx[r] * 2 + s] *= upd[r * 2 + s];
		const void *ins[] = {data, idx, upd};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* OneHot axis 0 with negative and out-of-range indices; Trilu with a
 * runtime k; EyeLike off the main diagonal. */
static void test_onehot_trilu_eyelike(void **state)
{
	(void)state;
	{
		TuGraph t = tu_graph();
		int64_t id[1] = {4}, sc[1] = {1}, two[1] = {2}, od[2] = {3, 4};
		ValueId in[3] = {tu_input(&t, "i", DT_I64, 1, id), tu_input(&t, "depth", DT_I64, 0, sc),
		                 tu_input(&t, "v", DT_F32, 1, two)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_OneHot, 11, in, 3, &y, 1);
		tu_attr_int(&t, "axis", 0);
		int64_t idx[4] = {0, -1, 5, 1}, depth = 3;
		float vals[2] = {-1, 4}, out[12], want[12];
		for (int d = 0; d < 3; d++)
			for (int j = 0; j < 4; j++) {
				int64_t i = idx[j] < 0 ? idx[j] + 3 : idx[j];
				want[d * 4 + j] = i == d ? vals[1] : vals[0];
			}
		const void *ins[] = {idx, &depth, vals};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	for (int upper = 0; upper < 2; upper++) {
		TuGraph t = tu_graph();
		int64_t xd[3] = {2, 3, 4}, sc[1] = {1};
		ValueId in[2] = {tu_input(&t, "x", DT_I64, 3, xd), tu_input(&t, "k", DT_I64, 0, sc)};
		ValueId y = tu_output(&t, "y", DT_I64, 3, xd);
		tu_node(&t, OP_Trilu, 14, in, 2, &y, 1);
		tu_attr_int(&t, "upper", upper);
		int64_t x[24], out[24], want[24], k = -1;
		for (int i = 0; i < 24; i++) {
			x[i] = i + 1;
			int r = (i / 4) % 3, c = i % 4;
			bool keep = upper ? c - r >= k : c - r <= k;
			want[i] = keep ? x[i] : 0;
		}
		const void *ins[] = {x, &k};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_i64_eq(out, want, 24);
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {3, 4};
		ValueId x = tu_input(&t, "x", DT_F32, 2, xd), y = tu_output(&t, "y", DT_I32, 2, xd);
		tu_node(&t, OP_EyeLike, 9, &x, 1, &y, 1);
		tu_attr_int(&t, "k", 1);
		float in[12] = {0};
		int32_t out[12], want[12];
		for (int i = 0; i < 12; i++)
			want[i] = (i % 4) - (i / 4) == 1;
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* Range with runtime start/delta, ConstantOfShape, Shape with start. */
static void test_range_shape(void **state)
{
	(void)state;
	{
		TuGraph t = tu_graph();
		int64_t sc[1] = {1}, od[1] = {4};
		ValueId in[3] = {tu_input(&t, "s", DT_I32, 0, sc), tu_input(&t, "l", DT_I32, 0, sc),
		                 tu_input(&t, "d", DT_I32, 0, sc)};
		ValueId y = tu_output(&t, "y", DT_I32, 1, od);
		tu_node(&t, OP_Range, 11, in, 3, &y, 1);
		int32_t s = 10, l = -2, d = -3, out[4], want[4] = {10, 7, 4, 1};
		const void *ins[] = {&s, &l, &d};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[4] = {2, 5, 1, 3}, od[1] = {2};
		ValueId x = tu_input(&t, "x", DT_F32, 4, xd), y = tu_output(&t, "y", DT_I64, 1, od);
		tu_node(&t, OP_Shape, 15, &x, 1, &y, 1);
		tu_attr_int(&t, "start", -3);
		tu_attr_int(&t, "end", 3);
		float in[30] = {0};
		int64_t out[2], want[2] = {5, 1};
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_i64_eq(out, want, 2);
	}
}

/* ---- reductions ------------------------------------------------------------------ */

/* C reference: reduce x [2,3,4] over the dims set in red; output element
 * o is the reduction over every input element mapping to o. */
static float reduce_ref(Op op, const float *x, const bool *red, int o)
{
	const int d[3] = {2, 3, 4};
	double acc = op == OP_ReduceProd ? 1 : op == OP_ReduceMax ? -INFINITY : op == OP_ReduceMin ? INFINITY : 0;
	double m = -INFINITY;
	int cnt = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 24; i++) {
			int c[3] = {i / 12, (i / 4) % 3, i % 4}, oi = 0;
			for (int k = 0; k < 3; k++)
				if (!red[k])
					oi = oi * d[k] + c[k];
			if (oi != o)
				continue;
			double v = x[i];
			if (pass == 0) {
				m = fmax(m, v);
				cnt++;
				continue;
			}
			switch (op) {
			case OP_ReduceMax: acc = fmax(acc, v); break;
			case OP_ReduceMin: acc = fmin(acc, v); break;
			case OP_ReduceProd: acc *= v; break;
			case OP_ReduceL1: acc += fabs(v); break;
			case OP_ReduceL2: case OP_ReduceSumSquare: acc += v * v; break;
			case OP_ReduceLogSumExp: acc += exp(v - m); break;
			default: acc += v; break;
			}
		}
	switch (op) {
	case OP_ReduceMean: return (float)(acc / cnt);
	case OP_ReduceL2: return (float)sqrt(acc);
	case OP_ReduceLogSum: return (float)log(acc);
	case OP_ReduceLogSumExp: return (float)(m + log(acc));
	default: return (float)acc;
	}
}

/* Every Reduce* op, attribute and input axes, over {0,-1} (last dim
 * reduced: accumulator form) and {1} (last dim kept: into-output form),
 * keepdims 0 and 1. */
static void test_reduce_ops(void **state)
{
	(void)state;
	Op ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax, OP_ReduceMin, OP_ReduceProd, OP_ReduceL1,
	            OP_ReduceL2, OP_ReduceLogSum, OP_ReduceLogSumExp, OP_ReduceSumSquare};
	float x[24];
	fill_rand(x, 24, 6);
	for (int i = 0; i < 24; i++)
		x[i] = fabsf(x[i]) + 0.25f; /* positive: LogSum stays finite */
	for (int i = 0; i < 24; i += 5)
		x[i] = -x[i];
	struct { int n; int64_t axes[2]; bool red[3]; int64_t od[3]; int nout; } sets[2] = {
		{2, {0, -1}, {true, false, true}, {1, 3, 1}, 3},
		{1, {1, 0}, {false, true, false}, {2, 1, 4}, 8},
	};
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
		for (int set = 0; set < 2; set++)
			for (int opset = 13; opset <= 18; opset += 5) {
				bool keep = opset == 18;
				TuGraph t = tu_graph();
				int64_t xd[3] = {2, 3, 4}, na[1] = {sets[set].n}, od[3];
				int orank = 0;
				for (int j = 0; j < 3; j++)
					if (keep || !sets[set].red[j])
						od[orank++] = sets[set].od[j];
				bool input_axes = opset >= 18 || ops[k] == OP_ReduceSum;
				ValueId in[2] = {tu_input(&t, "x", DT_F32, 3, xd),
				                 input_axes ? tu_const(&t, "a", DT_I64, 1, na, sets[set].axes) : IR_NONE};
				ValueId y = tu_output(&t, "y", DT_F32, orank, od);
				tu_node(&t, ops[k], opset, in, input_axes ? 2 : 1, &y, 1);
				if (!input_axes)
					tu_attr_ints(&t, "axes", sets[set].n, sets[set].axes);
				tu_attr_int(&t, "keepdims", keep);
				float out[8], want[8];
				for (int o = 0; o < sets[set].nout; o++)
					want[o] = reduce_ref(ops[k], x, sets[set].red, o);
				const void *ins[] = {x};
				void *outs[] = {out};
				tu_run(&t, ins, outs);
				assert_close(out, want, sets[set].nout, 1e-5);
			}
}

/* ReduceMean/ReduceMax of int32 over axis 1, last dim kept: integer
 * division truncates toward zero. */
static void test_reduce_int(void **state)
{
	(void)state;
	for (int mean = 0; mean < 2; mean++) {
		TuGraph t = tu_graph();
		int64_t xd[3] = {2, 3, 2}, od[2] = {2, 2};
		ValueId x = tu_input(&t, "x", DT_I32, 3, xd), y = tu_output(&t, "y", DT_I32, 2, od);
		tu_node(&t, mean ? OP_ReduceMean : OP_ReduceMax, 13, &x, 1, &y, 1);
		int64_t axes[1] = {1};
		tu_attr_ints(&t, "axes", 1, axes);
		tu_attr_int(&t, "keepdims", 0);
		int32_t in[12] = {-7, 4, 1, 9, -1, 2, 5, -8, 6, 3, 1, 0}, out[4], want[4];
		for (int a = 0; a < 2; a++)
			for (int c = 0; c < 2; c++) {
				int32_t s = 0, m = INT32_MIN;
				for (int b = 0; b < 3; b++) {
					int32_t v = in[(a * 3 + b) * 2 + c];
					s += v;
					m = v > m ? v : m;
				}
				want[a * 2 + c] = mean ? s / 3 : m;
			}
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* ReduceSum-13 with empty axes: all (keepdims) or nothing (noop). */
static void test_reduce_empty_axes(void **state)
{
	(void)state;
	for (int noop = 0; noop < 2; noop++) {
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 3}, zero[1] = {0}, od[2] = {1, 1};
		ValueId in[2] = {tu_input(&t, "x", DT_I64, 2, xd), tu_const(&t, "a", DT_I64, 1, zero, zero)};
		ValueId y = tu_output(&t, "y", DT_I64, 2, noop ? xd : od);
		tu_node(&t, OP_ReduceSum, 13, in, 2, &y, 1);
		tu_attr_int(&t, "noop_with_empty_axes", noop);
		int64_t x[6] = {1, -2, 30, 4, 5, 600}, out[6];
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		if (noop) {
			assert_i64_eq(out, x, 6);
		} else {
			int64_t want = 638;
			assert_i64_eq(out, &want, 1);
		}
	}
}

/* ArgMax/ArgMin over axis 1 with ties, first and last index. */
static void test_argmax_argmin(void **state)
{
	(void)state;
	float x[2 * 4 * 2] = {1, 5, 3, 5, 3, 0, 2, 5, /* batch 0: [4,2] */
	                      -1, -1, -1, 2, -7, 2, -7, -9};
	for (int mx = 0; mx < 2; mx++)
		for (int last = 0; last < 2; last++) {
			TuGraph t = tu_graph();
			int64_t xd[3] = {2, 4, 2}, od[3] = {2, 1, 2};
			ValueId in = tu_input(&t, "x", DT_F32, 3, xd), y = tu_output(&t, "y", DT_I64, 3, od);
			tu_node(&t, mx ? OP_ArgMax : OP_ArgMin, 13, &in, 1, &y, 1);
			tu_attr_int(&t, "axis", -2);
			tu_attr_int(&t, "select_last_index", last);
			int64_t out[4], want[4];
			for (int b = 0; b < 2; b++)
				for (int c = 0; c < 2; c++) {
					int best = 0;
					for (int a = 1; a < 4; a++) {
						float v = x[(b * 4 + a) * 2 + c], w = x[(b * 4 + best) * 2 + c];
						if (mx ? (v > w || (last && v == w)) : (v < w || (last && v == w)))
							best = a;
					}
					want[b * 2 + c] = best;
				}
			const void *ins[] = {x};
			void *outs[] = {out};
			tu_run(&t, ins, outs);
			assert_i64_eq(out, want, 4);
		}
}

/* Softmax-13 (per axis 1), Softmax-11 (flattened at axis 1), LogSoftmax-13
 * and Hardmax-13 on [2,3,4], with large values for stability. */
static void test_softmax_family(void **state)
{
	(void)state;
	enum { A = 2, B = 3, C = 4, N = A * B * C };
	float x[N];
	fill_rand(x, N, 7);
	x[5] = 1000.0f;
	x[6] = 1000.0f; /* a tie for Hardmax in the opset-11 row 0 */
	struct { Op op; int opset; } cases[] = {{OP_Softmax, 13}, {OP_Softmax, 11}, {OP_LogSoftmax, 13},
	                                        {OP_LogSoftmax, 11}, {OP_Hardmax, 13}, {OP_Hardmax, 11}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		TuGraph t = tu_graph();
		int64_t xd[3] = {A, B, C};
		ValueId in = tu_input(&t, "x", DT_F32, 3, xd), y = tu_output(&t, "y", DT_F32, 3, xd);
		tu_node(&t, cases[k].op, cases[k].opset, &in, 1, &y, 1);
		tu_attr_int(&t, "axis", 1);
		/* rows: opset 13 -> (a, c) over b with stride C; opset 11 -> a over B*C */
		bool v13 = cases[k].opset >= 13;
		int nrows = v13 ? A * C : A, len = v13 ? B : B * C, stride = v13 ? C : 1;
		float out[N], want[N];
		for (int r = 0; r < nrows; r++) {
			int base = v13 ? (r / C) * B * C + r % C : r * B * C;
			double m = -INFINITY, s = 0;
			int arg = 0;
			for (int i = 0; i < len; i++)
				if (x[base + i * stride] > m) {
					m = x[base + i * stride];
					arg = i;
				}
			for (int i = 0; i < len; i++)
				s += exp(x[base + i * stride] - m);
			for (int i = 0; i < len; i++) {
				double v = x[base + i * stride];
				want[base + i * stride] = cases[k].op == OP_Softmax ? (float)(exp(v - m) / s)
				                        : cases[k].op == OP_LogSoftmax ? (float)(v - m - log(s))
				                        : (float)(i == arg);
			}
		}
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_close(out, want, N, 1e-5);
	}
}

/* Softmax-13 / LogSoftmax-13 / Hardmax-13 along axis 1 of [2,3,C] for an
 * inner extent below and above the column-form limit (1024). */
static void test_softmax_inner_extents(void **state)
{
	(void)state;
	int64_t inners[2] = {5, 1030};
	Op ops[3] = {OP_Softmax, OP_LogSoftmax, OP_Hardmax};
	for (int e = 0; e < 2; e++)
		for (int k = 0; k < 3; k++) {
			int64_t C = inners[e], n = 2 * 3 * C;
			float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *x);
			float *want = malloc((size_t)n * sizeof *x);
			fill_rand(x, (int)n, 11 + (unsigned)e);
			TuGraph t = tu_graph();
			int64_t xd[3] = {2, 3, C};
			ValueId in = tu_input(&t, "x", DT_F32, 3, xd), y = tu_output(&t, "y", DT_F32, 3, xd);
			tu_node(&t, ops[k], 13, &in, 1, &y, 1);
			tu_attr_int(&t, "axis", 1);
			for (int a = 0; a < 2; a++)
				for (int64_t c = 0; c < C; c++) {
					double m = -INFINITY, s = 0;
					int arg = 0;
					for (int b = 0; b < 3; b++)
						if (x[(a * 3 + b) * C + c] > m) {
							m = x[(a * 3 + b) * C + c];
							arg = b;
						}
					for (int b = 0; b < 3; b++)
						s += exp(x[(a * 3 + b) * C + c] - m);
					for (int b = 0; b < 3; b++) {
						double v = x[(a * 3 + b) * C + c];
						want[(a * 3 + b) * C + c] = ops[k] == OP_Softmax ? (float)(exp(v - m) / s)
						                          : ops[k] == OP_LogSoftmax ? (float)(v - m - log(s))
						                          : (float)(b == arg);
					}
				}
			const void *ins[] = {x};
			void *outs[] = {out};
			tu_run(&t, ins, outs);
			assert_close(out, want, (int)n, 1e-5);
			free(x);
			free(out);
			free(want);
		}
}

/* CumSum with the axis as a runtime input, all exclusive/reverse combos. */
static void test_cumsum(void **state)
{
	(void)state;
	for (int mode = 0; mode < 4; mode++) {
		bool excl = mode & 1, rev = mode & 2;
		for (int64_t axis = -2; axis < 2; axis++) {
			TuGraph t = tu_graph();
			int64_t xd[2] = {3, 4}, sc[1] = {1};
			ValueId in[2] = {tu_input(&t, "x", DT_I32, 2, xd), tu_input(&t, "a", DT_I64, 0, sc)};
			ValueId y = tu_output(&t, "y", DT_I32, 2, xd);
			tu_node(&t, OP_CumSum, 14, in, 2, &y, 1);
			tu_attr_int(&t, "exclusive", excl);
			tu_attr_int(&t, "reverse", rev);
			int32_t x[12], out[12], want[12];
			for (int i = 0; i < 12; i++)
				x[i] = (i * 37) % 11 - 5;
			int ax = (int)(axis < 0 ? axis + 2 : axis);
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 4; j++) {
					int32_t s = 0;
					int pos = ax == 0 ? i : j, len = ax == 0 ? 3 : 4;
					for (int q = 0; q < len; q++) {
						bool in_range = rev ? (excl ? q > pos : q >= pos) : (excl ? q < pos : q <= pos);
						if (in_range)
							s += ax == 0 ? x[q * 4 + j] : x[i * 4 + q];
					}
					want[i * 4 + j] = s;
				}
			const void *ins[] = {x, &axis};
			void *outs[] = {out};
			tu_run(&t, ins, outs);
			assert_memory_equal(out, want, sizeof want);
		}
	}
}

/* TopK along axis 0 with ties (lower index first), largest and smallest. */
static void test_topk(void **state)
{
	(void)state;
	enum { A = 6, C = 2, K = 4 };
	float x[A * C] = {3, 1, 5, 1, 3, 2, -1, 2, 5, 0, 3, 1};
	for (int largest = 0; largest < 2; largest++) {
		TuGraph t = tu_graph();
		int64_t xd[2] = {A, C}, od[2] = {K, C}, one[1] = {1}, k[1] = {K};
		ValueId in[2] = {tu_input(&t, "x", DT_F32, 2, xd), tu_const(&t, "k", DT_I64, 1, one, k)};
		ValueId out[2] = {tu_output(&t, "v", DT_F32, 2, od), tu_output(&t, "i", DT_I64, 2, od)};
		tu_node(&t, OP_TopK, 11, in, 2, out, 2);
		tu_attr_int(&t, "axis", 0);
		tu_attr_int(&t, "largest", largest);
		float v[K * C], wv[K * C];
		int64_t idx[K * C], wi[K * C];
		for (int c = 0; c < C; c++) {
			bool used[A] = {false};
			for (int r = 0; r < K; r++) { /* selection: best, lowest index on ties */
				int best = -1;
				for (int a = 0; a < A; a++) {
					if (used[a])
						continue;
					float xv = x[a * C + c];
					if (best < 0 || (largest ? xv > x[best * C + c] : xv < x[best * C + c]))
						best = a;
				}
				used[best] = true;
				wv[r * C + c] = x[best * C + c];
				wi[r * C + c] = best;
			}
		}
		const void *ins[] = {x};
		void *outs[] = {v, idx};
		tu_run(&t, ins, outs);
		assert_memory_equal(v, wv, sizeof wv);
		assert_i64_eq(idx, wi, K * C);
	}
}

/* ---- element types and rejections ------------------------------------------------ */

static float half_to_float(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
	return (h & 0x8000) ? -v : v;
}

/* Transpose of bool and int8, Gather of uint8: bits move unchanged. */
static void test_small_types_move(void **state)
{
	(void)state;
	DType types[2] = {DT_BOOL, DT_I8};
	for (int k = 0; k < 2; k++) {
		TuGraph t = tu_graph();
		int64_t id[2] = {3, 5}, od[2] = {5, 3};
		ValueId x = tu_input(&t, "x", types[k], 2, id), y = tu_output(&t, "y", types[k], 2, od);
		tu_node(&t, OP_Transpose, 13, &x, 1, &y, 1);
		uint8_t in[15], out[15], want[15];
		for (int i = 0; i < 15; i++)
			in[i] = types[k] == DT_BOOL ? (uint8_t)(i % 3 == 0) : (uint8_t)(i * 37 + 128);
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 5; j++)
				want[j * 3 + i] = in[i * 5 + j];
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t id[1] = {6}, jd[1] = {3};
		ValueId in[2] = {tu_input(&t, "x", DT_U8, 1, id), tu_input(&t, "i", DT_I64, 1, jd)};
		ValueId y = tu_output(&t, "y", DT_U8, 1, jd);
		tu_node(&t, OP_Gather, 13, in, 2, &y, 1);
		uint8_t x[6] = {250, 1, 2, 3, 4, 255}, out[3], want[3] = {255, 250, 3};
		int64_t idx[3] = {-1, 0, 3};
		const void *ins[] = {x, idx};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

/* Softmax-13 and ReduceSum-13 on float16 (computed in float, one rounding
 * at the store), CumSum on float64, ArgMax on uint8, TopK on int32. */
static void test_numeric_types(void **state)
{
	(void)state;
	uint16_t h[8] = {0x3c00, 0x4000, 0xbc00, 0x0000, 0x4200, 0x3800, 0xc000, 0x3c00}; /* 1 2 -1 0 3 .5 -2 1 */
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 4};
		ValueId x = tu_input(&t, "x", DT_F16, 2, xd), y = tu_output(&t, "y", DT_F16, 2, xd);
		tu_node(&t, OP_Softmax, 13, &x, 1, &y, 1);
		uint16_t out[8];
		float got[8], want[8];
		for (int r = 0; r < 2; r++) {
			double m = -INFINITY, s = 0;
			for (int j = 0; j < 4; j++)
				m = fmax(m, half_to_float(h[r * 4 + j]));
			for (int j = 0; j < 4; j++)
				s += exp(half_to_float(h[r * 4 + j]) - m);
			for (int j = 0; j < 4; j++)
				want[r * 4 + j] = (float)(exp(half_to_float(h[r * 4 + j]) - m) / s);
		}
		const void *ins[] = {h};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		for (int i = 0; i < 8; i++)
			got[i] = half_to_float(out[i]);
		assert_close(got, want, 8, 1e-3); /* float16 has 11 significant bits */
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 4}, od[1] = {4}, one[1] = {1}, ax[1] = {0};
		ValueId in[2] = {tu_input(&t, "x", DT_F16, 2, xd), tu_const(&t, "a", DT_I64, 1, one, ax)};
		ValueId y = tu_output(&t, "y", DT_F16, 1, od);
		tu_node(&t, OP_ReduceSum, 13, in, 2, &y, 1);
		tu_attr_int(&t, "keepdims", 0);
		uint16_t out[4];
		float got[4], want[4];
		for (int j = 0; j < 4; j++)
			want[j] = half_to_float(h[j]) + half_to_float(h[4 + j]);
		const void *ins[] = {h};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		for (int i = 0; i < 4; i++)
			got[i] = half_to_float(out[i]);
		assert_close(got, want, 4, 0); /* small integers and halves: exact */
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[1] = {5}, sc[1] = {1};
		ValueId in[2] = {tu_input(&t, "x", DT_F64, 1, xd), tu_const(&t, "a", DT_I64, 0, sc, (int64_t[]){0})};
		ValueId y = tu_output(&t, "y", DT_F64, 1, xd);
		tu_node(&t, OP_CumSum, 14, in, 2, &y, 1);
		tu_attr_int(&t, "reverse", 1);
		double x[5] = {1e-17, 1, 0.5, 1e300, -1e300}, out[5], want[5];
		double s = 0;
		for (int i = 4; i >= 0; i--)
			want[i] = s += x[i];
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[1] = {5}, od[1] = {1};
		ValueId x = tu_input(&t, "x", DT_U8, 1, xd), y = tu_output(&t, "y", DT_I64, 1, od);
		tu_node(&t, OP_ArgMax, 13, &x, 1, &y, 1);
		uint8_t in[5] = {3, 200, 7, 200, 100};
		int64_t out[1], want[1] = {1}; /* unsigned order: 200 > 100 */
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_i64_eq(out, want, 1);
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[1] = {6}, od[1] = {3}, one[1] = {1}, k[1] = {3};
		ValueId in[2] = {tu_input(&t, "x", DT_I32, 1, xd), tu_const(&t, "k", DT_I64, 1, one, k)};
		ValueId out[2] = {tu_output(&t, "v", DT_I32, 1, od), tu_output(&t, "i", DT_I64, 1, od)};
		tu_node(&t, OP_TopK, 11, in, 2, out, 2);
		int32_t x[6] = {-5, 9, -5, INT32_MIN, 9, 0}, v[3], wv[3] = {9, 9, 0};
		int64_t idx[3], wi[3] = {1, 4, 5};
		const void *ins[] = {x};
		void *outs[] = {v, idx};
		tu_run(&t, ins, outs);
		assert_memory_equal(v, wv, sizeof wv);
		assert_i64_eq(idx, wi, 3);
	}
}

/* Configurations the lowerings refuse, each with its diagnostic. */
static void test_rejections(void **state)
{
	(void)state;
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 3}, od[1] = {2};
		ValueId x = tu_input(&t, "x", DT_I32, 2, xd), y = tu_output(&t, "y", DT_I32, 1, od);
		tu_node(&t, OP_ReduceL2, 13, &x, 1, &y, 1);
		int64_t axes[1] = {1};
		tu_attr_ints(&t, "axes", 1, axes);
		tu_attr_int(&t, "keepdims", 0);
		int32_t in[6] = {0}, out[2];
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_reject(&t, ins, outs, "(ReduceL2): input 0: code generation: type i32 (floating point only)");
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 3};
		ValueId x = tu_input(&t, "x", DT_I64, 2, xd), y = tu_output(&t, "y", DT_I64, 2, xd);
		tu_node(&t, OP_Softmax, 13, &x, 1, &y, 1);
		int64_t in[6] = {0}, out[6];
		const void *ins[] = {in};
		void *outs[] = {out};
		tu_reject(&t, ins, outs, "(Softmax): input 0: code generation: type i64 (floating point only)");
	}
	{
		TuGraph t = tu_graph();
		int64_t xd[2] = {2, 3}, od[2] = {2, 1}, one[1] = {1}, bad[1] = {0};
		ValueId in[5] = {tu_input(&t, "x", DT_F32, 2, xd), tu_const(&t, "s", DT_I64, 1, one, bad),
		                 tu_const(&t, "e", DT_I64, 1, one, one), tu_const(&t, "a", DT_I64, 1, one, one),
		                 tu_const(&t, "st", DT_I64, 1, one, bad)};
		ValueId y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_Slice, 13, in, 5, &y, 1);
		float x[6] = {0}, out[2];
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_reject(&t, ins, outs, "code generation: step 0");
	}
}

/* Slice-1 and Pad-2 take their parameters as attributes. */
static void test_attribute_forms(void **state)
{
	(void)state;
	float x[12];
	fill_rand(x, 12, 9);
	{
		TuGraph t = tu_graph();
		int64_t id[2] = {3, 4}, od[2] = {3, 3};
		int64_t starts[1] = {-3}, ends[1] = {1000}, axes[1] = {1};
		ValueId in = tu_input(&t, "x", DT_F32, 2, id), y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_Slice, 1, &in, 1, &y, 1);
		tu_attr_ints(&t, "starts", 1, starts);
		tu_attr_ints(&t, "ends", 1, ends);
		tu_attr_ints(&t, "axes", 1, axes);
		float out[9], want[9];
		for (int r = 0; r < 3; r++)
			for (int c = 0; c < 3; c++)
				want[r * 3 + c] = x[r * 4 + 1 + c]; /* start -3 -> 1, end clamps to 4 */
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
	{
		TuGraph t = tu_graph();
		int64_t id[2] = {3, 4}, od[2] = {4, 5}, pads[4] = {0, 1, 1, 0};
		ValueId in = tu_input(&t, "x", DT_F32, 2, id), y = tu_output(&t, "y", DT_F32, 2, od);
		tu_node(&t, OP_Pad, 2, &in, 1, &y, 1);
		tu_attr_ints(&t, "pads", 4, pads);
		graph_add_attr(t.g, t.node, "value", AK_FLOAT)->f = 1.5f;
		float out[20], want[20];
		for (int r = 0; r < 4; r++)
			for (int c = 0; c < 5; c++)
				want[r * 5 + c] = r < 3 && c >= 1 ? x[r * 4 + c - 1] : 1.5f;
		const void *ins[] = {x};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		assert_memory_equal(out, want, sizeof want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transpose),
		cmocka_unit_test(test_transpose_tiles),
		cmocka_unit_test(test_slice_negative_step),
		cmocka_unit_test(test_slice_runtime_starts_rejected),
		cmocka_unit_test(test_concat),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_tile_expand),
		cmocka_unit_test(test_depth_space),
		cmocka_unit_test(test_pad_modes),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_scatter_gather_elements),
		cmocka_unit_test(test_gather_scatter_nd),
		cmocka_unit_test(test_onehot_trilu_eyelike),
		cmocka_unit_test(test_range_shape),
		cmocka_unit_test(test_reduce_ops),
		cmocka_unit_test(test_reduce_int),
		cmocka_unit_test(test_reduce_empty_axes),
		cmocka_unit_test(test_argmax_argmin),
		cmocka_unit_test(test_softmax_family),
		cmocka_unit_test(test_softmax_inner_extents),
		cmocka_unit_test(test_cumsum),
		cmocka_unit_test(test_topk),
		cmocka_unit_test(test_small_types_move),
		cmocka_unit_test(test_numeric_types),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_attribute_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

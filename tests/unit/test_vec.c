/* tests/unit/test_vec.c — the explicit vector rows of codegen/vec.c, through
 * the lowerings that use them: Softmax/LogSoftmax over the last axis,
 * Reduce* over the last axis, LayerNormalization, and f32 elementwise ops
 * with a broadcast operand.
 *
 * Row lengths cover every part of a vector row for 4 to 16 lanes and 4
 * slots: a lone masked tail (5), full vector(s) + tail (17), and the
 * unrolled main loop + leftover vectors + tail (183 = 2*64 + 3*16 + 7 at
 * 16 lanes, 5*32 + 2*8 + 7 at 8).  Each graph is compiled for
 * the host (one graph per test, dtype or length, with a node per case to
 * keep compilations few) and run with tu_run(); every element is compared with a C
 * reference in double (relative tolerance 1e-5).  f64 inputs take the
 * scalar (one lane) form of the same loops.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir/ir.h"

static const int64_t LENS[] = {5, 17, 183};
#define NLENS ((int)(sizeof LENS / sizeof LENS[0]))
#define ROWS 3

static double drand_(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (double)((*seed >> 8) & 0xffff) / 65536.0 * 8.0 - 4.0;
}

/* n values of dtype dt (f32 or f64) from seed; also kept as doubles in d. */
static void *fill(DType dt, int64_t n, unsigned seed, double *d)
{
	void *p = malloc((size_t)n * 8);
	for (int64_t i = 0; i < n; i++) {
		d[i] = drand_(&seed);
		if (dt == DT_F32) {
			((float *)p)[i] = (float)d[i];
			d[i] = ((float *)p)[i];
		} else {
			((double *)p)[i] = d[i];
		}
	}
	return p;
}

static void check(DType dt, const void *got, const double *want, int64_t n, const char *what, int64_t len)
{
	for (int64_t i = 0; i < n; i++) {
		double g = dt == DT_F32 ? ((const float *)got)[i] : ((const double *)got)[i];
		double tol = 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
		if (!(fabs(g - want[i]) <= tol)) {
			fprintf(stderr, "%s %s, row length %lld: element %lld: got %.9g want %.9g\n", what,
			        dtype_name(dt), (long long)len, (long long)i, g, want[i]);
			fail();
		}
	}
}

/* Softmax-13 and LogSoftmax-13 over the last axis of [ROWS, len]: one
 * graph per dtype with a Softmax and a LogSoftmax node per length. */
static void test_softmax_rows(void **state)
{
	(void)state;
	for (int d = 0; d < 2; d++) {
		DType dt = d ? DT_F64 : DT_F32;
		TuGraph t = tu_graph();
		const void *ins[NLENS];
		void *outs[2 * NLENS];
		double *want[2 * NLENS];
		for (int l = 0; l < NLENS; l++) {
			int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len};
			double *x = malloc((size_t)n * 8);
			void *in = fill(dt, n, 17 + (unsigned)l, x);
			x[n - 1] = 80.0;   /* exp would overflow without the max */
			if (dt == DT_F32)
				((float *)in)[n - 1] = 80.0f;
			else
				((double *)in)[n - 1] = 80.0;
			char name[16];
			snprintf(name, sizeof name, "x%d", l);
			ValueId xi = tu_input(&t, name, dt, 2, xd);
			ins[l] = in;
			for (int lg = 0; lg < 2; lg++) {
				int k = 2 * l + lg;
				snprintf(name, sizeof name, "y%d", k);
				ValueId y = tu_output(&t, name, dt, 2, xd);
				tu_node(&t, lg ? OP_LogSoftmax : OP_Softmax, 13, &xi, 1, &y, 1);
				outs[k] = malloc((size_t)n * 8);
				want[k] = malloc((size_t)n * 8);
				for (int r = 0; r < ROWS; r++) {
					const double *xr = x + r * len;
					double m = -INFINITY, s = 0;
					for (int64_t i = 0; i < len; i++)
						m = fmax(m, xr[i]);
					for (int64_t i = 0; i < len; i++)
						s += exp(xr[i] - m);
					for (int64_t i = 0; i < len; i++)
						want[k][r * len + i] = lg ? xr[i] - m - log(s) : exp(xr[i] - m) / s;
				}
			}
			free(x);
		}
		tu_run(&t, ins, outs);
		for (int k = 0; k < 2 * NLENS; k++) {
			check(dt, outs[k], want[k], ROWS * LENS[k / 2], k % 2 ? "LogSoftmax" : "Softmax", LENS[k / 2]);
			free(outs[k]);
			free(want[k]);
		}
		for (int l = 0; l < NLENS; l++)
			free((void *)ins[l]);
	}
}

/* ReduceSum/Mean/Max/Min/L2/LogSumExp-11 (axes attribute) over the last
 * axis of [ROWS, len]: one graph per length with a node per op. */
static void test_reduce_rows(void **state)
{
	(void)state;
	enum { NOPS = 6 };
	const Op ops[NOPS] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax, OP_ReduceMin, OP_ReduceL2,
	                      OP_ReduceLogSumExp};
	for (int l = 0; l < NLENS; l++) {
		int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, od[1] = {ROWS}, ax[1] = {-1};
		double *x = malloc((size_t)n * 8), want[NOPS][ROWS];
		void *in = fill(DT_F32, n, 29 + (unsigned)l, x);
		float out[NOPS][ROWS];
		TuGraph t = tu_graph();
		ValueId xi = tu_input(&t, "x", DT_F32, 2, xd);
		void *outs[NOPS];
		for (int k = 0; k < NOPS; k++) {
			char name[16];
			snprintf(name, sizeof name, "y%d", k);
			ValueId y = tu_output(&t, name, DT_F32, 1, od);
			tu_node(&t, ops[k], 11, &xi, 1, &y, 1);
			tu_attr_ints(&t, "axes", 1, ax);
			tu_attr_int(&t, "keepdims", 0);
			outs[k] = out[k];
			for (int r = 0; r < ROWS; r++) {
				const double *xr = x + r * len;
				double m = -INFINITY, a = ops[k] == OP_ReduceMin ? INFINITY : ops[k] == OP_ReduceMax ? -INFINITY : 0;
				for (int64_t i = 0; i < len; i++)
					m = fmax(m, xr[i]);
				for (int64_t i = 0; i < len; i++)
					switch (ops[k]) {
					case OP_ReduceMax: a = fmax(a, xr[i]); break;
					case OP_ReduceMin: a = fmin(a, xr[i]); break;
					case OP_ReduceL2: a += xr[i] * xr[i]; break;
					case OP_ReduceLogSumExp: a += exp(xr[i] - m); break;
					default: a += xr[i]; break;
					}
				want[k][r] = ops[k] == OP_ReduceMean ? a / (double)len : ops[k] == OP_ReduceL2 ? sqrt(a)
				           : ops[k] == OP_ReduceLogSumExp ? m + log(a) : a;
			}
		}
		const void *ins[] = {in};
		tu_run(&t, ins, outs);
		for (int k = 0; k < NOPS; k++)
			check(DT_F32, out[k], want[k], ROWS, op_name(ops[k]), len);
		free(x);
		free(in);
	}
}

/* LayerNormalization-17 over the last axis with Scale and B, Mean and
 * InvStdDev outputs: one graph per dtype with a node per length. */
static void test_layernorm_rows(void **state)
{
	(void)state;
	for (int d = 0; d < 2; d++) {
		DType dt = d ? DT_F64 : DT_F32;
		TuGraph t = tu_graph();
		const void *ins[3 * NLENS];
		void *outs[3 * NLENS];
		double *want[3 * NLENS];
		for (int l = 0; l < NLENS; l++) {
			int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, sd[1] = {len}, md[2] = {ROWS, 1};
			double *x = malloc((size_t)n * 8), *sc = malloc((size_t)len * 8), *bi = malloc((size_t)len * 8);
			ins[3 * l] = fill(dt, n, 41 + (unsigned)l, x);
			ins[3 * l + 1] = fill(dt, len, 43, sc);
			ins[3 * l + 2] = fill(dt, len, 47, bi);
			for (int k = 0; k < 3; k++)
				outs[3 * l + k] = malloc((size_t)n * 8);
			double *w = want[3 * l] = malloc((size_t)n * 8), *wm = want[3 * l + 1] = malloc(ROWS * 8);
			double *wi = want[3 * l + 2] = malloc(ROWS * 8);
			for (int r = 0; r < ROWS; r++) {
				const double *xr = x + r * len;
				double m = 0, v = 0;
				for (int64_t i = 0; i < len; i++)
					m += xr[i];
				m /= (double)len;
				for (int64_t i = 0; i < len; i++)
					v += (xr[i] - m) * (xr[i] - m);
				v /= (double)len;
				wm[r] = m;
				wi[r] = 1 / sqrt(v + 1e-5);
				for (int64_t i = 0; i < len; i++)
					w[r * len + i] = (xr[i] - m) * wi[r] * sc[i] + bi[i];
			}
			char nm[3][16];
			for (int k = 0; k < 3; k++)
				snprintf(nm[k], sizeof nm[k], "%c%d", "xsb"[k], l);
			ValueId in3[3] = {tu_input(&t, nm[0], dt, 2, xd), tu_input(&t, nm[1], dt, 1, sd),
			                  tu_input(&t, nm[2], dt, 1, sd)};
			for (int k = 0; k < 3; k++)
				snprintf(nm[k], sizeof nm[k], "%c%d", "ymi"[k], l);
			ValueId o3[3] = {tu_output(&t, nm[0], dt, 2, xd), tu_output(&t, nm[1], dt, 2, md),
			                 tu_output(&t, nm[2], dt, 2, md)};
			tu_node(&t, OP_LayerNormalization, 17, in3, 3, o3, 3);
			tu_attr_int(&t, "axis", -1);
			free(x);
			free(sc);
			free(bi);
		}
		tu_run(&t, ins, outs);
		static const char *what[3] = {"LayerNormalization", "LayerNormalization Mean",
		                              "LayerNormalization InvStdDev"};
		for (int k = 0; k < 3 * NLENS; k++) {
			check(dt, outs[k], want[k], k % 3 ? ROWS : ROWS * LENS[k / 3], what[k % 3], LENS[k / 3]);
			free(outs[k]);
			free(want[k]);
			free((void *)ins[k]);
		}
	}
}

/* f32 elementwise ops with the row as the vector dim: Sub of a [ROWS, 1]
 * column (broadcast, splat per row), Pow by a constant 2, Erf, Sigmoid,
 * and x + x (two contiguous operands); one graph with a node per op and
 * length. */
static void test_elementwise_rows(void **state)
{
	(void)state;
	enum { NOPS = 5 };
	const Op ops[NOPS] = {OP_Sub, OP_Pow, OP_Erf, OP_Sigmoid, OP_Add};
	TuGraph t = tu_graph();
	float two = 2.0f;
	ValueId c2 = tu_const(&t, "two", DT_F32, 0, NULL, &two);
	const void *ins[2 * NLENS];
	void *outs[NOPS * NLENS];
	double *want[NOPS * NLENS];
	for (int l = 0; l < NLENS; l++) {
		int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, cd[2] = {ROWS, 1};
		double *x = malloc((size_t)n * 8), *b = malloc((size_t)n * 8);
		ins[2 * l] = fill(DT_F32, n, 53 + (unsigned)l, x);
		ins[2 * l + 1] = fill(DT_F32, n, 59, b);
		char name[16];
		snprintf(name, sizeof name, "x%d", l);
		ValueId xi = tu_input(&t, name, DT_F32, 2, xd);
		snprintf(name, sizeof name, "b%d", l);
		ValueId bi = tu_input(&t, name, DT_F32, 2, cd);
		for (int k = 0; k < NOPS; k++) {
			int o = NOPS * l + k;
			snprintf(name, sizeof name, "y%d", o);
			ValueId y = tu_output(&t, name, DT_F32, 2, xd), in2[2] = {xi, IR_NONE};
			if (ops[k] == OP_Sub)
				in2[1] = bi;
			else if (ops[k] == OP_Pow)
				in2[1] = c2;
			else if (ops[k] == OP_Add)
				in2[1] = xi;
			tu_node(&t, ops[k], 13, in2, in2[1] != IR_NONE ? 2 : 1, &y, 1);
			outs[o] = malloc((size_t)n * 4);
			want[o] = malloc((size_t)n * 8);
			for (int64_t i = 0; i < n; i++) {
				double v = x[i];
				switch (ops[k]) {
				case OP_Sub: want[o][i] = v - b[i / len]; break;
				case OP_Pow: want[o][i] = v * v; break;
				case OP_Erf: want[o][i] = erf(v); break;
				case OP_Sigmoid: want[o][i] = 1 / (1 + exp(-v)); break;
				default: want[o][i] = v + v; break;
				}
			}
		}
		free(x);
		free(b);
	}
	tu_run(&t, ins, outs);
	for (int o = 0; o < NOPS * NLENS; o++) {
		check(DT_F32, outs[o], want[o], ROWS * LENS[o / NOPS], op_name(ops[o % NOPS]), LENS[o / NOPS]);
		free(outs[o]);
		free(want[o]);
	}
	for (int i = 0; i < 2 * NLENS; i++)
		free((void *)ins[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_softmax_rows),
		cmocka_unit_test(test_reduce_rows),
		cmocka_unit_test(test_layernorm_rows),
		cmocka_unit_test(test_elementwise_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

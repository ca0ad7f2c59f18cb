/* tests/unit/test_vec.c — the explicit vector rows of codegen/vec.c, through
 * the lowerings that use them: Softmax/LogSoftmax over the last axis,
 * Reduce* over the last axis, LayerNormalization, and f32 elementwise ops
 * with a broadcast operand.
 *
 * Row lengths cover every part of a vector row for 4 to 16 lanes and 4
 * slots: a lone masked tail (5), full vector(s) + tail (17), and the
 * unrolled main loop + leftover vectors + tail (183 = 2*64 + 3*16 + 7 at
 * 16 lanes, 5*32 + 2*8 + 7 at 8).  Each graph is compiled for
 * the host and run with tu_run(); every element is compared with a C
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

/* Softmax-13 and LogSoftmax-13 over the last axis of [ROWS, len]. */
static void test_softmax_rows(void **state)
{
	(void)state;
	for (int d = 0; d < 2; d++)
		for (int l = 0; l < NLENS; l++)
			for (int lg = 0; lg < 2; lg++) {
				DType dt = d ? DT_F64 : DT_F32;
				int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len};
				double *x = malloc((size_t)n * 8), *want = malloc((size_t)n * 8);
				void *in = fill(dt, n, 17 + (unsigned)l, x), *out = malloc((size_t)n * 8);
				x[n - 1] = 80.0;   /* exp would overflow without the max */
				if (dt == DT_F32)
					((float *)in)[n - 1] = 80.0f;
				else
					((double *)in)[n - 1] = 80.0;
				for (int r = 0; r < ROWS; r++) {
					const double *xr = x + r * len;
					double m = -INFINITY, s = 0;
					for (int64_t i = 0; i < len; i++)
						m = fmax(m, xr[i]);
					for (int64_t i = 0; i < len; i++)
						s += exp(xr[i] - m);
					for (int64_t i = 0; i < len; i++)
						want[r * len + i] = lg ? xr[i] - m - log(s) : exp(xr[i] - m) / s;
				}
				TuGraph t = tu_graph();
				ValueId xi = tu_input(&t, "x", dt, 2, xd), y = tu_output(&t, "y", dt, 2, xd);
				tu_node(&t, lg ? OP_LogSoftmax : OP_Softmax, 13, &xi, 1, &y, 1);
				const void *ins[] = {in};
				void *outs[] = {out};
				tu_run(&t, ins, outs);
				check(dt, out, want, n, lg ? "LogSoftmax" : "Softmax", len);
				free(x);
				free(want);
				free(in);
				free(out);
			}
}

/* ReduceSum/Mean/Max/Min/L2/LogSumExp-11 (axes attribute) over the last
 * axis of [ROWS, len]. */
static void test_reduce_rows(void **state)
{
	(void)state;
	Op ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax, OP_ReduceMin, OP_ReduceL2, OP_ReduceLogSumExp};
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
		for (int l = 0; l < NLENS; l++) {
			int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, od[1] = {ROWS}, ax[1] = {-1};
			double *x = malloc((size_t)n * 8), want[ROWS];
			void *in = fill(DT_F32, n, 29 + (unsigned)l, x);
			float out[ROWS];
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
				want[r] = ops[k] == OP_ReduceMean ? a / (double)len : ops[k] == OP_ReduceL2 ? sqrt(a)
				        : ops[k] == OP_ReduceLogSumExp ? m + log(a) : a;
			}
			TuGraph t = tu_graph();
			ValueId xi = tu_input(&t, "x", DT_F32, 2, xd), y = tu_output(&t, "y", DT_F32, 1, od);
			tu_node(&t, ops[k], 11, &xi, 1, &y, 1);
			tu_attr_ints(&t, "axes", 1, ax);
			tu_attr_int(&t, "keepdims", 0);
			const void *ins[] = {in};
			void *outs[] = {out};
			tu_run(&t, ins, outs);
			check(DT_F32, out, want, ROWS, op_name(ops[k]), len);
			free(x);
			free(in);
		}
}

/* LayerNormalization-17 over the last axis with Scale and B, Mean and
 * InvStdDev outputs. */
static void test_layernorm_rows(void **state)
{
	(void)state;
	for (int d = 0; d < 2; d++)
		for (int l = 0; l < NLENS; l++) {
			DType dt = d ? DT_F64 : DT_F32;
			int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, sd[1] = {len}, md[2] = {ROWS, 1};
			double *x = malloc((size_t)n * 8), *sc = malloc((size_t)len * 8), *bi = malloc((size_t)len * 8);
			double *want = malloc((size_t)n * 8), wm[ROWS], wi[ROWS];
			void *in = fill(dt, n, 41 + (unsigned)l, x), *out = malloc((size_t)n * 8);
			void *scale = fill(dt, len, 43, sc), *bias = fill(dt, len, 47, bi);
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
					want[r * len + i] = (xr[i] - m) * wi[r] * sc[i] + bi[i];
			}
			TuGraph t = tu_graph();
			ValueId in3[3] = {tu_input(&t, "x", dt, 2, xd), tu_input(&t, "s", dt, 1, sd), tu_input(&t, "b", dt, 1, sd)};
			ValueId o3[3] = {tu_output(&t, "y", dt, 2, xd), tu_output(&t, "m", dt, 2, md), tu_output(&t, "i", dt, 2, md)};
			tu_node(&t, OP_LayerNormalization, 17, in3, 3, o3, 3);
			tu_attr_int(&t, "axis", -1);
			char mo[ROWS * 8], io[ROWS * 8];
			const void *ins[] = {in, scale, bias};
			void *outs[] = {out, mo, io};
			tu_run(&t, ins, outs);
			check(dt, out, want, n, "LayerNormalization", len);
			check(dt, mo, wm, ROWS, "LayerNormalization Mean", len);
			/* a one-element row has variance 0: InvStdDev = 1/sqrt(eps) */
			check(dt, io, wi, ROWS, "LayerNormalization InvStdDev", len);
			free(x);
			free(sc);
			free(bi);
			free(want);
			free(in);
			free(out);
			free(scale);
			free(bias);
		}
}

/* f32 elementwise ops with the row as the vector dim: Sub of a [ROWS, 1]
 * column (broadcast, splat per row), Pow by a constant 2, Erf, Sigmoid,
 * and Add of a [len] row (contiguous in both operands). */
static void test_elementwise_rows(void **state)
{
	(void)state;
	Op ops[] = {OP_Sub, OP_Pow, OP_Erf, OP_Sigmoid, OP_Add};
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
		for (int l = 0; l < NLENS; l++) {
			int64_t len = LENS[l], n = ROWS * len, xd[2] = {ROWS, len}, cd[2] = {ROWS, 1}, rd[1] = {len};
			double *x = malloc((size_t)n * 8), *b = malloc((size_t)n * 8), *want = malloc((size_t)n * 8);
			void *in = fill(DT_F32, n, 53 + (unsigned)l, x), *bin = fill(DT_F32, n, 59, b);
			float *out = malloc((size_t)n * 4), two = 2.0f;
			TuGraph t = tu_graph();
			ValueId xi = tu_input(&t, "x", DT_F32, 2, xd), y = tu_output(&t, "y", DT_F32, 2, xd);
			ValueId in2[2] = {xi, IR_NONE};
			int nin = 1;
			if (ops[k] == OP_Sub)
				in2[1] = tu_input(&t, "c", DT_F32, 2, cd);
			else if (ops[k] == OP_Add)
				in2[1] = tu_input(&t, "r", DT_F32, 1, rd);
			else if (ops[k] == OP_Pow)
				in2[1] = tu_const(&t, "two", DT_F32, 0, NULL, &two);
			nin += in2[1] != IR_NONE;
			tu_node(&t, ops[k], 13, in2, nin, &y, 1);
			for (int64_t i = 0; i < n; i++) {
				double v = x[i];
				switch (ops[k]) {
				case OP_Sub: want[i] = v - b[i / len]; break;
				case OP_Pow: want[i] = v * v; break;
				case OP_Erf: want[i] = erf(v); break;
				case OP_Sigmoid: want[i] = 1 / (1 + exp(-v)); break;
				default: want[i] = v + b[i % len]; break;
				}
			}
			const void *ins[] = {in, bin};
			void *outs[] = {out};
			tu_run(&t, ins, outs);
			check(DT_F32, out, want, n, op_name(ops[k]), len);
			free(x);
			free(b);
			free(want);
			free(in);
			free(bin);
			free(out);
		}
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

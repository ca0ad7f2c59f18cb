/* tests/unit/test_lower_elementwise.c — codegen/lower_elementwise.c.
 *
 * Each test builds a one-node graph by hand, compiles and runs it with
 * tu_run_graph(), and compares with a C reference computed here: exact for
 * integer, bool, copy and rounding results; for transcendental float
 * results a relative tolerance of 4e-6 against double libm (f32 targets
 * are a few ulp, see codegen/mathfn.h).  The cases concentrate on what the
 * ONNX node tests do not cover: integer corner cases (division by zero,
 * INT_MIN / -1, Python vs C Mod), integer Pow, wide shifts, NaN in Max/Min,
 * multi-input broadcasting, the hyperbolic/activation family on large
 * arguments, and the diagnostics for rejected configurations.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* Graphs are built and run with the TuGraph helpers of testutil.h. */

/* One node, inputs of the same dtype/shape [n] (or given shapes), one output. */
static void run_simple(Op op, int opset, DType dt, DType odt, int nin, int64_t n,
                       const void *const *in, void *out, void (*attrs)(TuGraph *))
{
	TuGraph t = tu_graph();
	ValueId x[4];
	char nm[16];
	for (int i = 0; i < nin; i++) {
		snprintf(nm, sizeof nm, "x%d", i);
		x[i] = tu_input(&t, nm, dt, 1, &n);
	}
	ValueId y = tu_output(&t, "y", odt, 1, &n);
	tu_node(&t, op, opset, x, nin, &y, 1);
	if (attrs)
		attrs(&t);
	void *outs[] = {out};
	tu_run(&t, in, outs);
}

static void assert_rel(const float *got, const double *want, int n, double rtol, const char *what)
{
	for (int i = 0; i < n; i++) {
		bool ok;
		if (isnan(want[i]))
			ok = isnan(got[i]);
		else if (isinf(want[i]) || fabs(want[i]) > FLT_MAX)
			ok = got[i] == (float)want[i];
		else
			ok = fabs((double)got[i] - want[i]) <= rtol * fabs(want[i]) + 1e-37;
		if (!ok) {
			fprintf(stderr, "%s element %d: got %.9g want %.9g\n", what, i, got[i], want[i]);
			fail();
		}
	}
}

/* ---- broadcasting ------------------------------------------------------------------ */

static void test_add_broadcast(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t ad[3] = {2, 3, 4}, bd[2] = {3, 1};
	ValueId in[2] = {tu_input(&t, "a", DT_F32, 3, ad), tu_input(&t, "b", DT_F32, 2, bd)};
	ValueId y = tu_output(&t, "y", DT_F32, 3, ad);
	tu_node(&t, OP_Add, 14, in, 2, &y, 1);
	float a[24], b[3], out[24], want[24];
	for (int i = 0; i < 24; i++)
		a[i] = (float)i * 0.25f - 3;
	for (int i = 0; i < 3; i++)
		b[i] = 100.0f * (float)(i + 1);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				want[(i * 3 + j) * 4 + k] = a[(i * 3 + j) * 4 + k] + b[j];
	const void *ins[] = {a, b};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

/* Sum of three inputs broadcasting [2,1,3] + [4,1] + [] -> [2,4,3]; Max
 * with NaN propagates it. */
static void test_variadic_broadcast(void **state)
{
	(void)state;
	for (int opi = 0; opi < 2; opi++) {
		Op op = opi ? OP_Max : OP_Sum;
		TuGraph t = tu_graph();
		int64_t ad[3] = {2, 1, 3}, bd[2] = {4, 1}, od[3] = {2, 4, 3};
		ValueId in[3] = {tu_input(&t, "a", DT_F32, 3, ad), tu_input(&t, "b", DT_F32, 2, bd),
		                 tu_input(&t, "c", DT_F32, 0, NULL)};
		ValueId y = tu_output(&t, "y", DT_F32, 3, od);
		tu_node(&t, op, 13, in, 3, &y, 1);
		float a[6] = {1, -2, 3, NAN, 5, -6}, b[4] = {0.5f, -0.5f, 10, -10}, c[1] = {2};
		float out[24], want[24];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 4; j++)
				for (int k = 0; k < 3; k++) {
					float va = a[i * 3 + k], vb = b[j];
					float r;
					if (op == OP_Sum) {
						r = va + vb + c[0];
					} else {
						r = isnan(va) ? NAN : va > vb ? va : vb;
						r = isnan(r) ? NAN : r > c[0] ? r : c[0];
					}
					want[(i * 4 + j) * 3 + k] = r;
				}
		const void *ins[] = {a, b, c};
		void *outs[] = {out};
		tu_run(&t, ins, outs);
		for (int i = 0; i < 24; i++) {
			if (isnan(want[i]))
				assert_true(isnan(out[i]));
			else
				assert_true(out[i] == want[i]);
		}
	}
}

static void test_where_broadcast(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t cd[2] = {2, 1}, xd[1] = {3}, od[2] = {2, 3};
	ValueId in[3] = {tu_input(&t, "c", DT_BOOL, 2, cd), tu_input(&t, "x", DT_I64, 1, xd),
	                 tu_input(&t, "y", DT_I64, 0, NULL)};
	ValueId y = tu_output(&t, "o", DT_I64, 2, od);
	tu_node(&t, OP_Where, 16, in, 3, &y, 1);
	uint8_t c[2] = {1, 0};
	int64_t x[3] = {7, 8, 9}, yv[1] = {-1}, out[6];
	int64_t want[6] = {7, 8, 9, -1, -1, -1};
	const void *ins[] = {c, x, yv};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);
}

/* ---- integer corner cases ------------------------------------------------------------ */

static void fmod1(TuGraph *t) { tu_attr_int(t, "fmod", 1); }

static void test_int_div_mod(void **state)
{
	(void)state;
	int32_t x[8] = {7, -7, 7, -7, 5, INT32_MIN, INT32_MIN, 3};
	int32_t y[8] = {2, 2, -2, -2, 0, -1, 1, 0};
	int32_t div_want[8] = {3, -3, -3, 3, 0, INT32_MIN, INT32_MIN, 0};
	int32_t mod_py[8] = {1, 1, -1, -1, 0, 0, 0, 0};
	int32_t mod_c[8] = {1, -1, 1, -1, 0, 0, 0, 0};
	int32_t out[8];
	const void *ins[] = {x, y};
	run_simple(OP_Div, 14, DT_I32, DT_I32, 2, 8, ins, out, NULL);
	assert_memory_equal(out, div_want, sizeof out);
	run_simple(OP_Mod, 13, DT_I32, DT_I32, 2, 8, ins, out, NULL);
	assert_memory_equal(out, mod_py, sizeof out);
	run_simple(OP_Mod, 13, DT_I32, DT_I32, 2, 8, ins, out, fmod1);
	assert_memory_equal(out, mod_c, sizeof out);

	/* unsigned: 200 / 0 = 0, 200 % 7 = 4, 255 / 2 = 127 */
	uint8_t ux[3] = {200, 200, 255}, uy[3] = {0, 7, 2}, uo[3];
	const void *uins[] = {ux, uy};
	run_simple(OP_Div, 14, DT_U8, DT_U8, 2, 3, uins, uo, NULL);
	assert_int_equal(uo[0], 0);
	assert_int_equal(uo[1], 28);
	assert_int_equal(uo[2], 127);
	run_simple(OP_Mod, 13, DT_U8, DT_U8, 2, 3, uins, uo, NULL);
	assert_int_equal(uo[1], 4);
	assert_int_equal(uo[2], 1);
}

/* Float Mod: fmod=1 is C fmod; fmod=0 takes the divisor's sign. */
static void test_float_mod(void **state)
{
	(void)state;
	float x[6] = {5.5f, -5.5f, 5.5f, -5.5f, 1e30f, 3.0f};
	float y[6] = {2.0f, 2.0f, -2.0f, -2.0f, 3.0f, 1.5f};
	float out[6];
	const void *ins[] = {x, y};
	run_simple(OP_Mod, 13, DT_F32, DT_F32, 2, 6, ins, out, fmod1);
	for (int i = 0; i < 6; i++)
		assert_true(out[i] == fmodf(x[i], y[i]));
	run_simple(OP_Mod, 13, DT_F32, DT_F32, 2, 6, ins, out, NULL);
	for (int i = 0; i < 6; i++) {
		float r = fmodf(x[i], y[i]);
		if (r != 0 && ((r < 0) != (y[i] < 0)))
			r += y[i];
		assert_true(out[i] == r);
	}
}

static void test_int_pow(void **state)
{
	(void)state;
	/* i64 ^ i64, including negative exponents and wrap-around */
	TuGraph t = tu_graph();
	int64_t n = 8;
	ValueId in[2] = {tu_input(&t, "x", DT_I64, 1, &n), tu_input(&t, "y", DT_I64, 1, &n)};
	ValueId y = tu_output(&t, "o", DT_I64, 1, &n);
	tu_node(&t, OP_Pow, 15, in, 2, &y, 1);
	int64_t x[8] = {2, 3, -3, 1, -1, -1, 2, 7};
	int64_t e[8] = {10, 13, 3, -5, -3, -4, -1, 0};
	int64_t want[8] = {1024, 1594323, -27, 1, -1, 1, 0, 1};
	int64_t out[8];
	const void *ins[] = {x, e};
	void *outs[] = {out};
	tu_run(&t, ins, outs);
	assert_memory_equal(out, want, sizeof want);

	/* i32 base, f32 exponent: integer-valued exponents are exact */
	t = tu_graph();
	int64_t m = 4;
	ValueId in2[2] = {tu_input(&t, "x", DT_I32, 1, &m), tu_input(&t, "y", DT_F32, 1, &m)};
	y = tu_output(&t, "o", DT_I32, 1, &m);
	tu_node(&t, OP_Pow, 15, in2, 2, &y, 1);
	int32_t xi[4] = {3, 2, 9, 5}, oi[4];
	float ef[4] = {6.0f, 5.0f, 0.5f, 2.5f};
	int32_t wi[4] = {729, 32, 3, 55}; /* 5^2.5 = 55.9 truncates */
	const void *ins2[] = {xi, ef};
	void *outs2[] = {oi};
	tu_run(&t, ins2, outs2);
	assert_memory_equal(oi, wi, sizeof wi);

	/* f32 base, i64 exponent */
	t = tu_graph();
	ValueId in3[2] = {tu_input(&t, "x", DT_F32, 1, &m), tu_input(&t, "y", DT_I64, 1, &m)};
	y = tu_output(&t, "o", DT_F32, 1, &m);
	tu_node(&t, OP_Pow, 15, in3, 2, &y, 1);
	float xf[4] = {-2.0f, 1.5f, 0.0f, 10.0f}, of[4];
	int64_t ei[4] = {3, 2, -1, -2};
	const void *ins3[] = {xf, ei};
	void *outs3[] = {of};
	tu_run(&t, ins3, outs3);
	assert_true(of[0] == -8.0f);
	assert_true(of[1] == 2.25f);
	assert_true(isinf(of[2]) && of[2] > 0);
	assert_true(fabsf(of[3] - 0.01f) <= 1e-9f);
}

static void shift_left(TuGraph *t) { tu_attr_str(t, "direction", "LEFT"); }
static void shift_right(TuGraph *t) { tu_attr_str(t, "direction", "RIGHT"); }

static void test_bitshift(void **state)
{
	(void)state;
	uint8_t x[5] = {1, 0x81, 0xff, 3, 0x80}, s[5] = {3, 1, 8, 7, 200}, out[5];
	const void *ins[] = {x, s};
	run_simple(OP_BitShift, 11, DT_U8, DT_U8, 2, 5, ins, out, shift_left);
	uint8_t wl[5] = {8, 0x02, 0, 0x80, 0};
	assert_memory_equal(out, wl, 5);
	run_simple(OP_BitShift, 11, DT_U8, DT_U8, 2, 5, ins, out, shift_right);
	uint8_t wr[5] = {0, 0x40, 0, 0, 0};
	assert_memory_equal(out, wr, 5);
	uint64_t x64[3] = {1, UINT64_MAX, 5}, s64[3] = {63, 64, 0}, o64[3];
	const void *ins64[] = {x64, s64};
	run_simple(OP_BitShift, 11, DT_U64, DT_U64, 2, 3, ins64, o64, shift_left);
	assert_true(o64[0] == (1ULL << 63) && o64[1] == 0 && o64[2] == 5);
}

static void test_int_unary(void **state)
{
	(void)state;
	int8_t x[5] = {-128, -5, 0, 5, 127}, out[5];
	const void *ins[] = {x};
	run_simple(OP_Abs, 13, DT_I8, DT_I8, 1, 5, ins, out, NULL);
	int8_t wa[5] = {-128, 5, 0, 5, 127};   /* |INT8_MIN| wraps */
	assert_memory_equal(out, wa, 5);
	run_simple(OP_Sign, 13, DT_I8, DT_I8, 1, 5, ins, out, NULL);
	int8_t ws[5] = {-1, -1, 0, 1, 1};
	assert_memory_equal(out, ws, 5);
	run_simple(OP_Relu, 14, DT_I8, DT_I8, 1, 5, ins, out, NULL);
	int8_t wr[5] = {0, 0, 0, 5, 127};
	assert_memory_equal(out, wr, 5);
	run_simple(OP_BitwiseNot, 18, DT_I8, DT_I8, 1, 5, ins, out, NULL);
	for (int i = 0; i < 5; i++)
		assert_int_equal(out[i], (int8_t)~x[i]);
	/* unsigned comparison: 200 > 100 as u8 (it would be < as i8) */
	uint8_t a[2] = {200, 1}, b[2] = {100, 2}, c[2];
	const void *cins[] = {a, b};
	run_simple(OP_Greater, 13, DT_U8, DT_BOOL, 2, 2, cins, c, NULL);
	assert_int_equal(c[0], 1);
	assert_int_equal(c[1], 0);
}

/* ---- float activations vs libm ------------------------------------------------------------ */

#define NACT 24
static const float act_x[NACT] = {
	-100.0f, -30.0f, -10.0f, -3.5f, -1.0f, -0.5f, -1e-3f, -1e-8f, 0.0f, 1e-8f,
	1e-3f, 0.25f, 0.5f, 0.75f, 0.999f, 1.0f, 1.5f, 3.0f, 10.0f, 20.0f, 50.0f,
	88.0f, 89.5f, 1e10f,
};

typedef double (*RefFn)(double);
static double r_sinh(double x) { return sinh(x); }
static double r_cosh(double x) { return cosh(x); }
static double r_asinh(double x) { return asinh(x); }
static double r_acosh(double x) { return acosh(x); }
static double r_atanh(double x) { return atanh(x); }
static double r_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double r_mish(double x) { return x * tanh(r_softplus(x)); }
static double r_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double r_gelu_tanh(double x)
{
	/* 0.5x(1 + tanh(u)) written without cancellation: x / (1 + exp(-2u)) */
	return x / (1 + exp(-2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double r_elu(double x) { return x < 0 ? expm1(x) : x; }
static double r_selu(double x)
{
	double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
	return x > 0 ? g * x : g * a * expm1(x);
}
static double r_hardswish(double x) { return x * fmin(1, fmax(0, x / 6 + 0.5)); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_recip(double x) { return 1 / x; }

static void gelu_tanh_attr(TuGraph *t) { tu_attr_str(t, "approximate", "tanh"); }

static void check_act(Op op, int opset, RefFn ref, void (*attrs)(TuGraph *), double rtol)
{
	float out[NACT];
	double want[NACT];
	const void *ins[] = {act_x};
	run_simple(op, opset, DT_F32, DT_F32, 1, NACT, ins, out, attrs);
	for (int i = 0; i < NACT; i++)
		want[i] = ref((double)act_x[i]);
	assert_rel(out, want, NACT, rtol, op_name(op));
}

static void test_activations(void **state)
{
	(void)state;
	check_act(OP_Sinh, 9, r_sinh, NULL, 4e-6);
	check_act(OP_Cosh, 9, r_cosh, NULL, 4e-6);
	check_act(OP_Asinh, 9, r_asinh, NULL, 4e-6);
	check_act(OP_Acosh, 9, r_acosh, NULL, 4e-6);
	check_act(OP_Atanh, 9, r_atanh, NULL, 4e-6);
	check_act(OP_Softplus, 1, r_softplus, NULL, 4e-6);
	check_act(OP_Mish, 18, r_mish, NULL, 4e-6);
	check_act(OP_Gelu, 20, r_gelu, NULL, 4e-6);
	check_act(OP_Gelu, 20, r_gelu_tanh, gelu_tanh_attr, 4e-6);
	check_act(OP_Elu, 6, r_elu, NULL, 4e-6);
	check_act(OP_Selu, 6, r_selu, NULL, 4e-6);
	check_act(OP_HardSwish, 14, r_hardswish, NULL, 4e-6);
	check_act(OP_Softsign, 1, r_softsign, NULL, 4e-6);
	check_act(OP_Sigmoid, 13, r_sigmoid, NULL, 4e-6);
	check_act(OP_Reciprocal, 13, r_recip, NULL, 4e-6);
}

/* f32 Gelu: the erf form where x >= -2, erfc where below, decided per
 * lane (vectors mixing both, a masked tail), on every ISA the host runs:
 * within the same 4e-6 of 0.5x erfc(-x/sqrt2) everywhere, densest
 * around the switch at -2 where erf's cancellation is largest.  (Below
 * -6 rounding x/sqrt2 alone costs erfc's form 2z^2 ulp > 4e-6.) */
#define NGELU 4003
static void test_gelu_sweep(void **state)
{
	(void)state;
	static float x[NGELU], out[NGELU];
	static double want[NGELU];
	for (int i = 0; i < NGELU; i++) {
		if (i < 2000)
			x[i] = -6.0f + 18.0f * (float)i / 2000;         /* -6 .. 12 */
		else if (i < 4000)
			x[i] = -2.5f + (float)(i - 2000) / 2000;       /* -2.5 .. -1.5 */
		else
			x[i] = nextafterf(-2.0f, i == 4000 ? -3.0f : 0.0f);
		want[i] = r_gelu((double)x[i]);
	}
	const void *ins[] = {x};
	for (size_t t = 0; t < sizeof tu_isas / sizeof tu_isas[0]; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = tu_isas[t];
		memset(out, 0, sizeof out);
		run_simple(OP_Gelu, 20, DT_F32, DT_F32, 1, NGELU, ins, out, NULL);
		assert_rel(out, want, NGELU, 4e-6, tu_isas[t].name);
	}
	tu_isa_override = (CgIsa){0};
}

/* Rounding family: exact, including halfway cases and -0. */
static void test_rounding(void **state)
{
	(void)state;
	float x[10] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -0.2f, 8388609.0f, 1e30f, -3.7f, NAN};
	float out[10];
	const void *ins[] = {x};
	run_simple(OP_Round, 11, DT_F32, DT_F32, 1, 10, ins, out, NULL);
	for (int i = 0; i < 10; i++) {
		float w = nearbyintf(x[i]);
		assert_true(isnan(w) ? isnan(out[i]) : memcmp(&w, &out[i], 4) == 0);
	}
	run_simple(OP_Floor, 13, DT_F32, DT_F32, 1, 10, ins, out, NULL);
	for (int i = 0; i < 10; i++) {
		float w = floorf(x[i]);
		assert_true(isnan(w) ? isnan(out[i]) : memcmp(&w, &out[i], 4) == 0);
	}
	run_simple(OP_Ceil, 13, DT_F32, DT_F32, 1, 10, ins, out, NULL);
	for (int i = 0; i < 10; i++) {
		float w = ceilf(x[i]);
		assert_true(isnan(w) ? isnan(out[i]) : memcmp(&w, &out[i], 4) == 0);
	}
}

static void isinf_pos_only(TuGraph *t) { tu_attr_int(t, "detect_negative", 0); }

static void test_isinf_isnan(void **state)
{
	(void)state;
	float x[4] = {INFINITY, -INFINITY, NAN, 1.0f};
	uint8_t out[4];
	const void *ins[] = {x};
	run_simple(OP_IsInf, 10, DT_F32, DT_BOOL, 1, 4, ins, out, isinf_pos_only);
	uint8_t w1[4] = {1, 0, 0, 0};
	assert_memory_equal(out, w1, 4);
	run_simple(OP_IsNaN, 13, DT_F32, DT_BOOL, 1, 4, ins, out, NULL);
	uint8_t w2[4] = {0, 0, 1, 0};
	assert_memory_equal(out, w2, 4);
}

/* ---- Cast, Clip, Dropout -------------------------------------------------------------------- */

static void cast_to_i32(TuGraph *t) { tu_attr_int(t, "to", DT_I32); }
static void cast_to_f16(TuGraph *t) { tu_attr_int(t, "to", DT_F16); }
static void cast_to_bool(TuGraph *t) { tu_attr_int(t, "to", DT_BOOL); }
static void cast_to_bf16(TuGraph *t) { tu_attr_int(t, "to", DT_BF16); }

static void test_cast(void **state)
{
	(void)state;
	float x[6] = {1.9f, -1.9f, 0.0f, 65504.0f, 1e-8f, -0.0f};
	int32_t oi[6];
	const void *ins[] = {x};
	run_simple(OP_Cast, 13, DT_F32, DT_I32, 1, 6, ins, oi, cast_to_i32);
	int32_t wi[6] = {1, -1, 0, 65504, 0, 0};
	assert_memory_equal(oi, wi, sizeof wi);
	uint16_t oh[6];
	run_simple(OP_Cast, 13, DT_F32, DT_F16, 1, 6, ins, oh, cast_to_f16);
	/* IEEE half bit patterns: 1.9 -> 0x3f9a, 65504 -> 0x7bff, 1e-8 -> 0 */
	assert_int_equal(oh[0], 0x3f9a);
	assert_int_equal(oh[1], 0xbf9a);
	assert_int_equal(oh[3], 0x7bff);
	assert_int_equal(oh[4], 0x0000);
	assert_int_equal(oh[5], 0x8000);
	uint8_t ob[6];
	run_simple(OP_Cast, 13, DT_F32, DT_BOOL, 1, 6, ins, ob, cast_to_bool);
	uint8_t wb[6] = {1, 1, 0, 1, 1, 0};
	assert_memory_equal(ob, wb, 6);

	/* to bf16 truncates (ONNX <= 1.13 test data): 0.48033667f is 0x3ef5f... */
	float xb[3] = {0.48033667f, NAN, -INFINITY};
	uint16_t obf[3];
	const void *insb[] = {xb};
	run_simple(OP_Cast, 13, DT_F32, DT_BF16, 1, 3, insb, obf, cast_to_bf16);
	uint32_t bits;
	memcpy(&bits, &xb[0], 4);
	assert_int_equal(obf[0], bits >> 16);
	assert_true((obf[1] & 0x7f80) == 0x7f80 && (obf[1] & 0x7f) != 0); /* NaN */
	assert_int_equal(obf[2], 0xff80);
}

static void clip6(TuGraph *t)
{
	tu_attr_float(t, "min", -1.0f);
	tu_attr_float(t, "max", 2.0f);
}

static void test_clip(void **state)
{
	(void)state;
	float x[5] = {-5.0f, -1.0f, 0.5f, 3.0f, NAN}, out[5];
	const void *ins[] = {x};
	run_simple(OP_Clip, 6, DT_F32, DT_F32, 1, 5, ins, out, clip6);
	assert_true(out[0] == -1.0f && out[1] == -1.0f && out[2] == 0.5f && out[3] == 2.0f);
	assert_true(isnan(out[4]));

	/* Clip-13 on int64 with only max given (min omitted) */
	TuGraph t = tu_graph();
	int64_t n = 4;
	ValueId in[3] = {tu_input(&t, "x", DT_I64, 1, &n), IR_NONE, tu_input(&t, "hi", DT_I64, 0, NULL)};
	ValueId y = tu_output(&t, "y", DT_I64, 1, &n);
	tu_node(&t, OP_Clip, 13, in, 3, &y, 1);
	int64_t xi[4] = {INT64_MIN, -3, 7, 100}, hi[1] = {7}, oi[4];
	int64_t wi[4] = {INT64_MIN, -3, 7, 7};
	const void *ins2[] = {xi, hi};
	void *outs[] = {oi};
	tu_run(&t, ins2, outs);
	assert_memory_equal(oi, wi, sizeof wi);
}

static void test_dropout_mask(void **state)
{
	(void)state;
	TuGraph t = tu_graph();
	int64_t d[2] = {3, 5};
	ValueId x = tu_input(&t, "x", DT_F32, 2, d);
	ValueId out[2] = {tu_output(&t, "y", DT_F32, 2, d), tu_output(&t, "m", DT_BOOL, 2, d)};
	tu_node(&t, OP_Dropout, 13, &x, 1, out, 2);
	float xv[15], yv[15];
	uint8_t mv[15];
	for (int i = 0; i < 15; i++)
		xv[i] = (float)i - 7.5f;
	memset(mv, 0, sizeof mv);
	const void *ins[] = {xv};
	void *outs[] = {yv, mv};
	tu_run(&t, ins, outs);
	assert_memory_equal(yv, xv, sizeof xv);
	for (int i = 0; i < 15; i++)
		assert_int_equal(mv[i], 1);
}

/* ---- rejected configurations ---------------------------------------------------------------------- */

static void bad_direction(TuGraph *t) { tu_attr_str(t, "direction", "UP"); }

static void test_rejects(void **state)
{
	(void)state;
	int64_t n = 2;
	TuGraph t = tu_graph();
	ValueId in[2] = {tu_input(&t, "a", DT_U8, 1, &n), tu_input(&t, "b", DT_U8, 1, &n)};
	ValueId y = tu_output(&t, "y", DT_U8, 1, &n);
	tu_node(&t, OP_BitShift, 11, in, 2, &y, 1);
	bad_direction(&t);
	uint8_t a[2], b[2], o[2];
	const void *ins[] = {a, b};
	void *outs[] = {o};
	tu_reject(&t, ins, outs, "BitShift direction 'UP'");

	t = tu_graph();
	ValueId x = tu_input(&t, "x", DT_I32, 1, &n);
	y = tu_output(&t, "y", DT_I32, 1, &n);
	tu_node(&t, OP_Sqrt, 13, &x, 1, &y, 1);
	int32_t xi[2], yi[2];
	const void *ins2[] = {xi};
	void *outs2[] = {yi};
	tu_reject(&t, ins2, outs2, "does not accept dtype i32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_broadcast),
		cmocka_unit_test(test_variadic_broadcast),
		cmocka_unit_test(test_where_broadcast),
		cmocka_unit_test(test_int_div_mod),
		cmocka_unit_test(test_float_mod),
		cmocka_unit_test(test_int_pow),
		cmocka_unit_test(test_bitshift),
		cmocka_unit_test(test_int_unary),
		cmocka_unit_test(test_activations),
		cmocka_unit_test(test_gelu_sweep),
		cmocka_unit_test(test_rounding),
		cmocka_unit_test(test_isinf_isnan),
		cmocka_unit_test(test_cast),
		cmocka_unit_test(test_clip),
		cmocka_unit_test(test_dropout_mask),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

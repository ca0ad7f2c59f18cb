/* passes/fold_elem.c — folder evaluators for elementwise ops.
 *
 * Add, Sub, Mul, Div, Mod, Pow, the comparisons, And/Or/Xor (numpy
 * broadcasting), Min/Max/Sum/Mean (variadic), the unary ops, Where, Cast
 * and CastLike.  Contract: integer arithmetic wraps (two's complement),
 * float -> int Cast saturates exactly as the generated code does,
 * integer Div truncates toward zero, integer Mod follows the divisor's sign
 * unless fmod=1, an integer Div or Mod by zero gives 0 (as the generated
 * code does: tests/unit/test_fold_vs_run.c holds the two to one semantics);
 * float + - * / sqrt are done in double and rounded once when the driver
 * stores the output (exact for f32, f16, bf16: double has more than twice
 * their precision); the transcendental functions and float Pow are the
 * generated code's own (codegen/mathfn.c), evaluated by interpreting their
 * IR and folded only where every target gives the same bits (math_eval).
 * Float-only unary ops on integers are F_SKIP (the dtype error is
 * inference's diagnostic).
 */
#include "fold_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/mathfn.h"

/* Largest tensor a transcendental is folded for (4 interpreted variants
 * per element); larger ones run at run time. */
#define FOLD_MATH_MAX_ELEMS ((int64_t)1 << 18)

/* Bits of x as stored in dtype dt's compute type (float for f32/f16/bf16);
 * NaNs compare equal whatever their payloads. */
static bool same_result(double a, double b, bool dbl)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (dbl)
		return !memcmp(&a, &b, sizeof a);
	float x = (float)a, y = (float)b;
	return !memcmp(&x, &y, sizeof x);
}

/* out[i] = the generated code's function `name` (codegen/mathfn.c) of x[i]
 * (and y[i]), f64 when dbl, else f32, evaluated on the host by
 * interpreting the helper's own IR (cg_math_host_eval).  The generated
 * code's bits depend on the CPU it runs on (an FMA instruction or not,
 * chosen at run time by the portable x86-64 code), so all five variants
 * (IR built for FMA or not x fmuladd fused or not, and AVX-512's own
 * forms) are evaluated and the
 * node is folded only when they agree on every element: F_SKIP leaves it
 * to run time otherwise (or when the helper cannot be interpreted). */
static FRes math_eval(const char *name, bool dbl, const double *x, const double *y, double *out, int64_t n)
{
	/* IR built for an FMA or not, fmuladd fused or not, for which ISA
	 * (the last: AVX-512 code, fused, with its own forms: exp16_f32) */
	static const struct { bool fma, fused; const char *isa; } variant[] = {
		{false, false, NULL}, {true, true, NULL}, {false, true, NULL}, {true, false, NULL},
		{true, true, "avx512"},
	};
	enum { NVARIANT = sizeof variant / sizeof variant[0] };
	if (n > FOLD_MATH_MAX_ELEMS)
		return F_SKIP;   /* bounded compile time: the four variants of Sin over 2^18
		                  * elements took 3.4 s CPU in the ASan Debug build */
	double *alt = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
	FRes res = F_OK;
	for (int v = 0; v < NVARIANT && res == F_OK; v++) {
		double *dst = v ? alt : out;
		if (!cg_math_host_eval(name, dbl, variant[v].fma, variant[v].fused, variant[v].isa, x, y, dst, n))
			res = F_SKIP;
		for (int64_t i = 0; v && res == F_OK && i < n; i++)
			if (!same_result(out[i], alt[i], dbl))
				res = F_SKIP;
	}
	free(alt);
	return res;
}

/* The mathfn helper of a unary op, or NULL: the op is exact in double. */
static const char *math_name(Op op)
{
	switch (op) {
	case OP_Exp: return "exp";
	case OP_Log: return "log";
	case OP_Sin: return "sin";
	case OP_Cos: return "cos";
	case OP_Tanh: return "tanh";
	case OP_Erf: return "erf";
	case OP_Sigmoid: return "sigmoid";
	default: return NULL;
	}
}

/* Float Pow x^y with broadcasting into out, as the generated code
 * (codegen/lower_elementwise.c): x*x when y is a one-element constant 2,
 * else mathfn's pow of x and y converted to x's dtype.  Folded for x of
 * f32/f64 and y of the same dtype or an integer dtype exactly converted;
 * F_SKIP otherwise (and when the targets could disagree, math_eval). */
static FRes float_pow(Ten *out, const Ten *x, const Ten *y, const int64_t *mx, const int64_t *my)
{
	bool dbl = x->dt == DT_F64;
	if ((x->dt != DT_F32 && !dbl) || (y->isf && y->dt != x->dt))
		return F_SKIP;
	int64_t n = out->n;
	if (y->n == 1 && tf(y, 0) == 2.0) {
		for (int64_t k = 0; k < n; k++) {
			double a = x->f[mx[k]];
			out->f[k] = dbl ? a * a : (double)((float)a * (float)a);
		}
		return F_OK;
	}
	double *xs = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
	double *ys = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
	FRes res = F_OK;
	for (int64_t k = 0; k < n && res == F_OK; k++) {
		xs[k] = x->f[mx[k]];
		ys[k] = tf(y, my[k]);
		/* an integer exponent must convert exactly (no rounding to mirror) */
		if (!y->isf && (dbl ? (double)(int64_t)ys[k] != ys[k] || fabs(ys[k]) > 0x1p53
		                    : (double)(float)ys[k] != ys[k]))
			res = F_SKIP;
	}
	if (res == F_OK)
		res = math_eval("pow", dbl, xs, ys, out->f, n);
	free(xs);
	free(ys);
	return res;
}

/* Combines x (element xi) and y (element yi) with op into out element k.
 * Always true (integer division by zero gives 0). */
static bool binop(Fold *F, Op op, Ten *out, int64_t k, const Ten *x, int64_t xi, const Ten *y, int64_t yi)
{
	bool fl = x->isf || y->isf;
	double a = tf(x, xi), b = tf(y, yi);
	int64_t p = ti(x, xi), q = ti(y, yi);
	/* uint64 elements are held as their int64 bits: compare and divide them
	 * unsigned (narrower unsigned types are zero-extended, so signed
	 * arithmetic on them is already right) */
	bool u64 = x->dt == DT_U64 && op != OP_Pow;
	uint64_t up = (uint64_t)p, uq = (uint64_t)q;
	bool c;
	switch (op) {
	case OP_Equal: c = fl ? a == b : p == q; goto cmp;
	case OP_Less: c = fl ? a < b : u64 ? up < uq : p < q; goto cmp;
	case OP_LessOrEqual: c = fl ? a <= b : u64 ? up <= uq : p <= q; goto cmp;
	case OP_Greater: c = fl ? a > b : u64 ? up > uq : p > q; goto cmp;
	case OP_GreaterOrEqual: c = fl ? a >= b : u64 ? up >= uq : p >= q; goto cmp;
	case OP_And: c = p && q; goto cmp;
	case OP_Or: c = p || q; goto cmp;
	case OP_Xor: c = (p != 0) != (q != 0); goto cmp;
	default: break;
	}
	if (fl) {
		double r;
		switch (op) {
		case OP_Add: case OP_Sum: case OP_Mean: r = a + b; break;
		case OP_Sub: r = a - b; break;
		case OP_Mul: r = a * b; break;
		case OP_Div: r = a / b; break;
		case OP_Max: r = isnan(a) || isnan(b) ? NAN : a > b ? a : b; break;
		case OP_Min: r = isnan(a) || isnan(b) ? NAN : a < b ? a : b; break;
		case OP_Mod:
			r = fmod(a, b);
			if (!attr_int(F->n, "fmod", 0) && r != 0 && (r < 0) != (b < 0))
				r += b;
			break;
		default: IR_UNREACHABLE("binop: op");
		}
		set_num(out, k, r, 0, true);
		return true;
	}
	int64_t r;
	switch (op) {
	case OP_Add: case OP_Sum: case OP_Mean: r = wadd(p, q); break;
	case OP_Sub: r = wsub(p, q); break;
	case OP_Mul: r = wmul(p, q); break;
	case OP_Div:   /* by zero: 0, as the generated code (codegen/lower_elementwise.c) */
		if (q == 0)
			r = 0;
		else if (u64)
			r = (int64_t)(up / uq);
		else
			r = q == -1 ? wsub(0, p) : p / q;
		break;
	case OP_Mod:
		if (q == 0) {
			r = 0;
			break;
		}
		if (u64) {
			r = (int64_t)(up % uq);
			break;
		}
		r = q == -1 ? 0 : p % q;
		if (!attr_int(F->n, "fmod", 0) && r != 0 && (r < 0) != (q < 0))
			r += q;
		break;
	case OP_Pow: {
		/* exact integer power by squaring; negative exponents -> 0 (|p|>1) */
		if (q < 0) {
			r = p == 1 ? 1 : p == -1 ? (q % 2 ? -1 : 1) : 0;
			break;
		}
		int64_t base = p, e = q;
		r = 1;
		while (e) {
			if (e & 1)
				r = wmul(r, base);
			base = wmul(base, base);
			e >>= 1;
		}
		break;
	}
	case OP_Max: r = u64 ? (int64_t)(up > uq ? up : uq) : p > q ? p : q; break;
	case OP_Min: r = u64 ? (int64_t)(up < uq ? up : uq) : p < q ? p : q; break;
	default: IR_UNREACHABLE("binop: op");
	}
	set_num(out, k, 0, r, false);
	return true;
cmp:
	set_num(out, k, 0, c, false);
	return true;
}

static bool is_cmp(Op op)
{
	return op == OP_Equal || op == OP_Less || op == OP_LessOrEqual || op == OP_Greater ||
	       op == OP_GreaterOrEqual || op == OP_And || op == OP_Or || op == OP_Xor;
}

/* out = x op y with broadcasting; the result dtype is dt. */
static FRes bcast_binary(Fold *F, Op op, Ten *out, const Ten *x, const Ten *y, DType dt, int iy)
{
	Shape s;
	if (!fold_bcast2(&x->s, &y->s, &s))
		return fold_err(F, iy, "shapes cannot be broadcast together");
	FRes res = fold_ten_alloc(out, dt, &s);
	if (res != F_OK)
		return res;
	int64_t *mx = fold_bcast_map(&s, &x->s), *my = fold_bcast_map(&s, &y->s);
	res = F_OK;
	if (op == OP_Pow && x->isf) {
		res = float_pow(out, x, y, mx, my);
		if (res != F_OK)
			fold_ten_free(out);
		free(mx);
		free(my);
		return res;
	}
	if (op == OP_Pow && y->isf) {
		/* integer base, float exponent: left to run time */
		fold_ten_free(out);
		free(mx);
		free(my);
		return F_SKIP;
	}
	for (int64_t k = 0; k < out->n; k++)
		if (!binop(F, op, out, k, x, mx[k], y, my[k])) {
			res = fold_err(F, iy, "integer division by zero");
			fold_ten_free(out);
			break;
		}
	free(mx);
	free(my);
	return res;
}

FRes fold_eval_binary(Fold *F)
{
	Op op = F->n->op;
	Ten *x = &F->in[0], *y = &F->in[1];
	if (x->dt != y->dt && op != OP_Pow)
		return fold_err(F, 1, "dtype %s differs from input 0's %s", dtype_name(y->dt), dtype_name(x->dt));
	return bcast_binary(F, op, &F->out, x, y, is_cmp(op) ? DT_BOOL : x->dt, 1);
}

FRes fold_eval_variadic(Fold *F)
{
	Op op = F->n->op;
	/* a float Sum of more than two inputs rounds differently from the
	 * generated code: left to run time (one semantics, fold.h) */
	if (op == OP_Sum && F->nin > 2)
		for (int k = 0; k < F->nin; k++)
			if (present(F, k) && dtype_is_float(F->in[k].dt))
				return F_SKIP;
	Ten acc = F->in[0], next;
	bool own = false; /* acc is ours to free (not an input) */
	FRes res = F_OK;
	for (int k = 1; k < F->nin && res == F_OK; k++) {
		if (!present(F, k))
			res = F_SKIP;
		else if (F->in[k].dt != acc.dt)
			res = fold_err(F, k, "dtype %s differs from input 0's %s", dtype_name(F->in[k].dt),
			           dtype_name(acc.dt));
		else if ((res = bcast_binary(F, op, &next, &acc, &F->in[k], acc.dt, k)) == F_OK) {
			if (own)
				fold_ten_free(&acc);
			acc = next;
			own = true;
		}
	}
	if (res == F_OK)
		res = fold_ten_alloc(&F->out, acc.dt, &acc.s);
	for (int64_t k = 0; res == F_OK && k < acc.n; k++) {
		if (op == OP_Mean && acc.isf)
			F->out.f[k] = acc.f[k] / F->nin;
		else if (op == OP_Mean)
			F->out.i[k] = acc.i[k] / F->nin;
		else
			copy_el(&F->out, k, &acc, k);
	}
	if (own)
		fold_ten_free(&acc);
	return res;
}

FRes fold_eval_unary(Fold *F)
{
	Ten *x = &F->in[0];
	Op op = F->n->op;
	DType dt = x->dt;
	if (op == OP_Not && dt != DT_BOOL)
		return fold_err(F, 0, "Not needs bool, got %s", dtype_name(dt));
	if (op != OP_Neg && op != OP_Abs && op != OP_Not && !x->isf)
		return F_SKIP; /* float-only ops; inference reports a wrong dtype */
	FRes res = fold_ten_alloc(&F->out, dt, &x->s);
	if (res != F_OK)
		return res;
	const char *mf = x->isf ? math_name(op) : NULL;
	if (mf) {
		/* f16/bf16 compute in float, as the generated code */
		res = math_eval(mf, dt == DT_F64, x->f, NULL, F->out.f, x->n);
		if (res != F_OK)
			fold_ten_free(&F->out);
		return res;
	}
	for (int64_t k = 0; k < x->n; k++) {
		if (x->isf) {
			double a = x->f[k], r;
			switch (op) {
			case OP_Neg: r = -a; break;
			case OP_Abs: r = fabs(a); break;
			case OP_Sqrt: r = sqrt(a); break;
			case OP_Reciprocal: r = 1.0 / a; break;
			case OP_Floor: r = floor(a); break;
			case OP_Ceil: r = ceil(a); break;
			case OP_Relu: r = a < 0 ? 0 : a; break;   /* -0 and NaN pass, as at run time */
			default: IR_UNREACHABLE("fold_eval_unary: op");
			}
			/* f32: compute what a float kernel computes */
			if (dt == DT_F32 && op == OP_Reciprocal)
				r = 1.0f / (float)a;
			F->out.f[k] = r;
		} else {
			int64_t a = x->i[k], r;
			switch (op) {
			case OP_Neg: r = wsub(0, a); break;
			case OP_Abs: r = a < 0 ? wsub(0, a) : a; break;
			case OP_Not: r = !a; break;
			default: IR_UNREACHABLE("fold_eval_unary: op");
			}
			F->out.i[k] = r;
		}
	}
	return F_OK;
}

FRes fold_eval_where(Fold *F)
{
	Ten *c = &F->in[0], *x = &F->in[1], *y = &F->in[2];
	if (c->dt != DT_BOOL)
		return fold_err(F, 0, "condition must be bool, got %s", dtype_name(c->dt));
	if (x->dt != y->dt)
		return fold_err(F, 2, "dtype %s differs from input 1's %s", dtype_name(y->dt), dtype_name(x->dt));
	Shape s1, s;
	if (!fold_bcast2(&c->s, &x->s, &s1) || !fold_bcast2(&s1, &y->s, &s))
		return fold_err(F, -1, "shapes cannot be broadcast together");
	FRes res = fold_ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t *mc = fold_bcast_map(&s, &c->s), *mx = fold_bcast_map(&s, &x->s), *my = fold_bcast_map(&s, &y->s);
	for (int64_t k = 0; k < F->out.n; k++) {
		if (c->i[mc[k]])
			copy_el(&F->out, k, x, mx[k]);
		else
			copy_el(&F->out, k, y, my[k]);
	}
	free(mc);
	free(mx);
	free(my);
	return F_OK;
}

/* Cast float -> integer dtype `to`, with the semantics of the generated
 * code (LLVM's fptosi.sat / fptoui.sat, see cg_convert): truncate toward
 * zero, NaN -> 0, values beyond the type's range saturate to its min/max.
 * (ONNX leaves out-of-range casts undefined; one defined result is chosen
 * so that folding and running agree bit for bit.)  The result is the int64
 * the folder stores, for u64 its bit pattern. */
static int64_t cast_f2int(double x, DType to)
{
	if (isnan(x))
		return 0;
	if (to == DT_U64) {
		if (x <= 0)
			return 0;
		if (x >= 18446744073709551616.0)
			return (int64_t)UINT64_MAX;
		return (int64_t)(uint64_t)x;
	}
	double lo, hi;
	switch (to) {
	case DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
	case DT_U8: lo = 0; hi = UINT8_MAX; break;
	case DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
	case DT_U16: lo = 0; hi = UINT16_MAX; break;
	case DT_I32: lo = INT32_MIN; hi = INT32_MAX; break;
	case DT_U32: lo = 0; hi = UINT32_MAX; break;
	default: return f2i(x);    /* i64: f2i saturates to its range */
	}
	if (x <= lo)
		return (int64_t)lo;
	if (x >= hi)
		return (int64_t)hi;
	return (int64_t)x;
}

FRes fold_cast_to(Fold *F, DType to)
{
	Ten *x = &F->in[0];
	if (!fold_dtype_ok(to))
		return F_SKIP;
	FRes res = fold_ten_alloc(&F->out, to, &x->s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < x->n; k++) {
		if (to == DT_BOOL)
			F->out.i[k] = x->isf ? x->f[k] != 0 : x->i[k] != 0;
		else if (x->isf && !F->out.isf)
			F->out.i[k] = cast_f2int(x->f[k], to);
		else if (x->dt == DT_U64 && F->out.isf)
			F->out.f[k] = (double)(uint64_t)x->i[k];
		else
			copy_el(&F->out, k, x, k);
		if (to == DT_BF16 && !isnan(F->out.f[k])) {
			/* Cast to bfloat16 truncates the float's low 16 bits, as the
			 * generated code does (codegen/lower_elementwise.c); the
			 * driver's round-to-nearest store then keeps the value */
			float y = (float)F->out.f[k];
			uint32_t b;
			memcpy(&b, &y, 4);
			b &= 0xffff0000u;
			memcpy(&y, &b, 4);
			F->out.f[k] = y;
		}
	}
	return F_OK;
}

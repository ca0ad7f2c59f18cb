/* codegen/mathfn.c — elementary functions emitted as LLVM IR (no libm).
 *
 * Every transcendental function is an internal, alwaysinline LLVM function
 * "onnxcc_math_<name>_<f32|f64>" created on first use in cg->mod and cached
 * in cg->math_fns[].  Bodies are straight-line code: range reduction, a
 * polynomial, and selects for the special cases, so that after inlining the
 * loop vectoriser can widen them.  (fmod is the one exception: it is exact
 * and needs a loop; Mod with fmod=1 is rare.)
 *
 * Precision strategy:
 *   - exp, expm1, log: computed natively in the type of x (float or
 *     double) with Cody-Waite reduction and Taylor polynomials whose degree
 *     is picked for that type; f32 exp in AVX-512 code instead reduces by
 *     ln2/16 and looks 2^(j/16) up (exp16_f32).
 *   - erf, erfc, tanh, sigmoid: f64 as above; f32 computed in float (so
 *     that <16 x float> stays 16 float lanes) with near-minimax fits from
 *     scripts/fit_mathf32.py and error-free transformations (TwoSum,
 *     products split by fmuladd) where the last bit is decided; see "f32
 *     erf / erfc / tanh / sigmoid" below.
 *   - log1p, sin, cos, tan, atan, asin, acos, pow: computed in double; f32
 *     arguments are widened, computed with polynomials of f32-sized degree
 *     and rounded once at the end (so f32 results are within ~1 ulp), f64
 *     arguments use full-length polynomials.
 * Limits (documented, not bugs):
 *   - sin/cos/tan reduce by pi/2 split in three parts with 33-bit leading
 *     parts, for f32 arguments below 2^20 and f64 below 2^50; larger f32
 *     arguments use 4/pi to 96 bits in 64-bit fixed point (every finite
 *     float); f64 |x| >= 2^50 gives NaN.
 *   - f64 pow is exp(y*log|x|) in double: relative error up to about
 *     |y*ln x| * 2^-53 (at most ~1e-13 before overflow).  f32 pow is exact
 *     to ~1 ulp because the product is formed in double.
 *   - f64 erf, tan, asin, acos, atan: a few ulp.
 *
 * floor/ceil/round-to-even are NOT llvm.floor/llvm.ceil/llvm.roundeven:
 * on baseline x86-64 (no SSE4.1) LLVM lowers those intrinsics to calls to
 * floorf/ceil/roundevenf (checked with llc-19 + nm).  They are built from
 * the "add and subtract 2^mant" trick instead, which needs only adds,
 * compares and selects on every target.  fabs/sqrt/copysign/fmuladd are
 * intrinsics that always lower to instructions.
 *
 * Constants: the Cody-Waite splits of ln 2 and pi/2 and the erfc fits were
 * computed for this file with mpmath (Chebyshev fits of
 * h(t) = x*exp(x^2)*erfc(x), t = 1/x, in a centred variable).
 */
#include "mathfn.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- emitter state --------------------------------------------------------- */

/* M: where and in which type code is being emitted.  t is the compute type
 * (float or double, or a vector of w of them: every helper below works
 * lane by lane, so the vector forms are the scalar algorithms unchanged);
 * p32 says that only f32 accuracy is needed (shorter polynomials). */
typedef struct M {
	Cg *cg;
	LLVMBuilderRef b;
	LLVMTypeRef t, ti, t1; /* float/double, same-width integer, i1 (vectors of w) */
	LLVMTypeRef te, tie;   /* element types of t and ti */
	int w;                 /* lanes: 1 for scalars */
	bool dbl, p32;
	bool fma;              /* fmuladd is fused (cg->isa.fma): see two_prod */
	int mbits, bias;       /* mantissa bits, exponent bias */
} M;

static LLVMTypeRef lanes_of(LLVMTypeRef e, int w)
{
	return w > 1 ? LLVMVectorType(e, (unsigned)w) : e;
}

static void m_init(M *m, Cg *cg, LLVMBuilderRef b, bool dbl, bool p32, int w)
{
	m->cg = cg;
	m->b = b;
	m->dbl = dbl;
	m->p32 = p32;
	m->fma = cg->isa.fma;
	m->w = w;
	m->te = dbl ? LLVMDoubleTypeInContext(cg->ctx) : LLVMFloatTypeInContext(cg->ctx);
	m->tie = dbl ? LLVMInt64TypeInContext(cg->ctx) : LLVMInt32TypeInContext(cg->ctx);
	m->t = lanes_of(m->te, w);
	m->ti = lanes_of(m->tie, w);
	m->t1 = lanes_of(LLVMInt1TypeInContext(cg->ctx), w);
	m->mbits = dbl ? 52 : 23;
	m->bias = dbl ? 1023 : 127;
}

/* c in every lane of a w-lane value (c itself when w == 1). */
static LLVMValueRef splat_const(LLVMValueRef c, int w)
{
	if (w == 1)
		return c;
	LLVMValueRef v[64];
	assert(w <= 64);
	for (int i = 0; i < w; i++)
		v[i] = c;
	return LLVMConstVector(v, (unsigned)w);
}

static LLVMValueRef K(M *m, double x) { return splat_const(LLVMConstReal(m->te, x), m->w); }
static LLVMValueRef KI(M *m, long long x) { return splat_const(LLVMConstInt(m->tie, (unsigned long long)x, 1), m->w); }

/* Float <-> ti conversions of values known to fit in 32 bits (exponents):
 * through i32, so that 32-bit targets need no libgcc helper for 64-bit
 * conversions (__aeabi_d2lz, __aeabi_l2d). */
static LLVMTypeRef i32_of(M *m)
{
	LLVMTypeRef i32 = LLVMInt32TypeInContext(m->cg->ctx);
	return m->w == 1 ? i32 : LLVMVectorType(i32, (unsigned)m->w);
}

/* g[ix] for the i32 table g (array type at) and i32 index lanes ix, each
 * inside the table: a load, or a masked gather for vectors. */
static LLVMValueRef table_i32(M *m, LLVMValueRef g, LLVMTypeRef at, LLVMValueRef ix)
{
	Cg *cg = m->cg;
	LLVMTypeRef i32 = LLVMInt32TypeInContext(cg->ctx);
	if (m->w == 1) {
		LLVMValueRef ix2[2] = { LLVMConstInt(i32, 0, 0), ix };
		LLVMValueRef p = LLVMBuildInBoundsGEP2(m->b, at, g, ix2, 2, "");
		return LLVMBuildLoad2(m->b, i32, p, "");
	}
	LLVMValueRef ps = LLVMBuildInBoundsGEP2(m->b, i32, g, &ix, 1, "");
	LLVMTypeRef vt = i32_of(m), ov[2] = { vt, LLVMTypeOf(ps) };
	const char *gn = "llvm.masked.gather";
	unsigned id = LLVMLookupIntrinsicID(gn, strlen(gn));
	assert(id != 0);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, ov, 2);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, ov, 2);
	LLVMValueRef ones = splat_const(LLVMConstInt(LLVMInt1TypeInContext(cg->ctx), 1, 0), m->w);
	LLVMValueRef args[4] = { ps, LLVMConstInt(i32, 4, 0), ones, LLVMGetPoison(vt) };
	return LLVMBuildCall2(m->b, ft, fn, args, 4, "");
}

static LLVMValueRef fptosi_small(M *m, LLVMValueRef f)
{
	return LLVMBuildSExt(m->b, LLVMBuildFPToSI(m->b, f, i32_of(m), ""), m->ti, "");
}

static LLVMValueRef sitofp_small(M *m, LLVMValueRef i)
{
	return LLVMBuildSIToFP(m->b, LLVMBuildTrunc(m->b, i, i32_of(m), ""), m->t, "");
}
static LLVMValueRef add(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(m->b, a, b, ""); }
static LLVMValueRef sub(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(m->b, a, b, ""); }
static LLVMValueRef mul(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(m->b, a, b, ""); }
static LLVMValueRef fdiv(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(m->b, a, b, ""); }
static LLVMValueRef neg(M *m, LLVMValueRef a) { return LLVMBuildFNeg(m->b, a, ""); }
static LLVMValueRef sel(M *m, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(m->b, c, a, b, ""); }
static LLVMValueRef fcmp(M *m, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFCmp(m->b, p, a, b, ""); }
static LLVMValueRef lt(M *m, LLVMValueRef a, LLVMValueRef b) { return fcmp(m, LLVMRealOLT, a, b); }
static LLVMValueRef gt(M *m, LLVMValueRef a, LLVMValueRef b) { return fcmp(m, LLVMRealOGT, a, b); }
static LLVMValueRef feq(M *m, LLVMValueRef a, LLVMValueRef b) { return fcmp(m, LLVMRealOEQ, a, b); }
static LLVMValueRef isnan_(M *m, LLVMValueRef a) { return fcmp(m, LLVMRealUNO, a, a); }
static LLVMValueRef band(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAnd(m->b, a, b, ""); }
static LLVMValueRef bnot(M *m, LLVMValueRef a) { return LLVMBuildNot(m->b, a, ""); }
static LLVMValueRef tobits(M *m, LLVMValueRef x) { return LLVMBuildBitCast(m->b, x, m->ti, ""); }
static LLVMValueRef frombits(M *m, LLVMValueRef x) { return LLVMBuildBitCast(m->b, x, m->t, ""); }

/* Calls intrinsic `name` overloaded on the type of args[0]. */
static LLVMValueRef intrin(M *m, const char *name, LLVMValueRef *args, unsigned n)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	assert(id != 0);
	LLVMTypeRef t = LLVMTypeOf(args[0]);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m->cg->mod, id, &t, 1);
	LLVMTypeRef ft = LLVMIntrinsicGetType(m->cg->ctx, id, &t, 1);
	return LLVMBuildCall2(m->b, ft, fn, args, n, "");
}

static LLVMValueRef fabs_(M *m, LLVMValueRef x) { return intrin(m, "llvm.fabs", &x, 1); }
static LLVMValueRef copysign_(M *m, LLVMValueRef mag, LLVMValueRef sgn)
{
	LLVMValueRef a[2] = { mag, sgn };
	return intrin(m, "llvm.copysign", a, 2);
}
/* a*b + c, fused where the target has FMA (never a libm call). */
static LLVMValueRef fma_(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMValueRef v[3] = { a, b, c };
	return intrin(m, "llvm.fmuladd", v, 3);
}

/* c[0]*x^(n-1) + ... + c[n-1] (highest degree first). */
static LLVMValueRef horner(M *m, LLVMValueRef x, const double *c, int n)
{
	LLVMValueRef r = K(m, c[0]);
	for (int i = 1; i < n; i++)
		r = fma_(m, r, x, K(m, c[i]));
	return r;
}

/* ---- rounding helpers -------------------------------------------------- */

/* Round to nearest integer, ties to even, for |x| < 2^(mbits-1) only;
 * the sign of a zero result is not kept (reductions only). */
static LLVMValueRef rne_small(M *m, LLVMValueRef x)
{
	LLVMValueRef magic = K(m, 1.5 * ldexp(1.0, m->mbits));
	return sub(m, add(m, x, magic), magic);
}

/* Full round-half-even: exact for all inputs, keeps -0, passes NaN/inf. */
static LLVMValueRef rne_full(M *m, LLVMValueRef x)
{
	LLVMValueRef two_m = K(m, ldexp(1.0, m->mbits));
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef r = sub(m, add(m, a, two_m), two_m);
	r = copysign_(m, r, x);
	return sel(m, lt(m, a, two_m), r, x);
}

static LLVMValueRef floor_(M *m, LLVMValueRef x)
{
	LLVMValueRef r = rne_full(m, x);
	return sel(m, gt(m, r, x), sub(m, r, K(m, 1.0)), r);
}

static LLVMValueRef ceil_(M *m, LLVMValueRef x)
{
	LLVMValueRef r = rne_full(m, x);
	LLVMValueRef up = add(m, r, K(m, 1.0));
	/* ceil(-0.5) is -0: r + 1 would give +0 when r == -1 */
	up = copysign_(m, up, x);
	return sel(m, lt(m, r, x), up, r);
}

/* 2^n as a float of m->t for n (ti-width int) in the normal exponent range. */
static LLVMValueRef pow2i(M *m, LLVMValueRef n)
{
	LLVMValueRef e = LLVMBuildAdd(m->b, n, KI(m, m->bias), "");
	e = LLVMBuildShl(m->b, e, KI(m, m->mbits), "");
	return frombits(m, e);
}

/* Whether scale2() uses AVX-512's vscalefps: 16 f32 lanes of AVX-512 code. */
static bool scalef_isa(const Cg *cg, int w)
{
	return w == 16 && cg->isa.name && !strcmp(cg->isa.name, "avx512");
}

/* x * 2^n in two steps, so that results may be subnormal or overflow to
 * inf; |n| <= 2*(bias-1).  The first product is exact (x of moderate
 * size: callers pass ~[0.5, 2]), so the result is x * 2^n rounded once:
 * what AVX-512's vscalefps computes in one instruction, used there. */
/* vscalefps: x * 2^floor(nf) per lane, rounded once (16 f32 lanes of
 * AVX-512 code only: scalef_isa). */
static LLVMValueRef scalef_ps(M *m, LLVMValueRef x, LLVMValueRef nf)
{
	Cg *cg = m->cg;
	const char *name = "llvm.x86.avx512.mask.scalef.ps.512";
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	assert(id != 0);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, NULL, 0);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, NULL, 0);
	LLVMValueRef args[5] = {x, nf, LLVMGetUndef(m->t), LLVMConstInt(LLVMInt16TypeInContext(cg->ctx), 0xffff, 0),
	                        LLVMConstInt(LLVMInt32TypeInContext(cg->ctx), 4, 0)};
	return LLVMBuildCall2(m->b, ft, fn, args, 5, "");
}

static LLVMValueRef scale2(M *m, LLVMValueRef x, LLVMValueRef n)
{
	if (!m->dbl && scalef_isa(m->cg, m->w))
		return scalef_ps(m, x, LLVMBuildSIToFP(m->b, n, m->t, ""));
	LLVMValueRef n1 = LLVMBuildAShr(m->b, n, KI(m, 1), "");
	LLVMValueRef n2 = LLVMBuildSub(m->b, n, n1, "");
	return mul(m, mul(m, x, pow2i(m, n1)), pow2i(m, n2));
}

/* ---- exp / expm1 -------------------------------------------------------- */

/* Cody-Waite split of ln 2: hi has few significant bits so k*hi is exact. */
static void ln2_split(M *m, double *hi, double *lo)
{
	if (m->dbl) {
		*hi = 0.6931471803691238;
		*lo = 1.9082149292705877e-10;
	} else {
		*hi = 0.693359375;
		*lo = -2.1219444005469058e-04;
	}
}

/* Reduces x (finite, clamped) to k*ln2 + r; returns r, sets *k (ti int)
 * and, when c is not NULL, *c to the rounding error of r (x-k*ln2 = r+c). */
static LLVMValueRef exp_reduce(M *m, LLVMValueRef x, LLVMValueRef *k, LLVMValueRef *c)
{
	double hi, lo;
	ln2_split(m, &hi, &lo);
	LLVMValueRef kf = rne_small(m, mul(m, x, K(m, 1.4426950408889634)));
	LLVMValueRef rh = sub(m, x, mul(m, kf, K(m, hi)));   /* exact */
	LLVMValueRef kl = mul(m, kf, K(m, lo));
	LLVMValueRef r = sub(m, rh, kl);
	if (c)
		*c = sub(m, sub(m, rh, r), kl);
	*k = fptosi_small(m, kf);     /* |k| <= 1077 */
	return r;
}

/* Taylor coefficients 1/i! for i = hi..lo, highest first, into c. */
static int inv_fact(double *c, int hi, int lo)
{
	int n = 0;
	for (int i = hi; i >= lo; i--) {
		double f = 1.0;
		for (int j = 2; j <= i; j++)
			f *= j;
		c[n++] = 1.0 / f;
	}
	return n;
}

static LLVMValueRef clamp_nan0(M *m, LLVMValueRef x, double lo, double hi)
{
	LLVMValueRef c = sel(m, gt(m, x, K(m, hi)), K(m, hi), x);
	c = sel(m, lt(m, c, K(m, lo)), K(m, lo), c);
	return sel(m, isnan_(m, x), K(m, 0.0), c);
}

/* f * exp(x), f a finite factor of moderate size (NULL: 1); the product is
 * rounded once into the subnormal range when it underflows. */
static LLVMValueRef exp_scaled(M *m, LLVMValueRef x, LLVMValueRef f)
{
	LLVMValueRef xc = clamp_nan0(m, x, m->dbl ? -746.0 : -105.0, m->dbl ? 710.0 : 89.0);
	LLVMValueRef k;
	LLVMValueRef r = exp_reduce(m, xc, &k, NULL);
	double c[20];
	int n = inv_fact(c, m->dbl ? 13 : 7, 0);   /* error ~r^14/14!, r^8/8! */
	LLVMValueRef p = horner(m, r, c, n);
	if (f)
		p = mul(m, p, f);
	p = scale2(m, p, k);
	return sel(m, isnan_(m, x), x, p);
}

static LLVMValueRef exp_core(M *m, LLVMValueRef x) { return exp_scaled(m, x, NULL); }

static LLVMValueRef expm1_core(M *m, LLVMValueRef x)
{
	LLVMValueRef xc = clamp_nan0(m, x, m->dbl ? -40.0 : -30.0, m->dbl ? 710.0 : 89.0);
	LLVMValueRef k;
	LLVMValueRef cr;
	LLVMValueRef r = exp_reduce(m, xc, &k, &cr);
	double c[20];
	int n = inv_fact(c, m->dbl ? 15 : 8, 2);
	/* em = expm1(r + cr) ~= r + r^2 (1/2 + r/6 + ...) + cr (1 + r) */
	LLVMValueRef tail = fma_(m, cr, add(m, r, K(m, 1.0)), mul(m, mul(m, r, r), horner(m, r, c, n)));
	LLVMValueRef em = add(m, r, tail);
	LLVMValueRef big = LLVMBuildICmp(m->b, LLVMIntSGT, k, KI(m, m->dbl ? 1000 : 100), "");
	LLVMValueRef km = LLVMBuildSelect(m->b, big, KI(m, 0), k, "");
	LLVMValueRef s = pow2i(m, km);
	/* 2^k*expm1(r) + (2^k - 1) */
	LLVMValueRef mid = add(m, sub(m, s, K(m, 1.0)), mul(m, s, em));
	LLVMValueRef hug = sub(m, scale2(m, add(m, em, K(m, 1.0)), k), K(m, 1.0));
	LLVMValueRef res = sel(m, big, hug, mid);
	LLVMValueRef k0 = LLVMBuildICmp(m->b, LLVMIntEQ, k, KI(m, 0), "");
	res = sel(m, k0, em, res);
	return sel(m, isnan_(m, x), x, res);
}

/* ---- log / log1p ---------------------------------------------------------- */

static LLVMValueRef log_core(M *m, LLVMValueRef x)
{
	int sub_shift = m->dbl ? 54 : 25;
	LLVMValueRef minnorm = K(m, m->dbl ? 2.2250738585072014e-308 : 1.17549435e-38);
	LLVMValueRef issub = lt(m, x, minnorm);
	LLVMValueRef xs = sel(m, issub, mul(m, x, K(m, ldexp(1.0, sub_shift))), x);
	/* keep the bit manipulation on a harmless value for specials */
	LLVMValueRef bad = bnot(m, gt(m, xs, K(m, 0.0)));
	xs = sel(m, bad, K(m, 1.0), xs);
	long long one = m->dbl ? 0x3ff0000000000000LL : 0x3f800000LL;
	long long sq = m->dbl ? 0x3fe6a09e667f3bcdLL : 0x3f3504f3LL; /* sqrt(2)/2 */
	long long mmask = m->dbl ? 0x000fffffffffffffLL : 0x007fffffLL;
	LLVMValueRef ix = LLVMBuildAdd(m->b, tobits(m, xs), KI(m, one - sq), "");
	LLVMValueRef k = LLVMBuildLShr(m->b, ix, KI(m, m->mbits), "");
	k = LLVMBuildSub(m->b, k, KI(m, m->bias), "");
	k = LLVMBuildSub(m->b, k, LLVMBuildSelect(m->b, issub, KI(m, sub_shift), KI(m, 0), ""), "");
	LLVMValueRef mb = LLVMBuildAdd(m->b, LLVMBuildAnd(m->b, ix, KI(m, mmask), ""), KI(m, sq), "");
	LLVMValueRef mant = frombits(m, mb);             /* [sqrt2/2, sqrt2) */
	LLVMValueRef kf = sitofp_small(m, k);            /* |k| <= 1075 + 52 */
	LLVMValueRef f = sub(m, mant, K(m, 1.0));
	LLVMValueRef s = fdiv(m, f, add(m, f, K(m, 2.0)));
	LLVMValueRef z = mul(m, s, s);
	/* R = sum_{j>=1} 2 z^j/(2j+1); log1p(f) = f - hf^2 + s*(hf^2 + R) */
	double c[16];
	int nt = m->dbl ? 11 : 4;
	for (int j = nt; j >= 1; j--)
		c[nt - j] = 2.0 / (2 * j + 1);
	LLVMValueRef R = mul(m, z, horner(m, z, c, nt));
	LLVMValueRef hfsq = mul(m, K(m, 0.5), mul(m, f, f));
	double hi, lo;
	ln2_split(m, &hi, &lo);
	LLVMValueRef t = add(m, mul(m, s, add(m, hfsq, R)), mul(m, kf, K(m, lo)));
	LLVMValueRef res = add(m, mul(m, kf, K(m, hi)), sub(m, f, sub(m, hfsq, t)));
	res = sel(m, feq(m, x, K(m, 0.0)), K(m, -INFINITY), res);
	res = sel(m, lt(m, x, K(m, 0.0)), K(m, NAN), res);
	res = sel(m, feq(m, x, K(m, INFINITY)), x, res);
	return sel(m, isnan_(m, x), x, res);
}

/* log1p(x) = log(u) * x/(u-1), u = 1+x (exact correction of the rounding
 * of 1+x). */
static LLVMValueRef log1p_core(M *m, LLVMValueRef x)
{
	LLVMValueRef u = add(m, x, K(m, 1.0));
	LLVMValueRef d = sub(m, u, K(m, 1.0));
	LLVMValueRef r = mul(m, log_core(m, u), fdiv(m, x, d));
	r = sel(m, feq(m, d, K(m, 0.0)), x, r);
	r = sel(m, feq(m, u, K(m, INFINITY)), u, r);
	r = sel(m, feq(m, x, K(m, -1.0)), K(m, -INFINITY), r);
	return sel(m, isnan_(m, x), x, r);
}

/* ---- tanh / sigmoid ------------------------------------------------------- */

static LLVMValueRef tanh_f64(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	/* |x| <= 0.55: -t/(t+2), t = expm1(-2|x|) in (-0.67, 0] (no cancellation);
	 * larger: 1 - 2/(exp(2|x|)+1), where the subtracted term is < 0.5 */
	LLVMValueRef t = expm1_core(m, mul(m, a, K(m, -2.0)));
	LLVMValueRef rs = fdiv(m, neg(m, t), add(m, t, K(m, 2.0)));
	LLVMValueRef e = exp_core(m, mul(m, a, K(m, 2.0)));
	LLVMValueRef rl = sub(m, K(m, 1.0), fdiv(m, K(m, 2.0), add(m, e, K(m, 1.0))));
	LLVMValueRef r = sel(m, gt(m, a, K(m, 0.55)), rl, rs);
	r = sel(m, gt(m, a, K(m, m->dbl ? 20.0 : 9.5)), K(m, 1.0), r);
	return copysign_(m, r, x);
}

static LLVMValueRef sigmoid_f64(M *m, LLVMValueRef x)
{
	/* x >= 0: 1/(1+e^-x);  x < 0: e^x/(1+e^x) — both from e = exp(-|x|) */
	LLVMValueRef e = exp_core(m, neg(m, fabs_(m, x)));
	LLVMValueRef d = add(m, K(m, 1.0), e);
	return fdiv(m, sel(m, lt(m, x, K(m, 0.0)), e, K(m, 1.0)), d);   /* one division */
}

/* ---- erf (double compute) ------------------------------------------------- */

/* h(t) = x*exp(x^2)*erfc(x), t = 1/x, as polynomials in u = (t-mid)/half,
 * highest degree first (fitted with mpmath's chebyfit). */
static const double erfc_f64a[17] = {     /* x in [1,2]: t in [0.5,1]; padded */
	0.0,
	9.554796082627911e-12, -2.8605438668138976e-11, 2.3567233764665185e-12,
	3.5149265008525193e-10, -2.7601285522035914e-09, 1.5027978975747895e-08,
	-6.190410486284837e-08, 1.6981996339544047e-07, 3.422951384908558e-08,
	-4.423082114055607e-06, 3.680539059551572e-05, -0.00019713177813035122,
	0.0006295812459789906, 0.0012092420392836793, -0.04227024444636872,
	0.4681795920385405,
};
static const double erfc_f64b[17] = {     /* x in [2,6]: t in [1/6,0.5] */
	-1.2669545291577379e-12, -8.026070348896292e-12, 6.742373802608678e-11,
	-1.9419537188322177e-10, 7.098089876568298e-11, 2.5427382303739378e-09,
	-1.5839419473041903e-08, 4.793588496067798e-08, 1.1239884359519182e-08,
	-1.0172696483269058e-06, 5.915637459721028e-06, -1.2430256581458018e-05,
	-7.918369000748395e-05, 0.0009059268985259903, -0.0032048013171038455,
	-0.023826556739807294, 0.5370034535441699,
};

static LLVMValueRef erf_small(M *m, LLVMValueRef x);

/* erf for double emitters (f64; f32 is erf_f32). */
static LLVMValueRef erf_f64(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef small = erf_small(m, x);

	/* |x| >= 1: erf = 1 - exp(-x^2) * h(1/x) / x */
	double sat = 6.0;
	LLVMValueRef ac = sel(m, lt(m, a, K(m, 1.0)), K(m, 1.0), a);
	ac = sel(m, gt(m, ac, K(m, sat)), K(m, sat), ac);
	LLVMValueRef t = fdiv(m, K(m, 1.0), ac);
	LLVMValueRef lo = lt(m, ac, K(m, 2.0));
	LLVMValueRef mid = sel(m, lo, K(m, 0.75), K(m, 1.0 / 3.0));
	LLVMValueRef ihalf = sel(m, lo, K(m, 4.0), K(m, 6.0));
	LLVMValueRef u = mul(m, sub(m, t, mid), ihalf);
	LLVMValueRef h = sel(m, lo, K(m, erfc_f64a[0]), K(m, erfc_f64b[0]));
	for (int i = 1; i < 17; i++)
		h = fma_(m, h, u, sel(m, lo, K(m, erfc_f64a[i]), K(m, erfc_f64b[i])));
	LLVMValueRef erfc = mul(m, mul(m, exp_core(m, neg(m, mul(m, ac, ac))), h), t);
	LLVMValueRef big = sub(m, K(m, 1.0), erfc);
	big = sel(m, gt(m, a, K(m, sat)), K(m, 1.0), big);
	big = copysign_(m, big, x);
	LLVMValueRef r = sel(m, lt(m, a, K(m, 1.0)), small, big);
	return sel(m, isnan_(m, x), x, r);
}

static const double erfc_f64c[17] = {     /* x in [6,27]: t in [1/27,1/6] */
	-2.2628315661824044e-17, -7.918798358209184e-16, 4.7516222980710916e-15,
	1.4266035034427742e-14, -2.795356554818921e-13, 6.775806901723273e-13,
	1.0965953510058861e-11, -9.177943901003269e-11, -2.118375679791817e-10,
	7.283737223155345e-09, -2.0874293087290097e-08, -5.334547047284455e-07,
	4.994053319325017e-06, 4.1415432491287204e-05, -0.001081147142966464,
	-0.0036128936395030333, 0.5613075854373845,
};

/* erf(x) for |x| < 1: x * 2/sqrt(pi) * sum (-1)^n z^n/(n!(2n+1)), z = x^2 */
static LLVMValueRef erf_small(M *m, LLVMValueRef x)
{
	int nt = m->p32 ? 11 : 19;
	double c[24], tmp[24];
	double fact = 1.0;
	for (int n = 0; n < nt; n++) {
		if (n > 0)
			fact *= n;
		tmp[n] = ((n & 1) ? -1.0 : 1.0) * 1.1283791670955126 / (fact * (2 * n + 1));
	}
	for (int n = 0; n < nt; n++)
		c[n] = tmp[nt - 1 - n];
	return mul(m, x, horner(m, mul(m, x, x), c, nt));
}

/* erfc(x) for double emitters (f64; f32 is erfc_f32):  |x| < 1: 1 - erf(x);
 * else exp(-x^2) h(1/x) / x with h from three fits over [1,27] and x^2
 * split exactly (hi^2 + (x-hi)(x+hi)) so large x keep full accuracy. */
static LLVMValueRef erfc_f64(M *m, LLVMValueRef x)
{
	M md = *m;
	md.p32 = false;
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef one = K(m, 1.0), two = K(m, 2.0);
	LLVMValueRef small = sub(m, one, erf_small(&md, x));
	LLVMValueRef ac = sel(m, lt(m, a, one), one, a);
	ac = sel(m, gt(m, ac, K(m, 27.3)), K(m, 27.3), ac);
	LLVMValueRef t = fdiv(m, one, ac);
	LLVMValueRef lo = lt(m, ac, two), hi = bnot(m, lt(m, ac, K(m, 6.0)));
	LLVMValueRef mid = sel(m, lo, K(m, 0.75), sel(m, hi, K(m, 0.10185185185185185), K(m, 1.0 / 3.0)));
	LLVMValueRef ih = sel(m, lo, K(m, 4.0), sel(m, hi, K(m, 1.0 / 0.06481481481481481), K(m, 6.0)));
	LLVMValueRef u = mul(m, sub(m, t, mid), ih);
	LLVMValueRef h = NULL;
	for (int i = 0; i < 17; i++) {
		LLVMValueRef c = sel(m, lo, K(m, erfc_f64a[i]),
			sel(m, hi, K(m, erfc_f64c[i]), K(m, erfc_f64b[i])));
		h = h ? fma_(m, h, u, c) : c;
	}
	/* ac = ah + al with ah^2 exact (26 significant bits) */
	LLVMValueRef ah = frombits(m, LLVMBuildAnd(m->b, tobits(m, ac), KI(m, ~((1LL << 27) - 1)), ""));
	LLVMValueRef e2 = exp_core(m, neg(m, mul(m, sub(m, ac, ah), add(m, ac, ah))));
	LLVMValueRef big = exp_scaled(m, neg(m, mul(m, ah, ah)), mul(m, mul(m, e2, h), t));
	big = sel(m, gt(m, a, K(m, 27.3)), K(m, 0.0), big);
	big = sel(m, lt(m, x, K(m, 0.0)), sub(m, two, big), big);
	LLVMValueRef r = sel(m, lt(m, a, one), small, big);
	return sel(m, isnan_(m, x), x, r);
}

/* p + e = a*b exactly (float emitters; no overflow or underflow).  With
 * a fused fmuladd e = fma(a, b, -p); otherwise Dekker's product with both
 * factors split by masking into 12 + 12 significant bits, whose partial
 * products are exact.  (A module's functions are built for one target
 * machine, so cg->isa.fma says how fmuladd will be lowered; if it is
 * lowered unfused anyway, the result is merely less exact.) */
static LLVMValueRef two_prod(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *e)
{
	LLVMValueRef p = mul(m, a, b);
	if (m->fma) {
		*e = fma_(m, a, b, neg(m, p));
		return p;
	}
	assert(!m->dbl);
	LLVMValueRef ah = frombits(m, LLVMBuildAnd(m->b, tobits(m, a), KI(m, ~0xfffLL), ""));
	LLVMValueRef bh = frombits(m, LLVMBuildAnd(m->b, tobits(m, b), KI(m, ~0xfffLL), ""));
	LLVMValueRef al = sub(m, a, ah), bl = sub(m, b, bh);
	LLVMValueRef e1 = add(m, sub(m, mul(m, ah, bh), p), mul(m, ah, bl));
	*e = add(m, add(m, e1, mul(m, al, bh)), mul(m, al, bl));
	return p;
}

/* ---- f32 erf / erfc / tanh / sigmoid in float arithmetic ------------------------
 *
 * Tables from scripts/fit_mathf32.py (near-minimax fits, highest degree
 * first, coefficients rounded to float).  The algorithms:
 *   erfc(x), x >= 0:  exp(-x^2) (1 + P(t)) / (1 + 2x), t = (x-3)/(x+3),
 *     P = (1+t) S(t) (the form of Shepherd & Laframboise, Math. Comp. 36
 *     (1981), our fit): t and the quotient get one residual step each,
 *     exp(-x^2) is evaluated on x^2 split exactly into ah^2 (ah: x with 12
 *     significant bits) + al(x+ah), and quotient times exponential is
 *     rounded once.  x < 0: 2 - erfc(-x).  x > 10.0542: +0.
 *   erf(x), |x| < 3.92: in 8 pieces chosen per lane by k = floor(2|x|):
 *     k = 0 (|x| < 0.5): x + x Q(x^2);  k = 1..7 ([k/2, (k+1)/2)): sign(x)
 *     P_k(|x| - mid_k), mid_k a float whose erf is within ~0.002 ulp of a
 *     float (|x| - mid_k is exact); above: sign(x).  All pieces are one
 *     Horner loop of 8 coefficients (Q padded with leading zeros) whose
 *     coefficients are looked up per lane: one vpermps each on AVX-512
 *     and AVX2, a load (a gather) from a constant table elsewhere, the
 *     same values either way.  Checked exhaustively (every float in
 *     [-4.5, 4.5] against double erf; tests/unit/test_mathfn.c
 *     test_erf_pieces): max 0.649 ulp with FMA (AVX-512 and AVX2 forms),
 *     0.779 ulp with separately rounded products (baseline x86-64).  It replaced three
 *     pieces of degree 10-12 on [0.75, 3.92) whose coefficients were
 *     chosen by two selects each, plus Q of degree 6 below 0.75 evaluated
 *     for every lane: about half the instructions (GELU's epilogue).
 *   tanh(x): |x| <= 0.55: x + x (x^2 R(x^2));  else 1 - 2/(e+1), e = exp(2|x|),
 *     with e + 1 kept in two parts and one residual step on the quotient.
 *   sigmoid(x): 1/(1+e) or e/(1+e), e = exp(-|x|), likewise.
 * Residuals use exact products (two_prod: fused fmuladd on FMA targets,
 * Dekker's product otherwise), so the accuracy does not depend on FMA;
 * the results differ between the two in the last bit at most. */

/* erf in 8 pieces, k = floor(2|x|) (scripts/fit_mathf32.py): mid_k, and the
 * coefficients [i][k] highest degree first.  k = 0: Q(z) = erf(x)/x - 1,
 * z = x^2 (degree 4, three leading zeros: a zero leading term leaves
 * Horner's result unchanged, bit for bit); k >= 1: erf(u + mid_k),
 * u = |x| - mid_k, degree 7.  Fit errors 0.014 ulp and below. */
static const double erf_tab_f32[9][8] = {   /* rows 0..7: coefficients; row 8: mid_k */
	{0, 0.0183234625, 0.0037106548, -0.00593271572, -0.000724004756, 0.000636701239, 0.000173748864, 1.83693155e-05},
	{0, -0.0268114693, 0.0206352286, 0.00911140628, -0.00278599607, -0.00166400766, -0.000257502979, -2.67731466e-05},
	{0, -0.0530598238, -0.0471777841, 0.00653205207, 0.0106548788, 0.00274380529, 0.000313007244, 2.66793686e-05},
	{0.00471822452, 0.151034281, -0.00614297716, -0.0481573865, -0.0190706942, -0.00324051664, -0.000287061644, -2.04372154e-05},
	{-0.0267579556, 0.0259879082, 0.167534918, 0.0904634893, 0.0217000954, 0.00274426676, 0.000195365035, 1.194586e-05},
	{0.112828486, -0.48230356, -0.295636535, -0.0927869976, -0.0160493311, -0.00160203164, -9.46042201e-05, -5.0388112e-06},
	{-0.376126111, 0.644213855, 0.236503363, 0.0530693755, 0.0071320422, 0.000582291512, 2.911511e-05, 1.36544861e-06},
	{0.128379166, 0.710299671, 0.922907233, 0.986587524, 0.998539567, 0.999900103, 0.999995708, 0.999999821},
	{0, 0.748669982, 1.25003004, 1.74840999, 2.25031996, 2.75124002, 3.25039005, 3.69117999},
};
#define ERF_F32_ONE 3.92   /* erf(x) rounds to 1 from here on (erfc < 2^-25) */

/* GELU(x) = x Phi(x) with h(a) = Phi(-a) = erfc(a/sqrt2)/2, a = |x|, in 8
 * pieces of width 0.75, k = floor(4a/3) (scripts/fit_mathf32.py): h(u +
 * mid_k) ~ P_k(u), u = a - mid_k, degree 7 (rows 0..7, highest degree
 * first), fitted for absolute error (at most 1.2e-9); row 8: mid_k, a
 * float near the piece's middle whose h rounds to float with almost no
 * error (the constant term's rounding is not absorbed by the fit). */
static const double gelu_tab_f32[9][8] = {
	{0.000647141482, -0.000810645754, -2.85277729e-05, 0.000223266805, -5.33935781e-06, -2.12849664e-05, -3.42229487e-06, -2.0928654e-07},
	{0.00255371723, 0.00130921113, -0.00135582464, -0.000309146271, 0.000188820326, 6.32366064e-05, 6.72838451e-06, 3.24163068e-07},
	{-0.00674384693, 0.00526764244, 0.0032987108, -0.000968406908, -0.000717728748, -0.000127904073, -9.69715256e-06, -3.62936163e-07},
	{-0.0166030284, -0.0172647741, 0.00274696108, 0.00541526545, 0.00157553738, 0.000194052729, 1.15293551e-05, 3.58314907e-07},
	{0.0532684773, -0.00927565247, -0.0288540665, -0.0124911731, -0.00230961316, -0.000215154651, -1.0398363e-05, -2.74734219e-07},
	{0.0697035044, 0.119222865, 0.0645962507, 0.0166985914, 0.00224895193, 0.00016625943, 6.67850327e-06, 1.51338156e-07},
	{-0.371871829, -0.212236643, -0.0689489245, -0.012722509, -0.0013319148, -8.0613514e-05, -2.73878709e-06, -5.3782653e-08},
	{0.353874862, 0.130614728, 0.0304831378, 0.00433181133, 0.000366352149, 1.85544377e-05, 5.40522024e-07, 9.28421606e-09},
	{0.374879986, 1.12348998, 1.87373996, 2.62505007, 3.37703991, 4.12478018, 4.87627983, 5.62482977},
};
/* h is taken as 0 from here on (h(5.9) = 1.8e-9; 4a/3 stays below 8 in
 * float) */
#define GELU_F32_END 5.9

/* The same h for AVX-512 code (gelu16_f32) in 16 pieces, so that each
 * coefficient is one vpermps of a 16-lane register: t = a S + 2 (S =
 * GELU16_S) lies in [2, 8) for a < 6.19, and its exponent and top three
 * mantissa bits, (bits(t) >> 20) mod 16, number the pieces: 8 of width
 * 0.25/S on [0, 2/S) (t in [2, 4)), 8 of width 0.5/S on [2/S, 6/S) (t in
 * [4, 8)).  S < 1 puts a = 2, where GELU(-2) = -2 h(2) still needs h to
 * ~1e-9 relative to its 0.023, inside a narrow piece; the wide pieces
 * (a > 2.06) need only ~1e-8 absolutely.  P_k(u) ~ h(u + mid_k), u = a -
 * mid_k, degree 5 (rows 0..5, highest degree first), fitted for absolute
 * error: at most 7.1e-10 on the narrow pieces, 8.0e-9 on the wide ones
 * (scripts/fit_mathf32.py); row 6: mid_k, chosen as gelu_tab_f32's. */
#define GELU16_S 0.96875
static const double gelu16_tab_f32[7][16] = {   /* rows 0..5: coefficients; row 6: mid_k */
	{-0.00958431512, -0.00653622299, -0.00178245944, 0.00263455417, 0.00551190274, 0.00605462631, 0.00485853432, 0.00278822612, 9.57037773e-05, -0.00114006223, -0.000743852113, -0.000258871121, -5.84414738e-05, -9.1416041e-06, -1.02267416e-06, -8.33238119e-08},
	{-0.00638326677, -0.0169637222, -0.0224308632, -0.0217952877, -0.0161714759, -0.00857744738, -0.00125921925, 0.00365897128, 0.00614514574, 0.00425760075, 0.00167759636, 0.000439568306, 8.12345024e-05, 1.08506438e-05, 1.0658573e-06, 7.81024738e-08},
	{0.0648117959, 0.0524257906, 0.03154324, 0.00839716382, -0.0119174179, -0.0245445482, -0.0295434687, -0.0280536208, -0.0196903069, -0.00838995632, -0.00245688227, -0.000516778207, -7.98875335e-05, -9.1510874e-06, -7.8395658e-07, -5.07303533e-08},
	{0.0257600881, 0.071689412, 0.104487635, 0.119746871, 0.117966294, 0.10359522, 0.0818041489, 0.0593093969, 0.0312186945, 0.010133055, 0.00241124793, 0.000428929168, 5.75877093e-05, 5.83786095e-06, 4.48884492e-07, 2.63495785e-08},
	{-0.39557296, -0.370100558, -0.324038208, -0.266002446, -0.202872649, -0.146250188, -0.097442627, -0.061281465, -0.0268796664, -0.00714514358, -0.00143800536, -0.000221709022, -2.62837784e-05, -2.38682082e-06, -1.66353061e-07, -8.93998298e-09},
	{0.448187381, 0.349227548, 0.259492338, 0.183968127, 0.122422807, 0.0782875419, 0.0465741381, 0.0264562778, 0.010097879, 0.00228176522, 0.000397876895, 5.40298679e-05, 5.71789678e-06, 4.68559847e-07, 2.97390965e-08, 1.46688628e-09},
	{0.130242258, 0.387406766, 0.644911289, 0.900345802, 1.16296029, 1.41668487, 1.67901933, 1.9356339, 2.32269073, 2.8363297, 3.35426879, 3.87174773, 4.3880868, 4.90442562, 5.42040491, 5.93533373},
};

/* S(t) = ((1+2x) exp(x^2) erfc(x) - 1)/(1+t), t = (x-3)/(x+3), x in [0, 10.06] */
static const double erfc_s_f32[10] = {
	-0.000279839238, -0.000530398916, 0.00250364677, 6.22027437e-05,
	-0.0238479767, 0.0921502858, -0.211421236, 0.341066509, -0.388629168,
	0.253008068,
};
/* (tanh(x)/x - 1)/x^2 in z = x^2, |x| <= 0.55 */
static const double tanh_small_f32[6] = {
	0.00447780918, -0.010008621, 0.0222131126, -0.0540076979, 0.13333489,
	-0.333333343,
};

/* s + e = a + b exactly (Knuth's TwoSum, any order of magnitudes). */
static LLVMValueRef two_sum(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *e)
{
	LLVMValueRef s = add(m, a, b);
	LLVMValueRef bb = sub(m, s, a);
	*e = add(m, sub(m, a, sub(m, s, bb)), sub(m, b, bb));
	return s;
}

/* hi + lo = k ln2 + r + rl for a float emitter (|r| <= 0.35, rl the
 * rounding error of r); sets *k (ti).  hi in [-104, 89]: hi - k*ln2hi is
 * exact for any float hi; lo is a correction term, |lo| <= 2^-10 |hi|. */
static LLVMValueRef exp_reduce_f32(M *m, LLVMValueRef hi, LLVMValueRef lo, LLVMValueRef *rl, LLVMValueRef *k)
{
	double h, l;
	ln2_split(m, &h, &l);
	LLVMValueRef kf = rne_small(m, mul(m, hi, K(m, 1.4426950408889634)));
	LLVMValueRef rh = sub(m, hi, mul(m, kf, K(m, h)));   /* exact */
	*k = fptosi_small(m, kf);
	return two_sum(m, rh, sub(m, lo, mul(m, kf, K(m, l))), rl);
}

/* exp(hi + lo) = 2^k (1 + rq) (exp_reduce_f32's conditions); returns rq
 * (|rq| < 0.42).  exp(r + rl) - 1 = r Q(r) + rl, Q the Taylor polynomial
 * to r^7/8! (|r| <= 0.35: truncation 2e-10). */
static LLVMValueRef exp_rq_f32(M *m, LLVMValueRef hi, LLVMValueRef lo, LLVMValueRef *k)
{
	LLVMValueRef rl;
	LLVMValueRef r = exp_reduce_f32(m, hi, lo, &rl, k);
	double c[12];
	int n = inv_fact(c, 8, 1);
	return fma_(m, r, horner(m, r, c, n), rl);
}

/* exp(r + rl) - 1 - r = r^2 Q2(r) + rl, Q2 the Taylor polynomial 1/2! ..
 * r^6/8! (|r| <= 0.35: truncation 2e-10; result |.| < 0.07). */
static LLVMValueRef exp_t2_f32(M *m, LLVMValueRef r, LLVMValueRef rl)
{
	double c[12];
	int n = inv_fact(c, 8, 2);
	return fma_(m, mul(m, r, r), horner(m, r, c, n), rl);
}

/* (qh + ql) exp(r + rl), t2 = exp_t2_f32(r, rl), rounded once (|r| <=
 * 0.35, |ql| << |qh|): qh + qh r is summed exactly (two_prod,
 * Fast2Sum), the small rest qh t2 + ql (1 + r) is added to its
 * error terms. */
static LLVMValueRef mul_exp_f32(M *m, LLVMValueRef qh, LLVMValueRef ql, LLVMValueRef r, LLVMValueRef t2)
{
	LLVMValueRef prl;
	LLVMValueRef pr = two_prod(m, qh, r, &prl);
	LLVMValueRef sh = add(m, qh, pr);
	LLVMValueRef se = sub(m, pr, sub(m, sh, qh));
	LLVMValueRef tail = add(m, add(m, se, prl), fma_(m, ql, r, fma_(m, qh, t2, ql)));
	return add(m, sh, tail);
}

/* erfc(a) for 0 <= a <= 10.06 (not NaN), float:
 * exp(-a^2) (1 + P)/(1 + 2a), P = (1+t) S(t), t = (a-3)/(a+3).
 * Error-free transformations keep the parts that decide the last bit:
 * a -+ 3 and 1 + 2a are TwoSums, t and the quotient q = qh + ql get one
 * residual correction each (exact products: two_prod), and q exp(r) is
 * rounded once (mul_exp_f32) before the exact scaling by 2^k. */
static LLVMValueRef erfc_pos_f32(M *m, LLVMValueRef a)
{
	LLVMValueRef one = K(m, 1.0), three = K(m, 3.0);
	LLVMValueRef a2 = add(m, a, a);
	/* t = (nh + nl)/(dh + dl) to ~0.5 ulp */
	LLVMValueRef nl, dl;
	LLVMValueRef nh = two_sum(m, a, K(m, -3.0), &nl);
	LLVMValueRef dh = two_sum(m, a, three, &dl);
	LLVMValueRef rp = fdiv(m, one, dh);
	LLVMValueRef t = mul(m, nh, rp);
	LLVMValueRef tpe;
	LLVMValueRef tp = two_prod(m, t, dh, &tpe);
	LLVMValueRef res = sub(m, add(m, sub(m, sub(m, nh, tp), tpe), nl), mul(m, t, dl));
	t = fma_(m, res, rp, t);
	LLVMValueRef s = horner(m, t, erfc_s_f32, 10);
	/* p = s + t s; near x = 0 (t ~ -1) both terms cancel: exact product */
	LLVMValueRef tse;
	LLVMValueRef ts = two_prod(m, t, s, &tse);
	LLVMValueRef p = add(m, add(m, s, ts), tse);
	/* q = qh + ql = (1 + p)/(eh + el), eh + el = 1 + 2a */
	LLVMValueRef el;
	LLVMValueRef eh = two_sum(m, one, a2, &el);
	LLVMValueRef rd = fdiv(m, one, eh);
	LLVMValueRef qh = fma_(m, p, rd, rd);
	LLVMValueRef qpe;
	LLVMValueRef qp = two_prod(m, qh, eh, &qpe);
	res = sub(m, add(m, sub(m, sub(m, one, qp), qpe), p), mul(m, qh, el));
	LLVMValueRef ql = mul(m, res, rd);
	/* -a^2 = hi + lo, hi = -ah^2 exact (ah: a with 12 significant bits) */
	LLVMValueRef ah = frombits(m, LLVMBuildAnd(m->b, tobits(m, a), KI(m, ~0xfffLL), ""));
	LLVMValueRef hi = neg(m, mul(m, ah, ah));
	LLVMValueRef lo = neg(m, mul(m, sub(m, a, ah), add(m, a, ah)));
	LLVMValueRef k, rl;
	LLVMValueRef r = exp_reduce_f32(m, hi, lo, &rl, &k);
	return scale2(m, mul_exp_f32(m, qh, ql, r, exp_t2_f32(m, r, rl)), k);
}

#define ERFC_F32_ZERO 10.0541949   /* erfc(x) < 2^-150 above (fit script) */

static LLVMValueRef erfc_f32(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef lim = K(m, ERFC_F32_ZERO);
	LLVMValueRef ac = sel(m, lt(m, a, lim), a, lim);      /* NaN, inf: lim */
	LLVMValueRef r = erfc_pos_f32(m, ac);
	r = sel(m, gt(m, a, lim), K(m, 0.0), r);
	r = sel(m, lt(m, x, K(m, 0.0)), sub(m, K(m, 2.0), r), r);
	return sel(m, isnan_(m, x), x, r);
}

/* f32 code on 16-lane AVX-512 vectors: vpermps reads an index's low 4
 * bits only (no mask needed), vscalefps and vfixupimmps exist. */
static bool zmm_f32(const M *m)
{
	return !m->dbl && scalef_isa(m->cg, m->w);
}

/* Lanes of the vpermps piece_lookup_n() uses for a table row of ncols
 * floats in m's code, or 0 (a table load): a row of 16 needs AVX-512's
 * 16-lane form, a row of 8 fits AVX2's 8-lane one (AVX-512 code also
 * takes the 16-lane form for 16-lane vectors).  Scalars and f64 load. */
static int permute_lanes(const M *m, int ncols)
{
	const char *isa = m->cg->isa.name;
	if (m->dbl || m->w == 1 || !isa)
		return 0;
	bool a512 = !strcmp(isa, "avx512");
	if (ncols == 16)
		return a512 && m->w <= 16 ? 16 : 0;
	if (a512 && m->w == 16)
		return 16;
	return (a512 || !strcmp(isa, "avx2")) && m->w <= 8 ? 8 : 0;
}

/* v (w lanes) as n lanes: v's lanes first, then zeros (n > w), or its
 * first n lanes (n < w). */
static LLVMValueRef resize_lanes(M *m, LLVMValueRef v, int w, int n)
{
	LLVMTypeRef i32 = LLVMInt32TypeInContext(m->cg->ctx);
	LLVMValueRef mask[16];
	assert(n <= 16);
	for (int i = 0; i < n; i++)
		mask[i] = LLVMConstInt(i32, (unsigned)(i < w ? i : w), 0);
	return LLVMBuildShuffleVector(m->b, v, LLVMConstNull(LLVMTypeOf(v)), LLVMConstVector(mask, (unsigned)n), "");
}

/* tab[row][k] per lane, k = idx (i32 lanes, 0..ncols-1; tab: nrows rows
 * of ncols doubles exactly representable in float, row-major, ncols 8 or
 * 16): vpermps of a constant register where permute_lanes() says so (a
 * vector narrower than the permute has its index widened with zeros and
 * the result cut back), else a load from the internal table `name` (the
 * nrows x ncols floats' bits, row-major; a masked gather for vectors,
 * which no AVX2 or AVX-512 code takes).  Both give the same floats. */
static LLVMValueRef piece_lookup_n(M *m, const char *name, const double *tab, int ncols, int nrows, int row,
                                   LLVMValueRef idx)
{
	Cg *cg = m->cg;
	LLVMTypeRef f32 = LLVMFloatTypeInContext(cg->ctx), i32 = LLVMInt32TypeInContext(cg->ctx);
	assert(row >= 0 && row < nrows && nrows <= 16 && (ncols == 8 || ncols == 16));
	const double *vals = tab + row * ncols;
	int pw = permute_lanes(m, ncols);
	if (pw) {
		LLVMValueRef el[16];
		for (int i = 0; i < pw; i++)
			el[i] = LLVMConstReal(f32, vals[i % ncols]);
		LLVMValueRef vtab = LLVMConstVector(el, (unsigned)pw);
		const char *iname = pw == 16 ? "llvm.x86.avx512.permvar.sf.512" : "llvm.x86.avx2.permps";
		unsigned id = LLVMLookupIntrinsicID(iname, strlen(iname));
		assert(id != 0);
		LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, NULL, 0);
		LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, NULL, 0);
		LLVMValueRef args[2] = { vtab, m->w < pw ? resize_lanes(m, idx, m->w, pw) : idx };
		LLVMValueRef r = LLVMBuildCall2(m->b, ft, fn, args, 2, "");
		return m->w < pw ? resize_lanes(m, r, pw, m->w) : r;
	}
	/* the table holds the floats' bits (i32), as mathfn_host.c's
	 * interpreter reads integer tables */
	LLVMTypeRef at = LLVMArrayType2(i32, (uint64_t)(ncols * nrows));
	LLVMValueRef g = LLVMGetNamedGlobal(cg->mod, name);
	if (!g) {
		LLVMValueRef el[256];
		for (int r = 0; r < nrows; r++)
			for (int k = 0; k < ncols; k++) {
				float f = (float)tab[r * ncols + k];
				uint32_t u;
				memcpy(&u, &f, 4);
				el[ncols * r + k] = LLVMConstInt(i32, u, 0);
			}
		g = LLVMAddGlobal(cg->mod, at, name);
		LLVMSetInitializer(g, LLVMConstArray2(i32, el, (uint64_t)(ncols * nrows)));
		LLVMSetGlobalConstant(g, 1);
		LLVMSetLinkage(g, LLVMInternalLinkage);
		LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	}
	LLVMValueRef ix = LLVMBuildAdd(m->b, idx, splat_const(LLVMConstInt(i32, (unsigned)(ncols * row), 0), m->w), "");
	return frombits(m, table_i32(m, g, at, ix));
}

static LLVMValueRef piece_lookup(M *m, const char *name, const double (*tab)[8], int nrows, int row,
                                 LLVMValueRef idx)
{
	return piece_lookup_n(m, name, &tab[0][0], 8, nrows, row, idx);
}

static LLVMValueRef erf_lookup(M *m, int row, LLVMValueRef idx)
{
	return piece_lookup(m, "onnxcc_math_erf_tab", erf_tab_f32, 9, row, idx);
}

static LLVMValueRef erf_f32(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	/* k = floor(2|x|) for |x| < 4 (NaN, inf and the rest: 0, replaced below) */
	LLVMValueRef ac = sel(m, lt(m, a, K(m, 4.0)), a, K(m, 0.0));
	LLVMValueRef k = LLVMBuildFPToSI(m->b, mul(m, ac, K(m, 2.0)), i32_of(m), "");
	LLVMValueRef p0 = lt(m, a, K(m, 0.5));
	/* piece 0 in z = x^2, the others in u = |x| - mid (exact) */
	LLVMValueRef v = sel(m, p0, mul(m, a, a), sub(m, a, erf_lookup(m, 8, k)));
	LLVMValueRef q = erf_lookup(m, 0, k);
	for (int i = 1; i < 8; i++)
		q = fma_(m, q, v, erf_lookup(m, i, k));
	LLVMValueRef r = sel(m, p0, fma_(m, a, q, a), q);
	r = sel(m, lt(m, a, K(m, ERF_F32_ONE)), r, K(m, 1.0));
	r = copysign_(m, r, x);
	return sel(m, isnan_(m, x), x, r);
}

/* GELU (erf form) in float: x Phi(x), Phi = h(|x|) for x < 0, 1 - h(|x|)
 * otherwise (gelu_tab_f32); h = 0 where |x| >= GELU_F32_END and for NaN
 * (Phi = 0 or 1: x itself, -0, or NaN for -inf and NaN, as 0.5x(1 +
 * erf(x/sqrt2)) gives).  The error of Phi is mostly its own rounding
 * (fit 1.2e-9): within 2.5 ulp of GELU where x >= -2, and absolutely below
 * |x| 2^-24 under it, where 0.5x(1 + erf) cancels too (test_mathfn
 * test_gelu).  26 instructions per 16 outputs in an AVX-512 GEMM epilogue,
 * against 33 for 0.5x(1 + erf(x/sqrt2)). */
static LLVMValueRef gelu_f32(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef in = lt(m, a, K(m, GELU_F32_END));
	LLVMValueRef ac = sel(m, in, a, K(m, 0.0));
	LLVMValueRef k = LLVMBuildFPToSI(m->b, mul(m, ac, K(m, 4.0 / 3.0)), i32_of(m), "");
	const char *name = "onnxcc_math_gelu_tab";
	LLVMValueRef u = sub(m, ac, piece_lookup(m, name, gelu_tab_f32, 9, 8, k));
	LLVMValueRef h = piece_lookup(m, name, gelu_tab_f32, 9, 0, k);
	for (int i = 1; i < 8; i++)
		h = fma_(m, h, u, piece_lookup(m, name, gelu_tab_f32, 9, i, k));
	h = sel(m, in, h, K(m, 0.0));
	LLVMValueRef phi = sel(m, lt(m, x, K(m, 0.0)), h, sub(m, K(m, 1.0), h));
	return mul(m, x, phi);
}

/* Whether f32 GELU and exp take their 16-entry table forms (gelu16_f32,
 * exp16_f32): code for AVX-512, in every width (narrower vectors permute
 * a widened index and scalars load the table, which gives the floats the
 * 16-lane vpermps gives; exp's narrower forms scale in two steps what
 * vscalefps scales in one: the forms agree bit for bit within that ISA);
 * elsewhere gelu_f32, whose 8-entry rows fit AVX2's vpermps, and
 * exp_core. */
static bool table16_isa(const Cg *cg)
{
	return cg->isa.name && !strcmp(cg->isa.name, "avx512");
}

static LLVMValueRef gelu16_lookup(M *m, int row, LLVMValueRef k)
{
	return piece_lookup_n(m, "onnxcc_math_gelu16_tab", &gelu16_tab_f32[0][0], 16, 7, row, k);
}

/* b = x for x >= 0 (and -0, NaN), -0 for x < 0, NaN for -inf (0.5x(1 +
 * erf(x/sqrt2)) = -inf * 0): GELU = b - |x| h where |x| < GELU_F32_END,
 * b itself elsewhere.  On 16-lane AVX-512 one vfixupimmps (per class of x:
 * QNaN, SNaN, zero, +1, +inf, positive: x; negative: -0; -inf: the
 * default NaN 0xffc00000), elsewhere selects giving the same bits. */
static LLVMValueRef gelu16_base(M *m, LLVMValueRef x)
{
	Cg *cg = m->cg;
	if (zmm_f32(m)) {
		const char *name = "llvm.x86.avx512.mask.fixupimm.ps.512";
		unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
		assert(id != 0);
		LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, NULL, 0);
		LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, NULL, 0);
		/* response nibble per class j (bits 4j..4j+3): 1 = x, 3 = the
		 * default NaN, 7 = -0; classes 0 QNaN, 1 SNaN, 2 zero, 3 +1,
		 * 4 -inf, 5 +inf, 6 negative, 7 positive */
		LLVMTypeRef i32 = LLVMInt32TypeInContext(cg->ctx);
		LLVMValueRef args[6] = { x, x, KI(m, 0x17131111), LLVMConstInt(i32, 0, 0),
		                         LLVMConstInt(LLVMInt16TypeInContext(cg->ctx), 0xffff, 0), LLVMConstInt(i32, 4, 0) };
		return LLVMBuildCall2(m->b, ft, fn, args, 6, "");
	}
	LLVMValueRef nan = frombits(m, KI(m, (int32_t)0xffc00000u));
	LLVMValueRef negv = sel(m, feq(m, x, K(m, -INFINITY)), nan, K(m, -0.0));
	return sel(m, lt(m, x, K(m, 0.0)), negv, x);
}

/* GELU (erf form) in float for AVX-512 code: x Phi(x) with h = Phi(-|x|)
 * in 16 pieces of degree 5 (gelu16_tab_f32), as x - |x| h for x >= 0 and
 * -|x| h for x < 0 (one fused rounding each: b - |x| h, gelu16_base).  The
 * piece is k = (bits(t) >> 20) mod 16, t = fma(a, S, 2) (llvm.fma: one
 * rounding in every form; a rounding up at a piece's lower end picks that
 * piece for an a up to 2.4e-7 below it, inside its fit).  Out-of-range
 * lanes (a >= 5.9, inf, NaN) get some piece and a meaningless h, and b
 * as their result (x, -0, or NaN for -inf and NaN, as gelu_f32).  No
 * clamp of a before the lookup: vpermps reads k's low 4 bits (no mask
 * needed), the table loads k mod 16.  Within 1.2 ulp where x >= 0, 1.7
 * ulp on [-2, 0), 0.17 |x| 2^-24 below (test_mathfn test_gelu); 19 vector
 * instructions per 16 outputs in a GEMM epilogue (gelu_f32: 26; objdump):
 * |x|, the range compare, t, k, 7 vpermps (6 coefficients and mid_k),
 * u, 5 FMAs, vfixupimmps (b) and the final masked FMA. */
static void gelu16_f32_n(M *m, LLVMValueRef *x, int n);

static LLVMValueRef gelu16_f32(M *m, LLVMValueRef x)
{
	gelu16_f32_n(m, &x, 1);
	return x;
}

/* gelu16_f32 of n vectors x[0..n) in place, each step for all n before
 * the next: the same operations on each vector as gelu16_f32 (the same
 * bits), in an order that keeps n chains of its 5-FMA Horner step side by
 * side for the out-of-order core instead of one after the other. */
static void gelu16_f32_n(M *m, LLVMValueRef *x, int n)
{
	enum { NMAX = 8 };
	assert(n >= 1 && n <= NMAX);
	LLVMValueRef a[NMAX], in[NMAX], k[NMAX], u[NMAX], h[NMAX];
	for (int i = 0; i < n; i++)
		a[i] = fabs_(m, x[i]);
	for (int i = 0; i < n; i++) {
		in[i] = lt(m, a[i], K(m, GELU_F32_END));
		LLVMValueRef fv[3] = { a[i], K(m, GELU16_S), K(m, 2.0) };
		k[i] = LLVMBuildLShr(m->b, tobits(m, intrin(m, "llvm.fma", fv, 3)), KI(m, 20), "");
		if (!(zmm_f32(m)))
			k[i] = LLVMBuildAnd(m->b, k[i], KI(m, 15), "");
	}
	for (int i = 0; i < n; i++)
		u[i] = sub(m, a[i], gelu16_lookup(m, 6, k[i]));
	for (int i = 0; i < n; i++)
		h[i] = gelu16_lookup(m, 0, k[i]);
	for (int r = 1; r < 6; r++)
		for (int i = 0; i < n; i++)
			h[i] = fma_(m, h[i], u[i], gelu16_lookup(m, r, k[i]));
	for (int i = 0; i < n; i++) {
		LLVMValueRef b = gelu16_base(m, x[i]);
		LLVMValueRef fv2[3] = { neg(m, a[i]), h[i], b };
		x[i] = sel(m, in[i], intrin(m, "llvm.fma", fv2, 3), b);
	}
}

/* ---- f32 exp on AVX-512 in 16 pieces ---------------------------------------- */

/* 2^(j/16), j = 0..15, rounded to float (relative error <= 0.8 2^-24) */
static const double exp16_tab_f32[16] = {
	1.0, 1.0442737340927124, 1.0905077457427979, 1.1387885808944702,
	1.1892070770263672, 1.2418577671051025, 1.2968395948410034, 1.3542555570602417,
	1.4142135381698608, 1.4768261909484863, 1.5422108173370361, 1.610490322113037,
	1.6817928552627563, 1.7562521696090698, 1.8340080976486206, 1.9152065515518188,
};

/* Near-minimax 1 + r + C2 r^2 + C3 r^3 for exp(r), |r| <= 0.0217 (relative
 * error 1.6e-9 = 0.027 2^-24 with these float coefficients; scratch fit by
 * reweighted least squares, mpmath). */
#define EXP16_C2 0.5000162720680237
#define EXP16_C3 0.16666853427886963

static LLVMValueRef fma_exact(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMValueRef v[3] = { a, b, c };
	return intrin(m, "llvm.fma", v, 3);
}

/* exp(x) in float for AVX-512 code: x = n ln2/16 + r, n = rne(16x/ln2)
 * (one FMA adding 1.5 2^23: s's low mantissa bits are n, so j = n mod 16
 * needs no conversion), kq = n/16 (exact), r = (x - kq ln2hi) - kq ln2lo
 * (two FMAs, the first exact), exp(x) = 2^floor(kq) T[j] exp(r) with T =
 * exp16_tab_f32 (vpermps indexed by s's bits; a table load of j elsewhere)
 * and exp(r) = 1 + q, q = r + r^2 (C2 + C3 r): y = fma(T, q, T) in
 * [0.97, 1.96], scaled by vscalefps (which takes floor(kq)), or in two
 * steps by floor(kq) = (bits(s) - bits(1.5 2^23)) >> 4 elsewhere: one
 * rounding into subnormals, inf above.  x is clamped to [-105, 89] first
 * (-inf -> 0, inf -> inf; NaN passes through to a NaN result); nonpos
 * (x <= 0 or NaN only) drops the upper clamp.  Error: T's rounding (<=
 * 0.45 ulp of y), y's rounding (0.5), the polynomial's (0.03) and r's
 * (~0.05): within 1.1 ulp (test_mathfn test_exp16).  12 vector
 * instructions per 16 outputs (11 for nonpos; objdump): 2 clamps, s, kq,
 * 2 FMAs for r, vpermps, 3 FMAs and a product for y, vscalefps. */
static LLVMValueRef exp16_f32(M *m, LLVMValueRef x, bool nonpos)
{
	double hi, lo;
	ln2_split(m, &hi, &lo);
	const double magic = 1.5 * ldexp(1.0, 23);
	LLVMValueRef xc = sel(m, lt(m, x, K(m, -105.0)), K(m, -105.0), x);
	if (!nonpos)
		xc = sel(m, gt(m, xc, K(m, 89.0)), K(m, 89.0), xc);
	LLVMValueRef s = fma_exact(m, xc, K(m, 16.0 / 0.69314718055994531), K(m, magic));
	LLVMValueRef kq = fma_exact(m, s, K(m, 1.0 / 16.0), K(m, -magic / 16.0));
	LLVMValueRef rh = fma_exact(m, neg(m, kq), K(m, hi), xc);   /* exact */
	LLVMValueRef r = fma_exact(m, neg(m, kq), K(m, lo), rh);
	bool vperm = zmm_f32(m);
	LLVMValueRef sb = tobits(m, s);
	LLVMValueRef j = vperm ? sb : LLVMBuildAnd(m->b, sb, KI(m, 15), "");
	LLVMValueRef t = piece_lookup_n(m, "onnxcc_math_exp16_tab", exp16_tab_f32, 16, 1, 0, j);
	LLVMValueRef p = fma_exact(m, K(m, EXP16_C3), r, K(m, EXP16_C2));
	LLVMValueRef q = fma_exact(m, p, mul(m, r, r), r);
	LLVMValueRef y = fma_exact(m, t, q, t);
	if (vperm)
		return scalef_ps(m, y, kq);
	LLVMValueRef mb = tobits(m, K(m, magic));
	return scale2(m, y, LLVMBuildAShr(m->b, LLVMBuildSub(m->b, sb, mb, ""), KI(m, 4), ""));
}

/* exp's helper body: exp16_f32 in f32 AVX-512 code, else exp_core. */
static LLVMValueRef exp_top(M *m, LLVMValueRef x)
{
	if (!m->dbl && table16_isa(m->cg))
		return exp16_f32(m, x, false);
	return exp_core(m, x);
}

/* f64: 0.5x(1 + erf(x/sqrt2)) */
static LLVMValueRef gelu_f64(M *m, LLVMValueRef x)
{
	LLVMValueRef e = erf_f64(m, mul(m, x, K(m, 0.70710678118654752440)));
	return mul(m, mul(m, K(m, 0.5), x), add(m, K(m, 1.0), e));
}

static LLVMValueRef tanh_f32(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x), one = K(m, 1.0);
	LLVMValueRef z = mul(m, x, x);
	LLVMValueRef small = fma_(m, x, mul(m, z, horner(m, z, tanh_small_f32, 6)), x);
	/* tanh(9.5) rounds to 1 */
	LLVMValueRef ac = sel(m, lt(m, a, K(m, 9.5)), a, K(m, 9.5));
	/* u = 2/(e+1), e = exp(2|x|) = 2^k (1 + rq), k in [2, 28]:
	 * e + 1 = (2^k + 1) + 2^k rq = d + dl exactly (Fast2Sum), then one
	 * correction of 2/d with the residual 2 - u(d+dl) (two_prod) */
	LLVMValueRef k;
	LLVMValueRef rq = exp_rq_f32(m, add(m, ac, ac), K(m, 0.0), &k);
	LLVMValueRef s = pow2i(m, k);
	LLVMValueRef s1 = add(m, s, one);
	LLVMValueRef srq = mul(m, s, rq);
	LLVMValueRef d = add(m, s1, srq);
	LLVMValueRef dl = sub(m, srq, sub(m, d, s1));
	LLVMValueRef u = fdiv(m, K(m, 2.0), d);
	LLVMValueRef upe;
	LLVMValueRef up = two_prod(m, u, d, &upe);
	LLVMValueRef res = sub(m, sub(m, sub(m, K(m, 2.0), up), upe), mul(m, u, dl));
	u = fma_(m, res, mul(m, u, K(m, 0.5)), u);
	LLVMValueRef big = copysign_(m, sub(m, one, u), x);
	LLVMValueRef r = sel(m, gt(m, a, K(m, 0.55)), big, small);
	return sel(m, isnan_(m, x), x, r);
}

/* sigmoid in float: e = exp(-|x|) = 2^k exp(r); u = 1/(1+e) with
 * 1 + e = dh + dl to ~2^-40 (k clamped at -100: below, e only rounds
 * 1+e away) and one residual correction; x >= 0: u, x < 0: e u =
 * 2^k u exp(r) (mul_exp_f32). */
static LLVMValueRef sigmoid_f32(M *m, LLVMValueRef x)
{
	LLVMValueRef one = K(m, 1.0);
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef ac = sel(m, lt(m, a, K(m, 104.0)), a, K(m, 104.0));
	LLVMValueRef k, rl;
	LLVMValueRef r = exp_reduce_f32(m, neg(m, ac), K(m, 0.0), &rl, &k);
	LLVMValueRef t2 = exp_t2_f32(m, r, rl);
	/* 1 + e = (1 + sc) + sc r + sc t2 (sc r, sc t2 exact) = dh + dl,
	 * three Fast2Sums (each first operand >= 1 > the second) */
	LLVMValueRef kc = LLVMBuildSelect(m->b, LLVMBuildICmp(m->b, LLVMIntSLT, k, KI(m, -100), ""), KI(m, -100), k, "");
	LLVMValueRef sc = pow2i(m, kc);
	LLVMValueRef s1 = add(m, one, sc);
	LLVMValueRef s1l = sub(m, sc, sub(m, s1, one));
	LLVMValueRef sr = mul(m, sc, r);
	LLVMValueRef d1 = add(m, s1, sr);
	LLVMValueRef d1l = sub(m, sr, sub(m, d1, s1));
	LLVMValueRef st = mul(m, sc, t2);
	LLVMValueRef dh = add(m, d1, st);
	LLVMValueRef dl = add(m, add(m, sub(m, st, sub(m, dh, d1)), d1l), s1l);
	LLVMValueRef u = fdiv(m, one, dh);
	LLVMValueRef upe;
	LLVMValueRef up = two_prod(m, u, dh, &upe);
	LLVMValueRef res = sub(m, sub(m, sub(m, one, up), upe), mul(m, u, dl));
	LLVMValueRef ul = mul(m, res, u);
	LLVMValueRef pos = add(m, u, ul);
	LLVMValueRef negv = scale2(m, mul_exp_f32(m, u, ul, r, t2), k);
	LLVMValueRef y = sel(m, lt(m, x, K(m, 0.0)), negv, pos);
	return sel(m, isnan_(m, x), x, y);
}

static LLVMValueRef sigmoid_core(M *m, LLVMValueRef x) { return m->dbl ? sigmoid_f64(m, x) : sigmoid_f32(m, x); }
static LLVMValueRef erf_core(M *m, LLVMValueRef x) { return m->dbl ? erf_f64(m, x) : erf_f32(m, x); }
static LLVMValueRef erfc_core(M *m, LLVMValueRef x) { return m->dbl ? erfc_f64(m, x) : erfc_f32(m, x); }
static LLVMValueRef gelu_core(M *m, LLVMValueRef x)
{
	return m->dbl ? gelu_f64(m, x) : table16_isa(m->cg) ? gelu16_f32(m, x) : gelu_f32(m, x);
}
static LLVMValueRef tanh_core(M *m, LLVMValueRef x) { return m->dbl ? tanh_f64(m, x) : tanh_f32(m, x); }

/* ---- trigonometry (double compute) -------------------------------------------- */

/* sin(r), cos(r) for |r| <= pi/4 */
static LLVMValueRef sin_poly(M *m, LLVMValueRef r)
{
	/* r + r*z*(-1/3! + z/5! - ...) */
	int nt = m->p32 ? 4 : 8;        /* up to r^9 / r^17 */
	double c[12];
	for (int i = 0; i < nt; i++) {
		int k = 2 * (nt - i) + 1;
		double f = 1.0;
		for (int j = 2; j <= k; j++)
			f *= j;
		c[i] = (((nt - i) & 1) ? -1.0 : 1.0) / f;
	}
	LLVMValueRef z = mul(m, r, r);
	return fma_(m, mul(m, r, z), horner(m, z, c, nt), r);
}

static LLVMValueRef cos_poly(M *m, LLVMValueRef r)
{
	int nt = m->p32 ? 6 : 10;       /* up to r^12 / r^20 (incl. the 1) */
	double c[12];
	for (int i = 0; i < nt; i++) {
		int k = 2 * (nt - 1 - i);
		double f = 1.0;
		for (int j = 2; j <= k; j++)
			f *= j;
		c[i] = (((nt - 1 - i) & 1) ? -1.0 : 1.0) / f;
	}
	return horner(m, mul(m, r, r), c, nt);
}

/* 4/pi in binary, 8 new bits per entry: entry j holds the 32 bits of the
 * fraction that end at bit 8(j+1) (the table of ARM's optimized-routines
 * sinf/cosf, "__inv_pio4"). */
static const uint32_t inv_pio4[24] = {
	0xa2,       0xa2f9,     0xa2f983,   0xa2f9836e,
	0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
	0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
	0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
	0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
};

/* inv_pio4[idx] for idx (i32 lanes, each in [0, 23]): a load from an
 * internal constant table (a masked gather for vectors). */
static LLVMValueRef inv_pio4_word(M *m, LLVMValueRef idx)
{
	Cg *cg = m->cg;
	LLVMTypeRef i32 = LLVMInt32TypeInContext(cg->ctx);
	LLVMTypeRef at = LLVMArrayType2(i32, 24);
	const char *name = "onnxcc_math_inv_pio4";
	LLVMValueRef g = LLVMGetNamedGlobal(cg->mod, name);
	if (!g) {
		LLVMValueRef el[24];
		for (int i = 0; i < 24; i++)
			el[i] = LLVMConstInt(i32, inv_pio4[i], 0);
		g = LLVMAddGlobal(cg->mod, at, name);
		LLVMSetInitializer(g, LLVMConstArray2(i32, el, 24));
		LLVMSetGlobalConstant(g, 1);
		LLVMSetLinkage(g, LLVMInternalLinkage);
		LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	}
	return table_i32(m, g, at, idx);
}

/* |x| = n*pi/2 + r for an f32 argument held in double (m->dbl, m->p32),
 * a = |x| >= 2 and finite (other lanes give garbage, never a stray load):
 * returns r (|r| <= pi/4), *n (i64, 0..3) the quadrant mod 4.  The
 * 24-bit mantissa times the 96 bits of 4/pi its exponent needs, in 64-bit
 * fixed point (ARM optimized-routines' reduce_large): n the top two bits,
 * the fraction signed with 62 bits, enough for every float (their
 * exhaustive test).  The fraction goes to double through two 32-bit
 * halves, so 32-bit targets need no 64-bit conversion helper. */
static LLVMValueRef trig_reduce_big_f32(M *m, LLVMValueRef a, LLVMValueRef *n)
{
	LLVMBuilderRef b = m->b;
	LLVMTypeRef t32 = i32_of(m), t64 = m->ti;
	LLVMTypeRef tf = lanes_of(LLVMFloatTypeInContext(m->cg->ctx), m->w);
#define C32(v) splat_const(LLVMConstInt(LLVMInt32TypeInContext(m->cg->ctx), (v), 0), m->w)
	LLVMValueRef xi = LLVMBuildBitCast(b, LLVMBuildFPTrunc(b, a, tf, ""), t32, "");
	LLVMValueRef idx = LLVMBuildAnd(b, LLVMBuildLShr(b, xi, C32(26), ""), C32(15), "");
	LLVMValueRef shift = LLVMBuildAnd(b, LLVMBuildLShr(b, xi, C32(23), ""), C32(7), "");
	LLVMValueRef mant = LLVMBuildOr(b, LLVMBuildAnd(b, xi, C32(0xffffff), ""), C32(0x800000), "");
	mant = LLVMBuildShl(b, mant, shift, "");
	LLVMValueRef w0 = inv_pio4_word(m, idx);
	LLVMValueRef w4 = inv_pio4_word(m, LLVMBuildAdd(b, idx, C32(4), ""));
	LLVMValueRef w8 = inv_pio4_word(m, LLVMBuildAdd(b, idx, C32(8), ""));
#undef C32
	LLVMValueRef m64 = LLVMBuildZExt(b, mant, t64, "");
	LLVMValueRef r0 = LLVMBuildZExt(b, LLVMBuildMul(b, mant, w0, ""), t64, "");
	LLVMValueRef r1 = LLVMBuildMul(b, m64, LLVMBuildZExt(b, w4, t64, ""), "");
	LLVMValueRef r2 = LLVMBuildMul(b, m64, LLVMBuildZExt(b, w8, t64, ""), "");
	LLVMValueRef r = LLVMBuildOr(b, LLVMBuildLShr(b, r2, KI(m, 32), ""), LLVMBuildShl(b, r0, KI(m, 32), ""), "");
	r = LLVMBuildAdd(b, r, r1, "");
	*n = LLVMBuildLShr(b, LLVMBuildAdd(b, r, KI(m, 1LL << 61), ""), KI(m, 62), "");
	r = LLVMBuildSub(b, r, LLVMBuildShl(b, *n, KI(m, 62), ""), "");
	LLVMValueRef hi = LLVMBuildTrunc(b, LLVMBuildAShr(b, r, KI(m, 32), ""), t32, "");
	LLVMValueRef lo = LLVMBuildTrunc(b, r, t32, "");
	LLVMValueRef v = add(m, mul(m, LLVMBuildSIToFP(b, hi, m->t, ""), K(m, 0x1p32)),
	                     LLVMBuildUIToFP(b, lo, m->t, ""));
	return mul(m, v, K(m, 0x1.921FB54442D18p-62));   /* pi/2 * 2^-62 */
}

/* x = q*pi/2 + r; returns r, *q (i64) the quadrant count (mod 4 is what
 * counts).  f32 arguments (in double): Cody-Waite with pi/2 in three parts
 * (33-bit leading parts, q*part exact) for |x| < 2^20, trig_reduce_big_f32
 * above; *ok is false for inf and NaN only.  f64: Cody-Waite for
 * |x| < 2^50, *ok false beyond (NaN). */
static LLVMValueRef trig_reduce(M *m, LLVMValueRef x, LLVMValueRef *q, LLVMValueRef *ok)
{
	bool f32 = m->dbl && m->p32;
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef fast = lt(m, a, K(m, ldexp(1.0, f32 ? 20 : 50)));
	*ok = f32 ? lt(m, a, K(m, INFINITY)) : fast;
	LLVMValueRef xs = sel(m, fast, x, K(m, 0.0));
	LLVMValueRef qf = rne_small(m, mul(m, xs, K(m, 0.6366197723675814)));
	LLVMValueRef r = sub(m, xs, mul(m, qf, K(m, 1.5707963267341256)));
	r = sub(m, r, mul(m, qf, K(m, 6.077100506303966e-11)));
	r = sub(m, r, mul(m, qf, K(m, 2.0222662487959506e-21)));
	if (!f32) {
		*q = LLVMBuildFPToSI(m->b, qf, m->ti, "");
		return r;
	}
	*q = fptosi_small(m, qf);
	LLVMValueRef n;
	LLVMValueRef rb = trig_reduce_big_f32(m, a, &n);
	/* x < 0: x = -n pi/2 - r */
	LLVMValueRef neg_x = lt(m, x, K(m, 0.0));
	rb = sel(m, neg_x, neg(m, rb), rb);
	n = LLVMBuildSelect(m->b, neg_x, LLVMBuildNeg(m->b, n, ""), n, "");
	*q = LLVMBuildSelect(m->b, fast, *q, n, "");
	return sel(m, fast, r, rb);
}

/* which: 0 sin, 1 cos, 2 tan */
static LLVMValueRef trig_core(M *m, LLVMValueRef x, int which)
{
	LLVMValueRef q, ok;
	LLVMValueRef r = trig_reduce(m, x, &q, &ok);
	LLVMValueRef s = sin_poly(m, r), c = cos_poly(m, r);
	LLVMValueRef res;
	if (which == 2) {
		LLVMValueRef odd = LLVMBuildTrunc(m->b, q, m->t1, "");
		res = sel(m, odd, fdiv(m, neg(m, c), s), fdiv(m, s, c));
	} else {
		if (which == 1)
			q = LLVMBuildAdd(m->b, q, KI(m, 1), "");
		LLVMValueRef qq = LLVMBuildAnd(m->b, q, KI(m, 3), "");
		LLVMValueRef use_c = LLVMBuildTrunc(m->b, qq, m->t1, "");
		LLVMValueRef negate = LLVMBuildICmp(m->b, LLVMIntUGE, qq, KI(m, 2), "");
		res = sel(m, use_c, c, s);
		res = sel(m, negate, neg(m, res), res);
	}
	/* sin(-0) = -0 */
	if (which != 1)
		res = sel(m, feq(m, x, K(m, 0.0)), x, res);
	return sel(m, ok, res, K(m, NAN));
}

/* atan for double emitters. */
static LLVMValueRef atan_core(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef inv = gt(m, a, K(m, 1.0));
	LLVMValueRef b = sel(m, inv, fdiv(m, K(m, 1.0), a), a);
	LLVMValueRef red = gt(m, b, K(m, 0.2679491924311227));
	LLVMValueRef s3 = K(m, 1.7320508075688772);
	LLVMValueRef cr = fdiv(m, fma_(m, b, s3, K(m, -1.0)), add(m, b, s3));
	LLVMValueRef c = sel(m, red, cr, b);
	int nt = m->p32 ? 8 : 16;
	double co[16];
	for (int i = 0; i < nt; i++) {
		int k = nt - 1 - i;
		co[i] = ((k & 1) ? -1.0 : 1.0) / (2 * k + 1);
	}
	LLVMValueRef z = mul(m, c, c);
	LLVMValueRef p = mul(m, c, horner(m, z, co, nt));
	p = sel(m, red, add(m, K(m, 0.5235987755982989), p), p);
	LLVMValueRef pinv = add(m, sub(m, K(m, 1.5707963267948966), p), K(m, 6.123233995736766e-17));
	p = sel(m, inv, pinv, p);
	p = copysign_(m, p, x);
	return sel(m, isnan_(m, x), x, p);
}

static LLVMValueRef asin_core(M *m, LLVMValueRef x)
{
	LLVMValueRef a = fabs_(m, x);
	LLVMValueRef one = K(m, 1.0);
	LLVMValueRef sq = mul(m, sub(m, one, a), add(m, one, a));
	LLVMValueRef s = intrin(m, "llvm.sqrt", &sq, 1);
	LLVMValueRef r = atan_core(m, fdiv(m, a, s));
	r = sel(m, gt(m, a, one), K(m, NAN), r);
	r = copysign_(m, r, x);
	return sel(m, isnan_(m, x), x, r);
}

static LLVMValueRef acos_core(M *m, LLVMValueRef x)
{
	LLVMValueRef one = K(m, 1.0);
	LLVMValueRef q = fdiv(m, sub(m, one, x), add(m, one, x));
	LLVMValueRef s = intrin(m, "llvm.sqrt", &q, 1);
	LLVMValueRef r = mul(m, K(m, 2.0), atan_core(m, s));
	r = sel(m, gt(m, fabs_(m, x), one), K(m, NAN), r);
	return sel(m, isnan_(m, x), x, r);
}

/* ---- pow (double compute) ----------------------------------------------------- */

static LLVMValueRef pow_core(M *m, LLVMValueRef x, LLVMValueRef y)
{
	LLVMValueRef one = K(m, 1.0), zero = K(m, 0.0);
	LLVMValueRef ax = fabs_(m, x);
	LLVMValueRef e = exp_core(m, mul(m, y, log_core(m, ax)));
	LLVMValueRef yint = feq(m, floor_(m, y), y);
	LLVMValueRef hy = mul(m, y, K(m, 0.5));
	LLVMValueRef yodd = band(m, yint, fcmp(m, LLVMRealUNE, floor_(m, hy), hy));
	LLVMValueRef xneg = LLVMBuildICmp(m->b, LLVMIntSLT, tobits(m, x), KI(m, 0), "");
	LLVMValueRef r = sel(m, band(m, xneg, yodd), neg(m, e), e);
	LLVMValueRef nanc = band(m, band(m, lt(m, x, zero), gt(m, x, K(m, -INFINITY))), bnot(m, yint));
	r = sel(m, nanc, K(m, NAN), r);
	LLVMValueRef one_case = feq(m, x, one);
	one_case = LLVMBuildOr(m->b, one_case, feq(m, y, zero), "");
	one_case = LLVMBuildOr(m->b, one_case,
		band(m, feq(m, x, K(m, -1.0)), feq(m, fabs_(m, y), K(m, INFINITY))), "");
	return sel(m, one_case, one, r);
}

/* ---- fmod (exact, integer long division; has a loop) --------------------- */

static LLVMValueRef fmod_core(M *m, LLVMValueRef x, LLVMValueRef y)
{
	LLVMBuilderRef b = m->b;
	LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(b));
	LLVMContextRef ctx = m->cg->ctx;
	int W = m->dbl ? 64 : 32;
	long long implicit = 1LL << m->mbits;
	long long mmask = implicit - 1;
	LLVMValueRef ax = fabs_(m, x), ay = fabs_(m, y);
	/* special: y == 0, x inf, NaNs -> NaN; |x| < |y| -> x */
	LLVMValueRef isn = LLVMBuildOr(b, feq(m, y, K(m, 0.0)), feq(m, ax, K(m, INFINITY)), "");
	isn = LLVMBuildOr(b, isn, fcmp(m, LLVMRealUNO, x, y), "");
	LLVMValueRef small = lt(m, ax, ay);
	LLVMValueRef special = LLVMBuildOr(b, isn, small, "");
	LLVMValueRef special_val = sel(m, isn, K(m, NAN), x);
	/* keep the integer part away from garbage */
	LLVMValueRef ux = tobits(m, sel(m, special, K(m, 2.0), ax));
	LLVMValueRef uy = tobits(m, sel(m, special, K(m, 1.0), ay));
	LLVMTypeRef ti = m->ti;
	LLVMValueRef ctlz_args[2];
	/* normalise mantissas to have the implicit bit at position mbits */
	LLVMValueRef mx = NULL, my = NULL, ex = NULL, ey = NULL;
	for (int which = 0; which < 2; which++) {
		LLVMValueRef u = which ? uy : ux;
		LLVMValueRef e = LLVMBuildLShr(b, u, KI(m, m->mbits), "");
		LLVMValueRef mt = LLVMBuildAnd(b, u, KI(m, mmask), "");
		LLVMValueRef sub = LLVMBuildICmp(b, LLVMIntEQ, e, KI(m, 0), "");
		ctlz_args[0] = mt;
		ctlz_args[1] = LLVMConstInt(LLVMInt1TypeInContext(ctx), 0, 0);
		LLVMValueRef lz = intrin(m, "llvm.ctlz", ctlz_args, 2);
		LLVMValueRef sh = LLVMBuildSub(b, lz, KI(m, W - 1 - m->mbits), "");
		LLVMValueRef msub = LLVMBuildShl(b, mt, sh, "");
		LLVMValueRef esub = LLVMBuildSub(b, KI(m, 1), sh, "");
		LLVMValueRef mnorm = LLVMBuildOr(b, mt, KI(m, implicit), "");
		LLVMValueRef mm = LLVMBuildSelect(b, sub, msub, mnorm, "");
		LLVMValueRef ee = LLVMBuildSelect(b, sub, esub, e, "");
		if (which) { my = mm; ey = ee; } else { mx = mm; ex = ee; }
	}
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(ctx, fn, "fmod.head");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(ctx, fn, "fmod.body");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "fmod.done");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef pm = LLVMBuildPhi(b, ti, "mx");
	LLVMValueRef pe = LLVMBuildPhi(b, ti, "ex");
	LLVMValueRef cont = LLVMBuildICmp(b, LLVMIntSGT, pe, ey, "");
	LLVMBuildCondBr(b, cont, body, done);
	LLVMPositionBuilderAtEnd(b, body);
	LLVMValueRef d = LLVMBuildSub(b, pm, my, "");
	LLVMValueRef dnn = LLVMBuildICmp(b, LLVMIntSGE, d, KI(m, 0), "");
	LLVMValueRef nm = LLVMBuildSelect(b, dnn, d, pm, "");
	nm = LLVMBuildShl(b, nm, KI(m, 1), "");
	LLVMValueRef ne = LLVMBuildSub(b, pe, KI(m, 1), "");
	LLVMBuildBr(b, head);
	LLVMValueRef inm[2] = { mx, nm }, ine[2] = { ex, ne };
	LLVMBasicBlockRef inb[2] = { pre, body };
	LLVMAddIncoming(pm, inm, inb, 2);
	LLVMAddIncoming(pe, ine, inb, 2);
	LLVMPositionBuilderAtEnd(b, done);
	LLVMValueRef d2 = LLVMBuildSub(b, pm, my, "");
	LLVMValueRef fm = LLVMBuildSelect(b,
		LLVMBuildICmp(b, LLVMIntSGE, d2, KI(m, 0), ""), d2, pm, "");
	LLVMValueRef iszero = LLVMBuildICmp(b, LLVMIntEQ, fm, KI(m, 0), "");
	/* renormalise: fm != 0 here has its top bit at <= mbits */
	ctlz_args[0] = fm;
	ctlz_args[1] = LLVMConstInt(LLVMInt1TypeInContext(ctx), 0, 0);
	LLVMValueRef lz = intrin(m, "llvm.ctlz", ctlz_args, 2);
	LLVMValueRef sh = LLVMBuildSub(b, lz, KI(m, W - 1 - m->mbits), "");
	sh = LLVMBuildSelect(b, iszero, KI(m, 0), sh, "");
	LLVMValueRef mn = LLVMBuildShl(b, fm, sh, "");
	LLVMValueRef en = LLVMBuildSub(b, pe, sh, "");
	LLVMValueRef normal = LLVMBuildICmp(b, LLVMIntSGT, en, KI(m, 0), "");
	LLVMValueRef nbits = LLVMBuildOr(b, LLVMBuildAnd(b, mn, KI(m, mmask), ""),
		LLVMBuildShl(b, en, KI(m, m->mbits), ""), "");
	/* subnormal result: shift right by 1-en (exact: low bits are zero) */
	LLVMValueRef rs = LLVMBuildSub(b, KI(m, 1), en, "");
	rs = LLVMBuildSelect(b, normal, KI(m, 0), rs, "");
	rs = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGE, rs, KI(m, W), ""), KI(m, W - 1), rs, "");
	LLVMValueRef sbits = LLVMBuildLShr(b, mn, rs, "");
	LLVMValueRef rbits = LLVMBuildSelect(b, normal, nbits, sbits, "");
	rbits = LLVMBuildSelect(b, iszero, KI(m, 0), rbits, "");
	LLVMValueRef r = copysign_(m, frombits(m, rbits), x);
	return sel(m, special, special_val, r);
}

/* ---- function cache --------------------------------------------------------- */

enum {
	MF_EXP, MF_EXPM1, MF_LOG, MF_LOG1P, MF_ERF, MF_TANH, MF_SIN, MF_COS,
	MF_TAN, MF_ATAN, MF_ASIN, MF_ACOS, MF_POW, MF_SIGMOID, MF_FMOD, MF_ERFC,
	MF_GELU, MF__COUNT
};
_Static_assert(2 * MF__COUNT <= (int)(sizeof(((Cg *)0)->math_fns) / sizeof(LLVMValueRef)),
	"math_fns cache too small");

typedef LLVMValueRef (*Core1)(M *m, LLVMValueRef x);
typedef LLVMValueRef (*Core2)(M *m, LLVMValueRef x, LLVMValueRef y);

static const struct {
	const char *name;
	Core1 f1;
	Core2 f2;
	bool via_double;    /* f32 computed in double */
} mf_table[MF__COUNT] = {
	[MF_EXP] = { "exp", exp_top, NULL, false },
	[MF_EXPM1] = { "expm1", expm1_core, NULL, false },
	[MF_LOG] = { "log", log_core, NULL, false },
	[MF_LOG1P] = { "log1p", log1p_core, NULL, true },
	[MF_ERF] = { "erf", erf_core, NULL, false },
	[MF_TANH] = { "tanh", tanh_core, NULL, false },
	[MF_SIN] = { "sin", NULL, NULL, true },
	[MF_COS] = { "cos", NULL, NULL, true },
	[MF_TAN] = { "tan", NULL, NULL, true },
	[MF_ATAN] = { "atan", atan_core, NULL, true },
	[MF_ASIN] = { "asin", asin_core, NULL, true },
	[MF_ACOS] = { "acos", acos_core, NULL, true },
	[MF_POW] = { "pow", NULL, pow_core, true },
	[MF_SIGMOID] = { "sigmoid", sigmoid_core, NULL, false },
	[MF_FMOD] = { "fmod", NULL, fmod_core, false },
	[MF_ERFC] = { "erfc", erfc_core, NULL, false },
	[MF_GELU] = { "gelu", gelu_core, NULL, false },
};

static LLVMValueRef sin_core(M *m, LLVMValueRef x) { return trig_core(m, x, 0); }
static LLVMValueRef cos_core(M *m, LLVMValueRef x) { return trig_core(m, x, 1); }
static LLVMValueRef tan_core(M *m, LLVMValueRef x) { return trig_core(m, x, 2); }

static Core1 core1_of(int id)
{
	switch (id) {
	case MF_SIN: return sin_core;
	case MF_COS: return cos_core;
	case MF_TAN: return tan_core;
	default: return mf_table[id].f1;
	}
}

/* The element type of t (a scalar or a vector) is double; *w gets the lanes. */
static bool is_double(LLVMTypeRef t, int *w)
{
	*w = 1;
	if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) {
		*w = (int)LLVMGetVectorSize(t);
		t = LLVMGetElementType(t);
	}
	LLVMTypeKind k = LLVMGetTypeKind(t);
	assert(k == LLVMFloatTypeKind || k == LLVMDoubleTypeKind);
	return k == LLVMDoubleTypeKind;
}

static void add_fn_attr(Cg *cg, LLVMValueRef fn, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	assert(kind != 0);
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

/* Returns (creating on first use in cg->mod) the helper function id for
 * w lanes of float or double ("onnxcc_math_exp_f32", "..._v16f32",
 * "..._erf_v16f32_fma" for a body built for fused fmuladd). */
static LLVMValueRef get_fn(Cg *cg, int id, bool dbl, int w, LLVMTypeRef *fty)
{
	int nargs = mf_table[id].f2 ? 2 : 1;
	LLVMTypeRef t = lanes_of(dbl ? LLVMDoubleTypeInContext(cg->ctx) : LLVMFloatTypeInContext(cg->ctx), w);
	LLVMTypeRef params[2] = { t, t };
	*fty = LLVMFunctionType(t, params, (unsigned)nargs, 0);
	int slot = 2 * id + (dbl ? 1 : 0);
	char name[64], lanes[16] = "";
	assert(w == 1 || id != MF_FMOD);   /* fmod loops per element */
	if (w > 1)
		snprintf(lanes, sizeof lanes, "v%d", w);
	/* the f32 float-arithmetic bodies depend on cg->isa.fma (two_prod):
	 * one helper per setting, should a module mix target machines */
	bool fma_dep = !dbl && cg->isa.fma && !mf_table[id].via_double &&
		(id == MF_ERF || id == MF_ERFC || id == MF_TANH || id == MF_SIGMOID || id == MF_GELU);
	/* f32 bodies on AVX2/AVX-512 vectors of any width may use their
	 * instructions (table rows: vpermps, permute_lanes; scale2:
	 * vscalefps): one helper per ISA, built with its features (inlined
	 * only into that ISA's functions, whose features include them) */
	bool vec_isa = w > 1 && cg->isa.name && (!strcmp(cg->isa.name, "avx512") || !strcmp(cg->isa.name, "avx2"));
	bool isa_dep = !dbl && !mf_table[id].via_double &&
		(vec_isa || ((id == MF_GELU || id == MF_EXP) && table16_isa(cg)));
	snprintf(name, sizeof name, "onnxcc_math_%s_%s%s%s%s%s", mf_table[id].name, lanes,
		dbl ? "f64" : "f32", fma_dep ? "_fma" : "", isa_dep ? "_" : "", isa_dep ? cg->isa.name : "");
	/* The cache (scalars only) is trusted only when it matches cg->mod's
	 * own symbol, so a Cg reused for a new module never touches a stale
	 * function. */
	LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
	if (fn && (w > 1 || fn == cg->math_fns[slot]))
		return fn;
	if (!fn) {
		fn = LLVMAddFunction(cg->mod, name, *fty);
		LLVMSetLinkage(fn, LLVMInternalLinkage);
		add_fn_attr(cg, fn, "alwaysinline");
		add_fn_attr(cg, fn, "nounwind");
		if (isa_dep && cg->isa.features) {
			const char *k = "target-features";
			LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
				LLVMCreateStringAttribute(cg->ctx, k, (unsigned)strlen(k), cg->isa.features,
				                          (unsigned)strlen(cg->isa.features)));
		}
		if (id != MF_FMOD)
			add_fn_attr(cg, fn, "willreturn");
		LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
		LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
		LLVMPositionBuilderAtEnd(b, bb);
		bool widen = !dbl && mf_table[id].via_double;
		M m;
		m_init(&m, cg, b, dbl || widen, !dbl, w);
		LLVMValueRef a[2];
		for (int i = 0; i < nargs; i++) {
			a[i] = LLVMGetParam(fn, (unsigned)i);
			if (widen)
				a[i] = LLVMBuildFPExt(b, a[i], m.t, "");
		}
		LLVMValueRef r = nargs == 2 ? mf_table[id].f2(&m, a[0], a[1]) : core1_of(id)(&m, a[0]);
		if (widen)
			r = LLVMBuildFPTrunc(b, r, t, "");
		LLVMBuildRet(b, r);
		LLVMDisposeBuilder(b);
	}
	if (w == 1)
		cg->math_fns[slot] = fn;
	return fn;
}

static LLVMValueRef call1(Cg *cg, int id, LLVMValueRef x)
{
	LLVMTypeRef fty;
	int w;
	bool dbl = is_double(LLVMTypeOf(x), &w);
	LLVMValueRef fn = get_fn(cg, id, dbl, w, &fty);
	return LLVMBuildCall2(cg->b, fty, fn, &x, 1, "");
}

static LLVMValueRef call2(Cg *cg, int id, LLVMValueRef x, LLVMValueRef y)
{
	assert(LLVMTypeOf(x) == LLVMTypeOf(y));
	LLVMTypeRef fty;
	int w;
	bool dbl = is_double(LLVMTypeOf(x), &w);
	LLVMValueRef fn = get_fn(cg, id, dbl, w, &fty);
	LLVMValueRef a[2] = { x, y };
	return LLVMBuildCall2(cg->b, fty, fn, a, 2, "");
}

/* An emitter on cg->b for inline (non-function) helpers. */
static M inline_m(Cg *cg, LLVMValueRef x)
{
	M m;
	int w;
	bool dbl = is_double(LLVMTypeOf(x), &w);
	m_init(&m, cg, cg->b, dbl, !dbl, w);
	return m;
}

/* ---- public entry points: see mathfn.h ---------------------------------------- */

LLVMValueRef cg_math_helper(Cg *cg, const char *name, bool dbl)
{
	for (int id = 0; id < MF__COUNT; id++)
		if (!strcmp(mf_table[id].name, name)) {
			LLVMTypeRef fty;
			return get_fn(cg, id, dbl, 1, &fty);
		}
	return NULL;
}

LLVMValueRef cg_math_exp(Cg *cg, LLVMValueRef x) { return call1(cg, MF_EXP, x); }

/* exp(x) for f32 x <= 0 or NaN (softmax numerators: a score minus its
 * row's maximum), the same bits as cg_math_exp for those inputs.  On
 * 16-lane AVX-512 code exp16_f32 inline without the upper clamp (11
 * vector operations); elsewhere cg_math_exp itself. */
LLVMValueRef cg_math_exp_nonpos(Cg *cg, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x);
	if (LLVMGetTypeKind(t) != LLVMVectorTypeKind || LLVMGetElementType(t) != LLVMFloatTypeInContext(cg->ctx) ||
	    !scalef_isa(cg, (int)LLVMGetVectorSize(t)) || !table16_isa(cg))
		return cg_math_exp(cg, x);
	M mm;
	m_init(&mm, cg, cg->b, false, true, (int)LLVMGetVectorSize(t));
	return exp16_f32(&mm, x, true);
}
LLVMValueRef cg_math_expm1(Cg *cg, LLVMValueRef x) { return call1(cg, MF_EXPM1, x); }
LLVMValueRef cg_math_log(Cg *cg, LLVMValueRef x) { return call1(cg, MF_LOG, x); }
LLVMValueRef cg_math_log1p(Cg *cg, LLVMValueRef x) { return call1(cg, MF_LOG1P, x); }
LLVMValueRef cg_math_erf(Cg *cg, LLVMValueRef x) { return call1(cg, MF_ERF, x); }
LLVMValueRef cg_math_erfc(Cg *cg, LLVMValueRef x) { return call1(cg, MF_ERFC, x); }
LLVMValueRef cg_math_gelu(Cg *cg, LLVMValueRef x) { return call1(cg, MF_GELU, x); }

void cg_math_gelu_n(Cg *cg, LLVMValueRef *x, int n)
{
	M m = inline_m(cg, x[0]);
	if (!m.dbl && table16_isa(cg) && n > 1 && n <= 8) {
		gelu16_f32_n(&m, x, n);
		return;
	}
	for (int i = 0; i < n; i++)
		x[i] = cg_math_gelu(cg, x[i]);
}
LLVMValueRef cg_math_tanh(Cg *cg, LLVMValueRef x) { return call1(cg, MF_TANH, x); }
LLVMValueRef cg_math_sin(Cg *cg, LLVMValueRef x) { return call1(cg, MF_SIN, x); }
LLVMValueRef cg_math_cos(Cg *cg, LLVMValueRef x) { return call1(cg, MF_COS, x); }
LLVMValueRef cg_math_tan(Cg *cg, LLVMValueRef x) { return call1(cg, MF_TAN, x); }
LLVMValueRef cg_math_atan(Cg *cg, LLVMValueRef x) { return call1(cg, MF_ATAN, x); }
LLVMValueRef cg_math_asin(Cg *cg, LLVMValueRef x) { return call1(cg, MF_ASIN, x); }
LLVMValueRef cg_math_acos(Cg *cg, LLVMValueRef x) { return call1(cg, MF_ACOS, x); }
LLVMValueRef cg_math_sigmoid(Cg *cg, LLVMValueRef x) { return call1(cg, MF_SIGMOID, x); }
LLVMValueRef cg_math_pow(Cg *cg, LLVMValueRef x, LLVMValueRef y) { return call2(cg, MF_POW, x, y); }
LLVMValueRef cg_math_fmod(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return call2(cg, MF_FMOD, a, b); }

LLVMValueRef cg_math_sqrt(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return intrin(&m, "llvm.sqrt", &x, 1);
}

LLVMValueRef cg_math_fabs(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return fabs_(&m, x);
}

LLVMValueRef cg_math_floor(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return floor_(&m, x);
}

LLVMValueRef cg_math_ceil(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return ceil_(&m, x);
}

LLVMValueRef cg_math_round_even(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return rne_full(&m, x);
}

LLVMValueRef cg_math_trunc(Cg *cg, LLVMValueRef x)
{
	M m = inline_m(cg, x);
	return copysign_(&m, floor_(&m, fabs_(&m, x)), x);
}

LLVMValueRef cg_math_copysign(Cg *cg, LLVMValueRef mag, LLVMValueRef sgn)
{
	M m = inline_m(cg, mag);
	return copysign_(&m, mag, sgn);
}

LLVMValueRef cg_math_fmin(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	M m = inline_m(cg, a);
	LLVMValueRef r = sel(&m, lt(&m, a, b), a, b);
	return sel(&m, fcmp(&m, LLVMRealUNO, a, b), add(&m, a, b), r);
}

LLVMValueRef cg_math_fmax(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	M m = inline_m(cg, a);
	LLVMValueRef r = sel(&m, gt(&m, a, b), a, b);
	return sel(&m, fcmp(&m, LLVMRealUNO, a, b), add(&m, a, b), r);
}

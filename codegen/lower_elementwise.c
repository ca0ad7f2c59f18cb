/* codegen/lower_elementwise.c — elementwise ops with numpy broadcasting.
 *
 * Every op here is "out[i] = f(in0[b0(i)], in1[b1(i)], ...)": one loop nest
 * over the output shape, each operand addressed with its broadcast strides
 * (stride 0 on broadcast dims), f applied on compute types (cg.h: f16/bf16
 * as float, bool as i1).  Before the nest is built, output dims of size 1
 * are dropped and adjacent dims that are contiguous for every operand are
 * merged, so a same-shape op is a single flat loop.  When every operand
 * and the output are f32 and the innermost dim is contiguous or broadcast
 * for each of them, that dim is an explicit vector loop (vec.h) at the
 * machine's full width: the op's scalar function is built on vectors
 * (LLVM instructions, constants and cg_math_* work lane by lane), and a
 * broadcast operand is loaded once per row and splat.
 *
 * Op semantics follow the ONNX operator docs; version-dependent points:
 *   Clip-1/6: min/max attributes; Clip-11+: optional inputs 1 and 2.
 *   Dropout-12+: training_mode input; supported when absent, constant false,
 *   or when the ratio is a constant 0 — the input is copied and the mask
 *   filled with true.  Random (training) dropout is rejected.
 *   Gelu-20: approximate = "none" | "tanh".
 * Integer corner cases (ONNX leaves them undefined; we never trap):
 *   Div/Mod by zero give 0; INT_MIN / -1 wraps to INT_MIN; Mod with fmod=0
 *   takes the sign of the divisor (Python), fmod=1 of the dividend (C);
 *   BitShift by >= the bit width gives 0; integer Pow with a negative
 *   exponent gives 1/x^-e truncated (so 0 unless x is 1 or -1).
 * Float->int Cast saturates (cg_convert).  Cast/CastLike to bfloat16
 * truncate the float's low 16 bits (NaN kept), as ONNX <= 1.13's reference
 * and the node-test data do (ONNX 1.14+ rounds to nearest even; other ops
 * storing bf16 round to nearest through cg_store).  All transcendental functions come
 * from mathfn.h: no libm calls.
 *
 * The fused ElemChain (ops.def; passes/fuse_elementwise.c) is one more op
 * of this loop nest: its inputs are the operands (a one-element constant
 * becomes an immediate instead), and its scalar function is its program's
 * steps, each built by the very code that builds the unfused op, so every
 * element gets the unfused chain's operations and bits without storing
 * the intermediates.
 */
#include "lower.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "../ir/params.h"
#include "kernels/kernels.h"
#include "mathfn.h"
#include "vec.h"

#define EW_MAX_OPS 16

typedef struct Ew {
	Cg *cg;
	const Node *n;
	Op op;
	DType t;            /* dtype of the first operand (the op's T) */
	DType t1;           /* dtype of the second operand, if any */
	DType tout;         /* dtype of output 0 */
	LLVMTypeRef ct;     /* compute type of t */
	int nops;
	DType opt[EW_MAX_OPS];
	/* attributes, read once */
	double alpha, beta, gamma, bias, lambd;
	double clip_lo, clip_hi;
	int64_t fmod_, detect_pos, detect_neg;
	bool shift_left, gelu_tanh;
	bool pow_square;    /* Pow of a float by the constant 2: x*x */
	/* ElemChain: its program; per input whether it is an immediate */
	const ChainParams *chain;
	bool cimm[EW_MAX_OPS];
	double cval[EW_MAX_OPS];
} Ew;
_Static_assert(CHAIN_MAX_INPUTS <= EW_MAX_OPS, "an ElemChain's inputs are the loop's operands");

static bool dtype_ok(DType t)
{
	return dtype_is_float(t) || dtype_is_int(t) || t == DT_BOOL;
}

static bool is_signed_int(DType t) { return dtype_is_int(t) && dtype_is_signed(t); }

/* ---- small IR helpers ------------------------------------------------------ */

static LLVMValueRef fc(Ew *e, double v) { return LLVMConstReal(e->ct, v); }
static LLVMValueRef ic(Ew *e, int64_t v) { return LLVMConstInt(e->ct, (unsigned long long)v, 1); }

static LLVMValueRef fsel(Ew *e, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(e->cg->b, c, a, b, "");
}

static LLVMValueRef fcmp(Ew *e, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFCmp(e->cg->b, p, a, b, "");
}

static LLVMValueRef icmp(Ew *e, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildICmp(e->cg->b, p, a, b, "");
}

static LLVMValueRef fmul(Ew *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(e->cg->b, a, b, ""); }
static LLVMValueRef fadd(Ew *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(e->cg->b, a, b, ""); }
static LLVMValueRef fsub(Ew *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(e->cg->b, a, b, ""); }
static LLVMValueRef fdiv(Ew *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(e->cg->b, a, b, ""); }

/* max(x, 0) keeping NaN */
static LLVMValueRef relu_f(Ew *e, LLVMValueRef x)
{
	return fsel(e, fcmp(e, LLVMRealOLT, x, fc(e, 0)), fc(e, 0), x);
}

/* clamp(x, 0, 1) keeping NaN */
static LLVMValueRef clamp01(Ew *e, LLVMValueRef x)
{
	LLVMValueRef r = fsel(e, fcmp(e, LLVMRealOLT, x, fc(e, 0)), fc(e, 0), x);
	return fsel(e, fcmp(e, LLVMRealOGT, r, fc(e, 1)), fc(e, 1), r);
}

/* log(1 + exp(x)) without overflow: max(x,0) + log1p(exp(-|x|)) */
static LLVMValueRef softplus(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef a = cg_math_fabs(cg, x);
	LLVMValueRef t = cg_math_log1p(cg, cg_math_exp(cg, LLVMBuildFNeg(cg->b, a, "")));
	LLVMValueRef m = fsel(e, fcmp(e, LLVMRealOGT, x, fc(e, 0)), x, fc(e, 0));
	LLVMValueRef r = fadd(e, m, t);
	return fsel(e, fcmp(e, LLVMRealUNO, x, x), x, r);
}

static double big_exp_arg(Ew *e) { return e->ct == e->cg->t_f64 ? 700.0 : 80.0; }

/* sinh: 0.5*(em + em/(em+1)), em = expm1(|x|); huge |x|: exp(|x| - ln2) */
static LLVMValueRef sinh_f(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef a = cg_math_fabs(cg, x);
	LLVMValueRef em = cg_math_expm1(cg, a);
	LLVMValueRef s = fmul(e, fc(e, 0.5), fadd(e, em, fdiv(e, em, fadd(e, em, fc(e, 1)))));
	LLVMValueRef big = cg_math_exp(cg, fsub(e, a, fc(e, M_LN2)));
	LLVMValueRef r = fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, big_exp_arg(e))), big, s);
	return cg_math_copysign(cg, r, x);
}

static LLVMValueRef cosh_f(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef a = cg_math_fabs(cg, x);
	LLVMValueRef ex = cg_math_exp(cg, a);
	LLVMValueRef c = fmul(e, fc(e, 0.5), fadd(e, ex, fdiv(e, fc(e, 1), ex)));
	LLVMValueRef big = cg_math_exp(cg, fsub(e, a, fc(e, M_LN2)));
	return fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, big_exp_arg(e))), big, c);
}

static LLVMValueRef huge_f(Ew *e) { return fc(e, e->ct == e->cg->t_f64 ? 0x1p500 : 0x1p60); }

/* asinh(x) = sign * log1p(a + a^2/(1 + sqrt(1 + a^2))); huge: log(a) + ln2 */
static LLVMValueRef asinh_f(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef a = cg_math_fabs(cg, x);
	LLVMValueRef a2 = fmul(e, a, a);
	LLVMValueRef q = fdiv(e, a2, fadd(e, fc(e, 1), cg_math_sqrt(cg, fadd(e, fc(e, 1), a2))));
	LLVMValueRef s = cg_math_log1p(cg, fadd(e, a, q));
	LLVMValueRef big = fadd(e, cg_math_log(cg, a), fc(e, M_LN2));
	LLVMValueRef r = fsel(e, fcmp(e, LLVMRealOGT, a, huge_f(e)), big, s);
	return cg_math_copysign(cg, r, x);
}

/* acosh(x) = log1p(t + sqrt(2t + t^2)), t = x - 1; huge: log(x) + ln2 */
static LLVMValueRef acosh_f(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef t = fsub(e, x, fc(e, 1));
	LLVMValueRef s = cg_math_sqrt(cg, fadd(e, fmul(e, fc(e, 2), t), fmul(e, t, t)));
	LLVMValueRef r = cg_math_log1p(cg, fadd(e, t, s));
	LLVMValueRef big = fadd(e, cg_math_log(cg, x), fc(e, M_LN2));
	r = fsel(e, fcmp(e, LLVMRealOGT, x, huge_f(e)), big, r);
	return fsel(e, fcmp(e, LLVMRealOLT, x, fc(e, 1)), fc(e, NAN), r);
}

/* atanh(x) = sign * 0.5 * log1p(2a/(1-a)) */
static LLVMValueRef atanh_f(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMValueRef a = cg_math_fabs(cg, x);
	LLVMValueRef q = fdiv(e, fmul(e, fc(e, 2), a), fsub(e, fc(e, 1), a));
	LLVMValueRef r = fmul(e, fc(e, 0.5), cg_math_log1p(cg, q));
	r = fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, 1)), fc(e, NAN), r);
	return cg_math_copysign(cg, r, x);
}

/* Integer x^k by square-and-multiply over the 64 bits of k (i64); k < 0
 * gives 1, +-1 or 0 (truncated 1/x^-k). */
static LLVMValueRef int_pow(Ew *e, LLVMValueRef x, LLVMValueRef k)
{
	LLVMBuilderRef b = e->cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMTypeRef t64 = e->cg->t_i64;
	LLVMValueRef one = LLVMConstInt(t, 1, 0);
	LLVMValueRef r = one, base = x, kk = k;
	for (int i = 0; i < 64; i++) {
		LLVMValueRef bit = LLVMBuildTrunc(b, kk, e->cg->t_i1, "");
		r = LLVMBuildSelect(b, bit, LLVMBuildMul(b, r, base, ""), r, "");
		base = LLVMBuildMul(b, base, base, "");
		kk = LLVMBuildLShr(b, kk, LLVMConstInt(t64, 1, 0), "");
	}
	LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, k, LLVMConstInt(t64, 0, 0), "");
	LLVMValueRef odd = LLVMBuildTrunc(b, k, e->cg->t_i1, "");
	LLVMValueRef mone = LLVMConstAllOnes(t);
	LLVMValueRef nr = LLVMBuildSelect(b, odd, mone, one, "");
	LLVMValueRef is_m1 = LLVMBuildICmp(b, LLVMIntEQ, x, mone, "");
	LLVMValueRef is_1 = LLVMBuildICmp(b, LLVMIntEQ, x, one, "");
	LLVMValueRef negr = LLVMBuildSelect(b, is_1, one,
		LLVMBuildSelect(b, is_m1, nr, LLVMConstInt(t, 0, 0), ""), "");
	return LLVMBuildSelect(b, neg, negr, r, "");
}

static LLVMValueRef pow_op(Ew *e, LLVMValueRef x, LLVMValueRef y)
{
	Cg *cg = e->cg;
	if (dtype_is_float(e->t))
		return cg_math_pow(cg, x, cg_convert(cg, y, e->t1, e->t));
	/* integer base */
	if (dtype_is_int(e->t1) || e->t1 == DT_BOOL)
		return int_pow(e, x, cg_convert(cg, y, e->t1, DT_I64));
	LLVMValueRef yd = cg_convert(cg, y, e->t1, DT_F64);
	LLVMValueRef yf = cg_math_floor(cg, yd);
	LLVMValueRef yint = LLVMBuildAnd(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOEQ, yf, yd, ""),
		LLVMBuildFCmp(cg->b, LLVMRealOLT, cg_math_fabs(cg, yd), LLVMConstReal(cg->t_f64, 0x1p62), ""), "");
	LLVMValueRef ysafe = LLVMBuildSelect(cg->b, yint, yd, LLVMConstReal(cg->t_f64, 0), "");
	LLVMValueRef ip = int_pow(e, x, LLVMBuildFPToSI(cg->b, ysafe, cg->t_i64, ""));
	LLVMValueRef fp = cg_math_pow(cg, cg_convert(cg, x, e->t, DT_F64), yd);
	return LLVMBuildSelect(cg->b, yint, ip, cg_convert(cg, fp, DT_F64, e->t), "");
}

/* Integer division / remainder that never traps (see the file comment). */
static LLVMValueRef int_divrem(Ew *e, LLVMValueRef x, LLVMValueRef y, bool rem)
{
	LLVMBuilderRef b = e->cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef zero = LLVMConstInt(t, 0, 0), one = LLVMConstInt(t, 1, 0);
	LLVMValueRef y0 = LLVMBuildICmp(b, LLVMIntEQ, y, zero, "");
	if (!dtype_is_signed(e->t)) {
		LLVMValueRef ys = LLVMBuildSelect(b, y0, one, y, "");
		LLVMValueRef r = rem ? LLVMBuildURem(b, x, ys, "") : LLVMBuildUDiv(b, x, ys, "");
		return LLVMBuildSelect(b, y0, zero, r, "");
	}
	LLVMValueRef ym1 = LLVMBuildICmp(b, LLVMIntEQ, y, LLVMConstAllOnes(t), "");
	LLVMValueRef ys = LLVMBuildSelect(b, LLVMBuildOr(b, y0, ym1, ""), one, y, "");
	LLVMValueRef r = rem ? LLVMBuildSRem(b, x, ys, "") : LLVMBuildSDiv(b, x, ys, "");
	/* y == -1: x / -1 = -x (wrapping), x % -1 = 0 */
	LLVMValueRef alt = rem ? zero : LLVMBuildSub(b, zero, x, "");
	r = LLVMBuildSelect(b, ym1, alt, r, "");
	return LLVMBuildSelect(b, y0, zero, r, "");
}

static LLVMValueRef mod_op(Ew *e, LLVMValueRef x, LLVMValueRef y)
{
	Cg *cg = e->cg;
	LLVMBuilderRef b = cg->b;
	if (dtype_is_float(e->t)) {
		LLVMValueRef r = cg_math_fmod(cg, x, y);
		if (e->fmod_)
			return r;
		/* Python: a nonzero remainder takes the divisor's sign */
		LLVMValueRef rnz = fcmp(e, LLVMRealONE, r, fc(e, 0));
		LLVMValueRef diff = LLVMBuildXor(b, fcmp(e, LLVMRealOLT, r, fc(e, 0)),
			fcmp(e, LLVMRealOLT, y, fc(e, 0)), "");
		return fsel(e, LLVMBuildAnd(b, rnz, diff, ""), fadd(e, r, y), r);
	}
	LLVMValueRef r = int_divrem(e, x, y, true);
	if (e->fmod_ || !dtype_is_signed(e->t))
		return r;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef zero = LLVMConstInt(t, 0, 0);
	LLVMValueRef rnz = LLVMBuildICmp(b, LLVMIntNE, r, zero, "");
	LLVMValueRef diff = LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildXor(b, r, y, ""), zero, "");
	return LLVMBuildSelect(b, LLVMBuildAnd(b, rnz, diff, ""), LLVMBuildAdd(b, r, y, ""), r, "");
}

static LLVMValueRef minmax(Ew *e, LLVMValueRef a, LLVMValueRef c, bool is_max)
{
	Cg *cg = e->cg;
	if (dtype_is_float(e->t))
		return is_max ? cg_math_fmax(cg, a, c) : cg_math_fmin(cg, a, c);
	LLVMIntPredicate p = dtype_is_signed(e->t) ? (is_max ? LLVMIntSGT : LLVMIntSLT)
	                                           : (is_max ? LLVMIntUGT : LLVMIntULT);
	return LLVMBuildSelect(cg->b, icmp(e, p, a, c), a, c, "");
}

static LLVMValueRef compare(Ew *e, LLVMValueRef a, LLVMValueRef c)
{
	bool f = dtype_is_float(e->t), s = is_signed_int(e->t);
	LLVMRealPredicate fp;
	LLVMIntPredicate ip;
	switch (e->op) {
	case OP_Equal: fp = LLVMRealOEQ; ip = LLVMIntEQ; break;
	case OP_Less: fp = LLVMRealOLT; ip = s ? LLVMIntSLT : LLVMIntULT; break;
	case OP_LessOrEqual: fp = LLVMRealOLE; ip = s ? LLVMIntSLE : LLVMIntULE; break;
	case OP_Greater: fp = LLVMRealOGT; ip = s ? LLVMIntSGT : LLVMIntUGT; break;
	case OP_GreaterOrEqual: fp = LLVMRealOGE; ip = s ? LLVMIntSGE : LLVMIntUGE; break;
	default: IR_UNREACHABLE("compare: not a comparison");
	}
	return f ? fcmp(e, fp, a, c) : icmp(e, ip, a, c);
}

/* f32 GELU (erf form) within 4e-6 relative of 0.5x erfc(-x/sqrt2) for
 * every x.  Where x >= GELU_ERF_MIN, cg_math_gelu as the GEMM, Conv and
 * depthwise epilogues compute it (kern_gelu: x Phi(x) with a piecewise
 * polynomial for Phi, within 2.5 ulp there; no exp and no division);
 * below, its absolute error (|x| 2^-24, as 0.5x(1 + erf) cancels) is no
 * longer small against the result, so lanes below use erfc, and a vector
 * computes it only when some lane is below (a branch on the lane mask:
 * which form a lane takes depends only on its own x).  NaN takes the
 * first form (NaN); -inf the erfc form (NaN, as before). */
#define GELU_ERF_MIN (-2.0)
static LLVMValueRef gelu_f32(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	LLVMBuilderRef b = cg->b;
	LLVMValueRef fast = kern_gelu(cg, x, false);
	LLVMValueRef low = fcmp(e, LLVMRealOLT, x, fc(e, GELU_ERF_MIN));
	LLVMValueRef any = low;
	if (LLVMGetTypeKind(e->ct) == LLVMVectorTypeKind) {
		unsigned w = LLVMGetVectorSize(e->ct);
		any = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildBitCast(b, low, LLVMIntTypeInContext(cg->ctx, w), ""),
		                    LLVMConstInt(LLVMIntTypeInContext(cg->ctx, w), 0, 0), "");
	}
	CgIf c;
	cg_if(cg, &c, any);
	LLVMValueRef inner = cg_math_erfc(cg, fmul(e, x, fc(e, -M_SQRT1_2)));
	LLVMValueRef slow = LLVMBuildSelect(b, low, fmul(e, fmul(e, fc(e, 0.5), x), inner), fast, "");
	LLVMBasicBlockRef then_end = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef else_bb = c.else_bb;
	cg_if_end(cg, &c);
	LLVMValueRef phi = LLVMBuildPhi(b, e->ct, "gelu");
	LLVMValueRef vals[2] = {slow, fast};
	LLVMBasicBlockRef bbs[2] = {then_end, else_bb};
	LLVMAddIncoming(phi, vals, bbs, 2);
	return phi;
}

static LLVMValueRef gelu(Ew *e, LLVMValueRef x)
{
	Cg *cg = e->cg;
	if (e->gelu_tanh) {
		/* 0.5x(1 + tanh(u)) = x*sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3):
		 * no cancellation for x << 0 */
		LLVMValueRef x3 = fmul(e, fmul(e, x, x), x);
		LLVMValueRef u2 = fmul(e, fc(e, 2 * 0.7978845608028654), fadd(e, x, fmul(e, fc(e, 0.044715), x3)));
		return fmul(e, x, cg_math_sigmoid(cg, u2));
	}
	LLVMTypeRef et = LLVMGetTypeKind(e->ct) == LLVMVectorTypeKind ? LLVMGetElementType(e->ct) : e->ct;
	if (et != cg->t_f32) {
		/* 0.5x(1 + erf(x/sqrt2)) = 0.5x erfc(-x/sqrt2): no cancellation for x << 0 */
		LLVMValueRef inner = cg_math_erfc(cg, fmul(e, x, fc(e, -M_SQRT1_2)));
		return fmul(e, fmul(e, fc(e, 0.5), x), inner);
	}
	return gelu_f32(e, x);
}

static LLVMValueRef chain_eval(Ew *e, LLVMValueRef *x);

/* The scalar function of the op; x[i] are the loaded operands (NULL for an
 * omitted optional one).  Dtypes were checked by ew_check(). */
static LLVMValueRef scalar(Ew *e, LLVMValueRef *x)
{
	Cg *cg = e->cg;
	LLVMBuilderRef b = cg->b;
	bool f = dtype_is_float(e->t);
	LLVMValueRef a = x[0];
	switch (e->op) {
	case OP_Abs:
		if (f)
			return cg_math_fabs(cg, a);
		if (!dtype_is_signed(e->t))
			return a;
		return LLVMBuildSelect(b, icmp(e, LLVMIntSLT, a, ic(e, 0)), LLVMBuildNeg(b, a, ""), a, "");
	case OP_Neg:
		return f ? LLVMBuildFNeg(b, a, "") : LLVMBuildNeg(b, a, "");
	case OP_Exp: return cg_math_exp(cg, a);
	case OP_Log: return cg_math_log(cg, a);
	case OP_Sqrt: return cg_math_sqrt(cg, a);
	case OP_Reciprocal: return fdiv(e, fc(e, 1), a);
	case OP_Relu:
		if (f)
			return relu_f(e, a);
		if (!dtype_is_signed(e->t))
			return a;
		return LLVMBuildSelect(b, icmp(e, LLVMIntSLT, a, ic(e, 0)), ic(e, 0), a, "");
	case OP_Sigmoid: return cg_math_sigmoid(cg, a);
	case OP_Tanh: return cg_math_tanh(cg, a);
	case OP_Erf: return cg_math_erf(cg, a);
	case OP_Sin: return cg_math_sin(cg, a);
	case OP_Cos: return cg_math_cos(cg, a);
	case OP_Tan: return cg_math_tan(cg, a);
	case OP_Asin: return cg_math_asin(cg, a);
	case OP_Acos: return cg_math_acos(cg, a);
	case OP_Atan: return cg_math_atan(cg, a);
	case OP_Sinh: return sinh_f(e, a);
	case OP_Cosh: return cosh_f(e, a);
	case OP_Asinh: return asinh_f(e, a);
	case OP_Acosh: return acosh_f(e, a);
	case OP_Atanh: return atanh_f(e, a);
	case OP_Floor: return cg_math_floor(cg, a);
	case OP_Ceil: return cg_math_ceil(cg, a);
	case OP_Round: return cg_math_round_even(cg, a);
	case OP_Sign:
		if (f) {
			LLVMValueRef r = fsel(e, fcmp(e, LLVMRealOLT, a, fc(e, 0)), fc(e, -1), a);
			return fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, 0)), fc(e, 1), r);
		}
		if (!dtype_is_signed(e->t))
			return LLVMBuildZExt(b, icmp(e, LLVMIntNE, a, ic(e, 0)), e->ct, "");
		return LLVMBuildSub(b, LLVMBuildZExt(b, icmp(e, LLVMIntSGT, a, ic(e, 0)), e->ct, ""),
		                    LLVMBuildZExt(b, icmp(e, LLVMIntSLT, a, ic(e, 0)), e->ct, ""), "");
	case OP_Not: return LLVMBuildNot(b, a, "");
	case OP_BitwiseNot: return LLVMBuildNot(b, a, "");
	case OP_IsNaN: return fcmp(e, LLVMRealUNO, a, a);
	case OP_IsInf: {
		LLVMValueRef r = LLVMConstInt(cg->t_i1, 0, 0);
		if (e->detect_pos)
			r = LLVMBuildOr(b, r, fcmp(e, LLVMRealOEQ, a, fc(e, INFINITY)), "");
		if (e->detect_neg)
			r = LLVMBuildOr(b, r, fcmp(e, LLVMRealOEQ, a, fc(e, -INFINITY)), "");
		return r;
	}
	case OP_Softplus: return softplus(e, a);
	case OP_Softsign: return fdiv(e, a, fadd(e, fc(e, 1), cg_math_fabs(cg, a)));
	case OP_Elu: {
		LLVMValueRef n = fmul(e, fc(e, e->alpha), cg_math_expm1(cg, a));
		return fsel(e, fcmp(e, LLVMRealOLT, a, fc(e, 0)), n, a);
	}
	case OP_Selu: {
		LLVMValueRef n = fmul(e, fc(e, e->alpha * e->gamma), cg_math_expm1(cg, a));
		return fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, 0)), fmul(e, fc(e, e->gamma), a), n);
	}
	case OP_Celu: {
		LLVMValueRef n = fmul(e, fc(e, e->alpha), cg_math_expm1(cg, fdiv(e, a, fc(e, e->alpha))));
		return fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, 0)), a, n);
	}
	case OP_LeakyRelu:
		return fsel(e, fcmp(e, LLVMRealOLT, a, fc(e, 0)), fmul(e, fc(e, e->alpha), a), a);
	case OP_HardSigmoid:
		return clamp01(e, fadd(e, fmul(e, fc(e, e->alpha), a), fc(e, e->beta)));
	case OP_HardSwish:
		return fmul(e, a, clamp01(e, fadd(e, fmul(e, fc(e, 1.0 / 6.0), a), fc(e, 0.5))));
	case OP_ThresholdedRelu:
		return fsel(e, fcmp(e, LLVMRealOGT, a, fc(e, e->alpha)), a, fc(e, 0));
	case OP_Shrink: {
		/* in double for every dtype, then back to T */
		LLVMValueRef d = cg_convert(cg, a, e->t, DT_F64);
		LLVMTypeRef td = cg->t_f64;
		LLVMValueRef lam = LLVMConstReal(td, e->lambd), bias = LLVMConstReal(td, e->bias);
		LLVMValueRef lo = LLVMBuildFCmp(b, LLVMRealOLT, d, LLVMBuildFNeg(b, lam, ""), "");
		LLVMValueRef hi = LLVMBuildFCmp(b, LLVMRealOGT, d, lam, "");
		LLVMValueRef r = LLVMBuildSelect(b, hi, LLVMBuildFSub(b, d, bias, ""), LLVMConstReal(td, 0), "");
		r = LLVMBuildSelect(b, lo, LLVMBuildFAdd(b, d, bias, ""), r, "");
		return cg_convert(cg, r, DT_F64, e->t);
	}
	case OP_Mish:
		return fmul(e, a, cg_math_tanh(cg, softplus(e, a)));
	case OP_Gelu: return gelu(e, a);
	case OP_Identity: case OP_Dropout:
		return a;
	case OP_Cast: case OP_CastLike: {
		LLVMValueRef v = cg_convert(cg, a, e->t, e->tout);
		if (e->tout != DT_BF16 || e->t == DT_BF16)
			return v;
		/* to bf16: truncate the float (see the file comment); NaN stays NaN */
		LLVMValueRef bits = LLVMBuildBitCast(b, v, cg->t_i32, "");
		bits = LLVMBuildAnd(b, bits, LLVMConstInt(cg->t_i32, 0xffff0000u, 0), "");
		LLVMValueRef tr = LLVMBuildBitCast(b, bits, cg->t_f32, "");
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), v, tr, "");
	}
	case OP_Clip: {
		LLVMValueRef lo = x[1], hi = x[2];
		if (e->n->opset < 11) {
			lo = fc(e, e->clip_lo);
			hi = fc(e, e->clip_hi);
		}
		LLVMValueRef r = a;
		if (lo)
			r = f ? fsel(e, fcmp(e, LLVMRealOLT, r, lo), lo, r) : minmax(e, r, lo, true);
		if (hi)
			r = f ? fsel(e, fcmp(e, LLVMRealOGT, r, hi), hi, r) : minmax(e, r, hi, false);
		return r;
	}
	case OP_Add: return f ? fadd(e, a, x[1]) : LLVMBuildAdd(b, a, x[1], "");
	case OP_Sub: return f ? fsub(e, a, x[1]) : LLVMBuildSub(b, a, x[1], "");
	case OP_Mul: return f ? fmul(e, a, x[1]) : LLVMBuildMul(b, a, x[1], "");
	case OP_Div: return f ? fdiv(e, a, x[1]) : int_divrem(e, a, x[1], false);
	case OP_Pow: return e->pow_square ? fmul(e, a, a) : pow_op(e, a, x[1]);
	case OP_Mod: return mod_op(e, a, x[1]);
	case OP_Equal: case OP_Less: case OP_LessOrEqual: case OP_Greater:
	case OP_GreaterOrEqual:
		return compare(e, a, x[1]);
	case OP_And: case OP_BitwiseAnd: return LLVMBuildAnd(b, a, x[1], "");
	case OP_Or: case OP_BitwiseOr: return LLVMBuildOr(b, a, x[1], "");
	case OP_Xor: case OP_BitwiseXor: return LLVMBuildXor(b, a, x[1], "");
	case OP_BitShift: {
		LLVMValueRef s = x[1];
		unsigned w = LLVMGetIntTypeWidth(e->ct);
		LLVMValueRef big = icmp(e, LLVMIntUGE, s, ic(e, w));
		LLVMValueRef ss = LLVMBuildSelect(b, big, ic(e, 0), s, "");
		LLVMValueRef r = e->shift_left ? LLVMBuildShl(b, a, ss, "") : LLVMBuildLShr(b, a, ss, "");
		return LLVMBuildSelect(b, big, ic(e, 0), r, "");
	}
	case OP_PRelu:
		if (f)
			return fsel(e, fcmp(e, LLVMRealOLT, a, fc(e, 0)), fmul(e, a, x[1]), a);
		if (!dtype_is_signed(e->t))
			return a;
		return LLVMBuildSelect(b, icmp(e, LLVMIntSLT, a, ic(e, 0)), LLVMBuildMul(b, a, x[1], ""), a, "");
	case OP_Max: case OP_Min: {
		LLVMValueRef r = a;
		for (int i = 1; i < e->nops; i++)
			r = minmax(e, r, x[i], e->op == OP_Max);
		return r;
	}
	case OP_Sum: case OP_Mean: {
		LLVMValueRef r = a;
		for (int i = 1; i < e->nops; i++)
			r = f ? fadd(e, r, x[i]) : LLVMBuildAdd(b, r, x[i], "");
		if (e->op == OP_Mean)
			r = fdiv(e, r, fc(e, e->nops));
		return r;
	}
	case OP_Where:
		return LLVMBuildSelect(b, a, x[1], x[2], "");
	case OP_ElemChain:
		return chain_eval(e, x);
	default:
		IR_UNREACHABLE("lower_elementwise: op not handled");
	}
}

/* ElemChain's value from its operands x (NULL for an immediate): each step
 * built by scalar() as the step's own op would be. */
static LLVMValueRef chain_eval(Ew *e, LLVMValueRef *x)
{
	const ChainParams *cp = e->chain;
	LLVMValueRef val[CHAIN_MAX_INPUTS + CHAIN_MAX_STEPS];
	for (int i = 0; i < cp->nin; i++)
		val[i] = e->cimm[i] ? fc(e, e->cval[i]) : x[i];
	for (int k = 0; k < cp->nsteps; k++) {
		const ChainStep *st = &cp->step[k];
		LLVMValueRef arg[2] = {val[st->a], st->b >= 0 ? val[st->b] : NULL};
		e->op = st->op;
		val[cp->nin + k] = scalar(e, arg);
	}
	e->op = OP_ElemChain;
	return val[cp->nin + cp->nsteps - 1];
}

/* ---- dtype rules --------------------------------------------------------------- */

enum { K_FLOAT = 1, K_INT = 2, K_BOOL = 4, K_NUM = K_FLOAT | K_INT, K_ANY = 7 };

/* Which dtypes of T (input 0) the op accepts. */
static int accepted(Op op)
{
	switch (op) {
	case OP_Abs: case OP_Neg: case OP_Relu: case OP_Sign: case OP_Shrink:
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Pow: case OP_Mod:
	case OP_Less: case OP_LessOrEqual: case OP_Greater: case OP_GreaterOrEqual:
	case OP_PRelu: case OP_Max: case OP_Min: case OP_Sum: case OP_Clip:
		return K_NUM;
	case OP_Not: case OP_And: case OP_Or: case OP_Xor:
		return K_BOOL;
	case OP_BitwiseNot: case OP_BitwiseAnd: case OP_BitwiseOr: case OP_BitwiseXor:
	case OP_BitShift:
		return K_INT;
	case OP_Equal: case OP_Identity: case OP_Dropout: case OP_Cast: case OP_CastLike:
	case OP_Where:
		return K_ANY;
	default:
		return K_FLOAT;
	}
}

static int kind_of(DType t)
{
	return dtype_is_float(t) ? K_FLOAT : dtype_is_int(t) ? K_INT : t == DT_BOOL ? K_BOOL : 0;
}

/* Reads attributes and checks operand dtypes; false after a diagnostic. */
static bool ew_setup(Ew *e, const ValueId *ops)
{
	Cg *cg = e->cg;
	const Node *n = e->n;
	for (int i = 0; i < e->nops; i++) {
		if (ops[i] == IR_NONE)
			continue;
		DType t = gval(cg->g, ops[i])->dtype;
		if (!dtype_ok(t))
			return cg_unsupported(cg, i, "dtype %s is not supported", dtype_name(t));
		e->opt[i] = t;
	}
	if (!dtype_ok(e->tout))
		return cg_unsupported(cg, -1, "output dtype %s is not supported", dtype_name(e->tout));
	int tk = kind_of(e->t);
	if (!(accepted(e->op) & tk))
		return cg_unsupported(cg, 0, "%s does not accept dtype %s", n->op_type, dtype_name(e->t));
	/* operands that must share T */
	switch (e->op) {
	case OP_Pow: case OP_BitShift:
		break;
	case OP_Where:
		if (e->t != DT_BOOL)
			return cg_unsupported(cg, 0, "condition must be bool, got %s", dtype_name(e->t));
		if (e->opt[1] != e->opt[2] || e->opt[1] != e->tout)
			return cg_unsupported(cg, 2, "X, Y and output dtypes differ");
		break;
	case OP_CastLike:
		break;
	default:
		for (int i = 1; i < e->nops; i++)
			if (ops[i] != IR_NONE && e->opt[i] != e->t)
				return cg_unsupported(cg, i, "dtype %s differs from input 0 (%s)",
				                      dtype_name(e->opt[i]), dtype_name(e->t));
	}
	if (e->op == OP_Pow && e->t1 == DT_BOOL)
		return cg_unsupported(cg, 1, "Pow exponent dtype bool");
	if (e->op == OP_BitShift && e->t1 != e->t)
		return cg_unsupported(cg, 1, "BitShift operand dtypes differ");
	/* Mod on floats with fmod=0 (the spec asks for fmod=1): Python
	 * semantics, like numpy's mod. */

	/* attributes */
	e->alpha = attr_float(n, "alpha", 0);
	e->beta = attr_float(n, "beta", 0);
	e->gamma = attr_float(n, "gamma", 0);
	switch (e->op) {
	case OP_Elu: case OP_Celu: case OP_ThresholdedRelu:
		e->alpha = attr_float(n, "alpha", 1.0f);
		break;
	case OP_Selu:
		e->alpha = attr_float(n, "alpha", 1.67326319217681884765625f);
		e->gamma = attr_float(n, "gamma", 1.05070102214813232421875f);
		break;
	case OP_LeakyRelu:
		e->alpha = attr_float(n, "alpha", 0.01f);
		break;
	case OP_HardSigmoid:
		e->alpha = attr_float(n, "alpha", 0.2f);
		e->beta = attr_float(n, "beta", 0.5f);
		break;
	case OP_Shrink:
		e->bias = attr_float(n, "bias", 0.0f);
		e->lambd = attr_float(n, "lambd", 0.5f);
		break;
	case OP_Mod:
		e->fmod_ = attr_int(n, "fmod", 0);
		break;
	case OP_IsInf:
		e->detect_pos = attr_int(n, "detect_positive", 1);
		e->detect_neg = attr_int(n, "detect_negative", 1);
		break;
	default:
		break;
	}
	if (e->op == OP_Celu && e->alpha == 0)
		return cg_unsupported(cg, -1, "Celu alpha must be nonzero");
	if (e->op == OP_BitShift) {
		const char *d = attr_string(n, "direction", "");
		if (!strcmp(d, "LEFT"))
			e->shift_left = true;
		else if (!strcmp(d, "RIGHT"))
			e->shift_left = false;
		else
			return cg_unsupported(cg, -1, "BitShift direction '%s' (want LEFT or RIGHT)", d);
	}
	if (e->op == OP_Gelu) {
		const char *ap = attr_string(n, "approximate", "none");
		if (!strcmp(ap, "tanh"))
			e->gelu_tanh = true;
		else if (strcmp(ap, "none"))
			return cg_unsupported(cg, -1, "Gelu approximate='%s'", ap);
	}
	if (e->op == OP_Pow && dtype_is_float(e->t) && ops[1] != IR_NONE) {
		/* x^2 (LayerNorm's variance as exported by PyTorch): x*x is the
		 * correctly rounded pow(x, 2), specials included */
		const Value *y = gval(cg->g, ops[1]);
		e->pow_square = y->kind == VK_CONST && y->data && shape_numel(&y->shape) == 1 &&
		                value_get_f64(y, 0) == 2.0;
	}
	if (e->op == OP_Clip && n->opset < 11) {
		/* Clip-1/6: min and max are float attributes; T is float only
		 * (infer_clip's rule) */
		assert(dtype_is_float(e->t));
		e->clip_lo = attr_float(n, "min", -3.402823466e38f);
		e->clip_hi = attr_float(n, "max", 3.402823466e38f);
	}
	return true;
}

/* ---- the loop nest ---------------------------------------------------------------- */

/* ---- explicit vector loops (f32) ---------------------------------------------- */

/* The vector form applies: f32 operands and output, an op whose scalar
 * function is lane-wise (fmod loops per element; Shrink computes in
 * double scalars), a vector unit, and an innermost dim that is contiguous
 * (stride 1) or broadcast (stride 0) for every operand. */
static bool ew_vectorize(Ew *e, const ValueId *ops, int r,
                         int64_t cst[EW_MAX_OPS + 1][IR_MAX_RANK])
{
	if (r == 0 || e->cg->isa.vlen <= 1 || e->tout != DT_F32 || cst[e->nops][r - 1] != 1)
		return false;
	if (e->op == OP_Mod || e->op == OP_Shrink || e->op == OP_Cast || e->op == OP_CastLike)
		return false;
	for (int i = 0; i < e->nops; i++)
		if (ops[i] != IR_NONE && (e->opt[i] != DT_F32 || cst[i][r - 1] > 1))
			return false;
	return true;
}

typedef struct EwRow {
	Ew *e;
	const ValueId *ops;
	LLVMValueRef off[EW_MAX_OPS + 1];   /* row start of each operand, output last */
	LLVMValueRef bc[EW_MAX_OPS];        /* splat value of a broadcast operand */
} EwRow;

static void ew_step(CgVec *v, void *ctx)
{
	EwRow *w = ctx;
	Ew *e = w->e;
	LLVMValueRef x[EW_MAX_OPS], j = v->idx;
	for (int i = 0; i < e->nops; i++) {
		if (w->ops[i] == IR_NONE || w->bc[i]) {
			x[i] = w->bc[i];
			continue;
		}
		v->idx = LLVMBuildNSWAdd(e->cg->b, w->off[i], j, "");
		x[i] = cg_vload(v, w->ops[i], 0);
	}
	LLVMValueRef y = scalar(e, x);
	v->idx = LLVMBuildNSWAdd(e->cg->b, w->off[e->nops], j, "");
	cg_vstore(v, e->n->out[0], y);
	v->idx = j;
}

/* The loop nest of ew_emit with the innermost dim as a vector row, for
 * rows [r0, r1) of the outermost dim (r >= 2), or, for one flat dim (r ==
 * 1), for blocks [r0, r1) of blk elements (the last one shorter).  Lanes
 * are independent, so how the elements are cut changes no bit. */
typedef struct EwVec {
	Ew *e;
	const ValueId *ops;
	int r;
	const int64_t *dims;
	int64_t (*cst)[IR_MAX_RANK];
	int64_t blk;            /* r == 1: elements per block */
} EwVec;

static void ew_vec_body(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1)
{
	const EwVec *a = arg;
	Ew *e = a->e;
	int r = a->r;
	CgVec v;
	cg_vinit(cg, &v, DT_F32);
	EwRow w = {.e = e, .ops = a->ops};
	LLVMTypeRef sct = e->ct;
	if (r == 1) {
		int64_t n = a->dims[0], nfull = n / a->blk, rem = n % a->blk;
		/* one dim: each operand is contiguous or a broadcast scalar */
		for (int i = 0; i <= e->nops; i++) {
			if (i < e->nops && a->ops[i] == IR_NONE)
				continue;
			w.off[i] = cg_i64(cg, 0);
			if (i < e->nops && a->cst[i][0] == 0)
				w.bc[i] = cg_vsplat(&v, cg_load(cg, a->ops[i], w.off[i]));
		}
		e->ct = v.t;
		if (nfull > 0) {
			LLVMValueRef hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, r1, cg_i64(cg, nfull), ""),
			                                  r1, cg_i64(cg, nfull), "");
			CgLoop lb;
			cg_for_v(cg, &lb, r0, hi);
			cg_vrow(&v, LLVMBuildNSWMul(cg->b, lb.iv, cg_i64(cg, a->blk), ""), a->blk, 1, ew_step, &w);
			cg_for_end(cg, &lb);
		}
		if (rem > 0) {
			CgIf last;
			cg_if(cg, &last, LLVMBuildICmp(cg->b, LLVMIntSGT, r1, cg_i64(cg, nfull), ""));
			cg_vrow(&v, cg_i64(cg, nfull * a->blk), rem, 1, ew_step, &w);
			cg_if_end(cg, &last);
		}
		e->ct = sct;
		return;
	}
	CgLoop l0;
	CgNest nest;
	cg_for_v(cg, &l0, r0, r1);
	cg_nest(cg, &nest, r - 2, a->dims + 1);
	LLVMValueRef iv[IR_MAX_RANK];
	iv[0] = l0.iv;
	for (int d = 0; d < r - 2; d++)
		iv[d + 1] = nest.iv[d];
	for (int i = 0; i <= e->nops; i++) {
		if (i < e->nops && a->ops[i] == IR_NONE)
			continue;
		w.off[i] = cg_linear(cg, r - 1, iv, a->cst[i]);
		if (i < e->nops && a->cst[i][r - 1] == 0)
			w.bc[i] = cg_vsplat(&v, cg_load(cg, a->ops[i], w.off[i]));
	}
	e->ct = v.t;           /* scalar() now builds lane-wise */
	cg_vrow(&v, cg_i64(cg, 0), a->dims[r - 1], 1, ew_step, &w);
	e->ct = sct;
	cg_nest_end(cg, &nest);
	cg_for_end(cg, &l0);
}

/* Work per element in kern_rows' units: 1 for an op of a few
 * instructions, 5 for one that calls a transcendental function (exp, erf,
 * tanh, ...: some tens of instructions per vector).  */
static int64_t op_cost(Op op, bool pow_square)
{
	switch (op) {
	case OP_Abs: case OP_Neg: case OP_Relu: case OP_Sign: case OP_Sqrt: case OP_Reciprocal:
	case OP_Floor: case OP_Ceil: case OP_Round: case OP_LeakyRelu: case OP_HardSigmoid:
	case OP_HardSwish: case OP_ThresholdedRelu: case OP_Identity: case OP_Dropout: case OP_Clip:
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_PRelu: case OP_Max: case OP_Min:
	case OP_Sum: case OP_Mean: case OP_Where: case OP_IsNaN: case OP_IsInf:
		return 1;
	case OP_Pow:
		return pow_square ? 1 : 5;
	default:
		return 5;
	}
}

/* op_cost of the node: of each step for an ElemChain. */
static int64_t ew_cost(const Ew *e)
{
	if (e->op != OP_ElemChain)
		return op_cost(e->op, e->pow_square);
	int64_t c = 0;
	for (int k = 0; k < e->chain->nsteps; k++)
		c += op_cost(e->chain->step[k].op, false);
	return c;
}

/* The vector form of ew_emit over dims[0..r) (r >= 1), split among tasks
 * by rows of the outermost dim, or blocks of a flat dim, when large
 * (kern_rows). */
static bool ew_emit_vec(Ew *e, const ValueId *ops, int r, const int64_t *dims,
                        int64_t cst[EW_MAX_OPS + 1][IR_MAX_RANK])
{
	Cg *cg = e->cg;
	EwVec a = {e, ops, r, dims, cst, 0};
	int64_t numel = 1;
	for (int d = 0; d < r; d++)
		numel *= dims[d];
	int64_t work = numel * ew_cost(e);
	if (r >= 2) {
		kern_rows(cg, dims[0], work, ew_vec_body, &a);
		return true;
	}
	/* one flat dim: blocks of a multiple of 64 elements (whole vectors
	 * for every width), at most 64 of them; one block when serial */
	int64_t n = dims[0];
	a.blk = n;
	if (kern_rows_tasks(cg, n, work) > 1) {
		a.blk = (n + 63) / 64;
		a.blk = (a.blk + 63) / 64 * 64;
	}
	kern_rows(cg, (n + a.blk - 1) / a.blk, work, ew_vec_body, &a);
	return true;
}

/* Emits out[i] = scalar(ops[..][b(i)]) over the output shape. */
static bool ew_emit(Ew *e, const ValueId *ops)
{
	Cg *cg = e->cg;
	ValueId out = e->n->out[0];
	const Shape *os = &gval(cg->g, out)->shape;
	if (!shape_is_static(os))
		return cg_unsupported(cg, -1, "output shape is not static");
	int rank = os->rank;
	int k = e->nops + 1;     /* operands + output (last) */
	int64_t st[EW_MAX_OPS + 1][IR_MAX_RANK];
	for (int i = 0; i < e->nops; i++) {
		if (ops[i] == IR_NONE)
			continue;
		const Shape *s = &gval(cg->g, ops[i])->shape;
		if (!shape_is_static(s) || s->rank > rank)
			return cg_unsupported(cg, i, "shape does not broadcast to the output");
		for (int d = 0; d < s->rank; d++) {
			int64_t od = os->dims[rank - s->rank + d];
			if (s->dims[d] != 1 && s->dims[d] != od)
				return cg_unsupported(cg, i, "shape does not broadcast to the output");
		}
		cg_broadcast_strides(s, rank, st[i]);
	}
	shape_strides(os, st[k - 1]);
	if (shape_numel(os) == 0)
		return true;
	/* drop size-1 dims, merge dims contiguous for every operand */
	int64_t dims[IR_MAX_RANK], cst[EW_MAX_OPS + 1][IR_MAX_RANK];
	int r = 0;
	for (int d = 0; d < rank; d++) {
		if (os->dims[d] == 1)
			continue;
		bool merge = r > 0;
		for (int j = 0; j < k && merge; j++)
			if ((j == k - 1 || ops[j] != IR_NONE) && cst[j][r - 1] != st[j][d] * os->dims[d])
				merge = false;
		if (merge) {
			dims[r - 1] *= os->dims[d];
			for (int j = 0; j < k; j++)
				cst[j][r - 1] = st[j][d];
		} else {
			dims[r] = os->dims[d];
			for (int j = 0; j < k; j++)
				cst[j][r] = st[j][d];
			r++;
		}
	}
	if (ew_vectorize(e, ops, r, cst))
		return ew_emit_vec(e, ops, r, dims, cst);
	CgNest nest;
	cg_nest(cg, &nest, r, dims);
	LLVMValueRef x[EW_MAX_OPS];
	for (int i = 0; i < e->nops; i++)
		x[i] = ops[i] == IR_NONE ? NULL : cg_load(cg, ops[i], cg_linear(cg, r, nest.iv, cst[i]));
	LLVMValueRef y = scalar(e, x);
	cg_store(cg, out, cg_linear(cg, r, nest.iv, cst[k - 1]), y);
	cg_nest_end(cg, &nest);
	return true;
}

/* Dropout-12+: only inference (training_mode absent or constant false). */
static bool dropout_ok(Cg *cg, const Node *n)
{
	if (n->nin < 3 || n->in[2] == IR_NONE)
		return true;
	/* a constant ratio of 0 drops nothing even when training */
	if (n->nin > 1 && n->in[1] != IR_NONE) {
		const Value *ratio = gval(cg->g, n->in[1]);
		if (ratio->kind == VK_CONST && ratio->data && shape_numel(&ratio->shape) == 1 &&
		    value_get_f64(ratio, 0) == 0.0)
			return true;
	}
	const Value *tm = gval(cg->g, n->in[2]);
	if (tm->kind != VK_CONST || !tm->data || shape_numel(&tm->shape) != 1)
		return cg_unsupported(cg, 2, "training_mode must be a constant (inference only)");
	if (value_get_int(tm, 0) != 0)
		return cg_unsupported(cg, 2, "training_mode=true (random dropout) is not supported");
	return true;
}

/* ElemChain: the loop nest over its inputs, one-element constants as
 * immediates. */
static bool chain_lower(Ew *e)
{
	Cg *cg = e->cg;
	const Node *n = e->n;
	e->chain = node_chain(cg->g, (NodeId)(n - cg->g->nodes), cg->d);
	if (!e->chain)
		return false;
	ValueId ops[EW_MAX_OPS];
	e->nops = n->nin;
	for (int i = 0; i < n->nin; i++) {
		const Value *v = gval(cg->g, n->in[i]);
		e->cimm[i] = v->kind == VK_CONST && v->data && v->dtype == DT_F32 && shape_numel(&v->shape) == 1;
		if (e->cimm[i])
			e->cval[i] = value_get_f64(v, 0);
		ops[i] = e->cimm[i] ? IR_NONE : n->in[i];
	}
	e->t = e->t1 = DT_F32;
	e->tout = gval(cg->g, n->out[0])->dtype;
	if (e->tout != DT_F32)
		return cg_unsupported(cg, -1, "ElemChain computes f32, its output is %s", dtype_name(e->tout));
	if (!ew_setup(e, ops))
		return false;
	e->ct = cg_compute_type(cg, DT_F32);
	return ew_emit(e, ops);
}

bool cg_lower_elementwise(Cg *cg, const Node *n)
{
	Ew e;
	memset(&e, 0, sizeof e);
	e.cg = cg;
	e.n = n;
	e.op = n->op;
	if (n->nout < 1 || n->out[0] == IR_NONE)
		return true;    /* nothing is read from it */
	if (n->op == OP_ElemChain)
		return chain_lower(&e);
	ValueId ops[EW_MAX_OPS];
	switch (n->op) {
	case OP_Clip:
		ops[0] = n->in[0];
		ops[1] = n->nin > 1 && n->opset >= 11 ? n->in[1] : IR_NONE;
		ops[2] = n->nin > 2 && n->opset >= 11 ? n->in[2] : IR_NONE;
		e.nops = 3;
		break;
	case OP_Dropout: case OP_CastLike: case OP_Identity: case OP_Cast:
		ops[0] = n->in[0];
		e.nops = 1;
		break;
	default:
		if (n->nin > EW_MAX_OPS)
			return cg_unsupported(cg, -1, "more than %d inputs", EW_MAX_OPS);
		for (int i = 0; i < n->nin; i++) {
			if (n->in[i] == IR_NONE)
				return cg_unsupported(cg, i, "input is missing");
			ops[i] = n->in[i];
		}
		e.nops = n->nin;
		break;
	}
	if (ops[0] == IR_NONE)
		return cg_unsupported(cg, 0, "input is missing");
	e.t = gval(cg->g, ops[0])->dtype;
	e.t1 = e.nops > 1 && ops[1] != IR_NONE ? gval(cg->g, ops[1])->dtype : DT_UNDEF;
	e.tout = gval(cg->g, n->out[0])->dtype;
	if (n->op == OP_Dropout && !dropout_ok(cg, n))
		return false;
	if (!ew_setup(&e, ops))
		return false;
	e.ct = cg_compute_type(cg, e.t);
	if (n->op == OP_Cast) {
		int64_t to = attr_int(n, "to", 0);
		if (to != (int64_t)e.tout)
			return cg_unsupported(cg, -1, "Cast to=%lld but the output is %s",
			                      (long long)to, dtype_name(e.tout));
	}

	/* Identity / Dropout / same-type Cast: a plain copy */
	const Value *in = gval(cg->g, ops[0]), *out = gval(cg->g, n->out[0]);
	bool copy = (n->op == OP_Identity || n->op == OP_Dropout ||
	             ((n->op == OP_Cast || n->op == OP_CastLike) && e.t == e.tout));
	if (copy && shape_is_static(&out->shape) && shape_eq(&in->shape, &out->shape) &&
	    e.t == e.tout) {
		cg_memcpy(cg, cg_ptr(cg, n->out[0]), cg_ptr(cg, ops[0]),
		          shape_numel(&out->shape) * (int64_t)dtype_size(e.t));
	} else if (!ew_emit(&e, ops)) {
		return false;
	}
	if (n->op == OP_Dropout && n->nout > 1 && n->out[1] != IR_NONE) {
		/* bool since Dropout-10; of T in Dropout-7..9 */
		const Value *mask = gval(cg->g, n->out[1]);
		if (!dtype_ok(mask->dtype) || !shape_is_static(&mask->shape))
			return cg_unsupported(cg, -1, "Dropout mask must be a static numeric or bool tensor");
		if (mask->dtype == DT_BOOL) {
			cg_memset(cg, cg_ptr(cg, n->out[1]), 1, shape_numel(&mask->shape));
		} else {
			CgLoop l;
			cg_for(cg, &l, 0, shape_numel(&mask->shape));
			cg_store(cg, n->out[1], l.iv, cg_const(cg, mask->dtype, 1.0));
			cg_for_end(cg, &l);
		}
	}
	return true;
}

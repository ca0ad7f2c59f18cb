/* codegen/mathfn.h — our own elementary functions, emitted as LLVM IR.
 *
 * Generated code must not call libm, so every transcendental function is
 * emitted here as straight-line IR (range reduction + polynomial, selects
 * instead of branches) that the loop vectoriser can widen.  Each takes and
 * returns a `float` or `double` LLVM value, or a vector <w x float|double>
 * (the type of x; both arguments of a binary function have the same type).
 * A vector form computes every lane exactly as the scalar form does (same
 * algorithm, same results, same accuracy), so explicit vector loops
 * (codegen/vec.h) and their scalar tails agree bit for bit; the one
 * exception is fmod, which is scalar only.  f16/bf16 callers extend to
 * float first (cg_load does).
 *
 * Accuracy (measured by tests/unit/test_mathfn.c against libm):
 *   f32: exp, expm1, log computed in float, <= 2 ulp; erf, tanh, sigmoid
 *        computed in float, <= 1 ulp; erfc computed in float, <= 1.5 ulp
 *        where the result is not subnormal (measured maxima: erf 0.65
 *        (every float), tanh 0.87, sigmoid 0.74, erfc 1.15 ulp, every
 *        256th float with FMA; no larger on baseline x86-64 without FMA,
 *        every 4096th float); log1p, sin,
 *        cos, tan, atan, asin, acos, pow computed in double and rounded
 *        once, <= 1 ulp (sin/cos/tan for every finite float: arguments
 *        from 2^20 up are reduced with 4/pi to 96 bits).
 *   f64: real double-precision algorithms: exp, expm1, log, tanh, erf
 *        <= 2 ulp; log1p, sigmoid, sin, cos, tan, atan, asin, acos <= 3 ulp;
 *        erfc <= 6 ulp (1 - erf cancellation for 0.5 < x < 1); pow is
 *        exp(y*log|x|) in double, relative error up to ~|y ln x| * 2^-53.
 *   sin/cos/tan: inf and NaN give NaN; f64 |x| >= 2^50 gives NaN too.
 * sqrt/fabs are llvm.sqrt/llvm.fabs.  floor/ceil/round/trunc are built from
 * adds and selects, NOT llvm.floor & co: on baseline x86-64 those intrinsics
 * become calls to floorf/ceil/roundevenf.  fmod is exact (integer long
 * division with a loop).  Nothing here ever calls libm.
 */
#ifndef ONNXCC_MATHFN_H
#define ONNXCC_MATHFN_H

#include "cg.h"

LLVMValueRef cg_math_exp(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_exp_nonpos(Cg *cg, LLVMValueRef x); /* x <= 0 or NaN: exp's bits, shorter */
LLVMValueRef cg_math_log(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_erf(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_tanh(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_sin(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_cos(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_tan(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_atan(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_asin(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_acos(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_sqrt(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_pow(Cg *cg, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef cg_math_sigmoid(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_fabs(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_floor(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_ceil(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_round_even(Cg *cg, LLVMValueRef x);  /* ties to even */
LLVMValueRef cg_math_fmin(Cg *cg, LLVMValueRef a, LLVMValueRef b); /* NaN-propagating */
LLVMValueRef cg_math_fmax(Cg *cg, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_math_fmod(Cg *cg, LLVMValueRef a, LLVMValueRef b); /* C fmod */
LLVMValueRef cg_math_expm1(Cg *cg, LLVMValueRef x);  /* exp(x)-1 without cancellation */
LLVMValueRef cg_math_log1p(Cg *cg, LLVMValueRef x);  /* log(1+x) without cancellation */
LLVMValueRef cg_math_erfc(Cg *cg, LLVMValueRef x);   /* 1-erf(x), accurate for large x */
/* GELU, erf form: x Phi(x) = 0.5x(1 + erf(x/sqrt2)).  f32: piecewise
 * polynomial for Phi (absolute error ~2^-25: a few ulp where x >= -2,
 * absolute below |x| 2^-24 under it, where 1 + erf cancels too; 0 from
 * x <= -5.9), in 8 pieces, or 16 in code for AVX-512 (cg->isa "avx512":
 * one vpermps per coefficient; its bits differ from the 8-piece form's
 * within those bounds); f64: 0.5x(1 + erf(x/sqrt2)) with the f64 erf. */
LLVMValueRef cg_math_gelu(Cg *cg, LLVMValueRef x);
/* cg_math_gelu of x[0..n) (values of one type) in place, the same bits;
 * in f32 code for AVX-512 emitted inline with the n vectors' steps side
 * by side (n <= 8), else n calls. */
void cg_math_gelu_n(Cg *cg, LLVMValueRef *x, int n);
LLVMValueRef cg_math_trunc(Cg *cg, LLVMValueRef x);  /* toward zero */
LLVMValueRef cg_math_copysign(Cg *cg, LLVMValueRef mag, LLVMValueRef sgn); /* llvm.copysign */

/* The scalar helper function `name` ("exp", "log", "sin", "pow", ... as
 * in the "onnxcc_math_<name>_<f32|f64>" symbols) of f64 (dbl) or f32, created
 * in cg->mod on first use; NULL for an unknown name.  Needs only cg->ctx,
 * cg->mod, cg->isa.fma (and a zeroed cg->math_fns). */
LLVMValueRef cg_math_helper(Cg *cg, const char *name, bool dbl);

/* Host evaluation for the constant folder (codegen/mathfn_host.c):
 * out[i] = name(x[i]) (or name(x[i], y[i]) for pow) for i < n, computed by
 * interpreting the scalar helper's IR as built for a target with
 * (isa_fma) or without an FMA instruction, with llvm.fmuladd fused or
 * not, for ISA isa_name (cg->isa.name: NULL, or "avx512" for the helpers
 * whose AVX-512 form differs, f32 exp).  x, y hold f32 values (exactly
 * representable) when !dbl.  Gives the generated code's bits for that
 * variant; false if the helper uses something the interpreter does not
 * support (fmod). */
bool cg_math_host_eval(const char *name, bool dbl, bool isa_fma, bool fused, const char *isa_name,
                       const double *x, const double *y, double *out, int64_t n);

#endif

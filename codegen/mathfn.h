/* codegen/mathfn.h — our own elementary functions, emitted as LLVM IR.
 *
 * Generated code must not call libm, so every transcendental function is
 * emitted here as straight-line IR (range reduction + polynomial, selects
 * instead of branches) that the loop vectoriser can widen.  Each takes and
 * returns a scalar `float` or `double` LLVM value (the type of x); double
 * inputs are computed to double accuracy where stated in mathfn.c, else
 * through float.  Accuracy targets (f32, normal range): <= 2 ulp for exp,
 * log, sin, cos, tanh, erf; pow via exp(y*log(x)) with extra precision.
 * sqrt uses llvm.sqrt, floor/ceil/round/fabs LLVM intrinsics (these lower to
 * instructions, not libm calls, on every target we support).
 */
#ifndef ONNXCC_MATHFN_H
#define ONNXCC_MATHFN_H

#include "cg.h"

LLVMValueRef cg_math_exp(Cg *cg, LLVMValueRef x);
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

#endif

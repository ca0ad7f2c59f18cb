/* codegen/vec.h — explicit vector loops over contiguous rows, at the full
 * width of the target's vector unit.
 *
 * One helper for every row-wise lowering (softmax, layer norm, reductions
 * over the last axis, elementwise math): cg_vrow() walks n contiguous
 * elements in steps of CgVec.w lanes and calls a body for each step.  The
 * body reads and writes through cg_vload()/cg_vstore() and computes on
 * values of type CgVec.t with the ordinary LLVM builders (fadd, fcmp,
 * select and the cg_math_* functions all work lane by lane); constants
 * come from cg_vk().
 *
 * Lanes: f32 rows use cg->isa.vlen lanes (16 AVX-512, 8 AVX2, 4 SSE/NEON);
 * every other dtype (f64, f16, bf16) uses w = 1, i.e. plain scalars of the
 * accumulation type (cg_acc_dtype: f16/bf16 are computed in f32), so a
 * lowering writes its body once for all dtypes.
 *
 * Loop shape for n elements, u slots (u accumulators the body keeps):
 *   main:  n / (w*u) iterations, each calling the body u times (slot 0..u-1)
 *   rest:  the (n/w) % u leftover full vectors, straight-line
 *   tail:  n % w elements as one vector with a constant lane mask
 *          (llvm.masked.load/store: masked-off lanes are never accessed;
 *          loads give `fill` there, a neutral value for the reduction).
 * Independent slots let reductions keep u partial sums in flight instead
 * of one serial chain; the result depends only on n, w and u (fixed at
 * compile time), never on data.
 */
#ifndef ONNXCC_VEC_H
#define ONNXCC_VEC_H

#include "cg.h"
#include "lower_data.h"   /* CgCombine */

#define CG_VMAX_SLOTS 8

typedef struct CgVec {
	Cg *cg;
	int w;                  /* lanes (1: scalar) */
	DType ad;               /* lane dtype: DT_F32 or DT_F64 */
	LLVMTypeRef t;          /* type of a step's values: float/double or <w x float> */
	/* set by cg_vrow() before each body call */
	LLVMValueRef idx;       /* i64 element index of lane 0 */
	int slot;               /* 0 .. u-1 */
	LLVMValueRef mask;      /* tail: constant <w x i1>; NULL for a full step */
} CgVec;

typedef void (*CgVBody)(CgVec *v, void *ctx);

/* Prepares v for rows of dtype t (lanes and types as above).  When the
 * lanes are wider than 256 bits, marks the node function cg->fn so LLVM
 * keeps them in 512-bit registers ("min-legal-vector-width"="512",
 * "prefer-vector-width"="512"). */
void cg_vinit(Cg *cg, CgVec *v, DType t);

/* Calls body for elements [base, base + n) as described in the file
 * comment; base is an i64 value, u in 1..CG_VMAX_SLOTS.  n may be 0. */
void cg_vrow(CgVec *v, LLVMValueRef base, int64_t n, int u, CgVBody body, void *ctx);

/* The step's lanes of val (at v->idx), converted to the lane dtype;
 * masked-off tail lanes hold fill.  For w > 1 val must be f32. */
LLVMValueRef cg_vload(CgVec *v, ValueId val, double fill);
/* cg_vload of f32 lanes at an f32 pointer instead of a value: base[idx..]. */
LLVMValueRef cg_vload_f32(CgVec *v, LLVMValueRef base, double fill);
/* Stores the step's lanes of x into val (converted to val's dtype). */
void cg_vstore(CgVec *v, ValueId val, LLVMValueRef x);

LLVMValueRef cg_vk(CgVec *v, double x);                 /* x in every lane */
LLVMValueRef cg_vsplat(CgVec *v, LLVMValueRef s);       /* scalar s in every lane */

/* Accumulators: u allocas of type v->t set to init / combined with op
 * into one vector and then across lanes (a fixed tree) into a scalar of
 * the lane dtype.  Float max/min propagate NaN (cg_dm_combine). */
void cg_vacc_init(CgVec *v, LLVMValueRef *acc, int u, double init);
LLVMValueRef cg_vacc_get(CgVec *v, LLVMValueRef *acc);          /* acc[v->slot] */
void cg_vacc_put(CgVec *v, LLVMValueRef *acc, LLVMValueRef x);  /* acc[v->slot] = x */
LLVMValueRef cg_vacc_reduce(CgVec *v, LLVMValueRef *acc, int u, CgCombine op);
/* The first step of cg_vacc_reduce alone: the u accumulators combined
 * into one vector (v->t), not yet across its lanes. */
LLVMValueRef cg_vacc_slots(CgVec *v, LLVMValueRef *acc, int u, CgCombine op);
/* cg_vacc_reduce's halving across the lanes for w = v->w vectors at once
 * (rows across lanes, w a power of two > 1): lane i of the result is x[i]
 * reduced with the same tree and operand order (the same bits), in
 * w - 1 combines and 2 (w - 1) two-source shuffles instead of w (log2 w)
 * of each. */
LLVMValueRef cg_vreduce_rows(CgVec *v, LLVMValueRef *x, CgCombine op);

#endif

/* codegen/lower_data.h — helpers shared by the data-movement, indexing and
 * reduction lowerings (lower_data.c, lower_index.c, lower_reduce.c,
 * lower_softmax.c).
 * Private to those files; defined in lower_copy.c (cg_lower_index in
 * lower_index.c); the public entry points are in lower.h.
 */
#ifndef ONNXCC_LOWER_DATA_H
#define ONNXCC_LOWER_DATA_H

#include "cg.h"

/* Loop dimensions a strided copy may have before merging (Tile uses
 * two per input dimension). */
#define CG_DM_MAX_DIMS (2 * IR_MAX_RANK)

/* One side of a strided copy: element k of the iteration space lives at
 * element  base + sum_k i_k * strides[k]  of value v's buffer. */
typedef struct CgView {
	ValueId v;
	int64_t base;
	int64_t strides[CG_DM_MAX_DIMS];
} CgView;

/* Emits  dst[dst.base + sum i_k*dst.strides[k]] = src[src.base + sum
 * i_k*src.strides[k]]  for every i in dims[0..rank).  Elements are copied
 * bit for bit (both values must have the same element size).  Unit
 * dimensions are dropped and contiguous neighbours merged first, so the
 * innermost loop is as long and as contiguous as the layout allows.  An
 * empty iteration space emits nothing. */
void cg_dm_copy(Cg *cg, int rank, const int64_t *dims, const CgView *dst, const CgView *src);

/* The unsigned integer dtype with the element size of t (bool/u8/i8 -> u8,
 * f16 -> u16, f32 -> u32, f64 -> u64, ...): loads/stores of it move bits. */
DType cg_dm_bits_dtype(DType t);

/* Normalises an axis in [-rank, rank) to [0, rank); -1 if out of range. */
int cg_dm_axis(int64_t axis, int rank);

/* Reads the integers of input k of n, which must be a constant (it decides
 * a compile-time property such as a slice start).  Up to max values go to
 * out, their count to *count.  Returns false (after cg_unsupported) when
 * the input is not a compile-time constant or holds more than max values.
 * An omitted input (IR_NONE) gives *count = -1 and true. */
bool cg_dm_const_ints(Cg *cg, const Node *n, int k, int64_t *out, int max, int *count);

/* Wraps a runtime index x (any int compute type) for a dimension of size
 * dim: negative values count from the end; out-of-range values are
 * undefined in ONNX and are clamped into [0, dim-1] so the generated code
 * never reads or writes out of bounds.  Returns i64.  Requires dim > 0. */
LLVMValueRef cg_dm_wrap_index(Cg *cg, LLVMValueRef x, DType t, int64_t dim);

/* Reduction combiners on compute-type values of dtype t. */
typedef enum CgCombine { CG_COMB_NONE, CG_COMB_ADD, CG_COMB_MUL, CG_COMB_MAX, CG_COMB_MIN } CgCombine;
/* a (op) b; CG_COMB_NONE returns b.  Float max/min propagate NaN. */
LLVMValueRef cg_dm_combine(Cg *cg, CgCombine op, DType t, LLVMValueRef a, LLVMValueRef b);
/* a > b (a < b when !greater) in the order of dtype t (float: ordered). */
LLVMValueRef cg_dm_greater(Cg *cg, DType t, LLVMValueRef a, LLVMValueRef b, bool greater);

/* Product of d[lo..hi) (1 when empty). */
int64_t cg_dm_prod(const int64_t *d, int lo, int hi);

/* Softmax, LogSoftmax, Hardmax — lower_softmax.c; called by
 * cg_lower_reduce(). */
bool cg_lower_softmax(Cg *cg, const Node *n);

/* Gather, GatherElements, GatherND, ScatterElements, ScatterND, OneHot,
 * Trilu, EyeLike — lower_index.c; called by cg_lower_data(). */
bool cg_lower_index(Cg *cg, const Node *n);

#endif

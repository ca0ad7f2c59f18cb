/* codegen/lower.h — per-op lowerings, grouped by file.
 *
 * Each function lowers the ops whose ops.def row names it into the current
 * node function (see cg.h for the model).  Return true on success; false after
 * cg_unsupported() for a configuration the group cannot lower.
 */
#ifndef ONNXCC_LOWER_H
#define ONNXCC_LOWER_H

#include "cg.h"

/* The lowerings named by ops.def's lower column, one per file; which ops
 * each lowers is that column. */
bool cg_lower_elementwise(Cg *cg, const Node *n);  /* lower_elementwise.c */
bool cg_lower_data(Cg *cg, const Node *n);         /* lower_data.c, lower_index.c, lower_copy.c */
bool cg_lower_reduce(Cg *cg, const Node *n);       /* lower_reduce.c, lower_softmax.c */
bool cg_lower_linalg(Cg *cg, const Node *n);       /* lower_linalg.c; hands Conv and the
                                                      pools to cg_lower_conv, the
                                                      normalisations to cg_lower_norm */
bool cg_lower_conv(Cg *cg, const Node *n);         /* lower_conv.c */
bool cg_lower_norm(Cg *cg, const Node *n);         /* lower_norm.c */
bool cg_lower_rnn(Cg *cg, const Node *n);          /* lower_rnn.c */
bool cg_lower_loss(Cg *cg, const Node *n);         /* lower_loss.c */
bool cg_lower_quant(Cg *cg, const Node *n);        /* lower_quant.c */
bool cg_lower_misc(Cg *cg, const Node *n);         /* lower_misc.c */
bool cg_lower_resize(Cg *cg, const Node *n);       /* lower_resize.c */
bool cg_lower_attention(Cg *cg, const Node *n);    /* lower_attention.c (fused) */
bool cg_lower_dwconv_nhwc(Cg *cg, const Node *n);  /* lower_dwconv.c (fused) */

/* sum_{k < len} a[ia + k] * b[ib + k] for contiguous float vectors (a, b:
 * element pointers of dtypes ta, tb; ad: the accumulation dtype, f32 or
 * f64; len: i64, may be dynamic).  Vectorised with several partial sums, so
 * the summation order is not sequential.  Shared by the linalg/RNN
 * lowerings — lower_linalg.c */
LLVMValueRef cg_dot(Cg *cg, DType ad, DType ta, LLVMValueRef a, LLVMValueRef ia,
                    DType tb, LLVMValueRef b, LLVMValueRef ib, LLVMValueRef len);

/* Lowers n with its op's function from ops.def. */
bool cg_lower_node(Cg *cg, const Node *n);

#endif

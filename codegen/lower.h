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
bool cg_lower_signal(Cg *cg, const Node *n);       /* lower_signal.c */
bool cg_lower_sampling(Cg *cg, const Node *n);     /* lower_sampling.c */
bool cg_lower_unpool(Cg *cg, const Node *n);       /* lower_unpool.c */
bool cg_lower_det(Cg *cg, const Node *n);          /* lower_det.c */
bool cg_lower_resize(Cg *cg, const Node *n);       /* lower_resize.c */
bool cg_lower_attention(Cg *cg, const Node *n);    /* lower_attention.c (fused) */
bool cg_lower_dwconv_nhwc(Cg *cg, const Node *n);  /* lower_dwconv.c (fused) */
bool cg_lower_relattention(Cg *cg, const Node *n); /* lower_relattention.c (fused) */
bool cg_lower_gather_rows(Cg *cg, const Node *n);  /* lower_remap.c (fused) */

/* sum_{k < len} a[ia + k] * b[ib + k] for contiguous float vectors (a, b:
 * element pointers of dtypes ta, tb; ad: the accumulation dtype, f32 or
 * f64; len: i64, may be dynamic).  Vectorised with several partial sums, so
 * the summation order is not sequential.  Shared by the linalg/RNN
 * lowerings — lower_linalg.c */
LLVMValueRef cg_dot(Cg *cg, DType ad, DType ta, LLVMValueRef a, LLVMValueRef ia,
                    DType tb, LLVMValueRef b, LLVMValueRef ib, LLVMValueRef len);

/* An Einsum's labels as the GEMM path reads them: per output position its
 * size, its element stride in operand 0 and 1 (0: absent or broadcast) and
 * in the output; per summed label the same for the operands. */
typedef struct EinLabels {
	int nout, nsum;
	int64_t osize[IR_MAX_RANK], ostr[2][IR_MAX_RANK], ystr[IR_MAX_RANK];
	int64_t ssize[IR_MAX_RANK], sstr[2][IR_MAX_RANK];
} EinLabels;
/* Einsum node n (two operands) lowered on the GEMM kernel when it is one
 * (batched) matrix product; returns 1 when emitted, 0 when n is not of that
 * form (nothing emitted), -1 after cg_unsupported() — lower_einsum_gemm.c */
int cg_einsum_gemm(Cg *cg, const Node *n, const EinLabels *e);
/* Pieces of the attention lowerings, shared with lower_relattention.c:
 * cg_attn_gemm emits the product g (no batch) in place — kern_gemm_here,
 * or a plain loop nest (alpha, res epilogue only) on targets without a
 * vector unit; cg_attn_row_reduce returns the max (is_max) or the sum of
 * the n floats at row (W-lane vectors; the max over up to 4 accumulators
 * and a shuffle tree, the sum's lanes folded in order);
 * cg_attn_exp_sum replaces row[j] by exp(row[j] - m) and returns their sum
 * (W-lane vectors added lane by lane, then folded by cg_attn_fold: the
 * same order for any row position); cg_attn_fold returns the max (is_max)
 * or the sum of the w lanes of x, halves folded onto each other (lane i
 * with lane i + h, h = w/2 .. 1) — lower_attention.c */
struct KGemm;
void cg_attn_gemm(Cg *cg, const struct KGemm *g);
LLVMValueRef cg_attn_row_reduce(Cg *cg, LLVMValueRef row, int64_t n, bool is_max);
LLVMValueRef cg_attn_exp_sum(Cg *cg, LLVMValueRef row, int64_t n, LLVMValueRef m);
LLVMValueRef cg_attn_fold(Cg *cg, LLVMValueRef x, int w, bool is_max);

/* LayerNormalization over rows of `inner` contiguous elements, shared with
 * the GEMM that fuses it (MatMulEpi norm_scale, lower_linalg.c): per row,
 * y = (x - mean) * inv * scale + bias, mean and inv = 1/sqrt(var + eps)
 * from two passes — LayerNormalization's own arithmetic, so a fused
 * LayerNorm gives its bits.  x and y may be one value (in place); scale
 * and bias (IR_NONE: none) hold `inner` elements of x's dtype; mean and
 * inv_std (IR_NONE: not stored) one per row; x maybe through a row index
 * (row_len, rows: GatherLayerNorm).  Values are read through
 * cg->buf: cg_layernorm_rows is a KRowsFn (kernels.h) over a CgLnRows,
 * emitting rows [r0, r1) — lower_norm.c */
typedef struct CgLnRows {
	ValueId x, scale, bias, y, mean, inv_std;
	int64_t inner;
	double eps;
	/* row_len > 0 (GatherLayerNorm): x is read through rows (an i32
	 * constant), element e of the rows at x[rows[e / row_len] * row_len +
	 * e % row_len]; 0: x is read at e */
	ValueId rows;
	int64_t row_len;
	/* cg_layernorm_stats only: when set (an f32 pointer), the row's inner
	 * elements are read at xrow[0..inner) instead of through x */
	LLVMValueRef xrow;
} CgLnRows;
void cg_layernorm_rows(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1);
/* The statistics of row `row` (i64) of a's rows alone, as
 * cg_layernorm_rows computes them: *mean and *inv (scalars of x's compute
 * type), for a GEMM that normalises its A rows as it copies them
 * (MatMulEpi a_norm_scale, lower_linalg.c).  Reads through cg->buf, or,
 * with a->xrow, the row's elements there (f32, a copy or the row in x
 * itself; row unused): the same loads in
 * the same order, without the row index's address arithmetic per step. */
void cg_layernorm_stats(Cg *cg, const CgLnRows *a, LLVMValueRef row, LLVMValueRef *mean, LLVMValueRef *inv);

/* An f32 pointer to row j (i64) of a group of rows (rarg: the caller's). */
typedef LLVMValueRef (*CgRowPtrFn)(Cg *cg, const void *rarg, LLVMValueRef j);
/* cg_layernorm_stats of n rows at once, rows across lanes: n must be the
 * f32 vector width (> 1); row j's elements are read at rowp(cg, rarg, j)
 * [0..inner) (as with a->xrow).  Each row's two passes run as
 * cg_layernorm_stats' (the same loads, accumulators and operations), the
 * halving across lanes of n rows in one tree (cg_vreduce_rows), then mean
 * and inv of the n rows as vectors: the same bits as n calls of
 * cg_layernorm_stats.  Stores meanp[0..n) and invp[0..n) (f32 pointers;
 * meanp is written before the second pass and read by it). */
void cg_layernorm_stats_rows(Cg *cg, const CgLnRows *a, int n, CgRowPtrFn rowp, const void *rarg,
                             LLVMValueRef meanp, LLVMValueRef invp);

/* Lowers n with its op's function from ops.def. */
bool cg_lower_node(Cg *cg, const Node *n);

#endif

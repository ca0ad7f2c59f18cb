/* passes/infer.h — static shape and dtype inference.
 *
 * requires: a graph from the frontend, every graph input with a static shape
 *           (symbolic dims bound by pass_bind_dims first)
 * keeps:    topological order, value ids
 * sets:     dtype and static shape of every value produced by a live node,
 *           g->shapes_known
 *
 * The rules follow the ONNX operator specifications, per opset version where
 * they differ (n->opset is the version in force for the node).  The rules are
 * split by op family over passes/infer_*.c; passes/infer.c holds the driver,
 * the dispatch table and the helpers those files share (declared in the
 * INFER_INTERNAL section below, which only passes/infer*.c include).
 */
#ifndef ONNXCC_PASSES_INFER_H
#define ONNXCC_PASSES_INFER_H

#include <stdbool.h>

#include "../ir/ir.h"
#include "../ir/params.h"

/* Infers dtype and static shape of every output of node `nid` from its inputs' dtypes/shapes and,
 * where the op needs them (Reshape's shape, Slice's starts/ends/axes/steps, Unsqueeze/Squeeze axes at opset>=13,
 * Split sizes, Expand's shape, Tile repeats, Pad pads, Range, ConstantOfShape, TopK k, OneHot depth, ReduceX axes input ...),
 * the data of constant inputs (Value.kind == VK_CONST, Value.data). Returns false after a diagnostic
 * (diag_node with node_label(g,n), n->op_type, input index) when the model is wrong, the op is unknown
 * (OP_UNKNOWN: "unsupported operator 'X' (domain 'D', opset N)") or a shape-defining input is not constant
 * ("input K: must be a constant for static compilation"). Arity is checked against op_info. */
bool pass_infer_node(Graph *g, NodeId nid, Diag *d);

/* Runs pass_infer_node over all live nodes in order, calling the constant folder after each node
 * (bool pass_fold_node(Graph *g, NodeId nid, Diag *d) from passes/fold.h, written by a colleague — it turns the
 * node's outputs into constants when all inputs are constant and the op is foldable, and marks the node dead).
 * Requires every graph input to have a static shape (symbolic dims bound before: see pass_bind_dims).
 * Sets g->shapes_known. */
bool pass_infer_shapes(Graph *g, Diag *d);

/* Binds symbolic dims: for each "SYM=N" binding, every graph input dim with sym == SYM gets N.
 * An input dim still unknown afterwards -> diagnostic naming the input, the symbol, and the flag
 * ("input 'x' dim 0 is symbolic ('batch'): bind it with --dim batch=N").
 * A malformed binding is a diagnostic; a binding that matches no dim is a warning. */
bool pass_bind_dims(Graph *g, const char *const *bindings, int nbindings, Diag *d);

#ifdef INFER_INTERNAL
/* ---- internal: shared by passes/infer*.c only ---------------------------- */

/* The node being inferred. */
typedef struct InferCtx {
	Graph *g;
	NodeId nid;
	Node *n;
	Diag *d;
	int opset;   /* n->opset, or the graph's import for n's domain when unset */
} InferCtx;

/* One shape rule per op; returns false after a diagnostic. */
typedef bool (*InferFn)(InferCtx *c);

/* Reports "node 'N' (Op): input K: <msg>" (K < 0: no input part); returns false. */
bool ifail(InferCtx *c, int input, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ifail() for an input that must be a constant; names --const-input when it is a graph input. */
bool inot_const(InferCtx *c, int k);
/* Input k, or NULL when omitted (IR_NONE) or beyond n->nin. */
Value *iin(InferCtx *c, int k);
/* Sets dtype and shape of output k when it is present. */
void iset(InferCtx *c, int k, DType dt, const Shape *s);
/* Sets output k to input k's dtype and shape (when both present). */
void iset_like(InferCtx *c, int out, int in);
/* Reads constant input k (1-D or scalar, integer dtype) into out[max];
 * *count gets its length.  Diagnoses a non-constant or non-integer input
 * or one longer than max. */
bool iconst_ints(InferCtx *c, int k, int64_t *out, int max, int *count);
/* Normalizes axis (negative counts from the end) against [0, rank); the
 * diagnostic names `input` (or none if < 0) and the attribute/input `what`. */
bool iaxis(InferCtx *c, int64_t axis, int rank, int input, const char *what, int *out);
/* Numpy (multidirectional) broadcast of a and b into *out; ia/ib are the
 * input indices named in the diagnostic. */
bool ibroadcast(InferCtx *c, const Shape *a, int ia, const Shape *b, int ib, Shape *out);
/* Diagnoses when input k's rank is outside [lo, hi] (hi < 0: no bound). */
bool irank(InferCtx *c, int k, int lo, int hi);
/* Diagnoses when input k's dtype differs from input ref's. */
bool isame_dtype(InferCtx *c, int k, int ref);
/* Writes "[1,2,3]" for diagnostics; static buffer rotating over 4 slots. */
const char *ishape_str(const Shape *s);

/* Saturating arithmetic on sizes computed from untrusted attributes: the
 * result clamps to INT64_MIN/INT64_MAX, which the driver's output check
 * then reports as too large (never signed overflow). */
static inline int64_t isat_mul(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}
static inline int64_t isat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return a < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

/* True when op has a shape rule (the unit test checks every op has one). */
bool pass_infer_has_rule(Op op);

/* Rules, one per family file. */
bool infer_unary(InferCtx *c);       /* infer_elem.c */
bool infer_cast(InferCtx *c);
bool infer_castlike(InferCtx *c);
bool infer_clip(InferCtx *c);
bool infer_dropout(InferCtx *c);
bool infer_identity(InferCtx *c);
bool infer_binary(InferCtx *c);
bool infer_variadic(InferCtx *c);
bool infer_where(InferCtx *c);
bool infer_softmax(InferCtx *c);

bool infer_reduce(InferCtx *c);      /* infer_reduce.c */
bool infer_argminmax(InferCtx *c);

bool infer_shape(InferCtx *c);       /* infer_shape.c */
bool infer_size(InferCtx *c);
bool infer_constant(InferCtx *c);
bool infer_constant_of_shape(InferCtx *c);
bool infer_reshape(InferCtx *c);
bool infer_flatten(InferCtx *c);
bool infer_squeeze(InferCtx *c);
bool infer_unsqueeze(InferCtx *c);
bool infer_transpose(InferCtx *c);
bool infer_concat(InferCtx *c);
bool infer_split(InferCtx *c);
bool infer_slice(InferCtx *c);
bool infer_expand(InferCtx *c);
bool infer_tile(InferCtx *c);
bool infer_pad(InferCtx *c);
bool infer_range(InferCtx *c);

bool infer_gather(InferCtx *c);      /* infer_index.c */
bool infer_gather_elements(InferCtx *c);
bool infer_gather_nd(InferCtx *c);
bool infer_scatter_elements(InferCtx *c);
bool infer_scatter_nd(InferCtx *c);
bool infer_trilu(InferCtx *c);
bool infer_onehot(InferCtx *c);
bool infer_cumsum(InferCtx *c);
bool infer_depth_to_space(InferCtx *c);
bool infer_space_to_depth(InferCtx *c);
bool infer_eyelike(InferCtx *c);
bool infer_topk(InferCtx *c);
bool infer_scatter(InferCtx *c);
bool infer_reverse_sequence(InferCtx *c);

bool infer_matmul(InferCtx *c);      /* infer_nn.c */
bool infer_gemm(InferCtx *c);
bool infer_conv(InferCtx *c);
bool infer_conv_transpose(InferCtx *c);
bool infer_pool(InferCtx *c);
bool infer_global_pool(InferCtx *c);
bool infer_batchnorm(InferCtx *c);
bool infer_instancenorm(InferCtx *c);
bool infer_layernorm(InferCtx *c);
bool infer_same_shape(InferCtx *c);
bool infer_rnn(InferCtx *c);
bool infer_det(InferCtx *c);
bool infer_max_unpool(InferCtx *c);

bool infer_nll_loss(InferCtx *c);    /* infer_loss.c */
bool infer_sce_loss(InferCtx *c);

bool infer_quantize(InferCtx *c);    /* infer_quant.c */
bool infer_dequantize(InferCtx *c);
bool infer_dynamic_quantize(InferCtx *c);
bool infer_matmul_integer(InferCtx *c);
bool infer_qlinear_matmul(InferCtx *c);
bool infer_conv_integer(InferCtx *c);

bool infer_resize(InferCtx *c);      /* infer_resize.c */
bool infer_upsample(InferCtx *c);

bool infer_grid_sample(InferCtx *c); /* infer_sampling.c */
bool infer_roi_align(InferCtx *c);

bool infer_window(InferCtx *c);      /* infer_signal.c */

bool infer_attention(InferCtx *c);   /* infer_fused.c */
bool infer_dwconv_nhwc(InferCtx *c);
bool infer_gather_rows(InferCtx *c);
bool infer_gather_layernorm(InferCtx *c);
bool infer_matmul_epi(InferCtx *c);
bool infer_relattention(InferCtx *c);
bool infer_elem_chain(InferCtx *c);

bool infer_einsum(InferCtx *c);      /* infer_einsum.c */
#endif /* INFER_INTERNAL */

#endif

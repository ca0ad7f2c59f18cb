/* ir/params.h — typed operator parameters, parsed once per node.
 *
 * An op whose attributes (and, for some, constant inputs) are read by
 * several stages — shape inference, the folder, the fusion passes and the
 * lowering — has them parsed here, once, into a typed struct hung on the
 * node (Node.params, allocated from the graph's arena).  Every reader goes
 * through node_params() and friends and sees the same numbers, validated
 * once, with the diagnostics of one place.
 *
 * Life cycle: shape inference parses the params of every node it infers
 * (pass_infer_node drops what the node had, so a re-inferred node is parsed
 * again); any later reader of a node without params parses them on first
 * use.  Whatever changes what the params were parsed from clears them:
 * graph_add_attr, graph_replace_uses (for the nodes it rewires),
 * node_rewrite, or node_params_reset by a pass that edits a node in place.
 * ir_verify re-parses every cached set and reports one that no longer
 * matches its node.
 *
 * Parameters are resolved against the input shapes (spatial rank, kernel
 * sizes from the weight, axes normalised against the rank), so they need
 * the inputs' shapes named below to be known.
 */
#ifndef ONNXCC_IR_PARAMS_H
#define ONNXCC_IR_PARAMS_H

#include "ir.h"

typedef enum AutoPad {
	AUTOPAD_NOTSET = 0,
	AUTOPAD_SAME_UPPER,  /* odd padding at the end */
	AUTOPAD_SAME_LOWER,  /* odd padding at the beginning */
	AUTOPAD_VALID,
} AutoPad;

/* Sliding-window geometry: Conv-11, ConvTranspose-11, ConvInteger-10,
 * QLinearConv-10, MaxPool-12, AveragePool-11/19, MaxUnpool-11, and the
 * fused DwConvNhwc.  Needs input 0's rank (and the weight's shape). */
typedef struct WindowParams {
	int n;                               /* spatial dims: rank(X) - 2 (DwConvNhwc: 2) */
	int64_t kernel[IR_MAX_RANK];         /* >= 1: the weight's spatial dims (checked
	                                        against kernel_shape), or kernel_shape */
	int64_t strides[IR_MAX_RANK];        /* >= 1, default 1 */
	int64_t dilations[IR_MAX_RANK];      /* >= 1, default 1 (1 where the op has none) */
	int64_t pads[2 * IR_MAX_RANK];       /* ONNX order: the n begins, then the n
	                                        ends; >= 0; all 0 unless NOTSET */
	AutoPad auto_pad;
	int64_t group;                       /* Conv family: as given (default 1);
	                                        the shape rule checks it fits */
	bool ceil_mode;                      /* pools, opset >= 10 */
	bool count_include_pad;              /* AveragePool */
	bool storage_colmajor;               /* MaxPool storage_order = 1 */
	int64_t output_padding[IR_MAX_RANK]; /* ConvTranspose: >= 0, below the stride
	                                        or the dilation; default 0 */
	bool has_output_shape;               /* ConvTranspose output_shape given: */
	int64_t output_shape[IR_MAX_RANK];   /*   its n spatial sizes */
} WindowParams;

/* Transpose: output dim i is input dim perm[i] (default: reversed).
 * Needs input 0's rank. */
typedef struct PermParams {
	int rank;
	int64_t perm[IR_MAX_RANK];
} PermParams;

/* Reduce*: which dims of input 0 are reduced.  Axes from the attribute
 * (ReduceSum-1..11, the others -1..13) or the constant input 1 (ReduceSum-13,
 * the others -18); none reduce every dim, or none at all with
 * noop_with_empty_axes=1 (the op is then an identity).  Needs input 0's
 * rank and input 1's data. */
typedef struct ReduceParams {
	int rank;                   /* input 0's */
	bool reduced[IR_MAX_RANK];  /* per input dim */
	bool noop;                  /* identity (nothing reduced) */
	bool keepdims;              /* default 1 */
	bool all;                   /* no axes given: every dim reduced (unless noop) */
} ReduceParams;

/* ElemChain (ops.def): its expr attribute as a program of steps in
 * evaluation order (children before parents), the last giving the output.
 * An operand ref < nin is input ref; ref >= nin is the result of step
 * ref - nin (an earlier one); b is -1 for a unary op.  Every input is read
 * by some step and every step but the last by exactly one later step (the
 * expression is a tree).  Needs the node's inputs only for their count. */
enum { CHAIN_MAX_STEPS = 32, CHAIN_MAX_INPUTS = 16 };
typedef struct ChainStep {
	Op op;          /* Add, Sub, Mul, Div, Neg, Relu, Sigmoid, Tanh or Erf */
	int16_t a, b;   /* operand refs (see above) */
} ChainStep;
typedef struct ChainParams {
	int nin;        /* the node's inputs, 1..CHAIN_MAX_INPUTS */
	int nsteps;     /* 1..CHAIN_MAX_STEPS */
	ChainStep step[CHAIN_MAX_STEPS];
} ChainParams;

/* Arity of an op ElemChain accepts (1 or 2), 0 for any other op. */
int chain_op_arity(Op op);

/* The parameters of one node; which member is set follows from op. */
typedef struct OpParams {
	Op op;
	union {
		WindowParams win;
		PermParams perm;
		ReduceParams red;
		ChainParams chain;
	} u;
} OpParams;

/* True when op has typed params (node_params applies). */
bool op_has_params(Op op);

/* The params of node id (whose op has params), parsed on first use and
 * cached on the node; NULL after a diagnostic on d ("node 'N' (Op):
 * [input K:] message", as shape inference words it). */
const OpParams *node_params(Graph *g, NodeId id, Diag *d);
/* node_params for a node of the window/perm/reduce family or ElemChain
 * (asserted). */
const WindowParams *node_window(Graph *g, NodeId id, Diag *d);
const PermParams *node_perm(Graph *g, NodeId id, Diag *d);
const ReduceParams *node_reduce(Graph *g, NodeId id, Diag *d);
const ChainParams *node_chain(Graph *g, NodeId id, Diag *d);

/* Forgets n's params (after an edit of its attributes or inputs). */
void node_params_reset(Node *n);

/* For ir_verify: true when node id has no cached params or they equal a
 * fresh parse of the node (no diagnostic either way). */
bool node_params_current(Graph *g, NodeId id);

/* Padding of spatial axis i of a forward window (Conv, pools) over an input
 * of size in: the explicit pads, 0 for VALID, or for SAME_* the total
 * max(0, (ceil(in/s) - 1)*s + (k-1)*d + 1 - in) split with the odd one at
 * the end (UPPER) or the beginning (LOWER). */
void window_pads(const WindowParams *w, int i, int64_t in, int64_t *pb, int64_t *pe);

/* The opset in force for n: n->opset, or the graph's import for its domain
 * when unset (hand-built graphs); 0 when neither. */
int node_opset(const Graph *g, const Node *n);

/* Reads constant input k of n (1-D or scalar, integer dtype) into
 * out[max]; *count gets its length.  Diagnoses a non-constant or
 * non-integer input or one longer than max. */
bool node_const_ints(Graph *g, const Node *n, int k, int64_t *out, int max, int *count, Diag *d);

/* The diagnostic for input k of node n that must be a constant: names
 * --const-input when it is a graph input.  Returns false. */
bool diag_not_const(Graph *g, const Node *n, int k, Diag *d);

#endif

/* passes/fuse.h — what the pattern-fusion passes (fuse_*.c) share: a
 * consumer index over the live nodes, constant-scalar tests, and the
 * in-place rewrite of a chain's last node into the fused op.
 *
 * The index is built once per pass run.  A fusion kills the chain's other
 * nodes and rewrites its last node; the index stays right for every value
 * the pass still looks at as long as chains are disjoint, which the match
 * rules guarantee (each intermediate of a chain has all its uses inside it).
 */
#ifndef ONNXCC_FUSE_H
#define ONNXCC_FUSE_H

#include "../ir/ir.h"

typedef struct Uses {
	int *off;      /* consumers of v: node[off[v] .. off[v+1]) */
	NodeId *node;  /* one entry per input slot that reads v */
	int nvalues;   /* values that existed when the index was built */
} Uses;

/* Builds the consumer index of g's live nodes; free with uses_free. */
void uses_build(Graph *g, Uses *u);
void uses_free(Uses *u);

/* Number of input slots of live nodes reading v, or -1 if v is a graph
 * output (a graph output can never be fused away).  A value added after
 * uses_build (a constant a fusion made) counts 0. */
int uses_count(Graph *g, const Uses *u, ValueId v);

/* The one live node reading v, if v has exactly one use and is not a graph
 * output; else IR_NONE. */
NodeId uses_single(Graph *g, const Uses *u, ValueId v);

/* The live producer of v if it is a node of op `op`, else NULL. */
Node *producer_op(Graph *g, ValueId v, Op op);

/* True if v is a constant of a float dtype with exactly one element; its
 * value in *out. */
bool const_scalar(Graph *g, ValueId v, double *out);

/* True if v is a one-element float constant within rel*|want| of want. */
bool const_near(Graph *g, ValueId v, double want, double rel);

/* The ints attribute `name` of n is absent, or has cnt entries (any
 * number when cnt < 0) equal to v[0..cnt) (attr_ints_are) or each equal
 * to v (attr_ints_all): the checks a pattern makes of kernel_shape,
 * strides, pads and dilations. */
bool attr_ints_are(const Node *n, const char *name, int cnt, const int64_t *v);
bool attr_ints_all(const Node *n, const char *name, int cnt, int64_t v);

/* For a binary node n with n->in[k] == v: the other input (k = 0 or 1);
 * IR_NONE if neither input is v. */
ValueId other_input(const Node *n, ValueId v);

/* Rewrites node `last` into op(in[0..nin)), keeping its outputs 0..nout-1
 * (others dropped) and its position; attributes are cleared, the name is
 * `name`.  The node's opset becomes `opset` (the version whose semantics
 * the fused node has). */
void node_rewrite(Graph *g, NodeId last, Op op, int opset, const ValueId *in, int nin,
                  int nout, const char *name);

/* When v is made by a live Concat whose inputs lie one after the other in
 * v's elements (every dim before the axis is 1) and v's elements [lo,
 * lo + n) all come from one input: that input, with *off the offset of its
 * first element in v.  Else IR_NONE. */
ValueId concat_part(Graph *g, ValueId v, int64_t lo, int64_t n, int64_t *off);

/* Constant v, which a fusion just replaced (no live node reads it, and it
 * is not a graph output), hands the whole memory pages of its bytes back
 * to the system (madvise MADV_DONTNEED: a file mapping's are re-read from
 * the file if touched, a copy's read as zeros) unless a constant that is
 * still read shares some of them.  From then on v's bytes are not to be
 * read: v stays in the value table, unreferenced, until the graph is
 * freed.  For large weights a fusion copies (fuse-slice-gemm), so that
 * they are not held twice while compiling. */
void release_dead_const(Graph *g, ValueId v);

/* ln is a LayerNormalization of f32 over the last axis alone, stash_type
 * 1, without statistics outputs, whose scale (and bias, if any) is f32
 * [C]: then *C is that last dimension. */
bool layernorm_rows(Graph *g, const Node *ln, int64_t *C);

/* A pass's match-and-rewrite at node n: true when it fused; *err set after
 * a diagnostic. */
typedef bool (*FuseAtFn)(Graph *g, const Uses *u, NodeId n, Diag *d, bool *err);

/* Calls at() on every live node of op in id order, with g's uses built
 * once: for passes whose rewrites leave unchanged the uses that later
 * matches look at.  False after a diagnostic. */
bool fuse_each(Graph *g, Op op, FuseAtFn at, Diag *d);

/* Infers the rewritten node n (shape and dtype of its output 0): false,
 * with *err set, when inference gives a diagnostic.  When want is given,
 * the rewrite kept the output's shape (asserted: a broken invariant). */
bool fuse_infer(Graph *g, NodeId n, const Shape *want, Diag *d, bool *err);

/* Marks node n dead and clears the producer of its outputs. */
void node_kill(Graph *g, NodeId n);

/* "prefix/<op>" where prefix is the common '/'-terminated prefix of the
 * names of a and b (the module path PyTorch gives both), else b's name. */
const char *fused_name(Graph *g, const Node *a, const Node *b, const char *op);

/* GEMM gi (MatMul, Gemm or MatMulEpi) rewritten as the MatMulEpi `name`
 * whose A is rows `rows` of x normalised on the way by a LayerNorm with
 * scale and bias (IR_NONE: none): MatMulEpi inputs 0, 4, 7 and 8; gi's B
 * and its inputs 2, 3, 5 and 6 stay, and so do a MatMulEpi's attributes.
 * The caller adds a_norm_epsilon, a_shape and row_parts, and infers. */
void fuse_gemm_norm_prologue(Graph *g, NodeId gi, ValueId x, ValueId rows, ValueId scale, ValueId bias,
                             const char *name);

/* The epilogue steps after a GEMM of passes/fuse_gemm.c's pattern for a
 * live MatMulEpi mi (any bias, act, rows) without scale, beta or res yet:
 * a Mul of its output by a constant f32 scalar, then a residual Add of a
 * value of its shape computed before mi (maybe itself Mul'd by one),
 * each with a single use, become mi's scale, res and beta.  For GEMMs that
 * change after fuse-gemm (fuse-gather-gemm's output side).  True when mi
 * changed. */
bool fuse_gemm_tail(Graph *g, NodeId mi);

#endif

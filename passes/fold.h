/* passes/fold.h — constant folding of one node. */
#ifndef ONNXCC_FOLD_H
#define ONNXCC_FOLD_H

#include "../ir/ir.h"
#include "../ir/params.h"

/* Largest folded output, and largest constant input read, in elements.
 * Larger nodes are left to codegen (folding them would only bloat the
 * object file with data the node computes cheaply at run time). */
#define FOLD_MAX_OUT_ELEMS ((int64_t)1 << 20)
#define FOLD_MAX_IN_ELEMS ((int64_t)1 << 22)

/* If every input of node nid is a constant (or omitted), the op is one the
 * host evaluator knows, and the output has at most FOLD_MAX_OUT_ELEMS
 * elements (each constant input at most FOLD_MAX_IN_ELEMS), evaluates the
 * node on the host: its output value becomes VK_CONST (data in the arena,
 * producer IR_NONE, same id and name) and the node is marked dead.  Shape
 * and Size are also folded when their input is not constant but its shape
 * (the sliced part, for Shape-15 start/end) is static.
 *
 * Data is shared, not copied, when the output holds input 0's bytes
 * unchanged (Identity, same-dtype Cast/CastLike, Reshape, Flatten, Squeeze,
 * Unsqueeze of a constant: Value.data pointers are then equal).  An
 * Identity or same-dtype Cast/CastLike of a constant that is not a graph
 * output also has its uses rewired to the source constant, so a shared
 * initializer stays one constant.
 *
 * Foldable ops: those whose ops.def row names a fold function (Constant,
 * the shape and data-movement ops, the elementwise arithmetic, comparison
 * and logic, Min/Max/Sum/Mean, ReduceSum/Prod/Min/Max/Mean, Einsum without
 * "...", Where, Trilu) — for bool, every integer width and
 * f16/bf16/f32/f64 where the op takes them.
 *
 * One semantics: a folded result has the bits the generated code would
 * compute (NaN payloads aside; tests/unit/test_fold_vs_run.c).  Integer
 * arithmetic wraps (two's complement); integer Div truncates toward zero
 * (like C, as onnxruntime); integer Div and Mod by zero give 0; integer
 * Mod follows the divisor's sign unless fmod=1; float -> int Cast
 * saturates (NaN -> 0); Cast to bfloat16 truncates.  Float arithmetic is
 * done in double and rounded once to the output type, which is exact for
 * + - * / sqrt and the exact ops; nodes whose float result the host cannot
 * reproduce bit for bit — the ops flagged OPF_FOLD_INEXACT in ops.def
 * (Exp, Log, Sin, Cos, Tanh, Erf, Sigmoid, Pow, Mean, ReduceSum/Prod/Mean),
 * Sum of more than two inputs, Einsum with a summed letter or more than two
 * operands, on float data — are not folded and run at run time.
 *
 * requires: the node's output dtype/shape inferred if known (pass_infer_node
 *           ran); a computed shape that contradicts a static inferred one is
 *           reported as a diagnostic.
 * returns:  false only after a diagnostic (index out of range, bad Reshape/Squeeze/Slice parameters, ...); true
 *           otherwise, folded or not. */
bool pass_fold_node(Graph *g, NodeId nid, Diag *d);

/* True when op has a host evaluator (ops.def's fold column). */
bool pass_fold_has_folder(Op op);

#endif

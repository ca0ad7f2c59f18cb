/* codegen/node_table.h — the schedule's self-description for per-node
 * profiling (onnxcc --profile-nodes; OnnxccNodeInfo in
 * runtime/onnxcc_model.h).
 *
 * The schedule is the nodes the run function calls, in graph order: every
 * live node except views (memplan_view_node: no code).  Node i of the
 * table and of the hook's reports is the i-th of them.
 */
#ifndef ONNXCC_NODE_TABLE_H
#define ONNXCC_NODE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../ir/ir.h"

/* True when node n of g is in the schedule. */
bool cg_node_scheduled(const Graph *g, const Node *n);
/* Nodes in the schedule. */
int cg_schedule_count(const Graph *g);
/* The op type as the IR names it: op_type for the default domain,
 * "domain::op_type" otherwise (a fused op: "onnxcc::MatMulEpi"). */
void cg_node_op_type(const Node *n, char *buf, size_t size);
/* Floating-point operations of n's products, 2 per multiply-add of the
 * op's definition (MatMul, Gemm, Conv and the fused MatMulEpi, Attention,
 * RelAttention, DwConvNhwc; float types); 0 for any other node (not
 * counted: element-wise, normalisation and data movement ops, whose cost
 * is memory, not arithmetic).  Shapes must be static. */
uint64_t cg_node_flops(const Graph *g, const Node *n);

#endif

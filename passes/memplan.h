/* passes/memplan.h — the static memory plan of the workspace. */
#ifndef ONNXCC_MEMPLAN_H
#define ONNXCC_MEMPLAN_H

#include "../ir/ir.h"

#define MEMPLAN_ALIGN 64

typedef struct MemPlan {
	int64_t *offset;   /* [g->nvalues]: byte offset in the workspace, or -1 when the value does not live there
	                      (graph inputs, graph outputs — caller buffers —, constants, values of dead nodes, omitted) */
	uint64_t size;     /* workspace bytes: max end, rounded up to MEMPLAN_ALIGN */
	uint64_t naive;    /* sum of the (aligned) sizes of all planned values: a no-reuse plan */
	int nplanned;      /* number of values given a range of their own */
	ValueId *view_of;  /* [g->nvalues]: for the output of a view node (memplan_view_node),
	                      the value whose bytes it names; IR_NONE otherwise */
	int nviews;        /* number of view nodes (no code, no buffer of their own) */
	int ninplace;      /* number of ElemChain outputs written in place of an input */
} MemPlan;

/* True when live node n only renames its input's bytes under another shape
 * (Reshape, Flatten, Squeeze, Unsqueeze: row-major order unchanged) and its
 * output is not a graph output (those live in the caller's buffer): the
 * output then shares the input's storage — an intermediate's workspace
 * range, a graph input or output buffer, or a constant — and the node emits
 * no code. */
bool memplan_view_node(const Graph *g, const Node *n);

/* requires: g->shapes_known (a diagnostic otherwise); live nodes in
 *           topological order, as ir_verify checks
 * Plans every intermediate value produced by a live node that is not a graph
 * output.  A value lives from its producing node to its last consuming node
 * (inclusive, in node order); values whose lives overlap get disjoint byte
 * ranges, so a node's outputs never overlap its inputs or each other.
 * Greedy: largest first, each at the lowest MEMPLAN_ALIGN-aligned offset
 * free of every already-placed value with an overlapping life.
 * Zero-byte values get offset 0.  The output of a view node gets no range
 * of its own: view_of names its input, its offset is the input's (or -1 when
 * the input is not planned), and the input's life extends over the view's
 * uses.  The one exception to disjointness: the output of an ElemChain
 * takes the bytes of an input of its shape and dtype whose planned storage
 * (the input or the value it is a view of) is last used there — the chain
 * reads each element before it writes that element and no other — and
 * extends that storage's life (ninplace counts them; they are not in
 * nplanned).  Codegen gives an ElemChain's output pointer no noalias.
 * Returns false after a diagnostic (a value
 * whose byte size overflows or whose dtype has no size); plan is then
 * empty.  Free with memplan_free. */
bool pass_memplan(Graph *g, MemPlan *plan, Diag *d);
void memplan_free(MemPlan *plan);

#endif

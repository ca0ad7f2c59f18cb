/* codegen/module.h — builds the LLVM module of a whole graph.
 *
 * requires: shapes inferred and static, a memory plan for the graph
 * produces: one internal function per live node (returning an i32 status),
 *           the typed entry point
 *           int <prefix>_run(inputs..., outputs..., void *workspace),
 *           the generic <prefix>_run_v and <prefix>_run_parallel_v (and,
 *           with profile_nodes, <prefix>_run_profiled_v), the descriptor
 *           <prefix>_model
 *           (and the alias `onnxcc_model` when export_alias is set),
 *           every used constant once as a 64-byte-aligned read-only global.
 */
#ifndef ONNXCC_MODULE_H
#define ONNXCC_MODULE_H

#include <stdatomic.h>

#include "cg.h"
#include "passes/memplan.h"

typedef struct CgModuleOptions {
	const char *prefix;        /* C identifier */
	bool export_alias;         /* also export `onnxcc_model` (shared libraries) */
	const char *triple;
	LLVMTargetDataRef layout;  /* the target machine's data layout */
	CgIsa isa;                 /* zero: a portable 4-lane guess (unit tests) */
	struct CgWeights *weights; /* NULL, or where large constants are deferred to
	                              (codegen/weights.h; the caller writes and frees them) */
	atomic_int *done;          /* NULL, or incremented after each node function (progress) */
	/* Variants of the hot node functions, selected at run time by a CPU
	 * check (cg_isa_variants(); nvariants 0: a single version). */
	CgIsa variants[CG_MAX_VARIANTS];
	int nvariants;
	bool index_clamp;          /* run-time indices out of range: clamped (true) or
	                            * the run function returns CG_STATUS_INDEX (false) */
	bool profile_nodes;        /* --profile-nodes: <prefix>_run_profiled(_v), which
	                            * reports each node to a hook, and descriptor
	                            * version 3 with the node table (node_table.h);
	                            * false: neither, the module as without it */
} CgModuleOptions;

/* Creates cg->ctx/mod/b and fills them.  On failure (an op that cannot be
 * lowered) returns false with diagnostics; cg_dispose() frees either way. */
bool cg_build_module(Cg *cg, Graph *g, const MemPlan *plan, const CgModuleOptions *o, Diag *d);
void cg_dispose(Cg *cg);

/* How the node calls of a module's run function share functions: after
 * cg_optimize() (LLVM's mergefunc replaces a node function identical to
 * an earlier one, e.g. a repeated block with the same weights, by that
 * one), the calls of <prefix>_run_parallel to node functions grouped by
 * callee: one call per node (a multi-versioned node counts by its
 * dispatcher, or its baseline version when the dispatcher was inlined). */
typedef struct CgSharing {
	int calls;              /* node calls in the run function */
	int functions;          /* distinct node functions they call */
	int shared;             /* of those, functions called more than once */
	int shared_calls;       /* the calls of the shared functions */
	int ntop;               /* top[0..ntop): the most-called shared functions */
	struct {
		char name[160];
		int calls;
	} top[8];
} CgSharing;

/* Fills *s from module m built with prefix (all zero when m has no run
 * function). */
void cg_node_sharing(LLVMModuleRef m, const char *prefix, CgSharing *s);

/* Fills the cached types of cg from cg->ctx (for tests that build their own
 * context). */
void cg_init_types(Cg *cg);

#endif

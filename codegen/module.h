/* codegen/module.h — builds the LLVM module of a whole graph.
 *
 * requires: shapes inferred and static, a memory plan for the graph
 * produces: one internal function per live node (returning an i32 status),
 *           the typed entry point
 *           int <prefix>_run(inputs..., outputs..., void *workspace),
 *           the generic <prefix>_run_v, the descriptor <prefix>_model
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
} CgModuleOptions;

/* Creates cg->ctx/mod/b and fills them.  On failure (an op that cannot be
 * lowered) returns false with diagnostics; cg_dispose() frees either way. */
bool cg_build_module(Cg *cg, Graph *g, const MemPlan *plan, const CgModuleOptions *o, Diag *d);
void cg_dispose(Cg *cg);

/* Fills the cached types of cg from cg->ctx (for tests that build their own
 * context). */
void cg_init_types(Cg *cg);

#endif

/* tests/unit/testutil.h — helpers shared by the cmocka unit tests. */
#ifndef ONNXCC_TESTUTIL_H
#define ONNXCC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir/ir.h"

/* Path of a node test's model: tu_node_test("test_add") ->
 * ".../onnx-node-tests/test_add/model.onnx" (static buffer). */
const char *tu_node_test(const char *name);
/* A fresh temporary directory (created), removed by tu_rmtree. */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
/* Runs argv (argv[0] a path, NULL-terminated) with dir as its working
 * directory, its stdout and stderr captured into out and err (each
 * NUL-terminated, cut to its size; the files dir/stdout.txt and
 * dir/stderr.txt hold them whole); fails the test unless it exits
 * normally; returns its exit status. */
int tu_run_tool(const char *const *argv, const char *dir, char *out, size_t nout, char *err, size_t nerr);
/* Writes bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t n);

#include "ir/diag.h"
/* Compiles a hand-built graph (every value's dtype and static shape set;
 * g->shapes_known is set here) to a shared library in a temp dir, loads it
 * and runs it once with inputs/outputs in graph order.  Returns true on
 * success; on a compile failure returns false with diagnostics in d. */
bool tu_run_graph(Graph *g, const void *const *inputs, void *const *outputs, Diag *d);
/* The vector unit tu_run_graph generates for: the host's unless .vlen is
 * set here (kernel tests run every tile size the host can execute). */
#include "codegen/cg.h"
extern CgIsa tu_isa_override;
/* The tile sizes kernel tests run: 4 (SSE/NEON), 8 (AVX2) and 16 (AVX-512)
 * lanes, the last two with the target features of the portable build's
 * variants (tu_run_graph gives every function of the module an override's
 * features, so the AVX2/AVX-512 instructions themselves run); tu_host_has()
 * says whether this CPU can execute one. */
extern const CgIsa tu_isas[3];
bool tu_host_has(const CgIsa *isa);
/* When set, tu_run_graph builds the module with the run-time-dispatched
 * variants of a portable build (cg_isa_variants()). */
extern bool tu_variants;
/* When set, called on the built module before it is optimised, and with
 * the loaded library's dlopen handle before it runs. */
extern void (*tu_module_hook)(Cg *cg);
extern void (*tu_loaded_hook)(void *handle);
/* Compile with --index-oob=clamp (default: error); the status tu_run_graph
 * expects from the run function (default 0). */
extern bool tu_index_clamp;
extern int tu_expect_status;
/* Compile with --profile-nodes (default: without). */
extern bool tu_profile_nodes;
/* When set, tu_run_graph runs the model through run_parallel with it. */
#include "runtime/onnxcc_model.h"
extern const OnnxccParallel *tu_parallel;
/* The thread counts a result must not depend on (1, 2, 3 and 5), and
 * tu_threads(n): tu_parallel becomes a pool of n threads (n > 0; the
 * previous pool, if any, destroyed) or NULL with no pool left (n = 0). */
#define TU_NTHREADS 4
extern const int tu_thread_counts[TU_NTHREADS];
void tu_threads(int n);

/* ---- hand-built graphs ---------------------------------------------------
 * Graph-level helpers: a graph with room for 16 inputs and 16 outputs;
 * values with static shapes; one node named "n0" with the given opset;
 * attributes on node n.  The TuGraph layer below remembers the last node
 * added, so attribute setters need no node id. */
Graph *tu_new_graph(void);
ValueId tu_add_input(Graph *g, const char *name, DType dt, int rank, const int64_t *dims);
ValueId tu_add_output(Graph *g, const char *name, DType dt, int rank, const int64_t *dims);
NodeId tu_add_node(Graph *g, Op op, int opset, const ValueId *in, int nin, const ValueId *out, int nout);
void tu_set_int(Graph *g, NodeId n, const char *name, int64_t x);
void tu_set_float(Graph *g, NodeId n, const char *name, float x);
void tu_set_ints(Graph *g, NodeId n, const char *name, int cnt, const int64_t *xs);
void tu_set_str(Graph *g, NodeId n, const char *name, const char *s);
/* Compiles and runs g with tu_run_graph, then frees g; fails the test
 * (printing the diagnostics) when it does not compile. */
void tu_compile_run(Graph *g, const void *const *in, void *const *out);
/* Compiles g expecting failure with a diagnostic containing needle, then
 * frees g. */
void tu_compile_reject(Graph *g, const void *const *in, void *const *out, const char *needle);

typedef struct TuGraph {
	Graph *g;
	NodeId node;    /* last node added, target of tu_attr_* */
} TuGraph;

TuGraph tu_graph(void);
ValueId tu_input(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims);
ValueId tu_output(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims);
/* A constant of dtype dt holding data (copied). */
ValueId tu_const(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims, const void *data);
NodeId tu_node(TuGraph *t, Op op, int opset, const ValueId *in, int nin, const ValueId *out, int nout);
void tu_attr_int(TuGraph *t, const char *name, int64_t x);
void tu_attr_float(TuGraph *t, const char *name, float x);
void tu_attr_ints(TuGraph *t, const char *name, int n, const int64_t *xs);
void tu_attr_str(TuGraph *t, const char *name, const char *s);
void tu_run(TuGraph *t, const void *const *in, void *const *out);
void tu_reject(TuGraph *t, const void *const *in, void *const *out, const char *needle);

/* Runs the named passes in order on g (ir_verify after each); a failure
 * fails the test. */
void tu_run_passes(Graph *g, const char *const *names, int n);
/* Live nodes of op in g. */
int tu_live(const Graph *g, Op op);

#endif

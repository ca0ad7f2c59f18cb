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
/* Writes bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t n);

#include "ir/diag.h"
/* Compiles a hand-built graph (every value's dtype and static shape set;
 * g->shapes_known is set here) to a shared library in a temp dir, loads it
 * and runs it once with inputs/outputs in graph order.  Returns true on
 * success; on a compile failure returns false with diagnostics in d. */
bool tu_run_graph(Graph *g, const void *const *inputs, void *const *outputs, Diag *d);

#endif

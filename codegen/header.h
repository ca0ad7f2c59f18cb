/* codegen/header.h — the generated C header and C-identifier sanitising. */
#ifndef ONNXCC_HEADER_H
#define ONNXCC_HEADER_H

#include <stdio.h>

#include "../ir/ir.h"
#include "passes/memplan.h"

/* Writes into out (size n) a C identifier made from s: characters outside
 * [A-Za-z0-9_] become '_', a leading digit gets '_' before it, C keywords
 * get a trailing '_'; "" becomes "_". */
void cg_c_ident(const char *s, char *out, size_t n);

/* Writes the header for the model compiled with `prefix` to f: the
 * workspace-size macro, status codes, what happens to out-of-range
 * run-time indices (index_clamp: --index-oob=clamp), the typed run
 * function with one parameter per input and output (shapes in comments)
 * and the generic entry points (with profile_nodes: also the profiled one
 * and the node count).  Parameter names are sanitised and made unique. */
void cg_write_header(FILE *f, Graph *g, const MemPlan *plan, const char *prefix,
                     const char *model_path, bool index_clamp, bool profile_nodes);

#endif

/* frontend/onnx.h — reading ONNX files into the IR.
 *
 * The frontend is the only part of onnxcc that sees protobuf.  A model is
 * mmapped, unpacked once with protobuf-c, turned into a Graph, and the file
 * is unmapped again.  Constant values do not copy their weights: they point
 * straight at the unpacked message's raw_data bytes (or into an mmapped
 * external-data file), which the Graph keeps alive through g->owner until
 * graph_free().  Weights given in the typed fields (float_data, int32_data,
 * ...) are converted once into the Graph's arena.
 *
 * Files are opened non-blocking and read only when they are regular files;
 * external data only beneath the model's folder.  Nodes of the default
 * domain are checked against the ONNX schema in force at their opset
 * (frontend/onnx_schema.h: the op exists at that opset; attribute names
 * and types), and against ops.def's arity.
 *
 * Every problem with the input — unreadable file, not protobuf, bad types,
 * undefined or doubly-defined names, cycles, bad tensor data — is reported
 * through the Diag, naming the file (and the node and input where there is
 * one); the functions then return NULL / false.  They never crash on bad
 * input.
 */
#ifndef ONNXCC_FRONTEND_ONNX_H
#define ONNXCC_FRONTEND_ONNX_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"

/* Loads the model at path.  Returns the graph (nodes topologically sorted,
 * Constant nodes already turned into VK_CONST values, unknown ops kept as
 * OP_UNKNOWN), or NULL after reporting at least one diagnostic through d.
 * External data is looked up relative to path's folder.  While loading,
 * d->path is set to path (restored before returning). */
Graph *onnx_load(const char *path, Diag *d);

/* As onnx_load, from a serialized ModelProto in memory (len bytes at buf,
 * which need not outlive the call).  path (may be NULL) is used in
 * diagnostics and as the base for external data. */
Graph *onnx_load_from_memory(const void *buf, size_t len, const char *path, Diag *d);

/* A weight whose raw_data is misaligned in the model file is copied into
 * memory when loading (protobuf does not align); its bytes stay in the
 * model's mapping too.  Between code generation and writing the weights
 * nothing reads constants' bytes, so the driver hands those copies' pages
 * back (onnx_weights_evict, madvise MADV_DONTNEED) while LLVM works, and
 * onnx_weights_restore copies them in again from the mapping, once the
 * module is freed.  Both do nothing for a graph onnx_load did not make.
 * Between the two, the bytes of g's constants must not be read. */
void onnx_weights_evict(Graph *g);
void onnx_weights_restore(Graph *g);

/* Reads a serialized TensorProto file (the node tests' input_N.pb /
 * output_N.pb) into t, with its data copied into arena a; *name (if name is
 * non-NULL) gets the tensor's name ("" if none), also in a.  Returns false
 * after a diagnostic on failure. */
bool onnx_load_tensor_file(const char *path, Arena *a, Tensor *t, const char **name, Diag *d);

/* As onnx_load_tensor_file, from a serialized TensorProto in memory. */
bool onnx_tensor_from_memory(const void *buf, size_t len, const char *path, Arena *a,
                             Tensor *t, const char **name, Diag *d);

#endif

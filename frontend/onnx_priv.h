/* frontend/onnx_priv.h — shared between the frontend's source files only.
 *
 * OnnxOwner is what a loaded Graph's g->owner points to: the unpacked
 * ModelProto (whose raw_data bytes constants point into), the external
 * data files mapped for it, and the nested graphs parsed from GRAPH
 * attributes.  onnx_owner_free() releases all of it.
 */
#ifndef ONNXCC_FRONTEND_ONNX_PRIV_H
#define ONNXCC_FRONTEND_ONNX_PRIV_H

#include "onnx.pb-c.h"
#include "ir/ir.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnxcc's frontend assumes a little-endian host (ONNX raw_data is little-endian)"
#endif

typedef struct OnnxMap {
	char *path;     /* full path of the mapped file */
	void *base;     /* NULL for an empty file */
	size_t len;
} OnnxMap;

typedef struct OnnxOwner {
	Onnx__ModelProto *model;
	OnnxMap *maps;
	int nmaps, cap_maps;
	Graph **subs;   /* nested graphs of GRAPH attributes */
	int nsubs, cap_subs;
} OnnxOwner;

/* Frees everything an OnnxOwner holds, and the owner itself. */
void onnx_owner_free(void *owner);

/* How tensor data is to be kept. */
typedef struct OnnxTensorCtx {
	Diag *d;
	const char *dir;    /* folder external-data locations are relative to */
	Arena *arena;       /* converted data goes here */
	OnnxOwner *owner;   /* non-NULL: point at raw_data / mapped files (the
	                       owner keeps them alive); NULL: copy into arena */
} OnnxTensorCtx;

/* DType for an ONNX elem_type / data_type number, DT_UNDEF if not one. */
DType onnx_dtype(int64_t v);

/* Converts tp into *t.  `what` names the tensor in diagnostics (e.g.
 * "initializer 'w'", "node 'n' (Constant): attribute 'value'"); every error
 * is reported as "<file>: <what>: <problem>" and returns false.  String,
 * complex and segmented tensors are reported as unsupported. */
bool onnx_tensor_convert(OnnxTensorCtx *c, const Onnx__TensorProto *tp,
                         const char *what, Tensor *t);

/* Maps the file at path read-only (*base NULL for an empty file; the
 * caller munmaps).  Refuses directories and files over 2 GB.  Reports a
 * system error through d (whose path should already name the file) and
 * returns false on failure. */
bool onnx_map_input(const char *path, void **base, size_t *len, Diag *d);

/* The newest IR version onnxcc knows (onnx.proto IR_VERSION at the onnx
 * commit frontend/onnx_schema.c was generated from). */
enum { ONNX_MAX_IR_VERSION = 14 };

/* Deepest message nesting a model may have (ONNX files need a few levels
 * per subgraph; protobuf-c would recurse without bound). */
enum { ONNX_MAX_MESSAGE_DEPTH = 128 };

/* True unless the serialized message of type desc in buf nests messages
 * deeper than max_depth (<= ONNX_MAX_MESSAGE_DEPTH) or has a string field
 * containing a NUL byte; then why (whylen > 0 bytes) gets the field path
 * and the problem, e.g. "graph.node.name: a string contains a NUL byte".
 * Never reads outside [buf, buf+len); malformed data passes (protobuf-c's
 * unpack rejects it). */
bool onnx_wire_check(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                     int max_depth, char *why, size_t whylen);

/* Opens loc (relative, without '..') beneath the folder dir read-only and
 * non-blocking, one component at a time with O_NOFOLLOW: any symbolic link
 * on the way fails (ELOOP or ENOTDIR).  The fallback of the external-data
 * loader where openat2(RESOLVE_BENEATH) is not available.  Returns the
 * descriptor, or -1 with errno set. */
int onnx_open_beneath_nofollow(const char *dir, const char *loc);

/* The folder part of path ("." if none), in arena a. */
const char *onnx_dirname(Arena *a, const char *path);

#endif

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

/* A large raw_data left in the model's mapping (onnx_wire_strip). */
typedef struct OnnxRawRef {
	const void *data;
	size_t len;
} OnnxRawRef;

/* Copies smaller than this are not worth evicting (a few pages). */
#define ONNX_EVICT_MIN_BYTES 16384

/* A misaligned raw_data copied into the arena: its bytes are also at src
 * in the model's mapping (onnx_weights_evict / onnx_weights_restore). */
typedef struct OnnxCopy {
	void *copy;
	const void *src;
	size_t len;
} OnnxCopy;

typedef struct OnnxOwner {
	Onnx__ModelProto *model;
	OnnxMap model_map;      /* the model file, when raw_refs point into it */
	OnnxRawRef *raw_refs;
	size_t nraw_refs;
	OnnxMap *maps;
	int nmaps, cap_maps;
	Graph **subs;   /* nested graphs of GRAPH attributes */
	int nsubs, cap_subs;
	OnnxCopy *copies;       /* large misaligned raw_data copied into the arena */
	size_t ncopies, cap_copies;
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

/* Drops the whole pages inside [p, p+n) of a read-only private file
 * mapping from memory (madvise MADV_DONTNEED: they are re-read from the
 * file if touched again).  Only for such mappings. */
void onnx_release_mapped(const void *p, size_t n);

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

/* raw_data fields of TensorProtos at least this long are left in the
 * model's mapping instead of being copied by protobuf-c. */
enum { ONNX_RAW_REF_MIN = 1024 };
/* TensorProto.onnxcc_raw_ref's field number (frontend/onnx.proto). */
enum { ONNX_RAW_REF_FIELD = 536870001 };

/* Rewrites the serialized ModelProto buf for unpacking without copying
 * its large tensors: every TensorProto.raw_data of at least min bytes is
 * replaced by onnxcc_raw_ref = K, where (*refs)[K] points at the bytes in
 * buf; any onnxcc_raw_ref in buf itself is dropped.  Returns NULL (and no
 * refs) when there is nothing to replace: unpack buf itself then.
 * Otherwise a malloc'd buffer of *out_len bytes (the caller frees it and
 * *refs).  Malformed data is copied as it is, for protobuf-c to reject;
 * run onnx_wire_check first (nesting is bounded by it). */
void *onnx_wire_strip(const void *buf, size_t len, size_t min, size_t *out_len, OnnxRawRef **refs,
                      size_t *nrefs);

/* Opens loc (relative, without '..') beneath the folder dir read-only and
 * non-blocking, one component at a time with O_NOFOLLOW: any symbolic link
 * on the way fails (ELOOP or ENOTDIR).  The fallback of the external-data
 * loader where openat2(RESOLVE_BENEATH) is not available.  Returns the
 * descriptor, or -1 with errno set. */
int onnx_open_beneath_nofollow(const char *dir, const char *loc);

/* The folder part of path ("." if none), in arena a. */
const char *onnx_dirname(Arena *a, const char *path);

#endif

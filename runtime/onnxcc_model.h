/* runtime/onnxcc_model.h — the descriptor every compiled model exports.
 *
 * onnxcc emits, next to the typed run function of the generated header,
 * a constant OnnxccModel named <prefix>_model; a shared library built by
 * onnxcc also exports it under the fixed name `onnxcc_model`, which is how
 * onnxcc-run finds inputs, outputs and the workspace size without a header.
 * The layout is ABI: change it only together with ONNXCC_ABI_VERSION and
 * codegen/module.c (emit_descriptor).
 */
#ifndef ONNXCC_MODEL_H
#define ONNXCC_MODEL_H

#include <stdint.h>

#define ONNXCC_ABI_VERSION 2u

/* Status codes returned by every run function. */
#define ONNXCC_OK 0
#define ONNXCC_ERR_NULL 1        /* a required buffer pointer was NULL */
#define ONNXCC_ERR_ALIGN 2       /* workspace not aligned to 16 bytes */

/* A parallel-for the caller lends to the generated code, which has no
 * threads of its own (cf. TVM's TVMBackendParallelLaunch).  parallel_for
 * must call task(ctx, begin, end) on ranges that together cover
 * [0, ntasks) exactly once, on any threads, in any order, and return when
 * all calls have returned.  Every partition gives bitwise the same
 * results.  runtime/onnxcc_pool.h is a ready-made one (pthreads). */
typedef void (*OnnxccTask)(void *ctx, int64_t begin, int64_t end);
typedef struct OnnxccParallel {
	void (*parallel_for)(void *pool, int64_t ntasks, OnnxccTask task, void *ctx);
	void *pool;
} OnnxccParallel;

typedef struct OnnxccTensorInfo {
	const char *name;          /* ONNX name */
	int32_t dtype;             /* ONNX TensorProto.DataType (1 = float, 7 = int64 ...) */
	int32_t rank;
	const int64_t *shape;      /* rank entries, all static */
	uint64_t nbytes;           /* size of the buffer the caller provides */
} OnnxccTensorInfo;

typedef struct OnnxccModel {
	uint32_t abi_version;      /* ONNXCC_ABI_VERSION */
	uint32_t ninputs;
	uint32_t noutputs;
	uint32_t reserved;
	const OnnxccTensorInfo *inputs;
	const OnnxccTensorInfo *outputs;
	uint64_t workspace_size;   /* bytes; 0 means pass NULL or anything */
	const char *name;          /* the C prefix */
	/* Runs the model: inputs[i] / outputs[i] in the order above. */
	int (*run)(const void *const *inputs, void *const *outputs, void *workspace);
	/* The same with a parallel-for (NULL: serial, as run). */
	int (*run_parallel)(const void *const *inputs, void *const *outputs, void *workspace,
	                    const OnnxccParallel *par);
} OnnxccModel;

#endif

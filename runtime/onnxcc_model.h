/* runtime/onnxcc_model.h — the descriptor every compiled model exports.
 *
 * onnxcc emits, next to the typed run function of the generated header,
 * a constant OnnxccModel named <prefix>_model; a shared library built by
 * onnxcc also exports it under the fixed name `onnxcc_model`, which is how
 * onnxcc-run finds inputs, outputs and the workspace size without a header.
 * The layout is ABI: change it only together with ONNXCC_ABI_VERSION and
 * codegen/module.c (emit_descriptor).
 *
 * Versions: a descriptor's abi_version says which fields it has; a newer
 * version only appends fields.  onnxcc writes version 2 (the fields up to
 * run_parallel) for a model compiled without --profile-nodes, and version 3
 * (with the node table and run_profiled) for one compiled with it.  A
 * caller accepts ONNXCC_ABI_VERSION_MIN <= abi_version <= ONNXCC_ABI_VERSION
 * and reads a field of version 3 only when abi_version >= 3.
 */
#ifndef ONNXCC_MODEL_H
#define ONNXCC_MODEL_H

#include <stdint.h>

#define ONNXCC_ABI_VERSION 3u
#define ONNXCC_ABI_VERSION_MIN 2u

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

/* Per-node profiling (a model compiled with onnxcc --profile-nodes; cf.
 * ONNX Runtime's profiler, TVM's debug executor).  run_profiled calls
 * hook->call(hook->ctx, i, ONNXCC_NODE_BEGIN) right before node i of the
 * schedule runs and hook->call(hook->ctx, i, ONNXCC_NODE_END) right after
 * it returns (also when it fails: every BEGIN has its END), for
 * i = 0, 1, ..., nnodes - 1 in that order, each once, on the calling
 * thread (nodes run one after the other; a node's parallel-for runs
 * between its BEGIN and END).  The model reads no clock: the hook does,
 * e.g. clock_gettime (onnxcc-run --profile).  A NULL hook, or a NULL
 * hook->call, makes no calls.  The hook must not call the model. */
#define ONNXCC_NODE_BEGIN 0
#define ONNXCC_NODE_END 1
typedef struct OnnxccNodeHook {
	void (*call)(void *ctx, uint32_t node, int32_t event);
	void *ctx;
} OnnxccNodeHook;

/* A node of the schedule (nodes[i] is the node the hook reports as i). */
typedef struct OnnxccNodeInfo {
	const char *name;          /* the ONNX node name ("" when it has none; a
	                            * fused node has one of its nodes' names) */
	const char *op_type;       /* as onnxcc's IR names it: "Conv", or for an
	                            * op the passes made "onnxcc::MatMulEpi" */
	uint64_t flops;            /* floating-point operations of its products
	                            * (2 per multiply-add of MatMul, Gemm, Conv,
	                            * onnxcc::MatMulEpi, onnxcc::Attention ...),
	                            * exact; 0: not counted (other ops) */
} OnnxccNodeInfo;

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
	/* ---- abi_version >= 3 only (a model compiled with --profile-nodes) ---- */
	uint32_t nnodes;           /* nodes of the schedule */
	uint32_t reserved3;
	const OnnxccNodeInfo *nodes;   /* nnodes entries, in schedule order */
	/* run_parallel that also reports each node to hook (NULL: none). */
	int (*run_profiled)(const void *const *inputs, void *const *outputs, void *workspace,
	                    const OnnxccParallel *par, const OnnxccNodeHook *hook);
} OnnxccModel;

#endif

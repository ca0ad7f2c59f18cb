/* passes/pipeline.h — the pass pipeline and the graph-level passes it runs. */
#ifndef ONNXCC_PIPELINE_H
#define ONNXCC_PIPELINE_H

#include <stdio.h>

#include "../ir/ir.h"
#include "memplan.h"

/* A graph input frozen to a value at compile time (--const-input): it
 * becomes a constant and leaves the generated interface. */
typedef struct ConstInput {
	const char *name;
	int dtype;                 /* ONNX TensorProto.DataType */
	int rank;
	const int64_t *shape;
	const void *data;          /* copied */
} ConstInput;

typedef struct PipelineOptions {
	const ConstInput *const_inputs; /* for freeze-inputs */
	int nconst_inputs;
	MemPlan *plan;            /* memplan's result (NULL: planned, checked, freed) */
	const char *const *dims;  /* "SYM=N" bindings for pass_bind_dims */
	int ndims;
	const char *print_after;  /* pass name (see pass_names) or NULL */
	bool time_passes;         /* per-pass wall time table on stderr */
	bool verify_each;         /* ir_verify after every pass */
	FILE *dump_out;           /* where print_after dumps (NULL: stdout) */
	const char *const *disabled; /* optional passes not to run (pass_optional) */
	int ndisabled;
	bool no_fuse;             /* run none of the optional passes */
} PipelineOptions;

/* Runs, in order: freeze-inputs (pass_freeze_inputs), bind-dims
 * (pass_bind_dims), infer (pass_infer_shapes,
 * which folds constants as it goes), aliases (pass_remove_aliases),
 * fuse-layernorm (pass_fuse_layernorm), fuse-gelu (pass_fuse_gelu),
 * fuse-attention (pass_fuse_attention), fuse-relattention
 * (pass_fuse_relattention), fuse-transpose (pass_fuse_transpose),
 * fuse-dwconv (pass_fuse_dwconv), fuse-patchify (pass_fuse_patchify),
 * fuse-bn-conv (pass_fuse_bn_conv), fuse-pad-pool (pass_fuse_pad_pool),
 * fuse-conv-act (pass_fuse_conv_act), fuse-conv-tokens
 * (pass_fuse_conv_tokens), fuse-remap (pass_fuse_remap),
 * fuse-gemm (pass_fuse_gemm),
 * fuse-slice-gemm (pass_fuse_slice_gemm), fuse-gather-gemm
 * (pass_fuse_gather_gemm), prune-rows (pass_prune_rows), fuse-gemm-norm
 * (pass_fuse_gemm_norm), fuse-gather-norm (pass_fuse_gather_norm),
 * fuse-gather-norm-gemm (pass_fuse_gather_norm_gemm), fuse-norm-gemm
 * (pass_fuse_norm_gemm),
 * fuse-elementwise (pass_fuse_elementwise), dce
 * (pass_dce), memplan (pass_memplan, into o->plan); the optional passes
 * (pass_optional) named in o->disabled, or all of them with o->no_fuse, are
 * skipped (a name that is unknown or of a required pass is a diagnostic
 * before any pass runs).  o may be NULL (no bindings, no printing).  With verify_each
 * (and always in builds without NDEBUG) ir_verify runs after each pass and a
 * failure is reported as "verify failed after pass 'X'".  An unknown
 * print_after name is a diagnostic listing the valid names, reported before
 * any pass runs.  Returns false after a diagnostic; the graph is then in an
 * unspecified (but freeable) state. */
bool pass_pipeline(Graph *g, const PipelineOptions *o, Diag *d);

/* freeze-inputs (passes/freeze_inputs.c): the graph inputs named in
 * ci[0..n) become constants of the given values and leave the input list.
 * A name that is not a graph input, or a dtype/rank/dim that contradicts
 * the input's declaration, is a diagnostic (false). */
bool pass_freeze_inputs(Graph *g, const ConstInput *ci, int n, Diag *d);

/* The pass names, in pipeline order, for --help and --print-after. */
const char *const *pass_names(int *n);

/* The pass called `name` may be left out (PipelineOptions.disabled,
 * no_fuse): the fusions (fuse-*) and prune-rows, which only rewrite a graph
 * the rest of the pipeline compiles without them.  The others (inference,
 * alias removal, dce, memplan, ...) are required.  False for an unknown
 * name. */
bool pass_optional(const char *name);

/* Runs the one pass called `name` (see pass_names; bind-dims binds
 * nothing).  Unknown name: a diagnostic, false.  For pass tests. */
bool pass_run_named(Graph *g, const char *name, Diag *d);

/* requires: shapes inferred, constants folded
 * keeps:    topological order, value ids, graph output names
 * Identity, same-dtype Cast/CastLike, inference Dropout and shape-preserving
 * Reshape/Flatten/Squeeze/Unsqueeze are removed; uses go to the source value.
 * The graph-output rule is stated in passes/aliases.c. */
bool pass_remove_aliases(Graph *g, Diag *d);

/* requires: shapes inferred, constants folded, aliases removed
 * keeps:    topological order, value ids, graph output names
 * MatMul by a constant weight + bias Add + Relu + residual Add become one
 * MatMulEpi node (see passes/fuse_gemm.c for the exact pattern). */
bool pass_fuse_gemm(Graph *g, Diag *d);

/* requires: shapes inferred, constants folded; after fuse-remap and fuse-gemm
 * keeps:    topological order, value ids, graph outputs
 * A GEMM with a constant weight whose readers each take one block of its
 * output (GatherRows of a rectangle, distinct columns) becomes one GEMM per
 * block, followed by a Reshape to the reader's shape (passes/fuse_slice_gemm.c). */
bool pass_fuse_slice_gemm(Graph *g, Diag *d);

/* requires: shapes inferred, constants folded; after the fusions
 * keeps:    topological order, value ids, graph outputs and their shapes
 * A Gather of a few token rows (ViT's class token) is pushed up through the
 * row-wise nodes that feed it (LayerNormalization, MatMulEpi, elementwise):
 * they compute the gathered rows only (passes/prune_rows.c). */
bool pass_prune_rows(Graph *g, Diag *d);

/* requires: shapes inferred; after the other GEMM fusions
 * keeps:    topological order, value ids, graph outputs
 * A LayerNormalization over the last axis of a GEMM's single-use output
 * (MatMulEpi or MatMul) becomes the GEMM's row epilogue, MatMulEpi's
 * norm_scale/norm_bias (passes/fuse_gemm_norm.c has the contract).
 * Returns false only after a diagnostic. */
bool pass_fuse_gemm_norm(Graph *g, Diag *d);

/* requires: shapes inferred; after fuse-remap, fuse-gather-gemm, prune-rows
 * keeps:    topological order, value ids, graph outputs
 * A LayerNormalization over the last axis of a GatherRows it alone reads
 * becomes one onnxcc::GatherLayerNorm reading through the gather's row
 * index (passes/fuse_gather_norm.c has the contract).  Returns false only
 * after a diagnostic. */
bool pass_fuse_gather_norm(Graph *g, Diag *d);

/* requires: shapes inferred; after fuse-gather-norm and the other GEMM
 *           fusions
 * keeps:    topological order, value ids, graph outputs
 * A GatherLayerNorm read by a GEMM alone (MatMul, or MatMulEpi without
 * rows) with a constant B becomes the GEMM's row index and row prologue
 * (MatMulEpi rows + a_norm_scale): the gathered rows are normalised as the
 * GEMM copies them (passes/fuse_gather_norm_gemm.c has the contract).
 * Returns false only after a diagnostic. */
bool pass_fuse_gather_norm_gemm(Graph *g, Diag *d);

/* requires: shapes inferred; after fuse-gather-norm-gemm and the other
 *           GEMM fusions
 * keeps:    topological order, value ids, graph outputs
 * A LayerNormalization over the last axis that only GEMMs by constant
 * weights read (directly or through a Reshape keeping the last dim)
 * becomes each GEMM's row prologue (MatMulEpi rows, the identity when it
 * had none, + a_norm_scale): the rows are normalised as each GEMM copies
 * them (passes/fuse_norm_gemm.c has the contract).  Returns false only
 * after a diagnostic. */
bool pass_fuse_norm_gemm(Graph *g, Diag *d);

/* requires: shapes inferred; keeps: topological order, value ids.
 * The decomposed LayerNorm chain (opset < 17 export) becomes one
 * LayerNormalization node; the pattern is stated in passes/fuse_layernorm.c. */
bool pass_fuse_layernorm(Graph *g, Diag *d);

/* requires: shapes inferred; keeps: topological order, value ids.
 * The erf and tanh GELU formulas become one Gelu node (approximate="tanh"
 * for the latter); the patterns are stated in passes/fuse_gelu.c. */
bool pass_fuse_gelu(Graph *g, Diag *d);

/* Fuses MatMul -> scale -> bias -> Softmax -> MatMul chains into
 * onnxcc::Attention nodes (passes/fuse_attention.c has the contract).
 * requires: shapes inferred, constants folded, aliases removed.  Returns
 * false only after a diagnostic (the fused node failing its shape rule). */
bool pass_fuse_attention(Graph *g, Diag *d);

/* Fuses Transformer-XL's relative attention (two Einsums, the rel-shift
 * Concat/Reshape/Slice/Reshape, scale, Where mask, Softmax, Einsum) into
 * onnxcc::RelAttention nodes (passes/fuse_relattention.c has the contract).
 * requires: shapes inferred, constants folded, aliases removed.  Returns
 * false only after a diagnostic (the fused node failing its shape rule). */
bool pass_fuse_relattention(Graph *g, Diag *d);

/* Transposes feeding or fed by an Attention node (the head split and merge)
 * become its perm_q/perm_k/perm_v/perm_o attributes: strided reads and
 * writes (passes/fuse_transpose.c has the contract).  requires: shapes
 * inferred.  Returns false only after a diagnostic. */
bool pass_fuse_transpose(Graph *g, Diag *d);

/* A depthwise Conv (or one with a channel multiplier: group = C) between
 * token sequences (Transpose + Reshape to NCHW, Conv, Reshape + Transpose
 * back, optional Gelu) becomes one
 * onnxcc::DwConvNhwc that runs channels-last (passes/fuse_dwconv.c has the
 * contract).  requires: shapes inferred, constants folded.  Returns false
 * only after a diagnostic. */
bool pass_fuse_dwconv(Graph *g, Diag *d);

/* A patchify Conv (kernel == stride) whose output is flattened and
 * transposed to tokens becomes a patch gather (onnxcc::GatherRows) and one
 * GEMM writing the tokens channels-last; tokens put back to NCHW before it
 * are read in place (passes/fuse_patchify.c has the contract).  requires:
 * shapes inferred, constants folded.  Returns false only after a
 * diagnostic. */
bool pass_fuse_patchify(Graph *g, Diag *d);

/* An inference BatchNormalization whose output only a pointwise unpadded
 * Conv reads is folded into that Conv's weights and bias
 * (passes/fuse_bn_conv.c has the contract).  requires: shapes inferred,
 * constants folded.  Returns false only after a diagnostic (never,
 * today). */
bool pass_fuse_bn_conv(Graph *g, Diag *d);

/* A zero Pad of the spatial dims read only by an AveragePool becomes the
 * pool's padding, counted (passes/fuse_pad_pool.c has the contract).
 * requires: shapes inferred, constants folded.  Returns false only after
 * a diagnostic. */
bool pass_fuse_pad_pool(Graph *g, Diag *d);

/* A Conv whose output only a Gelu reads takes the Gelu as its act
 * attribute, applied before the Conv's store (passes/fuse_conv_act.c has
 * the contract).  requires: shapes inferred.  Returns false only after a
 * diagnostic (never, today). */
bool pass_fuse_conv_act(Graph *g, Diag *d);

/* A pointwise Conv over an image of few pixels becomes a GEMM with the
 * pixels as rows (Transpose to channels-last, MatMulEpi with the weight
 * as its packed B, Transpose back; passes/fuse_conv_tokens.c has the
 * contract).  requires: shapes inferred, constants folded.  Returns false
 * only after a diagnostic. */
bool pass_fuse_conv_tokens(Graph *g, Diag *d);

/* A DAG of pure data movement (Reshape/Transpose/Slice/Concat/Gather/zero
 * Pad) reading one value becomes one onnxcc::GatherRows, an index remap of
 * rows: Swin's roll + window partition/reverse, patch merging's strided
 * Slices + Concat (passes/fuse_remap.c has the contract).  requires: shapes
 * inferred, constants folded.  Returns false only after a diagnostic. */
bool pass_fuse_remap(Graph *g, Diag *d);

/* A permutation of rows (Gather along the rows, GatherRows) before a GEMM
 * with a constant weight, or after it, becomes the GEMM's row index: it
 * reads row rows[i] of its A in place (MatMulEpi's rows input; SReT's
 * token permutation and its inverse).  passes/fuse_gather_gemm.c has the
 * contract.  requires: shapes inferred, constants folded.  Returns false
 * only after a diagnostic. */
bool pass_fuse_gather_gemm(Graph *g, Diag *d);

/* A tree of single-use f32 elementwise ops (Add, Sub, Mul, Div, Neg,
 * Relu, Sigmoid, Tanh, Erf) whose intermediates have the result's shape
 * becomes one onnxcc::ElemChain, one loop computing each element with the
 * same operations (passes/fuse_elementwise.c has the contract).  requires:
 * shapes inferred, constants folded.  Returns false only after a
 * diagnostic (the fused node failing its rule). */
bool pass_fuse_elementwise(Graph *g, Diag *d);

/* keeps: topological order, value ids; renumbers nodes (graph_compact).
 * Removes every node no graph output depends on. */
bool pass_dce(Graph *g, Diag *d);

#endif

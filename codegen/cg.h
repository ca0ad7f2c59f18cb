/* codegen/cg.h — the code-generation context shared by every lowering.
 *
 * Lowering model: each live node becomes one internal LLVM function
 *     i32 <prefix>_node<N>(ptr in0, ..., ptr inK, ptr out0, ..., ptr outM, ptr par)
 * (omitted optional inputs/outputs get no parameter).  Before a lowering
 * runs, the builder is positioned in that function's body and
 * cg->buf[v] holds the pointer parameter of every input/output value v of
 * the node, so a lowering only reads cg_load()/writes cg_store() element by
 * element inside loops built with cg_for_begin()/cg_for_end().  Shapes are
 * static: loop bounds and strides are compile-time constants.  Constant
 * inputs (initializers) are also passed as pointers; a lowering may read
 * their data at compile time through gval(cg->g, v)->data (for shape-like
 * inputs such as Reshape's shape or Slice's starts).
 *
 * Compute types: cg_load() returns f16/bf16 extended to float and bool as
 * i1; cg_store() converts back.  Integers keep their width.
 *
 * A lowering returns true on success; on an unsupported configuration it
 * calls cg_unsupported() (which names node, op and reason) and returns
 * false.  It must never emit calls to libm: use the cg_math_* functions.
 */
#ifndef ONNXCC_CG_H
#define ONNXCC_CG_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "../ir/ir.h"
#include "../ir/params.h"

/* The vector unit code is generated for (codegen/target.c: cg_isa_of()).
 * vlen: f32 lanes of one vector register (16 AVX-512, 8 AVX2, 4 SSE/NEON,
 * 1 with no vector unit); nregs: architectural vector registers; fma: a
 * fused multiply-add instruction exists (llvm.fma is then one instruction,
 * otherwise kernels use llvm.fmuladd and let the backend split it). */
typedef struct CgIsa {
	int vlen;
	int nregs;
	bool fma;
	const char *name;            /* "avx512", "avx2", "sse", "neon", "scalar" */
	/* Multi-versioning (codegen/kernels/dispatch.c): a variant's
	 * "target-features" for the functions emitted for it (NULL: the target
	 * machine's), and its dispatch level, the CPU check that selects it at
	 * run time (x86-64: 1 baseline, 2 AVX2+FMA+F16C, 3 AVX-512 F/VL/BW/DQ;
	 * 0: no run-time choice). */
	const char *features;
	int level;
} CgIsa;

/* At most this many variants besides the baseline. */
#define CG_MAX_VARIANTS 3

enum { CG_LOOP_STACK = 32 };

typedef struct Cg {
	Graph *g;
	Diag *d;
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMBuilderRef b;
	LLVMTargetDataRef td;
	const char *prefix;          /* C symbol prefix */
	CgIsa isa;                   /* vector unit code is generated for now */
	/* Portable builds: the ISAs hot node functions are also emitted for,
	 * chosen at run time (codegen/kernels/dispatch.c); nvariants 0: one
	 * version.  pack_vlen: the lanes compile-time packed weights are laid
	 * out for (the widest variant's, so that every variant reads one copy);
	 * 0 means isa.vlen. */
	CgIsa variants[CG_MAX_VARIANTS];
	int nvariants;
	int pack_vlen;
	LLVMValueRef isa_level_fn;   /* the module's CPU check (dispatch.c), or NULL */
	/* common types */
	LLVMTypeRef t_void, t_i1, t_i8, t_i16, t_i32, t_i64, t_f16, t_bf16, t_f32, t_f64, t_ptr;
	/* state for the node being lowered */
	const Node *node;
	NodeId node_id;
	LLVMValueRef fn;             /* the node function */
	LLVMValueRef par;            /* its OnnxccParallel pointer parameter (NULL at
	                              * run time: serial), or NULL: none */
	LLVMBasicBlockRef alloca_bb; /* entry block: cg_alloca() puts allocas here */
	LLVMValueRef *buf;           /* [nvalues]: pointer to each value's buffer in fn */
	LLVMValueRef *globals;       /* [nvalues]: global of each constant (or NULL) */
	LLVMValueRef math_fns[40];   /* cache of emitted math helper functions */
	void *kern_cache;            /* codegen/kernels: emitted kernel functions */
	struct CgWeights *weights;   /* large constants written after emission
	                              * (codegen/weights.h), or NULL: all in the module */
	bool index_clamp;            /* --index-oob=clamp: clamp run-time indices, no status */
	bool node_can_fail;          /* the node function may return a non-zero status
	                              * (set by the lowering, cg_fail_if) */
	/* Open cg_for loops (see CgLoop): per level, the innermost-body
	 * iterations emitted inside it so far and whether it holds a loop. */
	int loop_depth;
	int64_t loop_work[CG_LOOP_STACK];
	bool loop_nested[CG_LOOP_STACK];
} Cg;

/* Status codes of the run function (codegen/header.c documents them). */
enum { CG_STATUS_OK = 0, CG_STATUS_NULL = 1, CG_STATUS_ALIGN = 2, CG_STATUS_INDEX = 3 };

/* Node functions return an i32 status (CG_STATUS_OK unless a check fails).
 * cg_fail_if() returns `status` from the node function when cond (i1) holds
 * and continues in a fresh block otherwise; it marks the node as one that
 * can fail, so the run function checks its result.  Only in the node
 * function's own body (not inside a helper function a kernel emits). */
void cg_fail_if(Cg *cg, LLVMValueRef cond, int status);

/* ---- diagnostics -------------------------------------------------------- */
/* "node 'N' (Op): [input K: ]code generation: <reason>"; returns false. */
bool cg_unsupported(Cg *cg, int input, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- types and constants ---------------------------------------------- */
LLVMTypeRef cg_mem_type(Cg *cg, DType t);     /* in-memory element type (bool: i8) */
LLVMTypeRef cg_compute_type(Cg *cg, DType t); /* f16/bf16: float; bool: i1 */
LLVMValueRef cg_i64(Cg *cg, int64_t x);
LLVMValueRef cg_i32(Cg *cg, int32_t x);
/* A constant of compute type of t: ints truncate, bool is x != 0. */
LLVMValueRef cg_const(Cg *cg, DType t, double x);
LLVMValueRef cg_const_int(Cg *cg, DType t, int64_t x);
LLVMValueRef cg_f32(Cg *cg, float x);
/* Index arithmetic on i64 values that cannot wrap (offsets inside one
 * tensor): a + b and a * b as nsw (a itself when b is 1); &base[idx] on a
 * float pointer. */
LLVMValueRef cg_add_i64(Cg *cg, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_mul_i64(Cg *cg, LLVMValueRef a, int64_t b);
LLVMValueRef cg_gep_f32(Cg *cg, LLVMValueRef base, LLVMValueRef idx);

/* A private, read-only, 64-byte-aligned global of n bytes (a weight, a
 * packed weight, a table): `data`, or, when fill is set, what
 * fill(dst, n, arg) writes (arg: arg_size bytes, copied).  With
 * cg->weights set and n at least its min_bytes, the bytes are not copied
 * into the module: they are written into the object file after emission
 * (codegen/weights.h), so `data` (and what arg points to) must stay valid
 * until then, and fill runs then, one weight at a time.  The optimiser
 * never sees the values of such a global (no load from it is folded). */
typedef void (*CgFillFn)(void *dst, size_t n, const void *arg);
LLVMValueRef cg_data_global(Cg *cg, const char *name, size_t n, const void *data, CgFillFn fill,
                            const void *arg, size_t arg_size);

/* ---- loops ---------------------------------------------------------------
 *   CgLoop i;
 *   cg_for(cg, &i, 0, n);          // for (i = 0; i < n; i++) {
 *       ... i.iv (i64) ...
 *   cg_for_end(cg, &i);            // }
 * Bodies may contain nested loops and branches.  Accumulators: cg_alloca()
 * + LLVMBuildLoad2/Store (mem2reg turns them into registers).
 * A loop that holds other loops and whose nest runs more than
 * CG_UNROLL_NEST_MAX innermost iterations (constant bounds) is marked
 * llvm.loop.unroll.disable: LLVM fully unrolled such outer loops of small
 * tensors (a 16 x 64 transpose, a mean over 16 x 128) into blocks of a
 * thousand loads and stores, which cost more to compile than the rest of
 * the node and run no faster.  Innermost loops are left to LLVM.        */
enum { CG_UNROLL_NEST_MAX = 256 };
typedef struct CgLoop {
	LLVMValueRef iv, next_iv, end;
	LLVMBasicBlockRef header, body, exit;
	int64_t trip;                /* constant trip count, or -1 */
} CgLoop;
void cg_for(Cg *cg, CgLoop *l, int64_t lo, int64_t hi);
void cg_for_v(Cg *cg, CgLoop *l, LLVMValueRef lo, LLVMValueRef hi); /* i64 bounds */
void cg_for_end(Cg *cg, CgLoop *l);

/* A loop nest over dims[0..rank) (row-major, last dim innermost). */
typedef struct CgNest {
	int rank;
	CgLoop loops[IR_MAX_RANK];
	LLVMValueRef iv[IR_MAX_RANK];
} CgNest;
void cg_nest(Cg *cg, CgNest *n, int rank, const int64_t *dims);
void cg_nest_end(Cg *cg, CgNest *n);

/* if (cond) { ... } [else { ... }]  — cond is i1. */
typedef struct CgIf {
	LLVMBasicBlockRef then_bb, else_bb, merge_bb;
} CgIf;
void cg_if(Cg *cg, CgIf *c, LLVMValueRef cond);
void cg_else(Cg *cg, CgIf *c);
void cg_if_end(Cg *cg, CgIf *c);

/* ---- addressing ---------------------------------------------------------- */
/* sum iv[i]*strides[i] as i64 (terms with stride 0 are skipped). */
LLVMValueRef cg_linear(Cg *cg, int rank, const LLVMValueRef *iv, const int64_t *strides);
/* Strides of `s` broadcast to an output of rank `out_rank` (numpy rules:
 * align right; dims of size 1 get stride 0). */
void cg_broadcast_strides(const Shape *s, int out_rank, int64_t *strides);
LLVMValueRef cg_ptr(Cg *cg, ValueId v);                 /* buffer of v */
LLVMValueRef cg_gep(Cg *cg, ValueId v, LLVMValueRef idx); /* &v[idx] */
LLVMValueRef cg_load(Cg *cg, ValueId v, LLVMValueRef idx);
void cg_store(Cg *cg, ValueId v, LLVMValueRef idx, LLVMValueRef x);
/* Loads/stores of an explicit dtype through a raw pointer. */
LLVMValueRef cg_load_ptr(Cg *cg, DType t, LLVMValueRef base, LLVMValueRef idx);
void cg_store_ptr(Cg *cg, DType t, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef x);
LLVMValueRef cg_alloca(Cg *cg, LLVMTypeRef t, const char *name);
void cg_memcpy(Cg *cg, LLVMValueRef dst, LLVMValueRef src, int64_t nbytes);
void cg_memset(Cg *cg, LLVMValueRef dst, int byte, int64_t nbytes);

/* ---- scalar arithmetic on compute types ------------------------------------
 * Value conversion with ONNX Cast semantics (float->int truncates toward
 * zero, ->bool is != 0, bool->number is 0/1). */
LLVMValueRef cg_convert(Cg *cg, LLVMValueRef x, DType from, DType to);

/* Accumulation dtype of arithmetic on t: f16/bf16 compute in f32, every
 * other type in itself. */
DType cg_acc_dtype(DType t);
/* v[idx] converted to dtype ad / x (of dtype ad) converted and stored into
 * v[idx]; f16/bf16 buffers count as f32 (cg_load/cg_store extend them). */
LLVMValueRef cg_load_as(Cg *cg, ValueId v, LLVMValueRef idx, DType ad);
void cg_store_as(Cg *cg, ValueId v, LLVMValueRef idx, LLVMValueRef x, DType ad);

#endif

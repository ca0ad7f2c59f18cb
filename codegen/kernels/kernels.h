/* codegen/kernels/kernels.h — the kernel layer: fast routines that per-op
 * lowerings call instead of writing their own loop nests.
 *
 * A kernel is emitted through the LLVM C API from one parameterised
 * generator (docs/kernels.md says why, and what was measured): its tile
 * sizes follow cg->isa (vector lanes, registers), its shapes and strides are
 * compile-time constants, and its inner functions are shared by every node
 * of the module with the same constants (the GEMM micro-kernel takes the
 * row strides of A, C and the residual as arguments: gemm.c).
 */
#ifndef ONNXCC_KERNELS_H
#define ONNXCC_KERNELS_H

#include "../cg.h"

/* The most k rows of one KGemm.b_row_kw run (a conv's kernel width). */
#define KERN_ROW_KW_MAX 16

/* Activation applied by a GEMM epilogue. */
typedef enum KAct {
	KACT_NONE,
	KACT_RELU,
	KACT_GELU,        /* 0.5x(1+erf(x/sqrt2)) */
	KACT_GELU_TANH,   /* 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), as x*sigmoid(2u) */
} KAct;

/* C[i,j] = epilogue(sum_k A[i,k] * B[k,j]), i < M, j < N, k < K, f32.
 *   A: element (i,k) at a[i*a_rs + k*a_cs]           (a: f32 pointer)
 *   B: element (k,j) at b[k*b_rs + j*b_cs]; when b_const is set, B is a
 *      constant known now (b_const points at its f32 data) and is packed at
 *      compile time into the micro-kernel's panel layout; b is unused then.
 *   C: element (i,j) at c[i*ldc + j]                 (rows contiguous)
 * With accumulate set, acc starts from C's value instead of 0 (C += A.B,
 *   e.g. a product split along K into two calls).
 * Epilogue, in this order:  y = alpha*acc;  y += bias[j] * beta_bias;
 *   y = act(y);  y *= scale (when scale is not 0);
 *   y += beta * res[i*res_rs + j*res_cs]  (res may alias nothing written
 *   by this call; with res_pre_act this step comes right after the bias,
 *   before act).  bias/res NULL: absent.  Each step is one rounding
 *   (no contraction), so a fused chain gives the unfused chain's bits. */
typedef struct KGemm {
	int64_t M, N, K;
	LLVMValueRef a;
	int64_t a_rs, a_cs;
	LLVMValueRef b;
	int64_t b_rs, b_cs;
	const float *b_const;
	LLVMValueRef c;
	int64_t ldc;
	float alpha;
	LLVMValueRef bias;           /* f32 [N] (contiguous) or NULL */
	float beta_bias;
	KAct act;
	float scale;                 /* after act; 0 (the default): none */
	LLVMValueRef res;            /* f32, strides res_rs/res_cs, or NULL */
	int64_t res_rs, res_cs;
	float beta;
	/* res_pre_act: beta*res is added right after the bias, before act and
	 * scale (a convolution's per-channel bias, res_cs 0, under its fused
	 * activation) instead of last */
	bool res_pre_act;
	bool accumulate;             /* acc starts from C (see above) */
	/* Row index of A (or NULL): row i of the product reads row a_rows[i]
	 * of A, a_rows an i32 [M] pointer (entries in [0, rows of A)): element
	 * (i,k) at a[a_rows[i]*a_rs + k].  Needs a_cs == 1 and no batch; the
	 * rows are gathered while A's block is copied (gemm.c pack_a), so the
	 * arithmetic is the same as on the gathered A. */
	LLVMValueRef a_rows;
	/* With a_rows, a_row_parts = P > 1: row i of the product is P rows of
	 * u = K/P elements, rows a_rows[i*P + j] of A (a_rs = u): element (i,k)
	 * at a[a_rows[i*P + k/u]*a_rs + k%u] (MatMulEpi's row_parts: a patch
	 * gather); an entry -1 is a part of zeros (an im2col tap in the
	 * padding; not with a_stats).  0 or 1: whole rows. */
	int64_t a_row_parts;
	/* A row prologue (or NULL; needs a_cs == 1 and no batch; with or
	 * without a_rows): the product reads A's logical rows normalised
	 * (MatMulEpi's a_norm_scale: the LayerNorm of A's rows, gathered or
	 * not, whose normalised copy is never stored).  a_stats(cg,
	 * a_stats_arg, i, row, &mean, &inv) emits the f32 statistics of logical
	 * row i (i64): row is an f32 pointer to its K elements in a
	 * contiguous run (the row of A itself when a logical row is one row
	 * of A, else a copy the kernel gathered through a_rows on the stack),
	 * or NULL when K is too long for that copy (over 16384), then the
	 * callback reads through cg->buf of cg->node's operands as a KRowsFn
	 * does; element
	 * (i,k) is then read as ((A'[i,k] - mean_i) * inv_i) *
	 * a_scale[k] + a_shift[k] (a_scale, a_shift: f32 [K]; a_shift NULL:
	 * none), one rounding per step, computed as A's block is copied
	 * (gemm.c pack_a).  The statistics of a task's block of rows are
	 * computed once, before its K blocks, and kept on the stack. */
	void (*a_stats)(Cg *cg, void *arg, LLVMValueRef i, LLVMValueRef row, LLVMValueRef *mean, LLVMValueRef *inv);
	void *a_stats_arg;
	/* Optional beside a_stats: the statistics of n logical rows at once
	 * (n the f32 vector width), the same bits as n calls of a_stats:
	 * a_stats_rows(cg, a_stats_arg, n, rowp, rarg, mean, inv) reads row
	 * j's K elements at rowp(cg, rarg, j) (j i64 in [0, n); a contiguous
	 * f32 run) and stores the rows' f32 mean and inv at mean[0..n) and
	 * inv[0..n) (f32 pointers). */
	void (*a_stats_rows)(Cg *cg, void *arg, int n, LLVMValueRef (*rowp)(Cg *cg, const void *rarg, LLVMValueRef j),
	                     const void *rarg, LLVMValueRef mean, LLVMValueRef inv);
	LLVMValueRef a_scale, a_shift;
	/* Batch: the product is repeated over bdims[0..nbatch_dims) with the
	 * element strides *_bs[d] added to A, B, C and res (a constant B must
	 * not be batched: b_bs all 0). */
	/* Implicit B (e.g. convolution's im2col): when set, element (k,j) of B
	 * is the f32 value b_elem emits (b: the B pointer of this batch entry,
	 * k and j: i64), read while packing run-time panels; b_rs/b_cs unused. */
	LLVMValueRef (*b_elem)(Cg *cg, void *arg, LLVMValueRef b, LLVMValueRef k, LLVMValueRef j);
	void *b_elem_arg;
	/* Optional, with b_elem (same arg): row k of the implicit B as a
	 * strided run, so that a panel is packed without per-element index
	 * arithmetic: B[k,j] = p[j * b_row_cs] for lo <= j < hi, else 0; b_row
	 * sets *p (an f32 pointer, dereferenced only inside the run), *lo and
	 * *hi (i64, lo <= hi) from b and k. */
	void (*b_row)(Cg *cg, void *arg, LLVMValueRef b, LLVMValueRef k, LLVMValueRef *p, LLVMValueRef *lo,
	              LLVMValueRef *hi);
	int64_t b_row_cs;
	/* Optional, with b_row: floats from row k's run p to the run the same
	 * row of a later product (a later batch entry or call: lower_conv.c's
	 * output row CONV_ROW_PF_AHEAD rows further) reads, or 0.  Packing a
	 * row then prefetches that run into L2: a hint (never dereferenced,
	 * any address will do), so that the later task packs a cold input (a
	 * conv's later output row) from L2. */
	int64_t b_row_pf;
	/* Optional, with b_row: b_row_n > 0 makes B's columns runs of
	 * b_row_n (a conv's output rows, several per product): column j is
	 * column j % b_row_n of row k's run moved by (j / b_row_n) * b_row_rs
	 * floats (p + that, same lo and hi). */
	int64_t b_row_n, b_row_rs;
	/* Optional, with b_row: b_row_kw in 2 .. KERN_ROW_KW_MAX says that the
	 * k rows come in runs of b_row_kw (a conv's kw taps of one (c, kh),
	 * on output rows whose kh taps are all inside X) that differ only by a
	 * shift and whose columns are constants: row k = k0 + t (k0 a
	 * multiple of b_row_kw, t < b_row_kw) is row k0's p moved by t *
	 * b_row_kwd floats, over [b_row_lo[t], b_row_hi[t]) (what b_row gives
	 * for it).  A whole block (gemm.c pack_b_block) then calls b_row once
	 * per run of rows and copies runs of constant bounds: no bounds
	 * arithmetic, loops or masks computed per row. */
	int b_row_kw;
	int64_t b_row_kwd, b_row_lo[KERN_ROW_KW_MAX], b_row_hi[KERN_ROW_KW_MAX];
	/* Optional, with b_elem (same arg), for an implicit B whose element
	 * offsets separate: B[k,j] = b[b_koff(k) + b_joff(j)], every element
	 * inside b (no padding).  A panel's column offsets are then computed
	 * once, and each element of a row costs a load. */
	LLVMValueRef (*b_koff)(Cg *cg, void *arg, LLVMValueRef k);
	LLVMValueRef (*b_joff)(Cg *cg, void *arg, LLVMValueRef j);
	/* Optional, with b_koff/b_joff, for such a B with padding (a padded 2-D
	 * im2col): two coordinates per element as an i64 code
	 * b_kpos(k) + b_jpos(j) = ((y + KERN_POS_BIAS) << 32) + (x + KERN_POS_BIAS)
	 * (each part in [0, 2^32) for every k, j); B[k,j] is 0 unless
	 * y < b_pos_lim[0] and x < b_pos_lim[1] (both >= 0), and only then is
	 * its offset read.  Vectorisable: no division per element. */
	LLVMValueRef (*b_kpos)(Cg *cg, void *arg, LLVMValueRef k);
	LLVMValueRef (*b_jpos)(Cg *cg, void *arg, LLVMValueRef j);
	int64_t b_pos_lim[2];
	/* Row epilogue (or NULL): rows_fn(cg, rows_arg, r0, r1) emits work over
	 * rows [r0, r1) of the finished product (MatMulEpi's LayerNorm), reading
	 * and writing through cg->buf of cg->node's operands as a KRowsFn does
	 * (see kern_rows; row r's arithmetic must not depend on [r0, r1)).  When
	 * every task of the product computes whole rows (no batch, enough row
	 * blocks: gemm.c plan_init) it runs in the task, on each block of rows
	 * right after its last K block, while they are in cache; otherwise after
	 * the product, as kern_rows(cg, rows_n, rows_work, rows_fn, rows_arg).
	 * Either way the rows see the same arithmetic: bitwise the same result. */
	void (*rows_fn)(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1);
	void *rows_arg;
	int64_t rows_n, rows_work;
	int nbatch_dims;
	int64_t bdims[IR_MAX_RANK], a_bs[IR_MAX_RANK], b_bs[IR_MAX_RANK], c_bs[IR_MAX_RANK],
	        res_bs[IR_MAX_RANK];
} KGemm;

/* kern_gemm_ok's thresholds: a product runs on the kernel when its N is at
 * least the target's vector width (at most KERN_GEMM_MAX_VLEN lanes on any
 * target) and M*N*K >= KERN_GEMM_MIN_WORK.  passes/fuse_slice_gemm.c reads
 * them so that a GEMM and the blocks it is split into take the same path. */
#define KERN_GEMM_MAX_VLEN 16
#define KERN_POS_BIAS (INT64_C(1) << 30)   /* see KGemm.b_kpos */
#define KERN_GEMM_MIN_WORK 4096

/* True when kern_gemm() handles this product on cg's target (f32, a vector
 * unit, and a product large enough for tiles to pay); otherwise callers keep
 * their scalar loop nest. */
bool kern_gemm_ok(const Cg *cg, int64_t M, int64_t N, int64_t K);

/* Emits the product at the builder's position in the current node
 * function (see cg.h).  Returns false only after cg_unsupported(). */
bool kern_gemm(Cg *cg, const KGemm *g);

/* The same product emitted in place in the current function: serial, no
 * task function, no batch (nbatch_dims == 0).  For kernels that compute a
 * GEMM as one step of their own tasks (attention's row blocks). */
bool kern_gemm_here(Cg *cg, const KGemm *g);

/* Calls task(ctx, 0, n) — `void task(ptr ctx, i64 begin, i64 end)` — or,
 * when the node function received a parallel-for (cg->par, NULL at run
 * time meaning serial), hands [0, n) to it.  Tasks must write disjoint
 * outputs so that any partition gives bitwise the same result. */
void kern_parallel(Cg *cg, LLVMValueRef task, LLVMValueRef ctx, int64_t n);

/* The W x W transpose of the rows r[0..w) (W-lane vectors of any element
 * type, f32 or i32; W a power of two <= 64) in registers: log2(W) stages of two-source shuffles; the
 * stage of bit b swaps the off-diagonal b x b blocks of each 2b x 2b block
 * (rows i and i|b trade lanes l with l & b). */
void kern_transpose_regs(Cg *cg, LLVMValueRef *r, int w);

/* A dimension of full * w + rem elements in vector blocks of w, as two
 * parts: part 0 opens a loop over the full blocks (*l, closed by
 * kern_vec_part_end), part 1 is the single block of rem lanes.  Returns
 * the part's first element (i64) and sets *valid to its lanes, or NULL
 * when the part is empty (skip it, no end). */
LLVMValueRef kern_vec_part(Cg *cg, int part, int64_t full, int64_t rem, int w, CgLoop *l, int *valid);
void kern_vec_part_end(Cg *cg, int part, CgLoop *l);

/* GELU of x (f32 scalar or vector): the erf form 0.5x(1+erf(x/sqrt2)) as
 * cg_math_gelu (f32: x Phi(x), a piecewise polynomial for Phi), the tanh
 * form as x*sigmoid(2u). */
LLVMValueRef kern_gelu(Cg *cg, LLVMValueRef x, bool tanh_form);

/* Emitting a helper function (a micro-kernel, a task) from inside a node's
 * lowering:
 *     KFn kf;
 *     kern_fn_begin(cg, &kf, fn);   // cg->b/fn/alloca_bb now point into fn
 *     ... emit the body (cg_alloca goes to fn's entry block) ...
 *     kern_fn_end(cg, &kf);         // ret void; the node function's state back */
typedef struct KFn {
	LLVMBuilderRef b;
	LLVMValueRef fn;
	LLVMBasicBlockRef alloca_bb, start;
} KFn;
void kern_fn_begin(Cg *cg, KFn *kf, LLVMValueRef fn);
void kern_fn_end(Cg *cg, KFn *kf);

/* Attributes of a function holding vectors of the ISA's full width
 * ("min-legal-vector-width"/"prefer-vector-width": otherwise LLVM splits
 * <16 x float> into 256-bit halves) and nounwind. */
void kern_fn_attrs(Cg *cg, LLVMValueRef fn);

/* A task function and its launch, the pattern every threaded kernel uses:
 *     LLVMValueRef base[N];
 *     KFn kf;
 *     LLVMValueRef task = kern_task_begin(cg, &kf, "softmax_task", N, base);
 *     ... loop over tasks [LLVMGetParam(task, 1), LLVMGetParam(task, 2)),
 *         reading through base[0..N) ...
 *     kern_fn_end(cg, &kf);
 *     LLVMValueRef ptrs[N] = {...};        // in the node function
 *     kern_parallel_ptrs(cg, task, ptrs, N, ntasks);
 *
 * kern_task_begin() adds the internal function
 * `void <prefix>.node<id>.<name>(ptr ctx, i64 begin, i64 end)` with
 * kern_fn_attrs(), enters it as kern_fn_begin() does, and loads base[i] =
 * ((ptr *)ctx)[i] for i < n; returns the function. */
LLVMValueRef kern_task_begin(Cg *cg, KFn *kf, const char *name, int n, LLVMValueRef *base);

/* In the node function: stores ptrs[0..n) (NULL entries as null pointers)
 * into a context array of n pointers on the stack and runs task over
 * [0, ntasks) with kern_parallel(). */
void kern_parallel_ptrs(Cg *cg, LLVMValueRef task, const LLVMValueRef *ptrs, int n, int64_t ntasks);

/* A constant the compiler derives from a weight (a packed or transposed
 * copy): cg_data_global(cg, name, n, NULL, fill, arg, arg_size), or the
 * global an earlier call with the same fill, n and arg bytes (compared
 * bytewise: give arg no padding, or zero it) returned, so that every node
 * and every ISA variant deriving the same bytes shares one copy. */
LLVMValueRef kern_const_global(Cg *cg, const char *name, size_t n, CgFillFn fill, const void *arg,
                               size_t arg_size);

/* Row-parallel node bodies, for ops whose output rows are computed
 * independently (LayerNorm, Softmax, elementwise ops): body(cg, arg, r0,
 * r1) emits the node's work for rows [r0, r1) (i64 values), reading and
 * writing through cg_load/cg_store/cg_ptr (cg->buf) as in the node function.
 *
 * kern_rows() calls body once, in place, over [0, rows) when
 * kern_rows_tasks() gives 1 (no parallel-for parameter, fewer than 2 rows,
 * or work — the node's element-passes, e.g. numel x passes — below the
 * threshold task.c explains); otherwise it emits body into a task function
 * over chunks of rows, with cg->buf of every operand of cg->node pointing
 * at the task's copies of their pointers (and cg->par NULL), and launches
 * it with kern_parallel_ptrs().  body must not call cg_fail_if() nor keep
 * LLVM values across calls (it may run in another function).  Rows written
 * by one task are read by no other, so the result is bitwise the same for
 * every thread count as long as a row's arithmetic does not depend on
 * [r0, r1). */
typedef void (*KRowsFn)(Cg *cg, void *arg, LLVMValueRef r0, LLVMValueRef r1);
int64_t kern_rows_tasks(const Cg *cg, int64_t rows, int64_t work);
void kern_rows(Cg *cg, int64_t rows, int64_t work, KRowsFn body, void *arg);

/* Calls the LLVM intrinsic `name` overloaded on over[0..nover). */
/* Vector helpers shared by the kernel emitters: the constant i1 mask of
 * the first `valid` of w lanes; w floats at p (only the first `valid`
 * lanes read, the others zero, when valid < w: a masked load); their
 * store (masked likewise).  Alignment 4. */
LLVMValueRef kern_lane_mask(Cg *cg, int w, int valid);
LLVMValueRef kern_splat(Cg *cg, LLVMTypeRef vt, LLVMValueRef s);      /* s in every lane of vt */
LLVMValueRef kern_fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c); /* llvm.fmuladd */
/* llvm.prefetch of the line at p: rw 0 read, 1 write; locality 3 (L1) .. 1 */
void kern_prefetch(Cg *cg, LLVMValueRef p, int rw, int locality);
LLVMValueRef kern_vload(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, int valid);
void kern_vstore(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, LLVMValueRef x, int valid);

LLVMValueRef kern_intrinsic(Cg *cg, const char *name, LLVMTypeRef *over, unsigned nover,
                            LLVMValueRef *args, unsigned nargs);

/* ---- multi-versioning (dispatch.c) ----------------------------------------
 * mark: the module's last function before a lowering (NULL: none), so that
 * "the functions after mark" are the ones that lowering created. */

/* True when a function created after mark (always-inline helpers and
 * declarations aside), or one it calls, computes on vectors: its code
 * depends on the ISA. */
bool kern_fns_use_vectors(Cg *cg, LLVMValueRef mark);

/* Gives every function defined after mark (always-inline helpers aside:
 * they take their caller's features) cg->isa's "target-features"; nothing
 * when cg->isa.features is NULL. */
void kern_isa_attrs(Cg *cg, LLVMValueRef mark);

/* Marks every function defined after mark (always-inline helpers aside)
 * "optsize": for the functions of a lowering that computes on vectors
 * (kern_fns_use_vectors).  Their loops are vectorised and their tiles
 * unrolled by construction, so LLVM's unrolling, interleaving and
 * loop-vectorising of them buy nothing; without them, optimisation and
 * code generation handle about 40 % less code (docs/compile.md). */
void kern_size_attrs(Cg *cg, LLVMValueRef mark);

/* A function of base's type that calls vfns[k] when the run-time CPU check
 * gives visa[k].level, and base otherwise (see dispatch.c). */
LLVMValueRef kern_dispatch(Cg *cg, LLVMValueRef base, const LLVMValueRef *vfns, const CgIsa *visa, int n);

/* Frees the kernel cache of cg (cg_dispose() calls it). */
void kern_cache_free(Cg *cg);

#endif

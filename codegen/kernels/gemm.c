/* codegen/kernels/gemm.c — f32 GEMM: register-blocked micro-kernels, cache
 * blocking, weights packed at compile time (see kernels.h for the contract).
 *
 * Structure (the BLIS/GotoBLAS decomposition, sizes from cg->isa):
 *   for ic  in M step MC                    A block MC x KC stays in L2
 *     for pc in K step KC                   (accumulate into C across pc)
 *       [A rows 2 KiB-aliased in L1: copy the MC x KC block with a padded
 *        row stride, once per K block for all the task's column panels:
 *        the first tile's rows here, the others by the micro-kernels of
 *        the first column panel, each copying the next tile's rows]
 *       for jr in N step NR                 B panel KC x NR stays in L1
 *         [runtime B not contiguous along j, or rows 2 KiB-aliased: pack
 *          the panel on the stack]
 *         for ir in ic..ic+MC step MR
 *           ukernel: MR x NR tile of vector accumulators, k = 0..kc
 * The micro-kernel holds MR x (NR/W) accumulators of W lanes (W =
 * cg->isa.vlen, NR = 2W); per k it loads NR/W vectors of B and broadcasts
 * MR scalars of A into llvm.fmuladd.  Tile shapes, A's column stride, B's
 * row stride and the epilogue are constants of the kernel function, which
 * is internal, noinline and shared by every call with the same constants;
 * the row strides of A, C and the residual are its arguments, so products
 * of every width of a model share it (see ukernel()).  Edge
 * tiles are kernels of their own (fewer rows; masked stores for the last
 * vector of columns).  Weights (constant B) are packed at compile time into
 * panels [K/KC][N/NR][kc][NR], zero-padded to NR columns.
 *
 * Results do not depend on how the tiles are scheduled: every C element is
 * the same sequence of fmuladds over k in order, blocks of KC accumulated in
 * C in order, so a partition of tiles among threads changes nothing.
 */
#include "kernels.h"
#include "../weights.h"
#include "../mathfn.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tile sizes ---------------------------------------------------------- */

typedef struct Tiles {
	int w;          /* lanes per vector */
	int nv;         /* vectors per row of a tile: NR = nv * w */
	int mr;         /* rows per tile */
	int64_t kc, mc; /* cache blocks */
} Tiles;

static bool b_rows_alias(const KGemm *g, const Tiles *t);
static bool b_copied_by_tile(const KGemm *g);

/* here: the product runs inside another kernel's task (kern_gemm_here),
 * whose stack holds other buffers beside this product's. */
static Tiles tiles_for(const Cg *cg, const KGemm *g, bool here)
{
	int64_t M = g->M, K = g->K;
	Tiles t;
	t.w = cg->isa.vlen;
	t.nv = 2;
	/* accumulators mr*nv plus nv B vectors and a broadcast must fit */
	int regs = cg->isa.nregs;
	t.mr = (regs - t.nv - 2) / t.nv;
	if (t.mr > 12)
		t.mr = 12;
	if (t.mr < 1)
		t.mr = 1;
	/* KC: a B panel (KC x NR floats) within about half of a 32-48 KiB L1
	 * for a run-time B (packed on the stack per panel, or read in place).
	 * 1024 for packed weights, whose panels are contiguous and prefetched
	 * into L2 (a 128 KiB panel for NR = 32, read from L2): every tile
	 * loads and stores its C rows and calls its kernel once per K block,
	 * and the first column panel of a C chunk copies A once per K block,
	 * costs that fewer K blocks divide (docs/kernels.md, "KC for packed
	 * weights": 2048^3 +5 %, 1024^3 +6 % on average over copies of the
	 * .so, vit_b16 -5 %; none of the models' shapes slower).  Not with a
	 * row index of whole rows, whose A block is kept within 64 KiB of
	 * stack (MC / KC rows); with one of parts (an im2col folded into the
	 * GEMM: KGemm.a_row_parts) 1024 too, as the GEMM on the gathered
	 * copy had it (docs/kernels.md, "sret_t's stem as token GEMMs": the
	 * stem convs' K = 288 and 576 in one block, not 2 and 3; MC then
	 * shrinks to keep the block on the stack).  The same for every ISA:
	 * one packed copy of a weight serves all the variants of a portable
	 * build.  A run-time B whose panels the first tile copies (copy_b)
	 * takes 1024 too, with an A block of 512 KiB instead of 256 (MC
	 * 120, not 60): its panel is a contiguous 128 KiB on the stack like a
	 * packed weight's, and the larger A block halves the times B is
	 * copied, once per row block (docs/kernels.md, "run-time B packed by
	 * its first tile": 1024^3 and 2048^3 with both operands inputs +5-7 %
	 * over KC 256).  Not inside another kernel's task, for its stack. */
	bool rtb = !here && !g->a_rows && b_copied_by_tile(g) && b_rows_alias(g, &t);
	int64_t kc_max = (g->b_const && (!g->a_rows || g->a_row_parts > 1)) || rtb ? 1024 : 256;
	int64_t nb = (K + kc_max - 1) / kc_max;
	t.kc = (K + nb - 1) / nb;
	/* MC: an A block (MC x KC floats) within a few hundred KiB of L2 */
	int64_t mc = ((rtb ? 512 : 256) * 1024 / 4) / (t.kc > 0 ? t.kc : 1);
	mc -= mc % t.mr;
	if (mc < t.mr)
		mc = t.mr;
	/* each row block copies all of a run-time B once: rather than a last
	 * block of a few rows (2048 rows: 17 x 120 + 8), spread them over the
	 * others (15 x 132 + 68) when that grows MC by at most a quarter */
	int64_t nmb = M / mc;
	if (rtb && nmb >= 4 && M % mc != 0 && M % mc < mc / 4) {
		int64_t m2 = (M + nmb - 1) / nmb;
		m2 = (m2 + t.mr - 1) / t.mr * t.mr;
		if (m2 * 4 <= mc * 5)
			mc = m2;
	}
	t.mc = M < mc ? M : mc;
	return t;
}

bool kern_gemm_ok(const Cg *cg, int64_t M, int64_t N, int64_t K)
{
	assert(cg->isa.vlen <= KERN_GEMM_MAX_VLEN);
	return cg->isa.vlen >= 4 && M >= 1 && K >= 1 && N >= cg->isa.vlen && M * N * K >= KERN_GEMM_MIN_WORK;
}

/* ---- small IR helpers ------------------------------------------------------ */

LLVMValueRef kern_intrinsic(Cg *cg, const char *name, LLVMTypeRef *over, unsigned nover,
                            LLVMValueRef *args, unsigned nargs)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	assert(id != 0);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, over, nover);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, over, nover);
	return LLVMBuildCall2(cg->b, ft, fn, args, nargs, "");
}

static LLVMValueRef gep_c(Cg *cg, LLVMValueRef base, int64_t idx)
{
	return idx ? cg_gep_f32(cg, base, cg_i64(cg, idx)) : base;
}

static LLVMValueRef lane_mask(Cg *cg, int w, int valid)
{
	LLVMValueRef bits[64];
	for (int i = 0; i < w; i++)
		bits[i] = LLVMConstInt(cg->t_i1, i < valid, 0);
	return LLVMConstVector(bits, (unsigned)w);
}

/* Loads w floats at p (the first `valid` lanes only when valid < w). */
static LLVMValueRef vload(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, int valid)
{
	if (valid >= w) {
		LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, p, "");
		LLVMSetAlignment(x, 4);
		return x;
	}
	LLVMTypeRef over[2] = {vt, cg->t_ptr};
	LLVMValueRef args[4] = {p, cg_i32(cg, 4), lane_mask(cg, w, valid), LLVMConstNull(vt)};
	return kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
}

static void vstore(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, LLVMValueRef x, int valid)
{
	if (valid >= w) {
		LLVMValueRef st = LLVMBuildStore(cg->b, x, p);
		LLVMSetAlignment(st, 4);
		return;
	}
	LLVMTypeRef over[2] = {vt, cg->t_ptr};
	LLVMValueRef args[4] = {x, p, cg_i32(cg, 4), lane_mask(cg, w, valid)};
	kern_intrinsic(cg, "llvm.masked.store", over, 2, args, 4);
}

LLVMValueRef kern_lane_mask(Cg *cg, int w, int valid) { return lane_mask(cg, w, valid); }
LLVMValueRef kern_vload(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, int valid) { return vload(cg, vt, w, p, valid); }
void kern_vstore(Cg *cg, LLVMTypeRef vt, int w, LLVMValueRef p, LLVMValueRef x, int valid)
{
	vstore(cg, vt, w, p, x, valid);
}

static LLVMValueRef splat(Cg *cg, LLVMTypeRef vt, LLVMValueRef s)
{
	LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetUndef(vt), s, cg_i32(cg, 0), "");
	return LLVMBuildShuffleVector(cg->b, v, LLVMGetUndef(vt),
	                              LLVMConstNull(LLVMVectorType(cg->t_i32, LLVMGetVectorSize(vt))), "");
}

static LLVMValueRef fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	LLVMValueRef args[3] = {a, b, c};
	return kern_intrinsic(cg, "llvm.fmuladd", &t, 1, args, 3);
}

LLVMValueRef kern_splat(Cg *cg, LLVMTypeRef vt, LLVMValueRef s) { return splat(cg, vt, s); }
LLVMValueRef kern_fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) { return fmuladd(cg, a, b, c); }

void kern_prefetch(Cg *cg, LLVMValueRef p, int rw, int locality)
{
	LLVMValueRef args[4] = {p, cg_i32(cg, rw), cg_i32(cg, locality), cg_i32(cg, 1)};
	LLVMTypeRef pt = cg->t_ptr;
	kern_intrinsic(cg, "llvm.prefetch", &pt, 1, args, 4);
}

static void str_attr(Cg *cg, LLVMValueRef fn, const char *k, const char *v)
{
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
	                        LLVMCreateStringAttribute(cg->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v)));
}

static void enum_attr(Cg *cg, LLVMValueRef fn, unsigned idx, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

/* Attributes every kernel function carries: vectors of the ISA's full width
 * are legal (otherwise LLVM splits <16 x float> into 256-bit halves). */
void kern_fn_attrs(Cg *cg, LLVMValueRef fn)
{
	char bits[16];
	snprintf(bits, sizeof bits, "%d", (cg->isa.vlen < 1 ? 1 : cg->isa.vlen) * 32);
	str_attr(cg, fn, "min-legal-vector-width", bits);
	str_attr(cg, fn, "prefer-vector-width", bits);
	enum_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
}

LLVMValueRef kern_gelu(Cg *cg, LLVMValueRef x, bool tanh_form)
{
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMTypeRef et = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
#define KC_(v) (LLVMGetTypeKind(t) == LLVMVectorTypeKind ? splat(cg, t, LLVMConstReal(et, (v))) : LLVMConstReal(et, (v)))
	if (tanh_form) {
		/* 0.5x(1 + tanh(u)) = x*sigmoid(2u): no cancellation for x << 0 */
		LLVMValueRef x3 = LLVMBuildFMul(cg->b, LLVMBuildFMul(cg->b, x, x, ""), x, "");
		LLVMValueRef in = LLVMBuildFAdd(cg->b, x, LLVMBuildFMul(cg->b, KC_(0.044715), x3, ""), "");
		LLVMValueRef u2 = LLVMBuildFMul(cg->b, KC_(2 * 0.7978845608028654), in, "");
		return LLVMBuildFMul(cg->b, x, cg_math_sigmoid(cg, u2), "");
	}
	/* 0.5x(1 + erf(x/sqrt2)) (PyTorch's form), f32 as x Phi(x) with a
	 * piecewise polynomial for Phi (mathfn.h) */
	return cg_math_gelu(cg, x);
#undef KC_
}

/* ---- the micro-kernel ------------------------------------------------------ */

/* Everything a micro-kernel function is specialised on. */
typedef struct UKey {
	int mr, nv, w;
	int level;           /* the ISA's dispatch level (variants differ in features) */
	int last_valid;      /* valid lanes of the last vector of columns (w: all) */
	int b_masked;        /* B's last vector is loaded masked (unpadded runtime B) */
	int prefetch;        /* prefetch one line of the next B panel per k step */
	int64_t pf_ks;       /* floats between the lines prefetched at steps k and k+1 */
	int copy_a;          /* copy the next tile's rows of A into the A block (see ukernel) */
	int64_t copy_b;      /* row stride of the panel buffer B is copied into, or 0 (see ukernel) */
	int pfw_next;        /* prefetch the next tile's C lines for writing (and residual lines) during the k loop */
	int64_t a_rs, a_cs, b_ks, ldc;   /* a_rs, ldc: 0, arguments (see ukernel) */
	int has_bias, has_res, act;      /* has_res 2: res added before act (KGemm.res_pre_act) */
	int64_t res_rs, res_cs;          /* res_rs: 0, an argument */
	float alpha, beta, beta_bias, scale;
} UKey;

typedef struct UKern {
	UKey key;
	LLVMValueRef fn;
	struct UKern *next;
} UKern;

/* Per-module cache, hung on cg->kern_cache. */
/* A constant derived at compile time (a packed or transposed weight),
 * shared by every node and ISA variant that derives it the same way
 * (weight-shared blocks: recursion, ODE steps; the variants of a node). */
typedef struct Derived {
	CgFillFn fill;
	size_t n, arg_size;
	void *arg;           /* owned copy, compared bytewise */
	LLVMValueRef gv;
	struct Derived *next;
} Derived;

/* Everything a task function is specialised on besides its node: products
 * of the same shape, strides and epilogue (a transformer's layers) share
 * one task function, the packed weights coming through the context. */
typedef struct TKey {
	int level, w, b_const, has_bias, has_res, act, nbatch_dims, accumulate, a_rows;
	int64_t a_row_parts;
	int64_t M, N, K, a_rs, a_cs, b_rs, b_cs, ldc, res_rs, res_cs;
	float alpha, beta, beta_bias, scale;
	int64_t bdims[IR_MAX_RANK], a_bs[IR_MAX_RANK], b_bs[IR_MAX_RANK], c_bs[IR_MAX_RANK], res_bs[IR_MAX_RANK];
} TKey;

typedef struct KTask {
	TKey key;
	LLVMValueRef fn;
	struct KTask *next;
} KTask;

typedef struct KCache {
	UKern *ukerns;
	Derived *derived;
	KTask *tasks;
	int n;
} KCache;

void kern_cache_free(Cg *cg)
{
	KCache *kc = cg->kern_cache;
	if (!kc)
		return;
	for (UKern *u = kc->ukerns, *nx; u; u = nx) {
		nx = u->next;
		free(u);
	}
	for (Derived *q = kc->derived, *nx; q; q = nx) {
		nx = q->next;
		free(q->arg);
		free(q);
	}
	for (KTask *t = kc->tasks, *nx; t; t = nx) {
		nx = t->next;
		free(t);
	}
	free(kc);
	cg->kern_cache = NULL;
}

/* void ukern(ptr a, ptr b, ptr c, ptr bias, ptr res, i64 kc, i32 flags, ptr pf,
 *            i64 ldc, i64 res_rs, i64 a_rs, ptr csrc, i64 csrc_rs, i64 crows, ptr bdst)
 *   flags bit 0: C already holds a partial sum (add to it), else start at 0
 *   flags bit 1: last K block: apply the epilogue before storing
 *   pf (key.prefetch): the line at pf + k * key.pf_ks floats is prefetched
 *   into L2 at step k: the caller points it at a part of the next B panel
 *   (pf_ks 16: packed weights, line after line; B's row stride: a run-time
 *   B packed per panel, a row per step), so that weights streamed from
 *   memory, or B's rows, arrive before the first tile of their panel (or
 *   its packing) needs them.
 *   ldc, res_rs, a_rs: the row strides of C, res and A (elements),
 *   arguments rather than constants of the kernel, so that products
 *   differing only in them (every width of a model's layers) share one
 *   kernel: pvt_opset13 went from 125 kernels to 47, its optimised IR
 *   from 33.7k instructions to 22.8k.  C's and res's only address the
 *   tile's loads and stores outside the k loop; A's makes the k loop
 *   step MR row pointers (a few integer adds beside MR x NV FMAs; no
 *   measurable run-time cost, docs/compile.md).  A's column stride, B's
 *   row stride and the tile shape stay constants.
 *   csrc, csrc_rs, crows (key.copy_a; unused otherwise): a is a tile of
 *   the copied A block, and the next tile's rows of it (rows mr.. from a,
 *   crows <= mr of them) are still to be copied from csrc (A in place,
 *   row stride csrc_rs): step k copies one 64-byte piece of them.  The
 *   copy runs beside the FMAs instead of as a pass of its own (col_panels
 *   calls this variant for the first column panel of a K block).
 *   bdst (key.copy_b; unused otherwise): b is B in place (a run-time B
 *   whose rows alias in L1, key.b_ks its row stride, the last vector
 *   loaded masked), and step k also stores the B row it loaded at bdst +
 *   k * key.copy_b, whole vectors (zeros past the valid lanes): the first
 *   tile of a column panel packs the panel for the others beside its
 *   FMAs instead of a copy loop of its own (col_panels). */
#define UK_NPARAMS 15
static LLVMValueRef ukernel(Cg *cg, const UKey *k)
{
	KCache *cache = cg->kern_cache;
	if (!cache)
		cache = cg->kern_cache = xcalloc(1, sizeof *cache);
	for (UKern *u = cache->ukerns; u; u = u->next)
		if (!memcmp(&u->key, k, sizeof *k))
			return u->fn;

	LLVMTypeRef params[UK_NPARAMS] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i64, cg->t_i32,
	                                  cg->t_ptr, cg->t_i64, cg->t_i64, cg->t_i64, cg->t_ptr, cg->t_i64, cg->t_i64,
	                                  cg->t_ptr};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, params, UK_NPARAMS, 0);
	char name[256];
	snprintf(name, sizeof name, "%s.gemm_%dx%d.%d", cg->prefix, k->mr, k->nv * k->w, cache->n++);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	kern_fn_attrs(cg, fn);
	enum_attr(cg, fn, LLVMAttributeFunctionIndex, "noinline");
	for (unsigned i = 1; i <= 5; i++)
		enum_attr(cg, fn, i, "nocapture");
	enum_attr(cg, fn, 3, "noalias");

	KFn kf;
	kern_fn_begin(cg, &kf, fn);

	LLVMValueRef pa = LLVMGetParam(fn, 0), pb = LLVMGetParam(fn, 1), pc = LLVMGetParam(fn, 2);
	LLVMValueRef pbias = LLVMGetParam(fn, 3), pres = LLVMGetParam(fn, 4);
	LLVMValueRef kc = LLVMGetParam(fn, 5), flags = LLVMGetParam(fn, 6);
	LLVMValueRef ldc = LLVMGetParam(fn, 8), res_rs = LLVMGetParam(fn, 9);
	int w = k->w, nv = k->nv, mr = k->mr;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef acc[16][4];
	assert(mr <= 16 && nv <= 4);
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++)
			acc[r][v] = cg_alloca(cg, vt, "acc");
#define VALID(v) ((v) == nv - 1 ? k->last_valid : w)
	/* rows of C and of res */
	LLVMValueRef crows[16], rrows[16];
	for (int r = 0; r < mr; r++) {
		crows[r] = r ? cg_gep_f32(cg, pc, LLVMBuildNSWMul(cg->b, cg_i64(cg, r), ldc, "")) : pc;
		rrows[r] = !k->has_res ? NULL : r ? cg_gep_f32(cg, pres, LLVMBuildNSWMul(cg->b, cg_i64(cg, r), res_rs, "")) : pres;
	}

	/* init: zero or the partial sum in C */
	CgIf init;
	LLVMValueRef accum = LLVMBuildICmp(cg->b, LLVMIntNE, LLVMBuildAnd(cg->b, flags, cg_i32(cg, 1), ""),
	                                   cg_i32(cg, 0), "");
	cg_if(cg, &init, accum);
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++)
			LLVMBuildStore(cg->b, vload(cg, vt, w, gep_c(cg, crows[r], v * w), VALID(v)), acc[r][v]);
	cg_else(cg, &init);
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++)
			LLVMBuildStore(cg->b, LLVMConstNull(vt), acc[r][v]);
	/* C is written, not read, by this call: ask for its lines now, for
	 * writing (llvm.prefetch rw 1: prefetchw where the target has it),
	 * so that the stores at the end of the k loop find them in L1
	 * instead of waiting on a read-for-ownership from L2/L3 each; the
	 * smaller K, the larger that wait is against the FMAs (a 1x1 conv
	 * over 112x112 pixels with K = 64: 42 % of its kernel's samples
	 * after the k loop, 34 % with this) */
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++) {
			kern_prefetch(cg, gep_c(cg, crows[r], v * w), 1, 3);
		}
	cg_if_end(cg, &init);
	/* the residual's lines too (a bias tensor or the skip connection,
	 * often in L2/L3 by now), read at the end: the scores' bias of a
	 * Swin window attention Q.K^T (K = 32) went from 41 % to 32 % of its
	 * kernel's samples after the k loop */
	if (k->has_res)
		for (int r = 0; r < mr; r++)
			for (int v = 0; v < (k->res_cs ? nv : 1); v++) {
				kern_prefetch(cg, k->res_cs ? gep_c(cg, rrows[r], v * w) : rrows[r], 0, 3);
			}

	/* rows of A */
	LLVMValueRef arows[16];
	for (int r = 0; r < mr; r++)
		arows[r] = r ? cg_gep_f32(cg, pa, LLVMBuildNSWMul(cg->b, cg_i64(cg, r), LLVMGetParam(fn, 10), "")) : pa;
	/* k loop */
	CgLoop lk;
	cg_for_v(cg, &lk, cg_i64(cg, 0), kc);
	LLVMValueRef bv[4];
	LLVMValueRef boff = LLVMBuildNSWMul(cg->b, lk.iv, cg_i64(cg, k->b_ks), "");
	for (int v = 0; v < nv; v++) {
		LLVMValueRef p = cg_gep_f32(cg, pb, LLVMBuildNSWAdd(cg->b, boff, cg_i64(cg, v * w), ""));
		bv[v] = vload(cg, vt, w, p, k->b_masked ? VALID(v) : w);
	}
	if (k->copy_b) {
		LLVMValueRef drow = cg_gep_f32(cg, LLVMGetParam(fn, 14), LLVMBuildNSWMul(cg->b, lk.iv, cg_i64(cg, k->copy_b), ""));
		for (int v = 0; v < nv; v++)
			vstore(cg, vt, w, gep_c(cg, drow, v * w), bv[v], w);
	}
	if (k->pfw_next) {
		/* the next tile's C lines (rows mr.. below this tile's), for
		 * writing, one per 2 steps over the first 2 mr nv steps (then
		 * the last again: in L1, a cheap hint): a product of one short
		 * K block writes C at a rate the prefetchw at the start of the
		 * tile alone did not cover (3136x64x512: the loads of C's lines
		 * for ownership) */
		LLVMValueRef kk = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, lk.iv, cg_i64(cg, 2 * mr * nv), ""), lk.iv, cg_i64(cg, 2 * mr * nv - 1), "");
		LLVMValueRef half = LLVMBuildUDiv(cg->b, kk, cg_i64(cg, 2), "");
		LLVMValueRef rr = LLVMBuildUDiv(cg->b, half, cg_i64(cg, nv), "");
		LLVMValueRef vv = LLVMBuildURem(cg->b, half, cg_i64(cg, nv), "");
		LLVMValueRef off = cg_add_i64(cg, LLVMBuildNSWMul(cg->b, cg_add_i64(cg, rr, cg_i64(cg, mr)), ldc, ""), LLVMBuildNSWMul(cg->b, vv, cg_i64(cg, w), ""));
		LLVMValueRef pp = LLVMBuildGEP2(cg->b, cg->t_f32, pc, &off, 1, "");
		kern_prefetch(cg, pp, 1, 3);
		if (k->has_res && k->res_cs == 1) {
			/* and the next tile's residual lines, for reading, on the
			 * same schedule: the epilogue's adds waited on them (the
			 * prefetch at the start of the tile comes too late for
			 * the first rows) */
			LLVMValueRef roff = cg_add_i64(cg, LLVMBuildNSWMul(cg->b, cg_add_i64(cg, rr, cg_i64(cg, mr)), res_rs, ""),
			                               LLVMBuildNSWMul(cg->b, vv, cg_i64(cg, w), ""));
			kern_prefetch(cg, LLVMBuildGEP2(cg->b, cg->t_f32, pres, &roff, 1, ""), 0, 3);
		}
	}
	if (k->prefetch) {
		/* llvm.prefetch(ptr, rw 0, locality 2 (L2), data cache) */
		LLVMValueRef off = LLVMBuildNSWMul(cg->b, lk.iv, cg_i64(cg, k->pf_ks), "");
		LLVMValueRef pp = LLVMBuildGEP2(cg->b, cg->t_f32, LLVMGetParam(fn, 7), &off, 1, "");
		kern_prefetch(cg, pp, 0, 2);
	}
	if (k->copy_a) {
		/* step k copies 16 floats of row k % mr of the next tile's rows
		 * (at most crows of them: the last row again beyond), columns
		 * 16 (k / mr) on, the last 16 of the block once those run out
		 * (kc >= 16, and mr * ceil(kc/16) <= kc: every line is copied;
		 * copying a line twice writes the same bytes), and prefetches
		 * the line two steps of the same row ahead */
		LLVMValueRef csrc = LLVMGetParam(fn, 11), crs = LLVMGetParam(fn, 12), crows = LLVMGetParam(fn, 13);
		LLVMValueRef q = LLVMBuildUDiv(cg->b, lk.iv, cg_i64(cg, mr), "");
		LLVMValueRef r = LLVMBuildURem(cg->b, lk.iv, cg_i64(cg, mr), "");
		LLVMValueRef rmax = LLVMBuildNSWSub(cg->b, crows, cg_i64(cg, 1), "");
		r = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, r, crows, ""), r, rmax, "");
		LLVMValueRef col = LLVMBuildNSWMul(cg->b, q, cg_i64(cg, 16), "");
		LLVMValueRef last = LLVMBuildNSWSub(cg->b, kc, cg_i64(cg, 16), "");
		LLVMValueRef c0 = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, col, last, ""), col, last, "");
		LLVMValueRef srow = cg_gep_f32(cg, csrc, LLVMBuildNSWMul(cg->b, r, crs, ""));
		LLVMValueRef drow = cg_gep_f32(cg, pa, LLVMBuildNSWMul(cg->b, cg_add_i64(cg, r, cg_i64(cg, mr)),
		                                                     LLVMGetParam(fn, 10), ""));
		LLVMTypeRef v16 = LLVMVectorType(cg->t_f32, 16);
		LLVMValueRef x = LLVMBuildLoad2(cg->b, v16, cg_gep_f32(cg, srow, c0), "");
		LLVMSetAlignment(x, 4);
		LLVMValueRef st = LLVMBuildStore(cg->b, x, cg_gep_f32(cg, drow, c0));
		LLVMSetAlignment(st, 4);
		LLVMValueRef poff = cg_add_i64(cg, col, cg_i64(cg, 32));
		LLVMValueRef pp = LLVMBuildGEP2(cg->b, cg->t_f32, srow, &poff, 1, "");
		kern_prefetch(cg, pp, 0, 3);
	}
	LLVMValueRef aoff = LLVMBuildNSWMul(cg->b, lk.iv, cg_i64(cg, k->a_cs), "");
	for (int r = 0; r < mr; r++) {
		LLVMValueRef p = cg_gep_f32(cg, arows[r], aoff);
		LLVMValueRef as = LLVMBuildLoad2(cg->b, cg->t_f32, p, "");
		LLVMSetAlignment(as, 4);
		LLVMValueRef sv = splat(cg, vt, as);
		for (int v = 0; v < nv; v++) {
			LLVMValueRef s = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
			LLVMBuildStore(cg->b, fmuladd(cg, sv, bv[v], s), acc[r][v]);
		}
	}
	cg_for_end(cg, &lk);

	/* epilogue on the last K block */
	bool any_epi = k->alpha != 1.0f || k->has_bias || k->has_res || k->act != KACT_NONE || k->scale != 0;
	/* A GELU epilogue is long (an erf or a sigmoid per vector): unrolled
	 * over the mr x nv accumulators it made the micro-kernel ten times
	 * larger and dominated compile time (every MLP shape, once per ISA).
	 * It runs as a loop over the tile's rows instead, on C: the
	 * accumulators are stored, then each row is read back (from L1),
	 * finished and stored again — the same operations per element in the
	 * same order, so the same bits, for a few loads and stores per tile. */
	bool epi_loop = k->act == KACT_GELU || k->act == KACT_GELU_TANH;
	if (epi_loop) {
		for (int r = 0; r < mr; r++)
			for (int v = 0; v < nv; v++)
				vstore(cg, vt, w, gep_c(cg, crows[r], v * w), LLVMBuildLoad2(cg->b, vt, acc[r][v], ""),
				       VALID(v));
		CgIf epi;
		LLVMValueRef last = LLVMBuildICmp(cg->b, LLVMIntNE, LLVMBuildAnd(cg->b, flags, cg_i32(cg, 2), ""),
		                                  cg_i32(cg, 0), "");
		cg_if(cg, &epi, last);
		LLVMValueRef bias[4] = {0};
		if (k->has_bias)
			for (int v = 0; v < nv; v++) {
				bias[v] = vload(cg, vt, w, gep_c(cg, pbias, v * w), VALID(v));
				if (k->beta_bias != 1.0f)
					bias[v] = LLVMBuildFMul(cg->b, bias[v], splat(cg, vt, cg_f32(cg, k->beta_bias)), "");
			}
		CgLoop lr;
		cg_for(cg, &lr, 0, mr);
		LLVMValueRef crow = cg_gep_f32(cg, pc, LLVMBuildNSWMul(cg->b, lr.iv, ldc, ""));
		LLVMValueRef rrow = k->has_res ? cg_gep_f32(cg, pres, LLVMBuildNSWMul(cg->b, lr.iv, res_rs, "")) : NULL;
		LLVMValueRef rs = NULL;
		if (k->has_res && k->res_cs == 0) {
			LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, rrow, "");
			LLVMSetAlignment(x, 4);
			rs = splat(cg, vt, x);
		}
		/* each step for the row's nv vectors side by side (the erf
		 * GELU's too: cg_math_gelu_n), the same operations per vector */
		LLVMValueRef y[4];
		for (int pre = 1; pre >= 0; pre--) {
			for (int v = 0; v < nv; v++) {
				if (pre) {
					y[v] = vload(cg, vt, w, gep_c(cg, crow, v * w), VALID(v));
					if (k->alpha != 1.0f)
						y[v] = LLVMBuildFMul(cg->b, y[v], splat(cg, vt, cg_f32(cg, k->alpha)), "");
					if (k->has_bias)
						y[v] = LLVMBuildFAdd(cg->b, y[v], bias[v], "");
				}
				if (k->has_res == (pre ? 2 : 1)) {
					LLVMValueRef x = rs ? rs : vload(cg, vt, w, gep_c(cg, rrow, v * w), VALID(v));
					if (k->beta != 1.0f)
						x = LLVMBuildFMul(cg->b, x, splat(cg, vt, cg_f32(cg, k->beta)), "");
					y[v] = LLVMBuildFAdd(cg->b, y[v], x, "");
				}
			}
			if (!pre)
				break;
			if (k->act == KACT_GELU_TANH)
				for (int v = 0; v < nv; v++)
					y[v] = kern_gelu(cg, y[v], true);
			else
				cg_math_gelu_n(cg, y, nv);
			if (k->scale != 0)
				for (int v = 0; v < nv; v++)
					y[v] = LLVMBuildFMul(cg->b, y[v], splat(cg, vt, cg_f32(cg, k->scale)), "");
		}
		for (int v = 0; v < nv; v++)
			vstore(cg, vt, w, gep_c(cg, crow, v * w), y[v], VALID(v));
		cg_for_end(cg, &lr);
		cg_if_end(cg, &epi);
	} else if (any_epi) {
		CgIf epi;
		LLVMValueRef last = LLVMBuildICmp(cg->b, LLVMIntNE, LLVMBuildAnd(cg->b, flags, cg_i32(cg, 2), ""),
		                                  cg_i32(cg, 0), "");
		cg_if(cg, &epi, last);
		LLVMValueRef bias[4] = {0};
		if (k->has_bias)
			for (int v = 0; v < nv; v++) {
				bias[v] = vload(cg, vt, w, gep_c(cg, pbias, v * w), VALID(v));
				if (k->beta_bias != 1.0f)
					bias[v] = LLVMBuildFMul(cg->b, bias[v], splat(cg, vt, cg_f32(cg, k->beta_bias)), "");
			}
		for (int r = 0; r < mr; r++) {
			LLVMValueRef rs = NULL;
			if (k->has_res && k->res_cs == 0) {
				LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, rrows[r], "");
				rs = splat(cg, vt, x);
			}
			for (int v = 0; v < nv; v++) {
				LLVMValueRef y = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
				if (k->alpha != 1.0f)
					y = LLVMBuildFMul(cg->b, y, splat(cg, vt, cg_f32(cg, k->alpha)), "");
				if (k->has_bias)
					y = LLVMBuildFAdd(cg->b, y, bias[v], "");
				for (int pre = 1; pre >= 0; pre--) {
					if (k->has_res == (pre ? 2 : 1)) {
						LLVMValueRef x = rs ? rs
						                 : vload(cg, vt, w, gep_c(cg, rrows[r], v * w), VALID(v));
						if (k->beta != 1.0f)
							x = LLVMBuildFMul(cg->b, x, splat(cg, vt, cg_f32(cg, k->beta)), "");
						y = LLVMBuildFAdd(cg->b, y, x, "");
					}
					if (!pre)
						break;
					if (k->act == KACT_RELU)
						y = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, y, LLVMConstNull(vt), ""),
						                    LLVMConstNull(vt), y, "");
					else if (k->act == KACT_GELU || k->act == KACT_GELU_TANH)
						y = kern_gelu(cg, y, k->act == KACT_GELU_TANH);
					if (k->scale != 0)
						y = LLVMBuildFMul(cg->b, y, splat(cg, vt, cg_f32(cg, k->scale)), "");
				}
				LLVMBuildStore(cg->b, y, acc[r][v]);
			}
		}
		cg_if_end(cg, &epi);
	}
	if (!epi_loop)
		for (int r = 0; r < mr; r++)
			for (int v = 0; v < nv; v++)
				vstore(cg, vt, w, gep_c(cg, crows[r], v * w), LLVMBuildLoad2(cg->b, vt, acc[r][v], ""),
				       VALID(v));
#undef VALID
	kern_fn_end(cg, &kf);

	UKern *u = xcalloc(1, sizeof *u);
	u->key = *k;
	u->fn = fn;
	u->next = cache->ukerns;
	cache->ukerns = u;
	return fn;
}

/* ---- weight packing ------------------------------------------------------- */

/* What pack_fill needs: B's data and strides, the blocking. */
typedef struct PackArg {
	const float *b;
	int64_t K, N, b_rs, b_cs, kc, nr;
} PackArg;

/* Columns of packed B: N rounded up to a multiple of the panel width. */
static int64_t packed_cols(int64_t N, int64_t nr)
{
	return (N + nr - 1) / nr * nr;
}

/* Packs B into dst (K*Np floats, Np = packed_cols): K blocks of KC rows,
 * each [Np/NR panels][kc][NR], the edge panel's columns from N on zero;
 * then hands B's pages back (the raw weight is not read again unless
 * emitted too). */
static void pack_fill(void *dst, size_t n, const void *arg)
{
	const PackArg *a = arg;
	float *p = dst;
	int64_t np = packed_cols(a->N, a->nr);
	assert(n == (size_t)(a->K * np) * sizeof *p);
	(void)n;
	for (int64_t pc = 0; pc < a->K; pc += a->kc) {
		int64_t kc = a->K - pc < a->kc ? a->K - pc : a->kc;
		float *blk = p + pc * np;
		for (int64_t jr = 0; jr < a->N; jr += a->nr) {
			int64_t w = a->N - jr < a->nr ? a->N - jr : a->nr;
			float *pan = blk + jr * kc;
			for (int64_t k = 0; k < kc; k++)
				for (int64_t j = 0; j < a->nr; j++)
					pan[k * a->nr + j] = j < w ? a->b[(pc + k) * a->b_rs + (jr + j) * a->b_cs] : 0.0f;
		}
	}
	int64_t last = (a->K - 1) * a->b_rs + (a->N - 1) * a->b_cs;
	if (a->K > 0 && a->N > 0 && a->b_rs >= 0 && a->b_cs >= 0)
		cg_release_pages(a->b, (size_t)(last + 1) * sizeof *a->b);
}

/* Packs constant B into K blocks of KC rows, each [N/PNR full panels][kc][PNR]
 * then the edge panel [kc][PNR] (zero-padded, so that every panel has B
 * row stride PNR and the edge tiles share the micro-kernels of the other
 * layers' full ones; its last vector is still loaded masked), so block pc
 * starts at pc*Np (Np = N rounded up to PNR); returns a private read-only global
 * (cg_data_global: filled when the object is written, for a large one).
 * PNR (nr here) is the panel width of the widest variant of the module
 * (plan_init), a multiple of every variant's NR: one packed copy serves
 * them all, a narrower kernel reading a PNR panel as PNR/NR sub-panels. */
static LLVMValueRef pack_b(Cg *cg, const KGemm *g, const Tiles *t, int64_t nr)
{
	size_t n = (size_t)(g->K * packed_cols(g->N, nr));
	PackArg a = {g->b_const, g->K, g->N, g->b_rs, g->b_cs, t->kc, nr};
	return kern_const_global(cg, "packed", n * sizeof(float), pack_fill, &a, sizeof a);
}

LLVMValueRef kern_const_global(Cg *cg, const char *name, size_t n, CgFillFn fill, const void *arg,
                               size_t arg_size)
{
	KCache *cache = cg->kern_cache;
	if (!cache)
		cache = cg->kern_cache = xcalloc(1, sizeof *cache);
	for (Derived *q = cache->derived; q; q = q->next)
		if (q->fill == fill && q->n == n && q->arg_size == arg_size && !memcmp(q->arg, arg, arg_size))
			return q->gv;
	Derived *q = xcalloc(1, sizeof *q);
	q->fill = fill;
	q->n = n;
	q->arg_size = arg_size;
	q->arg = xmalloc(arg_size ? arg_size : 1);
	memcpy(q->arg, arg, arg_size);
	q->gv = cg_data_global(cg, name, n, NULL, fill, arg, arg_size);
	q->next = cache->derived;
	cache->derived = q;
	return q->gv;
}

/* ---- the macro loops -------------------------------------------------------- */

typedef struct Plan {
	const KGemm *g;
	Tiles t;
	int64_t nr;
	int level;          /* cg->isa.level, part of every micro-kernel's key */
	int64_t pnr;        /* width of a packed panel of constant B (a multiple of nr) */
	int64_t bks;        /* B's row stride in the panels being computed now */
	int64_t pf_ks;      /* and the k step of the next panel's prefetch (see col_panels) */
	LLVMValueRef bpack; /* packed constant B or NULL */
	LLVMValueRef bbuf;  /* stack panel for runtime B not contiguous along j */
	bool b_direct;      /* runtime B with unit column stride: used in place */
	LLVMValueRef abuf;  /* stack block for copied A (MC rows of KC, row stride a_copy_stride) */
	LLVMValueRef i0;    /* first row of the current A block (when packed) */
	LLVMValueRef amean, ainv; /* stack [MC] f32: the A block's row statistics (KGemm.a_stats) */
	LLVMValueRef arow;        /* stack [K] f32: one logical row of A of several parts gathered for them, or NULL */
	bool rows_in_task;  /* g->rows_fn runs in the task, per block of MC rows */
	int64_t bblock;     /* > 0: bbuf holds a task's whole K block of an implicit B
	                     * with this row stride (pack_b_block), not one panel */
} Plan;

/* The most bytes of a whole-block B buffer (Plan.bblock) on the stack. */
#define BBLOCK_MAX (192 * 1024)

/* Row stride (floats) of the copied A block: KC plus one cache line, so
 * that the MR rows a micro-kernel reads fall into different L1 sets. */
static int64_t a_copy_stride(const Tiles *t)
{
	return t->kc + 16;
}

static UKey key_for(const Plan *P, int mr, int64_t ncols, int64_t kc)
{
	const KGemm *g = P->g;
	UKey k;
	memset(&k, 0, sizeof k);
	k.w = P->t.w;
	k.level = P->level;
	k.nv = (int)((ncols + k.w - 1) / k.w);
	k.mr = mr;
	k.last_valid = (int)(ncols - (int64_t)(k.nv - 1) * k.w);
	k.b_masked = (P->b_direct || P->bpack) && k.last_valid < k.w;
	k.a_rs = 0;          /* an argument of the kernel */
	k.a_cs = P->abuf ? 1 : g->a_cs;
	k.b_ks = P->bks;
	k.ldc = 0;           /* an argument of the kernel */
	k.has_bias = g->bias != NULL;
	k.has_res = g->res ? (g->res_pre_act ? 2 : 1) : 0;
	k.act = g->act;
	k.res_rs = 0;        /* an argument of the kernel */
	k.res_cs = g->res ? g->res_cs : 0;
	k.alpha = g->alpha;
	k.beta = g->res ? g->beta : 0;
	k.beta_bias = g->bias ? g->beta_bias : 0;
	k.scale = g->scale == 1.0f ? 0 : g->scale;
	(void)kc;
	return k;
}

/* One call of a micro-kernel on the tile at rows i, columns j (i64 values);
 * pf: the lines it prefetches, or NULL. */
static void call_tile(Cg *cg, const Plan *P, int mr, int64_t ncols, LLVMValueRef i, LLVMValueRef j,
                      LLVMValueRef pcv, int64_t kc, LLVMValueRef bp, LLVMValueRef flags, LLVMValueRef pf,
                      LLVMValueRef crows, LLVMValueRef bsrc)
{
	const KGemm *g = P->g;
	UKey key = key_for(P, mr, ncols, kc);
	key.prefetch = pf != NULL;
	key.pf_ks = pf ? P->pf_ks : 0;
	key.copy_a = crows != NULL;
	/* one K block of at most 512: every tile only writes C, often enough
	 * against its FMAs that its stores wait on C's lines; a full tile's
	 * successor in the panel is the rows below */
	key.pfw_next = g->K <= kc && kc <= 512 && mr == P->t.mr;
	if (bsrc) { /* B in place, copied into the panel buffer bp */
		key.copy_b = P->nr;
		key.b_ks = g->b_rs;
		key.b_masked = key.last_valid < key.w;
	}
	LLVMValueRef fn = ukernel(cg, &key);
	LLVMValueRef args[UK_NPARAMS];
	if (P->abuf) {
		/* row i of the copied block; i0 is the block's first row */
		args[0] = cg_gep_f32(cg, P->abuf, cg_mul_i64(cg, LLVMBuildNSWSub(cg->b, i, P->i0, ""), a_copy_stride(&P->t)));
	} else {
		LLVMValueRef aoff = cg_add_i64(cg, cg_mul_i64(cg, i, g->a_rs), cg_mul_i64(cg, pcv, g->a_cs));
		args[0] = cg_gep_f32(cg, g->a, aoff);
	}
	args[1] = bsrc ? bsrc : bp;
	args[2] = cg_gep_f32(cg, g->c, cg_add_i64(cg, cg_mul_i64(cg, i, g->ldc), j));
	args[3] = g->bias ? cg_gep_f32(cg, g->bias, j) : LLVMConstNull(cg->t_ptr);
	args[4] = g->res ? cg_gep_f32(cg, g->res, cg_add_i64(cg, cg_mul_i64(cg, i, g->res_rs), cg_mul_i64(cg, j, g->res_cs)))
	                 : LLVMConstNull(cg->t_ptr);
	args[5] = cg_i64(cg, kc);
	args[6] = flags;
	args[7] = pf ? pf : LLVMConstNull(cg->t_ptr);
	args[8] = cg_i64(cg, g->ldc);
	args[9] = cg_i64(cg, g->res ? g->res_rs : 0);
	args[10] = cg_i64(cg, P->abuf ? a_copy_stride(&P->t) : g->a_rs);
	args[11] = LLVMConstNull(cg->t_ptr);
	args[12] = cg_i64(cg, 0);
	args[13] = cg_i64(cg, 0);
	args[14] = bsrc ? bp : LLVMConstNull(cg->t_ptr);
	if (crows) { /* the next tile's rows of A, in place */
		LLVMValueRef src = cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, i, cg_i64(cg, mr)), g->a_rs), pcv);
		args[11] = cg_gep_f32(cg, g->a, src);
		args[12] = cg_i64(cg, g->a_rs);
		args[13] = crows;
	}
	LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(fn), fn, args, UK_NPARAMS, "");
}

/* The lines tile t (i64) of a panel prefetches from the next panel at
 * pnext (NULL: none): a panel is kc rows of NR floats, NR/16 lines per
 * row, so tiles t mod NR/16 each take kc consecutive lines of it.  The
 * address may lie past the weights (no fault: a prefetch is a hint; the
 * GEP is not inbounds). */
static LLVMValueRef tile_prefetch(Cg *cg, const Plan *P, LLVMValueRef pnext, LLVMValueRef t, int64_t kc)
{
	if (!pnext)
		return NULL;
	int64_t lines = P->nr / 16 > 1 ? P->nr / 16 : 1;
	LLVMValueRef part = lines > 1 ? LLVMBuildSRem(cg->b, t, cg_i64(cg, lines), "") : cg_i64(cg, 0);
	LLVMValueRef off = cg_mul_i64(cg, part, P->pf_ks == 16 ? kc * 16 : 16);
	return LLVMBuildGEP2(cg->b, cg->t_f32, pnext, &off, 1, "");
}

/* Whether the A block of a K block of kc columns is copied by the
 * micro-kernels of its first column panel (ukernel's copy_a) rather than
 * by pack_a alone: every 64-byte piece of a tile's rows must get a k step
 * of the tile before (mr * ceil(kc/16) <= kc), and the gathered rows of
 * a row index are copied by pack_a. */
static bool copy_ahead(const Plan *P, int64_t kc)
{
	return P->abuf && !P->g->a_rows && !P->g->a_stats && kc >= 16 && P->t.mr * ((kc + 15) / 16) <= kc;
}

/* A full tile at rows i: the micro-kernel, or, when first (an i1: the
 * first column panel of a copied A block) and has_next (an i1, or NULL:
 * true), the variant that copies the next tile's next_rows rows
 * meanwhile.  bsrc: see call_tile. */
static void tile_or_copy(Cg *cg, const Plan *P, LLVMValueRef i, int64_t ncols, LLVMValueRef j, LLVMValueRef pcv,
                         int64_t kc, LLVMValueRef bp, LLVMValueRef flags, LLVMValueRef pf, LLVMValueRef first,
                         LLVMValueRef has_next, LLVMValueRef next_rows, LLVMValueRef bsrc)
{
	int mr = P->t.mr;
	if (!first) {
		call_tile(cg, P, mr, ncols, i, j, pcv, kc, bp, flags, pf, NULL, bsrc);
		return;
	}
	CgIf c;
	cg_if(cg, &c, has_next ? LLVMBuildAnd(cg->b, first, has_next, "") : first);
	call_tile(cg, P, mr, ncols, i, j, pcv, kc, bp, flags, pf, next_rows, bsrc);
	cg_else(cg, &c);
	call_tile(cg, P, mr, ncols, i, j, pcv, kc, bp, flags, pf, NULL, bsrc);
	cg_if_end(cg, &c);
}

/* Full tile t (an i64) of rows [i0, i0+rows) of one column panel: tile t <
 * full-1 copies the next mr rows (when first), the last full one the
 * remainder rows (if any). */
static void full_tile(Cg *cg, const Plan *P, LLVMValueRef i0, int64_t rows, LLVMValueRef t, int64_t ncols,
                      LLVMValueRef j, LLVMValueRef pcv, int64_t kc, LLVMValueRef bp, LLVMValueRef flags,
                      LLVMValueRef pnext, LLVMValueRef first, LLVMValueRef bsrc)
{
	int mr = P->t.mr;
	int64_t full = rows / mr, rem = rows % mr;
	LLVMValueRef notlast = LLVMBuildICmp(cg->b, LLVMIntSLT, t, cg_i64(cg, full - 1), "");
	LLVMValueRef nrows = LLVMBuildSelect(cg->b, notlast, cg_i64(cg, mr), cg_i64(cg, rem), "");
	tile_or_copy(cg, P, cg_add_i64(cg, i0, cg_mul_i64(cg, t, mr)), ncols, j, pcv, kc, bp, flags,
	             tile_prefetch(cg, P, pnext, t, kc), first, rem ? NULL : notlast, nrows, bsrc);
}

/* Rows [i0, i0+rows) of one column panel: full tiles in a loop, then the
 * remainder rows as one tile of its own (a short one: with the last full
 * tile's rows, as two tiles of about half as many).  first: see tile_or_copy (NULL:
 * A is not copied ahead in this K block).  bsrc (or NULL): the panel in
 * place, which the first tile copies into bp for the others (copy_b). */
static void row_tiles(Cg *cg, const Plan *P, LLVMValueRef i0, int64_t rows, int64_t ncols,
                      LLVMValueRef j, LLVMValueRef pcv, int64_t kc, LLVMValueRef bp, LLVMValueRef flags,
                      LLVMValueRef pnext, LLVMValueRef first, LLVMValueRef bsrc)
{
	int mr = P->t.mr;
	int64_t full = rows / mr, rem = rows % mr, t0 = 0;
	int64_t nv = (ncols + P->t.w - 1) / P->t.w;
	/* A remainder tile of fewer than 4 accumulators (1 x 2W, 1-3 x W)
	 * waits on the FMA latency at every k step (its 2 FMAs per step
	 * depend on the step before: half the FMA rate for 1 x 32).  Then
	 * the last full tile and the remainder are two tiles of about
	 * (mr + rem) / 2 rows instead: 49 rows as 12 12 12 7 6, not
	 * 12 12 12 12 1.  When A is copied ahead (first), the tile before
	 * copies mr rows as before (or pack_a the first mr), and the first
	 * split tile the b rows after its own (the remainder among them;
	 * b <= a, and a <= mr keeps copy_ahead's a * ceil(kc/16) <= kc).
	 * Not when B is copied by the first tile.  Which tile computes a row
	 * does not change its FMAs. */
	bool split = rem && rem * nv < 4 && full >= 1 && !bsrc;
	int64_t nfull = split ? full - 1 : full;
	if (bsrc && full > 0) {
		full_tile(cg, P, i0, rows, cg_i64(cg, 0), ncols, j, pcv, kc, bp, flags, pnext, first, bsrc);
		t0 = 1;
	}
	if (nfull - t0 == 1) {
		full_tile(cg, P, i0, rows, cg_i64(cg, t0), ncols, j, pcv, kc, bp, flags, pnext, first, NULL);
	} else if (nfull - t0 > 1) {
		CgLoop li;
		cg_for(cg, &li, t0, nfull);
		full_tile(cg, P, i0, rows, li.iv, ncols, j, pcv, kc, bp, flags, pnext, first, NULL);
		cg_for_end(cg, &li);
	}
	if (split) {
		int a = (int)((mr + rem + 1) / 2), b = (int)(mr + rem - a);
		LLVMValueRef ia = cg_add_i64(cg, i0, cg_i64(cg, nfull * mr));
		LLVMValueRef pfa = tile_prefetch(cg, P, pnext, cg_i64(cg, nfull), kc);
		if (first) {
			CgIf c;
			cg_if(cg, &c, first);
			call_tile(cg, P, a, ncols, ia, j, pcv, kc, bp, flags, pfa, cg_i64(cg, b), NULL);
			cg_else(cg, &c);
			call_tile(cg, P, a, ncols, ia, j, pcv, kc, bp, flags, pfa, NULL, NULL);
			cg_if_end(cg, &c);
		} else {
			call_tile(cg, P, a, ncols, ia, j, pcv, kc, bp, flags, pfa, NULL, NULL);
		}
		call_tile(cg, P, b, ncols, cg_add_i64(cg, ia, cg_i64(cg, a)), j, pcv, kc, bp, flags,
		          tile_prefetch(cg, P, pnext, cg_i64(cg, full), kc), NULL, NULL);
	} else if (rem) {
		call_tile(cg, P, (int)rem, ncols, cg_add_i64(cg, i0, cg_i64(cg, full * mr)), j, pcv, kc, bp, flags,
		          tile_prefetch(cg, P, pnext, cg_i64(cg, full), kc), NULL, full ? NULL : bsrc);
	}
}

static LLVMValueRef min_i64(Cg *cg, LLVMValueRef a, int64_t b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, cg_i64(cg, b), ""), a, cg_i64(cg, b), "");
}

static LLVMValueRef max_i64(Cg *cg, LLVMValueRef a, int64_t b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, a, cg_i64(cg, b), ""), a, cg_i64(cg, b), "");
}

/* Columns [c0, c1) (panel-relative) of a b_row run with element stride s
 * (2 or 4: p[(j + c) * s]) into dst[c]: W columns at a time as s
 * contiguous vector loads deinterleaved by shuffles (a scalar strided copy
 * is vectorised into gathers, slow on Zen), the rest one by one.  A vector
 * chunk is taken only while column c + W is valid too, so that its reads,
 * up to p[(j + c + W - 1) * s + s - 1], stay below that column's element
 * (inside X).  Exact copies: the bits do not depend on the path.  pf != 0
 * (KGemm.b_row_pf): each W-float piece read is also prefetched into L2
 * pf floats further on (a hint: no access, any address). */
static void copy_strided_run(Cg *cg, LLVMValueRef p, LLVMValueRef j, int64_t s, LLVMValueRef dst,
                             LLVMValueRef c0, LLVMValueRef c1, int64_t pf)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	/* chunks: (c1 - c0 - 1) / W (sdiv: 0 for an empty run) */
	LLVMValueRef nch = LLVMBuildSDiv(cg->b, LLVMBuildNSWSub(cg->b, LLVMBuildNSWSub(cg->b, c1, c0, ""), cg_i64(cg, 1), ""),
	                                 cg_i64(cg, w), "");
	CgLoop lv;
	cg_for_v(cg, &lv, cg_i64(cg, 0), nch);
	LLVMValueRef c = cg_add_i64(cg, c0, cg_mul_i64(cg, lv.iv, w));
	LLVMValueRef src = cg_gep_f32(cg, p, cg_mul_i64(cg, cg_add_i64(cg, j, c), s));
	LLVMValueRef v[4];
	for (int q = 0; q < s; q++)
		v[q] = vload(cg, vt, w, cg_gep_f32(cg, src, cg_i64(cg, (int64_t)q * w)), w);
	for (int q = 0; pf && q < s; q++)
		kern_prefetch(cg, LLVMBuildGEP2(cg->b, cg->t_f32, src, (LLVMValueRef[]){cg_i64(cg, q * w + pf)}, 1, ""), 0, 2);
	/* every other element of two vectors, log2(s) times */
	LLVMValueRef even[64];
	for (int i = 0; i < w; i++)
		even[i] = cg_i32(cg, 2 * i);
	LLVMValueRef mask = LLVMConstVector(even, (unsigned)w);
	for (int n = s; n > 1; n /= 2)
		for (int q = 0; q < n / 2; q++)
			v[q] = LLVMBuildShuffleVector(cg->b, v[2 * q], v[2 * q + 1], mask, "");
	vstore(cg, vt, w, cg_gep_f32(cg, dst, c), v[0], w);
	cg_for_end(cg, &lv);
	/* the last 1..W columns [cr, c1): the same loads masked to the
	 * elements up to column c1 - 1's (t <= (c1 - 1 - cr) * s), the first
	 * c1 - cr lanes stored (a scalar loop here became gathers) */
	LLVMValueRef cr = cg_add_i64(cg, c0, cg_mul_i64(cg, nch, w));
	LLVMValueRef nrest = LLVMBuildNSWSub(cg->b, c1, cr, "");
	CgIf rest;
	cg_if(cg, &rest, LLVMBuildICmp(cg->b, LLVMIntSGT, nrest, cg_i64(cg, 0), ""));
	LLVMTypeRef vi = LLVMVectorType(cg->t_i32, (unsigned)w);
	LLVMValueRef lim = LLVMBuildTrunc(cg->b, cg_mul_i64(cg, LLVMBuildNSWSub(cg->b, nrest, cg_i64(cg, 1), ""), s), cg->t_i32, "");
	LLVMValueRef limv = LLVMBuildShuffleVector(cg->b, LLVMBuildInsertElement(cg->b, LLVMGetUndef(vi), lim, cg_i32(cg, 0), ""),
	                                           LLVMGetUndef(vi), LLVMConstNull(vi), "");
	LLVMValueRef nv = LLVMBuildShuffleVector(cg->b, LLVMBuildInsertElement(cg->b, LLVMGetUndef(vi),
	                                         LLVMBuildTrunc(cg->b, nrest, cg->t_i32, ""), cg_i32(cg, 0), ""),
	                                         LLVMGetUndef(vi), LLVMConstNull(vi), "");
	src = cg_gep_f32(cg, p, cg_mul_i64(cg, cg_add_i64(cg, j, cr), s));
	LLVMValueRef t[64];
	LLVMTypeRef over[2] = {vt, cg->t_ptr};
	for (int q = 0; q < s; q++) {
		for (int i = 0; i < w; i++)
			t[i] = cg_i32(cg, q * w + i);
		LLVMValueRef m = LLVMBuildICmp(cg->b, LLVMIntULE, LLVMConstVector(t, (unsigned)w), limv, "");
		LLVMValueRef args[4] = {cg_gep_f32(cg, src, cg_i64(cg, (int64_t)q * w)), cg_i32(cg, 4), m, LLVMConstNull(vt)};
		v[q] = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
		if (pf)
			kern_prefetch(cg, LLVMBuildGEP2(cg->b, cg->t_f32, src, (LLVMValueRef[]){cg_i64(cg, q * w + pf)}, 1, ""), 0, 2);
	}
	for (int n = s; n > 1; n /= 2)
		for (int q = 0; q < n / 2; q++)
			v[q] = LLVMBuildShuffleVector(cg->b, v[2 * q], v[2 * q + 1], mask, "");
	for (int i = 0; i < w; i++)
		t[i] = cg_i32(cg, i);
	LLVMValueRef sm = LLVMBuildICmp(cg->b, LLVMIntULT, LLVMConstVector(t, (unsigned)w), nv, "");
	LLVMValueRef sargs[4] = {v[0], cg_gep_f32(cg, dst, cr), cg_i32(cg, 4), sm};
	kern_intrinsic(cg, "llvm.masked.store", over, 2, sargs, 4);
	cg_if_end(cg, &rest);
}

LLVMValueRef kern_vec_part(Cg *cg, int part, int64_t full, int64_t rem, int w, CgLoop *l, int *valid)
{
	if (part ? rem == 0 : full == 0)
		return NULL;
	*valid = part ? (int)rem : w;
	if (part)
		return cg_i64(cg, full * w);
	cg_for(cg, l, 0, full);
	return cg_mul_i64(cg, l->iv, w);
}

void kern_vec_part_end(Cg *cg, int part, CgLoop *l)
{
	if (!part)
		cg_for_end(cg, l);
}

void kern_transpose_regs(Cg *cg, LLVMValueRef *r, int w)
{
	LLVMValueRef mi[64], mp[64];
	assert(w <= 64 && (w & (w - 1)) == 0);
	for (int b = w / 2; b >= 1; b /= 2) {
		for (int l = 0; l < w; l++) {
			mi[l] = cg_i32(cg, (l & b) ? w + l - b : l);
			mp[l] = cg_i32(cg, (l & b) ? w + l : l + b);
		}
		LLVMValueRef vmi = LLVMConstVector(mi, (unsigned)w), vmp = LLVMConstVector(mp, (unsigned)w);
		for (int i = 0; i < w; i++) {
			if (i & b)
				continue;
			LLVMValueRef a = r[i], c = r[i | b];
			r[i] = LLVMBuildShuffleVector(cg->b, a, c, vmi, "");
			r[i | b] = LLVMBuildShuffleVector(cg->b, a, c, vmp, "");
		}
	}
}

/* pack_panel_runtime for a B whose columns are contiguous along k (b_rs
 * == 1: Q.K^T, MatMul with a transposed run-time B): W x W blocks, each
 * W columns loaded as W-lane vectors along k (kc % W rows masked in),
 * transposed in registers and stored as W-lane rows of the panel;
 * columns past ncols get zeros.  The element loop it replaces was
 * vectorised into gathers (vgatherqps, slow on Zen): 75 % of txl_d512's
 * relative-attention task.  Exact copies: the same panel bits. */
static void pack_panel_transposed(Cg *cg, const Plan *P, LLVMValueRef pcv, int64_t kc, LLVMValueRef j,
                                  int64_t ncols)
{
	const KGemm *g = P->g;
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	int64_t kfull = kc / w, krem = kc % w;
	for (int part = 0; part < 2; part++) {
		CgLoop lk;
		int valid;
		LLVMValueRef k0 = kern_vec_part(cg, part, kfull, krem, w, &lk, &valid);
		if (!k0)
			continue;
		LLVMValueRef krow = cg_add_i64(cg, pcv, k0);
		for (int64_t j0 = 0; j0 < ncols; j0 += w) {
			LLVMValueRef r[64];
			for (int c = 0; c < w; c++) {
				if (j0 + c >= ncols) {
					r[c] = LLVMConstNull(vt);
					continue;
				}
				LLVMValueRef src = cg_add_i64(cg, krow, cg_mul_i64(cg, cg_add_i64(cg, j, cg_i64(cg, j0 + c)), g->b_cs));
				r[c] = vload(cg, vt, w, cg_gep_f32(cg, g->b, src), valid);
			}
			kern_transpose_regs(cg, r, w);
			for (int i = 0; i < valid; i++) {
				LLVMValueRef dst = cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, k0, cg_i64(cg, i)), P->nr), cg_i64(cg, j0));
				vstore(cg, vt, w, cg_gep_f32(cg, P->bbuf, dst), r[i], w);
			}
		}
		kern_vec_part_end(cg, part, &lk);
	}
}

/* Panel columns [s0, s1) of one packed row (dst) from a b_row run: p,
 * lo, hi as b_row gives them for the run's output row, jq the panel's
 * first column in that row's numbering (j, or j - q * b_row_n): zeros,
 * the strided run, zeros, over [s0, jlo), [jlo, jhi), [jhi, s1). */
static void pack_row_segment(Cg *cg, const KGemm *g, LLVMValueRef dst, LLVMValueRef p, LLVMValueRef lo,
                             LLVMValueRef hi, LLVMValueRef jq, LLVMValueRef s0, LLVMValueRef s1, int64_t pf)
{
	LLVMValueRef jlo = LLVMBuildNSWSub(cg->b, lo, jq, "");
	jlo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, jlo, s0, ""), s0, jlo, "");
	jlo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, jlo, s1, ""), s1, jlo, "");
	LLVMValueRef jhi = LLVMBuildNSWSub(cg->b, hi, jq, "");
	jhi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, jhi, s1, ""), s1, jhi, "");
	jhi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, jhi, jlo, ""), jlo, jhi, "");
	LLVMValueRef bounds[4] = {s0, jlo, jhi, s1};
	for (int part = 0; part < 3; part++) {
		if (part == 1 && (g->b_row_cs == 2 || g->b_row_cs == 4) && cg->isa.vlen >= 4) {
			copy_strided_run(cg, p, jq, g->b_row_cs, dst, jlo, jhi, pf);
			continue;
		}
		CgLoop lc;
		cg_for_v(cg, &lc, bounds[part], bounds[part + 1]);
		LLVMValueRef x = cg_f32(cg, 0.0f);
		if (part == 1) {
			LLVMValueRef src = cg_mul_i64(cg, cg_add_i64(cg, jq, lc.iv), g->b_row_cs);
			x = LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildGEP2(cg->b, cg->t_f32, p, &src, 1, ""), "");
		}
		LLVMBuildStore(cg->b, x, cg_gep_f32(cg, dst, lc.iv));
		cg_for_end(cg, &lc);
	}
}

/* Copies the runtime B panel (kc x ncols at rows pc.., columns j..) into the
 * stack buffer with row stride NR. */
static void pack_panel_runtime(Cg *cg, const Plan *P, LLVMValueRef pcv, int64_t kc, LLVMValueRef j,
                               int64_t ncols)
{
	const KGemm *g = P->g;
	CgLoop lk, lj;
	if (g->b_koff) {
		/* the panel's column offsets (and position codes) once, then a
		 * load per element (a padding test per element with codes) */
		LLVMTypeRef at = LLVMArrayType2(cg->t_i64, (uint64_t)P->nr);
		LLVMValueRef joffs = cg_alloca(cg, at, "joffs");
		LLVMValueRef jposs = g->b_kpos ? cg_alloca(cg, at, "jposs") : NULL;
		cg_for(cg, &lj, 0, ncols);
		LLVMBuildStore(cg->b, g->b_joff(cg, g->b_elem_arg, cg_add_i64(cg, j, lj.iv)),
		               LLVMBuildInBoundsGEP2(cg->b, cg->t_i64, joffs, &lj.iv, 1, ""));
		if (jposs)
			LLVMBuildStore(cg->b, g->b_jpos(cg, g->b_elem_arg, cg_add_i64(cg, j, lj.iv)),
			               LLVMBuildInBoundsGEP2(cg->b, cg->t_i64, jposs, &lj.iv, 1, ""));
		cg_for_end(cg, &lj);
		cg_for(cg, &lk, 0, kc);
		LLVMValueRef ko = g->b_koff(cg, g->b_elem_arg, cg_add_i64(cg, pcv, lk.iv));
		LLVMValueRef kp = jposs ? g->b_kpos(cg, g->b_elem_arg, cg_add_i64(cg, pcv, lk.iv)) : NULL;
		LLVMValueRef row = cg_mul_i64(cg, lk.iv, P->nr);
		cg_for(cg, &lj, 0, ncols);
		LLVMValueRef jo = LLVMBuildLoad2(cg->b, cg->t_i64, LLVMBuildInBoundsGEP2(cg->b, cg->t_i64, joffs, &lj.iv, 1, ""), "");
		LLVMValueRef off = cg_add_i64(cg, ko, jo);
		LLVMValueRef ok = NULL;
		if (jposs) {
			LLVMValueRef code = cg_add_i64(cg, kp, LLVMBuildLoad2(cg->b, cg->t_i64,
			                               LLVMBuildInBoundsGEP2(cg->b, cg->t_i64, jposs, &lj.iv, 1, ""), ""));
			LLVMValueRef y = LLVMBuildSub(cg->b, LLVMBuildLShr(cg->b, code, cg_i64(cg, 32), ""),
			                              cg_i64(cg, KERN_POS_BIAS), "");
			LLVMValueRef x = LLVMBuildSub(cg->b, LLVMBuildAnd(cg->b, code, cg_i64(cg, 0xffffffffLL), ""),
			                              cg_i64(cg, KERN_POS_BIAS), "");
			ok = LLVMBuildAnd(cg->b, LLVMBuildICmp(cg->b, LLVMIntULT, y, cg_i64(cg, g->b_pos_lim[0]), ""),
			                  LLVMBuildICmp(cg->b, LLVMIntULT, x, cg_i64(cg, g->b_pos_lim[1]), ""), "");
			/* padding: read element 0 (inside b) and drop it */
			off = LLVMBuildSelect(cg->b, ok, off, cg_i64(cg, 0), "");
		}
		LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, g->b, off), "");
		if (ok)
			x = LLVMBuildSelect(cg->b, ok, x, cg_f32(cg, 0.0f), "");
		LLVMBuildStore(cg->b, x, cg_gep_f32(cg, P->bbuf, cg_add_i64(cg, row, lj.iv)));
		cg_for_end(cg, &lj);
		cg_for_end(cg, &lk);
		return;
	}
	if (!g->b_elem && !g->b_row && g->b_rs == 1 && g->b_cs != 1 && cg->isa.vlen >= 4 && cg->isa.vlen <= 64 &&
	    P->nr % cg->isa.vlen == 0) {
		pack_panel_transposed(cg, P, pcv, kc, j, ncols);
		return;
	}
	cg_for(cg, &lk, 0, kc);
	LLVMValueRef krow = cg_add_i64(cg, pcv, lk.iv);
	if (g->b_row) {
		LLVMValueRef p, lo, hi;
		g->b_row(cg, g->b_elem_arg, g->b, krow, &p, &lo, &hi);
		LLVMValueRef dst = cg_gep_f32(cg, P->bbuf, cg_mul_i64(cg, lk.iv, P->nr));
		if (!g->b_row_n) {
			pack_row_segment(cg, g, dst, p, lo, hi, j, cg_i64(cg, 0), cg_i64(cg, ncols), g->b_row_pf);
		} else {
			/* the runs q = j / n .. (j + ncols - 1) / n, each over its
			 * panel columns [q n - j, (q + 1) n - j) within [0, ncols) */
			int64_t n = g->b_row_n;
			LLVMValueRef q0 = LLVMBuildSDiv(cg->b, j, cg_i64(cg, n), "");
			LLVMValueRef q1 = cg_add_i64(cg, LLVMBuildSDiv(cg->b, cg_add_i64(cg, j, cg_i64(cg, ncols - 1)), cg_i64(cg, n), ""),
			                             cg_i64(cg, 1));
			CgLoop lq;
			cg_for_v(cg, &lq, q0, q1);
			LLVMValueRef jq = LLVMBuildNSWSub(cg->b, j, cg_mul_i64(cg, lq.iv, n), "");
			LLVMValueRef s0 = max_i64(cg, LLVMBuildNSWSub(cg->b, cg_i64(cg, 0), jq, ""), 0);
			LLVMValueRef s1 = min_i64(cg, LLVMBuildNSWSub(cg->b, cg_i64(cg, n), jq, ""), ncols);
			LLVMValueRef off = cg_mul_i64(cg, lq.iv, g->b_row_rs);
			LLVMValueRef pq = LLVMBuildGEP2(cg->b, cg->t_f32, p, &off, 1, "");
			pack_row_segment(cg, g, dst, pq, lo, hi, jq, s0, s1, g->b_row_pf);
			cg_for_end(cg, &lq);
		}
		cg_for_end(cg, &lk);
		return;
	}
	if (!g->b_elem && g->b_cs == 1) {
		LLVMValueRef src = cg_add_i64(cg, cg_mul_i64(cg, krow, g->b_rs), j);
		cg_memcpy(cg, cg_gep_f32(cg, P->bbuf, cg_mul_i64(cg, lk.iv, P->nr)), cg_gep_f32(cg, g->b, src), ncols * 4);
		cg_for_end(cg, &lk);
		return;
	}
	cg_for(cg, &lj, 0, ncols);
	LLVMValueRef x;
	if (g->b_elem) {
		x = g->b_elem(cg, g->b_elem_arg, g->b, krow, cg_add_i64(cg, j, lj.iv));
	} else {
		LLVMValueRef src = cg_add_i64(cg, cg_mul_i64(cg, krow, g->b_rs), cg_mul_i64(cg, cg_add_i64(cg, j, lj.iv), g->b_cs));
		x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, g->b, src), "");
	}
	LLVMValueRef dst = cg_add_i64(cg, cg_mul_i64(cg, lk.iv, P->nr), lj.iv);
	LLVMBuildStore(cg->b, x, cg_gep_f32(cg, P->bbuf, dst));
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lk);
}

/* One k row of a whole-block B (dst: its row of the block) from the
 * row's run (p, lo, hi as b_row gives them): each output row's run
 * (b_row_n) as a segment of block columns [c0, c1). */
static void pack_block_row(Cg *cg, const Plan *P, LLVMValueRef dst, LLVMValueRef p, LLVMValueRef lo,
                           LLVMValueRef hi, LLVMValueRef c0, LLVMValueRef c1, int64_t pf)
{
	const KGemm *g = P->g;
	int64_t n = g->b_row_n ? g->b_row_n : g->N;
	for (int64_t q = 0; q * n < g->N; q++) {
		/* run q: block columns [q n, (q + 1) n) within [c0, c1) */
		LLVMValueRef s0 = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, c0, cg_i64(cg, q * n), ""), c0,
		                                  cg_i64(cg, q * n), "");
		LLVMValueRef s1 = min_i64(cg, c1, (q + 1) * n);
		s1 = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, s1, s0, ""), s0, s1, "");
		LLVMValueRef off = cg_i64(cg, q * g->b_row_rs);
		LLVMValueRef pq = q ? LLVMBuildGEP2(cg->b, cg->t_f32, p, &off, 1, "") : p;
		pack_row_segment(cg, g, dst, pq, lo, hi, cg_i64(cg, -q * n), s0, s1, pf);
	}
}

/* K block pc (kc rows) of an implicit B given by rows (KGemm.b_row),
 * columns [p0 NR, min(p1 NR, N)) (panels [p0, p1)), into the stack block
 * (Plan.bblock: row k at bbuf + k * bblock, column c at c): one b_row per
 * k row, then each output row's run (b_row_n) as a segment.  With
 * b_row_kw runs of rows (and blocks of whole runs), a task that packs
 * every column calls b_row once per run of rows and copies each row with
 * constant bounds (the IR builder folds the segments' selects, LLVM
 * unrolls the copies: no bounds arithmetic, loop or mask per row; the
 * stem convs' packing was instruction bound on those).  Exact copies
 * either way: the same B as pack_panel_runtime's panels. */
static void pack_b_block(Cg *cg, const Plan *P, LLVMValueRef pcv, int64_t kc, LLVMValueRef p0, LLVMValueRef p1)
{
	const KGemm *g = P->g;
	LLVMValueRef c0 = cg_mul_i64(cg, p0, P->nr);
	LLVMValueRef c1 = min_i64(cg, cg_mul_i64(cg, p1, P->nr), g->N);
	int kw = g->b_row_kw;
	bool runs = kw > 1 && kc % kw == 0 && P->t.kc % kw == 0;
	CgIf whole;
	if (runs) {
		assert(kw <= KERN_ROW_KW_MAX);
		cg_if(cg, &whole, LLVMBuildAnd(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, c0, cg_i64(cg, 0), ""),
		                               LLVMBuildICmp(cg->b, LLVMIntEQ, c1, cg_i64(cg, g->N), ""), ""));
		CgLoop lg;
		cg_for(cg, &lg, 0, kc / kw);
		LLVMValueRef k0 = cg_mul_i64(cg, lg.iv, kw);
		LLVMValueRef p, lo, hi;
		g->b_row(cg, g->b_elem_arg, g->b, cg_add_i64(cg, pcv, k0), &p, &lo, &hi);
		for (int t = 0; t < kw; t++) {
			LLVMValueRef off = cg_i64(cg, t * g->b_row_kwd);
			LLVMValueRef pt = LLVMBuildGEP2(cg->b, cg->t_f32, p, &off, 1, "");
			LLVMValueRef dst = cg_gep_f32(cg, P->bbuf, cg_mul_i64(cg, cg_add_i64(cg, k0, cg_i64(cg, t)), P->bblock));
			pack_block_row(cg, P, dst, pt, cg_i64(cg, g->b_row_lo[t]), cg_i64(cg, g->b_row_hi[t]), cg_i64(cg, 0),
			               cg_i64(cg, g->N), t == 0 ? g->b_row_pf : 0);
		}
		cg_for_end(cg, &lg);
		cg_else(cg, &whole);
	}
	CgLoop lk;
	cg_for(cg, &lk, 0, kc);
	LLVMValueRef p, lo, hi;
	g->b_row(cg, g->b_elem_arg, g->b, cg_add_i64(cg, pcv, lk.iv), &p, &lo, &hi);
	pack_block_row(cg, P, cg_gep_f32(cg, P->bbuf, cg_mul_i64(cg, lk.iv, P->bblock)), p, lo, hi, c0, c1, g->b_row_pf);
	cg_for_end(cg, &lk);
	if (runs)
		cg_if_end(cg, &whole);
}

/* The panel pointer for columns j.. of K block pc (kc rows). */
static LLVMValueRef panel_ptr(Cg *cg, const Plan *P, LLVMValueRef pcv, int64_t kc, LLVMValueRef j,
                              int64_t ncols)
{
	const KGemm *g = P->g;
	int64_t np = packed_cols(g->N, P->pnr);
	if (P->bpack && P->pnr == P->nr)
		return cg_gep_f32(cg, P->bpack, cg_add_i64(cg, cg_mul_i64(cg, pcv, np), cg_mul_i64(cg, j, kc)));
	if (P->bpack) {
		/* column j lies in packed panel q = j / PNR (which starts at
		 * q*PNR*kc in the block), at column j - q*PNR of it */
		LLVMValueRef q = LLVMBuildSDiv(cg->b, j, cg_i64(cg, P->pnr), "");
		LLVMValueRef o = LLVMBuildNSWSub(cg->b, j, cg_mul_i64(cg, q, P->pnr), "");
		LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, pcv, np), cg_add_i64(cg, cg_mul_i64(cg, q, P->pnr * kc), o));
		return cg_gep_f32(cg, P->bpack, off);
	}
	if (P->b_direct)
		return cg_gep_f32(cg, g->b, cg_add_i64(cg, cg_mul_i64(cg, pcv, g->b_rs), j));
	if (P->bblock)
		return cg_gep_f32(cg, P->bbuf, j);
	pack_panel_runtime(cg, P, pcv, kc, j, ncols);
	return P->bbuf;
}

/* A run-time B packed per panel only because its rows alias (rows in
 * place, unit column stride): the panel's first tile copies it into the
 * panel buffer (ukernel's copy_b) instead of a copy loop before the tiles,
 * whose loads, rows a few KiB apart from L2 or L3, stalled on each row
 * (docs/kernels.md, "run-time B packed by its first tile").  Returns B's
 * panel in place (columns j.. of K block pc), or NULL for the copy loop. */
static LLVMValueRef copy_b_src(Cg *cg, const Plan *P, LLVMValueRef pcv, LLVMValueRef j)
{
	const KGemm *g = P->g;
	if (!P->bbuf || !b_copied_by_tile(g))
		return NULL;
	return cg_gep_f32(cg, g->b, cg_add_i64(cg, cg_mul_i64(cg, pcv, g->b_rs), j));
}

/* Column panels [p0, p1) (i64 values; panel p covers columns p*NR..) of
 * rows [i0, i0+rows) for K block pc.  The last panel may be partial.  With
 * packed B every panel, the edge packed panel's too, has B row stride PNR
 * (pack_b pads it). */
static void col_panels(Cg *cg, Plan *P, LLVMValueRef i0, int64_t rows, LLVMValueRef pcv, int64_t kc,
                       LLVMValueRef flags, LLVMValueRef p0, LLVMValueRef p1)
{
	int64_t N = P->g->N, nr = P->nr;
	int64_t full = N / nr, rem = N % nr;
	int64_t bks = P->b_direct ? P->g->b_rs : P->bpack ? P->pnr : P->bblock ? P->bblock : P->nr;
	P->bks = bks;
	if (full > 0) {
		CgLoop lj;
		cg_for_v(cg, &lj, p0, min_i64(cg, p1, full));
		LLVMValueRef j = cg_mul_i64(cg, lj.iv, nr);
		LLVMValueRef bsrc = copy_b_src(cg, P, pcv, j);
		LLVMValueRef bp = bsrc ? P->bbuf : panel_ptr(cg, P, pcv, kc, j, nr);
		/* packed panels follow each other: prefetch the next one (for
		 * the last, the start of the next K block or past the end) */
		LLVMValueRef pnext = NULL;
		if (P->bpack && P->pnr == P->nr) {
			LLVMValueRef step = cg_i64(cg, kc * nr);
			pnext = LLVMBuildGEP2(cg->b, cg->t_f32, bp, &step, 1, "");
			P->pf_ks = 16;
		} else if (P->bbuf && !P->g->b_elem && P->g->b_cs == 1) {
			/* a run-time B packed because its rows alias: the next
			 * panel's columns in place, a row per k step, so that
			 * packing it reads L2 rather than L3 */
			LLVMValueRef pk = pcv, pj = cg_add_i64(cg, j, cg_i64(cg, nr));
			/* the last panel of the range: the first one of the next K
			 * block (after the last K block: the next range's first one),
			 * the panel the next tiles start with, whose first tile
			 * reads it in place (copy_b) */
			LLVMValueRef lastp = LLVMBuildICmp(cg->b, LLVMIntEQ, cg_add_i64(cg, lj.iv, cg_i64(cg, 1)), p1, "");
			LLVMValueRef pcn = cg_add_i64(cg, pcv, cg_i64(cg, kc));
			LLVMValueRef more = LLVMBuildICmp(cg->b, LLVMIntSLT, pcn, cg_i64(cg, P->g->K), "");
			pk = LLVMBuildSelect(cg->b, lastp, LLVMBuildSelect(cg->b, more, pcn, cg_i64(cg, 0), ""), pk, "");
			pj = LLVMBuildSelect(cg->b, LLVMBuildAnd(cg->b, lastp, more, ""), cg_mul_i64(cg, p0, nr), pj, "");
			LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, pk, P->g->b_rs), pj);
			pnext = LLVMBuildGEP2(cg->b, cg->t_f32, P->g->b, &off, 1, "");
			P->pf_ks = P->g->b_rs;
		}
		LLVMValueRef first = copy_ahead(P, kc) ? LLVMBuildICmp(cg->b, LLVMIntEQ, lj.iv, p0, "") : NULL;
		row_tiles(cg, P, i0, rows, nr, j, pcv, kc, bp, flags, pnext, first, bsrc);
		cg_for_end(cg, &lj);
	}
	if (rem) {
		CgIf last;
		cg_if(cg, &last, LLVMBuildICmp(cg->b, LLVMIntSGT, p1, cg_i64(cg, full), ""));
		LLVMValueRef j = cg_i64(cg, full * nr);
		LLVMValueRef bsrc = copy_b_src(cg, P, pcv, j);
		LLVMValueRef bp = bsrc ? P->bbuf : panel_ptr(cg, P, pcv, kc, j, rem);
		LLVMValueRef first = copy_ahead(P, kc) ? LLVMBuildICmp(cg->b, LLVMIntEQ, p0, cg_i64(cg, full), "") : NULL;
		row_tiles(cg, P, i0, rows, rem, j, pcv, kc, bp, flags, NULL, first, bsrc);
		cg_if_end(cg, &last);
	}
}

/* n floats from src to dst (f32 pointers), normalised when the product
 * has a row prologue (KGemm.a_stats): dst[c] = ((src[c] - mean) * inv) *
 * a_scale[k0 + c] + a_shift[k0 + c] with the statistics of block row lr,
 * in vectors of W lanes (the last one masked); else a plain copy. */
static void copy_a_run(Cg *cg, const Plan *P, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef lr,
                       LLVMValueRef k0, int64_t n)
{
	const KGemm *g = P->g;
	if (!g->a_stats) {
		cg_memcpy(cg, dst, src, n * 4);
		return;
	}
	int w = P->t.w;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef pm = cg_gep_f32(cg, P->amean, lr), pi = cg_gep_f32(cg, P->ainv, lr);
	LLVMValueRef vm = splat(cg, vt, LLVMBuildLoad2(cg->b, cg->t_f32, pm, ""));
	LLVMValueRef vi = splat(cg, vt, LLVMBuildLoad2(cg->b, cg->t_f32, pi, ""));
	for (int part = 0; part < 2; part++) {
		CgLoop l;
		int valid;
		LLVMValueRef c = kern_vec_part(cg, part, n / w, n % w, w, &l, &valid);
		if (!c)
			continue;
		LLVMValueRef k = cg_add_i64(cg, k0, c);
		LLVMValueRef x = vload(cg, vt, w, cg_gep_f32(cg, src, c), valid);
		LLVMValueRef y = LLVMBuildFMul(cg->b, LLVMBuildFSub(cg->b, x, vm, ""), vi, "");
		y = LLVMBuildFMul(cg->b, y, vload(cg, vt, w, cg_gep_f32(cg, g->a_scale, k), valid), "");
		if (g->a_shift)
			y = LLVMBuildFAdd(cg->b, y, vload(cg, vt, w, cg_gep_f32(cg, g->a_shift, k), valid), "");
		vstore(cg, vt, w, cg_gep_f32(cg, dst, c), y, valid);
		kern_vec_part_end(cg, part, &l);
	}
}

/* Entry `ip` of a_rows (i64). */
static LLVMValueRef part_row(Cg *cg, const KGemm *g, LLVMValueRef ip)
{
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_i32, g->a_rows, &ip, 1, "");
	LLVMValueRef ri = LLVMBuildLoad2(cg->b, cg->t_i32, p, "");
	LLVMSetAlignment(ri, 4);
	return LLVMBuildSExt(cg->b, ri, cg->t_i64, "");
}

/* The offset in A of gathered part `ip` (an index into a_rows): its
 * source row times A's row stride.  An entry -1 (a zero part: an im2col
 * tap in the padding, KGemm.a_row_parts only) gives row 0's offset, a
 * valid address; pack_a_parts writes zeros for it (part_is_zero). */
static LLVMValueRef part_base(Cg *cg, const KGemm *g, LLVMValueRef ip)
{
	LLVMValueRef r = part_row(cg, g, ip), z = cg_i64(cg, 0);
	r = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, r, z, ""), z, r, "");
	return cg_mul_i64(cg, r, g->a_rs);
}

/* Entry `ip` of a_rows is -1: a part of zeros. */
static LLVMValueRef part_is_zero(Cg *cg, const KGemm *g, LLVMValueRef ip)
{
	return LLVMBuildICmp(cg->b, LLVMIntSLT, part_row(cg, g, ip), cg_i64(cg, 0), "");
}

/* copy_a_run of n floats of part `ip` from src to dst, or n zeros when
 * the part's entry is -1 (a branch per part: taken at the image's edges
 * only).  A masked load per short part (mask empty for a zero part), tried
 * for parts of 3 floats, was no faster (docs/kernels.md, "sret_t's stem as
 * token GEMMs"). */
static void copy_a_part(Cg *cg, const Plan *P, LLVMValueRef ip, LLVMValueRef dst, LLVMValueRef src,
                        LLVMValueRef lr, LLVMValueRef k0, int64_t n)
{
	CgIf c;
	cg_if(cg, &c, part_is_zero(cg, P->g, ip));
	cg_memset(cg, dst, 0, n * 4);
	cg_else(cg, &c);
	copy_a_run(cg, P, dst, src, lr, k0, n);
	cg_if_end(cg, &c);
}

/* Rows of A of several parts up to this long are gathered into P->arow
 * for their statistics (KGemm.a_stats). */
#define A_ROW_MAX 16384

/* The statistics of logical row i (block row lr) into P->amean/ainv[lr]
 * (KGemm.a_stats): a logical row that is one row of A is read where it
 * is; one of several parts is gathered into P->arow (one copy per part:
 * no index arithmetic per vector step); then a_stats over that run. */
static void a_row_stats(Cg *cg, const Plan *P, LLVMValueRef i, LLVMValueRef lr)
{
	const KGemm *g = P->g;
	int64_t parts = g->a_row_parts > 1 ? g->a_row_parts : 1, u = g->K / parts;
	LLVMValueRef row = P->arow;
	if (parts == 1) { /* row i of A, or a_rows[i] */
		row = cg_gep_f32(cg, g->a, g->a_rows ? part_base(cg, g, i) : cg_mul_i64(cg, i, g->a_rs));
	} else if (P->arow) {
		CgLoop lj;
		cg_for(cg, &lj, 0, parts);
		LLVMValueRef src = part_base(cg, g, cg_add_i64(cg, cg_mul_i64(cg, i, parts), lj.iv));
		cg_memcpy(cg, cg_gep_f32(cg, P->arow, cg_mul_i64(cg, lj.iv, u)), cg_gep_f32(cg, g->a, src), u * 4);
		cg_for_end(cg, &lj);
	}
	LLVMValueRef mean, inv;
	g->a_stats(cg, g->a_stats_arg, i, row, &mean, &inv);
	LLVMSetAlignment(LLVMBuildStore(cg->b, mean, cg_gep_f32(cg, P->amean, lr)), 4);
	LLVMSetAlignment(LLVMBuildStore(cg->b, inv, cg_gep_f32(cg, P->ainv, lr)), 4);
}

/* The statistics of rows [i0, i0+rows) (a_row_stats), before their K
 * blocks. */
static void a_block_stats(Cg *cg, const Plan *P, LLVMValueRef i0, int64_t rows)
{
	CgLoop lr;
	cg_for(cg, &lr, 0, rows);
	a_row_stats(cg, P, cg_add_i64(cg, i0, lr.iv), lr.iv);
	cg_for_end(cg, &lr);
}

/* With one K block (K <= KC) A's block is copied once per block of rows:
 * each row's statistics are then taken right before its copy (the row in
 * L1 for both), not in a pass of their own over the block. */
static bool stats_in_copy(const Plan *P)
{
	return P->g->a_stats && P->g->K <= P->t.kc;
}

/* pack_a's row `row` (block row lr) with a_row_parts: columns [pc, pc+kc)
 * of the logical row, made of parts of u = K/P elements.  When the K
 * blocks start at multiples of u (KC % u == 0), one copy of u floats per
 * part; when each lies within one part (u % KC == 0), one copy of kc
 * floats; otherwise element by element (kc_for_parts avoids it). */
static void pack_a_parts(Cg *cg, const Plan *P, LLVMValueRef row, LLVMValueRef lr, LLVMValueRef pcv, int64_t kc)
{
	const KGemm *g = P->g;
	int64_t parts = g->a_row_parts, u = g->K / parts;
	LLVMValueRef dst = cg_gep_f32(cg, P->abuf, cg_mul_i64(cg, lr, a_copy_stride(&P->t)));
	LLVMValueRef first = cg_mul_i64(cg, row, parts); /* index of the row's part 0 */
	if (u % P->t.kc == 0) {
		LLVMValueRef ip = cg_add_i64(cg, first, LLVMBuildSDiv(cg->b, pcv, cg_i64(cg, u), ""));
		LLVMValueRef src = cg_add_i64(cg, part_base(cg, g, ip), LLVMBuildSRem(cg->b, pcv, cg_i64(cg, u), ""));
		copy_a_part(cg, P, ip, dst, cg_gep_f32(cg, g->a, src), lr, pcv, kc);
		return;
	}
	if (P->t.kc % u == 0 && kc % u == 0) {
		CgLoop lj;
		cg_for(cg, &lj, 0, kc / u);
		LLVMValueRef j = cg_add_i64(cg, LLVMBuildSDiv(cg->b, pcv, cg_i64(cg, u), ""), lj.iv);
		LLVMValueRef ip = cg_add_i64(cg, first, j);
		copy_a_part(cg, P, ip, cg_gep_f32(cg, dst, cg_mul_i64(cg, lj.iv, u)),
		            cg_gep_f32(cg, g->a, part_base(cg, g, ip)), lr, cg_add_i64(cg, pcv, cg_mul_i64(cg, lj.iv, u)), u);
		cg_for_end(cg, &lj);
		return;
	}
	CgLoop lk;
	cg_for(cg, &lk, 0, kc);
	LLVMValueRef k = cg_add_i64(cg, pcv, lk.iv);
	LLVMValueRef ip = cg_add_i64(cg, first, LLVMBuildSDiv(cg->b, k, cg_i64(cg, u), ""));
	LLVMValueRef src = cg_add_i64(cg, part_base(cg, g, ip), LLVMBuildSRem(cg->b, k, cg_i64(cg, u), ""));
	LLVMValueRef x = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, g->a, src), "");
	LLVMSetAlignment(x, 4);
	x = LLVMBuildSelect(cg->b, part_is_zero(cg, g, ip), LLVMConstReal(cg->t_f32, 0.0), x, "");
	if (g->a_stats) { /* the prologue, as copy_a_run's (scalar) */
		LLVMValueRef mean = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, P->amean, lr), "");
		LLVMValueRef inv = LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, P->ainv, lr), "");
		x = LLVMBuildFMul(cg->b, LLVMBuildFMul(cg->b, LLVMBuildFSub(cg->b, x, mean, ""), inv, ""),
		                  LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, g->a_scale, k), ""), "");
		if (g->a_shift)
			x = LLVMBuildFAdd(cg->b, x, LLVMBuildLoad2(cg->b, cg->t_f32, cg_gep_f32(cg, g->a_shift, k), ""), "");
	}
	LLVMSetAlignment(LLVMBuildStore(cg->b, x, cg_gep_f32(cg, dst, lk.iv)), 4);
	cg_for_end(cg, &lk);
}

/* Rows ahead of the one being normalised whose lines pack_a prefetches. */
#define A_PF_ROWS 8

/* Prefetches (into L1) columns [pc, pc+kc) of the logical row A_PF_ROWS
 * after `row` (the product's last row when that is past M), through the
 * row index when there is one: the rows a row prologue reads arrive
 * while the rows before are normalised.  A LayerNorm's rows are read
 * once each, right before their copy (stats_in_copy); a gathered row
 * (a window partition's index) is no stream the hardware prefetchers
 * follow, and a contiguous one arrived late behind each row's
 * statistics (docs/kernels.md, "The GEMM nodes inside swin_t"). */
static void prefetch_a_row(Cg *cg, const Plan *P, LLVMValueRef row, LLVMValueRef pcv, int64_t kc, int64_t ahead)
{
	const KGemm *g = P->g;
	LLVMValueRef t = cg_add_i64(cg, row, cg_i64(cg, ahead));
	LLVMValueRef last = cg_i64(cg, g->M - 1);
	t = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, t, last, ""), last, t, "");
	LLVMValueRef src = g->a_rows ? part_base(cg, g, t) : cg_mul_i64(cg, t, g->a_rs);
	LLVMValueRef base = cg_gep_f32(cg, g->a, cg_add_i64(cg, src, pcv));
	int64_t lines = (kc + 15) / 16;
	if (lines <= 8) {
		for (int64_t c = 0; c < kc; c += 16)
			kern_prefetch(cg, cg_gep_f32(cg, base, cg_i64(cg, c)), 0, 3);
		return;
	}
	CgLoop ll; /* a long row: a loop, not kc / 16 calls */
	cg_for(cg, &ll, 0, lines);
	kern_prefetch(cg, cg_gep_f32(cg, base, cg_mul_i64(cg, ll.iv, 16)), 0, 3);
	cg_for_end(cg, &ll);
}

/* pack_a's copy of logical row `row` (block row lr; one part): from A's
 * row `row`, or a_rows[row], columns [pc, pc+kc). */
static void pack_a_row(Cg *cg, const Plan *P, LLVMValueRef row, LLVMValueRef lr, LLVMValueRef pcv, int64_t kc)
{
	const KGemm *g = P->g;
	if (g->a_rows) { /* the row index: row a_rows[i] of A */
		LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_i32, g->a_rows, &row, 1, "");
		LLVMValueRef ri = LLVMBuildLoad2(cg->b, cg->t_i32, p, "");
		LLVMSetAlignment(ri, 4);
		row = LLVMBuildSExt(cg->b, ri, cg->t_i64, "");
	}
	LLVMValueRef src = cg_add_i64(cg, cg_mul_i64(cg, row, g->a_rs), pcv);
	LLVMValueRef dst = cg_mul_i64(cg, lr, a_copy_stride(&P->t));
	copy_a_run(cg, P, cg_gep_f32(cg, P->abuf, dst), cg_gep_f32(cg, g->a, src), lr, pcv, kc);
}

/* A group of rows whose statistics are taken at once (KGemm.a_stats_rows):
 * logical rows r0 + j of the product. */
typedef struct StatsGroup {
	const Plan *P;
	LLVMValueRef r0;
} StatsGroup;

/* The whole row r0 + j of a StatsGroup (one part), for a_stats_rows. */
static LLVMValueRef group_row_ptr(Cg *cg, const void *arg, LLVMValueRef j)
{
	const StatsGroup *sg = arg;
	const KGemm *g = sg->P->g;
	LLVMValueRef i = cg_add_i64(cg, sg->r0, j);
	return cg_gep_f32(cg, g->a, g->a_rows ? part_base(cg, g, i) : cg_mul_i64(cg, i, g->a_rs));
}

/* How many rows pack_a takes the statistics of at once (the f32 vector
 * width, with KGemm.a_stats_rows, one K block and rows of one part), or
 * 0: one row at a time. */
static int64_t stats_group(Cg *cg, const Plan *P)
{
	const KGemm *g = P->g;
	if (!stats_in_copy(P) || !g->a_stats_rows || g->a_row_parts > 1 || cg->isa.vlen < 2)
		return 0;
	return cg->isa.vlen;
}

/* Copies rows [i0, i0+rows) x columns [pc, pc+kc) of A (unit column
 * stride) into P->abuf with row stride a_copy_stride: a row is one
 * contiguous copy, and the rows no longer alias in L1.  With a row index
 * (KGemm.a_rows) row i is copied from A's row a_rows[i].  With a row
 * prologue and one K block each row's statistics come first (stats_in_copy),
 * and a row of one part prefetches the row A_PF_ROWS below it.  With
 * KGemm.a_stats_rows, whole groups of G = vector-width rows of one part
 * take their statistics at once (rows across lanes: no row's horizontal
 * sums and sqrt/div wait on the row before), then their copies, each of
 * which prefetches the row 2 G below it (the group after next: one row's
 * lines at a time, spread over the copies, rather than a group's at once);
 * the rows after the last whole group as above. */
static void pack_a(Cg *cg, const Plan *P, LLVMValueRef i0, int64_t rows, LLVMValueRef pcv, int64_t kc)
{
	const KGemm *g = P->g;
	int64_t G = stats_group(cg, P), done = 0;
	if (G && rows >= G) {
		CgLoop lg, lj;
		cg_for(cg, &lg, 0, rows / G);
		LLVMValueRef b0 = cg_mul_i64(cg, lg.iv, G);
		StatsGroup sg = {P, cg_add_i64(cg, i0, b0)};
		g->a_stats_rows(cg, g->a_stats_arg, (int)G, group_row_ptr, &sg, cg_gep_f32(cg, P->amean, b0),
		                cg_gep_f32(cg, P->ainv, b0));
		cg_for(cg, &lj, 0, G);
		LLVMValueRef lr = cg_add_i64(cg, b0, lj.iv);
		prefetch_a_row(cg, P, cg_add_i64(cg, i0, lr), pcv, kc, 2 * G);
		pack_a_row(cg, P, cg_add_i64(cg, i0, lr), lr, pcv, kc);
		cg_for_end(cg, &lj);
		cg_for_end(cg, &lg);
		done = rows / G * G;
		if (done == rows)
			return;
	}
	CgLoop lr;
	cg_for(cg, &lr, done, rows);
	LLVMValueRef row = cg_add_i64(cg, i0, lr.iv);
	if (stats_in_copy(P)) {
		if (g->a_row_parts <= 1)
			prefetch_a_row(cg, P, row, pcv, kc, A_PF_ROWS);
		a_row_stats(cg, P, row, lr.iv);
	}
	if (g->a_rows && g->a_row_parts > 1)
		pack_a_parts(cg, P, row, lr.iv, pcv, kc);
	else
		pack_a_row(cg, P, row, lr.iv, pcv, kc);
	cg_for_end(cg, &lr);
}

/* K blocks for rows [i0, i0+rows). */
static void k_blocks(Cg *cg, Plan *P, LLVMValueRef i0, int64_t rows, LLVMValueRef p0, LLVMValueRef p1)
{
	P->i0 = i0;
	int64_t K = P->g->K, kcb = P->t.kc;
	int64_t nfull = K / kcb, rem = K % kcb;
	int64_t nblk = nfull + (rem != 0);
	/* flags: bit0 accumulate (pc > 0, or C += A.B), bit1 last block */
	int acc0 = P->g->accumulate ? 1 : 0;
	if (nfull) {
		CgLoop lp;
		cg_for(cg, &lp, 0, nfull);
		LLVMValueRef pcv = cg_mul_i64(cg, lp.iv, kcb);
		LLVMValueRef first = LLVMBuildICmp(cg->b, LLVMIntEQ, lp.iv, cg_i64(cg, 0), "");
		LLVMValueRef last = LLVMBuildICmp(cg->b, LLVMIntEQ, lp.iv, cg_i64(cg, nblk - 1), "");
		LLVMValueRef flags = LLVMBuildOr(cg->b,
		                                 LLVMBuildSelect(cg->b, first, cg_i32(cg, acc0), cg_i32(cg, 1), ""),
		                                 LLVMBuildSelect(cg->b, last, cg_i32(cg, 2), cg_i32(cg, 0), ""), "");
		if (P->abuf)
			pack_a(cg, P, i0, copy_ahead(P, kcb) && rows > P->t.mr ? P->t.mr : rows, pcv, kcb);
		if (P->bblock)
			pack_b_block(cg, P, pcv, kcb, p0, p1);
		col_panels(cg, P, i0, rows, pcv, kcb, flags, p0, p1);
		cg_for_end(cg, &lp);
	}
	if (rem && P->bblock)
		pack_b_block(cg, P, cg_i64(cg, nfull * kcb), rem, p0, p1);
	if (rem && P->abuf)
		pack_a(cg, P, i0, copy_ahead(P, rem) && rows > P->t.mr ? P->t.mr : rows, cg_i64(cg, nfull * kcb), rem);
	if (rem)
		col_panels(cg, P, i0, rows, cg_i64(cg, nfull * kcb), rem, cg_i32(cg, (nfull ? 1 : acc0) | 2), p0, p1);
}

/* Column panels [p0, p1) of rows [i0, i0+rows), in chunks of panels
 * whose C block (rows x chunk) stays in L2 while the K blocks accumulate
 * into it: without them, a product with several K blocks and a wide C
 * reloads C from L3 once per K block. */
static void nc_blocks(Cg *cg, Plan *P, LLVMValueRef i0, int64_t rows, LLVMValueRef p0, LLVMValueRef p1)
{
	if (P->g->a_stats && !stats_in_copy(P))
		a_block_stats(cg, P, i0, rows);
	int64_t ncp = (384 * 1024) / (rows * P->nr * 4);
	if (ncp < 1)
		ncp = 1;
	int64_t panels = (P->g->N + P->nr - 1) / P->nr;
	if (P->g->K <= P->t.kc || ncp >= panels) {
		k_blocks(cg, P, i0, rows, p0, p1);
		return;
	}
	LLVMValueRef n = LLVMBuildSDiv(cg->b, cg_add_i64(cg, LLVMBuildNSWSub(cg->b, p1, p0, ""), cg_i64(cg, ncp - 1)),
	                               cg_i64(cg, ncp), "");
	CgLoop lq;
	cg_for_v(cg, &lq, cg_i64(cg, 0), n);
	LLVMValueRef q0 = cg_add_i64(cg, p0, cg_mul_i64(cg, lq.iv, ncp));
	LLVMValueRef q1 = cg_add_i64(cg, q0, cg_i64(cg, ncp));
	q1 = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, q1, p1, ""), q1, p1, "");
	k_blocks(cg, P, i0, rows, q0, q1);
	cg_for_end(cg, &lq);
}

static void plan_buffers(Cg *cg, Plan *P);

/* ---- tasks ------------------------------------------------------------------- */

/* The work of one product is split at compile time into tasks
 * (batch entry, block of MC rows, group of column panels), numbered
 * t = ((batch * n_m) + m_block) * n_n + n_group; a task function computes a
 * range of them.  The node function calls it once over all tasks, or hands
 * it to the caller's parallel-for (cg->par, see runtime/onnxcc_model.h). */
typedef struct Split {
	int64_t nbatch, n_m, n_n, group, panels, ntasks;
} Split;

static Split split_for(const KGemm *g, const Plan *P)
{
	Split s;
	s.nbatch = 1;
	for (int i = 0; i < g->nbatch_dims; i++)
		s.nbatch *= g->bdims[i];
	s.n_m = (g->M + P->t.mc - 1) / P->t.mc;
	s.panels = (g->N + P->nr - 1) / P->nr;
	/* enough tasks that a few threads get shares within a few percent of
	 * each other (the pool gives each thread a contiguous range); column
	 * groups only when the batch and the row blocks do not already give
	 * them.  Serially this costs nothing: a task range is walked per row
	 * block with all its column groups at once (emit_task). */
	int64_t want = 32, have = s.nbatch * s.n_m;
	s.n_n = have >= want || P->rows_in_task ? 1 : (want + have - 1) / have;
	if (s.n_n > s.panels)
		s.n_n = s.panels;
	s.group = (s.panels + s.n_n - 1) / s.n_n;
	s.n_n = (s.panels + s.group - 1) / s.group;
	s.ntasks = s.nbatch * s.n_m * s.n_n;
	return s;
}

/* Emits `void task(ptr ctx, i64 begin, i64 end)`; ctx holds the base
 * pointers {a, b, c, bias, res, a_rows, a_scale, a_shift}, b being the
 * packed weights when B is constant, then the node's operands ops[0..nops)
 * (for a row epilogue or prologue: cg->buf points at them in the task). */
#define GEMM_NPTRS 8
static LLVMValueRef emit_task(Cg *cg, const KGemm *g0, Plan *P, const Split *S, const ValueId *ops, int nops)
{
	KFn kf;
	LLVMValueRef base[GEMM_NPTRS + 64];
	assert(nops <= 64);
	LLVMValueRef fn = kern_task_begin(cg, &kf, "gemm_task", GEMM_NPTRS + nops, base);
	plan_buffers(cg, P);
	LLVMValueRef saved[64];
	for (int i = 0; i < nops; i++)
		saved[i] = cg->buf[ops[i]], cg->buf[ops[i]] = base[GEMM_NPTRS + i];

	/* Tasks [begin, end) are walked by (batch, row block) r, each with the
	 * union of its column groups in the range as one panel range: a run of
	 * tasks of one row block packs its A block once per K block, not once
	 * per column group. */
	LLVMValueRef tb = LLVMGetParam(fn, 1), te = LLVMGetParam(fn, 2);
	LLVMValueRef nn = cg_i64(cg, S->n_n);
	LLVMValueRef r_lo = LLVMBuildSDiv(cg->b, tb, nn, "");
	LLVMValueRef r_last = LLVMBuildSDiv(cg->b, LLVMBuildNSWSub(cg->b, te, cg_i64(cg, 1), ""), nn, "");
	LLVMValueRef nonempty = LLVMBuildICmp(cg->b, LLVMIntSGT, te, tb, "");
	LLVMValueRef r_end = LLVMBuildSelect(cg->b, nonempty, cg_add_i64(cg, r_last, cg_i64(cg, 1)), r_lo, "");
	CgLoop lr;
	cg_for_v(cg, &lr, r_lo, r_end);
	LLVMValueRef r = lr.iv;
	LLVMValueRef g_lo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, r, r_lo, ""),
	                                    LLVMBuildSRem(cg->b, tb, nn, ""), cg_i64(cg, 0), "");
	LLVMValueRef g_hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, r, r_last, ""),
	                                    LLVMBuildSRem(cg->b, LLVMBuildNSWSub(cg->b, te, cg_i64(cg, 1), ""), nn, ""),
	                                    cg_i64(cg, S->n_n - 1), "");
	LLVMValueRef im = LLVMBuildSRem(cg->b, r, cg_i64(cg, S->n_m), "");
	LLVMValueRef bi = LLVMBuildSDiv(cg->b, r, cg_i64(cg, S->n_m), "");
	/* batch offsets, last batch dim fastest */
	LLVMValueRef off[4] = {cg_i64(cg, 0), cg_i64(cg, 0), cg_i64(cg, 0), cg_i64(cg, 0)};
	const int64_t *bs[4] = {g0->a_bs, g0->b_bs, g0->c_bs, g0->res_bs};
	LLVMValueRef rest = bi;
	for (int d = g0->nbatch_dims - 1; d >= 0; d--) {
		LLVMValueRef x = LLVMBuildSRem(cg->b, rest, cg_i64(cg, g0->bdims[d]), "");
		rest = LLVMBuildSDiv(cg->b, rest, cg_i64(cg, g0->bdims[d]), "");
		for (int o = 0; o < 4; o++)
			if (bs[o][d])
				off[o] = cg_add_i64(cg, off[o], cg_mul_i64(cg, x, bs[o][d]));
	}
	KGemm g = *g0;
	LLVMValueRef bpack = P->bpack;
	if (g0->b_const)
		P->bpack = base[1];
	g.a = cg_gep_f32(cg, base[0], off[0]);
	g.b = g0->b_const ? NULL : cg_gep_f32(cg, base[1], off[1]);
	g.c = cg_gep_f32(cg, base[2], off[2]);
	g.bias = g0->bias ? base[3] : NULL;
	g.res = g0->res ? cg_gep_f32(cg, base[4], off[3]) : NULL;
	g.a_rows = g0->a_rows ? base[5] : NULL;
	g.a_scale = g0->a_scale ? base[6] : NULL;
	g.a_shift = g0->a_shift ? base[7] : NULL;
	P->g = &g;
	LLVMValueRef p0 = cg_mul_i64(cg, g_lo, S->group);
	LLVMValueRef p1 = cg_mul_i64(cg, cg_add_i64(cg, g_hi, cg_i64(cg, 1)), S->group);
	LLVMValueRef over = LLVMBuildICmp(cg->b, LLVMIntSGT, p1, cg_i64(cg, S->panels), "");
	p1 = LLVMBuildSelect(cg->b, over, cg_i64(cg, S->panels), p1, "");
	int64_t mc = P->t.mc, mrem = g.M % mc;
	LLVMValueRef i0 = cg_mul_i64(cg, im, mc);
	if (mrem == 0 || S->n_m == 1) {
		nc_blocks(cg, P, i0, mrem && S->n_m == 1 ? mrem : mc, p0, p1);
	} else {
		CgIf last;
		cg_if(cg, &last, LLVMBuildICmp(cg->b, LLVMIntEQ, im, cg_i64(cg, S->n_m - 1), ""));
		nc_blocks(cg, P, i0, mrem, p0, p1);
		cg_else(cg, &last);
		nc_blocks(cg, P, i0, mc, p0, p1);
		cg_if_end(cg, &last);
	}
	if (P->rows_in_task) {
		/* rows [i0, i0 + mc) (the last block: to M) are final: the row
		 * epilogue, through the task's copies of the node's operands */
		LLVMValueRef i1 = cg_add_i64(cg, i0, cg_i64(cg, mc));
		i1 = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, i1, cg_i64(cg, g.M), ""), cg_i64(cg, g.M), i1, "");
		LLVMValueRef par = cg->par;
		cg->par = NULL;
		g0->rows_fn(cg, g0->rows_arg, i0, i1);
		cg->par = par;
	}
	cg_for_end(cg, &lr);
	P->g = g0;
	P->bpack = bpack;
	for (int i = nops - 1; i >= 0; i--) /* reverse: an operand read twice gets its own pointer back */
		cg->buf[ops[i]] = saved[i];

	kern_fn_end(cg, &kf);
	return fn;
}

/* Whether a run-time B with unit column stride is packed panel by panel
 * (pack_panel_runtime) rather than read in place: when its row stride is
 * a multiple of 2 KiB, the kc rows of a panel (128 bytes each for NR = 32)
 * fall into 2-4 sets of a 32 KiB 8-way L1 and evict each other between
 * k steps, and the panel is read from L2 or L3 by every row tile.  Only
 * when several row tiles reuse the panel; the copy costs kc x NR per
 * panel and row block (docs/kernels.md: 1024^3 and 2048^3 with both
 * operands inputs). */
static bool b_rows_alias(const KGemm *g, const Tiles *t)
{
	return (g->b_rs * 4) % 2048 == 0 && g->K > 16 && g->M > 2 * t->mr;
}

/* Whether a run-time B packed per panel is in place with unit column
 * stride, so that the panel's first tile copies it (copy_b_src). */
static bool b_copied_by_tile(const KGemm *g)
{
	return !g->b_const && !g->b_elem && !g->b_koff && !g->b_row && g->b_cs == 1;
}

/* KC for a product whose A rows are parts of u floats (KGemm.a_row_parts):
 * pack_a_parts copies a K block a run at a time when the block is whole
 * parts (KC % u == 0) or lies within one (u % KC == 0), else element by
 * element, so kc moves to the largest such size below it (a multiple of u,
 * or a divisor of u of at least 16).  The blocking does not change the
 * bits: each C element is the same fmuladds over k in order for any KC. */
static int64_t kc_for_parts(int64_t kc, int64_t u)
{
	if (kc % u == 0 || u % kc == 0)
		return kc;
	if (u < kc)
		return kc / u * u;
	for (int64_t d = kc; d >= 16; d--)
		if (u % d == 0)
			return d;
	return kc;
}

static void plan_init(Cg *cg, const KGemm *g, Plan *P, bool here)
{
	memset(P, 0, sizeof *P);
	P->g = g;
	P->t = tiles_for(cg, g, here);
	if (g->a_rows && g->a_row_parts > 1) /* before B is packed in blocks of KC rows */
		P->t.kc = kc_for_parts(P->t.kc, g->K / g->a_row_parts);
	P->nr = (int64_t)P->t.nv * P->t.w;
	P->level = cg->isa.level;
	P->pnr = P->nr;
	if (cg->pack_vlen > P->t.w && cg->pack_vlen % P->t.w == 0)
		P->pnr = (int64_t)P->t.nv * cg->pack_vlen;
	if (g->b_const)
		P->bpack = pack_b(cg, g, &P->t, P->pnr);
	else if (g->b_cs == 1 && !g->b_elem && !b_rows_alias(g, &P->t))
		P->b_direct = true;
	else
		P->bbuf = LLVMConstNull(cg->t_ptr); /* allocated where the loops are */
	/* An implicit B given by rows (b_row: a conv's row form) is packed a
	 * whole K-block row at a time, every panel of the task at once (one
	 * b_row per k row instead of one per panel and k row, the runs of
	 * several output rows copied end to end): a row-major block whose row
	 * stride is N rounded up to an odd number of cache lines (the kc rows
	 * of a panel spread over the L1 sets), which the micro-kernels read
	 * as they read a B in place. */
	if (P->bbuf && g->b_row && !here) {
		int64_t st = (g->N + 15) / 16;
		st += st % 2 == 0;
		if (P->t.kc * st * 16 * 4 <= BBLOCK_MAX)
			P->bblock = st * 16;
	}
	/* Pack A when its rows would alias in L1: a row stride that is a
	 * multiple of 2 KiB puts the MR rows a micro-kernel reads into a few
	 * cache sets.  Otherwise A is read in place (no copy per task). */
	if (g->a_cs == 1 && (g->a_rs * 4) % 2048 == 0 && g->N > 2 * P->nr && g->M >= P->t.mr)
		P->abuf = LLVMConstNull(cg->t_ptr);
	/* A row index: A's rows are gathered into the copied block, which is
	 * kept within 64 KiB of stack (MC rows of KC + 16 floats); 256 KiB,
	 * the plain A block's (MC above), for rows of parts (KC up to 1024
	 * then: PVT-v2's embeds.3, K = 2880 in blocks of 960, would otherwise
	 * stream its 5.9 MB weight once per 12 rows) */
	/* A row prologue normalises A as it is copied: the block is always
	 * copied (by pack_a, not by the micro-kernels: copy_ahead) */
	assert(!g->a_stats || (g->a_scale && g->a_cs == 1 && g->nbatch_dims == 0));
	if (g->a_stats)
		P->abuf = LLVMConstNull(cg->t_ptr);
	if (g->a_rows) {
		assert(g->a_cs == 1 && g->nbatch_dims == 0);
		P->abuf = LLVMConstNull(cg->t_ptr);
		int64_t mc = ((g->a_row_parts > 1 ? 256 : 64) * 1024 / 4) / a_copy_stride(&P->t);
		mc -= mc % P->t.mr;
		if (mc < P->t.mr)
			mc = P->t.mr;
		if (P->t.mc > mc)
			P->t.mc = mc;
	}
	/* A row epilogue runs in the task when blocks of MC rows can be the
	 * tasks: MC then keeps the block of C within 128 KiB (in L2 when the
	 * epilogue reads it back) and, when B is small enough to stay in L2
	 * across the blocks, gives about 32 of them (the split's share for a
	 * few threads); with fewer than 8 blocks (few rows and a large K) the
	 * product keeps its column groups and the epilogue follows it. */
	if (g->rows_fn && g->nbatch_dims == 0) {
		int64_t mr = P->t.mr, mc = (128 * 1024 / 4) / g->N;
		if (g->K * g->N <= 64 * 1024) {
			int64_t want = (g->M + 31) / 32;
			want = (want + mr - 1) / mr * mr;
			if (want < mc)
				mc = want;
		}
		mc -= mc % mr;
		if (mc < mr)
			mc = mr;
		if (mc > P->t.mc)
			mc = P->t.mc;
		if ((g->M + mc - 1) / mc >= 8) {
			P->t.mc = mc;
			P->rows_in_task = true;
		}
	}
}

/* Allocates the packing buffers P needs in the current function. */
static void plan_buffers(Cg *cg, Plan *P)
{
	if (P->bbuf) {
		int64_t n = P->t.kc * (P->bblock ? P->bblock : P->nr);
		LLVMTypeRef at = LLVMArrayType2(cg->t_f32, (uint64_t)n);
		P->bbuf = cg_alloca(cg, at, "bpanel");
		LLVMSetAlignment(P->bbuf, 64);
		/* columns past N in an edge panel are computed, never stored:
		 * keep them zero rather than stack garbage (denormals are slow) */
		cg_memset(cg, P->bbuf, 0, n * 4);
	}
	if (P->abuf) {
		LLVMTypeRef at = LLVMArrayType2(cg->t_f32, (uint64_t)(P->t.mc * a_copy_stride(&P->t)));
		P->abuf = cg_alloca(cg, at, "apack");
		LLVMSetAlignment(P->abuf, 64);
	}
	if (P->g->a_stats) {
		LLVMTypeRef at = LLVMArrayType2(cg->t_f32, (uint64_t)P->t.mc);
		P->amean = cg_alloca(cg, at, "amean");
		P->ainv = cg_alloca(cg, at, "ainv");
		if (P->g->a_row_parts > 1 && P->g->K <= A_ROW_MAX) {
			P->arow = cg_alloca(cg, LLVMArrayType2(cg->t_f32, (uint64_t)P->g->K), "arow");
			LLVMSetAlignment(P->arow, 64);
		}
	}
}

bool kern_gemm_here(Cg *cg, const KGemm *g)
{
	assert(g->nbatch_dims == 0 && !g->rows_fn && !g->a_stats);
	Plan P;
	plan_init(cg, g, &P, true);
	plan_buffers(cg, &P);
	LLVMValueRef p0 = cg_i64(cg, 0), p1 = cg_i64(cg, (g->N + P.nr - 1) / P.nr);
	int64_t mc = P.t.mc, nfull = g->M / mc, rem = g->M % mc;
	if (nfull == 1) {
		k_blocks(cg, &P, cg_i64(cg, 0), mc, p0, p1);
	} else if (nfull > 1) {
		CgLoop li;
		cg_for(cg, &li, 0, nfull);
		k_blocks(cg, &P, cg_mul_i64(cg, li.iv, mc), mc, p0, p1);
		cg_for_end(cg, &li);
	}
	if (rem)
		k_blocks(cg, &P, cg_i64(cg, nfull * mc), rem, p0, p1);
	return true;
}

/* The task function of product g: one emitted earlier with the same key,
 * or a new one (products with an implicit B are never shared: b_elem is
 * their own code). */
static LLVMValueRef cached_task(Cg *cg, const KGemm *g, Plan *P, const Split *S, const ValueId *ops,
                                int nops)
{
	if (g->b_elem || P->rows_in_task || g->a_stats)
		return emit_task(cg, g, P, S, ops, nops);
	TKey k;
	memset(&k, 0, sizeof k);
	k.level = cg->isa.level;
	k.w = P->t.w;
	k.b_const = g->b_const != NULL;
	k.has_bias = g->bias != NULL;
	k.has_res = g->res ? (g->res_pre_act ? 2 : 1) : 0;
	k.act = g->act;
	k.accumulate = g->accumulate;
	k.a_rows = g->a_rows != NULL;
	k.a_row_parts = g->a_rows && g->a_row_parts > 1 ? g->a_row_parts : 0;
	k.nbatch_dims = g->nbatch_dims;
	k.M = g->M, k.N = g->N, k.K = g->K;
	k.a_rs = g->a_rs, k.a_cs = g->a_cs, k.b_rs = g->b_rs, k.b_cs = g->b_cs, k.ldc = g->ldc;
	k.res_rs = g->res ? g->res_rs : 0, k.res_cs = g->res ? g->res_cs : 0;
	k.alpha = g->alpha;
	k.beta = g->res ? g->beta : 0;
	k.beta_bias = g->bias ? g->beta_bias : 0;
	k.scale = g->scale == 1.0f ? 0 : g->scale;
	for (int d = 0; d < g->nbatch_dims; d++) {
		k.bdims[d] = g->bdims[d];
		k.a_bs[d] = g->a_bs[d];
		k.b_bs[d] = g->b_bs[d];
		k.c_bs[d] = g->c_bs[d];
		k.res_bs[d] = g->res ? g->res_bs[d] : 0;
	}
	KCache *cache = cg->kern_cache;
	if (!cache)
		cache = cg->kern_cache = xcalloc(1, sizeof *cache);
	for (KTask *t = cache->tasks; t; t = t->next)
		if (!memcmp(&t->key, &k, sizeof k))
			return t->fn;
	KTask *t = xcalloc(1, sizeof *t);
	t->key = k;
	t->fn = emit_task(cg, g, P, S, NULL, 0);
	t->next = cache->tasks;
	cache->tasks = t;
	return t->fn;
}

bool kern_gemm(Cg *cg, const KGemm *g)
{
	Plan P;
	plan_init(cg, g, &P, false);
	Split S = split_for(g, &P);
	/* an in-task row epilogue or a row prologue reads the node's operands
	 * through the context, after the product's pointers */
	ValueId ops[64];
	LLVMValueRef ptrs[GEMM_NPTRS + 64] = {g->a, g->b_const ? P.bpack : g->b, g->c, g->bias, g->res, g->a_rows,
	                                      g->a_scale, g->a_shift};
	int nops = 0;
	if (P.rows_in_task || g->a_stats)
		for (int i = 0; i < cg->node->nin + cg->node->nout; i++) {
			ValueId v = i < cg->node->nin ? cg->node->in[i] : cg->node->out[i - cg->node->nin];
			/* a packed B is read from its panels: its row-major bytes
			 * in the context would keep them in the module too */
			if (v == IR_NONE || (g->b_const && i == 1))
				continue;
			assert(nops < 64);
			ops[nops] = v, ptrs[GEMM_NPTRS + nops++] = cg->buf[v];
		}
	LLVMValueRef task = cached_task(cg, g, &P, &S, ops, nops);
	kern_parallel_ptrs(cg, task, ptrs, GEMM_NPTRS + nops, S.ntasks);
	if (g->rows_fn && !P.rows_in_task)
		kern_rows(cg, g->rows_n, g->rows_work, g->rows_fn, g->rows_arg);
	return true;
}

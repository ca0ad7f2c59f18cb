/* codegen/kernels/dispatch.c — multi-versioned node functions and the
 * run-time CPU check that chooses among them (see kernels.h).
 *
 * A portable x86-64 module (no --cpu) holds the hot node functions — those
 * whose lowering emitted vector code: GEMMs, attention, convolutions, the
 * vector loops of codegen/vec.c — once per ISA: the baseline (SSE2, the
 * target machine's own features), AVX2+FMA and AVX-512.  Every function a
 * variant's lowering creates (the node function, its task functions, its
 * micro-kernels) carries that variant's "target-features"; the shared
 * always-inline math helpers carry none and take their caller's.  The run
 * function calls a small dispatcher per node:
 *
 *     switch (isa_level()) { case 3: node.avx512(...); ...; default: node(...); }
 *
 * isa_level() reads a module-private i32 with a relaxed atomic load; while
 * it is 0 it runs cpuid (leaves 0, 1, 7) and xgetbv (only when the OS has
 * enabled XSAVE: CPUID.1:ECX.OSXSAVE), picks the highest level whose
 * instructions the CPU has and whose register state the OS saves (XCR0:
 * SSE|AVX for level 2, plus opmask|ZMM_Hi256|Hi16_ZMM for level 3), and
 * stores it with a relaxed atomic store.  Two threads racing on the first
 * call compute and store the same value, so no lock, no constructor and no
 * libc are needed.
 */
#include "kernels.h"

#include <string.h>

static void fn_str_attr(Cg *cg, LLVMValueRef fn, const char *k, const char *v)
{
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
	                        LLVMCreateStringAttribute(cg->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v)));
}

static bool has_enum_attr(LLVMValueRef fn, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	return LLVMGetEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, kind) != NULL;
}

/* The functions of cg->mod after `mark` (NULL: from the first). */
static LLVMValueRef after(Cg *cg, LLVMValueRef mark)
{
	return mark ? LLVMGetNextFunction(mark) : LLVMGetFirstFunction(cg->mod);
}

/* Whether f, or a function it calls (depth levels down: node -> task ->
 * micro-kernel), computes on vectors.  Callees count because a lowering
 * may reuse micro-kernels an earlier node created. */
static bool fn_uses_vectors(LLVMValueRef f, int depth)
{
	for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
			if (LLVMGetTypeKind(LLVMTypeOf(i)) == LLVMVectorTypeKind)
				return true;
			if (depth > 0 && LLVMIsACallInst(i)) {
				LLVMValueRef callee = LLVMGetCalledValue(i);
				if (LLVMIsAFunction(callee) && !LLVMIsDeclaration(callee) && callee != f &&
				    fn_uses_vectors(callee, depth - 1))
					return true;
			}
		}
	return false;
}

bool kern_fns_use_vectors(Cg *cg, LLVMValueRef mark)
{
	for (LLVMValueRef f = after(cg, mark); f; f = LLVMGetNextFunction(f))
		if (!LLVMIsDeclaration(f) && !has_enum_attr(f, "alwaysinline") && fn_uses_vectors(f, 3))
			return true;
	return false;
}

void kern_isa_attrs(Cg *cg, LLVMValueRef mark)
{
	if (!cg->isa.features)
		return;
	for (LLVMValueRef f = after(cg, mark); f; f = LLVMGetNextFunction(f))
		if (!LLVMIsDeclaration(f) && !has_enum_attr(f, "alwaysinline"))
			fn_str_attr(cg, f, "target-features", cg->isa.features);
}

static void fn_enum_attr(Cg *cg, LLVMValueRef fn, const char *name);

void kern_size_attrs(Cg *cg, LLVMValueRef mark)
{
	for (LLVMValueRef f = after(cg, mark); f; f = LLVMGetNextFunction(f))
		if (!LLVMIsDeclaration(f) && !has_enum_attr(f, "alwaysinline") && !has_enum_attr(f, "optsize"))
			fn_enum_attr(cg, f, "optsize");
}

/* {eax, ebx, ecx, edx} of cpuid(leaf, subleaf). */
static LLVMValueRef cpuid(Cg *cg, LLVMTypeRef rt, int leaf, int sub, LLVMValueRef out[4])
{
	LLVMTypeRef pt[2] = {cg->t_i32, cg->t_i32};
	LLVMTypeRef ft = LLVMFunctionType(rt, pt, 2, 0);
	const char *asm_ = "cpuid", *cons = "={ax},={bx},={cx},={dx},{ax},{cx}";
	LLVMValueRef ia = LLVMGetInlineAsm(ft, asm_, strlen(asm_), cons, strlen(cons), 0, 0,
	                                   LLVMInlineAsmDialectATT, 0);
	LLVMValueRef args[2] = {cg_i32(cg, leaf), cg_i32(cg, sub)};
	LLVMValueRef r = LLVMBuildCall2(cg->b, ft, ia, args, 2, "cpuid");
	for (unsigned k = 0; k < 4; k++)
		out[k] = LLVMBuildExtractValue(cg->b, r, k, "");
	return r;
}

/* (x & bits) == bits */
static LLVMValueRef all_bits(Cg *cg, LLVMValueRef x, uint32_t bits)
{
	LLVMValueRef c = LLVMConstInt(cg->t_i32, bits, 0);
	return LLVMBuildICmp(cg->b, LLVMIntEQ, LLVMBuildAnd(cg->b, x, c, ""), c, "");
}

static void fn_enum_attr(Cg *cg, LLVMValueRef fn, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

/* i32 isa_detect(void): the CPU check; stores its answer into sel. */
static LLVMValueRef detect_fn(Cg *cg, LLVMValueRef sel)
{
	char name[300];
	snprintf(name, sizeof name, "%s.isa_detect", cg->prefix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_i32, NULL, 0, 0));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	fn_enum_attr(cg, fn, "nounwind");
	fn_enum_attr(cg, fn, "noinline");
	fn_enum_attr(cg, fn, "cold");

	LLVMBuilderRef saved = cg->b;
	cg->b = LLVMCreateBuilderInContext(cg->ctx);
	LLVMBasicBlockRef detect = LLVMAppendBasicBlockInContext(cg->ctx, fn, "detect");
	LLVMBasicBlockRef xgb = LLVMAppendBasicBlockInContext(cg->ctx, fn, "xgetbv");
	LLVMBasicBlockRef decide = LLVMAppendBasicBlockInContext(cg->ctx, fn, "decide");

	LLVMTypeRef i4[4] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32};
	LLVMTypeRef rt = LLVMStructTypeInContext(cg->ctx, i4, 4, 0);
	LLVMPositionBuilderAtEnd(cg->b, detect);
	LLVMValueRef r0[4], r1[4], r7[4];
	cpuid(cg, rt, 0, 0, r0);
	cpuid(cg, rt, 1, 0, r1);
	/* CPUID.1:ECX bit 27 OSXSAVE: xgetbv exists and the OS manages XCR0 */
	LLVMBuildCondBr(cg->b, all_bits(cg, r1[2], 1u << 27), xgb, decide);

	LLVMPositionBuilderAtEnd(cg->b, xgb);
	LLVMTypeRef xpt = cg->t_i32;
	LLVMTypeRef xr[2] = {cg->t_i32, cg->t_i32};
	LLVMTypeRef xft = LLVMFunctionType(LLVMStructTypeInContext(cg->ctx, xr, 2, 0), &xpt, 1, 0);
	/* xgetbv as bytes: the baseline assembler need not know the mnemonic */
	const char *xasm = ".byte 0x0f, 0x01, 0xd0", *xcons = "={ax},={dx},{cx}";
	LLVMValueRef xia = LLVMGetInlineAsm(xft, xasm, strlen(xasm), xcons, strlen(xcons), 1, 0,
	                                    LLVMInlineAsmDialectATT, 0);
	LLVMValueRef zero = cg_i32(cg, 0);
	LLVMValueRef xcr = LLVMBuildExtractValue(cg->b, LLVMBuildCall2(cg->b, xft, xia, &zero, 1, "xgetbv"), 0, "xcr0");
	LLVMBuildBr(cg->b, decide);

	LLVMPositionBuilderAtEnd(cg->b, decide);
	LLVMValueRef xcr0 = LLVMBuildPhi(cg->b, cg->t_i32, "xcr0");
	LLVMValueRef inc[2] = {cg_i32(cg, 0), xcr};
	LLVMBasicBlockRef from[2] = {detect, xgb};
	LLVMAddIncoming(xcr0, inc, from, 2);
	cpuid(cg, rt, 7, 0, r7);
	LLVMValueRef leaf7 = LLVMBuildICmp(cg->b, LLVMIntUGE, r0[0], cg_i32(cg, 7), "");
	/* level 2: FMA (ECX 12), OSXSAVE (27), AVX (28), F16C (29); AVX2 (leaf 7
	 * EBX 5); XCR0 SSE|AVX state (bits 1, 2) */
	LLVMValueRef l2 = LLVMBuildAnd(cg->b, all_bits(cg, r1[2], (1u << 12) | (1u << 27) | (1u << 28) | (1u << 29)),
	                               LLVMBuildAnd(cg->b, leaf7, all_bits(cg, r7[1], 1u << 5), ""), "");
	l2 = LLVMBuildAnd(cg->b, l2, all_bits(cg, xcr0, 0x6), "avx2");
	/* level 3: AVX512F (16), DQ (17), BW (30), VL (31); XCR0 opmask and ZMM
	 * state (bits 5, 6, 7) */
	LLVMValueRef l3 = LLVMBuildAnd(cg->b, l2, all_bits(cg, r7[1], (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31)), "");
	l3 = LLVMBuildAnd(cg->b, l3, all_bits(cg, xcr0, 0xe6), "avx512");
	LLVMValueRef lv = LLVMBuildSelect(cg->b, l3, cg_i32(cg, 3),
	                                  LLVMBuildSelect(cg->b, l2, cg_i32(cg, 2), cg_i32(cg, 1), ""), "");
	LLVMValueRef st = LLVMBuildStore(cg->b, lv, sel);
	LLVMSetOrdering(st, LLVMAtomicOrderingMonotonic);
	LLVMSetAlignment(st, 4);
	LLVMBuildRet(cg->b, lv);

	LLVMDisposeBuilder(cg->b);
	cg->b = saved;
	return fn;
}

/* i32 isa_level(void), created once per module: the stored level, or the
 * CPU check's on the first call. */
static LLVMValueRef level_fn(Cg *cg)
{
	if (cg->isa_level_fn)
		return cg->isa_level_fn;
	char name[300];
	snprintf(name, sizeof name, "%s.isa_sel", cg->prefix);
	LLVMValueRef sel = LLVMAddGlobal(cg->mod, cg->t_i32, name);
	LLVMSetInitializer(sel, cg_i32(cg, 0));
	LLVMSetLinkage(sel, LLVMInternalLinkage);
	LLVMSetAlignment(sel, 4);
	LLVMValueRef det = detect_fn(cg, sel);
	snprintf(name, sizeof name, "%s.isa_level", cg->prefix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_i32, NULL, 0, 0));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	fn_enum_attr(cg, fn, "nounwind");

	LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef first = LLVMAppendBasicBlockInContext(cg->ctx, fn, "first");
	LLVMBasicBlockRef known = LLVMAppendBasicBlockInContext(cg->ctx, fn, "known");
	LLVMPositionBuilderAtEnd(b, entry);
	LLVMValueRef cur = LLVMBuildLoad2(b, cg->t_i32, sel, "level");
	LLVMSetOrdering(cur, LLVMAtomicOrderingMonotonic);
	LLVMSetAlignment(cur, 4);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, cur, cg_i32(cg, 0), ""), first, known);
	LLVMPositionBuilderAtEnd(b, known);
	LLVMBuildRet(b, cur);
	LLVMPositionBuilderAtEnd(b, first);
	LLVMBuildRet(b, LLVMBuildCall2(b, LLVMGlobalGetValueType(det), det, NULL, 0, ""));
	LLVMDisposeBuilder(b);
	return cg->isa_level_fn = fn;
}

LLVMValueRef kern_dispatch(Cg *cg, LLVMValueRef base, const LLVMValueRef *vfns, const CgIsa *visa, int n)
{
	LLVMTypeRef fty = LLVMGlobalGetValueType(base);
	LLVMValueRef lvl = level_fn(cg);
	size_t len;
	const char *bname = LLVMGetValueName2(base, &len);
	char name[300];
	snprintf(name, sizeof name, "%.*s.dispatch", (int)(len < 280 ? len : 280), bname);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	fn_enum_attr(cg, fn, "nounwind");

	unsigned np = LLVMCountParams(fn);
	LLVMValueRef args[64];
	for (unsigned i = 0; i < np && i < 64; i++)
		args[i] = LLVMGetParam(fn, i);
	LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef dflt = LLVMAppendBasicBlockInContext(cg->ctx, fn, "baseline");
	LLVMPositionBuilderAtEnd(b, entry);
	LLVMValueRef level = LLVMBuildCall2(b, LLVMGlobalGetValueType(lvl), lvl, NULL, 0, "level");
	LLVMValueRef sw = LLVMBuildSwitch(b, level, dflt, (unsigned)n);
	for (int k = 0; k < n; k++) {
		LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(cg->ctx, fn, visa[k].name);
		LLVMAddCase(sw, cg_i32(cg, visa[k].level), bb);
		LLVMPositionBuilderAtEnd(b, bb);
		LLVMBuildRet(b, LLVMBuildCall2(b, fty, vfns[k], args, np, "st"));
	}
	LLVMPositionBuilderAtEnd(b, dflt);
	LLVMBuildRet(b, LLVMBuildCall2(b, fty, base, args, np, "st"));
	LLVMDisposeBuilder(b);
	return fn;
}

/* codegen/cg.c — the helpers every lowering uses: types, constants, loops,
 * branches, addressing, loads/stores and value conversion (see cg.h). */
#include "cg.h"

#include <assert.h>
#include <llvm-c/DebugInfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cg_unsupported(Cg *cg, int input, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const Node *n = cg->node;
	if (n)
		diag_node(cg->d, node_label(cg->g, n), n->op_type, input,
		          "code generation: %s", msg);
	else
		diag_error(cg->d, "code generation: %s", msg);
	return false;
}

/* ---- types and constants ------------------------------------------------ */
LLVMTypeRef cg_mem_type(Cg *cg, DType t)
{
	switch (t) {
	case DT_F32: return cg->t_f32;
	case DT_F64: return cg->t_f64;
	case DT_F16: return cg->t_f16;
	case DT_BF16: return cg->t_bf16;
	case DT_BOOL: case DT_U8: case DT_I8: return cg->t_i8;
	case DT_U16: case DT_I16: return cg->t_i16;
	case DT_U32: case DT_I32: return cg->t_i32;
	case DT_U64: case DT_I64: return cg->t_i64;
	default: IR_UNREACHABLE("cg_mem_type: dtype has no machine type");
	}
}

LLVMTypeRef cg_compute_type(Cg *cg, DType t)
{
	if (t == DT_F16 || t == DT_BF16)
		return cg->t_f32;
	if (t == DT_BOOL)
		return cg->t_i1;
	return cg_mem_type(cg, t);
}

LLVMValueRef cg_i64(Cg *cg, int64_t x) { return LLVMConstInt(cg->t_i64, (unsigned long long)x, 1); }
LLVMValueRef cg_i32(Cg *cg, int32_t x) { return LLVMConstInt(cg->t_i32, (unsigned long long)(int64_t)x, 1); }
LLVMValueRef cg_f32(Cg *cg, float x) { return LLVMConstReal(cg->t_f32, x); }

LLVMValueRef cg_add_i64(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(cg->b, a, b, ""); }
LLVMValueRef cg_mul_i64(Cg *cg, LLVMValueRef a, int64_t b)
{
	return b == 1 ? a : LLVMBuildNSWMul(cg->b, a, cg_i64(cg, b), "");
}

LLVMValueRef cg_gep_f32(Cg *cg, LLVMValueRef base, LLVMValueRef idx)
{
	return LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, base, &idx, 1, "");
}

LLVMValueRef cg_const(Cg *cg, DType t, double x)
{
	if (dtype_is_float(t))
		return LLVMConstReal(cg_compute_type(cg, t), x);
	if (t == DT_BOOL)
		return LLVMConstInt(cg->t_i1, x != 0, 0);
	if (dtype_is_signed(t))
		return LLVMConstInt(cg_compute_type(cg, t), (unsigned long long)(int64_t)x, 1);
	return LLVMConstInt(cg_compute_type(cg, t), (unsigned long long)x, 0);
}

LLVMValueRef cg_const_int(Cg *cg, DType t, int64_t x)
{
	if (dtype_is_float(t))
		return LLVMConstReal(cg_compute_type(cg, t), (double)x);
	if (t == DT_BOOL)
		return LLVMConstInt(cg->t_i1, x != 0, 0);
	return LLVMConstInt(cg_compute_type(cg, t), (unsigned long long)x, dtype_is_signed(t));
}

/* ---- loops ------------------------------------------------------------------ */
void cg_for_v(Cg *cg, CgLoop *l, LLVMValueRef lo, LLVMValueRef hi)
{
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
	l->header = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "loop");
	l->body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "body");
	l->exit = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
	l->end = hi;
	l->trip = -1;
	if (LLVMIsAConstantInt(lo) && LLVMIsAConstantInt(hi)) {
		int64_t a = LLVMConstIntGetSExtValue(lo), b = LLVMConstIntGetSExtValue(hi);
		l->trip = b > a ? b - a : 0;
	}
	if (cg->loop_depth < CG_LOOP_STACK) {
		cg->loop_work[cg->loop_depth] = 0;
		cg->loop_nested[cg->loop_depth] = false;
	}
	cg->loop_depth++;
	LLVMBuildBr(cg->b, l->header);
	LLVMPositionBuilderAtEnd(cg->b, l->header);
	l->iv = LLVMBuildPhi(cg->b, cg->t_i64, "i");
	LLVMAddIncoming(l->iv, &lo, &pre, 1);
	LLVMValueRef c = LLVMBuildICmp(cg->b, LLVMIntSLT, l->iv, hi, "");
	LLVMBuildCondBr(cg->b, c, l->body, l->exit);
	LLVMPositionBuilderAtEnd(cg->b, l->body);
}

void cg_fail_if(Cg *cg, LLVMValueRef cond, int status)
{
	LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "fail");
	LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "checked");
	LLVMBuildCondBr(cg->b, cond, fail, cont);
	LLVMPositionBuilderAtEnd(cg->b, fail);
	LLVMBuildRet(cg->b, cg_i32(cg, status));
	LLVMPositionBuilderAtEnd(cg->b, cont);
	cg->node_can_fail = true;
}

void cg_for(Cg *cg, CgLoop *l, int64_t lo, int64_t hi)
{
	cg_for_v(cg, l, cg_i64(cg, lo), cg_i64(cg, hi));
}

/* Marks the loop whose latch branch is br with llvm.loop.unroll.disable. */
static void no_unroll(Cg *cg, LLVMValueRef br)
{
	static const char dis[] = "llvm.loop.unroll.disable";
	LLVMMetadataRef s = LLVMMDStringInContext2(cg->ctx, dis, sizeof dis - 1);
	LLVMMetadataRef prop = LLVMMDNodeInContext2(cg->ctx, &s, 1);
	LLVMMetadataRef tmp = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
	LLVMMetadataRef ops[2] = {tmp, prop};
	LLVMMetadataRef loop = LLVMMDNodeInContext2(cg->ctx, ops, 2);
	LLVMMetadataReplaceAllUsesWith(tmp, loop);   /* self-reference; frees tmp */
	LLVMSetMetadata(br, LLVMGetMDKindIDInContext(cg->ctx, "llvm.loop", 9), LLVMMetadataAsValue(cg->ctx, loop));
}

void cg_for_end(Cg *cg, CgLoop *l)
{
	LLVMValueRef next = LLVMBuildNSWAdd(cg->b, l->iv, cg_i64(cg, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
	LLVMValueRef br = LLVMBuildBr(cg->b, l->header);
	assert(cg->loop_depth > 0);
	int d = --cg->loop_depth;
	if (d < CG_LOOP_STACK) {
		bool nested = cg->loop_nested[d];
		int64_t body = nested ? cg->loop_work[d] : 1;
		int64_t trip = l->trip < 0 ? 1 : l->trip;   /* unknown: LLVM cannot unroll it fully */
		int64_t work = body > INT64_MAX / (trip ? trip : 1) ? INT64_MAX : body * trip;
		if (nested && l->trip > 1 && work > CG_UNROLL_NEST_MAX)
			no_unroll(cg, br);
		if (d > 0) {
			cg->loop_work[d - 1] = work > INT64_MAX - cg->loop_work[d - 1] ? INT64_MAX
			                                                                : cg->loop_work[d - 1] + work;
			cg->loop_nested[d - 1] = true;
		}
	}
	LLVMAddIncoming(l->iv, &next, &latch, 1);
	l->next_iv = next;
	LLVMPositionBuilderAtEnd(cg->b, l->exit);
}

void cg_nest(Cg *cg, CgNest *n, int rank, const int64_t *dims)
{
	n->rank = rank;
	for (int i = 0; i < rank; i++) {
		cg_for(cg, &n->loops[i], 0, dims[i]);
		n->iv[i] = n->loops[i].iv;
	}
}

void cg_nest_end(Cg *cg, CgNest *n)
{
	for (int i = n->rank - 1; i >= 0; i--)
		cg_for_end(cg, &n->loops[i]);
}

void cg_if(Cg *cg, CgIf *c, LLVMValueRef cond)
{
	c->then_bb = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "then");
	c->else_bb = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "else");
	c->merge_bb = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "endif");
	LLVMBuildCondBr(cg->b, cond, c->then_bb, c->else_bb);
	LLVMPositionBuilderAtEnd(cg->b, c->then_bb);
}

void cg_else(Cg *cg, CgIf *c)
{
	LLVMBuildBr(cg->b, c->merge_bb);
	LLVMPositionBuilderAtEnd(cg->b, c->else_bb);
	c->else_bb = NULL; /* marks: else emitted */
}

void cg_if_end(Cg *cg, CgIf *c)
{
	LLVMBuildBr(cg->b, c->merge_bb);
	if (c->else_bb) { /* no else: make the empty else fall through */
		LLVMPositionBuilderAtEnd(cg->b, c->else_bb);
		LLVMBuildBr(cg->b, c->merge_bb);
	}
	LLVMPositionBuilderAtEnd(cg->b, c->merge_bb);
}

/* ---- addressing ------------------------------------------------------------- */
LLVMValueRef cg_linear(Cg *cg, int rank, const LLVMValueRef *iv, const int64_t *strides)
{
	LLVMValueRef acc = NULL;
	for (int i = 0; i < rank; i++) {
		if (strides[i] == 0)
			continue;
		LLVMValueRef t = strides[i] == 1 ? iv[i]
		                                 : LLVMBuildNSWMul(cg->b, iv[i], cg_i64(cg, strides[i]), "");
		acc = acc ? LLVMBuildNSWAdd(cg->b, acc, t, "") : t;
	}
	return acc ? acc : cg_i64(cg, 0);
}

void cg_broadcast_strides(const Shape *s, int out_rank, int64_t *strides)
{
	int64_t st[IR_MAX_RANK];
	shape_strides(s, st);
	int off = out_rank - s->rank;
	assert(off >= 0);
	for (int i = 0; i < out_rank; i++) {
		int k = i - off;
		strides[i] = (k < 0 || s->dims[k] == 1) ? 0 : st[k];
	}
}

LLVMValueRef cg_ptr(Cg *cg, ValueId v)
{
	assert(v >= 0 && v < cg->g->nvalues && cg->buf[v]);
	return cg->buf[v];
}

LLVMValueRef cg_gep(Cg *cg, ValueId v, LLVMValueRef idx)
{
	LLVMTypeRef t = cg_mem_type(cg, gval(cg->g, v)->dtype);
	return LLVMBuildInBoundsGEP2(cg->b, t, cg_ptr(cg, v), &idx, 1, "");
}

LLVMValueRef cg_load_ptr(Cg *cg, DType t, LLVMValueRef base, LLVMValueRef idx)
{
	LLVMTypeRef mt = cg_mem_type(cg, t);
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, mt, base, &idx, 1, "");
	LLVMValueRef x = LLVMBuildLoad2(cg->b, mt, p, "");
	switch (t) {
	case DT_F16: case DT_BF16:
		return LLVMBuildFPExt(cg->b, x, cg->t_f32, "");
	case DT_BOOL:
		return LLVMBuildICmp(cg->b, LLVMIntNE, x, LLVMConstInt(cg->t_i8, 0, 0), "");
	default:
		return x;
	}
}

void cg_store_ptr(Cg *cg, DType t, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef x)
{
	LLVMTypeRef mt = cg_mem_type(cg, t);
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, mt, base, &idx, 1, "");
	switch (t) {
	case DT_F16:
		x = LLVMBuildFPTrunc(cg->b, x, mt, "");
		break;
	case DT_BF16: {
		/* float -> bfloat16 rounding to nearest even, in integer ops: an
		 * fptrunc to bfloat is a libgcc call (__truncsfbf2) on CPUs
		 * without AVX512-BF16, and the generated code calls nothing. */
		LLVMValueRef bits = LLVMBuildBitCast(cg->b, x, cg->t_i32, "");
		LLVMValueRef lsb = LLVMBuildAnd(cg->b, LLVMBuildLShr(cg->b, bits, cg_i32(cg, 16), ""), cg_i32(cg, 1), "");
		LLVMValueRef r = LLVMBuildAdd(cg->b, bits, LLVMBuildAdd(cg->b, lsb, cg_i32(cg, 0x7fff), ""), "");
		LLVMValueRef hi = LLVMBuildLShr(cg->b, r, cg_i32(cg, 16), "");
		LLVMValueRef qnan = LLVMBuildOr(cg->b, LLVMBuildLShr(cg->b, bits, cg_i32(cg, 16), ""), cg_i32(cg, 0x40), "");
		LLVMValueRef isnan = LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, "");
		hi = LLVMBuildSelect(cg->b, isnan, qnan, hi, "");
		x = LLVMBuildBitCast(cg->b, LLVMBuildTrunc(cg->b, hi, cg->t_i16, ""), mt, "");
		break;
	}
	case DT_BOOL:
		x = LLVMBuildZExt(cg->b, x, cg->t_i8, "");
		break;
	default:
		break;
	}
	LLVMBuildStore(cg->b, x, p);
}

LLVMValueRef cg_load(Cg *cg, ValueId v, LLVMValueRef idx)
{
	return cg_load_ptr(cg, gval(cg->g, v)->dtype, cg_ptr(cg, v), idx);
}

void cg_store(Cg *cg, ValueId v, LLVMValueRef idx, LLVMValueRef x)
{
	cg_store_ptr(cg, gval(cg->g, v)->dtype, cg_ptr(cg, v), idx, x);
}

LLVMValueRef cg_alloca(Cg *cg, LLVMTypeRef t, const char *name)
{
	LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg->b);
	LLVMValueRef first = LLVMGetFirstInstruction(cg->alloca_bb);
	if (first)
		LLVMPositionBuilderBefore(cg->b, first);
	else
		LLVMPositionBuilderAtEnd(cg->b, cg->alloca_bb);
	LLVMValueRef a = LLVMBuildAlloca(cg->b, t, name ? name : "");
	LLVMPositionBuilderAtEnd(cg->b, cur);
	return a;
}

void cg_memcpy(Cg *cg, LLVMValueRef dst, LLVMValueRef src, int64_t nbytes)
{
	if (nbytes > 0)
		LLVMBuildMemCpy(cg->b, dst, 1, src, 1, cg_i64(cg, nbytes));
}

void cg_memset(Cg *cg, LLVMValueRef dst, int byte, int64_t nbytes)
{
	if (nbytes > 0)
		LLVMBuildMemSet(cg->b, dst, LLVMConstInt(cg->t_i8, (unsigned)byte & 255, 0),
		                cg_i64(cg, nbytes), 1);
}

/* ---- conversion -------------------------------------------------------------- */
LLVMValueRef cg_convert(Cg *cg, LLVMValueRef x, DType from, DType to)
{
	LLVMTypeRef tt = cg_compute_type(cg, to);
	LLVMTypeRef ft = cg_compute_type(cg, from);
	bool ff = dtype_is_float(from), tf = dtype_is_float(to);
	if (to == DT_BOOL) {
		if (from == DT_BOOL)
			return x;
		if (ff)
			return LLVMBuildFCmp(cg->b, LLVMRealUNE, x, LLVMConstReal(ft, 0), "");
		return LLVMBuildICmp(cg->b, LLVMIntNE, x, LLVMConstInt(ft, 0, 0), "");
	}
	if (from == DT_BOOL)
		return tf ? LLVMBuildUIToFP(cg->b, x, tt, "") : LLVMBuildZExt(cg->b, x, tt, "");
	if (ff && tf) {
		if (ft == tt) /* f16/bf16 compute as f32; the store rounds */
			return x;
		return LLVMBuildFPCast(cg->b, x, tt, "");
	}
	if (ff) {
		/* ONNX Cast float->int: truncate toward zero.  Out-of-range values
		 * are undefined in ONNX; fptosi would give poison, so saturate. */
		LLVMTypeRef sat_args[2] = {tt, ft};
		const char *nm = dtype_is_signed(to) ? "llvm.fptosi.sat" : "llvm.fptoui.sat";
		unsigned id = LLVMLookupIntrinsicID(nm, strlen(nm));
		LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, sat_args, 2);
		LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, sat_args, 2);
		return LLVMBuildCall2(cg->b, fty, fn, &x, 1, "");
	}
	if (tf)
		return dtype_is_signed(from) ? LLVMBuildSIToFP(cg->b, x, tt, "") : LLVMBuildUIToFP(cg->b, x, tt, "");
	return LLVMBuildIntCast2(cg->b, x, tt, dtype_is_signed(from), "");
}

DType cg_acc_dtype(DType t)
{
	return (t == DT_F16 || t == DT_BF16) ? DT_F32 : t;
}

LLVMValueRef cg_load_as(Cg *cg, ValueId v, LLVMValueRef idx, DType ad)
{
	DType from = cg_acc_dtype(gval(cg->g, v)->dtype);
	LLVMValueRef x = cg_load(cg, v, idx);
	return from == ad ? x : cg_convert(cg, x, from, ad);
}

void cg_store_as(Cg *cg, ValueId v, LLVMValueRef idx, LLVMValueRef x, DType ad)
{
	DType to = cg_acc_dtype(gval(cg->g, v)->dtype);
	if (to != ad)
		x = cg_convert(cg, x, ad, to);
	cg_store(cg, v, idx, x);
}

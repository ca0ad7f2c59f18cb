/* codegen/mathfn_host.c — host evaluation of the generated code's own
 * elementary functions, for the constant folder.
 *
 * The folder must give the bits the generated code gives
 * (tests/unit/test_fold_vs_run.c).  Rather than a second implementation of
 * codegen/mathfn.c that could drift from it, this file builds the very
 * scalar helper function mathfn.c emits ("onnxcc_math_exp_f32", ...) in a
 * scratch LLVM module and interprets its IR instruction by instruction in
 * IEEE arithmetic of the instruction's type (float ops in float, double
 * ops in double: C11 with FLT_EVAL_METHOD 0, contraction off for this
 * file).  LLVM's optimisations do not change the value of IEEE operations
 * without fast-math flags (mathfn.c sets none), and a helper's vector
 * forms compute every lane as its scalar form (mathfn.h), so the
 * interpreted scalar IR gives the run-time bits — with one exception:
 * llvm.fmuladd, which a target lowers fused (one rounding) where it has an
 * FMA instruction for the type and unfused otherwise, and mathfn.c's f32
 * erf/erfc/tanh/sigmoid bodies also depend on cg->isa.fma.  One model runs
 * on different CPUs (x86-64's portable default picks AVX2+FMA code at run
 * time), so the caller asks for every variant (IR built for isa.fma 0/1,
 * fmuladd fused or not, and AVX-512's own forms: f32 exp, exp16_f32) and
 * folds only when all agree.
 *
 * Supported: single-block helpers (all but fmod) made of the instructions
 * mathfn.c emits; anything else makes cg_math_host_eval() return false.
 */
#include "mathfn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF   /* GCC: -ffp-contract=off (CMakeLists.txt) */
#endif

enum { T_I1, T_I8, T_I16, T_I32, T_I64, T_F32, T_F64, T_PTR };

typedef union Reg {
	double d;
	float f;
	uint64_t u;     /* integers, zero-extended to 64 bits */
} Reg;

/* One instruction: opcode (LLVMOpcode, or one of the X_ codes below),
 * result type, operand registers, predicate; table for loads. */
typedef struct Ins {
	int op, ty, sty;  /* sty: type of operand a (casts, compares) */
	int a, b, c;
	int pred;
	int dst;
	const uint64_t *table;
	int64_t tn;
} Ins;

enum { X_FMULADD = 1000, X_FMA, X_FABS, X_COPYSIGN, X_SQRT };

typedef struct Prog {
	Ins *ins;
	int nins;
	Reg *regs;        /* constants, then arguments, then results */
	int nregs;
	LLVMValueRef *vals;  /* the LLVM value of each register (build time) */
	int nargs, arg0, ret;
	uint64_t *tables[4];
	LLVMValueRef table_of[4];   /* the global each table was read from */
	int64_t table_n[4];
	int ntables;
} Prog;

static int type_code(LLVMTypeRef t)
{
	switch (LLVMGetTypeKind(t)) {
	case LLVMFloatTypeKind: return T_F32;
	case LLVMDoubleTypeKind: return T_F64;
	case LLVMPointerTypeKind: return T_PTR;
	case LLVMIntegerTypeKind:
		switch (LLVMGetIntTypeWidth(t)) {
		case 1: return T_I1;
		case 8: return T_I8;
		case 16: return T_I16;
		case 32: return T_I32;
		case 64: return T_I64;
		default: return -1;
		}
	default: return -1;
	}
}

static int bits_of(int ty)
{
	static const int b[] = {1, 8, 16, 32, 64};
	return ty <= T_I64 ? b[ty] : 64;
}

static uint64_t mask_of(int ty)
{
	int n = bits_of(ty);
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static int64_t sext(uint64_t u, int ty)
{
	int n = bits_of(ty);
	if (n >= 64)
		return (int64_t)u;
	uint64_t sign = 1ULL << (n - 1);
	return (int64_t)((u ^ sign) - sign);
}

/* The register of value v, a constant (added on first use) or an earlier
 * instruction's result or an argument; -1 if unsupported. */
static int reg_of(Prog *p, LLVMValueRef v)
{
	for (int i = 0; i < p->nregs; i++)
		if (p->vals[i] == v)
			return i;
	Reg r = {0};
	int ty = type_code(LLVMTypeOf(v));
	if (LLVMIsAConstantFP(v)) {
		LLVMBool loses;
		double d = LLVMConstRealGetDouble(v, &loses);
		if (ty == T_F32)
			r.f = (float)d;
		else
			r.d = d;
	} else if (LLVMIsAConstantInt(v)) {
		r.u = LLVMConstIntGetZExtValue(v) & mask_of(ty);
	} else if (LLVMIsUndef(v) || LLVMIsPoison(v)) {
		r.u = 0;
	} else {
		return -1;
	}
	p->vals[p->nregs] = v;
	p->regs[p->nregs] = r;
	return p->nregs++;
}

/* A constant global [N x i32/i64] as a uint64 table (read once per
 * global); NULL if not one. */
static uint64_t *global_table(Prog *p, LLVMValueRef g, int64_t *n)
{
	for (int i = 0; i < p->ntables; i++)
		if (p->table_of[i] == g) {
			*n = p->table_n[i];
			return p->tables[i];
		}
	if (!LLVMIsAGlobalVariable(g) || !LLVMIsGlobalConstant(g) || p->ntables == 4)
		return NULL;
	LLVMValueRef init = LLVMGetInitializer(g);
	LLVMTypeRef at = LLVMGlobalGetValueType(g);
	if (!init || LLVMGetTypeKind(at) != LLVMArrayTypeKind)
		return NULL;
	*n = (int64_t)LLVMGetArrayLength2(at);
	uint64_t *t = xcalloc((size_t)*n + 1, sizeof *t);
	for (int64_t i = 0; i < *n; i++) {
		LLVMValueRef e = LLVMGetAggregateElement(init, (unsigned)i);
		if (!e || !LLVMIsAConstantInt(e)) {
			free(t);
			return NULL;
		}
		t[i] = LLVMConstIntGetZExtValue(e);
	}
	p->table_of[p->ntables] = g;
	p->table_n[p->ntables] = *n;
	p->tables[p->ntables++] = t;
	return t;
}

static bool name_is(LLVMValueRef fn, const char *prefix)
{
	size_t len;
	const char *nm = LLVMGetValueName2(fn, &len);
	return len >= strlen(prefix) && !strncmp(nm, prefix, strlen(prefix));
}

/* Translates fn (one basic block) into p; false if anything is outside
 * the supported set. */
static bool compile(Prog *p, LLVMValueRef fn)
{
	if (LLVMCountBasicBlocks(fn) != 1)
		return false;
	LLVMBasicBlockRef bb = LLVMGetEntryBasicBlock(fn);
	int cap = 16;
	for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i))
		cap += 1 + LLVMGetNumOperands(i);
	p->vals = xcalloc((size_t)cap, sizeof *p->vals);
	p->regs = xcalloc((size_t)cap, sizeof *p->regs);
	p->ins = xcalloc((size_t)cap, sizeof *p->ins);
	p->nargs = (int)LLVMCountParams(fn);
	p->arg0 = p->nregs;
	for (int a = 0; a < p->nargs; a++) {
		p->vals[p->nregs] = LLVMGetParam(fn, (unsigned)a);
		p->nregs++;
	}
	p->ret = -1;
	for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
		LLVMOpcode op = LLVMGetInstructionOpcode(i);
		Ins in = {.op = (int)op, .a = -1, .b = -1, .c = -1};
		in.ty = type_code(LLVMTypeOf(i));
		if (op == LLVMRet) {
			p->ret = reg_of(p, LLVMGetOperand(i, 0));
			if (p->ret < 0)
				return false;
			break;
		}
		if (in.ty < 0)
			return false;
		int nops = LLVMGetNumOperands(i);
		int r[3] = {-1, -1, -1};
		switch (op) {
		case LLVMFAdd: case LLVMFSub: case LLVMFMul: case LLVMFDiv: case LLVMFNeg:
		case LLVMFCmp: case LLVMICmp: case LLVMSelect: case LLVMBitCast:
		case LLVMAnd: case LLVMOr: case LLVMXor: case LLVMShl: case LLVMLShr: case LLVMAShr:
		case LLVMAdd: case LLVMSub: case LLVMMul:
		case LLVMSExt: case LLVMZExt: case LLVMTrunc:
		case LLVMFPToSI: case LLVMSIToFP: case LLVMUIToFP: case LLVMFPTrunc: case LLVMFPExt:
			if (nops > 3)
				return false;
			for (int k = 0; k < nops; k++)
				if ((r[k] = reg_of(p, LLVMGetOperand(i, (unsigned)k))) < 0)
					return false;
			in.sty = type_code(LLVMTypeOf(LLVMGetOperand(i, 0)));
			if (in.sty < 0 || in.sty == T_PTR)
				return false;
			if (op == LLVMFCmp)
				in.pred = (int)LLVMGetFCmpPredicate(i);
			if (op == LLVMICmp)
				in.pred = (int)LLVMGetICmpPredicate(i);
			break;
		case LLVMGetElementPtr: {
			/* gep [N x iK], @table, 0, idx  or  gep iK, @table, idx */
			LLVMValueRef base = LLVMGetOperand(i, 0);
			in.table = global_table(p, base, &in.tn);
			if (!in.table)
				return false;
			if (nops == 3 && LLVMIsAConstantInt(LLVMGetOperand(i, 1)) &&
			    LLVMConstIntGetZExtValue(LLVMGetOperand(i, 1)) == 0)
				r[0] = reg_of(p, LLVMGetOperand(i, 2));
			else if (nops == 2)
				r[0] = reg_of(p, LLVMGetOperand(i, 1));
			else
				return false;
			if (r[0] < 0)
				return false;
			in.sty = type_code(LLVMTypeOf(LLVMGetOperand(i, nops - 1)));
			break;
		}
		case LLVMLoad: {
			/* only through a table GEP */
			LLVMValueRef ptr = LLVMGetOperand(i, 0);
			r[0] = reg_of(p, ptr);
			if (r[0] < 0 || !LLVMIsAGetElementPtrInst(ptr))
				return false;
			for (int k = 0; k < p->nins; k++)
				if (p->ins[k].dst == r[0]) {
					in.table = p->ins[k].table;
					in.tn = p->ins[k].tn;
				}
			if (!in.table)
				return false;
			break;
		}
		case LLVMCall: {
			LLVMValueRef callee = LLVMGetCalledValue(i);
			int na = (int)LLVMGetNumArgOperands(i);
			if (name_is(callee, "llvm.fmuladd.") && na == 3)
				in.op = X_FMULADD;
			else if (name_is(callee, "llvm.fma.") && na == 3)
				in.op = X_FMA;
			else if (name_is(callee, "llvm.fabs.") && na == 1)
				in.op = X_FABS;
			else if (name_is(callee, "llvm.copysign.") && na == 2)
				in.op = X_COPYSIGN;
			else if (name_is(callee, "llvm.sqrt.") && na == 1)
				in.op = X_SQRT;
			else
				return false;
			for (int k = 0; k < na; k++)
				if ((r[k] = reg_of(p, LLVMGetOperand(i, (unsigned)k))) < 0)
					return false;
			in.sty = in.ty;
			break;
		}
		default:
			return false;
		}
		in.a = r[0], in.b = r[1], in.c = r[2];
		in.dst = p->nregs;
		p->vals[p->nregs++] = i;
		p->ins[p->nins++] = in;
	}
	return p->ret >= 0;
}

static bool fcmp(int pred, double x, double y)
{
	bool uno = isnan(x) || isnan(y);
	switch (pred) {
	case LLVMRealPredicateFalse: return false;
	case LLVMRealOEQ: return !uno && x == y;
	case LLVMRealOGT: return !uno && x > y;
	case LLVMRealOGE: return !uno && x >= y;
	case LLVMRealOLT: return !uno && x < y;
	case LLVMRealOLE: return !uno && x <= y;
	case LLVMRealONE: return !uno && x != y;
	case LLVMRealORD: return !uno;
	case LLVMRealUNO: return uno;
	case LLVMRealUEQ: return uno || x == y;
	case LLVMRealUGT: return uno || x > y;
	case LLVMRealUGE: return uno || x >= y;
	case LLVMRealULT: return uno || x < y;
	case LLVMRealULE: return uno || x <= y;
	case LLVMRealUNE: return uno || x != y;
	default: return true;
	}
}

static bool icmp(int pred, uint64_t a, uint64_t b, int ty)
{
	int64_t sa = sext(a, ty), sb = sext(b, ty);
	switch (pred) {
	case LLVMIntEQ: return a == b;
	case LLVMIntNE: return a != b;
	case LLVMIntUGT: return a > b;
	case LLVMIntUGE: return a >= b;
	case LLVMIntULT: return a < b;
	case LLVMIntULE: return a <= b;
	case LLVMIntSGT: return sa > sb;
	case LLVMIntSGE: return sa >= sb;
	case LLVMIntSLT: return sa < sb;
	default: return sa <= sb;
	}
}

/* float/double -> integer of type ty, truncating; saturating out of range
 * (LLVM gives poison there, which mathfn.c never uses). */
static uint64_t f2int(double x, int ty)
{
	int n = bits_of(ty);
	double lim = ldexp(1.0, n - 1);
	if (isnan(x))
		return 0;
	if (x >= lim)
		return (uint64_t)(lim - 1 > 9.2e18 ? INT64_MAX : (int64_t)(lim - 1)) & mask_of(ty);
	if (x <= -lim)
		return (uint64_t)(-lim < -9.2e18 ? INT64_MIN : (int64_t)-lim) & mask_of(ty);
	return (uint64_t)(int64_t)x & mask_of(ty);
}

static double fval(const Reg *r, int ty) { return ty == T_F32 ? (double)r->f : r->d; }

/* Runs p with arguments args; returns the result register. */
static Reg run(const Prog *p, Reg *regs, const Reg *args, bool fused)
{
	for (int a = 0; a < p->nargs; a++)
		regs[p->arg0 + a] = args[a];
	for (int k = 0; k < p->nins; k++) {
		const Ins *in = &p->ins[k];
		Reg x = in->a >= 0 ? regs[in->a] : (Reg){0};
		Reg y = in->b >= 0 ? regs[in->b] : (Reg){0};
		Reg z = in->c >= 0 ? regs[in->c] : (Reg){0};
		Reg r = {0};
		bool f32 = in->ty == T_F32;
		uint64_t m = mask_of(in->ty);
		switch (in->op) {
		case LLVMFAdd: if (f32) r.f = x.f + y.f; else r.d = x.d + y.d; break;
		case LLVMFSub: if (f32) r.f = x.f - y.f; else r.d = x.d - y.d; break;
		case LLVMFMul: if (f32) r.f = x.f * y.f; else r.d = x.d * y.d; break;
		case LLVMFDiv: if (f32) r.f = x.f / y.f; else r.d = x.d / y.d; break;
		case LLVMFNeg: if (f32) r.f = -x.f; else r.d = -x.d; break;
		case X_FABS: if (f32) r.f = fabsf(x.f); else r.d = fabs(x.d); break;
		case X_SQRT: if (f32) r.f = sqrtf(x.f); else r.d = sqrt(x.d); break;
		case X_COPYSIGN: if (f32) r.f = copysignf(x.f, y.f); else r.d = copysign(x.d, y.d); break;
		case X_FMA: if (f32) r.f = fmaf(x.f, y.f, z.f); else r.d = fma(x.d, y.d, z.d); break;
		case X_FMULADD:
			if (fused) {
				if (f32) r.f = fmaf(x.f, y.f, z.f); else r.d = fma(x.d, y.d, z.d);
			} else if (f32) {
				float pr = x.f * y.f;
				r.f = pr + z.f;
			} else {
				double pr = x.d * y.d;
				r.d = pr + z.d;
			}
			break;
		case LLVMFCmp: r.u = fcmp(in->pred, fval(&x, in->sty), fval(&y, in->sty)); break;
		case LLVMICmp: r.u = icmp(in->pred, x.u, y.u, in->sty); break;
		case LLVMSelect: r = (x.u & 1) ? y : z; break;
		case LLVMBitCast:
			if (in->ty == T_F32 && in->sty == T_I32) { uint32_t v = (uint32_t)x.u; memcpy(&r.f, &v, 4); }
			else if (in->ty == T_I32 && in->sty == T_F32) { uint32_t v; memcpy(&v, &x.f, 4); r.u = v; }
			else if (in->ty == T_F64 && in->sty == T_I64) memcpy(&r.d, &x.u, 8);
			else if (in->ty == T_I64 && in->sty == T_F64) memcpy(&r.u, &x.d, 8);
			else r = x;
			break;
		case LLVMAnd: r.u = x.u & y.u; break;
		case LLVMOr: r.u = x.u | y.u; break;
		case LLVMXor: r.u = (x.u ^ y.u) & m; break;
		case LLVMShl: r.u = y.u < 64 ? (x.u << y.u) & m : 0; break;
		case LLVMLShr: r.u = y.u < 64 ? x.u >> y.u : 0; break;
		case LLVMAShr: {
			int64_t s = sext(x.u, in->ty);
			r.u = (uint64_t)(y.u < 64 ? (s < 0 ? ~(~s >> y.u) : s >> y.u) : (s < 0 ? -1 : 0)) & m;
			break;
		}
		case LLVMAdd: r.u = (x.u + y.u) & m; break;
		case LLVMSub: r.u = (x.u - y.u) & m; break;
		case LLVMMul: r.u = (x.u * y.u) & m; break;
		case LLVMSExt: r.u = (uint64_t)sext(x.u, in->sty) & m; break;
		case LLVMZExt: r.u = x.u; break;
		case LLVMTrunc: r.u = x.u & m; break;
		case LLVMFPToSI: r.u = f2int(fval(&x, in->sty), in->ty); break;
		case LLVMSIToFP:
			if (f32) r.f = (float)sext(x.u, in->sty); else r.d = (double)sext(x.u, in->sty);
			break;
		case LLVMUIToFP: if (f32) r.f = (float)x.u; else r.d = (double)x.u; break;
		case LLVMFPTrunc: r.f = (float)x.d; break;
		case LLVMFPExt: r.d = (double)x.f; break;
		case LLVMGetElementPtr: r.u = (uint64_t)sext(x.u, in->sty); break;
		case LLVMLoad: r.u = x.u < (uint64_t)in->tn ? in->table[x.u] & m : 0; break;
		default: break;
		}
		regs[in->dst] = r;
	}
	return regs[p->ret];
}

static void prog_free(Prog *p)
{
	for (int i = 0; i < p->ntables; i++)
		free(p->tables[i]);
	free(p->ins);
	free(p->regs);
	free(p->vals);
}

bool cg_math_host_eval(const char *name, bool dbl, bool isa_fma, bool fused, const char *isa_name,
                       const double *x, const double *y, double *out, int64_t n)
{
	LLVMContextRef ctx = LLVMContextCreate();
	Cg cg;
	memset(&cg, 0, sizeof cg);
	cg.ctx = ctx;
	cg.mod = LLVMModuleCreateWithNameInContext("onnxcc_fold_math", ctx);
	cg.isa.fma = isa_fma;
	cg.isa.name = isa_name;
	Prog p;
	memset(&p, 0, sizeof p);
	LLVMValueRef fn = cg_math_helper(&cg, name, dbl);
	bool ok = fn && compile(&p, fn) && p.nargs == (y ? 2 : 1);
	for (int64_t i = 0; ok && i < n; i++) {
		Reg a[2];
		if (dbl) {
			a[0].d = x[i];
			a[1].d = y ? y[i] : 0;
		} else {
			a[0].f = (float)x[i];
			a[1].f = y ? (float)y[i] : 0;
		}
		Reg r = run(&p, p.regs, a, fused);
		out[i] = dbl ? r.d : (double)r.f;
	}
	prog_free(&p);
	LLVMDisposeModule(cg.mod);
	LLVMContextDispose(ctx);
	return ok;
}

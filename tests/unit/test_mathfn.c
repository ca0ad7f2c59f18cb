/* tests/unit/test_mathfn.c — accuracy of codegen/mathfn.c against libm.
 *
 * One LLVM module holds a kernel per function and type,
 *     void k_<fn>_<f32|f64>(const T *x, const T *y, T *out, i64 n)
 * looping over cg_math_<fn>.  The module is optimised with default<O3> for
 * the host (so the vectorised forms of the helpers are what runs), JIT-ed
 * with ORC LLJIT, and compared on ~100k points per function plus specials
 * with libm's long double functions as reference.  Every function is also
 * built in its vector form (k_<fn>_v16f32 / k_<fn>_v8f64: the helper called
 * on <16 x float> / <8 x double>, n a multiple of the lanes), checked with
 * the same bounds and required to give bit-identical results to the
 * scalar form; so are the f32 forms on narrower vectors (8 and 4 lanes,
 * or 4 where the vector form has 8): vector tails, whose table lookups
 * must not fall back to gathers (test_narrow_lookup).  The same module is also compiled for baseline x86-64 to an
 * object file whose symbol table must contain no libm (or any other
 * external) symbol.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Object.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/cg.h"
#include "codegen/mathfn.h"

typedef LLVMValueRef (*Fn1)(Cg *, LLVMValueRef);
typedef LLVMValueRef (*Fn2)(Cg *, LLVMValueRef, LLVMValueRef);

static const struct {
	const char *name;
	Fn1 f1;
	Fn2 f2;
} kernels[] = {
	{ "exp", cg_math_exp, NULL }, { "expm1", cg_math_expm1, NULL },
	{ "exp_nonpos", cg_math_exp_nonpos, NULL },
	{ "erfc", cg_math_erfc, NULL },
	{ "log", cg_math_log, NULL }, { "log1p", cg_math_log1p, NULL },
	{ "erf", cg_math_erf, NULL }, { "tanh", cg_math_tanh, NULL },
	{ "gelu", cg_math_gelu, NULL },
	{ "sin", cg_math_sin, NULL }, { "cos", cg_math_cos, NULL },
	{ "tan", cg_math_tan, NULL }, { "atan", cg_math_atan, NULL },
	{ "asin", cg_math_asin, NULL }, { "acos", cg_math_acos, NULL },
	{ "sigmoid", cg_math_sigmoid, NULL }, { "sqrt", cg_math_sqrt, NULL },
	{ "fabs", cg_math_fabs, NULL }, { "floor", cg_math_floor, NULL },
	{ "ceil", cg_math_ceil, NULL }, { "round", cg_math_round_even, NULL },
	{ "trunc", cg_math_trunc, NULL },
	{ "pow", NULL, cg_math_pow }, { "fmod", NULL, cg_math_fmod },
	{ "fmin", NULL, cg_math_fmin }, { "fmax", NULL, cg_math_fmax },
};
#define NKERNELS ((int)(sizeof kernels / sizeof kernels[0]))

typedef void (*Kern)(const void *x, const void *y, void *out, int64_t n);

/* Lanes of the vector kernels (64 bytes: one AVX-512 register); f32
 * kernels have vl32 lanes: VL32, or 8 with ONNXCC_MATHFN_ISA=avx2. */
#define VL32 16
static int vl32 = VL32;
/* the ISA the kernels are built for: "avx512", "avx2" or NULL (baseline) */
static const char *jit_isa;
#define VL64 8
#define PAD(n) (((n) + VL32 - 1) / VL32 * VL32)

static struct {
	LLVMOrcLLJITRef jit;
	Kern k[NKERNELS][2][4];    /* [kernel][f64][form]: kern_lanes() */
} J;

static bool has_vector(int ki) { return strcmp(kernels[ki].name, "fmod") != 0; }

/* Lanes of kernel form v of function ki (0 when it has none): 0 the
 * scalar, 1 the vector form (VL64 / vl32 lanes), 2 and 3 the f32 forms on
 * narrower vectors (vl32/2 and 4 lanes; only 4 when vl32 is 8). */
static int kern_lanes(int ki, bool dbl, int v)
{
	if (v == 0)
		return 1;
	if (!has_vector(ki) || (v > 1 && dbl))
		return 0;
	switch (v) {
	case 1: return dbl ? VL64 : vl32;
	case 2: return vl32 / 2;
	default: return vl32 / 2 > 4 ? 4 : 0;
	}
}

static void kernel_name(char *buf, size_t n, int ki, bool dbl, int v)
{
	int lanes = kern_lanes(ki, dbl, v);
	if (lanes > 1)
		snprintf(buf, n, "k_%s_v%d%s", kernels[ki].name, lanes, dbl ? "f64" : "f32");
	else
		snprintf(buf, n, "k_%s_%s", kernels[ki].name, dbl ? "f64" : "f32");
}

/* out[i] = f(x[i], y[i]) for i < n, one element (forms v > 0: one vector
 * of kern_lanes() lanes, n a multiple of them) per iteration. */
static void build_kernel(Cg *cg, int ki, bool dbl, int v)
{
	LLVMTypeRef t = dbl ? cg->t_f64 : cg->t_f32;
	int lanes = kern_lanes(ki, dbl, v);
	LLVMTypeRef vt = lanes > 1 ? LLVMVectorType(t, (unsigned)lanes) : t;
	LLVMTypeRef params[4] = { cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i64 };
	char name[64];
	kernel_name(name, sizeof name, ki, dbl, v);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, params, 4, 0));
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(cg->ctx, fn, "loop");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, fn, "done");
	LLVMPositionBuilderAtEnd(cg->b, entry);
	LLVMValueRef n = LLVMGetParam(fn, 3);
	LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, n, cg_i64(cg, 0), ""), loop, done);
	LLVMPositionBuilderAtEnd(cg->b, loop);
	LLVMValueRef i = LLVMBuildPhi(cg->b, cg->t_i64, "i");
	LLVMValueRef px = LLVMBuildGEP2(cg->b, t, LLVMGetParam(fn, 0), &i, 1, "");
	unsigned al = dbl ? 8 : 4;
	LLVMValueRef x = LLVMBuildLoad2(cg->b, vt, px, "");
	LLVMSetAlignment(x, al);
	LLVMValueRef r;
	if (kernels[ki].f2) {
		LLVMValueRef py = LLVMBuildGEP2(cg->b, t, LLVMGetParam(fn, 1), &i, 1, "");
		LLVMValueRef y = LLVMBuildLoad2(cg->b, vt, py, "");
		LLVMSetAlignment(y, al);
		r = kernels[ki].f2(cg, x, y);
	} else {
		r = kernels[ki].f1(cg, x);
	}
	LLVMValueRef po = LLVMBuildGEP2(cg->b, t, LLVMGetParam(fn, 2), &i, 1, "");
	LLVMSetAlignment(LLVMBuildStore(cg->b, r, po), al);
	LLVMValueRef next = LLVMBuildAdd(cg->b, i, cg_i64(cg, lanes), "");
	LLVMValueRef zero = cg_i64(cg, 0);
	LLVMBasicBlockRef from[2] = { entry, LLVMGetInsertBlock(cg->b) };
	LLVMValueRef vals[2] = { zero, next };
	LLVMAddIncoming(i, vals, from, 2);
	LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, next, n, ""), loop, done);
	LLVMPositionBuilderAtEnd(cg->b, done);
	LLVMBuildRetVoid(cg->b);
}

/* Fills the Cg fields the math functions need and builds all kernels;
 * isa: the ISA name code is emitted for (cg.isa.name: f32 erf permutes
 * its coefficients on "avx512"/"avx2" vectors), or NULL. */
static LLVMModuleRef build_module(LLVMContextRef ctx, bool fma, const char *isa)
{
	Cg cg;
	memset(&cg, 0, sizeof cg);
	cg.ctx = ctx;
	cg.mod = LLVMModuleCreateWithNameInContext("mathfn_test", ctx);
	cg.b = LLVMCreateBuilderInContext(ctx);
	cg.t_void = LLVMVoidTypeInContext(ctx);
	cg.t_i1 = LLVMInt1TypeInContext(ctx);
	cg.t_i8 = LLVMInt8TypeInContext(ctx);
	cg.t_i16 = LLVMInt16TypeInContext(ctx);
	cg.t_i32 = LLVMInt32TypeInContext(ctx);
	cg.t_i64 = LLVMInt64TypeInContext(ctx);
	cg.t_f16 = LLVMHalfTypeInContext(ctx);
	cg.t_bf16 = LLVMBFloatTypeInContext(ctx);
	cg.t_f32 = LLVMFloatTypeInContext(ctx);
	cg.t_f64 = LLVMDoubleTypeInContext(ctx);
	cg.t_ptr = LLVMPointerTypeInContext(ctx, 0);
	cg.isa.fma = fma;   /* how the mathfn helpers expect fmuladd to lower */
	cg.isa.name = isa;
	for (int k = 0; k < NKERNELS; k++)
		for (int d = 0; d < 2; d++)
			for (int v = 0; v < 4; v++)
				if (kern_lanes(k, d, v))
					build_kernel(&cg, k, d, v);
	LLVMDisposeBuilder(cg.b);
	char *err = NULL;
	if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &err)) {
		fprintf(stderr, "verify: %s\n", err);
		fail_msg("module does not verify");
	}
	LLVMDisposeMessage(err);
	return cg.mod;
}

static LLVMTargetMachineRef make_tm(const char *triple, const char *cpu, const char *features)
{
	LLVMTargetRef target;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(triple, &target, &err)) {
		fprintf(stderr, "%s\n", err);
		fail_msg("no target");
	}
	return LLVMCreateTargetMachine(target, triple, cpu, features,
		LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
}

static void optimise(LLVMModuleRef mod, LLVMTargetMachineRef tm)
{
	LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
	LLVMErrorRef e = LLVMRunPasses(mod, "default<O3>", tm, o);
	assert_null(e);
	LLVMDisposePassBuilderOptions(o);
}

/* feature list fs ("+a,-b,...") contains f exactly */
static bool has_feature(const char *fs, const char *f)
{
	size_t n = strlen(f);
	for (const char *p = fs; (p = strstr(p, f)) != NULL; p += n)
		if ((p == fs || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static int setup(void **state)
{
	(void)state;
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
	char *triple = LLVMGetDefaultTargetTriple();
	char *cpu = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
	/* ONNXCC_MATHFN_CPU=x86-64 (say): optimise and JIT for that CPU with
	 * no extra features instead of the host (e.g. to measure without FMA) */
	const char *ecpu = getenv("ONNXCC_MATHFN_CPU");
	bool fma = !ecpu && has_feature(feat, "+fma");
	/* the host's widest vector ISA (ONNXCC_MATHFN_ISA=avx2 on an AVX-512
	 * host: AVX2's 8-lane forms instead) */
	const char *isa = NULL, *eisa = getenv("ONNXCC_MATHFN_ISA");
	if (!ecpu && has_feature(feat, "+avx512f") && !(eisa && !strcmp(eisa, "avx2")))
		isa = "avx512";
	else if (!ecpu && has_feature(feat, "+avx2") && fma)
		isa = "avx2";
	if (isa && !strcmp(isa, "avx2"))
		vl32 = 8;
	jit_isa = isa;
	if (isa)
		printf("  (vector forms for %s, %d f32 lanes)\n", isa, vl32);
	LLVMModuleRef mod = build_module(LLVMOrcThreadSafeContextGetContext(tsc), fma, isa);
	LLVMTargetMachineRef tm = ecpu ? make_tm(triple, ecpu, "") : make_tm(triple, cpu, feat);
	LLVMSetTarget(mod, triple);
	optimise(mod, tm);
	LLVMDisposeMessage(triple);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(feat);

	LLVMOrcLLJITBuilderRef jb = NULL;
	if (ecpu) {
		printf("  (optimised and run for -mcpu=%s)\n", ecpu);
		jb = LLVMOrcCreateLLJITBuilder();
		LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb,
			LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));   /* takes tm */
	} else {
		LLVMDisposeTargetMachine(tm);
	}
	if (LLVMOrcCreateLLJIT(&J.jit, jb))
		return -1;
	LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
	LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(J.jit, LLVMOrcLLJITGetMainJITDylib(J.jit), tsm);
	if (e) {
		char *m = LLVMGetErrorMessage(e);
		fprintf(stderr, "jit: %s\n", m);
		LLVMDisposeErrorMessage(m);
		return -1;
	}
	LLVMOrcDisposeThreadSafeContext(tsc);
	for (int k = 0; k < NKERNELS; k++)
		for (int d = 0; d < 2; d++)
			for (int v = 0; v < 4; v++) {
				if (!kern_lanes(k, d, v))
					continue;
				char name[64];
				kernel_name(name, sizeof name, k, d, v);
				LLVMOrcExecutorAddress addr = 0;
				e = LLVMOrcLLJITLookup(J.jit, &addr, name);
				if (e || !addr)
					return -1;
				J.k[k][d][v] = (Kern)(uintptr_t)addr;
			}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	LLVMOrcDisposeLLJIT(J.jit);
	return 0;
}

static int kidx(const char *name)
{
	for (int k = 0; k < NKERNELS; k++)
		if (!strcmp(kernels[k].name, name))
			return k;
	fail_msg("no kernel %s", name);
	return -1;
}

/* ---- input generation ------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static const double specials[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, INFINITY, -INFINITY, NAN,
	1e-30, -1e-30, 1e-45, -1e-45, 1e-300, 88.0, 88.7, 89.0, -87.0, -103.0,
	-104.0, 709.0, 709.7, 710.0, -745.0, -746.0, 1.5707963267948966,
	3.141592653589793, 100.0, -100.0, 0.9999999, -0.9999999, 10.0, -10.0,
};
#define NSPECIALS ((int)(sizeof specials / sizeof specials[0]))

#define NPTS 100000

/* NPTS points in [lo,hi]: half uniform, half log-spaced in magnitude
 * (both signs when the interval straddles 0), plus the ends. */
static double *points(double lo, double hi, int *n)
{
	double *p = malloc(sizeof(double) * (NPTS + 16 + NSPECIALS));
	int k = 0;
	p[k++] = lo;
	p[k++] = hi;
	for (int i = 0; i < NPTS / 2; i++)
		p[k++] = lo + (hi - lo) * urand();
	double amax = fmax(fabs(lo), fabs(hi));
	for (int i = 0; i < NPTS / 2; i++) {
		double mag = amax * pow(2.0, -40.0 * urand());
		double s = (lo < 0 && (hi <= 0 || urand() < 0.5)) ? -mag : mag;
		if (s < lo || s > hi)
			s = lo + (hi - lo) * urand();
		p[k++] = s;
	}
	*n = k;
	return p;
}

/* ---- reference and ulp measure ----------------------------------------------- */

static long double ref1(const char *f, long double x)
{
	if (!strcmp(f, "exp") || !strcmp(f, "exp_nonpos")) return expl(x);
	if (!strcmp(f, "expm1")) return expm1l(x);
	if (!strcmp(f, "log")) return logl(x);
	if (!strcmp(f, "log1p")) return log1pl(x);
	if (!strcmp(f, "erf")) return erfl(x);
	if (!strcmp(f, "erfc")) return erfcl(x);
	if (!strcmp(f, "gelu")) return 0.5L * x * erfcl(-x / sqrtl(2.0L));
	if (!strcmp(f, "tanh")) return tanhl(x);
	if (!strcmp(f, "sin")) return sinl(x);
	if (!strcmp(f, "cos")) return cosl(x);
	if (!strcmp(f, "tan")) return tanl(x);
	if (!strcmp(f, "atan")) return atanl(x);
	if (!strcmp(f, "asin")) return asinl(x);
	if (!strcmp(f, "acos")) return acosl(x);
	if (!strcmp(f, "sigmoid")) return 1.0L / (1.0L + expl(-x));
	if (!strcmp(f, "sqrt")) return sqrtl(x);
	fail_msg("no reference for %s", f);
	return 0;
}

/* Error of got in units of the last place of the f32 / f64 result;
 * -1 when specials disagree (NaN vs number, inf vs finite). */
static double ulp_err(long double ref, double got, bool dbl)
{
	if (isnan(ref))
		return isnan(got) ? 0 : -1;
	if (isnan(got))
		return -1;
	double r = dbl ? (double)ref : (double)(float)ref;
	if (isinf(r) || isinf(got))
		return r == got ? 0 : -1;
	double ulp;
	if (dbl) {
		double a = fabs(r);
		ulp = nextafter(a, INFINITY) - a;
		if (a == DBL_MAX)
			ulp = a - nextafter(a, 0);
	} else {
		float a = fabsf((float)r);
		ulp = (double)(nextafterf(a, INFINITY) - a);
		if (a == FLT_MAX)
			ulp = a - nextafterf(a, 0);
	}
	return (double)(fabsl((long double)got - ref) / ulp);
}

typedef struct Stats {
	double max_ulp;
	double worst_x;
	int bad_specials;
	double bad_x;
} Stats;

static void account(Stats *s, double x, double e)
{
	if (e < 0) {
		if (!s->bad_specials)
			s->bad_x = x;
		s->bad_specials++;
	} else if (e > s->max_ulp) {
		s->max_ulp = e;
		s->worst_x = x;
	}
}


/* Form v of f (see kern_lanes) on the n points of x (and y) must give
 * the scalar form's results `out` bit for bit (any NaN matches any NaN). */
static void check_form(const char *f, int ki, bool dbl, int v, const void *x, const void *y, const void *out, int n)
{
	size_t es = dbl ? 8 : 4;
	char *vo = calloc((size_t)PAD(n), es);
	J.k[ki][dbl][v](x, y, vo, PAD(n));
	int diff = 0;
	for (int i = 0; i < n; i++) {
		double a = dbl ? ((const double *)out)[i] : ((const float *)out)[i];
		double b = dbl ? ((const double *)(void *)vo)[i] : ((const float *)(void *)vo)[i];
		if (isnan(a) && isnan(b))
			continue;
		if (memcmp((const char *)out + i * es, vo + i * es, es) != 0 && diff++ < 3)
			printf("    %s %s %d-lane form differs at x=%.17g: %.17g vs %.17g\n", f, dbl ? "f64" : "f32",
			       kern_lanes(ki, dbl, v), dbl ? ((const double *)x)[i] : ((const float *)x)[i], b, a);
	}
	free(vo);
	assert_int_equal(diff, 0);
}

/* Runs function f (f64 when dbl) on n points of x (and y) into out with
 * the scalar kernel and, when f has them, the vector kernels, whose
 * results must be bit-identical (any NaN matches any NaN).  x, y and out
 * hold PAD(n) elements (zeros past n). */
static void run_both(const char *f, bool dbl, const void *x, const void *y, void *out, int n)
{
	int ki = kidx(f);
	J.k[ki][dbl][0](x, y, out, n);
	for (int v = 1; v < 4; v++)
		if (kern_lanes(ki, dbl, v))
			check_form(f, ki, dbl, v, x, y, out, n);
}

/* Runs a unary kernel on [lo,hi] + specials; returns the statistics. */
static Stats run1(const char *f, bool dbl, double lo, double hi)
{
	int n;
	double *p = points(lo, hi, &n);
	for (int i = 0; i < NSPECIALS; i++)
		p[n++] = specials[i];
	Stats s = { 0 };
	if (dbl) {
		double *x = calloc((size_t)PAD(n), sizeof(double)), *out = calloc((size_t)PAD(n), sizeof(double));
		memcpy(x, p, sizeof(double) * n);
		run_both(f, true, x, NULL, out, n);
		for (int i = 0; i < n; i++)
			account(&s, p[i], ulp_err(ref1(f, p[i]), out[i], true));
		free(x);
		free(out);
	} else {
		float *x = calloc((size_t)PAD(n), sizeof(float)), *out = calloc((size_t)PAD(n), sizeof(float));
		for (int i = 0; i < n; i++)
			x[i] = (float)p[i];
		run_both(f, false, x, NULL, out, n);
		for (int i = 0; i < n; i++)
			account(&s, x[i], ulp_err(ref1(f, x[i]), out[i], false));
		free(x);
		free(out);
	}
	free(p);
	printf("  %-8s %s [%g, %g]: %d points, max %.3f ulp (at %.9g)\n", f,
		dbl ? "f64" : "f32", lo, hi, n, s.max_ulp, s.worst_x);
	if (s.bad_specials)
		printf("    %d special mismatches, first at x=%.9g\n", s.bad_specials, s.bad_x);
	return s;
}

static void check1(const char *f, bool dbl, double lo, double hi, double max_ulp)
{
	Stats s = run1(f, dbl, lo, hi);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= max_ulp);
}

/* Every stride-th float in [lo, hi] (finite; by magnitude for each sign)
 * through function f's f32 scalar and vector kernels (run_both:
 * bit-identical) against libm; returns the statistics.  Opt-in (slow):
 * the environment variable ONNXCC_MATHFN_SWEEP=stride runs test_sweep. */
static Stats sweep1(const char *f, float lo, float hi, unsigned stride)
{
	enum { BATCH = 1 << 20 };
	float *x = calloc(PAD(BATCH), sizeof(float)), *out = calloc(PAD(BATCH), sizeof(float));
	Stats s = { 0 };
	long long total = 0;
	/* positive then negative values, walking the bits of |v| */
	for (int sign = 0; sign < 2; sign++) {
		if (sign ? !(lo < 0) : !(hi >= 0))
			continue;
		float mlo = sign ? (hi < 0 ? -hi : 0.0f) : (lo > 0 ? lo : 0.0f);
		float mhi = sign ? -lo : hi;
		uint32_t blo, bhi;
		memcpy(&blo, &mlo, 4);
		memcpy(&bhi, &mhi, 4);
		for (uint64_t u = blo; u <= bhi;) {
			int n = 0;
			for (; n < BATCH && u <= bhi; n++, u += stride) {
				uint32_t v = (uint32_t)u | (sign ? 0x80000000u : 0);
				memcpy(&x[n], &v, 4);
			}
			run_both(f, false, x, NULL, out, n);
			for (int i = 0; i < n; i++)
				account(&s, x[i], ulp_err(ref1(f, x[i]), out[i], false));
			total += n;
		}
	}
	free(x);
	free(out);
	printf("  %-8s f32 sweep [%g, %g] every %u-th float: %lld points, max %.3f ulp (at %.9g)\n",
		f, lo, hi, stride, total, s.max_ulp, s.worst_x);
	return s;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_exp_log(void **state)
{
	(void)state;
	check1("exp", false, -104, 89, 2.0);
	check1("exp", true, -746, 710, 2.0);
	check1("expm1", false, -30, 89, 2.0);
	check1("expm1", true, -40, 710, 2.0);
	check1("log", false, 0, 3.4e38, 2.0);
	check1("log", false, 0.5, 2, 2.0);
	check1("log", true, 0, 1.7e308, 2.0);
	check1("log", true, 0.5, 2, 2.0);
	check1("log1p", false, -1, 1e10, 1.0);
	/* f64 log1p = log(u)*x/(u-1): "a few ulp" (mathfn.h) */
	check1("log1p", true, -1, 1e10, 3.0);
}

static void test_tanh_sigmoid_erf(void **state)
{
	(void)state;
	check1("tanh", false, -12, 12, 1.0);
	check1("tanh", true, -25, 25, 2.0);
	check1("sigmoid", false, -105, 30, 1.0);
	check1("sigmoid", true, -746, 50, 3.0);   /* f64: a few ulp */
	check1("erf", false, -6, 6, 1.0);
	check1("erf", true, -7, 7, 2.0);
	/* f32 erfc is computed in float: measured max 1.15 ulp (here and in
	 * test_sweep with ONNXCC_MATHFN_SWEEP=256, with and without FMA) */
	check1("erfc", false, -6, 30, 1.5);
	check1("erfc", false, 0, 1, 1.5);
	check1("erfc", false, 1, 9.19, 1.5);
	/* f64 erfc: 1 - erf(x) below x = 1 loses up to ~2 bits near x = 1 */
	check1("erfc", true, -7, 28, 6.0);
}

/* f32 erf's eight pieces (mathfn.c erf_f32, k = floor(2|x|)) and the
 * switches between them: every 5th float of [0.45, 4.5] and every 997th
 * of [0, 0.45], each sign.  Run by hand with ONNXCC_MATHFN_ERF_STRIDE=1
 * (every float of [-4.5, 4.5]) on 2026-12-03: max 0.604 ulp on AVX-512
 * (FMA, 16-lane vpermps), 0.604 ulp with ONNXCC_MATHFN_ISA=avx2 (8-lane
 * vpermps), 0.779 ulp with ONNXCC_MATHFN_CPU=x86-64 (no FMA, table
 * loads).  Scalar and vector forms agree bit for bit (run_both). */
static void test_erf_pieces(void **state)
{
	(void)state;
	const char *env = getenv("ONNXCC_MATHFN_ERF_STRIDE");
	unsigned st = env && atoi(env) >= 1 ? (unsigned)atoi(env) : 0;
	Stats s[4];
	int n = 0;
	if (st) {
		s[n++] = sweep1("erf", -4.5f, 4.5f, st);
	} else {
		s[n++] = sweep1("erf", 0.45f, 4.5f, 5);
		s[n++] = sweep1("erf", -4.5f, -0.45f, 5);
		s[n++] = sweep1("erf", -0.45f, 0.45f, 997);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(s[i].bad_specials, 0);
		assert_true(s[i].max_ulp <= 1.0);
	}
}

/* GELU's largest error on every stride-th float of [lo, hi] (one sign):
 * in ulp of the f32 result, or (absolute) as |error| / (|x| 2^-24). */
static double gelu_sweep(float lo, float hi, unsigned stride, bool absolute)
{
	enum { BATCH = 1 << 16 };
	float *x = calloc(PAD(BATCH), sizeof(float)), *out = calloc(PAD(BATCH), sizeof(float));
	float a0 = lo < 0 ? fabsf(hi) : lo, a1 = lo < 0 ? -lo : hi;
	uint32_t b0, b1;
	memcpy(&b0, &a0, 4);
	memcpy(&b1, &a1, 4);
	double worst = 0, worst_x = 0;
	for (uint64_t u = b0; u <= b1;) {
		int n = 0;
		for (; n < BATCH && u <= b1; n++, u += stride) {
			uint32_t v = (uint32_t)u | (lo < 0 ? 0x80000000u : 0);
			memcpy(&x[n], &v, 4);
		}
		run_both("gelu", false, x, NULL, out, n);
		for (int i = 0; i < n; i++) {
			long double r = ref1("gelu", x[i]);
			double e = absolute ? (double)(fabsl((long double)out[i] - r) / (fabsl((long double)x[i]) * 0x1p-24L))
			                    : ulp_err(r, out[i], false);
			assert_true(e >= 0);   /* no NaN or inf where the reference is finite */
			if (e > worst) {
				worst = e;
				worst_x = x[i];
			}
		}
	}
	free(x);
	free(out);
	printf("  gelu f32 [%g, %g] every %u-th float: max %.3f %s (at %.9g)\n", lo, hi, stride, worst,
	       absolute ? "x |x| 2^-24 absolute" : "ulp", worst_x);
	return worst;
}

/* GELU's bound where x >= -2, in ulp: 2 for the AVX-512 form (mathfn.c
 * gelu16_f32: 1.12 / 1.65 measured), 2.5 for the 8-piece form of AVX2 and
 * the rest (gelu_f32: 2.34 measured). */
static double gelu_ulp_bound(void) { return jit_isa && !strcmp(jit_isa, "avx512") ? 2.0 : 2.5; }

/* GELU, erf form (cg_math_gelu: the GEMM, Conv and depthwise epilogues and
 * the Gelu op where x >= -2).  f32 is x Phi(x) with a piecewise
 * polynomial for Phi(-|x|) (mathfn.c gelu_f32: 8 pieces; in code for
 * AVX-512 gelu16_f32: 16 pieces, x - |x| h for x >= 0), whose absolute
 * error is ~2^-25: within gelu_ulp_bound() where x >= -2 (every 29th
 * float; 8 pieces: 2.34 measured at every 3rd; 16 pieces: 1.12 / 1.65 at
 * every 29th; test_gelu_dense: every float of [-10, 10]), within |x|
 * 2^-24 absolutely below, where 0.5x(1 + erf) loses as much to
 * cancellation (against 0.5x erfc(-x/sqrt2) in long double).  ctest runs
 * both forms on an AVX-512 host (test_mathfn_avx2).  Special values as
 * 0.5x(1 + erf(x/sqrt2)) gives them; scalar and vector forms the same
 * bits (run_both).  f64 is 0.5x(1 + erf(x/sqrt2)) with the f64 erf. */
static void test_gelu(void **state)
{
	(void)state;
	double bound = gelu_ulp_bound();
	double e0 = gelu_sweep(0.0f, 8.0f, 29, false);
	double e1 = gelu_sweep(-2.0f, 0.0f, 29, false);
	assert_true(e0 <= bound && e1 <= bound);
	assert_true(gelu_sweep(8.0f, 1e30f, 1001, false) <= 2.0);
	assert_true(gelu_sweep(-40.0f, -2.0f, 31, true) <= 1.0);
	assert_true(gelu_sweep(-FLT_MAX, -40.0f, 10007, true) <= 1.0);
	float x[VL32] = {-INFINITY, INFINITY, NAN, -0.0f, 0.0f, -5.9f, -5.8999996f, 5.9f,
	                 0.75f, -0.75f, 0.74999994f, 1e-30f, -1e-30f, -100.0f, FLT_MAX, -FLT_MAX};
	float out[VL32];
	run_both("gelu", false, x, NULL, out, VL32);
	assert_true(isnan(out[0]) && out[1] == INFINITY && isnan(out[2]));
	assert_true(out[3] == 0.0f && signbit(out[3]) && out[4] == 0.0f && !signbit(out[4]));
	assert_true(out[5] == 0.0f && signbit(out[5]));   /* Phi taken as 0 from -5.9 down */
	assert_true(out[6] < 0.0f && out[6] > -2e-8f);
	assert_true(out[7] == 5.9f && out[14] == FLT_MAX);
	assert_true(out[13] == 0.0f && signbit(out[13]) && out[15] == 0.0f && signbit(out[15]));
	for (int i = 8; i <= 12; i++)   /* piece boundaries, tiny x */
		assert_true(ulp_err(ref1("gelu", x[i]), out[i], false) <= bound);
	/* the AVX-512 form's pieces (mathfn.c gelu16_f32: t = |x| 0.96875 + 2
	 * in [2, 4) and [4, 8) by eighths of the octave; t >= 8, where the
	 * piece number wraps, from |x| = 6.19 on, outside the cut at 5.9):
	 * each boundary and the floats beside it, both signs, and the
	 * largest floats before the wrap and before t = 16 */
	float xb[3 * 2 * 16 + 4];
	int nb = 0;
	for (int j = 1; j < 16; j++) {
		float bnd = (float)((j < 8 ? 0.25 * j : 2.0 + 0.5 * (j - 8)) / 0.96875);
		float trio[3] = {nextafterf(bnd, 0.0f), bnd, nextafterf(bnd, 10.0f)};
		for (int q = 0; q < 3; q++)
			xb[nb++] = trio[q], xb[nb++] = -trio[q];
	}
	xb[nb++] = 6.1935482f, xb[nb++] = -6.1935482f, xb[nb++] = 14.4516125f, xb[nb++] = -14.4516125f;
	while (nb % VL32)
		xb[nb] = xb[nb - 1], nb++;
	float ob[sizeof xb / sizeof xb[0]];
	run_both("gelu", false, xb, NULL, ob, nb);
	for (int i = 0; i < nb; i++) {
		long double r = ref1("gelu", xb[i]);
		if (xb[i] >= -2.0f)
			assert_true(ulp_err(r, ob[i], false) <= bound);
		else
			assert_true(fabsl((long double)ob[i] - r) <= fabsl((long double)xb[i]) * 0x1p-24L);
	}
	/* f64 on [-1, 8]: 1 + erf cancels at most to 0.32 there */
	double xd[64], od[64];
	for (int i = 0; i < 64; i++)
		xd[i] = -1.0 + 9.0 * i / 63.0;
	run_both("gelu", true, xd, NULL, od, 64);
	for (int i = 0; i < 64; i++)
		assert_true(ulp_err(ref1("gelu", xd[i]), od[i], true) <= 8.0);
}

/* GELU f32 over [-10, 10]: every 97th float, or every float with
 * ONNXCC_MATHFN_GELU_STRIDE=1 (2.2e9 points, ~10 minutes): within
 * gelu_ulp_bound() where x >= -2 and |x| 2^-24 absolutely below, scalar
 * and vector forms the same bits (gelu_sweep: run_both). */
static void test_gelu_dense(void **state)
{
	(void)state;
	const char *env = getenv("ONNXCC_MATHFN_GELU_STRIDE");
	unsigned st = env && atoi(env) >= 1 ? (unsigned)atoi(env) : 97;
	assert_true(gelu_sweep(0.0f, 10.0f, st, false) <= gelu_ulp_bound());
	assert_true(gelu_sweep(-2.0f, 0.0f, st, false) <= gelu_ulp_bound());
	assert_true(gelu_sweep(-10.0f, -2.0f, st, true) <= 1.0);
}

/* exp_nonpos (softmax numerators, x <= 0 or NaN): its vector form is its
 * own on AVX-512 (no upper clamp, no NaN masks, vrndscaleps), its scalar
 * form cg_math_exp's: run_both requires the same bits, here for every
 * 499th float of [-106, 0] (the clamp at -105, results that underflow to
 * subnormals and 0), every 99991st below, and -inf, NaN, -0 (every 7th
 * float of [-FLT_MAX, 0] with ONNXCC_MATHFN_SWEEP=7: test_sweep). */
static void test_exp_nonpos(void **state)
{
	(void)state;
	Stats s = sweep1("exp_nonpos", -106.0f, 0.0f, 499);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 2.0);
	s = sweep1("exp_nonpos", -FLT_MAX, -106.0f, 99991);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 2.0);
	float x[VL32] = {-INFINITY, NAN, -0.0f, 0.0f, -105.0f, -104.5f, -103.97f, -87.33f, -1e-30f, -FLT_MIN,
	                 -0.34657359f, -0.34657360f, -1.0f, -2.0f, -88.7f, -150.0f};
	float out[VL32];
	run_both("exp_nonpos", false, x, NULL, out, VL32);
	assert_true(out[0] == 0.0f && !signbit(out[0]));
	assert_true(isnan(out[1]));
	assert_true(out[2] == 1.0f && out[3] == 1.0f && out[4] == 0.0f && out[15] == 0.0f);
}

/* f32 exp: on AVX-512 the 16-piece form (mathfn.c exp16_f32: n =
 * rne(16x/ln2), 2^(j/16) by vpermps / table load, degree 3, vscalefps),
 * elsewhere exp_core.  Every 97th float of [-106, 89] (results from
 * subnormals and 0 to the overflow) and every 9973rd beyond, scalar and
 * vector forms bit for bit (run_both), within 1.1 ulp of libm; then the
 * points where n changes (x near (n + 1/2) ln2/16: the rounding of 16x/ln2
 * picks either neighbour, r at either end of its range), the overflow and
 * underflow thresholds, and the special values. */
static void test_exp16(void **state)
{
	(void)state;
	Stats s = sweep1("exp", -106.0f, 89.0f, 97);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.1);
	s = sweep1("exp", -FLT_MAX, FLT_MAX, 9973);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.1);
	/* piece boundaries: 3 floats either side of (n + 1/2) ln2/16 for every
	 * n whose boundary lies in [-104, 89] */
	enum { NB = 2 * 3200 * 7 };
	float *x = calloc(PAD(NB), sizeof(float)), *out = calloc(PAD(NB), sizeof(float));
	int n = 0;
	for (int k = -2400; k <= 2060; k++) {
		float c = (float)((k + 0.5) * 0.69314718055994531 / 16.0);
		if (c < -104.0f || c > 89.0f)
			continue;
		float v = c;
		for (int i = 0; i < 3; i++)
			v = nextafterf(v, -INFINITY);
		for (int i = 0; i < 7; i++, v = nextafterf(v, INFINITY))
			x[n++] = v;
	}
	assert_true(n <= NB);
	run_both("exp", false, x, NULL, out, n);
	Stats b = { 0 };
	for (int i = 0; i < n; i++)
		account(&b, x[i], ulp_err(ref1("exp", x[i]), out[i], false));
	printf("  exp      f32 %d points at piece boundaries: max %.3f ulp (at %.9g)\n", n, b.max_ulp, b.worst_x);
	assert_int_equal(b.bad_specials, 0);
	assert_true(b.max_ulp <= 1.1);
	free(x);
	free(out);
	/* thresholds and specials: exp(88.7228391) is the largest finite,
	 * 2^-149 the smallest subnormal (ln: -103.2789), half of it -103.9720 */
	float xs[VL32] = {88.72283f, 88.7228394f, 89.0f, 1e30f, INFINITY, -INFINITY, NAN, -NAN,
	                  -87.33654f, -103.2789f, -103.972f, -103.9721f, -104.0f, -1e30f, 0.0f, -0.0f};
	float os[VL32];
	run_both("exp", false, xs, NULL, os, VL32);
	assert_true(isfinite(os[0]) && os[0] > 3.4e38f);
	assert_true(isinf(os[1]) && isinf(os[2]) && isinf(os[3]) && isinf(os[4]) && os[4] > 0);
	assert_true(os[5] == 0.0f && !signbit(os[5]));
	assert_true(isnan(os[6]) && isnan(os[7]));
	assert_true(os[8] >= FLT_MIN);
	assert_true(os[9] == 0x1p-149f && os[10] == 0x1p-149f);
	assert_true(os[11] == 0.0f && os[12] == 0.0f && os[13] == 0.0f && !signbit(os[13]));
	assert_true(os[14] == 1.0f && os[15] == 1.0f);
}

static void test_trig(void **state)
{
	(void)state;
	/* f32 through double: correctly rounded up to the final rounding */
	check1("sin", false, -1e5, 1e5, 1.0);
	check1("cos", false, -1e5, 1e5, 1.0);
	check1("tan", false, -1e4, 1e4, 1.0);
	/* f64: documented as "a few ulp" in mathfn.h */
	check1("sin", true, -1e4, 1e4, 3.0);
	check1("cos", true, -1e4, 1e4, 3.0);
	check1("tan", true, -100, 100, 3.0);
	check1("atan", false, -1e6, 1e6, 1.0);
	check1("atan", true, -1e6, 1e6, 3.0);
	check1("asin", false, -1, 1, 1.0);
	check1("asin", true, -1, 1, 3.0);
	check1("acos", false, -1, 1, 1.0);
	check1("acos", true, -1, 1, 3.0);
	check1("sqrt", false, 0, 1e30, 0.5);
	check1("sqrt", true, 0, 1e300, 0.5);
}

/* f32 sin/cos/tan of large arguments (reduced with 4/pi to 96 bits from
 * 2^20 up, mathfn.c trig_reduce): <= 1 ulp against the long double
 * reference over the whole float range and around the switch at 2^20,
 * and within 1 ulp of libm's sinf/cosf/tanf on edge inputs (powers of 2,
 * their neighbours, FLT_MAX, a float x with x mod pi/2 tiny, 9.3e18 where
 * the old reduction failed); inf and NaN give NaN. */
static void test_trig_huge(void **state)
{
	(void)state;
	static const char *const fs[3] = { "sin", "cos", "tan" };
	for (int k = 0; k < 3; k++) {
		check1(fs[k], false, -FLT_MAX, FLT_MAX, 1.0);
		check1(fs[k], false, -1e10, 1e10, 1.0);
		check1(fs[k], false, 1e6, 1.1e6, 1.0);
		check1(fs[k], false, -4e6, 4e6, 1.0);
	}
	enum { NE = 3 * 64 + 8 };
	float x[PAD(NE)], out[PAD(NE)];
	memset(x, 0, sizeof x);
	int n = 0;
	for (int e = 1; e <= 127 && n + 3 <= NE; e += 2) {
		float p = ldexpf(1.0f, e);
		x[n++] = p;
		x[n++] = -nextafterf(p, INFINITY);
		x[n++] = nextafterf(p, 0);
	}
	x[n++] = FLT_MAX;
	x[n++] = -FLT_MAX;
	x[n++] = 9.3e18f;
	x[n++] = -9.3e18f;
	x[n++] = ldexpf(16367173.0f, 72);   /* close to a multiple of pi/2 */
	x[n++] = INFINITY;
	x[n++] = -INFINITY;
	x[n++] = NAN;
	for (int k = 0; k < 3; k++) {
		memset(out, 0, sizeof out);
		run_both(fs[k], false, x, NULL, out, n);
		for (int i = 0; i < n; i++) {
			float want = k == 0 ? sinf(x[i]) : k == 1 ? cosf(x[i]) : tanf(x[i]);
			if (isnan(want) || isnan(out[i])) {
				if (!(isnan(want) && isnan(out[i])))
					fail_msg("%s(%.9g) = %.9g, libm %.9g", fs[k], x[i], out[i], want);
				continue;
			}
			float ulp = nextafterf(fabsf(want), INFINITY) - fabsf(want);
			if (fabsf(out[i] - want) > ulp)
				fail_msg("%s(%.9g) = %.9g, libm %.9g", fs[k], x[i], out[i], want);
		}
	}
}

static double pow_errs(bool dbl, const double *xs, const double *ys, int n, int *bad)
{
	double mx = 0;
	*bad = 0;
	if (dbl) {
		double *out = calloc((size_t)PAD(n), sizeof(double));
		run_both("pow", true, xs, ys, out, n);
		for (int i = 0; i < n; i++) {
			double e = ulp_err(powl(xs[i], ys[i]), out[i], true);
			if (e < 0) {
				if (!*bad)
					printf("    pow f64 special mismatch: pow(%g,%g) = %g\n", xs[i], ys[i], out[i]);
				(*bad)++;
			} else if (e > mx) {
				mx = e;
			}
		}
		free(out);
	} else {
		float *x = calloc((size_t)PAD(n), sizeof(float)), *y = calloc((size_t)PAD(n), sizeof(float));
		float *out = calloc((size_t)PAD(n), sizeof(float));
		for (int i = 0; i < n; i++) {
			x[i] = (float)xs[i];
			y[i] = (float)ys[i];
		}
		run_both("pow", false, x, y, out, n);
		for (int i = 0; i < n; i++) {
			double e = ulp_err(powl(x[i], y[i]), out[i], false);
			if (e < 0) {
				if (!*bad)
					printf("    pow f32 special mismatch: pow(%g,%g) = %g\n", x[i], y[i], out[i]);
				(*bad)++;
			} else if (e > mx) {
				mx = e;
			}
		}
		free(x);
		free(y);
		free(out);
	}
	return mx;
}

static void test_pow(void **state)
{
	(void)state;
	int n = NPTS;
	double *x = calloc((size_t)PAD(n + 400), sizeof(double)), *y = calloc((size_t)PAD(n + 400), sizeof(double));
	for (int i = 0; i < n; i++) {
		x[i] = pow(2.0, 40 * urand() - 20);
		y[i] = 20 * urand() - 10;
		if (i % 4 == 0) {   /* negative base, integer exponent */
			x[i] = -x[i];
			y[i] = floor(y[i]);
		}
	}
	/* specials: every pair from a small set */
	static const double sv[] = { 0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0,
		INFINITY, -INFINITY, NAN, 1.5, -1.5, 1e-30, 1e30 };
	int ns = (int)(sizeof sv / sizeof sv[0]);
	for (int i = 0; i < ns; i++)
		for (int j = 0; j < ns; j++) {
			x[n] = sv[i];
			y[n] = sv[j];
			n++;
		}
	int bad;
	double e32 = pow_errs(false, x, y, n, &bad);
	printf("  pow f32: %d points, max %.3f ulp\n", n, e32);
	assert_int_equal(bad, 0);
	assert_true(e32 <= 1.0);
	double e64 = pow_errs(true, x, y, n, &bad);
	printf("  pow f64: %d points, max %.3f ulp\n", n, e64);
	assert_int_equal(bad, 0);
	/* f64 pow = exp(y*log|x|) in double: here |y ln x| <= 140 */
	assert_true(e64 <= 140 * 2.0 + 2.0);
	free(x);
	free(y);
}

/* Exact functions: results must be bit-identical to libm's. */
static void exact2(const char *f, bool dbl, const double *x, const double *y, int n,
                   double (*ref)(double, double), float (*reff)(float, float))
{
	int bad = 0;
	if (dbl) {
		double *out = calloc((size_t)PAD(n), sizeof(double));
		run_both(f, true, x, y, out, n);
		for (int i = 0; i < n; i++) {
			double r = ref(x[i], y[i]);
			if (isnan(r) ? !isnan(out[i]) : memcmp(&r, &out[i], 8) != 0) {
				if (bad++ < 3)
					printf("    %s f64(%.17g, %.17g) = %.17g, want %.17g\n", f, x[i], y[i], out[i], r);
			}
		}
		free(out);
	} else {
		float *xf = calloc((size_t)PAD(n), sizeof(float)), *yf = calloc((size_t)PAD(n), sizeof(float));
		float *out = calloc((size_t)PAD(n), sizeof(float));
		for (int i = 0; i < n; i++) {
			xf[i] = (float)x[i];
			yf[i] = (float)y[i];
		}
		run_both(f, false, xf, yf, out, n);
		for (int i = 0; i < n; i++) {
			float r = reff(xf[i], yf[i]);
			if (isnan(r) ? !isnan(out[i]) : memcmp(&r, &out[i], 4) != 0) {
				if (bad++ < 3)
					printf("    %s f32(%.9g, %.9g) = %.9g, want %.9g\n", f, xf[i], yf[i], out[i], r);
			}
		}
		free(xf);
		free(yf);
		free(out);
	}
	printf("  %-8s %s: %d points, %d mismatches\n", f, dbl ? "f64" : "f32", n, bad);
	assert_int_equal(bad, 0);
}

static double ufloor(double x, double y) { (void)y; return floor(x); }
static float ufloorf(float x, float y) { (void)y; return floorf(x); }
static double uceil(double x, double y) { (void)y; return ceil(x); }
static float uceilf(float x, float y) { (void)y; return ceilf(x); }
static double uround(double x, double y) { (void)y; return nearbyint(x); }
static float uroundf(float x, float y) { (void)y; return nearbyintf(x); }
static double utrunc(double x, double y) { (void)y; return trunc(x); }
static float utruncf(float x, float y) { (void)y; return truncf(x); }
static double ufabs(double x, double y) { (void)y; return fabs(x); }
static float ufabsf(float x, float y) { (void)y; return fabsf(x); }
/* NaN-propagating min/max (ONNX Min/Max), unlike C fmin/fmax */
static double nmin(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static float nminf(float a, float b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static double nmax(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static float nmaxf(float a, float b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }

static void test_exact(void **state)
{
	(void)state;
	int n = NPTS;
	double *x = calloc((size_t)PAD(n + 2000), sizeof(double)), *y = calloc((size_t)PAD(n + 2000), sizeof(double));
	for (int i = 0; i < n; i++) {
		double s = urand() < 0.5 ? -1 : 1;
		/* mixes of small, half-integer and huge magnitudes */
		switch (i % 4) {
		case 0: x[i] = s * 100 * urand(); break;
		case 1: x[i] = s * floor(200 * urand()) * 0.5; break;
		case 2: x[i] = s * pow(2.0, 120 * urand() - 60); break;
		default: x[i] = s * pow(2.0, 2000 * urand() - 1000); break;
		}
		double t = urand() < 0.5 ? -1 : 1;
		y[i] = t * pow(2.0, 60 * urand() - 30);
		if (i % 7 == 0)
			y[i] = t * pow(2.0, 2000 * urand() - 1000);
		if (i % 11 == 0)
			y[i] = x[i] * (1 + 1e-7 * urand());
	}
	for (int i = 0; i < NSPECIALS; i++)
		for (int j = 0; j < NSPECIALS; j++) {
			x[n] = specials[i];
			y[n] = specials[j];
			n++;
		}
	/* subnormals */
	x[n] = 5e-324; y[n++] = 3e-324;
	x[n] = 1e-310; y[n++] = 3e-323;
	x[n] = 1e300; y[n++] = 1e-310;
	exact2("floor", false, x, y, n, ufloor, ufloorf);
	exact2("floor", true, x, y, n, ufloor, ufloorf);
	exact2("ceil", false, x, y, n, uceil, uceilf);
	exact2("ceil", true, x, y, n, uceil, uceilf);
	exact2("round", false, x, y, n, uround, uroundf);
	exact2("round", true, x, y, n, uround, uroundf);
	exact2("trunc", false, x, y, n, utrunc, utruncf);
	exact2("trunc", true, x, y, n, utrunc, utruncf);
	exact2("fabs", false, x, y, n, ufabs, ufabsf);
	exact2("fabs", true, x, y, n, ufabs, ufabsf);
	exact2("fmod", false, x, y, n, fmod, fmodf);
	exact2("fmod", true, x, y, n, fmod, fmodf);
	exact2("fmin", false, x, y, n, nmin, nminf);
	exact2("fmin", true, x, y, n, nmin, nminf);
	exact2("fmax", false, x, y, n, nmax, nmaxf);
	exact2("fmax", true, x, y, n, nmax, nmaxf);
	free(x);
	free(y);
}

/* The object code for a baseline x86-64 (no SSE4.1, no FMA) must not
 * reference libm: every symbol in it is one of our kernels (or mathfn's
 * internal tables: 4/pi for sin/cos, erf's coefficients). */
static void test_no_libm(void **state)
{
	(void)state;
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86Target();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86AsmPrinter();
	LLVMContextRef ctx = LLVMContextCreate();
	LLVMModuleRef mod = build_module(ctx, false, NULL);
	const char *triple = "x86_64-unknown-linux-gnu";
	LLVMTargetMachineRef tm = make_tm(triple, "x86-64", "");
	LLVMSetTarget(mod, triple);
	optimise(mod, tm);
	LLVMMemoryBufferRef obj = NULL;
	char *err = NULL;
	assert_false(LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &err, &obj));
	LLVMBinaryRef bin = LLVMCreateBinary(obj, ctx, &err);
	assert_non_null(bin);
	LLVMSymbolIteratorRef it = LLVMObjectFileCopySymbolIterator(bin);
	int nsym = 0, foreign = 0;
	while (!LLVMObjectFileIsSymbolIteratorAtEnd(bin, it)) {
		const char *name = LLVMGetSymbolName(it);
		/* kernels, section symbols, the file symbol (module name) and
		 * mathfn's own internal constant tables (4/pi, erf, gelu) */
		if (name && *name && strncmp(name, "k_", 2) != 0 && name[0] != '.' &&
		    strcmp(name, "mathfn_test") != 0 && strcmp(name, "onnxcc_math_inv_pio4") != 0 &&
		    strcmp(name, "onnxcc_math_erf_tab") != 0 &&
		    strcmp(name, "onnxcc_math_gelu_tab") != 0 && strcmp(name, "onnxcc_math_gelu16_tab") != 0) {
			printf("    unexpected symbol in object: %s\n", name);
			foreign++;
		}
		nsym++;
		LLVMMoveToNextSymbol(it);
	}
	printf("  baseline x86-64 object: %d symbols, %d foreign\n", nsym, foreign);
	assert_int_equal(foreign, 0);
	assert_true(nsym >= 4 * NKERNELS - 2);
	LLVMDisposeSymbolIterator(it);
	LLVMDisposeBinary(bin);
	LLVMDisposeMemoryBuffer(obj);
	LLVMDisposeModule(mod);
	LLVMDisposeTargetMachine(tm);
	LLVMContextDispose(ctx);
}

/* Table lookups on AVX2 and AVX-512 vectors of every width permute a
 * register: no f32 helper but the trigonometric ones (whose Payne-Hanek
 * reduction reads 2/pi's bits at a data-dependent word) calls a gather.
 * Built at the IR level for both ISAs whatever the host, with the FMA
 * setting those ISAs come with. */
static void test_narrow_lookup(void **state)
{
	(void)state;
	static const char *const isas[] = { "avx512", "avx2" };
	for (int ii = 0; ii < 2; ii++) {
		int saved = vl32;
		vl32 = strcmp(isas[ii], "avx2") ? VL32 : 8;
		LLVMContextRef ctx = LLVMContextCreate();
		LLVMModuleRef mod = build_module(ctx, true, isas[ii]);
		vl32 = saved;
		int helpers = 0, gathers = 0;
		for (LLVMValueRef fn = LLVMGetFirstFunction(mod); fn; fn = LLVMGetNextFunction(fn)) {
			size_t len;
			const char *name = LLVMGetValueName2(fn, &len);
			if (strncmp(name, "onnxcc_math_", 12) != 0 || !strstr(name, "f32"))
				continue;
			helpers++;
			bool trig = !strncmp(name + 12, "sin_", 4) || !strncmp(name + 12, "cos_", 4) ||
			            !strncmp(name + 12, "tan_", 4);
			for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
				for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
					if (LLVMGetInstructionOpcode(in) != LLVMCall)
						continue;
					LLVMValueRef callee = LLVMGetCalledValue(in);
					const char *cn = LLVMGetValueName2(callee, &len);
					if (strncmp(cn, "llvm.masked.gather", 18) != 0 || trig)
						continue;
					printf("    %s: %s calls %s\n", isas[ii], name, cn);
					gathers++;
				}
		}
		printf("  %s: %d f32 helpers, %d with a gather outside trig\n", isas[ii], helpers, gathers);
		assert_true(helpers > 0);
		assert_int_equal(gathers, 0);
		LLVMDisposeModule(mod);
		LLVMContextDispose(ctx);
	}
}

/* Dense sweeps of the f32 functions computed in float (the sampled
 * checks above use 100k points); skipped unless ONNXCC_MATHFN_SWEEP is
 * set to a stride >= 1 (1: every float, about 2^31 per function). */
static void test_sweep(void **state)
{
	(void)state;
	const char *env = getenv("ONNXCC_MATHFN_SWEEP");
	if (!env || atoi(env) < 1) {
		printf("  (set ONNXCC_MATHFN_SWEEP=stride to run)\n");
		return;
	}
	unsigned st = (unsigned)atoi(env);
	Stats s = sweep1("erf", -FLT_MAX, FLT_MAX, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.0);
	/* erfc: subnormal results (x > 9.19) excluded from the bound */
	s = sweep1("erfc", -FLT_MAX, 9.19f, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.5);
	s = sweep1("tanh", -FLT_MAX, FLT_MAX, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.0);
	s = sweep1("sigmoid", -87.0f, FLT_MAX, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 1.0);
	/* exp and expm1 (<= 2 ulp); their vector forms scale by 2^k with
	 * vscalefps on AVX-512, the scalar ones in two exact-then-rounded
	 * steps: run_both checks the bits agree */
	s = sweep1("exp", -FLT_MAX, FLT_MAX, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 2.0);
	s = sweep1("expm1", -FLT_MAX, FLT_MAX, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 2.0);
	s = sweep1("exp_nonpos", -FLT_MAX, 0.0f, st);
	assert_int_equal(s.bad_specials, 0);
	assert_true(s.max_ulp <= 2.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exp_log),
		cmocka_unit_test(test_tanh_sigmoid_erf),
		cmocka_unit_test(test_erf_pieces),
		cmocka_unit_test(test_gelu),
		cmocka_unit_test(test_gelu_dense),
		cmocka_unit_test(test_exp_nonpos),
		cmocka_unit_test(test_exp16),
		cmocka_unit_test(test_trig),
		cmocka_unit_test(test_trig_huge),
		cmocka_unit_test(test_pow),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_no_libm),
		cmocka_unit_test(test_narrow_lookup),
		cmocka_unit_test(test_sweep),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

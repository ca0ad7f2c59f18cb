/* tests/unit/test_dispatch.c — multi-versioned node functions of a portable
 * x86-64 build (codegen/kernels/dispatch.c, cg_isa_variants()):
 *   - which targets get variants (portable x86-64 only; not --cpu, not
 *     --features, not AArch64/ARMv7 whose baseline has NEON);
 *   - the module holds .avx2/.avx512 versions with their target features,
 *     a dispatcher per versioned node, one CPU check;
 *   - every version of a node that computes on vectors, and the task
 *     functions and micro-kernels it calls, is optsize (kern_size_attrs);
 *     the dispatchers and the run function are not;
 *   - the CPU check picks the level this host supports (as libgcc's
 *     __builtin_cpu_supports sees it);
 *   - each level the host can run, forced through the module's selection
 *     variable, computes a GEMM on one shared packing of the weights (panels
 *     of the widest variant read by narrower kernels) and a vector Softmax
 *     within 1e-5 of a double reference, and the automatic choice equals
 *     the best forced level bit for bit. */
#include "testutil.h"
#include "codegen/target.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 500.0f;
	}
}

static bool is_x86_64_host(void)
{
	char *t = LLVMGetDefaultTargetTriple();
	bool x = !strncmp(t, "x86_64", 6);
	LLVMDisposeMessage(t);
	return x;
}

static int variants_for(const char *triple, const char *cpu, const char *features)
{
	Diag d;
	diag_init(&d, "test.onnx", false);
	LLVMTargetMachineRef tm = cg_target_machine(triple, cpu, features, 2, &d);
	if (!tm) {
		fprintf(stderr, "no target machine for %s: %s\n", triple ? triple : "host", d.buf ? d.buf : "");
		diag_free(&d);
		return -1;
	}
	CgIsa v[CG_MAX_VARIANTS];
	int n = cg_isa_variants(tm, cpu, features, v);
	if (n == 2) {
		/* the kernel tests' ISAs are these variants */
		assert_string_equal(v[0].features, tu_isas[1].features);
		assert_string_equal(v[1].features, tu_isas[2].features);
		assert_int_equal(v[0].level, 2);
		assert_int_equal(v[1].level, 3);
	}
	LLVMDisposeTargetMachine(tm);
	diag_free(&d);
	return n;
}

static void test_which_targets(void **state)
{
	(void)state;
	assert_int_equal(variants_for("x86_64-linux-gnu", NULL, NULL), 2);
	assert_int_equal(variants_for("x86_64-linux-gnu", NULL, ""), 2);
	assert_int_equal(variants_for("x86_64-linux-gnu", "x86-64", NULL), 0);
	assert_int_equal(variants_for("x86_64-linux-gnu", NULL, "+avx2,+fma"), 0);
	if (is_x86_64_host())
		assert_int_equal(variants_for(NULL, "native", NULL), 0);
	assert_int_equal(variants_for("aarch64-linux-gnu", NULL, NULL), 0);
	assert_int_equal(variants_for("arm-linux-gnueabihf", NULL, NULL), 0);
}

/* ---- the module ------------------------------------------------------------ */

enum { M = 29, K = 300, N = 90 };   /* N: 2 full 32-wide packed panels + 26 */

static float ga[M * K], gb[K * N], gy[M * N];
static double gref[M * N];
static int forced;                  /* level written into tu.isa_sel, 0: none */
static int seen_level;              /* tu.isa_level() of the loaded library */
static int n_avx2, n_avx512, n_dispatch, n_features_ok, n_isa_fns, n_isa_optsize;

static void reference(void)
{
	fill(ga, M * K, 7);
	fill(gb, K * N, 8);
	for (int i = 0; i < M; i++) {
		double row[N], mx = -1e300, s = 0;
		for (int j = 0; j < N; j++) {
			double acc = 0;
			for (int k = 0; k < K; k++)
				acc += (double)ga[i * K + k] * gb[k * N + j];
			row[j] = acc / 16;   /* keep the softmax away from one-hot */
			mx = fmax(mx, row[j]);
		}
		for (int j = 0; j < N; j++)
			s += exp(row[j] - mx);
		for (int j = 0; j < N; j++)
			gref[i * N + j] = exp(row[j] - mx) / s;
	}
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && !memcmp(s + n - t, tail, t);
}

static const char *fn_features(LLVMValueRef f, unsigned *len)
{
	LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, "target-features", 15);
	*len = 0;
	return a ? LLVMGetStringAttributeValue(a, len) : NULL;
}

static bool has_enum(LLVMValueRef f, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
	return LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, kind) != NULL;
}

static bool has_optsize(LLVMValueRef f)
{
	unsigned kind = LLVMGetEnumAttributeKindForName("optsize", 7);
	return LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, kind) != NULL;
}

static void inspect(Cg *cg)
{
	n_avx2 = n_avx512 = n_dispatch = n_features_ok = n_isa_fns = n_isa_optsize = 0;
	for (LLVMValueRef f = LLVMGetFirstFunction(cg->mod); f; f = LLVMGetNextFunction(f)) {
		size_t n;
		const char *name = LLVMGetValueName2(f, &n);
		unsigned fl;
		const char *fs = fn_features(f, &fl);
		if (ends_with(name, n, ".avx2")) {
			n_avx2++;
			n_features_ok += fs && fl == strlen(tu_isas[1].features) && !memcmp(fs, tu_isas[1].features, fl);
		} else if (ends_with(name, n, ".avx512")) {
			n_avx512++;
			n_features_ok += fs && fl == strlen(tu_isas[2].features) && !memcmp(fs, tu_isas[2].features, fl);
		} else if (ends_with(name, n, ".dispatch")) {
			n_dispatch++;
			assert_null(fs);
			assert_false(has_optsize(f));
		}
		/* a variant's functions (node, tasks, micro-kernels) carry its
		 * features; the baseline's are found through their dispatchers.
		 * (mathfn's always-inline helpers built with an ISA's
		 * instructions carry its features too; they are inlined away.) */
		if (fs && !LLVMIsDeclaration(f) && !has_enum(f, "alwaysinline")) {
			n_isa_fns++;
			n_isa_optsize += has_optsize(f);
		}
		if (ends_with(name, n, ".dispatch")) {
			for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
				for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i))
					if (LLVMIsACallInst(i) && LLVMIsAFunction(LLVMGetCalledValue(i)) &&
					    LLVMGetCalledValue(i) != LLVMGetNamedFunction(cg->mod, "tu.isa_level"))
						assert_true(has_optsize(LLVMGetCalledValue(i)));
		}
	}
	assert_true(n_isa_fns > n_avx2 + n_avx512);   /* task functions, micro-kernels */
	assert_int_equal(n_isa_optsize, n_isa_fns);
	LLVMValueRef run = LLVMGetNamedFunction(cg->mod, "tu_run_parallel");
	assert_non_null(run);
	assert_false(has_optsize(run));
	LLVMValueRef sel = LLVMGetNamedGlobal(cg->mod, "tu.isa_sel");
	assert_non_null(sel);
	if (forced)
		LLVMSetInitializer(sel, cg_i32(cg, forced));
	/* an exported probe of the CPU check */
	LLVMValueRef lvl = LLVMGetNamedFunction(cg->mod, "tu.isa_level");
	assert_non_null(lvl);
	LLVMTypeRef ft = LLVMFunctionType(cg->t_i32, NULL, 0, 0);
	LLVMValueRef probe = LLVMAddFunction(cg->mod, "tu_test_isa_level", ft);
	LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
	LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(cg->ctx, probe, "entry"));
	LLVMBuildRet(b, LLVMBuildCall2(b, ft, lvl, NULL, 0, ""));
	LLVMDisposeBuilder(b);
}

static void loaded(void *h)
{
	int (*probe)(void) = (int (*)(void))dlsym(h, "tu_test_isa_level");
	assert_non_null(probe);
	seen_level = probe();
}

static ValueId tmp_value(TuGraph *g, const char *name, const int64_t *dims)
{
	Shape s = shape_make(2, dims);
	return graph_add_value(g->g, name, DT_F32, &s);
}

/* Y = Softmax(A x B / 16), B constant; run with level `lvl` forced (0:
 * the CPU check decides). */
static void run_module(int lvl, float *y)
{
	TuGraph g = tu_graph();
	int64_t da[2] = {M, K}, db[2] = {K, N}, dy[2] = {M, N}, d0[1] = {1};
	float sixteenth = 1.0f / 16;
	ValueId in[2];
	in[0] = tu_input(&g, "a", DT_F32, 2, da);
	in[1] = tu_const(&g, "b", DT_F32, 2, db, gb);
	gval(g.g, in[1])->layout = LAYOUT_PANELS; /* packed, as fuse-gemm leaves a weight */
	ValueId p = tmp_value(&g, "p", dy);
	tu_node(&g, OP_MatMul, 13, in, 2, &p, 1);
	ValueId sc[2] = {p, tu_const(&g, "s", DT_F32, 1, d0, &sixteenth)};
	ValueId q = tmp_value(&g, "q", dy);
	tu_node(&g, OP_Mul, 14, sc, 2, &q, 1);
	ValueId out = tu_output(&g, "y", DT_F32, 2, dy);
	tu_node(&g, OP_Softmax, 13, &q, 1, &out, 1);
	tu_attr_int(&g, "axis", -1);
	memset(y, 0, sizeof(float) * M * N);
	const void *ins[1] = {ga};
	void *outs[1] = {y};
	forced = lvl;
	seen_level = -1;
	tu_variants = true;
	tu_module_hook = inspect;
	tu_loaded_hook = loaded;
	tu_run(&g, ins, outs);
	tu_variants = false;
	tu_module_hook = NULL;
	tu_loaded_hook = NULL;
}

static double rel_err(const float *y)
{
	double e = 0, m = 1e-30;
	for (int i = 0; i < M * N; i++) {
		e = fmax(e, fabs(y[i] - gref[i]));
		m = fmax(m, fabs(gref[i]));
	}
	return e / m;
}

static void test_levels(void **state)
{
	(void)state;
	if (!is_x86_64_host()) {
		fprintf(stderr, "SKIP: not an x86-64 host\n");
		return;
	}
	reference();
	static float best[M * N];
	int host = 1;
	for (int t = 0; t < 3; t++) {
		if (!tu_host_has(&tu_isas[t]))
			continue;
		host = tu_isas[t].level;
		run_module(tu_isas[t].level, gy);
		/* MatMul and Softmax versioned: node function, dispatcher, features */
		assert_true(n_avx2 >= 2 && n_avx512 >= 2);
		assert_int_equal(n_avx2, n_avx512);
		assert_int_equal(n_dispatch, n_avx2);
		assert_int_equal(n_features_ok, n_avx2 + n_avx512);
		assert_int_equal(seen_level, tu_isas[t].level);
		double e = rel_err(gy);
		if (e > 1e-5)
			fprintf(stderr, "level %d (%s): rel err %g\n", tu_isas[t].level, tu_isas[t].name, e);
		assert_true(e <= 1e-5);
		memcpy(best, gy, sizeof best);
	}
	/* the CPU check: the best level this host has, and its results */
	run_module(0, gy);
	assert_int_equal(seen_level, host);
	assert_memory_equal(gy, best, sizeof best);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_which_targets),
		cmocka_unit_test(test_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_einsum.c — Einsum on the GEMM kernel
 * (codegen/lower_einsum_gemm.c).
 *
 * Each equation is compiled and run against a double-precision reference
 * that walks every combination of the equation's letters (numpy's
 * definition), at every vector width this host runs: Transformer-XL's three
 * ('ibnd,jbnd->ijbn' and 'ibnd,jnd->ijbn' with strided output columns, the
 * staged form; 'ijbn,jbnd->ibnd' direct), batched and transposed products,
 * a transposed output, a label of size 1, a label broadcast from size 1.
 * The module is checked to hold GEMM micro-kernels (the kernel path was
 * taken) or not (forms that keep the loop nest: no summed label, two summed
 * labels, three operands).  Results bitwise equal on 1, 2 and 3 threads.
 */
#include "testutil.h"
#include "runtime/onnxcc_pool.h"
#include "codegen/module.h"
#include "codegen/target.h"
#include "passes/memplan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXOP 3

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 2001) - 1000) / 1000.0f;
	}
}

typedef struct Ein {
	const char *eq;              /* letters only, explicit output */
	int nops;
	int rank[MAXOP];
	int64_t dims[MAXOP][IR_MAX_RANK];
	bool gemm;                   /* expected on the kernel path */
} Ein;

/* Splits c->eq into terms; sizes of each letter into size[26]. */
static void parse(const Ein *c, char terms[MAXOP + 1][16], int64_t *size)
{
	const char *p = c->eq;
	for (int o = 0; o <= c->nops; o++) {
		int k = 0;
		while (*p && *p != ',' && *p != '-')
			terms[o][k++] = *p++;
		terms[o][k] = 0;
		p += *p == ',' ? 1 : *p == '-' ? 2 : 0;
	}
	for (int l = 0; l < 26; l++)
		size[l] = 0;
	for (int o = 0; o < c->nops; o++)
		for (int i = 0; terms[o][i]; i++) {
			int l = terms[o][i] - 'a';
			if (c->dims[o][i] > size[l])
				size[l] = c->dims[o][i];
		}
}

static int64_t numel(int rank, const int64_t *d)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= d[i];
	return n;
}

/* Offset of the element of a term (dims d) at the letter values v. */
static int64_t offset(const char *term, const int64_t *d, const int64_t *v)
{
	int64_t o = 0;
	for (int i = 0; term[i]; i++)
		o = o * d[i] + (d[i] == 1 ? 0 : v[term[i] - 'a']);
	return o;
}

static void reference(const Ein *c, const float *const *x, double *ref, int64_t *od, int *orank)
{
	char t[MAXOP + 1][16];
	int64_t size[26];
	parse(c, t, size);
	const char *out = t[c->nops];
	*orank = (int)strlen(out);
	for (int i = 0; i < *orank; i++)
		od[i] = size[out[i] - 'a'];
	memset(ref, 0, sizeof(double) * (size_t)numel(*orank, od));
	int used[26], nu = 0;
	for (int l = 0; l < 26; l++)
		if (size[l])
			used[nu++] = l;
	int64_t v[26] = {0};
	for (;;) {
		double p = 1;
		for (int o = 0; o < c->nops; o++)
			p *= x[o][offset(t[o], c->dims[o], v)];
		ref[offset(out, od, v)] += p;
		int k = nu - 1;
		while (k >= 0 && ++v[used[k]] == size[used[k]])
			v[used[k--]] = 0;
		if (k < 0)
			break;
	}
}

static Graph *build(const Ein *c, const int64_t *od, int orank)
{
	TuGraph g = tu_graph();
	static const char *const names[MAXOP] = {"x0", "x1", "x2"};
	ValueId in[MAXOP];
	for (int o = 0; o < c->nops; o++)
		in[o] = tu_input(&g, names[o], DT_F32, c->rank[o], c->dims[o]);
	ValueId out = tu_output(&g, "y", DT_F32, orank, od);
	tu_node(&g, OP_Einsum, 12, in, c->nops, &out, 1);
	tu_attr_str(&g, "equation", c->eq);
	return g.g;
}

/* Whether the lowering of c (host ISA) holds GEMM micro-kernels. */
static bool takes_gemm(const Ein *c, const int64_t *od, int orank)
{
	Graph *g = build(c, od, orank);
	g->shapes_known = true;
	Diag d;
	diag_init(&d, "test.onnx", false);
	MemPlan plan = {0};
	Cg cg = {0};
	LLVMTargetMachineRef tm = cg_target_machine(NULL, NULL, NULL, 2, &d);
	assert_non_null(tm);
	LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
	assert_true(pass_memplan(g, &plan, &d));
	char *triple = LLVMGetTargetMachineTriple(tm);
	CgModuleOptions mo = {.prefix = "tu", .export_alias = true, .triple = triple, .layout = layout};
	mo.isa = cg_isa_of(tm);
	assert_true(cg_build_module(&cg, g, &plan, &mo, &d));
	LLVMDisposeMessage(triple);
	bool found = false;
	for (LLVMValueRef f = LLVMGetFirstFunction(cg.mod); f; f = LLVMGetNextFunction(f)) {
		size_t len;
		found |= strstr(LLVMGetValueName2(f, &len), ".gemm_") != NULL;
	}
	cg_dispose(&cg);
	memplan_free(&plan);
	LLVMDisposeTargetData(layout);
	LLVMDisposeTargetMachine(tm);
	graph_free(g);
	diag_free(&d);
	return found;
}

/* Runs c at every vector width the host has (all_isas) or at the host's
 * own only, and on 1-3 threads when `threads`. */
static void einsum_case(const Ein *c, bool all_isas, bool threads)
{
	float *x[MAXOP] = {0};
	for (int o = 0; o < c->nops; o++) {
		size_t n = (size_t)numel(c->rank[o], c->dims[o]);
		x[o] = malloc(sizeof(float) * n);
		fill(x[o], n, 11u + (unsigned)o);
	}
	int64_t od[IR_MAX_RANK];
	int orank;
	char t[MAXOP + 1][16];
	int64_t size[26];
	parse(c, t, size);
	int64_t ksum = 1; /* terms per output element, for the tolerance */
	for (int l = 0; l < 26; l++)
		if (size[l] && !strchr(t[c->nops], 'a' + l))
			ksum *= size[l];
	double *ref = malloc(sizeof(double) * 1024 * 1024);
	reference(c, (const float *const *)x, ref, od, &orank);
	size_t ny = (size_t)numel(orank, od);
	float *y = malloc(sizeof(float) * ny), *y0 = malloc(sizeof(float) * ny);
	if (takes_gemm(c, od, orank) != c->gemm)
		fail_msg("%s: kernel path %s, expected %s", c->eq, c->gemm ? "not taken" : "taken",
		         c->gemm ? "taken" : "not");
	const void *ins[MAXOP] = {x[0], x[1], x[2]};
	void *outs[1] = {y};
	double tol = 4e-7 * (double)ksum + 1e-6;
	for (size_t k = 0; k < sizeof tu_isas / sizeof tu_isas[0]; k++) {
		if (!tu_host_has(&tu_isas[k]))
			continue;
		if (!all_isas && k + 1 < sizeof tu_isas / sizeof tu_isas[0] && tu_host_has(&tu_isas[k + 1]))
			continue; /* the widest the host runs only */
		tu_isa_override = tu_isas[k];
		memset(y, 0xff, ny * 4);
		tu_compile_run(build(c, od, orank), ins, outs);
		double e = 0;
		for (size_t i = 0; i < ny; i++)
			e = fmax(e, fabs(y[i] - ref[i])) + (isnan(y[i]) ? INFINITY : 0);
		if (!(e <= tol))
			fprintf(stderr, "Einsum %s %s: max abs err %g (tolerance %g)\n", c->eq, tu_isas[k].name, e, tol);
		assert_true(e <= tol);
	}
	tu_isa_override = (CgIsa){0};
	if (threads) {
		tu_parallel = NULL;
		outs[0] = y0;
		tu_compile_run(build(c, od, orank), ins, outs);
		outs[0] = y;
		for (int nt = 1; nt <= 3; nt++) {
			OnnxccPool *pool = onnxcc_pool_create(nt);
			assert_non_null(pool);
			OnnxccParallel par = onnxcc_pool_parallel(pool);
			tu_parallel = &par;
			memset(y, 0xff, ny * 4);
			tu_compile_run(build(c, od, orank), ins, outs);
			tu_parallel = NULL;
			onnxcc_pool_destroy(pool);
			assert_memory_equal(y, y0, ny * 4);
		}
	}
	for (int o = 0; o < c->nops; o++)
		free(x[o]);
	free(y), free(y0), free(ref);
}

static void test_txl_equations(void **state)
{
	(void)state;
	/* content term: output columns strided by the heads (staged), two
	 * blocks of rows with a short last one */
	Ein ac = {"ibnd,jbnd->ijbn", 2, {4, 4}, {{37, 2, 3, 16}, {70, 2, 3, 16}}, true};
	einsum_case(&ac, true, true);
	/* position term: b only in the first operand (a batch dim with B
	 * stride 0) */
	Ein bd = {"ibnd,jnd->ijbn", 2, {4, 3}, {{20, 2, 2, 24}, {33, 2, 24}}, true};
	einsum_case(&bd, true, false);
	/* probabilities x values: contiguous output columns (direct); b = 1 */
	Ein pv = {"ijbn,jbnd->ibnd", 2, {4, 4}, {{25, 40, 1, 3}, {40, 1, 3, 20}}, true};
	einsum_case(&pv, true, false);
	/* a staged product with more than one block of rows by size */
	Ein big = {"ibnd,jbnd->ijbn", 2, {4, 4}, {{150, 1, 2, 8}, {300, 1, 2, 8}}, true};
	einsum_case(&big, false, false);
}

static void test_other_equations(void **state)
{
	(void)state;
	Ein bmm = {"bij,bjk->bik", 2, {3, 3}, {{3, 17, 19}, {3, 19, 21}}, true};
	einsum_case(&bmm, false, false);
	Ein nt = {"ij,kj->ik", 2, {2, 2}, {{30, 40}, {50, 40}}, true};
	einsum_case(&nt, false, false);
	/* transposed output: the operands trade places */
	Ein tout = {"ki,kj->ji", 2, {2, 2}, {{24, 33}, {24, 18}}, true};
	einsum_case(&tout, false, false);
	/* a batch label broadcast from size 1 in the second operand */
	Ein bc = {"bij,bjk->bik", 2, {3, 3}, {{4, 16, 16}, {1, 16, 20}}, true};
	einsum_case(&bc, false, false);
	/* loop nest kept: no label of the product's N kind, two summed
	 * labels, three operands */
	Ein dot = {"ij,ij->i", 2, {2, 2}, {{20, 40}, {20, 40}}, false};
	einsum_case(&dot, false, false);
	Ein two = {"ijk,jkl->il", 2, {3, 3}, {{12, 5, 6}, {5, 6, 20}}, false};
	einsum_case(&two, false, false);
	Ein three = {"ij,jk,kl->il", 3, {2, 2, 2}, {{6, 7}, {7, 8}, {8, 9}}, false};
	einsum_case(&three, false, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txl_equations),
		cmocka_unit_test(test_other_equations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

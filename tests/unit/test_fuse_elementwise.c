/* tests/unit/test_fuse_elementwise.c — fuse-elementwise and the ElemChain
 * op against the graph they replace, bit for bit.
 *
 * Graphs of f32 elementwise ops (an ODE step's update with a broadcast
 * bias, a per-row divisor, a constant scalar and the unary ops the chain
 * takes; one flat vector) are compiled unfused and after fuse-elementwise
 * and run on the same inputs: every ElemChain computes each element with
 * the unfused ops' own instructions, so the outputs must be identical
 * bytes, for every vector width this host executes (the rows' tails are
 * masked: 771 is no multiple of a width) and on 1, 2 and 3 threads (the
 * row tasks of kern_rows).  Also the ElemChain shape rule and its expr
 * parser's diagnostics (ir/params.c, passes/infer_fused.c).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/infer.h"
#include "passes/pipeline.h"
#include "runtime/onnxcc_pool.h"

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((int)((seed >> 16) % 4001) - 2000) / 500.0f;
	}
}

static Graph *parse(const char *text)
{
	Diag d;
	diag_init(&d, "chain.ir", false);
	Graph *g = ir_parse(text, "chain.ir", 0, &d);
	if (!g)
		fail_msg("parse: %s", d.buf ? d.buf : "");
	diag_free(&d);
	return g;
}

/* R rows of C: y = x + h * (k1 + k2), and z = sig(x) * tanh(y / r) -
 * erf(-(b + k1)) + relu(k2), with b [C], r [R, 1], h a scalar. */
#define ODE_TEXT                                                                              \
	"graph \"t\" opset ai.onnx=17\n"                                                      \
	"input  %%x : f32[%d,%d]\n"                                                           \
	"input  %%k1 : f32[%d,%d]\n"                                                          \
	"input  %%k2 : f32[%d,%d]\n"                                                          \
	"input  %%b : f32[%d]\n"                                                              \
	"input  %%r : f32[%d,1]\n"                                                            \
	"const  %%h : f32[] = {0.375}\n"                                                      \
	"%%s : f32[%d,%d] = Add(%%k1, %%k2)  # s\n"                                           \
	"%%m : f32[%d,%d] = Mul(%%h, %%s)  # m\n"                                             \
	"%%y : f32[%d,%d] = Add(%%x, %%m)  # y\n"                                             \
	"%%q : f32[%d,%d] = Div(%%y, %%r)  # q\n"                                             \
	"%%t : f32[%d,%d] = Tanh(%%q)  # t\n"                                                 \
	"%%g : f32[%d,%d] = Sigmoid(%%x)  # g\n"                                              \
	"%%u : f32[%d,%d] = Mul(%%g, %%t)  # u\n"                                             \
	"%%a : f32[%d,%d] = Add(%%b, %%k1)  # a\n"                                            \
	"%%n : f32[%d,%d] = Neg(%%a)  # n\n"                                                  \
	"%%e : f32[%d,%d] = Erf(%%n)  # e\n"                                                  \
	"%%v : f32[%d,%d] = Sub(%%u, %%e)  # v\n"                                             \
	"%%w : f32[%d,%d] = Relu(%%k2)  # w\n"                                                \
	"%%z : f32[%d,%d] = Add(%%v, %%w)  # z\n"                                             \
	"output %%y\n"                                                                        \
	"output %%z\n"

static char *ode_text(int R, int C)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, ODE_TEXT, R, C, R, C, R, C, C, R, R, C, R, C, R, C, R, C, R, C, R, C, R, C, R,
	         C, R, C, R, C, R, C, R, C, R, C);
	return buf;
}

static void outputs(const char *text, bool fused, const void *const *in, void *const *out, int want_chains)
{
	static const char *const unfused_passes[] = {"infer"};
	static const char *const fused_passes[] = {"infer", "fuse-elementwise", "dce"};
	Graph *g = parse(text);
	if (fused)
		tu_run_passes(g, fused_passes, 3);
	else
		tu_run_passes(g, unfused_passes, 1);
	assert_int_equal(tu_live(g, OP_ElemChain), fused ? want_chains : 0);
	tu_compile_run(g, in, out);
}

/* The ODE graph of R x C, unfused (serial) against fused on 1..3 threads,
 * for each vector width in isas[0..nisa). */
static void case_ode(int R, int C, bool all_isas)
{
	size_t n = (size_t)R * (size_t)C;
	float *x = malloc(n * 4), *k1 = malloc(n * 4), *k2 = malloc(n * 4), *b = malloc((size_t)C * 4);
	float *r = malloc((size_t)R * 4);
	float *y0 = malloc(n * 4), *z0 = malloc(n * 4), *y1 = malloc(n * 4), *z1 = malloc(n * 4);
	fill(x, n, 1);
	fill(k1, n, 2);
	fill(k2, n, 3);
	fill(b, (size_t)C, 4);
	fill(r, (size_t)R, 5);
	for (int i = 0; i < R; i++)
		r[i] = r[i] == 0 ? 1.5f : r[i];
	const char *text = ode_text(R, C);
	const void *in[5] = {x, k1, k2, b, r};
	for (size_t t = 0; t < (all_isas ? sizeof tu_isas / sizeof tu_isas[0] : 1); t++) {
		if (all_isas && !tu_host_has(&tu_isas[t]))
			continue;
		tu_isa_override = all_isas ? tu_isas[t] : (CgIsa){0};
		void *o0[2] = {y0, z0}, *o1[2] = {y1, z1};
		outputs(text, false, in, o0, 0);
		for (int threads = 1; threads <= 3; threads++) {
			OnnxccPool *pool = threads > 1 ? onnxcc_pool_create(threads) : NULL;
			OnnxccParallel par;
			if (pool) {
				par = onnxcc_pool_parallel(pool);
				tu_parallel = &par;
			}
			memset(y1, 0xff, n * 4);
			memset(z1, 0xff, n * 4);
			/* y = x + h(k1 + k2) is a graph output: one tree; z another */
			outputs(text, true, in, o1, 2);
			tu_parallel = NULL;
			if (pool)
				onnxcc_pool_destroy(pool);
			if (memcmp(y0, y1, n * 4) != 0 || memcmp(z0, z1, n * 4) != 0)
				fail_msg("%dx%d %s, %d threads: fused outputs differ from the unfused bits", R, C,
				         all_isas ? tu_isas[t].name : "host", threads);
		}
	}
	tu_isa_override = (CgIsa){0};
	free(x), free(k1), free(k2), free(b), free(r), free(y0), free(z0), free(y1), free(z1);
}

static void test_bitwise(void **state)
{
	(void)state;
	case_ode(97, 771, true);   /* rows of a width no vector divides, split into row tasks */
	case_ode(3, 5, false);     /* a few elements: one short masked vector per row */
}

/* One flat dim (the blocks of kern_rows' r == 1 path): a chain over a
 * vector of 100003 elements with a scalar constant first. */
static void test_flat(void **state)
{
	(void)state;
	enum { N = 100003 };
	static const char text[] =
		"graph \"t\" opset ai.onnx=17\n"
		"input  %x : f32[100003]\n"
		"input  %k : f32[100003]\n"
		"const  %c : f32[1] = {-1.25}\n"
		"%a : f32[100003] = Sub(%c, %x)  # a\n"
		"%s : f32[100003] = Sigmoid(%a)  # s\n"
		"%y : f32[100003] = Div(%s, %k)  # y\n"
		"output %y\n";
	float *x = malloc(N * 4), *k = malloc(N * 4), *y0 = malloc(N * 4), *y1 = malloc(N * 4);
	fill(x, N, 7);
	fill(k, N, 8);
	const void *in[2] = {x, k};
	void *o0[1] = {y0}, *o1[1] = {y1};
	outputs(text, false, in, o0, 0);
	OnnxccPool *pool = onnxcc_pool_create(3);
	OnnxccParallel par = onnxcc_pool_parallel(pool);
	tu_parallel = &par;
	outputs(text, true, in, o1, 1);
	tu_parallel = NULL;
	onnxcc_pool_destroy(pool);
	assert_memory_equal(y0, y1, N * 4);
	free(x), free(k), free(y0), free(y1);
}

/* The shape rule on hand-written ElemChain nodes: a sound one gives the
 * broadcast shape; a bad expr or input a diagnostic naming the rule. */
static void test_shape_rule(void **state)
{
	(void)state;
	static const struct {
		const char *in1, *expr, *msg;
	} cases[] = {
		{"f32[3,1]", "Add(Mul(x0,x1),Neg(x0))", NULL},
		{"f32[3,1]", "Add(x0)", "attribute expr: Add takes two operands (offset 6)"},
		{"f32[3,1]", "Abs(x0,x1)", "attribute expr: expected an input xN or one of Add"},
		{"f32[3,1]", "Relu(x0)", "input 1: not read by expr"},
		{"f32[3,1]", "Add(x0,x2)", "attribute expr: x2 at offset 7, but the node has 2 inputs"},
		{"f32[3,1]", "Add(x0,x1))", "attribute expr: unexpected ')' at offset 10"},
		{"f32[3,1]", "Add(x0,x01)", "attribute expr: bad input reference at offset 7"},
		{"f32[3,1]", "x0", "attribute expr: no op, only input x0"},
		{"f64[3,1]", "Add(x0,x1)", "input 1: ElemChain takes f32, got f64"},
		{"f32[3,2]", "Add(x0,x1)", "broadcast"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[1024];
		snprintf(text, sizeof text,
		         "graph \"t\" opset ai.onnx=17, onnxcc=1\n"
		         "input  %%x : f32[2,1,4]\n"
		         "input  %%r : %s\n"
		         "%%y : f32[?] = onnxcc::ElemChain(%%x, %%r) {expr=\"%s\"}  # c\n"
		         "output %%y\n",
		         cases[i].in1, cases[i].expr);
		Diag d;
		diag_init(&d, "chain.ir", false);
		Graph *g = ir_parse(text, "chain.ir", 0, &d);
		assert_non_null(g);
		bool ok = pass_infer_node(g, 0, &d);
		if (!cases[i].msg) {
			assert_true(ok);
			char b[64];
			assert_string_equal(shape_str(&gval(g, graph_find_value(g, "y"))->shape, b, sizeof b), "[2,3,4]");
		} else {
			assert_false(ok);
			if (!diag_contains(&d, cases[i].msg))
				fail_msg("case %zu: want '%s', got '%s'", i, cases[i].msg, d.buf ? d.buf : "");
		}
		graph_free(g);
		diag_free(&d);
	}
	/* nested past CHAIN_MAX_STEPS: a diagnostic, not a deep recursion */
	char expr[4096] = "", text[8192];
	for (int i = 0; i < 200; i++)
		strcat(expr, "Neg(");
	strcat(expr, "x0");
	for (int i = 0; i < 200; i++)
		strcat(expr, ")");
	snprintf(text, sizeof text,
	         "graph \"t\" opset ai.onnx=17, onnxcc=1\n"
	         "input  %%x : f32[2]\n"
	         "%%y : f32[?] = onnxcc::ElemChain(%%x) {expr=\"%s\"}  # c\n"
	         "output %%y\n",
	         expr);
	Diag d;
	diag_init(&d, "chain.ir", false);
	Graph *g = ir_parse(text, "chain.ir", 0, &d);
	assert_non_null(g);
	assert_false(pass_infer_node(g, 0, &d));
	assert_true(diag_contains(&d, "attribute expr: nested deeper than 32"));
	graph_free(g);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_rule),
		cmocka_unit_test(test_bitwise),
		cmocka_unit_test(test_flat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_ir.c — the IR text dump and the verifier.
 *
 * The dump of a hand-built graph is compared with an expected string; the
 * verifier is fed graphs broken one way each (dangling id, two producers,
 * out-of-order node, missing shape after inference, undefined output, bad
 * arity, a layout where its rules forbid it) and must report that rule's
 * message; layout_set_const gives a weight a layout or a twin. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ir_dump into a malloc'd string. */
static char *dump_str(Graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ir_dump(g, f);
	fclose(f);
	return buf;
}

static Shape S(int rank, int64_t a, int64_t b, int64_t c, int64_t d)
{
	int64_t dims[4] = {a, b, c, d};
	return shape_make(rank, dims);
}

/* x:f32[1,3,8,8] -> Conv(w,b) -> Relu -> Slice(starts,ends) -> y */
static Graph *tiny(void)
{
	Graph *g = graph_new("tiny.onnx");
	g->name = "tiny";
	g->opsets = arena_alloc(&g->arena, sizeof(OpsetImport));
	g->opsets[0].domain = "";
	g->opsets[0].version = 17;
	g->nopsets = 1;
	Shape sx = S(4, 1, 3, 8, 8), sw = S(4, 4, 3, 3, 3), sb = S(1, 4, 0, 0, 0), sy = S(4, 1, 4, 8, 8);
	float w[108], b[4] = {0.5f, -1, 0.25f, 1e-9f};
	for (int i = 0; i < 108; i++)
		w[i] = (float)i / 10;
	ValueId x = graph_add_value(g, "x", DT_F32, &sx);
	gval(g, x)->kind = VK_INPUT;
	g->inputs = arena_dup(&g->arena, &x, sizeof x);
	g->ninputs = 1;
	ValueId vw = graph_add_const(g, "w", DT_F32, &sw, w);
	ValueId vb = graph_add_const(g, "b", DT_F32, &sb, b);
	int64_t one = 1, st = 0, en = 2;
	Shape s1 = S(1, 1, 0, 0, 0);
	graph_add_const(g, "unused", DT_I64, &s1, &one);
	ValueId vs = graph_add_const(g, "starts", DT_I64, &s1, &st);
	ValueId ve = graph_add_const(g, "ends", DT_I64, &s1, &en);
	ValueId c = graph_add_value(g, "c", DT_F32, &sy);
	ValueId r = graph_add_value(g, NULL, DT_F32, &sy);
	Shape so = S(4, 1, 2, 8, 8);
	ValueId y = graph_add_value(g, "y", DT_F32, &so);
	gval(g, y)->is_output = true;
	ValueId in1[] = {x, vw, vb};
	NodeId n = graph_add_node(g, OP_Conv, "Conv", "conv1", in1, 3, &c, 1);
	Attr *a = graph_add_attr(g, n, "pads", AK_INTS);
	int64_t pads[] = {1, 1, 1, 1};
	a->ints = arena_dup(&g->arena, pads, sizeof pads);
	a->n = 4;
	a = graph_add_attr(g, n, "kernel_shape", AK_INTS);
	int64_t ks[] = {3, 3};
	a->ints = arena_dup(&g->arena, ks, sizeof ks);
	a->n = 2;
	a = graph_add_attr(g, n, "auto_pad", AK_STRING);
	a->s = "NOTSET";
	a->slen = 6;
	graph_add_node(g, OP_Relu, "Relu", "", &c, 1, &r, 1);
	ValueId in3[] = {r, vs, ve, IR_NONE, IR_NONE};
	n = graph_add_node(g, OP_Slice, "Slice", "cut", in3, 5, &y, 1);
	a = graph_add_attr(g, n, "zz", AK_FLOAT);
	a->f = 0.1f;
	g->outputs = arena_dup(&g->arena, &y, sizeof y);
	g->noutputs = 1;
	return g;
}

static void test_dump_hand_graph(void **state)
{
	(void)state;
	Graph *g = tiny();
	char *s = dump_str(g);
	const char *want =
		"graph \"tiny\" opset ai.onnx=17\n"
		"input  %x : f32[1,3,8,8]\n"
		"const  %w : f32[4,3,3,3] = {0, 0.100000001, 0.200000003, 0.300000012, 0.400000006, 0.5, ... (108 elements)}\n"
		"const  %b : f32[4] = {0.5, -1, 0.25, 9.99999972e-10}\n"
		"const  %starts : i64[1] = {0}\n"
		"const  %ends : i64[1] = {2}\n"
		"%c : f32[1,4,8,8] = Conv(%x, %w, %b) {auto_pad=\"NOTSET\", kernel_shape=[3,3], pads=[1,1,1,1]}  # conv1\n"
		"%t0 : f32[1,4,8,8] = Relu(%c)\n"
		"%y : f32[1,2,8,8] = Slice(%t0, %starts, %ends, _, _) {zz=0.100000001}  # cut\n"
		"output %y\n";
	assert_string_equal(s, want);
	/* deterministic: a second dump is identical */
	char *s2 = dump_str(g);
	assert_string_equal(s, s2);
	free(s);
	free(s2);
	Diag d;
	diag_init(&d, "tiny.onnx", false);
	assert_true(ir_verify(g, &d));
	assert_int_equal(d.nerrors, 0);
	diag_free(&d);
	graph_free(g);
}

static void test_dump_skips_dead_nodes(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[1].dead = true; /* Relu */
	char *s = dump_str(g);
	assert_null(strstr(s, "Relu"));
	assert_non_null(strstr(s, "Conv("));
	free(s);
	graph_free(g);
}

/* Runs the verifier, which must fail with a message containing want. */
static void expect_broken(Graph *g, const char *want)
{
	Diag d;
	diag_init(&d, "tiny.onnx", false);
	assert_false(ir_verify(g, &d));
	assert_true(d.nerrors > 0);
	if (!diag_contains(&d, want))
		fail_msg("expected '%s' in:\n%s", want, d.buf ? d.buf : "");
	diag_free(&d);
}

/* graph_insert_node: the new node takes position `at`, the later nodes
 * move up with their producers; a dead node that still lists a value a
 * live node now produces does not take the value along. */
static void test_insert_node(void **state)
{
	(void)state;
	Graph *g = tiny();
	ValueId c = graph_find_value(g, "c"), y = graph_find_value(g, "y");
	ValueId r = g->nodes[1].out[0];
	/* a dead copy of the Relu right after it (as a fusion leaves one),
	 * still listing r */
	NodeId dead = graph_insert_node(g, 2, OP_Relu, "Relu", "old", &c, 1, &r, 1);
	g->nodes[dead].dead = true;
	gval(g, r)->producer = 1;
	/* Neg(c) -> c2 inserted before the Relu, the Relu reading c2 */
	ValueId c2 = graph_add_value(g, "c2", DT_F32, &gval(g, c)->shape);
	NodeId at = graph_insert_node(g, 1, OP_Neg, NULL, "neg", &c, 1, &c2, 1);
	assert_int_equal(at, 1);
	g->nodes[2].in[0] = c2;
	assert_int_equal(g->nodes[1].op, OP_Neg);
	assert_int_equal(g->nodes[2].op, OP_Relu);
	assert_true(g->nodes[3].dead);
	assert_int_equal(g->nodes[4].op, OP_Slice);
	assert_int_equal(gval(g, c2)->producer, 1);
	assert_int_equal(gval(g, r)->producer, 2);
	assert_int_equal(gval(g, y)->producer, 4);
	assert_int_equal(gval(g, c)->producer, 0);
	Diag d;
	diag_init(&d, "tiny.onnx", false);
	if (!ir_verify(g, &d))
		fail_msg("%s", d.buf);
	diag_free(&d);
	graph_free(g);
}

/* graph_set_attr overwrites an attribute in place (no second entry of the
 * same name) or appends it, and drops the node's parsed parameters */
static void test_set_attr(void **state)
{
	(void)state;
	Graph *g = tiny();
	Node *n = &g->nodes[0];
	int nattr = n->nattr;
	n->params = (const struct OpParams *)n;   /* stands for a parsed struct */
	Attr *a = graph_set_attr(g, 0, "pads", AK_INTS);
	int64_t pads[] = {0, 2, 0, 2};
	a->ints = arena_dup(&g->arena, pads, sizeof pads);
	a->n = 4;
	assert_null(g->nodes[0].params);
	assert_int_equal(g->nodes[0].nattr, nattr);
	const int64_t *got;
	assert_int_equal(attr_ints(&g->nodes[0], "pads", &got), 4);
	assert_true(got[0] == 0 && got[1] == 2 && got[2] == 0 && got[3] == 2);
	g->nodes[0].params = (const struct OpParams *)n;
	graph_set_attr(g, 0, "group", AK_INT)->i = 1;
	assert_null(g->nodes[0].params);
	assert_int_equal(g->nodes[0].nattr, nattr + 1);
	assert_int_equal(attr_int(&g->nodes[0], "group", 0), 1);
	/* the kind follows the caller: an INT overwritten as a FLOAT */
	graph_set_attr(g, 0, "group", AK_FLOAT)->f = 0.5f;
	assert_int_equal(g->nodes[0].nattr, nattr + 1);
	assert_true(attr_float(&g->nodes[0], "group", 0.0f) == 0.5f);
	graph_free(g);
}

static void test_verify_dangling_id(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[1].in[0] = 999;
	expect_broken(g, "verify: node '#1' (Relu): input 0: value id 999 out of range");
	graph_free(g);
}

static void test_verify_two_producers(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[1].out[0] = graph_find_value(g, "c"); /* Relu also writes c */
	expect_broken(g, "verify: value 'c' has two producers: nodes 'conv1' and '#1'");
	graph_free(g);
}

static void test_verify_out_of_order(void **state)
{
	(void)state;
	Graph *g = tiny();
	Node t = g->nodes[0];
	g->nodes[0] = g->nodes[1];
	g->nodes[1] = t;
	gval(g, graph_find_value(g, "c"))->producer = 1;
	gval(g, g->nodes[0].out[0])->producer = 0;
	expect_broken(g, "input 0: value 'c' is used before its producer 'conv1' (not topologically ordered)");
	graph_free(g);
}

static void test_verify_cycle(void **state)
{
	(void)state;
	Graph *g = tiny();
	/* Conv reads Relu's output: a cycle conv1 -> Relu -> conv1 */
	g->nodes[0].in[0] = g->nodes[1].out[0];
	expect_broken(g, "node 'conv1' (Conv): input 0: value '%t0' is used before its producer '#1'");
	graph_free(g);
}

static void test_verify_missing_shape_after_inference(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->shapes_known = true;
	Diag d;
	diag_init(&d, "", false);
	assert_true(ir_verify(g, &d));
	diag_free(&d);
	gval(g, graph_find_value(g, "c"))->shape.dims[0] = -1;
	gval(g, graph_find_value(g, "y"))->dtype = DT_UNDEF;
	expect_broken(g, "verify: value 'c' has no static shape after shape inference ([?,4,8,8])");
	expect_broken(g, "verify: value 'y' has no dtype after shape inference");
	/* without shapes_known the same graph is fine */
	g->shapes_known = false;
	diag_init(&d, "", false);
	assert_true(ir_verify(g, &d));
	diag_free(&d);
	graph_free(g);
}

static void test_verify_producer_field(void **state)
{
	(void)state;
	Graph *g = tiny();
	gval(g, graph_find_value(g, "c"))->producer = 2;
	expect_broken(g, "verify: value 'c': producer field is 2 but node 'conv1' (#0) produces it");
	graph_free(g);
}

static void test_verify_input_with_producer(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[1].out[0] = graph_find_value(g, "x");
	expect_broken(g, "verify: value 'x' is a graph input but node '#1' (Relu) produces it");
	graph_free(g);
}

static void test_verify_undefined_output(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[2].dead = true; /* nobody produces y any more */
	expect_broken(g, "verify: graph output 0 ('y') is not defined");
	graph_free(g);
}

static void test_verify_arity(void **state)
{
	(void)state;
	Graph *g = tiny();
	g->nodes[1].nin = 2; /* Relu with 2 inputs (second reads past: give it a real array) */
	ValueId in2[2] = {g->nodes[1].in[0], g->nodes[1].in[0]};
	g->nodes[1].in = in2;
	expect_broken(g, "verify: node '#1' (Relu): 2 inputs, expected 1..1");
	graph_free(g);
}

static void test_verify_output_flag(void **state)
{
	(void)state;
	Graph *g = tiny();
	gval(g, graph_find_value(g, "c"))->is_output = true;
	expect_broken(g, "verify: value 'c' is flagged is_output but is not a graph output");
	gval(g, graph_find_value(g, "y"))->is_output = false;
	expect_broken(g, "verify: graph output 0 ('y') is not flagged is_output");
	graph_free(g);
}

static void test_verify_constant_size(void **state)
{
	(void)state;
	Graph *g = tiny();
	gval(g, graph_find_value(g, "b"))->nbytes = 12;
	expect_broken(g, "verify: constant 'b' (f32[4]) holds 12 bytes");
	graph_free(g);
}

static void test_verify_never_defined(void **state)
{
	(void)state;
	Graph *g = tiny();
	Shape s = S(4, 1, 4, 8, 8);
	ValueId ghost = graph_add_value(g, "ghost", DT_F32, &s);
	g->nodes[1].in[0] = ghost;
	expect_broken(g, "verify: node '#1' (Relu): input 0: value 'ghost' is never defined");
	graph_free(g);
}

/* ---- layouts ---------------------------------------------------------------- */

/* Parses text (an IR dump) or fails the test. */
static Graph *parse_ok(const char *text)
{
	Diag d;
	diag_init(&d, "layout.ir", false);
	Graph *g = ir_parse(text, "layout.ir", 0, &d);
	if (!g)
		fail_msg("parse: %s", d.buf ? d.buf : "");
	diag_free(&d);
	return g;
}

/* y = MatMul(x, w) with w a constant in layout `lay`, and z = Add(x2, w)
 * when `add` (a second, non-GEMM reader of w). */
static const char *const gemm_text =
	"graph \"l\" opset ai.onnx=17\n"
	"input  %x : f32[2,2]\n"
	"const  %w : f32[2,2]@panels = {1, 2, 3, 4}\n"
	"%y : f32[2,2] = MatMul(%x, %w)\n"
	"output %y\n";

/* A layout is printed after the type, read back, and verified: panels on a
 * GEMM's weight is sound; the same layout anywhere else is rejected with
 * the rule it breaks. */
static void test_verify_layouts(void **state)
{
	(void)state;
	Graph *g = parse_ok(gemm_text);
	assert_int_equal(gval(g, graph_find_value(g, "w"))->layout, LAYOUT_PANELS);
	Diag d;
	diag_init(&d, "layout.ir", false);
	assert_true(ir_verify(g, &d));
	diag_free(&d);
	char *s = dump_str(g);
	assert_string_equal(s, gemm_text); /* round trip, "@panels" included */
	free(s);
	graph_free(g);

	/* panels read by something that is not a GEMM's B */
	g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	             "input  %x : f32[2,2]\n"
	             "const  %w : f32[2,2]@panels = {1, 2, 3, 4}\n"
	             "%y : f32[2,2] = MatMul(%x, %w)\n"
	             "%z : f32[2,2] = Add(%y, %w)\n"
	             "output %z\n");
	expect_broken(g, "verify: node '#1' (Add): input 1: reads value 'w' of layout panels, which only a GEMM "
	                 "reads (as its B operand, input 1)");
	graph_free(g);
	/* panels as a GEMM's A */
	g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	             "input  %x : f32[2,2]\n"
	             "const  %w : f32[2,2]@panels = {1, 2, 3, 4}\n"
	             "%y : f32[2,2] = MatMul(%w, %x)\n"
	             "output %y\n");
	expect_broken(g, "verify: node '#0' (MatMul): input 0: reads value 'w' of layout panels");
	graph_free(g);
	/* panels on a computed value */
	g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	             "input  %x : f32[2,2]\n"
	             "%r : f32[2,2]@panels = Relu(%x)\n"
	             "%y : f32[2,2] = MatMul(%x, %r)\n"
	             "output %y\n");
	expect_broken(g, "verify: value 'r' has layout panels but is not a constant f32 matrix");
	graph_free(g);
	/* two Gemms reading one packed weight in different orientations */
	g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	             "input  %x : f32[2,2]\n"
	             "const  %w : f32[2,2]@panels = {1, 2, 3, 4}\n"
	             "%y : f32[2,2] = Gemm(%x, %w) {transB=1}\n"
	             "%z : f32[2,2] = Gemm(%y, %w) {transB=0}\n"
	             "output %z\n");
	expect_broken(g, "verify: value 'w' has layout panels but its GEMM readers read it in different "
	                 "orientations (transB)");
	graph_free(g);
	/* DwConvNhwc reads its weights tap-major only */
	static const char *dw =
		"graph \"l\" opset ai.onnx=17, onnxcc=1\n"
		"input  %%x : f32[1,4,2]\n"
		"const  %%w : f32[2,1,1,1]%s = {1, 2}\n"
		"%%y : f32[1,4,2] = onnxcc::DwConvNhwc(%%x, %%w) {dilations=[1,1], height=2, kernel_shape=[1,1], "
		"pads=[0,0,0,0], strides=[1,1], width=2}\n"
		"output %%y\n";
	char text[1024];
	snprintf(text, sizeof text, dw, "@taps");
	g = parse_ok(text);
	diag_init(&d, "layout.ir", false);
	if (!ir_verify(g, &d))
		fail_msg("%s", d.buf);
	diag_free(&d);
	graph_free(g);
	snprintf(text, sizeof text, dw, "");
	g = parse_ok(text);
	expect_broken(g, "verify: node '#0' (DwConvNhwc): input 1: value 'w' must have layout taps");
	graph_free(g);
	/* a view keeps its input's layout */
	g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	             "input  %x : f32[2,2]\n"
	             "const  %s : i64[1] = {4}\n"
	             "%r : f32[4] = Reshape(%x, %s)\n"
	             "output %r\n");
	gval(g, graph_find_value(g, "x"))->layout = LAYOUT_TAPS;
	expect_broken(g, "verify: node '#0' (Reshape): a view's output has layout row-major, its input taps");
	graph_free(g);
}

/* layout_set_const: a weight only GEMMs read takes the layout itself; one
 * that another node reads too keeps row-major for that node and the GEMMs
 * share one twin with the layout (same bytes). */
static void test_layout_set_const(void **state)
{
	(void)state;
	Graph *g = parse_ok("graph \"l\" opset ai.onnx=17\n"
	                    "input  %x : f32[2,2]\n"
	                    "const  %w : f32[2,2] = {1, 2, 3, 4}\n"
	                    "const  %v : f32[2,2] = {5, 6, 7, 8}\n"
	                    "%y : f32[2,2] = MatMul(%x, %w)\n"
	                    "%y2 : f32[2,2] = MatMul(%y, %w)\n"
	                    "%y3 : f32[2,2] = MatMul(%y2, %v)\n"
	                    "%z : f32[2,2] = Add(%y3, %w)\n"
	                    "output %z\n");
	ValueId w = graph_find_value(g, "w"), v = graph_find_value(g, "v");
	assert_int_equal(layout_set_const(g, v, 2, 1, LAYOUT_PANELS), v);
	ValueId t = layout_set_const(g, w, 0, 1, LAYOUT_PANELS);
	assert_true(t != w);
	assert_int_equal(layout_set_const(g, w, 1, 1, LAYOUT_PANELS), t);
	assert_int_equal(gval(g, w)->layout, LAYOUT_ROW_MAJOR);
	assert_int_equal(gval(g, t)->layout, LAYOUT_PANELS);
	assert_ptr_equal(gval(g, t)->data, gval(g, w)->data);
	Diag d;
	diag_init(&d, "layout.ir", false);
	if (!ir_verify(g, &d))
		fail_msg("%s", d.buf);
	diag_free(&d);
	char *s = dump_str(g);
	assert_non_null(strstr(s, "const  %v : f32[2,2]@panels = {5, 6, 7, 8}\n"));
	assert_non_null(strstr(s, "const  %w.panels : f32[2,2]@panels = {1, 2, 3, 4}\n"));
	assert_non_null(strstr(s, "%y : f32[2,2] = MatMul(%x, %w.panels)\n"));
	assert_non_null(strstr(s, "%y2 : f32[2,2] = MatMul(%y, %w.panels)\n"));
	assert_non_null(strstr(s, "%z : f32[2,2] = Add(%y3, %w)\n"));
	free(s);
	graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_hand_graph),
		cmocka_unit_test(test_dump_skips_dead_nodes),
		cmocka_unit_test(test_insert_node),
		cmocka_unit_test(test_set_attr),
		cmocka_unit_test(test_verify_dangling_id),
		cmocka_unit_test(test_verify_two_producers),
		cmocka_unit_test(test_verify_out_of_order),
		cmocka_unit_test(test_verify_cycle),
		cmocka_unit_test(test_verify_missing_shape_after_inference),
		cmocka_unit_test(test_verify_producer_field),
		cmocka_unit_test(test_verify_input_with_producer),
		cmocka_unit_test(test_verify_undefined_output),
		cmocka_unit_test(test_verify_arity),
		cmocka_unit_test(test_verify_never_defined),
		cmocka_unit_test(test_verify_output_flag),
		cmocka_unit_test(test_verify_constant_size),
		cmocka_unit_test(test_verify_layouts),
		cmocka_unit_test(test_layout_set_const),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

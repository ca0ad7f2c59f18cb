/* tests/unit/test_parse.c — ir_parse, the reader of the text dump.
 *
 * Round trips dump -> parse -> dump must be identical: for a text using
 * every attribute kind, dtype spelling and shape form; for every zoo model
 * straight from the frontend (symbolic dims, no shapes yet) and after the
 * pipeline; for every ONNX node-test model after the pipeline.  Parsed data
 * must equal the values written.  Bad input gets a diagnostic naming the
 * line and the rule, never a crash.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "passes/pipeline.h"

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

/* parse(text) must succeed and dump back to exactly `text`. */
static Graph *round_trip(const char *text, unsigned flags)
{
	Diag d;
	diag_init(&d, "rt.ir", false);
	Graph *g = ir_parse(text, "rt.ir", flags, &d);
	if (!g)
		fail_msg("parse failed: %s\ntext:\n%s", d.buf, text);
	char *again = dump_str(g);
	if (strcmp(again, text) != 0)
		fail_msg("round trip differs\n--- in\n%s--- out\n%s", text, again);
	free(again);
	diag_free(&d);
	return g;
}

static const char *ALL_KINDS =
	"graph \"every \\\"kind\\\"\" opset ai.onnx=17, com.microsoft=1\n"
	"input  %x : f32[N,3,?,4]\n"
	"input  %u : ?[?]\n"
	"const  %h : f16[3] = {1, -0.5, 65504}\n"
	"const  %bf : bf16[2] = {1.5, -2}\n"
	"const  %b : bool[2] = {1, 0}\n"
	"const  %big : u64[1] = {18446744073709551615}\n"
	"const  %i8 : i8[2] = {-128, 127}\n"
	"const  %d : f64[] = {0.1}\n"
	"const  %nf : f32[3] = {inf, -inf, 0.25}\n"
	"%t0 : f32[N,3,?,4], _, %m : bool[?] = Op(%x, _, %h, %bf) {f=1.0, fs=[1.0,-2.5,inf], i=-7, "
	"is=[], s=\"a\\\"b\\\\c\\x01\", ss=[\"p\",\"q r\"], t=tensor i64[2] {3, -4}}  # n:1 / odd name\n"
	"com.microsoft::Thing(%t0, %b, %big, %i8, %d, %nf, %u)\n"
	"%y : f32[N,3,?,4] = Relu(%t0)\n"
	"output %y\n"
	"output %m\n";

static void test_round_trip_all_kinds(void **state)
{
	(void)state;
	Graph *g = round_trip(ALL_KINDS, 0);
	assert_int_equal(g->nnodes, 3);
	Node *n = &g->nodes[0];
	assert_int_equal(n->op, OP_UNKNOWN);
	assert_int_equal(n->opset, 17);
	assert_string_equal(n->name, "n:1 / odd name");
	assert_int_equal(node_attr(n, "f")->kind, AK_FLOAT);
	assert_int_equal(node_attr(n, "i")->kind, AK_INT);
	assert_int_equal(node_attr(n, "is")->kind, AK_INTS);
	assert_int_equal(node_attr(n, "fs")->kind, AK_FLOATS);
	assert_int_equal(node_attr(n, "ss")->kind, AK_STRINGS);
	assert_string_equal(node_attr(n, "ss")->strings[1], "q r");
	const Attr *s = node_attr(n, "s");
	assert_int_equal(s->slen, 6);
	assert_memory_equal(s->s, "a\"b\\c\x01", 6);
	assert_int_equal(node_attr(n, "t")->t->dtype, DT_I64);
	assert_int_equal(n->out[1], IR_NONE);
	assert_int_equal(n->in[1], IR_NONE);
	/* the generated name keeps its '%' */
	assert_string_equal(gval(g, n->out[0])->name, "%t0");
	Node *t = &g->nodes[1];
	assert_string_equal(t->domain, "com.microsoft");
	assert_int_equal(t->opset, 1);
	assert_int_equal(t->nout, 0);
	assert_int_equal(g->nodes[2].op, OP_Relu);
	/* data: f16 65504 is 0x7bff, bf16 -2 is 0xc000, u64 max exact */
	ValueId hv = graph_find_value(g, "h"), bv = graph_find_value(g, "bf");
	uint16_t h[3], bf[2];
	memcpy(h, gval(g, hv)->data, 6);
	memcpy(bf, gval(g, bv)->data, 4);
	assert_int_equal(h[0], 0x3c00);
	assert_int_equal(h[1], 0xb800);
	assert_int_equal(h[2], 0x7bff);
	assert_int_equal(bf[1], 0xc000);
	uint64_t big;
	memcpy(&big, gval(g, graph_find_value(g, "big"))->data, 8);
	assert_true(big == UINT64_MAX);
	Value *xv = gval(g, g->inputs[0]);
	assert_string_equal(xv->shape.sym[0], "N");
	assert_int_equal(xv->shape.dims[2], -1);
	assert_int_equal(gval(g, g->inputs[1])->shape.rank, -1);
	assert_false(g->shapes_known);
	Diag d;
	diag_init(&d, "rt.ir", false);
	assert_true(ir_verify(g, &d));
	diag_free(&d);
	graph_free(g);
}

/* A full constant list is data; its dump shows a prefix, and a parse of
 * that prefix repeats it only with IR_PARSE_FILL_ELIDED. */
static void test_full_and_elided_data(void **state)
{
	(void)state;
	const char *full =
		"graph \"t\" opset ai.onnx=13\n"
		"input  %x : f32[8]\n"
		"const  %w : f32[8] = {0, 1, 2, 3, 4, 5, 6, 7}\n"
		"%y : f32[8] = Add(%x, %w)\n"
		"output %y\n";
	Diag d;
	diag_init(&d, "full.ir", false);
	Graph *g = ir_parse(full, "full.ir", 0, &d);
	assert_non_null(g);
	assert_true(g->shapes_known);
	Value *w = gval(g, graph_find_value(g, "w"));
	for (int i = 0; i < 8; i++)
		assert_true(value_get_f64(w, i) == i);
	char *shown = dump_str(g);
	assert_non_null(strstr(shown, "{0, 1, 2, 3, 4, 5, ... (8 elements)}"));
	graph_free(g);
	assert_null(ir_parse(shown, "full.ir", 0, &d));
	assert_true(diag_contains(&d, "full.ir: line 3: w: data elided (6 of 8 elements shown); write all elements"));
	g = round_trip(shown, IR_PARSE_FILL_ELIDED);
	w = gval(g, graph_find_value(g, "w"));
	assert_true(value_get_f64(w, 6) == 0 && value_get_f64(w, 7) == 1);
	graph_free(g);
	free(shown);
	diag_free(&d);
}

/* Each bad text gives one diagnostic with the line and the rule. */
static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"input  %x : f32[2]\n", "line 1: expected 'graph ' at 'input  %x : f32[2]'"},
		{"graph \"t\"\n%y : f32[2] = Relu(%x)\n", "line 2: value 'x' used before it is declared"},
		{"graph \"t\"\ninput  %x : f32[2]\ninput  %x : f32[2]\n", "line 3: value 'x' declared twice"},
		{"graph \"t\"\ninput  %x : q7[2]\n", "line 2: unknown dtype 'q7'"},
		{"graph \"t\"\nconst  %c : f32[2] = {1, 2, 3}\n", "line 2: c: more than 2 elements"},
		{"graph \"t\"\nconst  %c : f32[3] = {1, 2}\n", "line 2: c: 2 elements given, shape has 3"},
		{"graph \"t\"\nconst  %c : f32[2] = {1, x}\n", "line 2: bad number 'x'"},
		{"graph \"t\"\nconst  %c : i64[1] = {1.5}\n", "line 2: bad integer '1.5'"},
		{"graph \"t\"\nconst  %c : f32[?] = {1}\n", "line 2: c: data needs a static shape"},
		{"graph \"t\"\ninput  %x : f32[2]\nIf(%x) {then_branch=graph \"g\"}\n",
		 "line 3: attribute 'then_branch': subgraphs cannot be read back from a dump"},
		{"graph \"t\"\ninput  %x : f32[2]\nRelu(%x) {a=?}\n", "line 3: attribute 'a': unreadable value '?'"},
		{"graph \"t\"\ninput  %x : f32[2]\noutput %x\ninput  %z : f32[2]\n",
		 "line 4: only 'output' lines may follow the first 'output' line"},
		{"graph \"t\"\ninput  %x : f32[2]\n%y : f32[2] = Relu(%x) trailing\n", "line 3: unexpected text ' trailing'"},
		{"graph \"t\"\ninput  %x : f32[1,1,1,1,1,1,1,1,1]\n", "line 2: rank above 8"},
		{"; only a comment\n", "no 'graph' line"},
		{"graph \"t\"\nconst  %c : f32[1,2]@blocked = {1, 2}\n", "line 2: unknown layout 'blocked'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		Diag d;
		diag_init(&d, "bad.ir", false);
		Graph *g = ir_parse(cases[i].text, "bad.ir", 0, &d);
		if (g)
			fail_msg("case %zu parsed", i);
		assert_int_equal(d.nerrors, 1);
		if (!diag_contains(&d, cases[i].msg))
			fail_msg("case %zu: want '%s', got '%s'", i, cases[i].msg, d.buf);
		diag_free(&d);
	}
}

/* Every prefix of a valid text, and the text with each byte replaced by
 * a few troublesome ones, parses or gives a diagnostic: never a crash
 * (run under ASan/UBSan in CI). */
static void test_mangled_inputs(void **state)
{
	(void)state;
	size_t n = strlen(ALL_KINDS);
	char *buf = malloc(n + 1);
	static const char subst[] = {'\0', '\n', '%', '"', ',', '[', ']', '{', '}', '(', ')', ' ', '9', '\\'};
	int parsed = 0, rejected = 0;
	for (size_t len = 0; len <= n; len++) {
		for (size_t k = 0; k <= sizeof subst; k++) {
			memcpy(buf, ALL_KINDS, n + 1);
			if (k == sizeof subst)
				buf[len] = 0; /* the prefix */
			else if (len < n)
				buf[len] = subst[k];
			else
				continue;
			Diag d;
			diag_init(&d, "m.ir", false);
			Graph *g = ir_parse(buf, "m.ir", 0, &d);
			if (g) {
				parsed++;
				assert_int_equal(d.nerrors, 0);
			} else {
				rejected++;
				assert_int_equal(d.nerrors, 1);
			}
			graph_free(g);
			diag_free(&d);
		}
	}
	free(buf);
	assert_true(parsed > 0 && rejected > 0);
}

/* Loads path, optionally runs the pipeline, and round-trips its dump.
 * Returns false when the model is not processed (load/pipeline diagnostic
 * or a subgraph attribute, which the dump cannot carry). */
static bool model_round_trip(const char *path, bool pipeline)
{
	Diag d;
	diag_init(&d, path, false);
	Graph *g = onnx_load(path, &d);
	bool ok = g != NULL;
	if (ok && pipeline) {
		PipelineOptions o = {0};
		ok = pass_pipeline(g, &o, &d);
	}
	char *text = ok ? dump_str(g) : NULL;
	if (text && strstr(text, "=graph \"")) {
		ok = false;
	} else if (text) {
		Graph *p = round_trip(text, IR_PARSE_FILL_ELIDED);
		assert_int_equal(p->nnodes, g->nnodes);
		graph_free(p);
	}
	free(text);
	graph_free(g);
	diag_free(&d);
	return ok;
}

static void test_zoo_round_trip(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/models", ONNXCC_SOURCE_DIR);
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dp)) != NULL) {
		char p[4400];
		snprintf(p, sizeof p, "%s/%s/model.onnx", dir, e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(p, "rb") : NULL;
		if (!f)
			continue;
		fclose(f);
		assert_true(model_round_trip(p, false));
		assert_true(model_round_trip(p, true));
		n++;
	}
	closedir(dp);
	assert_true(n >= 10);
}

static void test_node_tests_round_trip(void **state)
{
	(void)state;
	DIR *dp = opendir(ONNXCC_NODE_TESTS);
	if (!dp)
		skip();
	struct dirent *e;
	int total = 0, done = 0;
	while ((e = readdir(dp)) != NULL) {
		char p[4400];
		snprintf(p, sizeof p, "%s/%s/model.onnx", ONNXCC_NODE_TESTS, e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(p, "rb") : NULL;
		if (!f)
			continue;
		fclose(f);
		total++;
		done += model_round_trip(p, true);
	}
	closedir(dp);
	fprintf(stderr, "node tests: %d models, %d round-tripped after the pipeline\n", total, done);
	assert_true(done > total / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all_kinds),
		cmocka_unit_test(test_full_and_elided_data),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_mangled_inputs),
		cmocka_unit_test(test_zoo_round_trip),
		cmocka_unit_test(test_node_tests_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

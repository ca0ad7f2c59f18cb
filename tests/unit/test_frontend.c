/* tests/unit/test_frontend.c — the ONNX frontend (frontend/onnx.c).
 *
 * Three groups:
 *   - real node tests: structure, attributes, shapes, Constant folding and
 *     the .pb tensor files, checked against what those files contain;
 *   - models built here with the protobuf-c structs (the node tests carry
 *     no initializers): tensor encodings, external data, sorting, hints,
 *     and one test per rule the frontend diagnoses, each checking the text;
 *   - robustness: every node-test model loads or is diagnosed, and every
 *     truncation / byte-flip of a small model is handled without a crash.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx.h"
#include "frontend/onnx_priv.h"
#include "frontend/onnx_schema.h"

/* ---- model builder ------------------------------------------------------ */

enum { CAP = 16 };
static Arena B;   /* everything the builder allocates; freed per test */

static char **split(const char *list, size_t *n)
{
	*n = 0;
	char **v = arena_alloc(&B, sizeof(char *) * CAP);
	if (!list)
		return v;
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		assert_true(*n < CAP);
		v[(*n)++] = arena_strndup(&B, p, len);
		if (!e)
			break;
		p = e + 1;
	}
	return v;
}

static Onnx__ModelProto *mk_model(int opset)
{
	Onnx__ModelProto *m = arena_alloc(&B, sizeof *m);
	onnx__model_proto__init(m);
	m->has_ir_version = 1;
	m->ir_version = 8;
	m->opset_import = arena_alloc(&B, sizeof(void *) * CAP);
	Onnx__OperatorSetIdProto *os = arena_alloc(&B, sizeof *os);
	onnx__operator_set_id_proto__init(os);
	os->domain = "";
	os->has_version = 1;
	os->version = opset;
	m->opset_import[m->n_opset_import++] = os;
	Onnx__GraphProto *g = arena_alloc(&B, sizeof *g);
	onnx__graph_proto__init(g);
	g->name = "t";
	g->node = arena_alloc(&B, sizeof(void *) * CAP);
	g->initializer = arena_alloc(&B, sizeof(void *) * CAP);
	g->input = arena_alloc(&B, sizeof(void *) * CAP);
	g->output = arena_alloc(&B, sizeof(void *) * CAP);
	g->value_info = arena_alloc(&B, sizeof(void *) * CAP);
	m->graph = g;
	return m;
}

/* ins/outs: comma-separated names ("" items are omitted optionals); NULL
 * for none. */
static Onnx__NodeProto *add_node(Onnx__GraphProto *g, const char *op, const char *name,
                                 const char *ins, const char *outs)
{
	Onnx__NodeProto *n = arena_alloc(&B, sizeof *n);
	onnx__node_proto__init(n);
	n->op_type = (char *)op;
	n->name = (char *)name;
	n->input = split(ins, &n->n_input);
	n->output = split(outs, &n->n_output);
	n->attribute = arena_alloc(&B, sizeof(void *) * CAP);
	assert_true(g->n_node < CAP);
	g->node[g->n_node++] = n;
	return n;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name, int type)
{
	Onnx__AttributeProto *a = arena_alloc(&B, sizeof *a);
	onnx__attribute_proto__init(a);
	a->name = (char *)name;
	a->has_type = 1;
	a->type = (Onnx__AttributeProto__AttributeType)type;
	a->has_f = type == AK_FLOAT;
	a->has_i = type == AK_INT;
	a->has_s = type == AK_STRING;
	n->attribute[n->n_attribute++] = a;
	return a;
}

/* A tensor type; dims < 0 become an unknown dimension, and sym[i] (if
 * given and non-NULL) a symbolic one. */
static Onnx__TypeProto *mk_type(int elem, int rank, const int64_t *dims, const char *const *sym)
{
	Onnx__TypeProto *tp = arena_alloc(&B, sizeof *tp);
	onnx__type_proto__init(tp);
	Onnx__TypeProto__Tensor *tt = arena_alloc(&B, sizeof *tt);
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = elem;
	if (rank >= 0) {
		Onnx__TensorShapeProto *sh = arena_alloc(&B, sizeof *sh);
		onnx__tensor_shape_proto__init(sh);
		sh->n_dim = (size_t)rank;
		sh->dim = arena_alloc(&B, sizeof(void *) * (size_t)(rank + 1));
		for (int i = 0; i < rank; i++) {
			Onnx__TensorShapeProto__Dimension *dm = arena_alloc(&B, sizeof *dm);
			onnx__tensor_shape_proto__dimension__init(dm);
			if (sym && sym[i]) {
				dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
				dm->dim_param = (char *)sym[i];
			} else if (dims[i] >= 0 || dims[i] < -1) {
				dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
				dm->dim_value = dims[i];
			}
			sh->dim[i] = dm;
		}
		tt->shape = sh;
	}
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	return tp;
}

static Onnx__ValueInfoProto *mk_vi(const char *name, Onnx__TypeProto *type)
{
	Onnx__ValueInfoProto *vi = arena_alloc(&B, sizeof *vi);
	onnx__value_info_proto__init(vi);
	vi->name = (char *)name;
	vi->type = type;
	return vi;
}

static void add_input(Onnx__GraphProto *g, const char *name, int elem, int rank, const int64_t *dims)
{
	g->input[g->n_input++] = mk_vi(name, mk_type(elem, rank, dims, NULL));
}

static void add_output(Onnx__GraphProto *g, const char *name)
{
	g->output[g->n_output++] = mk_vi(name, NULL);
}

/* A tensor with raw_data (raw != NULL) or no data (fill a typed field). */
static Onnx__TensorProto *mk_tensor(const char *name, int dt, int rank, const int64_t *dims,
                                    const void *raw, size_t rawlen)
{
	Onnx__TensorProto *t = arena_alloc(&B, sizeof *t);
	onnx__tensor_proto__init(t);
	t->name = (char *)name;
	t->has_data_type = 1;
	t->data_type = dt;
	t->n_dims = (size_t)rank;
	t->dims = arena_dup(&B, dims, sizeof(int64_t) * (size_t)rank);
	if (raw) {
		t->has_raw_data = 1;
		t->raw_data.len = rawlen;
		t->raw_data.data = arena_dup(&B, raw, rawlen);
	}
	return t;
}

static Onnx__TensorProto *add_init(Onnx__GraphProto *g, Onnx__TensorProto *t)
{
	g->initializer[g->n_initializer++] = t;
	return t;
}

static void set_external(Onnx__TensorProto *t, const char *loc, const char *off, const char *len)
{
	t->has_data_location = 1;
	t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	t->external_data = arena_alloc(&B, sizeof(void *) * 3);
	const char *keys[3] = {"location", "offset", "length"}, *vals[3] = {loc, off, len};
	for (int i = 0; i < 3; i++) {
		if (!vals[i])
			continue;
		Onnx__StringStringEntryProto *e = arena_alloc(&B, sizeof *e);
		onnx__string_string_entry_proto__init(e);
		e->key = (char *)keys[i];
		e->value = (char *)vals[i];
		t->external_data[t->n_external_data++] = e;
	}
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *len)
{
	*len = onnx__model_proto__get_packed_size(m);
	uint8_t *buf = arena_alloc(&B, *len + 1);
	assert_int_equal(onnx__model_proto__pack(m, buf), *len);
	return buf;
}

static Graph *load_model(const Onnx__ModelProto *m, Diag *d)
{
	size_t len;
	uint8_t *buf = pack(m, &len);
	diag_init(d, "", false);
	return onnx_load_from_memory(buf, len, "mem.onnx", d);
}

/* Loads m, expects failure with a message containing needle. */
static void expect_error(const Onnx__ModelProto *m, const char *needle)
{
	Diag d;
	Graph *g = load_model(m, &d);
	if (g || !diag_contains(&d, needle))
		fprintf(stderr, "expected \"%s\", got:\n%s", needle, d.buf ? d.buf : "(no diagnostics)\n");
	assert_null(g);
	assert_true(diag_contains(&d, needle));
	assert_true(diag_contains(&d, "mem.onnx: "));
	diag_free(&d);
}

static int teardown(void **state)
{
	arena_free(&B);
	return 0;
}

static Graph *load_node_test(const char *name, Diag *d)
{
	diag_init(d, "", false);
	Graph *g = onnx_load(tu_node_test(name), d);
	if (!g)
		fprintf(stderr, "%s", d->buf ? d->buf : "");
	assert_non_null(g);
	assert_int_equal(d->nerrors, 0);
	assert_true(ir_verify(g, d));
	return g;
}

static const char *data_file(const char *test, const char *file)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s/test_data_set_0/%s", ONNXCC_NODE_TESTS, test, file);
	return buf;
}

/* ---- real node tests --------------------------------------------------- */

static void test_node_add(void **state)
{
	Diag d;
	Graph *g = load_node_test("test_add", &d);
	assert_int_equal(g->nnodes, 1);
	Node *n = &g->nodes[0];
	assert_int_equal(n->op, OP_Add);
	assert_string_equal(n->op_type, "Add");
	assert_string_equal(n->domain, "");
	assert_int_equal(n->opset, 14);
	assert_int_equal(graph_opset(g, ""), 14);
	assert_int_equal(g->ninputs, 2);
	assert_int_equal(n->nin, 2);
	assert_int_equal(n->in[0], g->inputs[0]);
	assert_int_equal(n->in[1], g->inputs[1]);
	for (int i = 0; i < 2; i++) {
		Value *v = gval(g, g->inputs[i]);
		assert_int_equal(v->kind, VK_INPUT);
		assert_int_equal(v->dtype, DT_F32);
		int64_t dims[3] = {3, 4, 5};
		Shape s = shape_make(3, dims);
		assert_true(shape_eq(&v->shape, &s));
	}
	assert_string_equal(gval(g, g->inputs[0])->name, "x");
	assert_int_equal(g->noutputs, 1);
	assert_int_equal(g->outputs[0], n->out[0]);
	assert_true(gval(g, n->out[0])->is_output);
	assert_int_equal(gval(g, n->out[0])->producer, 0);
	graph_free(g);
	diag_free(&d);
}

static void test_node_conv_attrs(void **state)
{
	Diag d;
	Graph *g = load_node_test("test_conv_with_strides_padding", &d);
	assert_int_equal(g->nnodes, 1);
	const Node *n = &g->nodes[0];
	assert_int_equal(n->op, OP_Conv);
	assert_int_equal(n->opset, 11);
	const int64_t *v;
	assert_int_equal(attr_ints(n, "kernel_shape", &v), 2);
	assert_int_equal(v[0], 3);
	assert_int_equal(v[1], 3);
	assert_int_equal(attr_ints(n, "pads", &v), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i], 1);
	assert_int_equal(attr_ints(n, "strides", &v), 2);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1], 2);
	const Value *x = gval(g, n->in[0]);
	int64_t xd[4] = {1, 1, 7, 5};
	Shape xs = shape_make(4, xd);
	assert_true(shape_eq(&x->shape, &xs));
	graph_free(g);
	diag_free(&d);
}

static void test_node_lstm_omitted_output(void **state)
{
	Diag d;
	Graph *g = load_node_test("test_lstm_defaults", &d);
	assert_int_equal(g->nnodes, 1);
	const Node *n = &g->nodes[0];
	assert_int_equal(n->op, OP_LSTM);
	assert_int_equal(n->opset, 14);
	assert_int_equal(n->nin, 3);
	assert_int_equal(n->nout, 2);
	assert_int_equal(n->out[0], IR_NONE);     /* Y omitted: "" */
	assert_string_equal(gval(g, n->out[1])->name, "Y_h");
	assert_int_equal(attr_int(n, "hidden_size", -1), 3);
	graph_free(g);
	diag_free(&d);
}

static void test_node_constant_folded(void **state)
{
	Diag d;
	Graph *g = load_node_test("test_constant", &d);
	assert_int_equal(g->nnodes, 0);       /* the Constant became a value */
	assert_int_equal(g->noutputs, 1);
	const Value *v = gval(g, g->outputs[0]);
	assert_int_equal(v->kind, VK_CONST);
	assert_int_equal(v->producer, IR_NONE);
	/* Its data must be exactly what the test expects as output. */
	Arena a = {0};
	Tensor t;
	const char *name;
	assert_true(onnx_load_tensor_file(data_file("test_constant", "output_0.pb"), &a, &t, &name, &d));
	assert_int_equal(v->dtype, t.dtype);
	assert_true(shape_eq(&v->shape, &t.shape));
	assert_int_equal(v->nbytes, t.nbytes);
	assert_true(v->nbytes > 0);
	assert_memory_equal(v->data, t.data, t.nbytes);
	arena_free(&a);
	graph_free(g);
	diag_free(&d);
}

static void test_node_reshape_all(void **state)
{
	DIR *dir = opendir(ONNXCC_NODE_TESTS);
	assert_non_null(dir);
	struct dirent *e;
	int seen = 0;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, "test_reshape_", 13) != 0)
			continue;
		Diag d;
		Graph *g = load_node_test(e->d_name, &d);
		assert_int_equal(g->nnodes, 1);
		const Node *n = &g->nodes[0];
		assert_int_equal(n->op, OP_Reshape);
		assert_int_equal(n->nin, 2);
		const Value *shape = gval(g, n->in[1]);
		assert_int_equal(shape->dtype, DT_I64);
		assert_int_equal(shape->shape.rank, 1);
		/* The shape input's length is the output's rank. */
		Arena a = {0};
		Tensor t;
		assert_true(onnx_load_tensor_file(data_file(e->d_name, "output_0.pb"), &a, &t, NULL, &d));
		assert_int_equal(shape->shape.dims[0], t.shape.rank);
		arena_free(&a);
		graph_free(g);
		diag_free(&d);
		seen++;
	}
	closedir(dir);
	assert_true(seen >= 5);
}

static void test_node_loop_subgraph(void **state)
{
	Diag d;
	Graph *g = load_node_test("test_loop11", &d);
	assert_int_equal(g->nnodes, 1);
	const Node *n = &g->nodes[0];
	assert_string_equal(n->op_type, "Loop");
	assert_int_equal(n->op, op_lookup("", "Loop"));
	const Attr *body = node_attr(n, "body");
	assert_non_null(body);
	assert_int_equal(body->kind, AK_GRAPH);
	Graph *b = body->g;
	assert_int_equal(b->ninputs, 3);
	assert_int_equal(b->noutputs, 3);
	/* 9 nodes, two of them Constants folded into values. */
	assert_int_equal(b->nnodes, 7);
	assert_int_equal(graph_opset(b, ""), 11);
	ValueId x = graph_find_value(b, "x");
	assert_true(x != IR_NONE);
	assert_int_equal(gval(b, x)->kind, VK_CONST);
	assert_true(ir_verify(b, &d));
	graph_free(g);
	diag_free(&d);
}

static void test_tensor_files(void **state)
{
	Arena a = {0};
	Diag d;
	diag_init(&d, "", false);
	Tensor in0, out0;
	const char *name;
	assert_true(onnx_load_tensor_file(data_file("test_add", "input_0.pb"), &a, &in0, &name, &d));
	assert_string_equal(name, "x");
	assert_int_equal(in0.dtype, DT_F32);
	int64_t dims[3] = {3, 4, 5};
	Shape s = shape_make(3, dims);
	assert_true(shape_eq(&in0.shape, &s));
	assert_int_equal(in0.nbytes, 60 * 4);
	assert_true(onnx_load_tensor_file(data_file("test_add", "output_0.pb"), &a, &out0, NULL, &d));
	assert_true(shape_eq(&out0.shape, &s));
	/* An integer test: test_add_uint8. */
	Tensor u;
	assert_true(onnx_load_tensor_file(data_file("test_add_uint8", "input_0.pb"), &a, &u, NULL, &d));
	assert_int_equal(u.dtype, DT_U8);
	assert_int_equal(u.nbytes, (size_t)shape_numel(&u.shape));
	assert_int_equal(d.nerrors, 0);

	/* Missing file and garbage. */
	assert_false(onnx_load_tensor_file("/nonexistent/x.pb", &a, &u, NULL, &d));
	assert_true(diag_contains(&d, "/nonexistent/x.pb: cannot open: No such file or directory"));
	const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	assert_false(onnx_tensor_from_memory(junk, sizeof junk, "junk.pb", &a, &u, NULL, &d));
	assert_true(diag_contains(&d, "junk.pb: not a valid ONNX tensor (protobuf parse failed)"));
	arena_free(&a);
	diag_free(&d);
}

/* ir_verify on g and, recursively, on the graphs of its GRAPH attributes;
 * returns the number of subgraphs seen. */
static int verify_all(Graph *g, Diag *d)
{
	int subs = 0;
	assert_true(ir_verify(g, d));
	for (int i = 0; i < g->nnodes; i++)
		for (int k = 0; k < g->nodes[i].nattr; k++)
			if (g->nodes[i].attrs[k].kind == AK_GRAPH) {
				assert_non_null(g->nodes[i].attrs[k].g);
				subs += 1 + verify_all(g->nodes[i].attrs[k].g, d);
			}
	return subs;
}

/* Every model.onnx of the node tests: a verified Graph, or diagnostics. */
static void test_every_node_test_model(void **state)
{
	DIR *dir = opendir(ONNXCC_NODE_TESTS);
	assert_non_null(dir);
	struct dirent *e;
	int loaded = 0, refused = 0, subgraphs = 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s/model.onnx", ONNXCC_NODE_TESTS, e->d_name);
		Diag d;
		diag_init(&d, "", false);
		Graph *g = onnx_load(path, &d);
		if (g) {
			subgraphs += verify_all(g, &d);
			if (d.nerrors)
				fprintf(stderr, "%s: %s", e->d_name, d.buf);
			assert_int_equal(d.nerrors, 0);
			assert_true(g->nnodes > 0 || g->noutputs > 0);
			loaded++;
			graph_free(g);
		} else {
			assert_true(d.nerrors > 0);
			assert_true(diag_contains(&d, path));
			refused++;
		}
		diag_free(&d);
	}
	closedir(dir);
	fprintf(stderr, "node-test models: %d loaded (%d subgraphs), %d diagnosed\n", loaded,
	        subgraphs, refused);
	assert_true(loaded > 800);
	assert_true(subgraphs > 0);
}

/* ---- built models: what loads ----------------------------------------------- */

static void test_initializer_raw_no_copy(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	float w[6] = {1, 2, 3, 4, 5, 6};
	int64_t wd[2] = {2, 3}, xd[2] = {2, 3};
	add_init(g, mk_tensor("W", DT_F32, 2, wd, w, sizeof w));
	add_input(g, "X", DT_F32, 2, xd);
	add_input(g, "W", DT_F32, 2, wd);      /* old-exporter style: also an input */
	add_node(g, "Add", "add", "X,W", "Y");
	add_output(g, "Y");
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	assert_int_equal(G->ninputs, 1);       /* W is a constant, not an input */
	assert_string_equal(gval(G, G->inputs[0])->name, "X");
	ValueId wv = graph_find_value(G, "W");
	const Value *v = gval(G, wv);
	assert_int_equal(v->kind, VK_CONST);
	assert_int_equal(v->nbytes, sizeof w);
	assert_memory_equal(v->data, w, sizeof w);
	/* No copy: the value points at the unpacked message's raw_data. */
	const OnnxOwner *o = G->owner;
	assert_non_null(o);
	assert_ptr_equal(G->owner_free, onnx_owner_free);
	assert_ptr_equal(v->data, o->model->graph->initializer[0]->raw_data.data);
	assert_true(ir_verify(G, &d));
	graph_free(G);
	diag_free(&d);
}

static void test_initializer_typed_fields(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	int64_t d3[1] = {3};
	int32_t i32[3] = {-1, 200, 7};
	int32_t f16[3] = {0x3c00, 0xc000, 0x7bff};  /* 1, -2, 65504 */
	int64_t i64[3] = {-5, 1LL << 40, 9};
	double f64[3] = {0.5, -1.25, 3};
	uint64_t u64[3] = {1, 0xffffffffu, 5};
	float f32[3] = {1.5f, -2, 0};
	struct { const char *name; int dt; } t[] = {
		{"i8", DT_I8}, {"u8", DT_U8}, {"u16", DT_U16}, {"b", DT_BOOL}, {"h", DT_F16},
		{"l", DT_I64}, {"f64", DT_F64}, {"u32", DT_U32}, {"f32", DT_F32}, {"i32", DT_I32},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		Onnx__TensorProto *tp = add_init(g, mk_tensor(t[i].name, t[i].dt, 1, d3, NULL, 0));
		switch (t[i].dt) {
		case DT_F16: tp->n_int32_data = 3; tp->int32_data = f16; break;
		case DT_I64: tp->n_int64_data = 3; tp->int64_data = i64; break;
		case DT_F64: tp->n_double_data = 3; tp->double_data = f64; break;
		case DT_U32: tp->n_uint64_data = 3; tp->uint64_data = u64; break;
		case DT_F32: tp->n_float_data = 3; tp->float_data = f32; break;
		default: tp->n_int32_data = 3; tp->int32_data = i32; break;
		}
		add_output(g, t[i].name);
	}
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	const Value *v;
	v = gval(G, graph_find_value(G, "i8"));
	assert_int_equal(v->nbytes, 3);
	assert_int_equal(value_get_int(v, 0), -1);
	assert_int_equal(value_get_int(v, 1), (int8_t)200);
	v = gval(G, graph_find_value(G, "u8"));
	assert_int_equal(value_get_int(v, 0), 255);
	assert_int_equal(value_get_int(v, 1), 200);
	v = gval(G, graph_find_value(G, "u16"));
	assert_int_equal(v->nbytes, 6);
	assert_int_equal(value_get_int(v, 0), 65535);
	v = gval(G, graph_find_value(G, "b"));
	assert_int_equal(value_get_int(v, 0), 1);
	assert_int_equal(value_get_int(v, 2), 1);
	v = gval(G, graph_find_value(G, "h"));
	assert_true(value_get_f64(v, 0) == 1.0);
	assert_true(value_get_f64(v, 1) == -2.0);
	assert_true(value_get_f64(v, 2) == 65504.0);
	v = gval(G, graph_find_value(G, "l"));
	assert_int_equal(value_get_int(v, 1), 1LL << 40);
	v = gval(G, graph_find_value(G, "f64"));
	assert_true(value_get_f64(v, 1) == -1.25);
	v = gval(G, graph_find_value(G, "u32"));
	assert_int_equal(v->nbytes, 12);
	assert_int_equal(value_get_int(v, 1), 0xffffffffLL);
	v = gval(G, graph_find_value(G, "f32"));
	assert_true(value_get_f64(v, 0) == 1.5);
	v = gval(G, graph_find_value(G, "i32"));
	assert_int_equal(value_get_int(v, 1), 200);
	graph_free(G);
	diag_free(&d);
}

static void test_inputs_symbolic_dims(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	int64_t dims[3] = {0, -1, 8};
	const char *sym[3] = {"batch", NULL, NULL};
	g->input[g->n_input++] = mk_vi("X", mk_type(DT_F32, 3, dims, sym));
	add_node(g, "Relu", "r", "X", "Y");
	add_output(g, "Y");
	/* value_info gives Y's type as a hint. */
	g->value_info[g->n_value_info++] = mk_vi("Y", mk_type(DT_F32, 3, dims, sym));
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	const Value *x = gval(G, G->inputs[0]);
	assert_int_equal(x->shape.rank, 3);
	assert_int_equal(x->shape.dims[0], -1);
	assert_string_equal(x->shape.sym[0], "batch");
	assert_int_equal(x->shape.dims[1], -1);
	assert_null(x->shape.sym[1]);
	assert_int_equal(x->shape.dims[2], 8);
	const Value *y = gval(G, G->outputs[0]);
	assert_int_equal(y->dtype, DT_F32);
	assert_int_equal(y->shape.rank, 3);
	assert_string_equal(y->shape.sym[0], "batch");
	graph_free(G);
	diag_free(&d);
}

static void test_unsorted_nodes_sorted(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	int64_t d1[1] = {4};
	add_input(g, "X", DT_F32, 1, d1);
	add_node(g, "Add", "c", "A,B", "C");
	add_node(g, "Neg", "b", "A", "B");
	add_node(g, "Relu", "a", "X", "A");
	add_node(g, "Dropout", "e", "C,,", "D,");   /* omitted optionals */
	add_output(g, "D");
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	assert_int_equal(G->nnodes, 4);
	assert_string_equal(G->nodes[0].name, "a");
	assert_string_equal(G->nodes[1].name, "b");
	assert_string_equal(G->nodes[2].name, "c");
	assert_string_equal(G->nodes[3].name, "e");
	assert_int_equal(G->nodes[3].nin, 3);
	assert_int_equal(G->nodes[3].in[1], IR_NONE);
	assert_int_equal(G->nodes[3].in[2], IR_NONE);
	assert_int_equal(G->nodes[3].out[1], IR_NONE);
	assert_true(ir_verify(G, &d));
	graph_free(G);
	diag_free(&d);
}

/* A value used only inside a subgraph still orders its producer first. */
static void test_subgraph_outer_use_sorted(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	int64_t d1[1] = {2};
	add_input(g, "X", DT_F32, 1, d1);
	Onnx__GraphProto *sub = mk_model(17)->graph;
	Onnx__GraphProto *inner = mk_model(17)->graph;
	add_node(inner, "Neg", "deep", "Late", "o2");  /* two levels down */
	add_output(inner, "o2");
	Onnx__NodeProto *mid = add_node(sub, "Wrap", "mid", NULL, "o1");
	mid->domain = "com.example";
	add_attr(mid, "g", AK_GRAPH)->g = inner;
	add_output(sub, "o1");
	Onnx__NodeProto *user = add_node(g, "Wrap", "user", NULL, "Y");
	user->domain = "com.example";
	add_attr(user, "body", AK_GRAPH)->g = sub;
	add_node(g, "Relu", "late", "X", "Late");
	add_output(g, "Y");
	Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
	os.domain = "com.example";
	os.has_version = 1;
	os.version = 1;
	m->opset_import[m->n_opset_import++] = &os;
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	assert_int_equal(G->nnodes, 2);
	assert_string_equal(G->nodes[0].name, "late");
	assert_string_equal(G->nodes[1].name, "user");
	graph_free(G);
	diag_free(&d);
}

static void test_constant_variants_and_attrs(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	Onnx__NodeProto *c1 = add_node(g, "Constant", "c1", NULL, "F");
	add_attr(c1, "value_float", AK_FLOAT)->f = 2.5f;
	Onnx__NodeProto *c2 = add_node(g, "Constant", "c2", NULL, "I");
	Onnx__AttributeProto *ai = add_attr(c2, "value_ints", AK_INTS);
	int64_t iv[3] = {4, -1, 7};
	ai->n_ints = 3;
	ai->ints = iv;
	Onnx__NodeProto *c3 = add_node(g, "Constant", "c3", NULL, "E");
	add_attr(c3, "value_floats", AK_FLOATS);  /* empty list */
	add_output(g, "E");
	/* A custom op carrying one attribute of every supported kind. */
	Onnx__NodeProto *n = add_node(g, "MyOp", "my", "F,I", "Z");
	n->domain = "com.example";
	Onnx__OperatorSetIdProto *os = arena_alloc(&B, sizeof *os);
	onnx__operator_set_id_proto__init(os);
	os->domain = "com.example";
	os->has_version = 1;
	os->version = 3;
	m->opset_import[m->n_opset_import++] = os;
	add_attr(n, "f", AK_FLOAT)->f = 0.25f;
	add_attr(n, "i", AK_INT)->i = -3;
	Onnx__AttributeProto *as = add_attr(n, "s", AK_STRING);
	as->s.data = (uint8_t *)"hello";
	as->s.len = 5;
	float fl[2] = {1, 2};
	Onnx__AttributeProto *af = add_attr(n, "fs", AK_FLOATS);
	af->n_floats = 2;
	af->floats = fl;
	Onnx__AttributeProto *ass = add_attr(n, "ss", AK_STRINGS);
	ProtobufCBinaryData strs[2] = {{1, (uint8_t *)"a"}, {2, (uint8_t *)"bc"}};
	ass->n_strings = 2;
	ass->strings = strs;
	int64_t td[1] = {2};
	int32_t tv[2] = {10, 20};
	Onnx__TensorProto *tt = mk_tensor("", DT_I32, 1, td, tv, sizeof tv);
	add_attr(n, "t", AK_TENSOR)->t = tt;
	Onnx__GraphProto *sub = mk_model(17)->graph;
	add_node(sub, "Identity", "inner", "F", "out");   /* F: from the outer scope */
	add_output(sub, "out");
	add_attr(n, "g", AK_GRAPH)->g = sub;
	add_output(g, "Z");

	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	assert_int_equal(G->nnodes, 1);
	const Value *F = gval(G, graph_find_value(G, "F"));
	assert_int_equal(F->kind, VK_CONST);
	assert_int_equal(F->dtype, DT_F32);
	assert_int_equal(F->shape.rank, 0);
	assert_true(value_get_f64(F, 0) == 2.5);
	const Value *I = gval(G, graph_find_value(G, "I"));
	assert_int_equal(I->dtype, DT_I64);
	assert_int_equal(I->shape.rank, 1);
	assert_int_equal(I->shape.dims[0], 3);
	assert_int_equal(value_get_int(I, 1), -1);
	const Value *E = gval(G, graph_find_value(G, "E"));
	assert_int_equal(E->kind, VK_CONST);
	assert_int_equal(E->shape.rank, 1);
	assert_int_equal(E->shape.dims[0], 0);
	assert_int_equal(E->nbytes, 0);
	assert_non_null(E->data);
	const Node *N = &G->nodes[0];
	assert_int_equal(N->op, OP_UNKNOWN);
	assert_string_equal(N->op_type, "MyOp");
	assert_string_equal(N->domain, "com.example");
	assert_int_equal(N->opset, 3);
	assert_true(attr_float(N, "f", 0) == 0.25f);
	assert_int_equal(attr_int(N, "i", 0), -3);
	assert_string_equal(attr_string(N, "s", ""), "hello");
	assert_int_equal(node_attr(N, "s")->slen, 5);
	const float *fp;
	assert_int_equal(attr_floats(N, "fs", &fp), 2);
	assert_true(fp[1] == 2.0f);
	const Attr *ss = node_attr(N, "ss");
	assert_int_equal(ss->n, 2);
	assert_string_equal(ss->strings[1], "bc");
	const Attr *at = node_attr(N, "t");
	assert_int_equal(at->kind, AK_TENSOR);
	assert_int_equal(at->t->dtype, DT_I32);
	assert_int_equal(at->t->nbytes, 8);
	assert_memory_equal(at->t->data, tv, 8);
	const Attr *ag = node_attr(N, "g");
	assert_int_equal(ag->kind, AK_GRAPH);
	assert_int_equal(ag->g->nnodes, 1);
	ValueId cap = graph_find_value(ag->g, "F");
	assert_true(cap != IR_NONE);
	assert_int_equal(gval(ag->g, cap)->kind, VK_INPUT);   /* outer-scope capture */
	assert_int_equal(ag->g->ninputs, 0);
	graph_free(G);
	diag_free(&d);
}

static void test_external_data(void **state)
{
	char *dir = tu_tmpdir();
	char p[4200];
	float w[4] = {1, 2, 3, 4};
	unsigned char file[32] = {0};
	memcpy(file + 16, w, sizeof w);
	snprintf(p, sizeof p, "%s/weights.bin", dir);
	tu_write_file(p, file, sizeof file);

	Onnx__ModelProto *m = mk_model(17);
	Onnx__GraphProto *g = m->graph;
	int64_t d4[1] = {4};
	set_external(add_init(g, mk_tensor("W", DT_F32, 1, d4, NULL, 0)), "weights.bin", "16", "16");
	set_external(add_init(g, mk_tensor("W2", DT_F32, 1, d4, NULL, 0)), "weights.bin", "16", NULL);
	/* Misaligned for f32 (offset 18): copied into the arena instead. */
	int64_t d2[1] = {2};
	set_external(add_init(g, mk_tensor("W3", DT_F32, 1, d2, NULL, 0)), "weights.bin", "18", "8");
	add_node(g, "Add", "add", "W,W2", "Y");
	add_output(g, "Y");
	add_output(g, "W3");
	size_t len;
	uint8_t *buf = pack(m, &len);
	snprintf(p, sizeof p, "%s/model.onnx", dir);
	tu_write_file(p, buf, len);
	Diag d;
	diag_init(&d, "", false);
	Graph *G = onnx_load(p, &d);
	assert_non_null(G);
	const Value *v = gval(G, graph_find_value(G, "W"));
	assert_int_equal(v->nbytes, 16);
	assert_memory_equal(v->data, w, 16);
	const OnnxOwner *o = G->owner;
	assert_int_equal(o->nmaps, 1);          /* one mapping shared by both */
	assert_ptr_equal(v->data, (const char *)o->maps[0].base + 16);
	assert_ptr_equal(gval(G, graph_find_value(G, "W2"))->data, v->data);
	const Value *w3 = gval(G, graph_find_value(G, "W3"));
	assert_int_equal(w3->nbytes, 8);
	assert_memory_equal(w3->data, file + 18, 8);
	assert_true((uintptr_t)w3->data % 4 == 0);
	graph_free(G);
	diag_free(&d);

	/* Beyond the end of the file. */
	g->initializer[1]->external_data[1]->value = "24";
	buf = pack(m, &len);
	tu_write_file(p, buf, len);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "initializer 'W2': external data 'weights.bin': bytes [24, 40) lie beyond its end (32 bytes)"));
	diag_free(&d);

	/* A missing file. */
	g->initializer[1]->external_data[1]->value = "0";
	g->initializer[1]->external_data[0]->value = "missing.bin";
	buf = pack(m, &len);
	tu_write_file(p, buf, len);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "model.onnx: initializer 'W2': external data 'missing.bin': No such file or directory"));
	diag_free(&d);

	/* A path leaving the model's folder. */
	g->initializer[1]->external_data[0]->value = "../weights.bin";
	buf = pack(m, &len);
	tu_write_file(p, buf, len);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "initializer 'W2': external data location '../weights.bin' escapes the model's folder"));
	diag_free(&d);
	g->initializer[1]->external_data[0]->value = "/etc/passwd";
	buf = pack(m, &len);
	tu_write_file(p, buf, len);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "escapes the model's folder"));
	diag_free(&d);

	/* Symbolic links out of the folder: a file, and a directory. */
	char outside[4200], q[4300];
	snprintf(outside, sizeof outside, "%s/outside", dir);
	assert_int_equal(mkdir(outside, 0777), 0);
	snprintf(q, sizeof q, "%s/secret.bin", outside);
	tu_write_file(q, file, sizeof file);
	char *inner = malloc(4300);
	snprintf(inner, 4300, "%s/model", dir);
	assert_int_equal(mkdir(inner, 0777), 0);
	snprintf(q, sizeof q, "%s/link.bin", inner);
	assert_int_equal(symlink("../outside/secret.bin", q), 0);
	snprintf(q, sizeof q, "%s/linkdir", inner);
	assert_int_equal(symlink(outside, q), 0);
	snprintf(q, sizeof q, "%s/fifo.bin", inner);
	assert_int_equal(mkfifo(q, 0600), 0);
	snprintf(q, sizeof q, "%s/sub", inner);
	assert_int_equal(mkdir(q, 0777), 0);
	snprintf(q, sizeof q, "%s/sub/w.bin", inner);
	tu_write_file(q, file, sizeof file);
	snprintf(q, sizeof q, "%s/weights.bin", inner);
	tu_write_file(q, file, sizeof file);
	snprintf(p, sizeof p, "%s/model.onnx", inner);
	const struct {
		const char *loc, *expect;
	} cases[] = {
		{"link.bin", "external data 'link.bin': leads outside the model's folder"},
		{"linkdir/secret.bin", "external data 'linkdir/secret.bin': leads outside the model's folder"},
		{"fifo.bin", "external data 'fifo.bin': not a regular file"},
		{"sub", "external data 'sub': not a regular file"},
		{"./sub/w.bin", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		g->initializer[1]->external_data[0]->value = (char *)cases[i].loc;
		buf = pack(m, &len);
		tu_write_file(p, buf, len);
		diag_init(&d, "", false);
		G = onnx_load(p, &d);
		if (!cases[i].expect) {
			if (!G)
				fail_msg("%s: %s", cases[i].loc, d.buf ? d.buf : "");
			graph_free(G);
		} else {
			assert_null(G);
			if (!diag_contains(&d, cases[i].expect))
				fail_msg("%s: '%s' lacks '%s'", cases[i].loc, d.buf ? d.buf : "",
				         cases[i].expect);
		}
		diag_free(&d);
	}
	/* The O_NOFOLLOW fallback (no openat2): every symbolic link refused,
	 * plain paths and subfolders fine. */
	int fd = onnx_open_beneath_nofollow(inner, "./sub/w.bin");
	assert_true(fd >= 0);
	close(fd);
	fd = onnx_open_beneath_nofollow(inner, "weights.bin");
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(onnx_open_beneath_nofollow(inner, "link.bin"), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(onnx_open_beneath_nofollow(inner, "linkdir/secret.bin"), -1);
	assert_true(errno == ELOOP || errno == ENOTDIR);
	free(inner);

	tu_rmtree(dir);
	free(dir);
}

/* Every ai.onnx op of ops.def has a schema in the generated table (adding
 * an op means regenerating it: scripts/gen_onnx_schema.py), its versions
 * ascending, its attribute types real AttributeProto types. */
static void test_schema_table_covers_ops(void **state)
{
	for (int op = 1; op < OP__COUNT; op++) {
		if (op_info[op].flags & OPF_FUSED)
			continue;
		int rows = 0, last = 0;
		for (int i = 0; i < onnx_nschemas; i++) {
			const OnnxSchema *s = &onnx_schemas[i];
			if (strcmp(s->op, op_info[op].name))
				continue;
			if (s->since <= last || s->since > onnx_max_opset)
				fail_msg("%s: version %d after %d", s->op, s->since, last);
			last = s->since;
			rows++;
			for (int k = 0; k < s->nattrs; k++)
				assert_true(s->attrs[k].type >= 1 && s->attrs[k].type <= 14);
		}
		if (!rows)
			fail_msg("op %s has no schema in frontend/onnx_schema.c", op_info[op].name);
	}
	assert_true(onnx_max_opset >= 17);
}

/* A FIFO as the model or as a tensor file is refused at once (opening it
 * must not wait for a writer). */
static void test_fifo_model(void **state)
{
	char *dir = tu_tmpdir();
	char p[4200];
	snprintf(p, sizeof p, "%s/pipe.onnx", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	Diag d;
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "pipe.onnx: not a regular file"));
	diag_free(&d);
	Arena a = {0};
	Tensor t;
	diag_init(&d, "", false);
	assert_false(onnx_load_tensor_file(p, &a, &t, NULL, &d));
	assert_true(diag_contains(&d, "pipe.onnx: not a regular file"));
	diag_free(&d);
	arena_free(&a);
	tu_rmtree(dir);
	free(dir);
}

/* ---- built models: one test per diagnosed rule --------------------------- */

static void test_err_undefined_input(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d1[1] = {2};
	add_input(m->graph, "X", DT_F32, 1, d1);
	add_node(m->graph, "Add", "n1", "X,nope", "Y");
	add_output(m->graph, "Y");
	expect_error(m, "mem.onnx: node 'n1' (Add): input 1: 'nope' is not defined");
}

static void test_err_two_producers(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d1[1] = {2};
	add_input(m->graph, "X", DT_F32, 1, d1);
	add_node(m->graph, "Relu", "a", "X", "Y");
	add_node(m->graph, "Neg", "b", "X", "Y");
	add_output(m->graph, "Y");
	expect_error(m, "node 'b' (Neg): output 0: 'Y' is already defined by node 'a'");
	Onnx__ModelProto *m2 = mk_model(17);
	add_input(m2->graph, "X", DT_F32, 1, d1);
	add_node(m2->graph, "Relu", NULL, "X", "X");
	add_output(m2->graph, "X");
	expect_error(m2, "node '#0' (Relu): output 0: 'X' is already defined by a graph input");
}

static void test_err_cycle(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d1[1] = {2};
	add_input(m->graph, "X", DT_F32, 1, d1);
	add_node(m->graph, "Add", "a", "X,C", "A");
	add_node(m->graph, "Relu", "b", "A", "B");
	add_node(m->graph, "Neg", "c", "B", "C");
	add_output(m->graph, "C");
	expect_error(m, "is part of a cycle");
	expect_error(m, "node 'a' (Add): is part of a cycle (its output 'A' is needed by node 'b'");
}

static void test_err_bad_raw_length(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d2[2] = {2, 3};
	float w[2] = {1, 2};
	add_init(m->graph, mk_tensor("W", DT_F32, 2, d2, w, sizeof w));
	add_node(m->graph, "Relu", "r", "W", "Y");
	add_output(m->graph, "Y");
	expect_error(m, "mem.onnx: initializer 'W': raw_data has 8 bytes, expected 24 (6 elements of f32)");
}

static void test_err_typed_count(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d1[1] = {3};
	Onnx__TensorProto *t = add_init(m->graph, mk_tensor("W", DT_I64, 1, d1, NULL, 0));
	int64_t v[2] = {1, 2};
	t->n_int64_data = 2;
	t->int64_data = v;
	add_output(m->graph, "W");
	expect_error(m, "initializer 'W': int64_data has 2 values, expected 3");
}

/* Huge dims with no data must be refused before anything is allocated
 * (a SequenceProto file read as a TensorProto looks like this). */
static void test_err_huge_tensor_without_data(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t big[2] = {1LL << 20, 1LL << 20};
	add_init(m->graph, mk_tensor("W", DT_F32, 2, big, NULL, 0));
	add_output(m->graph, "W");
	expect_error(m, "initializer 'W': float_data has 0 values, expected 1099511627776");
	int64_t huge[3] = {1LL << 30, 1LL << 30, 1LL << 30};
	m = mk_model(17);
	add_init(m->graph, mk_tensor("W", DT_F32, 3, huge, NULL, 0));
	add_output(m->graph, "W");
	expect_error(m, "initializer 'W': tensor is too large");
}

static void test_err_bad_types(void **state)
{
	int64_t d1[1] = {2}, neg[1] = {-2};
	Onnx__ModelProto *m = mk_model(17);
	add_input(m->graph, "X", 99, 1, d1);
	add_node(m->graph, "Relu", "r", "X", "Y");
	add_output(m->graph, "Y");
	expect_error(m, "mem.onnx: graph input 'X': unknown element type 99");

	m = mk_model(17);
	add_input(m->graph, "X", DT_F32, 1, neg);
	add_node(m->graph, "Relu", "r", "X", "Y");
	add_output(m->graph, "Y");
	expect_error(m, "graph input 'X': dimension 0 is negative (-2)");

	m = mk_model(17);
	float w[2] = {0};
	add_init(m->graph, mk_tensor("W", DT_F32, 1, neg, w, sizeof w));
	add_output(m->graph, "W");
	expect_error(m, "initializer 'W': dimension 0 is negative (-2)");

	m = mk_model(17);
	add_init(m->graph, mk_tensor("W", 42, 1, d1, w, sizeof w));
	add_output(m->graph, "W");
	expect_error(m, "initializer 'W': unknown tensor data type 42");
}

static void test_err_string_tensors(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	int64_t d1[1] = {1};
	Onnx__TensorProto *t = add_init(m->graph, mk_tensor("S", DT_STRING, 1, d1, NULL, 0));
	ProtobufCBinaryData sd = {2, (uint8_t *)"hi"};
	t->n_string_data = 1;
	t->string_data = &sd;
	add_input(m->graph, "X", DT_F32, 1, d1);
	add_node(m->graph, "Relu", "r", "X", "Y");
	add_output(m->graph, "Y");
	/* Unused: fine. */
	Diag d;
	Graph *G = load_model(m, &d);
	assert_non_null(G);
	assert_int_equal(graph_find_value(G, "S"), IR_NONE);
	graph_free(G);
	diag_free(&d);
	/* Used by a node: an error. */
	m->graph->node[0]->input[0] = "S";
	expect_error(m, "node 'r' (Relu): input 0: 'S': string tensors not supported");

	Onnx__ModelProto *m2 = mk_model(17);
	Onnx__NodeProto *c = add_node(m2->graph, "Constant", "c", NULL, "K");
	Onnx__AttributeProto *a = add_attr(c, "value_string", AK_STRING);
	a->s = sd;
	add_output(m2->graph, "K");
	expect_error(m2, "node 'c' (Constant): attribute 'value_string': string tensors not supported");
}

static void test_err_graph_shape(void **state)
{
	Onnx__ModelProto *m = mk_model(17);
	m->graph = NULL;
	expect_error(m, "mem.onnx: not a valid ONNX model (no graph)");

	m = mk_model(17);
	int64_t d1[1] = {1};
	add_input(m->graph, "X", DT_F32, 1, d1);
	add_node(m->graph, "Relu", "r", "X", "Y");
	add_output(m->graph, "zz");
	expect_error(m, "mem.onnx: graph output 'zz' is never produced");

	m = mk_model(17);
	add_input(m->graph, "X", DT_F32, 1, d1);
	Onnx__NodeProto *n = add_node(m->graph, "Foo", "f", "X", "Y");
	n->domain = "com.nowhere";
	add_output(m->graph, "Y");
	expect_error(m, "node 'f' (Foo): no opset imported for domain 'com.nowhere'");
}

static void test_err_files(void **state)
{
	Diag d;
	diag_init(&d, "", false);
	assert_null(onnx_load("/nonexistent/model.onnx", &d));
	assert_true(diag_contains(&d, "/nonexistent/model.onnx: cannot open: No such file or directory"));
	diag_free(&d);

	char *dir = tu_tmpdir();
	char p[4200];
	/* A truncated real model. */
	FILE *f = fopen(tu_node_test("test_conv_with_strides_padding"), "rb");
	assert_non_null(f);
	unsigned char buf[4096];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 40 && n < sizeof buf);
	snprintf(p, sizeof p, "%s/trunc.onnx", dir);
	tu_write_file(p, buf, n - 7);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "trunc.onnx: not a valid ONNX model (protobuf parse failed)"));
	diag_free(&d);

	/* Random bytes (fixed seed; starts with an invalid wire type). */
	unsigned char rnd[512];
	uint32_t s = 12345;
	for (size_t i = 0; i < sizeof rnd; i++) {
		s = s * 1103515245u + 12345u;
		rnd[i] = (unsigned char)(s >> 16);
	}
	rnd[0] = 0x0f;   /* field 1, wire type 7: never valid */
	snprintf(p, sizeof p, "%s/random.onnx", dir);
	tu_write_file(p, rnd, sizeof rnd);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "random.onnx: not a valid ONNX model (protobuf parse failed)"));
	diag_free(&d);

	/* An empty file and a directory. */
	snprintf(p, sizeof p, "%s/empty.onnx", dir);
	tu_write_file(p, "", 0);
	diag_init(&d, "", false);
	assert_null(onnx_load(p, &d));
	assert_true(diag_contains(&d, "empty.onnx: not a valid ONNX model (no graph)"));
	diag_free(&d);
	diag_init(&d, "", false);
	assert_null(onnx_load(dir, &d));
	assert_true(diag_contains(&d, "cannot read: Is a directory"));
	diag_free(&d);

	tu_rmtree(dir);
	free(dir);
}

/* Prepends a length-delimited field header for a payload of n bytes that
 * starts at buf+*pos (the buffer is filled back to front). */
static void prepend_header(unsigned char *buf, size_t *pos, unsigned field, size_t n)
{
	unsigned char v[16];
	int k = 0;
	v[k++] = (unsigned char)(field << 3 | 2);
	do {
		v[k++] = (unsigned char)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
		n >>= 7;
	} while (n);
	assert_true(*pos >= (size_t)k);
	*pos -= (size_t)k;
	memcpy(buf + *pos, v, (size_t)k);
}

/* ModelProto{graph{input{type: sequence(sequence(...))}}} nested 200000
 * levels deep: protobuf-c alone would overflow the stack. */
static void test_err_deep_nesting(void **state)
{
	size_t cap = 4u << 20, pos = cap;
	unsigned char *buf = malloc(cap);
	assert_non_null(buf);
	for (int i = 0; i < 100000; i++) {
		prepend_header(buf, &pos, 1, cap - pos);  /* Sequence.elem_type */
		prepend_header(buf, &pos, 4, cap - pos);  /* TypeProto.sequence_type */
	}
	prepend_header(buf, &pos, 2, cap - pos);      /* ValueInfoProto.type */
	buf[--pos] = 'x';
	prepend_header(buf, &pos, 1, 1);              /* ValueInfoProto.name */
	prepend_header(buf, &pos, 11, cap - pos);     /* GraphProto.input */
	prepend_header(buf, &pos, 7, cap - pos);      /* ModelProto.graph */
	Diag d;
	diag_init(&d, "", false);
	assert_null(onnx_load_from_memory(buf + pos, cap - pos, "deep.onnx", &d));
	assert_true(diag_contains(&d, "deep.onnx: not a valid ONNX model (messages nested deeper than 128 levels)"));
	diag_free(&d);
	/* A few levels are fine as far as the parser goes (then diagnosed as
	 * a sequence-typed input). */
	pos = cap;
	for (int i = 0; i < 3; i++) {
		prepend_header(buf, &pos, 1, cap - pos);
		prepend_header(buf, &pos, 4, cap - pos);
	}
	prepend_header(buf, &pos, 2, cap - pos);
	buf[--pos] = 'x';
	prepend_header(buf, &pos, 1, 1);
	prepend_header(buf, &pos, 11, cap - pos);
	prepend_header(buf, &pos, 7, cap - pos);
	buf[--pos] = 8;                               /* ModelProto.ir_version = 8 */
	buf[--pos] = 1 << 3;
	diag_init(&d, "", false);
	assert_null(onnx_load_from_memory(buf + pos, cap - pos, "seq.onnx", &d));
	assert_true(diag_contains(&d, "seq.onnx: graph input 'x': sequence types not supported"));
	diag_free(&d);
	free(buf);
}

/* Every prefix and many byte flips of a small real model: a Graph or a
 * diagnostic, never a crash (ASan/UBSan in debug builds watch this). */
static void test_robust_mutations(void **state)
{
	FILE *f = fopen(tu_node_test("test_lstm_defaults"), "rb");
	assert_non_null(f);
	unsigned char buf[8192], mut[8192];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 0 && n < sizeof buf);
	int loaded = 0, refused = 0;
	for (size_t len = 0; len < n; len++) {
		Diag d;
		diag_init(&d, "", false);
		Graph *g = onnx_load_from_memory(buf, len, "prefix.onnx", &d);
		if (g) {
			assert_true(ir_verify(g, &d));
			loaded++;
			graph_free(g);
		} else {
			assert_true(d.nerrors > 0);
			refused++;
		}
		diag_free(&d);
	}
	uint32_t s = 7;
	for (int it = 0; it < 3000; it++) {
		memcpy(mut, buf, n);
		for (int k = 0; k < 1 + it % 4; k++) {
			s = s * 1103515245u + 12345u;
			size_t pos = (s >> 8) % n;
			s = s * 1103515245u + 12345u;
			mut[pos] = (unsigned char)(s >> 16);
		}
		Diag d;
		diag_init(&d, "", false);
		Graph *g = onnx_load_from_memory(mut, n, "flip.onnx", &d);
		if (g) {
			assert_int_equal(d.nerrors, 0);
			loaded++;
			graph_free(g);
		} else {
			assert_true(d.nerrors > 0);
			refused++;
		}
		diag_free(&d);
	}
	assert_true(refused > 0);

	/* The same for a serialized TensorProto. */
	f = fopen(data_file("test_add", "input_0.pb"), "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 0 && n < sizeof buf);
	int tok = 0, tbad = 0;
	for (int it = 0; it < 3000; it++) {
		size_t len = n;
		memcpy(mut, buf, n);
		if (it < (int)n) {
			len = (size_t)it;       /* every prefix */
		} else {
			for (int k = 0; k < 1 + it % 3; k++) {
				s = s * 1103515245u + 12345u;
				size_t pos = (s >> 8) % n;
				s = s * 1103515245u + 12345u;
				mut[pos] = (unsigned char)(s >> 16);
			}
		}
		Arena a = {0};
		Tensor t;
		Diag d;
		diag_init(&d, "", false);
		if (onnx_tensor_from_memory(mut, len, "t.pb", &a, &t, NULL, &d)) {
			assert_int_equal(t.nbytes, (size_t)shape_numel(&t.shape) * dtype_size(t.dtype));
			tok++;
		} else {
			assert_true(d.nerrors > 0);
			tbad++;
		}
		diag_free(&d);
		arena_free(&a);
	}
	assert_true(tok > 0 && tbad > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_add),
		cmocka_unit_test(test_node_conv_attrs),
		cmocka_unit_test(test_node_lstm_omitted_output),
		cmocka_unit_test(test_node_constant_folded),
		cmocka_unit_test(test_node_reshape_all),
		cmocka_unit_test(test_node_loop_subgraph),
		cmocka_unit_test(test_tensor_files),
		cmocka_unit_test(test_every_node_test_model),
		cmocka_unit_test_teardown(test_initializer_raw_no_copy, teardown),
		cmocka_unit_test_teardown(test_initializer_typed_fields, teardown),
		cmocka_unit_test_teardown(test_inputs_symbolic_dims, teardown),
		cmocka_unit_test_teardown(test_unsorted_nodes_sorted, teardown),
		cmocka_unit_test_teardown(test_subgraph_outer_use_sorted, teardown),
		cmocka_unit_test_teardown(test_constant_variants_and_attrs, teardown),
		cmocka_unit_test_teardown(test_external_data, teardown),
		cmocka_unit_test(test_fifo_model),
		cmocka_unit_test(test_schema_table_covers_ops),
		cmocka_unit_test_teardown(test_err_undefined_input, teardown),
		cmocka_unit_test_teardown(test_err_two_producers, teardown),
		cmocka_unit_test_teardown(test_err_cycle, teardown),
		cmocka_unit_test_teardown(test_err_bad_raw_length, teardown),
		cmocka_unit_test_teardown(test_err_typed_count, teardown),
		cmocka_unit_test_teardown(test_err_huge_tensor_without_data, teardown),
		cmocka_unit_test_teardown(test_err_bad_types, teardown),
		cmocka_unit_test_teardown(test_err_string_tensors, teardown),
		cmocka_unit_test_teardown(test_err_graph_shape, teardown),
		cmocka_unit_test(test_err_files),
		cmocka_unit_test(test_err_deep_nesting),
		cmocka_unit_test(test_robust_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

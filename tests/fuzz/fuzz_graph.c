/* tests/fuzz/fuzz_graph.c — structure-aware libFuzzer target: valid ONNX
 * graphs mutated as graphs, then compiled in-process through the whole
 * pipeline: frontend, verifier, passes (dims bound to 2), memory plan,
 * LLVM module, -O0 pipeline, object code emitted into memory, header
 * written into memory.  No file is written.
 *
 * The custom mutator unpacks the input as a ModelProto (protobuf-c) and
 * applies one to three mutations that keep it a well-formed protobuf but
 * change its meaning: a node's op type, an attribute's value, type or
 * presence, a dim or dtype of a graph input, output or initializer, an
 * edge (a node input or output renamed to another value), node order,
 * node deletion or duplication, the opset.  Inputs that do not unpack are
 * handed to libFuzzer's byte mutator.  Every outcome must be an artifact
 * or a diagnostic: a crash, sanitizer report, LLVM fatal error, leak or
 * hang is a bug.  Built by `make fuzz`; seeds: the ONNX node tests' and
 * the zoo's models. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/TargetMachine.h>

#include "codegen/header.h"
#include "codegen/module.h"
#include "codegen/target.h"
#include "frontend/onnx.h"
#include "frontend/onnx_priv.h"
#include "onnx.pb-c.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* ---- the compile ------------------------------------------------------- */

/* How far the inputs got (printed at exit when FUZZ_GRAPH_STATS is set):
 * a mutator that only makes models the frontend rejects fuzzes little. */
static unsigned long n_runs, n_loaded, n_planned, n_emitted;

static void print_stats(void)
{
	fprintf(stderr, "fuzz_graph: %lu inputs, %lu loaded, %lu through the passes and memory plan, "
	        "%lu emitted\n", n_runs, n_loaded, n_planned, n_emitted);
}

static LLVMTargetMachineRef host_tm(void)
{
	static LLVMTargetMachineRef tm;
	if (!tm) {
		Diag d;
		diag_init(&d, "fuzz", false);
		tm = cg_target_machine(NULL, NULL, NULL, 0, &d);
		if (!tm)
			abort();
		diag_free(&d);
		if (getenv("FUZZ_GRAPH_STATS"))
			atexit(print_stats);
	}
	return tm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LLVMTargetMachineRef tm = host_tm();
	static int echo = -1;
	if (echo < 0)
		echo = getenv("FUZZ_GRAPH_ECHO") != NULL;   /* print the diagnostics */
	Diag d;
	diag_init(&d, "fuzz.onnx", echo);
	Graph *g = onnx_load_from_memory(data, size, "fuzz.onnx", &d);
	if (g && !ir_verify(g, &d))
		abort();
	n_runs++;
	if (g) {
		n_loaded++;
		const char *binds[IR_MAX_RANK * 4];
		int nb = 0;
		for (int i = 0; i < g->ninputs && nb < IR_MAX_RANK * 4; i++) {
			Value *v = gval(g, g->inputs[i]);
			for (int k = 0; k < v->shape.rank && nb < IR_MAX_RANK * 4; k++)
				if (v->shape.sym[k])
					binds[nb++] = arena_printf(&g->arena, "%s=2", v->shape.sym[k]);
		}
		PipelineOptions po = {.dims = binds, .ndims = nb, .verify_each = true};
		MemPlan plan = {0};
		if (pass_pipeline(g, &po, &d) && pass_memplan(g, &plan, &d)) {
			n_planned++;
			Cg cg = {0};
			LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
			char *triple = LLVMGetTargetMachineTriple(tm);
			CgModuleOptions mo = {.prefix = "fz", .export_alias = true, .triple = triple,
			                      .layout = layout, .isa = cg_isa_of(tm)};
			if (cg_build_module(&cg, g, &plan, &mo, &d) && cg_optimize(cg.mod, tm, 0, &d)) {
				char *err = NULL;
				LLVMMemoryBufferRef obj = NULL;
				if (LLVMTargetMachineEmitToMemoryBuffer(tm, cg.mod, LLVMObjectFile, &err, &obj))
					abort();   /* a verified module LLVM cannot emit: ours to fix */
				LLVMDisposeMemoryBuffer(obj);
				n_emitted++;
				char *hdr = NULL;
				size_t hn = 0;
				FILE *hf = open_memstream(&hdr, &hn);
				if (hf) {
					cg_write_header(hf, g, &plan, "fz", "fuzz.onnx", false, false);
					fclose(hf);
				}
				free(hdr);
			} else if (!diag_last(&d)[0]) {
				abort();   /* codegen failed without saying why */
			}
			cg_dispose(&cg);
			LLVMDisposeMessage(triple);
			LLVMDisposeTargetData(layout);
		}
		memplan_free(&plan);
		static const char broke[] = "fuzz.onnx: verify failed after pass '";
		if (!strncmp(diag_last(&d), broke, sizeof broke - 1))
			abort();
	}
	graph_free(g);
	diag_free(&d);
	return 0;
}

/* ---- the mutator ------------------------------------------------------- */

/* Everything the unpacked message and the mutations allocate, freed at
 * once after packing (mutations mix the message's own strings and arrays
 * with new ones, so protobuf-c's free would not do). */
typedef struct Pool {
	void **p;
	size_t n, cap;
} Pool;

static void *pool_alloc(void *data, size_t size)
{
	Pool *pl = data;
	if (pl->n == pl->cap) {
		size_t c = pl->cap ? pl->cap * 2 : 256;
		void **np = realloc(pl->p, c * sizeof *np);
		if (!np)
			return NULL;
		pl->p = np;
		pl->cap = c;
	}
	void *m = calloc(1, size ? size : 1);
	if (m)
		pl->p[pl->n++] = m;
	return m;
}

static void pool_nofree(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void pool_release(Pool *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->p[i]);
	free(pl->p);
}

typedef struct Rng {
	uint64_t s;
} Rng;

static uint32_t rnd(Rng *r)
{
	r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(r->s >> 33);
}

static uint32_t below(Rng *r, size_t n)
{
	return n ? rnd(r) % (uint32_t)n : 0;
}

static int64_t interesting_int(Rng *r)
{
	static const int64_t v[] = {
		0, 1, 2, 3, 4, 7, 8, 16, 64, 255, 256, -1, -2, -3, -7, 65535, 65536,
		INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN, (int64_t)1 << 32, (int64_t)1 << 40,
		(int64_t)1 << 48, INT64_MAX, INT64_MIN, INT64_MIN + 1,
	};
	if (below(r, 3) == 0)
		return (int64_t)below(r, 21) - 10;
	return v[below(r, sizeof v / sizeof v[0])];
}

static float interesting_float(Rng *r)
{
	static const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-30f, 1e30f, 3.4e38f,
	                          1.0f / 0.0f, -1.0f / 0.0f, 0.0f / 0.0f, 1e-45f, 7.0f, -3.5f};
	return v[below(r, sizeof v / sizeof v[0])];
}

static char *pool_str(Pool *pl, const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = pool_alloc(pl, n);
	if (c)
		memcpy(c, s, n);
	return c;
}

/* A random op type: one onnxcc knows (most of the time) or not. */
static char *random_op(Rng *r, Pool *pl)
{
	static const char *const other[] = {"Foo", "If", "Loop", "Scan", "SequenceAt", "", "Optional"};
	if (below(r, 8) == 0)
		return pool_str(pl, other[below(r, sizeof other / sizeof other[0])]);
	Op op = (Op)(1 + below(r, OP__COUNT - 1));
	return pool_str(pl, op_name(op));
}

/* The names a node input may refer to: graph inputs, initializers, node
 * outputs. */
static const char *random_name(Rng *r, Onnx__GraphProto *g)
{
	size_t total = g->n_input + g->n_initializer;
	for (size_t i = 0; i < g->n_node; i++)
		total += g->node[i]->n_output;
	if (!total || below(r, 16) == 0)
		return "";
	size_t k = below(r, total);
	if (k < g->n_input)
		return g->input[k]->name ? g->input[k]->name : "";
	k -= g->n_input;
	if (k < g->n_initializer)
		return g->initializer[k]->name ? g->initializer[k]->name : "";
	k -= g->n_initializer;
	for (size_t i = 0; i < g->n_node; i++) {
		if (k < g->node[i]->n_output)
			return g->node[i]->output[k];
		k -= g->node[i]->n_output;
	}
	return "";
}

static void *grow(Pool *pl, void *arr, size_t n, size_t elem)
{
	void *m = pool_alloc(pl, (n + 1) * elem);
	if (m && n)
		memcpy(m, arr, n * elem);
	return m;
}

static void mutate_attribute(Rng *r, Pool *pl, Onnx__NodeProto *n)
{
	static const char *const names[] = {
		"axis", "axes", "keepdims", "perm", "to", "alpha", "beta", "transA", "transB", "group",
		"kernel_shape", "strides", "pads", "dilations", "epsilon", "mode", "exclusive", "reverse",
		"batch_dims", "reduction", "split", "num_outputs", "hidden_size", "direction", "upper",
		"value", "auto_pad", "ceil_mode", "output_padding", "largest", "sorted", "k",
	};
	if (!n->n_attribute || below(r, 4) == 0) {
		/* a new attribute */
		Onnx__AttributeProto *a = pool_alloc(pl, sizeof *a);
		Onnx__AttributeProto **arr = grow(pl, n->attribute, n->n_attribute, sizeof *arr);
		if (!a || !arr)
			return;
		onnx__attribute_proto__init(a);
		a->name = pool_str(pl, names[below(r, sizeof names / sizeof names[0])]);
		switch (below(r, 4)) {
		case 0:
			a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
			a->has_i = 1, a->i = interesting_int(r);
			break;
		case 1:
			a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
			a->has_f = 1, a->f = interesting_float(r);
			break;
		case 2: {
			a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
			size_t k = below(r, 9);
			a->ints = pool_alloc(pl, (k + 1) * sizeof(int64_t));
			if (!a->ints)
				return;
			for (size_t i = 0; i < k; i++)
				a->ints[i] = interesting_int(r);
			a->n_ints = k;
			break;
		}
		default:
			a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
			a->has_s = 1;
			a->s.data = (uint8_t *)pool_str(pl, below(r, 2) ? "constant" : "NOTSET");
			a->s.len = strlen((char *)a->s.data);
			break;
		}
		arr[n->n_attribute++] = a;
		n->attribute = arr;
		return;
	}
	Onnx__AttributeProto *a = n->attribute[below(r, n->n_attribute)];
	switch (below(r, 8)) {
	case 0:
		a->has_i = 1, a->i = interesting_int(r);
		break;
	case 1:
		if (a->n_ints)
			a->ints[below(r, a->n_ints)] = interesting_int(r);
		else
			a->has_i = 1, a->i = interesting_int(r);
		break;
	case 2:
		a->has_f = 1, a->f = interesting_float(r);
		break;
	case 3:
		if (a->n_floats)
			a->floats[below(r, a->n_floats)] = interesting_float(r);
		break;
	case 4:   /* a wrong or unknown type */
		a->has_type = 1;
		a->type = (Onnx__AttributeProto__AttributeType)below(r, 15);
		break;
	case 5:   /* one element more or fewer */
		if (a->n_ints && below(r, 2))
			a->n_ints--;
		else {
			int64_t *ni = grow(pl, a->ints, a->n_ints, sizeof *ni);
			if (ni) {
				ni[a->n_ints++] = interesting_int(r);
				a->ints = ni;
			}
		}
		break;
	case 6:   /* drop it */
		for (size_t i = 0; i < n->n_attribute; i++)
			if (n->attribute[i] == a) {
				n->attribute[i] = n->attribute[--n->n_attribute];
				break;
			}
		break;
	default:  /* a tensor attribute's data or dims */
		if (a->t && a->t->n_dims)
			a->t->dims[below(r, a->t->n_dims)] = below(r, 3) ? (int64_t)below(r, 5) : interesting_int(r);
		else if (a->t && a->t->has_raw_data && a->t->raw_data.len)
			a->t->raw_data.data[below(r, a->t->raw_data.len)] ^= (uint8_t)(1u << below(r, 8));
		else if (a->t)
			a->t->data_type = (int32_t)below(r, 17);
		break;
	}
}

static Onnx__TypeProto__Tensor *tensor_type(Onnx__ValueInfoProto *v)
{
	if (!v || !v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
		return NULL;
	return v->type->tensor_type;
}

static Onnx__ValueInfoProto *random_value_info(Rng *r, Onnx__GraphProto *g)
{
	size_t total = g->n_input + g->n_output + g->n_value_info;
	if (!total)
		return NULL;
	size_t k = below(r, total);
	if (k < g->n_input)
		return g->input[k];
	k -= g->n_input;
	if (k < g->n_output)
		return g->output[k];
	return g->value_info[k - g->n_output];
}

static void mutate_dims(Rng *r, Pool *pl, Onnx__GraphProto *g)
{
	if (g->n_initializer && below(r, 3) == 0) {
		Onnx__TensorProto *t = g->initializer[below(r, g->n_initializer)];
		if (t->n_dims && below(r, 2))
			t->dims[below(r, t->n_dims)] = below(r, 2) ? (int64_t)below(r, 9) : interesting_int(r);
		else if (t->n_dims)
			t->n_dims--;
		return;
	}
	Onnx__TypeProto__Tensor *tt = tensor_type(random_value_info(r, g));
	if (!tt || !tt->shape)
		return;
	Onnx__TensorShapeProto *s = tt->shape;
	switch (below(r, 4)) {
	case 0:
	case 1:
		if (s->n_dim) {
			Onnx__TensorShapeProto__Dimension *dm = s->dim[below(r, s->n_dim)];
			if (below(r, 5) == 0) {
				dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
				dm->dim_param = pool_str(pl, below(r, 2) ? "N" : "batch");
			} else {
				dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
				dm->dim_value = below(r, 2) ? (int64_t)below(r, 9) : interesting_int(r);
			}
		}
		break;
	case 2:
		if (s->n_dim)
			s->n_dim--;
		break;
	default: {
		Onnx__TensorShapeProto__Dimension *dm = pool_alloc(pl, sizeof *dm);
		Onnx__TensorShapeProto__Dimension **arr = grow(pl, s->dim, s->n_dim, sizeof *arr);
		if (!dm || !arr)
			return;
		onnx__tensor_shape_proto__dimension__init(dm);
		dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		dm->dim_value = 1 + below(r, 4);
		size_t at = below(r, s->n_dim + 1);
		memmove(&arr[at + 1], &arr[at], (s->n_dim - at) * sizeof *arr);
		arr[at] = dm;
		s->dim = arr;
		s->n_dim++;
		break;
	}
	}
}

static void mutate_dtype(Rng *r, Onnx__GraphProto *g)
{
	static const int32_t common[] = {1, 6, 7, 9, 10, 16, 11, 3, 2};
	int32_t dt = below(r, 3) ? common[below(r, sizeof common / sizeof common[0])] : (int32_t)below(r, 25);
	if (g->n_initializer && below(r, 3) == 0) {
		g->initializer[below(r, g->n_initializer)]->data_type = dt;
		return;
	}
	Onnx__TypeProto__Tensor *tt = tensor_type(random_value_info(r, g));
	if (tt)
		tt->elem_type = dt, tt->has_elem_type = 1;
}

static void mutate_edge(Rng *r, Pool *pl, Onnx__GraphProto *g)
{
	if (!g->n_node)
		return;
	Onnx__NodeProto *n = g->node[below(r, g->n_node)];
	switch (below(r, 5)) {
	case 0:
	case 1:
		if (n->n_input)
			n->input[below(r, n->n_input)] = (char *)random_name(r, g);
		break;
	case 2: {
		char **arr = grow(pl, n->input, n->n_input, sizeof *arr);
		if (arr) {
			arr[n->n_input++] = (char *)random_name(r, g);
			n->input = arr;
		}
		break;
	}
	case 3:
		if (n->n_input)
			n->n_input--;
		break;
	default:   /* an output renamed: to a graph output's name, or a new one */
		if (n->n_output) {
			if (g->n_output && below(r, 2))
				n->output[below(r, n->n_output)] = g->output[below(r, g->n_output)]->name;
			else
				n->output[below(r, n->n_output)] = pool_str(pl, below(r, 2) ? "fz_new" : "");
		}
		break;
	}
}

static void mutate_graph(Rng *r, Pool *pl, Onnx__ModelProto *m)
{
	Onnx__GraphProto *g = m->graph;
	switch (below(r, 12)) {
	case 0:
		if (g->n_node)
			g->node[below(r, g->n_node)]->op_type = random_op(r, pl);
		break;
	case 1:
	case 2:
	case 3:
		if (g->n_node)
			mutate_attribute(r, pl, g->node[below(r, g->n_node)]);
		break;
	case 4:
	case 5:
		mutate_dims(r, pl, g);
		break;
	case 6:
		mutate_dtype(r, g);
		break;
	case 7:
	case 8:
		mutate_edge(r, pl, g);
		break;
	case 9:   /* swap two nodes */
		if (g->n_node >= 2) {
			size_t a = below(r, g->n_node), b = below(r, g->n_node);
			Onnx__NodeProto *t = g->node[a];
			g->node[a] = g->node[b];
			g->node[b] = t;
		}
		break;
	case 10:  /* delete or duplicate a node */
		if (g->n_node && below(r, 2)) {
			size_t a = below(r, g->n_node);
			memmove(&g->node[a], &g->node[a + 1], (g->n_node - a - 1) * sizeof *g->node);
			g->n_node--;
		} else if (g->n_node) {
			Onnx__NodeProto **arr = grow(pl, g->node, g->n_node, sizeof *arr);
			if (arr) {
				arr[g->n_node] = arr[below(r, g->n_node)];
				g->node = arr;
				g->n_node++;
			}
		}
		break;
	default:  /* the opset, or a graph input turned into an initializer's twin */
		if (m->n_opset_import && below(r, 2)) {
			Onnx__OperatorSetIdProto *o = m->opset_import[below(r, m->n_opset_import)];
			o->has_version = 1;
			o->version = below(r, 4) ? 1 + (int64_t)below(r, 23) : interesting_int(r);
		} else if (g->n_initializer && g->n_input) {
			g->initializer[below(r, g->n_initializer)]->name = g->input[below(r, g->n_input)]->name;
		}
		break;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
	char why[256];
	if (!onnx_wire_check(&onnx__model_proto__descriptor, data, size, ONNX_MAX_MESSAGE_DEPTH,
	                     why, sizeof why))
		return LLVMFuzzerMutate(data, size, max_size);   /* protobuf-c would recurse too deep */
	Pool pl = {0};
	ProtobufCAllocator alloc = {pool_alloc, pool_nofree, &pl};
	Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc, size, data);
	if (!m || !m->graph) {
		pool_release(&pl);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	Rng r = {seed * 2654435761u + 1};
	int k = 1 + (int)below(&r, 3);
	for (int i = 0; i < k; i++)
		mutate_graph(&r, &pl, m);
	size_t n = onnx__model_proto__get_packed_size(m);
	if (n <= max_size)
		onnx__model_proto__pack(m, data);
	else
		n = LLVMFuzzerMutate(data, size, max_size);
	pool_release(&pl);
	return n;
}

/* tests/unit/test_infer.c — shape and dtype inference (passes/infer*.c).
 *
 * Hand-built graphs per op family check the inferred output shapes and
 * dtypes; error tests check the diagnostic text.  The last test loads the
 * ONNX node-test models, runs the inference pass and compares every graph
 * output's inferred shape and dtype with the one the model declares.
 */
#define INFER_INTERNAL
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/onnx.h"
#include "passes/infer.h"

/* ---- graph building helpers ------------------------------------------- */
#define NDIMS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define DIMS(...) NDIMS(__VA_ARGS__), (int64_t[]){__VA_ARGS__}
#define I64S(...) NDIMS(__VA_ARGS__), (int64_t[]){__VA_ARGS__}

static Diag D;

static Graph *mk(void)
{
	diag_init(&D, "m.onnx", false);
	return graph_new("m.onnx");
}

static void done(Graph *g)
{
	graph_free(g);
	diag_free(&D);
}

/* A graph input of dtype dt and the given static shape. */
static ValueId in(Graph *g, DType dt, int rank, const int64_t *dims)
{
	Shape s = shape_make(rank, dims);
	ValueId v = graph_add_value(g, NULL, dt, &s);
	gval(g, v)->kind = VK_INPUT;
	return v;
}

static ValueId scalar_in(Graph *g, DType dt) { return in(g, dt, 0, NULL); }

/* A constant 1-D int64 tensor. */
static ValueId ci64(Graph *g, int n, const int64_t *vals)
{
	int64_t d = n;
	Shape s = shape_make(1, &d);
	return graph_add_const(g, NULL, DT_I64, &s, vals);
}

/* A constant scalar of dtype dt holding x. */
static ValueId cscalar(Graph *g, DType dt, double x)
{
	Shape s = shape_make(0, NULL);
	unsigned char buf[8];
	switch (dt) {
	case DT_F32: { float f = (float)x; memcpy(buf, &f, 4); break; }
	case DT_F64: memcpy(buf, &x, 8); break;
	case DT_I32: { int32_t i = (int32_t)x; memcpy(buf, &i, 4); break; }
	case DT_I64: { int64_t i = (int64_t)x; memcpy(buf, &i, 8); break; }
	default: fail_msg("cscalar: dtype %d", dt);
	}
	return graph_add_const(g, NULL, dt, &s, buf);
}

/* A node of op with the given inputs and nout fresh outputs. */
static NodeId node(Graph *g, Op op, int opset, int nin, const ValueId *ins, int nout)
{
	ValueId outs[16];
	assert_true(nout <= 16);
	for (int i = 0; i < nout; i++)
		outs[i] = graph_add_value(g, NULL, DT_UNDEF, NULL);
	NodeId n = graph_add_node(g, op, NULL, NULL, ins, nin, outs, nout);
	g->nodes[n].opset = opset;
	return n;
}
#define NODE(g, op, opset, nout, ...) \
	node(g, op, opset, (int)(sizeof((ValueId[]){__VA_ARGS__}) / sizeof(ValueId)), \
	     (ValueId[]){__VA_ARGS__}, nout)

static void aint(Graph *g, NodeId n, const char *name, int64_t v)
{
	graph_add_attr(g, n, name, AK_INT)->i = v;
}

static void aints(Graph *g, NodeId n, const char *name, int cnt, const int64_t *v)
{
	Attr *a = graph_add_attr(g, n, name, AK_INTS);
	a->n = cnt;
	a->ints = arena_dup(&g->arena, v, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
}

static void astr(Graph *g, NodeId n, const char *name, const char *s)
{
	Attr *a = graph_add_attr(g, n, name, AK_STRING);
	a->s = arena_strdup(&g->arena, s);
	a->slen = strlen(s);
}

static void infer_ok(Graph *g, NodeId n)
{
	if (!pass_infer_node(g, n, &D))
		fail_msg("inference failed: %s", D.buf ? D.buf : "(no diagnostic)");
}

/* Runs inference expecting failure with a message containing needle. */
static void infer_err(Graph *g, NodeId n, const char *needle)
{
	assert_false(pass_infer_node(g, n, &D));
	if (!diag_contains(&D, needle))
		fail_msg("expected diagnostic containing \"%s\", got: %s", needle,
		         D.buf ? D.buf : "(none)");
}

/* Asserts output k of node n has dtype dt and the given shape. */
static void expect(Graph *g, NodeId n, int k, DType dt, int rank, const int64_t *dims)
{
	Value *v = gval(g, g->nodes[n].out[k]);
	Shape want = shape_make(rank, dims);
	char a[128], b[128];
	if (!shape_eq(&v->shape, &want) || v->dtype != dt)
		fail_msg("output %d: got %s %s, want %s %s", k, dtype_name(v->dtype),
		         shape_str(&v->shape, a, sizeof a), dtype_name(dt), shape_str(&want, b, sizeof b));
}
#define EXPECT(g, n, k, dt, ...) expect(g, n, k, dt, DIMS(__VA_ARGS__))
#define EXPECT_SCALAR(g, n, k, dt) expect(g, n, k, dt, 0, NULL)

/* ---- elementwise -------------------------------------------------------- */
static void test_broadcast(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_Add, 17, 1, in(g, DT_F32, DIMS(2, 3, 4)), in(g, DT_F32, DIMS(4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4);
	/* bias first, both sides stretch */
	n = NODE(g, OP_Mul, 17, 1, in(g, DT_F32, DIMS(1, 3, 1)), in(g, DT_F32, DIMS(2, 1, 5)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 5);
	n = NODE(g, OP_Sub, 13, 1, scalar_in(g, DT_I64), in(g, DT_I64, DIMS(3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 3);
	n = NODE(g, OP_Less, 13, 1, in(g, DT_F32, DIMS(4, 1)), in(g, DT_F32, DIMS(1, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_BOOL, 4, 6);
	/* Swin-style mask [1,nW,1,N,N] against scores [B,nW,H,N,N] */
	n = NODE(g, OP_Add, 13, 1, in(g, DT_F32, DIMS(2, 4, 3, 49, 49)),
	         in(g, DT_F32, DIMS(1, 4, 1, 49, 49)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 4, 3, 49, 49);
	n = NODE(g, OP_Sum, 13, 1, in(g, DT_F32, DIMS(3, 1)), in(g, DT_F32, DIMS(1, 2)),
	         in(g, DT_F32, DIMS(5, 1, 1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 3, 2);
	n = NODE(g, OP_Where, 16, 1, in(g, DT_BOOL, DIMS(1, 1, 4, 4)), scalar_in(g, DT_F32),
	         in(g, DT_F32, DIMS(2, 3, 4, 4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4, 4);
	/* Pow: exponent type may differ from 12 on */
	n = NODE(g, OP_Pow, 13, 1, in(g, DT_F32, DIMS(2, 2)), scalar_in(g, DT_I64));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 2);
	done(g);
}

static void test_broadcast_mismatch(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_Add, 17, 1, in(g, DT_F32, DIMS(2, 3)), in(g, DT_F32, DIMS(4)));
	g->nodes[n].name = "blk/Add_1";
	infer_err(g, n, "node 'blk/Add_1' (Add): input 1: shape [4] does not broadcast with input 0's shape [2,3]");
	done(g);
}

static void test_dtype_checks(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(2, 3)), in(g, DT_I64, DIMS(3, 2)));
	infer_err(g, n, "(MatMul): input 1: dtype i64 differs from input 0's f32");
	n = NODE(g, OP_Where, 16, 1, in(g, DT_F32, DIMS(2)), in(g, DT_F32, DIMS(2)),
	         in(g, DT_F32, DIMS(2)));
	infer_err(g, n, "(Where): input 0: condition must be bool, got f32");
	n = NODE(g, OP_And, 13, 1, in(g, DT_BOOL, DIMS(2)), in(g, DT_I32, DIMS(2)));
	infer_err(g, n, "(And): input 1: expected bool, got i32");
	n = NODE(g, OP_Exp, 13, 1, in(g, DT_I64, DIMS(2)));
	infer_err(g, n, "(Exp): input 0: expected a float type, got i64");
	done(g);
}

static void test_unary_cast(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_IsNaN, 13, 1, in(g, DT_F16, DIMS(3, 2)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_BOOL, 3, 2);
	n = NODE(g, OP_Cast, 13, 1, in(g, DT_F32, DIMS(3, 2)));
	aint(g, n, "to", DT_I64);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 3, 2);
	n = NODE(g, OP_CastLike, 15, 1, in(g, DT_I32, DIMS(7)), scalar_in(g, DT_F64));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F64, 7);
	n = NODE(g, OP_Dropout, 13, 2, in(g, DT_F32, DIMS(4, 5)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 5);
	EXPECT(g, n, 1, DT_BOOL, 4, 5);
	n = NODE(g, OP_Cast, 13, 1, in(g, DT_F32, DIMS(3)));
	infer_err(g, n, "(Cast): attribute 'to' is required");
	n = NODE(g, OP_Softmax, 13, 1, in(g, DT_F32, DIMS(2, 5, 5)));
	aint(g, n, "axis", 3);
	infer_err(g, n, "axis 3 out of range for rank 3");
	done(g);
}

/* ---- shape manipulation ------------------------------------------------ */
static void test_reshape(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 3, 4));
	NodeId n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(0, -1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 12);
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(-1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 24);
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(0, 0, 2, -1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 2, 2);
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(-1, 0, 4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4);
	/* allowzero=1: 0 is a real size */
	n = NODE(g, OP_Reshape, 14, 1, in(g, DT_F32, DIMS(0, 3)), ci64(g, I64S(3, 0)));
	aint(g, n, "allowzero", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 0);
	done(g);
}

static void test_reshape_errors(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 3, 4));
	NodeId n = NODE(g, OP_Reshape, 13, 1, x, in(g, DT_I64, DIMS(2)));
	g->nodes[n].name = "r";
	infer_err(g, n, "node 'r' (Reshape): input 1: must be a constant for static compilation");
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(-1, -1)));
	infer_err(g, n, "input 1: more than one -1 in shape");
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(5, -1)));
	infer_err(g, n, "cannot infer -1");
	n = NODE(g, OP_Reshape, 13, 1, x, ci64(g, I64S(4, 5)));
	infer_err(g, n, "shape [4,5] has 20 elements, input [2,3,4] has 24");
	done(g);
}

static void test_flatten_transpose_concat(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 3, 4, 5));
	NodeId n = NODE(g, OP_Flatten, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 60);
	n = NODE(g, OP_Flatten, 13, 1, x);
	aint(g, n, "axis", -1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 24, 5);
	n = NODE(g, OP_Flatten, 13, 1, x);
	aint(g, n, "axis", 0);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 120);
	n = NODE(g, OP_Transpose, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 4, 3, 2);
	n = NODE(g, OP_Transpose, 13, 1, x);
	aints(g, n, "perm", I64S(0, 2, 1, 3));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 4, 3, 5);
	n = NODE(g, OP_Transpose, 13, 1, x);
	aints(g, n, "perm", I64S(0, 2, 2, 3));
	infer_err(g, n, "perm is not a permutation");
	n = NODE(g, OP_Concat, 13, 1, x, in(g, DT_F32, DIMS(2, 3, 4, 7)));
	aint(g, n, "axis", -1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4, 12);
	n = NODE(g, OP_Concat, 13, 1, x, in(g, DT_F32, DIMS(2, 3, 5, 7)));
	aint(g, n, "axis", -1);
	infer_err(g, n, "(Concat): input 1: shape [2,3,5,7] does not match input 0's [2,3,4,5]");
	done(g);
}

static void test_squeeze_unsqueeze(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(1, 3, 1, 5));
	NodeId n = NODE(g, OP_Squeeze, 11, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 5);
	n = NODE(g, OP_Squeeze, 11, 1, x);
	aints(g, n, "axes", I64S(-2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 3, 5);
	n = NODE(g, OP_Squeeze, 13, 1, x, ci64(g, I64S(0)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 1, 5);
	n = NODE(g, OP_Squeeze, 13, 1, x, ci64(g, I64S(1)));
	infer_err(g, n, "input 1: cannot squeeze axis 1 of size 3");
	n = NODE(g, OP_Unsqueeze, 11, 1, in(g, DT_F32, DIMS(3, 4)));
	aints(g, n, "axes", I64S(0, -1));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 3, 4, 1);
	n = NODE(g, OP_Unsqueeze, 13, 1, scalar_in(g, DT_I64), ci64(g, I64S(0)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 1);
	n = NODE(g, OP_Unsqueeze, 13, 1, in(g, DT_F32, DIMS(3, 4)), ci64(g, I64S(1, 3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 1, 4, 1);
	n = NODE(g, OP_Unsqueeze, 13, 1, in(g, DT_F32, DIMS(3)), in(g, DT_I64, DIMS(1)));
	infer_err(g, n, "input 1: must be a constant for static compilation");
	done(g);
}

static void test_split(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 6));
	NodeId n = NODE(g, OP_Split, 11, 2, x);
	aint(g, n, "axis", 1);
	aints(g, n, "split", I64S(2, 4));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 2);
	EXPECT(g, n, 1, DT_F32, 2, 4);
	n = NODE(g, OP_Split, 13, 3, x, ci64(g, I64S(1, 2, 3)));
	aint(g, n, "axis", -1);
	infer_ok(g, n);
	EXPECT(g, n, 2, DT_F32, 2, 3);
	/* equal split into the number of outputs (LSTM gates: Split(4)) */
	n = NODE(g, OP_Split, 13, 3, x);
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 1, DT_F32, 2, 2);
	/* Split-18 num_outputs: the last chunk is smaller */
	n = NODE(g, OP_Split, 18, 3, in(g, DT_F32, DIMS(7)));
	aint(g, n, "num_outputs", 3);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3);
	EXPECT(g, n, 1, DT_F32, 3);
	EXPECT(g, n, 2, DT_F32, 1);
	n = NODE(g, OP_Split, 13, 2, x, ci64(g, I64S(2, 3)));
	aint(g, n, "axis", 1);
	infer_err(g, n, "input 1: split sizes sum to 5, axis 1 has 6");
	n = NODE(g, OP_Split, 13, 4, x);
	aint(g, n, "axis", 1);
	infer_err(g, n, "does not split evenly into 4 outputs");
	done(g);
}

static void test_slice(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(4, 10));
	NodeId n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(1)), ci64(g, I64S(INT64_MAX)),
	                ci64(g, I64S(1)), ci64(g, I64S(2)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 5);
	/* full reversal: start -1, end INT64_MIN, step -1 */
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(-1)), ci64(g, I64S(INT64_MIN)),
	         ci64(g, I64S(-1)), ci64(g, I64S(-1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 10);
	/* 9, 8, 7 */
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(-1)), ci64(g, I64S(-4)), ci64(g, I64S(1)),
	         ci64(g, I64S(-1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 3);
	/* 20 clamps to 9: 9, 6, 3 (end 1 exclusive) */
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(20)), ci64(g, I64S(1)), ci64(g, I64S(1)),
	         ci64(g, I64S(-3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 3);
	/* two axes, no axes input, starts past the end give 0 */
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(1, 12)), ci64(g, I64S(-1, 15)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 0);
	/* huge step */
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(0)), ci64(g, I64S(INT64_MAX)),
	         ci64(g, I64S(-1)), ci64(g, I64S(INT64_MAX)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 1);
	/* Slice-1: attributes */
	n = NODE(g, OP_Slice, 1, 1, x);
	aints(g, n, "starts", I64S(0, 2));
	aints(g, n, "ends", I64S(2, -2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 6);
	n = NODE(g, OP_Slice, 13, 1, x, ci64(g, I64S(0)), ci64(g, I64S(1)), ci64(g, I64S(0)),
	         ci64(g, I64S(0)));
	infer_err(g, n, "input 4: step 0 on axis 0");
	done(g);
}

static void test_gather(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(5, 4, 3));
	NodeId n = NODE(g, OP_Gather, 13, 1, x, cscalar(g, DT_I64, 2));
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 3);
	n = NODE(g, OP_Gather, 13, 1, x, in(g, DT_I32, DIMS(2, 2)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 2, 4, 3);
	/* SReT permutation: Gather(axis=1, const int64 idx) */
	n = NODE(g, OP_Gather, 13, 1, x, ci64(g, I64S(3, 2, 1, 0)));
	aint(g, n, "axis", -2);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 4, 3);
	n = NODE(g, OP_Gather, 13, 1, x, cscalar(g, DT_I64, 4));
	aint(g, n, "axis", 1);
	infer_err(g, n, "input 1: index 4 out of range for axis 1 of size 4");
	n = NODE(g, OP_Gather, 13, 1, x, in(g, DT_F32, DIMS(2)));
	infer_err(g, n, "input 1: indices must be int32 or int64, got f32");
	n = NODE(g, OP_GatherElements, 13, 1, x, in(g, DT_I64, DIMS(5, 2, 3)));
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 2, 3);
	n = NODE(g, OP_GatherND, 13, 1, x, in(g, DT_I64, DIMS(5, 2, 1)));
	aint(g, n, "batch_dims", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 2, 3);
	n = NODE(g, OP_ScatterND, 13, 1, x, in(g, DT_I64, DIMS(6, 2)), in(g, DT_F32, DIMS(6, 3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 4, 3);
	n = NODE(g, OP_ScatterND, 13, 1, x, in(g, DT_I64, DIMS(6, 2)), in(g, DT_F32, DIMS(6, 4)));
	infer_err(g, n, "input 2: updates shape [6,4], expected [6,3]");
	done(g);
}

static void test_expand_tile_pad_range(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_Expand, 13, 1, in(g, DT_F32, DIMS(3, 1)), ci64(g, I64S(2, 1, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 6);
	n = NODE(g, OP_Tile, 13, 1, in(g, DT_F32, DIMS(3, 2)), ci64(g, I64S(2, 3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 6, 6);
	n = NODE(g, OP_Pad, 13, 1, in(g, DT_F32, DIMS(1, 3, 4, 4)),
	         ci64(g, I64S(0, 0, 1, 2, 0, 0, 1, -1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 3, 6, 5);
	n = NODE(g, OP_Pad, 18, 1, in(g, DT_F32, DIMS(1, 3, 4, 4)), ci64(g, I64S(1, 2, 3, 4)),
	         IR_NONE, ci64(g, I64S(-1, 1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 9, 4, 8); /* pads = [b(-1), b(1), e(-1), e(1)] */
	n = NODE(g, OP_Pad, 2, 1, in(g, DT_F32, DIMS(2, 2)));
	aints(g, n, "pads", I64S(1, 1, 1, 1));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 4);
	n = NODE(g, OP_Range, 11, 1, cscalar(g, DT_I64, 0), cscalar(g, DT_I64, 10),
	         cscalar(g, DT_I64, 3));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 4);
	n = NODE(g, OP_Range, 11, 1, cscalar(g, DT_F32, 1), cscalar(g, DT_F32, -2),
	         cscalar(g, DT_F32, -0.5));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 6);
	n = NODE(g, OP_Range, 11, 1, cscalar(g, DT_I32, 5), cscalar(g, DT_I32, 1),
	         cscalar(g, DT_I32, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I32, 0);
	n = NODE(g, OP_Range, 11, 1, cscalar(g, DT_I64, 0), scalar_in(g, DT_I64),
	         cscalar(g, DT_I64, 1));
	infer_err(g, n, "input 1: must be a constant for static compilation");
	n = NODE(g, OP_ConstantOfShape, 9, 1, ci64(g, I64S(2, 3)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3);
	n = NODE(g, OP_ConstantOfShape, 9, 1, ci64(g, I64S(4)));
	{
		Attr *a = graph_add_attr(g, n, "value", AK_TENSOR);
		static const int64_t one = 1;
		int64_t d1 = 1;
		a->t = arena_alloc(&g->arena, sizeof(Tensor));
		a->t->dtype = DT_I64;
		a->t->shape = shape_make(1, &d1);
		a->t->data = &one;
		a->t->nbytes = 8;
	}
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 4);
	done(g);
}

static void test_misc_index_ops(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 8, 6));
	NodeId n = NODE(g, OP_TopK, 11, 2, x, ci64(g, I64S(3)));
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 6);
	EXPECT(g, n, 1, DT_I64, 2, 3, 6);
	n = NODE(g, OP_TopK, 11, 2, x, ci64(g, I64S(7)));
	infer_err(g, n, "input 1: k = 7 out of range for axis 2 of size 6");
	n = NODE(g, OP_OneHot, 11, 1, in(g, DT_I64, DIMS(2, 3)), cscalar(g, DT_F32, 5),
	         in(g, DT_F32, DIMS(2)));
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 5, 3);
	n = NODE(g, OP_Shape, 15, 1, x);
	aint(g, n, "start", -2);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 2);
	n = NODE(g, OP_Shape, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 3);
	n = NODE(g, OP_Size, 13, 1, x);
	infer_ok(g, n);
	EXPECT_SCALAR(g, n, 0, DT_I64);
	n = NODE(g, OP_Trilu, 14, 1, x, cscalar(g, DT_I64, 1));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 8, 6);
	n = NODE(g, OP_DepthToSpace, 13, 1, in(g, DT_F32, DIMS(1, 8, 2, 3)));
	aint(g, n, "blocksize", 2);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 4, 6);
	n = NODE(g, OP_SpaceToDepth, 13, 1, in(g, DT_F32, DIMS(1, 2, 4, 6)));
	aint(g, n, "blocksize", 2);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 8, 2, 3);
	n = NODE(g, OP_EyeLike, 13, 1, in(g, DT_F32, DIMS(3, 4)));
	aint(g, n, "dtype", DT_I32);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I32, 3, 4);
	done(g);
}

/* ---- reductions ------------------------------------------------------- */
static void test_reduce(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 3, 4));
	NodeId n = NODE(g, OP_ReduceMean, 13, 1, x);
	aints(g, n, "axes", I64S(-1));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 1);
	n = NODE(g, OP_ReduceMean, 13, 1, x);
	aints(g, n, "axes", I64S(0, 2));
	aint(g, n, "keepdims", 0);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3);
	n = NODE(g, OP_ReduceSum, 13, 1, x, ci64(g, I64S(1)));
	aint(g, n, "keepdims", 0);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 4);
	/* no axes: all; keepdims 1 */
	n = NODE(g, OP_ReduceMax, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 1, 1);
	n = NODE(g, OP_ReduceSum, 13, 1, x);
	aint(g, n, "keepdims", 0);
	infer_ok(g, n);
	EXPECT_SCALAR(g, n, 0, DT_F32);
	/* empty axes input with noop_with_empty_axes: identity */
	n = NODE(g, OP_ReduceSum, 13, 1, x, ci64(g, 0, (int64_t[]){0}));
	aint(g, n, "noop_with_empty_axes", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4);
	/* ReduceMean-18: axes become an input */
	n = NODE(g, OP_ReduceMean, 18, 1, x, ci64(g, I64S(-2)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 1, 4);
	n = NODE(g, OP_ReduceMean, 13, 1, x, ci64(g, I64S(1)));
	infer_err(g, n, "input 1: axes as an input needs opset >= 18 (node has 13)");
	n = NODE(g, OP_ReduceL2, 13, 1, x);
	aints(g, n, "axes", I64S(1, -2));
	infer_err(g, n, "axis -2 repeated");
	n = NODE(g, OP_ArgMax, 13, 1, x);
	aint(g, n, "axis", -1);
	aint(g, n, "keepdims", 0);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 2, 3);
	n = NODE(g, OP_ArgMin, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_I64, 1, 3, 4);
	done(g);
}

/* ---- neural-network ops ------------------------------------------------- */
static void test_matmul_gemm(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(3)), in(g, DT_F32, DIMS(3, 4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4);
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(2, 3, 4)), in(g, DT_F32, DIMS(4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3);
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(3)), in(g, DT_F32, DIMS(3)));
	infer_ok(g, n);
	EXPECT_SCALAR(g, n, 0, DT_F32);
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(2, 1, 3, 4)), in(g, DT_F32, DIMS(5, 4, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 5, 3, 6);
	/* Linear on a 3-D input */
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(8, 49, 96)), in(g, DT_F32, DIMS(96, 288)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 8, 49, 288);
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(2, 3, 4)), in(g, DT_F32, DIMS(5, 6)));
	infer_err(g, n, "input 1: inner dims differ: [2,3,4] x [5,6] (4 vs 5)");
	n = NODE(g, OP_MatMul, 13, 1, in(g, DT_F32, DIMS(2, 3, 4)), in(g, DT_F32, DIMS(3, 4, 6)));
	infer_err(g, n, "does not broadcast");
	n = NODE(g, OP_Gemm, 13, 1, in(g, DT_F32, DIMS(4, 3)), in(g, DT_F32, DIMS(5, 4)),
	         in(g, DT_F32, DIMS(5)));
	aint(g, n, "transA", 1);
	aint(g, n, "transB", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 5);
	n = NODE(g, OP_Gemm, 13, 1, in(g, DT_F32, DIMS(3, 4)), in(g, DT_F32, DIMS(4, 5)),
	         in(g, DT_F32, DIMS(3, 1)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 5);
	n = NODE(g, OP_Gemm, 13, 1, in(g, DT_F32, DIMS(3, 4)), in(g, DT_F32, DIMS(4, 5)),
	         in(g, DT_F32, DIMS(2, 5)));
	infer_err(g, n, "input 2:");
	done(g);
}

static NodeId einsum(Graph *g, const char *eq, ValueId a, ValueId b)
{
	NodeId n = b == IR_NONE ? NODE(g, OP_Einsum, 12, 1, a) : NODE(g, OP_Einsum, 12, 1, a, b);
	astr(g, n, "equation", eq);
	return n;
}

static void test_einsum(void **st)
{
	Graph *g = mk();
	/* Transformer-XL: i=qlen 5, j=klen 7, b=batch 2, n=heads 4, d=head dim 8 */
	NodeId n = einsum(g, "ibnd,jbnd->ijbn", in(g, DT_F32, DIMS(5, 2, 4, 8)),
	                  in(g, DT_F32, DIMS(7, 2, 4, 8)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 7, 2, 4);
	n = einsum(g, "ibnd,jnd->ijbn", in(g, DT_F32, DIMS(5, 2, 4, 8)), in(g, DT_F32, DIMS(7, 4, 8)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 7, 2, 4);
	n = einsum(g, "ijbn,jbnd->ibnd", in(g, DT_F32, DIMS(5, 7, 2, 4)),
	           in(g, DT_F32, DIMS(7, 2, 4, 8)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 2, 4, 8);
	n = einsum(g, "bij,bjk->bik", in(g, DT_F32, DIMS(3, 4, 5)), in(g, DT_F32, DIMS(3, 5, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 4, 6);
	/* implicit output: letters occurring once, alphabetical */
	n = einsum(g, "ij,jk", in(g, DT_F32, DIMS(4, 5)), in(g, DT_F32, DIMS(5, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4, 6);
	n = einsum(g, "ba", in(g, DT_F32, DIMS(4, 5)), IR_NONE);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 4);
	/* trace (repeated index), and spaces */
	n = einsum(g, "ii -> ", in(g, DT_F32, DIMS(4, 4)), IR_NONE);
	infer_ok(g, n);
	EXPECT_SCALAR(g, n, 0, DT_F32);
	n = einsum(g, "ii->i", in(g, DT_F32, DIMS(4, 4)), IR_NONE);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 4);
	/* ellipsis with broadcasting of the batch dims */
	n = einsum(g, "...ij,...jk->...ik", in(g, DT_F32, DIMS(2, 1, 3, 4)),
	           in(g, DT_F32, DIMS(5, 4, 6)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 5, 3, 6);
	n = einsum(g, "...ij->...ji", in(g, DT_F32, DIMS(2, 3, 4)), IR_NONE);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 4, 3);
	n = einsum(g, "i...j", in(g, DT_F32, DIMS(2, 3, 4, 5)), IR_NONE);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 4, 2, 5);
	n = einsum(g, "ij,jk->ik", in(g, DT_F32, DIMS(4, 5)), in(g, DT_F32, DIMS(6, 7)));
	infer_err(g, n, "input 1: index 'j' has size 6, elsewhere 5");
	n = einsum(g, "ij,jk->iz", in(g, DT_F32, DIMS(4, 5)), in(g, DT_F32, DIMS(5, 7)));
	infer_err(g, n, "output index 'z' is not in any input");
	n = einsum(g, "ijk,jk->ik", in(g, DT_F32, DIMS(4, 5)), in(g, DT_F32, DIMS(5, 7)));
	infer_err(g, n, "input 0: equation term 0 names 3 dims, input has rank 2");
	n = einsum(g, "ij->i", in(g, DT_F32, DIMS(4, 5)), in(g, DT_F32, DIMS(5, 7)));
	infer_err(g, n, "has 1 terms for 2 inputs");
	done(g);
}

static NodeId conv(Graph *g, const int64_t *xd, int xr, const int64_t *wd)
{
	return NODE(g, OP_Conv, 13, 1, in(g, DT_F32, xr, xd), in(g, DT_F32, xr, wd));
}

static void test_conv(void **st)
{
	Graph *g = mk();
	int64_t x32[] = {1, 3, 32, 32}, w3[] = {8, 3, 3, 3};
	NodeId n = conv(g, x32, 4, w3);
	aints(g, n, "pads", I64S(1, 1, 1, 1));
	aints(g, n, "strides", I64S(2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 8, 16, 16);
	n = conv(g, x32, 4, w3);
	aints(g, n, "dilations", I64S(2, 3));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 8, 28, 26);
	/* asymmetric pads */
	n = conv(g, x32, 4, w3);
	aints(g, n, "pads", I64S(0, 1, 2, 0));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 8, 32, 31);
	/* depthwise: group = channels */
	int64_t x8[] = {1, 8, 10, 10}, wdw[] = {8, 1, 3, 3};
	n = conv(g, x8, 4, wdw);
	aint(g, n, "group", 8);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 8, 8, 8);
	/* grouped: 2 groups of 4 channels, 6 filters */
	int64_t wg[] = {6, 4, 3, 3};
	n = conv(g, x8, 4, wg);
	aint(g, n, "group", 2);
	aints(g, n, "strides", I64S(2, 1));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 6, 4, 8);
	int64_t x15[] = {2, 3, 15, 15};
	n = conv(g, x15, 4, w3);
	astr(g, n, "auto_pad", "SAME_UPPER");
	aints(g, n, "strides", I64S(2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 8, 8, 8);
	n = conv(g, x15, 4, w3);
	astr(g, n, "auto_pad", "SAME_LOWER");
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 8, 15, 15);
	n = conv(g, x15, 4, w3);
	astr(g, n, "auto_pad", "VALID");
	aints(g, n, "strides", I64S(2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 8, 7, 7);
	/* patchify stem: kernel == stride */
	int64_t ximg[] = {1, 3, 224, 224}, wp[] = {64, 3, 4, 4};
	n = conv(g, ximg, 4, wp);
	aints(g, n, "kernel_shape", I64S(4, 4));
	aints(g, n, "strides", I64S(4, 4));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 64, 56, 56);
	/* 1-D conv with bias */
	n = NODE(g, OP_Conv, 13, 1, in(g, DT_F32, DIMS(1, 4, 9)), in(g, DT_F32, DIMS(5, 4, 3)),
	         in(g, DT_F32, DIMS(5)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 5, 7);
	int64_t wbad[] = {8, 4, 3, 3};
	n = conv(g, x32, 4, wbad);
	infer_err(g, n, "input 1: W has 4 input channels per group, X has 3 channels in 1 groups");
	n = conv(g, x32, 4, w3);
	aints(g, n, "kernel_shape", I64S(5, 5));
	infer_err(g, n, "kernel_shape 5 differs from W's dim 3");
	done(g);
}

static void test_conv_transpose_pool(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_ConvTranspose, 13, 1, in(g, DT_F32, DIMS(1, 4, 5, 5)),
	                in(g, DT_F32, DIMS(4, 2, 3, 3)));
	aints(g, n, "strides", I64S(2, 2));
	aints(g, n, "pads", I64S(1, 1, 1, 1));
	aints(g, n, "output_padding", I64S(1, 0));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 10, 9);
	n = NODE(g, OP_ConvTranspose, 13, 1, in(g, DT_F32, DIMS(1, 4, 5, 5)),
	         in(g, DT_F32, DIMS(4, 3, 3, 3)));
	aint(g, n, "group", 2);
	aints(g, n, "output_shape", I64S(11, 12));
	aints(g, n, "strides", I64S(2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 6, 11, 12);
	ValueId x = in(g, DT_F32, DIMS(1, 2, 32, 32));
	n = NODE(g, OP_MaxPool, 12, 2, x);
	aints(g, n, "kernel_shape", I64S(3, 3));
	aints(g, n, "strides", I64S(2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 15, 15);
	EXPECT(g, n, 1, DT_I64, 1, 2, 15, 15);
	n = NODE(g, OP_MaxPool, 12, 1, x);
	aints(g, n, "kernel_shape", I64S(3, 3));
	aints(g, n, "strides", I64S(2, 2));
	aint(g, n, "ceil_mode", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 16, 16);
	/* ceil_mode: a last window starting in the end padding is dropped */
	n = NODE(g, OP_AveragePool, 12, 1, in(g, DT_F32, DIMS(1, 1, 5)));
	aints(g, n, "kernel_shape", I64S(2));
	aints(g, n, "strides", I64S(2));
	aints(g, n, "pads", I64S(1, 1));
	aint(g, n, "ceil_mode", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 1, 3);
	n = NODE(g, OP_MaxPool, 12, 1, x);
	aints(g, n, "kernel_shape", I64S(3, 3));
	aints(g, n, "dilations", I64S(2, 2));
	aints(g, n, "pads", I64S(2, 2, 2, 2));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 32, 32);
	n = NODE(g, OP_MaxPool, 12, 1, x);
	infer_err(g, n, "attribute 'kernel_shape' is required");
	n = NODE(g, OP_GlobalAveragePool, 13, 1, x);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2, 1, 1);
	done(g);
}

static void test_norms(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 49, 96));
	NodeId n = NODE(g, OP_LayerNormalization, 17, 3, x, in(g, DT_F32, DIMS(96)),
	                in(g, DT_F32, DIMS(96)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 49, 96);
	EXPECT(g, n, 1, DT_F32, 2, 49, 1);
	EXPECT(g, n, 2, DT_F32, 2, 49, 1);
	n = NODE(g, OP_LayerNormalization, 17, 3, x, in(g, DT_F32, DIMS(49, 96)));
	aint(g, n, "axis", 1);
	infer_ok(g, n);
	EXPECT(g, n, 1, DT_F32, 2, 1, 1);
	n = NODE(g, OP_LayerNormalization, 17, 1, x, in(g, DT_F32, DIMS(95)));
	infer_err(g, n, "input 1:");
	ValueId c = in(g, DT_F32, DIMS(3));
	n = NODE(g, OP_BatchNormalization, 15, 3, in(g, DT_F32, DIMS(2, 3, 4, 4)), c, c, c, c);
	aint(g, n, "training_mode", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 4, 4);
	EXPECT(g, n, 1, DT_F32, 3);
	n = NODE(g, OP_BatchNormalization, 15, 1, in(g, DT_F32, DIMS(2, 4, 4, 4)), c, c, c, c);
	infer_err(g, n, "input 1: shape [3], expected [4]");
	n = NODE(g, OP_InstanceNormalization, 13, 1, in(g, DT_F32, DIMS(2, 3, 5)), c, c);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 3, 5);
	done(g);
}

static void test_rnn(void **st)
{
	Graph *g = mk();
	/* seq 5, batch 2, input 3, hidden 4, bidirectional */
	NodeId n = NODE(g, OP_LSTM, 14, 3, in(g, DT_F32, DIMS(5, 2, 3)),
	                in(g, DT_F32, DIMS(2, 16, 3)), in(g, DT_F32, DIMS(2, 16, 4)),
	                in(g, DT_F32, DIMS(2, 32)), IR_NONE, in(g, DT_F32, DIMS(2, 2, 4)));
	astr(g, n, "direction", "bidirectional");
	aint(g, n, "hidden_size", 4);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 2, 2, 4);
	EXPECT(g, n, 1, DT_F32, 2, 2, 4);
	EXPECT(g, n, 2, DT_F32, 2, 2, 4);
	/* layout 1: batch first */
	n = NODE(g, OP_LSTM, 14, 3, in(g, DT_F32, DIMS(2, 5, 3)), in(g, DT_F32, DIMS(1, 16, 3)),
	         in(g, DT_F32, DIMS(1, 16, 4)));
	aint(g, n, "layout", 1);
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 2, 5, 1, 4);
	EXPECT(g, n, 1, DT_F32, 2, 1, 4);
	n = NODE(g, OP_GRU, 14, 2, in(g, DT_F32, DIMS(5, 2, 3)), in(g, DT_F32, DIMS(1, 12, 3)),
	         in(g, DT_F32, DIMS(1, 12, 4)));
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 5, 1, 2, 4);
	EXPECT(g, n, 1, DT_F32, 1, 2, 4);
	n = NODE(g, OP_RNN, 14, 2, in(g, DT_F32, DIMS(5, 2, 3)), in(g, DT_F32, DIMS(1, 4, 3)),
	         in(g, DT_F32, DIMS(1, 4, 4)));
	infer_ok(g, n);
	EXPECT(g, n, 1, DT_F32, 1, 2, 4);
	n = NODE(g, OP_LSTM, 14, 3, in(g, DT_F32, DIMS(5, 2, 3)), in(g, DT_F32, DIMS(1, 12, 3)),
	         in(g, DT_F32, DIMS(1, 16, 4)));
	infer_err(g, n, "(LSTM): input 1: shape [1,12,3], expected [1,16,3]");
	done(g);
}

/* ---- driver errors, every op covered ---------------------------------- */
static void test_unknown_op_and_arity(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2));
	ValueId o = graph_add_value(g, NULL, DT_UNDEF, NULL);
	NodeId n = graph_add_node(g, OP_UNKNOWN, "FancyOp", "f", &x, 1, &o, 1);
	g->nodes[n].domain = "com.example";
	g->nodes[n].opset = 3;
	infer_err(g, n, "node 'f' (FancyOp): unsupported operator 'FancyOp' (domain 'com.example', opset 3)");
	n = NODE(g, OP_Add, 13, 1, x);
	infer_err(g, n, "(Add): expected 2 inputs, got 1");
	n = NODE(g, OP_Relu, 13, 1, x, x);
	infer_err(g, n, "(Relu): expected 1 inputs, got 2");
	n = NODE(g, OP_Slice, 13, 1, x, x, x, x, x, x);
	infer_err(g, n, "(Slice): expected 1 to 5 inputs, got 6");
	n = NODE(g, OP_TopK, 13, 1, x, ci64(g, I64S(1)));
	infer_err(g, n, "(TopK): expected 2 outputs, got 1");
	n = NODE(g, OP_Gather, 13, 1, x, IR_NONE);
	infer_err(g, n, "(Gather): input 1: required input is missing");
	/* opset left unset (0) on a hand-built node: the graph's import holds */
	n = NODE(g, OP_Unsqueeze, 0, 1, x, ci64(g, I64S(0)));
	infer_err(g, n, "(Unsqueeze): no opset version in force for domain 'ai.onnx'");
	g->opsets = arena_alloc(&g->arena, sizeof(OpsetImport));
	g->opsets[0].domain = "";
	g->opsets[0].version = 13;
	g->nopsets = 1;
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 1, 2);
	/* an input without a static shape */
	Shape sym = shape_make(1, NULL);
	sym.sym[0] = "batch";
	ValueId y = graph_add_value(g, "y", DT_F32, &sym);
	n = NODE(g, OP_Relu, 13, 1, y);
	infer_err(g, n, "input 0: 'y' has no static shape [batch]");
	done(g);
}

/* Sizes computed from hostile attributes saturate instead of overflowing,
 * and the driver reports them. */
static void test_size_overflow(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_Tile, 13, 1, in(g, DT_F32, DIMS(3, 2)),
	                ci64(g, I64S(INT64_MAX / 2, 3)));
	infer_err(g, n, "(Tile): output 0: inferred shape");
	assert_true(diag_contains(&D, "is invalid or too large (a negative dim or more than 2^48 elements)"));
	n = NODE(g, OP_ConvTranspose, 13, 1, in(g, DT_F32, DIMS(1, 1, 5)), in(g, DT_F32, DIMS(1, 1, 3)));
	aints(g, n, "strides", I64S(INT64_MAX));
	infer_err(g, n, "(ConvTranspose): output 0: inferred shape");
	n = NODE(g, OP_Conv, 13, 1, in(g, DT_F32, DIMS(1, 1, 5)), in(g, DT_F32, DIMS(1, 1, 3)));
	aints(g, n, "dilations", I64S(INT64_MAX));
	infer_err(g, n, "(Conv): input 0: spatial axis 0: padded size 5 smaller than the window");
	n = NODE(g, OP_Range, 11, 1, cscalar(g, DT_I64, (double)INT64_MIN), cscalar(g, DT_I64, 1e18),
	         cscalar(g, DT_I64, 1));
	infer_err(g, n, "is too large");
	n = NODE(g, OP_Reshape, 13, 1, in(g, DT_F32, DIMS(4)), ci64(g, I64S(INT64_MAX, 4, -1)));
	infer_err(g, n, "cannot infer -1");
	done(g);
}

/* A declared output type (graph output or value_info) that contradicts the
 * inferred one is an error; a symbolic or unknown declared dim is not. */
static void test_declared_output_mismatch_is_error(void **st)
{
	Graph *g = mk();
	NodeId n = NODE(g, OP_Transpose, 13, 1, in(g, DT_F32, DIMS(2, 3)));
	Value *o = gval(g, g->nodes[n].out[0]);
	o->is_output = true;
	o->dtype = DT_F32;
	o->shape = shape_make(2, (int64_t[]){2, 3});
	infer_err(g, n, "output 0 ('");
	assert_true(diag_contains(&D, "inferred f32[3,2] contradicts the declared f32[2,3] (graph output)"));
	done(g);

	g = mk();
	n = NODE(g, OP_Transpose, 13, 1, in(g, DT_F32, DIMS(2, 3)));
	o = gval(g, g->nodes[n].out[0]);
	o->dtype = DT_I64;
	infer_err(g, n, "inferred f32[3,2] contradicts the declared i64 (value_info)");
	done(g);

	g = mk();
	n = NODE(g, OP_Transpose, 13, 1, in(g, DT_F32, DIMS(2, 3)));
	o = gval(g, g->nodes[n].out[0]);
	o->dtype = DT_F32;
	o->shape = shape_make(2, (int64_t[]){-1, 2});
	o->shape.sym[0] = "batch";
	infer_ok(g, n);
	EXPECT(g, n, 0, DT_F32, 3, 2);
	done(g);
}

/* Robustness: every op with random inputs (dtypes, ranks, sizes, constant
 * contents including INT64_MIN/MAX) and random attributes either infers a
 * sane shape or fails with a diagnostic — never an assert, a sanitizer
 * report or a crash.  Deterministic (fixed seed). */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static int64_t rnd_int(void)
{
	static const int64_t special[] = {INT64_MAX, INT64_MIN, -1, 0, 1, 2, 3, 1000000007};
	if (rnd() % 8 == 0)
		return special[rnd() % 8];
	return (int64_t)(rnd() % 11) - 5;
}

static ValueId rnd_value(Graph *g)
{
	static const DType dts[] = {DT_F32, DT_F32, DT_I64, DT_I64, DT_BOOL, DT_I32, DT_F16};
	DType dt = dts[rnd() % 7];
	int64_t dims[4];
	int r = (int)(rnd() % 5);
	for (int i = 0; i < r; i++)
		dims[i] = (int64_t)(rnd() % 5);
	Shape s = shape_make(r, dims);
	if (dt == DT_I64 && r <= 1 && rnd() % 2) {
		int64_t vals[4];
		for (int64_t i = 0; i < shape_numel(&s); i++)
			vals[i] = rnd_int();
		return graph_add_const(g, NULL, dt, &s, vals);
	}
	return in(g, dt, r, dims);
}

static void rnd_attrs(Graph *g, NodeId n)
{
	static const char *const int_names[] = {"axis", "keepdims", "group", "transA", "transB",
		"blocksize", "to", "allowzero", "ceil_mode", "hidden_size", "layout", "batch_dims",
		"num_outputs", "noop_with_empty_axes", "start", "end", "dtype", "stash_type"};
	static const char *const ints_names[] = {"axes", "perm", "split", "pads", "strides",
		"kernel_shape", "dilations", "starts", "ends", "output_padding", "output_shape"};
	static const char *const strs[][2] = {{"auto_pad", "SAME_UPPER"}, {"auto_pad", "VALID"},
		{"direction", "bidirectional"}, {"equation", "ij,jk->ik"}, {"equation", "...i,i"},
		{"equation", "a..b"}, {"equation", "ii->i"}, {"mode", "reflect"}, {"mode", "CRD"},
		{"direction", "LEFT"}, {"reduction", "add"}};
	int na = (int)(rnd() % 4);
	for (int i = 0; i < na; i++) {
		switch (rnd() % 3) {
		case 0:
			aint(g, n, int_names[rnd() % 18], rnd_int());
			break;
		case 1: {
			int64_t v[6];
			int cnt = (int)(rnd() % 7);
			for (int k = 0; k < cnt; k++)
				v[k] = rnd_int();
			aints(g, n, ints_names[rnd() % 11], cnt, v);
			break;
		}
		default: {
			int k = (int)(rnd() % 11);
			astr(g, n, strs[k][0], strs[k][1]);
		}
		}
	}
}

static void test_random_nodes_never_crash(void **st)
{
	int ok = 0, failed = 0;
	for (int op = 1; op < OP__COUNT; op++) {
		const OpInfo *oi = &op_info[op];
		if (oi->flags & OPF_FUSED)
			continue;
		for (int trial = 0; trial < 300; trial++) {
			Graph *g = mk();
			int hi = oi->max_in < 0 ? oi->min_in + 3 : oi->max_in;
			int nin = oi->min_in + (int)(rnd() % (unsigned)(hi - oi->min_in + 1));
			int ohi = oi->max_out < 0 ? 4 : oi->max_out;
			int nout = oi->min_out + (int)(rnd() % (unsigned)(ohi - oi->min_out + 1));
			ValueId ins[16]; /* QLinearConv has 9 inputs */
			for (int k = 0; k < nin; k++)
				ins[k] = k >= oi->min_in && rnd() % 4 == 0 ? IR_NONE : rnd_value(g);
			NodeId n = node(g, (Op)op, (int)(rnd() % 19) + 1, nin, ins, nout);
			rnd_attrs(g, n);
			if (pass_infer_node(g, n, &D)) {
				ok++;
				for (int k = 0; k < nout; k++) {
					Value *v = gval(g, g->nodes[n].out[k]);
					assert_true(shape_is_static(&v->shape));
					assert_true(v->dtype != DT_UNDEF);
				}
			} else {
				failed++;
				assert_true(D.nerrors > 0);
			}
			done(g);
		}
	}
	print_message("random nodes: %d inferred, %d diagnosed\n", ok, failed);
	assert_true(ok > 0 && failed > 0);
}

static void test_every_op_has_rule(void **st)
{
	/* fused ops are created after inference, with their shapes set */
	for (int op = 1; op < OP__COUNT; op++)
		if (!(op_info[op].flags & OPF_FUSED) && !pass_infer_has_rule((Op)op))
			fail_msg("no shape rule for %s", op_name((Op)op));
	assert_false(pass_infer_has_rule(OP_UNKNOWN));
}

/* ---- pass level ---------------------------------------------------------- */
static void test_bind_dims(void **st)
{
	Graph *g = mk();
	Shape s = shape_make(3, NULL);
	s.sym[0] = "batch";
	s.sym[1] = "seq";
	s.dims[2] = 16;
	ValueId x = graph_add_value(g, "x", DT_F32, &s);
	gval(g, x)->kind = VK_INPUT;
	g->inputs = arena_dup(&g->arena, &x, sizeof x);
	g->ninputs = 1;
	const char *one[] = {"batch=2"};
	assert_false(pass_bind_dims(g, one, 1, &D));
	assert_true(diag_contains(&D, "input 'x' dim 1 is symbolic ('seq'): bind it with --dim seq=N"));
	assert_int_equal(gval(g, x)->shape.dims[0], 2);
	const char *bad[] = {"seq"};
	assert_false(pass_bind_dims(g, bad, 1, &D));
	assert_true(diag_contains(&D, "bad dim binding 'seq'"));
	const char *more[] = {"seq=7", "unused=3"};
	assert_true(pass_bind_dims(g, more, 2, &D));
	assert_true(diag_contains(&D, "dim binding 'unused=3' matches no symbolic input dim"));
	Shape want = shape_make(3, (int64_t[]){2, 7, 16});
	assert_true(shape_eq(&gval(g, x)->shape, &want));
	done(g);
}

/* The exporter's shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape) resolves when the folder runs after each node. */
static void test_infer_shapes_with_folding(void **st)
{
	Graph *g = mk();
	ValueId x = in(g, DT_F32, DIMS(2, 6, 4));
	g->inputs = arena_dup(&g->arena, &x, sizeof x);
	g->ninputs = 1;
	NodeId sh = NODE(g, OP_Shape, 13, 1, x);
	NodeId ga = NODE(g, OP_Gather, 13, 1, g->nodes[sh].out[0], cscalar(g, DT_I64, 0));
	NodeId un = NODE(g, OP_Unsqueeze, 13, 1, g->nodes[ga].out[0], ci64(g, I64S(0)));
	NodeId cc = NODE(g, OP_Concat, 13, 1, g->nodes[un].out[0], ci64(g, I64S(3, -1)));
	aint(g, cc, "axis", 0);
	NodeId rs = NODE(g, OP_Reshape, 13, 1, x, g->nodes[cc].out[0]);
	NodeId tr = NODE(g, OP_Transpose, 13, 1, g->nodes[rs].out[0]);
	aints(g, tr, "perm", I64S(1, 0, 2));
	if (!pass_infer_shapes(g, &D))
		fail_msg("%s", D.buf ? D.buf : "");
	assert_true(g->shapes_known);
	EXPECT(g, rs, 0, DT_F32, 2, 3, 8);
	EXPECT(g, tr, 0, DT_F32, 3, 2, 8);
	done(g);
}

static void test_infer_shapes_needs_static_inputs(void **st)
{
	Graph *g = mk();
	Shape s = shape_make(2, (int64_t[]){-1, 4});
	s.sym[0] = "n";
	ValueId x = graph_add_value(g, "x", DT_F32, &s);
	gval(g, x)->kind = VK_INPUT;
	g->inputs = arena_dup(&g->arena, &x, sizeof x);
	g->ninputs = 1;
	NODE(g, OP_Relu, 13, 1, x);
	assert_false(pass_infer_shapes(g, &D));
	assert_true(diag_contains(&D, "input 'x' has no static shape [n,4]"));
	assert_false(g->shapes_known);
	done(g);
}

/* ---- ONNX node tests ---------------------------------------------------- */
/* Makes graph input k (value v) a constant holding the test's input_k.pb. */
static bool read_input(Graph *g, const char *dir, int k, ValueId v)
{
	char path[4096];
	Diag d;
	Tensor t;
	if (snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k) >= (int)sizeof path)
		fail_msg("path too long: %s", dir);
	diag_init(&d, path, false);
	bool ok = onnx_load_tensor_file(path, &g->arena, &t, NULL, &d);
	diag_free(&d);
	if (!ok)
		return false;
	Value *val = gval(g, v);
	if (t.dtype != val->dtype || !shape_eq(&t.shape, &val->shape))
		return false;
	val->kind = VK_CONST;
	val->data = t.data;
	val->nbytes = t.nbytes;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_node_models(void **st)
{
	DIR *dir = opendir(ONNXCC_NODE_TESTS);
	if (!dir)
		skip();
	char **names = NULL;
	int nn = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (nn == cap)
			names = realloc(names, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 1024));
		names[nn++] = strdup(e->d_name);
	}
	closedir(dir);
	qsort(names, (size_t)nn, sizeof *names, cmp_str);
	int checked = 0, outputs = 0, static_decl = 0, unsupported = 0, rejected = 0, mismatched = 0, noload = 0;
	for (int i = 0; i < nn; i++) {
		char mdir[4096], model[4200];
		snprintf(mdir, sizeof mdir, "%s/%s", ONNXCC_NODE_TESTS, names[i]);
		snprintf(model, sizeof model, "%s/model.onnx", mdir);
		Diag d;
		diag_init(&d, model, false);
		Graph *g = onnx_load(model, &d);
		if (!g) {
			noload++;
			print_message("  %-55s not loadable: %s", names[i], diag_last(&d));
			diag_free(&d);
			continue;
		}
		bool unknown = false;
		for (int k = 0; k < g->nnodes; k++)
			unknown |= g->nodes[k].op == OP_UNKNOWN;
		if (unknown) {
			unsupported++;
			graph_free(g);
			diag_free(&d);
			continue;
		}
		/* Static compilation takes shape-defining inputs as constants: give
		 * every integer input and every scalar-sized input its test data. */
		for (int k = 0; k < g->ninputs; k++) {
			Value *v = gval(g, g->inputs[k]);
			if (dtype_is_int(v->dtype) || shape_numel(&v->shape) == 1)
				read_input(g, mdir, k, g->inputs[k]);
		}
		Shape declared[64];
		DType ddt[64];
		int no = g->noutputs < 64 ? g->noutputs : 64;
		for (int k = 0; k < no; k++) {
			declared[k] = gval(g, g->outputs[k])->shape;
			ddt[k] = gval(g, g->outputs[k])->dtype;
		}
		if (!pass_infer_shapes(g, &d)) {
			rejected++;
			print_message("  %-55s rejected: %s", names[i], diag_last(&d));
			graph_free(g);
			diag_free(&d);
			continue;
		}
		checked++;
		for (int k = 0; k < no; k++) {
			Value *v = gval(g, g->outputs[k]);
			outputs++;
			static_decl += declared[k].rank >= 0 && shape_is_static(&declared[k]);
			if ((declared[k].rank >= 0 && shape_is_static(&declared[k]) &&
			     !shape_eq(&declared[k], &v->shape)) ||
			    (ddt[k] != DT_UNDEF && ddt[k] != v->dtype)) {
				char a[128], b[128];
				mismatched++;
				print_message("  %-55s output %d: inferred %s %s, declared %s %s\n", names[i],
				              k, dtype_name(v->dtype), shape_str(&v->shape, a, sizeof a),
				              dtype_name(ddt[k]), shape_str(&declared[k], b, sizeof b));
			}
		}
		graph_free(g);
		diag_free(&d);
	}
	print_message("node tests: %d models, %d inferred (%d outputs compared, %d of them with a "
	              "static declared shape), %d mismatched, %d rejected, %d with unsupported ops, "
	              "%d not loadable\n", nn, checked, outputs, static_decl, mismatched, rejected,
	              unsupported, noload);
	for (int i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	assert_int_equal(mismatched, 0);
	assert_true(checked > 0);
}

/* The target families (tests/models/NAME/model.onnx, PyTorch exports with
 * static inputs): inference must succeed on every model, with the folder
 * resolving the exporter's shape arithmetic, and give each graph output its
 * declared shape (where the declared dim is a number) and dtype. */
static void test_family_models(void **st)
{
	const char *root = ONNXCC_SOURCE_DIR "/tests/models";
	DIR *dir = opendir(root);
	if (!dir)
		skip();
	struct dirent *e;
	int models = 0, nodes = 0;
	while ((e = readdir(dir))) {
		char model[4096];
		struct stat sb;
		if (e->d_name[0] == '.')
			continue;
		snprintf(model, sizeof model, "%s/%s/model.onnx", root, e->d_name);
		if (stat(model, &sb) != 0)
			continue;
		Diag d;
		diag_init(&d, model, false);
		Graph *g = onnx_load(model, &d);
		if (!g)
			fail_msg("%s: %s", e->d_name, diag_last(&d));
		Shape declared[16];
		DType ddt[16];
		assert_true(g->noutputs <= 16);
		for (int k = 0; k < g->noutputs; k++) {
			declared[k] = gval(g, g->outputs[k])->shape;
			ddt[k] = gval(g, g->outputs[k])->dtype;
		}
		nodes += g->nnodes;
		if (!pass_infer_shapes(g, &d))
			fail_msg("%s: %s", e->d_name, diag_last(&d));
		for (int k = 0; k < g->noutputs; k++) {
			Value *v = gval(g, g->outputs[k]);
			char a[128], b[128];
			/* a dim the exporter left symbolic (torchvision's Swin declares
			 * its logits [Gemmlogits_dim_0, 10]) matches any size */
			bool same = declared[k].rank == v->shape.rank;
			for (int i = 0; same && i < v->shape.rank; i++)
				same = declared[k].sym[i] || declared[k].dims[i] == v->shape.dims[i];
			if (!same || ddt[k] != v->dtype)
				fail_msg("%s: output '%s': inferred %s %s, declared %s %s", e->d_name, v->name,
				         dtype_name(v->dtype), shape_str(&v->shape, a, sizeof a),
				         dtype_name(ddt[k]), shape_str(&declared[k], b, sizeof b));
		}
		assert_int_equal(d.nwarnings, 0);
		models++;
		graph_free(g);
		diag_free(&d);
	}
	closedir(dir);
	print_message("family models: %d inferred (%d nodes)\n", models, nodes);
	assert_true(models > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broadcast),
		cmocka_unit_test(test_broadcast_mismatch),
		cmocka_unit_test(test_dtype_checks),
		cmocka_unit_test(test_unary_cast),
		cmocka_unit_test(test_reshape),
		cmocka_unit_test(test_reshape_errors),
		cmocka_unit_test(test_flatten_transpose_concat),
		cmocka_unit_test(test_squeeze_unsqueeze),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_slice),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_expand_tile_pad_range),
		cmocka_unit_test(test_misc_index_ops),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_matmul_gemm),
		cmocka_unit_test(test_einsum),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_conv_transpose_pool),
		cmocka_unit_test(test_norms),
		cmocka_unit_test(test_rnn),
		cmocka_unit_test(test_unknown_op_and_arity),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_declared_output_mismatch_is_error),
		cmocka_unit_test(test_random_nodes_never_crash),
		cmocka_unit_test(test_every_op_has_rule),
		cmocka_unit_test(test_bind_dims),
		cmocka_unit_test(test_infer_shapes_with_folding),
		cmocka_unit_test(test_infer_shapes_needs_static_inputs),
		cmocka_unit_test(test_node_models),
		cmocka_unit_test(test_family_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ir/ir.h — the onnxcc graph IR.
 *
 * A Graph owns an arena; every string, attribute array and shape hangs off
 * it and is freed with graph_free().  Values and nodes live in growable
 * arrays and are referred to by 32-bit ids (ValueId, NodeId), so passes can
 * rewrite edges by storing integers.
 *
 * Invariants checked by ir_verify():
 *   - every value has at most one producer; graph inputs and constants none;
 *   - node inputs refer to existing values or IR_NONE (an omitted optional);
 *   - the live nodes, in array order, are topologically sorted;
 *   - once shapes are inferred (g->shapes_known), every live value has a
 *     dtype and a static shape.
 */
#ifndef ONNXCC_IR_H
#define ONNXCC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* ---- arena ------------------------------------------------------------ */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
	ArenaBlock *head;
} Arena;

void *arena_alloc(Arena *a, size_t size);          /* zeroed, 16-aligned */
void *arena_dup(Arena *a, const void *p, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_free(Arena *a);

/* xmalloc & co (ir/xalloc.c): never NULL.  Out of memory is a system
 * error onnxcc does not try to survive: "onnxcc: out of memory" on stderr,
 * the files registered with xalloc_remove_on_oom() unlinked, exit status 2.
 * xstrdup(NULL) is a copy of "". */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Registers path (a temporary file being written) to be unlinked if memory
 * runs out; xalloc_keep_on_oom() unregisters it (after a rename or unlink).
 * At most XALLOC_MAX_CLEANUP paths at a time (a broken invariant beyond). */
enum { XALLOC_MAX_CLEANUP = 8 };
void xalloc_remove_on_oom(const char *path);
void xalloc_keep_on_oom(const char *path);
/* Fault injection for test programs: when set, called before every
 * allocation through xmalloc & co with its number (from 1 over the
 * process); true makes that allocation fail as if malloc had returned
 * NULL.  NULL in onnxcc itself (which reads ONNXCC_FAIL_ALLOC instead). */
extern bool (*xalloc_fault_hook)(unsigned long long n);

/* ---- data types: the numbers are ONNX's TensorProto.DataType ---------- */
typedef enum DType {
	DT_UNDEF = 0,
	DT_F32 = 1,
	DT_U8 = 2,
	DT_I8 = 3,
	DT_U16 = 4,
	DT_I16 = 5,
	DT_I32 = 6,
	DT_I64 = 7,
	DT_STRING = 8,
	DT_BOOL = 9,
	DT_F16 = 10,
	DT_F64 = 11,
	DT_U32 = 12,
	DT_U64 = 13,
	DT_C64 = 14,
	DT_C128 = 15,
	DT_BF16 = 16,
	DT__COUNT
} DType;

const char *dtype_name(DType t);       /* "f32", "i64", ... ; "?" if unknown */
size_t dtype_size(DType t);            /* bytes per element; 0 if unsupported */
bool dtype_is_float(DType t);          /* f16, bf16, f32, f64 */
bool dtype_is_int(DType t);            /* signed and unsigned ints (not bool) */
bool dtype_is_signed(DType t);
const char *dtype_ctype(DType t);      /* "float", "int64_t", "uint16_t" (f16) */

/* ---- shapes ------------------------------------------------------------ */
#define IR_MAX_RANK 8

/* dims[i] >= 0 is a static size; -1 is unknown, with sym[i] naming the
 * symbolic dimension when the model gives one (dim_param). */
typedef struct Shape {
	int rank;                      /* -1: rank unknown */
	int64_t dims[IR_MAX_RANK];
	const char *sym[IR_MAX_RANK];
} Shape;

bool shape_is_static(const Shape *s);
int64_t shape_numel(const Shape *s);   /* product of dims; -1 if not static */
Shape shape_make(int rank, const int64_t *dims);
bool shape_eq(const Shape *a, const Shape *b);
/* Writes "[1,3,224,224]" (symbolic dims by name, unknown as ?) into buf. */
const char *shape_str(const Shape *s, char *buf, size_t n);
/* Row-major element strides of s. */
void shape_strides(const Shape *s, int64_t *strides);

/* ---- ops --------------------------------------------------------------- */
enum {
	OPF_UNARY = 1 << 0,    /* elementwise, one input */
	OPF_BINARY = 1 << 1,   /* elementwise, broadcasting two inputs */
	OPF_VARIADIC = 1 << 2, /* elementwise, broadcasting N inputs */
	OPF_REDUCE = 1 << 3,   /* Reduce* family */
	OPF_FUSED = 1 << 4,    /* onnxcc fused op, domain "onnxcc" */
	OPF_FOLD_SHAPE = 1 << 5,   /* folds from input 0's static shape alone */
	OPF_FOLD_INEXACT = 1 << 6, /* the host evaluator's float result may differ
	                              from the generated code's bits: float
	                              nodes are left to run time */
	OPF_SAME_BYTES = 1 << 7,   /* output holds input 0's bytes when the dtype
	                              is unchanged (folding shares the data) */
};

typedef enum Op {
	OP_UNKNOWN = 0,
#define OP(name, ilo, ihi, olo, ohi, fl, infer, fold, lower) OP_##name,
#include "ops.def"
#undef OP
	OP__COUNT
} Op;

typedef struct OpInfo {
	const char *name;
	int min_in, max_in, min_out, max_out; /* -1: variadic */
	unsigned flags;
} OpInfo;

extern const OpInfo op_info[OP__COUNT];
const char *op_name(Op op);
Op op_lookup(const char *domain, const char *op_type); /* OP_UNKNOWN if none */

/* ---- graph --------------------------------------------------------------- */
typedef int32_t ValueId;
typedef int32_t NodeId;
#define IR_NONE ((int32_t)-1)

typedef enum ValueKind {
	VK_INTERMEDIATE = 0, /* produced by a node */
	VK_INPUT,            /* graph input, supplied by the caller */
	VK_CONST,            /* initializer or folded constant: data != NULL */
} ValueKind;

/* How a value's elements are stored (ir/layout.c; checked by ir_verify).
 * Every value is row-major in its shape unless a pass chose otherwise:
 *   LAYOUT_ROW_MAJOR  the default (not printed by ir_dump);
 *   LAYOUT_PANELS     "panels": a constant f32 matrix [K, N] read only as
 *                     the B operand of GEMM-like nodes (MatMul, MatMulEpi:
 *                     input 1, rank 2; Gemm: input 1, every reader with
 *                     the same transB), stored by codegen packed into the
 *                     GEMM micro-kernel's panels (codegen/kernels/gemm.c,
 *                     panel geometry per target) instead of row-major;
 *                     set by fuse-gemm and fuse-patchify;
 *   LAYOUT_TAPS       "taps": a constant f32 depthwise weight [M, 1, kh, kw]
 *                     read only as input 1 of DwConvNhwc, stored tap-major
 *                     [kh*kw, M] (one vector of channels per tap) by
 *                     codegen/lower_dwconv.c; set by fuse-dwconv.
 * A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity) shares its
 * input's bytes, so its output has its input's layout; only row-major
 * values have views. */
typedef enum Layout {
	LAYOUT_ROW_MAJOR = 0,
	LAYOUT_PANELS,
	LAYOUT_TAPS,
	LAYOUT__COUNT
} Layout;

const char *layout_name(Layout l);     /* "row-major", "panels", "taps" */
/* The layout named s[0..n), or LAYOUT__COUNT. */
Layout layout_lookup(const char *s, size_t n);

typedef struct Value {
	const char *name;    /* ONNX name; unique in the graph */
	DType dtype;
	Shape shape;
	Layout layout;       /* storage order; LAYOUT_ROW_MAJOR unless a pass chose */
	ValueKind kind;
	NodeId producer;     /* IR_NONE for inputs and constants */
	const void *data;    /* VK_CONST: dtype_size*numel bytes, little-endian */
	size_t nbytes;
	bool is_output;      /* a graph output */
} Value;

typedef enum AttrKind {
	AK_UNDEF = 0,
	AK_FLOAT = 1,
	AK_INT = 2,
	AK_STRING = 3,
	AK_TENSOR = 4,
	AK_GRAPH = 5,
	AK_FLOATS = 6,
	AK_INTS = 7,
	AK_STRINGS = 8,
} AttrKind;   /* numbers are ONNX's AttributeProto.AttributeType */

struct Graph;

/* A tensor held by an attribute (Constant's value, ConstantOfShape's). */
typedef struct Tensor {
	DType dtype;
	Shape shape;
	const void *data;
	size_t nbytes;
} Tensor;

typedef struct Attr {
	const char *name;
	AttrKind kind;
	float f;
	int64_t i;
	const char *s;       /* AK_STRING: NUL-terminated (slen excludes NUL) */
	size_t slen;
	int n;               /* AK_FLOATS / AK_INTS / AK_STRINGS: count */
	float *floats;
	int64_t *ints;
	const char **strings;
	Tensor *t;           /* AK_TENSOR */
	struct Graph *g;     /* AK_GRAPH (parsed, not lowered) */
} Attr;

typedef struct Node {
	const char *name;    /* may be "" — diagnostics then use "#<id>" */
	const char *op_type; /* as written in the model */
	const char *domain;  /* "" for ai.onnx */
	Op op;               /* OP_UNKNOWN if not in ops.def */
	int opset;           /* opset version in force for this node's domain */
	int nin, nout;
	ValueId *in;         /* IR_NONE for an omitted optional input */
	ValueId *out;        /* IR_NONE for an omitted optional output */
	int nattr;
	Attr *attrs;
	bool dead;           /* removed; skipped by everything, compacted later */
	const struct OpParams *params; /* typed parameters, parsed once (ir/params.h);
	                                  NULL until first use */
} Node;

typedef struct OpsetImport {
	const char *domain;
	int64_t version;
} OpsetImport;

typedef struct Graph {
	Arena arena;
	const char *path;        /* model file, for diagnostics */
	const char *name;
	Value *values;
	int nvalues, cap_values;
	Node *nodes;
	int nnodes, cap_nodes;
	ValueId *inputs;          /* caller-supplied graph inputs, in order */
	int ninputs;
	ValueId *outputs;
	int noutputs;
	OpsetImport *opsets;
	int nopsets;
	int64_t ir_version;
	const char *producer;
	bool shapes_known;        /* set by pass_infer_shapes */
	void *owner;              /* frontend data the constants point into */
	void (*owner_free)(void *);
	int32_t *name_index;      /* open-addressing hash of value names */
	int name_index_cap;
	int fresh_counter;        /* for generated names */
} Graph;

Graph *graph_new(const char *path);
void graph_free(Graph *g);

/* Adds a value; name is copied (NULL gets a fresh unique name). */
ValueId graph_add_value(Graph *g, const char *name, DType dt, const Shape *s);
/* Adds a constant value whose data is copied into the arena. */
ValueId graph_add_const(Graph *g, const char *name, DType dt, const Shape *s,
                        const void *data);
/* Looks a value up by name; IR_NONE if absent.  O(1) amortized. */
ValueId graph_find_value(Graph *g, const char *name);
/* Appends a node; in/out arrays are copied; producers of outputs set. */
NodeId graph_add_node(Graph *g, Op op, const char *op_type, const char *name,
                      const ValueId *in, int nin, const ValueId *out, int nout);
/* Adds a node at position `at` (0 <= at <= nnodes): the nodes from `at` on
 * move one place up (their ids grow by one, producers follow), so a pass
 * can keep the topological order.  Node ids a caller holds past `at` are
 * stale afterwards.  Returns `at`. */
NodeId graph_insert_node(Graph *g, NodeId at, Op op, const char *op_type, const char *name,
                         const ValueId *in, int nin, const ValueId *out, int nout);
/* Appends an attribute to a node; returns it for filling in. */
Attr *graph_add_attr(Graph *g, NodeId n, const char *name, AttrKind kind);
/* The node's attribute `name` for overwriting (its kind set to `kind`), added
 * when absent; either way the node's parsed parameters are dropped. */
Attr *graph_set_attr(Graph *g, NodeId n, const char *name, AttrKind kind);
/* Rewrites every use of `from` (node inputs, graph outputs) to `to`. */
void graph_replace_uses(Graph *g, ValueId from, ValueId to);
/* Number of live-node uses plus graph-output uses of v. */
int graph_use_count(const Graph *g, ValueId v);
/* Drops dead nodes and unused values' producers; keeps ids of values. */
void graph_compact(Graph *g);
int64_t graph_opset(const Graph *g, const char *domain); /* -1 if absent */

static inline Value *gval(Graph *g, ValueId v) { return &g->values[v]; }

/* Attribute getters: default returned when absent. */
const Attr *node_attr(const Node *n, const char *name);
int64_t attr_int(const Node *n, const char *name, int64_t def);
float attr_float(const Node *n, const char *name, float def);
const char *attr_string(const Node *n, const char *name, const char *def);
/* Returns count (or -1 when absent) and sets *out to the array. */
int attr_ints(const Node *n, const char *name, const int64_t **out);
int attr_floats(const Node *n, const char *name, const float **out);

/* "name" or "#12" when the node has no name; buffer is static per call. */
const char *node_label(const Graph *g, const Node *n);

/* Reads element i of a constant as int64 / double (any numeric dtype). */
int64_t value_get_int(const Value *v, int64_t i);
double value_get_f64(const Value *v, int64_t i);

/* ---- layouts (ir/layout.c; the rules are in its file comment) ---------- */
/* Value v itself (kind, dtype, rank) may have layout l. */
bool layout_value_ok(const Value *v, Layout l);
/* Input k of live node n may read a value of layout l. */
bool layout_reader_ok(const Graph *g, const Node *n, int k, Layout l);
/* Every live reader of v may read it in layout l (for panels: all in one
 * orientation). */
bool layout_readers_ok(const Graph *g, ValueId v, Layout l);
/* Gives the constant w, read as input k of live node `reader`, layout l:
 * w itself when it may have it (all its readers accept l), otherwise a
 * twin constant sharing w's bytes (named "<w>.<layout>") that the reader
 * then reads instead, reusing a twin made for an earlier reader when the
 * readers agree.  Returns the value the reader now reads.  Requires w a
 * constant of the dtype and rank l needs (a graph output gets a twin) and
 * layout_reader_ok(reader, k, l). */
ValueId layout_set_const(Graph *g, ValueId w, NodeId reader, int k, Layout l);

/* ---- verifier and printer ---------------------------------------------- */
/* Checks the invariants above; reports each violation through d and
 * returns false if any. */
bool ir_verify(Graph *g, Diag *d);

/* Stable text dump: one line per value declaration and per node, in
 * order; constants printed by shape and a short prefix of their data.  */
#include <stdio.h>
void ir_dump(Graph *g, FILE *f);

/* Reads the text ir_dump() writes (grammar in ir/parse.c) into a new
 * graph; path names the file in diagnostics ("path: line N: message").
 * Constants must list all their elements unless flags has
 * IR_PARSE_FILL_ELIDED, which repeats the shown prefix of an elided
 * constant (for round trips of real models; such data is not the model's).
 * Returns NULL after a diagnostic.  dump(parse(dump(g))) == dump(g) for
 * every graph without subgraph attributes. */
enum { IR_PARSE_FILL_ELIDED = 1u << 0 };
Graph *ir_parse(const char *text, const char *path, unsigned flags, Diag *d);

#endif

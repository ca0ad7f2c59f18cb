/* passes/fold_priv.h — internals shared by the constant folder's files.
 *
 * Not a public interface: only passes/fold*.c include it.  fold.c is the
 * driver (loads constant inputs, dispatches on the op, stores the result);
 * fold_ten.c holds the host-tensor helpers below; fold_shape.c,
 * fold_elem.c and fold_reduce.c the per-op evaluators.
 *
 * Host tensors (Ten) hold int64 elements (integers and bool) or double
 * elements (float dtypes).  An evaluator reads F->in, fills F->out (shape
 * computed by itself, dtype the output dtype) and returns F_OK; F_SKIP
 * leaves the node to codegen without a diagnostic; F_ERR follows a
 * diagnostic through fold_err. */
#ifndef ONNXCC_FOLD_PRIV_H
#define ONNXCC_FOLD_PRIV_H

#include "fold.h"

#include <math.h>
#include <stdint.h>

typedef struct Ten {
	DType dt;
	Shape s;
	int64_t n;
	bool isf;       /* elements in f (float dtypes), else in i */
	int64_t *i;
	double *f;
} Ten;

typedef enum { F_OK, F_SKIP, F_ERR } FRes;

typedef struct Fold {
	Graph *g;
	Node *n;
	Diag *d;
	int nin;
	Ten *in;        /* [nin]; dt == DT_UNDEF for omitted inputs */
	Ten out;
} Fold;

/* ---- element access (inline: used in every inner loop) ------------------ */

/* two's complement wrapping arithmetic (no signed-overflow UB) */
static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* float -> int64 truncating toward zero; NaN -> 0, saturating out of range */
static inline int64_t f2i(double x)
{
	if (isnan(x))
		return 0;
	if (x >= 9223372036854775807.0)
		return INT64_MAX;
	if (x <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)x;
}

/* Element k of t as a double / as an int64. */
/* v wrapped into integer dtype dt (two's complement; zero-extended for
 * unsigned types). */
static inline int64_t fold_wrap_int(int64_t v, DType dt)
{
	int bits = 8 * (int)dtype_size(dt);
	if (bits >= 64 || dt == DT_BOOL)
		return v;
	uint64_t m = ((uint64_t)1 << bits) - 1, u = (uint64_t)v & m;
	if (dtype_is_signed(dt) && (u >> (bits - 1)))
		u |= ~m;
	return (int64_t)u;
}

static inline double tf(const Ten *t, int64_t k) { return t->isf ? t->f[k] : (double)t->i[k]; }
static inline int64_t ti(const Ten *t, int64_t k) { return t->isf ? f2i(t->f[k]) : t->i[k]; }

/* Stores f (from_float) or i into element k of t, converting to t's domain. */
static inline void set_num(Ten *t, int64_t k, double f, int64_t i, bool from_float)
{
	if (t->isf)
		t->f[k] = from_float ? f : (double)i;
	else
		t->i[k] = from_float ? f2i(f) : i;
}

/* Copies element sk of s into element dk of d (converted to d's domain). */
static inline void copy_el(Ten *d, int64_t dk, const Ten *s, int64_t sk)
{
	if (s->isf)
		set_num(d, dk, s->f[sk], 0, true);
	else
		set_num(d, dk, 0, s->i[sk], false);
}

/* Input k is given (not omitted, not past the node's inputs). */
static inline bool present(const Fold *F, int k) { return k < F->nin && F->in[k].dt != DT_UNDEF; }

/* ---- fold_ten.c: host tensors and parameter helpers --------------------- */

/* Reports a diagnostic on F's node (input -1: the node itself); returns F_ERR. */
FRes fold_err(Fold *F, int input, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The folder handles dt (bool, integers, floats). */
bool fold_dtype_ok(DType dt);

/* Zero-filled t of dtype dt and shape s; F_SKIP when s is not static, dt is
 * unsupported or s has more than FOLD_MAX_OUT_ELEMS elements. */
FRes fold_ten_alloc(Ten *t, DType dt, const Shape *s);

/* Frees t's elements (t itself stays valid, empty). */
void fold_ten_free(Ten *t);

/* numpy broadcast of a and b into o; false when they do not broadcast. */
bool fold_bcast2(const Shape *a, const Shape *b, Shape *o);

/* map[k] = index into a tensor of shape in for output element k of shape
 * out (in broadcastable to out).  Caller frees. */
int64_t *fold_bcast_map(const Shape *out, const Shape *in);

/* Normalises axis a (negative counts from the end) into *out; false when
 * outside [-rank, rank). */
bool fold_norm_axis(int64_t a, int rank, int *out);

/* Axes from input k (if present) or attribute attr; *n = -1 when neither.
 * axes must hold IR_MAX_RANK * 2 entries. */
FRes fold_get_axes(Fold *F, int k, const char *attr, int64_t *axes, int *n);

/* Reads the 1-D integer "shape-like" input k into dims (at most
 * IR_MAX_RANK; F_SKIP beyond). */
FRes fold_get_dims(Fold *F, int k, int64_t *dims, int *n);

/* F->out = input 0's elements under shape s (Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity); a diagnostic when the element counts differ. */
FRes fold_same_data(Fold *F, const Shape *s);

/* Advances the row-major multi-index idx over dims[0..r); wraps to all
 * zeros after the last element. */
void fold_index_next(int64_t *idx, const int64_t *dims, int r);

/* ---- evaluators: F->in loaded (omitted inputs have dt DT_UNDEF) ---------
 * ops.def's fold column names them (the type FRes (Fold *)). */

/* fold_shape.c: data movement and shape ops */
FRes fold_eval_constant(Fold *F);
FRes fold_eval_shape(Fold *F);  /* OPF_FOLD_SHAPE: read input 0's shape, not data */
FRes fold_eval_size(Fold *F);
FRes fold_eval_reshape(Fold *F);
FRes fold_eval_flatten(Fold *F);
FRes fold_eval_squeeze(Fold *F);
FRes fold_eval_unsqueeze(Fold *F);
FRes fold_eval_concat(Fold *F);
FRes fold_eval_slice(Fold *F);
FRes fold_eval_gather(Fold *F);
FRes fold_eval_scatter_nd(Fold *F);
FRes fold_eval_transpose(Fold *F);
FRes fold_eval_expand(Fold *F);
FRes fold_eval_tile(Fold *F);
FRes fold_eval_constant_of_shape(Fold *F);
FRes fold_eval_range(Fold *F);

/* fold_elem.c: elementwise arithmetic, comparison, unary, Where, Cast */
FRes fold_eval_binary(Fold *F);
FRes fold_eval_variadic(Fold *F);  /* Min, Max, Sum, Mean */
FRes fold_eval_unary(Fold *F);
FRes fold_eval_where(Fold *F);
FRes fold_cast_to(Fold *F, DType to);   /* Cast/CastLike's conversion */

/* fold.c: the thin ones */
FRes fold_eval_identity(Fold *F);
FRes fold_eval_cast(Fold *F);
FRes fold_eval_castlike(Fold *F);

/* fold_reduce.c: reductions, Einsum, Trilu */
FRes fold_eval_reduce(Fold *F);
FRes fold_eval_einsum(Fold *F);
FRes fold_eval_trilu(Fold *F);

#endif

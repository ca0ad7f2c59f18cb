/* passes/fold_ten.c — host tensors and parameter helpers of the folder.
 *
 * Contract: see fold_priv.h (each function's comment there).  Allocation
 * refuses (F_SKIP, no diagnostic) what the folder should leave to codegen:
 * dynamic shapes, unsupported dtypes, outputs beyond FOLD_MAX_OUT_ELEMS.
 * Parameter helpers report malformed axes/shape inputs through fold_err.
 */
#include "fold_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FRes fold_err(Fold *F, int input, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_node(F->d, node_label(F->g, F->n), F->n->op_type, input, "%s", msg);
	return F_ERR;
}

bool fold_dtype_ok(DType dt)
{
	return dt == DT_BOOL || dtype_is_int(dt) || dtype_is_float(dt);
}

/* Allocates t for dtype dt and shape s; F_SKIP when larger than the limit. */
FRes fold_ten_alloc(Ten *t, DType dt, const Shape *s)
{
	memset(t, 0, sizeof *t);
	int64_t n = 1;
	if (s->rank < 0 || !fold_dtype_ok(dt))
		return F_SKIP;
	for (int k = 0; k < s->rank; k++) {
		if (s->dims[k] < 0)
			return F_SKIP;
		if (__builtin_mul_overflow(n, s->dims[k], &n))
			return F_SKIP;
	}
	if (n > FOLD_MAX_OUT_ELEMS)
		return F_SKIP;
	t->dt = dt;
	t->s = *s;
	for (int k = 0; k < IR_MAX_RANK; k++)
		t->s.sym[k] = NULL;
	t->n = n;
	t->isf = dtype_is_float(dt);
	if (t->isf)
		t->f = xcalloc((size_t)(n ? n : 1), sizeof(double));
	else
		t->i = xcalloc((size_t)(n ? n : 1), sizeof(int64_t));
	return F_OK;
}

void fold_ten_free(Ten *t)
{
	free(t->i);
	free(t->f);
	t->i = NULL;
	t->f = NULL;
}
/* ---- shape helpers -------------------------------------------------------- */
bool fold_bcast2(const Shape *a, const Shape *b, Shape *o)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	*o = shape_make(r, NULL);
	for (int i = 0; i < r; i++) {
		int ia = i - (r - a->rank), ib = i - (r - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
		if (da == db || db == 1)
			o->dims[i] = da;
		else if (da == 1)
			o->dims[i] = db;
		else
			return false;
	}
	return true;
}

/* map[k] = index into a tensor of shape in for output element k of shape out
 * (in broadcastable to out).  Caller frees. */
int64_t *fold_bcast_map(const Shape *out, const Shape *in)
{
	int64_t n = shape_numel(out);
	int64_t *map = xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	int r = out->rank;
	int64_t st[IR_MAX_RANK], ist[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	int64_t s = 1;
	for (int i = in->rank - 1; i >= 0; i--) {
		ist[i] = s;
		s *= in->dims[i];
	}
	for (int i = 0; i < r; i++) {
		int ii = i - (r - in->rank);
		st[i] = ii >= 0 && in->dims[ii] != 1 ? ist[ii] : 0;
	}
	int64_t off = 0;
	for (int64_t k = 0; k < n; k++) {
		map[k] = off;
		for (int i = r - 1; i >= 0; i--) {
			idx[i]++;
			off += st[i];
			if (idx[i] < out->dims[i])
				break;
			off -= st[i] * idx[i];
			idx[i] = 0;
		}
	}
	return map;
}

bool fold_norm_axis(int64_t a, int rank, int *out)
{
	if (a < -rank || a >= rank)
		return false;
	*out = (int)(a < 0 ? a + rank : a);
	return true;
}

/* Axes from input k (if present) or attribute name; *n = -1 when neither. */
FRes fold_get_axes(Fold *F, int k, const char *attr, int64_t *axes, int *n)
{
	*n = -1;
	if (present(F, k)) {
		Ten *t = &F->in[k];
		if (t->isf || t->n > IR_MAX_RANK * 2)
			return fold_err(F, k, "axes must be a short integer tensor");
		for (int64_t i = 0; i < t->n; i++)
			axes[i] = t->i[i];
		*n = (int)t->n;
		return F_OK;
	}
	const int64_t *a;
	int c = attr_ints(F->n, attr, &a);
	if (c > IR_MAX_RANK * 2)
		return fold_err(F, -1, "too many axes in '%s'", attr);
	if (c >= 0) {
		memcpy(axes, a, sizeof(int64_t) * (size_t)c);
		*n = c;
	}
	return F_OK;
}

/* Reads a 1-D integer "shape-like" input into dims (at most IR_MAX_RANK). */
FRes fold_get_dims(Fold *F, int k, int64_t *dims, int *n)
{
	Ten *t = &F->in[k];
	if (t->isf)
		return fold_err(F, k, "expected an integer tensor");
	if (t->s.rank > 1)
		return fold_err(F, k, "expected a 1-D tensor, got rank %d", t->s.rank);
	if (t->n > IR_MAX_RANK)
		return F_SKIP; /* rank beyond IR_MAX_RANK: inference reports it */
	for (int64_t i = 0; i < t->n; i++)
		dims[i] = t->i[i];
	*n = (int)t->n;
	return F_OK;
}

/* Output = input 0 with a new shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
FRes fold_same_data(Fold *F, const Shape *s)
{
	Ten *x = &F->in[0];
	if (shape_numel(s) != x->n)
		return fold_err(F, -1, "cannot give %lld elements a shape of %lld", (long long)x->n,
		            (long long)shape_numel(s));
	FRes r = fold_ten_alloc(&F->out, x->dt, s);
	if (r != F_OK)
		return r;
	for (int64_t k = 0; k < x->n; k++)
		copy_el(&F->out, k, x, k);
	return F_OK;
}

void fold_index_next(int64_t *idx, const int64_t *dims, int r)
{
	for (int j = r - 1; j >= 0; j--) {
		if (++idx[j] < dims[j])
			break;
		idx[j] = 0;
	}
}

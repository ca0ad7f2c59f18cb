/* passes/fold.c — host evaluation of nodes whose inputs are constants.
 *
 * Contract: see fold.h.  Algorithm: the constant inputs are loaded into
 * host tensors (Ten) holding either int64 elements (integers and bool) or
 * double elements (float dtypes); each op computes its output shape itself
 * (so the folder does not depend on the inference rule for correctness,
 * only checks it agrees), fills an output Ten of the output dtype, and the
 * result is converted element by element into the output dtype's bytes
 * (wrapping for integers, truncation toward zero for float->int, nonzero
 * for bool, round-to-nearest-even for f16/bf16).  Broadcasting follows
 * numpy: shapes aligned on the right, size-1 dims repeat.
 */
#include "fold.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- host tensors ------------------------------------------------------ */
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

static FRes ferr(Fold *F, int input, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static FRes ferr(Fold *F, int input, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_node(F->d, node_label(F->g, F->n), F->n->op_type, input, "%s", msg);
	return F_ERR;
}

static bool supported_dtype(DType dt)
{
	return dt == DT_BOOL || dtype_is_int(dt) || dtype_is_float(dt);
}

/* Allocates t for dtype dt and shape s; F_SKIP when larger than the limit. */
static FRes ten_alloc(Ten *t, DType dt, const Shape *s)
{
	memset(t, 0, sizeof *t);
	int64_t n = 1;
	if (s->rank < 0 || !supported_dtype(dt))
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

static void ten_free(Ten *t)
{
	free(t->i);
	free(t->f);
	t->i = NULL;
	t->f = NULL;
}

/* two's complement wrapping arithmetic (no signed-overflow UB) */
static int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* float -> int64 truncating toward zero; NaN -> 0, saturating out of range */
static int64_t f2i(double x)
{
	if (isnan(x))
		return 0;
	if (x >= 9223372036854775807.0)
		return INT64_MAX;
	if (x <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)x;
}

static double tf(const Ten *t, int64_t k) { return t->isf ? t->f[k] : (double)t->i[k]; }
static int64_t ti(const Ten *t, int64_t k) { return t->isf ? f2i(t->f[k]) : t->i[k]; }

static void set_num(Ten *t, int64_t k, double f, int64_t i, bool from_float)
{
	if (t->isf)
		t->f[k] = from_float ? f : (double)i;
	else
		t->i[k] = from_float ? f2i(f) : i;
}

/* Copies element sk of s into element dk of d (same domain assumed or converted). */
static void copy_el(Ten *d, int64_t dk, const Ten *s, int64_t sk)
{
	if (s->isf)
		set_num(d, dk, s->f[sk], 0, true);
	else
		set_num(d, dk, 0, s->i[sk], false);
}

/* ---- f16 / bf16 encoding ------------------------------------------------ */
static uint16_t float_to_half(float x)
{
	uint32_t b;
	memcpy(&b, &x, 4);
	uint32_t sign = (b >> 16) & 0x8000u;
	uint32_t absb = b & 0x7fffffffu;
	if (absb >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00u | (absb > 0x7f800000u ? 0x200u : 0));
	if (absb >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00u);
	if (absb < 0x38800000u) { /* subnormal half (or zero) */
		if (absb < 0x33000000u)
			return (uint16_t)sign;
		uint32_t e = absb >> 23;
		uint32_t m = (absb & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126 - e; /* 14..24 */
		uint32_t r = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	uint32_t r = ((absb - 0x38000000u) >> 13);
	uint32_t rem = absb & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

static uint16_t float_to_bf16(float x)
{
	uint32_t b;
	memcpy(&b, &x, 4);
	if ((b & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((b >> 16) | 0x40);
	b += 0x7fffu + ((b >> 16) & 1);
	return (uint16_t)(b >> 16);
}

/* Writes element k of t into p as dtype dt. */
static void store_el(const Ten *t, int64_t k, DType dt, unsigned char *p)
{
	if (dtype_is_float(dt)) {
		double x = tf(t, k);
		switch (dt) {
		case DT_F64: memcpy(p, &x, 8); break;
		case DT_F32: { float y = (float)x; memcpy(p, &y, 4); break; }
		case DT_F16: { uint16_t y = float_to_half((float)x); memcpy(p, &y, 2); break; }
		case DT_BF16: { uint16_t y = float_to_bf16((float)x); memcpy(p, &y, 2); break; }
		default: IR_UNREACHABLE("store_el: float dtype");
		}
		return;
	}
	if (dt == DT_BOOL) {
		*p = t->isf ? t->f[k] != 0 : t->i[k] != 0;
		return;
	}
	uint64_t u = (uint64_t)ti(t, k);
	switch (dtype_size(dt)) {
	case 1: { uint8_t y = (uint8_t)u; memcpy(p, &y, 1); break; }
	case 2: { uint16_t y = (uint16_t)u; memcpy(p, &y, 2); break; }
	case 4: { uint32_t y = (uint32_t)u; memcpy(p, &y, 4); break; }
	case 8: memcpy(p, &u, 8); break;
	default: IR_UNREACHABLE("store_el: int dtype");
	}
}

static FRes load_const(Fold *F, int k, Ten *t)
{
	memset(t, 0, sizeof *t);
	ValueId v = F->n->in[k];
	if (v == IR_NONE)
		return F_OK;
	Value *val = gval(F->g, v);
	int64_t n = shape_numel(&val->shape);
	if (val->kind != VK_CONST || n < 0 || n > FOLD_MAX_IN_ELEMS || !supported_dtype(val->dtype))
		return F_SKIP;
	if (!val->data || val->nbytes < (size_t)n * dtype_size(val->dtype))
		return F_SKIP;
	t->dt = val->dtype;
	t->s = val->shape;
	t->n = n;
	t->isf = dtype_is_float(val->dtype);
	if (t->isf) {
		t->f = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++)
			t->f[i] = value_get_f64(val, i);
	} else {
		t->i = xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++)
			t->i[i] = value_get_int(val, i);
	}
	return F_OK;
}

static bool present(Fold *F, int k) { return k < F->nin && F->in[k].dt != DT_UNDEF; }

/* ---- shape helpers -------------------------------------------------------- */
static bool bcast2(const Shape *a, const Shape *b, Shape *o)
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
static int64_t *bcast_map(const Shape *out, const Shape *in)
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

static bool norm_axis(int64_t a, int rank, int *out)
{
	if (a < -rank || a >= rank)
		return false;
	*out = (int)(a < 0 ? a + rank : a);
	return true;
}

/* Axes from input k (if present) or attribute name; *n = -1 when neither. */
static FRes get_axes(Fold *F, int k, const char *attr, int64_t *axes, int *n)
{
	*n = -1;
	if (present(F, k)) {
		Ten *t = &F->in[k];
		if (t->isf || t->n > IR_MAX_RANK * 2)
			return ferr(F, k, "axes must be a short integer tensor");
		for (int64_t i = 0; i < t->n; i++)
			axes[i] = t->i[i];
		*n = (int)t->n;
		return F_OK;
	}
	const int64_t *a;
	int c = attr_ints(F->n, attr, &a);
	if (c > IR_MAX_RANK * 2)
		return ferr(F, -1, "too many axes in '%s'", attr);
	if (c >= 0) {
		memcpy(axes, a, sizeof(int64_t) * (size_t)c);
		*n = c;
	}
	return F_OK;
}

/* Reads a 1-D integer "shape-like" input into dims (at most IR_MAX_RANK). */
static FRes get_dims(Fold *F, int k, int64_t *dims, int *n)
{
	Ten *t = &F->in[k];
	if (t->isf)
		return ferr(F, k, "expected an integer tensor");
	if (t->s.rank > 1)
		return ferr(F, k, "expected a 1-D tensor, got rank %d", t->s.rank);
	if (t->n > IR_MAX_RANK)
		return F_SKIP; /* rank beyond IR_MAX_RANK: inference reports it */
	for (int64_t i = 0; i < t->n; i++)
		dims[i] = t->i[i];
	*n = (int)t->n;
	return F_OK;
}

/* Output = input 0 with a new shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
static FRes same_data(Fold *F, const Shape *s)
{
	Ten *x = &F->in[0];
	if (shape_numel(s) != x->n)
		return ferr(F, -1, "cannot give %lld elements a shape of %lld", (long long)x->n,
		            (long long)shape_numel(s));
	FRes r = ten_alloc(&F->out, x->dt, s);
	if (r != F_OK)
		return r;
	for (int64_t k = 0; k < x->n; k++)
		copy_el(&F->out, k, x, k);
	return F_OK;
}

/* ---- data movement --------------------------------------------------------- */
static FRes f_constant(Fold *F)
{
	Node *n = F->n;
	const Attr *a;
	if ((a = node_attr(n, "value")) && a->kind == AK_TENSOR && a->t) {
		Value tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.dtype = a->t->dtype;
		tmp.data = a->t->data;
		int64_t cnt = shape_numel(&a->t->shape);
		if (!supported_dtype(tmp.dtype) || cnt < 0 || !tmp.data ||
		    a->t->nbytes < (size_t)cnt * dtype_size(tmp.dtype))
			return F_SKIP;
		FRes r = ten_alloc(&F->out, tmp.dtype, &a->t->shape);
		if (r != F_OK)
			return r;
		for (int64_t k = 0; k < cnt; k++)
			set_num(&F->out, k, F->out.isf ? value_get_f64(&tmp, k) : 0,
			        F->out.isf ? 0 : value_get_int(&tmp, k), F->out.isf);
		return F_OK;
	}
	Shape s = shape_make(0, NULL);
	if ((a = node_attr(n, "value_float")) && a->kind == AK_FLOAT) {
		ten_alloc(&F->out, DT_F32, &s);
		F->out.f[0] = a->f;
		return F_OK;
	}
	if ((a = node_attr(n, "value_int")) && a->kind == AK_INT) {
		ten_alloc(&F->out, DT_I64, &s);
		F->out.i[0] = a->i;
		return F_OK;
	}
	if ((a = node_attr(n, "value_floats")) && a->kind == AK_FLOATS) {
		int64_t d = a->n;
		s = shape_make(1, &d);
		FRes r = ten_alloc(&F->out, DT_F32, &s);
		for (int k = 0; r == F_OK && k < a->n; k++)
			F->out.f[k] = a->floats[k];
		return r;
	}
	if ((a = node_attr(n, "value_ints")) && a->kind == AK_INTS) {
		int64_t d = a->n;
		s = shape_make(1, &d);
		FRes r = ten_alloc(&F->out, DT_I64, &s);
		for (int k = 0; r == F_OK && k < a->n; k++)
			F->out.i[k] = a->ints[k];
		return r;
	}
	return F_SKIP; /* strings, sparse: left to inference/codegen */
}

/* Shape-15: dims[start:end], both clamped to [0, rank]. */
static FRes f_shape(Fold *F, const Shape *xs)
{
	int r = xs->rank;
	int64_t start = attr_int(F->n, "start", 0), end = attr_int(F->n, "end", r);
	if (start < 0)
		start += r;
	if (end < 0)
		end += r;
	start = start < 0 ? 0 : start > r ? r : start;
	end = end < 0 ? 0 : end > r ? r : end;
	int64_t len = end > start ? end - start : 0;
	for (int64_t k = start; k < start + len; k++)
		if (xs->dims[k] < 0)
			return F_SKIP;
	Shape s = shape_make(1, &len);
	FRes res = ten_alloc(&F->out, DT_I64, &s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < len; k++)
		F->out.i[k] = xs->dims[start + k];
	return F_OK;
}

static FRes f_size(Fold *F, const Shape *xs)
{
	if (!shape_is_static(xs))
		return F_SKIP;
	Shape s = shape_make(0, NULL);
	ten_alloc(&F->out, DT_I64, &s);
	F->out.i[0] = shape_numel(xs);
	return F_OK;
}

static FRes f_reshape(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t want[IR_MAX_RANK];
	int r;
	FRes res = get_dims(F, 1, want, &r);
	if (res != F_OK)
		return res;
	bool allowzero = attr_int(F->n, "allowzero", 0) != 0;
	Shape s = shape_make(r, NULL);
	int infer = -1;
	int64_t known = 1;
	for (int k = 0; k < r; k++) {
		int64_t v = want[k];
		if (v == 0 && !allowzero) {
			if (k >= x->s.rank)
				return ferr(F, 1, "dim %d is 0 (copy) but the input has rank %d", k, x->s.rank);
			v = x->s.dims[k];
		}
		if (v == -1) {
			if (infer >= 0)
				return ferr(F, 1, "more than one -1 in the shape");
			infer = k;
			continue;
		}
		if (v < 0)
			return ferr(F, 1, "invalid dim %lld", (long long)v);
		s.dims[k] = v;
		if (__builtin_mul_overflow(known, v, &known))
			return ferr(F, 1, "shape has too many elements");
	}
	if (infer >= 0) {
		if (known == 0 || x->n % known != 0)
			return ferr(F, 1, "cannot infer the -1 dim: %lld elements, product of others %lld",
			            (long long)x->n, (long long)known);
		s.dims[infer] = x->n / known;
	}
	return same_data(F, &s);
}

static FRes f_flatten(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	int64_t axis = attr_int(F->n, "axis", 1);
	if (axis < -r || axis > r)
		return ferr(F, -1, "axis %lld out of range for rank %d", (long long)axis, r);
	if (axis < 0)
		axis += r;
	int64_t d[2] = {1, 1};
	for (int k = 0; k < r; k++)
		d[k < axis ? 0 : 1] *= x->s.dims[k];
	Shape s = shape_make(2, d);
	return same_data(F, &s);
}

static FRes f_squeeze(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t axes[IR_MAX_RANK * 2];
	int na;
	FRes res = get_axes(F, 1, "axes", axes, &na);
	if (res != F_OK)
		return res;
	bool drop[IR_MAX_RANK] = {false};
	if (na < 0) {
		for (int k = 0; k < x->s.rank; k++)
			drop[k] = x->s.dims[k] == 1;
	} else {
		for (int j = 0; j < na; j++) {
			int a;
			if (!norm_axis(axes[j], x->s.rank, &a))
				return ferr(F, 1, "axis %lld out of range for rank %d", (long long)axes[j], x->s.rank);
			if (x->s.dims[a] != 1)
				return ferr(F, 1, "cannot squeeze axis %d of size %lld", a, (long long)x->s.dims[a]);
			drop[a] = true;
		}
	}
	Shape s = shape_make(0, NULL);
	for (int k = 0; k < x->s.rank; k++)
		if (!drop[k])
			s.dims[s.rank++] = x->s.dims[k];
	return same_data(F, &s);
}

static FRes f_unsqueeze(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t axes[IR_MAX_RANK * 2];
	int na;
	FRes res = get_axes(F, 1, "axes", axes, &na);
	if (res != F_OK)
		return res;
	if (na < 0)
		return ferr(F, -1, "missing axes");
	int r = x->s.rank + na;
	if (r > IR_MAX_RANK)
		return F_SKIP;
	bool ins[IR_MAX_RANK] = {false};
	for (int j = 0; j < na; j++) {
		int a;
		if (!norm_axis(axes[j], r, &a))
			return ferr(F, 1, "axis %lld out of range for output rank %d", (long long)axes[j], r);
		if (ins[a])
			return ferr(F, 1, "axis %d repeated", a);
		ins[a] = true;
	}
	Shape s = shape_make(r, NULL);
	for (int k = 0, j = 0; k < r; k++)
		s.dims[k] = ins[k] ? 1 : x->s.dims[j++];
	return same_data(F, &s);
}

static FRes f_concat(Fold *F)
{
	Ten *x0 = &F->in[0];
	int r = x0->s.rank, axis;
	if (!norm_axis(attr_int(F->n, "axis", 0), r, &axis))
		return ferr(F, -1, "axis out of range for rank %d", r);
	Shape s = x0->s;
	s.dims[axis] = 0;
	for (int k = 0; k < F->nin; k++) {
		Ten *t = &F->in[k];
		if (!present(F, k))
			return F_SKIP;
		if (t->dt != x0->dt)
			return ferr(F, k, "dtype %s differs from input 0's %s", dtype_name(t->dt), dtype_name(x0->dt));
		if (t->s.rank != r)
			return ferr(F, k, "rank %d differs from input 0's %d", t->s.rank, r);
		for (int j = 0; j < r; j++)
			if (j != axis && t->s.dims[j] != x0->s.dims[j])
				return ferr(F, k, "dim %d is %lld, input 0 has %lld", j,
				            (long long)t->s.dims[j], (long long)x0->s.dims[j]);
		s.dims[axis] += t->s.dims[axis];
	}
	FRes res = ten_alloc(&F->out, x0->dt, &s);
	if (res != F_OK)
		return res;
	int64_t outer = 1, inner = 1;
	for (int j = 0; j < axis; j++)
		outer *= s.dims[j];
	for (int j = axis + 1; j < r; j++)
		inner *= s.dims[j];
	int64_t o = 0;
	for (int64_t a = 0; a < outer; a++)
		for (int k = 0; k < F->nin; k++) {
			Ten *t = &F->in[k];
			int64_t blk = t->s.dims[axis] * inner;
			for (int64_t e = 0; e < blk; e++)
				copy_el(&F->out, o++, t, a * blk + e);
		}
	return F_OK;
}

static FRes f_slice(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	int64_t starts[IR_MAX_RANK * 2], ends[IR_MAX_RANK * 2], axes[IR_MAX_RANK * 2], steps[IR_MAX_RANK * 2];
	int ns, ne, na = -1, nst = -1;
	FRes res;
	if (F->nin >= 3) { /* Slice-10+: inputs */
		if ((res = get_axes(F, 1, "", starts, &ns)) != F_OK || (res = get_axes(F, 2, "", ends, &ne)) != F_OK)
			return res;
		if (present(F, 3) && (res = get_axes(F, 3, "", axes, &na)) != F_OK)
			return res;
		if (present(F, 4) && (res = get_axes(F, 4, "", steps, &nst)) != F_OK)
			return res;
	} else { /* Slice-1: attributes */
		if ((res = get_axes(F, 99, "starts", starts, &ns)) != F_OK ||
		    (res = get_axes(F, 99, "ends", ends, &ne)) != F_OK ||
		    (res = get_axes(F, 99, "axes", axes, &na)) != F_OK)
			return res;
	}
	if (ns < 0 || ne != ns)
		return ferr(F, -1, "starts and ends must have the same length");
	if ((na >= 0 && na != ns) || (nst >= 0 && nst != ns))
		return ferr(F, -1, "axes/steps must have the length of starts");
	int64_t st[IR_MAX_RANK], step[IR_MAX_RANK];
	bool seen[IR_MAX_RANK] = {false};
	Shape s = x->s;
	for (int k = 0; k < r; k++) {
		st[k] = 0;
		step[k] = 1;
	}
	for (int j = 0; j < ns; j++) {
		int a;
		if (!norm_axis(na >= 0 ? axes[j] : j, r, &a))
			return ferr(F, 3, "axis %lld out of range for rank %d", (long long)(na >= 0 ? axes[j] : j), r);
		if (seen[a])
			return ferr(F, 3, "axis %d repeated", a);
		seen[a] = true;
		int64_t dim = x->s.dims[a], b = starts[j], e = ends[j], sp = nst >= 0 ? steps[j] : 1;
		if (sp == 0)
			return ferr(F, 4, "step is 0");
		if (b < 0)
			b += dim;
		if (e < 0)
			e += dim;
		int64_t cnt;
		if (sp > 0) {
			b = b < 0 ? 0 : b > dim ? dim : b;
			e = e < 0 ? 0 : e > dim ? dim : e;
			cnt = e > b ? (e - b - 1) / sp + 1 : 0;
		} else {
			b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
			e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
			cnt = b > e ? (int64_t)((uint64_t)(b - e - 1) / ((uint64_t)0 - (uint64_t)sp)) + 1 : 0;
		}
		st[a] = b;
		step[a] = sp;
		s.dims[a] = cnt;
	}
	if ((res = ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += (st[j] + idx[j] * step[j]) * xst[j];
		copy_el(&F->out, k, x, off);
		for (int j = r - 1; j >= 0; j--) {
			if (++idx[j] < s.dims[j])
				break;
			idx[j] = 0;
		}
	}
	return F_OK;
}

static FRes f_gather(Fold *F)
{
	Ten *x = &F->in[0], *ind = &F->in[1];
	int r = x->s.rank, axis;
	if (!norm_axis(attr_int(F->n, "axis", 0), r, &axis))
		return ferr(F, -1, "axis out of range for rank %d", r);
	if (ind->isf)
		return ferr(F, 1, "indices must be integers");
	if (r - 1 + ind->s.rank > IR_MAX_RANK)
		return F_SKIP;
	Shape s = shape_make(0, NULL);
	for (int j = 0; j < axis; j++)
		s.dims[s.rank++] = x->s.dims[j];
	for (int j = 0; j < ind->s.rank; j++)
		s.dims[s.rank++] = ind->s.dims[j];
	for (int j = axis + 1; j < r; j++)
		s.dims[s.rank++] = x->s.dims[j];
	int64_t D = x->s.dims[axis], outer = 1, inner = 1;
	for (int j = 0; j < axis; j++)
		outer *= x->s.dims[j];
	for (int j = axis + 1; j < r; j++)
		inner *= x->s.dims[j];
	for (int64_t j = 0; j < ind->n; j++)
		if (ind->i[j] < -D || ind->i[j] >= D)
			return ferr(F, 1, "index %lld out of range [%lld, %lld)", (long long)ind->i[j],
			            (long long)-D, (long long)D);
	FRes res = ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t o = 0;
	for (int64_t a = 0; a < outer; a++)
		for (int64_t j = 0; j < ind->n; j++) {
			int64_t ix = ind->i[j] < 0 ? ind->i[j] + D : ind->i[j];
			for (int64_t e = 0; e < inner; e++)
				copy_el(&F->out, o++, x, (a * D + ix) * inner + e);
		}
	return F_OK;
}

static FRes f_transpose(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	int64_t perm[IR_MAX_RANK];
	const int64_t *p;
	int np = attr_ints(F->n, "perm", &p);
	if (np >= 0 && np != r)
		return ferr(F, -1, "perm has %d entries for rank %d", np, r);
	bool used[IR_MAX_RANK] = {false};
	for (int j = 0; j < r; j++) {
		perm[j] = np >= 0 ? p[j] : r - 1 - j;
		if (perm[j] < 0 || perm[j] >= r || used[perm[j]])
			return ferr(F, -1, "perm is not a permutation of 0..%d", r - 1);
		used[perm[j]] = true;
	}
	Shape s = shape_make(r, NULL);
	for (int j = 0; j < r; j++)
		s.dims[j] = x->s.dims[perm[j]];
	FRes res = ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += idx[j] * xst[perm[j]];
		copy_el(&F->out, k, x, off);
		for (int j = r - 1; j >= 0; j--) {
			if (++idx[j] < s.dims[j])
				break;
			idx[j] = 0;
		}
	}
	return F_OK;
}

static FRes f_expand(Fold *F)
{
	Ten *x = &F->in[0];
	int64_t dims[IR_MAX_RANK];
	int r;
	FRes res = get_dims(F, 1, dims, &r);
	if (res != F_OK)
		return res;
	Shape want = shape_make(r, dims), s;
	for (int j = 0; j < r; j++)
		if (dims[j] < 0)
			return ferr(F, 1, "negative dim %lld", (long long)dims[j]);
	if (!bcast2(&x->s, &want, &s))
		return ferr(F, 1, "shape cannot be broadcast with the input");
	if ((res = ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	int64_t *map = bcast_map(&s, &x->s);
	for (int64_t k = 0; k < F->out.n; k++)
		copy_el(&F->out, k, x, map[k]);
	free(map);
	return F_OK;
}

static FRes f_tile(Fold *F)
{
	Ten *x = &F->in[0], *rep = &F->in[1];
	int r = x->s.rank;
	if (rep->isf || rep->n != r)
		return ferr(F, 1, "repeats must be %d integers", r);
	Shape s = x->s;
	for (int j = 0; j < r; j++) {
		if (rep->i[j] < 0)
			return ferr(F, 1, "negative repeat %lld", (long long)rep->i[j]);
		if (rep->i[j] > FOLD_MAX_OUT_ELEMS)
			return F_SKIP;
		s.dims[j] = x->s.dims[j] * rep->i[j];
	}
	FRes res = ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	shape_strides(&x->s, xst);
	for (int64_t k = 0; k < F->out.n; k++) {
		int64_t off = 0;
		for (int j = 0; j < r; j++)
			off += (idx[j] % x->s.dims[j]) * xst[j];
		copy_el(&F->out, k, x, off);
		for (int j = r - 1; j >= 0; j--) {
			if (++idx[j] < s.dims[j])
				break;
			idx[j] = 0;
		}
	}
	return F_OK;
}

static FRes f_constant_of_shape(Fold *F)
{
	int64_t dims[IR_MAX_RANK];
	int r;
	FRes res = get_dims(F, 0, dims, &r);
	if (res != F_OK)
		return res;
	for (int j = 0; j < r; j++)
		if (dims[j] < 0)
			return ferr(F, 0, "negative dim %lld", (long long)dims[j]);
	Shape s = shape_make(r, dims);
	const Attr *a = node_attr(F->n, "value");
	DType dt = DT_F32;
	Value tmp;
	memset(&tmp, 0, sizeof tmp);
	if (a && a->kind == AK_TENSOR && a->t) {
		if (shape_numel(&a->t->shape) != 1 || !a->t->data)
			return ferr(F, -1, "attribute 'value' must hold one element");
		dt = a->t->dtype;
		tmp.dtype = dt;
		tmp.data = a->t->data;
		if (!supported_dtype(dt))
			return F_SKIP;
	}
	if ((res = ten_alloc(&F->out, dt, &s)) != F_OK)
		return res;
	for (int64_t k = 0; k < F->out.n && tmp.data; k++)
		set_num(&F->out, k, F->out.isf ? value_get_f64(&tmp, 0) : 0,
		        F->out.isf ? 0 : value_get_int(&tmp, 0), F->out.isf);
	return F_OK;
}

static FRes f_range(Fold *F)
{
	Ten *a = &F->in[0], *b = &F->in[1], *c = &F->in[2];
	if (a->n != 1 || b->n != 1 || c->n != 1)
		return ferr(F, -1, "start, limit and delta must be scalars");
	if (a->dt != b->dt || a->dt != c->dt)
		return ferr(F, -1, "start, limit and delta must share one dtype");
	int64_t cnt;
	if (a->isf) {
		double st = a->f[0], lim = b->f[0], dl = c->f[0];
		if (dl == 0)
			return ferr(F, 2, "delta is 0");
		double q = ceil((lim - st) / dl);
		if (!(q <= (double)FOLD_MAX_OUT_ELEMS))
			return isnan(q) ? ferr(F, -1, "non-finite range") : F_SKIP;
		cnt = q > 0 ? (int64_t)q : 0;
	} else {
		__int128 st = a->i[0], lim = b->i[0], dl = c->i[0];
		if (dl == 0)
			return ferr(F, 2, "delta is 0");
		__int128 diff = lim - st, q = 0;
		if ((diff > 0 && dl > 0) || (diff < 0 && dl < 0))
			q = diff / dl + (diff % dl != 0);
		if (q > FOLD_MAX_OUT_ELEMS)
			return F_SKIP;
		cnt = (int64_t)q;
	}
	Shape s = shape_make(1, &cnt);
	FRes res = ten_alloc(&F->out, a->dt, &s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < cnt; k++) {
		if (a->isf)
			F->out.f[k] = a->f[0] + (double)k * c->f[0];
		else
			F->out.i[k] = (int64_t)((uint64_t)a->i[0] + (uint64_t)k * (uint64_t)c->i[0]);
	}
	return F_OK;
}

/* Trilu-14: keeps j - i >= k (upper) or j - i <= k (lower) over the last
 * two dims, zeroes the rest. */
static FRes f_trilu(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	if (r < 2)
		return ferr(F, 0, "expected rank >= 2, got %d", r);
	int64_t k = 0;
	if (present(F, 1)) {
		if (F->in[1].isf || F->in[1].n != 1)
			return ferr(F, 1, "k must be an integer scalar");
		k = F->in[1].i[0];
	}
	bool upper = attr_int(F->n, "upper", 1) != 0;
	FRes res = ten_alloc(&F->out, x->dt, &x->s);
	if (res != F_OK)
		return res;
	int64_t rows = x->s.dims[r - 2], cols = x->s.dims[r - 1];
	for (int64_t e = 0; e < x->n; e++) {
		int64_t j = e % cols, i = cols ? (e / cols) % rows : 0;
		/* j - i compared without overflow: both are small */
		bool keep = upper ? j - i >= k : j - i <= k;
		if (keep)
			copy_el(&F->out, e, x, e);
		else
			set_num(&F->out, e, 0, 0, false);
	}
	return F_OK;
}

/* Einsum-12 without ellipsis: every combination of the equation's letters
 * is visited once (output letters outermost), the product of the inputs'
 * elements added into the output element.  A letter repeated in one term
 * walks its diagonal.  Implicit output (no "->"): the letters used once,
 * in alphabetical order.  Skipped (left to codegen) beyond FOLD_MAX_IN_ELEMS
 * visited combinations. */
static FRes f_einsum(Fold *F)
{
	const char *eq = attr_string(F->n, "equation", NULL);
	if (!eq)
		return ferr(F, -1, "missing attribute 'equation'");
	if (strchr(eq, '.'))
		return F_SKIP;
	char terms[16][IR_MAX_RANK + 1], outt[IR_MAX_RANK * 2 + 1];
	int nt = 0, len = 0;
	bool arrow = false;
	int nout = 0;
	memset(terms, 0, sizeof terms);
	for (const char *p = eq;; p++) {
		char ch = *p;
		if (ch == ' ')
			continue;
		if (ch == ',' || ch == 0 || (ch == '-' && p[1] == '>')) {
			if (nt >= 16 || arrow)
				return F_SKIP;
			terms[nt][len] = 0;
			nt++;
			len = 0;
			if (ch == 0)
				break;
			if (ch == '-') {
				p++;
				arrow = true;
				for (p++; *p; p++)
					if (*p != ' ') {
						if (nout >= IR_MAX_RANK * 2)
							return F_SKIP;
						outt[nout++] = *p;
					}
				break;
			}
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) || len >= IR_MAX_RANK)
			return ferr(F, -1, "bad equation '%s'", eq);
		terms[nt][len++] = ch;
	}
	outt[nout] = 0;
	if (nt != F->nin)
		return ferr(F, -1, "equation '%s' has %d operands, node has %d inputs", eq, nt, F->nin);
	int64_t size[128];
	int count[128] = {0};
	for (int c = 0; c < 128; c++)
		size[c] = -1;
	DType dt = F->in[0].dt;
	for (int t = 0; t < nt; t++) {
		Ten *x = &F->in[t];
		if (!present(F, t) || x->dt != dt)
			return ferr(F, t, "operands must share one dtype");
		if ((int)strlen(terms[t]) != x->s.rank)
			return ferr(F, t, "term '%s' does not match rank %d", terms[t], x->s.rank);
		for (int j = 0; terms[t][j]; j++) {
			int c = terms[t][j];
			if (size[c] >= 0 && size[c] != x->s.dims[j])
				return ferr(F, t, "letter '%c' is %lld here, %lld elsewhere", c,
				            (long long)x->s.dims[j], (long long)size[c]);
			size[c] = x->s.dims[j];
			count[c]++;
		}
	}
	if (!arrow)
		for (int c = 'A'; c <= 'z'; c++)
			if (count[c] == 1) {
				if (nout >= IR_MAX_RANK)
					return F_SKIP;
				outt[nout++] = (char)c;
			}
	outt[nout] = 0;
	if (nout > IR_MAX_RANK)
		return F_SKIP;
	/* loop letters: output first, then the summed ones */
	char loop[64] = "";
	int nl = 0;
	for (int j = 0; j < nout; j++) {
		if (size[(int)outt[j]] < 0 || strchr(loop, outt[j]) != NULL)
			return ferr(F, -1, "output letter '%c' is not a single input letter", outt[j]);
		loop[nl++] = outt[j];
		loop[nl] = 0;
	}
	for (int c = 'A'; c <= 'z'; c++)
		if (size[c] >= 0 && !strchr(outt, c)) {
			loop[nl++] = (char)c;
			loop[nl] = 0;
		}
	int64_t total = 1;
	for (int j = 0; j < nl; j++)
		if (__builtin_mul_overflow(total, size[(int)loop[j]], &total) || total > FOLD_MAX_IN_ELEMS)
			return F_SKIP;
	Shape s = shape_make(nout, NULL);
	for (int j = 0; j < nout; j++)
		s.dims[j] = size[(int)outt[j]];
	FRes res = ten_alloc(&F->out, dt, &s);
	if (res != F_OK)
		return res;
	/* stride of each loop letter in each operand and in the output */
	int64_t st[16][64], ost[64], xs[IR_MAX_RANK];
	memset(st, 0, sizeof st);
	memset(ost, 0, sizeof ost);
	for (int t = 0; t < nt; t++) {
		shape_strides(&F->in[t].s, xs);
		for (int j = 0; terms[t][j]; j++)
			st[t][strchr(loop, terms[t][j]) - loop] += xs[j];
	}
	shape_strides(&s, xs);
	for (int j = 0; j < nout; j++)
		ost[j] = xs[j];
	int64_t idx[64] = {0}, off[16] = {0}, o = 0;
	for (int64_t it = 0; it < total; it++) {
		if (F->out.isf) {
			double prod = 1;
			for (int t = 0; t < nt; t++)
				prod *= F->in[t].f[off[t]];
			F->out.f[o] += prod;
		} else {
			int64_t prod = 1;
			for (int t = 0; t < nt; t++)
				prod = wmul(prod, F->in[t].i[off[t]]);
			F->out.i[o] = wadd(F->out.i[o], prod);
		}
		for (int j = nl - 1; j >= 0; j--) {
			int64_t sz = size[(int)loop[j]];
			idx[j]++;
			for (int t = 0; t < nt; t++)
				off[t] += st[t][j];
			o += ost[j];
			if (idx[j] < sz)
				break;
			for (int t = 0; t < nt; t++)
				off[t] -= st[t][j] * sz;
			o -= ost[j] * sz;
			idx[j] = 0;
		}
	}
	return F_OK;
}

/* ---- elementwise ---------------------------------------------------------- */

/* Combines x (element xi) and y (element yi) with op into out element k.
 * Returns false on integer division by zero. */
static bool binop(Fold *F, Op op, Ten *out, int64_t k, const Ten *x, int64_t xi, const Ten *y, int64_t yi)
{
	bool fl = x->isf || y->isf;
	double a = tf(x, xi), b = tf(y, yi);
	int64_t p = ti(x, xi), q = ti(y, yi);
	bool c;
	switch (op) {
	case OP_Equal: c = fl ? a == b : p == q; goto cmp;
	case OP_Less: c = fl ? a < b : p < q; goto cmp;
	case OP_LessOrEqual: c = fl ? a <= b : p <= q; goto cmp;
	case OP_Greater: c = fl ? a > b : p > q; goto cmp;
	case OP_GreaterOrEqual: c = fl ? a >= b : p >= q; goto cmp;
	case OP_And: c = p && q; goto cmp;
	case OP_Or: c = p || q; goto cmp;
	case OP_Xor: c = (p != 0) != (q != 0); goto cmp;
	default: break;
	}
	if (fl) {
		double r;
		switch (op) {
		case OP_Add: case OP_Sum: case OP_Mean: r = a + b; break;
		case OP_Sub: r = a - b; break;
		case OP_Mul: r = a * b; break;
		case OP_Div: r = a / b; break;
		case OP_Pow: r = pow(a, b); break;
		case OP_Max: r = isnan(a) || isnan(b) ? NAN : a > b ? a : b; break;
		case OP_Min: r = isnan(a) || isnan(b) ? NAN : a < b ? a : b; break;
		case OP_Mod:
			r = fmod(a, b);
			if (!attr_int(F->n, "fmod", 0) && r != 0 && (r < 0) != (b < 0))
				r += b;
			break;
		default: IR_UNREACHABLE("binop: op");
		}
		set_num(out, k, r, 0, true);
		return true;
	}
	int64_t r;
	switch (op) {
	case OP_Add: case OP_Sum: case OP_Mean: r = wadd(p, q); break;
	case OP_Sub: r = wsub(p, q); break;
	case OP_Mul: r = wmul(p, q); break;
	case OP_Div:
		if (q == 0)
			return false;
		r = q == -1 ? wsub(0, p) : p / q;
		break;
	case OP_Mod:
		if (q == 0)
			return false;
		r = q == -1 ? 0 : p % q;
		if (!attr_int(F->n, "fmod", 0) && r != 0 && (r < 0) != (q < 0))
			r += q;
		break;
	case OP_Pow: {
		/* exact integer power by squaring; negative exponents -> 0 (|p|>1) */
		if (q < 0) {
			r = p == 1 ? 1 : p == -1 ? (q % 2 ? -1 : 1) : 0;
			break;
		}
		int64_t base = p, e = q;
		r = 1;
		while (e) {
			if (e & 1)
				r = wmul(r, base);
			base = wmul(base, base);
			e >>= 1;
		}
		break;
	}
	case OP_Max: r = p > q ? p : q; break;
	case OP_Min: r = p < q ? p : q; break;
	default: IR_UNREACHABLE("binop: op");
	}
	set_num(out, k, 0, r, false);
	return true;
cmp:
	set_num(out, k, 0, c, false);
	return true;
}

static bool is_cmp(Op op)
{
	return op == OP_Equal || op == OP_Less || op == OP_LessOrEqual || op == OP_Greater ||
	       op == OP_GreaterOrEqual || op == OP_And || op == OP_Or || op == OP_Xor;
}

/* out = x op y with broadcasting; the result dtype is dt. */
static FRes bcast_binary(Fold *F, Op op, Ten *out, const Ten *x, const Ten *y, DType dt, int iy)
{
	Shape s;
	if (!bcast2(&x->s, &y->s, &s))
		return ferr(F, iy, "shapes cannot be broadcast together");
	FRes res = ten_alloc(out, dt, &s);
	if (res != F_OK)
		return res;
	int64_t *mx = bcast_map(&s, &x->s), *my = bcast_map(&s, &y->s);
	res = F_OK;
	for (int64_t k = 0; k < out->n; k++)
		if (!binop(F, op, out, k, x, mx[k], y, my[k])) {
			res = ferr(F, iy, "integer division by zero");
			ten_free(out);
			break;
		}
	free(mx);
	free(my);
	return res;
}

static FRes f_binary(Fold *F)
{
	Op op = F->n->op;
	Ten *x = &F->in[0], *y = &F->in[1];
	if (x->dt != y->dt && op != OP_Pow)
		return ferr(F, 1, "dtype %s differs from input 0's %s", dtype_name(y->dt), dtype_name(x->dt));
	return bcast_binary(F, op, &F->out, x, y, is_cmp(op) ? DT_BOOL : x->dt, 1);
}

static FRes f_variadic(Fold *F)
{
	Op op = F->n->op;
	Ten acc = F->in[0], next;
	bool own = false; /* acc is ours to free (not an input) */
	FRes res = F_OK;
	for (int k = 1; k < F->nin && res == F_OK; k++) {
		if (!present(F, k))
			res = F_SKIP;
		else if (F->in[k].dt != acc.dt)
			res = ferr(F, k, "dtype %s differs from input 0's %s", dtype_name(F->in[k].dt),
			           dtype_name(acc.dt));
		else if ((res = bcast_binary(F, op, &next, &acc, &F->in[k], acc.dt, k)) == F_OK) {
			if (own)
				ten_free(&acc);
			acc = next;
			own = true;
		}
	}
	if (res == F_OK)
		res = ten_alloc(&F->out, acc.dt, &acc.s);
	for (int64_t k = 0; res == F_OK && k < acc.n; k++) {
		if (op == OP_Mean && acc.isf)
			F->out.f[k] = acc.f[k] / F->nin;
		else if (op == OP_Mean)
			F->out.i[k] = acc.i[k] / F->nin;
		else
			copy_el(&F->out, k, &acc, k);
	}
	if (own)
		ten_free(&acc);
	return res;
}

static FRes f_unary(Fold *F)
{
	Ten *x = &F->in[0];
	Op op = F->n->op;
	DType dt = x->dt;
	if (op == OP_Not && dt != DT_BOOL)
		return ferr(F, 0, "Not needs bool, got %s", dtype_name(dt));
	if (op != OP_Neg && op != OP_Abs && op != OP_Not && !x->isf)
		return F_SKIP; /* float-only ops; inference reports a wrong dtype */
	FRes res = ten_alloc(&F->out, dt, &x->s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < x->n; k++) {
		if (x->isf) {
			double a = x->f[k], r;
			switch (op) {
			case OP_Neg: r = -a; break;
			case OP_Abs: r = fabs(a); break;
			case OP_Sqrt: r = sqrt(a); break;
			case OP_Reciprocal: r = 1.0 / a; break;
			case OP_Floor: r = floor(a); break;
			case OP_Ceil: r = ceil(a); break;
			case OP_Exp: r = exp(a); break;
			case OP_Log: r = log(a); break;
			case OP_Sin: r = sin(a); break;
			case OP_Cos: r = cos(a); break;
			case OP_Tanh: r = tanh(a); break;
			case OP_Erf: r = erf(a); break;
			case OP_Relu: r = a > 0 || isnan(a) ? a : 0; break;
			case OP_Sigmoid: r = 1 / (1 + exp(-a)); break;
			default: IR_UNREACHABLE("f_unary: op");
			}
			/* f32: compute what a float kernel computes */
			if (dt == DT_F32 && op == OP_Reciprocal)
				r = 1.0f / (float)a;
			F->out.f[k] = r;
		} else {
			int64_t a = x->i[k], r;
			switch (op) {
			case OP_Neg: r = wsub(0, a); break;
			case OP_Abs: r = a < 0 ? wsub(0, a) : a; break;
			case OP_Not: r = !a; break;
			default: IR_UNREACHABLE("f_unary: op");
			}
			F->out.i[k] = r;
		}
	}
	return F_OK;
}

static FRes f_where(Fold *F)
{
	Ten *c = &F->in[0], *x = &F->in[1], *y = &F->in[2];
	if (c->dt != DT_BOOL)
		return ferr(F, 0, "condition must be bool, got %s", dtype_name(c->dt));
	if (x->dt != y->dt)
		return ferr(F, 2, "dtype %s differs from input 1's %s", dtype_name(y->dt), dtype_name(x->dt));
	Shape s1, s;
	if (!bcast2(&c->s, &x->s, &s1) || !bcast2(&s1, &y->s, &s))
		return ferr(F, -1, "shapes cannot be broadcast together");
	FRes res = ten_alloc(&F->out, x->dt, &s);
	if (res != F_OK)
		return res;
	int64_t *mc = bcast_map(&s, &c->s), *mx = bcast_map(&s, &x->s), *my = bcast_map(&s, &y->s);
	for (int64_t k = 0; k < F->out.n; k++) {
		if (c->i[mc[k]])
			copy_el(&F->out, k, x, mx[k]);
		else
			copy_el(&F->out, k, y, my[k]);
	}
	free(mc);
	free(mx);
	free(my);
	return F_OK;
}

static FRes f_cast(Fold *F, DType to)
{
	Ten *x = &F->in[0];
	if (!supported_dtype(to))
		return F_SKIP;
	FRes res = ten_alloc(&F->out, to, &x->s);
	if (res != F_OK)
		return res;
	for (int64_t k = 0; k < x->n; k++) {
		if (to == DT_BOOL)
			F->out.i[k] = x->isf ? x->f[k] != 0 : x->i[k] != 0;
		else
			copy_el(&F->out, k, x, k);
	}
	return F_OK;
}

/* ReduceSum/Prod/Min/Max/Mean.  Axes from input 1 (ReduceSum-13+,
 * others 18+) or the "axes" attribute; empty axes reduce everything unless
 * noop_with_empty_axes. */
static FRes f_reduce(Fold *F)
{
	Ten *x = &F->in[0];
	Op op = F->n->op;
	int r = x->s.rank;
	int64_t axes[IR_MAX_RANK * 2];
	int na;
	FRes res = get_axes(F, 1, "axes", axes, &na);
	if (res != F_OK)
		return res;
	bool keep = attr_int(F->n, "keepdims", 1) != 0;
	bool red[IR_MAX_RANK] = {false};
	if (na <= 0) {
		if (na == 0 && attr_int(F->n, "noop_with_empty_axes", 0)) {
			Shape s = x->s;
			return same_data(F, &s);
		}
		for (int j = 0; j < r; j++)
			red[j] = true;
	} else {
		for (int j = 0; j < na; j++) {
			int a;
			if (!norm_axis(axes[j], r, &a))
				return ferr(F, 1, "axis %lld out of range for rank %d", (long long)axes[j], r);
			red[a] = true;
		}
	}
	Shape s = shape_make(0, NULL), full = x->s;
	int64_t cnt = 1;
	for (int j = 0; j < r; j++) {
		if (red[j]) {
			cnt *= x->s.dims[j];
			full.dims[j] = 1;
			if (keep)
				s.dims[s.rank++] = 1;
		} else {
			s.dims[s.rank++] = x->s.dims[j];
		}
	}
	if (cnt == 0 && (op == OP_ReduceMax || op == OP_ReduceMin || op == OP_ReduceMean))
		return F_SKIP;
	if ((res = ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	Ten *o = &F->out;
	bool *init = xcalloc((size_t)(o->n ? o->n : 1), 1);
	int64_t *map = bcast_map(&x->s, &full); /* input element -> reduced slot */
	for (int64_t k = 0; k < x->n; k++) {
		int64_t m = map[k];
		if (!init[m]) {
			copy_el(o, m, x, k);
			init[m] = true;
			continue;
		}
		if (o->isf) {
			double a = o->f[m], b = x->f[k];
			switch (op) {
			case OP_ReduceSum: case OP_ReduceMean: a += b; break;
			case OP_ReduceProd: a *= b; break;
			case OP_ReduceMax: a = isnan(a) || isnan(b) ? NAN : a > b ? a : b; break;
			case OP_ReduceMin: a = isnan(a) || isnan(b) ? NAN : a < b ? a : b; break;
			default: IR_UNREACHABLE("f_reduce: op");
			}
			o->f[m] = a;
		} else {
			int64_t a = o->i[m], b = x->i[k];
			switch (op) {
			case OP_ReduceSum: case OP_ReduceMean: a = wadd(a, b); break;
			case OP_ReduceProd: a = wmul(a, b); break;
			case OP_ReduceMax: a = a > b ? a : b; break;
			case OP_ReduceMin: a = a < b ? a : b; break;
			default: IR_UNREACHABLE("f_reduce: op");
			}
			o->i[m] = a;
		}
	}
	for (int64_t m = 0; m < o->n; m++) {
		if (!init[m]) /* empty reduction: sum 0, product 1 */
			set_num(o, m, op == OP_ReduceProd, op == OP_ReduceProd, o->isf);
		else if (op == OP_ReduceMean && o->isf)
			o->f[m] /= (double)cnt;
		else if (op == OP_ReduceMean)
			o->i[m] /= cnt;
	}
	free(init);
	free(map);
	return F_OK;
}

/* ---- driver ------------------------------------------------------------------ */
static bool foldable(Op op)
{
	switch (op) {
	case OP_Constant: case OP_Shape: case OP_Size: case OP_Identity: case OP_Cast:
	case OP_CastLike: case OP_Reshape: case OP_Flatten: case OP_Squeeze: case OP_Unsqueeze:
	case OP_Concat: case OP_Slice: case OP_Gather: case OP_Transpose: case OP_Expand:
	case OP_Tile: case OP_ConstantOfShape: case OP_Range: case OP_Where: case OP_Trilu:
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Mod: case OP_Pow:
	case OP_Neg: case OP_Abs: case OP_Sqrt: case OP_Reciprocal: case OP_Floor: case OP_Ceil:
	case OP_Exp: case OP_Log: case OP_Sin: case OP_Cos: case OP_Tanh: case OP_Erf: case OP_Relu:
	case OP_Sigmoid: case OP_Einsum:
	case OP_Equal: case OP_Less: case OP_LessOrEqual: case OP_Greater: case OP_GreaterOrEqual:
	case OP_Not: case OP_And: case OP_Or: case OP_Xor:
	case OP_Min: case OP_Max: case OP_Sum: case OP_Mean:
	case OP_ReduceSum: case OP_ReduceProd: case OP_ReduceMin: case OP_ReduceMax: case OP_ReduceMean:
		return true;
	default:
		return false;
	}
}

static FRes eval(Fold *F)
{
	switch (F->n->op) {
	case OP_Constant: return f_constant(F);
	case OP_Identity: return same_data(F, &F->in[0].s);
	case OP_Cast: return f_cast(F, (DType)attr_int(F->n, "to", DT_UNDEF));
	case OP_CastLike: return f_cast(F, F->in[1].dt);
	case OP_Reshape: return f_reshape(F);
	case OP_Flatten: return f_flatten(F);
	case OP_Squeeze: return f_squeeze(F);
	case OP_Unsqueeze: return f_unsqueeze(F);
	case OP_Concat: return f_concat(F);
	case OP_Slice: return f_slice(F);
	case OP_Gather: return f_gather(F);
	case OP_Transpose: return f_transpose(F);
	case OP_Expand: return f_expand(F);
	case OP_Tile: return f_tile(F);
	case OP_ConstantOfShape: return f_constant_of_shape(F);
	case OP_Range: return f_range(F);
	case OP_Where: return f_where(F);
	case OP_Trilu: return f_trilu(F);
	case OP_Neg: case OP_Abs: case OP_Sqrt: case OP_Reciprocal: case OP_Floor: case OP_Ceil:
	case OP_Exp: case OP_Log: case OP_Sin: case OP_Cos: case OP_Tanh: case OP_Erf: case OP_Relu:
	case OP_Sigmoid: case OP_Not:
		return f_unary(F);
	case OP_Einsum: return f_einsum(F);
	case OP_Min: case OP_Max: case OP_Sum: case OP_Mean:
		return f_variadic(F);
	case OP_ReduceSum: case OP_ReduceProd: case OP_ReduceMin: case OP_ReduceMax: case OP_ReduceMean:
		return f_reduce(F);
	default:
		return f_binary(F);
	}
}

/* Ops whose folded output holds exactly input 0's bytes when the dtype is
 * unchanged: the constant then shares input 0's data instead of a copy. */
static bool keeps_bytes(Op op)
{
	return op == OP_Identity || op == OP_Cast || op == OP_CastLike || op == OP_Reshape ||
	       op == OP_Flatten || op == OP_Squeeze || op == OP_Unsqueeze;
}

/* Turns output 0 into a constant holding F->out; diagnoses disagreement
 * with inference.  An Identity (or same-dtype Cast/CastLike) of a constant
 * that is not a graph output also has its uses rewired to the source
 * constant, so shared initializers stay one constant (one global in the
 * object file) — the "Identity of initializers" export pattern. */
static FRes commit(Fold *F)
{
	Graph *g = F->g;
	ValueId ov = F->n->out[0];
	Value *v = gval(g, ov);
	char b1[128], b2[128];
	if (v->dtype != DT_UNDEF && v->dtype != F->out.dt)
		return ferr(F, -1, "folded output dtype %s differs from the inferred %s",
		            dtype_name(F->out.dt), dtype_name(v->dtype));
	if (shape_is_static(&v->shape) && !shape_eq(&v->shape, &F->out.s))
		return ferr(F, -1, "folded output shape %s differs from the inferred %s",
		            shape_str(&F->out.s, b1, sizeof b1), shape_str(&v->shape, b2, sizeof b2));
	size_t es = dtype_size(F->out.dt);
	size_t nbytes = (size_t)F->out.n * es;
	ValueId src = F->n->nin > 0 ? F->n->in[0] : IR_NONE;
	const void *data;
	bool shared = keeps_bytes(F->n->op) && src != IR_NONE && gval(g, src)->kind == VK_CONST &&
	              gval(g, src)->dtype == F->out.dt && gval(g, src)->nbytes == nbytes;
	if (shared) {
		data = gval(g, src)->data;
	} else {
		unsigned char *p = arena_alloc(&g->arena, nbytes);
		for (int64_t k = 0; k < F->out.n; k++)
			store_el(&F->out, k, F->out.dt, p + (size_t)k * es);
		data = p;
	}
	v->dtype = F->out.dt;
	v->shape = F->out.s;
	v->kind = VK_CONST;
	v->data = data;
	v->nbytes = nbytes;
	v->producer = IR_NONE;
	F->n->dead = true;
	if (shared && !v->is_output &&
	    (F->n->op == OP_Identity || F->n->op == OP_Cast || F->n->op == OP_CastLike))
		graph_replace_uses(g, ov, src);
	return F_OK;
}

bool pass_fold_node(Graph *g, NodeId nid, Diag *d)
{
	Node *n = &g->nodes[nid];
	if (n->dead || !foldable(n->op) || n->nout != 1 || n->out[0] == IR_NONE)
		return true;
	if (n->nin < op_info[n->op].min_in || (op_info[n->op].max_in >= 0 && n->nin > op_info[n->op].max_in))
		return true; /* arity is inference's diagnostic */
	Fold F;
	memset(&F, 0, sizeof F);
	F.g = g;
	F.n = n;
	F.d = d;
	F.nin = n->nin;
	FRes res;
	if (n->op == OP_Shape || n->op == OP_Size) {
		if (n->in[0] == IR_NONE)
			return true;
		const Shape *xs = &gval(g, n->in[0])->shape;
		if (xs->rank < 0)
			return true;
		res = n->op == OP_Shape ? f_shape(&F, xs) : f_size(&F, xs);
	} else {
		F.in = xcalloc((size_t)(n->nin ? n->nin : 1), sizeof(Ten));
		res = F_OK;
		for (int k = 0; k < n->nin && res == F_OK; k++)
			res = load_const(&F, k, &F.in[k]);
		/* an omitted required input is inference's diagnostic */
		for (int k = 0; res == F_OK && k < op_info[n->op].min_in; k++)
			if (!present(&F, k))
				res = F_SKIP;
		if (res == F_OK)
			res = eval(&F);
	}
	if (res == F_OK)
		res = commit(&F);
	for (int k = 0; F.in && k < n->nin; k++)
		ten_free(&F.in[k]);
	free(F.in);
	ten_free(&F.out);
	return res != F_ERR;
}

/* codegen/lower_resize.c — Resize (opset >= 11) and Upsample.
 *
 * Resize is separable: every output coordinate o along an axis maps to a
 * source coordinate x (coordinate_transformation_mode), and the output is
 * the tensor product over axes of per-axis taps (source index, weight):
 *   nearest  1 tap: x rounded by nearest_mode (an integral x is itself)
 *   linear   2 taps at b, b+1 with weights 1-r, r
 *   cubic    4 taps at b-1..b+2 with Keys weights (cubic_coeff_a),
 * where b = ceil(x) - 1 and r = x - b (so r = 1 when x is integral, as in
 * the ONNX reference).  Taps outside the input take the edge value, or with
 * exclude_outside=1 get weight 0 and the rest are renormalised.  With
 * tf_crop_and_resize an x outside [0, in-1] on any axis makes the element
 * extrapolation_value.  The scale of an axis is the given scale, or
 * size/in when sizes are given; the "output width" in the formulas is
 * scale*in, as in the reference.
 *
 * All of this is known at compile time: the taps become constant tables
 * (private globals) per axis, and the node is a loop nest over the output
 * with a tap loop per axis, accumulating in double.  An axis whose taps are
 * all the identity collapses to one tap.  Nearest without extrapolation
 * copies elements bit for bit (any dtype).
 *
 * Upsample is Resize with asymmetric coordinates and, for nearest, floor
 * rounding (x = o / scale).
 */
#include "lower.h"
#include "lower_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum { CT_HALF, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_CROP };
enum { NM_RPF, NM_RPC, NM_FLOOR, NM_CEIL };

typedef struct RzParams {
	int mode, ctm, nm;
	double a;               /* cubic_coeff_a */
	bool exclude;           /* exclude_outside */
	double extrap;          /* extrapolation_value */
	double scale[IR_MAX_RANK];
	double roi[2 * IR_MAX_RANK];
} RzParams;

/* Taps of one axis: out*K entries of (idx, w); valid[o] for crop mode. */
typedef struct RzAxis {
	int64_t in, out;
	int K;
	int64_t *idx;
	double *w;
	unsigned char *valid;
	bool any_invalid;
} RzAxis;

static int pick(const char *s, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (!strcmp(s, set[i]))
			return i;
	return -1;
}

/* Reads the node's attributes and constant scales/sizes/roi. */
static bool rz_params(Cg *cg, const Node *n, RzParams *p)
{
	static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
	static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
	                                   "asymmetric", "tf_crop_and_resize", NULL};
	static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
	                                  "ceil", NULL};
	Graph *g = cg->g;
	const Value *x = gval(g, n->in[0]), *y = gval(g, n->out[0]);
	int r = x->shape.rank;
	memset(p, 0, sizeof *p);
	const char *mode = attr_string(n, "mode", "nearest");
	if (n->op == OP_Upsample) {
		p->mode = !strcmp(mode, "nearest") ? RZ_NEAREST : !strcmp(mode, "linear") ? RZ_LINEAR : -1;
		p->ctm = CT_ASYM;
		p->nm = NM_FLOOR;
	} else {
		p->mode = pick(mode, modes);
		p->ctm = pick(attr_string(n, "coordinate_transformation_mode", "half_pixel"), ctms);
		p->nm = pick(attr_string(n, "nearest_mode", "round_prefer_floor"), nms);
	}
	if (p->mode < 0 || p->ctm < 0 || p->nm < 0)
		return cg_unsupported(cg, -1, "unsupported mode attributes");
	p->a = attr_float(n, "cubic_coeff_a", -0.75f);
	p->exclude = attr_int(n, "exclude_outside", 0) != 0;
	p->extrap = attr_float(n, "extrapolation_value", 0.0f);
	/* scales: Upsample input 1 or attribute; Resize input 2, else sizes */
	int sk = n->op == OP_Upsample ? 1 : 2;
	const Value *sv = sk < n->nin && n->in[sk] != IR_NONE ? gval(g, n->in[sk]) : NULL;
	if (sv && shape_numel(&sv->shape) > 0) {
		if (sv->kind != VK_CONST || !sv->data || shape_numel(&sv->shape) != r)
			return cg_unsupported(cg, sk, "scales must be a constant of %d elements", r);
		for (int i = 0; i < r; i++)
			p->scale[i] = value_get_f64(sv, i);
	} else if (n->op == OP_Upsample) {
		const float *f;
		if (attr_floats(n, "scales", &f) != r)
			return cg_unsupported(cg, -1, "scales attribute must have %d elements", r);
		for (int i = 0; i < r; i++)
			p->scale[i] = f[i];
	} else {
		for (int i = 0; i < r; i++)
			p->scale[i] = (double)y->shape.dims[i] / (double)x->shape.dims[i];
	}
	if (p->ctm == CT_CROP) {
		const Value *rv = gval(g, n->in[1]);
		if (rv->kind != VK_CONST || !rv->data || shape_numel(&rv->shape) != 2 * r)
			return cg_unsupported(cg, 1, "roi must be a constant of %d elements", 2 * r);
		for (int i = 0; i < 2 * r; i++)
			p->roi[i] = value_get_f64(rv, i);
	}
	return true;
}

/* Source coordinate of output index o on axis ax; *outside for crop mode. */
static double rz_coord(const RzParams *p, int ax, int rank, int64_t o, int64_t in, bool *outside)
{
	double s = p->scale[ax], ow = s * (double)in, x;
	*outside = false;
	switch (p->ctm) {
	case CT_ALIGN:
		x = ow == 1 ? 0.0 : (double)o * (double)(in - 1) / (ow - 1);
		break;
	case CT_ASYM:
		x = (double)o / s;
		break;
	case CT_CROP: {
		double st = p->roi[ax], en = p->roi[rank + ax];
		if (ow == 1)
			x = (en - st) * (double)(in - 1) / 2;
		else
			x = (double)o * (en - st) * (double)(in - 1) / (ow - 1);
		x += st * (double)(in - 1);
		*outside = x < 0 || x > (double)(in - 1);
		break;
	}
	case CT_PYTORCH:
		x = ow == 1 ? -0.5 : ((double)o + 0.5) / s - 0.5;
		break;
	default:
		x = ((double)o + 0.5) / s - 0.5;
		break;
	}
	return x;
}

static int64_t clampi(int64_t v, int64_t hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* Builds the taps of one axis (arrays malloc'ed; freed by rz_free). */
static void rz_axis(const RzParams *p, int ax, int rank, int64_t in, int64_t out, RzAxis *t)
{
	int K = p->mode == RZ_NEAREST ? 1 : p->mode == RZ_LINEAR ? 2 : 4;
	t->in = in;
	t->out = out;
	t->K = K;
	t->idx = xcalloc((size_t)(out * K + 1), sizeof *t->idx);
	t->w = xcalloc((size_t)(out * K + 1), sizeof *t->w);
	t->valid = xcalloc((size_t)out + 1, 1);
	t->any_invalid = false;
	bool identity = true;
	for (int64_t o = 0; o < out; o++) {
		bool outside;
		double x = rz_coord(p, ax, rank, o, in, &outside);
		t->valid[o] = !outside;
		t->any_invalid |= outside;
		double base = ceil(x) - 1, r = x - base;
		int64_t b = (int64_t)base;
		int64_t *id = t->idx + o * K;
		double *w = t->w + o * K;
		if (p->mode == RZ_NEAREST) {
			int64_t v;
			if (r == 1)
				v = b + 1;
			else if (p->nm == NM_RPF)
				v = r <= 0.5 ? b : b + 1;
			else if (p->nm == NM_RPC)
				v = r < 0.5 ? b : b + 1;
			else if (p->nm == NM_FLOOR)
				v = b;
			else
				v = b + 1;
			id[0] = clampi(v, in - 1);
			w[0] = 1;
		} else {
			int64_t first = p->mode == RZ_LINEAR ? b : b - 1;
			if (p->mode == RZ_LINEAR) {
				w[0] = 1 - r;
				w[1] = r;
			} else {
				double A = p->a, q = 1 - r;
				w[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
				w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
				w[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
				w[3] = ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A;
			}
			double sum = 0;
			for (int k = 0; k < K; k++) {
				int64_t v = first + k;
				if (p->exclude && (v < 0 || v >= in))
					w[k] = 0;
				sum += w[k];
				id[k] = clampi(v, in - 1);
			}
			if (p->exclude)
				for (int k = 0; k < K; k++)
					w[k] /= sum;
		}
		/* identity: one tap of weight 1 at o, the others weight 0 */
		int hit = -1;
		for (int k = 0; k < K; k++) {
			if (w[k] == 1 && id[k] == o && hit < 0)
				hit = k;
			else if (w[k] != 0)
				identity = false;
		}
		if (hit < 0 || in != out || outside)
			identity = false;
	}
	if (identity && K > 1) {
		for (int64_t o = 0; o < out; o++) {
			t->idx[o] = o;
			t->w[o] = 1;
		}
		t->K = 1;
	}
}

static void rz_free(RzAxis *t, int rank)
{
	for (int i = 0; i < rank; i++) {
		free(t[i].idx);
		free(t[i].w);
		free(t[i].valid);
	}
}

/* A private constant global array of n elements of type et. */
static LLVMValueRef table(Cg *cg, LLVMTypeRef et, LLVMValueRef *elems, int64_t n, const char *name)
{
	LLVMTypeRef at = LLVMArrayType2(et, (uint64_t)n);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, at, name);
	LLVMSetInitializer(gv, LLVMConstArray2(et, elems, (uint64_t)n));
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	return gv;
}

static LLVMValueRef idx_table(Cg *cg, const int64_t *v, int64_t n)
{
	LLVMValueRef *e = xmalloc((size_t)(n + 1) * sizeof *e);
	for (int64_t i = 0; i < n; i++)
		e[i] = cg_i64(cg, v[i]);
	LLVMValueRef g = table(cg, cg->t_i64, e, n, "resize_idx");
	free(e);
	return g;
}

static LLVMValueRef w_table(Cg *cg, const double *v, int64_t n)
{
	LLVMValueRef *e = xmalloc((size_t)(n + 1) * sizeof *e);
	for (int64_t i = 0; i < n; i++)
		e[i] = LLVMConstReal(cg->t_f64, v[i]);
	LLVMValueRef g = table(cg, cg->t_f64, e, n, "resize_w");
	free(e);
	return g;
}

static LLVMValueRef valid_table(Cg *cg, const unsigned char *v, int64_t n)
{
	LLVMValueRef *e = xmalloc((size_t)(n + 1) * sizeof *e);
	for (int64_t i = 0; i < n; i++)
		e[i] = LLVMConstInt(cg->t_i8, v[i], 0);
	LLVMValueRef g = table(cg, cg->t_i8, e, n, "resize_valid");
	free(e);
	return g;
}

static LLVMValueRef tload(Cg *cg, LLVMTypeRef et, LLVMValueRef tab, LLVMValueRef i)
{
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, et, tab, &i, 1, "");
	return LLVMBuildLoad2(cg->b, et, p, "");
}

/* Largest tap table built for one axis (entries). */
#define RZ_MAX_TABLE ((int64_t)1 << 24)

/* Resize group entry: see the file comment. */
bool cg_lower_resize(Cg *cg, const Node *n)
{
	Graph *g = cg->g;
	LLVMBuilderRef b = cg->b;
	ValueId xv = n->in[0], yv = n->out[0];
	const Value *x = gval(g, xv), *y = gval(g, yv);
	int r = x->shape.rank;
	RzParams p;
	if (!rz_params(cg, n, &p))
		return false;
	if (shape_numel(&y->shape) == 0)
		return true;
	if (p.mode != RZ_NEAREST && !dtype_is_float(x->dtype))
		return cg_unsupported(cg, 0, "interpolation of %s is not supported", dtype_name(x->dtype));
	for (int i = 0; i < r; i++)
		if (y->shape.dims[i] * 4 > RZ_MAX_TABLE)
			return cg_unsupported(cg, -1, "output axis %d is too long for the tap tables", i);
	RzAxis ax[IR_MAX_RANK];
	bool crop = false;
	for (int i = 0; i < r; i++) {
		rz_axis(&p, i, r, x->shape.dims[i], y->shape.dims[i], &ax[i]);
		crop |= ax[i].any_invalid;
	}
	int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
	shape_strides(&x->shape, xs);
	shape_strides(&y->shape, ys);
	LLVMValueRef ti[IR_MAX_RANK], tw[IR_MAX_RANK], tv[IR_MAX_RANK];
	for (int i = 0; i < r; i++) {
		ti[i] = idx_table(cg, ax[i].idx, ax[i].out * ax[i].K);
		tw[i] = ax[i].K > 1 ? w_table(cg, ax[i].w, ax[i].out * ax[i].K) : NULL;
		tv[i] = ax[i].any_invalid ? valid_table(cg, ax[i].valid, ax[i].out) : NULL;
	}
	CgNest nest;
	cg_nest(cg, &nest, r, y->shape.dims);
	LLVMValueRef yi = cg_linear(cg, r, nest.iv, ys);
	bool copy = p.mode == RZ_NEAREST && !crop;
	for (int i = 0; i < r && copy; i++)
		copy = ax[i].K == 1;
	if (copy) {
		LLVMValueRef src = cg_i64(cg, 0);
		for (int i = 0; i < r; i++) {
			LLVMValueRef s = tload(cg, cg->t_i64, ti[i], nest.iv[i]);
			src = LLVMBuildAdd(b, src, LLVMBuildMul(b, s, cg_i64(cg, xs[i]), ""), "");
		}
		DType bt = cg_dm_bits_dtype(x->dtype);
		cg_store_ptr(cg, bt, cg_ptr(cg, yv), yi, cg_load_ptr(cg, bt, cg_ptr(cg, xv), src));
	} else {
		LLVMTypeRef dt = cg->t_f64;
		DType ct = x->dtype == DT_F16 || x->dtype == DT_BF16 ? DT_F32 : x->dtype;
		LLVMValueRef acc = cg_alloca(cg, dt, "acc");
		LLVMBuildStore(b, LLVMConstReal(dt, 0), acc);
		/* one tap loop per axis; src and weight product carried down */
		CgLoop tl[IR_MAX_RANK];
		LLVMValueRef src = cg_i64(cg, 0), w = LLVMConstReal(dt, 1);
		for (int i = 0; i < r; i++) {
			int K = ax[i].K;
			cg_for(cg, &tl[i], 0, K);
			LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildMul(b, nest.iv[i], cg_i64(cg, K), ""),
			                              tl[i].iv, "");
			LLVMValueRef s = tload(cg, cg->t_i64, ti[i], e);
			src = LLVMBuildAdd(b, src, LLVMBuildMul(b, s, cg_i64(cg, xs[i]), ""), "");
			if (tw[i])
				w = LLVMBuildFMul(b, w, tload(cg, dt, tw[i], e), "");
		}
		LLVMValueRef v = cg_convert(cg, cg_load(cg, xv, src), ct, DT_F64);
		LLVMValueRef term = p.mode == RZ_NEAREST ? v : LLVMBuildFMul(b, w, v, "");
		LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, dt, acc, ""), term, ""), acc);
		for (int i = r - 1; i >= 0; i--)
			cg_for_end(cg, &tl[i]);
		LLVMValueRef res = LLVMBuildLoad2(b, dt, acc, "");
		if (crop) {
			LLVMValueRef ok = LLVMConstInt(cg->t_i1, 1, 0);
			for (int i = 0; i < r; i++) {
				if (!tv[i])
					continue;
				LLVMValueRef vv = tload(cg, cg->t_i8, tv[i], nest.iv[i]);
				ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntNE, vv, LLVMConstInt(cg->t_i8, 0, 0), ""), "");
			}
			res = LLVMBuildSelect(b, ok, res, LLVMConstReal(dt, p.extrap), "");
		}
		cg_store(cg, yv, yi, cg_convert(cg, res, DT_F64, ct));
	}
	cg_nest_end(cg, &nest);
	rz_free(ax, r);
	return true;
}

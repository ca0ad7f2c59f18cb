/* codegen/lower_data.c — shape and data-movement ops.
 *
 * Almost every op here is a strided copy: the output (or one part of it)
 * is walked as a loop nest and each element is fetched from
 *     in[base + sum_k i_k * s_k]
 * with compile-time base and strides derived from the static shapes and
 * constant attributes/inputs.  cg_dm_copy() is that one kernel:
 *   Transpose       src strides permuted
 *   Slice           base = sum start*stride, strides scaled by step
 *   Expand          broadcast strides (0 on broadcast dims)
 *   Tile            2-D per dimension: (repeat: src 0, element: src s_k)
 *   Concat / Split  one copy per input / output at an offset along axis
 *   DepthToSpace / SpaceToDepth   6-D views of a reshape+transpose
 *   Pad (constant)  fill, then copy the (possibly cropped) interior
 * Reshape, Flatten, Squeeze and Unsqueeze are byte copies; Shape, Size and
 * ConstantOfShape write compile-time values.  Pad's edge/reflect/wrap
 * modes map each output coordinate back per dimension.  Copies move raw
 * bits (an integer of the element size), so no value is ever converted.
 *
 * Inputs that decide compile-time layout (Slice starts/steps, Pad pads)
 * must be constants; inputs the output shape already encodes (Split
 * sizes, Tile repeats, Expand shape, Reshape shape) are not read at all.
 */
#include "lower.h"
#include "lower_data.h"

#include <assert.h>
#include <string.h>

/* A view of the whole of v with its row-major strides. */
static CgView view_of(Cg *cg, ValueId v)
{
	CgView w = {.v = v, .base = 0};
	shape_strides(&gval(cg->g, v)->shape, w.strides);
	return w;
}

/* Stores compute-type value x into every element of v. */
static void fill(Cg *cg, ValueId v, LLVMValueRef x)
{
	int64_t n = shape_numel(&gval(cg->g, v)->shape);
	if (n <= 0)
		return;
	CgLoop l;
	cg_for(cg, &l, 0, n);
	cg_store(cg, v, l.iv, x);
	cg_for_end(cg, &l);
}

/* ---- byte copies and compile-time values ---------------------------------- */

/* Reshape, Flatten, Squeeze, Unsqueeze: same elements, new shape. */
static bool lower_bytecopy(Cg *cg, const Node *n)
{
	const Value *in = gval(cg->g, n->in[0]), *out = gval(cg->g, n->out[0]);
	int64_t cnt = shape_numel(&out->shape);
	if (cnt != shape_numel(&in->shape) || in->dtype != out->dtype)
		return cg_unsupported(cg, -1, "input and output differ in size or type");
	cg_memcpy(cg, cg_ptr(cg, n->out[0]), cg_ptr(cg, n->in[0]), cnt * (int64_t)dtype_size(out->dtype));
	return true;
}

/* Shape-1..14 and Shape-15 (start/end, clamped): the static dims. */
static bool lower_shape(Cg *cg, const Node *n)
{
	const Shape *s = &gval(cg->g, n->in[0])->shape;
	ValueId o = n->out[0];
	int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", s->rank);
	if (start < 0)
		start += s->rank;
	if (end < 0)
		end += s->rank;
	start = start < 0 ? 0 : start > s->rank ? s->rank : start;
	end = end < 0 ? 0 : end > s->rank ? s->rank : end;
	int64_t cnt = end > start ? end - start : 0;
	if (shape_numel(&gval(cg->g, o)->shape) != cnt)
		return cg_unsupported(cg, -1, "output size does not match start/end");
	for (int64_t i = 0; i < cnt; i++)
		cg_store(cg, o, cg_i64(cg, i), cg_const_int(cg, gval(cg->g, o)->dtype, s->dims[start + i]));
	return true;
}

static bool lower_size(Cg *cg, const Node *n)
{
	ValueId o = n->out[0];
	int64_t cnt = shape_numel(&gval(cg->g, n->in[0])->shape);
	cg_store(cg, o, cg_i64(cg, 0), cg_const_int(cg, gval(cg->g, o)->dtype, cnt));
	return true;
}

/* ConstantOfShape-9: every element is the one-element tensor `value`
 * (default float 0). */
static bool lower_constant_of_shape(Cg *cg, const Node *n)
{
	ValueId o = n->out[0];
	DType dt = gval(cg->g, o)->dtype;
	const Attr *a = node_attr(n, "value");
	LLVMValueRef x;
	if (!a) {
		x = cg_const(cg, dt, 0);
	} else {
		if (a->kind != AK_TENSOR || !a->t || !a->t->data || shape_numel(&a->t->shape) != 1)
			return cg_unsupported(cg, -1, "attribute 'value' must be a one-element tensor");
		Value tmp = {.dtype = a->t->dtype, .data = a->t->data, .nbytes = a->t->nbytes};
		if (a->t->dtype != dt)
			return cg_unsupported(cg, -1, "value type %s differs from output type %s",
			                      dtype_name(a->t->dtype), dtype_name(dt));
		if (dtype_is_float(dt))
			x = cg_const(cg, dt, value_get_f64(&tmp, 0));
		else if (dtype_is_int(dt) || dt == DT_BOOL)
			x = cg_const_int(cg, dt, value_get_int(&tmp, 0));
		else
			return cg_unsupported(cg, -1, "value type %s", dtype_name(dt));
	}
	fill(cg, o, x);
	return true;
}

/* ---- strided copies ------------------------------------------------------- */

static bool lower_transpose(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	int r = is->rank;
	const PermParams *t = node_perm(cg->g, (NodeId)(n - cg->g->nodes), cg->d);
	if (!t)
		return false;
	const int64_t *perm = t->perm;
	int64_t ist[IR_MAX_RANK];
	shape_strides(is, ist);
	CgView dst = view_of(cg, n->out[0]), src = {.v = n->in[0], .base = 0};
	for (int k = 0; k < r; k++) {
		if (os->dims[k] != is->dims[perm[k]])
			return cg_unsupported(cg, -1, "output shape does not match perm");
		src.strides[k] = ist[perm[k]];
	}
	cg_dm_copy(cg, r, os->dims, &dst, &src);
	return true;
}

/* Concat: input k lands at offset sum(earlier dims) along axis. */
static bool lower_concat(Cg *cg, const Node *n)
{
	const Shape *os = &gval(cg->g, n->out[0])->shape;
	int axis = cg_dm_axis(attr_int(n, "axis", 0), os->rank);
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	int64_t off = 0;
	for (int k = 0; k < n->nin; k++) {
		if (n->in[k] == IR_NONE)
			continue;
		const Shape *is = &gval(cg->g, n->in[k])->shape;
		if (is->rank != os->rank)
			return cg_unsupported(cg, k, "rank differs from the output's");
		CgView dst = view_of(cg, n->out[0]), src = view_of(cg, n->in[k]);
		dst.base = off * dst.strides[axis];
		cg_dm_copy(cg, is->rank, is->dims, &dst, &src);
		off += is->dims[axis];
	}
	if (off != os->dims[axis])
		return cg_unsupported(cg, -1, "inputs do not add up to the output along axis");
	return true;
}

/* Split: output k is the slab at offset sum(earlier dims) along axis; the
 * split sizes are the output shapes. */
static bool lower_split(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape;
	int axis = cg_dm_axis(attr_int(n, "axis", 0), is->rank);
	if (axis < 0)
		return cg_unsupported(cg, -1, "axis out of range");
	int64_t off = 0;
	for (int k = 0; k < n->nout; k++) {
		if (n->out[k] == IR_NONE)
			return cg_unsupported(cg, -1, "output %d omitted", k);
		const Shape *os = &gval(cg->g, n->out[k])->shape;
		if (os->rank != is->rank)
			return cg_unsupported(cg, -1, "output %d: rank differs from the input's", k);
		CgView dst = view_of(cg, n->out[k]), src = view_of(cg, n->in[0]);
		src.base = off * src.strides[axis];
		cg_dm_copy(cg, os->rank, os->dims, &dst, &src);
		off += os->dims[axis];
	}
	if (off != is->dims[axis])
		return cg_unsupported(cg, -1, "outputs do not add up to the input along axis");
	return true;
}

/* Slice-1 (attributes) and Slice-10/11/13 (inputs starts, ends, axes,
 * steps).  Starts clamp to [0, d] for positive steps and [0, d-1] for
 * negative ones, after adding d to negative values; ends likewise to
 * [0, d] / [-1, d-1].  The resulting count is checked against the output. */
static bool lower_slice(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	int r = is->rank;
	int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
	int ns, ne, na, nst;
	if (n->opset < 10) {
		const int64_t *p;
		ns = attr_ints(n, "starts", &p);
		if (ns > IR_MAX_RANK)
			return cg_unsupported(cg, -1, "too many starts");
		for (int k = 0; k < ns; k++)
			starts[k] = p[k];
		ne = attr_ints(n, "ends", &p);
		if (ne > IR_MAX_RANK)
			return cg_unsupported(cg, -1, "too many ends");
		for (int k = 0; k < ne; k++)
			ends[k] = p[k];
		na = attr_ints(n, "axes", &p);
		if (na > IR_MAX_RANK)
			return cg_unsupported(cg, -1, "too many axes");
		for (int k = 0; k < na; k++)
			axes[k] = p[k];
		nst = -1;
	} else {
		if (!cg_dm_const_ints(cg, n, 1, starts, IR_MAX_RANK, &ns) ||
		    !cg_dm_const_ints(cg, n, 2, ends, IR_MAX_RANK, &ne) ||
		    !cg_dm_const_ints(cg, n, 3, axes, IR_MAX_RANK, &na) ||
		    !cg_dm_const_ints(cg, n, 4, steps, IR_MAX_RANK, &nst))
			return false;
	}
	if (ns < 0 || ne != ns)
		return cg_unsupported(cg, -1, "starts and ends must be given with equal length");
	if (na < 0) {
		na = ns;
		for (int k = 0; k < ns; k++)
			axes[k] = k;
	}
	if (nst < 0) {
		nst = ns;
		for (int k = 0; k < ns; k++)
			steps[k] = 1;
	}
	if (na != ns || nst != ns)
		return cg_unsupported(cg, -1, "axes and steps must match starts in length");

	int64_t ist[IR_MAX_RANK];
	shape_strides(is, ist);
	CgView dst = view_of(cg, n->out[0]), src = {.v = n->in[0], .base = 0};
	memcpy(src.strides, ist, sizeof ist);
	bool done[IR_MAX_RANK] = {false};
	for (int j = 0; j < ns; j++) {
		int a = cg_dm_axis(axes[j], r);
		if (a < 0 || done[a])
			return cg_unsupported(cg, -1, "axis %lld out of range or repeated", (long long)axes[j]);
		done[a] = true;
		int64_t d = is->dims[a], st = steps[j], s = starts[j], e = ends[j];
		if (st == 0)
			return cg_unsupported(cg, -1, "step 0");
		if (s < 0)
			s += d;
		if (e < 0)
			e += d;
		int64_t cnt;
		if (st > 0) {
			s = s < 0 ? 0 : s > d ? d : s;
			e = e < 0 ? 0 : e > d ? d : e;
			cnt = e > s ? (e - s + st - 1) / st : 0;
		} else {
			s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
			e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
			cnt = s > e ? (s - e + (-st) - 1) / (-st) : 0;
		}
		if (cnt != os->dims[a])
			return cg_unsupported(cg, -1, "axis %d: %lld elements selected, output has %lld", a,
			                      (long long)cnt, (long long)os->dims[a]);
		if (cnt > 0)
			src.base += s * ist[a];
		src.strides[a] = ist[a] * st;
	}
	for (int a = 0; a < r; a++)
		if (!done[a] && os->dims[a] != is->dims[a])
			return cg_unsupported(cg, -1, "unsliced axis %d changes size", a);
	cg_dm_copy(cg, r, os->dims, &dst, &src);
	return true;
}

/* Expand-8: numpy broadcast of the input to the output shape. */
static bool lower_expand(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	if (is->rank > os->rank)
		return cg_unsupported(cg, 0, "rank exceeds the output's");
	for (int k = 0; k < is->rank; k++) {
		int64_t id = is->dims[k], od = os->dims[os->rank - is->rank + k];
		if (id != 1 && id != od)
			return cg_unsupported(cg, 0, "dimension %d does not broadcast", k);
	}
	CgView dst = view_of(cg, n->out[0]), src = {.v = n->in[0], .base = 0};
	cg_broadcast_strides(is, os->rank, src.strides);
	cg_dm_copy(cg, os->rank, os->dims, &dst, &src);
	return true;
}

/* Tile-6: output dim k = repeats_k * d_k, walked as (repeat, element). */
static bool lower_tile(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	if (is->rank != os->rank)
		return cg_unsupported(cg, -1, "output rank differs from the input's");
	int64_t ist[IR_MAX_RANK], ost[IR_MAX_RANK], dims[CG_DM_MAX_DIMS];
	shape_strides(is, ist);
	shape_strides(os, ost);
	CgView dst = {.v = n->out[0]}, src = {.v = n->in[0]};
	for (int k = 0; k < is->rank; k++) {
		int64_t d = is->dims[k];
		if (d == 0 || os->dims[k] == 0) {
			if (os->dims[k] != 0)
				return cg_unsupported(cg, -1, "cannot tile an empty dimension");
			return true;
		}
		if (os->dims[k] % d != 0)
			return cg_unsupported(cg, -1, "output dim %d is not a multiple of the input's", k);
		dims[2 * k] = os->dims[k] / d;
		dims[2 * k + 1] = d;
		dst.strides[2 * k] = d * ost[k];
		dst.strides[2 * k + 1] = ost[k];
		src.strides[2 * k] = 0;
		src.strides[2 * k + 1] = ist[k];
	}
	cg_dm_copy(cg, 2 * is->rank, dims, &dst, &src);
	return true;
}

/* DepthToSpace-13 / SpaceToDepth-13 on [N,C,H,W] with blocksize b.
 * DCR: out[n][c][h*b+i][w*b+j] = in[n][(i*b+j)*C'+c][h][w], C' = C/b²
 * CRD: out[n][c][h*b+i][w*b+j] = in[n][c*b*b+i*b+j][h][w]
 * SpaceToDepth: out[n][(i*b+j)*C+c][h][w] = in[n][c][h*b+i][w*b+j].
 * The output is walked as the 6-D view of its own layout. */
static bool lower_depth_space(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	int64_t b = attr_int(n, "blocksize", 0);
	if (is->rank != 4 || os->rank != 4)
		return cg_unsupported(cg, 0, "expected rank 4");
	if (b <= 0)
		return cg_unsupported(cg, -1, "blocksize must be positive");
	int64_t N = is->dims[0], C = is->dims[1], H = is->dims[2], W = is->dims[3];
	CgView dst = {.v = n->out[0]}, src = {.v = n->in[0]};
	int64_t dims[6];
	if (n->op == OP_DepthToSpace) {
		const char *mode = attr_string(n, "mode", "DCR");
		int64_t Co = C / (b * b);
		if (C % (b * b) != 0 || os->dims[1] != Co || os->dims[2] != H * b || os->dims[3] != W * b)
			return cg_unsupported(cg, -1, "shapes do not match blocksize");
		int64_t d6[6] = {N, Co, H, b, W, b};
		memcpy(dims, d6, sizeof d6);
		if (!strcmp(mode, "DCR")) {
			int64_t s[6] = {C * H * W, H * W, W, b * Co * H * W, 1, Co * H * W};
			memcpy(src.strides, s, sizeof s);
		} else if (!strcmp(mode, "CRD")) {
			int64_t s[6] = {C * H * W, b * b * H * W, W, b * H * W, 1, H * W};
			memcpy(src.strides, s, sizeof s);
		} else {
			return cg_unsupported(cg, -1, "mode '%s'", mode);
		}
	} else {
		if (H % b != 0 || W % b != 0 || os->dims[1] != C * b * b || os->dims[2] != H / b ||
		    os->dims[3] != W / b)
			return cg_unsupported(cg, -1, "shapes do not match blocksize");
		int64_t d6[6] = {N, b, b, C, H / b, W / b};
		int64_t s[6] = {C * H * W, W, 1, H * W, b * W, b};
		memcpy(dims, d6, sizeof d6);
		memcpy(src.strides, s, sizeof s);
	}
	int64_t acc = 1;
	for (int k = 5; k >= 0; k--) {
		dst.strides[k] = acc;
		acc *= dims[k];
	}
	cg_dm_copy(cg, 6, dims, &dst, &src);
	return true;
}

/* ---- Pad ------------------------------------------------------------------ */

/* Source coordinate of output coordinate o (i64) for a non-constant mode:
 * i = o - pb mapped into [0, d) by edge (clamp), reflect (period 2(d-1),
 * numpy's repeated reflection) or wrap (period d). */
static LLVMValueRef pad_map(Cg *cg, const char *mode, LLVMValueRef o, int64_t pb, int64_t d)
{
	LLVMBuilderRef b = cg->b;
	LLVMValueRef i = LLVMBuildSub(b, o, cg_i64(cg, pb), "");
	LLVMValueRef zero = cg_i64(cg, 0);
	if (!strcmp(mode, "edge")) {
		i = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, i, zero, ""), zero, i, "");
		LLVMValueRef top = cg_i64(cg, d - 1);
		return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, i, top, ""), top, i, "");
	}
	int64_t period = !strcmp(mode, "wrap") ? d : 2 * (d - 1);
	if (period <= 1)
		return zero;
	LLVMValueRef p = cg_i64(cg, period);
	LLVMValueRef m = LLVMBuildSRem(b, i, p, "");
	m = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, m, zero, ""), LLVMBuildAdd(b, m, p, ""), m, "");
	if (!strcmp(mode, "wrap"))
		return m;
	LLVMValueRef mirrored = LLVMBuildSub(b, p, m, "");
	return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, m, cg_i64(cg, d), ""), m, mirrored, "");
}

/* Pad-1/2 (attributes paddings|pads, value), Pad-11/13 (inputs pads,
 * constant_value), Pad-18 (input axes), Pad-19 (mode wrap).  Negative pads
 * crop. */
static bool lower_pad(Cg *cg, const Node *n)
{
	const Shape *is = &gval(cg->g, n->in[0])->shape, *os = &gval(cg->g, n->out[0])->shape;
	DType dt = gval(cg->g, n->out[0])->dtype;
	int r = is->rank;
	const char *mode = attr_string(n, "mode", "constant");
	if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") && strcmp(mode, "wrap"))
		return cg_unsupported(cg, -1, "mode '%s'", mode);
	int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
	int np, na = -1;
	LLVMValueRef value;
	if (n->opset < 11) {
		const int64_t *p;
		np = attr_ints(n, n->opset < 2 ? "paddings" : "pads", &p);
		if (np < 0 || np > 2 * IR_MAX_RANK)
			return cg_unsupported(cg, -1, "attribute pads missing or too long");
		for (int k = 0; k < np; k++)
			pads[k] = p[k];
		value = cg_const(cg, dt, attr_float(n, "value", 0.0f));
	} else {
		if (!cg_dm_const_ints(cg, n, 1, pads, 2 * IR_MAX_RANK, &np))
			return false;
		if (np < 0)
			return cg_unsupported(cg, -1, "input pads missing");
		if (n->nin > 3 && !cg_dm_const_ints(cg, n, 3, axes, IR_MAX_RANK, &na))
			return false;
		ValueId cv = n->nin > 2 ? n->in[2] : IR_NONE;
		if (cv != IR_NONE && shape_numel(&gval(cg->g, cv)->shape) == 1) {
			if (gval(cg->g, cv)->dtype != dt)
				return cg_unsupported(cg, 2, "type differs from the data's");
			value = cg_load(cg, cv, cg_i64(cg, 0));
		} else {
			value = cg_const(cg, dt, 0);
		}
	}
	/* per-dimension begin/end pads */
	int64_t pb[IR_MAX_RANK] = {0}, pe[IR_MAX_RANK] = {0};
	if (na < 0) {
		if (np != 2 * r)
			return cg_unsupported(cg, -1, "expected %d pads, got %d", 2 * r, np);
		for (int k = 0; k < r; k++) {
			pb[k] = pads[k];
			pe[k] = pads[r + k];
		}
	} else {
		if (np != 2 * na)
			return cg_unsupported(cg, -1, "expected %d pads for %d axes, got %d", 2 * na, na, np);
		for (int j = 0; j < na; j++) {
			int a = cg_dm_axis(axes[j], r);
			if (a < 0)
				return cg_unsupported(cg, 3, "axis out of range");
			pb[a] = pads[j];
			pe[a] = pads[na + j];
		}
	}
	bool grows = false;
	for (int k = 0; k < r; k++) {
		if (is->dims[k] + pb[k] + pe[k] != os->dims[k] || os->dims[k] < 0)
			return cg_unsupported(cg, -1, "pads do not match the output shape");
		if (pb[k] > 0 || pe[k] > 0)
			grows = true;
		if ((pb[k] > 0 || pe[k] > 0) && is->dims[k] == 0 && strcmp(mode, "constant"))
			return cg_unsupported(cg, -1, "mode '%s' cannot pad an empty dimension", mode);
	}

	if (!strcmp(mode, "constant")) {
		if (grows)
			fill(cg, n->out[0], value);
		/* the interior: input i_k = j + max(0,-pb), output o_k = j + max(0,pb) */
		CgView dst = view_of(cg, n->out[0]), src = view_of(cg, n->in[0]);
		int64_t dims[IR_MAX_RANK];
		for (int k = 0; k < r; k++) {
			dims[k] = is->dims[k] + (pb[k] < 0 ? pb[k] : 0) + (pe[k] < 0 ? pe[k] : 0);
			if (dims[k] <= 0)
				return true;
			src.base += (pb[k] < 0 ? -pb[k] : 0) * src.strides[k];
			dst.base += (pb[k] > 0 ? pb[k] : 0) * dst.strides[k];
		}
		cg_dm_copy(cg, r, dims, &dst, &src);
		return true;
	}

	if (shape_numel(os) <= 0)
		return true;
	int64_t ist[IR_MAX_RANK], ost[IR_MAX_RANK];
	shape_strides(is, ist);
	shape_strides(os, ost);
	DType bt = cg_dm_bits_dtype(dt);
	CgNest nest;
	cg_nest(cg, &nest, r, os->dims);
	LLVMValueRef srci = cg_i64(cg, 0);
	for (int k = 0; k < r; k++) {
		LLVMValueRef i = (pb[k] == 0 && pe[k] <= 0) ? nest.iv[k]
		                                            : pad_map(cg, mode, nest.iv[k], pb[k], is->dims[k]);
		srci = LLVMBuildAdd(cg->b, srci, LLVMBuildMul(cg->b, i, cg_i64(cg, ist[k]), ""), "");
	}
	LLVMValueRef x = cg_load_ptr(cg, bt, cg_ptr(cg, n->in[0]), srci);
	cg_store_ptr(cg, bt, cg_ptr(cg, n->out[0]), cg_linear(cg, r, nest.iv, ost), x);
	cg_nest_end(cg, &nest);
	return true;
}

/* ---- Range ------------------------------------------------------------------ */

/* Range-11: out[i] = start + i*delta; the count is the output's size, start
 * and delta are read at run time (constants or not). */
static bool lower_range(Cg *cg, const Node *n)
{
	ValueId o = n->out[0];
	DType dt = gval(cg->g, o)->dtype;
	if (!dtype_is_float(dt) && !dtype_is_int(dt))
		return cg_unsupported(cg, -1, "type %s", dtype_name(dt));
	for (int k = 0; k < 3; k++)
		if (gval(cg->g, n->in[k])->dtype != dt || shape_numel(&gval(cg->g, n->in[k])->shape) != 1)
			return cg_unsupported(cg, k, "expected a scalar of the output type");
	int64_t cnt = shape_numel(&gval(cg->g, o)->shape);
	if (cnt <= 0)
		return true;
	LLVMValueRef start = cg_load(cg, n->in[0], cg_i64(cg, 0));
	LLVMValueRef delta = cg_load(cg, n->in[2], cg_i64(cg, 0));
	CgLoop l;
	cg_for(cg, &l, 0, cnt);
	LLVMValueRef i = cg_convert(cg, l.iv, DT_I64, dt), x;
	if (dtype_is_float(dt))
		x = LLVMBuildFAdd(cg->b, start, LLVMBuildFMul(cg->b, i, delta, ""), "");
	else
		x = LLVMBuildAdd(cg->b, start, LLVMBuildMul(cg->b, i, delta, ""), "");
	cg_store(cg, o, l.iv, x);
	cg_for_end(cg, &l);
	return true;
}

/* ---- dispatcher ------------------------------------------------------------ */

/* Lowers the shape/data-movement ops listed in lower.h into the current
 * node function.  Requires static shapes; returns false after a
 * cg_unsupported() diagnostic for a configuration it cannot lower. */
bool cg_lower_data(Cg *cg, const Node *n)
{
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] != IR_NONE && dtype_size(gval(cg->g, n->out[k])->dtype) == 0)
			return cg_unsupported(cg, -1, "output type %s", dtype_name(gval(cg->g, n->out[k])->dtype));
	switch (n->op) {
	case OP_Reshape:
	case OP_Flatten:
	case OP_Squeeze:
	case OP_Unsqueeze:
		return lower_bytecopy(cg, n);
	case OP_Shape: return lower_shape(cg, n);
	case OP_Size: return lower_size(cg, n);
	case OP_ConstantOfShape: return lower_constant_of_shape(cg, n);
	case OP_Transpose: return lower_transpose(cg, n);
	case OP_Concat: return lower_concat(cg, n);
	case OP_Split: return lower_split(cg, n);
	case OP_Slice: return lower_slice(cg, n);
	case OP_Expand: return lower_expand(cg, n);
	case OP_Tile: return lower_tile(cg, n);
	case OP_DepthToSpace:
	case OP_SpaceToDepth:
		return lower_depth_space(cg, n);
	case OP_Pad: return lower_pad(cg, n);
	case OP_Range: return lower_range(cg, n);
	case OP_Gather:
	case OP_GatherElements:
	case OP_GatherND:
	case OP_ScatterElements:
	case OP_ScatterND:
	case OP_OneHot:
	case OP_Trilu:
	case OP_EyeLike:
	case OP_ReverseSequence:
		return cg_lower_index(cg, n);
	default:
		return cg_unsupported(cg, -1, "not a data-movement op");
	}
}

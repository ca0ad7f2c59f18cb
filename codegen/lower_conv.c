/* codegen/lower_conv.c — Conv, ConvTranspose, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool (N-D, NCHW layout, static shapes).
 *
 * f32 Conv goes through the kernel layer (codegen/kernels/): with 8 or
 * more output channels per group, per image and group a GEMM
 *     Y[Mg, out] = W[Mg, Cg*ker] . im2col(X)[Cg*ker, out] + bias
 * on kern_gemm() (im2col as its implicit B: padding reads 0, never out of
 * bounds; a 1x1 stride-1 unpadded conv reads X as B in place; image and
 * group are batch dims); with fewer (depthwise, channel multipliers), a
 * direct loop vectorised over output columns (emit_conv_direct()), one
 * task per output plane.  Both are bitwise the same on any thread count.
 * The loop nests below serve f64/f16 and what the kernels do not take.
 *
 * Windowed ops (Conv and the pools) loop over output positions; for each
 * spatial dim the valid kernel taps are the range [lo, hi) of kk with
 *     0 <= o*stride - pad_begin + kk*dilation < in
 * computed once per output position (selects, no branch in the tap loops),
 * so padding costs no test in the inner loop.  When no output position
 * reaches the padding the range is the constant [0, kernel).  Conv's taps
 * along the last dim (dilation 1) are contiguous in X and W and summed by
 * the vectorised cg_dot(); kernels with short rows (< 8 taps, stride <= 2)
 * in f32/f64 instead accumulate whole output rows per tap
 * (emit_conv_rows()).
 * ConvTranspose is lowered in gather form: output o receives input i
 * through tap kk when o + pad_begin - kk*dilation == i*stride; that test is
 * a branch per tap (reference quality).
 *
 * Semantics: Conv-11, ConvTranspose-11 (pads from output_shape/auto_pad as
 * the spec's total_padding rule, floor division), MaxPool-12 (Indices with
 * storage_order), AveragePool-11/19 (count_include_pad counts taps inside
 * the padded extent), Global*Pool-1.  auto_pad SAME_UPPER/SAME_LOWER put
 * the odd padding at the end/beginning.
 */
#include "lower.h"
#include "kernels/kernels.h"
#include "vec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The fused activation of a Conv (attribute act, passes/fuse_conv_act.c)
 * on its output y, as the standalone op computes it: ReLU as the GEMM
 * epilogue and Relu do (y < 0 ? 0 : y, NaN kept), GELU by kern_gelu. */
static LLVMValueRef conv_act(Cg *cg, LLVMValueRef y, KAct act)
{
	if (act == KACT_RELU) {
		LLVMValueRef z = LLVMConstNull(LLVMTypeOf(y));
		return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, y, z, ""), z, y, "");
	}
	if (act == KACT_GELU || act == KACT_GELU_TANH)
		return kern_gelu(cg, y, act == KACT_GELU_TANH);
	return y;
}

#define SP IR_MAX_RANK /* max spatial rank */

static LLVMValueRef imin(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, b, ""), a, b, "");
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t prod(const int64_t *d, int n)
{
	int64_t p = 1;
	for (int i = 0; i < n; i++)
		p *= d[i];
	return p;
}

/* Window geometry of one node: k spatial dims. */
typedef struct Geom {
	int k;
	int64_t in[SP], out[SP], ker[SP], str[SP], dil[SP], pb[SP], pe[SP];
} Geom;

/* Row-major strides of the input (xs), kernel (ws) and output (ys)
 * spatial blocks of g. */
static void geom_strides(const Geom *g, int64_t *xs, int64_t *ws, int64_t *ys)
{
	int k = g->k;
	for (int i = k - 1; i >= 0; i--) {
		xs[i] = i == k - 1 ? 1 : xs[i + 1] * g->in[i + 1];
		ws[i] = i == k - 1 ? 1 : ws[i + 1] * g->ker[i + 1];
		ys[i] = i == k - 1 ? 1 : ys[i + 1] * g->out[i + 1];
	}
}

/* The window geometry of n (ir/params.h); NULL after a diagnostic. */
static const WindowParams *params_of(Cg *cg, const Node *n)
{
	return node_window(cg->g, (NodeId)(n - cg->g->nodes), cg->d);
}

/* Fills strides, dilations and pads (explicit or auto_pad) of a forward
 * window (Conv, pools) from w; g->in and g->k must be set. */
static void forward_geom(const WindowParams *w, Geom *g)
{
	for (int i = 0; i < g->k; i++) {
		g->ker[i] = w->kernel[i];
		g->str[i] = w->strides[i];
		g->dil[i] = w->dilations[i];
		window_pads(w, i, g->in[i], &g->pb[i], &g->pe[i]);
	}
}

/* Taps kk in [0, ker) with lo_b <= base + kk*dil < hi_b, as [*lo, *hi). */
static void tap_range(Cg *cg, LLVMValueRef base, int64_t lo_b, int64_t hi_b, int64_t ker,
                      int64_t dil, LLVMValueRef *lo, LLVMValueRef *hi)
{
	LLVMValueRef zero = cg_i64(cg, 0);
	LLVMValueRef t = LLVMBuildSub(cg->b, cg_i64(cg, lo_b), base, "");
	LLVMValueRef tq = LLVMBuildSDiv(cg->b, cg_add_i64(cg, t, cg_i64(cg, dil - 1)), cg_i64(cg, dil), "");
	*lo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLE, t, zero, ""), zero, tq, "");
	LLVMValueRef u = LLVMBuildSub(cg->b, cg_i64(cg, hi_b - 1), base, "");
	LLVMValueRef uq = cg_add_i64(cg, LLVMBuildSDiv(cg->b, u, cg_i64(cg, dil), ""), cg_i64(cg, 1));
	*hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, u, zero, ""), zero,
	                      imin(cg, uq, cg_i64(cg, ker)), "");
}

/* True when every output position of dim i has all its taps inside
 * [lo_b, hi_b): the tap range is then the constant [0, ker). */
static bool full_window(const Geom *g, int i, int64_t lo_b, int64_t hi_b)
{
	return -g->pb[i] >= lo_b &&
	       (g->out[i] - 1) * g->str[i] - g->pb[i] + (g->ker[i] - 1) * g->dil[i] < hi_b;
}

/* Per output position o: base[i] = o[i]*str - pb and the range of taps
 * that fall inside the input, [0, in). */
static void window_at(Cg *cg, const Geom *g, const LLVMValueRef *o,
                      LLVMValueRef *base, LLVMValueRef *lo, LLVMValueRef *hi)
{
	for (int i = 0; i < g->k; i++) {
		base[i] = LLVMBuildSub(cg->b, cg_mul_i64(cg, o[i], g->str[i]), cg_i64(cg, g->pb[i]), "");
		int64_t lb = 0, hb = g->in[i];
		if (full_window(g, i, lb, hb)) {
			lo[i] = cg_i64(cg, 0);
			hi[i] = cg_i64(cg, g->ker[i]);
		} else {
			tap_range(cg, base[i], lb, hb, g->ker[i], g->dil[i], &lo[i], &hi[i]);
		}
	}
}

/* ---- Conv ------------------------------------------------------------------ */

/* Conv in "row" order for f32/f64 outputs: Y[n,m,:] starts as the bias;
 * then for every input channel c of m's group and every tap kk, with
 * w = W[m,c,kk],
 *     Y[n,m,o] += w * X[n,c, o*str - pb + kk*dil]
 * over the output positions o whose input falls inside X (a range per
 * dim, computed per tap).  The innermost loop runs along the last output
 * dim, contiguous in Y (and in X for stride 1), and vectorises; this suits
 * short kernels (3x3, depthwise) where a per-output dot product is too
 * short to vectorise. */
static void emit_conv_rows(Cg *cg, const Node *n, const Geom *g, int64_t N, int64_t C, int64_t M,
                           int64_t group, ValueId bias)
{
	DType ad = gval(cg->g, n->out[0])->dtype;
	int k = g->k;
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t xsp = prod(g->in, k), ysp = prod(g->out, k), wsp = prod(g->ker, k);
	int64_t xs[SP], ws[SP], ys[SP];
	geom_strides(g, xs, ws, ys);
	CgLoop ln, lm, lp, lc, lo[SP];
	CgNest kn;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lm, 0, M);
	LLVMValueRef grp = LLVMBuildSDiv(cg->b, lm.iv, cg_i64(cg, Mg), "");
	LLVMValueRef xch0 = cg_add_i64(cg, cg_mul_i64(cg, ln.iv, C), cg_mul_i64(cg, grp, Cg_));
	LLVMValueRef yoff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, M), lm.iv), ysp);
	LLVMValueRef b0 = bias != IR_NONE ? cg_load_as(cg, bias, lm.iv, ad) : cg_const(cg, ad, 0);
	cg_for(cg, &lp, 0, ysp);
	cg_store_as(cg, n->out[0], cg_add_i64(cg, yoff, lp.iv), b0, ad);
	cg_for_end(cg, &lp);
	cg_for(cg, &lc, 0, Cg_);
	LLVMValueRef xoff = cg_mul_i64(cg, cg_add_i64(cg, xch0, lc.iv), xsp);
	LLVMValueRef woff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, lm.iv, Cg_), lc.iv), wsp);
	cg_nest(cg, &kn, k, g->ker);
	LLVMValueRef w = cg_load_as(cg, n->in[1], cg_add_i64(cg, woff, cg_linear(cg, k, kn.iv, ws)), ad);
	LLVMValueRef t[SP], olo[SP], ohi[SP], o[SP], xi[SP];
	for (int i = 0; i < k; i++) {
		/* input position of output o along dim i: o*str + t */
		t[i] = LLVMBuildSub(cg->b, cg_mul_i64(cg, kn.iv[i], g->dil[i]), cg_i64(cg, g->pb[i]), "");
		tap_range(cg, t[i], 0, g->in[i], g->out[i], g->str[i], &olo[i], &ohi[i]);
	}
	for (int i = 0; i < k; i++) {
		cg_for_v(cg, &lo[i], olo[i], ohi[i]);
		o[i] = lo[i].iv;
		xi[i] = cg_add_i64(cg, cg_mul_i64(cg, o[i], g->str[i]), t[i]);
	}
	LLVMValueRef yi = cg_add_i64(cg, yoff, cg_linear(cg, k, o, ys));
	LLVMValueRef xv = cg_load_as(cg, n->in[0], cg_add_i64(cg, xoff, cg_linear(cg, k, xi, xs)), ad);
	LLVMValueRef yv = cg_load_as(cg, n->out[0], yi, ad);
	cg_store_as(cg, n->out[0], yi, LLVMBuildFAdd(cg->b, yv, LLVMBuildFMul(cg->b, w, xv, ""), ""), ad);
	for (int i = k - 1; i >= 0; i--)
		cg_for_end(cg, &lo[i]);
	cg_nest_end(cg, &kn);
	cg_for_end(cg, &lc);
	cg_for_end(cg, &lm);
	cg_for_end(cg, &ln);
}

/* Largest tap plane emit_conv_planes() keeps on the stack (bytes). */
#define CONV_PLANE_MAX_BYTES 16384

/* Conv in "plane" order for f32/f64 with at least 4 output channels per
 * group: Y[n,m,:] starts as the bias; then for every input channel c and
 * tap kk the shifted (and strided) input plane
 *     P[o] = X[n,c, o*str - pb + kk*dil]   (0 where that falls in padding)
 * is gathered once into a stack array of prod(out) elements, and every
 * output channel m of c's group accumulates
 *     Y[n,m,:] += W[m,c,kk] * P[:]
 * along a contiguous, full-length row that vectorises without per-row
 * range arithmetic.  The gather (strided for stride > 1) is paid once per
 * (c, kk) instead of once per (m, c, kk) as in emit_conv_rows(). */
static void emit_conv_planes(Cg *cg, const Node *n, const Geom *g, int64_t N, int64_t C, int64_t M,
                             int64_t group, ValueId bias)
{
	DType ad = gval(cg->g, n->out[0])->dtype;
	int k = g->k;
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t xsp = prod(g->in, k), ysp = prod(g->out, k), wsp = prod(g->ker, k);
	int64_t xs[SP], ws[SP], ys[SP];
	geom_strides(g, xs, ws, ys);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	LLVMValueRef plane = cg_alloca(cg, LLVMArrayType2(at, (uint64_t)ysp), "plane");
	int64_t esz = ad == DT_F64 ? 8 : 4;
	CgLoop ln, lm, lp, lg, lc, lmm, lq, lo[SP];
	CgNest kn;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lm, 0, M);
	LLVMValueRef yoff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, M), lm.iv), ysp);
	LLVMValueRef b0 = bias != IR_NONE ? cg_load_as(cg, bias, lm.iv, ad) : cg_const(cg, ad, 0);
	cg_for(cg, &lp, 0, ysp);
	cg_store_as(cg, n->out[0], cg_add_i64(cg, yoff, lp.iv), b0, ad);
	cg_for_end(cg, &lp);
	cg_for_end(cg, &lm);
	cg_for(cg, &lg, 0, group);
	cg_for(cg, &lc, 0, Cg_);
	LLVMValueRef xoff = cg_mul_i64(cg, cg_add_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, C), cg_mul_i64(cg, lg.iv, Cg_)), lc.iv), xsp);
	cg_nest(cg, &kn, k, g->ker);
	/* gather the plane of tap kk: positions whose input is padding stay 0 */
	LLVMValueRef t[SP], olo[SP], ohi[SP], o[SP], xi[SP];
	bool padded = false;
	for (int i = 0; i < k; i++) {
		t[i] = LLVMBuildSub(cg->b, cg_mul_i64(cg, kn.iv[i], g->dil[i]), cg_i64(cg, g->pb[i]), "");
		if (full_window(g, i, 0, g->in[i])) {
			olo[i] = cg_i64(cg, 0);
			ohi[i] = cg_i64(cg, g->out[i]);
		} else {
			padded = true;
			tap_range(cg, t[i], 0, g->in[i], g->out[i], g->str[i], &olo[i], &ohi[i]);
		}
	}
	if (padded)
		cg_memset(cg, plane, 0, ysp * esz);
	for (int i = 0; i < k; i++) {
		cg_for_v(cg, &lo[i], olo[i], ohi[i]);
		o[i] = lo[i].iv;
		xi[i] = cg_add_i64(cg, cg_mul_i64(cg, o[i], g->str[i]), t[i]);
	}
	LLVMValueRef xv = cg_load_as(cg, n->in[0], cg_add_i64(cg, xoff, cg_linear(cg, k, xi, xs)), ad);
	cg_store_ptr(cg, ad, plane, cg_linear(cg, k, o, ys), xv);
	for (int i = k - 1; i >= 0; i--)
		cg_for_end(cg, &lo[i]);
	/* every output channel of the group takes this plane, scaled by its weight */
	LLVMValueRef widx = cg_linear(cg, k, kn.iv, ws);
	cg_for(cg, &lmm, 0, Mg);
	LLVMValueRef m = cg_add_i64(cg, cg_mul_i64(cg, lg.iv, Mg), lmm.iv);
	LLVMValueRef w = cg_load_as(cg, n->in[1], cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, m, Cg_), lc.iv), wsp), widx), ad);
	LLVMValueRef yrow = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, M), m), ysp);
	cg_for(cg, &lq, 0, ysp);
	LLVMValueRef yi = cg_add_i64(cg, yrow, lq.iv);
	LLVMValueRef pv = cg_load_ptr(cg, ad, plane, lq.iv);
	LLVMValueRef yv = cg_load_as(cg, n->out[0], yi, ad);
	cg_store_as(cg, n->out[0], yi, LLVMBuildFAdd(cg->b, yv, LLVMBuildFMul(cg->b, w, pv, ""), ""), ad);
	cg_for_end(cg, &lq);
	cg_for_end(cg, &lmm);
	cg_nest_end(cg, &kn);
	cg_for_end(cg, &lc);
	cg_for_end(cg, &lg);
	cg_for_end(cg, &ln);
}

/* f32 Conv whose output plane is one pixel read from input position 0
 * (1x1 kernel, no leading pad: the squeeze-excitation convs after a
 * global pool), group 1: a matrix-vector product
 *     Y[n, m] = B[m] + sum_c W[m, c] X[n, c, 0...]
 * in W-lane vectors of output channels: W rows of W loaded along c,
 * transposed in registers (kern_transpose_regs), then per c one add of
 * the column times X[n, c].  The same sum, term by term, as
 * emit_conv_planes (y + w*x, c ascending, unfused), whose inner loop
 * over m read W's column with a gather: 2.7 % of maxvit_t's profile.
 * Serial: no partition. */
static LLVMValueRef vsplat(Cg *cg, LLVMTypeRef vt, LLVMValueRef s);

static void emit_conv_gemv(Cg *cg, const Node *n, int64_t N, int64_t C, int64_t M, int64_t xsp, ValueId bias)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMValueRef X = cg_ptr(cg, n->in[0]), Wt = cg_ptr(cg, n->in[1]), Y = cg_ptr(cg, n->out[0]);
	LLVMValueRef B = bias != IR_NONE ? cg_ptr(cg, bias) : NULL;
	int64_t mfull = M / w, mrem = M % w, cfull = C / w, crem = C % w;
	CgLoop ln;
	cg_for(cg, &ln, 0, N);
	LLVMValueRef xn = cg_gep_f32(cg, X, cg_mul_i64(cg, ln.iv, C * xsp));
	LLVMValueRef yn = cg_gep_f32(cg, Y, cg_mul_i64(cg, ln.iv, M));
	for (int mpart = 0; mpart < 2; mpart++) {
		CgLoop lm;
		int mvalid;
		LLVMValueRef m0 = kern_vec_part(cg, mpart, mfull, mrem, w, &lm, &mvalid);
		if (!m0)
			continue;
		LLVMValueRef acc = cg_alloca(cg, vt, "gemv_acc");
		LLVMValueRef a0 = LLVMConstNull(vt);
		if (B) {
			LLVMValueRef bits[64];
			for (int l = 0; l < w; l++)
				bits[l] = LLVMConstInt(cg->t_i1, l < mvalid, 0);
			LLVMTypeRef over[2] = {vt, cg->t_ptr};
			LLVMValueRef args[4] = {cg_gep_f32(cg, B, m0), cg_i32(cg, 4), LLVMConstVector(bits, (unsigned)w), LLVMConstNull(vt)};
			a0 = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
		}
		LLVMBuildStore(cg->b, a0, acc);
		for (int cpart = 0; cpart < 2; cpart++) {
			CgLoop lc;
			int cvalid;
			LLVMValueRef c0 = kern_vec_part(cg, cpart, cfull, crem, w, &lc, &cvalid);
			if (!c0)
				continue;
			LLVMValueRef r[64];
			LLVMValueRef bits[64];
			for (int l = 0; l < w; l++)
				bits[l] = LLVMConstInt(cg->t_i1, l < cvalid, 0);
			LLVMValueRef cmask = LLVMConstVector(bits, (unsigned)w);
			for (int i = 0; i < w; i++) {
				if (i >= mvalid) {
					r[i] = LLVMConstNull(vt);
					continue;
				}
				LLVMValueRef p = cg_gep_f32(cg, Wt, cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, m0, cg_i64(cg, i)), C), c0));
				if (cvalid == w) {
					r[i] = LLVMBuildLoad2(cg->b, vt, p, "");
					LLVMSetAlignment(r[i], 4);
				} else {
					LLVMTypeRef over[2] = {vt, cg->t_ptr};
					LLVMValueRef args[4] = {p, cg_i32(cg, 4), cmask, LLVMConstNull(vt)};
					r[i] = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
				}
			}
			kern_transpose_regs(cg, r, w);
			LLVMValueRef a = LLVMBuildLoad2(cg->b, vt, acc, "");
			for (int i = 0; i < cvalid; i++) {
				LLVMValueRef xc = LLVMBuildLoad2(cg->b, cg->t_f32,
				                                 cg_gep_f32(cg, xn, cg_mul_i64(cg, cg_add_i64(cg, c0, cg_i64(cg, i)), xsp)), "");
				a = LLVMBuildFAdd(cg->b, a, LLVMBuildFMul(cg->b, r[i], vsplat(cg, vt, xc), ""), "");
			}
			LLVMBuildStore(cg->b, a, acc);
			kern_vec_part_end(cg, cpart, &lc);
		}
		LLVMValueRef bits[64];
		for (int l = 0; l < w; l++)
			bits[l] = LLVMConstInt(cg->t_i1, l < mvalid, 0);
		LLVMTypeRef over[2] = {vt, cg->t_ptr};
		LLVMValueRef args[4] = {LLVMBuildLoad2(cg->b, vt, acc, ""), cg_gep_f32(cg, yn, m0), cg_i32(cg, 4),
		                        LLVMConstVector(bits, (unsigned)w)};
		kern_intrinsic(cg, "llvm.masked.store", over, 2, args, 4);
		kern_vec_part_end(cg, mpart, &lm);
	}
	cg_for_end(cg, &ln);
}

/* ---- f32 Conv through the kernel layer ---------------------------------------- */

/* Output channels per group from which a group's convolution is a GEMM
 * (fewer: the direct loop, which reads X once per output channel). */
#define CONV_GEMM_MIN_MG 8

/* The implicit B of the im2col product of one (image, group):
 * B(k, j) = X[c, o*str - pb + kk*dil] with k = (c, kk...) over Cg_ x ker
 * and j = (o...) over out, row-major; 0 where the input is padding. */
typedef struct Im2col {
	const Geom *g;
	int64_t xsp, wsp, xs[SP], ws[SP], ys[SP];
	bool pad[SP];   /* dim i reaches the padding */
} Im2col;

static LLVMValueRef im2col_elem(Cg *cg, void *arg, LLVMValueRef b, LLVMValueRef kv, LLVMValueRef jv)
{
	const Im2col *ic = arg;
	const Geom *g = ic->g;
	LLVMValueRef c = LLVMBuildUDiv(cg->b, kv, cg_i64(cg, ic->wsp), "");
	LLVMValueRef idx = cg_mul_i64(cg, c, ic->xsp), ok = NULL;
	for (int i = 0; i < g->k; i++) {
		LLVMValueRef kk = kv, o = jv;
		if (ic->ws[i] != 1)
			kk = LLVMBuildUDiv(cg->b, kk, cg_i64(cg, ic->ws[i]), "");
		kk = LLVMBuildURem(cg->b, kk, cg_i64(cg, g->ker[i]), "");
		if (ic->ys[i] != 1)
			o = LLVMBuildUDiv(cg->b, o, cg_i64(cg, ic->ys[i]), "");
		if (i > 0)
			o = LLVMBuildURem(cg->b, o, cg_i64(cg, g->out[i]), "");
		LLVMValueRef x = cg_add_i64(cg, cg_mul_i64(cg, o, g->str[i]), cg_mul_i64(cg, kk, g->dil[i]));
		if (g->pb[i])
			x = LLVMBuildNSWSub(cg->b, x, cg_i64(cg, g->pb[i]), "");
		if (ic->pad[i]) {
			/* unsigned: negative positions are out of range too */
			LLVMValueRef in = LLVMBuildICmp(cg->b, LLVMIntULT, x, cg_i64(cg, g->in[i]), "");
			ok = ok ? LLVMBuildAnd(cg->b, ok, in, "") : in;
		}
		idx = cg_add_i64(cg, idx, cg_mul_i64(cg, x, ic->xs[i]));
	}
	if (!ok)
		return LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, b, &idx, 1, ""), "");
	/* padding: read element 0 (always inside X) and drop it */
	idx = LLVMBuildSelect(cg->b, ok, idx, cg_i64(cg, 0), "");
	LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, b, &idx, 1, ""), "");
	return LLVMBuildSelect(cg->b, ok, v, cg_f32(cg, 0.0f), "");
}

/* im2col_elem's offset split in two when no window reaches the padding:
 * the part of k = (c, kernel position) and the part of j = output position. */
static LLVMValueRef im2col_koff(Cg *cg, void *arg, LLVMValueRef kv)
{
	const Im2col *ic = arg;
	const Geom *g = ic->g;
	LLVMValueRef c = LLVMBuildUDiv(cg->b, kv, cg_i64(cg, ic->wsp), "");
	LLVMValueRef idx = cg_mul_i64(cg, c, ic->xsp);
	for (int i = 0; i < g->k; i++) {
		LLVMValueRef kk = kv;
		if (ic->ws[i] != 1)
			kk = LLVMBuildUDiv(cg->b, kk, cg_i64(cg, ic->ws[i]), "");
		kk = LLVMBuildURem(cg->b, kk, cg_i64(cg, g->ker[i]), "");
		idx = cg_add_i64(cg, idx, cg_mul_i64(cg, kk, g->dil[i] * ic->xs[i]));
	}
	return idx;
}

static LLVMValueRef im2col_joff(Cg *cg, void *arg, LLVMValueRef jv)
{
	const Im2col *ic = arg;
	const Geom *g = ic->g;
	LLVMValueRef idx = cg_i64(cg, 0);
	for (int i = 0; i < g->k; i++) {
		LLVMValueRef o = jv;
		if (ic->ys[i] != 1)
			o = LLVMBuildUDiv(cg->b, o, cg_i64(cg, ic->ys[i]), "");
		if (i > 0)
			o = LLVMBuildURem(cg->b, o, cg_i64(cg, g->out[i]), "");
		LLVMValueRef x = cg_mul_i64(cg, o, g->str[i]);
		if (g->pb[i])
			x = LLVMBuildNSWSub(cg->b, x, cg_i64(cg, g->pb[i]), "");
		idx = cg_add_i64(cg, idx, cg_mul_i64(cg, x, ic->xs[i]));
	}
	return idx;
}

/* Position codes of a padded 2-D im2col (KGemm.b_kpos/b_jpos): the input
 * row and column of B(k, j) are (kh*dh) + (oh*sh - pbh) and (kw*dw) +
 * (ow*sw - pbw), the j parts biased by KERN_POS_BIAS. */
static LLVMValueRef im2col_kpos(Cg *cg, void *arg, LLVMValueRef kv)
{
	const Im2col *ic = arg;
	const Geom *g = ic->g;
	LLVMValueRef r = LLVMBuildURem(cg->b, kv, cg_i64(cg, ic->wsp), "");
	LLVMValueRef kh = LLVMBuildUDiv(cg->b, r, cg_i64(cg, g->ker[1]), "");
	LLVMValueRef kw = LLVMBuildURem(cg->b, r, cg_i64(cg, g->ker[1]), "");
	return cg_add_i64(cg, LLVMBuildShl(cg->b, cg_mul_i64(cg, kh, g->dil[0]), cg_i64(cg, 32), ""),
	                  cg_mul_i64(cg, kw, g->dil[1]));
}

static LLVMValueRef im2col_jpos(Cg *cg, void *arg, LLVMValueRef jv)
{
	const Im2col *ic = arg;
	const Geom *g = ic->g;
	LLVMValueRef oh = LLVMBuildUDiv(cg->b, jv, cg_i64(cg, g->out[1]), "");
	LLVMValueRef ow = LLVMBuildURem(cg->b, jv, cg_i64(cg, g->out[1]), "");
	LLVMValueRef y = cg_add_i64(cg, cg_mul_i64(cg, oh, g->str[0]), cg_i64(cg, KERN_POS_BIAS - g->pb[0]));
	LLVMValueRef x = cg_add_i64(cg, cg_mul_i64(cg, ow, g->str[1]), cg_i64(cg, KERN_POS_BIAS - g->pb[1]));
	return cg_add_i64(cg, LLVMBuildShl(cg->b, y, cg_i64(cg, 32), ""), x);
}

/* The implicit B of one output row of a 2-D conv (the row form): B(k, j)
 * with k = (c, kh, kw) and j = ow, no division of j.  htest: b points at
 * the group's X and the row is the constant oh (a border row: kh taps
 * may fall in the padding); else b already points at input row
 * oh*sh - pbh of an interior row (every kh tap inside X). */
typedef struct RowIm2col {
	const Geom *g;
	int64_t xsp, wsp, oh;
	bool htest, wpad;
	/* interior rows only: rows > 1 output rows per product, j = (row,
	 * ow) over rows x OW (KGemm.b_row_n), row r sh input rows below */
	int64_t rows;
} RowIm2col;

static LLVMValueRef row_im2col_elem(Cg *cg, void *arg, LLVMValueRef b, LLVMValueRef kv, LLVMValueRef jv)
{
	const RowIm2col *rc = arg;
	const Geom *g = rc->g;
	int64_t KW = g->ker[1], IW = g->in[1];
	LLVMValueRef c = LLVMBuildUDiv(cg->b, kv, cg_i64(cg, rc->wsp), "");
	LLVMValueRef r = LLVMBuildURem(cg->b, kv, cg_i64(cg, rc->wsp), "");
	LLVMValueRef kh = LLVMBuildUDiv(cg->b, r, cg_i64(cg, KW), "");
	LLVMValueRef kw = LLVMBuildURem(cg->b, r, cg_i64(cg, KW), "");
	LLVMValueRef ih = cg_mul_i64(cg, kh, g->dil[0]), ok = NULL;
	if (rc->htest) {
		ih = cg_add_i64(cg, ih, cg_i64(cg, rc->oh * g->str[0] - g->pb[0]));
		ok = LLVMBuildICmp(cg->b, LLVMIntULT, ih, cg_i64(cg, g->in[0]), "");
	}
	if (rc->rows > 1) {
		ih = cg_add_i64(cg, ih, cg_mul_i64(cg, LLVMBuildUDiv(cg->b, jv, cg_i64(cg, g->out[1]), ""), g->str[0]));
		jv = LLVMBuildURem(cg->b, jv, cg_i64(cg, g->out[1]), "");
	}
	LLVMValueRef iw = cg_add_i64(cg, cg_mul_i64(cg, jv, g->str[1]), cg_mul_i64(cg, kw, g->dil[1]));
	if (g->pb[1])
		iw = LLVMBuildNSWSub(cg->b, iw, cg_i64(cg, g->pb[1]), "");
	if (rc->wpad) {
		LLVMValueRef in = LLVMBuildICmp(cg->b, LLVMIntULT, iw, cg_i64(cg, IW), "");
		ok = ok ? LLVMBuildAnd(cg->b, ok, in, "") : in;
	}
	LLVMValueRef idx = cg_add_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, c, rc->xsp), cg_mul_i64(cg, ih, IW)), iw);
	if (!ok)
		return LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, b, &idx, 1, ""), "");
	idx = LLVMBuildSelect(cg->b, ok, idx, cg_i64(cg, 0), "");
	LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, b, &idx, 1, ""), "");
	return LLVMBuildSelect(cg->b, ok, v, cg_f32(cg, 0.0f), "");
}

/* Row k = (c, kh, kw) of row_im2col_elem's B as a strided run (KGemm.b_row):
 * column j reads X[c, ih, j*sw + kw*dw - pbw], inside the row for
 * lo <= j < hi (lo = ceil((pbw - kw*dw) / sw), hi = floor((IW - 1 + pbw -
 * kw*dw) / sw) + 1, clamped at 0); an ih outside X (border rows) empties
 * the run. */
static void row_im2col_row(Cg *cg, void *arg, LLVMValueRef b, LLVMValueRef kv, LLVMValueRef *p, LLVMValueRef *lo,
                           LLVMValueRef *hi)
{
	const RowIm2col *rc = arg;
	const Geom *g = rc->g;
	int64_t KW = g->ker[1], IW = g->in[1], sw = g->str[1];
	LLVMValueRef c = LLVMBuildUDiv(cg->b, kv, cg_i64(cg, rc->wsp), "");
	LLVMValueRef r = LLVMBuildURem(cg->b, kv, cg_i64(cg, rc->wsp), "");
	LLVMValueRef kh = LLVMBuildUDiv(cg->b, r, cg_i64(cg, KW), "");
	LLVMValueRef kw = LLVMBuildURem(cg->b, r, cg_i64(cg, KW), "");
	LLVMValueRef ih = cg_mul_i64(cg, kh, g->dil[0]);
	if (rc->htest)
		ih = cg_add_i64(cg, ih, cg_i64(cg, rc->oh * g->str[0] - g->pb[0]));
	/* the column offset of j = 0: kw*dw - pbw (may be negative) */
	LLVMValueRef off0 = LLVMBuildNSWSub(cg->b, cg_mul_i64(cg, kw, g->dil[1]), cg_i64(cg, g->pb[1]), "");
	LLVMValueRef idx = cg_add_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, c, rc->xsp), cg_mul_i64(cg, ih, IW)), off0);
	*p = LLVMBuildGEP2(cg->b, cg->t_f32, b, &idx, 1, "");
	LLVMValueRef zero = cg_i64(cg, 0);
	LLVMValueRef lnum = LLVMBuildNSWSub(cg->b, zero, off0, "");
	LLVMValueRef l = LLVMBuildSDiv(cg->b, cg_add_i64(cg, lnum, cg_i64(cg, sw - 1)), cg_i64(cg, sw), "");
	l = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, lnum, zero, ""), l, zero, "");
	LLVMValueRef hnum = LLVMBuildNSWSub(cg->b, cg_i64(cg, IW - 1), off0, "");
	LLVMValueRef h = cg_add_i64(cg, LLVMBuildSDiv(cg->b, hnum, cg_i64(cg, sw), ""), cg_i64(cg, 1));
	h = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, hnum, zero, ""), zero, h, "");
	if (rc->htest) {
		LLVMValueRef in = LLVMBuildICmp(cg->b, LLVMIntULT, ih, cg_i64(cg, g->in[0]), "");
		h = LLVMBuildSelect(cg->b, in, h, zero, "");
		l = LLVMBuildSelect(cg->b, in, l, zero, "");
	}
	*lo = l;
	*hi = h;
}

/* The kw runs of the interior rows' k rows (KGemm.b_row_kw): rows k =
 * (c, kh, kw) for kw = 0 .. KW-1 read one input row at column offsets
 * kw*dw - pbw, over the columns row_im2col_row computes for each kw
 * (constants: no kh tap of an interior row reaches the padding). */
static void row_im2col_runs(const Geom *g, KGemm *k)
{
	int64_t KW = g->ker[1], IW = g->in[1], sw = g->str[1];
	if (KW < 2 || KW > KERN_ROW_KW_MAX)
		return;
	k->b_row_kw = (int)KW;
	k->b_row_kwd = g->dil[1];
	for (int64_t t = 0; t < KW; t++) {
		int64_t off0 = t * g->dil[1] - g->pb[1];
		int64_t lnum = -off0, hnum = IW - 1 - off0;
		k->b_row_lo[t] = lnum > 0 ? (lnum + sw - 1) / sw : 0;
		k->b_row_hi[t] = hnum < 0 ? 0 : hnum / sw + 1;
	}
}

/* Output widths from which a 2-D conv takes the row form (in vectors),
 * and the most border rows it emits a GEMM call for each. */
#define CONV_ROW_FORM_VECS 1
#define CONV_ROW_FORM_BORDER 4
/* The most output rows one product of the row form covers. */
#define CONV_ROW_GROUP_MAX 4

/* Output rows per product of the row form's interior (of nint rows):
 * the fewest whose columns R * OW fill the kernel's W-lane vectors best
 * (OW 56 on 16 lanes: 2 rows, 112 columns in 7 vectors instead of 56 in
 * 4 with 8 lanes idle; OW 28: 4).  Every output element sees the same
 * FMAs whatever R: only the idle lanes go. */
static int64_t conv_row_group(const Cg *cg, int64_t OW, int64_t nint)
{
	int64_t w = cg->isa.vlen, best = 1;
	double bu = 0;
	for (int64_t r = 1; r <= CONV_ROW_GROUP_MAX && r <= nint; r++) {
		double u = (double)(r * OW) / (double)((r * OW + w - 1) / w * w);
		if (u > bu + 1e-9)
			best = r, bu = u;
	}
	return best;
}
/* FMAs per input float an output row newly reads (Mg kh kw OW / (sh IW))
 * below which the row form prefetches a later row's input (KGemm.b_row_pf).
 * Measured on Zen 4 (docs/kernels.md "sret_t's stem convs", "The stem
 * convs' input prefetched three rows ahead"): 3 -> 32 channels, 72 FMAs
 * per float: the packing's time halved; 32 -> 64 and 64 -> 64 (sret_t),
 * 3 -> 64 (maxvit_t), 144: with the prefetch one row ahead no gain, three
 * rows ahead (CONV_ROW_PF_AHEAD) 2-5 % faster inside the models. */
#define CONV_ROW_PF_FMAS 150
/* How many output rows (or groups of rows) ahead those prefetches reach.
 * Measured on Zen 4 inside sret_t (same section): one row ahead left
 * stem.0 5-10 % slower than two to four; the image, read cold from L3
 * once per run, needs more than one row's kernels (~2.5 us) of lead. */
#define CONV_ROW_PF_AHEAD 3

/* The row form of emit_conv_gemm(): one GEMM per output row, C = Y[.., oh, :]
 * (N = OW, ldc = OH*OW): the border rows whose kh taps reach the padding
 * one call each, the interior rows one call with oh as a third batch dim
 * (B advancing sh input rows per entry).  False, having emitted nothing,
 * when there are more than CONV_ROW_FORM_BORDER border rows. */
static bool emit_conv_gemm_rows(Cg *cg, const Node *n, const Geom *g, int64_t N, int64_t C, int64_t M,
                                int64_t group, ValueId bias, KAct act)
{
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t IH = g->in[0], IW = g->in[1], OH = g->out[0], OW = g->out[1];
	int64_t sh = g->str[0], pbh = g->pb[0];
	int64_t xsp = IH * IW, ysp = OH * OW, wsp = g->ker[0] * g->ker[1], Kg = Cg_ * wsp;
	/* rows [top, bot) have every kh tap inside X */
	int64_t top = (pbh + sh - 1) / sh, reach = (g->ker[0] - 1) * g->dil[0];
	int64_t bot = IH - reach + pbh <= 0 ? 0 : (IH - reach + pbh + sh - 1) / sh;
	if (top > OH)
		top = OH;
	if (bot > OH)
		bot = OH;
	if (bot < top)
		bot = top;
	if (OH - (bot - top) > CONV_ROW_FORM_BORDER)
		return false;
	LLVMValueRef X = cg_ptr(cg, n->in[0]), Y = cg_ptr(cg, n->out[0]);
	KGemm base = {
		.M = Mg, .N = OW, .K = Kg,
		.a = cg_ptr(cg, n->in[1]), .a_rs = Kg, .a_cs = 1,
		.ldc = ysp,
		.alpha = 1.0f,
		.b_elem = row_im2col_elem,
		.b_row = row_im2col_row,
		.b_row_cs = g->str[1],
		.act = act,
		.nbatch_dims = 2,
		.bdims = {N, group},
		.a_bs = {0, Mg * Kg},
		.b_bs = {C * xsp, Cg_ * xsp},
		.c_bs = {M * ysp, Mg * ysp},
		.res_bs = {0, Mg},
	};
	if (bias != IR_NONE) {
		base.res = cg_ptr(cg, bias);
		base.res_rs = 1;
		base.res_cs = 0;
		base.beta = 1.0f;
		base.res_pre_act = true;
	}
	/* the runs of the output row CONV_ROW_PF_AHEAD rows further lie that
	 * many times sh input rows further: prefetched while this row is
	 * packed when the product does little work per input float it brings
	 * in (a stem conv on the image) */
	if (Mg * g->ker[0] * g->ker[1] * OW < CONV_ROW_PF_FMAS * sh * IW)
		base.b_row_pf = CONV_ROW_PF_AHEAD * sh * IW;
	RowIm2col rc = {.g = g, .xsp = xsp, .wsp = wsp, .wpad = !full_window(g, 1, 0, IW)};
	int64_t R = conv_row_group(cg, OW, bot - top);
	for (int64_t oh = 0; oh < OH; oh++) {
		if (oh == top && bot > top) {
			/* groups of R interior rows as batch entries, then the
			 * rest as one product */
			int64_t ng = (bot - top) / R, rest = (bot - top) % R;
			RowIm2col ri[2] = {rc, rc};
			for (int part = 0; part < 2; part++) {
				int64_t r0 = top + (part ? ng * R : 0), nr = part ? rest : R;
				if (part ? rest == 0 : ng == 0)
					continue;
				KGemm k = base;
				k.N = nr * OW;
				k.b = LLVMBuildGEP2(cg->b, cg->t_f32, X, (LLVMValueRef[]){cg_i64(cg, (r0 * sh - pbh) * IW)}, 1, "");
				k.c = LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, Y, (LLVMValueRef[]){cg_i64(cg, r0 * OW)}, 1, "");
				ri[part].rows = nr;
				k.b_elem_arg = &ri[part];
				row_im2col_runs(g, &k);
				if (nr > 1) {
					k.b_row_n = OW;
					k.b_row_rs = sh * IW;
				}
				if (base.b_row_pf)
					k.b_row_pf = CONV_ROW_PF_AHEAD * nr * sh * IW;
				if (!part) {
					k.nbatch_dims = 3;
					k.bdims[2] = ng;
					k.b_bs[2] = R * sh * IW;
					k.c_bs[2] = R * OW;
				}
				kern_gemm(cg, &k);
			}
			oh = bot - 1;
			continue;
		}
		RowIm2col rb = rc;
		rb.htest = true;
		rb.oh = oh;
		KGemm k = base;
		k.b = X;
		k.c = LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, Y, (LLVMValueRef[]){cg_i64(cg, oh * OW)}, 1, "");
		k.b_elem_arg = &rb;
		kern_gemm(cg, &k);
	}
	return true;
}

/* f32 Conv of a group with CONV_GEMM_MIN_MG or more output channels as the
 * product, per image n and group gi,
 *     Y[n, gi*Mg + :, :] = W[gi*Mg + :, Cg_*ker] . im2col(X[n, gi*Cg_ + :]) + bias
 * through kern_gemm() with (n, gi) as batch dims; bias is the per-row
 * residual (res_rs 1, res_cs 0).  A 1x1 stride-1 unpadded convolution
 * reads X as B directly (rows of xsp). */
static void emit_conv_gemm(Cg *cg, const Node *n, const Geom *g, int64_t N, int64_t C, int64_t M,
                           int64_t group, ValueId bias, KAct act)
{
	int k = g->k;
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t xsp = prod(g->in, k), ysp = prod(g->out, k), wsp = prod(g->ker, k), Kg = Cg_ * wsp;
	Im2col ic = {.g = g, .xsp = xsp, .wsp = wsp};
	geom_strides(g, ic.xs, ic.ws, ic.ys);
	bool pointwise = true;
	for (int i = 0; i < k; i++) {
		ic.pad[i] = !full_window(g, i, 0, g->in[i]);
		pointwise &= g->ker[i] == 1 && g->str[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0;
	}
	if (k == 2 && g->out[1] >= CONV_ROW_FORM_VECS * cg->isa.vlen && !pointwise &&
	    kern_gemm_ok(cg, Mg, g->out[1], Kg) && emit_conv_gemm_rows(cg, n, g, N, C, M, group, bias, act))
		return;
	KGemm kg = {
		.M = Mg, .N = ysp, .K = Kg,
		.a = cg_ptr(cg, n->in[1]), .a_rs = Kg, .a_cs = 1,
		.b = cg_ptr(cg, n->in[0]),
		.c = cg_ptr(cg, n->out[0]), .ldc = ysp,
		.alpha = 1.0f,
		.act = act,
		.nbatch_dims = 2,
		.bdims = {N, group},
		.a_bs = {0, Mg * Kg},
		.b_bs = {C * xsp, Cg_ * xsp},
		.c_bs = {M * ysp, Mg * ysp},
		.res_bs = {0, Mg},
	};
	if (pointwise) {
		kg.b_rs = xsp;
		kg.b_cs = 1;
	} else {
		kg.b_elem = im2col_elem;
		kg.b_elem_arg = &ic;
		bool padded = false;
		for (int i = 0; i < k; i++)
			padded |= ic.pad[i];
		if (!padded) {
			kg.b_koff = im2col_koff;
			kg.b_joff = im2col_joff;
		} else if (k == 2 && g->in[0] < KERN_POS_BIAS / 4 && g->in[1] < KERN_POS_BIAS / 4 &&
		           (g->out[0] * g->str[0] + g->ker[0] * g->dil[0]) < KERN_POS_BIAS / 4 &&
		           (g->out[1] * g->str[1] + g->ker[1] * g->dil[1]) < KERN_POS_BIAS / 4 &&
		           g->pb[0] < KERN_POS_BIAS / 4 && g->pb[1] < KERN_POS_BIAS / 4) {
			/* offsets as without padding (taps in the padding are
			 * never read), validity from position codes */
			kg.b_koff = im2col_koff;
			kg.b_joff = im2col_joff;
			kg.b_kpos = im2col_kpos;
			kg.b_jpos = im2col_jpos;
			kg.b_pos_lim[0] = g->in[0];
			kg.b_pos_lim[1] = g->in[1];
		}
	}
	if (bias != IR_NONE) {
		kg.res = cg_ptr(cg, bias);
		kg.res_rs = 1;
		kg.res_cs = 0;
		kg.beta = 1.0f;
		kg.res_pre_act = true;
	}
	kern_gemm(cg, &kg);
}

static LLVMValueRef vsplat(Cg *cg, LLVMTypeRef vt, LLVMValueRef s)
{
	LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetUndef(vt), s, cg_i32(cg, 0), "");
	return LLVMBuildShuffleVector(cg->b, v, LLVMGetUndef(vt),
	                              LLVMConstNull(LLVMVectorType(cg->t_i32, LLVMGetVectorSize(vt))), "");
}

/* Lane l = row[e0 + l*s] for s = 2 or 4 (e0 an i64 value; W lanes): s
 * contiguous W-lane loads of row[e0 .. e0 + s*W), each element masked in
 * where 0 <= e < IW (inside the row: padding reads as 0, as the gather's
 * masked lanes did), then log2(s) levels of even-element shuffles.
 * Lanes of output columns past OW may hold data where the gather had 0:
 * they are never stored.  A stride-2/4 gather (vgatherdps) was 2.5-3 % of
 * maxvit_t's profile, the stride-2 depthwise convs' whole time. */
static LLVMValueRef strided_cols(Cg *cg, LLVMValueRef row, LLVMValueRef e0, int64_t s, int64_t IW)
{
	int w = cg->isa.vlen;
	LLVMTypeRef vt = LLVMVectorType(cg->t_f32, (unsigned)w);
	LLVMTypeRef vi = LLVMVectorType(cg->t_i32, (unsigned)w);
	LLVMValueRef e32 = LLVMBuildTrunc(cg->b, e0, cg->t_i32, "");
	LLVMValueRef ev = LLVMBuildShuffleVector(cg->b, LLVMBuildInsertElement(cg->b, LLVMGetUndef(vi), e32, cg_i32(cg, 0), ""),
	                                         LLVMGetUndef(vi), LLVMConstNull(vi), "");
	LLVMValueRef v[4], lanes[64], even[64];
	for (int q = 0; q < s; q++) {
		for (int l = 0; l < w; l++)
			lanes[l] = cg_i32(cg, q * w + l);
		LLVMValueRef e = LLVMBuildAdd(cg->b, ev, LLVMConstVector(lanes, (unsigned)w), "");
		LLVMValueRef iwv = LLVMBuildShuffleVector(cg->b, LLVMBuildInsertElement(cg->b, LLVMGetUndef(vi), cg_i32(cg, (int)IW), cg_i32(cg, 0), ""),
		                                          LLVMGetUndef(vi), LLVMConstNull(vi), "");
		LLVMValueRef mask = LLVMBuildICmp(cg->b, LLVMIntULT, e, iwv, "");
		LLVMValueRef off = cg_add_i64(cg, e0, cg_i64(cg, (int64_t)q * w));
		LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->t_f32, row, &off, 1, "");
		LLVMTypeRef over[2] = {vt, cg->t_ptr};
		LLVMValueRef args[4] = {p, cg_i32(cg, 4), mask, LLVMConstNull(vt)};
		v[q] = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
	}
	for (int i = 0; i < w; i++)
		even[i] = cg_i32(cg, 2 * i);
	LLVMValueRef emask = LLVMConstVector(even, (unsigned)w);
	for (int m = (int)s; m > 1; m /= 2)
		for (int q = 0; q < m / 2; q++)
			v[q] = LLVMBuildShuffleVector(cg->b, v[2 * q], v[2 * q + 1], emask, "");
	return v[0];
}

/* Vectors of output columns one step of the direct loop accumulates per
 * output row, and at most in all (over several rows). */
#define CONV_DIRECT_VECS 4
#define CONV_DIRECT_ACCS 8

/* What a step of emit_conv_direct's loop needs (one task's plane). */
typedef struct Direct {
	const Geom *g;
	int64_t Cg_, KW, sw, dw, pbw, IW, OW, xsp, wsp;
	int w, U, R;
	bool wpad;
	LLVMTypeRef vt, vi, vp;
	LLVMValueRef xb, wb, yb, b0v;
	LLVMValueRef *acc;                     /* R*U allocas, row-major */
	KAct act;
	LLVMValueRef div;                      /* AveragePool: the divisor (splat), taps
	                                          added without weights; else NULL */
	LLVMValueRef ow0[CONV_DIRECT_VECS], valid[CONV_DIRECT_VECS], iw0[CONV_DIRECT_VECS];
} Direct;

/* acc[r*U + u] += W[m, c, kh, kw] * X[n, c, row, cols of vector u] for
 * kw = 0 .. KW-1 (row: the input row's first element, wrow: the weight
 * row's offset). */
static void direct_taps(Cg *cg, const Direct *d, int r, LLVMValueRef row, LLVMValueRef wrow)
{
	for (int64_t kw = 0; kw < d->KW; kw++) {
		LLVMValueRef wsv = NULL;
		if (!d->div) {
			LLVMValueRef wv = LLVMBuildLoad2(cg->b, cg->t_f32,
			                                 LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, d->wb, (LLVMValueRef[]){cg_add_i64(cg, wrow, cg_i64(cg, kw))}, 1, ""), "");
			wsv = vsplat(cg, d->vt, wv);
		}
		for (int u = 0; u < d->U; u++) {
			LLVMValueRef iwv = LLVMBuildAdd(cg->b, d->iw0[u], vsplat(cg, d->vi, cg_i64(cg, kw * d->dw)), "");
			LLVMValueRef mask = d->valid[u];
			if (d->wpad)
				mask = LLVMBuildAnd(cg->b, mask,
				                    LLVMBuildICmp(cg->b, LLVMIntULT, iwv, vsplat(cg, d->vi, cg_i64(cg, d->IW)), ""), "");
			LLVMValueRef xv;
			if (d->sw == 1) {
				LLVMValueRef off = cg_add_i64(cg, d->ow0[u], cg_i64(cg, kw * d->dw - d->pbw));
				LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->t_f32, row, &off, 1, "");
				LLVMTypeRef over[2] = {d->vt, cg->t_ptr};
				LLVMValueRef args[4] = {p, cg_i32(cg, 4), mask, LLVMConstNull(d->vt)};
				xv = kern_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
			} else if ((d->sw == 2 || d->sw == 4) && d->IW < (1 << 30)) {
				xv = strided_cols(cg, row, cg_add_i64(cg, cg_mul_i64(cg, d->ow0[u], d->sw), cg_i64(cg, kw * d->dw - d->pbw)),
				                  d->sw, d->IW);
			} else {
				LLVMValueRef ps = LLVMBuildGEP2(cg->b, cg->t_f32, row, &iwv, 1, "");
				LLVMTypeRef over[2] = {d->vt, d->vp};
				LLVMValueRef args[4] = {ps, cg_i32(cg, 4), mask, LLVMConstNull(d->vt)};
				xv = kern_intrinsic(cg, "llvm.masked.gather", over, 2, args, 4);
			}
			LLVMValueRef s = LLVMBuildLoad2(cg->b, d->vt, d->acc[r * d->U + u], "");
			s = d->div ? LLVMBuildFAdd(cg->b, s, xv, "") : kern_fmuladd(cg, wsv, xv, s);
			LLVMBuildStore(cg->b, s, d->acc[r * d->U + u]);
		}
	}
}

/* The first element of input row ih of channel c in the task's plane. */
static LLVMValueRef direct_row(Cg *cg, const Direct *d, LLVMValueRef c, LLVMValueRef ih)
{
	LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, c, d->xsp), cg_mul_i64(cg, ih, d->IW));
	return LLVMBuildGEP2(cg->b, cg->t_f32, d->xb, &off, 1, "");
}

/* Steps lo .. hi of the loop over output rows (step s: rows s*R .. s*R +
 * R-1), all column groups of each.  interior: every row of these steps
 * has all KH taps inside X, and one kh loop feeds the R*U accumulators
 * together (R*U independent FMA chains); else each row runs its own tap
 * range.  Either way every accumulator takes bias, then its taps in (c,
 * kh, kw) order: the same bits. */
static void direct_steps(Cg *cg, Direct *d, int64_t lo, int64_t hi, bool interior, int64_t ngrp, LLVMValueRef lane_iota)
{
	if (lo >= hi)
		return;
	const Geom *g = d->g;
	int w = d->w, U = d->U, R = d->R;
	int64_t KH = g->ker[0], IH = g->in[0];
	CgLoop lh, lg, lc, lk;
	cg_for(cg, &lh, lo, hi);
	cg_for(cg, &lg, 0, ngrp);
	for (int u = 0; u < U; u++) {
		d->ow0[u] = cg_add_i64(cg, cg_mul_i64(cg, lg.iv, (int64_t)U * w), cg_i64(cg, (int64_t)u * w));
		LLVMValueRef owv = LLVMBuildAdd(cg->b, vsplat(cg, d->vi, d->ow0[u]), lane_iota, "");
		d->valid[u] = LLVMBuildICmp(cg->b, LLVMIntSLT, owv, vsplat(cg, d->vi, cg_i64(cg, d->OW)), "");
		d->iw0[u] = LLVMBuildSub(cg->b, LLVMBuildMul(cg->b, owv, vsplat(cg, d->vi, cg_i64(cg, d->sw)), ""),
		                         vsplat(cg, d->vi, cg_i64(cg, d->pbw)), "");
	}
	LLVMValueRef ohs[CONV_DIRECT_ACCS], hbase[CONV_DIRECT_ACCS];
	for (int r = 0; r < R; r++) {
		ohs[r] = cg_add_i64(cg, cg_mul_i64(cg, lh.iv, R), cg_i64(cg, r));
		hbase[r] = LLVMBuildSub(cg->b, cg_mul_i64(cg, ohs[r], g->str[0]), cg_i64(cg, g->pb[0]), "");
		for (int u = 0; u < U; u++)
			LLVMBuildStore(cg->b, d->b0v, d->acc[r * U + u]);
	}
	if (interior) {
		cg_for(cg, &lc, 0, d->Cg_);
		cg_for(cg, &lk, 0, KH);
		LLVMValueRef wrow = cg_add_i64(cg, cg_mul_i64(cg, lc.iv, d->wsp), cg_mul_i64(cg, lk.iv, d->KW));
		for (int r = 0; r < R; r++) {
			LLVMValueRef ih = cg_add_i64(cg, hbase[r], cg_mul_i64(cg, lk.iv, g->dil[0]));
			direct_taps(cg, d, r, direct_row(cg, d, lc.iv, ih), wrow);
		}
		cg_for_end(cg, &lk);
		cg_for_end(cg, &lc);
	} else {
		for (int r = 0; r < R; r++) {
			LLVMValueRef klo, khi;
			if (full_window(g, 0, 0, IH)) {
				klo = cg_i64(cg, 0);
				khi = cg_i64(cg, KH);
			} else {
				tap_range(cg, hbase[r], 0, IH, KH, g->dil[0], &klo, &khi);
			}
			cg_for(cg, &lc, 0, d->Cg_);
			cg_for_v(cg, &lk, klo, khi);
			LLVMValueRef ih = cg_add_i64(cg, hbase[r], cg_mul_i64(cg, lk.iv, g->dil[0]));
			direct_taps(cg, d, r, direct_row(cg, d, lc.iv, ih),
			            cg_add_i64(cg, cg_mul_i64(cg, lc.iv, d->wsp), cg_mul_i64(cg, lk.iv, d->KW)));
			cg_for_end(cg, &lk);
			cg_for_end(cg, &lc);
		}
	}
	for (int r = 0; r < R; r++)
		for (int u = 0; u < U; u++) {
			LLVMValueRef off = cg_add_i64(cg, cg_mul_i64(cg, ohs[r], d->OW), d->ow0[u]);
			LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->t_f32, d->yb, &off, 1, "");
			LLVMTypeRef over[2] = {d->vt, cg->t_ptr};
			LLVMValueRef y = LLVMBuildLoad2(cg->b, d->vt, d->acc[r * U + u], "");
			y = d->div ? LLVMBuildFDiv(cg->b, y, d->div, "") : conv_act(cg, y, d->act);
			LLVMValueRef args[4] = {y, p, cg_i32(cg, 4), d->valid[u]};
			kern_intrinsic(cg, "llvm.masked.store", over, 2, args, 4);
		}
	cg_for_end(cg, &lg);
	cg_for_end(cg, &lh);
}

/* f32 2-D Conv with few output channels per group (depthwise and the
 * like), directly: task t < N*M computes the plane Y[n, m] (t = n*M + m)
 * from the Cg_ input channels of m's group.  Per step, R output rows (R
 * divides OH) of U vectors of W = cg->isa.vlen consecutive output columns
 * accumulate, for every channel c and tap (kh, kw) inside the input,
 *     acc += W[m, c, kh, kw] * X[n, c, oh*sh - pbh + kh*dh, ow*sw - pbw + kw*dw]
 * with the columns read by a masked load (stride 1) or gather whose mask
 * drops padding and columns past OW.  The steps whose rows have every kh
 * tap inside X (known at compile time) run one kh loop for all R*U
 * accumulators (direct_steps: R*U FMA chains in flight instead of U; the
 * depthwise convs of maxvit_t were bound by the latency of U = 4 chains
 * and of their GELUs, docs/kernels.md); the border steps run each row's
 * tap range (no test per tap).  Planes are independent: any partition
 * among threads gives bitwise the same output. */
static void emit_conv_direct(Cg *cg, const Node *n, const Geom *g, int64_t N, int64_t C, int64_t M,
                             int64_t group, ValueId bias, KAct act, double pool_div)
{
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t IH = g->in[0], IW = g->in[1], OH = g->out[0], OW = g->out[1], KH = g->ker[0], KW = g->ker[1];
	int64_t xsp = IH * IW, ysp = OH * OW, wsp = KH * KW;
	int w = cg->isa.vlen;
	int64_t nvec = (OW + w - 1) / w;
	int U = nvec < CONV_DIRECT_VECS ? (int)nvec : CONV_DIRECT_VECS;
	int64_t ngrp = (nvec + U - 1) / U;
	/* R output rows per step: the most that divides OH with R*U <= CONV_DIRECT_ACCS */
	int R = 1;
	for (int r = CONV_DIRECT_ACCS / U; r > 1; r--)
		if (OH % r == 0) {
			R = r;
			break;
		}
	Direct d = {
		.g = g, .Cg_ = Cg_, .KW = KW, .sw = g->str[1], .dw = g->dil[1], .pbw = g->pb[1], .IW = IW, .OW = OW,
		.xsp = xsp, .wsp = wsp, .w = w, .U = U, .R = R, .wpad = !full_window(g, 1, 0, IW), .act = act,
		.vt = LLVMVectorType(cg->t_f32, (unsigned)w),
		.vi = LLVMVectorType(cg->t_i64, (unsigned)w),
		.vp = LLVMVectorType(cg->t_ptr, (unsigned)w),
	};

	/* the task function */
	KFn kf;
	LLVMValueRef base[4];
	LLVMValueRef fn = kern_task_begin(cg, &kf, "conv_task", 4, base);

	LLVMValueRef acc[CONV_DIRECT_ACCS];
	for (int i = 0; i < R * U; i++)
		acc[i] = cg_alloca(cg, d.vt, "acc");
	d.acc = acc;
	LLVMValueRef lanes[64];
	for (int l = 0; l < w; l++)
		lanes[l] = cg_i64(cg, l);
	LLVMValueRef lane_iota = LLVMConstVector(lanes, (unsigned)w);

	CgLoop lt;
	cg_for_v(cg, &lt, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
	LLVMValueRef m = LLVMBuildSRem(cg->b, lt.iv, cg_i64(cg, M), "");
	LLVMValueRef img = LLVMBuildSDiv(cg->b, lt.iv, cg_i64(cg, M), "");
	LLVMValueRef grp = LLVMBuildSDiv(cg->b, m, cg_i64(cg, Mg), "");
	d.xb = LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, base[0],
	                             (LLVMValueRef[]){cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, img, C), cg_mul_i64(cg, grp, Cg_)), xsp)}, 1, "");
	d.wb = LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, base[1], (LLVMValueRef[]){cg_mul_i64(cg, m, Cg_ * wsp)}, 1, "");
	d.yb = LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, base[3], (LLVMValueRef[]){cg_mul_i64(cg, lt.iv, ysp)}, 1, "");
	LLVMValueRef b0 = cg_f32(cg, 0.0f);
	if (bias != IR_NONE)
		b0 = LLVMBuildLoad2(cg->b, cg->t_f32, LLVMBuildInBoundsGEP2(cg->b, cg->t_f32, base[2], &m, 1, ""), "");
	d.b0v = vsplat(cg, d.vt, b0);
	if (pool_div != 0)
		d.div = vsplat(cg, d.vt, cg_f32(cg, (float)pool_div));

	/* interior steps: s0 <= s < s1, every row oh of them with
	 * oh*sh - pbh >= 0 and oh*sh - pbh + (KH-1)*dh < IH */
	int64_t nsteps = OH / R, sh = g->str[0], pbh = g->pb[0], reach = (KH - 1) * g->dil[0];
	int64_t s0 = 0, s1 = 0;
	if (IH - 1 - reach >= 0) {
		int64_t oh_lo = -floordiv(-pbh, sh);              /* first row with hbase >= 0 */
		int64_t oh_hi = floordiv(IH - 1 - reach + pbh, sh); /* last row reaching no further than IH-1 */
		s0 = (oh_lo + R - 1) / R;
		s1 = oh_hi >= 0 ? (oh_hi + 1) / R : 0;
		if (s1 > nsteps)
			s1 = nsteps;
		if (s1 < s0)
			s1 = s0;
	}
	if (s0 > nsteps)
		s0 = s1 = nsteps;
	direct_steps(cg, &d, 0, s0, false, ngrp, lane_iota);
	direct_steps(cg, &d, s0, s1, true, ngrp, lane_iota);
	direct_steps(cg, &d, s1, nsteps, false, ngrp, lane_iota);
	cg_for_end(cg, &lt);

	kern_fn_end(cg, &kf);

	/* the node function hands the N*M planes to the task */
	LLVMValueRef ptrs[4] = {cg_ptr(cg, n->in[0]), pool_div != 0 ? NULL : cg_ptr(cg, n->in[1]),
	                        bias != IR_NONE ? cg_ptr(cg, bias) : NULL, cg_ptr(cg, n->out[0])};
	kern_parallel_ptrs(cg, fn, ptrs, 4, N * M);
}

/* Conv-11: Y[n,m,o] = B[m] + sum_{c<C/group, kk} X[n, g*C/group + c,
 * o*str - pb + kk*dil] * W[m, c, kk], g = m / (M/group).  With act (the
 * private attribute passes/fuse_conv_act.c sets), Y = act(that); the GEMM
 * and direct forms apply it before their store (*fused set), the others
 * leave it to lower_conv(). */
static bool lower_conv_act(Cg *cg, const Node *n, KAct act, bool *fused)
{
	Value *X = gval(cg->g, n->in[0]), *W = gval(cg->g, n->in[1]), *Y = gval(cg->g, n->out[0]);
	DType dt = X->dtype;
	if (!dtype_is_float(dt) || W->dtype != dt || Y->dtype != dt)
		return cg_unsupported(cg, -1, "Conv of %s", dtype_name(dt));
	int r = X->shape.rank;
	if (r < 3 || W->shape.rank != r || Y->shape.rank != r)
		return cg_unsupported(cg, -1, "Conv needs X, W, Y of equal rank >= 3");
	Geom g = {.k = r - 2};
	int64_t N = X->shape.dims[0], C = X->shape.dims[1], M = W->shape.dims[0];
	const WindowParams *wp = params_of(cg, n);
	if (!wp)
		return false;
	int64_t group = wp->group;
	if (group < 1 || C % group || M % group || W->shape.dims[1] != C / group)
		return cg_unsupported(cg, 1, "W of shape [%lld,%lld,...] does not fit C=%lld, group=%lld",
		                      (long long)M, (long long)W->shape.dims[1], (long long)C, (long long)group);
	for (int i = 0; i < g.k; i++) {
		g.in[i] = X->shape.dims[2 + i];
		g.out[i] = Y->shape.dims[2 + i];
	}
	forward_geom(wp, &g);
	for (int i = 0; i < g.k; i++) {
		int64_t want = (g.in[i] + g.pb[i] + g.pe[i] - (g.ker[i] - 1) * g.dil[i] - 1) / g.str[i] + 1;
		if (g.out[i] != want || want < 1)
			return cg_unsupported(cg, -1, "output dim %d is %lld, expected %lld", 2 + i,
			                      (long long)g.out[i], (long long)want);
	}
	if (Y->shape.dims[0] != N || Y->shape.dims[1] != M)
		return cg_unsupported(cg, -1, "output batch/channels disagree with inputs");
	ValueId bias = n->nin > 2 ? n->in[2] : IR_NONE;
	if (bias != IR_NONE && shape_numel(&gval(cg->g, bias)->shape) != M)
		return cg_unsupported(cg, 2, "bias must have %lld elements", (long long)M);

	/* short tap rows with several output channels per group and a plane
	 * that fits the stack: gather each tap plane once (any stride);
	 * short tap rows read with a small stride: accumulate output rows;
	 * else (long rows, patchify kernel == stride) dot products per output */
	int64_t Mg_ = M / group, Kg_ = C / group * prod(g.ker, g.k);
	bool bias_f32 = bias == IR_NONE || gval(cg->g, bias)->dtype == DT_F32;
	if (dt == DT_F32 && bias_f32 && Mg_ >= CONV_GEMM_MIN_MG && kern_gemm_ok(cg, Mg_, prod(g.out, g.k), Kg_)) {
		emit_conv_gemm(cg, n, &g, N, C, M, group, bias, act);
		*fused = true;
		return true;
	}
	if (dt == DT_F32 && bias_f32 && g.k == 2 && cg->isa.vlen >= 4 && Mg_ < CONV_GEMM_MIN_MG) {
		emit_conv_direct(cg, n, &g, N, C, M, group, bias, act, 0);
		*fused = true;
		return true;
	}
	bool one_pixel = group == 1 && prod(g.out, g.k) == 1 && prod(g.ker, g.k) == 1;
	for (int i = 0; i < g.k; i++)
		one_pixel &= g.pb[i] == 0;
	if (dt == DT_F32 && bias_f32 && one_pixel && cg->isa.vlen >= 4 && cg->isa.vlen <= 64) {
		emit_conv_gemv(cg, n, N, C, M, prod(g.in, g.k), bias);
		return true;
	}
	int64_t esz = dt == DT_F64 ? 8 : 4;
	if ((dt == DT_F32 || dt == DT_F64) && g.ker[g.k - 1] < 8 && M / group >= 4 &&
	    shape_numel(&Y->shape) / (N * M) * esz <= CONV_PLANE_MAX_BYTES) {
		emit_conv_planes(cg, n, &g, N, C, M, group, bias);
		return true;
	}
	if ((dt == DT_F32 || dt == DT_F64) && g.ker[g.k - 1] < 8 && g.str[g.k - 1] <= 2) {
		emit_conv_rows(cg, n, &g, N, C, M, group, bias);
		return true;
	}
	DType ad = cg_acc_dtype(dt);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	int64_t Cg_ = C / group, Mg = M / group;
	int64_t xsp = prod(g.in, g.k), ysp = prod(g.out, g.k), wsp = prod(g.ker, g.k);
	int64_t xs[SP], ws[SP], ys[SP];
	geom_strides(&g, xs, ws, ys);
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgLoop ln, lm, lc, lk[SP];
	CgNest on;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lm, 0, M);
	LLVMValueRef grp = LLVMBuildSDiv(cg->b, lm.iv, cg_i64(cg, Mg), "");
	/* X channel base of this group and W row of this m */
	LLVMValueRef xch0 = cg_add_i64(cg, cg_mul_i64(cg, ln.iv, C), cg_mul_i64(cg, grp, Cg_));
	LLVMValueRef b0 = bias != IR_NONE ? cg_load_as(cg, bias, lm.iv, ad) : cg_const(cg, ad, 0);
	cg_nest(cg, &on, g.k, g.out);
	LLVMValueRef base[SP], lo[SP], hi[SP];
	window_at(cg, &g, on.iv, base, lo, hi);
	LLVMBuildStore(cg->b, b0, acc);
	cg_for(cg, &lc, 0, Cg_);
	LLVMValueRef xoff = cg_mul_i64(cg, cg_add_i64(cg, xch0, lc.iv), xsp);
	LLVMValueRef woff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, lm.iv, Cg_), lc.iv), wsp);
	LLVMValueRef xi[SP], wi[SP];
	/* with dilation 1 the taps of the last dim are contiguous in X and W:
	 * one vectorised dot product */
	int last = g.k - 1;
	bool dot = g.dil[last] == 1;
	for (int i = 0; i < g.k; i++) {
		if (dot && i == last) {
			wi[i] = lo[i];
		} else {
			cg_for_v(cg, &lk[i], lo[i], hi[i]);
			wi[i] = lk[i].iv;
		}
		xi[i] = cg_add_i64(cg, base[i], cg_mul_i64(cg, wi[i], g.dil[i]));
	}
	LLVMValueRef xidx = cg_add_i64(cg, xoff, cg_linear(cg, g.k, xi, xs));
	LLVMValueRef widx = cg_add_i64(cg, woff, cg_linear(cg, g.k, wi, ws));
	LLVMValueRef s = LLVMBuildLoad2(cg->b, at, acc, "");
	if (dot) {
		LLVMValueRef len = LLVMBuildSub(cg->b, hi[last], lo[last], "");
		s = LLVMBuildFAdd(cg->b, s, cg_dot(cg, ad, dt, cg_ptr(cg, n->in[0]), xidx, dt,
		                                   cg_ptr(cg, n->in[1]), widx, len), "");
	} else {
		LLVMValueRef xv = cg_load_as(cg, n->in[0], xidx, ad);
		LLVMValueRef wv = cg_load_as(cg, n->in[1], widx, ad);
		s = LLVMBuildFAdd(cg->b, s, LLVMBuildFMul(cg->b, xv, wv, ""), "");
	}
	LLVMBuildStore(cg->b, s, acc);
	for (int i = g.k - 1; i >= 0; i--)
		if (!(dot && i == last))
			cg_for_end(cg, &lk[i]);
	cg_for_end(cg, &lc);
	LLVMValueRef yoff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, M), lm.iv), ysp);
	cg_store_as(cg, n->out[0], cg_add_i64(cg, yoff, cg_linear(cg, g.k, on.iv, ys)),
	   LLVMBuildLoad2(cg->b, at, acc, ""), ad);
	cg_nest_end(cg, &on);
	cg_for_end(cg, &lm);
	cg_for_end(cg, &ln);
	return true;
}

/* Conv, then its fused activation (attribute act: "gelu" | "gelu_tanh" | "relu")
 * over Y in place where the form did not apply it (a serial loop, off the
 * fast paths: f64/f16 and targets without the kernels). */
static bool lower_conv(Cg *cg, const Node *n)
{
	const char *as = attr_string(n, "act", "");
	KAct act = !strcmp(as, "gelu") ? KACT_GELU : !strcmp(as, "gelu_tanh") ? KACT_GELU_TANH
	         : !strcmp(as, "relu") ? KACT_RELU : KACT_NONE;
	if (as[0] && act == KACT_NONE)
		return cg_unsupported(cg, -1, "Conv act '%s'", as);
	bool fused = false;
	if (!lower_conv_act(cg, n, act, &fused))
		return false;
	if (act == KACT_NONE || fused)
		return true;
	DType ad = cg_acc_dtype(gval(cg->g, n->out[0])->dtype);
	CgLoop l;
	cg_for(cg, &l, 0, shape_numel(&gval(cg->g, n->out[0])->shape));
	cg_store_as(cg, n->out[0], l.iv, conv_act(cg, cg_load_as(cg, n->out[0], l.iv, ad), act), ad);
	cg_for_end(cg, &l);
	return true;
}

/* ---- ConvTranspose ---------------------------------------------------------- */

/* ConvTranspose-11: W is [C, M/group, k...];
 * Y[n,m,o] = B[m] + sum over c in m's group and taps kk with
 * o + pb - kk*dil == i*str, 0 <= i < in, of X[n,c,i] * W[c, m%(M/group), kk].
 * Pads: explicit, or from total_padding = str*(in-1) + output_padding +
 * (ker-1)*dil + 1 - target, target = output_shape or in*str (auto_pad SAME);
 * SAME_UPPER: pb = total/2, else pb = total - total/2 (floor division). */
static bool lower_convtranspose(Cg *cg, const Node *n)
{
	Value *X = gval(cg->g, n->in[0]), *W = gval(cg->g, n->in[1]), *Y = gval(cg->g, n->out[0]);
	DType dt = X->dtype;
	if (!dtype_is_float(dt) || W->dtype != dt || Y->dtype != dt)
		return cg_unsupported(cg, -1, "ConvTranspose of %s", dtype_name(dt));
	int r = X->shape.rank;
	if (r < 3 || W->shape.rank != r || Y->shape.rank != r)
		return cg_unsupported(cg, -1, "ConvTranspose needs X, W, Y of equal rank >= 3");
	Geom g = {.k = r - 2};
	int k = g.k;
	int64_t N = X->shape.dims[0], C = X->shape.dims[1];
	const WindowParams *wp = params_of(cg, n);
	if (!wp)
		return false;
	int64_t group = wp->group;
	if (group < 1 || C % group || W->shape.dims[0] != C)
		return cg_unsupported(cg, 1, "W does not fit C=%lld, group=%lld", (long long)C,
		                      (long long)group);
	int64_t Mg = W->shape.dims[1], M = Mg * group;
	if (Y->shape.dims[0] != N || Y->shape.dims[1] != M)
		return cg_unsupported(cg, -1, "output batch/channels disagree with inputs");
	for (int i = 0; i < k; i++) {
		g.in[i] = X->shape.dims[2 + i];
		g.ker[i] = wp->kernel[i];
		g.out[i] = Y->shape.dims[2 + i];
		g.str[i] = wp->strides[i];
		g.dil[i] = wp->dilations[i];
	}
	bool same = wp->auto_pad == AUTOPAD_SAME_UPPER || wp->auto_pad == AUTOPAD_SAME_LOWER;
	for (int i = 0; i < k; i++) {
		int64_t full = g.str[i] * (g.in[i] - 1) + wp->output_padding[i] +
		               (g.ker[i] - 1) * g.dil[i] + 1;
		if (wp->has_output_shape || same) {
			int64_t target = wp->has_output_shape ? wp->output_shape[i] : g.in[i] * g.str[i];
			int64_t total = full - target;
			int64_t half = floordiv(total, 2);
			if (wp->auto_pad == AUTOPAD_SAME_UPPER) {
				g.pb[i] = half;
				g.pe[i] = total - half;
			} else {
				g.pb[i] = total - half;
				g.pe[i] = half;
			}
		} else {
			g.pb[i] = wp->pads[i];   /* 0 for VALID */
			g.pe[i] = wp->pads[k + i];
		}
		if (g.out[i] != full - g.pb[i] - g.pe[i])
			return cg_unsupported(cg, -1, "output dim %d is %lld, expected %lld", 2 + i,
			                      (long long)g.out[i], (long long)(full - g.pb[i] - g.pe[i]));
	}
	ValueId bias = n->nin > 2 ? n->in[2] : IR_NONE;
	if (bias != IR_NONE && shape_numel(&gval(cg->g, bias)->shape) != M)
		return cg_unsupported(cg, 2, "bias must have %lld elements", (long long)M);

	DType ad = cg_acc_dtype(dt);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	int64_t Cg_ = C / group;
	int64_t xsp = prod(g.in, k), ysp = prod(g.out, k), wsp = prod(g.ker, k);
	int64_t xs[SP], ws[SP], ys[SP];
	geom_strides(&g, xs, ws, ys);
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgLoop ln, lm, lc;
	CgNest on, kn;
	cg_for(cg, &ln, 0, N);
	cg_for(cg, &lm, 0, M);
	LLVMValueRef grp = LLVMBuildSDiv(cg->b, lm.iv, cg_i64(cg, Mg), "");
	LLVMValueRef mm = LLVMBuildSRem(cg->b, lm.iv, cg_i64(cg, Mg), "");
	LLVMValueRef b0 = bias != IR_NONE ? cg_load_as(cg, bias, lm.iv, ad) : cg_const(cg, ad, 0);
	cg_nest(cg, &on, k, g.out);
	LLVMBuildStore(cg->b, b0, acc);
	cg_for(cg, &lc, 0, Cg_);
	LLVMValueRef ch = cg_add_i64(cg, cg_mul_i64(cg, grp, Cg_), lc.iv);
	LLVMValueRef xoff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, C), ch), xsp);
	LLVMValueRef woff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ch, Mg), mm), wsp);
	cg_nest(cg, &kn, k, g.ker);
	LLVMValueRef ok = LLVMConstInt(cg->t_i1, 1, 0), xi[SP];
	for (int i = 0; i < k; i++) {
		LLVMValueRef t = LLVMBuildSub(cg->b, cg_add_i64(cg, on.iv[i], cg_i64(cg, g.pb[i])),
		                              cg_mul_i64(cg, kn.iv[i], g.dil[i]), "");
		LLVMValueRef c = LLVMBuildICmp(cg->b, LLVMIntSGE, t, cg_i64(cg, 0), "");
		if (g.str[i] != 1) {
			LLVMValueRef rem = LLVMBuildSRem(cg->b, t, cg_i64(cg, g.str[i]), "");
			c = LLVMBuildAnd(cg->b, c, LLVMBuildICmp(cg->b, LLVMIntEQ, rem, cg_i64(cg, 0), ""), "");
			t = LLVMBuildSDiv(cg->b, t, cg_i64(cg, g.str[i]), "");
		}
		c = LLVMBuildAnd(cg->b, c, LLVMBuildICmp(cg->b, LLVMIntSLT, t, cg_i64(cg, g.in[i]), ""), "");
		ok = LLVMBuildAnd(cg->b, ok, c, "");
		xi[i] = t;
	}
	CgIf cif;
	cg_if(cg, &cif, ok);
	LLVMValueRef xv = cg_load_as(cg, n->in[0], cg_add_i64(cg, xoff, cg_linear(cg, k, xi, xs)), ad);
	LLVMValueRef wv = cg_load_as(cg, n->in[1], cg_add_i64(cg, woff, cg_linear(cg, k, kn.iv, ws)), ad);
	LLVMValueRef s = LLVMBuildLoad2(cg->b, at, acc, "");
	LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, s, LLVMBuildFMul(cg->b, xv, wv, ""), ""), acc);
	cg_if_end(cg, &cif);
	cg_nest_end(cg, &kn);
	cg_for_end(cg, &lc);
	LLVMValueRef yoff = cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, ln.iv, M), lm.iv), ysp);
	cg_store_as(cg, n->out[0], cg_add_i64(cg, yoff, cg_linear(cg, k, on.iv, ys)),
	   LLVMBuildLoad2(cg->b, at, acc, ""), ad);
	cg_nest_end(cg, &on);
	cg_for_end(cg, &lm);
	cg_for_end(cg, &ln);
	return true;
}

/* ---- pools ------------------------------------------------------------------- */

/* The lowest value of dt's compute type (-inf for floats). */
static LLVMValueRef lowest(Cg *cg, DType dt)
{
	if (dtype_is_float(dt))
		return cg_const(cg, dt, -INFINITY);
	if (!dtype_is_signed(dt))
		return cg_const_int(cg, dt, 0);
	return cg_const_int(cg, dt, dtype_size(dt) == 8 ? INT64_MIN
	                            : -((int64_t)1 << (8 * dtype_size(dt) - 1)));
}

static LLVMValueRef greater(Cg *cg, DType dt, LLVMValueRef a, LLVMValueRef b)
{
	if (dtype_is_float(dt))
		return LLVMBuildFCmp(cg->b, LLVMRealOGT, a, b, "");
	return LLVMBuildICmp(cg->b, dtype_is_signed(dt) ? LLVMIntSGT : LLVMIntUGT, a, b, "");
}

/* MaxPool-12 and AveragePool-11/19.  The window of output o in dim i covers
 * taps kk with o*str - pb + kk*dil inside the input.  MaxPool's Indices are
 * flat indices into X (row-major, or column-major over the spatial dims
 * when storage_order = 1).  AveragePool divides by the number of taps
 * inside the input, or inside the padded extent [-pb, in+pe) when
 * count_include_pad = 1. */
static bool lower_pool(Cg *cg, const Node *n)
{
	bool is_max = n->op == OP_MaxPool;
	Value *X = gval(cg->g, n->in[0]), *Y = gval(cg->g, n->out[0]);
	DType dt = X->dtype;
	if (Y->dtype != dt || !(dtype_is_float(dt) || (is_max && dtype_is_int(dt))))
		return cg_unsupported(cg, 0, "%s of %s", n->op_type, dtype_name(dt));
	int r = X->shape.rank;
	if (r < 3 || Y->shape.rank != r)
		return cg_unsupported(cg, 0, "%s needs rank >= 3", n->op_type);
	Geom g = {.k = r - 2};
	const WindowParams *wp = params_of(cg, n);
	if (!wp)
		return false;
	for (int i = 0; i < g.k; i++) {
		g.in[i] = X->shape.dims[2 + i];
		g.out[i] = Y->shape.dims[2 + i];
	}
	forward_geom(wp, &g);
	int64_t NC = X->shape.dims[0] * X->shape.dims[1];
	if (Y->shape.dims[0] != X->shape.dims[0] || Y->shape.dims[1] != X->shape.dims[1])
		return cg_unsupported(cg, -1, "output batch/channels disagree with X");
	for (int i = 0; i < g.k; i++) {
		/* the output must fit the floor or ceil rule: every window starts
		 * inside the padded input */
		int64_t ext = g.in[i] + g.pb[i] + g.pe[i] - (g.ker[i] - 1) * g.dil[i] - 1;
		int64_t fl = ext / g.str[i] + 1, ce = (ext + g.str[i] - 1) / g.str[i] + 1;
		if (ext < 0 || g.out[i] < fl || g.out[i] > ce)
			return cg_unsupported(cg, -1, "output dim %d is %lld, expected %lld..%lld", 2 + i,
			                      (long long)g.out[i], (long long)fl, (long long)ce);
	}
	ValueId ind = (is_max && n->nout > 1) ? n->out[1] : IR_NONE;
	if (ind != IR_NONE && gval(cg->g, ind)->dtype != DT_I64)
		return cg_unsupported(cg, -1, "Indices must be int64");
	bool colmajor = wp->storage_colmajor;
	bool incl_pad = !is_max && wp->count_include_pad;
	/* f32 2-D AveragePool whose every window has KH*KW taps to count (its
	 * windows inside the padded extent, and padding counted or absent):
	 * the depthwise direct loop with taps added in (kh, kw) order from 0
	 * and the sum divided by KH*KW, as below; a padded tap adds 0 where
	 * the loop below skips it (the same sum but for the sign of a zero) */
	if (!is_max && dt == DT_F32 && g.k == 2 && cg->isa.vlen >= 4) {
		bool fixed = true, padded = false;
		for (int i = 0; i < 2; i++) {
			int64_t ext = g.in[i] + g.pb[i] + g.pe[i] - (g.ker[i] - 1) * g.dil[i] - 1;
			fixed &= g.out[i] == ext / g.str[i] + 1;
			padded |= g.pb[i] != 0 || g.pe[i] != 0;
		}
		if (fixed && (incl_pad || !padded)) {
			emit_conv_direct(cg, n, &g, X->shape.dims[0], X->shape.dims[1], X->shape.dims[1], X->shape.dims[1],
			                 IR_NONE, KACT_NONE, (double)(g.ker[0] * g.ker[1]));
			return true;
		}
	}

	DType ad = cg_acc_dtype(dt);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	int64_t xsp = prod(g.in, g.k), ysp = prod(g.out, g.k);
	int64_t xs[SP], ys[SP], cs[SP];
	for (int i = g.k - 1; i >= 0; i--) {
		xs[i] = i == g.k - 1 ? 1 : xs[i + 1] * g.in[i + 1];
		ys[i] = i == g.k - 1 ? 1 : ys[i + 1] * g.out[i + 1];
	}
	for (int i = 0; i < g.k; i++)
		cs[i] = i == 0 ? 1 : cs[i - 1] * g.in[i - 1];
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	LLVMValueRef arg = ind != IR_NONE ? cg_alloca(cg, cg->t_i64, "arg") : NULL;
	CgLoop lnc, lk[SP];
	CgNest on;
	cg_for(cg, &lnc, 0, NC);
	LLVMValueRef xoff = cg_mul_i64(cg, lnc.iv, xsp);
	cg_nest(cg, &on, g.k, g.out);
	LLVMValueRef base[SP], lo[SP], hi[SP];
	window_at(cg, &g, on.iv, base, lo, hi);
	LLVMBuildStore(cg->b, is_max ? lowest(cg, ad) : cg_const(cg, ad, 0), acc);
	if (arg)
		LLVMBuildStore(cg->b, cg_i64(cg, 0), arg);
	LLVMValueRef xi[SP];
	for (int i = 0; i < g.k; i++) {
		cg_for_v(cg, &lk[i], lo[i], hi[i]);
		xi[i] = cg_add_i64(cg, base[i], cg_mul_i64(cg, lk[i].iv, g.dil[i]));
	}
	LLVMValueRef xidx = cg_add_i64(cg, xoff, cg_linear(cg, g.k, xi, xs));
	LLVMValueRef xv = cg_load_as(cg, n->in[0], xidx, ad);
	LLVMValueRef cur = LLVMBuildLoad2(cg->b, at, acc, "");
	if (is_max) {
		LLVMValueRef gt = greater(cg, ad, xv, cur);
		LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, gt, xv, cur, ""), acc);
		if (arg) {
			LLVMValueRef flat = colmajor ? cg_add_i64(cg, xoff, cg_linear(cg, g.k, xi, cs)) : xidx;
			LLVMValueRef old = LLVMBuildLoad2(cg->b, cg->t_i64, arg, "");
			LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, gt, flat, old, ""), arg);
		}
	} else {
		LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, cur, xv, ""), acc);
	}
	for (int i = g.k - 1; i >= 0; i--)
		cg_for_end(cg, &lk[i]);
	LLVMValueRef res = LLVMBuildLoad2(cg->b, at, acc, "");
	if (!is_max) {
		LLVMValueRef cnt = cg_i64(cg, 1);
		if (incl_pad) {
			LLVMValueRef plo[SP], phi[SP];
			for (int i = 0; i < g.k; i++) {
				tap_range(cg, base[i], -g.pb[i], g.in[i] + g.pe[i], g.ker[i], g.dil[i],
				          &plo[i], &phi[i]);
				cnt = LLVMBuildMul(cg->b, cnt, LLVMBuildSub(cg->b, phi[i], plo[i], ""), "");
			}
		} else {
			for (int i = 0; i < g.k; i++)
				cnt = LLVMBuildMul(cg->b, cnt, LLVMBuildSub(cg->b, hi[i], lo[i], ""), "");
		}
		res = LLVMBuildFDiv(cg->b, res, LLVMBuildSIToFP(cg->b, cnt, at, ""), "");
	}
	LLVMValueRef yidx = cg_add_i64(cg, cg_mul_i64(cg, lnc.iv, ysp), cg_linear(cg, g.k, on.iv, ys));
	cg_store_as(cg, n->out[0], yidx, res, ad);
	if (arg)
		cg_store(cg, ind, yidx, LLVMBuildLoad2(cg->b, cg->t_i64, arg, ""));
	cg_nest_end(cg, &on);
	cg_for_end(cg, &lnc);
	return true;
}

/* GlobalAveragePool-1 / GlobalMaxPool-1: reduce all spatial dims of
 * [N, C, ...] to 1. */
/* One vector step of an f32 GlobalAveragePool plane: acc += x (tail lanes
 * masked to 0). */
static void gap_step(CgVec *v, void *ctx)
{
	const Node *n = ((void **)ctx)[0];
	LLVMValueRef *acc = ((void **)ctx)[1];
	LLVMValueRef x = cg_vload(v, n->in[0], 0.0);
	if (v->mask)
		x = LLVMBuildSelect(v->cg->b, v->mask, x, cg_vk(v, 0.0), "");
	cg_vacc_put(v, acc, LLVMBuildFAdd(v->cg->b, cg_vacc_get(v, acc), x, ""));
}

/* f32 GlobalAveragePool: each plane summed by the vector loop of vec.h
 * (4 partial vector sums, then a fixed tree), divided by its size.  The
 * scalar chain of adds was latency-bound (maxvit_t's squeeze-excitation
 * pools, 1.8% of its 1-thread profile).  One plane per iteration, a fixed
 * order: the same bits for every thread count. */
static void global_avg_f32(Cg *cg, const Node *n, int64_t NC, int64_t sp)
{
	CgVec v;
	cg_vinit(cg, &v, DT_F32);
	LLVMValueRef acc[CG_VMAX_SLOTS];
	void *ctx[2] = {(void *)n, acc};
	int u = 4;
	CgLoop lo;
	cg_for(cg, &lo, 0, NC);
	LLVMValueRef base = LLVMBuildNSWMul(cg->b, lo.iv, cg_i64(cg, sp), "");
	cg_vacc_init(&v, acc, u, 0.0);
	cg_vrow(&v, base, sp, u, gap_step, ctx);
	LLVMValueRef y = cg_vacc_reduce(&v, acc, u, CG_COMB_ADD);
	y = LLVMBuildFDiv(cg->b, y, cg_const(cg, v.ad, (double)sp), "");
	cg_store_as(cg, n->out[0], lo.iv, y, v.ad);
	cg_for_end(cg, &lo);
}

static bool lower_global_pool(Cg *cg, const Node *n)
{
	bool is_max = n->op == OP_GlobalMaxPool;
	Value *X = gval(cg->g, n->in[0]), *Y = gval(cg->g, n->out[0]);
	DType dt = X->dtype;
	if (!dtype_is_float(dt) || Y->dtype != dt)
		return cg_unsupported(cg, 0, "%s of %s", n->op_type, dtype_name(dt));
	int r = X->shape.rank;
	if (r < 2)
		return cg_unsupported(cg, 0, "%s needs rank >= 2", n->op_type);
	int64_t NC = X->shape.dims[0] * X->shape.dims[1];
	int64_t sp = prod(X->shape.dims + 2, r - 2);
	if (shape_numel(&Y->shape) != NC)
		return cg_unsupported(cg, -1, "output must have N*C elements");
	if (!is_max && dt == DT_F32 && sp > 0) {
		global_avg_f32(cg, n, NC, sp);
		return true;
	}
	DType ad = cg_acc_dtype(dt);
	LLVMTypeRef at = cg_compute_type(cg, ad);
	LLVMValueRef acc = cg_alloca(cg, at, "acc");
	CgLoop lnc, li;
	cg_for(cg, &lnc, 0, NC);
	LLVMBuildStore(cg->b, is_max ? lowest(cg, ad) : cg_const(cg, ad, 0), acc);
	LLVMValueRef off = cg_mul_i64(cg, lnc.iv, sp);
	cg_for(cg, &li, 0, sp);
	LLVMValueRef xv = cg_load_as(cg, n->in[0], cg_add_i64(cg, off, li.iv), ad);
	LLVMValueRef cur = LLVMBuildLoad2(cg->b, at, acc, "");
	LLVMBuildStore(cg->b, is_max ? LLVMBuildSelect(cg->b, greater(cg, ad, xv, cur), xv, cur, "")
	                             : LLVMBuildFAdd(cg->b, cur, xv, ""), acc);
	cg_for_end(cg, &li);
	LLVMValueRef res = LLVMBuildLoad2(cg->b, at, acc, "");
	if (!is_max)
		res = LLVMBuildFDiv(cg->b, res, cg_const(cg, ad, (double)sp), "");
	cg_store_as(cg, n->out[0], lnc.iv, res, ad);
	cg_for_end(cg, &lnc);
	return true;
}

/* Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
 * GlobalMaxPool (see the file comment). */
bool cg_lower_conv(Cg *cg, const Node *n)
{
	switch (n->op) {
	case OP_Conv:
		return lower_conv(cg, n);
	case OP_ConvTranspose:
		return lower_convtranspose(cg, n);
	case OP_MaxPool: case OP_AveragePool:
		return lower_pool(cg, n);
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return lower_global_pool(cg, n);
	default:
		IR_UNREACHABLE("cg_lower_conv: op not in this group");
	}
}

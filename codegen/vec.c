/* codegen/vec.c — explicit vector loops over contiguous rows (see vec.h).
 *
 * The tail uses llvm.masked.load/store with a constant mask: on AVX-512 one
 * k-masked instruction, on AVX2 vmaskmov, elsewhere LLVM expands it into
 * the element accesses the mask selects (known at compile time), so no
 * lane outside the row is ever touched.
 */
#include "vec.h"

#include <assert.h>
#include <string.h>

static LLVMValueRef splat(LLVMValueRef c, int w)
{
	if (w == 1)
		return c;
	LLVMValueRef v[64];
	assert(w <= 64);
	for (int i = 0; i < w; i++)
		v[i] = c;
	return LLVMConstVector(v, (unsigned)w);
}

static void add_str_attr(Cg *cg, const char *k, const char *val)
{
	LLVMAddAttributeAtIndex(cg->fn, LLVMAttributeFunctionIndex,
		LLVMCreateStringAttribute(cg->ctx, k, (unsigned)strlen(k), val, (unsigned)strlen(val)));
}

void cg_vinit(Cg *cg, CgVec *v, DType t)
{
	memset(v, 0, sizeof *v);
	v->cg = cg;
	v->ad = cg_acc_dtype(t) == DT_F64 ? DT_F64 : DT_F32;
	v->w = t == DT_F32 && cg->isa.vlen > 1 ? cg->isa.vlen : 1;
	LLVMTypeRef e = v->ad == DT_F64 ? cg->t_f64 : cg->t_f32;
	v->t = v->w > 1 ? LLVMVectorType(e, (unsigned)v->w) : e;
	if (v->w * 32 > 256 && cg->fn) {
		add_str_attr(cg, "min-legal-vector-width", "512");
		add_str_attr(cg, "prefer-vector-width", "512");
	}
}

LLVMValueRef cg_vk(CgVec *v, double x)
{
	return splat(cg_const(v->cg, v->ad, x), v->w);
}

LLVMValueRef cg_vsplat(CgVec *v, LLVMValueRef s)
{
	if (v->w == 1)
		return s;
	Cg *cg = v->cg;
	LLVMValueRef one = LLVMBuildInsertElement(cg->b, LLVMGetUndef(v->t), s, cg_i32(cg, 0), "");
	return LLVMBuildShuffleVector(cg->b, one, LLVMGetUndef(v->t),
		LLVMConstNull(LLVMVectorType(cg->t_i32, (unsigned)v->w)), "");
}

/* llvm.masked.load / llvm.masked.store on <w x float> at ptr p. */
static LLVMValueRef masked(CgVec *v, const char *name, LLVMValueRef *args, unsigned n)
{
	Cg *cg = v->cg;
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	assert(id != 0);
	LLVMTypeRef ov[2] = { v->t, cg->t_ptr };
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, ov, 2);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, ov, 2);
	return LLVMBuildCall2(cg->b, ft, fn, args, n, "");
}

LLVMValueRef cg_vload(CgVec *v, ValueId val, double fill)
{
	Cg *cg = v->cg;
	if (v->w == 1)
		return cg_load_as(cg, val, v->idx, v->ad);
	assert(gval(cg->g, val)->dtype == DT_F32);
	LLVMValueRef p = cg_gep(cg, val, v->idx);
	if (!v->mask) {
		LLVMValueRef x = LLVMBuildLoad2(cg->b, v->t, p, "");
		LLVMSetAlignment(x, 4);
		return x;
	}
	LLVMValueRef a[4] = { p, cg_i32(cg, 4), v->mask, cg_vk(v, fill) };
	return masked(v, "llvm.masked.load", a, 4);
}

LLVMValueRef cg_vload_f32(CgVec *v, LLVMValueRef base, double fill)
{
	Cg *cg = v->cg;
	assert(v->ad == DT_F32);
	LLVMValueRef p = cg_gep_f32(cg, base, v->idx);
	if (v->w == 1 || !v->mask) {
		LLVMValueRef x = LLVMBuildLoad2(cg->b, v->t, p, "");
		LLVMSetAlignment(x, 4);
		return x;
	}
	LLVMValueRef a[4] = { p, cg_i32(cg, 4), v->mask, cg_vk(v, fill) };
	return masked(v, "llvm.masked.load", a, 4);
}

void cg_vstore(CgVec *v, ValueId val, LLVMValueRef x)
{
	Cg *cg = v->cg;
	if (v->w == 1) {
		cg_store_as(cg, val, v->idx, x, v->ad);
		return;
	}
	assert(gval(cg->g, val)->dtype == DT_F32);
	LLVMValueRef p = cg_gep(cg, val, v->idx);
	if (!v->mask) {
		LLVMSetAlignment(LLVMBuildStore(cg->b, x, p), 4);
		return;
	}
	LLVMValueRef a[4] = { x, p, cg_i32(cg, 4), v->mask };
	masked(v, "llvm.masked.store", a, 4);
}

void cg_vrow(CgVec *v, LLVMValueRef base, int64_t n, int u, CgVBody body, void *ctx)
{
	Cg *cg = v->cg;
	LLVMBuilderRef b = cg->b;
	int w = v->w;
	assert(u >= 1 && u <= CG_VMAX_SLOTS && n >= 0);
	int64_t nv = n / w, iters = nv / u, step = (int64_t)w * u;
	v->mask = NULL;
	if (iters > 0) {
		CgLoop l;
		cg_for(cg, &l, 0, iters);
		LLVMValueRef at = LLVMBuildNSWAdd(b, base, LLVMBuildNSWMul(b, l.iv, cg_i64(cg, step), ""), "");
		for (int k = 0; k < u; k++) {
			v->slot = k;
			v->idx = LLVMBuildNSWAdd(b, at, cg_i64(cg, (int64_t)k * w), "");
			body(v, ctx);
		}
		cg_for_end(cg, &l);
	}
	for (int64_t j = iters * u; j < nv; j++) {
		v->slot = (int)(j - iters * u);
		v->idx = LLVMBuildNSWAdd(b, base, cg_i64(cg, j * w), "");
		body(v, ctx);
	}
	int tail = (int)(n - nv * w);
	if (tail > 0) {
		LLVMValueRef m[64];
		for (int i = 0; i < w; i++)
			m[i] = LLVMConstInt(cg->t_i1, i < tail, 0);
		v->mask = LLVMConstVector(m, (unsigned)w);
		v->slot = (int)(nv % u);
		v->idx = LLVMBuildNSWAdd(b, base, cg_i64(cg, nv * w), "");
		body(v, ctx);
		v->mask = NULL;
	}
}

void cg_vacc_init(CgVec *v, LLVMValueRef *acc, int u, double init)
{
	for (int k = 0; k < u; k++) {
		acc[k] = cg_alloca(v->cg, v->t, "vacc");
		LLVMBuildStore(v->cg->b, cg_vk(v, init), acc[k]);
	}
}

LLVMValueRef cg_vacc_get(CgVec *v, LLVMValueRef *acc)
{
	return LLVMBuildLoad2(v->cg->b, v->t, acc[v->slot], "");
}

void cg_vacc_put(CgVec *v, LLVMValueRef *acc, LLVMValueRef x)
{
	LLVMBuildStore(v->cg->b, x, acc[v->slot]);
}

LLVMValueRef cg_vacc_slots(CgVec *v, LLVMValueRef *acc, int u, CgCombine op)
{
	Cg *cg = v->cg;
	LLVMValueRef r[CG_VMAX_SLOTS];
	for (int k = 0; k < u; k++)
		r[k] = LLVMBuildLoad2(cg->b, v->t, acc[k], "");
	/* pairwise over the slots */
	for (int n = u; n > 1; n = (n + 1) / 2)
		for (int k = 0; k < n / 2; k++)
			r[k] = cg_dm_combine(cg, op, v->ad, r[k], r[k + (n + 1) / 2]);
	return r[0];
}

LLVMValueRef cg_vacc_reduce(CgVec *v, LLVMValueRef *acc, int u, CgCombine op)
{
	Cg *cg = v->cg;
	/* pairwise over the slots, then halving across the lanes */
	LLVMValueRef x = cg_vacc_slots(v, acc, u, op);
	for (int h = v->w / 2; h >= 1; h /= 2) {
		LLVMValueRef lo[32], hi[32];
		for (int i = 0; i < h; i++) {
			lo[i] = cg_i32(cg, i);
			hi[i] = cg_i32(cg, h + i);
		}
		LLVMValueRef a = LLVMBuildShuffleVector(cg->b, x, x, LLVMConstVector(lo, (unsigned)h), "");
		LLVMValueRef c = LLVMBuildShuffleVector(cg->b, x, x, LLVMConstVector(hi, (unsigned)h), "");
		x = cg_dm_combine(cg, op, v->ad, a, c);
	}
	if (v->w > 1)
		x = LLVMBuildExtractElement(cg->b, x, cg_i32(cg, 0), "");
	return x;
}

LLVMValueRef cg_vreduce_rows(CgVec *v, LLVMValueRef *x, CgCombine op)
{
	Cg *cg = v->cg;
	int w = v->w;
	assert(w > 1 && w <= 32 && (w & (w - 1)) == 0);
	LLVMValueRef r[32];
	for (int i = 0; i < w; i++)
		r[i] = x[i];
	/* level h: each vector holds w / (2h) rows' groups of 2h lanes; two
	 * vectors p, q give one of groups of h lanes, lo[g h + i] + hi[g h +
	 * i] = group[i] + group[h + i] (cg_vacc_reduce's halving step), p's
	 * rows first */
	int nv = w;
	for (int h = w / 2; h >= 1; h /= 2, nv /= 2) {
		LLVMValueRef lo[32], hi[32];
		int groups = w / (2 * h), o = 0;
		for (int s = 0; s < 2; s++)
			for (int g = 0; g < groups; g++)
				for (int i = 0; i < h; i++, o++) {
					lo[o] = cg_i32(cg, s * w + g * 2 * h + i);
					hi[o] = cg_i32(cg, s * w + g * 2 * h + h + i);
				}
		LLVMValueRef ml = LLVMConstVector(lo, (unsigned)w), mh = LLVMConstVector(hi, (unsigned)w);
		for (int k = 0; k < nv / 2; k++) {
			LLVMValueRef a = LLVMBuildShuffleVector(cg->b, r[2 * k], r[2 * k + 1], ml, "");
			LLVMValueRef c = LLVMBuildShuffleVector(cg->b, r[2 * k], r[2 * k + 1], mh, "");
			r[k] = cg_dm_combine(cg, op, v->ad, a, c);
		}
	}
	return r[0];
}

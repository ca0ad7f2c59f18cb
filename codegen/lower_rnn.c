/* codegen/lower_rnn.c — LSTM, GRU and RNN (ONNX opset 7..22 semantics).
 *
 * One node function runs the whole recurrence.  The hidden (and cell) state
 * of every batch row lives in stack arrays H[B*hidden], C[B*hidden]; a gate
 * buffer of G*hidden holds one row's pre-activations.  Per direction, per
 * time step s, per batch row b with s < seq_len[b]:
 *   1. gate dots: pre[g] = X[t,b,:].W[d,g,:] + H[b,:].R[d,g,:] + Wb[g] + Rb[g]
 *      (contiguous inner loops over input/hidden);
 *   2. the cell update of the op, which only then overwrites H[b,:], C[b,:];
 *   3. Y[t,d,b,:] = H[b,:].
 * t = s forward, t = seq_len[b]-1-s in reverse.  Y rows past seq_len[b]
 * are zero; Y_h/Y_c are the state after each row's last valid step.
 *
 * Gate order (ONNX): LSTM i,o,f,c with peepholes P = [Pi, Po, Pf];
 * GRU z,r,h (linear_before_reset selects where r applies); RNN one gate.
 * `clip` bounds every gate activation's input to [-clip, clip] (not the
 * cell state fed to LSTM's h, as onnxruntime does).  Activations:
 * Sigmoid, Tanh, Relu (others are rejected); layout 1 puts batch first in
 * X, Y, initial_h/c and Y_h/Y_c.  input_forget = 1 is rejected.
 */
#include "lower.h"

#include "mathfn.h"

#include <string.h>
#include <strings.h>

enum { ACT_SIGMOID, ACT_TANH, ACT_RELU };

/* Everything one RNN-family node needs while emitting. */
typedef struct Rnn {
	const Node *n;
	int kind;                   /* OP_LSTM, OP_GRU, OP_RNN */
	int G;                      /* gates: 4, 3, 1 */
	int64_t S, B, I, H, D;      /* seq, batch, input, hidden, directions */
	bool layout1;
	bool has_clip;
	double clip;
	bool lbr;                   /* GRU linear_before_reset */
	int act[2][3];              /* per direction: f, g, h */
	DType dt, ad;
	ValueId x, w, r, bias, seq, h0, c0, p, y, yh, yc;
	LLVMTypeRef at;
	LLVMValueRef hs, cs, gates; /* stack arrays */
} Rnn;

static ValueId opt_in(const Node *n, int i)
{
	return i < n->nin ? n->in[i] : IR_NONE;
}

static ValueId opt_out(const Node *n, int i)
{
	return i < n->nout ? n->out[i] : IR_NONE;
}

static LLVMValueRef ci(Cg *cg, int64_t x) { return cg_i64(cg, x); }
static LLVMValueRef fadd(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(cg->b, a, b, ""); }
static LLVMValueRef fmul(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(cg->b, a, b, ""); }

/* Loads a tensor element converted to the accumulation type. */
static LLVMValueRef ldv(Cg *cg, const Rnn *r, ValueId v, LLVMValueRef idx)
{
	DType from = gval(cg->g, v)->dtype;
	if (from == DT_F16 || from == DT_BF16)
		from = DT_F32;
	LLVMValueRef x = cg_load(cg, v, idx);
	return from == r->ad ? x : cg_convert(cg, x, from, r->ad);
}

static void stv(Cg *cg, const Rnn *r, ValueId v, LLVMValueRef idx, LLVMValueRef x)
{
	DType to = gval(cg->g, v)->dtype;
	if (to == DT_F16 || to == DT_BF16)
		to = DT_F32;
	cg_store(cg, v, idx, to == r->ad ? x : cg_convert(cg, x, r->ad, to));
}

/* Stack-array element access (arrays hold the accumulation type). */
static LLVMValueRef lda(Cg *cg, const Rnn *r, LLVMValueRef arr, LLVMValueRef idx)
{
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, r->at, arr, &idx, 1, "");
	return LLVMBuildLoad2(cg->b, r->at, p, "");
}

static void sta(Cg *cg, const Rnn *r, LLVMValueRef arr, LLVMValueRef idx, LLVMValueRef x)
{
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, r->at, arr, &idx, 1, "");
	LLVMBuildStore(cg->b, x, p);
}

/* ---- indexing (layout 0 / 1) ------------------------------------------------ */
static LLVMValueRef x_idx(Cg *cg, const Rnn *r, LLVMValueRef t, LLVMValueRef b)
{
	LLVMValueRef row = r->layout1 ? cg_add_i64(cg, cg_mul_i64(cg, b, r->S), t) : cg_add_i64(cg, cg_mul_i64(cg, t, r->B), b);
	return cg_mul_i64(cg, row, r->I);
}

static LLVMValueRef y_idx(Cg *cg, const Rnn *r, LLVMValueRef t, int64_t d, LLVMValueRef b)
{
	LLVMValueRef row = r->layout1
		? cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, b, r->S), t), r->D), ci(cg, d))
		: cg_add_i64(cg, cg_mul_i64(cg, cg_add_i64(cg, cg_mul_i64(cg, t, r->D), ci(cg, d)), r->B), b);
	return cg_mul_i64(cg, row, r->H);
}

/* initial_h/initial_c/Y_h/Y_c: [D,B,H] or (layout 1) [B,D,H] */
static LLVMValueRef state_idx(Cg *cg, const Rnn *r, int64_t d, LLVMValueRef b)
{
	LLVMValueRef row = r->layout1 ? cg_add_i64(cg, cg_mul_i64(cg, b, r->D), ci(cg, d))
	                              : cg_add_i64(cg, ci(cg, d * r->B), b);
	return cg_mul_i64(cg, row, r->H);
}

/* ---- arithmetic pieces ----------------------------------------------------------- */
static LLVMValueRef do_clip(Cg *cg, const Rnn *r, LLVMValueRef x)
{
	if (!r->has_clip)
		return x;
	LLVMValueRef hi = cg_const(cg, r->ad, r->clip), lo = cg_const(cg, r->ad, -r->clip);
	x = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, hi, ""), hi, x, "");
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, x, lo, ""), lo, x, "");
}

static LLVMValueRef activate(Cg *cg, const Rnn *r, int act, LLVMValueRef x, bool clip)
{
	if (clip)
		x = do_clip(cg, r, x);
	switch (act) {
	case ACT_SIGMOID:
		return cg_math_sigmoid(cg, x);
	case ACT_TANH:
		return cg_math_tanh(cg, x);
	default: {
		LLVMValueRef z = cg_const(cg, r->ad, 0);
		return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, z, ""), x, z, "");
	}
	}
}

/* A contiguous vector: elements off, off+1, ... of a tensor or of one of
 * the stack arrays. */
typedef struct Vec {
	ValueId v;          /* tensor, or IR_NONE for the stack array arr */
	LLVMValueRef arr;
	LLVMValueRef off;
} Vec;

static LLVMValueRef vec_at(Cg *cg, const Rnn *r, const Vec *x, LLVMValueRef k)
{
	LLVMValueRef idx = cg_add_i64(cg, x->off, k);
	return x->v != IR_NONE ? ldv(cg, r, x->v, idx) : lda(cg, r, x->arr, idx);
}

/* sum_{k<len} a[k] * b[k] (* c[k] when c is given; only GRU's reset-gated
 * product needs the third factor, which stays a scalar loop). */
static LLVMValueRef dot(Cg *cg, const Rnn *r, const Vec *a, const Vec *b, const Vec *c, int64_t len)
{
	if (!c) { /* contiguous: the vectorised kernel */
		DType ta = a->v != IR_NONE ? gval(cg->g, a->v)->dtype : r->ad;
		DType tb = b->v != IR_NONE ? gval(cg->g, b->v)->dtype : r->ad;
		return cg_dot(cg, r->ad, ta, a->v != IR_NONE ? cg_ptr(cg, a->v) : a->arr, a->off,
		              tb, b->v != IR_NONE ? cg_ptr(cg, b->v) : b->arr, b->off, ci(cg, len));
	}
	LLVMValueRef acc = cg_alloca(cg, r->at, "dot");
	LLVMBuildStore(cg->b, cg_const(cg, r->ad, 0), acc);
	CgLoop l;
	cg_for(cg, &l, 0, len);
	LLVMValueRef p = fmul(cg, vec_at(cg, r, a, l.iv), vec_at(cg, r, b, l.iv));
	if (c)
		p = fmul(cg, p, vec_at(cg, r, c, l.iv));
	LLVMBuildStore(cg->b, fadd(cg, LLVMBuildLoad2(cg->b, r->at, acc, ""), p), acc);
	cg_for_end(cg, &l);
	return LLVMBuildLoad2(cg->b, r->at, acc, "");
}

/* X[t,b,:] . W[d,g,:] (+ Wb[d,g] when a bias is given) */
static LLVMValueRef x_gate(Cg *cg, const Rnn *r, int64_t d, LLVMValueRef g, LLVMValueRef xoff)
{
	Vec xa = {r->x, NULL, xoff};
	Vec wa = {r->w, NULL, cg_mul_i64(cg, cg_add_i64(cg, ci(cg, d * r->G * r->H), g), r->I)};
	LLVMValueRef s = dot(cg, r, &xa, &wa, NULL, r->I);
	if (r->bias != IR_NONE)
		s = fadd(cg, s, ldv(cg, r, r->bias, cg_add_i64(cg, ci(cg, d * 2 * r->G * r->H), g)));
	return s;
}

/* H[b,:] (.* scale[:] when scale) . R[d,g,:] (+ Rb[d,g]) */
static LLVMValueRef h_gate(Cg *cg, const Rnn *r, int64_t d, LLVMValueRef g, LLVMValueRef hoff,
                           const Vec *scale)
{
	Vec ha = {IR_NONE, r->hs, hoff};
	Vec ra = {r->r, NULL, cg_mul_i64(cg, cg_add_i64(cg, ci(cg, d * r->G * r->H), g), r->H)};
	LLVMValueRef s = dot(cg, r, &ha, &ra, scale, r->H);
	if (r->bias != IR_NONE)
		s = fadd(cg, s, ldv(cg, r, r->bias,
		                    cg_add_i64(cg, ci(cg, d * 2 * r->G * r->H + r->G * r->H), g)));
	return s;
}

/* One step of batch row b at time t in direction d (see the file comment). */
static void emit_cell(Cg *cg, const Rnn *r, int64_t d, LLVMValueRef t, LLVMValueRef b)
{
	int64_t H = r->H;
	LLVMValueRef xoff = x_idx(cg, r, t, b), hoff = cg_mul_i64(cg, b, H);
	const int *act = r->act[d];
	CgLoop lg, lj;
	/* 1. gate pre-activations (GRU: only z and r here) */
	int64_t ng = r->kind == OP_GRU ? 2 * H : r->G * H;
	cg_for(cg, &lg, 0, ng);
	LLVMValueRef pre = fadd(cg, x_gate(cg, r, d, lg.iv, xoff), h_gate(cg, r, d, lg.iv, hoff, NULL));
	if (r->kind != OP_LSTM) /* LSTM activates after the peepholes */
		pre = activate(cg, r, act[0], pre, true);
	sta(cg, r, r->gates, lg.iv, pre);
	cg_for_end(cg, &lg);

	if (r->kind == OP_GRU) { /* h~ into gates[2H..3H) */
		cg_for(cg, &lj, 0, H);
		LLVMValueRef g = cg_add_i64(cg, lj.iv, ci(cg, 2 * H));
		LLVMValueRef xh = x_gate(cg, r, d, g, xoff), hh;
		if (r->lbr) {
			hh = fmul(cg, lda(cg, r, r->gates, cg_add_i64(cg, lj.iv, ci(cg, H))),
			          h_gate(cg, r, d, g, hoff, NULL));
		} else {
			Vec rg = {IR_NONE, r->gates, ci(cg, H)};
			hh = h_gate(cg, r, d, g, hoff, &rg);
		}
		sta(cg, r, r->gates, g, activate(cg, r, act[1], fadd(cg, xh, hh), true));
		cg_for_end(cg, &lj);
	}

	/* 2. state update */
	cg_for(cg, &lj, 0, H);
	LLVMValueRef hj = cg_add_i64(cg, hoff, lj.iv), hnew;
	if (r->kind == OP_LSTM) {
		LLVMValueRef cprev = lda(cg, r, r->cs, hj);
		LLVMValueRef gi = lda(cg, r, r->gates, lj.iv);
		LLVMValueRef go = lda(cg, r, r->gates, cg_add_i64(cg, lj.iv, ci(cg, H)));
		LLVMValueRef gf = lda(cg, r, r->gates, cg_add_i64(cg, lj.iv, ci(cg, 2 * H)));
		LLVMValueRef gc = lda(cg, r, r->gates, cg_add_i64(cg, lj.iv, ci(cg, 3 * H)));
		LLVMValueRef pi = NULL, po = NULL, pf = NULL;
		if (r->p != IR_NONE) {
			LLVMValueRef pb = cg_add_i64(cg, ci(cg, d * 3 * H), lj.iv);
			pi = ldv(cg, r, r->p, pb);
			po = ldv(cg, r, r->p, cg_add_i64(cg, pb, ci(cg, H)));
			pf = ldv(cg, r, r->p, cg_add_i64(cg, pb, ci(cg, 2 * H)));
			gi = fadd(cg, gi, fmul(cg, pi, cprev));
			gf = fadd(cg, gf, fmul(cg, pf, cprev));
		}
		gi = activate(cg, r, act[0], gi, true);
		gf = activate(cg, r, act[0], gf, true);
		gc = activate(cg, r, act[1], gc, true);
		LLVMValueRef cnew = fadd(cg, fmul(cg, gf, cprev), fmul(cg, gi, gc));
		if (po)
			go = fadd(cg, go, fmul(cg, po, cnew));
		go = activate(cg, r, act[0], go, true);
		/* clip bounds gate inputs only, not the cell state (as ORT) */
		hnew = fmul(cg, go, activate(cg, r, act[2], cnew, false));
		sta(cg, r, r->cs, hj, cnew);
	} else if (r->kind == OP_GRU) {
		LLVMValueRef z = lda(cg, r, r->gates, lj.iv);
		LLVMValueRef ht = lda(cg, r, r->gates, cg_add_i64(cg, lj.iv, ci(cg, 2 * H)));
		LLVMValueRef one_z = LLVMBuildFSub(cg->b, cg_const(cg, r->ad, 1), z, "");
		hnew = fadd(cg, fmul(cg, one_z, ht), fmul(cg, z, lda(cg, r, r->hs, hj)));
	} else {
		hnew = lda(cg, r, r->gates, lj.iv);
	}
	sta(cg, r, r->hs, hj, hnew);
	if (r->y != IR_NONE)
		stv(cg, r, r->y, cg_add_i64(cg, y_idx(cg, r, t, d, b), lj.iv), hnew);
	cg_for_end(cg, &lj);
}

static bool parse_acts(Cg *cg, Rnn *r)
{
	static const int defs[3][3] = {
		{ACT_SIGMOID, ACT_TANH, ACT_TANH}, /* LSTM f, g, h */
		{ACT_SIGMOID, ACT_TANH, 0},        /* GRU  f, g */
		{ACT_TANH, 0, 0},                  /* RNN  f */
	};
	int F = r->kind == OP_LSTM ? 3 : r->kind == OP_GRU ? 2 : 1;
	const int *def = defs[r->kind == OP_LSTM ? 0 : r->kind == OP_GRU ? 1 : 2];
	const Attr *a = node_attr(r->n, "activations");
	for (int d = 0; d < r->D; d++)
		for (int i = 0; i < F; i++)
			r->act[d][i] = def[i];
	if (!a)
		return true;
	if (a->kind != AK_STRINGS || (a->n != F && a->n != F * r->D))
		return cg_unsupported(cg, -1, "activations must list %d or %lld names", F,
		                      (long long)(F * r->D));
	for (int d = 0; d < r->D; d++)
		for (int i = 0; i < F; i++) {
			const char *s = a->strings[a->n == F ? i : d * F + i];
			if (!strcasecmp(s, "Sigmoid"))
				r->act[d][i] = ACT_SIGMOID;
			else if (!strcasecmp(s, "Tanh"))
				r->act[d][i] = ACT_TANH;
			else if (!strcasecmp(s, "Relu"))
				r->act[d][i] = ACT_RELU;
			else
				return cg_unsupported(cg, -1, "activation '%s' (only Sigmoid, Tanh, Relu)", s);
		}
	return true;
}

/* Checks that value v (if given) has exactly the dims listed. */
static bool want_shape(Cg *cg, ValueId v, int input, int rank, const int64_t *dims, const char *what)
{
	if (v == IR_NONE)
		return true;
	const Shape *s = &gval(cg->g, v)->shape;
	bool ok = s->rank == rank;
	for (int i = 0; ok && i < rank; i++)
		ok = s->dims[i] == dims[i];
	if (!ok) {
		char buf[128];
		return cg_unsupported(cg, input, "%s has shape %s, unexpected for this node", what,
		                      shape_str(s, buf, sizeof buf));
	}
	return true;
}

static bool setup(Cg *cg, const Node *n, Rnn *r)
{
	memset(r, 0, sizeof *r);
	r->n = n;
	r->kind = n->op;
	r->G = n->op == OP_LSTM ? 4 : n->op == OP_GRU ? 3 : 1;
	r->x = n->in[0];
	r->w = n->in[1];
	r->r = n->in[2];
	r->bias = opt_in(n, 3);
	r->seq = opt_in(n, 4);
	r->h0 = opt_in(n, 5);
	r->c0 = n->op == OP_LSTM ? opt_in(n, 6) : IR_NONE;
	r->p = n->op == OP_LSTM ? opt_in(n, 7) : IR_NONE;
	r->y = opt_out(n, 0);
	r->yh = opt_out(n, 1);
	r->yc = n->op == OP_LSTM ? opt_out(n, 2) : IR_NONE;
	r->dt = gval(cg->g, r->x)->dtype;
	if (!dtype_is_float(r->dt))
		return cg_unsupported(cg, 0, "%s of %s", n->op_type, dtype_name(r->dt));
	r->ad = r->dt == DT_F64 ? DT_F64 : DT_F32;
	r->at = cg_compute_type(cg, r->ad);
	ValueId fl[] = {r->w, r->r, r->bias, r->h0, r->c0, r->p, r->y, r->yh, r->yc};
	for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
		if (fl[i] != IR_NONE && gval(cg->g, fl[i])->dtype != r->dt)
			return cg_unsupported(cg, -1, "all float tensors must be %s", dtype_name(r->dt));
	if (r->seq != IR_NONE && gval(cg->g, r->seq)->dtype != DT_I32)
		return cg_unsupported(cg, 4, "sequence_lens must be int32");

	const char *dir = attr_string(n, "direction", "forward");
	if (!strcmp(dir, "forward") || !strcmp(dir, "reverse"))
		r->D = 1;
	else if (!strcmp(dir, "bidirectional"))
		r->D = 2;
	else
		return cg_unsupported(cg, -1, "direction '%s'", dir);
	r->layout1 = attr_int(n, "layout", 0) == 1;
	if (n->op == OP_LSTM && attr_int(n, "input_forget", 0) != 0)
		return cg_unsupported(cg, -1, "input_forget = 1");
	r->lbr = n->op == OP_GRU && attr_int(n, "linear_before_reset", 0) != 0;
	const Attr *ca = node_attr(n, "clip");
	if (ca) {
		r->has_clip = true;
		r->clip = ca->f;
	}
	const Shape *xs = &gval(cg->g, r->x)->shape;
	if (xs->rank != 3)
		return cg_unsupported(cg, 0, "X must be 3-D");
	r->S = xs->dims[r->layout1 ? 1 : 0];
	r->B = xs->dims[r->layout1 ? 0 : 1];
	r->I = xs->dims[2];
	const Shape *ws = &gval(cg->g, r->w)->shape;
	if (ws->rank != 3 || ws->dims[1] % r->G)
		return cg_unsupported(cg, 1, "W must be [D, %d*hidden, input]", r->G);
	r->H = attr_int(n, "hidden_size", ws->dims[1] / r->G);
	int64_t D = r->D, G = r->G, H = r->H, B = r->B, S = r->S;
	int64_t wd[3] = {D, G * H, r->I}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H};
	int64_t sd[3] = {D, B, H}, sd1[3] = {B, D, H}, pd[2] = {D, 3 * H}, ld1[1] = {B};
	int64_t yd[4] = {S, D, B, H}, yd1[4] = {B, S, D, H};
	if (!want_shape(cg, r->w, 1, 3, wd, "W") || !want_shape(cg, r->r, 2, 3, rd, "R") ||
	    !want_shape(cg, r->bias, 3, 2, bd, "B") || !want_shape(cg, r->seq, 4, 1, ld1, "sequence_lens") ||
	    !want_shape(cg, r->h0, 5, 3, r->layout1 ? sd1 : sd, "initial_h") ||
	    !want_shape(cg, r->c0, 6, 3, r->layout1 ? sd1 : sd, "initial_c") ||
	    !want_shape(cg, r->p, 7, 2, pd, "P") ||
	    !want_shape(cg, r->y, -1, 4, r->layout1 ? yd1 : yd, "Y") ||
	    !want_shape(cg, r->yh, -1, 3, r->layout1 ? sd1 : sd, "Y_h") ||
	    !want_shape(cg, r->yc, -1, 3, r->layout1 ? sd1 : sd, "Y_c"))
		return false;
	if (B * H * 2 + G * H > (1 << 17)) /* at most 512 KiB (f32) of stack */
		return cg_unsupported(cg, -1, "state of %lld x %lld too large for the stack",
		                      (long long)B, (long long)H);
	return parse_acts(cg, r);
}

/* LSTM, GRU, RNN (see the file comment). */
bool cg_lower_rnn(Cg *cg, const Node *n)
{
	Rnn r;
	if (!setup(cg, n, &r))
		return false;
	bool reverse_only = !strcmp(attr_string(n, "direction", "forward"), "reverse");
	int64_t S = r.S, B = r.B, H = r.H;
	r.hs = cg_alloca(cg, LLVMArrayType2(r.at, (uint64_t)(B * H)), "H");
	r.cs = cg_alloca(cg, LLVMArrayType2(r.at, (uint64_t)(B * H)), "C");
	r.gates = cg_alloca(cg, LLVMArrayType2(r.at, (uint64_t)(r.G * H)), "gates");
	LLVMValueRef zero = cg_const(cg, r.ad, 0);

	if (r.y != IR_NONE && r.seq != IR_NONE) { /* rows past seq_len stay 0 */
		CgLoop l;
		cg_for(cg, &l, 0, shape_numel(&gval(cg->g, r.y)->shape));
		stv(cg, &r, r.y, l.iv, zero);
		cg_for_end(cg, &l);
	}
	for (int64_t d = 0; d < r.D; d++) {
		bool rev = reverse_only || d == 1;
		CgLoop lb, lj, ls;
		/* initial state */
		cg_for(cg, &lb, 0, B);
		cg_for(cg, &lj, 0, H);
		LLVMValueRef si = cg_add_i64(cg, state_idx(cg, &r, d, lb.iv), lj.iv);
		LLVMValueRef hj = cg_add_i64(cg, cg_mul_i64(cg, lb.iv, H), lj.iv);
		sta(cg, &r, r.hs, hj, r.h0 != IR_NONE ? ldv(cg, &r, r.h0, si) : zero);
		sta(cg, &r, r.cs, hj, r.c0 != IR_NONE ? ldv(cg, &r, r.c0, si) : zero);
		cg_for_end(cg, &lj);
		cg_for_end(cg, &lb);

		/* time loop */
		cg_for(cg, &ls, 0, S);
		cg_for(cg, &lb, 0, B);
		LLVMValueRef len = ci(cg, S);
		if (r.seq != IR_NONE) {
			len = LLVMBuildSExt(cg->b, cg_load(cg, r.seq, lb.iv), cg->t_i64, "");
			len = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, len, ci(cg, S), ""),
			                      ci(cg, S), len, "");
		}
		CgIf valid;
		cg_if(cg, &valid, LLVMBuildICmp(cg->b, LLVMIntSLT, ls.iv, len, ""));
		LLVMValueRef t = rev ? LLVMBuildSub(cg->b, LLVMBuildSub(cg->b, len, ci(cg, 1), ""), ls.iv, "")
		                     : ls.iv;
		emit_cell(cg, &r, d, t, lb.iv);
		cg_if_end(cg, &valid);
		cg_for_end(cg, &lb);
		cg_for_end(cg, &ls);

		/* final state */
		if (r.yh != IR_NONE || r.yc != IR_NONE) {
			cg_for(cg, &lb, 0, B);
			cg_for(cg, &lj, 0, H);
			LLVMValueRef si2 = cg_add_i64(cg, state_idx(cg, &r, d, lb.iv), lj.iv);
			LLVMValueRef hj2 = cg_add_i64(cg, cg_mul_i64(cg, lb.iv, H), lj.iv);
			if (r.yh != IR_NONE)
				stv(cg, &r, r.yh, si2, lda(cg, &r, r.hs, hj2));
			if (r.yc != IR_NONE)
				stv(cg, &r, r.yc, si2, lda(cg, &r, r.cs, hj2));
			cg_for_end(cg, &lj);
			cg_for_end(cg, &lb);
		}
	}
	return true;
}

/* passes/fold_reduce.c — folder evaluators for reductions, Einsum, Trilu.
 *
 * ReduceSum/Prod/Min/Max/Mean (axes from input 1 or the attribute,
 * keepdims, noop_with_empty_axes), Einsum without "...", Trilu.
 * Contract: the output is accumulated in the input's domain (wrapping for
 * integers, double for floats); empty Max/Min/Mean reductions and Einsum
 * visiting more than FOLD_MAX_IN_ELEMS combinations are F_SKIP (left to
 * codegen); malformed axes or equations are F_ERR after a diagnostic.
 */
#include "fold_priv.h"

#include <assert.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Trilu-14: keeps j - i >= k (upper) or j - i <= k (lower) over the last
 * two dims, zeroes the rest. */
FRes fold_eval_trilu(Fold *F)
{
	Ten *x = &F->in[0];
	int r = x->s.rank;
	if (r < 2)
		return fold_err(F, 0, "expected rank >= 2, got %d", r);
	int64_t k = 0;
	if (present(F, 1)) {
		if (F->in[1].isf || F->in[1].n != 1)
			return fold_err(F, 1, "k must be an integer scalar");
		k = F->in[1].i[0];
	}
	bool upper = attr_int(F->n, "upper", 1) != 0;
	FRes res = fold_ten_alloc(&F->out, x->dt, &x->s);
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
/* Float Einsum folds bit-exactly only without a summed letter and with at
 * most two operands (each output element one product, rounded once): the
 * outer product of a positional embedding, a diagonal. */
static bool einsum_exact(const Fold *F)
{
	bool fl = false;
	for (int k = 0; k < F->nin; k++)
		fl |= present(F, k) && dtype_is_float(F->in[k].dt);
	if (!fl)
		return true;
	const char *eq = attr_string(F->n, "equation", "");
	const char *arrow = strstr(eq, "->");
	if (F->nin > 2 || !arrow)
		return false;
	for (const char *p = eq; p < arrow; p++)
		if (((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) && !strchr(arrow + 2, *p))
			return false;
	return true;
}

FRes fold_eval_einsum(Fold *F)
{
	if (!einsum_exact(F))
		return F_SKIP;   /* left to run time: one semantics (fold.h) */
	const char *eq = attr_string(F->n, "equation", NULL);
	if (!eq)
		return fold_err(F, -1, "missing attribute 'equation'");
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
			return fold_err(F, -1, "bad equation '%s'", eq);
		terms[nt][len++] = ch;
	}
	outt[nout] = 0;
	if (nt != F->nin)
		return fold_err(F, -1, "equation '%s' has %d operands, node has %d inputs", eq, nt, F->nin);
	int64_t size[128];
	int count[128] = {0};
	for (int c = 0; c < 128; c++)
		size[c] = -1;
	DType dt = F->in[0].dt;
	for (int t = 0; t < nt; t++) {
		Ten *x = &F->in[t];
		if (!present(F, t) || x->dt != dt)
			return fold_err(F, t, "operands must share one dtype");
		if ((int)strlen(terms[t]) != x->s.rank)
			return fold_err(F, t, "term '%s' does not match rank %d", terms[t], x->s.rank);
		for (int j = 0; terms[t][j]; j++) {
			int c = terms[t][j];
			if (size[c] >= 0 && size[c] != x->s.dims[j])
				return fold_err(F, t, "letter '%c' is %lld here, %lld elsewhere", c,
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
			return fold_err(F, -1, "output letter '%c' is not a single input letter", outt[j]);
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
	FRes res = fold_ten_alloc(&F->out, dt, &s);
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

/* ReduceSum/Prod/Min/Max/Mean over the dims the node's params (ir/params.h)
 * name. */
FRes fold_eval_reduce(Fold *F)
{
	Ten *x = &F->in[0];
	Op op = F->n->op;
	int r = x->s.rank;
	const ReduceParams *rp = node_reduce(F->g, (NodeId)(F->n - F->g->nodes), F->d);
	if (!rp)
		return F_ERR;
	assert(rp->rank == r);
	bool keep = rp->keepdims;
	const bool *red = rp->reduced;
	FRes res;
	if (rp->noop) {
		Shape s = x->s;
		return fold_same_data(F, &s);
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
	if ((res = fold_ten_alloc(&F->out, x->dt, &s)) != F_OK)
		return res;
	Ten *o = &F->out;
	bool *init = xcalloc((size_t)(o->n ? o->n : 1), 1);
	int64_t *map = fold_bcast_map(&x->s, &full); /* input element -> reduced slot */
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
			default: IR_UNREACHABLE("fold_eval_reduce: op");
			}
			o->f[m] = a;
		} else {
			int64_t a = o->i[m], b = x->i[k];
			switch (op) {
			case OP_ReduceSum: case OP_ReduceMean: a = wadd(a, b); break;
			case OP_ReduceProd: a = wmul(a, b); break;
			case OP_ReduceMax:
				a = o->dt == DT_U64 ? ((uint64_t)a > (uint64_t)b ? a : b) : a > b ? a : b;
				break;
			case OP_ReduceMin:
				a = o->dt == DT_U64 ? ((uint64_t)a < (uint64_t)b ? a : b) : a < b ? a : b;
				break;
			default: IR_UNREACHABLE("fold_eval_reduce: op");
			}
			o->i[m] = a;
		}
	}
	for (int64_t m = 0; m < o->n; m++) {
		if (!init[m]) /* empty reduction: sum 0, product 1 */
			set_num(o, m, op == OP_ReduceProd, op == OP_ReduceProd, o->isf);
		else if (op == OP_ReduceMean && o->isf)
			o->f[m] /= (double)cnt;
		else if (op == OP_ReduceMean && o->dt == DT_U64)
			o->i[m] = (int64_t)((uint64_t)o->i[m] / (uint64_t)cnt);
		else if (op == OP_ReduceMean)   /* the sum wraps in the dtype first, as at run time */
			o->i[m] = fold_wrap_int(o->i[m], o->dt) / cnt;
	}
	free(init);
	free(map);
	return F_OK;
}

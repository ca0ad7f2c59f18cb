/* passes/infer_einsum.c — shape rule of Einsum (ONNX Einsum-12).
 *
 * The equation is "term,term,...->out" (explicit) or "term,term,..."
 * (implicit).  A term is a string of letters [a-zA-Z], with at most one
 * "..." standing for the dims not named by letters.  Spaces are ignored.
 *   - A letter has one size across all terms; as in numpy/PyTorch a size of
 *     1 broadcasts against a larger one.  A letter repeated inside a term
 *     takes a diagonal, so its dims must agree.
 *   - The "..." dims of all inputs broadcast numpy-style (right-aligned).
 *   - Explicit output: its letters must occur in the inputs, each once; the
 *     "..." dims appear where its "..." is, and an output without "..." is
 *     an error when the inputs have any "..." dims.
 *   - Implicit output: the "..." dims, then every letter that occurs exactly
 *     once over all inputs, in ASCII order (upper case before lower case).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>
#include <string.h>

#define NLETTERS 52
#define MAX_TERM 64

typedef struct Term {
	int letters[MAX_TERM]; /* letter index per position, -1 for the "..." slot */
	int n;                 /* entries in letters[] */
	bool ellipsis;
} Term;

static int letter_index(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	return -1;
}

static char letter_char(int i) { return (char)(i < 26 ? 'A' + i : 'a' + i - 26); }

/* Parses one term from s[0..len); false with a diagnostic on a bad char. */
static bool parse_term(InferCtx *c, const char *s, size_t len, Term *t)
{
	t->n = 0;
	t->ellipsis = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ')
			continue;
		if (t->n >= MAX_TERM)
			return ifail(c, -1, "equation term too long");
		if (s[i] == '.') {
			if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' || t->ellipsis)
				return ifail(c, -1, "equation: malformed or repeated '...'");
			t->ellipsis = true;
			t->letters[t->n++] = -1;
			i += 2;
			continue;
		}
		int li = letter_index(s[i]);
		if (li < 0)
			return ifail(c, -1, "equation: unexpected character '%c'", s[i]);
		t->letters[t->n++] = li;
	}
	return true;
}

bool infer_einsum(InferCtx *c)
{
	Node *n = c->n;
	const char *eq = attr_string(n, "equation", NULL);
	if (!eq)
		return ifail(c, -1, "attribute 'equation' is required");
	for (int k = 0; k < n->nin; k++) {
		Value *v = iin(c, k);
		if (!v)
			return ifail(c, k, "input is missing");
		if (!dtype_is_int(v->dtype) && !dtype_is_float(v->dtype))
			return ifail(c, k, "expected a numeric type, got %s", dtype_name(v->dtype));
		if (k && !isame_dtype(c, k, 0))
			return false;
	}
	const char *arrow = strstr(eq, "->");
	size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);

	/* inputs */
	int64_t size[NLETTERS];
	int count[NLETTERS] = {0};
	for (int i = 0; i < NLETTERS; i++)
		size[i] = -1;
	Shape ell = shape_make(0, NULL);
	bool any_ellipsis = false;
	const char *p = eq;
	int k = 0;
	for (;;) {
		const char *comma = memchr(p, ',', lhs_len - (size_t)(p - eq));
		size_t tl = comma ? (size_t)(comma - p) : lhs_len - (size_t)(p - eq);
		Term t;
		if (k >= n->nin)
			return ifail(c, -1, "equation '%s' has more terms than the %d inputs", eq, n->nin);
		if (!parse_term(c, p, tl, &t))
			return false;
		Value *v = iin(c, k);
		int r = v->shape.rank;
		int named = t.n - (t.ellipsis ? 1 : 0);
		if (t.ellipsis ? named > r : named != r)
			return ifail(c, k, "equation term %d names %d dims, input has rank %d", k, named, r);
		int ell_rank = r - named, d = 0;
		for (int j = 0; j < t.n; j++) {
			int li = t.letters[j];
			if (li < 0) {
				Shape es = shape_make(ell_rank, v->shape.dims + d);
				if (!ibroadcast(c, &ell, 0, &es, k, &ell))
					return false;
				any_ellipsis = true;
				d += ell_rank;
				continue;
			}
			int64_t dim = v->shape.dims[d++];
			count[li]++;
			if (size[li] < 0 || size[li] == 1)
				size[li] = dim;
			else if (dim != size[li] && dim != 1)
				return ifail(c, k, "index '%c' has size %" PRId64 ", elsewhere %" PRId64,
				             letter_char(li), dim, size[li]);
		}
		k++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (k != n->nin)
		return ifail(c, -1, "equation '%s' has %d terms for %d inputs", eq, k, n->nin);

	/* output */
	Shape s = shape_make(0, NULL);
	if (arrow) {
		Term t;
		const char *o = arrow + 2;
		if (strstr(o, "->"))
			return ifail(c, -1, "equation '%s' has more than one '->'", eq);
		if (!parse_term(c, o, strlen(o), &t))
			return false;
		bool seen[NLETTERS] = {false};
		if (!t.ellipsis && any_ellipsis && ell.rank > 0)
			return ifail(c, -1, "equation '%s': output needs '...' for the broadcast dims", eq);
		for (int j = 0; j < t.n; j++) {
			int li = t.letters[j];
			if (li < 0) {
				if (s.rank + ell.rank > IR_MAX_RANK)
					return ifail(c, -1, "output rank exceeds the supported %d", IR_MAX_RANK);
				for (int e = 0; e < ell.rank; e++)
					s.dims[s.rank++] = ell.dims[e];
				continue;
			}
			if (!count[li])
				return ifail(c, -1, "equation '%s': output index '%c' is not in any input", eq,
				             letter_char(li));
			if (seen[li])
				return ifail(c, -1, "equation '%s': output index '%c' repeated", eq,
				             letter_char(li));
			seen[li] = true;
			if (s.rank >= IR_MAX_RANK)
				return ifail(c, -1, "output rank exceeds the supported %d", IR_MAX_RANK);
			s.dims[s.rank++] = size[li];
		}
	} else {
		for (int e = 0; e < ell.rank; e++)
			s.dims[s.rank++] = ell.dims[e];
		for (int li = 0; li < NLETTERS; li++) {
			if (count[li] != 1)
				continue;
			if (s.rank >= IR_MAX_RANK)
				return ifail(c, -1, "output rank exceeds the supported %d", IR_MAX_RANK);
			s.dims[s.rank++] = size[li];
		}
	}
	iset(c, 0, iin(c, 0)->dtype, &s);
	return true;
}

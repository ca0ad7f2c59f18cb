/* ir/parse.c — reads the text form ir_dump() writes back into a Graph.
 *
 * The grammar is the dump's (see ir/dump.c), one item per line:
 *
 *   graph "name" opset ai.onnx=17, onnxcc=1
 *   input  %x : f32[1,3,8,8]
 *   const  %w : f32[2,2] = {0.5, 1, 2, 3}
 *   %y : f32[1,4,8,8], _ = Op(%x, %w, _) {axis=-1, epsilon=9.99999975e-06}  # name
 *   output %y
 *
 * A type may end in a layout, "f32[64,192]@panels" (ir.h, Layout);
 * without one a value is row-major.
 *
 * plus blank lines and comment lines starting with ';' (print-after dumps
 * start with "; after PASS").  Values must be declared (input, const, node
 * output) before they are used, so a parsed graph is in topological order.
 *
 * Constant data: the dump shows at most 6 leading elements of a constant
 * ("{a, b, ... (N elements)}").  A hand-written input may list all N
 * elements; a list with "..." is elided, and is an error unless the caller
 * passes IR_PARSE_FILL_ELIDED, in which case the shown prefix is repeated
 * to N elements (enough for a dump round trip, never for computing with
 * the data) and "{...}" reads as zeros.
 *
 * Attribute kinds come from the spelling: a number with '.', an exponent,
 * "inf" or "nan" is a float (the dump writes float attributes that way),
 * other numbers are ints; "[]" reads as an empty int list.  Subgraph
 * attributes ("graph \"g\"") cannot be read back and are an error.
 *
 * Value names: "%name" declares/refers to "name", except "%t<digits>", the
 * form graph_add_value() gives unnamed values, which keeps its '%' so that
 * fresh names made by later passes cannot collide with it.
 *
 * The parsed graph has shapes_known set when every value has a dtype and a
 * static shape; each node's opset is the graph's opset for its domain.
 */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

typedef struct P {
	Graph *g;
	Diag *d;
	unsigned flags;
	const char *s;   /* cursor in the current line */
	const char *eol; /* end of the current line */
	int line;
	bool failed;
	ValueId *ins, *outs;
	int nins, nouts, cap_ins, cap_outs;
} P;

static bool perr(P *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool perr(P *p, const char *fmt, ...)
{
	if (p->failed)
		return false;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_error(p->d, "line %d: %s", p->line, msg);
	p->failed = true;
	return false;
}

static bool at_end(P *p) { return p->s >= p->eol; }

static bool lit(P *p, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(p->eol - p->s) >= n && memcmp(p->s, w, n) == 0) {
		p->s += n;
		return true;
	}
	return false;
}

static bool expect(P *p, const char *w)
{
	if (lit(p, w))
		return true;
	return perr(p, "expected '%s' at '%.*s'", w, (int)(p->eol - p->s > 24 ? 24 : p->eol - p->s), p->s);
}

static void skip_sp(P *p)
{
	while (p->s < p->eol && *p->s == ' ')
		p->s++;
}

/* A run of characters up to (not including) any of stop or a space. */
static const char *word(P *p, const char *stop, size_t *len)
{
	const char *b = p->s;
	while (p->s < p->eol && *p->s != ' ' && !strchr(stop, *p->s))
		p->s++;
	*len = (size_t)(p->s - b);
	return b;
}

/* "%name": returns the stored name (arena) or NULL after an error. */
static const char *value_name(P *p)
{
	if (!expect(p, "%"))
		return NULL;
	size_t n;
	const char *b = word(p, ",)", &n);
	if (n == 0) {
		perr(p, "empty value name");
		return NULL;
	}
	bool gen = n > 1 && b[0] == 't';
	for (size_t i = 1; gen && i < n; i++)
		gen = isdigit((unsigned char)b[i]) != 0;
	return gen ? arena_strndup(&p->g->arena, b - 1, n + 1) : arena_strndup(&p->g->arena, b, n);
}

static ValueId ref(P *p)
{
	const char *name = value_name(p);
	if (!name)
		return IR_NONE;
	ValueId v = graph_find_value(p->g, name);
	if (v == IR_NONE)
		perr(p, "value '%s' used before it is declared", name);
	return v;
}

static bool parse_dtype(P *p, DType *dt)
{
	size_t n;
	const char *b = word(p, "[", &n);
	for (int t = 0; t < DT__COUNT; t++) {
		const char *nm = dtype_name((DType)t);
		if (strlen(nm) == n && memcmp(nm, b, n) == 0 && (t == DT_UNDEF || dtype_size((DType)t) || t == DT_STRING)) {
			*dt = (DType)t;
			return true;
		}
	}
	return perr(p, "unknown dtype '%.*s'", (int)n, b);
}

/* "[1,N,?]" or "[?]" (rank unknown). */
static bool parse_shape(P *p, Shape *s)
{
	memset(s, 0, sizeof *s);
	if (!expect(p, "["))
		return false;
	if (lit(p, "?]")) {
		s->rank = -1;
		return true;
	}
	if (lit(p, "]"))
		return true;
	for (;;) {
		if (s->rank == IR_MAX_RANK)
			return perr(p, "rank above %d", IR_MAX_RANK);
		size_t n;
		const char *b = word(p, ",]", &n);
		if (n == 0)
			return perr(p, "empty dimension");
		int i = s->rank++;
		if (n == 1 && b[0] == '?') {
			s->dims[i] = -1;
		} else if (isdigit((unsigned char)b[0])) {
			char *end;
			errno = 0;
			long long v = strtoll(b, &end, 10);
			if (end != b + n || errno)
				return perr(p, "bad dimension '%.*s'", (int)n, b);
			s->dims[i] = v;
		} else {
			s->dims[i] = -1;
			s->sym[i] = arena_strndup(&p->g->arena, b, n);
		}
		if (lit(p, "]"))
			return true;
		if (!expect(p, ","))
			return false;
	}
}

/* ---- numbers and data ---------------------------------------------------------- */

static bool looks_float(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(".eEnN", b[i]))
			return true;
	return false;
}

static uint16_t f32_to_f16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xff, m = x & 0x7fffffu;
	if (e == 0xff)
		return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
	int ee = (int)e - 127 + 15;
	if (ee >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (ee <= 0) {
		if (ee < -10)
			return (uint16_t)sign;
		m |= 0x800000u;
		int sh = 14 - ee;
		uint32_t h = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)ee << 10) | (m >> 13), rem = m & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
		h++; /* may carry into the exponent: still correct rounding */
	return (uint16_t)(sign | h);
}

static uint16_t f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40u);
	x += 0x7fffu + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

/* Reads one number of dtype dt into dst. */
static bool parse_elem(P *p, DType dt, unsigned char *dst)
{
	size_t n;
	const char *b = word(p, ",}", &n);
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return perr(p, "bad number '%.*s'", (int)(n < 24 ? n : 24), b);
	memcpy(buf, b, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	if (dtype_is_float(dt)) {
		double v = strtod(buf, &end);
		if (*end)
			return perr(p, "bad number '%s'", buf);
		float f = (float)v;
		if (dt == DT_F64) {
			memcpy(dst, &v, 8);
		} else if (dt == DT_F32) {
			memcpy(dst, &f, 4);
		} else {
			uint16_t h = dt == DT_F16 ? f32_to_f16(f) : f32_to_bf16(f);
			memcpy(dst, &h, 2);
		}
		return true;
	}
	int64_t iv;
	if (dt == DT_U64) {
		iv = (int64_t)strtoull(buf, &end, 10);
	} else {
		iv = strtoll(buf, &end, 10);
	}
	if (*end || errno)
		return perr(p, "bad integer '%s'", buf);
	switch (dtype_size(dt)) {
	case 1: { uint8_t x = (uint8_t)iv; memcpy(dst, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)iv; memcpy(dst, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)iv; memcpy(dst, &x, 4); break; }
	case 8: memcpy(dst, &iv, 8); break;
	default: return perr(p, "dtype %s has no data syntax", dtype_name(dt));
	}
	return true;
}

/* "{a, b, c}" (all elements), "{a, ..., ... (N elements)}" or "{...}"; the
 * data (arena) is returned through *out. */
static bool parse_data(P *p, const char *what, DType dt, const Shape *s, void **out)
{
	int64_t n = shape_numel(s);
	size_t es = dtype_size(dt);
	if (n < 0 || es == 0)
		return perr(p, "%s: data needs a static shape and a numeric dtype", what);
	unsigned char *data = arena_alloc(&p->g->arena, (size_t)n * es + 1);
	*out = data;
	if (!expect(p, "{"))
		return false;
	int64_t k = 0;
	bool elided = false;
	if (lit(p, "...}")) {
		if (!(p->flags & IR_PARSE_FILL_ELIDED))
			return perr(p, "%s: data not shown; write all %lld elements", what, (long long)n);
		return true; /* zeros */
	}
	if (lit(p, "}")) {
		if (n != 0)
			return perr(p, "%s: no data for %lld elements", what, (long long)n);
		return true;
	}
	for (;;) {
		if (lit(p, "... (")) {
			char *end;
			long long total = strtoll(p->s, &end, 10);
			p->s = end;
			if (!expect(p, " elements)}"))
				return false;
			if (total != n)
				return perr(p, "%s: %lld elements announced, shape has %lld", what, total, (long long)n);
			elided = true;
			break;
		}
		if (k == n)
			return perr(p, "%s: more than %lld elements", what, (long long)n);
		if (!parse_elem(p, dt, data + (size_t)k * es))
			return false;
		k++;
		if (lit(p, "}"))
			break;
		if (!expect(p, ", "))
			return false;
	}
	if (elided) {
		if (!(p->flags & IR_PARSE_FILL_ELIDED))
			return perr(p, "%s: data elided (%lld of %lld elements shown); write all elements",
			            what, (long long)k, (long long)n);
		if (k == 0)
			return perr(p, "%s: elided data shows no element", what);
		for (int64_t i = k; i < n; i++)
			memcpy(data + (size_t)i * es, data + (size_t)(i % k) * es, es);
	} else if (k != n) {
		return perr(p, "%s: %lld elements given, shape has %lld", what, (long long)k, (long long)n);
	}
	return true;
}

/* ---- attributes ------------------------------------------------------------------ */

/* A "..." string with \" \\ \xHH escapes; NUL-terminated copy in the arena. */
static const char *parse_string(P *p, size_t *len)
{
	if (!expect(p, "\""))
		return NULL;
	char *buf = arena_alloc(&p->g->arena, (size_t)(p->eol - p->s) + 1);
	size_t n = 0;
	while (p->s < p->eol && *p->s != '"') {
		char c = *p->s++;
		if (c == '\\' && p->s < p->eol) {
			c = *p->s++;
			if (c == 'x') {
				unsigned v;
				if (p->eol - p->s < 2 || sscanf(p->s, "%2x", &v) != 1) {
					perr(p, "bad \\x escape");
					return NULL;
				}
				p->s += 2;
				c = (char)v;
			}
		}
		buf[n++] = c;
	}
	if (!expect(p, "\""))
		return NULL;
	buf[n] = 0;
	*len = n;
	return buf;
}

/* "[1,2]", "[0.5,1.0]" or "[\"a\",\"b\"]" after the '[': the kind comes
 * from the elements (any string: strings; any float spelling: floats). */
static bool parse_list(P *p, NodeId nid, const char *name)
{
	Graph *g = p->g;
	int cap = 8, cnt = 0;
	const char **strs = xmalloc(sizeof *strs * (size_t)cap);
	double *dbl = xmalloc(sizeof *dbl * (size_t)cap);
	int64_t *ints = xmalloc(sizeof *ints * (size_t)cap);
	int nstr = 0;
	bool is_float = false, ok = true;
	while (ok && !lit(p, "]")) {
		if (cnt && !(ok = expect(p, ",")))
			break;
		if (cnt == cap) {
			cap *= 2;
			strs = xrealloc(strs, sizeof *strs * (size_t)cap);
			dbl = xrealloc(dbl, sizeof *dbl * (size_t)cap);
			ints = xrealloc(ints, sizeof *ints * (size_t)cap);
		}
		strs[cnt] = NULL;
		if (at_end(p)) {
			ok = perr(p, "attribute '%s': unterminated list", name);
		} else if (*p->s == '"') {
			size_t sl;
			nstr++;
			ok = (strs[cnt] = parse_string(p, &sl)) != NULL;
		} else {
			size_t n;
			const char *e = word(p, ",]", &n);
			char buf[64], *end;
			if (n == 0 || n >= sizeof buf) {
				ok = perr(p, "attribute '%s': bad list element", name);
				break;
			}
			memcpy(buf, e, n);
			buf[n] = 0;
			errno = 0;
			if (looks_float(e, n)) {
				is_float = true;
				dbl[cnt] = strtod(buf, &end);
			} else {
				ints[cnt] = strtoll(buf, &end, 10);
				dbl[cnt] = (double)ints[cnt];
			}
			if (*end || errno)
				ok = perr(p, "attribute '%s': bad number '%s'", name, buf);
		}
		cnt++;
	}
	if (ok && nstr && nstr != cnt)
		ok = perr(p, "attribute '%s': mixed strings and numbers", name);
	if (ok) {
		Attr *a = graph_add_attr(g, nid, name, nstr ? AK_STRINGS : is_float ? AK_FLOATS : AK_INTS);
		size_t m = (size_t)(cnt ? cnt : 1);
		a->n = cnt;
		if (nstr) {
			a->strings = arena_dup(&g->arena, strs, sizeof *strs * m);
		} else if (is_float) {
			a->floats = arena_alloc(&g->arena, sizeof(float) * m);
			for (int i = 0; i < cnt; i++)
				a->floats[i] = (float)dbl[i];
		} else {
			a->ints = arena_dup(&g->arena, ints, sizeof *ints * m);
		}
	}
	free(strs);
	free(dbl);
	free(ints);
	return ok;
}

static bool parse_attr(P *p, NodeId nid)
{
	size_t n;
	const char *b = word(p, "=,}", &n);
	if (n == 0)
		return perr(p, "empty attribute name");
	const char *name = arena_strndup(&p->g->arena, b, n);
	if (!expect(p, "="))
		return false;
	Graph *g = p->g;
	if (*p->s == '"') {
		Attr *a = graph_add_attr(g, nid, name, AK_STRING);
		a->s = parse_string(p, &a->slen);
		return a->s != NULL;
	}
	if (lit(p, "tensor ")) {
		Tensor *t = arena_alloc(&g->arena, sizeof *t);
		if (!parse_dtype(p, &t->dtype) || !parse_shape(p, &t->shape) || !expect(p, " "))
			return false;
		void *data;
		if (!parse_data(p, name, t->dtype, &t->shape, &data))
			return false;
		t->data = data;
		t->nbytes = (size_t)shape_numel(&t->shape) * dtype_size(t->dtype);
		graph_add_attr(g, nid, name, AK_TENSOR)->t = t;
		return true;
	}
	if (lit(p, "graph "))
		return perr(p, "attribute '%s': subgraphs cannot be read back from a dump", name);
	if (lit(p, "["))
		return parse_list(p, nid, name);
	const char *e = word(p, ",}", &n);
	char buf[64], *end;
	if (n == 0 || n >= sizeof buf || (n == 1 && e[0] == '?'))
		return perr(p, "attribute '%s': unreadable value '%.*s'", name, (int)(n < 24 ? n : 24), e);
	memcpy(buf, e, n);
	buf[n] = 0;
	errno = 0;
	if (looks_float(e, n)) {
		double v = strtod(buf, &end);
		if (*end)
			return perr(p, "attribute '%s': bad number '%s'", name, buf);
		graph_add_attr(g, nid, name, AK_FLOAT)->f = (float)v;
	} else {
		long long v = strtoll(buf, &end, 10);
		if (*end || errno)
			return perr(p, "attribute '%s': bad integer '%s'", name, buf);
		graph_add_attr(g, nid, name, AK_INT)->i = v;
	}
	return true;
}

/* ---- lines ------------------------------------------------------------------------- */

static void push(ValueId **a, int *n, int *cap, ValueId v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*a = xrealloc(*a, sizeof **a * (size_t)*cap);
	}
	(*a)[(*n)++] = v;
}

/* "%name : dtype[shape]": declares a new value. */
static ValueId decl(P *p)
{
	const char *name = value_name(p);
	if (!name)
		return IR_NONE;
	if (graph_find_value(p->g, name) != IR_NONE) {
		perr(p, "value '%s' declared twice", name);
		return IR_NONE;
	}
	DType dt;
	Shape s;
	if (!expect(p, " : ") || !parse_dtype(p, &dt) || !parse_shape(p, &s))
		return IR_NONE;
	Layout l = LAYOUT_ROW_MAJOR;
	if (lit(p, "@")) {
		size_t n;
		const char *b = word(p, ",", &n);
		l = layout_lookup(b, n);
		if (l == LAYOUT__COUNT) {
			perr(p, "unknown layout '%.*s'", (int)n, b);
			return IR_NONE;
		}
	}
	ValueId v = graph_add_value(p->g, name, dt, &s);
	gval(p->g, v)->layout = l;
	return v;
}

static bool parse_header(P *p)
{
	Graph *g = p->g;
	size_t n;
	if (!expect(p, "graph "))
		return false;
	const char *name = parse_string(p, &n);
	if (!name)
		return false;
	g->name = name;
	if (at_end(p))
		return true;
	if (!expect(p, " opset "))
		return false;
	int cap = 0;
	do {
		skip_sp(p);
		const char *b = word(p, "=", &n);
		if (!expect(p, "="))
			return false;
		char *end;
		errno = 0;
		long long v = strtoll(p->s, &end, 10);
		if (end == p->s || errno)
			return perr(p, "bad opset version");
		p->s = end;
		if (g->nopsets == cap) {
			cap = cap ? cap * 2 : 4;
			OpsetImport *o = arena_alloc(&g->arena, sizeof *o * (size_t)cap);
			if (g->nopsets)
				memcpy(o, g->opsets, sizeof *o * (size_t)g->nopsets);
			g->opsets = o;
		}
		bool def = n == 7 && !memcmp(b, "ai.onnx", 7);
		g->opsets[g->nopsets].domain = def ? "" : arena_strndup(&g->arena, b, n);
		g->opsets[g->nopsets++].version = v;
	} while (lit(p, ","));
	if (!at_end(p))
		return perr(p, "unexpected text after the opsets");
	return true;
}

/* "outs = [dom::]Op(ins) {attrs}  # name" or "Op(ins)..." (no outputs). */
static bool parse_node(P *p)
{
	Graph *g = p->g;
	ValueId outv[64], inv[256];
	int nout = 0, nin = 0;
	/* outputs: the line starts with '%' or "_," / "_ =" */
	if (*p->s == '%' || (*p->s == '_' && (p->s[1] == ',' || p->s[1] == ' '))) {
		for (;;) {
			if (nout == 64)
				return perr(p, "more than 64 outputs");
			if (lit(p, "_"))
				outv[nout++] = IR_NONE;
			else if ((outv[nout++] = decl(p)) == IR_NONE)
				return false;
			if (lit(p, " = "))
				break;
			if (!expect(p, ", "))
				return false;
		}
	}
	size_t n;
	const char *b = word(p, "(", &n);
	if (n == 0 || !expect(p, "("))
		return perr(p, "expected an operator");
	const char *domain = "", *op_type;
	const char *sep = NULL;
	for (size_t i = 0; i + 1 < n; i++)
		if (b[i] == ':' && b[i + 1] == ':')
			sep = b + i;
	if (sep) {
		domain = arena_strndup(&g->arena, b, (size_t)(sep - b));
		op_type = arena_strndup(&g->arena, sep + 2, n - (size_t)(sep - b) - 2);
	} else {
		op_type = arena_strndup(&g->arena, b, n);
	}
	while (!lit(p, ")")) {
		if (nin && !expect(p, ", "))
			return false;
		if (nin == 256)
			return perr(p, "more than 256 inputs");
		if (lit(p, "_"))
			inv[nin++] = IR_NONE;
		else if ((inv[nin++] = ref(p)) == IR_NONE)
			return false;
	}
	Op op = op_lookup(domain, op_type);
	if (op == OP_UNKNOWN && !strcmp(domain, "onnxcc"))
		for (int i = 1; i < OP__COUNT; i++)
			if ((op_info[i].flags & OPF_FUSED) && !strcmp(op_info[i].name, op_type))
				op = (Op)i;
	NodeId nid = graph_add_node(g, op, op_type, "", inv, nin, outv, nout);
	Node *nd = &g->nodes[nid];
	nd->domain = domain;
	int64_t ver = graph_opset(g, domain);
	nd->opset = ver < 0 ? 0 : ver > INT32_MAX ? INT32_MAX : (int)ver;
	if (lit(p, " {")) {
		do {
			skip_sp(p);
			if (!parse_attr(p, nid))
				return false;
		} while (lit(p, ","));
		if (!expect(p, "}"))
			return false;
	}
	if (lit(p, "  # "))
		g->nodes[nid].name = arena_strndup(&g->arena, p->s, (size_t)(p->eol - p->s));
	else if (!at_end(p))
		return perr(p, "unexpected text '%.*s'", (int)(p->eol - p->s > 24 ? 24 : p->eol - p->s), p->s);
	return true;
}

static bool parse_line(P *p)
{
	if (lit(p, "input  ")) {
		ValueId v = decl(p);
		if (v == IR_NONE)
			return false;
		gval(p->g, v)->kind = VK_INPUT;
		push(&p->ins, &p->nins, &p->cap_ins, v);
	} else if (lit(p, "const  ")) {
		ValueId v = decl(p);
		if (v == IR_NONE || !expect(p, " = "))
			return false;
		Value *val = gval(p->g, v);
		void *data;
		if (!parse_data(p, val->name, val->dtype, &val->shape, &data))
			return false;
		val = gval(p->g, v);
		val->kind = VK_CONST;
		val->data = data;
		val->nbytes = (size_t)shape_numel(&val->shape) * dtype_size(val->dtype);
	} else if (lit(p, "output ")) {
		ValueId v = ref(p);
		if (v == IR_NONE)
			return false;
		gval(p->g, v)->is_output = true;
		push(&p->outs, &p->nouts, &p->cap_outs, v);
	} else {
		return parse_node(p);
	}
	if (!at_end(p))
		return perr(p, "unexpected text '%.*s'", (int)(p->eol - p->s > 24 ? 24 : p->eol - p->s), p->s);
	return true;
}

Graph *ir_parse(const char *text, const char *path, unsigned flags, Diag *d)
{
	P p = {.g = graph_new(path), .d = d, .flags = flags};
	bool header = false;
	const char *s = text;
	while (*s && !p.failed) {
		const char *eol = strchr(s, '\n');
		if (!eol)
			eol = s + strlen(s);
		p.line++;
		p.s = s;
		p.eol = eol;
		if (p.eol > p.s && p.eol[-1] == '\r')
			p.eol--;
		if (p.eol > p.s && *p.s != ';') {
			if (!header)
				header = parse_header(&p);
			else if (p.nouts && strncmp(p.s, "output ", 7) != 0)
				perr(&p, "only 'output' lines may follow the first 'output' line");
			else
				parse_line(&p);
		}
		s = *eol ? eol + 1 : eol;
	}
	if (!p.failed && !header)
		perr(&p, "no 'graph' line");
	Graph *g = p.g;
	if (!p.failed) {
		g->inputs = p.nins ? arena_dup(&g->arena, p.ins, sizeof(ValueId) * (size_t)p.nins) : NULL;
		g->ninputs = p.nins;
		g->outputs = p.nouts ? arena_dup(&g->arena, p.outs, sizeof(ValueId) * (size_t)p.nouts) : NULL;
		g->noutputs = p.nouts;
		bool known = true;
		for (ValueId v = 0; v < g->nvalues && known; v++)
			known = g->values[v].dtype != DT_UNDEF && shape_is_static(&g->values[v].shape);
		g->shapes_known = known;
	}
	free(p.ins);
	free(p.outs);
	if (p.failed) {
		graph_free(g);
		return NULL;
	}
	return g;
}

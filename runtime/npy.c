/* runtime/npy.c — reading and writing NumPy .npy files (see npy.h).
 *
 * Format (numpy/lib/format.py, NEP 1): the magic "\x93NUMPY", a major and a
 * minor version byte, the header length (uint16 LE for 1.0, uint32 LE for
 * 2.0 and 3.0), then the header — a Python dict literal
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a final '\n' — and then the raw C-order data.
 * The header is parsed by a small recursive-descent reader that accepts
 * exactly the three keys in any order, single- or double-quoted strings and
 * Python 2 style long literals (3L); anything else is reported with its
 * byte offset.  Sizes are checked for overflow before any allocation.
 */
#define _POSIX_C_SOURCE 200809L   /* open flags, fdopen, fcntl under -std=c11 */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_BIG_ENDIAN 1
#else
#define HOST_BIG_ENDIAN 0
#endif

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- dtypes -------------------------------------------------------------- */

static const struct {
	int32_t code;
	const char *name;
	size_t size;
	char kind;       /* numpy kind letter: f i u b; 0: no .npy form */
} dtypes[] = {
	{1, "f32", 4, 'f'},
	{2, "u8", 1, 'u'},
	{3, "i8", 1, 'i'},
	{4, "u16", 2, 'u'},
	{5, "i16", 2, 'i'},
	{6, "i32", 4, 'i'},
	{7, "i64", 8, 'i'},
	{8, "string", 0, 0},
	{9, "bool", 1, 'b'},
	{10, "f16", 2, 'f'},
	{11, "f64", 8, 'f'},
	{12, "u32", 4, 'u'},
	{13, "u64", 8, 'u'},
	{14, "c64", 0, 0},
	{15, "c128", 0, 0},
	{16, "bf16", 2, 0},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static int dtype_index(int32_t code)
{
	for (int i = 0; i < NDTYPES; i++)
		if (dtypes[i].code == code)
			return i;
	return -1;
}

const char *onnxcc_dtype_name(int32_t dtype)
{
	int i = dtype_index(dtype);
	return i < 0 ? "?" : dtypes[i].name;
}

size_t onnxcc_dtype_size(int32_t dtype)
{
	int i = dtype_index(dtype);
	return i < 0 ? 0 : dtypes[i].size;
}

bool onnxcc_dtype_is_float(int32_t dtype)
{
	return dtype == 1 || dtype == 10 || dtype == 11 || dtype == 16;
}

const char *onnxcc_npy_descr(int32_t dtype)
{
	/* Written in host order; 1-byte types have no order ('|'). */
	static const struct {
		int32_t code;
		const char *le, *be;
	} tab[] = {
		{1, "<f4", ">f4"}, {11, "<f8", ">f8"}, {10, "<f2", ">f2"},
		{7, "<i8", ">i8"}, {6, "<i4", ">i4"}, {5, "<i2", ">i2"},
		{3, "|i1", "|i1"}, {2, "|u1", "|u1"}, {4, "<u2", ">u2"},
		{12, "<u4", ">u4"}, {13, "<u8", ">u8"}, {9, "|b1", "|b1"},
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (tab[i].code == dtype)
			return HOST_BIG_ENDIAN ? tab[i].be : tab[i].le;
	return NULL;
}

int32_t onnxcc_npy_dtype(const char *descr, bool *swap)
{
	if (swap)
		*swap = false;
	if (!descr || strlen(descr) != 3)
		return 0;
	char order = descr[0], kind = descr[1], width = descr[2];
	if (order != '<' && order != '>' && order != '|' && order != '=')
		return 0;
	if (width < '1' || width > '9')
		return 0;
	size_t size = (size_t)(width - '0');
	for (int i = 0; i < NDTYPES; i++) {
		if (dtypes[i].kind != kind || dtypes[i].size != size)
			continue;
		/* '|' means "not applicable": only for one-byte types. */
		if (order == '|' && size != 1)
			return 0;
		bool big = order == '>' || (order == '=' && HOST_BIG_ENDIAN);
		if (swap)
			*swap = size > 1 && big != HOST_BIG_ENDIAN;
		return dtypes[i].code;
	}
	return 0;
}

/* ---- element helpers ------------------------------------------------------ */

float onnxcc_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	uint32_t bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);          /* inf / NaN */
	} else if (exp != 0) {
		bits = sign | ((exp + 112) << 23) | (man << 13);  /* normal */
	} else if (man == 0) {
		bits = sign;                                      /* +-0 */
	} else {
		/* subnormal: value = man * 2^-24, exact in float */
		float f = (float)man * 0x1p-24f;
		return sign ? -f : f;
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

float onnxcc_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

double onnxcc_elem_f64(int32_t dtype, const void *data, uint64_t i)
{
	switch (dtype) {
	case 1: { float v; memcpy(&v, (const char *)data + i * 4, 4); return v; }
	case 11: { double v; memcpy(&v, (const char *)data + i * 8, 8); return v; }
	case 10: { uint16_t v; memcpy(&v, (const char *)data + i * 2, 2); return onnxcc_f16_to_f32(v); }
	case 16: { uint16_t v; memcpy(&v, (const char *)data + i * 2, 2); return onnxcc_bf16_to_f32(v); }
	case 13: { uint64_t v; memcpy(&v, (const char *)data + i * 8, 8); return (double)v; }
	case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 12:
		return (double)onnxcc_elem_i64(dtype, data, i);
	default: return NAN;
	}
}

int64_t onnxcc_elem_i64(int32_t dtype, const void *data, uint64_t i)
{
	const char *p = data;
	switch (dtype) {
	case 2: return ((const uint8_t *)p)[i];
	case 3: return ((const int8_t *)p)[i];
	case 9: return ((const uint8_t *)p)[i] != 0;
	case 4: { uint16_t v; memcpy(&v, p + i * 2, 2); return v; }
	case 5: { int16_t v; memcpy(&v, p + i * 2, 2); return v; }
	case 6: { int32_t v; memcpy(&v, p + i * 4, 4); return v; }
	case 12: { uint32_t v; memcpy(&v, p + i * 4, 4); return v; }
	case 7: case 13: { int64_t v; memcpy(&v, p + i * 8, 8); return v; }
	case 1: case 10: case 11: case 16: {
		double v = onnxcc_elem_f64(dtype, data, i);
		/* saturate; NaN -> 0 (the conversion itself would be UB) */
		return isnan(v) ? 0 : v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN
		       : (int64_t)v;
	}
	default: return 0;
	}
}

OnnxccStats onnxcc_stats(int32_t dtype, const void *data, uint64_t n)
{
	OnnxccStats s = {NAN, NAN, NAN};
	if (n == 0)
		return s;
	double lo = INFINITY, hi = -INFINITY, sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		double v = onnxcc_elem_f64(dtype, data, i);
		if (isnan(v))
			return s;
		if (v < lo)
			lo = v;
		if (v > hi)
			hi = v;
		sum += v;
	}
	s.min = lo;
	s.max = hi;
	s.mean = sum / (double)n;
	return s;
}

const char *onnxcc_shape_str(int32_t rank, const int64_t *shape, char *buf, size_t n)
{
	size_t len = 0;
	if (n == 0)
		return buf;
	buf[0] = 0;
	len += (size_t)snprintf(buf, n, "[");
	for (int32_t i = 0; i < rank && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? "," : "",
		                        (long long)shape[i]);
	if (len < n)
		snprintf(buf + len, n - len, "]");
	return buf;
}

/* ---- errors ----------------------------------------------------------------- */

static bool fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return false;
	int k = snprintf(err, errlen, "%s: ", name ? name : "<npy>");
	if (k < 0 || (size_t)k >= errlen)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return false;
}

/* ---- header parsing ---------------------------------------------------------- */

typedef struct Hdr {
	const char *s;       /* header text (not NUL-terminated) */
	size_t len, pos;
	const char *name;    /* file name for messages */
	char *err;
	size_t errlen;
} Hdr;

static void skip_ws(Hdr *h)
{
	while (h->pos < h->len && (h->s[h->pos] == ' ' || h->s[h->pos] == '\t' ||
	                           h->s[h->pos] == '\n' || h->s[h->pos] == '\r'))
		h->pos++;
}

static bool expect_ch(Hdr *h, char c, const char *what)
{
	skip_ws(h);
	if (h->pos >= h->len)
		return fail(h->err, h->errlen, h->name,
		            "header: expected %s, found end of header", what);
	if (h->s[h->pos] != c)
		return fail(h->err, h->errlen, h->name,
		            "header: expected %s at offset %zu, found '%c'", what,
		            h->pos, h->s[h->pos]);
	h->pos++;
	return true;
}

/* A quoted string without escapes into out[outlen]. */
static bool parse_str(Hdr *h, char *out, size_t outlen)
{
	skip_ws(h);
	if (h->pos >= h->len || (h->s[h->pos] != '\'' && h->s[h->pos] != '"'))
		return fail(h->err, h->errlen, h->name,
		            "header: expected a quoted string at offset %zu", h->pos);
	char q = h->s[h->pos++];
	size_t start = h->pos;
	while (h->pos < h->len && h->s[h->pos] != q) {
		if (h->s[h->pos] == '\\')
			return fail(h->err, h->errlen, h->name,
			            "header: escapes in strings are not supported (offset %zu)",
			            h->pos);
		h->pos++;
	}
	if (h->pos >= h->len)
		return fail(h->err, h->errlen, h->name, "header: unterminated string");
	size_t n = h->pos - start;
	h->pos++;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, h->s + start, n);
	out[n] = 0;
	return true;
}

static bool parse_bool(Hdr *h, bool *v)
{
	skip_ws(h);
	if (h->len - h->pos >= 4 && memcmp(h->s + h->pos, "True", 4) == 0) {
		h->pos += 4;
		*v = true;
		return true;
	}
	if (h->len - h->pos >= 5 && memcmp(h->s + h->pos, "False", 5) == 0) {
		h->pos += 5;
		*v = false;
		return true;
	}
	return fail(h->err, h->errlen, h->name,
	            "header: expected True or False at offset %zu", h->pos);
}

static bool parse_dim(Hdr *h, int64_t *v)
{
	skip_ws(h);
	if (h->pos < h->len && h->s[h->pos] == '-')
		return fail(h->err, h->errlen, h->name,
		            "header: negative dimension at offset %zu", h->pos);
	if (h->pos >= h->len || h->s[h->pos] < '0' || h->s[h->pos] > '9')
		return fail(h->err, h->errlen, h->name,
		            "header: expected a dimension at offset %zu", h->pos);
	int64_t x = 0;
	while (h->pos < h->len && h->s[h->pos] >= '0' && h->s[h->pos] <= '9') {
		int d = h->s[h->pos++] - '0';
		if (x > (INT64_MAX - d) / 10)
			return fail(h->err, h->errlen, h->name,
			            "header: dimension too large at offset %zu", h->pos);
		x = x * 10 + d;
	}
	if (h->pos < h->len && (h->s[h->pos] == 'L' || h->s[h->pos] == 'l'))
		h->pos++;   /* Python 2 long literal */
	*v = x;
	return true;
}

static bool parse_shape(Hdr *h, OnnxccNpy *a)
{
	if (!expect_ch(h, '(', "'(' starting the shape tuple"))
		return false;
	a->rank = 0;
	skip_ws(h);
	if (h->pos < h->len && h->s[h->pos] == ')') {
		h->pos++;
		return true;   /* () : a scalar */
	}
	for (;;) {
		if (a->rank == ONNXCC_NPY_MAX_RANK)
			return fail(h->err, h->errlen, h->name,
			            "header: more than %d dimensions", ONNXCC_NPY_MAX_RANK);
		if (!parse_dim(h, &a->shape[a->rank]))
			return false;
		a->rank++;
		skip_ws(h);
		if (h->pos < h->len && h->s[h->pos] == ')') {
			h->pos++;
			/* "(3)" is the int 3 in Python, not a tuple */
			if (a->rank == 1)
				return fail(h->err, h->errlen, h->name,
				            "header: shape '(N)' is not a tuple; a 1-tuple is written '(N,)'");
			return true;
		}
		if (!expect_ch(h, ',', "',' or ')' in the shape tuple"))
			return false;
		skip_ws(h);
		if (h->pos < h->len && h->s[h->pos] == ')') {
			h->pos++;
			return true;
		}
	}
}

/* Parses the header dict into a (dtype, rank, shape, numel, nbytes) and
 * sets *swap for big-endian data. */
static bool parse_header(Hdr *h, OnnxccNpy *a, bool *swap)
{
	bool seen_descr = false, seen_fortran = false, seen_shape = false;
	char descr[64];
	bool fortran = false;

	if (!expect_ch(h, '{', "'{' starting the header dict"))
		return false;
	for (;;) {
		skip_ws(h);
		if (h->pos < h->len && h->s[h->pos] == '}') {
			h->pos++;
			break;
		}
		char key[32];
		if (!parse_str(h, key, sizeof key) || !expect_ch(h, ':', "':' after a key"))
			return false;
		if (strcmp(key, "descr") == 0) {
			skip_ws(h);
			if (h->pos < h->len && h->s[h->pos] == '[')
				return fail(h->err, h->errlen, h->name,
				            "structured (record) dtypes are not supported");
			if (!parse_str(h, descr, sizeof descr))
				return false;
			seen_descr = true;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (!parse_bool(h, &fortran))
				return false;
			seen_fortran = true;
		} else if (strcmp(key, "shape") == 0) {
			if (!parse_shape(h, a))
				return false;
			seen_shape = true;
		} else {
			return fail(h->err, h->errlen, h->name,
			            "header: unexpected key '%s'", key);
		}
		skip_ws(h);
		if (h->pos < h->len && h->s[h->pos] == ',') {
			h->pos++;
			continue;
		}
		if (!expect_ch(h, '}', "',' or '}' in the header dict"))
			return false;
		break;
	}
	skip_ws(h);
	if (h->pos != h->len)
		return fail(h->err, h->errlen, h->name,
		            "header: unexpected text after the dict at offset %zu", h->pos);
	if (!seen_descr || !seen_fortran || !seen_shape)
		return fail(h->err, h->errlen, h->name, "header: missing key '%s'",
		            !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
	if (fortran)
		return fail(h->err, h->errlen, h->name,
		            "fortran_order True is not supported (save a C-contiguous array, "
		            "e.g. np.save(f, np.ascontiguousarray(x)))");
	a->dtype = onnxcc_npy_dtype(descr, swap);
	if (a->dtype == 0)
		return fail(h->err, h->errlen, h->name,
		            "unsupported dtype '%s' (supported: <f4 <f8 <f2 <i8 <i4 <i2 |i1 "
		            "|u1 <u2 <u4 <u8 |b1)", descr);
	uint64_t numel = 1;
	for (int32_t i = 0; i < a->rank; i++) {
		uint64_t d = (uint64_t)a->shape[i];
		if (d != 0 && numel > UINT64_MAX / d)
			return fail(h->err, h->errlen, h->name, "shape too large");
		numel *= d;
	}
	size_t es = onnxcc_dtype_size(a->dtype);
	if (numel > (uint64_t)SIZE_MAX / 2 / es)
		return fail(h->err, h->errlen, h->name, "shape too large");
	a->numel = numel;
	a->nbytes = numel * es;
	return true;
}

/* Checks magic and version in the first bytes; sets the header length and
 * the offset of the header text. */
static bool parse_preamble(const unsigned char *p, size_t len, const char *name,
                           size_t *hlen, size_t *hoff, int *major,
                           char *err, size_t errlen)
{
	if (len == 0)
		return fail(err, errlen, name, "empty file (not a .npy file)");
	size_t m = len < sizeof magic ? len : sizeof magic;
	if (memcmp(p, magic, m) != 0)
		return fail(err, errlen, name, "not a .npy file (bad magic)");
	if (len < 10)
		return fail(err, errlen, name, "truncated .npy preamble (%zu bytes)", len);
	*major = p[6];
	if ((p[6] != 1 && p[6] != 2 && p[6] != 3) || p[7] != 0)
		return fail(err, errlen, name, "unsupported .npy format version %d.%d",
		            p[6], p[7]);
	if (p[6] == 1) {
		*hlen = (size_t)p[8] | (size_t)p[9] << 8;
		*hoff = 10;
	} else {
		if (len < 12)
			return fail(err, errlen, name, "truncated .npy preamble");
		*hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 |
		        (size_t)p[11] << 24;
		*hoff = 12;
	}
	return true;
}

static void swap_bytes(void *data, uint64_t n, size_t es)
{
	unsigned char *p = data;
	for (uint64_t i = 0; i < n; i++, p += es)
		for (size_t j = 0; j < es / 2; j++) {
			unsigned char t = p[j];
			p[j] = p[es - 1 - j];
			p[es - 1 - j] = t;
		}
}

static void *alloc_data(uint64_t nbytes)
{
	size_t n = (size_t)((nbytes + 63) / 64 * 64);
	return aligned_alloc(64, n ? n : 64);
}

void onnxcc_npy_free(OnnxccNpy *a)
{
	if (!a)
		return;
	free(a->data);
	memset(a, 0, sizeof *a);
}

bool onnxcc_npy_parse(const void *buf, size_t len, const char *name,
                      OnnxccNpy *out, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	size_t hlen, hoff;
	int major;
	bool swap;
	memset(out, 0, sizeof *out);
	if (!parse_preamble(p, len, name, &hlen, &hoff, &major, err, errlen))
		return false;
	if (hlen > len - hoff)
		return fail(err, errlen, name, "truncated header (%zu of %zu bytes)",
		            len - hoff, hlen);
	OnnxccNpy a = {0};
	Hdr h = {(const char *)p + hoff, hlen, 0, name, err, errlen};
	if (!parse_header(&h, &a, &swap))
		return false;
	size_t avail = len - hoff - hlen;
	if (avail < a.nbytes)
		return fail(err, errlen, name,
		            "truncated data: %zu bytes, expected %llu for %s with %llu elements",
		            avail, (unsigned long long)a.nbytes, onnxcc_dtype_name(a.dtype),
		            (unsigned long long)a.numel);
	if (avail > a.nbytes)
		return fail(err, errlen, name, "%llu bytes of trailing data after the array",
		            (unsigned long long)(avail - a.nbytes));
	a.data = alloc_data(a.nbytes);
	if (!a.data)
		return fail(err, errlen, name, "out of memory for %llu bytes",
		            (unsigned long long)a.nbytes);
	memcpy(a.data, p + hoff + hlen, (size_t)a.nbytes);
	if (swap)
		swap_bytes(a.data, a.numel, onnxcc_dtype_size(a.dtype));
	*out = a;
	return true;
}

bool onnxcc_npy_read(const char *path, OnnxccNpy *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	/* Non-blocking, so that a FIFO cannot stall the open; only regular
	 * files are read (a FIFO, device or socket would block or never end). */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, "%s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return fail(err, errlen, path, "cannot stat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, path, "%s", S_ISDIR(st.st_mode) ? strerror(EISDIR)
		            : "not a regular file (a FIFO, device or socket is not read)");
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		close(fd);
		return fail(err, errlen, path, "%s", strerror(e));
	}
	/* The file size bounds every allocation below, so a corrupt header
	 * cannot make us allocate gigabytes. */
	uint64_t fsize = (uint64_t)st.st_size;
	unsigned char pre[12];
	size_t got = fread(pre, 1, sizeof pre, f);
	if (ferror(f)) {   /* e.g. a directory: EISDIR */
		int e = errno;
		fclose(f);
		return fail(err, errlen, path, "read error: %s", strerror(e));
	}
	size_t hlen, hoff;
	int major;
	char *hdr = NULL;
	OnnxccNpy a = {0};
	bool swap, ok = false;
	if (!parse_preamble(pre, got, path, &hlen, &hoff, &major, err, errlen))
		goto done;
	if ((uint64_t)hlen > fsize - hoff) {
		fail(err, errlen, path, "truncated header (%llu of %zu bytes)",
		     (unsigned long long)(fsize - hoff), hlen);
		goto done;
	}
	/* The header text starts at hoff; we read 12 bytes already. */
	hdr = malloc(hlen + 1);
	if (!hdr) {
		fail(err, errlen, path, "out of memory for the header");
		goto done;
	}
	size_t have = got - hoff;    /* header bytes already in pre[] */
	if (have > hlen)
		have = hlen;
	memcpy(hdr, pre + hoff, have);
	if (fread(hdr + have, 1, hlen - have, f) != hlen - have) {
		fail(err, errlen, path, "truncated header (expected %zu bytes)", hlen);
		goto done;
	}
	Hdr h = {hdr, hlen, 0, path, err, errlen};
	if (!parse_header(&h, &a, &swap))
		goto done;
	if (a.nbytes > fsize - hoff - hlen) {
		fail(err, errlen, path,
		     "truncated data: %llu bytes, expected %llu for %s with %llu elements",
		     (unsigned long long)(fsize - hoff - hlen), (unsigned long long)a.nbytes,
		     onnxcc_dtype_name(a.dtype), (unsigned long long)a.numel);
		goto done;
	}
	a.data = alloc_data(a.nbytes);
	if (!a.data) {
		fail(err, errlen, path, "out of memory for %llu bytes",
		     (unsigned long long)a.nbytes);
		goto done;
	}
	/* Bytes of pre[] past the header belong to the data (v1, hlen < 2). */
	size_t extra = got > hoff + hlen ? got - hoff - hlen : 0;
	if (extra > a.nbytes)
		extra = (size_t)a.nbytes;
	memcpy(a.data, pre + hoff + hlen, extra);
	size_t rd = fread((char *)a.data + extra, 1, (size_t)a.nbytes - extra, f);
	if (ferror(f)) {
		fail(err, errlen, path, "read error: %s", strerror(errno));
		goto done;
	}
	if (rd + extra < a.nbytes) {
		fail(err, errlen, path,
		     "truncated data: %zu bytes, expected %llu for %s with %llu elements",
		     rd + extra, (unsigned long long)a.nbytes, onnxcc_dtype_name(a.dtype),
		     (unsigned long long)a.numel);
		goto done;
	}
	if (got > hoff + hlen + a.nbytes || fgetc(f) != EOF) {
		fail(err, errlen, path, "trailing data after the array");
		goto done;
	}
	if (swap)
		swap_bytes(a.data, a.numel, onnxcc_dtype_size(a.dtype));
	*out = a;
	a.data = NULL;
	ok = true;
done:
	free(a.data);
	free(hdr);
	fclose(f);
	return ok;
}

/* ---- writing ------------------------------------------------------------------ */

/* Creates a fresh file "path.tmp-PID-N" (O_EXCL: never an existing file
 * or a symlink planted there; mode 0666 less the umask, as fopen gives);
 * its name goes to tmp.  Returns the descriptor, or -1 with errno set. */
static int create_temp(const char *path, char *tmp, size_t n)
{
	static unsigned counter;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

bool onnxcc_npy_write(const char *path, int32_t dtype, int32_t rank,
                      const int64_t *shape, const void *data,
                      char *err, size_t errlen)
{
	const char *descr = onnxcc_npy_descr(dtype);
	if (!descr)
		return fail(err, errlen, path, "dtype %s cannot be stored in a .npy file",
		            onnxcc_dtype_name(dtype));
	if (rank < 0 || rank > ONNXCC_NPY_MAX_RANK || (rank > 0 && !shape))
		return fail(err, errlen, path, "rank %d out of range (or no shape)", (int)rank);

	/* The dict, then padding so that the data starts on a 64-byte
	 * boundary; the header ends with '\n'. */
	size_t cap = 128 + (size_t)rank * 24, n = 0;
	char *hdr = malloc(cap + 64);
	if (!hdr)
		return fail(err, errlen, path, "out of memory");
	uint64_t numel = 1;
	n += (size_t)snprintf(hdr, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (",
	                      descr);
	for (int32_t i = 0; i < rank; i++) {
		if (shape[i] < 0) {
			free(hdr);
			return fail(err, errlen, path, "negative dimension %lld",
			             (long long)shape[i]);
		}
		if (__builtin_mul_overflow(numel, (uint64_t)shape[i], &numel) ||
		    numel > (uint64_t)SIZE_MAX / 8) {
			free(hdr);
			return fail(err, errlen, path, "shape too large");
		}
		n += (size_t)snprintf(hdr + n, cap - n, "%lld%s", (long long)shape[i],
		                      rank == 1 ? "," : i + 1 < rank ? ", " : "");
	}
	n += (size_t)snprintf(hdr + n, cap - n, "), }");
	/* rank <= 32 keeps the header far below 64 KiB: version 1.0 */
	size_t pre = 10;
	int major = 1;
	size_t total = (pre + n + 1 + 63) / 64 * 64;
	while (pre + n + 1 < total)
		hdr[n++] = ' ';
	hdr[n++] = '\n';
	size_t hlen = n;
	size_t nbytes = (size_t)(numel * onnxcc_dtype_size(dtype));
	if (nbytes && !data) {
		free(hdr);
		return fail(err, errlen, path, "no data for %llu elements",
		            (unsigned long long)numel);
	}

	unsigned char preamble[12];
	memcpy(preamble, magic, 6);
	preamble[6] = (unsigned char)major;
	preamble[7] = 0;
	for (size_t i = 0; i < pre - 8; i++)
		preamble[8 + i] = (unsigned char)(hlen >> (8 * i));

	/* A fresh temporary beside path, renamed into place once complete. */
	size_t tlen = strlen(path) + 48;
	char *tmp = malloc(tlen);
	if (!tmp) {
		free(hdr);
		return fail(err, errlen, path, "out of memory");
	}
	bool ok = false;
	int tfd = create_temp(path, tmp, tlen);
	if (tfd < 0) {
		fail(err, errlen, path, "cannot create %s: %s", tmp, strerror(errno));
		goto done;
	}
	FILE *f = fdopen(tfd, "wb");
	if (!f) {
		fail(err, errlen, path, "cannot create %s: %s", tmp, strerror(errno));
		close(tfd);
		remove(tmp);
		goto done;
	}
	bool wr = fwrite(preamble, 1, pre, f) == pre && fwrite(hdr, 1, hlen, f) == hlen &&
	          (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
	int e = errno;
	if (fclose(f) != 0 && wr) {
		wr = false;
		e = errno;
	}
	if (!wr) {
		fail(err, errlen, path, "write error: %s", strerror(e));
		remove(tmp);
		goto done;
	}
	if (rename(tmp, path) != 0) {
		fail(err, errlen, path, "cannot rename %s into place: %s", tmp, strerror(errno));
		remove(tmp);
		goto done;
	}
	ok = true;
done:
	free(tmp);
	free(hdr);
	return ok;
}

/* frontend/onnx_wire.c — checks on protobuf wire data before unpacking.
 *
 * protobuf-c unpacks nested messages by recursion with no depth limit, so
 * a few megabytes of nested TypeProtos (sequence of sequence of ...) would
 * overflow the stack.  Before unpacking, onnx_wire_depth_ok() walks the
 * wire format once, guided by the same protobuf-c descriptors: only
 * length-delimited fields whose descriptor says MESSAGE are entered, every
 * other field is skipped by its length, so the walk costs little even on
 * a 2 GB file (raw_data is skipped in one step).  Malformed data is not
 * judged here: the walk stops and leaves the verdict to protobuf-c.
 *
 * The same walk rejects string fields holding a NUL byte: protobuf-c hands
 * strings over NUL-terminated, so "w.bin\0../../etc/passwd" would silently
 * become "w.bin" (and two different names could compare equal).  The
 * message names the field by its path of message fields, e.g.
 * "graph.initializer.external_data.value".
 *
 * onnx_wire_strip() rewrites a model so that protobuf-c does not copy its
 * large raw_data fields: each becomes a reference to its bytes in the
 * model's mapping (see onnx_priv.h).
 */
#include "onnx_priv.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads a varint at *p (bounded by end); false if truncated or too long. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

typedef struct Walk {
	int max_depth;
	const char *path[ONNX_MAX_MESSAGE_DEPTH + 2];   /* field names, outermost first */
	char *why;
	size_t whylen;
} Walk;

/* Writes the dotted field path (depth entries, then last) into W->why. */
static void describe(Walk *W, int depth, const char *last, const char *problem)
{
	size_t k = 0;
	W->why[0] = 0;
	for (int i = 0; i <= depth && k + 1 < W->whylen; i++) {
		const char *nm = i < depth ? W->path[i] : last;
		int w = snprintf(W->why + k, W->whylen - k, "%s%s", i ? "." : "", nm);
		if (w < 0)
			break;
		k += (size_t)w;
		if (k >= W->whylen)
			k = W->whylen - 1;
	}
	snprintf(W->why + k, W->whylen - k, "%s", problem);
}

/* false only if a message nested deeper than max_depth or a string field
 * with a NUL byte was found (W->why says which). */
static bool walk(Walk *W, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                 const uint8_t *end, int depth)
{
	while (p < end) {
		uint64_t key, n;
		if (!read_varint(&p, end, &key))
			return true;
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &n))
				return true;
			break;
		case 1:
			if (end - p < 8)
				return true;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return true;
			p += 4;
			break;
		case 2: {
			if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
				return true;
			uint64_t num = key >> 3;
			const ProtobufCFieldDescriptor *f = num <= UINT32_MAX
				? protobuf_c_message_descriptor_get_field(desc, (unsigned)num) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (depth + 1 > W->max_depth) {
					snprintf(W->why, W->whylen, "messages nested deeper than %d levels",
					         W->max_depth);
					return false;
				}
				W->path[depth] = f->name;
				if (!walk(W, f->descriptor, p, p + n, depth + 1))
					return false;
			} else if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)n)) {
				describe(W, depth, f->name, ": a string contains a NUL byte");
				return false;
			}
			p += n;
			break;
		}
		default:
			return true;   /* groups or junk: protobuf-c rejects these */
		}
	}
	return true;
}

/* See onnx_priv.h. */
bool onnx_wire_check(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                     int max_depth, char *why, size_t whylen)
{
	assert(whylen > 0 && max_depth <= ONNX_MAX_MESSAGE_DEPTH);
	const uint8_t *p = buf;
	Walk W = {.max_depth = max_depth, .why = why, .whylen = whylen};
	why[0] = 0;
	return walk(&W, desc, p, p + len, 0);
}

/* ---- leaving large raw_data in the mapping -------------------------------- */

typedef struct Buf {
	uint8_t *p;
	size_t n, cap;
} Buf;

static void buf_put(Buf *b, const void *src, size_t n)
{
	if (b->cap - b->n < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->n < n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

static void buf_varint(Buf *b, uint64_t v)
{
	uint8_t t[10];
	int k = 0;
	do {
		t[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	buf_put(b, t, (size_t)k);
}

typedef struct Strip {
	size_t min;
	OnnxRawRef *refs;
	size_t nrefs, cap;
} Strip;

enum { RAW_DATA_FIELD = 9 };

/* True if some TensorProto.raw_data of at least S->min bytes (or some
 * onnxcc_raw_ref) lies in [p, end) of a message of type desc. */
static bool any_large(Strip *S, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                      const uint8_t *end)
{
	bool tensor = desc == &onnx__tensor_proto__descriptor;
	while (p < end) {
		uint64_t key, n;
		if (!read_varint(&p, end, &key))
			return false;
		uint64_t num = key >> 3;
		if (tensor && num == ONNX_RAW_REF_FIELD)
			return true;
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &n))
				return false;
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2: {
			if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
				return false;
			if (tensor && num == RAW_DATA_FIELD && n >= S->min)
				return true;
			const ProtobufCFieldDescriptor *f = num <= UINT32_MAX
				? protobuf_c_message_descriptor_get_field(desc, (unsigned)num) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && any_large(S, f->descriptor, p, p + n))
				return true;
			p += n;
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

/* Copies the message [p, end) of type desc into out, rewritten. */
static void strip(Strip *S, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                  const uint8_t *end, Buf *out)
{
	bool tensor = desc == &onnx__tensor_proto__descriptor;
	const uint8_t *field = p;
	while (p < end) {
		field = p;
		uint64_t key, n;
		if (!read_varint(&p, end, &key))
			goto rest;
		uint64_t num = key >> 3;
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &n))
				goto rest;
			if (tensor && num == ONNX_RAW_REF_FIELD)
				continue;   /* not ours: dropped */
			break;
		case 1:
			if (end - p < 8)
				goto rest;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				goto rest;
			p += 4;
			break;
		case 2: {
			if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
				goto rest;
			if (tensor && num == ONNX_RAW_REF_FIELD) {
				p += n;     /* wrong wire type, and not ours anyway */
				continue;
			}
			if (tensor && num == RAW_DATA_FIELD && n >= S->min) {
				if (S->nrefs == S->cap) {
					S->cap = S->cap ? 2 * S->cap : 64;
					S->refs = xrealloc(S->refs, sizeof *S->refs * S->cap);
				}
				S->refs[S->nrefs] = (OnnxRawRef){p, (size_t)n};
				buf_varint(out, (uint64_t)ONNX_RAW_REF_FIELD << 3);
				buf_varint(out, S->nrefs++);
				p += n;
				continue;
			}
			const ProtobufCFieldDescriptor *f = num <= UINT32_MAX
				? protobuf_c_message_descriptor_get_field(desc, (unsigned)num) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && any_large(S, f->descriptor, p, p + n)) {
				Buf sub = {0};
				strip(S, f->descriptor, p, p + n, &sub);
				buf_varint(out, key);
				buf_varint(out, sub.n);
				if (sub.n)
					buf_put(out, sub.p, sub.n);
				free(sub.p);
				p += n;
				continue;
			}
			p += n;
			break;
		}
		default:
			goto rest;
		}
		buf_put(out, field, (size_t)(p - field));
	}
	return;
rest:
	/* malformed: keep the bytes as they are for protobuf-c to reject */
	buf_put(out, field, (size_t)(end - field));
}

/* See onnx_priv.h. */
void *onnx_wire_strip(const void *buf, size_t len, size_t min, size_t *out_len, OnnxRawRef **refs,
                      size_t *nrefs)
{
	Strip S = {.min = min};
	const uint8_t *p = buf;
	*refs = NULL;
	*nrefs = 0;
	*out_len = 0;
	if (!any_large(&S, &onnx__model_proto__descriptor, p, p + len))
		return NULL;
	Buf out = {0};
	strip(&S, &onnx__model_proto__descriptor, p, p + len, &out);
	*refs = S.refs;
	*nrefs = S.nrefs;
	*out_len = out.n;
	if (!out.p)
		out.p = xmalloc(1);
	return out.p;
}

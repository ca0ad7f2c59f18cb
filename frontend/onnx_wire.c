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

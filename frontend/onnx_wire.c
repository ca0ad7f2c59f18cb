/* frontend/onnx_wire.c — a nesting-depth check on protobuf wire data.
 *
 * protobuf-c unpacks nested messages by recursion with no depth limit, so
 * a few megabytes of nested TypeProtos (sequence of sequence of ...) would
 * overflow the stack.  Before unpacking, onnx_wire_depth_ok() walks the
 * wire format once, guided by the same protobuf-c descriptors: only
 * length-delimited fields whose descriptor says MESSAGE are entered, every
 * other field is skipped by its length, so the walk costs little even on
 * a 2 GB file (raw_data is skipped in one step).  Malformed data is not
 * judged here: the walk stops and leaves the verdict to protobuf-c.
 */
#include "onnx_priv.h"

#include <stdint.h>

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

/* false only if a message nested deeper than max_depth was found. */
static bool walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                 int depth, int max_depth)
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
				if (depth + 1 > max_depth)
					return false;
				if (!walk(f->descriptor, p, p + n, depth + 1, max_depth))
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
bool onnx_wire_depth_ok(const ProtobufCMessageDescriptor *desc, const void *buf, size_t len,
                        int max_depth)
{
	const uint8_t *p = buf;
	return walk(desc, p, p + len, 0, max_depth);
}

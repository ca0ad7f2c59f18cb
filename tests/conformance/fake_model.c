/* tests/conformance/fake_model.c — a hand-written "compiled model" for
 * testing onnxcc-run without the compiler.
 *
 * It exports the descriptor `onnxcc_model` exactly as onnxcc's codegen does
 * (runtime/onnxcc_model.h) for this graph:
 *     inputs  x: f32[2,3], ids: i64[3]
 *     outputs "y/out:0": f32[2,3] = 2*x + ids (broadcast over rows)
 *             count: i64[]       = sum(ids)
 *             pos: bool[2,3]     = x > 0
 *             y_out_0: bf16[]    = count (its file name collides with the
 *                                  sanitized "y/out:0"; bf16 has no .npy)
 * The workspace (24 bytes) holds 2*x's first row, to exercise it.
 * Build variants: -DFAKE_STATUS=N makes run return N after checking its
 * arguments; -DFAKE_ABI=N exports a different ABI version; -DFAKE_BAD=1
 * claims 0xffffffff inputs, -DFAKE_BAD=2 an output nbytes smaller than its
 * shape (descriptors onnxcc-run must refuse before using them).
 */
#include <stdint.h>
#include <string.h>

#include "onnxcc_model.h"

#ifndef FAKE_STATUS
#define FAKE_STATUS ONNXCC_OK
#endif
#ifndef FAKE_BAD
#define FAKE_BAD 0
#endif
#ifndef FAKE_ABI
#define FAKE_ABI 2   /* a model compiled without --profile-nodes */
#endif

static const int64_t shape_23[2] = {2, 3};
static const int64_t shape_3[1] = {3};

static const OnnxccTensorInfo fake_inputs[2] = {
	{"x", 1, 2, shape_23, 24},
	{"ids", 7, 1, shape_3, 24},
};
#if FAKE_BAD == 2
#define Y_NBYTES 8
#else
#define Y_NBYTES 24
#endif
#if FAKE_BAD == 1
#define N_INPUTS 0xffffffffu
#else
#define N_INPUTS 2
#endif

static const OnnxccTensorInfo fake_outputs[4] = {
	{"y/out:0", 1, 2, shape_23, Y_NBYTES},
	{"count", 7, 0, NULL, 8},
	{"pos", 9, 2, shape_23, 6},
	{"y_out_0", 16, 0, NULL, 2},
};

static int fake_run(const void *const *in, void *const *out, void *ws)
{
	if (!in || !out || !in[0] || !in[1] || !out[0] || !out[1] || !out[2] || !out[3] || !ws)
		return ONNXCC_ERR_NULL;
	if ((uintptr_t)ws % 16)
		return ONNXCC_ERR_ALIGN;
	if (FAKE_STATUS != ONNXCC_OK)
		return FAKE_STATUS;
	const float *x = in[0];
	const int64_t *ids = in[1];
	float *y = out[0], *tmp = ws;
	int64_t *count = out[1];
	uint8_t *pos = out[2];
	for (int j = 0; j < 3; j++)
		tmp[j] = 2 * x[j];
	*count = 0;
	for (int j = 0; j < 3; j++)
		*count += ids[j];
	float c = (float)*count;   /* small integer: exact in bfloat16 */
	uint32_t bits;
	memcpy(&bits, &c, sizeof bits);
	uint16_t hi = (uint16_t)(bits >> 16);
	memcpy(out[3], &hi, sizeof hi);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++) {
			float t = i == 0 ? tmp[j] : 2 * x[i * 3 + j];
			y[i * 3 + j] = t + (float)ids[j];
			pos[i * 3 + j] = x[i * 3 + j] > 0;
		}
	return ONNXCC_OK;
}

/* The parallel entry of a model with nothing to split: serial. */
static int fake_run_parallel(const void *const *in, void *const *out, void *ws, const OnnxccParallel *par)
{
	(void)par;
	return fake_run(in, out, ws);
}

__attribute__((visibility("default")))
const OnnxccModel onnxcc_model = {
	FAKE_ABI, N_INPUTS, 4, 0, fake_inputs, fake_outputs, 24, "fake", fake_run, fake_run_parallel,
};

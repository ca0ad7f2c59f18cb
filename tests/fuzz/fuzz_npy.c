/* tests/fuzz/fuzz_npy.c — libFuzzer target: arbitrary bytes as a .npy file
 * through onnxcc_npy_parse.  A parse either succeeds with numel * element
 * size bytes of data or fails with a message; nothing else.  Built by
 * `make fuzz`; seeds: the .npy files under tests/models. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OnnxccNpy a;
	char err[256];
	if (onnxcc_npy_parse(data, size, "fuzz.npy", &a, err, sizeof err)) {
		if (!a.data || a.nbytes != a.numel * onnxcc_dtype_size(a.dtype))
			abort();
		onnxcc_npy_free(&a);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}

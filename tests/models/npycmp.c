/* tests/models/npycmp.c — onnxcc-npycmp: compares .npy outputs with their
 * references under the end-to-end tolerance (see e2e_cmp.h).
 *
 *     onnxcc-npycmp NAME REF.npy GOT.npy [NAME REF.npy GOT.npy ...]
 *
 * Prints one line per pair and a last line "maxrel R"; exits 0 when every
 * pair passes, 1 on a mismatch, 2 on a usage or file error.
 *
 *     onnxcc-npycmp --print FILE.npy
 *
 * prints the dtype, the shape and the first 64 elements (for the demo).
 */
#include <stdio.h>
#include <string.h>

#include "e2e_cmp.h"

static int print_npy(const char *path)
{
	OnnxccNpy a = {0};
	char err[512], sh[256];
	if (!onnxcc_npy_read(path, &a, err, sizeof err)) {
		fprintf(stderr, "onnxcc-npycmp: %s\n", err);
		return 2;
	}
	printf("%s %s", onnxcc_dtype_name(a.dtype), onnxcc_shape_str(a.rank, a.shape, sh, sizeof sh));
	for (uint64_t i = 0; i < a.numel && i < 64; i++)
		printf("%s%.6g", i % 8 ? " " : "\n  ", onnxcc_elem_f64(a.dtype, a.data, i));
	printf("%s\n", a.numel > 64 ? "\n  ..." : "");
	onnxcc_npy_free(&a);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--print"))
		return print_npy(argv[2]);
	if (argc < 4 || (argc - 1) % 3) {
		fprintf(stderr, "usage: onnxcc-npycmp NAME REF.npy GOT.npy [...]\n"
		                "       onnxcc-npycmp --print FILE.npy\n");
		return 2;
	}
	int status = 0;
	double maxrel = 0;
	for (int i = 1; i + 2 < argc; i += 3) {
		OnnxccNpy ref = {0}, got = {0};
		char err[512];
		if (!onnxcc_npy_read(argv[i + 1], &ref, err, sizeof err) ||
		    !onnxcc_npy_read(argv[i + 2], &got, err, sizeof err)) {
			fprintf(stderr, "onnxcc-npycmp: %s\n", err);
			onnxcc_npy_free(&ref);
			return 2;
		}
		E2eCmp c;
		if (!e2e_compare(&ref, got.dtype, got.rank, got.shape, got.data, &c))
			status = 1;
		e2e_print(argv[i], &c);
		if (c.rel > maxrel)
			maxrel = c.rel;
		onnxcc_npy_free(&ref);
		onnxcc_npy_free(&got);
	}
	printf("maxrel %.3g\n", maxrel);
	return status;
}

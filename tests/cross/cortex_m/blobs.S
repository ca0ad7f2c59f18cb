/* tests/cross/cortex_m/blobs.S — the model's input and PyTorch's expected
 * output, the .npy files themselves, linked into the Cortex-M image as
 * read-only data (harness.c checks and reads their headers).  INPUT_NPY and
 * EXPECTED_NPY are the files' paths as string literals (-D from cortex_m.sh). */
	.section .rodata.npy, "a"
	.balign 16
	.global input_npy, input_npy_end
input_npy:
	.incbin INPUT_NPY
input_npy_end:
	.balign 16
	.global expected_npy, expected_npy_end
expected_npy:
	.incbin EXPECTED_NPY
expected_npy_end:

/* examples/dlopen/main.c — runs any model library built by onnxcc
 * (`onnxcc model.onnx -o model.so`) without its header: dlopen, then the
 * `onnxcc_model` descriptor (<onnxcc/onnxcc_model.h>) gives the inputs,
 * outputs and workspace size; .npy I/O comes from the runtime library
 * (<onnxcc/npy.h>, -lonnxcc_runtime).
 *
 *     dlopen_model MODEL.so IN.npy... [--expect REF.npy...]
 *
 * Inputs are given in the model's input order and checked against the
 * descriptor (dtype, shape); each output is printed (dtype, shape, first
 * values) and, with --expect, compared with its reference (max |got - ref|
 * <= 1e-4 max |ref|; exit 1 on a mismatch). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxcc/npy.h>
#include <onnxcc/onnxcc_model.h>

static int same_shape(const OnnxccTensorInfo *t, const OnnxccNpy *a)
{
	if (t->rank != a->rank)
		return 0;
	for (int32_t i = 0; i < t->rank; i++)
		if (t->shape[i] != a->shape[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_model MODEL.so IN.npy... [--expect REF.npy...]\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen_model: %s\n", dlerror());
		return 2;
	}
	const OnnxccModel *m = dlsym(lib, "onnxcc_model");
	/* a version-3 descriptor (--profile-nodes) extends version 2 */
	if (!m || m->abi_version < ONNXCC_ABI_VERSION_MIN || m->abi_version > ONNXCC_ABI_VERSION) {
		fprintf(stderr, "dlopen_model: %s: no onnxcc_model descriptor of ABI %u to %u\n", argv[1],
		        ONNXCC_ABI_VERSION_MIN, ONNXCC_ABI_VERSION);
		return 2;
	}
	int nin = 0, nexp = 0, expecting = 0;
	const char *in_path[64], *exp_path[64];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--expect"))
			expecting = 1;
		else if (expecting && nexp < 64)
			exp_path[nexp++] = argv[i];
		else if (!expecting && nin < 64)
			in_path[nin++] = argv[i];
	}
	if ((uint32_t)nin != m->ninputs || (nexp && (uint32_t)nexp != m->noutputs)) {
		fprintf(stderr, "dlopen_model: model '%s' has %u inputs and %u outputs\n", m->name,
		        m->ninputs, m->noutputs);
		return 2;
	}
	int rc = 0;
	char err[512], sh[256];
	OnnxccNpy in[64] = {{0}};
	const void *inputs[64];
	void *outputs[64] = {0};
	for (uint32_t i = 0; i < m->ninputs; i++) {
		const OnnxccTensorInfo *t = &m->inputs[i];
		if (!onnxcc_npy_read(in_path[i], &in[i], err, sizeof err)) {
			fprintf(stderr, "dlopen_model: %s\n", err);
			return 2;
		}
		if (in[i].dtype != t->dtype || !same_shape(t, &in[i])) {
			fprintf(stderr, "dlopen_model: %s: input '%s' wants %s %s\n", in_path[i], t->name,
			        onnxcc_dtype_name(t->dtype), onnxcc_shape_str(t->rank, t->shape, sh, sizeof sh));
			return 2;
		}
		inputs[i] = in[i].data;
	}
	for (uint32_t i = 0; i < m->noutputs; i++)
		outputs[i] = aligned_alloc(64, (m->outputs[i].nbytes + 63) / 64 * 64 + 64);
	void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64 + 64);
	int status = m->run(inputs, outputs, ws);
	if (status != ONNXCC_OK) {
		fprintf(stderr, "dlopen_model: %s_run failed with status %d\n", m->name, status);
		return 1;
	}
	printf("model %s: %u inputs, %u outputs, workspace %llu bytes\n", m->name, m->ninputs,
	       m->noutputs, (unsigned long long)m->workspace_size);
	for (uint32_t i = 0; i < m->noutputs; i++) {
		const OnnxccTensorInfo *t = &m->outputs[i];
		uint64_t n = t->nbytes / onnxcc_dtype_size(t->dtype);
		printf("%s %s %s:", t->name, onnxcc_dtype_name(t->dtype),
		       onnxcc_shape_str(t->rank, t->shape, sh, sizeof sh));
		for (uint64_t k = 0; k < n && k < 8; k++)
			printf(" %.5g", onnxcc_elem_f64(t->dtype, outputs[i], k));
		printf("%s\n", n > 8 ? " ..." : "");
		if (nexp) {
			OnnxccNpy ref = {0};
			if (!onnxcc_npy_read(exp_path[i], &ref, err, sizeof err) || ref.numel != n) {
				fprintf(stderr, "dlopen_model: %s\n", ref.numel != n ? "reference size differs" : err);
				return 2;
			}
			double maxref = 0, maxerr = 0;
			for (uint64_t k = 0; k < n; k++) {
				double r = onnxcc_elem_f64(ref.dtype, ref.data, k);
				maxref = fmax(maxref, fabs(r));
				maxerr = fmax(maxerr, fabs(onnxcc_elem_f64(t->dtype, outputs[i], k) - r));
			}
			int match = maxerr <= 1e-4 * maxref;
			printf("%s: %s max abs error %.3g (limit %.3g)\n", t->name, match ? "match" : "MISMATCH",
			       maxerr, 1e-4 * maxref);
			rc |= !match;
			onnxcc_npy_free(&ref);
		}
	}
	for (uint32_t i = 0; i < m->ninputs; i++)
		onnxcc_npy_free(&in[i]);
	for (uint32_t i = 0; i < m->noutputs; i++)
		free(outputs[i]);
	free(ws);
	dlclose(lib);
	return rc;
}

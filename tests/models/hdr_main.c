/* tests/models/hdr_main.c — see hdr_main.h. */
#include "hdr_main.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_cmp.h"

static void *alloc64(uint64_t n)
{
	size_t sz = (size_t)((n + 64) / 64 * 64);   /* never 0 */
	return aligned_alloc(64, sz);
}

static int find_tensor(const OnnxccTensorInfo *t, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return (int)i;
	return -1;
}

/* --stream: segment k reads MODEL_DIR/stream/seg<k>/inputs/, except the
 * state input, which is segment 0's file at first and then the state output
 * of the previous call; with inplace the state input and output are one
 * buffer.  Every output is compared with seg<k>/outputs/. */
static int stream_main(const char *dir, int nseg, const char *sin, const char *sout,
                       bool inplace, const OnnxccModel *m, uint64_t workspace_size,
                       E2eCall call)
{
	int si = find_tensor(m->inputs, m->ninputs, sin);
	int so = find_tensor(m->outputs, m->noutputs, sout);
	if (si < 0 || so < 0 || m->inputs[si].nbytes != m->outputs[so].nbytes) {
		printf("stream: no input '%s' / output '%s' of the same size\n", sin, sout);
		return 2;
	}
	uint32_t ni = m->ninputs, no = m->noutputs;
	const void **inp = calloc(ni + 1, sizeof *inp);
	void **outp = calloc(no + 1, sizeof *outp);
	OnnxccNpy *in = calloc(ni + 1, sizeof *in);
	void *ws = alloc64(workspace_size);
	void *state = alloc64(m->inputs[si].nbytes);
	char path[4096], err[512];
	int status = 0;
	double maxrel = 0;
	if (!inp || !outp || !in || !ws || !state) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	for (uint32_t j = 0; j < no; j++)
		outp[j] = (int)j == so && inplace ? state : alloc64(m->outputs[j].nbytes);
	for (int k = 0; k < nseg && !status; k++) {
		for (uint32_t i = 0; i < ni && !status; i++) {
			if ((int)i == si && k > 0) {
				inp[i] = state;
				continue;
			}
			snprintf(path, sizeof path, "%s/stream/seg%d/inputs/%s.npy", dir, k, m->inputs[i].name);
			onnxcc_npy_free(&in[i]);
			if (!onnxcc_npy_read(path, &in[i], err, sizeof err) ||
			    in[i].nbytes != m->inputs[i].nbytes) {
				printf("%s\n", err[0] ? err : path);
				status = 2;
				break;
			}
			if ((int)i == si) {
				memcpy(state, in[i].data, in[i].nbytes);
				inp[i] = state;
			} else {
				inp[i] = in[i].data;
			}
		}
		if (status)
			break;
		int rc = call(inp, outp, ws);
		if (rc != ONNXCC_OK) {
			printf("segment %d: run returned %d\n", k, rc);
			status = 1;
			break;
		}
		for (uint32_t j = 0; j < no; j++) {
			const OnnxccTensorInfo *t = &m->outputs[j];
			OnnxccNpy ref = {0};
			snprintf(path, sizeof path, "%s/stream/seg%d/outputs/%s.npy", dir, k, t->name);
			if (!onnxcc_npy_read(path, &ref, err, sizeof err)) {
				printf("%s\n", err);
				status = 2;
				break;
			}
			E2eCmp c;
			char label[160];
			snprintf(label, sizeof label, "seg%d %s", k, t->name);
			if (!e2e_compare(&ref, t->dtype, t->rank, t->shape, outp[j], &c))
				status = 1;
			e2e_print(label, &c);
			if (c.rel > maxrel)
				maxrel = c.rel;
			onnxcc_npy_free(&ref);
		}
		if (!inplace)
			memcpy(state, outp[so], m->outputs[so].nbytes);
	}
	printf("stream %s: %d segments, maxrel %.3g\n", inplace ? "in place" : "copied", nseg, maxrel);
	printf("maxrel %.3g\n", maxrel);
	for (uint32_t i = 0; i < ni; i++)
		onnxcc_npy_free(&in[i]);
	for (uint32_t j = 0; j < no; j++)
		if (outp[j] != state)
			free(outp[j]);
	free(state);
	free(ws);
	free(in);
	free(inp);
	free(outp);
	return status;
}

int e2e_header_main(int argc, char **argv, const OnnxccModel *m,
                    uint64_t workspace_size, E2eCall call)
{
	if (argc == 7 && !strcmp(argv[1], "--stream"))
		return stream_main(argv[2], atoi(argv[3]), argv[4], argv[5], atoi(argv[6]) != 0,
		                   m, workspace_size, call);
	if (argc != 2) {
		fprintf(stderr, "usage: %s MODEL_DIR\n"
		        "       %s --stream MODEL_DIR SEGMENTS STATE_IN STATE_OUT INPLACE(0|1)\n",
		        argv[0], argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	int status = 0;
	char path[4096], err[512];
	if (m->abi_version < ONNXCC_ABI_VERSION_MIN || m->abi_version > ONNXCC_ABI_VERSION) {
		printf("descriptor ABI %u, expected %u to %u\n", m->abi_version, ONNXCC_ABI_VERSION_MIN,
		       ONNXCC_ABI_VERSION);
		return 1;
	}
	if (m->workspace_size != workspace_size) {
		printf("descriptor workspace %llu != header macro %llu\n",
		       (unsigned long long)m->workspace_size, (unsigned long long)workspace_size);
		return 1;
	}
	uint32_t ni = m->ninputs, no = m->noutputs;
	OnnxccNpy *in = calloc(ni + 1, sizeof *in);
	const void **inp = calloc(ni + 1, sizeof *inp);
	void **outp = calloc(no + 1, sizeof *outp);
	void *ws = alloc64(workspace_size + 64);
	if (!in || !inp || !outp || !ws) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	for (uint32_t i = 0; i < ni && !status; i++) {
		const OnnxccTensorInfo *t = &m->inputs[i];
		snprintf(path, sizeof path, "%s/inputs/%s.npy", dir, t->name);
		if (!onnxcc_npy_read(path, &in[i], err, sizeof err)) {
			printf("%s\n", err);
			status = 2;
		} else if (in[i].dtype != t->dtype || in[i].nbytes != t->nbytes) {
			printf("input '%s': file has %s, %llu bytes; model wants %s, %llu bytes\n",
			       t->name, onnxcc_dtype_name(in[i].dtype),
			       (unsigned long long)in[i].nbytes, onnxcc_dtype_name(t->dtype),
			       (unsigned long long)t->nbytes);
			status = 1;
		}
		inp[i] = in[i].data;
	}
	for (uint32_t i = 0; i < no && !status; i++) {
		outp[i] = alloc64(m->outputs[i].nbytes);
		if (!outp[i]) {
			fprintf(stderr, "out of memory\n");
			return 2;
		}
		/* 0xff bytes: NaN for floats, so an unwritten output cannot pass. */
		memset(outp[i], 0xff, m->outputs[i].nbytes);
	}
	if (!status) {
		/* Status codes documented in the header. */
		if (ni > 0) {
			const void *saved = inp[0];
			inp[0] = NULL;
			int rc = call(inp, outp, ws);
			inp[0] = saved;
			if (rc != ONNXCC_ERR_NULL) {
				printf("run with a NULL input returned %d, expected %d\n", rc, ONNXCC_ERR_NULL);
				status = 1;
			}
		}
		if (workspace_size > 0) {
			int rc = call(inp, outp, (char *)ws + 8);
			if (rc != ONNXCC_ERR_ALIGN) {
				printf("run with a misaligned workspace returned %d, expected %d\n",
				       rc, ONNXCC_ERR_ALIGN);
				status = 1;
			}
		}
		for (uint32_t i = 0; i < no; i++)
			memset(outp[i], 0xff, m->outputs[i].nbytes);
		int rc = call(inp, outp, ws);
		if (rc != ONNXCC_OK) {
			printf("run returned %d\n", rc);
			status = 1;
		}
	}
	double maxrel = 0;
	for (uint32_t i = 0; i < no && !status; i++) {
		const OnnxccTensorInfo *t = &m->outputs[i];
		OnnxccNpy ref = {0};
		snprintf(path, sizeof path, "%s/outputs/%s.npy", dir, t->name);
		if (!onnxcc_npy_read(path, &ref, err, sizeof err)) {
			printf("%s\n", err);
			status = 2;
			break;
		}
		E2eCmp c;
		if (!e2e_compare(&ref, t->dtype, t->rank, t->shape, outp[i], &c))
			status = 1;
		e2e_print(t->name, &c);
		if (c.rel > maxrel)
			maxrel = c.rel;
		onnxcc_npy_free(&ref);
	}
	printf("workspace %llu\n", (unsigned long long)workspace_size);
	printf("maxrel %.3g\n", maxrel);
	for (uint32_t i = 0; i < ni; i++)
		onnxcc_npy_free(&in[i]);
	for (uint32_t i = 0; i < no; i++)
		free(outp[i]);
	free(in);
	free(inp);
	free(outp);
	free(ws);
	return status;
}

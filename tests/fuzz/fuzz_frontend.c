/* tests/fuzz/fuzz_frontend.c — libFuzzer target: arbitrary bytes as an ONNX
 * model through the protobuf decode, the frontend, the verifier and the
 * pass pipeline (shape inference, folding, aliases, DCE; symbolic dims
 * bound to 2).  Every outcome must be a graph or a diagnostic: a crash,
 * sanitizer report, leak or hang is a bug.  Built by `make fuzz`
 * (clang, -DONNXCC_FUZZ=ON); seeds: the ONNX node tests and tests/bad. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diag d;
	diag_init(&d, "fuzz.onnx", false);
	Graph *g = onnx_load_from_memory(data, size, "fuzz.onnx", &d);
	if (g && !ir_verify(g, &d))
		abort();   /* the frontend built a graph breaking the IR's invariants */
	if (g) {
		/* bind every symbolic input dim to 2, as --dim would */
		const char *binds[IR_MAX_RANK * 4];
		int nb = 0;
		for (int i = 0; i < g->ninputs && nb < IR_MAX_RANK * 4; i++) {
			Value *v = gval(g, g->inputs[i]);
			for (int k = 0; k < v->shape.rank && nb < IR_MAX_RANK * 4; k++)
				if (v->shape.sym[k])
					binds[nb++] = arena_printf(&g->arena, "%s=2", v->shape.sym[k]);
		}
		PipelineOptions po = {.dims = binds, .ndims = nb, .verify_each = true};
		if (pass_pipeline(g, &po, &d)) {
			MemPlan plan = {0};
			if (pass_memplan(g, &plan, &d))
				memplan_free(&plan);
		}
		/* a pass broke an invariant: a bug, not a bad model (the message
		 * is the pipeline's own, not a name from the model echoed back) */
		static const char broke[] = "fuzz.onnx: verify failed after pass '";
		if (!strncmp(diag_last(&d), broke, sizeof broke - 1))
			abort();
	}
	graph_free(g);
	diag_free(&d);
	return 0;
}

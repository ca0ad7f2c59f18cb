/* passes/freeze_inputs.c — freeze-inputs: graph inputs given a value at
 * compile time (--const-input) become constants.
 *
 * requires: the graph as loaded (before bind-dims and inference)
 * keeps:    value ids, node order
 * breaks:   the graph input list (frozen inputs leave it)
 */
#include "pipeline.h"

#include <string.h>

bool pass_freeze_inputs(Graph *g, const ConstInput *ci, int n, Diag *d)
{
	for (int k = 0; k < n; k++) {
		const ConstInput *c = &ci[k];
		int at = -1;
		for (int i = 0; i < g->ninputs; i++)
			if (!strcmp(gval(g, g->inputs[i])->name, c->name))
				at = i;
		if (at < 0) {
			diag_error(d, "--const-input %s: the model has no input of that name", c->name);
			return false;
		}
		Value *v = gval(g, g->inputs[at]);
		if ((int)v->dtype != c->dtype) {
			diag_error(d, "--const-input %s: value is %s, the input is %s", c->name,
			           dtype_name((DType)c->dtype), dtype_name(v->dtype));
			return false;
		}
		if (c->rank > IR_MAX_RANK || (v->shape.rank >= 0 && v->shape.rank != c->rank)) {
			diag_error(d, "--const-input %s: value has rank %d, the input has rank %d", c->name,
			           c->rank, v->shape.rank);
			return false;
		}
		for (int i = 0; i < c->rank && v->shape.rank >= 0; i++)
			if (v->shape.dims[i] >= 0 && v->shape.dims[i] != c->shape[i]) {
				diag_error(d, "--const-input %s: dim %d is %lld, the input's is %lld", c->name, i,
				           (long long)c->shape[i], (long long)v->shape.dims[i]);
				return false;
			}
		Shape s = shape_make(c->rank, c->shape);
		v->shape = s;
		v->kind = VK_CONST;
		v->nbytes = (size_t)shape_numel(&s) * dtype_size(v->dtype);
		v->data = arena_dup(&g->arena, c->data, v->nbytes);
		memmove(&g->inputs[at], &g->inputs[at + 1], sizeof(ValueId) * (size_t)(g->ninputs - at - 1));
		g->ninputs--;
	}
	return true;
}

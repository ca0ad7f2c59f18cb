/* passes/aliases.c — removes nodes whose output is just another name for
 * their input.
 *
 * requires: shapes inferred (dtypes and shapes compared), constants folded
 * keeps:    topological order, value ids, graph output names
 * breaks:   nothing; leaves dead nodes for pass_dce / graph_compact
 *
 * Aliases: Identity; Cast and CastLike to the input's own dtype; Dropout in
 * inference (training_mode absent or a constant false, or a constant true
 * with a constant ratio of 0) when its mask output
 * is absent or no graph output depends on it — with a needed mask the node
 * stays and codegen lowers it; Reshape, Flatten, Squeeze and Unsqueeze whose output shape equals the
 * input's.  (Reshape & co. of constants are already constants: pass_fold.)
 *
 * Rule for graph outputs (the generated interface names buffers after
 * them, so an output value must keep its name and a producer):
 *   - output y not a graph output: every use of y becomes a use of x;
 *   - y a graph output and x produced by a live node and not itself a graph
 *     output: that node now writes y directly (x's uses become uses of y,
 *     x is left without producer and unused);
 *   - y a graph output and x a graph input, a constant or another graph
 *     output: the node stays (codegen copies the data).
 */
#include "pipeline.h"

#include <stdbool.h>
#include <stdlib.h>

/* The value node n merely renames, or IR_NONE.  needed[v]: some graph
 * output depends on v (a Dropout mask feeding only dead code is unused). */
static ValueId alias_source(Graph *g, Node *n, const char *needed)
{
	if (n->nin < 1 || n->nout < 1 || n->in[0] == IR_NONE || n->out[0] == IR_NONE)
		return IR_NONE;
	Value *x = gval(g, n->in[0]), *y = gval(g, n->out[0]);
	if (x->dtype == DT_UNDEF || x->dtype != y->dtype)
		return IR_NONE;
	switch (n->op) {
	case OP_Identity:
		return n->in[0];
	case OP_Cast:
		return attr_int(n, "to", DT_UNDEF) == (int64_t)x->dtype ? n->in[0] : IR_NONE;
	case OP_CastLike:
		return n->nin == 2 && n->in[1] != IR_NONE && gval(g, n->in[1])->dtype == x->dtype
		       ? n->in[0] : IR_NONE;
	case OP_Dropout: {
		if (n->nout >= 2 && n->out[1] != IR_NONE && needed[n->out[1]])
			return IR_NONE;
		if (n->nin >= 3 && n->in[2] != IR_NONE) {
			Value *tm = gval(g, n->in[2]);
			if (tm->kind != VK_CONST || shape_numel(&tm->shape) != 1)
				return IR_NONE;
			if (value_get_int(tm, 0) != 0) {
				/* training mode with a constant ratio of 0 drops nothing
				 * and scales by 1/(1-0) (torchvision exports attention
				 * dropout this way) */
				Value *r = n->in[1] != IR_NONE ? gval(g, n->in[1]) : NULL;
				if (!r || r->kind != VK_CONST || shape_numel(&r->shape) != 1 || value_get_f64(r, 0) != 0)
					return IR_NONE;
			}
		}
		return n->in[0];
	}
	case OP_Reshape: case OP_Flatten: case OP_Squeeze: case OP_Unsqueeze:
		return shape_is_static(&x->shape) && shape_eq(&x->shape, &y->shape) ? n->in[0] : IR_NONE;
	default:
		return IR_NONE;
	}
}

static void kill(Graph *g, Node *n)
{
	n->dead = true;
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] != IR_NONE && gval(g, n->out[k])->producer == (NodeId)(n - g->nodes))
			gval(g, n->out[k])->producer = IR_NONE;
}

/* needed[v] for every value: a backward sweep from the graph outputs. */
static char *needed_values(Graph *g)
{
	char *needed = xcalloc((size_t)(g->nvalues ? g->nvalues : 1), 1);
	for (int k = 0; k < g->noutputs; k++)
		needed[g->outputs[k]] = 1;
	for (NodeId i = g->nnodes - 1; i >= 0; i--) {
		Node *n = &g->nodes[i];
		bool live = false;
		for (int k = 0; k < n->nout && !n->dead; k++)
			live |= n->out[k] != IR_NONE && needed[n->out[k]];
		for (int k = 0; live && k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				needed[n->in[k]] = 1;
	}
	return needed;
}

bool pass_remove_aliases(Graph *g, Diag *d)
{
	(void)d;
	/* Rewiring keeps every output's dependencies, so one sweep up front
	 * stays valid for the mask test below. */
	char *needed = needed_values(g);
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		ValueId xs = alias_source(g, n, needed);
		if (xs == IR_NONE)
			continue;
		ValueId ys = n->out[0];
		Value *x = gval(g, xs), *y = gval(g, ys);
		if (!y->is_output) {
			kill(g, n);
			graph_replace_uses(g, ys, xs);
			continue;
		}
		if (x->is_output || x->kind != VK_INTERMEDIATE || x->producer == IR_NONE ||
		    g->nodes[x->producer].dead)
			continue; /* codegen copies */
		Node *p = &g->nodes[x->producer];
		kill(g, n);
		graph_replace_uses(g, xs, ys);
		for (int k = 0; k < p->nout; k++)
			if (p->out[k] == xs)
				p->out[k] = ys;
		y->producer = x->producer;
		x->producer = IR_NONE;
	}
	free(needed);
	return true;
}

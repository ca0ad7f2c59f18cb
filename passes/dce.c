/* passes/dce.c — dead-code removal.
 *
 * requires: nothing beyond a valid graph
 * keeps:    topological order, value ids
 * breaks:   node ids (graph_compact renumbers the live nodes)
 *
 * A node is live when one of its outputs is a graph output or an input of a
 * live node; liveness is propagated backwards in one reverse sweep (the
 * order is topological).  Dead nodes are dropped, the producer field of
 * their outputs is cleared, and graph_compact() renumbers the rest.
 * Unused constants stay in the value table, unreferenced.
 */
#include "pipeline.h"

#include <stdlib.h>

bool pass_dce(Graph *g, Diag *d)
{
	(void)d;
	char *needed = xcalloc((size_t)(g->nvalues ? g->nvalues : 1), 1);
	for (int k = 0; k < g->noutputs; k++)
		needed[g->outputs[k]] = 1;
	for (NodeId i = g->nnodes - 1; i >= 0; i--) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		bool live = false;
		for (int k = 0; k < n->nout; k++)
			live |= n->out[k] != IR_NONE && needed[n->out[k]];
		if (!live) {
			n->dead = true;
			continue;
		}
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				needed[n->in[k]] = 1;
	}
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (!n->dead)
			continue;
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] != IR_NONE && gval(g, n->out[k])->producer == i)
				gval(g, n->out[k])->producer = IR_NONE;
	}
	free(needed);
	graph_compact(g);
	return true;
}

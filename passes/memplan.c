/* passes/memplan.c — static workspace planning.
 *
 * Contract in memplan.h.  Algorithm: one sweep over the live nodes gives
 * each planned value an interval [first, last] of node positions; values
 * are sorted by aligned size (descending; ties by first use, then id, so
 * the plan is deterministic) and placed one by one: the already-placed
 * values whose intervals intersect are sorted by offset and the first gap
 * large enough, scanning from 0, receives the value.  O(n^2 log n) in the
 * number of planned values, which is a few thousand for the target models.
 */
#include "memplan.h"

#include <stdlib.h>
#include <string.h>

typedef struct Item {
	ValueId v;
	int first, last;
	uint64_t size;     /* aligned */
	int64_t off;
} Item;

static int by_size(const void *a, const void *b)
{
	const Item *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->v < y->v ? -1 : x->v > y->v;
}

static int by_off(const void *a, const void *b)
{
	const Item *x = *(const Item *const *)a, *y = *(const Item *const *)b;
	return x->off < y->off ? -1 : x->off > y->off;
}

bool memplan_view_node(const Graph *g, const Node *n)
{
	if (n->dead || n->nin < 1 || n->nout != 1 || n->in[0] == IR_NONE || n->out[0] == IR_NONE)
		return false;
	switch (n->op) {
	case OP_Reshape: case OP_Flatten: case OP_Squeeze: case OP_Unsqueeze:
		break;
	default:
		return false;
	}
	const Value *x = gval((Graph *)g, n->in[0]), *y = gval((Graph *)g, n->out[0]);
	return y->kind == VK_INTERMEDIATE && !y->is_output && x->dtype == y->dtype &&
	       shape_numel(&x->shape) == shape_numel(&y->shape);
}

/* Storage r (a planned value) was written by an ElemChain. */
static bool chain_made(Graph *g, ValueId r)
{
	NodeId p = gval(g, r)->producer;
	return p != IR_NONE && g->nodes[p].op == OP_ElemChain;
}

void memplan_free(MemPlan *plan)
{
	free(plan->offset);
	free(plan->view_of);
	memset(plan, 0, sizeof *plan);
}

bool pass_memplan(Graph *g, MemPlan *plan, Diag *d)
{
	memset(plan, 0, sizeof *plan);
	if (!g->shapes_known) {
		diag_error(d, "memory planning requires inferred shapes");
		return false;
	}
	int nv = g->nvalues;
	plan->offset = xmalloc(sizeof(int64_t) * (size_t)(nv ? nv : 1));
	plan->view_of = xmalloc(sizeof(ValueId) * (size_t)(nv ? nv : 1));
	ValueId *root = xmalloc(sizeof(ValueId) * (size_t)(nv ? nv : 1)); /* view -> storage owner */
	int *idx = xmalloc(sizeof(int) * (size_t)(nv ? nv : 1)); /* value -> item or -1 */
	Item *items = xcalloc((size_t)(nv ? nv : 1), sizeof(Item));
	int ni = 0;
	for (int v = 0; v < nv; v++) {
		plan->offset[v] = -1;
		plan->view_of[v] = IR_NONE;
		root[v] = v;
		idx[v] = -1;
	}
	int pos = 0;
	bool ok = true;
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			if (v != IR_NONE && idx[root[v]] >= 0)
				items[idx[root[v]]].last = pos;
		}
		if (memplan_view_node(g, n)) {
			plan->view_of[n->out[0]] = n->in[0];
			root[n->out[0]] = root[n->in[0]];
			plan->nviews++;
			pos++;
			continue;
		}
		for (int k = 0; k < n->nout; k++) {
			ValueId v = n->out[k];
			if (v == IR_NONE || idx[v] >= 0)
				continue;
			Value *val = gval(g, v);
			if (val->kind != VK_INTERMEDIATE || val->is_output)
				continue;
			int64_t numel = shape_numel(&val->shape);
			size_t es = dtype_size(val->dtype);
			uint64_t bytes;
			if (numel < 0 || es == 0 ||
			    __builtin_mul_overflow((uint64_t)numel, (uint64_t)es, &bytes) ||
			    bytes > (UINT64_MAX >> 2)) {
				char b[128];
				diag_node(d, node_label(g, n), n->op_type, -1,
				          "output %d ('%s', %s%s) has no plannable byte size", k, val->name,
				          dtype_name(val->dtype), shape_str(&val->shape, b, sizeof b));
				ok = false;
				continue;
			}
			Item *it = &items[ni];
			it->v = v;
			it->first = it->last = pos;
			it->size = (bytes + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN;
			idx[v] = ni++;
		}
		pos++;
	}
	if (!ok) {
		free(root);
		free(idx);
		free(items);
		memplan_free(plan);
		return false;
	}
	/* In place: an ElemChain's output takes the storage of a same-shape
	 * input whose life ends at the chain (each element is read before it
	 * is written, at the same index); its life extends the input's.  Only
	 * storage an ElemChain made: a recurrence (an LSTM's cell state, an ODE
	 * scheme's x) then keeps one range where the unfused graph's last op
	 * could reuse the old value's; taking any dying input instead extends
	 * ranges born earlier (a Split's outputs) across their neighbours and
	 * made first fit's plans larger (lstm_depth_decomposed). */
	ValueId *inplace = xmalloc(sizeof(ValueId) * (size_t)(nv ? nv : 1)); /* output -> storage owner */
	for (int v = 0; v < nv; v++)
		inplace[v] = IR_NONE;
	pos = 0;
	for (NodeId i = 0; i < g->nnodes && ok; i++) {
		const Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		ValueId o = n->nout == 1 ? n->out[0] : IR_NONE, best = IR_NONE;
		for (int k = 0; n->op == OP_ElemChain && o != IR_NONE && idx[o] >= 0 && k < n->nin; k++) {
			ValueId v = n->in[k], r = v != IR_NONE ? root[v] : IR_NONE;
			while (r != IR_NONE && inplace[r] != IR_NONE)
				r = inplace[r];   /* a view of an earlier chain's output */
			if (r == IR_NONE || idx[r] < 0 || !chain_made(g, r) || items[idx[r]].last != pos ||
			    items[idx[r]].size != items[idx[o]].size ||
			    gval(g, v)->dtype != gval(g, o)->dtype || !shape_eq(&gval(g, v)->shape, &gval(g, o)->shape))
				continue;
			/* of several, the oldest storage */
			if (best == IR_NONE || items[idx[r]].first < items[idx[best]].first)
				best = r;
		}
		if (best != IR_NONE) {
			items[idx[best]].last = items[idx[o]].last;
			plan->naive += items[idx[o]].size;
			items[idx[o]].size = 0;
			inplace[o] = best;
			root[o] = best;
			plan->ninplace++;
		}
		pos++;
	}
	qsort(items, (size_t)ni, sizeof(Item), by_size);
	Item **conf = xmalloc(sizeof(Item *) * (size_t)(ni ? ni : 1));
	for (int a = 0; a < ni; a++) {
		Item *it = &items[a];
		int nc = 0;
		for (int b = 0; b < a; b++)
			if (items[b].first <= it->last && it->first <= items[b].last && items[b].size)
				conf[nc++] = &items[b];
		qsort(conf, (size_t)nc, sizeof(Item *), by_off);
		uint64_t off = 0;
		for (int c = 0; c < nc && it->size; c++) {
			uint64_t co = (uint64_t)conf[c]->off, ce = co + conf[c]->size;
			if (off + it->size <= co)
				break;
			if (ce > off)
				off = ce;
		}
		it->off = (int64_t)off;
		plan->offset[it->v] = it->off;
		if (off + it->size > plan->size)
			plan->size = off + it->size;
		plan->naive += it->size;
	}
	plan->size = (plan->size + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN;
	plan->nplanned = ni - plan->ninplace;
	for (int v = 0; v < nv; v++)
		if (inplace[v] != IR_NONE)
			plan->offset[v] = plan->offset[inplace[v]];
	for (int v = 0; v < nv; v++)
		if (plan->view_of[v] != IR_NONE)
			plan->offset[v] = plan->offset[root[v]];
	free(inplace);
	free(root);
	free(conf);
	free(idx);
	free(items);
	return true;
}

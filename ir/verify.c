/* ir/verify.c — the IR verifier: checks the invariants stated in ir.h.
 *
 * Every violation is one diag_error() starting with "verify: "; the
 * verifier never stops at the first problem and never crashes on a broken
 * graph (ids are range-checked before they are dereferenced).  Debug builds
 * run it after every pass (pass_pipeline's verify_each); unit tests feed it
 * hand-broken graphs and look for the messages below.
 *
 * Checks, in order:
 *   1. node input/output ids in range (or IR_NONE);
 *   2. one producer per value, and Value.producer agrees with the live node
 *      that lists the value as an output; graph inputs and constants have no
 *      producer; constants have data;
 *   3. arity within op_info for known ops; fused ops (OPF_FUSED) in
 *      domain "onnxcc";
 *   4. live nodes topologically ordered: each input is a graph input, a
 *      constant, or an output of an earlier live node;
 *   5. graph inputs/outputs in range, graph outputs defined, Value.is_output
 *      set exactly on the values listed as graph outputs; constants hold
 *      dtype_size * numel bytes;
 *   6. when g->shapes_known: every live value (graph input/output, input or
 *      output of a live node) has a dtype and a static shape;
 *   7. when 1-6 hold: the typed params cached on a live node (ir/params.h)
 *      equal a fresh parse of its attributes and inputs (a pass that edited
 *      the node without node_params_reset leaves them stale);
 *   8. when 1-5 hold: layouts (ir/layout.c): a value's layout suits the
 *      value (panels and taps: constants of the right dtype and rank, not
 *      graph outputs), every live reader accepts the layout of each value
 *      it reads (DwConvNhwc's weights are taps, panels are read only as a
 *      GEMM's B, all readers in one orientation), and a view (Reshape,
 *      Flatten, Squeeze, Unsqueeze, Identity) has its input's layout.
 */
#include "ir.h"
#include "params.h"

#include <stdlib.h>
#include <string.h>

static const char *vname(Graph *g, ValueId v)
{
	return g->values[v].name ? g->values[v].name : "?";
}

static bool in_range(Graph *g, ValueId v)
{
	return v >= 0 && v < g->nvalues;
}

/* Shape/dtype check of one live value (only when shapes are known). */
static void check_typed(Graph *g, ValueId v, Diag *d, bool *ok, char *seen)
{
	if (seen[v])
		return;
	seen[v] = 1;
	Value *val = gval(g, v);
	if (val->dtype == DT_UNDEF || val->dtype >= DT__COUNT) {
		diag_error(d, "verify: value '%s' has no dtype after shape inference", vname(g, v));
		*ok = false;
	}
	if (!shape_is_static(&val->shape)) {
		char b[256];
		diag_error(d, "verify: value '%s' has no static shape after shape inference (%s)",
		           vname(g, v), shape_str(&val->shape, b, sizeof b));
		*ok = false;
	}
}

bool ir_verify(Graph *g, Diag *d)
{
	bool ok = true;
	int nv = g->nvalues;
	/* producer[v]: the live node listing v as an output (IR_NONE if none) */
	NodeId *producer = xmalloc(sizeof(NodeId) * (size_t)(nv ? nv : 1));
	char *defined = xcalloc((size_t)(nv ? nv : 1), 1);
	char *seen = xcalloc((size_t)(nv ? nv : 1), 1);
	for (int v = 0; v < nv; v++)
		producer[v] = IR_NONE;

	for (int k = 0; k < g->ninputs; k++) {
		ValueId v = g->inputs[k];
		if (!in_range(g, v)) {
			diag_error(d, "verify: graph input %d: value id %d out of range", k, (int)v);
			ok = false;
			continue;
		}
		if (g->values[v].kind != VK_INPUT) {
			diag_error(d, "verify: graph input %d ('%s') is not of kind input", k, vname(g, v));
			ok = false;
		}
	}

	/* Pass 1: ids, producers, arity. */
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		const char *lab = node_label(g, n);
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			if (v != IR_NONE && !in_range(g, v)) {
				diag_error(d, "verify: node '%s' (%s): input %d: value id %d out of range",
				           lab, n->op_type, k, (int)v);
				ok = false;
			}
		}
		for (int k = 0; k < n->nout; k++) {
			ValueId v = n->out[k];
			if (v == IR_NONE)
				continue;
			if (!in_range(g, v)) {
				diag_error(d, "verify: node '%s' (%s): output %d: value id %d out of range",
				           lab, n->op_type, k, (int)v);
				ok = false;
				continue;
			}
			Value *val = gval(g, v);
			if (producer[v] != IR_NONE) {
				diag_error(d, "verify: value '%s' has two producers: nodes '%s' and '%s'",
				           vname(g, v), node_label(g, &g->nodes[producer[v]]), lab);
				ok = false;
				continue;
			}
			producer[v] = i;
			if (val->kind == VK_INPUT || val->kind == VK_CONST) {
				diag_error(d, "verify: value '%s' is a graph %s but node '%s' (%s) produces it",
				           vname(g, v), val->kind == VK_INPUT ? "input" : "constant",
				           lab, n->op_type);
				ok = false;
			} else if (val->producer != i) {
				diag_error(d, "verify: value '%s': producer field is %d but node '%s' (#%d) produces it",
				           vname(g, v), (int)val->producer, lab, (int)i);
				ok = false;
			}
		}
		if (n->op != OP_UNKNOWN && (unsigned)n->op < OP__COUNT) {
			const OpInfo *oi = &op_info[n->op];
			if ((oi->flags & OPF_FUSED) && (!n->domain || strcmp(n->domain, "onnxcc") != 0)) {
				diag_error(d, "verify: node '%s' (%s): fused op outside domain 'onnxcc'",
				           lab, n->op_type);
				ok = false;
			}
			if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in)) {
				diag_error(d, "verify: node '%s' (%s): %d inputs, expected %d..%d",
				           lab, n->op_type, n->nin, oi->min_in, oi->max_in);
				ok = false;
			}
			if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out)) {
				diag_error(d, "verify: node '%s' (%s): %d outputs, expected %d..%d",
				           lab, n->op_type, n->nout, oi->min_out, oi->max_out);
				ok = false;
			}
		}
	}

	/* Values that claim a producer no live node confirms. */
	for (ValueId v = 0; v < nv; v++) {
		Value *val = gval(g, v);
		if ((val->kind == VK_INPUT || val->kind == VK_CONST) && val->producer != IR_NONE) {
			diag_error(d, "verify: %s '%s' has producer field %d (expected none)",
			           val->kind == VK_INPUT ? "graph input" : "constant", vname(g, v),
			           (int)val->producer);
			ok = false;
		}
		if (val->kind == VK_CONST && !val->data && val->nbytes) {
			diag_error(d, "verify: constant '%s' has no data", vname(g, v));
			ok = false;
		}
		if (val->kind == VK_CONST && shape_is_static(&val->shape) && dtype_size(val->dtype) &&
		    val->nbytes != (size_t)shape_numel(&val->shape) * dtype_size(val->dtype)) {
			char b[128];
			diag_error(d, "verify: constant '%s' (%s%s) holds %zu bytes", vname(g, v),
			           dtype_name(val->dtype), shape_str(&val->shape, b, sizeof b), val->nbytes);
			ok = false;
		}
		if (val->kind == VK_INTERMEDIATE && val->producer != IR_NONE && producer[v] == IR_NONE) {
			NodeId p = val->producer;
			if (p < 0 || p >= g->nnodes) {
				diag_error(d, "verify: value '%s': producer field %d out of range",
				           vname(g, v), (int)p);
				ok = false;
			} else if (!g->nodes[p].dead) {
				diag_error(d, "verify: value '%s': producer field names node '%s' (#%d), which does not produce it",
				           vname(g, v), node_label(g, &g->nodes[p]), (int)p);
				ok = false;
			}
		}
	}

	/* Pass 2: topological order. */
	for (ValueId v = 0; v < nv; v++)
		defined[v] = g->values[v].kind == VK_INPUT || g->values[v].kind == VK_CONST;
	for (NodeId i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			ValueId v = n->in[k];
			if (v == IR_NONE || !in_range(g, v) || defined[v])
				continue;
			if (producer[v] == IR_NONE)
				diag_error(d, "verify: node '%s' (%s): input %d: value '%s' is never defined",
				           node_label(g, n), n->op_type, k, vname(g, v));
			else
				diag_error(d, "verify: node '%s' (%s): input %d: value '%s' is used before its producer '%s' (not topologically ordered)",
				           node_label(g, n), n->op_type, k, vname(g, v),
				           node_label(g, &g->nodes[producer[v]]));
			ok = false;
		}
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] != IR_NONE && in_range(g, n->out[k]))
				defined[n->out[k]] = 1;
	}

	for (int k = 0; k < g->noutputs; k++) {
		ValueId v = g->outputs[k];
		if (!in_range(g, v)) {
			diag_error(d, "verify: graph output %d: value id %d out of range", k, (int)v);
			ok = false;
			continue;
		}
		if (!defined[v]) {
			diag_error(d, "verify: graph output %d ('%s') is not defined", k, vname(g, v));
			ok = false;
		}
		if (!g->values[v].is_output) {
			diag_error(d, "verify: graph output %d ('%s') is not flagged is_output", k, vname(g, v));
			ok = false;
		}
		seen[v] = 2; /* listed */
	}
	for (ValueId v = 0; v < nv; v++)
		if (g->values[v].is_output && seen[v] != 2) {
			diag_error(d, "verify: value '%s' is flagged is_output but is not a graph output", vname(g, v));
			ok = false;
		}
	memset(seen, 0, (size_t)(nv ? nv : 1));

	/* Pass 3: types and shapes of live values. */
	if (g->shapes_known) {
		for (int k = 0; k < g->ninputs; k++)
			if (in_range(g, g->inputs[k]))
				check_typed(g, g->inputs[k], d, &ok, seen);
		for (NodeId i = 0; i < g->nnodes; i++) {
			Node *n = &g->nodes[i];
			if (n->dead)
				continue;
			for (int k = 0; k < n->nin; k++)
				if (n->in[k] != IR_NONE && in_range(g, n->in[k]))
					check_typed(g, n->in[k], d, &ok, seen);
			for (int k = 0; k < n->nout; k++)
				if (n->out[k] != IR_NONE && in_range(g, n->out[k]))
					check_typed(g, n->out[k], d, &ok, seen);
		}
		for (int k = 0; k < g->noutputs; k++)
			if (in_range(g, g->outputs[k]))
				check_typed(g, g->outputs[k], d, &ok, seen);
	}

	bool sound = ok;   /* ids in range, producers consistent */

	/* Pass 4: layouts. */
	for (ValueId v = 0; sound && v < nv; v++) {
		Value *val = gval(g, v);
		if ((unsigned)val->layout >= LAYOUT__COUNT) {
			diag_error(d, "verify: value '%s' has layout number %d", vname(g, v), (int)val->layout);
			ok = false;
		} else if (!layout_value_ok(val, val->layout)) {
			diag_error(d, "verify: value '%s' has layout %s but is %s", vname(g, v), layout_name(val->layout),
			           val->is_output ? "a graph output"
			           : val->layout == LAYOUT_PANELS ? "not a constant f32 matrix"
			                                          : "not a constant f32 [C, 1, kh, kw] weight");
			ok = false;
		} else if (val->layout == LAYOUT_PANELS && !layout_readers_ok(g, v, LAYOUT_PANELS)) {
			bool readers = true;
			for (NodeId i = 0; readers && i < g->nnodes; i++)
				for (int k = 0; !g->nodes[i].dead && k < g->nodes[i].nin; k++)
					if (g->nodes[i].in[k] == v && !layout_reader_ok(g, &g->nodes[i], k, LAYOUT_PANELS))
						readers = false;
			if (readers) { /* the per-reader check below names the others */
				diag_error(d, "verify: value '%s' has layout panels but its GEMM readers read it in "
				           "different orientations (transB)", vname(g, v));
				ok = false;
			}
		}
	}
	for (NodeId i = 0; sound && i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			if (n->in[k] == IR_NONE)
				continue;
			Layout l = gval(g, n->in[k])->layout;
			if ((unsigned)l < LAYOUT__COUNT && !layout_reader_ok(g, n, k, l)) {
				if (l == LAYOUT_ROW_MAJOR)
					diag_error(d, "verify: node '%s' (%s): input %d: value '%s' must have layout taps",
					           node_label(g, n), n->op_type, k, vname(g, n->in[k]));
				else
					diag_error(d, "verify: node '%s' (%s): input %d: reads value '%s' of layout %s, "
					           "which only %s", node_label(g, n), n->op_type, k, vname(g, n->in[k]),
					           layout_name(l),
					           l == LAYOUT_PANELS ? "a GEMM reads (as its B operand, input 1)"
					                              : "DwConvNhwc reads (as its weights, input 1)");
				ok = false;
			}
		}
		bool view = n->op == OP_Reshape || n->op == OP_Flatten || n->op == OP_Squeeze ||
		            n->op == OP_Unsqueeze || n->op == OP_Identity;
		if (view && n->nin >= 1 && n->nout >= 1 && n->in[0] != IR_NONE && n->out[0] != IR_NONE &&
		    gval(g, n->in[0])->layout != gval(g, n->out[0])->layout) {
			diag_error(d, "verify: node '%s' (%s): a view's output has layout %s, its input %s",
			           node_label(g, n), n->op_type, layout_name(gval(g, n->out[0])->layout),
			           layout_name(gval(g, n->in[0])->layout));
			ok = false;
		}
	}

	/* Pass 5: cached params still what the node says. */
	for (NodeId i = 0; sound && i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (!n->dead && n->params && !node_params_current(g, i)) {
			diag_error(d, "verify: node '%s' (%s): cached params are stale (edited without "
			           "node_params_reset)", node_label(g, n), n->op_type);
			ok = false;
		}
	}

	free(producer);
	free(defined);
	free(seen);
	return ok;
}

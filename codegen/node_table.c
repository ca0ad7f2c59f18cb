/* codegen/node_table.c — the schedule, op type names and FLOP counts of
 * the node table (see node_table.h). */
#include "node_table.h"

#include <stdio.h>
#include <string.h>

#include "passes/memplan.h"

bool cg_node_scheduled(const Graph *g, const Node *n)
{
	return !n->dead && !memplan_view_node(g, n);
}

int cg_schedule_count(const Graph *g)
{
	int count = 0;
	for (NodeId k = 0; k < g->nnodes; k++)
		count += cg_node_scheduled(g, &g->nodes[k]);
	return count;
}

void cg_node_op_type(const Node *n, char *buf, size_t size)
{
	const char *dom = n->domain && *n->domain && strcmp(n->domain, "ai.onnx") ? n->domain : NULL;
	if (n->op != OP_UNKNOWN && (op_info[n->op].flags & OPF_FUSED))
		dom = "onnxcc";
	const char *type = n->op != OP_UNKNOWN ? op_name(n->op) : n->op_type;
	snprintf(buf, size, "%s%s%s", dom ? dom : "", dom ? "::" : "", type);
}

static const Shape *in_shape(const Graph *g, const Node *n, int i)
{
	return i < n->nin && n->in[i] != IR_NONE ? &gval((Graph *)g, n->in[i])->shape : NULL;
}

/* Attention's operand i as the op reads it (passes/infer_fused.c,
 * read_perm): input i permuted by attribute perm, then, with attribute
 * sel, its first dim dropped.  False when the input is absent or the
 * result is not at least 2-D. */
static bool attn_operand(const Graph *g, const Node *n, int i, const char *perm, const char *sel, Shape *out)
{
	const Shape *x = in_shape(g, n, i);
	if (!x)
		return false;
	*out = *x;
	const int64_t *p;
	if (attr_ints(n, perm, &p) == x->rank)
		for (int k = 0; k < x->rank; k++)
			out->dims[k] = x->dims[p[k]];
	if (node_attr(n, sel)) {
		for (int k = 1; k < out->rank; k++)
			out->dims[k - 1] = out->dims[k];
		out->rank--;
	}
	return out->rank >= 2;
}

static bool is_float(DType t)
{
	return t == DT_F32 || t == DT_F64 || t == DT_F16 || t == DT_BF16;
}

uint64_t cg_node_flops(const Graph *g, const Node *n)
{
	if (n->nout < 1 || n->out[0] == IR_NONE)
		return 0;
	const Value *y = gval((Graph *)g, n->out[0]);
	if (!is_float(y->dtype))
		return 0;
	uint64_t ny = (uint64_t)shape_numel(&y->shape), macs = 0;
	const Shape *a = in_shape(g, n, 0), *b = in_shape(g, n, 1);
	switch (n->op) {
	case OP_MatMul:
	case OP_MatMulEpi: {
		/* Y's elements times the contracted length: B [..., K, N] or B [K] */
		if (!b || b->rank < 1)
			return 0;
		macs = ny * (uint64_t)b->dims[b->rank >= 2 ? b->rank - 2 : 0];
		break;
	}
	case OP_Gemm:
		if (!a || a->rank != 2)
			return 0;
		macs = ny * (uint64_t)a->dims[attr_int(n, "transA", 0) ? 0 : 1];
		break;
	case OP_Conv:
	case OP_DwConvNhwc:
		/* each output element reads W's C/group * kernel taps of its channel */
		if (!b || b->rank < 1 || b->dims[0] < 1)
			return 0;
		macs = ny * ((uint64_t)shape_numel(b) / (uint64_t)b->dims[0]);
		break;
	case OP_Attention: {
		/* Q [..., Nq, d], V [..., Nk, dv] (+ V2 [..., Nk2, dv]) as the op
		 * reads them, Y [..., Nq, dv] (stored permuted, dv last): Q.K^T and
		 * P.V per query, Nk * (d + dv) */
		Shape q, v, v2;
		if (!attn_operand(g, n, 0, "perm_q", "sel_q", &q) || !attn_operand(g, n, 2, "perm_v", "sel_v", &v) ||
		    y->shape.rank < 2)
			return 0;
		uint64_t nk = (uint64_t)v.dims[v.rank - 2];
		if (attn_operand(g, n, 5, "perm_v2", "sel_v2", &v2))
			nk += (uint64_t)v2.dims[v2.rank - 2];
		uint64_t dv = (uint64_t)y->shape.dims[y->shape.rank - 1];
		if (dv == 0)
			return 0;
		macs = ny / dv * nk * ((uint64_t)q.dims[q.rank - 1] + dv);
		break;
	}
	case OP_RelAttention: {
		/* QW [Q,B,H,D], K [L,B,H,D], O [Q,B,H,Dv]: AC and BD (D each) and
		 * P.V (Dv) per query and key */
		const Shape *k = in_shape(g, n, 2);
		if (!a || !k || a->rank != 4 || k->rank != 4 || y->shape.rank != 4)
			return 0;
		uint64_t dv = (uint64_t)y->shape.dims[3];
		if (dv == 0)
			return 0;
		macs = ny / dv * (uint64_t)k->dims[0] * (2 * (uint64_t)a->dims[3] + dv);
		break;
	}
	default:
		return 0;
	}
	return 2 * macs;
}

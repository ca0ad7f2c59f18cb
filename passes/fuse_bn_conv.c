/* passes/fuse_bn_conv.c — an inference BatchNormalization whose only reader
 * is a pointwise Conv is folded into that Conv's weights and bias: no
 * separate pass over the normalized tensor.
 *
 * requires: shapes inferred, constants folded
 * keeps:    topological order (the Conv stays where it is and reads the
 *           BatchNormalization's input, computed before it), value ids,
 *           graph outputs
 * breaks:   nothing; leaves the BatchNormalization dead for pass_dce
 *
 * Pattern (MaxViT's MBConv: pre_norm then the 1x1 expansion conv_a):
 *     y = BatchNormalization(x, scale, B, mean, var)   inference
 *         (training_mode 0; opset >= 9 or spatial = 1), one output, all
 *         f32, scale/B/mean/var constants of C elements, x [N, C, ...];
 *         y read only by the Conv and not a graph output
 *     o = Conv(y, W, [b])   W [M, C/group, 1, ..., 1] and b [M] constants,
 *         every kernel dim 1, pads 0 (auto_pad NOTSET or VALID): each output
 *         reads whole pixels of y, never a padded one
 * becomes o = Conv(x, W', b') (attributes unchanged), with, for output
 * channel m reading input channel c = (m / (M/group)) * (C/group) + ci,
 *     a[c] = scale[c] / sqrt(var[c] + epsilon)
 *     W'[m, ci] = W[m, ci] * a[c]
 *     b'[m] = b[m] + sum_ci W[m, ci] * (B[c] - mean[c] * a[c])
 * computed in double and rounded once to f32.  This is y's algebra, not its
 * bits: the unfused graph rounds y to f32 before the product, the folded
 * one rounds W' and b' (each within half an ulp of its exact value), so
 * outputs move in their last bits (docs/kernels.md: maxvit_t).  A padded
 * or wider kernel (its padding would be zeros of y, not of x), run-time
 * parameters, a y read elsewhere, another dtype are left unchanged.
 */
#include "pipeline.h"
#include "fuse.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* v is an f32 constant with n elements. */
static bool f32_const(Graph *g, ValueId v, int64_t n)
{
	if (v == IR_NONE)
		return false;
	const Value *c = gval(g, v);
	return c->kind == VK_CONST && c->data && c->dtype == DT_F32 && shape_numel(&c->shape) == n;
}

static bool fuse_at(Graph *g, const Uses *u, NodeId ci, Diag *d, bool *err)
{
	(void)d;
	(void)err;
	Node *cv = &g->nodes[ci];
	if (cv->nin < 2 || cv->nout != 1 || cv->in[0] == IR_NONE || cv->in[1] == IR_NONE || cv->out[0] == IR_NONE)
		return false;
	ValueId yid = cv->in[0], wid = cv->in[1], bid = cv->nin > 2 ? cv->in[2] : IR_NONE;
	Node *bn = producer_op(g, yid, OP_BatchNormalization);
	if (!bn || uses_single(g, u, yid) != ci || bn->nin != 5 || bn->in[0] == IR_NONE)
		return false;
	for (int i = 1; i < bn->nout; i++)
		if (bn->out[i] != IR_NONE)
			return false;
	if (attr_int(bn, "training_mode", 0) != 0 || (bn->opset < 9 && attr_int(bn, "spatial", 1) == 0))
		return false;
	const Value *xv = gval(g, bn->in[0]), *wv = gval(g, wid);
	int r = xv->shape.rank;
	if (xv->dtype != DT_F32 || gval(g, yid)->dtype != DT_F32 || r < 3 || !shape_is_static(&xv->shape) ||
	    wv->kind != VK_CONST || !wv->data || wv->dtype != DT_F32 || wv->shape.rank != r)
		return false;
	int64_t C = xv->shape.dims[1], M = wv->shape.dims[0], group = attr_int(cv, "group", 1);
	if (group < 1 || C % group || M % group || wv->shape.dims[1] != C / group)
		return false;
	for (int i = 2; i < r; i++)
		if (wv->shape.dims[i] != 1)
			return false;
	const char *ap = attr_string(cv, "auto_pad", "NOTSET");
	if ((strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) || !attr_ints_all(cv, "pads", -1, 0) ||
	    !attr_ints_all(cv, "kernel_shape", -1, 1))
		return false;
	for (int i = 1; i < 5; i++)
		if (!f32_const(g, bn->in[i], C))
			return false;
	if (bid != IR_NONE && !f32_const(g, bid, M))
		return false;

	const float *scale = gval(g, bn->in[1])->data, *shift = gval(g, bn->in[2])->data;
	const float *mean = gval(g, bn->in[3])->data, *var = gval(g, bn->in[4])->data;
	const float *w = wv->data, *b = bid != IR_NONE ? gval(g, bid)->data : NULL;
	double eps = attr_float(bn, "epsilon", 1e-5f);
	int64_t Cg = C / group, Mg = M / group;
	float *w2 = xmalloc(sizeof *w2 * (size_t)(M * Cg));
	float *b2 = xmalloc(sizeof *b2 * (size_t)M);
	for (int64_t m = 0; m < M; m++) {
		double s = b ? b[m] : 0.0;
		for (int64_t c0 = 0; c0 < Cg; c0++) {
			int64_t c = m / Mg * Cg + c0;
			double a = scale[c] / sqrt((double)var[c] + eps);
			w2[m * Cg + c0] = (float)(w[m * Cg + c0] * a);
			s += w[m * Cg + c0] * (shift[c] - mean[c] * a);
		}
		b2[m] = (float)s;
	}
	int64_t bdim[1] = {M};
	Shape bs = shape_make(1, bdim), ws = wv->shape; /* wv moves as values are added */
	ValueId w2v = graph_add_const(g, NULL, DT_F32, &ws, w2);
	ValueId b2v = graph_add_const(g, NULL, DT_F32, &bs, b2);
	free(w2);
	free(b2);

	cv = &g->nodes[ci];
	ValueId x = bn->in[0];
	node_kill(g, (NodeId)(bn - g->nodes));
	if (cv->nin < 3) { /* room for the bias */
		ValueId *in = arena_alloc(&g->arena, sizeof *in * 3);
		in[0] = cv->in[0];
		in[1] = cv->in[1];
		cv->in = in;
		cv->nin = 3;
	}
	cv->in[0] = x;
	cv->in[1] = w2v;
	cv->in[2] = b2v;
	return true;
}

bool pass_fuse_bn_conv(Graph *g, Diag *d)
{
	assert(g->shapes_known);
	return fuse_each(g, OP_Conv, fuse_at, d);
}

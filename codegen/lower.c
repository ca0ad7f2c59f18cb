/* codegen/lower.c — routes each op to the file that lowers it. */
#include "lower.h"

bool cg_lower_node(Cg *cg, const Node *n)
{
	if (n->op == OP_UNKNOWN)
		return cg_unsupported(cg, -1, "unsupported operator '%s' (domain '%s')",
		                      n->op_type, n->domain);
	unsigned fl = op_info[n->op].flags;
	if (fl & (OPF_UNARY | OPF_BINARY | OPF_VARIADIC))
		return cg_lower_elementwise(cg, n);
	if (fl & OPF_REDUCE)
		return cg_lower_reduce(cg, n);
	switch (n->op) {
	case OP_Where: case OP_Clip: case OP_Cast: case OP_CastLike:
	case OP_Identity: case OP_Dropout:
		return cg_lower_elementwise(cg, n);
	case OP_ArgMax: case OP_ArgMin: case OP_Softmax: case OP_LogSoftmax:
	case OP_Hardmax: case OP_CumSum: case OP_TopK:
		return cg_lower_reduce(cg, n);
	case OP_MatMul: case OP_MatMulEpi: case OP_Gemm: case OP_Einsum: case OP_Conv:
	case OP_ConvTranspose: case OP_MaxPool: case OP_AveragePool:
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
	case OP_BatchNormalization: case OP_InstanceNormalization:
	case OP_LayerNormalization: case OP_MeanVarianceNormalization: case OP_LRN:
		return cg_lower_linalg(cg, n);
	case OP_LSTM: case OP_GRU: case OP_RNN:
		return cg_lower_rnn(cg, n);
	case OP_NegativeLogLikelihoodLoss: case OP_SoftmaxCrossEntropyLoss:
		return cg_lower_loss(cg, n);
	case OP_QuantizeLinear: case OP_DequantizeLinear: case OP_DynamicQuantizeLinear:
	case OP_MatMulInteger: case OP_QLinearMatMul: case OP_ConvInteger: case OP_QLinearConv:
		return cg_lower_quant(cg, n);
	case OP_HannWindow: case OP_HammingWindow: case OP_BlackmanWindow:
	case OP_ReverseSequence: case OP_GridSample: case OP_MaxUnpool: case OP_Det:
	case OP_RoiAlign:
		return cg_lower_misc(cg, n);
	case OP_Resize: case OP_Upsample:
		return cg_lower_resize(cg, n);
	case OP_Attention:
		return cg_lower_attention(cg, n);
	case OP_RelAttention:
		return cg_lower_relattention(cg, n);
	case OP_Constant:
		return cg_unsupported(cg, -1, "Constant nodes are turned into constants by the frontend");
	default:
		return cg_lower_data(cg, n);
	}
}

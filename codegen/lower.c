/* codegen/lower.c — routes each op to the function that lowers it (the
 * lower column of ir/ops.def). */
#include "lower.h"

/* Constant nodes never reach codegen: the frontend turns them into
 * constants. */
static bool cg_lower_constant(Cg *cg, const Node *n)
{
	(void)n;
	return cg_unsupported(cg, -1, "Constant nodes are turned into constants by the frontend");
}

typedef bool (*LowerFn)(Cg *cg, const Node *n);

/* ops.def's lower column. */
static const LowerFn lowerings[OP__COUNT] = {
#define OP(name, ilo, ihi, olo, ohi, fl, infer, fold, lower) [OP_##name] = lower,
#include "../ir/ops.def"
#undef OP
};

bool cg_lower_node(Cg *cg, const Node *n)
{
	if (n->op == OP_UNKNOWN || (unsigned)n->op >= OP__COUNT)
		return cg_unsupported(cg, -1, "unsupported operator '%s' (domain '%s')",
		                      n->op_type, n->domain);
	return lowerings[n->op](cg, n);
}

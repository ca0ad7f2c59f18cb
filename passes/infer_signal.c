/* passes/infer_signal.c — shape rules of the signal windows: HannWindow,
 * HammingWindow, BlackmanWindow (lowered by codegen/lower_signal.c).
 */
#define INFER_INTERNAL
#include "infer.h"

#include <inttypes.h>

/* Hann/Hamming/BlackmanWindow: constant scalar size -> [size] of
 * output_datatype (default float32). */
bool infer_window(InferCtx *c)
{
	int64_t size;
	int cnt;
	if (!iconst_ints(c, 0, &size, 1, &cnt))
		return false;
	if (cnt != 1 || iin(c, 0)->shape.rank != 0)
		return ifail(c, 0, "size must be a scalar");
	if (size < 0)
		return ifail(c, 0, "size %" PRId64 " is negative", size);
	int64_t dt = attr_int(c->n, "output_datatype", DT_F32);
	if (dt != DT_F32 && dt != DT_F64 && dt != DT_F16 && dt != DT_BF16)
		return ifail(c, -1, "output_datatype %" PRId64 " is not a supported float type", dt);
	Shape s = shape_make(1, &size);
	iset(c, 0, (DType)dt, &s);
	return true;
}

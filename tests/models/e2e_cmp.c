/* tests/models/e2e_cmp.c — see e2e_cmp.h. */
#include "e2e_cmp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool e2e_compare(const OnnxccNpy *ref, int32_t dtype, int32_t rank,
                 const int64_t *shape, const void *got, E2eCmp *c)
{
	memset(c, 0, sizeof *c);
	if (ref->dtype != dtype) {
		snprintf(c->why, sizeof c->why, "dtype %s, reference %s",
		         onnxcc_dtype_name(dtype), onnxcc_dtype_name(ref->dtype));
		c->max_abs = c->rel = INFINITY;
		return false;
	}
	bool same = ref->rank == rank;
	for (int i = 0; same && i < rank; i++)
		same = ref->shape[i] == shape[i];
	if (!same) {
		char a[128], b[128];
		snprintf(c->why, sizeof c->why, "shape %s, reference %s",
		         onnxcc_shape_str(rank, shape, a, sizeof a),
		         onnxcc_shape_str(ref->rank, ref->shape, b, sizeof b));
		c->max_abs = c->rel = INFINITY;
		return false;
	}
	bool isf = onnxcc_dtype_is_float(dtype);
	for (uint64_t i = 0; i < ref->numel; i++) {
		double r, g, e;
		if (isf) {
			r = onnxcc_elem_f64(dtype, ref->data, i);
			g = onnxcc_elem_f64(dtype, got, i);
			if (isfinite(r)) {
				if (fabs(r) > c->max_ref)
					c->max_ref = fabs(r);
				e = isfinite(g) ? fabs(g - r) : INFINITY;
			} else if (isnan(r)) {
				e = isnan(g) ? 0 : INFINITY;
			} else {
				e = g == r ? 0 : INFINITY;
			}
		} else {
			int64_t ri = onnxcc_elem_i64(dtype, ref->data, i);
			int64_t gi = onnxcc_elem_i64(dtype, got, i);
			r = (double)ri;
			g = (double)gi;
			if (fabs(r) > c->max_ref)
				c->max_ref = fabs(r);
			e = ri == gi ? 0 : INFINITY;
		}
		if (e > c->max_abs || (i == 0 && e == 0)) {
			c->max_abs = e;
			c->worst = i;
			c->worst_got = g;
			c->worst_ref = r;
		}
	}
	c->rel = c->max_ref > 0 ? c->max_abs / c->max_ref : c->max_abs;
	c->ok = c->max_abs <= E2E_RTOL * c->max_ref || c->max_abs == 0;
	return c->ok;
}

void e2e_print(const char *name, const E2eCmp *c)
{
	if (c->why[0]) {
		printf("%s FAIL (%s)\n", name, c->why);
		return;
	}
	printf("%s max_abs=%.3g max_ref=%.3g rel=%.3g %s", name, c->max_abs, c->max_ref,
	       c->rel, c->ok ? "ok" : "FAIL");
	if (!c->ok)
		printf(" (worst at flat index %llu: got %.8g, reference %.8g)",
		       (unsigned long long)c->worst, c->worst_got, c->worst_ref);
	printf("\n");
}

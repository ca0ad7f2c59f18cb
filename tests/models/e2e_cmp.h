/* tests/models/e2e_cmp.h — comparing a model output with its PyTorch
 * reference, shared by onnxcc-npycmp and the generated header-API tests.
 *
 * The acceptance rule of the end-to-end suite: for every output,
 *     max |got - ref|  <=  E2E_RTOL * max |ref|      (E2E_RTOL = 1e-4)
 * over the finite reference elements; non-finite reference elements (NaN
 * from a fully masked softmax row, +-inf from a mask input) must be matched
 * exactly in kind (NaN for NaN, the same infinity).  Integer and bool
 * outputs must be equal.  dtype and shape must agree.
 */
#ifndef E2E_CMP_H
#define E2E_CMP_H

#include <stdbool.h>
#include <stdint.h>

#include "npy.h"

#define E2E_RTOL 1e-4

typedef struct E2eCmp {
	double max_abs;     /* largest |got - ref| (inf on a non-finite mismatch) */
	double max_ref;     /* largest finite |ref| */
	double rel;         /* max_abs / max_ref (max_abs itself if max_ref == 0) */
	uint64_t worst;     /* flat index of the largest error */
	double worst_got, worst_ref;
	bool ok;
	char why[160];      /* reason when !ok because of dtype/shape */
} E2eCmp;

/* Compares got (dtype, rank, shape, data) with ref; fills *c and returns
 * c->ok. */
bool e2e_compare(const OnnxccNpy *ref, int32_t dtype, int32_t rank,
                 const int64_t *shape, const void *got, E2eCmp *c);

/* One line "NAME max_abs=... max_ref=... rel=... ok|FAIL (worst ...)". */
void e2e_print(const char *name, const E2eCmp *c);

#endif

/* tests/models/hdr_main.h — the driver of the generated header-API tests.
 *
 * For each model the e2e script generates a tiny C file that includes the
 * onnxcc-generated header, wraps <prefix>_run() (the typed entry point, with
 * its parameters in header order) in an E2eCall and calls e2e_header_main()
 * with <prefix>_model and <PREFIX>_WORKSPACE_SIZE.  The program is linked
 * with the model's object file, so it proves that the header, the object
 * and the descriptor agree.
 */
#ifndef E2E_HDR_MAIN_H
#define E2E_HDR_MAIN_H

#include <stdint.h>

#include "onnxcc_model.h"

typedef int (*E2eCall)(const void *const *in, void *const *out, void *ws);

/* usage: PROG MODEL_DIR
 *        PROG --stream MODEL_DIR SEGMENTS STATE_IN STATE_OUT INPLACE
 * The first form loads MODEL_DIR/inputs/<input>.npy, runs the
 * model through call, compares with MODEL_DIR/outputs/<output>.npy and
 * checks the status codes for a NULL buffer and a misaligned workspace.
 * Prints "workspace N" and "maxrel R".  The second runs the segments of
 * MODEL_DIR/stream/ in one process, feeding STATE_OUT back as STATE_IN
 * (INPLACE 1: one buffer serves as both, as the header's in-place list
 * allows) and compares every segment's outputs.  Returns the process exit
 * status (0 pass, 1 mismatch, 2 error). */
int e2e_header_main(int argc, char **argv, const OnnxccModel *m,
                    uint64_t workspace_size, E2eCall call);

#endif

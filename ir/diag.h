/* ir/diag.h — diagnostics, the one way onnxcc reports errors.
 *
 * Three kinds of error are kept apart:
 *   - the model is wrong or unsupported: diag_error()/diag_node(), in the
 *     fixed phrasing  "model.onnx: node 'NAME' (OpType): input K: message";
 *     the caller returns failure and the CLI exits non-zero;
 *   - a system call failed: diag_syserr(), "what: strerror(errno)";
 *   - a broken internal invariant: assert()/IR_UNREACHABLE, never a Diag.
 *
 * Every message is appended to d->buf (so tests can read it) and, when
 * d->echo is set, written to stderr as it happens.
 */
#ifndef ONNXCC_DIAG_H
#define ONNXCC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Diag {
	const char *path;   /* file named in every message ("" if none) */
	int nerrors;
	int nwarnings;
	int nsyserrors;      /* how many of nerrors are system errors */
	bool echo;          /* print to stderr as well */
	char *buf;          /* all messages, '\n'-separated; NUL-terminated */
	size_t len, cap;
	size_t last;        /* offset of the most recent message */
} Diag;

void diag_init(Diag *d, const char *path, bool echo);
void diag_free(Diag *d);
/* "path: message" */
void diag_error(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warn(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "path: node 'NAME' (OP): input K: message"; input < 0 omits the input part. */
void diag_node(Diag *d, const char *node_name, const char *op_type, int input,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "path: what: strerror(errno)" — reads errno itself. */
void diag_syserr(Diag *d, const char *what);
/* The most recent message (without path), or "" */
const char *diag_last(const Diag *d);
bool diag_contains(const Diag *d, const char *needle);

#define IR_UNREACHABLE(msg) \
	(fprintf(stderr, "%s:%d: internal error: %s\n", __FILE__, __LINE__, msg), abort())

#endif

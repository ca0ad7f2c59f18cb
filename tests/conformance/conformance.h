/* tests/conformance/conformance.h — shared by the conformance runner's
 * files: conformance.c (the parent: scheduling, table, summary, main),
 * child.c (one case in a forked child), selftest.c (--self-test). */
#ifndef ONNXCC_CONFORMANCE_H
#define ONNXCC_CONFORMANCE_H

#include <stdbool.h>

typedef enum Status { ST_PASS, ST_REJECTED, ST_FAIL, ST_CRASH, ST_TIMEOUT, ST__COUNT } Status;
extern const char *const status_names[ST__COUNT];

typedef struct Options {
	const char *tests_dir;
	const char *out_path;    /* table; NULL: none */
	int jobs;
	int timeout_s;
	int opt_level;
	bool verbose;
	bool keep;
	bool list_failures;
} Options;

typedef struct Case {
	char *name;
	char *dir;
	Status status;
	char *detail;
	double ms;
	int selftest;        /* --self-test: a SELF_* misbehaviour, or 0 */
} Case;

/* --self-test children that misbehave on purpose, to check that the
 * parent classifies each kind of death. */
enum { SELF_NONE, SELF_SEGV, SELF_ABORT, SELF_HANG, SELF_HANG_NOALARM, SELF_SANITIZER,
       SELF_BAD_LINE };

/* child.c — in the forked child: writes free text and then one line
 * "@@RESULT STATUS<TAB>detail" to fd, and exits.  Crash handlers are
 * installed unless o->verbose (which keeps the sanitizers' stack traces). */
void child_run(const Options *o, const Case *c, const char *workdir, int fd)
	__attribute__((noreturn));

/* conformance.c — runs cases o->jobs at a time, filling status, detail
 * and ms of each; prints FAIL/CRASH/TIMEOUT lines (everything with -v). */
void run_all(const Options *o, Case *cases, int n, const char *workdir);
void rmtree(const char *dir);
bool file_exists(const char *path);
char *xstrdup(const char *s);   /* ir/xalloc.c: exits 2 on out-of-memory */

/* selftest.c — the --self-test run; returns the number of surprises. */
int self_test(Options o, const char *base_case);

#endif

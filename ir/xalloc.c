/* ir/xalloc.c — xmalloc & co: every allocation of onnxcc's own code goes
 * through here (arena blocks, vectors, strings, protobuf-c's unpacking of
 * the model), so that running out of memory has one well-defined outcome:
 * "onnxcc: out of memory" on stderr, the temporary files that the compiler
 * registered (xalloc_remove_on_oom) unlinked, and exit status 2 (a system
 * error) with no output file left.  LLVM's own allocations are not covered:
 * LLVM aborts on a failed allocation.
 *
 * Fault injection, for tests (tests/oom/run.sh): the environment variable
 * ONNXCC_FAIL_ALLOC=N makes the N-th allocation through these functions
 * (counted from 1 over the process) fail as if malloc had returned NULL;
 * ONNXCC_COUNT_ALLOC=1 prints "onnxcc: N allocations" on stderr at exit.
 * A test program may instead set xalloc_fault_hook, asked before every
 * allocation whether it is to fail (tests/oom/every.c forks there).
 * (SQLite's fault simulation and Lua's MEMLIMIT are the models.)
 */
#include "ir.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cleanup[XALLOC_MAX_CLEANUP][PATH_MAX];

static unsigned long long count, fail_at;
static int inited;

bool (*xalloc_fault_hook)(unsigned long long n);

static void print_count(void)
{
	fprintf(stderr, "onnxcc: %llu allocations\n", count);
}

static void init(void)
{
	inited = 1;
	const char *f = getenv("ONNXCC_FAIL_ALLOC");
	if (f && *f)
		fail_at = strtoull(f, NULL, 10);
	const char *c = getenv("ONNXCC_COUNT_ALLOC");
	if (c && *c && *c != '0')
		atexit(print_count);
}

/* True when this allocation is to fail (fault injection). */
static int injected(void)
{
	if (!inited)
		init();
	++count;
	if (xalloc_fault_hook && xalloc_fault_hook(count))
		return 1;
	return count == fail_at;
}

static _Noreturn void oom(void)
{
	for (int i = 0; i < XALLOC_MAX_CLEANUP; i++)
		if (cleanup[i][0])
			unlink(cleanup[i]);
	static const char msg[] = "onnxcc: out of memory\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(2);
}

void *xmalloc(size_t n)
{
	void *p = injected() ? NULL : malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = injected() ? NULL : calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = injected() ? NULL : realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	s = s ? s : "";
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

void xalloc_remove_on_oom(const char *path)
{
	assert(strlen(path) < PATH_MAX);
	for (int i = 0; i < XALLOC_MAX_CLEANUP; i++)
		if (!cleanup[i][0]) {
			memcpy(cleanup[i], path, strlen(path) + 1);
			return;
		}
	assert(!"xalloc_remove_on_oom: too many paths");
}

void xalloc_keep_on_oom(const char *path)
{
	for (int i = 0; i < XALLOC_MAX_CLEANUP; i++)
		if (!strcmp(cleanup[i], path))
			cleanup[i][0] = 0;
}

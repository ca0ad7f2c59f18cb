/* ir/arena.c — bump allocator freed in one go (blocks from xmalloc, so
 * running out of memory is handled as ir/xalloc.c says). */
#include "ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ArenaBlock {
	ArenaBlock *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *arena_alloc(Arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	ArenaBlock *b = a->head;
	if (!b || b->used + size > b->cap) {
		size_t cap = size > 65536 ? size : 65536;
		b = xmalloc(sizeof *b + cap);
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

void *arena_dup(Arena *a, const void *p, size_t size)
{
	void *q = arena_alloc(a, size);
	if (size)
		memcpy(q, p, size);
	return q;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
	char *q = arena_alloc(a, n + 1);
	memcpy(q, s, n);
	q[n] = 0;
	return q;
}

char *arena_strdup(Arena *a, const char *s)
{
	return arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *q = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(q, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return q;
}

void arena_free(Arena *a)
{
	ArenaBlock *b = a->head;
	while (b) {
		ArenaBlock *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
}

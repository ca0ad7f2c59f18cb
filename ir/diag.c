/* ir/diag.c — see diag.h. */
#include "diag.h"
#include "ir.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const char *path, bool echo)
{
	memset(d, 0, sizeof *d);
	d->path = path ? path : "";
	d->echo = echo;
}

void diag_free(Diag *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

static void append(Diag *d, const char *msg)
{
	size_t n = strlen(msg);
	if (d->len + n + 2 > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		while (cap < d->len + n + 2)
			cap *= 2;
		d->buf = xrealloc(d->buf, cap);
		d->cap = cap;
	}
	d->last = d->len;
	memcpy(d->buf + d->len, msg, n);
	d->len += n;
	d->buf[d->len++] = '\n';
	d->buf[d->len] = 0;
	if (d->echo)
		fprintf(stderr, "%s\n", msg);
}

static void vemit(Diag *d, const char *kind, const char *prefix, const char *fmt, va_list ap)
{
	char body[2048];
	char msg[2600];
	vsnprintf(body, sizeof body, fmt, ap);
	if (d->path && d->path[0])
		snprintf(msg, sizeof msg, "%s: %s%s%s", d->path, kind, prefix, body);
	else
		snprintf(msg, sizeof msg, "%s%s%s", kind, prefix, body);
	append(d, msg);
}

void diag_error(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(d, "", "", fmt, ap);
	va_end(ap);
	d->nerrors++;
}

void diag_warn(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(d, "warning: ", "", fmt, ap);
	va_end(ap);
	d->nwarnings++;
}

void diag_node(Diag *d, const char *node_name, const char *op_type, int input,
               const char *fmt, ...)
{
	char prefix[600];
	if (input >= 0)
		snprintf(prefix, sizeof prefix, "node '%s' (%s): input %d: ", node_name, op_type, input);
	else
		snprintf(prefix, sizeof prefix, "node '%s' (%s): ", node_name, op_type);
	va_list ap;
	va_start(ap, fmt);
	vemit(d, "", prefix, fmt, ap);
	va_end(ap);
	d->nerrors++;
}

void diag_syserr(Diag *d, const char *what)
{
	int e = errno;
	char msg[1200];
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
	if (d->path && d->path[0]) {
		char full[1800];
		snprintf(full, sizeof full, "%s: %s", d->path, msg);
		append(d, full);
	} else {
		append(d, msg);
	}
	d->nerrors++;
	d->nsyserrors++;
}

const char *diag_last(const Diag *d)
{
	if (!d->buf)
		return "";
	return d->buf + d->last;
}

bool diag_contains(const Diag *d, const char *needle)
{
	return d->buf && strstr(d->buf, needle) != NULL;
}

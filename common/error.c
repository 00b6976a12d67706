#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void bderr_init(bderr *e)
{
	e->exit_code = 0;
	e->sys_errno = 0;
	e->msg[0] = '\0';
}

static void set_va(bderr *e, int code, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	e->exit_code = code;
}

int bderr_set(bderr *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_va(e, EXIT_FAILURE_RUN, fmt, ap);
	va_end(ap);
	e->sys_errno = 0;
	return -1;
}

int bderr_sys(bderr *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_va(e, EXIT_FAILURE_RUN, fmt, ap);
	va_end(ap);
	size_t n = strlen(e->msg);
	if (snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum)) < 0)
		e->msg[n] = '\0';
	e->sys_errno = errnum;
	return -1;
}

int bderr_usage(bderr *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_va(e, EXIT_USAGE, fmt, ap);
	va_end(ap);
	e->sys_errno = 0;
	return -1;
}

int bderr_prefix(bderr *e, const char *fmt, ...)
{
	char head[BDERR_MSG_MAX];
	char old[BDERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* a message longer than the buffer is cut, which is acceptable */
	if (snprintf(e->msg, sizeof e->msg, "%s: %s", head, old) >= (int)sizeof e->msg)
		e->msg[sizeof e->msg - 1] = '\0';
	if (e->exit_code == 0)
		e->exit_code = EXIT_FAILURE_RUN;
	return -1;
}

int bderr_isset(const bderr *e)
{
	return e->msg[0] != '\0';
}

void bderr_list_add(bderr_list *l, bderr *e)
{
	l->items = xrealloc(l->items, (l->n + 1) * sizeof *l->items);
	l->items[l->n++] = *e;
	bderr_init(e);
}

void bderr_list_free(bderr_list *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/*
 * libFuzzer target: postgresql.conf / postgresql.auto.conf text as pitr
 * reads it from a base backup (pitr_conf_value, restore/pitr.c) to warn when
 * the copy would archive into its source's archive.  Input: a setting name,
 * a newline, then the file's text.  A value found must be a NUL-terminated
 * string no longer than the text it came from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "restore/pitr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t nlen = nl ? (size_t)(nl - (const char *)data) : 0;
	char *name = xstrndup((const char *)data, nlen);
	/* the text stops at its first NUL, as the file read into a string would */
	char *text = xstrndup(nl ? nl + 1 : (const char *)data, nl ? size - nlen - 1 : size);
	static const char *const fixed[] = { "archive_mode", "archive_command", "archive_library" };
	for (size_t i = 0; i < 4; i++) {
		char *v = pitr_conf_value(text, i < 3 ? fixed[i] : name);
		if (v != NULL && strlen(v) > strlen(text)) {
			fprintf(stderr, "a value longer than its text\n");
			abort();
		}
		free(v);
	}
	free(name);
	free(text);
	return 0;
}

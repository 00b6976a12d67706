/*
 * libFuzzer target: the quote-aware SQL statement splitter behind
 * --no-owner/--no-privileges (restore/pg_sql_filter.c).  The first byte
 * picks what is dropped.  The result may only shrink, and filtering it again
 * must drop nothing more (what survives is whole statements that were kept).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "restore/pg_sql_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int drop = (data[0] & 3) ? (data[0] & 3) : SQL_DROP_OWNER | SQL_DROP_PRIVILEGES;
	size_t len = size - 1;
	char *sql = xmalloc(len + 1);
	memcpy(sql, data + 1, len);
	sql[len] = '\0';
	size_t dropped = pg_sql_filter(sql, &len, drop);
	if (len > size - 1 || (dropped == 0 && (len != size - 1 || memcmp(sql, data + 1, len) != 0)))
		abort();
	char *again = xmalloc(len + 1);
	memcpy(again, sql, len);
	size_t len2 = len;
	if (pg_sql_filter(again, &len2, drop) != 0 || len2 != len) {
		fprintf(stderr, "filtering the filtered text dropped more\n");
		abort();
	}
	free(again);
	free(sql);
	return 0;
}

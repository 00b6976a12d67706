/*
 * libFuzzer target: the quote-aware SQL statement splitter
 * (engines/pg/pg_sql_filter.c).  The statement walk restore executes scripts
 * with must make progress and return pieces in order, inside the text, with
 * meta-commands starting at their backslash and ending at their line's end
 * and the right line numbers; the meta-command check must agree with it.
 * Then the --no-owner/--no-privileges filter (the first byte picks what is
 * dropped): the result may only shrink, and filtering it again must drop
 * nothing more (what survives is whole statements that were kept).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/pg/pg_sql_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const char *sql, size_t len)
{
	pg_sql_iter it;
	pg_sql_piece p;
	size_t pos = 0, line = 1, counted = 0, n = 0;
	char *entry = NULL;
	int meta = 0;
	pg_sql_iter_init(&it, sql, len);
	while (pg_sql_iter_next(&it, &p)) {
		if (++n > len + 1 || p.lead != pos || p.start < p.lead || p.end < p.start ||
		    p.end > len || it.pos <= pos) {
			fprintf(stderr, "piece %zu: lead %zu start %zu end %zu next %zu (was at %zu, len %zu)\n",
				n, p.lead, p.start, p.end, it.pos, pos, len);
			abort();
		}
		if (p.kind == PG_SQL_META &&
		    (sql[p.start] != '\\' || (p.end < len && sql[p.end] != '\n') ||
		     memchr(sql + p.start, '\n', p.end - p.start) != NULL))
			abort();
		for (; counted < p.start; counted++)
			line += sql[counted] == '\n';
		if (p.line != line)
			abort();
		pg_sql_track_entry(sql, p.lead, p.start, &entry);
		if (p.kind == PG_SQL_META &&
		    !(!p.inside_statement && (p.start == 0 || sql[p.start - 1] == '\n') &&
		      pg_sql_is_restrict_line(sql + p.start, p.end - p.start)))
			meta = 1;
		pos = it.pos;
	}
	free(entry);
	char what[200];
	if (pg_sql_check_meta(sql, len, what, sizeof what) != meta)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int drop = (data[0] & 3) ? (data[0] & 3) : SQL_DROP_OWNER | SQL_DROP_PRIVILEGES;
	size_t len = size - 1;
	char *sql = xmalloc(len + 1);
	memcpy(sql, data + 1, len);
	sql[len] = '\0';
	walk(sql, len);
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

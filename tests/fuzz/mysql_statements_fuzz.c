/*
 * libFuzzer target: MySQL statement files (engines/mysql/myformat.c): the
 * "-- statement" / "-- table:" framing with "-- key: value" headers and
 * "-- length: N" bodies, then DEFINER removal on every statement and TSV
 * unescaping of the whole input as one field.  Then the input, cut at NUL
 * bytes, is a list of statement texts: framed as the dump writes them
 * (engines/mysql/mysql_schema.c), they must parse back exactly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/myformat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* As mysql_schema.c's append_statement. */
static void append_statement(strbuf *b, const char *sql)
{
	strbuf_appendf(b, "-- length: %zu\n", strlen(sql));
	strbuf_appends(b, sql);
	strbuf_appends(b, ";\n");
}

static void round_trip(const char *data, size_t size)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "");
	size_t n = 0;
	for (const char *p = data, *end = data + size; p <= end; n++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
		char *text = xstrndup(p, len);
		if (n % 2) {
			char *enc = my_name_encode(text);
			strbuf_appendf(&b, "-- table: %s\n", enc);
			free(enc);
		} else {
			strbuf_appends(&b, "-- statement\n-- sql_mode: NO_AUTO_VALUE_ON_ZERO\n"
					   "-- character_set_client: latin1\n");
		}
		append_statement(&b, text);
		free(text);
		p += len + 1;
	}
	my_statements *s = my_statements_parse(b.data, b.len);
	if (s->n != n)
		abort();
	const char *p = data;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(s->items[i].text);
		if (memcmp(s->items[i].text, p, len) != 0 || (p + len < data + size && p[len] != '\0'))
			abort();
		if ((i % 2 == 0) != (s->items[i].sql_mode != NULL))
			abort();
		p += len + 1;
	}
	my_statements_free(s);
	strbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: reads past the end are caught */
	char *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	my_statements *s = my_statements_parse(buf, size);
	for (size_t i = 0; i < s->n; i++) {
		if (s->items[i].text == NULL)
			abort();
		free(my_strip_definer(s->items[i].text));
	}
	my_statements_free(s);
	char *dst = xmalloc(size ? size : 1);
	size_t dlen = 0;
	if (tsv_unescape(buf, size, dst, &dlen) == 0 && dlen > size)
		abort();
	free(dst);
	round_trip(buf, size);
	free(buf);
	return 0;
}

/*
 * libFuzzer target: MySQL statement files (common/myformat.c): the
 * "-- statement" / "-- table:" framing with "-- key: value" headers and
 * "-- length: N" bodies, then DEFINER removal on every statement and TSV
 * unescaping of the whole input as one field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/myformat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	free(buf);
	return 0;
}

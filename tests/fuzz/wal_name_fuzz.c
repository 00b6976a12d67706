/*
 * libFuzzer target: WAL archive file names and segment headers
 * (archive/wal.c).  Input: a file name, optionally followed by a newline and
 * the bytes of a segment.  A name that parses must map to an object path
 * whose base name parses back to the same name; the bytes go through the
 * header parser and the whole-segment check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/wal.h"
#include "common/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SHA[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t nlen = nl ? (size_t)(nl - (const char *)data) : size;
	const unsigned char *seg = nl ? (const unsigned char *)nl + 1 : NULL;
	size_t seg_len = nl ? size - nlen - 1 : 0;
	char *name = xstrndup((const char *)data, nlen);
	bderr err;
	bderr_init(&err);
	wal_name n, back;
	char sha[65];
	if (wal_name_parse(name, &n, &err) == 0) {
		char *path = wal_object_path("src", name, SHA);
		if (path == NULL)
			abort();
		const char *base = strrchr(path, '/') + 1;
		if (wal_object_parse(base, &back, sha) < 0 || back.kind != n.kind ||
		    back.tli != n.tli || strcmp(back.pos, n.pos) != 0 ||
		    strcmp(back.file, n.file) != 0 || strcmp(sha, SHA) != 0) {
			fprintf(stderr, "'%s' -> '%s' does not parse back\n", name, path);
			abort();
		}
		free(path);
		char next[25];
		for (uint32_t sz = 1u << 20; sz <= 1u << 30; sz <<= 1) {
			if (wal_segment_next(name, sz, next) == 0 &&
			    (n.kind != WAL_KIND_SEGMENT || strcmp(next, name) <= 0 ||
			     wal_name_parse(next, &back, &err) < 0)) {
				fprintf(stderr, "'%s': next segment '%s'\n", name, next);
				abort();
			}
		}
		if (seg && (n.kind == WAL_KIND_SEGMENT || n.kind == WAL_KIND_PARTIAL)) {
			wal_segment_header h;
			(void)wal_segment_check(&n, seg, seg_len, &h, &err);
		}
	} else {
		(void)wal_object_parse(name, &back, sha);
	}
	if (seg) {
		wal_segment_header h;
		if (wal_segment_header_parse(seg, seg_len, &h, &err) == 0)
			(void)wal_pg_version_from_magic(h.magic);
	}
	free(name);
	return 0;
}

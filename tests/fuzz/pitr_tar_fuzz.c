/*
 * libFuzzer target: base backup tar archives as pitr reads them
 * (restore/tar_extract.c): libarchive's tar reader from memory plus every
 * check an entry passes before extraction (tar_check_memory), with one
 * tablespace (pg_tblspc/16385) whose link is expected.  Nothing is written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "restore/tar_extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const oids[] = { "16385", NULL };
	/* a copy of exactly size bytes: reads past the end are caught */
	char *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	bderr err;
	bderr_init(&err);
	(void)tar_check_memory(buf, size, oids, &err);
	free(buf);
	return 0;
}

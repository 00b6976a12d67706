/*
 * libFuzzer target: base backup tar archives as pitr reads them
 * (restore/pitr.c): libarchive's tar reader from memory plus every check an
 * entry passes before extraction, with one tablespace (pg_tblspc/16385)
 * whose link is allowed.  Nothing is written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "restore/pitr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	bderr err;
	bderr_init(&err);
	(void)pitr_tar_check(buf, size, "16385", "/nonexistent/ts", &err);
	free(buf);
	return 0;
}

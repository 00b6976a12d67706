/*
 * libFuzzer target: a WAL object's bytes as read from a repository
 * (archive/wal.c: wal_object_frames_check, then the decompression
 * wal_object_read does).  An object that passes the check must decompress
 * to exactly its content size or fail with a zstd error: never more bytes,
 * never a crash.  Sizes above 4 MB are not decompressed (time, not safety:
 * the check bounds them at 1 GB).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zstd.h>

#include "archive/wal.h"
#include "common/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t content = 0;
	if (wal_object_frames_check(data, size, &content) != NULL || content > 4 * 1024 * 1024)
		return 0;
	char *buf = xmalloc(content ? (size_t)content : 1);
	size_t got = ZSTD_decompress(buf, (size_t)content, data, size);
	if (!ZSTD_isError(got) && got != content) {
		fprintf(stderr, "frames announce %llu bytes, decompressed %zu\n", (unsigned long long)content, got);
		abort();
	}
	free(buf);
	return 0;
}

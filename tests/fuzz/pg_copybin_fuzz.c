/*
 * libFuzzer target: binary COPY data as a server might send it
 * (engines/pg/pg_copybin.c).  The input is cut into CopyData messages at
 * each 2-byte big-endian length prefix; the reader must accept or refuse
 * each without a crash, count no more tuples than it was given bytes, and,
 * once it refused, say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engines/pg/pg_copybin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_copybin b;
	pg_copybin_init(&b, 1);
	digest_sum sum = { 0, 0 };
	bderr err;
	bderr_init(&err);
	size_t off = 0;
	int rc = 0;
	while (rc == 0 && off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		/* a copy of its own, so a read past the message is the sanitizer's to see */
		uint8_t *msg = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			msg[i] = data[off + i];
		rc = pg_copybin_read(&b, msg, n, &sum, NULL, NULL, &err);
		free(msg);
		off += n;
	}
	if (rc == 0)
		rc = pg_copybin_end(&b, &err);
	if (rc != 0 && !bderr_isset(&err))
		abort();
	if (b.rows < 0 || (uint64_t)b.rows > size / 2 || sum.rows != b.rows)
		abort();
	return 0;
}

#include "engines/pg/pg_copybin.h"

#include <string.h>

static const unsigned char signature[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0 };

/* The signature, no flags, no header extension; and the -1 field count that ends a stream. */
const unsigned char pg_copybin_header[PG_COPYBIN_HEADER_LEN] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff,
								 '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0 };
const unsigned char pg_copybin_trailer[PG_COPYBIN_TRAILER_LEN] = { 0xff, 0xff };

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int16_t get16(const unsigned char *p)
{
	return (int16_t)(uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

void pg_copybin_init(pg_copybin *b, int binary)
{
	b->binary = binary;
	b->state = 0;
	b->fields = -1;
	b->rows = 0;
}

#define BAD(...) bderr_set(err, "malformed binary COPY data: " __VA_ARGS__)

/* The header at p[0..len): its length into *used. */
static int header(const unsigned char *p, size_t len, size_t *used, bderr *err)
{
	if (len < sizeof signature + 8)
		return BAD("a header of %zu bytes", len);
	if (memcmp(p, signature, sizeof signature) != 0)
		return BAD("no binary COPY signature");
	uint32_t flags = get32(p + 11);
	/* bits 16-31 change the format (bit 16: OIDs included); 0-15 may be ignored */
	if (flags & 0xffff0000u)
		return BAD("header flags 0x%08x", (unsigned)flags);
	uint32_t ext = get32(p + 15);
	if (ext > len - (sizeof signature + 8))
		return BAD("a header extension of %u bytes in a message of %zu", (unsigned)ext, len);
	*used = sizeof signature + 8 + ext;
	return 0;
}

/* One tuple at p[0..len) (or the trailer): its length into *used. */
static int tuple(pg_copybin *b, const unsigned char *p, size_t len, size_t *used, bderr *err)
{
	if (len < 2)
		return BAD("a tuple of %zu bytes", len);
	int16_t n = get16(p);
	if (n == -1) {
		b->state = 2;
		*used = 2;
		return 0;
	}
	if (n < 0)
		return BAD("a field count of %d", n);
	if (b->fields >= 0 && n != b->fields)
		return BAD("a tuple of %d fields after tuples of %d", n, b->fields);
	size_t off = 2;
	for (int i = 0; i < n; i++) {
		if (len - off < 4)
			return BAD("a tuple cut short in field %d", i + 1);
		int32_t flen = (int32_t)get32(p + off);
		off += 4;
		if (flen == -1)
			continue;
		if (flen < 0 || (size_t)flen > len - off)
			return BAD("field %d of %d bytes with %zu left", i + 1, (int)flen, len - off);
		off += (size_t)flen;
	}
	b->fields = n;
	*used = off;
	return 0;
}

int pg_copybin_read(pg_copybin *b, const void *msg, size_t len, digest_sum *sum, size_t *from,
		    size_t *to, bderr *err)
{
	size_t ignored;
	if (from == NULL)
		from = &ignored;
	if (to == NULL)
		to = &ignored;
	*from = 0;
	*to = len;
	if (!b->binary) {
		b->rows++;
		if (sum)
			digest_sum_add(sum, msg, len);
		return 0;
	}
	const unsigned char *p = msg;
	size_t off = 0;
	if (b->state == 0) {
		if (header(p, len, &off, err) != 0)
			return -1;
		b->state = 1;
	}
	*from = off;
	while (off < len) {
		if (b->state == 2)
			return BAD("%zu bytes after the trailer", len - off);
		size_t used = 0;
		if (tuple(b, p + off, len - off, &used, err) != 0)
			return -1;
		if (b->state == 1) {
			b->rows++;
			if (sum)
				digest_sum_add(sum, p + off, used);
		} else {
			*to = off;
		}
		off += used;
	}
	return 0;
}

int pg_copybin_end(const pg_copybin *b, bderr *err)
{
	if (!b->binary)
		return 0;
	if (b->state == 0)
		return BAD("no header");
	if (b->state == 1)
		return BAD("no trailer");
	return 0;
}

#include "engines/mysql/mysql_chunks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/mem.h"

uint64_t mysql_chunk_count(uint64_t data_bytes, uint64_t est_rows, uint64_t chunk_bytes)
{
	if (chunk_bytes == 0 || data_bytes <= chunk_bytes)
		return 1;
	uint64_t n = data_bytes / chunk_bytes + (data_bytes % chunk_bytes ? 1 : 0);
	if (est_rows > 0 && n > est_rows)
		n = est_rows;
	return n ? n : 1;
}

/* Signed keys are mapped onto uint64 order-preservingly by flipping the sign bit. */
static int parse_key(const char *s, int is_unsigned, uint64_t *out)
{
	char *end;
	errno = 0;
	if (s == NULL || *s == '\0')
		return -1;
	if (is_unsigned) {
		if (*s == '-')
			return -1;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno || *end)
			return -1;
		*out = (uint64_t)v;
	} else {
		long long v = strtoll(s, &end, 10);
		if (errno || *end)
			return -1;
		*out = (uint64_t)v ^ (UINT64_C(1) << 63);
	}
	return 0;
}

static char *format_key(uint64_t u, int is_unsigned)
{
	if (is_unsigned)
		return xasprintf("%" PRIu64, u);
	return xasprintf("%" PRId64, (int64_t)(u ^ (UINT64_C(1) << 63)));
}

uint64_t mysql_split_int_range(const char *min, const char *max, int is_unsigned, uint64_t want,
			       char ***bounds)
{
	*bounds = NULL;
	uint64_t lo, hi;
	if (want <= 1 || parse_key(min, is_unsigned, &lo) != 0 ||
	    parse_key(max, is_unsigned, &hi) != 0 || hi <= lo)
		return 1;
	uint64_t span = hi - lo; /* no overflow: hi > lo in the mapped order */
	uint64_t n = want > span ? span : want;
	if (n <= 1)
		return 1;
	uint64_t step = span / n;
	char **b = xcalloc((size_t)n - 1, sizeof *b);
	for (uint64_t i = 1; i < n; i++)
		b[i - 1] = format_key(lo + step * i, is_unsigned);
	*bounds = b;
	return n;
}

#include "archive/lsn.h"

#include <stdio.h>

static int hex_part(const char *s, const char **end, uint32_t *out)
{
	uint64_t v = 0;
	int n = 0;
	for (; *s; s++, n++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (n == 8)
			return -1;
		v = v * 16 + (uint64_t)d;
	}
	if (n == 0)
		return -1;
	*end = s;
	*out = (uint32_t)v;
	return 0;
}

int lsn_parse(const char *s, uint64_t *out)
{
	uint32_t hi, lo;
	const char *p;
	if (s == NULL || hex_part(s, &p, &hi) < 0 || *p != '/' || hex_part(p + 1, &p, &lo) < 0 ||
	    *p != '\0')
		return -1;
	*out = ((uint64_t)hi << 32) | lo;
	return 0;
}

void lsn_format(uint64_t lsn, char out[LSN_TEXT_MAX])
{
	snprintf(out, LSN_TEXT_MAX, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

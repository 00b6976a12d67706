#include "common/port.h"

int port_parse(const char *s, size_t n, unsigned *out)
{
	if (n == 0)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535) /* before it can overflow, however many digits follow */
			return -1;
	}
	if (v < 1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

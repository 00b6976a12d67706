/*
 * A TCP port written in a URL or an ADDR:PORT option, parsed one way for
 * every caller (the /metrics listen address, PostgreSQL and MySQL URIs):
 * decimal digits only, 1 to 65535.  Each caller words its own error.
 */
#ifndef BACKUPD_COMMON_PORT_H
#define BACKUPD_COMMON_PORT_H

#include <stddef.h>

/*
 * The n bytes at s (not NUL-terminated: a port inside a URL) as a port:
 * 0 with *out set, or -1 when they are empty, hold anything but the digits
 * 0-9 (no sign, no blank: strtoul would take " +80"), or make a number
 * outside 1..65535 (leading zeros are fine: "0080" is 80; overflow cannot
 * wrap into range).
 */
int port_parse(const char *s, size_t n, unsigned *out);

#endif

/*
 * Binary COPY streams (COPY ... (FORMAT binary)), as the server sends them
 * in CopyData messages: the 11-byte signature, an int32 flags word and an
 * int32 header-extension length (+ that many bytes) at the start of the
 * first message, then one tuple per message (int16 field count, then per
 * field an int32 length, -1 for NULL, and the bytes), and last the int16 -1
 * trailer.  A table whose every dumped column has a built-in type with a
 * stable binary form (PG_COPY_BINARY_SQL) is dumped, restored, migrated and
 * digested in this format: no value is formatted as text on the server nor
 * parsed back (bytea stays its size instead of doubling as hex).
 *
 * The reader checks what comes from the server before anything is counted
 * or hashed: a short or malformed header, a tuple cut short or split across
 * messages, a field length out of range, data after the trailer or a stream
 * without one are errors, never a crash.  Each tuple's bytes (field count
 * included, header and trailer not) are one row of the digest
 * (engines/digest.h): the sum of their xxh64.
 */
#ifndef BACKUPD_ENGINES_PG_COPYBIN_H
#define BACKUPD_ENGINES_PG_COPYBIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engines/digest.h"

/*
 * SQL, true when type t (a pg_type alias) may travel in binary: built in
 * (oid < 16384), a base, range or multirange type (not a domain, enum,
 * composite or pseudo-type) with both typsend and typreceive, and not one
 * of the reg* types, whose binary form is a raw OID (their text is the
 * object's name, which a restore resolves again).  An array's (or other
 * subscripted type's) elements must pass the same test.
 */
#define PG_COPY_BINARY_TYPE_SQL(t)                                                             \
	"(" t ".oid < 16384 AND " t ".typsend::pg_catalog.oid <> 0 AND "                          \
	t ".typreceive::pg_catalog.oid <> 0 AND " t ".typtype IN ('b', 'r', 'm') AND "            \
	t ".oid NOT IN (24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191))"

/*
 * SQL, true when every column of relation rel (an expression for its oid)
 * that cols (a condition on pg_attribute alias a) selects passes
 * PG_COPY_BINARY_TYPE_SQL, elements included.
 */
#define PG_COPY_BINARY_SQL(rel, cols)                                                          \
	"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "                                     \
	"JOIN pg_catalog.pg_type bt ON bt.oid = a.atttypid "                                       \
	"LEFT JOIN pg_catalog.pg_type be ON be.oid = bt.typelem "                                  \
	"WHERE a.attrelid = " rel " AND a.attnum > 0 AND NOT a.attisdropped AND " cols " "         \
	"AND NOT coalesce(" PG_COPY_BINARY_TYPE_SQL("bt") " AND (bt.typelem = 0 OR "               \
	PG_COPY_BINARY_TYPE_SQL("be") "), false))"

/*
 * One table's COPY TO stream as the dump, the digest and migrate read it:
 * binary (the format above) or text, where each CopyData message is one row.
 */
typedef struct pg_copybin {
	int binary;     /* the table's format: 1 binary, 0 text */
	int state;      /* binary: 0 the header is next; 1 tuples; 2 the trailer was read */
	int fields;     /* binary: every tuple's field count (the first one's), -1 before it */
	int64_t rows;   /* rows read */
} pg_copybin;

void pg_copybin_init(pg_copybin *b, int binary);

/*
 * One CopyData message of the stream: its rows counted and, when sum is not
 * NULL, each added to it.  When from and to are not NULL, [*from, *to) is
 * the span of msg that holds its rows: in binary, the header (first
 * message) and the trailer (last) left out, for a writer that cuts one
 * stream into several, each with a header and a trailer of its own
 * (pg_copybin_header, pg_copybin_trailer); in text, the whole message.
 * Binary: -1 and err set ("malformed binary COPY data: ...") on anything
 * but the format.
 */
int pg_copybin_read(pg_copybin *b, const void *msg, size_t len, digest_sum *sum, size_t *from,
		    size_t *to, bderr *err);

#define PG_COPYBIN_HEADER_LEN 19
#define PG_COPYBIN_TRAILER_LEN 2
/* A header without flags or extension, as the server sends it; the trailer. */
extern const unsigned char pg_copybin_header[PG_COPYBIN_HEADER_LEN];
extern const unsigned char pg_copybin_trailer[PG_COPYBIN_TRAILER_LEN];

/* Once the server ended the COPY: in binary, -1 unless the header and the trailer were read. */
int pg_copybin_end(const pg_copybin *b, bderr *err);

/*
 * The WITH clause of a COPY statement: "" (text, no FREEZE),
 * " WITH (FREEZE)", " WITH (FORMAT binary)" or " WITH (FORMAT binary, FREEZE)".
 */
static inline const char *pg_copy_with(int binary, int freeze)
{
	if (binary)
		return freeze ? " WITH (FORMAT binary, FREEZE)" : " WITH (FORMAT binary)";
	return freeze ? " WITH (FREEZE)" : "";
}

#endif

/*
 * Drops ownership and privilege statements from pg_dump's plain SQL, for
 * restores onto a server that lacks the source's roles (a new machine, a
 * managed target): what pg_restore's --no-owner and --no-privileges do with
 * its archive's table of contents.  Plain SQL has no such table, so this
 * splits the text into top-level statements, honouring quotes, dollar quotes
 * and comments, so that a function body that merely contains "OWNER TO" is
 * never touched.
 */
#ifndef BACKUPD_ENGINES_PG_SQL_FILTER_H
#define BACKUPD_ENGINES_PG_SQL_FILTER_H

#include <stddef.h>

enum {
	SQL_DROP_OWNER = 1,      /* ALTER ... OWNER TO role; */
	SQL_DROP_PRIVILEGES = 2  /* GRANT, REVOKE, ALTER DEFAULT PRIVILEGES */
};

/*
 * Filters sql[0..*len) in place and updates *len; returns how many statements
 * were dropped.  Text it cannot classify is kept as it is.
 */
size_t pg_sql_filter(char *sql, size_t *len, int drop);

/*
 * Walking a script statement by statement, for executing it through libpq
 * (never through psql: nothing from a repository may reach a client's
 * meta-command processor or a shell).  A backslash outside quotes and
 * comments is where psql would start a meta-command: the walk reports it as
 * a piece of its own, reaching to the end of its line, for the caller to
 * refuse (or skip, for pg_dump's own \restrict lines).
 */
typedef enum pg_sql_piece_kind {
	PG_SQL_STATEMENT = 0, /* [start, end) up to and including its ';' (or the end) */
	PG_SQL_META           /* [start, end) the meta-command's line from its backslash */
} pg_sql_piece_kind;

typedef struct pg_sql_piece {
	pg_sql_piece_kind kind;
	size_t lead;          /* where the blank text (comments) before it began */
	size_t start;
	size_t end;
	size_t line;          /* 1-based line of start */
	int inside_statement; /* META: statement text preceded it on its line or lines */
} pg_sql_piece;

typedef struct pg_sql_iter {
	const char *sql;
	size_t len;
	size_t pos;
	size_t line;
	size_t line_pos;
} pg_sql_iter;

void pg_sql_iter_init(pg_sql_iter *it, const char *sql, size_t len);
/* 1 and *out filled while there is a piece; 0 at the end. */
int pg_sql_iter_next(pg_sql_iter *it, pg_sql_piece *out);

/*
 * 1 when line[0..n) is exactly "\restrict KEY" or "\unrestrict KEY" as
 * pg_dump writes them (KEY letters and digits); 0 for anything else.
 */
int pg_sql_is_restrict_line(const char *line, size_t n);

/*
 * pg_dump heads each entry with "-- Name: X; Type: T; Schema: S; Owner: O":
 * the last such header in sql[from, to) replaces *entry (malloc'ed "T S.X",
 * caller frees); *entry stays as it was when there is none.
 */
void pg_sql_track_entry(const char *sql, size_t from, size_t to, char **entry);

/*
 * 0 when the script holds no psql meta-command but pg_dump's exact
 * \restrict/\unrestrict lines; else 1 and what[] says where ("line N
 * (TABLE public.t): psql meta-command '\! ...'").
 */
int pg_sql_check_meta(const char *sql, size_t len, char *what, size_t what_len);

#endif

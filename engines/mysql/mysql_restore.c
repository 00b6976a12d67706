#include "engines/mysql/my_digest.h"
#include "engines/mysql/mysql_restore.h"
#include "engines/mysql/mysql_provision.h"
#include "engines/mysql/mysql_users.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_format.h"
#include "engines/mysql/mysql_keys.h"
#include "engines/mysql/mysql_tmpdb.h"
#include "common/taskgraph.h"

#define IO_BUF (1024 * 1024)
/* Schema files are held in memory: they grow with the schema, not the data. */
#define SCHEMA_MAX ((size_t)1 << 30)
/* INSERT fallback: statements of about this size (capped by max_allowed_packet). */
#define INSERT_BATCH (4 * 1024 * 1024)
/* Tries per chunk when the server reports a deadlock or lock wait timeout. */
#define LOAD_ATTEMPTS 5

typedef struct target_db {
	const my_dump_db *src; /* the manifest's database entry */
	const char *src_name;
	char *name;           /* name on the target server */
	char *tmp;            /* --create: the temporary database tables and data go into */
	const char *load_into; /* where tables and data go: tmp, or name */
	int created;          /* name was created by this restore */
	int tmp_created;
	char **key_tables;    /* tables created without their secondary keys (mysql_keys.h) */
	char **key_adds;      /* and their "ADD KEY ..." clauses, for after the load */
	size_t n_keys;
} target_db;

typedef struct restore_ctx {
	repo *repo;
	const manifest *m;    /* NULL when a feed gives schema and rows */
	const my_feed *feed;
	const char *label;    /* "backup ID" or what the feed names, for messages */
	const json_t *users_info; /* an info object with "users", or NULL */
	const engine_restore_options *o;
	my_dump_info info;    /* the manifest's info, validated */
	my_uri uri;
	const char *sql_mode;
	int mysql_flavor;     /* the dump came from MySQL (JSON is a real type there) */
	int use_load_data;
	size_t insert_batch;
	target_db *dbs;
	size_t n_dbs;
	char *session_charset;   /* the coordinator's own character_set_client and */
	char *session_collation; /* collation_connection, for objects without headers */
	int keys_added;       /* the deferred secondary keys are all in (restore_data) */
} restore_ctx;

/* ---- objects ---- */

static const manifest_object *find_object(const manifest *m, const char *name, bderr *err)
{
	const manifest_object *o = manifest_find_object(m, name);
	if (o == NULL)
		bderr_set(err, "backup %s is damaged: its manifest does not describe '%s'", m->id, name);
	return o;
}

/* A schema file of a database, stored with or without compression. */
static const manifest_object *schema_object(restore_ctx *rc, const char *db, const char *file,
					    bderr *err)
{
	char *z = my_object_name(db, file, 1);
	const manifest_object *o = manifest_find_object(rc->m, z);
	if (o == NULL) {
		char *plain = my_object_name(db, file, 0);
		o = find_object(rc->m, plain, err);
		free(plain);
	}
	free(z);
	return o;
}

static int read_object(restore_ctx *rc, const manifest_object *mo, char **data, size_t *len,
		       bderr *err)
{
	return repo_object_read_all(rc->repo, rc->m, mo, SCHEMA_MAX, data, len, err);
}

/* ---- sessions ---- */

static int session_setup(restore_ctx *rc, MYSQL *c, bderr *err)
{
	char *mode = my_quote_literal(c, rc->sql_mode);
	char *sql = xasprintf("SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0, "
			      "SESSION sql_mode = %s, SESSION time_zone = '" MY_SESSION_TIME_ZONE "', "
			      "SESSION net_read_timeout = 3600, SESSION net_write_timeout = 3600, "
			      "SESSION wait_timeout = 86400",
			      mode);
	int r = my_exec(c, sql, "cannot configure the restore session", err);
	free(sql);
	free(mode);
	/*
	 * Off only when asked: on a primary, an unlogged restore never reaches
	 * its replicas.  For a new server it saves writing every row twice.
	 */
	if (r == 0 && rc->o->no_binlog)
		r = my_exec(c, "SET SESSION sql_log_bin = 0",
			    "cannot turn binary logging off for the restore (--no-binlog needs the SUPER or BINLOG ADMIN privilege)",
			    err);
	return r;
}

static int connect_target(restore_ctx *rc, my_charset_mode names, MYSQL **out, bderr *err)
{
	if (my_connect(&rc->uri, rc->o->password, NULL, names, rc->use_load_data, out, err) != 0)
		return -1;
	if (session_setup(rc, *out, err) != 0) {
		my_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int use_db(MYSQL *c, const char *db, bderr *err)
{
	if (mysql_select_db(c, db) == 0)
		return 0;
	char *what = xasprintf("cannot use database '%s'", db);
	my_fail(c, what, err);
	free(what);
	return -1;
}

/* ---- databases ---- */

static int count_query(MYSQL *c, const char *const *parts, const char *db, const char *what,
		       long *out, bderr *err)
{
	char *lit = my_quote_literal(c, db);
	strbuf b;
	strbuf_init(&b);
	for (int i = 0; parts[i]; i++) {
		if (i)
			strbuf_appends(&b, lit);
		strbuf_appends(&b, parts[i]);
	}
	char *sql = strbuf_detach(&b);
	char *v = NULL;
	int r = my_query_value(c, sql, what, &v, err);
	*out = v ? atol(v) : 0;
	free(v);
	free(sql);
	free(lit);
	return r;
}

/* The character set and collation clauses of CREATE DATABASE: the dumped database's. */
static char *create_options(MYSQL *c, const target_db *d)
{
	const char *cs = d->src->charset;
	const char *coll = d->src->collation;
	char *qcs = my_quote_literal(c, cs ? cs : "utf8mb4");
	char *opts;
	if (coll) {
		char *qcoll = my_quote_literal(c, coll);
		opts = xasprintf("CHARACTER SET %s COLLATE %s", qcs, qcoll);
		free(qcoll);
	} else {
		opts = xasprintf("CHARACTER SET %s", qcs);
	}
	free(qcs);
	return opts;
}

static int prepare_database(restore_ctx *rc, MYSQL *c, target_db *d, bderr *err)
{
	long exists = 0;
	static const char *const exists_q[] = {
		"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ", "", NULL
	};
	if (count_query(c, exists_q, d->name, "cannot look up the target database", &exists, err) != 0)
		return -1;
	if (rc->o->create) {
		if (exists)
			return bderr_set(err, "database '%s' already exists: restore into it without --create, or drop it first",
					 d->name);
		/* the target itself is created at the end (mysql_tmpdb.h) */
		char *opts = create_options(c, d);
		char *q = my_quote_ident(d->tmp);
		char *sql = xasprintf("CREATE DATABASE %s %s", q, opts);
		char *what = xasprintf("cannot create database '%s'", d->tmp);
		int r = my_exec(c, sql, what, err);
		free(what);
		free(sql);
		free(q);
		free(opts);
		if (r != 0)
			return -1;
		d->tmp_created = 1;
		return my_tmpdb_mark(c, d->tmp, err);
	}
	if (!exists)
		return bderr_set(err, "database '%s' does not exist: create it, or pass --create", d->name);
	if (rc->o->allow_non_empty)
		return 0;
	long n = 0;
	static const char *const objects_q[] = {
		"SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
		") + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ",
		") + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ",
		") + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ", ")", NULL
	};
	if (count_query(c, objects_q, d->name, "cannot inspect the target database", &n, err) != 0)
		return -1;
	if (n > 0)
		return bderr_set(err,
				 "target database '%s' is not empty (%ld objects): restore into a new database (--create) or pass --allow-non-empty",
				 d->name, n);
	return 0;
}

/* The cleanup's own connection in *c, opened on first use: 0, or -1 (err). */
static int cleanup_connect(MYSQL **c, restore_ctx *rc, bderr *err)
{
	return *c ? 0 : my_connect(&rc->uri, rc->o->password, NULL, MY_NAMES_UTF8MB4, 0, c, err);
}

static void drop_one(MYSQL **c, restore_ctx *rc, const char *name)
{
	bderr err;
	bderr_init(&err);
	if (cleanup_connect(c, rc, &err) != 0) {
		log_warn("cannot drop the incomplete database '%s': %s", name, err.msg);
		return;
	}
	char *q = my_quote_ident(name);
	char *sql = xasprintf("DROP DATABASE IF EXISTS %s", q);
	if (my_exec(*c, sql, "cannot drop the incomplete database", &err) != 0)
		log_warn("%s", err.msg);
	else
		log_info("dropped the incomplete database '%s'", name);
	free(sql);
	free(q);
}

/*
 * After a failure, on a connection of its own (the session's may be what
 * failed): the databases the restore created, then the user it provisioned
 * for them.  Frees prov.
 */
static void drop_created(restore_ctx *rc, mysql_provision *prov)
{
	MYSQL *c = NULL;
	for (size_t i = 0; i < rc->n_dbs; i++) {
		target_db *d = &rc->dbs[i];
		if (d->tmp_created)
			drop_one(&c, rc, d->tmp);
		if (d->created)
			drop_one(&c, rc, d->name);
	}
	if (prov != NULL) {
		bderr err;
		bderr_init(&err);
		if (cleanup_connect(&c, rc, &err) != 0)
			log_warn("cannot connect to undo the provisioning: %s", err.msg);
	}
	mysql_provision_abort(prov, c);
	my_close(c);
}

/* ---- statement files ---- */

static int load_statements(restore_ctx *rc, const char *db, const char *file, my_statements **out,
			   bderr *err)
{
	*out = NULL;
	if (rc->feed)
		return rc->feed->statements(rc->feed->ctx, db, file, out, err);
	const manifest_object *mo = schema_object(rc, db, file, err);
	if (mo == NULL)
		return -1;
	char *data = NULL;
	size_t len = 0;
	if (read_object(rc, mo, &data, &len, err) != 0)
		return -1;
	*out = my_statements_parse(data, len);
	free(data);
	return 0;
}

/*
 * Character set and collation names from a statement file go into SQL
 * unquoted (ALTER DATABASE ... COLLATE): only the characters such names have.
 */
static int valid_charset_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

static int is_utf8_charset(const char *cs)
{
	return strcasecmp(cs, "utf8mb4") == 0 || strcasecmp(cs, "utf8mb3") == 0 ||
	       strcasecmp(cs, "utf8") == 0;
}

static int has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/*
 * The statement text as the server gives it to the dump is UTF-8; an object
 * created by, say, a latin1 client must be sent in latin1 under
 * character_set_client = latin1 to come back the same.  The server converts;
 * *out is NULL when the text has a character the charset lacks.
 */
static int convert_text(MYSQL *c, const char *text, const char *cs, char **out, bderr *err)
{
	*out = NULL;
	size_t n = strlen(text);
	char *hex = xmalloc(2 * n + 1);
	mysql_hex_string(hex, text, (unsigned long)n);
	char *sql = xasprintf("SELECT CAST(CONVERT(CONVERT(X'%s' USING utf8mb4) USING %s) AS BINARY), "
			      "CAST(CONVERT(CONVERT(CONVERT(X'%s' USING utf8mb4) USING %s) USING utf8mb4) "
			      "AS BINARY) = X'%s'",
			      hex, cs, hex, cs, hex);
	free(hex);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot convert a schema object's text to its character set", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(r);
	unsigned long *len = row ? mysql_fetch_lengths(r) : NULL;
	if (row && row[0] && row[1] && strcmp(row[1], "1") == 0 && memchr(row[0], '\0', len[0]) == NULL)
		*out = xstrndup(row[0], len[0]);
	mysql_free_result(r);
	return 0;
}

/*
 * Sets the session to what the object was created under: sql_mode, time
 * zone, client character set and connection collation (files from before
 * the character set headers: the restore session's own).  *text is the
 * statement to send, converted to that character set when it needs to be
 * (caller frees).
 */
static int apply_headers(restore_ctx *rc, MYSQL *c, const my_statement *s, char **text, bderr *err)
{
	const char *cs = s->character_set_client ? s->character_set_client : rc->session_charset;
	const char *coll = s->collation_connection ? s->collation_connection : rc->session_collation;
	if (!valid_charset_name(cs) || !valid_charset_name(coll))
		return bderr_set(err, "%s is damaged: a schema object names an invalid character set or collation",
				 rc->label);
	*text = NULL;
	if (s->text && !is_utf8_charset(cs) && has_non_ascii(s->text)) {
		if (convert_text(c, s->text, cs, text, err) != 0)
			return -1;
		if (*text == NULL) {
			log_warn("a schema object's text has characters that %s lacks: created under %s instead (%.40s...)",
				 cs, rc->session_charset, s->text);
			cs = rc->session_charset;
			coll = rc->session_collation;
		}
	}
	if (*text == NULL && s->text)
		*text = xstrdup(s->text);
	char *mode = my_quote_literal(c, s->sql_mode ? s->sql_mode : rc->sql_mode);
	char *tz = my_quote_literal(c, s->time_zone ? s->time_zone : "+00:00");
	char *sql = xasprintf("SET SESSION sql_mode = %s, SESSION time_zone = %s, "
			      "SESSION character_set_client = '%s', SESSION collation_connection = '%s'",
			      mode, tz, cs, coll);
	int r = my_exec(c, sql, "cannot set the session for a schema object", err);
	free(sql);
	free(tz);
	free(mode);
	if (r != 0) {
		free(*text);
		*text = NULL;
	}
	return r;
}

/* Back to the restore session's own settings after the schema objects. */
static int reset_headers(restore_ctx *rc, MYSQL *c, bderr *err)
{
	my_statement none = { 0 };
	char *text = NULL;
	int r = apply_headers(rc, c, &none, &text, err);
	free(text);
	return r;
}

/*
 * Routines, triggers and events record the database's default collation
 * when they were created: the target database takes that collation while
 * such an object is created (as mysqldump does), and its own back at the end.
 */
typedef struct db_collation {
	char *original;       /* the target database's collation, NULL if unknown */
	char *current;
} db_collation;

static int db_collation_read(MYSQL *c, const char *db, db_collation *dc, bderr *err)
{
	memset(dc, 0, sizeof *dc);
	char *lit = my_quote_literal(c, db);
	char *sql = xasprintf("SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
			      "WHERE SCHEMA_NAME = %s", lit);
	int r = my_query_value(c, sql, "cannot read the target database's collation", &dc->original, err);
	free(sql);
	free(lit);
	if (r == 0 && dc->original)
		dc->current = xstrdup(dc->original);
	return r;
}

static int db_collation_set(MYSQL *c, const char *db, db_collation *dc, const char *want,
			    bderr *err)
{
	if (want == NULL || dc->current == NULL || strcmp(want, dc->current) == 0)
		return 0;
	if (!valid_charset_name(want))
		return bderr_set(err, "invalid database collation '%.64s' in a statement header", want);
	char *q = my_quote_ident(db);
	char *sql = xasprintf("ALTER DATABASE %s DEFAULT COLLATE %s", q, want);
	char *what = xasprintf("cannot give database '%s' the collation %s a schema object was created under",
			       db, want);
	int r = my_exec(c, sql, what, err);
	free(what);
	free(sql);
	free(q);
	if (r == 0) {
		free(dc->current);
		dc->current = xstrdup(want);
	}
	return r;
}

/* Restores the original collation (also after a failure: its own error is kept). */
static int db_collation_end(MYSQL *c, const char *db, db_collation *dc, int r, bderr *err)
{
	if (dc->original) {
		bderr e;
		bderr_init(&e);
		if (db_collation_set(c, db, dc, dc->original, &e) != 0) {
			if (r == 0) {
				*err = e;
				r = -1;
			} else {
				log_warn("%s", e.msg);
			}
		}
	}
	free(dc->original);
	free(dc->current);
	return r;
}

/* Sends text; the error names the object by shown (the text as dumped). */
static int run_text(MYSQL *c, const char *kind, const char *db, const char *text,
		    const char *shown, bderr *err)
{
	if (mysql_real_query(c, text, strlen(text)) == 0) {
		bderr ignored;
		bderr_init(&ignored);
		/* drain anything a statement returned */
		do {
			MYSQL_RES *r = mysql_store_result(c);
			if (r)
				mysql_free_result(r);
		} while (mysql_next_result(c) == 0);
		if (mysql_errno(c) == 0)
			return 0;
	}
	char what[256];
	snprintf(what, sizeof what, "cannot create %s in '%s' (%.60s%s)", kind, db, shown,
		 strlen(shown) > 60 ? "..." : "");
	for (char *p = what; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return my_fail(c, what, err);
}

static int run_statement(MYSQL *c, const char *kind, const char *db, const my_statement *s,
			 bderr *err)
{
	return run_text(c, kind, db, s->text, s->text, err);
}

/* One view, trigger, routine or event, under the session it was created in. */
static int run_object(restore_ctx *rc, MYSQL *c, const char *kind, const char *db,
		      const my_statement *s, bderr *err)
{
	char *text = NULL;
	if (apply_headers(rc, c, s, &text, err) != 0)
		return -1;
	int r = run_text(c, kind, db, text ? text : "", s->text ? s->text : "", err);
	free(text);
	return r;
}

/*
 * A table's CREATE without its plain secondary keys, which the data stage
 * adds after the table's load (mysql_keys.h); NULL: the statement as dumped.
 */
static char *create_without_keys(target_db *d, const my_statement *s, char *const *referenced,
				 size_t n_referenced)
{
	char *create = NULL, *add = NULL;
	if (s->table == NULL || s->text == NULL ||
	    !my_keys_split(s->text, s->table, referenced, n_referenced, &create, &add))
		return NULL;
	d->key_tables = xrealloc(d->key_tables, (d->n_keys + 1) * sizeof *d->key_tables);
	d->key_adds = xrealloc(d->key_adds, (d->n_keys + 1) * sizeof *d->key_adds);
	d->key_tables[d->n_keys] = xstrdup(s->table);
	d->key_adds[d->n_keys++] = add;
	return create;
}

static int restore_tables(restore_ctx *rc, MYSQL *c, target_db *d, bderr *err)
{
	my_statements *st;
	if (load_statements(rc, d->src_name, "tables.sql", &st, err) != 0)
		return -1;
	/* a table a foreign key points at keeps its keys (the key may be what it needs) */
	char **referenced = NULL;
	size_t n_referenced = 0;
	for (size_t i = 0; i < st->n; i++)
		if (st->items[i].text)
			my_keys_referenced(st->items[i].text, &referenced, &n_referenced);
	int r = use_db(c, d->load_into, err);
	for (size_t i = 0; i < st->n && r == 0; i++) {
		char *create = create_without_keys(d, &st->items[i], referenced, n_referenced);
		if (create)
			r = run_text(c, "a table", d->name, create, st->items[i].text, err);
		else
			r = run_statement(c, "a table", d->name, &st->items[i], err);
		free(create);
	}
	for (size_t i = 0; i < n_referenced; i++)
		free(referenced[i]);
	free(referenced);
	my_statements_free(st);
	return r;
}

static int restore_objects(restore_ctx *rc, MYSQL *c, target_db *d, const char *file,
			   const char *kind, bderr *err)
{
	my_statements *st;
	if (load_statements(rc, d->src_name, file, &st, err) != 0)
		return -1;
	db_collation dc;
	int r = use_db(c, d->name, err);
	if (r == 0)
		r = db_collation_read(c, d->name, &dc, err);
	if (r != 0) {
		my_statements_free(st);
		return -1;
	}
	for (size_t i = 0; i < st->n && r == 0; i++) {
		r = db_collation_set(c, d->name, &dc, st->items[i].database_collation, err);
		if (r == 0)
			r = run_object(rc, c, kind, d->name, &st->items[i], err);
	}
	my_statements_free(st);
	r = db_collation_end(c, d->name, &dc, r, err);
	if (r == 0)
		r = reset_headers(rc, c, err);
	return r;
}

/*
 * Views come in dependency order; a view whose dependency is still missing
 * (an order the dump could not see, e.g. through a function) is retried
 * after the others.
 */
static int restore_views(restore_ctx *rc, MYSQL *c, target_db *d, bderr *err)
{
	my_statements *st;
	if (load_statements(rc, d->src_name, "views.sql", &st, err) != 0)
		return -1;
	int r = use_db(c, d->name, err);
	char *done = xcalloc(st->n + 1, 1);
	size_t left = st->n;
	while (r == 0 && left > 0) {
		size_t before = left;
		bderr last;
		bderr_init(&last);
		for (size_t i = 0; i < st->n && r == 0; i++) {
			if (done[i])
				continue;
			bderr e;
			bderr_init(&e);
			if (run_object(rc, c, "a view", d->name, &st->items[i], &e) == 0) {
				done[i] = 1;
				left--;
				continue;
			}
			unsigned code = mysql_errno(c);
			if (code == 1146 || code == 1356 || code == 1305)
				last = e;
			else {
				*err = e;
				r = -1;
			}
		}
		if (r == 0 && left == before) {
			*err = last;
			r = -1;
		}
	}
	free(done);
	my_statements_free(st);
	if (r == 0)
		r = reset_headers(rc, c, err);
	return r;
}

/* ---- table data ---- */

struct my_load_item {
	target_db *db;
	const char *add_keys; /* not a load: the table's secondary keys, after its chunks */
	const char *table;
	const my_dump_table *t; /* columns and their types */
	const manifest_object *obj; /* NULL with a feed */
	size_t chunk;
	const char *label;    /* the object's name, or the chunk's */
	uint64_t size;        /* for the order: largest first */
	int64_t loaded;       /* rows loaded, once it is */
};
typedef struct my_load_item load_item;

/* A chunk's rows: a repository object, or a feed's stream. */
typedef struct chunk_reader {
	restore_ctx *rc;
	object_reader *orr;
	void *stream;
	int64_t fed;          /* rows the feed's stream gave, once closed */
} chunk_reader;

static int chunk_open(restore_ctx *rc, int worker, const load_item *it, chunk_reader *cr,
		      bderr *err)
{
	memset(cr, 0, sizeof *cr);
	cr->rc = rc;
	cr->fed = -1;
	if (rc->feed)
		return rc->feed->chunk_open(rc->feed->ctx, worker, it->db->src_name, it->t, it->chunk,
					    &cr->stream, err);
	return repo_object_open(rc->repo, rc->m, it->obj, &cr->orr, err);
}

/* The object reader checks size and SHA-256 on its last read. */
static int chunk_read(chunk_reader *cr, char *buf, size_t len, size_t *got, bderr *err)
{
	if (cr->stream)
		return cr->rc->feed->chunk_read(cr->stream, buf, len, got, err);
	return object_reader_read(cr->orr, buf, len, got, err);
}

static void chunk_close(chunk_reader *cr)
{
	if (cr->stream)
		cr->rc->feed->chunk_close(cr->stream, &cr->fed);
	cr->stream = NULL;
	object_reader_free(cr->orr);
	cr->orr = NULL;
}

/* The rows a loaded chunk must have: the manifest's count, or what the feed gave. */
static int64_t chunk_rows(const load_item *it, const chunk_reader *cr)
{
	return it->obj ? it->obj->rows : cr->fed;
}

static const char *column_type(const load_item *it, size_t k)
{
	return it->t->types ? it->t->types[k] : NULL;
}

/* How a dumped value becomes a column value (see the format notes). */
typedef enum conv { CONV_NONE, CONV_BIT, CONV_SPATIAL, CONV_TEXT } conv;

static conv column_conv(restore_ctx *rc, const char *type)
{
	if (type == NULL)
		return CONV_NONE;
	if (strcasecmp(type, "bit") == 0)
		return CONV_BIT;
	if (my_type_is_spatial(type))
		return CONV_SPATIAL;
	/* MySQL refuses JSON from a binary string; MariaDB's JSON is text */
	if (rc->mysql_flavor && strcasecmp(type, "json") == 0)
		return CONV_TEXT;
	/* MariaDB reads a binary string as these types' 16/4-byte binary form, not their text */
	if (strcasecmp(type, "uuid") == 0 || strcasecmp(type, "inet6") == 0 ||
	    strcasecmp(type, "inet4") == 0)
		return CONV_TEXT;
	return CONV_NONE;
}

static const char *conv_open(conv cv)
{
	switch (cv) {
	case CONV_BIT: return "CAST(";
	case CONV_SPATIAL: return "UNHEX(";
	case CONV_TEXT: return "CONVERT(";
	default: return "";
	}
}

static const char *conv_close(conv cv)
{
	switch (cv) {
	case CONV_BIT: return " AS UNSIGNED)";
	case CONV_SPATIAL: return ")";
	case CONV_TEXT: return " USING utf8mb4)";
	default: return "";
	}
}

static char *load_data_sql(restore_ctx *rc, const load_item *it)
{
	char *qt = my_quote_ident(it->table);
	strbuf cols, sets;
	strbuf_init(&cols);
	strbuf_init(&sets);
	int has_set = 0;
	for (size_t k = 0; k < it->t->n_columns; k++)
		has_set |= column_conv(rc, column_type(it, k)) != CONV_NONE;
	for (size_t k = 0; k < it->t->n_columns; k++) {
		char *q = my_quote_ident(it->t->columns[k]);
		const char *type = column_type(it, k);
		conv cv = column_conv(rc, type);
		/*
		 * MariaDB ignores NO_AUTO_VALUE_ON_ZERO for a column loaded directly
		 * when the LOAD has a SET clause: a 0 id would get a new value.
		 * Integer columns (the AUTO_INCREMENT one among them) then go
		 * through a variable too, which keeps the 0.
		 */
		int via_var = cv != CONV_NONE || (has_set && type && my_type_is_integer(type));
		if (k)
			strbuf_appends(&cols, ", ");
		if (!via_var) {
			strbuf_appends(&cols, q);
		} else {
			strbuf_appendf(&cols, "@v%zu", k);
			strbuf_appendf(&sets, "%s%s = %s@v%zu%s", sets.len ? ", " : "", q, conv_open(cv), k,
				       conv_close(cv));
		}
		free(q);
	}
	char *sql = xasprintf("LOAD DATA LOCAL INFILE 'backupd-chunk' INTO TABLE %s CHARACTER SET binary "
			      "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
			      "(%s)%s%s",
			      qt, cols.data ? cols.data : "", sets.len ? " SET " : "",
			      sets.len ? sets.data : "");
	strbuf_free(&cols);
	strbuf_free(&sets);
	free(qt);
	return sql;
}

typedef struct infile_ctx {
	restore_ctx *rc;
	const load_item *it;
	int worker;
	chunk_reader cr;
	int open;
	int failed;
	bderr err;
} infile_ctx;

static int infile_init(void **ptr, const char *filename, void *userdata)
{
	(void)filename;
	infile_ctx *ic = userdata;
	*ptr = ic;
	if (chunk_open(ic->rc, ic->worker, ic->it, &ic->cr, &ic->err) != 0) {
		ic->failed = 1;
		return 1;
	}
	ic->open = 1;
	return 0;
}

/* The object reader checks size and SHA-256 on its last read: a mismatch fails the LOAD. */
static int infile_read(void *ptr, char *buf, unsigned int len)
{
	infile_ctx *ic = ptr;
	size_t got = 0;
	if (ic->failed || chunk_read(&ic->cr, buf, len, &got, &ic->err) != 0) {
		ic->failed = 1;
		return -1;
	}
	return (int)got;
}

static void infile_end(void *ptr)
{
	infile_ctx *ic = ptr;
	if (ic->open)
		chunk_close(&ic->cr);
	ic->open = 0;
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
	infile_ctx *ic = ptr;
	snprintf(msg, len, "%s", bderr_isset(&ic->err) ? ic->err.msg : "cannot read the backup object");
	return 2000; /* CR_UNKNOWN_ERROR */
}

/* The first warning of the last statement, as text. */
static void first_warning(MYSQL *c, char *buf, size_t len)
{
	snprintf(buf, len, "unknown warning");
	bderr ignored;
	bderr_init(&ignored);
	MYSQL_RES *r;
	if (my_query(c, "SHOW WARNINGS LIMIT 1", "warnings", &r, &ignored) != 0)
		return;
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row && mysql_num_fields(r) >= 3 && row[2])
		snprintf(buf, len, "%s", row[2]);
	mysql_free_result(r);
}

/*
 * One chunk in one transaction: a chunk that fails verification (or the
 * connection) leaves none of its rows committed.  *broken is set when the
 * protocol state is unknown and the connection must not be used again.
 */
static int load_chunk(restore_ctx *rc, MYSQL *c, int worker, load_item *it, int *broken,
		      bderr *err)
{
	char *what = xasprintf("cannot load table %s.%s from '%s'", it->db->name, it->table,
			       it->label);
	char *sql = load_data_sql(rc, it);
	int rcode = -1;
	if (my_exec(c, "START TRANSACTION", what, err) != 0)
		goto out;
	infile_ctx ic = { .rc = rc, .it = it, .worker = worker };
	bderr_init(&ic.err);
	mysql_set_local_infile_handler(c, infile_init, infile_read, infile_end, infile_error, &ic);
	int qrc = mysql_real_query(c, sql, strlen(sql));
	if (ic.open)
		infile_end(&ic);
	if (ic.failed) {
		/* never commit: closing the connection rolls the chunk back */
		*broken = 1;
		*err = ic.err;
		bderr_prefix(err, "cannot load table %s.%s", it->db->name, it->table);
		goto out;
	}
	if (qrc != 0) {
		my_fail(c, what, err);
		/* a deadlock rolled the chunk back and left the connection usable */
		bderr ignored;
		bderr_init(&ignored);
		if (err->sys_errno != EDEADLK || my_exec(c, "ROLLBACK", "rollback", &ignored) != 0)
			*broken = 1;
		goto out;
	}
	my_ulonglong rows = mysql_affected_rows(c);
	if (mysql_warning_count(c) > 0) {
		char w[512];
		first_warning(c, w, sizeof w);
		bderr_set(err, "%s: the server changed data while loading: %s", what, w);
		*broken = 1;
		goto out;
	}
	int64_t want = chunk_rows(it, &ic.cr);
	if (want >= 0 && rows != (my_ulonglong)want) {
		bderr_set(err, "%s: loaded %llu rows but %s %" PRId64, what, (unsigned long long)rows,
			  it->obj ? "the manifest records" : "the source gave", want);
		*broken = 1;
		goto out;
	}
	if (my_exec(c, "COMMIT", what, err) != 0)
		goto out;
	it->loaded = (int64_t)rows;
	rcode = 0;
out:
	free(sql);
	free(what);
	return rcode;
}

/* ---- INSERT fallback ---- */

typedef struct insert_state {
	restore_ctx *rc;
	MYSQL *c;
	load_item *it;
	conv *convs;
	size_t n_cols;
	strbuf stmt;
	size_t prefix_len;
	size_t rows_in_stmt;
	int64_t rows;
	char *field;          /* unescaped value, reused */
	size_t field_cap;
	char *esc;            /* escaped value, reused */
	size_t esc_cap;
	const char *what;
} insert_state;

static int flush_insert(insert_state *is, bderr *err)
{
	if (is->rows_in_stmt == 0)
		return 0;
	if (mysql_real_query(is->c, is->stmt.data, is->stmt.len) != 0)
		return my_fail(is->c, is->what, err);
	if (mysql_warning_count(is->c) > 0) {
		char w[512];
		first_warning(is->c, w, sizeof w);
		return bderr_set(err, "%s: the server changed data while loading: %s", is->what, w);
	}
	is->stmt.len = is->prefix_len;
	is->stmt.data[is->stmt.len] = '\0';
	is->rows_in_stmt = 0;
	return 0;
}

static void grow(char **buf, size_t *cap, size_t need)
{
	if (need > *cap) {
		*cap = need > 2 * *cap ? need : 2 * *cap;
		*buf = xrealloc(*buf, *cap);
	}
}

static int insert_line(insert_state *is, const char *line, size_t n, bderr *err)
{
	strbuf_appends(&is->stmt, is->rows_in_stmt ? ",(" : "(");
	size_t col = 0;
	const char *p = line, *end = line + n;
	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fend = tab ? tab : end;
		if (col >= is->n_cols)
			return bderr_set(err, "%s: a row has more fields than the table's %zu columns",
					 is->what, is->n_cols);
		grow(&is->field, &is->field_cap, (size_t)(fend - p) + 1);
		size_t flen = 0;
		if (col)
			strbuf_append(&is->stmt, ",", 1);
		if (tsv_unescape(p, (size_t)(fend - p), is->field, &flen)) {
			strbuf_append(&is->stmt, "NULL", 4);
		} else {
			grow(&is->esc, &is->esc_cap, 2 * flen + 1);
			unsigned long elen = mysql_real_escape_string(is->c, is->esc, is->field, (unsigned long)flen);
			strbuf_appends(&is->stmt, conv_open(is->convs[col]));
			strbuf_append(&is->stmt, "'", 1);
			strbuf_append(&is->stmt, is->esc, elen);
			strbuf_append(&is->stmt, "'", 1);
			strbuf_appends(&is->stmt, conv_close(is->convs[col]));
		}
		col++;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (col != is->n_cols)
		return bderr_set(err, "%s: a row has %zu fields, the table %zu columns", is->what, col,
				 is->n_cols);
	strbuf_append(&is->stmt, ")", 1);
	is->rows_in_stmt++;
	is->rows++;
	if (is->stmt.len >= is->rc->insert_batch)
		return flush_insert(is, err);
	return 0;
}

static int insert_chunk(restore_ctx *rc, MYSQL *c, int worker, load_item *it, int *broken,
			bderr *err)
{
	insert_state is;
	memset(&is, 0, sizeof is);
	is.rc = rc;
	is.c = c;
	is.it = it;
	is.n_cols = it->t->n_columns;
	is.convs = xcalloc(is.n_cols + 1, sizeof *is.convs);
	char *what = xasprintf("cannot load table %s.%s from '%s'", it->db->name, it->table,
			       it->label);
	is.what = what;
	strbuf_init(&is.stmt);
	char *qt = my_quote_ident(it->table);
	strbuf_appendf(&is.stmt, "INSERT INTO %s (", qt);
	free(qt);
	for (size_t k = 0; k < is.n_cols; k++) {
		char *q = my_quote_ident(it->t->columns[k]);
		strbuf_appendf(&is.stmt, "%s%s", k ? ", " : "", q);
		free(q);
		is.convs[k] = column_conv(rc, column_type(it, k));
	}
	strbuf_appends(&is.stmt, ") VALUES ");
	is.prefix_len = is.stmt.len;

	chunk_reader cr;
	int cr_open = 0;
	char *buf = xmalloc(IO_BUF);
	strbuf line;
	strbuf_init(&line);
	int rcode = -1;
	if (my_exec(c, "START TRANSACTION", what, err) != 0)
		goto out;
	if (chunk_open(rc, worker, it, &cr, err) != 0)
		goto rollback;
	cr_open = 1;
	for (;;) {
		size_t got = 0;
		if (chunk_read(&cr, buf, IO_BUF, &got, err) != 0) {
			bderr_prefix(err, "cannot load table %s.%s", it->db->name, it->table);
			goto rollback;
		}
		if (got == 0)
			break;
		const char *p = buf, *end = buf + got;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				strbuf_append(&line, p, (size_t)(end - p));
				break;
			}
			int r;
			if (line.len) {
				strbuf_append(&line, p, (size_t)(nl - p));
				r = insert_line(&is, line.data, line.len, err);
				line.len = 0;
			} else {
				r = insert_line(&is, p, (size_t)(nl - p), err);
			}
			if (r != 0)
				goto rollback;
			p = nl + 1;
		}
	}
	if (line.len) {
		bderr_set(err, "%s: the last row is not terminated", what);
		goto rollback;
	}
	if (flush_insert(&is, err) != 0)
		goto rollback;
	chunk_close(&cr);
	cr_open = 0;
	int64_t want = chunk_rows(it, &cr);
	if (want >= 0 && is.rows != want) {
		bderr_set(err, "%s: loaded %" PRId64 " rows but %s %" PRId64, what, is.rows,
			  it->obj ? "the manifest records" : "the source gave", want);
		goto rollback;
	}
	if (my_exec(c, "COMMIT", what, err) != 0)
		goto out;
	it->loaded = is.rows;
	rcode = 0;
	goto out;
rollback:
	{
		bderr ignored;
		bderr_init(&ignored);
		if (my_exec(c, "ROLLBACK", "rollback", &ignored) != 0)
			*broken = 1;
	}
out:
	if (cr_open)
		chunk_close(&cr);
	strbuf_free(&line);
	strbuf_free(&is.stmt);
	free(buf);
	free(is.field);
	free(is.esc);
	free(is.convs);
	free(what);
	return rcode;
}

/* ---- data workers (common/workpool.h) ---- */

struct my_load_worker {
	MYSQL *conn;
	const char *current_db;
	int index;            /* 0..jobs-1: the feed's reading connection */
};
typedef struct my_load_worker load_worker;

/* The ALTER TABLE that adds a table's deferred secondary keys. */
static int add_deferred_keys(MYSQL *c, const target_db *d, const char *table, const char *keys,
			     bderr *err)
{
	char *q = my_quote_ident(table);
	char *sql = xasprintf("ALTER TABLE %s %s", q, keys);
	char *what = xasprintf("cannot add the secondary keys and foreign keys of table %s.%s", d->name, q);
	int r = my_exec(c, sql, what, err);
	free(what);
	free(sql);
	free(q);
	if (r == 0)
		log_debug("built the secondary keys of %s.%s", d->name, table);
	return r;
}

static int load_item_run(void *shared, void *worker, void *item, bderr *err)
{
	restore_ctx *rc = shared;
	load_worker *w = worker;
	load_item *it = item;
	int broken = 0;
	int r = 0;
	if (w->current_db != it->db->load_into) {
		r = use_db(w->conn, it->db->load_into, err);
		w->current_db = it->db->load_into;
	}
	if (r == 0 && it->add_keys) {
		/*
		 * The statement is the dump's UTF-8 text, this worker's session is
		 * binary (for the rows): under that a non-ASCII name would be
		 * another one (a foreign key to a table that does not exist).
		 * Only here: my_load_post's connection is UTF-8 already.
		 */
		r = my_exec(w->conn, "SET NAMES utf8mb4", "cannot set the session's character set", err);
		if (r == 0)
			r = add_deferred_keys(w->conn, it->db, it->table, it->add_keys, err);
		if (r == 0)
			r = my_exec(w->conn, "SET NAMES binary", "cannot set the session's character set", err);
		return r;
	}
	if (r == 0) {
		for (int attempt = 1;; attempt++) {
			r = rc->use_load_data ? load_chunk(rc, w->conn, w->index, it, &broken, err)
					      : insert_chunk(rc, w->conn, w->index, it, &broken, err);
			/*
			 * Concurrent loads into one table can deadlock (MariaDB locks
			 * an empty table for a bulk load); the server rolled the whole
			 * chunk back, so loading it again is safe.
			 */
			if (r == 0 || broken || err->sys_errno != EDEADLK || attempt == LOAD_ATTEMPTS)
				break;
			log_info("%s; loading the chunk again (attempt %d of %d)", err->msg, attempt + 1,
				 LOAD_ATTEMPTS);
			usleep((useconds_t)(100000 * attempt));
			bderr_init(err);
		}
	}
	if (r != 0) {
		if (broken) {
			my_close(w->conn);
			w->conn = NULL;
		}
		return -1;
	}
	log_debug("loaded %s.%s from %s", it->db->name, it->table, it->label);
	return 0;
}

static int item_size_desc(const void *a, const void *b)
{
	const load_item *x = *(load_item *const *)a, *y = *(load_item *const *)b;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return 0;
}

/*
 * Every chunk to load, each table's chunks together and in order in *items;
 * *ptrs largest first (both arrays freed by the caller).
 */
static int plan_items(restore_ctx *rc, load_item **items_out, load_item ***ptrs_out, size_t *n_out,
		      bderr *err)
{
	size_t cap = 1;
	for (size_t d = 0; d < rc->n_dbs; d++)
		for (size_t i = 0; i < rc->dbs[d].src->n_tables; i++)
			cap += rc->dbs[d].src->tables[i].n_chunks;
	load_item *items = xcalloc(cap, sizeof *items);
	load_item **ptrs = xcalloc(cap, sizeof *ptrs);
	size_t n = 0;
	int rcode = 0;
	for (size_t d = 0; d < rc->n_dbs && rcode == 0; d++) {
		for (size_t i = 0; i < rc->dbs[d].src->n_tables; i++) {
			const my_dump_table *t = &rc->dbs[d].src->tables[i];
			for (size_t k = 0; k < t->n_chunks; k++) {
				load_item *it = &items[n];
				it->db = &rc->dbs[d];
				it->table = t->name;
				it->t = t;
				it->chunk = k;
				it->label = t->chunks[k];
				if (rc->feed) {
					it->size = rc->feed->chunk_size(rc->feed->ctx, it->db->src_name, t, k);
				} else {
					it->obj = find_object(rc->m, t->chunks[k], err);
					if (it->obj == NULL) {
						rcode = -1;
						break;
					}
					it->size = it->obj->meta.size;
				}
				ptrs[n++] = it;
			}
			if (rcode != 0)
				break;
		}
	}
	/* largest first, so the last chunk to finish is a small one */
	if (rcode == 0 && n > 0)
		qsort(ptrs, n, sizeof *ptrs, item_size_desc);
	*items_out = items;
	*ptrs_out = ptrs;
	*n_out = n;
	return rcode;
}

/*
 * Chunks, largest first (a table's first chunk before its others), and each
 * table's deferred secondary keys as soon as its chunks are in
 * (common/taskgraph), on the same connections: the graph of items[0 .. n)
 * (plan_items), with the key items in *key_items (freed by the caller).
 * The restore runs it on its own workers, a migrate on its pool's
 * (my_load_run).
 */
static taskgraph *data_graph(restore_ctx *rc, load_item *items, size_t n, load_item **key_items_out)
{
	taskgraph *g = taskgraph_new();
	size_t nk = 0, n_keys = 0;
	for (size_t d = 0; d < rc->n_dbs; d++)
		n_keys += rc->dbs[d].n_keys;
	load_item *key_items = xcalloc(n_keys + 1, sizeof *key_items);
	unsigned char *scheduled = xcalloc(n_keys + 1, 1);
	for (size_t d = 0; d < rc->n_dbs; d++) {
		for (size_t i = 0; i < rc->dbs[d].n_keys; i++) {
			/* a table without chunks (empty) gets its keys with no wait */
			load_item *it = &key_items[nk++];
			it->db = &rc->dbs[d];
			it->table = rc->dbs[d].key_tables[i];
			it->label = it->table;
			it->add_keys = rc->dbs[d].key_adds[i];
		}
	}
	/* items[] holds each table's chunks together, its first chunk first */
	for (size_t i = 0; i < n;) {
		size_t first = taskgraph_count(g), j = i;
		double bytes = 0;
		for (; j < n && items[j].db == items[i].db && items[j].t == items[i].t; j++) {
			size_t id = taskgraph_add(g, &items[j], (double)items[j].size);
			bytes += (double)items[j].size;
			/*
			 * The rest after the first: MariaDB 10.6+ locks an empty
			 * table for the first bulk load into it, so a second chunk
			 * alongside would only wait (up to innodb_lock_wait_timeout,
			 * then load again); meanwhile the worker loads another table.
			 */
			if (j > i)
				taskgraph_depend(g, id, first);
		}
		for (size_t k = 0; k < nk; k++) {
			load_item *it = &key_items[k];
			if (it->db != items[i].db || strcmp(it->table, items[i].table) != 0)
				continue;
			it->size = (uint64_t)bytes;
			size_t id = taskgraph_add(g, it, bytes);
			for (size_t c = first; c < id; c++)
				taskgraph_depend(g, id, c);
			scheduled[k] = 1;
		}
		i = j;
	}
	for (size_t k = 0; k < nk; k++)
		if (!scheduled[k])
			taskgraph_add(g, &key_items[k], 0);
	free(scheduled);
	*key_items_out = key_items;
	return g;
}

static int restore_data(restore_ctx *rc, bderr *err)
{
	load_item *items = NULL, **ptrs = NULL, *key_items = NULL;
	size_t n = 0;
	taskgraph *g = NULL;
	int rcode = plan_items(rc, &items, &ptrs, &n, err);
	if (rcode != 0)
		goto out;
	g = data_graph(rc, items, n, &key_items);
	if (taskgraph_count(g) == 0)
		goto out;
	size_t total = taskgraph_count(g);
	int nw = rc->o->jobs < 1 ? 1 : rc->o->jobs;
	if ((size_t)nw > total)
		nw = (int)total;
	load_worker *ws = xcalloc((size_t)nw, sizeof *ws);
	void **wptrs = xcalloc((size_t)nw, sizeof *wptrs);
	int opened = 0;
	for (int i = 0; i < nw; i++) {
		wptrs[i] = &ws[i];
		ws[i].index = i;
		if (connect_target(rc, MY_NAMES_BINARY, &ws[i].conn, err) != 0) {
			rcode = -1;
			break;
		}
		opened++;
	}
	if (rcode == 0)
		rcode = taskgraph_run(g, rc, wptrs, opened, load_item_run, &my_thread_hooks, err);
	for (int i = 0; i < opened; i++)
		my_close(ws[i].conn);
	free(wptrs);
	free(ws);
out:
	if (rcode == 0)
		rc->keys_added = 1;
	taskgraph_free(g);
	free(key_items);
	free(ptrs);
	free(items);
	return rcode;
}

/* ---- mapping dumped databases to targets ---- */

static int plan_targets(restore_ctx *rc, bderr *err)
{
	const my_dump_db *dbs = rc->info.dbs;
	size_t n = rc->info.n_dbs; /* at least one: my_dump_info_parse checked */
	rc->dbs = xcalloc(n + 1, sizeof *rc->dbs);
	/* --provision DB names the database: another name in --to would be dropped silently */
	if (rc->o->provision_db && rc->uri.n_databases > 0 &&
	    (rc->uri.n_databases > 1 || strcmp(rc->uri.databases[0], rc->o->provision_db) != 0))
		return bderr_usage(err, "--to names database '%s' but --provision creates '%s': name the database "
					"once (mysql://HOST/ with --provision)", rc->uri.databases[0], rc->o->provision_db);
	if (n == 1 && rc->uri.n_databases <= 1) {
		/* one database: the URI's name, if any, renames it */
		rc->dbs[0].src = &dbs[0];
		rc->dbs[0].src_name = dbs[0].name;
		rc->dbs[0].name = xstrdup(rc->o->provision_db ? rc->o->provision_db
					  : rc->uri.n_databases ? rc->uri.databases[0] : rc->dbs[0].src_name);
		rc->n_dbs = 1;
		return 0;
	}
	if (rc->uri.n_databases == 0) {
		for (size_t i = 0; i < n; i++) {
			rc->dbs[i].src = &dbs[i];
			rc->dbs[i].src_name = dbs[i].name;
			rc->dbs[i].name = xstrdup(rc->dbs[i].src_name);
		}
		rc->n_dbs = n;
		return 0;
	}
	/* several databases named in the URI: restore those, each under its own name */
	for (size_t k = 0; k < rc->uri.n_databases; k++) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(dbs[i].name, rc->uri.databases[k]) == 0)
				break;
		if (i == n)
			return bderr_usage(err,
					   "%s holds %zu databases and '%s' is not one of them: give a URI without a database to restore them all under their own names",
					   rc->label, n, rc->uri.databases[k]);
		rc->dbs[rc->n_dbs].src = &dbs[i];
		rc->dbs[rc->n_dbs].src_name = dbs[i].name;
		rc->dbs[rc->n_dbs].name = xstrdup(rc->dbs[rc->n_dbs].src_name);
		rc->n_dbs++;
	}
	return 0;
}

static int detect_load_mode(restore_ctx *rc, MYSQL *c, bderr *err)
{
	char *v = NULL;
	if (my_query_value(c, "SELECT @@GLOBAL.local_infile", "cannot read local_infile", &v, err) != 0)
		return -1;
	rc->use_load_data = v && (strcmp(v, "1") == 0 || strcasecmp(v, "ON") == 0);
	free(v);
	char *mp = NULL;
	if (my_query_value(c, "SELECT @@GLOBAL.max_allowed_packet", "cannot read max_allowed_packet",
			   &mp, err) != 0)
		return -1;
	size_t max_packet = mp ? (size_t)strtoull(mp, NULL, 10) : 0;
	free(mp);
	rc->insert_batch = INSERT_BATCH;
	if (max_packet > 0 && max_packet / 2 < rc->insert_batch)
		rc->insert_batch = max_packet / 2;
	if (rc->use_load_data)
		log_info("loading data with LOAD DATA LOCAL INFILE");
	else
		log_info("the server does not allow local_infile: loading data with multi-row INSERTs (slower)");
	return 0;
}

/* --roles: the accounts with grants on the restored databases (engines/mysql/mysql_users.h). */
static int restore_users(restore_ctx *rc, MYSQL *c, bderr *err)
{
	my_users_info users;
	memset(&users, 0, sizeof users);
	if (rc->users_info && my_users_info_parse(rc->users_info, &users, err) != 0)
		return bderr_prefix(err, "%s is damaged", rc->label);
	if (!users.recorded)
		return bderr_set(err, "%s records no accounts (taken before they were): restore it without --roles",
				 rc->label);
	mysql_db_rename *dbs = xcalloc(rc->n_dbs + 1, sizeof *dbs);
	for (size_t i = 0; i < rc->n_dbs; i++)
		dbs[i] = (mysql_db_rename){ rc->dbs[i].src_name, rc->dbs[i].name };
	int r = mysql_users_restore(c, &users, dbs, rc->n_dbs, err);
	free(dbs);
	my_users_info_clear(&users);
	return r;
}

/* --verify: the restored databases against the dump's digest (engines/mysql/my_digest.h). */
static int verify_restored(restore_ctx *rc, bderr *err)
{
	const char **src = xcalloc(rc->n_dbs + 1, sizeof *src);
	const char **names = xcalloc(rc->n_dbs + 1, sizeof *names);
	for (size_t i = 0; i < rc->n_dbs; i++) {
		src[i] = rc->dbs[i].src_name;
		names[i] = rc->dbs[i].name;
	}
	int r = my_digest_verify(&rc->uri, rc->o->password, &rc->info, src, names, rc->n_dbs,
				 rc->label, err);
	free(src);
	free(names);
	return r;
}

/* ---- the load in steps (mysql_restore.h) ---- */

struct my_load {
	restore_ctx rc;
	MYSQL *c;             /* the coordinator's session on the target */
	mysql_provision *prov;
	int completed;        /* --provision completed a killed run's instead (my_load_open's 1) */
	time_t t0;
	load_item *items;     /* my_load_items */
	load_item **item_ptrs;
	size_t n_items;
};

int my_load_open(const my_load_source *src, my_dump_info *info, const engine_restore_options *o,
		 my_load **out, bderr *err)
{
	my_load *l = xcalloc(1, sizeof *l);
	restore_ctx *rc = &l->rc;
	*out = l;
	l->t0 = time(NULL);
	rc->repo = src->repo;
	rc->m = src->m;
	rc->feed = src->feed;
	rc->label = src->label;
	rc->users_info = src->users_info;
	rc->o = o;
	rc->info = *info;
	memset(info, 0, sizeof *info);
	rc->sql_mode = rc->info.sql_mode;
	rc->mysql_flavor = rc->info.flavor && strcmp(rc->info.flavor, "mysql") == 0;

	if (my_uri_parse(o->to_url, &rc->uri, err) != 0 || plan_targets(rc, err) != 0)
		return -1;
	if (my_connect(&rc->uri, o->password, NULL, MY_NAMES_UTF8MB4, 0, &l->c, err) != 0)
		return -1;
	MYSQL *c = l->c;
	if (detect_load_mode(rc, c, err) != 0 || session_setup(rc, c, err) != 0)
		return -1;
	if (my_query_value(c, "SELECT @@SESSION.character_set_client", "cannot read the session's character set",
			   &rc->session_charset, err) != 0 ||
	    my_query_value(c, "SELECT @@SESSION.collation_connection", "cannot read the session's collation",
			   &rc->session_collation, err) != 0)
		return -1;
	if (rc->session_charset == NULL || rc->session_collation == NULL)
		return bderr_set(err, "the server reports no character set for the restore session");
	/* claimed first: a killed restore's leftovers go before anything looks at the target */
	for (size_t i = 0; i < rc->n_dbs; i++) {
		target_db *d = &rc->dbs[i];
		d->load_into = d->name;
		if (o->create) {
			d->tmp = my_tmpdb_name(d->name);
			d->load_into = d->tmp;
			if (my_tmpdb_claim(c, d->name, d->tmp, err) != 0)
				return -1;
		}
	}
	if (o->provision_db) {
		if (rc->n_dbs != 1)
			return bderr_usage(err, "--provision loads one database: %s holds %zu", rc->label,
					   rc->n_dbs);
		provision_request po = { o->provision_db, o->owner, o->env_file, o->reuse_role,
					 o->provision_no_resume };
		if (mysql_provision_prepare(c, &po, &rc->uri, &l->prov, &l->completed, err) != 0)
			return -1;
		if (l->completed)
			return 1;
	}
	for (size_t i = 0; i < rc->n_dbs; i++)
		if (prepare_database(rc, c, &rc->dbs[i], err) != 0)
			return -1;
	return 0;
}

int my_load_tables(my_load *l, bderr *err)
{
	restore_ctx *rc = &l->rc;
	progress_phase(rc->o->progress, "creating the schema");
	for (size_t i = 0; i < rc->n_dbs; i++) {
		log_info("restoring database '%s' of %s into '%s'", rc->dbs[i].src_name, rc->label,
			 rc->dbs[i].name);
		if (restore_tables(rc, l->c, &rc->dbs[i], err) != 0)
			return -1;
	}
	return 0;
}

int my_load_data(my_load *l, bderr *err)
{
	progress_phase(l->rc.o->progress, "loading data");
	return restore_data(&l->rc, err);
}

int my_load_items(my_load *l, my_load_item ***items, size_t *n, bderr *err)
{
	free(l->items);
	free(l->item_ptrs);
	l->items = NULL;
	l->item_ptrs = NULL;
	if (plan_items(&l->rc, &l->items, &l->item_ptrs, n, err) != 0)
		return -1;
	l->n_items = *n;
	*items = l->item_ptrs;
	return 0;
}

/* my_load_run's graph: the keys here, the chunks through the caller's function. */
typedef struct load_run {
	my_load *l;
	my_load_chunk_fn fn;
	void *ctx;
} load_run;

static int load_run_item(void *shared, void *worker, void *item, bderr *err)
{
	load_run *x = shared;
	load_item *it = item;
	if (it->add_keys)
		return my_load_item_run(x->l, worker, it, err);
	return x->fn(x->ctx, worker, it, err);
}

int my_load_run(my_load *l, my_load_worker **workers, int n_workers, my_load_chunk_fn fn, void *ctx,
		bderr *err)
{
	load_item *key_items = NULL;
	taskgraph *g = data_graph(&l->rc, l->items, l->n_items, &key_items);
	load_run x = { l, fn, ctx };
	int r = taskgraph_count(g) == 0 ? 0
		: taskgraph_run(g, &x, (void **)workers, n_workers, load_run_item, &my_thread_hooks, err);
	if (r == 0)
		l->rc.keys_added = 1;
	taskgraph_free(g);
	free(key_items);
	return r;
}

int64_t my_load_item_rows(const my_load_item *it)
{
	return it->loaded;
}

void my_load_item_describe(const my_load_item *it, const char **db, const my_dump_table **t,
			   size_t *chunk, uint64_t *size)
{
	*db = it->db->src_name;
	*t = it->t;
	*chunk = it->chunk;
	*size = it->size;
}

int my_load_worker_open(my_load *l, int index, my_load_worker **out, bderr *err)
{
	my_load_worker *w = xcalloc(1, sizeof *w);
	w->index = index;
	if (connect_target(&l->rc, MY_NAMES_BINARY, &w->conn, err) != 0) {
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

int my_load_item_run(my_load *l, my_load_worker *w, my_load_item *it, bderr *err)
{
	if (w->conn == NULL)
		return bderr_set(err, "cannot load table %s.%s: the worker's connection to the target was lost",
				 it->db->name, it->table);
	return load_item_run(&l->rc, w, it, err);
}

void my_load_worker_close(my_load_worker *w)
{
	if (w == NULL)
		return;
	my_close(w->conn);
	free(w);
}

int my_load_post(my_load *l, bderr *err)
{
	restore_ctx *rc = &l->rc;
	MYSQL *c = l->c;
	/* a load fed through the caller's pool without my_load_run adds them here, before publishing */
	for (size_t i = 0; i < rc->n_dbs && !rc->keys_added; i++) {
		target_db *d = &rc->dbs[i];
		if (d->n_keys > 0 && use_db(c, d->load_into, err) != 0)
			return -1;
		for (size_t k = 0; k < d->n_keys; k++)
			if (add_deferred_keys(c, d, d->key_tables[k], d->key_adds[k], err) != 0)
				return -1;
	}
	rc->keys_added = 1;
	progress_phase(rc->o->progress, "triggers, routines, events and views");
	for (size_t i = 0; i < rc->n_dbs; i++) {
		target_db *d = &rc->dbs[i];
		if (rc->o->create) {
			char *opts = create_options(c, d);
			int pr = my_tmpdb_publish(c, d->tmp, d->name, opts, &d->created, err);
			free(opts);
			if (pr != 0)
				return -1;
		}
		if (restore_objects(rc, c, d, "triggers.sql", "a trigger", err) != 0 ||
		    restore_objects(rc, c, d, "routines.sql", "a routine", err) != 0 ||
		    restore_objects(rc, c, d, "events.sql", "an event", err) != 0 ||
		    restore_views(rc, c, d, err) != 0)
			return -1;
	}
	if (rc->o->verify && verify_restored(rc, err) != 0)
		return -1;
	if (rc->o->roles && restore_users(rc, c, err) != 0)
		return -1;
	return 0;
}

MYSQL *my_load_conn(my_load *l)
{
	return l->c;
}

size_t my_load_n_dbs(const my_load *l)
{
	return l->rc.n_dbs;
}

const char *my_load_db(const my_load *l, size_t i, const char **source_name)
{
	if (source_name)
		*source_name = l->rc.dbs[i].src_name;
	return l->rc.dbs[i].name;
}

int my_load_close(my_load *l, int ok, bderr *err)
{
	if (l == NULL)
		return ok ? 0 : -1;
	restore_ctx *rc = &l->rc;
	int rcode = ok ? 0 : -1;
	if (ok && l->prov && mysql_provision_grant(l->prov, l->c, err) != 0)
		rcode = -1;
	/*
	 * The database is complete but for its in-progress markers: the record
	 * says so before they go, so that no kill from here on leaves it
	 * complete with nothing telling the next run (mysql_provision.h).
	 */
	if (rcode == 0 && l->prov && mysql_provision_database_complete(l->prov, err) != 0)
		rcode = -1;
	/* the in-progress markers go once nothing on the server is left to fail */
	for (size_t i = 0; i < rc->n_dbs && rc->o->create && rcode == 0; i++) {
		if (my_tmpdb_finish(l->c, rc->dbs[i].tmp, rc->dbs[i].name, err) != 0)
			rcode = -1;
		else
			rc->dbs[i].tmp_created = 0;
	}
	/* last of all the env file, which a failure above must not leave behind */
	if (rcode == 0 && l->prov && mysql_provision_commit(l->prov, err) != 0)
		rcode = -1;
	if (rcode == 0 && rc->m) /* a migrate says so itself, once verified */
		log_info("restore of %s complete in %lds", rc->label, (long)(time(NULL) - l->t0));
	/* a half-restored database must not look like a restored one; the
	 * coordinator's named locks (C) are held until that is done */
	if (rcode != 0)
		drop_created(rc, l->prov);
	else
		mysql_provision_free(l->prov);
	my_close(l->c);
	for (size_t i = 0; i < rc->n_dbs; i++) {
		free(rc->dbs[i].name);
		free(rc->dbs[i].tmp);
		for (size_t k = 0; k < rc->dbs[i].n_keys; k++) {
			free(rc->dbs[i].key_tables[k]);
			free(rc->dbs[i].key_adds[k]);
		}
		free(rc->dbs[i].key_tables);
		free(rc->dbs[i].key_adds);
	}
	free(rc->dbs);
	free(rc->session_charset);
	free(rc->session_collation);
	my_uri_clear(&rc->uri);
	my_dump_info_clear(&rc->info);
	free(l->items);
	free(l->item_ptrs);
	free(l);
	return rcode;
}

int mysql_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err)
{
	if (strcmp(m->engine, "mysql") != 0 || strcmp(m->kind, "dump") != 0)
		return bderr_usage(err, "backup %s is a %s %s, not a MySQL dump", m->id, m->engine,
				   m->kind);
	my_dump_info info;
	if (my_dump_info_parse(m->info, &info, err) != 0)
		return bderr_prefix(err, "backup %s is damaged", m->id);
	char *label = xasprintf("backup %s", m->id);
	my_load_source src = { .repo = r, .m = m, .label = label,
			       .users_info = m->info };
	my_load *l = NULL;
	int rcode = my_load_open(&src, &info, o, &l, err);
	if (rcode > 0) {
		/* an interrupted provisioning completed: nothing created, nothing to restore */
		bderr ignored;
		bderr_init(&ignored);
		my_load_close(l, 0, &ignored);
		my_dump_info_clear(&info);
		free(label);
		return 0;
	}
	if (rcode == 0)
		rcode = my_load_tables(l, err);
	if (rcode == 0)
		rcode = my_load_data(l, err);
	if (rcode == 0)
		rcode = my_load_post(l, err);
	rcode = my_load_close(l, rcode == 0, err);
	my_dump_info_clear(&info);
	free(label);
	return rcode;
}

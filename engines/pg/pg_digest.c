#include "engines/pg/pg_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/workpool.h"
#include "engines/pg/pg_copybin.h"
#include "engines/pg/pg_format.h"
#include "engines/pg/pg_server.h"
#include "engines/pg/pgconn.h"

/* Not an extension's member: pg_dump leaves those to CREATE EXTENSION. */
#define NOT_EXT(catalog, oid)                                                                  \
	"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '" catalog            \
	"'::pg_catalog.regclass AND e.objid = " oid " AND e.deptype = 'e')"
#define USER_NSP(n) "(" n ".nspname <> 'information_schema' AND " n ".nspname !~ '^pg_')"

/*
 * The tables the dump copies (engines/pg/pg_dump.c: ordinary, not temporary,
 * not an extension's) with their dumpable columns in attnum order, their size
 * and whether the dump copies them in binary (engines/pg/pg_copybin.h).
 */
static int list_tables(PGconn *c, PGresult **out, bderr *err)
{
	const char *gen = PQserverVersion(c) >= 120000 ? "a.attgenerated = ''" : "true";
	char *sql = xasprintf(
		"SELECT n.nspname, c.relname, "
		"  (SELECT pg_catalog.array_to_json(pg_catalog.array_agg(a.attname ORDER BY a.attnum)) "
		"     FROM pg_catalog.pg_attribute a "
		"    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND %s), "
		"  pg_catalog.pg_table_size(c.oid), "
		"  " PG_COPY_BINARY_SQL("c.oid", "%s") " "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND " USER_NSP("n") " AND "
		NOT_EXT("pg_catalog.pg_class", "c.oid") " ORDER BY 1, 2",
		gen, gen);
	int rc = pg_query(c, sql, "cannot list tables", out, err);
	free(sql);
	return rc;
}

static void parse_columns(const char *text, digest_table *t)
{
	json_error_t je;
	json_t *arr = json_loads(text, 0, &je);
	size_t n = json_array_size(arr), k;
	json_t *v;
	t->columns = xcalloc(n + 1, sizeof *t->columns);
	json_array_foreach(arr, k, v) t->columns[t->n_columns++] = xstrdup(json_string_value(v));
	json_decref(arr);
}

static char *copy_sql(PGconn *c, const digest_table *t)
{
	char *qual = pg_qualified_name(c, t->schema, t->name);
	const char *with = pg_copy_with(t->binary, 0);
	if (t->n_columns == 0) {
		char *sql = xasprintf("COPY %s TO STDOUT%s", qual, with);
		free(qual);
		return sql;
	}
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "COPY %s (", qual);
	for (size_t i = 0; i < t->n_columns; i++) {
		char *q = pg_quote_ident(c, t->columns[i]);
		strbuf_appendf(&b, "%s%s", i ? ", " : "", q);
		free(q);
	}
	strbuf_appendf(&b, ") TO STDOUT%s", with);
	free(qual);
	return strbuf_detach(&b);
}

/* Reads t's rows as COPY text (or binary: t->binary) into its count and checksum. */
static int digest_table_rows(PGconn *c, digest_table *t, bderr *err)
{
	char *sql = copy_sql(c, t);
	char *what = xasprintf("cannot read table %s.%s", t->schema, t->name);
	int rc = pg_copy_out_begin(c, sql, what, err);
	digest_sum sum = { 0, 0 };
	pg_copybin bin;
	pg_copybin_init(&bin, t->binary);
	/* a malformed binary stream: read to its end, so the connection stays usable */
	bderr perr;
	bderr_init(&perr);
	int bad = 0;
	while (rc == 0) {
		char *row = NULL;
		int n = PQgetCopyData(c, &row, 0);
		if (n == -1)
			break;
		if (n == -2) {
			char buf[512];
			rc = bderr_set(err, "%s: %s", what, pg_errmsg(c, buf, sizeof buf));
			break;
		}
		if (!bad && pg_copybin_read(&bin, row, (size_t)n, &sum, NULL, NULL, &perr) != 0)
			bad = 1;
		PQfreemem(row);
	}
	if (rc == 0)
		rc = pg_copy_out_end(c, what, err);
	if (rc == 0 && !bad && pg_copybin_end(&bin, &perr) != 0)
		bad = 1;
	if (rc == 0 && bad) {
		*err = perr;
		rc = bderr_prefix(err, "%s", what);
	}
	if (rc == 0) {
		t->rows = sum.rows;
		t->checksum = sum.checksum;
	}
	free(sql);
	free(what);
	return rc;
}

/*
 * The schema objects a dump carries, by kind, named "schema.object" (or
 * "schema.table.object" for what lives on a table), without quoting (quoting
 * rules change with new keywords).  Left out because a restore or another
 * major makes them differ by design: owners and grants (--owner,
 * --no-privileges), NOT NULL constraints (catalogued only from 18), objects
 * cloned onto partitions (internal before 15), multirange types (implicit
 * from 14).
 */
static int add_objects(PGconn *c, digest_set *d, bderr *err)
{
	int v = PQserverVersion(c);
	const char *trig_parent = v >= 130000 ? "t.tgparentid = 0" : "true";
	/*
	 * The first branch's column types are the UNION's: a bare nspname would
	 * make every qualified name of the later branches a 'name', cut to 63
	 * bytes (two triggers whose qualified names share 63 bytes were then
	 * listed twice and the manifest refused).
	 */
	char *sql = xasprintf(
		"SELECT 'schema', n.nspname::pg_catalog.text FROM pg_catalog.pg_namespace n "
		" WHERE " USER_NSP("n") " AND " NOT_EXT("pg_catalog.pg_namespace", "n.oid") " "
		"UNION ALL "
		"SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' "
		"  WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' "
		"  WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type' "
		"  WHEN 'i' THEN 'index' ELSE 'partitioned index' END, "
		"  n.nspname || '.' || c.relname "
		"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c', 'i', 'I') "
		"   AND c.relpersistence <> 't' AND " USER_NSP("n") " AND "
		NOT_EXT("pg_catalog.pg_class", "c.oid") " "
		"   AND (c.relkind NOT IN ('i', 'I') OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
		"        JOIN pg_catalog.pg_depend e ON e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
		"         AND e.objid = i.indrelid AND e.deptype = 'e' WHERE i.indexrelid = c.oid)) "
		"UNION ALL "
		"SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' "
		"  ELSE 'function' END, "
		"  n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' "
		"  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
		" WHERE " USER_NSP("n") " AND " NOT_EXT("pg_catalog.pg_proc", "p.oid") " "
		"UNION ALL "
		"SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE 'range type' END, "
		"  n.nspname || '.' || t.typname "
		"  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
		" WHERE t.typtype IN ('e', 'd', 'r') AND " USER_NSP("n") " AND "
		NOT_EXT("pg_catalog.pg_type", "t.oid") " "
		"UNION ALL "
		"SELECT 'constraint', n.nspname || '.' || "
		"  coalesce(r.relname, ty.typname) || '.' || k.conname "
		"  FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace "
		"  LEFT JOIN pg_catalog.pg_class r ON r.oid = k.conrelid "
		"  LEFT JOIN pg_catalog.pg_type ty ON ty.oid = k.contypid "
		" WHERE k.contype <> 'n' AND k.conparentid = 0 AND " USER_NSP("n") " "
		"   AND (r.oid IS NULL OR " NOT_EXT("pg_catalog.pg_class", "r.oid") ") "
		"   AND (ty.oid IS NULL OR " NOT_EXT("pg_catalog.pg_type", "ty.oid") ") "
		"UNION ALL "
		"SELECT 'trigger', n.nspname || '.' || r.relname || '.' || t.tgname "
		"  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class r ON r.oid = t.tgrelid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace "
		" WHERE NOT t.tgisinternal AND %s AND " USER_NSP("n") " AND "
		NOT_EXT("pg_catalog.pg_class", "r.oid") " "
		"UNION ALL "
		"SELECT 'policy', n.nspname || '.' || r.relname || '.' || p.polname "
		"  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class r ON r.oid = p.polrelid "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace WHERE " USER_NSP("n") " "
		"UNION ALL "
		"SELECT 'rule', n.nspname || '.' || r.relname || '.' || w.rulename "
		"  FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_class r ON r.oid = w.ev_class "
		"  JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace "
		" WHERE w.rulename <> '_RETURN' AND " USER_NSP("n") " AND "
		NOT_EXT("pg_catalog.pg_class", "r.oid") " "
		"UNION ALL "
		"SELECT 'extension', x.extname FROM pg_catalog.pg_extension x "
		"UNION ALL "
		"SELECT 'statistics', n.nspname || '.' || s.stxname "
		"  FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace "
		" WHERE " USER_NSP("n") " AND " NOT_EXT("pg_catalog.pg_statistic_ext", "s.oid") " "
		"UNION ALL "
		"SELECT 'collation', n.nspname || '.' || l.collname "
		"  FROM pg_catalog.pg_collation l JOIN pg_catalog.pg_namespace n ON n.oid = l.collnamespace "
		" WHERE " USER_NSP("n") " AND " NOT_EXT("pg_catalog.pg_collation", "l.oid") " "
		"UNION ALL "
		"SELECT 'large object', NULL FROM pg_catalog.pg_largeobject_metadata",
		trig_parent);
	PGresult *r;
	/* argument types print schema-qualified, whatever the session's search_path was */
	int rc = pg_exec(c, "SET search_path = pg_catalog", "cannot configure the session", err);
	if (rc == 0)
		rc = pg_query(c, sql, "cannot list the database's objects", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		digest_set_add_object(d, PQgetvalue(r, i, 0),
				      PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1));
	PQclear(r);
	return 0;
}

int pg_digest_objects(PGconn *c, digest_set *d, bderr *err)
{
	if (add_objects(c, d, err) != 0)
		return -1;
	digest_set_sort(d);
	return 0;
}

void pg_digest_sequence_value(const char *last_value, int is_called, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", last_value, is_called ? "" : " (not called)");
}

int pg_digest_sequences(PGconn *c, digest_set *d, bderr *err)
{
	PGresult *r;
	if (pg_query(c,
		     "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
		     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		     "WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND " USER_NSP("n") " AND "
		     NOT_EXT("pg_catalog.pg_class", "c.oid"),
		     "cannot list sequences", &r, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *schema = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1);
		char *qual = pg_qualified_name(c, schema, name);
		char *sql = xasprintf("SELECT last_value, is_called FROM %s", qual);
		char *what = xasprintf("cannot read sequence %s", qual);
		PGresult *v;
		rc = pg_query(c, sql, what, &v, err);
		if (rc == 0) {
			char value[128];
			pg_digest_sequence_value(PQgetvalue(v, 0, 0), PQgetvalue(v, 0, 1)[0] == 't',
						 value, sizeof value);
			digest_set_add_sequence(d, schema, name, value);
			PQclear(v);
		}
		free(qual);
		free(sql);
		free(what);
	}
	PQclear(r);
	if (rc == 0)
		digest_set_sort(d);
	return rc;
}

int pg_digest_session(PGconn *c, bderr *err)
{
	return pg_exec(c, PG_COPY_SESSION_SQL "; " PG_COPY_OUT_SESSION_SQL,
		       "cannot configure the session", err);
}

/* One table read by one of the workers (a connection each). */
static int table_task(void *shared, void *worker, void *item, bderr *err)
{
	(void)shared;
	return digest_table_rows(worker, item, err);
}

/* Largest first, so the last table to finish is a small one. */
typedef struct sized_table {
	digest_table *t;
	int64_t bytes;
} sized_table;

static int bytes_desc(const void *a, const void *b)
{
	const sized_table *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

int pg_digest_table(PGconn *c, digest_table *t, bderr *err)
{
	/* for this read only: the connection goes on loading and building */
	if (pg_exec(c, PG_COPY_OUT_SESSION_SQL, "cannot configure the session", err) != 0)
		return -1;
	int rc = digest_table_rows(c, t, err);
	if (rc == 0)
		rc = pg_exec(c, "RESET TimeZone; RESET extra_float_digits; RESET bytea_output",
			     "cannot configure the session", err);
	return rc;
}

int pg_digest_compute_conns(PGconn *const *conns, int n_conns, const digest_set *like,
			    digest_set **out, bderr *err)
{
	return pg_digest_compute_conns_have(conns, n_conns, like, NULL, out, err);
}

int pg_digest_compute_conns_have(PGconn *const *conns, int n_conns, const digest_set *like,
				 const digest_set *have, digest_set **out, bderr *err)
{
	*out = NULL;
	for (int i = 0; i < n_conns; i++)
		if (pg_digest_session(conns[i], err) != 0)
			return -1;
	PGconn *c = conns[0];
	PGresult *r;
	if (list_tables(c, &r, err) != 0)
		return -1;
	digest_set *d = digest_set_new();
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		digest_table *t = digest_set_add_table(d, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), NULL);
		const digest_table *l = digest_set_find_table(like, t->schema, t->name);
		if (l && l->columns)
			digest_table_set_columns(t, l->columns, l->n_columns);
		else if (!PQgetisnull(r, i, 2))
			parse_columns(PQgetvalue(r, i, 2), t);
		else
			digest_table_set_columns(t, NULL, 0);
		/* in the other side's format; a table it lacks as this side's dump would copy it */
		t->binary = l ? l->binary : PQgetvalue(r, i, 4)[0] == 't';
	}
	/* the table array is complete: its elements stay where they are now */
	sized_table *order = xcalloc((size_t)n + 1, sizeof *order);
	void **items = xcalloc((size_t)n + 1, sizeof *items);
	size_t n_read = 0;
	for (int i = 0; i < n; i++) {
		digest_table *t = &d->tables[i];
		const digest_table *h = digest_set_find_table(have, t->schema, t->name);
		if (h) {
			/* read already (pg_digest_table) */
			t->rows = h->rows;
			t->checksum = h->checksum;
			continue;
		}
		order[n_read].t = t;
		order[n_read++].bytes = strtoll(PQgetvalue(r, i, 3), NULL, 10);
	}
	PQclear(r);
	if (n_read > 0)
		qsort(order, n_read, sizeof *order, bytes_desc);
	for (size_t i = 0; i < n_read; i++)
		items[i] = order[i].t;
	int rc = workpool_run(NULL, (void **)conns, n_conns, items, n_read, table_task, NULL, err);
	free(items);
	free(order);
	if (rc == 0)
		rc = add_objects(c, d, err);
	if (rc == 0)
		rc = pg_digest_sequences(c, d, err);
	if (rc != 0) {
		digest_set_free(d);
		return -1;
	}
	digest_set_sort(d);
	*out = d;
	return 0;
}

int pg_digest_compute(PGconn *c, const digest_set *like, digest_set **out, bderr *err)
{
	return pg_digest_compute_conns(&c, 1, like, out, err);
}

int pg_digest_verify(PGconn *const *conns, int n_conns, const pg_dump_info *info,
		     const char *backup_id, bderr *err)
{
	if (info->digest == NULL)
		return bderr_set(err, "backup %s cannot be verified: it predates digests (or its server is older than PostgreSQL 12)",
				 backup_id);
	/* the dump's text: its encoding and column lists */
	char *enc = PQescapeLiteral(conns[0], info->encoding, strlen(info->encoding));
	char *sql = xasprintf("SET client_encoding = %s", enc);
	PQfreemem(enc);
	int rc = 0;
	for (int i = 0; i < n_conns && rc == 0; i++)
		rc = pg_exec(conns[i], sql, "cannot configure the session", err);
	free(sql);
	if (rc != 0)
		return bderr_prefix(err, "verification against backup %s failed", backup_id);
	time_t t0 = time(NULL);
	digest_set *like = digest_set_new();
	for (size_t i = 0; i < info->n_tables; i++) {
		const pg_dump_table *t = &info->tables[i];
		digest_table *l = digest_set_add_table(like, t->schema, t->name, NULL);
		digest_table_set_columns(l, t->columns, t->n_columns);
		const digest_table *dt = digest_set_find_table(info->digest, t->schema, t->name);
		l->binary = dt ? dt->binary : t->binary;
	}
	digest_set *actual = NULL;
	rc = pg_digest_compute_conns(conns, n_conns, like, &actual, err);
	if (rc == 0)
		rc = digest_compare(info->digest, actual, 0, err);
	if (rc != 0)
		bderr_prefix(err, "verification against backup %s failed", backup_id);
	else
		log_info("verified against backup %s: %zu tables, %zu kinds of objects, %zu sequences match (%lds, %d connections)",
			 backup_id, info->digest->n_tables, info->digest->n_kinds,
			 info->digest->n_sequences, (long)(time(NULL) - t0), n_conns);
	digest_set_free(like);
	digest_set_free(actual);
	return rc;
}

/* n connections to o->to_url reading one snapshot (the first one's, exported). */
static int open_snapshot_conns(const engine_restore_options *o, PGconn **conns, int n, bderr *err)
{
	char *snap = NULL;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = pg_connect(o->to_url, o->password, NULL, "dbrestore verify", &conns[i], err);
		if (rc == 0)
			rc = pg_exec(conns[i], "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
				     "cannot start a transaction", err);
		if (rc == 0 && i == 0 && n > 1) {
			PGresult *r;
			rc = pg_query(conns[0], "SELECT pg_catalog.pg_export_snapshot()",
				      "cannot export a snapshot", &r, err);
			if (rc == 0) {
				snap = xstrdup(PQgetvalue(r, 0, 0));
				PQclear(r);
			}
		} else if (rc == 0 && i > 0) {
			char *lit = PQescapeLiteral(conns[i], snap, strlen(snap));
			char *sql = xasprintf("SET TRANSACTION SNAPSHOT %s", lit);
			PQfreemem(lit);
			rc = pg_exec(conns[i], sql, "cannot import the snapshot", err);
			free(sql);
		}
	}
	free(snap);
	return rc;
}

int pg_digest_verify_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err)
{
	(void)r;
	pg_dump_info info;
	if (strcmp(m->kind, "dump") != 0)
		return bderr_usage(err, "backup %s is a %s, not a dump: it has no checksums to verify",
				   m->id, m->kind);
	if (pg_server_info_is(m->info))
		return bderr_usage(err, "backup %s is a whole-server dump: verify its databases with restore --database NAME --verify",
				   m->id);
	if (pg_dump_info_parse(m->info, &info, err) != 0)
		return bderr_prefix(err, "backup %s is damaged", m->id);
	int n = o->jobs < 1 ? 1 : o->jobs;
	PGconn **conns = xcalloc((size_t)n, sizeof *conns);
	/* one snapshot for every table, whatever writes meanwhile */
	int rc = open_snapshot_conns(o, conns, n, err);
	if (rc == 0)
		rc = pg_digest_verify(conns, n, &info, m->id, err);
	for (int i = 0; i < n; i++)
		PQfinish(conns[i]);
	free(conns);
	pg_dump_info_clear(&info);
	return rc;
}

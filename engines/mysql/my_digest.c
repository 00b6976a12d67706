#include "engines/mysql/my_digest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_format.h"

int my_engine_without_data(const char *engine)
{
	return engine == NULL || strcasecmp(engine, "MRG_MyISAM") == 0 ||
	       strcasecmp(engine, "MRG_MYISAM") == 0 || strcasecmp(engine, "BLACKHOLE") == 0 ||
	       strcasecmp(engine, "FEDERATED") == 0 || strcasecmp(engine, "SPIDER") == 0;
}

char *my_digest_select_list(char *const *columns, char *const *types, size_t n)
{
	strbuf b;
	strbuf_init(&b);
	for (size_t k = 0; k < n; k++) {
		char *q = my_quote_ident(columns[k]);
		if (k)
			strbuf_appends(&b, ", ");
		/*
		 * See the format notes: BIT as its number, spatial as hex of the
		 * stored value.  FLOAT goes out as a DOUBLE: the server prints a
		 * FLOAT with 6 significant digits, which does not give the stored
		 * value back, while every float is exactly a double whose text
		 * rounds back to it.
		 */
		if (strcasecmp(types[k], "bit") == 0)
			strbuf_appendf(&b, "%s + 0", q);
		else if (strcasecmp(types[k], "float") == 0)
			strbuf_appendf(&b, "%s + 0e0", q);
		else if (my_type_is_spatial(types[k]))
			strbuf_appendf(&b, "HEX(%s)", q);
		else
			strbuf_appends(&b, q);
		free(q);
	}
	return strbuf_detach(&b);
}

size_t my_digest_row_line(char **buf, size_t *cap, char **row, const unsigned long *len,
			  unsigned nf)
{
	size_t need = tsv_row_size(row, len, nf);
	if (need > *cap) {
		*cap = need;
		*buf = xrealloc(*buf, *cap);
	}
	return tsv_row(*buf, row, len, nf);
}

typedef struct col_list {
	char **names;
	char **types;
	size_t n;
} col_list;

static void col_list_clear(col_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->types[i]);
	}
	free(l->names);
	free(l->types);
	memset(l, 0, sizeof *l);
}

static void col_list_add(col_list *l, const char *name, const char *type)
{
	l->names = xrealloc(l->names, (l->n + 1) * sizeof *l->names);
	l->types = xrealloc(l->types, (l->n + 1) * sizeof *l->types);
	l->names[l->n] = xstrdup(name);
	l->types[l->n] = xstrdup(type ? type : "");
	l->n++;
}

/* The table's columns as the dump selects them: not generated, in order. */
static int table_columns(MYSQL *c, const char *db, const char *table, col_list *out, bderr *err)
{
	char *ldb = my_quote_literal(c, db), *ltab = my_quote_literal(c, table);
	char *sql = xasprintf("SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS "
			      "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
			      ldb, ltab);
	free(ldb);
	free(ltab);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot list columns", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (my_extra_is_generated(row[2]))
			continue;
		col_list_add(out, row[0], row[1]);
	}
	mysql_free_result(r);
	return 0;
}

/* Reads one table's rows into t's count and checksum. */
static int table_rows(MYSQL *c, const char *db, digest_table *t, const col_list *cols, bderr *err)
{
	char *list = my_digest_select_list(cols->names, cols->types, cols->n);
	char *qual = my_qualified_name(db, t->name);
	char *sql = xasprintf("SELECT %s FROM %s", list, qual);
	char *what = xasprintf("cannot read table %s.%s", db, t->name);
	free(list);
	free(qual);
	MYSQL_RES *res = NULL;
	int rc = -1;
	char *buf = NULL;
	size_t cap = 0;
	if (mysql_real_query(c, sql, strlen(sql)) != 0 || (res = mysql_use_result(c)) == NULL) {
		my_fail(c, what, err);
		goto out;
	}
	unsigned nf = mysql_num_fields(res);
	digest_sum sum = { 0, 0 };
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		size_t n = my_digest_row_line(&buf, &cap, row, mysql_fetch_lengths(res), nf);
		digest_sum_add(&sum, buf, n);
	}
	if (mysql_errno(c) != 0) {
		my_fail(c, what, err);
		goto out;
	}
	t->rows = sum.rows;
	t->checksum = sum.checksum;
	rc = 0;
out:
	if (res)
		mysql_free_result(res);
	free(buf);
	free(sql);
	free(what);
	return rc;
}

/* Picks like's column list (with the types this server reports) when it has one. */
static void columns_like(const digest_table *l, const col_list *own, col_list *out)
{
	for (size_t i = 0; i < l->n_columns; i++) {
		const char *type = "";
		for (size_t k = 0; k < own->n; k++)
			if (strcmp(own->names[k], l->columns[i]) == 0)
				type = own->types[k];
		col_list_add(out, l->columns[i], type);
	}
}

/* The tables of db with rows, read into d under the schema name as_name. */
static int db_tables(MYSQL *c, const char *db, const char *as_name, const digest_set *like,
		     digest_set *d, bderr *err)
{
	char *lit = my_quote_literal(c, db);
	char *sql = xasprintf("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
			      "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') "
			      "ORDER BY TABLE_NAME",
			      lit);
	free(lit);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot list tables", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while (rc == 0 && (row = mysql_fetch_row(r)) != NULL) {
		if (my_engine_without_data(row[1]))
			continue;
		col_list own = { 0 }, use = { 0 };
		rc = table_columns(c, db, row[0], &own, err);
		const digest_table *l = digest_set_find_table(like, as_name, row[0]);
		if (rc == 0 && l && l->columns)
			columns_like(l, &own, &use);
		const col_list *cols = l && l->columns ? &use : &own;
		if (rc == 0 && cols->n > 0) {
			digest_table *t = digest_set_add_table(d, as_name, row[0], NULL);
			digest_table_set_columns(t, cols->names, cols->n);
			rc = table_rows(c, db, t, cols, err);
		}
		col_list_clear(&own);
		col_list_clear(&use);
	}
	mysql_free_result(r);
	return rc;
}

/*
 * The schema objects the dump carries, by kind: names "db.object", or
 * "db.table.object" for indexes and constraints; the database part is the
 * name the digest records (as_name).
 */
int my_digest_objects(MYSQL *c, const char *db, digest_set *d, bderr *err)
{
	return my_digest_objects_as(c, db, db, d, err);
}

int my_digest_objects_as(MYSQL *c, const char *db, const char *as_name, digest_set *d, bderr *err)
{
	char *lit = my_quote_literal(c, db);
	char *sql = xasprintf(
		"SELECT CASE WHEN TABLE_TYPE = 'VIEW' THEN 'view' ELSE 'table' END, TABLE_NAME "
		"  FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
		"   AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW') "
		"UNION ALL SELECT DISTINCT 'index', CONCAT(TABLE_NAME, '.', INDEX_NAME) "
		"  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
		"UNION ALL SELECT CASE CONSTRAINT_TYPE WHEN 'CHECK' THEN 'check constraint' "
		"  ELSE 'foreign key' END, CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME) "
		"  FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s "
		"   AND CONSTRAINT_TYPE IN ('FOREIGN KEY', 'CHECK') "
		"UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS "
		"  WHERE TRIGGER_SCHEMA = %s "
		"UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES "
		"  WHERE ROUTINE_SCHEMA = %s AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') "
		"UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
		lit, lit, lit, lit, lit, lit);
	free(lit);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot list the database's objects", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		char *name = xasprintf("%s.%s", as_name, row[1]);
		digest_set_add_object(d, row[0], name);
		free(name);
	}
	mysql_free_result(r);
	digest_set_sort(d);
	return 0;
}

static int session_setup(MYSQL *c, bderr *err)
{
	return my_exec(c,
		       "SET NAMES binary, time_zone = '" MY_SESSION_TIME_ZONE
		       "', sql_mode = '" MY_SESSION_SQL_MODE "'",
		       "cannot configure the session", err);
}

static int compute_as(MYSQL *c, const char *const *dbs, const char *const *as_names, size_t n_dbs,
		      const digest_set *like, digest_set **out, bderr *err)
{
	*out = NULL;
	if (session_setup(c, err) != 0)
		return -1;
	digest_set *d = digest_set_new();
	int rc = 0;
	for (size_t i = 0; i < n_dbs && rc == 0; i++) {
		rc = db_tables(c, dbs[i], as_names[i], like, d, err);
		if (rc == 0)
			rc = my_digest_objects_as(c, dbs[i], as_names[i], d, err);
	}
	if (rc != 0) {
		digest_set_free(d);
		return -1;
	}
	digest_set_sort(d);
	*out = d;
	return 0;
}

int my_digest_compute(MYSQL *c, const char *const *dbs, size_t n_dbs, const digest_set *like,
		      digest_set **out, bderr *err)
{
	return compute_as(c, dbs, dbs, n_dbs, like, out, err);
}

int my_digest_verify(const my_uri *uri, const char *password, const my_dump_info *info,
		     const char *const *src_dbs, const char *const *target_dbs, size_t n,
		     const char *against, bderr *err)
{
	if (info->digest == NULL)
		return bderr_set(err, "%s cannot be verified: it predates digests", against);
	digest_set *expected = digest_set_filter(info->digest, src_dbs, n);
	digest_set *like = digest_set_new();
	for (size_t i = 0; i < info->n_dbs; i++)
		for (size_t k = 0; k < info->dbs[i].n_tables; k++) {
			const my_dump_table *t = &info->dbs[i].tables[k];
			digest_table *l = digest_set_add_table(like, info->dbs[i].name, t->name, NULL);
			digest_table_set_columns(l, t->columns, t->n_columns);
		}
	MYSQL *c = NULL;
	digest_set *actual = NULL;
	int rc = my_connect(uri, password, NULL, MY_NAMES_BINARY, 0, &c, err);
	if (rc == 0)
		rc = my_exec(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
			     "cannot start a snapshot transaction", err);
	if (rc == 0)
		rc = compute_as(c, target_dbs, src_dbs, n, like, &actual, err);
	if (rc == 0)
		rc = digest_compare(expected, actual, 0, err);
	if (rc != 0)
		bderr_prefix(err, "verification against %s failed", against);
	else
		log_info("verified against %s: %zu tables, %zu kinds of objects match",
			 against, expected->n_tables, expected->n_kinds);
	my_close(c);
	digest_set_free(expected);
	digest_set_free(like);
	digest_set_free(actual);
	return rc;
}

int my_digest_verify_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err)
{
	(void)r;
	if (strcmp(m->kind, "dump") != 0)
		return bderr_usage(err, "backup %s is a %s, not a dump: it has no checksums to verify",
				   m->id, m->kind);
	my_dump_info info;
	if (my_dump_info_parse(m->info, &info, err) != 0)
		return bderr_prefix(err, "backup %s is damaged", m->id);
	my_uri uri;
	memset(&uri, 0, sizeof uri);
	int rc = my_uri_parse(o->to_url, &uri, err);
	size_t n = 0, cap = info.n_dbs + uri.n_databases + 1;
	const char **src = xcalloc(cap, sizeof *src), **dst = xcalloc(cap, sizeof *dst);
	/* as restore maps them (mysql_restore.c) */
	if (rc == 0 && info.n_dbs == 1 && uri.n_databases <= 1) {
		src[0] = info.dbs[0].name;
		dst[n++] = uri.n_databases ? uri.databases[0] : info.dbs[0].name;
	} else if (rc == 0 && uri.n_databases == 0) {
		for (; n < info.n_dbs; n++)
			src[n] = dst[n] = info.dbs[n].name;
	} else {
		for (size_t k = 0; rc == 0 && k < uri.n_databases; k++) {
			size_t i;
			for (i = 0; i < info.n_dbs; i++)
				if (strcmp(info.dbs[i].name, uri.databases[k]) == 0)
					break;
			if (i == info.n_dbs)
				rc = bderr_usage(err, "backup %s holds no database '%s'", m->id,
						 uri.databases[k]);
			else {
				src[n] = dst[n] = info.dbs[i].name;
				n++;
			}
		}
	}
	char *against = xasprintf("backup %s", m->id);
	if (rc == 0)
		rc = my_digest_verify(&uri, o->password, &info, src, dst, n, against, err);
	free(against);
	free(src);
	free(dst);
	my_uri_clear(&uri);
	my_dump_info_clear(&info);
	return rc;
}

#include "engines/mysql/mysql_schema.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/myformat.h"

static int write_object(const mysql_schema_target *t, const char *db, const char *file,
			const strbuf *b, bderr *err)
{
	char *objname = my_object_name(db, file, t->level != 0);
	char *path = repo_backup_path(t->name, t->id, objname);
	object_writer *ow = NULL;
	object_meta meta;
	int rc = object_writer_open(repo_storage(t->repo), path, t->level, &ow, err);
	if (rc == 0 && b->len)
		rc = object_writer_write(ow, b->data, b->len, err);
	if (rc == 0)
		rc = object_writer_close(ow, &meta, err);
	if (rc == 0)
		manifest_add_object(t->m, objname, &meta, t->level != 0, -1);
	object_writer_free(ow);
	free(path);
	free(objname);
	return rc;
}

/* Header values stay on their line whatever the server returned. */
static void append_header(strbuf *b, const char *key, const char *value)
{
	if (value == NULL)
		return;
	strbuf_appendf(b, "-- %s: ", key);
	for (const char *p = value; *p; p++)
		if (*p != '\n' && *p != '\r')
			strbuf_append(b, p, 1);
	strbuf_appends(b, "\n");
}

/* The length header makes the text's end explicit (see my_statements_parse). */
static void append_statement(strbuf *b, const char *sql)
{
	strbuf_appendf(b, "-- length: %zu\n", strlen(sql));
	strbuf_appends(b, sql);
	strbuf_appends(b, ";\n");
}

/* SHOW CREATE of one object; the row stays valid until the result is freed. */
static int show_create(MYSQL *c, const char *kind, const char *db, const char *name,
		       unsigned min_fields, MYSQL_RES **res, MYSQL_ROW *row, bderr *err)
{
	char *q = my_qualified_name(db, name);
	char *sql = xasprintf("SHOW CREATE %s %s", kind, q);
	char *what = xasprintf("cannot read the definition of %s %s", kind, q);
	int rc = my_query(c, sql, what, res, err);
	if (rc == 0) {
		*row = mysql_fetch_row(*res);
		if (*row == NULL || mysql_num_fields(*res) < min_fields) {
			rc = bderr_set(err, "%s: the server returned nothing", what);
		} else {
			for (unsigned i = 0; i < min_fields && rc == 0; i++)
				if ((*row)[i] == NULL)
					rc = bderr_set(err, "%s: the definition is hidden (the dump account needs more privileges, e.g. SHOW_ROUTINE or SELECT on mysql.proc)",
						       what);
		}
		if (rc != 0) {
			mysql_free_result(*res);
			*res = NULL;
		}
	}
	free(what);
	free(sql);
	free(q);
	return rc;
}

/* Names from a query "head 'db' tail" (one or two columns: both are kept). */
static int list_names(MYSQL *c, const char *head, const char *db, const char *tail,
		      const char *what, char ***names, size_t *n, bderr *err)
{
	char *lit = my_quote_literal(c, db);
	char *sql = xasprintf("%s%s%s", head, lit, tail);
	MYSQL_RES *r;
	int rc = my_query(c, sql, what, &r, err);
	free(sql);
	free(lit);
	*names = NULL;
	*n = 0;
	if (rc != 0)
		return -1;
	*names = xcalloc(2 * mysql_num_rows(r) + 1, sizeof **names);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		(*names)[(*n)++] = xstrdup(row[0] ? row[0] : "");
		if (mysql_num_fields(r) > 1)
			(*names)[(*n)++] = xstrdup(row[1] ? row[1] : "");
	}
	mysql_free_result(r);
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * MariaDB sequences: their definition, then SETVAL to the first value not yet
 * handed out (next_not_cached_value, as mariadb-dump does): values a server
 * had cached but not used are skipped rather than ever handed out twice.
 */
static int dump_sequences(MYSQL *c, const char *db, strbuf *b, bderr *err)
{
	char **names;
	size_t n;
	if (list_names(c, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ", db,
		       " AND TABLE_TYPE = 'SEQUENCE' ORDER BY TABLE_NAME", "cannot list sequences", &names,
		       &n, err) != 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		if (show_create(c, "SEQUENCE", db, names[i], 2, &res, &row, err) != 0) {
			rc = -1;
			break;
		}
		strbuf_appends(b, "-- statement\n");
		append_statement(b, row[1]);
		mysql_free_result(res);
		char *q = my_qualified_name(db, names[i]);
		char *sql = xasprintf("SELECT next_not_cached_value, cycle_count FROM %s", q);
		char *what = xasprintf("cannot read the state of sequence %s", q);
		rc = my_query(c, sql, what, &res, err);
		if (rc == 0) {
			row = mysql_fetch_row(res);
			if (row == NULL || row[0] == NULL || row[1] == NULL) {
				rc = bderr_set(err, "%s: no row", what);
			} else {
				char *name = my_quote_ident(names[i]);
				/* both values are integers from the server: no quoting needed */
				char *setval = xasprintf("SELECT SETVAL(%s, %s, 0, %s)", name, row[0], row[1]);
				strbuf_appends(b, "-- statement\n");
				append_statement(b, setval);
				free(setval);
				free(name);
			}
			mysql_free_result(res);
		}
		free(what);
		free(sql);
		free(q);
	}
	free_names(names, n);
	return rc;
}

static int dump_tables(MYSQL *c, const mysql_schema_target *t, const char *db, char *const *tables,
		       size_t n, bderr *err)
{
	strbuf b;
	strbuf_init(&b);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		if (show_create(c, "TABLE", db, tables[i], 2, &res, &row, err) != 0) {
			rc = -1;
			break;
		}
		char *enc = my_name_encode(tables[i]);
		strbuf_appendf(&b, "-- table: %s\n", enc);
		free(enc);
		append_statement(&b, row[1]);
		mysql_free_result(res);
	}
	if (rc == 0)
		rc = dump_sequences(c, db, &b, err);
	if (rc == 0)
		rc = write_object(t, db, "tables.sql", &b, err);
	strbuf_free(&b);
	return rc;
}

typedef struct view_def {
	char *name;
	char *sql;
	char *charset_client;     /* the creating client's settings, NULL if not reported */
	char *collation_conn;
	int emitted;
	int visiting;
} view_def;

/*
 * Without VIEW_TABLE_USAGE, a view is taken to depend on another when the
 * other's quoted name occurs in its definition; a false match only orders
 * two views needlessly, and the restore retries a view whose dependency is
 * missing anyway.
 */
static int view_uses(MYSQL *c, const view_def *v, const view_def *other, json_t *usage)
{
	(void)c;
	if (v == other)
		return 0;
	if (usage) {
		json_t *deps = json_object_get(usage, v->name);
		size_t i;
		json_t *d;
		json_array_foreach(deps, i, d) if (strcmp(json_string_value(d), other->name) == 0) return 1;
		return 0;
	}
	char *q = my_quote_ident(other->name);
	int hit = strstr(v->sql, q) != NULL;
	free(q);
	return hit;
}

static void emit_view(MYSQL *c, view_def *all, size_t n, view_def *v, json_t *usage, strbuf *b,
		      json_t *names)
{
	if (v->emitted || v->visiting)
		return; /* a cycle (only possible with a false textual match): keep going */
	v->visiting = 1;
	for (size_t i = 0; i < n; i++)
		if (view_uses(c, v, &all[i], usage))
			emit_view(c, all, n, &all[i], usage, b, names);
	v->visiting = 0;
	v->emitted = 1;
	strbuf_appends(b, "-- statement\n");
	append_header(b, "character_set_client", v->charset_client);
	append_header(b, "collation_connection", v->collation_conn);
	append_statement(b, v->sql);
	json_array_append_new(names, json_string(v->name));
}

/* {view: [views it reads]} from information_schema.VIEW_TABLE_USAGE, or NULL without it. */
static json_t *view_usage(MYSQL *c, const char *db)
{
	char *lit = my_quote_literal(c, db);
	char *sql = xasprintf("SELECT VIEW_NAME, TABLE_NAME FROM information_schema.VIEW_TABLE_USAGE "
			      "WHERE VIEW_SCHEMA = %s AND TABLE_SCHEMA = %s", lit, lit);
	free(lit);
	bderr ignored;
	bderr_init(&ignored);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "no VIEW_TABLE_USAGE", &r, &ignored);
	free(sql);
	if (rc != 0)
		return NULL;
	json_t *out = json_object();
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (!row[0] || !row[1])
			continue;
		json_t *a = json_object_get(out, row[0]);
		if (a == NULL) {
			a = json_array();
			json_object_set_new(out, row[0], a);
		}
		json_array_append_new(a, json_string(row[1]));
	}
	mysql_free_result(r);
	return out;
}

static int dump_views(MYSQL *c, const mysql_schema_target *t, const char *db, json_t *names,
		      bderr *err)
{
	char **list;
	size_t n;
	if (list_names(c,
		       "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ", db,
		       " AND TABLE_TYPE = 'VIEW' ORDER BY TABLE_NAME", "cannot list views", &list, &n, err) != 0)
		return -1;
	/* a view is a relation: the table filter selects it like a table */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (table_filter_selects(t->filter, db, list[i]))
			list[kept++] = list[i];
		else
			free(list[i]);
	}
	n = kept;
	view_def *views = xcalloc(n + 1, sizeof *views);
	char **left_out = NULL; /* the database's tables the filter leaves out */
	size_t n_left_out = 0;
	int rc = 0;
	if (!table_filter_empty(t->filter)) {
		rc = list_names(c, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ", db,
				"", "cannot list tables", &left_out, &n_left_out, err);
		size_t k = 0;
		for (size_t i = 0; i < n_left_out; i++) {
			if (table_filter_selects(t->filter, db, left_out[i]))
				free(left_out[i]);
			else
				left_out[k++] = left_out[i];
		}
		n_left_out = k;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		if (show_create(c, "VIEW", db, list[i], 2, &res, &row, err) != 0) {
			rc = -1;
			break;
		}
		views[i].name = xstrdup(list[i]);
		views[i].sql = my_strip_definer(row[1]);
		/* same-database references are unqualified and quoted: a view naming a left-out table reads it */
		for (size_t k = 0; k < n_left_out && rc == 0; k++) {
			char *q = my_quote_ident(left_out[k]);
			if (strstr(views[i].sql, q))
				rc = bderr_usage(err,
						 "view %s.%s is dumped but reads %s.%s, which the table filter leaves out: exclude the view too, or keep the table",
						 db, list[i], db, left_out[k]);
			free(q);
		}
		/* View, Create View, character_set_client, collation_connection */
		if (mysql_num_fields(res) >= 4 && row[2] && row[3]) {
			views[i].charset_client = xstrdup(row[2]);
			views[i].collation_conn = xstrdup(row[3]);
		}
		mysql_free_result(res);
	}
	strbuf b;
	strbuf_init(&b);
	if (rc == 0) {
		json_t *usage = view_usage(c, db);
		for (size_t i = 0; i < n; i++)
			emit_view(c, views, n, &views[i], usage, &b, names);
		json_decref(usage);
		rc = write_object(t, db, "views.sql", &b, err);
	}
	strbuf_free(&b);
	for (size_t i = 0; i < n; i++) {
		free(views[i].name);
		free(views[i].sql);
		free(views[i].charset_client);
		free(views[i].collation_conn);
	}
	free(views);
	free_names(list, n);
	free_names(left_out, n_left_out);
	return rc;
}

/*
 * Triggers, routines and events: each is listed, read with SHOW CREATE and
 * written with the session settings it was created under as headers.
 */
typedef struct program_kind {
	const char *list_head; /* list query, before the quoted database name */
	const char *list_tail;
	const char *what;
	const char *show;      /* SHOW CREATE <show>; NULL: the list's first column
				  (PROCEDURE or FUNCTION), with the name second */
	unsigned text_col;     /* the statement; character set columns follow it */
	int tz_col;            /* time_zone column, -1 for none */
	const char *file;
} program_kind;

static const program_kind triggers_kind = {
	/* action order kept: triggers are created in the order they fire */
	"SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ",
	" ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
	"cannot list triggers", "TRIGGER", 2, -1, "triggers.sql",
};

static const program_kind routines_kind = {
	/* MariaDB packages are not dumped */
	"SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ",
	" AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
	"cannot list routines", NULL, 2, -1, "routines.sql",
};

static const program_kind events_kind = {
	"SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ",
	" ORDER BY EVENT_NAME", "cannot list events", "EVENT", 3, 2, "events.sql",
};

static int dump_programs(MYSQL *c, const mysql_schema_target *t, const char *db,
			 const program_kind *k, bderr *err)
{
	char **list;
	size_t n;
	if (list_names(c, k->list_head, db, k->list_tail, k->what, &list, &n, err) != 0)
		return -1;
	size_t step = k->show ? 1 : 2;
	char **on = NULL; /* triggers: (name, table) pairs, to leave out those of left-out tables */
	size_t n_on = 0;
	if (k == &triggers_kind && !table_filter_empty(t->filter) &&
	    list_names(c, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ",
		       db, "", k->what, &on, &n_on, err) != 0) {
		free_names(list, n);
		return -1;
	}
	strbuf b;
	strbuf_init(&b);
	int rc = 0;
	for (size_t i = 0; i + step <= n && rc == 0; i += step) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		int skip = 0;
		for (size_t j = 0; j + 1 < n_on; j += 2)
			if (strcmp(on[j], list[i]) == 0 && !table_filter_selects(t->filter, db, on[j + 1]))
				skip = 1;
		if (skip)
			continue;
		const char *kind = k->show ? k->show : list[i];
		/*
		 * name, sql_mode, [time_zone,] statement, character_set_client,
		 * collation_connection, database collation
		 */
		if (show_create(c, kind, db, list[i + step - 1], k->text_col + 1, &res, &row, err) != 0) {
			rc = -1;
			break;
		}
		char *sql = my_strip_definer(row[k->text_col]);
		strbuf_appends(&b, "-- statement\n");
		append_header(&b, "sql_mode", row[1]);
		if (k->tz_col >= 0)
			append_header(&b, "time_zone", row[k->tz_col]);
		if (mysql_num_fields(res) > k->text_col + 2) {
			append_header(&b, "character_set_client", row[k->text_col + 1]);
			append_header(&b, "collation_connection", row[k->text_col + 2]);
		}
		if (mysql_num_fields(res) > k->text_col + 3)
			append_header(&b, "database_collation", row[k->text_col + 3]);
		append_statement(&b, sql);
		free(sql);
		mysql_free_result(res);
	}
	if (rc == 0)
		rc = write_object(t, db, k->file, &b, err);
	strbuf_free(&b);
	free_names(list, n);
	free_names(on, n_on);
	return rc;
}

int mysql_schema_dump(MYSQL *c, const mysql_schema_target *t, const char *db, const char *charset,
		      const char *collation, char *const *tables, size_t n_tables, json_t *views,
		      bderr *err)
{
	if (mysql_select_db(c, db) != 0) {
		char *what = xasprintf("cannot use database '%s'", db);
		my_fail(c, what, err);
		free(what);
		return -1;
	}
	strbuf b;
	strbuf_init(&b);
	char *q = my_quote_ident(db);
	/* charset names are identifiers from the server's own catalog */
	strbuf_appendf(&b, "CREATE DATABASE %s DEFAULT CHARACTER SET %s COLLATE %s;\n", q, charset,
		       collation);
	free(q);
	int rc = write_object(t, db, "create-database.sql", &b, err);
	strbuf_free(&b);
	if (rc == 0)
		rc = dump_tables(c, t, db, tables, n_tables, err);
	if (rc == 0)
		rc = dump_views(c, t, db, views, err);
	if (rc == 0)
		rc = dump_programs(c, t, db, &triggers_kind, err);
	if (rc == 0)
		rc = dump_programs(c, t, db, &routines_kind, err);
	if (rc == 0)
		rc = dump_programs(c, t, db, &events_kind, err);
	return rc;
}

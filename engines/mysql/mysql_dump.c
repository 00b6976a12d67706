#include "engines/mysql/mysql_dump.h"
#include "engines/mysql/mysql_dump_users.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engines/mysql/mysql_chunks.h"
#include "engines/mysql/mysql_schema.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_format.h"
#include "common/version.h"

/* Rows are escaped into one buffer per worker and written in big blocks. */
#define ROW_BUF (1024 * 1024)
/* How long FLUSH TABLES WITH READ LOCK may wait for running statements. */
#define FTWRL_WAIT_SECONDS "60"

typedef struct dump_table {
	size_t db;            /* index into dump_state.dbs */
	char *name;
	char *engine;
	int transactional;    /* read under the snapshot, not under the lock */
	int skip_data;        /* engines whose rows live elsewhere */
	char **columns;       /* dumped columns: not generated */
	char **types;         /* DATA_TYPE of each */
	size_t n_columns;
	char *select_list;
	int has_auto_inc;
	int64_t auto_inc;
	uint64_t data_bytes;
	uint64_t est_rows;
	int n_chunks;
	int64_t rows;
} dump_table;

typedef struct dump_db {
	char *name;
	char *charset;
	char *collation;
	json_t *views;
} dump_db;

typedef struct dump_task {
	dump_table *table;
	int chunk;
	char *key;            /* quoted key column for ranges, or NULL */
	char *lo;             /* inclusive lower bound, NULL = none */
	char *hi;             /* exclusive upper bound, NULL = none */
	uint64_t weight;
	char *object;
	object_meta meta;
	int64_t rows;
} dump_task;

typedef struct dump_state {
	const engine_dump_options *o;
	repo *repo;
	my_uri uri;
	char *id;
	const char *flavor;

	dump_db *dbs;
	size_t n_dbs;
	dump_table *tables;
	size_t n_tables;
	dump_task *tasks;
	size_t n_tasks;

	/* the coordinator waits for the non-transactional tasks under the lock */
	pthread_mutex_t lock;
	pthread_cond_t nontrx_done;
	size_t nontrx_left;   /* non-transactional tasks not finished yet */
	int failed;
} dump_state;

typedef struct dump_worker {
	dump_state *st;
	MYSQL *conn;
	char *buf;
	size_t cap;
} dump_worker;

/* Only these engines give a consistent read inside a snapshot transaction. */
static int engine_transactional(const char *engine)
{
	return engine && (strcasecmp(engine, "InnoDB") == 0 || strcasecmp(engine, "RocksDB") == 0 ||
			  strcasecmp(engine, "TokuDB") == 0);
}

/* Tables whose rows belong to other tables or servers: schema only. */
static int engine_without_data(const char *engine)
{
	return engine == NULL || strcasecmp(engine, "MRG_MyISAM") == 0 ||
	       strcasecmp(engine, "MRG_MYISAM") == 0 || strcasecmp(engine, "BLACKHOLE") == 0 ||
	       strcasecmp(engine, "FEDERATED") == 0 || strcasecmp(engine, "SPIDER") == 0;
}

/* Wakes the coordinator waiting for the non-transactional tasks. */
static void set_failed(dump_state *st)
{
	pthread_mutex_lock(&st->lock);
	st->failed = 1;
	pthread_cond_broadcast(&st->nontrx_done);
	pthread_mutex_unlock(&st->lock);
}

static void task_finished(dump_state *st, dump_task *t)
{
	if (t->table->transactional)
		return;
	pthread_mutex_lock(&st->lock);
	if (--st->nontrx_left == 0)
		pthread_cond_broadcast(&st->nontrx_done);
	pthread_mutex_unlock(&st->lock);
}

static char *select_sql(const dump_state *st, const dump_task *t)
{
	char *qual = my_qualified_name(st->dbs[t->table->db].name, t->table->name);
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "SELECT %s FROM %s", t->table->select_list, qual);
	/* bounds are integers we formatted ourselves */
	if (t->lo && t->hi)
		strbuf_appendf(&b, " WHERE %s >= %s AND %s < %s", t->key, t->lo, t->key, t->hi);
	else if (t->lo)
		strbuf_appendf(&b, " WHERE %s >= %s", t->key, t->lo);
	else if (t->hi)
		strbuf_appendf(&b, " WHERE %s < %s", t->key, t->hi);
	free(qual);
	return strbuf_detach(&b);
}

static int dump_chunk(dump_worker *w, dump_task *t, bderr *err)
{
	dump_state *st = w->st;
	char *path = repo_backup_path(st->o->name, st->id, t->object);
	char *what = xasprintf("cannot dump table %s.%s", st->dbs[t->table->db].name, t->table->name);
	char *sql = select_sql(st, t);
	object_writer *ow = NULL;
	MYSQL_RES *res = NULL;
	int rc = -1;

	if (object_writer_open(repo_storage(st->repo), path, st->o->compress_level, &ow, err) != 0)
		goto out;
	if (mysql_real_query(w->conn, sql, strlen(sql)) != 0 ||
	    (res = mysql_use_result(w->conn)) == NULL) {
		my_fail(w->conn, what, err);
		goto out;
	}
	unsigned nf = mysql_num_fields(res);
	size_t fill = 0;
	int64_t rows = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(res);
		size_t need = nf + 1;
		for (unsigned i = 0; i < nf; i++)
			need += row[i] ? 2 * (size_t)len[i] : TSV_NULL_LEN;
		if (fill + need > w->cap) {
			if (fill > 0 && object_writer_write(ow, w->buf, fill, err) != 0)
				goto out;
			progress_add(st->o->progress, fill, 0);
			fill = 0;
			if (need > w->cap) {
				/* one huge row: grow once, the buffer is reused for the rest */
				w->cap = need;
				w->buf = xrealloc(w->buf, w->cap);
			}
		}
		char *o = w->buf + fill;
		for (unsigned i = 0; i < nf; i++) {
			if (i)
				*o++ = '\t';
			if (row[i] == NULL) {
				memcpy(o, TSV_NULL, TSV_NULL_LEN);
				o += TSV_NULL_LEN;
			} else {
				o += tsv_escape(o, row[i], len[i]);
			}
		}
		*o++ = '\n';
		fill = (size_t)(o - w->buf);
		rows++;
	}
	if (mysql_errno(w->conn) != 0) {
		my_fail(w->conn, what, err);
		goto out;
	}
	if (fill > 0 && object_writer_write(ow, w->buf, fill, err) != 0)
		goto out;
	if (object_writer_close(ow, &t->meta, err) != 0)
		goto out;
	progress_add(st->o->progress, fill, 1);
	progress_correct_total(st->o->progress, t->weight, t->meta.size);
	t->rows = rows;
	rc = 0;
out:
	if (res)
		mysql_free_result(res);
	object_writer_free(ow);
	free(sql);
	free(what);
	free(path);
	return rc;
}

/* One task in a worker of the shared pool (common/workpool.h). */
static int dump_task_run(void *shared, void *worker, void *item, bderr *err)
{
	dump_state *st = shared;
	dump_task *t = item;
	if (dump_chunk(worker, t, err) != 0) {
		set_failed(st);
		return -1;
	}
	task_finished(st, t);
	log_debug("dumped %s.%s chunk %d: %" PRId64 " rows", st->dbs[t->table->db].name,
		  t->table->name, t->chunk, t->rows);
	return 0;
}

/* ---- what to dump ---- */

static int is_system_db(const char *name)
{
	return strcasecmp(name, "mysql") == 0 || strcasecmp(name, "information_schema") == 0 ||
	       strcasecmp(name, "performance_schema") == 0 || strcasecmp(name, "sys") == 0;
}

static int load_databases(dump_state *st, MYSQL *c, bderr *err)
{
	MYSQL_RES *r;
	if (my_query(c,
		     "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
		     "FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
		     "cannot list databases", &r, err) != 0)
		return -1;
	size_t n_rows = mysql_num_rows(r);
	char ***rows = xcalloc(n_rows + 1, sizeof *rows);
	size_t n = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL)
		rows[n++] = (char **)row;
	int rc = 0;
	st->dbs = xcalloc((st->uri.n_databases ? st->uri.n_databases : n) + 1, sizeof *st->dbs);
	if (st->uri.n_databases && st->o->all_databases) {
		rc = bderr_usage(err, "--all-databases (databases = all) and a URI naming databases: give the server's URI without a database");
	} else if (st->uri.n_databases) {
		for (size_t i = 0; i < st->uri.n_databases && rc == 0; i++) {
			size_t k;
			for (k = 0; k < n; k++)
				if (strcmp(rows[k][0], st->uri.databases[i]) == 0)
					break;
			if (k == n) {
				rc = bderr_set(err, "database '%s' does not exist on the server (or the dump account cannot see it)",
					       st->uri.databases[i]);
				break;
			}
			dump_db *d = &st->dbs[st->n_dbs++];
			d->name = xstrdup(rows[k][0]);
			d->charset = xstrdup(rows[k][1] ? rows[k][1] : "utf8mb4");
			d->collation = xstrdup(rows[k][2] ? rows[k][2] : "utf8mb4_general_ci");
			d->views = json_array();
		}
	} else {
		for (size_t k = 0; k < n; k++) {
			if (is_system_db(rows[k][0]))
				continue;
			dump_db *d = &st->dbs[st->n_dbs++];
			d->name = xstrdup(rows[k][0]);
			d->charset = xstrdup(rows[k][1] ? rows[k][1] : "utf8mb4");
			d->collation = xstrdup(rows[k][2] ? rows[k][2] : "utf8mb4_general_ci");
			d->views = json_array();
		}
		if (st->n_dbs == 0)
			rc = bderr_set(err, "the server has no databases to dump (system databases are left out)");
	}
	free(rows);
	mysql_free_result(r);
	return rc;
}

static dump_table *find_table(dump_state *st, size_t db, size_t from, const char *name, size_t *hint)
{
	/* both listings come in the same order, so the hint almost always hits */
	if (*hint < st->n_tables && st->tables[*hint].db == db &&
	    strcmp(st->tables[*hint].name, name) == 0)
		return &st->tables[*hint];
	for (size_t i = from; i < st->n_tables; i++)
		if (st->tables[i].db == db && strcmp(st->tables[i].name, name) == 0) {
			*hint = i;
			return &st->tables[i];
		}
	return NULL;
}

static int load_tables(dump_state *st, MYSQL *c, size_t db, bderr *err)
{
	char *lit = my_quote_literal(c, st->dbs[db].name);
	char *sql = xasprintf("SELECT TABLE_NAME, ENGINE, DATA_LENGTH, TABLE_ROWS, AUTO_INCREMENT "
			      "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
			      "AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME",
			      lit);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot list tables", &r, err);
	free(sql);
	if (rc != 0) {
		free(lit);
		return -1;
	}
	size_t first = st->n_tables;
	st->tables = xrealloc(st->tables, (st->n_tables + mysql_num_rows(r) + 1) * sizeof *st->tables);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		/* "database.table" patterns: the database is the schema */
		if (!table_filter_selects(st->o->filter, st->dbs[db].name, row[0]))
			continue;
		dump_table *t = &st->tables[st->n_tables++];
		memset(t, 0, sizeof *t);
		t->db = db;
		t->name = xstrdup(row[0]);
		t->engine = xstrdup(row[1] ? row[1] : "");
		t->transactional = engine_transactional(row[1]);
		t->skip_data = engine_without_data(row[1]);
		t->data_bytes = row[2] ? strtoull(row[2], NULL, 10) : 0;
		t->est_rows = row[3] ? strtoull(row[3], NULL, 10) : 0;
		/* --exclude-table-data: the definition without the rows */
		t->skip_data |= !table_filter_keeps_data(st->o->filter, st->dbs[db].name, row[0]);
		t->has_auto_inc = row[4] != NULL;
		t->auto_inc = row[4] ? strtoll(row[4], NULL, 10) : 0;
	}
	mysql_free_result(r);

	sql = xasprintf("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS "
			"WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
			lit);
	free(lit);
	rc = my_query(c, sql, "cannot list columns", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	size_t hint = first;
	while ((row = mysql_fetch_row(r)) != NULL) {
		dump_table *t = find_table(st, db, first, row[0], &hint);
		if (t == NULL)
			continue; /* a view's columns */
		const char *extra = row[3] ? row[3] : "";
		if (strstr(extra, "VIRTUAL GENERATED") || strstr(extra, "STORED GENERATED") ||
		    strstr(extra, "PERSISTENT GENERATED"))
			continue;
		t->columns = xrealloc(t->columns, (t->n_columns + 1) * sizeof *t->columns);
		t->types = xrealloc(t->types, (t->n_columns + 1) * sizeof *t->types);
		t->columns[t->n_columns] = xstrdup(row[1]);
		t->types[t->n_columns] = xstrdup(row[2] ? row[2] : "");
		t->n_columns++;
	}
	mysql_free_result(r);

	for (size_t i = first; i < st->n_tables; i++) {
		dump_table *t = &st->tables[i];
		strbuf b;
		strbuf_init(&b);
		for (size_t k = 0; k < t->n_columns; k++) {
			char *q = my_quote_ident(t->columns[k]);
			if (k)
				strbuf_appends(&b, ", ");
			/*
			 * See the format notes: BIT as its number, spatial as hex of the
			 * stored value.  FLOAT goes out as a DOUBLE: the server prints a
			 * FLOAT with 6 significant digits, which does not give the stored
			 * value back, while every float is exactly a double whose text
			 * rounds back to it.
			 */
			if (strcasecmp(t->types[k], "bit") == 0)
				strbuf_appendf(&b, "%s + 0", q);
			else if (strcasecmp(t->types[k], "float") == 0)
				strbuf_appendf(&b, "%s + 0e0", q);
			else if (my_type_is_spatial(t->types[k]))
				strbuf_appendf(&b, "HEX(%s)", q);
			else
				strbuf_appends(&b, q);
			free(q);
		}
		if (t->n_columns == 0)
			t->skip_data = 1; /* nothing but generated columns: nothing to load */
		t->select_list = strbuf_detach(&b);
	}
	return 0;
}

/*
 * The column a big table is split on: the leading column of the primary
 * key, else of a unique key, when that column is an integer and NOT NULL.
 * Ranges of the leading column alone are exact for a composite key too:
 * every row has one value there and falls in exactly one range, and the
 * index prefix serves each range.  (With few distinct leading values the
 * table gets at most that many chunks.)  Tables keyed otherwise (strings)
 * would need boundaries sampled from the index; such a table stays one
 * chunk, which is exact and still runs in parallel with the other tables.
 */
static int split_key(MYSQL *c, const char *db, const dump_table *t, char **col, int *is_unsigned,
		     bderr *err)
{
	*col = NULL;
	char *ldb = my_quote_literal(c, db);
	char *ltab = my_quote_literal(c, t->name);
	char *sql = xasprintf(
		"SELECT s.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE "
		"FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c "
		"  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME "
		" AND c.COLUMN_NAME = s.COLUMN_NAME "
		"WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.NON_UNIQUE = 0 "
		"  AND s.SEQ_IN_INDEX = 1 "
		"ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME",
		ldb, ltab);
	free(ldb);
	free(ltab);
	MYSQL_RES *r;
	int rc = my_query(c, sql, "cannot read the keys of a table", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (row[0] && row[1] && my_type_is_integer(row[1]) && row[3] && strcmp(row[3], "NO") == 0) {
			*col = xstrdup(row[0]);
			*is_unsigned = row[2] && strstr(row[2], "unsigned") != NULL;
			break;
		}
	}
	mysql_free_result(r);
	return 0;
}

static int task_order(const void *a, const void *b)
{
	const dump_task *x = a, *y = b;
	/* non-transactional tables first: they are read while the lock holds */
	if (x->table->transactional != y->table->transactional)
		return x->table->transactional ? 1 : -1;
	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return 0;
}

static void add_task(dump_state *st, size_t *cap, dump_table *t, int chunk, const char *key,
		     char *lo, char *hi, uint64_t weight)
{
	if (st->n_tasks == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		st->tasks = xrealloc(st->tasks, *cap * sizeof *st->tasks);
	}
	dump_task *d = &st->tasks[st->n_tasks++];
	memset(d, 0, sizeof *d);
	d->table = t;
	d->chunk = chunk;
	d->key = key ? my_quote_ident(key) : NULL;
	d->lo = lo;
	d->hi = hi;
	d->weight = weight;
	d->object = my_chunk_object(st->dbs[t->db].name, t->name, chunk, st->o->compress_level != 0);
}

static int plan_tasks(dump_state *st, MYSQL *c, bderr *err)
{
	size_t cap = 0;
	for (size_t i = 0; i < st->n_tables; i++) {
		dump_table *t = &st->tables[i];
		t->n_chunks = 0;
		if (t->skip_data)
			continue;
		uint64_t want = t->transactional
					? mysql_chunk_count(t->data_bytes, t->est_rows, st->o->chunk_bytes)
					: 1;
		char *key = NULL;
		int is_unsigned = 0;
		char **bounds = NULL;
		uint64_t n = 1;
		if (want > 1) {
			if (split_key(c, st->dbs[t->db].name, t, &key, &is_unsigned, err) != 0)
				return -1;
		}
		if (key) {
			char *qk = my_quote_ident(key);
			char *qual = my_qualified_name(st->dbs[t->db].name, t->name);
			char *sql = xasprintf("SELECT MIN(%s), MAX(%s) FROM %s", qk, qk, qual);
			MYSQL_RES *r;
			int rc = my_query(c, sql, "cannot read a table's key range", &r, err);
			free(sql);
			free(qual);
			free(qk);
			if (rc != 0) {
				free(key);
				return -1;
			}
			MYSQL_ROW row = mysql_fetch_row(r);
			if (row)
				n = mysql_split_int_range(row[0], row[1], is_unsigned, want, &bounds);
			mysql_free_result(r);
		}
		uint64_t weight = t->data_bytes / n + 1;
		for (uint64_t k = 0; k < n; k++) {
			char *lo = k > 0 ? xstrdup(bounds[k - 1]) : NULL;
			char *hi = k + 1 < n ? xstrdup(bounds[k]) : NULL;
			add_task(st, &cap, t, (int)k, n > 1 ? key : NULL, lo, hi, weight);
		}
		t->n_chunks = (int)n;
		if (bounds) {
			for (uint64_t k = 0; k + 1 < n; k++)
				free(bounds[k]);
			free(bounds);
		}
		free(key);
	}
	if (st->n_tasks)
		qsort(st->tasks, st->n_tasks, sizeof *st->tasks, task_order);
	for (size_t i = 0; i < st->n_tasks; i++)
		if (!st->tasks[i].table->transactional)
			st->nontrx_left++;
	return 0;
}

/* ---- consistency ---- */

static int open_worker(dump_state *st, dump_worker *w, bderr *err)
{
	if (my_connect(&st->uri, st->o->password, NULL, MY_NAMES_BINARY, 0, &w->conn, err) != 0)
		return -1;
	w->cap = ROW_BUF;
	w->buf = xmalloc(w->cap);
	/* a slow repository must not make the server drop a streaming result */
	if (my_exec(w->conn,
		    "SET SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, "
		    "SESSION wait_timeout = 86400",
		    "cannot configure a dump worker session", err) != 0)
		return -1;
	return my_exec(w->conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		       "cannot configure a dump worker session", err);
}

static json_t *binlog_position(MYSQL *c)
{
	bderr ignored;
	bderr_init(&ignored);
	MYSQL_RES *r = NULL;
	/* MySQL 8.4 renamed the statement */
	if (my_query(c, "SHOW MASTER STATUS", "binlog", &r, &ignored) != 0 &&
	    my_query(c, "SHOW BINARY LOG STATUS", "binlog", &r, &ignored) != 0)
		return json_null();
	json_t *out = json_null();
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row && row[0] && row[1])
		out = json_pack("{s:s, s:I}", "file", row[0], "position",
				(json_int_t)strtoll(row[1], NULL, 10));
	mysql_free_result(r);
	return out;
}

/* MariaDB reports the binlog position of a consistent snapshot itself. */
static json_t *snapshot_binlog_position(MYSQL *c)
{
	bderr ignored;
	bderr_init(&ignored);
	MYSQL_RES *r = NULL;
	if (my_query(c, "SHOW STATUS LIKE 'binlog_snapshot_%'", "binlog", &r, &ignored) != 0)
		return json_null();
	const char *file = NULL, *pos = NULL;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (row[0] && strcasecmp(row[0], "binlog_snapshot_file") == 0)
			file = row[1];
		else if (row[0] && strcasecmp(row[0], "binlog_snapshot_position") == 0)
			pos = row[1];
	}
	json_t *out = json_null();
	if (file && *file && pos)
		out = json_pack("{s:s, s:I}", "file", file, "position",
				(json_int_t)strtoll(pos, NULL, 10));
	mysql_free_result(r);
	return out;
}

static json_t *gtid_position(MYSQL *c, const char *flavor)
{
	bderr ignored;
	bderr_init(&ignored);
	char *v = NULL;
	const char *sql = strcmp(flavor, "mariadb") == 0 ? "SELECT @@GLOBAL.gtid_binlog_pos"
							  : "SELECT @@GLOBAL.gtid_executed";
	if (my_query_value(c, sql, "gtid", &v, &ignored) != 0 || v == NULL) {
		free(v);
		return json_null();
	}
	json_t *out = *v ? json_string(v) : json_null();
	free(v);
	return out;
}

/* The dumped databases, their tables and each table's chunks in order. */
static void databases_info(dump_state *st, my_dump_info *inf)
{
	inf->dbs = xcalloc(st->n_dbs + 1, sizeof *inf->dbs);
	for (size_t d = 0; d < st->n_dbs; d++) {
		my_dump_db *db = &inf->dbs[inf->n_dbs++];
		db->name = xstrdup(st->dbs[d].name);
		db->charset = xstrdup(st->dbs[d].charset);
		db->collation = xstrdup(st->dbs[d].collation);
		db->views = json_incref(st->dbs[d].views);
		db->tables = xcalloc(st->n_tables + 1, sizeof *db->tables);
		for (size_t i = 0; i < st->n_tables; i++) {
			dump_table *t = &st->tables[i];
			if (t->db != d)
				continue;
			my_dump_table *o = &db->tables[db->n_tables++];
			o->name = xstrdup(t->name);
			o->engine = t->engine ? xstrdup(t->engine) : NULL;
			o->columns = xcalloc(t->n_columns + 1, sizeof *o->columns);
			o->types = xcalloc(t->n_columns + 1, sizeof *o->types);
			for (size_t k = 0; k < t->n_columns; k++) {
				o->columns[k] = xstrdup(t->columns[k]);
				o->types[k] = xstrdup(t->types[k]);
			}
			o->n_columns = o->n_types = t->n_columns;
			o->has_auto_increment = t->has_auto_inc;
			o->auto_increment = t->auto_inc;
			o->chunks = xcalloc((size_t)t->n_chunks + 1, sizeof *o->chunks);
			o->n_chunks = (size_t)t->n_chunks;
			for (size_t k = 0; k < st->n_tasks; k++) {
				dump_task *x = &st->tasks[k];
				if (x->table == t) {
					o->chunks[x->chunk] = xstrdup(x->object);
					o->rows += x->rows;
				}
			}
		}
	}
}

/* The accounts with grants on the dumped databases (engines/mysql/mysql_dump_users.h). */
static int dump_users(dump_state *st, MYSQL *c, json_t *info, bderr *err)
{
	const char **dbs = xcalloc(st->n_dbs + 1, sizeof *dbs);
	for (size_t i = 0; i < st->n_dbs; i++)
		dbs[i] = st->dbs[i].name;
	int rc = mysql_dump_users(c, dbs, st->n_dbs, info, err);
	free(dbs);
	return rc;
}

int mysql_dump_run(repo *r, const engine_dump_options *o, char **id_out, bderr *err)
{
	dump_state st;
	memset(&st, 0, sizeof st);
	st.o = o;
	st.repo = r;
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.nontrx_done, NULL);

	MYSQL *c = NULL;
	dump_worker *workers = NULL;
	workpool *pool = NULL;
	int n_workers = 0, locked = 0;
	manifest *m = NULL;
	char *server_sql_mode = NULL;
	my_dump_info inf;
	memset(&inf, 0, sizeof inf);
	int rc = -1;
	time_t started = time(NULL);
	const int no_lock = o->consistency == ENGINE_CONSISTENCY_NO_LOCK;

	if (my_uri_parse(o->url, &st.uri, err) != 0)
		goto out;
	if (my_connect(&st.uri, o->password, NULL, MY_NAMES_UTF8MB4, 0, &c, err) != 0)
		goto out;
	st.flavor = my_flavor(c);
	if (my_query_value(c, "SELECT @@GLOBAL.sql_mode", "cannot read the server's sql_mode",
			   &server_sql_mode, err) != 0)
		goto out;
	if (load_databases(&st, c, err) != 0)
		goto out;
	for (size_t d = 0; d < st.n_dbs; d++)
		if (load_tables(&st, c, d, err) != 0)
			goto out;
	if (plan_tasks(&st, c, err) != 0)
		goto out;
	/* DATA_LENGTH from the table statistics: an estimate of the TSV, corrected chunk by chunk */
	for (size_t i = 0; i < st.n_tasks; i++)
		progress_add_total(o->progress, st.tasks[i].weight, 1);
	progress_set_estimated(o->progress, 1);

	m = manifest_new();
	m->engine = xstrdup("mysql");
	m->kind = xstrdup("dump");
	m->name = xstrdup(o->name);
	m->server_version = xstrdup(mysql_get_server_info(c));
	m->tool_version = xstrdup("backupd " BACKUPD_VERSION);
	m->started = started;
	inf.server_version = xstrdup(m->server_version);
	inf.flavor = xstrdup(st.flavor);
	inf.consistency = xstrdup(no_lock ? "no-lock" : "ftwrl");
	inf.sql_mode = xstrdup(MY_SESSION_SQL_MODE);
	inf.server_sql_mode = xstrdup(server_sql_mode ? server_sql_mode : "");
	inf.time_zone = xstrdup(MY_SESSION_TIME_ZONE);

	if (repo_backup_begin(r, o->name, started, &st.id, err) != 0)
		goto out;
	m->id = xstrdup(st.id);

	/* connect first, so the global lock is held only for the snapshot itself */
	n_workers = o->jobs < 1 ? 1 : o->jobs;
	if ((size_t)n_workers > st.n_tasks)
		n_workers = st.n_tasks ? (int)st.n_tasks : 1;
	workers = xcalloc((size_t)n_workers + 1, sizeof *workers);
	for (int i = 0; i < n_workers; i++) {
		workers[i].st = &st;
		if (open_worker(&st, &workers[i], err) != 0)
			goto out;
	}
	if (!no_lock) {
		/*
		 * While FTWRL waits for a long-running query, every writer queues
		 * behind it: give up after a bounded wait rather than stall the
		 * application (the default lock_wait_timeout is a day).
		 */
		if (my_exec(c, "SET SESSION lock_wait_timeout = " FTWRL_WAIT_SECONDS,
			    "cannot configure the dump session", err) != 0)
			goto out;
		if (my_exec(c, "FLUSH TABLES WITH READ LOCK", "cannot lock the server for a consistent dump",
			    err) != 0) {
			if (mysql_errno(c) == 1045 || mysql_errno(c) == 1227)
				bderr_prefix(err, "the dump account lacks the RELOAD privilege (or use --consistency no-lock)");
			goto out;
		}
		locked = 1;
	}
	json_t *binlog = binlog_position(c);
	json_t *gtid = gtid_position(c, st.flavor);
	for (int i = 0; i < n_workers; i++)
		if (my_exec(workers[i].conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
			    "cannot start a snapshot transaction", err) != 0) {
			json_decref(binlog);
			json_decref(gtid);
			goto out;
		}
	if (no_lock && strcmp(st.flavor, "mariadb") == 0) {
		/* exact for the first worker's snapshot even without the lock */
		json_t *snap = snapshot_binlog_position(workers[0].conn);
		if (!json_is_null(snap)) {
			json_decref(binlog);
			binlog = snap;
		} else {
			json_decref(snap);
		}
	}
	inf.binlog = binlog;
	inf.gtid_executed = gtid;
	log_info("dump %s of '%s' started: %zu databases, %zu tables in %zu chunks, %d jobs, %s",
		 st.id, o->name, st.n_dbs, st.n_tables, st.n_tasks, n_workers,
		 no_lock ? "no lock" : "FTWRL snapshot");

	if (workpool_start_arrays(&st, workers, sizeof *workers, n_workers, st.tasks, sizeof *st.tasks,
				  st.n_tasks, dump_task_run, &my_thread_hooks, &pool, err) != 0)
		goto out;
	bderr uerr;
	bderr_init(&uerr);
	int unlock_failed = 0;
	if (locked) {
		/* non-transactional tables are consistent only while nobody writes */
		pthread_mutex_lock(&st.lock);
		while (st.nontrx_left > 0 && !st.failed)
			pthread_cond_wait(&st.nontrx_done, &st.lock);
		pthread_mutex_unlock(&st.lock);
		if (my_exec(c, "UNLOCK TABLES", "cannot release the global read lock", &uerr) != 0) {
			unlock_failed = 1;
			set_failed(&st);
		}
		locked = 0;
	}

	/* the coordinator's share, overlapped with the workers' reads */
	int crc = 0;
	pthread_mutex_lock(&st.lock);
	int failed_early = st.failed;
	pthread_mutex_unlock(&st.lock);
	if (!failed_early) {
		mysql_schema_target target = { r, m, o->name, st.id, o->compress_level, o->filter };
		for (size_t d = 0; d < st.n_dbs && crc == 0; d++) {
			size_t nt = 0;
			char **names = xcalloc(st.n_tables + 1, sizeof *names);
			for (size_t i = 0; i < st.n_tables; i++)
				if (st.tables[i].db == d)
					names[nt++] = st.tables[i].name;
			crc = mysql_schema_dump(c, &target, st.dbs[d].name, st.dbs[d].charset,
						st.dbs[d].collation, names, nt, st.dbs[d].views, err);
			free(names);
		}
	}
	if (crc != 0 || unlock_failed)
		workpool_cancel(pool);
	bderr jerr;
	bderr_init(&jerr);
	int jrc = workpool_join(pool, &jerr);
	pool = NULL;
	if (crc != 0)
		goto out; /* err says why the schema failed */
	if (jrc != 0 || unlock_failed) {
		*err = jrc != 0 ? jerr : uerr;
		goto out;
	}

	for (size_t i = 0; i < st.n_tasks; i++) {
		dump_task *d = &st.tasks[i];
		manifest_add_object(m, d->object, &d->meta, o->compress_level != 0, d->rows);
	}
	databases_info(&st, &inf);
	engine_options_info_set(&inf.options, o, inf.consistency);
	my_dump_info_to_json(&inf, m->info);
	if (dump_users(&st, c, m->info, err) != 0)
		goto out;
	for (int i = 0; i < n_workers; i++) {
		bderr ignored;
		bderr_init(&ignored);
		my_exec(workers[i].conn, "COMMIT", "commit", &ignored);
	}
	if (repo_backup_commit(r, m, err) != 0)
		goto out;
	*id_out = xstrdup(st.id);
	rc = 0;
out:
	if (pool) {
		bderr ignored;
		bderr_init(&ignored);
		workpool_cancel(pool);
		workpool_join(pool, &ignored);
	}
	if (locked) {
		bderr ignored;
		bderr_init(&ignored);
		my_exec(c, "UNLOCK TABLES", "unlock", &ignored);
	}
	if (rc != 0 && st.id)
		repo_backup_discard(st.repo, st.o->name, st.id);
	if (workers) {
		for (int i = 0; workers[i].st; i++) {
			my_close(workers[i].conn);
			free(workers[i].buf);
		}
		free(workers);
	}
	my_close(c);
	manifest_free(m);
	free(server_sql_mode);
	my_dump_info_clear(&inf);
	for (size_t i = 0; i < st.n_tables; i++) {
		dump_table *t = &st.tables[i];
		free(t->name);
		free(t->engine);
		for (size_t k = 0; k < t->n_columns; k++) {
			free(t->columns[k]);
			free(t->types[k]);
		}
		free(t->columns);
		free(t->types);
		free(t->select_list);
	}
	free(st.tables);
	for (size_t i = 0; i < st.n_tasks; i++) {
		free(st.tasks[i].key);
		free(st.tasks[i].lo);
		free(st.tasks[i].hi);
		free(st.tasks[i].object);
	}
	free(st.tasks);
	for (size_t d = 0; d < st.n_dbs; d++) {
		free(st.dbs[d].name);
		free(st.dbs[d].charset);
		free(st.dbs[d].collation);
		json_decref(st.dbs[d].views);
	}
	free(st.dbs);
	my_uri_clear(&st.uri);
	free(st.id);
	pthread_cond_destroy(&st.nontrx_done);
	pthread_mutex_destroy(&st.lock);
	return rc;
}

#include "engines/mysql/mysql_source.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/my_digest.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_chunks.h"
#include "engines/mysql/mysql_format.h"

/* How long FLUSH TABLES WITH READ LOCK may wait for running statements. */
#define FTWRL_WAIT_SECONDS "60"

/* Only these engines give a consistent read inside a snapshot transaction. */
static int engine_transactional(const char *engine)
{
	return engine && (strcasecmp(engine, "InnoDB") == 0 || strcasecmp(engine, "RocksDB") == 0 ||
			  strcasecmp(engine, "TokuDB") == 0);
}

char *my_src_select_sql(const my_src_plan *st, const my_src_task *t)
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


static int is_system_db(const char *name)
{
	return strcasecmp(name, "mysql") == 0 || strcasecmp(name, "information_schema") == 0 ||
	       strcasecmp(name, "performance_schema") == 0 || strcasecmp(name, "sys") == 0;
}

static int load_databases(my_src_plan *st, const my_uri *u, MYSQL *c, bderr *err)
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
	st->dbs = xcalloc((u->n_databases ? u->n_databases : n) + 1, sizeof *st->dbs);
	if (u->n_databases) {
		for (size_t i = 0; i < u->n_databases && rc == 0; i++) {
			size_t k;
			for (k = 0; k < n; k++)
				if (strcmp(rows[k][0], u->databases[i]) == 0)
					break;
			if (k == n) {
				rc = bderr_set(err, "database '%s' does not exist on the server (or the dump account cannot see it)",
					       u->databases[i]);
				break;
			}
			my_src_db *d = &st->dbs[st->n_dbs++];
			d->name = xstrdup(rows[k][0]);
			d->charset = xstrdup(rows[k][1] ? rows[k][1] : "utf8mb4");
			d->collation = xstrdup(rows[k][2] ? rows[k][2] : "utf8mb4_general_ci");
			d->views = json_array();
		}
	} else {
		for (size_t k = 0; k < n; k++) {
			if (is_system_db(rows[k][0]))
				continue;
			my_src_db *d = &st->dbs[st->n_dbs++];
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

static my_src_table *find_table(my_src_plan *st, size_t db, size_t from, const char *name, size_t *hint)
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

int my_src_stats_stale(uint64_t data_bytes, uint64_t est_rows)
{
	return est_rows > 0 && data_bytes / est_rows < MY_SRC_MIN_ROW_BYTES;
}

/*
 * A table whose statistics are stale (InnoDB's persistent statistics lag a
 * freshly loaded table: MariaDB's TABLE_ROWS follows the inserts at once,
 * DATA_LENGTH stays one page until the background recalculation, or an
 * ANALYZE TABLE, catches up): its size is estimated as TABLE_ROWS times the
 * average TSV line of its first SAMPLE_ROWS rows.  Cheap (one short read by
 * the primary key, no ANALYZE: that would write the statistics of the
 * source and, on MariaDB, can scan the whole table), still an estimate like
 * DATA_LENGTH: the dump corrects it chunk by chunk, migrate marks it "~".
 * A failed sample leaves DATA_LENGTH: only the estimate is at stake.
 */
#define SAMPLE_ROWS 200
static void sample_size(MYSQL *c, const char *db, my_src_table *t)
{
	/*
	 * Each field's length, as the dump selects it, summed on the server
	 * (a NULL is \N): only a number a row comes back, and no value is
	 * concatenated (that could pass max_allowed_packet on wide rows).
	 */
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "SELECT ");
	for (size_t k = 0; k < t->n_columns; k++) {
		char *expr = my_digest_select_list(&t->columns[k], &t->types[k], 1);
		strbuf_appendf(&b, "%sCOALESCE(LENGTH(%s), 2)", k ? " + " : "", expr);
		free(expr);
	}
	char *qual = my_qualified_name(db, t->name);
	strbuf_appendf(&b, " FROM %s LIMIT %d", qual, SAMPLE_ROWS);
	free(qual);
	char *sql = strbuf_detach(&b);
	MYSQL_RES *r = NULL;
	bderr e;
	bderr_init(&e);
	if (my_query(c, sql, "cannot sample a table's rows", &r, &e) != 0) {
		log_debug("%s.%s: no size sample (%s): DATA_LENGTH stays the estimate", db, t->name,
			  e.msg);
		free(sql);
		return;
	}
	free(sql);
	uint64_t n = 0, sum = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) != NULL) {
		n++;
		sum += (row[0] ? strtoull(row[0], NULL, 10) : 0) + t->n_columns; /* tabs, newline */
	}
	mysql_free_result(r);
	if (n == 0)
		return; /* empty after all: DATA_LENGTH stays */
	uint64_t rows = t->est_rows > n ? t->est_rows : n;
	uint64_t est = sum / n * rows;
	log_debug("%s.%s: statistics stale (DATA_LENGTH %" PRIu64 ", TABLE_ROWS %" PRIu64
		  "): about %" PRIu64 " bytes from %" PRIu64 " sampled rows",
		  db, t->name, t->data_bytes, t->est_rows, est, n);
	if (est > t->data_bytes)
		t->data_bytes = est;
}

static int load_tables(my_src_plan *st, MYSQL *c, size_t db, bderr *err)
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
		if (!table_filter_selects(st->filter, st->dbs[db].name, row[0]))
			continue;
		my_src_table *t = &st->tables[st->n_tables++];
		memset(t, 0, sizeof *t);
		t->db = db;
		t->name = xstrdup(row[0]);
		t->engine = xstrdup(row[1] ? row[1] : "");
		t->transactional = engine_transactional(row[1]);
		t->skip_data = my_engine_without_data(row[1]);
		t->data_bytes = row[2] ? strtoull(row[2], NULL, 10) : 0;
		t->est_rows = row[3] ? strtoull(row[3], NULL, 10) : 0;
		/* --exclude-table-data: the definition without the rows */
		t->skip_data |= !table_filter_keeps_data(st->filter, st->dbs[db].name, row[0]);
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
		my_src_table *t = find_table(st, db, first, row[0], &hint);
		if (t == NULL)
			continue; /* a view's columns */
		if (my_extra_is_generated(row[3]))
			continue;
		t->columns = xrealloc(t->columns, (t->n_columns + 1) * sizeof *t->columns);
		t->types = xrealloc(t->types, (t->n_columns + 1) * sizeof *t->types);
		t->columns[t->n_columns] = xstrdup(row[1]);
		t->types[t->n_columns] = xstrdup(row[2] ? row[2] : "");
		t->n_columns++;
	}
	mysql_free_result(r);

	for (size_t i = first; i < st->n_tables; i++) {
		my_src_table *t = &st->tables[i];
		if (t->n_columns == 0)
			t->skip_data = 1; /* nothing but generated columns: nothing to load */
		t->select_list = my_digest_select_list(t->columns, t->types, t->n_columns);
		if (!t->skip_data && my_src_stats_stale(t->data_bytes, t->est_rows))
			sample_size(c, st->dbs[db].name, t);
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
static int split_key(MYSQL *c, const char *db, const my_src_table *t, char **col, int *is_unsigned,
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
	const my_src_task *x = a, *y = b;
	/* non-transactional tables first: they are read while the lock holds */
	if (x->table->transactional != y->table->transactional)
		return x->table->transactional ? 1 : -1;
	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return 0;
}


json_t *my_src_binlog_position(MYSQL *c)
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
json_t *my_src_snapshot_binlog_position(MYSQL *c)
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

json_t *my_src_gtid_position(MYSQL *c, const char *flavor)
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


static void add_task(my_src_plan *st, size_t *cap, my_src_table *t, int chunk, const char *key,
		     char *lo, char *hi, uint64_t weight)
{
	if (st->n_tasks == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		st->tasks = xrealloc(st->tasks, *cap * sizeof *st->tasks);
	}
	my_src_task *d = &st->tasks[st->n_tasks++];
	memset(d, 0, sizeof *d);
	d->table = t;
	d->chunk = chunk;
	d->key = key ? my_quote_ident(key) : NULL;
	d->lo = lo;
	d->hi = hi;
	d->weight = weight;
}

static int plan_tasks(my_src_plan *st, MYSQL *c, uint64_t chunk_bytes, bderr *err)
{
	size_t cap = 0;
	for (size_t i = 0; i < st->n_tables; i++) {
		my_src_table *t = &st->tables[i];
		t->n_chunks = 0;
		if (t->skip_data)
			continue;
		uint64_t want = t->transactional
					? mysql_chunk_count(t->data_bytes, t->est_rows, chunk_bytes)
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
			st->n_nontrx++;
	return 0;
}

/*
 * An --include-table that matches no table or view of the dumped databases
 * (a typo) would make every run a backup without it: refused, naming it.
 */
static int check_includes(const my_src_plan *st, MYSQL *c, bderr *err)
{
	if (!table_filter_has(st->filter, TF_INCLUDE_TABLE))
		return 0;
	const char **dbs = NULL;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	for (size_t d = 0; d < st->n_dbs && rc == 0; d++) {
		char *lit = my_quote_literal(c, st->dbs[d].name);
		char *sql = xasprintf("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", lit);
		free(lit);
		MYSQL_RES *r;
		rc = my_query(c, sql, "cannot list tables", &r, err);
		free(sql);
		if (rc != 0)
			break;
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(r)) != NULL) {
			dbs = xrealloc(dbs, (n + 1) * sizeof *dbs);
			names = xrealloc(names, (n + 1) * sizeof *names);
			dbs[n] = st->dbs[d].name;
			names[n] = xstrdup(row[0]);
			n++;
		}
		mysql_free_result(r);
	}
	char buf[512];
	const char *miss = rc == 0 ? table_filter_unmatched(st->filter, TF_INCLUDE_TABLE, dbs, (const char *const *)names, n,
						     buf, sizeof buf)
				   : NULL;
	if (miss)
		rc = bderr_usage(err, "--include-table '%s' matches no table or view of the dumped databases: the dump would leave it out",
				 miss);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(dbs);
	free(names);
	return rc;
}

int my_src_plan_load(MYSQL *c, const my_uri *u, uint64_t chunk_bytes, const table_filter *filter,
		     int all_databases, my_src_plan *p, bderr *err)
{
	memset(p, 0, sizeof *p);
	p->filter = filter;
	if (all_databases && u->n_databases)
		return bderr_usage(err, "--all-databases (databases = all) and a URI naming databases: give the server's URI without a database");
	p->flavor = my_flavor(c);
	/*
	 * MySQL 8 serves information_schema.TABLES from a cache of the
	 * statistics (a day by default): a freshly loaded table shows 0 rows
	 * there, so its stale DATA_LENGTH could not be noticed (sample_size).
	 * Read the engine's live figures instead; a failure only costs the
	 * estimate.  MariaDB has no such cache (nor the variable).
	 */
	if (strcmp(p->flavor, "mysql") == 0 && mysql_get_server_version(c) >= 80003 &&
	    mysql_query(c, "SET SESSION information_schema_stats_expiry = 0") != 0)
		log_debug("information_schema_stats_expiry: %s", mysql_error(c));
	if (load_databases(p, u, c, err) != 0)
		return -1;
	if (check_includes(p, c, err) != 0)
		return -1;
	for (size_t d = 0; d < p->n_dbs; d++)
		if (load_tables(p, c, d, err) != 0)
			return -1;
	return plan_tasks(p, c, chunk_bytes, err);
}

void my_src_plan_clear(my_src_plan *p)
{
	for (size_t i = 0; i < p->n_tables; i++) {
		my_src_table *t = &p->tables[i];
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
	free(p->tables);
	for (size_t i = 0; i < p->n_tasks; i++) {
		free(p->tasks[i].key);
		free(p->tasks[i].lo);
		free(p->tasks[i].hi);
	}
	free(p->tasks);
	for (size_t d = 0; d < p->n_dbs; d++) {
		free(p->dbs[d].name);
		free(p->dbs[d].charset);
		free(p->dbs[d].collation);
		json_decref(p->dbs[d].views);
	}
	free(p->dbs);
	memset(p, 0, sizeof *p);
}

int my_src_session(MYSQL *c, bderr *err)
{
	if (my_exec(c,
		    "SET SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, "
		    "SESSION wait_timeout = 86400",
		    "cannot configure a reading session", err) != 0)
		return -1;
	return my_exec(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		       "cannot configure a reading session", err);
}

int my_src_lock(MYSQL *c, const char *who, const char *alternative, bderr *err)
{
	/*
	 * While FTWRL waits for a long-running query, every writer queues
	 * behind it: give up after a bounded wait rather than stall the
	 * application (the default lock_wait_timeout is a day).
	 */
	if (my_exec(c, "SET SESSION lock_wait_timeout = " FTWRL_WAIT_SECONDS,
		    "cannot configure the snapshot session", err) != 0)
		return -1;
	if (my_exec(c, "FLUSH TABLES WITH READ LOCK", "cannot lock the server for a consistent snapshot",
		    err) != 0) {
		if (mysql_errno(c) == 1045 || mysql_errno(c) == 1227)
			bderr_prefix(err, "%s lacks the RELOAD privilege%s", who, alternative);
		return -1;
	}
	return 0;
}

void my_src_plan_info(const my_src_plan *p, char *const *objects, my_dump_info *inf)
{
	inf->dbs = xcalloc(p->n_dbs + 1, sizeof *inf->dbs);
	for (size_t d = 0; d < p->n_dbs; d++) {
		my_dump_db *db = &inf->dbs[inf->n_dbs++];
		db->name = xstrdup(p->dbs[d].name);
		db->charset = xstrdup(p->dbs[d].charset);
		db->collation = xstrdup(p->dbs[d].collation);
		db->views = json_incref(p->dbs[d].views);
		db->tables = xcalloc(p->n_tables + 1, sizeof *db->tables);
		for (size_t i = 0; i < p->n_tables; i++) {
			const my_src_table *t = &p->tables[i];
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
			for (size_t k = 0; k < p->n_tasks; k++) {
				const my_src_task *x = &p->tasks[k];
				if (x->table == t) {
					o->chunks[x->chunk] = objects ? xstrdup(objects[k])
								   : xasprintf("chunk %d/%d of %s", x->chunk + 1,
										     t->n_chunks, t->name);
					o->rows += x->rows;
				}
			}
		}
	}
}

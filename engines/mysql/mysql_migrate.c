#include "engines/mysql/mysql_migrate.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/my_digest.h"
#include "engines/mysql/mysql_dump.h"
#include "engines/mysql/mysql_dump_users.h"
#include "engines/mysql/mysql_format.h"
#include "engines/mysql/mysql_restore.h"
#include "engines/mysql/mysql_schema.h"
#include "engines/mysql/mysql_source.h"

/* Rows are escaped into one buffer per stream (a bigger row grows it). */
#define STREAM_BUF (1024 * 1024)
/* Non-transactional chunks go first: the source stays locked until they are copied. */
#define NONTRX_FIRST ((uint64_t)1 << 62)

typedef struct my_migrate {
	const engine_migrate_options *o;
	engine_restore_options to; /* o->to; --provision implies --create */
	my_uri uri;
	MYSQL *src;           /* the coordinator: plan, lock, schema */
	MYSQL **snap;         /* reading connections, all in one snapshot */
	int n_snap;
	int next_worker;
	my_src_plan plan;
	mysql_schema_file *schema; /* the statement files, read under the lock */
	size_t n_schema;
	json_t *info;         /* {"users": [...]} with --roles */
	json_t *binlog;
	json_t *gtid;
	my_feed feed;
	my_load *load;

	pthread_mutex_t lock;
	int locked;           /* FTWRL still held on src */
	size_t nontrx_left;
	char *nontrx_done;    /* per task: its rows were all read once */
} my_migrate;

typedef struct my_stream {
	my_migrate *mg;
	my_src_task *task;
	MYSQL *c;
	MYSQL_RES *res;
	unsigned nf;
	char *buf;
	size_t cap, fill, pos;
	int64_t rows;
	int eof;
} my_stream;

/* ---- the source's lock ---- */

static void unlock_source(my_migrate *mg)
{
	if (!mg->locked)
		return;
	bderr e;
	bderr_init(&e);
	if (my_exec(mg->src, "UNLOCK TABLES", "cannot release the source's global read lock", &e) != 0)
		log_warn("%s", e.msg);
	else
		log_info("released the source's global read lock");
	mg->locked = 0;
}

/* A non-transactional chunk was read whole: the lock goes with the last one. */
static void nontrx_read(my_migrate *mg, my_src_task *t)
{
	if (t->table->transactional)
		return;
	pthread_mutex_lock(&mg->lock);
	size_t k = (size_t)(t - mg->plan.tasks);
	if (!mg->nontrx_done[k]) {
		mg->nontrx_done[k] = 1;
		if (--mg->nontrx_left == 0)
			unlock_source(mg);
	}
	pthread_mutex_unlock(&mg->lock);
}

/* ---- the feed: statement files from memory, rows from the snapshot ---- */

static int put_schema(void *ctx, const char *db, const char *file, const char *data, size_t len,
		      bderr *err)
{
	(void)err;
	my_migrate *mg = ctx;
	mg->schema = xrealloc(mg->schema, (mg->n_schema + 1) * sizeof *mg->schema);
	mysql_schema_file *f = &mg->schema[mg->n_schema++];
	f->db = xstrdup(db);
	f->file = xstrdup(file);
	f->data = xmalloc(len + 1);
	memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
	return 0;
}

static int feed_statements(void *ctx, const char *db, const char *file, my_statements **out,
			   bderr *err)
{
	my_migrate *mg = ctx;
	for (size_t i = 0; i < mg->n_schema; i++)
		if (strcmp(mg->schema[i].db, db) == 0 && strcmp(mg->schema[i].file, file) == 0) {
			*out = my_statements_parse(mg->schema[i].data, mg->schema[i].len);
			return 0;
		}
	return bderr_set(err, "the source's schema of '%s' has no %s", db, file);
}

static my_src_task *find_task(my_migrate *mg, const char *db, const char *table, size_t k)
{
	for (size_t i = 0; i < mg->plan.n_tasks; i++) {
		my_src_task *t = &mg->plan.tasks[i];
		if ((size_t)t->chunk == k && strcmp(t->table->name, table) == 0 &&
		    strcmp(mg->plan.dbs[t->table->db].name, db) == 0)
			return t;
	}
	return NULL;
}

static uint64_t feed_chunk_size(void *ctx, const char *db, const my_dump_table *t, size_t k)
{
	my_src_task *task = find_task(ctx, db, t->name, k);
	if (task == NULL)
		return 0;
	return task->weight + (task->table->transactional ? 0 : NONTRX_FIRST);
}

static int feed_chunk_open(void *ctx, int worker, const char *db, const my_dump_table *t, size_t k,
			   void **out, bderr *err)
{
	my_migrate *mg = ctx;
	my_src_task *task = find_task(mg, db, t->name, k);
	if (task == NULL)
		return bderr_set(err, "the source's plan has no chunk %zu of %s.%s", k, db, t->name);
	if (worker < 0 || worker >= mg->n_snap)
		return bderr_set(err, "no snapshot connection for worker %d", worker);
	my_stream *s = xcalloc(1, sizeof *s);
	s->mg = mg;
	s->task = task;
	s->c = mg->snap[worker];
	char *sql = my_src_select_sql(&mg->plan, task);
	if (mysql_real_query(s->c, sql, strlen(sql)) != 0 || (s->res = mysql_use_result(s->c)) == NULL) {
		char *what = xasprintf("cannot read table %s.%s on the source", db, t->name);
		my_fail(s->c, what, err);
		free(what);
		free(sql);
		free(s);
		return -1;
	}
	free(sql);
	s->nf = mysql_num_fields(s->res);
	s->cap = STREAM_BUF;
	s->buf = xmalloc(s->cap);
	*out = s;
	return 0;
}

/*
 * Refills the buffer with whole rows, about half of it (a row that does not
 * fit grows it: memory stays near STREAM_BUF plus the biggest row).
 */
static int stream_fill(my_stream *s, bderr *err)
{
	s->fill = s->pos = 0;
	while (!s->eof && s->fill < STREAM_BUF / 2) {
		MYSQL_ROW row = mysql_fetch_row(s->res);
		if (row == NULL) {
			if (mysql_errno(s->c) != 0) {
				char *what = xasprintf("cannot read table %s.%s on the source",
						       s->mg->plan.dbs[s->task->table->db].name,
						       s->task->table->name);
				my_fail(s->c, what, err);
				free(what);
				return -1;
			}
			s->eof = 1;
			nontrx_read(s->mg, s->task);
			break;
		}
		unsigned long *len = mysql_fetch_lengths(s->res);
		size_t need = tsv_row_size(row, len, s->nf);
		if (need > s->cap - s->fill) {
			s->cap = s->fill + need;
			s->buf = xrealloc(s->buf, s->cap);
		}
		s->fill += tsv_row(s->buf + s->fill, row, len, s->nf);
		s->rows++;
	}
	return 0;
}

static int feed_chunk_read(void *stream, char *buf, size_t len, size_t *got, bderr *err)
{
	my_stream *s = stream;
	*got = 0;
	if (s->pos == s->fill && !s->eof && stream_fill(s, err) != 0)
		return -1;
	size_t n = s->fill - s->pos;
	if (n > len)
		n = len;
	memcpy(buf, s->buf + s->pos, n);
	s->pos += n;
	*got = n;
	return 0;
}

static void feed_chunk_close(void *stream, int64_t *rows)
{
	my_stream *s = stream;
	/* a stream given up early: freeing the result reads its rest off the wire */
	if (s->res)
		mysql_free_result(s->res);
	*rows = s->eof ? s->rows : -1;
	s->task->rows = s->rows;
	free(s->buf);
	free(s);
}

/* ---- session ---- */

static void migrate_free(my_migrate *mg)
{
	if (mg == NULL)
		return;
	pthread_mutex_lock(&mg->lock);
	unlock_source(mg);
	pthread_mutex_unlock(&mg->lock);
	for (int i = 0; i < mg->n_snap; i++) {
		if (mg->snap[i] == NULL)
			continue;
		bderr ignored;
		bderr_init(&ignored);
		my_exec(mg->snap[i], "COMMIT", "commit", &ignored);
		my_close(mg->snap[i]);
	}
	free(mg->snap);
	my_close(mg->src);
	for (size_t i = 0; i < mg->n_schema; i++) {
		free(mg->schema[i].db);
		free(mg->schema[i].file);
		free(mg->schema[i].data);
	}
	free(mg->schema);
	free(mg->nontrx_done);
	my_src_plan_clear(&mg->plan);
	json_decref(mg->info);
	json_decref(mg->binlog);
	json_decref(mg->gtid);
	my_uri_clear(&mg->uri);
	pthread_mutex_destroy(&mg->lock);
	free(mg);
}

/* The snapshot: every reading connection sees the same instant. */
static int open_snapshot(my_migrate *mg, bderr *err)
{
	mg->n_snap = mg->to.jobs < 1 ? 1 : mg->to.jobs;
	mg->snap = xcalloc((size_t)mg->n_snap, sizeof *mg->snap);
	for (int i = 0; i < mg->n_snap; i++)
		if (my_connect(&mg->uri, mg->o->from_password, NULL, MY_NAMES_BINARY, 0, &mg->snap[i],
			       err) != 0 ||
		    my_src_session(mg->snap[i], err) != 0)
			return -1;
	/* connections first, so the global lock is held only for the snapshot itself */
	if (my_src_lock(mg->src, "the source account", "", err) != 0)
		return -1;
	mg->locked = 1;
	mg->binlog = my_src_binlog_position(mg->src);
	mg->gtid = my_src_gtid_position(mg->src, mg->plan.flavor);
	for (int i = 0; i < mg->n_snap; i++)
		if (my_exec(mg->snap[i], "START TRANSACTION WITH CONSISTENT SNAPSHOT",
			    "cannot start a snapshot transaction on the source", err) != 0)
			return -1;
	return 0;
}

/*
 * The schema of every database into memory, under the lock (no DDL slips in
 * between the snapshot and the definitions).
 */
static int read_schema(my_migrate *mg, bderr *err)
{
	mysql_schema_target target = { .put = put_schema, .put_ctx = mg };
	for (size_t d = 0; d < mg->plan.n_dbs; d++) {
		size_t nt = 0;
		char **names = xcalloc(mg->plan.n_tables + 1, sizeof *names);
		for (size_t i = 0; i < mg->plan.n_tables; i++)
			if (mg->plan.tables[i].db == d)
				names[nt++] = mg->plan.tables[i].name;
		int rc = mysql_schema_dump(mg->src, &target, mg->plan.dbs[d].name, mg->plan.dbs[d].charset,
					   mg->plan.dbs[d].collation, names, nt, mg->plan.dbs[d].views,
					   err);
		free(names);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* --roles: the accounts with grants on the databases (not transactional: read as they are). */
static int read_users(my_migrate *mg, bderr *err)
{
	if (!mg->to.roles)
		return 0;
	const char **dbs = xcalloc(mg->plan.n_dbs + 1, sizeof *dbs);
	for (size_t i = 0; i < mg->plan.n_dbs; i++)
		dbs[i] = mg->plan.dbs[i].name;
	mg->info = json_object();
	int rc = mysql_dump_users(mg->src, dbs, mg->plan.n_dbs, mg->info, err);
	free(dbs);
	return rc;
}

/*
 * Non-transactional tables are copied under the source's global read lock,
 * which would also block the copy's own writes when the target is the same
 * server: refused, naming the first such table.
 */
static int same_server(my_migrate *mg, bderr *err)
{
	static const char sql[] = "SELECT CONCAT(@@hostname, ':', @@port, ':', @@datadir)";
	char *a = NULL, *b = NULL;
	int rc = my_query_value(mg->src, sql, "cannot identify the source server", &a, err);
	if (rc == 0)
		rc = my_query_value(my_load_conn(mg->load), sql, "cannot identify the target server", &b,
				    err);
	if (rc == 0 && a && b && strcmp(a, b) == 0) {
		const my_src_task *t = &mg->plan.tasks[0]; /* non-transactional tasks lead */
		rc = bderr_usage(err, "the source and the target are the same server, and %s.%s (%s) can only be copied consistently under a global read lock that would block the copy itself: migrate into another server, or convert it to InnoDB first",
				 mg->plan.dbs[t->table->db].name, t->table->name, t->table->engine);
	}
	free(a);
	free(b);
	return rc;
}

/* What the restore side reads from a dump's manifest, from the plan. */
static void source_info(my_migrate *mg, my_dump_info *inf)
{
	memset(inf, 0, sizeof *inf);
	my_src_plan_info(&mg->plan, NULL, inf);
	inf->server_version = xstrdup(mysql_get_server_info(mg->src));
	inf->flavor = xstrdup(mg->plan.flavor);
	inf->consistency = xstrdup("ftwrl");
	inf->sql_mode = xstrdup(MY_SESSION_SQL_MODE);
	inf->time_zone = xstrdup(MY_SESSION_TIME_ZONE);
}

static int open_steps(const engine_migrate_options *o, void **session, bderr *err)
{
	*session = NULL;
	if (o->snapshot)
		return bderr_usage(err, "a MySQL/MariaDB source takes no exported snapshot (its snapshot is FLUSH TABLES WITH READ LOCK and START TRANSACTION WITH CONSISTENT SNAPSHOT)");
	my_migrate *mg = xcalloc(1, sizeof *mg);
	pthread_mutex_init(&mg->lock, NULL);
	mg->o = o;
	mg->to = o->to;
	mg->to.create = mg->to.create || mg->to.provision_db != NULL;
	*session = mg;
	time_t t0 = time(NULL);

	if (my_uri_parse(o->from_url, &mg->uri, err) != 0)
		return -1;
	if (my_connect(&mg->uri, o->from_password, NULL, MY_NAMES_UTF8MB4, 0, &mg->src, err) != 0)
		return bderr_prefix(err, "source");
	if (my_src_plan_load(mg->src, &mg->uri, o->chunk_bytes ? o->chunk_bytes : UINT64_MAX, NULL, 0,
			     &mg->plan, err) != 0)
		return -1;
	mg->nontrx_left = mg->plan.n_nontrx;
	mg->nontrx_done = xcalloc(mg->plan.n_tasks + 1, 1);
	if (read_users(mg, err) != 0)
		return -1;

	/* the target first: a refusal there neither locks nor reads the source */
	mg->feed = (my_feed){ .ctx = mg,
			      .statements = feed_statements,
			      .chunk_open = feed_chunk_open,
			      .chunk_read = feed_chunk_read,
			      .chunk_close = feed_chunk_close,
			      .chunk_size = feed_chunk_size };
	my_dump_info inf;
	source_info(mg, &inf);
	my_load_source src = { .feed = &mg->feed, .label = "the source",
			       .users_info = mg->info };
	int rc = my_load_open(&src, &inf, &mg->to, &mg->load, err);
	my_dump_info_clear(&inf);
	if (rc != 0)
		return rc > 0 ? 1 : -1; /* 1: an interrupted provisioning completed, nothing to copy */

	if (mg->nontrx_left > 0 && same_server(mg, err) != 0)
		return -1;
	if (open_snapshot(mg, err) != 0 || read_schema(mg, err) != 0)
		return -1;
	if (mg->nontrx_left == 0)
		unlock_source(mg);
	char *pos = json_is_object(mg->binlog)
			    ? xasprintf("%s:%lld", json_string_value(json_object_get(mg->binlog, "file")),
					(long long)json_integer_value(json_object_get(mg->binlog, "position")))
			    : xstrdup("none");
	log_info("migrate: source snapshot of %zu databases, %zu tables in %zu chunks, %d connections, binlog %s%s%s",
		 mg->plan.n_dbs, mg->plan.n_tables, mg->plan.n_tasks, mg->n_snap, pos,
		 json_is_string(mg->gtid) ? ", GTID " : "",
		 json_is_string(mg->gtid) ? json_string_value(mg->gtid) : "");
	free(pos);
	rc = my_load_tables(mg->load, err);
	if (rc == 0)
		log_info("migrate: target prepared in %lds", (long)(time(NULL) - t0));
	return rc;
}

int mysql_migrate_open(const engine_migrate_options *o, void **session, bderr *err)
{
	int rc = open_steps(o, session, err);
	if (rc == 0)
		return 0;
	/*
	 * a session that did not open is not the caller's to close: what it
	 * created goes now (nothing, when it completed a killed provisioning)
	 */
	bderr ignored;
	bderr_init(&ignored);
	mysql_migrate_close(*session, 0, &ignored);
	*session = NULL;
	return rc > 0 ? 1 : -1;
}

/*
 * --via-repo: the dump's own code over the session's snapshot connections
 * and the schema read under its lock, before any row is copied (the
 * non-transactional tables are still under the lock then).
 */
int mysql_migrate_dump(void *session, repo *r, const engine_dump_options *o, char **id,
		       bderr *err)
{
	my_migrate *mg = session;
	my_dump_snapshot snap = {
		.coord = mg->src, .conns = mg->snap, .n_conns = mg->n_snap, .plan = &mg->plan,
		.binlog = mg->binlog, .gtid = mg->gtid, .schema = mg->schema, .n_schema = mg->n_schema,
	};
	return mysql_dump_snapshot(r, o, &snap, id, err);
}

int mysql_migrate_units(void *session, engine_migrate_unit **units, size_t *n, bderr *err)
{
	my_migrate *mg = session;
	my_load_item **items;
	size_t count;
	*units = NULL;
	*n = 0;
	if (my_load_items(mg->load, &items, &count, err) != 0)
		return -1;
	engine_migrate_unit *u = xcalloc(count + 1, sizeof *u);
	for (size_t i = 0; i < count; i++) {
		const char *db;
		const my_dump_table *t;
		size_t k;
		uint64_t size;
		my_load_item_describe(items[i], &db, &t, &k, &size);
		u[i].table = xasprintf("%s.%s", db, t->name);
		u[i].label = t->n_chunks > 1 ? xasprintf("%s (chunk %zu/%zu)", u[i].table, k + 1, t->n_chunks)
					     : xstrdup(u[i].table);
		u[i].bytes = size & ~NONTRX_FIRST;
		u[i].rows = -1;
		u[i].engine = items[i];
	}
	*units = u;
	*n = count;
	return 0;
}

void mysql_migrate_units_free(void *session, engine_migrate_unit *units, size_t n)
{
	(void)session;
	for (size_t i = 0; i < n; i++) {
		free(units[i].label);
		free(units[i].table);
	}
	free(units);
}

int mysql_migrate_worker_open(void *session, void **worker, bderr *err)
{
	my_migrate *mg = session;
	*worker = NULL;
	pthread_mutex_lock(&mg->lock);
	int index = mg->next_worker++;
	pthread_mutex_unlock(&mg->lock);
	if (index >= mg->n_snap)
		return bderr_set(err, "migrate: more workers (%d) than snapshot connections (%d)", index + 1,
				 mg->n_snap);
	my_load_worker *w = NULL;
	if (my_load_worker_open(mg->load, index, &w, err) != 0)
		return -1;
	*worker = w;
	return 0;
}

void mysql_migrate_worker_close(void *session, void *worker)
{
	(void)session;
	my_load_worker_close(worker);
}

int mysql_migrate_copy(void *session, void *worker, engine_migrate_unit *unit, bderr *err)
{
	my_migrate *mg = session;
	if (my_load_item_run(mg->load, worker, unit->engine, err) != 0)
		return -1;
	unit->rows = my_load_item_rows(unit->engine);
	return 0;
}

/* The command's copy of the unit a chunk is (units sorted by their chunk, for bsearch). */
typedef struct my_migrate_run {
	engine_migrate_unit **by_item;
	size_t n;
	workpool_fn copy;
	void *shared;
} my_migrate_run;

static int unit_item_cmp(const void *a, const void *b)
{
	const void *x = (*(engine_migrate_unit *const *)a)->engine;
	const void *y = (*(engine_migrate_unit *const *)b)->engine;
	return x == y ? 0 : (uintptr_t)x < (uintptr_t)y ? -1 : 1;
}

static int run_chunk(void *ctx, my_load_worker *w, my_load_item *it, bderr *err)
{
	my_migrate_run *x = ctx;
	engine_migrate_unit key = { .engine = it }, *kp = &key;
	engine_migrate_unit **u = bsearch(&kp, x->by_item, x->n, sizeof *x->by_item, unit_item_cmp);
	if (u == NULL) {
		const char *db;
		const my_dump_table *t;
		size_t k;
		uint64_t size;
		my_load_item_describe(it, &db, &t, &k, &size);
		return bderr_set(err, "migrate: chunk %zu of table %s.%s has no copy unit", k + 1, db,
				 t->name);
	}
	return x->copy(x->shared, w, *u, err);
}

/* The copies in the restore's graph: each table's secondary keys as soon as its chunks are in. */
int mysql_migrate_run(void *session, engine_migrate_unit *units, size_t n, void **workers,
		      int n_workers, workpool_fn copy, void *shared, bderr *err)
{
	my_migrate *mg = session;
	my_migrate_run x = { xcalloc(n + 1, sizeof *x.by_item), n, copy, shared };
	for (size_t i = 0; i < n; i++)
		x.by_item[i] = &units[i];
	qsort(x.by_item, n, sizeof *x.by_item, unit_item_cmp);
	int r = my_load_run(mg->load, (my_load_worker **)workers, n_workers, run_chunk, &x, err);
	free(x.by_item);
	return r;
}

int mysql_migrate_post(void *session, bderr *err)
{
	my_migrate *mg = session;
	pthread_mutex_lock(&mg->lock);
	unlock_source(mg);
	pthread_mutex_unlock(&mg->lock);
	return my_load_post(mg->load, err);
}

/*
 * The target against the source's snapshot: the digest (rows and checksum
 * per table, objects by kind) computed on a snapshot connection, then on
 * the target as my_digest_verify reads it (engines/mysql/my_digest.h).
 */
int mysql_migrate_verify(void *session, bderr *err)
{
	my_migrate *mg = session;
	MYSQL *snap = mysql_migrate_snapshot_conn(mg);
	size_t n = my_load_n_dbs(mg->load);
	const char **src = xcalloc(n + 1, sizeof *src), **dst = xcalloc(n + 1, sizeof *dst);
	for (size_t i = 0; i < n; i++)
		dst[i] = my_load_db(mg->load, i, &src[i]);
	my_dump_info inf;
	memset(&inf, 0, sizeof inf);
	my_src_plan_info(&mg->plan, NULL, &inf);
	time_t t0 = time(NULL);
	int rc = my_digest_compute(snap, src, n, NULL, &inf.digest, err);
	if (rc != 0)
		bderr_prefix(err, "cannot read the source's snapshot to verify the copy");
	my_uri to;
	memset(&to, 0, sizeof to);
	if (rc == 0)
		rc = my_uri_parse(mg->to.to_url, &to, err);
	if (rc == 0)
		rc = my_digest_verify(&to, mg->to.password, &inf, src, dst, n, "the source's snapshot",
				      err);
	if (rc == 0)
		log_info("migrate: verified in %lds", (long)(time(NULL) - t0));
	my_uri_clear(&to);
	my_dump_info_clear(&inf);
	free(src);
	free(dst);
	return rc;
}

int mysql_migrate_close(void *session, int ok, bderr *err)
{
	my_migrate *mg = session;
	if (mg == NULL)
		return ok ? 0 : -1;
	/* the load (and its drop of a half-created database) before the snapshot goes */
	int rc = my_load_close(mg->load, ok, err);
	mg->load = NULL;
	migrate_free(mg);
	return rc;
}

const json_t *mysql_migrate_binlog(void *session)
{
	return ((my_migrate *)session)->binlog;
}

const json_t *mysql_migrate_gtid(void *session)
{
	return ((my_migrate *)session)->gtid;
}

MYSQL *mysql_migrate_snapshot_conn(void *session)
{
	my_migrate *mg = session;
	return mg->n_snap ? mg->snap[0] : NULL;
}

size_t mysql_migrate_n_dbs(void *session)
{
	return my_load_n_dbs(((my_migrate *)session)->load);
}

const char *mysql_migrate_db(void *session, size_t i, const char **source_name)
{
	return my_load_db(((my_migrate *)session)->load, i, source_name);
}

const engine_restore_options *mysql_migrate_target(void *session)
{
	return &((my_migrate *)session)->to;
}

#include "engines/mysql/mysql_dump.h"
#include "engines/mysql/mysql_dump_users.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engines/mysql/my_digest.h"
#include "engines/mysql/mysql_schema.h"
#include "engines/mysql/mysql_source.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_format.h"
#include "common/version.h"

/* Rows are escaped into one buffer per worker and written in big blocks. */
#define ROW_BUF (1024 * 1024)

/* Where each chunk went in the repository (parallel to the plan's tasks). */
typedef struct dump_out {
	char *object;
	object_meta meta;
	digest_sum sum;       /* of the lines written (engines/digest.h) */
} dump_out;

typedef struct dump_state {
	const engine_dump_options *o;
	repo *repo;
	my_uri uri;
	char *id;
	my_src_plan p;
	dump_out *out;        /* one per task */

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

/* Wakes the coordinator waiting for the non-transactional tasks. */
static void set_failed(dump_state *st)
{
	pthread_mutex_lock(&st->lock);
	st->failed = 1;
	pthread_cond_broadcast(&st->nontrx_done);
	pthread_mutex_unlock(&st->lock);
}

static void task_finished(dump_state *st, my_src_task *t)
{
	if (t->table->transactional)
		return;
	pthread_mutex_lock(&st->lock);
	if (--st->nontrx_left == 0)
		pthread_cond_broadcast(&st->nontrx_done);
	pthread_mutex_unlock(&st->lock);
}

static int dump_chunk(dump_worker *w, my_src_task *t, bderr *err)
{
	dump_state *st = w->st;
	dump_out *out = &st->out[t - st->p.tasks];
	char *path = repo_backup_path(st->o->name, st->id, out->object);
	char *what = xasprintf("cannot dump table %s.%s", st->p.dbs[t->table->db].name, t->table->name);
	char *sql = my_src_select_sql(&st->p, t);
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
		size_t need = tsv_row_size(row, len, nf);
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
		size_t n = tsv_row(w->buf + fill, row, len, nf);
		digest_sum_add(&out->sum, w->buf + fill, n);
		fill += n;
		rows++;
	}
	if (mysql_errno(w->conn) != 0) {
		my_fail(w->conn, what, err);
		goto out;
	}
	if (fill > 0 && object_writer_write(ow, w->buf, fill, err) != 0)
		goto out;
	if (object_writer_close(ow, &out->meta, err) != 0)
		goto out;
	progress_add(st->o->progress, fill, 1);
	progress_correct_total(st->o->progress, t->weight, out->meta.size);
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
	my_src_task *t = item;
	if (dump_chunk(worker, t, err) != 0) {
		set_failed(st);
		return -1;
	}
	task_finished(st, t);
	log_debug("dumped %s.%s chunk %d: %" PRId64 " rows", st->p.dbs[t->table->db].name,
		  t->table->name, t->chunk, t->rows);
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
	return my_src_session(w->conn, err);
}

/*
 * The digest a restore is verified against: the rows and checksums of the
 * tables with data, summed over their chunks (no second read), and each
 * database's objects.
 */
static int dump_digest(dump_state *st, MYSQL *c, my_dump_info *inf, bderr *err)
{
	digest_set *d = digest_set_new();
	for (size_t i = 0; i < st->p.n_tables; i++) {
		my_src_table *t = &st->p.tables[i];
		if (t->skip_data)
			continue;
		digest_sum sum = { 0, 0 };
		for (size_t k = 0; k < st->p.n_tasks; k++)
			if (st->p.tasks[k].table == t)
				digest_sum_merge(&sum, &st->out[k].sum);
		digest_set_add_table(d, st->p.dbs[t->db].name, t->name, &sum);
	}
	for (size_t i = 0; i < st->p.n_dbs; i++)
		if (my_digest_objects(c, st->p.dbs[i].name, d, err) != 0) {
			digest_set_free(d);
			return -1;
		}
	digest_set_sort(d);
	inf->digest = d;
	return 0;
}

/* The accounts with grants on the dumped databases (engines/mysql/mysql_dump_users.h). */
static int dump_users(dump_state *st, MYSQL *c, json_t *info, bderr *err)
{
	const char **dbs = xcalloc(st->p.n_dbs + 1, sizeof *dbs);
	for (size_t i = 0; i < st->p.n_dbs; i++)
		dbs[i] = st->p.dbs[i].name;
	int rc = mysql_dump_users(c, dbs, st->p.n_dbs, info, err);
	free(dbs);
	return rc;
}

/*
 * FLUSH TABLES WITH READ LOCK (unless no-lock), the binlog and GTID
 * positions into inf, and every worker's snapshot transaction.
 */
static int take_snapshot(dump_state *st, MYSQL *c, dump_worker *workers, int n_workers, int *locked,
			 my_dump_info *inf, bderr *err)
{
	const int no_lock = st->o->consistency == ENGINE_CONSISTENCY_NO_LOCK;
	if (!no_lock) {
		if (my_src_lock(c, "the dump account", " (or use --consistency no-lock)", err) != 0)
			return -1;
		*locked = 1;
	}
	json_t *binlog = my_src_binlog_position(c);
	json_t *gtid = my_src_gtid_position(c, st->p.flavor);
	for (int i = 0; i < n_workers; i++)
		if (my_exec(workers[i].conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
			    "cannot start a snapshot transaction", err) != 0) {
			json_decref(binlog);
			json_decref(gtid);
			return -1;
		}
	if (no_lock && strcmp(st->p.flavor, "mariadb") == 0) {
		/* exact for the first worker's snapshot even without the lock */
		json_t *snap = my_src_snapshot_binlog_position(workers[0].conn);
		if (!json_is_null(snap)) {
			json_decref(binlog);
			binlog = snap;
		} else {
			json_decref(snap);
		}
	}
	inf->binlog = binlog;
	inf->gtid_executed = gtid;
	return 0;
}

/* snap: an open snapshot to read (migrate --via-repo), or NULL: take one. */
static int dump_run(repo *r, const engine_dump_options *o, const my_dump_snapshot *snap,
		    char **id_out, bderr *err)
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

	if (snap) {
		c = snap->coord;
		st.p = *snap->plan; /* borrowed: not cleared here */
	} else if (my_uri_parse(o->url, &st.uri, err) != 0 ||
		   my_connect(&st.uri, o->password, NULL, MY_NAMES_UTF8MB4, 0, &c, err) != 0) {
		goto out;
	}
	if (my_query_value(c, "SELECT @@GLOBAL.sql_mode", "cannot read the server's sql_mode",
			   &server_sql_mode, err) != 0)
		goto out;
	if (!snap && my_src_plan_load(c, &st.uri, o->chunk_bytes, o->filter, o->all_databases, &st.p,
				       err) != 0)
		goto out;
	st.out = xcalloc(st.p.n_tasks + 1, sizeof *st.out);
	for (size_t i = 0; i < st.p.n_tasks; i++) {
		my_src_task *t = &st.p.tasks[i];
		st.out[i].object = my_chunk_object(st.p.dbs[t->table->db].name, t->table->name, t->chunk,
						   o->compress_level != 0);
	}
	st.nontrx_left = st.p.n_nontrx;
	/* DATA_LENGTH from the table statistics: an estimate of the TSV, corrected chunk by chunk */
	for (size_t i = 0; i < st.p.n_tasks; i++)
		progress_add_total(o->progress, st.p.tasks[i].weight, 1);
	progress_set_estimated(o->progress, 1);

	m = manifest_new();
	m->engine = xstrdup("mysql");
	m->kind = xstrdup("dump");
	m->name = xstrdup(o->name);
	m->server_version = xstrdup(mysql_get_server_info(c));
	m->tool_version = xstrdup("backupd " BACKUPD_VERSION);
	m->started = started;
	inf.server_version = xstrdup(m->server_version);
	inf.flavor = xstrdup(st.p.flavor);
	inf.consistency = xstrdup(no_lock ? "no-lock" : "ftwrl");
	inf.sql_mode = xstrdup(MY_SESSION_SQL_MODE);
	inf.server_sql_mode = xstrdup(server_sql_mode ? server_sql_mode : "");
	inf.time_zone = xstrdup(MY_SESSION_TIME_ZONE);

	if (repo_backup_begin(r, o->name, started, &st.id, err) != 0)
		goto out;
	m->id = xstrdup(st.id);

	/* connect first, so the global lock is held only for the snapshot itself */
	n_workers = o->jobs < 1 ? 1 : o->jobs;
	if ((size_t)n_workers > st.p.n_tasks)
		n_workers = st.p.n_tasks ? (int)st.p.n_tasks : 1;
	if (snap && n_workers > snap->n_conns)
		n_workers = snap->n_conns;
	workers = xcalloc((size_t)n_workers + 1, sizeof *workers);
	for (int i = 0; i < n_workers; i++) {
		workers[i].st = &st;
		if (snap) {
			workers[i].conn = snap->conns[i];
			workers[i].cap = ROW_BUF;
			workers[i].buf = xmalloc(ROW_BUF);
		} else if (open_worker(&st, &workers[i], err) != 0) {
			goto out;
		}
	}
	if (snap) {
		/* its owner holds the lock for the non-transactional tables, if any */
		inf.binlog = json_deep_copy(snap->binlog);
		inf.gtid_executed = json_deep_copy(snap->gtid);
	} else if (take_snapshot(&st, c, workers, n_workers, &locked, &inf, err) != 0) {
		goto out;
	}
	log_info("dump %s of '%s' started: %zu databases, %zu tables in %zu chunks, %d jobs, %s",
		 st.id, o->name, st.p.n_dbs, st.p.n_tables, st.p.n_tasks, n_workers,
		 snap ? "the migrate's snapshot" : no_lock ? "no lock" : "FTWRL snapshot");
	if (workpool_start_arrays(&st, workers, sizeof *workers, n_workers, st.p.tasks, sizeof *st.p.tasks,
				  st.p.n_tasks, dump_task_run, &my_thread_hooks, &pool, err) != 0)
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
		mysql_schema_target target = {
			.repo = r, .m = m, .name = o->name, .id = st.id, .level = o->compress_level,
			.filter = o->filter
		};
		for (size_t d = 0; d < st.p.n_dbs && crc == 0; d++) {
			size_t nt = 0;
			char **names = xcalloc(st.p.n_tables + 1, sizeof *names);
			for (size_t i = 0; i < st.p.n_tables; i++)
				if (st.p.tables[i].db == d)
					names[nt++] = st.p.tables[i].name;
			if (snap)
				crc = mysql_schema_write(&target, snap->schema, snap->n_schema,
							 st.p.dbs[d].name, err);
			else
				crc = mysql_schema_dump(c, &target, st.p.dbs[d].name, st.p.dbs[d].charset,
							st.p.dbs[d].collation, names, nt,
							st.p.dbs[d].views, err);
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

	for (size_t i = 0; i < st.p.n_tasks; i++) {
		manifest_add_object(m, st.out[i].object, &st.out[i].meta, o->compress_level != 0,
				    st.p.tasks[i].rows);
	}
	char **objects = xcalloc(st.p.n_tasks + 1, sizeof *objects);
	for (size_t i = 0; i < st.p.n_tasks; i++)
		objects[i] = st.out[i].object;
	my_src_plan_info(&st.p, objects, &inf);
	free(objects);
	if (dump_digest(&st, c, &inf, err) != 0)
		goto out;
	engine_options_info_set(&inf.options, o, inf.consistency);
	my_dump_info_to_json(&inf, m->info);
	if (dump_users(&st, c, m->info, err) != 0)
		goto out;
	for (int i = 0; i < n_workers && !snap; i++) {
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
			if (!snap)
				my_close(workers[i].conn);
			free(workers[i].buf);
		}
		free(workers);
	}
	if (!snap)
		my_close(c);
	manifest_free(m);
	free(server_sql_mode);
	my_dump_info_clear(&inf);
	for (size_t i = 0; i < st.p.n_tasks && st.out; i++)
		free(st.out[i].object);
	free(st.out);
	if (!snap)
		my_src_plan_clear(&st.p);
	my_uri_clear(&st.uri);
	free(st.id);
	pthread_cond_destroy(&st.nontrx_done);
	pthread_mutex_destroy(&st.lock);
	return rc;
}

int mysql_dump_reach(const char *url, const char *password, bderr *err)
{
	my_uri u;
	MYSQL *c = NULL;
	if (my_uri_parse(url, &u, err) != 0)
		return -1;
	int rc = my_connect(&u, password, NULL, MY_NAMES_UTF8MB4, 0, &c, err);
	if (rc == 0)
		my_close(c);
	my_uri_clear(&u);
	return rc;
}

int mysql_dump_run(repo *r, const engine_dump_options *o, char **id_out, bderr *err)
{
	return dump_run(r, o, NULL, id_out, err);
}

int mysql_dump_snapshot(repo *r, const engine_dump_options *o, const my_dump_snapshot *snap,
			char **id_out, bderr *err)
{
	return dump_run(r, o, snap, id_out, err);
}

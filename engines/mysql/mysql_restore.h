/*
 * Restore of a MySQL/MariaDB logical dump: tables from their SHOW CREATE
 * text, data in --jobs parallel workers through LOAD DATA LOCAL INFILE fed
 * straight from the repository (multi-row INSERTs when the server refuses
 * local_infile), every chunk's SHA-256, size and row count checked, then
 * triggers, routines, events and views.
 */
#ifndef BACKUPD_ENGINES_MYSQL_RESTORE_H
#define BACKUPD_ENGINES_MYSQL_RESTORE_H

#include <jansson.h>
#include <stdint.h>

#include "engines/engine.h"
#include "engines/mysql/myformat.h"
#include "engines/mysql/mysql_format.h"

/*
 * The database of o->to_url renames a one-database dump; a password of
 * NULL leaves $MYSQL_PWD to the client library.
 */
int mysql_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err);

/*
 * The restore in steps, for a backup (mysql_restore_run) or a live source
 * (migrate, through a feed): the target side is one implementation.
 *
 * A feed gives the statement files and the rows instead of a repository.
 * chunk_open starts chunk k of table t of source database db on reading
 * connection `worker` (0..jobs-1, one loading thread each); chunk_read
 * gives the rows as the dump format's TSV (*got 0 at the end); chunk_close
 * ends it and says how many rows it gave (the load checks the count).
 * chunk_size orders the chunks, largest first.
 */
typedef struct my_feed {
	void *ctx;
	int (*statements)(void *ctx, const char *db, const char *file, my_statements **out,
			  bderr *err);
	int (*chunk_open)(void *ctx, int worker, const char *db, const my_dump_table *t, size_t k,
			  void **stream, bderr *err);
	int (*chunk_read)(void *stream, char *buf, size_t len, size_t *got, bderr *err);
	void (*chunk_close)(void *stream, int64_t *rows);
	uint64_t (*chunk_size)(void *ctx, const char *db, const my_dump_table *t, size_t k);
} my_feed;

typedef struct my_load_source {
	repo *repo;           /* a backup: repo and m; else NULL and feed */
	const manifest *m;
	const my_feed *feed;
	const char *label;    /* "backup ID", "the source": for messages */
	const json_t *users_info; /* an info object with "users" (for --roles), or NULL */
} my_load_source;

typedef struct my_load my_load;

/*
 * Connects to o->to_url, claims and prepares the target databases (and the
 * provisioned user); info is taken over (zeroed).  *out is set even on
 * failure: my_load_close it either way.  1: --provision completed a killed
 * run's provisioning instead (mysql_provision.h): nothing was created and
 * nothing is to be loaded; my_load_close(ok = 0) it.
 */
int my_load_open(const my_load_source *src, my_dump_info *info, const engine_restore_options *o,
		 my_load **out, bderr *err);
/* Tables, then rows in o->jobs workers, then views, routines, triggers, events and accounts. */
int my_load_tables(my_load *l, bderr *err);
int my_load_data(my_load *l, bderr *err);
int my_load_post(my_load *l, bderr *err);

/*
 * Instead of my_load_data, for a caller with its own worker threads: the
 * chunks (largest first; valid until the next call or my_load_close), what
 * each is, and per thread a worker (a target session; index picks the feed's
 * reading connection) that loads chunks one at a time.
 */
typedef struct my_load_item my_load_item;
typedef struct my_load_worker my_load_worker;
int my_load_items(my_load *l, my_load_item ***items, size_t *n, bderr *err);
void my_load_item_describe(const my_load_item *it, const char **db, const my_dump_table **t,
			   size_t *chunk, uint64_t *size);
/* Rows the item loaded (after my_load_item_run). */
int64_t my_load_item_rows(const my_load_item *it);
int my_load_worker_open(my_load *l, int index, my_load_worker **w, bderr *err);
int my_load_item_run(my_load *l, my_load_worker *w, my_load_item *it, bderr *err);
void my_load_worker_close(my_load_worker *w);
/*
 * The restore's graph on the caller's workers: fn(ctx, workers[i], chunk)
 * for each of my_load_items' chunks on worker i's thread, and each table's
 * deferred secondary keys as soon as its chunks are in (my_load_post adds
 * none then).
 */
typedef int (*my_load_chunk_fn)(void *ctx, my_load_worker *w, my_load_item *it, bderr *err);
int my_load_run(my_load *l, my_load_worker **workers, int n_workers, my_load_chunk_fn fn, void *ctx,
		bderr *err);
/* The coordinator's session on the target (between steps only). */
MYSQL *my_load_conn(my_load *l);
/* The target databases (after my_load_post they hold everything) and their sources' names. */
size_t my_load_n_dbs(const my_load *l);
const char *my_load_db(const my_load *l, size_t i, const char **source_name);
/*
 * ok: commits (provisioned user's grant and env file, markers dropped);
 * else drops what the load created.  Frees l; fails when the commit does.
 */
int my_load_close(my_load *l, int ok, bderr *err);

#endif

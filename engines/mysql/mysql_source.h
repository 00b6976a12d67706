/*
 * Reading a live MySQL/MariaDB source, shared by `backupd dump` (rows into
 * repository chunks) and `dbrestore migrate` (rows straight into a target):
 * what to read (databases, base tables, their columns and the SELECT that
 * reads them in the dump format's text), how to split big tables into
 * chunks, and the consistent snapshot every reading connection shares.
 */
#ifndef BACKUPD_ENGINES_MYSQL_SOURCE_H
#define BACKUPD_ENGINES_MYSQL_SOURCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tablefilter.h"
#include "engines/mysql/myconn.h"
#include "engines/mysql/mysql_format.h"

typedef struct my_src_table {
	size_t db;            /* index into my_src_plan.dbs */
	char *name;
	char *engine;
	int transactional;    /* read under the snapshot, not under the lock */
	int skip_data;        /* engines whose rows live elsewhere */
	char **columns;       /* copied columns: not generated */
	char **types;         /* DATA_TYPE of each */
	size_t n_columns;
	char *select_list;    /* the columns as the dump format writes them */
	int has_auto_inc;
	int64_t auto_inc;
	uint64_t data_bytes;
	uint64_t est_rows;
	int n_chunks;
} my_src_table;

/*
 * Fewer bytes per row than any stored InnoDB row takes (a record header,
 * the transaction id and roll pointer alone are 18 bytes): DATA_LENGTH
 * under TABLE_ROWS x this means the statistics lag the table.
 */
#define MY_SRC_MIN_ROW_BYTES 16
/* 1: DATA_LENGTH is implausibly small for TABLE_ROWS (the sizes are then sampled). */
int my_src_stats_stale(uint64_t data_bytes, uint64_t est_rows);

typedef struct my_src_db {
	char *name;
	char *charset;
	char *collation;
	json_t *views;        /* view names in dependency order (the schema dump fills it) */
} my_src_db;

/* One chunk of one table: the rows whose key is in [lo, hi). */
typedef struct my_src_task {
	my_src_table *table;
	int chunk;
	char *key;            /* quoted key column for ranges, or NULL */
	char *lo;             /* inclusive lower bound, NULL = none */
	char *hi;             /* exclusive upper bound, NULL = none */
	uint64_t weight;
	int64_t rows;         /* rows read, filled by whoever reads the chunk */
} my_src_task;

typedef struct my_src_plan {
	const table_filter *filter; /* the tables to read, or NULL: all */
	const char *flavor;   /* "mysql" | "mariadb" */
	my_src_db *dbs;
	size_t n_dbs;
	my_src_table *tables;
	size_t n_tables;
	my_src_task *tasks;   /* non-transactional tables first, then the heaviest */
	size_t n_tasks;
	size_t n_nontrx;      /* tasks of non-transactional tables (they lead tasks) */
} my_src_plan;

/*
 * Lists u's databases (all but the system ones when it names none; with
 * all_databases it must name none), their base tables that filter selects
 * (NULL: all; rows left out where it keeps no data) and their columns, and
 * splits tables bigger than chunk_bytes.
 */
int my_src_plan_load(MYSQL *c, const my_uri *u, uint64_t chunk_bytes, const table_filter *filter,
		     int all_databases, my_src_plan *p, bderr *err);
void my_src_plan_clear(my_src_plan *p);

/*
 * The databases, tables and chunks of p as the dump format records them
 * (databases and tables of info; the rest is the caller's).  objects[k]
 * names task k's chunk; NULL: "chunk K/N of TABLE".
 */
void my_src_plan_info(const my_src_plan *p, char *const *objects, my_dump_info *info);

/* The SELECT of task t (caller frees). */
char *my_src_select_sql(const my_src_plan *p, const my_src_task *t);

/*
 * A reading session: long network timeouts (a slow consumer must not make
 * the server drop a streaming result) and REPEATABLE READ, ready for
 * START TRANSACTION WITH CONSISTENT SNAPSHOT.
 */
int my_src_session(MYSQL *c, bderr *err);

/*
 * FLUSH TABLES WITH READ LOCK after a bounded wait for running statements
 * (writers queue behind a waiting FTWRL); a missing RELOAD privilege is said
 * as "WHO lacks the RELOAD privilegeALTERNATIVE".
 */
int my_src_lock(MYSQL *c, const char *who, const char *alternative, bderr *err);

/*
 * Where the snapshot is in the binary log: {"file", "position"} and the
 * GTID position as a string (json null when the server has no binlog or
 * GTIDs).  Read under the lock, or (no lock, MariaDB) from the first
 * snapshot connection.
 */
json_t *my_src_binlog_position(MYSQL *c);
json_t *my_src_snapshot_binlog_position(MYSQL *snapshot);
json_t *my_src_gtid_position(MYSQL *c, const char *flavor);

#endif

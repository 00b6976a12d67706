/*
 * Partial restores (restore --table, --schema, --exclude-table,
 * --exclude-schema) of pg_dump's plain scripts.  pg_dump heads each entry
 * with "-- Name: X; Type: T; Schema: S; Owner: O"; an entry is kept or
 * dropped whole, by what it belongs to:
 *
 * - a relation (TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE) and what
 *   hangs on one (its defaults, constraints, indexes, triggers, rules,
 *   policies, comments, grants, statistics, identity and OWNED BY) go with
 *   the relation: kept when the filter selects it;
 * - a SCHEMA when the filter keeps that schema's objects;
 * - anything else in a schema (functions, types, sequences...) when the
 *   filter keeps that schema's objects; outside schemas (extensions, large
 *   objects...) always.
 *
 * Text before the first header (the session SETs) is always kept.
 */
#ifndef BACKUPD_ENGINES_PG_SUBSET_H
#define BACKUPD_ENGINES_PG_SUBSET_H

#include <stddef.h>

#include "common/error.h"
#include "common/tablefilter.h"

/* Keeps what f covers of sql[0..*len), in place; returns how many statements were dropped. */
size_t pg_subset_filter(const table_filter *f, char *sql, size_t *len);

/*
 * The foreign keys of post-data (sql[0..len)) from a kept table to a table
 * the subset leaves out: their creation would fail after the data is in, so
 * the restore refuses up front, naming the first one.
 */
int pg_subset_check_keys(const table_filter *f, const char *sql, size_t len, bderr *err);

/*
 * Each --table and --schema pattern must match a relation (table, view,
 * materialized view, foreign table) or a schema of the pre-data
 * sql[0..len): one that matches nothing (a typo) is refused up front,
 * naming it, rather than restoring everything else and reporting success.
 */
int pg_subset_check_patterns(const table_filter *f, const char *sql, size_t len, bderr *err);

#endif

#include "engines/pg/pg_dump.h"
#include "engines/pg/pg_format.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq/libpq-fs.h>

#include "engines/pg/pg_copybin.h"
#include "engines/pg/pg_digest.h"
#include "engines/pg/pg_dump_roles.h"
#include "engines/pg/pg_lo_meta.h"
#include "engines/pg/pg_globals.h"
#include "engines/pg/pg_server.h"
#include "engines/pg/pg_schema.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pgconn.h"
#include "common/workpool.h"
#include "engines/pg/pgtool.h"
#include "common/version.h"

/* Rows are batched before entering the filter chain: one call per ~256 KiB. */
#define COPY_BATCH (256 * 1024)
#define LO_BUF (256 * 1024)
/*
 * Only a table larger than this many chunks is read in ctid ranges.  A
 * whole-table COPY's sequential scan reads through a small ring of shared
 * buffers; a ctid range scan reads through all of shared_buffers, so each
 * worker's server process first maps and evicts its way through them: on
 * bench/pg.sh ~0.5 s of server CPU for its 640 MB table, more than a
 * second stream gains on 2 cores.  Smaller tables are one COPY whose output
 * is cut into objects of about the chunk size, so a restore still loads
 * them in parallel.  So is a table with at least as many heap blocks as the
 * source's shared_buffers, whatever its size: its ctid ranges would cycle
 * every page through the whole buffer pool, evicting as they go (bench/pg.sh
 * scale 200: server CPU 12.8 s in ranges vs ~10 s whole), while its
 * sequential scan stays in its ring.
 */
#define RANGE_MIN_CHUNKS 4

typedef struct dump_table {
	char *oid;
	char *schema;
	char *name;
	char **columns;      /* dumped columns: not dropped, not generated */
	size_t n_columns;
	char **types;        /* their types (format_type, no typmod), in the same order */
	size_t n_types;
	uint64_t bytes;      /* heap + toast, decides splitting */
	uint64_t blocks;     /* heap blocks, the ctid range to split */
	int n_chunks;
	int64_t rows;        /* summed over chunks after the dump */
	int binary;          /* COPY in binary: every column's type allows it (pg_copybin.h) */
	size_t n_objects;    /* its tasks' objects, counted after the dump */
} dump_table;

/* One object a task wrote. */
typedef struct dump_piece {
	char *object;        /* object name inside the backup */
	object_meta meta;
	int64_t rows;
} dump_piece;

typedef struct dump_task {
	dump_table *table;
	int chunk;           /* 0-based */
	uint64_t first_block;
	uint64_t end_block;  /* exclusive; 0 = open-ended */
	uint64_t weight;     /* for largest-first scheduling */
	uint64_t split;      /* a new object once one holds this many COPY bytes (0: one object) */
	dump_piece *pieces;  /* the objects written, in order */
	size_t n_pieces;
	int64_t rows;
	digest_sum sum;      /* of the rows written (engines/digest.h) */
	int done;
} dump_task;

typedef struct dump_state {
	const engine_dump_options *o;
	repo *repo;
	char *id;
	const char *dbname; /* whole-server dump: the database (else the URL's) */
	const char *prefix; /* whole-server dump: "db/N/" before its object names, else "" */
	char *snapshot;
	int server_num;
	char *server_version;
	char *encoding;
	char **exclude;     /* relations the filter leaves out, as pg_dump --exclude-table= arguments */
	size_t n_exclude;

	dump_table *tables;
	size_t n_tables;
	dump_task *tasks;
	size_t n_tasks;
	int whole_tables;   /* dump: tables up to RANGE_MIN_CHUNKS chunks are one COPY, split by bytes */
	uint64_t shared_blocks; /* the source's shared_buffers in blocks (0: unknown) */
} dump_state;

typedef struct dump_worker {
	dump_state *st;
	PGconn *conn;
} dump_worker;

/* An object's name inside the backup, under its database's folder in a whole-server dump. */
static char *object_name(const dump_state *st, const char *base)
{
	return xasprintf("%s%s", st->prefix, base);
}

static void table_clear(dump_table *t)
{
	free(t->oid);
	free(t->schema);
	free(t->name);
	for (size_t i = 0; i < t->n_columns; i++)
		free(t->columns[i]);
	free(t->columns);
	for (size_t i = 0; i < t->n_types; i++)
		free(t->types[i]);
	free(t->types);
}

/* Session settings that make COPY output exact and independent of the role's defaults. */
static int session_setup(PGconn *c, bderr *err)
{
	/*
	 * row_security off, like pg_dump: fail rather than silently miss rows
	 * hidden by a policy; floats exact (before 12 they were rounded unless
	 * asked for more digits); the text fixed so the rows' checksums can be
	 * recomputed on another server (pg_format.h, engines/pg/pg_digest.h)
	 */
	return pg_digest_session(c, err);
}

static char *column_list(PGconn *c, const dump_table *t)
{
	strbuf b;
	strbuf_init(&b);
	for (size_t i = 0; i < t->n_columns; i++) {
		char *q = pg_quote_ident(c, t->columns[i]);
		strbuf_appendf(&b, "%s%s", i ? ", " : "", q);
		free(q);
	}
	return strbuf_detach(&b);
}

static char *copy_out_sql(PGconn *c, const dump_task *t)
{
	char *qual = pg_qualified_name(c, t->table->schema, t->table->name);
	char *cols = column_list(c, t->table);
	const char *with = pg_copy_with(t->table->binary, 0);
	char *sql;
	if (t->table->n_chunks == 1) {
		/* COPY of a table copies only its own rows, not its children's */
		if (t->table->n_columns)
			sql = xasprintf("COPY %s (%s) TO STDOUT%s", qual, cols, with);
		else
			sql = xasprintf("COPY %s TO STDOUT%s", qual, with);
	} else {
		strbuf w;
		strbuf_init(&w);
		if (t->first_block > 0)
			strbuf_appendf(&w, "ctid >= '(%" PRIu64 ",0)'::pg_catalog.tid", t->first_block);
		if (t->end_block > 0)
			strbuf_appendf(&w, "%sctid < '(%" PRIu64 ",0)'::pg_catalog.tid",
				       w.len ? " AND " : "", t->end_block);
		sql = xasprintf("COPY (SELECT %s FROM ONLY %s WHERE %s) TO STDOUT%s", cols, qual,
				w.data, with);
		strbuf_free(&w);
	}
	free(qual);
	free(cols);
	return sql;
}

/* Opens the task's next object: chunk number t->chunk + the objects it has. */
static int piece_open(dump_state *st, dump_task *t, object_writer **ow, bderr *err)
{
	char *base = pg_chunk_object(t->table->oid, t->chunk + (int)t->n_pieces, st->o->compress_level != 0);
	char *name = object_name(st, base);
	free(base);
	char *path = repo_backup_path(st->o->name, st->id, name);
	int rc = object_writer_open(repo_storage(st->repo), path, st->o->compress_level, ow, err);
	free(path);
	if (rc != 0) {
		free(name);
		return -1;
	}
	t->pieces = xrealloc(t->pieces, (t->n_pieces + 1) * sizeof *t->pieces);
	memset(&t->pieces[t->n_pieces], 0, sizeof *t->pieces);
	t->pieces[t->n_pieces++].object = name;
	/* binary: every object is a whole stream, which COPY FROM takes on its own */
	if (t->table->binary) {
		t->pieces[t->n_pieces - 1].meta.size = PG_COPYBIN_HEADER_LEN;
		return object_writer_write(*ow, pg_copybin_header, PG_COPYBIN_HEADER_LEN, err);
	}
	return 0;
}

static int piece_close(dump_task *t, object_writer **ow, bderr *err)
{
	if (t->table->binary &&
	    object_writer_write(*ow, pg_copybin_trailer, PG_COPYBIN_TRAILER_LEN, err) != 0)
		return -1;
	int rc = object_writer_close(*ow, &t->pieces[t->n_pieces - 1].meta, err);
	object_writer_free(*ow);
	*ow = NULL;
	return rc;
}

/*
 * Rows into the task's current object, after closing it for the next one
 * when it is full: the last object is never empty unless the table is.
 */
static int piece_write(dump_state *st, dump_task *t, object_writer **ow, const char *buf, size_t len,
		       int64_t rows, bderr *err)
{
	dump_piece *p = &t->pieces[t->n_pieces - 1];
	if (t->split > 0 && p->meta.size >= t->split) {
		if (piece_close(t, ow, err) != 0 || piece_open(st, t, ow, err) != 0)
			return -1;
		progress_add_total(st->o->progress, 0, 1); /* one more object than planned */
		progress_add(st->o->progress, 0, 1);
		p = &t->pieces[t->n_pieces - 1];
	}
	/* meta.size counts the bytes written until close fills it in */
	p->meta.size += len;
	p->rows += rows;
	return object_writer_write(*ow, buf, len, err);
}

static int dump_chunk(dump_state *st, PGconn *c, dump_task *t, bderr *err)
{
	char *what = xasprintf("cannot dump table %s.%s", t->table->schema, t->table->name);
	char *sql = copy_out_sql(c, t);
	object_writer *ow = NULL;
	char *batch = NULL;
	int rc = -1;

	if (piece_open(st, t, &ow, err) != 0)
		goto out;
	if (pg_copy_out_begin(c, sql, what, err) != 0)
		goto out;

	batch = xmalloc(COPY_BATCH);
	size_t fill = 0;
	int64_t rows = 0, batch_rows = 0;
	/* rows counted and hashed; binary: stored without the server's header and trailer */
	pg_copybin bin;
	pg_copybin_init(&bin, t->table->binary);
	/*
	 * On a write failure we leave without draining the COPY: the backup has
	 * failed, this worker stops, and closing the connection ends the COPY.
	 */
	for (;;) {
		char *row = NULL;
		int n = PQgetCopyData(c, &row, 0);
		if (n == -1)
			break;
		if (n == -2) {
			char buf[512];
			bderr_set(err, "%s: %s", what, pg_errmsg(c, buf, sizeof buf));
			goto out;
		}
		int wrc = 0;
		/* what of the message is stored, and the rows it holds */
		size_t from = 0, to = 0;
		int64_t before = bin.rows;
		if (pg_copybin_read(&bin, row, (size_t)n, &t->sum, &from, &to, err) != 0)
			wrc = bderr_prefix(err, "%s", what);
		const char *data = row + from;
		size_t len = to - from;
		int64_t nrows = bin.rows - before;
		rows += nrows;
		if (wrc == 0 && fill + len > COPY_BATCH && fill > 0) {
			wrc = piece_write(st, t, &ow, batch, fill, batch_rows, err);
			progress_add(st->o->progress, fill, 0); /* once per batch, not per row */
			fill = 0;
			batch_rows = 0;
		}
		if (wrc == 0 && len > COPY_BATCH) {
			wrc = piece_write(st, t, &ow, data, len, nrows, err);
			progress_add(st->o->progress, (uint64_t)len, 0);
		} else if (wrc == 0) {
			memcpy(batch + fill, data, len);
			fill += len;
			batch_rows += nrows;
		}
		PQfreemem(row);
		if (wrc != 0)
			goto out;
	}
	if (fill > 0 && piece_write(st, t, &ow, batch, fill, batch_rows, err) != 0)
		goto out;
	if (pg_copy_out_end(c, what, err) != 0)
		goto out;
	if (pg_copybin_end(&bin, err) != 0) {
		bderr_prefix(err, "%s", what);
		goto out;
	}
	if (piece_close(t, &ow, err) != 0)
		goto out;
	t->rows = rows;
	t->done = 1;
	progress_add(st->o->progress, fill, 1); /* the last batch */
	uint64_t bytes = 0;
	for (size_t i = 0; i < t->n_pieces; i++)
		bytes += t->pieces[i].meta.size;
	progress_correct_total(st->o->progress, t->weight, bytes);
	rc = 0;
out:
	object_writer_free(ow);
	free(batch);
	free(sql);
	free(what);
	return rc;
}

static int dump_task_run(void *shared, void *worker, void *item, bderr *err)
{
	dump_state *st = shared;
	dump_worker *w = worker;
	dump_task *t = item;
	if (dump_chunk(st, w->conn, t, err) != 0)
		return -1;
	log_debug("dumped %s.%s chunk %d: %" PRId64 " rows in %zu object%s", t->table->schema,
		  t->table->name, t->chunk, t->rows, t->n_pieces, plural_s(t->n_pieces));
	return 0;
}

/*
 * A JSON array of strings from the table list (array_to_json of names or
 * types; SQL NULL when the table has no columns) into a NULL-terminated list.
 */
static void load_strings(const char *json, char ***out, size_t *n)
{
	json_t *arr = json_loads(json, 0, NULL);
	size_t k;
	json_t *v;
	*out = xcalloc(json_array_size(arr) + 1, sizeof **out);
	*n = 0;
	json_array_foreach(arr, k, v) (*out)[(*n)++] = xstrdup(json_string_value(v));
	json_decref(arr);
}

/* Tables with data to dump, their dumpable columns and sizes, in the snapshot. */
static int load_tables(dump_state *st, PGconn *c, bderr *err)
{
	const char *gen = st->server_num >= 120000 ? "a.attgenerated = ''" : "true";
	char *sql = xasprintf(
		"SELECT c.oid, n.nspname, c.relname, "
		"  pg_catalog.pg_table_size(c.oid), "
		"  pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::int8, "
		"  (SELECT pg_catalog.array_to_json(pg_catalog.array_agg(a.attname ORDER BY a.attnum)) "
		"     FROM pg_catalog.pg_attribute a "
		"    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND %s), "
		"  " PG_COPY_BINARY_SQL("c.oid", "%s") ", "
		"  (SELECT pg_catalog.array_to_json(pg_catalog.array_agg( "
		"          pg_catalog.format_type(a.atttypid, NULL) ORDER BY a.attnum)) "
		"     FROM pg_catalog.pg_attribute a "
		"    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND %s) "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
		"  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
		"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
		"     WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
		"ORDER BY c.oid",
		gen, gen, gen);
	PGresult *r;
	int rc = pg_query(c, sql, "cannot list tables", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	int n = PQntuples(r);
	st->tables = xcalloc((size_t)n + 1, sizeof *st->tables);
	for (int i = 0; i < n; i++) {
		/* left out, or its definition only: its rows are not dumped */
		if (!table_filter_keeps_data(st->o->filter, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)))
			continue;
		dump_table *t = &st->tables[st->n_tables++];
		t->oid = xstrdup(PQgetvalue(r, i, 0));
		t->schema = xstrdup(PQgetvalue(r, i, 1));
		t->name = xstrdup(PQgetvalue(r, i, 2));
		t->bytes = strtoull(PQgetvalue(r, i, 3), NULL, 10);
		t->blocks = strtoull(PQgetvalue(r, i, 4), NULL, 10);
		t->binary = !st->o->copy_text && PQgetvalue(r, i, 6)[0] == 't';
		if (!PQgetisnull(r, i, 5))
			load_strings(PQgetvalue(r, i, 5), &t->columns, &t->n_columns);
		/* a binary table's column types: what a restore checks the target's against */
		if (t->binary)
			load_strings(PQgetvalue(r, i, 7), &t->types, &t->n_types);
	}
	PQclear(r);
	return 0;
}

/* Locks like pg_dump does, so no table can be dropped or altered under us. */
static int lock_tables(dump_state *st, PGconn *c, bderr *err)
{
	for (size_t i = 0; i < st->n_tables; i += 200) {
		strbuf b;
		strbuf_init(&b);
		strbuf_appends(&b, "LOCK TABLE ");
		for (size_t j = i; j < st->n_tables && j < i + 200; j++) {
			char *q = pg_qualified_name(c, st->tables[j].schema, st->tables[j].name);
			strbuf_appendf(&b, "%s%s", j > i ? ", " : "", q);
			free(q);
		}
		strbuf_appends(&b, " IN ACCESS SHARE MODE");
		int rc = pg_exec(c, b.data, "cannot lock the tables to dump", err);
		strbuf_free(&b);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int task_weight_desc(const void *a, const void *b)
{
	const dump_task *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return 0;
}

int pg_dump_ranges(uint64_t bytes, uint64_t blocks, uint64_t chunk_bytes, int server_num,
		   int whole_tables, uint64_t shared_blocks)
{
	uint64_t ranges_above = chunk_bytes;
	if (whole_tables && ranges_above <= UINT64_MAX / RANGE_MIN_CHUNKS)
		ranges_above *= RANGE_MIN_CHUNKS;
	/* ctid range scans need PostgreSQL 14; before that every chunk would scan the table */
	if (server_num < 140000 || chunk_bytes == 0 || blocks <= 1 || bytes <= ranges_above)
		return 1;
	if (whole_tables && shared_blocks > 0 && blocks >= shared_blocks)
		return 1;
	uint64_t n = (bytes + chunk_bytes - 1) / chunk_bytes;
	if (n > blocks)
		n = blocks;
	return n > INT_MAX ? INT_MAX : (int)n;
}

static void plan_tasks(dump_state *st)
{
	size_t cap = 0;
	for (size_t i = 0; i < st->n_tables; i++) {
		dump_table *t = &st->tables[i];
		t->n_chunks = pg_dump_ranges(t->bytes, t->blocks, st->o->chunk_bytes, st->server_num,
					     st->whole_tables, st->shared_blocks);
		cap += (size_t)t->n_chunks;
	}
	st->tasks = xcalloc(cap, sizeof *st->tasks);
	for (size_t i = 0; i < st->n_tables; i++) {
		dump_table *t = &st->tables[i];
		uint64_t per = t->n_chunks > 1 ? (t->blocks + (uint64_t)t->n_chunks - 1) / (uint64_t)t->n_chunks : 0;
		for (int k = 0; k < t->n_chunks; k++) {
			dump_task *d = &st->tasks[st->n_tasks++];
			d->table = t;
			d->chunk = k;
			d->first_block = per * (uint64_t)k;
			/* the last chunk is open-ended: rows may sit past the block count we saw */
			d->end_block = (k == t->n_chunks - 1) ? 0 : per * (uint64_t)(k + 1);
			d->weight = t->bytes / (uint64_t)t->n_chunks + 1;
			if (st->whole_tables && t->n_chunks == 1)
				d->split = st->o->chunk_bytes;
		}
	}
	qsort(st->tasks, st->n_tasks, sizeof *st->tasks, task_weight_desc);
}

int pg_snapshot_begin(PGconn *c, const char *snapshot, char **exported, bderr *err)
{
	if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
		    "cannot start a snapshot transaction", err) != 0)
		return -1;
	if (snapshot == NULL) {
		PGresult *r = NULL;
		if (pg_query(c, "SELECT pg_catalog.pg_export_snapshot()", "cannot export a snapshot", &r,
			     err) != 0)
			return -1;
		*exported = xstrdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		return 0;
	}
	char *lit = PQescapeLiteral(c, snapshot, strlen(snapshot));
	char *sql = xasprintf("SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	int rc = pg_exec(c, sql, "cannot import the snapshot", err);
	free(sql);
	return rc;
}

int pg_snapshot_connect(const char *url, const char *password, const char *dbname,
			const char *snapshot, const char *application, PGconn **out, bderr *err)
{
	if (pg_connect(url, password, dbname, application, out, err) != 0)
		return -1;
	if (session_setup(*out, err) != 0)
		return -1;
	return pg_snapshot_begin(*out, snapshot, NULL, err);
}

static int open_worker(dump_state *st, dump_worker *w, bderr *err)
{
	return pg_snapshot_connect(st->o->url, st->o->password, st->dbname, st->snapshot,
				   "backupd dump worker", &w->conn, err);
}

static int dump_sequences(const dump_state *st, PGconn *c, pg_dump_info *inf, bderr *err)
{
	PGresult *r;
	if (pg_query(c,
		     "SELECT n.nspname, c.relname, tn.nspname, t.relname FROM pg_catalog.pg_class c "
		     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		     "LEFT JOIN pg_catalog.pg_depend o ON o.classid = 'pg_catalog.pg_class'::regclass "
		     "  AND o.objid = c.oid AND o.refclassid = 'pg_catalog.pg_class'::regclass "
		     "  AND o.deptype IN ('a', 'i') "
		     "LEFT JOIN pg_catalog.pg_class t ON t.oid = o.refobjid "
		     "LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace "
		     "WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
		     "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
		     "  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
		     "ORDER BY c.oid",
		     "cannot list sequences", &r, err) != 0)
		return -1;
	int rc = 0;
	inf->sequences = xcalloc((size_t)PQntuples(r) + 1, sizeof *inf->sequences);
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *schema = PQgetvalue(r, i, 0);
		const char *name = PQgetvalue(r, i, 1);
		/* owned by a table the filter leaves out: pg_dump leaves it out with its table */
		if (!PQgetisnull(r, i, 3) &&
		    !table_filter_selects(st->o->filter, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)))
			continue;
		char *qual = pg_qualified_name(c, schema, name);
		char *sql = xasprintf("SELECT last_value, is_called FROM %s", qual);
		char *what = xasprintf("cannot read sequence %s", qual);
		PGresult *v;
		rc = pg_query(c, sql, what, &v, err);
		if (rc == 0) {
			pg_dump_sequence *s = &inf->sequences[inf->n_sequences++];
			s->schema = xstrdup(schema);
			s->name = xstrdup(name);
			s->last_value = xstrdup(PQgetvalue(v, 0, 0));
			s->is_called = PQgetvalue(v, 0, 1)[0] == 't';
			PQclear(v);
		}
		free(qual);
		free(sql);
		free(what);
	}
	PQclear(r);
	return rc;
}

/*
 * The large objects' owners, grants and comments, recorded by the dump itself
 * (restore/pg_lo_meta.h): pg_dump 17 and newer no longer put them in
 * pre-data, and a dump must restore the same whichever pg_dump took it.
 */
static int dump_large_object_meta(dump_state *st, PGconn *c, manifest *m, char **out, int count,
				  bderr *err)
{
	char *text = NULL;
	long listed = 0;
	if (pg_lo_meta_read(c, &text, &listed, err) != 0)
		return -1;
	/* one snapshot: the metadata describes exactly the large objects written */
	if (listed != count) {
		free(text);
		return bderr_set(err, "the large objects' metadata lists %ld large objects, the data %d",
				 listed, count);
	}
	char *objname = object_name(st, st->o->compress_level ? "large-objects-meta.json.zst" : "large-objects-meta.json");
	char *path = repo_backup_path(st->o->name, st->id, objname);
	object_writer *ow = NULL;
	object_meta meta;
	int rc = object_writer_open(repo_storage(st->repo), path, st->o->compress_level, &ow, err);
	if (rc == 0)
		rc = object_writer_write(ow, text, strlen(text), err);
	if (rc == 0)
		rc = object_writer_close(ow, &meta, err);
	if (rc == 0) {
		manifest_add_object(m, objname, &meta, st->o->compress_level != 0, -1);
		*out = xstrdup(objname);
	}
	object_writer_free(ow);
	free(objname);
	free(path);
	free(text);
	return rc;
}

/*
 * Large objects go into one object as records "<oid> <length>\n<bytes>", read
 * in the coordinator's snapshot; their metadata into another, beside it.
 */
static int dump_large_objects(dump_state *st, PGconn *c, manifest *m, pg_dump_info *inf,
			      bderr *err)
{
	PGresult *r;
	if (pg_query(c, "SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid",
		     "cannot list large objects", &r, err) != 0)
		return -1;
	int n = PQntuples(r);
	if (n == 0) {
		PQclear(r);
		return 0;
	}
	char *objname = object_name(st, pg_large_objects_object(st->o->compress_level != 0));
	char *path = repo_backup_path(st->o->name, st->id, objname);
	object_writer *ow = NULL;
	char *buf = xmalloc(LO_BUF);
	int rc = object_writer_open(repo_storage(st->repo), path, st->o->compress_level, &ow, err);
	for (int i = 0; i < n && rc == 0; i++) {
		Oid oid = (Oid)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		int fd = lo_open(c, oid, INV_READ);
		if (fd < 0) {
			char e[512];
			rc = bderr_set(err, "cannot open large object %u: %s", oid, pg_errmsg(c, e, sizeof e));
			break;
		}
		pg_int64 len = lo_lseek64(c, fd, 0, SEEK_END);
		if (len < 0 || lo_lseek64(c, fd, 0, SEEK_SET) != 0) {
			char e[512];
			rc = bderr_set(err, "cannot read large object %u: %s", oid, pg_errmsg(c, e, sizeof e));
			lo_close(c, fd);
			break;
		}
		char head[64];
		int hl = snprintf(head, sizeof head, "%u %lld\n", oid, (long long)len);
		rc = object_writer_write(ow, head, (size_t)hl, err);
		pg_int64 left = len;
		while (rc == 0 && left > 0) {
			int got = lo_read(c, fd, buf, LO_BUF);
			if (got <= 0) {
				char e[512];
				rc = bderr_set(err, "cannot read large object %u: %s", oid, pg_errmsg(c, e, sizeof e));
				break;
			}
			rc = object_writer_write(ow, buf, (size_t)got, err);
			left -= got;
		}
		lo_close(c, fd);
	}
	object_meta meta;
	if (rc == 0)
		rc = object_writer_close(ow, &meta, err);
	if (rc == 0) {
		manifest_add_object(m, objname, &meta, st->o->compress_level != 0, -1);
		inf->large_objects = xstrdup(objname);
		inf->large_objects_count = n;
	}
	if (rc == 0)
		rc = dump_large_object_meta(st, c, m, &inf->large_objects_meta, n, err);
	object_writer_free(ow);
	free(objname);
	free(buf);
	free(path);
	PQclear(r);
	return rc;
}

/*
 * What pg_dump --create would carry of the database itself: owner, locale,
 * connection limit, ACL, comment and settings, for restore --create.  The
 * ACL is recorded as explicit grants (null: the defaults).
 */
int pg_dump_database_properties(PGconn *c, int server_num, pg_dump_info *inf, bderr *err)
{
	const char *provider = server_num >= 150000 ? "d.datlocprovider::text" : "'c'";
	const char *locale = server_num >= 170000   ? "d.datlocale"
			     : server_num >= 150000 ? "d.daticulocale"
						    : "NULL::text";
	const char *rules = server_num >= 160000 ? "d.daticurules" : "NULL::text";
	char *sql = xasprintf(
		"SELECT pg_catalog.json_build_object("
		"  'owner', pg_catalog.pg_get_userbyid(d.datdba), "
		"  'connection_limit', d.datconnlimit, "
		"  'collate', d.datcollate, 'ctype', d.datctype, "
		"  'locale_provider', CASE %s WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END, "
		"  'locale', %s, 'icu_rules', %s, "
		"  'comment', pg_catalog.shobj_description(d.oid, 'pg_database'), "
		"  'acl', CASE WHEN d.datacl IS NULL THEN NULL ELSE "
		"    (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
		"        'grantee', CASE WHEN a.grantee = 0 THEN NULL "
		"                   ELSE pg_catalog.pg_get_userbyid(a.grantee) END, "
		"        'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]') "
		"       FROM pg_catalog.aclexplode(d.datacl) a) END, "
		"  'settings', coalesce((SELECT pg_catalog.array_to_json(s.setconfig) "
		"       FROM pg_catalog.pg_db_role_setting s "
		"      WHERE s.setdatabase = d.oid AND s.setrole = 0), '[]'), "
		"  'role_settings', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
		"        'role', pg_catalog.pg_get_userbyid(s.setrole), 'settings', s.setconfig) "
		"        ORDER BY s.setrole) "
		"       FROM pg_catalog.pg_db_role_setting s "
		"      WHERE s.setdatabase = d.oid AND s.setrole <> 0), '[]'))::text "
		"FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
		provider, locale, rules);
	PGresult *r;
	int rc = pg_query(c, sql, "cannot read the database's properties", &r, err);
	free(sql);
	if (rc != 0)
		return -1;
	json_error_t je;
	json_t *props = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, &je) : NULL;
	PQclear(r);
	if (!json_is_object(props)) {
		json_decref(props);
		return bderr_set(err, "cannot read the database's properties: unexpected answer");
	}
	inf->database_properties = props;
	return 0;
}

static int dump_schema_section(dump_state *st, const pg_tool *tool, const char *section,
			       manifest *m, char **out, bderr *err)
{
	char *base = pg_schema_object(section, st->o->compress_level != 0);
	char *objname = object_name(st, base);
	free(base);
	char *path = repo_backup_path(st->o->name, st->id, objname);
	object_writer *ow = NULL;
	object_meta meta;
	int rc = object_writer_open(repo_storage(st->repo), path, st->o->compress_level, &ow, err);
	if (rc == 0)
		rc = pg_schema_dump_ex(tool, st->o->url, st->o->password, st->dbname, st->snapshot, section,
				       (const char *const *)st->exclude, st->n_exclude, ow, err);
	if (rc == 0)
		rc = object_writer_close(ow, &meta, err);
	if (rc == 0) {
		manifest_add_object(m, objname, &meta, st->o->compress_level != 0, -1);
		*out = objname;
		objname = NULL;
	}
	object_writer_free(ow);
	free(path);
	free(objname);
	return rc;
}

/* The dumped tables, their chunks in order and the rows they hold. */
static void tables_info(dump_state *st, pg_dump_info *inf)
{
	inf->tables = xcalloc(st->n_tables + 1, sizeof *inf->tables);
	for (size_t i = 0; i < st->n_tables; i++) {
		dump_table *t = &st->tables[i];
		pg_dump_table *o = &inf->tables[inf->n_tables++];
		o->oid = xstrdup(t->oid);
		o->schema = xstrdup(t->schema);
		o->name = xstrdup(t->name);
		o->columns = xcalloc(t->n_columns + 1, sizeof *o->columns);
		for (size_t k = 0; k < t->n_columns; k++)
			o->columns[o->n_columns++] = xstrdup(t->columns[k]);
		o->chunks = xcalloc(t->n_objects + 1, sizeof *o->chunks);
		o->n_chunks = t->n_objects;
		/* a table is ranges of one object each, or one task of one or more objects */
		for (size_t k = 0; k < st->n_tasks; k++) {
			dump_task *d = &st->tasks[k];
			if (d->table != t)
				continue;
			for (size_t j = 0; j < d->n_pieces; j++)
				o->chunks[(size_t)d->chunk + j] = xstrdup(d->pieces[j].object);
			o->rows += d->rows;
		}
		o->bytes = (int64_t)t->bytes;
		o->binary = t->binary;
		o->types = xcalloc(t->n_types + 1, sizeof *o->types);
		for (size_t k = 0; k < t->n_types; k++)
			o->types[o->n_types++] = xstrdup(t->types[k]);
	}
}

/*
 * The digest a restore is verified against: each table's rows and checksum
 * summed over its chunks (no second read), the objects in the snapshot and
 * the sequence values the dump recorded.  Before 12, floats print in another
 * form than on the servers the dump could be restored into: no digest
 * (*out NULL).  The objects are read here, by the coordinator while the
 * workers copy; dump_digest_finish adds the rest once they are done.
 */
static int dump_digest_begin(dump_state *st, PGconn *c, digest_set **out, bderr *err)
{
	*out = NULL;
	if (st->server_num < 120000)
		return 0;
	digest_set *d = digest_set_new();
	/* a subset (table filters): its tables' rows only, not the whole database's objects */
	if (table_filter_empty(st->o->filter) && pg_digest_objects(c, d, err) != 0) {
		digest_set_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

/* The tables' sums and the sequences into d (from dump_digest_begin), which inf then owns. */
static void dump_digest_finish(dump_state *st, digest_set *d, pg_dump_info *inf)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < st->n_tables; i++) {
		digest_sum sum = { 0, 0 };
		for (size_t k = 0; k < st->n_tasks; k++)
			if (st->tasks[k].table == &st->tables[i])
				digest_sum_merge(&sum, &st->tasks[k].sum);
		digest_set_add_table(d, st->tables[i].schema, st->tables[i].name, &sum)->binary =
			st->tables[i].binary;
	}
	int subset = !table_filter_empty(st->o->filter);
	for (size_t i = 0; i < inf->n_sequences && !subset; i++) {
		char value[128];
		const pg_dump_sequence *s = &inf->sequences[i];
		pg_digest_sequence_value(s->last_value, s->is_called, value, sizeof value);
		digest_set_add_sequence(d, s->schema, s->name, value);
	}
	digest_set_sort(d);
	inf->digest = d;
}

/*
 * The relations the filter leaves out, as pg_dump --exclude-table arguments
 * (quoted: matched as exact names), and a foreign key of a dumped table to
 * one of them refused: its restore would fail when the key is created.
 */
static int plan_excludes(dump_state *st, PGconn *c, bderr *err)
{
	if (table_filter_empty(st->o->filter))
		return 0;
	PGresult *r;
	if (pg_query(c,
		     "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
		     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		     "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
		     "  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
		     "ORDER BY 1, 2",
		     "cannot list relations", &r, err) != 0)
		return -1;
	st->exclude = xcalloc((size_t)PQntuples(r) + 1, sizeof *st->exclude);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *schema = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1);
		if (table_filter_selects(st->o->filter, schema, name))
			continue;
		strbuf b;
		strbuf_init(&b);
		strbuf_appends(&b, "--exclude-table=\"");
		for (const char *p = schema; *p; p++)
			strbuf_append(&b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
		strbuf_appends(&b, "\".\"");
		for (const char *p = name; *p; p++)
			strbuf_append(&b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
		strbuf_appends(&b, "\"");
		st->exclude[st->n_exclude++] = strbuf_detach(&b);
	}
	/*
	 * An --include-table that matches nothing (a typo) would make every
	 * run a backup without that table; a whole-server dump applies the
	 * patterns to each database, where one may well lack the table.
	 */
	if (!st->o->all_databases && table_filter_has(st->o->filter, TF_INCLUDE_TABLE)) {
		size_t n = (size_t)PQntuples(r);
		const char **schemas = xcalloc(n + 1, sizeof *schemas), **names = xcalloc(n + 1, sizeof *names);
		for (size_t i = 0; i < n; i++) {
			schemas[i] = PQgetvalue(r, (int)i, 0);
			names[i] = PQgetvalue(r, (int)i, 1);
		}
		char buf[512];
		const char *miss = table_filter_unmatched(st->o->filter, TF_INCLUDE_TABLE, schemas, names, n, buf,
							  sizeof buf);
		free(schemas);
		free(names);
		if (miss) {
			PQclear(r);
			return bderr_usage(err, "--include-table '%s' matches no table or view of the database: the dump would leave it out",
					   miss);
		}
	}
	PQclear(r);
	if (pg_query(c,
		     "SELECT n.nspname, c.relname, fn.nspname, f.relname, k.conname "
		     "FROM pg_catalog.pg_constraint k "
		     "JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
		     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		     "JOIN pg_catalog.pg_class f ON f.oid = k.confrelid "
		     "JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace "
		     "WHERE k.contype = 'f' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
		     "ORDER BY 1, 2, 5",
		     "cannot list foreign keys", &r, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *s = PQgetvalue(r, i, 0), *t = PQgetvalue(r, i, 1);
		const char *fs = PQgetvalue(r, i, 2), *ft = PQgetvalue(r, i, 3);
		if (table_filter_selects(st->o->filter, s, t) && !table_filter_selects(st->o->filter, fs, ft))
			rc = bderr_usage(err,
					 "table %s.%s is dumped but its foreign key %s references %s.%s, which the table filter leaves out: include both or exclude both",
					 s, t, PQgetvalue(r, i, 4), fs, ft);
	}
	PQclear(r);
	if (rc != 0)
		return -1;
	/* a view (or materialized view) reading a left-out relation could not be restored either */
	if (pg_query(c,
		     "SELECT DISTINCT vn.nspname, v.relname, tn.nspname, t.relname "
		     "FROM pg_catalog.pg_depend d "
		     "JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid "
		     "JOIN pg_catalog.pg_class v ON v.oid = w.ev_class "
		     "JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace "
		     "JOIN pg_catalog.pg_class t ON t.oid = d.refobjid "
		     "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace "
		     "WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass "
		     "  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND v.oid <> t.oid "
		     "  AND v.relkind IN ('v', 'm') AND t.relkind IN ('r', 'p', 'v', 'm', 'f') "
		     "  AND vn.nspname !~ '^pg_' AND vn.nspname <> 'information_schema' "
		     "ORDER BY 1, 2, 3, 4",
		     "cannot list the views' tables", &r, err) != 0)
		return -1;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		const char *s = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
		const char *ts = PQgetvalue(r, i, 2), *t = PQgetvalue(r, i, 3);
		if (table_filter_selects(st->o->filter, s, v) && !table_filter_selects(st->o->filter, ts, t))
			rc = bderr_usage(err,
					 "view %s.%s is dumped but reads %s.%s, which the table filter leaves out: exclude the view too, or keep the table",
					 s, v, ts, t);
	}
	PQclear(r);
	return rc;
}

/* What one database's dump leaves in st, cleared before the next one. */
static void dump_state_clear(dump_state *st)
{
	for (size_t i = 0; i < st->n_tables; i++)
		table_clear(&st->tables[i]);
	free(st->tables);
	for (size_t i = 0; i < st->n_tasks; i++) {
		for (size_t j = 0; j < st->tasks[i].n_pieces; j++)
			free(st->tasks[i].pieces[j].object);
		free(st->tasks[i].pieces);
	}
	free(st->tasks);
	for (size_t i = 0; i < st->n_exclude; i++)
		free(st->exclude[i]);
	free(st->exclude);
	free(st->snapshot);
	free(st->server_version);
	free(st->encoding);
	st->tables = NULL;
	st->tasks = NULL;
	st->exclude = NULL;
	st->snapshot = st->server_version = st->encoding = NULL;
	st->n_tables = st->n_tasks = st->n_exclude = 0;
}

/* The source's shared_buffers, in blocks (its unit), once per dump: what plan_tasks weighs tables by. */
static int read_shared_blocks(dump_state *st, PGconn *c, bderr *err)
{
	if (st->shared_blocks > 0)
		return 0;
	PGresult *r;
	if (pg_query(c, "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'shared_buffers'",
		     "cannot read the server's shared_buffers", &r, err) != 0)
		return -1;
	if (PQntuples(r) == 1)
		st->shared_blocks = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/* The oldest server the dump reads (its catalogs, COPY, snapshots). */
static int server_supported(int server_num, bderr *err)
{
	if (server_num >= 100000)
		return 0;
	return bderr_set(err, "PostgreSQL %d.%d is not supported: backupd needs version 10 or newer",
			 server_num / 10000, server_num / 100 % 100);
}

/*
 * One database into backup st->id (begun here when NULL): its objects into
 * m, its info (and the roles it references) into info.  st->id is begun
 * once the snapshot is taken and the tables are locked.
 */
static int dump_database(dump_state *st, manifest *m, json_t *info, time_t started, bderr *err)
{
	const engine_dump_options *o = st->o;
	repo *r = st->repo;
	PGconn *c = NULL;
	PGresult *res = NULL;
	dump_worker *workers = NULL;
	workpool *pool = NULL;
	pg_tool tool = { 0 };
	pg_dump_info inf_s;
	pg_dump_info *inf = &inf_s;
	memset(inf, 0, sizeof *inf);
	digest_set *digest = NULL;
	int rc = -1;

	if (pg_connect(o->url, o->password, st->dbname, "backupd dump", &c, err) != 0)
		goto out;
	st->server_num = PQserverVersion(c);
	if (server_supported(st->server_num, err) != 0)
		goto out;
	if (session_setup(c, err) != 0)
		goto out;
	/* migrate --via-repo: the snapshot migrate copies from */
	if (pg_snapshot_begin(c, st->o->snapshot, &st->snapshot, err) != 0)
		goto out;
	if (st->o->snapshot)
		st->snapshot = xstrdup(st->o->snapshot);
	if (pg_query(c,
		     "SELECT NULL, current_setting('server_version'), "
		     "pg_catalog.pg_encoding_to_char(d.encoding), d.datname "
		     "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
		     "cannot read the database's encoding", &res, err) != 0)
		goto out;
	st->server_version = xstrdup(PQgetvalue(res, 0, 1));
	st->encoding = xstrdup(PQgetvalue(res, 0, 2));
	inf->database = xstrdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	res = NULL;

	inf->encoding = xstrdup(st->encoding);
	inf->snapshot = xstrdup(st->snapshot);
	inf->server_version_num = st->server_num;

	/* before the backup is begun: a missing or too old pg_dump leaves nothing behind */
	if (pg_tool_find("pg_dump", st->server_num / 10000, &tool, err) != 0)
		goto out;
	inf->pg_dump_version = xstrdup(tool.version);

	if (plan_excludes(st, c, err) != 0)
		goto out;
	progress_phase(o->progress, "waiting for table locks");
	if (load_tables(st, c, err) != 0 || lock_tables(st, c, err) != 0)
		goto out;
	if (st->whole_tables && read_shared_blocks(st, c, err) != 0)
		goto out;
	plan_tasks(st);
	/* relation sizes on disk: an estimate of the COPY text, corrected chunk by chunk */
	for (size_t i = 0; i < st->n_tasks; i++)
		progress_add_total(o->progress, st->tasks[i].weight, 1);
	progress_set_estimated(o->progress, 1);
	progress_phase(o->progress, NULL);

	if (st->id == NULL) {
		if (repo_backup_begin(r, o->name, started, &st->id, err) != 0)
			goto out;
		m->id = xstrdup(st->id);
	}
	log_info("dump %s of '%s'%s%s%s started: %zu tables in %zu chunks, %d jobs", st->id, o->name,
		 *st->prefix ? " (database '" : "", *st->prefix ? inf->database : "",
		 *st->prefix ? "')" : "", st->n_tables, st->n_tasks, o->jobs);

	int n_workers = o->jobs < 1 ? 1 : o->jobs;
	if ((size_t)n_workers > st->n_tasks)
		n_workers = st->n_tasks ? (int)st->n_tasks : 0;
	workers = xcalloc((size_t)n_workers + 1, sizeof *workers);
	for (int i = 0; i < n_workers; i++) {
		workers[i].st = st;
		if (open_worker(st, &workers[i], err) != 0)
			goto out;
	}
	if (workpool_start_arrays(st, workers, sizeof *workers, n_workers, st->tasks, sizeof *st->tasks,
				  st->n_tasks, dump_task_run, NULL, &pool, err) != 0)
		goto out;

	/*
	 * The coordinator's own share, overlapped with the workers' COPY: all of
	 * it reads the snapshot, so none of it needs to hold the workers back.
	 */
	int crc = pg_dump_database_properties(c, st->server_num, inf, err);
	if (crc == 0)
		crc = pg_dump_roles(c, info, err);
	if (crc == 0)
		crc = dump_schema_section(st, &tool, "pre-data", m, &inf->pre_data, err);
	if (crc == 0)
		crc = dump_schema_section(st, &tool, "post-data", m, &inf->post_data, err);
	if (crc == 0)
		crc = dump_sequences(st, c, inf, err);
	if (crc == 0)
		crc = dump_large_objects(st, c, m, inf, err);
	if (crc == 0)
		crc = dump_digest_begin(st, c, &digest, err);
	if (crc != 0)
		workpool_cancel(pool);
	/* the coordinator's own error wins: the workers only stopped because of it */
	bderr werr;
	bderr_init(&werr);
	int wrc = workpool_join(pool, crc != 0 ? &werr : err);
	pool = NULL;
	if (crc != 0 || wrc != 0)
		goto out;

	for (size_t i = 0; i < st->n_tasks; i++) {
		dump_task *d = &st->tasks[i];
		d->table->n_objects += d->n_pieces;
		for (size_t j = 0; j < d->n_pieces; j++)
			manifest_add_object(m, d->pieces[j].object, &d->pieces[j].meta, o->compress_level != 0,
					    d->pieces[j].rows);
	}
	tables_info(st, inf);
	dump_digest_finish(st, digest, inf);
	digest = NULL;
	engine_options_info_set(&inf->options, o, NULL);
	pg_dump_info_to_json(inf, info);
	pg_exec(c, "COMMIT", "cannot end the dump transaction", err);
	rc = 0;
out:
	pg_dump_info_clear(inf);
	digest_set_free(digest);
	if (pool) {
		workpool_cancel(pool);
		bderr discard;
		bderr_init(&discard);
		workpool_join(pool, &discard);
	}
	if (workers) {
		for (int i = 0; workers[i].st; i++)
			PQfinish(workers[i].conn);
		free(workers);
	}
	PQclear(res);
	PQfinish(c);
	pg_tool_clear(&tool);
	return rc;
}

int pg_dump_reach(const char *url, const char *password, bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, password, NULL, "backupd dump", &c, err) != 0)
		return -1;
	int rc = server_supported(PQserverVersion(c), err);
	PQfinish(c);
	return rc;
}

static manifest *dump_manifest_new(const engine_dump_options *o, time_t started)
{
	manifest *m = manifest_new();
	m->engine = xstrdup("postgresql");
	m->kind = xstrdup("dump");
	m->name = xstrdup(o->name);
	m->tool_version = xstrdup("backupd " BACKUPD_VERSION);
	m->started = started;
	return m;
}

int pg_dump_run(repo *r, const engine_dump_options *o, char **id_out, bderr *err)
{
	if (o->all_databases)
		return pg_server_dump_run(r, o, id_out, err);
	dump_state st;
	memset(&st, 0, sizeof st);
	st.o = o;
	st.repo = r;
	st.prefix = "";
	st.whole_tables = 1;
	time_t started = time(NULL);
	manifest *m = dump_manifest_new(o, started);
	int rc = dump_database(&st, m, m->info, started, err);
	if (rc == 0) {
		m->server_version = xstrdup(st.server_version);
		rc = repo_backup_commit(r, m, err);
	}
	if (rc == 0)
		*id_out = xstrdup(st.id);
	if (rc != 0 && st.id)
		repo_backup_discard(r, o->name, st.id);
	manifest_free(m);
	dump_state_clear(&st);
	free(st.id);
	return rc;
}

/* ---- whole-server dumps ---- */

/* The server's connectable databases, templates left out (as pg_dumpall does with template0). */
static int list_databases(PGconn *c, char ***out, size_t *n, bderr *err)
{
	PGresult *r;
	if (pg_query(c,
		     "SELECT datname FROM pg_catalog.pg_database "
		     "WHERE datallowconn AND NOT datistemplate ORDER BY datname",
		     "cannot list the server's databases", &r, err) != 0)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	if (*n == 0)
		return bderr_set(err, "the server has no database to dump");
	return 0;
}

int pg_server_dump_run(repo *r, const engine_dump_options *o, char **id_out, bderr *err)
{
	if (o->role_passwords && !repo_encrypted(r))
		return bderr_usage(err,
				   "--role-passwords writes the roles' password hashes into the repository: use an encrypted repository");
	time_t started = time(NULL);
	manifest *m = dump_manifest_new(o, started);
	dump_state st;
	memset(&st, 0, sizeof st);
	st.o = o;
	st.repo = r;
	st.prefix = "";
	st.whole_tables = 1;
	char **dbs = NULL;
	size_t n_dbs = 0;
	PGconn *c = NULL;
	int rc = -1;
	json_t *globals = json_object();
	json_t *databases = json_array();

	/* the globals first: a role or tablespace made while the databases are dumped is in neither */
	if (pg_connect(o->url, o->password, NULL, "backupd dump", &c, err) != 0 ||
	    pg_globals_dump(c, o->role_passwords, globals, err) != 0 ||
	    list_databases(c, &dbs, &n_dbs, err) != 0)
		goto out;
	m->server_version = xstrdup(PQparameterStatus(c, "server_version"));
	PQfinish(c);
	c = NULL;
	if (repo_backup_begin(r, o->name, started, &st.id, err) != 0)
		goto out;
	m->id = xstrdup(st.id);
	log_info("dump %s of '%s' started: %zu databases and the globals", st.id, o->name, n_dbs);
	for (size_t i = 0; i < n_dbs; i++) {
		char *prefix = xasprintf("db/%zu/", i + 1);
		json_t *info = json_object();
		st.dbname = dbs[i];
		st.prefix = prefix;
		int drc = dump_database(&st, m, info, started, err);
		dump_state_clear(&st);
		if (drc != 0) {
			bderr_prefix(err, "database '%s'", dbs[i]);
			json_decref(info);
			free(prefix);
			goto out;
		}
		json_array_append_new(databases, json_pack("{s:s, s:s, s:o}", "name", dbs[i], "prefix",
							    prefix, "info", info));
		free(prefix);
	}
	pg_server_info_to_json(globals, databases, o, m->info);
	if (repo_backup_commit(r, m, err) != 0)
		goto out;
	*id_out = xstrdup(st.id);
	rc = 0;
out:
	if (rc != 0 && st.id)
		repo_backup_discard(r, o->name, st.id);
	PQfinish(c);
	json_decref(globals);
	json_decref(databases);
	for (size_t i = 0; i < n_dbs; i++)
		free(dbs[i]);
	free(dbs);
	manifest_free(m);
	free(st.id);
	return rc;
}

int pg_copy_plan(PGconn *c, int server_num, uint64_t chunk_bytes, int copy_text, int lock,
		 pg_copy_unit **out, size_t *n_out, bderr *err)
{
	engine_dump_options o;
	engine_dump_options_init(&o);
	o.chunk_bytes = chunk_bytes;
	o.copy_text = copy_text;
	o.compress_level = 0;
	dump_state st;
	memset(&st, 0, sizeof st);
	st.o = &o;
	st.server_num = server_num;
	int rc = load_tables(&st, c, err);
	if (rc == 0 && lock)
		rc = lock_tables(&st, c, err);
	if (rc == 0) {
		plan_tasks(&st);
		pg_copy_unit *u = xcalloc(st.n_tasks + 1, sizeof *u);
		for (size_t i = 0; i < st.n_tasks; i++) {
			const dump_task *d = &st.tasks[i];
			u[i].schema = xstrdup(d->table->schema);
			u[i].name = xstrdup(d->table->name);
			u[i].columns = xcalloc(d->table->n_columns + 1, sizeof *u[i].columns);
			for (size_t k = 0; k < d->table->n_columns; k++)
				u[i].columns[k] = xstrdup(d->table->columns[k]);
			u[i].n_columns = d->table->n_columns;
			u[i].chunk = d->chunk;
			u[i].n_chunks = d->table->n_chunks;
			u[i].bytes = d->weight;
			u[i].binary = d->table->binary;
			u[i].copy_out = copy_out_sql(c, d);
		}
		*out = u;
		*n_out = st.n_tasks;
	}
	dump_state_clear(&st);
	return rc;
}

/* For migrate: every sequence (no filter), in c's snapshot. */
int pg_dump_sequences(PGconn *c, pg_dump_info *inf, bderr *err)
{
	engine_dump_options o;
	engine_dump_options_init(&o);
	dump_state st;
	memset(&st, 0, sizeof st);
	st.o = &o;
	return dump_sequences(&st, c, inf, err);
}

void pg_copy_units_free(pg_copy_unit *u, size_t n)
{
	for (size_t i = 0; u && i < n; i++) {
		free(u[i].schema);
		free(u[i].name);
		for (size_t k = 0; k < u[i].n_columns; k++)
			free(u[i].columns[k]);
		free(u[i].columns);
		free(u[i].copy_out);
	}
	free(u);
}

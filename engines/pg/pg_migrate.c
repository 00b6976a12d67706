#include "engines/pg/pg_migrate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq/libpq-fs.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pg_copybin.h"
#include "engines/pg/pg_digest.h"
#include "engines/pg/pg_dump.h"
#include "engines/pg/pg_dump_roles.h"
#include "engines/pg/pg_format.h"
#include "engines/pg/pg_lo_meta.h"
#include "engines/pg/pg_restore.h"
#include "engines/pg/pg_schema.h"
#include "engines/pg/pgconn.h"
#include "engines/pg/pgtool.h"

#define LO_BUF (256 * 1024)
/* Rows sent to the target in batches of about this much: one send, not one per 8 kB. */
#define COPY_BATCH (256 * 1024)

typedef struct pg_migrate {
	const engine_migrate_options *o;
	PGconn *src;       /* holds the snapshot (and the tables' locks) until the end */
	char *snapshot;    /* exported here, or o->snapshot */
	int server_num;
	manifest *m;       /* the source as a dump's manifest would describe it */
	pg_restore_session *target;
	pg_copy_unit *copies;
	size_t n_copies;
	digest_sum *sums;  /* per copy unit: the rows as the source sent them (engines/digest.h) */
	digest_set *copied; /* the target's tables read in the pipeline as soon as built, or NULL */
	pg_dump_info info; /* the source described; its sequences as set on the target */
	long n_large_objects;
	int next_conn;     /* the target connection the next worker gets */
} pg_migrate;

typedef struct pg_migrate_worker {
	PGconn *src; /* its own, in the snapshot */
	PGconn *dst; /* one of the target session's (not closed here) */
	int frozen;  /* the next copy is its table's whole load, in a transaction that truncated it */
} pg_migrate_worker;

static int to_strbuf(void *ctx, const char *buf, size_t n, bderr *err)
{
	(void)err;
	strbuf_append(ctx, buf, n);
	return 0;
}

/* One section of pg_dump's schema under the session's snapshot, into memory. */
static int schema_section(pg_migrate *s, const pg_tool *tool, const char *section, char **sql,
			  size_t *len, bderr *err)
{
	strbuf b;
	strbuf_init(&b);
	if (pg_schema_dump_to(tool, s->o->from_url, s->o->from_password, NULL, s->snapshot, section,
			      NULL, 0, to_strbuf, &b, err) != 0) {
		strbuf_free(&b);
		return -1;
	}
	*len = b.len;
	*sql = strbuf_detach(&b);
	return 0;
}

/*
 * The source in the snapshot, described as a dump's manifest describes it
 * (encoding, database properties, sequences, roles), so the restore's
 * target steps take it unchanged.
 */
static int describe_source(pg_migrate *s, const pg_tool *tool, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(s->src,
		     "SELECT current_setting('server_version'), pg_catalog.pg_encoding_to_char(d.encoding), "
		     "d.datname, (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) "
		     "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
		     "cannot read the source database's encoding", &r, err) != 0)
		return -1;
	pg_dump_info *inf = &s->info;
	s->m = manifest_new();
	s->m->engine = xstrdup("postgresql");
	s->m->kind = xstrdup("dump");
	s->m->id = xstrdup("migrate");
	s->m->server_version = xstrdup(PQgetvalue(r, 0, 0));
	inf->encoding = xstrdup(PQgetvalue(r, 0, 1));
	inf->database = xstrdup(PQgetvalue(r, 0, 2));
	s->m->name = xstrdup(inf->database);
	s->n_large_objects = atol(PQgetvalue(r, 0, 3));
	PQclear(r);
	inf->snapshot = xstrdup(s->snapshot);
	inf->server_version_num = s->server_num;
	inf->pg_dump_version = xstrdup(tool->version);
	inf->pre_data = xstrdup("pre-data");
	inf->post_data = xstrdup("post-data");
	engine_dump_options d;
	engine_dump_options_init(&d);
	d.jobs = s->o->to.jobs;
	d.compress_spec = "none";
	d.chunk_bytes = s->o->chunk_bytes;
	d.copy_text = s->o->copy_text;
	engine_options_info_set(&inf->options, &d, NULL);
	int rc = pg_dump_database_properties(s->src, s->server_num, inf, err);
	if (rc == 0)
		rc = pg_dump_sequences(s->src, inf, err);
	if (rc == 0) {
		pg_dump_info_to_json(inf, s->m->info);
		rc = pg_dump_roles(s->src, s->m->info, err);
	}
	return rc;
}

/* The large objects' owners, grants and comments, created on the target before their data. */
static int large_object_meta(pg_migrate *s, bderr *err)
{
	if (s->n_large_objects == 0)
		return 0;
	char *json = NULL;
	long n = 0;
	if (pg_lo_meta_read(s->src, &json, &n, err) != 0)
		return -1;
	int rc = pg_restore_lo_meta(s->target, json, strlen(json), "large objects", err);
	free(json);
	return rc;
}

int pg_migrate_open(const engine_migrate_options *o, void **out, bderr *err)
{
	pg_migrate *s = xcalloc(1, sizeof *s);
	s->o = o;
	pg_tool tool = { 0 };
	char *pre = NULL, *post = NULL;
	size_t pre_len = 0, post_len = 0;
	int rc = -1, completed = 0;
	if (pg_connect(o->from_url, o->from_password, NULL, "dbrestore migrate", &s->src, err) != 0)
		goto out;
	s->server_num = PQserverVersion(s->src);
	if (s->server_num < 100000) {
		bderr_set(err, "PostgreSQL %d.%d is not supported: backupd needs version 10 or newer",
			  s->server_num / 10000, s->server_num / 100 % 100);
		goto out;
	}
	/* no timeout may end the transaction that holds the snapshot */
	if (pg_exec(s->src, PG_COPY_SESSION_SQL, "cannot configure the source session", err) != 0 ||
	    pg_snapshot_begin(s->src, o->snapshot, &s->snapshot, err) != 0)
		goto out;
	if (o->snapshot)
		s->snapshot = xstrdup(o->snapshot);
	if (pg_tool_find("pg_dump", s->server_num / 10000, &tool, err) != 0 ||
	    describe_source(s, &tool, err) != 0)
		goto out;
	/* the tables are locked before pg_dump reads their definitions, as the dump does */
	if (pg_copy_plan(s->src, s->server_num, o->chunk_bytes, o->copy_text, 1, &s->copies,
			 &s->n_copies, err) != 0)
		goto out;
	s->sums = xcalloc(s->n_copies + 1, sizeof *s->sums);
	/* the target is checked (major, roles, provisioning, emptiness) before pg_dump runs */
	int so = pg_restore_session_open(s->m, &o->to, &s->target, err);
	if (so > 0) {
		/* --provision completed an interrupted run's: nothing to copy (engine.h) */
		completed = 1;
		goto out;
	}
	if (so != 0)
		goto out;
	log_info("migrating '%s' (PostgreSQL %s) into database '%s': %zu tables and chunks, %ld large objects",
		 s->m->name, s->m->server_version, pg_restore_session_dbname(s->target), s->n_copies,
		 s->n_large_objects);
	if (schema_section(s, &tool, "pre-data", &pre, &pre_len, err) != 0 ||
	    schema_section(s, &tool, "post-data", &post, &post_len, err) != 0)
		goto out;
	/* post-data parsed before the copies: the pipeline builds indexes among them */
	if (pg_restore_pre_data(s->target, pre, pre_len, "pre-data", err) != 0 ||
	    large_object_meta(s, err) != 0 ||
	    pg_restore_post_prepare(s->target, post, post_len, "post-data", err) != 0)
		goto out;
	rc = 0;
out:
	free(pre);
	free(post);
	pg_tool_clear(&tool);
	if (rc != 0 || completed) {
		bderr ignored;
		bderr_init(&ignored);
		pg_migrate_close(s, 0, &ignored);
		*out = NULL;
		return completed ? 1 : -1;
	}
	*out = s;
	return 0;
}

int pg_migrate_dump(void *vs, repo *r, const engine_dump_options *o, char **id, bderr *err)
{
	pg_migrate *s = vs;
	engine_dump_options d = *o;
	d.url = s->o->from_url;
	d.password = s->o->from_password;
	d.snapshot = s->snapshot;
	return pg_dump_run(r, &d, id, err);
}

int pg_migrate_units(void *vs, engine_migrate_unit **out, size_t *n_out, bderr *err)
{
	(void)err;
	pg_migrate *s = vs;
	size_t n = s->n_copies + (s->n_large_objects > 0);
	engine_migrate_unit *u = xcalloc(n + 1, sizeof *u);
	size_t k = 0;
	if (s->n_large_objects > 0) {
		/*
		 * Their size is not known without reading them (pg_largeobject is
		 * for superusers): first, so a large set does not finish last.
		 */
		u[k].label = xasprintf("%ld large objects", s->n_large_objects);
		u[k].rows = -1;
		k++;
	}
	for (size_t i = 0; i < s->n_copies; i++, k++) {
		const pg_copy_unit *c = &s->copies[i];
		u[k].table = pg_qualified_name(s->src, c->schema, c->name);
		u[k].label = c->n_chunks > 1 ? xasprintf("%s (chunk %d/%d)", u[k].table, c->chunk + 1,
							 c->n_chunks)
					     : xstrdup(u[k].table);
		u[k].bytes = c->bytes;
		u[k].rows = -1;
		u[k].engine = &s->copies[i];
	}
	*out = u;
	*n_out = k;
	return 0;
}

void pg_migrate_units_free(void *vs, engine_migrate_unit *u, size_t n)
{
	(void)vs;
	for (size_t i = 0; u && i < n; i++) {
		free(u[i].label);
		free(u[i].table);
	}
	free(u);
}

/* Called from the command's thread, once per worker, before the workers start. */
int pg_migrate_worker_open(void *vs, void **out, bderr *err)
{
	pg_migrate *s = vs;
	pg_migrate_worker *w = xcalloc(1, sizeof *w);
	w->dst = pg_restore_session_conn(s->target, s->next_conn++);
	if (w->dst == NULL) {
		free(w);
		return bderr_set(err, "migrate: more workers than target connections (%d)", s->next_conn - 1);
	}
	if (pg_snapshot_connect(s->o->from_url, s->o->from_password, NULL, s->snapshot,
				"dbrestore migrate", &w->src, err) != 0) {
		PQfinish(w->src);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void pg_migrate_worker_close(void *vs, void *vw)
{
	(void)vs;
	pg_migrate_worker *w = vw;
	if (w == NULL)
		return;
	PQfinish(w->src);
	free(w);
}

/* The first line of a failed result's message, or of the connection's. */
static void result_error(PGconn *c, PGresult *r, char *buf, size_t len)
{
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	char tmp[512];
	if (m == NULL || *m == '\0')
		m = pg_errmsg(c, tmp, sizeof tmp);
	snprintf(buf, len, "%.*s", (int)strcspn(m, "\n"), m);
}

/*
 * COPY TO STDOUT on the source piped row by row into COPY FROM STDIN on the
 * target, in binary when u is (the source's stream passed on whole, its
 * tuples counted and hashed on the way): memory stays at one row plus
 * libpq's send buffer.  A failure on
 * either side ends the target's COPY with an error, so none of its rows
 * stay.
 */
static int copy_table(pg_migrate_worker *w, const pg_copy_unit *u, const char *label,
		      int64_t *rows_out, digest_sum *sum, bderr *err)
{
	char *qual = pg_qualified_name(w->dst, u->schema, u->name);
	strbuf cols;
	strbuf_init(&cols);
	for (size_t k = 0; k < u->n_columns; k++) {
		char *q = pg_quote_ident(w->dst, u->columns[k]);
		strbuf_appendf(&cols, "%s%s", k ? ", " : "", q);
		free(q);
	}
	const char *with = pg_copy_with(u->binary, w->frozen);
	char *in = u->n_columns ? xasprintf("COPY %s (%s) FROM STDIN%s", qual, cols.data, with)
				: xasprintf("COPY %s FROM STDIN%s", qual, with);
	strbuf_free(&cols);
	free(qual);
	char msg[512];
	int rc = -1;
	int64_t rows = 0;
	PGresult *r = PQexec(w->dst, in);
	free(in);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		result_error(w->dst, r, msg, sizeof msg);
		PQclear(r);
		return bderr_set(err, "cannot load %s into the target: %s", label, msg);
	}
	PQclear(r);
	r = PQexec(w->src, u->copy_out);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		result_error(w->src, r, msg, sizeof msg);
		PQclear(r);
		bderr_set(err, "cannot read %s from the source: %s", label, msg);
		PQputCopyEnd(w->dst, "source failed");
		goto drain_dst;
	}
	PQclear(r);
	strbuf batch;
	strbuf_init(&batch);
	pg_copybin bin;
	pg_copybin_init(&bin, u->binary);
	for (;;) {
		char *row = NULL;
		int n = PQgetCopyData(w->src, &row, 0);
		if (n == -2) {
			strbuf_free(&batch);
			bderr_set(err, "cannot read %s from the source: %s", label,
				  pg_errmsg(w->src, msg, sizeof msg));
			PQputCopyEnd(w->dst, "source failed");
			goto drain_dst;
		}
		if (n >= 0 && pg_copybin_read(&bin, row, (size_t)n, sum, NULL, NULL, err) != 0) {
			PQfreemem(row);
			strbuf_free(&batch);
			bderr_prefix(err, "cannot read %s from the source", label);
			PQputCopyEnd(w->dst, "source failed");
			goto drain_dst; /* the source's COPY is left running: its connection is done */
		}
		if (n >= 0) {
			strbuf_append(&batch, row, (size_t)n);
			PQfreemem(row);
		}
		if (n == -1 && pg_copybin_end(&bin, err) != 0) {
			strbuf_free(&batch);
			bderr_prefix(err, "cannot read %s from the source", label);
			PQputCopyEnd(w->dst, "source failed");
			goto drain_dst;
		}
		if (n == -1)
			rows = bin.rows;
		if (batch.len > 0 && (n == -1 || batch.len >= COPY_BATCH)) {
			int put = PQputCopyData(w->dst, batch.data, (int)batch.len);
			strbuf_reset(&batch);
			if (put != 1) {
				/* the source's COPY is left running: this worker's connections are done */
				strbuf_free(&batch);
				bderr_set(err, "cannot load %s into the target: %s", label,
					  pg_errmsg(w->dst, msg, sizeof msg));
				return -1;
			}
		}
		if (n == -1)
			break;
	}
	strbuf_free(&batch);
	while ((r = PQgetResult(w->src)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && !bderr_isset(err)) {
			result_error(w->src, r, msg, sizeof msg);
			bderr_set(err, "cannot read %s from the source: %s", label, msg);
		}
		PQclear(r);
	}
	if (PQputCopyEnd(w->dst, bderr_isset(err) ? "source failed" : NULL) != 1 && !bderr_isset(err))
		bderr_set(err, "cannot load %s into the target: %s", label,
			  pg_errmsg(w->dst, msg, sizeof msg));
drain_dst:
	while ((r = PQgetResult(w->dst)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (!bderr_isset(err)) {
				result_error(w->dst, r, msg, sizeof msg);
				bderr_set(err, "cannot load %s into the target: %s", label, msg);
			}
		} else if (!bderr_isset(err) && strtoll(PQcmdTuples(r), NULL, 10) != rows) {
			bderr_set(err, "%s: the source sent %" PRId64 " rows, the target loaded %s", label,
				  rows, PQcmdTuples(r));
		}
		PQclear(r);
		if (PQstatus(w->dst) != CONNECTION_OK)
			break;
	}
	if (!bderr_isset(err)) {
		*rows_out = rows;
		rc = 0;
	}
	return rc;
}

/* Every large object's bytes, in the snapshot, in one target transaction. */
static int copy_large_objects(pg_migrate_worker *w, int64_t *count, bderr *err)
{
	PGresult *r = NULL;
	if (pg_query(w->src, "SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid",
		     "cannot list the source's large objects", &r, err) != 0)
		return -1;
	if (pg_exec(w->dst, "BEGIN", "cannot start the large object transaction", err) != 0) {
		PQclear(r);
		return -1;
	}
	char *buf = xmalloc(LO_BUF);
	char e[512];
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		Oid oid = (Oid)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		int in = lo_open(w->src, oid, INV_READ);
		if (in < 0) {
			rc = bderr_set(err, "cannot open large object %u on the source: %s", oid,
				       pg_errmsg(w->src, e, sizeof e));
			break;
		}
		int outfd = lo_open(w->dst, oid, INV_WRITE);
		if (outfd < 0) {
			rc = bderr_set(err, "cannot open large object %u on the target: %s", oid,
				       pg_errmsg(w->dst, e, sizeof e));
			lo_close(w->src, in);
			break;
		}
		for (;;) {
			int got = lo_read(w->src, in, buf, LO_BUF);
			if (got < 0) {
				rc = bderr_set(err, "cannot read large object %u: %s", oid,
					       pg_errmsg(w->src, e, sizeof e));
				break;
			}
			if (got == 0)
				break;
			if (lo_write(w->dst, outfd, buf, (size_t)got) != got) {
				rc = bderr_set(err, "cannot write large object %u: %s", oid,
					       pg_errmsg(w->dst, e, sizeof e));
				break;
			}
		}
		lo_close(w->src, in);
		lo_close(w->dst, outfd);
	}
	free(buf);
	*count = PQntuples(r);
	PQclear(r);
	if (rc == 0)
		return pg_exec(w->dst, "COMMIT", "cannot commit the large objects", err);
	r = PQexec(w->dst, "ROLLBACK");
	PQclear(r);
	return -1;
}

int pg_migrate_copy(void *vs, void *vw, engine_migrate_unit *u, bderr *err)
{
	pg_migrate_worker *w = vw;
	if (u->engine == NULL) {
		int64_t n = 0; /* the label counts them */
		return copy_large_objects(w, &n, err);
	}
	pg_migrate *s = vs;
	const pg_copy_unit *c = u->engine;
	return copy_table(w, c, u->label, &u->rows, &s->sums[c - s->copies], err);
}

/* The command's copy of one unit, from the pipeline. */
typedef struct migrate_pipe {
	pg_migrate *s;
	workpool_fn copy;
	void *shared;
} migrate_pipe;

static int pipe_load(void *vp, void *vw, PGconn *target, const pg_load *l, int frozen, bderr *err)
{
	(void)target; /* the worker's dst */
	migrate_pipe *mp = vp;
	pg_migrate_worker *w = vw;
	w->frozen = frozen;
	int r = mp->copy(mp->shared, w, l->arg, err);
	w->frozen = 0;
	return r;
}

/*
 * The target's half of the verification, on a table as soon as its rows are
 * in (beside its index builds), while other tables still load:
 * pg_migrate_verify does not read it again.
 */
static int pipe_table_digest(void *vp, void *vw, PGconn *target, const char *schema,
			     const char *table, bderr *err)
{
	(void)vw;
	migrate_pipe *mp = vp;
	digest_set *d = mp->s->copied;
	for (size_t i = 0; i < d->n_tables; i++)
		if (strcmp(d->tables[i].schema, schema) == 0 && strcmp(d->tables[i].name, table) == 0) {
			if (pg_digest_table(target, &d->tables[i], err) != 0)
				return -1;
			log_debug("verify: read %s.%s on the target as soon as it was loaded (%" PRId64 " rows)",
				  schema, table, d->tables[i].rows);
			return 0;
		}
	return 0;
}

/* Each table copied, with the columns it is copied with, for pipe_table_digest to fill in. */
static digest_set *copied_tables(const pg_migrate *s)
{
	digest_set *d = digest_set_new();
	for (size_t i = 0; i < s->n_copies; i++) {
		const pg_copy_unit *c = &s->copies[i];
		if (c->chunk != 0)
			continue;
		digest_table *t = digest_set_add_table(d, c->schema, c->name, NULL);
		digest_table_set_columns(t, c->columns, c->n_columns);
		t->binary = c->binary;
	}
	return d;
}

/*
 * The copies as the loads of the restore's pipeline: each table's indexes
 * and constraints built on the target as soon as its copies are in, while
 * the other workers still copy.
 */
int pg_migrate_run(void *vs, engine_migrate_unit *units, size_t n, void **workers, int n_workers,
		   workpool_fn copy, void *shared, bderr *err)
{
	pg_migrate *s = vs;
	pg_load *loads = xcalloc(n + 1, sizeof *loads);
	PGconn **conns = xcalloc((size_t)n_workers + 1, sizeof *conns);
	for (size_t i = 0; i < n; i++) {
		const pg_copy_unit *c = units[i].engine;
		loads[i].arg = &units[i];
		if (c == NULL) {
			/* the large objects: size unknown (see pg_migrate_units), first */
			loads[i].cost = 1e18;
			continue;
		}
		loads[i].schema = c->schema;
		loads[i].table = c->name;
		loads[i].n_chunks = c->n_chunks;
		loads[i].cost = (double)c->bytes;
	}
	for (int i = 0; i < n_workers; i++)
		conns[i] = ((pg_migrate_worker *)workers[i])->dst;
	migrate_pipe mp = { s, copy, shared };
	/* checksums only from 12 (see pg_migrate_verify) */
	pg_table_fn after = NULL;
	if (s->server_num >= 120000) {
		digest_set_free(s->copied);
		s->copied = copied_tables(s);
		after = pipe_table_digest;
	}
	int r = pg_restore_pipeline(s->target, loads, n, workers, conns, n_workers, pipe_load, after,
				    &mp, err);
	free(conns);
	free(loads);
	return r;
}

/*
 * The connection holding the snapshot is still in its transaction: what was
 * copied, and what is verified, is that one snapshot.
 */
static int snapshot_held(pg_migrate *s, bderr *err)
{
	PGresult *r = NULL;
	if (PQtransactionStatus(s->src) == PQTRANS_INTRANS &&
	    pg_query(s->src, "SELECT 1", "the source connection holding the snapshot was lost", &r, err) == 0) {
		PQclear(r);
		return 0;
	}
	if (!bderr_isset(err))
		bderr_set(err, "the source connection holding the snapshot was lost");
	return -1;
}

int pg_migrate_post(void *vs, bderr *err)
{
	pg_migrate *s = vs;
	if (snapshot_held(s, err) != 0 || pg_restore_sequences(s->target, err) != 0)
		return -1;
	return pg_restore_post_rest(s->target, err);
}

/*
 * What the target must hold: each table's rows and checksum as the source
 * sent them (summed over its chunks: no second read of the source), the
 * schema objects in the snapshot, the sequence values set.
 */
static int source_digest(pg_migrate *s, digest_set **out, bderr *err)
{
	digest_set *d = digest_set_new();
	for (size_t i = 0; i < s->n_copies; i++) {
		const pg_copy_unit *c = &s->copies[i];
		if (c->chunk != 0)
			continue; /* added with its first chunk */
		digest_sum sum = s->sums[i];
		for (size_t k = 0; c->n_chunks > 1 && k < s->n_copies; k++)
			if (k != i && strcmp(s->copies[k].schema, c->schema) == 0 &&
			    strcmp(s->copies[k].name, c->name) == 0)
				digest_sum_merge(&sum, &s->sums[k]);
		digest_table *t = digest_set_add_table(d, c->schema, c->name, &sum);
		digest_table_set_columns(t, c->columns, c->n_columns);
		t->binary = c->binary;
	}
	for (size_t i = 0; i < s->info.n_sequences; i++) {
		char value[128];
		const pg_dump_sequence *q = &s->info.sequences[i];
		pg_digest_sequence_value(q->last_value, q->is_called, value, sizeof value);
		digest_set_add_sequence(d, q->schema, q->name, value);
	}
	if (pg_digest_objects(s->src, d, err) != 0) {
		digest_set_free(d);
		return -1;
	}
	digest_set_sort(d);
	*out = d;
	return 0;
}

int pg_migrate_verify(void *vs, bderr *err)
{
	pg_migrate *s = vs;
	if (s->server_num < 120000) {
		/* floats print differently before 12: the checksums could not agree */
		log_warn("PostgreSQL %d is older than 12: verified the row counts of each copy, not checksums",
			 s->server_num / 10000);
		return 0;
	}
	time_t t0 = time(NULL);
	digest_set *expected = NULL, *actual = NULL;
	int rc = source_digest(s, &expected, err);
	/*
	 * The target read in parallel on the session's connections (nothing
	 * else writes into the new database), with the source's columns in the
	 * source's order; the tables the pipeline read already (s->copied, each
	 * once loaded) are not read again.
	 */
	PGconn *conns[ENGINE_JOBS_MAX];
	int n = 0;
	while (n < ENGINE_JOBS_MAX && (conns[n] = pg_restore_session_conn(s->target, n)) != NULL)
		n++;
	if (rc == 0)
		rc = pg_digest_compute_conns_have(conns, n, expected, s->copied, &actual, err);
	if (rc == 0)
		rc = digest_compare(expected, actual, s->o->to.allow_non_empty ? 0 : DIGEST_COMPARE_EXTRA,
				    err);
	if (rc != 0)
		bderr_prefix(err, "verification against the source's snapshot failed");
	else
		log_info("verified against the source's snapshot: %zu tables, %zu kinds of objects, %zu sequences match (%lds)",
			 expected->n_tables, expected->n_kinds, expected->n_sequences,
			 (long)(time(NULL) - t0));
	digest_set_free(expected);
	digest_set_free(actual);
	return rc;
}

int pg_migrate_close(void *vs, int ok, bderr *err)
{
	pg_migrate *s = vs;
	if (ok && snapshot_held(s, err) != 0)
		ok = 0;
	int rc = pg_restore_session_close(s->target, ok, err);
	if (!ok)
		rc = -1;
	if (s->src) {
		PGresult *r = PQexec(s->src, "COMMIT");
		PQclear(r);
		PQfinish(s->src);
	}
	pg_copy_units_free(s->copies, s->n_copies);
	free(s->sums);
	digest_set_free(s->copied);
	pg_dump_info_clear(&s->info);
	manifest_free(s->m);
	free(s->snapshot);
	free(s);
	return rc;
}

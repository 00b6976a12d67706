#include "backupd/catalog.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/filter.h"
#include "archive/manifest.h"
#include "backupd/gauges.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pgconn.h"
#include "common/secret.h"

struct catalog {
	PGconn *conn;
	char *daemon_id;
	char *host;
	time_t started;
};

/* Version 1 of the schema, created in one transaction by `catalog init`. */
static const char *const schema_v1 =
	"CREATE SCHEMA IF NOT EXISTS backupd;"
	"CREATE TABLE backupd.catalog_version (version integer NOT NULL,"
	" initialised timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE backupd.jobs (job text PRIMARY KEY, hash text NOT NULL,"
	" published_by text NOT NULL, published_at timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE backupd.daemons (daemon_id text PRIMARY KEY, host text NOT NULL,"
	" pid integer NOT NULL, started timestamptz NOT NULL, last_seen timestamptz NOT NULL);"
	"CREATE TABLE backupd.runs (id bigserial PRIMARY KEY, job text NOT NULL,"
	" fire_time bigint NOT NULL,"
	" state text NOT NULL CHECK (state IN ('running', 'ok', 'failed', 'skipped')),"
	" daemon_id text NOT NULL, repo text, source text,"
	" attempt integer NOT NULL DEFAULT 0, takeovers integer NOT NULL DEFAULT 0,"
	" claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" started timestamptz, finished timestamptz,"
	" lease_seconds integer NOT NULL, lease_until timestamptz NOT NULL,"
	" backup_id text, bytes bigint, row_count bigint, error text,"
	" UNIQUE (job, fire_time));"
	"CREATE INDEX runs_running ON backupd.runs (lease_until) WHERE state = 'running';"
	"CREATE INDEX runs_job_finished ON backupd.runs (job, finished) WHERE state IN ('ok', 'failed');";

const char *catalog_url(const config *cfg)
{
	const char *u = config_get(config_find(cfg, "global", NULL), "catalog");
	return u && *u ? u : NULL;
}

/*
 * A catalog that stops answering must be noticed well within half a lease,
 * when a daemon cut off from it stops its runs (backupd/daemon.c): without
 * these, a silent network partition (no RST, no FIN) blocks a query until
 * the kernel gives up retransmitting, about 15 minutes.  tcp_user_timeout
 * bounds a query whose bytes go unacknowledged, the keepalives an idle
 * connection, connect_timeout a reconnect (libpq's minimum is 2 s).  The
 * catalog URL may set its own.
 */
static void connect_defaults(long lease, char vals[5][24])
{
	long t = lease / 8 > 1 ? lease / 8 : 1;
	snprintf(vals[0], 24, "%ld", t > 2 ? t : 2);          /* connect_timeout */
	snprintf(vals[1], 24, "1");                           /* keepalives */
	snprintf(vals[2], 24, "%ld", t);                      /* keepalives_idle */
	snprintf(vals[3], 24, "%ld", t / 2 > 1 ? t / 2 : 1);  /* keepalives_interval */
	snprintf(vals[4], 24, "%ld", lease * 1000 / 8 > 1000 ? lease * 1000 / 8 : 1000); /* tcp_user_timeout, ms */
}

static int connect_catalog(const config *cfg, long lease, PGconn **out, bderr *err)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const char *url = catalog_url(cfg);
	if (url == NULL)
		return bderr_usage(err, "no catalog: set [global] catalog = postgresql://... in %s",
				   cfg ? cfg->path : "the configuration");
	char *password = NULL;
	const char *pf = config_get(g, "catalog-password-file");
	if (pf && secret_read_file(pf, &password, err) < 0)
		return -1;
	static const char *const keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
					    "keepalives_interval", "tcp_user_timeout", NULL };
	char vals[5][24];
	connect_defaults(lease, vals);
	const char *const v[] = { vals[0], vals[1], vals[2], vals[3], vals[4], NULL };
	int rc = pg_connect_defaults(url, password, "backupd catalog", keys, v, out, err);
	secret_free(password);
	if (rc < 0) {
		bderr_prefix(err, "catalog");
		return -1;
	}
	/* a stuck statement must not stall a daemon's scheduling loop for long */
	if (pg_exec(*out, "SET statement_timeout = '15s'", "catalog: set statement_timeout", err) < 0) {
		PQfinish(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The schema's version; 0 when the catalog was never initialised. */
static int schema_version(PGconn *conn, long *version, bderr *err)
{
	PGresult *r;
	*version = 0;
	/* the table is looked up first: a query naming a missing one fails to parse */
	if (pg_query(conn, "SELECT to_regclass('backupd.catalog_version') IS NOT NULL",
		     "catalog: read schema version", &r, err) < 0)
		return -1;
	int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists)
		return 0;
	if (pg_query(conn, "SELECT max(version) FROM backupd.catalog_version",
		     "catalog: read schema version", &r, err) < 0)
		return -1;
	*version = PQgetisnull(r, 0, 0) ? 0 : strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int version_error(long v, bderr *err)
{
	if (v == 0)
		return bderr_usage(err, "catalog is not initialised: run 'backupd catalog init'");
	if (v < CATALOG_VERSION)
		return bderr_usage(err, "catalog schema is version %ld, this backupd needs version %d: "
				   "run 'backupd catalog upgrade'", v, CATALOG_VERSION);
	return bderr_usage(err, "catalog schema is version %ld, written by a newer backupd; this one "
			   "knows version %d: upgrade this backupd", v, CATALOG_VERSION);
}

int catalog_check(const config *cfg, long lease, char *note, size_t note_len, bderr *err)
{
	PGconn *conn;
	if (connect_catalog(cfg, lease, &conn, err) < 0)
		return -1;
	long v;
	int rc = schema_version(conn, &v, err);
	if (rc == 0 && v != CATALOG_VERSION)
		rc = version_error(v, err);
	if (rc == 0)
		snprintf(note, note_len, "schema version %ld", v);
	PQfinish(conn);
	return rc < 0 ? -1 : 0;
}

/* This host's name (caller frees): the default daemon-id, and who wrote a row. */
char *catalog_host_name(void)
{
	char host[256];
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	return xstrdup(host);
}

void catalog_set_started(catalog *c, time_t started)
{
	c->started = started;
}

int catalog_open(const config *cfg, const char *daemon_id, long lease, catalog **out, bderr *err)
{
	*out = NULL;
	PGconn *conn;
	if (connect_catalog(cfg, lease, &conn, err) < 0)
		return -1;
	long v;
	if (schema_version(conn, &v, err) < 0 || (v != CATALOG_VERSION && version_error(v, err))) {
		PQfinish(conn);
		return -1;
	}
	catalog *c = xcalloc(1, sizeof *c);
	c->conn = conn;
	c->daemon_id = xstrdup(daemon_id);
	c->host = catalog_host_name();
	c->started = time(NULL);
	*out = c;
	return 0;
}

void catalog_free(catalog *c)
{
	if (c == NULL)
		return;
	PQfinish(c->conn);
	free(c->daemon_id);
	free(c->host);
	free(c);
}

int catalog_alive(const catalog *c)
{
	return c && PQstatus(c->conn) == CONNECTION_OK;
}

static int entry_compare(const void *a, const void *b)
{
	const config_entry *x = *(const config_entry *const *)a, *y = *(const config_entry *const *)b;
	return strcmp(x->key, y->key);
}

char *catalog_job_hash(const config *cfg, const char *job)
{
	const config_section *s = config_find(cfg, "job", job);
	strbuf b;
	strbuf_init(&b);
	if (s) {
		const config_entry **e = xcalloc(s->n_entries ? s->n_entries : 1, sizeof *e);
		for (size_t i = 0; i < s->n_entries; i++)
			e[i] = &s->entries[i];
		qsort(e, s->n_entries, sizeof *e, entry_compare);
		for (size_t i = 0; i < s->n_entries; i++)
			strbuf_appendf(&b, "%s=%s\n", e[i]->key, e[i]->value);
		free(e);
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(b.data ? b.data : "", b.len, hex);
	strbuf_free(&b);
	return xstrdup(hex);
}

/* One statement with parameters that returns rows; *out to PQclear. */
static int q(catalog *c, const char *sql, int n, const char *const *v, const char *what,
	     PGresult **out, bderr *err)
{
	return pg_query_params(c->conn, sql, n, v, what, out, err);
}

int catalog_job_check(catalog *c, const char *job, const char *hash, int force, int *agrees,
		      bderr *err)
{
	const char *v[3] = { job, hash, c->daemon_id };
	const char *sql = force
		? "INSERT INTO backupd.jobs (job, hash, published_by) VALUES ($1, $2, $3)"
		  " ON CONFLICT (job) DO UPDATE SET hash = EXCLUDED.hash,"
		  " published_by = EXCLUDED.published_by, published_at = now() RETURNING hash"
		: "WITH ins AS (INSERT INTO backupd.jobs (job, hash, published_by) VALUES ($1, $2, $3)"
		  " ON CONFLICT (job) DO NOTHING RETURNING hash)"
		  " SELECT hash FROM ins UNION ALL SELECT hash FROM backupd.jobs WHERE job = $1";
	PGresult *r;
	if (q(c, sql, 3, v, "catalog: job definitions", &r, err) < 0)
		return -1;
	*agrees = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), hash) == 0;
	PQclear(r);
	return 0;
}

static int rollback(catalog *c, int rc)
{
	bderr ignored;
	bderr_init(&ignored);
	pg_exec(c->conn, "ROLLBACK", "catalog: rollback", &ignored);
	return rc;
}

int catalog_claim(catalog *c, const claim_request *qr, int64_t *run_id, claim_result *res,
		  bderr *err)
{
	char fire[32], lease[32];
	snprintf(fire, sizeof fire, "%lld", (long long)qr->fire);
	snprintf(lease, sizeof lease, "%ld", qr->lease);
	*run_id = 0;
	*res = CLAIM_TAKEN;
	if (pg_exec(c->conn, "BEGIN", "catalog: claim", err) < 0)
		return -1;
	PGresult *r = NULL;
	const char *vj[2] = { qr->job, fire };
	/*
	 * Fleet-wide limits are counted and claimed under one lock, so two
	 * daemons cannot both see "one slot left"; without limits, a lock per job
	 * keeps "previous run still going" exact.  The unique key decides anyway.
	 */
	int limited = qr->per_repo > 0 || qr->per_source > 0;
	if (q(c, limited ? "SELECT pg_advisory_xact_lock(hashtext('backupd.claim'))"
			 : "SELECT pg_advisory_xact_lock(hashtext('backupd.job:' || $1))",
	      limited ? 0 : 1, vj, "catalog: claim lock", &r, err) < 0)
		return rollback(c, -1);
	PQclear(r);
	if (q(c, "SELECT (SELECT count(*) FROM backupd.runs WHERE job = $1 AND fire_time = $2),"
		 " (SELECT count(*) FROM backupd.runs WHERE job = $1 AND state = 'running')",
	      2, vj, "catalog: claim", &r, err) < 0)
		return rollback(c, -1);
	int exists = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	int busy = strcmp(PQgetvalue(r, 0, 1), "0") != 0;
	PQclear(r);
	if (exists)
		return rollback(c, 0);
	const char *state = "running";
	if (busy) {
		state = "skipped";
	} else if (limited) {
		const char *vl[2] = { qr->repo ? qr->repo : "", qr->source ? qr->source : "" };
		if (q(c, "SELECT count(*) FILTER (WHERE repo = $1), count(*) FILTER (WHERE source = $2)"
			 " FROM backupd.runs WHERE state = 'running'",
		      2, vl, "catalog: fleet-wide limits", &r, err) < 0)
			return rollback(c, -1);
		long on_repo = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		long on_source = strtol(PQgetvalue(r, 0, 1), NULL, 10);
		PQclear(r);
		if ((qr->per_repo > 0 && on_repo >= qr->per_repo) ||
		    (qr->per_source > 0 && on_source >= qr->per_source)) {
			*res = CLAIM_WAIT;
			return rollback(c, 0);
		}
	}
	const char *vi[7] = { qr->job, fire, state, c->daemon_id, qr->repo, qr->source, lease };
	if (q(c, "INSERT INTO backupd.runs (job, fire_time, state, daemon_id, repo, source,"
		 " lease_seconds, lease_until, finished)"
		 " VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::integer,"
		 " now() + $7::integer * interval '1 second',"
		 " CASE WHEN $3::text = 'skipped' THEN now() END)"
		 " ON CONFLICT (job, fire_time) DO NOTHING RETURNING id",
	      7, vi, "catalog: claim", &r, err) < 0)
		return rollback(c, -1);
	if (PQntuples(r) == 1) {
		*run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*res = busy ? CLAIM_SKIPPED : CLAIM_OK;
	}
	PQclear(r);
	if (pg_exec(c->conn, "COMMIT", "catalog: claim", err) < 0) {
		*res = CLAIM_TAKEN;
		return -1;
	}
	return 0;
}

int catalog_skip(catalog *c, const char *job, time_t fire, const char *why, bderr *err)
{
	char f[32];
	snprintf(f, sizeof f, "%lld", (long long)fire);
	const char *v[4] = { job, f, c->daemon_id, why };
	PGresult *r;
	if (q(c, "INSERT INTO backupd.runs (job, fire_time, state, daemon_id, lease_seconds,"
		 " lease_until, finished, error)"
		 " VALUES ($1, $2, 'skipped', $3, 0, now(), now(), $4)"
		 " ON CONFLICT (job, fire_time) DO NOTHING RETURNING id",
	      4, v, "catalog: record a skipped firing", &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

int catalog_run_started(catalog *c, int64_t run_id, long attempt, bderr *err)
{
	char id[32], att[32];
	snprintf(id, sizeof id, "%" PRId64, run_id);
	snprintf(att, sizeof att, "%ld", attempt);
	const char *v[3] = { id, att, c->daemon_id };
	PGresult *r;
	if (q(c, "UPDATE backupd.runs SET attempt = $2, started = now(),"
		 " lease_until = now() + lease_seconds * interval '1 second'"
		 " WHERE id = $1 AND daemon_id = $3 RETURNING id",
	      3, v, "catalog: run start", &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

int catalog_renew(catalog *c, const int64_t *held, size_t n_held, int64_t **owned,
		  size_t *n_owned, bderr *err)
{
	*owned = NULL;
	*n_owned = 0;
	char pid[32], started[32];
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(started, sizeof started, "%lld", (long long)c->started);
	strbuf ids;
	strbuf_init(&ids);
	strbuf_appends(&ids, "{");
	for (size_t i = 0; i < n_held; i++)
		strbuf_appendf(&ids, "%s%" PRId64, i ? "," : "", held[i]);
	strbuf_appends(&ids, "}");
	const char *v[5] = { c->daemon_id, c->host, pid, started, ids.data };
	PGresult *r;
	/* only the runs the daemon holds: one it gave up (or forgot in a restart) ages out */
	int rc = q(c, "WITH d AS (INSERT INTO backupd.daemons (daemon_id, host, pid, started, last_seen)"
		      " VALUES ($1, $2, $3::integer, to_timestamp($4::double precision), now()) ON CONFLICT (daemon_id) DO UPDATE"
		      " SET host = EXCLUDED.host, pid = EXCLUDED.pid, started = EXCLUDED.started,"
		      " last_seen = now() RETURNING 1),"
		      " r AS (UPDATE backupd.runs SET lease_until = now() + lease_seconds * interval '1 second'"
		      " WHERE daemon_id = $1 AND state = 'running' AND id = ANY ($5::bigint[]) RETURNING id)"
		      " SELECT r.id FROM (SELECT count(*) FROM d) x LEFT JOIN r ON true",
		   5, v, "catalog: heartbeat", &r, err);
	strbuf_free(&ids);
	if (rc < 0)
		return -1;
	size_t n = (size_t)PQntuples(r);
	*owned = xcalloc(n ? n : 1, sizeof **owned);
	for (size_t i = 0; i < n; i++)
		if (!PQgetisnull(r, (int)i, 0))
			(*owned)[(*n_owned)++] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int catalog_run_finished(catalog *c, int64_t run_id, const run_record *rec, int *mine, bderr *err)
{
	char id[32], bytes[32], rows[32];
	snprintf(id, sizeof id, "%" PRId64, run_id);
	snprintf(bytes, sizeof bytes, "%" PRIu64, rec->bytes);
	snprintf(rows, sizeof rows, "%" PRIu64, rec->rows);
	const char *v[7] = { id, c->daemon_id, rec->ok ? "ok" : "failed", rec->backup_id,
			     rec->ok ? bytes : NULL, rec->ok ? rows : NULL, rec->error };
	PGresult *r;
	if (q(c, "UPDATE backupd.runs SET state = $3, finished = now(), backup_id = $4, bytes = $5,"
		 " row_count = $6, error = $7"
		 " WHERE id = $1 AND daemon_id = $2 AND state = 'running' RETURNING id",
	      7, v, "catalog: run end", &r, err) < 0)
		return -1;
	*mine = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

/* A text[] literal of names, each quoted and escaped: a parameter, never SQL. */
static char *text_array(const char *const *items, size_t n)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "{");
	for (size_t i = 0; i < n; i++) {
		strbuf_appends(&b, i ? ",\"" : "\"");
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_appends(&b, "\\");
			strbuf_appendf(&b, "%c", *p);
		}
		strbuf_appends(&b, "\"");
	}
	strbuf_appends(&b, "}");
	return strbuf_detach(&b);
}

int catalog_take_over(catalog *c, const char *const *jobs, size_t n_jobs, long lease,
		      int64_t *run_id, char **job, time_t *fire, int *found, bderr *err)
{
	(void)lease;
	*found = 0;
	*job = NULL;
	if (n_jobs == 0)
		return 0;
	char *arr = text_array(jobs, n_jobs);
	const char *v[2] = { c->daemon_id, arr };
	PGresult *r;
	/*
	 * A lease counts from the catalog server's start too: after a restart of
	 * the catalog, every daemon gets a whole lease time to reconnect and
	 * renew before its runs are thought dead.
	 */
	int rc = q(c, "UPDATE backupd.runs SET daemon_id = $1, takeovers = takeovers + 1,"
		      " lease_until = now() + lease_seconds * interval '1 second'"
		      " WHERE id = (SELECT id FROM backupd.runs WHERE state = 'running'"
		      " AND lease_until < now()"
		      " AND pg_postmaster_start_time() + lease_seconds * interval '1 second' < now()"
		      " AND job = ANY ($2::text[]) ORDER BY fire_time LIMIT 1 FOR UPDATE SKIP LOCKED)"
		      " RETURNING id, job, fire_time",
		   2, v, "catalog: take over an expired run", &r, err);
	free(arr);
	if (rc < 0)
		return -1;
	if (PQntuples(r) == 1) {
		*run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*job = xstrdup(PQgetvalue(r, 0, 1));
		*fire = (time_t)strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		*found = 1;
	}
	PQclear(r);
	return 0;
}

int catalog_last_fire(catalog *c, const char *job, time_t *fire, int *found, bderr *err)
{
	const char *v[1] = { job };
	PGresult *r;
	if (q(c, "SELECT max(fire_time) FROM backupd.runs WHERE job = $1", 1, v,
	      "catalog: last fire time", &r, err) < 0)
		return -1;
	*found = !PQgetisnull(r, 0, 0);
	*fire = *found ? (time_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return 0;
}

int catalog_last_successes(catalog *c, catalog_success **out, size_t *n, bderr *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r;
	if (pg_query(c->conn, "SELECT job, extract(epoch FROM max(finished))::bigint"
			      " FROM backupd.runs WHERE state = 'ok' GROUP BY job",
		     "catalog: last successes", &r, err) < 0)
		return -1;
	size_t k = (size_t)PQntuples(r);
	*out = xcalloc(k ? k : 1, sizeof **out);
	for (size_t i = 0; i < k; i++) {
		(*out)[i].job = xstrdup(PQgetvalue(r, (int)i, 0));
		(*out)[i].finished = (time_t)strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
	}
	*n = k;
	PQclear(r);
	return 0;
}

void catalog_successes_free(catalog_success *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].job);
	free(s);
}

/* ---- backupd catalog init|upgrade ---------------------------------------- */

static int publish_jobs(catalog *c, const config *cfg, bderr *err)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const config_section *s = &cfg->sections[i];
		if (strcmp(s->type, "job") != 0)
			continue;
		char *hash = catalog_job_hash(cfg, s->name);
		int agrees;
		int rc = catalog_job_check(c, s->name, hash, 1, &agrees, err);
		free(hash);
		if (rc < 0)
			return -1;
		n++;
	}
	log_info("catalog: %zu job definition%s published as the fleet's", n, plural_s(n));
	return 0;
}

int catalog_command(program *p, bderr *err)
{
	const char *sub = p->args.positional[0];
	int init = strcmp(sub, "init") == 0;
	if (!init && strcmp(sub, "upgrade") != 0)
		return bderr_usage(err, "catalog: unknown subcommand '%s' (known: init, upgrade)", sub);
	if (p->cfg == NULL)
		return bderr_usage(err, "catalog needs a configuration file with [global] catalog =");
	PGconn *conn;
	if (connect_catalog(p->cfg, CATALOG_LEASE_DEFAULT, &conn, err) < 0)
		return -1;
	int rc = -1;
	long v = 0;
	/* two inits at once: the second waits, then finds the schema there */
	if (pg_exec(conn, "BEGIN", "catalog: begin", err) < 0 ||
	    pg_exec(conn, "SELECT pg_advisory_xact_lock(hashtext('backupd.schema'))",
		    "catalog: schema lock", err) < 0 ||
	    schema_version(conn, &v, err) < 0)
		goto out;
	if (v == 0 && !init) {
		bderr_usage(err, "catalog is not initialised: run 'backupd catalog init'");
		goto out;
	}
	if (v > CATALOG_VERSION) {
		version_error(v, err);
		goto out;
	}
	if (v == 0) {
		if (pg_exec(conn, schema_v1, "catalog: create schema", err) < 0)
			goto out;
		char ver[16];
		snprintf(ver, sizeof ver, "%d", CATALOG_VERSION);
		const char *vv[1] = { ver };
		PGresult *r;
		if (pg_query_params(conn, "INSERT INTO backupd.catalog_version (version) VALUES ($1)"
					  " RETURNING version",
				    1, vv, "catalog: record version", &r, err) < 0)
			goto out;
		PQclear(r);
		log_info("catalog: schema version %d created", CATALOG_VERSION);
	} else if (v == CATALOG_VERSION) {
		log_info("catalog: schema is at version %ld, nothing to %s", v, init ? "create" : "upgrade");
	}
	/* versions before CATALOG_VERSION would be migrated here, in this transaction */
	if (pg_exec(conn, "COMMIT", "catalog: commit", err) < 0)
		goto out;
	catalog c = { .conn = conn, .daemon_id = catalog_host_name() };
	rc = publish_jobs(&c, p->cfg, err);
	free(c.daemon_id);
	if (rc == 0)
		printf("catalog schema version %d\n", CATALOG_VERSION);
out:
	PQfinish(conn);
	return rc;
}

/* ---- backupd status with a catalog ------------------------------------- */

static json_t *opt_str(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static const char *time_str(PGresult *r, int row, int col, char *buf, size_t len)
{
	if (PQgetisnull(r, row, col))
		return "-";
	format_rfc3339((time_t)strtoll(PQgetvalue(r, row, col), NULL, 10), buf, len);
	return buf;
}

int catalog_status(program *p, bderr *err)
{
	catalog *c;
	char *id = catalog_host_name();
	int rc = catalog_open(p->cfg, id, CATALOG_LEASE_DEFAULT, &c, err);
	free(id);
	if (rc < 0)
		return -1;
	PGresult *r = NULL;
	/* every job the fleet knows: its last finished run and what runs now */
	rc = pg_query(c->conn,
		      "SELECT j.job, l.state, l.daemon_id, l.fire_time,"
		      " extract(epoch FROM l.started)::bigint, extract(epoch FROM l.finished)::bigint,"
		      " l.backup_id, l.error, l.attempt, l.takeovers,"
		      " n.daemon_id, extract(epoch FROM n.started)::bigint, n.lease_until < now()"
		      " FROM (SELECT job FROM backupd.jobs UNION SELECT DISTINCT job FROM backupd.runs) j"
		      " LEFT JOIN LATERAL (SELECT * FROM backupd.runs x WHERE x.job = j.job"
		      "  AND x.state IN ('ok', 'failed') ORDER BY x.finished DESC LIMIT 1) l ON true"
		      " LEFT JOIN LATERAL (SELECT * FROM backupd.runs y WHERE y.job = j.job"
		      "  AND y.state = 'running' ORDER BY y.fire_time DESC LIMIT 1) n ON true"
		      " ORDER BY j.job",
		      "catalog: status", &r, err);
	if (rc < 0) {
		catalog_free(c);
		return -1;
	}
	json_t *arr = p->args.json ? json_array() : NULL;
	if (!arr)
		printf("%-24s %-8s %-16s %-20s %-22s %s\n", "JOB", "LAST", "BY", "FINISHED", "BACKUP",
		       "NOW");
	for (int i = 0; i < PQntuples(r); i++) {
		char fin[32], st[32], fire[32], nst[32];
		int has_last = !PQgetisnull(r, i, 1);
		int running = !PQgetisnull(r, i, 10);
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "job", json_string(PQgetvalue(r, i, 0)));
			if (has_last) {
				time_str(r, i, 3, fire, sizeof fire);
				json_object_set_new(
					o, "last",
					json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:i}",
						  "result", PQgetvalue(r, i, 1), "daemon",
						  PQgetvalue(r, i, 2), "fire_time", fire, "started",
						  time_str(r, i, 4, st, sizeof st), "finished",
						  time_str(r, i, 5, fin, sizeof fin), "backup_id",
						  opt_str(r, i, 6), "error", opt_str(r, i, 7), "attempt",
						  atoi(PQgetvalue(r, i, 8)), "takeovers",
						  atoi(PQgetvalue(r, i, 9))));
			} else {
				json_object_set_new(o, "last", json_null());
			}
			if (running) {
				json_t *run = json_pack("{s:s, s:s, s:b}", "daemon", PQgetvalue(r, i, 10),
							"started", time_str(r, i, 11, nst, sizeof nst),
							"lease_expired", strcmp(PQgetvalue(r, i, 12), "t") == 0);
				/* a run on this host: its progress too */
				progress_snapshot ps;
				if (gauges_read_progress(p->cfg, PQgetvalue(r, i, 0), &ps))
					json_object_set_new(run, "progress", gauges_progress_json(&ps));
				json_object_set_new(o, "running", run);
			} else
				json_object_set_new(o, "running", json_null());
			json_array_append_new(arr, o);
		} else {
			char now_s[128] = "-";
			if (running)
				snprintf(now_s, sizeof now_s, "running on %s since %s%s",
					 PQgetvalue(r, i, 10), time_str(r, i, 11, nst, sizeof nst),
					 strcmp(PQgetvalue(r, i, 12), "t") == 0 ? " (lease expired)" : "");
			printf("%-24s %-8s %-16s %-20s %-22s %s\n", PQgetvalue(r, i, 0),
			       has_last ? PQgetvalue(r, i, 1) : "never",
			       has_last ? PQgetvalue(r, i, 2) : "-", time_str(r, i, 5, fin, sizeof fin),
			       has_last && !PQgetisnull(r, i, 6) ? PQgetvalue(r, i, 6) : "-", now_s);
			if (has_last && !PQgetisnull(r, i, 7))
				printf("    error: %s\n", PQgetvalue(r, i, 7));
			progress_snapshot ps;
			if (running && gauges_read_progress(p->cfg, PQgetvalue(r, i, 0), &ps)) {
				char line[512];
				progress_format_line(&ps, line, sizeof line);
				printf("    running: %s\n", line);
			}
		}
	}
	PQclear(r);
	if (arr) {
		char *text = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(arr);
	}
	catalog_free(c);
	return 0;
}

#include "restore/migrate.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/repo.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "common/resolve.h"
#include "common/workpool.h"
#include "engines/engine.h"
#include "common/secret.h"
#include "restore/migrate_follow.h"
#include "restore/target_options.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * Smaller than a dump's chunks: a migrate writes no object per chunk, so
 * the only cost of a chunk is one more COPY, and one large table no longer
 * keeps a single worker busy while the others are idle.
 */
#define MIGRATE_CHUNK_SIZE_DEFAULT "64MB"

const cli_option migrate_options[] = {
	{ "from", "URI", "source database: a postgresql:// or mysql:// URI, or a [source:NAME]", CLI_REQUIRED, NULL, 0, 0 },
	{ "to", "URI", "target database (or, with --provision, the target server's admin account)", CLI_REQUIRED, NULL, 0, 0 },
	{ "jobs", "N", "parallel connection pairs", 0, STR(ENGINE_JOBS_DEFAULT), ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	{ "chunk-size", "SIZE", "copy tables larger than this in parallel chunks", 0, MIGRATE_CHUNK_SIZE_DEFAULT, 0, 0 },
	{ "copy-format", "auto|text", "PostgreSQL: copy tables of built-in types in binary (auto), or every table as text", 0, "auto", 0, 0 },
	TARGET_OPTIONS,
	{ "via-repo", "R", "also keep a verified backup of what was moved in repository R (a [repo:NAME], path or s3:// URL)", 0, NULL, 0, 0 },
	{ "name", "N", "with --via-repo: the source's name in the repository (default: the source's); with --follow: the migration's name", 0, NULL, 0, 0 },
	{ "compress", "SPEC", "with --via-repo: the backup's compression", 0, ENGINE_COMPRESS_DEFAULT, 0, 0 },
	PROGRAM_OPT_KEY_FILE,
	PROGRESS_CLI_OPTIONS,
	MIGRATE_FOLLOW_OPTS,
	CLI_OPT_END,
};

/* What the workers share: the session and the progress counters. */
typedef struct migrate_run {
	const engine_ops *e;
	void *session;
	size_t n_units;
	uint64_t total_bytes;
	uint64_t chunk_bytes;
	int copy_text;
	pthread_mutex_t lock;
	size_t done;
	uint64_t done_bytes;
	time_t started;
	int verified;
	progress *prog; /* common/progress: bytes and units done of the source's estimate */
	migrate_follow *follow; /* --follow, or NULL */
} migrate_run;

static int copy_unit(void *shared, void *worker, void *item, bderr *err)
{
	migrate_run *m = shared;
	engine_migrate_unit *u = item;
	if (m->e->migrate_copy(m->session, worker, u, err) != 0)
		return -1;
	pthread_mutex_lock(&m->lock);
	size_t done = ++m->done;
	m->done_bytes += u->bytes;
	uint64_t bytes = m->done_bytes;
	pthread_mutex_unlock(&m->lock);
	progress_add(m->prog, u->bytes, 1);
	long secs = (long)(time(NULL) - m->started);
	char rows[32] = "";
	if (u->rows >= 0)
		snprintf(rows, sizeof rows, "%" PRId64 " rows, ", u->rows);
	/* the sizes are the source's estimates (relation sizes, table statistics): "~" */
	log_info("copied %s (%s%zu/%zu done, ~%.1f/%.1f MB, %.1f MB/s)", u->label, rows, done,
		 m->n_units, bytes / 1048576.0, m->total_bytes / 1048576.0,
		 bytes / 1048576.0 / (double)(secs > 0 ? secs : 1));
	return 0;
}

/* The data, in parallel: one worker (a connection pair) per job, largest units first. */
static int copy_data(migrate_run *m, int jobs, bderr *err)
{
	engine_migrate_unit *units = NULL;
	size_t n = 0;
	if (m->e->migrate_units(m->session, &units, &n, err) != 0)
		return -1;
	m->n_units = n;
	for (size_t i = 0; i < n; i++)
		m->total_bytes += units[i].bytes;
	progress_add_total(m->prog, m->total_bytes, n);
	/* done counts the same estimates (units' sizes), so it ends on the total: still not exact */
	progress_set_estimated(m->prog, 1);
	progress_phase(m->prog, "copying data");
	int n_workers = jobs < 1 ? 1 : jobs;
	if ((size_t)n_workers > n)
		n_workers = (int)n;
	void **workers = xcalloc((size_t)n_workers + 1, sizeof *workers);
	void **items = xcalloc(n + 1, sizeof *items);
	for (size_t i = 0; i < n; i++)
		items[i] = &units[i];
	int rc = 0, opened = 0;
	for (; opened < n_workers && rc == 0; opened++)
		if (m->e->migrate_worker_open(m->session, &workers[opened], err) != 0) {
			rc = -1;
			break;
		}
	if (rc == 0 && n > 0 && m->e->migrate_run)
		rc = m->e->migrate_run(m->session, units, n, workers, n_workers, copy_unit, m, err);
	else if (rc == 0 && n > 0)
		rc = workpool_run(m, workers, n_workers, items, n, copy_unit, m->e->migrate_thread_hooks,
				  err);
	for (int i = 0; i < opened; i++)
		m->e->migrate_worker_close(m->session, workers[i]);
	free(workers);
	free(items);
	m->e->migrate_units_free(m->session, units, n);
	return rc;
}

/*
 * --via-repo: a backup of the same snapshot, written by the engine's own
 * dump code (migrate_dump), then read back whole with every object's
 * checksum checked; the copy into the target stays the direct one.  Why not
 * "dump, then restore from the repository": the target would be loaded by a
 * second path with its own failure modes, and the direct copy is verified
 * against the same snapshot anyway, so the backup and the target are known
 * to hold the same data.  Why not write the repository while copying: the
 * dump's manifest, chunk objects and digests would be built a second time
 * outside the dump.  The cost is one more read of the source.
 */
static int via_repo(migrate_run *m, repo *r, const char *name, const char *compress, int jobs, bderr *err)
{
	engine_dump_options d;
	engine_dump_options_init(&d);
	d.name = name;
	d.jobs = jobs;
	d.chunk_bytes = m->chunk_bytes;
	d.copy_text = m->copy_text;
	if (compress && engine_dump_option_set(&d, "compress", compress, err) != 0)
		return -1;
	char *id = NULL;
	manifest *man = NULL;
	int rc = m->e->migrate_dump(m->session, r, &d, &id, err);
	if (rc == 0)
		rc = repo_backup_load(r, name, id, &man, err);
	if (rc == 0)
		rc = repo_backup_verify(r, man, err);
	if (rc == 0)
		log_info("backup %s of '%s' written to %s and verified", id, name, repo_url(r));
	else
		bderr_prefix(err, "--via-repo");
	manifest_free(man);
	free(id);
	return rc;
}

static int migrate_run_all(migrate_run *m, const engine_migrate_options *mo, repo *r,
			   const char *name, const char *compress, bderr *err)
{
	const engine_ops *e = m->e;
	int opened = e->migrate_open(mo, &m->session, err);
	if (opened != 0)
		return opened > 0 ? 1 : -1; /* 1: an interrupted provisioning completed (engine.h) */
	int rc = 0;
	if (r != NULL)
		rc = via_repo(m, r, name, compress, mo->to.jobs, err);
	if (rc == 0)
		rc = copy_data(m, mo->to.jobs, err);
	progress_phase(m->prog, "building indexes and constraints");
	if (rc == 0)
		rc = e->migrate_post(m->session, err);
	progress_phase(m->prog, "verifying");
	/* ---- VERIFICATION: the target against the source's snapshot (always) ---- */
	if (rc == 0) {
		if (e->migrate_verify) {
			rc = e->migrate_verify(m->session, err);
			m->verified = rc == 0;
		} else {
			log_warn("migrate: the %s engine cannot verify yet: row counts per table were checked, checksums were not",
				 e->name);
		}
	}
	/* --follow: where the snapshot is, while the session still knows */
	if (rc == 0 && m->follow)
		rc = migrate_follow_copied(m->follow, m->session, err);
	/* always: makes the result visible, or drops what the migrate created */
	bderr cerr;
	bderr_init(&cerr);
	int crc = e->migrate_close(m->session, rc == 0, rc == 0 ? err : &cerr);
	m->session = NULL;
	return rc == 0 && crc == 0 ? 0 : -1;
}

int migrate_command(program *p, bderr *err)
{
	source_spec from, to;
	memset(&from, 0, sizeof from);
	memset(&to, 0, sizeof to);
	engine_migrate_options mo;
	memset(&mo, 0, sizeof mo);
	repo *r = NULL;
	char *name = NULL;
	int rc = -1;
	if (resolve_source(p->cfg, cli_get(&p->args, "from"), &from, err) != 0 ||
	    resolve_source(p->cfg, cli_get(&p->args, "to"), &to, err) != 0)
		goto out;
	if (from.engine != to.engine) {
		bderr_usage(err, "cannot migrate a %s source into a %s target", from.engine->name,
			    to.engine->name);
		goto out;
	}
	if (from.engine->migrate_open == NULL) {
		bderr_usage(err, "migrate does not support %s sources yet", from.engine->name);
		goto out;
	}
	if (strcmp(from.url, to.url) == 0) {
		bderr_usage(err, "--from and --to name the same database: migrate copies into another one");
		goto out;
	}
	const char *via = cli_get(&p->args, "via-repo");
	int follow = cli_has(&p->args, "follow");
	if (!via && ((cli_has(&p->args, "name") && !follow) || cli_has(&p->args, "compress") ||
		     cli_has(&p->args, "encryption-key-file"))) {
		bderr_usage(err, "--name, --compress and --encryption-key-file go with --via-repo R");
		goto out;
	}
	/* checked before anything is created: the backup is written after the target is prepared */
	const char *compress = NULL; /* --compress, else the [repo:]'s compress =, for --via-repo */
	if (via && program_compress(p, via, &compress, NULL, err) != 0)
		goto out;
	if (target_options_read(p, &to, &mo.to, err) != 0)
		goto out;
	/*
	 * --follow replicates from the snapshot its copy was taken in: a killed
	 * run's database, complete but for the env file, has no snapshot left
	 * to follow from, so it is refused as any existing database.
	 */
	mo.to.provision_no_resume = follow;
	const char *chunk = cli_get(&p->args, "chunk-size");
	if (engine_parse_size(chunk ? chunk : MIGRATE_CHUNK_SIZE_DEFAULT, &mo.chunk_bytes) != 0) {
		bderr_usage(err, "option '--chunk-size': invalid size '%s' (e.g. 256MB, 1G)", chunk);
		goto out;
	}
	/* the source side is a dump: its engine says which dump options apply */
	engine_dump_options dopt;
	engine_dump_options_init(&dopt);
	const char *cf = cli_get(&p->args, "copy-format");
	if (cf && engine_dump_option_set(&dopt, "copy-format", cf, err) != 0) {
		bderr_prefix(err, "option '--copy-format'");
		goto out;
	}
	mo.copy_text = dopt.copy_text;
	if (engine_dump_options_check(from.engine, &dopt, err) != 0)
		goto out;
	mo.from_url = from.url;
	mo.from_password = from.password;
	if (via) {
		if (program_open_repo_arg(p, via, 1, 0, &r, err) != 0)
			goto out;
		name = xstrdup(cli_has(&p->args, "name") ? cli_get(&p->args, "name") : from.name);
		if (repo_name_check(name, err) != 0)
			goto out;
	}
	migrate_run m = { .e = from.engine, .started = time(NULL), .chunk_bytes = mo.chunk_bytes,
			  .copy_text = mo.copy_text };
	char *snapshot = NULL;
	if (migrate_follow_open(p, &from, &to, &mo, &m.follow, &snapshot, err) != 0)
		goto out;
	mo.snapshot = snapshot;
	if (program_progress(p, "migrate", &m.prog, err) != 0) {
		migrate_follow_free(m.follow);
		free(snapshot);
		goto out;
	}
	pthread_mutex_init(&m.lock, NULL);
	rc = migrate_run_all(&m, &mo, r, name, compress, err);
	int completed = rc > 0; /* the engine said so itself; no follow (provision_no_resume) */
	if (completed)
		rc = 0;
	pthread_mutex_destroy(&m.lock);
	progress_free(m.prog);
	if (rc == 0 && m.follow)
		rc = migrate_follow_start(m.follow, err);
	migrate_follow_free(m.follow); /* a follow that did not start is undone */
	free(snapshot);
	if (rc == 0 && !completed)
		log_info("migrate of '%s' complete in %lds: %zu copy units%s", from.name,
			 (long)(time(NULL) - m.started), m.n_units,
			 m.verified ? ", verified against the source's snapshot" : "");
out:
	target_options_clear(&mo.to);
	repo_free(r);
	free(name);
	source_spec_free(&from);
	source_spec_free(&to);
	return rc;
}

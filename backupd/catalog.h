/*
 * The fleet catalog: daemons that name the same `[global] catalog =`
 * PostgreSQL database share their jobs' state through it, so several hosts
 * can run one set of jobs, each firing exactly once.
 *
 * - A firing (job, fire time) is claimed by one INSERT ... ON CONFLICT DO
 *   NOTHING into a table with a unique key on (job, fire_time): whoever
 *   inserts the row runs it, everyone else sees the conflict.
 * - The claimant holds a lease (lease_until) that it renews with heartbeats;
 *   a run whose lease expired (its daemon died, or lost the catalog and
 *   cancelled it) is taken over by another daemon, which runs it again.
 *   After a restart of the catalog server every lease gets one full lease
 *   time again (pg_postmaster_start_time()), so an outage of the catalog
 *   itself never makes a living run look dead.
 * - The runs table is the fleet's run history (status, metrics).
 *
 * Every value goes to the server as a parameter; the schema name is a
 * constant.  The password comes from `catalog-password-file =` (0600) or
 * libpq's own passfile/PGPASSWORD, never from argv.
 */
#ifndef BACKUPD_CATALOG_H
#define BACKUPD_CATALOG_H

#include <stdint.h>
#include <time.h>

#include "backupd/run_history.h"
#include "common/config.h"
#include "common/program.h"

/* The schema version this backupd reads and writes. */
#define CATALOG_VERSION 1
/* Seconds a claim stays valid without a heartbeat (`catalog-lease =`). */
#define CATALOG_LEASE_DEFAULT 60

typedef struct catalog catalog;

/* This host's name (caller frees): the default daemon-id. */
char *catalog_host_name(void);

/* [global] catalog, or NULL when this daemon runs alone. */
const char *catalog_url(const config *cfg);

/*
 * Connects and checks the schema version: a catalog that is not initialised,
 * or of another version, is a usage error (exit 2) naming both versions.
 * daemon_id names this daemon in the rows it writes.
 */
/* lease (seconds) bounds how long a catalog that stops answering goes unnoticed. */
int catalog_open(const config *cfg, const char *daemon_id, long lease, catalog **out, bderr *err);
/*
 * The daemon's start time its heartbeats record (backupd.daemons.started);
 * catalog_open sets the time it connected.  A daemon gives its own boot time:
 * the bound run-missed uses, which a connect that took seconds (or a
 * reconnect after an outage) would otherwise move.
 */
void catalog_set_started(catalog *c, time_t started);
/*
 * `backupd check`'s item: connects as a daemon would and reads the schema
 * version; ok with "schema version N" in note, else an error saying the
 * catalog is unreachable, not initialised or of another version.
 */
int catalog_check(const config *cfg, long lease, char *note, size_t note_len, bderr *err);
void catalog_free(catalog *c);
/* 0 when the connection is gone (the server went away): reopen it. */
int catalog_alive(const catalog *c);

/* sha256 of the job's definition (its section, keys sorted), hex (caller frees). */
char *catalog_job_hash(const config *cfg, const char *job);

/*
 * Registers hash as the fleet's definition of job when the catalog has none
 * (force: replaces it, for `catalog init|upgrade`); *agrees = 1 when the
 * catalog's definition is hash.
 */
int catalog_job_check(catalog *c, const char *job, const char *hash, int force, int *agrees,
		      bderr *err);

typedef enum claim_result {
	CLAIM_OK,      /* ours: run it */
	CLAIM_TAKEN,   /* another daemon claimed it (or it ran already) */
	CLAIM_SKIPPED, /* the job's previous run is still going somewhere: recorded as skipped */
	CLAIM_WAIT     /* a fleet-wide limit is reached: try again later */
} claim_result;

typedef struct claim_request {
	const char *job;
	time_t fire;         /* the nominal fire time (the unique key with job) */
	const char *repo;    /* for max-parallel-per-repo (the job's repo key) */
	const char *source;  /* for max-parallel-per-source */
	long per_repo;       /* 0: no limit */
	long per_source;     /* 0: no limit */
	long lease;          /* seconds */
} claim_request;

int catalog_claim(catalog *c, const claim_request *q, int64_t *run_id, claim_result *res,
		  bderr *err);

/* Records (job, fire) as skipped for why, unless some daemon claimed it. */
int catalog_skip(catalog *c, const char *job, time_t fire, const char *why, bderr *err);

/* The run's (next) attempt starts now on this daemon. */
int catalog_run_started(catalog *c, int64_t run_id, long attempt, bderr *err);

/*
 * Heartbeat: renews the leases of the runs this daemon holds (held) and its
 * own row.  *owned (caller frees) lists those still ours: a run missing from
 * it was taken over by another daemon and must be cancelled here.
 */
int catalog_renew(catalog *c, const int64_t *held, size_t n_held, int64_t **owned,
		  size_t *n_owned, bderr *err);

/* Records the end of run_id; *mine = 0 when another daemon had taken it over. */
int catalog_run_finished(catalog *c, int64_t run_id, const run_record *r, int *mine, bderr *err);

/*
 * Takes over the oldest unfinished run of one of jobs whose lease has
 * expired; *found = 0 when there is none.
 */
int catalog_take_over(catalog *c, const char *const *jobs, size_t n_jobs, long lease,
		      int64_t *run_id, char **job, time_t *fire, int *found, bderr *err);

/* The latest fire time ever claimed for job; *found = 0 for a job never claimed. */
int catalog_last_fire(catalog *c, const char *job, time_t *fire, int *found, bderr *err);

/* The fleet's last successful run of each job (end time). */
typedef struct catalog_success {
	char *job;
	time_t finished;
} catalog_success;
int catalog_last_successes(catalog *c, catalog_success **out, size_t *n, bderr *err);
void catalog_successes_free(catalog_success *s, size_t n);

/* `backupd catalog init|upgrade`. */
int catalog_command(program *p, bderr *err);

/* `backupd status` when the config names a catalog: the fleet's view. */
int catalog_status(program *p, bderr *err);

#endif

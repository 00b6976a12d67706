/*
 * The daemon's observability endpoint (`[global] http-listen`): GET /metrics
 * in the Prometheus text format and GET /health for load balancers and
 * systemd watchdogs.
 *
 * libmicrohttpd answers from its own thread, so it never touches the
 * daemon's job table: the main loop builds a metrics_snapshot on every tick
 * and hands it over with metrics_server_publish(), which swaps it in under a
 * mutex.  Rendering and routing are pure functions of a snapshot, so they
 * are unit-tested without a socket.
 */
#ifndef BACKUPD_METRICS_HTTP_H
#define BACKUPD_METRICS_HTTP_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/error.h"
#include "common/mem.h"

/* /health fails when the main loop has not ticked for this long. */
#define METRICS_HEALTH_MAX_TICK_AGE 60

typedef struct metrics_job {
	char *name;
	int has_last;            /* a finished run is known (this daemon's or the history's) */
	int last_ok;
	time_t last_success;     /* end of the last successful run; 0: none known */
	long last_duration;      /* seconds */
	uint64_t last_bytes;
	uint64_t last_rows;
	uint64_t runs_total;     /* finished runs since the daemon started */
	uint64_t failures_total; /* of which failed */
	int running;
	time_t next;             /* next scheduled run; 0: not scheduled */
	time_t fleet_last_success; /* with a catalog: the fleet's last success; 0: none known */
	/* a running run's progress (gauges.h), when it reports one */
	int has_progress;
	uint64_t progress_bytes_done, progress_bytes_total; /* total 0: unknown */
	uint64_t progress_objects_done, progress_objects_total;
} metrics_job;

/* WAL archiving of one source, from what wal-push leaves in the state dir (gauges.h). */
typedef struct metrics_wal {
	char *source;
	time_t last_archived;    /* 0: none known */
	uint64_t failures_total; /* failed pushes recorded */
	uint64_t spool_segments; /* segments waiting to be archived at the last push */
} metrics_wal;

/* A repository's stored size, as the last job run writing to it measured. */
typedef struct metrics_repo {
	char *repo;
	uint64_t bytes;
} metrics_repo;

/*
 * A migration being followed (dbrestore migrate --follow), as `dbrestore
 * migrate status` (or cutover, abort) last observed it: the daemon does not
 * connect to the databases itself.
 */
typedef struct metrics_migration {
	char *name;
	char *phase;
	time_t observed;   /* when; 0: never */
	int64_t lag_bytes; /* -1 unknown */
	int64_t rows_applied; /* -1 unknown */
} metrics_migration;

typedef struct metrics_snapshot {
	time_t started;          /* daemon start */
	time_t tick;             /* last main loop iteration */
	int state_dir_writable;
	int stopping;            /* SIGTERM received: no longer scheduling */
	int fleet;               /* a catalog is configured */
	int catalog_ok;          /* ...and reachable: new runs may start */
	char catalog_error[BDERR_MSG_MAX]; /* why not, when it is not */
	metrics_job *jobs;
	size_t n_jobs;
	metrics_wal *wal;
	size_t n_wal;
	metrics_repo *repos;
	size_t n_repos;
	metrics_migration *migrations;
	size_t n_migrations;
} metrics_snapshot;

/* Frees what s holds and zeroes it. */
void metrics_snapshot_clear(metrics_snapshot *s);

/* Appends the Prometheus text exposition of s to out. */
void metrics_render(const metrics_snapshot *s, strbuf *out);

/* 1 when healthy; otherwise 0 and why says what is wrong. */
int metrics_health(const metrics_snapshot *s, time_t now, char *why, size_t len);

typedef struct metrics_response {
	int status;               /* 200, 404, 405, 503 */
	const char *content_type; /* static */
	char *body;               /* caller frees */
} metrics_response;

/* The whole HTTP API: what to answer to METHOD URL given s. */
void metrics_route(const metrics_snapshot *s, const char *method, const char *url, time_t now,
		   metrics_response *out);

/* "127.0.0.1:9187" or "[::1]:9187" -> socket address; usage error otherwise. */
int metrics_parse_listen(const char *spec, struct sockaddr_storage *addr, socklen_t *len,
			 bderr *err);

/*
 * 1 when spec listens beyond this host (0.0.0.0, ::, any address but
 * 127.0.0.0/8 and ::1), with the warning for the operator in buf; 0 for a
 * loopback (or unparsable) spec.
 */
int metrics_listen_warning(const char *spec, char *buf, size_t len);

typedef struct metrics_server metrics_server;

/*
 * Binds spec (already validated) and starts serving first, whose contents it
 * takes over (left zeroed, freed by the caller on failure too): a scrape that
 * comes at once must see the daemon as it is, never an empty snapshot (no
 * migrations, start time 0, /health failing on a state dir not yet checked).
 */
int metrics_server_new(const char *spec, metrics_snapshot *first, metrics_server **out,
		       bderr *err);
/* Takes over the contents of snap (left zeroed) as what is served from now on. */
void metrics_server_publish(metrics_server *srv, metrics_snapshot *snap);
/* Stops the server thread and frees everything; NULL is a no-op. */
void metrics_server_free(metrics_server *srv);

#endif

#include "backupd/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/lazylib.h"
#include "common/log.h"
#include "common/port.h"

/* A scraper or a probe, not a web site: a few connections are plenty. */
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_CONNECTION_TIMEOUT 10

void metrics_snapshot_clear(metrics_snapshot *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_jobs; i++)
		free(s->jobs[i].name);
	free(s->jobs);
	for (size_t i = 0; i < s->n_wal; i++)
		free(s->wal[i].source);
	free(s->wal);
	for (size_t i = 0; i < s->n_repos; i++)
		free(s->repos[i].repo);
	free(s->repos);
	for (size_t i = 0; i < s->n_migrations; i++) {
		free(s->migrations[i].name);
		free(s->migrations[i].phase);
	}
	free(s->migrations);
	memset(s, 0, sizeof *s);
}

/* ---- rendering ---------------------------------------------------------- */

/* Label values escape backslash, double quote and newline (exposition format). */
static void append_label(strbuf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			strbuf_appends(out, "\\\\");
		else if (*v == '"')
			strbuf_appends(out, "\\\"");
		else if (*v == '\n')
			strbuf_appends(out, "\\n");
		else
			strbuf_append(out, v, 1);
	}
}

static void family(strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum job_field {
	F_LAST_SUCCESS,
	F_LAST_OK,
	F_LAST_DURATION,
	F_LAST_BYTES,
	F_LAST_ROWS,
	F_RUNS,
	F_FAILURES,
	F_RUNNING,
	F_NEXT,
	F_FLEET_LAST_SUCCESS,
	F_PROGRESS_BYTES_DONE,
	F_PROGRESS_BYTES_TOTAL,
	F_PROGRESS_OBJECTS_DONE,
	F_PROGRESS_OBJECTS_TOTAL
} job_field;

typedef struct job_series {
	const char *name;
	const char *type;
	const char *help;
	job_field field;
	int needs_last; /* only for jobs with a known last run */
} job_series;

static const job_series job_series_table[] = {
	{ "backupd_job_last_success_time_seconds", "gauge",
	  "End of the job's last successful run (unix time; 0: none known).", F_LAST_SUCCESS, 0 },
	{ "backupd_job_last_run_success", "gauge", "1 if the job's last run succeeded, else 0.",
	  F_LAST_OK, 1 },
	{ "backupd_job_last_run_duration_seconds", "gauge", "Duration of the job's last run.",
	  F_LAST_DURATION, 1 },
	{ "backupd_job_last_run_bytes", "gauge", "Stored bytes of the job's last run's backup.",
	  F_LAST_BYTES, 1 },
	{ "backupd_job_last_run_rows", "gauge", "Table rows in the job's last run's backup.",
	  F_LAST_ROWS, 1 },
	{ "backupd_job_runs_total", "counter", "Runs finished since the daemon started.", F_RUNS,
	  0 },
	{ "backupd_job_failures_total", "counter", "Failed runs since the daemon started.",
	  F_FAILURES, 0 },
	{ "backupd_job_running", "gauge", "1 while a run of the job is in progress.", F_RUNNING, 0 },
	{ "backupd_job_next_run_time_seconds", "gauge",
	  "Next scheduled run of the job (unix time); absent for unscheduled jobs.", F_NEXT, 0 },
	{ "backupd_fleet_job_last_success_time_seconds", "gauge",
	  "End of the job's last successful run on any daemon of the fleet (unix time; with a catalog).",
	  F_FLEET_LAST_SUCCESS, 0 },
	{ "backupd_job_progress_bytes", "gauge",
	  "Bytes the running run has done (data read or written); only while it runs.",
	  F_PROGRESS_BYTES_DONE, 0 },
	{ "backupd_job_progress_bytes_total", "gauge",
	  "Bytes the running run expects in all (may be an estimate); absent when unknown.",
	  F_PROGRESS_BYTES_TOTAL, 0 },
	{ "backupd_job_progress_objects", "gauge",
	  "Objects (table chunks, archives) the running run has finished; only while it runs.",
	  F_PROGRESS_OBJECTS_DONE, 0 },
	{ "backupd_job_progress_objects_total", "gauge",
	  "Objects the running run has in all; absent when unknown.", F_PROGRESS_OBJECTS_TOTAL, 0 },
};

static int job_value(const metrics_job *j, job_field f, uint64_t *v)
{
	switch (f) {
	case F_LAST_SUCCESS: *v = (uint64_t)(j->last_success > 0 ? j->last_success : 0); return 1;
	case F_LAST_OK: *v = (uint64_t)(j->last_ok != 0); return j->has_last;
	case F_LAST_DURATION: *v = (uint64_t)(j->last_duration > 0 ? j->last_duration : 0); return j->has_last;
	case F_LAST_BYTES: *v = j->last_bytes; return j->has_last;
	case F_LAST_ROWS: *v = j->last_rows; return j->has_last;
	case F_RUNS: *v = j->runs_total; return 1;
	case F_FAILURES: *v = j->failures_total; return 1;
	case F_RUNNING: *v = (uint64_t)(j->running != 0); return 1;
	case F_NEXT: *v = (uint64_t)(j->next > 0 ? j->next : 0); return j->next > 0;
	case F_FLEET_LAST_SUCCESS: *v = (uint64_t)j->fleet_last_success; return j->fleet_last_success > 0;
	case F_PROGRESS_BYTES_DONE: *v = j->progress_bytes_done; return j->has_progress;
	case F_PROGRESS_BYTES_TOTAL: *v = j->progress_bytes_total; return j->has_progress && *v > 0;
	case F_PROGRESS_OBJECTS_DONE: *v = j->progress_objects_done; return j->has_progress;
	case F_PROGRESS_OBJECTS_TOTAL: *v = j->progress_objects_total; return j->has_progress && *v > 0;
	}
	return 0;
}

static void wal_line(strbuf *out, const char *name, const metrics_wal *w, long long v)
{
	strbuf_appendf(out, "%s{source=\"", name);
	append_label(out, w->source);
	strbuf_appendf(out, "\"} %lld\n", v);
}

/* The age is measured at the snapshot's tick: at most one loop period stale. */
static void render_wal(const metrics_snapshot *s, strbuf *out)
{
	family(out, "backupd_wal_last_archived_time_seconds", "gauge",
	       "When wal-push last archived a segment of the source (unix time).");
	for (size_t i = 0; i < s->n_wal; i++)
		if (s->wal[i].last_archived > 0)
			wal_line(out, "backupd_wal_last_archived_time_seconds", &s->wal[i],
				 (long long)s->wal[i].last_archived);
	family(out, "backupd_wal_last_archived_age_seconds", "gauge",
	       "Seconds since wal-push last archived a segment of the source.");
	for (size_t i = 0; i < s->n_wal; i++)
		if (s->wal[i].last_archived > 0) {
			long long age = (long long)(s->tick - s->wal[i].last_archived);
			wal_line(out, "backupd_wal_last_archived_age_seconds", &s->wal[i], age > 0 ? age : 0);
		}
	family(out, "backupd_wal_archive_failures_total", "counter",
	       "Failed wal-push attempts of the source.");
	for (size_t i = 0; i < s->n_wal; i++)
		wal_line(out, "backupd_wal_archive_failures_total", &s->wal[i],
			 (long long)s->wal[i].failures_total);
	family(out, "backupd_wal_spool_segments", "gauge",
	       "WAL segments of the source waiting to be archived (at the last wal-push).");
	for (size_t i = 0; i < s->n_wal; i++)
		wal_line(out, "backupd_wal_spool_segments", &s->wal[i],
			 (long long)s->wal[i].spool_segments);
}

static void migration_line(strbuf *out, const char *name, const metrics_migration *m, long long v)
{
	strbuf_appendf(out, "%s{migration=\"", name);
	append_label(out, m->name);
	strbuf_appendf(out, "\"} %lld\n", v);
}

/* Follows, as `dbrestore migrate status` last saw them (metrics_migration). */
static void render_migrations(const metrics_snapshot *s, strbuf *out)
{
	if (s->n_migrations == 0)
		return;
	family(out, "backupd_migration_phase", "gauge",
	       "1 for the phase a followed migration was last seen in (copying, following, stopped, cutover, done, aborted).");
	for (size_t i = 0; i < s->n_migrations; i++) {
		strbuf_appends(out, "backupd_migration_phase{migration=\"");
		append_label(out, s->migrations[i].name);
		strbuf_appends(out, "\",phase=\"");
		append_label(out, s->migrations[i].phase);
		strbuf_appends(out, "\"} 1\n");
	}
	family(out, "backupd_migration_lag_bytes", "gauge",
	       "How far the target was behind the source, as dbrestore migrate status last measured.");
	for (size_t i = 0; i < s->n_migrations; i++)
		if (s->migrations[i].lag_bytes >= 0)
			migration_line(out, "backupd_migration_lag_bytes", &s->migrations[i],
				       (long long)s->migrations[i].lag_bytes);
	family(out, "backupd_migration_rows_applied", "gauge",
	       "Rows the target applied since the copy (PostgreSQL), as last measured.");
	for (size_t i = 0; i < s->n_migrations; i++)
		if (s->migrations[i].rows_applied >= 0)
			migration_line(out, "backupd_migration_rows_applied", &s->migrations[i],
				       (long long)s->migrations[i].rows_applied);
	family(out, "backupd_migration_observed_time_seconds", "gauge",
	       "When the migration's figures were last measured (unix time).");
	for (size_t i = 0; i < s->n_migrations; i++)
		if (s->migrations[i].observed > 0)
			migration_line(out, "backupd_migration_observed_time_seconds", &s->migrations[i],
				       (long long)s->migrations[i].observed);
}

void metrics_render(const metrics_snapshot *s, strbuf *out)
{
	family(out, "backupd_up", "gauge", "1 while the backupd daemon is running.");
	strbuf_appends(out, "backupd_up 1\n");
	family(out, "backupd_start_time_seconds", "gauge", "Start of the daemon (unix time).");
	strbuf_appendf(out, "backupd_start_time_seconds %lld\n", (long long)s->started);
	family(out, "backupd_last_tick_time_seconds", "gauge",
	       "Last iteration of the daemon's scheduling loop (unix time).");
	strbuf_appendf(out, "backupd_last_tick_time_seconds %lld\n", (long long)s->tick);
	if (s->fleet) {
		family(out, "backupd_catalog_up", "gauge",
		       "1 while the fleet catalog is reachable (new runs start only then).");
		strbuf_appendf(out, "backupd_catalog_up %d\n", s->catalog_ok != 0);
	}
	for (size_t k = 0; k < sizeof job_series_table / sizeof *job_series_table; k++) {
		const job_series *js = &job_series_table[k];
		if (js->field == F_FLEET_LAST_SUCCESS && !s->fleet)
			continue;
		family(out, js->name, js->type, js->help);
		for (size_t i = 0; i < s->n_jobs; i++) {
			uint64_t v;
			if (!job_value(&s->jobs[i], js->field, &v))
				continue;
			strbuf_appendf(out, "%s{backupd_job=\"", js->name);
			append_label(out, s->jobs[i].name);
			strbuf_appendf(out, "\"} %" PRIu64 "\n", v);
		}
	}
	render_wal(s, out);
	family(out, "backupd_repo_size_bytes", "gauge",
	       "Stored bytes of all backups in the repository, as its last job run measured.");
	for (size_t i = 0; i < s->n_repos; i++) {
		strbuf_appends(out, "backupd_repo_size_bytes{repo=\"");
		append_label(out, s->repos[i].repo);
		strbuf_appendf(out, "\"} %" PRIu64 "\n", s->repos[i].bytes);
	}
	render_migrations(s, out);
}

int metrics_health(const metrics_snapshot *s, time_t now, char *why, size_t len)
{
	if (s->stopping)
		snprintf(why, len, "daemon is stopping");
	else if (s->tick == 0)
		snprintf(why, len, "daemon loop has not started");
	else if (now - s->tick > METRICS_HEALTH_MAX_TICK_AGE)
		snprintf(why, len, "daemon loop last ran %llds ago", (long long)(now - s->tick));
	else if (!s->state_dir_writable)
		snprintf(why, len, "state directory is not writable");
	else if (s->fleet && !s->catalog_ok)
		snprintf(why, len, "catalog unreachable, starting no new run: %s", s->catalog_error);
	else
		return 1;
	return 0;
}

void metrics_route(const metrics_snapshot *s, const char *method, const char *url, time_t now,
		   metrics_response *out)
{
	out->content_type = "text/plain; charset=utf-8";
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	/* a query string does not change what is asked for */
	size_t path_len = strcspn(url, "?");
	if (path_len == 8 && strncmp(url, "/metrics", 8) == 0) {
		if (!get)
			goto not_allowed;
		strbuf b;
		strbuf_init(&b);
		metrics_render(s, &b);
		out->status = 200;
		out->content_type = "text/plain; version=0.0.4; charset=utf-8";
		out->body = strbuf_detach(&b);
		return;
	}
	if (path_len == 7 && strncmp(url, "/health", 7) == 0) {
		if (!get)
			goto not_allowed;
		char why[128];
		if (metrics_health(s, now, why, sizeof why)) {
			out->status = 200;
			out->body = xstrdup("ok\n");
		} else {
			out->status = 503;
			out->body = xasprintf("unhealthy: %s\n", why);
		}
		return;
	}
	out->status = 404;
	out->body = xstrdup("not found: try /metrics or /health\n");
	return;
not_allowed:
	out->status = 405;
	out->body = xstrdup("method not allowed\n");
}

/* ---- listen address ----------------------------------------------------- */

int metrics_parse_listen(const char *spec, struct sockaddr_storage *addr, socklen_t *len,
			 bderr *err)
{
	memset(addr, 0, sizeof *addr);
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	if (colon == NULL || colon == spec)
		goto bad;
	char host[64];
	size_t hl = (size_t)(colon - spec);
	int v6 = spec[0] == '[';
	if (v6) {
		if (hl < 3 || spec[hl - 1] != ']')
			goto bad;
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		goto bad;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	unsigned port;
	if (port_parse(colon + 1, strlen(colon + 1), &port) < 0)
		goto bad;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)addr;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
		*len = sizeof *a;
	}
	return 0;
bad:
	return bderr_usage(err,
			   "must be IPV4:PORT or [IPV6]:PORT with a numeric address and a port "
			   "1-65535 (like 127.0.0.1:9187), got '%s'",
			   spec ? spec : "");
}

static int is_loopback(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
	if (IN6_IS_ADDR_LOOPBACK(a6))
		return 1;
	/* ::ffff:127.x.y.z */
	return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}

int metrics_listen_warning(const char *spec, char *buf, size_t len)
{
	struct sockaddr_storage addr;
	socklen_t alen;
	bderr ignored;
	bderr_init(&ignored);
	if (metrics_parse_listen(spec, &addr, &alen, &ignored) < 0 || is_loopback(&addr))
		return 0;
	snprintf(buf, len,
		 "http-listen %s is not a loopback address: /metrics and /health answer anyone "
		 "who can reach it, without authentication (job names, schedules, failures); "
		 "listen on 127.0.0.1 or [::1] behind a proxy, or firewall the port",
		 spec);
	return 1;
}

/* ---- server ------------------------------------------------------------- */

struct metrics_server {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	metrics_snapshot snap; /* under lock */
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	(void)version;
	(void)upload_data;
	metrics_server *srv = cls;
	/* the first call only announces the request: answer once headers and body are in */
	if (*req_cls == NULL) {
		*req_cls = srv;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* a body is never wanted: drop it */
		return MHD_YES;
	}
	metrics_response r;
	memset(&r, 0, sizeof r);
	pthread_mutex_lock(&srv->lock);
	metrics_route(&srv->snap, method, url, time(NULL), &r);
	pthread_mutex_unlock(&srv->lock);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
	if (r.status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int metrics_server_new(const char *spec, metrics_snapshot *first, metrics_server **out,
		       bderr *err)
{
	*out = NULL;
	struct sockaddr_storage addr;
	socklen_t alen;
	if (metrics_parse_listen(spec, &addr, &alen, err) < 0)
		return -1;
	if (lazy_mhd_load(err) < 0)
		return bderr_prefix(err, "http-listen %s", spec);
	/*
	 * Our own socket, so that a busy port is reported with its errno, and
	 * close-on-exec, so that job children do not hold the port.
	 */
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bderr_sys(err, errno, "http-listen %s: cannot create socket", spec);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&addr, alen) < 0 || listen(fd, 32) < 0) {
		int e = errno;
		close(fd);
		return bderr_sys(err, e, "http-listen: cannot listen on %s", spec);
	}
	metrics_server *srv = xcalloc(1, sizeof *srv);
	pthread_mutex_init(&srv->lock, NULL);
	/* in place before the thread exists: its first answer is already the daemon's */
	srv->snap = *first;
	memset(first, 0, sizeof *first);
	srv->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, srv,
				    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				    (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
				    (unsigned)METRICS_CONNECTION_TIMEOUT, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		close(fd);
		metrics_snapshot_clear(&srv->snap);
		pthread_mutex_destroy(&srv->lock);
		free(srv);
		return bderr_set(err, "http-listen: cannot start the HTTP server on %s", spec);
	}
	log_info("serving /metrics and /health on http://%s", spec);
	char warning[512];
	if (metrics_listen_warning(spec, warning, sizeof warning))
		log_warn("%s", warning);
	*out = srv;
	return 0;
}

void metrics_server_publish(metrics_server *srv, metrics_snapshot *snap)
{
	metrics_snapshot old;
	pthread_mutex_lock(&srv->lock);
	old = srv->snap;
	srv->snap = *snap;
	pthread_mutex_unlock(&srv->lock);
	memset(snap, 0, sizeof *snap);
	/* freed outside the lock: a scrape never waits for free() */
	metrics_snapshot_clear(&old);
}

void metrics_server_free(metrics_server *srv)
{
	if (srv == NULL)
		return;
	/* stops the thread and closes the listening socket */
	MHD_stop_daemon(srv->mhd);
	metrics_snapshot_clear(&srv->snap);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

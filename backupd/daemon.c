#include "backupd/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive/filter.h"
#include "archive/manifest.h"
#include "backupd/catalog.h"
#include "backupd/job.h"
#include "backupd/metrics_http.h"
#include "backupd/notify.h"
#include "backupd/run_history.h"
#include "backupd/webhook.h"
#include "backupd/gauges.h"
#include "common/fsutil.h"
#include "common/lockfile.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/mem.h"
#include "policies/cron.h"
#include "policies/retention.h"

/*
 * Signals are taken synchronously with sigtimedwait() on a blocked set, so
 * the daemon needs no signal handler and no volatile flag at all: SIGHUP,
 * SIGTERM and SIGCHLD simply end the sleep and are handled in the loop.
 */

/* Once cancelled, children get this long to die before SIGKILL. */
#define DAEMON_KILL_GRACE 10
/* With nothing scheduled, wake up now and then anyway (cheap, and robust). */
#define DAEMON_IDLE_SLEEP 3600
/* With http-listen, the loop ticks this often so /health can tell it is alive. */
#define DAEMON_HEALTH_TICK 5
/* A due job whose lock another process holds is looked at again this often. */
#define DAEMON_LOCK_POLL 2
/* At shutdown, webhooks still being delivered get this long to finish. */
#define DAEMON_WEBHOOK_GRACE 30

/* What /metrics reports about a job; survives reloads. */
typedef struct djob_stats {
	int has_last;
	int last_ok;
	time_t last_success;
	long last_duration;
	uint64_t last_bytes;
	uint64_t last_rows;
	uint64_t runs;
	uint64_t failures;
} djob_stats;

typedef struct djob {
	char *name;
	char *expr;             /* schedule as written; NULL: manual job, never fired */
	cron_schedule *sched;
	long retries;
	long retry_delay;       /* seconds */
	int run_missed;
	time_t next;            /* next cron fire time */
	pid_t pid;              /* running child, 0 when none */
	time_t started;
	long attempt;           /* retries used in the current cycle */
	time_t retry_at;        /* 0: no retry pending */
	int pending;            /* due, waiting for a free slot */
	time_t due_at;          /* when it became pending: the oldest goes first */
	int merged;             /* fire times merged into the pending run */
	int blocked;            /* its lock is held by a run this daemon did not start */
	int removed;            /* gone from the config; kept until its child ends */
	long timeout;           /* seconds a run may take; 0: no limit */
	int timed_out;          /* the running child was cancelled for its timeout */
	time_t kill_at;         /* SIGKILL the timed-out child then; 0: not pending */
	char *kind, *source, *repo; /* for webhooks (names, or URIs with passwords masked) */
	char *webhook_url;      /* secret-ish: never logged whole; NULL: none */
	webhook_on webhook_on;
	notify_set notify;      /* [notify:] targets, the legacy webhook-url among them */
	djob_stats stats;
	/* with a catalog */
	char *run_on;           /* tags a daemon needs to run it; NULL: any */
	int eligible;           /* this daemon may run it (run-on, same definition as the fleet) */
	int refused;            /* its definition differs from the fleet's */
	time_t fire;            /* the pending firing's nominal time (the claim's key) */
	int fire_offline;       /* ...which came due while the catalog was unreachable */
	int64_t run_id;         /* the claimed run (kept across retries); 0: none */
	int lost;               /* its claim was lost: cancelled, neither retried nor recorded */
	int unrecorded;         /* its end could not be written to the catalog yet */
	run_record end;         /* ...that end */
} djob;

/* What the command line sets over the file, every daemon its own. */
typedef struct daemon_overrides {
	const char *id, *state_dir, *http_listen, *tags;
} daemon_overrides;

typedef struct dtable {
	config *cfg;            /* owned */
	djob *jobs;
	size_t n;
	long max_parallel;
	long grace;
	char *tz;               /* NULL: local time */
	char *http_listen;      /* NULL: no HTTP endpoint */
	char *hostname;         /* for webhooks */
	pid_t *notifiers;       /* webhook deliveries in progress */
	size_t n_notifiers;
	/* the fleet (NULL catalog URL: this daemon runs alone) */
	const char *catalog_url; /* points into cfg */
	catalog *cat;           /* NULL while unreachable */
	char *daemon_id;
	char *tags;             /* this daemon's, comma or space separated */
	long lease;
	long per_repo, per_source;
	time_t next_beat;       /* next heartbeat (and reconnect attempt) */
	time_t last_beat_ok;    /* last successful heartbeat */
	char cat_error[BDERR_MSG_MAX]; /* why the catalog is unreachable */
	int missed_done;        /* run-missed was looked at in the catalog */
	time_t boot;            /* daemon start: run-missed looks at firings before it */
	catalog_success *fleet_ok;
	size_t n_fleet_ok;
	const daemon_overrides *ov;
} dtable;

long daemon_parse_duration(const char *s)
{
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || v < 0)
		return -1;
	long mult = 1;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60, end++;
	else if (*end == 'h')
		mult = 3600, end++;
	else if (*end == 'd')
		mult = 86400, end++;
	if (*end != '\0' || v > 100L * 86400 / mult)
		return -1;
	return v * mult;
}

static void djob_free(djob *j)
{
	free(j->name);
	free(j->expr);
	cron_free(j->sched);
	free(j->kind);
	free(j->source);
	free(j->repo);
	free(j->webhook_url);
	free(j->run_on);
	run_record_free(&j->end);
	notify_set_free(&j->notify);
}

static void dtable_free(dtable *t)
{
	for (size_t i = 0; i < t->n; i++)
		djob_free(&t->jobs[i]);
	free(t->jobs);
	free(t->tz);
	free(t->http_listen);
	free(t->hostname);
	free(t->notifiers);
	catalog_free(t->cat);
	free(t->daemon_id);
	free(t->tags);
	catalog_successes_free(t->fleet_ok, t->n_fleet_ok);
	config_free(t->cfg);
	memset(t, 0, sizeof *t);
}

/* Re-labels err as "FILE:LINE: key 'KEY': <err>". */
/* A duration key of s; def when absent. */
static int duration_key(const config *cfg, const config_section *s, const char *key, long def,
			long *out, bderr *err)
{
	const char *v = config_get(s, key);
	*out = v ? daemon_parse_duration(v) : def;
	if (*out < 0)
		return config_error(cfg, s, key, err, "must be a duration like 30s or 5m, got '%s'", v);
	return 0;
}

/* webhook-url and webhook-on of s, falling back to the [global] ones. */
static int webhook_keys(const config *cfg, const config_section *s, const config_section *g,
			char **url, webhook_on *on, bderr *err)
{
	const config_section *us = config_get(s, "webhook-url") ? s : g;
	const char *u = config_get(us, "webhook-url");
	if (u && webhook_url_check(u, err) < 0)
		return config_key_error(cfg, us, "webhook-url", err);
	const config_section *os = config_get(s, "webhook-on") ? s : g;
	const char *o = config_get(os, "webhook-on");
	*on = WEBHOOK_ON_ALWAYS;
	if (o && webhook_on_parse(o, on) < 0)
		return config_error(cfg, os, "webhook-on", err,
				    "must be failure, success or always, got '%s'", o);
	*url = u && *u ? xstrdup(u) : NULL;
	return 0;
}

/* What the history knows, so /metrics has a last success after a restart. */
static void stats_from_history(const config *cfg, djob *j)
{
	bderr err;
	bderr_init(&err);
	run_record r;
	int found;
	if (run_history_last(cfg, j->name, &r, &found, &err) == 0 && found) {
		j->stats.has_last = 1;
		j->stats.last_ok = r.ok;
		j->stats.last_duration = (long)(r.end - r.start);
		j->stats.last_bytes = r.bytes;
		j->stats.last_rows = r.rows;
		if (r.ok)
			j->stats.last_success = r.end;
	}
	run_record_free(&r);
	if (j->stats.has_last && !j->stats.last_ok &&
	    run_history_last_ok(cfg, j->name, &r, &found, &err) == 0 && found)
		j->stats.last_success = r.end;
	run_record_free(&r);
}

/* Every tag of want (comma or space separated) is among have's; NULL want: yes. */
static int tags_cover(const char *have, const char *want)
{
	if (want == NULL)
		return 1;
	const char *sep = ", \t";
	for (const char *w = want + strspn(want, sep); *w; w += strspn(w, sep)) {
		size_t wn = strcspn(w, sep);
		int found = 0;
		for (const char *h = have + strspn(have, sep); *h && !found; h += strspn(h, sep)) {
			size_t hn = strcspn(h, sep);
			found = hn == wn && strncmp(h, w, wn) == 0;
			h += hn;
		}
		if (!found)
			return 0;
		w += wn;
	}
	return 1;
}

/*
 * A tag list (--tags, [global] tags, run-on): tags separated by commas or
 * blanks, none empty.  "eu,,fast" or ",," is a typo (a tag left out), not a
 * list: read as one, ",," would mean no tags at all, and a job's run-on would
 * then run anywhere.
 */
static int tags_check(const char *list, bderr *err)
{
	const char *blank = " \t";
	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");
		if (strspn(p, blank) >= n)
			return bderr_usage(err, "an empty tag in the list: separate tags with one comma or with blanks (eu,fast)");
		p += n;
		if (*p == '\0')
			return 0;
	}
}

/*
 * After an error: with a list (check), keep it and go on validating; without
 * (daemon start, reload), stop at the first.  True when the caller must stop.
 */
static int must_stop(bderr_list *all, bderr *err)
{
	if (all == NULL)
		return 1;
	bderr_list_add(all, err);
	return 0;
}

/*
 * Everything the daemon will need from the config is checked here, at start
 * and on reload, so a typo is reported at once and not at 03:00.  `check`
 * runs the same code with a list, to report every error in one go.
 */
static int dtable_build(config *cfg, time_t now, dtable *t, bderr_list *all, bderr *err)
{
	memset(t, 0, sizeof *t);
	t->cfg = cfg;
	const config_section *g = config_find(cfg, "global", NULL);
	int global_missed = 0;
	if (config_get_long(cfg, g, "max-parallel-jobs", 2, 1, 1024, &t->max_parallel, err) < 0 &&
	    must_stop(all, err))
		goto fail;
	if (config_get_bool(cfg, g, "run-missed", 0, &global_missed, err) < 0 && must_stop(all, err))
		goto fail;
	const char *grace = config_get(g, "shutdown-grace");
	t->grace = grace ? daemon_parse_duration(grace) : DAEMON_SHUTDOWN_GRACE_DEFAULT;
	if (t->grace < 0) {
		config_error(cfg, g, "shutdown-grace", err, "must be a duration like 30s or 5m, got '%s'",
			     grace);
		if (must_stop(all, err))
			goto fail;
	}
	const char *tz = config_get(g, "time-zone");
	t->tz = tz ? xstrdup(tz) : NULL;
	if (tz) {
		/* checked here, named as itself: not as each job's schedule, nor not at all without one */
		cron_schedule *daily = NULL;
		time_t ignored;
		int bad = cron_parse("@daily", &daily, err) < 0 || cron_next(daily, now, tz, &ignored, err) < 0;
		cron_free(daily);
		if (bad) {
			config_key_error(cfg, g, "time-zone", err);
			free(t->tz);
			t->tz = NULL; /* while collecting: the schedules are still checked, once */
			if (must_stop(all, err))
				goto fail;
		}
	}
	const char *listen = config_get(g, "http-listen");
	if (listen) {
		struct sockaddr_storage addr;
		socklen_t alen;
		if (metrics_parse_listen(listen, &addr, &alen, err) < 0) {
			config_key_error(cfg, g, "http-listen", err);
			if (must_stop(all, err))
				goto fail;
		}
		t->http_listen = xstrdup(listen);
	}
	/*
	 * A [repo:]'s compress = is the default of every command writing there
	 * (dump, basebackup, wal-push): checked even when no job reads it.  A
	 * job's dump options report it for the repositories jobs use.
	 */
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const config_section *rs = &cfg->sections[i];
		const char *spec = strcmp(rs->type, "repo") == 0 ? config_get(rs, "compress") : NULL;
		int level, used = 0;
		for (size_t k = 0; spec && k < cfg->n_sections && !used; k++) {
			const config_section *js = &cfg->sections[k];
			const char *jr = strcmp(js->type, "job") == 0 ? config_get(js, "repo") : NULL;
			used = jr && strcmp(jr, rs->name) == 0 && config_get(js, "compress") == NULL;
		}
		if (spec && !used && compress_spec_parse(spec, &level, err) < 0) {
			config_key_error(cfg, rs, "compress", err);
			if (must_stop(all, err))
				goto fail;
		}
	}
	t->catalog_url = catalog_url(cfg);
	if (duration_key(cfg, g, "catalog-lease", CATALOG_LEASE_DEFAULT, &t->lease, err) < 0 &&
	    must_stop(all, err))
		goto fail;
	if (t->lease < 4) {
		config_error(cfg, g, "catalog-lease", err, "must be at least 4s");
		if (must_stop(all, err))
			goto fail;
	}
	if (config_get_long(cfg, g, "max-parallel-per-repo", 0, 0, 100000, &t->per_repo, err) < 0 &&
	    must_stop(all, err))
		goto fail;
	if (config_get_long(cfg, g, "max-parallel-per-source", 0, 0, 100000, &t->per_source, err) < 0 &&
	    must_stop(all, err))
		goto fail;
	{
		static const char *const fleet_keys[] = { "catalog-password-file", "catalog-lease",
							  "max-parallel-per-repo",
							  "max-parallel-per-source", "daemon-id", "tags",
							  NULL };
		for (const char *const *k = fleet_keys; *k && !t->catalog_url; k++)
			if (config_get(g, *k)) {
				config_error(cfg, g, *k, err, "needs [global] catalog =");
				if (must_stop(all, err))
					goto fail;
			}
	}
	const char *dtags = config_get(g, "tags");
	t->tags = xstrdup(dtags ? dtags : "");
	if (dtags && tags_check(dtags, err) < 0) {
		config_key_error(cfg, g, "tags", err);
		if (must_stop(all, err))
			goto fail;
	}
	const char *did = config_get(g, "daemon-id");
	if (did && (*did == '\0' || strlen(did) > 128)) {
		config_error(cfg, g, "daemon-id", err, "must be 1 to 128 characters");
		if (must_stop(all, err))
			goto fail;
	}
	{
		/* the [global] webhook keys are checked even when no job uses them */
		char *url = NULL;
		webhook_on on;
		if (webhook_keys(cfg, g, g, &url, &on, err) < 0 && must_stop(all, err))
			goto fail;
		free(url);
		if (notify_check_config(cfg, err) < 0 && must_stop(all, err))
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const config_section *s = &cfg->sections[i];
		if (strcmp(s->type, "job") != 0)
			continue;
		int enabled = 1;
		if (config_get_bool(cfg, s, "enabled", 1, &enabled, err) < 0 && must_stop(all, err))
			goto fail;
		t->jobs = xrealloc(t->jobs, (t->n + 1) * sizeof *t->jobs);
		djob *j = &t->jobs[t->n++];
		memset(j, 0, sizeof *j);
		j->name = xstrdup(s->name);
		const char *expr = config_get(s, "schedule");
		/*
		 * A disabled job's schedule is checked too (as all its other
		 * keys are): it is config the operator enables later, and a typo
		 * found then would be found at the worst moment.  It is not kept:
		 * the job is never fired.
		 */
		if (expr) {
			cron_schedule *sched = NULL;
			time_t next = 0;
			if (cron_parse(expr, &sched, err) < 0 ||
			    cron_next(sched, now, t->tz, &next, err) < 0) {
				cron_free(sched);
				sched = NULL;
				config_key_error(cfg, s, "schedule", err);
				if (must_stop(all, err))
					goto fail;
			}
			if (enabled) {
				j->expr = xstrdup(expr);
				j->sched = sched;
				j->next = next;
			} else {
				cron_free(sched);
			}
		}
		if (duration_key(cfg, s, "retry-delay", 60, &j->retry_delay, err) < 0 &&
		    must_stop(all, err))
			goto fail;
		if (duration_key(cfg, s, "timeout", 0, &j->timeout, err) < 0 && must_stop(all, err))
			goto fail;
		if (webhook_keys(cfg, s, g, &j->webhook_url, &j->webhook_on, err) < 0 &&
		    must_stop(all, err))
			goto fail;
		const char *run_on = config_get(s, "run-on");
		if (run_on && !t->catalog_url) {
			config_error(cfg, s, "run-on", err, "needs [global] catalog =");
			if (must_stop(all, err))
				goto fail;
		}
		if (run_on && tags_check(run_on, err) < 0) {
			config_key_error(cfg, s, "run-on", err);
			if (must_stop(all, err))
				goto fail;
		}
		j->run_on = run_on && *run_on ? xstrdup(run_on) : NULL;
		j->eligible = tags_cover(t->tags, j->run_on);
		if (notify_set_for_job(cfg, s, j->webhook_url, j->webhook_on, &j->notify, err) < 0 &&
		    must_stop(all, err))
			goto fail;
		const char *kind = config_get(s, "kind");
		j->kind = xstrdup(kind ? kind : "dump");
		j->source = config_get(s, "source") ? xstrdup(config_get(s, "source")) : NULL;
		j->repo = config_get(s, "repo") ? xstrdup(config_get(s, "repo")) : NULL;
		/* a source or repo may be given as a URI: a password in it must not leave */
		if (j->source)
			log_redact(j->source);
		if (j->repo)
			log_redact(j->repo);
		if (all == NULL) /* validating only: no history needed */
			stats_from_history(cfg, j);
		if (config_get_long(cfg, s, "retries", 0, 0, 1000, &j->retries, err) < 0 &&
		    must_stop(all, err))
			goto fail;
		if (config_get_bool(cfg, s, "run-missed", global_missed, &j->run_missed, err) < 0 &&
		    must_stop(all, err))
			goto fail;
		retention_policy rp;
		const char *ret = config_get(s, "retention");
		if (ret && retention_parse(ret, &rp, err) < 0) {
			config_key_error(cfg, s, "retention", err);
			if (must_stop(all, err))
				goto fail;
		}
		/* the options a run would build, checked now: a bad one is a config error */
		engine_dump_options dopts;
		int drc = job_dump_options(cfg, s, &dopts, all, err);
		engine_dump_options_clear(&dopts);
		if (drc < 0 && all == NULL)
			goto fail;
	}
	return 0;
fail:
	t->cfg = NULL; /* the caller still owns it on failure */
	dtable_free(t);
	return -1;
}

void daemon_config_check(config *cfg, bderr_list *errors)
{
	dtable t;
	bderr err;
	bderr_init(&err);
	if (dtable_build(cfg, time(NULL), &t, errors, &err) == 0) {
		t.cfg = NULL; /* still the caller's */
		dtable_free(&t);
	}
}

static size_t running_count(const dtable *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += t->jobs[i].pid > 0;
	return n;
}

static djob *find_job(dtable *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->jobs[i].removed && strcmp(t->jobs[i].name, name) == 0)
			return &t->jobs[i];
	return NULL;
}

static void send_webhook(dtable *t, const djob *j, const webhook_run *run, int start);

static void start_job(dtable *t, djob *j, const sigset_t *child_mask)
{
	const char *levels[] = { "error", "warn", "info", "debug" };
	const char *level = levels[log_get_level()];
	pid_t pid = fork();
	if (pid < 0) {
		log_error("job %s: cannot start: fork: %s", j->name, strerror(errno));
		return;
	}
	if (pid == 0) {
		/*
		 * Its own process group, so that cancelling kills the whole run
		 * (pg_dump included) and a terminal's Ctrl-C reaches only us.
		 * /proc/self/exe still works when the binary was upgraded on
		 * disk: runs keep using the version the daemon started with.
		 */
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, child_mask, NULL);
		/* `run` prints the backup ID for people; under the daemon, stderr is the log */
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDOUT_FILENO);
			close(devnull);
		}
#ifdef __linux__
		/*
		 * In a fleet a run must not outlive its daemon: nobody would renew
		 * its lease, and another daemon runs the job again once it expires.
		 */
		if (t->catalog_url)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
		if (t->ov && t->ov->state_dir)
			execl("/proc/self/exe", "backupd", "-c", t->cfg->path, "--log-level", level,
			      "run", "--state-dir", t->ov->state_dir, j->name, (char *)NULL);
		else
			execl("/proc/self/exe", "backupd", "-c", t->cfg->path, "--log-level", level,
			      "run", j->name, (char *)NULL);
		fprintf(stderr, "%s: job %s: cannot exec /proc/self/exe: %s\n", log_prog(), j->name,
			strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here: whichever runs first, kill(-pid) works */
	j->pid = pid;
	j->started = time(NULL);
	j->pending = 0;
	webhook_run start = { .job = j->name, .kind = j->kind, .source = j->source, .repo = j->repo,
			      .started = j->started, .attempt = j->attempt + 1, .hostname = t->hostname };
	send_webhook(t, j, &start, 1); /* healthchecks start pings */
	if (j->merged > 0)
		log_info("job %s: started after waiting %lds (%d later fire time%s merged into this run)",
			 j->name, (long)(j->started - j->due_at), j->merged, plural_s(j->merged));
	j->merged = 0;
	j->blocked = 0;
	if (j->attempt > 0)
		log_info("job %s: started (pid %ld, retry %ld of %ld)", j->name, (long)pid, j->attempt,
			 j->retries);
	else
		log_debug("job %s: started (pid %ld)", j->name, (long)pid); /* the run logs its own start */
}

/* The child could not record its own end: write it for it. */
static void record_lost_run(const dtable *t, const djob *j, time_t end, const char *why)
{
	run_record r = { .job = j->name, .start = j->started, .end = end, .ok = 0,
			 .error = (char *)why };
	bderr err;
	bderr_init(&err);
	if (run_history_append(t->cfg, &r, &err) < 0)
		log_warn("job %s: %s", j->name, err.msg);
}

/*
 * Delivery runs in a child process: a slow or dead webhook receiver must
 * never hold up the scheduling loop, and the child's exit frees all of it.
 * The child does not exec, so it touches only what it was handed (no lock
 * the HTTP thread could hold) and leaves with _exit().
 */
static void send_webhook(dtable *t, const djob *j, const webhook_run *run, int start)
{
	if (!notify_wanted(&j->notify, start, run->ok))
		return;
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("job %s: notifications not sent: fork: %s", j->name, strerror(errno));
		return;
	}
	if (pid == 0) {
		notify_send(&j->notify, run, start);
		_exit(0);
	}
	t->notifiers = xrealloc(t->notifiers, (t->n_notifiers + 1) * sizeof *t->notifiers);
	t->notifiers[t->n_notifiers++] = pid;
}

/* Metrics and webhook for a run that just ended; why: the daemon's reason if it knows one. */
static void finish_run(dtable *t, djob *j, time_t now, int ok, const char *why)
{
	run_record last;
	int found = 0;
	bderr err;
	bderr_init(&err);
	if (run_history_last(t->cfg, j->name, &last, &found, &err) < 0)
		log_warn("job %s: %s", j->name, err.msg);
	/* the child's own record, unless it died before writing one */
	int mine = found && last.start >= j->started && last.ok == ok;
	djob_stats *st = &j->stats;
	st->has_last = 1;
	st->last_ok = ok;
	st->last_duration = (long)(now - j->started);
	st->last_bytes = mine ? last.bytes : 0;
	st->last_rows = mine ? last.rows : 0;
	st->runs++;
	if (ok)
		st->last_success = now;
	else
		st->failures++;
	webhook_run run = {
		.job = j->name,
		.kind = j->kind,
		.source = j->source,
		.repo = j->repo,
		.backup_id = mine ? last.backup_id : NULL,
		.ok = ok,
		.started = j->started,
		.finished = now,
		.bytes = st->last_bytes,
		.rows = st->last_rows,
		.error = ok ? NULL : (mine && last.error ? last.error : why),
		.attempt = j->attempt + 1,
		.hostname = t->hostname,
	};
	send_webhook(t, j, &run, 0);
	run_record_free(&last);
}

/* ---- the fleet: claims, leases and heartbeats in the catalog ------------- */

static int fleet_may_run(const djob *j)
{
	return j->eligible && !j->refused && !j->removed;
}

/* The catalog went away: nothing new starts until it is back. */
static void fleet_lost(dtable *t, const char *why)
{
	catalog_free(t->cat);
	t->cat = NULL;
	if (strcmp(t->cat_error, why) != 0)
		log_error("catalog unreachable, starting no new run until it is back: %s", why);
	snprintf(t->cat_error, sizeof t->cat_error, "%s", why);
}

/* A job whose definition differs from the fleet's (a hash in the catalog) is refused here. */
static void fleet_check_jobs(dtable *t)
{
	for (size_t i = 0; i < t->n && t->cat; i++) {
		djob *j = &t->jobs[i];
		if (j->removed)
			continue;
		char *hash = catalog_job_hash(t->cfg, j->name);
		int agrees = 0;
		bderr err;
		bderr_init(&err);
		int rc = catalog_job_check(t->cat, j->name, hash, 0, &agrees, &err);
		free(hash);
		if (rc < 0) {
			fleet_lost(t, err.msg);
			return;
		}
		if (!agrees && !j->refused)
			log_warn("job %s: its definition here differs from the fleet's (in the catalog): "
				 "refusing to run it; make the configs agree, then publish them with "
				 "'backupd catalog upgrade'", j->name);
		else if (agrees && j->refused)
			log_info("job %s: its definition agrees with the fleet's again", j->name);
		j->refused = !agrees;
		if (j->refused)
			j->pending = 0;
	}
}

/* The end of a claimed run goes to the catalog, now or once it is reachable again. */
static void fleet_record_end(dtable *t, djob *j)
{
	if (!j->unrecorded || t->cat == NULL)
		return;
	int mine = 0;
	bderr err;
	bderr_init(&err);
	if (catalog_run_finished(t->cat, j->run_id, &j->end, &mine, &err) < 0) {
		fleet_lost(t, err.msg);
		return;
	}
	if (!mine)
		log_warn("job %s: its run (catalog id %lld) was taken over by another daemon before "
			 "this one could record its end (%s)",
			 j->name, (long long)j->run_id, j->end.ok ? "ok" : "failed");
	j->unrecorded = 0;
	j->run_id = 0;
	run_record_free(&j->end);
}

/* A claimed run ended for good (no retry follows). */
static void fleet_end(dtable *t, djob *j, int ok, const char *why)
{
	if (j->lost && !ok) { /* cancelled: the run belongs to whoever takes it over */
		j->lost = 0;
		j->run_id = 0;
		return;
	}
	/*
	 * A run cancelled for a lost claim that finished anyway (exit 0) made a
	 * complete backup: record its end like any other (catalog_run_finished
	 * says when another daemon took the firing over meanwhile), or its
	 * firing would stay "running" and be run a second time once its lease
	 * expired.
	 */
	j->lost = 0;
	run_record last;
	int found = 0;
	bderr err;
	bderr_init(&err);
	if (run_history_last(t->cfg, j->name, &last, &found, &err) < 0)
		log_warn("job %s: %s", j->name, err.msg);
	run_record_free(&j->end);
	if (found && last.start >= j->started && last.ok == ok) {
		j->end = last;
	} else {
		run_record_free(&last);
		j->end.ok = ok;
		j->end.error = ok ? NULL : xstrdup(why);
	}
	j->unrecorded = 1;
	fleet_record_end(t, j);
}

/* Cancels the runs whose claim this daemon no longer holds (or may no longer hold). */
static void fleet_cancel(dtable *t, djob *j, time_t now, const char *why)
{
	log_error("job %s: %s: cancelling its run here", j->name, why);
	kill(-j->pid, SIGTERM);
	j->lost = 1;
	long grace = t->lease / 4 < DAEMON_KILL_GRACE ? t->lease / 4 : DAEMON_KILL_GRACE;
	j->kill_at = now + (grace > 0 ? grace : 1);
}

/* run-missed with a catalog: the latest firing nobody claimed (the whole fleet was down). */
static void fleet_missed(dtable *t, time_t now)
{
	for (size_t i = 0; i < t->n && t->cat; i++) {
		djob *j = &t->jobs[i];
		if (!j->sched || !j->run_missed || !fleet_may_run(j) || j->pending || j->pid > 0 ||
		    j->run_id)
			continue;
		time_t last, f, latest = 0;
		int found;
		bderr err;
		bderr_init(&err);
		if (catalog_last_fire(t->cat, j->name, &last, &found, &err) < 0) {
			fleet_lost(t, err.msg);
			return;
		}
		if (!found) /* a new job has missed nothing */
			continue;
		/* firings since the start are the scheduler's own, not missed ones */
		time_t bound = t->boot && t->boot < now ? t->boot : now;
		f = last;
		for (int k = 0; k < 100000 && cron_next(j->sched, f, t->tz, &f, &err) == 0 && f <= bound; k++)
			latest = f;
		if (latest > last) {
			char when[32];
			format_rfc3339(latest, when, sizeof when);
			log_info("job %s: its firing at %s ran nowhere (the fleet was down): running it now",
				 j->name, when);
			j->pending = 1;
			j->fire = latest;
			j->fire_offline = 0;
			j->due_at = latest;
		}
	}
	t->missed_done = 1;
}

/*
 * Cut off: no heartbeat reached the catalog for half a lease, so this
 * daemon's runs are stopped before their leases expire and another daemon
 * retries them.  The clock is read here, not passed in: a query or a
 * reconnect that just timed out took seconds of it.
 */
static void fleet_cut_off(dtable *t)
{
	if (t->cat != NULL || time(NULL) - t->last_beat_ok < t->lease / 2)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].pid > 0 && t->jobs[i].run_id && !t->jobs[i].lost)
			fleet_cancel(t, &t->jobs[i], time(NULL),
				     "no heartbeat reached the catalog for half its lease");
}

/* Heartbeat: renews this daemon's leases, reconnects, and catches up on what waited. */
static void fleet_beat(dtable *t, time_t now)
{
	if (!t->catalog_url || now < t->next_beat)
		return;
	t->next_beat = now + (t->lease / 4 > 1 ? t->lease / 4 : 1);
	bderr err;
	bderr_init(&err);
	if (t->cat && !catalog_alive(t->cat))
		fleet_lost(t, "connection lost");
	fleet_cut_off(t); /* before a reconnect that may take connect_timeout */
	if (t->cat == NULL) {
		if (catalog_open(t->cfg, t->daemon_id, t->lease, &t->cat, &err) < 0) {
			fleet_lost(t, err.msg);
		} else {
			catalog_set_started(t->cat, t->boot);
			log_info("catalog reachable%s", t->cat_error[0] ? " again" : "");
			t->cat_error[0] = '\0';
			fleet_check_jobs(t);
		}
	}
	int64_t *owned = NULL, *held = xcalloc(t->n ? t->n : 1, sizeof *held);
	size_t n_owned = 0, n_held = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].run_id && !t->jobs[i].lost)
			held[n_held++] = t->jobs[i].run_id;
	if (t->cat && catalog_renew(t->cat, held, n_held, &owned, &n_owned, &err) < 0)
		fleet_lost(t, err.msg);
	free(held);
	if (t->cat) {
		t->last_beat_ok = now;
		for (size_t i = 0; i < t->n; i++) {
			djob *j = &t->jobs[i];
			int mine = 0;
			for (size_t k = 0; k < n_owned && !mine; k++)
				mine = owned[k] == j->run_id;
			if (j->run_id && !j->unrecorded && !j->lost && !mine) {
				if (j->pid > 0)
					fleet_cancel(t, j, now, "another daemon took its run over "
								"(this daemon's lease had expired)");
				else
					j->run_id = 0, j->retry_at = 0;
			}
			fleet_record_end(t, j);
		}
		if (t->cat && !t->missed_done)
			fleet_missed(t, now);
		catalog_success *ok = NULL;
		size_t n_ok = 0;
		if (t->cat && catalog_last_successes(t->cat, &ok, &n_ok, &err) < 0) {
			fleet_lost(t, err.msg);
		} else if (t->cat) {
			catalog_successes_free(t->fleet_ok, t->n_fleet_ok);
			t->fleet_ok = ok;
			t->n_fleet_ok = n_ok;
		}
	}
	free(owned);
	fleet_cut_off(t);
}

/*
 * A firing this daemon could not start before the next one: recorded as
 * skipped unless another daemon claimed it, so the catalog accounts for
 * every firing.
 */
static void fleet_skip(dtable *t, djob *j)
{
	bderr err;
	bderr_init(&err);
	/* no claim was possible for a firing that came while the catalog was away */
	const char *why = j->fire_offline ? "came due while the catalog was unreachable"
					  : "no free slot in the fleet";
	if (t->cat && catalog_skip(t->cat, j->name, j->fire, why, &err) < 0)
		fleet_lost(t, err.msg);
}

/* 1: j's firing is this daemon's to run (claimed now, or a retry of its claim). */
static int fleet_claim(dtable *t, djob *j)
{
	if (t->cat == NULL || j->unrecorded)
		return 0;
	if (j->run_id)
		return 1;
	const config_section *s = config_find(t->cfg, "job", j->name);
	claim_request q = {
		.job = j->name,
		.fire = j->fire,
		.repo = config_get(s, "repo"),
		.source = config_get(s, "source"),
		.per_repo = t->per_repo,
		.per_source = t->per_source,
		.lease = t->lease,
	};
	claim_result res;
	bderr err;
	bderr_init(&err);
	if (catalog_claim(t->cat, &q, &j->run_id, &res, &err) < 0) {
		fleet_lost(t, err.msg);
		return 0;
	}
	if (res == CLAIM_TAKEN)
		log_debug("job %s: this firing was claimed by another daemon", j->name);
	else if (res == CLAIM_SKIPPED)
		log_warn("job %s: due again while its previous run is still going in the fleet: skipped",
			 j->name);
	if (res == CLAIM_TAKEN || res == CLAIM_SKIPPED) {
		j->pending = 0;
		j->run_id = 0;
	}
	return res == CLAIM_OK;
}

static void fleet_started(dtable *t, djob *j)
{
	bderr err;
	bderr_init(&err);
	if (t->cat && catalog_run_started(t->cat, j->run_id, j->attempt + 1, &err) < 0)
		fleet_lost(t, err.msg);
}

/* Runs whose daemon died (lease expired) are run again here, one per free slot. */
static void fleet_take_over(dtable *t)
{
	if (t->cat == NULL)
		return;
	const char **names = xcalloc(t->n ? t->n : 1, sizeof *names);
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		const djob *j = &t->jobs[i];
		if (fleet_may_run(j) && j->pid == 0 && !j->pending && !j->run_id && !j->unrecorded)
			names[n++] = j->name;
	}
	int64_t id;
	char *job = NULL;
	time_t fire;
	int found = 0;
	bderr err;
	bderr_init(&err);
	if (catalog_take_over(t->cat, names, n, t->lease, &id, &job, &fire, &found, &err) < 0)
		fleet_lost(t, err.msg);
	djob *j = found ? find_job(t, job) : NULL;
	if (j) {
		char when[32];
		format_rfc3339(fire, when, sizeof when);
		log_warn("job %s: its run for %s lost its daemon (lease expired): running it here",
			 j->name, when);
		j->run_id = id;
		j->fire = fire;
		j->pending = 1;
		j->due_at = fire;
		j->attempt = 0;
		j->retry_at = 0;
	}
	free(job);
	free(names);
}

static int forget_notifier(dtable *t, pid_t pid)
{
	for (size_t i = 0; i < t->n_notifiers; i++)
		if (t->notifiers[i] == pid) {
			t->notifiers[i] = t->notifiers[--t->n_notifiers];
			return 1;
		}
	return 0;
}

static void reap(dtable *t, int stopping)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (forget_notifier(t, pid))
			continue;
		djob *j = NULL;
		for (size_t i = 0; i < t->n && !j; i++)
			if (t->jobs[i].pid == pid)
				j = &t->jobs[i];
		if (j == NULL)
			continue;
		time_t now = time(NULL);
		long took = (long)(now - j->started);
		j->pid = 0;
		int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		int timed_out = j->timed_out;
		j->timed_out = 0;
		j->kill_at = 0;
		char why[128];
		snprintf(why, sizeof why, "exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		if (ok) {
			log_debug("job %s: finished in %lds: ok", j->name, took); /* the run logged its end */
		} else if (timed_out) {
			snprintf(why, sizeof why, "timed out after %lds (timeout %lds): cancelled", took,
				 j->timeout);
			log_error("job %s: finished in %lds: failed (%s)", j->name, took, why);
			/* killed, the child could not record it; if it exited, it did */
			if (!WIFEXITED(status))
				record_lost_run(t, j, now, why);
		} else if (WIFEXITED(status)) {
			log_error("job %s: finished in %lds: failed (exit %d)", j->name, took,
				  WEXITSTATUS(status));
		} else {
			snprintf(why, sizeof why, "%s by signal %d",
				 stopping ? "cancelled at shutdown" : "killed", WTERMSIG(status));
			log_error("job %s: finished in %lds: failed (%s)", j->name, took, why);
			record_lost_run(t, j, now, why);
		}
		finish_run(t, j, now, ok, why);
		/* exit 2 is a configuration error: retrying cannot fix it */
		int retryable = !j->lost && (timed_out || (WIFEXITED(status) && WEXITSTATUS(status) != 2));
		if (ok) {
			j->attempt = 0;
		} else if (retryable && !stopping && !j->removed && j->attempt < j->retries) {
			j->attempt++;
			j->retry_at = now + j->retry_delay;
			log_info("job %s: retry %ld of %ld in %lds", j->name, j->attempt, j->retries,
				 j->retry_delay);
		} else {
			j->attempt = 0;
		}
		if (j->run_id && !j->retry_at)
			fleet_end(t, j, ok, why);
	}
	/* jobs removed from the config leave once their last run is over */
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->jobs[i].removed && t->jobs[i].pid == 0)
			djob_free(&t->jobs[i]);
		else
			t->jobs[k++] = t->jobs[i];
	}
	t->n = k;
}

/* run-missed: the last run started before the latest fire time that has passed. */
static void mark_missed(dtable *t, time_t now)
{
	for (size_t i = 0; i < t->n; i++) {
		djob *j = &t->jobs[i];
		if (!j->sched || !j->run_missed)
			continue;
		run_record last;
		int found;
		bderr err;
		bderr_init(&err);
		if (run_history_last(t->cfg, j->name, &last, &found, &err) < 0) {
			log_warn("job %s: %s", j->name, err.msg);
			continue;
		}
		/* no history: a new job has missed nothing */
		time_t after;
		if (found && cron_next(j->sched, last.start, t->tz, &after, &err) == 0 && after <= now) {
			log_info("job %s: missed its run at a time the daemon was down: running now",
				 j->name);
			j->pending = 1;
			j->due_at = after;
		}
		run_record_free(&last);
	}
}

/* Command-line settings over the file's, so several daemons can share one file. */
static void apply_overrides(config *cfg, const daemon_overrides *ov)
{
	if (ov == NULL)
		return;
	if (ov->id)
		config_set_global(cfg, "daemon-id", ov->id);
	if (ov->state_dir)
		config_set_global(cfg, "state-dir", ov->state_dir);
	if (ov->http_listen)
		config_set_global(cfg, "http-listen", ov->http_listen);
	if (ov->tags)
		config_set_global(cfg, "tags", ov->tags);
}

static int reload(dtable *t, time_t now)
{
	bderr err;
	bderr_init(&err);
	config *cfg = NULL;
	dtable nt;
	if (config_load(t->cfg->path, &cfg, &err) == 0)
		apply_overrides(cfg, t->ov);
	if (cfg == NULL || dtable_build(cfg, now, &nt, NULL, &err) < 0) {
		config_free(cfg);
		log_error("reload failed, keeping the previous configuration: %s", err.msg);
		return -1;
	}
	const char *cid = config_get(config_find(cfg, "global", NULL), "daemon-id");
	const char *oid = config_get(config_find(t->cfg, "global", NULL), "daemon-id");
	if ((nt.catalog_url == NULL) != (t->catalog_url == NULL) ||
	    (nt.catalog_url && strcmp(nt.catalog_url, t->catalog_url) != 0) ||
	    (cid == NULL) != (oid == NULL) || (cid && strcmp(cid, oid) != 0)) {
		log_error("reload failed, keeping the previous configuration: a change of catalog or "
			  "daemon-id needs a daemon restart");
		dtable_free(&nt); /* frees cfg too */
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		djob *old = &t->jobs[i];
		djob *nj = old->removed ? NULL : find_job(&nt, old->name);
		if (nj) {
			nj->pid = old->pid;
			nj->started = old->started;
			nj->attempt = old->attempt;
			nj->retry_at = old->retry_at;
			nj->pending = old->pending;
			nj->due_at = old->due_at;
			nj->merged = old->merged;
			nj->blocked = old->blocked;
			nj->timed_out = old->timed_out;
			nj->kill_at = old->kill_at;
			nj->stats = old->stats;
			nj->fire = old->fire;
			nj->fire_offline = old->fire_offline;
			nj->run_id = old->run_id;
			nj->lost = old->lost;
			nj->unrecorded = old->unrecorded;
			nj->end = old->end;
			memset(&old->end, 0, sizeof old->end); /* moved */
			nj->refused = old->refused;
			/* an unchanged schedule keeps its fire time (it may be due right now) */
			if (nj->expr && old->expr && strcmp(nj->expr, old->expr) == 0)
				nj->next = old->next;
		} else if (old->pid > 0) {
			nt.jobs = xrealloc(nt.jobs, (nt.n + 1) * sizeof *nt.jobs);
			djob *keep = &nt.jobs[nt.n++];
			*keep = *old;
			keep->removed = 1;
			memset(old, 0, sizeof *old); /* moved */
			continue;
		}
	}
	if (strcmp(run_history_state_dir(cfg), run_history_state_dir(t->cfg)) != 0)
		log_warn("state-dir changes take effect at the next daemon start");
	/* the server keeps its socket: serving stays as it was started */
	if ((nt.http_listen == NULL) != (t->http_listen == NULL) ||
	    (nt.http_listen && strcmp(nt.http_listen, t->http_listen) != 0))
		log_warn("http-listen changes take effect at the next daemon start");
	free(nt.http_listen);
	nt.http_listen = t->http_listen;
	t->http_listen = NULL;
	nt.hostname = t->hostname;
	t->hostname = NULL;
	nt.notifiers = t->notifiers;
	nt.n_notifiers = t->n_notifiers;
	t->notifiers = NULL;
	t->n_notifiers = 0;
	nt.cat = t->cat;
	t->cat = NULL;
	nt.daemon_id = t->daemon_id;
	t->daemon_id = NULL;
	nt.fleet_ok = t->fleet_ok;
	nt.n_fleet_ok = t->n_fleet_ok;
	t->fleet_ok = NULL;
	t->n_fleet_ok = 0;
	nt.next_beat = t->next_beat;
	nt.last_beat_ok = t->last_beat_ok;
	nt.missed_done = t->missed_done;
	nt.boot = t->boot;
	nt.ov = t->ov;
	memcpy(nt.cat_error, t->cat_error, sizeof nt.cat_error);
	dtable_free(t);
	*t = nt;
	fleet_check_jobs(t);
	log_info("configuration reloaded from %s: %zu jobs", t->cfg->path, t->n);
	return 0;
}

/*
 * A run over its timeout is cancelled like a run at shutdown: SIGTERM to its
 * process group (the backup stays incomplete, no manifest), SIGKILL if it is
 * still there DAEMON_KILL_GRACE later.
 */
static void enforce_timeouts(dtable *t, time_t now)
{
	for (size_t i = 0; i < t->n; i++) {
		djob *j = &t->jobs[i];
		if (j->pid <= 0)
			continue;
		if (j->lost) { /* cancelled for its lost claim (fleet_cancel) */
			if (j->kill_at && now >= j->kill_at) {
				log_warn("job %s: still running after SIGTERM: killing", j->name);
				kill(-j->pid, SIGKILL);
				j->kill_at = 0;
			}
			continue;
		}
		if (j->timeout <= 0)
			continue;
		if (!j->timed_out && now >= j->started + j->timeout) {
			log_error("job %s: running for %lds, over its timeout of %lds: cancelling",
				  j->name, (long)(now - j->started), j->timeout);
			kill(-j->pid, SIGTERM);
			j->timed_out = 1;
			j->kill_at = now + DAEMON_KILL_GRACE;
		} else if (j->timed_out && j->kill_at && now >= j->kill_at) {
			log_warn("job %s: still running %lds after SIGTERM: killing", j->name,
				 (long)DAEMON_KILL_GRACE);
			kill(-j->pid, SIGKILL);
			j->kill_at = 0;
		}
	}
}

/* Pending jobs by due time, oldest first; config order among equals. */
static int due_compare(const void *a, const void *b)
{
	const djob *x = *(const djob *const *)a, *y = *(const djob *const *)b;
	if (x->due_at != y->due_at)
		return x->due_at < y->due_at ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * A run this daemon did not start holds the job's lock: one left running
 * by a daemon that was killed, or a `backupd run` by hand.  The job waits
 * (logged once) and starts when that run is over.
 */
static int held_elsewhere(dtable *t, djob *j)
{
	char *path = job_lock_path(t->cfg, j->name);
	long holder;
	int busy = lockfile_busy(path, &holder);
	free(path);
	if (busy && !j->blocked)
		log_warn("job %s: a run not started by this daemon is still going (pid %ld): "
			 "waiting for it to end",
			 j->name, holder);
	j->blocked = busy;
	return busy;
}

/* Due jobs start oldest due first, so under load none waits behind the others forever. */
static void start_due(dtable *t, const sigset_t *child_mask)
{
	/* a run whose daemon died is older than any new firing: it goes first */
	if (t->catalog_url && running_count(t) < (size_t)t->max_parallel)
		fleet_take_over(t);
	djob **due = xcalloc(t->n ? t->n : 1, sizeof *due);
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].pending && t->jobs[i].pid == 0 && !t->jobs[i].removed)
			due[n++] = &t->jobs[i];
	qsort(due, n, sizeof *due, due_compare);
	size_t running = running_count(t);
	for (size_t i = 0; i < n && running < (size_t)t->max_parallel; i++) {
		if (held_elsewhere(t, due[i]))
			continue;
		if (t->catalog_url && !fleet_claim(t, due[i]))
			continue;
		start_job(t, due[i], child_mask);
		running += due[i]->pid > 0;
		if (due[i]->pid > 0 && due[i]->run_id)
			fleet_started(t, due[i]);
	}
	free(due);
}

/* A job fired again before its pending run started: the two are one run. */
static void merge_fire(djob *j, const char *why)
{
	if (j->merged++ == 0)
		log_warn("job %s: due again while %s: it runs once for both", j->name, why);
}

/* Marks what is due, starts what fits, returns the next time to wake up. */
static time_t schedule(dtable *t, time_t now, const sigset_t *child_mask)
{
	fleet_beat(t, now);
	enforce_timeouts(t, now);
	for (size_t i = 0; i < t->n; i++) {
		djob *j = &t->jobs[i];
		if (j->removed)
			continue;
		if (j->sched && j->next <= now) {
			if (t->catalog_url && (!fleet_may_run(j) || j->run_id))
				; /* another daemon's, or this one still holds the previous claim */
			else if (t->catalog_url && j->pending && j->pid == 0) {
				/*
				 * not claimed yet: the newer firing supersedes it here,
				 * but the job keeps its place in the queue (due_at stays
				 * when it became pending).  Reset, a job every other
				 * daemon skips (run-on) lost every tie to the jobs before
				 * it in the config and never ran while slots were full.
				 */
				fleet_skip(t, j);
				j->fire = j->next;
				j->fire_offline = t->cat == NULL;
			} else if (j->pid > 0)
				log_warn("job %s: due again while still running (pid %ld): skipped",
					 j->name, (long)j->pid);
			else if (j->pending)
				merge_fire(j, j->blocked ? "an earlier run still holds its lock"
							 : "waiting for a free slot");
			else {
				j->pending = 1;
				j->due_at = j->next;
				j->fire = j->next;
				j->fire_offline = t->catalog_url && t->cat == NULL;
				j->attempt = 0;
				j->retry_at = 0;
			}
			bderr err;
			bderr_init(&err);
			if (cron_next(j->sched, now, t->tz, &j->next, &err) < 0) {
				log_error("job %s: %s: no longer scheduled", j->name, err.msg);
				cron_free(j->sched);
				j->sched = NULL;
			}
		}
		if (j->retry_at && j->retry_at <= now && j->pid == 0) {
			j->pending = 1;
			j->due_at = j->retry_at;
			j->retry_at = 0;
		}
	}
	start_due(t, child_mask);
	time_t wake = now + DAEMON_IDLE_SLEEP;
	for (size_t i = 0; i < t->n; i++) {
		const djob *j = &t->jobs[i];
		if (j->sched && j->next < wake)
			wake = j->next;
		if (j->retry_at && j->retry_at < wake)
			wake = j->retry_at;
		if (j->pid > 0 && j->timeout > 0 && !j->timed_out && j->started + j->timeout < wake)
			wake = j->started + j->timeout;
		if (j->pid > 0 && j->kill_at && j->kill_at < wake)
			wake = j->kill_at;
		if (j->pending && j->blocked && now + DAEMON_LOCK_POLL < wake)
			wake = now + DAEMON_LOCK_POLL;
	}
	if (t->http_listen && now + DAEMON_HEALTH_TICK < wake)
		wake = now + DAEMON_HEALTH_TICK;
	if (t->catalog_url) {
		/* heartbeats, and claims waiting for a fleet-wide slot or the catalog */
		if (t->next_beat < wake)
			wake = t->next_beat;
		for (size_t i = 0; i < t->n; i++)
			if (t->jobs[i].pending && now + 1 < wake)
				wake = now + 1;
	}
	return wake;
}

/* Sleeps until wall-clock second `wake` or a signal; returns the signal or 0. */
static int wait_signal(const sigset_t *set, time_t wake)
{
	struct timespec now, ts;
	clock_gettime(CLOCK_REALTIME, &now);
	if (wake <= now.tv_sec) {
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
	} else {
		/* land just past the second boundary, so time() already says `wake` */
		ts.tv_sec = wake - now.tv_sec - 1;
		ts.tv_nsec = 1000000000L - now.tv_nsec + 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	int sig = sigtimedwait(set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

static void signal_children(dtable *t, int sig)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].pid > 0)
			kill(-t->jobs[i].pid, sig);
}

/* Waits for all children until `deadline`; 1 if a second SIGTERM/SIGINT came. */
static int wait_children(dtable *t, const sigset_t *set, time_t deadline)
{
	while (running_count(t) > 0 && time(NULL) < deadline) {
		int sig = wait_signal(set, deadline);
		reap(t, 1);
		if (sig == SIGTERM || sig == SIGINT)
			return 1;
	}
	return 0;
}

static void shutdown_jobs(dtable *t, const sigset_t *set)
{
	reap(t, 1);
	size_t n = running_count(t);
	if (n == 0)
		return;
	log_info("stopping: waiting up to %lds for %zu running job%s (SIGTERM again to cancel now)",
		 t->grace, n, plural_s(n));
	wait_children(t, set, time(NULL) + t->grace);
	if (running_count(t) == 0)
		return;
	log_warn("stopping: cancelling %zu running job%s", running_count(t),
		 plural_s(running_count(t)));
	signal_children(t, SIGTERM);
	wait_children(t, set, time(NULL) + DAEMON_KILL_GRACE);
	if (running_count(t) > 0) {
		signal_children(t, SIGKILL);
		while (running_count(t) > 0) {
			wait_signal(set, time(NULL) + 1);
			reap(t, 1);
		}
	}
}

/*
 * A catalog of another version, or a bad password file, stops the daemon at
 * once; an unreachable one does not: it starts nothing until the catalog is
 * back, and /health says so.
 */
static int fleet_open(dtable *t, bderr *err)
{
	const char *id = config_get(config_find(t->cfg, "global", NULL), "daemon-id");
	t->daemon_id = id ? xstrdup(id) : catalog_host_name();
	t->boot = time(NULL);
	if (catalog_open(t->cfg, t->daemon_id, t->lease, &t->cat, err) < 0) {
		if (err->exit_code == EXIT_USAGE)
			return -1;
		fleet_lost(t, err->msg);
		bderr_init(err);
		return 0;
	}
	catalog_set_started(t->cat, t->boot);
	fleet_check_jobs(t);
	log_info("daemon %s: fleet catalog connected (lease %lds)", t->daemon_id, t->lease);
	return 0;
}

static int take_lock(const config *cfg, int *fd_out, bderr *err)
{
	char *path = xasprintf("%s/daemon.lock", run_history_state_dir(cfg));
	long holder;
	int rc = lockfile_take(path, fd_out, &holder, err);
	if (rc == 1)
		rc = bderr_usage(err, "another backupd daemon is running (lock '%s' is held)", path);
	free(path);
	return rc;
}

/* Can the daemon still record runs?  A real file, so a full or read-only disk shows. */
static int state_dir_writable(const config *cfg)
{
	char *path = xasprintf("%s/.health-XXXXXX", run_history_state_dir(cfg));
	int fd = mkstemp(path);
	int ok = fd >= 0 && write(fd, "ok\n", 3) == 3;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(path);
	return ok;
}

/* What the HTTP thread reports, as of now. */
static metrics_snapshot snapshot_take(const dtable *t, time_t started, int stopping)
{
	metrics_snapshot s = {
		.started = started,
		.tick = time(NULL),
		.state_dir_writable = state_dir_writable(t->cfg),
		.stopping = stopping,
		.fleet = t->catalog_url != NULL,
		.catalog_ok = t->cat != NULL,
		.jobs = xcalloc(t->n ? t->n : 1, sizeof(metrics_job)),
	};
	snprintf(s.catalog_error, sizeof s.catalog_error, "%s", t->cat_error);
	for (size_t i = 0; i < t->n; i++) {
		const djob *j = &t->jobs[i];
		if (j->removed)
			continue;
		metrics_job *m = &s.jobs[s.n_jobs++];
		m->name = xstrdup(j->name);
		m->has_last = j->stats.has_last;
		m->last_ok = j->stats.last_ok;
		m->last_success = j->stats.last_success;
		m->last_duration = j->stats.last_duration;
		m->last_bytes = j->stats.last_bytes;
		m->last_rows = j->stats.last_rows;
		m->runs_total = j->stats.runs;
		m->failures_total = j->stats.failures;
		m->running = j->pid > 0;
		m->next = j->sched ? j->next : 0;
		for (size_t k = 0; k < t->n_fleet_ok; k++)
			if (strcmp(t->fleet_ok[k].job, j->name) == 0)
				m->fleet_last_success = t->fleet_ok[k].finished;
	}
	gauges_load(t->cfg, &s);
	return s;
}

/* Hands the HTTP thread a fresh copy of what it reports. */
static void publish(const dtable *t, metrics_server *srv, time_t started, int stopping)
{
	if (srv == NULL)
		return;
	metrics_snapshot s = snapshot_take(t, started, stopping);
	metrics_server_publish(srv, &s);
}

/* Webhooks of the last runs get a bounded time to go out before the daemon exits. */
static void wait_notifiers(dtable *t, const sigset_t *set)
{
	time_t deadline = time(NULL) + DAEMON_WEBHOOK_GRACE;
	reap(t, 1);
	while (t->n_notifiers > 0 && time(NULL) < deadline) {
		wait_signal(set, time(NULL) + 1);
		reap(t, 1);
	}
	if (t->n_notifiers > 0)
		log_warn("stopping: %zu webhook deliver%s still in progress, not waiting for them",
			 t->n_notifiers, t->n_notifiers == 1 ? "y" : "ies");
}

int daemon_command(program *p, bderr *err)
{
	if (p->cfg == NULL)
		return bderr_usage(err, "daemon needs a configuration file (-c FILE)");
	/* the table owns its config (reload replaces it): take a private copy */
	config *cfg = NULL;
	if (config_load(p->cfg->path, &cfg, err) < 0)
		return -1;
	daemon_overrides ov = {
		.id = cli_get(&p->args, "id"),
		.state_dir = cli_get(&p->args, "state-dir"),
		.http_listen = cli_get(&p->args, "http-listen"),
		.tags = cli_get(&p->args, "tags"),
	};
	/* --id names this daemon in the fleet catalog, --tags are matched against
	 * the fleet's run-on: without a catalog either would do nothing */
	if (ov.id && catalog_url(cfg) == NULL) {
		config_free(cfg);
		return bderr_usage(err, "--id names this daemon in a fleet catalog: it needs [global] catalog =");
	}
	if (ov.tags && catalog_url(cfg) == NULL) {
		config_free(cfg);
		return bderr_usage(err, "--tags are this daemon's tags for a fleet catalog's run-on: it needs [global] catalog =");
	}
	/* a bad --http-listen is named as the option, not as the config file's key */
	struct sockaddr_storage addr;
	socklen_t alen;
	if (ov.http_listen && metrics_parse_listen(ov.http_listen, &addr, &alen, err) < 0) {
		config_free(cfg);
		return bderr_prefix(err, "option '--http-listen'");
	}
	/* as the option, not as the [global] key it overrides */
	if (ov.tags && tags_check(ov.tags, err) < 0) {
		config_free(cfg);
		return bderr_prefix(err, "option '--tags'");
	}
	apply_overrides(cfg, &ov);
	if (run_history_check_state_dir(cfg, err) < 0) {
		config_free(cfg);
		return -1;
	}
	dtable t;
	if (dtable_build(cfg, time(NULL), &t, NULL, err) < 0) {
		config_free(cfg);
		return -1;
	}
	t.ov = &ov;
	if (t.catalog_url && fleet_open(&t, err) < 0) {
		dtable_free(&t);
		return -1;
	}
	int lock_fd = -1;
	if (take_lock(t.cfg, &lock_fd, err) < 0) {
		dtable_free(&t);
		return -1;
	}
	/* before any thread: it takes NOTIFY_SOCKET out of the children's environment */
	sdnotify *sd = sdnotify_new();
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);
	time_t started = time(NULL);
	char host[256];
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	t.hostname = xstrdup(host);
	/* started with the signals blocked: its thread inherits the mask and never takes them */
	metrics_server *srv = NULL;
	metrics_snapshot first = {0};
	if (t.http_listen)
		first = snapshot_take(&t, started, 0);
	if (t.http_listen && metrics_server_new(t.http_listen, &first, &srv, err) < 0) {
		metrics_snapshot_clear(&first);
		sdnotify_free(sd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		dtable_free(&t);
		close(lock_fd);
		return -1;
	}

	size_t scheduled = 0;
	for (size_t i = 0; i < t.n; i++)
		scheduled += t.jobs[i].sched != NULL;
	log_info("daemon started (pid %ld): %zu jobs, %zu scheduled, max %ld in parallel",
		 (long)getpid(), t.n, scheduled, t.max_parallel);
	if (!t.catalog_url)
		mark_missed(&t, time(NULL)); /* with a catalog: at the first heartbeat */
	sdnotify_send(sd, "READY=1");
	for (;;) {
		reap(&t, 0);
		time_t wake = schedule(&t, time(NULL), &old);
		publish(&t, srv, started, 0);
		wake = sdnotify_watchdog(sd, wake);
		int sig = wait_signal(&set, wake);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("received %s: no new jobs will start", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP)
			reload(&t, time(NULL));
	}
	sdnotify_send(sd, "STOPPING=1");
	publish(&t, srv, started, 1);
	shutdown_jobs(&t, &set);
	wait_notifiers(&t, &set);
	metrics_server_free(srv);
	log_info("daemon stopped");
	sdnotify_free(sd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	dtable_free(&t);
	close(lock_fd);
	return 0;
}

#include "backupd/job.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive/filter.h"
#include "archive/repo.h"
#include "backupd/basebackup.h"
#include "backupd/expire.h"
#include "backupd/gauges.h"
#include "backupd/notify.h"
#include "backupd/run_history.h"
#include "common/lockfile.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "common/resolve.h"
#include "engines/engine.h"
#include "engines/pg/pg_base_format.h"
#include "policies/retention.h"

static uint64_t manifest_rows(const manifest *m)
{
	uint64_t rows = 0;
	for (size_t i = 0; i < m->n_objects; i++)
		if (m->objects[i].rows > 0)
			rows += (uint64_t)m->objects[i].rows;
	return rows;
}

/* The keys only a dump job reads: on a base backup job they would have no effect. */
static const char *const dump_only_keys[] = { "jobs", "chunk-size", "consistency", "copy-format",
					      "include-table", "exclude-table", "exclude-table-data",
					      "role-passwords", NULL };

/*
 * What a run would refuse for this job's kind and its source's engine
 * (a dump option of the other engine, a base backup of a MySQL source, a
 * key the kind does not read), found when the config is loaded: `check`
 * and the daemon report it as a config error naming the key, instead of
 * the job failing at every firing.
 */
static int job_kind_check(const config *cfg, const config_section *js, const engine_dump_options *o,
			  bderr *err)
{
	const char *kind = config_get(js, "kind");
	int base = kind && strcmp(kind, "basebackup") == 0;
	const char *source = config_get(js, "source");
	const config_section *ss = source ? config_find(cfg, "source", source) : NULL;
	const char *url = ss ? config_get(ss, "url") : NULL;
	const engine_ops *e = url ? engine_for_uri(url) : NULL;
	/* the backups' name in the repository: the job's name =, else the source's */
	const config_section *named[] = { js, ss };
	for (size_t i = 0; i < 2; i++) {
		const char *name = named[i] ? config_get(named[i], "name") : NULL;
		if (name && repo_name_check(name, err) < 0)
			return config_key_error(cfg, named[i], "name", err);
	}
	if (base) {
		for (const char *const *k = dump_only_keys; *k; k++)
			if (config_get(js, *k))
				return config_error(cfg, js, *k, err,
						    "applies to dump jobs only: this job has kind = basebackup");
		if (e && !e->physical)
			return config_error(cfg, js, "kind", err,
					    "base backups are for PostgreSQL; [source:%s] is a %s source",
					    source, e->name);
		return 0;
	}
	/* given at all: incremental = 0 on a dump job is as meaningless as 1 */
	if (config_get(js, "incremental"))
		return config_error(cfg, js, "incremental", err, "is for kind = basebackup (this job dumps)");
	if (e && engine_dump_options_check(e, o, err) < 0) {
		char why[BDERR_MSG_MAX];
		snprintf(why, sizeof why, "%s", err->msg);
		/* the engines' messages name the option ("--copy-format"): point at its key */
		const char *key = "source";
		for (const char *const *k = dump_only_keys; *k; k++) {
			char opt[64];
			snprintf(opt, sizeof opt, "--%s", *k);
			if (config_get(js, *k) && strstr(why, opt)) {
				key = *k;
				break;
			}
		}
		return config_error(cfg, js, key, err, "%s ([source:%s] is a %s source)", why, source,
				    e->name);
	}
	return 0;
}

int job_dump_options(const config *cfg, const config_section *js, engine_dump_options *o,
		     bderr_list *all, bderr *err)
{
	engine_dump_options_init(o);
	long jobs;
	if (config_get_long(cfg, js, "jobs", ENGINE_JOBS_DEFAULT, ENGINE_JOBS_MIN, ENGINE_JOBS_MAX,
			    &jobs, err) < 0)
		return -1;
	o->jobs = (int)jobs;
	int rc = 0;
	for (const char *const *k = engine_dump_option_keys; *k; k++) {
		const config_section *where = js;
		const char *v = config_get(js, *k);
		if (v == NULL && strcmp(*k, "compress") == 0) {
			where = config_find(cfg, "repo", config_get(js, "repo"));
			v = config_get(where, *k);
		}
		if (v && engine_dump_option_set(o, *k, v, err) < 0) {
			rc = config_key_error(cfg, where, *k, err);
			if (all == NULL) {
				engine_dump_options_clear(o);
				return rc;
			}
			bderr_list_add(all, err);
		}
	}
	for (const char *const *k = engine_dump_filter_keys; *k; k++) {
		const char *v = config_get(js, *k);
		if (v && engine_dump_filter_add(o, *k, v, 1, err) < 0) {
			rc = config_key_error(cfg, js, *k, err);
			if (all == NULL) {
				engine_dump_options_clear(o);
				return rc;
			}
			bderr_list_add(all, err);
		}
	}
	int b = 0;
	if (config_get_bool(cfg, js, "role-passwords", 0, &b, err) < 0) {
		rc = -1;
		if (all == NULL) {
			engine_dump_options_clear(o);
			return rc;
		}
		bderr_list_add(all, err);
	}
	o->role_passwords = b;
	if (config_get(js, "role-passwords")) /* "no" too: the engine says whether it applies */
		o->given |= ENGINE_GIVEN_ROLE_PASSWORDS;
	if (job_source_all_databases(cfg, config_get(js, "source"), &o->all_databases, err) < 0) {
		rc = -1;
		if (all == NULL) {
			engine_dump_options_clear(o);
			return rc;
		}
		bderr_list_add(all, err);
	}
	if (rc == 0 && job_kind_check(cfg, js, o, err) < 0) {
		rc = -1;
		if (all == NULL) {
			engine_dump_options_clear(o);
			return rc;
		}
		bderr_list_add(all, err);
	}
	return rc;
}

int job_source_all_databases(const config *cfg, const char *source, int *all, bderr *err)
{
	*all = 0;
	const config_section *s = cfg && source ? config_find(cfg, "source", source) : NULL;
	const char *v = s ? config_get(s, "databases") : NULL;
	if (v == NULL)
		return 0;
	if (strcmp(v, "all") != 0)
		return config_error(cfg, s, "databases", err,
				    "must be 'all' (every database of the server), got '%s': name single databases in the url",
				    v);
	*all = 1;
	return 0;
}

/*
 * incremental = N: at most N incremental base backups on top of each full
 * one.  1 when the next backup of name should be incremental: a full one
 * exists and the newest chain is shorter than N.
 */
static int next_is_incremental(repo *r, const char *name, long n, bderr *err)
{
	if (n <= 0)
		return 0;
	backup_list *l = NULL;
	if (repo_backup_list(r, name, &l, err) < 0)
		return -1;
	long hops = -1;
	for (size_t i = l->n; i-- > 0 && hops < 0;) {
		const manifest *m = l->items[i].m;
		if (m == NULL || m->kind == NULL || strcmp(m->kind, "basebackup") != 0)
			continue;
		/* the chain's length: follow incremental_of back to the full one */
		hops = 0;
		pg_base_info bi;
		bderr ignored;
		bderr_init(&ignored);
		while (hops <= n && pg_base_info_parse(m->info, &bi, &ignored) == 0) {
			const char *parent = bi.incremental_of;
			m = NULL;
			for (size_t k = 0; parent && k < l->n; k++)
				if (l->items[k].m && strcmp(l->items[k].id, parent) == 0)
					m = l->items[k].m;
			int full = parent == NULL;
			pg_base_info_clear(&bi);
			if (full)
				break;
			hops++;
			if (m == NULL) {
				hops = n; /* its chain is broken: start a new full one */
				break;
			}
		}
	}
	backup_list_free(l);
	return hops >= 0 && hops < n;
}

/*
 * The backup is complete from here (or its manifest is being written: the
 * repository's commit hook): a SIGTERM now (a fleet daemon cut off
 * from its catalog cancelling its runs, a shutdown) must not turn it into a
 * killed run, which the fleet would run again.  Ignored for what is left
 * (the dump's own cleanup after its commit, retention, the end record, the
 * exit, which under ASan scans for leaks);
 * SIGKILL still ends it.  Ignored, not blocked: a mask is per thread, and the
 * progress reporter's thread, which does not block them, would take the
 * signal and its default action would end the process all the same.
 */
static void hold_cancellation(void *unused)
{
	(void)unused;
	struct sigaction ignore;
	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGTERM, &ignore, NULL);
	sigaction(SIGINT, &ignore, NULL);
}

/* The backup and its retention; rec gets the new backup's stored size and rows. */
static int job_backup(const config *cfg, const config_section *js, progress *prog, char **id,
		      run_record *rec, bderr *err)
{
	const char *kind = config_get(js, "kind");
	int base = kind && strcmp(kind, "basebackup") == 0; /* else dump: the config allows no other */
	engine_dump_options o;
	long incremental;
	if (job_dump_options(cfg, js, &o, NULL, err) < 0)
		return -1;
	if (config_get_long(cfg, js, "incremental", 0, 0, 1000, &incremental, err) < 0) {
		engine_dump_options_clear(&o);
		return -1;
	}
	retention_policy policy;
	const char *retention = config_get(js, "retention");
	if (retention && retention_parse(retention, &policy, err) < 0) {
		engine_dump_options_clear(&o);
		return config_key_error(cfg, js, "retention", err);
	}

	source_spec src;
	if (resolve_source_as(cfg, config_get(js, "source"), config_get(js, "name"), &src, err) < 0) {
		engine_dump_options_clear(&o);
		return -1;
	}
	repo_spec rs;
	memset(&rs, 0, sizeof rs);
	repo *r = NULL;
	manifest *m = NULL;
	int rc = -1;
	o.url = src.url;
	o.password = src.password;
	o.name = src.name;
	o.progress = prog;
	if (base && !src.engine->physical) {
		bderr_usage(err, "job '%s': base backups are for PostgreSQL; '%s' is a %s source",
			    js->name, src.name, src.engine->name);
		goto out;
	}
	/* the source reached before the repository is opened: a first run creates it */
	if ((!base && engine_dump_options_check(src.engine, &o, err) < 0) ||
	    repo_name_check(src.name, err) < 0 ||
	    resolve_repo(cfg, config_get(js, "repo"), &rs, err) < 0 ||
	    (base ? basebackup_reach(src.url, src.password, err)
		  : engine_reach(src.engine, src.url, src.password, err)) < 0 ||
	    repo_open(rs.url, &rs.opts, 1, &r, err) < 0)
		goto out;
	repo_set_commit_hook(r, hold_cancellation, NULL);
	basebackup_options bo = {
		.url = src.url,
		.password = src.password,
		.name = src.name,
		.compress_level = o.compress_level,
		.compress_spec = o.compress_spec,
		.archive_timeout = BASEBACKUP_ARCHIVE_TIMEOUT_DEFAULT,
		.progress = prog,
	};
	if (base) {
		int inc = next_is_incremental(r, src.name, incremental, err);
		if (inc < 0)
			goto out;
		bo.incremental = inc;
	}
	if ((base ? basebackup_run(r, &bo, id, err) : src.engine->dump(r, &o, id, err)) < 0)
		goto out;
	hold_cancellation(NULL);
	if (repo_backup_load(r, src.name, *id, &m, err) < 0)
		goto out;
	rec->bytes = manifest_total_stored_size(m);
	rec->rows = manifest_rows(m);
	if (retention) {
		expire_options eo = {
			.name = src.name,
			.policy = policy,
			.now = time(NULL),
			.incomplete_grace = EXPIRE_INCOMPLETE_GRACE,
		};
		progress_phase(prog, "retention");
		/* an empty spec keeps everything: nothing to do */
		if (!expire_policy_empty(&policy) && expire_run(r, &eo, NULL, NULL, err) < 0) {
			bderr_prefix(err, "backup %s made, but retention failed", *id);
			goto out;
		}
	}
	if (config_find(cfg, "repo", config_get(js, "repo")))
		gauges_record_repo(cfg, config_get(js, "repo"), r); /* /metrics */
	rc = 0;
out:
	manifest_free(m);
	repo_free(r);
	repo_spec_free(&rs);
	source_spec_free(&src);
	engine_dump_options_clear(&o);
	return rc;
}

char *job_lock_path(const config *cfg, const char *job)
{
	return xasprintf("%s/locks/job-%s.lock", run_history_state_dir(cfg), job);
}

int dump_lock(const config *cfg, const char *repo_url, const char *name, int *fd, bderr *err)
{
	/* a URL is no file name: the lock is named by a digest of it */
	char *key = xasprintf("%s\n%s", repo_url, name);
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(key, strlen(key), hex);
	free(key);
	hex[16] = '\0';
	char *path = xasprintf("%s/locks/dump-%s.lock", run_history_state_dir(cfg), hex);
	long holder;
	bderr lerr;
	bderr_init(&lerr);
	int rc = lockfile_take(path, fd, &holder, &lerr);
	if (rc == 1) {
		bderr_set(err, "a dump of '%s' into '%s' is already running (pid %ld, lock '%s'): "
			       "not starting another",
			  name, repo_url, holder, path);
		rc = -1;
	} else if (rc < 0) {
		/* without a usable state-dir there is no lock: only say so when one was configured */
		if (config_get(config_find(cfg, "global", NULL), "state-dir"))
			log_warn("dump of '%s' runs without its lock: %s", name, lerr.msg);
		else
			log_debug("dump of '%s' runs without its lock: %s", name, lerr.msg);
		*fd = -1;
		rc = 0;
	}
	free(path);
	return rc;
}

int job_run(const config *cfg, const char *name, const progress_options *po, char **id,
	    bderr *err)
{
	*id = NULL;
	const config_section *js = config_find(cfg, "job", name);
	if (js == NULL)
		return bderr_usage(err, "no [job:%s] in %s", name, cfg ? cfg->path : "the configuration");
	/* a refused run is no run: it leaves no history line */
	char *lock_path = job_lock_path(cfg, name);
	int lock_fd;
	long holder;
	int lrc = lockfile_take(lock_path, &lock_fd, &holder, err);
	if (lrc == 1)
		bderr_set(err, "job %s is already running (pid %ld, lock '%s'): not starting it again",
			  name, holder, lock_path);
	else if (lrc < 0)
		bderr_prefix(err, "job %s: cannot take its lock", name);
	free(lock_path);
	if (lrc != 0)
		return -1;
	run_record rec = { .job = (char *)name, .start = time(NULL) };
	log_info("job %s: started", name);
	const char *kind = config_get(js, "kind");
	progress *prog = po ? progress_new(kind && strcmp(kind, "basebackup") == 0 ? "basebackup"
										   : "dump",
					       po)
			    : NULL;
	int rc = job_backup(cfg, js, prog, id, &rec, err);
	progress_free(prog); /* its terminal line goes before the end line and the ID */
	rec.end = time(NULL);
	rec.ok = rc == 0;
	rec.backup_id = *id;
	/* the message goes to the run history, status and webhooks: no credentials */
	if (rc != 0)
		log_redact(err->msg);
	rec.error = rc == 0 ? NULL : err->msg;
	bderr herr;
	bderr_init(&herr);
	if (run_history_append(cfg, &rec, &herr) < 0)
		log_warn("job %s: %s", name, herr.msg);
	/* the one end line per run: what an operator greps for */
	if (rc == 0)
		log_info("job %s: ok in %lds: backup %s, %" PRIu64 " bytes stored, %" PRIu64 " rows", name,
			 (long)(rec.end - rec.start), *id, rec.bytes, rec.rows);
	else
		log_error("job %s: failed in %lds: %s", name, (long)(rec.end - rec.start), err->msg);
	lockfile_release(lock_fd);
	return rc == 0 ? 0 : 1;
}

int job_command(program *p, bderr *err)
{
	if (p->cfg == NULL)
		return bderr_usage(err, "run needs a configuration file with [job:%s]",
				   p->args.positional[0]);
	const char *name = p->args.positional[0];
	log_set_job(name); /* JSON log lines carry it */
	/* before the run: its locks and history go there */
	if (run_history_check_state_dir(p->cfg, err) < 0)
		return -1;
	/* --notify: the job's notifications, as the daemon sends them for its runs */
	notify_set ns = { 0 };
	const config_section *js = config_find(p->cfg, "job", name);
	if (js && cli_has(&p->args, "notify") && notify_set_for_run(p->cfg, js, &ns, err) < 0)
		return -1;
	char host[256] = "unknown";
	gethostname(host, sizeof host - 1);
	webhook_run wr = { .job = name, .kind = js && config_get(js, "kind") ? config_get(js, "kind") : "dump",
			   .source = js ? config_get(js, "source") : NULL,
			   .repo = js ? config_get(js, "repo") : NULL, .started = time(NULL),
			   .attempt = 1, .hostname = host };
	notify_send(&ns, &wr, 1);
	/* its progress also goes to the state dir, for status and /metrics */
	gauges_progress_ctx gp = { p->cfg, name };
	progress_options po;
	if (program_progress_options(p, &po, err) < 0) {
		notify_set_free(&ns);
		return -1;
	}
	po.publish = gauges_record_progress;
	po.publish_ctx = &gp;
	char *id = NULL;
	int rc = job_run(p->cfg, name, &po, &id, err);
	if (rc == 0)
		printf("%s\n", id);
	if (ns.n) {
		run_record last = { 0 };
		int found = 0;
		bderr e;
		bderr_init(&e);
		if (run_history_last(p->cfg, name, &last, &found, &e) == 0 && found) {
			wr.bytes = last.bytes;
			wr.rows = last.rows;
		}
		wr.finished = time(NULL);
		wr.ok = rc == 0;
		wr.backup_id = id;
		wr.error = rc == 0 ? NULL : err->msg; /* redacted by job_run */
		notify_send(&ns, &wr, 0);
		run_record_free(&last);
	}
	notify_set_free(&ns);
	free(id);
	/* a run that failed has said so in its end line: exit 1 without a second copy */
	return rc > 0 ? (err->exit_code ? err->exit_code : EXIT_FAILURE_RUN) : rc;
}

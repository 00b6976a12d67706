/*
 * Every item is checked even after a failure: an operator fixing a config
 * wants the whole list of what is wrong, not one problem per run.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/repo.h"
#include "archive/wal.h"
#include "backupd/catalog.h"
#include "backupd/check.h"
#include "backupd/daemon.h"
#include "backupd/metrics_http.h"
#include "backupd/run_history.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/resolve.h"
#include "engines/follow.h"

typedef struct check_report {
	int json;
	json_t *items;     /* --json: the array printed at the end */
	int config_errors; /* exit 2 */
	int setup_errors;  /* exit 2: an item's own usage or config error */
	int failed;        /* exit 1 */
} check_report;

/*
 * One item: failed when e is set, else ok with an optional note in brackets.
 * An item that fails on what run or dump would exit 2 for (a bad port in a
 * URL, a password file of the wrong mode) is the operator's setup to fix, not
 * a server that is down: check exits 2 for it too, so that both agree.
 */
static void report(check_report *r, const char *what, const char *name, const bderr *e,
		   const char *note)
{
	int bad = e && bderr_isset(e);
	if (bad && strcmp(what, "config") == 0)
		r->config_errors++;
	else if (bad && e->exit_code == EXIT_USAGE)
		r->setup_errors++;
	else if (bad)
		r->failed = 1;
	if (r->json) {
		json_t *o = json_pack("{s:s, s:s?, s:s, s:s?}", "item", what, "name", name, "status",
				      bad ? "failed" : "ok", "message", bad ? e->msg : note);
		if (o)
			json_array_append_new(r->items, o);
		return;
	}
	const char *sep = name && *name ? " " : "";
	if (bad)
		printf("FAILED %s%s%s: %s\n", what, sep, name ? name : "", e->msg);
	else if (note)
		printf("ok     %s%s%s (%s)\n", what, sep, name ? name : "", note);
	else
		printf("ok     %s%s%s\n", what, sep, name ? name : "");
}

/* ---- repositories --------------------------------------------------------- */

/*
 * The nearest existing directory at or above path must let us create the rest
 * (a repository's first backup and the daemon's or a run's state-dir are made
 * with mkdir -p). what and name say what the path is for, in messages.
 */
static int creatable_dir(const char *what, const char *name, const char *path, bderr *err)
{
	char *dir = xstrdup(path);
	int rc = -1;
	for (;;) {
		struct stat st;
		if (stat(dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				bderr_set(err, "%s '%s' cannot be created: '%s' is not a directory", what,
					  name, dir);
			else if (access(dir, W_OK | X_OK) == 0)
				rc = 0;
			else
				bderr_sys(err, errno, "%s '%s' does not exist and '%s' is not writable",
					  what, name, dir);
			break;
		}
		char *up = path_dirname(dir);
		int top = strcmp(up, dir) == 0;
		free(dir);
		dir = up;
		if (top) {
			bderr_set(err, "%s '%s' does not exist and no parent directory does", what, name);
			break;
		}
	}
	free(dir);
	return rc;
}

static int local_location_writable(const char *url, bderr *err)
{
	const char *path = url;
	if (strncmp(path, "file://", 7) == 0) {
		path += 7;
		if (strncmp(path, "localhost/", 10) == 0)
			path += 9;
	}
	return creatable_dir("repository", url, path, err);
}

/*
 * 0 ok, 1 ok and new (nothing there yet, but the first backup can create it),
 * -1 failed.
 */
static int check_repo(const config *cfg, const char *name, bderr *err)
{
	repo_spec spec;
	if (resolve_repo(cfg, name, &spec, err) != 0)
		return -1;
	storage *s = NULL;
	repo *r = NULL;
	backup_list *l = NULL;
	storage_info info;
	int rc = storage_open(spec.url, &spec.opts, &s, err);
	if (rc == 0)
		rc = storage_info_get(s, REPO_MARKER, &info, err);
	if (rc == 0 && !info.exists) {
		/* on S3 a missing marker already proves the bucket answers */
		rc = strncmp(spec.url, "s3://", 5) == 0 ? 0 : local_location_writable(spec.url, err);
		if (rc == 0)
			rc = 1;
	} else if (rc == 0) {
		rc = repo_open_storage(s, 0, &r, err);
		s = NULL; /* owned by r, or freed on failure */
		if (rc == 0)
			rc = repo_backup_list(r, NULL, &l, err);
	}
	backup_list_free(l);
	repo_free(r);
	storage_free(s);
	repo_spec_free(&spec);
	return rc;
}

/* ---- sources ---------------------------------------------------------------- */

/* Is some job of this kind using source? */
static int source_has_job(const config *cfg, const char *source, const char *kind)
{
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const config_section *s = &cfg->sections[i];
		if (strcmp(s->type, "job") != 0 || strcmp(config_get(s, "source") ? config_get(s, "source") : "", source) != 0)
			continue;
		const char *k = config_get(s, "kind");
		if (strcmp(k ? k : "dump", kind) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether `dbrestore migrate --follow` could follow the source: a note, not
 * a failure (a source nobody migrates need not be followable).
 */
static void check_follow(check_report *r, const source_spec *src, const char *name)
{
	if (src->engine->follow == NULL || src->engine->follow->check == NULL)
		return;
	bderr e;
	bderr_init(&e);
	char note[256] = "";
	int ok = src->engine->follow->check(src->url, src->password, note, sizeof note, &e) == 0;
	if (r->json) {
		json_t *o = json_pack("{s:s, s:s?, s:s, s:s}", "item", "follow", "name", name, "status",
				      ok ? "ok" : "note", "message", ok ? note : e.msg);
		if (o)
			json_array_append_new(r->items, o);
	} else if (ok) {
		printf("ok     follow %s (%s)\n", name, note);
	} else {
		printf("note   follow %s: cannot be followed by migrate --follow: %s\n", name, e.msg);
	}
}

static void check_source(check_report *r, const config *cfg, const char *name)
{
	bderr e;
	bderr_init(&e);
	source_spec src;
	if (resolve_source(cfg, name, &src, &e) != 0) {
		report(r, "source", name, &e, NULL);
		return;
	}
	/* a bad url = is a config error: named by its line and key, like the others */
	const config_section *s = config_find(cfg, "source", name);
	if (s && src.engine->url_check && src.engine->url_check(src.url, &e) != 0) {
		config_key_error(cfg, s, "url", &e);
		report(r, "source", name, &e, NULL);
		source_spec_free(&src);
		return;
	}
	char note[256] = "";
	int rc = src.engine->check(src.url, src.password, note, sizeof note, &e);
	report(r, "source", name, rc == 0 ? NULL : &e, rc == 0 ? note : NULL);
	if (rc == 0)
		check_follow(r, &src, name);
	/* a base backup streams over a replication connection: checked for sources that need one */
	if (src.engine->check_physical && source_has_job(cfg, name, "basebackup")) {
		bderr_init(&e);
		rc = src.engine->check_physical(src.url, src.password, note, sizeof note, &e);
		report(r, "replication", name, rc == 0 ? NULL : &e, rc == 0 ? note : NULL);
	}
	source_spec_free(&src);
}

/* ---- WAL archiving ------------------------------------------------------------ */

/*
 * The repository of an archive nothing was pushed to yet is created by the
 * first wal-push: wait for it as for the segment.  0 open, 1 not there by
 * the deadline, -1 error.
 */
static int open_repo_by(const repo_spec *rs, time_t deadline, repo **r, bderr *err)
{
	storage *s = NULL;
	if (storage_open(rs->url, &rs->opts, &s, err) != 0)
		return -1;
	for (;;) {
		storage_info info;
		if (storage_info_get(s, REPO_MARKER, &info, err) != 0) {
			storage_free(s);
			return -1;
		}
		if (info.exists)
			return repo_open_storage(s, 0, r, err);
		if (time(NULL) >= deadline) {
			storage_free(s);
			return 1;
		}
		struct timespec pause = { 0, 200 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}

/*
 * Like pgbackrest check: write a restore point (so the segment is not empty),
 * switch, and wait until the switched segment is in the job's repository.
 */
static int check_wal(const config *cfg, const config_section *job, int timeout, char *note,
		     size_t len, bderr *err)
{
	source_spec src;
	if (resolve_source(cfg, config_get(job, "source"), &src, err) != 0)
		return -1;
	repo_spec rs;
	memset(&rs, 0, sizeof rs);
	repo *r = NULL;
	int rc = -1;
	char segment[64];
	if (src.engine->switch_wal == NULL) {
		bderr_usage(err, "source '%s' is a %s source: it has no WAL to archive", src.name,
			    src.engine->name);
		goto out;
	}
	if (resolve_repo(cfg, config_get(job, "repo"), &rs, err) != 0 ||
	    src.engine->switch_wal(src.url, src.password, segment, sizeof segment, err) != 0)
		goto out;
	time_t deadline = time(NULL) + timeout;
	int found = open_repo_by(&rs, deadline, &r, err);
	if (found == 0)
		found = wal_wait(r, src.name, segment, (int)(deadline - time(NULL)), err);
	if (found < 0)
		goto out;
	if (found == 1) {
		bderr_set(err,
			  "WAL segment %s did not reach repository '%s' within %d s: is archive_command "
			  "'backupd wal-push --repo ... --name %s %%p' set and working (see "
			  "pg_stat_archiver)?",
			  segment, config_get(job, "repo"), timeout, src.name);
		goto out;
	}
	snprintf(note, len, "segment %s archived", segment);
	rc = 0;
out:
	repo_free(r);
	repo_spec_free(&rs);
	source_spec_free(&src);
	return rc;
}

/* "FILE:LINE: ..." -> LINE, so that errors found by different passes read in file order */
static long error_line(const bderr *e, size_t path_len)
{
	return strlen(e->msg) > path_len ? atol(e->msg + path_len + 1) : 0;
}

static void sort_by_line(bderr_list *l, size_t path_len)
{
	for (size_t i = 1; i < l->n; i++) /* insertion sort: stable, and lists are short */
		for (size_t j = i; j > 0 && error_line(&l->items[j - 1], path_len) >
						     error_line(&l->items[j], path_len); j--) {
			bderr t = l->items[j];
			l->items[j] = l->items[j - 1];
			l->items[j - 1] = t;
		}
}

/* ---- the command ---------------------------------------------------------------- */

static int check_state_dir(const config *cfg, bderr *err)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const char *dir = g ? config_get(g, "state-dir") : NULL;
	if (dir == NULL)
		return 1; /* not configured: nothing to check */
	/* not a directory, or under a file: exit 2, as run and the daemon do */
	if (run_history_check_state_dir(cfg, err) < 0)
		return -1;
	struct stat st;
	int found = stat(dir, &st) == 0;
	if (!found && errno == ENOENT) {
		/* the first run or the daemon creates it: say so, as for a new repository */
		if (creatable_dir("state-dir", dir, dir, err) != 0)
			return -1;
		return 2;
	}
	if (access(dir, W_OK | X_OK) != 0)
		return bderr_sys(err, errno, "state-dir '%s' is not writable", dir);
	return 0;
}

/* An endpoint open beyond this host is allowed, but said (not a failure). */
/* The fleet catalog, when one is configured: reachable, initialised, of this version. */
static void check_catalog(check_report *r, const config *cfg)
{
	if (catalog_url(cfg) == NULL)
		return;
	const char *v = config_get(config_find(cfg, "global", NULL), "catalog-lease");
	long lease = v ? daemon_parse_duration(v) : CATALOG_LEASE_DEFAULT;
	char note[64];
	bderr e;
	bderr_init(&e);
	/* the URL is not printed: it may carry a password */
	int rc = catalog_check(cfg, lease > 0 ? lease : CATALOG_LEASE_DEFAULT, note, sizeof note, &e);
	report(r, "catalog", "", rc == 0 ? NULL : &e, rc == 0 ? note : NULL);
}

static void check_http_listen(check_report *r, const config *cfg)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const char *listen = g ? config_get(g, "http-listen") : NULL;
	char warning[512];
	if (listen == NULL || !metrics_listen_warning(listen, warning, sizeof warning))
		return;
	if (!r->json) {
		printf("WARNING %s\n", warning);
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "item", "http-listen", "name", listen,
			      "status", "warning", "message", warning);
	if (o)
		json_array_append_new(r->items, o);
}

int check_command(program *p, bderr *err)
{
	int wal_timeout;
	if (cli_int(&p->args, "wal-timeout", &wal_timeout, err) != 0)
		return -1;
	if (cli_has(&p->args, "wal-timeout") && !cli_has(&p->args, "wal"))
		return bderr_usage(err, "--wal-timeout goes with --wal");
	bderr_list config_errors = { NULL, 0 };
	if (program_load_config_all(p, &config_errors, err) != 0) {
		bderr_list_free(&config_errors);
		return -1; /* cannot be read at all */
	}
	if (p->cfg == NULL)
		return bderr_usage(err, "check needs a config file (-c FILE or $BACKUPD_CONFIG)");
	/* exactly what the daemon refuses at start, no more and no less */
	daemon_config_check(p->cfg, &config_errors);
	sort_by_line(&config_errors, strlen(p->cfg->path));

	check_report r = { .json = p->args.json, .items = json_array() };
	for (size_t i = 0; i < config_errors.n; i++)
		report(&r, "config", NULL, &config_errors.items[i], NULL);
	if (config_errors.n == 0)
		report(&r, "config", p->cfg->path, NULL, NULL);
	bderr_list_free(&config_errors);

	bderr e;
	bderr_init(&e);
	int state_rc = check_state_dir(p->cfg, &e);
	if (state_rc <= 0 || state_rc == 2)
		report(&r, "state-dir", "", &e,
		       state_rc == 2 ? "new: created by the first run or the daemon" : NULL);
	check_http_listen(&r, p->cfg);
	check_catalog(&r, p->cfg);
	for (size_t i = 0; i < p->cfg->n_sections; i++) {
		const config_section *s = &p->cfg->sections[i];
		bderr_init(&e);
		if (strcmp(s->type, "repo") == 0) {
			int rc = check_repo(p->cfg, s->name, &e);
			report(&r, "repo", s->name, rc < 0 ? &e : NULL,
			       rc == 1 ? "new: created by the first backup" : NULL);
		} else if (strcmp(s->type, "source") == 0) {
			check_source(&r, p->cfg, s->name);
		}
	}
	int wal_items = 0;
	for (size_t i = 0; cli_has(&p->args, "wal") && i < p->cfg->n_sections; i++) {
		const config_section *s = &p->cfg->sections[i];
		const char *kind = config_get(s, "kind");
		if (strcmp(s->type, "job") != 0 || kind == NULL || strcmp(kind, "basebackup") != 0 ||
		    config_find(p->cfg, "source", config_get(s, "source")) == NULL ||
		    config_find(p->cfg, "repo", config_get(s, "repo")) == NULL)
			continue;
		char note[128];
		bderr_init(&e);
		int rc = check_wal(p->cfg, s, wal_timeout, note, sizeof note, &e);
		report(&r, "wal", s->name, rc == 0 ? NULL : &e, rc == 0 ? note : NULL);
		wal_items++;
	}
	/* --wal asked for a proof that found nothing to prove: say so rather than stay silent */
	static const char no_wal[] = "nothing to check: no kind = basebackup job archives WAL";
	if (cli_has(&p->args, "wal") && wal_items == 0) {
		json_t *o = r.json ? json_pack("{s:s, s:s, s:s}", "item", "wal", "status", "note", "message", no_wal)
				   : NULL;
		if (o)
			json_array_append_new(r.items, o);
		else if (!r.json)
			printf("note   wal: %s\n", no_wal);
	}

	if (r.json) {
		char *text = json_dumps(r.items, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
	}
	json_decref(r.items);
	fflush(stdout);
	if (r.config_errors)
		return bderr_usage(err, "check: the config has %d error%s (see above)", r.config_errors,
				   plural_s(r.config_errors));
	if (r.setup_errors)
		return bderr_usage(err, "check: %d item%s failed on a config or usage error (see the items "
					"marked %s above)",
				   r.setup_errors, plural_s(r.setup_errors),
				   r.json ? "\"failed\"" : "FAILED");
	if (r.failed)
		return bderr_set(err, "check failed: see the items marked %s above",
				 r.json ? "\"failed\"" : "FAILED");
	return 0;
}

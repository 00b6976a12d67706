#include "backupd/gauges.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/manifest.h"
#include "archive/repo.h"
#include "backupd/run_history.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"

static char *gauge_dir(const config *cfg, const char *what, const char *name)
{
	char *dir = name ? xasprintf("%s/gauges/%s/%s", run_history_state_dir(cfg), what, name)
			 : xasprintf("%s/gauges/%s", run_history_state_dir(cfg), what);
	bderr e;
	bderr_init(&e);
	if (mkdir_p(dir, 0750, &e) < 0) {
		log_debug("no metrics figures: %s", e.msg);
		free(dir);
		return NULL;
	}
	return dir;
}

/* Replaces path with text (write, rename), so a reader sees old or new. */
static void put_file(const char *path, const char *text, int append)
{
	char *tmp = append ? xstrdup(path) : xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0640);
	size_t len = strlen(text);
	int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	if (ok && !append && rename(tmp, path) < 0)
		ok = 0;
	if (!ok) {
		log_debug("cannot record '%s' for metrics", path);
		if (!append)
			unlink(tmp);
	}
	free(tmp);
}

void gauges_record_wal(const config *cfg, const char *source, int ok, size_t waiting)
{
	char *dir = gauge_dir(cfg, "wal", source);
	if (dir == NULL)
		return;
	char *p = xasprintf("%s/%s", dir, ok ? "archived" : "failures");
	put_file(p, ok ? "archived\n" : "x", !ok);
	free(p);
	char n[32];
	snprintf(n, sizeof n, "%zu\n", waiting);
	p = xasprintf("%s/spool", dir);
	put_file(p, n, 0);
	free(p);
	free(dir);
}

void gauges_record_repo(const config *cfg, const char *repo_name, repo *r)
{
	backup_list *l = NULL;
	bderr e;
	bderr_init(&e);
	if (repo_name == NULL || repo_backup_list(r, NULL, &l, &e) < 0) {
		log_debug("repository size not measured: %s", e.msg);
		return;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].m)
			total += manifest_total_stored_size(l->items[i].m);
	backup_list_free(l);
	char *dir = gauge_dir(cfg, "repo", NULL);
	if (dir == NULL)
		return;
	char *p = xasprintf("%s/%s", dir, repo_name);
	char n[32];
	snprintf(n, sizeof n, "%" PRIu64 "\n", total);
	put_file(p, n, 0);
	free(p);
	free(dir);
}

void gauges_record_progress(void *ctx, const progress_snapshot *s, int final)
{
	const gauges_progress_ctx *g = ctx;
	char *dir = gauge_dir(g->cfg, "progress", NULL);
	if (dir == NULL)
		return;
	char *p = xasprintf("%s/%s", dir, g->job);
	if (final) {
		unlink(p);
	} else {
		json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:f, s:f}", "pid",
				      (json_int_t)getpid(), "what", s->what, "phase", s->phase,
				      "bytes_done", (json_int_t)s->bytes_done, "bytes_total",
				      (json_int_t)s->bytes_total, "objects_done",
				      (json_int_t)s->objects_done, "objects_total",
				      (json_int_t)s->objects_total, "estimated", s->estimated,
				      "started", (json_int_t)s->started, "elapsed", s->elapsed, "rate",
				      s->rate);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (text)
			put_file(p, text, 0);
		free(text);
		json_decref(o);
	}
	free(p);
	free(dir);
}

static uint64_t json_u64(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

int gauges_read_progress(const config *cfg, const char *job, progress_snapshot *s)
{
	memset(s, 0, sizeof *s);
	char *p = xasprintf("%s/gauges/progress/%s", run_history_state_dir(cfg), job);
	json_error_t je;
	struct stat st;
	json_t *o = stat(p, &st) == 0 ? json_load_file(p, 0, &je) : NULL;
	free(p);
	if (o == NULL)
		return 0;
	/*
	 * A run killed outright leaves its file: only a live pid's figures
	 * count, and only fresh ones (the run replaces them every couple of
	 * seconds; a stale file whose pid was reused is no run).
	 */
	long pid = (long)json_integer_value(json_object_get(o, "pid"));
	int live = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM) &&
		   time(NULL) - st.st_mtime <= GAUGES_PROGRESS_STALE;
	if (live) {
		const char *what = json_string_value(json_object_get(o, "what"));
		const char *phase = json_string_value(json_object_get(o, "phase"));
		snprintf(s->what, sizeof s->what, "%s", what ? what : "run");
		snprintf(s->phase, sizeof s->phase, "%s", phase ? phase : "");
		s->bytes_done = json_u64(o, "bytes_done");
		s->bytes_total = json_u64(o, "bytes_total");
		s->objects_done = json_u64(o, "objects_done");
		s->objects_total = json_u64(o, "objects_total");
		s->estimated = json_is_true(json_object_get(o, "estimated"));
		s->started = (time_t)json_integer_value(json_object_get(o, "started"));
		s->elapsed = json_number_value(json_object_get(o, "elapsed"));
		s->rate = json_number_value(json_object_get(o, "rate"));
	}
	json_decref(o);
	return live;
}

json_t *gauges_progress_json(const progress_snapshot *s)
{
	char started[32];
	format_rfc3339(s->started, started, sizeof started);
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:f, s:f}", "what", s->what,
			      "started", started, "bytes_done", (json_int_t)s->bytes_done,
			      "bytes_total", (json_int_t)s->bytes_total, "bytes_total_estimated",
			      s->estimated, "objects_done", (json_int_t)s->objects_done,
			      "objects_total", (json_int_t)s->objects_total, "elapsed_seconds",
			      s->elapsed, "bytes_per_second", s->rate);
	if (o)
		json_object_set_new(o, "phase", s->phase[0] ? json_string(s->phase) : json_null());
	return o ? o : json_null();
}

static uint64_t read_number(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long v = 0;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return (uint64_t)v;
}

/* Names in dir (skipping dot files and temporaries), sorted; NULL-terminated. */
static char **names_in(const char *dir, size_t *n)
{
	*n = 0;
	char **v = NULL;
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0))
			continue;
		v = xrealloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++) /* few entries: insertion sort */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v;
}

void gauges_load(const config *cfg, metrics_snapshot *s)
{
	const char *state = run_history_state_dir(cfg);
	char *dir = xasprintf("%s/gauges/wal", state);
	size_t n;
	char **names = names_in(dir, &n);
	s->wal = n ? xcalloc(n, sizeof *s->wal) : NULL;
	for (size_t i = 0; i < n; i++) {
		metrics_wal *w = &s->wal[s->n_wal++];
		w->source = names[i];
		struct stat st;
		char *p = xasprintf("%s/%s/archived", dir, names[i]);
		w->last_archived = stat(p, &st) == 0 ? st.st_mtime : 0;
		free(p);
		p = xasprintf("%s/%s/failures", dir, names[i]);
		w->failures_total = stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
		free(p);
		p = xasprintf("%s/%s/spool", dir, names[i]);
		w->spool_segments = read_number(p);
		free(p);
	}
	free(names);
	free(dir);
	dir = xasprintf("%s/gauges/repo", state);
	names = names_in(dir, &n);
	s->repos = n ? xcalloc(n, sizeof *s->repos) : NULL;
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		s->repos[s->n_repos].repo = names[i];
		s->repos[s->n_repos++].bytes = read_number(p);
		free(p);
	}
	free(names);
	free(dir);
	for (size_t i = 0; i < s->n_jobs; i++) {
		metrics_job *j = &s->jobs[i];
		progress_snapshot ps;
		if (!j->running || !gauges_read_progress(cfg, j->name, &ps))
			continue;
		j->has_progress = 1;
		j->progress_bytes_done = ps.bytes_done;
		j->progress_bytes_total = ps.bytes_total;
		j->progress_objects_done = ps.objects_done;
		j->progress_objects_total = ps.objects_total;
	}
}

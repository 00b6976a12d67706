#include "backupd/run_history.h"

#include "backupd/gauges.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/manifest.h"
#include "backupd/gauges.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "policies/cron.h"

/* The tail read for the last entry: far more than one line ever needs. */
#define HISTORY_TAIL_BYTES 65536

void run_record_free(run_record *r)
{
	if (r == NULL)
		return;
	free(r->job);
	free(r->backup_id);
	free(r->error);
	memset(r, 0, sizeof *r);
}

const char *run_history_state_dir(const config *cfg)
{
	const char *d = config_get(config_find(cfg, "global", NULL), "state-dir");
	return d && *d ? d : STATE_DIR_DEFAULT;
}

int run_history_check_state_dir(const config *cfg, bderr *err)
{
	return dir_place_check("state-dir", run_history_state_dir(cfg), err);
}

static char *history_path(const config *cfg, const char *job)
{
	return xasprintf("%s/history/%s.jsonl", run_history_state_dir(cfg), job);
}

int run_history_append(const config *cfg, const run_record *r, bderr *err)
{
	char start[32], end[32];
	format_rfc3339(r->start, start, sizeof start);
	format_rfc3339(r->end, end, sizeof end);
	json_t *j = json_object();
	json_object_set_new(j, "job", json_string(r->job));
	json_object_set_new(j, "start", json_string(start));
	json_object_set_new(j, "end", json_string(end));
	json_object_set_new(j, "duration", json_integer((json_int_t)(r->end - r->start)));
	json_object_set_new(j, "result", json_string(r->ok ? "ok" : "failed"));
	json_object_set_new(j, "backup_id", r->backup_id ? json_string(r->backup_id) : json_null());
	json_object_set_new(j, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(j, "rows", json_integer((json_int_t)r->rows));
	json_object_set_new(j, "error", r->error ? json_string(r->error) : json_null());
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return bderr_set(err, "cannot record run of job '%s': out of memory", r->job);
	char *line = xasprintf("\n%s\n", text);
	free(text);

	char *dir = xasprintf("%s/history", run_history_state_dir(cfg));
	char *path = history_path(cfg, r->job);
	int rc = -1;
	if (mkdir_p(dir, 0750, err) < 0)
		goto out;
	/* read-write only to look at the last byte: writes still go to the end */
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		bderr_sys(err, errno, "cannot open run history '%s'", path);
		goto out;
	}
	/*
	 * A writer killed mid-write leaves a last line without its newline; a
	 * record written straight after it would be glued onto it and lost to
	 * every reader (the joined line does not parse). Start on a line of our
	 * own: the torn line stays behind, skipped by the readers. Two appenders
	 * that both see the torn end leave an empty line, which readers skip too.
	 */
	const char *rec = line + 1; /* line starts with a newline we may not need */
	struct stat st;
	char last;
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
		log_warn("run history '%s' ends in a partial line (a run killed while recording "
			 "it?): left as it is, this run's record starts on a new line",
			 path);
		rec = line;
	}
	/* one write: concurrent appenders (daemon and a manual run) never interleave */
	size_t len = strlen(rec);
	ssize_t w = write(fd, rec, len);
	if (w != (ssize_t)len) {
		bderr_sys(err, w < 0 ? errno : EIO, "cannot write run history '%s'", path);
		close(fd);
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		bderr_sys(err, errno, "cannot write run history '%s'", path);
		goto out;
	}
	rc = 0;
out:
	free(line);
	free(dir);
	free(path);
	return rc;
}

static int parse_record(const char *line, const char *job, run_record *out)
{
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return -1;
	}
	const char *start = json_string_value(json_object_get(j, "start"));
	const char *end = json_string_value(json_object_get(j, "end"));
	const char *result = json_string_value(json_object_get(j, "result"));
	if (!start || !end || !result || parse_rfc3339(start, &out->start) < 0 ||
	    parse_rfc3339(end, &out->end) < 0) {
		json_decref(j);
		return -1;
	}
	out->job = xstrdup(job);
	out->ok = strcmp(result, "ok") == 0;
	const char *id = json_string_value(json_object_get(j, "backup_id"));
	out->backup_id = id ? xstrdup(id) : NULL;
	json_t *b = json_object_get(j, "bytes");
	out->bytes = json_is_integer(b) ? (uint64_t)json_integer_value(b) : 0;
	json_t *rows = json_object_get(j, "rows"); /* absent in older histories */
	out->rows = json_is_integer(rows) ? (uint64_t)json_integer_value(rows) : 0;
	const char *e = json_string_value(json_object_get(j, "error"));
	out->error = e ? xstrdup(e) : NULL;
	json_decref(j);
	return 0;
}

/* The last entry that parses (and succeeded, with ok_only) within the tail. */
static int history_last(const config *cfg, const char *job, int ok_only, run_record *out,
			int *found, bderr *err)
{
	memset(out, 0, sizeof *out);
	*found = 0;
	char *path = history_path(cfg, job);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(path);
		if (e == ENOENT)
			return 0;
		return bderr_sys(err, e, "cannot open run history of job '%s'", job);
	}
	struct stat st;
	char *buf = NULL;
	int rc = -1;
	if (fstat(fd, &st) < 0) {
		bderr_sys(err, errno, "cannot read run history '%s'", path);
		goto out;
	}
	/* months of runs: only the tail matters */
	off_t from = st.st_size > HISTORY_TAIL_BYTES ? st.st_size - HISTORY_TAIL_BYTES : 0;
	size_t want = (size_t)(st.st_size - from);
	buf = xmalloc(want + 1);
	size_t got = 0;
	if (fd_pread_full(fd, buf, want, from, &got, path, err) < 0) {
		bderr_sys(err, err->sys_errno, "cannot read run history '%s'", path); /* its own words, as before */
		goto out;
	}
	buf[got] = '\0';
	/* the last line that parses: a torn last line (crash mid-write) is skipped */
	while (got > 0) {
		while (got > 0 && buf[got - 1] == '\n')
			buf[--got] = '\0';
		char *nl = strrchr(buf, '\n');
		char *line = nl ? nl + 1 : buf;
		if (*line && parse_record(line, job, out) == 0) {
			if (!ok_only || out->ok) {
				*found = 1;
				break;
			}
			run_record_free(out);
		}
		if (nl == NULL)
			break;
		*nl = '\0';
		got = (size_t)(nl - buf);
	}
	rc = 0;
out:
	free(buf);
	free(path);
	close(fd);
	return rc;
}

int run_history_last(const config *cfg, const char *job, run_record *out, int *found,
		     bderr *err)
{
	return history_last(cfg, job, 0, out, found, err);
}

int run_history_last_ok(const config *cfg, const char *job, run_record *out, int *found,
			bderr *err)
{
	return history_last(cfg, job, 1, out, found, err);
}

int status_command(program *p, bderr *err)
{
	if (p->cfg == NULL)
		return bderr_usage(err, "status needs a configuration file (-c FILE)");
	if (run_history_check_state_dir(p->cfg, err) < 0)
		return -1;
	const char *tz = config_get(config_find(p->cfg, "global", NULL), "time-zone");
	time_t now = time(NULL);
	json_t *arr = p->args.json ? json_array() : NULL;
	int rc = 0;
	if (!arr)
		printf("%-24s %-8s %-20s %9s %-22s %-20s\n", "JOB", "LAST", "STARTED", "DURATION",
		       "BACKUP", "NEXT");
	for (size_t i = 0; i < p->cfg->n_sections && rc == 0; i++) {
		const config_section *s = &p->cfg->sections[i];
		if (strcmp(s->type, "job") != 0)
			continue;
		run_record last;
		int found;
		if (run_history_last(p->cfg, s->name, &last, &found, err) < 0) {
			rc = -1;
			break;
		}
		char next_s[32] = "-", start_s[32] = "-";
		const char *expr = config_get(s, "schedule");
		int has_next = 0;
		time_t next = 0;
		if (expr) {
			cron_schedule *cs = NULL;
			if (cron_parse(expr, &cs, err) < 0 || cron_next(cs, now, tz, &next, err) < 0) {
				cron_free(cs);
				config_key_error(p->cfg, s, "schedule", err);
				run_record_free(&last);
				rc = -1;
				break;
			}
			cron_free(cs);
			has_next = 1;
			format_rfc3339(next, next_s, sizeof next_s);
		}
		if (found)
			format_rfc3339(last.start, start_s, sizeof start_s);
		/* a run in progress on this host left its figures in the state dir */
		progress_snapshot ps;
		int running = gauges_read_progress(p->cfg, s->name, &ps);
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "job", json_string(s->name));
			json_object_set_new(o, "running", running ? gauges_progress_json(&ps) : json_null());
			json_object_set_new(o, "next", has_next ? json_string(next_s) : json_null());
			if (found) {
				char end_s[32];
				format_rfc3339(last.end, end_s, sizeof end_s);
				json_object_set_new(
					o, "last",
					json_pack("{s:s, s:s, s:I, s:s, s:o, s:I, s:I, s:o}", "start",
						  start_s, "end", end_s, "duration",
						  (json_int_t)(last.end - last.start), "result",
						  last.ok ? "ok" : "failed", "backup_id",
						  last.backup_id ? json_string(last.backup_id) : json_null(),
						  "bytes", (json_int_t)last.bytes, "rows",
						  (json_int_t)last.rows, "error",
						  last.error ? json_string(last.error) : json_null()));
			} else {
				json_object_set_new(o, "last", json_null());
			}
			json_array_append_new(arr, o);
		} else {
			char dur[32] = "-";
			if (found)
				snprintf(dur, sizeof dur, "%lds", (long)(last.end - last.start));
			printf("%-24s %-8s %-20s %9s %-22s %-20s\n", s->name,
			       found ? (last.ok ? "ok" : "failed") : "never", start_s, dur,
			       found && last.backup_id ? last.backup_id : "-", next_s);
			if (found && !last.ok && last.error)
				printf("    error: %s\n", last.error);
			if (running) {
				char line[512];
				progress_format_line(&ps, line, sizeof line);
				printf("    running: %s\n", line);
			}
		}
		run_record_free(&last);
	}
	if (arr) {
		if (rc == 0) {
			char *text = json_dumps(arr, JSON_INDENT(2));
			printf("%s\n", text);
			free(text);
		}
		json_decref(arr);
	}
	return rc;
}

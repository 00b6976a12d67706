#include "backupd/expire.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

int expire_policy_empty(const retention_policy *p)
{
	return p->keep_last == 0 && p->keep_hourly == 0 && p->keep_daily == 0 &&
	       p->keep_weekly == 0 && p->keep_monthly == 0 && p->keep_yearly == 0 &&
	       p->max_age_days == 0;
}

/* "20261121T101324Z[-2]" -> UTC time; 0 for anything backupd did not write. */
static time_t id_time(const char *id)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(id, "%Y%m%dT%H%M%SZ", &tm);
	if (end == NULL || (*end != '\0' && *end != '-'))
		return 0;
	return timegm(&tm);
}

typedef struct path_list {
	char **paths;
	size_t n, cap;
} path_list;

static int collect_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)size;
	(void)err;
	path_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->paths = xrealloc(l->paths, l->cap * sizeof *l->paths);
	}
	l->paths[l->n++] = xstrdup(path);
	return 0;
}

int expire_remove_backup(repo *r, const char *name, const char *id, bderr *err)
{
	storage *s = repo_storage(r);
	char *prefix = repo_backup_path(name, id, NULL);
	char *manifest_path = repo_backup_path(name, id, "manifest.json");
	char *started_path = repo_backup_path(name, id, "backup.started");
	path_list l = { 0 };
	int rc = -1;
	if (storage_list(s, prefix, collect_cb, &l, err) < 0)
		goto out;
	/* the commit record goes first: from here on the backup is merely incomplete */
	if (storage_remove(s, manifest_path, err) < 0)
		goto out;
	/* the objects in as few requests as the storage allows (S3: 1000 keys per request) */
	size_t k = 0;
	for (size_t i = 0; i < l.n; i++) {
		char *p = l.paths[i];
		l.paths[i] = NULL;
		if (strcmp(p, manifest_path) == 0 || strcmp(p, started_path) == 0)
			free(p);
		else
			l.paths[k++] = p;
	}
	if (storage_remove_many(s, (const char *const *)l.paths, k, err) < 0)
		goto out;
	/* last: while objects remain, the backup stays visible as incomplete */
	if (storage_remove(s, started_path, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		bderr_prefix(err, "cannot remove backup '%s' of '%s'", id, name);
	for (size_t i = 0; i < l.n; i++)
		free(l.paths[i]);
	free(l.paths);
	free(prefix);
	free(manifest_path);
	free(started_path);
	return rc;
}

static void say(FILE *out, const char *fmt, ...) BD_PRINTF(2, 3);
static void say(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (out) {
		vfprintf(out, fmt, ap);
		fputc('\n', out);
	} else {
		char line[512];
		vsnprintf(line, sizeof line, fmt, ap);
		log_info("%s", line);
	}
	va_end(ap);
}

/* Applies the policy to items[first, last): one name's backups. */
static int expire_name(repo *r, const expire_options *o, const backup_list *bl, size_t first,
		       size_t last, FILE *out, expire_stats *st, bderr *err)
{
	size_t n = last - first;
	retention_item *items = xcalloc(n ? n : 1, sizeof *items);
	retention_result *res = xcalloc(n ? n : 1, sizeof *res);
	size_t *index = xcalloc(n ? n : 1, sizeof *index);
	size_t n_complete = 0;
	for (size_t i = first; i < last; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->m == NULL)
			continue;
		items[n_complete].id = e->id;
		items[n_complete].time = e->m->started;
		index[n_complete++] = i;
	}
	retention_apply(&o->policy, items, n_complete, o->now, res);
	const char *verb = o->dry_run ? "would remove" : "remove";
	int rc = 0;
	for (size_t k = 0; k < n_complete && rc == 0; k++) {
		const backup_entry *e = &bl->items[index[k]];
		char why[128];
		retention_reasons_str(res[k].reasons, why, sizeof why);
		if (res[k].keep) {
			say(out, "keep %s %s (%s)", e->name, e->id, why);
			st->kept++;
			continue;
		}
		say(out, "%s %s %s%s%s%s", verb, e->name, e->id, why[0] ? " (" : "", why,
		    why[0] ? ")" : "");
		if (!o->dry_run)
			rc = expire_remove_backup(r, e->name, e->id, err);
		if (rc == 0)
			st->removed++;
	}
	for (size_t i = first; i < last && rc == 0; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->m != NULL)
			continue;
		time_t t = id_time(e->id);
		if (t == 0 || o->now - t <= o->incomplete_grace) {
			say(out, "keep %s %s (incomplete, may still be running)", e->name, e->id);
			continue;
		}
		say(out, "%s %s %s (incomplete, older than %ld hours)", verb, e->name, e->id,
		    (long)(o->incomplete_grace / 3600));
		if (!o->dry_run)
			rc = expire_remove_backup(r, e->name, e->id, err);
		if (rc == 0)
			st->incomplete_removed++;
	}
	free(items);
	free(res);
	free(index);
	return rc;
}

int expire_run(repo *r, const expire_options *o, FILE *out, expire_stats *st, bderr *err)
{
	expire_stats local = { 0 };
	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof *st);
	if (expire_policy_empty(&o->policy))
		return bderr_usage(err, "expire needs at least one rule (--keep-last, --keep-daily, "
					"..., --max-age): it never guesses");
	backup_list *bl = NULL;
	if (repo_backup_list(r, o->name, &bl, err) < 0)
		return -1;
	int rc = 0;
	/* the list is sorted by name: each run of equal names is one policy domain */
	for (size_t first = 0; first < bl->n && rc == 0;) {
		size_t last = first + 1;
		while (last < bl->n && strcmp(bl->items[last].name, bl->items[first].name) == 0)
			last++;
		rc = expire_name(r, o, bl, first, last, out, st, err);
		first = last;
	}
	backup_list_free(bl);
	return rc;
}

int expire_command(program *p, bderr *err)
{
	if (p->args.n_positional > 0)
		return bderr_usage(err, "expire takes no arguments, got '%s'", p->args.positional[0]);
	expire_options o;
	memset(&o, 0, sizeof o);
	/* the options are the retention rules' own names: --keep-daily, --max-age ... */
	for (size_t i = 0; i < retention_rule_count(); i++) {
		if (cli_get_int(&p->args, retention_rule_name(i), 0, 1, 1000000,
				retention_rule_field(&o.policy, i), err) < 0)
			return -1;
	}
	if (expire_policy_empty(&o.policy))
		return bderr_usage(err, "expire needs at least one rule (--keep-last, --keep-hourly, "
					"--keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, "
					"--max-age): it never guesses");
	o.name = cli_get(&p->args, "name");
	o.dry_run = cli_has(&p->args, "dry-run");
	o.now = time(NULL);
	o.incomplete_grace = EXPIRE_INCOMPLETE_GRACE;
	repo *r = NULL;
	if (program_open_repo(p, 0, &r, err) < 0)
		return -1;
	expire_stats st;
	int rc = expire_run(r, &o, stdout, &st, err);
	if (rc == 0)
		printf("%s%zu kept, %zu removed, %zu incomplete removed\n",
		       o.dry_run ? "dry run: " : "", st.kept, st.removed, st.incomplete_removed);
	repo_free(r);
	return rc;
}

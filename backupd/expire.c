#include "backupd/expire.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "archive/wal.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pg_base_format.h"
#include "policies/wal_prune.h"

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
		log_status_line(NULL); /* a terminal's progress line makes way; the next tick redraws it */
		vfprintf(out, fmt, ap);
		fputc('\n', out);
	} else {
		char line[512];
		vsnprintf(line, sizeof line, fmt, ap);
		log_info("%s", line);
	}
	va_end(ap);
}

static const char *kind_of(const backup_entry *e)
{
	return e->m->kind ? e->m->kind : "dump";
}

/*
 * Applies the policy to the complete backups of one kind among
 * items[first, last): dumps and base backups are separate retention domains,
 * so keep-last=7 keeps seven of each and never trades the newest base backup
 * (which WAL pruning hangs on) for a dump.  keep[i - first] is set for those
 * kept.
 */
/* The index of the backup e builds on within items[first, last), or (size_t)-1. */
static size_t parent_of(const backup_list *bl, size_t first, size_t last, const backup_entry *e)
{
	pg_base_info bi;
	bderr ignored;
	bderr_init(&ignored);
	size_t found = (size_t)-1;
	if (pg_base_info_parse(e->m->info, &bi, &ignored) < 0)
		return found;
	for (size_t i = first; i < last && bi.incremental_of && found == (size_t)-1; i++)
		if (bl->items[i].m && strcmp(bl->items[i].id, bi.incremental_of) == 0)
			found = i;
	pg_base_info_clear(&bi);
	return found;
}

static int expire_kind(repo *r, const expire_options *o, const backup_list *bl, size_t first,
		       size_t last, const char *kind, int *keep, FILE *out, expire_stats *st,
		       bderr *err)
{
	size_t n = last - first;
	retention_item *items = xcalloc(n ? n : 1, sizeof *items);
	retention_result *res = xcalloc(n ? n : 1, sizeof *res);
	size_t *index = xcalloc(n ? n : 1, sizeof *index);
	/*
	 * An incremental base backup and the backups it builds on are one chain:
	 * the keep rules count the chain once, at the time of its newest member,
	 * and keep or remove it whole, so nothing a kept incremental needs goes.
	 */
	size_t *chain = xcalloc(n ? n : 1, sizeof *chain); /* entry -> its chain's item */
	size_t *entry = xcalloc(n ? n : 1, sizeof *entry); /* entries of this kind */
	size_t n_kind = 0, n_items = 0;
	int any_incremental = 0;
	for (size_t i = first; i < last; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->m == NULL || strcmp(kind_of(e), kind) != 0)
			continue;
		size_t root = i, hops = 0, p;
		while ((p = parent_of(bl, first, last, &bl->items[root])) != (size_t)-1 && hops++ < n) {
			root = p;
			any_incremental = 1;
		}
		size_t item = n_items;
		for (size_t k = 0; k < n_items; k++)
			if (index[k] == root)
				item = k;
		if (item == n_items) {
			items[n_items].id = bl->items[root].id;
			items[n_items].time = bl->items[root].m->started;
			index[n_items++] = root;
		}
		if (e->m->started > items[item].time)
			items[item].time = e->m->started;
		chain[n_kind] = item;
		entry[n_kind++] = i;
	}
	retention_apply(&o->policy, items, n_items, o->now, res);
	const char *verb = o->dry_run ? "would remove" : "remove";
	int rc = 0;
	/* with chains, newest first: an incremental goes before what it builds on */
	for (size_t j = 0; j < n_kind && rc == 0; j++) {
		size_t k = any_incremental ? n_kind - 1 - j : j;
		const backup_entry *e = &bl->items[entry[k]];
		const retention_result *rr = &res[chain[k]];
		progress_add(repo_progress(r), 0, 1);
		char why[128];
		retention_reasons_str(rr->reasons, why, sizeof why);
		const char *in_chain = index[chain[k]] != entry[k] ? ", chain of " : "";
		const char *root_id = index[chain[k]] != entry[k] ? bl->items[index[chain[k]]].id : "";
		if (rr->keep) {
			say(out, "keep %s %s (%s%s%s)", e->name, e->id, why, in_chain, root_id);
			keep[entry[k] - first] = 1;
			st->kept++;
			continue;
		}
		say(out, "%s %s %s%s%s%s%s%s", verb, e->name, e->id, why[0] ? " (" : "", why, in_chain,
		    root_id, why[0] ? ")" : "");
		if (!o->dry_run)
			rc = expire_remove_backup(r, e->name, e->id, err);
		if (rc == 0)
			st->removed++;
	}
	free(items);
	free(res);
	free(index);
	free(chain);
	free(entry);
	return rc;
}

/*
 * Removes archived WAL older than the oldest kept base backup's start
 * segment (policies/wal_prune.h says what goes).  keep marks the kept
 * backups of items[first, last).
 */
static int expire_wal(repo *r, const expire_options *o, const backup_list *bl, size_t first,
		      size_t last, const int *keep, FILE *out, expire_stats *st, bderr *err)
{
	const char *name = bl->items[first].name;
	char oldest_buf[25];
	const char *oldest = NULL;
	for (size_t i = first; i < last; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->damaged) {
			/* its WAL needs are unknown (it may be a base backup): prune nothing */
			say(out, "keep all WAL of %s (backup %s is damaged)", name, e->id);
			return 0;
		}
		if (e->m == NULL || !keep[i - first] || strcmp(kind_of(e), "basebackup") != 0)
			continue;
		pg_base_info bi;
		bderr why;
		bderr_init(&why);
		if (pg_base_info_parse(e->m->info, &bi, &why) < 0) {
			/* a base backup whose needs are unknown: prune nothing rather than guess */
			say(out, "keep all WAL of %s (base backup %s: %s)", name, e->id, why.msg);
			return 0;
		}
		/* positions are fixed-width hex after the 8-character timeline */
		if (oldest == NULL || strcmp(bi.wal_start_segment + 8, oldest + 8) < 0)
			oldest = memcpy(oldest_buf, bi.wal_start_segment, sizeof oldest_buf);
		pg_base_info_clear(&bi);
	}
	if (oldest == NULL)
		return 0; /* no base backup: nobody can say what WAL a restore needs */
	wal_object_list *wl = NULL;
	if (wal_list(r, name, &wl, err) < 0)
		return bderr_prefix(err, "cannot list the WAL archive of '%s'", name);
	const char **files = xcalloc(wl->n ? wl->n : 1, sizeof *files);
	const char **paths = xcalloc(wl->n ? wl->n : 1, sizeof *paths);
	int *remove = xcalloc(wl->n ? wl->n : 1, sizeof *remove);
	for (size_t i = 0; i < wl->n; i++)
		files[i] = wl->items[i].name.file;
	int rc = 0;
	long n_remove = wal_prune_decide(files, wl->n, oldest, remove, err);
	if (n_remove < 0) {
		rc = -1;
		goto out;
	}
	size_t n_paths = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < wl->n; i++) {
		if (!remove[i])
			continue;
		if (out)
			say(out, "%s %s wal %s", o->dry_run ? "would remove" : "remove", name, files[i]);
		paths[n_paths++] = wl->items[i].path;
		bytes += wl->items[i].stored_size;
	}
	if (n_paths > 0 && !o->dry_run && storage_remove_many(repo_storage(r), paths, n_paths, err) < 0) {
		rc = bderr_prefix(err, "cannot remove WAL of '%s'", name);
		goto out;
	}
	say(out, "%s %zu WAL file%s of %s (%" PRIu64 " bytes stored) older than %s, the start of "
		 "the oldest kept base backup",
	    o->dry_run ? "would remove" : "removed", n_paths, plural_s(n_paths), name, bytes, oldest);
	st->wal_removed += n_paths;
out:
	free(files);
	free(paths);
	free(remove);
	wal_object_list_free(wl);
	return rc;
}

/* Applies the policy to items[first, last): one name's backups. */
static int expire_name(repo *r, const expire_options *o, const backup_list *bl, size_t first,
		       size_t last, FILE *out, expire_stats *st, bderr *err)
{
	size_t n = last - first;
	int *keep = xcalloc(n ? n : 1, sizeof *keep);
	int rc = 0;
	/* each kind present, once, in the order first seen */
	for (size_t i = first; i < last && rc == 0; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->m == NULL)
			continue;
		int seen = 0;
		for (size_t k = first; k < i && !seen; k++)
			seen = bl->items[k].m && strcmp(kind_of(&bl->items[k]), kind_of(e)) == 0;
		if (!seen)
			rc = expire_kind(r, o, bl, first, last, kind_of(e), keep, out, st, err);
	}
	const char *verb = o->dry_run ? "would remove" : "remove";
	for (size_t i = first; i < last && rc == 0; i++) {
		const backup_entry *e = &bl->items[i];
		if (e->m != NULL)
			continue;
		progress_add(repo_progress(r), 0, 1);
		if (e->damaged) {
			/* not complete (never counted) and not incomplete (never removed): a human decides */
			say(out, "keep %s %s (damaged: its manifest cannot be read)", e->name, e->id);
			continue;
		}
		/* a writer proven dead goes at once; one that may still run gets the grace */
		char who[300];
		time_t t = id_time(e->id);
		if (repo_backup_writer_gone(r, e->name, e->id, who, sizeof who)) {
			say(out, "%s %s %s (incomplete, its writer %s is gone)", verb, e->name, e->id,
			    who);
		} else if (t == 0 || o->now - t <= o->incomplete_grace) {
			say(out, "keep %s %s (incomplete, may still be running)", e->name, e->id);
			continue;
		} else {
			say(out, "%s %s %s (incomplete, older than %ld hours)", verb, e->name, e->id,
			    (long)(o->incomplete_grace / 3600));
		}
		if (!o->dry_run)
			rc = expire_remove_backup(r, e->name, e->id, err);
		if (rc == 0)
			st->incomplete_removed++;
	}
	if (rc == 0)
		rc = expire_wal(r, o, bl, first, last, keep, out, st, err);
	free(keep);
	return rc;
}

/* One object is enough to say the name is not empty: the listing stops there. */
static int found_object(void *ctx, const char *path, uint64_t size, bderr *err)
{
	(void)path;
	(void)size;
	(void)err;
	*(int *)ctx = 1;
	return STORAGE_LIST_STOP;
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
	/*
	 * Temp files of writers that died first: an incomplete backup removed
	 * below then leaves no directory behind.  A live writer's are never
	 * touched (the storage driver knows how to tell).
	 */
	if (!o->dry_run) {
		char *prefix = o->name ? xasprintf("%s/", o->name) : xstrdup("");
		int src = storage_sweep(repo_storage(r), prefix, o->now - o->incomplete_grace,
					&st->temp_removed, err);
		free(prefix);
		if (src < 0)
			return bderr_prefix(err, "cannot remove leftover temp files");
		if (st->temp_removed > 0)
			say(out, "removed %zu temp file%s of writers that died", st->temp_removed,
			    plural_s(st->temp_removed));
	}
	backup_list *bl = NULL;
	progress_phase(repo_progress(r), "listing backups");
	if (repo_backup_list(r, o->name, &bl, err) < 0)
		return -1;
	/*
	 * A --name with nothing under it (a typo, or the name of another
	 * repository) must not exit 0: retention that never applies looks,
	 * to whoever watches the exit code, like retention applied.  Anything
	 * at all under the name (WAL, a dead writer's temp files) is a name.
	 */
	if (o->name && bl->n == 0 && st->temp_removed == 0) {
		int found = 0;
		char *prefix = xasprintf("%s/", o->name);
		int lrc = storage_list(repo_storage(r), prefix, found_object, &found, err);
		free(prefix);
		backup_list_free(bl);
		if (lrc < 0)
			return -1;
		if (!found)
			return bderr_set(err, "nothing of '%s' in %s to expire: no backups and no WAL "
					      "under that name (is it spelt as in backupd list?)",
					 o->name, repo_url(r));
		return 0;
	}
	/* progress counts the manifests read (by the listing), then the backups decided */
	progress_add_total(repo_progress(r), 0, bl->n);
	progress_phase(repo_progress(r), o->dry_run ? NULL : "removing");
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
	expire_options o;
	memset(&o, 0, sizeof o);
	/* the options are the retention rules' own names: --keep-daily, --max-age ... */
	for (size_t i = 0; i < retention_rule_count(); i++) {
		if (cli_int(&p->args, retention_rule_name(i), retention_rule_field(&o.policy, i),
			    err) < 0)
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
	progress *prog = NULL;
	if (program_progress(p, "expire", &prog, err) < 0 || program_open_repo(p, 0, &r, err) < 0) {
		progress_free(prog);
		return -1;
	}
	repo_set_progress(r, prog);
	expire_stats st;
	int rc = expire_run(r, &o, stdout, &st, err);
	progress_free(prog);
	if (rc == 0)
		printf("%s%zu kept, %zu removed, %zu incomplete removed, %zu WAL files removed, "
		       "%zu temp files removed\n",
		       o.dry_run ? "dry run: " : "", st.kept, st.removed, st.incomplete_removed,
		       st.wal_removed, st.temp_removed);
	repo_free(r);
	return rc;
}

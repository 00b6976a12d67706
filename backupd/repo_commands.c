#include "backupd/repo_commands.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/lsn.h"
#include "archive/wal_chain.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pg_base_format.h"

/* "20261121T101324Z[-2]" -> time_t; IDs are UTC start times */
static time_t id_time(const char *id)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (strptime(id, "%Y%m%dT%H%M%SZ", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]) >= (int)len)
		buf[len - 1] = '\0';
}

/* list --json: where the backup's WAL starts and stops, and how far it is unbroken. */
static void wal_json(json_t *o, const manifest *m, const wal_chain *c)
{
	pg_base_info bi;
	bderr ignored;
	bderr_init(&ignored);
	int ok = pg_base_info_parse(m->info, &bi, &ignored) == 0;
	json_object_set_new(o, "wal_start", ok ? json_string(bi.wal_start_segment) : json_null());
	json_object_set_new(o, "wal_stop", ok ? json_string(bi.wal_stop_segment) : json_null());
	pg_base_info_clear(&bi);
	json_object_set_new(o, "wal_archive",
			    json_pack("{s:s, s:o, s:i}", "first", c->first, "last",
				      c->last[0] ? json_string(c->last) : json_null(), "segments",
				      (json_int_t)c->n_segments));
	json_t *gaps = json_array();
	if (c->missing[0])
		json_array_append_new(gaps, json_string(c->missing));
	json_object_set_new(o, "wal_gaps", gaps);
	json_object_set_new(o, "wal_complete", json_boolean(wal_chain_covers_stop(m, c)));
	char lsn[LSN_TEXT_MAX];
	lsn_format(c->end_lsn, lsn);
	/* recovery from this backup can reach no further than the first gap */
	json_object_set_new(o, "restorable_to_lsn", wal_chain_covers_stop(m, c) ? json_string(lsn)
									    : json_null());
}

static json_t *entry_json(const backup_entry *e)
{
	char ts[32];
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(e->id));
	json_object_set_new(o, "name", json_string(e->name));
	if (e->m) {
		json_object_set_new(o, "engine", json_string(e->m->engine));
		json_object_set_new(o, "kind", json_string(e->m->kind));
		format_rfc3339(e->m->started, ts, sizeof ts);
		json_object_set_new(o, "started", json_string(ts));
		format_rfc3339(e->m->finished, ts, sizeof ts);
		json_object_set_new(o, "finished", json_string(ts));
		json_object_set_new(o, "size", json_integer((json_int_t)manifest_total_size(e->m)));
		json_object_set_new(o, "stored_size",
				    json_integer((json_int_t)manifest_total_stored_size(e->m)));
		json_object_set_new(o, "status", json_string("complete"));
		json_object_set_new(o, "server_version", json_string(e->m->server_version));
		json_object_set_new(o, "objects", json_integer((json_int_t)e->m->n_objects));
	} else {
		json_object_set_new(o, "engine", json_null());
		json_object_set_new(o, "kind", json_null());
		format_rfc3339(id_time(e->id), ts, sizeof ts);
		json_object_set_new(o, "started", json_string(ts));
		json_object_set_new(o, "finished", json_null());
		json_object_set_new(o, "size", json_null());
		json_object_set_new(o, "stored_size", json_null());
		json_object_set_new(o, "status", json_string(e->damaged ? "damaged" : "incomplete"));
		if (e->damaged)
			json_object_set_new(o, "error", json_string(e->damaged));
	}
	return o;
}

/* An encrypted repository listed without its key: IDs, times, complete or not. */
static int list_locked(repo *r, const char *name, int json, bderr *err)
{
	backup_list *l = NULL;
	if (name)
		return bderr_usage(err, "repository '%s' is encrypted: --name needs its key (encryption-key-file)",
				   repo_url(r));
	if (repo_backup_list_locked(r, &l, err) != 0)
		return -1;
	log_info("repository %s is encrypted: without its key only backup IDs and times are shown",
		 repo_url(r));
	json_t *arr = json_array();
	if (!json)
		printf("%-22s %-20s %s\n", "ID", "STARTED", "STATUS");
	for (size_t i = 0; i < l->n; i++) {
		const backup_entry *e = &l->items[i];
		const char *status = e->has_manifest ? "complete" : "incomplete";
		char ts[32];
		format_rfc3339(id_time(e->id), ts, sizeof ts);
		if (json)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", e->id, "started", ts,
							     "status", status));
		else
			printf("%-22s %-20s %s\n", e->id, ts, status);
	}
	if (json) {
		char *text = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
	}
	json_decref(arr);
	backup_list_free(l);
	return 0;
}

int repo_cmd_list(repo *r, const char *name, int json, bderr *err)
{
	backup_list *l = NULL;
	if (repo_locked(r))
		return list_locked(r, name, json, err);
	if (repo_backup_list(r, name, &l, err) != 0)
		return -1;
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < l->n; i++) {
			json_t *o = entry_json(&l->items[i]);
			wal_chain c;
			int wrc = wal_chain_of_backup(r, l->items[i].m, 0, &c, err);
			if (wrc < 0) {
				json_decref(o);
				json_decref(arr);
				backup_list_free(l);
				return -1;
			}
			if (wrc == 0)
				wal_json(o, l->items[i].m, &c);
			json_array_append_new(arr, o);
		}
		char *text = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(arr);
	} else if (l->n == 0) {
		printf("no backups%s%s\n", name ? " of " : "", name ? name : "");
	} else {
		printf("%-20s %-22s %-10s %-10s %-11s %-20s %9s %10s %10s\n", "NAME", "ID", "ENGINE",
		       "KIND", "STATUS", "STARTED", "DURATION", "SIZE", "STORED");
		for (size_t i = 0; i < l->n; i++) {
			const backup_entry *e = &l->items[i];
			char ts[32], sz[32] = "-", st[32] = "-", dur[32] = "-";
			format_rfc3339(e->m ? e->m->started : id_time(e->id), ts, sizeof ts);
			if (e->m) {
				human_size(manifest_total_size(e->m), sz, sizeof sz);
				human_size(manifest_total_stored_size(e->m), st, sizeof st);
				if (snprintf(dur, sizeof dur, "%lds", (long)(e->m->finished - e->m->started)) >= (int)sizeof dur)
					dur[0] = '\0';
			}
			printf("%-20s %-22s %-10s %-10s %-11s %-20s %9s %10s %10s\n", e->name, e->id,
			       e->m ? e->m->engine : "-", e->m ? e->m->kind : "-",
			       e->m ? "complete" : e->damaged ? "damaged" : "incomplete", ts, dur, sz, st);
		}
	}
	backup_list_free(l);
	return 0;
}

/*
 * A base backup's WAL, every segment read: from its start to the newest
 * archived one, unbroken.  Prints the result; a gap or damage is an error
 * naming the first bad segment and how far recovery can get.
 */
static int verify_wal(repo *r, const manifest *m, bderr *err)
{
	wal_chain c;
	progress_phase(repo_progress(r), "checking WAL");
	int rc = wal_chain_of_backup(r, m, 1, &c, err);
	progress_phase(repo_progress(r), NULL);
	log_status_line(NULL); /* a terminal's progress line makes way for stdout */
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	char lsn[LSN_TEXT_MAX];
	lsn_format(c.end_lsn, lsn);
	const char *bad = c.damaged[0] ? c.damaged : c.missing[0] ? c.missing : NULL;
	if (bad == NULL) {
		printf("%s %s: WAL %s .. %s unbroken (%zu segment%s, timeline %u)\n", m->name, m->id,
		       c.first, c.last, c.n_segments, plural_s(c.n_segments), c.tli);
		return 0;
	}
	if (!wal_chain_covers_stop(m, &c))
		return bderr_set(err, "%s %s: WAL segment %s is %s: the backup cannot be restored "
				      "(it needs WAL up to %s)",
				 m->name, m->id, bad, c.damaged[0] ? "damaged" : "missing",
				 json_string_value(json_object_get(m->info, "wal_stop_segment")));
	return bderr_set(err, "%s %s: WAL segment %s is %s: recovery from this backup stops at "
			      "LSN %s (%zu segment%s %s .. %s unbroken)",
			 m->name, m->id, bad, c.damaged[0] ? "damaged" : "missing", lsn,
			 c.n_segments, plural_s(c.n_segments), c.first, c.last[0] ? c.last : "-");
}

int repo_cmd_verify(repo *r, const char *name, const char *id, bderr *err)
{
	if (id) {
		if (name == NULL)
			return bderr_usage(err, "verify of one backup needs --name");
		manifest *m = NULL;
		if (repo_backup_load(r, name, id, &m, err) != 0)
			return -1;
		progress_add_total(repo_progress(r), manifest_total_size(m), m->n_objects);
		int rc = repo_backup_verify(r, m, err);
		log_status_line(NULL); /* a terminal's progress line makes way for stdout */
		if (rc == 0)
			printf("%s %s: ok (%zu object%s)\n", m->name, m->id, m->n_objects,
			       plural_s(m->n_objects));
		if (rc == 0)
			rc = verify_wal(r, m, err);
		manifest_free(m);
		return rc;
	}
	backup_list *l = NULL;
	if (repo_backup_list(r, name, &l, err) != 0)
		return -1;
	int rc = 0;
	size_t checked = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].m)
			progress_add_total(repo_progress(r), manifest_total_size(l->items[i].m),
					   l->items[i].m->n_objects);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const backup_entry *e = &l->items[i];
		if (e->damaged) {
			rc = bderr_set(err, "%s %s: damaged: %s", e->name, e->id, e->damaged);
			break;
		}
		if (e->m == NULL) {
			printf("%s %s: incomplete (no manifest), skipped\n", e->name, e->id);
			continue;
		}
		rc = repo_backup_verify(r, e->m, err);
		log_status_line(NULL); /* a terminal's progress line makes way for stdout */
		if (rc == 0) {
			printf("%s %s: ok (%zu object%s)\n", e->name, e->id, e->m->n_objects,
			       plural_s(e->m->n_objects));
			checked++;
			rc = verify_wal(r, e->m, err);
		}
	}
	backup_list_free(l);
	/* a verify that checked nothing must not exit 0: monitoring reads that as "backups ok" */
	if (rc == 0 && checked == 0)
		rc = name ? bderr_set(err, "no complete backups of '%s' to verify", name)
			  : bderr_set(err, "no complete backups to verify");
	return rc;
}

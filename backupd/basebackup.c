#include "backupd/basebackup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "archive/filter.h"
#include "archive/lsn.h"
#include "archive/wal.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/pg/pg_base_format.h"
#include "engines/pg/pgconn.h"
#include "common/resolve.h"
#include "common/version.h"

/*
 * Since 15 the server's tar archives and the manifest arrive in one COPY
 * stream of typed messages; before, each tablespace had its own COPY stream
 * of raw tar bytes (in the order of the tablespace list, the data directory
 * last) and the manifest (13+) one more.
 */
#define BB_MIN_SERVER_VERSION 120000
#define BB_TYPED_STREAM_VERSION 150000
#define BB_MANIFEST_VERSION 130000
#define BB_INCREMENTAL_VERSION 170000
#define BB_PARENT_MANIFEST_MAX (1024ULL * 1024 * 1024)
#define TAR_TRAILER 1024 /* two zero blocks end a tar archive */

typedef struct bb_state {
	repo *r;
	const basebackup_options *o;
	char *id;
	manifest *m;
	pg_base_info bi; /* the manifest's info, written into m at the end */
	/* the object being written: one archive, or the backup manifest */
	object_writer *ow;
	char *obj_name;
	int obj_is_tar;
	uint64_t trailing_zeros; /* zero bytes at the current end of the tar */
	size_t n_archives;
	int manifest_seen;
	int server_version;
	/* before 15: the archive each COPY stream carries, from the tablespace list */
	char **stream_names;
	size_t n_stream_names;
	size_t n_streams;
} bb_state;

/* "16MB", "1GB", "1024kB" (SHOW output) -> bytes; 0 when unparsable. */
static uint32_t parse_show_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mult = 1;
	if (strcmp(end, "kB") == 0)
		mult = 1024;
	else if (strcmp(end, "MB") == 0)
		mult = 1024 * 1024;
	else if (strcmp(end, "GB") == 0)
		mult = 1024ULL * 1024 * 1024;
	else if (*end != '\0' && strcmp(end, "B") != 0)
		return 0;
	v *= mult;
	/* PostgreSQL allows powers of two from 1MB to 1GB */
	if (v < 1024 * 1024 || v > 1024ULL * 1024 * 1024 || (v & (v - 1)) != 0)
		return 0;
	return (uint32_t)v;
}

/* Replication connections only speak the simple query protocol: PQexec, not pg_query. */
static int repl_query(PGconn *c, const char *sql, const char *what, PGresult **out, bderr *err)
{
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char m[512];
		const char *msg = res ? PQresultErrorMessage(res) : "";
		if (msg == NULL || *msg == '\0')
			msg = pg_errmsg(c, m, sizeof m);
		bderr_set(err, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
		PQclear(res);
		return -1;
	}
	*out = res;
	return 0;
}

static int show_setting(PGconn *c, const char *setting, char **out, bderr *err)
{
	char *sql = xasprintf("SHOW %s", setting);
	char *what = xasprintf("cannot read the server's %s", setting);
	PGresult *res = NULL;
	int rc = repl_query(c, sql, what, &res, err);
	if (rc == 0) {
		if (PQntuples(res) != 1 || PQnfields(res) < 1)
			rc = bderr_set(err, "%s: unexpected reply", what);
		else
			*out = xstrdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	free(sql);
	free(what);
	return rc;
}

/* The archive names a server sends (or, before 15, implies): base.tar, <tablespace oid>.tar. */
static int archive_name_ok(const char *n)
{
	if (strcmp(n, "base.tar") == 0)
		return 1;
	size_t digits = strspn(n, "0123456789");
	return digits > 0 && digits <= 10 && strcmp(n + digits, ".tar") == 0;
}

static int object_open(bb_state *st, const char *name, int is_tar, bderr *err)
{
	char *path = repo_backup_path(st->o->name, st->id, name);
	int rc = object_writer_open(repo_storage(st->r), path, st->o->compress_level, &st->ow, err);
	free(path);
	if (rc < 0)
		return -1;
	st->obj_name = xstrdup(name);
	st->obj_is_tar = is_tar;
	st->trailing_zeros = 0;
	return 0;
}

static int object_write(bb_state *st, const char *buf, size_t len, bderr *err)
{
	if (st->ow == NULL)
		return bderr_set(err, "base backup: the server sent data before naming an archive");
	if (st->obj_is_tar) {
		size_t k = len;
		while (k > 0 && buf[k - 1] == '\0')
			k--;
		st->trailing_zeros = k == 0 ? st->trailing_zeros + len : len - k;
	}
	if (object_writer_write(st->ow, buf, len, err) < 0)
		return bderr_prefix(err, "base backup object '%s'", st->obj_name);
	progress_add(st->o->progress, len, 0);
	return 0;
}

/* Closes the current object and records it in the manifest. */
static int object_finish(bb_state *st, bderr *err)
{
	if (st->ow == NULL)
		return 0;
	int rc = 0;
	/*
	 * Servers before 15 left the end-of-archive blocks to the client; adding
	 * them whenever they are missing keeps every stored tar readable by
	 * standard tools.
	 */
	if (st->obj_is_tar && st->trailing_zeros < TAR_TRAILER) {
		static const char zeros[TAR_TRAILER];
		rc = object_writer_write(st->ow, zeros, sizeof zeros, err);
	}
	object_meta meta;
	if (rc == 0)
		rc = object_writer_close(st->ow, &meta, err);
	if (rc == 0) {
		manifest_add_object(st->m, st->obj_name, &meta, st->o->compress_level != 0, -1);
		progress_add(st->o->progress, 0, 1);
	} else
		bderr_prefix(err, "base backup object '%s'", st->obj_name);
	object_writer_free(st->ow);
	st->ow = NULL;
	free(st->obj_name);
	st->obj_name = NULL;
	return rc;
}

/* One CopyData message of the PostgreSQL 15+ BASE_BACKUP stream. */
static int copy_message(bb_state *st, const char *buf, size_t len, bderr *err)
{
	if (len == 0)
		return bderr_set(err, "base backup: empty message from the server");
	switch (buf[0]) {
	case 'n': { /* new archive: name NUL tablespace location NUL */
		const char *name = buf + 1;
		size_t name_len = strnlen(name, len - 1);
		if (name_len == len - 1)
			return bderr_set(err, "base backup: malformed new-archive message");
		if (!archive_name_ok(name))
			return bderr_set(err, "base backup: unexpected archive name '%.*s' from the server",
					 (int)(name_len > 64 ? 64 : name_len), name);
		if (object_finish(st, err) < 0)
			return -1;
		st->n_archives++;
		log_debug("base backup: receiving %s", name);
		return object_open(st, name, 1, err);
	}
	case 'm': /* the backup manifest follows as 'd' messages */
		if (object_finish(st, err) < 0)
			return -1;
		st->manifest_seen = 1;
		return object_open(st, "backup_manifest", 0, err);
	case 'd':
		return object_write(st, buf + 1, len - 1, err);
	case 'p': /* progress: only sent when asked for */
		return 0;
	default:
		return bderr_set(err, "base backup: unknown message type '%c' from the server", buf[0]);
	}
}

/*
 * Before 15: the next COPY stream is the next tablespace's archive, and the
 * manifest after them all (13+).
 */
static int legacy_stream_open(bb_state *st, bderr *err)
{
	size_t k = st->n_streams++;
	if (k < st->n_stream_names) {
		st->n_archives++;
		log_debug("base backup: receiving %s", st->stream_names[k]);
		return object_open(st, st->stream_names[k], 1, err);
	}
	if (k == st->n_stream_names && st->server_version >= BB_MANIFEST_VERSION &&
	    !st->manifest_seen) {
		st->manifest_seen = 1;
		return object_open(st, "backup_manifest", 0, err);
	}
	return bderr_set(err, "base backup: the server sent more COPY streams than tablespaces");
}

static int receive_copy(bb_state *st, PGconn *c, bderr *err)
{
	int legacy = st->server_version < BB_TYPED_STREAM_VERSION;
	if (legacy && legacy_stream_open(st, err) < 0)
		return -1;
	for (;;) {
		char *buf = NULL;
		int n = PQgetCopyData(c, &buf, 0);
		if (n == -1)
			break;
		if (n == -2) {
			char m[512];
			return bderr_set(err, "base backup stream failed: %s", pg_errmsg(c, m, sizeof m));
		}
		int rc = legacy ? object_write(st, buf, (size_t)n, err)
				: copy_message(st, buf, (size_t)n, err);
		PQfreemem(buf);
		if (rc < 0)
			return -1;
	}
	return object_finish(st, err);
}

/*
 * The physical slot a standby made from this backup will stream through:
 * made here (reserving WAL from now, before the backup starts) when asked,
 * else it must exist already, or the standby would find its WAL gone.
 */
static int slot_prepare(const basebackup_options *o, PGconn *repl, bderr *err)
{
	PGresult *res = NULL;
	if (o->create_slot) {
		char *sql = xasprintf("CREATE_REPLICATION_SLOT %s PHYSICAL RESERVE_WAL", o->slot);
		char *what = xasprintf("cannot create the replication slot '%s' on the server of '%s'",
				       o->slot, o->name);
		int rc = repl_query(repl, sql, what, &res, err);
		free(sql);
		free(what);
		PQclear(res);
		if (rc == 0)
			log_info("base backup of '%s': physical replication slot '%s' created", o->name,
				 o->slot);
		return rc;
	}
	/* a replication connection before 15 cannot look a slot up: ask over SQL */
	PGconn *c = NULL;
	if (pg_connect(o->url, o->password, NULL, "backupd basebackup", &c, err) < 0)
		return -1;
	const char *params[1] = { o->slot };
	int rc = pg_query_params(c, "SELECT slot_type FROM pg_catalog.pg_replication_slots "
				    "WHERE slot_name = $1",
				 1, params, "cannot look up the replication slot", &res, err);
	if (rc == 0 && PQntuples(res) == 0)
		rc = bderr_set(err, "the server of '%s' has no replication slot '%s': add --create-slot, "
				    "or create it first (SELECT pg_create_physical_replication_slot('%s', "
				    "true))",
			       o->name, o->slot, o->slot);
	else if (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "physical") != 0)
		rc = bderr_set(err, "the replication slot '%s' on the server of '%s' is %s, not physical",
			       o->slot, o->name, PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return rc;
}

/*
 * An incremental backup builds on the newest complete base backup of the
 * name: its server manifest goes to the server (UPLOAD_MANIFEST, 17+), which
 * then sends only the blocks changed since (WAL summaries, summarize_wal).
 */
static int upload_parent_manifest(repo *r, const basebackup_options *o, PGconn *c,
				  char **parent_id, bderr *err)
{
	backup_list *l = NULL;
	if (repo_backup_list(r, o->name, &l, err) < 0)
		return -1;
	const manifest *parent = NULL;
	for (size_t i = l->n; i-- > 0;) {
		const manifest *m = l->items[i].m;
		if (m && m->kind && strcmp(m->kind, "basebackup") == 0) {
			parent = m;
			break;
		}
	}
	int rc = -1;
	char *data = NULL;
	size_t len = 0;
	const manifest_object *mo = parent ? manifest_find_object(parent, "backup_manifest") : NULL;
	if (parent == NULL) {
		bderr_set(err, "no complete base backup of '%s' to build an incremental one on: take a "
			       "full one first",
			  o->name);
		goto out;
	}
	if (mo == NULL) {
		bderr_set(err, "base backup %s of '%s' has no server manifest to build on", parent->id,
			  o->name);
		goto out;
	}
	if (repo_object_read_all(r, parent, mo, BB_PARENT_MANIFEST_MAX, &data, &len, err) < 0)
		goto out;
	PGresult *res = PQexec(c, "UPLOAD_MANIFEST");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		const char *msg = PQresultErrorMessage(res);
		bderr_set(err, "UPLOAD_MANIFEST failed: %.*s", (int)strcspn(msg, "\n"), msg);
		PQclear(res);
		goto out;
	}
	PQclear(res);
	for (size_t off = 0; off < len;) {
		size_t k = len - off > 65536 ? 65536 : len - off;
		if (PQputCopyData(c, data + off, (int)k) != 1) {
			char m[512];
			bderr_set(err, "UPLOAD_MANIFEST: %s", pg_errmsg(c, m, sizeof m));
			goto out;
		}
		off += k;
	}
	if (PQputCopyEnd(c, NULL) != 1) {
		char m[512];
		bderr_set(err, "UPLOAD_MANIFEST: %s", pg_errmsg(c, m, sizeof m));
		goto out;
	}
	rc = 0;
	while ((res = PQgetResult(c)) != NULL) {
		ExecStatusType t = PQresultStatus(res);
		if (rc == 0 && t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
			const char *msg = PQresultErrorMessage(res);
			rc = bderr_set(err, "the server refused the manifest of base backup %s: %.*s",
				       parent->id, (int)strcspn(msg, "\n"), msg);
		}
		PQclear(res);
	}
	if (rc == 0)
		*parent_id = xstrdup(parent->id);
out:
	free(data);
	backup_list_free(l);
	return rc;
}

/* A (recptr, tli) row: the start or the end position. */
static int position_row(PGresult *res, const char *what, uint64_t *lsn, uint32_t *tli, bderr *err)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 2 ||
	    lsn_parse(PQgetvalue(res, 0, 0), lsn) < 0)
		return bderr_set(err, "base backup: unexpected %s position from the server", what);
	*tli = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	if (*tli == 0)
		return bderr_set(err, "base backup: unexpected %s timeline from the server", what);
	return 0;
}

/* Before 15 the streams follow the tablespace list: NULL oid is the data directory. */
static int legacy_stream_names(bb_state *st, PGresult *res, bderr *err)
{
	size_t n = (size_t)PQntuples(res);
	st->stream_names = xcalloc(n + 1, sizeof *st->stream_names);
	for (size_t i = 0; i < n; i++) {
		char *name = PQgetisnull(res, (int)i, 0)
				     ? xstrdup("base.tar")
				     : xasprintf("%s.tar", PQgetvalue(res, (int)i, 0));
		st->stream_names[st->n_stream_names++] = name;
		if (!archive_name_ok(name))
			return bderr_set(err, "base backup: unexpected tablespace oid '%.32s' from the "
					      "server",
					 PQgetvalue(res, (int)i, 0));
	}
	return 0;
}

static void tablespaces_read(pg_base_info *bi, PGresult *res)
{
	bi->tablespaces = xcalloc((size_t)PQntuples(res) + 1, sizeof *bi->tablespaces);
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0))
			continue; /* the data directory itself */
		pg_base_tablespace *t = &bi->tablespaces[bi->n_tablespaces++];
		t->oid = xstrdup(PQgetvalue(res, i, 0));
		t->location = xstrdup(PQgetvalue(res, i, 1));
	}
}

/*
 * With PROGRESS the tablespace list carries each one's size in kB: the
 * estimated total (files change while they are copied).  One object per
 * tablespace, and the backup manifest.
 */
static void progress_sizes(bb_state *st, PGresult *res)
{
	uint64_t kb = 0;
	for (int i = 0; i < PQntuples(res); i++)
		if (PQnfields(res) > 2 && !PQgetisnull(res, i, 2))
			kb += strtoull(PQgetvalue(res, i, 2), NULL, 10);
	progress_set_total(st->o->progress, kb * 1024,
			   (uint64_t)PQntuples(res) + (st->server_version >= BB_MANIFEST_VERSION));
	progress_set_estimated(st->o->progress, 1);
}

/* The completion rule: the segment holding the stop LSN must be archived. */
static int wait_for_wal(bb_state *st, const char *segment, bderr *err)
{
	char *path = NULL;
	char sha[65];
	int found = wal_find(st->r, st->o->name, segment, &path, sha, err);
	free(path);
	if (found == 1) {
		log_info("base backup %s: waiting for WAL segment %s to be archived", st->id, segment);
		progress_phase(st->o->progress, "waiting for WAL archiving");
		found = wal_wait(st->r, st->o->name, segment, st->o->archive_timeout, err);
	}
	if (found == 1)
		return bderr_set(err,
				 "base backup %s of '%s': WAL segment %s did not reach the archive "
				 "within %d s (is archive_command 'backupd wal-push --name %s ...' "
				 "working?); the backup is incomplete",
				 st->id, st->o->name, segment, st->o->archive_timeout, st->o->name);
	return found;
}

/* Microseconds since the epoch, and the same as RFC 3339 with a fraction. */
static int64_t now_us(char *text, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char base[32];
	format_rfc3339(ts.tv_sec, base, sizeof base);
	/* "...:SSZ" -> "...:SS.ffffffZ" */
	size_t bl = strlen(base);
	if (bl > 0)
		base[bl - 1] = '\0';
	snprintf(text, len, "%s.%06ldZ", base, ts.tv_nsec / 1000);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int run_base_backup(bb_state *st, PGconn *c, uint32_t seg_size, bderr *err)
{
	pg_base_info *bi = &st->bi;
	char *label = xasprintf("backupd %s", st->id);
	char *label_lit = PQescapeLiteral(c, label, strlen(label));
	free(label);
	if (label_lit == NULL) {
		char m[512];
		return bderr_set(err, "base backup: cannot quote the label: %s", pg_errmsg(c, m, sizeof m));
	}
	/*
	 * WAIT false: the server must not wait for archiving; we check the archive itself.
	 * PROGRESS: the server sizes the tablespaces first (a stat of every file), the
	 * estimated total of the progress report.
	 */
	int want_progress = st->o->progress != NULL;
	char *cmd;
	if (st->server_version >= BB_TYPED_STREAM_VERSION)
		cmd = xasprintf("BASE_BACKUP (LABEL %s, CHECKPOINT 'fast', WAIT false, "
				"MANIFEST 'yes'%s%s)",
				label_lit, st->o->incremental ? ", INCREMENTAL" : "",
				want_progress ? ", PROGRESS" : "");
	else /* the keyword form of 12..14; MANIFEST came in 13 */
		cmd = xasprintf("BASE_BACKUP LABEL %s FAST NOWAIT%s%s", label_lit,
				st->server_version >= BB_MANIFEST_VERSION ? " MANIFEST 'yes'" : "",
				want_progress ? " PROGRESS" : "");
	PQfreemem(label_lit);
	int sent = PQsendQuery(c, cmd);
	free(cmd);
	if (!sent) {
		char m[512];
		return bderr_set(err, "cannot start BASE_BACKUP: %s", pg_errmsg(c, m, sizeof m));
	}
	int rc = 0, n_rows = 0;
	uint64_t start_lsn = 0, stop_lsn = 0;
	uint32_t start_tli = 0, stop_tli = 0;
	PGresult *res;
	/* after an error the connection may still be mid-COPY: stop reading, PQfinish ends it */
	while (rc == 0 && (res = PQgetResult(c)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
			if (n_rows == 0)
				rc = position_row(res, "start", &start_lsn, &start_tli, err);
			else if (n_rows == 1) {
				progress_sizes(st, res);
				tablespaces_read(bi, res);
				if (st->server_version < BB_TYPED_STREAM_VERSION)
					rc = legacy_stream_names(st, res, err);
			}
			else if (n_rows == 2)
				rc = position_row(res, "stop", &stop_lsn, &stop_tli, err);
			n_rows++;
			break;
		case PGRES_COPY_OUT:
			rc = receive_copy(st, c, err);
			break;
		case PGRES_COMMAND_OK:
			break;
		default: {
			const char *msg = PQresultErrorMessage(res);
			rc = bderr_set(err, "BASE_BACKUP failed: %.*s", (int)strcspn(msg, "\n"), msg);
			break;
		}
		}
		PQclear(res);
	}
	if (rc < 0)
		return -1;
	int want_manifest = st->server_version >= BB_MANIFEST_VERSION;
	if (n_rows != 3 || st->n_archives == 0 || (want_manifest && !st->manifest_seen))
		return bderr_set(err, "base backup: the server's reply ended early (%d positions, "
				      "%zu archives%s)",
				 n_rows, st->n_archives, st->manifest_seen ? "" : ", no manifest");

	char stop_text[64];
	/* PITR picks a backup by it; taken after the server's stop, so never too early */
	bi->stop_time_us = now_us(stop_text, sizeof stop_text);
	bi->stop_time = xstrdup(stop_text);
	bi->start_lsn = start_lsn;
	bi->stop_lsn = stop_lsn;
	bi->timeline = start_tli;
	bi->stop_timeline = stop_tli;
	wal_segment_name(start_tli, start_lsn, seg_size, bi->wal_start_segment);
	/* the last byte the backup needs is the one before the stop LSN */
	wal_segment_name(stop_tli, stop_lsn > 0 ? stop_lsn - 1 : 0, seg_size, bi->wal_stop_segment);
	log_info("base backup %s of '%s': %zu archive%s received, WAL %s .. %s needed", st->id,
		 st->o->name, st->n_archives, plural_s(st->n_archives), bi->wal_start_segment,
		 bi->wal_stop_segment);
	return wait_for_wal(st, bi->wal_stop_segment, err);
}

int basebackup_reach(const char *url, const char *password, bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect_replication(url, password, "backupd basebackup", &c, err) < 0)
		return -1;
	PQfinish(c);
	return 0;
}

int basebackup_run(repo *r, const basebackup_options *o, char **id_out, bderr *err)
{
	*id_out = NULL;
	bb_state st = { .r = r, .o = o };
	PGconn *c = NULL;
	PGresult *res = NULL;
	char *seg_text = NULL, *archive_mode = NULL, *dir_mode = NULL;
	int rc = -1;
	time_t started = time(NULL);

	if (pg_connect_replication(o->url, o->password, "backupd basebackup", &c, err) < 0)
		return -1;
	int version = PQserverVersion(c);
	char version_text[32];
	pg_version_format(version, version_text, sizeof version_text);
	if (version < BB_MIN_SERVER_VERSION) {
		bderr_set(err, "base backups need PostgreSQL 12 or newer: the server of '%s' is %s",
			  o->name, version_text);
		goto out;
	}
	st.server_version = version;
	if (repl_query(c, "IDENTIFY_SYSTEM", "cannot identify the server (IDENTIFY_SYSTEM)", &res,
		     err) < 0)
		goto out;
	if (PQntuples(res) != 1 || PQnfields(res) < 2) {
		bderr_set(err, "IDENTIFY_SYSTEM: unexpected reply from the server");
		goto out;
	}
	char *end;
	const char *sysid_text = PQgetvalue(res, 0, 0);
	uint64_t sysid = strtoull(sysid_text, &end, 10);
	if (*sysid_text == '\0' || *end != '\0') {
		bderr_set(err, "IDENTIFY_SYSTEM: unexpected system identifier '%s'", sysid_text);
		goto out;
	}
	uint32_t tli = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;

	if (show_setting(c, "wal_segment_size", &seg_text, err) < 0 ||
	    show_setting(c, "archive_mode", &archive_mode, err) < 0 ||
	    show_setting(c, "data_directory_mode", &dir_mode, err) < 0)
		goto out;
	uint32_t seg_size = parse_show_size(seg_text);
	if (seg_size == 0) {
		bderr_set(err, "unexpected wal_segment_size '%s' from the server", seg_text);
		goto out;
	}
	/* without archiving the backup could never complete: say so now, not after the copy */
	if (strcmp(archive_mode, "off") == 0) {
		bderr_set(err, "the server of '%s' has archive_mode = off: set archive_mode = on and "
			       "archive_command = 'backupd wal-push --repo R --name %s %%p' first",
			  o->name, o->name);
		goto out;
	}
	if (wal_archive_info_check(r, o->name, sysid, seg_size, version, err) < 0)
		goto out;
	if (o->slot && slot_prepare(o, c, err) < 0)
		goto out;
	char *parent_id = NULL;
	if (o->incremental) {
		if (version < BB_INCREMENTAL_VERSION) {
			bderr_set(err, "incremental base backups need PostgreSQL 17 or newer: the server "
				       "of '%s' is %s",
				  o->name, version_text);
			goto out;
		}
		char *summarize = NULL;
		if (show_setting(c, "summarize_wal", &summarize, err) < 0)
			goto out;
		int on = strcmp(summarize, "on") == 0;
		free(summarize);
		if (!on) {
			bderr_set(err, "incremental base backups need summarize_wal = on on the server of "
				       "'%s'",
				  o->name);
			goto out;
		}
		if (upload_parent_manifest(r, o, c, &parent_id, err) < 0)
			goto out;
	}

	st.m = manifest_new();
	st.m->engine = xstrdup("postgresql");
	st.m->kind = xstrdup("basebackup");
	st.m->name = xstrdup(o->name);
	st.m->server_version = xstrdup(version_text);
	st.m->tool_version = xstrdup("backupd " BACKUPD_VERSION);
	st.m->started = started;
	st.bi.system_identifier = xasprintf("%" PRIu64, sysid);
	st.bi.server_version_num = version;
	st.bi.wal_segment_size = seg_size;
	/* 0750 when the cluster allows group access: pitr keeps that */
	st.bi.data_directory_mode = dir_mode;
	dir_mode = NULL;
	st.bi.compress = xstrdup(o->compress_spec ? o->compress_spec : "zstd:1");
	st.bi.archive_timeout = o->archive_timeout;
	st.bi.slot = o->slot ? xstrdup(o->slot) : NULL;
	/* pitr combines the chain; expire keeps what a kept incremental needs */
	st.bi.incremental_of = parent_id;
	parent_id = NULL;

	if (repo_backup_begin(r, o->name, started, &st.id, err) < 0)
		goto out;
	st.m->id = xstrdup(st.id);
	log_info("base backup %s of '%s' started (system %s, timeline %u)", st.id, o->name,
		 st.bi.system_identifier, tli);
	if (run_base_backup(&st, c, seg_size, err) < 0)
		goto out;
	pg_base_info_to_json(&st.bi, st.m->info);
	if (repo_backup_commit(r, st.m, err) < 0)
		goto out;
	*id_out = st.id;
	st.id = NULL;
	rc = 0;
out:
	if (st.ow) {
		object_writer_free(st.ow);
		free(st.obj_name);
	}
	if (rc < 0 && st.id)
		repo_backup_discard(r, o->name, st.id);
	free(st.id);
	for (size_t i = 0; i < st.n_stream_names; i++)
		free(st.stream_names[i]);
	free(st.stream_names);
	manifest_free(st.m);
	pg_base_info_clear(&st.bi);
	free(seg_text);
	free(archive_mode);
	free(dir_mode);
	PQclear(res);
	PQfinish(c);
	return rc;
}

static int reach_source(void *src, bderr *err)
{
	const source_spec *s = src;
	return basebackup_reach(s->url, s->password, err);
}

int basebackup_command(program *p, bderr *err)
{
	const char *src_arg = cli_get(&p->args, "source");
	int timeout;
	if (cli_int(&p->args, "archive-timeout", &timeout, err) < 0)
		return -1;
	const char *spec;
	int level = 1;
	if (program_compress(p, cli_get(&p->args, "repo"), &spec, &level, err) < 0)
		return -1;
	const char *slot = cli_get(&p->args, "slot");
	int create_slot = cli_has(&p->args, "create-slot");
	int incremental = cli_has(&p->args, "incremental");
	if (create_slot && slot == NULL)
		return bderr_usage(err, "--create-slot needs --slot NAME");
	if (slot && !pg_slot_name_ok(slot))
		return bderr_usage(err, "--slot must be a replication slot name (a-z, 0-9, _; 1 to 63 "
					"bytes), got '%s'",
				   slot);
	source_spec src;
	if (resolve_source_as(p->cfg, src_arg, cli_get(&p->args, "name"), &src, err) < 0)
		return -1;
	int rc = -1;
	repo *r = NULL;
	if (!src.engine->physical) {
		bderr_usage(err, "base backups are for PostgreSQL; '%s' is a %s source", src.name,
			    src.engine->name);
		goto out;
	}
	/* the source reached before the repository is opened: a first backup creates it */
	if (repo_name_check(src.name, err) < 0 ||
	    program_create_repo_after(p, reach_source, &src, &r, err) < 0)
		goto out;
	basebackup_options o = {
		.url = src.url,
		.password = src.password,
		.name = src.name,
		.compress_level = level,
		.compress_spec = spec ? spec : "zstd:1",
		.archive_timeout = timeout,
		.slot = slot,
		.create_slot = create_slot,
		.incremental = incremental,
	};
	char *id = NULL;
	if (program_progress(p, "basebackup", &o.progress, err) < 0)
		goto out;
	rc = basebackup_run(r, &o, &id, err);
	progress_free(o.progress); /* its terminal line goes before the ID */
	if (rc == 0)
		printf("%s\n", id);
	free(id);
out:
	repo_free(r);
	source_spec_free(&src);
	return rc;
}

#include "engines/pg/pg_base_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/lsn.h"
#include "archive/repo.h"
#include "archive/wal.h"
#include "common/mem.h"
#include "engines/jsonfield.h"

static void set_string(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

void pg_base_info_to_json(const pg_base_info *i, json_t *o)
{
	char lsn[LSN_TEXT_MAX];
	set_string(o, "system_identifier", i->system_identifier);
	json_object_set_new(o, "server_version_num", json_integer(i->server_version_num));
	json_object_set_new(o, "wal_segment_size", json_integer(i->wal_segment_size));
	set_string(o, "data_directory_mode", i->data_directory_mode);
	json_object_set_new(o, "options", json_pack("{s:s, s:I}", "compress",
						    i->compress ? i->compress : "zstd:1",
						    "archive_timeout",
						    (json_int_t)i->archive_timeout));
	set_string(o, "slot", i->slot);
	set_string(o, "incremental_of", i->incremental_of);
	json_t *ts = json_array();
	for (size_t k = 0; k < i->n_tablespaces; k++)
		json_array_append_new(ts, json_pack("{s:s, s:s}", "oid", i->tablespaces[k].oid,
						    "location", i->tablespaces[k].location));
	json_object_set_new(o, "tablespaces", ts);
	lsn_format(i->start_lsn, lsn);
	json_object_set_new(o, "start_lsn", json_string(lsn));
	lsn_format(i->stop_lsn, lsn);
	json_object_set_new(o, "stop_lsn", json_string(lsn));
	json_object_set_new(o, "timeline", json_integer(i->timeline));
	json_object_set_new(o, "stop_timeline", json_integer(i->stop_timeline));
	json_object_set_new(o, "wal_start_segment", json_string(i->wal_start_segment));
	json_object_set_new(o, "wal_stop_segment", json_string(i->wal_stop_segment));
	json_object_set_new(o, "stop_time_us", json_integer(i->stop_time_us));
	set_string(o, "stop_time", i->stop_time);
}

static int digits(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

static int parse_tablespace(const json_t *v, const char *where, void *elem, bderr *err)
{
	pg_base_tablespace *t = elem;
	if (jf_string(v, "oid", 1, &t->oid, where, err) != 0 ||
	    jf_string(v, "location", 1, &t->location, where, err) != 0)
		return -1;
	/* it becomes a file name under pg_tblspc and an object name */
	if (!digits(t->oid, 10))
		return bderr_set(err, "%s.oid must be a tablespace OID (digits)", where);
	if (t->location[0] == '\0')
		return bderr_set(err, "%s.location must not be empty", where);
	return 0;
}

static int parse_lsn(const json_t *info, const char *key, uint64_t *out, bderr *err)
{
	char *text = NULL;
	if (jf_string(info, key, 1, &text, "info", err) != 0)
		return -1;
	int rc = lsn_parse(text, out);
	free(text);
	return rc < 0 ? bderr_set(err, "info.%s must be an LSN (X/X)", key) : 0;
}

static int parse_segment(const json_t *info, const char *key, char out[25], bderr *err)
{
	char *text = NULL;
	if (jf_string(info, key, 1, &text, "info", err) != 0)
		return -1;
	wal_name n;
	bderr ignored;
	bderr_init(&ignored);
	int ok = wal_name_parse(text, &n, &ignored) == 0 && n.kind == WAL_KIND_SEGMENT;
	if (ok)
		snprintf(out, 25, "%s", text);
	free(text);
	return ok ? 0 : bderr_set(err, "info.%s must be a WAL segment file name", key);
}

static int parse_all(const json_t *info, pg_base_info *i, bderr *err)
{
	const json_t *opts;
	if (!json_is_object(info))
		return bderr_set(err, "info must be an object");
	if (jf_string(info, "system_identifier", 1, &i->system_identifier, "info", err) != 0)
		return -1;
	if (!digits(i->system_identifier, 20))
		return bderr_set(err, "info.system_identifier must be digits");
	if (jf_int(info, "server_version_num", 1, 100000, INT32_MAX, &i->server_version_num, "info",
		   err) != 0 ||
	    jf_int(info, "wal_segment_size", 1, 1024 * 1024, 1024 * 1024 * 1024,
		   &i->wal_segment_size, "info", err) != 0)
		return -1;
	if ((i->wal_segment_size & (i->wal_segment_size - 1)) != 0)
		return bderr_set(err, "info.wal_segment_size must be a power of two");
	if (jf_string(info, "data_directory_mode", 0, &i->data_directory_mode, "info", err) != 0)
		return -1;
	if (i->data_directory_mode && strcmp(i->data_directory_mode, "0700") != 0 &&
	    strcmp(i->data_directory_mode, "0750") != 0)
		return bderr_set(err, "info.data_directory_mode must be 0700 or 0750");
	if (jf_object(info, "options", 0, &opts, "info", err) != 0 ||
	    (opts && (jf_string(opts, "compress", 0, &i->compress, "info.options", err) != 0 ||
		      jf_int(opts, "archive_timeout", 0, 0, INT32_MAX, &i->archive_timeout,
			     "info.options", err) != 0)))
		return -1;
	if (jf_string(info, "slot", 0, &i->slot, "info", err) != 0 ||
	    jf_string(info, "incremental_of", 0, &i->incremental_of, "info", err) != 0)
		return -1;
	bderr bad;
	bderr_init(&bad);
	/* it becomes a path in the repository */
	if (i->incremental_of && repo_name_check(i->incremental_of, &bad) != 0)
		return bderr_set(err, "info.incremental_of must be a backup id");
	if (jf_objects(info, "tablespaces", 0, sizeof *i->tablespaces, parse_tablespace,
		       (void **)&i->tablespaces, &i->n_tablespaces, "info", err) != 0)
		return -1;
	for (size_t a = 0; a < i->n_tablespaces; a++)
		for (size_t b = 0; b < a; b++)
			if (strcmp(i->tablespaces[a].oid, i->tablespaces[b].oid) == 0)
				return bderr_set(err, "info.tablespaces: tablespace %s appears twice",
						 i->tablespaces[a].oid);
	if (parse_lsn(info, "start_lsn", &i->start_lsn, err) != 0 ||
	    parse_lsn(info, "stop_lsn", &i->stop_lsn, err) != 0)
		return -1;
	if (i->stop_lsn < i->start_lsn)
		return bderr_set(err, "info.stop_lsn must not be before info.start_lsn");
	if (jf_int(info, "timeline", 1, 1, UINT32_MAX, &i->timeline, "info", err) != 0 ||
	    jf_int(info, "stop_timeline", 1, 1, UINT32_MAX, &i->stop_timeline, "info", err) != 0 ||
	    parse_segment(info, "wal_start_segment", i->wal_start_segment, err) != 0 ||
	    parse_segment(info, "wal_stop_segment", i->wal_stop_segment, err) != 0 ||
	    jf_int(info, "stop_time_us", 1, 0, INT64_MAX, &i->stop_time_us, "info", err) != 0 ||
	    jf_string(info, "stop_time", 0, &i->stop_time, "info", err) != 0)
		return -1;
	return 0;
}

int pg_base_info_parse(const json_t *info, pg_base_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	if (parse_all(info, out, err) != 0) {
		bderr_prefix(err, "invalid manifest");
		pg_base_info_clear(out);
		return -1;
	}
	return 0;
}

void pg_base_info_clear(pg_base_info *i)
{
	if (i == NULL)
		return;
	free(i->system_identifier);
	free(i->data_directory_mode);
	free(i->compress);
	free(i->slot);
	free(i->incremental_of);
	for (size_t k = 0; k < i->n_tablespaces; k++) {
		free(i->tablespaces[k].oid);
		free(i->tablespaces[k].location);
	}
	free(i->tablespaces);
	free(i->stop_time);
	memset(i, 0, sizeof *i);
}

#include "archive/wal_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archive/lsn.h"
#include "common/mem.h"

int wal_history_parse(const char *text, size_t len, uint32_t tli, wal_tl **path, size_t *n,
		      bderr *err)
{
	*path = NULL;
	*n = 0;
	size_t cap = 0;
	uint64_t begin = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256];
		if (ll >= sizeof line)
			ll = sizeof line - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl ? nl + 1 : end;
		char *s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		char *e;
		unsigned long parent = strtoul(s, &e, 10);
		char lsn_text[32];
		uint64_t sw;
		if (e == s || sscanf(e, " %31s", lsn_text) != 1 || lsn_parse(lsn_text, &sw) < 0 ||
		    parent == 0 || parent >= tli || sw < begin) {
			free(*path);
			*path = NULL;
			*n = 0;
			return bderr_set(err, "history of timeline %" PRIu32 ": malformed line '%.64s'",
					 tli, line);
		}
		if (*n + 2 > cap) {
			cap = cap ? cap * 2 : 8;
			*path = xrealloc(*path, cap * sizeof **path);
		}
		(*path)[(*n)++] = (wal_tl){ (uint32_t)parent, begin, sw };
		begin = sw;
	}
	if (*n + 1 > cap)
		*path = xrealloc(*path, (*n + 1) * sizeof **path);
	(*path)[(*n)++] = (wal_tl){ tli, begin, UINT64_MAX };
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int present(const char *const *segments, size_t n, const char *name)
{
	return n > 0 && bsearch(&name, segments, n, sizeof *segments, cmp_name) != NULL;
}

/* segment number of a segment name, or UINT64_MAX */
static uint64_t name_segno(const char *name, uint32_t seg_size, uint32_t *tli)
{
	unsigned int t, log, seg;
	if (strlen(name) != 24 || sscanf(name, "%8X%8X%8X", &t, &log, &seg) != 3)
		return UINT64_MAX;
	*tli = t;
	return (uint64_t)log * (UINT64_C(0x100000000) / seg_size) + seg;
}

/*
 * The segment segno as recovery reads it: from the newest timeline of the
 * path that holds it (a switch segment exists on both sides), or, when
 * none has it, named on the newest timeline it belongs to.
 */
static int pick(const char *const *segments, size_t n, const wal_tl *path, size_t np,
		uint64_t segno, uint32_t seg_size, char out[25])
{
	uint64_t lo = segno * seg_size, hi = lo + seg_size;
	int named = 0;
	for (size_t k = np; k-- > 0;) {
		if (!(path[k].begin < hi && (path[k].end == UINT64_MAX || path[k].end >= lo)))
			continue;
		char name[25];
		wal_segment_name(path[k].tli, lo, seg_size, name);
		if (!named) {
			memcpy(out, name, 25);
			named = 1;
		}
		if (present(segments, n, name)) {
			memcpy(out, name, 25);
			return 1;
		}
	}
	return 0;
}

void wal_chain_walk(const char *const *segments, size_t n, const wal_tl *path, size_t np,
		    uint64_t start_lsn, uint32_t seg_size, wal_chain *out)
{
	memset(out, 0, sizeof *out);
	out->tli = path[np - 1].tli;
	uint64_t segno = start_lsn / seg_size;
	/* the newest archived segment of the path */
	uint64_t newest = segno;
	for (size_t i = 0; i < n; i++) {
		uint32_t t;
		uint64_t s = name_segno(segments[i], seg_size, &t);
		if (s == UINT64_MAX || s <= newest)
			continue;
		for (size_t k = 0; k < np; k++)
			if (path[k].tli == t && path[k].begin < (s + 1) * seg_size &&
			    (path[k].end == UINT64_MAX || path[k].end >= s * seg_size))
				newest = s;
	}
	pick(segments, n, path, np, segno, seg_size, out->first);
	out->end_lsn = segno * seg_size;
	for (; segno <= newest; segno++) {
		char name[25];
		if (!pick(segments, n, path, np, segno, seg_size, name)) {
			memcpy(out->missing, name, 25);
			return;
		}
		memcpy(out->last, name, 25);
		out->n_segments++;
		out->end_lsn = (segno + 1) * seg_size;
	}
}

/* The newest timeline that branched off start_tli after start_lsn, as a path. */
static int choose_path(repo *r, const wal_object_list *wl, uint32_t start_tli, uint64_t start_lsn,
		       wal_tl **path, size_t *np, bderr *err)
{
	for (size_t i = wl->n; i-- > 0;) {
		const wal_object *o = &wl->items[i];
		if (o->name.kind != WAL_KIND_HISTORY || o->name.tli <= start_tli)
			continue;
		char *text = NULL;
		size_t len = 0;
		if (wal_object_read(r, o->path, o->sha256, 0, &text, &len, err) < 0)
			return -1;
		wal_tl *p = NULL;
		size_t n = 0;
		int rc = wal_history_parse(text, len, o->name.tli, &p, &n, err);
		free(text);
		if (rc < 0)
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (p[k].tli == start_tli && p[k].end > start_lsn) {
				*path = p;
				*np = n;
				return 0;
			}
		}
		free(p);
	}
	*path = xmalloc(sizeof **path);
	**path = (wal_tl){ start_tli, 0, UINT64_MAX };
	*np = 1;
	return 0;
}

static const wal_object *find_object(const wal_object_list *wl, const char *name)
{
	for (size_t i = 0; i < wl->n; i++)
		if (wl->items[i].name.kind == WAL_KIND_SEGMENT && strcmp(wl->items[i].name.file, name) == 0)
			return &wl->items[i];
	return NULL;
}

int wal_chain_check(repo *r, const char *source, const wal_object_list *wl, uint32_t seg_size,
		    uint32_t start_tli, uint64_t start_lsn, int read_all, wal_chain *out,
		    bderr *err)
{
	(void)source;
	wal_tl *path = NULL;
	size_t np = 0;
	if (choose_path(r, wl, start_tli, start_lsn, &path, &np, err) < 0)
		return -1;
	const char **segs = xcalloc(wl->n + 1, sizeof *segs);
	size_t n = 0;
	for (size_t i = 0; i < wl->n; i++) /* wl is sorted by file name */
		if (wl->items[i].name.kind == WAL_KIND_SEGMENT &&
		    (n == 0 || strcmp(segs[n - 1], wl->items[i].name.file) != 0))
			segs[n++] = wl->items[i].name.file;
	wal_chain_walk(segs, n, path, np, start_lsn, seg_size, out);
	int rc = 0;
	if (read_all && out->n_segments > 0) {
		/* walk again, reading: the first damaged segment ends the chain */
		uint64_t segno = start_lsn / seg_size;
		for (size_t k = 0; k < out->n_segments; k++, segno++) {
			char name[25];
			pick(segs, n, path, np, segno, seg_size, name);
			const wal_object *o = find_object(wl, name);
			char *buf = NULL;
			size_t len = 0;
			bderr e2;
			bderr_init(&e2);
			int bad = o == NULL ||
				  wal_object_read(r, o->path, o->sha256, 0, &buf, &len, &e2) < 0;
			wal_segment_header h;
			if (!bad && wal_segment_check(&o->name, buf, len, &h, &e2) < 0)
				bad = 1;
			free(buf);
			if (bad) {
				/* damage (EBADMSG), a listed object gone (ENOENT), bad contents (0) */
				if (e2.sys_errno != 0 && e2.sys_errno != EBADMSG &&
				    e2.sys_errno != ENOENT) {
					*err = e2;
					rc = -1;
					break;
				}
				memcpy(out->damaged, name, 25);
				out->missing[0] = '\0';
				out->n_segments = k;
				out->end_lsn = segno * seg_size;
				if (k > 0)
					pick(segs, n, path, np, segno - 1, seg_size, out->last);
				else
					out->last[0] = '\0';
				break;
			}
		}
	}
	free(segs);
	free(path);
	return rc;
}

int wal_chain_of_backup(repo *r, const manifest *m, int read_all, wal_chain *c, bderr *err)
{
	if (m == NULL || m->kind == NULL || strcmp(m->kind, "basebackup") != 0)
		return 1;
	const char *start = json_string_value(json_object_get(m->info, "start_lsn"));
	json_int_t tli = json_integer_value(json_object_get(m->info, "timeline"));
	json_int_t seg = json_integer_value(json_object_get(m->info, "wal_segment_size"));
	uint64_t start_lsn;
	if (start == NULL || lsn_parse(start, &start_lsn) < 0 || tli <= 0 || tli > UINT32_MAX ||
	    seg <= 0 || seg > UINT32_MAX)
		return 1;
	wal_object_list *wl = NULL;
	if (wal_list(r, m->name, &wl, err) < 0)
		return -1;
	int rc = wal_chain_check(r, m->name, wl, (uint32_t)seg, (uint32_t)tli, start_lsn, read_all, c,
				 err);
	wal_object_list_free(wl);
	return rc;
}


int wal_chain_covers_stop(const manifest *m, const wal_chain *c)
{
	const char *stop = json_string_value(json_object_get(m->info, "wal_stop_segment"));
	/* segment names of one timeline path sort by position after the timeline part */
	return stop && strlen(stop) == 24 && c->last[0] && strcmp(stop + 8, c->last + 8) <= 0;
}

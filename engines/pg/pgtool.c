#include "engines/pg/pgtool.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/subprocess.h"

/* Parses "pg_dump (PostgreSQL) 15.20 (Debian ...)" into major and version. */
static int parse_version(const char *text, int *major, char **version)
{
	const char *p = strstr(text, ") ");
	if (p == NULL)
		return -1;
	p += 2;
	int maj = atoi(p);
	if (maj <= 0)
		return -1;
	size_t n = strspn(p, "0123456789.");
	*major = maj;
	*version = xstrndup(p, n);
	return 0;
}

static int probe(const char *path, pg_tool *t)
{
	if (access(path, X_OK) != 0)
		return -1;
	const char *argv[] = { path, "--version", NULL };
	char *out = NULL;
	bderr ignored;
	bderr_init(&ignored);
	if (subprocess_capture(argv, &out, &ignored) != 0)
		return -1;
	int rc = parse_version(out, &t->major, &t->version);
	free(out);
	if (rc == 0)
		t->path = xstrdup(path);
	return rc;
}

/* The files already probed, by real path: a probe is a fork and exec, on a dump's critical path. */
typedef struct probed_set {
	char **paths;
	size_t n;
} probed_set;

/*
 * 1 when path needs no probe: it is a file probed already (/bin and
 * /usr/bin are often one directory), or Debian's pg_wrapper (a Perl script
 * behind /usr/bin/pg_dump that only runs one of the
 * /usr/lib/postgresql/N/bin programs, all probed by their own paths).
 */
static int already_probed(probed_set *seen, const char *path)
{
	char *real = realpath(path, NULL);
	if (real == NULL)
		return 0;
	const char *base = strrchr(real, '/');
	if (base && strcmp(base + 1, "pg_wrapper") == 0) {
		free(real);
		return 1;
	}
	for (size_t i = 0; i < seen->n; i++)
		if (strcmp(seen->paths[i], real) == 0) {
			free(real);
			return 1;
		}
	seen->paths = xrealloc(seen->paths, (seen->n + 1) * sizeof *seen->paths);
	seen->paths[seen->n++] = real;
	return 0;
}

static void probed_set_clear(probed_set *seen)
{
	for (size_t i = 0; i < seen->n; i++)
		free(seen->paths[i]);
	free(seen->paths);
}

static void consider(const char *path, int min_major, pg_tool *best, int *newest_seen,
		     probed_set *seen)
{
	pg_tool t = { 0 };
	if (already_probed(seen, path) || probe(path, &t) != 0)
		return;
	if (t.major > *newest_seen)
		*newest_seen = t.major;
	if (t.major >= min_major && t.major > best->major) {
		pg_tool_clear(best);
		*best = t;
	} else {
		pg_tool_clear(&t);
	}
}

int pg_tool_find(const char *name, int min_major, pg_tool *out, bderr *err)
{
	pg_tool best = { 0 };
	int newest_seen = 0;
	const char *bindir = getenv("BACKUPD_PG_BINDIR");
	if (bindir && *bindir) {
		char *p = xasprintf("%s/%s", bindir, name);
		probed_set none = { 0 };
		consider(p, min_major, &best, &newest_seen, &none);
		probed_set_clear(&none);
		free(p);
		if (best.path == NULL) {
			if (newest_seen)
				return bderr_set(err,
						 "%s in BACKUPD_PG_BINDIR '%s' is version %d, but version %d or newer is needed",
						 name, bindir, newest_seen, min_major);
			return bderr_set(err, "no usable %s in BACKUPD_PG_BINDIR '%s'", name, bindir);
		}
		*out = best;
		return 0;
	}
	probed_set seen = { 0 };
	glob_t g;
	char *pattern = xasprintf("/usr/lib/postgresql/*/bin/%s", name);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			consider(g.gl_pathv[i], min_major, &best, &newest_seen, &seen);
		globfree(&g);
	}
	free(pattern);
	/* then PATH, for non-Debian layouts */
	const char *path = getenv("PATH");
	if (path) {
		char *copy = xstrdup(path);
		char *save = NULL;
		for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			char *p = xasprintf("%s/%s", dir, name);
			consider(p, min_major, &best, &newest_seen, &seen);
			free(p);
		}
		free(copy);
	}
	probed_set_clear(&seen);
	if (best.path == NULL) {
		if (newest_seen)
			return bderr_set(err,
					 "%s version %d or newer is needed (the server is version %d), but the newest installed is %d: install postgresql-client-%d or set BACKUPD_PG_BINDIR",
					 name, min_major, min_major, newest_seen, min_major);
		return bderr_set(err,
				 "%s not found in /usr/lib/postgresql/*/bin or PATH: install postgresql-client%s%.0d",
				 name, min_major ? "-" : "", min_major);
	}
	*out = best;
	return 0;
}

void pg_tool_clear(pg_tool *t)
{
	free(t->path);
	free(t->version);
	t->path = NULL;
	t->version = NULL;
	t->major = 0;
}

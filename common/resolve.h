/*
 * Resolves --repo and --source arguments: a name from the config, or a URL
 * given directly.  Secrets come from *-file options (mode 0600 enforced), the
 * environment, or the client libraries' own files (.pgpass); never from argv.
 */
#ifndef BACKUPD_COMMON_RESOLVE_H
#define BACKUPD_COMMON_RESOLVE_H

#include "archive/storage.h"
#include "common/config.h"
#include "engines/engine.h"

typedef struct repo_spec {
	char *name; /* config name, or NULL when a URL was given */
	char *url;
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *session_token;     /* secret */
	char *ca_file;
	char *encryption_key;    /* secret: encryption-key-file's contents */
	int tls_verify;
	storage_options opts; /* points into the fields above */
} repo_spec;

typedef struct source_spec {
	char *name;     /* config section name, else the database name from the URL */
	const engine_ops *engine; /* chosen from the URI's scheme */
	char *url;      /* connection URI; may still contain a password the user typed */
	char *password; /* from password-file, or NULL (then libpq/MYSQL_PWD defaults apply) */
} source_spec;

/* cfg may be NULL (no config file). */
int resolve_repo(const config *cfg, const char *arg, repo_spec *out, bderr *err);
void repo_spec_free(repo_spec *r);
/*
 * --encryption-key-file FILE: the key of a repository given as a URL (or of
 * a [repo:] section that sets no encryption-key-file; one that does must not
 * get a second key).
 */
int repo_spec_set_key_file(repo_spec *r, const char *path, bderr *err);

int resolve_source(const config *cfg, const char *arg, source_spec *out, bderr *err);
/*
 * Same, with name (--name) overriding the repository name when not NULL; the
 * name a URI would imply is then not derived nor checked, so --name rescues
 * a database whose name is not usable as a path component.
 */
int resolve_source_as(const config *cfg, const char *arg, const char *name, source_spec *out,
		      bderr *err);
void source_spec_free(source_spec *s);

#endif

/*
 * The properties of a dumped PostgreSQL database itself, as pg_dump --create
 * carries them: locale (for CREATE DATABASE), owner, connection limit, ACL,
 * comment, ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ... SET.
 * The dump records them in the manifest's info.database_properties; parsing
 * validates every field, since they end up in SQL.  Manifests written before
 * they were recorded have none: restore --create then works as it did.
 */
#ifndef BACKUPD_ENGINES_PG_DBPROPS_H
#define BACKUPD_ENGINES_PG_DBPROPS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "common/error.h"

typedef struct pg_db_setting {
	char *name;  /* a GUC name: letters, digits, '_', '.' */
	char *value; /* as pg_db_role_setting holds it */
} pg_db_setting;

typedef struct pg_db_settings {
	char *role; /* NULL: the database's own settings */
	pg_db_setting *items;
	size_t n;
} pg_db_settings;

typedef struct pg_db_grant {
	char *grantee;       /* NULL: PUBLIC */
	const char *privilege; /* "CREATE", "CONNECT" or "TEMPORARY" (static) */
	int grantable;
} pg_db_grant;

typedef struct pg_db_props {
	char *owner;      /* NULL: left to the restoring role (--no-owner) */
	int connection_limit; /* -1: none */
	char *collate;
	char *ctype;
	char *provider;   /* "libc", "icu" or "builtin" */
	char *locale;     /* ICU/builtin locale, or NULL */
	char *icu_rules;  /* or NULL */
	char *comment;    /* or NULL */
	int has_acl;      /* 0: the default privileges */
	pg_db_grant *acl;
	size_t n_acl;
	pg_db_settings *settings; /* [0] the database's own, then one per role */
	size_t n_settings;
} pg_db_props;

/*
 * Parses info.database_properties (v may be NULL: *out = NULL, no error).
 * The error names the field that is wrong.  Called by pg_dump_info_parse
 * (engines/pg/pg_format.h), the one reader of a dump's info.
 */
int pg_db_props_parse(const json_t *v, pg_db_props **out, bderr *err);
void pg_db_props_free(pg_db_props *p);

/*
 * The locale options of CREATE DATABASE for a target server of version
 * server_num (" LC_COLLATE 'C' LC_CTYPE 'C' ..."; caller frees), or NULL
 * and the error when the target cannot have the source's locale provider.
 */
char *pg_db_props_create_options(PGconn *c, const pg_db_props *p, int server_num, bderr *err);

/*
 * Applies owner, connection limit, ACL, comment and settings to database
 * dbname through c (a connection to another database of the same server).
 * A role the target lacks is skipped with a warning.  p NULL: only clears the
 * comment.
 */
int pg_db_props_apply(PGconn *c, const char *dbname, const pg_db_props *p, bderr *err);

/*
 * ALTER ROLE role SET ... for each "name=value" of settings (a JSON array, as
 * pg_db_role_setting.setconfig holds them): the role's own settings.
 */
int pg_role_settings_apply(PGconn *c, const char *role, const json_t *settings, bderr *err);

/*
 * The items of a list setting as pg_db_role_setting holds it ("\"$user\",
 * public" -> "$user", "public"), NULL-terminated; caller frees each and the
 * array.
 */
char **pg_db_list_items(const char *value, size_t *n);

#endif

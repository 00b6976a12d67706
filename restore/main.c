/*
 * dbrestore: brings backups back.  Only main() decides exit codes: 0 success,
 * 1 failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/repo.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/program.h"
#include "common/progress.h"
#include "common/resolve.h"
#include "engines/engine.h"
#include "restore/pitr.h"
#include "restore/wal_get.h"

/* Without --name, a repository holding exactly one source needs none. */
static int pick_name(repo *r, const char *given, char **out, bderr *err)
{
	if (given) {
		*out = xstrdup(given);
		return repo_name_check(given, err);
	}
	backup_list *l = NULL;
	if (repo_backup_list(r, NULL, &l, err) != 0)
		return -1;
	const char *only = NULL;
	int several = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (only && strcmp(only, l->items[i].name) != 0)
			several = 1;
		only = l->items[i].name;
	}
	int rc = 0;
	if (only == NULL)
		rc = bderr_set(err, "repository '%s' holds no backups", repo_url(r));
	else if (several)
		rc = bderr_usage(err, "repository '%s' holds several sources: choose one with --name",
				 repo_url(r));
	else
		*out = xstrdup(only);
	backup_list_free(l);
	return rc;
}

static int cmd_restore(program *p, bderr *err)
{
	const char *to = cli_get(&p->args, "to");
	engine_restore_options o = {
		.create = cli_has(&p->args, "create"),
		.allow_non_empty = cli_has(&p->args, "allow-non-empty"),
		.no_owner = cli_has(&p->args, "no-owner"),
		.no_privileges = cli_has(&p->args, "no-privileges"),
		.no_binlog = cli_has(&p->args, "no-binlog"),
	};
	if (cli_int(&p->args, "jobs", &o.jobs, err) != 0)
		return -1;
	source_spec target;
	if (resolve_source(p->cfg, to, &target, err) != 0)
		return -1;
	repo *r = NULL;
	manifest *m = NULL;
	char *name = NULL;
	const char **maps = NULL; /* --role-map OLD=NEW, every one given */
	table_filter *subset = table_filter_new();
	progress *prog = NULL;
	int rc = -1;
	/* --table, --schema and their excludes are repeatable: every one given counts */
	static const struct {
		const char *opt;
		table_filter_list list;
	} subset_opts[] = { { "table", TF_INCLUDE_TABLE }, { "schema", TF_INCLUDE_SCHEMA },
			    { "exclude-table", TF_EXCLUDE_TABLE }, { "exclude-schema", TF_EXCLUDE_SCHEMA } };
	for (int i = 0; i < p->args.n_opts; i++)
		for (size_t k = 0; k < sizeof subset_opts / sizeof *subset_opts; k++)
			if (strcmp(p->args.opts[i].name, subset_opts[k].opt) == 0 &&
			    table_filter_add(subset, subset_opts[k].list, p->args.opts[i].value, err) != 0) {
				bderr_prefix(err, "option '--%s'", subset_opts[k].opt);
				goto out;
			}
	if (program_progress(p, "restore", &prog, err) != 0 || program_open_repo(p, 0, &r, err) != 0 ||
	    pick_name(r, cli_get(&p->args, "name"), &name, err) != 0)
		goto out;
	if (repo_backup_load(r, name, cli_get(&p->args, "backup"), &m, err) != 0)
		goto out;
	if (strcmp(m->engine, target.engine->name) != 0) {
		bderr_usage(err, "backup %s is a %s backup and cannot be restored into a %s target",
			    m->id, m->engine, target.engine->name);
		goto out;
	}
	const char *provision = cli_get(&p->args, "provision");
	if (provision && (!cli_has(&p->args, "owner") || !cli_has(&p->args, "env-file"))) {
		bderr_usage(err, "--provision DB needs --owner ROLE and --env-file FILE (where DATABASE_URL is written)");
		goto out;
	}
	if (!provision && (cli_has(&p->args, "env-file") || cli_has(&p->args, "reuse-role"))) {
		bderr_usage(err, "--env-file and --reuse-role go with --provision DB");
		goto out;
	}
	if (provision && (*provision == '\0' || strlen(provision) > 63)) {
		bderr_usage(err, "--provision takes a database name of 1 to 63 bytes");
		goto out;
	}
	maps = xcalloc((size_t)p->args.n_opts + 1, sizeof *maps);
	for (int i = 0, k = 0; i < p->args.n_opts; i++)
		if (strcmp(p->args.opts[i].name, "role-map") == 0)
			maps[k++] = p->args.opts[i].value;
	o.to_url = target.url;
	o.password = target.password;
	o.create = o.create || provision != NULL;
	o.roles = cli_has(&p->args, "roles");
	o.owner = cli_get(&p->args, "owner");
	o.role_map = maps[0] ? maps : NULL;
	o.provision_db = provision;
	o.env_file = cli_get(&p->args, "env-file");
	o.reuse_role = cli_has(&p->args, "reuse-role");
	o.filter = table_filter_empty(subset) ? NULL : subset;
	o.database = cli_get(&p->args, "database");
	/*
	 * Exact totals: what the engine reads is counted by the repository's
	 * readers.  A subset or one database of a server dump reads part of
	 * the backup: its total is not known, only what is done is shown.
	 */
	if (o.filter == NULL && o.database == NULL)
		progress_add_total(prog, manifest_total_size(m), m->n_objects);
	repo_set_progress(r, prog);
	o.progress = prog;
	if (engine_restore_options_check(target.engine, &o, err) == 0)
		rc = target.engine->restore(r, m, &o, err);
out:
	progress_free(prog);
	table_filter_free(subset);
	free(maps);
	manifest_free(m);
	free(name);
	repo_free(r);
	source_spec_free(&target);
	return rc;
}

/* Every command's options, declared once (see cli.h). */

#define STR_(x) #x
#define STR(x) STR_(x)

static const cli_option restore_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository (needed when it holds several)", 0, NULL, 0, 0 },
	{ "backup", "ID|latest", "which backup", 0, "latest", 0, 0 },
	{ "to", "URI", "target database: a postgresql:// or mysql:// URI, or a [source:NAME]", 1, NULL, 0, 0 },
	{ "jobs", "N", "parallel connections", 0, STR(ENGINE_JOBS_DEFAULT), ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	{ "create", NULL, "create the target database when it does not exist", 0, NULL, 0, 0 },
	{ "allow-non-empty", NULL, "restore into a database that already has tables", 0, NULL, 0, 0 },
	{ "no-owner", NULL, "PostgreSQL: do not set object owners", 0, NULL, 0, 0 },
	{ "no-privileges", NULL, "PostgreSQL: do not restore GRANTs", 0, NULL, 0, 0 },
	{ "no-binlog", NULL, "MySQL/MariaDB: do not write the restore to the binary log", 0, NULL, 0, 0 },
	{ "roles", NULL, "create the roles the backup's objects, grants and policies reference that the target lacks (no passwords; MySQL/MariaDB: the accounts with grants on its databases, created locked)", 0, NULL, 0, 0 },
	{ "owner", "ROLE", "PostgreSQL: ROLE owns every object (the source's owners map to it)", 0, NULL, 0, 0 },
	{ "role-map", "OLD=NEW", "PostgreSQL: use role NEW wherever the backup names OLD (repeatable)", 0, NULL, 0, 0 },
	{ "provision", "DB", "create DB and the --owner role/user (generated password) with the admin account in --to", 0, NULL, 0, 0 },
	{ "env-file", "FILE", "with --provision: write DATABASE_URL=... there (mode 0600)", 0, NULL, 0, 0 },
	{ "reuse-role", NULL, "with --provision: use an existing --owner role (its password is not changed)", 0, NULL, 0, 0 },
	{ "database", "NAME", "PostgreSQL whole-server dump: restore this database alone (into the database --to names, else into NAME)", 0, NULL, 0, 0 },
	{ "table", "PATTERN", "PostgreSQL: restore only tables matching [SCHEMA.]TABLE (shell patterns: * ? [..]), with their indexes, constraints and triggers (repeatable)", 0, NULL, 0, 0 },
	{ "schema", "PATTERN", "PostgreSQL: restore only the objects of schemas matching PATTERN (repeatable)", 0, NULL, 0, 0 },
	{ "exclude-table", "PATTERN", "PostgreSQL: leave out tables matching [SCHEMA.]TABLE (repeatable)", 0, NULL, 0, 0 },
	{ "exclude-schema", "PATTERN", "PostgreSQL: leave out the objects of schemas matching PATTERN (repeatable)", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option pitr_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository", 1, NULL, 0, 0 },
	{ "data-dir", "DIR", "new data directory (must be empty or absent)", 1, NULL, 0, 0 },
	{ "backup", "ID", "base backup to start from (default: the newest one before the target)", 0, NULL, 0, 0 },
	{ "target-time", "T", "recover up to this time (ISO 8601 with offset)", 0, NULL, 0, 0 },
	{ "target-lsn", "L", "recover up to this WAL position", 0, NULL, 0, 0 },
	{ "target-name", "N", "recover up to this restore point (pg_create_restore_point)", 0, NULL, 0, 0 },
	{ "target-xid", "X", "recover up to this transaction", 0, NULL, 0, 0 },
	{ "target-timeline", "latest|current|N", "timeline to follow", 0, NULL, 0, 0 },
	{ "tablespace-map", "OLD=NEW", "put the tablespace at OLD in NEW (repeatable)", 0, NULL, 0, 0 },
	{ "tablespaces-in-place", NULL, "restore tablespaces at their original locations", 0, NULL, 0, 0 },
	{ "standby", NULL, "set the copy up as a standby of its primary (standby.signal, no recovery target)", 0, NULL, 0, 0 },
	{ "primary-conninfo", "C", "--standby: the primary's connection string, without a password (name a passfile=)", 0, NULL, 0, 0 },
	{ "slot", "NAME", "--standby: the primary's physical replication slot to stream through", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option wal_get_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository", 1, NULL, 0, 0 },
	{ "prefetch", "N", "fetch up to N following segments ahead (0: none)", 0, "8", 0, 256 },
	{ "spool-dir", "D", "where prefetched segments wait (default: next to PATH)", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

extern const cli_command dbrestore_commands[];
extern const size_t dbrestore_n_commands;
const cli_command dbrestore_commands[] = {
	{ "restore", "restore a dump into a database", NULL, 0, 0, cmd_restore, restore_opts, 0 },
	{ "pitr", "restore a base backup for point-in-time recovery", NULL, 0, 0, pitr_command,
	  pitr_opts, 0 },
	{ "wal-get", "fetch one archived WAL file (restore_command = 'dbrestore wal-get ... %f %p'); "
		     "exit 1 silently when it is not archived",
	  "WALNAME PATH", 2, 2, wal_get_command, wal_get_opts, 0 },
};
const size_t dbrestore_n_commands = sizeof dbrestore_commands / sizeof *dbrestore_commands;

/* in the contract, not in this version */
static const char *const not_yet[] = { "migrate", NULL };

int main(int argc, char **argv)
{
	return program_main("dbrestore", dbrestore_commands, dbrestore_n_commands, not_yet, argc,
			    argv);
}

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
#include "restore/migrate.h"
#include "restore/migrate_follow.h"
#include "restore/pitr.h"
#include "restore/target_options.h"
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

/* The repository, the source name and the backup (--backup) for a target of engine e. */
static int load_backup_for(program *p, const engine_ops *e, repo **r, char **name, manifest **m,
			   bderr *err)
{
	if (program_open_repo(p, 0, r, err) != 0 || pick_name(*r, cli_get(&p->args, "name"), name, err) != 0)
		return -1;
	if (repo_backup_load(*r, *name, cli_get(&p->args, "backup"), m, err) != 0)
		return -1;
	if (strcmp((*m)->engine, e->name) != 0)
		return bderr_usage(err, "backup %s is a %s backup and cannot be restored into a %s target",
				   (*m)->id, (*m)->engine, e->name);
	/* both engines record it as info.digest (engines/digest.h) */
	/* (a whole-server dump's databases each carry their own, checked as each is restored) */
	if (cli_has(&p->args, "verify") && json_object_get((*m)->info, "digest") == NULL &&
	    !json_is_true(json_object_get((*m)->info, "server")))
		return bderr_set(err, "backup %s cannot be verified: it has no recorded checksums (it predates them, or its server is PostgreSQL 11 or older); restore it without --verify",
				 (*m)->id);
	return 0;
}

static int cmd_restore(program *p, bderr *err)
{
	const char *to = cli_get(&p->args, "to");
	engine_restore_options o;
	memset(&o, 0, sizeof o);
	source_spec target;
	if (resolve_source(p->cfg, to, &target, err) != 0)
		return -1;
	repo *r = NULL;
	manifest *m = NULL;
	char *name = NULL;
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
	if (!table_filter_empty(subset) && cli_has(&p->args, "verify")) {
		bderr_usage(err, "--verify compares the whole backup: it does not go with --table, --schema, --exclude-table or --exclude-schema");
		goto out;
	}
	if (program_progress(p, "restore", &prog, err) != 0 ||
	    load_backup_for(p, target.engine, &r, &name, &m, err) != 0)
		goto out;
	o.verify = cli_has(&p->args, "verify");
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
	if (target_options_read(p, &target, &o, err) == 0)
		rc = target.engine->restore(r, m, &o, err);
out:
	progress_free(prog);
	table_filter_free(subset);
	target_options_clear(&o);
	manifest_free(m);
	free(name);
	repo_free(r);
	source_spec_free(&target);
	return rc;
}

/*
 * `dbrestore verify`: a database against a backup's recorded checksums, as
 * `restore --verify` checks it right after the restore.
 */
static int cmd_verify(program *p, bderr *err)
{
	source_spec target;
	if (resolve_source(p->cfg, cli_get(&p->args, "to"), &target, err) != 0)
		return -1;
	engine_restore_options o = { .to_url = target.url, .password = target.password, .verify = 1 };
	if (cli_int(&p->args, "jobs", &o.jobs, err) != 0) {
		source_spec_free(&target);
		return -1;
	}
	repo *r = NULL;
	manifest *m = NULL;
	char *name = NULL;
	int rc = load_backup_for(p, target.engine, &r, &name, &m, err);
	if (rc == 0)
		rc = target.engine->verify(r, m, &o, err);
	if (rc == 0)
		printf("database matches backup %s\n", m->id);
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
	{ "to", "URI", "target database: a postgresql:// or mysql:// URI, or a [source:NAME]", CLI_REQUIRED, NULL, 0, 0 },
	{ "jobs", "N", "parallel connections", 0, STR(ENGINE_JOBS_DEFAULT), ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	TARGET_OPTIONS,
	{ "verify", NULL, "after the restore, compare every table's rows and checksum, the schema objects and the sequences with what the dump recorded (one more read of the restored data); a difference fails the restore", 0, NULL, 0, 0 },
	{ "database", "NAME", "PostgreSQL whole-server dump: restore this database alone (into the database --to names, else into NAME)", 0, NULL, 0, 0 },
	{ "table", "PATTERN", "PostgreSQL: restore only tables matching [SCHEMA.]TABLE (shell patterns: * ? [..]), with their indexes, constraints and triggers", CLI_REPEATABLE, NULL, 0, 0 },
	{ "schema", "PATTERN", "PostgreSQL: restore only the objects of schemas matching PATTERN", CLI_REPEATABLE, NULL, 0, 0 },
	{ "exclude-table", "PATTERN", "PostgreSQL: leave out tables matching [SCHEMA.]TABLE", CLI_REPEATABLE, NULL, 0, 0 },
	{ "exclude-schema", "PATTERN", "PostgreSQL: leave out the objects of schemas matching PATTERN", CLI_REPEATABLE, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option pitr_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository", CLI_REQUIRED, NULL, 0, 0 },
	{ "data-dir", "DIR", "new data directory (must be empty or absent)", CLI_REQUIRED, NULL, 0, 0 },
	{ "backup", "ID", "base backup to start from (default: the newest one before the target)", 0, NULL, 0, 0 },
	{ "target-time", "T", "recover up to this time (ISO 8601 with offset; seconds optional)", 0, NULL, 0, 0 },
	{ "target-lsn", "L", "recover up to this WAL position", 0, NULL, 0, 0 },
	{ "target-name", "N", "recover up to this restore point (pg_create_restore_point)", 0, NULL, 0, 0 },
	{ "target-xid", "X", "recover up to this transaction", 0, NULL, 0, 0 },
	{ "target-timeline", "latest|current|N", "timeline to follow", 0, NULL, 0, 0 },
	{ "tablespace-map", "OLD=NEW", "put the tablespace at OLD in NEW", CLI_REPEATABLE, NULL, 0, 0 },
	{ "tablespaces-in-place", NULL, "restore tablespaces at their original locations", 0, NULL, 0, 0 },
	{ "standby", NULL, "set the copy up as a standby of its primary (standby.signal, no recovery target)", 0, NULL, 0, 0 },
	{ "primary-conninfo", "C", "--standby: the primary's connection string, without a password (name a passfile=)", 0, NULL, 0, 0 },
	{ "slot", "NAME", "--standby: the primary's physical replication slot to stream through", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option verify_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository (needed when it holds several)", 0, NULL, 0, 0 },
	{ "backup", "ID|latest", "which backup", 0, "latest", 0, 0 },
	{ "to", "URI", "the database to check: a postgresql:// or mysql:// URI, or a [source:NAME]", CLI_REQUIRED, NULL, 0, 0 },
	{ "jobs", "N", "PostgreSQL: read the tables on N connections sharing one snapshot (MySQL/MariaDB: one connection)", 0, STR(ENGINE_JOBS_DEFAULT), ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	CLI_OPT_END,
};

static const cli_option wal_get_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository", CLI_REQUIRED, NULL, 0, 0 },
	{ "prefetch", "N", "fetch up to N following segments ahead (0: none)", 0, "8", 0, 256 },
	{ "spool-dir", "D", "where prefetched segments wait (default: next to PATH)", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

extern const cli_command dbrestore_commands[];
extern const size_t dbrestore_n_commands;
const cli_command dbrestore_commands[] = {
	{ "restore", "restore a dump into a database", NULL, 0, 0, cmd_restore, restore_opts, 0 },
	{ "migrate", "copy a live database into another server (a newer major too) from one snapshot, verified",
	  NULL, 0, 0, migrate_command, migrate_options, 0 },
	{ "verify", "compare a database with a dump's recorded checksums (tables' rows, schema objects, sequences)",
	  NULL, 0, 0, cmd_verify, verify_opts, 0 },
	{ "pitr", "restore a base backup for point-in-time recovery", NULL, 0, 0, pitr_command,
	  pitr_opts, 0 },
	{ "wal-get", "fetch one archived WAL file (restore_command = 'dbrestore wal-get ... %f %p'); "
		     "exit 1 silently when it is not archived",
	  "WALNAME PATH", 2, 2, wal_get_command, wal_get_opts, 0 },
	{ "migrate status", "the phase, lag and rows applied of each follow (migrate --follow)", NULL, 0, 0,
	  migrate_status_command, migrate_status_opts, 0 },
	{ "migrate cutover", "switch a follow over: source read-only, target caught up and verified, "
			     "replication removed; prints the new connection string",
	  NULL, 0, 0, migrate_cutover_command, migrate_cutover_opts, 0 },
	{ "migrate abort", "undo a follow: replication removed, the source as it was", NULL, 0, 0,
	  migrate_abort_command, migrate_abort_opts, 0 },
};
const size_t dbrestore_n_commands = sizeof dbrestore_commands / sizeof *dbrestore_commands;

int main(int argc, char **argv)
{
	return program_main("dbrestore", dbrestore_commands, dbrestore_n_commands, NULL, argc,
			    argv);
}

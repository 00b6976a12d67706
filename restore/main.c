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
#include "common/resolve.h"
#include "engines/engine.h"
#include "restore/pitr.h"
#include "restore/wal_get.h"

static const char usage_text[] =
	"usage: dbrestore [-c FILE] [--log-level L] COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  restore --repo R [--name N] [--backup ID|latest] --to URI [--jobs N] [--create]\n"
	"          [--allow-non-empty] [--no-owner] [--no-privileges] [--no-binlog]\n"
	"                                  restore a dump into a database\n"
	"  pitr --repo R --name N --data-dir DIR [--backup ID]\n"
	"       [--target-time T | --target-lsn L | --target-name N | --target-xid X]\n"
	"       [--target-timeline latest|current|N]\n"
	"       [--tablespace-map OLD=NEW ... | --tablespaces-in-place]\n"
	"                                  restore a base backup for point-in-time recovery\n"
	"  wal-get --repo R --name N [--prefetch N] [--spool-dir D] WALNAME PATH\n"
	"                                  fetch one archived WAL file (restore_command ... %f %p);\n"
	"                                  exit 1 without a message when it is not archived\n"
	"  migrate                         (not in this version yet)\n"
	"\n"
	"-c FILE defaults to $BACKUPD_CONFIG or /etc/backupd/backupd.conf.\n";

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
	if (to == NULL)
		return bderr_usage(err, "--to is required (a postgresql:// or mysql:// URI, or a source name)");
	engine_restore_options o = {
		.create = cli_has(&p->args, "create"),
		.allow_non_empty = cli_has(&p->args, "allow-non-empty"),
		.no_owner = cli_has(&p->args, "no-owner"),
		.no_privileges = cli_has(&p->args, "no-privileges"),
		.no_binlog = cli_has(&p->args, "no-binlog"),
	};
	if (cli_get_int(&p->args, "jobs", ENGINE_JOBS_DEFAULT, ENGINE_JOBS_MIN, ENGINE_JOBS_MAX,
			&o.jobs, err) != 0)
		return -1;
	source_spec target;
	if (resolve_source(p->cfg, to, &target, err) != 0)
		return -1;
	repo *r = NULL;
	manifest *m = NULL;
	char *name = NULL;
	int rc = -1;
	if (program_open_repo(p, 0, &r, err) != 0 || pick_name(r, cli_get(&p->args, "name"), &name, err) != 0)
		goto out;
	if (repo_backup_load(r, name, cli_get(&p->args, "backup"), &m, err) != 0)
		goto out;
	if (strcmp(m->engine, target.engine->name) != 0) {
		bderr_usage(err, "backup %s is a %s backup and cannot be restored into a %s target",
			    m->id, m->engine, target.engine->name);
		goto out;
	}
	o.to_url = target.url;
	o.password = target.password;
	if (engine_restore_options_check(target.engine, &o, err) == 0)
		rc = target.engine->restore(r, m, &o, err);
out:
	manifest_free(m);
	free(name);
	repo_free(r);
	source_spec_free(&target);
	return rc;
}

static const program_command commands[] = {
	{ "restore", cmd_restore,
	  { { "repo", 1 }, { "name", 1 }, { "backup", 1 }, { "to", 1 }, { "jobs", 1 },
	    { "create", 0 }, { "allow-non-empty", 0 }, { "no-owner", 0 }, { "no-privileges", 0 },
	    { "no-binlog", 0 }, { "encryption-key-file", 1 }, 
	    { NULL, 0 } } },
	{ "pitr", pitr_command,
	  { { "repo", 1 }, { "name", 1 }, { "data-dir", 1 }, { "backup", 1 }, { "target-time", 1 },
	    { "target-lsn", 1 }, { "target-name", 1 }, { "target-xid", 1 },
	    { "tablespace-map", 1 }, { "tablespaces-in-place", 0 }, { "target-timeline", 1 },
	    { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "wal-get", wal_get_command,
	  { { "repo", 1 }, { "name", 1 }, { "prefetch", 1 }, { "spool-dir", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
};

static const char *const not_yet[] = { "migrate", NULL };

int main(int argc, char **argv)
{
	return program_main("dbrestore", usage_text, commands, sizeof commands / sizeof *commands,
			    not_yet, argc, argv);
}

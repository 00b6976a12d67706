/*
 * backupd: takes backups.  Only main() decides exit codes: 0 success,
 * 1 failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/repo.h"
#include "backupd/basebackup.h"
#include "backupd/check.h"
#include "backupd/daemon.h"
#include "backupd/expire.h"
#include "backupd/job.h"
#include "backupd/repo_commands.h"
#include "backupd/run_history.h"
#include "backupd/wal_push.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/mem.h"
#include "common/program.h"
#include "common/resolve.h"
#include "engines/engine.h"

static const char usage_text[] =
	"usage: backupd [-c FILE] [--log-level L] COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  dump --source S --repo R [--name N] [--jobs N] [--compress zstd:L|none]\n"
	"       [--chunk-size SIZE] [--consistency lock|no-lock]\n"
	"                                 logical dump of a database into a repository\n"
	"  basebackup --source S --repo R [--name N] [--compress zstd:L|none]\n"
	"       [--archive-timeout SECONDS]    physical base backup (PostgreSQL 15+); complete\n"
	"                                      once its WAL is archived by wal-push\n"
	"  list --repo R [--name N] [--json]     list backups\n"
	"  verify --repo R [--name N] [ID]       re-read and check every object\n"
	"  daemon                                run the scheduler in the foreground\n"
	"  run JOB                               run one configured job now\n"
	"  status [--json]                       each job's last run and next fire time\n"
	"  expire --repo R [--name N] [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
	"         [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--max-age DAYS]\n"
	"         [--dry-run]                    remove backups the rules do not keep\n"
	"  wal-push --repo R --name N [--compress zstd:L|none] [--spool-dir D]\n"
	"           [--async-max N] [--async-threads N] PATH\n"
	"                                        archive one WAL file (archive_command ... %p)\n"
	"  check                                 config, sources, repositories and state-dir reachable\n"
	"  repo rotate-key --repo R --new-key-file F\n"
	"                                        rewrap an encrypted repository's key (no object rewritten)\n"
	"\n"
	"commands that open a repository given as a URL take --encryption-key-file FILE\n"
	"for an encrypted one.\n"
	"-c FILE defaults to $BACKUPD_CONFIG or " CONFIG_DEFAULT_PATH ".\n";

static int cmd_dump(program *p, bderr *err)
{
	const char *src_arg = cli_get(&p->args, "source");
	if (src_arg == NULL)
		return bderr_usage(err, "--source is required");
	engine_dump_options o;
	engine_dump_options_init(&o);
	if (cli_get_int(&p->args, "jobs", ENGINE_JOBS_DEFAULT, ENGINE_JOBS_MIN, ENGINE_JOBS_MAX,
			&o.jobs, err) != 0)
		return -1;
	for (const char *const *k = engine_dump_option_keys; *k; k++) {
		const char *v = cli_get(&p->args, *k);
		if (v && engine_dump_option_set(&o, *k, v, err) != 0)
			return -1;
	}

	/* --name given: the database's own name need not be usable as a path */
	source_spec src;
	if (resolve_source_as(p->cfg, src_arg, cli_get(&p->args, "name"), &src, err) != 0)
		return -1;
	int rc = -1;
	repo *r = NULL;
	char *id = NULL;
	o.url = src.url;
	o.password = src.password;
	o.name = src.name;
	if (engine_dump_options_check(src.engine, &o, err) != 0 ||
	    repo_name_check(src.name, err) != 0 || program_open_repo(p, 1, &r, err) != 0)
		goto out;
	rc = src.engine->dump(r, &o, &id, err);
	if (rc == 0)
		printf("%s\n", id);
	free(id);
out:
	repo_free(r);
	source_spec_free(&src);
	return rc;
}

static int cmd_list(program *p, bderr *err)
{
	repo *r = NULL;
	if (program_open_repo_ex(p, 0, 1, &r, err) != 0)
		return -1;
	int rc = repo_cmd_list(r, cli_get(&p->args, "name"), p->args.json, err);
	repo_free(r);
	return rc;
}

static int cmd_verify(program *p, bderr *err)
{
	if (p->args.n_positional > 1)
		return bderr_usage(err, "verify takes at most one backup ID");
	repo *r = NULL;
	if (program_open_repo(p, 0, &r, err) != 0)
		return -1;
	int rc = repo_cmd_verify(r, cli_get(&p->args, "name"),
				 p->args.n_positional ? p->args.positional[0] : NULL, err);
	repo_free(r);
	return rc;
}

static int cmd_repo(program *p, bderr *err)
{
	if (p->args.n_positional != 1 || strcmp(p->args.positional[0], "rotate-key") != 0)
		return bderr_usage(err, "usage: backupd repo rotate-key --repo R --new-key-file FILE");
	const char *new_file = cli_get(&p->args, "new-key-file");
	if (new_file == NULL)
		return bderr_usage(err, "repo rotate-key: --new-key-file is required");
	char *new_key = NULL;
	if (secret_read_key_file(new_file, &new_key, err) != 0)
		return -1;
	repo *r = NULL;
	int rc = program_open_repo(p, 0, &r, err);
	if (rc == 0)
		rc = repo_rotate_key(r, new_key, err);
	if (rc == 0)
		log_info("repository %s: key rotated; use %s from now on", repo_url(r), new_file);
	repo_free(r);
	secret_free(new_key);
	return rc;
}

static const program_command commands[] = {
	{ "dump", cmd_dump,
	  { { "source", 1 }, { "repo", 1 }, { "name", 1 }, { "jobs", 1 }, { "compress", 1 },
	    { "chunk-size", 1 }, { "consistency", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "basebackup", basebackup_command,
	  { { "source", 1 }, { "repo", 1 }, { "name", 1 }, { "compress", 1 },
	    { "archive-timeout", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "list", cmd_list, { { "repo", 1 }, { "name", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "verify", cmd_verify, { { "repo", 1 }, { "name", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "expire", expire_command,
	  { { "repo", 1 }, { "name", 1 }, { "keep-last", 1 }, { "keep-hourly", 1 },
	    { "keep-daily", 1 }, { "keep-weekly", 1 }, { "keep-monthly", 1 }, { "keep-yearly", 1 },
	    { "max-age", 1 }, { "dry-run", 0 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
	{ "run", job_command, { { NULL, 0 } } },
	{ "daemon", daemon_command, { { NULL, 0 } } },
	{ "status", status_command, { { NULL, 0 } } },
	{ "check", check_command, { { NULL, 0 } } },
	{ "repo", cmd_repo,
	  { { "repo", 1 }, { "encryption-key-file", 1 }, { "new-key-file", 1 }, { NULL, 0 } } },
	{ "wal-push", wal_push_command,
	  { { "repo", 1 }, { "name", 1 }, { "compress", 1 }, { "spool-dir", 1 }, { "async-max", 1 },
	    { "async-threads", 1 }, { "encryption-key-file", 1 }, { NULL, 0 } } },
};

static const char *const not_yet[] = { NULL };

int main(int argc, char **argv)
{
	return program_main("backupd", usage_text, commands, sizeof commands / sizeof *commands,
			    not_yet, argc, argv);
}

/*
 * backupd: takes backups.  Only main() decides exit codes: 0 success,
 * 1 failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/filter.h"
#include "archive/repo.h"
#include "backupd/basebackup.h"
#include "backupd/check.h"
#include "backupd/daemon.h"
#include "backupd/expire.h"
#include "backupd/job.h"
#include "engines/mysql/mysql_dump.h"
#include "engines/pg/pg_dump.h"
#include "backupd/repo_commands.h"
#include "backupd/run_history.h"
#include "backupd/wal_push.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/program.h"
#include "common/resolve.h"

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
	"\n"
	"-c FILE defaults to $BACKUPD_CONFIG or " CONFIG_DEFAULT_PATH ".\n";

/* "64MB", "1G", "1048576" -> bytes */
static int parse_size(const char *s, uint64_t *out, bderr *err)
{
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return bderr_usage(err, "option '--chunk-size' must be a size like 256MB, got '%s'", s);
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1024ULL;
	else if (*end == 'm' || *end == 'M')
		mult = 1024ULL * 1024;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ULL * 1024 * 1024;
	else if (*end != '\0')
		return bderr_usage(err, "option '--chunk-size' must be a size like 256MB, got '%s'", s);
	if (*end && end[1] && strcasecmp(end + 1, "b") != 0 && strcasecmp(end + 1, "ib") != 0)
		return bderr_usage(err, "option '--chunk-size' must be a size like 256MB, got '%s'", s);
	*out = (uint64_t)v * mult;
	return 0;
}

static int cmd_dump(program *p, bderr *err)
{
	const char *src_arg = cli_get(&p->args, "source");
	if (src_arg == NULL)
		return bderr_usage(err, "--source is required");
	int jobs;
	if (cli_get_int(&p->args, "jobs", 2, 1, 64, &jobs, err) != 0)
		return -1;
	const char *spec = cli_get(&p->args, "compress");
	int level = 1;
	if (spec && compress_spec_parse(spec, &level, err) != 0)
		return -1;
	uint64_t chunk = 256ULL * 1024 * 1024;
	const char *chunk_arg = cli_get(&p->args, "chunk-size");
	if (chunk_arg && parse_size(chunk_arg, &chunk, err) != 0)
		return -1;

	/* --name given: the database's own name need not be usable as a path */
	source_spec src;
	if (resolve_source_as(p->cfg, src_arg, cli_get(&p->args, "name"), &src, err) != 0)
		return -1;
	int rc = -1;
	repo *r = NULL;
	const char *name = src.name;
	const char *consistency = cli_get(&p->args, "consistency");
	int no_lock = 0;
	if (consistency && strcmp(consistency, "no-lock") == 0)
		no_lock = 1;
	else if (consistency && strcmp(consistency, "lock") != 0 && strcmp(consistency, "ftwrl") != 0) {
		bderr_usage(err, "option '--consistency' must be 'lock' or 'no-lock', got '%s'", consistency);
		goto out;
	}
	if (consistency && src.engine != ENGINE_MYSQL) {
		bderr_usage(err, "option '--consistency' only applies to MySQL/MariaDB sources");
		goto out;
	}
	if (repo_name_check(name, err) != 0 || program_open_repo(p, 1, &r, err) != 0)
		goto out;
	char *id = NULL;
	if (src.engine == ENGINE_MYSQL) {
		mysql_dump_options mo = {
			.url = src.url,
			.password = src.password,
			.name = name,
			.jobs = jobs,
			.compress_level = level,
			.compress_spec = spec ? spec : "zstd:1",
			.chunk_bytes = chunk,
			.no_lock = no_lock,
		};
		rc = mysql_dump_run(r, &mo, &id, err);
		if (rc == 0)
			printf("%s\n", id);
		free(id);
		goto out;
	}
	pg_dump_options o = {
		.url = src.url,
		.password = src.password,
		.name = name,
		.jobs = jobs,
		.compress_level = level,
		.compress_spec = spec ? spec : "zstd:1",
		.chunk_bytes = chunk,
	};
	rc = pg_dump_run(r, &o, &id, err);
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
	if (program_open_repo(p, 0, &r, err) != 0)
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

static const program_command commands[] = {
	{ "dump", cmd_dump,
	  { { "source", 1 }, { "repo", 1 }, { "name", 1 }, { "jobs", 1 }, { "compress", 1 },
	    { "chunk-size", 1 }, { "consistency", 1 }, { NULL, 0 } } },
	{ "basebackup", basebackup_command,
	  { { "source", 1 }, { "repo", 1 }, { "name", 1 }, { "compress", 1 },
	    { "archive-timeout", 1 }, { NULL, 0 } } },
	{ "list", cmd_list, { { "repo", 1 }, { "name", 1 }, { NULL, 0 } } },
	{ "verify", cmd_verify, { { "repo", 1 }, { "name", 1 }, { NULL, 0 } } },
	{ "expire", expire_command,
	  { { "repo", 1 }, { "name", 1 }, { "keep-last", 1 }, { "keep-hourly", 1 },
	    { "keep-daily", 1 }, { "keep-weekly", 1 }, { "keep-monthly", 1 }, { "keep-yearly", 1 },
	    { "max-age", 1 }, { "dry-run", 0 }, { NULL, 0 } } },
	{ "run", job_command, { { NULL, 0 } } },
	{ "daemon", daemon_command, { { NULL, 0 } } },
	{ "status", status_command, { { NULL, 0 } } },
	{ "check", check_command, { { NULL, 0 } } },
	{ "wal-push", wal_push_command,
	  { { "repo", 1 }, { "name", 1 }, { "compress", 1 }, { "spool-dir", 1 }, { "async-max", 1 },
	    { "async-threads", 1 }, { NULL, 0 } } },
};

static const char *const not_yet[] = { NULL };

int main(int argc, char **argv)
{
	return program_main("backupd", usage_text, commands, sizeof commands / sizeof *commands,
			    not_yet, argc, argv);
}

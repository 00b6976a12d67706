/*
 * backupd: takes backups.  Only main() decides exit codes: 0 success,
 * 1 failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/repo.h"
#include "backupd/basebackup.h"
#include "backupd/catalog.h"
#include "backupd/check.h"
#include "backupd/daemon.h"
#include "backupd/expire.h"
#include "backupd/job.h"
#include "backupd/repo_commands.h"
#include "backupd/run_history.h"
#include "backupd/wal_push.h"
#include "common/lockfile.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/mem.h"
#include "common/program.h"
#include "common/progress.h"
#include "common/resolve.h"
#include "engines/engine.h"

/* Before a dump opens (and so creates) its repository: a wrong host or password leaves none. */
static int reach_source(void *src, bderr *err)
{
	const source_spec *s = src;
	return engine_reach(s->engine, s->url, s->password, err);
}

static int cmd_dump(program *p, bderr *err)
{
	engine_dump_options o;
	engine_dump_options_init(&o);
	if (cli_int(&p->args, "jobs", &o.jobs, err) != 0)
		return -1;
	for (const char *const *k = engine_dump_option_keys; *k; k++) {
		const char *v = cli_get(&p->args, *k);
		if (v && engine_dump_option_set(&o, *k, v, err) != 0)
			return bderr_prefix(err, "option '--%s'", *k);
	}
	/* without --compress, the [repo:]'s compress = (as a job's dump and wal-push use it) */
	const char *compress;
	if (program_compress(p, cli_get(&p->args, "repo"), &compress, NULL, err) != 0 ||
	    (compress && !cli_has(&p->args, "compress") && engine_dump_option_set(&o, "compress", compress, err) != 0))
		return -1;
	/* --include-table and friends are repeatable: every one given counts */
	for (int i = 0; i < p->args.n_opts; i++)
		for (const char *const *k = engine_dump_filter_keys; *k; k++)
			if (strcmp(p->args.opts[i].name, *k) == 0 &&
			    engine_dump_filter_add(&o, *k, p->args.opts[i].value, 0, err) != 0) {
				engine_dump_options_clear(&o);
				return bderr_prefix(err, "option '--%s'", *k);
			}
	o.role_passwords = cli_has(&p->args, "role-passwords");
	if (o.role_passwords)
		o.given |= ENGINE_GIVEN_ROLE_PASSWORDS;
	if (job_source_all_databases(p->cfg, cli_get(&p->args, "source"), &o.all_databases, err) != 0) {
		engine_dump_options_clear(&o);
		return -1;
	}
	o.all_databases |= cli_has(&p->args, "all-databases");

	/* --name given: the database's own name need not be usable as a path */
	source_spec src;
	if (resolve_source_as(p->cfg, cli_get(&p->args, "source"), cli_get(&p->args, "name"), &src,
			      err) != 0) {
		engine_dump_options_clear(&o);
		return -1;
	}
	int rc = -1;
	repo *r = NULL;
	int lock_fd = -1;
	char *id = NULL;
	progress *prog = NULL;
	o.url = src.url;
	o.password = src.password;
	o.name = src.name;
	/* the source reached before the repository is opened: a first dump creates it */
	if (engine_dump_options_check(src.engine, &o, err) != 0 ||
	    repo_name_check(src.name, err) != 0 || program_progress(p, "dump", &prog, err) != 0 ||
	    program_create_repo_after(p, reach_source, &src, &r, err) != 0 ||
	    dump_lock(p->cfg, repo_url(r), src.name, &lock_fd, err) != 0)
		goto out;
	o.progress = prog;
	rc = src.engine->dump(r, &o, &id, err);
	progress_free(prog); /* its line goes before the ID on a terminal */
	prog = NULL;
	if (rc == 0)
		printf("%s\n", id);
	free(id);
out:
	progress_free(prog);
	lockfile_release(lock_fd);
	repo_free(r);
	source_spec_free(&src);
	engine_dump_options_clear(&o);
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
	repo *r = NULL;
	progress *prog = NULL;
	if (program_progress(p, "verify", &prog, err) != 0 || program_open_repo(p, 0, &r, err) != 0) {
		progress_free(prog);
		return -1;
	}
	repo_set_progress(r, prog);
	int rc = repo_cmd_verify(r, cli_get(&p->args, "name"),
				 p->args.n_positional ? p->args.positional[0] : NULL, err);
	repo_free(r);
	progress_free(prog);
	return rc;
}

static int cmd_repo(program *p, bderr *err)
{
	if (strcmp(p->args.positional[0], "rotate-key") != 0)
		return bderr_usage(err, "repo: unknown subcommand '%s' (known: rotate-key)",
				   p->args.positional[0]);
	const char *new_file = cli_get(&p->args, "new-key-file");
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

/*
 * Every command's options, declared once: the parser, the synopsis and the
 * help text come from here (and man pages and completion can).  NULL name
 * ends a table; an integer option has bounds (min..max) and its default.
 */
#define STR_(x) #x
#define STR(x) STR_(x)
#define OPT_COMPRESS { "compress", "zstd:L|none", "compression of the stored objects (L 1..19)", 0, ENGINE_COMPRESS_DEFAULT, 0, 0 }

static const cli_option dump_opts[] = {
	{ "source", "S", "database to dump: a [source:NAME] or a postgresql:// / mysql:// URI", CLI_REQUIRED, NULL, 0, 0 },
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "name of the backups in the repository (default: the source's name)", 0, NULL, 0, 0 },
	{ "jobs", "N", "parallel connections", 0, STR(ENGINE_JOBS_DEFAULT), ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	OPT_COMPRESS,
	{ "chunk-size", "SIZE", "split large tables into objects of about this size (256MB, 1G)", 0, ENGINE_CHUNK_SIZE_DEFAULT, 0, 0 },
	{ "copy-format", "auto|text", "PostgreSQL: COPY tables of built-in types in binary (auto), or every table as text", 0, "auto", 0, 0 },
	{ "consistency", "lock|no-lock", "MySQL/MariaDB: lock non-transactional tables for a consistent dump, or not", 0, "lock", 0, 0 },
	{ "all-databases", NULL, "every database of the server (PostgreSQL: and its roles, tablespaces and database settings)", 0, NULL, 0, 0 },
	{ "role-passwords", NULL, "PostgreSQL, with --all-databases: the roles' password hashes too (encrypted repositories only)", 0, NULL, 0, 0 },
	{ "include-table", "PATTERN", "only tables matching [SCHEMA.]TABLE (shell patterns: * ? [..])", CLI_REPEATABLE, NULL, 0, 0 },
	{ "exclude-table", "PATTERN", "leave out tables matching [SCHEMA.]TABLE", CLI_REPEATABLE, NULL, 0, 0 },
	{ "exclude-table-data", "PATTERN", "keep the definition of tables matching [SCHEMA.]TABLE, not their rows", CLI_REPEATABLE, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option basebackup_opts[] = {
	{ "source", "S", "PostgreSQL server (12+, a primary or a streaming standby): a [source:NAME] or a postgresql:// URI", CLI_REQUIRED, NULL, 0, 0 },
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "name of the backups in the repository (default: the source's name)", 0, NULL, 0, 0 },
	OPT_COMPRESS,
	{ "archive-timeout", "SECONDS", "wait this long for the backup's last WAL segment to be archived",
	  0, STR(BASEBACKUP_ARCHIVE_TIMEOUT_DEFAULT), 1, 86400 },
	{ "slot", "NAME", "physical replication slot that reserves WAL for a standby made from this backup (must exist unless --create-slot)", 0, NULL, 0, 0 },
	{ "create-slot", NULL, "create --slot (RESERVE_WAL) before the backup starts", 0, NULL, 0, 0 },
	{ "incremental", NULL, "PostgreSQL 17+ (summarize_wal = on): only the blocks changed since the newest base backup", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option list_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "only the backups of this name", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

static const cli_option verify_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "only the backups of this name", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option expire_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "only the backups of this name", 0, NULL, 0, 0 },
	{ "keep-last", "N", "keep the N newest backups", 0, NULL, 1, 1000000 },
	{ "keep-hourly", "N", "keep the newest backup of each of the last N hours", 0, NULL, 1, 1000000 },
	{ "keep-daily", "N", "keep the newest backup of each of the last N days", 0, NULL, 1, 1000000 },
	{ "keep-weekly", "N", "keep the newest backup of each of the last N weeks", 0, NULL, 1, 1000000 },
	{ "keep-monthly", "N", "keep the newest backup of each of the last N months", 0, NULL, 1, 1000000 },
	{ "keep-yearly", "N", "keep the newest backup of each of the last N years", 0, NULL, 1, 1000000 },
	{ "max-age", "DAYS", "remove backups older than DAYS days", 0, NULL, 1, 1000000 },
	{ "dry-run", NULL, "print what would be removed, remove nothing", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static const cli_option wal_push_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "name", "N", "the source's name in the repository", CLI_REQUIRED, NULL, 0, 0 },
	OPT_COMPRESS,
	{ "spool-dir", "D", "where asynchronous pushes are staged (default STATE-DIR/spool/wal-push/NAME)", 0, NULL, 0, 0 },
	{ "async-max", "N", "push up to N ready segments ahead in the background (0: synchronous only)", 0, "8", 0, 1024 },
	{ "async-threads", "N", "parallel uploads of the background pusher", 0, "2", 1, 64 },
	CLI_OPT_END,
};

static const cli_option check_opts[] = {
	{ "wal", NULL, "also force a WAL switch on each archiving source and wait for the segment in the repository", 0, NULL, 0, 0 },
	{ "wal-timeout", "SECONDS", "how long --wal waits for each segment", 0, "60", 1, 3600 },
	CLI_OPT_END,
};

static const cli_option repo_opts[] = {
	PROGRAM_OPT_REPO,
	PROGRAM_OPT_KEY_FILE,
	{ "new-key-file", "FILE", "rotate-key: the new key file (mode 0600, at least 32 bytes)", CLI_REQUIRED, NULL, 0, 0 },
	CLI_OPT_END,
};

static const cli_option no_opts[] = { CLI_OPT_END };

static const cli_option daemon_opts[] = {
	{ "id", "ID", "this daemon's name in the fleet catalog (over [global] daemon-id; default: the host name)", 0, NULL, 0, 0 },
	{ "state-dir", "DIR", "state directory (over [global] state-dir)", 0, NULL, 0, 0 },
	{ "http-listen", "ADDR:PORT", "serve /metrics and /health here (over [global] http-listen)", 0, NULL, 0, 0 },
	{ "tags", "T,...", "this daemon's tags, for the jobs' run-on = (over [global] tags)", 0, NULL, 0, 0 },
	CLI_OPT_END,
};

static const cli_option run_opts[] = {
	{ "notify", NULL, "send the job's notifications ([notify:NAME], webhook-url) as the daemon does", 0, NULL, 0, 0 },
	{ "state-dir", "DIR", "state directory (over [global] state-dir)", 0, NULL, 0, 0 },
	PROGRESS_CLI_OPTIONS,
	CLI_OPT_END,
};

static int cmd_run(program *p, bderr *err)
{
	const char *sd = cli_get(&p->args, "state-dir");
	if (sd && p->cfg)
		config_set_global(p->cfg, "state-dir", sd);
	return job_command(p, err);
}

static int cmd_status(program *p, bderr *err)
{
	if (p->cfg && catalog_url(p->cfg))
		return catalog_status(p, err);
	return status_command(p, err);
}

extern const cli_command backupd_commands[];
extern const size_t backupd_n_commands;
const cli_command backupd_commands[] = {
	{ "dump", "logical dump of a database into a repository", NULL, 0, 0, cmd_dump, dump_opts, 0 },
	{ "basebackup", "physical base backup of a PostgreSQL 12+ server (complete once its WAL is archived)",
	  NULL, 0, 0, basebackup_command, basebackup_opts, 0 },
	{ "list", "list the backups of a repository", NULL, 0, 0, cmd_list, list_opts, 0 },
	{ "verify", "re-read and check every object of the backups (or of backup ID), and a base backup's WAL to the newest archived segment", "[ID]", 0, 1,
	  cmd_verify, verify_opts, 0 },
	{ "expire", "remove the backups the rules do not keep", NULL, 0, 0, expire_command, expire_opts, 0 },
	{ "run", "run one configured job now", "JOB", 1, 1, cmd_run, run_opts, 0 },
	{ "daemon", "run the scheduler in the foreground", NULL, 0, 0, daemon_command, daemon_opts, 0 },
	{ "status", "each job's last run and next fire time (with a catalog: the whole fleet's, and what runs now)",
	  NULL, 0, 0, cmd_status, no_opts, 0 },
	{ "catalog", "create (init) or upgrade the fleet catalog's schema and publish the job definitions",
	  "init|upgrade", 1, 1, catalog_command, no_opts, 0 },
	{ "check", "validate the config and check every source, repository and the state dir",
	  NULL, 0, 0, check_command, check_opts, 1 },
	{ "repo", "repository maintenance: rotate-key rewraps an encrypted repository's key (no object rewritten)",
	  "rotate-key", 1, 1, cmd_repo, repo_opts, 0 },
	{ "wal-push", "archive one WAL file (archive_command = 'backupd wal-push ... %p')", "PATH", 1, 1,
	  wal_push_command, wal_push_opts, 0 },
};
const size_t backupd_n_commands = sizeof backupd_commands / sizeof *backupd_commands;

int main(int argc, char **argv)
{
	return program_main("backupd", backupd_commands, backupd_n_commands, NULL, argc, argv);
}

#include "common/program.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/repo.h"
#include "common/log.h"
#include "common/resolve.h"
#include "common/version.h"
#include "common/mem.h"

int program_find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--log-level") == 0) {
			i++;
			continue;
		}
		if (a[0] == '-')
			continue;
		return i;
	}
	return 0;
}

int program_parse(program *p, int argc, char **argv, const cli_option *opts, bderr *err)
{
	memset(p, 0, sizeof *p);
	int cmd = program_find_command(argc, argv);
	p->command = cmd ? argv[cmd] : NULL;
	p->argv = xcalloc((size_t)argc + 1, sizeof *p->argv);
	for (int i = 0; i < argc; i++)
		if (i != cmd)
			p->argv[p->argc++] = argv[i];
	static const cli_option none[] = { { NULL, 0 } };
	return cli_parse(p->argc, p->argv, 1, opts ? opts : none, &p->args, err);
}

int program_load_config(program *p, bderr *err)
{
	const char *path = p->args.config_path;
	int explicit_path = path != NULL;
	if (path == NULL) {
		path = getenv("BACKUPD_CONFIG");
		explicit_path = path != NULL && *path;
	}
	if (path == NULL || *path == '\0')
		path = CONFIG_DEFAULT_PATH;
	if (explicit_path || access(path, F_OK) == 0) {
		if (config_load(path, &p->cfg, err) != 0)
			return -1;
	}
	const char *level = p->args.log_level;
	if (level == NULL && p->cfg) {
		const config_section *g = config_find(p->cfg, "global", NULL);
		if (g)
			level = config_get(g, "log-level");
	}
	if (level) {
		log_level l;
		if (log_level_parse(level, &l) != 0)
			return bderr_usage(err, "unknown log level '%s': use error, warn, info or debug",
					   level);
		log_init(log_prog(), l);
	}
	return 0;
}

void program_free(program *p)
{
	free(p->argv);
	config_free(p->cfg);
	p->argv = NULL;
	p->cfg = NULL;
}

int program_open_repo(program *p, int create, repo **r, bderr *err)
{
	return program_open_repo_ex(p, create, 0, r, err);
}

int program_open_repo_ex(program *p, int create, int allow_locked, repo **r, bderr *err)
{
	const char *arg = cli_get(&p->args, "repo");
	if (arg == NULL)
		return bderr_usage(err, "--repo is required");
	repo_spec spec;
	if (resolve_repo(p->cfg, arg, &spec, err) != 0)
		return -1;
	if (repo_spec_set_key_file(&spec, cli_get(&p->args, "encryption-key-file"), err) != 0) {
		repo_spec_free(&spec);
		return -1;
	}
	int rc = repo_open_ex(spec.url, &spec.opts, create, allow_locked, r, err);
	repo_spec_free(&spec);
	return rc;
}

static int wants(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], a) == 0 || (b && strcmp(argv[i], b) == 0))
			return 1;
	return 0;
}

int program_main(const char *prog, const char *usage, const program_command *cmds, size_t n_cmds,
		 const char *const *not_yet, int argc, char **argv)
{
	/* a closed pipe (psql exiting early) must be an error return, not a death */
	signal(SIGPIPE, SIG_IGN);
	log_init(prog, LOG_LEVEL_INFO);
	int ci = program_find_command(argc, argv);
	if (ci == 0) {
		if (wants(argc, argv, "--version", NULL)) {
			printf("%s %s\n", prog, BACKUPD_VERSION);
			return EXIT_OK;
		}
		if (wants(argc, argv, "-h", "--help")) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[ci];
	const program_command *cmd = NULL;
	for (size_t i = 0; i < n_cmds; i++)
		if (strcmp(cmds[i].name, name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL) {
		for (int i = 0; not_yet && not_yet[i]; i++)
			if (strcmp(not_yet[i], name) == 0) {
				log_error("'%s' is not available in this version yet", name);
				return EXIT_USAGE;
			}
		log_error("unknown command '%s' (see %s --help)", name, prog);
		return EXIT_USAGE;
	}
	bderr err;
	bderr_init(&err);
	program p;
	int rc = program_parse(&p, argc, argv, cmd->opts, &err);
	if (rc == 0 && p.args.help) {
		fputs(usage, stdout);
		program_free(&p);
		return EXIT_OK;
	}
	if (rc == 0)
		rc = program_load_config(&p, &err);
	if (rc == 0)
		rc = cmd->run(&p, &err);
	program_free(&p);
	/* a positive result is an exit code that is not a failure to report (wal-get: not archived) */
	if (rc > 0)
		return rc;
	if (rc != 0) {
		log_error("%s", err.msg[0] ? err.msg : "failed");
		return err.exit_code ? err.exit_code : EXIT_FAILURE_RUN;
	}
	return EXIT_OK;
}

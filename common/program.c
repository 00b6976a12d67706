#include "common/program.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/filter.h"
#include "archive/repo.h"
#include "common/doc.h"
#include "common/log.h"
#include "common/resolve.h"
#include "common/version.h"
#include "common/mem.h"
#include "common/progress.h"

int program_find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--log-level") == 0 ||
		    strcmp(a, "--log-format") == 0) {
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
	static const cli_option none[] = { CLI_OPT_END };
	if (cli_parse(p->argc, p->argv, 1, opts ? opts : none, &p->args, err) != 0)
		return -1;
	return program_argv_secrets(p->argc, p->argv, err);
}

int program_argv_secrets(int argc, char **argv, bderr *err)
{
	for (int i = 1; i < argc; i++) {
		char *copy = xstrdup(argv[i]);
		log_redact(copy);
		int secret = strcmp(copy, argv[i]) != 0;
		free(copy);
		if (!secret)
			continue;
		/* the option's name only: its value is the secret */
		const char *opt = argv[i][0] == '-' ? argv[i] : (argv[i - 1][0] == '-' ? argv[i - 1] : "an argument");
		return bderr_usage(err, "%.*s: a password on the command line is visible to every local user "
					"(ps, /proc): use a password file ([source:] password-file, PGPASSFILE or "
					".pgpass, MYSQL_PWD)",
				   (int)strcspn(opt, "="), opt);
	}
	return 0;
}

static int load_config(program *p, bderr_list *errors, bderr *err)
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
		int rc = errors ? config_load_all(path, &p->cfg, errors, err)
				: config_load(path, &p->cfg, err);
		/*
		 * The default is read because it exists, also by commands the
		 * database server runs as its own user (archive_command,
		 * restore_command), which the package's root:backupd 0640 file
		 * shuts out: say which file that was and what to do instead.
		 */
		if (rc != 0 && !explicit_path && err->sys_errno == EACCES) {
			char msg[BDERR_MSG_MAX];
			snprintf(msg, sizeof msg, "%s", err->msg);
			bderr_usage(err, "%s (the default config, read whenever it exists: give this "
					 "user a config it can read with -c FILE or BACKUPD_CONFIG=FILE)",
				    msg);
			err->sys_errno = EACCES;
		}
		if (rc != 0)
			return -1;
	}
	const char *level = p->args.log_level;
	log_format fmt;
	if (level == NULL && p->cfg) {
		const config_section *g = config_find(p->cfg, "global", NULL);
		if (g)
			level = config_get(g, "log-level");
	}
	if (p->args.log_format && log_format_parse(p->args.log_format, &fmt) == 0)
		log_set_format(fmt);
	if (level) {
		log_level l;
		if (log_level_parse(level, &l) != 0)
			return bderr_usage(err, "unknown log level '%s': use error, warn, info or debug",
					   level);
		log_init(log_prog(), l);
	}
	return 0;
}

int program_load_config(program *p, bderr *err)
{
	return load_config(p, NULL, err);
}

int program_load_config_all(program *p, bderr_list *errors, bderr *err)
{
	return load_config(p, errors, err);
}

void program_free(program *p)
{
	free(p->argv);
	config_free(p->cfg);
	p->argv = NULL;
	p->cfg = NULL;
}

int program_compress(program *p, const char *repo_arg, const char **spec, int *level, bderr *err)
{
	int parsed;
	*spec = cli_get(&p->args, "compress");
	if (*spec && compress_spec_parse(*spec, &parsed, err) != 0)
		return bderr_prefix(err, "option '--compress'");
	const config_section *rs = NULL;
	if (*spec == NULL) {
		rs = p->cfg && repo_arg ? config_find(p->cfg, "repo", repo_arg) : NULL;
		*spec = rs ? config_get(rs, "compress") : NULL;
		if (*spec && compress_spec_parse(*spec, &parsed, err) != 0)
			return config_key_error(p->cfg, rs, "compress", err);
	}
	if (*spec && level)
		*level = parsed;
	return 0;
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
	return program_open_repo_arg(p, arg, create, allow_locked, r, err);
}

static int open_repo(program *p, const char *arg, int create, int allow_locked,
		     int (*before)(void *ctx, bderr *err), void *ctx, repo **r, bderr *err)
{
	repo_spec spec;
	if (resolve_repo(p->cfg, arg, &spec, err) != 0)
		return -1;
	int rc = repo_spec_set_key_file(&spec, cli_get(&p->args, "encryption-key-file"), err);
	if (rc == 0 && before)
		rc = before(ctx, err);
	if (rc == 0)
		rc = repo_open_ex(spec.url, &spec.opts, create, allow_locked, r, err);
	repo_spec_free(&spec);
	return rc;
}

int program_open_repo_arg(program *p, const char *arg, int create, int allow_locked, repo **r,
			  bderr *err)
{
	return open_repo(p, arg, create, allow_locked, NULL, NULL, r, err);
}

int program_create_repo_after(program *p, int (*before)(void *ctx, bderr *err), void *ctx,
			      repo **r, bderr *err)
{
	const char *arg = cli_get(&p->args, "repo");
	if (arg == NULL)
		return bderr_usage(err, "--repo is required");
	return open_repo(p, arg, 1, 0, before, ctx, r, err);
}

static int wants(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], a) == 0 || (b && strcmp(argv[i], b) == 0))
			return 1;
	return 0;
}

static const cli_command *find_cmd(const cli_command *cmds, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/*
 * A command of two words ("migrate status") when the table has one for
 * argv[ci] and the next word; *second is that word's index (0: none).
 */
static const cli_command *find_cmd2(const cli_command *cmds, size_t n, int argc, char **argv,
				    int ci, int *second)
{
	*second = 0;
	int w = program_find_command(argc - ci, argv + ci);
	if (w == 0)
		return NULL;
	char *two = xasprintf("%s %s", argv[ci], argv[ci + w]);
	const cli_command *c = find_cmd(cmds, n, two);
	free(two);
	if (c)
		*second = ci + w;
	return c;
}

static int unknown_command(const char *prog, const char *name, const char *const *not_yet)
{
	for (int i = 0; not_yet && not_yet[i]; i++)
		if (strcmp(not_yet[i], name) == 0) {
			log_error("'%s' is not available in this version yet", name);
			return EXIT_USAGE;
		}
	log_error("unknown command '%s' (see %s help)", name, prog);
	return EXIT_USAGE;
}

/* `PROG help [CMD]`: the word after "help", if any, names the command. */
static int help_command(const char *prog, const cli_command *cmds, size_t n,
			const char *const *not_yet, int argc, char **argv, int ci)
{
	int topic = program_find_command(argc - ci, argv + ci);
	if (topic == 0) {
		cli_print_commands(stdout, prog, cmds, n);
		return EXIT_OK;
	}
	int second;
	const cli_command *cmd = find_cmd2(cmds, n, argc, argv, ci + topic, &second);
	if (cmd == NULL)
		cmd = find_cmd(cmds, n, argv[ci + topic]);
	if (cmd == NULL)
		return unknown_command(prog, argv[ci + topic], not_yet);
	cli_print_command_help(stdout, prog, cmd);
	return EXIT_OK;
}

int program_main(const char *prog, const cli_command *cmds, size_t n_cmds,
		 const char *const *not_yet, int argc, char **argv)
{
	/* a closed pipe (psql exiting early) must be an error return, not a death */
	signal(SIGPIPE, SIG_IGN);
	log_init(prog, LOG_LEVEL_INFO);
	/* hidden: the build generates the man pages and completion from the tables */
	if (argc == 3 && strcmp(argv[1], "--internal-doc") == 0) {
		if (doc_generate(stdout, argv[2], prog, cmds, n_cmds) != 0) {
			log_error("--internal-doc: unknown '%s' or write error", argv[2]);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	int ci = program_find_command(argc, argv);
	if (ci == 0) {
		if (wants(argc, argv, "--version", NULL)) {
			printf("%s %s\n", prog, BACKUPD_VERSION);
			return EXIT_OK;
		}
		if (wants(argc, argv, "-h", "--help")) {
			cli_print_commands(stdout, prog, cmds, n_cmds);
			return EXIT_OK;
		}
		cli_print_commands(stderr, prog, cmds, n_cmds);
		return EXIT_USAGE;
	}
	const char *name = argv[ci];
	if (strcmp(name, "help") == 0)
		return help_command(prog, cmds, n_cmds, not_yet, argc, argv, ci);
	int second;
	const cli_command *cmd = find_cmd2(cmds, n_cmds, argc, argv, ci, &second);
	char **args = NULL; /* argv without the second word of a two-word command */
	if (cmd) {
		args = xcalloc((size_t)argc + 1, sizeof *args);
		for (int i = 0, k = 0; i < argc; i++)
			if (i != second)
				args[k++] = argv[i];
		argv = args;
		argc--;
	} else {
		cmd = find_cmd(cmds, n_cmds, name);
	}
	if (cmd == NULL)
		return unknown_command(prog, name, not_yet);
	bderr err;
	bderr_init(&err);
	program p;
	int rc = program_parse(&p, argc, argv, cmd->opts, &err);
	if (rc == 0 && p.args.help) {
		cli_print_command_help(stdout, prog, cmd);
		program_free(&p);
		free(args);
		return EXIT_OK;
	}
	if (rc == 0)
		rc = cli_check_args(cmd, &p.args, &err);
	/* the command line's own errors name the command: "backupd: dump: unknown option" */
	if (rc != 0)
		bderr_prefix(&err, "%s", cmd->name);
	if (rc == 0 && !cmd->own_config)
		rc = program_load_config(&p, &err);
	if (rc == 0)
		rc = cmd->run(&p, &err);
	program_free(&p);
	free(args);
	/* a positive result is an exit code that is not a failure to report (wal-get: not archived) */
	if (rc > 0)
		return rc;
	if (rc != 0) {
		log_error("%s", err.msg[0] ? err.msg : "failed");
		return err.exit_code ? err.exit_code : EXIT_FAILURE_RUN;
	}
	return EXIT_OK;
}

int program_progress(program *p, const char *what, progress **out, bderr *err)
{
	*out = NULL;
	progress_options o;
	if (program_progress_options(p, &o, err) < 0)
		return -1;
	*out = progress_new(what, &o);
	return 0;
}

int program_progress_options(program *p, progress_options *o, bderr *err)
{
	progress_options_init(o);
	if (cli_get(&p->args, "progress-interval") == NULL && p->cfg) {
		long v;
		if (config_get_long(p->cfg, config_find(p->cfg, "global", NULL), "progress-interval",
				    PROGRESS_INTERVAL_DEFAULT, 1, PROGRESS_INTERVAL_MAX, &v, err) < 0)
			return -1;
		o->interval = (int)v;
	}
	if (cli_get(&p->args, "progress-interval") && progress_options_from_args(&p->args, o, err) < 0)
		return -1;
	o->quiet = p->args.quiet;
	return 0;
}

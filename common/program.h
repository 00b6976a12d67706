/*
 * What both programs do before their command runs: find the subcommand among
 * the arguments (global options may stand before or after it), parse the
 * command's options, load the configuration and set the log level.
 */
#ifndef BACKUPD_COMMON_PROGRAM_H
#define BACKUPD_COMMON_PROGRAM_H

#include "common/cli.h"
#include "common/config.h"

typedef struct program {
	const char *command; /* NULL when none was given */
	char **argv;         /* argv without the command word */
	int argc;
	cli_args args;
	config *cfg;         /* NULL when no config file exists at the default path */
} program;

/* Finds the command word; returns its index or 0 when there is none. */
int program_find_command(int argc, char **argv);

/*
 * Parses the command's options (opts ends with {NULL, 0}), and refuses a
 * password in any of them (program_argv_secrets).
 */
int program_parse(program *p, int argc, char **argv, const cli_option *opts, bderr *err);

/*
 * The contract: passwords never come from argv, where every local user can
 * read them.  An argument holding one (scheme://user:PASSWORD@, password=,
 * an S3 secret key or session token: what log_redact masks) is a usage
 * error naming the option, never the value.  argv[0] is not looked at.
 */
int program_argv_secrets(int argc, char **argv, bderr *err);

/*
 * Loads -c FILE, else $BACKUPD_CONFIG, else the default path when it exists,
 * and applies --log-level (or the config's log-level).
 */
int program_load_config(program *p, bderr *err);

/*
 * Same, but every error of the file goes to errors and p->cfg is what could
 * be read; -1 only when the file cannot be read at all.
 */
int program_load_config_all(program *p, bderr_list *errors, bderr *err);

void program_free(program *p);

/*
 * The whole of main(): finds and runs the command, prints its error as one
 * line and returns the exit code (0, 1, or 2 for usage/config errors).
 * `PROG help [CMD]`, `PROG --help` and `PROG CMD --help` print text generated
 * from cmds.  A command's run returns 0 ok, -1 failed (err reported), or > 0
 * an exit code to return silently.  not_yet (may be NULL) lists contract
 * commands this version does not have yet.
 */
int program_main(const char *prog, const cli_command *cmds, size_t n_cmds,
		 const char *const *not_yet, int argc, char **argv);

/* The --repo option program_open_repo reads, for the commands' option tables. */
#define PROGRAM_OPT_REPO \
	{ "repo", "R", "repository: a [repo:NAME] of the config, a path or an s3:// URL", CLI_REQUIRED, NULL, 0, 0 }

/* The key of an encrypted repository given as a URL (see program_open_repo). */
#define PROGRAM_OPT_KEY_FILE \
	{ "encryption-key-file", "FILE", "key of an encrypted repository given as a URL (mode 0600)", 0, NULL, 0, 0 }

/*
 * Opens the repository named by --repo (a config name or a URL), with the
 * key of --encryption-key-file when the command was given one.
 */
struct repo;
int program_open_repo(program *p, int create, struct repo **r, bderr *err);
/* allow_locked: see repo_open_ex (backupd list without the key). */
int program_open_repo_ex(program *p, int create, int allow_locked, struct repo **r, bderr *err);
/* The same for a repository named by arg instead of --repo (migrate --via-repo). */
int program_open_repo_arg(program *p, const char *arg, int create, int allow_locked,
			  struct repo **r, bderr *err);
/*
 * program_open_repo(p, 1, ...) with before(ctx) called between resolving
 * --repo (its usage errors come first) and opening it, which creates a
 * missing repository: dump and basebackup reach their source there.
 */
int program_create_repo_after(program *p, int (*before)(void *ctx, bderr *err), void *ctx,
			      struct repo **r, bderr *err);

/*
 * The compression a command that writes into the repository repo_arg
 * (--repo, migrate's --via-repo) uses: --compress, else the compress = of
 * the [repo:] section repo_arg names (its documented default), else NULL
 * (the built-in default).  *spec is checked: a bad value is a usage error
 * naming the option, or a config error naming the key and its line.  With
 * a spec, its level goes to *level (when level is not NULL); without one
 * *level is left as it was.
 */
int program_compress(program *p, const char *repo_arg, const char **spec, int *level, bderr *err);

/*
 * The progress reporter of a long command (common/progress.h): --quiet,
 * --progress-interval, else [global] progress-interval, else 30 s.  *out
 * is NULL only on an error (a bad interval, a usage error).
 */
struct progress;
int program_progress(program *p, const char *what, struct progress **out, bderr *err);
/* The same options, for a caller that adds its own (a publish callback). */
struct progress_options;
int program_progress_options(program *p, struct progress_options *o, bderr *err);

#endif

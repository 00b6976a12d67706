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

/* Parses the command's options (opts ends with {NULL, 0}). */
int program_parse(program *p, int argc, char **argv, const cli_option *opts, bderr *err);

/*
 * Loads -c FILE, else $BACKUPD_CONFIG, else the default path when it exists,
 * and applies --log-level (or the config's log-level).
 */
int program_load_config(program *p, bderr *err);

void program_free(program *p);

typedef struct program_command {
	const char *name;
	/* 0 ok, -1 failed (err reported), > 0 an exit code to return silently */
	int (*run)(program *p, bderr *err);
	cli_option opts[16]; /* ends with {NULL, 0} */
} program_command;

/*
 * The whole of main(): finds and runs the command, prints its error as one
 * line and returns the exit code (0, 1, or 2 for usage/config errors).
 * not_yet lists contract commands this version does not have yet.
 */
int program_main(const char *prog, const char *usage, const program_command *cmds, size_t n_cmds,
		 const char *const *not_yet, int argc, char **argv);

/*
 * Opens the repository named by --repo (a config name or a URL), with the
 * key of --encryption-key-file when the command was given one.
 */
struct repo;
int program_open_repo(program *p, int create, struct repo **r, bderr *err);
/* allow_locked: see repo_open_ex (backupd list without the key). */
int program_open_repo_ex(program *p, int create, int allow_locked, struct repo **r, bderr *err);

#endif

/*
 * Command-line parsing shared by backupd and dbrestore.  Each command
 * declares its options once, as data (cli_option tables inside a cli_command
 * table); the parser, the synopsis, `help CMD` / `CMD --help` and the command
 * list are all generated from those tables, and so can man pages and shell
 * completion be.  The global options (-c FILE, --log-level L, --json, --help)
 * --log-format F and --quiet are accepted by every command.  Anything else is a usage error (exit 2)
 * that names the option, and so is an option that takes a value given twice
 * with different values, unless its table entry has CLI_REPEATABLE (the
 * help's "(repeatable)" is generated from that flag, never written by hand).
 */
#ifndef BACKUPD_COMMON_CLI_H
#define BACKUPD_COMMON_CLI_H

#include "common/error.h"

#include <stdio.h>

/* cli_option.flags */
enum {
	CLI_REQUIRED = 1,  /* the command refuses to run without it (named in the error) */
	CLI_REPEATABLE = 2 /* every value given counts (--role-map A=B --role-map C=D) */
};

typedef struct cli_option {
	const char *name;  /* long name without dashes: "repo" */
	const char *value; /* placeholder ("R"): takes --repo R / --repo=R; NULL: a flag */
	const char *help;  /* one line, no trailing period, no "(repeatable)": that is generated */
	unsigned flags;    /* CLI_REQUIRED | CLI_REPEATABLE; 0: optional, given once */
	const char *def;   /* default as shown in help (and parsed by cli_int); NULL: none */
	long min, max;     /* integer bounds for cli_int; min == max == 0: not an integer */
} cli_option;

/* Ends every option table. */
#define CLI_OPT_END { NULL, NULL, NULL, 0, NULL, 0, 0 }

/* The options every command accepts; cli_parse knows them itself. */
extern const cli_option cli_global_options[];

struct program;
typedef struct cli_command {
	const char *name;
	const char *summary; /* one line for the command list */
	const char *args;    /* positional arguments in the synopsis ("JOB", "[ID]"); NULL: none */
	int min_args, max_args;
	int (*run)(struct program *p, bderr *err);
	const cli_option *opts; /* ends with an entry whose name is NULL */
	int own_config;         /* 1: loads the config itself (check reports all its errors) */
} cli_command;

#define CLI_MAX_ARGS 64

typedef struct cli_args {
	const char *config_path; /* -c, NULL if absent */
	const char *log_level;   /* --log-level, NULL if absent */
	const char *log_format;  /* --log-format, NULL if absent */
	int json;                /* --json */
	int quiet;               /* --quiet: no progress output (common/progress.h) */
	int help;                /* -h / --help */
	struct {
		const char *name;
		const char *value; /* NULL for flags */
	} opts[CLI_MAX_ARGS];
	int n_opts;
	const char *positional[CLI_MAX_ARGS];
	int n_positional;
	const cli_option *table; /* the command's options, for cli_int */
} cli_args;

/*
 * Parses argv[first..argc) (after the subcommand) against opts (terminated by
 * a {NULL, 0} entry).  "--" ends options.
 */
int cli_parse(int argc, char **argv, int first, const cli_option *opts, cli_args *out,
	      bderr *err);

/* Last value given for name, or NULL. */
const char *cli_get(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);
/* Integer option with bounds; def when absent; usage error naming the option. */
int cli_get_int(const cli_args *a, const char *name, int def, int min, int max, int *out,
		bderr *err);
/* Integer option with the default and bounds its table entry declares. */
int cli_int(const cli_args *a, const char *name, int *out, bderr *err);

/*
 * After parsing: the number of positional arguments and the required options
 * of cmd.  Errors name the argument or option.
 */
int cli_check_args(const cli_command *cmd, const cli_args *a, bderr *err);

/* "usage: PROG CMD --source S [--name N] ... ARGS" and the option list. */
void cli_print_command_help(FILE *f, const char *prog, const cli_command *cmd);
/* The program's usage line and one line per command. */
void cli_print_commands(FILE *f, const char *prog, const cli_command *cmds, size_t n);

/* The config file to load: -c FILE, else $BACKUPD_CONFIG, else CONFIG_DEFAULT_PATH. */
const char *cli_config_path(const cli_args *a);

#endif

/*
 * Command-line parsing shared by backupd and dbrestore.  Each subcommand
 * declares the long options it takes; the global options (-c FILE,
 * --log-level L, --json) are accepted by every subcommand.  Anything else is
 * a usage error (exit 2) that names the option.
 */
#ifndef BACKUPD_COMMON_CLI_H
#define BACKUPD_COMMON_CLI_H

#include "common/error.h"

typedef struct cli_option {
	const char *name; /* long name without dashes: "repo" */
	int takes_value;  /* 1: --repo R / --repo=R; 0: flag */
} cli_option;

#define CLI_MAX_ARGS 64

typedef struct cli_args {
	const char *config_path; /* -c, NULL if absent */
	const char *log_level;   /* --log-level, NULL if absent */
	int json;                /* --json */
	int help;                /* -h / --help */
	struct {
		const char *name;
		const char *value; /* NULL for flags */
	} opts[CLI_MAX_ARGS];
	int n_opts;
	const char *positional[CLI_MAX_ARGS];
	int n_positional;
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

/* The config file to load: -c FILE, else $BACKUPD_CONFIG, else CONFIG_DEFAULT_PATH. */
const char *cli_config_path(const cli_args *a);

#endif

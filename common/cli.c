#include "common/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

enum { GLOBAL_NONE, GLOBAL_CONFIG, GLOBAL_LOG_LEVEL, GLOBAL_JSON, GLOBAL_HELP, GLOBAL_LOG_FORMAT,
       GLOBAL_QUIET };

/* Same order as the enum above, after GLOBAL_NONE. */
const cli_option cli_global_options[] = {
	{ "config", "FILE", "configuration file (also -c FILE; default $BACKUPD_CONFIG or "
	  CONFIG_DEFAULT_PATH ")", 0, NULL, 0, 0 },
	{ "log-level", "L", "error, warn, info or debug (default: the config's log-level, else info)",
	  0, NULL, 0, 0 },
	{ "json", NULL, "machine-readable output where the command has one", 0, NULL, 0, 0 },
	{ "help", NULL, "print this help (also -h)", 0, NULL, 0, 0 },
	{ "log-format", "text|json", "log lines as text or as one JSON object per line (time, level, program, message, job)",
	  0, "text", 0, 0 },
	{ "quiet", NULL, "no progress output from long commands (no line redrawn on a terminal, no progress log lines)",
	  0, NULL, 0, 0 },
	CLI_OPT_END,
};

static int global_option(const char *name, size_t len, int *takes_value)
{
	for (int i = 0; cli_global_options[i].name; i++) {
		const cli_option *g = &cli_global_options[i];
		if (strlen(g->name) == len && strncmp(g->name, name, len) == 0) {
			*takes_value = g->value != NULL;
			return GLOBAL_CONFIG + i;
		}
	}
	return GLOBAL_NONE;
}

static const cli_option *command_option(const cli_option *opts, const char *name, size_t len)
{
	for (const cli_option *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/*
 * An option given again with another value: the parser would keep the last
 * one and silently drop the first ("--jobs 8 ... --jobs 2" in a wrapper
 * script), so it is a usage error unless the option is CLI_REPEATABLE
 * (--role-map, --include-table).  The values are not echoed: a URI may carry
 * a password.
 */
static int once(const char *before, const char *value, const char *display, bderr *err)
{
	if (before != NULL && strcmp(before, value) != 0)
		return bderr_usage(err, "option '%s' is given twice with different values: give it once",
				   display);
	return 0;
}


/* Stores a global or command option's value; display is "--repo" or "-c". */
static int store(cli_args *out, int global, const cli_option *o, const char *value,
		 const char *display, bderr *err)
{
	log_level lv;
	log_format lf;
	switch (global) {
	case GLOBAL_CONFIG:
		if (once(out->config_path, value, display, err) < 0)
			return -1;
		out->config_path = value;
		return 0;
	case GLOBAL_LOG_LEVEL:
		if (once(out->log_level, value, display, err) < 0)
			return -1;
		if (log_level_parse(value, &lv) < 0)
			return bderr_usage(err,
					   "option '%s' must be error, warn, info or debug, got '%s'",
					   display, value);
		out->log_level = value;
		return 0;
	case GLOBAL_JSON:
		out->json = 1;
		return 0;
	case GLOBAL_HELP:
		out->help = 1;
		return 0;
	case GLOBAL_LOG_FORMAT:
		if (once(out->log_format, value, display, err) < 0)
			return -1;
		if (log_format_parse(value, &lf) < 0)
			return bderr_usage(err, "option '%s' must be text or json, got '%s'", display,
					   value);
		out->log_format = value;
		return 0;
	case GLOBAL_QUIET:
		out->quiet = 1;
		return 0;
	default:
		break;
	}
	if (value != NULL && !(o->flags & CLI_REPEATABLE) && once(cli_get(out, o->name), value, display, err) < 0)
		return -1;
	if (out->n_opts >= CLI_MAX_ARGS)
		return bderr_usage(err, "too many options (at most %d)", CLI_MAX_ARGS);
	out->opts[out->n_opts].name = o->name;
	out->opts[out->n_opts].value = value;
	out->n_opts++;
	return 0;
}

static int add_positional(cli_args *out, const char *arg, bderr *err)
{
	if (out->n_positional >= CLI_MAX_ARGS)
		return bderr_usage(err, "too many arguments (at most %d)", CLI_MAX_ARGS);
	out->positional[out->n_positional++] = arg;
	return 0;
}

/*
 * The value of an option given as a separate word.  A following word that
 * starts with "--" is taken as a forgotten value ("--name --jobs 4") rather
 * than silently becoming the value; "--name=--odd" still works.
 */
static int next_value(int argc, char **argv, int *i, const char *display, const char **value,
		      bderr *err)
{
	if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0 || argv[*i + 1][0] == '\0')
		return bderr_usage(err, "option '%s' needs a value", display);
	*value = argv[++*i];
	return 0;
}

static int parse_long_option(int argc, char **argv, int *i, const cli_option *opts,
			     cli_args *out, bderr *err)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	/*
	 * Messages name the option without its value: "--password=..." must
	 * not echo a secret back to a terminal or a log.
	 */
	char display[128];
	int dn = snprintf(display, sizeof display, "--%.*s", (int)len, arg);
	if (dn < 0 || (size_t)dn >= sizeof display)
		memcpy(display + sizeof display - 4, "...", 4);

	int takes_value = 0;
	int global = global_option(arg, len, &takes_value);
	const cli_option *o = NULL;
	if (global == GLOBAL_NONE) {
		o = command_option(opts, arg, len);
		if (o == NULL)
			return bderr_usage(err, "unknown option '%s'", display);
		takes_value = o->value != NULL;
	}

	const char *value = NULL;
	if (takes_value) {
		if (eq) {
			value = eq + 1;
			if (*value == '\0')
				return bderr_usage(err, "option '%s' needs a value", display);
		} else if (next_value(argc, argv, i, display, &value, err) < 0) {
			return -1;
		}
	} else if (eq) {
		return bderr_usage(err, "option '%s' does not take a value", display);
	}
	return store(out, global, o, value, display, err);
}

static int parse_short_option(int argc, char **argv, int *i, cli_args *out, bderr *err)
{
	const char *arg = argv[*i];
	const char *value = NULL;
	switch (arg[1]) {
	case 'c':
		if (arg[2] != '\0')
			return store(out, GLOBAL_CONFIG, NULL, arg + 2, "-c", err);
		if (next_value(argc, argv, i, "-c", &value, err) < 0)
			return -1;
		return store(out, GLOBAL_CONFIG, NULL, value, "-c", err);
	case 'h':
		if (arg[2] == '\0') {
			out->help = 1;
			return 0;
		}
		break;
	default:
		break;
	}
	/* only the letter: "-pSECRET" must not echo the rest */
	return bderr_usage(err, "unknown option '-%c'", arg[1]);
}

int cli_parse(int argc, char **argv, int first, const cli_option *opts, cli_args *out,
	      bderr *err)
{
	memset(out, 0, sizeof *out);
	out->table = opts;
	int only_positional = 0;
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i];
		int rc;
		if (only_positional || arg[0] != '-' || arg[1] == '\0') {
			/* "-" alone is a positional by convention (stdin/stdout) */
			rc = add_positional(out, arg, err);
		} else if (strcmp(arg, "--") == 0) {
			only_positional = 1;
			rc = 0;
		} else if (arg[1] == '-') {
			rc = parse_long_option(argc, argv, &i, opts, out, err);
		} else {
			rc = parse_short_option(argc, argv, &i, out, err);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

const char *cli_get(const cli_args *a, const char *name)
{
	for (int i = a->n_opts - 1; i >= 0; i--)
		if (strcmp(a->opts[i].name, name) == 0)
			return a->opts[i].value;
	return NULL;
}

int cli_has(const cli_args *a, const char *name)
{
	for (int i = 0; i < a->n_opts; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return 1;
	return 0;
}

int cli_get_int(const cli_args *a, const char *name, int def, int min, int max, int *out,
		bderr *err)
{
	const char *v = cli_get(a, name);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	/* strtol skips leading blanks; an option value is exactly the digits */
	int digits_first = (*v >= '0' && *v <= '9') || *v == '-' || *v == '+';
	if (!digits_first || errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return bderr_usage(err, "option '--%s' must be an integer between %d and %d, got '%s'",
				   name, min, max, v);
	*out = (int)n;
	return 0;
}

static const cli_option *table_entry(const cli_option *t, const char *name)
{
	return command_option(t, name, strlen(name));
}

int cli_int(const cli_args *a, const char *name, int *out, bderr *err)
{
	const cli_option *o = table_entry(a->table, name);
	/* a programming error, not the user's: say which entry is missing */
	if (o == NULL || (o->min == 0 && o->max == 0))
		return bderr_set(err, "option '--%s' is not declared as an integer", name);
	int def = o->def ? atoi(o->def) : 0;
	return cli_get_int(a, name, def, (int)o->min, (int)o->max, out, err);
}

int cli_check_args(const cli_command *cmd, const cli_args *a, bderr *err)
{
	if (a->n_positional > cmd->max_args)
		return bderr_usage(err, "unexpected argument '%s'", a->positional[cmd->max_args]);
	if (a->n_positional < cmd->min_args)
		return bderr_usage(err, "missing argument%s %s", cmd->min_args > 1 ? "s" : "",
				   cmd->args ? cmd->args : "");
	for (const cli_option *o = cmd->opts; o && o->name; o++)
		if ((o->flags & CLI_REQUIRED) && !cli_has(a, o->name))
			return bderr_usage(err, "option '--%s' is required", o->name);
	return 0;
}

static void print_synopsis(FILE *f, const char *prog, const cli_command *cmd)
{
	const int width = 78;
	int col = fprintf(f, "usage: %s %s", prog, cmd->name);
	const int indent = col + 1;
	for (int pass = 0; pass < 2; pass++) { /* required options first */
		for (const cli_option *o = cmd->opts; o && o->name; o++) {
			int required = (o->flags & CLI_REQUIRED) != 0;
			if (required != !pass)
				continue;
			char word[160];
			snprintf(word, sizeof word, "%s--%s%s%s%s", required ? "" : "[", o->name,
				 o->value ? " " : "", o->value ? o->value : "", required ? "" : "]");
			if (col + 1 + (int)strlen(word) > width) {
				col = fprintf(f, "\n%*s", indent - 1, "") - 1;
			}
			col += fprintf(f, " %s", word);
		}
	}
	if (cmd->args)
		fprintf(f, " %s", cmd->args);
	fputc('\n', f);
}

static void print_option(FILE *f, const cli_option *o)
{
	char left[96];
	snprintf(left, sizeof left, "--%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
	fprintf(f, "  %-28s %s", left, o->help ? o->help : "");
	if (o->def && o->min != o->max)
		fprintf(f, " (default %s, %ld..%ld)", o->def, o->min, o->max);
	else if (o->def)
		fprintf(f, " (default %s)", o->def);
	else if (o->min != o->max)
		fprintf(f, " (%ld..%ld)", o->min, o->max);
	/* from the flag the parser reads: the help cannot say otherwise */
	if (o->flags & CLI_REPEATABLE)
		fputs(" (repeatable)", f);
	if (o->flags & CLI_REQUIRED)
		fputs(" [required]", f);
	fputc('\n', f);
}

void cli_print_command_help(FILE *f, const char *prog, const cli_command *cmd)
{
	print_synopsis(f, prog, cmd);
	fprintf(f, "\n%s\n", cmd->summary);
	if (cmd->opts && cmd->opts[0].name) {
		fputs("\noptions:\n", f);
		for (const cli_option *o = cmd->opts; o->name; o++)
			print_option(f, o);
	}
	fputs("\nglobal options:\n", f);
	for (const cli_option *o = cli_global_options; o->name; o++)
		print_option(f, o);
}

void cli_print_commands(FILE *f, const char *prog, const cli_command *cmds, size_t n)
{
	fprintf(f, "usage: %s [-c FILE] [--log-level L] [--json] COMMAND [OPTIONS]\n\ncommands:\n",
		prog);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'%s help COMMAND' or '%s COMMAND --help' shows a command's options.\n"
		   "-c FILE defaults to $BACKUPD_CONFIG or " CONFIG_DEFAULT_PATH ".\n",
		prog, prog);
}

const char *cli_config_path(const cli_args *a)
{
	if (a && a->config_path)
		return a->config_path;
	const char *env = getenv("BACKUPD_CONFIG");
	if (env && *env)
		return env;
	return CONFIG_DEFAULT_PATH;
}

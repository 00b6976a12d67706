#include "common/doc.h"

#include <string.h>

#include "common/config.h"
#include "common/version.h"

/* What each program is, for NAME and DESCRIPTION (the tables say the rest). */
static const struct {
	const char *prog, *what, *description;
} programs[] = {
	{ "backupd", "logical and physical backups of PostgreSQL and MySQL/MariaDB",
	  "backupd takes logical dumps and PostgreSQL base backups into a repository (a directory "
	  "or an S3 bucket), archives WAL, verifies and expires backups, and runs configured jobs "
	  "on their schedules as a daemon." },
	{ "dbrestore", "restore backups taken by backupd",
	  "dbrestore restores a logical dump into a database, restores a base backup for "
	  "point-in-time recovery, and fetches archived WAL for restore_command." },
};

/* Text for roff: backslashes doubled, '-' as \-, no request at a line start. */
static void roff(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void man_option(FILE *f, const cli_option *o)
{
	fputs(".TP\n\\fB", f);
	roff(f, "--");
	roff(f, o->name);
	fputs("\\fR", f);
	if (o->value) {
		fputs(" \\fI", f);
		roff(f, o->value);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	roff(f, o->help);
	if (o->def && o->min != o->max)
		fprintf(f, " (default %s, %ld..%ld)", o->def, o->min, o->max);
	else if (o->def) {
		fputs(" (default ", f);
		roff(f, o->def);
		fputc(')', f);
	} else if (o->min != o->max)
		fprintf(f, " (%ld..%ld)", o->min, o->max);
	if (o->flags & CLI_REPEATABLE)
		fputs(" (repeatable)", f);
	if (o->flags & CLI_REQUIRED)
		fputs("; required", f);
	fputs(".\n", f);
}

void doc_man_program(FILE *f, const char *prog, const cli_command *cmds, size_t n)
{
	const char *what = "", *description = "";
	for (size_t i = 0; i < sizeof programs / sizeof *programs; i++)
		if (strcmp(programs[i].prog, prog) == 0) {
			what = programs[i].what;
			description = programs[i].description;
		}
	fputs(".\\\" Generated from the program's option tables (--internal-doc man): do not edit.\n", f);
	fprintf(f, ".TH %s 1 \"\" \"backupd %s\" \"User Commands\"\n", prog, BACKUPD_VERSION);
	fprintf(f, ".SH NAME\n%s \\- ", prog);
	roff(f, what);
	fprintf(f, "\n.SH SYNOPSIS\n.B %s\n.RI [ global-options ]\n.I command\n.RI [ options ]\n", prog);
	fputs(".SH DESCRIPTION\n", f);
	roff(f, description);
	fprintf(f, "\n.PP\nExit status: 0 success, 1 failure, 2 usage or configuration error.\n"
		   ".SH GLOBAL OPTIONS\nAccepted by every command, before or after it.\n");
	for (const cli_option *o = cli_global_options; o->name; o++)
		man_option(f, o);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < n; i++) {
		const cli_command *c = &cmds[i];
		fprintf(f, ".SS %s", c->name);
		if (c->args) {
			fputc(' ', f);
			roff(f, c->args);
		}
		fputc('\n', f);
		roff(f, c->summary);
		fputs(".\n", f);
		for (const cli_option *o = c->opts; o && o->name; o++)
			man_option(f, o);
	}
	fprintf(f, ".SH ENVIRONMENT\n.TP\n.B BACKUPD_CONFIG\nconfiguration file when \\fB\\-c\\fR is "
		   "not given.\n.TP\n.B JOURNAL_STREAM\nset by systemd: log lines carry their syslog "
		   "priority (<3> error ... <7> debug).\n"
		   ".SH FILES\n.TP\n.I %s\nthe configuration, see\n.BR backupd.conf (5).\n"
		   ".SH SEE ALSO\n.BR %s (1),\n.BR backupd.conf (5)\n",
		CONFIG_DEFAULT_PATH, strcmp(prog, "backupd") == 0 ? "dbrestore" : "backupd");
}

void doc_man_config(FILE *f)
{
	fputs(".\\\" Generated from the config's key tables (--internal-doc config-man): do not edit.\n", f);
	fprintf(f, ".TH backupd.conf 5 \"\" \"backupd %s\" \"File Formats\"\n", BACKUPD_VERSION);
	fputs(".SH NAME\nbackupd.conf \\- configuration of backupd and dbrestore\n"
	      ".SH DESCRIPTION\nAn INI file: \\fB[global]\\fR, and named sections "
	      "\\fB[repo:NAME]\\fR, \\fB[source:NAME]\\fR, \\fB[job:NAME]\\fR, \\fB[notify:NAME]\\fR "
	      "holding \\fIkey\\fR = \\fIvalue\\fR lines; \\fB;\\fR or \\fB#\\fR start a comment. "
	      "Unknown sections and keys are errors, and every error names FILE:LINE and the key. "
	      "Secrets are never written inline: use the \\fB\\-file\\fR keys (files of mode 0600).\n", f);
	const char *cur = NULL;
	config_key_info k;
	for (size_t i = 0; config_key_at(i, &k) == 0; i++) {
		if (cur == NULL || strcmp(cur, k.section) != 0) {
			cur = k.section;
			fprintf(f, ".SH [%s%s]\n", k.section, k.named ? ":NAME" : "");
		}
		fputs(".TP\n\\fB", f);
		roff(f, k.key);
		fputs("\\fR = \\fI", f);
		roff(f, k.kind);
		fputs("\\fR\n", f);
		roff(f, k.help ? k.help : "");
		if (k.min != k.max)
			fprintf(f, " (%ld..%ld)", k.min, k.max);
		fputs(".\n", f);
	}
	fputs(".SH SEE ALSO\n.BR backupd (1),\n.BR dbrestore (1)\n", f);
}

/* The options of a table, as one word list; with_value: only those taking a value. */
static void option_words(FILE *f, const cli_option *opts, int with_value)
{
	const char *sep = "";
	for (const cli_option *o = opts; o && o->name; o++)
		if (!with_value || o->value) {
			fprintf(f, "%s--%s", sep, o->name);
			sep = " ";
		}
}

/* 1 when some command is "name WORD". */
static int has_second_words(const cli_command *cmds, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (strncmp(cmds[i].name, name, len) == 0 && cmds[i].name[len] == ' ')
			return 1;
	return 0;
}

/* The commands' first words, each once ("migrate status" adds nothing after "migrate"). */
static void first_words(FILE *f, const cli_command *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(cmds[i].name, " ");
		int seen = 0;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strncmp(cmds[k].name, cmds[i].name, len) == 0 &&
			       (cmds[k].name[len] == ' ' || cmds[k].name[len] == '\0');
		if (!seen)
			fprintf(f, "%.*s ", (int)len, cmds[i].name);
	}
}

/*
 * The generated script knows the commands and options; section names come
 * from the config file (-c FILE, $BACKUPD_CONFIG or the default) and backup
 * IDs from `backupd list --json` against the --repo on the line.
 */
void doc_bash_completion(FILE *f, const char *prog, const cli_command *cmds, size_t n)
{
	fprintf(f, "# bash completion for %s, generated from its option tables "
		   "(--internal-doc bash-completion): do not edit.\n", prog);
	fprintf(f, "_%s_sections() {\n"
		   "\tlocal cfg=\"${BACKUPD_CONFIG:-%s}\" i\n"
		   "\tfor ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do\n"
		   "\t\tcase \"${COMP_WORDS[i]}\" in -c|--config) cfg=\"${COMP_WORDS[i+1]}\" ;; "
		   "--config=*) cfg=\"${COMP_WORDS[i]#--config=}\" ;; esac\n"
		   "\tdone\n"
		   "\t[ -r \"$cfg\" ] || return 0\n"
		   "\tsed -n \"s/^[[:space:]]*\\\\[[[:space:]]*$1:\\\\([^]]*\\\\)\\\\].*/\\\\1/p\" \"$cfg\" 2>/dev/null\n"
		   "}\n", prog, CONFIG_DEFAULT_PATH);
	fprintf(f, "_%s_backup_ids() {\n"
		   "\tlocal i repo= args=()\n"
		   "\tfor ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do\n"
		   "\t\tcase \"${COMP_WORDS[i]}\" in\n"
		   "\t\t-c|--config) args+=(-c \"${COMP_WORDS[i+1]}\") ;;\n"
		   "\t\t--repo) repo=\"${COMP_WORDS[i+1]}\" ;;\n"
		   "\t\t--repo=*) repo=\"${COMP_WORDS[i]#--repo=}\" ;;\n"
		   "\t\tesac\n"
		   "\tdone\n"
		   "\t[ -n \"$repo\" ] || return 0\n"
		   "\tbackupd list \"${args[@]}\" --repo \"$repo\" --json --log-level error 2>/dev/null |\n"
		   "\t\tsed -n 's/.*\"id\": *\"\\([^\"]*\\)\".*/\\1/p'\n"
		   "}\n", prog);
	fprintf(f, "_%s() {\n"
		   "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
		   "\tlocal globals='", prog);
	option_words(f, cli_global_options, 0);
	fputs(" -c'\n\tlocal cmd= i\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase \"${COMP_WORDS[i]}\" in\n"
	      "\t\t-c|--config|--log-level|--log-format) ((i++)) ;;\n"
	      "\t\t-*) ;;\n"
	      "\t\t*) cmd=\"${COMP_WORDS[i]}\"; break ;;\n"
	      "\t\tesac\n"
	      "\tdone\n", f);
	/* two-word commands ("migrate status"): the second word, once typed, is part of the command */
	fputs("\tif ((i + 1 < COMP_CWORD)); then\n\t\tcase \"$cmd ${COMP_WORDS[i+1]}\" in\n\t\t", f);
	int two = 0;
	for (size_t i = 0; i < n; i++)
		if (strchr(cmds[i].name, ' '))
			fprintf(f, "%s'%s'", two++ ? " | " : "", cmds[i].name);
	fputs(two ? ") cmd=\"$cmd ${COMP_WORDS[i+1]}\" ;;\n\t\tesac\n\tfi\n" : "'') ;;\n\t\tesac\n\tfi\n", f);
	fputs(""
	      "\tcase \"$prev\" in\n"
	      "\t-c|--config) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
	      "\t--log-level) COMPREPLY=($(compgen -W 'error warn info debug' -- \"$cur\")); return ;;\n"
	      "\t--log-format) COMPREPLY=($(compgen -W 'text json' -- \"$cur\")); return ;;\n", f);
	fprintf(f, "\t--repo) COMPREPLY=($(compgen -W \"$(_%s_sections repo)\" -- \"$cur\")); return ;;\n"
		   "\t--source|--to) COMPREPLY=($(compgen -W \"$(_%s_sections source)\" -- \"$cur\")); return ;;\n"
		   "\t--backup) COMPREPLY=($(compgen -W \"latest $(_%s_backup_ids)\" -- \"$cur\")); return ;;\n"
		   "\t--*file|--data-dir|--spool-dir) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
		   "\tesac\n", prog, prog, prog);
	fputs("\tlocal opts= valued=\n\tcase \"$cmd\" in\n", f);
	fputs("\t'') COMPREPLY=($(compgen -W \"help ", f);
	first_words(f, cmds, n);
	fputs("$globals\" -- \"$cur\")); return ;;\n", f);
	fputs("\thelp) COMPREPLY=($(compgen -W \"", f);
	first_words(f, cmds, n);
	fputs("\" -- \"$cur\")); return ;;\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "\t'%s') opts='", cmds[i].name);
		option_words(f, cmds[i].opts, 0);
		fputs("'; valued='", f);
		option_words(f, cmds[i].opts, 1);
		fputs("' ;;\n", f);
	}
	fputs("\tesac\n"
	      "\tlocal o\n"
	      "\tfor o in $valued; do\n"
	      "\t\t[ \"$prev\" = \"$o\" ] && return 0\n"
	      "\tdone\n"
	      "\tif [[ \"$cur\" == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tcase \"$cmd\" in\n", f);
	/* after a command that has two-word forms: their second words */
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(cmds[i].name, " ");
		if (cmds[i].name[len] != '\0' || !has_second_words(cmds, n, cmds[i].name))
			continue;
		fprintf(f, "\t'%s') COMPREPLY=($(compgen -W '", cmds[i].name);
		for (size_t k = 0, sep = 0; k < n; k++)
			if (strncmp(cmds[k].name, cmds[i].name, len) == 0 && cmds[k].name[len] == ' ')
				fprintf(f, "%s%s", sep++ ? " " : "", cmds[k].name + len + 1);
		fputs("' -- \"$cur\")) ;;\n", f);
	}
	fprintf(f, "\trun) COMPREPLY=($(compgen -W \"$(_%s_sections job)\" -- \"$cur\")) ;;\n"
		   "\tverify) COMPREPLY=($(compgen -W \"$(_%s_backup_ids)\" -- \"$cur\")) ;;\n"
		   "\trepo) COMPREPLY=($(compgen -W 'rotate-key' -- \"$cur\")) ;;\n"
		   "\twal-push) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
		   "\tesac\n"
		   "}\n"
		   "complete -F _%s %s\n", prog, prog, prog, prog);
}

int doc_generate(FILE *f, const char *what, const char *prog, const cli_command *cmds, size_t n)
{
	if (strcmp(what, "man") == 0)
		doc_man_program(f, prog, cmds, n);
	else if (strcmp(what, "config-man") == 0)
		doc_man_config(f);
	else if (strcmp(what, "bash-completion") == 0)
		doc_bash_completion(f, prog, cmds, n);
	else
		return -1;
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

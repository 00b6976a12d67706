/*
 * Every option table of both programs, walked: what the parser does and what
 * the help says come from the same entry.  "(repeatable)" is generated from
 * CLI_REPEATABLE (cli_print_command_help, the man pages), so a help text that
 * says it by hand could contradict the parser, which reads only the flag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

extern const cli_command backupd_commands[];
extern const size_t backupd_n_commands;
extern const cli_command dbrestore_commands[];
extern const size_t dbrestore_n_commands;

/* The command's help as `CMD --help` prints it, into buf. */
static void help_text(const char *prog, const cli_command *cmd, char *buf, size_t len)
{
	memset(buf, 0, len);
	FILE *f = fmemopen(buf, len - 1, "w");
	assert_non_null(f);
	cli_print_command_help(f, prog, cmd);
	assert_int_equal(ferror(f), 0);
	fclose(f);
}

/* The line of the help that documents --name into line; 0 when there is none. */
static int option_line(const char *help, const char *name, char *line, size_t len)
{
	char head[128];
	snprintf(head, sizeof head, "\n  --%s ", name);
	const char *at = strstr(help, head);
	if (at == NULL)
		return 0;
	snprintf(line, len, "%.*s", (int)strcspn(at + 1, "\n"), at + 1);
	return 1;
}

static void walk(const char *prog, const cli_command *cmds, size_t n, int *repeatables)
{
	for (size_t i = 0; i < n; i++) {
		static char help[1 << 16];
		help_text(prog, &cmds[i], help, sizeof help);
		for (const cli_option *o = cmds[i].opts; o && o->name; o++) {
			char what[160];
			snprintf(what, sizeof what, "%s %s --%s", prog, cmds[i].name, o->name);
			/* by hand it could contradict the flag: only the generator writes it */
			if (o->help && strstr(o->help, "repeatable"))
				fail_msg("%s: its help says 'repeatable' by hand: set CLI_REPEATABLE", what);
			if ((o->flags & CLI_REPEATABLE) && o->value == NULL)
				fail_msg("%s: a flag without a value cannot be repeatable", what);
			if (o->flags & ~(unsigned)(CLI_REQUIRED | CLI_REPEATABLE))
				fail_msg("%s: unknown flags %#x", what, o->flags);
			for (const cli_option *g = cli_global_options; g->name; g++)
				if (strcmp(g->name, o->name) == 0)
					fail_msg("%s: shadows the global option", what);
			for (const cli_option *d = o + 1; d->name; d++)
				if (strcmp(d->name, o->name) == 0)
					fail_msg("%s: declared twice", what);
			char line[1024];
			if (!option_line(help, o->name, line, sizeof line))
				fail_msg("%s: not in the command's help", what);
			int says = strstr(line, "(repeatable)") != NULL;
			if (says != ((o->flags & CLI_REPEATABLE) != 0))
				fail_msg("%s: the help %s '(repeatable)' but the flag is %s", what,
					 says ? "says" : "does not say",
					 o->flags & CLI_REPEATABLE ? "set" : "not set");
			*repeatables += (o->flags & CLI_REPEATABLE) != 0;
		}
	}
}

static void test_every_table(void **state)
{
	(void)state;
	int repeatables = 0;
	walk("backupd", backupd_commands, backupd_n_commands, &repeatables);
	walk("dbrestore", dbrestore_commands, dbrestore_n_commands, &repeatables);
	/* the walk saw the tables: dump's three filters, restore's four, --tablespace-map, --role-map twice */
	assert_true(repeatables >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Documentation generated from the tables the programs parse: the man pages
 * backupd(1), dbrestore(1) and backupd.conf(5) and the bash completion.  The
 * build runs each program with the hidden "--internal-doc WHAT" (see
 * program_main), so the installed pages cannot drift from the parser.
 */
#ifndef BACKUPD_COMMON_DOC_H
#define BACKUPD_COMMON_DOC_H

#include <stdio.h>

#include "common/cli.h"

/* The program's section 1 page, from its command and option tables. */
void doc_man_program(FILE *f, const char *prog, const cli_command *cmds, size_t n);
/* backupd.conf(5), from the config's declared sections and keys. */
void doc_man_config(FILE *f);
/* A bash completion script for prog (complete -F _prog prog). */
void doc_bash_completion(FILE *f, const char *prog, const cli_command *cmds, size_t n);

/*
 * "man", "config-man" or "bash-completion" to f; -1 for an unknown what.
 */
int doc_generate(FILE *f, const char *what, const char *prog, const cli_command *cmds, size_t n);

#endif

/*
 * The INI configuration (inih).  Sections are "[global]" or "[TYPE:NAME]"
 * with TYPE one of repo, source, job.  Every key remembers its line so that
 * any error can name FILE:LINE and the key.  Unknown sections and keys are
 * errors: a typo must not silently turn a setting off.
 */
#ifndef BACKUPD_COMMON_CONFIG_H
#define BACKUPD_COMMON_CONFIG_H

#include "common/error.h"

typedef struct config_entry {
	char *key;
	char *value;
	int line;
} config_entry;

typedef struct config_section {
	char *type; /* "global", "repo", "source", "job" */
	char *name; /* NULL for global */
	int line;
	config_entry *entries;
	size_t n_entries;
} config_section;

typedef struct config {
	char *path;
	config_section *sections;
	size_t n_sections;
} config;

#define CONFIG_DEFAULT_PATH "/etc/backupd/backupd.conf"

/* Loads and validates the file; errors are usage errors "FILE:LINE: ...". */
int config_load(const char *path, config **out, bderr *err);
/*
 * Same, but every error of the file is appended to errors and parsing goes
 * on; *out is what could be read (keys and sections in error left out).
 * Fails (-1, err) only when the file cannot be read at all.
 */
int config_load_all(const char *path, config **out, bderr_list *errors, bderr *err);
/* Same as config_load, from a string (tests); path is used in messages. */
int config_load_string(const char *text, const char *path, config **out, bderr *err);
void config_free(config *c);

/* NULL when absent.  name is ignored for "global". */
const config_section *config_find(const config *c, const char *type, const char *name);
const char *config_get(const config_section *s, const char *key);
/*
 * Sets a [global] key, replacing the file's value (command-line overrides
 * such as `daemon --state-dir`); creates [global] when the file has none.
 */
void config_set_global(config *c, const char *key, const char *value);

/* Line of key in s, or the section's line when the key is absent. */
int config_line(const config_section *s, const char *key);

/* Formats "FILE:LINE: key 'KEY': message" as a usage error. Returns -1. */
int config_error(const config *c, const config_section *s, const char *key, bderr *err,
		 const char *fmt, ...) BD_PRINTF(5, 6);

/*
 * err, set by whatever parsed the key's value, re-framed as config_error's
 * "FILE:LINE: key 'KEY': <err's message>". Returns -1.
 */
int config_key_error(const config *c, const config_section *s, const char *key, bderr *err);

/* Integer key with bounds; def when absent. */
int config_get_long(const config *c, const config_section *s, const char *key, long def,
		    long min, long max, long *out, bderr *err);

/*
 * The declared sections and keys, for generated documentation (backupd.conf(5),
 * completion).  help comes from config_doc.c; NULL when a key has none.
 */
typedef struct config_key_info {
	const char *section; /* "global", "repo", "source", "job" */
	int named;           /* 1: [section:NAME] */
	const char *key;
	const char *kind;    /* "string", "integer", "boolean", ... */
	long min, max;       /* integers only */
	const char *help;
} config_key_info;
/* The i-th declared key over all sections, in declaration order; -1 past the last. */
int config_key_at(size_t i, config_key_info *out);
/* One line describing KEY of SECTION, or NULL (config_doc.c). */
const char *config_key_help(const char *section, const char *key);

/* yes/no, true/false, on/off, 1/0 (any case); -1 for anything else. */
int config_parse_bool(const char *value, int *out);
/* Boolean key; def when absent; usage error naming FILE:LINE and the key. */
int config_get_bool(const config *c, const config_section *s, const char *key, int def, int *out,
		    bderr *err);

#endif

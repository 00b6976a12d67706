/*
 * Logging to stderr with levels.  The sink is one of the two allowed mutable
 * globals.  Every message passes through log_redact() first so that a
 * password that slipped into a connection string never reaches the log.
 */
#ifndef BACKUPD_COMMON_LOG_H
#define BACKUPD_COMMON_LOG_H

#include "common/error.h"

typedef enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
} log_level;

typedef enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON } log_format;

/* prog is the program name prefixed to error lines ("backupd"). */
void log_init(const char *prog, log_level level);
log_level log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 on an unknown name. */
int log_level_parse(const char *name, log_level *out);
const char *log_prog(void);
/* "text" or "json"; -1 on anything else. */
int log_format_parse(const char *name, log_format *out);
void log_set_format(log_format f);
/* The job the process runs (backupd run JOB), carried by JSON lines; NULL: none. */
void log_set_job(const char *job);
/*
 * 1 when stderr is the journal stream systemd names in $JOURNAL_STREAM
 * ("DEVICE:INODE" of stderr): lines then start with their syslog priority
 * (<3> error, <4> warning, <6> info, <7> debug).  Checked by log_init; tests
 * call it again after changing stderr.
 */
int log_detect_journal(void);

void log_error(const char *fmt, ...) BD_PRINTF(1, 2);
void log_warn(const char *fmt, ...) BD_PRINTF(1, 2);
void log_info(const char *fmt, ...) BD_PRINTF(1, 2);
void log_debug(const char *fmt, ...) BD_PRINTF(1, 2);

/*
 * The progress line of a terminal (common/progress.c): drawn in place at the
 * bottom ("\r" LINE, cut to the terminal's width); a log line printed
 * meanwhile clears it, and it is drawn again below.  NULL or "" removes it.
 * Only for a terminal stderr: the caller decides (isatty).
 */
void log_status_line(const char *line);

/*
 * Rewrites secrets in place: the password part of "scheme://user:pw@host" and
 * the value of "password=..." become "***".  Used by the logger and by
 * anything that prints a URI.
 */
void log_redact(char *s);

#endif

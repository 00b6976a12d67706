/*
 * Notifications of job runs: [notify:NAME] sections of the config, each of a
 * type (webhook: backupd's JSON summary; slack, teams, discord: a message in
 * the format each one's incoming webhooks show; email: over SMTP through
 * libcurl; healthchecks: healthchecks.io-style pings at start, success and
 * failure) and `on = failure | success | always`.  A job takes the sections
 * its `notify = NAME...` lists, all of them when it has no notify key, plus
 * its legacy webhook-url (a type = webhook target).
 *
 * Messages carry names, the backup ID, sizes and the (already redacted)
 * error: never a URL, a URI's password or any secret of the config.
 */
#ifndef BACKUPD_NOTIFY_H
#define BACKUPD_NOTIFY_H

#include "backupd/webhook.h"
#include "common/config.h"

typedef enum notify_type {
	NOTIFY_WEBHOOK,
	NOTIFY_SLACK,
	NOTIFY_TEAMS,
	NOTIFY_DISCORD,
	NOTIFY_EMAIL,
	NOTIFY_HEALTHCHECKS
} notify_type;

typedef struct notify_target {
	char *name; /* the section's name ("webhook-url" for the legacy keys) */
	notify_type type;
	webhook_on on;
	char *url;  /* http(s) URL, or smtp(s)://host[:port] for email */
	/* email only */
	char *from;
	char *to;            /* space or comma separated */
	char *username;
	char *password_file; /* read when sending, mode 0600 */
	int starttls;        /* require STARTTLS on smtp:// (default yes) */
} notify_target;

typedef struct notify_set {
	notify_target *v;
	size_t n;
} notify_set;

/*
 * Checks every [notify:NAME] section (usage errors naming FILE:LINE and the
 * key), for `backupd check`, the daemon and `run --notify`.
 */
int notify_check_config(const config *cfg, bderr *err);

/*
 * The targets of job js: its notify = list (or every [notify:] section) and
 * legacy_url/legacy_on (webhook-url/webhook-on; legacy_url may be NULL).
 */
int notify_set_for_job(const config *cfg, const config_section *js, const char *legacy_url,
		       webhook_on legacy_on, notify_set *out, bderr *err);
void notify_set_free(notify_set *s);
/* Same for `backupd run JOB --notify`: the legacy keys from the job, else [global]. */
int notify_set_for_run(const config *cfg, const config_section *js, notify_set *out, bderr *err);

/* 1 when some target wants this result (or, start: a healthchecks start ping). */
int notify_wanted(const notify_set *s, int start, int ok);

/*
 * Delivers to every target that wants it (start: only healthchecks pings).
 * Failures are logged as warnings naming the section and never the URL;
 * returns the number of failed targets.
 */
int notify_send(const notify_set *s, const webhook_run *run, int start);

/* The one-line text of a run, as chat messages and email subjects carry it. */
char *notify_text(const webhook_run *run);

#endif

/*
 * Webhooks: after each run the daemon POSTs the run's summary as JSON to the
 * job's `webhook-url` (or `[global] webhook-url`), on failure, on success or
 * both (`webhook-on`).  Delivery has a timeout and a few retries; a webhook
 * that cannot be delivered is logged and never fails the job.
 *
 * A webhook URL often is the secret (Slack, Teams, ntfy tokens live in the
 * path or query): only webhook_url_for_log() output ever reaches a log.
 */
#ifndef BACKUPD_WEBHOOK_H
#define BACKUPD_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

typedef enum webhook_on {
	WEBHOOK_ON_FAILURE = 1,
	WEBHOOK_ON_SUCCESS = 2,
	WEBHOOK_ON_ALWAYS = 3 /* both bits */
} webhook_on;

/* "failure" | "success" | "always" -> *out; -1 for anything else. */
int webhook_on_parse(const char *s, webhook_on *out);

/* An http:// or https:// URL with a host; usage error (no URL in it) otherwise. */
int webhook_url_check(const char *url, bderr *err);

/* "scheme://host[:port]" of url: no user info, path or query. */
void webhook_url_for_log(const char *url, char *buf, size_t len);

/* One finished run, as the daemon saw it.  NULL strings become JSON null. */
typedef struct webhook_run {
	const char *job;
	const char *kind;
	const char *source;   /* names from the config (a URI only with its password masked) */
	const char *repo;
	const char *backup_id;
	int ok;
	time_t started;
	time_t finished;
	uint64_t bytes;
	uint64_t rows;
	const char *error;
	long attempt;         /* 1 for the first try, 2 for the first retry... */
	const char *hostname;
} webhook_run;

/* The JSON body for r (caller frees). */
char *webhook_payload(const webhook_run *r);

typedef struct webhook_delivery {
	long timeout;     /* seconds per attempt */
	int attempts;     /* total tries */
	long retry_delay; /* seconds before the first retry, doubled after each */
} webhook_delivery;

#define WEBHOOK_DELIVERY_DEFAULT { .timeout = 10, .attempts = 3, .retry_delay = 2 }

/*
 * POSTs body to url until a 2xx comes back or the attempts are used up;
 * 4xx other than 408 and 429 are not retried.  Errors name only
 * webhook_url_for_log(url).
 */
int webhook_post(const char *url, const char *body, const webhook_delivery *d, bderr *err);

#endif

/*
 * One line per configuration key, for backupd.conf(5).  The keys themselves
 * are declared (and validated) in config.c; config_test checks that every
 * declared key has its line here, so a new key cannot go undocumented.
 */
#include "common/config.h"

#include <string.h>

static const struct {
	const char *section, *key, *help;
} key_docs[] = {
	{ "global", "state-dir", "run history, the daemon lock and spools (default /var/lib/backupd)" },
	{ "global", "max-parallel-jobs", "how many job runs the daemon starts at once (default 2)" },
	{ "global", "log-level", "error, warn, info or debug (default info; --log-level overrides it)" },
	{ "global", "time-zone", "time zone of the schedules (default: local time)" },
	{ "global", "http-listen", "IPV4:PORT or [IPV6]:PORT where the daemon serves /metrics and /health" },
	{ "global", "run-missed", "yes: a run missed while the daemon was down runs once at start-up (default for the jobs)" },
	{ "global", "shutdown-grace", "how long SIGTERM waits for running jobs before cancelling them (default 30s)" },
	{ "global", "webhook-url", "default webhook of the jobs (same as a [notify:NAME] section of type webhook)" },
	{ "global", "webhook-on", "failure, success or always (default always)" },
	{ "global", "catalog", "postgresql:// URI of the fleet catalog shared by several daemons (see backupd catalog init)" },
	{ "global", "catalog-password-file", "file holding the catalog's password (mode 0600; else libpq's passfile or PGPASSWORD)" },
	{ "global", "catalog-lease", "how long a claimed run stays this daemon's without a heartbeat (default 60s, at least 4s)" },
	{ "global", "daemon-id", "this daemon's name in the catalog (default: the host name; daemon --id overrides it)" },
	{ "global", "tags", "this daemon's tags, comma or space separated, for the jobs' run-on (daemon --tags overrides it; needs catalog)" },
	{ "global", "max-parallel-per-repo", "fleet-wide: runs into one repository at once (default 0: no limit; needs catalog)" },
	{ "global", "max-parallel-per-source", "fleet-wide: runs of one source at once (default 0: no limit; needs catalog)" },
	{ "global", "progress-interval", "seconds between progress lines of long commands when stderr is not a terminal (the daemon's job runs; default 30; --progress-interval overrides it)" },
	{ "repo", "url", "a directory or s3://BUCKET/PREFIX" },
	{ "repo", "access-key-id", "S3 access key id" },
	{ "repo", "access-key-id-file", "file holding the S3 access key id" },
	{ "repo", "secret-access-key-file", "file holding the S3 secret key (mode 0600)" },
	{ "repo", "session-token-file", "file holding an S3 session token (mode 0600)" },
	{ "repo", "region", "S3 region (default us-east-1)" },
	{ "repo", "endpoint", "S3 endpoint URL for S3-compatible stores" },
	{ "repo", "upload-concurrency", "parallel part uploads per object" },
	{ "repo", "retry-max-time", "S3: keep retrying failed requests for this many seconds (default 60; 0: no retries)" },
	{ "repo", "sse", "S3 server-side encryption: AES256 or aws:kms" },
	{ "repo", "sse-kms-key-id", "S3: the KMS key for sse = aws:kms" },
	{ "repo", "storage-class", "S3 storage class of new objects (STANDARD_IA, ONEZONE_IA, ...)" },
	{ "repo", "ca-file", "CA bundle to verify the S3 endpoint with" },
	{ "repo", "tls-verify", "verify the S3 endpoint's certificate (default yes)" },
	{ "repo", "encryption-key-file", "key of an encrypted repository (mode 0600, at least 32 bytes)" },
	{ "repo", "compress", "default compression of the repository's objects: zstd:L or none" },
	{ "source", "url", "postgresql:// or mysql:// URI of the database (no password: use password-file)" },
	{ "source", "password-file", "file holding the database password (mode 0600)" },
	{ "source", "name", "name of the source's backups in repositories (default: the section name)" },
	{ "source", "databases", "all: a dump takes every database of the server (PostgreSQL: and its roles, tablespaces and database settings), as dump --all-databases" },
	{ "job", "source", "the [source:NAME] the job backs up" },
	{ "job", "repo", "the [repo:NAME] the job writes to" },
	{ "job", "kind", "dump (logical) or basebackup (PostgreSQL physical)" },
	{ "job", "schedule", "cron expression (5 fields, or 6 with seconds first; @daily and friends)" },
	{ "job", "jobs", "parallel connections of a dump" },
	{ "job", "retention", "keep-last=N keep-daily=N ... applied after each successful run" },
	{ "job", "compress", "zstd:L or none" },
	{ "job", "chunk-size", "dump: split tables larger than this into objects of about this size (default 256MB)" },
	{ "job", "copy-format", "PostgreSQL dump: auto (binary COPY for tables of built-in types, the default) or text (every table as COPY text)" },
	{ "job", "consistency", "MySQL/MariaDB dump: lock (FLUSH TABLES WITH READ LOCK, the default) or no-lock" },
	{ "job", "include-table", "dump: only tables matching these [SCHEMA.]TABLE shell patterns (space-separated; * ? [..])" },
	{ "job", "exclude-table", "dump: leave out tables matching these [SCHEMA.]TABLE patterns" },
	{ "job", "exclude-table-data", "dump: keep the definition of tables matching these patterns, not their rows" },
	{ "job", "role-passwords", "PostgreSQL dump of a source with databases = all: the roles' password hashes too (encrypted repositories only; default no)" },
	{ "job", "retries", "failed runs are retried this many times (default 0)" },
	{ "job", "retry-delay", "wait between retries (90s, 15m, 2h)" },
	{ "job", "timeout", "cancel a run that takes longer (90s, 15m, 2h, 1d)" },
	{ "job", "run-missed", "yes: a run missed while the daemon was down runs once at start-up" },
	{ "job", "name", "name of the backups in the repository (default: the source's name)" },
	{ "job", "webhook-url", "webhook of this job (same as a [notify:NAME] section of type webhook)" },
	{ "job", "webhook-on", "failure, success or always (default always)" },
	{ "job", "incremental", "kind = basebackup: at most N incremental base backups on top of each full one (PostgreSQL 17+; default 0)" },
	{ "job", "notify", "the [notify:NAME] sections this job reports to (default: all of them)" },
	{ "notify", "type", "webhook (JSON summary), slack, teams, discord, email or healthchecks" },
	{ "notify", "on", "failure, success or always (default always; healthchecks always pings)" },
	{ "notify", "url", "the incoming webhook or ping URL; for email smtp://HOST[:PORT] or smtps://HOST[:PORT]" },
	{ "notify", "from", "email: sender address" },
	{ "notify", "to", "email: recipients, separated by spaces or commas" },
	{ "notify", "username", "email: SMTP login" },
	{ "notify", "password-file", "email: file holding the SMTP password (mode 0600)" },
	{ "notify", "starttls", "email over smtp://: require STARTTLS (default yes)" },
	{ "job", "enabled", "no: the daemon does not schedule the job (backupd run still runs it)" },
	{ "job", "run-on", "with a catalog: only daemons that have all these tags run the job" },
};

const char *config_key_help(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof key_docs / sizeof *key_docs; i++)
		if (strcmp(key_docs[i].section, section) == 0 && strcmp(key_docs[i].key, key) == 0)
			return key_docs[i].help;
	return NULL;
}

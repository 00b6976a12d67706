#include "restore/migrate_follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/lockfile.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/resolve.h"
#include "common/secret.h"

#define STATE_DIR_FALLBACK "/var/lib/backupd"

struct migrate_follow {
	char *path;  /* STATE-DIR/migrations/NAME.json */
	int lock_fd; /* NAME.lock, held while we work on it */
	follow_state st;
	const engine_ops *engine;
	follow_options o;   /* borrowed strings (begin) or from resolve (commands) */
	source_spec from, to; /* commands: resolved from the state */
	char *upstream_password;
	void *handle;       /* the engine's, between prepare and start */
	int begun;          /* prepare was called: free undoes it unless started */
	int started;
};

static const char *state_dir(const config *cfg, const char *given)
{
	if (given && *given)
		return given;
	const char *d = cfg ? config_get(config_find(cfg, "global", NULL), "state-dir") : NULL;
	return d && *d ? d : STATE_DIR_FALLBACK;
}

static int save_state(const json_t *data, void *arg, bderr *err)
{
	migrate_follow *f = arg;
	char *text = json_dumps(data, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return bderr_set(err, "cannot serialize the migration state");
	int rc = file_write_atomic(f->path, NULL, text, strlen(text), err);
	free(text);
	return rc;
}

/* Opens (create: or starts) NAME's state and takes its lock. */
static int state_open(const config *cfg, const char *dir_arg, const char *name, int create,
		      migrate_follow **out, bderr *err)
{
	if (!follow_name_ok(name))
		return bderr_usage(err, "--name '%s': a migration name is 1 to 40 of a-z, 0-9 and _", name);
	char *dir = xasprintf("%s/migrations", state_dir(cfg, dir_arg));
	char *path = xasprintf("%s/%s.json", dir, name);
	/* status, cutover and abort of a name (or --state-dir) that is not there create nothing */
	if (!create && access(path, F_OK) != 0) {
		bderr_usage(err, "no migration named %s (in %s)", name, path);
		free(path);
		free(dir);
		return -1;
	}
	if (mkdir_p(dir, 0700, err) != 0) {
		free(path);
		free(dir);
		return -1;
	}
	migrate_follow *f = xcalloc(1, sizeof *f);
	f->lock_fd = -1;
	f->path = path;
	char *lock = xasprintf("%s/%s.lock", dir, name);
	free(dir);
	long holder = 0;
	int rc = lockfile_take(lock, &f->lock_fd, &holder, err);
	free(lock);
	if (rc == 1)
		bderr_set(err, "migration %s is being worked on by process %ld", name, holder);
	if (rc != 0) {
		migrate_follow_free(f);
		return -1;
	}
	f->st.save = save_state;
	f->st.arg = f;
	json_error_t je;
	f->st.data = json_load_file(f->path, 0, &je);
	if (f->st.data == NULL && access(f->path, F_OK) == 0) {
		bderr_set(err, "migration state %s is damaged: %s", f->path, je.text);
		migrate_follow_free(f);
		return -1;
	}
	if (f->st.data == NULL && !create) {
		bderr_usage(err, "no migration named %s (in %s)", name, f->path);
		migrate_follow_free(f);
		return -1;
	}
	if (f->st.data == NULL)
		f->st.data = json_object();
	*out = f;
	return 0;
}

/* Connections for a later command: the --from/--to the migrate was given, resolved again. */
static int state_resolve(const config *cfg, migrate_follow *f, bderr *err)
{
	const char *engine = follow_get(&f->st, "engine");
	f->engine = engine ? engine_by_name(engine) : NULL;
	if (f->engine == NULL || f->engine->follow == NULL)
		return bderr_set(err, "migration state %s names no engine that can follow", f->path);
	const char *from = follow_get(&f->st, "from"), *to = follow_get(&f->st, "to");
	if (from == NULL || to == NULL)
		return bderr_set(err, "migration state %s lacks the source or the target", f->path);
	if (resolve_source(cfg, from, &f->from, err) != 0 || resolve_source(cfg, to, &f->to, err) != 0)
		return -1;
	const char *pwfile = follow_get(&f->st, "upstream_password_file");
	if (pwfile && secret_read_file(pwfile, &f->upstream_password, err) != 0)
		return -1;
	f->o.name = follow_get(&f->st, "name");
	f->o.from_url = f->from.url;
	f->o.from_password = f->from.password;
	f->o.to_url = f->to.url;
	f->o.to_password = f->to.password;
	f->o.to_dbname = follow_get(&f->st, "to_dbname");
	f->o.upstream_url = follow_get(&f->st, "upstream");
	f->o.upstream_password = f->upstream_password;
	f->o.upstream_passfile = follow_get(&f->st, "upstream_passfile");
	f->o.replica_identity_full = (int)follow_get_int(&f->st, "replica_identity_full", 0);
	return 0;
}

static void set_opt(follow_state *s, const char *key, const char *v)
{
	if (v)
		follow_set(s, key, v);
}

int migrate_follow_begin(const config *cfg, const engine_ops *e, const migrate_follow_args *a,
			 const follow_options *o, migrate_follow **out, char **snapshot, bderr *err)
{
	*out = NULL;
	*snapshot = NULL;
	if (e->follow == NULL)
		return bderr_usage(err, "--follow is not available for %s", e->name);
	if (a->name == NULL)
		return bderr_usage(err, "--follow needs --name N (the migration's name for status, cutover and abort)");
	if (e->follow->options_check && e->follow->options_check(o, err) != 0)
		return -1;
	/* the state keeps --from/--to/--upstream as given: program_parse refused a password in them */
	migrate_follow *f = NULL;
	if (state_open(cfg, a->state_dir, a->name, 1, &f, err) != 0)
		return -1;
	const char *phase = follow_get(&f->st, "phase");
	if (phase && strcmp(phase, "copying") != 0 && strcmp(phase, "done") != 0 &&
	    strcmp(phase, "aborted") != 0) {
		bderr_usage(err, "migration %s is %s already: see `dbrestore migrate status --name %s`, "
				 "or abort it first", a->name, phase, a->name);
		migrate_follow_free(f);
		return -1;
	}
	f->engine = e;
	f->o = *o;
	if (phase && strcmp(phase, "copying") == 0) {
		/* killed during its copy: what it created is undone, and it starts over */
		log_info("migrate: migration %s was killed during its copy; starting it over", a->name);
		if (e->follow->abort(&f->o, &f->st, err) != 0) {
			bderr_prefix(err, "cannot undo the killed migration %s", a->name);
			migrate_follow_free(f);
			return -1;
		}
	}
	json_decref(f->st.data);
	f->st.data = json_object();
	follow_set(&f->st, "name", a->name);
	follow_set(&f->st, "engine", e->name);
	follow_set(&f->st, "from", a->from_arg);
	follow_set(&f->st, "to", a->to_arg);
	set_opt(&f->st, "to_dbname", o->to_dbname);
	set_opt(&f->st, "upstream", o->upstream_url);
	set_opt(&f->st, "upstream_passfile", o->upstream_passfile);
	set_opt(&f->st, "env_file", a->env_file);
	set_opt(&f->st, "owner", a->owner);
	follow_set_int(&f->st, "replica_identity_full", o->replica_identity_full);
	follow_set_int(&f->st, "created", (int64_t)time(NULL));
	follow_set(&f->st, "phase", "copying");
	f->begun = 1;
	if (follow_save(&f->st, err) != 0 ||
	    e->follow->prepare(&f->o, &f->st, &f->handle, snapshot, err) != 0) {
		migrate_follow_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int migrate_follow_open(program *p, const source_spec *from, const source_spec *to,
			const engine_migrate_options *mo, migrate_follow **out, char **snapshot, bderr *err)
{
	*out = NULL;
	*snapshot = NULL;
	static const char *const only_follow[] = { "state-dir", "replica-identity-full", "upstream",
						   "upstream-password-file", "upstream-passfile", NULL };
	if (!cli_has(&p->args, "follow")) {
		for (int i = 0; only_follow[i]; i++)
			if (cli_has(&p->args, only_follow[i]))
				return bderr_usage(err, "--%s goes with --follow", only_follow[i]);
		return 0;
	}
	char *upw = NULL;
	const char *upw_file = cli_get(&p->args, "upstream-password-file");
	if (upw_file && secret_read_file(upw_file, &upw, err) != 0)
		return -1;
	follow_options o = {
		.name = cli_get(&p->args, "name"),
		.from_url = from->url,
		.from_password = from->password,
		.to_url = to->url,
		.to_password = to->password,
		.to_dbname = mo->to.provision_db,
		.upstream_url = cli_get(&p->args, "upstream"),
		.upstream_password = upw,
		.upstream_passfile = cli_get(&p->args, "upstream-passfile"),
		.replica_identity_full = cli_has(&p->args, "replica-identity-full"),
	};
	migrate_follow_args a = {
		.state_dir = cli_get(&p->args, "state-dir"),
		.name = o.name,
		.from_arg = cli_get(&p->args, "from"),
		.to_arg = cli_get(&p->args, "to"),
		.env_file = mo->to.env_file,
		.owner = mo->to.owner,
	};
	int rc = migrate_follow_begin(p->cfg, from->engine, &a, &o, out, snapshot, err);
	if (*out) {
		(*out)->upstream_password = upw; /* o points at it while the follow lives */
		/* absolute: status and cut-over may run from another directory */
		char *abs = upw_file ? realpath(upw_file, NULL) : NULL;
		if (abs)
			follow_set(&(*out)->st, "upstream_password_file", abs);
		free(abs);
	} else {
		secret_free(upw);
	}
	if (rc == 0 && upw_file)
		rc = follow_save(&(*out)->st, err);
	return rc;
}

follow_state *migrate_follow_state(migrate_follow *f)
{
	return &f->st;
}

int migrate_follow_copied(migrate_follow *f, void *migrate_session, bderr *err)
{
	if (f->engine->follow->copied == NULL)
		return 0;
	return f->engine->follow->copied(f->handle, migrate_session, &f->o, &f->st, err);
}

int migrate_follow_start(migrate_follow *f, bderr *err)
{
	if (f->engine->follow->start(f->handle, &f->o, &f->st, err) != 0)
		return -1;
	f->started = 1;
	const char *name = follow_get(&f->st, "name");
	printf("following: migration %s; `dbrestore migrate status --name %s` shows the lag, "
	       "`dbrestore migrate cutover --name %s` switches over\n", name, name, name);
	fflush(stdout);
	return 0;
}

void migrate_follow_free(migrate_follow *f)
{
	if (f == NULL)
		return;
	if (f->begun && !f->started) {
		f->engine->follow->release(f->handle);
		f->handle = NULL;
		bderr e;
		bderr_init(&e);
		if (f->engine->follow->abort(&f->o, &f->st, &e) != 0)
			log_error("migrate: cannot undo the follow: %s (run `dbrestore migrate abort --name %s`)",
				  e.msg, f->o.name ? f->o.name : "?");
	}
	if (f->handle && f->engine)
		f->engine->follow->release(f->handle);
	json_decref(f->st.data);
	lockfile_release(f->lock_fd);
	source_spec_free(&f->from);
	source_spec_free(&f->to);
	secret_free(f->upstream_password);
	free(f->path);
	free(f);
}

/* ---- the commands ---------------------------------------------------------- */

static int open_named(program *p, migrate_follow **f, bderr *err)
{
	const char *name = cli_get(&p->args, "name");
	if (state_open(p->cfg, cli_get(&p->args, "state-dir"), name, 0, f, err) != 0)
		return -1;
	if (state_resolve(p->cfg, *f, err) != 0) {
		migrate_follow_free(*f);
		*f = NULL;
		return -1;
	}
	return 0;
}

static json_t *status_json(const char *name, const char *engine, const follow_status *s)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", name, "engine", engine ? engine : "",
			      "phase", s->phase, "running", s->running);
	json_object_set_new(o, "lag_bytes", s->lag_bytes >= 0 ? json_integer(s->lag_bytes) : json_null());
	json_object_set_new(o, "lag_seconds", s->lag_seconds >= 0 ? json_real(s->lag_seconds) : json_null());
	json_object_set_new(o, "rows_applied",
			    s->rows_applied >= 0 ? json_integer(s->rows_applied) : json_null());
	json_object_set_new(o, "note", json_string(s->note));
	return o;
}

static void status_header(int *printed)
{
	if (*printed)
		return;
	printf("%-20s %-10s %-10s %12s %8s %12s %s\n", "NAME", "ENGINE", "PHASE", "LAG_BYTES",
	       "LAG_S", "ROWS_APPLIED", "NOTE");
	*printed = 1;
}

/*
 * One migration's status; the figures are kept in its state for /metrics.
 * The table's header goes before its first row (*header): a status that
 * fails prints its error alone, not a header with nothing under it.
 */
static int status_one(program *p, const char *name, json_t *arr, int *header, bderr *err)
{
	migrate_follow *f = NULL;
	if (state_open(p->cfg, cli_get(&p->args, "state-dir"), name, 0, &f, err) != 0)
		return -1;
	follow_status s;
	memset(&s, 0, sizeof s);
	int rc = state_resolve(p->cfg, f, err);
	if (rc == 0)
		rc = f->engine->follow->status(&f->o, &f->st, &s, err);
	if (rc == 0) {
		follow_set_int(&f->st, "observed", (int64_t)time(NULL));
		follow_set_int(&f->st, "observed_lag_bytes", s.lag_bytes);
		follow_set_int(&f->st, "observed_rows_applied", s.rows_applied);
		follow_set(&f->st, "observed_phase", s.phase);
		rc = follow_save(&f->st, err);
	}
	if (rc == 0) {
		if (arr) {
			json_array_append_new(arr, status_json(name, f->engine->name, &s));
		} else {
			char lag[32] = "-", secs[32] = "-", rows[32] = "-";
			if (s.lag_bytes >= 0)
				snprintf(lag, sizeof lag, "%lld", (long long)s.lag_bytes);
			if (s.lag_seconds >= 0)
				snprintf(secs, sizeof secs, "%.1f", s.lag_seconds);
			if (s.rows_applied >= 0)
				snprintf(rows, sizeof rows, "%lld", (long long)s.rows_applied);
			status_header(header);
			printf("%-20s %-10s %-10s %12s %8s %12s %s\n", name, f->engine->name, s.phase, lag,
			       secs, rows, s.note);
		}
	}
	migrate_follow_free(f);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int migrate_status_command(program *p, bderr *err)
{
	const char *name = cli_get(&p->args, "name");
	char **names = NULL;
	size_t n = 0;
	if (name) {
		names = xcalloc(1, sizeof *names);
		names[n++] = xstrdup(name);
	} else {
		char *dir = xasprintf("%s/migrations", state_dir(p->cfg, cli_get(&p->args, "state-dir")));
		DIR *d = opendir(dir);
		if (d == NULL && errno != ENOENT) {
			bderr_sys(err, errno, "cannot read %s", dir);
			free(dir);
			return -1;
		}
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
				names = xrealloc(names, (n + 1) * sizeof *names);
				names[n++] = xstrndup(de->d_name, len - 5);
			}
		}
		if (d)
			closedir(d);
		free(dir);
		if (n > 1)
			qsort(names, n, sizeof *names, cmp_str);
	}
	json_t *arr = p->args.json ? json_array() : NULL;
	int header = 0;
	if (!arr && n == 0)
		status_header(&header); /* none recorded: an empty table */
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		bderr e;
		bderr_init(&e);
		if (status_one(p, names[i], arr, &header, &e) != 0) {
			/* the others are still shown; the command fails */
			if (rc == 0)
				*err = e;
			rc = -1;
			if (arr)
				json_array_append_new(arr, json_pack("{s:s, s:s}", "name", names[i], "error", e.msg));
		}
		free(names[i]);
	}
	free(names);
	/* the one migration asked for failed: its error is the whole answer */
	if (arr && name && rc != 0) {
		json_decref(arr);
		arr = NULL;
	}
	if (arr) {
		char *text = json_dumps(arr, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(arr);
	}
	return rc;
}

/* The target as the application connects to it now: no password, the migrated database, its owner. */
static char *new_connection_string(const migrate_follow *f)
{
	const char *url = f->to.url;
	const char *sep = strstr(url, "://");
	if (sep == NULL)
		return NULL;
	const char *auth = sep + 3;
	const char *at = strchr(auth, '@');
	const char *slash = strchr(auth, '/');
	const char *hostp = at && (slash == NULL || at < slash) ? at + 1 : auth;
	const char *end = hostp + strcspn(hostp, "/?");
	const char *owner = follow_get(&f->st, "owner");
	const char *db = follow_get(&f->st, "to_dbname");
	char *user = NULL;
	if (owner)
		user = xstrdup(owner);
	else if (hostp != auth)
		user = xstrndup(auth, strcspn(auth, ":@"));
	char *dbpart = db ? xasprintf("/%s", db) : xstrdup(end);
	char *out = xasprintf("%.*s%s%s%.*s%s", (int)(auth - url), url, user ? user : "",
			      user ? "@" : "", (int)(end - hostp), hostp, dbpart);
	free(user);
	free(dbpart);
	return out;
}

/* After a cut-over or abort, /metrics shows the phase it left, not the last status. */
static void forget_observed(migrate_follow *f)
{
	bderr e;
	bderr_init(&e);
	follow_set(&f->st, "observed_phase", NULL);
	follow_set(&f->st, "observed_lag_bytes", NULL);
	follow_set(&f->st, "observed_rows_applied", NULL);
	if (follow_save(&f->st, &e) != 0)
		log_warn("migration %s: %s", f->o.name, e.msg);
}

typedef struct switch_note {
	migrate_follow *f;
	struct timespec t0;
} switch_note;

/* The application can move now: the new connection string (never a password). */
static void print_switched(void *arg)
{
	switch_note *n = arg;
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	char *conn = new_connection_string(n->f);
	const char *env = follow_get(&n->f->st, "env_file");
	printf("switched: migration %s after %.1f s; the source stays read-only\n", n->f->o.name,
	       (double)(t1.tv_sec - n->t0.tv_sec) + (double)(t1.tv_nsec - n->t0.tv_nsec) / 1e9);
	printf("new connection string: %s%s%s%s\n", conn ? conn : "?",
	       env ? " (with its password: DATABASE_URL in " : "", env ? env : "", env ? ")" : "");
	fflush(stdout);
	free(conn);
}

int migrate_cutover_command(program *p, bderr *err)
{
	follow_cutover_options co = { 0 };
	const char *lag = cli_get(&p->args, "max-lag");
	uint64_t bytes = 0;
	if (engine_parse_size(lag ? lag : "1MB", &bytes) != 0)
		return bderr_usage(err, "--max-lag '%s': a size such as 1MB", lag);
	co.max_lag_bytes = (int64_t)bytes;
	const char *when = cli_get(&p->args, "verify");
	if (when && strcmp(when, "before") != 0 && strcmp(when, "after") != 0)
		return bderr_usage(err, "--verify '%s': before or after", when);
	co.verify_after = when && strcmp(when, "after") == 0;
	if (cli_int(&p->args, "grace", &co.grace_seconds, err) != 0 ||
	    cli_int(&p->args, "timeout", &co.timeout_seconds, err) != 0)
		return -1;
	migrate_follow *f = NULL;
	if (open_named(p, &f, err) != 0)
		return -1;
	switch_note note = { .f = f };
	clock_gettime(CLOCK_MONOTONIC, &note.t0);
	co.switched = print_switched;
	co.arg = &note;
	int rc = f->engine->follow->cutover(&f->o, &f->st, &co, err);
	forget_observed(f);
	if (rc == 0) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("cut over: migration %s is done in %.1f s\n", f->o.name,
		       (double)(t1.tv_sec - note.t0.tv_sec) + (double)(t1.tv_nsec - note.t0.tv_nsec) / 1e9);
	}
	migrate_follow_free(f);
	return rc;
}

int migrate_abort_command(program *p, bderr *err)
{
	migrate_follow *f = NULL;
	if (open_named(p, &f, err) != 0)
		return -1;
	const char *phase = follow_get(&f->st, "phase");
	int rc = 0;
	if (phase && strcmp(phase, "done") == 0)
		rc = bderr_usage(err, "migration %s was cut over already: there is nothing to abort", f->o.name);
	else
		rc = f->engine->follow->abort(&f->o, &f->st, err);
	forget_observed(f);
	if (rc == 0)
		printf("aborted: migration %s; the source is as it was (the target database keeps the copy)\n",
		       f->o.name);
	migrate_follow_free(f);
	return rc;
}

#define OPT_NAME_REQUIRED { "name", "N", "the migration's name (migrate --follow --name N)", CLI_REQUIRED, NULL, 0, 0 }

const cli_option migrate_status_opts[] = {
	{ "name", "N", "only this migration (default: every one recorded)", 0, NULL, 0, 0 },
	MIGRATE_OPT_STATE_DIR,
	CLI_OPT_END,
};

const cli_option migrate_cutover_opts[] = {
	OPT_NAME_REQUIRED,
	MIGRATE_OPT_STATE_DIR,
	{ "max-lag", "SIZE", "wait until the target is less than this behind before the source goes read-only (what is left is the write-unavailability window)", 0, "1MB", 0, 0 },
	{ "grace", "SECONDS", "sessions still in a transaction this long after read-only are ended", 0, "5", 0, 3600 },
	{ "timeout", "SECONDS", "give up waiting for the target (the source is made writable again)", 0, "300", 1, 86400 },
	{ "verify", "before|after", "verify every table before the switch, or after it against a snapshot of the target taken at the switch (shorter window)", 0, "before", 0, 0 },
	CLI_OPT_END,
};

const cli_option migrate_abort_opts[] = {
	OPT_NAME_REQUIRED,
	MIGRATE_OPT_STATE_DIR,
	CLI_OPT_END,
};

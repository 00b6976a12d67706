#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "common/config.h"
#include "common/mem.h"
#include "common/resolve.h"

#define GOOD_CONFIG                                                                        \
	"; backupd test config\n"                                                          \
	"# hash comments too\n"                                                            \
	"[global]\n"                                                                       \
	"state-dir = /var/lib/backupd     ; locks, spool, run history\n"                   \
	"max-parallel-jobs = 2\n"                                                          \
	"log-level = debug\n"                                                              \
	"\n"                                                                               \
	"[repo:offsite]\n"                                                                 \
	"url = s3://acme-backups/prod?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1\n" \
	"access-key-id = AKIAEXAMPLE\n"                                                    \
	"secret-access-key-file = /etc/backupd/s3.secret   ; must be mode 0600\n"          \
	"tls-verify = no\n"                                                                \
	"\n"                                                                               \
	"[source:appdb]\n"                                                                 \
	"url = postgresql://backup@10.0.0.5/app\n"                                         \
	"\n"                                                                               \
	"[job:appdb-nightly]\n"                                                            \
	"source = appdb\n"                                                                 \
	"repo = offsite\n"                                                                 \
	"kind = dump                      ; dump | basebackup\n"                           \
	"schedule = 0 3 * * *             ; cron\n"                                        \
	"jobs = 4\n"                                                                       \
	"retention = keep-daily=7 keep-weekly=4 keep-monthly=12\n"

static void test_good_config(void **state)
{
	(void)state;
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string(GOOD_CONFIG, "t.conf", &c, &err), 0);
	assert_non_null(c);
	assert_int_equal(c->n_sections, 4);

	const config_section *g = config_find(c, "global", "ignored");
	assert_non_null(g);
	assert_null(g->name);
	assert_int_equal(g->line, 3);
	assert_string_equal(config_get(g, "state-dir"), "/var/lib/backupd");
	assert_int_equal(config_line(g, "max-parallel-jobs"), 5);
	assert_int_equal(config_line(g, "time-zone"), 3); /* absent: the section's line */
	assert_null(config_get(g, "time-zone"));

	const config_section *r = config_find(c, "repo", "offsite");
	assert_non_null(r);
	assert_string_equal(r->name, "offsite");
	assert_string_equal(config_get(r, "url"),
			    "s3://acme-backups/prod?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1");
	int b = -1;
	assert_int_equal(config_get_bool(c, r, "tls-verify", 1, &b, &err), 0);
	assert_int_equal(b, 0);

	const config_section *j = config_find(c, "job", "appdb-nightly");
	assert_non_null(j);
	assert_int_equal(j->line, 17);
	assert_string_equal(config_get(j, "schedule"), "0 3 * * *");
	assert_string_equal(config_get(j, "retention"), "keep-daily=7 keep-weekly=4 keep-monthly=12");
	long n = 0;
	assert_int_equal(config_get_long(c, j, "jobs", 1, 1, 64, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(config_get_long(c, j, "retries", 3, 0, 10, &n, &err), 0);
	assert_int_equal(n, 3);
	/* out of the caller's bounds: FILE:LINE: key */
	assert_int_equal(config_get_long(c, j, "jobs", 1, 1, 2, &n, &err), -1);
	assert_string_equal(err.msg, "t.conf:22: key 'jobs': must be an integer between 1 and 2, got '4'");
	assert_int_equal(err.exit_code, EXIT_USAGE);

	assert_null(config_find(c, "repo", "nope"));
	assert_null(config_find(c, "source", NULL));
	assert_null(config_find(NULL, "repo", "offsite"));
	assert_null(config_get(NULL, "url"));

	bderr_init(&err);
	assert_int_equal(config_error(c, j, "repo", &err, "cannot reach %s", "it"), -1);
	assert_string_equal(err.msg, "t.conf:19: key 'repo': cannot reach it");
	assert_int_equal(config_error(c, j, NULL, &err, "broken"), -1);
	assert_string_equal(err.msg, "t.conf:17: broken");
	config_free(c);
}

struct bad_case {
	const char *text;
	const char *error;
};

/* Each text must fail with exactly this message (path "b.conf"). */
static const struct bad_case bad_cases[] = {
	{ "[global]\nstate-dir = /a\nstate-dir = /b\n",
	  "b.conf:3: key 'state-dir': duplicate key (first set on line 2)" },
	{ "[repo:a]\nurl = /r\n\n[repo:a]\nurl = /s\n",
	  "b.conf:4: duplicate section [repo:a] (first on line 1)" },
	{ "[global]\n[global]\n", "b.conf:2: duplicate section [global] (first on line 1)" },
	{ "[global]\nstate-dri = /x\n", "b.conf:2: key 'state-dri': unknown key in [global]" },
	{ "[repo:r]\nurl = /r\nurll = /r\n", "b.conf:3: key 'urll': unknown key in [repo:r]" },
	{ "[repo:r]\nurl = s3://b\nsecret-access-key = abc\n",
	  "b.conf:3: key 'secret-access-key': secrets are not accepted inline: put it in a file "
	  "only its owner can read (chmod 600) and use 'secret-access-key-file = PATH'" },
	{ "[repo:r]\nurl = s3://b\nsession-token = abc\n",
	  "b.conf:3: key 'session-token': secrets are not accepted inline: put it in a file "
	  "only its owner can read (chmod 600) and use 'session-token-file = PATH'" },
	{ "[source:s]\nurl = postgresql://h/db\npassword = hunter2\n",
	  "b.conf:3: key 'password': secrets are not accepted inline: put it in a file "
	  "only its owner can read (chmod 600) and use 'password-file = PATH'" },
	{ "[job:j]\npassword = x\n", "b.conf:2: key 'password': unknown key in [job:j]" },
	{ "[repo:r]\nurl = /r\n[source:s]\nurl = postgresql://h/d\n\n[job:j]\nsource = s\nrepo = offsite\n",
	  "b.conf:8: key 'repo': no [repo:offsite] in this file" },
	{ "[repo:r]\nurl = /r\n[job:j]\nsource = s\nrepo = r\n",
	  "b.conf:4: key 'source': no [source:s] in this file" },
	{ "[repo:r]\nurl = /r\n[job:j]\nrepo = r\n", "b.conf:3: key 'source': missing in [job:j]" },
	{ "[repo:r]\naccess-key-id = AK\n", "b.conf:1: key 'url': missing in [repo:r]" },
	{ "[source:s]\nname = x\n", "b.conf:1: key 'url': missing in [source:s]" },
	{ "[source:s]\nurl = http://h/db\n",
	  "b.conf:2: key 'url': must be a postgresql://, postgres://, mysql:// or mariadb:// URI" },
	{ "[job:j]\nkind = full\n", "b.conf:2: key 'kind': must be dump or basebackup, got 'full'" },
	{ "[source:s]\nurl = postgresql://h/d\ndatabases = a,b\n",
	  "b.conf:3: key 'databases': must be 'all' (every database of the server), got 'a,b': name single databases in the url" },
	{ "[job:j]\nrole-passwords = maybe\n",
	  "b.conf:2: key 'role-passwords': must be yes or no (true/false, on/off, 1/0), got 'maybe'" },
	{ "[job:j]\njobs = four\n",
	  "b.conf:2: key 'jobs': must be an integer between 1 and 64, got 'four'" },
	{ "[job:j]\njobs = 0\n", "b.conf:2: key 'jobs': must be an integer between 1 and 64, got '0'" },
	{ "[job:j]\nretries = 3x\n",
	  "b.conf:2: key 'retries': must be an integer between 0 and 1000, got '3x'" },
	{ "[global]\nmax-parallel-jobs = 99999999999999999999999\n",
	  "b.conf:2: key 'max-parallel-jobs': must be an integer between 1 and 1024, got "
	  "'99999999999999999999999'" },
	{ "[job:j]\nenabled = maybe\n",
	  "b.conf:2: key 'enabled': must be yes or no (true/false, on/off, 1/0), got 'maybe'" },
	{ "[global]\nlog-level = loud\n",
	  "b.conf:2: key 'log-level': must be error, warn, info or debug, got 'loud'" },
	{ "[global]\nstate-dir =\n", "b.conf:2: key 'state-dir': empty value" },
	{ "[repo:r]\nurl = /r\naccess-key-id = A\naccess-key-id-file = /f\n",
	  "b.conf:4: key 'access-key-id-file': access-key-id and access-key-id-file are exclusive: keep one" },
	{ "[target:x]\n",
	  "b.conf:1: unknown section [target:x]: use [global], [repo:NAME], [source:NAME], [job:NAME] or [notify:NAME]" },
	{ "[repo]\nurl = /r\n", "b.conf:1: section [repo] needs a name: write [repo:NAME]" },
	{ "[global:x]\n", "b.conf:1: section [global:x] takes no name: write [global]" },
	{ "[job:a b]\n", "b.conf:1: section name 'a b' in [job:a b]: use letters, digits, '.', '_' and '-'" },
	{ "[job:]\n", "b.conf:1: section name '' in [job:]: use letters, digits, '.', '_' and '-'" },
	{ "state-dir = /x\n[global]\n",
	  "b.conf:1: key 'state-dir': outside of any section: put it under [global], [repo:NAME], "
	  "[source:NAME] or [job:NAME]" },
	{ "[global]\n\nthis line has no equals sign\n", "b.conf:3: syntax error" },
	{ "[global\nstate-dir = /x\n", "b.conf:1: syntax error" },
	/* an indented key is a key, not a continuation of the previous value */
	{ "[global]\nstate-dir = /x\n    state-dir = /y\n",
	  "b.conf:3: key 'state-dir': duplicate key (first set on line 2)" },
	/* the first error wins; later lines are not looked at */
	{ "[global]\nfoo = 1\nbar = 2\n[nope]\n", "b.conf:2: key 'foo': unknown key in [global]" },
	/* inih keeps going after a syntax error: the earlier line is reported */
	{ "[global]\nno equals here\nbogus = 1\n", "b.conf:2: syntax error" },
	{ "[global]\nno equals here\n[bogus]\n", "b.conf:2: syntax error" },
	{ "[global]\nbogus = 1\nno equals here\n", "b.conf:2: key 'bogus': unknown key in [global]" },
	/* an empty job section is still checked */
	{ "[job:empty]\n", "b.conf:1: key 'source': missing in [job:empty]" },
	/* relative paths would depend on the directory each command runs in */
	{ "[global]\nstate-dir = state\n", "b.conf:2: key 'state-dir': must be an absolute path, got 'state'" },
	{ "[repo:r]\nurl = backups\n",
	  "b.conf:2: key 'url': must be s3://BUCKET/PREFIX, file:///PATH or an absolute path, got 'backups'" },
	{ "[repo:r]\nurl = /r\nencryption-key-file = ./repo.key\n",
	  "b.conf:3: key 'encryption-key-file': must be an absolute path, got './repo.key'" },
	{ "[source:s]\nurl = postgresql://h/d\npassword-file = pw\n",
	  "b.conf:3: key 'password-file': must be an absolute path, got 'pw'" },
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		config *c = (config *)&c; /* must be reset to NULL on failure */
		bderr err;
		bderr_init(&err);
		int rc = config_load_string(bad_cases[i].text, "b.conf", &c, &err);
		if (rc != -1 || strcmp(err.msg, bad_cases[i].error) != 0)
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s\"", i, rc, err.msg,
				 bad_cases[i].error);
		assert_null(c);
		assert_int_equal(err.exit_code, EXIT_USAGE);
	}
}

static void test_comments_and_forms(void **state)
{
	(void)state;
	const char *text = "\xEF\xBB\xBF[global]\r\n"
			   "; a comment = not a key\r\n"
			   "# another = not a key\r\n"
			   "  state-dir = /var/lib/x;not-a-comment ; a comment\r\n"
			   "time-zone: Europe/Paris\r\n"
			   "[ source:db1 ]\n"
			   "url = mysql://root@localhost/shop\n";
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string(text, "c.conf", &c, &err), 0);
	const config_section *g = config_find(c, "global", NULL);
	assert_non_null(g);
	assert_int_equal(g->n_entries, 2);
	assert_string_equal(config_get(g, "state-dir"), "/var/lib/x;not-a-comment");
	assert_int_equal(config_line(g, "state-dir"), 4);
	assert_string_equal(config_get(g, "time-zone"), "Europe/Paris");
	const config_section *s = config_find(c, "source", "db1");
	assert_non_null(s);
	assert_int_equal(s->line, 6);
	config_free(c);

	/* an empty file is a valid, empty config */
	assert_int_equal(config_load_string("", "e.conf", &c, &err), 0);
	assert_int_equal(c->n_sections, 0);
	config_free(c);
	config_free(NULL);
}

static void test_long_lines(void **state)
{
	(void)state;
	/* longer than inih's 200-byte line buffer */
	strbuf url;
	strbuf_init(&url);
	strbuf_appends(&url, "s3://bucket/prefix?endpoint=https://");
	for (int i = 0; i < 40; i++)
		strbuf_appends(&url, "abcdefgh.");
	strbuf_appends(&url, "example.com&region=eu");
	char *text = xasprintf("[repo:r]\nurl = %s   ; trailing comment\n"
			       "; %s\n"
			       "region = x\n",
			       url.data, url.data);
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string(text, "l.conf", &c, &err), 0);
	const config_section *r = config_find(c, "repo", "r");
	assert_string_equal(config_get(r, "url"), url.data);
	assert_int_equal(config_line(r, "region"), 4);
	config_free(c);
	free(text);

	/* a long line that is not key = value */
	text = xasprintf("[global]\n%s\n", url.data + 3);
	for (char *p = text; *p; p++)
		if (*p == '=' || *p == ':')
			*p = '_';
	assert_int_equal(config_load_string(text, "l.conf", &c, &err), -1);
	assert_string_equal(err.msg, "l.conf:2: line too long");
	free(text);
	strbuf_free(&url);
}

static void test_load_file(void **state)
{
	(void)state;
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load("/nonexistent/backupd.conf", &c, &err), -1);
	assert_string_equal(err.msg,
			    "cannot read config '/nonexistent/backupd.conf': No such file or directory");
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_null(c);

	assert_int_equal(config_load("/tmp", &c, &err), -1);
	assert_string_equal(err.msg, "cannot read config '/tmp': Is a directory");

	char path[] = "/tmp/config_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, GOOD_CONFIG, strlen(GOOD_CONFIG)), (ssize_t)strlen(GOOD_CONFIG));
	close(fd);
	assert_int_equal(config_load(path, &c, &err), 0);
	assert_string_equal(c->path, path);
	assert_non_null(config_find(c, "job", "appdb-nightly"));
	config_free(c);

	/* errors name the real path */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[global]\nbogus = 1\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c, &err), -1);
	char *want = xasprintf("%s:2: key 'bogus': unknown key in [global]", path);
	assert_string_equal(err.msg, want);
	free(want);

	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[global]\n\0x = 1\n", 1, 16, f);
	fclose(f);
	assert_int_equal(config_load(path, &c, &err), -1);
	assert_non_null(strstr(err.msg, "contains a NUL byte"));
	unlink(path);
}

/* config_load_all: every error of the file, in order, and what could be read. */
static void test_load_all(void **state)
{
	(void)state;
	static const char text[] = "[global]\n"
				   "bogus = 1\n"            /* 2: unknown key */
				   "max-parallel-jobs = x\n" /* 3: not an integer */
				   "[nope:x]\n"             /* 4: unknown section, its keys skipped */
				   "url = y\n"
				   "[repo:r]\n"
				   "url = /tmp/r\n"
				   "[job:j]\n"
				   "source = s\n"           /* 9: no such source */
				   "repo = r\n";
	char path[] = "/tmp/config_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	bderr_list all = { NULL, 0 };
	assert_int_equal(config_load_all(path, &c, &all, &err), 0);
	assert_non_null(c);
	assert_non_null(config_find(c, "repo", "r"));
	assert_int_equal(all.n, 4);
	static const char *const want[] = { ":2: key 'bogus'", ":3: key 'max-parallel-jobs'",
					    ":4: unknown section [nope:x]", ":9: key 'source'" };
	for (size_t i = 0; i < 4; i++) {
		if (strstr(all.items[i].msg, want[i]) == NULL)
			fail_msg("error %zu: got \"%s\", want \"%s\"", i, all.items[i].msg, want[i]);
		assert_int_equal(all.items[i].exit_code, EXIT_USAGE);
	}
	bderr_list_free(&all);
	config_free(c);

	/* a file that cannot be read at all is still one error, and no config */
	assert_int_equal(config_load_all("/nonexistent/x.conf", &c, &all, &err), -1);
	assert_null(c);
	assert_int_equal(all.n, 0);
	unlink(path);
}

static void test_bool_parse(void **state)
{
	(void)state;
	static const char *yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *no[] = { "no", "False", "off", "0" };
	int b;
	for (size_t i = 0; i < 5; i++) {
		b = -1;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_int_equal(b, 1);
	}
	for (size_t i = 0; i < 4; i++) {
		b = -1;
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_int_equal(b, 0);
	}
	assert_int_equal(config_parse_bool("2", &b), -1);
	assert_int_equal(config_parse_bool("", &b), -1);
	assert_int_equal(config_parse_bool(NULL, &b), -1);
}


/*
 * resolve.c turns --repo/--source into specs using the config; its tests
 * live here because Makefile.am has no separate resolve_test.
 */

static char *write_secret(const char *content, mode_t mode)
{
	char *path = xstrdup("/tmp/resolve_test_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void clear_aws_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
}

static void test_resolve_repo_url(void **state)
{
	(void)state;
	static const char *urls[] = { "/var/backups", "./repo", "file:///srv/r", "s3://b/p" };
	clear_aws_env();
	for (size_t i = 0; i < 4; i++) {
		repo_spec r;
		bderr err;
		bderr_init(&err);
		assert_int_equal(resolve_repo(NULL, urls[i], &r, &err), 0);
		assert_null(r.name);
		assert_string_equal(r.url, urls[i]);
		assert_null(r.opts.access_key_id);
		assert_null(r.opts.secret_access_key);
		assert_int_equal(r.opts.tls_verify, 1);
		repo_spec_free(&r);
	}

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	repo_spec r;
	bderr err;
	bderr_init(&err);
	assert_int_equal(resolve_repo(NULL, "s3://b/p", &r, &err), 0);
	assert_string_equal(r.opts.access_key_id, "AKENV");
	assert_string_equal(r.opts.secret_access_key, "envsecret");
	assert_string_equal(r.opts.session_token, "envtoken");
	repo_spec_free(&r);
	clear_aws_env();

	assert_int_equal(resolve_repo(NULL, "offsite", &r, &err), -1);
	assert_string_equal(err.msg, "unknown repository 'offsite': not a URL and no [repo:offsite] "
				     "in the config (none was loaded)");
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_null(r.url);
	assert_int_equal(resolve_repo(NULL, "", &r, &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
}

static void test_resolve_repo_config(void **state)
{
	(void)state;
	clear_aws_env();
	char *sak = write_secret("s3cr3t\n", 0600);
	char *tok = write_secret("tok\n", 0600);
	char *akf = write_secret("AKFILE\n", 0600);
	char *open_sak = write_secret("s3cr3t\n", 0644);
	char *text = xasprintf("[repo:offsite]\n"
			       "url = s3://bucket/prod\n"
			       "access-key-id = AKCONF\n"
			       "secret-access-key-file = %s\n"
			       "session-token-file = %s\n"
			       "endpoint = https://minio:9000\n"
			       "region = eu-west-1\n"
			       "upload-concurrency = 8\n"
			       "ca-file = /etc/ca.pem\n"
			       "tls-verify = off\n"
			       "[repo:filekey]\n"
			       "url = s3://bucket/x?region=us-east-1\n"
			       "access-key-id-file = %s\n"
			       "[repo:open]\n"
			       "url = s3://b\n"
			       "secret-access-key-file = %s\n"
			       "[repo:local]\n"
			       "url = /srv/backups\n"
			       "region = eu\n"
			       "[repo:twice]\n"
			       "url = s3://b?region=eu\n"
			       "region = us\n",
			       sak, tok, akf, open_sak);
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string(text, "r.conf", &c, &err), 0);

	repo_spec r;
	assert_int_equal(resolve_repo(c, "offsite", &r, &err), 0);
	assert_string_equal(r.name, "offsite");
	assert_string_equal(r.url, "s3://bucket/prod?endpoint=https://minio:9000&region=eu-west-1&upload-concurrency=8");
	assert_string_equal(r.opts.access_key_id, "AKCONF");
	assert_string_equal(r.opts.secret_access_key, "s3cr3t");
	assert_string_equal(r.opts.session_token, "tok");
	assert_string_equal(r.opts.ca_file, "/etc/ca.pem");
	assert_int_equal(r.opts.tls_verify, 0);
	repo_spec_free(&r);

	/* the environment fills only what the config leaves empty */
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(resolve_repo(c, "filekey", &r, &err), 0);
	assert_string_equal(r.url, "s3://bucket/x?region=us-east-1");
	assert_string_equal(r.opts.access_key_id, "AKFILE");
	assert_string_equal(r.opts.secret_access_key, "envsecret");
	assert_null(r.opts.session_token);
	assert_int_equal(r.opts.tls_verify, 1);
	repo_spec_free(&r);
	clear_aws_env();

	assert_int_equal(resolve_repo(c, "open", &r, &err), -1);
	char *want = xasprintf("r.conf:16: key 'secret-access-key-file': secret file '%s' must not be "
			       "accessible by group or others (mode 0644): chmod 600 '%s'",
			       open_sak, open_sak);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_null(r.url);
	free(want);

	assert_int_equal(resolve_repo(c, "local", &r, &err), -1);
	assert_string_equal(err.msg, "r.conf:19: key 'region': only used with s3:// repository URLs");
	assert_int_equal(resolve_repo(c, "twice", &r, &err), -1);
	assert_string_equal(err.msg, "r.conf:22: key 'region': the url already sets region=: keep one of them");

	assert_int_equal(resolve_repo(c, "nope", &r, &err), -1);
	assert_string_equal(err.msg, "unknown repository 'nope': not a URL and no [repo:nope] in r.conf");

	config_free(c);
	free(text);
	unlink(sak);
	unlink(tok);
	unlink(akf);
	unlink(open_sak);
	free(sak);
	free(tok);
	free(akf);
	free(open_sak);
}

static void test_resolve_source_uri(void **state)
{
	(void)state;
	static const struct {
		const char *uri;
		const char *name;
		const char *engine; /* the engine table's name */
	} ok[] = {
		{ "postgresql://u:pw@h/app", "app", "postgresql" },
		{ "postgresql://u:pw@h:5432/app?sslmode=require", "app", "postgresql" },
		{ "postgres://backup@h", "backup", "postgresql" },
		{ "postgresql://h", "default", "postgresql" },
		{ "postgresql://h/", "default", "postgresql" },
		{ "postgresql://h/my%2Ddb", "my-db", "postgresql" },
		{ "postgresql:///?dbname=fromq&user=u", "fromq", "postgresql" },
		{ "postgresql://h?user=qu", "qu", "postgresql" },
		{ "postgresql://u%2Ex:p@ss@h", "u.x", "postgresql" },
		{ "mysql://root@db/shop", "shop", "mysql" },
		{ "mariadb://root:x@db:3306/", "root", "mysql" },
		{ "MySQL://db/Shop_1", "Shop_1", "mysql" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		source_spec s;
		bderr err;
		bderr_init(&err);
		if (resolve_source(NULL, ok[i].uri, &s, &err) != 0)
			fail_msg("%s: %s", ok[i].uri, err.msg);
		assert_string_equal(s.name, ok[i].name);
		assert_string_equal(s.url, ok[i].uri);
		assert_string_equal(s.engine->name, ok[i].engine);
		assert_null(s.password);
		source_spec_free(&s);
	}
	assert_ptr_equal(engine_by_name("postgresql"), engine_for_uri("postgres://h"));
	assert_ptr_equal(engine_by_name("mysql"), engine_for_uri("MARIADB://h"));
	assert_null(engine_for_uri("oracle://h"));
	assert_null(engine_by_name("oracle"));

	source_spec s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(resolve_source(NULL, "postgresql://h/my%20db", &s, &err), -1);
	assert_string_equal(err.msg, "source name 'my db' is not usable in a repository path: use "
				     "letters, digits, '.', '_' and '-'");
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_int_equal(resolve_source(NULL, "postgresql://h/..", &s, &err), -1);
	assert_int_equal(resolve_source(NULL, "postgresql://h/a%2Fb", &s, &err), -1);

	/* --name rescues a database whose name is not a usable path */
	assert_int_equal(resolve_source_as(NULL, "postgresql://h/my%20db", "mydb", &s, &err), 0);
	assert_string_equal(s.name, "mydb");
	source_spec_free(&s);
	assert_int_equal(resolve_source_as(NULL, "postgresql://h/db", "../x", &s, &err), -1);
	assert_string_equal(err.msg, "source name '../x' is not usable in a repository path: use "
				     "letters, digits, '.', '_' and '-'");

	/* unsupported schemes: only the scheme is echoed, never the password */
	assert_int_equal(resolve_source(NULL, "http://u:hunter2@h/db", &s, &err), -1);
	assert_null(strstr(err.msg, "hunter2"));
	assert_string_equal(err.msg, "unsupported source URI scheme 'http://': use postgresql://, "
				     "postgres://, mysql:// or mariadb://");
	assert_int_equal(resolve_source(NULL, "host=h password=hunter2", &s, &err), -1);
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_int_equal(resolve_source(NULL, NULL, &s, &err), -1);
}

static void test_resolve_source_config(void **state)
{
	(void)state;
	char *pw = write_secret("hunter2\n", 0600);
	char *text = xasprintf("[source:appdb]\n"
			       "url = postgresql://backup@10.0.0.5/app\n"
			       "password-file = %s\n"
			       "[source:shop]\n"
			       "url = mysql://root@db/shop\n"
			       "name = shop-eu\n"
			       "[source:bad]\n"
			       "url = mysql://root@db/shop\n"
			       "name = a/b\n"
			       "[source:nopw]\n"
			       "url = postgresql://h/x\n"
			       "password-file = /nonexistent/pw\n",
			       pw);
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string(text, "s.conf", &c, &err), 0);

	source_spec s;
	assert_int_equal(resolve_source(c, "appdb", &s, &err), 0);
	assert_string_equal(s.name, "appdb");
	assert_string_equal(s.url, "postgresql://backup@10.0.0.5/app");
	assert_string_equal(s.password, "hunter2");
	assert_string_equal(s.engine->name, "postgresql");
	source_spec_free(&s);
	source_spec_free(&s); /* freeing twice is harmless: the spec was cleared */

	assert_int_equal(resolve_source(c, "shop", &s, &err), 0);
	assert_string_equal(s.name, "shop-eu");
	assert_string_equal(s.engine->name, "mysql");
	assert_null(s.password);
	source_spec_free(&s);

	assert_int_equal(resolve_source_as(c, "shop", "override", &s, &err), 0);
	assert_string_equal(s.name, "override");
	source_spec_free(&s);

	assert_int_equal(resolve_source(c, "bad", &s, &err), -1);
	assert_string_equal(err.msg, "s.conf:9: key 'name': source name 'a/b' is not usable in a "
				     "repository path: use letters, digits, '.', '_' and '-'");
	assert_int_equal(resolve_source(c, "nopw", &s, &err), -1);
	assert_string_equal(err.msg, "s.conf:12: key 'password-file': cannot open secret file "
				     "'/nonexistent/pw': No such file or directory");
	assert_int_equal(resolve_source(c, "nope", &s, &err), -1);
	assert_string_equal(err.msg, "unknown source 'nope': not a connection URI (postgresql://, "
				     "mysql://) and no [source:nope] in s.conf");
	assert_int_equal(err.exit_code, EXIT_USAGE);

	config_free(c);
	free(text);
	unlink(pw);
	free(pw);
}

/* daemon --id/--state-dir: a [global] key set over the file's, or a [global] made for it */
static void test_set_global(void **state)
{
	(void)state;
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(config_load_string("[global]\nstate-dir = /a\n[source:s]\nurl = postgresql://u@h/d\n[repo:r]\nurl = /r\n"
					    "[job:j]\nsource = s\nrepo = r\nschedule = @daily\nrun-on = eu\n",
					    "g.conf", &c, &err), 0);
	config_set_global(c, "state-dir", "/b");
	config_set_global(c, "daemon-id", "d1");
	assert_string_equal(config_get(config_find(c, "global", NULL), "state-dir"), "/b");
	assert_string_equal(config_get(config_find(c, "global", NULL), "daemon-id"), "d1");
	assert_string_equal(config_get(config_find(c, "job", "j"), "run-on"), "eu");
	config_free(c);
	assert_int_equal(config_load_string("[repo:r]\nurl = /r\n", "n.conf", &c, &err), 0);
	assert_null(config_find(c, "global", NULL));
	config_set_global(c, "state-dir", "/c");
	assert_string_equal(config_get(config_find(c, "global", NULL), "state-dir"), "/c");
	assert_non_null(config_find(c, "repo", "r"));
	config_free(c);
	/* the fleet keys are known; a typo of one is not */
	assert_int_equal(config_load_string("[global]\ncatalog = postgresql://x@h/db\ncatalog-lease = 30s\n"
					    "max-parallel-per-repo = 4\nmax-parallel-per-source = 2\ntags = a,b\n",
					    "f.conf", &c, &err), 0);
	config_free(c);
	c = NULL;
	assert_int_equal(config_load_string("[global]\ncatalog-leese = 30s\n", "f.conf", &c, &err), -1);
	config_free(c);
}

/* backupd.conf(5) is generated from the key tables: a new key needs its line in config_doc.c. */
static void test_every_key_documented(void **state)
{
	(void)state;
	config_key_info k;
	size_t n = 0;
	for (; config_key_at(n, &k) == 0; n++) {
		if (k.help == NULL)
			fail_msg("[%s] %s has no line in common/config_doc.c", k.section, k.key);
	}
	assert_true(n > 20);
	assert_int_equal(config_key_at(0, &k), 0);
	assert_string_equal(k.section, "global");
	assert_int_equal(k.named, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_comments_and_forms),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_bool_parse),
		cmocka_unit_test(test_resolve_repo_url),
		cmocka_unit_test(test_resolve_repo_config),
		cmocka_unit_test(test_resolve_source_uri),
		cmocka_unit_test(test_resolve_source_config),
		cmocka_unit_test(test_load_all),
		cmocka_unit_test(test_set_global),
		cmocka_unit_test(test_every_key_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "common/provision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/fsutil.h"
#include "common/lazylib.h"
#include "common/mem.h"
#include "common/secret.h"
#include "common/sha256.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int provision_password(char *out, bderr *err)
{
	size_t n = 0;
	if (lazy_crypto_load(err) < 0)
		return -1;
	while (n < PROVISION_PASSWORD_LEN) {
		unsigned char buf[64];
		if (RAND_bytes(buf, sizeof buf) != 1)
			return bderr_set(err, "cannot generate a password: the random number generator failed");
		for (size_t i = 0; i < sizeof buf && n < PROVISION_PASSWORD_LEN; i++)
			if (buf[i] < 248) /* 248 = 4 * 62: no bias */
				out[n++] = alphabet[buf[i] % 62];
		OPENSSL_cleanse(buf, sizeof buf);
	}
	out[n] = '\0';
	return 0;
}

static void append_encoded(strbuf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~')
			strbuf_append(b, p, 1);
		else
			strbuf_appendf(b, "%%%02X", *p);
	}
}

char *provision_env_line(const char *scheme, const char *user, const char *password, const char *host,
			 const char *port, const char *db, const char *socket_key, const char *socket)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "DATABASE_URL=%s://", scheme);
	append_encoded(&b, user);
	if (password) {
		strbuf_appends(&b, ":");
		append_encoded(&b, password);
	}
	strbuf_appends(&b, "@");
	if (host)
		append_encoded(&b, host);
	if (port && *port && !socket)
		strbuf_appendf(&b, ":%s", port);
	strbuf_appends(&b, "/");
	append_encoded(&b, db);
	if (socket) {
		strbuf_appendf(&b, "?%s=", socket_key);
		append_encoded(&b, socket);
		if (port && *port)
			strbuf_appendf(&b, "&port=%s", port);
	}
	strbuf_appends(&b, "\n");
	return strbuf_detach(&b);
}

/* SHA-256 of "backupd-provision:" salt ":" password, in hex (out: 65 bytes). */
static void salted_hash(const char *password, const char *salt, char *out)
{
	char *text = xasprintf("backupd-provision:%s:%s", salt, password);
	unsigned char md[SHA256_DIGEST_LEN];
	sha256_digest(text, strlen(text), md);
	secret_free(text);
	hex_encode(md, sizeof md, out);
	explicit_bzero(md, sizeof md);
}

int provision_fingerprint(const char *password, const char *salt, char out[PROVISION_FP_LEN + 1], bderr *err)
{
	char s[33];
	if (salt == NULL) {
		unsigned char b[16];
		if (lazy_crypto_load(err) < 0)
			return -1;
		if (RAND_bytes(b, sizeof b) != 1)
			return bderr_set(err, "cannot fingerprint the password: the random number generator failed");
		hex_encode(b, sizeof b, s);
	} else {
		snprintf(s, sizeof s, "%s", salt);
	}
	memcpy(out, s, 32);
	out[32] = ':';
	salted_hash(password, s, out + 33);
	return 0;
}

int provision_fingerprint_match(const char *password, const char *fp)
{
	if (strlen(fp) != PROVISION_FP_LEN || fp[32] != ':')
		return 0;
	char salt[33], want[64 + 1];
	memcpy(salt, fp, 32);
	salt[32] = '\0';
	salted_hash(password, salt, want);
	return CRYPTO_memcmp(want, fp + 33, 64) == 0;
}

/*
 * A small file of ours (at most 64 KiB read: an env file or a record is a
 * few lines) into *out, or *out NULL when there is none.  A secret's buffers
 * are wiped.  what names it in errors.
 */
static int read_small(const char *path, int flags, const char *what, int secret, char **out, bderr *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return bderr_sys(err, errno, "cannot read the %s '%s'", what, path);
	strbuf b;
	strbuf_init(&b);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 && b.len < 65536)
		strbuf_append(&b, buf, (size_t)n);
	int e = errno;
	close(fd);
	char *text = strbuf_detach(&b);
	if (secret)
		explicit_bzero(buf, sizeof buf);
	if (n < 0) {
		if (secret)
			secret_free(text);
		else
			free(text);
		return bderr_sys(err, e, "cannot read the %s '%s'", what, path);
	}
	*out = text;
	return 0;
}

int provision_env_password(const char *path, const char *scheme, const char *user, char **password, bderr *err)
{
	*password = NULL;
	char *text = NULL;
	if (read_small(path, 0, "env file", 1, &text, err) < 0)
		return -1;
	if (text == NULL)
		return 0;
	strbuf pre;
	strbuf_init(&pre);
	strbuf_appendf(&pre, "DATABASE_URL=%s://", scheme);
	append_encoded(&pre, user);
	strbuf_appends(&pre, ":");
	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		if (len > pre.len && strncmp(line, pre.data, pre.len) == 0) {
			const char *pw = line + pre.len;
			size_t pl = strcspn(pw, "@\n");
			if (pw[pl] == '@' && pl > 0)
				*password = xstrndup(pw, pl);
			break;
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	strbuf_free(&pre);
	secret_free(text);
	return 0;
}

struct env_file {
	char *path;
	char *content; /* holds the password: written out only at commit */
};

/* The temporary file beside path: this process's own name for it. */
static char *tmp_path(const char *path)
{
	return xasprintf("%s.tmp.%ld", path, (long)getpid());
}

/* O_EXCL and O_NOFOLLOW: an existing file or a planted link at tmp is never written through. */
static int create_tmp(const char *tmp, const char *path, bderr *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return bderr_sys(err, errno, "cannot write the env file '%s'", path);
	return fd;
}

int env_file_prepare(const char *path, const char *content, env_file **out, bderr *err)
{
	/*
	 * The place is proven writable now, before anything is created, but
	 * the password is written only at commit: a run killed (SIGKILL,
	 * SIGTERM) before then leaves no file holding it.
	 */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return bderr_usage(err, "cannot write the env file '%s': it exists and is not a regular file", path);
	char *tmp = tmp_path(path);
	int fd = create_tmp(tmp, path, err);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	if (fd < 0)
		return -1;
	env_file *f = xcalloc(1, sizeof *f);
	f->path = xstrdup(path);
	f->content = xstrdup(content);
	*out = f;
	return 0;
}

int env_file_commit(env_file *f, bderr *err)
{
	char *tmp = tmp_path(f->path);
	int fd = create_tmp(tmp, f->path, err);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	int placed = 0;
	int rc = fd_write_all(fd, f->content, strlen(f->content), f->path, err);
	if (rc == 0)
		rc = file_commit_atomic(&fd, tmp, f->path, 0, &placed, err);
	if (fd >= 0)
		close(fd);
	if (!placed)
		unlink(tmp);
	free(tmp);
	return rc;
}

void env_file_abort(env_file *f)
{
	if (f == NULL)
		return;
	secret_free(f->content);
	free(f->path);
	free(f);
}

/* ---- the pending record ---- */

char *provision_pending_path(const char *env_path)
{
	return xasprintf("%s.pending", env_path);
}

/* Its lines but the fingerprint's: what names the provisioning (percent-encoded, one per line). */
static char *pending_head(const char *server, const char *db, const char *account)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "# backupd: a provisioning in progress (no secret here); removed when it ends\nserver=");
	append_encoded(&b, server);
	strbuf_appends(&b, "\ndatabase=");
	append_encoded(&b, db);
	strbuf_appends(&b, "\naccount=");
	append_encoded(&b, account);
	strbuf_appends(&b, "\n");
	return strbuf_detach(&b);
}

/* The state line of a record whose database is complete (provision_pending_write_complete). */
#define PENDING_COMPLETE "state=database-complete"

static int pending_write(const char *env_path, const char *server, const char *db, const char *account,
			 const char *state, const char *fp, const char *fp2, bderr *err)
{
	char *head = pending_head(server, db, account);
	char *content = xasprintf("%s%s%scredential=%s\n%s%s%s", head, state ? state : "", state ? "\n" : "", fp,
				  fp2 ? "credential=" : "", fp2 ? fp2 : "", fp2 ? "\n" : "");
	char *path = provision_pending_path(env_path);
	/* file_write_atomic: a temporary file, fsynced, renamed over the record, the directory fsynced */
	int rc = file_write_atomic(path, NULL, content, strlen(content), err);
	free(path);
	free(content);
	free(head);
	return rc;
}

int provision_pending_write(const char *env_path, const char *server, const char *db, const char *account,
			    const char *fingerprint, bderr *err)
{
	return pending_write(env_path, server, db, account, NULL, fingerprint, NULL, err);
}

int provision_pending_write_complete(const char *env_path, const char *server, const char *db, const char *account,
				     const char *fingerprint, const char *fingerprint2, bderr *err)
{
	return pending_write(env_path, server, db, account, PENDING_COMPLETE, fingerprint, fingerprint2, err);
}

/* The record's text, or *out NULL when there is none. */
static int pending_read(const char *path, char **out, bderr *err)
{
	return read_small(path, O_NOFOLLOW, "provisioning record", 0, out, err);
}

int provision_pending_check(const char *env_path, const char *server, const char *db, const char *account,
			    const char *fingerprint, provision_pending_state *state, char **other, bderr *err)
{
	*state = PROVISION_PENDING_NONE;
	if (other)
		*other = NULL;
	char *path = provision_pending_path(env_path);
	char *text = NULL;
	int rc = pending_read(path, &text, err);
	free(path);
	if (rc != 0 || text == NULL)
		return rc;
	char *head = pending_head(server, db, account);
	size_t hl = strlen(head);
	if (strncmp(text, head, hl) != 0) {
		*state = PROVISION_PENDING_OTHER;
		if (other) {
			/* its server, database and account, on one line */
			strbuf b;
			strbuf_init(&b);
			for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
				size_t len = strcspn(line + 1, "\n");
				if (strncmp(line + 1, "credential=", 11) != 0)
					strbuf_appendf(&b, "%s%.*s", b.len ? " " : "", (int)len, line + 1);
			}
			*other = strbuf_detach(&b);
		}
	} else {
		/* the lines after the head: an optional state, one or two credentials */
		int ours = 0, complete = 0;
		size_t want = fingerprint ? strlen(fingerprint) : 0;
		for (const char *line = text + hl; *line;) {
			size_t len = strcspn(line, "\n");
			if (len == strlen(PENDING_COMPLETE) && strncmp(line, PENDING_COMPLETE, len) == 0)
				complete = 1;
			else if (fingerprint && len == 11 + want && strncmp(line, "credential=", 11) == 0 &&
				 strncmp(line + 11, fingerprint, want) == 0)
				ours = 1;
			line += len;
			if (*line == '\n')
				line++;
		}
		*state = !ours ? PROVISION_PENDING_SAME : complete ? PROVISION_PENDING_COMPLETE : PROVISION_PENDING_OURS;
	}
	free(head);
	free(text);
	return 0;
}

int provision_pending_remove(const char *env_path, bderr *err)
{
	char *path = provision_pending_path(env_path);
	int rc = 0;
	if (unlink(path) != 0 && errno != ENOENT) {
		rc = bderr_sys(err, errno, "cannot remove the provisioning record '%s'", path);
	} else {
		char *dir = path_dirname(path);
		rc = fsync_dir(dir, err);
		free(dir);
	}
	free(path);
	return rc;
}

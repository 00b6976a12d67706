#include "common/provision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/fsutil.h"
#include "common/mem.h"
#include "common/secret.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int provision_password(char *out, bderr *err)
{
	size_t n = 0;
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


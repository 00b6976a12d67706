#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

/* Keys, tokens and passwords are short; a large file is the wrong file. */
#define SECRET_MAX_BYTES (64 * 1024)

/*
 * A secret file that cannot be used is the operator's setup to fix, like a
 * bad config line: exit 2, but keep errno for callers that look at it.
 */
static int secret_error(bderr *err, int errnum, const char *path, const char *what)
{
	bderr_usage(err, "cannot %s secret file '%s': %s", what, path, strerror(errnum));
	err->sys_errno = errnum;
	return -1;
}

int secret_check_mode(const char *path, const struct stat *st, bderr *err)
{
	if (!S_ISREG(st->st_mode))
		return bderr_usage(err, "secret file '%s' is not a regular file", path);
	if (st->st_mode & 077)
		return bderr_usage(err,
				   "secret file '%s' must not be accessible by group or others (mode %04o): chmod 600 '%s'",
				   path, (unsigned)(st->st_mode & 07777), path);
	return 0;
}

/*
 * one_line: a password, key id or token, which never holds a line end.  A
 * second line means the operator named the wrong file (a config, a key
 * pair, an env file), and sending it whole as the password only fails later
 * as "authentication failed" with nothing pointing at the file.
 */
static int read_secret(const char *path, int one_line, char **out, bderr *err)
{
	*out = NULL;
	/*
	 * Symlinks are followed (secrets are often links into a mounted
	 * volume); what is checked is the target, through fstat on the open
	 * descriptor so that the file checked is the file read.  O_NONBLOCK
	 * keeps a FIFO planted at the path from hanging us before the check.
	 */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return secret_error(err, errno, path, "open");
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return secret_error(err, e, path, "stat");
	}
	/*
	 * Only the user backupd runs as may own it (root included: root reads a
	 * secret of its own, not one another account can rewrite): whoever owns
	 * the file can replace the password, key or token with their own.
	 */
	if (S_ISREG(st.st_mode) && st.st_uid != geteuid()) {
		close(fd);
		return bderr_usage(err,
				   "secret file '%s' is owned by uid %u, not by the user backupd runs as (uid %u): chown it to that user",
				   path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (secret_check_mode(path, &st, err) != 0) {
		close(fd);
		return -1;
	}
	if (st.st_size > SECRET_MAX_BYTES) {
		close(fd);
		return bderr_usage(err, "secret file '%s' is too large (%lld bytes, at most %d)", path,
				   (long long)st.st_size, SECRET_MAX_BYTES);
	}

	/* one byte more than allowed, to notice a file that grew after fstat */
	size_t cap = SECRET_MAX_BYTES + 1;
	char *buf = xmalloc(cap);
	size_t len = 0;
	int rc = -1;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bderr_sys(err, errno, "cannot read secret file '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			bderr_usage(err, "secret file '%s' is too large (at most %d bytes)", path,
				    SECRET_MAX_BYTES);
			goto out;
		}
	}

	size_t keep = len;
	/* a line end after a one-line secret cannot be part of it: empty lines after it go too */
	do {
		if (keep > 0 && buf[keep - 1] == '\n') {
			keep--;
			if (keep > 0 && buf[keep - 1] == '\r')
				keep--;
		}
	} while (one_line && keep > 0 && buf[keep - 1] == '\n');
	if (keep == 0) {
		bderr_usage(err, "secret file '%s' is empty", path);
		goto out;
	}
	/* named by the file and the line only: the content is a secret, even the wrong one */
	const char *nl = one_line ? memchr(buf, '\n', keep) : NULL;
	if (nl != NULL) {
		bderr_usage(err, "secret file '%s' has more than one line (a password, key id or "
				 "token is one line): is it the right file?",
			    path);
		goto out;
	}
	/* a NUL would silently cut the secret short when used as a C string */
	if (memchr(buf, '\0', keep)) {
		bderr_usage(err, "secret file '%s' contains a NUL byte", path);
		goto out;
	}
	*out = xstrndup(buf, keep);
	rc = 0;
out:
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return rc;
}

int secret_read_file(const char *path, char **out, bderr *err)
{
	return read_secret(path, 1, out, err);
}

int secret_read_key_file(const char *path, char **out, bderr *err)
{
	/*
	 * A key file is read whole, as it always was: its bytes are the key
	 * material, and a passphrase base64 wrapped over two lines keeps its
	 * repository readable only if its second line stays part of it.
	 */
	if (read_secret(path, 0, out, err) < 0)
		return -1;
	size_t n = strlen(*out);
	if (n >= SECRET_KEY_MIN)
		return 0;
	secret_free(*out);
	*out = NULL;
	return bderr_usage(err,
			   "encryption key file '%s' holds %zu bytes: at least %d are required (e.g. (umask 077; head -c 48 /dev/urandom | base64 > FILE))",
			   path, n, SECRET_KEY_MIN);
}

void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void secret_scrub(char *m, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	if (n == 0)
		return;
	for (char *p = strstr(m, secret); p; p = strstr(p + 3, secret)) {
		memmove(p + 3, p + n, strlen(p + n) + 1);
		memcpy(p, "***", 3);
	}
}

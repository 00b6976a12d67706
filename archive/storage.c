#include "archive/storage.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive/posix/posix.h"
#include "archive/s3/s3.h"
#include "common/mem.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* file:// URLs may percent-encode characters (a space as %20). */
static int percent_decode(const char *in, char **out)
{
	char *o = xmalloc(strlen(in) + 1);
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (*p != '%') {
			o[n++] = *p;
			continue;
		}
		int hi = hexval((unsigned char)p[1]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(o);
			return -1;
		}
		o[n++] = (char)(hi * 16 + lo);
		p += 2;
	}
	o[n] = '\0';
	*out = o;
	return 0;
}

/* "scheme://" with an RFC 3986 scheme: anything else is a plain path. */
static int has_scheme(const char *url)
{
	const char *p = url;
	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return strncmp(p, "://", 3) == 0;
}

int storage_open(const char *url, const storage_options *opts, storage **out, bderr *err)
{
	storage *s = NULL;
	*out = NULL;
	if (url == NULL || *url == '\0')
		return bderr_usage(err, "empty repository url");
	if (strncmp(url, "file://", 7) == 0) {
		const char *rest = url + 7;
		char *path;
		if (strncmp(rest, "localhost/", 10) == 0)
			rest += 9;
		if (*rest != '/')
			return bderr_usage(err, "invalid repository url '%s': expected file:///absolute/path",
					   url);
		if (percent_decode(rest, &path) < 0)
			return bderr_usage(err, "invalid repository url '%s': bad percent-encoding", url);
		int rc = posix_storage_new(path, &s, err);
		free(path);
		if (rc < 0)
			return -1;
	} else if (strncmp(url, "s3://", 5) == 0) {
		if (s3_storage_new(url, opts, &s, err) < 0)
			return -1;
	} else if (has_scheme(url)) {
		return bderr_usage(err, "unsupported repository url '%s': use a path, file:///path or s3://bucket/prefix",
				   url);
	} else if (posix_storage_new(url, &s, err) < 0) {
		return -1;
	}
	/* messages name the repository the way the operator wrote it */
	free(s->url);
	s->url = xstrdup(url);
	*out = s;
	return 0;
}

int storage_open_read(storage *s, const char *path, reader **out, bderr *err)
{
	*out = NULL;
	return s->driver->open_read(s, path, out, err);
}

int storage_open_write(storage *s, const char *path, writer **out, bderr *err)
{
	*out = NULL;
	return s->driver->open_write(s, path, out, err);
}

int storage_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	return s->driver->list(s, prefix ? prefix : "", cb, ctx, err);
}

int storage_remove(storage *s, const char *path, bderr *err)
{
	return s->driver->remove(s, path, err);
}

int storage_remove_many(storage *s, const char *const *paths, size_t n, bderr *err)
{
	if (n == 0)
		return 0;
	if (s->driver->remove_many)
		return s->driver->remove_many(s, paths, n, err);
	for (size_t i = 0; i < n; i++)
		if (s->driver->remove(s, paths[i], err) != 0)
			return -1;
	return 0;
}

int storage_info_get(storage *s, const char *path, storage_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	return s->driver->info(s, path, out, err);
}

int storage_put_new(storage *s, const char *path, const void *data, size_t len, bderr *err)
{
	return s->driver->put_new(s, path, data, len, err);
}

int storage_sweep(storage *s, const char *prefix, time_t older_than, size_t *removed,
		  bderr *err)
{
	*removed = 0;
	if (s->driver->sweep == NULL)
		return 0;
	return s->driver->sweep(s, prefix ? prefix : "", older_than, removed, err);
}

void storage_free(storage *s)
{
	if (s)
		s->driver->free(s);
}

int storage_put(storage *s, const char *path, const void *data, size_t len, bderr *err)
{
	writer *w;
	if (storage_open_write(s, path, &w, err) < 0)
		return -1;
	int rc = writer_write(w, data, len, err);
	if (rc == 0)
		rc = writer_close(w, err);
	writer_free(w);
	return rc;
}

int storage_get(storage *s, const char *path, char **data, size_t *len, size_t max, bderr *err)
{
	reader *r;
	*data = NULL;
	*len = 0;
	if (storage_open_read(s, path, &r, err) < 0)
		return -1;
	int rc = reader_read_all(r, data, len, max, err);
	reader_free(r);
	if (rc < 0 && err->sys_errno == EFBIG)
		bderr_set(err, "'%s' is larger than %zu bytes", path, max);
	return rc;
}

int storage_path_check(const char *where, const char *path, int is_prefix, bderr *err)
{
	const char *p = path;
	if (*path == '\0' && !is_prefix)
		return bderr_set(err, "invalid path '' in '%s'", where);
	if (*path == '/')
		return bderr_set(err, "invalid path '%s' in '%s': must be relative", path, where);
	for (;;) {
		const char *slash = strchr(p, '/');
		if (slash == NULL && is_prefix)
			return 0;
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return bderr_set(err, "invalid path '%s' in '%s': empty component", path, where);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return bderr_set(err, "invalid path '%s' in '%s': '.' and '..' are not allowed",
					 path, where);
		if (slash == NULL)
			return 0;
		p = slash + 1;
	}
}

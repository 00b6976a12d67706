#include "archive/s3/xml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <openssl/crypto.h>

#include "common/lazylib.h"
#include "common/mem.h"
#include "common/secret.h"

/* Deeper than any answer S3 or STS sends: a deeper document is not one of them. */
#define DEPTH_MAX 16

/*
 * The engine: expat walks the document, keeping the path of local names;
 * each element's own text is collected and handed to the kind's callback
 * when the element ends.  Text of elements with children is not kept.
 */
typedef struct xml_walk {
	XML_Parser p;
	const char *path[DEPTH_MAX];
	char *names[DEPTH_MAX];
	int depth;
	strbuf text;
	int refused; /* a DTD, or too deep */
	const char *why;
	/* the element (depth >= 1, path[0..depth-1]) ended with its text */
	void (*on_end)(struct xml_walk *w, const char *text);
	/* an element opens (path already includes it) */
	void (*on_start)(struct xml_walk *w);
	void *ctx;
} xml_walk;

static const char *local_name(const char *name)
{
	/* XML_ParserCreateNS gives "uri|local" for namespaced names */
	const char *bar = strrchr(name, '|');
	return bar ? bar + 1 : name;
}

static void walk_refuse(xml_walk *w, const char *why)
{
	if (!w->refused) {
		w->refused = 1;
		w->why = why;
		XML_StopParser(w->p, XML_FALSE);
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	xml_walk *w = ud;
	if (w->refused)
		return;
	if (w->depth >= DEPTH_MAX) {
		walk_refuse(w, "nested too deeply");
		return;
	}
	w->names[w->depth] = xstrdup(local_name(name));
	w->path[w->depth] = w->names[w->depth];
	w->depth++;
	strbuf_reset(&w->text);
	if (w->on_start)
		w->on_start(w);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	(void)name;
	xml_walk *w = ud;
	if (w->refused || w->depth == 0)
		return;
	strbuf_appends(&w->text, "");
	w->on_end(w, w->text.data);
	strbuf_reset(&w->text);
	w->depth--;
	free(w->names[w->depth]);
	w->names[w->depth] = NULL;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	xml_walk *w = ud;
	if (!w->refused && len > 0)
		strbuf_append(&w->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	/* S3 never sends one; refusing it rules out every entity trick */
	walk_refuse(ud, "a DTD is not accepted");
}

/* Is the current path, from the root, exactly these names? (NULL-terminated) */
static int at(const xml_walk *w, const char *const *names)
{
	int i = 0;
	for (; names[i]; i++)
		if (i >= w->depth || strcmp(w->path[i], names[i]) != 0)
			return 0;
	return i == w->depth;
}

/* The current element's name and its parent's (NULL at the root). */
static const char *cur(const xml_walk *w)
{
	return w->depth ? w->path[w->depth - 1] : "";
}

static int walk(const char *buf, size_t len, xml_walk *w, bderr *err)
{
	/* a missing libexpat is one line naming its package, not the abort below */
	if (lazy_expat_load(err) < 0)
		return -1;
	w->p = XML_ParserCreateNS(NULL, '|');
	if (w->p == NULL)
		abort(); /* fails only without memory */
	strbuf_init(&w->text);
	XML_SetUserData(w->p, w);
	XML_SetElementHandler(w->p, on_start, on_end);
	XML_SetCharacterDataHandler(w->p, on_text);
	XML_SetStartDoctypeDeclHandler(w->p, on_doctype);
	int rc = 0;
	if (len > (size_t)INT32_MAX) {
		rc = bderr_set(err, "malformed XML: answer too large");
	} else if (XML_Parse(w->p, buf ? buf : "", (int)len, XML_TRUE) != XML_STATUS_OK ||
		   w->refused) {
		if (w->refused)
			rc = bderr_set(err, "malformed XML: %s", w->why);
		else
			rc = bderr_set(err, "malformed XML: %s at line %lu",
				       XML_ErrorString(XML_GetErrorCode(w->p)),
				       (unsigned long)XML_GetCurrentLineNumber(w->p));
	}
	for (int i = 0; i < DEPTH_MAX; i++)
		free(w->names[i]);
	if (w->text.data)
		OPENSSL_cleanse(w->text.data, w->text.cap); /* may have held a secret */
	strbuf_free(&w->text);
	XML_ParserFree(w->p);
	return rc;
}

static void set_once(char **dst, const char *text)
{
	if (*dst == NULL)
		*dst = xstrdup(text);
}


/* --- error documents ------------------------------------------------------ */

static void error_end(xml_walk *w, const char *text)
{
	s3_xml_error *e = w->ctx;
	static const char *const s3_code[] = { "Error", "Code", NULL };
	static const char *const s3_msg[] = { "Error", "Message", NULL };
	static const char *const sts_code[] = { "ErrorResponse", "Error", "Code", NULL };
	static const char *const sts_msg[] = { "ErrorResponse", "Error", "Message", NULL };
	if (at(w, s3_code) || at(w, sts_code))
		set_once(&e->code, text);
	else if (at(w, s3_msg) || at(w, sts_msg))
		set_once(&e->message, text);
}

int s3_xml_parse_error(const char *buf, size_t len, s3_xml_error *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	xml_walk w = { .on_end = error_end, .ctx = out };
	if (walk(buf, len, &w, err) < 0) {
		s3_xml_error_clear(out);
		return -1;
	}
	return 0;
}

void s3_xml_error_clear(s3_xml_error *e)
{
	free(e->code);
	free(e->message);
	memset(e, 0, sizeof *e);
}

/* --- ListObjectsV2 -------------------------------------------------------- */

typedef struct list_ctx {
	s3_xml_list *l;
	size_t cap;
	char *key;
	char *size;
	int bad;
} list_ctx;

static void list_start(xml_walk *w)
{
	list_ctx *c = w->ctx;
	if (w->depth == 2 && strcmp(cur(w), "Contents") == 0) {
		free(c->key);
		free(c->size);
		c->key = c->size = NULL;
	}
}

static void list_end(xml_walk *w, const char *text)
{
	list_ctx *c = w->ctx;
	s3_xml_list *l = c->l;
	if (w->depth < 1 || strcmp(w->path[0], "ListBucketResult") != 0)
		return;
	if (w->depth == 3 && strcmp(w->path[1], "Contents") == 0) {
		if (strcmp(cur(w), "Key") == 0)
			set_once(&c->key, text);
		else if (strcmp(cur(w), "Size") == 0)
			set_once(&c->size, text);
	} else if (w->depth == 2 && strcmp(cur(w), "Contents") == 0) {
		char *endp = NULL;
		errno = 0;
		unsigned long long v = c->size ? strtoull(c->size, &endp, 10) : 0;
		if (c->key == NULL || c->size == NULL || endp == c->size || *endp != '\0' ||
		    errno || c->size[0] == '-') {
			c->bad = 1;
			walk_refuse(w, "a <Contents> entry without a Key or a valid Size");
			return;
		}
		if (l->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			l->objects = xrealloc(l->objects, c->cap * sizeof *l->objects);
		}
		l->objects[l->n].key = c->key;
		l->objects[l->n].size = (uint64_t)v;
		l->n++;
		c->key = NULL;
	} else if (w->depth == 2 && strcmp(cur(w), "IsTruncated") == 0) {
		l->truncated = strcmp(text, "true") == 0;
	} else if (w->depth == 2 && strcmp(cur(w), "NextContinuationToken") == 0) {
		set_once(&l->next_token, text);
	}
}

int s3_xml_parse_list(const char *buf, size_t len, s3_xml_list *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	list_ctx c = { .l = out };
	xml_walk w = { .on_start = list_start, .on_end = list_end, .ctx = &c };
	int rc = walk(buf, len, &w, err);
	free(c.key);
	free(c.size);
	if (rc == 0 && out->truncated && out->next_token == NULL)
		rc = bderr_set(err, "malformed XML: truncated without a continuation token");
	if (rc < 0)
		s3_xml_list_clear(out);
	return rc;
}

void s3_xml_list_clear(s3_xml_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->objects[i].key);
	free(l->objects);
	free(l->next_token);
	memset(l, 0, sizeof *l);
}

/* --- CreateMultipartUpload -------------------------------------------------- */

static void upload_end(xml_walk *w, const char *text)
{
	static const char *const path[] = { "InitiateMultipartUploadResult", "UploadId", NULL };
	if (at(w, path))
		set_once(w->ctx, text);
}

int s3_xml_parse_upload_id(const char *buf, size_t len, char **upload_id, bderr *err)
{
	*upload_id = NULL;
	xml_walk w = { .on_end = upload_end, .ctx = upload_id };
	int rc = walk(buf, len, &w, err);
	if (rc == 0 && (*upload_id == NULL || **upload_id == '\0'))
		rc = bderr_set(err, "malformed XML: no UploadId");
	if (rc < 0) {
		free(*upload_id);
		*upload_id = NULL;
	}
	return rc;
}

/* --- DeleteObjects ------------------------------------------------------------ */

static void delete_end(xml_walk *w, const char *text)
{
	s3_xml_delete *d = w->ctx;
	if (w->depth < 2 || strcmp(w->path[0], "DeleteResult") != 0 ||
	    strcmp(w->path[1], "Error") != 0)
		return;
	if (w->depth == 2) {
		d->nerrors++;
	} else if (w->depth == 3 && d->nerrors == 0) {
		/* inside the first <Error> (counted when it ends) */
		if (strcmp(cur(w), "Key") == 0)
			set_once(&d->key, text);
		else if (strcmp(cur(w), "Code") == 0)
			set_once(&d->code, text);
		else if (strcmp(cur(w), "Message") == 0)
			set_once(&d->message, text);
	}
}

int s3_xml_parse_delete(const char *buf, size_t len, s3_xml_delete *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	xml_walk w = { .on_end = delete_end, .ctx = out };
	if (walk(buf, len, &w, err) < 0) {
		s3_xml_delete_clear(out);
		return -1;
	}
	return 0;
}

void s3_xml_delete_clear(s3_xml_delete *d)
{
	free(d->key);
	free(d->code);
	free(d->message);
	memset(d, 0, sizeof *d);
}

/* --- STS ---------------------------------------------------------------------- */

static void sts_end(xml_walk *w, const char *text)
{
	sts_xml_credentials *c = w->ctx;
	/* <ActionResponse><ActionResult><Credentials>, for either action */
	static const char *const base[2][3] = {
		{ "AssumeRoleWithWebIdentityResponse", "AssumeRoleWithWebIdentityResult", "Credentials" },
		{ "AssumeRoleResponse", "AssumeRoleResult", "Credentials" },
	};
	if (w->depth != 4)
		return;
	int match = 0;
	for (int k = 0; k < 2 && !match; k++)
		match = strcmp(w->path[0], base[k][0]) == 0 && strcmp(w->path[1], base[k][1]) == 0 &&
			strcmp(w->path[2], base[k][2]) == 0;
	if (!match)
		return;
	const char *n = cur(w);
	if (strcmp(n, "AccessKeyId") == 0)
		set_once(&c->access_key_id, text);
	else if (strcmp(n, "SecretAccessKey") == 0)
		set_once(&c->secret_access_key, text);
	else if (strcmp(n, "SessionToken") == 0)
		set_once(&c->session_token, text);
	else if (strcmp(n, "Expiration") == 0)
		set_once(&c->expiration, text);
}

int sts_xml_parse_credentials(const char *buf, size_t len, sts_xml_credentials *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	xml_walk w = { .on_end = sts_end, .ctx = out };
	int rc = walk(buf, len, &w, err);
	if (rc == 0 && (!out->access_key_id || !*out->access_key_id || !out->secret_access_key ||
			!*out->secret_access_key || !out->session_token || !out->expiration))
		rc = bderr_set(err, "malformed XML: no complete <Credentials>");
	if (rc < 0)
		sts_xml_credentials_clear(out);
	return rc;
}

void sts_xml_credentials_clear(sts_xml_credentials *c)
{
	free(c->access_key_id);
	secret_free(c->secret_access_key);
	secret_free(c->session_token);
	free(c->expiration);
	memset(c, 0, sizeof *c);
}

/* --- writing -------------------------------------------------------------------- */

void s3_xml_escape(strbuf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': strbuf_appends(out, "&amp;"); break;
		case '<': strbuf_appends(out, "&lt;"); break;
		case '>': strbuf_appends(out, "&gt;"); break;
		case '"': strbuf_appends(out, "&quot;"); break;
		default:
			/* characters XML 1.0 would normalize become references */
			if (c < 0x20 || c == '\'')
				strbuf_appendf(out, "&#%u;", c);
			else
				strbuf_append(out, s, 1);
		}
	}
}

#include "archive/s3/sigv4.h"

#include "archive/filter.h"
#include "common/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>


void sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_uri_encode(strbuf *out, const char *s, int keep_slash)
{
	static const char up[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			strbuf_append(out, p, 1);
		} else {
			char e[3] = { '%', up[*p >> 4], up[*p & 15] };
			strbuf_append(out, e, 3);
		}
	}
}

typedef struct enc_pair {
	char *name;
	char *value;
} enc_pair;

static int cmp_enc_pair(const void *a, const void *b)
{
	const enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_one(const char *s)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "");
	sigv4_uri_encode(&b, s ? s : "", 0);
	return strbuf_detach(&b);
}

char *sigv4_canonical_query(const sigv4_pair *query, size_t n)
{
	enc_pair *e = xcalloc(n ? n : 1, sizeof *e);
	for (size_t i = 0; i < n; i++) {
		e[i].name = encode_one(query[i].name);
		e[i].value = encode_one(query[i].value);
	}
	/* sorted by code point of the encoded form, as the specification says */
	qsort(e, n, sizeof *e, cmp_enc_pair);
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "");
	for (size_t i = 0; i < n; i++) {
		strbuf_appendf(&b, "%s%s=%s", i ? "&" : "", e[i].name, e[i].value);
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
	return strbuf_detach(&b);
}

/* Lowercase name; value trimmed with inner runs of spaces collapsed. */
static enc_pair canonical_header(const sigv4_pair *h)
{
	enc_pair c;
	c.name = xstrdup(h->name);
	for (char *p = c.name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *v = h->value ? h->value : "";
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "");
	while (*v == ' ' || *v == '\t')
		v++;
	int space = 0;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && b.len)
			strbuf_append(&b, " ", 1);
		space = 0;
		strbuf_append(&b, v, 1);
	}
	c.value = strbuf_detach(&b);
	return c;
}

static int cmp_header(const void *a, const void *b)
{
	return strcmp(((const enc_pair *)a)->name, ((const enc_pair *)b)->name);
}

char *sigv4_canonical_request(const sigv4_request *r, char **signed_headers)
{
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "%s\n", r->method);
	sigv4_uri_encode(&b, r->path && *r->path ? r->path : "/", 1);
	char *q = sigv4_canonical_query(r->query, r->nquery);
	strbuf_appendf(&b, "\n%s\n", q);
	free(q);

	enc_pair *h = xcalloc(r->nheaders ? r->nheaders : 1, sizeof *h);
	for (size_t i = 0; i < r->nheaders; i++)
		h[i] = canonical_header(&r->headers[i]);
	qsort(h, r->nheaders, sizeof *h, cmp_header);
	strbuf sh;
	strbuf_init(&sh);
	strbuf_appends(&sh, "");
	for (size_t i = 0; i < r->nheaders; i++) {
		strbuf_appendf(&b, "%s:%s\n", h[i].name, h[i].value);
		strbuf_appendf(&sh, "%s%s", i ? ";" : "", h[i].name);
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	strbuf_appendf(&b, "\n%s\n%s", sh.data, r->payload_hash);
	*signed_headers = strbuf_detach(&sh);
	return strbuf_detach(&b);
}

char *sigv4_string_to_sign(const sigv4_scope *sc, const char *canonical_request)
{
	char h[65];
	sha256_hex(canonical_request, strlen(canonical_request), h);
	return xasprintf("AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", sc->amz_date,
			 sc->amz_date, sc->region, sc->service, h);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

void sigv4_signing_key(const sigv4_scope *sc, unsigned char key[32])
{
	char *k = xasprintf("AWS4%s", sc->secret_access_key);
	char date[9];
	unsigned char a[32], b[32];
	memcpy(date, sc->amz_date, 8);
	date[8] = '\0';
	hmac(k, strlen(k), date, a);
	hmac(a, 32, sc->region, b);
	hmac(b, 32, sc->service, a);
	hmac(a, 32, "aws4_request", key);
	/* k holds the secret */
	OPENSSL_cleanse(k, strlen(k));
	OPENSSL_cleanse(a, sizeof a);
	OPENSSL_cleanse(b, sizeof b);
	free(k);
}

void sigv4_signature(const sigv4_scope *sc, const char *string_to_sign, char out[65])
{
	unsigned char key[32], sig[32];
	sigv4_signing_key(sc, key);
	hmac(key, 32, string_to_sign, sig);
	OPENSSL_cleanse(key, sizeof key);
	hex_encode(sig, 32, out);
}

char *sigv4_authorization(const sigv4_request *r, const sigv4_scope *sc)
{
	char *signed_headers;
	char *creq = sigv4_canonical_request(r, &signed_headers);
	char *sts = sigv4_string_to_sign(sc, creq);
	char sig[65];
	sigv4_signature(sc, sts, sig);
	char *auth = xasprintf("AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
			       "SignedHeaders=%s, Signature=%s",
			       sc->access_key_id, sc->amz_date, sc->region, sc->service,
			       signed_headers, sig);
	free(signed_headers);
	free(creq);
	free(sts);
	return auth;
}

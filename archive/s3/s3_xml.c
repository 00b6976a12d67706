#include "archive/s3/s3_xml.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/*
 * A minimal reader: S3's answers are flat enough that "the text between
 * <tag> and </tag>" is all the driver needs (no attributes, no nesting of
 * the same tag).
 */

static void xml_decode(strbuf *out, const char *p, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' } };
	const char *end = p + n;
	while (p < end) {
		if (*p != '&') {
			strbuf_append(out, p, 1);
			p++;
			continue;
		}
		size_t rest = (size_t)(end - p - 1);
		int done = 0;
		for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
			size_t el = strlen(ents[i].ent);
			if (rest >= el && memcmp(p + 1, ents[i].ent, el) == 0) {
				strbuf_append(out, &ents[i].c, 1);
				p += 1 + el;
				done = 1;
				break;
			}
		}
		if (!done && rest >= 2 && p[1] == '#') {
			const char *q = p + 2;
			int base = 10;
			if (q < end && (*q == 'x' || *q == 'X')) {
				base = 16;
				q++;
			}
			unsigned long cp = 0;
			const char *digits = q;
			while (q < end && isxdigit((unsigned char)*q) && cp <= 0x10FFFF) {
				int d = isdigit((unsigned char)*q) ? *q - '0'
								   : tolower((unsigned char)*q) - 'a' + 10;
				if (d >= base)
					break;
				cp = cp * (unsigned long)base + (unsigned long)d;
				q++;
			}
			if (q < end && *q == ';' && q > digits && cp > 0 && cp <= 0x10FFFF) {
				/* UTF-8, as S3 keys are */
				unsigned char u[4];
				size_t ul;
				if (cp < 0x80) {
					u[0] = (unsigned char)cp;
					ul = 1;
				} else if (cp < 0x800) {
					u[0] = (unsigned char)(0xC0 | (cp >> 6));
					u[1] = (unsigned char)(0x80 | (cp & 0x3F));
					ul = 2;
				} else if (cp < 0x10000) {
					u[0] = (unsigned char)(0xE0 | (cp >> 12));
					u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
					u[2] = (unsigned char)(0x80 | (cp & 0x3F));
					ul = 3;
				} else {
					u[0] = (unsigned char)(0xF0 | (cp >> 18));
					u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
					u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
					u[3] = (unsigned char)(0x80 | (cp & 0x3F));
					ul = 4;
				}
				strbuf_append(out, u, ul);
				p = q + 1;
				done = 1;
			}
		}
		if (!done) {
			strbuf_append(out, p, 1);
			p++;
		}
	}
}

static const char *find_in(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle));
}

char *s3_xml_text(const char *xml, size_t len, const char *tag)
{
	if (xml == NULL)
		return NULL;
	char *open = xasprintf("<%s>", tag);
	char *close = xasprintf("</%s>", tag);
	char *res = NULL;
	const char *a = find_in(xml, len, open);
	if (a) {
		a += strlen(open);
		const char *b = find_in(a, len - (size_t)(a - xml), close);
		if (b) {
			strbuf sb;
			strbuf_init(&sb);
			strbuf_appends(&sb, "");
			xml_decode(&sb, a, (size_t)(b - a));
			res = strbuf_detach(&sb);
		}
	}
	free(open);
	free(close);
	return res;
}

int s3_xml_is_error(const char *xml, size_t len)
{
	return xml != NULL && find_in(xml, len, "<Error>") != NULL;
}

void s3_xml_error_parse(const char *xml, size_t len, s3_xml_error *out)
{
	memset(out, 0, sizeof *out);
	out->code = s3_xml_text(xml, len, "Code");
	out->message = s3_xml_text(xml, len, "Message");
}

void s3_xml_delete_result_parse(const char *xml, size_t len, s3_xml_error *out)
{
	memset(out, 0, sizeof *out);
	const char *a = xml ? find_in(xml, len, "<Error>") : NULL;
	if (a == NULL)
		return;
	size_t rest = len - (size_t)(a - xml);
	const char *b = find_in(a, rest, "</Error>");
	size_t blen = b ? (size_t)(b - a) : rest;
	out->key = s3_xml_text(a, blen, "Key");
	out->code = s3_xml_text(a, blen, "Code");
	out->message = s3_xml_text(a, blen, "Message");
	for (const char *p = a; p; out->count++) {
		p += strlen("<Error>");
		p = find_in(p, len - (size_t)(p - xml), "<Error>");
	}
}

void s3_xml_error_free(s3_xml_error *e)
{
	free(e->key);
	free(e->code);
	free(e->message);
	memset(e, 0, sizeof *e);
}

int s3_xml_list_parse(const char *xml, size_t len, s3_list_page *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	const char *p = xml ? xml : "";
	const char *end = p + (xml ? len : 0);
	size_t cap = 0;
	for (;;) {
		const char *a = find_in(p, (size_t)(end - p), "<Contents>");
		const char *b = a ? find_in(a, (size_t)(end - a), "</Contents>") : NULL;
		if (b == NULL)
			break;
		size_t blen = (size_t)(b - a);
		char *key = s3_xml_text(a, blen, "Key");
		char *sz = s3_xml_text(a, blen, "Size");
		p = b + strlen("</Contents>");
		char *endp = NULL;
		uint64_t size_v = sz ? strtoull(sz, &endp, 10) : 0;
		int bad = key == NULL || sz == NULL || endp == sz || *endp != '\0';
		free(sz);
		if (bad) {
			free(key);
			return bderr_set(err, "malformed answer");
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->items = xrealloc(out->items, cap * sizeof *out->items);
		}
		out->items[out->n].key = key;
		out->items[out->n].size = size_v;
		out->n++;
	}
	char *trunc = s3_xml_text(xml, len, "IsTruncated");
	out->truncated = trunc && strcmp(trunc, "true") == 0;
	free(trunc);
	if (out->truncated) {
		out->next_token = s3_xml_text(xml, len, "NextContinuationToken");
		if (out->next_token == NULL)
			return bderr_set(err, "truncated without a continuation token");
	}
	return 0;
}

void s3_list_page_free(s3_list_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].key);
	free(p->items);
	free(p->next_token);
	memset(p, 0, sizeof *p);
}

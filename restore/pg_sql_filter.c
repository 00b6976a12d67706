#include "restore/pg_sql_filter.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote tag "$tag$" starting at s[i], or 0 when none. */
static size_t dollar_tag(const char *s, size_t i, size_t len)
{
	if (i > 0 && (is_ident_char(s[i - 1]) || s[i - 1] == '$'))
		return 0; /* $1 parameters, identifiers containing $ */
	size_t j = i + 1;
	if (j < len && isdigit((unsigned char)s[j]))
		return 0;
	while (j < len && is_ident_char(s[j]))
		j++;
	if (j < len && s[j] == '$')
		return j - i + 1;
	return 0;
}

/* End (index after ';', or len) of the statement that starts at i. */
static size_t statement_end(const char *s, size_t i, size_t len)
{
	while (i < len) {
		char c = s[i];
		if (c == ';')
			return i + 1;
		if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 1;
			i += 2;
			while (i < len && depth > 0) {
				if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			}
		} else if (c == '\'' || c == '"') {
			/* E'...' strings take backslash escapes */
			int backslash = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
					(i < 2 || !is_ident_char(s[i - 2]));
			i++;
			while (i < len) {
				if (backslash && s[i] == '\\' && i + 1 < len) {
					i += 2;
					continue;
				}
				if (s[i] == c) {
					if (i + 1 < len && s[i + 1] == c) {
						i += 2; /* doubled quote */
						continue;
					}
					break;
				}
				i++;
			}
			i++;
		} else if (c == '$') {
			size_t t = dollar_tag(s, i, len);
			if (t == 0) {
				i++;
				continue;
			}
			const char *tag = s + i;
			i += t;
			while (i < len && !(s[i] == '$' && i + t <= len && memcmp(s + i, tag, t) == 0))
				i++;
			i += t;
		} else {
			i++;
		}
	}
	return len;
}

/* Skips whitespace and comments; returns the first significant index. */
static size_t skip_blank(const char *s, size_t i, size_t end)
{
	for (;;) {
		while (i < end && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < end && s[i] == '-' && s[i + 1] == '-') {
			while (i < end && s[i] != '\n')
				i++;
		} else if (i + 1 < end && s[i] == '/' && s[i + 1] == '*') {
			const char *close = NULL;
			for (size_t j = i + 2; j + 1 < end; j++)
				if (s[j] == '*' && s[j + 1] == '/') {
					close = s + j;
					break;
				}
			if (close == NULL)
				return end;
			i = (size_t)(close - s) + 2;
		} else {
			return i;
		}
	}
}

static int starts_with_word(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);
	return n > w && strncasecmp(s, word, w) == 0 && isspace((unsigned char)s[w]);
}

/* "ALTER <anything> OWNER TO <role>;" with the role last. */
static int is_owner_statement(const char *s, size_t n)
{
	if (!starts_with_word(s, n, "ALTER") || n < 2 || s[n - 1] != ';')
		return 0;
	static const char key[] = " OWNER TO ";
	size_t k = sizeof key - 1;
	for (size_t i = n - 1; i-- > 6;) {
		if (i + k <= n && strncasecmp(s + i, key, k) == 0) {
			/* what follows must be a single role name, plain or quoted */
			size_t j = i + k;
			if (j < n && s[j] == '"') {
				j++;
				while (j < n && !(s[j] == '"' && (j + 1 >= n || s[j + 1] != '"')))
					j += s[j] == '"' ? 2 : 1;
				j++;
			} else {
				while (j < n && is_ident_char(s[j]))
					j++;
			}
			return j == n - 1;
		}
	}
	return 0;
}

static int is_privilege_statement(const char *s, size_t n)
{
	if (starts_with_word(s, n, "GRANT") || starts_with_word(s, n, "REVOKE"))
		return 1;
	if (!starts_with_word(s, n, "ALTER"))
		return 0;
	size_t i = skip_blank(s, 5, n);
	return starts_with_word(s + i, n - i, "DEFAULT") &&
	       (i = skip_blank(s, i + 7, n), starts_with_word(s + i, n - i, "PRIVILEGES"));
}

size_t pg_sql_filter(char *sql, size_t *len, int drop)
{
	size_t in = 0, out = 0, dropped = 0, n = *len;
	while (in < n) {
		size_t start = skip_blank(sql, in, n);
		size_t end = statement_end(sql, start, n);
		int remove = start < end &&
			     (((drop & SQL_DROP_OWNER) && is_owner_statement(sql + start, end - start)) ||
			      ((drop & SQL_DROP_PRIVILEGES) && is_privilege_statement(sql + start, end - start)));
		if (remove) {
			/* keep what stood before the statement, drop it and its line end */
			memmove(sql + out, sql + in, start - in);
			out += start - in;
			in = end;
			if (in < n && sql[in] == '\n')
				in++;
			dropped++;
		} else {
			memmove(sql + out, sql + in, end - in);
			out += end - in;
			in = end;
		}
	}
	*len = out;
	return dropped;
}

/*
 * libFuzzer target: the S3 and STS answer parsers (archive/s3/xml.c, expat):
 * ListObjectsV2 pages, CreateMultipartUpload, error documents, DeleteObjects
 * results and STS AssumeRoleWithWebIdentity credentials, all read from the
 * same hostile body.  What each parser promises on success is checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	bderr err;
	bderr_init(&err);

	s3_xml_list page;
	if (s3_xml_parse_list(xml, size, &page, &err) == 0) {
		if (page.truncated && page.next_token == NULL)
			abort();
		for (size_t i = 0; i < page.n; i++)
			if (page.objects[i].key == NULL)
				abort();
		s3_xml_list_clear(&page);
	} else if (page.objects != NULL || page.n != 0) {
		abort(); /* a failed parse hands nothing back */
	}

	char *id = NULL;
	if (s3_xml_parse_upload_id(xml, size, &id, &err) == 0 && (id == NULL || *id == '\0'))
		abort();
	free(id);

	s3_xml_error e;
	if (s3_xml_parse_error(xml, size, &e, &err) == 0)
		s3_xml_error_clear(&e);

	s3_xml_delete d;
	if (s3_xml_parse_delete(xml, size, &d, &err) == 0) {
		if (d.nerrors == 0 && (d.key || d.code || d.message))
			abort();
		s3_xml_delete_clear(&d);
	}

	sts_xml_credentials c;
	if (sts_xml_parse_credentials(xml, size, &c, &err) == 0) {
		if (!c.access_key_id || !c.secret_access_key || !c.session_token || !c.expiration)
			abort();
		sts_xml_credentials_clear(&c);
	}
	return 0;
}

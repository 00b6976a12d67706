/*
 * libFuzzer target: S3's XML answers (archive/s3/s3_xml.c): ListObjectsV2
 * pages, CreateMultipartUpload, error documents and DeleteObjects results,
 * all read from the same hostile body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/s3/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	bderr err;
	bderr_init(&err);
	s3_list_page page;
	int rc = s3_xml_list_parse(xml, size, &page, &err);
	if (rc == 0 && page.truncated && page.next_token == NULL)
		abort();
	for (size_t i = 0; i < page.n; i++)
		if (page.items[i].key == NULL)
			abort();
	s3_list_page_free(&page);
	free(s3_xml_text(xml, size, "UploadId"));
	s3_xml_error e;
	s3_xml_error_parse(xml, size, &e);
	s3_xml_error_free(&e);
	s3_xml_delete_result_parse(xml, size, &e);
	if ((e.count > 0) != s3_xml_is_error(xml, size))
		abort();
	s3_xml_error_free(&e);
	return 0;
}

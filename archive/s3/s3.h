/*
 * The S3 storage driver: s3://bucket/prefix?endpoint=URL&region=R&style=path|virtual
 * (region us-east-1 and https://s3.<region>.amazonaws.com by default; virtual
 * host style on AWS, path style for a custom endpoint unless style says so).
 */
#ifndef BACKUPD_ARCHIVE_S3_S3_H
#define BACKUPD_ARCHIVE_S3_S3_H

#include "archive/storage.h"

int s3_storage_new(const char *url, const storage_options *opts, storage **out, bderr *err);

#endif

/*
 * AWS credentials for the S3 driver, from the first source of the chain the
 * AWS SDKs use that is configured:
 *   1. the repository's own keys (access-key-id, secret-access-key-file,
 *      session-token-file in the config)
 *   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   3. the profile (AWS_PROFILE, else "default") in AWS_SHARED_CREDENTIALS_FILE
 *      (~/.aws/credentials) and AWS_CONFIG_FILE (~/.aws/config): its keys, or
 *      its role_arn assumed through STS AssumeRole with the keys of its
 *      source_profile or its credential_source (Environment,
 *      Ec2InstanceMetadata, EcsContainer)
 *   4. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS
 *      AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS overrides the endpoint)
 *   5. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI or
 *      _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   6. EC2 instance metadata, IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT;
 *      AWS_EC2_METADATA_DISABLED=true skips it)
 * Temporary credentials (4-6) are fetched again before they expire: halfway
 * through a short lifetime, 5 minutes before the end of a long one.  Thread
 * safe: parts of one upload ask from several threads.
 */
#ifndef BACKUPD_ARCHIVE_S3_CREDENTIALS_H
#define BACKUPD_ARCHIVE_S3_CREDENTIALS_H

#include <time.h>

#include "archive/storage.h"
#include "common/error.h"

typedef struct aws_creds {
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *session_token;     /* secret; NULL for long-term keys */
} aws_creds;

/* Wipes and frees the fields. */
void aws_creds_clear(aws_creds *c);

typedef struct s3_creds s3_creds;

/*
 * Picks the source and fetches the first credentials.  region: the bucket's,
 * for the STS endpoint.  No source at all is a usage error (exit 2); a source
 * that is configured but fails is a failure naming it (exit 1).
 */
int s3_creds_new(const storage_options *opts, const char *region, s3_creds **out, bderr *err);

/* A copy of the current credentials, refreshed first when they are due. */
int s3_creds_get(s3_creds *p, aws_creds *out, bderr *err);

/*
 * Makes the next s3_creds_get fetch temporary credentials anew (S3 said they
 * expired).  0 for long-term keys, which cannot be renewed.
 */
int s3_creds_invalidate(s3_creds *p);

/* "config", "environment", "profile NAME", "web identity", "container", "instance metadata" */
const char *s3_creds_source(const s3_creds *p);

void s3_creds_free(s3_creds *p);

/*
 * The container credentials endpoint, as the SDKs pick it:
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (a path on the ECS agent,
 * 169.254.170.2) first, else AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or
 * http to a loopback or the agent's address).  NULL with a usage error when
 * malformed.  Caller frees.
 */
char *aws_container_url(bderr *err);

/*
 * The region the SDKs would use when the repository names none:
 * AWS_REGION, AWS_DEFAULT_REGION, then the profile's region = in the config
 * file.  NULL when none says.
 */
char *aws_default_region(void);

/* "2026-11-30T06:15:53Z" (fraction and +HH:MM offset allowed) to time_t. */
int aws_parse_time(const char *s, time_t *out);

#endif

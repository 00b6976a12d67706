/*
 * The accounts a MySQL/MariaDB dump records in manifest.json "info.users"
 * (written by engines/mysql/mysql_dump_users.c, read by
 * engines/mysql/mysql_users.c for restore --roles), as one typed array with
 * one writer and one parser; part of the dump's contract
 * (engines/mysql/mysql_format.h), in its own file because it arrived with
 * provisioning.
 *
 * info.users = [ { "account": "'user'@'host'" (as information_schema writes it),
 *                  "grants": [ SHOW GRANTS lines naming a dumped database ] } ]
 * absent in dumps written before accounts were recorded.
 */
#ifndef BACKUPD_ENGINES_MYSQL_USER_FORMAT_H
#define BACKUPD_ENGINES_MYSQL_USER_FORMAT_H

#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

typedef struct my_user_info {
	char *account;
	char **grants;
	size_t n_grants;
} my_user_info;

typedef struct my_users_info {
	my_user_info *users;
	size_t n;
	int recorded; /* 0: the dump predates info.users */
} my_users_info;

/* 1 when a is 'user'@'host' as information_schema writes it: two quoted parts, nothing else. */
int my_account_valid(const char *a);

/* Appends one account (copied) with its grants (taken over). */
void my_users_info_add(my_users_info *u, const char *account, char **grants, size_t n_grants);
/* The array for info.users. */
json_t *my_users_info_to_json(const my_users_info *u);
/*
 * Reads and validates info.users into *out (zeroed first; absent: recorded
 * 0); the error names the field by its path.
 */
int my_users_info_parse(const json_t *info, my_users_info *out, bderr *err);
void my_users_info_clear(my_users_info *u);

#endif

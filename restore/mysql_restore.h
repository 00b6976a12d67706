/*
 * Restore of a MySQL/MariaDB logical dump: tables from their SHOW CREATE
 * text, data in --jobs parallel workers through LOAD DATA LOCAL INFILE fed
 * straight from the repository (multi-row INSERTs when the server refuses
 * local_infile), every chunk's SHA-256, size and row count checked, then
 * triggers, routines, events and views.
 */
#ifndef BACKUPD_MYSQL_RESTORE_H
#define BACKUPD_MYSQL_RESTORE_H

#include "archive/repo.h"

typedef struct mysql_restore_options {
	const char *to_url;   /* mysql:// URI; its database renames a one-database dump */
	const char *password; /* from a 0600 file, or NULL ($MYSQL_PWD then) */
	int jobs;
	int create;           /* CREATE DATABASE first (dropped again on failure) */
	int allow_non_empty;  /* restore into a database that already has objects */
	int no_binlog;        /* SET sql_log_bin = 0: the restore is not replicated */
	int roles;            /* --roles: the recorded accounts and their grants */
	const char *provision_db; /* --provision DB (implies create), with: */
	const char *owner;        /* the user to create ('USER'@'%') */
	const char *env_file;
	int reuse_role;
} mysql_restore_options;

int mysql_restore_run(repo *r, const manifest *m, const mysql_restore_options *o, bderr *err);

#endif

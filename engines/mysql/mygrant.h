/*
 * SHOW GRANTS lines that name a database (MySQL/MariaDB): which ones a dump
 * records for its databases' accounts, and the same line for a database
 * restored under another name.
 */
#ifndef BACKUPD_COMMON_MYGRANT_H
#define BACKUPD_COMMON_MYGRANT_H

/* 1 when line is a GRANT on `db`.* or `db`.`x`. */
int my_grant_names_db(const char *line, const char *db);
/* line with its " ON `from`." turned into " ON `to`." (caller frees). */
char *my_grant_rename_db(const char *line, const char *from, const char *to);

#endif

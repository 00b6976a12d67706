/*
 * migrate --follow for MySQL/MariaDB on binlog replication (see
 * mysql_follow.c and engines/follow.h).
 */
#ifndef BACKUPD_ENGINES_MYSQL_MYSQL_FOLLOW_H
#define BACKUPD_ENGINES_MYSQL_MYSQL_FOLLOW_H

#include "engines/follow.h"

extern const engine_follow_ops mysql_follow_ops;

#endif

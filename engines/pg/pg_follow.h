/*
 * migrate --follow for PostgreSQL on logical replication (see pg_follow.c
 * and engines/follow.h).
 */
#ifndef BACKUPD_ENGINES_PG_PG_FOLLOW_H
#define BACKUPD_ENGINES_PG_PG_FOLLOW_H

#include "engines/follow.h"

extern const engine_follow_ops pg_follow_ops;

#endif

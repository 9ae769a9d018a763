/* PostgreSQL's dialect (pg_dialect.c), for its driver. */
#ifndef HOOKD_STORE_PG_DIALECT_H
#define HOOKD_STORE_PG_DIALECT_H

#include "store/sql.h"

extern const char *const pg_migrations[];
extern const int pg_migration_count;
extern const struct sql_dialect pg_dialect;

#endif

/* SQLite's dialect (sqlite_dialect.c), for its driver. */
#ifndef HOOKD_STORE_SQLITE_DIALECT_H
#define HOOKD_STORE_SQLITE_DIALECT_H

#include "store/sql.h"

extern const char *const sqlite_migrations[];
extern const int sqlite_migration_count;
extern const struct sql_dialect sqlite_dialect;

#endif

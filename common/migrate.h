/*
 * migrate - forward-only schema migrations from db/migrations/NNNN_name.sql.
 *
 * Each file is applied once, in name order, in a transaction of its own,
 * and recorded in schema_migrations. An advisory lock makes concurrent
 * starts safe: the second waits, then finds nothing to do.
 */
#ifndef GW_MIGRATE_H
#define GW_MIGRATE_H

#include <libpq-fe.h>

#include "util.h"

/* The directory holding the migrations: $GITWEAVE_MIGRATIONS_DIR, else the
 * installed one, else the source tree's (borrowed). */
const char *migrate_default_dir(void);

/* Apply what is pending. Returns the number applied, or -1 after logging. */
int migrate_run(PGconn *conn, const char *dir) GW_MUST_CHECK;

#endif

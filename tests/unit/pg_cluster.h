/*
 * pg_cluster - a Postgres of the test's own for the unit tests that need
 * one (tests/lib/pg_cluster.sh), in a directory named after the test and
 * its process. conninfo reaches it once cluster_start_named has run.
 */
#ifndef GW_TEST_PG_CLUSTER_H
#define GW_TEST_PG_CLUSTER_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "migrate.h"
#include "util.h"

static char cluster_dir[64];
static char conninfo[256];

static inline void
cluster_cmd(const char *cmd)
{
    char *line =
        xasprintf("bash %s/tests/lib/pg_cluster.sh %s %s", GW_TEST_SOURCE_DIR, cmd, cluster_dir);
    int rc = system(line);

    free(line);
    if (rc != 0) {
        fprintf(stderr, "pg_cluster.sh %s failed\n", cmd);
        abort();
    }
}

static inline void
cluster_start_named(const char *name)
{
    char path[128];
    FILE *f;
    int port = 0;

    snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/%s.%d", name, (int)getpid());
    cluster_cmd("start");
    snprintf(path, sizeof(path), "%s/port", cluster_dir);
    f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%d", &port) != 1)
        abort();
    fclose(f);
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=gitweave dbname=postgres",
             port);
}

/* The project's migrations, as the programs apply them. */
static inline void
cluster_migrate(void)
{
    PGconn *conn = PQconnectdb(conninfo);

    if (PQstatus(conn) != CONNECTION_OK ||
        migrate_run(conn, GW_TEST_SOURCE_DIR "/db/migrations") < 1) {
        fprintf(stderr, "could not migrate the test database: %s\n", PQerrorMessage(conn));
        abort();
    }
    PQfinish(conn);
}

static inline void
cluster_stop(void)
{
    cluster_cmd("stop");
}

#endif

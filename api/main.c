/*
 * gitweave-api - the REST API of GitWeave Runner.
 *
 *   gitweave-api            serve (see server.h)
 *   gitweave-api migrate    apply pending database migrations, then exit
 *   gitweave-api --help
 *
 * Exit status: 0 done, 1 failure, 2 bad usage or configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "server.h"

static void
usage(FILE *out)
{
    fputs("usage: gitweave-api [migrate | --help]\n"
          "\n"
          "  (no argument)  serve the REST API on GITWEAVE_API_ADDR\n"
          "  migrate        apply pending database migrations and exit\n"
          "  --help         show this text\n"
          "\n"
          "environment:\n"
          "  DATABASE_URL                 libpq connection string or URI\n"
          "  GITWEAVE_API_ADDR            host:port to listen on (default 127.0.0.1:8080;\n"
          "                               port 0 picks a free port)\n"
          "  GITWEAVE_API_PORT_FILE       write the port listened on to this file\n"
          "  GITWEAVE_API_TOKEN           if set, requests need \"Authorization: Bearer <token>\"\n"
          "  GITWEAVE_API_MAX_BODY_BYTES  largest request body (default 1048576)\n"
          "  GITWEAVE_API_MAX_CONNECTIONS open connections at most (default: from ulimit -n,\n"
          "                               at most 1024)\n"
          "  GITWEAVE_API_HEADER_TIMEOUT_SECONDS  deadline for a request head (default 10)\n"
          "  GITWEAVE_API_BODY_TIMEOUT_SECONDS    deadline for a request body (default 30)\n"
          "  GITWEAVE_API_IDLE_TIMEOUT_SECONDS    idle keep-alive connections (default 60)\n"
          "  GITWEAVE_ALLOWED_ORIGINS     web origins allowed to call the API (default none)\n"
          "  GITWEAVE_API_DB_CONNECTIONS  database connections of the pool (default: twice the\n"
          "                               cores, from 2 to 8)\n"
          "  GITWEAVE_MIGRATIONS_DIR      where migrations are (default: the installed ones)\n"
          "  GITWEAVE_LOG_LEVEL           debug, info, warn or error (default info)\n",
          out);
}

static int
run_migrate(const gw_config_t *cfg)
{
    const char *dir = migrate_default_dir();
    PGconn *conn = db_connect(cfg->database_url, "gitweave-api migrate");
    int applied;

    if (conn == NULL) {
        fprintf(stderr, "gitweave-api: migrate: could not connect to the database\n");
        return 1;
    }
    applied = migrate_run(conn, dir);
    PQfinish(conn);
    if (applied < 0) {
        fprintf(stderr, "gitweave-api: migrate: migrations from \"%s\" failed\n", dir);
        return 1;
    }
    log_info("migrate", "schema up to date applied=%d dir=%s", applied, dir);
    return 0;
}

static int
run_server(const gw_config_t *cfg)
{
    server_t *srv = server_new(cfg);
    int rc;

    if (srv == NULL)
        return 1;
    rc = server_run(srv) < 0 ? 1 : 0;
    server_free(srv);
    log_info("api", "stopped");
    return rc;
}

int
main(int argc, char **argv)
{
    gw_config_t cfg;
    int rc;

    if (argc > 2) {
        usage(stderr);
        return 2;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "migrate") != 0) {
        fprintf(stderr, "gitweave-api: unknown argument \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    gw_log_init();
    if (config_load(&cfg) < 0) {
        config_free(&cfg);
        return 2;
    }
    /* A client gone mid-reply must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    rc = argc == 2 ? run_migrate(&cfg) : run_server(&cfg);
    config_free(&cfg);
    return rc;
}
